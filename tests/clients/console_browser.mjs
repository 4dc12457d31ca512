// The web console in a real browser (Debian's Chromium, headless, driven by playwright-core),
// as an admin and a key holder use it. Run by tests/integration/console_browser_test.cpp with:
//   CRS_URL             the relay, e.g. http://127.0.0.1:3000
//   CRS_ADMIN_USERNAME  CRS_ADMIN_PASSWORD   the admin login
//   CRS_ARTIFACTS       where screenshots and the downloaded export go
//   CHROMIUM            the browser (default /usr/bin/chromium)
// Prints one JSON line {"ok":bool,"steps":[…],"failed":…} and exits 1 on the first failure.
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const base = process.env.CRS_URL;
const username = process.env.CRS_ADMIN_USERNAME;
const password = process.env.CRS_ADMIN_PASSWORD;
const artifacts = process.env.CRS_ARTIFACTS ?? 'console-artifacts';
mkdirSync(artifacts, { recursive: true });

const steps = [];
const outside = []; // requests that left the relay's origin
const pageErrors = [];
const timeout = 15000;

function check(condition, message) {
  if (!condition) throw new Error(message);
}

async function step(name, run) {
  const started = Date.now();
  try {
    await run();
    steps.push({ name, ms: Date.now() - started });
  } catch (e) {
    steps.push({ name, ms: Date.now() - started, error: String(e?.message ?? e) });
    throw new Error(`${name}: ${e?.message ?? e}`);
  }
}

// Until `read()` returns something truthy (the page updates on its own schedule).
async function until(what, read, ms = timeout) {
  const end = Date.now() + ms;
  let last;
  while (Date.now() < end) {
    last = await read();
    if (last) return last;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what} (last: ${JSON.stringify(last)})`);
}

function watch(page) {
  page.on('pageerror', (e) => pageErrors.push(`${page.url()}: ${e.message}`));
  page.on('console', (m) => {
    // A 401 or 403 the page expects (the session check, a wrong password) is logged by Chrome itself.
    if (m.type() === 'error' && !m.text().startsWith('Failed to load resource')) pageErrors.push(`${page.url()}: ${m.text()}`);
  });
}

// What the CSP refused on the page so far (a listener added before any script runs).
async function cspViolations(page) {
  return page.evaluate(() => window.__cspViolations ?? []);
}

async function shot(page, name) {
  await page.screenshot({ path: join(artifacts, `${name}.png`), fullPage: true });
}

async function tileValue(page, label) {
  const tile = page.locator('.tile', { has: page.locator('.tile-label', { hasText: label }) });
  return (await tile.locator('.tile-value').textContent())?.trim();
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
});
let ok = false;
let failed = null;
const found = {};
try {
  const context = await browser.newContext({ baseURL: base, acceptDownloads: true, viewport: { width: 1280, height: 860 } });
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: base });
  await context.addInitScript(() => {
    window.__cspViolations = [];
    document.addEventListener('securitypolicyviolation', (e) =>
      window.__cspViolations.push(`${e.violatedDirective} ${e.blockedURI}`),
    );
  });
  context.on('request', (r) => {
    if (!r.url().startsWith(base) && !r.url().startsWith('data:') && !r.url().startsWith('blob:')) outside.push(r.url());
  });
  const page = await context.newPage();
  watch(page);

  await step('the console is served with a strict CSP', async () => {
    const res = await page.goto('/admin-next/');
    check(res.status() === 200, `status ${res.status()}`);
    const csp = res.headers()['content-security-policy'] ?? '';
    check(csp.includes("script-src 'self'") && !csp.includes('unsafe-inline') && csp.includes("frame-ancestors 'none'"), `CSP: ${csp}`);
    await page.getByLabel('Username').waitFor({ timeout });
    await shot(page, 'login');
  });

  await step('a wrong password is told in words', async () => {
    await page.getByLabel('Username').fill(username);
    await page.getByLabel('Password').fill('not-the-password');
    await page.getByRole('button', { name: 'Log in' }).click();
    const alert = page.getByRole('alert');
    await alert.waitFor({ timeout });
    const text = await alert.textContent();
    check(text.includes('Invalid username or password') && !text.includes('{'), `error shown: ${text}`);
  });

  await step('log in', async () => {
    await page.getByLabel('Password').fill(password);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByRole('heading', { name: 'Dashboard' }).waitFor({ timeout });
    const cookies = await context.cookies();
    const session = cookies.find((c) => c.name === 'crs_admin_session');
    check(session, 'no session cookie');
    check(session.httpOnly && session.sameSite === 'Strict', `cookie flags: ${JSON.stringify({ ...session, value: '…' })}`);
    const stored = await page.evaluate(() => JSON.stringify({ ...localStorage }) + JSON.stringify({ ...sessionStorage }));
    check(!stored.includes(session.value), 'the token is in web storage');
    check((await page.evaluate(() => document.cookie)).indexOf('crs_admin_session') < 0, 'the page script can read the cookie');
    found.cookie = session.value;
  });

  await step('create a key with limits and copy it', async () => {
    await page.getByRole('link', { name: 'API keys' }).click();
    await page.getByRole('heading', { name: 'API keys' }).waitFor({ timeout });
    await page.getByRole('button', { name: 'Create key' }).click();
    const form = page.getByRole('dialog', { name: 'Create an API key' });
    await form.waitFor({ timeout });
    await form.getByLabel('Name', { exact: true }).fill('browser-key');
    await form.getByLabel('Concurrent requests').fill('3');
    await form.getByLabel('Rate window (minutes)').fill('60');
    await form.getByLabel('Requests per window').fill('100');
    await form.getByLabel('Daily cost (USD)').fill('5');
    await shot(page, 'key-create');
    await form.getByRole('button', { name: 'Create' }).click();
    const shown = page.getByRole('dialog', { name: 'Your new API key' });
    await shown.waitFor({ timeout });
    const key = await shown.getByLabel('The new API key').inputValue();
    check(/^cr_[0-9a-f]{64}$/.test(key), `key shown: ${key}`);
    await shown.getByRole('button', { name: 'Copy' }).click();
    await shown.getByRole('button', { name: 'Copied' }).waitFor({ timeout });
    const copied = await page.evaluate(() => navigator.clipboard.readText());
    check(copied === key, 'the clipboard does not hold the key');
    await shot(page, 'key-created');
    await shown.getByRole('button', { name: 'I have saved it' }).click();
    const row = page.locator('tr', { hasText: 'browser-key' });
    await row.waitFor({ timeout });
    const text = await row.textContent();
    check(text.includes('100 req/60 min') && text.includes('3 at once') && text.includes('$5.00/day'), `row: ${text}`);
    check(!(await page.content()).includes(key), 'the key is still on the page after the dialog closed');
    found.key = key;
  });

  await step('a relayed request with the key', async () => {
    const res = await fetch(`${base}/api/v1/messages`, {
      method: 'POST',
      headers: { 'x-api-key': found.key, 'content-type': 'application/json', 'anthropic-version': '2023-06-01' },
      body: JSON.stringify({ model: 'claude-sonnet-4-5-20250929', max_tokens: 20, messages: [{ role: 'user', content: 'hi' }] }),
    });
    const body = await res.json();
    check(res.status === 200 && body.type === 'message', `relay answered ${res.status}: ${JSON.stringify(body)}`);
  });

  await step('the dashboard counts it', async () => {
    await page.getByRole('link', { name: 'Dashboard' }).click();
    await until('the request on the dashboard', async () => {
      await page.reload();
      await page.getByRole('heading', { name: 'Dashboard' }).waitFor({ timeout });
      await page.locator('.tile').first().waitFor({ timeout });
      return (await tileValue(page, 'Requests today')) === '1';
    });
    await page.locator('.chart canvas').first().waitFor({ timeout });
    await page.locator('tr', { hasText: 'fake-console' }).waitFor({ timeout });
    await shot(page, 'dashboard');
  });

  await step('the key list shows its usage', async () => {
    await page.getByRole('link', { name: 'API keys' }).click();
    const row = page.locator('tr', { hasText: 'browser-key' });
    await until('1 request on the key', async () => (await row.textContent())?.includes('1 req'));
    await shot(page, 'keys');
  });

  await step('export the keys with progress and download the file', async () => {
    await page.getByRole('button', { name: 'Export…' }).click();
    const dialog = page.getByRole('dialog', { name: 'Export API keys' });
    await dialog.getByLabel('Format').selectOption('csv');
    await dialog.getByRole('button', { name: 'Start the export' }).click();
    await dialog.getByRole('progressbar').waitFor({ timeout });
    const link = dialog.getByRole('link', { name: 'Download CSV' });
    await link.waitFor({ timeout: 30000 });
    const label = await dialog.getByRole('progressbar').getAttribute('aria-valuenow');
    check(label === '100', `progress at the end: ${label}`);
    await shot(page, 'export');
    const [download] = await Promise.all([page.waitForEvent('download'), link.click()]);
    const saved = join(artifacts, 'keys-export.csv');
    await download.saveAs(saved);
    const csv = readFileSync(saved, 'utf8');
    check(csv.includes('browser-key') && !csv.includes(found.key), `export: ${csv.slice(0, 300)}`);
    await dialog.getByRole('button', { name: 'Close' }).click();
  });

  await step('the key holder sees the request counted', async () => {
    const holder = await context.newPage();
    watch(holder);
    await holder.goto('/admin-next/api-stats');
    await holder.getByLabel('Your API key').fill(found.key);
    await holder.getByRole('button', { name: 'Show my usage' }).click();
    await holder.getByRole('heading', { name: 'browser-key' }).waitFor({ timeout });
    check((await tileValue(holder, 'Requests')) === '1', `requests: ${await tileValue(holder, 'Requests')}`);
    const limits = await holder.locator('table').first().textContent();
    check(limits.includes('Cost today') && limits.includes('Requests per 60 min'), `limits: ${limits}`);
    await holder.getByRole('cell', { name: 'claude-sonnet-4-5-20250929' }).waitFor({ timeout });
    check(!holder.url().includes('cr_'), 'the key is in the address');
    const stored = await holder.evaluate(() => JSON.stringify({ ...localStorage }) + JSON.stringify({ ...sessionStorage }));
    check(!stored.includes(found.key), 'the key is in web storage');
    await shot(holder, 'api-stats');
    check((await cspViolations(holder)).length === 0, `CSP violations: ${await cspViolations(holder)}`);
    await holder.close();
  });

  await step('dark theme and a phone', async () => {
    await page.getByRole('button', { name: /^Theme:/ }).click(); // system -> dark
    await page.getByRole('link', { name: 'Dashboard' }).click();
    await page.getByRole('heading', { name: 'Dashboard' }).waitFor({ timeout });
    await page.locator('.chart canvas').first().waitFor({ timeout });
    check((await page.evaluate(() => document.documentElement.dataset.theme)) === 'dark', 'the theme did not switch');
    await shot(page, 'dashboard-dark');
    await page.setViewportSize({ width: 390, height: 844 });
    await page.getByRole('button', { name: 'Menu' }).click();
    await page.getByRole('link', { name: 'API keys' }).click();
    await page.locator('tr', { hasText: 'browser-key' }).waitFor({ timeout });
    await shot(page, 'keys-phone');
    await page.setViewportSize({ width: 1280, height: 860 });
    await page.getByRole('button', { name: /^Theme:/ }).click(); // dark -> light
  });

  await step('nothing broke the CSP and nothing came from outside', async () => {
    check((await cspViolations(page)).length === 0, `CSP violations: ${await cspViolations(page)}`);
    check(outside.length === 0, `requests outside the relay: ${outside.join(', ')}`);
    check(pageErrors.length === 0, `page errors: ${pageErrors.join(' | ')}`);
  });

  await step('log out, and the session is refused', async () => {
    await page.getByRole('button', { name: 'Log out' }).click();
    await page.getByLabel('Username').waitFor({ timeout });
    const status = await page.evaluate(async () => (await fetch('/admin/api-keys')).status);
    check(status === 401, `after logout the page got ${status}`);
    // The old cookie, replayed from elsewhere, opens nothing either.
    const replayed = await fetch(`${base}/admin/api-keys`, { headers: { cookie: `crs_admin_session=${found.cookie}` } });
    check(replayed.status === 401, `a replayed cookie got ${replayed.status}`);
    await page.goto('/admin-next/keys');
    await page.getByLabel('Username').waitFor({ timeout });
  });
  ok = true;
} catch (e) {
  failed = String(e?.message ?? e);
} finally {
  await browser.close();
}
console.log(JSON.stringify({ ok, failed, steps, outside, pageErrors }));
process.exit(ok ? 0 : 1);
