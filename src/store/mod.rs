//! The encrypted local store, and [`Vault`]: the owner of an engine that
//! persists it after every change. Every front end goes through a vault:
//! apply an operation → persist → acknowledge.
//!
//! Layout on disk, for a store at `store.byok`:
//! - `store.byok` — header + AES-256-GCM of the state ([`format`]);
//! - `store.byok.bak` — the previous generation;
//! - `store.byok.lock` — held with an exclusive OS lock while open; holds the pid;
//! - `store.byok.audit/segment-NNNNNNNN.log` — the audit journal ([`journal`]).

pub mod clock;
pub mod env;
pub mod files;
pub mod format;
pub mod integrity;
pub mod journal;
pub mod keypool;

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
/// followed by the sections.
#[derive(Serialize, Deserialize)]
struct StoreBody {
    kms: KmsState,
    journal: JournalKeys,
    settings: StoreSettings,
    api: ApiCredentials,
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

/// `store.byok.audit`: the folder of the store's audit journal.
pub fn audit_dir_of(path: &Path) -> PathBuf {
    audit_dir(path)
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

/// The exclusive lock on a store, held while it is open.
struct StoreLock {
    file: File,
}

impl StoreLock {
    fn acquire(path: &Path) -> Result<StoreLock, StoreError> {
        let lp = lock_path(path);
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
        Ok(StoreLock { file })
    }
}

impl Drop for StoreLock {
    fn drop(&mut self) {
        let _ = self.file.set_len(0);
        let _ = self.file.unlock();
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
    _lock: StoreLock,
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
    let plain = format::open(&key, &header, &bytes).ok_or_else(|| unreadable(path))?;
    let (body, rest): (StoreBody, _) =
        postcard::take_from_bytes(&plain).map_err(|_| unreadable(path))?;
    let sections = match header.version {
        1 if rest.is_empty() => Sections::default(),
        1 => return Err(unreadable(path)),
        _ => postcard::from_bytes(rest).map_err(|_| unreadable(path))?,
    };
    Ok((body, sections, header, key))
}

fn read_store_file(path: &Path) -> Result<(Vec<u8>, Header), StoreError> {
    let bytes = match fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(StoreError::Missing(path.to_path_buf()));
        }
        Err(e) => return Err(StoreError::io(path, e)),
    };
    let header = Header::parse(&bytes).map_err(|e| match e {
        HeaderError::NotAStore => StoreError::NotAStore(path.to_path_buf()),
        HeaderError::TooNew(version) => StoreError::TooNew {
            path: path.to_path_buf(),
            version,
        },
        HeaderError::Damaged => unreadable(path),
    })?;
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
        fs::create_dir_all(parent_dir(path)).map_err(|e| StoreError::io(&parent_dir(path), e))?;
        let lock = StoreLock::acquire(path)?;
        if path.exists() {
            return Err(StoreError::Exists(path.to_path_buf()));
        }
        options
            .settings
            .validate()
            .map_err(|e| StoreError::Other(e.message().to_string()))?;
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
            _lock: lock,
            notes: Vec::new(),
        };
        vault.save_state(false)?;
        Ok(vault)
    }

    /// Opens the store at `path`. A wrong passphrase or a damaged file gives
    /// [`StoreError::Unreadable`] and leaves every file as it was. Events that
    /// fell due while the store was closed are applied, each at its own time.
    pub fn open(
        path: &Path,
        passphrase: &SecretString,
        options: VaultOptions,
    ) -> Result<Vault, StoreError> {
        let lock = StoreLock::acquire(path)?;
        let (body, sections, header, key) = read_body(path, passphrase)?;
        let checkpoint = Checkpoint::from_section(sections.0.get(CHECKPOINT_SECTION));
        let (journal, head, _) = Journal::open(
            journal_config(path, &body.settings),
            body.journal.clone(),
            checkpoint.as_ref(),
        )?;
        let notes = journal.notes.clone();
        let mut kms = Kms::from_state(
            body.kms,
            options.clock,
            options.wrapping_keys,
            Kms::os_rng(),
        );
        kms.set_chain_head(head);
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
            _lock: lock,
            notes,
        };
        vault.tick()?;
        Ok(vault)
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
        let (body, _, _, _) = read_body(path, passphrase)?;
        let region = body.kms.settings.region.clone();
        Ok((body.api, region))
    }

    /// The engine, for reading.
    pub fn kms(&self) -> &Kms {
        &self.kms
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
            self.kms.set_chain_head(head);
            if changed && self.saved_generation != u64::MAX {
                if let Ok(state) = self.saved_kms_state() {
                    self.kms.restore_state(state, self.saved_generation);
                }
                if on_disk {
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
            }
            return Err(e);
        }
        Ok(())
    }

    /// The engine state of the state file on disk (the last saved one).
    fn saved_kms_state(&self) -> Result<KmsState, StoreError> {
        let (bytes, header) = read_store_file(&self.path)?;
        let plain =
            format::open(&self.key, &header, &bytes).ok_or_else(|| unreadable(&self.path))?;
        let (body, _): (StoreBody, _) =
            postcard::take_from_bytes(&plain).map_err(|_| unreadable(&self.path))?;
        Ok(body.kms)
    }

    /// Saves the state when the journal has records the state file's
    /// checkpoint does not vouch for yet (at close: so that a closed store
    /// proves its whole trail).
    fn checkpoint_journal(&mut self) -> Result<(), StoreError> {
        self.journal.flush()?;
        let now = self.journal.checkpoint();
        let behind = self.saved_checkpoint.as_ref().is_none_or(|c| {
            c.sequence != now.sequence
                || c.oldest_segment != now.oldest_segment
                || c.acknowledged != self.journal_problems
        });
        if behind {
            self.save_state(false)?;
        }
        Ok(())
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
        let (body, sections, _, _) = read_body(path, passphrase)?;
        let checkpoint = Checkpoint::from_section(sections.0.get(CHECKPOINT_SECTION));
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
        self.journal.flush()?;
        let cut = self.journal.retention_cut();
        if let Some(cut) = cut {
            self.journal.retire_before(cut);
        }
        let mut checkpoint = self.journal.checkpoint();
        checkpoint.acknowledged = self.journal_problems.clone();
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
        self.kms.set_settings(engine)?;
        self.settings = store;
        self.save_state(true)?;
        Ok(())
    }

    /// What the store keeps beside the engine.
    pub fn sections(&self) -> &Sections {
        &self.sections
    }

    /// Replaces section `name` (`None` removes it) and saves. Nothing is
    /// changed in memory when the save fails.
    pub fn set_section(&mut self, name: &str, bytes: Option<Vec<u8>>) -> Result<(), StoreError> {
        let previous = match bytes {
            Some(b) => self.sections.0.insert(name.to_string(), b),
            None => self.sections.0.remove(name),
        };
        if let Err(e) = self.save_state(true) {
            match previous {
                Some(p) => self.sections.0.insert(name.to_string(), p),
                None => self.sections.0.remove(name),
            };
            return Err(e);
        }
        Ok(())
    }

    /// The endpoint's credentials.
    pub fn api_credentials(&self) -> &ApiCredentials {
        &self.api
    }

    /// Replaces the endpoint's credentials with new random ones, and saves.
    pub fn rotate_api_credentials(&mut self) -> Result<&ApiCredentials, StoreError> {
        self.api = ApiCredentials::generate();
        self.save_state(true)?;
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
        let mut salt = [0u8; 16];
        rand::rng().fill_bytes(&mut salt);
        let kdf = kdf.unwrap_or(self.header.kdf);
        let key =
            format::derive_key(new.expose_secret().as_bytes(), &salt, kdf).ok_or_else(|| {
                StoreError::Other("the key derivation parameters are not usable".into())
            })?;
        let (old_header, old_key) = (self.header, self.key.clone());
        self.header.salt = salt;
        self.header.kdf = kdf;
        self.key = key;
        if let Err(e) = self.save_state(true) {
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
