// The hostile-text sweep in Debian's headless Chromium (issue 32): opens Cardwatch pages that
// show stored hostile text, submits forms whose refusals echo it, uploads hostile files on the
// import page, and reports for each whether anything injected ran or appeared as markup.
// Each page is seen twice at 1280 px:
//   escaping  with the Content-Security-Policy bypassed, so that an injected script would run
//             and only the templates' escaping stands in its way (window.__pwned stays unset);
//   csp       with the policy in force, as users get it, where a blocked inline script or
//             handler shows as a violation report and a console error.
// The one argument is a JSON file: {base, cookie, pages: [path], forms: [{label, path, fields}],
// uploads: [{label, name, text, check}]}. Prints one JSON object, {label: {mode: seen}}, where
// seen is {url, status, type, failed (a navigation Chromium could not show), pwned, injected, dialogs, errors, violations, shown, ssti}; shown
// lists the markers (by index in the plan's `markers`) found in the page's text.
import { readFileSync } from 'node:fs';
import { chromium } from 'playwright-core';

const spec = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const { base } = spec;
const [name, value] = spec.cookie.split('=');

const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
         '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});

// What the page holds once loaded: everything a successful injection leaves behind.
function inspect(markers) {
  const own = `${location.origin}/assets/`;
  const describe = el => `<${el.tagName.toLowerCase()}${[...el.attributes]
    .map(a => ` ${a.name}="${a.value.slice(0, 60)}"`).join('')}>`;
  const injected = [];
  for (const el of document.querySelectorAll('*')) {
    for (const a of el.attributes) {
      const n = a.name.toLowerCase();
      // Event handlers: the app sets none in its markup (its policy forbids them).
      if (n.startsWith('on')) injected.push(`handler ${n}: ${describe(el)}`);
      // A link, source or form target that runs script when followed.
      if (['href', 'src', 'action', 'formaction', 'xlink:href', 'data', 'srcdoc'].includes(n)
          && /^\s*(javascript|vbscript|data:text\/html)/i.test(a.value.replace(/[\u0000-\u001f]/g, ''))) {
        injected.push(`script URL in ${n}: ${describe(el)}`);
      }
    }
  }
  for (const s of document.querySelectorAll('script')) {
    if (!s.src || !s.src.startsWith(own)) injected.push(`script not from the app's assets: ${describe(s)}`);
  }
  for (const el of document.querySelectorAll('img[src="x"], svg[onload], iframe, object, embed, base, meta[http-equiv]')) {
    injected.push(`element: ${describe(el)}`);
  }
  // The hostile text as text: in the page, in a form field's kept value, or in a title.
  const text = [document.title, document.body ? document.body.innerText : '',
    ...[...document.querySelectorAll('input, textarea')].map(i => i.value)].join('\n');
  return {
    pwned: typeof window.__pwned !== 'undefined',
    injected,
    shown: markers.flatMap((m, i) => (text.includes(m) ? [i] : [])),
    // A template evaluated what it was given: {{7*7}} printed as 49 between the markers.
    ssti: text.includes('Z49Z'),
    violations: window.__violations || [],
  };
}

const markers = spec.markers;
const results = {};
for (const mode of ['escaping', 'csp']) {
  const context = await browser.newContext({
    bypassCSP: mode === 'escaping',
    viewport: { width: 1280, height: 900 },
  });
  await context.addCookies([{ name, value, url: base }]);
  // Collected from the first moment of each document: a blocked inline script or handler.
  await context.addInitScript(() => {
    window.__violations = [];
    document.addEventListener('securitypolicyviolation', e => {
      window.__violations.push(`${e.violatedDirective} blocked ${e.blockedURI || 'inline'} at ${e.sourceFile}:${e.lineNumber}`);
    });
  });
  const page = await context.newPage();
  let dialogs = [];
  let errors = [];
  page.on('dialog', d => { dialogs.push(`${d.type()}: ${d.message()}`); d.dismiss().catch(() => {}); });
  page.on('pageerror', e => errors.push(`uncaught: ${e.message}`));
  page.on('console', m => {
    if (m.type() !== 'error') return;
    // A page refused with 400 or 404 is reported by Chromium as a failed load of the page itself:
    // that is the status, checked on its own, not something the page did.
    if (m.text().startsWith('Failed to load resource') && m.location().url === page.url()) return;
    // A page without a favicon link (the printable ones) makes Chromium ask for /favicon.ico,
    // which the server does not serve: not something the page's content did.
    if (m.text().startsWith('Failed to load resource') && new URL(m.location().url).pathname === '/favicon.ico') return;
    errors.push(`console: ${m.text()} (${m.location().url})`);
  });
  const record = async (label, response) => {
    // Handlers such as onerror and onload fire as the page settles; give them a moment.
    await page.waitForTimeout(30);
    const seen = await page.evaluate(inspect, markers);
    (results[label] ||= {})[mode] = {
      url: page.url().replace(base, ''),
      status: response ? response.status() : 0,
      type: response ? (response.headers()['content-type'] || '') : '',
      dialogs, errors, ...seen,
    };
    dialogs = [];
    errors = [];
  };
  for (const path of spec.pages) {
    let response;
    try {
      response = await page.goto(base + path, { waitUntil: 'load' });
    } catch (e) {
      // Chromium shows no page for an error status with an empty body (a path nothing serves).
      (results[path] ||= {})[mode] = { url: path, failed: e.message.split('\n')[0] };
      dialogs = [];
      errors = [];
      continue;
    }
    await record(path, response);
  }
  // A form posted as the browser posts it (a refusal echoes what was typed, so nothing changes).
  for (const f of spec.forms) {
    await page.goto(base + '/account', { waitUntil: 'load' });
    const [response] = await Promise.all([
      page.waitForNavigation({ waitUntil: 'load' }),
      page.evaluate(({ path, fields }) => {
        const form = document.createElement('form');
        form.method = 'post';
        form.action = path;
        for (const [k, v] of fields) {
          const input = document.createElement('input');
          input.type = 'hidden';
          input.name = k;
          input.value = v;
          form.append(input);
        }
        document.body.append(form);
        form.submit();
      }, f),
    ]);
    await record(f.label, response);
  }
  // Files chosen and sent on the import page as an operator does.
  for (const u of spec.uploads) {
    await page.goto(base + '/admin/import', { waitUntil: 'load' });
    await page.setInputFiles('#files', { name: u.name, mimeType: 'text/csv', buffer: Buffer.from(u.text) });
    if (u.check) await page.check('#check');
    const [response] = await Promise.all([
      page.waitForNavigation({ waitUntil: 'load' }),
      page.click('form[action="/admin/import"] button[type=submit]'),
    ]);
    await record(u.label, response);
  }
  await context.close();
}
await browser.close();
console.log(JSON.stringify(results));
