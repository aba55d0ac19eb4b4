//! Finding the symptom from everyday words: "she can get on but it won't let her sign", "the pin
//! box never comes up", "smartcrad not reconised". What people say is reduced to concepts — the
//! knowledge base's `[[word]]` entries fold "signing", "authorise" and "sign off" into `sign`,
//! "won't", "isn't" and "never" into `not` — after misspellings are mended against the words the
//! knowledge base knows, and then compared with each symptom's `phrasings`: a phrasing matches
//! when all its concepts are present, in any order, `not x` only where `x` is negated nearby.
//!
//! The matcher is data: how people describe a fault lives in `knowledge/triage/*.toml` beside
//! the symptom, where support staff can add the words their callers use.

use std::collections::{BTreeSet, HashMap, HashSet};

use super::kb::KnowledgeBase;
use super::matching::normalise;

/// The concept that negates what is near it.
const NOT: &str = "not";
/// The concept that says something did not work, negating what is near it too ("signing fails"),
/// but for [`APPEAR`]: a failure that pops up is a message shown ("auth failure pops up").
const FAIL: &str = "fail";
/// The concept for something coming up on the screen.
const APPEAR: &str = "appear";
/// The concept that says nothing happened, negating what is near it too ("nothing asks for a pin").
const NOTHING: &str = "nothing";
/// The concept that says something stopped, negating what is near it too ("the reader has
/// stopped working", "signing broke").
const STOP: &str = "stop";
/// The concept that turns to another part of the description ("logs in fine but can't sign"):
/// no negation reaches across it, nor across a full stop, comma or other clause mark.
const BUT: &str = "but";
/// The concept for things that are not smartcards (a printer, email, Wi-Fi, a Windows password):
/// a description that names one, and none of [`SMARTCARD`], is about that thing and matches
/// nothing ("wifi keeps dropping out" is not a Spine timeout).
const ELSEWHERE: &str = "elsewhere";
/// The concept for cards that are not smartcards (a bank card, a door fob, a SIM): beside it a
/// bare "card" or "card reader" is that card's, so only another of [`SMARTCARD`] makes the
/// description about a smartcard ("the card machine won't read cards" matches nothing).
const OTHER_CARD: &str = "payment-card";
/// The concepts that make a description about a smartcard whatever else it names.
const SMARTCARD: &[&str] = &[
    "card",
    "reader",
    "certificate",
    "prompt",
    "smartcard-connect",
    "identity-agent",
    "credential-management",
    "spine",
];
/// The concepts for signing and for prescriptions: prescriptions that will not sign are a
/// smartcard's, whatever else is named.
const SIGN: &str = "sign";
const PRESCRIPTION: &str = "prescription";
/// How many words before a concept a negation reaches ("won't let her sign": three).
const NEGATION_BEFORE: usize = 5;
/// How many words after a concept a negation or failure reaches ("signing isn't working").
const NEGATION_AFTER: usize = 3;
/// The entry whose ways of saying are everyday words in their own right: known, so never mended
/// into a word of the base ("says" is not "stays"), and never folded into a concept.
const FILLER: &str = "filler";
/// Where a clause ends in what was said: no word is normalised to it.
const CLAUSE: &str = "|";
/// The words a question opens with ("is the light meant to be on", "did an update break it"):
/// a clause they open asks, and answers no check.
const ASKING: &[&str] = &[
    "is", "are", "was", "were", "does", "do", "did", "has", "have", "can", "could", "should",
    "would", "will", "why", "how", "what",
];

/// The knowledge base's vocabulary: every way of saying a concept, and the words it knows (what
/// a misspelling is mended to).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Vocabulary {
    /// A way of saying it (one or more normalised words) → the concept.
    says: HashMap<String, String>,
    /// The most words any way of saying takes.
    longest: usize,
    /// Every concept (`[[word]]` id but `filler`): what a negation can belong to.
    ideas: HashSet<String>,
    /// Every word the base knows: ways of saying, concepts, and the words of phrasings and texts.
    known: BTreeSet<String>,
    /// The known words of four letters or more by their length in bytes, each with its
    /// [`letters`]: what a slip can be mended to, looked through only at lengths a slip can reach.
    by_length: Vec<Vec<(String, Letters)>>,
    /// Everyday words (`filler`): never mended, and never what a misspelling is mended to ("ligt"
    /// is "light", though "list" is as near).
    everyday: BTreeSet<String>,
}

impl Vocabulary {
    /// A vocabulary of `(concept, ways of saying it)`; a way of saying that two concepts claim is
    /// refused, with the entry that claimed it second and both names.
    pub fn new<'a>(
        words: impl IntoIterator<Item = (&'a str, &'a [String])>,
    ) -> Result<Vocabulary, (usize, String)> {
        let mut v = Vocabulary::default();
        for (entry, (concept, also)) in words.into_iter().enumerate() {
            let refuse = |m: String| Err((entry, m));
            if concept != FILLER {
                v.know(concept);
                v.ideas.insert(concept.to_owned());
            }
            for way in also {
                let key = normalise(way);
                if key.is_empty() {
                    return refuse(format!(
                        "word {concept:?}: {way:?} has no letters or digits to match"
                    ));
                }
                if concept == FILLER {
                    // Known as itself; a concept that also claims it still folds it.
                    v.everyday.extend(key.split(' ').map(str::to_owned));
                    continue;
                }
                if let Some(other) = v.says.get(&key) {
                    if other != concept {
                        return refuse(format!(
                            "{way:?} is a way of saying both {other:?} and {concept:?} — keep it under one"
                        ));
                    }
                }
                for w in key.split(' ') {
                    v.know(w);
                }
                v.longest = v.longest.max(key.split(' ').count());
                v.says.insert(key, concept.to_owned());
            }
        }
        Ok(v)
    }

    fn know(&mut self, word: &str) {
        if self.known.insert(word.to_owned()) && word.chars().count() >= 4 {
            if self.by_length.len() <= word.len() {
                self.by_length.resize(word.len() + 1, Vec::new());
            }
            self.by_length[word.len()].push((word.to_owned(), letters(word)));
        }
    }

    /// Adds the words of a phrasing or text to what misspellings are mended to.
    pub fn learn(&mut self, text: &str) {
        for w in normalise(text).split(' ') {
            self.know(w);
        }
    }

    /// True when a word is one of the base's concepts (as [`Vocabulary::concepts`] gives them),
    /// not a word left as typed.
    pub fn is_concept(&self, word: &str) -> bool {
        self.ideas.contains(word)
    }

    /// Text normalised with its misspellings mended, words not folded into concepts.
    pub fn mended(&self, text: &str) -> String {
        let mut words: Vec<String> = Vec::new();
        for w in normalise(text).split(' ').filter(|w| !w.is_empty()) {
            let mut w = self.mend(w);
            // "won't except her pin": after a negation, "except" is the "accept" it sounds like
            // (nobody says "won't except" for "won't, but").
            if w == "except" && self.negates_last(&words) {
                w = "accept".to_owned();
            }
            // "smart card" is "smartcard" and "pass code" "passcode", as messages spell them.
            match (words.last().map(String::as_str), w.as_str()) {
                (Some("smart"), "card" | "cards") | (Some("pass"), "code" | "codes") => {
                    let first = words.pop().unwrap_or_default();
                    words.push(format!("{first}{w}"));
                }
                _ => words.push(w),
            }
        }
        words.join(" ")
    }

    /// True when the words so far end in a way of saying `not` ("won't", "won t", "does not").
    fn negates_last(&self, words: &[String]) -> bool {
        (1..=self.longest.min(words.len())).any(|n| {
            self.says
                .get(&words[words.len() - n..].join(" "))
                .is_some_and(|c| c == NOT)
        })
    }

    /// Text as concepts, in order: misspellings mended, each way of saying replaced by its
    /// concept (the longest first, so "log in" is `login`, not `log` and `in`).
    pub fn concepts(&self, text: &str) -> Vec<String> {
        let mended = self.mended(text);
        let words: Vec<&str> = mended.split(' ').filter(|w| !w.is_empty()).collect();
        let mut out = Vec::with_capacity(words.len());
        let mut i = 0;
        // The longest way of saying at `i` of at most `most` words.
        let longest_at = |i: usize, most: usize| {
            (1..=self.longest.min(most).min(words.len() - i))
                .rev()
                .find_map(|n| self.says.get(&words[i..i + n].join(" ")).map(|c| (n, c)))
        };
        while i < words.len() {
            let mut found = longest_at(i, usize::MAX);
            // A longer way of saying that starts inside this one and reaches past it takes its
            // words, and what comes before it is read on its own: "card out of date" is `card`
            // and `expired`, not `remove` and "of date", and "smartcard out of date" the same.
            if let Some((n, _)) = found {
                let overtaker = (i + 1..i + n).find(|&j| {
                    longest_at(j, usize::MAX).is_some_and(|(m, _)| j + m > i + n && m > n)
                });
                if let Some(j) = overtaker {
                    found = longest_at(i, j - i);
                }
            }
            match found {
                Some((n, concept)) => {
                    out.push(concept.clone());
                    i += n;
                }
                None => {
                    out.push(words[i].to_owned());
                    i += 1;
                }
            }
        }
        out
    }

    /// Text as concepts like [`Vocabulary::concepts`], each clause (cut at `.`, `,`, `;`, `:`, `!`,
    /// `?`, brackets, dashes and line ends) ended by a mark that no negation reaches across.
    fn clauses(&self, text: &str) -> Vec<String> {
        let mut out = Vec::new();
        // A full stop inside a word ("P.I.N", "x.509", "v6.2") is no clause's end.
        let mut pieces = Vec::new();
        let mut from = 0;
        let mut chars = text.char_indices().peekable();
        while let Some((i, c)) = chars.next() {
            let ends = match c {
                '.' => chars.peek().is_none_or(|&(_, n)| !n.is_alphanumeric()),
                ',' | ';' | ':' | '!' | '?' | '(' | ')' | '\n' | '–' | '—' => true,
                _ => false,
            };
            if ends {
                pieces.push(&text[from..i]);
                from = i + c.len_utf8();
            }
        }
        pieces.push(&text[from..]);
        for clause in pieces.into_iter().filter(|c| !normalise(c).is_empty()) {
            if !out.is_empty() {
                out.push(CLAUSE.to_owned());
            }
            out.extend(self.concepts(clause));
        }
        out
    }

    /// The known word a word is with another ending or spelling: an ending the base has not seen
    /// ("unlocking", "reboots", "plugging", "retries"), or an American spelling of a British
    /// word ("authorized" is "authorised", "synchronizing" "synchronising").
    fn stem(&self, word: &str) -> Option<String> {
        let known = |w: &str| self.known.contains(w) || self.says.contains_key(w);
        if word.contains('z') {
            let british = word.replace("iz", "is").replace("yz", "ys");
            if british != word {
                if known(&british) {
                    return Some(british);
                }
                if let Some(k) = self.stem(&british) {
                    return Some(k);
                }
            }
        }
        for ending in ["ing", "ed", "es", "s", "ly"] {
            let Some(stem) = word.strip_suffix(ending) else {
                continue;
            };
            if stem.chars().count() < 4 {
                continue;
            }
            let mut forms = vec![stem.to_owned(), format!("{stem}e")];
            // "plugging", "stopped": the doubled last letter is the ending's.
            let b = stem.as_bytes();
            if b.len() >= 2 && b[b.len() - 1] == b[b.len() - 2] {
                forms.push(stem[..stem.len() - 1].to_owned());
            }
            // "retries", "tried": the "y" the ending replaced.
            if let Some(s) = stem.strip_suffix('i') {
                forms.push(format!("{s}y"));
            }
            if let Some(f) = forms
                .into_iter()
                .find(|f| f.chars().count() >= 4 && known(f))
            {
                return Some(f);
            }
        }
        None
    }

    /// A word the base does not know, mended to the one known word it is a slip away from: one
    /// letter added, dropped, changed or two swapped (two such slips in a long word). Short words
    /// and words with digits are left alone: "pin" and "pen", "400" and "401" mean different things.
    fn mend(&self, word: &str) -> String {
        let len = word.chars().count();
        if len < 4
            || self.known.contains(word)
            || self.everyday.contains(word)
            || word.bytes().any(|b| b.is_ascii_digit())
        {
            return word.to_owned();
        }
        if let Some(known) = self.stem(word) {
            return known;
        }
        let reach = if len >= 8 { 2 } else { 1 };
        let lengths = word.len().saturating_sub(reach)..=word.len() + reach;
        let own = letters(word);
        let mut near: Vec<(usize, &String)> = lengths
            .filter_map(|n| self.by_length.get(n))
            .flatten()
            // Each slip changes the count of at most two letters by one: a word whose letters
            // differ more is no slip away, and is passed over before the costlier distance.
            .filter(|(_, l)| {
                let apart: usize = own
                    .iter()
                    .zip(l)
                    .map(|(a, b)| usize::from(a.abs_diff(*b)))
                    .sum();
                apart <= 2 * reach
            })
            .map(|(k, _)| (strsim::osa_distance(word, k), k))
            .filter(|&(d, _)| d <= reach)
            .collect();
        // In the words' order, so the same slip always mends to the same word.
        near.sort_unstable_by(|a, b| a.1.cmp(b.1));
        let Some(closest) = near.iter().map(|&(d, _)| d).min() else {
            return word.to_owned();
        };
        // Among the closest, a slip rarely changes the last letter ("expird" is "expired", not
        // "expire"); what is left must all mean the same, or the word stays as typed.
        let mut best: Vec<&String> = near
            .iter()
            .filter(|&&(d, _)| d == closest)
            .map(|&(_, k)| k)
            .collect();
        if best.iter().any(|k| k.chars().last() == word.chars().last()) {
            best.retain(|k| k.chars().last() == word.chars().last());
        }
        let meaning = |k: &String| self.says.get(k.as_str()).unwrap_or(k).clone();
        match best.first() {
            Some(first) if best.iter().all(|k| meaning(k) == meaning(first)) => (*first).clone(),
            _ => word.to_owned(),
        }
    }
}

/// How many times each letter a–z occurs in a word (anything else counted last).
type Letters = [u8; 27];

fn letters(word: &str) -> Letters {
    let mut l = [0u8; 27];
    for c in word.chars() {
        let i = if c.is_ascii_lowercase() {
            usize::from(c as u8 - b'a')
        } else {
            26
        };
        l[i] = l[i].saturating_add(1);
    }
    l
}

/// One concept a phrasing needs, perhaps negated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Term {
    /// The concept.
    pub concept: String,
    /// True when the phrasing says `not` before it: the concept must be negated where it appears.
    pub negated: bool,
}

/// A way of describing a symptom: concepts that must all be present, in any order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Phrasing {
    /// As written in the knowledge base.
    pub text: String,
    /// What it needs.
    pub terms: Vec<Term>,
    /// Written with a closing `?`: a last resort that says little ("card fail?" — a card that
    /// plays up), weighing nothing, so any phrasing that says more wins over it.
    pub fallback: bool,
}

impl Phrasing {
    /// A phrasing as written (`"not sign"`, `"pin box not appear"`), in the vocabulary's concepts.
    pub fn parse(text: &str, vocabulary: &Vocabulary) -> Result<Phrasing, String> {
        let mut terms = Vec::new();
        let mut negate = false;
        let fallback = text.trim_end().ends_with('?');
        for c in vocabulary.concepts(text) {
            if c == NOT {
                negate = true;
                continue;
            }
            terms.push(Term {
                concept: c,
                negated: negate,
            });
            negate = false;
        }
        if negate {
            return Err(format!(
                "the phrasing {text:?} ends with a negation — say what is negated (\"not sign\")"
            ));
        }
        if terms.is_empty() {
            return Err(format!("the phrasing {text:?} has no words to match"));
        }
        Ok(Phrasing {
            text: text.to_owned(),
            terms,
            fallback,
        })
    }

    /// How much it says: one for each concept and one for each negation, three for a code
    /// (`x509`), which names one fault where words can name several; nothing for a fallback.
    pub fn weight(&self) -> usize {
        if self.fallback {
            return 0;
        }
        self.terms
            .iter()
            .map(|t| {
                let code = t.concept.bytes().any(|b| b.is_ascii_digit());
                usize::from(t.negated) + if code { 3 } else { 1 }
            })
            .sum()
    }

    /// True when what was said says what the phrasing says, denials read only where a negation
    /// comes before what it denies ("no light", "it doesn't ask for the pin"), not where a
    /// failure is near ("stopped working after the update" denies no update). A phrasing that
    /// negates nothing needs every concept said and not denied ("the light isn't on" does not say
    /// "light on"); one that negates needs those concepts denied and the others named.
    fn said_plainly(&self, said: &Said) -> bool {
        let denies = self.terms.iter().any(|t| t.negated);
        self.terms.iter().all(|t| {
            said.at(&t.concept)
                .iter()
                .filter(|&&i| !said.asking[i])
                .any(|&i| {
                    if t.negated {
                        said.denied[i]
                    } else {
                        denies || !said.denied[i]
                    }
                })
        })
    }

    fn matches(&self, said: &Said) -> bool {
        self.terms.iter().all(|t| {
            said.at(&t.concept)
                .iter()
                .any(|&i| !t.negated || said.negated[i])
        })
    }
}

/// What was said, as concepts, with which of them are negated.
#[derive(Debug)]
struct Said {
    concepts: Vec<String>,
    negated: Vec<bool>,
    /// Negated from before ("no card", "doesn't have a smartcard"), not after ("card not read").
    denied: Vec<bool>,
    /// In a clause that asks rather than tells ([`ASKING`]).
    asking: Vec<bool>,
}

impl Said {
    /// What was said, as [`Vocabulary::clauses`] gives it; `vocabulary` tells its concepts from
    /// the words left as typed.
    fn new(concepts: Vec<String>, vocabulary: &Vocabulary) -> Said {
        let ends = |c: &String| c == CLAUSE || c == BUT;
        // "nothing asks for her pin" negates the asking as "it never asks" does, and "the card
        // stopped working" the working.
        let negates = |c: &String| c == NOT || c == FAIL || c == NOTHING || c == STOP;
        let start = |i: usize| concepts[..i].iter().rposition(ends).map_or(0, |b| b + 1);
        let end = |i: usize| {
            concepts[i + 1..]
                .iter()
                .position(ends)
                .map_or(concepts.len(), |b| i + 1 + b)
        };
        // A negation belongs to the first concept after it: "no card" denies the card, "not
        // reading the smartcard" the reading, and the card is still named.
        let asking = (0..concepts.len())
            .map(|i| ASKING.contains(&concepts[start(i)].as_str()))
            .collect();
        let denied = (0..concepts.len())
            .map(|i| {
                concepts[i.saturating_sub(NEGATION_BEFORE).max(start(i))..i]
                    .iter()
                    .rev()
                    .find(|c| vocabulary.is_concept(c))
                    .is_some_and(|c| c == NOT)
            })
            .collect();
        // A clause that is a negation and nothing else ("expected the pin box when the card went
        // in, didn't get one") negates the clause before it.
        let bare_negation = |mark: usize| {
            concepts[mark] == CLAUSE && {
                let clause = &concepts[mark + 1..end(mark)];
                clause.iter().any(negates)
                    && clause
                        .iter()
                        .all(|c| negates(c) || !vocabulary.is_concept(c))
            }
        };
        let negated = (0..concepts.len())
            .map(|i| {
                // The clause around the concept, and the windows inside it.
                let start = start(i);
                let end = end(i);
                let before = i.saturating_sub(NEGATION_BEFORE).max(start)..i;
                let after = i + 1..(i + 1 + NEGATION_AFTER).min(end);
                // A failure beside something appearing is what appeared, not its absence.
                let negates = |c: &String| negates(c) && !(c == FAIL && concepts[i] == APPEAR);
                concepts[before].iter().any(negates)
                    || concepts[after].iter().any(negates)
                    || (end < concepts.len() && bare_negation(end))
            })
            .collect();
        Said {
            concepts,
            negated,
            denied,
            asking,
        }
    }

    /// True when the concept is said and not negated somewhere.
    fn affirms(&self, concept: &str) -> bool {
        self.at(concept).iter().any(|&i| !self.negated[i])
    }

    fn at(&self, concept: &str) -> Vec<usize> {
        self.concepts
            .iter()
            .enumerate()
            .filter(|(_, c)| *c == concept)
            .map(|(i, _)| i)
            .collect()
    }
}

/// A symptom a description fits, and how well.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fit {
    /// The symptom's index in the knowledge base.
    pub symptom: usize,
    /// The weight of its best matching phrasing.
    pub weight: usize,
    /// That phrasing, as written.
    pub phrasing: String,
}

/// A description read into concepts, ready to be compared with every symptom.
#[derive(Debug)]
pub struct Reading<'kb> {
    kb: &'kb KnowledgeBase,
    said: Said,
}

impl<'kb> Reading<'kb> {
    /// Reads a description in the knowledge base's vocabulary.
    pub fn new(kb: &'kb KnowledgeBase, text: &str) -> Reading<'kb> {
        Reading {
            kb,
            said: Said::new(kb.vocabulary.clauses(text), &kb.vocabulary),
        }
    }

    /// True when the description is about something that is not a smartcard: it names one (a
    /// printer, email, Wi-Fi, a bank card) and names no card, reader, certificate or smartcard
    /// software.
    pub fn elsewhere(&self) -> bool {
        // "the scanner won't pick up" names a scanner, negated or not; "she doesn't have a
        // smartcard" names no card, but "the card isn't read" does. A certificate right after
        // something that is not a smartcard is that thing's ("the fire extinguisher certificate"),
        // and so is one that opens the clause after it ("the website says your connection is not
        // private, certificate expired").
        let other_card = !self.said.at(OTHER_CARD).is_empty();
        let concepts = &self.said.concepts;
        let owned = |c: &str, i: usize| {
            c == "certificate"
                && match i {
                    0 => false,
                    1 => concepts[0] == ELSEWHERE,
                    _ => {
                        concepts[i - 1] == ELSEWHERE
                            || (concepts[i - 1] == CLAUSE && concepts[i - 2] == ELSEWHERE)
                    }
                }
        };
        // Prescriptions that will not sign ("her prescriptions won't sign") are the smartcard's,
        // whatever the description goes on to name ("so she's printing them"); a letter that
        // will not sign in Docman is not.
        let signing_refused = !self.said.at(PRESCRIPTION).is_empty()
            && self.said.at(SIGN).iter().any(|&i| self.said.denied[i]);
        (other_card || !self.said.at(ELSEWHERE).is_empty())
            && !signing_refused
            && !SMARTCARD
                .iter()
                .filter(|&&c| !(other_card && (c == "card" || c == "reader")))
                .any(|c| {
                    self.said
                        .at(c)
                        .iter()
                        .any(|&i| !self.said.denied[i] && !owned(c, i))
                })
    }

    /// True when the description says something that rules the symptom out (one of its
    /// `unless` concepts, not negated): a certificate that "has expired" is never a renewal
    /// prompt, since an expired certificate cannot be renewed at the desk.
    pub fn rules_out(&self, symptom: usize) -> bool {
        self.kb.symptoms[symptom]
            .unless
            .iter()
            .any(|c| self.said.affirms(c))
    }

    /// The symptom's checks the description already answers, as (check, result): "the light on
    /// the reader is off" answers whether the reader's light is on. A check the words give two
    /// answers to is left to be asked.
    pub fn answers(&self, symptom: usize) -> Vec<(usize, usize)> {
        self.kb.symptoms[symptom]
            .checks
            .iter()
            .filter_map(|&ch| {
                let mut given = self.kb.checks[ch]
                    .said
                    .iter()
                    .filter(|(_, phrasings)| phrasings.iter().any(|p| p.said_plainly(&self.said)))
                    .map(|&(r, _)| r);
                let r = given.next()?;
                given.next().is_none().then_some((ch, r))
            })
            .collect()
    }

    /// Every symptom whose phrasings fit the description and that it does not rule out, best
    /// first (one entry a symptom, ties in the knowledge base's order).
    pub fn fits(&self) -> Vec<Fit> {
        if self.elsewhere() {
            return Vec::new();
        }
        let mut out: Vec<Fit> = self
            .kb
            .symptoms
            .iter()
            .enumerate()
            .filter(|&(s, _)| !self.rules_out(s))
            .filter_map(|(s, symptom)| {
                symptom
                    .phrasings
                    .iter()
                    .filter(|p| p.matches(&self.said))
                    .max_by_key(|p| p.weight())
                    .map(|p| Fit {
                        symptom: s,
                        weight: p.weight(),
                        phrasing: p.text.clone(),
                    })
            })
            .collect();
        out.sort_by(|a, b| b.weight.cmp(&a.weight).then(a.symptom.cmp(&b.symptom)));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::super::matching::{recognise, Recognised};
    use super::*;

    fn read_as(kb: &KnowledgeBase, text: &str) -> Option<String> {
        match recognise(kb, text) {
            Recognised::Symptom(m) => Some(kb.symptoms[m.symptom].id.clone()),
            Recognised::Choose(c) => panic!("{text:?} offered a choice of {c:?}"),
            Recognised::Nothing => None,
        }
    }

    #[test]
    fn a_longer_way_of_saying_that_starts_inside_another_takes_its_words() {
        let kb = KnowledgeBase::shipped();
        assert_eq!(
            kb.vocabulary.concepts("card out of date"),
            ["card", "expired"]
        );
        assert_eq!(
            kb.vocabulary.concepts("smart card out of date"),
            ["card", "expired"]
        );
        assert_eq!(kb.vocabulary.concepts("card out"), ["remove"]);
    }

    #[test]
    fn other_endings_and_spellings_of_a_known_word_are_that_word() {
        let kb = KnowledgeBase::shipped();
        assert_eq!(kb.vocabulary.concepts("synchronizes"), ["sync"]);
        assert_eq!(kb.vocabulary.concepts("smart card"), ["card"]);
        // A stem of three letters is no word of the base's ("missed" is not "mis").
        assert_eq!(kb.vocabulary.concepts("missed"), ["missed"]);
    }

    #[test]
    fn a_fallback_phrasing_gives_way_to_any_that_says_more() {
        let kb = KnowledgeBase::shipped();
        let said = |t: &str| Phrasing::parse(t, &kb.vocabulary).unwrap();
        assert!(said("card fail?").fallback);
        assert_eq!(said("card fail?").weight(), 0);
        assert_eq!(
            read_as(&kb, "her smartcard is playing up again").as_deref(),
            Some("card-not-recognised")
        );
        assert_eq!(
            read_as(&kb, "smartcard authentication failed").as_deref(),
            Some("auth-failure")
        );
    }

    #[test]
    fn stopping_negates_what_stopped() {
        let kb = KnowledgeBase::shipped();
        assert_eq!(
            read_as(&kb, "her card has stopped working").as_deref(),
            Some("card-not-recognised")
        );
    }

    #[test]
    fn a_failure_that_appears_is_a_message_shown() {
        let kb = KnowledgeBase::shipped();
        // The failure is what popped up: no card went unread and no PIN box was missing.
        assert_eq!(
            read_as(
                &kb,
                "smartcard auth failure keeps popping up on the nhs page"
            )
            .as_deref(),
            Some("auth-failure")
        );
        assert_eq!(
            read_as(&kb, "the card goes in but the pin box fails to appear").as_deref(),
            Some("card-not-recognised")
        );
    }

    #[test]
    fn a_negation_belongs_to_the_first_concept_after_it() {
        let kb = KnowledgeBase::shipped();
        // "not reading the smartcard" denies the reading, not the card: the description is
        // about a smartcard, though it names a keyboard.
        assert_eq!(
            read_as(&kb, "the pc is not reading the smartcard in the keyboard").as_deref(),
            Some("card-not-recognised")
        );
        assert_eq!(
            read_as(&kb, "she doesnt have a smartcard, windows is down"),
            None
        );
    }

    #[test]
    fn a_clause_that_only_negates_negates_the_clause_before_it() {
        let kb = KnowledgeBase::shipped();
        assert_eq!(
            read_as(
                &kb,
                "on smartcard connect she expected the pin screen when her card went in, didnt get one"
            )
            .as_deref(),
            Some("no-pin-prompt")
        );
    }

    #[test]
    fn a_full_stop_inside_a_word_ends_no_clause() {
        let kb = KnowledgeBase::shipped();
        assert_eq!(
            read_as(&kb, "her P.I.N. isnt accepted").as_deref(),
            Some("pin-rejected")
        );
    }

    #[test]
    fn except_after_a_negation_is_accept() {
        let kb = KnowledgeBase::shipped();
        assert_eq!(
            kb.vocabulary.concepts("wont except her pin"),
            ["not", "accept", "her", "pin"]
        );
        assert_eq!(
            kb.vocabulary.concepts("all except her pin"),
            ["all", "but", "her", "pin"]
        );
    }

    #[test]
    fn a_certificate_named_after_something_else_is_that_things() {
        let kb = KnowledgeBase::shipped();
        assert_eq!(
            read_as(&kb, "the fire extinguisher certificate has expired"),
            None
        );
        // A certificate that opens the clause after the thing is that thing's too.
        assert_eq!(
            read_as(
                &kb,
                "the browser says your connection is not private, certificate expired"
            ),
            None
        );
        assert_eq!(
            read_as(&kb, "her certificate has expired").as_deref(),
            Some("credentials-not-valid")
        );
    }

    #[test]
    fn prescriptions_that_will_not_sign_are_the_smartcards_whatever_else_is_named() {
        let kb = KnowledgeBase::shipped();
        assert_eq!(
            read_as(
                &kb,
                "her prescriptions won't sign electronically so she's printing them all"
            )
            .as_deref(),
            Some("cannot-sign")
        );
        // Printing prescriptions for signing, or a letter in Docman, is no smartcard's.
        for text in [
            "the printer wont print the prescriptions for the doctor to sign",
            "cant sign the letters in docman",
        ] {
            assert_eq!(read_as(&kb, text), None, "{text:?}");
        }
    }

    #[test]
    fn a_bank_cards_reader_or_an_accounts_password_is_no_smartcard_fault() {
        let kb = KnowledgeBase::shipped();
        for text in [
            "the card machine wont read the patients bank card",
            "chip and pin card reader declined a payment",
            "screen reader isnt reading out the letters",
            "emis says her username and password are wrong",
        ] {
            assert_eq!(read_as(&kb, text), None, "{text:?}");
        }
    }
}
