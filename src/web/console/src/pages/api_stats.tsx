// The key holders' page (the Node.js service's /admin-next/api-stats): a person pastes their
// key and sees their own usage, limits and what is left of each. A shared ?apiId= link shows
// the summary only. The key stays in this page's memory: never stored, never in the URL.
import { useEffect, useState } from 'preact/hooks';
import { api } from '../api';
import { Badge, ErrorBanner, Field, Meter, Spinner, Tile, valueOf, Table } from '../components';
import { compact, duration, int, usd, when } from '../format';
import type { Totals } from '../types';

interface Limits {
  totalTokenLimit: number;
  concurrencyLimit: number;
  rateLimitWindow: number;
  rateLimitRequests: number;
  rateLimitCost: number;
  dailyCostLimit: number;
  weeklyCostLimit: number;
  totalCostLimit: number;
  currentWindowRequests: number;
  currentWindowCost: number;
  currentDailyCost: number;
  currentWeeklyCost: number;
  currentTotalCost: number;
  currentTotalTokens: number;
  currentConcurrency: number;
  windowRemainingSeconds: number | null;
}

interface Stats {
  id: string;
  name: string;
  isActive: boolean;
  expiresAt: string;
  expirationMode: string;
  isActivated: boolean;
  activationDays: number;
  usage: { total: Totals };
  limits: Limits;
}

interface ModelRow extends Totals {
  model: string;
}

type Who = { apiKey: string } | { apiId: string };

const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function ApiStatsPage() {
  const [who, setWho] = useState<Who | null>(null);
  const [typed, setTyped] = useState('');
  const [stats, setStats] = useState<Stats | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    document.title = 'My usage · Claude Relay Service';
    const params = new URLSearchParams(window.location.search);
    const key = params.get('apiKey');
    const id = params.get('apiId');
    if (key) {
      // A key in a link: use it, then take it out of the address bar and the history.
      params.delete('apiKey');
      const rest = params.toString();
      window.history.replaceState(null, '', `/admin-next/api-stats${rest ? `?${rest}` : ''}`);
      lookUp({ apiKey: key });
    } else if (id) {
      if (uuid.test(id)) lookUp({ apiId: id });
      else setError(new Error('The link does not hold a valid key id.'));
    }
  }, []);

  async function lookUp(w: Who) {
    setBusy(true);
    setError(null);
    try {
      setStats(await api<Stats>('/apiStats/api/user-stats', { method: 'POST', body: w, quietAuth: true }));
      setWho(w);
    } catch (e) {
      setStats(null);
      setError(e);
    } finally {
      setBusy(false);
    }
  }

  return (
    <main class="public">
      <header class="public-head">
        <h1>My API key usage</h1>
        <p class="muted">Claude Relay Service</p>
      </header>
      <form
        class="card lookup"
        onSubmit={(e) => {
          e.preventDefault();
          if (typed.trim()) lookUp({ apiKey: typed.trim() });
        }}
      >
        <Field label="Your API key" hint="It is sent to this relay only, and not kept by this page." wide>
          <input
            name="apiKey"
            type="password"
            autocomplete="off"
            spellcheck={false}
            placeholder="cr_…"
            value={typed}
            onInput={(e) => setTyped(valueOf(e))}
          />
        </Field>
        <button class="primary" type="submit" disabled={busy || !typed.trim()}>
          {busy ? 'Looking up…' : 'Show my usage'}
        </button>
      </form>
      <ErrorBanner error={error} />
      {busy && <Spinner />}
      {stats && who && <StatsView stats={stats} who={who} />}
    </main>
  );
}

function expiry(s: Stats): string {
  if (s.expirationMode === 'activation' && !s.isActivated) return `${s.activationDays} days after the first request`;
  return s.expiresAt ? when(s.expiresAt) : 'never';
}

function StatsView({ stats, who }: { stats: Stats; who: Who }) {
  const t = stats.usage.total;
  const l = stats.limits;
  return (
    <>
      <div class="card">
        <div class="card-head">
          <h2>{stats.name}</h2>
          <Badge tone={stats.isActive ? 'good' : 'muted'}>{stats.isActive ? 'active' : 'disabled'}</Badge>
        </div>
        <p class="muted">Expires: {expiry(stats)}</p>
        <div class="tiles">
          <Tile label="Requests" value={int(t.requests)} />
          <Tile label="Tokens" value={compact(t.allTokens)} detail={`${compact(t.inputTokens)} in · ${compact(t.outputTokens)} out`} />
          <Tile label="Cost" value={usd(t.cost)} />
        </div>
      </div>
      <div class="card">
        <h2>Limits and what is left</h2>
        <LimitsTable l={l} />
      </div>
      {'apiKey' in who ? (
        <ModelStats who={who} />
      ) : (
        <p class="muted">This shared link shows the summary. Paste the key above to see usage by model.</p>
      )}
    </>
  );
}

function LimitsTable({ l }: { l: Limits }) {
  const window = l.rateLimitWindow ? `per ${l.rateLimitWindow} min` : '';
  const rows: [string, number, number, (n: number) => string][] = [];
  if (l.rateLimitWindow && l.rateLimitRequests) rows.push([`Requests ${window}`, l.currentWindowRequests, l.rateLimitRequests, int]);
  if (l.rateLimitWindow && l.rateLimitCost) rows.push([`Cost ${window}`, l.currentWindowCost, l.rateLimitCost, usd]);
  if (l.dailyCostLimit) rows.push(['Cost today', l.currentDailyCost, l.dailyCostLimit, usd]);
  if (l.weeklyCostLimit) rows.push(['Cost this week', l.currentWeeklyCost, l.weeklyCostLimit, usd]);
  if (l.totalCostLimit) rows.push(['Total cost', l.currentTotalCost, l.totalCostLimit, usd]);
  if (l.totalTokenLimit) rows.push(['Total tokens', l.currentTotalTokens, l.totalTokenLimit, int]);
  if (l.concurrencyLimit) rows.push(['Requests at once', l.currentConcurrency, l.concurrencyLimit, int]);
  if (rows.length === 0) return <p>This key has no limits.</p>;
  return (
    <>
      <Table columns={['Limit', 'Used', 'Limit', 'Left', { label: 'Share used', hidden: true }]}>
        {rows.map(([label, used, limit, f]) => (
          <tr>
            <td>{label}</td>
            <td class="num">{f(used)}</td>
            <td class="num">{f(limit)}</td>
            <td class="num">{f(Math.max(0, limit - used))}</td>
            <td>
              <Meter ratio={limit > 0 ? used / limit : null} label={label} />
            </td>
          </tr>
        ))}
      </Table>
      {l.rateLimitWindow > 0 && l.windowRemainingSeconds != null && (
        <p class="muted small">The current rate window ends in {duration(l.windowRemainingSeconds)}.</p>
      )}
    </>
  );
}

function ModelStats({ who }: { who: Who }) {
  const [period, setPeriod] = useState('daily');
  const [rows, setRows] = useState<ModelRow[] | null>(null);
  const [error, setError] = useState<unknown>(null);
  useEffect(() => {
    setRows(null);
    api<ModelRow[]>('/apiStats/api/user-model-stats', { method: 'POST', body: { ...who, period }, quietAuth: true })
      .then(setRows)
      .catch(setError);
  }, [period]);
  return (
    <div class="card">
      <div class="card-head">
        <h2>By model</h2>
        <div class="segmented" role="group" aria-label="Period">
          {[
            ['daily', 'Today'],
            ['monthly', 'This month'],
            ['alltime', 'All time'],
          ].map(([p, label]) => (
            <button aria-pressed={period === p} onClick={() => setPeriod(p)}>
              {label}
            </button>
          ))}
        </div>
      </div>
      <ErrorBanner error={error} />
      {!rows && !error && <Spinner />}
      {rows && rows.length === 0 && <p class="muted">No request in this period.</p>}
      {rows && rows.length > 0 && (
        <Table columns={['Model', 'Requests', 'Input', 'Output', 'Cache', 'Cost']}>
          {rows.map((r) => (
            <tr>
              <td>{r.model}</td>
              <td class="num">{int(r.requests)}</td>
              <td class="num">{compact(r.inputTokens)}</td>
              <td class="num">{compact(r.outputTokens)}</td>
              <td class="num">{compact(r.cacheCreateTokens + r.cacheReadTokens)}</td>
              <td class="num">{usd(r.cost)}</td>
            </tr>
          ))}
        </Table>
      )}
    </div>
  );
}
