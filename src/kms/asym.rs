//! The private keys of asymmetric KMS keys (RSA_2048/3072/4096,
//! ECC_NIST_P256/P384/P521, ECC_SECG_P256K1) and what they do: public key
//! (DER SubjectPublicKeyInfo), signatures (RSASSA-PSS, RSASSA-PKCS1-v1_5,
//! DER-encoded ECDSA), RSA-OAEP and ECDH.
//!
//! Imported material is a DER PKCS #8 private key (AWS KMS Developer Guide,
//! "Requirements for imported key material": asymmetric key material must be
//! a private key in PKCS #8 DER,
//! <https://docs.aws.amazon.com/kms/latest/developerguide/importing-keys-conceptual.html#importing-keys-material-requirements>).
//! The engine keeps the key re-encoded by this module ([`AsymmetricKey::to_pkcs8`]),
//! so two encodings of the same private key are the same material with the
//! same `KeyMaterialId`.
//!
//! Private keys live in the RustCrypto types, which zeroize on drop; the
//! enum has no `Debug` that prints them.

use std::fmt;

use ecdsa::signature::hazmat::{PrehashSigner, PrehashVerifier};
use p256::elliptic_curve::Generate;
use rsa::pkcs8::{DecodePrivateKey, DecodePublicKey, EncodePrivateKey, EncodePublicKey};
use rsa::traits::PublicKeyParts;
use rsa::{Pkcs1v15Sign, PrivateKey, Pss};
use sha1::Sha1;
use sha2::{Digest, Sha256, Sha384, Sha512};

use super::error::{KmsError, KmsResult};
use super::model::{EncryptionAlgorithm, KeySpec, KeyUsage, SigningAlgorithm};
use super::secret::SecretVec;

/// The private key of an asymmetric KMS key.
pub enum AsymmetricKey {
    /// RSA (2048, 3072 or 4096 bits).
    Rsa(Box<PrivateKey>),
    /// NIST P-256.
    P256(p256::SecretKey),
    /// NIST P-384.
    P384(p384::SecretKey),
    /// NIST P-521.
    P521(p521::SecretKey),
    /// secp256k1.
    K256(k256::SecretKey),
}

impl fmt::Debug for AsymmetricKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AsymmetricKey([REDACTED])")
    }
}

/// Which algorithms DescribeKey and GetPublicKey list for a key, in the
/// order AWS lists them (the key spec reference,
/// <https://docs.aws.amazon.com/kms/latest/developerguide/symm-asymm-choose-key-spec.html>).
pub fn signing_algorithms(spec: KeySpec) -> &'static [SigningAlgorithm] {
    use SigningAlgorithm::*;
    match spec {
        KeySpec::Rsa2048 | KeySpec::Rsa3072 | KeySpec::Rsa4096 => &[
            RsassaPkcs1V15Sha256,
            RsassaPkcs1V15Sha384,
            RsassaPkcs1V15Sha512,
            RsassaPssSha256,
            RsassaPssSha384,
            RsassaPssSha512,
        ],
        KeySpec::EccNistP256 | KeySpec::EccSecgP256k1 => &[EcdsaSha256],
        KeySpec::EccNistP384 => &[EcdsaSha384],
        KeySpec::EccNistP521 => &[EcdsaSha512],
        _ => &[],
    }
}

/// The encryption algorithms of an RSA `ENCRYPT_DECRYPT` key.
pub fn encryption_algorithms(spec: KeySpec) -> &'static [EncryptionAlgorithm] {
    if spec.rsa_bits().is_some() {
        &[
            EncryptionAlgorithm::RsaesOaepSha1,
            EncryptionAlgorithm::RsaesOaepSha256,
        ]
    } else {
        &[]
    }
}

/// The algorithm lists of a key of `spec` and `usage`, as DescribeKey and
/// GetPublicKey show them: (encryption, signing, key agreement).
pub fn algorithms_for(spec: KeySpec, usage: KeyUsage) -> (Vec<String>, Vec<String>, Vec<String>) {
    let names = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    match usage {
        KeyUsage::EncryptDecrypt if spec == KeySpec::SymmetricDefault => {
            (names(&["SYMMETRIC_DEFAULT"]), vec![], vec![])
        }
        KeyUsage::EncryptDecrypt => (
            encryption_algorithms(spec)
                .iter()
                .map(|a| a.as_str().to_string())
                .collect(),
            vec![],
            vec![],
        ),
        KeyUsage::SignVerify => (
            vec![],
            signing_algorithms(spec)
                .iter()
                .map(|a| a.as_str().to_string())
                .collect(),
            vec![],
        ),
        KeyUsage::KeyAgreement => (vec![], vec![], names(&["ECDH"])),
        KeyUsage::GenerateVerifyMac => (vec![], vec![], vec![]),
    }
}

/// The hash of a signing algorithm: its digest length and the digest.
fn hash_of(algorithm: SigningAlgorithm) -> Option<usize> {
    use SigningAlgorithm::*;
    match algorithm {
        RsassaPssSha256 | RsassaPkcs1V15Sha256 | EcdsaSha256 => Some(32),
        RsassaPssSha384 | RsassaPkcs1V15Sha384 | EcdsaSha384 => Some(48),
        RsassaPssSha512 | RsassaPkcs1V15Sha512 | EcdsaSha512 => Some(64),
        _ => None,
    }
}

/// The digest length `algorithm` signs (`MessageType` DIGEST must be exactly
/// this long).
pub fn digest_len(algorithm: SigningAlgorithm) -> Option<usize> {
    hash_of(algorithm)
}

/// The digest of `message` with `algorithm`'s hash (`MessageType` RAW).
pub fn digest(algorithm: SigningAlgorithm, message: &[u8]) -> Option<Vec<u8>> {
    Some(match hash_of(algorithm)? {
        32 => Sha256::digest(message).to_vec(),
        48 => Sha384::digest(message).to_vec(),
        _ => Sha512::digest(message).to_vec(),
    })
}

/// The largest plaintext RSA-OAEP takes under a key of `spec`: modulus
/// bytes − 2·hash − 2 (the key spec reference's table: RSA_2048 214 bytes
/// with RSAES_OAEP_SHA_1 and 190 with RSAES_OAEP_SHA_256; RSA_3072 342 and
/// 318; RSA_4096 470 and 446).
pub fn max_plaintext(spec: KeySpec, algorithm: EncryptionAlgorithm) -> Option<usize> {
    let k = spec.rsa_bits()? / 8;
    match algorithm {
        EncryptionAlgorithm::RsaesOaepSha1 => Some(k - 2 * 20 - 2),
        EncryptionAlgorithm::RsaesOaepSha256 => Some(k - 2 * 32 - 2),
        _ => None,
    }
}

macro_rules! ec_sign {
    ($sk:expr, $curve:ty, $digest:expr) => {{
        let signer = ecdsa::SigningKey::<$curve>::from($sk);
        let sig: ecdsa::Signature<$curve> = signer
            .sign_prehash($digest)
            .map_err(|_| KmsError::internal("ECDSA signing failed"))?;
        Ok(sig.to_der().as_bytes().to_vec())
    }};
}

macro_rules! ec_verify {
    ($sk:expr, $curve:ty, $digest:expr, $sig:expr) => {{
        let verifier = ecdsa::VerifyingKey::<$curve>::from($sk.public_key());
        match ecdsa::Signature::<$curve>::from_der($sig) {
            // (r, s) and (r, n - s) are the same ECDSA signature. OpenSSL
            // signs with either; secp256k1's verifier takes only the low-s
            // form, so a valid OpenSSL signature failed about half the time.
            Ok(sig) => verifier.verify_prehash($digest, &sig.normalize_s()).is_ok(),
            Err(_) => false,
        }
    }};
}

macro_rules! ec_derive {
    ($sk:expr, $public:ty, $peer:expr) => {{
        let peer = <$public>::from_public_key_der($peer).ok()?;
        let shared =
            p256::elliptic_curve::ecdh::diffie_hellman($sk.to_nonzero_scalar(), peer.as_affine());
        Some(SecretVec::copy_of(shared.raw_secret_bytes()))
    }};
}

impl AsymmetricKey {
    /// Parses a DER PKCS #8 private key for a key of `spec`. The error says,
    /// in words for the message of `IncorrectKeyMaterialException`, what the
    /// key spec takes.
    pub fn from_pkcs8(spec: KeySpec, der: &[u8]) -> Result<Self, String> {
        let wanted = || match spec.rsa_bits() {
            Some(bits) => {
                format!("a DER-encoded PKCS #8 RSA private key with a {bits}-bit modulus")
            }
            None => format!(
                "a DER-encoded PKCS #8 elliptic curve private key on the {} curve",
                curve_name(spec)
            ),
        };
        let key = match spec {
            KeySpec::Rsa2048 | KeySpec::Rsa3072 | KeySpec::Rsa4096 => {
                let k = PrivateKey::from_pkcs8_der(der).map_err(|_| wanted())?;
                if Some(k.size() * 8) != spec.rsa_bits() || k.validate().is_err() {
                    return Err(wanted());
                }
                Self::Rsa(Box::new(k))
            }
            KeySpec::EccNistP256 => {
                Self::P256(p256::SecretKey::from_pkcs8_der(der).map_err(|_| wanted())?)
            }
            KeySpec::EccNistP384 => {
                Self::P384(p384::SecretKey::from_pkcs8_der(der).map_err(|_| wanted())?)
            }
            KeySpec::EccNistP521 => {
                Self::P521(p521::SecretKey::from_pkcs8_der(der).map_err(|_| wanted())?)
            }
            KeySpec::EccSecgP256k1 => {
                Self::K256(k256::SecretKey::from_pkcs8_der(der).map_err(|_| wanted())?)
            }
            _ => return Err(format!("key spec {spec} takes no private key")),
        };
        Ok(key)
    }

    /// A new private key of `spec` (`AWS_KMS` keys).
    pub fn generate(spec: KeySpec, rng: &mut impl rand::CryptoRng) -> KmsResult<Self> {
        Ok(match spec {
            KeySpec::Rsa2048 | KeySpec::Rsa3072 | KeySpec::Rsa4096 => {
                let bits = spec.rsa_bits().unwrap_or(2048);
                Self::Rsa(Box::new(PrivateKey::new(rng, bits).map_err(|e| {
                    KmsError::internal(format!("RSA key generation failed: {e}"))
                })?))
            }
            KeySpec::EccNistP256 => Self::P256(p256::SecretKey::generate_from_rng(rng)),
            KeySpec::EccNistP384 => Self::P384(p384::SecretKey::generate_from_rng(rng)),
            KeySpec::EccNistP521 => Self::P521(p521::SecretKey::generate_from_rng(rng)),
            KeySpec::EccSecgP256k1 => Self::K256(k256::SecretKey::generate_from_rng(rng)),
            _ => return Err(KmsError::internal(format!("{spec} is not asymmetric"))),
        })
    }

    /// The canonical DER PKCS #8 encoding the engine keeps as the key's
    /// material.
    pub fn to_pkcs8(&self) -> KmsResult<SecretVec> {
        let doc = match self {
            Self::Rsa(k) => k.to_pkcs8_der(),
            Self::P256(k) => k.to_pkcs8_der(),
            Self::P384(k) => k.to_pkcs8_der(),
            Self::P521(k) => k.to_pkcs8_der(),
            Self::K256(k) => k.to_pkcs8_der(),
        }
        .map_err(|_| KmsError::internal("cannot encode a private key"))?;
        Ok(SecretVec::copy_of(doc.as_bytes()))
    }

    /// The DER SubjectPublicKeyInfo of the public key (GetPublicKey).
    pub fn public_key_der(&self) -> KmsResult<Vec<u8>> {
        let doc = match self {
            Self::Rsa(k) => k.to_public_key().to_public_key_der(),
            Self::P256(k) => k.public_key().to_public_key_der(),
            Self::P384(k) => k.public_key().to_public_key_der(),
            Self::P521(k) => k.public_key().to_public_key_der(),
            Self::K256(k) => k.public_key().to_public_key_der(),
        }
        .map_err(|_| KmsError::internal("cannot encode a public key"))?;
        Ok(doc.into_vec())
    }

    /// Signs `digest` (already hashed with `algorithm`'s hash, and of its
    /// length). RSASSA-PSS uses MGF1 with the same hash and a salt as long as
    /// the digest, as AWS does; ECDSA signatures are DER-encoded, as AWS
    /// returns them (the Sign API reference: "the signature ... is a
    /// DER-encoded object as defined by ANSI X9.62–2005 and RFC 3279").
    pub fn sign(
        &self,
        algorithm: SigningAlgorithm,
        digest: &[u8],
        rng: &mut impl rand::CryptoRng,
    ) -> KmsResult<Vec<u8>> {
        use SigningAlgorithm::*;
        let failed = |_| KmsError::internal("RSA signing failed");
        match (self, algorithm) {
            (Self::Rsa(k), RsassaPssSha256) => k
                .sign_with_rng(rng, Pss::<Sha256>::new(), digest)
                .map_err(failed),
            (Self::Rsa(k), RsassaPssSha384) => k
                .sign_with_rng(rng, Pss::<Sha384>::new(), digest)
                .map_err(failed),
            (Self::Rsa(k), RsassaPssSha512) => k
                .sign_with_rng(rng, Pss::<Sha512>::new(), digest)
                .map_err(failed),
            (Self::Rsa(k), RsassaPkcs1V15Sha256) => k
                .sign_with_rng(rng, Pkcs1v15Sign::new::<Sha256>(), digest)
                .map_err(failed),
            (Self::Rsa(k), RsassaPkcs1V15Sha384) => k
                .sign_with_rng(rng, Pkcs1v15Sign::new::<Sha384>(), digest)
                .map_err(failed),
            (Self::Rsa(k), RsassaPkcs1V15Sha512) => k
                .sign_with_rng(rng, Pkcs1v15Sign::new::<Sha512>(), digest)
                .map_err(failed),
            (Self::P256(k), EcdsaSha256) => ec_sign!(k, p256::NistP256, digest),
            (Self::P384(k), EcdsaSha384) => ec_sign!(k, p384::NistP384, digest),
            (Self::P521(k), EcdsaSha512) => ec_sign!(k, p521::NistP521, digest),
            (Self::K256(k), EcdsaSha256) => ec_sign!(k, k256::Secp256k1, digest),
            _ => Err(KmsError::internal(
                "a signing algorithm the key spec does not take",
            )),
        }
    }

    /// Whether `signature` is a valid signature of `digest` with `algorithm`.
    pub fn verify(&self, algorithm: SigningAlgorithm, digest: &[u8], signature: &[u8]) -> bool {
        use SigningAlgorithm::*;
        match (self, algorithm) {
            (Self::Rsa(k), RsassaPssSha256) => k
                .to_public_key()
                .verify(Pss::<Sha256>::new(), digest, signature)
                .is_ok(),
            (Self::Rsa(k), RsassaPssSha384) => k
                .to_public_key()
                .verify(Pss::<Sha384>::new(), digest, signature)
                .is_ok(),
            (Self::Rsa(k), RsassaPssSha512) => k
                .to_public_key()
                .verify(Pss::<Sha512>::new(), digest, signature)
                .is_ok(),
            (Self::Rsa(k), RsassaPkcs1V15Sha256) => k
                .to_public_key()
                .verify(Pkcs1v15Sign::new::<Sha256>(), digest, signature)
                .is_ok(),
            (Self::Rsa(k), RsassaPkcs1V15Sha384) => k
                .to_public_key()
                .verify(Pkcs1v15Sign::new::<Sha384>(), digest, signature)
                .is_ok(),
            (Self::Rsa(k), RsassaPkcs1V15Sha512) => k
                .to_public_key()
                .verify(Pkcs1v15Sign::new::<Sha512>(), digest, signature)
                .is_ok(),
            (Self::P256(k), EcdsaSha256) => ec_verify!(k, p256::NistP256, digest, signature),
            (Self::P384(k), EcdsaSha384) => ec_verify!(k, p384::NistP384, digest, signature),
            (Self::P521(k), EcdsaSha512) => ec_verify!(k, p521::NistP521, digest, signature),
            (Self::K256(k), EcdsaSha256) => ec_verify!(k, k256::Secp256k1, digest, signature),
            _ => false,
        }
    }

    /// RSA-OAEP encryption (MGF1 with the same hash, empty label).
    pub fn encrypt(
        &self,
        algorithm: EncryptionAlgorithm,
        plaintext: &[u8],
        rng: &mut impl rand::CryptoRng,
    ) -> KmsResult<Vec<u8>> {
        let Self::Rsa(k) = self else {
            return Err(KmsError::internal("only RSA keys encrypt"));
        };
        let public = k.to_public_key();
        match algorithm {
            EncryptionAlgorithm::RsaesOaepSha1 => {
                public.oaep_encrypt_with_rng::<Sha1, _>(rng, plaintext)
            }
            EncryptionAlgorithm::RsaesOaepSha256 => {
                public.oaep_encrypt_with_rng::<Sha256, _>(rng, plaintext)
            }
            _ => return Err(KmsError::internal("not an RSA encryption algorithm")),
        }
        .map_err(|_| KmsError::internal("RSA-OAEP encryption failed"))
    }

    /// RSA-OAEP decryption; `None` when the ciphertext does not decrypt.
    pub fn decrypt(&self, algorithm: EncryptionAlgorithm, ciphertext: &[u8]) -> Option<SecretVec> {
        let Self::Rsa(k) = self else {
            return None;
        };
        match algorithm {
            EncryptionAlgorithm::RsaesOaepSha1 => k.oaep_decrypt::<Sha1>(ciphertext).ok(),
            EncryptionAlgorithm::RsaesOaepSha256 => k.oaep_decrypt::<Sha256>(ciphertext).ok(),
            _ => None,
        }
        .map(SecretVec::new)
    }

    /// ECDH with the peer's DER SubjectPublicKeyInfo public key on the same
    /// curve: the shared secret is the x coordinate of the shared point (as
    /// `openssl pkeyutl -derive` gives it). `None` when the peer key is not a
    /// public key on this curve.
    pub fn derive_shared_secret(&self, peer_spki_der: &[u8]) -> Option<SecretVec> {
        match self {
            Self::P256(k) => ec_derive!(k, p256::PublicKey, peer_spki_der),
            Self::P384(k) => ec_derive!(k, p384::PublicKey, peer_spki_der),
            Self::P521(k) => ec_derive!(k, p521::PublicKey, peer_spki_der),
            Self::K256(k) => ec_derive!(k, k256::PublicKey, peer_spki_der),
            Self::Rsa(_) => None,
        }
    }
}

/// The curve's name as OpenSSL and the standards write it.
fn curve_name(spec: KeySpec) -> &'static str {
    match spec {
        KeySpec::EccNistP256 => "NIST P-256 (secp256r1)",
        KeySpec::EccNistP384 => "NIST P-384 (secp384r1)",
        KeySpec::EccNistP521 => "NIST P-521 (secp521r1)",
        KeySpec::EccSecgP256k1 => "secp256k1",
        _ => "?",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn every_curve_signs_verifies_and_round_trips_through_pkcs8() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        for spec in [
            KeySpec::EccNistP256,
            KeySpec::EccNistP384,
            KeySpec::EccNistP521,
            KeySpec::EccSecgP256k1,
        ] {
            let k = AsymmetricKey::generate(spec, &mut rng).unwrap();
            let der = k.to_pkcs8().unwrap();
            let back = AsymmetricKey::from_pkcs8(spec, der.expose()).unwrap();
            assert_eq!(back.to_pkcs8().unwrap().expose(), der.expose());
            let alg = signing_algorithms(spec)[0];
            let d = digest(alg, b"message").unwrap();
            let sig = k.sign(alg, &d, &mut rng).unwrap();
            assert!(back.verify(alg, &d, &sig));
            assert!(!back.verify(alg, &digest(alg, b"other").unwrap(), &sig));
            assert!(!back.verify(alg, &d, b"\x30\x00"));
            // Another curve's key is refused with the words of the spec.
            let other = if spec == KeySpec::EccNistP256 {
                KeySpec::EccNistP384
            } else {
                KeySpec::EccNistP256
            };
            assert!(AsymmetricKey::from_pkcs8(other, der.expose()).is_err());
            assert!(format!("{k:?}").contains("REDACTED"));
        }
    }

    /// A secp256k1 signature in its high-s form, (r, n - s), is the same
    /// signature: OpenSSL makes either, and Verify accepts both.
    #[test]
    fn a_high_s_secp256k1_signature_verifies() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(11);
        let k = AsymmetricKey::generate(KeySpec::EccSecgP256k1, &mut rng).unwrap();
        let alg = SigningAlgorithm::EcdsaSha256;
        let d = digest(alg, b"message").unwrap();
        let low =
            ecdsa::Signature::<k256::Secp256k1>::from_der(&k.sign(alg, &d, &mut rng).unwrap())
                .unwrap();
        let (r, s) = low.split_scalars();
        let neg_s = -*s.as_ref();
        let high =
            ecdsa::Signature::<k256::Secp256k1>::from_scalars(r.to_bytes(), neg_s.to_bytes())
                .unwrap();
        assert!(high.normalize_s() == low && high != low, "the two forms");
        assert!(k.verify(alg, &d, high.to_der().as_bytes()));
        assert!(k.verify(alg, &d, low.to_der().as_bytes()));
    }

    #[test]
    fn oaep_limits_follow_the_key_spec_table() {
        assert_eq!(
            max_plaintext(KeySpec::Rsa2048, EncryptionAlgorithm::RsaesOaepSha1),
            Some(214)
        );
        assert_eq!(
            max_plaintext(KeySpec::Rsa2048, EncryptionAlgorithm::RsaesOaepSha256),
            Some(190)
        );
        assert_eq!(
            max_plaintext(KeySpec::Rsa3072, EncryptionAlgorithm::RsaesOaepSha1),
            Some(342)
        );
        assert_eq!(
            max_plaintext(KeySpec::Rsa3072, EncryptionAlgorithm::RsaesOaepSha256),
            Some(318)
        );
        assert_eq!(
            max_plaintext(KeySpec::Rsa4096, EncryptionAlgorithm::RsaesOaepSha1),
            Some(470)
        );
        assert_eq!(
            max_plaintext(KeySpec::Rsa4096, EncryptionAlgorithm::RsaesOaepSha256),
            Some(446)
        );
    }

    #[test]
    fn garbage_is_refused_without_panicking() {
        for spec in KeySpec::ALL.iter().copied().filter(|s| s.is_asymmetric()) {
            for bytes in [&b""[..], b"\x30", b"\x30\x82\xff\xff", &[0u8; 300]] {
                assert!(AsymmetricKey::from_pkcs8(spec, bytes).is_err());
            }
        }
    }
}
