// The desk on a phone (390 px) in Debian's headless Chromium, signed in as a practice manager:
// reception types what the clinician said into the triage box and submits once; then the
// findings, grouped by what to do and who does it, with two of them snoozed together with one
// reason, and a save without a reason refused on the same list; her sites' renewal plan; and a
// wide table's first column kept in view as the table scrolls. For each page: its status, whether it scrolls sideways, and axe-core's serious and
// critical violations (WCAG 2.x A and AA). Prints one JSON object, each page's width as a11y.mjs
// gives it.
//   node desk.mjs BASE_URL COOKIE DESCRIPTION
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { chromium } from 'playwright-core';

const require = createRequire(import.meta.url);
const axeSource = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
const [base, cookie, description] = process.argv.slice(2);
const [name, value] = cookie.split('=');

const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
         '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
// axe is the test's own script, which the pages' Content-Security-Policy would refuse.
const context = await browser.newContext({ bypassCSP: true, viewport: { width: 390, height: 844 } });
await context.addCookies([{ name, value, url: base }]);
const page = await context.newPage();

const look = async (status) => {
  await page.addScriptTag({ content: axeSource });
  const violations = await page.evaluate(async () => {
    const r = await window.axe.run(document, {
      runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa'] },
    });
    return r.violations
      .filter(v => v.impact === 'serious' || v.impact === 'critical')
      .map(v => ({ id: v.id, impact: v.impact, nodes: v.nodes.slice(0, 3).map(n => n.target.join(' ')) }));
  });
  const width = await page.evaluate(() => ({
    scroll: document.documentElement.scrollWidth,
    inner: window.innerWidth,
    client: document.documentElement.clientWidth,
  }));
  return { status, violations, width };
};

const seen = {};

// Reception: one box, one submit. On a phone the header's script moves Triage into "More",
// which is then underlined as the current page's link is.
await page.goto(base + '/triage');
seen.moreMarked = await page.evaluate(() => {
  const toggle = document.querySelector('.nhsuk-header__menu:not([hidden]) > .nhsuk-header__menu-toggle');
  return toggle ? getComputedStyle(toggle, '::before').borderBottomWidth : null;
});
await page.fill('#text', description);
const [answered] = await Promise.all([
  page.waitForNavigation(),
  page.click('form[action="/triage"] button[type=submit]'),
]);
seen.triage = await look(answered.status());
seen.triage.step = (await page.textContent('legend'))?.trim() ?? null;
seen.triage.answers = await page.$$eval('input[name="obs"][type=radio]',
  inputs => inputs.map(i => document.querySelector(`label[for="${i.id}"]`).textContent.trim()));
// The list of every symptom is what a description that matched nothing falls back to.
seen.triage.symptomLinks = (await page.$$('a[href*="symptom="]')).length;
// Nothing is ticked for the desk; Continue with nothing chosen asks again, saying why.
seen.triage.ticked = await page.$$eval('input[name="obs"]:checked', b => b.length);
const [askedAgain] = await Promise.all([
  page.waitForNavigation(),
  page.click('form[action="/triage"] button[type=submit]'),
]);
seen.unanswered = await look(askedAgain.status());
seen.unanswered.summary = (await page.textContent('.nhsuk-error-summary'))?.replace(/\s+/g, ' ').trim() ?? null;
seen.unanswered.step = (await page.textContent('legend'))?.trim() ?? null;

// The practice manager: what to do, for whom; two findings snoozed with one reason.
const queue = await page.goto(base + '/findings');
seen.findings = await look(queue.status());
// The table of groups is the one captioned with what to do and who does it.
seen.findings.groups = await page.$$eval('main table', tables => {
  const groups = tables.find(t => t.caption?.textContent.includes('who does it'));
  return groups ? [...groups.tBodies[0].rows].map(r =>
    [...r.cells].map(td => td.lastChild.textContent.trim())) : [];
});
const boxes = await page.$$('input[name=id][type=checkbox]');
seen.findings.ticked = boxes.length >= 2;
if (seen.findings.ticked) {
  await boxes[0].check();
  await boxes[1].check();
  await page.check('#bulk-snoozed');
  await page.fill('#bulk-reason', 'cards ordered for both');
  await Promise.all([page.waitForNavigation(), page.click('form[action="/findings/bulk"] button[type=submit]')]);
  seen.findings.after = (await page.textContent('main')).replace(/\s+/g, ' ');
}

// Saved without a reason: the same list, saying why, with the tick kept.
await page.goto(base + '/findings');
const again = await page.$$('input[name=id][type=checkbox]');
if (again.length >= 1) {
  await again[0].check();
  const [refused] = await Promise.all([page.waitForNavigation(), page.click('form[action="/findings/bulk"] button[type=submit]')]);
  seen.refused = await look(refused.status());
  seen.refused.summary = (await page.textContent('.nhsuk-error-summary'))?.replace(/\s+/g, ' ').trim() ?? null;
  seen.refused.ticked = await page.$$eval('input[name=id][type=checkbox]:checked', b => b.length);
}

// The renewal plan: her sites' part first, in words, and a chart she can read, scrolling in its
// own box rather than shrinking to fit.
const plan = await page.goto(base + '/plan');
seen.plan = await look(plan.status());
seen.plan.yours = (await page.textContent('#yours'))?.trim() ?? null;
seen.plan.settings = (await page.content()).includes('ra_capacity');
seen.plan.charts = await page.$$eval('figure + details caption', c => c.map(x => x.textContent.trim()));
// The header says which page this is, in words and to a screen reader, wherever its script put
// the link (in the bar, or in the "More" menu on a phone).
seen.plan.current = await page.$$eval('header [aria-current]', l => l.map(a => [a.textContent.trim(), a.getAttribute('aria-current')]));
seen.plan.chart = await page.evaluate(() => {
  const f = document.querySelector('figure');
  const svg = f && f.querySelector('svg');
  return svg ? { width: svg.getBoundingClientRect().width, scrolls: f.scrollWidth > f.clientWidth } : null;
});

// A wide table on a phone scrolls in its own box with its first column kept in view: scrolled
// sideways, the row's name stays where it was and the next cell slides under it.
await page.goto(base + '/estate/workstations');
seen.wide = await page.evaluate(async () => {
  const box = document.querySelector('.cardwatch-table-scroll--scrolls');
  if (!box) return { scrolls: false };
  const row = box.querySelector('tbody tr');
  const at = () => [row.cells[0].getBoundingClientRect().left, row.cells[1].getBoundingClientRect().left];
  const [first, second] = at();
  box.scrollLeft = 120;
  await new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)));
  const [firstAfter, secondAfter] = at();
  return { scrolls: true, scrolled: box.scrollLeft, firstMoved: firstAfter - first, secondMoved: secondAfter - second };
});

await browser.close();
console.log(JSON.stringify(seen));
