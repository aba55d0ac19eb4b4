//! One triage question and its answer in the shape the API and `cardwatch triage --json` share:
//! a symptom given by id or by the text the user saw, the observations so far, and the advice
//! written out with ids and plain words.

use serde_json::{json, Map, Value};

use super::engine::{Advice, Case};
use super::kb::KnowledgeBase;
use super::matching::{recognise, Recognised};

/// A request that cannot be answered, with the field it is about.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct RequestError {
    /// The field at fault (`symptom`, `error_text`, `observations.ID`, `priors`).
    pub field: String,
    /// What is wrong and what to do.
    pub message: String,
}

fn refused(field: &str, message: String) -> RequestError {
    RequestError {
        field: field.to_owned(),
        message,
    }
}

impl KnowledgeBase {
    /// The symptom a request names, by id or by the text the user saw; how a text matched is
    /// returned with it.
    pub fn resolve(
        &self,
        symptom: Option<&str>,
        error_text: Option<&str>,
    ) -> Result<(usize, Option<String>), RequestError> {
        match (symptom.map(str::trim), error_text) {
            (Some(id), _) if !id.is_empty() => self.symptom(id).map(|s| (s, None)).ok_or_else(|| {
                refused(
                    "symptom",
                    format!(
                        "no symptom {id:?} — use one of: {}",
                        self.symptoms.iter().map(|s| s.id.as_str()).collect::<Vec<_>>().join(", ")
                    ),
                )
            }),
            (_, Some(text)) => match recognise(self, text) {
                Recognised::Symptom(m) => Ok((m.symptom, Some(m.pattern))),
                Recognised::Choose(choices) => Err(refused(
                    "error_text",
                    format!(
                        "{text:?} could be any of these — choose one by its id: {}",
                        choices
                            .iter()
                            .map(|&s| format!("{} ({})", self.symptoms[s].id, self.symptoms[s].plain))
                            .collect::<Vec<_>>()
                            .join("; ")
                    ),
                )),
                Recognised::Nothing => Err(refused(
                    "error_text",
                    format!("{text:?} does not sound like a smartcard problem Cardwatch knows — say what the user sees in other words, or choose a symptom id"),
                )),
            },
            _ => Err(refused(
                "symptom",
                "give a symptom id or the error text the user saw".into(),
            )),
        }
    }

    /// Advice for a request, refusals naming their field.
    pub fn answer(&self, symptom: usize, case: &Case) -> Result<Advice, RequestError> {
        self.advise(symptom, case).map_err(|e| {
            let field = e
                .step_id()
                .map_or("priors".to_owned(), |id| format!("observations.{id}"));
            refused(&field, e.to_string())
        })
    }

    /// The advice as JSON: `symptom` {id, name}, `next` {kind, id, prompt, reason,
    /// cost_minutes, who, results}, `posterior` (cause id → probability, most likely first),
    /// `escalate` and why, the checks facts answered, minutes so far and expected, and the
    /// guardrail.
    pub fn advice_json(&self, a: &Advice, matched: Option<&str>) -> Value {
        let sym = &self.symptoms[a.symptom];
        let mut posterior = Map::new();
        for &(c, p) in &a.posterior {
            posterior.insert(self.causes[c].id.clone(), json!(round(p, 4)));
        }
        let known: Vec<Value> = a
            .known
            .iter()
            .map(|k| json!({"check": k.check, "result": k.result, "because": k.because}))
            .collect();
        json!({
            "symptom": {"id": sym.id, "name": sym.name, "matched_text": matched},
            "next": {
                "kind": a.next.kind.as_str(),
                "id": a.next.id,
                "prompt": a.next.prompt,
                "reason": a.next.reason,
                "cost_minutes": a.next.cost_minutes,
                "who": a.next.who.map(|w| w.as_str()),
                "results": a.next.results,
            },
            "posterior": posterior,
            "most_likely": a.posterior.first().map(|&(c, p)| json!({
                "id": self.causes[c].id, "name": self.causes[c].name, "probability": round(p, 4)
            })),
            "escalate": a.escalate,
            "escalate_because": a.escalate_because,
            "known": known,
            "confirmed_cause": a.confirmed_cause.map(|c| self.causes[c].id.clone()),
            "minutes_spent": round(a.minutes_spent, 2),
            "expected_minutes": round(a.expected_minutes, 2),
            "guardrail": a.guardrail,
        })
    }
}

fn round(x: f64, places: i32) -> f64 {
    let f = 10f64.powi(places);
    (x * f).round() / f
}
