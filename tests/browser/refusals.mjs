// Opens each refusal page in Debian's headless Chromium — an address that names nothing, a bad
// value in a query, a form sent with a field wrong — as a signed-in person's browser reaches it,
// runs axe-core over it and prints one JSON object, {label: {status, url, violations, width,
// overflow, summary, typed}}:
//   violations  the serious and critical ones (WCAG 2.x A and AA rules);
//   width       the document's scrollWidth, the window's innerWidth and the viewport's clientWidth;
//   overflow    when the page scrolls sideways, the innermost elements past the right edge;
//   summary     the NHS.UK error summary's text, or null when the page has none;
//   typed       every text box's value, by its id (what was typed, kept).
// A form is posted by the page itself (a form built on the server's home page and submitted), so
// the browser sends it as it sends any of Cardwatch's forms.
//   node refusals.mjs [--width=PX] BASE_URL COOKIE SPECS_JSON
// SPECS_JSON: [{"label": "...", "path": "/...", "fields": [[name, value], ...]?}] — with fields,
// a POST of them to path; without, a GET.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { chromium } from 'playwright-core';

const require = createRequire(import.meta.url);
const axeSource = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
const args = process.argv.slice(2);
const widthArg = args.find(a => a.startsWith('--width='));
const width = widthArg ? Number(widthArg.slice('--width='.length)) : 1280;
if (!Number.isInteger(width) || width < 200) throw new Error(`bad ${widthArg}`);
const [base, cookie, specsJson] = args.filter(a => !a.startsWith('--width='));
const specs = JSON.parse(specsJson);
const [name, value] = cookie.split('=');

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
const results = {};
for (const spec of specs) {
  let response;
  if (spec.fields) {
    await page.goto(base + '/', { waitUntil: 'networkidle' });
    [response] = await Promise.all([
      page.waitForNavigation({ waitUntil: 'networkidle' }),
      page.evaluate(({ path, fields }) => {
        const form = document.createElement('form');
        form.method = 'post';
        form.action = path;
        for (const [k, v] of fields) {
          const input = document.createElement('input');
          input.type = 'hidden';
          input.name = k;
          input.value = v;
          form.appendChild(input);
        }
        document.body.appendChild(form);
        form.submit();
      }, spec),
    ]);
  } else {
    response = await page.goto(base + spec.path, { waitUntil: 'networkidle' });
  }
  const measured = await page.evaluate(() => {
    const root = document.documentElement;
    const edge = root.clientWidth;
    const past = root.scrollWidth <= edge ? [] : [...document.querySelectorAll('body *')]
      .filter(el => el.getBoundingClientRect().right > edge + 0.5)
      .filter((el, _, all) => !all.some(other => other !== el && el.contains(other)))
      .slice(0, 5)
      .map(el => `${el.tagName.toLowerCase()}${el.id ? `#${el.id}` : ''} right=${Math.round(el.getBoundingClientRect().right)} "${el.textContent.trim().slice(0, 40)}"`);
    const summary = document.querySelector('.nhsuk-error-summary');
    const typed = Object.fromEntries([...document.querySelectorAll('input[type=text], textarea')]
      .map(el => [el.id, el.value]));
    return {
      width: { scroll: root.scrollWidth, inner: window.innerWidth, client: edge },
      overflow: past,
      summary: summary ? summary.textContent.replace(/\s+/g, ' ').trim() : null,
      typed,
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
  results[spec.label] = { status: response.status(), url: page.url(), violations: found, ...measured };
}
await browser.close();
console.log(JSON.stringify(results));
