// The console's frame: the login gate, the navigation, and the page of the current URL.
// The key holders' page (/admin-next/api-stats) needs no admin login.
import { useEffect, useState } from 'preact/hooks';
import { api, whenSessionLost } from './api';
import { Spinner } from './components';
import { navigate, useLocation } from './router';
import { applyTheme, storedTheme, type Theme } from './theme';
import { LoginPage } from './pages/login';
import { DashboardPage } from './pages/dashboard';
import { KeysPage } from './pages/keys';
import { AccountsPage } from './pages/accounts';
import { BalancingPage } from './pages/balancing';
import { UsagePage } from './pages/usage';
import { SettingsPage } from './pages/settings';
import { ApiStatsPage } from './pages/api_stats';

interface Page {
  path: string;
  title: string;
  render: () => preact.JSX.Element;
}

const pages: Page[] = [
  { path: '', title: 'Dashboard', render: () => <DashboardPage /> },
  { path: 'keys', title: 'API keys', render: () => <KeysPage /> },
  { path: 'accounts', title: 'Accounts', render: () => <AccountsPage /> },
  { path: 'usage', title: 'Usage', render: () => <UsagePage /> },
  { path: 'balancing', title: 'Load balancing', render: () => <BalancingPage /> },
  { path: 'settings', title: 'Settings', render: () => <SettingsPage /> },
];

type Session = { state: 'checking' } | { state: 'out'; why?: string } | { state: 'in'; username: string };

export function App() {
  const loc = useLocation();
  if (loc.page === 'api-stats') return <ApiStatsPage />;
  return <AdminApp />;
}

function AdminApp() {
  const loc = useLocation();
  const [session, setSession] = useState<Session>({ state: 'checking' });
  useEffect(() => {
    whenSessionLost(() => setSession({ state: 'out', why: 'Your session ended. Log in again.' }));
    api<unknown>('/web/auth/user', { quietAuth: true })
      .then((r) => setSession({ state: 'in', username: (r as { user: { username: string } }).user.username }))
      .catch(() => setSession({ state: 'out' }));
  }, []);
  if (session.state === 'checking') return <Spinner label="Checking your session…" />;
  if (session.state === 'out') return <LoginPage notice={session.why} onLogin={(username) => setSession({ state: 'in', username })} />;
  const page = pages.find((p) => p.path === loc.page);
  return (
    <Shell username={session.username} current={loc.page} onLogout={() => setSession({ state: 'out', why: 'You are logged out.' })}>
      {page ? page.render() : <NotFound />}
    </Shell>
  );
}

function NotFound() {
  return (
    <section>
      <h1>Page not found</h1>
      <p>
        There is no such page in the console.{' '}
        <a href="/admin-next/" onClick={link('')}>
          Go to the dashboard
        </a>
        .
      </p>
    </section>
  );
}

// A link that changes page without reloading (and still works as a plain link).
export function link(page: string) {
  return (e: MouseEvent) => {
    if (e.ctrlKey || e.metaKey || e.shiftKey || e.button !== 0) return;
    e.preventDefault();
    navigate(page);
  };
}

function Shell(props: { username: string; current: string; onLogout: () => void; children: preact.ComponentChildren }) {
  const [menuOpen, setMenuOpen] = useState(false);
  const [theme, setTheme] = useState<Theme>(storedTheme());
  const [loggingOut, setLoggingOut] = useState(false);
  const title = pages.find((p) => p.path === props.current)?.title ?? 'Not found';
  useEffect(() => {
    document.title = `${title} · Claude Relay Service`;
    setMenuOpen(false);
  }, [props.current]);
  const logout = async () => {
    setLoggingOut(true);
    try {
      await api('/web/auth/logout', { method: 'POST' });
    } catch {
      // the session is gone either way
    }
    props.onLogout();
  };
  const nextTheme: Record<Theme, Theme> = { system: 'dark', dark: 'light', light: 'system' };
  return (
    <div class={menuOpen ? 'shell menu-open' : 'shell'}>
      <a class="skip" href="#main">
        Skip to content
      </a>
      <header class="topbar">
        <button class="menu-button" aria-expanded={menuOpen} aria-controls="nav" onClick={() => setMenuOpen(!menuOpen)}>
          Menu
        </button>
        <span class="brand">Claude Relay</span>
        <span class="spacer" />
        <button
          class="link"
          title="Switch between the system theme, dark and light"
          onClick={() => {
            const t = nextTheme[theme];
            applyTheme(t);
            setTheme(t);
          }}
        >
          Theme: {theme}
        </button>
        <span class="user" title="Logged in as">
          {props.username}
        </span>
        <button onClick={logout} disabled={loggingOut}>
          {loggingOut ? 'Logging out…' : 'Log out'}
        </button>
      </header>
      <nav id="nav" class="nav" aria-label="Console">
        {pages.map((p) => (
          <a href={`/admin-next/${p.path}`} onClick={link(p.path)} aria-current={p.path === props.current ? 'page' : undefined}>
            {p.title}
          </a>
        ))}
        <a href="/admin-next/api-stats" target="_blank" rel="noopener">
          Key holders' page ↗
        </a>
      </nav>
      <main id="main" tabIndex={-1}>
        {props.children}
      </main>
    </div>
  );
}
