//! GenerateMac and VerifyMac: HMAC keys (`GENERATE_VERIFY_MAC`), RFC 2104
//! HMAC over the key's current material with the hash of its key spec.
//!
//! AWS's answers, from the AWS KMS API Reference
//! (<https://docs.aws.amazon.com/kms/latest/APIReference/API_GenerateMac.html>,
//! <https://docs.aws.amazon.com/kms/latest/APIReference/API_VerifyMac.html>)
//! and its recorded responses: a key of another usage is
//! `InvalidKeyUsageException` `<arn> key usage is ENCRYPT_DECRYPT which is
//! not valid for GenerateMac.`; an algorithm other than the key spec's is
//! `InvalidKeyUsageException` `Algorithm HMAC_SHA_384 is incompatible with
//! key spec HMAC_256.`; a MAC that does not match is
//! `KMSInvalidMacException` with no message ("If the HMAC is not verified,
//! the VerifyMac operation fails with a KMSInvalidMacException exception").

use hmac::{Hmac, KeyInit, Mac};
use serde_json::json;
use sha2::{Sha224, Sha256, Sha384, Sha512};
use subtle::ConstantTimeEq;

use super::audit::Caller;
use super::engine::{Kms, check_blob};
use super::error::{ErrorKind, KmsError, KmsResult};
use super::model::{KeyId, KeyMaterialId, KeyState, KeyUsage, MacAlgorithm};
use super::ops_crypto::with_dry_run;

/// GenerateMac's result.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MacOutput {
    /// The HMAC key.
    pub key_id: KeyId,
    /// The MAC (the digest length of the algorithm).
    pub mac: Vec<u8>,
    /// The algorithm.
    pub mac_algorithm: MacAlgorithm,
}

/// RFC 2104 HMAC of `message` under `key` with `algorithm`'s hash.
pub fn hmac(algorithm: MacAlgorithm, key: &[u8], message: &[u8]) -> Vec<u8> {
    fn run<M: Mac + KeyInit>(key: &[u8], message: &[u8]) -> Vec<u8> {
        let mut m = <M as KeyInit>::new_from_slice(key).expect("HMAC takes keys of any length");
        m.update(message);
        m.finalize().into_bytes().to_vec()
    }
    match algorithm {
        MacAlgorithm::HmacSha224 => run::<Hmac<Sha224>>(key, message),
        MacAlgorithm::HmacSha256 => run::<Hmac<Sha256>>(key, message),
        MacAlgorithm::HmacSha384 => run::<Hmac<Sha384>>(key, message),
        MacAlgorithm::HmacSha512 => run::<Hmac<Sha512>>(key, message),
    }
}

/// The refusal of an operation that `usage` does not allow.
pub(crate) fn usage_error(arn: &str, usage: KeyUsage, operation: &str) -> KmsError {
    KmsError::new(
        ErrorKind::InvalidKeyUsage,
        format!(
            "{arn} key usage is {} which is not valid for {operation}.",
            usage.as_str()
        ),
    )
}

impl Kms {
    /// Refuses `operation` unless key `id` has `usage`.
    pub(crate) fn require_usage(
        &self,
        id: KeyId,
        usage: KeyUsage,
        operation: &str,
    ) -> KmsResult<()> {
        let key = self.key_ref(id)?;
        if key.key_usage == usage {
            Ok(())
        } else {
            Err(usage_error(&self.arn(id), key.key_usage, operation))
        }
    }

    /// The checks GenerateMac and VerifyMac share, in AWS's order after the
    /// member constraints: the key, its state, its usage, the algorithm.
    /// Returns the current material's id.
    fn mac_key(
        &self,
        id: KeyId,
        algorithm: MacAlgorithm,
        operation: &str,
    ) -> KmsResult<KeyMaterialId> {
        self.require_state(id, &[KeyState::Enabled])?;
        self.require_usage(id, KeyUsage::GenerateVerifyMac, operation)?;
        let key = self.key_ref(id)?;
        if key.key_spec.mac_algorithm() != Some(algorithm) {
            return Err(KmsError::new(
                ErrorKind::InvalidKeyUsage,
                format!(
                    "Algorithm {} is incompatible with key spec {}.",
                    algorithm.as_str(),
                    key.key_spec.as_str()
                ),
            ));
        }
        key.current_material()
            .filter(|m| m.is_imported())
            .map(|m| m.id)
            .ok_or_else(|| KmsError::internal("an enabled key without current material"))
    }

    fn mac_of(
        &self,
        id: KeyId,
        material: KeyMaterialId,
        algorithm: MacAlgorithm,
        message: &[u8],
    ) -> KmsResult<Vec<u8>> {
        let bytes = self
            .key_ref(id)?
            .material(material)
            .and_then(|m| m.bytes.as_ref())
            .ok_or_else(|| KmsError::internal("current material without bytes"))?;
        Ok(hmac(algorithm, bytes.expose(), message))
    }

    /// GenerateMac (with `DryRun`: every check, then
    /// `DryRunOperationException`).
    pub fn generate_mac(
        &mut self,
        caller: &Caller,
        key_id: &str,
        message: &[u8],
        algorithm: MacAlgorithm,
        dry_run: bool,
    ) -> KmsResult<MacOutput> {
        let params = with_dry_run(
            json!({"keyId": key_id, "macAlgorithm": algorithm.as_str()}),
            dry_run,
        );
        self.call(caller, "GenerateMac", true, params, |kms, call| {
            check_blob("message", message, 1, 4096)?;
            let id = kms.resolve("keyId", key_id, true)?;
            call.key(id);
            let material = kms.mac_key(id, algorithm, "GenerateMac")?;
            call.material(material);
            if dry_run {
                return Err(KmsError::dry_run());
            }
            let mac = kms.mac_of(id, material, algorithm, message)?;
            call.response = Some(json!({"keyId": kms.arn(id), "macAlgorithm": algorithm.as_str()}));
            Ok(MacOutput {
                key_id: id,
                mac,
                mac_algorithm: algorithm,
            })
        })
    }

    /// VerifyMac: `Ok` only when `mac` is the MAC of `message` (compared in
    /// constant time); otherwise `KMSInvalidMacException`.
    pub fn verify_mac(
        &mut self,
        caller: &Caller,
        key_id: &str,
        message: &[u8],
        mac: &[u8],
        algorithm: MacAlgorithm,
        dry_run: bool,
    ) -> KmsResult<KeyId> {
        let params = with_dry_run(
            json!({"keyId": key_id, "macAlgorithm": algorithm.as_str()}),
            dry_run,
        );
        self.call(caller, "VerifyMac", true, params, |kms, call| {
            check_blob("message", message, 1, 4096)?;
            check_blob("mac", mac, 1, 6144)?;
            let id = kms.resolve("keyId", key_id, true)?;
            call.key(id);
            let material = kms.mac_key(id, algorithm, "VerifyMac")?;
            call.material(material);
            let expected = kms.mac_of(id, material, algorithm, message)?;
            if !bool::from(expected.ct_eq(mac)) {
                return Err(KmsError::new(ErrorKind::KmsInvalidMac, ""));
            }
            if dry_run {
                return Err(KmsError::dry_run());
            }
            call.response = Some(
                json!({"keyId": kms.arn(id), "macValid": true, "macAlgorithm": algorithm.as_str()}),
            );
            Ok(id)
        })
    }
}
