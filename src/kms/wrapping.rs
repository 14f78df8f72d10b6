//! Wrapping keys for import (SPEC §3, GetParametersForImport): where RSA key
//! pairs come from, how wrapped material is unwrapped, and the same wrapping
//! a custodian does with OpenSSL (for training and for `byok material wrap`).

use std::collections::VecDeque;

use aes_kw::KwpAes256;
use rsa::pkcs8::{DecodePrivateKey, DecodePublicKey, EncodePrivateKey, EncodePublicKey};
use rsa::traits::PublicKeyParts;
use rsa::{PrivateKey, PublicKey};
use sha1::Sha1;
use sha2::Sha256;
use zeroize::Zeroizing;

use super::error::{KmsError, KmsResult};
use super::model::{MaterialBytes, WrappingAlgorithm, WrappingKeySpec};
use super::secret::SecretVec;

/// Where the engine gets a fresh RSA key pair for each GetParametersForImport.
///
/// Generating a 4096-bit pair takes 0.6–3 s, so the application keeps a pool
/// warm on background threads; tests hand over pairs made in advance.
pub trait WrappingKeySource: Send {
    /// A new key pair of `spec`.
    fn take(&mut self, spec: WrappingKeySpec) -> KmsResult<PrivateKey>;

    /// Begins whatever background work keeps pairs ready. A store calls it
    /// once its key is derived, so that the work does not compete with the
    /// derivation a user waits for.
    fn warm_up(&mut self) {}
}

/// Generates each pair on the calling thread, with the given RNG.
pub struct GenerateOnDemand<R>(pub R);

impl<R: rand::CryptoRng + Send> WrappingKeySource for GenerateOnDemand<R> {
    fn take(&mut self, spec: WrappingKeySpec) -> KmsResult<PrivateKey> {
        PrivateKey::new(&mut self.0, spec.bits())
            .map_err(|e| KmsError::internal(format!("RSA key generation failed: {e}")))
    }
}

/// Hands out pairs made in advance, round-robin per spec (for tests and
/// benchmarks, where generating thousands of RSA keys would dominate).
#[derive(Default)]
pub struct PregeneratedKeys {
    pairs: Vec<(WrappingKeySpec, VecDeque<PrivateKey>)>,
}

impl PregeneratedKeys {
    /// Adds a pair; its spec is read from the modulus size.
    pub fn add(&mut self, key: PrivateKey) -> KmsResult<()> {
        let spec = match key.size() * 8 {
            2048 => WrappingKeySpec::Rsa2048,
            3072 => WrappingKeySpec::Rsa3072,
            4096 => WrappingKeySpec::Rsa4096,
            bits => {
                return Err(KmsError::internal(format!(
                    "no wrapping key spec has {bits} bits"
                )));
            }
        };
        match self.pairs.iter_mut().find(|(s, _)| *s == spec) {
            Some((_, q)) => q.push_back(key),
            None => self.pairs.push((spec, VecDeque::from([key]))),
        }
        Ok(())
    }
}

impl WrappingKeySource for PregeneratedKeys {
    fn take(&mut self, spec: WrappingKeySpec) -> KmsResult<PrivateKey> {
        let q = self
            .pairs
            .iter_mut()
            .find(|(s, _)| *s == spec)
            .map(|(_, q)| q)
            .filter(|q| !q.is_empty())
            .ok_or_else(|| KmsError::internal(format!("no pregenerated {spec} key pair")))?;
        let key = q.pop_front().expect("checked non-empty");
        q.push_back(key.clone());
        Ok(key)
    }
}

/// A private key serialised for the store (PKCS#8 DER, zeroized).
pub(crate) fn private_key_to_der(key: &PrivateKey) -> KmsResult<SecretVec> {
    let doc = key
        .to_pkcs8_der()
        .map_err(|e| KmsError::internal(format!("cannot encode wrapping key: {e}")))?;
    Ok(SecretVec::new(doc.as_bytes().to_vec()))
}

pub(crate) fn private_key_from_der(der: &SecretVec) -> KmsResult<PrivateKey> {
    PrivateKey::from_pkcs8_der(der.expose())
        .map_err(|e| KmsError::internal(format!("stored wrapping key is unreadable: {e}")))
}

/// The DER SubjectPublicKeyInfo of `key`'s public half (what AWS returns as
/// `PublicKey`; 294/422/550 bytes for 2048/3072/4096 bits).
pub(crate) fn public_key_der(key: &PrivateKey) -> KmsResult<Vec<u8>> {
    key.to_public_key()
        .to_public_key_der()
        .map(|d| d.into_vec())
        .map_err(|e| KmsError::internal(format!("cannot encode public key: {e}")))
}

/// Why wrapping on this side failed.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum WrapError {
    /// The file is not a DER SubjectPublicKeyInfo RSA public key.
    #[error(
        "the public key is not a DER-encoded RSA public key (PublicKey.bin from GetParametersForImport)"
    )]
    BadPublicKey,
    /// AWS no longer accepts this algorithm.
    #[error("RSAES_PKCS1_V1_5 is no longer accepted for importing key material")]
    UnsupportedAlgorithm,
    /// The RSA operation failed.
    #[error("RSA encryption failed: {0}")]
    Rsa(String),
}

/// Wraps material (32 bytes for a symmetric key, 28 to 128 for an HMAC key)
/// for import under `public_key_der` exactly as the AWS documentation does
/// it with OpenSSL.
pub fn wrap_material(
    public_key_der: &[u8],
    algorithm: WrappingAlgorithm,
    material: &[u8],
    rng: &mut impl rand::CryptoRng,
) -> Result<Vec<u8>, WrapError> {
    let public =
        PublicKey::from_public_key_der(public_key_der).map_err(|_| WrapError::BadPublicKey)?;
    let rsa_err = |e: rsa::Error| WrapError::Rsa(e.to_string());
    match algorithm {
        WrappingAlgorithm::RsaesPkcs1V15 => Err(WrapError::UnsupportedAlgorithm),
        WrappingAlgorithm::RsaesOaepSha1 => public
            .oaep_encrypt_with_rng::<Sha1, _>(rng, material)
            .map_err(rsa_err),
        WrappingAlgorithm::RsaesOaepSha256 => public
            .oaep_encrypt_with_rng::<Sha256, _>(rng, material)
            .map_err(rsa_err),
        WrappingAlgorithm::RsaAesKeyWrapSha1 | WrappingAlgorithm::RsaAesKeyWrapSha256 => {
            let mut aes_key = Zeroizing::new([0u8; 32]);
            rng.fill_bytes(&mut aes_key[..]);
            let mut out = if algorithm == WrappingAlgorithm::RsaAesKeyWrapSha1 {
                public.oaep_encrypt_with_rng::<Sha1, _>(rng, &aes_key[..])
            } else {
                public.oaep_encrypt_with_rng::<Sha256, _>(rng, &aes_key[..])
            }
            .map_err(rsa_err)?;
            let kwp = <KwpAes256 as aes_kw::KeyInit>::new_from_slice(&aes_key[..])
                .map_err(|_| WrapError::Rsa("AES key of the wrong size".into()))?;
            let mut buf = Zeroizing::new(vec![0u8; material.len().div_ceil(8) * 8 + 8]);
            let wrapped = kwp
                .wrap_key(material, &mut buf)
                .map_err(|e| WrapError::Rsa(format!("AES key wrap failed: {e:?}")))?;
            out.extend_from_slice(wrapped);
            Ok(out)
        }
    }
}

/// Unwraps `blob` with the token's key pair and algorithm. Any failure is
/// `InvalidCiphertextException`; the caller checks the length against the
/// key spec.
pub(crate) fn unwrap_material(
    key: &PrivateKey,
    algorithm: WrappingAlgorithm,
    blob: &[u8],
) -> KmsResult<MaterialBytes> {
    let bad = KmsError::invalid_ciphertext;
    let oaep = |sha256: bool, ct: &[u8]| -> KmsResult<Zeroizing<Vec<u8>>> {
        let r = if sha256 {
            key.oaep_decrypt::<Sha256>(ct)
        } else {
            key.oaep_decrypt::<Sha1>(ct)
        };
        r.map(Zeroizing::new).map_err(|_| bad())
    };
    let plain = match algorithm {
        WrappingAlgorithm::RsaesPkcs1V15 => return Err(bad()),
        WrappingAlgorithm::RsaesOaepSha1 => oaep(false, blob)?,
        WrappingAlgorithm::RsaesOaepSha256 => oaep(true, blob)?,
        WrappingAlgorithm::RsaAesKeyWrapSha1 | WrappingAlgorithm::RsaAesKeyWrapSha256 => {
            let k = key.size();
            if blob.len() <= k {
                return Err(bad());
            }
            let (rsa_part, kw_part) = blob.split_at(k);
            let aes_key = oaep(
                algorithm == WrappingAlgorithm::RsaAesKeyWrapSha256,
                rsa_part,
            )?;
            let kwp =
                <KwpAes256 as aes_kw::KeyInit>::new_from_slice(&aes_key).map_err(|_| bad())?;
            let mut buf = Zeroizing::new(vec![0u8; kw_part.len()]);
            let len = kwp.unwrap_key(kw_part, &mut buf).map_err(|_| bad())?.len();
            buf.truncate(len);
            buf
        }
    };
    if plain.is_empty() {
        return Err(bad());
    }
    Ok(MaterialBytes::copy_of(&plain))
}
