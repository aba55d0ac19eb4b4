// The findings work queue in Debian's headless Chromium, at a phone's width (390 px) and a
// desktop's (1280 px): for the queue, a finding's own page and the queue with a refused filter,
// whether the page scrolls sideways (its scroll width against the window's) and axe-core's
// serious and critical violations (WCAG 2.x A and AA). Then, at 1280 px, two rows are ticked
// and acknowledged with one reason. Prints one JSON object.
//   node findings.mjs BASE_URL COOKIE
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { chromium } from 'playwright-core';

const require = createRequire(import.meta.url);
const axeSource = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
const [base, cookie] = process.argv.slice(2);
const [name, value] = cookie.split('=');

const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
         '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
const results = {};
for (const width of [390, 1280]) {
  // axe is the test's own script, which the pages' Content-Security-Policy would refuse.
  const context = await browser.newContext({ bypassCSP: true, viewport: { width, height: 900 } });
  await context.addCookies([{ name, value, url: base }]);
  const page = await context.newPage();
  const seen = {};
  const look = async (label, path) => {
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
    const size = await page.evaluate(() => ({
      scrollWidth: document.documentElement.scrollWidth,
      clientWidth: document.documentElement.clientWidth,
    }));
    seen[label] = { status: response.status(), violations: found, ...size };
  };
  await look('queue', '/findings');
  const href = await page.getAttribute('main table a[href^="/findings/"]', 'href');
  await look('finding', href);
  await look('refused', '/findings?min_severity=abc&site=A10000');
  results[width] = seen;
  if (width === 1280) {
    await page.goto(base + '/findings');
    const boxes = await page.$$('input[name=id][type=checkbox]');
    await boxes[0].check();
    await boxes[1].check();
    await page.fill('#bulk-reason', 'renewals booked');
    await Promise.all([page.waitForNavigation(), page.click('form[action="/findings/bulk"] button[type=submit]')]);
    const text = await page.textContent('main');
    results.acknowledged = text.includes('2 findings acknowledged') ? 2 : 0;
  }
  await context.close();
}
await browser.close();
console.log(JSON.stringify(results));
