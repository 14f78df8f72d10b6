//! The engine: AWS-faithful keys with imported key material.
//!
//! Pure by design (DESIGN.md): no files, threads, network, UI or system
//! clock. Time comes from the [`Clock`] it is handed, wrapping key pairs from
//! its [`WrappingKeySource`], randomness from its seeded RNG. Every operation
//! first applies the time-driven events that fell due (SPEC §4), then runs,
//! then appends one audit record (SPEC §6) to an outbox the owner drains.

pub mod asym;
pub mod audit;
pub mod ciphertext;
pub mod clock;
mod engine;
pub mod error;
pub mod history;
pub mod legacy;
pub mod material;
pub mod model;
mod ops_account;
mod ops_asym;
mod ops_crypto;
mod ops_import;
mod ops_keys;
mod ops_mac;
mod ops_multi_region;
mod ops_policy;
mod ops_rotation;
pub mod rules;
pub mod secret;
pub mod token;
pub mod wrapping;

pub use audit::{AuditRecord, CallSource, Caller, ChainHead};
pub use ciphertext::EncryptionContext;
pub use clock::{Clock, ManualClock, Timestamp};
pub(crate) use engine::len_violation;
pub use engine::{
    Alias, Kms, KmsState, Page, RemoteCall, ScheduledDeletionOutput, Settings, TimeEvent,
};
pub use error::{ErrorKind, KmsError, KmsResult};
pub use model::*;
pub use ops_asym::{
    AsymmetricDecryptOutput, AsymmetricEncryptOutput, DataKeyPairOutput, PublicKeyOutput,
    SharedSecretOutput, SignOutput,
};
pub use ops_crypto::{
    DataKeyLength, DataKeyOutput, DecryptOutput, DecryptRequest, EncryptOutput, Inspection,
    ReEncryptOutput, ReEncryptRequest,
};
pub use ops_import::{
    ImportKeyMaterialRequest, ImportOutput, ImportParametersOutput, MAX_VALID_TO_AHEAD,
    PARAMETERS_LIFETIME,
};
pub use ops_keys::CreateKeyRequest;
pub use ops_mac::{MacOutput, hmac};
pub use ops_multi_region::{MultiRegionKeyType, ReplicateKeyRequest};
pub use ops_policy::KeyPolicies;
pub use ops_rotation::{ON_DEMAND_ROTATION_LIMIT, RotationStatus, RotationsListEntry};
pub use secret::{SecretArray, SecretText, SecretVec};
pub use wrapping::{
    GenerateOnDemand, PregeneratedKeys, WrapError, WrappingKeySource, wrap_material,
};

/// Every operation the engine implements, by its AWS name.
pub const OPERATIONS: &[&str] = &[
    "CancelKeyDeletion",
    "CreateAlias",
    "CreateKey",
    "Decrypt",
    "DeleteAlias",
    "DeleteImportedKeyMaterial",
    "DeriveSharedSecret",
    "DescribeCustomKeyStores",
    "DescribeKey",
    "DisableKey",
    "DisableKeyRotation",
    "EnableKey",
    "EnableKeyRotation",
    "Encrypt",
    "GenerateDataKey",
    "GenerateDataKeyPair",
    "GenerateDataKeyPairWithoutPlaintext",
    "GenerateDataKeyWithoutPlaintext",
    "GenerateMac",
    "GenerateRandom",
    "GetKeyPolicy",
    "GetKeyRotationStatus",
    "GetParametersForImport",
    "GetPublicKey",
    "ImportKeyMaterial",
    "ListAliases",
    "ListKeyPolicies",
    "ListKeyRotations",
    "ListKeys",
    "ListResourceTags",
    "PutKeyPolicy",
    "ReEncrypt",
    "ReplicateKey",
    "RotateKeyOnDemand",
    "ScheduleKeyDeletion",
    "Sign",
    "TagResource",
    "UntagResource",
    "UpdateAlias",
    "UpdateKeyDescription",
    "UpdatePrimaryRegion",
    "Verify",
    "VerifyMac",
];
