//! A workstation's authentication client — NHS Identity Agent (CIS1) or NHS Smartcard Connect
//! (CIS2) — read from its installed software, and the rules about it: a client that stops
//! working on a date the catalogue gives, two clients at once, none at all, and a move to the
//! successor held up by an application that does not yet support it.

use crate::catalogue::{Catalogue, ClientEntry};

use super::{Context, Out, Owner, Severity, SoftwareFacts, SubjectKind, WorkstationFacts};

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

/// The rules for one workstation's client(s).
pub(super) fn judge(
    ws: &WorkstationFacts,
    installed: &[SoftwareFacts],
    clients: &[&ClientEntry],
    cx: &Context<'_>,
    out: &mut Out,
) {
    let host = ws.hostname.as_str();
    let site = &*ws.site_ods;
    let cat = cx.catalogue;
    match clients {
        [] if !cat.clients.is_empty() => out.push(
            "auth-client-missing",
            Severity::Urgent,
            SubjectKind::Workstation,
            host,
            site,
            Owner::It,
            cx.today.add_days(7),
            "no smartcard authentication client is installed, so no card can sign in here".into(),
            format!("install {} and restart the workstation", preferred(cat).map_or("a current client", |c| c.name.as_str()))
                .into(),
        ),
        [_, _, ..] => out.push(
            "auth-clients-both",
            Severity::Urgent,
            SubjectKind::Workstation,
            host,
            site,
            Owner::It,
            cx.today.add_days(7),
            format!(
                "{} are installed together; they are never meant to be on one machine",
                clients.iter().map(|c| c.name.as_str()).collect::<Vec<_>>().join(" and ")
            ),
            "keep one: uninstall the other out of clinic hours, restart, and check a card signs in and signs"
                .into(),
        ),
        [client] => retiring(ws, installed, client, cx, out),
        [] => {}
    }
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
fn retiring(
    ws: &WorkstationFacts,
    installed: &[SoftwareFacts],
    client: &ClientEntry,
    cx: &Context<'_>,
    out: &mut Out,
) {
    let Some(end) = client.works_until else {
        return;
    };
    let host = ws.hostname.as_str();
    let site = &*ws.site_ods;
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
    out.push(
        "auth-client-retiring",
        severity,
        SubjectKind::Workstation,
        host,
        site,
        Owner::It,
        if days < 0 { cx.today } else { move_by },
        format!("signs in with {}, which {when}", client.name),
        format!(
            "move it to {next_name} by {move_by}: one machine first, out of core hours, then the rest in rings; uninstall {} as {next_name} goes on (never both)",
            client.name
        )
        .into(),
    );
    let Some(next) = next.filter(|n| n.needs_ready_applications) else {
        return;
    };
    let installed = installed.iter().map(|s| &*s.component);
    let waiting = cx.catalogue.not_ready(
        cx.catalogue
            .applications_used(ws.applications.as_deref(), installed),
    );
    if waiting.is_empty() {
        return;
    }
    out.push(
        "auth-client-move-blocked",
        severity,
        SubjectKind::Workstation,
        host,
        site,
        Owner::It,
        if days < 0 { cx.today } else { move_by },
        format!(
            "cannot move to {} until every application used here supports it: {}",
            next.name,
            waiting.join(", ")
        ),
        "ask each supplier when it supports CIS2 authentication (Smartcard Connect) and record the answer in the catalogue; move the workstation once all do"
            .into(),
    );
}

/// "84 days", "1 day", "today".
fn days_left(days: i32) -> String {
    match days {
        0 => "today".into(),
        1 => "1 day left".into(),
        d => format!("{d} days left"),
    }
}
