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
//! retention count.

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
use crate::kms::{AuditRecord, ChainHead, SecretArray};

const SEGMENT_MAGIC: &[u8; 8] = b"BYOKJRNL";
const SEGMENT_VERSION: u16 = 1;
/// Bytes before the first frame of a segment.
pub const SEGMENT_HEADER_LEN: u64 = 8 + 2 + 16 + 8;
const MAX_FRAME: usize = 1 << 20;
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

/// Bytes waiting to be written, grouped by the segment they belong to.
struct Pending {
    chunks: Vec<(u64, Vec<u8>)>,
    /// Segment and offset where the next frame will land.
    segment: u64,
    next_offset: u64,
    stop: bool,
    failure: Option<String>,
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
}

/// An open journal with its background flusher.
pub struct Journal {
    shared: Arc<Shared>,
    flusher: Option<JoinHandle<()>>,
    /// What opening found and did (a torn tail dropped, damage kept aside).
    pub notes: Vec<String>,
    /// The damage opening found (also in `notes`), for the audit trail.
    pub damage: Vec<String>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn segment_path(dir: &Path, n: u64) -> PathBuf {
    dir.join(format!("segment-{n:08}.log"))
}

fn segment_numbers(dir: &Path) -> Result<Vec<u64>, StoreError> {
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

fn segment_header(keys: &JournalKeys, n: u64) -> Vec<u8> {
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

/// What reading one segment found.
struct SegmentScan {
    records: Vec<AuditRecord>,
    /// Length of the valid prefix.
    valid_len: u64,
    /// Whether bytes after the valid prefix are only a torn tail.
    torn_tail: bool,
    /// Whether something other than a torn tail is wrong.
    damaged: Option<String>,
}

/// The frame at `offset`, if its length field is plausible and the frame
/// fits in `bytes`: (nonce + ciphertext range, end).
fn frame_at(bytes: &[u8], offset: usize) -> Option<(usize, usize)> {
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
fn open_frame(
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
fn resync(
    cipher: &Aes256Gcm,
    keys: &JournalKeys,
    n: u64,
    bytes: &[u8],
    from: usize,
) -> Option<usize> {
    (from..bytes.len())
        .find(|&y| frame_at(bytes, y).is_some() && open_frame(cipher, keys, n, bytes, y).is_some())
}

/// Reads a segment.
///
/// Opening (`all_records` false) needs only the chain head and the end of the
/// valid data: it walks the frame lengths and authenticates the last frame.
/// If that does not reach the end cleanly, and always when every record is
/// wanted, every frame is authenticated. After a frame that fails, reading
/// resumes at the next genuine frame: what follows a damaged record is kept,
/// and only bytes after the last genuine frame count as a torn tail.
fn scan_segment(keys: &JournalKeys, n: u64, bytes: &[u8], all_records: bool) -> SegmentScan {
    let mut scan = SegmentScan {
        records: Vec::new(),
        valid_len: 0,
        torn_tail: false,
        damaged: None,
    };
    let header = segment_header(keys, n);
    if bytes.len() < header.len() {
        // A crash while creating the segment: nothing in it was acknowledged.
        scan.torn_tail = true;
        return scan;
    }
    if bytes[..header.len()] != header[..] {
        scan.damaged = Some("its header does not belong to this store".into());
        return scan;
    }
    let cipher = Aes256Gcm::new_from_slice(keys.key.expose()).expect("32-byte key");
    let start = header.len();
    scan.valid_len = start as u64;
    if bytes.len() == start {
        return scan;
    }

    if !all_records {
        // Fast path: the lengths lead exactly to the end and the last frame is genuine.
        let mut offset = start;
        let mut last = None;
        while let Some((_, end)) = frame_at(bytes, offset) {
            last = Some(offset);
            offset = end;
        }
        if offset == bytes.len()
            && let Some(at) = last
            && let Some((body, _)) = open_frame(&cipher, keys, n, bytes, at)
            && let Ok(r) = serde_json::from_slice::<AuditRecord>(&body)
        {
            scan.records.push(r);
            scan.valid_len = bytes.len() as u64;
            return scan;
        }
    }

    let mut offset = start;
    let mut last_record: Option<AuditRecord> = None;
    while offset < bytes.len() {
        match open_frame(&cipher, keys, n, bytes, offset) {
            Some((body, end)) => {
                match serde_json::from_slice::<AuditRecord>(&body) {
                    Ok(r) if all_records => scan.records.push(r),
                    Ok(r) => last_record = Some(r),
                    Err(_) => {
                        scan.damaged.get_or_insert_with(|| {
                            format!("the record at offset {offset} is not an audit record")
                        });
                    }
                }
                offset = end;
                if scan.damaged.is_none() {
                    scan.valid_len = end as u64;
                }
            }
            None => match resync(&cipher, keys, n, bytes, offset + 1) {
                // Nothing genuine follows: a write torn by a crash.
                None => {
                    scan.torn_tail = scan.damaged.is_none();
                    break;
                }
                Some(next) => {
                    scan.damaged.get_or_insert_with(|| {
                        format!("the record at offset {offset} fails authentication")
                    });
                    offset = next;
                }
            },
        }
    }
    if !all_records {
        scan.records.extend(last_record);
    }
    scan
}

impl Journal {
    /// Opens (or starts) the journal in `config.dir`: drops a torn record at
    /// the tail, sets damaged segments aside by starting a fresh one, and
    /// returns the journal with the head of the chain it holds.
    pub fn open(
        config: JournalConfig,
        keys: JournalKeys,
    ) -> Result<(Journal, ChainHead), StoreError> {
        Self::open_inner(config, keys, false)
    }

    /// Opens the journal for reading only: nothing on disk is created,
    /// truncated or set aside (a torn tail may be a write in progress by the
    /// process that has the store open), no flusher runs, and
    /// [`Journal::append`] is refused.
    pub fn open_read_only(
        config: JournalConfig,
        keys: JournalKeys,
    ) -> Result<(Journal, ChainHead), StoreError> {
        Self::open_inner(config, keys, true)
    }

    fn open_inner(
        config: JournalConfig,
        keys: JournalKeys,
        read_only: bool,
    ) -> Result<(Journal, ChainHead), StoreError> {
        if !read_only {
            fs::create_dir_all(&config.dir).map_err(|e| StoreError::io(&config.dir, e))?;
        }
        let mut notes = Vec::new();
        let mut damage = Vec::new();
        let numbers = segment_numbers(&config.dir)?;
        let mut head = ChainHead::default();
        let mut segment = numbers.last().copied().unwrap_or(1);
        let mut start_new = numbers.is_empty();
        if let Some(&last) = numbers.last() {
            // The head is the last record of the newest segment that has one.
            for &n in numbers.iter().rev() {
                let path = segment_path(&config.dir, n);
                let bytes = match fs::read(&path) {
                    Ok(b) => b,
                    // Retired by the writer meanwhile (read-only opens only).
                    Err(e) if read_only && e.kind() == std::io::ErrorKind::NotFound => continue,
                    Err(e) => return Err(StoreError::io(&path, e)),
                };
                let scan = scan_segment(&keys, n, &bytes, false);
                if n == last && read_only {
                    if let Some(why) = &scan.damaged {
                        damage.push(format!("segment {n}: {why}"));
                        notes.push(format!(
                            "audit journal segment {} is damaged ({why}); it is left unchanged",
                            path.display()
                        ));
                    }
                } else if n == last {
                    if let Some(why) = &scan.damaged {
                        damage.push(format!("segment {n}: {why}"));
                        notes.push(format!(
                            "audit journal segment {} is damaged ({why}); it is kept unchanged and new records go to a new segment",
                            path.display()
                        ));
                        start_new = true;
                        segment = last + 1;
                    } else if scan.torn_tail {
                        let f = OpenOptions::new()
                            .write(true)
                            .open(&path)
                            .map_err(|e| StoreError::io(&path, e))?;
                        if scan.valid_len < SEGMENT_HEADER_LEN {
                            drop(f);
                            fs::remove_file(&path).map_err(|e| StoreError::io(&path, e))?;
                            start_new = true;
                        } else {
                            f.set_len(scan.valid_len)
                                .map_err(|e| StoreError::io(&path, e))?;
                            f.sync_all().map_err(|e| StoreError::io(&path, e))?;
                        }
                        notes.push(format!(
                            "dropped an incomplete audit record at the end of {} (left by an interrupted write)",
                            path.display()
                        ));
                    }
                }
                if let Some(r) = scan.records.last() {
                    head = ChainHead::after(r);
                    break;
                }
            }
        }
        let next_offset = if start_new || read_only {
            SEGMENT_HEADER_LEN
        } else {
            fs::metadata(segment_path(&config.dir, segment))
                .map(|m| m.len())
                .map_err(|e| StoreError::io(&config.dir, e))?
        };
        let file = if read_only {
            None
        } else {
            Some(Self::open_segment(&config, &keys, segment)?)
        };
        let shared = Arc::new(Shared {
            pending: Mutex::new(Pending {
                chunks: Vec::new(),
                segment,
                next_offset,
                stop: false,
                failure: None,
            }),
            io: Mutex::new(Io { file, segment }),
            wake: Condvar::new(),
            config,
            keys,
        });
        let flusher = if read_only {
            None
        } else {
            let shared = Arc::clone(&shared);
            std::thread::Builder::new()
                .name("byok-audit-flush".into())
                .spawn(move || flusher_loop(&shared))
                .map_err(|e| StoreError::Other(format!("cannot start the audit flusher: {e}")))
                .map(Some)?
        };
        Ok((
            Journal {
                shared,
                flusher,
                notes,
                damage,
            },
            head,
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
        if !exists || file.metadata().map(|m| m.len()).unwrap_or(0) == 0 {
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
        let mut p = lock(&self.shared.pending);
        if let Some(f) = &p.failure {
            return Err(StoreError::Other(f.clone()));
        }
        for r in records {
            let mut body = serde_json::to_vec(r).map_err(|e| StoreError::Other(e.to_string()))?;
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
            let chunk = match p.chunks.last_mut() {
                Some((s, bytes)) if *s == segment => bytes,
                _ => {
                    p.chunks.push((segment, Vec::new()));
                    &mut p.chunks.last_mut().expect("just pushed").1
                }
            };
            chunk.extend_from_slice(&(body.len() as u32).to_be_bytes());
            chunk.extend_from_slice(&nonce);
            chunk.extend_from_slice(&body);
            p.next_offset += frame_len as u64;
        }
        drop(p);
        self.shared.wake.notify_one();
        Ok(())
    }

    /// Writes every queued record and waits until the disk has them.
    pub fn flush(&self) -> Result<(), StoreError> {
        flush_shared(&self.shared)
    }

    /// Every record in every retained segment, oldest first (flushes first).
    pub fn read_all(&self) -> Result<Vec<AuditRecord>, StoreError> {
        self.flush()?;
        let _io = lock(&self.shared.io);
        let dir = &self.shared.config.dir;
        let mut out = Vec::new();
        for n in segment_numbers(dir)? {
            let path = segment_path(dir, n);
            let bytes = match fs::read(&path) {
                Ok(b) => b,
                // Retired by retention since the listing (a reader beside the writer).
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(StoreError::io(&path, e)),
            };
            out.extend(scan_segment(&self.shared.keys, n, &bytes, true).records);
        }
        Ok(out)
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
            let (p, _) = shared
                .wake
                .wait_timeout_while(p, FLUSH_INTERVAL, |p| p.chunks.is_empty() && !p.stop)
                .unwrap_or_else(|e| e.into_inner());
            if p.stop {
                return;
            }
        }
        // Let a burst of appends gather into one write and one fsync.
        std::thread::sleep(Duration::from_millis(20));
        if let Err(e) = flush_shared(shared) {
            lock(&shared.pending).failure = Some(e.to_string());
        }
    }
}

fn flush_shared(shared: &Shared) -> Result<(), StoreError> {
    let mut io = lock(&shared.io);
    let chunks = std::mem::take(&mut lock(&shared.pending).chunks);
    if chunks.is_empty() {
        return Ok(());
    }
    let config = &shared.config;
    let read_only = || StoreError::Other("the audit journal is open for reading only".into());
    for (segment, bytes) in chunks {
        if segment != io.segment {
            io.file
                .as_ref()
                .ok_or_else(read_only)?
                .sync_data()
                .map_err(|e| StoreError::io(&config.dir, e))?;
            io.file = Some(Journal::open_segment(config, &shared.keys, segment)?);
            io.segment = segment;
            retire_old_segments(config)?;
        }
        io.file
            .as_mut()
            .ok_or_else(read_only)?
            .write_all(&bytes)
            .map_err(|e| StoreError::io(&segment_path(&config.dir, segment), e))?;
    }
    io.file
        .as_ref()
        .ok_or_else(read_only)?
        .sync_data()
        .map_err(|e| StoreError::io(&config.dir, e))
}

fn retire_old_segments(config: &JournalConfig) -> Result<(), StoreError> {
    if config.retention_segments == 0 {
        return Ok(());
    }
    let numbers = segment_numbers(&config.dir)?;
    let excess = numbers
        .len()
        .saturating_sub(config.retention_segments as usize);
    for n in &numbers[..excess] {
        let path = segment_path(&config.dir, *n);
        fs::remove_file(&path).map_err(|e| StoreError::io(&path, e))?;
    }
    if excess > 0 {
        sync_dir(&config.dir)?;
    }
    Ok(())
}
