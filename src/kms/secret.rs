//! Containers for secrets: zeroed when dropped, redacted in `Debug`, and
//! serialised as raw bytes (only ever into the encrypted store).

use std::fmt;

use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

/// A fixed-size secret: key material, data keys, internal keys.
#[derive(Clone, PartialEq, Eq, Zeroize, ZeroizeOnDrop)]
pub struct SecretArray<const N: usize>(Box<[u8; N]>);

impl<const N: usize> SecretArray<N> {
    /// Takes ownership of `bytes`, leaving zeros behind in the source.
    pub fn new(bytes: &mut [u8; N]) -> Self {
        let s = Self(Box::new(*bytes));
        bytes.zeroize();
        s
    }

    /// Copies a secret out of a slice; `None` unless it is exactly `N` bytes.
    pub fn from_slice(bytes: &[u8]) -> Option<Self> {
        let mut boxed = Box::new([0u8; N]);
        if bytes.len() != N {
            return None;
        }
        boxed.copy_from_slice(bytes);
        Some(Self(boxed))
    }

    /// Fresh random bytes.
    pub fn random(rng: &mut impl rand::CryptoRng) -> Self {
        let mut boxed = Box::new([0u8; N]);
        rng.fill_bytes(&mut boxed[..]);
        Self(boxed)
    }

    /// The secret bytes. Callers must not copy them into anything that is not
    /// itself zeroized.
    pub fn expose(&self) -> &[u8; N] {
        &self.0
    }
}

impl<const N: usize> fmt::Debug for SecretArray<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretArray<{N}>([REDACTED])")
    }
}

impl<const N: usize> Serialize for SecretArray<N> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(&self.0[..])
    }
}

impl<'de, const N: usize> Deserialize<'de> for SecretArray<N> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<const N: usize>;
        impl<'de, const N: usize> Visitor<'de> for V<N> {
            type Value = SecretArray<N>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{N} secret bytes")
            }
            fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Self::Value, E> {
                SecretArray::from_slice(v).ok_or_else(|| E::invalid_length(v.len(), &self))
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut boxed = Box::new([0u8; N]);
                for (i, slot) in boxed.iter_mut().enumerate() {
                    *slot = seq
                        .next_element()?
                        .ok_or_else(|| de::Error::invalid_length(i, &self))?;
                }
                if seq.next_element::<u8>()?.is_some() {
                    return Err(de::Error::invalid_length(N + 1, &self));
                }
                Ok(SecretArray(boxed))
            }
        }
        d.deserialize_bytes(V::<N>)
    }
}

/// A variable-length secret: private keys (PKCS#8 DER), plaintexts.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct SecretVec(Zeroizing<Vec<u8>>);

impl SecretVec {
    /// Takes ownership of `bytes`.
    pub fn new(bytes: Vec<u8>) -> Self {
        Self(Zeroizing::new(bytes))
    }

    /// The secret bytes.
    pub fn expose(&self) -> &[u8] {
        &self.0
    }

    /// Copies a secret out of a slice.
    pub fn copy_of(bytes: &[u8]) -> Self {
        Self(Zeroizing::new(bytes.to_vec()))
    }

    /// `len` fresh random bytes.
    pub fn random(len: usize, rng: &mut impl rand::CryptoRng) -> Self {
        let mut v = Zeroizing::new(vec![0u8; len]);
        rng.fill_bytes(&mut v[..]);
        Self(v)
    }

    /// Length in bytes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether it holds no bytes.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl From<Zeroizing<Vec<u8>>> for SecretVec {
    fn from(v: Zeroizing<Vec<u8>>) -> Self {
        Self(v)
    }
}

impl fmt::Debug for SecretVec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretVec({} bytes, [REDACTED])", self.0.len())
    }
}

impl Serialize for SecretVec {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(&self.0)
    }
}

impl<'de> Deserialize<'de> for SecretVec {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = SecretVec;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("secret bytes")
            }
            fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Self::Value, E> {
                Ok(SecretVec::new(v.to_vec()))
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut out = Zeroizing::new(Vec::with_capacity(seq.size_hint().unwrap_or(0)));
                while let Some(b) = seq.next_element::<u8>()? {
                    out.push(b);
                }
                Ok(SecretVec(out))
            }
        }
        d.deserialize_bytes(V)
    }
}

/// Secret text (a passphrase, an endpoint's secret access key, a plaintext
/// shown as text): wiped when dropped, and `Debug` never prints it.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct SecretText(Zeroizing<String>);

impl SecretText {
    /// Takes ownership of `text`.
    pub fn new(text: String) -> Self {
        Self(Zeroizing::new(text))
    }

    /// The secret text.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Length in bytes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether it is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl From<Zeroizing<String>> for SecretText {
    fn from(v: Zeroizing<String>) -> Self {
        Self(v)
    }
}

impl fmt::Debug for SecretText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretText({} bytes, [REDACTED])", self.0.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_text_debug_is_redacted() {
        let t = SecretText::new("AKIA-secret-passphrase".into());
        let shown = format!("{t:?} {:?}", Some(&t));
        assert!(shown.contains("REDACTED"), "{shown}");
        assert!(!shown.contains("secret-passphrase"), "{shown}");
        assert_eq!(t.expose(), "AKIA-secret-passphrase");
    }

    #[test]
    fn debug_never_shows_the_bytes() {
        let a = SecretArray::<4>::from_slice(&[0xde, 0xad, 0xbe, 0xef]).unwrap();
        let v = SecretVec::new(vec![0xde, 0xad, 0xbe, 0xef]);
        for text in [format!("{a:?}"), format!("{v:?}")] {
            assert!(text.contains("REDACTED"));
            assert!(!text.contains("0xde") && !text.contains("deadbeef") && !text.contains("222"));
        }
    }

    #[test]
    fn round_trips_through_postcard() {
        let a = SecretArray::<32>::from_slice(&[7u8; 32]).unwrap();
        let bytes = postcard::to_allocvec(&a).unwrap();
        let back: SecretArray<32> = postcard::from_bytes(&bytes).unwrap();
        assert_eq!(a, back);
        let short = postcard::to_allocvec(&SecretVec::new(vec![1, 2, 3])).unwrap();
        assert!(postcard::from_bytes::<SecretArray<32>>(&short).is_err());
    }

    #[test]
    fn new_wipes_the_source() {
        let mut src = [9u8; 8];
        let s = SecretArray::new(&mut src);
        assert_eq!(src, [0u8; 8]);
        assert_eq!(s.expose(), &[9u8; 8]);
    }
}
