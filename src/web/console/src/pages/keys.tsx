import { Fragment } from 'preact';
// API keys: a page of the list at a time (the relay filters, sorts and pages, so 10,000 keys
// cost the browser no more than 20), and every action on a key.
import { useEffect, useState } from 'preact/hooks';
import { api, query } from '../api';
import { Badge, ErrorBanner, Modal, Spinner, errorText, usePolling, valueOf, Table, useDialog } from '../components';
import { ago, compact, int, usd, when } from '../format';
import type { ApiKey, KeyPage } from '../types';
import { ExportDialog } from './key_export';
import { KeyForm, NewSecrets } from './key_form';

type Dialog =
  | { kind: 'none' }
  | { kind: 'create' }
  | { kind: 'batch' }
  | { kind: 'edit'; key: ApiKey }
  | { kind: 'secrets'; keys: ApiKey[]; warning?: string }
  | { kind: 'confirm'; title: string; text: string; run: () => Promise<void> }
  | { kind: 'export' };

function status(k: ApiKey): { tone: 'good' | 'warn' | 'bad' | 'muted'; text: string } {
  if (!k.isActive) return { tone: 'muted', text: 'disabled' };
  if (k.expiresAt && Date.parse(k.expiresAt) < Date.now()) return { tone: 'bad', text: 'expired' };
  return { tone: 'good', text: 'active' };
}

function limits(k: ApiKey): string {
  const parts: string[] = [];
  if (k.rateLimitWindow) {
    const per = `/${k.rateLimitWindow} min`;
    if (k.rateLimitRequests) parts.push(`${k.rateLimitRequests} req${per}`);
    if (k.rateLimitCost) parts.push(`${usd(k.rateLimitCost)}${per}`);
  }
  if (k.concurrencyLimit) parts.push(`${k.concurrencyLimit} at once`);
  if (k.dailyCostLimit) parts.push(`${usd(k.dailyCostLimit)}/day`);
  if (k.weeklyCostLimit) parts.push(`${usd(k.weeklyCostLimit)}/week`);
  if (k.totalCostLimit) parts.push(`${usd(k.totalCostLimit)} total`);
  if (k.totalTokenLimit) parts.push(`${compact(k.totalTokenLimit)} tokens`);
  return parts.join(' · ') || 'no limits';
}

// Waits `ms` after the last change before passing a value on (typing in the search box).
function useDebounced<T>(value: T, ms: number): T {
  const [v, setV] = useState(value);
  useEffect(() => {
    const t = window.setTimeout(() => setV(value), ms);
    return () => window.clearTimeout(t);
  }, [value]);
  return v;
}

export function KeysPage() {
  const [search, setSearch] = useState('');
  const [active, setActive] = useState('');
  const [sort, setSort] = useState('createdAt:desc');
  const [page, setPage] = useState(1);
  const [pageSize, setPageSize] = useState(20);
  const [dialog, setDialog, dialogSeq] = useDialog<Dialog>({ kind: 'none' });
  const [actionError, setActionError] = useState<unknown>(null);
  const term = useDebounced(search, 250);
  useEffect(() => setPage(1), [term, active, sort, pageSize]);
  const [sortBy, sortOrder] = sort.split(':');
  const list = usePolling(
    (signal) => api<KeyPage>(`/admin/api-keys${query({ page, pageSize, search: term, isActive: active, sortBy, sortOrder })}`, { signal }),
    0,
    [page, pageSize, term, active, sort],
  );
  const close = () => setDialog({ kind: 'none' });
  const act = async (run: () => Promise<void>) => {
    setActionError(null);
    try {
      await run();
    } catch (e) {
      setActionError(e);
    }
    list.reload();
  };
  const renew = (k: ApiKey) =>
    setDialog({
      kind: 'confirm',
      title: `Renew the secret of ${k.name}?`,
      text: 'A new secret replaces the current one at once: clients using the old one are refused from now on.',
      run: async () => {
        const made = await api<ApiKey>(`/admin/api-keys/${k.id}/renew`, { method: 'POST' });
        setDialog({ kind: 'secrets', keys: [made] });
      },
    });
  const remove = (k: ApiKey) =>
    setDialog({
      kind: 'confirm',
      title: `Delete ${k.name}?`,
      text: 'The key stops working at once. Its usage history is kept.',
      run: async () => {
        await api(`/admin/api-keys/${k.id}`, { method: 'DELETE' });
        close();
      },
    });
  const p = list.data?.pagination;
  return (
    <section>
      <div class="page-head">
        <h1>API keys</h1>
        <div class="buttons">
          <button onClick={() => setDialog({ kind: 'export' })}>Export…</button>
          <button onClick={() => setDialog({ kind: 'batch' })}>Batch create…</button>
          <button class="primary" onClick={() => setDialog({ kind: 'create' })}>
            Create key
          </button>
        </div>
      </div>
      <div class="toolbar" role="search">
        <input
          type="search"
          placeholder="Search by name or id"
          aria-label="Search keys"
          value={search}
          onInput={(e) => setSearch(valueOf(e))}
        />
        <select aria-label="Status" value={active} onChange={(e) => setActive(valueOf(e))}>
          <option value="">All keys</option>
          <option value="true">Enabled</option>
          <option value="false">Disabled</option>
        </select>
        <select aria-label="Sort" value={sort} onChange={(e) => setSort(valueOf(e))}>
          <option value="createdAt:desc">Newest first</option>
          <option value="createdAt:asc">Oldest first</option>
          <option value="name:asc">Name A–Z</option>
          <option value="name:desc">Name Z–A</option>
          <option value="lastUsedAt:desc">Recently used</option>
          <option value="expiresAt:asc">Expiring first</option>
        </select>
        <select aria-label="Keys per page" value={String(pageSize)} onChange={(e) => setPageSize(Number(valueOf(e)))}>
          {[20, 50, 100].map((n) => (
            <option value={String(n)}>{n} per page</option>
          ))}
        </select>
      </div>
      <ErrorBanner error={actionError ?? list.error} onDismiss={actionError ? () => setActionError(null) : undefined} />
      {!list.data && !list.error && <Spinner />}
      {list.data && (
        <>
          <Table columns={['Name', 'Status', 'Limits', 'Usage', 'Last used', 'Expires', { label: 'Actions', hidden: true }]} class="keys">
            {list.data.items.length === 0 && (
              <tr>
                <td colSpan={7} class="muted">
                  {term || active ? 'No key matches.' : 'No key yet: create one.'}
                </td>
              </tr>
            )}
            {list.data.items.map((k) => {
              const s = status(k);
              return (
                <tr data-key-id={k.id}>
                  <td>
                    <strong>{k.name}</strong>
                    {k.description && <div class="muted small">{k.description}</div>}
                    {k.tags.length > 0 && (
                      <div class="small">
                        {k.tags.map((t) => (
                          <span class="tag">{t}</span>
                        ))}
                      </div>
                    )}
                  </td>
                  <td>
                    <Badge tone={s.tone}>{s.text}</Badge>
                  </td>
                  <td class="small">{limits(k)}</td>
                  <td class="num">
                    {int(k.usage?.total.requests)} req
                    <div class="muted small">{usd(k.usage?.total.cost)}</div>
                  </td>
                  <td title={when(k.lastUsedAt)}>{ago(k.lastUsedAt)}</td>
                  <td>
                    {k.expirationMode === 'activation' && !k.isActivated
                      ? `${k.activationDays} d after first use`
                      : k.expiresAt
                        ? when(k.expiresAt)
                        : 'never'}
                  </td>
                  <td class="row-actions">
                    <button onClick={() => setDialog({ kind: 'edit', key: k })}>Edit</button>
                    <button onClick={() => act(() => api(`/admin/api-keys/${k.id}`, { method: 'PUT', body: { isActive: !k.isActive } }))}>
                      {k.isActive ? 'Disable' : 'Enable'}
                    </button>
                    <button onClick={() => renew(k)}>Renew</button>
                    <button class="danger" onClick={() => remove(k)}>
                      Delete
                    </button>
                  </td>
                </tr>
              );
            })}
          </Table>
          {p && (
            <nav class="pager" aria-label="Pages">
              <button disabled={p.page <= 1} onClick={() => setPage(p.page - 1)}>
                Previous
              </button>
              <span>
                Page {p.page} of {Math.max(1, p.totalPages)} · {int(p.total)} keys
              </span>
              <button disabled={p.page >= p.totalPages} onClick={() => setPage(p.page + 1)}>
                Next
              </button>
            </nav>
          )}
        </>
      )}
      <Fragment key={dialogSeq}>
        {(dialog.kind === 'create' || dialog.kind === 'batch') && (
          <KeyForm
            batch={dialog.kind === 'batch'}
            onClose={close}
            onDone={(made, warning) => {
              list.reload();
              setDialog(made ? { kind: 'secrets', keys: made, warning } : { kind: 'none' });
            }}
          />
        )}
        {dialog.kind === 'edit' && (
          <KeyForm
            existing={dialog.key}
            onClose={close}
            onDone={() => {
              list.reload();
              close();
            }}
          />
        )}
        {dialog.kind === 'secrets' && <NewSecrets keys={dialog.keys} warning={dialog.warning} onClose={close} />}
        {dialog.kind === 'export' && <ExportDialog onClose={close} />}
        {dialog.kind === 'confirm' && (
          <Confirm title={dialog.title} text={dialog.text} run={dialog.run} onClose={close} onDone={list.reload} />
        )}
      </Fragment>
    </section>
  );
}

function Confirm(props: { title: string; text: string; run: () => Promise<void>; onClose: () => void; onDone: () => void }) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string>('');
  return (
    <Modal title={props.title} onClose={props.onClose}>
      <p>{props.text}</p>
      {error && <div class="banner error">{error}</div>}
      <div class="actions">
        <button onClick={props.onClose}>Cancel</button>
        <button
          class="danger"
          disabled={busy}
          onClick={async () => {
            setBusy(true);
            try {
              await props.run();
              props.onDone();
            } catch (e) {
              setError(errorText(e));
            }
            setBusy(false);
          }}
        >
          {busy ? 'Working…' : 'Confirm'}
        </button>
      </div>
    </Modal>
  );
}
