// A real browser (headless Chromium, driven by puppeteer-core) on /playground: the page
// must load with every request on the server's origin, log in as the demo owner from
// "Start here", fill the schema explorer, run a query and receive a subscription event.
// Usage: node browser.mjs BASE_URL SCREENSHOT_PATH   (CHROMIUM: the browser, default
// /usr/bin/chromium). Prints READY once the subscription runs (the test then makes
// bookings), then {"ok": true, …}; exits 1 with the reason otherwise.
import puppeteer from 'puppeteer-core';

const [base, screenshot] = process.argv.slice(2);
const origin = new URL(base).origin;
const foreign = [];
const problems = [];

const browser = await puppeteer.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--no-first-run'],
});

async function editorValue(page, selector) {
  return page.$eval(selector, (el) => el.CodeMirror.getValue());
}

async function run(page, query) {
  await page.$eval('.graphiql-query-editor .CodeMirror', (el, q) => el.CodeMirror.setValue(q), query);
  // GraphiQL re-reads the operation name from the editor after a short debounce.
  await new Promise((r) => setTimeout(r, 600));
  await page.click('.graphiql-execute-button');
}

async function waitForResult(page, needle, timeout) {
  await page.waitForFunction(
    (n) => {
      const el = document.querySelector('.result-window .CodeMirror');
      return el && el.CodeMirror.getValue().includes(n);
    },
    { timeout },
    needle,
  );
  return editorValue(page, '.result-window .CodeMirror');
}

let page;
try {
  page = await browser.newPage();
  await page.setViewport({ width: 1400, height: 900 });
  await page.setRequestInterception(true);
  page.on('request', (r) => {
    const u = r.url();
    if (u.startsWith(origin) || u.startsWith('data:')) {
      r.continue();
    } else {
      foreign.push(u);
      r.abort();
    }
  });
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(m.text());
  });
  page.on('pageerror', (e) => problems.push(String(e)));

  await page.goto(`${base}/playground`, { waitUntil: 'networkidle0', timeout: 60000 });
  await page.waitForSelector('.graphiql-container', { timeout: 30000 });

  // Start here: the demo owner is filled in; log in.
  await page.click('#sg-log-in');
  await page.waitForFunction(
    () => document.querySelector('#sg-status')?.textContent.includes('Logged in as'),
    { timeout: 30000 },
  );
  // The Headers editor (the second of the editor tools, after Variables) holds the token.
  const tools = await page.$$eval('.graphiql-editor-tool .CodeMirror', (els) =>
    els.map((el) => el.CodeMirror.getValue()),
  );
  const headers = tools.map((t) => { try { return JSON.parse(t); } catch { return {}; } })
    .find((h) => h.Authorization);
  if (!headers || !headers.Authorization.startsWith('Bearer ')) {
    throw new Error(`no token in Headers: ${JSON.stringify(tools)}`);
  }

  // The schema explorer is filled from introspection.
  await page.click('[aria-label="Show Documentation Explorer"]');
  await page.waitForFunction(
    () => document.querySelector('.graphiql-doc-explorer')?.textContent.includes('Root Types'),
    { timeout: 30000 },
  );
  const docs = await page.$eval('.graphiql-doc-explorer', (el) => el.textContent);
  for (const t of ['query: Query', 'mutation: Mutation', 'subscription: Subscription']) {
    if (!docs.replace(/\s+/g, ' ').includes(t)) throw new Error(`schema explorer lacks "${t}"`);
  }

  // Saved operations are listed.
  await page.click('[aria-label="Show Saved operations"]');
  await page.waitForSelector('.sg-ops button[data-file="login.graphql"]', { timeout: 30000 });
  const saved = await page.$$eval('.sg-ops button', (b) => b.length);

  // A query.
  await run(page, 'query Me { me { user { email role } tenant { slug } } }');
  const result = await waitForResult(page, '"email"', 30000);
  if (!result.includes('owner@demo.servicegraph.dev')) throw new Error(`unexpected result: ${result}`);

  // A subscription over graphql-ws, from the page.
  await run(page, 'subscription Events { bookingEvents { kind booking { id status } } }');
  await new Promise((r) => setTimeout(r, 500));
  console.log('READY');
  const event = await waitForResult(page, '"bookingEvents"', 60000);

  await page.screenshot({ path: screenshot, fullPage: true });
  if (foreign.length) throw new Error(`requests left the origin: ${foreign.join(', ')}`);
  if (problems.length) throw new Error(`page errors: ${problems.join(' | ')}`);
  console.log(JSON.stringify({ ok: true, saved, event: JSON.parse(event) }));
  await browser.close();
  process.exit(0);
} catch (e) {
  if (page) await page.screenshot({ path: screenshot, fullPage: true }).catch(() => {});
  console.error(String(e && e.stack ? e.stack : e));
  if (foreign.length) console.error(`requests left the origin: ${foreign.join(', ')}`);
  if (problems.length) console.error(`page errors: ${problems.join(' | ')}`);
  await browser.close();
  process.exit(1);
}
