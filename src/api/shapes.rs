//! The AWS JSON request and response shapes (PascalCase members, base64
//! blobs, epoch-second timestamps) for every operation the engine has.
//!
//! Request members are all optional here so that a missing required member
//! is answered with AWS's own ValidationException text rather than a
//! deserialisation error.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::wire::{Blob, OutBlob, SecretBlob, Time};
use crate::kms::{Alias, Key, Kms, RotationsListEntry, Tag};

/// `{"TagKey", "TagValue"}`.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct TagShape {
    /// `TagKey`.
    pub tag_key: Option<String>,
    /// `TagValue`.
    pub tag_value: Option<String>,
}

macro_rules! request {
    ($(#[$m:meta])* $name:ident { $($(#[$fm:meta])* $field:ident : $ty:ty),* $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Default, Deserialize)]
        #[serde(rename_all = "PascalCase")]
        pub struct $name { $($(#[$fm])* pub $field: Option<$ty>),* }
    };
}

request!(
    /// CreateKey.
    CreateKeyInput {
        /// `Description`.
        description: String,
        /// `KeyUsage`.
        key_usage: String,
        /// `KeySpec`.
        key_spec: String,
        /// `CustomerMasterKeySpec` (deprecated alias of `KeySpec`).
        customer_master_key_spec: String,
        /// `Origin`.
        origin: String,
        /// `Tags`.
        tags: Vec<TagShape>,
        /// `MultiRegion`.
        multi_region: bool,
        /// `Policy` (accepted, not enforced).
        policy: String,
        /// `CustomKeyStoreId`.
        custom_key_store_id: String,
    }
);

request!(
    /// Requests that name only a key: DescribeKey, EnableKey, DisableKey,
    /// RotateKeyOnDemand, GetKeyRotationStatus, CancelKeyDeletion,
    /// DisableKeyRotation.
    KeyIdInput {
        /// `KeyId`.
        key_id: String,
    }
);

request!(
    /// ListKeys.
    ListKeysInput {
        /// `Limit`.
        limit: i64,
        /// `Marker`.
        marker: String,
    }
);

request!(
    /// GetParametersForImport.
    GetParametersForImportInput {
        /// `KeyId`.
        key_id: String,
        /// `WrappingAlgorithm`.
        wrapping_algorithm: String,
        /// `WrappingKeySpec`.
        wrapping_key_spec: String,
    }
);

request!(
    /// ImportKeyMaterial.
    ImportKeyMaterialInput {
        /// `KeyId`.
        key_id: String,
        /// `ImportToken`.
        import_token: Blob,
        /// `EncryptedKeyMaterial`.
        encrypted_key_material: Blob,
        /// `ValidTo`.
        valid_to: Time,
        /// `ExpirationModel`.
        expiration_model: String,
        /// `ImportType`.
        import_type: String,
        /// `KeyMaterialDescription`.
        key_material_description: String,
        /// `KeyMaterialId`.
        key_material_id: String,
    }
);

request!(
    /// DeleteImportedKeyMaterial.
    DeleteImportedKeyMaterialInput {
        /// `KeyId`.
        key_id: String,
        /// `KeyMaterialId`.
        key_material_id: String,
    }
);

request!(
    /// EnableKeyRotation.
    EnableKeyRotationInput {
        /// `KeyId`.
        key_id: String,
        /// `RotationPeriodInDays`.
        rotation_period_in_days: i64,
    }
);

request!(
    /// ListKeyRotations.
    ListKeyRotationsInput {
        /// `KeyId`.
        key_id: String,
        /// `IncludeKeyMaterial`.
        include_key_material: String,
        /// `Limit`.
        limit: i64,
        /// `Marker`.
        marker: String,
    }
);

request!(
    /// Encrypt.
    EncryptInput {
        /// `KeyId`.
        key_id: String,
        /// `Plaintext`.
        plaintext: Blob,
        /// `EncryptionContext`.
        encryption_context: BTreeMap<String, String>,
        /// `EncryptionAlgorithm`.
        encryption_algorithm: String,
        /// `GrantTokens` (accepted, not used).
        grant_tokens: Vec<String>,
    }
);

request!(
    /// Decrypt.
    DecryptInput {
        /// `CiphertextBlob`.
        ciphertext_blob: Blob,
        /// `EncryptionContext`.
        encryption_context: BTreeMap<String, String>,
        /// `KeyId`.
        key_id: String,
        /// `EncryptionAlgorithm`.
        encryption_algorithm: String,
        /// `GrantTokens` (accepted, not used).
        grant_tokens: Vec<String>,
    }
);

request!(
    /// ReEncrypt.
    ReEncryptInput {
        /// `CiphertextBlob`.
        ciphertext_blob: Blob,
        /// `SourceEncryptionContext`.
        source_encryption_context: BTreeMap<String, String>,
        /// `SourceKeyId`.
        source_key_id: String,
        /// `DestinationKeyId`.
        destination_key_id: String,
        /// `DestinationEncryptionContext`.
        destination_encryption_context: BTreeMap<String, String>,
        /// `SourceEncryptionAlgorithm`.
        source_encryption_algorithm: String,
        /// `DestinationEncryptionAlgorithm`.
        destination_encryption_algorithm: String,
        /// `GrantTokens` (accepted, not used).
        grant_tokens: Vec<String>,
    }
);

request!(
    /// GenerateDataKey and GenerateDataKeyWithoutPlaintext.
    GenerateDataKeyInput {
        /// `KeyId`.
        key_id: String,
        /// `EncryptionContext`.
        encryption_context: BTreeMap<String, String>,
        /// `NumberOfBytes`.
        number_of_bytes: i64,
        /// `KeySpec`.
        key_spec: String,
        /// `GrantTokens` (accepted, not used).
        grant_tokens: Vec<String>,
    }
);

request!(
    /// ScheduleKeyDeletion.
    ScheduleKeyDeletionInput {
        /// `KeyId`.
        key_id: String,
        /// `PendingWindowInDays`.
        pending_window_in_days: i64,
    }
);

request!(
    /// CreateAlias and UpdateAlias.
    AliasInput {
        /// `AliasName`.
        alias_name: String,
        /// `TargetKeyId`.
        target_key_id: String,
    }
);

request!(
    /// ListAliases.
    ListAliasesInput {
        /// `KeyId`.
        key_id: String,
        /// `Limit`.
        limit: i64,
        /// `Marker`.
        marker: String,
    }
);

request!(
    /// TagResource.
    TagResourceInput {
        /// `KeyId`.
        key_id: String,
        /// `Tags`.
        tags: Vec<TagShape>,
    }
);

request!(
    /// UntagResource.
    UntagResourceInput {
        /// `KeyId`.
        key_id: String,
        /// `TagKeys`.
        tag_keys: Vec<String>,
    }
);

request!(
    /// ListResourceTags.
    ListResourceTagsInput {
        /// `KeyId`.
        key_id: String,
        /// `Limit`.
        limit: i64,
        /// `Marker`.
        marker: String,
    }
);

request!(
    /// UpdateKeyDescription.
    UpdateKeyDescriptionInput {
        /// `KeyId`.
        key_id: String,
        /// `Description`.
        description: String,
    }
);

/// `KeyMetadata`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct KeyMetadata {
    /// `AWSAccountId`.
    #[serde(rename = "AWSAccountId")]
    pub aws_account_id: String,
    /// `KeyId` (bare).
    pub key_id: String,
    /// `Arn`.
    pub arn: String,
    /// `CreationDate`.
    pub creation_date: Time,
    /// `Enabled` (true iff the state is `Enabled`).
    pub enabled: bool,
    /// `Description`.
    pub description: String,
    /// `KeyUsage`.
    pub key_usage: &'static str,
    /// `KeyState`.
    pub key_state: &'static str,
    /// `DeletionDate`, when pending deletion.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deletion_date: Option<Time>,
    /// `ValidTo`: the earliest over imported permanently associated materials.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub valid_to: Option<Time>,
    /// `Origin`.
    pub origin: &'static str,
    /// `ExpirationModel`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expiration_model: Option<&'static str>,
    /// `KeyManager`.
    pub key_manager: &'static str,
    /// `CustomerMasterKeySpec`.
    pub customer_master_key_spec: &'static str,
    /// `KeySpec`.
    pub key_spec: &'static str,
    /// `EncryptionAlgorithms`.
    pub encryption_algorithms: [&'static str; 1],
    /// `MultiRegion`.
    pub multi_region: bool,
    /// `CurrentKeyMaterialId`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub current_key_material_id: Option<String>,
}

impl KeyMetadata {
    /// The metadata of `key` as DescribeKey returns it.
    pub fn of(kms: &Kms, key: &Key) -> Self {
        let state = key.state();
        Self {
            aws_account_id: kms.settings().account_id.clone(),
            key_id: key.id().to_string(),
            arn: kms.arn(key.id()),
            creation_date: Time(key.creation_date()),
            enabled: state == crate::kms::KeyState::Enabled,
            description: key.description().to_string(),
            key_usage: "ENCRYPT_DECRYPT",
            key_state: state.as_str(),
            deletion_date: key.deletion().map(|d| Time(d.deletion_date)),
            valid_to: key.valid_to().map(Time),
            origin: key.origin().as_str(),
            expiration_model: key.expiration_model().map(|e| e.as_str()),
            key_manager: "CUSTOMER",
            customer_master_key_spec: "SYMMETRIC_DEFAULT",
            key_spec: "SYMMETRIC_DEFAULT",
            encryption_algorithms: ["SYMMETRIC_DEFAULT"],
            multi_region: false,
            current_key_material_id: key.current_key_material_id().map(|id| id.to_string()),
        }
    }
}

/// `{"KeyMetadata": ...}` (CreateKey, DescribeKey).
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct KeyMetadataOutput {
    /// `KeyMetadata`.
    pub key_metadata: KeyMetadata,
}

/// A `KeyListEntry`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct KeyListEntry {
    /// `KeyId`.
    pub key_id: String,
    /// `KeyArn`.
    pub key_arn: String,
}

/// ListKeys's output.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListKeysOutput {
    /// `Keys`.
    pub keys: Vec<KeyListEntry>,
    /// `NextMarker`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_marker: Option<String>,
    /// `Truncated`.
    pub truncated: bool,
}

/// GetParametersForImport's output.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetParametersForImportOutput<'a> {
    /// `KeyId` (ARN).
    pub key_id: String,
    /// `ImportToken`.
    pub import_token: OutBlob<'a>,
    /// `PublicKey`.
    pub public_key: OutBlob<'a>,
    /// `ParametersValidTo`.
    pub parameters_valid_to: Time,
}

/// `{"KeyId", "KeyMaterialId"}` (ImportKeyMaterial, DeleteImportedKeyMaterial).
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct KeyMaterialOutput {
    /// `KeyId` (ARN).
    pub key_id: String,
    /// `KeyMaterialId`.
    pub key_material_id: String,
}

/// `{"KeyId"}` (RotateKeyOnDemand, CancelKeyDeletion).
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct KeyIdOutput {
    /// `KeyId` (ARN).
    pub key_id: String,
}

/// GetKeyRotationStatus's output.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetKeyRotationStatusOutput {
    /// `KeyRotationEnabled`.
    pub key_rotation_enabled: bool,
    /// `KeyId` (ARN).
    pub key_id: String,
    /// `RotationPeriodInDays`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rotation_period_in_days: Option<u32>,
    /// `NextRotationDate`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_rotation_date: Option<Time>,
    /// `OnDemandRotationStartDate`, only while a rotation is in progress.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub on_demand_rotation_start_date: Option<Time>,
}

/// A `RotationsListEntry` on the wire.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct RotationsListEntryShape {
    /// `KeyId` (bare).
    pub key_id: String,
    /// `KeyMaterialId`.
    pub key_material_id: String,
    /// `KeyMaterialDescription`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_material_description: Option<String>,
    /// `ImportState`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub import_state: Option<&'static str>,
    /// `KeyMaterialState`.
    pub key_material_state: &'static str,
    /// `ExpirationModel`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expiration_model: Option<&'static str>,
    /// `ValidTo`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub valid_to: Option<Time>,
    /// `RotationDate`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rotation_date: Option<Time>,
    /// `RotationType`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rotation_type: Option<&'static str>,
}

impl From<&RotationsListEntry> for RotationsListEntryShape {
    fn from(e: &RotationsListEntry) -> Self {
        Self {
            key_id: e.key_id.to_string(),
            key_material_id: e.key_material_id.to_string(),
            key_material_description: e.key_material_description.clone(),
            import_state: e.import_state.map(|s| s.as_str()),
            key_material_state: e.key_material_state.as_str(),
            expiration_model: e.expiration_model.map(|s| s.as_str()),
            valid_to: e.valid_to.map(Time),
            rotation_date: e.rotation_date.map(Time),
            rotation_type: e.rotation_type.map(|t| t.as_str()),
        }
    }
}

/// ListKeyRotations's output.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListKeyRotationsOutput {
    /// `Rotations`.
    pub rotations: Vec<RotationsListEntryShape>,
    /// `NextMarker`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_marker: Option<String>,
    /// `Truncated`.
    pub truncated: bool,
}

/// Encrypt's output.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct EncryptOutputShape<'a> {
    /// `CiphertextBlob`.
    pub ciphertext_blob: OutBlob<'a>,
    /// `KeyId` (ARN).
    pub key_id: String,
    /// `EncryptionAlgorithm`.
    pub encryption_algorithm: &'static str,
}

/// Decrypt's output.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DecryptOutputShape<'a> {
    /// `KeyId` (ARN).
    pub key_id: String,
    /// `Plaintext`.
    pub plaintext: SecretBlob<'a>,
    /// `EncryptionAlgorithm`.
    pub encryption_algorithm: &'static str,
    /// `KeyMaterialId`.
    pub key_material_id: String,
}

/// ReEncrypt's output.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ReEncryptOutputShape<'a> {
    /// `CiphertextBlob`.
    pub ciphertext_blob: OutBlob<'a>,
    /// `SourceKeyId` (ARN).
    pub source_key_id: String,
    /// `KeyId` (ARN).
    pub key_id: String,
    /// `SourceEncryptionAlgorithm`.
    pub source_encryption_algorithm: &'static str,
    /// `DestinationEncryptionAlgorithm`.
    pub destination_encryption_algorithm: &'static str,
    /// `SourceKeyMaterialId`.
    pub source_key_material_id: String,
    /// `DestinationKeyMaterialId`.
    pub destination_key_material_id: String,
}

/// GenerateDataKey(WithoutPlaintext)'s output.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct GenerateDataKeyOutputShape<'a> {
    /// `CiphertextBlob`.
    pub ciphertext_blob: OutBlob<'a>,
    /// `Plaintext` (GenerateDataKey only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plaintext: Option<SecretBlob<'a>>,
    /// `KeyId` (ARN).
    pub key_id: String,
    /// `KeyMaterialId`.
    pub key_material_id: String,
}

/// ScheduleKeyDeletion's output.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ScheduleKeyDeletionOutputShape {
    /// `KeyId` (ARN).
    pub key_id: String,
    /// `DeletionDate`.
    pub deletion_date: Time,
    /// `KeyState`.
    pub key_state: &'static str,
    /// `PendingWindowInDays`.
    pub pending_window_in_days: u32,
}

/// An `AliasListEntry`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AliasListEntry {
    /// `AliasName`.
    pub alias_name: String,
    /// `AliasArn`.
    pub alias_arn: String,
    /// `TargetKeyId`.
    pub target_key_id: String,
    /// `CreationDate`.
    pub creation_date: Time,
    /// `LastUpdatedDate`.
    pub last_updated_date: Time,
}

impl AliasListEntry {
    /// The wire form of `alias`.
    pub fn of(kms: &Kms, a: &Alias) -> Self {
        Self {
            alias_name: a.name.clone(),
            alias_arn: kms.alias_arn(&a.name),
            target_key_id: a.target.to_string(),
            creation_date: Time(a.creation_date),
            last_updated_date: Time(a.last_updated_date),
        }
    }
}

/// ListAliases's output.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListAliasesOutput {
    /// `Aliases`.
    pub aliases: Vec<AliasListEntry>,
    /// `NextMarker`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_marker: Option<String>,
    /// `Truncated`.
    pub truncated: bool,
}

/// ListResourceTags's output.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListResourceTagsOutput {
    /// `Tags`.
    pub tags: Vec<TagShape>,
    /// `NextMarker`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_marker: Option<String>,
    /// `Truncated`.
    pub truncated: bool,
}

impl From<&Tag> for TagShape {
    fn from(t: &Tag) -> Self {
        Self {
            tag_key: Some(t.key.clone()),
            tag_value: Some(t.value.clone()),
        }
    }
}

/// `{}`: operations with no output members.
#[derive(Debug, Serialize)]
pub struct Empty {}
