// Marks the page as having JavaScript, as the NHS.UK frontend expects, from a file of the
// server's own rather than inline, so the Content-Security-Policy allows no inline script.
document.body.className += ' js-enabled' + ('noModule' in HTMLScriptElement.prototype ? ' nhsuk-frontend-supported' : '');
