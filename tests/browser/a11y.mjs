// Runs axe-core in Debian's headless Chromium over Cardwatch pages at one screen width and prints
// one JSON object, {page: {status, violations, width, overflow, offsite, menu}}:
//   violations  the serious and critical ones (WCAG 2.x A and AA rules);
//   width       the document's scrollWidth, the window's innerWidth and the viewport's clientWidth
//               (the page scrolls sideways when scrollWidth is more than clientWidth);
//   overflow    when the page scrolls sideways, the innermost elements that reach past the right
//               edge (at most 5), to say why;
//   offsite     every request the page made to a host other than BASE_URL's;
//   menu        whether the header's "More" menu button is shown.
//   node a11y.mjs [--width=PX] BASE_URL COOKIE PATH…       (PX: 1280 unless given)
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { chromium } from 'playwright-core';

const require = createRequire(import.meta.url);
const axeSource = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
const args = process.argv.slice(2);
const widthArg = args.find(a => a.startsWith('--width='));
const width = widthArg ? Number(widthArg.slice('--width='.length)) : 1280;
if (!Number.isInteger(width) || width < 200) throw new Error(`bad ${widthArg}`);
const [base, cookie, ...paths] = args.filter(a => !a.startsWith('--width='));
const [name, value] = cookie.split('=');
const own = new URL(base).host;

const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
         '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
// axe is injected as a script of the test's own, which the pages' Content-Security-Policy
// (only the server's own scripts) would otherwise refuse.
const context = await browser.newContext({ bypassCSP: true, viewport: { width, height: 900 } });
await context.addCookies([{ name, value, url: base }]);
const page = await context.newPage();
// Every request the page makes, whatever asks for it (stylesheet, font, script, image, prefetch).
let requests = [];
page.on('request', r => requests.push(r.url()));
const results = {};
for (const path of paths) {
  requests = [];
  const response = await page.goto(base + path, { waitUntil: 'networkidle' });
  const offsite = requests.filter(u => {
    const url = new URL(u);
    return (url.protocol === 'http:' || url.protocol === 'https:') ? url.host !== own
      : !['data:', 'blob:', 'about:'].includes(url.protocol);
  });
  const measured = await page.evaluate(() => {
    const root = document.documentElement;
    const edge = root.clientWidth;
    const past = root.scrollWidth <= edge ? [] : [...document.querySelectorAll('body *')]
      .filter(el => el.getBoundingClientRect().right > edge + 0.5)
      .filter((el, _, all) => !all.some(other => other !== el && el.contains(other)))
      .slice(0, 5)
      .map(el => {
        const id = el.id ? `#${el.id}` : '';
        const cls = el.classList.length ? `.${[...el.classList].join('.')}` : '';
        const r = el.getBoundingClientRect();
        return `${el.tagName.toLowerCase()}${id}${cls} right=${Math.round(r.right)} "${el.textContent.trim().slice(0, 40)}"`;
      });
    const toggle = document.querySelector('.nhsuk-header__menu-toggle');
    return {
      width: { scroll: root.scrollWidth, inner: window.innerWidth, client: edge },
      overflow: past,
      menu: !!toggle && toggle.getClientRects().length > 0,
    };
  });
  await page.addScriptTag({ content: axeSource });
  const found = await page.evaluate(async () => {
    const r = await window.axe.run(document, {
      runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa'] },
    });
    return r.violations
      .filter(v => v.impact === 'serious' || v.impact === 'critical')
      .map(v => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.slice(0, 3).map(n => n.target.join(' ')) }));
  });
  results[path] = { status: response.status(), violations: found, offsite, ...measured };
}
await browser.close();
console.log(JSON.stringify(results));
