//! The encrypted local store, and [`Vault`]: the owner of an engine that
//! persists it after every change. Every front end goes through a vault:
//! apply an operation → persist → acknowledge.
//!
//! Layout on disk, for a store at `store.byok`:
//! - `store.byok` — header + AES-256-GCM of the state ([`format`]);
//! - `store.byok.bak` — the previous generation;
//! - `store.byok.lock` — holds the pid of the process that has the store open;
//! - `store.byok.audit/segment-NNNNNNNN.log` — the audit journal ([`journal`]);
//!   the folder is held with an exclusive OS lock while the store is open
//!   for writing (see `StoreLock`).
//!
//! A store path that is a symbolic link is resolved once, when the store is
//! opened or created: the vault reads and writes the link's target, and the
//! siblings above lie beside the target (a rename over the link would
//! replace the link and leave the real store unchanged).

pub mod clock;
pub mod env;
pub mod files;
pub mod format;
pub mod integrity;
pub mod journal;
pub mod keypool;
pub mod process;

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rand::Rng;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::api::{self, ApiError, Body};
use crate::kms::{
    AuditRecord, Caller, Clock, Kms, KmsError, KmsResult, KmsState, SecretArray, SecretVec,
    Settings, Timestamp, WrappingKeySource,
};
use format::{FORMAT_VERSION, Header, HeaderError, KdfParams};
use integrity::{CHECKPOINT_SECTION, Checkpoint, JournalReport, Problem};
use journal::{Journal, JournalConfig, JournalKeys};

/// What can go wrong with a store file.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Wrong passphrase, or the file is damaged: indistinguishable on purpose.
    #[error("wrong passphrase, or the store is damaged: {}{}", path.display(), backup_hint(backup))]
    Unreadable {
        /// The file that could not be opened.
        path: PathBuf,
        /// The previous generation, if there is one to try.
        backup: Option<PathBuf>,
    },
    /// The file is not a byok store.
    #[error("{} is not a byok store", .0.display())]
    NotAStore(PathBuf),
    /// Written by a newer version of byok.
    #[error("{} was written by a newer byok (store format {version}); this build reads formats up to {FORMAT_VERSION}", path.display())]
    TooNew {
        /// The file.
        path: PathBuf,
        /// Its format version.
        version: u16,
    },
    /// Another process has the store open.
    #[error("store is in use by another byok process{}", pid.map(|p| format!(" (pid {p})")).unwrap_or_default())]
    Locked {
        /// The holder's process id, if it wrote one.
        pid: Option<u32>,
    },
    /// There is no store at the path.
    #[error("there is no store at {}", .0.display())]
    Missing(PathBuf),
    /// Something other than a regular file is where the store should be.
    #[error("{} is {kind}, not a store file (a store is a regular file)", path.display())]
    NotAFile {
        /// The path.
        path: PathBuf,
        /// What it is ("a named pipe (FIFO)", "a directory", ...).
        kind: &'static str,
    },
    /// The file is larger than any store byok writes.
    #[error("{} is {bytes} bytes, larger than any byok store (at most {} bytes): it is not a store this build can open", path.display(), format::MAX_FILE_BYTES)]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// Its size.
        bytes: u64,
    },
    /// The header asks for more key derivation work than byok accepts.
    #[error("{} asks for Argon2id with memory {} MiB, {} passes and parallelism {}, beyond what byok accepts (at most memory {} MiB, {} passes, parallelism {}, and memory × passes {} MiB); it was refused before deriving", path.display(), kdf.m_cost_kib / 1024, kdf.t_cost, kdf.p_cost, KdfParams::MAX.m_cost_kib / 1024, KdfParams::MAX.t_cost, KdfParams::MAX.p_cost, KdfParams::MAX_WORK_KIB / 1024)]
    KdfTooCostly {
        /// The file (or the store being created).
        path: PathBuf,
        /// What it asks for.
        kdf: KdfParams,
    },
    /// The store is open for reading only; a change was refused.
    #[error("{} is open for reading only ({reason}): the change is refused, and nothing was changed", path.display())]
    ReadOnly {
        /// The state file.
        path: PathBuf,
        /// Why it is read-only.
        reason: String,
    },
    /// The folder whose lock keeps other writers out was removed or replaced
    /// while this process had the store open.
    #[error("the lock on {} no longer guards the store (the folder was removed or replaced while the store was open, so another process may have opened it): the change is not saved; close and reopen the store", .0.display())]
    LockLost(PathBuf),
    /// A store exists already where one was to be created.
    #[error("a store already exists at {}", .0.display())]
    Exists(PathBuf),
    /// A file operation failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// Anything else (the message says what).
    #[error("{0}")]
    Other(String),
}

/// The one refusal of an empty passphrase, for a new store and a new
/// passphrase, wherever it comes from (prompt, `BYOK_PASSPHRASE`, stdin, the
/// console): the check is here, in the store layer.
pub const EMPTY_PASSPHRASE: &str = "the passphrase must not be empty";

fn backup_hint(backup: &Option<PathBuf>) -> String {
    match backup {
        Some(b) => format!(" (the previous generation is kept as {})", b.display()),
        None => String::new(),
    }
}

impl StoreError {
    pub(crate) fn io(path: &Path, source: std::io::Error) -> Self {
        StoreError::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}

/// An operation's failure: the engine refused it, or it could not be persisted.
#[derive(Debug, thiserror::Error)]
pub enum VaultError {
    /// The engine refused the operation (nothing changed).
    #[error(transparent)]
    Kms(#[from] KmsError),
    /// The operation ran but could not be saved; it is not acknowledged.
    #[error("the change could not be saved: {0}")]
    Store(#[from] StoreError),
}

/// Settings that belong to the store rather than the engine.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoreSettings {
    /// Lock the console after this many idle minutes (0: never).
    pub auto_lock_minutes: u32,
    /// Roll the audit journal over beyond this size.
    pub journal_segment_bytes: u64,
    /// Keep this many journal segments (0: all).
    pub journal_retention_segments: u32,
}

impl Default for StoreSettings {
    fn default() -> Self {
        Self {
            auto_lock_minutes: 15,
            journal_segment_bytes: 8 << 20,
            journal_retention_segments: 0,
        }
    }
}

/// What a settings change changes, setting by setting (`{"from", "to"}`),
/// for its audit record. No setting is a secret.
fn settings_changes(
    old_store: &StoreSettings,
    new_store: &StoreSettings,
    old_engine: &Settings,
    new_engine: &Settings,
) -> serde_json::Map<String, serde_json::Value> {
    let mut changes = serde_json::Map::new();
    let mut note = |name: &str, from: serde_json::Value, to: serde_json::Value| {
        if from != to {
            changes.insert(name.into(), serde_json::json!({ "from": from, "to": to }));
        }
    };
    note(
        "region",
        old_engine.region.clone().into(),
        new_engine.region.clone().into(),
    );
    note(
        "accountId",
        old_engine.account_id.clone().into(),
        new_engine.account_id.clone().into(),
    );
    note(
        "rotationDelayMs",
        old_engine.rotation_delay_ms.into(),
        new_engine.rotation_delay_ms.into(),
    );
    note(
        "autoLockMinutes",
        old_store.auto_lock_minutes.into(),
        new_store.auto_lock_minutes.into(),
    );
    note(
        "journalSegmentBytes",
        old_store.journal_segment_bytes.into(),
        new_store.journal_segment_bytes.into(),
    );
    note(
        "journalRetentionSegments",
        old_store.journal_retention_segments.into(),
        new_store.journal_retention_segments.into(),
    );
    changes
}

/// The credentials `byok serve` checks SigV4 signatures against.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ApiCredentials {
    /// The access key id (`BYOK...`).
    pub access_key_id: String,
    /// The secret access key.
    pub secret_access_key: SecretVec,
}

impl ApiCredentials {
    /// New random credentials in the AWS shapes (20 and 40 characters).
    pub fn generate() -> Self {
        const UPPER: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
        const SECRET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let mut rng = rand::rng();
        let mut pick = |alphabet: &[u8], n: usize| -> Vec<u8> {
            (0..n)
                .map(|_| alphabet[(rng.next_u32() as usize) % alphabet.len()])
                .collect()
        };
        let id = String::from_utf8(pick(UPPER, 16)).unwrap_or_default();
        Self {
            access_key_id: format!("BYOK{id}"),
            secret_access_key: SecretVec::new(pick(SECRET, 40)),
        }
    }

    /// The secret as text (it is ASCII by construction).
    pub fn secret_str(&self) -> &str {
        std::str::from_utf8(self.secret_access_key.expose()).unwrap_or("")
    }
}

/// The encrypted body of a store file. Format 1 is these four fields;
/// format 2 appends the [`Sections`]. postcard writes a struct as its
/// fields one after the other, so a format-2 body is a format-1 body
/// followed by the sections. Format 3 is format 2 with keys that carry
/// their `KeySpec` and `KeyUsage` and materials of any length (HMAC keys);
/// formats 1 and 2 are read through [`crate::kms::legacy`].
#[derive(Serialize, Deserialize)]
struct StoreBody {
    kms: KmsState,
    journal: JournalKeys,
    settings: StoreSettings,
    api: ApiCredentials,
}

/// The body of formats 3 and 4 (one region, before multi-Region keys).
#[derive(Deserialize)]
struct StoreBodyV4 {
    kms: crate::kms::legacy::KmsStateV4,
    journal: JournalKeys,
    settings: StoreSettings,
    api: ApiCredentials,
}

impl From<StoreBodyV4> for StoreBody {
    fn from(b: StoreBodyV4) -> StoreBody {
        StoreBody {
            kms: b.kms.into(),
            journal: b.journal,
            settings: b.settings,
            api: b.api,
        }
    }
}

/// The body of formats 1 and 2 (before key specs).
#[derive(Deserialize)]
struct StoreBodyV2 {
    kms: crate::kms::legacy::KmsStateV2,
    journal: JournalKeys,
    settings: StoreSettings,
    api: ApiCredentials,
}

impl From<StoreBodyV2> for StoreBody {
    fn from(b: StoreBodyV2) -> StoreBody {
        StoreBody {
            kms: b.kms.into(),
            journal: b.journal,
            settings: b.settings,
            api: b.api,
        }
    }
}

/// The same, borrowed, for saving without copying the state (format 2).
#[derive(Serialize)]
struct StoreBodyRef<'a> {
    kms: &'a KmsState,
    journal: &'a JournalKeys,
    settings: &'a StoreSettings,
    api: &'a ApiCredentials,
    sections: &'a Sections,
}

/// What a store keeps beside the engine, by name: each section is the
/// owner's own serialisation (the AWS workspace keeps its connection, its
/// cached key list and the import parameters in flight in one). They are
/// inside the encrypted body like everything else.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sections(BTreeMap<String, Vec<u8>>);

/// A record for [`Vault::set_section_audited`]: the event's name
/// (`KeyManagerStep`, ...), the key it concerns, and what it says (never a
/// secret).
#[derive(Clone, Debug, PartialEq)]
pub struct AuditedEvent {
    /// `eventName`.
    pub name: String,
    /// The key ARN, recorded as the record's resource.
    pub key_arn: Option<String>,
    /// `additionalEventData`.
    pub details: serde_json::Value,
}

/// A section may hold secrets (the key manager's escrow): its bytes are
/// wiped when the store lets go of them.
impl Drop for Sections {
    fn drop(&mut self) {
        for bytes in self.0.values_mut() {
            zeroize::Zeroize::zeroize(bytes);
        }
    }
}

impl Sections {
    /// Section `name`, if the store has one.
    pub fn get(&self, name: &str) -> Option<&[u8]> {
        self.0.get(name).map(Vec::as_slice)
    }

    /// The names of the sections present.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.0.keys().map(String::as_str)
    }
}

/// What the engine inside a vault is given.
pub struct VaultOptions {
    /// The engine's clock.
    pub clock: Arc<dyn Clock>,
    /// Where wrapping key pairs come from.
    pub wrapping_keys: Box<dyn WrappingKeySource>,
    /// Key derivation cost for a new store (ignored when opening: the
    /// header's parameters apply).
    pub kdf: KdfParams,
    /// Engine settings for a new store.
    pub settings: Settings,
}

/// Store facts without secrets (`byok store info`).
#[derive(Clone, Debug, Serialize)]
pub struct StoreInfo {
    /// The state file.
    pub path: PathBuf,
    /// Store format version.
    pub format_version: u16,
    /// Argon2id memory (KiB), passes and lanes.
    pub kdf: (u32, u32, u32),
    /// Number of keys.
    pub keys: usize,
    /// Number of aliases.
    pub aliases: usize,
    /// Region and account.
    pub region: String,
    /// The account id.
    pub account_id: String,
    /// Audit journal segments and their total size.
    pub audit_segments: usize,
    /// Total size of the journal in bytes.
    pub audit_bytes: u64,
    /// Size of the state file in bytes.
    pub state_bytes: u64,
}

/// The default store path: `<XDG data dir>/byok/store.byok`.
pub fn default_path() -> Option<PathBuf> {
    directories::BaseDirs::new().map(|d| d.data_dir().join("byok").join("store.byok"))
}

fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    name.push(suffix);
    path.with_file_name(name)
}

/// `store.byok.bak`.
pub fn backup_path(path: &Path) -> PathBuf {
    sibling(path, ".bak")
}

fn lock_path(path: &Path) -> PathBuf {
    sibling(path, ".lock")
}

fn audit_dir(path: &Path) -> PathBuf {
    sibling(path, ".audit")
}

/// The store section of the key policies replaced with PutKeyPolicy
/// (JSON: key to policy document). A key of the store's Region is named by
/// its id, a key of another Region by `<region>/<id>` (a multi-Region set
/// has one id and a policy per Region). Sections written before policies
/// were kept per Region hold bare ids only: those are the store Region's.
const KEY_POLICIES_SECTION: &str = "key-policies";

/// Reads the key policies section; `home` is the store's Region.
fn policies_of(sections: &Sections, home: &str) -> crate::kms::KeyPolicies {
    sections
        .get(KEY_POLICIES_SECTION)
        .and_then(|b| serde_json::from_slice::<BTreeMap<String, String>>(b).ok())
        .unwrap_or_default()
        .into_iter()
        .filter_map(|(name, p)| {
            let (region, id) = name.split_once('/').unwrap_or((home, name.as_str()));
            let id = crate::kms::KeyId::parse(id)?;
            Some(((region.to_string(), id), p))
        })
        .collect()
}

/// Operations that use key material: a store open for reading only refuses
/// them, because their audit records could not be written.
const USES_KEY_MATERIAL: &[&str] = &[
    "Encrypt",
    "Decrypt",
    "ReEncrypt",
    "GenerateDataKey",
    "GenerateDataKeyWithoutPlaintext",
    "GenerateDataKeyPair",
    "GenerateDataKeyPairWithoutPlaintext",
    "GenerateMac",
    "VerifyMac",
    "Sign",
    "Verify",
    "DeriveSharedSecret",
];

/// `store.byok.audit`: the folder of the store's audit journal.
pub fn audit_dir_of(path: &Path) -> PathBuf {
    audit_dir(path)
}

/// Where a store named `path` really is: a symbolic link is followed to its
/// target (so that writes reach the store, not replace the link), made
/// canonical when it exists; any other path is used as given.
fn resolve_store_path(path: &Path) -> Result<PathBuf, StoreError> {
    match fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_symlink() => {}
        // Not a link (or nothing there yet): the path is used as given.
        _ => return Ok(path.to_path_buf()),
    }
    let mut p = path.to_path_buf();
    for _ in 0..40 {
        match fs::symlink_metadata(&p) {
            Ok(m) if m.file_type().is_symlink() => {
                let target = fs::read_link(&p).map_err(|e| StoreError::io(&p, e))?;
                p = parent_dir(&p).join(target);
            }
            Ok(_) => return fs::canonicalize(&p).map_err(|e| StoreError::io(&p, e)),
            // A link to a store still to be created: the store goes where it points.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(p),
            Err(e) => return Err(StoreError::io(&p, e)),
        }
    }
    Err(StoreError::Other(format!(
        "{}: too many levels of symbolic links",
        path.display()
    )))
}

/// What a file is, in words, when it is not a regular file.
fn kind_of(t: fs::FileType) -> Option<&'static str> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if t.is_fifo() {
            return Some("a named pipe (FIFO)");
        }
        if t.is_char_device() {
            return Some("a character device");
        }
        if t.is_block_device() {
            return Some("a block device");
        }
        if t.is_socket() {
            return Some("a socket");
        }
    }
    if t.is_file() {
        None
    } else if t.is_dir() {
        Some("a directory")
    } else {
        Some("not a regular file")
    }
}

/// The metadata of the store file at `path` (already resolved), refusing
/// anything that is not a regular file before it is opened: opening a FIFO
/// waits for a writer, reading a device never ends.
fn regular_file(path: &Path) -> Result<fs::Metadata, StoreError> {
    match fs::metadata(path) {
        Ok(m) => match kind_of(m.file_type()) {
            None => Ok(m),
            Some(kind) => Err(StoreError::NotAFile {
                path: path.to_path_buf(),
                kind,
            }),
        },
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            Err(StoreError::Missing(path.to_path_buf()))
        }
        Err(e) => Err(StoreError::io(path, e)),
    }
}

/// Whether a failure to take the lock means the store cannot be written
/// here at all (a read-only mount, a folder byok may not write in).
fn read_only_reason(e: &StoreError) -> Option<String> {
    let StoreError::Io { path, source } = e else {
        return None;
    };
    match source.kind() {
        std::io::ErrorKind::ReadOnlyFilesystem => Some("it is on a read-only file system".into()),
        std::io::ErrorKind::PermissionDenied => {
            Some(format!("byok may not write {}", path.display()))
        }
        _ => None,
    }
}

fn parent_dir(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// Options for a file only the owner may read (mode 0600 on Unix): the store
/// is encrypted, but there is no reason to let anyone else read it.
pub(crate) fn private_file_options() -> OpenOptions {
    let mut o = OpenOptions::new();
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut o, 0o600);
    o
}

/// The exclusive lock on a store, held while it is open for writing.
///
/// The lock that keeps other writers out is an OS lock (`flock`) on the
/// store's audit journal folder, `store.byok.audit/`, taken through a file
/// descriptor of the folder itself. A lock on a file beside the store is not
/// enough: anyone may delete `store.byok.lock` while its holder runs, and
/// the next process then creates a new one, locks it and writes beside the
/// first, each losing the other's acknowledged changes. The store file is
/// no better: it is replaced by rename at every save, so a lock on it guards
/// a file that is gone after the first save. The journal folder, in
/// contrast, cannot be removed without destroying the store's audit trail.
///
/// `store.byok.lock` remains, locked as well (builds before this one lock
/// only it, and are kept out by it), and holds the pid for the "in use"
/// message; deleting it changes nothing. Should the journal folder be
/// removed or replaced all the same, the holder notices before its next
/// write ([`StoreLock::check`]: the folder it locked must still be the one
/// at the path) and refuses to save rather than write beside another
/// process.
struct StoreLock {
    dir: File,
    dir_path: PathBuf,
    file: File,
}

impl StoreLock {
    fn acquire(path: &Path) -> Result<StoreLock, StoreError> {
        let dp = audit_dir(path);
        match fs::create_dir(&dp) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(StoreError::io(&dp, e)),
        }
        let dir = File::open(&dp).map_err(|e| StoreError::io(&dp, e))?;
        if !dir.metadata().map(|m| m.is_dir()).unwrap_or(false) {
            return Err(StoreError::Other(format!(
                "{} should be the store's audit journal folder, but it is not a folder",
                dp.display()
            )));
        }
        let lp = lock_path(path);
        match dir.try_lock() {
            Ok(()) => {}
            Err(fs::TryLockError::WouldBlock) => {
                return Err(StoreError::Locked {
                    pid: fs::read_to_string(&lp)
                        .ok()
                        .and_then(|t| t.trim().parse().ok()),
                });
            }
            Err(fs::TryLockError::Error(e)) => return Err(StoreError::io(&dp, e)),
        }
        let mut file = private_file_options()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&lp)
            .map_err(|e| StoreError::io(&lp, e))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(fs::TryLockError::WouldBlock) => {
                let mut text = String::new();
                let _ = file.read_to_string(&mut text);
                return Err(StoreError::Locked {
                    pid: text.trim().parse().ok(),
                });
            }
            Err(fs::TryLockError::Error(e)) => return Err(StoreError::io(&lp, e)),
        }
        let pid = std::process::id().to_string();
        file.set_len(0)
            .and_then(|_| file.seek(SeekFrom::Start(0)))
            .and_then(|_| file.write_all(pid.as_bytes()))
            .map_err(|e| StoreError::io(&lp, e))?;
        Ok(StoreLock {
            dir,
            dir_path: dp,
            file,
        })
    }

    /// Whether the folder this lock holds is still the one at its path (one
    /// `stat`, before every write).
    fn check(&self) -> Result<(), StoreError> {
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt;
            let held = self.dir.metadata().map(|m| (m.dev(), m.ino()));
            let there = fs::metadata(&self.dir_path).map(|m| (m.dev(), m.ino()));
            match (held, there) {
                (Ok(a), Ok(b)) if a == b => Ok(()),
                _ => Err(StoreError::LockLost(self.dir_path.clone())),
            }
        }
        #[cfg(not(unix))]
        {
            Ok(())
        }
    }
}

impl Drop for StoreLock {
    fn drop(&mut self) {
        let _ = self.file.set_len(0);
        let _ = self.file.unlock();
        let _ = self.dir.unlock();
    }
}

/// An open store: the engine, its file, its audit journal, and the lock.
pub struct Vault {
    kms: Kms,
    path: PathBuf,
    header: Header,
    key: SecretArray<32>,
    journal_keys: JournalKeys,
    settings: StoreSettings,
    api: ApiCredentials,
    sections: Sections,
    saved_generation: u64,
    /// The checkpoint in the state file on disk.
    saved_checkpoint: Option<Checkpoint>,
    /// Journal damage found at open and recorded in the trail.
    journal_problems: Vec<Problem>,
    // Dropped after the fields above: flushes, then releases the lock.
    journal: Journal,
    /// `None` for a store open for reading only.
    lock: Option<StoreLock>,
    /// Why the store is open for reading only, if it is.
    read_only: Option<String>,
    notes: Vec<String>,
}

impl std::fmt::Debug for Vault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Vault")
            .field("path", &self.path)
            .field("kms", &self.kms)
            .finish_non_exhaustive()
    }
}

/// Reads the whole state file, or says why not.
/// Reads, unlocks and decodes the state file: its body, header and key.
/// Any failure past "the file is there" is the one clear
/// [`StoreError::Unreadable`].
fn read_body(
    path: &Path,
    passphrase: &SecretString,
) -> Result<(StoreBody, Sections, Header, SecretArray<32>), StoreError> {
    let (bytes, header) = read_store_file(path)?;
    let key = format::derive_key(
        passphrase.expose_secret().as_bytes(),
        &header.salt,
        header.kdf,
    )
    .ok_or_else(|| unreadable(path))?;
    let (body, sections) = decode_body(path, &key, &header, &bytes)?;
    Ok((body, sections, header, key))
}

/// Unseals a state file's bytes and decodes its body and sections (format 1
/// has none).
fn decode_body(
    path: &Path,
    key: &SecretArray<32>,
    header: &Header,
    bytes: &[u8],
) -> Result<(StoreBody, Sections), StoreError> {
    let plain = format::open(key, header, bytes).ok_or_else(|| unreadable(path))?;
    let (body, rest): (StoreBody, _) = if header.version <= 2 {
        let (old, rest): (StoreBodyV2, _) =
            postcard::take_from_bytes(&plain).map_err(|_| unreadable(path))?;
        (old.into(), rest)
    } else if header.version <= 4 {
        let (old, rest): (StoreBodyV4, _) =
            postcard::take_from_bytes(&plain).map_err(|_| unreadable(path))?;
        (old.into(), rest)
    } else {
        postcard::take_from_bytes(&plain).map_err(|_| unreadable(path))?
    };
    let sections = match header.version {
        1 if rest.is_empty() => Sections::default(),
        1 => return Err(unreadable(path)),
        _ => postcard::from_bytes(rest).map_err(|_| unreadable(path))?,
    };
    Ok((body, sections))
}

/// The engine over a state read from the file: its chain continuing at
/// `head`, its replaced key policies from their section.
fn restore_engine(
    state: KmsState,
    sections: &Sections,
    mut options: VaultOptions,
    head: crate::kms::ChainHead,
) -> Kms {
    options.wrapping_keys.warm_up();
    let home = state.settings.region.clone();
    let mut kms = Kms::from_state(state, options.clock, options.wrapping_keys, Kms::os_rng());
    kms.set_chain_head(head);
    kms.set_key_policies(policies_of(sections, &home));
    kms
}

/// Reads the store file: the header first (and nothing more when it is not
/// a store, is damaged, too new, too large or asks for too costly a key
/// derivation), then the body. `path` is resolved already; anything but a
/// regular file is refused before it is opened.
fn read_store_file(path: &Path) -> Result<(Vec<u8>, Header), StoreError> {
    regular_file(path)?;
    let mut file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(StoreError::Missing(path.to_path_buf()));
        }
        Err(e) => return Err(StoreError::io(path, e)),
    };
    // The file opened may not be the one looked at (it is replaced by rename).
    let meta = file.metadata().map_err(|e| StoreError::io(path, e))?;
    if let Some(kind) = kind_of(meta.file_type()) {
        return Err(StoreError::NotAFile {
            path: path.to_path_buf(),
            kind,
        });
    }
    let len = meta.len();
    let mut prefix = Vec::with_capacity(format::HEADER_LEN);
    (&mut file)
        .take(format::HEADER_LEN as u64)
        .read_to_end(&mut prefix)
        .map_err(|e| StoreError::io(path, e))?;
    let header = Header::parse_prefix(&prefix, len).map_err(|e| match e {
        HeaderError::NotAStore => StoreError::NotAStore(path.to_path_buf()),
        HeaderError::TooNew(version) => StoreError::TooNew {
            path: path.to_path_buf(),
            version,
        },
        HeaderError::Damaged => unreadable(path),
        HeaderError::TooCostly(kdf) => StoreError::KdfTooCostly {
            path: path.to_path_buf(),
            kdf,
        },
        HeaderError::TooLarge(bytes) => StoreError::TooLarge {
            path: path.to_path_buf(),
            bytes,
        },
    })?;
    // The length is bounded by the header check; read at most a little more
    // than was announced, in case the file grows meanwhile.
    let mut bytes = prefix;
    bytes.reserve_exact((len as usize).saturating_sub(bytes.len()));
    file.take(format::MAX_FILE_BYTES + 1 - bytes.len() as u64)
        .read_to_end(&mut bytes)
        .map_err(|e| StoreError::io(path, e))?;
    if bytes.len() as u64 > format::MAX_FILE_BYTES {
        return Err(StoreError::TooLarge {
            path: path.to_path_buf(),
            bytes: bytes.len() as u64,
        });
    }
    Ok((bytes, header))
}

fn unreadable(path: &Path) -> StoreError {
    let bak = backup_path(path);
    StoreError::Unreadable {
        path: path.to_path_buf(),
        backup: bak.exists().then_some(bak),
    }
}

/// Writes `bytes` to `path` atomically: a temporary file in the same folder,
/// fsync, rename over the old file, fsync of the folder. With `keep_previous`
/// the old file becomes `<path>.bak` first (through a hard link, so that
/// `path` exists at every instant).
fn write_atomically(path: &Path, bytes: &[u8], keep_previous: bool) -> Result<(), StoreError> {
    let dir = parent_dir(path);
    let tmp = sibling(path, ".tmp");
    {
        let mut f = private_file_options()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&tmp)
            .map_err(|e| StoreError::io(&tmp, e))?;
        f.write_all(bytes)
            .and_then(|_| f.sync_all())
            .map_err(|e| StoreError::io(&tmp, e))?;
    }
    if keep_previous && path.exists() {
        let bak = backup_path(path);
        let bak_tmp = sibling(path, ".bak.tmp");
        let _ = fs::remove_file(&bak_tmp);
        if fs::hard_link(path, &bak_tmp).is_err() {
            fs::copy(path, &bak_tmp).map_err(|e| StoreError::io(&bak_tmp, e))?;
        }
        fs::rename(&bak_tmp, &bak).map_err(|e| StoreError::io(&bak, e))?;
    }
    fs::rename(&tmp, path).map_err(|e| StoreError::io(path, e))?;
    File::open(&dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| StoreError::io(&dir, e))
}

impl Vault {
    /// Creates a new store at `path` (the folder is created if needed).
    pub fn create(
        path: &Path,
        passphrase: &SecretString,
        options: VaultOptions,
    ) -> Result<Vault, StoreError> {
        if passphrase.expose_secret().is_empty() {
            return Err(StoreError::Other(EMPTY_PASSPHRASE.into()));
        }
        let path = &resolve_store_path(path)?;
        if !options.kdf.within_limits() {
            return Err(StoreError::KdfTooCostly {
                path: path.to_path_buf(),
                kdf: options.kdf,
            });
        }
        options
            .settings
            .validate()
            .map_err(|e| StoreError::Other(e.message().to_string()))?;
        if let Ok(m) = fs::metadata(path) {
            return Err(match kind_of(m.file_type()) {
                Some(kind) => StoreError::NotAFile {
                    path: path.to_path_buf(),
                    kind,
                },
                None => StoreError::Exists(path.to_path_buf()),
            });
        }
        fs::create_dir_all(parent_dir(path)).map_err(|e| StoreError::io(&parent_dir(path), e))?;
        let lock = StoreLock::acquire(path)?;
        if fs::symlink_metadata(path).is_ok() {
            return Err(StoreError::Exists(path.to_path_buf()));
        }
        let mut salt = [0u8; 16];
        rand::rng().fill_bytes(&mut salt);
        let header = Header {
            version: FORMAT_VERSION,
            kdf: options.kdf,
            salt,
            nonce: [0; 12],
        };
        let key = format::derive_key(passphrase.expose_secret().as_bytes(), &salt, options.kdf)
            .ok_or_else(|| {
                StoreError::Other("the key derivation parameters are not usable".into())
            })?;
        let journal_keys = JournalKeys::generate();
        let settings = StoreSettings::default();
        let (journal, head, _) =
            Journal::open(journal_config(path, &settings), journal_keys.clone(), None)?;
        let mut options = options;
        options.wrapping_keys.warm_up();
        let mut kms = Kms::new(
            options.settings,
            options.clock,
            options.wrapping_keys,
            Kms::os_rng(),
        );
        kms.set_chain_head(head);
        let mut vault = Vault {
            kms,
            path: path.to_path_buf(),
            header,
            key,
            journal_keys,
            settings,
            api: ApiCredentials::generate(),
            sections: Sections::default(),
            saved_generation: u64::MAX,
            saved_checkpoint: None,
            journal_problems: Vec::new(),
            journal,
            lock: Some(lock),
            read_only: None,
            notes: Vec::new(),
        };
        vault.save_state(false)?;
        Ok(vault)
    }

    /// Opens the store at `path`. A wrong passphrase or a damaged file gives
    /// [`StoreError::Unreadable`] and leaves every file as it was. Events that
    /// fell due while the store was closed are applied, each at its own time.
    ///
    /// A store that cannot be written here (a read-only file, a read-only
    /// mount, a folder byok may not write in) is opened for reading only, as
    /// [`Vault::open_read_only`] does, with a note saying so: everything that
    /// only reads works, and a change is refused with
    /// [`StoreError::ReadOnly`].
    pub fn open(
        path: &Path,
        passphrase: &SecretString,
        options: VaultOptions,
    ) -> Result<Vault, StoreError> {
        let path = &resolve_store_path(path)?;
        let meta = regular_file(path)?;
        if meta.permissions().readonly() {
            return Self::open_for_reading(
                path,
                passphrase,
                options,
                "the store file is read-only",
            );
        }
        // Saving creates a temporary file beside the store and renames it.
        if fs::metadata(parent_dir(path)).is_ok_and(|m| m.permissions().readonly()) {
            return Self::open_for_reading(path, passphrase, options, "its folder is read-only");
        }
        let lock = match StoreLock::acquire(path) {
            Ok(lock) => lock,
            Err(e) => match read_only_reason(&e) {
                Some(reason) => {
                    return Self::open_for_reading(path, passphrase, options, &reason);
                }
                None => return Err(e),
            },
        };
        let (body, sections, header, key) = read_body(path, passphrase)?;
        let checkpoint = Checkpoint::from_section(sections.get(CHECKPOINT_SECTION));
        let (journal, head, report) = Journal::open(
            journal_config(path, &body.settings),
            body.journal.clone(),
            checkpoint.as_ref(),
        )?;
        let notes = journal.notes.clone();
        let mut kms = restore_engine(body.kms, &sections, options, head);
        // The history never goes backwards: the clock may not read earlier
        // than the latest record.
        if let Some(t) = report.last_time {
            kms.set_not_before(t);
        }
        // Damage is recorded once, when first found; every open and `audit
        // verify` still report it.
        let acknowledged = checkpoint
            .as_ref()
            .map(|c| c.acknowledged.clone())
            .unwrap_or_default();
        for p in &journal.damage {
            if !acknowledged.iter().any(|a| a.same_as(p)) {
                kms.audit_store_event(
                    "AuditJournalDamaged",
                    serde_json::json!({
                        "segment": p.segment,
                        "offset": p.offset,
                        "detail": p.to_string(),
                        "missingFrom": p.missing.map(|m| m.0),
                        "missingTo": p.missing.map(|m| m.1),
                    }),
                );
            }
        }
        let journal_problems = journal.damage.clone();
        let mut vault = Vault {
            saved_generation: kms.generation(),
            kms,
            path: path.to_path_buf(),
            header,
            key,
            journal_keys: body.journal,
            settings: body.settings,
            api: body.api,
            sections,
            saved_checkpoint: checkpoint,
            journal_problems,
            journal,
            lock: Some(lock),
            read_only: None,
            notes,
        };
        vault.tick()?;
        Ok(vault)
    }

    /// [`Vault::open_read_only`], with a note saying why the store could not
    /// be opened for writing.
    fn open_for_reading(
        path: &Path,
        passphrase: &SecretString,
        options: VaultOptions,
        reason: &str,
    ) -> Result<Vault, StoreError> {
        let mut vault = Self::open_read_only_because(path, passphrase, options, reason)?;
        vault.notes.push(format!(
            "{} is open for reading only ({reason}): changes are refused, and calls made now are not added to its audit trail",
            path.display()
        ));
        Ok(vault)
    }

    /// Opens the store for reading only, without taking the store's lock and
    /// without changing any file, so that reading works while an endpoint or
    /// the console has the store open (`byok audit export`, `byok store
    /// info`) and on a read-only mount. The state file is only ever replaced
    /// whole (by rename), so this reads one complete generation; audit
    /// records still queued by the writer (at most
    /// [`journal::FLUSH_INTERVAL`] behind) are not seen. Events that fell due
    /// are applied in memory. Operations that change nothing work (their
    /// audit records are not kept: the journal is not written); a change is
    /// refused with [`StoreError::ReadOnly`] and undone in memory.
    pub fn open_read_only(
        path: &Path,
        passphrase: &SecretString,
        options: VaultOptions,
    ) -> Result<Vault, StoreError> {
        Self::open_read_only_because(path, passphrase, options, "opened for reading")
    }

    fn open_read_only_because(
        path: &Path,
        passphrase: &SecretString,
        options: VaultOptions,
        reason: &str,
    ) -> Result<Vault, StoreError> {
        let path = &resolve_store_path(path)?;
        let (body, sections, header, key) = read_body(path, passphrase)?;
        let checkpoint = Checkpoint::from_section(sections.get(CHECKPOINT_SECTION));
        let (journal, head, _) = Journal::open_read_only(
            journal_config(path, &body.settings),
            body.journal.clone(),
            checkpoint.as_ref(),
        )?;
        let notes = journal.notes.clone();
        let kms = restore_engine(body.kms, &sections, options, head);
        let mut vault = Vault {
            saved_generation: kms.generation(),
            kms,
            path: path.to_path_buf(),
            header,
            key,
            journal_keys: body.journal,
            settings: body.settings,
            api: body.api,
            sections,
            saved_checkpoint: checkpoint,
            journal_problems: Vec::new(),
            journal,
            lock: None,
            read_only: Some(reason.to_string()),
            notes,
        };
        vault.tick()?;
        Ok(vault)
    }

    /// Why the store is open for reading only (`None`: it is open for writing).
    pub fn read_only(&self) -> Option<&str> {
        self.read_only.as_deref()
    }

    /// The refusal of a change to a store open for reading only.
    fn refuse_change(&self) -> Result<(), StoreError> {
        match &self.read_only {
            Some(reason) => Err(StoreError::ReadOnly {
                path: self.path.clone(),
                reason: reason.clone(),
            }),
            None => Ok(()),
        }
    }

    /// Runs `f` on the engine of a store open for reading only: due events
    /// are applied first (they are time passing, not changes), then `f`; if
    /// `f` changed the state, the change is undone and refused.
    fn read_only_run<T>(&mut self, f: impl FnOnce(&mut Kms) -> T) -> Result<T, StoreError> {
        self.tick()?;
        let before = (self.kms.state().clone(), self.kms.chain_head().clone());
        let policies = self.kms.key_policies().clone();
        let result = f(&mut self.kms);
        if self.kms.generation() != self.saved_generation {
            self.kms.restore(before.0, before.1);
            self.kms.set_key_policies(policies);
            self.saved_generation = self.kms.generation();
            self.refuse_change()?;
        }
        // A read of the store may go unrecorded; a use of key material may
        // not: it is refused, since its record could not be written.
        let records = self.kms.take_audit_records();
        if let Some(r) = records
            .iter()
            .find(|r| !r.is_error() && USES_KEY_MATERIAL.contains(&r.event_name.as_str()))
        {
            drop(result);
            return Err(StoreError::ReadOnly {
                path: self.path.clone(),
                reason: format!(
                    "{}; {} uses key material and its audit record could not be written",
                    self.read_only.as_deref().unwrap_or("read only"),
                    r.event_name
                ),
            });
        }
        Ok(result)
    }

    /// The endpoint's credentials and the store's region, read from the
    /// state file without taking the store's lock or changing any file, so
    /// that `byok serve --show-credentials` works while an endpoint or the
    /// console has the store open. The state file is only ever replaced
    /// whole (by rename), so this reads one complete generation.
    pub fn read_api_credentials(
        path: &Path,
        passphrase: &SecretString,
    ) -> Result<(ApiCredentials, String), StoreError> {
        let (body, _, _, _) = read_body(&resolve_store_path(path)?, passphrase)?;
        let region = body.kms.settings.region.clone();
        Ok((body.api, region))
    }

    /// The engine, for reading.
    pub fn kms(&self) -> &Kms {
        &self.kms
    }

    /// Reads the engine as `region` sees it (that region's keys and
    /// aliases): no call, no change, no audit record; the engine is as it
    /// was afterwards.
    pub fn read_in_region<T>(&mut self, region: &str, f: impl FnOnce(&Kms) -> T) -> T {
        self.kms.in_region(Some(region), |kms| f(kms))
    }

    /// The state file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// What opening noticed (a torn audit record dropped, damage set aside).
    pub fn notes(&self) -> &[String] {
        &self.notes
    }

    /// Runs `f` on the engine, then persists: audit records are queued (and
    /// flushed with the state when it changed), the state is saved when it
    /// changed. Returns only after the change is durable.
    pub fn apply<T>(&mut self, f: impl FnOnce(&mut Kms) -> KmsResult<T>) -> Result<T, VaultError> {
        if self.read_only.is_some() {
            return Ok(self.read_only_run(f)??);
        }
        let result = f(&mut self.kms);
        self.persist()?;
        Ok(result?)
    }

    /// Runs an AWS operation by name on the request JSON (the CLI and the
    /// endpoint), persisting before returning. A failure to persist is a
    /// `KMSInternalException` (HTTP 500): the call is not acknowledged.
    pub fn call(
        &mut self,
        caller: &Caller,
        operation: &str,
        body: &[u8],
    ) -> Result<Body, ApiError> {
        if self.read_only.is_some() {
            return self
                .read_only_run(|kms| api::dispatch(kms, caller, operation, body))
                .map_err(|e| {
                    ApiError::new(
                        "KMSInternalException",
                        format!("the change could not be saved: {e}"),
                        500,
                    )
                })?;
        }
        let result = api::dispatch(&mut self.kms, caller, operation, body);
        if let Err(e) = self.persist() {
            return Err(ApiError::new(
                "KMSInternalException",
                format!("the change could not be saved: {e}"),
                500,
            ));
        }
        result
    }

    /// Applies the time-driven events that are due, and persists them.
    pub fn tick(&mut self) -> Result<bool, StoreError> {
        let changed = self.kms.tick();
        if self.read_only.is_some() {
            // Time passing, seen in memory; the writer applies the same
            // events, each at its own time, when it next opens the store.
            let _ = self.kms.take_audit_records();
            self.saved_generation = self.kms.generation();
            return Ok(changed);
        }
        self.persist()?;
        Ok(changed)
    }

    /// When the engine's next time-driven event falls due.
    pub fn next_event_time(&mut self) -> Option<Timestamp> {
        self.kms.next_event_time()
    }

    /// Queues the engine's audit records; if the state changed, flushes them
    /// and saves the state (with the journal's checkpoint). Also saves when
    /// the retention setting retires a segment.
    pub fn persist(&mut self) -> Result<(), StoreError> {
        if self.read_only.is_some() {
            if self.kms.generation() != self.saved_generation {
                return self.refuse_change();
            }
            let _ = self.kms.take_audit_records();
            return Ok(());
        }
        if !self.kms.has_audit_records() && self.kms.generation() == self.saved_generation {
            return Ok(());
        }
        if let Some(lock) = &self.lock {
            lock.check()?;
        }
        let before = self.journal.checkpoint().sequence;
        let records = self.kms.take_audit_records();
        let changed = self.kms.generation() != self.saved_generation;
        let result = self.journal.append(&records).and_then(|()| {
            if changed {
                // Write-ahead: the records of a change are durable before
                // the change (save_state flushes the journal first).
                self.save_state(true)
            } else if self.journal.retention_cut().is_some() {
                self.save_state(false)
            } else {
                Ok(())
            }
        });
        if let Err(e) = result {
            // Nothing is acknowledged that is not durable: a change that
            // could not be saved is undone, and its queued records dropped
            // (the chain links on from the last record kept).
            let head = self.journal.discard_after(before);
            let on_disk = head.sequence > before;
            if changed
                && self.saved_generation != u64::MAX
                && let Ok((state, sections)) = self.saved_kms_state()
            {
                self.kms.restore(state, head);
                let home = self.kms.settings().region.clone();
                self.kms.set_key_policies(policies_of(&sections, &home));
                self.sections = sections;
                self.saved_generation = self.kms.generation();
            } else {
                self.kms.set_chain_head(head);
            }
            if changed && on_disk {
                // Its records reached the journal before the state file
                // failed: say that the change they describe was undone.
                self.kms.audit_store_event(
                    "ChangeNotSaved",
                    serde_json::json!({
                        "fromSequence": before + 1,
                        "reason": e.to_string(),
                    }),
                );
            }
            return Err(e);
        }
        Ok(())
    }

    /// Writes the engine's replaced key policies (of keys that still exist)
    /// into their section, or removes it when there are none.
    fn sync_policy_section(&mut self) {
        let home = &self.kms.settings().region;
        let live: BTreeMap<String, &String> = self
            .kms
            .key_policies()
            .iter()
            .filter(|((region, id), _)| {
                self.kms
                    .keys_in(region)
                    .is_some_and(|keys| keys.contains_key(id))
            })
            .map(|((region, id), p)| {
                let name = if region == home {
                    id.to_string()
                } else {
                    format!("{region}/{id}")
                };
                (name, p)
            })
            .collect();
        if live.is_empty() {
            self.sections.0.remove(KEY_POLICIES_SECTION);
        } else if let Ok(bytes) = serde_json::to_vec(&live) {
            self.sections
                .0
                .insert(KEY_POLICIES_SECTION.to_string(), bytes);
        }
    }

    /// The engine state of the state file on disk (the last saved one).
    fn saved_kms_state(&self) -> Result<(KmsState, Sections), StoreError> {
        let (bytes, header) = read_store_file(&self.path)?;
        let (body, sections) = decode_body(&self.path, &self.key, &header, &bytes)?;
        Ok((body.kms, sections))
    }

    /// Saves the state when the journal has records the state file's
    /// checkpoint does not vouch for yet (at close: so that a closed store
    /// proves its whole trail).
    fn checkpoint_journal(&mut self) -> Result<(), StoreError> {
        if self.read_only.is_some() {
            return Ok(());
        }
        self.journal.flush()?;
        if self.saved_checkpoint.as_ref() != Some(&self.current_checkpoint()) {
            self.save_state(false)?;
        }
        Ok(())
    }

    /// What the state file may vouch for now about the journal (after a
    /// flush): its last record, oldest required segment, known damage.
    fn current_checkpoint(&self) -> Checkpoint {
        Checkpoint {
            acknowledged: self.journal_problems.clone(),
            ..self.journal.checkpoint()
        }
    }

    /// Checks the journal on disk, whole, against the state file's
    /// checkpoint: see [`integrity`].
    pub fn check_journal(&self) -> Result<JournalReport, StoreError> {
        self.journal.check(self.saved_checkpoint.as_ref())
    }

    /// Checks the journal of the store at `path` without opening it for
    /// writing: no lock, no file changed (the state file is only ever
    /// replaced whole, so this reads one complete generation). For `byok
    /// audit verify` while an endpoint or the console has the store open.
    pub fn check_journal_at(
        path: &Path,
        passphrase: &SecretString,
    ) -> Result<JournalReport, StoreError> {
        let path = &resolve_store_path(path)?;
        regular_file(path)?;
        let (body, sections, _, _) = read_body(path, passphrase)?;
        let checkpoint = Checkpoint::from_section(sections.get(CHECKPOINT_SECTION));
        integrity::check(&audit_dir(path), &body.journal, checkpoint.as_ref(), false)
    }

    /// The state sealed under the store's key with a fresh nonce, in the
    /// current format: the file's bytes and its header.
    fn sealed(&self) -> Result<(Vec<u8>, Header), StoreError> {
        let body = StoreBodyRef {
            kms: self.kms.state(),
            journal: &self.journal_keys,
            settings: &self.settings,
            api: &self.api,
            sections: &self.sections,
        };
        let size = postcard::experimental::serialized_size(&body)
            .map_err(|e| StoreError::Other(e.to_string()))?;
        let file_size = (format::HEADER_LEN + size + 16) as u64;
        if file_size > format::MAX_FILE_BYTES {
            return Err(StoreError::Other(format!(
                "the store would grow to {file_size} bytes, beyond the {} bytes byok can open again; the change is not saved",
                format::MAX_FILE_BYTES
            )));
        }
        // Exact size and room for the tag: no reallocation leaves copies behind.
        let mut plain = Zeroizing::new(Vec::with_capacity(size + 16));
        plain.resize(size, 0);
        postcard::to_slice(&body, &mut plain).map_err(|e| StoreError::Other(e.to_string()))?;
        let mut header = self.header;
        header.version = FORMAT_VERSION;
        rand::rng().fill_bytes(&mut header.nonce);
        Ok((format::seal(&self.key, &header, plain), header))
    }

    /// Writes the state file with a checkpoint of the journal: every record
    /// up to it is on disk first (write-ahead), and segments the retention
    /// setting retires are deleted only once the new checkpoint no longer
    /// requires them.
    fn save_state(&mut self, keep_previous: bool) -> Result<(), StoreError> {
        self.refuse_change()?;
        if let Some(lock) = &self.lock {
            lock.check()?;
        }
        self.journal.flush()?;
        let cut = self.journal.retention_cut();
        if let Some(cut) = cut {
            self.journal.retire_before(cut);
        }
        self.sync_policy_section();
        let checkpoint = self.current_checkpoint();
        self.sections
            .0
            .insert(CHECKPOINT_SECTION.to_string(), checkpoint.to_section());
        let (file, header) = self.sealed()?;
        write_atomically(&self.path, &file, keep_previous)?;
        self.header = header;
        self.saved_generation = self.kms.generation();
        self.saved_checkpoint = Some(checkpoint);
        if cut.is_some() {
            self.journal.delete_retired()?;
        }
        Ok(())
    }

    /// Waits until every queued audit record is on disk.
    pub fn flush_audit(&self) -> Result<(), StoreError> {
        self.journal.flush()
    }

    /// The whole retained audit trail, oldest first.
    pub fn audit_records(&self) -> Result<Vec<AuditRecord>, StoreError> {
        self.journal.read_all()
    }

    /// Store settings.
    pub fn store_settings(&self) -> &StoreSettings {
        &self.settings
    }

    /// Replaces store settings and engine settings, and saves.
    pub fn update_settings(
        &mut self,
        store: StoreSettings,
        engine: Settings,
    ) -> Result<(), VaultError> {
        self.refuse_change()?;
        let changes = settings_changes(&self.settings, &store, self.kms.settings(), &engine);
        self.kms.set_settings(engine)?;
        self.settings = store;
        if changes.is_empty() {
            self.save_state(true)?;
        } else {
            self.save_with_event(
                "StoreSettingsChanged",
                serde_json::json!({ "changes": changes }),
            )?;
        }
        Ok(())
    }

    /// Records a store event (through the engine's audit, so it is chained
    /// like every record) and saves the state, write-ahead as [`persist`]
    /// does: the record is in the journal before the state it describes.
    /// When the save fails the record is withdrawn, or, if it reached the
    /// journal already, followed by `ChangeNotSaved`.
    ///
    /// [`persist`]: Vault::persist
    fn save_with_event(
        &mut self,
        name: &'static str,
        details: serde_json::Value,
    ) -> Result<(), StoreError> {
        self.save_with_records(|kms| kms.audit_store_event(name, details))
    }

    /// [`save_with_event`](Vault::save_with_event) for any records `record`
    /// puts in the engine's outbox.
    fn save_with_records(&mut self, record: impl FnOnce(&mut Kms)) -> Result<(), StoreError> {
        if let Some(lock) = &self.lock {
            lock.check()?;
        }
        let before = self.journal.checkpoint().sequence;
        record(&mut self.kms);
        let records = self.kms.take_audit_records();
        let result = self
            .journal
            .append(&records)
            .and_then(|()| self.save_state(true));
        if let Err(e) = result {
            let head = self.journal.discard_after(before);
            let on_disk = head.sequence > before;
            self.kms.set_chain_head(head);
            if on_disk {
                self.kms.audit_store_event(
                    "ChangeNotSaved",
                    serde_json::json!({
                        "fromSequence": before + 1,
                        "reason": e.to_string(),
                    }),
                );
            }
            return Err(e);
        }
        Ok(())
    }

    /// What the store keeps beside the engine.
    pub fn sections(&self) -> &Sections {
        &self.sections
    }

    /// Replaces section `name` (`None` removes it) and saves. Nothing is
    /// changed in memory when the save fails.
    pub fn set_section(&mut self, name: &str, bytes: Option<Vec<u8>>) -> Result<(), StoreError> {
        self.change_section(name, bytes, |vault| vault.save_state(true))
    }

    /// Replaces section `name` with `bytes` and saves, with `events` (the
    /// key manager's: what it decided or did, made by `caller`) recorded in
    /// the trail ahead of the state they describe, as every change is. When
    /// the save fails nothing is changed in memory, the records are withdrawn
    /// (or followed by `ChangeNotSaved`), and the error is returned.
    pub fn set_section_audited(
        &mut self,
        name: &str,
        bytes: Vec<u8>,
        caller: &Caller,
        events: Vec<AuditedEvent>,
    ) -> Result<(), StoreError> {
        self.change_section(name, Some(bytes), |vault| {
            vault.save_with_records(|kms| {
                for e in events {
                    kms.audit_manager_event(caller, &e.name, e.key_arn.as_deref(), e.details);
                }
            })
        })
    }

    /// Puts `bytes` (`None`: nothing) in section `name` and runs `save`;
    /// when it fails, the previous section is put back. The bytes let go
    /// of, either way, are wiped (a section may hold secrets).
    fn change_section(
        &mut self,
        name: &str,
        bytes: Option<Vec<u8>>,
        save: impl FnOnce(&mut Vault) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        self.refuse_change()?;
        let put = |sections: &mut Sections, bytes: Option<Vec<u8>>| match bytes {
            Some(b) => sections.0.insert(name.to_string(), b),
            None => sections.0.remove(name),
        };
        let previous = put(&mut self.sections, bytes);
        let result = save(self);
        let mut dropped = if result.is_err() {
            put(&mut self.sections, previous)
        } else {
            previous
        };
        if let Some(bytes) = dropped.as_mut() {
            zeroize::Zeroize::zeroize(bytes);
        }
        result
    }

    /// The endpoint's credentials.
    pub fn api_credentials(&self) -> &ApiCredentials {
        &self.api
    }

    /// Replaces the endpoint's credentials with new random ones, and saves.
    pub fn rotate_api_credentials(&mut self) -> Result<&ApiCredentials, StoreError> {
        self.refuse_change()?;
        let previous = std::mem::replace(&mut self.api, ApiCredentials::generate());
        // The access key ids only: an access key id names a credential, the
        // secret never appears in a record.
        let details = serde_json::json!({
            "previousAccessKeyId": previous.access_key_id,
            "accessKeyId": self.api.access_key_id,
        });
        if let Err(e) = self.save_with_event("EndpointCredentialsRotated", details) {
            self.api = previous;
            return Err(e);
        }
        Ok(&self.api)
    }

    /// Re-encrypts the store under a new passphrase (new salt; the journal
    /// key is inside the state, so the journal stays as it is).
    pub fn change_passphrase(
        &mut self,
        new: &SecretString,
        kdf: Option<KdfParams>,
    ) -> Result<(), StoreError> {
        if new.expose_secret().is_empty() {
            return Err(StoreError::Other(EMPTY_PASSPHRASE.into()));
        }
        self.refuse_change()?;
        let mut salt = [0u8; 16];
        rand::rng().fill_bytes(&mut salt);
        let kdf = kdf.unwrap_or(self.header.kdf);
        if !kdf.within_limits() {
            return Err(StoreError::KdfTooCostly {
                path: self.path.clone(),
                kdf,
            });
        }
        let key =
            format::derive_key(new.expose_secret().as_bytes(), &salt, kdf).ok_or_else(|| {
                StoreError::Other("the key derivation parameters are not usable".into())
            })?;
        let (old_header, old_key) = (self.header, self.key.clone());
        self.header.salt = salt;
        self.header.kdf = kdf;
        self.key = key;
        // What changed, never the passphrase or anything derived from it.
        let details = serde_json::json!({
            "kdf": {
                "algorithm": "argon2id",
                "memoryKiB": kdf.m_cost_kib,
                "passes": kdf.t_cost,
                "lanes": kdf.p_cost,
            },
            "previousGenerationResealed": true,
        });
        if let Err(e) = self.save_with_event("StorePassphraseChanged", details) {
            self.header = old_header;
            self.key = old_key;
            return Err(e);
        }
        // The previous generation was sealed under the old passphrase: replace
        // it with the new file, so that the old passphrase opens nothing.
        let current = fs::read(&self.path).map_err(|e| StoreError::io(&self.path, e))?;
        write_atomically(&backup_path(&self.path), &current, false)
    }

    /// Whether `passphrase` opens this store (re-derives the key with the
    /// store's parameters, so it costs what an unlock costs; the comparison
    /// takes the same time whatever the answer). The console asks for the
    /// current passphrase before changing it.
    pub fn check_passphrase(&self, passphrase: &SecretString) -> bool {
        let Some(key) = format::derive_key(
            passphrase.expose_secret().as_bytes(),
            &self.header.salt,
            self.header.kdf,
        ) else {
            return false;
        };
        let diff = key
            .expose()
            .iter()
            .zip(self.key.expose().iter())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b));
        diff == 0
    }

    /// Writes an encrypted copy of the state to `out` (same passphrase).
    pub fn backup_to(&self, out: &Path) -> Result<(), StoreError> {
        let (file, _) = self.sealed()?;
        if let Some(dir) = out.parent().filter(|p| !p.as_os_str().is_empty()) {
            fs::create_dir_all(dir).map_err(|e| StoreError::io(dir, e))?;
        }
        write_atomically(out, &file, false)
    }

    /// Facts about the store, without secrets.
    pub fn info(&self) -> StoreInfo {
        let (audit_segments, audit_bytes) = self.journal.usage();
        let settings = self.kms.settings();
        StoreInfo {
            path: self.path.clone(),
            format_version: self.header.version,
            kdf: (
                self.header.kdf.m_cost_kib,
                self.header.kdf.t_cost,
                self.header.kdf.p_cost,
            ),
            keys: self.kms.state().key_count(),
            aliases: self.kms.aliases().count(),
            region: settings.region.clone(),
            account_id: settings.account_id.clone(),
            audit_segments,
            audit_bytes,
            state_bytes: fs::metadata(&self.path).map(|m| m.len()).unwrap_or(0),
        }
    }
}

impl Drop for Vault {
    /// Best effort: whatever was not persisted yet is persisted now. Call
    /// [`Vault::close`] to see an error.
    fn drop(&mut self) {
        if self.persist().is_ok() {
            let _ = self.checkpoint_journal();
        }
    }
}

impl Vault {
    /// Persists anything outstanding, flushes the journal and releases the lock.
    pub fn close(mut self) -> Result<(), StoreError> {
        self.persist()?;
        self.checkpoint_journal()
    }
}

fn journal_config(path: &Path, settings: &StoreSettings) -> JournalConfig {
    JournalConfig {
        dir: audit_dir(path),
        max_segment_bytes: settings.journal_segment_bytes.max(64 * 1024),
        retention_segments: settings.journal_retention_segments,
    }
}
