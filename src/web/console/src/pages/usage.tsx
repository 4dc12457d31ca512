// Usage over a date range: everything, one key, one account or one model; by hour, day or
// month; as a chart, a table, and a CSV file. Below, the range split by model and by account.
import { useEffect, useMemo, useState } from 'preact/hooks';
import { api, query } from '../api';
import { TimeChart } from '../chart';
import { ErrorBanner, Field, Spinner, Tile, usePolling, valueOf, Table } from '../components';
import { compact, int, usd } from '../format';
import { download, toCsv } from '../csv';
import type { Account, KeyPage, Totals, UsageReport } from '../types';

type Subject = 'all' | 'key' | 'account' | 'model';
type Granularity = 'hour' | 'day' | 'month';

// "2026-12-04", "2026-12-04:13" (hour) or "2026-12" (month) as Unix seconds for the chart.
function periodTime(p: string): number {
  const [day, hour] = p.split(':');
  const date = day.length === 7 ? `${day}-01` : day;
  return Math.floor(Date.parse(`${date}T${(hour ?? '00').padStart(2, '0')}:00:00`) / 1000);
}

// Every period of the range, as the relay names them, so that a chart spans the whole range
// and days without a request show as zero ("2026-12-04", "2026-12-04:13", "2026-12").
function periodsOf(from: string, to: string, g: Granularity): string[] {
  const out: string[] = [];
  const day = new Date(`${from}T00:00:00Z`);
  const end = new Date(`${to}T00:00:00Z`);
  if (Number.isNaN(day.getTime()) || Number.isNaN(end.getTime())) return out;
  const iso = (d: Date) => d.toISOString().slice(0, 10);
  if (g === 'month') {
    for (
      let m = new Date(Date.UTC(day.getUTCFullYear(), day.getUTCMonth(), 1));
      m <= end && out.length < 800;
      m.setUTCMonth(m.getUTCMonth() + 1)
    )
      out.push(iso(m).slice(0, 7));
    return out;
  }
  for (; day <= end && out.length < 800; day.setUTCDate(day.getUTCDate() + 1)) {
    if (g === 'day') out.push(iso(day));
    else for (let h = 0; h < 24; h++) out.push(`${iso(day)}:${String(h).padStart(2, '0')}`);
  }
  return out;
}

const zero: Totals = { requests: 0, inputTokens: 0, outputTokens: 0, cacheCreateTokens: 0, cacheReadTokens: 0, allTokens: 0, cost: 0 };

const totalsHeader = ['requests', 'input tokens', 'output tokens', 'cache write tokens', 'cache read tokens', 'all tokens', 'cost (USD)'];
const totalsRow = (t: Totals) => [t.requests, t.inputTokens, t.outputTokens, t.cacheCreateTokens, t.cacheReadTokens, t.allTokens, t.cost];

export function UsagePage() {
  // Empty until the relay names its last seven days: its days are those of usage.timezoneOffset,
  // not the browser's (in the evening west of it, the browser's "today" misses the relay's).
  const [from, setFrom] = useState('');
  const [to, setTo] = useState('');
  const [granularity, setGranularity] = useState<Granularity>('day');
  const [subject, setSubject] = useState<Subject>('all');
  const [target, setTarget] = useState('');
  const range = query({ from, to, granularity });
  const path =
    subject === 'all' || !target
      ? `/admin/usage/summary${range}`
      : `/admin/usage/${subject === 'key' ? 'keys' : subject === 'account' ? 'accounts' : 'models'}/${encodeURIComponent(target)}${range}`;
  const report = usePolling((signal) => api<UsageReport>(path, { signal }), 0, [path]);
  useEffect(() => {
    if (report.data && !from && !to) {
      setFrom(report.data.from);
      setTo(report.data.to);
    }
  }, [report.data]);
  const models = usePolling((signal) => api<{ models: (Totals & { model: string })[] }>(`/admin/usage/models${range}`, { signal }), 0, [
    range,
  ]);
  const accounts = usePolling((signal) => api<Account[]>('/admin/claude-accounts', { signal }), 0);
  const chart = useMemo(() => {
    const found = new Map((report.data?.buckets ?? []).map((b) => [b.period, b]));
    const b = periodsOf(from, to, granularity).map((period) => ({ ...zero, ...found.get(period), period }));
    return {
      x: b.map((p) => periodTime(p.period)),
      requests: [{ label: 'Requests', values: b.map((p) => p.requests), format: compact, whole: true }],
      money: [
        { label: 'Tokens', values: b.map((p) => p.allTokens), format: compact, whole: true },
        { label: 'Cost', values: b.map((p) => p.cost), format: usd, axis: 'right' as const },
      ],
    };
  }, [report.data, from, to, granularity]);
  const csv = () => {
    const rows = (report.data?.buckets ?? []).map((b) => [b.period, ...totalsRow(b)]);
    const name = subject === 'all' || !target ? 'all' : `${subject}-${target}`;
    download(`usage-${name}-${from}-to-${to}-by-${granularity}.csv`, toCsv(['period', ...totalsHeader], rows));
  };
  const t = report.data?.range;
  return (
    <section>
      <div class="page-head">
        <h1>Usage</h1>
        <button onClick={csv} disabled={!report.data}>
          Download CSV
        </button>
      </div>
      <div class="card form-grid usage-controls">
        <Field label="From">
          <input type="date" name="from" value={from} max={to} onInput={(e) => setFrom(valueOf(e))} />
        </Field>
        <Field label="To">
          <input type="date" name="to" value={to} min={from} onInput={(e) => setTo(valueOf(e))} />
        </Field>
        <Field label="By">
          <select name="granularity" value={granularity} onChange={(e) => setGranularity(valueOf(e) as Granularity)}>
            <option value="hour">Hour</option>
            <option value="day">Day</option>
            <option value="month">Month</option>
          </select>
        </Field>
        <Field label="Of">
          <select
            name="subject"
            value={subject}
            onChange={(e) => {
              setSubject(valueOf(e) as Subject);
              setTarget('');
            }}
          >
            <option value="all">Everything</option>
            <option value="key">One API key</option>
            <option value="account">One account</option>
            <option value="model">One model</option>
          </select>
        </Field>
        {subject === 'key' && <KeyPicker value={target} onPick={setTarget} />}
        {subject === 'account' && (
          <Field label="Account">
            <select name="account" value={target} onChange={(e) => setTarget(valueOf(e))}>
              <option value="">Choose…</option>
              {(accounts.data ?? []).map((a) => (
                <option value={a.id}>{a.name}</option>
              ))}
            </select>
          </Field>
        )}
        {subject === 'model' && (
          <Field label="Model">
            <select name="model" value={target} onChange={(e) => setTarget(valueOf(e))}>
              <option value="">Choose…</option>
              {(models.data?.models ?? []).map((m) => (
                <option value={m.model}>{m.model}</option>
              ))}
            </select>
          </Field>
        )}
      </div>
      <ErrorBanner error={report.error} />
      {!report.data && !report.error && <Spinner />}
      {t && (
        <>
          <div class="tiles">
            <Tile label="Requests" value={int(t.requests)} />
            <Tile label="Tokens" value={compact(t.allTokens)} detail={`${compact(t.inputTokens)} in · ${compact(t.outputTokens)} out`} />
            <Tile
              label="Cache"
              value={compact(t.cacheCreateTokens + t.cacheReadTokens)}
              detail={`${compact(t.cacheCreateTokens)} written · ${compact(t.cacheReadTokens)} read`}
            />
            <Tile label="Cost" value={usd(t.cost)} />
          </div>
          <div class="card charts">
            <TimeChart title="Requests" x={chart.x} series={chart.requests} />
            <TimeChart title="Tokens and cost" x={chart.x} series={chart.money} />
          </div>
          <BucketTable report={report.data!} />
        </>
      )}
      <ModelTable rows={models.data?.models ?? []} />
      <AccountTable accounts={accounts.data ?? []} range={range} />
    </section>
  );
}

function KeyPicker({ value, onPick }: { value: string; onPick: (id: string) => void }) {
  const [search, setSearch] = useState('');
  const found = usePolling((signal) => api<KeyPage>(`/admin/api-keys${query({ search, pageSize: 20 })}`, { signal }), 0, [search]);
  return (
    <>
      <Field label="Find a key">
        <input type="search" name="key-search" placeholder="Name or id" value={search} onInput={(e) => setSearch(valueOf(e))} />
      </Field>
      <Field label="API key">
        <select name="key" value={value} onChange={(e) => onPick(valueOf(e))}>
          <option value="">Choose…</option>
          {(found.data?.items ?? []).map((k) => (
            <option value={k.id}>{k.name}</option>
          ))}
        </select>
      </Field>
    </>
  );
}

function BucketTable({ report }: { report: UsageReport }) {
  const rows = report.buckets.filter((b) => b.requests > 0);
  return (
    <div class="card">
      <h2>By period</h2>
      {rows.length === 0 ? (
        <p class="muted">No request in this range.</p>
      ) : (
        <Table columns={['Period', 'Requests', 'Input', 'Output', 'Cache', 'Cost']}>
          {rows.map((b) => (
            <tr>
              <td>{b.period}</td>
              <td class="num">{int(b.requests)}</td>
              <td class="num">{int(b.inputTokens)}</td>
              <td class="num">{int(b.outputTokens)}</td>
              <td class="num">{int(b.cacheCreateTokens + b.cacheReadTokens)}</td>
              <td class="num">{usd(b.cost)}</td>
            </tr>
          ))}
        </Table>
      )}
    </div>
  );
}

function ModelTable({ rows }: { rows: (Totals & { model: string })[] }) {
  return (
    <div class="card">
      <h2>By model</h2>
      {rows.length === 0 ? (
        <p class="muted">No request in this range.</p>
      ) : (
        <Table columns={['Model', 'Requests', 'Tokens', 'Cost']}>
          {rows.map((m) => (
            <tr>
              <td>{m.model}</td>
              <td class="num">{int(m.requests)}</td>
              <td class="num">{compact(m.allTokens)}</td>
              <td class="num">{usd(m.cost)}</td>
            </tr>
          ))}
        </Table>
      )}
    </div>
  );
}

function AccountTable({ accounts, range }: { accounts: Account[]; range: string }) {
  return (
    <div class="card">
      <h2>By account</h2>
      {accounts.length === 0 ? (
        <p class="muted">No account yet.</p>
      ) : (
        <Table columns={['Account', 'Requests', 'Tokens', 'Cost']}>
          {accounts.map((a) => (
            <AccountRow account={a} range={range} />
          ))}
        </Table>
      )}
    </div>
  );
}

function AccountRow({ account, range }: { account: Account; range: string }) {
  const usage = usePolling((signal) => api<UsageReport>(`/admin/usage/accounts/${account.id}${range}`, { signal }), 0, [account.id, range]);
  const t = usage.data?.range;
  return (
    <tr>
      <td>{account.name}</td>
      <td class="num">{t ? int(t.requests) : '…'}</td>
      <td class="num">{t ? compact(t.allTokens) : '…'}</td>
      <td class="num">{t ? usd(t.cost) : '…'}</td>
    </tr>
  );
}
