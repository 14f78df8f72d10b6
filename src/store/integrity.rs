//! Proof that the audit journal is whole: every segment, every frame, every
//! sequence number, checked against the checkpoint the state file carries.
//!
//! What CloudTrail's log file integrity validation promises for its logs —
//! a file that was changed, deleted or never delivered is reported — this
//! module gives for the journal:
//!
//! - each segment's header must be exactly this store's, and its frames must
//!   lead from the header to the end of the file, each one authenticated
//!   (AES-GCM, bound to its segment and offset, so a frame cannot be moved,
//!   dropped or replayed without failing);
//! - the segments must be numbered without a hole from the oldest one the
//!   checkpoint says must exist, and the sequence numbers must run on from
//!   one segment to the next and from the first record ever written;
//! - the checkpoint (the last sequence number and hash when the state was
//!   last saved, written inside the encrypted state file) must be reached,
//!   by a record with that hash.
//!
//! Only a **torn tail** is benign: the last bytes of the newest segment
//! forming an incomplete frame (a write cut by a crash) after every record
//! the checkpoint vouches for. Everything else is a [`Problem`], named by
//! segment, offset and the sequence numbers it leaves missing. Nothing here
//! writes a byte.

use std::fs;
use std::path::Path;

use aes_gcm::{Aes256Gcm, KeyInit};
use serde::{Deserialize, Serialize};

use super::StoreError;
use super::journal::{
    JournalKeys, SEGMENT_HEADER_LEN, frame_at, open_frame, resync, segment_header, segment_numbers,
    segment_path,
};
use crate::kms::{AuditRecord, ChainHead};

/// The store section that holds the [`Checkpoint`].
pub const CHECKPOINT_SECTION: &str = "audit-checkpoint";

/// What the state file vouches for about the journal at its last save.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// The sequence number of the last record (0: none yet).
    pub sequence: u64,
    /// That record's hash.
    pub hash: String,
    /// The oldest segment that must exist (older ones were retired by the
    /// retention setting).
    pub oldest_segment: u64,
    /// Damage already found and recorded in the trail (an
    /// `AuditJournalDamaged` record each), so that opening does not record
    /// it again; `audit verify` still reports it.
    #[serde(default)]
    pub acknowledged: Vec<Problem>,
}

impl Checkpoint {
    /// Reads the section's bytes; `None` for a store written before
    /// checkpoints (or a damaged section, which the sealed state makes
    /// impossible short of a bug).
    pub fn from_section(bytes: Option<&[u8]>) -> Option<Checkpoint> {
        serde_json::from_slice(bytes?).ok()
    }

    /// The section's bytes.
    pub fn to_section(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }
}

/// One thing wrong with the journal.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Problem {
    /// The segment it is in (none for the journal as a whole).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub segment: Option<u64>,
    /// The byte offset in that segment where it starts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offset: Option<u64>,
    /// What is wrong, in words.
    pub what: String,
    /// The sequence numbers it leaves missing (first and last, inclusive),
    /// when there are any and they are known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub missing: Option<(u64, u64)>,
}

impl Problem {
    /// Whether `other` is this problem as found again (a later open names
    /// the same damage by the records it leaves out, or by where it is).
    pub fn same_as(&self, other: &Problem) -> bool {
        match (self.missing, other.missing) {
            (Some(a), Some(b)) => a == b,
            _ => {
                self.segment == other.segment
                    && self.offset == other.offset
                    && self.what == other.what
            }
        }
    }
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (self.segment, self.offset) {
            (Some(s), Some(o)) => write!(f, "segment {s} at offset {o}: ")?,
            (Some(s), None) => write!(f, "segment {s}: ")?,
            _ => {}
        }
        f.write_str(&self.what)?;
        match self.missing {
            Some((a, b)) if a == b => write!(f, "; record {a} is missing"),
            Some((a, b)) => write!(
                f,
                "; records {a} to {b} are missing ({} records)",
                b - a + 1
            ),
            None => Ok(()),
        }
    }
}

/// A write cut short by a crash at the end of the newest segment.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TornTail {
    /// The newest segment.
    pub segment: u64,
    /// Where the incomplete frame starts (the length the segment is cut to).
    pub offset: u64,
    /// How many bytes it has.
    pub bytes: u64,
}

/// What checking the journal found.
#[derive(Clone, Debug, Default)]
pub struct JournalReport {
    /// The segments present, oldest first.
    pub segments: Vec<u64>,
    /// Every record that could be read, oldest first (only when asked for).
    pub records: Vec<AuditRecord>,
    /// How many records could be read.
    pub readable: u64,
    /// The first and last sequence numbers read.
    pub first_sequence: Option<u64>,
    /// See `first_sequence`.
    pub last_sequence: Option<u64>,
    /// The hash of the last record read.
    pub last_hash: Option<String>,
    /// The `eventTime` of the latest record read.
    pub last_time: Option<crate::kms::Timestamp>,
    /// The checkpoint the check was made against.
    pub checkpoint: Option<Checkpoint>,
    /// An incomplete last frame (benign, but reported).
    pub torn_tail: Option<TornTail>,
    /// Everything else.
    pub problems: Vec<Problem>,
}

impl JournalReport {
    /// No problem (a torn tail is not one).
    pub fn is_whole(&self) -> bool {
        self.problems.is_empty()
    }

    /// Where the next record links: after the last one read, or after the
    /// checkpoint when records it vouches for are missing (their numbers
    /// are never reused).
    pub fn head(&self) -> ChainHead {
        let read = match (self.last_sequence, &self.last_hash) {
            (Some(sequence), Some(hash)) => ChainHead {
                sequence,
                hash: hash.clone(),
            },
            _ => ChainHead::default(),
        };
        match &self.checkpoint {
            Some(c) if c.sequence > read.sequence => ChainHead {
                sequence: c.sequence,
                hash: c.hash.clone(),
            },
            _ => read,
        }
    }
}

/// The chain link of a record, read without the rest of it.
#[derive(Deserialize)]
struct LinkOnly {
    byok: crate::kms::audit::ChainLink,
    #[serde(rename = "eventTime")]
    event_time: String,
}

/// A readable frame.
struct Frame {
    sequence: u64,
    hash: String,
    previous_hash: String,
    time: String,
}

/// An entry of the journal in order: a frame, or something that is not one.
enum Item {
    Frame(Frame),
    Gap(Problem),
}

/// Checks the journal in `dir` against `checkpoint`. With `keep_records`
/// the readable records are returned too.
pub fn check(
    dir: &Path,
    keys: &JournalKeys,
    checkpoint: Option<&Checkpoint>,
    keep_records: bool,
) -> Result<JournalReport, StoreError> {
    let cipher = Aes256Gcm::new_from_slice(keys.key.expose()).expect("32-byte key");
    let numbers = segment_numbers(dir)?;
    let mut report = JournalReport {
        segments: numbers.clone(),
        checkpoint: checkpoint.cloned(),
        ..JournalReport::default()
    };
    let mut items: Vec<Item> = Vec::new();

    // Segments that must exist but do not.
    let newest = numbers.last().copied();
    let oldest_required = checkpoint.map(|c| c.oldest_segment.max(1)).unwrap_or(1);
    if let Some(newest) = newest {
        let lowest = numbers[0];
        // Without a checkpoint (a store from before them, or retired
        // segments), the oldest present segment is taken as the start.
        let from = if checkpoint.is_some() {
            oldest_required.min(lowest)
        } else {
            lowest
        };
        let mut present = numbers.iter().peekable();
        for n in from..=newest {
            if present.peek() == Some(&&n) {
                present.next();
                let path = segment_path(dir, n);
                let bytes = fs::read(&path).map_err(|e| StoreError::io(&path, e))?;
                scan_segment(
                    &cipher,
                    keys,
                    n,
                    &bytes,
                    Some(n) == Some(newest),
                    keep_records.then_some(&mut report.records),
                    &mut items,
                    &mut report.torn_tail,
                );
            } else if n >= oldest_required || checkpoint.is_none() {
                items.push(Item::Gap(Problem {
                    segment: Some(n),
                    offset: None,
                    what: "the segment is missing".into(),
                    missing: None,
                }));
            }
        }
    } else if checkpoint.is_some_and(|c| c.sequence > 0) {
        items.push(Item::Gap(Problem {
            segment: None,
            offset: None,
            what: "the journal has no segment at all".into(),
            missing: None,
        }));
    }

    // Walk the items in order: sequence numbers must run on, gaps get the
    // numbers they leave out.
    // The first record ever written is number 1, unless older segments were
    // retired.
    let genesis_expected = match checkpoint {
        Some(_) => oldest_required <= 1,
        None => numbers.first() == Some(&1),
    };
    let mut previous: Option<(u64, String)> = None;
    let mut open_gaps: Vec<Problem> = Vec::new();
    for item in items {
        match item {
            Item::Gap(p) => open_gaps.push(p),
            Item::Frame(f) => {
                let expected = previous
                    .as_ref()
                    .map_or(if genesis_expected { Some(1) } else { None }, |(s, _)| {
                        Some(s + 1)
                    });
                let known_start = previous
                    .as_ref()
                    .map(|(s, _)| s + 1)
                    .or(genesis_expected.then_some(1));
                if !open_gaps.is_empty() {
                    let missing =
                        known_start.and_then(|a| (f.sequence > a).then(|| (a, f.sequence - 1)));
                    flush_gaps(&mut open_gaps, missing, &mut report.problems);
                } else if let Some(e) = expected
                    && f.sequence != e
                {
                    report.problems.push(Problem {
                        segment: None,
                        offset: None,
                        what: if f.sequence > e {
                            format!("the sequence jumps from {} to {}", e - 1, f.sequence)
                        } else {
                            format!("record {} appears again after record {}", f.sequence, e - 1)
                        },
                        missing: (f.sequence > e).then(|| (e, f.sequence - 1)),
                    });
                } else if let Some((_, h)) = &previous
                    && f.previous_hash != *h
                {
                    report.problems.push(Problem {
                        segment: None,
                        offset: None,
                        what: format!(
                            "record {} does not link to the record before it",
                            f.sequence
                        ),
                        missing: None,
                    });
                }
                report.readable += 1;
                report.first_sequence.get_or_insert(f.sequence);
                report.last_sequence = Some(f.sequence);
                report.last_hash = Some(f.hash.clone());
                if let Some(t) = crate::kms::history::parse_event_time(&f.time) {
                    report.last_time = report.last_time.max(Some(t));
                }
                previous = Some((f.sequence, f.hash));
            }
        }
    }
    let last = previous.as_ref().map_or(0, |(s, _)| *s);
    let vouched = checkpoint.map_or(0, |c| c.sequence);
    // What the gaps at the end leave out: up to the checkpoint.
    if !open_gaps.is_empty() {
        let a = last + 1;
        let missing = (vouched >= a).then_some((a, vouched));
        flush_gaps(&mut open_gaps, missing, &mut report.problems);
    }
    if let Some(c) = checkpoint {
        if c.sequence > last {
            // A cut at a frame boundary, or a torn frame the state file
            // had already acknowledged: not a crash's doing.
            if let Some(t) = report.torn_tail.take() {
                report.problems.push(Problem {
                    segment: Some(t.segment),
                    offset: Some(t.offset),
                    what: "the newest segment ends in an incomplete record that the state file had acknowledged".into(),
                    missing: Some((last + 1, c.sequence)),
                });
            } else if !report
                .problems
                .iter()
                .any(|p| p.missing.is_some_and(|(_, b)| b >= c.sequence))
            {
                report.problems.push(Problem {
                    segment: newest,
                    offset: None,
                    what: format!(
                        "the journal ends at record {last}, but the state file vouches for {} records",
                        c.sequence
                    ),
                    missing: Some((last + 1, c.sequence)),
                });
            }
        } else if c.sequence > 0
            && report.last_sequence.is_some()
            && !checkpoint_matches(&report, c, keep_records)
        {
            report.problems.push(Problem {
                segment: None,
                offset: None,
                what: format!(
                    "record {} is not the one the state file recorded (its hash differs)",
                    c.sequence
                ),
                missing: None,
            });
        }
    }
    Ok(report)
}

/// Whether the record at the checkpoint's sequence has its hash. Only the
/// last record's hash is kept without `keep_records`; a checkpoint behind
/// the last record is then vouched for by the chain of links instead.
fn checkpoint_matches(report: &JournalReport, c: &Checkpoint, keep_records: bool) -> bool {
    if report.last_sequence == Some(c.sequence) {
        return report.last_hash.as_deref() == Some(c.hash.as_str());
    }
    if keep_records {
        return report
            .records
            .iter()
            .find(|r| r.byok.sequence == c.sequence)
            .is_none_or(|r| r.byok.hash == c.hash);
    }
    true
}

fn flush_gaps(gaps: &mut Vec<Problem>, missing: Option<(u64, u64)>, out: &mut Vec<Problem>) {
    // The numbers are charged to the first gap of a run; the others name
    // where else the damage is.
    for (i, mut p) in gaps.drain(..).enumerate() {
        if i == 0 {
            p.missing = missing;
        }
        out.push(p);
    }
}

/// Reads one segment into `items`.
#[allow(clippy::too_many_arguments)]
fn scan_segment(
    cipher: &Aes256Gcm,
    keys: &JournalKeys,
    n: u64,
    bytes: &[u8],
    newest: bool,
    mut records: Option<&mut Vec<AuditRecord>>,
    items: &mut Vec<Item>,
    torn: &mut Option<TornTail>,
) {
    let header = segment_header(keys, n);
    let gap = |offset: u64, what: String| {
        Item::Gap(Problem {
            segment: Some(n),
            offset: Some(offset),
            what,
            missing: None,
        })
    };
    if bytes.len() < header.len() {
        if newest {
            // A crash while the segment was being created.
            *torn = Some(TornTail {
                segment: n,
                offset: 0,
                bytes: bytes.len() as u64,
            });
        } else {
            items.push(gap(
                0,
                format!("the segment is only {} bytes long", bytes.len()),
            ));
        }
        return;
    }
    if bytes[..header.len()] != header[..] {
        items.push(gap(
            0,
            "its header is not this store's (damaged, or a segment of another store)".into(),
        ));
        return;
    }
    let mut offset = SEGMENT_HEADER_LEN as usize;
    while offset < bytes.len() {
        match open_frame(cipher, keys, n, bytes, offset) {
            Some((body, end)) => {
                let parsed = if let Some(out) = records.as_deref_mut() {
                    serde_json::from_slice::<AuditRecord>(&body).ok().map(|r| {
                        let f = Frame {
                            sequence: r.byok.sequence,
                            hash: r.byok.hash.clone(),
                            previous_hash: r.byok.previous_hash.clone(),
                            time: r.event_time.clone(),
                        };
                        out.push(r);
                        f
                    })
                } else {
                    serde_json::from_slice::<LinkOnly>(&body)
                        .ok()
                        .map(|l| Frame {
                            sequence: l.byok.sequence,
                            hash: l.byok.hash,
                            previous_hash: l.byok.previous_hash,
                            time: l.event_time,
                        })
                };
                match parsed {
                    Some(f) => items.push(Item::Frame(f)),
                    None => items.push(gap(
                        offset as u64,
                        "the record is sealed by this store but is not an audit record".into(),
                    )),
                }
                offset = end;
            }
            None => match resync(cipher, keys, n, bytes, offset + 1) {
                Some(next) => {
                    items.push(gap(
                        offset as u64,
                        format!(
                            "{} bytes that are not a record of this store (damaged)",
                            next - offset
                        ),
                    ));
                    offset = next;
                }
                None => {
                    let rest = bytes.len() - offset;
                    // A torn write leaves a prefix of a frame: a length that
                    // is plausible and reaches past the end of the file.
                    let incomplete = match frame_at(bytes, offset) {
                        Some(_) => false,
                        None => {
                            rest < 4 || {
                                let len = u32::from_be_bytes(
                                    bytes[offset..offset + 4].try_into().expect("4 bytes"),
                                ) as usize;
                                (16..=super::journal::MAX_FRAME).contains(&len)
                                    && offset + 16 + len > bytes.len()
                            }
                        }
                    };
                    if newest && incomplete {
                        *torn = Some(TornTail {
                            segment: n,
                            offset: offset as u64,
                            bytes: rest as u64,
                        });
                    } else if incomplete {
                        items.push(gap(
                            offset as u64,
                            format!("the segment ends in an incomplete record ({rest} bytes)"),
                        ));
                    } else {
                        items.push(gap(
                            offset as u64,
                            format!(
                                "the last {rest} bytes are not a record of this store (damaged)"
                            ),
                        ));
                    }
                    break;
                }
            },
        }
    }
}
