//! The background worker: one named thread that owns the open store and
//! its backend, runs every AWS KMS operation, save, key derivation, file
//! read and write, and applies time-driven events every few hundred
//! milliseconds. Screens submit [`Job`]s through the [`Jobs`] queue they are
//! handed and read [`WorkerEvent`]s; the UI thread never holds the vault or
//! its mutex — no type the UI receives contains it.
//!
//! Every key operation goes through the [`Backend`] interface (the AWS KMS
//! API's own shapes), so the same job works on a local store and on an AWS
//! account.

use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use secrecy::SecretString;

use super::action::Owner;
use super::config::AppConfig;
use super::view::{
    ActionView, ApprovalView, KeyRef, LocalStoreView, ManagerView, PolicyView, RunView, SaveStatus,
    StoreView, ViewParts,
};
use crate::api::op::{self, Operation};
use crate::api::shapes::*;
use crate::api::wire::{Blob, Time};
use crate::aws::AwsConnection;
use crate::backend::{Backend, BackendError, send};
use crate::kms::audit::{ChainError, ChainReport, verify_chain};
use crate::kms::history::{KeyHistory, PresentKey};
use crate::kms::{
    AuditRecord, Caller, DataKeySpec, EncryptionContext, ErrorKind, ExpirationModel, ImportType,
    Inspection, KeyMaterialId, KeySpec, KeyUsage, KmsError, Origin, SecretText, SecretVec,
    Settings, Tag, Timestamp, WrappingAlgorithm, WrappingKeySpec,
};
use crate::manager::{BlastRadius, KeyPolicy, Manager, ManagerError, RunReport, Step};
use crate::store::{StoreError, StoreSettings, Vault, VaultError, VaultOptions};
use crate::workspace::{AWS_SECTION, HistorySource, ImportInFlight, Workspace, WorkspaceError};

/// Identifies a submitted job; its result carries the same ticket.
pub type Ticket = u64;

/// An error the console shows inline: plain words first, then the AWS
/// exception name and message when KMS raised it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UiError {
    /// What a security officer reads first.
    pub plain: String,
    /// `KMSInvalidStateException`, ... (answers from KMS only).
    pub aws_name: Option<String>,
    /// The AWS message, or the details of a file, store or network error.
    pub message: String,
    /// The engine's error kind of the same name, when there is one.
    pub kind: Option<ErrorKind>,
}

impl UiError {
    /// An error that is not KMS's.
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

/// Plain words for an AWS exception the engine never raises.
fn aws_plain_words(name: &str, message: &str) -> String {
    match name {
        "AccessDeniedException" => match crate::backend::missing_action(message) {
            Some(action) => format!(
                "You are not allowed to do this: your IAM identity lacks the permission {action} for this key."
            ),
            None => "You are not allowed to do this: an IAM or key policy denies it.".into(),
        },
        "ThrottlingException" => {
            "AWS is throttling requests and the retries ran out; try again in a moment.".into()
        }
        "ExpiredTokenException" | "UnrecognizedClientException" | "InvalidSignatureException" => {
            "AWS refused the credentials (expired or unknown): sign in again.".into()
        }
        "DryRunOperationException" => "The request would have succeeded (dry run).".into(),
        "KMSInvalidSignatureException" => "The signature is not valid.".into(),
        "DependencyTimeoutException" | "KMSInternalException" => {
            "KMS could not answer in time; try again.".into()
        }
        _ => "KMS refused the request.".into(),
    }
}

impl From<&BackendError> for UiError {
    fn from(e: &BackendError) -> Self {
        match e {
            BackendError::Service(api) => {
                let kind = ErrorKind::from_aws_name(&api.error_type);
                UiError {
                    plain: kind.map_or_else(
                        || aws_plain_words(&api.error_type, &api.message),
                        |k| k.plain_words().to_string(),
                    ),
                    aws_name: Some(api.error_type.clone()),
                    message: api.message.clone(),
                    kind,
                }
            }
            BackendError::Unreachable { endpoint, detail } => UiError::plain(
                "KMS could not be reached: no network, or the endpoint is not answering. Nothing was lost; try again.",
                format!("{endpoint}: {detail}"),
            ),
            BackendError::Credentials {
                profile,
                detail,
                fix,
            } => UiError::plain(
                match fix {
                    Some(fix) => format!("Your AWS sign-in has expired or is missing. Run: {fix}"),
                    None => "No AWS credentials could be found for this connection.".to_string(),
                },
                match profile {
                    Some(p) => format!("profile {p}: {detail}"),
                    None => detail.clone(),
                },
            ),
            BackendError::Response { operation, detail } => UiError::plain(
                "The answer from KMS could not be read.",
                format!("{operation}: {detail}"),
            ),
            BackendError::Configuration { detail } => UiError::plain(
                "The AWS connection is not set up right (profile, region or endpoint).",
                detail.clone(),
            ),
            BackendError::Request { operation, detail } => UiError::plain(
                "byok did not send this request.",
                format!("{operation}: {detail}"),
            ),
        }
    }
}

impl From<BackendError> for UiError {
    fn from(e: BackendError) -> Self {
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
            StoreError::NotAFile { .. } => "This path is not a file, so it cannot be a store.",
            StoreError::TooLarge { .. } => "This file is far too large to be a byok store.",
            StoreError::KdfTooCostly { .. } => {
                "This store asks for more unlocking work than byok allows; it was not unlocked."
            }
            StoreError::ReadOnly { .. } => {
                "This store is open for reading only: the change was refused, and nothing changed."
            }
            StoreError::LockLost(_) => {
                "This store's lock was taken away while it was open; reopen the store."
            }
            StoreError::Io { .. } => "A file operation failed.",
            StoreError::Other(_) => "The store could not be used.",
        };
        UiError::plain(plain, e.to_string())
    }
}

impl From<WorkspaceError> for UiError {
    fn from(e: WorkspaceError) -> Self {
        match e {
            WorkspaceError::Store(e) => e.into(),
            WorkspaceError::Backend(e) => e.into(),
        }
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

impl From<ManagerError> for UiError {
    fn from(e: ManagerError) -> Self {
        match e {
            ManagerError::Store(e) => e.into(),
            ManagerError::Backend(e) => e.into(),
            ManagerError::Refused(why) => {
                UiError::plain(why, "the key manager refused; nothing was changed")
            }
        }
    }
}

/// Which keys the kill switch acts on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KillSelection {
    /// These keys.
    Keys(Vec<KeyRef>),
    /// Every key with this tag.
    Tag {
        /// `TagKey`.
        key: String,
        /// `TagValue`.
        value: String,
    },
}

/// Where plaintext material for "wrap here" comes from.
#[derive(Debug)]
pub enum MaterialSource {
    /// `len` fresh random bytes (training): a length the key's spec takes
    /// (`KeySpec::generated_material_len`).
    Generate {
        /// How many bytes.
        len: usize,
    },
    /// A plaintext `KeyMaterial.bin` the custodian holds.
    PlaintextFile(PathBuf),
}

/// The parameters of an import (GetParametersForImport's answer).
#[derive(Clone, Debug)]
pub struct ImportParameters {
    /// The key they are for.
    pub key: KeyRef,
    /// DER SubjectPublicKeyInfo of the wrapping key.
    pub public_key: Vec<u8>,
    /// The import token.
    pub import_token: Vec<u8>,
    /// When they expire.
    pub parameters_valid_to: Timestamp,
}

/// What ImportKeyMaterial is asked (the wizard keeps it, so a failed
/// import can be sent again unchanged).
#[derive(Clone, Debug)]
pub struct ImportRequest {
    /// The key.
    pub key: KeyRef,
    /// The token.
    pub import_token: Vec<u8>,
    /// The wrapped material.
    pub encrypted_key_material: Vec<u8>,
    /// `ExpirationModel`.
    pub expiration_model: ExpirationModel,
    /// `ValidTo`.
    pub valid_to: Option<Timestamp>,
    /// `ImportType`.
    pub import_type: ImportType,
    /// `KeyMaterialDescription`.
    pub description: Option<String>,
    /// `KeyMaterialId` (EXISTING_KEY_MATERIAL only).
    pub key_material_id: Option<KeyMaterialId>,
    /// The plaintext and where it came from, when it was wrapped here: kept
    /// as the escrow copy when the key's policy has escrow on (issue 12).
    pub custodian_copy: Option<(SecretVec, crate::manager::MaterialOrigin)>,
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
    /// Open (or create) an AWS store: the file that keeps the connection,
    /// the trail of what byok asked AWS and the cached key list.
    ConnectAws {
        /// The store file.
        path: PathBuf,
        /// Its passphrase.
        passphrase: SecretString,
        /// The account, profile, regions, endpoint.
        connection: AwsConnection,
        /// Create the file (else open it).
        create: bool,
    },
    /// Close (lock) the store.
    CloseStore,
    /// Take over a store opened elsewhere (benchmarks, embedding).
    Adopt(Box<Vault>),
    /// Which keys are on screen (an AWS account describes only those).
    Watch {
        /// The rows visible in the key list.
        visible: Vec<KeyRef>,
        /// The key shown in detail.
        selected: Option<KeyRef>,
    },
    /// Read every key again from the backend.
    Refresh,
    /// CreateKey.
    CreateKey {
        /// `Description`.
        description: String,
        /// `Origin`.
        origin: Origin,
        /// `KeySpec`.
        key_spec: KeySpec,
        /// `KeyUsage`.
        key_usage: KeyUsage,
        /// `MultiRegion`.
        multi_region: bool,
    },
    /// ReplicateKey: a replica of multi-Region primary `key` in `region`.
    ReplicateKey {
        /// The primary key.
        key: KeyRef,
        /// `ReplicaRegion`.
        region: String,
        /// `Description` of the replica (not a shared property).
        description: String,
    },
    /// UpdatePrimaryRegion: make the replica in `region` the primary.
    UpdatePrimaryRegion {
        /// The current primary key.
        key: KeyRef,
        /// `PrimaryRegion`.
        region: String,
    },
    /// UpdateAlias: point alias `name` of key `from` at key `to`.
    UpdateAlias {
        /// `alias/...`.
        name: String,
        /// The key it points at now (its view is refreshed).
        from: KeyRef,
        /// `TargetKeyId`.
        to: KeyRef,
    },
    /// GenerateMac.
    GenerateMac {
        /// The key.
        key: KeyRef,
        /// `Message`.
        message: SecretVec,
        /// `MacAlgorithm`.
        algorithm: String,
    },
    /// VerifyMac.
    VerifyMac {
        /// The key.
        key: KeyRef,
        /// `Message`.
        message: SecretVec,
        /// `MacAlgorithm`.
        algorithm: String,
        /// `Mac`.
        mac: Vec<u8>,
    },
    /// EnableKey / DisableKey.
    SetEnabled {
        /// The key.
        key: KeyRef,
        /// Enable or disable.
        enabled: bool,
    },
    /// ScheduleKeyDeletion.
    ScheduleDeletion {
        /// The key.
        key: KeyRef,
        /// `PendingWindowInDays`.
        days: u32,
    },
    /// CancelKeyDeletion.
    CancelDeletion {
        /// The key.
        key: KeyRef,
    },
    /// UpdateKeyDescription.
    UpdateDescription {
        /// The key.
        key: KeyRef,
        /// The new description.
        description: String,
    },
    /// CreateAlias.
    CreateAlias {
        /// The key.
        key: KeyRef,
        /// `alias/...`.
        name: String,
    },
    /// DeleteAlias.
    DeleteAlias {
        /// The key it points at (its view is refreshed).
        key: KeyRef,
        /// `alias/...`.
        name: String,
    },
    /// TagResource.
    Tag {
        /// The key.
        key: KeyRef,
        /// The tag.
        tag: Tag,
    },
    /// UntagResource.
    Untag {
        /// The key.
        key: KeyRef,
        /// The tag key.
        tag_key: String,
    },
    /// GetParametersForImport.
    GetParameters {
        /// The key.
        key: KeyRef,
        /// `WrappingAlgorithm`.
        algorithm: WrappingAlgorithm,
        /// `WrappingKeySpec`.
        spec: WrappingKeySpec,
    },
    /// Generate or read plaintext material and wrap it under `public_key`.
    PrepareMaterial {
        /// The key (for the material id a local store will give it).
        key: KeyRef,
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
    /// Write a file (whole or not at all, owner-only).
    WriteFile {
        /// The file.
        path: PathBuf,
        /// The contents (zeroized after writing).
        bytes: SecretVec,
    },
    /// ImportKeyMaterial.
    Import(ImportRequest),
    /// RotateKeyOnDemand.
    Rotate {
        /// The key.
        key: KeyRef,
    },
    /// DeleteImportedKeyMaterial.
    DeleteMaterial {
        /// The key.
        key: KeyRef,
        /// The material.
        material: KeyMaterialId,
    },
    /// Encrypt.
    Encrypt {
        /// The key.
        key: KeyRef,
        /// The plaintext.
        plaintext: SecretVec,
        /// `EncryptionContext`.
        context: EncryptionContext,
        /// `EncryptionAlgorithm` (RSA keys; `None` is SYMMETRIC_DEFAULT).
        algorithm: Option<String>,
    },
    /// Decrypt.
    Decrypt {
        /// The blob.
        blob: Vec<u8>,
        /// `EncryptionContext`.
        context: EncryptionContext,
        /// `KeyId` and `EncryptionAlgorithm`: an RSA ciphertext names
        /// neither, so Decrypt must be told both (`None` for a symmetric
        /// blob, which carries its key).
        asymmetric: Option<(KeyRef, String)>,
    },
    /// Sign.
    Sign {
        /// The key.
        key: KeyRef,
        /// `Message`.
        message: SecretVec,
        /// `MessageType` (`RAW` or `DIGEST`).
        message_type: String,
        /// `SigningAlgorithm`.
        algorithm: String,
    },
    /// Verify.
    Verify {
        /// The key.
        key: KeyRef,
        /// `Message`.
        message: SecretVec,
        /// `MessageType` (`RAW` or `DIGEST`).
        message_type: String,
        /// `SigningAlgorithm`.
        algorithm: String,
        /// `Signature`.
        signature: Vec<u8>,
    },
    /// GetPublicKey.
    GetPublicKey {
        /// The key.
        key: KeyRef,
    },
    /// DeriveSharedSecret (ECDH).
    DeriveSharedSecret {
        /// The key.
        key: KeyRef,
        /// `PublicKey`: the peer's DER SubjectPublicKeyInfo.
        peer: Vec<u8>,
    },
    /// GenerateDataKey.
    GenerateDataKey {
        /// The key.
        key: KeyRef,
        /// `KeySpec`.
        spec: DataKeySpec,
        /// `EncryptionContext`.
        context: EncryptionContext,
    },
    /// The ciphertext inspector (local stores: byok's blob format).
    Inspect {
        /// The blob.
        blob: Vec<u8>,
    },
    /// A key's history, for the timeline.
    History {
        /// The key.
        arn: KeyRef,
        /// The key as the view shows it now.
        key: Box<PresentKey>,
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
        /// Engine settings (local stores).
        engine: Option<Settings>,
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
    /// Key manager: carry out what is due now.
    ManagerRun,
    /// Key manager: set a key's policy.
    SetPolicy(Box<KeyPolicy>),
    /// Key manager: remove a key's policy.
    ClearPolicy {
        /// The key.
        key: KeyRef,
    },
    /// Key manager: register a second officer for dual control.
    RegisterApprover {
        /// Their name.
        name: String,
        /// Their passphrase.
        passphrase: SecretString,
    },
    /// Key manager: approve (and run) or refuse a waiting action.
    Decide {
        /// The action.
        action: String,
        /// The approver's registered name.
        approver: String,
        /// Their passphrase.
        passphrase: SecretString,
        /// Approve (else refuse).
        approve: bool,
    },
    /// Key manager: what suspending the keys would do.
    BlastRadius(KillSelection),
    /// Key manager: the kill switch (delete the keys' imported material).
    Suspend {
        /// The keys (ARNs).
        keys: Vec<KeyRef>,
    },
    /// Key manager: re-import from escrow what the kill switch deleted.
    Restore {
        /// The keys.
        keys: Vec<KeyRef>,
    },
    /// Key manager: export an escrow copy (the raw bytes as imported: 32
    /// bytes, an HMAC key's bytes, a DER PKCS #8 private key) to a new
    /// owner-only file.
    ExportEscrow {
        /// The key.
        key: KeyRef,
        /// The material.
        material: KeyMaterialId,
        /// The file.
        path: PathBuf,
    },
    /// Keep the worker busy for a while (tests of a UI that must not wait).
    #[doc(hidden)]
    Stall(Duration),
    /// One step of a guided lesson (training stores only): its real
    /// operations, on the lesson's key, with what the lesson remembers.
    Lesson {
        /// What the lesson keeps between steps.
        memory: super::lessons::LessonMemory,
        /// The step's operations.
        op: super::lessons::LessonOp,
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
                | Job::History { .. }
                | Job::LoadAudit
                | Job::VerifyChain
                | Job::ExportAudit { .. }
                | Job::PrepareMaterial { .. }
                | Job::StartServe
                | Job::StopServe
                | Job::ServeCredentials
                | Job::Watch { .. }
                | Job::Refresh
                | Job::BlastRadius(_)
                | Job::Stall(_)
        )
    }
}

/// Plaintext material wrapped for import, with what the custodian checks.
pub struct PreparedMaterial {
    /// The wrapped bytes (`EncryptedKeyMaterial`).
    pub wrapped: Vec<u8>,
    /// The key check value of the plaintext (AES-256 of a zero block,
    /// defined for 32-byte material only).
    pub kcv: Option<String>,
    /// The `KeyMaterialId` a local store gives it (AWS assigns its own).
    pub material_id: Option<KeyMaterialId>,
    /// The plaintext (kept only until the wizard closes, to save a copy).
    pub plaintext: SecretVec,
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

/// Encrypt's answer.
#[derive(Clone, Debug)]
pub struct Encrypted {
    /// The key (ARN).
    pub key: String,
    /// The blob.
    pub ciphertext: Vec<u8>,
    /// The material that made it: a local store's engine names it (Encrypt
    /// itself does not return one).
    pub material: Option<KeyMaterialId>,
}

/// Decrypt's answer.
#[derive(Clone, Debug)]
pub struct Decrypted {
    /// The key (ARN).
    pub key: String,
    /// The plaintext.
    pub plaintext: SecretVec,
    /// `KeyMaterialId`.
    pub material: Option<KeyMaterialId>,
}

/// GenerateMac's or VerifyMac's answer.
#[derive(Clone, Debug)]
pub struct MacAnswer {
    /// The key (ARN).
    pub key: String,
    /// `MacAlgorithm`.
    pub algorithm: String,
    /// GenerateMac: the MAC. VerifyMac: empty.
    pub mac: Vec<u8>,
    /// VerifyMac: `MacValid`.
    pub valid: bool,
}

/// Sign's or Verify's answer.
#[derive(Clone, Debug)]
pub struct SignatureAnswer {
    /// The key (ARN).
    pub key: String,
    /// `SigningAlgorithm`.
    pub algorithm: String,
    /// Sign: the signature. Verify: empty.
    pub signature: Vec<u8>,
    /// Verify: `SignatureValid`.
    pub valid: bool,
}

/// GetPublicKey's answer.
#[derive(Clone, Debug)]
pub struct PublicKeyAnswer {
    /// The key (ARN).
    pub key: String,
    /// `PublicKey`: DER SubjectPublicKeyInfo.
    pub der: Vec<u8>,
    /// `KeySpec`.
    pub key_spec: String,
    /// `KeyUsage`.
    pub key_usage: String,
}

/// DeriveSharedSecret's answer.
#[derive(Clone, Debug)]
pub struct SharedSecretAnswer {
    /// The key (ARN).
    pub key: String,
    /// `SharedSecret`.
    pub secret: SecretVec,
    /// `KeyAgreementAlgorithm`.
    pub algorithm: String,
}

/// GenerateDataKey's answer.
#[derive(Clone, Debug)]
pub struct DataKey {
    /// The key (ARN).
    pub key: String,
    /// The encrypted data key.
    pub ciphertext: Vec<u8>,
    /// The plaintext data key.
    pub plaintext: SecretVec,
    /// `KeyMaterialId`.
    pub material: Option<KeyMaterialId>,
}

/// What a job produced.
#[derive(Debug)]
pub enum Outcome {
    /// A store is open.
    Opened {
        /// Whether it is a training store.
        is_demo: bool,
        /// AWS's throttling, readable every frame (AWS stores).
        retry: Option<crate::aws::RetryWatch>,
        /// What opening noticed.
        notes: Vec<String>,
    },
    /// The store is closed.
    Closed,
    /// Nothing to report (Watch, Refresh, Stall).
    Nothing,
    /// A key was created.
    KeyCreated(KeyRef),
    /// GenerateMac's or VerifyMac's answer.
    Mac(MacAnswer),
    /// Sign's or Verify's answer.
    Signature(SignatureAnswer),
    /// GetPublicKey's answer.
    PublicKey(PublicKeyAnswer),
    /// DeriveSharedSecret's answer.
    SharedSecret(SharedSecretAnswer),
    /// A change was made (the message says which).
    Changed(String),
    /// GetParametersForImport's result.
    Parameters(ImportParameters),
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
    Imported {
        /// The key.
        key: KeyRef,
        /// `KeyMaterialId`.
        material: Option<KeyMaterialId>,
        /// What was asked.
        import_type: ImportType,
    },
    /// RotateKeyOnDemand was accepted.
    RotationStarted(KeyRef),
    /// A material was deleted.
    MaterialDeleted {
        /// The key.
        key: KeyRef,
        /// The material.
        material: KeyMaterialId,
    },
    /// Encrypt's result.
    Encrypted(Encrypted),
    /// Decrypt's result.
    Decrypted(Decrypted),
    /// GenerateDataKey's result.
    DataKey(DataKey),
    /// The inspector's finding (`None`: not a byok ciphertext blob).
    Inspected(Option<Inspection>),
    /// A key's history, and where it came from.
    History(Arc<KeyHistory>, HistorySource),
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
    Credentials(SecretText),
    /// The key manager ran actions (Run now, an approval, the kill switch).
    ManagerRan(RunView),
    /// The kill switch's preview.
    Blast(Arc<BlastRadius>),
    /// A lesson step ran (its refusals are part of its outcome).
    Lesson(Box<super::lessons::LessonDone>),
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
        /// The screen that asked.
        owner: Owner,
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
    owner: Owner,
    job: Job,
}

/// The queue every screen submits its jobs to (cloneable, like rerun's
/// command sender): a submission returns its ticket at once, and the
/// result comes back to the screen that owns it.
#[derive(Clone)]
pub struct Jobs {
    tx: Sender<Envelope>,
    next: Arc<AtomicU64>,
    in_flight: Arc<Mutex<std::collections::HashMap<Ticket, bool>>>,
}

impl Jobs {
    /// Queues `job` for `owner`; its result comes back with the ticket.
    pub fn submit(&self, owner: Owner, job: Job) -> Ticket {
        let ticket = self.next.fetch_add(1, Ordering::Relaxed);
        let writes = job.writes_store();
        self.in_flight_map().insert(ticket, writes);
        if self.tx.send(Envelope { ticket, owner, job }).is_err() {
            eprintln!("byok: the worker thread has stopped");
        }
        ticket
    }

    /// Jobs submitted and not finished yet.
    pub fn in_flight(&self) -> usize {
        self.in_flight_map().len()
    }

    /// Whether a job that changes the store is in flight.
    pub fn saving(&self) -> bool {
        self.in_flight_map().values().any(|w| *w)
    }

    fn finished(&self, ticket: Ticket) {
        self.in_flight_map().remove(&ticket);
    }

    fn in_flight_map(&self) -> MutexGuard<'_, std::collections::HashMap<Ticket, bool>> {
        self.in_flight
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

/// A job in flight: which, since when, and what it is doing (one type for
/// every screen's pending work).
#[derive(Clone, Debug)]
pub struct Pending<W> {
    /// Its ticket.
    pub ticket: Ticket,
    /// What it does.
    pub what: W,
    /// When it was submitted.
    pub started: Instant,
}

impl<W> Pending<W> {
    /// Submits `job` for `owner` and remembers it as `what`.
    pub fn submit(jobs: &Jobs, owner: Owner, what: W, job: Job) -> Self {
        Pending {
            ticket: jobs.submit(owner, job),
            what,
            started: Instant::now(),
        }
    }
}

/// The UI's handle on the worker.
pub struct Worker {
    jobs: Jobs,
    events: Receiver<WorkerEvent>,
}

impl Worker {
    /// Starts the worker thread (`byok-worker`). `repaint` is called after
    /// every event it sends.
    pub fn start(config: AppConfig, repaint: impl Fn() + Send + Sync + 'static) -> Worker {
        let (job_tx, job_rx) = mpsc::channel::<Envelope>();
        let (event_tx, event_rx) = mpsc::channel::<WorkerEvent>();
        let jobs = Jobs {
            tx: job_tx,
            next: Arc::new(AtomicU64::new(1)),
            in_flight: Arc::default(),
        };
        let worker_jobs = jobs.clone();
        let spawned = std::thread::Builder::new()
            .name("byok-worker".into())
            .spawn(move || {
                let mut state = WorkerState {
                    tick_interval: config.tick_interval,
                    config,
                    session: None,
                    revision: 0,
                    published: None,
                    save: SaveStatus::Saved,
                    audit_cache: None,
                    manager: Arc::default(),
                    manager_dirty: true,
                    last_run: None,
                    runs: 0,
                    jobs: worker_jobs,
                    events: event_tx,
                    repaint: Arc::new(repaint),
                };
                state.run(job_rx);
            });
        if let Err(e) = spawned {
            eprintln!("byok: cannot start the worker thread: {e}");
        }
        Worker {
            jobs,
            events: event_rx,
        }
    }

    /// The queue screens submit to.
    pub fn jobs(&self) -> &Jobs {
        &self.jobs
    }

    /// The events that arrived since the last call (never blocks).
    pub fn poll(&self) -> Vec<WorkerEvent> {
        self.events.try_iter().collect()
    }

    /// Closes the store and waits (at most `timeout`) until it is closed:
    /// for application exit only, when nothing is drawn any more.
    pub fn shutdown(&mut self, timeout: Duration) {
        let ticket = self.jobs.submit(Owner::Unlock, Job::CloseStore);
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

/// The open store, as the worker holds it.
struct Session {
    /// The store: every key operation goes through its backend.
    ws: Workspace,
    is_demo: bool,
    demo_dir: Option<PathBuf>,
    endpoint: Option<crate::serve::Endpoint>,
    served: u64,
}

fn lock(vault: &Mutex<Vault>) -> MutexGuard<'_, Vault> {
    vault.lock().unwrap_or_else(PoisonError::into_inner)
}

struct WorkerState {
    config: AppConfig,
    tick_interval: Duration,
    session: Option<Session>,
    revision: u64,
    published: Option<u64>,
    save: SaveStatus,
    audit_cache: Option<(u64, Arc<Vec<AuditRecord>>)>,
    /// The key manager's last published view.
    manager: Arc<ManagerView>,
    /// The manager's view must be built again.
    manager_dirty: bool,
    /// When the runner last ran (wall time; `None`: not since opening).
    last_run: Option<Instant>,
    /// Runs reported so far.
    runs: u64,
    jobs: Jobs,
    events: Sender<WorkerEvent>,
    /// Wakes the UI (also from other threads: the AWS key list's refresher).
    repaint: Arc<dyn Fn() + Send + Sync>,
}

fn no_store() -> UiError {
    UiError::plain("No store is open.", "open or create a store first")
}

impl WorkerState {
    fn run(&mut self, jobs: Receiver<Envelope>) {
        loop {
            match jobs.recv_timeout(self.tick_interval) {
                Ok(Envelope { ticket, owner, job }) => {
                    // Telling the worker what is on screen changes nothing
                    // to show: the next tick publishes what the refresh found
                    // (a view at most every tick while a list scrolls).
                    let quiet = matches!(job, Job::Watch { .. });
                    let result =
                        std::panic::catch_unwind(AssertUnwindSafe(|| self.run_job(ticket, job)));
                    let outcome = result.unwrap_or_else(|_| {
                        Err(UiError::plain(
                            "byok hit an internal error while doing this; nothing was changed by it.",
                            "a background job panicked",
                        ))
                    });
                    self.jobs.finished(ticket);
                    self.send(WorkerEvent::Done {
                        ticket,
                        owner,
                        outcome,
                    });
                    if !quiet {
                        self.publish(false);
                    }
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

    fn session(&self) -> Result<&Session, UiError> {
        self.session.as_ref().ok_or_else(no_store)
    }

    fn backend(&self) -> Result<Arc<dyn Backend>, UiError> {
        Ok(self.session()?.ws.backend().clone())
    }

    fn vault(&self) -> Result<Arc<Mutex<Vault>>, UiError> {
        Ok(self.session()?.ws.vault().clone())
    }

    /// byok changed key `key`: an AWS store describes it again now.
    fn changed(&self, key: &KeyRef) {
        if let Some(s) = &self.session {
            s.ws.changed(key.arn());
        }
    }

    /// Applies due time-driven events and publishes a view if anything
    /// changed (also changes made by another front end on the same vault).
    fn tick(&mut self) {
        let Some(session) = &mut self.session else {
            return;
        };
        if let Some(endpoint) = &session.endpoint {
            let requests = endpoint.requests_served();
            if requests != session.served {
                session.served = requests;
                let _ = self.events.send(WorkerEvent::ServeStats { requests });
                (self.repaint)();
            }
        }
        let result = lock(session.ws.vault()).tick();
        match result {
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
        self.manager_tick();
        self.publish(false);
    }

    /// Carries out what the key manager has due: right after opening, then
    /// every `manager_interval` of wall time (every few seconds while an
    /// action is under way). A training store runs it only once it has
    /// policies, so the demo's history is not changed behind the trainer.
    fn manager_tick(&mut self) {
        let Some(session) = &self.session else {
            return;
        };
        let busy = self.manager.due.iter().any(|d| {
            d.status == crate::manager::DueStatus::InProgress
                && !self
                    .manager
                    .approvals
                    .iter()
                    .any(|a| Some(&a.id) == d.action.as_ref())
        });
        let interval = if busy {
            self.config.manager_interval.min(Duration::from_secs(5))
        } else {
            self.config.manager_interval
        };
        if self.last_run.is_some_and(|t| t.elapsed() < interval) {
            return;
        }
        self.last_run = Some(Instant::now());
        let is_demo = session.is_demo;
        let Some(manager) = self.manager_for(Caller::agent()) else {
            return;
        };
        if is_demo && manager.state().is_ok_and(|s| s.policies.is_empty()) {
            return;
        }
        let result = manager.run();
        let run = self.report(result, "scheduled run");
        // A quiet run (nothing due) changes nothing on screen.
        if run.is_news() || !run.open.is_empty() {
            self.refresh_after(&run);
            self.set_last_run(run);
        }
    }

    /// The key manager of the open store, acting as `caller` for the
    /// officer signed in to this computer.
    fn manager_for(&self, caller: Caller) -> Option<Manager> {
        let session = self.session.as_ref()?;
        Some(
            Manager::for_workspace(&session.ws, caller, &officer_name())
                // The worker does not wait for a rotation to complete: the
                // next run (a few seconds later) checks it.
                .with_rotation_wait(Duration::from_millis(500)),
        )
    }

    fn manager(&self) -> Result<Manager, UiError> {
        self.manager_for(Caller::console()).ok_or_else(no_store)
    }

    /// A run's report as the console shows it.
    fn report(&mut self, result: Result<RunReport, ManagerError>, trigger: &str) -> RunView {
        self.runs += 1;
        let at = self
            .session
            .as_ref()
            .map(|s| lock(s.ws.vault()).kms().now());
        let mut run = RunView {
            number: self.runs,
            at,
            trigger: trigger.to_string(),
            ..RunView::default()
        };
        match result {
            Ok(r) => {
                run.outcomes = r.outcomes;
                run.open = r.open;
                run.warnings = r.warnings;
            }
            Err(e) => run.error = Some(e.to_string()),
        }
        run
    }

    /// Keys an action changed are read again (an AWS store), and the
    /// manager's view is built again.
    fn refresh_after(&mut self, run: &RunView) {
        for o in run.outcomes.iter().chain(&run.open) {
            self.changed(&KeyRef::new(&o.key_arn));
        }
        self.manager_dirty = true;
        self.published = None;
    }

    fn set_last_run(&mut self, run: RunView) {
        let mut m = (*self.manager).clone();
        m.last_run = run;
        self.manager = Arc::new(m);
        self.manager_dirty = true;
        self.published = None;
    }

    /// Builds the key manager's view from its state (no secret leaves it).
    fn build_manager_view(&self) -> ManagerView {
        let last_run = self.manager.last_run.clone();
        let Some(manager) = self.manager_for(Caller::console()) else {
            return ManagerView::default();
        };
        let state = match manager.state() {
            Ok(s) => s,
            Err(e) => {
                return ManagerView {
                    error: Some(e.to_string()),
                    last_run,
                    ..ManagerView::default()
                };
            }
        };
        let due = manager.due().unwrap_or_default();
        let action_view = |a: &crate::manager::Action| {
            let (result, failed) = match &a.step {
                Step::Done { summary } => (summary.clone(), false),
                Step::Failed { reason } => (reason.clone(), true),
                Step::Cancelled { reason } => (reason.clone(), true),
                other => (
                    a.last_error
                        .clone()
                        .unwrap_or_else(|| other.name().to_string()),
                    a.last_error.is_some(),
                ),
            };
            ActionView {
                id: a.id.clone(),
                key_arn: a.key_arn.clone(),
                what: a.kind.describe(),
                requested_by: a.requested_by.clone(),
                approved_by: a.approval.as_ref().map(|x| x.by.clone()),
                result,
                failed,
                finished: a.finished,
            }
        };
        let mut recent: Vec<ActionView> = state
            .actions
            .iter()
            .rev()
            .filter(|a| a.step.is_final())
            .take(50)
            .map(action_view)
            .collect();
        recent.sort_by_key(|a| std::cmp::Reverse(a.finished));
        let policies = state
            .policies
            .iter()
            .map(|p| PolicyView {
                policy: p.clone(),
                next: due.iter().find(|d| d.key_arn == p.key_arn).cloned(),
                last: state
                    .actions
                    .iter()
                    .rev()
                    .find(|a| {
                        a.key_arn == p.key_arn && (a.step.is_final() || a.last_error.is_some())
                    })
                    .map(action_view),
            })
            .collect();
        ManagerView {
            policies,
            approvals: state
                .actions
                .iter()
                .filter(|a| a.step == Step::AwaitingApproval)
                .map(|a| ApprovalView {
                    id: a.id.clone(),
                    key_arn: a.key_arn.clone(),
                    what: a.kind.describe(),
                    requested_by: a.requested_by.clone(),
                    planned: a.planned,
                })
                .collect(),
            due,
            recent,
            escrowed: state
                .escrow
                .iter()
                .filter_map(|e| Some((e.key_arn.clone(), e.key_material_id.clone()?)))
                .collect(),
            approvers: state.approvers.iter().map(|a| a.name.clone()).collect(),
            suspended: state.suspended.iter().map(|s| s.key_arn.clone()).collect(),
            last_run,
            error: None,
        }
    }

    /// Sends a new view when the engine's generation moved (or `force`).
    fn publish(&mut self, force: bool) {
        let Some(session) = &self.session else {
            return;
        };
        let ws = &session.ws;
        let generation = ws.generation();
        if !force && !self.manager_dirty && self.published == Some(generation) {
            return;
        }
        // A local store's manager state is read again with every change
        // (cheap); an AWS store's after the manager's own jobs and runs.
        if self.manager_dirty || (!ws.is_aws() && self.published != Some(generation)) {
            self.manager = Arc::new(self.build_manager_view());
            self.manager_dirty = false;
        }
        let Some(session) = &self.session else {
            return;
        };
        let ws = &session.ws;
        let (records, complete) = ws.records();
        let backend = ws.info();
        let notice = ws.notice();
        let vault = lock(ws.vault());
        let local = (!ws.is_aws()).then(|| LocalStoreView {
            is_demo: session.is_demo,
            settings: vault.kms().settings().clone(),
            next_event: vault.kms().next_event(),
        });
        let now = vault.kms().now();
        let parts = ViewParts {
            revision: self.revision + 1,
            path: vault.path().to_path_buf(),
            backend,
            local,
            store_settings: vault.store_settings().clone(),
            complete,
            audit_sequence: vault.kms().chain_head().sequence,
            save: self.save.clone(),
            notice,
            refresh_calls: ws.refresh_calls(),
            imports_in_flight: crate::workspace::imports_in_flight(&vault, now),
            manager: self.manager.clone(),
        };
        drop(vault);
        self.revision += 1;
        let view = StoreView::build(parts, &records, now);
        self.published = Some(generation);
        self.send(WorkerEvent::View(Arc::new(view)));
    }

    fn close(&mut self) {
        // The endpoint holds the vault too: it stops first (letting requests
        // in flight finish), then the store closes.
        if let Some(mut session) = self.session.take() {
            if let Some(endpoint) = session.endpoint.take() {
                endpoint.stop();
            }
            let Session { ws, demo_dir, .. } = session;
            let _ = ws.close();
            if let Some(dir) = demo_dir {
                let _ = std::fs::remove_dir_all(dir);
            }
        }
        self.audit_cache = None;
        self.published = None;
        self.manager = Arc::default();
        self.manager_dirty = true;
        self.last_run = None;
    }

    /// Runs one operation through the backend, tracking whether the store
    /// could save it.
    fn call<O: Operation>(&mut self, input: &O::Input) -> Result<O::Output, UiError> {
        let backend = self.backend()?;
        let result = send::<O>(backend.as_ref(), input);
        match &result {
            Err(BackendError::Service(e)) if e.status >= 500 => {
                self.save = SaveStatus::Failed(e.message.clone());
                self.published = None;
            }
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

    /// An AWS store: `connection` (`None`: the one the file holds).
    fn opened_aws(
        &mut self,
        vault: Vault,
        connection: Option<&AwsConnection>,
    ) -> Result<Outcome, UiError> {
        let notes = vault.notes().to_vec();
        let vault = Arc::new(Mutex::new(vault));
        let notify = self.repaint.clone();
        let options = self.config.aws_options.clone().unwrap_or_default();
        let ws = Workspace::open_aws(vault, connection, options, Caller::console(), notify)?;
        Ok(self.install(ws, false, None, notes))
    }

    /// Makes `ws` the open session.
    fn install(
        &mut self,
        ws: Workspace,
        is_demo: bool,
        demo_dir: Option<PathBuf>,
        notes: Vec<String>,
    ) -> Outcome {
        let retry = ws.retry_watch();
        self.session = Some(Session {
            ws,
            is_demo,
            demo_dir,
            endpoint: None,
            served: 0,
        });
        self.save = SaveStatus::Saved;
        self.published = None;
        Outcome::Opened {
            is_demo,
            retry,
            notes,
        }
    }

    fn opened(&mut self, vault: Vault, is_demo: bool, demo_dir: Option<PathBuf>) -> Outcome {
        let notes = vault.notes().to_vec();
        let ws = Workspace::local(Arc::new(Mutex::new(vault)), Caller::console());
        self.install(ws, is_demo, demo_dir, notes)
    }

    fn run_job(&mut self, ticket: Ticket, job: Job) -> Result<Outcome, UiError> {
        let key_input = |k: &KeyRef| KeyIdInput {
            key_id: Some(k.arn().to_string()),
        };
        match job {
            Job::OpenStore { path, passphrase } => {
                self.close();
                let vault = Vault::open(&path, &passphrase, self.options())?;
                // A store that holds an AWS connection opens as that account.
                if vault.sections().get(AWS_SECTION).is_some() {
                    return self.opened_aws(vault, None);
                }
                Ok(self.opened(vault, false, None))
            }
            Job::CreateStore { path, passphrase } => {
                self.close();
                let vault = Vault::create(&path, &passphrase, self.options())?;
                Ok(self.opened(vault, false, None))
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
                match super::demo::build(&dir, &self.config, progress) {
                    Ok(vault) => Ok(self.opened(vault, true, Some(dir))),
                    Err(e) => {
                        let _ = std::fs::remove_dir_all(&dir);
                        Err(e)
                    }
                }
            }
            Job::ConnectAws {
                path,
                passphrase,
                connection,
                create,
            } => {
                self.close();
                let vault = if create {
                    Vault::create(&path, &passphrase, self.options())?
                } else {
                    Vault::open(&path, &passphrase, self.options())?
                };
                self.opened_aws(vault, Some(&connection))
            }
            Job::CloseStore => {
                self.close();
                Ok(Outcome::Closed)
            }
            Job::Adopt(vault) => {
                self.close();
                Ok(self.opened(*vault, false, None))
            }
            Job::Watch { visible, selected } => {
                if let Some(s) = &self.session {
                    s.ws.watch(
                        visible.iter().map(|k| k.arn().to_string()).collect(),
                        selected.map(|k| k.arn().to_string()),
                    );
                }
                Ok(Outcome::Nothing)
            }
            Job::Refresh => {
                if let Some(s) = &self.session {
                    s.ws.refresh();
                }
                self.published = None;
                Ok(Outcome::Nothing)
            }
            Job::Stall(d) => {
                std::thread::sleep(d);
                Ok(Outcome::Nothing)
            }
            Job::Lesson { mut memory, op } => {
                // The simulated clock belongs to training stores only.
                let session = self.session()?;
                if !session.is_demo || session.ws.is_aws() {
                    return Err(UiError::plain(
                        "Lessons run on training stores only.",
                        "this store is not a training store",
                    ));
                }
                let delay = lock(session.ws.vault()).kms().settings().rotation_delay();
                let backend = self.backend()?;
                let outcome = super::lessons::perform(
                    backend.as_ref(),
                    &self.config.clock,
                    delay,
                    &mut memory,
                    op,
                );
                if let Some(key) = &memory.key {
                    self.changed(key);
                }
                self.published = None;
                Ok(Outcome::Lesson(Box::new(super::lessons::LessonDone {
                    memory,
                    outcome,
                })))
            }
            Job::CreateKey {
                description,
                origin,
                key_spec,
                key_usage,
                multi_region,
            } => {
                let out = self.call::<op::CreateKey>(&CreateKeyInput {
                    description: (!description.is_empty()).then_some(description),
                    origin: Some(origin.as_str().to_string()),
                    key_spec: Some(key_spec.as_str().to_string()),
                    key_usage: Some(key_usage.as_str().to_string()),
                    multi_region: multi_region.then_some(true),
                    ..CreateKeyInput::default()
                })?;
                let key = KeyRef::new(&out.key_metadata.arn);
                self.changed(&key);
                Ok(Outcome::KeyCreated(key))
            }
            Job::ReplicateKey {
                key,
                region,
                description,
            } => {
                let out = self.call::<op::ReplicateKey>(&ReplicateKeyInput {
                    key_id: Some(key.arn().to_string()),
                    replica_region: Some(region.clone()),
                    description: (!description.is_empty()).then_some(description),
                    ..ReplicateKeyInput::default()
                })?;
                self.changed(&key);
                let replica = out.replica_key_metadata.arn;
                self.changed(&KeyRef::new(&replica));
                let listed = self.backend()?.info().regions.contains(&region);
                Ok(Outcome::Changed(if listed {
                    format!("Replica created in {region}: import the same key material into it")
                } else {
                    format!(
                        "Replica created in {region} ({replica}); add {region} to the connection's regions to see it here"
                    )
                }))
            }
            Job::UpdatePrimaryRegion { key, region } => {
                self.call::<op::UpdatePrimaryRegion>(&UpdatePrimaryRegionInput {
                    key_id: Some(key.arn().to_string()),
                    primary_region: Some(region.clone()),
                })?;
                // Every key of the set changed its type.
                self.changed(&key);
                if let Some(s) = &self.session {
                    s.ws.refresh();
                }
                Ok(Outcome::Changed(format!(
                    "{region} is now the primary Region"
                )))
            }
            Job::SetEnabled { key, enabled } => {
                if enabled {
                    self.call::<op::EnableKey>(&key_input(&key))?;
                } else {
                    self.call::<op::DisableKey>(&key_input(&key))?;
                }
                self.changed(&key);
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
                let out = self.call::<op::ScheduleKeyDeletion>(&ScheduleKeyDeletionInput {
                    key_id: Some(key.arn().to_string()),
                    pending_window_in_days: Some(i64::from(days)),
                })?;
                self.changed(&key);
                Ok(Outcome::Changed(format!(
                    "Deletion scheduled for {}",
                    super::format::date_time(out.deletion_date.0)
                )))
            }
            Job::CancelDeletion { key } => {
                self.call::<op::CancelKeyDeletion>(&key_input(&key))?;
                self.changed(&key);
                Ok(Outcome::Changed(
                    "Deletion cancelled; the key is disabled".into(),
                ))
            }
            Job::UpdateDescription { key, description } => {
                self.call::<op::UpdateKeyDescription>(&UpdateKeyDescriptionInput {
                    key_id: Some(key.arn().to_string()),
                    description: Some(description),
                })?;
                self.changed(&key);
                Ok(Outcome::Changed("Description saved".into()))
            }
            Job::CreateAlias { key, name } => {
                self.call::<op::CreateAlias>(&AliasInput {
                    alias_name: Some(name.clone()),
                    target_key_id: Some(key.arn().to_string()),
                })?;
                if let Some(s) = &self.session {
                    s.ws.aliases_changed(key.arn());
                }
                self.changed(&key);
                Ok(Outcome::Changed(format!("Alias {name} created")))
            }
            Job::UpdateAlias { name, from, to } => {
                self.call::<op::UpdateAlias>(&AliasInput {
                    alias_name: Some(name.clone()),
                    target_key_id: Some(to.arn().to_string()),
                })?;
                if let Some(s) = &self.session {
                    s.ws.aliases_changed(to.arn());
                }
                self.changed(&from);
                self.changed(&to);
                Ok(Outcome::Changed(format!("Alias {name} moved")))
            }
            Job::GenerateMac {
                key,
                message,
                algorithm,
            } => {
                let out = self.call::<op::GenerateMac>(&GenerateMacInput {
                    message: Some(Blob::copy_of(message.expose())),
                    key_id: Some(key.arn().to_string()),
                    mac_algorithm: Some(algorithm),
                    ..GenerateMacInput::default()
                })?;
                Ok(Outcome::Mac(MacAnswer {
                    key: out.key_id,
                    algorithm: out.mac_algorithm,
                    mac: out.mac.bytes().to_vec(),
                    valid: false,
                }))
            }
            Job::VerifyMac {
                key,
                message,
                algorithm,
                mac,
            } => {
                let out = self.call::<op::VerifyMac>(&VerifyMacInput {
                    message: Some(Blob::copy_of(message.expose())),
                    key_id: Some(key.arn().to_string()),
                    mac_algorithm: Some(algorithm),
                    mac: Some(Blob::from(mac)),
                    ..VerifyMacInput::default()
                })?;
                Ok(Outcome::Mac(MacAnswer {
                    key: out.key_id,
                    algorithm: out.mac_algorithm,
                    mac: Vec::new(),
                    valid: out.mac_valid,
                }))
            }
            Job::Sign {
                key,
                message,
                message_type,
                algorithm,
            } => {
                let out = self.call::<op::Sign>(&SignInput {
                    key_id: Some(key.arn().to_string()),
                    message: Some(Blob::copy_of(message.expose())),
                    message_type: Some(message_type),
                    signing_algorithm: Some(algorithm),
                    ..SignInput::default()
                })?;
                Ok(Outcome::Signature(SignatureAnswer {
                    key: out.key_id,
                    algorithm: out.signing_algorithm,
                    signature: out.signature.bytes().to_vec(),
                    valid: false,
                }))
            }
            Job::Verify {
                key,
                message,
                message_type,
                algorithm,
                signature,
            } => {
                let out = self.call::<op::Verify>(&VerifyInput {
                    key_id: Some(key.arn().to_string()),
                    message: Some(Blob::copy_of(message.expose())),
                    message_type: Some(message_type),
                    signing_algorithm: Some(algorithm),
                    signature: Some(Blob::from(signature)),
                    ..VerifyInput::default()
                })?;
                Ok(Outcome::Signature(SignatureAnswer {
                    key: out.key_id,
                    algorithm: out.signing_algorithm,
                    signature: Vec::new(),
                    valid: out.signature_valid,
                }))
            }
            Job::GetPublicKey { key } => {
                let out = self.call::<op::GetPublicKey>(&GetPublicKeyInput {
                    key_id: Some(key.arn().to_string()),
                    ..GetPublicKeyInput::default()
                })?;
                Ok(Outcome::PublicKey(PublicKeyAnswer {
                    key: out.key_id,
                    der: out.public_key.bytes().to_vec(),
                    key_spec: out.key_spec,
                    key_usage: out.key_usage,
                }))
            }
            Job::DeriveSharedSecret { key, peer } => {
                let out = self.call::<op::DeriveSharedSecret>(&DeriveSharedSecretInput {
                    key_id: Some(key.arn().to_string()),
                    key_agreement_algorithm: Some("ECDH".into()),
                    public_key: Some(Blob::from(peer)),
                    ..DeriveSharedSecretInput::default()
                })?;
                Ok(Outcome::SharedSecret(SharedSecretAnswer {
                    key: out.key_id,
                    secret: out.shared_secret.into_secret(),
                    algorithm: out.key_agreement_algorithm,
                }))
            }
            Job::DeleteAlias { key, name } => {
                self.call::<op::DeleteAlias>(&AliasInput {
                    alias_name: Some(name.clone()),
                    target_key_id: None,
                })?;
                if let Some(s) = &self.session {
                    s.ws.aliases_changed(key.arn());
                }
                self.changed(&key);
                Ok(Outcome::Changed(format!("Alias {name} deleted")))
            }
            Job::Tag { key, tag } => {
                let text = format!("Tag {} set", tag.key);
                self.call::<op::TagResource>(&TagResourceInput {
                    key_id: Some(key.arn().to_string()),
                    tags: Some(vec![TagShape::from(&tag)]),
                })?;
                self.changed(&key);
                Ok(Outcome::Changed(text))
            }
            Job::Untag { key, tag_key } => {
                let text = format!("Tag {tag_key} removed");
                self.call::<op::UntagResource>(&UntagResourceInput {
                    key_id: Some(key.arn().to_string()),
                    tag_keys: Some(vec![tag_key]),
                })?;
                self.changed(&key);
                Ok(Outcome::Changed(text))
            }
            Job::GetParameters {
                key,
                algorithm,
                spec,
            } => {
                let out =
                    self.call::<op::GetParametersForImport>(&GetParametersForImportInput {
                        key_id: Some(key.arn().to_string()),
                        wrapping_algorithm: Some(algorithm.as_str().to_string()),
                        wrapping_key_spec: Some(spec.as_str().to_string()),
                    })?;
                // Kept in the store: the ceremony can pause and resume with
                // them until they expire. Not keeping them loses nothing
                // now, so a failure here is only a note.
                if let Some(s) = &self.session {
                    // The engine's time: a training store's simulated clock.
                    let now = lock(s.ws.vault()).kms().now();
                    let kept = s.ws.remember_import(
                        ImportInFlight {
                            key_arn: key.arn().to_string(),
                            wrapping_algorithm: algorithm.as_str().to_string(),
                            wrapping_key_spec: spec.as_str().to_string(),
                            public_key: out.public_key.clone(),
                            import_token: out.import_token.clone(),
                            parameters_valid_to: out.parameters_valid_to.0,
                            downloaded: now,
                        },
                        now,
                    );
                    if let Err(e) = kept {
                        self.save = SaveStatus::Failed(format!(
                            "the import parameters could not be kept for later: {e}"
                        ));
                    }
                }
                self.published = None;
                Ok(Outcome::Parameters(ImportParameters {
                    key,
                    public_key: out.public_key.bytes().to_vec(),
                    import_token: out.import_token.bytes().to_vec(),
                    parameters_valid_to: out.parameters_valid_to.0,
                }))
            }
            Job::PrepareMaterial {
                key,
                public_key,
                algorithm,
                source,
            } => {
                // A local store's engine names material by a rule byok
                // publishes; AWS assigns its ids itself.
                let local_key = self
                    .session
                    .as_ref()
                    .map(|s| lock(s.ws.vault()))
                    .and_then(|v| {
                        crate::kms::KeyId::parse(
                            key.arn()
                                .rsplit_once("key/")
                                .map_or(key.arn(), |(_, id)| id),
                        )
                        .filter(|id| v.kms().key(*id).is_some())
                    });
                prepare_material(local_key, &public_key, algorithm, source)
            }
            Job::ReadFile { path, max_len } => read_file(&path, max_len),
            Job::WriteFile { path, bytes } => {
                write_file(&path, bytes.expose())?;
                Ok(Outcome::FileWritten(path))
            }
            Job::Import(req) => {
                let out = self.call::<op::ImportKeyMaterial>(&ImportKeyMaterialInput {
                    key_id: Some(req.key.arn().to_string()),
                    import_token: Some(Blob::from(req.import_token)),
                    encrypted_key_material: Some(Blob::from(req.encrypted_key_material)),
                    valid_to: req.valid_to.map(Time),
                    expiration_model: Some(req.expiration_model.as_str().to_string()),
                    import_type: Some(req.import_type.as_str().to_string()),
                    key_material_description: req.description,
                    key_material_id: req.key_material_id.map(|m| m.to_string()),
                })?;
                self.changed(&req.key);
                if let Some(s) = &self.session {
                    // The token is spent (AWS accepts a token once per material).
                    let _ = s.ws.forget_import(req.key.arn());
                }
                // The key manager's inventory and escrow: the material was
                // wrapped here, and the key's policy keeps copies.
                if let (Some((copy, origin)), Some(m)) =
                    (&req.custodian_copy, self.manager_for(Caller::console()))
                    && m.state()
                        .ok()
                        .and_then(|st| st.policy(req.key.arn()).map(|p| p.escrow))
                        .unwrap_or(false)
                    && let Err(e) =
                        m.deposit(req.key.arn(), &out.key_material_id, copy, origin.clone())
                {
                    return Err(UiError::plain(
                        "The material was imported, but its escrow copy could not be kept",
                        e.to_string(),
                    ));
                }
                Ok(Outcome::Imported {
                    key: req.key,
                    material: KeyMaterialId::parse(&out.key_material_id),
                    import_type: req.import_type,
                })
            }
            Job::Rotate { key } => {
                self.call::<op::RotateKeyOnDemand>(&key_input(&key))?;
                self.changed(&key);
                Ok(Outcome::RotationStarted(key))
            }
            Job::DeleteMaterial { key, material } => {
                let out =
                    self.call::<op::DeleteImportedKeyMaterial>(&DeleteImportedKeyMaterialInput {
                        key_id: Some(key.arn().to_string()),
                        key_material_id: Some(material.to_string()),
                    })?;
                self.changed(&key);
                Ok(Outcome::MaterialDeleted {
                    key,
                    material: KeyMaterialId::parse(&out.key_material_id).unwrap_or(material),
                })
            }
            Job::Encrypt {
                key,
                plaintext,
                context,
                algorithm,
            } => {
                let out = self.call::<op::Encrypt>(&EncryptInput {
                    key_id: Some(key.arn().to_string()),
                    plaintext: Some(Blob::copy_of(plaintext.expose())),
                    encryption_context: (!context.is_empty()).then_some(context),
                    encryption_algorithm: algorithm,
                    ..EncryptInput::default()
                })?;
                let ciphertext = out.ciphertext_blob.bytes().to_vec();
                let material = self.inspect(&ciphertext).map(|i| i.key_material_id);
                Ok(Outcome::Encrypted(Encrypted {
                    key: out.key_id,
                    ciphertext,
                    material,
                }))
            }
            Job::Decrypt {
                blob,
                context,
                asymmetric,
            } => {
                let (key_id, encryption_algorithm) = match asymmetric {
                    Some((key, algorithm)) => (Some(key.arn().to_string()), Some(algorithm)),
                    None => (None, None),
                };
                let out = self.call::<op::Decrypt>(&DecryptInput {
                    ciphertext_blob: Some(Blob::from(blob)),
                    encryption_context: (!context.is_empty()).then_some(context),
                    key_id,
                    encryption_algorithm,
                    ..DecryptInput::default()
                })?;
                Ok(Outcome::Decrypted(Decrypted {
                    key: out.key_id,
                    material: out
                        .key_material_id
                        .as_deref()
                        .and_then(KeyMaterialId::parse),
                    plaintext: out.plaintext.into_secret(),
                }))
            }
            Job::GenerateDataKey { key, spec, context } => {
                let out = self.call::<op::GenerateDataKey>(&GenerateDataKeyInput {
                    key_id: Some(key.arn().to_string()),
                    key_spec: Some(spec.as_str().to_string()),
                    encryption_context: (!context.is_empty()).then_some(context),
                    ..GenerateDataKeyInput::default()
                })?;
                Ok(Outcome::DataKey(DataKey {
                    key: out.key_id,
                    ciphertext: out.ciphertext_blob.bytes().to_vec(),
                    plaintext: out.plaintext.map(Blob::into_secret).unwrap_or_default(),
                    material: out
                        .key_material_id
                        .as_deref()
                        .and_then(KeyMaterialId::parse),
                }))
            }
            Job::Inspect { blob } => {
                self.session()?;
                Ok(Outcome::Inspected(self.inspect(&blob)))
            }
            Job::History { arn, key } => {
                let records = self.audit()?;
                let session = self.session()?;
                let (h, source) = session.ws.history(&key, arn.arn(), &records);
                Ok(Outcome::History(Arc::new(h), source))
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
                let mut v = lock(&vault);
                let engine = engine.unwrap_or_else(|| v.kms().settings().clone());
                v.update_settings(store, engine)?;
                drop(v);
                // A hosted endpoint checks signatures against the region it
                // read at start: it reads the new one now.
                if let Some(endpoint) = self.session.as_ref().and_then(|s| s.endpoint.as_ref()) {
                    endpoint.reload_credentials();
                }
                self.published = None;
                Ok(Outcome::SettingsSaved)
            }
            Job::StartServe => {
                let addr = self.config.serve_addr;
                let session = self.session.as_mut().ok_or_else(no_store)?;
                if session.ws.is_aws() {
                    return Err(UiError::plain(
                        "The local endpoint serves local stores only.",
                        "this store is an AWS account",
                    ));
                }
                if let Some(endpoint) = &session.endpoint {
                    return Ok(Outcome::Serving {
                        addr: endpoint.local_addr().to_string(),
                    });
                }
                let endpoint = crate::serve::Endpoint::start(session.ws.vault().clone(), addr)
                    .map_err(|e| {
                        UiError::plain(
                            "The AWS endpoint could not start: is another program using this port?",
                            format!("{addr}: {e}"),
                        )
                    })?;
                let addr = endpoint.local_addr().to_string();
                session.endpoint = Some(endpoint);
                session.served = 0;
                Ok(Outcome::Serving { addr })
            }
            Job::StopServe => {
                if let Some(endpoint) = self.session.as_mut().and_then(|s| s.endpoint.take()) {
                    endpoint.stop();
                }
                Ok(Outcome::ServeStopped)
            }
            Job::ServeCredentials => {
                let vault = self.vault()?;
                let v = lock(&vault);
                let c = v.api_credentials();
                let region = &v.kms().settings().region;
                Ok(Outcome::Credentials(SecretText::new(format!(
                    "export AWS_ACCESS_KEY_ID={}\nexport AWS_SECRET_ACCESS_KEY={}\nexport AWS_DEFAULT_REGION={region}\nexport AWS_REGION={region}\n",
                    c.access_key_id,
                    c.secret_str()
                ))))
            }
            Job::ChangePassphrase { current, new } => {
                let vault = self.vault()?;
                let mut v = lock(&vault);
                if !v.check_passphrase(&current) {
                    return Err(UiError::plain(
                        "The current passphrase is not right.",
                        "nothing was changed",
                    ));
                }
                v.change_passphrase(&new, None)?;
                Ok(Outcome::PassphraseChanged)
            }
            Job::ManagerRun => {
                let result = self.manager()?.run();
                let run = self.report(result, "Run now");
                self.finish_run(run)
            }
            Job::SetPolicy(policy) => {
                let key = KeyRef::new(&policy.key_arn);
                self.manager()?.set_policy(*policy)?;
                self.manager_dirty = true;
                self.changed(&key);
                Ok(Outcome::Changed("Policy saved".into()))
            }
            Job::ClearPolicy { key } => {
                let removed = self.manager()?.clear_policy(key.arn())?;
                self.manager_dirty = true;
                Ok(Outcome::Changed(
                    if removed {
                        "Policy removed (escrow copies stay in the store)"
                    } else {
                        "The key had no policy"
                    }
                    .into(),
                ))
            }
            Job::RegisterApprover { name, passphrase } => {
                self.manager()?.register_approver(&name, &passphrase)?;
                self.manager_dirty = true;
                Ok(Outcome::Changed(format!(
                    "Approver {} registered",
                    name.trim()
                )))
            }
            Job::Decide {
                action,
                approver,
                passphrase,
                approve,
            } => {
                let manager = self.manager()?;
                // A refused approval is recorded in the trail: the view
                // changes either way.
                self.manager_dirty = true;
                if approve {
                    let result = manager.approve(&action, approver.trim(), &passphrase);
                    if let Err(e) = result {
                        return Err(e.into());
                    }
                    let run = self.report(result, &format!("approval of {action}"));
                    self.finish_run(run)
                } else {
                    manager.reject(&action, approver.trim(), &passphrase)?;
                    Ok(Outcome::Changed(format!(
                        "{action} refused by {}",
                        approver.trim()
                    )))
                }
            }
            Job::BlastRadius(selection) => {
                let manager = self.manager()?;
                let keys: Vec<String> = match selection {
                    KillSelection::Keys(keys) => keys.iter().map(|k| k.arn().to_string()).collect(),
                    KillSelection::Tag { key, value } => manager.keys_with_tag(&key, &value)?,
                };
                if keys.is_empty() {
                    return Err(UiError::plain(
                        "No key matches this selection.",
                        "nothing would be suspended",
                    ));
                }
                Ok(Outcome::Blast(Arc::new(manager.blast_radius(&keys)?)))
            }
            Job::Suspend { keys } => {
                let arns: Vec<String> = keys.iter().map(|k| k.arn().to_string()).collect();
                let result = self.manager()?.suspend(&arns).map(|(_, r)| r);
                let run = self.report(result, "kill switch");
                for k in &keys {
                    self.changed(k);
                }
                self.finish_run(run)
            }
            Job::Restore { keys } => {
                let arns: Vec<String> = keys.iter().map(|k| k.arn().to_string()).collect();
                let result = self.manager()?.restore(&arns).map(|(_, r)| r);
                let run = self.report(result, "restore from escrow");
                for k in &keys {
                    self.changed(k);
                }
                self.finish_run(run)
            }
            Job::ExportEscrow {
                key,
                material,
                path,
            } => {
                if path.exists() {
                    return Err(UiError::plain(
                        "A file already exists there: byok does not overwrite an exported key material.",
                        path.display().to_string(),
                    ));
                }
                let export = self.manager()?.export_escrow(
                    key.arn(),
                    &material.to_string(),
                    &crate::manager::ExportForm::Raw,
                    &path,
                )?;
                write_file(&path, &export.bytes)?;
                self.manager_dirty = true;
                Ok(Outcome::FileWritten(path))
            }
        }
    }

    /// A run the officer started: reported like a scheduled one, and an
    /// error if the run itself failed.
    fn finish_run(&mut self, run: RunView) -> Result<Outcome, UiError> {
        self.refresh_after(&run);
        self.set_last_run(run.clone());
        match &run.error {
            Some(e) => Err(UiError::plain(
                "The key manager could not finish.",
                e.clone(),
            )),
            None => Ok(Outcome::ManagerRan(run)),
        }
    }

    /// What the local engine reads in a byok ciphertext blob (no audit).
    fn inspect(&self, blob: &[u8]) -> Option<Inspection> {
        let session = self.session.as_ref().filter(|s| !s.ws.is_aws())?;
        lock(session.ws.vault()).kms().inspect_ciphertext(blob)
    }

    /// The retained audit trail, read again only when the chain moved.
    fn audit(&mut self) -> Result<Arc<Vec<AuditRecord>>, UiError> {
        let vault = self.vault()?;
        let v = lock(&vault);
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

/// Who the console acts for: the user signed in to this computer (recorded
/// as who asked for an action; dual control needs someone else to approve).
pub fn officer_name() -> String {
    std::env::var("USER")
        .or_else(|_| std::env::var("USERNAME"))
        .ok()
        .filter(|n| !n.trim().is_empty())
        .unwrap_or_else(|| "officer".into())
}

/// The longest plaintext material file "wrap here" reads: over twice the
/// longest material any key spec takes (an RSA_4096 private key is about
/// 2.4 KB of DER PKCS #8), so a wrong file is still wrapped and refused by
/// the key, not cut; a file much bigger than that is no key material.
const MAX_PLAINTEXT_MATERIAL: u64 = 8 * 1024;

fn prepare_material(
    local_key: Option<crate::kms::KeyId>,
    public_key: &[u8],
    algorithm: WrappingAlgorithm,
    source: MaterialSource,
) -> Result<Outcome, UiError> {
    let mut rng = rand::rng();
    let (plaintext, generated) = match source {
        MaterialSource::Generate { len } => (SecretVec::random(len, &mut rng), true),
        MaterialSource::PlaintextFile(path) => {
            // Any length is wrapped: the key's spec decides what it takes,
            // and ImportKeyMaterial answers for it (the wizard says which
            // lengths the spec takes before and after).
            let bytes = match read_file(&path, MAX_PLAINTEXT_MATERIAL)? {
                Outcome::FileRead { bytes, .. } => bytes,
                _ => {
                    return Err(UiError::plain(
                        "The file could not be read.",
                        path.display().to_string(),
                    ));
                }
            };
            if bytes.is_empty() {
                return Err(UiError::plain(
                    "The key material file is empty.",
                    path.display().to_string(),
                ));
            }
            (bytes, false)
        }
    };
    let wrapped = crate::kms::wrap_material(public_key, algorithm, plaintext.expose(), &mut rng)
        .map_err(|e| UiError::plain("The material could not be wrapped.", e.to_string()))?;
    Ok(Outcome::Prepared(Box::new(PreparedMaterial {
        wrapped,
        kcv: <&[u8; 32]>::try_from(plaintext.expose())
            .ok()
            .map(crate::kms::material::key_check_value),
        material_id: local_key
            .map(|k| crate::kms::material::key_material_id(k, plaintext.expose())),
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

/// The state of a value a job produces.
#[derive(Clone, Debug, Default)]
pub enum Async<T> {
    /// Nothing asked yet.
    #[default]
    Idle,
    /// Asked; the previous value stays visible.
    Pending {
        /// The job.
        pending: Pending<()>,
        /// What is shown until the result arrives.
        previous: Option<T>,
    },
    /// Arrived.
    Ready(T),
    /// Failed; shown inline.
    Failed(UiError),
}

impl<T: Clone> Async<T> {
    /// Submits `job` for `owner`, keeping the current value visible.
    pub fn submit(&mut self, jobs: &Jobs, owner: Owner, job: Job) {
        let previous = self.value().cloned();
        *self = Async::Pending {
            pending: Pending::submit(jobs, owner, (), job),
            previous,
        };
    }
}

impl<T> Async<T> {
    /// The value to show: the result, or the previous one while pending.
    pub fn value(&self) -> Option<&T> {
        match self {
            Async::Ready(v) => Some(v),
            Async::Pending { previous, .. } => previous.as_ref(),
            _ => None,
        }
    }

    /// The ticket being waited for.
    pub fn ticket(&self) -> Option<Ticket> {
        match self {
            Async::Pending { pending, .. } => Some(pending.ticket),
            _ => None,
        }
    }

    /// Whether a job is in flight.
    pub fn is_pending(&self) -> bool {
        matches!(self, Async::Pending { .. })
    }

    /// How long the job has been running.
    pub fn elapsed(&self) -> Option<Duration> {
        match self {
            Async::Pending { pending, .. } => Some(pending.started.elapsed()),
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

    /// Forgets the value (it no longer describes the store).
    pub fn clear(&mut self) {
        if !self.is_pending() {
            *self = Async::Idle;
        }
    }
}
