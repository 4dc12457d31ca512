// The load balancer: the strategy of the pool and of each group (switched at runtime on every
// instance), each account's score and its parts, the sticky sessions it holds, and the latest
// decisions of the instance that answers.
import { useMemo, useState } from 'preact/hooks';
import { api } from '../api';
import { Badge, ErrorBanner, Meter, Spinner, usePolling, valueOf, Table } from '../components';
import { int, percent, when } from '../format';
import type { BalancerStatus, Group } from '../types';

const strategies: [string, string][] = [
  ['balanced', 'Balanced (cost, speed, load, reliability)'],
  ['least_used', 'Least used (tokens per weight)'],
  ['least_recent', 'Least recently used (rotation)'],
  ['lowest_cost', 'Lowest cost'],
  ['weighted_random', 'Weighted random'],
];

interface Decision {
  at: string;
  requestId: string;
  keyId: string;
  model: string;
  group: string;
  strategy: string;
  picked: string | null;
  how: string;
  candidates: number;
  ranked: { accountId: string; score: number; cost: number; performance: number; load: number; reliability: number; paused: boolean }[];
}

export function BalancingPage() {
  const status = usePolling((signal) => api<BalancerStatus>('/admin/load-balance/status', { signal }), 5000);
  const groups = usePolling((signal) => api<Group[]>('/admin/account-groups', { signal }), 0);
  const decisions = usePolling(
    (signal) => api<{ instance: string; decisions: Decision[] }>('/admin/load-balance/decisions?limit=30', { signal }),
    5000,
  );
  const [error, setError] = useState<unknown>(null);
  const [saved, setSaved] = useState('');
  const names = useMemo(() => new Map((status.data?.accounts ?? []).map((a) => [a.id, a.name])), [status.data]);
  const setStrategy = async (strategy: string, groupId?: string) => {
    setError(null);
    setSaved('');
    try {
      await api('/admin/load-balance/strategy', { method: 'PUT', body: groupId ? { strategy, groupId } : { strategy } });
      setSaved(groupId ? `The group now uses ${strategy}.` : `The pool now uses ${strategy}.`);
      status.reload();
    } catch (e) {
      setError(e);
    }
  };
  const s = status.data?.strategy;
  return (
    <section>
      <h1>Load balancing</h1>
      <ErrorBanner error={error ?? status.error} />
      {saved && (
        <div class="banner info" role="status">
          {saved}
        </div>
      )}
      {!s && !status.error && <Spinner />}
      {s && (
        <div class="card">
          <h2>Strategy</h2>
          {!s.enabled && (
            <p class="banner warn">
              Load balancing is off (loadBalancing.enabled): accounts are taken by priority, and a strategy chosen here applies once it is
              on.
            </p>
          )}
          <div class="form-grid">
            <label class="field">
              <span class="field-label">Whole pool</span>
              <select aria-label="Strategy of the whole pool" value={s.global} onChange={(e) => setStrategy(valueOf(e))}>
                {strategies.map(([v, label]) => (
                  <option value={v}>{label}</option>
                ))}
              </select>
              <span class="field-hint">
                {s.setAtRuntime ? `Set at runtime; the configuration says ${s.configured}.` : 'As configured (loadBalancing.strategy).'}
              </span>
            </label>
            {(groups.data ?? []).map((g) => (
              <label class="field">
                <span class="field-label">Group {g.name}</span>
                <select
                  aria-label={`Strategy of group ${g.name}`}
                  value={s.groups[g.id] ?? ''}
                  onChange={(e) => setStrategy(valueOf(e), g.id)}
                >
                  <option value="" disabled>
                    Same as the pool ({s.global})
                  </option>
                  {strategies.map(([v, label]) => (
                    <option value={v}>{label}</option>
                  ))}
                </select>
              </label>
            ))}
          </div>
        </div>
      )}
      {status.data && (
        <div class="card">
          <h2>Accounts as the balancer sees them</h2>
          <Table
            columns={['Rank', 'Account', 'Score', 'Cost', 'Speed', 'Load', 'Reliability', 'In flight', 'Sticky sessions', 'TTFB / success']}
          >
            {status.data.accounts.map((a) => (
              <tr>
                <td class="num">{a.rank ?? '—'}</td>
                <td>
                  {a.name}
                  <div class="small">
                    {!a.usable && <Badge tone="bad">not usable</Badge>} {a.paused && <Badge tone="warn">paused: near its limit</Badge>}
                  </div>
                </td>
                <td class="num">{a.score ? a.score.total.toFixed(3) : '—'}</td>
                <td>
                  <Meter ratio={a.score?.cost} label="cost part" />
                </td>
                <td>
                  <Meter ratio={a.score?.performance} label="speed part" />
                </td>
                <td>
                  <Meter ratio={a.score?.load} label="load part" />
                </td>
                <td>
                  <Meter ratio={a.score?.reliability} label="reliability part" />
                </td>
                <td class="num">
                  {int(a.inFlight ?? 0)}
                  {a.maxConcurrency > 0 ? ` / ${a.maxConcurrency}` : ''}
                </td>
                <td class="num">{int(a.stickySessions)}</td>
                <td class="num">
                  {a.ttfbMs == null ? '—' : `${a.ttfbMs.toFixed(0)} ms`} · {percent(a.successRate)}
                </td>
              </tr>
            ))}
          </Table>
        </div>
      )}
      <div class="card">
        <h2>Recent decisions</h2>
        <p class="muted small">
          The latest requests this instance ({decisions.data?.instance ?? '…'}) placed; each instance keeps its own.
        </p>
        <ErrorBanner error={decisions.error} />
        {decisions.data && decisions.data.decisions.length === 0 && <p class="muted">No request placed yet.</p>}
        {decisions.data && decisions.data.decisions.length > 0 && (
          <Table columns={['When', 'Request', 'Strategy', 'Picked', 'How', 'Ranked']} class="decisions">
            {decisions.data.decisions.map((d) => (
              <tr>
                <td>{when(d.at)}</td>
                <td class="small">
                  {d.requestId}
                  <div class="muted">{d.model}</div>
                </td>
                <td>
                  {d.strategy}
                  {d.group && <div class="muted small">group {d.group.slice(0, 8)}</div>}
                </td>
                <td>{d.picked ? (names.get(d.picked) ?? d.picked.slice(0, 8)) : <Badge tone="bad">none free</Badge>}</td>
                <td>{d.how}</td>
                <td class="small">
                  {d.ranked
                    .map((o) => `${names.get(o.accountId) ?? o.accountId.slice(0, 8)} ${o.score.toFixed(2)}${o.paused ? ' (paused)' : ''}`)
                    .join(' · ')}
                  {d.candidates > d.ranked.length ? ` · +${d.candidates - d.ranked.length}` : ''}
                </td>
              </tr>
            ))}
          </Table>
        )}
      </div>
    </section>
  );
}
