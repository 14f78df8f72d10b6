//! Cryptographic operations: Encrypt, Decrypt, ReEncrypt, GenerateDataKey
//! (SPEC §3), and the console's ciphertext inspector.

use rand::Rng;
use serde_json::{Value, json};
use zeroize::Zeroizing;

use super::audit::Caller;
use super::ciphertext::{self, EncryptionContext};
use super::engine::{Call, Kms, check_blob, check_len, check_range};
use super::error::{ErrorKind, KmsError, KmsResult};
use super::model::{
    DataKeySpec, ImportState, KeyId, KeyMaterialId, KeyMaterialState, KeyState, KeyUsage,
};
use super::secret::SecretVec;

/// Encrypt's result.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EncryptOutput {
    /// The key.
    pub key_id: KeyId,
    /// The blob.
    pub ciphertext_blob: Vec<u8>,
    /// The material that made it (recorded in the audit trail; AWS's
    /// Encrypt response does not carry it).
    pub key_material_id: KeyMaterialId,
}

/// Decrypt's inputs.
#[derive(Clone, Debug, Default)]
pub struct DecryptRequest {
    /// `CiphertextBlob`.
    pub ciphertext_blob: Vec<u8>,
    /// `EncryptionContext`.
    pub encryption_context: EncryptionContext,
    /// `KeyId`: when given, must be the key that made the blob.
    pub key_id: Option<String>,
}

/// Decrypt's result.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DecryptOutput {
    /// The key.
    pub key_id: KeyId,
    /// The plaintext.
    pub plaintext: SecretVec,
    /// The material that made the blob.
    pub key_material_id: KeyMaterialId,
}

/// How big a data key to make.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DataKeyLength {
    /// `KeySpec`.
    Spec(DataKeySpec),
    /// `NumberOfBytes` (1..1024).
    Bytes(i64),
}

/// GenerateDataKey's result.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DataKeyOutput {
    /// The key.
    pub key_id: KeyId,
    /// The data key encrypted under the key.
    pub ciphertext_blob: Vec<u8>,
    /// The data key (GenerateDataKey only).
    pub plaintext: Option<SecretVec>,
    /// The material that encrypted it.
    pub key_material_id: KeyMaterialId,
}

/// ReEncrypt's inputs.
#[derive(Clone, Debug, Default)]
pub struct ReEncryptRequest {
    /// `CiphertextBlob`.
    pub ciphertext_blob: Vec<u8>,
    /// `SourceEncryptionContext`.
    pub source_encryption_context: EncryptionContext,
    /// `SourceKeyId`.
    pub source_key_id: Option<String>,
    /// `DestinationKeyId`.
    pub destination_key_id: String,
    /// `DestinationEncryptionContext`.
    pub destination_encryption_context: EncryptionContext,
}

/// ReEncrypt's result.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReEncryptOutput {
    /// The new blob.
    pub ciphertext_blob: Vec<u8>,
    /// The key that made the old blob.
    pub source_key_id: KeyId,
    /// The key that made the new one.
    pub key_id: KeyId,
    /// The material that made the old blob.
    pub source_key_material_id: KeyMaterialId,
    /// The material that made the new one.
    pub destination_key_material_id: KeyMaterialId,
}

/// What the ciphertext inspector finds in a blob.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Inspection {
    /// The key the blob names.
    pub key_id: KeyId,
    /// The material the blob names.
    pub key_material_id: KeyMaterialId,
    /// Whether that key exists in this store.
    pub key_state: Option<KeyState>,
    /// That material's state in the key, if the key has it.
    pub material: Option<(KeyMaterialState, ImportState)>,
    /// `Ok` if Decrypt would be attempted now (the context must still be
    /// right); otherwise the exception Decrypt would raise.
    pub decryptable: Result<(), KmsError>,
}

fn context_json(c: &EncryptionContext) -> Value {
    if c.is_empty() { Value::Null } else { json!(c) }
}

fn check_context(member: &str, c: &EncryptionContext) -> KmsResult<()> {
    for (k, v) in c {
        check_len(&format!("{member}.key"), k, 1, 8192)?;
        check_len(&format!("{member}.value"), v, 0, 8192)?;
    }
    Ok(())
}

/// The request parameters of a call, with `dryRun: true` when it is a dry
/// run: CloudTrail records the DryRun member like any other ("Testing your
/// AWS KMS API calls": the output of any operation that specifies DryRun
/// appears in your CloudTrail log).
pub(crate) fn with_dry_run(mut params: Value, dry_run: bool) -> Value {
    if dry_run && let Value::Object(m) = &mut params {
        m.insert("dryRun".into(), Value::Bool(true));
    }
    params
}

/// What a dry run answers: it never succeeds. The operation stops before
/// producing anything, so an `Ok` here would be a bug.
fn dry_answer<T>(result: KmsResult<T>) -> KmsError {
    match result {
        Err(e) => e,
        Ok(_) => KmsError::internal("a dry run produced a result"),
    }
}

impl Kms {
    /// Checks the key's state for cryptography and returns its current
    /// material's id.
    fn usable_current(&self, id: KeyId, operation: &str) -> KmsResult<KeyMaterialId> {
        self.require_state(id, &[KeyState::Enabled])?;
        self.require_usage(id, KeyUsage::EncryptDecrypt, operation)?;
        self.require_symmetric_default(id)?;
        self.key_ref(id)?
            .current_material()
            .filter(|m| m.is_imported())
            .map(|m| m.id)
            .ok_or_else(|| KmsError::internal("an enabled key without current material"))
    }

    fn seal_with_current(
        &mut self,
        id: KeyId,
        operation: &str,
        plaintext: &[u8],
        context: &EncryptionContext,
    ) -> KmsResult<(Vec<u8>, KeyMaterialId)> {
        let material_id = self.usable_current(id, operation)?;
        let salt = self.random();
        let iv = self.random();
        let key = self.key_ref(id)?;
        let bytes = key
            .material(material_id)
            .and_then(|m| m.bytes.as_ref())
            .ok_or_else(|| KmsError::internal("current material without bytes"))?;
        Ok((
            ciphertext::seal(id, material_id, bytes, plaintext, context, salt, iv),
            material_id,
        ))
    }

    /// Seals `plaintext` under key `id`'s current material (the private key
    /// of GenerateDataKeyPair).
    pub(crate) fn seal_for_data_key(
        &mut self,
        id: KeyId,
        operation: &str,
        plaintext: &[u8],
        context: &EncryptionContext,
    ) -> KmsResult<(Vec<u8>, KeyMaterialId)> {
        self.seal_with_current(id, operation, plaintext, context)
    }

    /// Encrypt: uses the `CURRENT` material.
    pub fn encrypt(
        &mut self,
        caller: &Caller,
        key_id: &str,
        plaintext: &[u8],
        context: &EncryptionContext,
    ) -> KmsResult<EncryptOutput> {
        self.encrypt_run(caller, key_id, plaintext, context, false)
    }

    /// Encrypt with `DryRun`: every check Encrypt makes, and nothing more.
    /// Returns the answer — `DryRunOperationException` when Encrypt would
    /// have succeeded, else the error it would have raised.
    pub fn dry_run_encrypt(
        &mut self,
        caller: &Caller,
        key_id: &str,
        plaintext: &[u8],
        context: &EncryptionContext,
    ) -> KmsError {
        dry_answer(self.encrypt_run(caller, key_id, plaintext, context, true))
    }

    fn encrypt_run(
        &mut self,
        caller: &Caller,
        key_id: &str,
        plaintext: &[u8],
        context: &EncryptionContext,
        dry_run: bool,
    ) -> KmsResult<EncryptOutput> {
        let params = with_dry_run(
            json!({"keyId": key_id, "encryptionAlgorithm": "SYMMETRIC_DEFAULT", "encryptionContext": context_json(context)}),
            dry_run,
        );
        self.call(caller, "Encrypt", true, params, |kms, call| {
            let id = kms.resolve("keyId", key_id, true)?;
            call.key(id);
            check_blob("plaintext", plaintext, 1, 4096)?;
            check_context("encryptionContext", context)?;
            if dry_run {
                call.material(kms.usable_current(id, "Encrypt")?);
                return Err(KmsError::dry_run());
            }
            let (blob, material_id) = kms.seal_with_current(id, "Encrypt", plaintext, context)?;
            call.material(material_id);
            Ok(EncryptOutput {
                key_id: id,
                ciphertext_blob: blob,
                key_material_id: material_id,
            })
        })
    }

    /// GenerateDataKey / GenerateDataKeyWithoutPlaintext.
    pub fn generate_data_key(
        &mut self,
        caller: &Caller,
        key_id: &str,
        length: Option<DataKeyLength>,
        context: &EncryptionContext,
        with_plaintext: bool,
    ) -> KmsResult<DataKeyOutput> {
        self.generate_data_key_run(caller, key_id, length, context, with_plaintext, false)
    }

    /// GenerateDataKey(WithoutPlaintext) with `DryRun`: the checks, no data
    /// key. Returns the answer, as [`Kms::dry_run_encrypt`] does.
    pub fn dry_run_generate_data_key(
        &mut self,
        caller: &Caller,
        key_id: &str,
        length: Option<DataKeyLength>,
        context: &EncryptionContext,
        with_plaintext: bool,
    ) -> KmsError {
        dry_answer(self.generate_data_key_run(
            caller,
            key_id,
            length,
            context,
            with_plaintext,
            true,
        ))
    }

    fn generate_data_key_run(
        &mut self,
        caller: &Caller,
        key_id: &str,
        length: Option<DataKeyLength>,
        context: &EncryptionContext,
        with_plaintext: bool,
        dry_run: bool,
    ) -> KmsResult<DataKeyOutput> {
        let op = if with_plaintext {
            "GenerateDataKey"
        } else {
            "GenerateDataKeyWithoutPlaintext"
        };
        let params = json!({
            "keyId": key_id,
            "keySpec": match length { Some(DataKeyLength::Spec(s)) => Some(s.as_str()), _ => None },
            "numberOfBytes": match length { Some(DataKeyLength::Bytes(n)) => Some(n), _ => None },
            "encryptionContext": context_json(context),
        });
        let params = with_dry_run(params, dry_run);
        self.call(caller, op, true, params, |kms, call| {
            let id = kms.resolve("keyId", key_id, true)?;
            call.key(id);
            let n = match length {
                None => {
                    return Err(KmsError::validation(
                        "Please specify either number of bytes or key spec.",
                    ));
                }
                Some(DataKeyLength::Spec(s)) => s.byte_len(),
                Some(DataKeyLength::Bytes(n)) => {
                    check_range("numberOfBytes", n, 1, 1024)?;
                    n as usize
                }
            };
            check_context("encryptionContext", context)?;
            let current = kms.usable_current(id, op)?;
            if dry_run {
                call.material(current);
                return Err(KmsError::dry_run());
            }
            let mut bytes = Zeroizing::new(vec![0u8; n]);
            kms.rng.fill_bytes(&mut bytes);
            let data_key = SecretVec::from(bytes);
            let (blob, material_id) = kms.seal_with_current(id, op, data_key.expose(), context)?;
            call.material(material_id);
            Ok(DataKeyOutput {
                key_id: id,
                ciphertext_blob: blob,
                plaintext: with_plaintext.then_some(data_key),
                key_material_id: material_id,
            })
        })
    }

    /// Opens a blob for Decrypt and ReEncrypt: checks the requested key, the
    /// blob's key and its state, then the named material.
    fn open_blob(
        &self,
        call: &mut Call,
        member: &str,
        blob: &[u8],
        context: &EncryptionContext,
        requested: Option<&str>,
    ) -> KmsResult<(KeyId, KeyMaterialId, SecretVec)> {
        check_blob("ciphertextBlob", blob, 1, 6144)?;
        check_context("encryptionContext", context)?;
        let requested = requested
            .map(|r| self.resolve(member, r, true))
            .transpose()?;
        if let Some(r) = requested {
            let operation = if member == "keyId" {
                "Decrypt"
            } else {
                "ReEncrypt"
            };
            self.require_usage(r, KeyUsage::EncryptDecrypt, operation)?;
            self.require_symmetric_default(r)?;
        }
        let header = ciphertext::parse_header(blob).ok_or_else(KmsError::invalid_ciphertext)?;
        if let Some(r) = requested {
            call.key(r);
            if r != header.key_id {
                return Err(KmsError::new(
                    ErrorKind::IncorrectKey,
                    "The key ID in the request does not identify a CMK that can perform this operation.",
                ));
            }
        }
        let id = header.key_id;
        if self.key(id).is_none() {
            return Err(KmsError::invalid_ciphertext());
        }
        call.key(id);
        self.require_state(id, &[KeyState::Enabled])?;
        if self.key_ref(id)?.key_spec != super::model::KeySpec::SymmetricDefault {
            return Err(KmsError::invalid_ciphertext());
        }
        call.material(header.key_material_id);
        let bytes = self
            .key_ref(id)?
            .material(header.key_material_id)
            .and_then(|m| m.bytes.as_ref())
            .ok_or_else(KmsError::invalid_ciphertext)?;
        let plaintext =
            ciphertext::open(blob, bytes, context).ok_or_else(KmsError::invalid_ciphertext)?;
        Ok((id, header.key_material_id, plaintext))
    }

    /// Decrypt: picks the material named in the blob, current or not.
    pub fn decrypt(&mut self, caller: &Caller, req: &DecryptRequest) -> KmsResult<DecryptOutput> {
        self.decrypt_run(caller, req, false)
    }

    /// Decrypt with `DryRun`: the blob is authenticated (only then would
    /// Decrypt have succeeded) and its plaintext wiped unseen. Returns the
    /// answer, as [`Kms::dry_run_encrypt`] does.
    pub fn dry_run_decrypt(&mut self, caller: &Caller, req: &DecryptRequest) -> KmsError {
        dry_answer(self.decrypt_run(caller, req, true))
    }

    fn decrypt_run(
        &mut self,
        caller: &Caller,
        req: &DecryptRequest,
        dry_run: bool,
    ) -> KmsResult<DecryptOutput> {
        let params = with_dry_run(
            json!({"keyId": req.key_id, "encryptionAlgorithm": "SYMMETRIC_DEFAULT", "encryptionContext": context_json(&req.encryption_context)}),
            dry_run,
        );
        self.call(caller, "Decrypt", true, params, |kms, call| {
            let (id, material_id, plaintext) = kms.open_blob(
                call,
                "keyId",
                &req.ciphertext_blob,
                &req.encryption_context,
                req.key_id.as_deref(),
            )?;
            if dry_run {
                drop(plaintext);
                return Err(KmsError::dry_run());
            }
            Ok(DecryptOutput {
                key_id: id,
                plaintext,
                key_material_id: material_id,
            })
        })
    }

    /// ReEncrypt: decrypt, then encrypt under the destination key.
    pub fn re_encrypt(
        &mut self,
        caller: &Caller,
        req: &ReEncryptRequest,
    ) -> KmsResult<ReEncryptOutput> {
        self.re_encrypt_run(caller, req, false)
    }

    /// ReEncrypt with `DryRun`: the source blob is authenticated and the
    /// destination key checked; nothing is encrypted. Returns the answer,
    /// as [`Kms::dry_run_encrypt`] does.
    pub fn dry_run_re_encrypt(&mut self, caller: &Caller, req: &ReEncryptRequest) -> KmsError {
        dry_answer(self.re_encrypt_run(caller, req, true))
    }

    fn re_encrypt_run(
        &mut self,
        caller: &Caller,
        req: &ReEncryptRequest,
        dry_run: bool,
    ) -> KmsResult<ReEncryptOutput> {
        let params = json!({
            "sourceKeyId": req.source_key_id,
            "destinationKeyId": req.destination_key_id,
            "sourceEncryptionAlgorithm": "SYMMETRIC_DEFAULT",
            "destinationEncryptionAlgorithm": "SYMMETRIC_DEFAULT",
            "sourceEncryptionContext": context_json(&req.source_encryption_context),
            "destinationEncryptionContext": context_json(&req.destination_encryption_context),
        });
        let params = with_dry_run(params, dry_run);
        self.call(caller, "ReEncrypt", true, params, |kms, call| {
            let destination = kms.resolve("destinationKeyId", &req.destination_key_id, true)?;
            check_context(
                "destinationEncryptionContext",
                &req.destination_encryption_context,
            )?;
            let (source, source_material, plaintext) = kms.open_blob(
                call,
                "sourceKeyId",
                &req.ciphertext_blob,
                &req.source_encryption_context,
                req.source_key_id.as_deref(),
            )?;
            if dry_run {
                drop(plaintext);
                let destination_material = kms.usable_current(destination, "ReEncrypt")?;
                call.extra.insert(
                    "sourceKeyMaterialId".into(),
                    source_material.to_string().into(),
                );
                call.extra.insert(
                    "destinationKeyMaterialId".into(),
                    destination_material.to_string().into(),
                );
                return Err(KmsError::dry_run());
            }
            let (blob, destination_material) = kms.seal_with_current(
                destination,
                "ReEncrypt",
                plaintext.expose(),
                &req.destination_encryption_context,
            )?;
            call.extra.insert(
                "sourceKeyMaterialId".into(),
                source_material.to_string().into(),
            );
            call.extra.insert(
                "destinationKeyMaterialId".into(),
                destination_material.to_string().into(),
            );
            Ok(ReEncryptOutput {
                ciphertext_blob: blob,
                source_key_id: source,
                key_id: destination,
                source_key_material_id: source_material,
                destination_key_material_id: destination_material,
            })
        })
    }

    /// Reads a blob without decrypting it: which key and material made it,
    /// their states, and whether Decrypt would work now — and if not, the
    /// exception it would raise. Not an AWS operation; not audited.
    pub fn inspect_ciphertext(&self, blob: &[u8]) -> Option<Inspection> {
        let header = ciphertext::parse_header(blob)?;
        let key = self.key(header.key_id);
        let material = key.and_then(|k| k.material(header.key_material_id));
        let decryptable = match (key, material) {
            (None, _) => Err(KmsError::invalid_ciphertext()),
            (Some(k), _) if k.state() != KeyState::Enabled => {
                Err(self.state_error(k.id(), k.state()))
            }
            (Some(_), Some(m)) if m.is_imported() => Ok(()),
            (Some(_), _) => Err(KmsError::invalid_ciphertext()),
        };
        Some(Inspection {
            key_id: header.key_id,
            key_material_id: header.key_material_id,
            key_state: key.map(|k| k.state()),
            material: material.map(|m| (m.state(), m.import_state())),
            decryptable,
        })
    }
}
