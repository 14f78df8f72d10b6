//! Importing key material: GetParametersForImport, ImportKeyMaterial and
//! DeleteImportedKeyMaterial (SPEC §3), checked in the order SPEC gives.

use std::time::Duration;

use serde_json::json;

use super::asym::AsymmetricKey;
use super::audit::Caller;
use super::clock::{Timestamp, days};
use super::engine::{ImportParameters, Kms, check_blob, check_len};
use super::error::{ErrorKind, KmsError, KmsResult};
use super::material::key_material_id;
use super::model::{
    ExpirationModel, ImportState, ImportType, KeyId, KeyMaterial, KeyMaterialId, KeyMaterialState,
    KeySpec, KeyState, MaterialBytes, Origin, WrappingAlgorithm, WrappingKeySpec,
};
use super::token::{self, TokenClaims};
use super::wrapping::{private_key_from_der, private_key_to_der, public_key_der, unwrap_material};

/// How long import parameters stay valid.
pub const PARAMETERS_LIFETIME: Duration = Duration::from_secs(24 * 3600);
/// How far ahead `ValidTo` may lie.
pub const MAX_VALID_TO_AHEAD: Duration = days(365);

/// GetParametersForImport's result.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImportParametersOutput {
    /// The key.
    pub key_id: KeyId,
    /// DER SubjectPublicKeyInfo of the wrapping key.
    pub public_key: Vec<u8>,
    /// The opaque token to send back with the wrapped material.
    pub import_token: Vec<u8>,
    /// When the token and key pair expire.
    pub parameters_valid_to: Timestamp,
}

/// ImportKeyMaterial's inputs.
#[derive(Clone, Debug, Default)]
pub struct ImportKeyMaterialRequest {
    /// `KeyId` (key id or ARN).
    pub key_id: String,
    /// `ImportToken`.
    pub import_token: Vec<u8>,
    /// `EncryptedKeyMaterial`.
    pub encrypted_key_material: Vec<u8>,
    /// `ExpirationModel` (default `KEY_MATERIAL_EXPIRES`).
    pub expiration_model: Option<ExpirationModel>,
    /// `ValidTo`.
    pub valid_to: Option<Timestamp>,
    /// `ImportType` (default: new for a key without material, else existing).
    pub import_type: Option<ImportType>,
    /// `KeyMaterialDescription`.
    pub key_material_description: Option<String>,
    /// `KeyMaterialId` (re-imports only).
    pub key_material_id: Option<String>,
}

/// ImportKeyMaterial's result.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ImportOutput {
    /// The key.
    pub key_id: KeyId,
    /// The material's id.
    pub key_material_id: KeyMaterialId,
    /// The material's state after the import.
    pub key_material_state: KeyMaterialState,
    /// Whether the import restored known material.
    pub import_type: ImportType,
}

fn check_description(d: &str) -> KmsResult<()> {
    check_len("keyMaterialDescription", d, 0, 256)?;
    if !d.chars().all(|c| {
        c.is_ascii_alphanumeric() || c.is_whitespace() || matches!(c, ':' | '/' | '_' | '.' | '-')
    }) || d.is_empty()
    {
        return Err(KmsError::constraint(
            "keyMaterialDescription",
            Some(d),
            "Member must satisfy regular expression pattern: ^[a-zA-Z0-9:/_\\s.-]+$",
        ));
    }
    Ok(())
}

/// The canonical PKCS #8 encoding of an imported asymmetric private key, or
/// `IncorrectKeyMaterialException`. AWS documents the exception ("the key
/// material in the request is, expired, invalid, or does not meet
/// expectations", the ImportKeyMaterial API reference) but publishes no
/// message for a private key of the wrong type or size **[byok]**: the
/// message says what the key spec takes (the Developer Guide's
/// "Requirements for imported key material").
fn asym_material(arn: &str, spec: KeySpec, der: &[u8]) -> KmsResult<MaterialBytes> {
    let key = AsymmetricKey::from_pkcs8(spec, der).map_err(|wanted| {
        KmsError::new(
            ErrorKind::IncorrectKeyMaterial,
            format!(
                "The key material in the request is invalid for KMS key {arn}: a {spec} key takes {wanted}."
            ),
        )
    })?;
    key.to_pkcs8()
}

impl Kms {
    /// GetParametersForImport: a fresh wrapping key pair and a token bound to
    /// the key, the pair and the algorithm, valid for 24 hours.
    pub fn get_parameters_for_import(
        &mut self,
        caller: &Caller,
        key_id: &str,
        algorithm: WrappingAlgorithm,
        spec: WrappingKeySpec,
    ) -> KmsResult<ImportParametersOutput> {
        let params = json!({"keyId": key_id, "wrappingAlgorithm": algorithm.as_str(), "wrappingKeySpec": spec.as_str()});
        self.call(caller, "GetParametersForImport", false, params, |kms, call| {
            if algorithm == WrappingAlgorithm::RsaesPkcs1V15 {
                return Err(KmsError::validation(
                    "The RSAES_PKCS1_V1_5 wrapping algorithm is no longer supported for importing key material (AWS stopped accepting it in October 2023). Use RSAES_OAEP_SHA_256 or RSA_AES_KEY_WRAP_SHA_256.",
                ));
            }
            let id = kms.resolve("keyId", key_id, false)?;
            call.key(id);
            let origin = kms.key_ref(id)?.origin;
            if origin != Origin::External {
                return Err(kms.origin_error(id, origin));
            }
            kms.require_state(id, &[KeyState::Enabled, KeyState::Disabled, KeyState::PendingImport])?;
            super::rules::import_wrapping(&kms.arn(id), kms.key_ref(id)?.key_spec, algorithm, spec)?;
            let private = kms.take_wrapping_key(spec)?;
            let public_key = public_key_der(&private)?;
            let private_key = private_key_to_der(&private)?;
            drop(private);
            let claims = TokenClaims {
                token_id: kms.random(),
                key_id: id,
                algorithm,
                spec,
                valid_to: call.now.plus(PARAMETERS_LIFETIME),
            };
            let nonce = kms.random();
            let import_token = token::seal(&kms.state.token_secret, &claims, nonce);
            kms.state.import_parameters.insert(
                claims.token_id,
                ImportParameters {
                    key_id: id,
                    algorithm,
                    spec,
                    valid_to: claims.valid_to,
                    private_key,
                },
            );
            kms.changed();
            call.response = Some(json!({"keyId": kms.arn(id), "parametersValidTo": claims.valid_to.to_rfc3339()}));
            Ok(ImportParametersOutput {
                key_id: id,
                public_key,
                import_token,
                parameters_valid_to: claims.valid_to,
            })
        })
    }

    /// ImportKeyMaterial.
    pub fn import_key_material(
        &mut self,
        caller: &Caller,
        req: &ImportKeyMaterialRequest,
    ) -> KmsResult<ImportOutput> {
        let params = json!({
            "keyId": req.key_id,
            "expirationModel": req.expiration_model.map(|e| e.as_str()),
            "validTo": req.valid_to.map(|t| t.to_rfc3339()),
            "importType": req.import_type.map(|t| t.as_str()),
            "keyMaterialDescription": req.key_material_description,
            "keyMaterialId": req.key_material_id,
        });
        self.call(caller, "ImportKeyMaterial", false, params, |kms, call| {
            let now = call.now;
            // 1. member constraints
            check_len("keyId", &req.key_id, 1, 2048)?;
            check_blob("importToken", &req.import_token, 1, 6144)?;
            check_blob("encryptedKeyMaterial", &req.encrypted_key_material, 1, 6144)?;
            if let Some(d) = &req.key_material_description {
                check_description(d)?;
            }
            let expiration_model = req.expiration_model.unwrap_or(ExpirationModel::KeyMaterialExpires);
            match (expiration_model, req.valid_to) {
                (ExpirationModel::KeyMaterialExpires, None) => {
                    return Err(KmsError::validation(
                        "A validTo date must be set if the ExpirationModel is KEY_MATERIAL_EXPIRES",
                    ));
                }
                (ExpirationModel::KeyMaterialDoesNotExpire, Some(_)) => {
                    return Err(KmsError::validation(
                        "A validTo date must not be set if the ExpirationModel is KEY_MATERIAL_DOES_NOT_EXPIRE",
                    ));
                }
                (ExpirationModel::KeyMaterialExpires, Some(t)) if t <= now => {
                    return Err(KmsError::validation(format!(
                        "The validTo date {t} is in the past. It must be in the future and at most 365 days from now."
                    )));
                }
                (ExpirationModel::KeyMaterialExpires, Some(t)) if t > now.plus(MAX_VALID_TO_AHEAD) => {
                    return Err(KmsError::validation(format!(
                        "The validTo date {t} is more than 365 days from now. It must be in the future and at most 365 days from now."
                    )));
                }
                _ => {}
            }
            let expected_id = match &req.key_material_id {
                Some(given) => {
                    if req.import_type == Some(ImportType::NewKeyMaterial) {
                        return Err(KmsError::validation(
                            "KeyMaterialId can only be specified when ImportType is EXISTING_KEY_MATERIAL",
                        ));
                    }
                    Some(KeyMaterialId::parse(given).ok_or_else(|| {
                        KmsError::constraint(
                            "keyMaterialId",
                            Some(given),
                            "Member must satisfy regular expression pattern: ^[a-f0-9]{64}$",
                        )
                    })?)
                }
                None => None,
            };
            // 2. key, origin, state
            let id = kms.resolve("keyId", &req.key_id, false)?;
            call.key(id);
            let origin = kms.key_ref(id)?.origin;
            if origin != Origin::External {
                return Err(kms.origin_error(id, origin));
            }
            kms.require_state(id, &[KeyState::Enabled, KeyState::Disabled, KeyState::PendingImport])?;
            // An HMAC or asymmetric key's material cannot change after the
            // first import.
            let key_spec = kms.key_ref(id)?.key_spec;
            if key_spec.single_material()
                && req.import_type == Some(ImportType::NewKeyMaterial)
                && !kms.key_ref(id)?.materials.is_empty()
            {
                return Err(super::rules::no_new_material_error(&kms.arn(id)));
            }
            // 3. token
            let invalid_token = || {
                KmsError::new(
                    ErrorKind::InvalidImportToken,
                    "The import token is invalid or was issued for a different KMS key.",
                )
            };
            let claims = token::open(&kms.state.token_secret, &req.import_token)
                .filter(|c| c.key_id == id)
                .ok_or_else(invalid_token)?;
            if claims.valid_to <= now {
                return Err(KmsError::new(
                    ErrorKind::ExpiredImportToken,
                    format!(
                        "The import token expired at {}. Call GetParametersForImport for a new public key and import token, and wrap the key material again.",
                        claims.valid_to
                    ),
                ));
            }
            let parameters = kms.state.import_parameters.get(&claims.token_id).ok_or_else(invalid_token)?;
            // 4. unwrap
            let private = private_key_from_der(&parameters.private_key)?;
            let bytes = unwrap_material(&private, parameters.algorithm, &req.encrypted_key_material)?;
            drop(private);
            // The lengths the key spec takes (AWS KMS Developer Guide,
            // "Requirements for imported key material":
            // https://docs.aws.amazon.com/kms/latest/developerguide/importing-keys-conceptual.html#importing-keys-material-requirements);
            // anything else is refused like an unwrapping failure (SPEC §3, step 4).
            if !key_spec.material_lengths().contains(&bytes.len()) {
                return Err(KmsError::invalid_ciphertext());
            }
            // An asymmetric key's material is a DER PKCS #8 private key of the
            // key spec's type and size, kept in its canonical encoding so that
            // the same private key always has the same material id.
            let bytes = if key_spec.is_asymmetric() {
                asym_material(&kms.arn(id), key_spec, bytes.expose())?
            } else {
                bytes
            };
            // 5. material id, default import type
            let material_id = key_material_id(id, bytes.expose());
            call.material(material_id);
            let key = kms.key_ref(id)?;
            let import_type = req.import_type.unwrap_or(if key.materials.is_empty() {
                ImportType::NewKeyMaterial
            } else {
                ImportType::ExistingKeyMaterial
            });
            let arn = kms.arn(id);
            if import_type == ImportType::NewKeyMaterial {
                super::rules::new_material_into(&kms.facts(id)?)?;
            }
            let key = kms.key_ref(id)?;
            // 6. is it the material the request says it is?
            let known = key.material(material_id).is_some();
            match import_type {
                ImportType::ExistingKeyMaterial if !known => {
                    return Err(KmsError::new(
                        ErrorKind::IncorrectKeyMaterial,
                        format!(
                            "The key material in the request is not associated with KMS key {arn}. To import new key material, set ImportType to NEW_KEY_MATERIAL."
                        ),
                    ));
                }
                ImportType::ExistingKeyMaterial => {
                    if let Some(expected) = expected_id
                        && expected != material_id
                    {
                        return Err(KmsError::new(
                            ErrorKind::IncorrectKeyMaterial,
                            format!(
                                "The key material in the request does not match key material {expected} of KMS key {arn}."
                            ),
                        ));
                    }
                }
                ImportType::NewKeyMaterial if known => {
                    return Err(KmsError::new(
                        ErrorKind::IncorrectKeyMaterial,
                        format!(
                            "The key material in the request is already associated with KMS key {arn} (key material {material_id}). To reimport it, set ImportType to EXISTING_KEY_MATERIAL."
                        ),
                    ));
                }
                ImportType::NewKeyMaterial => {
                    // 7. only one material may wait for rotation
                    if let Some(pending) = key.pending_material() {
                        return Err(KmsError::new(
                            ErrorKind::KmsInvalidState,
                            format!(
                                "New key material (id: {material_id}) cannot be imported into KMS key {arn}, because another key material (id: {}) is pending rotation.",
                                pending.id
                            ),
                        ));
                    }
                }
            }
            // effects
            let valid_to = req.valid_to.filter(|_| expiration_model == ExpirationModel::KeyMaterialExpires);
            let key = kms.key_mut(id)?;
            let state = if import_type == ImportType::NewKeyMaterial {
                let first = key.materials.is_empty();
                let state = if first {
                    KeyMaterialState::Current
                } else {
                    KeyMaterialState::PendingRotation
                };
                key.materials.push(KeyMaterial {
                    id: material_id,
                    bytes: Some(bytes),
                    description: req.key_material_description.clone(),
                    import_state: ImportState::Imported,
                    state,
                    expiration_model,
                    valid_to,
                    rotation: None,
                    first_imported: now,
                    last_imported: now,
                });
                if first {
                    key.current_key_material_id = Some(material_id);
                }
                state
            } else {
                let m = key
                    .material_mut(material_id)
                    .ok_or_else(|| KmsError::internal("material vanished during import"))?;
                m.bytes = Some(bytes);
                m.import_state = ImportState::Imported;
                m.expiration_model = expiration_model;
                m.valid_to = valid_to;
                m.last_imported = now;
                if let Some(d) = &req.key_material_description {
                    m.description = Some(d.clone());
                }
                m.state
            };
            // Multi-Region keys: replicas list new material of the primary;
            // an import into a replica may complete a pending rotation's set.
            if import_type == ImportType::NewKeyMaterial {
                if let Some(m) = kms.key_ref(id)?.material(material_id).cloned() {
                    kms.announce_new_material(id, &m);
                }
            } else {
                kms.refresh_multi_region_pending(id);
            }
            let state = kms.key_ref(id)?.material(material_id).map_or(state, |m| m.state());
            kms.changed();
            call.response = Some(json!({"keyId": arn, "keyMaterialId": material_id.to_string()}));
            call.extra.insert("importType".into(), import_type.as_str().into());
            Ok(ImportOutput {
                key_id: id,
                key_material_id: material_id,
                key_material_state: state,
                import_type,
            })
        })
    }

    /// DeleteImportedKeyMaterial: erases the bytes of one material (default:
    /// the current one). A pending material is removed entirely **[byok]**.
    pub fn delete_imported_key_material(
        &mut self,
        caller: &Caller,
        key_id: &str,
        key_material_id: Option<&str>,
    ) -> KmsResult<(KeyId, KeyMaterialId)> {
        let params = json!({"keyId": key_id, "keyMaterialId": key_material_id});
        self.call(caller, "DeleteImportedKeyMaterial", false, params, |kms, call| {
            let id = kms.resolve("keyId", key_id, false)?;
            call.key(id);
            let requested = match key_material_id {
                Some(text) => Some(KeyMaterialId::parse(text).ok_or_else(|| {
                    KmsError::constraint(
                        "keyMaterialId",
                        Some(text),
                        "Member must satisfy regular expression pattern: ^[a-f0-9]{64}$",
                    )
                })?),
                None => None,
            };
            let arn = kms.arn(id);
            let key = kms.key_ref(id)?;
            if key.origin != Origin::External {
                return Err(kms.origin_error(id, key.origin));
            }
            let target = match requested.or(key.current_key_material_id) {
                Some(t) => t,
                None => {
                    return Err(KmsError::new(
                        ErrorKind::KmsInvalidState,
                        format!("{arn} has no key material to delete."),
                    ));
                }
            };
            call.material(target);
            let Some(pos) = key.materials.iter().position(|m| m.id == target) else {
                return Err(KmsError::new(
                    ErrorKind::NotFound,
                    format!("Key material {target} does not exist in KMS key {arn}."),
                ));
            };
            if !key.materials[pos].is_imported() {
                return Err(KmsError::new(
                    ErrorKind::KmsInvalidState,
                    format!("Key material {target} of KMS key {arn} is already deleted (its import state is PENDING_IMPORT)."),
                ));
            }
            // A replica keeps the record of pending material of its primary
            // (it is the primary's, to import again) [byok].
            let replica = kms.is_replica(id);
            let key = kms.key_mut(id)?;
            if key.materials[pos].state.is_pending() && !replica {
                key.materials.remove(pos);
                key.rotation_started = None;
                kms.withdraw_pending_material(id, target);
            } else {
                let m = &mut key.materials[pos];
                m.bytes = None;
                m.import_state = ImportState::PendingImport;
            }
            kms.refresh_multi_region_pending(id);
            kms.changed();
            call.response = Some(json!({"keyId": arn, "keyMaterialId": target.to_string()}));
            Ok((id, target))
        })
    }
}
