//! Each operation of the AWS KMS JSON protocol as an `aws-sdk-kms` call:
//! the request JSON read with [`crate::api::shapes`], the SDK builder
//! filled member for member, the SDK's output written back into the same
//! shapes' JSON (timestamps as epoch seconds, blobs as base64, exactly as
//! the shapes encode them).

use std::collections::{BTreeMap, HashMap};

use aws_sdk_kms::Client;
use aws_sdk_kms::primitives::{Blob as SdkBlob, DateTime};
use aws_sdk_kms::types as t;
use serde::Serialize;
use serde::de::DeserializeOwned;
use zeroize::Zeroizing;

use super::errors::{Context, from_sdk};
use super::retry::CallObserver;
use crate::api::Body;
use crate::api::shapes::*;
use crate::api::wire::{Blob, Time};
use crate::backend::BackendError;
use crate::kms::Timestamp;

/// Every operation the AWS backend sends: the whole operation table
/// ([`crate::api::op::NAMES`]) and the key policy and random-number
/// operations the console reads and writes.
pub const OPERATIONS: &[&str] = &[
    "CreateKey",
    "DescribeKey",
    "ListKeys",
    "EnableKey",
    "DisableKey",
    "ScheduleKeyDeletion",
    "CancelKeyDeletion",
    "ReplicateKey",
    "UpdatePrimaryRegion",
    "UpdateKeyDescription",
    "GetParametersForImport",
    "ImportKeyMaterial",
    "DeleteImportedKeyMaterial",
    "RotateKeyOnDemand",
    "GetKeyRotationStatus",
    "EnableKeyRotation",
    "DisableKeyRotation",
    "ListKeyRotations",
    "Encrypt",
    "Decrypt",
    "ReEncrypt",
    "GenerateDataKey",
    "GenerateDataKeyWithoutPlaintext",
    "GenerateMac",
    "VerifyMac",
    "GenerateDataKeyPair",
    "GenerateDataKeyPairWithoutPlaintext",
    "GetPublicKey",
    "Sign",
    "Verify",
    "DeriveSharedSecret",
    "CreateAlias",
    "UpdateAlias",
    "DeleteAlias",
    "ListAliases",
    "TagResource",
    "UntagResource",
    "ListResourceTags",
    "GenerateRandom",
    "GetKeyPolicy",
    "PutKeyPolicy",
    "ListKeyPolicies",
    "DescribeCustomKeyStores",
];

/// Refuses an operation the backend does not send, before anything is sent.
pub(super) fn check_operation(operation: &str) -> Result<(), BackendError> {
    if OPERATIONS.contains(&operation) {
        Ok(())
    } else {
        Err(BackendError::Request {
            operation: operation.to_string(),
            detail: format!("{operation} is not an AWS KMS operation byok sends"),
        })
    }
}

/// The caller's own account, when an answer shows it for certain: the
/// metadata of a key it just created, or the ARN of a key in its ListKeys.
pub(super) fn own_account(operation: &str, body: &[u8]) -> Option<String> {
    let account = match operation {
        "CreateKey" => {
            serde_json::from_slice::<KeyMetadataOutput>(body)
                .ok()?
                .key_metadata
                .aws_account_id
        }
        "ListKeys" => {
            let out: ListKeysOutput = serde_json::from_slice(body).ok()?;
            let arn = out.keys.into_iter().next()?.key_arn;
            arn.split(':').nth(4)?.to_string()
        }
        _ => return None,
    };
    (!account.is_empty()).then_some(account)
}

fn input<T: DeserializeOwned + Default>(
    operation: &str,
    request: &[u8],
) -> Result<T, BackendError> {
    if request.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    serde_json::from_slice(request).map_err(|e| BackendError::Request {
        operation: operation.to_string(),
        detail: format!("the request is not {operation}'s shape: {e}"),
    })
}

fn body<T: Serialize>(operation: &str, value: &T) -> Result<Body, BackendError> {
    let mut out = Zeroizing::new(Vec::with_capacity(256));
    serde_json::to_writer(&mut *out, value).map_err(|e| BackendError::Response {
        operation: operation.to_string(),
        detail: e.to_string(),
    })?;
    Ok(out)
}

fn sdk_time(t: Time) -> DateTime {
    DateTime::from_millis(t.0.millis())
}

/// The SDK reads `1796190726.329` through an f64 as ...328999999 ns:
/// rounded to the nearest millisecond, as the shapes (and AWS) count.
fn time(d: &DateTime) -> Time {
    let millis = d.secs().saturating_mul(1000).saturating_add(i64::from(
        d.subsec_nanos().saturating_add(500_000) / 1_000_000,
    ));
    Time(Timestamp::from_millis(millis))
}

fn sdk_blob(b: Option<Blob>) -> Option<SdkBlob> {
    b.map(|b| SdkBlob::new(b.bytes().to_vec()))
}

/// The SDK's bytes, moved (not copied) into a zeroizing blob.
fn blob(b: Option<SdkBlob>) -> Blob {
    b.map(|b| Blob(Zeroizing::new(b.into_inner())))
        .unwrap_or_default()
}

fn context(c: Option<BTreeMap<String, String>>) -> Option<HashMap<String, String>> {
    c.map(|m| m.into_iter().collect())
}

fn int(v: Option<i64>) -> Option<i32> {
    v.map(|v| v.clamp(i64::from(i32::MIN), i64::from(i32::MAX)) as i32)
}

fn uint(v: Option<i32>) -> Option<u32> {
    v.and_then(|v| u32::try_from(v).ok())
}

fn text<E: AsRef<str>>(v: Option<E>) -> String {
    v.map(|e| e.as_ref().to_string()).unwrap_or_default()
}

fn opt_text<E: AsRef<str>>(v: Option<E>) -> Option<String> {
    v.map(|e| e.as_ref().to_string())
}

fn texts<E: AsRef<str>>(v: Option<Vec<E>>) -> Option<Vec<String>> {
    v.map(|v| v.iter().map(|e| e.as_ref().to_string()).collect())
}

fn tags(operation: &str, v: Option<Vec<TagShape>>) -> Result<Option<Vec<t::Tag>>, BackendError> {
    v.map(|tags| {
        tags.into_iter()
            .map(|tag| {
                t::Tag::builder()
                    .set_tag_key(tag.tag_key)
                    .set_tag_value(tag.tag_value)
                    .build()
                    .map_err(|e| BackendError::Request {
                        operation: operation.to_string(),
                        detail: format!("a tag needs a TagKey and a TagValue: {e}"),
                    })
            })
            .collect()
    })
    .transpose()
}

fn region_key(k: t::MultiRegionKey) -> MultiRegionKey {
    MultiRegionKey {
        arn: k.arn.unwrap_or_default(),
        region: k.region.unwrap_or_default(),
    }
}

/// The SDK's `KeyMetadata` as the shape, member for member (with the
/// deprecated `CustomerMasterKeySpec`, which AWS still returns and the
/// shape keeps).
#[allow(deprecated)]
fn key_metadata(m: t::KeyMetadata) -> KeyMetadata {
    KeyMetadata {
        aws_account_id: m.aws_account_id.unwrap_or_default(),
        key_id: m.key_id,
        arn: m.arn.unwrap_or_default(),
        creation_date: m.creation_date.as_ref().map(time).unwrap_or_default(),
        enabled: m.enabled,
        description: m.description.unwrap_or_default(),
        key_usage: text(m.key_usage),
        key_state: text(m.key_state),
        deletion_date: m.deletion_date.as_ref().map(time),
        valid_to: m.valid_to.as_ref().map(time),
        origin: text(m.origin),
        custom_key_store_id: m.custom_key_store_id,
        cloud_hsm_cluster_id: m.cloud_hsm_cluster_id,
        expiration_model: opt_text(m.expiration_model),
        key_manager: text(m.key_manager),
        customer_master_key_spec: text(m.customer_master_key_spec),
        key_spec: text(m.key_spec),
        encryption_algorithms: texts(m.encryption_algorithms),
        signing_algorithms: texts(m.signing_algorithms),
        key_agreement_algorithms: texts(m.key_agreement_algorithms),
        multi_region: m.multi_region.unwrap_or(false),
        multi_region_configuration: m.multi_region_configuration.map(|c| {
            MultiRegionConfiguration {
                multi_region_key_type: text(c.multi_region_key_type),
                primary_key: c.primary_key.map(region_key),
                replica_keys: c
                    .replica_keys
                    .unwrap_or_default()
                    .into_iter()
                    .map(region_key)
                    .collect(),
            }
        }),
        pending_deletion_window_in_days: uint(m.pending_deletion_window_in_days),
        mac_algorithms: texts(m.mac_algorithms),
        current_key_material_id: m.current_key_material_id,
    }
}

fn rotation(e: t::RotationsListEntry) -> RotationsListEntryShape {
    RotationsListEntryShape {
        key_id: e.key_id.unwrap_or_default(),
        key_material_id: e.key_material_id.unwrap_or_default(),
        key_material_description: e.key_material_description,
        import_state: opt_text(e.import_state),
        key_material_state: text(e.key_material_state),
        expiration_model: opt_text(e.expiration_model),
        valid_to: e.valid_to.as_ref().map(time),
        rotation_date: e.rotation_date.as_ref().map(time),
        rotation_type: opt_text(e.rotation_type),
    }
}

fn tag_shape(tag: t::Tag) -> TagShape {
    TagShape {
        tag_key: Some(tag.tag_key),
        tag_value: Some(tag.tag_value),
    }
}

/// Sends a fluent builder with the call's observer, mapping the SDK's error.
macro_rules! send {
    ($builder:expr, $observer:expr, $cx:expr) => {
        $builder
            .customize()
            .interceptor($observer.clone())
            .send()
            .await
            .map_err(|e| from_sdk(e, $cx))?
    };
}

/// Runs `operation` with the request JSON `request` on `client`.
/// (`CustomerMasterKeySpec` is deprecated but still a CreateKey member.)
#[allow(deprecated)]
pub(super) async fn run(
    client: &Client,
    operation: &str,
    request: &[u8],
    observer: CallObserver,
    cx: &Context,
) -> Result<Body, BackendError> {
    let op = operation;
    let empty = || body(op, &Empty {});
    match op {
        "CreateKey" => {
            let i: CreateKeyInput = input(op, request)?;
            let b = client
                .create_key()
                .set_description(i.description)
                .set_key_usage(i.key_usage.as_deref().map(t::KeyUsageType::from))
                .set_key_spec(i.key_spec.as_deref().map(t::KeySpec::from))
                .set_customer_master_key_spec(
                    i.customer_master_key_spec
                        .as_deref()
                        .map(t::CustomerMasterKeySpec::from),
                )
                .set_origin(i.origin.as_deref().map(t::OriginType::from))
                .set_tags(tags(op, i.tags)?)
                .set_multi_region(i.multi_region)
                .set_policy(i.policy)
                .set_custom_key_store_id(i.custom_key_store_id);
            let out = send!(b, observer, cx);
            body(
                op,
                &KeyMetadataOutput {
                    key_metadata: out.key_metadata.map(key_metadata).unwrap_or_default(),
                },
            )
        }
        "DescribeKey" => {
            let i: KeyIdInput = input(op, request)?;
            let out = send!(client.describe_key().set_key_id(i.key_id), observer, cx);
            body(
                op,
                &KeyMetadataOutput {
                    key_metadata: out.key_metadata.map(key_metadata).unwrap_or_default(),
                },
            )
        }
        "ListKeys" => {
            let i: ListKeysInput = input(op, request)?;
            let b = client
                .list_keys()
                .set_limit(int(i.limit))
                .set_marker(i.marker);
            let out = send!(b, observer, cx);
            body(
                op,
                &ListKeysOutput {
                    keys: out
                        .keys
                        .unwrap_or_default()
                        .into_iter()
                        .map(|k| KeyListEntry {
                            key_id: k.key_id.unwrap_or_default(),
                            key_arn: k.key_arn.unwrap_or_default(),
                        })
                        .collect(),
                    next_marker: out.next_marker,
                    truncated: out.truncated,
                },
            )
        }
        "EnableKey" => {
            let i: KeyIdInput = input(op, request)?;
            send!(client.enable_key().set_key_id(i.key_id), observer, cx);
            empty()
        }
        "DisableKey" => {
            let i: KeyIdInput = input(op, request)?;
            send!(client.disable_key().set_key_id(i.key_id), observer, cx);
            empty()
        }
        "ReplicateKey" => {
            let i: ReplicateKeyInput = input(op, request)?;
            let b = client
                .replicate_key()
                .set_key_id(i.key_id)
                .set_replica_region(i.replica_region)
                .set_policy(i.policy)
                .set_bypass_policy_lockout_safety_check(i.bypass_policy_lockout_safety_check)
                .set_description(i.description)
                .set_tags(tags(op, i.tags)?);
            let out = send!(b, observer, cx);
            body(
                op,
                &ReplicateKeyOutput {
                    replica_key_metadata: out
                        .replica_key_metadata
                        .map(key_metadata)
                        .unwrap_or_default(),
                    replica_policy: out.replica_policy,
                    replica_tags: out
                        .replica_tags
                        .unwrap_or_default()
                        .into_iter()
                        .map(|t| TagShape {
                            tag_key: Some(t.tag_key),
                            tag_value: Some(t.tag_value),
                        })
                        .collect(),
                },
            )
        }
        "UpdatePrimaryRegion" => {
            let i: UpdatePrimaryRegionInput = input(op, request)?;
            let b = client
                .update_primary_region()
                .set_key_id(i.key_id)
                .set_primary_region(i.primary_region);
            send!(b, observer, cx);
            empty()
        }
        "ScheduleKeyDeletion" => {
            let i: ScheduleKeyDeletionInput = input(op, request)?;
            let b = client
                .schedule_key_deletion()
                .set_key_id(i.key_id)
                .set_pending_window_in_days(int(i.pending_window_in_days));
            let out = send!(b, observer, cx);
            body(
                op,
                &ScheduleKeyDeletionOutputShape {
                    key_id: out.key_id.unwrap_or_default(),
                    deletion_date: out.deletion_date.as_ref().map(time).unwrap_or_default(),
                    key_state: text(out.key_state),
                    pending_window_in_days: uint(out.pending_window_in_days).unwrap_or_default(),
                },
            )
        }
        "CancelKeyDeletion" => {
            let i: KeyIdInput = input(op, request)?;
            let out = send!(
                client.cancel_key_deletion().set_key_id(i.key_id),
                observer,
                cx
            );
            body(
                op,
                &KeyIdOutput {
                    key_id: out.key_id.unwrap_or_default(),
                },
            )
        }
        "UpdateKeyDescription" => {
            let i: UpdateKeyDescriptionInput = input(op, request)?;
            let b = client
                .update_key_description()
                .set_key_id(i.key_id)
                .set_description(i.description);
            send!(b, observer, cx);
            empty()
        }
        "GetParametersForImport" => {
            let i: GetParametersForImportInput = input(op, request)?;
            let b = client
                .get_parameters_for_import()
                .set_key_id(i.key_id)
                .set_wrapping_algorithm(i.wrapping_algorithm.as_deref().map(t::AlgorithmSpec::from))
                .set_wrapping_key_spec(
                    i.wrapping_key_spec.as_deref().map(t::WrappingKeySpec::from),
                );
            let out = send!(b, observer, cx);
            body(
                op,
                &GetParametersForImportOutput {
                    key_id: out.key_id.unwrap_or_default(),
                    import_token: blob(out.import_token),
                    public_key: blob(out.public_key),
                    parameters_valid_to: out
                        .parameters_valid_to
                        .as_ref()
                        .map(time)
                        .unwrap_or_default(),
                },
            )
        }
        "ImportKeyMaterial" => {
            let i: ImportKeyMaterialInput = input(op, request)?;
            let b = client
                .import_key_material()
                .set_key_id(i.key_id)
                .set_import_token(sdk_blob(i.import_token))
                .set_encrypted_key_material(sdk_blob(i.encrypted_key_material))
                .set_valid_to(i.valid_to.map(sdk_time))
                .set_expiration_model(
                    i.expiration_model
                        .as_deref()
                        .map(t::ExpirationModelType::from),
                )
                .set_import_type(i.import_type.as_deref().map(t::ImportType::from))
                .set_key_material_description(i.key_material_description)
                .set_key_material_id(i.key_material_id);
            let out = send!(b, observer, cx);
            body(
                op,
                &KeyMaterialOutput {
                    key_id: out.key_id.unwrap_or_default(),
                    key_material_id: out.key_material_id.unwrap_or_default(),
                },
            )
        }
        "DeleteImportedKeyMaterial" => {
            let i: DeleteImportedKeyMaterialInput = input(op, request)?;
            let b = client
                .delete_imported_key_material()
                .set_key_id(i.key_id)
                .set_key_material_id(i.key_material_id);
            let out = send!(b, observer, cx);
            body(
                op,
                &KeyMaterialOutput {
                    key_id: out.key_id.unwrap_or_default(),
                    key_material_id: out.key_material_id.unwrap_or_default(),
                },
            )
        }
        "RotateKeyOnDemand" => {
            let i: KeyIdInput = input(op, request)?;
            let out = send!(
                client.rotate_key_on_demand().set_key_id(i.key_id),
                observer,
                cx
            );
            body(
                op,
                &KeyIdOutput {
                    key_id: out.key_id.unwrap_or_default(),
                },
            )
        }
        "GetKeyRotationStatus" => {
            let i: KeyIdInput = input(op, request)?;
            let out = send!(
                client.get_key_rotation_status().set_key_id(i.key_id),
                observer,
                cx
            );
            body(
                op,
                &GetKeyRotationStatusOutput {
                    key_rotation_enabled: out.key_rotation_enabled,
                    key_id: out.key_id.unwrap_or_default(),
                    rotation_period_in_days: uint(out.rotation_period_in_days),
                    next_rotation_date: out.next_rotation_date.as_ref().map(time),
                    on_demand_rotation_start_date: out
                        .on_demand_rotation_start_date
                        .as_ref()
                        .map(time),
                },
            )
        }
        "EnableKeyRotation" => {
            let i: EnableKeyRotationInput = input(op, request)?;
            let b = client
                .enable_key_rotation()
                .set_key_id(i.key_id)
                .set_rotation_period_in_days(int(i.rotation_period_in_days));
            send!(b, observer, cx);
            empty()
        }
        "DisableKeyRotation" => {
            let i: KeyIdInput = input(op, request)?;
            send!(
                client.disable_key_rotation().set_key_id(i.key_id),
                observer,
                cx
            );
            empty()
        }
        "ListKeyRotations" => {
            let i: ListKeyRotationsInput = input(op, request)?;
            let b = client
                .list_key_rotations()
                .set_key_id(i.key_id)
                .set_include_key_material(
                    i.include_key_material
                        .as_deref()
                        .map(t::IncludeKeyMaterial::from),
                )
                .set_limit(int(i.limit))
                .set_marker(i.marker);
            let out = send!(b, observer, cx);
            body(
                op,
                &ListKeyRotationsOutput {
                    rotations: out
                        .rotations
                        .unwrap_or_default()
                        .into_iter()
                        .map(rotation)
                        .collect(),
                    next_marker: out.next_marker,
                    truncated: out.truncated,
                },
            )
        }
        "Encrypt" => {
            let i: EncryptInput = input(op, request)?;
            let b = client
                .encrypt()
                .set_key_id(i.key_id)
                .set_plaintext(sdk_blob(i.plaintext))
                .set_encryption_context(context(i.encryption_context))
                .set_encryption_algorithm(
                    i.encryption_algorithm
                        .as_deref()
                        .map(t::EncryptionAlgorithmSpec::from),
                )
                .set_grant_tokens(i.grant_tokens)
                .set_dry_run(i.dry_run);
            let out = send!(b, observer, cx);
            body(
                op,
                &EncryptOutputShape {
                    ciphertext_blob: blob(out.ciphertext_blob),
                    key_id: out.key_id.unwrap_or_default(),
                    encryption_algorithm: text(out.encryption_algorithm),
                },
            )
        }
        "GenerateMac" => {
            let i: GenerateMacInput = input(op, request)?;
            let b = client
                .generate_mac()
                .set_key_id(i.key_id)
                .set_message(sdk_blob(i.message))
                .set_mac_algorithm(i.mac_algorithm.as_deref().map(t::MacAlgorithmSpec::from))
                .set_grant_tokens(i.grant_tokens)
                .set_dry_run(i.dry_run);
            let out = send!(b, observer, cx);
            body(
                op,
                &GenerateMacOutputShape {
                    mac: blob(out.mac),
                    mac_algorithm: text(out.mac_algorithm),
                    key_id: out.key_id.unwrap_or_default(),
                },
            )
        }
        "VerifyMac" => {
            let i: VerifyMacInput = input(op, request)?;
            let b = client
                .verify_mac()
                .set_key_id(i.key_id)
                .set_message(sdk_blob(i.message))
                .set_mac_algorithm(i.mac_algorithm.as_deref().map(t::MacAlgorithmSpec::from))
                .set_mac(sdk_blob(i.mac))
                .set_grant_tokens(i.grant_tokens)
                .set_dry_run(i.dry_run);
            let out = send!(b, observer, cx);
            body(
                op,
                &VerifyMacOutputShape {
                    key_id: out.key_id.unwrap_or_default(),
                    mac_valid: out.mac_valid,
                    mac_algorithm: text(out.mac_algorithm),
                },
            )
        }
        "GenerateDataKeyPair" => {
            let i: GenerateDataKeyPairInput = input(op, request)?;
            let b = client
                .generate_data_key_pair()
                .set_encryption_context(context(i.encryption_context))
                .set_key_id(i.key_id)
                .set_key_pair_spec(i.key_pair_spec.as_deref().map(t::DataKeyPairSpec::from))
                .set_grant_tokens(i.grant_tokens)
                .set_dry_run(i.dry_run);
            let out = send!(b, observer, cx);
            body(
                op,
                &GenerateDataKeyPairOutputShape {
                    private_key_ciphertext_blob: blob(out.private_key_ciphertext_blob),
                    private_key_plaintext: Some(blob(out.private_key_plaintext)),
                    public_key: blob(out.public_key),
                    key_id: out.key_id.unwrap_or_default(),
                    key_pair_spec: text(out.key_pair_spec),
                    key_material_id: out.key_material_id,
                },
            )
        }
        "GenerateDataKeyPairWithoutPlaintext" => {
            let i: GenerateDataKeyPairInput = input(op, request)?;
            let b = client
                .generate_data_key_pair_without_plaintext()
                .set_encryption_context(context(i.encryption_context))
                .set_key_id(i.key_id)
                .set_key_pair_spec(i.key_pair_spec.as_deref().map(t::DataKeyPairSpec::from))
                .set_grant_tokens(i.grant_tokens)
                .set_dry_run(i.dry_run);
            let out = send!(b, observer, cx);
            body(
                op,
                &GenerateDataKeyPairOutputShape {
                    private_key_ciphertext_blob: blob(out.private_key_ciphertext_blob),
                    private_key_plaintext: None,
                    public_key: blob(out.public_key),
                    key_id: out.key_id.unwrap_or_default(),
                    key_pair_spec: text(out.key_pair_spec),
                    key_material_id: out.key_material_id,
                },
            )
        }
        "GetPublicKey" => {
            let i: GetPublicKeyInput = input(op, request)?;
            let b = client
                .get_public_key()
                .set_key_id(i.key_id)
                .set_grant_tokens(i.grant_tokens);
            let out = send!(b, observer, cx);
            body(
                op,
                &GetPublicKeyOutputShape {
                    key_id: out.key_id.unwrap_or_default(),
                    public_key: blob(out.public_key),
                    customer_master_key_spec: text(out.customer_master_key_spec),
                    key_spec: text(out.key_spec),
                    key_usage: text(out.key_usage),
                    encryption_algorithms: texts(out.encryption_algorithms),
                    signing_algorithms: texts(out.signing_algorithms),
                    key_agreement_algorithms: texts(out.key_agreement_algorithms),
                },
            )
        }
        "Sign" | "Verify" => {
            if op == "Sign" {
                let i: SignInput = input(op, request)?;
                let b = client
                    .sign()
                    .set_key_id(i.key_id)
                    .set_message(sdk_blob(i.message))
                    .set_message_type(i.message_type.as_deref().map(t::MessageType::from))
                    .set_grant_tokens(i.grant_tokens)
                    .set_signing_algorithm(
                        i.signing_algorithm
                            .as_deref()
                            .map(t::SigningAlgorithmSpec::from),
                    )
                    .set_dry_run(i.dry_run);
                let out = send!(b, observer, cx);
                body(
                    op,
                    &SignOutputShape {
                        key_id: out.key_id.unwrap_or_default(),
                        signature: blob(out.signature),
                        signing_algorithm: text(out.signing_algorithm),
                    },
                )
            } else {
                let i: VerifyInput = input(op, request)?;
                let b = client
                    .verify()
                    .set_key_id(i.key_id)
                    .set_message(sdk_blob(i.message))
                    .set_message_type(i.message_type.as_deref().map(t::MessageType::from))
                    .set_signature(sdk_blob(i.signature))
                    .set_signing_algorithm(
                        i.signing_algorithm
                            .as_deref()
                            .map(t::SigningAlgorithmSpec::from),
                    )
                    .set_grant_tokens(i.grant_tokens)
                    .set_dry_run(i.dry_run);
                let out = send!(b, observer, cx);
                body(
                    op,
                    &VerifyOutputShape {
                        key_id: out.key_id.unwrap_or_default(),
                        signature_valid: out.signature_valid,
                        signing_algorithm: text(out.signing_algorithm),
                    },
                )
            }
        }
        "DeriveSharedSecret" => {
            let i: DeriveSharedSecretInput = input(op, request)?;
            let b = client
                .derive_shared_secret()
                .set_key_id(i.key_id)
                .set_key_agreement_algorithm(
                    i.key_agreement_algorithm
                        .as_deref()
                        .map(t::KeyAgreementAlgorithmSpec::from),
                )
                .set_public_key(sdk_blob(i.public_key))
                .set_grant_tokens(i.grant_tokens)
                .set_dry_run(i.dry_run);
            let out = send!(b, observer, cx);
            body(
                op,
                &DeriveSharedSecretOutputShape {
                    key_id: out.key_id.unwrap_or_default(),
                    shared_secret: blob(out.shared_secret),
                    key_agreement_algorithm: text(out.key_agreement_algorithm),
                    key_origin: text(out.key_origin),
                },
            )
        }
        "Decrypt" => {
            let i: DecryptInput = input(op, request)?;
            let b = client
                .decrypt()
                .set_ciphertext_blob(sdk_blob(i.ciphertext_blob))
                .set_encryption_context(context(i.encryption_context))
                .set_key_id(i.key_id)
                .set_encryption_algorithm(
                    i.encryption_algorithm
                        .as_deref()
                        .map(t::EncryptionAlgorithmSpec::from),
                )
                .set_grant_tokens(i.grant_tokens)
                .set_dry_run(i.dry_run);
            let out = send!(b, observer, cx);
            body(
                op,
                &DecryptOutputShape {
                    key_id: out.key_id.unwrap_or_default(),
                    plaintext: blob(out.plaintext),
                    encryption_algorithm: text(out.encryption_algorithm),
                    key_material_id: out.key_material_id,
                },
            )
        }
        "ReEncrypt" => {
            let i: ReEncryptInput = input(op, request)?;
            let algorithm = |a: Option<String>| a.as_deref().map(t::EncryptionAlgorithmSpec::from);
            let b = client
                .re_encrypt()
                .set_ciphertext_blob(sdk_blob(i.ciphertext_blob))
                .set_source_encryption_context(context(i.source_encryption_context))
                .set_source_key_id(i.source_key_id)
                .set_destination_key_id(i.destination_key_id)
                .set_destination_encryption_context(context(i.destination_encryption_context))
                .set_source_encryption_algorithm(algorithm(i.source_encryption_algorithm))
                .set_destination_encryption_algorithm(algorithm(i.destination_encryption_algorithm))
                .set_grant_tokens(i.grant_tokens)
                .set_dry_run(i.dry_run);
            let out = send!(b, observer, cx);
            body(
                op,
                &ReEncryptOutputShape {
                    ciphertext_blob: blob(out.ciphertext_blob),
                    source_key_id: out.source_key_id.unwrap_or_default(),
                    key_id: out.key_id.unwrap_or_default(),
                    source_encryption_algorithm: text(out.source_encryption_algorithm),
                    destination_encryption_algorithm: text(out.destination_encryption_algorithm),
                    source_key_material_id: out.source_key_material_id,
                    destination_key_material_id: out.destination_key_material_id,
                },
            )
        }
        "GenerateDataKey" => {
            let i: GenerateDataKeyInput = input(op, request)?;
            let b = client
                .generate_data_key()
                .set_key_id(i.key_id)
                .set_encryption_context(context(i.encryption_context))
                .set_number_of_bytes(int(i.number_of_bytes))
                .set_key_spec(i.key_spec.as_deref().map(t::DataKeySpec::from))
                .set_grant_tokens(i.grant_tokens)
                .set_dry_run(i.dry_run);
            let out = send!(b, observer, cx);
            body(
                op,
                &GenerateDataKeyOutputShape {
                    ciphertext_blob: blob(out.ciphertext_blob),
                    plaintext: Some(blob(out.plaintext)),
                    key_id: out.key_id.unwrap_or_default(),
                    key_material_id: out.key_material_id,
                },
            )
        }
        "GenerateDataKeyWithoutPlaintext" => {
            let i: GenerateDataKeyInput = input(op, request)?;
            let b = client
                .generate_data_key_without_plaintext()
                .set_key_id(i.key_id)
                .set_encryption_context(context(i.encryption_context))
                .set_number_of_bytes(int(i.number_of_bytes))
                .set_key_spec(i.key_spec.as_deref().map(t::DataKeySpec::from))
                .set_grant_tokens(i.grant_tokens)
                .set_dry_run(i.dry_run);
            let out = send!(b, observer, cx);
            body(
                op,
                &GenerateDataKeyOutputShape {
                    ciphertext_blob: blob(out.ciphertext_blob),
                    plaintext: None,
                    key_id: out.key_id.unwrap_or_default(),
                    key_material_id: out.key_material_id,
                },
            )
        }
        "CreateAlias" => {
            let i: AliasInput = input(op, request)?;
            let b = client
                .create_alias()
                .set_alias_name(i.alias_name)
                .set_target_key_id(i.target_key_id);
            send!(b, observer, cx);
            empty()
        }
        "UpdateAlias" => {
            let i: AliasInput = input(op, request)?;
            let b = client
                .update_alias()
                .set_alias_name(i.alias_name)
                .set_target_key_id(i.target_key_id);
            send!(b, observer, cx);
            empty()
        }
        "DeleteAlias" => {
            let i: AliasInput = input(op, request)?;
            send!(
                client.delete_alias().set_alias_name(i.alias_name),
                observer,
                cx
            );
            empty()
        }
        "ListAliases" => {
            let i: ListAliasesInput = input(op, request)?;
            let b = client
                .list_aliases()
                .set_key_id(i.key_id)
                .set_limit(int(i.limit))
                .set_marker(i.marker);
            let out = send!(b, observer, cx);
            body(
                op,
                &ListAliasesOutput {
                    aliases: out
                        .aliases
                        .unwrap_or_default()
                        .into_iter()
                        .map(|a| AliasListEntry {
                            alias_name: a.alias_name.unwrap_or_default(),
                            alias_arn: a.alias_arn.unwrap_or_default(),
                            target_key_id: a.target_key_id,
                            creation_date: a.creation_date.as_ref().map(time),
                            last_updated_date: a.last_updated_date.as_ref().map(time),
                        })
                        .collect(),
                    next_marker: out.next_marker,
                    truncated: out.truncated,
                },
            )
        }
        "TagResource" => {
            let i: TagResourceInput = input(op, request)?;
            let b = client
                .tag_resource()
                .set_key_id(i.key_id)
                .set_tags(tags(op, i.tags)?);
            send!(b, observer, cx);
            empty()
        }
        "UntagResource" => {
            let i: UntagResourceInput = input(op, request)?;
            let b = client
                .untag_resource()
                .set_key_id(i.key_id)
                .set_tag_keys(i.tag_keys);
            send!(b, observer, cx);
            empty()
        }
        "ListResourceTags" => {
            let i: ListResourceTagsInput = input(op, request)?;
            let b = client
                .list_resource_tags()
                .set_key_id(i.key_id)
                .set_limit(int(i.limit))
                .set_marker(i.marker);
            let out = send!(b, observer, cx);
            body(
                op,
                &ListResourceTagsOutput {
                    tags: out
                        .tags
                        .unwrap_or_default()
                        .into_iter()
                        .map(tag_shape)
                        .collect(),
                    next_marker: out.next_marker,
                    truncated: out.truncated,
                },
            )
        }
        "GenerateRandom" => {
            let i: GenerateRandomInput = input(op, request)?;
            let b = client
                .generate_random()
                .set_number_of_bytes(int(i.number_of_bytes))
                .set_custom_key_store_id(i.custom_key_store_id);
            let out = send!(b, observer, cx);
            body(
                op,
                &GenerateRandomOutput {
                    plaintext: blob(out.plaintext),
                },
            )
        }
        "GetKeyPolicy" => {
            let i: KeyPolicyInput = input(op, request)?;
            let b = client
                .get_key_policy()
                .set_key_id(i.key_id)
                .set_policy_name(i.policy_name);
            let out = send!(b, observer, cx);
            body(
                op,
                &GetKeyPolicyOutput {
                    policy: out.policy.unwrap_or_default(),
                    policy_name: out.policy_name,
                },
            )
        }
        "PutKeyPolicy" => {
            let i: KeyPolicyInput = input(op, request)?;
            let b = client
                .put_key_policy()
                .set_key_id(i.key_id)
                .set_policy_name(i.policy_name)
                .set_policy(i.policy)
                .set_bypass_policy_lockout_safety_check(i.bypass_policy_lockout_safety_check);
            send!(b, observer, cx);
            empty()
        }
        "ListKeyPolicies" => {
            let i: KeyPolicyInput = input(op, request)?;
            let b = client
                .list_key_policies()
                .set_key_id(i.key_id)
                .set_limit(int(i.limit))
                .set_marker(i.marker);
            let out = send!(b, observer, cx);
            body(
                op,
                &ListKeyPoliciesOutput {
                    policy_names: out.policy_names.unwrap_or_default(),
                    next_marker: out.next_marker,
                    truncated: out.truncated,
                },
            )
        }
        "DescribeCustomKeyStores" => {
            let i: DescribeCustomKeyStoresInput = input(op, request)?;
            let b = client
                .describe_custom_key_stores()
                .set_custom_key_store_id(i.custom_key_store_id)
                .set_custom_key_store_name(i.custom_key_store_name)
                .set_limit(int(i.limit))
                .set_marker(i.marker);
            let out = send!(b, observer, cx);
            body(
                op,
                &DescribeCustomKeyStoresOutput {
                    custom_key_stores: out
                        .custom_key_stores
                        .unwrap_or_default()
                        .into_iter()
                        .map(custom_key_store)
                        .collect(),
                    next_marker: out.next_marker,
                    truncated: out.truncated,
                },
            )
        }
        _ => Err(BackendError::Request {
            operation: op.to_string(),
            detail: format!("{op} is not an AWS KMS operation byok sends"),
        }),
    }
}

/// A `CustomKeyStoresListEntry` as AWS's JSON writes it (the members byok
/// shows; the XKS proxy configuration is left out).
fn custom_key_store(s: aws_sdk_kms::types::CustomKeyStoresListEntry) -> serde_json::Value {
    let mut m = serde_json::Map::new();
    let mut put = |k: &str, v: Option<String>| {
        if let Some(v) = v {
            m.insert(k.into(), serde_json::Value::String(v));
        }
    };
    put("CustomKeyStoreId", s.custom_key_store_id);
    put("CustomKeyStoreName", s.custom_key_store_name);
    put("CloudHsmClusterId", s.cloud_hsm_cluster_id);
    put("TrustAnchorCertificate", s.trust_anchor_certificate);
    put(
        "ConnectionState",
        s.connection_state.map(|c| c.as_str().to_string()),
    );
    put(
        "ConnectionErrorCode",
        s.connection_error_code.map(|c| c.as_str().to_string()),
    );
    put(
        "CustomKeyStoreType",
        s.custom_key_store_type.map(|c| c.as_str().to_string()),
    );
    if let Some(t) = s.creation_date {
        m.insert("CreationDate".into(), serde_json::json!(t.as_secs_f64()));
    }
    serde_json::Value::Object(m)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::{arn_region, kms_arn_region};

    #[test]
    fn every_operation_of_the_table_is_sent() {
        for name in crate::api::op::NAMES {
            assert!(OPERATIONS.contains(name), "the AWS backend lacks {name}");
        }
    }

    #[test]
    fn a_key_arn_names_its_region_and_other_ids_do_not() {
        let arn = "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";
        assert_eq!(kms_arn_region(arn).as_deref(), Some("eu-west-1"));
        assert_eq!(
            kms_arn_region("arn:aws:kms:ap-south-1:111122223333:alias/prod").as_deref(),
            Some("ap-south-1")
        );
        assert_eq!(kms_arn_region("1234abcd-12ab-34cd-56ef-1234567890ab"), None);
        assert_eq!(kms_arn_region("alias/prod"), None);
        assert_eq!(kms_arn_region("arn:aws:s3:::bucket"), None);
        let req = format!(r#"{{"Plaintext":"aGVsbG8=","KeyId":"{arn}"}}"#);
        assert_eq!(
            arn_region(req.as_bytes()),
            Some((arn.to_string(), "eu-west-1".to_string()))
        );
        let re = format!(r#"{{"SourceKeyId":"alias/a","DestinationKeyId":"{arn}"}}"#);
        assert_eq!(
            arn_region(re.as_bytes()).map(|(_, r)| r).as_deref(),
            Some("eu-west-1")
        );
        assert_eq!(arn_region(b"{}"), None);
        assert_eq!(arn_region(b"not json"), None);
    }
}
