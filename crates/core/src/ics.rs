//! iCalendar (RFC 5545) text for all-day events with a reminder: renewal target days and
//! certificate expiries, for Outlook and Google Calendar.

use crate::date::{Date, Timestamp};

/// One all-day event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    /// Globally unique and stable, so a re-import updates rather than duplicates.
    pub uid: String,
    /// The day.
    pub date: Date,
    /// Title.
    pub summary: String,
    /// Body.
    pub description: String,
    /// Days before the event that the reminder fires (none when 0).
    pub remind_days_before: u32,
}

/// Escapes TEXT values (RFC 5545 §3.3.11).
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            ';' => out.push_str("\\;"),
            ',' => out.push_str("\\,"),
            '\n' => out.push_str("\\n"),
            '\r' => {}
            c => out.push(c),
        }
    }
    out
}

/// Appends a content line, folded at 75 octets (§3.1) without splitting a character.
fn line(out: &mut String, text: &str) {
    let mut width = 0;
    for c in text.chars() {
        if width + c.len_utf8() > 75 {
            out.push_str("\r\n ");
            width = 1;
        }
        out.push(c);
        width += c.len_utf8();
    }
    out.push_str("\r\n");
}

fn compact(d: Date) -> String {
    let (y, m, day) = d.ymd();
    format!("{y:04}{m:02}{day:02}")
}

/// A whole calendar. `now` stamps the events (DTSTAMP).
pub fn calendar(name: &str, events: &[Event], now: Timestamp) -> String {
    let mut out = String::new();
    line(&mut out, "BEGIN:VCALENDAR");
    line(&mut out, "VERSION:2.0");
    line(&mut out, "PRODID:-//Cardwatch//Cardwatch//EN");
    line(&mut out, "CALSCALE:GREGORIAN");
    line(&mut out, "METHOD:PUBLISH");
    line(&mut out, &format!("X-WR-CALNAME:{}", escape(name)));
    let (nd, secs) = (now.date(), now.unix().rem_euclid(86_400));
    let stamp = format!(
        "{}T{:02}{:02}{:02}Z",
        compact(nd),
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    );
    for e in events {
        line(&mut out, "BEGIN:VEVENT");
        line(&mut out, &format!("UID:{}", escape(&e.uid)));
        line(&mut out, &format!("DTSTAMP:{stamp}"));
        line(&mut out, &format!("DTSTART;VALUE=DATE:{}", compact(e.date)));
        line(
            &mut out,
            &format!("DTEND;VALUE=DATE:{}", compact(e.date.add_days(1))),
        );
        line(&mut out, &format!("SUMMARY:{}", escape(&e.summary)));
        line(&mut out, &format!("DESCRIPTION:{}", escape(&e.description)));
        line(&mut out, "TRANSP:TRANSPARENT");
        if e.remind_days_before > 0 {
            line(&mut out, "BEGIN:VALARM");
            line(&mut out, "ACTION:DISPLAY");
            line(&mut out, &format!("DESCRIPTION:{}", escape(&e.summary)));
            line(&mut out, &format!("TRIGGER:-P{}D", e.remind_days_before));
            line(&mut out, "END:VALARM");
        }
        line(&mut out, "END:VEVENT");
    }
    line(&mut out, "END:VCALENDAR");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_escaped_folded_and_crlf() {
        let e = Event {
            uid: "CS1/signing/2027-01-09@cardwatch".into(),
            date: Date::parse("2026-12-01").unwrap(),
            summary: "Renew smartcard certificate; card CS1, signing".into(),
            description: "x".repeat(200),
            remind_days_before: 1,
        };
        let ics = calendar(
            "Renewals",
            &[e],
            Timestamp::parse("2026-11-22T09:30:05Z").unwrap(),
        );
        assert!(ics.starts_with("BEGIN:VCALENDAR\r\nVERSION:2.0\r\n"));
        assert!(ics.contains("DTSTART;VALUE=DATE:20261201\r\nDTEND;VALUE=DATE:20261202\r\n"));
        assert!(ics.contains("SUMMARY:Renew smartcard certificate\\; card CS1\\, signing"));
        assert!(ics.contains("DTSTAMP:20261122T093005Z"));
        assert!(ics.contains("TRIGGER:-P1D"));
        assert!(ics.lines().all(|l| l.len() <= 76), "folded");
        assert!(ics.ends_with("END:VCALENDAR\r\n"));
        assert!(!ics.replace("\r\n", "").contains('\n'), "CRLF only");
    }
}
