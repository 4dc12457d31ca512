// The console's key list over 10,000 keys in headless Chromium: the relay pages, searches and
// sorts, so the page holds 20 rows whatever the total. Run by console_browser_test.cpp with
// CRS_URL, CRS_ADMIN_USERNAME, CRS_ADMIN_PASSWORD, CRS_KEY_COUNT, CHROMIUM. Prints one JSON line
// with how long each step took as the browser saw it (reported, not judged: timings belong to
// benchmarks), and exits 1 if a step's result is wrong.
import { chromium } from 'playwright-core';

const base = process.env.CRS_URL;
const total = Number(process.env.CRS_KEY_COUNT);
const timeout = 30000;
const timings = {};
let failed = null;

function check(condition, message) {
  if (!condition) throw new Error(message);
}

// Runs `action`, then waits until `done()` holds; records the time in ms under `name`.
async function timed(name, action, done) {
  const started = performance.now();
  await action();
  const end = Date.now() + timeout;
  while (!(await done())) {
    if (Date.now() > end) throw new Error(`${name}: timed out`);
    await new Promise((r) => setTimeout(r, 10));
  }
  timings[name] = Math.round(performance.now() - started);
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
});
try {
  const page = await browser.newPage({ baseURL: base });
  await page.goto('/admin-next/');
  await page.getByLabel('Username').fill(process.env.CRS_ADMIN_USERNAME);
  await page.getByLabel('Password').fill(process.env.CRS_ADMIN_PASSWORD);
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.getByRole('heading', { name: 'Dashboard' }).waitFor({ timeout });
  const pager = page.locator('.pager span');
  const rows = page.locator('tbody tr');
  const pagerText = async () => ((await pager.count()) ? await pager.textContent() : '');

  await timed(
    'firstPage',
    () => page.getByRole('link', { name: 'API keys' }).click(),
    async () => (await pagerText()).includes(`${total.toLocaleString('en-US')} keys`),
  );
  check((await rows.count()) === 20, `rows on a page: ${await rows.count()}`);

  await timed(
    'search',
    () => page.getByLabel('Search keys').fill('key 9876,'),
    async () => (await rows.count()) === 1 && (await rows.first().textContent()).includes('key 9876,'),
  );
  await timed(
    'clearSearch',
    () => page.getByLabel('Search keys').fill(''),
    async () => (await pagerText()).includes(`${total.toLocaleString('en-US')} keys`),
  );
  await timed(
    'sortByName',
    () => page.getByLabel('Sort').selectOption('name:asc'),
    async () => (await rows.count()) === 20 && (await rows.first().textContent()).includes('key 0,'),
  );
  await timed(
    'filterDisabled',
    () => page.getByLabel('Status').selectOption('false'),
    async () => (await pagerText()).endsWith('· 0 keys'),
  );
  await page.getByLabel('Status').selectOption('');
  await page.getByText(`${total.toLocaleString('en-US')} keys`).waitFor({ timeout });
  await timed(
    'nextPage',
    () => page.getByRole('button', { name: 'Next' }).click(),
    async () => (await pagerText()).startsWith('Page 2 of'),
  );
  const nodes = await page.evaluate(() => document.getElementsByTagName('*').length);
  timings.domNodes = nodes;
} catch (e) {
  failed = String(e?.message ?? e);
} finally {
  await browser.close();
}
console.log(JSON.stringify({ ok: !failed, failed, timings }));
process.exit(failed ? 1 : 0);
