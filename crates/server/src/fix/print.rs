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
    title: &'a str,
    body: &'a str,
    inline_css: Option<&'static str>,
}

#[derive(Template)]
#[template(path = "cheatsheet.html")]
struct SheetPage<'a> {
    title: String,
    sheet: &'a CheatSheet,
    contacts: Vec<String>,
    inline_css: Option<&'static str>,
}

/// The escalation packet as a page that prints on A4: the same lines as its text.
pub fn packet_page(packet: &Packet, styles: Styles) -> String {
    let text = packet.to_text();
    let (title, body) = text.split_once('\n').unwrap_or((&text, ""));
    let page = PacketPage {
        title,
        body,
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
