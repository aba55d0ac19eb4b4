//! Plain-words triage measured on descriptions written apart from the matcher: the labelled set
//! the phrasings were written against, and a held-out set nobody tuned them to. Each case is what
//! reception types after a clinician says what went wrong, labelled with the one symptom it is
//! (or `none`, which must match nothing). A tie offered as a choice counts as a miss.

use cardwatch_core::triage::matching::{recognise, Recognised};
use cardwatch_core::triage::KnowledgeBase;
use serde::Deserialize;

/// The fourth unseen set's figure after the seventh widening, which was read against it: a change
/// to the words may raise it, never lower it.
const FLOOR4: usize = 177;

/// The fifth unseen set's figure, still unread, after the ninth widening (91.0%, none of its 30
/// unrelated descriptions matched; its first reading, after the seventh, was 90.0% with 2 of 30
/// matched): a change to the words may raise it, never lower it.
const FLOOR5: usize = 182;

/// The near-miss set's figure after the eighth widening, which was read against it: a change to
/// the words may raise it, never lower it.
const NEAR_FLOOR: usize = 120;

/// The second near-miss set's figure after the ninth widening, which was read against it: a
/// change to the words may raise it, never lower it.
const NEAR2_FLOOR: usize = 120;

#[derive(Deserialize)]
struct Set {
    case: Vec<Case>,
}

#[derive(Deserialize)]
struct Case {
    text: String,
    symptom: String,
}

struct Score {
    cases: usize,
    right: usize,
    unrelated: usize,
    unrelated_matched: usize,
    /// What each miss said, or `None` for a set whose cases must not be read.
    misses: Option<Vec<String>>,
}

/// Scores one set; `show` false keeps its cases' texts out of every message (a set kept unread).
fn score(kb: &KnowledgeBase, file: &str, show: bool) -> Score {
    let path = format!("{}/tests/data/{file}", env!("CARGO_MANIFEST_DIR"));
    let set: Set = toml::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let mut s = Score {
        cases: 0,
        right: 0,
        unrelated: 0,
        unrelated_matched: 0,
        misses: show.then(Vec::new),
    };
    for (n, case) in set.case.iter().enumerate() {
        assert!(
            case.symptom == "none" || kb.symptom(&case.symptom).is_some(),
            "{file}: case {} {}is labelled {:?}, which the knowledge base does not have",
            n + 1,
            if show {
                format!("{:?} ", case.text)
            } else {
                String::new()
            },
            case.symptom
        );
        let got = recognise(kb, &case.text);
        let said = match &got {
            Recognised::Symptom(m) => kb.symptoms[m.symptom].id.clone(),
            Recognised::Choose(c) => format!(
                "a choice of {}",
                c.iter()
                    .map(|&s| kb.symptoms[s].id.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            Recognised::Nothing => "none".to_owned(),
        };
        s.cases += 1;
        if case.symptom == "none" {
            s.unrelated += 1;
        }
        if said == case.symptom {
            s.right += 1;
        } else {
            if case.symptom == "none" {
                s.unrelated_matched += 1;
            }
            let by = match &got {
                Recognised::Symptom(m) => format!(" (by {:?})", m.pattern),
                _ => String::new(),
            };
            if let Some(misses) = &mut s.misses {
                misses.push(format!(
                    "  {:?}: {} — got {said}{by}",
                    case.text, case.symptom
                ));
            }
        }
    }
    s
}

/// Prints the set's score and, where its cases may be read, its misses. A set kept unread prints
/// only its counts: reading its cases would make it one more set the words were tuned to.
fn report(name: &str, s: &Score) -> f64 {
    let share = s.right as f64 / s.cases as f64;
    println!(
        "{name}: {}/{} right, top-1 {:.1}% (goal ≥ 90%); {} of {} unrelated descriptions matched a symptom (goal 0)",
        s.right,
        s.cases,
        100.0 * share,
        s.unrelated_matched,
        s.unrelated
    );
    if let Some(misses) = &s.misses {
        for m in misses {
            println!("{m}");
        }
    }
    share
}

/// The knowledge base as the files on disk say (the same files the binary ships).
fn knowledge_base() -> KnowledgeBase {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");
    let files: Vec<(&str, String)> = cardwatch_core::triage::SHIPPED
        .iter()
        .map(|(name, _)| {
            (
                *name,
                std::fs::read_to_string(format!("{root}/{name}")).unwrap(),
            )
        })
        .collect();
    let files: Vec<(&str, &str)> = files.iter().map(|(n, t)| (*n, t.as_str())).collect();
    KnowledgeBase::load(&files).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn plain_words_find_the_symptom_in_nine_cases_of_ten() {
    let kb = knowledge_base();
    let s = score(&kb, "triage-descriptions.toml", true);
    let share = report("labelled set", &s);
    assert!(share >= 0.90, "top-1 {share:.3} is under 0.90");
    assert_eq!(s.unrelated_matched, 0, "an unrelated description matched");
}

#[test]
fn plain_words_generalise_to_descriptions_nobody_tuned_them_to() {
    let kb = knowledge_base();
    let s = score(&kb, "triage-descriptions-holdout.toml", true);
    let share = report("held-out set", &s);
    assert!(share >= 0.90, "top-1 {share:.3} is under 0.90");
}

#[test]
fn plain_words_read_a_desk_set_written_before_the_words_were_widened() {
    let kb = knowledge_base();
    let s = score(&kb, "triage-descriptions-desk.toml", true);
    let share = report("desk set", &s);
    assert!(share >= 0.90, "top-1 {share:.3} is under 0.90");
    assert_eq!(s.unrelated_matched, 0, "an unrelated description matched");
}

/// The second desk set is for tuning: its figure and misses are printed. Its first reading was
/// 86.0% (154 of 179, 1 of 26 unrelated matched); the third widening was read against it and
/// reached 97.2%, the fourth 98.3%, with no unrelated description matched, which the floor keeps.
#[test]
fn plain_words_read_a_second_desk_set_written_apart_from_the_matcher() {
    let kb = knowledge_base();
    let s = score(&kb, "triage-descriptions-desk2.toml", true);
    let share = report("second desk set", &s);
    assert!(share >= 0.95, "top-1 {share:.3} is under 0.95");
    assert_eq!(s.unrelated_matched, 0, "an unrelated description matched");
}

/// The unseen set was written by someone who read neither the matcher nor the words and kept
/// unread until its first figure was taken; it guided the fourth widening, and its figure and
/// misses are printed like the desk sets'.
#[test]
fn plain_words_hold_on_a_second_set_their_author_never_read() {
    let kb = knowledge_base();
    let s = score(&kb, "triage-descriptions-unseen.toml", true);
    let share = report("unseen set", &s);
    // Its first reading was 70% (56 of 80); after the second widening 68.8%, after the third
    // 76.2% (61 of 80, 4 of 12 unrelated matched), the last figure taken before its cases were
    // read; after the fourth 100% with no unrelated description matched, which the floor keeps.
    assert!(share >= 0.95, "top-1 {share:.3} is under 0.95");
    assert_eq!(s.unrelated_matched, 0, "an unrelated description matched");
}

/// The second unseen set (200 desk descriptions, 30 of them not smartcard faults) was written by
/// someone who read neither the matcher nor the words, and kept unread until its first figure was
/// taken; it guided the fifth widening, and its figure and misses are printed like the others'.
#[test]
fn plain_words_hold_on_a_third_set_their_author_never_read() {
    let kb = knowledge_base();
    let s = score(&kb, "triage-descriptions-unseen2.toml", true);
    let share = report("second unseen set", &s);
    // Its first reading, after the fourth widening, was 84.5% (169 of 200, 0 of 30 unrelated
    // matched), the last figure taken before its cases were read; after the fifth 95.5% (191 of
    // 200) with no unrelated description matched, which the floor keeps. Of the nine it misses,
    // eight are a PIN box that never comes up with no word of Smartcard Connect, which the sets
    // read before label a card not read.
    assert!(share >= 0.95, "top-1 {share:.3} is under 0.95");
    assert_eq!(s.unrelated_matched, 0, "an unrelated description matched");
}

/// The third unseen set (200 desk descriptions, 30 of them not smartcard faults) was written by
/// someone who read neither the matcher nor the words nor the other sets, and kept unread until
/// its first figure was taken; it guided the sixth widening, and its figure and misses are printed
/// like the others'.
#[test]
fn plain_words_hold_on_a_fourth_set_their_author_never_read() {
    let kb = knowledge_base();
    let s = score(&kb, "triage-descriptions-unseen3.toml", true);
    let share = report("third unseen set", &s);
    // Its first reading, after the fifth widening, was 75.0% (150 of 200, 0 of 30 unrelated
    // matched), the last figure taken before its cases were read; after the sixth 86.0% (172 of
    // 200), after the seventh 86.5% (173 of 200), with no unrelated description matched, which
    // the floor keeps. Each of the 27 it misses is a label the knowledge base's own symptoms
    // disagree with (a coded message or Credential Management's at sign-in, or a missing signing
    // certificate, which have symptoms of their own; an expired certificate; a PIN box that never
    // comes up with no word of Smartcard Connect).
    assert!(share >= 0.865, "top-1 {share:.3} is under 0.865");
    assert_eq!(s.unrelated_matched, 0, "an unrelated description matched");
}

/// The fourth unseen set (200 desk descriptions, 30 of them not smartcard faults) was written by
/// someone who read neither the matcher nor the words nor the other sets, labelling by the
/// symptoms' own plain descriptions, and kept unread until its first figure was taken; it was
/// read after that reading to guide the seventh widening, and its figure and misses are printed
/// like the others'.
#[test]
fn plain_words_hold_on_a_fifth_set_their_author_never_read() {
    let kb = knowledge_base();
    let s = score(&kb, "triage-descriptions-unseen4.toml", true);
    report("fourth unseen set", &s);
    // Its first reading, after the sixth widening, was 82.5% (165 of 200, 1 of 30 unrelated
    // matched: a dispensary till's card reader), the last figure taken before its cases were
    // read; after the seventh 88.5% (177 of 200) with no unrelated description matched, which the
    // floor keeps. Of the 23 it misses, 22 are labels the knowledge base's own symptoms disagree
    // with: nine coded or quoted messages that have symptoms of their own (ERR1002, error 1000,
    // port 43485 "not connected", PR30007, Credential Management not installed or running, a 400
    // failure put down to Credential Management, "scanning for smartcard"), labelled a card not
    // read; five expired certificates, labelled a renewal prompt; five PIN boxes that never come
    // up with no word of Smartcard Connect, labelled the Smartcard Connect symptom; and three
    // "blocked" messages (one a retired series 5 card), labelled a locked card. The other is a
    // passcode refused while logging into EMIS, offered as a choice with the onboarding sync's
    // EMIS sign-in.
    assert!(
        s.right >= FLOOR4,
        "{} of {} right, under {FLOOR4}",
        s.right,
        s.cases
    );
    assert_eq!(s.unrelated_matched, 0, "an unrelated description matched");
}

/// The fifth unseen set (200 desk descriptions, 30 of them not smartcard faults) was written by
/// someone who read neither the matcher nor the words nor the other sets, labelling by the
/// symptoms' own `name` and `plain` fields and the causes' names, and is kept unread: its test
/// prints only counts, the figure to expect on descriptions nobody has seen.
#[test]
fn plain_words_hold_on_a_sixth_set_nobody_has_read() {
    let kb = knowledge_base();
    let s = score(&kb, "triage-descriptions-unseen5.toml", false);
    report("fifth unseen set (unread)", &s);
    assert!(
        s.right >= FLOOR5,
        "{} of {} right, under {FLOOR5}",
        s.right,
        s.cases
    );
    // Two of its unrelated descriptions matched a symptom at the first reading, one after the
    // eighth widening and none after the ninth (both read against near misses written apart).
    assert_eq!(s.unrelated_matched, 0, "an unrelated description matched");
}

/// The near-miss set (120 desk descriptions: 90 that sound like smartcard faults but are not —
/// other cards and PINs, other certificates, other sign-ins, building-wide outages, unrelated
/// hardware, locked or blocked things that are not cards — and 30 real faults, three a symptom)
/// was written by someone who read neither the matcher nor the words nor the other sets, and kept
/// unread until its first figure was taken; it guided the eighth widening, and its figure and
/// misses are printed like the others'.
#[test]
fn plain_words_turn_away_near_misses_that_are_no_smartcards() {
    let kb = knowledge_base();
    let s = score(&kb, "triage-descriptions-near-misses.toml", true);
    report("near-miss set", &s);
    // Its first reading, after the seventh widening and before its cases were read, was 86.7%
    // (104 of 120): 15 of its 90 unrelated descriptions matched a symptom (another device's
    // reader, a printer release card, a SIM, a door or a patient's online account locked or
    // blocked, a website's or an exemption's certificate, a Windows password, a phone's MFA
    // prompt, a card machine's or a patient's NHS login's connection), and one real fault was
    // offered as a choice. After the eighth 100% (120 of 120) with no unrelated description
    // matched, which the floor keeps.
    assert!(
        s.right >= NEAR_FLOOR,
        "{} of {} right, under {NEAR_FLOOR}",
        s.right,
        s.cases
    );
    assert_eq!(s.unrelated_matched, 0, "an unrelated description matched");
}

/// The second near-miss set (120 desk descriptions: 90 that sound like smartcard faults but are
/// not, and 30 real faults) was written by someone who read neither the matcher nor the words nor
/// the other sets, the first near-miss set among them, and kept unread until its first figure was
/// taken; it guided the ninth widening, and its figure and misses are printed like the others'.
#[test]
fn plain_words_turn_away_a_second_set_of_near_misses() {
    let kb = knowledge_base();
    let s = score(&kb, "triage-descriptions-near-misses2.toml", true);
    report("second near-miss set", &s);
    // Its first reading, after the eighth widening and before its cases were read, was 94.2%
    // (113 of 120): 6 of its 90 unrelated descriptions matched a symptom (an authenticator app's
    // prompt, a website's expired certificate, a referral locked by another user, a pensions
    // portal's password, a life-support course's certificate, a second screen not detected), and
    // one real fault was taken for another symptom. After the ninth 100% (120 of 120) with no
    // unrelated description matched, which the floor keeps.
    assert!(
        s.right >= NEAR2_FLOOR,
        "{} of {} right, under {NEAR2_FLOOR}",
        s.right,
        s.cases
    );
    assert_eq!(s.unrelated_matched, 0, "an unrelated description matched");
}
