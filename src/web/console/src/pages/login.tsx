import { useState } from 'preact/hooks';
import { api } from '../api';
import { ErrorBanner, Field, Notice, valueOf } from '../components';

export function LoginPage(props: { notice?: string; onLogin: (username: string) => void }) {
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      // The session comes back as an HttpOnly cookie: the page never sees the token.
      const r = await api<{ username: string }>('/web/auth/login', {
        method: 'POST',
        body: { username, password, session: 'cookie' },
        quietAuth: true,
      });
      setPassword('');
      props.onLogin((r as unknown as { username: string }).username ?? username);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return (
    <main class="login">
      <form class="card login-card" onSubmit={submit}>
        <h1>Claude Relay Service</h1>
        <p class="muted">Administrator login</p>
        {props.notice && <Notice>{props.notice}</Notice>}
        <ErrorBanner error={error} />
        <Field label="Username">
          <input name="username" autocomplete="username" required value={username} onInput={(e) => setUsername(valueOf(e))} />
        </Field>
        <Field label="Password" hint="The first login is in data/init.json on the relay's machine.">
          <input
            name="password"
            type="password"
            autocomplete="current-password"
            required
            value={password}
            onInput={(e) => setPassword(valueOf(e))}
          />
        </Field>
        <button class="primary" type="submit" disabled={busy}>
          {busy ? 'Logging in…' : 'Log in'}
        </button>
      </form>
    </main>
  );
}
