// Every call the console makes to the relay. The admin session is an HttpOnly cookie the
// browser sends itself: no token is ever held by the page. Failures become ApiError with a
// sentence a person can read (the relay's {"error","message"} or the Anthropic error shape).

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly title: string,
    message: string,
  ) {
    super(message);
  }
}

let onSessionLost: () => void = () => {};

// Called when an admin call answers 401: the session ended (logout elsewhere, expiry).
export function whenSessionLost(handler: () => void) {
  onSessionLost = handler;
}

type Method = 'GET' | 'POST' | 'PUT' | 'DELETE' | 'PATCH';

interface Options {
  method?: Method;
  body?: unknown;
  signal?: AbortSignal;
  quietAuth?: boolean; // a 401 is expected (the login check): do not report a lost session
}

function describe(status: number, payload: unknown): ApiError {
  if (payload && typeof payload === 'object') {
    const p = payload as Record<string, unknown>;
    const nested = p.error && typeof p.error === 'object' ? (p.error as Record<string, unknown>) : undefined;
    const title = typeof p.error === 'string' ? p.error : typeof nested?.type === 'string' ? nested.type : '';
    const message = typeof p.message === 'string' ? p.message : typeof nested?.message === 'string' ? nested.message : '';
    if (message || title) return new ApiError(status, title || `HTTP ${status}`, message || title);
  }
  if (status === 0) return new ApiError(0, 'Network error', 'The relay could not be reached. Is it running?');
  return new ApiError(status, `HTTP ${status}`, `The relay answered ${status} without an explanation.`);
}

async function call(path: string, opts: Options): Promise<unknown> {
  let res: Response;
  try {
    res = await fetch(path, {
      method: opts.method ?? 'GET',
      headers:
        opts.body === undefined ? { Accept: 'application/json' } : { 'Content-Type': 'application/json', Accept: 'application/json' },
      body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
      credentials: 'same-origin',
      signal: opts.signal,
    });
  } catch (e) {
    if (e instanceof DOMException && e.name === 'AbortError') throw e;
    throw describe(0, null);
  }
  const text = await res.text();
  let payload: unknown = null;
  try {
    payload = text ? JSON.parse(text) : null;
  } catch {
    payload = null;
  }
  if (!res.ok) {
    if (res.status === 401 && !opts.quietAuth) onSessionLost();
    throw describe(res.status, payload);
  }
  return payload;
}

// An admin or key-holder call answering {"success":true,"data":…}: returns data.
export async function api<T>(path: string, opts: Options = {}): Promise<T> {
  const payload = (await call(path, opts)) as { data?: T } | null;
  return (payload && 'data' in payload ? payload.data : payload) as T;
}

// The same, keeping the whole answer (for routes that put fields beside "data").
export async function apiRaw<T>(path: string, opts: Options = {}): Promise<T> {
  return (await call(path, opts)) as T;
}

export function query(params: Record<string, string | number | boolean | undefined>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== '') q.set(k, String(v));
  const s = q.toString();
  return s ? `?${s}` : '';
}
