//! Encodings of the AWS JSON protocol: base64 blobs and epoch-second
//! timestamps.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use zeroize::Zeroizing;

use crate::kms::{SecretVec, Timestamp};

/// A blob member: base64 on the wire, bytes (zeroized on drop) here.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Blob(pub Zeroizing<Vec<u8>>);

impl fmt::Debug for Blob {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Blob({} bytes)", self.0.len())
    }
}

impl Blob {
    /// The bytes.
    pub fn bytes(&self) -> &[u8] {
        &self.0
    }

    /// A copy of `bytes` (wiped again when the blob drops).
    pub fn copy_of(bytes: &[u8]) -> Self {
        Blob(Zeroizing::new(bytes.to_vec()))
    }

    /// Takes the bytes out (still zeroizing).
    pub fn into_secret(self) -> SecretVec {
        SecretVec::from(self.0)
    }
}

impl From<Vec<u8>> for Blob {
    fn from(bytes: Vec<u8>) -> Self {
        Blob(Zeroizing::new(bytes))
    }
}

impl Serialize for Blob {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        serialize_base64(&self.0, s)
    }
}

impl<'de> Deserialize<'de> for Blob {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Blob;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a base64-encoded string")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Blob, E> {
                let mut out = Zeroizing::new(Vec::with_capacity(v.len() * 3 / 4 + 3));
                STANDARD
                    .decode_vec(v.as_bytes(), &mut out)
                    .map_err(|_| E::custom("blob members must be base64-encoded"))?;
                Ok(Blob(out))
            }
        }
        d.deserialize_str(V)
    }
}

/// Serialises bytes as base64 through a buffer that is wiped afterwards.
pub fn serialize_base64<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
    let mut text = Zeroizing::new(String::with_capacity(bytes.len().div_ceil(3) * 4));
    STANDARD.encode_string(bytes, &mut text);
    s.serialize_str(&text)
}

/// A timestamp member: epoch seconds with a fraction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Time(pub Timestamp);

impl Default for Time {
    /// The epoch: only what a response that lacks the member reads as.
    fn default() -> Self {
        Time(Timestamp::from_millis(0))
    }
}

impl Serialize for Time {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let ms = self.0.millis();
        if ms % 1000 == 0 {
            s.serialize_i64(ms / 1000)
        } else {
            s.serialize_f64(self.0.epoch_seconds())
        }
    }
}

impl<'de> Deserialize<'de> for Time {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Time;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a timestamp in epoch seconds")
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Time, E> {
                Timestamp::from_epoch_seconds(v)
                    .map(Time)
                    .ok_or_else(|| E::custom("timestamp out of range"))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Time, E> {
                self.visit_f64(v as f64)
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Time, E> {
                self.visit_f64(v as f64)
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Time, E> {
                Timestamp::parse(v)
                    .map(Time)
                    .ok_or_else(|| E::custom("timestamps must be epoch seconds or ISO 8601"))
            }
        }
        d.deserialize_any(V)
    }
}
