// Exporting the keys: the relay writes the file in the background; this dialog starts the
// task, shows its progress, and offers the download when it is done.
import { useEffect, useState } from 'preact/hooks';
import { api } from '../api';
import { ErrorBanner, Field, Modal, Progress, valueOf } from '../components';
import { bytes, int } from '../format';
import type { ExportTask } from '../types';

export function ExportDialog(props: { onClose: () => void }) {
  const [format, setFormat] = useState('csv');
  const [sanitize, setSanitize] = useState(true);
  const [withUsage, setWithUsage] = useState(false);
  const [task, setTask] = useState<ExportTask | null>(null);
  const [error, setError] = useState<unknown>(null);

  useEffect(() => {
    if (!task || task.state === 'done' || task.state === 'failed' || task.state === 'cancelled') return;
    const timer = window.setTimeout(async () => {
      try {
        setTask(await api<ExportTask>(`/admin/exports/${task.id}`));
      } catch (e) {
        setError(e);
      }
    }, 400);
    return () => window.clearTimeout(timer);
  }, [task]);

  const start = async () => {
    setError(null);
    try {
      setTask(
        await api<ExportTask>('/admin/api-keys/export', { method: 'POST', body: { format, sanitize, usage: { totals: withUsage } } }),
      );
    } catch (e) {
      setError(e);
    }
  };
  const running = task && (task.state === 'queued' || task.state === 'running');
  return (
    <Modal title="Export API keys" onClose={props.onClose}>
      <ErrorBanner error={error} />
      {!task && (
        <div class="form-grid">
          <Field label="Format">
            <select name="format" value={format} onChange={(e) => setFormat(valueOf(e))}>
              <option value="csv">CSV (spreadsheets)</option>
              <option value="json">JSON</option>
              <option value="ndjson">NDJSON (one key per line)</option>
            </select>
          </Field>
          <label class="check">
            <input type="checkbox" checked={sanitize} onChange={(e) => setSanitize(e.currentTarget.checked)} /> Mask key ids
          </label>
          <label class="check">
            <input type="checkbox" checked={withUsage} onChange={(e) => setWithUsage(e.currentTarget.checked)} /> Include all-time usage
          </label>
          <div class="actions">
            <button class="primary" onClick={start}>
              Start the export
            </button>
          </div>
        </div>
      )}
      {task && (
        <div class="export-state">
          <Progress
            value={task.state === 'done' ? 100 : task.progress.percent}
            label={
              task.state === 'done'
                ? `Done: ${int(task.progress.rows)} keys, ${bytes(task.size)}`
                : task.state === 'failed'
                  ? 'Failed'
                  : `${task.state === 'queued' ? 'Queued' : 'Exporting'}: ${int(task.progress.scanned)} of ${int(task.progress.total)} keys`
            }
          />
          {task.state === 'failed' && <ErrorBanner error={new Error(task.error ?? 'the export failed')} />}
          {task.state === 'done' && task.download && (
            <a class="button primary" href={task.download} download>
              Download {task.format.toUpperCase()}
            </a>
          )}
          {running && <p class="muted">You can close this dialog: the export goes on, and Exports lists it.</p>}
        </div>
      )}
    </Modal>
  );
}
