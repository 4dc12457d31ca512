// Small building blocks shared by the pages.
import { cloneElement, isValidElement, type ComponentChildren, type JSX, type VNode } from 'preact';
import { useEffect, useId, useRef, useState } from 'preact/hooks';
import { ApiError } from './api';

export function errorText(e: unknown): string {
  if (e instanceof ApiError) return e.title && e.title !== e.message ? `${e.title}: ${e.message}` : e.message;
  if (e instanceof Error) return e.message;
  return String(e);
}

export function ErrorBanner({ error, onDismiss }: { error: unknown; onDismiss?: () => void }) {
  if (!error) return null;
  return (
    <div class="banner error" role="alert">
      <span>{errorText(error)}</span>
      {onDismiss && (
        <button class="link" onClick={onDismiss} aria-label="Dismiss">
          ×
        </button>
      )}
    </div>
  );
}

export function Notice({ children }: { children: ComponentChildren }) {
  return <div class="banner info">{children}</div>;
}

export function Spinner({ label = 'Loading…' }: { label?: string }) {
  return (
    <div class="spinner" role="status">
      <span class="dot" aria-hidden="true" />
      {label}
    </div>
  );
}

export function Progress({ value, label }: { value: number; label: string }) {
  const pct = Math.max(0, Math.min(100, value));
  return (
    <div class="progress" role="progressbar" aria-valuemin={0} aria-valuemax={100} aria-valuenow={Math.round(pct)} aria-label={label}>
      <div class="progress-fill" style={{ width: `${pct}%` }} />
      <span class="progress-label">{label}</span>
    </div>
  );
}

// A ratio bar (utilisation, budget used): green, then amber past 70%, red past 90%.
export function Meter({ ratio, label }: { ratio: number | null | undefined; label: string }) {
  if (typeof ratio !== 'number' || !Number.isFinite(ratio)) return <span class="muted">—</span>;
  const pct = Math.max(0, Math.min(100, ratio * 100));
  const tone = pct >= 90 ? 'bad' : pct >= 70 ? 'warn' : 'good';
  return (
    <div class={`meter ${tone}`} title={`${label}: ${pct.toFixed(0)}%`}>
      <div class="meter-fill" style={{ width: `${pct}%` }} />
      <span class="meter-label">{pct.toFixed(0)}%</span>
    </div>
  );
}

// A modal dialog: focus stays inside, Escape closes it, the page behind is inert.
export function Modal(props: { title: string; onClose: () => void; children: ComponentChildren; wide?: boolean }) {
  const ref = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    const d = ref.current;
    if (d && !d.open) d.showModal();
    const closed = () => props.onClose();
    d?.addEventListener('close', closed);
    return () => d?.removeEventListener('close', closed);
  }, []);
  return (
    <dialog ref={ref} class={props.wide ? 'wide' : ''} aria-label={props.title}>
      <header class="dialog-head">
        <h2>{props.title}</h2>
        <button class="link" onClick={() => ref.current?.close()} aria-label="Close">
          ×
        </button>
      </header>
      <div class="dialog-body">{props.children}</div>
    </dialog>
  );
}

async function copyText(text: string): Promise<boolean> {
  try {
    if (navigator.clipboard && window.isSecureContext) {
      await navigator.clipboard.writeText(text);
      return true;
    }
  } catch {
    // fall through to the selection copy
  }
  const area = document.createElement('textarea');
  area.value = text;
  area.setAttribute('readonly', '');
  area.className = 'offscreen';
  document.body.appendChild(area);
  area.select();
  const ok = document.execCommand('copy');
  area.remove();
  return ok;
}

export function CopyButton({ text, label = 'Copy' }: { text: string; label?: string }) {
  const [state, setState] = useState<'idle' | 'copied' | 'failed'>('idle');
  return (
    <button
      type="button"
      onClick={async () => {
        setState((await copyText(text)) ? 'copied' : 'failed');
        window.setTimeout(() => setState('idle'), 2000);
      }}
    >
      {state === 'copied' ? 'Copied' : state === 'failed' ? 'Select and copy by hand' : label}
    </button>
  );
}

// A labelled control: the label names the control alone (its hint describes it), so screen
// readers and tests find "API key" and not "API key Stored encrypted…".
export function Field(props: { label: string; hint?: string; children: ComponentChildren; wide?: boolean }) {
  const id = useId();
  const hintId = `${id}-hint`;
  const control = isValidElement(props.children)
    ? cloneElement(props.children as VNode<Record<string, unknown>>, { id, 'aria-describedby': props.hint ? hintId : undefined })
    : props.children;
  return (
    <div class={props.wide ? 'field wide' : 'field'}>
      <label class="field-label" for={id}>
        {props.label}
      </label>
      {control}
      {props.hint && (
        <span class="field-hint" id={hintId}>
          {props.hint}
        </span>
      )}
    </div>
  );
}

export function Tile(props: { label: string; value: string; detail?: string; tone?: 'good' | 'warn' | 'bad' }) {
  return (
    <div class={`tile ${props.tone ?? ''}`}>
      <div class="tile-label">{props.label}</div>
      <div class="tile-value">{props.value}</div>
      {props.detail && <div class="tile-detail">{props.detail}</div>}
    </div>
  );
}

export function Badge({ tone, children }: { tone: 'good' | 'warn' | 'bad' | 'muted'; children: ComponentChildren }) {
  return <span class={`badge ${tone}`}>{children}</span>;
}

// Runs `load` now and every `everyMs` while the page shows; keeps the last good value.
export function usePolling<T>(load: (signal: AbortSignal) => Promise<T>, everyMs: number, deps: unknown[] = []) {
  const [data, setData] = useState<T | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [tick, setTick] = useState(0);
  useEffect(() => {
    const ctl = new AbortController();
    let timer = 0;
    const run = async () => {
      try {
        setData(await load(ctl.signal));
        setError(null);
      } catch (e) {
        if (!ctl.signal.aborted) setError(e);
      }
      if (!ctl.signal.aborted && everyMs > 0) timer = window.setTimeout(run, everyMs);
    };
    run();
    return () => {
      ctl.abort();
      window.clearTimeout(timer);
    };
  }, [...deps, tick]);
  return { data, error, reload: () => setTick((t) => t + 1) };
}

export type InputEvent = JSX.TargetedEvent<HTMLInputElement | HTMLSelectElement | HTMLTextAreaElement, Event>;
export const valueOf = (e: InputEvent) => e.currentTarget.value;

export type Column = string | { label: string; hidden: boolean };

// A table with its header row; a hidden column is named for screen readers only.
export function Table(props: { columns: Column[]; class?: string; children: ComponentChildren }) {
  return (
    <div class="table-wrap">
      <table class={props.class}>
        <thead>
          <tr>
            {props.columns.map((c) =>
              typeof c === 'string' ? (
                <th scope="col">{c}</th>
              ) : (
                <th scope="col">
                  <span class={c.hidden ? 'offscreen' : ''}>{c.label}</span>
                </th>
              ),
            )}
          </tr>
        </thead>
        <tbody>{props.children}</tbody>
      </table>
    </div>
  );
}

// The Cancel and submit buttons that end every form; the submit one says what is going on.
export function FormActions(props: { busy: boolean; busyLabel?: string; label: string; onCancel: () => void }) {
  return (
    <div class="actions">
      <button type="button" onClick={props.onCancel}>
        Cancel
      </button>
      <button class="primary" type="submit" disabled={props.busy}>
        {props.busy ? (props.busyLabel ?? 'Saving…') : props.label}
      </button>
    </div>
  );
}

// Which dialog a page shows. Each change gives the dialogs a new key, so a dialog reopened in
// the same moment it was closed (Escape, then Enter on its button) is a new, open one rather
// than the closed <dialog> element kept by the render.
export function useDialog<T>(none: T) {
  const [state, setState] = useState<{ dialog: T; seq: number }>({ dialog: none, seq: 0 });
  const set = (dialog: T) => setState((s) => ({ dialog, seq: s.seq + 1 }));
  return [state.dialog, set, state.seq] as const;
}
