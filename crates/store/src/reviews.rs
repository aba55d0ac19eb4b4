//! Access reviews (SPEC "Govern": who has which role, and why; attest keep or remove): the
//! positions in force at the caller's sites with each one's latest decision, and decisions
//! recorded — audited, in the same transaction. Written once for both backends.

use cardwatch_core::date::Timestamp;
use serde::Serialize;

use crate::exec::{with_exec, with_read, Entry, P, V};
use crate::{Change, Store, StoreError};

/// What a reviewer decided.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Decision {
    /// The holder still needs the role.
    Keep,
    /// The role is taken away.
    Remove,
}

impl Decision {
    /// Its stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Keep => "keep",
            Decision::Remove => "remove",
        }
    }

    /// `keep` or `remove`.
    pub fn parse(s: &str) -> Result<Decision, String> {
        match s.trim() {
            "keep" => Ok(Decision::Keep),
            "remove" => Ok(Decision::Remove),
            other => Err(format!("decision {other:?}: use keep or remove")),
        }
    }
}

/// The latest decision on a position.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Decided {
    /// When.
    pub at: Timestamp,
    /// Who (`web:USERNAME`).
    pub reviewer: String,
    /// `keep` or `remove`.
    pub decision: String,
    /// Why.
    pub reason: String,
}

/// A position in force, to review.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ToReview {
    /// The holder's UUID.
    pub holder_uuid: String,
    /// The holder's name.
    pub name: String,
    /// The holder's site.
    pub site_ods: String,
    /// Where the role is held.
    pub ods_code: String,
    /// The role's code.
    pub role_code: String,
    /// The role's name.
    pub role_name: String,
    /// Its activity codes, space-separated.
    pub activity_codes: String,
    /// When it was approved (ISO date), if recorded.
    pub approved_on: Option<String>,
    /// The latest review, if any.
    pub last: Option<Decided>,
}

/// Which positions to list.
#[derive(Clone, Debug)]
pub struct ReviewQuery {
    /// The holders' sites the caller sees; `None` for every site.
    pub sites: Option<Vec<String>>,
    /// Only those not reviewed since this moment (due); `None` for all.
    pub not_since: Option<Timestamp>,
    /// Skip this many.
    pub offset: usize,
    /// At most this many.
    pub limit: usize,
}

/// The positions in force that a query asks for, by site, holder and role: (how many in all,
/// the page).
pub fn to_review(store: &dyn Store, q: &ReviewQuery) -> Result<(u64, Vec<ToReview>), StoreError> {
    let mut params: Vec<P> = Vec::new();
    let mut filter = String::from("p.status = 'active'");
    if let Some(sites) = &q.sites {
        if sites.is_empty() {
            return Ok((0, Vec::new()));
        }
        let within = crate::exec::in_list("pe.site_ods", sites, &mut params);
        filter.push_str(&format!(" AND {within}"));
    }
    if let Some(t) = q.not_since {
        params.push(P::I(t.unix()));
        filter.push_str(&format!(
            " AND (r.decided_at IS NULL OR r.decided_at < ${})",
            params.len()
        ));
    }
    // Each position with its newest decision, if any.
    let from = "positions p JOIN people pe ON pe.uuid = p.holder_uuid \
         LEFT JOIN access_reviews r ON r.holder_uuid = p.holder_uuid AND r.ods_code = p.ods_code \
         AND r.role_code = p.role_code AND r.decided_at = (SELECT MAX(r2.decided_at) \
         FROM access_reviews r2 WHERE r2.holder_uuid = p.holder_uuid \
         AND r2.ods_code = p.ods_code AND r2.role_code = p.role_code)";
    with_read(store, |x| {
        let (total, rows) = crate::exec::counted_page(
            x,
            "p.holder_uuid, pe.name, pe.site_ods, p.ods_code, p.role_code, p.role_name, \
             p.activity_codes, CAST(p.approved_on AS TEXT), r.decided_at, r.reviewer, \
             r.decision, r.reason",
            &format!("{from} WHERE {filter}"),
            "pe.site_ods, pe.name, p.holder_uuid, p.ods_code, p.role_code",
            &params,
            Some(q.limit),
            q.offset,
        )?;
        let list = rows
            .into_iter()
            .map(|mut r| {
                let mut take = |i: usize| std::mem::replace(&mut r[i], V::Null);
                ToReview {
                    holder_uuid: take(0).into_text(),
                    name: take(1).into_text(),
                    site_ods: take(2).into_text(),
                    ods_code: take(3).into_text(),
                    role_code: take(4).into_text(),
                    role_name: take(5).into_text(),
                    activity_codes: take(6).into_text(),
                    approved_on: take(7).opt_text().map(str::to_owned),
                    last: take(8).opt_int().map(|at| Decided {
                        at: Timestamp::from_unix(at),
                        reviewer: take(9).into_text(),
                        decision: take(10).into_text(),
                        reason: take(11).into_text(),
                    }),
                }
            })
            .collect();
        Ok((total, list))
    })
}

/// Decides on a holder's position in force (audited as `access_review`): keep attests it; remove
/// takes it away through its lifecycle first. A position not in force is refused.
pub fn decide(
    store: &dyn Store,
    holder: &str,
    ods: &str,
    role: &str,
    decision: Decision,
    reason: &str,
    change: &Change,
) -> Result<(), StoreError> {
    if decision == Decision::Remove {
        crate::positions::set_position_status(
            store,
            holder,
            ods,
            role,
            cardwatch_core::vocab::PositionStatus::Removed,
            change.at.date(),
            change,
        )?;
    }
    with_exec(store, |x| {
        if decision == Decision::Keep {
            keep(x, holder, ods, role, reason, change)
        } else {
            record(x, holder, ods, role, decision, reason, change)
        }
    })
}

/// Records a "keep", refused unless the position is in force.
fn keep(
    x: &mut dyn crate::exec::Exec,
    holder: &str,
    ods: &str,
    role: &str,
    reason: &str,
    change: &Change,
) -> Result<(), StoreError> {
    if x.rows(
        "SELECT 1 FROM positions WHERE holder_uuid = $1 AND ods_code = $2 \
         AND role_code = $3 AND status = 'active'",
        &[holder.into(), ods.into(), role.into()],
    )?
    .is_empty()
    {
        return Err(StoreError::Invalid(format!(
            "{holder} holds no position {role} at {ods} in force"
        )));
    }
    record(x, holder, ods, role, Decision::Keep, reason, change)
}

/// Writes a decision and its audit record.
fn record(
    x: &mut dyn crate::exec::Exec,
    holder: &str,
    ods: &str,
    role: &str,
    decision: Decision,
    reason: &str,
    change: &Change,
) -> Result<(), StoreError> {
    x.exec(
        "INSERT INTO access_reviews (holder_uuid, ods_code, role_code, decided_at, reviewer, \
         decision, reason) VALUES ($1, $2, $3, $4, $5, $6, $7) \
         ON CONFLICT (holder_uuid, ods_code, role_code, decided_at) DO UPDATE SET \
         reviewer = excluded.reviewer, decision = excluded.decision, reason = excluded.reason",
        &[
            holder.into(),
            ods.into(),
            role.into(),
            change.at.unix().into(),
            change.actor.as_str().into(),
            decision.as_str().into(),
            reason.into(),
        ],
    )?;
    x.audit(
        change,
        &Entry {
            action: decision.as_str(),
            kind: "access_review",
            key: &format!("{holder}\u{1f}{ods}\u{1f}{role}"),
            before: None,
            after: Some(serde_json::json!({ "reason": reason }).to_string()),
        },
    )
}

/// A position in force attested as kept: its holder, where, the role, why, and who and when.
#[derive(Clone, Debug)]
pub struct Kept<'a> {
    /// The holder's UUID.
    pub holder: &'a str,
    /// Where the role is held.
    pub ods: &'a str,
    /// The role's code.
    pub role: &'a str,
    /// Why it was kept.
    pub reason: &'a str,
    /// Who decided, and when.
    pub change: Change,
}

/// Records many "keep" decisions in one transaction, each checked and audited as [`decide`]
/// records one: for a backlog of reviews written at once (the demo's past), where a transaction
/// each would cost a commit each. Any position not in force refuses the lot.
pub fn keep_all(store: &dyn Store, kept: &[Kept<'_>]) -> Result<(), StoreError> {
    with_exec(store, |x| {
        for k in kept {
            keep(x, k.holder, k.ods, k.role, k.reason, &k.change)?;
        }
        Ok(())
    })
}

/// Every decision on a holder's positions, newest first: (organisation, role, the decision).
pub fn decisions_of(
    store: &dyn Store,
    holder: &str,
) -> Result<Vec<(String, String, Decided)>, StoreError> {
    with_read(store, |x| {
        Ok(x.rows(
            "SELECT ods_code, role_code, decided_at, reviewer, decision, reason \
                 FROM access_reviews WHERE holder_uuid = $1 ORDER BY decided_at DESC",
            &[holder.into()],
        )?
        .into_iter()
        .map(|mut r| {
            let mut take = |i: usize| std::mem::replace(&mut r[i], V::Null);
            (
                take(0).into_text(),
                take(1).into_text(),
                Decided {
                    at: Timestamp::from_unix(take(2).int()),
                    reviewer: take(3).into_text(),
                    decision: take(4).into_text(),
                    reason: take(5).into_text(),
                },
            )
        })
        .collect())
    })
}
