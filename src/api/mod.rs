//! The AWS KMS JSON protocol, without the transport: request and response
//! shapes, and one [`dispatch`] from (operation name, request JSON) to
//! response JSON or an AWS error. The CLI and the endpoint call only this.

pub mod cloudtrail;
pub mod op;
pub mod shapes;
pub mod wire;

use std::fmt;

use serde::Serialize;
use serde::de::DeserializeOwned;
use zeroize::Zeroizing;

use crate::kms::error::{Violations, null_violation, violation};
use crate::kms::{
    Caller, CreateKeyRequest, DataKeyLength, DataKeySpec, DecryptRequest, EncryptionAlgorithm,
    ErrorKind, ExpirationModel, ImportKeyMaterialRequest, ImportType, IncludeKeyMaterial,
    KeyAgreementAlgorithm, KeySpec, KeyState, KeyUsage, Kms, KmsError, MacAlgorithm, MessageType,
    Origin, ReEncryptRequest, SigningAlgorithm, Tag, WrappingAlgorithm, WrappingKeySpec,
    len_violation,
};
use shapes::*;
use wire::{Blob, Time};

/// An error as the protocol returns it: `{"__type": ..., "message": ...}`
/// with an HTTP status.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiError {
    /// The exception name (`__type`).
    pub error_type: String,
    /// The message.
    pub message: String,
    /// 400 for client errors, 500 for internal ones.
    pub status: u16,
}

impl ApiError {
    /// An error of `error_type`.
    pub fn new(error_type: &str, message: impl Into<String>, status: u16) -> Self {
        Self {
            error_type: error_type.to_string(),
            message: message.into(),
            status,
        }
    }

    /// The JSON body. An empty message is left out, as AWS does
    /// (`{"__type":"InvalidCiphertextException"}`).
    pub fn to_json(&self) -> Vec<u8> {
        let body = if self.message.is_empty() {
            serde_json::json!({"__type": self.error_type})
        } else {
            serde_json::json!({"__type": self.error_type, "message": self.message})
        };
        serde_json::to_vec(&body).unwrap_or_default()
    }
}

impl From<KmsError> for ApiError {
    fn from(e: KmsError) -> Self {
        let status = if e.kind() == ErrorKind::KmsInternal {
            500
        } else {
            400
        };
        Self::new(e.aws_name(), e.message(), status)
    }
}

impl fmt::Debug for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({}): {}", self.error_type, self.status, self.message)
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.error_type, self.message)
    }
}

impl std::error::Error for ApiError {}

/// A response body; wiped when dropped, since Decrypt and GenerateDataKey
/// put plaintexts in it.
pub type Body = Zeroizing<Vec<u8>>;

/// Why a request failed, and whether the engine already audited it.
enum Failure {
    /// Refused on the wire (malformed JSON, missing member): not yet audited.
    Wire(ApiError),
    /// Refused by the engine, which recorded it.
    Engine(KmsError),
}

impl From<KmsError> for Failure {
    fn from(e: KmsError) -> Self {
        Failure::Engine(e)
    }
}

type Handled = Result<Body, Failure>;

fn wire(e: KmsError) -> Failure {
    Failure::Wire(e.into())
}

fn required<T>(v: Option<T>, member: &str) -> Result<T, Failure> {
    v.ok_or_else(|| wire(KmsError::violations(&[null_violation(member)])))
}

fn parse<T: DeserializeOwned + Default>(body: &[u8]) -> Result<T, Failure> {
    let unreadable = |detail: &dyn fmt::Display| {
        Failure::Wire(ApiError::new(
            "SerializationException",
            format!("The request body could not be read: {detail}"),
            400,
        ))
    };
    match body.iter().find(|b| !b.is_ascii_whitespace()) {
        None => return Ok(T::default()),
        Some(b'{') => {}
        // serde would read a JSON array as the request's members in order;
        // the protocol's requests are objects.
        Some(_) => return Err(unreadable(&"a request must be a JSON object")),
    }
    serde_json::from_slice(body).map_err(|e| unreadable(&e))
}

fn enum_member<E>(
    parse: fn(&str, &str) -> Result<E, KmsError>,
    member: &str,
    v: Option<&str>,
) -> Result<Option<E>, Failure> {
    v.map(|s| parse(member, s)).transpose().map_err(wire)
}

fn symmetric_only(member: &str, v: Option<&str>) -> Result<(), Failure> {
    match v {
        None | Some("SYMMETRIC_DEFAULT") => Ok(()),
        Some(other) => Err(wire(KmsError::validation(format!(
            "1 validation error detected: Value '{other}' at '{member}' failed to satisfy constraint: Member must satisfy enum value set: [SYMMETRIC_DEFAULT]"
        )))),
    }
}

/// The `Tags` of a request, with the violations of their member
/// constraints (a missing key or value, a length out of range) added to
/// `found`; members are named by their 1-based place (`tags.1.member.tagKey`).
fn tags(shapes: Option<Vec<TagShape>>, found: &mut Violations) -> Vec<Tag> {
    let mut member = |place: &str, v: Option<String>, min: usize, max: usize| match v {
        None => {
            found.add(Some(null_violation(place)));
            String::new()
        }
        Some(v) => {
            found.add(len_violation(place, &v, min, max));
            v
        }
    };
    shapes
        .unwrap_or_default()
        .into_iter()
        .enumerate()
        .map(|(i, t)| {
            let n = i + 1;
            Tag {
                key: member(&format!("tags.{n}.member.tagKey"), t.tag_key, 1, 128),
                value: member(&format!("tags.{n}.member.tagValue"), t.tag_value, 0, 256),
            }
        })
        .collect()
}

/// CreateKey's `KeySpec` values, in the order the AWS KMS API Reference
/// lists them (AWS's API model: boto/botocore
/// botocore/data/kms/2014-11-01/service-2.json, shape `KeySpec`; the
/// `KeyUsageType`, `CustomerMasterKeySpec` and `OriginType` lists below are
/// from the same model).
const KEY_SPECS: &[&str] = &[
    "RSA_2048",
    "RSA_3072",
    "RSA_4096",
    "ECC_NIST_P256",
    "ECC_NIST_P384",
    "ECC_NIST_P521",
    "ECC_SECG_P256K1",
    "SYMMETRIC_DEFAULT",
    "HMAC_224",
    "HMAC_256",
    "HMAC_384",
    "HMAC_512",
    "SM2",
    "ML_DSA_44",
    "ML_DSA_65",
    "ML_DSA_87",
    "ECC_NIST_EDWARDS25519",
];

/// CreateKey's deprecated `CustomerMasterKeySpec` values: the key specs
/// of the model's list up to SM2 (the newer ones have no deprecated name).
const CUSTOMER_MASTER_KEY_SPECS: &[&str] = KEY_SPECS.split_at(13).0;

/// CreateKey's `KeyUsage` values.
const KEY_USAGES: &[&str] = &[
    "SIGN_VERIFY",
    "ENCRYPT_DECRYPT",
    "GENERATE_VERIFY_MAC",
    "KEY_AGREEMENT",
];

/// CreateKey's `Origin` values.
const ORIGINS: &[&str] = &["AWS_KMS", "EXTERNAL", "AWS_CLOUDHSM", "EXTERNAL_KEY_STORE"];

/// The key usages AWS allows for a key spec (the API Reference's
/// description of CreateKey's `KeyUsage`; ECC_NIST_EDWARDS25519 signs only,
/// per the developer guide's key spec reference).
fn usages_for(spec: &str) -> &'static [&'static str] {
    match spec {
        "SYMMETRIC_DEFAULT" => &["ENCRYPT_DECRYPT"],
        "HMAC_224" | "HMAC_256" | "HMAC_384" | "HMAC_512" => &["GENERATE_VERIFY_MAC"],
        "RSA_2048" | "RSA_3072" | "RSA_4096" => &["ENCRYPT_DECRYPT", "SIGN_VERIFY"],
        "ECC_NIST_P256" | "ECC_NIST_P384" | "ECC_NIST_P521" => &["SIGN_VERIFY", "KEY_AGREEMENT"],
        "SM2" => &["ENCRYPT_DECRYPT", "SIGN_VERIFY", "KEY_AGREEMENT"],
        // ECC_SECG_P256K1, ECC_NIST_EDWARDS25519, ML_DSA_*.
        _ => &["SIGN_VERIFY"],
    }
}

/// The `Member must satisfy enum value set` violation of `value`, if any.
fn enum_violation(member: &str, value: Option<&str>, set: &[&str]) -> Option<String> {
    let v = value?;
    (!set.contains(&v)).then(|| {
        violation(
            member,
            Some(v),
            &format!("Member must satisfy enum value set: [{}]", set.join(", ")),
        )
    })
}

fn json<T: Serialize>(value: &T, hint: usize) -> Handled {
    let mut out = Zeroizing::new(Vec::with_capacity(256 + hint * 2));
    serde_json::to_writer(&mut *out, value)
        .map_err(|e| Failure::Engine(KmsError::new(ErrorKind::KmsInternal, e.to_string())))?;
    Ok(out)
}

/// Runs `operation` (`Encrypt`, `ImportKeyMaterial`, ...) with the request
/// JSON `body` and returns the response JSON, or the AWS error. Every call,
/// successful or not, leaves one audit record in the engine's outbox.
pub fn dispatch(
    kms: &mut Kms,
    caller: &Caller,
    operation: &str,
    body: &[u8],
) -> Result<Body, ApiError> {
    // Every operation sees the keys and aliases of the caller's region.
    let region = caller.region.clone();
    let caller = &caller.clone().in_region(None);
    kms.in_region(region.as_deref(), |kms| {
        dispatch_here(kms, caller, operation, body)
    })
}

fn dispatch_here(
    kms: &mut Kms,
    caller: &Caller,
    operation: &str,
    body: &[u8],
) -> Result<Body, ApiError> {
    let result = match operation {
        "ReplicateKey" => replicate_key(kms, caller, body),
        "UpdatePrimaryRegion" => update_primary_region(kms, caller, body),
        "CreateKey" => create_key(kms, caller, body),
        "DescribeKey" => describe_key(kms, caller, body),
        "ListKeys" => list_keys(kms, caller, body),
        "EnableKey" | "DisableKey" | "CancelKeyDeletion" | "RotateKeyOnDemand"
        | "DisableKeyRotation" => key_only(kms, caller, operation, body),
        "GetParametersForImport" => get_parameters_for_import(kms, caller, body),
        "ImportKeyMaterial" => import_key_material(kms, caller, body),
        "DeleteImportedKeyMaterial" => delete_imported_key_material(kms, caller, body),
        "GetKeyRotationStatus" => get_key_rotation_status(kms, caller, body),
        "EnableKeyRotation" => enable_key_rotation(kms, caller, body),
        "ListKeyRotations" => list_key_rotations(kms, caller, body),
        "Encrypt" => encrypt(kms, caller, body),
        "Decrypt" => decrypt(kms, caller, body),
        "ReEncrypt" => re_encrypt(kms, caller, body),
        "GenerateDataKey" => generate_data_key(kms, caller, body, true),
        "GenerateDataKeyWithoutPlaintext" => generate_data_key(kms, caller, body, false),
        "GenerateMac" => generate_mac(kms, caller, body),
        "GenerateDataKeyPair" => generate_data_key_pair(kms, caller, body, true),
        "GenerateDataKeyPairWithoutPlaintext" => generate_data_key_pair(kms, caller, body, false),
        "GetPublicKey" => get_public_key(kms, caller, body),
        "Sign" => sign(kms, caller, body),
        "Verify" => verify(kms, caller, body),
        "DeriveSharedSecret" => derive_shared_secret(kms, caller, body),
        "VerifyMac" => verify_mac(kms, caller, body),
        "ScheduleKeyDeletion" => schedule_key_deletion(kms, caller, body),
        "CreateAlias" | "UpdateAlias" => alias(kms, caller, operation, body),
        "DeleteAlias" => delete_alias(kms, caller, body),
        "ListAliases" => list_aliases(kms, caller, body),
        "TagResource" => tag_resource(kms, caller, body),
        "UntagResource" => untag_resource(kms, caller, body),
        "ListResourceTags" => list_resource_tags(kms, caller, body),
        "UpdateKeyDescription" => update_key_description(kms, caller, body),
        "GenerateRandom" => generate_random(kms, caller, body),
        "DescribeCustomKeyStores" => describe_custom_key_stores(kms, caller, body),
        "GetKeyPolicy" => get_key_policy(kms, caller, body),
        "PutKeyPolicy" => put_key_policy(kms, caller, body),
        "ListKeyPolicies" => list_key_policies(kms, caller, body),
        _ => Err(Failure::Wire(ApiError::new(
            "UnknownOperationException",
            format!("byok does not implement the operation {operation:?}"),
            400,
        ))),
    };
    result.map_err(|f| match f {
        Failure::Engine(e) => e.into(),
        Failure::Wire(e) => {
            kms.audit_rejected_request(
                caller,
                operation,
                &e.error_type,
                &e.message,
                Some(body.len() as u64),
            );
            e
        }
    })
}

fn create_key(kms: &mut Kms, caller: &Caller, body: &[u8]) -> Handled {
    let r: CreateKeyInput = parse(body)?;
    // 1. The member constraints, all at once, in the request's member order.
    let mut found = Violations::default();
    if let Some(d) = &r.description {
        found.add(len_violation("description", d, 0, 8192));
    }
    found.add(enum_violation(
        "keyUsage",
        r.key_usage.as_deref(),
        KEY_USAGES,
    ));
    found.add(enum_violation(
        "customerMasterKeySpec",
        r.customer_master_key_spec.as_deref(),
        CUSTOMER_MASTER_KEY_SPECS,
    ));
    found.add(enum_violation("keySpec", r.key_spec.as_deref(), KEY_SPECS));
    found.add(enum_violation("origin", r.origin.as_deref(), ORIGINS));
    let tags = tags(r.tags, &mut found);
    found.check().map_err(wire)?;
    // 2. The combination of spec and usage.
    let spec = r
        .key_spec
        .as_deref()
        .or(r.customer_master_key_spec.as_deref())
        .unwrap_or("SYMMETRIC_DEFAULT");
    if spec != "SYMMETRIC_DEFAULT" && r.key_usage.is_none() {
        return Err(wire(KmsError::validation(
            "You must specify a KeyUsage value for all KMS keys except for symmetric encryption keys.",
        )));
    }
    let usage = r.key_usage.as_deref().unwrap_or("ENCRYPT_DECRYPT");
    if !usages_for(spec).contains(&usage) {
        return Err(wire(KmsError::validation(format!(
            "KeyUsage {usage} is not compatible with KeySpec {spec}"
        ))));
    }
    // 3. What AWS accepts and byok does not model: SM2, ML-DSA, Ed25519.
    let (Ok(key_spec), Ok(key_usage)) = (spec.parse::<KeySpec>(), usage.parse::<KeyUsage>()) else {
        return Err(wire(KmsError::new(
            ErrorKind::UnsupportedOperation,
            format!(
                "KeySpec {spec} is not supported: byok models SYMMETRIC_DEFAULT, HMAC, RSA and ECC (NIST, SECG P256K1) keys only."
            ),
        )));
    };
    let origin = match r.origin.as_deref() {
        None => None,
        Some(o) => Some(Origin::parse_member("origin", o).map_err(|_| {
            wire(KmsError::new(
                ErrorKind::UnsupportedOperation,
                format!("Origin {o} is not supported: byok models AWS_KMS and EXTERNAL keys only."),
            ))
        })?),
    };
    if r.custom_key_store_id.is_some() {
        return Err(wire(KmsError::new(
            ErrorKind::UnsupportedOperation,
            "Custom key stores are not supported by byok.",
        )));
    }
    if let Some(p) = &r.policy {
        Kms::check_key_policy(p).map_err(wire)?;
    }
    let req = CreateKeyRequest {
        description: r.description,
        origin,
        tags,
    };
    let multi_region = r.multi_region == Some(true);
    let id = kms.create_key_in(caller, req, key_spec, key_usage, multi_region)?;
    if let Some(p) = r.policy {
        kms.adopt_key_policy(id, p);
    }
    let key = kms
        .key(id)
        .ok_or_else(|| KmsError::new(ErrorKind::KmsInternal, "created key vanished"))?;
    json(
        &KeyMetadataOutput {
            key_metadata: KeyMetadata::of(kms, key),
        },
        0,
    )
}

fn replicate_key(kms: &mut Kms, caller: &Caller, body: &[u8]) -> Handled {
    let r: ReplicateKeyInput = parse(body)?;
    let key_id = required(r.key_id, "keyId")?;
    let replica_region = required(r.replica_region, "replicaRegion")?;
    let mut found = Violations::default();
    let tags = tags(r.tags, &mut found);
    found.check().map_err(wire)?;
    let req = crate::kms::ReplicateKeyRequest {
        key_id,
        replica_region: replica_region.clone(),
        description: r.description,
        tags,
        policy: r.policy,
    };
    let id = kms.replicate_key(caller, &req)?;
    kms.in_region(Some(&replica_region), |kms| {
        let key = kms
            .key(id)
            .ok_or_else(|| KmsError::new(ErrorKind::KmsInternal, "replica key vanished"))?;
        let replica_policy = kms.key_policy_of(id);
        json(
            &ReplicateKeyOutput {
                replica_key_metadata: KeyMetadata::of(kms, key),
                replica_policy: Some(replica_policy),
                replica_tags: key
                    .tags()
                    .iter()
                    .map(|t| TagShape {
                        tag_key: Some(t.key.clone()),
                        tag_value: Some(t.value.clone()),
                    })
                    .collect(),
            },
            0,
        )
    })
}

fn update_primary_region(kms: &mut Kms, caller: &Caller, body: &[u8]) -> Handled {
    let r: UpdatePrimaryRegionInput = parse(body)?;
    let key_id = required(r.key_id, "keyId")?;
    let primary_region = required(r.primary_region, "primaryRegion")?;
    kms.update_primary_region(caller, &key_id, &primary_region)?;
    json(&Empty {}, 0)
}

fn describe_key(kms: &mut Kms, caller: &Caller, body: &[u8]) -> Handled {
    let r: KeyIdInput = parse(body)?;
    let key_id = required(r.key_id, "keyId")?;
    let id = kms.describe_key(caller, &key_id)?;
    let key = kms
        .key(id)
        .ok_or_else(|| KmsError::new(ErrorKind::KmsInternal, "described key vanished"))?;
    json(
        &KeyMetadataOutput {
            key_metadata: KeyMetadata::of(kms, key),
        },
        0,
    )
}

fn list_keys(kms: &mut Kms, caller: &Caller, body: &[u8]) -> Handled {
    let r: ListKeysInput = parse(body)?;
    let page = kms.list_keys(caller, r.limit, r.marker.as_deref())?;
    let out = ListKeysOutput {
        keys: page
            .items
            .iter()
            .map(|id| KeyListEntry {
                key_id: id.to_string(),
                key_arn: kms.arn(*id),
            })
            .collect(),
        truncated: page.next_marker.is_some(),
        next_marker: page.next_marker,
    };
    json(&out, 0)
}

fn key_only(kms: &mut Kms, caller: &Caller, operation: &str, body: &[u8]) -> Handled {
    let r: KeyIdInput = parse(body)?;
    let key_id = required(r.key_id, "keyId")?;
    match operation {
        "EnableKey" => {
            kms.enable_key(caller, &key_id)?;
            json(&Empty {}, 0)
        }
        "DisableKey" => {
            kms.disable_key(caller, &key_id)?;
            json(&Empty {}, 0)
        }
        "DisableKeyRotation" => {
            kms.disable_key_rotation(caller, &key_id)?;
            json(&Empty {}, 0)
        }
        "CancelKeyDeletion" => {
            let id = kms.cancel_key_deletion(caller, &key_id)?;
            json(
                &KeyIdOutput {
                    key_id: kms.arn(id),
                },
                0,
            )
        }
        _ => {
            let id = kms.rotate_key_on_demand(caller, &key_id)?;
            json(
                &KeyIdOutput {
                    key_id: kms.arn(id),
                },
                0,
            )
        }
    }
}

fn get_parameters_for_import(kms: &mut Kms, caller: &Caller, body: &[u8]) -> Handled {
    let r: GetParametersForImportInput = parse(body)?;
    let key_id = required(r.key_id, "keyId")?;
    let algorithm = required(
        enum_member(
            WrappingAlgorithm::parse_member,
            "wrappingAlgorithm",
            r.wrapping_algorithm.as_deref(),
        )?,
        "wrappingAlgorithm",
    )?;
    let spec = required(
        enum_member(
            WrappingKeySpec::parse_member,
            "wrappingKeySpec",
            r.wrapping_key_spec.as_deref(),
        )?,
        "wrappingKeySpec",
    )?;
    let out = kms.get_parameters_for_import(caller, &key_id, algorithm, spec)?;
    json(
        &GetParametersForImportOutput {
            key_id: kms.arn(out.key_id),
            import_token: Blob::copy_of(&out.import_token),
            public_key: Blob::copy_of(&out.public_key),
            parameters_valid_to: Time(out.parameters_valid_to),
        },
        out.public_key.len() + out.import_token.len(),
    )
}

fn import_key_material(kms: &mut Kms, caller: &Caller, body: &[u8]) -> Handled {
    let r: ImportKeyMaterialInput = parse(body)?;
    let req = ImportKeyMaterialRequest {
        key_id: required(r.key_id, "keyId")?,
        import_token: required(r.import_token, "importToken")?.bytes().to_vec(),
        encrypted_key_material: required(r.encrypted_key_material, "encryptedKeyMaterial")?
            .bytes()
            .to_vec(),
        expiration_model: enum_member(
            ExpirationModel::parse_member,
            "expirationModel",
            r.expiration_model.as_deref(),
        )?,
        valid_to: r.valid_to.map(|t| t.0),
        import_type: enum_member(
            ImportType::parse_member,
            "importType",
            r.import_type.as_deref(),
        )?,
        key_material_description: r.key_material_description,
        key_material_id: r.key_material_id,
    };
    let out = kms.import_key_material(caller, &req)?;
    json(
        &KeyMaterialOutput {
            key_id: kms.arn(out.key_id),
            key_material_id: out.key_material_id.to_string(),
        },
        0,
    )
}

fn delete_imported_key_material(kms: &mut Kms, caller: &Caller, body: &[u8]) -> Handled {
    let r: DeleteImportedKeyMaterialInput = parse(body)?;
    let key_id = required(r.key_id, "keyId")?;
    let (id, material) =
        kms.delete_imported_key_material(caller, &key_id, r.key_material_id.as_deref())?;
    json(
        &KeyMaterialOutput {
            key_id: kms.arn(id),
            key_material_id: material.to_string(),
        },
        0,
    )
}

fn get_key_rotation_status(kms: &mut Kms, caller: &Caller, body: &[u8]) -> Handled {
    let r: KeyIdInput = parse(body)?;
    let key_id = required(r.key_id, "keyId")?;
    let s = kms.get_key_rotation_status(caller, &key_id)?;
    json(
        &GetKeyRotationStatusOutput {
            key_rotation_enabled: s.key_rotation_enabled,
            key_id: kms.arn(s.key_id),
            rotation_period_in_days: s.rotation_period_in_days,
            next_rotation_date: s.next_rotation_date.map(Time),
            on_demand_rotation_start_date: s.on_demand_rotation_start_date.map(Time),
        },
        0,
    )
}

fn enable_key_rotation(kms: &mut Kms, caller: &Caller, body: &[u8]) -> Handled {
    let r: EnableKeyRotationInput = parse(body)?;
    let key_id = required(r.key_id, "keyId")?;
    kms.enable_key_rotation(caller, &key_id, r.rotation_period_in_days)?;
    json(&Empty {}, 0)
}

fn list_key_rotations(kms: &mut Kms, caller: &Caller, body: &[u8]) -> Handled {
    let r: ListKeyRotationsInput = parse(body)?;
    let key_id = required(r.key_id, "keyId")?;
    let include = enum_member(
        IncludeKeyMaterial::parse_member,
        "includeKeyMaterial",
        r.include_key_material.as_deref(),
    )?;
    let page = kms.list_key_rotations(caller, &key_id, include, r.limit, r.marker.as_deref())?;
    json(
        &ListKeyRotationsOutput {
            rotations: page
                .items
                .iter()
                .map(RotationsListEntryShape::from)
                .collect(),
            truncated: page.next_marker.is_some(),
            next_marker: page.next_marker,
        },
        0,
    )
}

fn encrypt(kms: &mut Kms, caller: &Caller, body: &[u8]) -> Handled {
    let r: EncryptInput = parse(body)?;
    let key_id = required(r.key_id, "keyId")?;
    let plaintext = required(r.plaintext, "plaintext")?;
    let algorithm = encryption_algorithm(r.encryption_algorithm.as_deref())?;
    let context = r.encryption_context.unwrap_or_default();
    if let Some(algorithm) = algorithm {
        let out = kms.encrypt_asymmetric(
            caller,
            &key_id,
            plaintext.bytes(),
            algorithm,
            !context.is_empty(),
            r.dry_run == Some(true),
        )?;
        return json(
            &EncryptOutputShape {
                ciphertext_blob: Blob::copy_of(&out.ciphertext_blob),
                key_id: kms.arn(out.key_id),
                encryption_algorithm: out.encryption_algorithm.as_str().into(),
            },
            out.ciphertext_blob.len(),
        );
    }
    if r.dry_run == Some(true) {
        return Err(kms
            .dry_run_encrypt(caller, &key_id, plaintext.bytes(), &context)
            .into());
    }
    let out = kms.encrypt(caller, &key_id, plaintext.bytes(), &context)?;
    json(
        &EncryptOutputShape {
            ciphertext_blob: Blob::copy_of(&out.ciphertext_blob),
            key_id: kms.arn(out.key_id),
            encryption_algorithm: "SYMMETRIC_DEFAULT".into(),
        },
        out.ciphertext_blob.len(),
    )
}

/// The `EncryptionAlgorithm` of Encrypt and Decrypt: `None` for
/// SYMMETRIC_DEFAULT (or none given), the RSA algorithm otherwise.
fn encryption_algorithm(v: Option<&str>) -> Result<Option<EncryptionAlgorithm>, Failure> {
    Ok(
        enum_member(EncryptionAlgorithm::parse_member, "encryptionAlgorithm", v)?
            .filter(|a| *a != EncryptionAlgorithm::SymmetricDefault),
    )
}

/// The required `SigningAlgorithm` and the optional `MessageType` of Sign
/// and Verify.
fn signing_members(
    algorithm: Option<&str>,
    message_type: Option<&str>,
) -> Result<(SigningAlgorithm, Option<MessageType>), Failure> {
    let message_type = enum_member(MessageType::parse_member, "messageType", message_type)?;
    let algorithm = required(
        enum_member(
            SigningAlgorithm::parse_member,
            "signingAlgorithm",
            algorithm,
        )?,
        "signingAlgorithm",
    )?;
    Ok((algorithm, message_type))
}

/// GenerateDataKeyPair's `KeyPairSpec` values (AWS's `DataKeyPairSpec`).
const KEY_PAIR_SPECS: &[&str] = &[
    "RSA_2048",
    "RSA_3072",
    "RSA_4096",
    "ECC_NIST_P256",
    "ECC_NIST_P384",
    "ECC_NIST_P521",
    "ECC_SECG_P256K1",
    "SM2",
    "ECC_NIST_EDWARDS25519",
];

fn generate_data_key_pair(
    kms: &mut Kms,
    caller: &Caller,
    body: &[u8],
    with_plaintext: bool,
) -> Handled {
    let r: GenerateDataKeyPairInput = parse(body)?;
    let key_id = required(r.key_id, "keyId")?;
    let spec = required(r.key_pair_spec, "keyPairSpec")?;
    let mut found = Violations::default();
    found.add(enum_violation("keyPairSpec", Some(&spec), KEY_PAIR_SPECS));
    found.check().map_err(wire)?;
    let Some(key_pair_spec) = spec.parse::<KeySpec>().ok().filter(|s| s.is_asymmetric()) else {
        return Err(wire(KmsError::new(
            ErrorKind::UnsupportedOperation,
            format!(
                "KeyPairSpec {spec} is not supported: byok makes RSA and ECC (NIST, SECG P256K1) key pairs only."
            ),
        )));
    };
    if r.recipient.is_some() {
        return Err(wire(KmsError::new(
            ErrorKind::UnsupportedOperation,
            "Recipient (AWS Nitro Enclaves attestation) is not supported by byok.",
        )));
    }
    let out = kms.generate_data_key_pair(
        caller,
        &key_id,
        key_pair_spec,
        &r.encryption_context.unwrap_or_default(),
        with_plaintext,
        r.dry_run == Some(true),
    )?;
    json(
        &GenerateDataKeyPairOutputShape {
            private_key_ciphertext_blob: Blob::copy_of(&out.private_key_ciphertext_blob),
            private_key_plaintext: out
                .private_key_plaintext
                .as_ref()
                .map(|p| Blob::copy_of(p.expose())),
            public_key: Blob::copy_of(&out.public_key),
            key_id: kms.arn(out.key_id),
            key_pair_spec: out.key_pair_spec.as_str().into(),
            key_material_id: Some(out.key_material_id.to_string()),
        },
        out.private_key_ciphertext_blob.len() + out.public_key.len() * 3,
    )
}

fn get_public_key(kms: &mut Kms, caller: &Caller, body: &[u8]) -> Handled {
    let r: GetPublicKeyInput = parse(body)?;
    let key_id = required(r.key_id, "keyId")?;
    let out = kms.get_public_key(caller, &key_id)?;
    let (encryption, signing, agreement) =
        crate::kms::asym::algorithms_for(out.key_spec, out.key_usage);
    json(
        &GetPublicKeyOutputShape {
            key_id: kms.arn(out.key_id),
            public_key: Blob::copy_of(&out.public_key),
            customer_master_key_spec: out.key_spec.as_str().into(),
            key_spec: out.key_spec.as_str().into(),
            key_usage: out.key_usage.as_str().into(),
            encryption_algorithms: non_empty(encryption),
            signing_algorithms: non_empty(signing),
            key_agreement_algorithms: non_empty(agreement),
        },
        out.public_key.len(),
    )
}

fn sign(kms: &mut Kms, caller: &Caller, body: &[u8]) -> Handled {
    let r: SignInput = parse(body)?;
    let key_id = required(r.key_id, "keyId")?;
    let message = required(r.message, "message")?;
    let (algorithm, message_type) =
        signing_members(r.signing_algorithm.as_deref(), r.message_type.as_deref())?;
    let out = kms.sign(
        caller,
        &key_id,
        message.bytes(),
        message_type,
        algorithm,
        r.dry_run == Some(true),
    )?;
    json(
        &SignOutputShape {
            key_id: kms.arn(out.key_id),
            signature: Blob::copy_of(&out.signature),
            signing_algorithm: out.signing_algorithm.as_str().into(),
        },
        out.signature.len(),
    )
}

fn verify(kms: &mut Kms, caller: &Caller, body: &[u8]) -> Handled {
    let r: VerifyInput = parse(body)?;
    let key_id = required(r.key_id, "keyId")?;
    let message = required(r.message, "message")?;
    let signature = required(r.signature, "signature")?;
    let (algorithm, message_type) =
        signing_members(r.signing_algorithm.as_deref(), r.message_type.as_deref())?;
    let id = kms.verify(
        caller,
        &key_id,
        message.bytes(),
        message_type,
        signature.bytes(),
        algorithm,
        r.dry_run == Some(true),
    )?;
    json(
        &VerifyOutputShape {
            key_id: kms.arn(id),
            signature_valid: true,
            signing_algorithm: algorithm.as_str().into(),
        },
        0,
    )
}

fn derive_shared_secret(kms: &mut Kms, caller: &Caller, body: &[u8]) -> Handled {
    let r: DeriveSharedSecretInput = parse(body)?;
    let key_id = required(r.key_id, "keyId")?;
    let algorithm = required(
        enum_member(
            KeyAgreementAlgorithm::parse_member,
            "keyAgreementAlgorithm",
            r.key_agreement_algorithm.as_deref(),
        )?,
        "keyAgreementAlgorithm",
    )?;
    let public_key = required(r.public_key, "publicKey")?;
    if r.recipient.is_some() {
        return Err(wire(KmsError::new(
            ErrorKind::UnsupportedOperation,
            "Recipient (AWS Nitro Enclaves attestation) is not supported by byok.",
        )));
    }
    let out = kms.derive_shared_secret(
        caller,
        &key_id,
        algorithm,
        public_key.bytes(),
        r.dry_run == Some(true),
    )?;
    json(
        &DeriveSharedSecretOutputShape {
            key_id: kms.arn(out.key_id),
            shared_secret: Blob::copy_of(out.shared_secret.expose()),
            key_agreement_algorithm: algorithm.as_str().into(),
            key_origin: out.key_origin.as_str().into(),
        },
        out.shared_secret.len(),
    )
}

/// The required `MacAlgorithm` member of GenerateMac and VerifyMac.
fn mac_algorithm(v: Option<&str>) -> Result<MacAlgorithm, Failure> {
    required(
        enum_member(MacAlgorithm::parse_member, "macAlgorithm", v)?,
        "macAlgorithm",
    )
}

fn generate_mac(kms: &mut Kms, caller: &Caller, body: &[u8]) -> Handled {
    let r: GenerateMacInput = parse(body)?;
    let message = required(r.message, "message")?;
    let key_id = required(r.key_id, "keyId")?;
    let algorithm = mac_algorithm(r.mac_algorithm.as_deref())?;
    let out = kms.generate_mac(
        caller,
        &key_id,
        message.bytes(),
        algorithm,
        r.dry_run == Some(true),
    )?;
    json(
        &GenerateMacOutputShape {
            mac: Blob::copy_of(&out.mac),
            mac_algorithm: out.mac_algorithm.as_str().into(),
            key_id: kms.arn(out.key_id),
        },
        out.mac.len(),
    )
}

fn verify_mac(kms: &mut Kms, caller: &Caller, body: &[u8]) -> Handled {
    let r: VerifyMacInput = parse(body)?;
    let message = required(r.message, "message")?;
    let key_id = required(r.key_id, "keyId")?;
    let algorithm = mac_algorithm(r.mac_algorithm.as_deref())?;
    let mac = required(r.mac, "mac")?;
    let id = kms.verify_mac(
        caller,
        &key_id,
        message.bytes(),
        mac.bytes(),
        algorithm,
        r.dry_run == Some(true),
    )?;
    json(
        &VerifyMacOutputShape {
            key_id: kms.arn(id),
            mac_valid: true,
            mac_algorithm: algorithm.as_str().into(),
        },
        0,
    )
}

fn decrypt(kms: &mut Kms, caller: &Caller, body: &[u8]) -> Handled {
    let r: DecryptInput = parse(body)?;
    let blob = required(r.ciphertext_blob, "ciphertextBlob")?;
    if let Some(algorithm) = encryption_algorithm(r.encryption_algorithm.as_deref())? {
        // The Decrypt API reference: with an asymmetric KMS key "you must
        // specify the KMS key"; **[byok]** message.
        let Some(key_id) = r.key_id else {
            return Err(wire(KmsError::validation(format!(
                "KeyId is required when decrypting with the {algorithm} encryption algorithm (an asymmetric KMS key)."
            ))));
        };
        let has_context = r.encryption_context.is_some_and(|c| !c.is_empty());
        let out = kms.decrypt_asymmetric(
            caller,
            &key_id,
            blob.bytes(),
            algorithm,
            has_context,
            r.dry_run == Some(true),
        )?;
        return json(
            &DecryptOutputShape {
                key_id: kms.arn(out.key_id),
                plaintext: Blob::copy_of(out.plaintext.expose()),
                encryption_algorithm: out.encryption_algorithm.as_str().into(),
                key_material_id: Some(out.key_material_id.to_string()),
            },
            out.plaintext.len(),
        );
    }
    let req = DecryptRequest {
        ciphertext_blob: blob.bytes().to_vec(),
        encryption_context: r.encryption_context.unwrap_or_default(),
        key_id: r.key_id,
    };
    if r.dry_run == Some(true) {
        return Err(kms.dry_run_decrypt(caller, &req).into());
    }
    let out = kms.decrypt(caller, &req)?;
    json(
        &DecryptOutputShape {
            key_id: kms.arn(out.key_id),
            plaintext: Blob::copy_of(out.plaintext.expose()),
            encryption_algorithm: "SYMMETRIC_DEFAULT".into(),
            key_material_id: Some(out.key_material_id.to_string()),
        },
        out.plaintext.len(),
    )
}

fn re_encrypt(kms: &mut Kms, caller: &Caller, body: &[u8]) -> Handled {
    let r: ReEncryptInput = parse(body)?;
    let blob = required(r.ciphertext_blob, "ciphertextBlob")?;
    let destination = required(r.destination_key_id, "destinationKeyId")?;
    symmetric_only(
        "sourceEncryptionAlgorithm",
        r.source_encryption_algorithm.as_deref(),
    )?;
    symmetric_only(
        "destinationEncryptionAlgorithm",
        r.destination_encryption_algorithm.as_deref(),
    )?;
    let req = ReEncryptRequest {
        ciphertext_blob: blob.bytes().to_vec(),
        source_encryption_context: r.source_encryption_context.unwrap_or_default(),
        source_key_id: r.source_key_id,
        destination_key_id: destination,
        destination_encryption_context: r.destination_encryption_context.unwrap_or_default(),
    };
    if r.dry_run == Some(true) {
        return Err(kms.dry_run_re_encrypt(caller, &req).into());
    }
    let out = kms.re_encrypt(caller, &req)?;
    json(
        &ReEncryptOutputShape {
            ciphertext_blob: Blob::copy_of(&out.ciphertext_blob),
            source_key_id: kms.arn(out.source_key_id),
            key_id: kms.arn(out.key_id),
            source_encryption_algorithm: "SYMMETRIC_DEFAULT".into(),
            destination_encryption_algorithm: "SYMMETRIC_DEFAULT".into(),
            source_key_material_id: Some(out.source_key_material_id.to_string()),
            destination_key_material_id: Some(out.destination_key_material_id.to_string()),
        },
        out.ciphertext_blob.len(),
    )
}

fn generate_data_key(kms: &mut Kms, caller: &Caller, body: &[u8], with_plaintext: bool) -> Handled {
    let r: GenerateDataKeyInput = parse(body)?;
    let key_id = required(r.key_id, "keyId")?;
    let spec = enum_member(DataKeySpec::parse_member, "keySpec", r.key_spec.as_deref())?;
    let length = match (spec, r.number_of_bytes) {
        (Some(_), Some(_)) => {
            return Err(wire(KmsError::validation(
                "Please specify either number of bytes or key spec.",
            )));
        }
        (Some(s), None) => Some(DataKeyLength::Spec(s)),
        (None, Some(n)) => Some(DataKeyLength::Bytes(n)),
        (None, None) => None,
    };
    let context = r.encryption_context.unwrap_or_default();
    if r.dry_run == Some(true) {
        return Err(kms
            .dry_run_generate_data_key(caller, &key_id, length, &context, with_plaintext)
            .into());
    }
    let out = kms.generate_data_key(caller, &key_id, length, &context, with_plaintext)?;
    json(
        &GenerateDataKeyOutputShape {
            ciphertext_blob: Blob::copy_of(&out.ciphertext_blob),
            plaintext: out.plaintext.as_ref().map(|p| Blob::copy_of(p.expose())),
            key_id: kms.arn(out.key_id),
            key_material_id: Some(out.key_material_id.to_string()),
        },
        out.ciphertext_blob.len(),
    )
}

fn schedule_key_deletion(kms: &mut Kms, caller: &Caller, body: &[u8]) -> Handled {
    let r: ScheduleKeyDeletionInput = parse(body)?;
    let key_id = required(r.key_id, "keyId")?;
    let out = kms.schedule_key_deletion(caller, &key_id, r.pending_window_in_days)?;
    json(
        &ScheduleKeyDeletionOutputShape {
            key_id: kms.arn(out.key_id),
            deletion_date: if out.pending_replica_deletion {
                Time::default()
            } else {
                Time(out.deletion_date)
            },
            key_state: if out.pending_replica_deletion {
                "PendingReplicaDeletion".into()
            } else {
                KeyState::PendingDeletion.as_str().into()
            },
            pending_window_in_days: out.pending_window_days,
        },
        0,
    )
}

fn alias(kms: &mut Kms, caller: &Caller, operation: &str, body: &[u8]) -> Handled {
    let r: AliasInput = parse(body)?;
    let name = required(r.alias_name, "aliasName")?;
    let target = required(r.target_key_id, "targetKeyId")?;
    if operation == "CreateAlias" {
        kms.create_alias(caller, &name, &target)?;
    } else {
        kms.update_alias(caller, &name, &target)?;
    }
    json(&Empty {}, 0)
}

fn delete_alias(kms: &mut Kms, caller: &Caller, body: &[u8]) -> Handled {
    let r: AliasInput = parse(body)?;
    let name = required(r.alias_name, "aliasName")?;
    kms.delete_alias(caller, &name)?;
    json(&Empty {}, 0)
}

fn list_aliases(kms: &mut Kms, caller: &Caller, body: &[u8]) -> Handled {
    let r: ListAliasesInput = parse(body)?;
    let page = kms.list_aliases(caller, r.key_id.as_deref(), r.limit, r.marker.as_deref())?;
    json(
        &ListAliasesOutput {
            aliases: page
                .items
                .iter()
                .map(|a| AliasListEntry::of(kms, a))
                .collect(),
            truncated: page.next_marker.is_some(),
            next_marker: page.next_marker,
        },
        0,
    )
}

fn tag_resource(kms: &mut Kms, caller: &Caller, body: &[u8]) -> Handled {
    let r: TagResourceInput = parse(body)?;
    let key_id = required(r.key_id, "keyId")?;
    let mut found = Violations::default();
    found.add(len_violation("keyId", &key_id, 1, 2048));
    let tags = tags(Some(required(r.tags, "tags")?), &mut found);
    found.check().map_err(wire)?;
    kms.tag_resource(caller, &key_id, &tags)?;
    json(&Empty {}, 0)
}

fn untag_resource(kms: &mut Kms, caller: &Caller, body: &[u8]) -> Handled {
    let r: UntagResourceInput = parse(body)?;
    let key_id = required(r.key_id, "keyId")?;
    let keys = required(r.tag_keys, "tagKeys")?;
    kms.untag_resource(caller, &key_id, &keys)?;
    json(&Empty {}, 0)
}

fn list_resource_tags(kms: &mut Kms, caller: &Caller, body: &[u8]) -> Handled {
    let r: ListResourceTagsInput = parse(body)?;
    let key_id = required(r.key_id, "keyId")?;
    let page = kms.list_resource_tags(caller, &key_id, r.limit, r.marker.as_deref())?;
    json(
        &ListResourceTagsOutput {
            tags: page.items.iter().map(TagShape::from).collect(),
            truncated: page.next_marker.is_some(),
            next_marker: page.next_marker,
        },
        0,
    )
}

fn get_key_policy(kms: &mut Kms, caller: &Caller, body: &[u8]) -> Handled {
    let r: KeyPolicyInput = parse(body)?;
    let key_id = required(r.key_id, "keyId")?;
    let (policy, name) = kms.get_key_policy(caller, &key_id, r.policy_name.as_deref())?;
    json(
        &GetKeyPolicyOutput {
            policy,
            policy_name: Some(name),
        },
        0,
    )
}

fn put_key_policy(kms: &mut Kms, caller: &Caller, body: &[u8]) -> Handled {
    let r: KeyPolicyInput = parse(body)?;
    let key_id = required(r.key_id, "keyId")?;
    let policy = required(r.policy, "policy")?;
    kms.put_key_policy(
        caller,
        &key_id,
        r.policy_name.as_deref(),
        &policy,
        r.bypass_policy_lockout_safety_check.unwrap_or(false),
    )?;
    json(&Empty {}, 0)
}

fn list_key_policies(kms: &mut Kms, caller: &Caller, body: &[u8]) -> Handled {
    let r: KeyPolicyInput = parse(body)?;
    let key_id = required(r.key_id, "keyId")?;
    let names = kms.list_key_policies(caller, &key_id)?;
    json(
        &ListKeyPoliciesOutput {
            policy_names: names,
            next_marker: None,
            truncated: false,
        },
        0,
    )
}

fn update_key_description(kms: &mut Kms, caller: &Caller, body: &[u8]) -> Handled {
    let r: UpdateKeyDescriptionInput = parse(body)?;
    let key_id = required(r.key_id, "keyId")?;
    let description = required(r.description, "description")?;
    kms.update_key_description(caller, &key_id, &description)?;
    json(&Empty {}, 0)
}

fn generate_random(kms: &mut Kms, caller: &Caller, body: &[u8]) -> Handled {
    let r: GenerateRandomInput = parse(body)?;
    let bytes = kms.generate_random(caller, r.number_of_bytes, r.custom_key_store_id.as_deref())?;
    json(
        &GenerateRandomOutput {
            plaintext: Blob::copy_of(bytes.expose()),
        },
        bytes.len(),
    )
}

fn describe_custom_key_stores(kms: &mut Kms, caller: &Caller, body: &[u8]) -> Handled {
    let r: DescribeCustomKeyStoresInput = parse(body)?;
    let page = kms.describe_custom_key_stores(
        caller,
        r.custom_key_store_id.as_deref(),
        r.custom_key_store_name.as_deref(),
        r.limit,
        r.marker.as_deref(),
    )?;
    json(
        &DescribeCustomKeyStoresOutput {
            custom_key_stores: Vec::new(),
            truncated: page.next_marker.is_some(),
            next_marker: page.next_marker,
        },
        0,
    )
}
