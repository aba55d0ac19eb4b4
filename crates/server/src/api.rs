//! The JSON API's one table: every `/api/v1` route with its handler, parameters and answers.
//! The router mounts the routes from it and `GET /api/v1/openapi.json` is written from it, so
//! the document cannot drift from what the server does.

use axum::extract::State;
use axum::routing::{get, post, MethodRouter};
use cardwatch_core::triage::{FIXED, NOT_FIXED};
use serde_json::{json, Map, Value};

use crate::admin;
use crate::agents;
use crate::estate::{cards, integrations, lists, people, workstations};
use crate::fix::{incidents, triage};
use crate::govern::{audit, reports, retention, reviews};
use crate::notify::jobs_page;
use crate::prevent::{findings, migration, overview, plan};
use crate::web::auth;
use crate::{AppState, Checks};

/// What a parameter or body field holds, as the server checks it: the document states the same
/// bounds, so a request it calls valid is one the server takes.
#[derive(Clone, Copy)]
enum Ty {
    /// Any text.
    Text,
    /// Text matching a regular expression (the identifier's own rule).
    Pat(&'static str),
    /// One of these words.
    Words(&'static [&'static str]),
    /// A whole number from the first to the second.
    Int(i64, i64),
    /// A day, `yyyy-mm-dd`, 1900 to 2199.
    Day,
    /// true or false.
    Bool,
}

/// An ODS code: 1 to 9 letters and digits.
const ODS: Ty = Ty::Pat("^[A-Za-z0-9]{1,9}$");
/// A card serial: 4 to 32 letters, digits and hyphens.
const SERIAL: Ty = Ty::Pat("^[A-Za-z0-9-]{4,32}$");
/// A host name: 1 to 63 letters, digits, hyphens, underscores or dots (not `.` or `..`, which
/// a client would resolve as a path).
const HOST: Ty = Ty::Pat("^(?!\\.{1,2}$)[A-Za-z0-9._-]{1,63}$");
/// Text without a NUL character (which the database cannot hold).
const NO_NUL: Ty = Ty::Pat("^[^\\x00]*$");
/// A list's JSON or CSV.
const JSON_OR_CSV: Ty = Ty::Words(&["json", "csv"]);
/// Sort order.
const ORDER: Ty = Ty::Words(&["asc", "desc"]);
/// A day, in the pattern the date parser takes (no 29 February: leap years are not a pattern's
/// job, and the server takes the day in a leap year too).
const DAY_PATTERN: &str = "^(19[0-9]{2}|2[01][0-9]{2})-((0[1-9]|1[0-2])-(0[1-9]|1[0-9]|2[0-8])|(0[13-9]|1[0-2])-(29|30)|(0[13578]|1[02])-31)$";

impl Ty {
    fn schema(self) -> Value {
        match self {
            Ty::Text => json!({"type": "string"}),
            Ty::Pat(p) => json!({"type": "string", "pattern": p}),
            Ty::Words(w) => json!({"type": "string", "enum": w}),
            Ty::Int(lo, hi) => json!({"type": "integer", "minimum": lo, "maximum": hi}),
            Ty::Day => json!({"type": "string", "format": "date", "pattern": DAY_PATTERN}),
            Ty::Bool => json!({"type": "boolean"}),
        }
    }
}

/// A query parameter.
struct Param {
    name: &'static str,
    ty: Ty,
    required: bool,
    about: &'static str,
}

const fn p(name: &'static str, ty: Ty, about: &'static str) -> Param {
    Param {
        name,
        ty,
        required: false,
        about,
    }
}

/// A query parameter the operation cannot do without.
const fn required(name: &'static str, ty: Ty, about: &'static str) -> Param {
    Param {
        name,
        ty,
        required: true,
        about,
    }
}

/// Who may call an operation, and so how it is authenticated.
#[derive(Clone, Copy, PartialEq)]
enum Caller {
    /// An operator: session cookie or API token; 403 when their role does not allow it.
    Operator,
    /// A workstation agent: `Authorization: Agent CREDENTIAL` and its version header.
    Agent,
    /// The one-time enrolment token in the body.
    Enrolment,
}

/// One API route.
struct Endpoint {
    method: &'static str,
    path: &'static str,
    summary: &'static str,
    /// Who may call it.
    needs: &'static str,
    caller: Caller,
    query: &'static [Param],
    /// The JSON body's schema, for a POST.
    body: Option<fn(&Checks) -> Value>,
    /// Other answers than JSON (`text/csv`, `text/calendar`).
    also: &'static [&'static str],
    /// Whether it answers 404 (a record not found, or not among the caller's).
    not_found: bool,
    handler: fn() -> MethodRouter<AppState>,
}

const ENDPOINTS: &[Endpoint] = &[
    Endpoint {
        method: "get",
        path: "/api/v1/overview",
        summary: "The caller's organisations at a glance, the overview page's numbers: certificates_expired, certificates_to_renew_this_week, certificates_in_renewal_window, urgent_findings, open_incidents, sites_short_of_spare_readers, supplies_to_reorder, required_software_updates, workstations_to_move and workstations_held_up (counts), and under lists the list each counts (a /findings or /incidents link with its filters; /api/v1/findings and /api/v1/incidents take the same filters).",
        needs: "view estate",
        caller: Caller::Operator,
        query: &[],
        body: None,
        also: &[],
        not_found: false,
        handler: || get(overview::api),
    },
    Endpoint {
        method: "get",
        path: "/api/v1/jobs",
        summary: "The scheduler: each job's schedule, the newest runs, the outbox by state and the messages that failed.",
        needs: "manage users (administrators)",
        caller: Caller::Operator,
        query: &[],
        body: None,
        also: &[],
        not_found: false,
        handler: || get(jobs_page::api),
    },
    Endpoint {
        method: "get",
        path: "/api/v1/reviews",
        summary: "Access reviews: the positions in force at the caller's sites with each one's latest decision, by the holder's site, the holder's name (capitals or not), the holder, then where and which role; by default only those not reviewed within a year. A page at a time: positions, total (every position listed, not only the page's), offset, limit, due_after_days, next_cursor and previous_cursor (the pages either side, null at either end).",
        needs: "view people",
        caller: Caller::Operator,
        query: &[
            p("show", Ty::Words(&["due", "all"]), "due (default) or all"),
            p("cursor", Ty::Pat(crate::web::cursor::FIVE_VALUE_CURSOR_PATTERN), "Where the page starts: next_cursor or previous_cursor of an answer with the same show (leave out for the first page)."),
            p("offset", Ty::Int(0, 1_000_000), "Skip this many (each skipped position is read: a cursor reads a deep page as fast as the first; not used with cursor)."),
            p("limit", Ty::Int(1, 5000), "At most this many (200 by default)."),
        ],
        body: None,
        also: &[],
        not_found: false,
        handler: || get(reviews::api),
    },
    Endpoint {
        method: "get",
        path: "/api/v1/agents",
        summary: "The workstation agents, newest enrolment first, a page at a time: agents (each one's workstation, version, enrolled, last heard from, revoked, the site its token named, and what became of its latest inventory), total (every agent, revoked ones too), next_cursor and previous_cursor (the pages either side, null at either end).",
        needs: "manage users (administrators)",
        caller: Caller::Operator,
        query: &[
            p("cursor", Ty::Pat(agents::page::CURSOR_PATTERN), "Where the page starts: next_cursor or previous_cursor of an answer (leave out for the first page). offset is not taken."),
            p("limit", Ty::Int(1, 5000), "At most this many (default 100)."),
        ],
        body: None,
        also: &[],
        not_found: false,
        handler: || get(agents::page::api),
    },
    Endpoint {
        method: "post",
        path: "/api/v1/agents/enrol",
        summary: "A workstation agent exchanges a one-time enrolment token (from `cardwatch agent token`) for its own credential: 201 {agent_id, credential}. The token is checked first: 401 when it is missing, unknown, used or expired, whatever else the body holds; then 400 for a host name or version that cannot be read, 426 when the agent is too old.",
        needs: "an enrolment token",
        caller: Caller::Enrolment,
        query: &[],
        body: Some(|_| {
            json!({"type": "object", "required": ["token", "hostname", "version"],
                "properties": {
                    "token": {"type": "string", "minLength": 1, "description": "The one-time enrolment token."},
                    "hostname": {"type": "string", "pattern": host_pattern(), "description": "The workstation's host name."},
                    "version": {"type": "string", "pattern": agents::api::VERSION_PATTERN, "description": "The agent's version, major.minor.patch (older than the server understands: 426)."},
                }})
        }),
        also: &[],
        not_found: false,
        handler: || post(agents::api::enrol),
    },
    Endpoint {
        method: "post",
        path: "/api/v1/agents/heartbeat",
        summary: "An enrolled agent says it is alive: {agent_id, server_time}. The credential is checked first: 401 when it is missing, unknown or revoked; then 400 for a version that cannot be read, 426 when the agent is too old.",
        needs: "an agent credential",
        caller: Caller::Agent,
        query: &[],
        body: None,
        also: &[],
        not_found: false,
        handler: || post(agents::api::heartbeat),
    },
    Endpoint {
        method: "post",
        path: "/api/v1/agents/events",
        summary: "An enrolled agent reports a batch of events (card inserted/removed, reader attached/detached, diagnosis results): each recorded once by its id, so a retried batch adds nothing. {accepted, duplicates}.",
        needs: "an agent credential",
        caller: Caller::Agent,
        query: &[],
        body: Some(|_| {
            json!({"type": "object", "required": ["events"], "properties": {"events": {
                "type": "array", "maxItems": agents::api::MAX_BATCH,
                "description": "The events, each recorded once by its id.",
                "items": {"type": "object", "required": ["id", "at", "kind", "data"], "properties": {
                    "id": {"type": "string", "minLength": 1, "maxLength": 100, "pattern": "^[^\\x00]*$", "description": "Unique per agent: a retry sends the same id."},
                    "at": {"type": "string", "pattern": timestamp_pattern(), "description": "When it happened on the workstation (UTC)."},
                    "kind": {"type": "string", "pattern": "^[^\\x00]*$", "description": "card_inserted, reader_detached, diagnosis, inventory, …"},
                    "data": {"description": "Its details."},
                }}}}})
        }),
        also: &[],
        not_found: false,
        handler: || post(agents::api::events),
    },
    Endpoint {
        method: "get",
        path: "/api/v1/me",
        summary: "The signed-in operator: user name, role, organisations.",
        needs: "any signed-in operator",
        caller: Caller::Operator,
        query: &[],
        body: None,
        also: &[],
        not_found: false,
        handler: || get(auth::me),
    },
    Endpoint {
        method: "get",
        path: "/api/v1/findings",
        summary: "Health-check findings of the caller's sites as a work queue: grouped by what to do and who does it (`groups`, each counted), the most urgent group and finding first; paged by `limit` and the `next_cursor` of each answer.",
        needs: "view estate",
        caller: Caller::Operator,
        query: &[
            p("site", ODS, "Only this site (ODS code)."),
            p("owner", Ty::Words(&["holder", "practice_manager", "it", "ra"]), "Only findings for this one to act on."),
            p("min_severity", Ty::Words(&["info", "warning", "urgent", "critical"]), "Only findings this severe or worse."),
            p("rule", Ty::Text, "Only rules whose id starts with this (a rule, or a group such as integration-)."),
            p("all", Ty::Bool, "Include snoozed findings."),
            p("format", JSON_OR_CSV, "json (default) or csv (every finding that passes, in the same order)."),
            p("sort", Ty::Words(&crate::prevent::columns::SORTABLE), "Sort by this column (default: the queue's order)."),
            p("order", ORDER, "asc (default) or desc."),
            p("limit", Ty::Int(1, findings::MAX_LIMIT as i64), "At most this many (default 50)."),
            p("cursor", Ty::Pat(findings::CURSOR_PATTERN), "The next page: an answer's next_cursor, with the same filters."),
            p("offset", Ty::Int(0, findings::MAX_OFFSET as i64), "Skip this many (after the cursor's position, when one is given)."),
        ],
        body: None,
        also: &["text/csv"],
        not_found: false,
        handler: || get(findings::api),
    },
    Endpoint {
        method: "get",
        path: "/api/v1/plan",
        summary: "The renewal plan: weekly forecast, target day per certificate, the wait-for-the-prompt comparison.",
        needs: "view estate",
        caller: Caller::Operator,
        query: &[
            p("from", Ty::Day, "First day of the plan."),
            p("site", ODS, "Only this site's renewals."),
            p("wait_days", Ty::Int(1, 90), "Days before expiry people act when they wait for the prompt (default 30)."),
            p("format", Ty::Words(&["json", "csv", "ics"]), "json (default), csv or ics."),
            p("offset", Ty::Int(0, 1_000_000), "Skip this many renewals."),
            p("limit", Ty::Int(1, 10_000), "At most this many renewals (default 1000)."),
        ],
        body: None,
        also: &["text/csv", "text/calendar"],
        not_found: false,
        handler: || get(plan::api),
    },
    Endpoint {
        method: "get",
        path: "/api/v1/plan/migration",
        summary: "The move of the caller's workstations from a retiring authentication client (NHS Identity Agent) to its successor (NHS Smartcard Connect): per site, one machine first after core hours, then the pilot and broad rings, before the catalogue's date less a margin; machines held up by an application, with it. `plan` is null when no client is retiring.",
        needs: "view estate",
        caller: Caller::Operator,
        query: &[
            p("from", Ty::Day, "The first day a machine may move (default today)."),
            p("per_day", Ty::Int(1, 100_000), "Machines the IT team can move in a working day across the estate (default no limit)."),
            p("margin_days", Ty::Int(0, 90), "Days before the old client stops by which every machine should have moved (default 14)."),
        ],
        body: None,
        also: &[],
        not_found: false,
        handler: || get(migration::api),
    },
    Endpoint {
        method: "post",
        path: "/api/v1/triage/next",
        summary: "The next triage step for a symptom and the observations so far, with the posterior over causes and whether to escalate. Stateless.",
        needs: "triage",
        caller: Caller::Operator,
        query: &[],
        body: Some(triage_body),
        also: &[],
        not_found: false,
        handler: || post(triage::next),
    },
    Endpoint {
        method: "get",
        path: "/api/v1/triage/next",
        summary: "The first triage step for what is happening: by symptom id, or in any words (text alone, when the words name a symptom Cardwatch knows; 400 when they do not): the advice (as the POST answers), or, when the words fit two or three symptoms equally, {question, choices: [{id, plain}]} to ask before choosing one with symptom.",
        needs: "triage",
        caller: Caller::Operator,
        query: &[
            p("text", Ty::Text, "What is happening, in the clinician's words, or the error text or code."),
            p("site", ODS, "The site (ODS code)."),
            p("card_serial", SERIAL, "The card."),
            p("hostname", HOST, "The workstation."),
        ],
        body: None,
        also: &[],
        not_found: false,
        handler: || get(triage::first_step),
    },
    Endpoint {
        method: "get",
        path: "/api/v1/incidents",
        summary: "Triage incidents of the caller's sites, newest first: filtered, sorted, paged (by cursor: next_cursor and previous_cursor lead to the pages either side, null where there is none; total counts every match), or as CSV.",
        needs: "view estate",
        caller: Caller::Operator,
        query: &[
            p("status", Ty::Words(&["open", "resolved", "escalated"]), "Only incidents in this state."),
            p("site", ODS, "Only this site (ODS code)."),
            p("sort", Ty::Words(&["opened", "site", "symptom", "status", "minutes", "cause"]), "opened (default, newest first)."),
            p("order", ORDER, "asc or desc."),
            p("format", JSON_OR_CSV, "json (default) or csv."),
            p("offset", Ty::Int(0, 1_000_000), "Skip this many (not used with cursor)."),
            p("cursor", Ty::Pat(incidents::CURSOR_PATTERN), "Where the page starts: next_cursor or previous_cursor of an answer in the same sort, order and filters (leave out for the first page)."),
            p("limit", Ty::Int(1, 5000), "At most this many (default 200)."),
        ],
        body: None,
        also: &["text/csv"],
        not_found: false,
        handler: || get(incidents::api),
    },
    Endpoint {
        method: "get",
        path: "/api/v1/audit",
        summary: "The audit log, newest first, with a link to older records.",
        needs: "view audit (administrators, auditors)",
        caller: Caller::Operator,
        query: &[
            p("entity", NO_NUL, "Only this kind of record: its code (people, cards, user, incident, finding…) or its name in words, singular or plural (card, person, operator)."),
            p("key", NO_NUL, "Only this entity's key."),
            p("actor", NO_NUL, "Only this actor."),
            p("before", Ty::Int(1, i64::MAX), "Only records before this sequence number."),
            p("limit", Ty::Int(1, 1000), "At most this many (default 100)."),
            p("format", JSON_OR_CSV, "json (default) or csv."),
        ],
        body: None,
        also: &["text/csv"],
        not_found: false,
        handler: || get(audit::api),
    },
    Endpoint {
        method: "get",
        path: "/api/v1/estate/{kind}",
        summary: "Records of one kind at the caller's sites (each kind documented as a path of its own).",
        needs: "view estate (people: view people)",
        caller: Caller::Operator,
        query: &[
            p("q", NO_NUL, "Only records where one of the kind's matched columns (its key and name, and the site's ODS code of a person, computer, reader or integration, as the page says) starts with this, or any word of a site's or an organisation's name does, in capitals or not, or whose code column (a reader's status, a stock item, a workstation's update ring, an organisation's type, an integration's clinical system) is shown on the page in words holding it (\"smartcard\" finds the stock items card and reader). A filtered total is exact up to 1,000 (total_exact false past it: type more)."),
            p("order", ORDER, "asc (default) or desc."),
            p("cursor", Ty::Pat(crate::web::cursor::CURSOR_PATTERN), "Where the page starts: next_cursor or previous_cursor of an answer in the same sort and order (leave out for the first page). offset is not taken."),
            p("limit", Ty::Int(1, 5000), "At most this many (default 100)."),
            p("format", JSON_OR_CSV, "json (default) or csv (every match, streamed)."),
        ],
        body: None,
        also: &["text/csv"],
        not_found: false,
        handler: || get(lists::api),
    },
    Endpoint {
        method: "get",
        path: "/api/v1/cards/{serial}",
        summary: "One card: holder, both certificates with their state, positions, status history and incidents.",
        needs: "view people; the holder at one of the caller's sites",
        caller: Caller::Operator,
        query: &[],
        body: None,
        also: &[],
        not_found: true,
        handler: || get(cards::api),
    },
    Endpoint {
        method: "get",
        path: "/api/v1/people/{uuid}",
        summary: "One person: their positions and each of their cards with both certificates and their state.",
        needs: "view people; the person at one of the caller's sites",
        caller: Caller::Operator,
        query: &[],
        body: None,
        also: &[],
        not_found: true,
        handler: || get(people::api),
    },
    Endpoint {
        method: "get",
        path: "/api/v1/workstations/{hostname}",
        summary: "One workstation: its smartcard software judged against the catalogue, and its readers with firmware.",
        needs: "view estate; the workstation at one of the caller's sites",
        caller: Caller::Operator,
        query: &[],
        body: None,
        also: &[],
        not_found: true,
        handler: || get(workstations::api),
    },
    Endpoint {
        method: "get",
        path: "/api/v1/integrations/{id}",
        summary: "One integration profile (a service acting with practice cards): both sides of each identifier it checks, its cards, and whether it is ready to synchronise, with the findings that say why not.",
        needs: "view estate; the profile's site among the caller's",
        caller: Caller::Operator,
        query: &[],
        body: None,
        also: &[],
        not_found: true,
        handler: || get(integrations::api),
    },
    Endpoint {
        method: "get",
        path: "/api/v1/reports",
        summary: "Staff time lost to card failures over a period, and the failure rate of each smartcard software version against the component's other versions, suspects named. Where reading the figures takes longer than `[server] report_wait_ms`, they may be the last reading while a newer one is read: `being_read_again` true, with `read_at`.",
        needs: "view estate",
        caller: Caller::Operator,
        query: &[p("days", Ty::Int(1, 730), "The period, in days back from today (default 90).")],
        body: None,
        also: &[],
        not_found: false,
        handler: || get(reports::api),
    },
    Endpoint {
        method: "get",
        path: "/api/v1/retention",
        summary: "Leavers whose name, email and staff role are past the retention period with nothing of theirs in force: the retention job's next erasures.",
        needs: "manage users (administrators)",
        caller: Caller::Operator,
        query: &[],
        body: None,
        also: &[],
        not_found: false,
        handler: || get(retention::api),
    },
    Endpoint {
        method: "get",
        path: "/api/v1/users",
        summary: "Every operator: username, name, role, organisations, whether disabled, failed sign-ins in a row. Never a password hash.",
        needs: "manage users (administrators)",
        caller: Caller::Operator,
        query: &[],
        body: None,
        also: &[],
        not_found: false,
        handler: || get(admin::users::api),
    },
    Endpoint {
        method: "get",
        path: "/api/v1/cheatsheet",
        summary: "A site's cheat sheet: what to do when a card fails, per everyday symptom in the engine's order for the site, when to escalate, local contacts.",
        needs: "view estate; the site among the caller's",
        caller: Caller::Operator,
        query: &[required("site", ODS, "The site (ODS code).")],
        body: None,
        also: &[],
        not_found: false,
        handler: || get(triage::cheat_sheet_api),
    },
];

/// The API routes, mounted from the table.
pub(crate) fn routes() -> axum::Router<AppState> {
    ENDPOINTS
        .iter()
        .fold(axum::Router::new(), |r, e| r.route(e.path, (e.handler)()))
        .route("/api/v1/openapi.json", get(openapi))
}

fn host_pattern() -> &'static str {
    match HOST {
        Ty::Pat(p) => p,
        _ => unreachable!("HOST is a pattern"),
    }
}

/// A moment as agents send it, `yyyy-mm-ddTHH:MM:SSZ`.
fn timestamp_pattern() -> String {
    let day = DAY_PATTERN.trim_end_matches('$');
    format!("{day}T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]Z$")
}

/// `POST /api/v1/triage/next`'s body: the symptoms, checks, fixes and their results of the
/// knowledge base in force, so an id or result the engine would refuse is outside the schema.
fn triage_body(checks: &Checks) -> Value {
    let kb = &checks.triage;
    let symptoms: Vec<&str> = kb.symptoms.iter().map(|s| s.id.as_str()).collect();
    let mut steps = Map::new();
    for c in &kb.checks {
        steps.insert(c.id.clone(), json!({"type": "string", "enum": c.results}));
    }
    for f in &kb.fixes {
        steps.insert(
            f.id.clone(),
            json!({"type": "string", "enum": [FIXED, NOT_FIXED]}),
        );
    }
    json!({"type": "object", "required": ["symptom"], "additionalProperties": false, "properties": {
        "symptom": {"type": "string", "enum": symptoms, "description": "A symptom id."},
        "error_text": {"type": ["string", "null"], "description": "The error text or code the user sees (kept with the symptom; alone, it must name a symptom Cardwatch knows, or 400)."},
        "observations": {"type": "object", "properties": steps, "additionalProperties": false,
            "description": "Check or fix id → result, so far."},
        "facts": {"type": "object", "additionalProperties": {"type": "string"},
            "description": "Facts already known (an agent's probes), key → value."},
        "site": nullable(ODS, "The site (ODS code)."),
        "card_serial": nullable(SERIAL, "The card."),
        "hostname": nullable(HOST, "The workstation."),
        "elapsed_minutes": {"type": ["number", "null"], "minimum": 0, "description": "Minutes since the fault was reported."},
        "others_affected": {"type": "integer", "minimum": 0, "maximum": u32::MAX, "description": "Others at the site with the same symptom this hour."},
    }})
}

/// A body field that may be null (the same as leaving it out).
fn nullable(ty: Ty, about: &str) -> Value {
    let mut schema = ty.schema();
    schema["type"] = json!([schema["type"], "null"]);
    schema["description"] = json!(about);
    schema
}

/// Parameters the configuration decides: the triage symptoms in force, and whether the plan
/// needs a capacity (it does when no RA team is configured).
fn configured(e: &Endpoint, checks: &Checks) -> Vec<Value> {
    let param = |name: &str, required: bool, about: &str, schema: Value| {
        let mut p = json!({"name": name, "in": "query", "required": required, "description": about, "schema": schema});
        if !required {
            p["allowEmptyValue"] = json!(true);
        }
        p
    };
    match (e.method, e.path) {
        ("get", "/api/v1/triage/next") => {
            let ids: Vec<&str> = checks.triage.symptoms.iter().map(|s| s.id.as_str()).collect();
            vec![param(
                "symptom",
                true,
                "A symptom id (the choice made after a question); text alone works when its words name a symptom.",
                json!({"type": "string", "enum": ids}),
            )]
        }
        ("get", "/api/v1/plan") => vec![param(
            "capacity",
            checks.teams.is_empty(),
            "Renewals a working day for sites no configured RA team serves (required when none is configured).",
            Ty::Int(1, 1_000_000).schema(),
        )],
        _ => Vec::new(),
    }
}

/// One operation's object.
fn operation(e: &Endpoint, checks: &Checks, path_params: Vec<Value>, sort: Option<Value>) -> Value {
    let mut parameters = path_params;
    parameters.extend(configured(e, checks));
    // The server takes an empty optional parameter (as a form sends it) for one left out.
    parameters.extend(e.query.iter().map(|q| {
        let mut param = json!({"name": q.name, "in": "query", "required": q.required,
               "description": q.about, "schema": q.ty.schema()});
        if !q.required {
            param["allowEmptyValue"] = json!(true);
        }
        param
    }));
    if let Some(sort) = sort {
        parameters.push(json!({"name": "sort", "in": "query", "required": false,
            "allowEmptyValue": true, "description": "The column to sort by.", "schema": sort}));
    }
    if e.caller == Caller::Agent {
        parameters.push(json!({"name": "X-Cardwatch-Agent-Version", "in": "header", "required": true,
            "description": "The agent's version, major.minor.patch (older than the server understands: 426).",
            "schema": {"type": "string", "pattern": agents::api::VERSION_PATTERN}}));
    }
    let mut content = Map::new();
    content.insert(
        "application/json".into(),
        json!({"schema": {"type": "object"}}),
    );
    for t in e.also {
        content.insert((*t).into(), json!({"schema": {"type": "string"}}));
    }
    let ok = if e.caller == Caller::Enrolment {
        "201"
    } else {
        "200"
    };
    let error = |name: &str| json!({"$ref": format!("#/components/responses/{name}")});
    let mut responses = Map::new();
    responses.insert(ok.into(), json!({"description": "OK", "content": content}));
    responses.insert("400".into(), error("Invalid"));
    responses.insert(
        "401".into(),
        error(match e.caller {
            Caller::Operator => "NotSignedIn",
            Caller::Agent => "NotEnrolled",
            Caller::Enrolment => "EnrolmentRefused",
        }),
    );
    match e.caller {
        Caller::Operator => {
            responses.insert("403".into(), error("Forbidden"));
        }
        Caller::Agent | Caller::Enrolment => {
            responses.insert("426".into(), error("AgentTooOld"));
        }
    }
    if e.not_found {
        responses.insert("404".into(), error("NotFound"));
    }
    responses.insert("503".into(), error("Unavailable"));
    let security = match e.caller {
        Caller::Operator => json!([{"session": []}, {"token": []}]),
        Caller::Agent => json!([{"agent": []}]),
        // The token is in the body.
        Caller::Enrolment => json!([]),
    };
    let mut op = json!({
        "summary": e.summary,
        "description": format!("Needs: {}.", e.needs),
        "parameters": parameters,
        "responses": responses,
        "security": security,
    });
    if let Some(body) = e.body {
        op["requestBody"] = json!({"required": true, "content": {"application/json": {
            "schema": body(checks)}}});
    }
    op
}

/// The OpenAPI 3.1 document, for the configuration in force.
pub fn document(checks: &Checks) -> Value {
    let mut paths = Map::new();
    let mut add = |path: String, method: &str, op: Value| {
        paths
            .entry(path)
            .or_insert_with(|| json!({}))
            .as_object_mut()
            .map(|m| m.insert(method.to_owned(), op));
    };
    for e in ENDPOINTS {
        if e.path == "/api/v1/estate/{kind}" {
            // One path per kind, each with the columns it sorts by.
            for (kind, columns) in lists::kinds() {
                let sort = json!({"type": "string", "enum": columns});
                let mut op = operation(e, checks, Vec::new(), Some(sort));
                op["summary"] = json!(format!(
                    "The {kind} records at the caller's sites, filtered, sorted and paged."
                ));
                add(e.path.replace("{kind}", kind), e.method, op);
            }
            continue;
        }
        let path_params = e
            .path
            .split('/')
            .filter_map(|seg| seg.strip_prefix('{')?.strip_suffix('}'))
            .map(|name| {
                let ty = match name {
                    "serial" => SERIAL,
                    "uuid" => Ty::Pat("^[0-9]{12,14}$"),
                    "hostname" => HOST,
                    "id" => Ty::Pat("^(?!\\.\\.$)[A-Za-z0-9._-]{2,40}$"),
                    _ => Ty::Text,
                };
                json!({"name": name, "in": "path", "required": true, "schema": ty.schema()})
            })
            .collect();
        add(
            e.path.to_owned(),
            e.method,
            operation(e, checks, path_params, None),
        );
    }
    let error = json!({"type": "object", "required": ["error"], "properties": {"error": {
        "type": "object", "required": ["code", "message"], "properties": {
            "code": {"type": "string"}, "message": {"type": "string"},
            "field": {"type": ["string", "null"], "description": "The parameter or field at fault, when one is."}}}}});
    let answer = |d: &str| json!({"description": d, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}});
    json!({
        "openapi": "3.1.0",
        "info": {"title": "Cardwatch API", "version": env!("CARGO_PKG_VERSION"),
                 "description": "Every answer is scoped to the caller's organisations. Errors are {error: {code, message, field?}}. The caller is checked before anything else: a request without a valid credential is answered 401 whatever it holds."},
        "paths": paths,
        "components": {
            "schemas": {"Error": error},
            "responses": {
                "Invalid": answer("A parameter or body field is wrong; field names it."),
                "NotSignedIn": answer("No session cookie or API token, or one that is not (or no longer) valid."),
                "NotEnrolled": answer("No agent credential, or one that is unknown or revoked: enrol again."),
                "EnrolmentRefused": answer("No enrolment token, or one that is unknown, used or expired."),
                "Forbidden": answer("The caller's role or organisations do not allow it."),
                "NotFound": answer("No such record among the caller's organisations."),
                "AgentTooOld": answer("The agent is older than this server understands: update it."),
                "Unavailable": {"description": "The database is not answering.",
                    "content": {"text/plain": {"schema": {"type": "string"}}}},
            },
            "securitySchemes": {
                "session": {"type": "apiKey", "in": "cookie", "name": "cw_session"},
                "token": {"type": "http", "scheme": "bearer", "description": "An API token from `cardwatch token add`."},
                "agent": {"type": "apiKey", "in": "header", "name": "Authorization",
                          "description": "`Agent CREDENTIAL`: the credential an agent got at enrolment."},
            },
        },
    })
}

async fn openapi(State(state): State<AppState>) -> axum::Json<Value> {
    axum::Json(document(&state.checks))
}
