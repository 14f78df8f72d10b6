//! Operations of asymmetric keys with imported (or generated) private keys:
//! GetPublicKey, Sign, Verify, Encrypt and Decrypt with RSAES_OAEP_SHA_1/256,
//! DeriveSharedSecret (ECDH). The cryptography is in [`super::asym`].
//!
//! AWS's answers, from the AWS KMS API Reference
//! (<https://docs.aws.amazon.com/kms/latest/APIReference/API_Sign.html>,
//! `API_Verify.html`, `API_GetPublicKey.html`, `API_Encrypt.html`,
//! `API_DeriveSharedSecret.html`) and the answers AWS gives as recorded by
//! other emulators' tests: a key of another usage is
//! `InvalidKeyUsageException` `<arn> key usage is ENCRYPT_DECRYPT which is
//! not valid for Sign.`; an algorithm the key spec does not take is
//! `InvalidKeyUsageException` `Algorithm ECDSA_SHA_384 is incompatible with
//! key spec ECC_NIST_P256.`; a DIGEST of the wrong length is
//! `ValidationException` `Digest is invalid length for algorithm
//! ECDSA_SHA_256.`; a signature that does not verify is
//! `KMSInvalidSignatureException` ("If the signature is not verified, the
//! Verify operation fails with a KMSInvalidSignatureException exception").

use serde_json::json;

use super::asym::{self, AsymmetricKey};
use super::audit::Caller;
use super::engine::{Call, Kms, check_blob};
use super::error::{ErrorKind, KmsError, KmsResult};
use super::model::{
    EncryptionAlgorithm, KeyAgreementAlgorithm, KeyId, KeyMaterialId, KeySpec, KeyState, KeyUsage,
    MessageType, Origin, SigningAlgorithm,
};
use super::ops_crypto::with_dry_run;
use super::secret::SecretVec;

/// GetPublicKey's result.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublicKeyOutput {
    /// The key.
    pub key_id: KeyId,
    /// DER SubjectPublicKeyInfo.
    pub public_key: Vec<u8>,
    /// `KeySpec`.
    pub key_spec: KeySpec,
    /// `KeyUsage`.
    pub key_usage: KeyUsage,
}

/// Sign's result.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignOutput {
    /// The key.
    pub key_id: KeyId,
    /// The signature (DER-encoded for ECDSA).
    pub signature: Vec<u8>,
    /// The algorithm.
    pub signing_algorithm: SigningAlgorithm,
    /// The material that signed (audit only).
    pub key_material_id: KeyMaterialId,
}

/// Encrypt's result under an RSA key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AsymmetricEncryptOutput {
    /// The key.
    pub key_id: KeyId,
    /// The RSA-OAEP ciphertext (the modulus length).
    pub ciphertext_blob: Vec<u8>,
    /// The algorithm.
    pub encryption_algorithm: EncryptionAlgorithm,
}

/// Decrypt's result under an RSA key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AsymmetricDecryptOutput {
    /// The key.
    pub key_id: KeyId,
    /// The plaintext.
    pub plaintext: SecretVec,
    /// The algorithm.
    pub encryption_algorithm: EncryptionAlgorithm,
    /// The key's material.
    pub key_material_id: KeyMaterialId,
}

/// GenerateDataKeyPair's (and GenerateDataKeyPairWithoutPlaintext's) result.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DataKeyPairOutput {
    /// The symmetric key that encrypted the private key.
    pub key_id: KeyId,
    /// The PKCS #8 private key encrypted under the key (a ciphertext blob
    /// Decrypt takes).
    pub private_key_ciphertext_blob: Vec<u8>,
    /// The DER PKCS #8 private key (GenerateDataKeyPair only).
    pub private_key_plaintext: Option<SecretVec>,
    /// The DER SubjectPublicKeyInfo public key.
    pub public_key: Vec<u8>,
    /// `KeyPairSpec`.
    pub key_pair_spec: KeySpec,
    /// The material that encrypted the private key.
    pub key_material_id: KeyMaterialId,
}

/// DeriveSharedSecret's result.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SharedSecretOutput {
    /// The key.
    pub key_id: KeyId,
    /// The raw ECDH shared secret (the x coordinate).
    pub shared_secret: SecretVec,
    /// `KeyOrigin`.
    pub key_origin: Origin,
}

fn incompatible(algorithm: &str, spec: KeySpec) -> KmsError {
    KmsError::new(
        ErrorKind::InvalidKeyUsage,
        format!("Algorithm {algorithm} is incompatible with key spec {spec}."),
    )
}

impl Kms {
    /// Refuses symmetric encryption (`SYMMETRIC_DEFAULT`) with an asymmetric
    /// `ENCRYPT_DECRYPT` key, as AWS does (`InvalidKeyUsageException`).
    pub(crate) fn require_symmetric_default(&self, id: KeyId) -> KmsResult<()> {
        let spec = self.key_ref(id)?.key_spec;
        if spec == KeySpec::SymmetricDefault {
            Ok(())
        } else {
            Err(incompatible("SYMMETRIC_DEFAULT", spec))
        }
    }

    /// The checks of every asymmetric operation after its member
    /// constraints: the key's state (Enabled), its usage, then the key's
    /// private key from the current material.
    fn asym_key(
        &self,
        call: &mut Call,
        id: KeyId,
        usage: KeyUsage,
        operation: &str,
    ) -> KmsResult<(AsymmetricKey, KeyMaterialId)> {
        self.require_state(id, &[KeyState::Enabled])?;
        self.require_usage(id, usage, operation)?;
        self.private_key(call, id)
    }

    fn private_key(&self, call: &mut Call, id: KeyId) -> KmsResult<(AsymmetricKey, KeyMaterialId)> {
        let key = self.key_ref(id)?;
        let m = key
            .current_material()
            .filter(|m| m.is_imported())
            .ok_or_else(|| KmsError::internal("an enabled key without current material"))?;
        call.material(m.id);
        let bytes = m
            .bytes
            .as_ref()
            .ok_or_else(|| KmsError::internal("current material without bytes"))?;
        let private = AsymmetricKey::from_pkcs8(key.key_spec, bytes.expose())
            .map_err(|_| KmsError::internal("stored private key is unreadable"))?;
        Ok((private, m.id))
    }

    /// GetPublicKey: the public key of an asymmetric key, DER
    /// SubjectPublicKeyInfo. Symmetric and HMAC keys have none
    /// (`UnsupportedOperationException`; **[byok]** message).
    pub fn get_public_key(&mut self, caller: &Caller, key_id: &str) -> KmsResult<PublicKeyOutput> {
        self.call(
            caller,
            "GetPublicKey",
            true,
            json!({"keyId": key_id}),
            |kms, call| {
                let id = kms.resolve("keyId", key_id, true)?;
                call.key(id);
                let key = kms.key_ref(id)?;
                let (spec, usage) = (key.key_spec, key.key_usage);
                if !spec.is_asymmetric() {
                    return Err(KmsError::new(
                        ErrorKind::UnsupportedOperation,
                        format!(
                            "{} key spec is {spec} which is not valid for GetPublicKey: only asymmetric KMS keys have a public key.",
                            kms.arn(id)
                        ),
                    ));
                }
                kms.require_state(id, &[KeyState::Enabled])?;
                let (private, _) = kms.private_key(call, id)?;
                let public_key = private.public_key_der()?;
                call.response = Some(json!({"keyId": kms.arn(id), "keySpec": spec.as_str(), "keyUsage": usage.as_str()}));
                Ok(PublicKeyOutput {
                    key_id: id,
                    public_key,
                    key_spec: spec,
                    key_usage: usage,
                })
            },
        )
    }

    /// The digest Sign and Verify sign: the message's hash (RAW) or the
    /// message itself (DIGEST), checked against the algorithm.
    fn signing_input(
        spec: KeySpec,
        algorithm: SigningAlgorithm,
        message_type: MessageType,
        message: &[u8],
    ) -> KmsResult<Vec<u8>> {
        if !asym::signing_algorithms(spec).contains(&algorithm) {
            return Err(incompatible(algorithm.as_str(), spec));
        }
        match message_type {
            MessageType::Raw => asym::digest(algorithm, message)
                .ok_or_else(|| incompatible(algorithm.as_str(), spec)),
            MessageType::Digest => {
                if Some(message.len()) != asym::digest_len(algorithm) {
                    return Err(KmsError::validation(format!(
                        "Digest is invalid length for algorithm {algorithm}."
                    )));
                }
                Ok(message.to_vec())
            }
            MessageType::ExternalMu => Err(KmsError::validation(format!(
                "Message type {message_type} is incompatible with key spec {spec}."
            ))),
        }
    }

    /// Sign (with `DryRun`: every check, then `DryRunOperationException`).
    pub fn sign(
        &mut self,
        caller: &Caller,
        key_id: &str,
        message: &[u8],
        message_type: Option<MessageType>,
        algorithm: SigningAlgorithm,
        dry_run: bool,
    ) -> KmsResult<SignOutput> {
        let message_type = message_type.unwrap_or(MessageType::Raw);
        let params = with_dry_run(
            json!({"keyId": key_id, "messageType": message_type.as_str(), "signingAlgorithm": algorithm.as_str()}),
            dry_run,
        );
        self.call(caller, "Sign", true, params, |kms, call| {
            check_blob("message", message, 1, 4096)?;
            let id = kms.resolve("keyId", key_id, true)?;
            call.key(id);
            let (private, material) = kms.asym_key(call, id, KeyUsage::SignVerify, "Sign")?;
            let spec = kms.key_ref(id)?.key_spec;
            let digest = Self::signing_input(spec, algorithm, message_type, message)?;
            if dry_run {
                return Err(KmsError::dry_run());
            }
            let signature = private.sign(algorithm, &digest, &mut kms.rng)?;
            call.response =
                Some(json!({"keyId": kms.arn(id), "signingAlgorithm": algorithm.as_str()}));
            Ok(SignOutput {
                key_id: id,
                signature,
                signing_algorithm: algorithm,
                key_material_id: material,
            })
        })
    }

    /// Verify: `Ok` only when `signature` is valid; otherwise
    /// `KMSInvalidSignatureException` (no message, as for VerifyMac).
    #[allow(clippy::too_many_arguments)]
    pub fn verify(
        &mut self,
        caller: &Caller,
        key_id: &str,
        message: &[u8],
        message_type: Option<MessageType>,
        signature: &[u8],
        algorithm: SigningAlgorithm,
        dry_run: bool,
    ) -> KmsResult<KeyId> {
        let message_type = message_type.unwrap_or(MessageType::Raw);
        let params = with_dry_run(
            json!({"keyId": key_id, "messageType": message_type.as_str(), "signingAlgorithm": algorithm.as_str()}),
            dry_run,
        );
        self.call(caller, "Verify", true, params, |kms, call| {
            check_blob("message", message, 1, 4096)?;
            check_blob("signature", signature, 1, 6144)?;
            let id = kms.resolve("keyId", key_id, true)?;
            call.key(id);
            let (private, _) = kms.asym_key(call, id, KeyUsage::SignVerify, "Verify")?;
            let spec = kms.key_ref(id)?.key_spec;
            let digest = Self::signing_input(spec, algorithm, message_type, message)?;
            if !private.verify(algorithm, &digest, signature) {
                return Err(KmsError::new(ErrorKind::KmsInvalidSignature, ""));
            }
            if dry_run {
                return Err(KmsError::dry_run());
            }
            call.response = Some(json!({"keyId": kms.arn(id), "signatureValid": true, "signingAlgorithm": algorithm.as_str()}));
            Ok(id)
        })
    }

    /// The checks of RSA Encrypt and Decrypt after the key's state and usage:
    /// the algorithm must be one of the key spec's, and there is no
    /// encryption context with asymmetric keys (the Encrypt API reference:
    /// "An encryption context is supported only on operations with symmetric
    /// encryption KMS keys"; **[byok]** the message is the one other
    /// emulators record from AWS).
    fn check_rsa_algorithm(
        spec: KeySpec,
        algorithm: EncryptionAlgorithm,
        has_context: bool,
    ) -> KmsResult<()> {
        if !asym::encryption_algorithms(spec).contains(&algorithm) {
            return Err(incompatible(algorithm.as_str(), spec));
        }
        if has_context {
            return Err(KmsError::validation(
                "EncryptionContext is not supported when encrypting/decrypting with asymmetric CMKs.",
            ));
        }
        Ok(())
    }

    /// Encrypt under an RSA `ENCRYPT_DECRYPT` key with RSAES_OAEP_SHA_1 or
    /// RSAES_OAEP_SHA_256 (any other `EncryptionAlgorithm` than
    /// SYMMETRIC_DEFAULT goes here). The plaintext limit is the key spec
    /// reference's table ([`asym::max_plaintext`]); **[byok]** AWS publishes
    /// the limits, not the message, which follows other emulators' record.
    pub fn encrypt_asymmetric(
        &mut self,
        caller: &Caller,
        key_id: &str,
        plaintext: &[u8],
        algorithm: EncryptionAlgorithm,
        has_context: bool,
        dry_run: bool,
    ) -> KmsResult<AsymmetricEncryptOutput> {
        let params = with_dry_run(
            json!({"keyId": key_id, "encryptionAlgorithm": algorithm.as_str()}),
            dry_run,
        );
        self.call(caller, "Encrypt", true, params, |kms, call| {
            let id = kms.resolve("keyId", key_id, true)?;
            call.key(id);
            check_blob("plaintext", plaintext, 1, 4096)?;
            kms.require_state(id, &[KeyState::Enabled])?;
            kms.require_usage(id, KeyUsage::EncryptDecrypt, "Encrypt")?;
            let spec = kms.key_ref(id)?.key_spec;
            Self::check_rsa_algorithm(spec, algorithm, has_context)?;
            let (private, _) = kms.private_key(call, id)?;
            let max = asym::max_plaintext(spec, algorithm).unwrap_or(0);
            if plaintext.len() > max {
                return Err(KmsError::validation(format!(
                    "Algorithm {algorithm} and key spec {spec} cannot encrypt data larger than {max} bytes."
                )));
            }
            if dry_run {
                return Err(KmsError::dry_run());
            }
            let ciphertext_blob = private.encrypt(algorithm, plaintext, &mut kms.rng)?;
            call.response = Some(json!({"keyId": kms.arn(id), "encryptionAlgorithm": algorithm.as_str()}));
            Ok(AsymmetricEncryptOutput {
                key_id: id,
                ciphertext_blob,
                encryption_algorithm: algorithm,
            })
        })
    }

    /// Decrypt under an RSA key: `KeyId` is required (the Decrypt API
    /// reference: "If the ciphertext was encrypted under an asymmetric KMS
    /// key, you must specify the KMS key"). A ciphertext that does not
    /// decrypt is `InvalidCiphertextException` with no message.
    pub fn decrypt_asymmetric(
        &mut self,
        caller: &Caller,
        key_id: &str,
        ciphertext: &[u8],
        algorithm: EncryptionAlgorithm,
        has_context: bool,
        dry_run: bool,
    ) -> KmsResult<AsymmetricDecryptOutput> {
        let params = with_dry_run(
            json!({"keyId": key_id, "encryptionAlgorithm": algorithm.as_str()}),
            dry_run,
        );
        self.call(caller, "Decrypt", true, params, |kms, call| {
            check_blob("ciphertextBlob", ciphertext, 1, 6144)?;
            let id = kms.resolve("keyId", key_id, true)?;
            call.key(id);
            kms.require_state(id, &[KeyState::Enabled])?;
            kms.require_usage(id, KeyUsage::EncryptDecrypt, "Decrypt")?;
            let spec = kms.key_ref(id)?.key_spec;
            Self::check_rsa_algorithm(spec, algorithm, has_context)?;
            let (private, material) = kms.private_key(call, id)?;
            let plaintext = private
                .decrypt(algorithm, ciphertext)
                .ok_or_else(KmsError::invalid_ciphertext)?;
            if dry_run {
                return Err(KmsError::dry_run());
            }
            call.response =
                Some(json!({"keyId": kms.arn(id), "encryptionAlgorithm": algorithm.as_str()}));
            Ok(AsymmetricDecryptOutput {
                key_id: id,
                plaintext,
                encryption_algorithm: algorithm,
                key_material_id: material,
            })
        })
    }

    /// GenerateDataKeyPair / GenerateDataKeyPairWithoutPlaintext: a fresh key
    /// pair of `key_pair_spec` (an asymmetric key spec), the private key as
    /// DER PKCS #8 encrypted under the symmetric encryption key `key_id` with
    /// `context`, like a data key (the GenerateDataKeyPair API reference:
    /// "the private key ... encrypted under the symmetric encryption KMS key
    /// you specify"; "PrivateKeyPlaintext ... DER-encoded PKCS #8", "PublicKey
    /// ... DER-encoded X.509 SubjectPublicKeyInfo").
    #[allow(clippy::too_many_arguments)]
    pub fn generate_data_key_pair(
        &mut self,
        caller: &Caller,
        key_id: &str,
        key_pair_spec: KeySpec,
        context: &super::ciphertext::EncryptionContext,
        with_plaintext: bool,
        dry_run: bool,
    ) -> KmsResult<DataKeyPairOutput> {
        let op = if with_plaintext {
            "GenerateDataKeyPair"
        } else {
            "GenerateDataKeyPairWithoutPlaintext"
        };
        let params = with_dry_run(
            json!({
                "keyId": key_id,
                "keyPairSpec": key_pair_spec.as_str(),
                "encryptionContext": if context.is_empty() { serde_json::Value::Null } else { json!(context) },
            }),
            dry_run,
        );
        self.call(caller, op, true, params, |kms, call| {
            if !key_pair_spec.is_asymmetric() {
                return Err(KmsError::internal("a key pair spec that is not asymmetric"));
            }
            let id = kms.resolve("keyId", key_id, true)?;
            call.key(id);
            for (k, v) in context {
                super::engine::check_len("encryptionContext.key", k, 1, 8192)?;
                super::engine::check_len("encryptionContext.value", v, 0, 8192)?;
            }
            kms.require_state(id, &[KeyState::Enabled])?;
            kms.require_usage(id, KeyUsage::EncryptDecrypt, op)?;
            kms.require_symmetric_default(id)?;
            if dry_run {
                return Err(KmsError::dry_run());
            }
            let pair = AsymmetricKey::generate(key_pair_spec, &mut kms.rng)?;
            let private = pair.to_pkcs8()?;
            let public_key = pair.public_key_der()?;
            drop(pair);
            let (blob, material_id) = kms.seal_for_data_key(id, op, private.expose(), context)?;
            call.material(material_id);
            call.response =
                Some(json!({"keyId": kms.arn(id), "keyPairSpec": key_pair_spec.as_str()}));
            Ok(DataKeyPairOutput {
                key_id: id,
                private_key_ciphertext_blob: blob,
                private_key_plaintext: with_plaintext.then_some(private),
                public_key,
                key_pair_spec,
                key_material_id: material_id,
            })
        })
    }

    /// DeriveSharedSecret: ECDH between the key's private key and the peer's
    /// public key (DER SubjectPublicKeyInfo on the same curve). **[byok]** A
    /// public key that is not one is a `ValidationException` whose message
    /// says so (AWS publishes none).
    pub fn derive_shared_secret(
        &mut self,
        caller: &Caller,
        key_id: &str,
        algorithm: KeyAgreementAlgorithm,
        public_key: &[u8],
        dry_run: bool,
    ) -> KmsResult<SharedSecretOutput> {
        let params = with_dry_run(
            json!({"keyId": key_id, "keyAgreementAlgorithm": algorithm.as_str()}),
            dry_run,
        );
        self.call(caller, "DeriveSharedSecret", true, params, |kms, call| {
            check_blob("publicKey", public_key, 1, 8192)?;
            let id = kms.resolve("keyId", key_id, true)?;
            call.key(id);
            let (private, _) =
                kms.asym_key(call, id, KeyUsage::KeyAgreement, "DeriveSharedSecret")?;
            let key = kms.key_ref(id)?;
            let (spec, origin) = (key.key_spec, key.origin);
            let shared_secret = private.derive_shared_secret(public_key).ok_or_else(|| {
                KmsError::validation(format!(
                    "The public key in the request is not a DER-encoded X.509 SubjectPublicKeyInfo public key for key spec {spec}."
                ))
            })?;
            if dry_run {
                return Err(KmsError::dry_run());
            }
            call.response = Some(json!({"keyId": kms.arn(id), "keyAgreementAlgorithm": algorithm.as_str(), "keyOrigin": origin.as_str()}));
            Ok(SharedSecretOutput {
                key_id: id,
                shared_secret,
                key_origin: origin,
            })
        })
    }
}
