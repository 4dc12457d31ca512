import { useMemo, useState } from 'preact/hooks';
import { api, query } from '../api';
import { TimeChart } from '../chart';
import { Badge, ErrorBanner, Meter, Spinner, Tile, usePolling, Table } from '../components';
import { compact, duration, int, usd } from '../format';
import type { AccountGlance, Dashboard, TrendPoint } from '../types';

type Period = '24h' | '7d' | '30d';

function trendQuery(p: Period) {
  return p === '24h' ? query({ granularity: 'hour', hours: 24 }) : query({ granularity: 'day', days: p === '7d' ? 7 : 30 });
}

// The bucket's start as Unix seconds (uPlot's x axis): hours are UTC instants, days are
// dates in the relay's time zone (drawn at this browser's midnight).
function bucketTime(p: TrendPoint): number {
  if (p.hour) return Math.floor(Date.parse(p.hour) / 1000);
  return Math.floor(Date.parse(`${p.date}T00:00:00`) / 1000);
}

export function DashboardPage() {
  const [period, setPeriod] = useState<Period>('7d');
  const board = usePolling((signal) => api<Dashboard>('/admin/dashboard', { signal }), 10000);
  const trend = usePolling((signal) => api<TrendPoint[]>(`/admin/usage-trend${trendQuery(period)}`, { signal }), 30000, [period]);
  const chart = useMemo(() => {
    const points = trend.data ?? [];
    return {
      x: points.map(bucketTime),
      requests: [{ label: 'Requests', values: points.map((p) => p.requests), format: compact, whole: true }],
      money: [
        { label: 'Tokens', values: points.map((p) => p.totalTokens), format: compact, whole: true },
        { label: 'Cost', values: points.map((p) => p.cost), format: usd, axis: 'right' as const },
      ],
    };
  }, [trend.data]);
  const d = board.data;
  return (
    <section>
      <h1>Dashboard</h1>
      <ErrorBanner error={board.error} />
      {!d && !board.error && <Spinner />}
      {d && (
        <>
          <div class="tiles">
            <Tile
              label="Requests today"
              value={int(d.recentActivity.requestsToday)}
              detail={`${int(d.overview.totalRequestsUsed)} in all`}
            />
            <Tile
              label="Tokens today"
              value={compact(d.recentActivity.allTokensToday)}
              detail={`${compact(d.recentActivity.inputTokensToday)} in · ${compact(d.recentActivity.outputTokensToday)} out`}
            />
            <Tile label="Cost today" value={usd(d.recentActivity.costToday)} detail={`${usd(d.overview.totalCost)} in all`} />
            <Tile
              label="In flight"
              value={int(d.inFlight)}
              detail={`${d.realtimeMetrics.rpm} req/min · ${compact(d.realtimeMetrics.tpm)} tok/min`}
            />
            <Tile
              label="Errors"
              value={int(d.errors.total)}
              tone={d.errors.total > 0 ? 'warn' : undefined}
              detail={
                Object.entries(d.errors.byClass)
                  .filter(([, v]) => v > 0)
                  .map(([k, v]) => `${k.replace('_', ' ')} ${v}`)
                  .join(' · ') || 'none recorded'
              }
            />
            <Tile label="API keys" value={int(d.overview.activeApiKeys)} detail={`active of ${int(d.overview.totalApiKeys)}`} />
            <Tile
              label="Accounts"
              value={`${d.overview.normalAccounts}/${d.overview.totalAccounts}`}
              tone={d.overview.abnormalAccounts > 0 ? 'bad' : d.overview.rateLimitedAccounts > 0 ? 'warn' : 'good'}
              detail={`${d.overview.abnormalAccounts} failing · ${d.overview.rateLimitedAccounts} rate-limited · ${d.overview.pausedAccounts} paused`}
            />
            <Tile
              label="Relay"
              value={d.systemHealth.redisConnected ? 'Healthy' : 'Redis down'}
              tone={d.systemHealth.redisConnected ? 'good' : 'bad'}
              detail={`up ${duration(d.systemHealth.uptime)} · ${d.loadBalancing.enabled ? d.loadBalancing.global : 'balancing off'}`}
            />
          </div>
          <div class="card">
            <div class="card-head">
              <h2>Usage</h2>
              <div class="segmented" role="group" aria-label="Period">
                {(['24h', '7d', '30d'] as Period[]).map((p) => (
                  <button aria-pressed={period === p} onClick={() => setPeriod(p)}>
                    {p === '24h' ? 'By hour, 24 h' : p === '7d' ? 'By day, 7 days' : 'By day, 30 days'}
                  </button>
                ))}
              </div>
            </div>
            <ErrorBanner error={trend.error} />
            {trend.data && (
              <div class="charts">
                <TimeChart title="Requests" x={chart.x} series={chart.requests} />
                <TimeChart title="Tokens and cost" x={chart.x} series={chart.money} />
              </div>
            )}
          </div>
          <AccountsAtAGlance accounts={d.accounts} />
        </>
      )}
    </section>
  );
}

export function conditionTone(condition: string): 'good' | 'warn' | 'bad' | 'muted' {
  if (condition === 'normal') return 'good';
  if (condition === 'rateLimited') return 'warn';
  if (condition === 'paused') return 'muted';
  return 'bad';
}

function AccountsAtAGlance({ accounts }: { accounts: AccountGlance[] }) {
  return (
    <div class="card">
      <h2>Accounts at a glance</h2>
      {accounts.length === 0 ? (
        <p class="muted">No upstream account yet.</p>
      ) : (
        <Table columns={['Account', 'State', 'Health', 'Circuit', 'In flight', '5 h', '7 d']}>
          {accounts.map((a) => (
            <tr>
              <td>
                {a.name}
                <div class="muted small">{a.type}</div>
              </td>
              <td>
                <Badge tone={conditionTone(a.condition)}>{a.condition}</Badge>
              </td>
              <td>{a.health}</td>
              <td>{a.circuit}</td>
              <td>
                {a.inFlight ?? 0}
                {a.maxConcurrency > 0 ? ` / ${a.maxConcurrency}` : ''}
              </td>
              <td>
                <Meter ratio={a.utilization5h} label="5-hour window used" />
              </td>
              <td>
                <Meter ratio={a.utilization7d} label="7-day window used" />
              </td>
            </tr>
          ))}
        </Table>
      )}
    </div>
  );
}
