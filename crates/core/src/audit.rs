//! The audit chain's rules: what a record holds, how it is hashed, and how a chain is verified.
//! Storage writes records; this module decides whether a sequence of them is intact.
//!
//! Each record's hash is SHA-256 over its canonical bytes followed by the previous record's
//! hash, so editing a record breaks its own hash, deleting one breaks the next record's link,
//! and reordering breaks both. The sequence number is inside the hash, so renumbering shows too.

use sha2::{Digest, Sha256};

use crate::date::Timestamp;

/// The hash the first record links to.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// One audit record: who did what to which entity, with its state before and after.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct AuditRecord {
    /// Position in the chain, from 1.
    pub seq: i64,
    /// When.
    pub at: Timestamp,
    /// Who (an operator's name, `cli:<user>`, `import`, an agent id…).
    pub actor: String,
    /// What (`import`, `create`, `update`, `status`, …).
    pub action: String,
    /// The kind of entity (`people`, `cards`, …).
    pub entity_kind: String,
    /// The entity's natural key.
    pub entity_key: String,
    /// Why, in words (a status change's reason, the file an update came from); may be empty.
    pub note: String,
    /// JSON of the entity before the change, if it existed.
    pub before: Option<String>,
    /// JSON of the entity after the change, if it still exists.
    pub after: Option<String>,
}

/// A record as stored, with its links.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct StoredAudit {
    /// The record.
    #[serde(flatten)]
    pub record: AuditRecord,
    /// The previous record's hash.
    pub prev_hash: String,
    /// This record's hash.
    pub hash: String,
}

impl AuditRecord {
    /// The hash of this record when it follows a record whose hash is `prev_hash`.
    pub fn hash(&self, prev_hash: &str) -> String {
        let mut h = Sha256::new();
        // Length-prefixed fields: no two different records share canonical bytes.
        let mut field = |bytes: &[u8]| {
            h.update((bytes.len() as u64).to_be_bytes());
            h.update(bytes);
        };
        field(&self.seq.to_be_bytes());
        field(&self.at.unix().to_be_bytes());
        field(self.actor.as_bytes());
        field(self.action.as_bytes());
        field(self.entity_kind.as_bytes());
        field(self.entity_key.as_bytes());
        field(self.note.as_bytes());
        for side in [&self.before, &self.after] {
            match side {
                Some(json) => {
                    field(b"1");
                    field(json.as_bytes());
                }
                None => field(b"0"),
            }
        }
        field(prev_hash.as_bytes());
        hex::encode(h.finalize())
    }

    /// Links this record after `prev_hash`, giving the stored form.
    pub fn seal(self, prev_hash: String) -> StoredAudit {
        let hash = self.hash(&prev_hash);
        StoredAudit {
            record: self,
            prev_hash,
            hash,
        }
    }
}

/// Where and how a chain is broken.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ChainBreak {
    /// A record's contents no longer match its hash.
    #[error("audit record {seq} was edited: its contents no longer match its hash")]
    Edited {
        /// The record.
        seq: i64,
    },
    /// Records are missing or out of order.
    #[error("audit record {found} stands where record {expected} should: records were deleted or reordered")]
    Sequence {
        /// The sequence number expected here.
        expected: i64,
        /// The one found.
        found: i64,
    },
    /// A record does not link to the one before it.
    #[error("audit record {seq} does not link to the record before it: records were deleted or reordered")]
    Link {
        /// The record.
        seq: i64,
    },
    /// The chain is shorter than its recorded head.
    #[error("the audit log ends at record {last} but {head} records were written: the newest were deleted")]
    Truncated {
        /// The last record present.
        last: i64,
        /// How many the head says were written.
        head: i64,
    },
}

/// Checks records (in stored order) against each other and against the head (`(seq, hash)` of
/// the newest record written). Returns how many records were checked.
pub fn verify(
    records: impl IntoIterator<Item = StoredAudit>,
    head: Option<(i64, String)>,
) -> Result<i64, ChainBreak> {
    let mut prev = GENESIS.to_owned();
    let mut expected = 1;
    for r in records {
        let seq = r.record.seq;
        if seq != expected {
            return Err(ChainBreak::Sequence {
                expected,
                found: seq,
            });
        }
        if r.record.hash(&r.prev_hash) != r.hash {
            return Err(ChainBreak::Edited { seq });
        }
        if r.prev_hash != prev {
            return Err(ChainBreak::Link { seq });
        }
        prev = r.hash;
        expected += 1;
    }
    let last = expected - 1;
    if let Some((head_seq, head_hash)) = head {
        if head_seq != last {
            return Err(ChainBreak::Truncated {
                last,
                head: head_seq,
            });
        }
        if head_hash != prev {
            return Err(ChainBreak::Link { seq: last });
        }
    }
    Ok(last)
}

/// A record's place and hash written down outside the store (printed by `cardwatch audit verify`,
/// kept in a ticket, a log server or on paper). The chain alone cannot show a rewrite by someone
/// who recomputed every hash after an edit and moved the head to match, since the hash is
/// unkeyed and the head lives in the same database; a record's hash kept elsewhere can.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Anchor {
    /// The record's position in the chain.
    pub seq: i64,
    /// Its hash when the anchor was taken.
    pub hash: String,
}

/// How a chain fails an anchor kept outside it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AnchorBreak {
    /// The chain no longer reaches the anchored record.
    #[error("the audit log has no record {seq}, but the anchor kept outside the store says it was written: records were deleted")]
    Missing {
        /// The anchored record.
        seq: i64,
    },
    /// The anchored record's hash changed: it or a record before it was rewritten, with every
    /// later hash recomputed.
    #[error("audit record {seq} has hash {found}, but the anchor kept outside the store says {expected}: the chain was rewritten at or before record {seq}")]
    Rewritten {
        /// The anchored record.
        seq: i64,
        /// The hash kept outside.
        expected: String,
        /// The hash the store holds now.
        found: String,
    },
}

impl Anchor {
    /// An anchor written as `SEQ:HASH` (the form `cardwatch audit verify` prints).
    pub fn parse(text: &str) -> Result<Anchor, String> {
        let bad = || {
            format!(
                "{text:?} is not an audit anchor — write it as printed by `cardwatch audit verify`: \
                 the record number, a colon and its 64-character hash (12:3f9a…)"
            )
        };
        let (seq, hash) = text.trim().split_once(':').ok_or_else(bad)?;
        let seq: i64 = seq.trim().parse().map_err(|_| bad())?;
        let hash = hash.trim().to_ascii_lowercase();
        if seq < 1 || hash.len() != 64 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(bad());
        }
        Ok(Anchor { seq, hash })
    }

    /// The anchor of a stored record.
    pub fn of(record: &StoredAudit) -> Anchor {
        Anchor {
            seq: record.record.seq,
            hash: record.hash.clone(),
        }
    }

    /// Checks the record the chain holds at the anchor's place (`None`: the chain is shorter).
    /// Run it after [`verify`]: on an intact chain, an anchored record that still matches
    /// vouches for every record up to it.
    pub fn check(&self, found: Option<&StoredAudit>) -> Result<(), AnchorBreak> {
        match found {
            Some(r) if r.record.seq == self.seq && r.hash == self.hash => Ok(()),
            Some(r) if r.record.seq == self.seq => Err(AnchorBreak::Rewritten {
                seq: self.seq,
                expected: self.hash.clone(),
                found: r.hash.clone(),
            }),
            _ => Err(AnchorBreak::Missing { seq: self.seq }),
        }
    }
}

impl std::fmt::Display for Anchor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.seq, self.hash)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain(n: i64) -> Vec<StoredAudit> {
        let mut prev = GENESIS.to_owned();
        (1..=n)
            .map(|seq| {
                let r = AuditRecord {
                    seq,
                    at: Timestamp::from_unix(1_700_000_000 + seq),
                    actor: "tester".into(),
                    action: "update".into(),
                    entity_kind: "cards".into(),
                    entity_key: format!("CS{seq}"),
                    note: String::new(),
                    before: Some(r#"{"status":"active"}"#.into()),
                    after: Some(r#"{"status":"locked"}"#.into()),
                }
                .seal(prev.clone());
                prev = r.hash.clone();
                r
            })
            .collect()
    }

    fn head(c: &[StoredAudit]) -> Option<(i64, String)> {
        c.last().map(|r| (r.record.seq, r.hash.clone()))
    }

    #[test]
    fn intact_chain_verifies() {
        let c = chain(5);
        let h = head(&c);
        assert_eq!(verify(c, h), Ok(5));
        assert_eq!(verify(vec![], None), Ok(0));
    }

    #[test]
    fn edit_delete_reorder_truncate_are_found() {
        let c = chain(5);
        let h = head(&c);

        let mut edited = c.clone();
        edited[2].record.after = Some(r#"{"status":"active"}"#.into());
        assert_eq!(
            verify(edited, h.clone()),
            Err(ChainBreak::Edited { seq: 3 })
        );

        let mut deleted = c.clone();
        deleted.remove(1);
        assert_eq!(
            verify(deleted, h.clone()),
            Err(ChainBreak::Sequence {
                expected: 2,
                found: 3
            })
        );

        let mut swapped = c.clone();
        swapped.swap(1, 2);
        assert!(verify(swapped, h.clone()).is_err());

        // Renumbered after a deletion: the hashes no longer match.
        let mut renumbered = c.clone();
        renumbered.remove(1);
        for (i, r) in renumbered.iter_mut().enumerate() {
            r.record.seq = i as i64 + 1;
        }
        assert_eq!(
            verify(renumbered, h.clone()),
            Err(ChainBreak::Edited { seq: 2 })
        );

        let mut truncated = c;
        truncated.pop();
        assert_eq!(
            verify(truncated, h),
            Err(ChainBreak::Truncated { last: 4, head: 5 })
        );
    }

    /// Rewrites the chain from record `from` on as someone with write access to the database
    /// could: the edit, every later hash recomputed and the head moved to match.
    fn rewritten(c: &[StoredAudit], from: usize) -> Vec<StoredAudit> {
        let mut out: Vec<StoredAudit> = c[..from].to_vec();
        let mut prev = out.last().map_or(GENESIS.to_owned(), |r| r.hash.clone());
        for r in &c[from..] {
            let mut record = r.record.clone();
            if record.seq == from as i64 + 1 {
                record.after = Some(r#"{"status":"active"}"#.into());
            }
            let sealed = record.seal(prev);
            prev = sealed.hash.clone();
            out.push(sealed);
        }
        out
    }

    #[test]
    fn a_rewritten_chain_passes_verify_but_fails_an_anchor_kept_outside() {
        let c = chain(5);
        let anchor = Anchor::parse(&Anchor::of(&c[3]).to_string()).unwrap();
        assert_eq!(anchor, Anchor::of(&c[3]));
        assert_eq!(anchor.check(Some(&c[3])), Ok(()));

        // Record 2 edited, records 2 to 5 resealed, the head moved: the chain alone is intact.
        let forged = rewritten(&c, 1);
        assert_eq!(verify(forged.clone(), head(&forged)), Ok(5));
        assert_eq!(
            anchor.check(forged.get(3)),
            Err(AnchorBreak::Rewritten {
                seq: 4,
                expected: c[3].hash.clone(),
                found: forged[3].hash.clone(),
            })
        );
        // A rewrite after the anchored record leaves it standing: the anchor vouches for the
        // records up to it, no further.
        let later = rewritten(&c, 4);
        assert_eq!(anchor.check(later.get(3)), Ok(()));
        // A chain cut back to before the anchor, resealed and with a head to match.
        assert_eq!(
            anchor.check(c[..2].get(3)),
            Err(AnchorBreak::Missing { seq: 4 })
        );
    }

    #[test]
    fn anchors_are_read_as_printed_and_bad_ones_refused_with_the_form() {
        let hash = "AB".repeat(32);
        assert_eq!(
            Anchor::parse(&format!(" 7:{hash} ")),
            Ok(Anchor {
                seq: 7,
                hash: hash.to_ascii_lowercase()
            })
        );
        for bad in [
            "",
            "7",
            "x:ab",
            "0:ab",
            &format!("7:{}", "g".repeat(64)),
            "7:abc",
        ] {
            let e = Anchor::parse(bad).unwrap_err();
            assert!(e.contains("record number, a colon"), "{bad}: {e}");
        }
    }
}
