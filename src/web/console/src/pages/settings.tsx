// Settings: the configuration in force with where each value comes from (secrets masked by the
// relay itself), and the alert channels with a test button.
import { useMemo, useState } from 'preact/hooks';
import { api } from '../api';
import { Badge, ErrorBanner, Spinner, usePolling, valueOf, Table } from '../components';
import { when } from '../format';

interface ConfigKey {
  key: string;
  value: unknown;
  source: string;
  origin: string;
  secret?: boolean;
  live: boolean;
  env: string[];
}

interface ConfigView {
  configFile: string | null;
  reloadedAt: string | null;
  lastReloadApplied: string[];
  keys: ConfigKey[];
}

interface Channel {
  name: string;
  kind: string;
}

interface TestResult extends Channel {
  delivered: boolean;
  error: string;
}

function shown(v: unknown): string {
  if (Array.isArray(v)) return v.length ? v.join(', ') : '(none)';
  if (v === '') return '(empty)';
  return String(v);
}

export function SettingsPage() {
  const config = usePolling((signal) => api<ConfigView>('/admin/config', { signal }), 0);
  const [filter, setFilter] = useState('');
  const [changedOnly, setChangedOnly] = useState(false);
  const keys = useMemo(() => {
    const f = filter.trim().toLowerCase();
    return (config.data?.keys ?? []).filter(
      (k) =>
        (!changedOnly || k.source !== 'default') &&
        (!f || k.key.toLowerCase().includes(f) || k.env.some((e) => e.toLowerCase().includes(f))),
    );
  }, [config.data, filter, changedOnly]);
  return (
    <section>
      <h1>Settings</h1>
      <AlertChannels />
      <div class="card">
        <div class="card-head">
          <h2>Configuration in force</h2>
          <span class="muted small">
            {config.data && (config.data.configFile ? `from ${config.data.configFile}` : 'no configuration file: defaults and environment')}
            {config.data?.reloadedAt && ` · reloaded ${when(config.data.reloadedAt)} (${config.data.lastReloadApplied.join(', ')})`}
          </span>
        </div>
        <p class="muted small">
          Change it in config/config.toml, .env or the environment. Keys marked live take effect on SIGHUP (systemctl reload); the others at
          the next start.
        </p>
        <div class="toolbar">
          <input
            type="search"
            aria-label="Filter keys"
            placeholder="Filter by key or variable"
            value={filter}
            onInput={(e) => setFilter(valueOf(e))}
          />
          <label class="check">
            <input type="checkbox" checked={changedOnly} onChange={(e) => setChangedOnly(e.currentTarget.checked)} /> Only values not at
            their default
          </label>
        </div>
        <ErrorBanner error={config.error} />
        {!config.data && !config.error && <Spinner />}
        {config.data && (
          <Table columns={['Key', 'Value', 'Source', 'Reload']} class="config">
            {keys.map((k) => (
              <tr>
                <td>
                  <code>{k.key}</code>
                  {k.env.length > 0 && <div class="muted small">{k.env.join(', ')}</div>}
                </td>
                <td class={k.secret ? 'muted' : ''}>{k.secret ? `${shown(k.value)} (secret)` : shown(k.value)}</td>
                <td>
                  {k.source}
                  {k.origin && <div class="muted small">{k.origin}</div>}
                </td>
                <td>{k.live ? <Badge tone="good">live</Badge> : <span class="muted small">restart</span>}</td>
              </tr>
            ))}
          </Table>
        )}
      </div>
    </section>
  );
}

function AlertChannels() {
  const channels = usePolling((signal) => api<{ enabled: boolean; channels: Channel[] }>('/admin/alerts/channels', { signal }), 0);
  const [results, setResults] = useState<TestResult[] | null>(null);
  const [busy, setBusy] = useState('');
  const [error, setError] = useState<unknown>(null);
  const test = async (channel?: string) => {
    setBusy(channel ?? '*');
    setError(null);
    setResults(null);
    try {
      const r = await api<{ results: TestResult[] }>('/admin/alerts/test', { method: 'POST', body: channel ? { channel } : {} });
      setResults(r.results);
    } catch (e) {
      setError(e);
    } finally {
      setBusy('');
    }
  };
  const list = channels.data?.channels ?? [];
  return (
    <div class="card">
      <div class="card-head">
        <h2>Alert channels</h2>
        {list.length > 0 && (
          <button onClick={() => test()} disabled={!!busy}>
            {busy === '*' ? 'Sending…' : 'Test every channel'}
          </button>
        )}
      </div>
      <ErrorBanner error={error ?? channels.error} />
      {channels.data && !channels.data.enabled && (
        <p class="banner warn">Alerts are off (monitoring.alerts.enabled): only a test is sent.</p>
      )}
      {channels.data && list.length === 0 && (
        <p class="muted">No channel is configured: set monitoring.alerts.webhook, .webhooks or .email.</p>
      )}
      {list.length > 0 && (
        <ul class="channels">
          {list.map((c) => {
            const r = results?.find((x) => x.name === c.name);
            return (
              <li>
                <span>
                  {c.name} <span class="muted small">{c.kind}</span>
                </span>
                {r && (
                  <span role="status">
                    <Badge tone={r.delivered ? 'good' : 'bad'}>{r.delivered ? 'delivered' : 'failed'}</Badge> {r.error}
                  </span>
                )}
                <button onClick={() => test(c.name)} disabled={!!busy}>
                  {busy === c.name ? 'Sending…' : 'Send a test'}
                </button>
              </li>
            );
          })}
        </ul>
      )}
    </div>
  );
}
