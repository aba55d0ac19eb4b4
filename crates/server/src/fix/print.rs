//! The pages made to be printed and passed on — the escalation packet and a site's cheat sheet —
//! as askama templates. Served, they link `/assets/print.css` (the Content-Security-Policy
//! refuses inline styles); written to a file by the command line, they carry it inline, since a
//! file opened from disk has no server to fetch it from.

use askama::Template;
use cardwatch_core::triage::{CheatSheet, Packet};

const PRINT_CSS: &str = include_str!("../../assets/print.css");

/// Where a printable page's stylesheet comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Styles {
    /// Linked from the server's assets.
    Served,
    /// Written into the page, for a file that stands alone.
    Inline,
}

impl Styles {
    fn css(self) -> Option<&'static str> {
        (self == Styles::Inline).then_some(PRINT_CSS)
    }
}

#[derive(Template)]
#[template(path = "packet.html")]
struct PacketPage<'a> {
    heading: String,
    title: &'a str,
    text: &'a str,
    mailto: String,
    inline_css: Option<&'static str>,
}

/// What a `mailto:` address's subject and body must not carry as they are (RFC 6068): controls,
/// space, and the characters that delimit or escape an address's parts — `&` and `=` would end
/// a field, `+` would read as a space to some clients. Everything else stays readable, so the
/// address stays short enough for mail clients that limit its length.
const MAILTO_FIELD: &percent_encoding::AsciiSet = &percent_encoding::CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'&')
    .add(b'+')
    .add(b'<')
    .add(b'=')
    .add(b'>')
    .add(b'?')
    .add(b'[')
    .add(b'\\')
    .add(b']')
    .add(b'^')
    .add(b'`')
    .add(b'{')
    .add(b'|')
    .add(b'}');

/// A `mailto:` address with no recipient (the desk fills in support's) and this subject and
/// body, lines ending CRLF as RFC 6068 asks.
pub fn mailto(subject: &str, body: &str) -> String {
    let body = body.replace("\r\n", "\n").replace('\n', "\r\n");
    format!(
        "mailto:?subject={}&body={}",
        percent_encoding::utf8_percent_encode(subject, MAILTO_FIELD),
        percent_encoding::utf8_percent_encode(&body, MAILTO_FIELD)
    )
}

#[derive(Template)]
#[template(path = "cheatsheet.html")]
struct SheetPage<'a> {
    title: String,
    sheet: &'a CheatSheet,
    contacts: Vec<String>,
    inline_css: Option<&'static str>,
}

/// The escalation packet as a page that prints on A4: its text in one block, with a button that
/// copies it and a link that opens it as an email.
pub fn packet_page(packet: &Packet, styles: Styles) -> String {
    let text = packet.to_text();
    let title = packet.title();
    let page = PacketPage {
        heading: format!("Escalation packet for incident {}", packet.incident),
        mailto: mailto(&title, &text),
        title: &title,
        text: &text,
        inline_css: styles.css(),
    };
    // Rendering only fails on a formatter error writing into a String, which cannot happen.
    page.render().unwrap_or_default()
}

/// A site's cheat sheet as a page that prints on one A4 sheet.
pub fn cheat_sheet_page(sheet: &CheatSheet, styles: Styles) -> String {
    let page = SheetPage {
        title: sheet.title(),
        sheet,
        contacts: sheet
            .contacts
            .iter()
            .map(CheatSheet::contact_line)
            .collect(),
        inline_css: styles.css(),
    };
    page.render().unwrap_or_default()
}
