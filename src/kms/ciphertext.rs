//! The ciphertext blob **[byok]** (SPEC §5):
//! `0x01 || KeyId (16) || KeyMaterialId (32) || salt (16) || iv (12) || AES-256-GCM ciphertext || tag (16)`.
//!
//! The GCM key is derived per message with HKDF-SHA-256 (ikm = material,
//! salt, info = `byok/ciphertext/v1 || KeyId || KeyMaterialId`). The
//! associated data is the header followed by the encryption context in
//! canonical form.

use std::collections::BTreeMap;

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use hkdf::Hkdf;
use sha2::Sha256;
use zeroize::Zeroizing;

use super::model::{KeyId, KeyMaterialId, MaterialBytes};
use super::secret::SecretVec;

/// The encryption context: pairs kept sorted by key, which is their
/// canonical order.
pub type EncryptionContext = BTreeMap<String, String>;

const VERSION: u8 = 1;
/// Bytes before the GCM ciphertext.
pub const HEADER_LEN: usize = 1 + 16 + 32 + 16 + 12;
const TAG_LEN: usize = 16;
/// The shortest blob that can hold a header and a tag.
pub const MIN_LEN: usize = HEADER_LEN + TAG_LEN;

/// The readable part of a blob: which key and material made it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BlobHeader {
    /// The key that made the blob.
    pub key_id: KeyId,
    /// The material that made the blob.
    pub key_material_id: KeyMaterialId,
}

/// Reads the header of a blob; `None` for any length or version mismatch.
pub fn parse_header(blob: &[u8]) -> Option<BlobHeader> {
    if blob.len() < MIN_LEN || blob[0] != VERSION {
        return None;
    }
    Some(BlobHeader {
        key_id: KeyId::from_bytes(blob[1..17].try_into().ok()?),
        key_material_id: KeyMaterialId::from_bytes(blob[17..49].try_into().ok()?),
    })
}

/// The canonical form of an encryption context: pairs sorted by key, each
/// key and value as a u32 big-endian length followed by UTF-8 bytes.
pub fn canonical_context(context: &EncryptionContext) -> Vec<u8> {
    let mut out = Vec::new();
    for (k, v) in context {
        for s in [k, v] {
            out.extend_from_slice(&(s.len() as u32).to_be_bytes());
            out.extend_from_slice(s.as_bytes());
        }
    }
    out
}

fn cipher_for(material: &MaterialBytes, header: &[u8]) -> Aes256Gcm {
    let salt = &header[49..65];
    let mut info = Vec::with_capacity(18 + 48);
    info.extend_from_slice(b"byok/ciphertext/v1");
    info.extend_from_slice(&header[1..49]);
    let hk = Hkdf::<Sha256>::new(Some(salt), material.expose());
    let mut okm = Zeroizing::new([0u8; 32]);
    hk.expand(&info, &mut okm[..])
        .expect("32 bytes is a valid HKDF length");
    Aes256Gcm::new_from_slice(&okm[..]).expect("32-byte key")
}

fn aad(header: &[u8], context: &EncryptionContext) -> Vec<u8> {
    let mut aad = header.to_vec();
    aad.extend_from_slice(&canonical_context(context));
    aad
}

/// Encrypts `plaintext` under `material` of key `key_id`.
pub(crate) fn seal(
    key_id: KeyId,
    material_id: KeyMaterialId,
    material: &MaterialBytes,
    plaintext: &[u8],
    context: &EncryptionContext,
    salt: [u8; 16],
    iv: [u8; 12],
) -> Vec<u8> {
    let mut header = [0u8; HEADER_LEN];
    header[0] = VERSION;
    header[1..17].copy_from_slice(key_id.as_bytes());
    header[17..49].copy_from_slice(material_id.as_bytes());
    header[49..65].copy_from_slice(&salt);
    header[65..77].copy_from_slice(&iv);
    let cipher = cipher_for(material, &header);
    let sealed = cipher
        .encrypt(
            &Nonce::from(iv),
            Payload {
                msg: plaintext,
                aad: &aad(&header, context),
            },
        )
        .expect("AES-GCM encryption of at most 4 KiB cannot fail");
    let mut blob = Vec::with_capacity(HEADER_LEN + sealed.len());
    blob.extend_from_slice(&header);
    blob.extend_from_slice(&sealed);
    blob
}

/// Decrypts a blob whose header names `material`. `None` when the blob is
/// damaged, the context differs, or the material is not the one that made it.
pub(crate) fn open(
    blob: &[u8],
    material: &MaterialBytes,
    context: &EncryptionContext,
) -> Option<SecretVec> {
    parse_header(blob)?;
    let (header, body) = blob.split_at(HEADER_LEN);
    let iv: [u8; 12] = header[65..77].try_into().ok()?;
    let cipher = cipher_for(material, header);
    cipher
        .decrypt(
            &Nonce::from(iv),
            Payload {
                msg: body,
                aad: &aad(header, context),
            },
        )
        .ok()
        .map(SecretVec::new)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_context_is_sorted_and_length_prefixed() {
        let mut c = EncryptionContext::new();
        c.insert("b".into(), "2".into());
        c.insert("a".into(), "".into());
        assert_eq!(
            canonical_context(&c),
            [
                &[0, 0, 0, 1, b'a', 0, 0, 0, 0][..],
                &[0, 0, 0, 1, b'b', 0, 0, 0, 1, b'2']
            ]
            .concat()
        );
    }

    fn unhex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    /// SPEC §5 known answer. Computed independently with Python's
    /// `cryptography` (HKDF-SHA256 and AESGCM) from the SPEC's description:
    /// key id and material of SPEC §8's vector, salt a0..af, iv b0..bb,
    /// context {"purpose": "test", "Department": "Finance"}.
    #[test]
    fn blob_known_answer() {
        let key = KeyId::from_bytes(
            unhex("1234abcd12ab34cd56ef1234567890ab")
                .try_into()
                .unwrap(),
        );
        let material_id = KeyMaterialId::from_bytes(
            unhex("82e5515fe5249175b7446abfe554fef5b520d136ff1338dcafa160a172885cb8")
                .try_into()
                .unwrap(),
        );
        let material = MaterialBytes::copy_of(&(0u8..32).collect::<Vec<_>>());
        let context = EncryptionContext::from([
            ("purpose".to_string(), "test".to_string()),
            ("Department".to_string(), "Finance".to_string()),
        ]);
        let salt: [u8; 16] = std::array::from_fn(|i| 0xa0 + i as u8);
        let iv: [u8; 12] = std::array::from_fn(|i| 0xb0 + i as u8);
        let expected = unhex(concat!(
            "01",
            "1234abcd12ab34cd56ef1234567890ab",
            "82e5515fe5249175b7446abfe554fef5b520d136ff1338dcafa160a172885cb8",
            "a0a1a2a3a4a5a6a7a8a9aaabacadaeaf",
            "b0b1b2b3b4b5b6b7b8b9babb",
            "dcc87ce154ca9b01aee3c613",
            "05922d580893ee7598d912e69e0f01fd",
        ));
        let blob = seal(
            key,
            material_id,
            &material,
            b"Hello, byok!",
            &context,
            salt,
            iv,
        );
        assert_eq!(blob, expected);
        assert_eq!(
            open(&expected, &material, &context).unwrap().expose(),
            b"Hello, byok!"
        );
    }

    #[test]
    fn seals_and_opens_and_rejects_any_change() {
        let m = MaterialBytes::copy_of(&[5; 32]);
        let key = KeyId::from_bytes([1; 16]);
        let mid = KeyMaterialId::from_bytes([2; 32]);
        let ctx = EncryptionContext::from([("purpose".to_string(), "test".to_string())]);
        let blob = seal(key, mid, &m, b"hello", &ctx, [3; 16], [4; 12]);
        assert_eq!(blob.len(), MIN_LEN + 5);
        assert_eq!(
            parse_header(&blob),
            Some(BlobHeader {
                key_id: key,
                key_material_id: mid
            })
        );
        assert_eq!(open(&blob, &m, &ctx).unwrap().expose(), b"hello");
        assert!(open(&blob, &m, &EncryptionContext::new()).is_none());
        for i in 0..blob.len() * 8 {
            let mut b = blob.clone();
            b[i / 8] ^= 1 << (i % 8);
            assert!(open(&b, &m, &ctx).is_none(), "bit {i}");
        }
        for n in 0..blob.len() {
            assert!(open(&blob[..n], &m, &ctx).is_none(), "truncated to {n}");
        }
    }
}
