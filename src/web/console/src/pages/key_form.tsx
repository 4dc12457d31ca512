// Creating and editing a key with every limit, and the dialog that shows a new secret once.
import { useState } from 'preact/hooks';
import { api, apiRaw } from '../api';
import { CopyButton, ErrorBanner, Field, Modal, valueOf, FormActions } from '../components';
import type { ApiKey } from '../types';

const families = ['claude', 'openai', 'gemini', 'droid'];
const clients: [string, string][] = [
  ['claude_code', 'Claude Code'],
  ['gemini_cli', 'Gemini CLI'],
  ['codex_cli', 'Codex'],
  ['droid_cli', 'Droid'],
];
const days = ['Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday', 'Sunday'];

// The form's state: text as typed, turned into the API's fields on submit.
interface Draft {
  name: string;
  description: string;
  tags: string;
  isActive: boolean;
  expirationMode: 'fixed' | 'activation';
  expiresOn: string; // yyyy-mm-dd, or '' for never
  activationDays: string;
  concurrencyLimit: string;
  rateLimitWindow: string;
  rateLimitRequests: string;
  rateLimitCost: string;
  totalTokenLimit: string;
  dailyCostLimit: string;
  weeklyCostLimit: string;
  totalCostLimit: string;
  weeklyResetDay: string;
  weeklyResetHour: string;
  permissions: string[];
  allowedModels: string;
  restrictedModels: string;
  allowedClients: string[];
  claudeAccountId: string;
}

const num = (n: number | undefined) => (n ? String(n) : '');
const list = (s: string) =>
  s
    .split(/[,\n]/)
    .map((x) => x.trim())
    .filter(Boolean);

function draftOf(k?: ApiKey): Draft {
  return {
    name: k?.name ?? '',
    description: k?.description ?? '',
    tags: (k?.tags ?? []).join(', '),
    isActive: k?.isActive ?? true,
    expirationMode: k?.expirationMode ?? 'fixed',
    expiresOn: k?.expiresAt ? k.expiresAt.slice(0, 10) : '',
    activationDays: num(k?.activationDays),
    concurrencyLimit: num(k?.concurrencyLimit),
    rateLimitWindow: num(k?.rateLimitWindow),
    rateLimitRequests: num(k?.rateLimitRequests),
    rateLimitCost: num(k?.rateLimitCost),
    totalTokenLimit: num(k?.totalTokenLimit),
    dailyCostLimit: num(k?.dailyCostLimit),
    weeklyCostLimit: num(k?.weeklyCostLimit),
    totalCostLimit: num(k?.totalCostLimit),
    weeklyResetDay: String(k?.weeklyResetDay ?? 1),
    weeklyResetHour: String(k?.weeklyResetHour ?? 0),
    permissions: k?.permissions ?? [],
    allowedModels: (k?.allowedModels ?? []).join(', '),
    restrictedModels: (k?.restrictedModels ?? []).join(', '),
    allowedClients: k?.allowedClients ?? [],
    claudeAccountId: k?.claudeAccountId ?? '',
  };
}

// A number field: '' is 0 (no limit); anything else must be a number, or the field is named.
function numberField(name: string, text: string, integer: boolean): number {
  if (text.trim() === '') return 0;
  const n = Number(text);
  if (!Number.isFinite(n) || n < 0 || (integer && !Number.isInteger(n)))
    throw new Error(`${name}: ${integer ? 'a whole number' : 'a number'} of 0 or more`);
  return n;
}

export function fieldsOf(d: Draft): Record<string, unknown> {
  return {
    name: d.name.trim(),
    description: d.description,
    tags: list(d.tags),
    isActive: d.isActive,
    expirationMode: d.expirationMode,
    expiresAt: d.expirationMode === 'fixed' && d.expiresOn ? `${d.expiresOn}T23:59:59Z` : '',
    activationDays: d.expirationMode === 'activation' ? numberField('Days after first use', d.activationDays, true) : 0,
    concurrencyLimit: numberField('Concurrent requests', d.concurrencyLimit, true),
    rateLimitWindow: numberField('Rate window', d.rateLimitWindow, true),
    rateLimitRequests: numberField('Requests per window', d.rateLimitRequests, true),
    rateLimitCost: numberField('Cost per window', d.rateLimitCost, false),
    totalTokenLimit: numberField('Total tokens', d.totalTokenLimit, true),
    dailyCostLimit: numberField('Daily cost', d.dailyCostLimit, false),
    weeklyCostLimit: numberField('Weekly cost', d.weeklyCostLimit, false),
    totalCostLimit: numberField('Total cost', d.totalCostLimit, false),
    weeklyResetDay: Number(d.weeklyResetDay),
    weeklyResetHour: Number(d.weeklyResetHour),
    permissions: d.permissions,
    allowedModels: list(d.allowedModels),
    restrictedModels: list(d.restrictedModels),
    allowedClients: d.allowedClients,
    claudeAccountId: d.claudeAccountId.trim(),
  };
}

function toggle(values: string[], v: string): string[] {
  return values.includes(v) ? values.filter((x) => x !== v) : [...values, v];
}

export function KeyForm(props: {
  existing?: ApiKey;
  batch?: boolean;
  onDone: (created: ApiKey[] | null, warning?: string) => void;
  onClose: () => void;
}) {
  const [d, setD] = useState<Draft>(draftOf(props.existing));
  const [count, setCount] = useState('10');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const set = <K extends keyof Draft>(k: K, v: Draft[K]) => setD({ ...d, [k]: v });
  const text = (k: keyof Draft, label: string, hint?: string, type = 'text') => (
    <Field label={label} hint={hint}>
      <input
        name={k}
        type={type}
        step={type === 'number' ? 'any' : undefined}
        min={type === 'number' ? 0 : undefined}
        inputMode={type === 'number' ? 'decimal' : undefined}
        value={d[k] as string}
        onInput={(e) => set(k, valueOf(e) as never)}
      />
    </Field>
  );
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const fields = fieldsOf(d);
      if (props.existing) {
        await api(`/admin/api-keys/${props.existing.id}`, { method: 'PUT', body: fields });
        props.onDone(null);
      } else if (props.batch) {
        const { name, ...rest } = fields;
        const made = await apiRaw<{ data: ApiKey[]; warning?: string }>('/admin/api-keys/batch', {
          method: 'POST',
          body: { ...rest, baseName: name, count: numberField('How many', count, true) },
        });
        props.onDone(made.data, made.warning);
      } else {
        props.onDone([await api<ApiKey>('/admin/api-keys', { method: 'POST', body: fields })]);
      }
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  const title = props.existing ? `Edit ${props.existing.name}` : props.batch ? 'Create keys in a batch' : 'Create an API key';
  return (
    <Modal title={title} onClose={props.onClose} wide>
      <form onSubmit={submit} class="form-grid">
        <ErrorBanner error={error} />
        <fieldset>
          <legend>Key</legend>
          <Field label={props.batch ? 'Base name' : 'Name'} hint={props.batch ? 'Keys are named base_1, base_2, …' : undefined}>
            <input name="name" required maxLength={100} value={d.name} onInput={(e) => set('name', valueOf(e))} />
          </Field>
          {props.batch && (
            <Field label="How many" hint="1 to 500">
              <input name="count" inputMode="numeric" value={count} onInput={(e) => setCount(valueOf(e))} />
            </Field>
          )}
          <Field label="Description" wide>
            <input name="description" maxLength={500} value={d.description} onInput={(e) => set('description', valueOf(e))} />
          </Field>
          {text('tags', 'Tags', 'Comma-separated')}
          <Field label="Enabled">
            <input type="checkbox" name="isActive" checked={d.isActive} onChange={(e) => set('isActive', e.currentTarget.checked)} />
          </Field>
        </fieldset>
        <fieldset>
          <legend>Expiry</legend>
          <Field label="Mode">
            <select
              name="expirationMode"
              value={d.expirationMode}
              onChange={(e) => set('expirationMode', valueOf(e) as Draft['expirationMode'])}
            >
              <option value="fixed">On a date (or never)</option>
              <option value="activation">Some days after its first request</option>
            </select>
          </Field>
          {d.expirationMode === 'fixed'
            ? text('expiresOn', 'Expires at the end of', 'Empty: never (UTC)', 'date')
            : text('activationDays', 'Days after first use', undefined, 'number')}
        </fieldset>
        <fieldset>
          <legend>Limits (empty or 0: none)</legend>
          {text('concurrencyLimit', 'Concurrent requests', undefined, 'number')}
          {text('rateLimitWindow', 'Rate window (minutes)', undefined, 'number')}
          {text('rateLimitRequests', 'Requests per window', undefined, 'number')}
          {text('rateLimitCost', 'Cost per window (USD)', undefined, 'number')}
          {text('totalTokenLimit', 'Total tokens', undefined, 'number')}
          {text('dailyCostLimit', 'Daily cost (USD)', undefined, 'number')}
          {text('weeklyCostLimit', 'Weekly cost (USD)', undefined, 'number')}
          {text('totalCostLimit', 'Total cost (USD)', undefined, 'number')}
          <Field label="Week starts on">
            <select name="weeklyResetDay" value={d.weeklyResetDay} onChange={(e) => set('weeklyResetDay', valueOf(e))}>
              {days.map((day, i) => (
                <option value={String(i + 1)}>{day}</option>
              ))}
            </select>
          </Field>
          <Field label="at hour" hint="0–23, relay time zone">
            <input
              name="weeklyResetHour"
              type="number"
              min={0}
              max={23}
              value={d.weeklyResetHour}
              onInput={(e) => set('weeklyResetHour', valueOf(e))}
            />
          </Field>
        </fieldset>
        <fieldset>
          <legend>Access</legend>
          <div class="field wide">
            <span class="field-label">Routes (none ticked: all)</span>
            <div class="checks">
              {families.map((f) => (
                <label>
                  <input
                    type="checkbox"
                    checked={d.permissions.includes(f)}
                    onChange={() => set('permissions', toggle(d.permissions, f))}
                  />{' '}
                  {f}
                </label>
              ))}
            </div>
          </div>
          <div class="field wide">
            <span class="field-label">Clients (none ticked: any)</span>
            <div class="checks">
              {clients.map(([id, label]) => (
                <label>
                  <input
                    type="checkbox"
                    checked={d.allowedClients.includes(id)}
                    onChange={() => set('allowedClients', toggle(d.allowedClients, id))}
                  />{' '}
                  {label}
                </label>
              ))}
            </div>
          </div>
          {text('allowedModels', 'Only these models', 'Comma-separated; empty: all')}
          {text('restrictedModels', 'Never these models', 'Comma-separated')}
          {text('claudeAccountId', 'Bound account', 'An account id, or group:<id>; empty: the pool')}
        </fieldset>
        <FormActions busy={busy} label={props.existing ? 'Save' : 'Create'} onCancel={props.onClose} />
      </form>
    </Modal>
  );
}

// The secret of new keys: shown here once, never again (the relay keeps only a digest).
export function NewSecrets(props: { keys: ApiKey[]; warning?: string; onClose: () => void }) {
  const all = props.keys.map((k) => `${k.name}\t${k.apiKey}`).join('\n');
  return (
    <Modal title={props.keys.length === 1 ? 'Your new API key' : `${props.keys.length} new API keys`} onClose={props.onClose} wide>
      {props.warning && <p class="banner error">{props.warning}</p>}
      <p class="banner warn">Copy it now: this is the only time the relay shows it. Only its digest is stored.</p>
      {props.keys.length === 1 ? (
        <div class="secret-row">
          <input
            class="secret"
            readOnly
            value={props.keys[0].apiKey}
            aria-label="The new API key"
            onFocus={(e) => e.currentTarget.select()}
          />
          <CopyButton text={props.keys[0].apiKey ?? ''} />
        </div>
      ) : (
        <>
          <textarea class="secret" readOnly rows={Math.min(12, props.keys.length)} value={all} aria-label="The new API keys" />
          <CopyButton text={all} label="Copy all" />
        </>
      )}
      <div class="actions">
        <button class="primary" onClick={props.onClose}>
          I have saved it
        </button>
      </div>
    </Modal>
  );
}
