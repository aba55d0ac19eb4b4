//! Keys in 64 bits. An import remembers every key of the files it has read, so that a later
//! file's references to them need not be looked up in the database one by one (a national cards
//! file names a million different holders). The keys references name — UUIDs, card serials, ODS
//! codes — are short enough to be packed whole into 64 bits, so two different keys never share a
//! code and a match is certain; any other key is hashed, and a match on a hash is only a hint.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};

use cardwatch_core::records::Cell;

/// A key packed into 64 bits, or a hash of it. The top two bits say which: `0x` packed letters,
/// digits and hyphens; `10` packed digits; `11` a hash.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(super) struct KeyCode(u64);

const DIGITS: u64 = 0b10 << 62;
const HASHED: u64 = 0b11 << 62;

impl KeyCode {
    /// The code of a key, given its parts (the same for a key and a reference to it).
    pub(super) fn of(parts: &[Cell<'_>]) -> KeyCode {
        if let [Cell::Text(s)] = parts {
            if let Some(code) = packed(s).or_else(|| digits(s)) {
                return KeyCode(code);
            }
        }
        let mut h = DefaultHasher::new();
        for part in parts {
            match part {
                Cell::Text(s) => s.hash(&mut h),
                other => other.to_csv().hash(&mut h),
            }
        }
        KeyCode(h.finish() | HASHED)
    }

    /// Whether equal codes mean equal keys.
    pub(super) fn exact(self) -> bool {
        self.0 & HASHED != HASHED
    }
}

/// Whether the sorted `keys` hold `code`. The few keys from `*near` on, where the last lookup
/// ended, are looked at first: an export writes its rows in key order, so a reference mostly names
/// the key the row before it named, or one just after it, and a binary search over a million
/// keys for each row was a tenth of the import reader's work. `*near` moves to the match.
pub(super) fn find_near(keys: &[KeyCode], code: KeyCode, near: &mut usize) -> bool {
    /// Keys looked at one by one before searching them all (half a cache line).
    const AHEAD: usize = 4;
    let after = keys.get(*near..).unwrap_or_default();
    if let Some(i) = after.iter().take(AHEAD).position(|&k| k == code) {
        *near += i;
        return true;
    }
    match keys.binary_search(&code) {
        Ok(i) => {
            *near = i;
            true
        }
        Err(_) => false,
    }
}

/// Up to 12 of `0-9 A-Z -` as a number in base 38 whose digits run from 1 to 37: a string of
/// length n lies in [38ⁿ⁻¹, 38ⁿ), so strings of different lengths never meet, and 38¹² < 2⁶³
/// leaves the top bit clear.
fn packed(s: &str) -> Option<u64> {
    if s.len() > 12 {
        return None;
    }
    s.bytes().try_fold(0u64, |n, c| {
        let d = match c {
            b'0'..=b'9' => c - b'0' + 1,
            b'A'..=b'Z' => c - b'A' + 11,
            b'-' => 37,
            _ => return None,
        };
        Some(n * 38 + u64::from(d))
    })
}

/// Up to 18 digits (a 13- or 14-digit UUID) as the number with a 1 written before them, so that
/// leading zeros count: 10ⁿ + x < 2·10¹⁸ < 2⁶².
fn digits(s: &str) -> Option<u64> {
    if s.is_empty() || s.len() > 18 || !s.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let n: u64 = s.parse().ok()?;
    let len = u32::try_from(s.len()).ok()?;
    Some((10u64.pow(len) + n) | DIGITS)
}

/// The line each key code was first seen on, for finding duplicate keys as a file is read.
///
/// Exports list their rows in key order, and while the keys come in order (their first parts'
/// codes never decreasing) a repeated key can only be among the rows that share the latest first
/// part — the certificates of one card — so the codes are only appended, in file order. The first
/// key out of order moves them all into a hash table, which every later key then goes through.
/// (In a general hash map, the misses of the cache on 4 M inserts were the import reader's
/// largest cost.)
#[derive(Debug)]
pub(super) enum SeenCodes {
    InOrder {
        /// `[code, line]` of every key so far, in file order.
        seen: Vec<[u64; 2]>,
        /// Where the rows sharing the latest first part begin in `seen`, and that part's code.
        run: Option<(usize, u64)>,
    },
    Table(CodeTable),
}

impl Default for SeenCodes {
    fn default() -> SeenCodes {
        SeenCodes::InOrder {
            seen: Vec::new(),
            run: None,
        }
    }
}

impl SeenCodes {
    /// Records `code` (whose key's first part has the code `first_part`) as seen on `line`, or
    /// returns the line it was first seen on.
    pub(super) fn insert(&mut self, code: KeyCode, first_part: KeyCode, line: u64) -> Option<u64> {
        if let SeenCodes::InOrder { seen, run } = self {
            // Only a packed code orders keys: equal codes are equal first parts.
            let in_order = first_part.exact() && run.is_none_or(|(_, last)| first_part.0 >= last);
            if in_order {
                match *run {
                    Some((start, last)) if last == first_part.0 => {
                        if let Some(s) = seen[start..].iter().find(|s| s[0] == code.0) {
                            return Some(s[1]);
                        }
                    }
                    _ => *run = Some((seen.len(), first_part.0)),
                }
                seen.push([code.0, line]);
                return None;
            }
            let mut table = CodeTable::default();
            for s in seen.drain(..) {
                table.insert(KeyCode(s[0]), s[1]);
            }
            *self = SeenCodes::Table(table);
        }
        let SeenCodes::Table(table) = self else {
            unreachable!("moved to a table above")
        };
        table.insert(code, line)
    }

    /// Every code seen, sorted.
    pub(super) fn into_sorted(self) -> Vec<KeyCode> {
        let mut codes: Vec<KeyCode> = match self {
            SeenCodes::InOrder { seen, .. } => seen.iter().map(|s| KeyCode(s[0])).collect(),
            SeenCodes::Table(t) => {
                // A vector of its own size: collected from the table's own, it would keep the
                // table's allocation (four times larger) for the rest of the import.
                let mut codes = Vec::with_capacity(t.len);
                codes.extend(t.slots.iter().filter(|s| s[1] != 0).map(|s| KeyCode(s[0])));
                codes
            }
        };
        codes.sort_unstable();
        codes
    }
}

/// Key codes and their lines in one open-addressed table: a slot holds the code and its line
/// side by side and probing is linear, so an insert usually touches one cache line (a general
/// hash map touches its control bytes, then the slot).
#[derive(Debug)]
pub(super) struct CodeTable {
    /// `[code, line + 1]`; a line of 0 marks an empty slot.
    slots: Vec<[u64; 2]>,
    len: usize,
}

impl Default for CodeTable {
    fn default() -> CodeTable {
        CodeTable {
            slots: vec![[0; 2]; 1024],
            len: 0,
        }
    }
}

impl CodeTable {
    fn insert(&mut self, code: KeyCode, line: u64) -> Option<u64> {
        // At most half full, so a probe runs a slot or two.
        if self.len * 2 >= self.slots.len() {
            let doubled = vec![[0; 2]; self.slots.len() * 2];
            let old = std::mem::replace(&mut self.slots, doubled);
            for slot in old.into_iter().filter(|s| s[1] != 0) {
                if let Err(i) = self.find(slot[0]) {
                    self.slots[i] = slot;
                }
            }
        }
        match self.find(code.0) {
            Ok(i) => Some(self.slots[i][1] - 1),
            Err(i) => {
                self.slots[i] = [code.0, line + 1];
                self.len += 1;
                None
            }
        }
    }

    /// The slot holding `code`, or the empty slot where it would go.
    fn find(&self, code: u64) -> Result<usize, usize> {
        let mask = self.slots.len() - 1;
        // Fibonacci hashing: packed codes of keys that differ only in their last characters
        // spread over the whole table.
        let shift = 64 - self.slots.len().trailing_zeros();
        let mut i = (code.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> shift) as usize;
        loop {
            match self.slots[i] {
                [_, 0] => return Err(i),
                [c, _] if c == code => return Ok(i),
                _ => i = (i + 1) & mask,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn code(s: &str) -> KeyCode {
        KeyCode::of(&[Cell::Text(s)])
    }

    #[test]
    fn every_short_key_has_a_code_of_its_own() {
        // Every string of up to three characters a packed key may hold, every string of up to
        // five digits (leading zeros included), and the longest of each form.
        let alphabet: Vec<char> = ('0'..='9').chain('A'..='Z').chain(['-']).collect();
        let mut keys = vec![String::new()];
        let mut last = vec![String::new()];
        for _ in 0..3 {
            last = last
                .iter()
                .flat_map(|s| alphabet.iter().map(move |c| format!("{s}{c}")))
                .collect();
            keys.extend(last.iter().cloned());
        }
        for len in 1..=5u32 {
            let width = len as usize;
            keys.extend((0..10u64.pow(len)).map(|n| format!("{n:0width$}")));
        }
        keys.extend([
            "------------".into(),
            "ZZZZZZZZZZZZ".into(),
            "999999999999999999".into(),
            "000000000000000000".into(),
            "0000000000000".into(),
            "555000000000".into(),
            "CS0000000001".into(),
        ]);
        let mut seen: HashMap<KeyCode, &str> = HashMap::new();
        for key in &keys {
            let c = code(key);
            assert!(c.exact(), "{key:?} should be packed");
            if let Some(other) = seen.insert(c, key) {
                assert_eq!(other, key, "{other:?} and {key:?} share a code");
            }
        }
    }

    #[test]
    fn the_forms_keep_to_their_own_bits() {
        assert_eq!(code("------------").0 >> 63, 0);
        assert_eq!(code("1234567890123").0 >> 62, 0b10);
        assert_eq!(code("999999999999999999").0 >> 62, 0b10);
        // Lower case, a 13th letter, a 19th digit, other characters, several parts: hashed.
        for s in ["cs1", "ABCDEFGHIJKLM", "1234567890123456789", "A.B", "é"] {
            assert!(!code(s).exact(), "{s:?} should be hashed");
        }
        let two = KeyCode::of(&[Cell::Text("A"), Cell::Text("B")]);
        assert!(!two.exact());
    }

    #[test]
    fn seen_codes_name_the_first_line_of_each_code() {
        // Codes that collide in the table's first slots (multiples of a large power of two),
        // packed ones, hashed ones (which send every later key to the table); each inserted
        // twice, the second time from a later line.
        let mut codes: Vec<KeyCode> = (1..5_000u64).map(|n| KeyCode(n << 40)).collect();
        codes.extend((0..5_000).map(|n| code(&format!("CS{n:010}"))));
        codes.extend((0..5_000).map(|n| code(&format!("host-{n}"))));
        codes.push(KeyCode(0));
        codes.push(KeyCode(u64::MAX));
        let mut seen = SeenCodes::default();
        let mut expected = HashMap::new();
        for (line, &c) in codes.iter().enumerate() {
            assert_eq!(seen.insert(c, c, line as u64), None, "{c:?} is new");
            expected.insert(c, line as u64);
        }
        assert!(matches!(seen, SeenCodes::Table(_)));
        for (line, &c) in codes.iter().enumerate() {
            let again = (codes.len() + line) as u64;
            assert_eq!(
                seen.insert(c, c, again),
                Some(expected[&c]),
                "{c:?} was seen"
            );
        }
        let mut sorted = codes.clone();
        sorted.sort_unstable();
        assert_eq!(seen.into_sorted(), sorted);
    }

    #[test]
    fn found_near_the_last_match_or_anywhere_else() {
        let keys: Vec<KeyCode> = (0..1_000u64).map(|n| KeyCode(n * 2)).collect();
        let mut near = 0;
        // In order: each key, then the same key again (a card's second certificate).
        for n in 0..1_000u64 {
            assert!(find_near(&keys, KeyCode(n * 2), &mut near), "{n}");
            assert_eq!(near, n as usize);
            assert!(find_near(&keys, KeyCode(n * 2), &mut near));
        }
        // Behind the last match, far ahead of it, past the end, and between keys.
        for (code, at) in [(10, 5), (1_500, 750), (0, 0), (1_998, 999)] {
            assert!(find_near(&keys, KeyCode(code), &mut near), "{code}");
            assert_eq!(near, at);
        }
        for code in [1, 7, 1_999, 5_000] {
            assert!(!find_near(&keys, KeyCode(code), &mut near), "{code}");
        }
        let mut beyond = 5_000;
        assert!(find_near(&keys, KeyCode(4), &mut beyond));
        assert!(!find_near(&[], KeyCode(4), &mut beyond));
    }

    #[test]
    fn keys_in_order_are_checked_without_a_table_until_one_is_not() {
        // A certificates file: two keys per card, cards in order.
        let key = |card: u32, purpose: &str| {
            let serial = format!("CS{card:010}");
            let parts = [Cell::Text(&serial), Cell::Text(purpose)];
            (KeyCode::of(&parts), KeyCode::of(&parts[..1]))
        };
        let mut seen = SeenCodes::default();
        let mut line = 1;
        for card in 0..1_000 {
            for purpose in ["authentication", "signing"] {
                line += 1;
                let (code, first) = key(card, purpose);
                assert_eq!(
                    seen.insert(code, first, line),
                    None,
                    "card {card} {purpose}"
                );
            }
        }
        // A repeat among the latest card's rows is found in order.
        let (code, first) = key(999, "authentication");
        assert_eq!(seen.insert(code, first, 5_000), Some(line - 1));
        assert!(matches!(seen, SeenCodes::InOrder { .. }));
        // An earlier card again: out of order, so everything moves to the table, which finds it.
        let (code, first) = key(3, "signing");
        assert_eq!(seen.insert(code, first, 5_001), Some(9));
        assert!(matches!(seen, SeenCodes::Table(_)));
        let (code, first) = key(1_000, "signing");
        assert_eq!(seen.insert(code, first, 5_002), None);
        assert_eq!(seen.insert(code, first, 5_003), Some(5_002));
        assert_eq!(seen.into_sorted().len(), 2_001);
    }

    /// Keys as files write them (codes, serials, UUIDs, odd text): a key's code is always the
    /// same, two different keys never share an exact code, and a sorted list of codes finds each
    /// of its own wherever the last lookup ended and no exact code it lacks.
    fn key() -> impl proptest::strategy::Strategy<Value = String> {
        proptest::prop_oneof![
            "[0-9A-Z-]{0,13}",
            "[0-9]{0,19}",
            proptest::arbitrary::any::<String>(),
        ]
    }

    proptest::proptest! {
        #![proptest_config(proptest::test_runner::Config {
            cases: 500,
            failure_persistence: None,
            ..proptest::test_runner::Config::default()
        })]

        #[test]
        fn different_keys_never_share_an_exact_code(
            a in key(),
            b in key(),
            keys in proptest::collection::vec(key(), 0..40),
            near in 0usize..50,
        ) {
            proptest::prop_assert_eq!(code(&a), code(&a));
            if a != b && code(&a).exact() && code(&b).exact() {
                proptest::prop_assert_ne!(code(&a), code(&b), "{:?} and {:?}", a, b);
            }
            let mut sorted: Vec<KeyCode> = keys.iter().map(|k| code(k)).collect();
            sorted.sort();
            for k in &keys {
                let mut at = near;
                proptest::prop_assert!(find_near(&sorted, code(k), &mut at), "{:?}", k);
                proptest::prop_assert_eq!(sorted[at], code(k));
            }
            if code(&a).exact() && !keys.contains(&a) {
                let mut at = near;
                proptest::prop_assert!(!find_near(&sorted, code(&a), &mut at), "{:?}", a);
            }
        }
    }
}
