// Cardwatch's one module: it starts the NHS.UK frontend's components (the header's "More" menu
// among them, which takes the navigation links that do not fit on a narrow screen) and puts every
// table of a page's content in a box of its own that scrolls sideways, so the page itself never
// does. A file of the server's own, as the Content-Security-Policy allows no inline script.
import { initAll } from './nhsuk-frontend.min.js';

initAll();

const boxes = [];
for (const table of document.querySelectorAll('main table')) {
  if (table.parentElement.classList.contains('cardwatch-table-scroll')) continue;
  const box = document.createElement('div');
  box.className = 'cardwatch-table-scroll';
  table.before(box);
  box.append(table);
  boxes.push(box);
}
// A chart keeps its size on a phone and scrolls in its own figure (cardwatch.css).
boxes.push(...document.querySelectorAll('main figure'));

// What a scrolling box holds, for a screen reader: the table's caption, else the heading above it;
// a chart by the caption of the table of its figures that follows it.
function nameOf(box) {
  if (box.tagName === 'FIGURE') {
    const caption = box.nextElementSibling?.querySelector('caption');
    return caption ? `${caption.textContent.trim()} (chart)` : 'Chart';
  }
  const caption = box.querySelector('caption');
  if (caption && caption.textContent.trim()) return caption.textContent.trim();
  for (let el = box.previousElementSibling; el; el = el.previousElementSibling) {
    if (/^H[1-6]$/.test(el.tagName)) return `${el.textContent.trim()} (table)`;
  }
  return 'Table';
}

// Only a box that does scroll is a named region a keyboard can reach and scroll with the arrows;
// one that fits adds no stop to the tab order.
function mark() {
  for (const box of boxes) {
    if (box.scrollWidth > box.clientWidth) {
      box.setAttribute('tabindex', '0');
      box.setAttribute('role', 'region');
      box.setAttribute('aria-label', nameOf(box));
      box.classList.add('cardwatch-table-scroll--scrolls');
    } else {
      box.removeAttribute('tabindex');
      box.removeAttribute('role');
      box.removeAttribute('aria-label');
      box.classList.remove('cardwatch-table-scroll--scrolls');
    }
  }
}
mark();
window.addEventListener('resize', mark);

// A Copy button (the escalation packet's): shown only once this script runs — without it the
// text is there to select — it copies its block's text and says so where a screen reader hears
// it. Over plain HTTP the clipboard API is absent, so the text is selected and copied instead.
for (const button of document.querySelectorAll('button[data-copy]')) {
  const source = document.getElementById(button.dataset.copy);
  const status = document.getElementById(button.dataset.copyStatus);
  if (!source) continue;
  button.hidden = false;
  button.addEventListener('click', async () => {
    let copied = false;
    try {
      await navigator.clipboard.writeText(source.textContent);
      copied = true;
    } catch {
      const range = document.createRange();
      range.selectNodeContents(source);
      const selection = window.getSelection();
      selection.removeAllRanges();
      selection.addRange(range);
      copied = document.execCommand('copy');
    }
    if (status) {
      status.textContent = copied
        ? 'Copied. Paste it into the support ticket or email.'
        : 'Select the text below and copy it (Ctrl+C).';
    }
  });
}
