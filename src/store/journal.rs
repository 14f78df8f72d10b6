//! The audit journal: an append-only log beside the state file, so that a
//! cryptographic call costs an append, not a rewrite of the store.
//!
//! Records are hash-chained by the engine; here each is sealed with
//! AES-256-GCM under the journal key (kept inside the encrypted state) and
//! framed as `len u32 | nonce (12) | ciphertext | tag`, with the journal id,
//! segment number and byte offset as associated data so that frames cannot
//! be moved or reordered. Appends are buffered and flushed in batches by a
//! background thread (group commit), at most [`FLUSH_INTERVAL`] behind; a
//! caller that must not acknowledge before the records are durable calls
//! [`Journal::flush`]. Segments roll over by size; old ones are retired by a
//! retention count, and deleted only once the state file's checkpoint no
//! longer requires them (so a missing segment is always damage). Opening
//! checks the whole journal ([`integrity`](super::integrity)).

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

use aes_gcm::aead::{AeadInOut, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use rand::Rng;

use super::StoreError;
use super::integrity::{self, Checkpoint, JournalReport, Problem};
use crate::kms::{AuditRecord, ChainHead, SecretArray};

const SEGMENT_MAGIC: &[u8; 8] = b"BYOKJRNL";
const SEGMENT_VERSION: u16 = 1;
/// Bytes before the first frame of a segment.
pub const SEGMENT_HEADER_LEN: u64 = 8 + 2 + 16 + 8;
pub(super) const MAX_FRAME: usize = 1 << 20;
/// How far the background flush may lag behind an append.
pub const FLUSH_INTERVAL: Duration = Duration::from_millis(200);

/// Where a journal lives and how it rolls over.
#[derive(Clone, Debug)]
pub struct JournalConfig {
    /// The directory holding the segments.
    pub dir: PathBuf,
    /// Roll over to a new segment beyond this size.
    pub max_segment_bytes: u64,
    /// Keep at most this many segments (0: keep all).
    pub retention_segments: u32,
}

/// Identity and key of a journal (stored inside the encrypted state).
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct JournalKeys {
    /// Binds segments to their store.
    pub id: [u8; 16],
    /// Seals records.
    pub key: SecretArray<32>,
}

impl JournalKeys {
    /// Fresh keys for a new store.
    pub fn generate() -> Self {
        let mut rng = rand::rng();
        let mut id = [0u8; 16];
        rng.fill_bytes(&mut id);
        Self {
            id,
            key: SecretArray::random(&mut rng),
        }
    }
}

/// A sealed record waiting to be written.
struct Queued {
    segment: u64,
    offset: u64,
    sequence: u64,
    hash: String,
    frame: Vec<u8>,
}

/// Frames waiting to be written, in order.
struct Pending {
    frames: Vec<Queued>,
    /// Segment and offset where the next frame will land.
    segment: u64,
    next_offset: u64,
    stop: bool,
    /// Why the last write failed (a full disk, say); cleared by the next
    /// write that succeeds. While set, appends first try to write what is
    /// queued and are refused if that fails.
    failure: Option<String>,
    /// Sequence number and hash of the last record appended.
    last: (u64, String),
    /// Sequence number and hash of the last record on disk.
    durable: (u64, String),
}

struct Io {
    /// `None` for a journal opened read-only.
    file: Option<File>,
    segment: u64,
}

struct Shared {
    pending: Mutex<Pending>,
    io: Mutex<Io>,
    wake: Condvar,
    config: JournalConfig,
    keys: JournalKeys,
    /// The oldest segment that must exist.
    oldest: Mutex<u64>,
}

impl Shared {
    /// A journal's shared state: nothing queued, the next frame at `next`
    /// (segment, offset), `head` the last record on disk; `file` the segment
    /// open for appending (`None` when reading only).
    fn new(
        config: JournalConfig,
        keys: JournalKeys,
        head: &ChainHead,
        next: (u64, u64),
        file: Option<File>,
        oldest: u64,
    ) -> Arc<Shared> {
        let (segment, next_offset) = next;
        Arc::new(Shared {
            pending: Mutex::new(Pending {
                frames: Vec::new(),
                segment,
                next_offset,
                stop: false,
                failure: None,
                last: (head.sequence, head.hash.clone()),
                durable: (head.sequence, head.hash.clone()),
            }),
            io: Mutex::new(Io { file, segment }),
            wake: Condvar::new(),
            config,
            keys,
            oldest: Mutex::new(oldest),
        })
    }
}

/// An open journal with its background flusher.
pub struct Journal {
    shared: Arc<Shared>,
    flusher: Option<JoinHandle<()>>,
    /// What opening found and did (a torn tail dropped, damage kept aside).
    pub notes: Vec<String>,
    /// The damage opening found (also in `notes`), for the audit trail.
    pub damage: Vec<Problem>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

pub(super) fn segment_path(dir: &Path, n: u64) -> PathBuf {
    dir.join(format!("segment-{n:08}.log"))
}

pub(super) fn segment_numbers(dir: &Path) -> Result<Vec<u64>, StoreError> {
    let mut out = Vec::new();
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
        Err(e) => return Err(StoreError::io(dir, e)),
    };
    for e in entries {
        let e = e.map_err(|e| StoreError::io(dir, e))?;
        let name = e.file_name();
        let Some(name) = name.to_str() else { continue };
        if let Some(n) = name
            .strip_prefix("segment-")
            .and_then(|s| s.strip_suffix(".log"))
            .and_then(|s| s.parse::<u64>().ok())
        {
            out.push(n);
        }
    }
    out.sort_unstable();
    Ok(out)
}

pub(super) fn segment_header(keys: &JournalKeys, n: u64) -> Vec<u8> {
    let mut h = Vec::with_capacity(SEGMENT_HEADER_LEN as usize);
    h.extend_from_slice(SEGMENT_MAGIC);
    h.extend_from_slice(&SEGMENT_VERSION.to_be_bytes());
    h.extend_from_slice(&keys.id);
    h.extend_from_slice(&n.to_be_bytes());
    h
}

fn aad(keys: &JournalKeys, segment: u64, offset: u64) -> [u8; 32] {
    let mut a = [0u8; 32];
    a[..16].copy_from_slice(&keys.id);
    a[16..24].copy_from_slice(&segment.to_be_bytes());
    a[24..].copy_from_slice(&offset.to_be_bytes());
    a
}

fn sync_dir(dir: &Path) -> Result<(), StoreError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| StoreError::io(dir, e))
}

/// The frame at `offset`, if its length field is plausible and the frame
/// fits in `bytes`: (nonce + ciphertext range, end).
pub(super) fn frame_at(bytes: &[u8], offset: usize) -> Option<(usize, usize)> {
    let rest = bytes.get(offset..)?;
    if rest.len() < 4 + 12 + 16 {
        return None;
    }
    let len = u32::from_be_bytes([rest[0], rest[1], rest[2], rest[3]]) as usize;
    if !(16..=MAX_FRAME).contains(&len) || rest.len() < 4 + 12 + len {
        return None;
    }
    Some((len, offset + 16 + len))
}

/// Authenticates and decrypts the frame at `offset`.
pub(super) fn open_frame(
    cipher: &Aes256Gcm,
    keys: &JournalKeys,
    n: u64,
    bytes: &[u8],
    offset: usize,
) -> Option<(Vec<u8>, usize)> {
    let (len, end) = frame_at(bytes, offset)?;
    let nonce: [u8; 12] = bytes[offset + 4..offset + 16].try_into().ok()?;
    let mut body = bytes[offset + 16..offset + 16 + len].to_vec();
    cipher
        .decrypt_in_place(&Nonce::from(nonce), &aad(keys, n, offset as u64), &mut body)
        .ok()?;
    Some((body, end))
}

/// The first offset at or after `from` where a genuine frame starts (its
/// associated data binds it to its offset, so nothing else authenticates).
pub(super) fn resync(
    cipher: &Aes256Gcm,
    keys: &JournalKeys,
    n: u64,
    bytes: &[u8],
    from: usize,
) -> Option<usize> {
    (from..bytes.len())
        .find(|&y| frame_at(bytes, y).is_some() && open_frame(cipher, keys, n, bytes, y).is_some())
}

impl Journal {
    /// Opens (or starts) the journal in `config.dir`, checked whole against
    /// `checkpoint` (see [`integrity`](super::integrity)). A torn tail — an
    /// incomplete last frame left by a crash, after every record the
    /// checkpoint vouches for — is cut off and reported in `notes`. Any other
    /// damage is left exactly as it is, reported in `notes` and `damage`,
    /// and new records go to a new segment. Returns the journal, the head of
    /// the chain the next record links to, and the report.
    pub fn open(
        config: JournalConfig,
        keys: JournalKeys,
        checkpoint: Option<&Checkpoint>,
    ) -> Result<(Journal, ChainHead, JournalReport), StoreError> {
        fs::create_dir_all(&config.dir).map_err(|e| StoreError::io(&config.dir, e))?;
        let report = integrity::check(&config.dir, &keys, checkpoint, false)?;
        let mut notes = Vec::new();
        let mut damage = Vec::new();
        let newest = report.segments.last().copied();
        let mut segment = newest.unwrap_or(1);
        let mut start_new = newest.is_none();
        if let Some(t) = &report.torn_tail {
            let path = segment_path(&config.dir, t.segment);
            if t.offset < SEGMENT_HEADER_LEN {
                fs::remove_file(&path).map_err(|e| StoreError::io(&path, e))?;
                sync_dir(&config.dir)?;
                start_new = true;
            } else {
                let f = OpenOptions::new()
                    .write(true)
                    .open(&path)
                    .map_err(|e| StoreError::io(&path, e))?;
                f.set_len(t.offset).map_err(|e| StoreError::io(&path, e))?;
                f.sync_all().map_err(|e| StoreError::io(&path, e))?;
            }
            notes.push(format!(
                "dropped an incomplete audit record at the end of {} ({} bytes at offset {}, left by an interrupted write and never acknowledged)",
                path.display(),
                t.bytes,
                t.offset
            ));
        }
        if !report.problems.is_empty() {
            for p in &report.problems {
                damage.push(p.clone());
                notes.push(format!(
                    "the audit journal in {} is damaged: {p}; its files are kept exactly as they are",
                    config.dir.display()
                ));
            }
            if let Some(n) = newest {
                segment = n + 1;
                start_new = true;
                notes.push(format!("new audit records go to a new segment ({segment})"));
            }
        }
        let head = report.head();
        let oldest = checkpoint
            .map(|c| c.oldest_segment.max(1))
            .or(report.segments.first().copied())
            .unwrap_or(1)
            .min(segment);
        let next_offset = if start_new {
            SEGMENT_HEADER_LEN
        } else {
            fs::metadata(segment_path(&config.dir, segment))
                .map(|m| m.len())
                .map_err(|e| StoreError::io(&config.dir, e))?
        };
        let file = Some(Self::open_segment(&config, &keys, segment)?);
        let shared = Shared::new(config, keys, &head, (segment, next_offset), file, oldest);
        let flusher = {
            let shared = Arc::clone(&shared);
            std::thread::Builder::new()
                .name("byok-audit-flush".into())
                .spawn(move || flusher_loop(&shared))
                .map_err(|e| StoreError::Other(format!("cannot start the audit flusher: {e}")))?
        };
        Ok((
            Journal {
                shared,
                flusher: Some(flusher),
                notes,
                damage,
            },
            head,
            report,
        ))
    }

    /// Opens the journal for reading only: checked like [`Journal::open`],
    /// but nothing on disk is created, cut or set aside (a torn tail may be
    /// a write in progress by the process that has the store open), no
    /// flusher runs, and [`Journal::append`] is refused.
    pub fn open_read_only(
        config: JournalConfig,
        keys: JournalKeys,
        checkpoint: Option<&Checkpoint>,
    ) -> Result<(Journal, ChainHead, JournalReport), StoreError> {
        let report = integrity::check(&config.dir, &keys, checkpoint, false)?;
        let notes = report
            .problems
            .iter()
            .map(|p| {
                format!(
                    "the audit journal in {} is damaged: {p}; it is left unchanged",
                    config.dir.display()
                )
            })
            .collect();
        let head = report.head();
        let segment = report.segments.last().copied().unwrap_or(1);
        let oldest = report.segments.first().copied().unwrap_or(1);
        let shared = Shared::new(
            config,
            keys,
            &head,
            (segment, SEGMENT_HEADER_LEN),
            None,
            oldest,
        );
        Ok((
            Journal {
                shared,
                flusher: None,
                notes,
                damage: report.problems.clone(),
            },
            head,
            report,
        ))
    }

    /// Opens segment `n` for appending, creating it (with its header) if needed.
    fn open_segment(
        config: &JournalConfig,
        keys: &JournalKeys,
        n: u64,
    ) -> Result<File, StoreError> {
        let path = segment_path(&config.dir, n);
        let exists = path.exists();
        let mut file = super::private_file_options()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(|e| StoreError::io(&path, e))?;
        let len = file.metadata().map(|m| m.len()).unwrap_or(0);
        if !exists || len < SEGMENT_HEADER_LEN {
            // A header cut short by a full disk is written again whole.
            file.set_len(0).map_err(|e| StoreError::io(&path, e))?;
            file.write_all(&segment_header(keys, n))
                .and_then(|_| file.sync_all())
                .map_err(|e| StoreError::io(&path, e))?;
            sync_dir(&config.dir)?;
        }
        Ok(file)
    }

    /// Seals and queues records; they reach the disk within [`FLUSH_INTERVAL`],
    /// or at the next [`Journal::flush`].
    pub fn append(&self, records: &[AuditRecord]) -> Result<(), StoreError> {
        if records.is_empty() {
            return Ok(());
        }
        if self.flusher.is_none() {
            return Err(StoreError::Other(format!(
                "the audit journal {} is open for reading only",
                self.shared.config.dir.display()
            )));
        }
        let cipher = Aes256Gcm::new_from_slice(self.shared.keys.key.expose()).expect("32-byte key");
        let mut rng = rand::rng();
        // After a failed write (a full disk), nothing more is accepted until
        // what is queued reaches the disk: a call is not answered on the
        // strength of a record that may never be written.
        if lock(&self.shared.pending).failure.is_some() {
            flush_shared(&self.shared)?;
        }
        let mut p = lock(&self.shared.pending);
        let mut bodies = Vec::with_capacity(records.len());
        for r in records {
            let body = serde_json::to_vec(r).map_err(|e| StoreError::Other(e.to_string()))?;
            // A frame that could not be read back would break the chain:
            // refuse it before anything is queued (records bound their own
            // sizes, so this is a bug's last line of defence).
            if body.len() + 16 > MAX_FRAME {
                return Err(StoreError::Other(format!(
                    "an audit record of {} bytes (sequence {}) is larger than a journal frame",
                    body.len(),
                    r.byok.sequence
                )));
            }
            bodies.push(body);
        }
        for (r, mut body) in records.iter().zip(bodies) {
            let frame_len = 4 + 12 + body.len() + 16;
            if p.next_offset > SEGMENT_HEADER_LEN
                && p.next_offset + frame_len as u64 > self.shared.config.max_segment_bytes
            {
                p.segment += 1;
                p.next_offset = SEGMENT_HEADER_LEN;
            }
            let mut nonce = [0u8; 12];
            rng.fill_bytes(&mut nonce);
            let (segment, offset) = (p.segment, p.next_offset);
            cipher
                .encrypt_in_place(
                    &Nonce::from(nonce),
                    &aad(&self.shared.keys, segment, offset),
                    &mut body,
                )
                .map_err(|_| StoreError::Other("cannot seal an audit record".into()))?;
            let mut frame = Vec::with_capacity(frame_len);
            frame.extend_from_slice(&(body.len() as u32).to_be_bytes());
            frame.extend_from_slice(&nonce);
            frame.extend_from_slice(&body);
            p.frames.push(Queued {
                segment,
                offset,
                sequence: r.byok.sequence,
                hash: r.byok.hash.clone(),
                frame,
            });
            p.next_offset += frame_len as u64;
            p.last = (r.byok.sequence, r.byok.hash.clone());
        }
        drop(p);
        self.shared.wake.notify_one();
        Ok(())
    }

    /// Writes every queued record and waits until the disk has them.
    pub fn flush(&self) -> Result<(), StoreError> {
        flush_shared(&self.shared)
    }

    /// Drops the queued records after `sequence` (the records of a change
    /// that could not be saved, so that the trail does not claim it) and
    /// returns the head the next record links to. Records already on disk
    /// stay: the head is then the last of them.
    pub fn discard_after(&self, sequence: u64) -> ChainHead {
        let mut p = lock(&self.shared.pending);
        if let Some(i) = p.frames.iter().position(|f| f.sequence > sequence) {
            let first = &p.frames[i];
            let (segment, offset) = (first.segment, first.offset);
            p.frames.truncate(i);
            p.segment = segment;
            p.next_offset = offset;
            p.last = match p.frames.last() {
                Some(f) => (f.sequence, f.hash.clone()),
                None => p.durable.clone(),
            };
        }
        ChainHead {
            sequence: p.last.0,
            hash: p.last.1.clone(),
        }
    }

    /// Why writing the journal fails now, if it does.
    pub fn failure(&self) -> Option<String> {
        lock(&self.shared.pending).failure.clone()
    }

    /// Every record in every retained segment, oldest first (flushes first).
    pub fn read_all(&self) -> Result<Vec<AuditRecord>, StoreError> {
        self.flush()?;
        let _io = lock(&self.shared.io);
        Ok(integrity::check(&self.shared.config.dir, &self.shared.keys, None, true)?.records)
    }

    /// Checks the journal on disk against `checkpoint` (after writing
    /// everything queued): every segment, frame and sequence number.
    pub fn check(&self, checkpoint: Option<&Checkpoint>) -> Result<JournalReport, StoreError> {
        self.flush()?;
        let _io = lock(&self.shared.io);
        integrity::check(
            &self.shared.config.dir,
            &self.shared.keys,
            checkpoint,
            false,
        )
    }

    /// What the state file may vouch for once [`Journal::flush`] returned:
    /// the last record appended, and the oldest segment that must exist.
    pub fn checkpoint(&self) -> Checkpoint {
        let p = lock(&self.shared.pending);
        Checkpoint {
            sequence: p.last.0,
            hash: p.last.1.clone(),
            oldest_segment: *lock(&self.shared.oldest),
            acknowledged: Vec::new(),
        }
    }

    /// The segment new records go to.
    pub fn current_segment(&self) -> u64 {
        lock(&self.shared.pending).segment
    }

    /// The oldest segment that must exist.
    pub fn oldest_segment(&self) -> u64 {
        *lock(&self.shared.oldest)
    }

    /// The oldest segment the retention setting keeps, if older ones exist.
    pub fn retention_cut(&self) -> Option<u64> {
        let keep = u64::from(self.shared.config.retention_segments);
        if keep == 0 {
            return None;
        }
        let cut = self.current_segment().saturating_sub(keep - 1).max(1);
        (cut > self.oldest_segment()).then_some(cut)
    }

    /// Marks segments before `cut` as retired (the checkpoint written next
    /// no longer requires them), for [`Journal::delete_retired`] once the
    /// state file says so.
    pub fn retire_before(&self, cut: u64) {
        let mut oldest = lock(&self.shared.oldest);
        *oldest = (*oldest).max(cut);
    }

    /// Deletes the segments older than the oldest one that must exist. Call
    /// only after a checkpoint that no longer requires them is durable.
    pub fn delete_retired(&self) -> Result<(), StoreError> {
        let dir = &self.shared.config.dir;
        let oldest = self.oldest_segment();
        let mut removed = false;
        for n in segment_numbers(dir)? {
            if n < oldest {
                let path = segment_path(dir, n);
                fs::remove_file(&path).map_err(|e| StoreError::io(&path, e))?;
                removed = true;
            }
        }
        if removed {
            sync_dir(dir)?;
        }
        Ok(())
    }

    /// Number and total size of the segments on disk.
    pub fn usage(&self) -> (usize, u64) {
        let dir = &self.shared.config.dir;
        let numbers = segment_numbers(dir).unwrap_or_default();
        let bytes = numbers
            .iter()
            .filter_map(|n| fs::metadata(segment_path(dir, *n)).ok())
            .map(|m| m.len())
            .sum();
        (numbers.len(), bytes)
    }

    /// The journal's directory.
    pub fn dir(&self) -> &Path {
        &self.shared.config.dir
    }
}

impl Drop for Journal {
    fn drop(&mut self) {
        let _ = self.flush();
        lock(&self.shared.pending).stop = true;
        self.shared.wake.notify_all();
        if let Some(h) = self.flusher.take() {
            let _ = h.join();
        }
    }
}

fn flusher_loop(shared: &Shared) {
    loop {
        {
            let p = lock(&shared.pending);
            if p.stop {
                return;
            }
            let failing = p.failure.is_some();
            let (p, _) = shared
                .wake
                .wait_timeout_while(p, FLUSH_INTERVAL, |p| {
                    (p.frames.is_empty() || failing) && !p.stop
                })
                .unwrap_or_else(|e| e.into_inner());
            if p.stop {
                return;
            }
        }
        // Let a burst of appends gather into one write and one fsync.
        std::thread::sleep(Duration::from_millis(20));
        // A failure is retried here every FLUSH_INTERVAL, so the journal
        // recovers by itself once the disk has room again.
        let _ = flush_shared(shared);
    }
}

/// Writes the queued frames, in order, and syncs them. On failure the file
/// is cut back to where the failed write began (no partial frame stays),
/// the frames not written are queued again in front, and the failure is
/// kept until a write succeeds.
fn flush_shared(shared: &Shared) -> Result<(), StoreError> {
    let mut io = lock(&shared.io);
    let frames = std::mem::take(&mut lock(&shared.pending).frames);
    if frames.is_empty() {
        return match lock(&shared.pending).failure.take() {
            // Nothing was waiting: the failure was a sync; try one again.
            Some(_) => match &io.file {
                Some(f) => f
                    .sync_data()
                    .map_err(|e| fail(shared, StoreError::io(&shared.config.dir, e))),
                None => Ok(()),
            },
            None => Ok(()),
        };
    }
    let config = &shared.config;
    let mut written = 0;
    let result = (|| {
        while written < frames.len() {
            let segment = frames[written].segment;
            if segment != io.segment || io.file.is_none() {
                if let Some(f) = &io.file {
                    f.sync_data().map_err(|e| StoreError::io(&config.dir, e))?;
                }
                io.file = Some(Journal::open_segment(config, &shared.keys, segment)?);
                io.segment = segment;
            }
            let file = io.file.as_mut().expect("opened above");
            let end = frames[written..]
                .iter()
                .position(|f| f.segment != segment)
                .map_or(frames.len(), |i| written + i);
            let path = segment_path(&config.dir, segment);
            let start = frames[written].offset;
            let mut bytes =
                Vec::with_capacity(frames[written..end].iter().map(|f| f.frame.len()).sum());
            for f in &frames[written..end] {
                bytes.extend_from_slice(&f.frame);
            }
            if let Err(e) = file.write_all(&bytes).and_then(|_| file.sync_data()) {
                // No partial frame may stay behind: the next write goes
                // where this one began.
                let _ = file.set_len(start);
                return Err(StoreError::io(&path, e));
            }
            written = end;
        }
        Ok(())
    })();
    let mut p = lock(&shared.pending);
    if written > 0 {
        let last = &frames[written - 1];
        p.durable = (last.sequence, last.hash.clone());
    }
    match result {
        Ok(()) => {
            p.failure = None;
            Ok(())
        }
        Err(e) => {
            let mut again: Vec<Queued> = frames.into_iter().skip(written).collect();
            again.append(&mut p.frames);
            p.frames = again;
            p.failure = Some(e.to_string());
            Err(e)
        }
    }
}

fn fail(shared: &Shared, e: StoreError) -> StoreError {
    lock(&shared.pending).failure = Some(e.to_string());
    e
}
