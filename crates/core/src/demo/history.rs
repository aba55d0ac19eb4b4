//! The demo estate's past: [`DAYS`] days of incidents before its "today", access reviews, and the
//! lockouts of one site's bad week — so that the incidents page, the reports, the learning triage
//! and the reviews have something true to show from the first visit.
//!
//! Incidents are drawn from the triage knowledge base: a symptom as often as the desk meets it,
//! its true cause from the symptom's priors, one or two checks answered as that cause answers
//! them, then the symptom's fixes in the order a desk that knows only the priors would try them
//! (likeliest to work per minute first), each clearing the cause as often as the base says. A fix
//! that works resolves the incident with its cause; running out of desk fixes or of time hands it
//! over. Minutes are the checks' and fixes' own. On top of that background:
//! - one site has a run of locked cards over a few recent days (with the lockouts on the cards);
//! - the Smartcard Connect release on the pilot rings ([`super::PILOT_RELEASE`]) fails on most of
//!   its machines since it went out, and no desk fix clears it, so failures follow that version
//!   and the reports propose holding its rollout.
//!
//! Everything is decided from the estate `generate` makes and the seed, so the same config and
//! base give the same history. Nothing here writes: the caller opens, steps and closes each
//! incident through the store as the triage wizard does, so the audit chain holds them as any
//! other.

use std::collections::{BTreeMap, HashMap};

use super::{generate, DemoConfig, Rng, PILOT_RELEASE};
use crate::card_status::CardStatus;
use crate::date::{Date, Timestamp};
use crate::estate::Lockout;
use crate::ids::CardSerial;
use crate::records::Record;
use crate::reports::{version_rates, RingCount, VersionCount, VersionRate};
use crate::triage::{
    IncidentStatus, IncidentStep, KnowledgeBase, NewIncident, Who, APPLICATIONS, FIXED, NOT_FIXED,
};
use crate::vocab::{OrgType, PositionStatus, UpdateRing};

/// How far back the incidents go, in days before the demo's today.
pub const DAYS: i32 = 90;
/// Who recorded the demo's incidents and reviews: the demo's own operator, as the web wizard
/// names its callers.
pub const REPORTER: &str = "web:demo";
/// How long ago the pilot rings took the release, in days.
pub const RELEASE_DAYS: i32 = 35;
/// A year: a position not reviewed for this long is due.
const REVIEW_EVERY_DAYS: i32 = 365;

/// Background incidents per card holder over [`DAYS`] days, in hundredths: a practice of 40
/// meets about six. Kept low enough that one machine in four or five fails in the period, so a
/// version whose machines fail far more often stands out against the rest.
const INCIDENTS_PER_HUNDRED_HOLDERS: u64 = 15;
/// Of the release's machines, the share that fail (at least three, where there are three).
const RELEASE_FAILING: f64 = 0.75;

/// How often the desk meets each symptom, relative to one another; a symptom the base has and this
/// table does not gets [`OTHER_SYMPTOM_WEIGHT`]. Symptoms of Smartcard Connect are drawn only at
/// sites that have it.
const SYMPTOM_WEIGHTS: &[(&str, u32)] = &[
    ("card-not-recognised", 22),
    ("pin-rejected", 16),
    ("cannot-sign", 14),
    ("card-locked", 10),
    ("limited-functionality", 8),
    ("renewal-prompt", 8),
    ("spine-timeouts", 6),
    ("after-update", 5),
    ("no-pin-prompt", 3),
    ("still-signed-in-after-removal", 2),
];
const OTHER_SYMPTOM_WEIGHT: u32 = 1;
const SMARTCARD_CONNECT_SYMPTOMS: &[&str] = &["no-pin-prompt", "still-signed-in-after-removal"];

/// What the holder was doing, by symptom.
const DOING: &[(&str, &[&str])] = &[
    (
        "cannot-sign",
        &[
            "signing a prescription",
            "authorising a batch of repeat prescriptions",
        ],
    ),
    (
        "card-not-recognised",
        &[
            "logging in at the start of the session",
            "logging in after lunch",
        ],
    ),
    (
        "pin-rejected",
        &[
            "logging in at the start of the morning session",
            "logging back in after a break",
        ],
    ),
    (
        "card-locked",
        &[
            "logging in at the start of the morning session",
            "logging back in after a break",
        ],
    ),
    (
        "limited-functionality",
        &[
            "opening the clinical system",
            "amending a patient's details",
        ],
    ),
    (
        "spine-timeouts",
        &[
            "looking up a patient's Summary Care Record",
            "sending a referral",
        ],
    ),
    ("after-update", &["logging in after the overnight updates"]),
    ("no-pin-prompt", &["logging in at the start of the session"]),
    ("renewal-prompt", &["logging in"]),
];

/// One incident of the past, as the wizard would have recorded it.
#[derive(Clone, Debug, PartialEq)]
pub struct PastIncident {
    /// When it was opened.
    pub opened_at: Timestamp,
    /// What was known then.
    pub opened: NewIncident,
    /// The checks answered and fixes tried, in order.
    pub steps: Vec<IncidentStep>,
    /// Resolved or escalated; open for one of [`desk_today`]'s still being worked.
    pub status: IncidentStatus,
    /// For a resolved one, the cause the working fix confirmed.
    pub cause: Option<String>,
    /// When it was resolved or handed over (for an open one, its last step).
    pub closed_at: Timestamp,
}

/// An access review decided in the past: the position was kept.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PastReview {
    /// When.
    pub at: Timestamp,
    /// The holder's UUID.
    pub holder_uuid: String,
    /// Where the role is held.
    pub ods_code: String,
    /// The role.
    pub role_code: String,
    /// Why it was kept.
    pub reason: String,
}

/// The demo's past.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct History {
    /// Incidents, oldest first.
    pub incidents: Vec<PastIncident>,
    /// Review decisions, oldest first.
    pub reviews: Vec<PastReview>,
    /// Lockouts on the cards of the site's bad week, to add to the estate.
    pub lockouts: Vec<Lockout>,
    /// The site with the run of lockouts, if the estate had one to give.
    pub lockout_site: Option<String>,
    /// The practices whose annual access review is overdue.
    pub reviews_overdue: Vec<String>,
}

struct Holder {
    uuid: String,
    site: String,
    employment_end: Option<Date>,
    card: Option<String>,
    status: CardStatus,
    locked_before: bool,
}

struct Host {
    hostname: String,
    site: String,
    ring: UpdateRing,
    apps: Vec<String>,
    smartcard_connect: bool,
    release: bool,
    /// What the reports judge it by: (component, version) of its software, its Windows build
    /// (`windows`) and its reader's firmware (`reader VENDOR MODEL`).
    versions: Vec<(String, String)>,
}

struct Pos {
    holder: usize,
    role: String,
    approved_on: Option<Date>,
}

#[derive(Default)]
struct Practice {
    ods: String,
    holders: Vec<usize>,
    hosts: Vec<usize>,
    positions: Vec<Pos>,
}

/// What the history needs of the estate, practice by practice.
#[derive(Default)]
struct Facts {
    practices: Vec<Practice>,
    holders: Vec<Holder>,
    hosts: Vec<Host>,
}

impl Facts {
    fn of(cfg: &DemoConfig) -> Facts {
        let mut f = Facts::default();
        let mut by_uuid: HashMap<String, usize> = HashMap::new();
        let mut by_card: HashMap<String, usize> = HashMap::new();
        let mut by_host: HashMap<String, usize> = HashMap::new();
        generate(cfg, |r| match r {
            Record::Organisation(o) if o.org_type == OrgType::GpPractice => {
                f.practices.push(Practice {
                    ods: o.ods_code.as_str().to_owned(),
                    ..Practice::default()
                });
            }
            Record::Person(p) => {
                let i = f.holders.len();
                by_uuid.insert(p.uuid.as_str().to_owned(), i);
                f.holders.push(Holder {
                    uuid: p.uuid.as_str().to_owned(),
                    site: p.site_ods.as_str().to_owned(),
                    employment_end: p.employment_end,
                    card: None,
                    status: CardStatus::Active,
                    locked_before: false,
                });
                if let Some(pr) = f.practices.last_mut() {
                    pr.holders.push(i);
                }
            }
            Record::Card(c) => {
                if let Some(&i) = by_uuid.get(c.holder_uuid.as_str()) {
                    f.holders[i].card = Some(c.card_serial.as_str().to_owned());
                    f.holders[i].status = c.status;
                    by_card.insert(c.card_serial.as_str().to_owned(), i);
                }
            }
            Record::Lockout(l) => {
                if let Some(&i) = by_card.get(l.card_serial.as_str()) {
                    f.holders[i].locked_before = true;
                }
            }
            Record::Position(p) if p.status == PositionStatus::Active => {
                if let (Some(&holder), Some(pr)) =
                    (by_uuid.get(p.holder_uuid.as_str()), f.practices.last_mut())
                {
                    pr.positions.push(Pos {
                        holder,
                        role: p.role_code.as_str().to_owned(),
                        approved_on: p.approved_on,
                    });
                }
            }
            Record::Workstation(w) => {
                let i = f.hosts.len();
                by_host.insert(w.hostname.as_str().to_owned(), i);
                f.hosts.push(Host {
                    hostname: w.hostname.as_str().to_owned(),
                    site: w.site_ods.as_str().to_owned(),
                    ring: w.update_ring,
                    versions: vec![("windows".to_owned(), w.os_build.clone())],
                    apps: w
                        .applications
                        .iter()
                        .filter(|a| APPLICATIONS.contains(&a.as_str()))
                        .cloned()
                        .collect(),
                    smartcard_connect: false,
                    release: false,
                });
                if let Some(pr) = f.practices.last_mut() {
                    pr.hosts.push(i);
                }
            }
            Record::Software(s) => {
                if let Some(&i) = by_host.get(s.hostname.as_str()) {
                    let h = &mut f.hosts[i];
                    if s.component == PILOT_RELEASE.0 {
                        h.smartcard_connect = true;
                        h.release |= s.version == PILOT_RELEASE.1;
                    }
                    h.versions.push((s.component, s.version));
                }
            }
            Record::Reader(r) => {
                if let (Some(host), Some(firmware)) = (&r.hostname, r.firmware) {
                    if let Some(&i) = by_host.get(host.as_str()) {
                        f.hosts[i]
                            .versions
                            .push((format!("reader {} {}", r.vendor, r.model), firmware));
                    }
                }
            }
            _ => {}
        });
        f
    }
}

/// A number in `0..weights.len()` drawn with the given (non-negative) weights.
fn draw(rng: &mut Rng, weights: &[f64]) -> usize {
    let total: f64 = weights.iter().sum();
    let mut x = (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64 * total;
    for (i, &w) in weights.iter().enumerate() {
        if x < w {
            return i;
        }
        x -= w;
    }
    weights.len().saturating_sub(1)
}

/// A weekday `1..=back` days before `today` (never today itself: the demo's past is done). A
/// weekend day moves to the Monday after it, or, where that would be today, to the Friday
/// before, so no day falls outside the window.
fn weekday_before(rng: &mut Rng, today: Date, back: i32) -> Date {
    let ago = rng.range(1, i64::from(back.max(3)) + 1) as i32;
    let day = today.add_days(-ago);
    match day.weekday() {
        5 if ago > 2 => day.add_days(2),
        5 => day.add_days(-1),
        6 if ago > 1 => day.add_days(1),
        6 => day.add_days(-2),
        _ => day,
    }
}

/// A moment in the working day (08:00–18:00) of `day`, to the minute.
fn working_hours(rng: &mut Rng, day: Date) -> Timestamp {
    Timestamp::from_unix(Timestamp::start_of(day).unix() + 8 * 3600 + rng.range(0, 600) * 60)
}

/// The base's indices of the symptoms the desk meets, with their weights.
fn symptom_mix(kb: &KnowledgeBase, smartcard_connect: bool) -> (Vec<usize>, Vec<u32>) {
    kb.symptoms
        .iter()
        .enumerate()
        .filter(|(_, s)| smartcard_connect || !SMARTCARD_CONNECT_SYMPTOMS.contains(&s.id.as_str()))
        .map(|(i, s)| {
            let w = SYMPTOM_WEIGHTS
                .iter()
                .find(|(id, _)| *id == s.id)
                .map_or(OTHER_SYMPTOM_WEIGHT, |&(_, w)| w);
            (i, w)
        })
        .unzip()
}

/// How the desk walked one incident: its steps, how it ended, and when.
struct Walked {
    steps: Vec<IncidentStep>,
    status: IncidentStatus,
    cause: Option<String>,
    closed_at: Timestamp,
}

/// Answers a check gets when nothing in the base explains the fault (the release): what the desk
/// sees of a machine that updated and now fails.
const RELEASE_ANSWERS: &[(&str, &str)] = &[
    ("recent-update", "yes"),
    ("auth-client", "smartcard-connect"),
    ("card-seated", "yes"),
    ("reader-light", "yes"),
];

/// The desk's walk through symptom `s` whose true cause is `cause` (an index in the base), or a
/// fault no fix in the base clears (`None`).
fn walk(
    kb: &KnowledgeBase,
    rng: &mut Rng,
    s: usize,
    cause: Option<usize>,
    opened_at: Timestamp,
) -> Walked {
    let sym = &kb.symptoms[s];
    // Taking the call and reading what is on the screen.
    let mut at = opened_at.unix() + rng.range(60, 240);
    let mut steps = Vec::new();
    // One or two checks, answered as the cause answers them.
    let mut checks = sym.checks.clone();
    for _ in 0..rng.range(1, 3) {
        if checks.is_empty() {
            break;
        }
        let c = checks.remove(rng.range(0, checks.len() as i64) as usize);
        let check = &kb.checks[c];
        let result = match cause {
            // As the cause answers it; an answer the cause seldom gives (a reader's light off
            // when the passcode was typed too soon) would read as a contradiction on the
            // incident's page, so the cause's usual answer stands in for it.
            Some(k) => check
                .likelihood
                .get(k)
                .map(|l| {
                    let r = draw(rng, l);
                    if l[r] >= 0.15 {
                        r
                    } else {
                        (0..l.len())
                            .max_by(|&a, &b| l[a].total_cmp(&l[b]))
                            .unwrap_or(r)
                    }
                })
                .and_then(|r| check.results.get(r).cloned()),
            None => RELEASE_ANSWERS
                .iter()
                .find(|(id, r)| *id == check.id && check.results.iter().any(|x| x == r))
                .map(|(_, r)| (*r).to_owned()),
        };
        if let Some(result) = result {
            at += (check.cost_minutes * 60.0) as i64 + rng.range(0, 60);
            steps.push(IncidentStep {
                at: Timestamp::from_unix(at),
                id: check.id.clone(),
                result,
            });
        }
    }
    // The fixes, likeliest to work per minute first (by the shipped priors: the desk does not
    // know the cause), last resorts last.
    let worth = |f: usize| -> f64 {
        let fix = &kb.fixes[f];
        let p: f64 = sym
            .causes
            .iter()
            .map(|&(c, prior)| prior * fix.success.get(c).copied().unwrap_or(0.0))
            .sum();
        p / fix.cost_minutes.max(0.5)
    };
    let mut order = sym.fixes.clone();
    order.sort_by(|&a, &b| {
        kb.fixes[a]
            .last_resort
            .cmp(&kb.fixes[b].last_resort)
            .then(worth(b).total_cmp(&worth(a)))
            .then(a.cmp(&b))
    });
    for f in order {
        let fix = &kb.fixes[f];
        let elapsed = (at - opened_at.unix()) as f64 / 60.0;
        // A re-issue or anything only the RA can do, or a fault that has taken long enough, is
        // handed over.
        if fix.last_resort || fix.who == Who::Ra || elapsed >= kb.settings.escalate_after_minutes {
            break;
        }
        at += (fix.cost_minutes * 60.0) as i64 + rng.range(0, 120);
        let worked = cause.is_some_and(|c| {
            let p = fix.success.get(c).copied().unwrap_or(0.0);
            p > 0.0 && rng.chance(p)
        });
        steps.push(IncidentStep {
            at: Timestamp::from_unix(at),
            id: fix.id.clone(),
            result: if worked { FIXED } else { NOT_FIXED }.to_owned(),
        });
        if worked {
            return Walked {
                steps,
                status: IncidentStatus::Resolved,
                cause: cause.map(|c| kb.causes[c].id.clone()),
                closed_at: Timestamp::from_unix(at + rng.range(0, 60)),
            };
        }
    }
    // Writing up the hand-over.
    at += rng.range(60, 300);
    Walked {
        steps,
        status: IncidentStatus::Escalated,
        cause: None,
        closed_at: Timestamp::from_unix(at),
    }
}

/// The incident as opened: who, where, on which machine, doing what, seeing what.
fn opened(
    kb: &KnowledgeBase,
    rng: &mut Rng,
    s: usize,
    holder: &Holder,
    host: Option<&Host>,
) -> NewIncident {
    let sym = &kb.symptoms[s];
    let application = host
        .filter(|h| !h.apps.is_empty() && rng.chance(0.7))
        .map(|h| rng.pick(&h.apps).clone());
    let doing = DOING
        .iter()
        .find(|(id, _)| *id == sym.id)
        .filter(|_| rng.chance(0.6))
        .map(|(_, d)| (*rng.pick(d)).to_owned());
    let error_text = (!sym.texts.is_empty() && rng.chance(0.4)).then(|| {
        let t = rng.pick(&sym.texts);
        let mut c = t.chars();
        c.next()
            .map(|f| f.to_uppercase().chain(c).collect())
            .unwrap_or_default()
    });
    NewIncident {
        reporter: REPORTER.to_owned(),
        site: Some(holder.site.clone()),
        card_serial: holder.card.clone(),
        hostname: host.map(|h| h.hostname.clone()),
        application,
        doing,
        symptom: sym.id.clone(),
        error_text,
    }
}

fn incident(
    kb: &KnowledgeBase,
    rng: &mut Rng,
    s: usize,
    cause: Option<usize>,
    opened_at: Timestamp,
    holder: &Holder,
    host: Option<&Host>,
) -> PastIncident {
    let opened = opened(kb, rng, s, holder, host);
    let w = walk(kb, rng, s, cause, opened_at);
    PastIncident {
        opened_at,
        opened,
        steps: w.steps,
        status: w.status,
        cause: w.cause,
        closed_at: w.closed_at,
    }
}

/// A machine at the holder's site, if the site has one.
fn host_at<'a>(rng: &mut Rng, f: &'a Facts, pr: &Practice, site: &str) -> Option<&'a Host> {
    let here: Vec<usize> = pr
        .hosts
        .iter()
        .copied()
        .filter(|&h| f.hosts[h].site == site)
        .collect();
    (!here.is_empty()).then(|| &f.hosts[*rng.pick(&here)])
}

/// The practice's background incidents.
fn background(
    cfg: &DemoConfig,
    kb: &KnowledgeBase,
    f: &Facts,
    p: usize,
    out: &mut Vec<PastIncident>,
) {
    let pr = &f.practices[p];
    let mut rng = Rng::new(cfg.seed ^ (p as u64 + 1).wrapping_mul(0x8CB9_2BA7_2F3D_8DD7));
    let carded: Vec<usize> = pr
        .holders
        .iter()
        .copied()
        .filter(|&h| f.holders[h].card.is_some())
        .collect();
    if carded.is_empty() {
        return;
    }
    let n = (carded.len() as u64 * INCIDENTS_PER_HUNDRED_HOLDERS + rng.range(0, 100) as u64) / 100;
    for _ in 0..n {
        let holder = &f.holders[*rng.pick(&carded)];
        let day = weekday_before(&mut rng, cfg.today, DAYS);
        let opened_at = working_hours(&mut rng, day);
        // Most calls name the machine; some are taken from a phone in another room.
        let host = if rng.chance(0.6) {
            host_at(&mut rng, f, pr, &holder.site)
        } else {
            None
        };
        let (symptoms, weights) = symptom_mix(kb, host.is_some_and(|h| h.smartcard_connect));
        if symptoms.is_empty() {
            return;
        }
        let s = symptoms[rng.weighted(&weights)];
        let priors: Vec<f64> = kb.symptoms[s].causes.iter().map(|c| c.1).collect();
        let cause = kb.symptoms[s].causes[draw(&mut rng, &priors)].0;
        out.push(incident(
            kb,
            &mut rng,
            s,
            Some(cause),
            opened_at,
            holder,
            host,
        ));
    }
}

/// A few days of locked cards at one practice's main site, recent: each card locked once, the
/// desk called, the PIN reset. The practice is the first (from a seeded start) with enough
/// holders whose cards are in use and had no lockout already.
fn lockout_run(cfg: &DemoConfig, kb: &KnowledgeBase, f: &Facts, h: &mut History) {
    let (Some(locked), Some(cause)) = (kb.symptom("card-locked"), kb.cause("card-locked")) else {
        return;
    };
    let pin = kb.symptom("pin-rejected").unwrap_or(locked);
    let mut rng = Rng::new(cfg.seed ^ 0x5DEE_CE66_D1CE_4E5B);
    let n = f.practices.len();
    let start = rng.range(0, n as i64) as usize;
    for k in 0..n {
        let pr = &f.practices[(start + k) % n];
        let ready: Vec<usize> = pr
            .holders
            .iter()
            .copied()
            .filter(|&i| {
                let x = &f.holders[i];
                x.site == pr.ods
                    && x.card.is_some()
                    && x.status == CardStatus::Active
                    && !x.locked_before
                    && x.employment_end.is_none()
            })
            .collect();
        if ready.len() < 8 {
            continue;
        }
        let mut pool = ready;
        let count = rng.range(5, 8) as usize;
        for _ in 0..count {
            let holder = &f.holders[pool.remove(rng.range(0, pool.len() as i64) as usize)];
            // Within the last week, most at the start of a session.
            let day = weekday_before(&mut rng, cfg.today, 6);
            let opened_at = Timestamp::from_unix(
                Timestamp::start_of(day).unix() + 8 * 3600 + rng.range(0, 150) * 60,
            );
            let s = if rng.chance(0.7) { locked } else { pin };
            let host = host_at(&mut rng, f, pr, &holder.site);
            let i = incident(kb, &mut rng, s, Some(cause), opened_at, holder, host);
            let unlocked = if i.status == IncidentStatus::Resolved {
                i.closed_at
            } else {
                // Handed over: unlocked later that day.
                Timestamp::from_unix(i.closed_at.unix() + rng.range(3600, 4 * 3600))
            };
            if let Some(card) = holder
                .card
                .as_deref()
                .and_then(|c| CardSerial::parse(c).ok())
            {
                h.lockouts.push(Lockout {
                    card_serial: card,
                    locked_at: Timestamp::from_unix(opened_at.unix() - rng.range(60, 900)),
                    unlocked_at: Some(unlocked),
                });
            }
            h.incidents.push(i);
        }
        h.lockout_site = Some(pr.ods.clone());
        return;
    }
}

/// The release's failures since it went out: most of its machines, once or twice each, none
/// cleared at the desk.
fn release_failures(cfg: &DemoConfig, kb: &KnowledgeBase, f: &Facts, out: &mut Vec<PastIncident>) {
    let symptoms: Vec<usize> = ["no-pin-prompt", "after-update"]
        .iter()
        .filter_map(|id| kb.symptom(id))
        .collect();
    if symptoms.is_empty() {
        return;
    }
    let mut rng = Rng::new(cfg.seed ^ 0x2545_F491_4F6C_DD1D);
    let mut on: Vec<usize> = (0..f.hosts.len()).filter(|&i| f.hosts[i].release).collect();
    // Shuffled, then the first share fail.
    for i in (1..on.len()).rev() {
        let j = rng.range(0, i as i64 + 1) as usize;
        on.swap(i, j);
    }
    let failing = ((on.len() as f64 * RELEASE_FAILING).ceil() as usize).max(on.len().min(3));
    for &hi in &on[..failing] {
        let host = &f.hosts[hi];
        let Some(pr) = f.practices.iter().find(|p| p.hosts.contains(&hi)) else {
            continue;
        };
        let here: Vec<usize> = pr
            .holders
            .iter()
            .copied()
            .filter(|&i| f.holders[i].card.is_some() && f.holders[i].site == host.site)
            .collect();
        if here.is_empty() {
            continue;
        }
        for _ in 0..rng.range(1, 3) {
            let holder = &f.holders[*rng.pick(&here)];
            let day = weekday_before(&mut rng, cfg.today, RELEASE_DAYS - 1);
            let opened_at = working_hours(&mut rng, day);
            let s = *rng.pick(&symptoms);
            out.push(incident(
                kb,
                &mut rng,
                s,
                None,
                opened_at,
                holder,
                Some(host),
            ));
        }
    }
}

/// Each practice's access reviews: most reviewed every position in force within the last year
/// (and each new one soon after it was approved); one in four — at least one, and never all where
/// there are two or more — last reviewed over a year ago, so their positions are due.
/// A leaver's position is never attested.
fn reviews(cfg: &DemoConfig, f: &Facts, h: &mut History) {
    let n = f.practices.len();
    // A quarter of the practices (at least one, and not the only one), chosen by shuffling.
    let mut order: Vec<usize> = (0..n).collect();
    let mut pick = Rng::new(cfg.seed ^ 0x9FB2_1C65_1E98_DF25);
    for i in (1..n).rev() {
        order.swap(i, pick.range(0, i as i64 + 1) as usize);
    }
    let late = if n > 1 { (n / 4).max(1) } else { 1 };
    let today = Timestamp::start_of(cfg.today);
    for (p, pr) in f.practices.iter().enumerate() {
        let mut rng = Rng::new(cfg.seed ^ (p as u64 + 1).wrapping_mul(0xC2B2_AE3D_27D4_EB4F));
        let overdue = order[..late].contains(&p);
        let last = if overdue {
            cfg.today
                .add_days(-(rng.range(i64::from(REVIEW_EVERY_DAYS) + 15, 540) as i32))
        } else {
            cfg.today.add_days(-(rng.range(20, 330) as i32))
        };
        if overdue {
            h.reviews_overdue.push(pr.ods.clone());
        }
        let session = Timestamp::start_of(last).unix() + 10 * 3600;
        for (k, pos) in pr.positions.iter().enumerate() {
            let holder = &f.holders[pos.holder];
            let (at, reason) = match pos.approved_on {
                Some(a) if a > last => {
                    if overdue {
                        continue;
                    }
                    let day = a.add_days(rng.range(0, 15) as i32);
                    (
                        Timestamp::from_unix(Timestamp::start_of(day).unix() + 11 * 3600),
                        "Reviewed when the position was approved",
                    )
                }
                _ => (
                    Timestamp::from_unix(session + 120 * k as i64),
                    "Annual access review: the role is still needed",
                ),
            };
            if at >= today || holder.employment_end.is_some_and(|e| e <= at.date()) {
                continue;
            }
            h.reviews.push(PastReview {
                at,
                holder_uuid: holder.uuid.clone(),
                ods_code: pr.ods.clone(),
                role_code: pos.role.clone(),
                reason: reason.to_owned(),
            });
        }
    }
    h.reviews.sort_by_key(|r| r.at);
}

/// The reports' counts (as the store's `version_counts` makes them) over the demo's machines and
/// incidents.
fn version_counts(f: &Facts, incidents: &[PastIncident]) -> Vec<VersionCount> {
    let index: HashMap<&str, usize> = f
        .hosts
        .iter()
        .enumerate()
        .map(|(i, h)| (h.hostname.as_str(), i))
        .collect();
    let mut failures = vec![0u64; f.hosts.len()];
    for i in incidents {
        if let Some(&h) = i.opened.hostname.as_deref().and_then(|h| index.get(h)) {
            failures[h] += 1;
        }
    }
    let mut on: BTreeMap<(&str, &str), Vec<usize>> = BTreeMap::new();
    for (i, h) in f.hosts.iter().enumerate() {
        for (c, v) in &h.versions {
            on.entry((c, v)).or_default().push(i);
        }
    }
    on.into_iter()
        .map(|((component, version), hosts)| {
            let failed: Vec<usize> = hosts.iter().copied().filter(|&h| failures[h] > 0).collect();
            let rings = [UpdateRing::Canary, UpdateRing::Pilot, UpdateRing::Broad]
                .into_iter()
                .map(|ring| RingCount {
                    ring,
                    machines: hosts.iter().filter(|&&h| f.hosts[h].ring == ring).count() as u64,
                    affected: failed.iter().filter(|&&h| f.hosts[h].ring == ring).count() as u64,
                })
                .filter(|r| r.machines > 0)
                .collect();
            VersionCount {
                component: component.to_owned(),
                version: version.to_owned(),
                machines: hosts.len() as u64,
                affected: failed.len() as u64,
                failures: failed.iter().map(|&h| failures[h]).sum(),
                affected_hosts: failed
                    .iter()
                    .map(|&h| f.hosts[h].hostname.clone())
                    .collect(),
                rings,
            }
        })
        .collect()
}

/// The reports test each version's failure rate against its component's other versions at 5%,
/// so over a few dozen versions chance alone would name one now and then, or hide the release
/// behind its few machines left on the old version that happened to fail as often. The demo's
/// story has one version that failures follow, the release; where the background tells another,
/// some of the calls that made it become calls that did not name the machine (as some do), until
/// the release alone stands out.
fn quiet_coincidences(f: &Facts, incidents: &mut [PastIncident]) {
    let is_release =
        |r: &VersionRate| (r.count.component.as_str(), r.count.version.as_str()) == PILOT_RELEASE;
    let release_installed = f.hosts.iter().any(|h| h.release);
    for _ in 0..f.hosts.len() {
        let rates = version_rates(&version_counts(f, incidents));
        let stray = rates.iter().find(|r| r.suspect && !is_release(r));
        let hidden = rates
            .iter()
            .find(|r| release_installed && is_release(r) && !r.suspect)
            .map(|_| {
                // The machines on the component's other versions that failed.
                f.hosts
                    .iter()
                    .filter(|h| {
                        !h.release
                            && h.smartcard_connect
                            && incidents
                                .iter()
                                .any(|i| i.opened.hostname.as_deref() == Some(&h.hostname))
                    })
                    .map(|h| h.hostname.clone())
                    .collect::<Vec<_>>()
            });
        let candidates: Vec<String> = match (stray, hidden) {
            (Some(r), _) => r.count.affected_hosts.clone(),
            (None, Some(hosts)) => hosts,
            (None, None) => return,
        };
        // The one with the fewest background calls, never a machine on the release.
        let host = candidates
            .iter()
            .filter(|h| !f.hosts.iter().any(|x| x.release && &x.hostname == *h))
            .min_by_key(|h| {
                incidents
                    .iter()
                    .filter(|i| i.opened.hostname.as_ref() == Some(*h))
                    .count()
            })
            .cloned();
        let Some(host) = host else { return };
        for i in incidents.iter_mut() {
            if i.opened.hostname.as_deref() == Some(host.as_str()) {
                i.opened.hostname = None;
            }
        }
    }
}

/// The past of the estate `cfg` makes, drawn with the triage base `kb`.
pub fn history(cfg: &DemoConfig, kb: &KnowledgeBase) -> History {
    let f = Facts::of(cfg);
    let mut h = History::default();
    for p in 0..f.practices.len() {
        background(cfg, kb, &f, p, &mut h.incidents);
    }
    release_failures(cfg, kb, &f, &mut h.incidents);
    lockout_run(cfg, kb, &f, &mut h);
    quiet_coincidences(&f, &mut h.incidents);
    reviews(cfg, &f, &mut h);
    // Oldest first, as they were recorded (numbers follow time).
    h.incidents.sort_by_key(|i| i.opened_at);
    h.lockouts.sort_by_key(|l| l.locked_at);
    h
}

/// The desk's morning on the demo's today: incidents still being worked when the demo starts,
/// so the open incidents on the overview and the incidents page have something to show. Each is
/// a problem the desk meets, for a carded holder at a practice's site with a machine:
/// - a card not recognised, opened 70 minutes before `now`, one check answered, still open;
/// - a card that will not sign, opened 100 minutes before, a check answered and a fix tried that
///   did not work, still open;
/// - a missing role, opened 135 minutes before, its checks answered as a role awaiting the
///   Registration Authority answers them, then handed over (escalated) to the RA 45 minutes ago.
///
/// Each was opened more than the cluster window (an hour) before `now`, so a new report at the
/// same site is not taken for a second person hit by the same fault. The moments count back from
/// `now` to the minute (just after midnight, to the evening before); the rest is decided by the
/// estate `cfg` makes, so the same `now` gives the same incidents. Steps are answered with each
/// check's likeliest result for the cause. Oldest first.
pub fn desk_today(cfg: &DemoConfig, kb: &KnowledgeBase, now: Timestamp) -> Vec<PastIncident> {
    let f = Facts::of(cfg);
    // Practices with a carded holder at a site with a machine, in the estate's order.
    let places: Vec<(&Holder, &Host)> = f
        .practices
        .iter()
        .filter_map(|pr| {
            pr.holders.iter().find_map(|&h| {
                let holder = &f.holders[h];
                holder.card.as_ref()?;
                let host = pr.hosts.iter().find(|&&x| f.hosts[x].site == holder.site)?;
                Some((holder, &f.hosts[*host]))
            })
        })
        .collect();
    if places.is_empty() {
        return Vec::new();
    }
    let minute = now.unix() - now.unix().rem_euclid(60);
    let ago = |minutes: i64| Timestamp::from_unix(minute - minutes * 60);
    // (symptom, cause, minutes ago opened, steps: (check or fix id, result), escalated minutes ago)
    type Plan<'a> = (
        &'a str,
        &'a str,
        i64,
        Vec<&'a str>,
        Option<&'a str>,
        Option<i64>,
    );
    let plans: [Plan<'_>; 3] = [
        (
            "limited-functionality",
            "role-awaiting-approval",
            135,
            vec!["position-approved", "roles-shown"],
            None,
            Some(45),
        ),
        (
            "cannot-sign",
            "middleware-outdated",
            100,
            vec!["signing-cert-status"],
            Some("refresh-signing-cert"),
            None,
        ),
        (
            "card-not-recognised",
            "reader-disconnected",
            70,
            vec!["reader-light"],
            None,
            None,
        ),
    ];
    let mut out = Vec::new();
    for (k, (symptom, cause, opened_ago, checks, fix, escalated)) in plans.into_iter().enumerate() {
        let Some(s) = kb.symptom(symptom) else {
            continue;
        };
        let sym = &kb.symptoms[s];
        // The named cause if the base has it for this symptom, else the symptom's likeliest.
        let c = kb
            .cause(cause)
            .filter(|c| sym.causes.iter().any(|(x, _)| x == c))
            .or_else(|| {
                sym.causes
                    .iter()
                    .max_by(|a, b| a.1.total_cmp(&b.1))
                    .map(|&(c, _)| c)
            });
        let (holder, host) = places[k % places.len()];
        let opened_at = ago(opened_ago);
        let mut steps = Vec::new();
        let mut at = opened_at.unix();
        for id in checks {
            let Some(check) = kb.checks.iter().find(|x| x.id == id) else {
                continue;
            };
            if !sym.checks.iter().any(|&x| kb.checks[x].id == id) {
                continue;
            }
            let likeliest = c
                .and_then(|c| check.likelihood.get(c))
                .and_then(|l| {
                    l.iter()
                        .enumerate()
                        .max_by(|a, b| a.1.total_cmp(b.1))
                        .map(|(i, _)| i)
                })
                .and_then(|i| check.results.get(i));
            if let Some(result) = likeliest {
                at = (at + (check.cost_minutes * 60.0).max(60.0) as i64).min(minute);
                steps.push(IncidentStep {
                    at: Timestamp::from_unix(at),
                    id: check.id.clone(),
                    result: result.clone(),
                });
            }
        }
        if let Some(id) = fix.filter(|id| sym.fixes.iter().any(|&x| kb.fixes[x].id == *id)) {
            let cost = kb
                .fixes
                .iter()
                .find(|x| x.id == id)
                .map_or(5.0, |x| x.cost_minutes);
            at = (at + (cost * 60.0).max(60.0) as i64).min(minute);
            steps.push(IncidentStep {
                at: Timestamp::from_unix(at),
                id: id.to_owned(),
                result: NOT_FIXED.to_owned(),
            });
        }
        let opened = NewIncident {
            reporter: REPORTER.to_owned(),
            site: Some(holder.site.clone()),
            card_serial: holder.card.clone(),
            // Taken by phone, the machine not named: the reports judge versions by the machines
            // incidents name, and three of this morning's on a few machines would make a version
            // look bad that the ninety days do not.
            hostname: None,
            application: host.apps.first().cloned(),
            doing: None,
            symptom: sym.id.clone(),
            error_text: None,
        };
        let (status, closed_at) = match escalated {
            Some(m) => (
                IncidentStatus::Escalated,
                ago(m).max(Timestamp::from_unix(at)),
            ),
            None => (IncidentStatus::Open, Timestamp::from_unix(at)),
        };
        out.push(PastIncident {
            opened_at,
            opened,
            steps,
            status,
            cause: None,
            closed_at,
        });
    }
    out.sort_by_key(|i| i.opened_at);
    out
}

#[cfg(test)]
mod tests;
