//! The engine's one error type: an AWS exception name and the AWS message.

use std::fmt;

/// The AWS KMS exceptions the engine raises, spelled as AWS spells them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// A member of the request breaks a constraint (length, pattern, range,
    /// or a combination the operation does not allow).
    Validation,
    /// The key or alias does not exist, or the identifier is malformed.
    NotFound,
    /// The key's state does not allow the operation.
    KmsInvalidState,
    /// The key is disabled.
    Disabled,
    /// The operation does not apply to this kind of key.
    UnsupportedOperation,
    /// The import token is unknown, forged, or for another key.
    InvalidImportToken,
    /// The import token is past its `ParametersValidTo`.
    ExpiredImportToken,
    /// Authentication of a ciphertext (or unwrapping of key material) failed.
    InvalidCiphertext,
    /// The imported bytes are not the material the request expected.
    IncorrectKeyMaterial,
    /// Decrypt was given a key that did not make the ciphertext.
    IncorrectKey,
    /// Another operation (a rotation) is in progress.
    Conflict,
    /// A limit (on-demand rotations, tags) was reached.
    LimitExceeded,
    /// An alias of that name exists already.
    AlreadyExists,
    /// A pagination marker the engine did not issue.
    InvalidMarker,
    /// An alias name that breaks the alias rules.
    InvalidAliasName,
    /// A tag that breaks the tag rules.
    Tag,
    /// The request would have succeeded, but `DryRun` was set: nothing
    /// was done (the AWS KMS Developer Guide, "Testing your AWS KMS API
    /// calls").
    DryRunOperation,
    /// No custom key store has that ID or name (byok has none).
    CustomKeyStoreNotFound,
    /// A key policy that is not a JSON policy document.
    MalformedPolicyDocument,
    /// The key's `KeyUsage` or `KeySpec` does not allow the operation or
    /// the algorithm (an HMAC key asked to encrypt; HMAC_SHA_384 on an
    /// HMAC_256 key).
    InvalidKeyUsage,
    /// VerifyMac: the MAC does not match the message, key and algorithm.
    KmsInvalidMac,
    /// Verify: the signature does not match the message, key and algorithm.
    KmsInvalidSignature,
    /// A bug or an inconsistent state; the message says which.
    KmsInternal,
}

impl ErrorKind {
    /// The exception name as AWS returns it in `__type`.
    pub fn aws_name(self) -> &'static str {
        match self {
            Self::Validation => "ValidationException",
            Self::NotFound => "NotFoundException",
            Self::KmsInvalidState => "KMSInvalidStateException",
            Self::Disabled => "DisabledException",
            Self::UnsupportedOperation => "UnsupportedOperationException",
            Self::InvalidImportToken => "InvalidImportTokenException",
            Self::ExpiredImportToken => "ExpiredImportTokenException",
            Self::InvalidCiphertext => "InvalidCiphertextException",
            Self::IncorrectKeyMaterial => "IncorrectKeyMaterialException",
            Self::IncorrectKey => "IncorrectKeyException",
            Self::Conflict => "ConflictException",
            Self::LimitExceeded => "LimitExceededException",
            Self::AlreadyExists => "AlreadyExistsException",
            Self::InvalidMarker => "InvalidMarkerException",
            Self::InvalidAliasName => "InvalidAliasNameException",
            Self::Tag => "TagException",
            Self::DryRunOperation => "DryRunOperationException",
            Self::CustomKeyStoreNotFound => "CustomKeyStoreNotFoundException",
            Self::MalformedPolicyDocument => "MalformedPolicyDocumentException",
            Self::InvalidKeyUsage => "InvalidKeyUsageException",
            Self::KmsInvalidMac => "KMSInvalidMacException",
            Self::KmsInvalidSignature => "KMSInvalidSignatureException",
            Self::KmsInternal => "KMSInternalException",
        }
    }

    /// Every kind, for lookups by name.
    pub const ALL: &'static [ErrorKind] = &[
        Self::Validation,
        Self::NotFound,
        Self::KmsInvalidState,
        Self::Disabled,
        Self::UnsupportedOperation,
        Self::InvalidImportToken,
        Self::ExpiredImportToken,
        Self::InvalidCiphertext,
        Self::IncorrectKeyMaterial,
        Self::IncorrectKey,
        Self::Conflict,
        Self::LimitExceeded,
        Self::AlreadyExists,
        Self::InvalidMarker,
        Self::InvalidAliasName,
        Self::Tag,
        Self::DryRunOperation,
        Self::CustomKeyStoreNotFound,
        Self::MalformedPolicyDocument,
        Self::InvalidKeyUsage,
        Self::KmsInvalidMac,
        Self::KmsInvalidSignature,
        Self::KmsInternal,
    ];

    /// The kind whose exception is named `name` (an answer from AWS or from
    /// the engine through the protocol).
    pub fn from_aws_name(name: &str) -> Option<ErrorKind> {
        Self::ALL.iter().copied().find(|k| k.aws_name() == name)
    }

    /// A sentence a security officer understands, for the console.
    pub fn plain_words(self) -> &'static str {
        match self {
            Self::Validation => "A value in the request is not allowed.",
            Self::NotFound => "No such key or alias.",
            Self::KmsInvalidState => "The key is not in a state that allows this.",
            Self::Disabled => "The key is disabled.",
            Self::UnsupportedOperation => "This operation does not apply to this kind of key.",
            Self::InvalidImportToken => {
                "The import token is not valid for this key (wrong file, or made for another key)."
            }
            Self::ExpiredImportToken => {
                "The import token has expired: download new import parameters and wrap the material again."
            }
            Self::InvalidCiphertext => {
                "The data could not be decrypted or unwrapped: it is damaged, was wrapped with another public key or algorithm, or is not key material of the length the key spec takes."
            }
            Self::IncorrectKeyMaterial => "This is not the key material the import expected.",
            Self::IncorrectKey => "The ciphertext was made by a different key.",
            Self::Conflict => "Another operation on this key is still in progress.",
            Self::LimitExceeded => "A limit has been reached.",
            Self::AlreadyExists => "That name is already in use.",
            Self::InvalidMarker => "The page marker is not valid.",
            Self::InvalidAliasName => "The alias name is not allowed.",
            Self::Tag => "The tag is not allowed.",
            Self::DryRunOperation => {
                "The request would have succeeded (dry run): nothing was done."
            }
            Self::CustomKeyStoreNotFound => "No such custom key store.",
            Self::MalformedPolicyDocument => "The key policy is not a valid policy document.",
            Self::InvalidKeyUsage => {
                "This key cannot do that: its key usage or key spec allows other operations or algorithms."
            }
            Self::KmsInvalidMac => {
                "The MAC does not match: the message, the key or the MAC algorithm differs from the one that made it."
            }
            Self::KmsInvalidSignature => {
                "The signature does not match: the message, the key or the signing algorithm differs from the one that made it."
            }
            Self::KmsInternal => "byok hit an internal error.",
        }
    }
}

/// An error from the engine: which AWS exception, and the AWS message.
#[derive(Clone, PartialEq, Eq)]
pub struct KmsError {
    kind: ErrorKind,
    message: String,
}

impl KmsError {
    /// An error of `kind` with `message`.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
        }
    }

    /// Which exception.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The AWS exception name (`KMSInvalidStateException`, ...).
    pub fn aws_name(&self) -> &'static str {
        self.kind.aws_name()
    }

    /// The AWS message text (empty for `InvalidCiphertextException`).
    pub fn message(&self) -> &str {
        &self.message
    }

    pub(crate) fn validation(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Validation, message)
    }

    /// `1 validation error detected: Value '<value>' at '<member>' failed to
    /// satisfy constraint: <constraint>`, the shape of AWS's constraint
    /// messages. AWS quotes the value of every member except the sensitive
    /// ones (`Plaintext`) and blobs; for those `value` is `None` and the
    /// message reads `Value at '<member>'`.
    pub(crate) fn constraint(member: &str, value: Option<&str>, constraint: &str) -> Self {
        Self::violations(&[violation(member, value, constraint)])
    }

    /// The ValidationException for one or more constraint violations, each
    /// written by [`violation`]: `1 validation error detected: <v>`, or
    /// `<n> validation errors detected: <v1>; <v2>` as AWS joins them.
    pub(crate) fn violations(list: &[String]) -> Self {
        let n = list.len();
        let noun = if n == 1 { "error" } else { "errors" };
        Self::validation(format!(
            "{n} validation {noun} detected: {}",
            list.join("; ")
        ))
    }

    /// The opaque ciphertext failure: no detail on purpose.
    pub(crate) fn invalid_ciphertext() -> Self {
        Self::new(ErrorKind::InvalidCiphertext, "")
    }

    /// The answer to a dry run that would have succeeded, in AWS's words
    /// (recorded against AWS: localstack/localstack
    /// tests/aws/services/kms/test_kms.snapshot.json,
    /// `test_generate_data_key_pair_dry_run`).
    pub(crate) fn dry_run() -> Self {
        Self::new(
            ErrorKind::DryRunOperation,
            "The request would have succeeded, but the DryRun option is set.",
        )
    }

    pub(crate) fn internal(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::KmsInternal, message)
    }
}

impl fmt::Debug for KmsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.aws_name(), self.message)
    }
}

impl fmt::Display for KmsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.message.is_empty() {
            f.write_str(self.aws_name())
        } else {
            write!(f, "{}: {}", self.aws_name(), self.message)
        }
    }
}

impl std::error::Error for KmsError {}

/// One constraint violation as AWS words it inside a ValidationException:
/// `Value '<value>' at '<member>' failed to satisfy constraint:
/// <constraint>`, or `Value at '<member>' ...` when the value is not shown
/// (sensitive members and blobs: `value` is `None`).
pub(crate) fn violation(member: &str, value: Option<&str>, constraint: &str) -> String {
    match value {
        Some(v) => format!("Value '{v}' at '{member}' failed to satisfy constraint: {constraint}"),
        None => format!("Value at '{member}' failed to satisfy constraint: {constraint}"),
    }
}

/// The violation of a required member that the request leaves out:
/// `Value null at '<member>' failed to satisfy constraint: Member must not
/// be null`.
pub(crate) fn null_violation(member: &str) -> String {
    format!("Value null at '{member}' failed to satisfy constraint: Member must not be null")
}

/// The constraint violations found in one request, reported together in one
/// ValidationException as AWS reports them.
#[derive(Debug, Default)]
pub(crate) struct Violations(Vec<String>);

impl Violations {
    /// Adds a violation, if there is one.
    pub(crate) fn add(&mut self, v: Option<String>) {
        self.0.extend(v);
    }

    /// `Ok` when nothing was found; otherwise the ValidationException that
    /// lists every violation.
    pub(crate) fn check(self) -> KmsResult<()> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(KmsError::violations(&self.0))
        }
    }
}

/// Result of an engine operation.
pub type KmsResult<T> = Result<T, KmsError>;
