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
            // A code (a word with a digit) beats prose, and a code with more digits one with
            // fewer ("400 645" beats "error 400"); a whole pattern found in the text beats a
            // partial match, a longer pattern a shorter one, and a literal character a `#`.
            let digits = pattern.bytes().filter(u8::is_ascii_digit).count();
            let score = if contains_words(&tokens, &p) {
                2 * pattern.len() + 1 - 2 * pattern.matches('#').count()
            } else if tokens.len() >= 2 && text.len() >= 10 && contains_words(&p, &tokens) {
                2 * text.len()
            } else {
                continue;
            } + (digits << 20);
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

/// Words that name an error code when a number follows or precedes them.
const CODE_WORDS: &[&str] = &["error", "err", "errors", "code", "codes"];
/// Words people put between "error" and its number ("error code 1002", "error no. 1002", "error
/// says 1002").
const CODE_FILLER: &[&str] = &[
    "code", "number", "no", "num", "message", "msg", "ref", "says", "said", "saying",
];

/// Normalised text with each error number in the form messages use, so "error code 1002",
/// "code 1002" and "1002 error" all read "error 1002".
fn code_form(text: &str) -> String {
    let words: Vec<&str> = text.split(' ').collect();
    let numbered = |w: &str| w.bytes().filter(u8::is_ascii_digit).count() >= 3;
    let mut out: Vec<&str> = Vec::with_capacity(words.len());
    let mut i = 0;
    while i < words.len() {
        let w = words[i];
        if CODE_WORDS.contains(&w) {
            let mut j = i + 1;
            while j < words.len() && CODE_FILLER.contains(&words[j]) {
                j += 1;
            }
            if j < words.len() && j > i + 1 && numbered(words[j]) {
                out.extend(["error", words[j]]);
                i = j + 1;
                continue;
            }
            if j < words.len() && numbered(words[j]) && w != "err" && w != "error" {
                out.extend(["error", words[j]]);
                i = j + 1;
                continue;
            }
        } else if numbered(w)
            && words.get(i + 1).is_some_and(|n| CODE_WORDS.contains(n))
            && !out
                .last()
                .is_some_and(|p| CODE_WORDS.contains(p) || p.bytes().any(|b| b.is_ascii_digit()))
        {
            out.extend(["error", w]);
            i += 2;
            continue;
        }
        out.push(w);
        i += 1;
    }
    out.join(" ")
}

/// What a description was recognised as.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Recognised {
    /// One symptom, and the knowledge base's text or phrasing that decided it.
    Symptom(Match),
    /// Two or three symptoms fit equally well: ask which is closer (their `plain` names).
    Choose(Vec<usize>),
    /// Nothing in the knowledge base fits.
    Nothing,
}

/// The most choices offered when a description fits several symptoms equally.
const MOST_CHOICES: usize = 3;

/// What a description typed in any words is: an error code or a message read off the screen
/// decides at once (the longest one found, as [`find_symptom`]); otherwise everyday words are
/// compared with every symptom's phrasings ([`super::plain`]), and a message's words found whole
/// count as a phrasing of their length. The best fit wins; fits that tie are offered as a choice.
pub fn recognise(kb: &KnowledgeBase, typed: &str) -> Recognised {
    let reading = super::plain::Reading::new(kb, typed);
    // Codes and messages are looked for in the words as mended ("eror 1002" is "error 1002").
    let text = code_form(&kb.vocabulary.mended(typed));
    let exact = find_symptom(kb, &text).filter(|m| !reading.rules_out(m.symptom));
    let coded = |p: &str| p.bytes().any(|b| b.is_ascii_digit() || b == b'#');
    if let Some(m) = &exact {
        if coded(&m.pattern) || m.pattern == kb.symptoms[m.symptom].id {
            return Recognised::Symptom(m.clone());
        }
    }
    // A description about a printer, email or Wi-Fi matches nothing, whatever words it shares
    // with a smartcard fault ("wifi keeps dropping out"); a code above still decides.
    if reading.elsewhere() {
        return Recognised::Nothing;
    }
    let mut fits = reading.fits();
    if let Some(m) = exact {
        // A message quoted whole weighs its words; part of one typed alone weighs what was typed.
        let words = if text.contains(m.pattern.as_str()) {
            m.pattern.split(' ').count()
        } else {
            text.split(' ').count()
        };
        match fits.iter_mut().find(|f| f.symptom == m.symptom) {
            Some(f) if f.weight >= words => {}
            Some(f) => {
                f.weight = words;
                f.phrasing = m.pattern;
            }
            None => fits.push(super::plain::Fit {
                symptom: m.symptom,
                weight: words,
                phrasing: m.pattern,
            }),
        }
        fits.sort_by(|a, b| b.weight.cmp(&a.weight).then(a.symptom.cmp(&b.symptom)));
    }
    let Some(best) = fits.first() else {
        return Recognised::Nothing;
    };
    let tied: Vec<usize> = fits
        .iter()
        .take_while(|f| f.weight == best.weight)
        .map(|f| f.symptom)
        .take(MOST_CHOICES)
        .collect();
    if tied.len() > 1 {
        return Recognised::Choose(tied);
    }
    Recognised::Symptom(Match {
        symptom: best.symptom,
        pattern: best.phrasing.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_numbers_read_as_messages_write_them() {
        assert_eq!(code_form("error code 1002 on pc 3"), "error 1002 on pc 3");
        assert_eq!(code_form("error no 1002"), "error 1002");
        assert_eq!(code_form("error says 1002"), "error 1002");
        assert_eq!(code_form("code 1002"), "error 1002");
        assert_eq!(code_form("1002 error"), "error 1002");
        // A code already whole, a number of a code's parts, or a short number stay as written.
        assert_eq!(code_form("err 1002"), "err 1002");
        assert_eq!(code_form("400 645 error"), "400 645 error");
        assert_eq!(code_form("room 12 error"), "room 12 error");
    }

    #[test]
    fn a_code_in_other_words_finds_its_symptom() {
        let kb = KnowledgeBase::shipped();
        for (text, id) in [
            ("got error code 1002 again", "err1002"),
            ("1002 error on the front desk pc", "err1002"),
            ("INF 1014 when the sponsor renews a card", "inf1014-err5022"),
        ] {
            match recognise(&kb, text) {
                Recognised::Symptom(m) => assert_eq!(kb.symptoms[m.symptom].id, id, "{text}"),
                other => panic!("{text:?} read as {other:?}"),
            }
        }
    }

    #[test]
    fn a_pin_typed_on_the_readers_keypad_and_a_missing_signing_certificate_find_their_symptoms() {
        let kb = KnowledgeBase::shipped();
        // What is typed on the reader's own keypad is the PIN, and a signing certificate that is
        // missing is the "no signing certificate" message, not a smartcard that will not sign.
        for (text, id) in [
            (
                "code not recognised at login, typed on the keypad on the reader",
                "pin-rejected",
            ),
            (
                "her signing certificate is missing",
                "no-signing-certificate",
            ),
        ] {
            match recognise(&kb, text) {
                Recognised::Symptom(m) => assert_eq!(kb.symptoms[m.symptom].id, id, "{text}"),
                other => panic!("{text:?} read as {other:?}"),
            }
        }
        // A till's card reader takes payment cards.
        assert_eq!(
            recognise(
                &kb,
                "the card reader on the pharmacy till wont read the card"
            ),
            Recognised::Nothing
        );
    }
}
