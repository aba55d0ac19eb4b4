//! Finding the symptom from what the user sees: an error code or text as typed — any case, extra
//! spaces, with or without the sentence around it — matched word by word against each symptom's
//! texts.

use super::kb::KnowledgeBase;

/// Text reduced to lower-case words of letters, digits and `_`, one space apart, so that
/// "ERR1002 : Unable to read the card" and "err1002 unable to read the card" are the same.
pub fn normalise(text: &str) -> String {
    words(text, false)
}

/// A pattern from the knowledge base, normalised like [`normalise`] but keeping `#`, which
/// matches any one digit (`400_###` matches `400_645`).
pub fn normalise_pattern(text: &str) -> String {
    words(text, true)
}

fn words(text: &str, keep_hash: bool) -> String {
    let mut out = String::with_capacity(text.len());
    let mut gap = false;
    for ch in text.chars().flat_map(char::to_lowercase) {
        // Curly apostrophes and quotes vanish, so "you're" and "you’re" agree.
        if matches!(ch, '\'' | '’' | '‘') {
            continue;
        }
        if ch.is_alphanumeric() || ch == '_' || (keep_hash && ch == '#') {
            if gap && !out.is_empty() {
                out.push(' ');
            }
            gap = false;
            out.push(ch);
        } else {
            gap = true;
        }
    }
    out
}

/// Why a text resolved to a symptom.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Match {
    /// The symptom's index in the knowledge base.
    pub symptom: usize,
    /// The knowledge base's text that matched, normalised.
    pub pattern: String,
}

/// The symptom whose text best matches what the user typed: the longest pattern found whole in
/// the text (so "400_645" beats "smartcard authentication failure" when both appear), else the
/// longest pattern that contains the whole text (a user who typed only part of the message).
pub fn find_symptom(kb: &KnowledgeBase, typed: &str) -> Option<Match> {
    let text = normalise(typed);
    if text.is_empty() {
        return None;
    }
    let tokens: Vec<&str> = text.split(' ').collect();
    let mut best: Option<(usize, usize, &str)> = None; // (score, symptom, pattern)
    for (s, symptom) in kb.symptoms.iter().enumerate() {
        if symptom.id == text {
            return Some(Match {
                symptom: s,
                pattern: symptom.id.clone(),
            });
        }
        for pattern in &symptom.texts {
            let p: Vec<&str> = pattern.split(' ').collect();
            // A code (a word with a digit) beats prose, a whole pattern found in the text beats
            // a partial match, a longer pattern a shorter one, and a literal character a `#`.
            let code = p
                .iter()
                .any(|w| w.bytes().any(|b| b.is_ascii_digit() || b == b'#'));
            let score = if contains_words(&tokens, &p) {
                2 * pattern.len() + 1 - 2 * pattern.matches('#').count()
            } else if tokens.len() >= 2 && text.len() >= 10 && contains_words(&p, &tokens) {
                2 * text.len()
            } else {
                continue;
            } + if code { 1 << 20 } else { 0 };
            if best.is_none_or(|(b, _, _)| score > b) {
                best = Some((score, s, pattern));
            }
        }
    }
    best.map(|(_, symptom, pattern)| Match {
        symptom,
        pattern: pattern.to_owned(),
    })
}

/// True when `needle`'s words appear in order and next to each other in `hay`; a `#` in a needle
/// word matches one digit.
fn contains_words(hay: &[&str], needle: &[&str]) -> bool {
    needle.len() <= hay.len()
        && hay
            .windows(needle.len())
            .any(|w| w.iter().zip(needle).all(|(h, n)| word_matches(h, n)))
}

fn word_matches(hay: &str, needle: &str) -> bool {
    if !needle.contains('#') {
        return hay == needle;
    }
    hay.chars().count() == needle.chars().count()
        && hay
            .chars()
            .zip(needle.chars())
            .all(|(h, n)| if n == '#' { h.is_ascii_digit() } else { h == n })
}
