//! The next-step computation with the full knowledge base (issue 4's figure: p99 ≤ 1 ms in
//! process). Each sample is one `advise` call on a realistic case: every symptom, at every point
//! of a walk through its steps (answers drawn from a fault of the symptom), so late steps with
//! many observations are measured as well as first ones, each with the symptom described in
//! words (its `plain` name), which every call reads for the checks they answer. Prints p50, p99
//! and the worst.

use std::time::Instant;

use cardwatch_core::demo::Rng;
use cardwatch_core::triage::{Case, KnowledgeBase, StepKind, NOT_FIXED};

fn main() {
    let kb = KnowledgeBase::shipped();
    let mut rng = Rng::new(4);
    let mut cases = Vec::new();
    for s in 0..kb.symptoms.len() {
        for _ in 0..20 {
            let mut case = Case {
                words: Some(kb.symptoms[s].plain.clone()),
                ..Case::default()
            };
            for _ in 0..12 {
                cases.push((s, case.clone()));
                let a = kb.advise(s, &case).expect("advice");
                match a.next.kind {
                    StepKind::Check => {
                        let r = rng.range(0, a.next.results.len() as i64) as usize;
                        case.observations
                            .push((a.next.id, a.next.results[r].clone()));
                    }
                    StepKind::Fix => case.observations.push((a.next.id, NOT_FIXED.into())),
                    StepKind::Escalate | StepKind::Done => break,
                }
            }
        }
    }
    // Warm up, then time every case many times over.
    for (s, c) in &cases {
        let _ = kb.advise(*s, c);
    }
    let mut times = Vec::with_capacity(cases.len() * 20);
    for _ in 0..20 {
        for (s, c) in &cases {
            let t = Instant::now();
            let a = kb.advise(*s, c).expect("advice");
            times.push(t.elapsed().as_secs_f64() * 1e6);
            std::hint::black_box(a);
        }
    }
    times.sort_by(f64::total_cmp);
    let at = |q: f64| times[((q * times.len() as f64).ceil() as usize).clamp(1, times.len()) - 1];
    let p99 = at(0.99);
    println!(
        "triage next step, {} cases x 20 ({} symptoms, {} checks, {} fixes): p50 {:.1} µs, p99 {:.1} µs, max {:.1} µs (goal p99 ≤ 1000 µs: {})",
        cases.len(),
        kb.symptoms.len(),
        kb.checks.len(),
        kb.fixes.len(),
        at(0.5),
        p99,
        times[times.len() - 1],
        if p99 <= 1000.0 { "met" } else { "NOT met" }
    );
}
