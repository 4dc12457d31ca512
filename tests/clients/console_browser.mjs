// The web console in a real browser (Debian's Chromium, headless, driven by playwright-core),
// as an admin and a key holder use it. Run by tests/integration/console_browser_test.cpp with:
//   CRS_URL             the relay, e.g. http://127.0.0.1:3000
//   CRS_ADMIN_USERNAME  CRS_ADMIN_PASSWORD   the admin login
//   CRS_UPSTREAM_URL    the fake upstream, for the Console account added here
//   CRS_ACCOUNT_KEY     the API key that account is given (it must never be shown again)
//   CRS_SECRETS         comma-separated values no page may ever show (JWT secret, ...)
//   CRS_ARTIFACTS       where screenshots and the downloaded files go
//   CHROMIUM            the browser (default /usr/bin/chromium)
// Prints one JSON line {"ok":bool,"steps":[…],"failed":…} and exits 1 on the first failure.
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const base = process.env.CRS_URL;
const username = process.env.CRS_ADMIN_USERNAME;
const password = process.env.CRS_ADMIN_PASSWORD;
const artifacts = process.env.CRS_ARTIFACTS ?? 'console-artifacts';
const upstream = process.env.CRS_UPSTREAM_URL;
const accountKey = process.env.CRS_ACCOUNT_KEY;
const secrets = (process.env.CRS_SECRETS ?? '').split(',').filter(Boolean).concat(accountKey ? [accountKey] : []);
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

// No secret in what the page shows (its whole document, dialogs included).
async function noSecrets(page, where) {
  const html = await page.content();
  for (const secret of secrets) check(!html.includes(secret), `a secret is shown on ${where}`);
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
  // The OAuth sign-in page the admin opens on purpose is the only other address expected.
  const signIn = process.env.CRS_AUTHORIZE_URL ?? 'https://claude.ai/oauth/authorize';
  context.on('request', (r) => {
    const url = r.url();
    if (!url.startsWith(base) && !url.startsWith('data:') && !url.startsWith('blob:') && !url.startsWith(signIn)) outside.push(url);
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

  await step('log in with the keyboard alone', async () => {
    await page.getByLabel('Username').focus();
    await page.keyboard.press('Tab');
    check((await page.evaluate(() => document.activeElement?.getAttribute('name'))) === 'password', 'Tab does not reach the password');
    await page.keyboard.press('Control+A');
    await page.keyboard.type(password);
    await page.keyboard.press('Enter');
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
    // Dialogs are the browser's own: Escape closes them, focus stays inside while open.
    await page.getByRole('button', { name: 'Create key' }).click();
    const form = page.getByRole('dialog', { name: 'Create an API key' });
    await form.waitFor({ timeout });
    check(await form.evaluate((d) => d.contains(document.activeElement)), 'focus is not in the dialog');
    await page.keyboard.press('Escape');
    await form.waitFor({ state: 'hidden', timeout });
    await page.getByRole('button', { name: 'Create key' }).focus();
    await page.keyboard.press('Enter');
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

  await step('batch-create keys and see each secret once', async () => {
    await page.getByRole('button', { name: 'Batch create…' }).click();
    const form = page.getByRole('dialog', { name: 'Create keys in a batch' });
    await form.getByLabel('Base name').fill('team');
    await form.getByLabel('How many').fill('25');
    await form.getByLabel('Total cost (USD)').fill('12.5');
    await form.getByRole('button', { name: 'Create' }).click();
    const shown = page.getByRole('dialog', { name: '25 new API keys' });
    await shown.waitFor({ timeout });
    const secretsShown = (await shown.getByLabel('The new API keys').inputValue()).trim().split('\n');
    check(secretsShown.length === 25 && secretsShown.every((l) => /^team_\d+\tcr_[0-9a-f]{64}$/.test(l)), `batch: ${secretsShown.slice(0, 2)}`);
    await shown.getByRole('button', { name: 'I have saved it' }).click();
    await page.getByText('26 keys').waitFor({ timeout });
    // Found by the server-side search, not by the page.
    await page.getByLabel('Search keys').fill('team_17');
    await page.locator('tr', { hasText: 'team_17' }).waitFor({ timeout });
    await until('only team_17 listed', async () => (await page.locator('tbody tr').count()) === 1);
    check((await page.locator('tbody tr').textContent()).includes('$12.50 total'), 'the batch limits are not on the key');
    // 20 to a page, newest first: the first key is on page 2 now.
    await page.getByLabel('Search keys').fill('');
    await page.getByText('Page 1 of 2 · 26 keys').waitFor({ timeout });
    await page.getByRole('button', { name: 'Next' }).click();
    await page.getByText('Page 2 of 2 · 26 keys').waitFor({ timeout });
    found.keyId = await page.locator('tr', { hasText: 'browser-key' }).getAttribute('data-key-id', { timeout });
  });

  await step('add a Console account pointing at the fake upstream, and test it', async () => {
    await page.getByRole('link', { name: 'Accounts' }).click();
    await page.getByRole('heading', { name: 'Accounts' }).waitFor({ timeout });
    await page.getByRole('button', { name: 'Add account' }).click();
    const form = page.getByRole('dialog', { name: 'Add an account' });
    await form.getByLabel('Name', { exact: true }).fill('fake-console');
    await form.getByLabel('Base URL').fill(upstream);
    await form.getByLabel('API key', { exact: true }).fill(accountKey);
    await form.getByLabel('Concurrent requests').fill('4');
    await form.getByRole('button', { name: 'Add account' }).click();
    const row = page.locator('tr', { hasText: 'fake-console' });
    await row.waitFor({ timeout });
    const text = await row.textContent();
    check(text.includes('active') && text.includes('Claude Console'), `row: ${text}`);
    await noSecrets(page, 'the accounts page');
    await row.getByRole('button', { name: 'Test' }).click();
    const probe = page.getByRole('dialog', { name: 'Test fake-console' });
    await probe.getByText('reachable').waitFor({ timeout });
    await shot(page, 'account-test');
    await probe.getByRole('button', { name: 'Close' }).first().click();
    // A group, and the account put in it.
    await page.getByLabel('New group name').fill('team-a');
    await page.getByRole('button', { name: 'Add group' }).click();
    await page.getByText('group:').first().waitFor({ timeout });
    await row.getByRole('button', { name: 'Edit' }).click();
    const editing = page.getByRole('dialog', { name: 'Edit fake-console' });
    await editing.getByLabel('team-a').check();
    await editing.getByLabel('Weight').fill('2');
    await editing.getByRole('button', { name: 'Save' }).click();
    await until('the account in its group', async () => (await row.textContent()).includes('team-a') && (await row.textContent()).includes('weight 2'));
  });

  await step('sign in a Claude subscription account through OAuth', async () => {
    await page.getByRole('button', { name: 'Add account' }).click();
    const form = page.getByRole('dialog', { name: 'Add an account' });
    await form.getByLabel('Kind').selectOption('claude-oauth');
    await form.getByLabel('Name', { exact: true }).fill('max-browser');
    await form.getByLabel('Plan').selectOption('max5');
    const [popup] = await Promise.all([page.waitForEvent('popup'), form.getByRole('button', { name: 'Open the sign-in page' }).click()]);
    await popup.waitForURL(/\/oauth\/authorize/, { timeout, waitUntil: 'commit' });
    const authorize = new URL(popup.url());
    await popup.close();
    const state = authorize.searchParams.get('state');
    check(state && authorize.searchParams.get('code_challenge_method') === 'S256', `authorize URL: ${authorize}`);
    await form.getByLabel('Code or address').fill(`AbC123def456GhI789#${state}`);
    await shot(page, 'account-oauth');
    await form.getByRole('button', { name: 'Finish sign-in' }).click();
    const row = page.locator('tr', { hasText: 'max-browser' });
    await row.waitFor({ timeout });
    check((await row.textContent()).includes('Claude subscription (max5)'), `row: ${await row.textContent()}`);
    const html = await page.content();
    check(!html.includes('sk-ant-oat01-fake-access') && !html.includes('sk-ant-ort01-fake'), 'an OAuth token is shown');
    await shot(page, 'accounts');
  });

  await step('add an AWS Bedrock account with access keys; its secret is never shown', async () => {
    const awsSecret = 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYBROWSERKEY';
    await page.getByRole('button', { name: 'Add account' }).click();
    const form = page.getByRole('dialog', { name: 'Add an account' });
    await form.getByLabel('Kind').selectOption('bedrock');
    await form.getByLabel('Name', { exact: true }).fill('aws-browser');
    await form.getByLabel('Region').fill('eu-west-1');
    await form.getByLabel('Access key id').fill('AKIABROWSERTEST00001');
    await form.getByLabel('Secret access key').fill(awsSecret);
    await form.getByRole('button', { name: 'Add account' }).click();
    const row = page.locator('tr', { hasText: 'aws-browser' });
    await row.waitFor({ timeout });
    const text = await row.textContent();
    check(text.includes('AWS Bedrock (eu-west-1)') && text.includes('AWS key'), `row: ${text}`);
    check(!(await page.content()).includes(awsSecret), 'the AWS secret is shown');
    // Disabled: the rest of this test relays through the fake upstream's Console account.
    await row.getByRole('button', { name: 'Disable' }).click();
    await until('the Bedrock account disabled', async () => (await row.textContent()).includes('Enable'));
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
    await noSecrets(page, 'the dashboard');
    await shot(page, 'dashboard');
  });

  await step('the key list shows its usage', async () => {
    await page.getByRole('link', { name: 'API keys' }).click();
    await page.getByLabel('Search keys').fill('browser-key');
    const row = page.locator('tr', { hasText: 'browser-key' });
    await until('1 request on the key', async () => (await row.textContent())?.includes('1 req'));
    await noSecrets(page, 'the key list');
    await shot(page, 'keys');
  });

  await step('the usage page counts it and downloads a CSV', async () => {
    await page.getByRole('link', { name: 'Usage' }).click();
    await page.getByRole('heading', { name: 'Usage' }).waitFor({ timeout });
    await until('1 request in the range', async () => (await tileValue(page, 'Requests')) === '1');
    await page.getByRole('cell', { name: 'claude-sonnet-4-5-20250929' }).waitFor({ timeout });
    await page.locator('.chart canvas').first().waitFor({ timeout });
    await shot(page, 'usage');
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Download CSV' }).click()]);
    const saved = join(artifacts, 'usage.csv');
    await download.saveAs(saved);
    const lines = readFileSync(saved, 'utf8').trim().split(/\r?\n/);
    check(lines[0].startsWith('period,requests,'), `CSV header: ${lines[0]}`);
    const total = lines.slice(1).reduce((n, l) => n + Number(l.split(',')[1]), 0);
    check(total === 1, `CSV requests: ${total} in ${lines.join(' | ')}`);
    // One key's usage.
    await page.getByLabel('Of', { exact: true }).selectOption('key');
    await page.getByLabel('Find a key').fill('browser');
    await page.getByLabel('API key', { exact: true }).selectOption({ label: 'browser-key' });
    await until('the key alone', async () => (await tileValue(page, 'Requests')) === '1');
  });

  await step('switch the strategy and see the decision', async () => {
    await page.getByRole('link', { name: 'Load balancing' }).click();
    await page.getByRole('heading', { name: 'Load balancing' }).waitFor({ timeout });
    await page.getByLabel('Strategy of the whole pool').selectOption('least_recent');
    await page.getByText('The pool now uses least_recent.').waitFor({ timeout });
    await page.getByLabel('Strategy of group team-a').selectOption('lowest_cost');
    await page.getByText('The group now uses lowest_cost.').waitFor({ timeout });
    const decisions = page.locator('table.decisions');
    await decisions.waitFor({ timeout });
    await until('the relayed request in the decisions', async () => (await decisions.textContent()).includes('balanced'));
    await shot(page, 'balancing');
  });

  await step('settings show the configuration with secrets masked, and an alert test', async () => {
    await page.getByRole('link', { name: 'Settings' }).click();
    await page.getByRole('heading', { name: 'Settings' }).waitFor({ timeout });
    const table = page.locator('table.config');
    await table.waitFor({ timeout });
    check((await table.textContent()).includes('security.jwtSecret'), 'no jwtSecret row');
    await noSecrets(page, 'the settings page');
    await page.getByRole('button', { name: 'Send a test' }).first().click();
    await page.getByText('delivered').waitFor({ timeout: 30000 });
    await shot(page, 'settings');
  });

  await step('export the keys with progress and download the file', async () => {
    await page.getByRole('link', { name: 'API keys' }).click();
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
    const rows = csv.trim().split(/\r?\n/).length - 1;
    check(rows === 26, `the export has ${rows} keys`);
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
    // A shared link with the key's id shows the summary only.
    await holder.goto(`/admin-next/api-stats?apiId=${found.keyId}`);
    await holder.getByRole('heading', { name: 'browser-key' }).waitFor({ timeout });
    await holder.getByText('This shared link shows the summary').waitFor({ timeout });
    check((await holder.getByRole('heading', { name: 'By model' }).count()) === 0, 'a shared link shows usage by model');
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
    await page.locator('tr', { hasText: 'team_1' }).first().waitFor({ timeout });
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
  // What the page showed when it failed, for whoever reads the artifacts.
  for (const [i, p] of browser.contexts().flatMap((c) => c.pages()).entries())
    await p.screenshot({ path: join(artifacts, `failure-${i}.png`), fullPage: true }).catch(() => {});
} finally {
  await browser.close();
}
console.log(JSON.stringify({ ok, failed, steps, outside, pageErrors }));
process.exit(ok ? 0 : 1);
