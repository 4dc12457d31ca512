// Adding an account (a Console API key, a Claude Pro/Max subscription through the OAuth sign-in,
// AWS Bedrock, an OpenAI-compatible provider) and editing one. Credentials go to the relay and
// never come back: the list shows them masked.
import { useState } from 'preact/hooks';
import { api } from '../api';
import { ErrorBanner, Field, Modal, valueOf, FormActions } from '../components';
import type { Account, Group } from '../types';

interface Draft {
  name: string;
  baseUrl: string;
  apiKey: string;
  proxy: string;
  priority: string;
  weight: string;
  costFactor: string;
  maxConcurrency: string;
  plan: string;
  models: string;
  modelMapping: string; // requested=upstream, …
  region: string;
  awsAccessKeyId: string;
  awsSecretAccessKey: string;
  awsSessionToken: string;
  schedulable: boolean;
}

function draftOf(a?: Account): Draft {
  return {
    name: a?.name ?? '',
    baseUrl: a?.baseUrl ?? 'https://api.anthropic.com',
    apiKey: '',
    proxy: '', // the stored proxy is shown masked; empty here keeps it
    priority: String(a?.priority ?? 50),
    weight: String(a?.weight ?? 1),
    costFactor: a ? String(a.costFactor) : '',
    maxConcurrency: String(a?.maxConcurrency ?? 0),
    plan: a?.plan == null ? '' : String(a.plan),
    models: (a?.models ?? []).join(', '),
    modelMapping: Object.entries(a?.modelMapping ?? {})
      .map(([from, to]) => `${from}=${to}`)
      .join(', '),
    region: a?.region ?? '',
    awsAccessKeyId: '',
    awsSecretAccessKey: '',
    awsSessionToken: '',
    schedulable: a?.schedulable ?? true,
  };
}

function numberOf(label: string, text: string, integer: boolean): number {
  const n = Number(text);
  if (text.trim() === '' || !Number.isFinite(n) || (integer && !Number.isInteger(n)))
    throw new Error(`${label}: ${integer ? 'a whole number' : 'a number'}`);
  return n;
}

// The scheduling fields every kind shares.
function schedulingFields(d: Draft, editing: boolean): Record<string, unknown> {
  const f: Record<string, unknown> = {
    name: d.name.trim(),
    priority: numberOf('Priority', d.priority, true),
    weight: numberOf('Weight', d.weight, false),
    maxConcurrency: numberOf('Concurrent requests', d.maxConcurrency, true),
    models: d.models
      .split(',')
      .map((m) => m.trim())
      .filter(Boolean),
    modelMapping: d.modelMapping,
    schedulable: d.schedulable,
  };
  if (d.costFactor.trim()) f.costFactor = numberOf('Cost factor', d.costFactor, false);
  if (d.proxy.trim() || !editing) f.proxy = d.proxy.trim();
  return f;
}

type Kind = 'claude-console' | 'claude-oauth' | 'bedrock' | 'openai-compatible';

// Where each kind's requests go unless the form says otherwise.
const defaultBaseUrl: Record<Kind, string> = {
  'claude-console': 'https://api.anthropic.com',
  'claude-oauth': 'https://api.anthropic.com',
  bedrock: '', // from the region
  'openai-compatible': '',
};

// The fields of a kind's credentials, for adding (all) or editing (only those typed in).
function credentialFields(kind: string, d: Draft, editing: boolean): Record<string, unknown> {
  const f: Record<string, unknown> = {};
  const put = (k: keyof Draft) => {
    const v = (d[k] as string).trim();
    if (v || !editing) f[k] = v;
  };
  if (kind === 'claude-console' || kind === 'openai-compatible') {
    put('baseUrl');
    put('apiKey');
  }
  if (kind === 'bedrock') {
    put('region');
    if (d.baseUrl.trim()) f.baseUrl = d.baseUrl.trim();
    for (const k of ['apiKey', 'awsAccessKeyId', 'awsSecretAccessKey', 'awsSessionToken'] as const) if (d[k].trim()) f[k] = d[k].trim();
  }
  return f;
}

function secret(name: keyof Draft, label: string, d: Draft, set: (k: keyof Draft, v: string) => void, hint: string, required = false) {
  return (
    <Field label={label} wide hint={hint}>
      <input
        name={name}
        type="password"
        autocomplete="off"
        required={required}
        value={d[name] as string}
        onInput={(e) => set(name, valueOf(e))}
      />
    </Field>
  );
}

// The fields a kind's credentials need (an account being edited keeps what is left empty).
function CredentialInputs({
  kind,
  d,
  set,
  editing,
}: {
  kind: string;
  d: Draft;
  set: (k: keyof Draft, v: string) => void;
  editing?: Account;
}) {
  const now = (k: string) =>
    editing ? `Now ${String(editing.credentials[k] ?? 'not set')}; empty keeps it.` : 'Stored encrypted; shown masked from now on.';
  if (kind === 'claude-console' || kind === 'openai-compatible')
    return (
      <>
        <Field
          label="Base URL"
          wide
          hint={kind === 'openai-compatible' ? 'The provider’s API, e.g. https://api.example.com/v1' : undefined}
        >
          <input name="baseUrl" type="url" required={!editing} value={d.baseUrl} onInput={(e) => set('baseUrl', valueOf(e))} />
        </Field>
        {secret('apiKey', editing ? 'New API key' : 'API key', d, set, now('apiKey'), !editing)}
      </>
    );
  if (kind !== 'bedrock') return null;
  return (
    <>
      <Field label="Region" hint="e.g. us-east-1">
        <input name="region" required pattern="[a-z0-9\-]+" value={d.region} onInput={(e) => set('region', valueOf(e))} />
      </Field>
      <Field label="Endpoint" wide hint="Empty: https://bedrock-runtime.<region>.amazonaws.com">
        <input name="baseUrl" type="url" value={d.baseUrl} onInput={(e) => set('baseUrl', valueOf(e))} />
      </Field>
      <p class="field wide muted small">Sign with an AWS access key, or give a Bedrock API key instead.</p>
      <Field label="Access key id" wide hint={editing ? now('awsAccessKeyId') : undefined}>
        <input name="awsAccessKeyId" autocomplete="off" value={d.awsAccessKeyId} onInput={(e) => set('awsAccessKeyId', valueOf(e))} />
      </Field>
      {secret('awsSecretAccessKey', 'Secret access key', d, set, now('awsSecretAccessKey'))}
      {secret('awsSessionToken', 'Session token', d, set, 'Only for temporary credentials')}
      {secret('apiKey', 'Bedrock API key', d, set, 'Instead of the access key')}
    </>
  );
}

function SchedulingFields({ d, set, oauth }: { d: Draft; set: (k: keyof Draft, v: string | boolean) => void; oauth: boolean }) {
  const input = (k: keyof Draft, label: string, hint?: string) => (
    <Field label={label} hint={hint}>
      <input name={k} value={d[k] as string} onInput={(e) => set(k, valueOf(e))} />
    </Field>
  );
  return (
    <fieldset>
      <legend>Scheduling</legend>
      {input('proxy', 'Proxy', 'http://user:pass@host:port or socks5://…; empty: direct')}
      {input('priority', 'Priority', 'Lower goes first (1–100)')}
      {input('weight', 'Weight', 'Share of requests relative to the others')}
      {input('costFactor', 'Cost factor', oauth ? 'Empty: 0.1 (a subscription)' : 'Empty: 1.0 (list price)')}
      {input('maxConcurrency', 'Concurrent requests', '0: no cap')}
      {oauth && (
        <Field label="Plan" hint="Capacity relative to Pro">
          <select name="plan" value={d.plan} onChange={(e) => set('plan', valueOf(e))}>
            <option value="">Unknown</option>
            <option value="pro">Pro</option>
            <option value="max5">Max 5×</option>
            <option value="max20">Max 20×</option>
          </select>
        </Field>
      )}
      {input('models', 'Models', 'Comma-separated patterns such as claude-sonnet*; empty: all')}
      {input('modelMapping', 'Model mapping', 'requested=upstream, … names sent up instead')}
      <Field label="Schedulable">
        <input type="checkbox" checked={d.schedulable} onChange={(e) => set('schedulable', e.currentTarget.checked)} />
      </Field>
    </fieldset>
  );
}

export function AddAccount(props: { onClose: () => void; onAdded: (a: Account) => void }) {
  const [kind, setKindState] = useState<Kind>('claude-console');
  const [d, setD] = useState<Draft>(draftOf());
  const [signIn, setSignIn] = useState<{ sessionId: string; authUrl: string; instructions: string } | null>(null);
  const [code, setCode] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const set = (k: keyof Draft, v: string | boolean) => setD({ ...d, [k]: v });
  const setKind = (k: Kind) => {
    setKindState(k);
    if (Object.values(defaultBaseUrl).includes(d.baseUrl)) setD({ ...d, baseUrl: defaultBaseUrl[k] });
  };
  const run = async (work: () => Promise<void>) => {
    setBusy(true);
    setError(null);
    try {
      await work();
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };
  const fields = () => {
    const f = schedulingFields(d, false);
    if (kind === 'claude-oauth' && d.plan) f.plan = d.plan;
    return f;
  };
  const addWithCredentials = () =>
    run(async () => {
      const body = { ...fields(), ...credentialFields(kind, d, false), type: kind };
      props.onAdded(await api<Account>('/admin/claude-accounts', { method: 'POST', body }));
    });
  const startSignIn = () =>
    run(async () => {
      const s = await api<{ sessionId: string; authUrl: string; instructions: string }>('/admin/claude-accounts/generate-auth-url', {
        method: 'POST',
        body: {},
      });
      setSignIn(s);
      window.open(s.authUrl, '_blank', 'noopener');
    });
  const finishSignIn = () =>
    run(async () => {
      const pasted = code.trim();
      const body = { ...fields(), sessionId: signIn!.sessionId, [pasted.startsWith('http') ? 'callbackUrl' : 'authorizationCode']: pasted };
      const added = await api<Account>('/admin/claude-accounts/exchange-code', { method: 'POST', body });
      setCode('');
      props.onAdded(added);
    });
  return (
    <Modal title="Add an account" onClose={props.onClose} wide>
      <form
        class="form-grid"
        onSubmit={(e) => {
          e.preventDefault();
          if (kind !== 'claude-oauth') addWithCredentials();
          else if (!signIn) startSignIn();
          else finishSignIn();
        }}
      >
        <ErrorBanner error={error} />
        <fieldset>
          <legend>Account</legend>
          <Field label="Kind">
            <select name="type" value={kind} disabled={!!signIn} onChange={(e) => setKind(valueOf(e) as Kind)}>
              <option value="claude-console">Claude Console (API key)</option>
              <option value="claude-oauth">Claude Pro / Max (sign in)</option>
              <option value="bedrock">AWS Bedrock</option>
              <option value="openai-compatible">OpenAI-compatible provider</option>
            </select>
          </Field>
          <Field label="Name">
            <input name="name" required maxLength={100} value={d.name} onInput={(e) => set('name', valueOf(e))} />
          </Field>
          <CredentialInputs kind={kind} d={d} set={set} />
        </fieldset>
        <SchedulingFields d={d} set={set} oauth={kind === 'claude-oauth'} />
        {kind === 'claude-oauth' && signIn && (
          <fieldset>
            <legend>Sign in</legend>
            <p class="field wide">
              {signIn.instructions}{' '}
              <a href={signIn.authUrl} target="_blank" rel="noopener noreferrer">
                Open the sign-in page again
              </a>
            </p>
            <Field label="Code or address" wide hint="code#state, or the whole address the sign-in ended on">
              <input name="code" autocomplete="off" required value={code} onInput={(e) => setCode(valueOf(e))} />
            </Field>
          </fieldset>
        )}
        <FormActions
          busy={busy}
          busyLabel="Working…"
          label={kind !== 'claude-oauth' ? 'Add account' : signIn ? 'Finish sign-in' : 'Open the sign-in page'}
          onCancel={props.onClose}
        />
      </form>
    </Modal>
  );
}

export function EditAccount(props: { account: Account; groups: Group[]; onClose: () => void; onSaved: () => void }) {
  const a = props.account;
  const [d, setD] = useState<Draft>(draftOf(a));
  const [member, setMember] = useState<string[]>(a.groups ?? []);
  const [clearProxy, setClearProxy] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const set = (k: keyof Draft, v: string | boolean) => setD({ ...d, [k]: v });
  const save = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const body = schedulingFields(d, true);
      if (clearProxy) body.proxy = '';
      if (a.type === 'claude-oauth') body.plan = d.plan || null;
      Object.assign(body, credentialFields(a.type, d, true));
      await api(`/admin/claude-accounts/${a.id}`, { method: 'PUT', body });
      // Group membership: one call per group joined or left.
      for (const g of props.groups) {
        const was = (a.groups ?? []).includes(g.id);
        const is = member.includes(g.id);
        if (was !== is) await api(`/admin/account-groups/${g.id}/accounts/${a.id}`, { method: is ? 'POST' : 'DELETE' });
      }
      props.onSaved();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return (
    <Modal title={`Edit ${a.name}`} onClose={props.onClose} wide>
      <form class="form-grid" onSubmit={save}>
        <ErrorBanner error={error} />
        <fieldset>
          <legend>Account</legend>
          <Field label="Name">
            <input name="name" required value={d.name} onInput={(e) => set('name', valueOf(e))} />
          </Field>
          <CredentialInputs kind={a.type} d={d} set={set} editing={a} />
          <p class="field wide muted small">
            Proxy now: {a.proxy ?? 'none (direct)'}. A new one below replaces it.{' '}
            {a.proxy && (
              <label>
                <input type="checkbox" checked={clearProxy} onChange={(e) => setClearProxy(e.currentTarget.checked)} /> Remove it
              </label>
            )}
          </p>
        </fieldset>
        <SchedulingFields d={d} set={set} oauth={a.type === 'claude-oauth'} />
        {props.groups.length > 0 && (
          <fieldset>
            <legend>Groups</legend>
            <div class="checks field wide">
              {props.groups.map((g) => (
                <label>
                  <input
                    type="checkbox"
                    checked={member.includes(g.id)}
                    onChange={(e) => setMember(e.currentTarget.checked ? [...member, g.id] : member.filter((x) => x !== g.id))}
                  />{' '}
                  {g.name}
                </label>
              ))}
            </div>
          </fieldset>
        )}
        <FormActions busy={busy} label="Save" onCancel={props.onClose} />
      </form>
    </Modal>
  );
}
