//! Import tokens **[byok]**: opaque, unforgeable, bound to the key, the
//! wrapping key pair and the algorithm (SPEC §3).
//!
//! A token is `0x01 || nonce (12) || AES-256-GCM(claims) || tag (16)` under a
//! secret held in the store, with `byok/import-token/v1` as associated data.
//! Only the engine that issued it can read or make one; any change to a
//! single bit fails authentication.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};

use super::clock::Timestamp;
use super::model::{KeyId, WrappingAlgorithm, WrappingKeySpec};
use super::secret::SecretArray;

const VERSION: u8 = 1;
const AAD: &[u8] = b"byok/import-token/v1";
const CLAIMS_LEN: usize = 16 + 16 + 1 + 1 + 8;
/// The length of every token this engine issues.
pub const TOKEN_LEN: usize = 1 + 12 + CLAIMS_LEN + 16;

/// What a token says, once authenticated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TokenClaims {
    /// Names the stored wrapping key pair.
    pub token_id: [u8; 16],
    /// The key the token was issued for.
    pub key_id: KeyId,
    /// The wrapping algorithm chosen at issue.
    pub algorithm: WrappingAlgorithm,
    /// The wrapping key size chosen at issue.
    pub spec: WrappingKeySpec,
    /// `ParametersValidTo`.
    pub valid_to: Timestamp,
}

fn index_of<T: PartialEq>(all: &[T], v: &T) -> u8 {
    all.iter().position(|x| x == v).unwrap_or(0) as u8
}

/// Seals `claims` into a token.
pub(crate) fn seal(secret: &SecretArray<32>, claims: &TokenClaims, nonce: [u8; 12]) -> Vec<u8> {
    let mut plain = [0u8; CLAIMS_LEN];
    plain[..16].copy_from_slice(&claims.token_id);
    plain[16..32].copy_from_slice(claims.key_id.as_bytes());
    plain[32] = index_of(WrappingAlgorithm::ALL, &claims.algorithm);
    plain[33] = index_of(WrappingKeySpec::ALL, &claims.spec);
    plain[34..].copy_from_slice(&claims.valid_to.millis().to_be_bytes());
    let cipher = Aes256Gcm::new_from_slice(secret.expose()).expect("32-byte key");
    let sealed = cipher
        .encrypt(&Nonce::from(nonce), Payload { msg: &plain, aad: AAD })
        .expect("AES-GCM encryption of a short message cannot fail");
    let mut out = Vec::with_capacity(TOKEN_LEN);
    out.push(VERSION);
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&sealed);
    out
}

/// Authenticates a token and reads its claims; `None` for anything this
/// engine did not issue (foreign, forged, truncated, damaged).
pub(crate) fn open(secret: &SecretArray<32>, token: &[u8]) -> Option<TokenClaims> {
    if token.len() != TOKEN_LEN || token[0] != VERSION {
        return None;
    }
    let nonce: [u8; 12] = token[1..13].try_into().ok()?;
    let cipher = Aes256Gcm::new_from_slice(secret.expose()).ok()?;
    let plain = cipher
        .decrypt(&Nonce::from(nonce), Payload { msg: &token[13..], aad: AAD })
        .ok()?;
    if plain.len() != CLAIMS_LEN {
        return None;
    }
    Some(TokenClaims {
        token_id: plain[..16].try_into().ok()?,
        key_id: KeyId::from_bytes(plain[16..32].try_into().ok()?),
        algorithm: *WrappingAlgorithm::ALL.get(plain[32] as usize)?,
        spec: *WrappingKeySpec::ALL.get(plain[33] as usize)?,
        valid_to: Timestamp::from_millis(i64::from_be_bytes(plain[34..42].try_into().ok()?)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims() -> TokenClaims {
        TokenClaims {
            token_id: [3; 16],
            key_id: KeyId::from_bytes([4; 16]),
            algorithm: WrappingAlgorithm::RsaAesKeyWrapSha256,
            spec: WrappingKeySpec::Rsa3072,
            valid_to: Timestamp::from_secs(1_800_000_000),
        }
    }

    #[test]
    fn round_trips_and_rejects_every_change() {
        let secret = SecretArray::from_slice(&[9; 32]).unwrap();
        let token = seal(&secret, &claims(), [1; 12]);
        assert_eq!(token.len(), TOKEN_LEN);
        assert_eq!(open(&secret, &token), Some(claims()));
        for i in 0..token.len() * 8 {
            let mut t = token.clone();
            t[i / 8] ^= 1 << (i % 8);
            assert_eq!(open(&secret, &t), None, "bit {i}");
        }
        for n in 0..token.len() {
            assert_eq!(open(&secret, &token[..n]), None, "truncated to {n}");
        }
        let other = SecretArray::from_slice(&[8; 32]).unwrap();
        assert_eq!(open(&other, &token), None, "another store's token");
    }
}
