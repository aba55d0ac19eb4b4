//! A workstation's authentication client — NHS Identity Agent (CIS1) or NHS Smartcard Connect
//! (CIS2) — read from its installed software, and the rules about it: a client that stops
//! working on a date the catalogue gives, two clients at once, none at all, and a move to the
//! successor held up by an application that does not yet support it.

use std::borrow::Cow;

use crate::catalogue::{Catalogue, ClientEntry};
use crate::date::Date;
use crate::fasthash::FastMap;

use super::{Context, Out, Severity, SoftwareFacts, WorkstationFacts};

/// The clients whose component is installed, in the catalogue's order.
pub(super) fn clients_of<'c>(
    installed: &[SoftwareFacts],
    catalogue: &'c Catalogue,
) -> Vec<&'c ClientEntry> {
    catalogue
        .clients
        .iter()
        .filter(|c| installed.iter().any(|s| *s.component == *c.component))
        .collect()
}

/// How urgent a client's end is, by the days left to it.
fn severity_before(days_left: i32) -> Severity {
    match days_left {
        d if d < 0 => Severity::Critical,
        0..=30 => Severity::Urgent,
        31..=90 => Severity::Warning,
        _ => Severity::Info,
    }
}

/// Days before a client's end by which a workstation should have moved: a margin for the one
/// machine that goes first, out of core hours, before the rest follow in rings.
const MOVE_MARGIN_DAYS: i32 = 14;

/// What the client rules write is the same for every workstation on the same client (and, for
/// a blocked move, the same applications): written once per check and copied, since a national
/// estate has hundreds of thousands of workstations and a handful of distinct texts.
#[derive(Default)]
pub(super) struct Words<'c> {
    /// `auth-client-missing`'s fix.
    missing_fix: Option<String>,
    /// Per client (by its place in the catalogue): the retiring finding's fields, once
    /// computed; `None` inside when the client has no end.
    retiring: Vec<Option<Option<Retiring<'c>>>>,
    /// `auth-client-move-blocked`'s why, per successor and applications used (`None`: ready).
    blocked: FastMap<(usize, Vec<&'c str>), Option<String>>,
}

/// The fields of one client's `auth-client-retiring` finding.
struct Retiring<'c> {
    severity: Severity,
    due: Date,
    why: String,
    fix: String,
    /// The successor, when it needs the applications used to be ready for it.
    next: Option<(usize, &'c ClientEntry)>,
}

/// The rules for one workstation's client(s).
pub(super) fn judge<'c>(
    ws: &'c WorkstationFacts,
    installed: &'c [SoftwareFacts],
    clients: &[&'c ClientEntry],
    cx: &Context<'c>,
    words: &mut Words<'c>,
    out: &mut Out,
) {
    let cat = cx.catalogue;
    let urgent = |rule, why: String, fix: Cow<'static, str>, out: &mut Out| {
        push(
            ws,
            rule,
            Severity::Urgent,
            cx.today.add_days(7),
            why,
            fix,
            out,
        )
    };
    match clients {
        [] if !cat.clients.is_empty() => {
            let fix = words.missing_fix.get_or_insert_with(|| {
                format!(
                    "install {} and restart the workstation",
                    preferred(cat).map_or("a current client", |c| c.name.as_str())
                )
            });
            urgent(
                "auth-client-missing",
                "no smartcard authentication client is installed, so no card can sign in here"
                    .into(),
                fix.clone().into(),
                out,
            )
        }
        [_, _, ..] => {
            urgent(
                "auth-clients-both",
                format!(
                    "{} are installed together; they are never meant to be on one machine",
                    clients.iter().map(|c| c.name.as_str()).collect::<Vec<_>>().join(" and ")
                ),
                "keep one: uninstall the other out of clinic hours, restart, and check a card signs in and signs"
                    .into(),
                out,
            );
            // A machine with a retiring client beside its successor has not moved yet: it is
            // still one to move by the date (as the migration plan counts it), held up as any
            // other by the applications used on it.
            for client in clients {
                retiring(ws, installed, client, cx, words, out);
            }
        }
        [client] => retiring(ws, installed, client, cx, words, out),
        [] => {}
    }
}

/// Every client finding is IT's, about one workstation.
fn push(
    ws: &WorkstationFacts,
    rule: &'static str,
    severity: Severity,
    due: Date,
    why: String,
    fix: Cow<'static, str>,
    out: &mut Out,
) {
    out.it_workstation(
        rule,
        severity,
        ws.hostname.as_str(),
        &ws.site_ods,
        due,
        why,
        fix,
    );
}

/// The client the catalogue moves everyone to: one with no end date that is some other client's
/// successor, else any with no end date.
fn preferred(cat: &Catalogue) -> Option<&ClientEntry> {
    let open = |c: &&ClientEntry| c.works_until.is_none();
    cat.clients
        .iter()
        .filter(open)
        .find(|c| {
            cat.clients
                .iter()
                .any(|o| o.successor.as_deref() == Some(&c.id))
        })
        .or_else(|| cat.clients.iter().find(open))
}

/// A client that stops working on a date: the workstation must move to its successor before
/// then, unless an application it uses is not ready for the successor.
fn retiring<'c>(
    ws: &'c WorkstationFacts,
    installed: &'c [SoftwareFacts],
    client: &'c ClientEntry,
    cx: &Context<'c>,
    words: &mut Words<'c>,
    out: &mut Out,
) {
    let cat = cx.catalogue;
    let Some(at) = cat.clients.iter().position(|c| std::ptr::eq(c, client)) else {
        return;
    };
    if words.retiring.len() < cat.clients.len() {
        words.retiring.resize_with(cat.clients.len(), || None);
    }
    let Some(r) = words.retiring[at]
        .get_or_insert_with(|| retiring_words(client, cx))
        .as_ref()
    else {
        return;
    };
    push(
        ws,
        "auth-client-retiring",
        r.severity,
        r.due,
        r.why.clone(),
        r.fix.clone().into(),
        out,
    );
    let Some((next_at, next)) = r.next else {
        return;
    };
    let installed = installed.iter().map(|s| &*s.component);
    let used = cat.applications_used(ws.applications.as_deref(), installed);
    let why = words
        .blocked
        .entry((next_at, used))
        .or_insert_with_key(|(_, used)| {
            let waiting = cat.not_ready(used.iter().copied());
            (!waiting.is_empty()).then(|| {
                format!(
                    "cannot move to {} until every application used here supports it: {}",
                    next.name,
                    waiting.join(", ")
                )
            })
        });
    let Some(why) = why else {
        return;
    };
    push(
        ws,
        "auth-client-move-blocked",
        r.severity,
        r.due,
        why.clone(),
        "ask each supplier when it supports CIS2 authentication (Smartcard Connect) and record the answer in the catalogue; move the workstation once all do"
            .into(),
        out,
    );
}

/// A retiring client's finding, the same on every workstation that signs in with it.
fn retiring_words<'c>(client: &'c ClientEntry, cx: &Context<'c>) -> Option<Retiring<'c>> {
    let end = client.works_until?;
    let days = cx.today.days_until(end);
    let severity = severity_before(days);
    let next = client
        .successor
        .as_deref()
        .and_then(|s| cx.catalogue.client(s));
    let next_name = next.map_or("a current client", |n| n.name.as_str());
    let move_by = end.add_days(-MOVE_MARGIN_DAYS);
    let when = if days < 0 {
        format!("stopped working on {end}")
    } else {
        format!("stops working on {end} ({})", days_left(days))
    };
    Some(Retiring {
        severity,
        due: if days < 0 { cx.today } else { move_by },
        why: format!("signs in with {}, which {when}", client.name),
        fix: format!(
            "move it to {next_name} by {move_by}: one machine first, out of core hours, then the rest in rings; uninstall {} as {next_name} goes on (never both)",
            client.name
        ),
        next: next.filter(|n| n.needs_ready_applications).and_then(|n| {
            let at = cx.catalogue.clients.iter().position(|c| std::ptr::eq(c, n))?;
            Some((at, n))
        }),
    })
}

/// "84 days", "1 day", "today".
fn days_left(days: i32) -> String {
    match days {
        0 => "today".into(),
        1 => "1 day left".into(),
        d => format!("{d} days left"),
    }
}
