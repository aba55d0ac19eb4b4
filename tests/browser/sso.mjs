// Single sign-on walked in Debian's headless Chromium (crates/cli/tests/oidc.rs): axe on the
// sign-in page at 1280 and 390 px, then the single sign-on button, the provider's own login and
// consent pages (tests/browser/oidc-provider.mjs), and back at Cardwatch signed in. Prints one
// JSON object of what it saw:
//   axe        {width: [serious and critical violations]} on /login (WCAG 2.x A and AA rules);
//   atProvider whether the button led to the provider's own page (another origin);
//   landed     the path Cardwatch sent the browser to after the provider;
//   session    whether Cardwatch set its session cookie;
//   account    the text of /account's main content.
//   node sso.mjs BASE_URL LOGIN
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { chromium } from 'playwright-core';

const require = createRequire(import.meta.url);
const axeSource = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
const [base, login] = process.argv.slice(2);
const own = new URL(base).host;
const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
         '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
const seen = { axe: {} };

for (const width of [1280, 390]) {
  // axe is injected as a script of the test's own, which the page's Content-Security-Policy
  // (only the server's own scripts) would otherwise refuse.
  const context = await browser.newContext({ bypassCSP: true, viewport: { width, height: 900 } });
  const page = await context.newPage();
  await page.goto(base + '/login', { waitUntil: 'networkidle' });
  await page.addScriptTag({ content: axeSource });
  seen.axe[width] = await page.evaluate(async () => {
    const r = await window.axe.run(document, {
      runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa'] },
    });
    return r.violations
      .filter(v => v.impact === 'serious' || v.impact === 'critical')
      .map(v => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.slice(0, 3).map(n => n.target.join(' ')) }));
  });
  await context.close();
}

const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
const page = await context.newPage();
await page.goto(base + '/login');
await Promise.all([
  page.waitForURL(u => new URL(u).host !== own),
  page.click('a[href^="/login/oidc"]'),
]);
seen.atProvider = new URL(page.url()).host !== own;
// The provider's development login form, then its consent form.
await page.fill('input[name=login]', login);
await page.fill('input[name=password]', 'any');
await Promise.all([page.waitForNavigation(), page.click('button[type=submit]')]);
await Promise.all([
  page.waitForURL(u => new URL(u).host === own && !new URL(u).pathname.startsWith('/login')),
  page.click('button[type=submit]'),
]);
seen.landed = new URL(page.url()).pathname;
seen.session = (await context.cookies(base)).some(c => c.name === 'cw_session');
await page.goto(base + '/account');
seen.account = await page.textContent('main');
await browser.close();
console.log(JSON.stringify(seen));
