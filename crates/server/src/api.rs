//! The JSON API's one table: every `/api/v1` route with its handler, parameters and answers.
//! The router mounts the routes from it and `GET /api/v1/openapi.json` is written from it, so
//! the document cannot drift from what the server does.

use axum::routing::{get, post, MethodRouter};
use serde_json::{json, Map, Value};

use crate::admin;
use crate::agents;
use crate::estate::{cards, integrations, lists, people, workstations};
use crate::fix::{incidents, triage};
use crate::govern::{audit, reports, retention, reviews};
use crate::notify::jobs_page;
use crate::prevent::{findings, migration, overview, plan};
use crate::web::auth;
use crate::AppState;

/// Where a parameter goes and what it holds.
struct Param {
    name: &'static str,
    kind: &'static str,
    required: bool,
    about: &'static str,
}

const fn p(name: &'static str, kind: &'static str, about: &'static str) -> Param {
    Param {
        name,
        kind,
        required: false,
        about,
    }
}

/// One API route.
struct Endpoint {
    method: &'static str,
    path: &'static str,
    summary: &'static str,
    /// Who may call it.
    needs: &'static str,
    query: &'static [Param],
    /// The JSON body's fields, for a POST.
    body: &'static [Param],
    /// Other answers than JSON (`text/csv`, `text/calendar`).
    also: &'static [&'static str],
    handler: fn() -> MethodRouter<AppState>,
}

const ENDPOINTS: &[Endpoint] = &[
    Endpoint {
        method: "get",
        path: "/api/v1/overview",
        summary: "The caller's organisations at a glance: certificates expired and expiring within 7, 30 and 90 days, urgent findings, open incidents, spares below minimum, software below mandatory.",
        needs: "view estate",
        query: &[],
        body: &[],
        also: &[],
        handler: || get(overview::api),
    },
    Endpoint {
        method: "get",
        path: "/api/v1/jobs",
        summary: "The scheduler: each job's schedule, the newest runs, the outbox by state and the messages that failed.",
        needs: "manage users (administrators)",
        query: &[],
        body: &[],
        also: &[],
        handler: || get(jobs_page::api),
    },
    Endpoint {
        method: "get",
        path: "/api/v1/reviews",
        summary: "Access reviews: the positions in force at the caller's sites with each one's latest decision; by default only those not reviewed within a year.",
        needs: "view people",
        query: &[
            p("show", "string", "due (default) or all"),
            p("offset", "integer", "Skip this many."),
            p("limit", "integer", "At most this many (1 to 5000; 200 by default)."),
        ],
        body: &[],
        also: &[],
        handler: || get(reviews::api),
    },
    Endpoint {
        method: "get",
        path: "/api/v1/agents",
        summary: "The workstation agents: workstation, version, enrolled, last heard from, revoked, the site their token named, and what became of their latest inventory.",
        needs: "manage users (administrators)",
        query: &[],
        body: &[],
        also: &[],
        handler: || get(agents::page::api),
    },
    Endpoint {
        method: "post",
        path: "/api/v1/agents/enrol",
        summary: "A workstation agent exchanges a one-time enrolment token (from `cardwatch agent token`) for its own credential: 201 {agent_id, credential}; 401 when the token is unknown, used or expired; 426 when the agent is too old.",
        needs: "an enrolment token",
        query: &[],
        body: &[
            p("token", "string", "The one-time enrolment token."),
            p("hostname", "string", "The workstation's host name."),
            p("version", "string", "The agent's version, major.minor.patch."),
        ],
        also: &[],
        handler: || post(agents::api::enrol),
    },
    Endpoint {
        method: "post",
        path: "/api/v1/agents/heartbeat",
        summary: "An enrolled agent says it is alive (Authorization: Agent CREDENTIAL, X-Cardwatch-Agent-Version): {agent_id, server_time}; 401 when revoked; 426 when too old.",
        needs: "an agent credential",
        query: &[],
        body: &[],
        also: &[],
        handler: || post(agents::api::heartbeat),
    },
    Endpoint {
        method: "post",
        path: "/api/v1/agents/events",
        summary: "An enrolled agent reports a batch of events (card inserted/removed, reader attached/detached, diagnosis results): each recorded once by its id, so a retried batch adds nothing. {accepted, duplicates}.",
        needs: "an agent credential",
        query: &[],
        body: &[p("events", "array", "Up to 1000 events, each {id, at, kind, data}.")],
        also: &[],
        handler: || post(agents::api::events),
    },
    Endpoint {
        method: "get",
        path: "/api/v1/me",
        summary: "The signed-in operator: user name, role, organisations.",
        needs: "any signed-in operator",
        query: &[],
        body: &[],
        also: &[],
        handler: || get(auth::me),
    },
    Endpoint {
        method: "get",
        path: "/api/v1/findings",
        summary: "Health-check findings of the caller's sites as a work queue: grouped by what to do and who does it (`groups`, each counted), the most urgent group and finding first; paged by `limit` and the `next_cursor` of each answer.",
        needs: "view estate",
        query: &[
            p("site", "string", "Only this site (ODS code)."),
            p("owner", "string", "Only findings for holder, practice_manager, it or ra to act on."),
            p("min_severity", "string", "info, warning, urgent or critical."),
            p("rule", "string", "Only rules whose id starts with this (a rule, or a group such as integration-)."),
            p("all", "boolean", "Include snoozed findings."),
            p("format", "string", "json (default) or csv (every finding that passes, in the same order)."),
            p("sort", "string", "site, severity, rule, subject, owner or due (default: the queue's order)."),
            p("order", "string", "asc (default) or desc."),
            p("limit", "integer", "At most this many (1 to 10000, default 50)."),
            p("cursor", "string", "The next page: an answer's next_cursor, with the same filters."),
            p("offset", "integer", "Skip this many (instead of a cursor)."),
        ],
        body: &[],
        also: &["text/csv"],
        handler: || get(findings::api),
    },
    Endpoint {
        method: "get",
        path: "/api/v1/plan",
        summary: "The renewal plan: weekly forecast, target day per certificate, the wait-for-the-prompt comparison.",
        needs: "view estate",
        query: &[
            Param {
                name: "capacity",
                kind: "integer",
                required: false,
                about: "Renewals a working day for sites no configured RA team serves (required when none is configured).",
            },
            p("from", "string", "First day of the plan (ISO date)."),
            p("site", "string", "Only this site's renewals."),
            p("wait_days", "integer", "Days before expiry people act when they wait for the prompt."),
            p("format", "string", "json (default), csv or ics."),
            p("offset", "integer", "Skip this many renewals."),
            p("limit", "integer", "At most this many renewals."),
        ],
        body: &[],
        also: &["text/csv", "text/calendar"],
        handler: || get(plan::api),
    },
    Endpoint {
        method: "get",
        path: "/api/v1/plan/migration",
        summary: "The move of the caller's workstations from a retiring authentication client (NHS Identity Agent) to its successor (NHS Smartcard Connect): per site, one machine first after core hours, then the pilot and broad rings, before the catalogue's date less a margin; machines held up by an application, with it. `plan` is null when no client is retiring.",
        needs: "view estate",
        query: &[
            p("from", "string", "The first day a machine may move (ISO date; default today)."),
            p("per_day", "integer", "Machines the IT team can move in a working day across the estate (1 to 100000; default no limit)."),
            p("margin_days", "integer", "Days before the old client stops by which every machine should have moved (0 to 90; default 14)."),
        ],
        body: &[],
        also: &[],
        handler: || get(migration::api),
    },
    Endpoint {
        method: "post",
        path: "/api/v1/triage/next",
        summary: "The next triage step for a symptom and the observations so far, with the posterior over causes and whether to escalate. Stateless.",
        needs: "triage",
        query: &[],
        body: &[
            p("symptom", "string", "A symptom id (or give error_text)."),
            p("error_text", "string", "The error text or code the user sees."),
            p("observations", "object", "Check or fix id → result, so far."),
            p("facts", "object", "Facts already known (an agent's probes), key → value."),
            p("site", "string", "The site (ODS code)."),
            p("card_serial", "string", "The card."),
            p("hostname", "string", "The workstation."),
            p("elapsed_minutes", "number", "Minutes since the fault was reported."),
            p("others_affected", "integer", "Others at the site with the same symptom this hour."),
        ],
        also: &[],
        handler: || post(triage::next),
    },
    Endpoint {
        method: "get",
        path: "/api/v1/triage/next",
        summary: "The first triage step for what is happening, in any words: the advice (as the POST answers), or, when the words fit two or three symptoms equally, {question, choices: [{id, plain}]} to ask before choosing one with symptom.",
        needs: "triage",
        query: &[
            p("text", "string", "What is happening, in the clinician's words, or the error text or code (or give symptom)."),
            p("symptom", "string", "A symptom id, e.g. the choice made after a question."),
            p("site", "string", "The site (ODS code)."),
            p("card_serial", "string", "The card."),
            p("hostname", "string", "The workstation."),
        ],
        body: &[],
        also: &[],
        handler: || get(triage::first_step),
    },
    Endpoint {
        method: "get",
        path: "/api/v1/incidents",
        summary: "Triage incidents of the caller's sites, newest first: filtered, sorted, paged, or as CSV.",
        needs: "view estate",
        query: &[
            p("status", "string", "open, resolved or escalated."),
            p("site", "string", "Only this site (ODS code)."),
            p("sort", "string", "opened (default, newest first), site, symptom, status, minutes or cause."),
            p("order", "string", "asc or desc."),
            p("format", "string", "json (default) or csv."),
            p("offset", "integer", "Skip this many."),
            p("limit", "integer", "At most this many (1 to 5000, default 200)."),
        ],
        body: &[],
        also: &[],
        handler: || get(incidents::api),
    },
    Endpoint {
        method: "get",
        path: "/api/v1/audit",
        summary: "The audit log, newest first, with a link to older records.",
        needs: "view audit (administrators, auditors)",
        query: &[
            p("entity", "string", "Only this kind of entity."),
            p("key", "string", "Only this entity's key."),
            p("actor", "string", "Only this actor."),
            p("before", "integer", "Only records before this sequence number."),
            p("limit", "integer", "At most this many (1 to 1000, default 100)."),
            p("format", "string", "json (default) or csv."),
        ],
        body: &[],
        also: &["text/csv"],
        handler: || get(audit::api),
    },
    Endpoint {
        method: "get",
        path: "/api/v1/estate/{kind}",
        summary: "Records of one kind (organisations, sites, people, workstations, readers, stock, integrations) at the caller's sites, filtered, sorted and paged.",
        needs: "view estate (people: view people)",
        query: &[
            p("q", "string", "Only records with a column containing this text."),
            p("sort", "string", "The column to sort by."),
            p("order", "string", "asc (default) or desc."),
            p("offset", "integer", "Skip this many."),
            p("limit", "integer", "At most this many (default 100, up to 5000)."),
            p("format", "string", "json (default) or csv (every match)."),
        ],
        body: &[],
        also: &["text/csv"],
        handler: || get(lists::api),
    },
    Endpoint {
        method: "get",
        path: "/api/v1/cards/{serial}",
        summary: "One card: holder, both certificates with their state, positions, status history and incidents.",
        needs: "view people; the holder at one of the caller's sites",
        query: &[],
        body: &[],
        also: &[],
        handler: || get(cards::api),
    },
    Endpoint {
        method: "get",
        path: "/api/v1/people/{uuid}",
        summary: "One person: their positions and each of their cards with both certificates and their state.",
        needs: "view people; the person at one of the caller's sites",
        query: &[],
        body: &[],
        also: &[],
        handler: || get(people::api),
    },
    Endpoint {
        method: "get",
        path: "/api/v1/workstations/{hostname}",
        summary: "One workstation: its smartcard software judged against the catalogue, and its readers with firmware.",
        needs: "view estate; the workstation at one of the caller's sites",
        query: &[],
        body: &[],
        also: &[],
        handler: || get(workstations::api),
    },
    Endpoint {
        method: "get",
        path: "/api/v1/integrations/{id}",
        summary: "One integration profile (a service acting with practice cards): both sides of each identifier it checks, its cards, and whether it is ready to synchronise, with the findings that say why not.",
        needs: "view estate; the profile's site among the caller's",
        query: &[],
        body: &[],
        also: &[],
        handler: || get(integrations::api),
    },
    Endpoint {
        method: "get",
        path: "/api/v1/reports",
        summary: "Staff time lost to card failures over a period, and the failure rate of each smartcard software version against the component's other versions, suspects named.",
        needs: "view estate",
        query: &[p("days", "integer", "The period, in days back from today (1 to 730, default 90).")],
        body: &[],
        also: &[],
        handler: || get(reports::api),
    },
    Endpoint {
        method: "get",
        path: "/api/v1/retention",
        summary: "Leavers whose name, email and staff role are past the retention period with nothing of theirs in force: the retention job's next erasures.",
        needs: "manage users (administrators)",
        query: &[],
        body: &[],
        also: &[],
        handler: || get(retention::api),
    },
    Endpoint {
        method: "get",
        path: "/api/v1/users",
        summary: "Every operator: username, name, role, organisations, whether disabled, failed sign-ins in a row. Never a password hash.",
        needs: "manage users (administrators)",
        query: &[],
        body: &[],
        also: &[],
        handler: || get(admin::users::api),
    },
    Endpoint {
        method: "get",
        path: "/api/v1/cheatsheet",
        summary: "A site's cheat sheet: what to do when a card fails, per everyday symptom in the engine's order for the site, when to escalate, local contacts.",
        needs: "view estate; the site among the caller's",
        query: &[p("site", "string", "The site (ODS code).")],
        body: &[],
        also: &[],
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

fn schema(kind: &str) -> Value {
    json!({ "type": kind })
}

/// The OpenAPI 3.1 document.
pub fn document() -> Value {
    let mut paths = Map::new();
    for e in ENDPOINTS {
        // Path parameters (`{kind}`) come first, then the query's.
        let mut parameters: Vec<Value> = e
            .path
            .split('/')
            .filter_map(|seg| seg.strip_prefix('{')?.strip_suffix('}'))
            .map(|name| json!({"name": name, "in": "path", "required": true, "schema": schema("string")}))
            .collect();
        parameters.extend(e.query.iter().map(|q| {
            json!({"name": q.name, "in": "query", "required": q.required,
                   "description": q.about, "schema": schema(q.kind)})
        }));
        let mut content = Map::new();
        content.insert(
            "application/json".into(),
            json!({"schema": {"type": "object"}}),
        );
        for t in e.also {
            content.insert((*t).into(), json!({"schema": {"type": "string"}}));
        }
        let mut op = json!({
            "summary": e.summary,
            "description": format!("Needs: {}.", e.needs),
            "parameters": parameters,
            "responses": {
                "200": {"description": "OK", "content": content},
                "400": {"$ref": "#/components/responses/Invalid"},
                "401": {"$ref": "#/components/responses/NotSignedIn"},
                "403": {"$ref": "#/components/responses/Forbidden"},
            },
            "security": [{"session": []}, {"token": []}],
        });
        if !e.body.is_empty() {
            let props: Map<String, Value> = e
                .body
                .iter()
                .map(|b| {
                    (
                        b.name.to_owned(),
                        json!({"type": b.kind, "description": b.about}),
                    )
                })
                .collect();
            op["requestBody"] = json!({"required": true, "content": {"application/json": {
                "schema": {"type": "object", "properties": props, "additionalProperties": false}}}});
        }
        paths
            .entry(e.path)
            .or_insert_with(|| json!({}))
            .as_object_mut()
            .map(|m| m.insert(e.method.to_owned(), op));
    }
    let error = json!({"type": "object", "required": ["error"], "properties": {"error": {
        "type": "object", "required": ["code", "message"], "properties": {
            "code": {"type": "string"}, "message": {"type": "string"}, "field": {"type": "string"}}}}});
    let answer = |d: &str| json!({"description": d, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}});
    json!({
        "openapi": "3.1.0",
        "info": {"title": "Cardwatch API", "version": env!("CARGO_PKG_VERSION"),
                 "description": "Every answer is scoped to the caller's organisations. Errors are {error: {code, message, field?}}."},
        "paths": paths,
        "components": {
            "schemas": {"Error": error},
            "responses": {
                "Invalid": answer("A parameter or body field is wrong; field names it."),
                "NotSignedIn": answer("No session cookie or API token."),
                "Forbidden": answer("The caller's role or organisations do not allow it."),
            },
            "securitySchemes": {
                "session": {"type": "apiKey", "in": "cookie", "name": "cw_session"},
                "token": {"type": "http", "scheme": "bearer", "description": "An API token from `cardwatch token add`."},
            },
        },
    })
}

async fn openapi() -> axum::Json<Value> {
    axum::Json(document())
}
