//! Computations on key material bytes that a custodian can repeat outside
//! byok: the key material identifier (SPEC §1) and the key check value.

use aes::Aes256;
use aes::cipher::{Array, BlockCipherEncrypt, KeyInit};
use sha2::{Digest, Sha256};

use super::model::{KeyId, KeyMaterialId};

/// Length of the key material of a symmetric encryption key in bytes (HMAC
/// keys take other lengths: [`super::model::KeySpec::material_lengths`]).
pub const MATERIAL_LEN: usize = 32;

/// The material id the bytes get in key `key_id`:
/// `SHA-256("byok/key-material-id/v1" || 0x00 || KeyId as UTF-8 || 0x00 || material)`.
/// Any length of material (HMAC keys take 28 to 128 bytes); for 32 bytes
/// this is SPEC §8's vector.
pub fn key_material_id(key_id: KeyId, material: &[u8]) -> KeyMaterialId {
    let mut h = Sha256::new();
    h.update(b"byok/key-material-id/v1");
    h.update([0u8]);
    h.update(key_id.to_string().as_bytes());
    h.update([0u8]);
    h.update(material);
    KeyMaterialId::from_bytes(h.finalize().into())
}

/// The key check value HSM consoles show: AES-256-ECB of sixteen zero bytes
/// under the material, first three bytes, as six lowercase hex characters.
pub fn key_check_value(material: &[u8; MATERIAL_LEN]) -> String {
    let cipher = Aes256::new(&Array::from(*material));
    let mut block = Array::from([0u8; 16]);
    cipher.encrypt_block(&mut block);
    let kcv = format!("{:02x}{:02x}{:02x}", block[0], block[1], block[2]);
    zeroize::Zeroize::zeroize(&mut block[..]);
    kcv
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vector_material() -> [u8; 32] {
        std::array::from_fn(|i| i as u8)
    }

    /// SPEC §8: the key material id test vector.
    #[test]
    fn material_id_matches_the_spec_vector() {
        let key = KeyId::parse("1234abcd-12ab-34cd-56ef-1234567890ab").unwrap();
        assert_eq!(
            key_material_id(key, &vector_material()).to_string(),
            "82e5515fe5249175b7446abfe554fef5b520d136ff1338dcafa160a172885cb8"
        );
    }

    /// SPEC §8: the key check value vector (full block f29000b62a499fd0…,
    /// which is also the FIPS-197 C.3 key schedule's ECB output for this
    /// key on a zero block).
    #[test]
    fn key_check_value_matches_the_spec_vector() {
        assert_eq!(key_check_value(&vector_material()), "f29000");
    }

    #[test]
    fn same_bytes_in_two_keys_get_two_ids() {
        let a = KeyId::parse("1234abcd-12ab-34cd-56ef-1234567890ab").unwrap();
        let b = KeyId::parse("1234abcd-12ab-34cd-56ef-1234567890ac").unwrap();
        assert_ne!(
            key_material_id(a, &vector_material()),
            key_material_id(b, &vector_material())
        );
    }
}
