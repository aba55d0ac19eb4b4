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
}
