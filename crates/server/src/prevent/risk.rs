//! The estate's risk as metrics, written once per full health check (never per scrape, which
//! at national size would repeat seconds of work): open findings by severity and rule,
//! certificates by how soon they lapse and what they are for, workstations in the move to the
//! successor authentication client, cards of retired series still in use, and when the check
//! ran. Labels are rules, severities, purposes and windows only — never a site, person or card.

use std::collections::BTreeMap;
use std::time::Duration;

use cardwatch_core::date::{Date, Timestamp};
use cardwatch_core::health::Noted;
use cardwatch_core::migration::{plan, Settings, Totals};
use cardwatch_store::{load_workstations, Store, StoreError};

use crate::web::metrics::Text;
use crate::Checks;

/// Where the estate's workstations stand in the move off the retiring client, or `None` when
/// the catalogue names no client retiring into a successor.
pub(crate) fn migration(
    store: &dyn Store,
    checks: &Checks,
    today: Date,
) -> Result<Option<Totals>, StoreError> {
    if checks.catalogue.retiring().is_none() {
        return Ok(None);
    }
    let estate = load_workstations(store)?;
    // The migration page's defaults: no daily limit, a fortnight's margin.
    let settings = Settings {
        from: today,
        calendar: &checks.calendar,
        per_day: None,
        margin_days: 14,
    };
    Ok(plan(&estate, &checks.catalogue, &settings).map(|p| p.totals()))
}

/// The estate's families as Prometheus text.
pub(crate) fn text(
    all: &[Noted],
    migration: Option<Totals>,
    finished: Timestamp,
    took: Duration,
) -> String {
    let mut findings: BTreeMap<(&str, &str), u64> = BTreeMap::new();
    // purpose → [expired, within 7, within 30, within 90 days]; each window holds the shorter.
    // Both purposes are always written, so an alert on them never meets an absent series.
    let mut certificates: BTreeMap<&str, [u64; 4]> =
        BTreeMap::from([("authentication", [0; 4]), ("signing", [0; 4])]);
    let mut retired_series = 0u64;
    for n in all {
        let f = &n.finding;
        if n.is_open() {
            *findings.entry((f.severity.as_str(), f.rule)).or_default() += 1;
        }
        if let Some(rest) = f.rule.strip_prefix("cert-") {
            if let Some((purpose, window)) = rest.rsplit_once('-') {
                let reach = match window {
                    "expired" => 0..1,
                    "7d" => 1..4,
                    "30d" => 2..4,
                    "90d" => 3..4,
                    _ => 0..0,
                };
                let counts = certificates.entry(purpose).or_default();
                for i in reach {
                    counts[i] += 1;
                }
            }
        }
        if f.rule == "series-retired" {
            retired_series += 1;
        }
    }
    let mut out = Text::default();
    out.family(
        "cardwatch_findings",
        "gauge",
        "Open findings (neither acknowledged nor snoozed) of the last full health check, by severity and rule.",
    );
    for ((severity, rule), n) in &findings {
        out.sample(
            "cardwatch_findings",
            &[("severity", severity), ("rule", rule)],
            n,
        );
    }
    out.family(
        "cardwatch_certificates_expired",
        "gauge",
        "Certificates of cards in use already past their last valid day, by purpose.",
    );
    for (purpose, c) in &certificates {
        out.sample(
            "cardwatch_certificates_expired",
            &[("purpose", purpose)],
            c[0],
        );
    }
    out.family(
        "cardwatch_certificates_expiring",
        "gauge",
        "Certificates of cards in use that lapse within 7, 30 or 90 days (each window holds the shorter ones), by purpose.",
    );
    for (purpose, c) in &certificates {
        for (i, days) in ["7", "30", "90"].iter().enumerate() {
            out.sample(
                "cardwatch_certificates_expiring",
                &[("purpose", purpose), ("within_days", days)],
                c[i + 1],
            );
        }
    }
    out.family(
        "cardwatch_migration_workstations",
        "gauge",
        "Workstations in the move to the successor authentication client: moved, to_move (plannable in time), late (not plannable in time) or blocked (by an application).",
    );
    if let Some(t) = migration {
        for (state, n) in [
            ("moved", t.moved),
            ("to_move", t.planned),
            ("late", t.late),
            ("blocked", t.blocked),
        ] {
            out.sample("cardwatch_migration_workstations", &[("state", state)], n);
        }
    }
    out.family(
        "cardwatch_retired_series_active_cards",
        "gauge",
        "Cards in use of a series that has stopped working.",
    );
    out.sample("cardwatch_retired_series_active_cards", &[], retired_series);
    out.family(
        "cardwatch_health_check_last_run_timestamp_seconds",
        "gauge",
        "When the last full health check finished (Unix time).",
    );
    out.sample(
        "cardwatch_health_check_last_run_timestamp_seconds",
        &[],
        finished.unix(),
    );
    out.family(
        "cardwatch_health_check_duration_seconds",
        "gauge",
        "How long the last full health check took, reading the estate included.",
    );
    out.sample(
        "cardwatch_health_check_duration_seconds",
        &[],
        took.as_secs_f64(),
    );
    out.0
}
