//! Keys in 64 bits. An import remembers every key of the files it has read, so that a later
//! file's references to them need not be looked up in the database one by one (a national cards
//! file names a million different holders). The keys references name — UUIDs, card serials, ODS
//! codes — are short enough to be packed whole into 64 bits, so two different keys never share a
//! code and a match is certain; any other key is hashed, and a match on a hash is only a hint.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};

use cardwatch_core::records::Value;

/// A key packed into 64 bits, or a hash of it. The top two bits say which: `0x` packed letters,
/// digits and hyphens; `10` packed digits; `11` a hash.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(super) struct KeyCode(u64);

const DIGITS: u64 = 0b10 << 62;
const HASHED: u64 = 0b11 << 62;

impl KeyCode {
    /// The code of a key, given its parts (the same for a key and a reference to it).
    pub(super) fn of(parts: &[Value]) -> KeyCode {
        if let [Value::Text(s)] = parts {
            if let Some(code) = packed(s).or_else(|| digits(s)) {
                return KeyCode(code);
            }
        }
        let mut h = DefaultHasher::new();
        for v in parts {
            match v {
                Value::Text(s) => s.hash(&mut h),
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

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn code(s: &str) -> KeyCode {
        KeyCode::of(&[Value::Text(s.to_owned())])
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
        let two = KeyCode::of(&[Value::Text("A".into()), Value::Text("B".into())]);
        assert!(!two.exact());
    }
}
