//! What Cardwatch tells people, written without sending anything: operators' digests of
//! findings, holders' renewal reminders, webhook bodies in the generic, Teams and Slack shapes,
//! and their signatures. Every message carries the idempotency key it is recorded under before
//! it is sent, so a retry or a second replica can never send it twice.

use std::collections::HashSet;
use std::fmt::Write as _;

use hmac::{Hmac, Mac};
use serde::Serialize;
use sha2::Sha256;

use crate::date::{Date, Timestamp};
use crate::health::{Finding, Severity};

/// How often an operator wants the digest.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Frequency {
    /// Every run of the digest job.
    Daily,
    /// On the Monday run only.
    Weekly,
    /// Never (unsubscribed).
    Off,
}

impl Frequency {
    /// Parses `daily`, `weekly` or `off`.
    pub fn parse(s: &str) -> Result<Frequency, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "daily" => Ok(Frequency::Daily),
            "weekly" => Ok(Frequency::Weekly),
            "off" | "never" => Ok(Frequency::Off),
            other => Err(format!("frequency {other:?} is not daily, weekly or off")),
        }
    }

    /// Whether a digest run at `slot` sends to someone who wants it this often: daily ones
    /// every run, weekly ones on the run that falls on a Monday in the UK, never when off.
    pub fn due_at(self, slot: Timestamp) -> bool {
        match self {
            Frequency::Daily => true,
            Frequency::Weekly => {
                Timestamp::from_unix(slot.unix() + uk_offset(slot.unix()))
                    .date()
                    .weekday()
                    == 0
            }
            Frequency::Off => false,
        }
    }

    /// The stored word.
    pub fn as_str(self) -> &'static str {
        match self {
            Frequency::Daily => "daily",
            Frequency::Weekly => "weekly",
            Frequency::Off => "off",
        }
    }
}

/// Hours in which nothing is delivered to a person, in UK local time (`20:00-07:00`); a
/// message due inside them waits for their end.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Quiet {
    start: u32,
    end: u32,
}

impl Quiet {
    /// Parses `HH:MM-HH:MM`.
    pub fn parse(s: &str) -> Result<Quiet, String> {
        let bad = || format!("quiet hours {s:?} are not HH:MM-HH:MM (e.g. 20:00-07:00)");
        let minutes = |hm: &str| -> Option<u32> {
            let (h, m) = hm.trim().split_once(':')?;
            let (h, m): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
            (h < 24 && m < 60 && hm.trim().len() == 5).then_some(h * 60 + m)
        };
        let (a, b) = s.split_once('-').ok_or_else(bad)?;
        let (start, end) = (minutes(a).ok_or_else(bad)?, minutes(b).ok_or_else(bad)?);
        if start == end {
            return Err(format!("quiet hours {s:?} start and end at the same time"));
        }
        Ok(Quiet { start, end })
    }

    fn inside(self, minute: u32) -> bool {
        if self.start < self.end {
            (self.start..self.end).contains(&minute)
        } else {
            minute >= self.start || minute < self.end
        }
    }

    /// When a message due at `t` may go: `t` itself outside quiet hours, else their end.
    pub fn release(self, t: Timestamp) -> Timestamp {
        let local = t.unix() + uk_offset(t.unix());
        let minute = (local.rem_euclid(86_400) / 60) as u32;
        if !self.inside(minute) {
            return t;
        }
        let wait =
            (i64::from(self.end) - i64::from(minute)).rem_euclid(1440) * 60 - local.rem_euclid(60);
        Timestamp::from_unix(t.unix() + wait)
    }
}

impl std::fmt::Display for Quiet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{:02}:{:02}-{:02}:{:02}",
            self.start / 60,
            self.start % 60,
            self.end / 60,
            self.end % 60
        )
    }
}

/// Seconds UK local time is ahead of UTC at `t`: one hour in British Summer Time, from 01:00 UTC
/// on the last Sunday of March to 01:00 UTC on the last Sunday of October.
pub fn uk_offset(t: i64) -> i64 {
    let (y, _, _) = Timestamp::from_unix(t).date().ymd();
    let last_sunday = |m: u32| -> i64 {
        let end = Date::from_ymd(y, m, 31).map_or(0, |d| d.days());
        // weekday(): Monday = 0 … Sunday = 6.
        let back = (Date::from_days(end).weekday() + 1) % 7;
        i64::from(end - back as i32) * 86_400 + 3600
    };
    if (last_sunday(3)..last_sunday(10)).contains(&t) {
        3600
    } else {
        0
    }
}

/// How a message travels.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Channel {
    /// SMTP; the recipient is an address.
    Email,
    /// An HTTP POST; the recipient is a webhook's name.
    Webhook,
}

impl Channel {
    /// The stored word.
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Email => "email",
            Channel::Webhook => "webhook",
        }
    }
}

/// A message ready to be recorded and sent.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Message {
    /// The idempotency key: the same key is never sent twice.
    pub key: String,
    /// Email or webhook.
    pub channel: Channel,
    /// An address, or a webhook's name.
    pub recipient: String,
    /// The subject (or a webhook's title).
    pub subject: String,
    /// Plain text (or a webhook's JSON body).
    pub text: String,
    /// HTML (empty for webhooks).
    pub html: String,
    /// Not before.
    pub not_before: Timestamp,
}

/// Text made safe inside HTML.
fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// One operator's digest: who, where to send, what they saw last time.
#[derive(Debug)]
pub struct DigestFor<'a> {
    /// The operator's user name.
    pub username: &'a str,
    /// Their email address.
    pub email: &'a str,
    /// The least severe finding they want.
    pub min_severity: Severity,
    /// Finding ids in their previous digest: the rest are new.
    pub seen: &'a HashSet<String>,
    /// The secret in their unsubscribe link.
    pub unsubscribe: &'a str,
}

/// The most findings listed by name in one digest; the rest are counted.
pub const DIGEST_LIST: usize = 40;

/// A digest of the open findings of an operator's organisations at or above their severity:
/// new ones (not in their previous digest) first, then the most severe. `None` when there is
/// nothing new and nothing urgent. Returns the message and the ids it covered.
pub fn digest(
    who: &DigestFor<'_>,
    findings: &[&Finding],
    slot: Timestamp,
    base_url: &str,
) -> Option<(Message, Vec<String>)> {
    let mut chosen: Vec<(&Finding, String, bool)> = findings
        .iter()
        .filter(|f| f.severity >= who.min_severity)
        .map(|f| {
            let id = f.id();
            let new = !who.seen.contains(&id);
            (*f, id, new)
        })
        .collect();
    let new = chosen.iter().filter(|c| c.2).count();
    let urgent = chosen
        .iter()
        .filter(|c| c.0.severity >= Severity::Urgent)
        .count();
    if new == 0 && urgent == 0 {
        return None;
    }
    chosen.sort_by(|a, b| {
        b.2.cmp(&a.2)
            .then(b.0.severity.cmp(&a.0.severity))
            .then(a.0.due.cmp(&b.0.due))
            .then(a.1.cmp(&b.1))
    });
    let mut by_sev = [0usize; 4];
    for c in &chosen {
        by_sev[c.0.severity as usize] += 1;
    }
    let day = slot.date();
    let subject = format!(
        "Cardwatch digest {day}: {new} new, {urgent} urgent or critical finding{}",
        if urgent == 1 { "" } else { "s" }
    );
    let link = format!("{base_url}/findings");
    let unsubscribe = format!("{base_url}/unsubscribe/{}", who.unsubscribe);
    let mut text = format!(
        "Open findings for your organisations on {day}: {} critical, {} urgent, {} warning, {} info.\n\n",
        by_sev[3], by_sev[2], by_sev[1], by_sev[0]
    );
    let mut rows = String::new();
    for (f, _, is_new) in chosen.iter().take(DIGEST_LIST) {
        let mark = if *is_new { "NEW " } else { "" };
        let _ = writeln!(
            text,
            "- {mark}[{}] {} at {} (due {}): {}\n  Fix: {}",
            f.severity, f.subject, f.site, f.due, f.why, f.fix
        );
        let _ = write!(
            rows,
            "<tr><td>{}{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}<br><small>{}</small></td></tr>",
            if *is_new { "<strong>New</strong> " } else { "" },
            esc(&f.severity.to_string()),
            esc(&f.subject),
            esc(&f.site),
            f.due,
            esc(&f.why),
            esc(&f.fix),
        );
    }
    let more = chosen.len().saturating_sub(DIGEST_LIST);
    if more > 0 {
        let _ = writeln!(text, "… and {more} more.");
    }
    let _ = write!(
        text,
        "\nSee them all: {link}\nStop these emails: {unsubscribe}\n"
    );
    let html = format!(
        "<!doctype html><html lang=\"en\"><body><p>Open findings for your organisations on {day}: \
         {} critical, {} urgent, {} warning, {} info.</p>\
         <table><thead><tr><th>Severity</th><th>Subject</th><th>Site</th><th>Due</th><th>Why and fix</th></tr></thead>\
         <tbody>{rows}</tbody></table>{}\
         <p><a href=\"{}\">See them all in Cardwatch</a></p>\
         <p><small><a href=\"{}\">Stop these emails</a></small></p></body></html>",
        by_sev[3],
        by_sev[2],
        by_sev[1],
        by_sev[0],
        if more > 0 { format!("<p>… and {more} more.</p>") } else { String::new() },
        esc(&link),
        esc(&unsubscribe),
    );
    let ids = chosen.into_iter().map(|c| c.1).collect();
    Some((
        Message {
            key: format!("digest:{}:{}", who.username, slot.unix()),
            channel: Channel::Email,
            recipient: who.email.to_owned(),
            subject,
            text,
            html,
            not_before: slot,
        },
        ids,
    ))
}

/// The days before a planned renewal a holder is reminded.
pub const REMINDER_STAGES: [i32; 3] = [90, 30, 7];

/// The reminder stage a renewal planned on `planned` is in on `today`: the nearest of 90, 30
/// and 7 days not yet passed, so someone planned 5 days out gets only the 7-day reminder.
pub fn reminder_stage(today: Date, planned: Date) -> Option<i32> {
    let left = today.days_until(planned);
    if left < 0 {
        return None;
    }
    REMINDER_STAGES.iter().rev().copied().find(|&s| left <= s)
}

/// A holder's certificate to remind them of.
#[derive(Debug)]
pub struct ReminderFor<'a> {
    /// The card.
    pub card_serial: &'a str,
    /// `authentication` or `signing`.
    pub purpose: &'a str,
    /// The certificate's last valid day.
    pub expiry: Date,
    /// The day the plan puts the renewal on.
    pub planned: Date,
    /// The holder's name and address.
    pub name: &'a str,
    /// Their email.
    pub email: &'a str,
    /// Who renews expired certificates for their site (an RA team).
    pub ra: &'a str,
}

/// A holder's reminder at a stage (90, 30 or 7 days before the planned date).
pub fn reminder(r: &ReminderFor<'_>, stage: i32, today: Date) -> Message {
    let expired_by_then = r.planned > r.expiry;
    let how = if today > r.expiry {
        format!(
            "It expired on {}. An expired certificate cannot be renewed from your desk: book an \
             appointment in person with your Registration Authority ({}), and bring your card and \
             photo ID.",
            r.expiry, r.ra
        )
    } else if expired_by_then {
        format!(
            "It expires on {}, before your planned date, so please renew it yourself now: insert \
             your card, open the Care Identity Service (Credential Management), choose \"Renew \
             certificates\" and enter your passcode. If it expires first, you will need to book your \
             Registration Authority ({}) in person.",
            r.expiry, r.ra
        )
    } else {
        format!(
            "It expires on {}. You can renew it yourself from 90 days before: insert your card, \
             open the Care Identity Service (Credential Management), choose \"Renew \
             certificates\" and enter your passcode. It takes a few minutes; do it on or before {}.",
            r.expiry, r.planned
        )
    };
    let subject = format!(
        "Your smartcard's {} certificate: renew by {} ({stage}-day reminder)",
        r.purpose, r.planned
    );
    let text = format!(
        "Dear {},\n\nYour smartcard {} has a {} certificate to renew. {how}\n\nNever share your \
         card or passcode, and nobody from IT will ask for your passcode.\n",
        r.name, r.card_serial, r.purpose
    );
    let html = format!(
        "<!doctype html><html lang=\"en\"><body><p>Dear {},</p><p>Your smartcard {} has a {} \
         certificate to renew. {}</p><p>Never share your card or passcode, and nobody from IT \
         will ask for your passcode.</p></body></html>",
        esc(r.name),
        esc(r.card_serial),
        esc(r.purpose),
        esc(&how)
    );
    Message {
        key: format!(
            "reminder:{}:{}:{}:{stage}",
            r.card_serial, r.purpose, r.expiry
        ),
        channel: Channel::Email,
        recipient: r.email.to_owned(),
        subject,
        text,
        html,
        not_before: Timestamp::start_of(today),
    }
}

/// The shape a webhook's receiver expects.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum HookFormat {
    /// `{event, title, text, link, items}`.
    Json,
    /// A Microsoft Teams message card.
    Teams,
    /// A Slack incoming-webhook message.
    Slack,
}

impl HookFormat {
    /// Parses `json`, `teams` or `slack`.
    pub fn parse(s: &str) -> Result<HookFormat, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "json" | "generic" => Ok(HookFormat::Json),
            "teams" => Ok(HookFormat::Teams),
            "slack" => Ok(HookFormat::Slack),
            other => Err(format!(
                "webhook format {other:?} is not json, teams or slack"
            )),
        }
    }

    /// The stored word.
    pub fn as_str(self) -> &'static str {
        match self {
            HookFormat::Json => "json",
            HookFormat::Teams => "teams",
            HookFormat::Slack => "slack",
        }
    }
}

/// A webhook body: a title, lines and a link, in the receiver's shape.
pub fn hook_body(
    format: HookFormat,
    event: &str,
    title: &str,
    lines: &[String],
    link: &str,
) -> String {
    let text = lines.join("\n");
    let body = match format {
        HookFormat::Json => serde_json::json!({
            "event": event, "title": title, "text": text, "link": link, "items": lines,
        }),
        HookFormat::Teams => serde_json::json!({
            "@type": "MessageCard",
            "@context": "https://schema.org/extensions",
            "summary": title,
            "title": title,
            "text": lines.join("\n\n"),
            "potentialAction": [{
                "@type": "OpenUri", "name": "Open in Cardwatch",
                "targets": [{"os": "default", "uri": link}],
            }],
        }),
        HookFormat::Slack => serde_json::json!({
            "text": format!("*{title}*\n{text}\n<{link}|Open in Cardwatch>"),
        }),
    };
    body.to_string()
}

/// HMAC-SHA-256 (RFC 2104) of `timestamp.body` under `secret`, as the `X-Cardwatch-Signature`
/// header carries it: `sha256=` and lower-case hex. The receiver recomputes it to trust the body.
/// RustCrypto's `hmac` does the keying (a secret longer than SHA-256's 64-byte block, which every
/// generated secret is, is hashed first), so none of it is written here.
pub fn sign(secret: &[u8], timestamp: i64, body: &str) -> String {
    let mac = hmac_sha256(
        secret,
        &[timestamp.to_string().as_bytes(), b".", body.as_bytes()],
    );
    format!("sha256={}", hex::encode(mac))
}

/// HMAC-SHA-256 under `key` of the parts one after another.
fn hmac_sha256(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    // HMAC takes a key of any length, so `new_from_slice` cannot fail here.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key)
        .unwrap_or_else(|e| unreachable!("HMAC accepts keys of any length: {e}"));
    for part in parts {
        mac.update(part);
    }
    mac.finalize().into_bytes().into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::health::{Owner, SubjectKind};
    use std::borrow::Cow;

    /// RFC 4231 section 4, HMAC-SHA-256: (key, data, expected MAC as hex). Case 5's MAC is
    /// truncated to 128 bits there, so only that prefix is compared.
    fn rfc_4231() -> Vec<(Vec<u8>, Vec<u8>, &'static str)> {
        let h = |s: &str| hex::decode(s).unwrap();
        vec![
            (vec![0x0b; 20], b"Hi There".to_vec(),
             "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"),
            (b"Jefe".to_vec(), b"what do ya want for nothing?".to_vec(),
             "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"),
            (vec![0xaa; 20], vec![0xdd; 50],
             "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe"),
            (h("0102030405060708090a0b0c0d0e0f10111213141516171819"), vec![0xcd; 50],
             "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b"),
            (vec![0x0c; 20], b"Test With Truncation".to_vec(),
             "a3b6167473100ee06e0c796c2955552b"),
            (vec![0xaa; 131], b"Test Using Larger Than Block-Size Key - Hash Key First".to_vec(),
             "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"),
            (vec![0xaa; 131],
             b"This is a test using a larger than block-size key and a larger than block-size data. The key needs to be hashed before being used by the HMAC algorithm.".to_vec(),
             "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2"),
        ]
    }

    #[test]
    fn signatures_are_rfc_4231_hmac_sha256() {
        for (i, (key, data, want)) in rfc_4231().into_iter().enumerate() {
            // Split where a signature's parts meet, to check the parts are MACed as one message.
            let (head, tail) = data.split_at(data.len() / 3);
            let got = hex::encode(hmac_sha256(&key, &[head, tail]));
            assert!(got.starts_with(want), "RFC 4231 case {}: {got}", i + 1);
            assert_eq!(got.len(), 64);
        }
    }

    #[test]
    fn sign_is_hmac_over_timestamp_dot_body() {
        // Expected values from Python's hmac module, an implementation independent of this one:
        // hmac.new(key, b"12.body", hashlib.sha256).hexdigest().
        assert_eq!(
            sign(&[0xaa; 131], 12, "body"),
            "sha256=91d8cefadfdd99aeba5f8af1470e36b3aedb1414f33e707b07b7669d3d2d3e12"
        );
        assert_eq!(
            sign(b"Jefe", 12, "body"),
            "sha256=7a2ce2402de2c5d2be800321a847e14a5fc9fe9ae7839bcdb00a8625ed49b888"
        );
        assert_eq!(
            sign(b"Jefe", 12, "body"),
            format!(
                "sha256={}",
                hex::encode(hmac_sha256(b"Jefe", &[b"12.body"]))
            )
        );
        assert_ne!(sign(b"Jefe", 12, "body"), sign(b"Jefe", 13, "body"));
    }

    #[test]
    fn weekly_digests_go_on_the_uk_monday_run_and_off_never() {
        let t = |s: &str| Timestamp::parse(s).unwrap();
        // 2026-11-30 is a Monday; 23:30 UTC on Sunday 2026-07-05 is already Monday in BST.
        assert!(Frequency::Weekly.due_at(t("2026-11-30T06:30:00Z")));
        assert!(!Frequency::Weekly.due_at(t("2026-11-27T06:30:00Z")));
        assert!(Frequency::Weekly.due_at(t("2026-07-05T23:30:00Z")));
        assert!(Frequency::Daily.due_at(t("2026-11-27T06:30:00Z")));
        assert!(!Frequency::Off.due_at(t("2026-11-30T06:30:00Z")));
    }

    #[test]
    fn uk_summer_time_starts_and_ends_on_the_last_sundays() {
        let t = |s: &str| Timestamp::parse(s).unwrap().unix();
        assert_eq!(uk_offset(t("2026-03-29T00:59:59Z")), 0);
        assert_eq!(uk_offset(t("2026-03-29T01:00:00Z")), 3600);
        assert_eq!(uk_offset(t("2026-10-25T00:59:59Z")), 3600);
        assert_eq!(uk_offset(t("2026-10-25T01:00:00Z")), 0);
        assert_eq!(uk_offset(t("2026-11-27T12:00:00Z")), 0);
    }

    #[test]
    fn quiet_hours_hold_a_message_until_they_end() {
        let q = Quiet::parse("20:00-07:00").unwrap();
        let t = |s: &str| Timestamp::parse(s).unwrap();
        assert_eq!(
            q.release(t("2026-11-27T12:00:00Z")),
            t("2026-11-27T12:00:00Z")
        );
        assert_eq!(
            q.release(t("2026-11-27T21:30:00Z")),
            t("2026-11-28T07:00:00Z")
        );
        assert_eq!(
            q.release(t("2026-11-28T06:59:30Z")),
            t("2026-11-28T07:00:00Z")
        );
        // In summer 07:00 local is 06:00 UTC.
        assert_eq!(
            q.release(t("2026-07-01T05:00:00Z")),
            t("2026-07-01T06:00:00Z")
        );
        assert_eq!(q.to_string(), "20:00-07:00");
        for bad in ["20-07", "25:00-07:00", "20:00", "07:00-07:00", "7:00-08:00"] {
            assert!(Quiet::parse(bad).is_err(), "{bad}");
        }
    }

    fn finding(rule: &'static str, subject: &str, severity: Severity) -> Finding {
        Finding {
            rule,
            severity,
            subject_kind: SubjectKind::Card,
            subject: subject.into(),
            site: "A81001".into(),
            owner: Owner::Holder,
            due: Date::parse("2026-12-01").unwrap(),
            why: "the <signing> certificate expires".into(),
            fix: Cow::Borrowed("renew it"),
        }
    }

    #[test]
    fn a_digest_puts_new_findings_first_and_skips_when_nothing_matters() {
        let a = finding("cert-expiring", "CARD1", Severity::Urgent);
        let b = finding("cert-window", "CARD2", Severity::Warning);
        let c = finding("unused", "CARD3", Severity::Info);
        let seen: HashSet<String> = [a.id()].into();
        let who = DigestFor {
            username: "pm",
            email: "pm@example.nhs.uk",
            min_severity: Severity::Warning,
            seen: &seen,
            unsubscribe: "tok",
        };
        let slot = Timestamp::parse("2026-11-27T07:00:00Z").unwrap();
        let (m, ids) = digest(&who, &[&a, &b, &c], slot, "https://cw.example").unwrap();
        assert_eq!(ids, vec![b.id(), a.id()], "new first, info left out");
        assert!(m.subject.contains("1 new, 1 urgent"), "{}", m.subject);
        assert!(m.text.contains("NEW [warning] CARD2"), "{}", m.text);
        assert!(m.text.contains("https://cw.example/unsubscribe/tok"));
        assert!(m.html.contains("&lt;signing&gt;"), "escaped: {}", m.html);
        assert_eq!(m.key, format!("digest:pm:{}", slot.unix()));
        // Nothing new and nothing urgent: no email.
        let all: HashSet<String> = [b.id()].into();
        let quiet = DigestFor { seen: &all, ..who };
        assert!(digest(&quiet, &[&b, &c], slot, "x").is_none());
    }

    #[test]
    fn reminders_come_at_the_nearest_stage_and_say_what_to_do() {
        let d = |s: &str| Date::parse(s).unwrap();
        assert_eq!(reminder_stage(d("2026-01-01"), d("2026-03-15")), Some(90));
        assert_eq!(reminder_stage(d("2026-01-01"), d("2026-05-15")), None);
        assert_eq!(reminder_stage(d("2026-01-01"), d("2026-01-20")), Some(30));
        assert_eq!(reminder_stage(d("2026-01-01"), d("2026-01-05")), Some(7));
        assert_eq!(reminder_stage(d("2026-01-02"), d("2026-01-01")), None);
        let r = ReminderFor {
            card_serial: "CS1",
            purpose: "signing",
            expiry: d("2026-02-01"),
            planned: d("2026-01-20"),
            name: "Dr A",
            email: "a@example.nhs.uk",
            ra: "Riverside RA",
        };
        let m = reminder(&r, 30, d("2026-01-01"));
        assert!(m.text.contains("Renew certificates"), "{}", m.text);
        assert_eq!(m.key, "reminder:CS1:signing:2026-02-01:30");
        let late = reminder(&r, 7, d("2026-02-03"));
        assert!(late
            .text
            .contains("in person with your Registration Authority (Riverside RA)"));
    }

    #[test]
    fn webhook_bodies_take_each_receivers_shape() {
        let lines = vec!["one".to_owned(), "two".to_owned()];
        let j: serde_json::Value =
            serde_json::from_str(&hook_body(HookFormat::Json, "digest", "T", &lines, "L")).unwrap();
        assert_eq!(j["items"][1], "two");
        let t: serde_json::Value =
            serde_json::from_str(&hook_body(HookFormat::Teams, "digest", "T", &lines, "L"))
                .unwrap();
        assert_eq!(t["@type"], "MessageCard");
        assert_eq!(t["potentialAction"][0]["targets"][0]["uri"], "L");
        let s: serde_json::Value =
            serde_json::from_str(&hook_body(HookFormat::Slack, "digest", "T", &lines, "L"))
                .unwrap();
        assert!(s["text"].as_str().unwrap().starts_with("*T*"));
        assert!(HookFormat::parse("discord").is_err());
    }
}
