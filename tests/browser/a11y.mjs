// Runs axe-core in Debian's headless Chromium over Cardwatch pages and prints one JSON object:
// {page: [violations…]}, keeping serious and critical ones (WCAG 2.x A and AA rules).
//   node a11y.mjs BASE_URL COOKIE PATH…
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { chromium } from 'playwright-core';

const require = createRequire(import.meta.url);
const axeSource = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
const [base, cookie, ...paths] = process.argv.slice(2);
const [name, value] = cookie.split('=');

const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
         '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
// axe is injected as a script of the test's own, which the pages' Content-Security-Policy
// (only the server's own scripts) would otherwise refuse.
const context = await browser.newContext({ bypassCSP: true });
await context.addCookies([{ name, value, url: base }]);
const page = await context.newPage();
const results = {};
for (const path of paths) {
  const response = await page.goto(base + path);
  await page.addScriptTag({ content: axeSource });
  const found = await page.evaluate(async () => {
    const r = await window.axe.run(document, {
      runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa'] },
    });
    return r.violations
      .filter(v => v.impact === 'serious' || v.impact === 'critical')
      .map(v => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.slice(0, 3).map(n => n.target.join(' ')) }));
  });
  results[path] = { status: response.status(), violations: found };
}
await browser.close();
console.log(JSON.stringify(results));
