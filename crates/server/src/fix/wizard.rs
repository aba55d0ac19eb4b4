//! `GET /triage`: the web wizard. Stateless, like the API: every answer so far travels in the
//! page's address (`obs=CHECK:RESULT`, repeated), so it works with JavaScript off, the back link
//! undoes the last answer, and an address can be passed on. One question a page, asked in NHS.UK
//! radios, with its reason in plain words and the engine's figures kept for IT staff.

use askama::Template;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use cardwatch_core::access::Permission;
use cardwatch_core::catalogue::Catalogue;
use cardwatch_core::triage::matching::{recognise, Recognised};
use cardwatch_core::triage::{
    application_name, application_said, minutes_text, Advice, Case, KnowledgeBase, StepKind, Who,
    APPLICATIONS, CANNOT,
};

use crate::fix::triage::{desk_site_names, outside, parse_desk, prepare};
use crate::web::auth::Caller;
use crate::web::scope::{refuse, viewer, Viewer};
use crate::web::{bad_request, sentence_case};
use crate::AppState;

/// What the wizard's address carries: what is happening (or the symptom chosen), where, and the
/// answers so far.
#[derive(Clone, Default)]
struct WizardQuery {
    /// Present (perhaps empty) once the form was sent.
    text: Option<String>,
    symptom: Option<String>,
    site: Option<String>,
    card: Option<String>,
    host: Option<String>,
    /// When the fault was first brought to the desk (Unix seconds), set by the first step.
    opened: Option<i64>,
    obs: Vec<(String, String)>,
    /// When each answer in `obs` was given (Unix seconds), in order, stamped by the page that
    /// received it: empty or short in an address made by hand or before answers were timed.
    answered: Vec<i64>,
    /// The step the page's form asked: sent with no answer to it, the question is asked again
    /// with an error. Never carried on.
    step: Option<String>,
    /// The answer Back undid (`CHECK:RESULT`), ticked again on the question. Never carried on.
    was: Option<String>,
    /// Back from the first question: the box again, with what was typed. Never carried on.
    again: bool,
}

/// The most characters "what were they doing" keeps (the store's limit).
const MAX_DOING: usize = 2000;

/// How long a wizard's clock runs: an address older than this is a stale link, not a fault still
/// being worked on.
const LONGEST_RUN_SECONDS: i64 = 24 * 3600;

impl WizardQuery {
    /// Parses the query string, naming a parameter that is wrong. `error_text` is the older name
    /// of `text`, kept so links already shared still open.
    fn parse(q: &str) -> Result<WizardQuery, crate::web::BadParam> {
        let mut w = WizardQuery::default();
        for (k, v) in url::form_urlencoded::parse(q.as_bytes()) {
            let v = v.trim();
            if k == "text" || k == "error_text" {
                w.text = Some(v.to_owned());
                continue;
            }
            if v.is_empty() {
                continue;
            }
            match &*k {
                "symptom" => w.symptom = Some(v.to_owned()),
                "site" => w.site = Some(v.to_owned()),
                "card_serial" => w.card = Some(v.to_owned()),
                "hostname" => w.host = Some(v.to_owned()),
                "opened" => match v.parse() {
                    Ok(t) => w.opened = Some(t),
                    Err(_) => return Err(bad_request("opened", format!("{v:?} is not a time"))),
                },
                "answered" => match v.parse() {
                    Ok(t) => w.answered.push(t),
                    Err(_) => return Err(bad_request("answered", format!("{v:?} is not a time"))),
                },
                "obs" => match v.split_once(':') {
                    Some((id, r)) => w.obs.push((id.to_owned(), r.to_owned())),
                    None => return Err(bad_request("obs", format!("{v:?} is not CHECK:RESULT"))),
                },
                "step" => w.step = Some(v.to_owned()),
                "was" => w.was = Some(v.to_owned()),
                "again" => w.again = true,
                _ => {
                    return Err(bad_request(
                        &k,
                        format!("unknown parameter {k:?} — use text, symptom, obs, site, card_serial, hostname, opened, answered, step, was, again"),
                    ))
                }
            }
        }
        Ok(w)
    }

    /// The fields that say where, as (name, value).
    fn desk(&self) -> Vec<(&'static str, String)> {
        [
            ("site", &self.site),
            ("card_serial", &self.card),
            ("hostname", &self.host),
        ]
        .into_iter()
        .filter_map(|(k, v)| v.clone().map(|v| (k, v)))
        .collect()
    }

    /// Everything carried from page to page except the answers, then the first `answers` of them.
    fn carried(&self, answers: usize) -> Vec<(&'static str, String)> {
        let mut out = Vec::new();
        if let Some(s) = &self.symptom {
            out.push(("symptom", s.clone()));
        }
        if let Some(t) = self.text.as_ref().filter(|t| !t.is_empty()) {
            out.push(("text", t.clone()));
        }
        out.extend(self.desk());
        if let Some(t) = self.opened {
            out.push(("opened", t.to_string()));
        }
        out.extend(
            self.obs
                .iter()
                .take(answers)
                .map(|(id, r)| ("obs", format!("{id}:{r}"))),
        );
        out.extend(
            self.answered
                .iter()
                .take(answers)
                .map(|t| ("answered", t.to_string())),
        );
        out
    }

    /// Stamps the answer just given with `now`, and forgets the answers' times when they do not
    /// fit the address (one for each answer, none before the start, none later than `now`, in
    /// order): a time the wizard did not give is not one to record.
    fn stamp(&mut self, now: i64) {
        if self.answered.len() + 1 == self.obs.len() {
            self.answered.push(now);
        }
        if answer_times(self, now).is_err() {
            self.answered.clear();
        }
    }
}

/// The time each answer was given, when the address says (one time for each answer, from the
/// start to `now`, in order); `Ok(None)` when it does not say, and what is wrong with times that
/// cannot be true.
fn answer_times(w: &WizardQuery, now: i64) -> Result<Option<Vec<i64>>, String> {
    if w.answered.len() != w.obs.len() || w.obs.is_empty() {
        return Ok(None);
    }
    let start = w.opened.unwrap_or(now);
    let mut last = start;
    for &t in &w.answered {
        if t < last || t > now {
            return Err(
                "the times of its answers are not ones Cardwatch gave (before the triage began, out of order or later than now)".into(),
            );
        }
        last = t;
    }
    Ok(Some(w.answered.clone()))
}

/// When a recorded run began: the wizard's start when it is neither later than `now` nor more
/// than [`LONGEST_RUN_SECONDS`] before it, else what is wrong, for the desk; `now` when the
/// address has no start (made by hand).
fn start_of_run(opened: Option<i64>, now: i64) -> Result<i64, String> {
    match opened {
        None => Ok(now),
        Some(t) if t > now => Err(
            "its start time is later than now, so it is not one Cardwatch gave".into(),
        ),
        Some(t) if now - t > LONGEST_RUN_SECONDS => Err(format!(
            "it began {}, more than 24 hours ago — too long ago to be recorded as the fault being worked on now",
            cardwatch_core::date::Timestamp::from_unix(t).long()
        )),
        Some(t) => Ok(t),
    }
}

/// Minutes since the fault was brought to the desk (`opened`), by the clock, when the address is
/// fresh.
fn elapsed_minutes(opened: Option<i64>, now: i64) -> Option<f64> {
    let gone = now - opened?;
    (0..=LONGEST_RUN_SECONDS)
        .contains(&gone)
        .then(|| gone as f64 / 60.0)
}

/// The address of the wizard with these fields.
fn address(fields: &[(&str, String)]) -> String {
    let query = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(fields)
        .finish();
    format!("/triage?{query}")
}

/// A problem with what was typed, shown in the NHS.UK error summary.
struct Problem {
    title: String,
    detail: String,
    field: &'static str,
    link: String,
}

struct Choice {
    id: String,
    plain: String,
}

struct Listed {
    href: String,
    plain: String,
}

#[derive(Template)]
#[template(path = "triage_start.html")]
struct Start<'a> {
    problem: Option<Problem>,
    /// The field at fault and what to type there, for its error message.
    wrong: Option<(&'static str, String)>,
    /// Whether "where it is happening" is shown open: a field in it is at fault, or was filled
    /// in (so what was typed is seen, not hidden, when Back comes here).
    desk_open: bool,
    /// What to do meanwhile and never to do, said when nothing was recognised: no step follows
    /// to carry it.
    guardrail: Option<&'a str>,
    text: &'a str,
    choices: Vec<Choice>,
    desk: Vec<(&'static str, String)>,
    site: &'a str,
    card: &'a str,
    host: &'a str,
    symptoms: Vec<Listed>,
}

#[derive(Template)]
#[template(path = "triage_step.html")]
struct StepPage<'a> {
    back: String,
    /// The step the question asks, sent back with the answer.
    step: &'a str,
    /// The answer to show ticked (`CHECK:RESULT`): the one Back undid; none otherwise.
    ticked: String,
    /// The form was sent without choosing an answer.
    unanswered: bool,
    symptom: &'a str,
    known: Vec<String>,
    escalate: bool,
    /// The step is the Registration Authority's, in person: the desk books it and passes the
    /// incident on, rather than answering whether it worked.
    booking: bool,
    done: bool,
    because: &'a [String],
    prompt: &'a str,
    why: String,
    carried: Vec<(&'static str, String)>,
    answers: Vec<(String, String)>,
    csrf: &'a str,
    query: String,
    outcome: &'static str,
    record_label: &'static str,
    guardrail: &'a str,
    reason: &'a str,
    causes: Vec<(String, String)>,
    /// The record form's field at fault and what to do, with what was typed kept.
    problem: Option<(&'static str, String)>,
    /// The systems the record form offers, as (id, name).
    systems: Vec<(&'static str, String)>,
    /// The system chosen, by its id.
    application: String,
    doing: String,
    status: StatusCode,
}

const TITLE: &str = "Smartcard problem";

fn render(caller: &Caller, body: Result<String, askama::Error>) -> Response {
    // Rendering only fails on a formatter error writing into a String, which cannot happen.
    crate::web::layout::page(TITLE, Some(caller), &body.unwrap_or_default()).into_response()
}

/// The first page: the box, or the same page with the question that tells two symptoms apart,
/// or with what went wrong and everything typed kept.
fn start(
    caller: &Caller,
    kb: &KnowledgeBase,
    w: &WizardQuery,
    problem: Option<Problem>,
    choices: Vec<usize>,
) -> Response {
    let listed = problem.is_some() && problem.as_ref().is_some_and(|p| p.field == "text");
    let wrong = problem.as_ref().map(|p| (p.field, p.link.clone()));
    let page = Start {
        desk_open: wrong.as_ref().is_some_and(|(f, _)| *f != "text")
            || [&w.site, &w.card, &w.host]
                .iter()
                .any(|v| v.as_deref().is_some_and(|v| !v.is_empty())),
        guardrail: listed.then_some(kb.settings.guardrail.as_str()),
        wrong,
        text: w.text.as_deref().unwrap_or(""),
        choices: choices
            .iter()
            .map(|&s| Choice {
                id: kb.symptoms[s].id.clone(),
                plain: kb.symptoms[s].plain.clone(),
            })
            .collect(),
        desk: w.desk(),
        site: w.site.as_deref().unwrap_or(""),
        card: w.card.as_deref().unwrap_or(""),
        host: w.host.as_deref().unwrap_or(""),
        symptoms: if listed {
            kb.symptoms
                .iter()
                .map(|s| Listed {
                    href: address(
                        &[("symptom", s.id.clone())]
                            .into_iter()
                            .chain(w.carried(0).into_iter().filter(|(k, _)| *k != "symptom"))
                            .collect::<Vec<_>>(),
                    ),
                    plain: s.plain.clone(),
                })
                .collect()
        } else {
            Vec::new()
        },
        problem,
    };
    render(caller, page.render())
}

/// Who does a step, as the desk would say it.
fn who(w: Who) -> &'static str {
    match w {
        Who::Reception => "Anyone at the desk",
        Who::Holder => "The card holder",
        Who::PracticeManager => "The practice manager",
        Who::It => "IT support",
        Who::Ra => "The Registration Authority",
    }
}

/// An answer in plain words, smartcard software by the catalogue's name.
fn answer_label(catalogue: &Catalogue, kind: StepKind, result: &str) -> String {
    cardwatch_core::triage::answer_named(catalogue, kind, result)
}

/// The systems a clinician may have been using, as (id, name), in the order Cardwatch lists
/// them: the names the escalation packet gives them, so the desk chooses what support reads.
fn systems() -> Vec<(&'static str, String)> {
    APPLICATIONS
        .iter()
        .map(|&a| {
            let name = application_name(a);
            let mut c = name.chars();
            let name = c
                .next()
                .map(|f| f.to_uppercase().collect::<String>() + c.as_str())
                .unwrap_or_default();
            (a, name)
        })
        .collect()
}

/// A probability as a desk says it: "about 8 in 10", "nearly certain", "about 1 in 20".
fn chance_in_words(p: f64) -> String {
    match p {
        p if p >= 0.95 => "nearly certain".into(),
        p if p >= 0.1 => format!("about {:.0} in 10", (p * 10.0).round()),
        p if p >= 0.01 => format!("about 1 in {:.0}", (1.0 / p).round()),
        _ => "less than 1 in 100".into(),
    }
}

/// Why this step, in a sentence a receptionist can read out: the likeliest cause, who can do it
/// and how long it takes.
fn plain_why(kb: &KnowledgeBase, a: &Advice) -> String {
    // The cause's name as the knowledge base writes it (many begin with a product's name), and
    // its chance in words a desk reads out.
    let likeliest = a.posterior.first().map(|&(c, p)| {
        format!(
            "The likeliest cause: {} ({}). ",
            kb.causes[c].name,
            chance_in_words(p)
        )
    });
    // A fix for another cause than the likeliest (a cheap one tried first) says which it is
    // for: "clean the chip" beside "likeliest: reader unplugged" reads as a mistake.
    let cleared = a
        .fix_for
        .filter(|&c| a.posterior.first().is_some_and(|&(top, _)| top != c))
        .and_then(|c| a.posterior.iter().find(|x| x.0 == c).copied());
    let cause = match (cleared, likeliest) {
        (Some((c, p)), Some(l)) => Some(format!(
            "This step is for: {} ({}). {l}",
            kb.causes[c].name,
            chance_in_words(p)
        )),
        (_, l) => l,
    };
    let doer = a.next.who.map_or("Someone at the desk", who);
    let aside = a
        .aside
        .as_deref()
        .map(|t| format!(" {t}"))
        .unwrap_or_default();
    // A check finds out, it fixes nothing: said so, lest "the likeliest cause: certificate
    // expired … anyone at the desk can do this" read as the desk renewing it.
    let what = match a.next.kind {
        StepKind::Check => "This check tells the likely causes apart. ",
        _ => "",
    };
    format!(
        "{}{what}{doer} can do it in about {}.{aside}",
        cause.unwrap_or_default(),
        minutes_text(a.next.cost_minutes)
    )
}

pub(crate) async fn page_handler(
    State(state): State<AppState>,
    caller: Caller,
    RawQuery(q): RawQuery,
) -> Response {
    let viewer = match viewer(&state, caller, Permission::Triage, false).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let w = match WizardQuery::parse(q.as_deref().unwrap_or("")) {
        Ok(w) => w,
        Err(e) => return changed_link(&viewer.caller, e),
    };
    show(&state, &viewer, w, Typed::default()).await
}

/// A triage address that was changed or cut short (the wizard writes every one it links to):
/// nothing on the page can put it right, so the desk starts again.
fn changed_link(caller: &Caller, e: crate::web::BadParam) -> Response {
    let (_, detail) = e.parts();
    let message = format!(
        "This triage link has been changed or cut short ({detail}). Start again and say what is happening."
    );
    crate::web::lookup::plain(
        caller,
        StatusCode::BAD_REQUEST,
        TITLE,
        &message,
        ("/triage", "Start again"),
    )
}

/// What was typed into the record form, kept when it is shown again with a problem.
#[derive(Default)]
struct Typed {
    /// The field at fault and what to do, for the error summary and the field.
    problem: Option<(&'static str, String)>,
    application: String,
    doing: String,
}

/// The wizard's page for an address: the box, the question that tells symptoms apart, the next
/// step, or the end with the form that records the run (with `typed` and its problem kept).
async fn show(state: &AppState, viewer: &Viewer, mut w: WizardQuery, typed: Typed) -> Response {
    let kb = &state.checks.triage;
    let caller = &viewer.caller;
    let desk = match parse_desk(w.site.as_deref(), w.card.as_deref(), w.host.as_deref()) {
        Ok(d) => d,
        Err((field, message)) => {
            let problem = Problem {
                title: "Check where it is happening".into(),
                detail: message,
                field,
                link: match field {
                    "site" => "Enter the practice's ODS code, like A81001".into(),
                    "card_serial" => "Enter the card number as printed on the back".into(),
                    _ => "Enter the computer's name as Windows shows it".into(),
                },
            };
            let mut r = start(caller, kb, &w, Some(problem), Vec::new());
            *r.status_mut() = StatusCode::BAD_REQUEST;
            return r;
        }
    };
    let s = match (&w.symptom, w.text.as_deref()) {
        (Some(id), _) => match kb.symptom(id) {
            Some(s) => s,
            None => {
                // An address from an older knowledge base, or one typed by hand: the box again,
                // with the problems Cardwatch knows to choose from.
                let problem = Problem {
                    title: "Cardwatch does not know that problem".into(),
                    detail: format!("There is no problem called “{id}” in Cardwatch's triage."),
                    field: "text",
                    link: "Say what is happening, or choose the problem from the list below".into(),
                };
                let mut r = start(caller, kb, &w, Some(problem), Vec::new());
                *r.status_mut() = StatusCode::BAD_REQUEST;
                return r;
            }
        },
        (None, None) => return start(caller, kb, &w, None, Vec::new()),
        (None, Some(_)) if w.again => return start(caller, kb, &w, None, Vec::new()),
        (None, Some("")) => {
            let problem = Problem {
                title: "There is a problem".into(),
                detail: "Nothing was typed.".into(),
                field: "text",
                link: "Say what is happening, in the clinician's words".into(),
            };
            let mut r = start(caller, kb, &w, Some(problem), Vec::new());
            *r.status_mut() = StatusCode::BAD_REQUEST;
            return r;
        }
        (None, Some(text)) => match recognise(kb, text) {
            Recognised::Symptom(m) => m.symptom,
            Recognised::Choose(choices) => return start(caller, kb, &w, None, choices),
            Recognised::Nothing => {
                let problem = Problem {
                    title: "Cardwatch could not tell what the problem is".into(),
                    detail: format!(
                        "“{text}” does not sound like a smartcard problem Cardwatch knows."
                    ),
                    field: "text",
                    link: "Say it another way, or choose the problem from the list below".into(),
                };
                return start(caller, kb, &w, Some(problem), Vec::new());
            }
        },
    };
    w.symptom = Some(kb.symptoms[s].id.clone());
    let now = (state.now)();
    // The clock starts when the fault reaches its first step.
    w.opened = w.opened.or(Some(now.unix()));
    w.stamp(now.unix());
    let given = Case {
        observations: w.obs.clone(),
        words: w.text.clone(),
        elapsed_minutes: elapsed_minutes(w.opened, now.unix()),
        ..Case::default()
    };
    let checks = state.checks.clone();
    let prepared = crate::web::blocking(state, {
        let desk = desk.clone();
        move |store| prepare(store, &checks, s, &desk, now, None, given)
    })
    .await;
    let case = match prepared {
        Ok((cx, c)) => {
            // A site, card or computer that is not the caller's: the box again, with what was
            // typed and the field to correct.
            let names = desk_site_names(state, viewer, &desk).await;
            if let Some((field, message)) = outside(viewer, &desk, &cx, &names) {
                let problem = Problem {
                    title: "Check where it is happening".into(),
                    detail: sentence_case(&message),
                    field,
                    link: match field {
                        "site" => "Enter one of your practices' ODS codes, or leave it empty",
                        "card_serial" => "Check the card number, or leave it empty",
                        _ => "Check the computer's name, or leave it empty",
                    }
                    .into(),
                };
                let mut r = start(caller, kb, &w, Some(problem), Vec::new());
                *r.status_mut() = StatusCode::FORBIDDEN;
                return r;
            }
            c
        }
        Err(f) => return f.into_response(),
    };
    let a = match kb.answer(s, &case) {
        Ok(a) => a,
        Err(e) => {
            let mut first = w.carried(0);
            first.retain(|(k, _)| *k != "symptom" && *k != "opened");
            let message = format!(
                "An answer in this triage link does not fit the question asked ({}). Start again; what was typed is kept.",
                e.message
            );
            return crate::web::lookup::plain(
                caller,
                StatusCode::BAD_REQUEST,
                TITLE,
                &message,
                (&address(&first), "Start again"),
            );
        }
    };
    let carried = w.carried(w.obs.len());
    // Back undoes the last answer, which the question it returns to shows ticked; before any,
    // it returns to the box with the words kept.
    let back = match w.obs.last() {
        None => {
            let mut first = w.carried(0);
            first.retain(|(k, _)| *k != "symptom" && *k != "opened");
            if first.iter().any(|(k, _)| *k == "text") {
                first.push(("again", "1".into()));
            }
            address(&first)
        }
        Some((id, r)) => {
            let mut before = w.carried(w.obs.len() - 1);
            before.push(("was", format!("{id}:{r}")));
            address(&before)
        }
    };
    let next = &a.next;
    // The form was sent without an answer to its question: asked again, saying so.
    let unanswered = w
        .step
        .as_deref()
        .is_some_and(|asked| asked == next.id && w.obs.last().is_none_or(|(id, _)| id != asked));
    let catalogue = &state.checks.catalogue;
    let (escalate, done) = (next.kind == StepKind::Escalate, next.kind == StepKind::Done);
    let mut answers: Vec<(String, String)> = next
        .results
        .iter()
        .map(|r| {
            (
                format!("{}:{r}", next.id),
                answer_label(catalogue, next.kind, r),
            )
        })
        .collect();
    if matches!(next.kind, StepKind::Check | StepKind::Fix) {
        answers.push((
            format!("{}:{CANNOT}", next.id),
            answer_label(catalogue, next.kind, CANNOT),
        ));
    }
    let page = StepPage {
        back,
        step: &next.id,
        ticked: w.was.clone().unwrap_or_default(),
        unanswered,
        symptom: &kb.symptoms[s].plain,
        known: a
            .known
            .iter()
            .map(|k| {
                // The question in the knowledge base's words and the answer the records give,
                // as the packet lists them.
                let asked = kb.check(&k.check).map_or_else(
                    || k.check.replace('-', " "),
                    |c| kb.checks[c].prompt.clone(),
                );
                format!(
                    "{asked} {} ({})",
                    answer_label(catalogue, StepKind::Check, &k.result),
                    k.because
                )
            })
            .collect(),
        escalate,
        booking: !escalate && a.books_ra(),
        done,
        because: &a.escalate_because,
        prompt: &next.prompt,
        why: if done {
            next.reason.clone()
        } else {
            plain_why(kb, &a)
        },
        query: address(&carried).trim_start_matches("/triage?").to_owned(),
        carried,
        answers,
        csrf: &caller.csrf,
        outcome: if done { "resolved" } else { "escalated" },
        record_label: if done {
            "Record the fix"
        } else if a.books_ra() {
            "Passed to the RA: record it and open the packet"
        } else {
            "Record it and open the escalation packet"
        },
        guardrail: &a.guardrail,
        reason: &next.reason,
        causes: a
            .posterior
            .iter()
            .take(3)
            .map(|&(c, p)| (kb.causes[c].name.clone(), format!("{:.0}", p * 100.0)))
            .collect(),
        status: if typed.problem.is_some() || unanswered {
            StatusCode::BAD_REQUEST
        } else {
            StatusCode::OK
        },
        problem: typed.problem,
        systems: systems(),
        application: typed.application,
        doing: typed.doing,
    };
    let status = page.status;
    let mut r = render(caller, page.render());
    *r.status_mut() = status;
    r
}

/// The record form's fields.
#[derive(Default)]
pub(crate) struct RecordForm {
    csrf: String,
    query: String,
    outcome: String,
    application: String,
    doing: String,
}

impl RecordForm {
    /// The fields of a form body, read as a browser sends them: unknown names ignored and a name
    /// sent twice taking its last value, so no body is answered with the extractor's plain-text
    /// refusal instead of a page.
    fn from_body(body: &[u8]) -> RecordForm {
        let mut f = RecordForm::default();
        for (k, v) in url::form_urlencoded::parse(body) {
            let v = v.into_owned();
            match &*k {
                "csrf" => f.csrf = v,
                "query" => f.query = v,
                "outcome" => f.outcome = v,
                "application" => f.application = v,
                "doing" => f.doing = v,
                _ => {}
            }
        }
        f
    }
}

/// `POST /triage/record`: the web wizard's run kept as an incident — its answers as steps, then
/// escalated (to the packet) or resolved with the cause the last fix confirms.
pub(crate) async fn record(
    State(state): State<AppState>,
    caller: Caller,
    body: axum::body::Bytes,
) -> Response {
    let f = RecordForm::from_body(&body);
    let viewer = match viewer(&state, caller, Permission::Triage, false).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    if let Err(r) = viewer.caller.check_csrf(&f.csrf) {
        return r.into_response();
    }
    let w = match WizardQuery::parse(&f.query) {
        Ok(w) => w,
        Err(e) => return changed_link(&viewer.caller, e),
    };
    // The step's address, to go back to when the form cannot be put right on its page.
    let step = address(&w.carried(w.obs.len()));
    let cannot = |message: String| {
        crate::web::lookup::plain(
            &viewer.caller,
            StatusCode::BAD_REQUEST,
            TITLE,
            &message,
            (&step, "Back to the triage"),
        )
    };
    // A field typed wrong: the same page again, the problem shown and what was typed kept.
    let typed = |field: &'static str, message: String| Typed {
        problem: Some((field, message)),
        application: f.application.clone(),
        doing: f.doing.clone(),
    };
    // The form's list sends a system's id exactly; anything else did not come from it.
    let application = match f.application.as_str() {
        // Not chosen (or passed on before the question): the system the description names.
        "" => w
            .text
            .as_deref()
            .and_then(|t| application_said(&state.checks.triage, t))
            .map(str::to_owned),
        a if APPLICATIONS.contains(&a) => Some(a.to_owned()),
        _ => {
            let m = "Choose the system from the list, or leave it as Not known".to_owned();
            return show(&state, &viewer, w, typed("application", m)).await;
        }
    };
    if f.doing.trim().chars().count() > MAX_DOING {
        let m = format!("Say what they were doing in at most {MAX_DOING} characters");
        return show(&state, &viewer, w, typed("doing", m)).await;
    }
    let now = (state.now)();
    // The address travels through the browser unsigned, so its times are only taken within
    // what they can truly be: a run that began in the last day, answers in order since.
    let began = match start_of_run(w.opened, now.unix()) {
        Ok(t) => cardwatch_core::date::Timestamp::from_unix(t),
        Err(why) => {
            return cannot(format!(
                "This triage cannot be recorded: {why}. Start the triage again from the beginning."
            ))
        }
    };
    let times = match answer_times(&w, now.unix()) {
        Ok(t) => t,
        Err(why) => {
            return cannot(format!(
                "This triage cannot be recorded: {why}. Start the triage again from the beginning."
            ))
        }
    };
    let WizardQuery {
        symptom,
        text: error_text,
        site,
        card,
        host,
        opened,
        obs,
        answered: _,
        step: _,
        was: _,
        again: _,
    } = w;
    let desk = match parse_desk(site.as_deref(), card.as_deref(), host.as_deref()) {
        Ok(d) => d,
        Err((_, message)) => {
            return cannot(format!(
                "Where it happened cannot be read ({message}). Go back to the triage and record it again."
            ))
        }
    };
    let kb = &state.checks.triage;
    let (s, _) = match kb.resolve(symptom.as_deref(), error_text.as_deref()) {
        Ok(x) => x,
        Err(e) => {
            return cannot(format!(
                "Cardwatch cannot tell which problem this was ({}). Go back to the triage and record it again.",
                e.message
            ))
        }
    };
    let outcome = match f.outcome.as_str() {
        "escalated" => cardwatch_core::triage::IncidentStatus::Escalated,
        "resolved" => cardwatch_core::triage::IncidentStatus::Resolved,
        _ => {
            return cannot(
                "The form did not say whether the problem was fixed or passed to support. Go back to the triage and press the button again.".into(),
            )
        }
    };
    let checks = state.checks.clone();
    let reporter = format!("web:{}", viewer.caller.user.user.username);
    let doing = Some(f.doing.trim().to_owned()).filter(|d| !d.is_empty());
    let symptom_id = kb.symptoms[s].id.clone();
    let result = crate::web::blocking(&state, {
        let desk = desk.clone();
        let words = error_text.clone();
        move |store| {
            let (cx, case) = prepare(
                store,
                &checks,
                s,
                &desk,
                now,
                None,
                Case {
                    observations: obs.clone(),
                    words: words.clone(),
                    elapsed_minutes: elapsed_minutes(opened, now.unix()),
                    ..Case::default()
                },
            )?;
            Ok((cx, case))
        }
    })
    .await;
    let (cx, case) = match result {
        Ok(x) => x,
        Err(f) => return f.into_response(),
    };
    let names = desk_site_names(&state, &viewer, &desk).await;
    if let Some((field, message)) = outside(&viewer, &desk, &cx, &names) {
        return refuse(false, Some(field), &message);
    }
    let advice = match kb.answer(s, &case) {
        Ok(a) => a,
        Err(e) => {
            return cannot(format!(
                "An answer in this triage does not fit the question asked ({}). Go back to the triage and record it again.",
                e.message
            ))
        }
    };
    let cause = advice.confirmed_cause.map(|c| kb.causes[c].id.clone());
    // No site named or found: an operator of one organisation is at that one.
    let only = match viewer.caller.user.user.organisations.as_slice() {
        [one] => Some(one.as_str().to_owned()),
        _ => None,
    };
    let new = cardwatch_core::triage::NewIncident {
        reporter: reporter.clone(),
        site: cx.site.clone().or(cx.holder_site.clone()).or(only),
        card_serial: desk.card.as_ref().map(|c| c.as_str().to_owned()),
        hostname: desk.hostname.as_ref().map(|h| h.as_str().to_owned()),
        application,
        doing,
        symptom: symptom_id,
        error_text,
    };
    let by = |at| cardwatch_store::Change {
        actor: reporter.clone(),
        at,
    };
    // Opened when the wizard began and each step when it was answered, as if recorded as it
    // happened; steps whose times the address does not carry are recorded now, all together,
    // which the packet reads as not timed.
    let run = cardwatch_store::RecordedIncident {
        opened: new,
        opened_by: by(began),
        steps: case
            .observations
            .iter()
            .enumerate()
            .map(|(n, (step, result))| {
                let at = times
                    .as_ref()
                    .and_then(|t| t.get(n))
                    .map_or(now, |&t| cardwatch_core::date::Timestamp::from_unix(t));
                let step = cardwatch_core::triage::IncidentStep {
                    at,
                    id: step.clone(),
                    result: result.clone(),
                };
                (step, by(at))
            })
            .collect(),
        closed: Some((outcome, cause, by(now))),
    };
    let made = crate::web::blocking(&state, move |store| {
        let ids = store.record_incidents(&[run])?;
        ids.first().copied().ok_or_else(|| {
            cardwatch_store::StoreError::Database(
                "the incident was recorded without a number".into(),
            )
        })
    })
    .await;
    match made {
        Ok(id) => {
            let to = if outcome == cardwatch_core::triage::IncidentStatus::Escalated {
                format!("/incidents/{id}/packet")
            } else {
                // The list says it was kept, so the desk knows the fix counted.
                format!("/incidents?recorded={id}")
            };
            (
                axum::http::StatusCode::SEE_OTHER,
                [(axum::http::header::LOCATION, to)],
            )
                .into_response()
        }
        // The store refuses what it cannot keep (text too long, say) in words for the desk.
        Err(crate::web::Failure(cardwatch_store::StoreError::Invalid(m))) => {
            cannot(format!("The incident was not recorded: {m}."))
        }
        Err(f) => f.into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cardwatch_core::triage::NOT_FIXED;

    /// Every first step and every step after fixes that failed, for every symptom: a check says
    /// it tells causes apart; a fix for another cause than the likeliest names the one it is for.
    #[test]
    fn why_a_step_says_what_it_is_for() {
        let kb = KnowledgeBase::shipped();
        let (mut checks, mut aside) = (0, 0);
        for s in 0..kb.symptoms.len() {
            let mut case = Case::default();
            for _ in 0..6 {
                let Ok(a) = kb.advise(s, &case) else { break };
                let why = plain_why(&kb, &a);
                match a.next.kind {
                    StepKind::Check => {
                        checks += 1;
                        assert!(
                            why.contains("This check tells the likely causes apart."),
                            "{why}"
                        );
                        // Answer it as its first result, to walk on.
                        case.observations
                            .push((a.next.id.clone(), a.next.results[0].clone()));
                    }
                    StepKind::Fix => {
                        let f = kb.fix(&a.next.id).unwrap();
                        let (for_cause, _) = a
                            .posterior
                            .iter()
                            .map(|&(c, p)| (c, p * kb.fixes[f].success[c]))
                            .max_by(|x, y| x.1.total_cmp(&y.1))
                            .unwrap();
                        if for_cause != a.posterior[0].0 {
                            aside += 1;
                            let said = format!("This step is for: {}", kb.causes[for_cause].name);
                            assert!(why.starts_with(&said), "{why}");
                        } else {
                            assert!(why.starts_with("The likeliest cause: "), "{why}");
                        }
                        case.observations
                            .push((a.next.id.clone(), NOT_FIXED.into()));
                    }
                    _ => break,
                }
            }
        }
        assert!(
            checks > 0 && aside > 0,
            "checks {checks}, fixes for another cause {aside}"
        );
    }
}
