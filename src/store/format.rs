//! The store file: a small header, then AES-256-GCM over the serialised
//! state with the header as associated data.
//!
//! ```text
//! magic "BYOKSTOR" (8) | format version u16 | kdf id u8 (1 = Argon2id v19)
//! | m_cost KiB u32 | t_cost u32 | p_cost u32 | salt (16) | nonce (12)
//! | ciphertext of postcard(StoreBody) [format 2 on: then postcard(Sections)] | tag (16)
//! ```
//! Format 3 changes the body only: each key records its `KeySpec` and
//! `KeyUsage`, and material is any length (HMAC keys); formats 1 and 2 are
//! read and rewritten as format 3 at the next save.
//! Format 4 has the body of format 3 with more values in it: the key specs
//! and usages of asymmetric keys (RSA and elliptic curve, whose material is
//! a PKCS #8 private key). A format-3 body is read as it is; the version
//! moves so that an older byok refuses a store it could not read
//! (`TooNew`) instead of calling it damaged.
//! Format 5 appends to the engine state the keys of the regions other than
//! the store's (multi-Region replicas) and the primary region of each
//! multi-Region key; formats 3 and 4 are read through
//! [`crate::kms::legacy::KmsStateV4`] and rewritten as format 5.
//! All integers big-endian. The key is Argon2id(passphrase, salt) with the
//! parameters in the header, so they can be raised later without breaking
//! older files.

use aes_gcm::aead::{AeadInOut, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use argon2::{Algorithm, Argon2, Params, Version};
use zeroize::Zeroizing;

use crate::kms::SecretArray;

/// First bytes of every store file.
pub const MAGIC: &[u8; 8] = b"BYOKSTOR";
/// The format this build writes.
/// Format 3: keys carry their key spec and usage, materials any length.
/// Format 4: asymmetric key specs and usages.
/// Format 5: several regions (multi-Region keys).
pub const FORMAT_VERSION: u16 = 5;
/// Header length (formats 1 to 5).
pub const HEADER_LEN: usize = 8 + 2 + 1 + 4 + 4 + 4 + 16 + 12;
const KDF_ARGON2ID: u8 = 1;

/// Argon2id cost parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KdfParams {
    /// Memory in KiB.
    pub m_cost_kib: u32,
    /// Passes.
    pub t_cost: u32,
    /// Lanes.
    pub p_cost: u32,
}

impl KdfParams {
    /// What new stores use: about half a second on a 2-core machine, the usual
    /// target for an interactive unlock.
    pub const INTERACTIVE: KdfParams = KdfParams {
        m_cost_kib: 128 * 1024,
        t_cost: 6,
        p_cost: 1,
    };

    /// Cheap parameters for tests and throwaway training stores only.
    pub const INSECURE_FAST: KdfParams = KdfParams {
        m_cost_kib: 8 * 1024,
        t_cost: 1,
        p_cost: 1,
    };

    /// The most a store may ask of an unlock: four times what new stores
    /// use ([`KdfParams::INTERACTIVE`]) in memory, in passes and in total
    /// work (memory × passes), so about two seconds and 512 MiB at most.
    /// Argon2 costs memory × passes whatever the lanes (this build computes
    /// them one after the other). A header asking for more is refused before
    /// any derivation, and byok never writes such a store.
    pub const MAX: KdfParams = KdfParams {
        m_cost_kib: 4 * Self::INTERACTIVE.m_cost_kib,
        t_cost: 4 * Self::INTERACTIVE.t_cost,
        p_cost: 8,
    };

    /// The most memory × passes (KiB) an unlock may cost: four times
    /// [`KdfParams::INTERACTIVE`].
    pub const MAX_WORK_KIB: u64 =
        4 * Self::INTERACTIVE.m_cost_kib as u64 * Self::INTERACTIVE.t_cost as u64;

    /// Values no byok ever wrote (a damaged header, not a costly one).
    fn plausible(&self) -> bool {
        (8..=1024 * 1024).contains(&self.m_cost_kib)
            && (1..=16).contains(&self.t_cost)
            && (1..=8).contains(&self.p_cost)
    }

    /// Whether an unlock with these parameters stays within [`KdfParams::MAX`].
    pub fn within_limits(&self) -> bool {
        let max = Self::MAX;
        let work = u64::from(self.m_cost_kib) * u64::from(self.t_cost);
        (8..=max.m_cost_kib).contains(&self.m_cost_kib)
            && (1..=max.t_cost).contains(&self.t_cost)
            && (1..=max.p_cost).contains(&self.p_cost)
            && work <= Self::MAX_WORK_KIB
    }
}

/// The largest store file byok reads (and writes). A key with five
/// materials takes about 550 bytes (README, "Store open and save": 10 000
/// keys make 5.5 MB), so this holds some 480 000 such keys, several times
/// AWS KMS's default quota of 100 000 keys per region; and it is small
/// enough that a wrong file named as the store costs no more than this in
/// memory before it is refused.
pub const MAX_FILE_BYTES: u64 = 256 << 20;

/// The parsed header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    /// Format version.
    pub version: u16,
    /// Key derivation parameters.
    pub kdf: KdfParams,
    /// Argon2 salt.
    pub salt: [u8; 16],
    /// AES-GCM nonce of this generation.
    pub nonce: [u8; 12],
}

impl Header {
    /// The header bytes (the associated data of the body).
    pub fn encode(&self) -> [u8; HEADER_LEN] {
        let mut h = [0u8; HEADER_LEN];
        h[..8].copy_from_slice(MAGIC);
        h[8..10].copy_from_slice(&self.version.to_be_bytes());
        h[10] = KDF_ARGON2ID;
        h[11..15].copy_from_slice(&self.kdf.m_cost_kib.to_be_bytes());
        h[15..19].copy_from_slice(&self.kdf.t_cost.to_be_bytes());
        h[19..23].copy_from_slice(&self.kdf.p_cost.to_be_bytes());
        h[23..39].copy_from_slice(&self.salt);
        h[39..51].copy_from_slice(&self.nonce);
        h
    }

    /// Parses the header of a whole file.
    pub fn parse(file: &[u8]) -> Result<Header, HeaderError> {
        Self::parse_prefix(file, file.len() as u64)
    }

    /// Parses a header from the first bytes of a file (at least
    /// [`HEADER_LEN`] of them when the file has that many) and the file's
    /// length, so that a file is judged before its body is read: not a
    /// store, damaged, too new, too large, or asking for too costly a key
    /// derivation.
    pub fn parse_prefix(file: &[u8], file_len: u64) -> Result<Header, HeaderError> {
        if file.len() < 8 || &file[..8] != MAGIC {
            return Err(HeaderError::NotAStore);
        }
        if file.len() < HEADER_LEN || file_len < (HEADER_LEN + 16) as u64 {
            return Err(HeaderError::Damaged);
        }
        let u32_at =
            |i: usize| u32::from_be_bytes([file[i], file[i + 1], file[i + 2], file[i + 3]]);
        let version = u16::from_be_bytes([file[8], file[9]]);
        if version > FORMAT_VERSION {
            return Err(HeaderError::TooNew(version));
        }
        if version == 0 || file[10] != KDF_ARGON2ID {
            return Err(HeaderError::Damaged);
        }
        let kdf = KdfParams {
            m_cost_kib: u32_at(11),
            t_cost: u32_at(15),
            p_cost: u32_at(19),
        };
        if !kdf.plausible() {
            return Err(HeaderError::Damaged);
        }
        if !kdf.within_limits() {
            return Err(HeaderError::TooCostly(kdf));
        }
        if file_len > MAX_FILE_BYTES {
            return Err(HeaderError::TooLarge(file_len));
        }
        let mut salt = [0u8; 16];
        salt.copy_from_slice(&file[23..39]);
        let mut nonce = [0u8; 12];
        nonce.copy_from_slice(&file[39..51]);
        Ok(Header {
            version,
            kdf,
            salt,
            nonce,
        })
    }
}

/// Why a header could not be read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HeaderError {
    /// The file does not start with the store magic.
    NotAStore,
    /// The header is truncated or holds impossible values.
    Damaged,
    /// Written by a newer byok.
    TooNew(u16),
    /// Asks for a key derivation beyond [`KdfParams::MAX`].
    TooCostly(KdfParams),
    /// The file (this many bytes) is larger than [`MAX_FILE_BYTES`].
    TooLarge(u64),
}

/// Derives the store key from a passphrase.
pub fn derive_key(passphrase: &[u8], salt: &[u8; 16], kdf: KdfParams) -> Option<SecretArray<32>> {
    let params = Params::new(kdf.m_cost_kib, kdf.t_cost, kdf.p_cost, Some(32)).ok()?;
    let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
    let mut out = Zeroizing::new([0u8; 32]);
    argon
        .hash_password_into(passphrase, salt, &mut out[..])
        .ok()?;
    SecretArray::from_slice(&out[..])
}

/// Encrypts `body` (in place, appending the tag) under `key` with `header`
/// as associated data, and returns the complete file.
pub fn seal(key: &SecretArray<32>, header: &Header, mut body: Zeroizing<Vec<u8>>) -> Vec<u8> {
    let cipher = Aes256Gcm::new_from_slice(key.expose()).expect("32-byte key");
    let aad = header.encode();
    body.reserve_exact(16);
    cipher
        .encrypt_in_place(&Nonce::from(header.nonce), &aad, &mut *body)
        .expect("the state is far below AES-GCM's message limit");
    let mut file = Vec::with_capacity(HEADER_LEN + body.len());
    file.extend_from_slice(&aad);
    file.extend_from_slice(&body);
    file
}

/// Decrypts a store file's body. `None` when authentication fails: a wrong
/// passphrase and a damaged file look the same, on purpose.
pub fn open(key: &SecretArray<32>, header: &Header, file: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
    let cipher = Aes256Gcm::new_from_slice(key.expose()).ok()?;
    let aad = header.encode();
    if file.get(..HEADER_LEN)? != aad {
        return None;
    }
    let mut body = Zeroizing::new(file[HEADER_LEN..].to_vec());
    cipher
        .decrypt_in_place(&Nonce::from(header.nonce), &aad, &mut *body)
        .ok()?;
    Some(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header() -> Header {
        Header {
            version: FORMAT_VERSION,
            kdf: KdfParams::INSECURE_FAST,
            salt: [1; 16],
            nonce: [2; 12],
        }
    }

    #[test]
    fn header_round_trips() {
        let h = header();
        let mut file = h.encode().to_vec();
        file.extend_from_slice(&[0; 16]);
        assert_eq!(Header::parse(&file), Ok(h));
    }

    #[test]
    fn implausible_parameters_are_damage() {
        let mut h = header();
        h.kdf.m_cost_kib = u32::MAX;
        let mut file = h.encode().to_vec();
        file.extend_from_slice(&[0; 16]);
        assert_eq!(Header::parse(&file), Err(HeaderError::Damaged));
        assert_eq!(Header::parse(b"hello world"), Err(HeaderError::NotAStore));
    }

    #[test]
    fn the_key_derivation_cost_is_bounded() {
        assert!(KdfParams::INTERACTIVE.within_limits());
        assert!(KdfParams::INSECURE_FAST.within_limits());
        let at_most = KdfParams {
            t_cost: KdfParams::INTERACTIVE.t_cost,
            ..KdfParams::MAX
        };
        assert!(at_most.within_limits());
        let more_passes = KdfParams {
            t_cost: at_most.t_cost + 1,
            ..at_most
        };
        assert!(!more_passes.within_limits(), "memory × passes is bounded");
        let mut h = header();
        h.kdf = more_passes;
        let mut file = h.encode().to_vec();
        file.extend_from_slice(&[0; 16]);
        assert_eq!(
            Header::parse(&file),
            Err(HeaderError::TooCostly(more_passes))
        );
        h.kdf = KdfParams::INSECURE_FAST;
        let file = h.encode();
        assert_eq!(
            Header::parse_prefix(&file, MAX_FILE_BYTES + 1),
            Err(HeaderError::TooLarge(MAX_FILE_BYTES + 1))
        );
        assert!(Header::parse_prefix(&file, MAX_FILE_BYTES).is_ok());
    }

    #[test]
    fn seal_and_open() {
        let key = SecretArray::from_slice(&[3; 32]).unwrap();
        let h = header();
        let file = seal(&key, &h, Zeroizing::new(b"state".to_vec()));
        assert_eq!(open(&key, &h, &file).unwrap().as_slice(), b"state");
        let other = SecretArray::from_slice(&[4; 32]).unwrap();
        assert!(open(&other, &h, &file).is_none());
    }
}
