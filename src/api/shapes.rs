//! The AWS JSON request and response shapes (PascalCase members, base64
//! blobs, epoch-second timestamps) for every operation the engine has.
//!
//! Request members are all optional here so that a missing required member
//! is answered with AWS's own ValidationException text rather than a
//! deserialisation error.
//!
//! Every shape goes both ways: the engine's [`dispatch`](super::dispatch)
//! reads requests and writes responses, and a client of any backend (the
//! console, the CLI, the AWS backend translating to and from the SDK)
//! writes requests and reads responses. Output shapes read with
//! `#[serde(default)]`, so a member AWS leaves out never fails a parse.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::wire::{Blob, Time};
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
        #[derive(Clone, Debug, Default, Deserialize, Serialize)]
        #[serde(rename_all = "PascalCase")]
        pub struct $name {
            $($(#[$fm])*
            #[serde(skip_serializing_if = "Option::is_none")]
            pub $field: Option<$ty>),*
        }
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
        /// `DryRun`: check, answer `DryRunOperationException`, do nothing.
        dry_run: bool,
    }
);

request!(
    /// GenerateMac.
    GenerateMacInput {
        /// `Message` (1..4096 bytes, sensitive).
        message: Blob,
        /// `KeyId`.
        key_id: String,
        /// `MacAlgorithm`.
        mac_algorithm: String,
        /// `GrantTokens` (accepted, not used).
        grant_tokens: Vec<String>,
        /// `DryRun`: check, answer `DryRunOperationException`, do nothing.
        dry_run: bool,
    }
);

request!(
    /// Sign.
    SignInput {
        /// `KeyId`.
        key_id: String,
        /// `Message` (1..4096 bytes, sensitive).
        message: Blob,
        /// `MessageType` (RAW default, DIGEST).
        message_type: String,
        /// `GrantTokens` (accepted, not used).
        grant_tokens: Vec<String>,
        /// `SigningAlgorithm`.
        signing_algorithm: String,
        /// `DryRun`.
        dry_run: bool,
    }
);

request!(
    /// Verify.
    VerifyInput {
        /// `KeyId`.
        key_id: String,
        /// `Message` (1..4096 bytes, sensitive).
        message: Blob,
        /// `MessageType` (RAW default, DIGEST).
        message_type: String,
        /// `Signature` (1..6144 bytes).
        signature: Blob,
        /// `SigningAlgorithm`.
        signing_algorithm: String,
        /// `GrantTokens` (accepted, not used).
        grant_tokens: Vec<String>,
        /// `DryRun`.
        dry_run: bool,
    }
);

request!(
    /// GetPublicKey.
    GetPublicKeyInput {
        /// `KeyId`.
        key_id: String,
        /// `GrantTokens` (accepted, not used).
        grant_tokens: Vec<String>,
    }
);

request!(
    /// DeriveSharedSecret.
    DeriveSharedSecretInput {
        /// `KeyId`.
        key_id: String,
        /// `KeyAgreementAlgorithm` (ECDH).
        key_agreement_algorithm: String,
        /// `PublicKey`: the peer's DER SubjectPublicKeyInfo.
        public_key: Blob,
        /// `GrantTokens` (accepted, not used).
        grant_tokens: Vec<String>,
        /// `DryRun`.
        dry_run: bool,
        /// `Recipient` (Nitro Enclaves attestation; not supported).
        recipient: serde_json::Value,
    }
);

request!(
    /// GenerateDataKeyPair and GenerateDataKeyPairWithoutPlaintext.
    GenerateDataKeyPairInput {
        /// `EncryptionContext`.
        encryption_context: BTreeMap<String, String>,
        /// `KeyId` (a symmetric encryption key).
        key_id: String,
        /// `KeyPairSpec`.
        key_pair_spec: String,
        /// `GrantTokens` (accepted, not used).
        grant_tokens: Vec<String>,
        /// `Recipient` (Nitro Enclaves attestation; not supported).
        recipient: serde_json::Value,
        /// `DryRun`.
        dry_run: bool,
    }
);

request!(
    /// VerifyMac.
    VerifyMacInput {
        /// `Message` (1..4096 bytes, sensitive).
        message: Blob,
        /// `KeyId`.
        key_id: String,
        /// `MacAlgorithm`.
        mac_algorithm: String,
        /// `Mac` (1..6144 bytes).
        mac: Blob,
        /// `GrantTokens` (accepted, not used).
        grant_tokens: Vec<String>,
        /// `DryRun`: check, answer `DryRunOperationException`, do nothing.
        dry_run: bool,
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
        /// `DryRun`: check, answer `DryRunOperationException`, do nothing.
        dry_run: bool,
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
        /// `DryRun`: check, answer `DryRunOperationException`, do nothing.
        dry_run: bool,
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
        /// `DryRun`: check, answer `DryRunOperationException`, do nothing.
        dry_run: bool,
    }
);

request!(
    /// ReplicateKey.
    ReplicateKeyInput {
        /// `KeyId`.
        key_id: String,
        /// `ReplicaRegion`.
        replica_region: String,
        /// `Policy`.
        policy: String,
        /// `BypassPolicyLockoutSafetyCheck`.
        bypass_policy_lockout_safety_check: bool,
        /// `Description`.
        description: String,
        /// `Tags`.
        tags: Vec<TagShape>,
    }
);

request!(
    /// UpdatePrimaryRegion.
    UpdatePrimaryRegionInput {
        /// `KeyId`.
        key_id: String,
        /// `PrimaryRegion`.
        primary_region: String,
    }
);

/// ReplicateKey's output: `ReplicaKeyMetadata`, `ReplicaPolicy`,
/// `ReplicaTags`.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ReplicateKeyOutput {
    /// `ReplicaKeyMetadata`.
    pub replica_key_metadata: KeyMetadata,
    /// `ReplicaPolicy`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replica_policy: Option<String>,
    /// `ReplicaTags`.
    pub replica_tags: Vec<TagShape>,
}

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

request!(
    /// GenerateRandom.
    GenerateRandomInput {
        /// `NumberOfBytes`.
        number_of_bytes: i64,
        /// `CustomKeyStoreId`.
        custom_key_store_id: String,
    }
);

request!(
    /// DescribeCustomKeyStores.
    DescribeCustomKeyStoresInput {
        /// `CustomKeyStoreId`.
        custom_key_store_id: String,
        /// `CustomKeyStoreName`.
        custom_key_store_name: String,
        /// `Limit`.
        limit: i64,
        /// `Marker`.
        marker: String,
    }
);

/// `MultiRegionConfiguration` (`PrimaryKey`, `ReplicaKeys`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct MultiRegionConfiguration {
    /// `MultiRegionKeyType`: `PRIMARY` or `REPLICA`.
    pub multi_region_key_type: String,
    /// `PrimaryKey`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub primary_key: Option<MultiRegionKey>,
    /// `ReplicaKeys`.
    pub replica_keys: Vec<MultiRegionKey>,
}

/// `MultiRegionKey` (`Arn`, `Region`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct MultiRegionKey {
    /// `Arn`.
    pub arn: String,
    /// `Region`.
    pub region: String,
}

/// `KeyMetadata`.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase", default)]
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
    pub key_usage: String,
    /// `KeyState`.
    pub key_state: String,
    /// `DeletionDate`, when pending deletion.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deletion_date: Option<Time>,
    /// `ValidTo`: the earliest over imported permanently associated materials.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub valid_to: Option<Time>,
    /// `Origin`.
    pub origin: String,
    /// `CustomKeyStoreId` (keys in a custom key store).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub custom_key_store_id: Option<String>,
    /// `CloudHsmClusterId` (keys in a CloudHSM key store).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cloud_hsm_cluster_id: Option<String>,
    /// `ExpirationModel`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expiration_model: Option<String>,
    /// `KeyManager` (`CUSTOMER` or `AWS`).
    pub key_manager: String,
    /// `CustomerMasterKeySpec`.
    pub customer_master_key_spec: String,
    /// `KeySpec`.
    pub key_spec: String,
    /// `EncryptionAlgorithms` (encryption keys only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub encryption_algorithms: Option<Vec<String>>,
    /// `SigningAlgorithms` (signing keys only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signing_algorithms: Option<Vec<String>>,
    /// `KeyAgreementAlgorithms` (key agreement keys only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_agreement_algorithms: Option<Vec<String>>,
    /// `MultiRegion`.
    pub multi_region: bool,
    /// `MultiRegionConfiguration` (multi-Region keys only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub multi_region_configuration: Option<MultiRegionConfiguration>,
    /// `PendingDeletionWindowInDays`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pending_deletion_window_in_days: Option<u32>,
    /// `MacAlgorithms` (HMAC keys only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mac_algorithms: Option<Vec<String>>,
    /// `CurrentKeyMaterialId`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub current_key_material_id: Option<String>,
}

impl KeyMetadata {
    /// The metadata of `key` as DescribeKey returns it.
    pub fn of(kms: &Kms, key: &Key) -> Self {
        let state = key.state();
        let algorithms = crate::kms::asym::algorithms_for(key.key_spec(), key.key_usage());
        Self {
            aws_account_id: kms.settings().account_id.clone(),
            key_id: key.id().to_string(),
            arn: kms.arn(key.id()),
            creation_date: Time(key.creation_date()),
            enabled: state == crate::kms::KeyState::Enabled,
            description: key.description().to_string(),
            key_usage: key.key_usage().as_str().into(),
            key_state: kms.key_state_name(key.id()).into(),
            // PendingReplicaDeletion: no DeletionDate yet, the waiting
            // period in PendingDeletionWindowInDays (API reference,
            // KeyMetadata).
            deletion_date: key
                .deletion()
                .filter(|_| !kms.is_pending_replica_deletion(key.id()))
                .map(|d| Time(d.deletion_date)),
            pending_deletion_window_in_days: key
                .deletion()
                .filter(|_| kms.is_pending_replica_deletion(key.id()))
                .map(|d| d.pending_window_days),
            valid_to: key.valid_to().map(Time),
            origin: key.origin().as_str().into(),
            expiration_model: key.expiration_model().map(|e| e.as_str().into()),
            key_manager: "CUSTOMER".into(),
            customer_master_key_spec: key.key_spec().as_str().into(),
            key_spec: key.key_spec().as_str().into(),
            // EncryptionAlgorithms for encryption keys, SigningAlgorithms for
            // signing keys, KeyAgreementAlgorithms for key agreement keys,
            // MacAlgorithms for HMAC keys (the DescribeKey API reference's
            // KeyMetadata), each only when the key has some.
            encryption_algorithms: non_empty(algorithms.0),
            signing_algorithms: non_empty(algorithms.1),
            key_agreement_algorithms: non_empty(algorithms.2),
            mac_algorithms: key
                .key_spec()
                .mac_algorithm()
                .map(|a| vec![a.as_str().into()]),
            multi_region: key.id().is_multi_region(),
            multi_region_configuration: multi_region_configuration(kms, key),
            current_key_material_id: key.current_key_material_id().map(|id| id.to_string()),
            ..Self::default()
        }
    }
}

/// DescribeKey's `MultiRegionConfiguration` of a multi-Region key (of the
/// active region): its type, the primary key and every replica key, each
/// with its ARN and region (API reference, `MultiRegionConfiguration`).
fn multi_region_configuration(kms: &Kms, key: &Key) -> Option<MultiRegionConfiguration> {
    let id = key.id();
    let kind = kms.multi_region_key_type(id)?;
    let primary = kms.primary_region(id)?.to_string();
    Some(MultiRegionConfiguration {
        multi_region_key_type: kind.as_str().into(),
        primary_key: Some(MultiRegionKey {
            arn: kms.arn_in(&primary, id),
            region: primary,
        }),
        replica_keys: kms
            .replica_regions(id)
            .into_iter()
            .map(|region| MultiRegionKey {
                arn: kms.arn_in(&region, id),
                region,
            })
            .collect(),
    })
}

fn is_epoch(t: &Time) -> bool {
    *t == Time::default()
}

/// `Some(list)` unless the list is empty (absent members stay absent).
pub fn non_empty(list: Vec<String>) -> Option<Vec<String>> {
    (!list.is_empty()).then_some(list)
}

/// `{"KeyMetadata": ...}` (CreateKey, DescribeKey).
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct KeyMetadataOutput {
    /// `KeyMetadata`.
    pub key_metadata: KeyMetadata,
}

/// A `KeyListEntry`.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct KeyListEntry {
    /// `KeyId`.
    pub key_id: String,
    /// `KeyArn`.
    pub key_arn: String,
}

/// ListKeys's output.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase", default)]
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
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct GetParametersForImportOutput {
    /// `KeyId` (ARN).
    pub key_id: String,
    /// `ImportToken`.
    pub import_token: Blob,
    /// `PublicKey`.
    pub public_key: Blob,
    /// `ParametersValidTo`.
    pub parameters_valid_to: Time,
}

/// `{"KeyId", "KeyMaterialId"}` (ImportKeyMaterial, DeleteImportedKeyMaterial).
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct KeyMaterialOutput {
    /// `KeyId` (ARN).
    pub key_id: String,
    /// `KeyMaterialId`.
    pub key_material_id: String,
}

/// `{"KeyId"}` (RotateKeyOnDemand, CancelKeyDeletion).
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct KeyIdOutput {
    /// `KeyId` (ARN).
    pub key_id: String,
}

/// GetKeyRotationStatus's output.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase", default)]
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
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase", default)]
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
    pub import_state: Option<String>,
    /// `KeyMaterialState`.
    pub key_material_state: String,
    /// `ExpirationModel`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expiration_model: Option<String>,
    /// `ValidTo`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub valid_to: Option<Time>,
    /// `RotationDate`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rotation_date: Option<Time>,
    /// `RotationType`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rotation_type: Option<String>,
}

impl From<&RotationsListEntry> for RotationsListEntryShape {
    fn from(e: &RotationsListEntry) -> Self {
        Self {
            key_id: e.key_id.to_string(),
            key_material_id: e.key_material_id.to_string(),
            key_material_description: e.key_material_description.clone(),
            import_state: e.import_state.map(|s| s.as_str().into()),
            key_material_state: e.key_material_state.as_str().into(),
            expiration_model: e.expiration_model.map(|s| s.as_str().into()),
            valid_to: e.valid_to.map(Time),
            rotation_date: e.rotation_date.map(Time),
            rotation_type: e.rotation_type.map(|t| t.as_str().into()),
        }
    }
}

/// ListKeyRotations's output.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase", default)]
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
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct EncryptOutputShape {
    /// `CiphertextBlob`.
    pub ciphertext_blob: Blob,
    /// `KeyId` (ARN).
    pub key_id: String,
    /// `EncryptionAlgorithm`.
    pub encryption_algorithm: String,
}

/// GenerateMac's output (members in the AWS model's order).
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct GenerateMacOutputShape {
    /// `Mac`.
    pub mac: Blob,
    /// `MacAlgorithm`.
    pub mac_algorithm: String,
    /// `KeyId` (ARN).
    pub key_id: String,
}

/// GenerateDataKeyPair's and GenerateDataKeyPairWithoutPlaintext's output.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct GenerateDataKeyPairOutputShape {
    /// `PrivateKeyCiphertextBlob`.
    pub private_key_ciphertext_blob: Blob,
    /// `PrivateKeyPlaintext` (GenerateDataKeyPair only; sensitive).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub private_key_plaintext: Option<Blob>,
    /// `PublicKey`.
    pub public_key: Blob,
    /// `KeyId` (ARN).
    pub key_id: String,
    /// `KeyPairSpec`.
    pub key_pair_spec: String,
    /// `KeyMaterialId`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_material_id: Option<String>,
}

/// Sign's output (members in the AWS model's order).
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct SignOutputShape {
    /// `KeyId` (ARN).
    pub key_id: String,
    /// `Signature`.
    pub signature: Blob,
    /// `SigningAlgorithm`.
    pub signing_algorithm: String,
}

/// Verify's output.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct VerifyOutputShape {
    /// `KeyId` (ARN).
    pub key_id: String,
    /// `SignatureValid`.
    pub signature_valid: bool,
    /// `SigningAlgorithm`.
    pub signing_algorithm: String,
}

/// GetPublicKey's output.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct GetPublicKeyOutputShape {
    /// `KeyId` (ARN).
    pub key_id: String,
    /// `PublicKey` (DER SubjectPublicKeyInfo).
    pub public_key: Blob,
    /// `CustomerMasterKeySpec`.
    pub customer_master_key_spec: String,
    /// `KeySpec`.
    pub key_spec: String,
    /// `KeyUsage`.
    pub key_usage: String,
    /// `EncryptionAlgorithms` (ENCRYPT_DECRYPT keys).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub encryption_algorithms: Option<Vec<String>>,
    /// `SigningAlgorithms` (SIGN_VERIFY keys).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signing_algorithms: Option<Vec<String>>,
    /// `KeyAgreementAlgorithms` (KEY_AGREEMENT keys).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_agreement_algorithms: Option<Vec<String>>,
}

/// DeriveSharedSecret's output.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct DeriveSharedSecretOutputShape {
    /// `KeyId` (ARN).
    pub key_id: String,
    /// `SharedSecret` (sensitive).
    pub shared_secret: Blob,
    /// `KeyAgreementAlgorithm`.
    pub key_agreement_algorithm: String,
    /// `KeyOrigin`.
    pub key_origin: String,
}

/// VerifyMac's output (members in the AWS model's order).
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct VerifyMacOutputShape {
    /// `KeyId` (ARN).
    pub key_id: String,
    /// `MacValid` (always true: a mismatch is `KMSInvalidMacException`).
    pub mac_valid: bool,
    /// `MacAlgorithm`.
    pub mac_algorithm: String,
}

/// Decrypt's output.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct DecryptOutputShape {
    /// `KeyId` (ARN).
    pub key_id: String,
    /// `Plaintext` (a zeroizing, redacted blob).
    pub plaintext: Blob,
    /// `EncryptionAlgorithm`.
    pub encryption_algorithm: String,
    /// `KeyMaterialId`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_material_id: Option<String>,
}

/// ReEncrypt's output.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ReEncryptOutputShape {
    /// `CiphertextBlob`.
    pub ciphertext_blob: Blob,
    /// `SourceKeyId` (ARN).
    pub source_key_id: String,
    /// `KeyId` (ARN).
    pub key_id: String,
    /// `SourceEncryptionAlgorithm`.
    pub source_encryption_algorithm: String,
    /// `DestinationEncryptionAlgorithm`.
    pub destination_encryption_algorithm: String,
    /// `SourceKeyMaterialId`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_key_material_id: Option<String>,
    /// `DestinationKeyMaterialId`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub destination_key_material_id: Option<String>,
}

/// GenerateDataKey(WithoutPlaintext)'s output.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct GenerateDataKeyOutputShape {
    /// `CiphertextBlob`.
    pub ciphertext_blob: Blob,
    /// `Plaintext` (GenerateDataKey only; a zeroizing, redacted blob).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plaintext: Option<Blob>,
    /// `KeyId` (ARN).
    pub key_id: String,
    /// `KeyMaterialId`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_material_id: Option<String>,
}

/// ScheduleKeyDeletion's output.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ScheduleKeyDeletionOutputShape {
    /// `KeyId` (ARN).
    pub key_id: String,
    /// `DeletionDate` (absent for a multi-Region primary key with replicas:
    /// read as the epoch).
    #[serde(skip_serializing_if = "is_epoch")]
    pub deletion_date: Time,
    /// `KeyState`.
    pub key_state: String,
    /// `PendingWindowInDays`.
    pub pending_window_in_days: u32,
}

/// An `AliasListEntry`.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct AliasListEntry {
    /// `AliasName`.
    pub alias_name: String,
    /// `AliasArn`.
    pub alias_arn: String,
    /// `TargetKeyId` (absent for AWS managed aliases not yet in use).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_key_id: Option<String>,
    /// `CreationDate`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub creation_date: Option<Time>,
    /// `LastUpdatedDate`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_updated_date: Option<Time>,
}

impl AliasListEntry {
    /// The wire form of `alias`.
    pub fn of(kms: &Kms, a: &Alias) -> Self {
        Self {
            alias_name: a.name.clone(),
            alias_arn: kms.alias_arn(&a.name),
            target_key_id: Some(a.target.to_string()),
            creation_date: Some(Time(a.creation_date)),
            last_updated_date: Some(Time(a.last_updated_date)),
        }
    }
}

/// ListAliases's output.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ListAliasesOutput {
    /// `Aliases`.
    pub aliases: Vec<AliasListEntry>,
    /// `NextMarker`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_marker: Option<String>,
    /// `Truncated`.
    pub truncated: bool,
}

request!(
    /// GetKeyPolicy, PutKeyPolicy and ListKeyPolicies.
    KeyPolicyInput {
        /// `KeyId`.
        key_id: String,
        /// `PolicyName` (the only valid value is `default`).
        policy_name: String,
        /// `Policy` (PutKeyPolicy).
        policy: String,
        /// `BypassPolicyLockoutSafetyCheck` (PutKeyPolicy).
        bypass_policy_lockout_safety_check: bool,
        /// `Limit` (ListKeyPolicies).
        limit: i64,
        /// `Marker` (ListKeyPolicies).
        marker: String,
    }
);

/// GetKeyPolicy's output.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct GetKeyPolicyOutput {
    /// `Policy`.
    pub policy: String,
    /// `PolicyName`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub policy_name: Option<String>,
}

/// ListKeyPolicies' output.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ListKeyPoliciesOutput {
    /// `PolicyNames`.
    pub policy_names: Vec<String>,
    /// `NextMarker`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_marker: Option<String>,
    /// `Truncated`.
    pub truncated: bool,
}

/// ListResourceTags's output.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase", default)]
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
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
pub struct Empty {}

/// GenerateRandom's output.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct GenerateRandomOutput {
    /// `Plaintext` (a zeroizing, redacted blob).
    pub plaintext: Blob,
}

/// DescribeCustomKeyStores' output. byok has no custom key stores; an
/// account's stores read from AWS are kept as AWS wrote them.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct DescribeCustomKeyStoresOutput {
    /// `CustomKeyStores` (`CustomKeyStoresListEntry` objects).
    pub custom_key_stores: Vec<serde_json::Value>,
    /// `NextMarker`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_marker: Option<String>,
    /// `Truncated`.
    pub truncated: bool,
}
