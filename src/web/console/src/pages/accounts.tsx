import { Fragment } from 'preact';
// Upstream accounts: their state, health, circuit and windows at a glance, and every action.
import { useMemo, useState } from 'preact/hooks';
import { api } from '../api';
import { Badge, ErrorBanner, Meter, Modal, Spinner, usePolling, Table, valueOf, useDialog } from '../components';
import { ago, compact, int, percent, usd } from '../format';
import type { Account, BalancerStatus, Group, UsageReport } from '../types';
import { AddAccount, EditAccount } from './account_form';

type Dialog =
  | { kind: 'none' }
  | { kind: 'add' }
  | { kind: 'edit'; account: Account }
  | { kind: 'test'; account: Account }
  | { kind: 'delete'; account: Account };

function stateOf(a: Account): { tone: 'good' | 'warn' | 'bad' | 'muted'; text: string } {
  if (!a.enabled) return { tone: 'muted', text: 'disabled' };
  if (a.status === 'rate_limited') return { tone: 'warn', text: 'rate-limited' };
  if (a.status !== 'active') return { tone: 'bad', text: a.status.replace('_', ' ') };
  if (!a.schedulable) return { tone: 'muted', text: 'not scheduled' };
  return { tone: 'good', text: 'active' };
}

// The stored credentials as the relay shows them: masked, and when an OAuth token expires.
// What kind of account it is, as the list says it.
export function kindText(a: Account): string {
  if (a.type === 'claude-oauth') return `Claude subscription${a.plan ? ` (${a.plan})` : ''}`;
  if (a.type === 'bedrock') return `AWS Bedrock (${a.region ?? '?'})`;
  if (a.type === 'openai-compatible') return 'OpenAI-compatible';
  return a.type === 'claude-console' ? 'Claude Console' : a.type;
}

function credentialsText(a: Account): string {
  const c = a.credentials as Record<string, string | number>;
  if (c.apiKey) return `key ${c.apiKey}`;
  if (c.awsAccessKeyId) return `AWS key ${c.awsAccessKeyId}${c.awsSessionToken ? ' (temporary)' : ''}`;
  const parts: string[] = [];
  if (c.accessToken) parts.push(`token ${c.accessToken}`);
  if (typeof c.expiresAt === 'number') parts.push(`expires ${ago(new Date(c.expiresAt).toISOString())}`);
  return parts.join(' · ');
}

function healthTone(c: string | undefined): 'good' | 'warn' | 'bad' | 'muted' {
  return c === 'healthy' ? 'good' : c === 'degraded' ? 'warn' : c ? 'bad' : 'muted';
}

export function AccountsPage() {
  const [dialog, setDialog, dialogSeq] = useDialog<Dialog>({ kind: 'none' });
  const [actionError, setActionError] = useState<unknown>(null);
  const accounts = usePolling((signal) => api<Account[]>('/admin/claude-accounts', { signal }), 15000);
  const balancer = usePolling((signal) => api<BalancerStatus>('/admin/load-balance/status', { signal }), 15000);
  const groups = usePolling((signal) => api<Group[]>('/admin/account-groups', { signal }), 0);
  const load = useMemo(() => new Map((balancer.data?.accounts ?? []).map((b) => [b.id, b])), [balancer.data]);
  const groupNames = useMemo(() => new Map((groups.data ?? []).map((g) => [g.id, g.name])), [groups.data]);
  const reload = () => {
    accounts.reload();
    balancer.reload();
    groups.reload();
  };
  const act = async (path: string, method: 'POST' | 'PUT' | 'DELETE' = 'POST') => {
    setActionError(null);
    try {
      await api(path, { method });
    } catch (e) {
      setActionError(e);
    }
    reload();
  };
  const close = () => setDialog({ kind: 'none' });
  return (
    <section>
      <div class="page-head">
        <h1>Accounts</h1>
        <button class="primary" onClick={() => setDialog({ kind: 'add' })}>
          Add account
        </button>
      </div>
      <ErrorBanner error={actionError ?? accounts.error} onDismiss={actionError ? () => setActionError(null) : undefined} />
      {!accounts.data && !accounts.error && <Spinner />}
      {accounts.data && accounts.data.length === 0 && (
        <p class="card">
          No account yet. Add a Claude Console key, sign in with a Claude Pro/Max subscription, or add an AWS Bedrock or OpenAI-compatible
          account.
        </p>
      )}
      {accounts.data && accounts.data.length > 0 && (
        <Table columns={['Account', 'State', 'Health', 'Circuit', '5 h', '7 d', 'In flight', 'Usage', { label: 'Actions', hidden: true }]}>
          {accounts.data.map((a) => {
            const s = stateOf(a);
            const b = load.get(a.id);
            return (
              <tr data-account-id={a.id}>
                <td>
                  <strong>{a.name}</strong>
                  <div class="muted small">
                    {kindText(a)} · priority {a.priority} · weight {a.weight}
                    {a.costFactor !== 1 ? ` · cost ×${a.costFactor}` : ''}
                  </div>
                  <div class="muted small">
                    {credentialsText(a)}
                    {a.proxy ? ` · via ${a.proxy}` : ''}
                    {(a.groups ?? []).map((g) => (
                      <span class="tag">{groupNames.get(g) ?? g}</span>
                    ))}
                  </div>
                </td>
                <td>
                  <Badge tone={s.tone}>{s.text}</Badge>
                  {a.statusReason && <div class="muted small">{a.statusReason}</div>}
                </td>
                <td>
                  <Badge tone={healthTone(a.health?.class)}>{a.health?.class ?? 'unknown'}</Badge>
                  <div class="muted small">
                    {percent(a.health?.window.successRate)} ok · p95 {int(a.health?.window.ttfbP95Ms)} ms
                  </div>
                </td>
                <td>
                  {a.health?.circuit.state ?? '—'}
                  {a.health?.circuit.nextTryAt && <div class="muted small">retry {ago(a.health.circuit.nextTryAt)}</div>}
                </td>
                <td>
                  <Meter ratio={b?.utilization5h} label="5-hour window used" />
                </td>
                <td>
                  <Meter ratio={b?.utilization7d} label="7-day window used" />
                </td>
                <td class="num">
                  {int(b?.inFlight ?? 0)}
                  {a.maxConcurrency > 0 ? ` / ${a.maxConcurrency}` : ''}
                </td>
                <td class="num">
                  <AccountUsage id={a.id} />
                  <div class="muted small">used {ago(a.lastUsedAt)}</div>
                </td>
                <td class="row-actions">
                  <button onClick={() => setDialog({ kind: 'edit', account: a })}>Edit</button>
                  <button onClick={() => setDialog({ kind: 'test', account: a })}>Test</button>
                  <button
                    onClick={() => act(`/admin/claude-accounts/${a.id}/reset-state`)}
                    title="Clear its rate limit, errors, circuit and health class"
                  >
                    Reset
                  </button>
                  <button onClick={() => act(`/admin/claude-accounts/${a.id}/${a.enabled ? 'disable' : 'enable'}`)}>
                    {a.enabled ? 'Disable' : 'Enable'}
                  </button>
                  <button class="danger" onClick={() => setDialog({ kind: 'delete', account: a })}>
                    Delete
                  </button>
                </td>
              </tr>
            );
          })}
        </Table>
      )}
      <Groups groups={groups.data ?? []} onChanged={reload} />
      <Fragment key={dialogSeq}>
        {dialog.kind === 'add' && (
          <AddAccount
            onClose={close}
            onAdded={() => {
              close();
              reload();
            }}
          />
        )}
        {dialog.kind === 'edit' && (
          <EditAccount
            account={dialog.account}
            groups={groups.data ?? []}
            onClose={close}
            onSaved={() => {
              close();
              reload();
            }}
          />
        )}
        {dialog.kind === 'test' && <TestAccount account={dialog.account} onClose={() => (close(), reload())} />}
        {dialog.kind === 'delete' && (
          <Modal title={`Delete ${dialog.account.name}?`} onClose={close}>
            <p>The account and its stored credentials are removed for good. Its usage history is kept.</p>
            <div class="actions">
              <button onClick={close}>Cancel</button>
              <button
                class="danger"
                onClick={async () => {
                  await act(`/admin/claude-accounts/${dialog.account.id}`, 'DELETE');
                  close();
                }}
              >
                Delete
              </button>
            </div>
          </Modal>
        )}
      </Fragment>
    </section>
  );
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

// Account groups: a key bound to a group is served by its accounts only, and each group may
// have a strategy of its own (the load-balancing page).
function Groups({ groups, onChanged }: { groups: Group[]; onChanged: () => void }) {
  const [name, setName] = useState('');
  const [error, setError] = useState<unknown>(null);
  const run = async (work: () => Promise<unknown>) => {
    setError(null);
    try {
      await work();
    } catch (e) {
      setError(e);
    }
    onChanged();
  };
  return (
    <div class="card">
      <h2>Groups</h2>
      <ErrorBanner error={error} />
      {groups.length === 0 && <p class="muted">No group. Bind a key to a group (group:&lt;id&gt;) to give it its own accounts.</p>}
      <ul class="channels">
        {groups.map((g) => (
          <li>
            <span>
              {g.name}{' '}
              <span class="muted small">
                {plural((g.accounts ?? []).length, 'account')} · group:{g.id}
              </span>
            </span>
            <button class="danger" onClick={() => run(() => api(`/admin/account-groups/${g.id}`, { method: 'DELETE' }))}>
              Delete
            </button>
          </li>
        ))}
      </ul>
      <form
        class="toolbar"
        onSubmit={(e) => {
          e.preventDefault();
          if (name.trim()) run(() => api('/admin/account-groups', { method: 'POST', body: { name: name.trim() } })).then(() => setName(''));
        }}
      >
        <input aria-label="New group name" placeholder="New group name" value={name} onInput={(e) => setName(valueOf(e))} />
        <button type="submit">Add group</button>
      </form>
    </div>
  );
}

function AccountUsage({ id }: { id: string }) {
  const usage = usePolling((signal) => api<UsageReport>(`/admin/usage/accounts/${id}`, { signal }), 60000, [id]);
  if (!usage.data) return <span class="muted">…</span>;
  const t = usage.data.allTime;
  return (
    <span title={`${int(t.inputTokens)} in · ${int(t.outputTokens)} out`}>
      {int(t.requests)} req · {compact(t.allTokens)} tok
      <div class="muted small">{usd(t.cost)}</div>
    </span>
  );
}

interface Probe {
  class: string;
  circuit: string;
  failing: boolean;
  probe: { ok: boolean; outcome: string; status: number; ms: number; reason: string };
  utilization5h: number | null;
  utilization7d: number | null;
}

// A probe that spends no tokens (the account's model list), and what it did to its health.
function TestAccount({ account, onClose }: { account: Account; onClose: () => void }) {
  const result = usePolling((signal) => api<Probe>(`/admin/claude-accounts/${account.id}/health-check`, { method: 'POST', signal }), 0);
  const p = result.data;
  return (
    <Modal title={`Test ${account.name}`} onClose={onClose}>
      <ErrorBanner error={result.error} />
      {!p && !result.error && <Spinner label="Asking the upstream…" />}
      {p && (
        <div role="status">
          <p>
            <Badge tone={p.probe.ok ? 'good' : 'bad'}>{p.probe.ok ? 'reachable' : 'failed'}</Badge> {p.probe.outcome}, HTTP{' '}
            {p.probe.status || '—'} in {int(p.probe.ms)} ms
          </p>
          {p.probe.reason && <p class="banner error">{p.probe.reason}</p>}
          <p class="muted">
            Health now: {p.class} · circuit {p.circuit}
          </p>
        </div>
      )}
      <div class="actions">
        <button class="primary" onClick={onClose}>
          Close
        </button>
      </div>
    </Modal>
  );
}
