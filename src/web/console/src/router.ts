// Client-side pages under /admin-next/ (the relay answers index.html for each of them).
import { useEffect, useState } from 'preact/hooks';

export const base = '/admin-next';

export interface Location {
  page: string; // '' is the dashboard
  params: URLSearchParams;
}

function read(): Location {
  const path = window.location.pathname.replace(/\/+$/, '');
  const rest = path.startsWith(base) ? path.slice(base.length).replace(/^\//, '') : '';
  return { page: rest.split('/')[0] ?? '', params: new URLSearchParams(window.location.search) };
}

const listeners = new Set<() => void>();
window.addEventListener('popstate', () => listeners.forEach((l) => l()));

export function navigate(page: string, replace = false) {
  const url = `${base}/${page}`;
  if (replace) window.history.replaceState(null, '', url);
  else window.history.pushState(null, '', url);
  listeners.forEach((l) => l());
}

export function useLocation(): Location {
  const [loc, setLoc] = useState(read);
  useEffect(() => {
    const update = () => setLoc(read());
    listeners.add(update);
    return () => {
      listeners.delete(update);
    };
  }, []);
  return loc;
}
