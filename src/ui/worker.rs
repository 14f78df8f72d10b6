//! The background worker: one named thread that owns the open store, runs
//! every engine operation, save, key derivation, file read and write, and
//! applies time-driven events (`Vault::tick`) every few hundred
//! milliseconds. The UI thread only sends [`Job`]s and reads
//! [`WorkerEvent`]s; it never locks the vault (a debug assertion checks it).

use std::cell::Cell;
use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use secrecy::SecretString;

use super::config::AppConfig;
use super::view::{SaveStatus, StoreView};
use crate::kms::audit::{ChainError, ChainReport, verify_chain};
use crate::kms::{
    AuditRecord, Caller, CreateKeyRequest, DataKeyLength, DataKeyOutput, DataKeySpec,
    DecryptOutput, DecryptRequest, EncryptOutput, EncryptionContext, ErrorKind,
    ImportKeyMaterialRequest, ImportOutput, ImportParametersOutput, Inspection, KeyId,
    KeyMaterialId, KmsError, Origin, SecretArray, SecretVec, Settings, Tag, WrappingAlgorithm,
    WrappingKeySpec,
};
use crate::store::{StoreError, StoreSettings, Vault, VaultError, VaultOptions};

/// Identifies a submitted job; its result carries the same ticket.
pub type Ticket = u64;

/// An error the console shows inline: plain words first, then the AWS
/// exception name and message when the engine raised it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UiError {
    /// What a security officer reads first.
    pub plain: String,
    /// `KMSInvalidStateException`, ... (engine errors only).
    pub aws_name: Option<String>,
    /// The AWS message, or the details of a file or store error.
    pub message: String,
    /// The engine's error kind, when it is an engine error.
    pub kind: Option<ErrorKind>,
}

impl UiError {
    /// An error that is not the engine's.
    pub fn plain(plain: impl Into<String>, message: impl Into<String>) -> Self {
        UiError {
            plain: plain.into(),
            aws_name: None,
            message: message.into(),
            kind: None,
        }
    }
}

impl From<&KmsError> for UiError {
    fn from(e: &KmsError) -> Self {
        UiError {
            plain: e.kind().plain_words().to_string(),
            aws_name: Some(e.aws_name().to_string()),
            message: e.message().to_string(),
            kind: Some(e.kind()),
        }
    }
}

impl From<KmsError> for UiError {
    fn from(e: KmsError) -> Self {
        UiError::from(&e)
    }
}

impl From<StoreError> for UiError {
    fn from(e: StoreError) -> Self {
        let plain = match &e {
            StoreError::Unreadable { .. } => "Wrong passphrase, or the store file is damaged.",
            StoreError::NotAStore(_) => "This file is not a byok store.",
            StoreError::TooNew { .. } => "This store was written by a newer version of byok.",
            StoreError::Locked { .. } => "Another byok process has this store open.",
            StoreError::Missing(_) => "There is no store at this path.",
            StoreError::Exists(_) => "A store already exists at this path.",
            StoreError::Io { .. } => "A file operation failed.",
            StoreError::Other(_) => "The store could not be used.",
        };
        UiError::plain(plain, e.to_string())
    }
}

impl From<VaultError> for UiError {
    fn from(e: VaultError) -> Self {
        match e {
            VaultError::Kms(k) => k.into(),
            VaultError::Store(s) => {
                let mut u = UiError::from(s);
                u.plain = format!("The change could not be saved. {}", u.plain);
                u
            }
        }
    }
}

/// Where plaintext material for "wrap here" comes from.
#[derive(Debug)]
pub enum MaterialSource {
    /// 32 fresh random bytes (training).
    Generate,
    /// A plaintext `KeyMaterial.bin` the custodian holds.
    PlaintextFile(PathBuf),
}

/// A unit of background work.
#[derive(Debug)]
pub enum Job {
    /// Derive the key and open a store.
    OpenStore {
        /// The state file.
        path: PathBuf,
        /// Its passphrase.
        passphrase: SecretString,
    },
    /// Create a store.
    CreateStore {
        /// Where.
        path: PathBuf,
        /// The new passphrase.
        passphrase: SecretString,
    },
    /// Build and open a training store.
    OpenDemo,
    /// Close (lock) the store.
    CloseStore,
    /// Take over a store opened elsewhere (benchmarks, embedding).
    Adopt(Box<Vault>),
    /// CreateKey.
    CreateKey {
        /// `Description`.
        description: String,
        /// `Origin`.
        origin: Origin,
    },
    /// EnableKey / DisableKey.
    SetEnabled {
        /// The key.
        key: KeyId,
        /// Enable or disable.
        enabled: bool,
    },
    /// ScheduleKeyDeletion.
    ScheduleDeletion {
        /// The key.
        key: KeyId,
        /// `PendingWindowInDays`.
        days: u32,
    },
    /// CancelKeyDeletion.
    CancelDeletion {
        /// The key.
        key: KeyId,
    },
    /// UpdateKeyDescription.
    UpdateDescription {
        /// The key.
        key: KeyId,
        /// The new description.
        description: String,
    },
    /// CreateAlias.
    CreateAlias {
        /// The key.
        key: KeyId,
        /// `alias/...`.
        name: String,
    },
    /// DeleteAlias.
    DeleteAlias {
        /// `alias/...`.
        name: String,
    },
    /// TagResource.
    Tag {
        /// The key.
        key: KeyId,
        /// The tag.
        tag: Tag,
    },
    /// UntagResource.
    Untag {
        /// The key.
        key: KeyId,
        /// The tag key.
        tag_key: String,
    },
    /// GetParametersForImport.
    GetParameters {
        /// The key.
        key: KeyId,
        /// `WrappingAlgorithm`.
        algorithm: WrappingAlgorithm,
        /// `WrappingKeySpec`.
        spec: WrappingKeySpec,
    },
    /// Generate or read plaintext material and wrap it under `public_key`.
    PrepareMaterial {
        /// The key (for the material id it will get).
        key: KeyId,
        /// DER SubjectPublicKeyInfo.
        public_key: Vec<u8>,
        /// How to wrap.
        algorithm: WrappingAlgorithm,
        /// Where the plaintext comes from.
        source: MaterialSource,
    },
    /// Read a file (at most `max_len` bytes).
    ReadFile {
        /// The file.
        path: PathBuf,
        /// Refuse anything longer.
        max_len: u64,
    },
    /// Write a file (atomically enough for the console's exports).
    WriteFile {
        /// The file.
        path: PathBuf,
        /// The contents (zeroized after writing).
        bytes: SecretVec,
    },
    /// ImportKeyMaterial.
    Import(ImportKeyMaterialRequest),
    /// RotateKeyOnDemand.
    Rotate {
        /// The key.
        key: KeyId,
    },
    /// DeleteImportedKeyMaterial.
    DeleteMaterial {
        /// The key.
        key: KeyId,
        /// The material.
        material: KeyMaterialId,
    },
    /// Encrypt.
    Encrypt {
        /// The key.
        key: KeyId,
        /// The plaintext.
        plaintext: SecretVec,
        /// `EncryptionContext`.
        context: EncryptionContext,
    },
    /// Decrypt.
    Decrypt {
        /// The blob.
        blob: Vec<u8>,
        /// `EncryptionContext`.
        context: EncryptionContext,
    },
    /// GenerateDataKey.
    GenerateDataKey {
        /// The key.
        key: KeyId,
        /// `KeySpec`.
        spec: DataKeySpec,
        /// `EncryptionContext`.
        context: EncryptionContext,
    },
    /// The ciphertext inspector.
    Inspect {
        /// The blob.
        blob: Vec<u8>,
    },
    /// Read the audit trail.
    LoadAudit,
    /// Verify the audit chain.
    VerifyChain,
    /// Write `{"Records": [...]}`.
    ExportAudit {
        /// The file.
        path: PathBuf,
        /// The records to write.
        records: Vec<AuditRecord>,
    },
    /// Replace store and engine settings.
    UpdateSettings {
        /// Store settings.
        store: StoreSettings,
        /// Engine settings.
        engine: Settings,
    },
    /// Serve the AWS KMS JSON protocol on the configured address.
    StartServe,
    /// Stop serving.
    StopServe,
    /// The endpoint's credentials as shell variables (for the clipboard).
    ServeCredentials,
    /// Re-encrypt the store under a new passphrase.
    ChangePassphrase {
        /// The current passphrase (checked first).
        current: SecretString,
        /// The new one.
        new: SecretString,
    },
}

impl Job {
    /// Whether the job changes the store (the status bar shows "Saving…").
    pub fn writes_store(&self) -> bool {
        !matches!(
            self,
            Job::ReadFile { .. }
                | Job::WriteFile { .. }
                | Job::Inspect { .. }
                | Job::LoadAudit
                | Job::VerifyChain
                | Job::ExportAudit { .. }
                | Job::PrepareMaterial { .. }
                | Job::StartServe
                | Job::StopServe
                | Job::ServeCredentials
        )
    }
}

/// Plaintext material wrapped for import, with what the custodian checks.
pub struct PreparedMaterial {
    /// The wrapped bytes (`EncryptedKeyMaterial`).
    pub wrapped: Vec<u8>,
    /// The key check value of the plaintext.
    pub kcv: String,
    /// The `KeyMaterialId` it will get in this key.
    pub material_id: KeyMaterialId,
    /// The plaintext (kept only until the wizard closes, to save a copy).
    pub plaintext: SecretArray<32>,
    /// Whether it was generated here.
    pub generated: bool,
}

impl std::fmt::Debug for PreparedMaterial {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PreparedMaterial")
            .field("material_id", &self.material_id)
            .field("kcv", &self.kcv)
            .finish_non_exhaustive()
    }
}

/// What a job produced.
#[derive(Debug)]
pub enum Outcome {
    /// A store is open.
    Opened {
        /// The shared vault (for the endpoint hook; the UI never locks it).
        vault: Arc<Mutex<Vault>>,
        /// Whether it is a training store.
        is_demo: bool,
        /// What opening noticed.
        notes: Vec<String>,
    },
    /// The store is closed.
    Closed,
    /// A key was created.
    KeyCreated(KeyId),
    /// A change was made (the message says which).
    Changed(String),
    /// GetParametersForImport's result.
    Parameters(ImportParametersOutput),
    /// Wrapped material.
    Prepared(Box<PreparedMaterial>),
    /// A file's contents.
    FileRead {
        /// The file.
        path: PathBuf,
        /// Its bytes.
        bytes: SecretVec,
    },
    /// A file was written.
    FileWritten(PathBuf),
    /// ImportKeyMaterial's result.
    Imported(ImportOutput),
    /// RotateKeyOnDemand was accepted.
    RotationStarted(KeyId),
    /// A material was deleted.
    MaterialDeleted {
        /// The key.
        key: KeyId,
        /// The material.
        material: KeyMaterialId,
    },
    /// Encrypt's result.
    Encrypted(EncryptOutput),
    /// Decrypt's result.
    Decrypted(DecryptOutput),
    /// GenerateDataKey's result.
    DataKey(DataKeyOutput),
    /// The inspector's finding (`None`: not a byok ciphertext blob).
    Inspected(Option<Inspection>),
    /// The audit trail.
    Audit(Arc<Vec<AuditRecord>>),
    /// Chain verification.
    Chain(Result<ChainReport, ChainError>),
    /// The trail was exported.
    Exported {
        /// The file.
        path: PathBuf,
        /// Records written.
        count: usize,
    },
    /// Settings were saved.
    SettingsSaved,
    /// The passphrase was changed.
    PassphraseChanged,
    /// The endpoint listens.
    Serving {
        /// `host:port`.
        addr: String,
    },
    /// The endpoint stopped.
    ServeStopped,
    /// `export AWS_ACCESS_KEY_ID=...` lines (the secret included).
    Credentials(zeroize::Zeroizing<String>),
}

/// What the worker reports.
#[derive(Debug)]
pub enum WorkerEvent {
    /// A new picture of the store.
    View(Arc<StoreView>),
    /// A job finished.
    Done {
        /// Its ticket.
        ticket: Ticket,
        /// Its result.
        outcome: Result<Outcome, UiError>,
    },
    /// Requests the endpoint answered so far (sent when it changes).
    ServeStats {
        /// Requests answered.
        requests: u64,
    },
    /// Progress of a long job (building the training store).
    Progress {
        /// Its ticket.
        ticket: Ticket,
        /// 0..1.
        fraction: f32,
        /// What it is doing.
        text: String,
    },
}

struct Envelope {
    ticket: Ticket,
    job: Job,
}

thread_local! {
    static UI_THREAD: Cell<bool> = const { Cell::new(false) };
}

/// Marks the calling thread as the UI thread (done by the app every frame).
pub fn mark_ui_thread() {
    UI_THREAD.with(|f| f.set(true));
}

/// Whether the calling thread is the UI thread.
pub fn on_ui_thread() -> bool {
    UI_THREAD.with(Cell::get)
}

/// Locks the vault. The UI thread must never wait on it: debug builds check.
pub fn lock_vault(vault: &Mutex<Vault>) -> MutexGuard<'_, Vault> {
    debug_assert!(
        !on_ui_thread(),
        "the UI thread must never lock the vault; send a Job to the worker"
    );
    vault.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The UI's handle on the worker.
pub struct Worker {
    jobs: Sender<Envelope>,
    events: Receiver<WorkerEvent>,
    next_ticket: Ticket,
}

impl Worker {
    /// Starts the worker thread (`byok-worker`). `repaint` is called after
    /// every event it sends.
    pub fn start(config: AppConfig, repaint: impl Fn() + Send + 'static) -> Worker {
        let (job_tx, job_rx) = mpsc::channel::<Envelope>();
        let (event_tx, event_rx) = mpsc::channel::<WorkerEvent>();
        let spawned = std::thread::Builder::new()
            .name("byok-worker".into())
            .spawn(move || {
                let mut state = WorkerState {
                    tick_interval: config.tick_interval,
                    config,
                    vault: None,
                    is_demo: false,
                    demo_dir: None,
                    revision: 0,
                    published: None,
                    save: SaveStatus::Saved,
                    audit_cache: None,
                    endpoint: None,
                    served: 0,
                    events: event_tx,
                    repaint: Box::new(repaint),
                };
                state.run(job_rx);
            });
        if let Err(e) = spawned {
            eprintln!("byok: cannot start the worker thread: {e}");
        }
        Worker {
            jobs: job_tx,
            events: event_rx,
            next_ticket: 1,
        }
    }

    /// Queues `job`; its result comes back with the returned ticket.
    pub fn submit(&mut self, job: Job) -> Ticket {
        let ticket = self.next_ticket;
        self.next_ticket += 1;
        if self.jobs.send(Envelope { ticket, job }).is_err() {
            eprintln!("byok: the worker thread has stopped");
        }
        ticket
    }

    /// The events that arrived since the last call (never blocks).
    pub fn poll(&self) -> Vec<WorkerEvent> {
        self.events.try_iter().collect()
    }

    /// Closes the store and waits (at most `timeout`) until it is closed:
    /// for application exit only, when nothing is drawn any more.
    pub fn shutdown(&mut self, timeout: Duration) {
        let ticket = self.submit(Job::CloseStore);
        let deadline = Instant::now() + timeout;
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            match self.events.recv_timeout(left) {
                Ok(WorkerEvent::Done { ticket: t, .. }) if t == ticket => return,
                Ok(_) => {}
                Err(_) => return,
            }
        }
    }
}

struct WorkerState {
    config: AppConfig,
    tick_interval: Duration,
    vault: Option<Arc<Mutex<Vault>>>,
    is_demo: bool,
    demo_dir: Option<PathBuf>,
    revision: u64,
    published: Option<u64>,
    save: SaveStatus,
    audit_cache: Option<(u64, Arc<Vec<AuditRecord>>)>,
    endpoint: Option<crate::serve::Endpoint>,
    served: u64,
    events: Sender<WorkerEvent>,
    repaint: Box<dyn Fn() + Send>,
}

impl WorkerState {
    fn run(&mut self, jobs: Receiver<Envelope>) {
        loop {
            match jobs.recv_timeout(self.tick_interval) {
                Ok(Envelope { ticket, job }) => {
                    let result =
                        std::panic::catch_unwind(AssertUnwindSafe(|| self.run_job(ticket, job)));
                    let outcome = result.unwrap_or_else(|_| {
                        Err(UiError::plain(
                            "byok hit an internal error while doing this; nothing was changed by it.",
                            "a background job panicked",
                        ))
                    });
                    self.send(WorkerEvent::Done { ticket, outcome });
                    self.publish(false);
                }
                Err(RecvTimeoutError::Timeout) => self.tick(),
                Err(RecvTimeoutError::Disconnected) => break,
            }
        }
        self.close();
    }

    fn send(&self, event: WorkerEvent) {
        let _ = self.events.send(event);
        (self.repaint)();
    }

    /// Applies due time-driven events and publishes a view if anything changed
    /// (also changes made by another front end on the same vault).
    fn tick(&mut self) {
        if let Some(endpoint) = &self.endpoint {
            let requests = endpoint.requests_served();
            if requests != self.served {
                self.served = requests;
                self.send(WorkerEvent::ServeStats { requests });
            }
        }
        let Some(vault) = self.vault.clone() else {
            return;
        };
        {
            let mut v = lock_vault(&vault);
            match v.tick() {
                Ok(_) => {
                    if matches!(self.save, SaveStatus::Failed(_)) {
                        self.save = SaveStatus::Saved;
                        self.published = None;
                    }
                }
                Err(e) => {
                    let message = e.to_string();
                    if self.save != SaveStatus::Failed(message.clone()) {
                        self.save = SaveStatus::Failed(message);
                        self.published = None;
                    }
                }
            }
        }
        self.publish(false);
    }

    /// Sends a new view when the engine's generation moved (or `force`).
    fn publish(&mut self, force: bool) {
        let Some(vault) = self.vault.clone() else {
            return;
        };
        let mut v = lock_vault(&vault);
        let generation = v.kms().generation();
        if !force && self.published == Some(generation) {
            return;
        }
        self.revision += 1;
        let view = StoreView::build(&mut v, self.revision, self.is_demo, self.save.clone());
        drop(v);
        self.published = Some(generation);
        self.send(WorkerEvent::View(Arc::new(view)));
    }

    fn close(&mut self) {
        // The endpoint holds the vault too: it stops first (letting requests
        // in flight finish), then the store closes.
        if let Some(endpoint) = self.endpoint.take() {
            endpoint.stop();
        }
        self.served = 0;
        if let Some(vault) = self.vault.take() {
            // The endpoint may still hold a clone; the last holder closes it.
            if let Ok(mutex) = Arc::try_unwrap(vault) {
                let v = mutex.into_inner().unwrap_or_else(PoisonError::into_inner);
                let _ = v.close();
            }
        }
        self.audit_cache = None;
        self.published = None;
        if let Some(dir) = self.demo_dir.take() {
            let _ = std::fs::remove_dir_all(dir);
        }
    }

    fn vault(&self) -> Result<Arc<Mutex<Vault>>, UiError> {
        self.vault
            .clone()
            .ok_or_else(|| UiError::plain("No store is open.", "open or create a store first"))
    }

    /// Runs `f` on the engine through the vault (persisting before it returns).
    fn apply<T>(
        &mut self,
        f: impl FnOnce(&mut crate::kms::Kms, &Caller) -> Result<T, KmsError>,
    ) -> Result<T, UiError> {
        let vault = self.vault()?;
        let mut v = lock_vault(&vault);
        let caller = Caller::console();
        let result = v.apply(|kms| f(kms, &caller));
        match &result {
            Err(VaultError::Store(e)) => self.save = SaveStatus::Failed(e.to_string()),
            _ => {
                if matches!(self.save, SaveStatus::Failed(_)) {
                    self.save = SaveStatus::Saved;
                    self.published = None;
                }
            }
        }
        result.map_err(UiError::from)
    }

    fn options(&self) -> VaultOptions {
        VaultOptions {
            clock: self.config.clock.engine_clock(),
            wrapping_keys: (self.config.wrapping_keys)(),
            kdf: self.config.kdf,
            settings: Settings::default(),
        }
    }

    fn opened(&mut self, vault: Vault, is_demo: bool) -> Outcome {
        let notes = vault.notes().to_vec();
        let vault = Arc::new(Mutex::new(vault));
        self.vault = Some(vault.clone());
        self.is_demo = is_demo;
        self.save = SaveStatus::Saved;
        self.published = None;
        Outcome::Opened {
            vault,
            is_demo,
            notes,
        }
    }

    fn run_job(&mut self, ticket: Ticket, job: Job) -> Result<Outcome, UiError> {
        let key_arg = |k: KeyId| k.to_string();
        match job {
            Job::OpenStore { path, passphrase } => {
                self.close();
                let vault = Vault::open(&path, &passphrase, self.options())?;
                Ok(self.opened(vault, false))
            }
            Job::CreateStore { path, passphrase } => {
                self.close();
                let vault = Vault::create(&path, &passphrase, self.options())?;
                Ok(self.opened(vault, false))
            }
            Job::OpenDemo => {
                self.close();
                super::demo::sweep_stale_demo_dirs(self.config.demo_dir.as_deref());
                let dir = super::demo::demo_dir(self.config.demo_dir.as_deref());
                let events = self.events.clone();
                let repaint = &self.repaint;
                let progress = |fraction: f32, text: &str| {
                    let _ = events.send(WorkerEvent::Progress {
                        ticket,
                        fraction,
                        text: text.to_string(),
                    });
                    repaint();
                };
                let built = super::demo::build(&dir, &self.config, progress);
                match built {
                    Ok(vault) => {
                        let out = self.opened(vault, true);
                        self.demo_dir = Some(dir);
                        Ok(out)
                    }
                    Err(e) => {
                        let _ = std::fs::remove_dir_all(&dir);
                        Err(e)
                    }
                }
            }
            Job::CloseStore => {
                self.close();
                Ok(Outcome::Closed)
            }
            Job::Adopt(vault) => {
                self.close();
                Ok(self.opened(*vault, false))
            }
            Job::CreateKey {
                description,
                origin,
            } => {
                let id = self.apply(|kms, c| {
                    kms.create_key(
                        c,
                        CreateKeyRequest {
                            description: (!description.is_empty()).then_some(description),
                            origin: Some(origin),
                            tags: vec![],
                        },
                    )
                })?;
                Ok(Outcome::KeyCreated(id))
            }
            Job::SetEnabled { key, enabled } => {
                self.apply(|kms, c| {
                    if enabled {
                        kms.enable_key(c, &key_arg(key))
                    } else {
                        kms.disable_key(c, &key_arg(key))
                    }
                })?;
                Ok(Outcome::Changed(
                    if enabled {
                        "Key enabled"
                    } else {
                        "Key disabled"
                    }
                    .into(),
                ))
            }
            Job::ScheduleDeletion { key, days } => {
                let out = self.apply(|kms, c| {
                    kms.schedule_key_deletion(c, &key_arg(key), Some(i64::from(days)))
                })?;
                Ok(Outcome::Changed(format!(
                    "Deletion scheduled for {}",
                    super::format::date_time(out.deletion_date)
                )))
            }
            Job::CancelDeletion { key } => {
                self.apply(|kms, c| kms.cancel_key_deletion(c, &key_arg(key)))?;
                Ok(Outcome::Changed(
                    "Deletion cancelled; the key is disabled".into(),
                ))
            }
            Job::UpdateDescription { key, description } => {
                self.apply(|kms, c| kms.update_key_description(c, &key_arg(key), &description))?;
                Ok(Outcome::Changed("Description saved".into()))
            }
            Job::CreateAlias { key, name } => {
                self.apply(|kms, c| kms.create_alias(c, &name, &key_arg(key)))?;
                Ok(Outcome::Changed(format!("Alias {name} created")))
            }
            Job::DeleteAlias { name } => {
                self.apply(|kms, c| kms.delete_alias(c, &name))?;
                Ok(Outcome::Changed(format!("Alias {name} deleted")))
            }
            Job::Tag { key, tag } => {
                let text = format!("Tag {} set", tag.key);
                self.apply(|kms, c| {
                    kms.tag_resource(c, &key_arg(key), std::slice::from_ref(&tag))
                })?;
                Ok(Outcome::Changed(text))
            }
            Job::Untag { key, tag_key } => {
                let text = format!("Tag {tag_key} removed");
                self.apply(|kms, c| {
                    kms.untag_resource(c, &key_arg(key), std::slice::from_ref(&tag_key))
                })?;
                Ok(Outcome::Changed(text))
            }
            Job::GetParameters {
                key,
                algorithm,
                spec,
            } => {
                let out = self.apply(|kms, c| {
                    kms.get_parameters_for_import(c, &key_arg(key), algorithm, spec)
                })?;
                Ok(Outcome::Parameters(out))
            }
            Job::PrepareMaterial {
                key,
                public_key,
                algorithm,
                source,
            } => prepare_material(key, &public_key, algorithm, source),
            Job::ReadFile { path, max_len } => read_file(&path, max_len),
            Job::WriteFile { path, bytes } => {
                write_file(&path, bytes.expose())?;
                Ok(Outcome::FileWritten(path))
            }
            Job::Import(req) => {
                let out = self.apply(|kms, c| kms.import_key_material(c, &req))?;
                Ok(Outcome::Imported(out))
            }
            Job::Rotate { key } => {
                self.apply(|kms, c| kms.rotate_key_on_demand(c, &key_arg(key)))?;
                Ok(Outcome::RotationStarted(key))
            }
            Job::DeleteMaterial { key, material } => {
                let (key, material) = self.apply(|kms, c| {
                    kms.delete_imported_key_material(c, &key_arg(key), Some(&material.to_string()))
                })?;
                Ok(Outcome::MaterialDeleted { key, material })
            }
            Job::Encrypt {
                key,
                plaintext,
                context,
            } => {
                let out = self
                    .apply(|kms, c| kms.encrypt(c, &key_arg(key), plaintext.expose(), &context))?;
                Ok(Outcome::Encrypted(out))
            }
            Job::Decrypt { blob, context } => {
                let req = DecryptRequest {
                    ciphertext_blob: blob,
                    encryption_context: context,
                    key_id: None,
                };
                let out = self.apply(|kms, c| kms.decrypt(c, &req))?;
                Ok(Outcome::Decrypted(out))
            }
            Job::GenerateDataKey { key, spec, context } => {
                let out = self.apply(|kms, c| {
                    kms.generate_data_key(
                        c,
                        &key_arg(key),
                        Some(DataKeyLength::Spec(spec)),
                        &context,
                        true,
                    )
                })?;
                Ok(Outcome::DataKey(out))
            }
            Job::Inspect { blob } => {
                let vault = self.vault()?;
                let v = lock_vault(&vault);
                Ok(Outcome::Inspected(v.kms().inspect_ciphertext(&blob)))
            }
            Job::LoadAudit => Ok(Outcome::Audit(self.audit()?)),
            Job::VerifyChain => {
                let records = self.audit()?;
                Ok(Outcome::Chain(verify_chain(&records)))
            }
            Job::ExportAudit { path, records } => {
                let count = records.len();
                write_file(&path, &crate::kms::audit::to_cloudtrail_json(&records))?;
                Ok(Outcome::Exported { path, count })
            }
            Job::UpdateSettings { store, engine } => {
                let vault = self.vault()?;
                let mut v = lock_vault(&vault);
                v.update_settings(store, engine)?;
                drop(v);
                self.published = None;
                Ok(Outcome::SettingsSaved)
            }
            Job::StartServe => {
                let vault = self.vault()?;
                if let Some(endpoint) = &self.endpoint {
                    return Ok(Outcome::Serving {
                        addr: endpoint.local_addr().to_string(),
                    });
                }
                let addr = self.config.serve_addr;
                let endpoint = crate::serve::Endpoint::start(vault, addr).map_err(|e| {
                    UiError::plain(
                        "The AWS endpoint could not start: is another program using this port?",
                        format!("{addr}: {e}"),
                    )
                })?;
                let addr = endpoint.local_addr().to_string();
                self.endpoint = Some(endpoint);
                self.served = 0;
                Ok(Outcome::Serving { addr })
            }
            Job::StopServe => {
                if let Some(endpoint) = self.endpoint.take() {
                    endpoint.stop();
                }
                Ok(Outcome::ServeStopped)
            }
            Job::ServeCredentials => {
                let vault = self.vault()?;
                let v = lock_vault(&vault);
                let c = v.api_credentials();
                let region = &v.kms().settings().region;
                Ok(Outcome::Credentials(zeroize::Zeroizing::new(format!(
                    "export AWS_ACCESS_KEY_ID={}\nexport AWS_SECRET_ACCESS_KEY={}\nexport AWS_DEFAULT_REGION={region}\nexport AWS_REGION={region}\n",
                    c.access_key_id,
                    c.secret_str()
                ))))
            }
            Job::ChangePassphrase { current, new } => {
                let vault = self.vault()?;
                let mut v = lock_vault(&vault);
                if !v.check_passphrase(&current) {
                    return Err(UiError::plain(
                        "The current passphrase is not right.",
                        "nothing was changed",
                    ));
                }
                v.change_passphrase(&new, None)?;
                Ok(Outcome::PassphraseChanged)
            }
        }
    }

    /// The retained audit trail, read again only when the chain moved.
    fn audit(&mut self) -> Result<Arc<Vec<AuditRecord>>, UiError> {
        let vault = self.vault()?;
        let v = lock_vault(&vault);
        let head = v.kms().chain_head().sequence;
        if let Some((seq, records)) = &self.audit_cache
            && *seq == head
        {
            return Ok(records.clone());
        }
        v.flush_audit()?;
        let records = Arc::new(v.audit_records()?);
        self.audit_cache = Some((head, records.clone()));
        Ok(records)
    }
}

fn prepare_material(
    key: KeyId,
    public_key: &[u8],
    algorithm: WrappingAlgorithm,
    source: MaterialSource,
) -> Result<Outcome, UiError> {
    let mut rng = rand::rng();
    let (plaintext, generated) = match source {
        MaterialSource::Generate => (SecretArray::<32>::random(&mut rng), true),
        MaterialSource::PlaintextFile(path) => {
            let bytes = match read_file(&path, 64)? {
                Outcome::FileRead { bytes, .. } => bytes,
                _ => {
                    return Err(UiError::plain(
                        "The file could not be read.",
                        path.display().to_string(),
                    ));
                }
            };
            let material = SecretArray::<32>::from_slice(bytes.expose()).ok_or_else(|| {
                UiError::plain(
                    "Key material must be exactly 32 bytes (256 bits).",
                    format!("{} holds {} bytes", path.display(), bytes.len()),
                )
            })?;
            (material, false)
        }
    };
    let wrapped = crate::kms::wrap_material(public_key, algorithm, plaintext.expose(), &mut rng)
        .map_err(|e| UiError::plain("The material could not be wrapped.", e.to_string()))?;
    Ok(Outcome::Prepared(Box::new(PreparedMaterial {
        wrapped,
        kcv: crate::kms::material::key_check_value(plaintext.expose()),
        material_id: crate::kms::material::key_material_id(key, plaintext.expose()),
        plaintext,
        generated,
    })))
}

fn read_file(path: &Path, max_len: u64) -> Result<Outcome, UiError> {
    let io = |e: std::io::Error| {
        UiError::plain(
            "The file could not be read.",
            format!("{}: {e}", path.display()),
        )
    };
    let meta = std::fs::metadata(path).map_err(io)?;
    if !meta.is_file() {
        return Err(UiError::plain(
            "This is not a file.",
            path.display().to_string(),
        ));
    }
    if meta.len() > max_len {
        return Err(UiError::plain(
            "The file is larger than this field accepts.",
            format!(
                "{} holds {} bytes; at most {max_len} are accepted",
                path.display(),
                meta.len()
            ),
        ));
    }
    let bytes = std::fs::read(path).map_err(io)?;
    Ok(Outcome::FileRead {
        path: path.to_path_buf(),
        bytes: SecretVec::new(bytes),
    })
}

fn write_file(path: &Path, bytes: &[u8]) -> Result<(), UiError> {
    let io = |e: std::io::Error| {
        UiError::plain(
            "The file could not be written.",
            format!("{}: {e}", path.display()),
        )
    };
    if let Some(dir) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(io)?;
    }
    crate::store::files::write_private(path, bytes).map_err(io)
}

/// A job in flight: when it started, what it is, and the previous result
/// that stays on screen meanwhile.
#[derive(Clone, Debug)]
pub struct Pending<T> {
    /// The job's ticket.
    pub ticket: Ticket,
    /// When it was submitted.
    pub started: Instant,
    /// What is shown until the result arrives.
    pub previous: Option<T>,
}

/// The state of a value a job produces.
#[derive(Clone, Debug, Default)]
pub enum Async<T> {
    /// Nothing asked yet.
    #[default]
    Idle,
    /// Asked; the previous value stays visible.
    Pending(Pending<T>),
    /// Arrived.
    Ready(T),
    /// Failed; shown inline.
    Failed(UiError),
}

impl<T: Clone> Async<T> {
    /// Starts waiting for `ticket`, keeping the current value visible.
    pub fn start(&mut self, ticket: Ticket) {
        let previous = self.value().cloned();
        *self = Async::Pending(Pending {
            ticket,
            started: Instant::now(),
            previous,
        });
    }
}

impl<T> Async<T> {
    /// The value to show: the result, or the previous one while pending.
    pub fn value(&self) -> Option<&T> {
        match self {
            Async::Ready(v) => Some(v),
            Async::Pending(p) => p.previous.as_ref(),
            _ => None,
        }
    }

    /// The ticket being waited for.
    pub fn ticket(&self) -> Option<Ticket> {
        match self {
            Async::Pending(p) => Some(p.ticket),
            _ => None,
        }
    }

    /// Whether a job is in flight.
    pub fn is_pending(&self) -> bool {
        matches!(self, Async::Pending(_))
    }

    /// How long the job has been running.
    pub fn elapsed(&self) -> Option<Duration> {
        match self {
            Async::Pending(p) => Some(p.started.elapsed()),
            _ => None,
        }
    }

    /// The error, if the job failed.
    pub fn error(&self) -> Option<&UiError> {
        match self {
            Async::Failed(e) => Some(e),
            _ => None,
        }
    }

    /// Takes a result if it is for this value's ticket.
    pub fn finish(&mut self, ticket: Ticket, result: Result<T, UiError>) -> bool {
        if self.ticket() != Some(ticket) {
            return false;
        }
        *self = match result {
            Ok(v) => Async::Ready(v),
            Err(e) => Async::Failed(e),
        };
        true
    }
}
