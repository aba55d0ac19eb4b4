// A person's way through Cardwatch in Debian's headless Chromium: sign in, the overview, a card,
// acknowledge a finding, a triage to escalation, the packet printed, the reports, and a service's
// readiness from the estate's list of integrations. Screenshots and the packet
// PDF go to OUT_DIR. Prints one JSON object of what it saw.
//   node flow.mjs BASE_URL USER PASSWORD OUT_DIR
import { mkdirSync } from 'node:fs';
import { chromium } from 'playwright-core';

const [base, user, password, out] = process.argv.slice(2);
mkdirSync(out, { recursive: true });
const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
         '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
const page = await (await browser.newContext({ viewport: { width: 1200, height: 900 } })).newPage();
const seen = {};
const shot = async (name) => page.screenshot({ path: `${out}/${name}.png`, fullPage: false });

await page.goto(base + '/');
seen.redirectedToSignIn = page.url().includes('/login');
await page.fill('#username', user);
await page.fill('#password', password);
await Promise.all([page.waitForNavigation(), page.click('button[type=submit]')]);
seen.overview = await page.textContent('h1');
await shot('1-overview');

await Promise.all([page.waitForNavigation(), page.click('a[href^="/cards/"]')]);
seen.card = await page.textContent('h1');
await shot('2-card');

// The work queue's first finding, opened on its own page, acknowledged there with a reason.
await page.goto(base + '/findings');
await Promise.all([page.waitForNavigation(), page.click('main table a[href^="/findings/"]')]);
await page.fill('form[action="/findings/note"] input[name=reason]', 'spares ordered');
await Promise.all([page.waitForNavigation(), page.click('form[action="/findings/note"] button')]);
seen.acknowledged = (await page.content()).includes('spares ordered');
await shot('3-findings');

await page.goto(base + '/triage');
await page.fill('#text', 'ERR1002 : Unable to read the card');
await Promise.all([page.waitForNavigation(), page.click('form[action="/triage"] button')]);
await shot('4-triage');
const escalating = 'Record it and open the escalation packet';
for (let i = 0; i < 20 && !(await page.content()).includes(escalating); i++) {
  // The answer before "I can't check this": a "no" or "not fixed" keeps the fault going.
  const answers = await page.$$('input[name="obs"]');
  await answers[answers.length - 2].check();
  await Promise.all([page.waitForNavigation(), page.click('form[action="/triage"] button')]);
}
seen.escalated = (await page.content()).includes(escalating);
await shot('5-escalate');
await page.selectOption('#application', 'emis-web');
await page.fill('#doing', 'logging in at reception');
await Promise.all([page.waitForNavigation(), page.click('form[action="/triage/record"] button')]);
seen.packet = (await page.content()).includes('SMARTCARD ESCALATION');
seen.packetUrl = page.url().replace(base, '');
await shot('6-packet');
await page.pdf({ path: `${out}/packet.pdf`, format: 'A4' });

await page.goto(base + '/reports');
seen.reports = (await page.content()).includes('Failure rate by software version');
await shot('7-reports');

await page.goto(base + '/estate/integrations');
await Promise.all([page.waitForNavigation(), page.click('a[href^="/integrations/"]')]);
seen.integration = await page.textContent('h1');
seen.integrationNotReady = (await page.content()).includes('Not ready');
await shot('8-integration');

await browser.close();
console.log(JSON.stringify(seen));
