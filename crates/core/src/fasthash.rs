//! A fast, non-cryptographic hash for the health checks' large in-memory joins (a million card
//! serials and UUIDs). The keys come from the operator's own estate, so the flooding attacks
//! that std's SipHash guards against do not apply; FxHash-style mixing is several times faster.

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};

/// Rotate-multiply hashing, one machine word at a time (as rustc's FxHasher).
#[derive(Clone, Copy, Debug, Default)]
pub struct FxHasher(u64);

const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

impl FxHasher {
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(SEED);
    }
}

impl Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            self.add(u64::from_le_bytes([
                c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7],
            ]));
        }
        let mut tail = 0u64;
        for (i, b) in chunks.remainder().iter().enumerate() {
            tail |= u64::from(*b) << (8 * i);
        }
        self.add(tail);
    }

    fn write_u8(&mut self, n: u8) {
        self.add(u64::from(n));
    }

    fn write_usize(&mut self, n: usize) {
        self.add(n as u64);
    }

    fn finish(&self) -> u64 {
        // Multiplying mixes low input bits only into high output bits, and the table picks
        // buckets by the low bits: without this final avalanche (MurmurHash3's fmix64), keys
        // that differ only late, like UUIDs sharing a prefix, pile into the same buckets.
        let mut x = self.0;
        x ^= x >> 33;
        x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
        x ^= x >> 33;
        x = x.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
        x ^ (x >> 33)
    }
}

/// A `HashMap` with [`FxHasher`].
pub type FastMap<K, V> = HashMap<K, V, BuildHasherDefault<FxHasher>>;
/// A `HashSet` with [`FxHasher`].
pub type FastSet<K> = HashSet<K, BuildHasherDefault<FxHasher>>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distinct_keys_stay_distinct() {
        let mut m: FastMap<String, usize> = FastMap::default();
        for i in 0..10_000 {
            m.insert(format!("CS{i:010}"), i);
        }
        assert_eq!(m.len(), 10_000);
        assert_eq!(m["CS0000004242"], 4242);
        // Keys sharing a long prefix still spread over the low bits the table uses.
        let low: FastSet<u64> = (0..4096)
            .map(|i| {
                let mut h = FxHasher::default();
                h.write(format!("00555{i:07}").as_bytes());
                h.finish() & 0xfff
            })
            .collect();
        assert!(low.len() > 2000, "{} distinct low 12-bit values", low.len());
        let s: FastSet<&str> = ["a", "ab", "abc", "abcdefghi"].into_iter().collect();
        assert!(s.contains("abcdefghi") && !s.contains("abcdefgh"));
    }
}
