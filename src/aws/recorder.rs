//! A record of what byok asked AWS: one [`CallRecord`] per call that is not
//! a plain read, CloudTrail-shaped, with every secret and blob left out the
//! way CloudTrail leaves them out (no plaintext, ciphertext, wrapped
//! material, import token or public key; key ids, material ids, import
//! types, expiration models and dates stay).

use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::de::{self, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};

use crate::api::Body;
use crate::backend::BackendError;
use crate::kms::Timestamp;

/// Where the console keeps what it asked AWS (its own audit trail).
pub trait CallRecorder: Send + Sync {
    /// Called once per recorded call, after AWS answered (or did not).
    fn record(&self, call: &CallRecord);
}

/// One call to AWS, as CloudTrail would log it, without secrets.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CallRecord {
    /// When the call was made.
    pub event_time: Timestamp,
    /// The region it went to.
    pub region: String,
    /// The operation (`ImportKeyMaterial`, ...).
    pub operation: String,
    /// The request's members without secrets or blobs, camelCase as
    /// CloudTrail's `requestParameters`.
    pub request_parameters: Value,
    /// The answer's members without secrets or blobs (`None` on failure,
    /// or when the answer has no members).
    pub response_elements: Option<Value>,
    /// AWS's exception name; for a call AWS never answered, byok's kind:
    /// `Unreachable`, `Credentials`, `Configuration`, `Request`, `Response`.
    pub error_code: Option<String>,
    /// The message that came with the error.
    pub error_message: Option<String>,
    /// AWS's request id (`x-amzn-RequestId`) of the last answer.
    pub request_id: Option<String>,
    /// HTTP attempts made (more than 1 after retries; 0 if none was sent).
    pub attempts: u32,
}

impl CallRecord {
    pub(crate) fn new(
        started: SystemTime,
        region: &str,
        operation: &str,
        request: &[u8],
        result: &Result<Body, BackendError>,
        request_id: Option<String>,
        attempts: u32,
    ) -> Self {
        let millis = started
            .duration_since(UNIX_EPOCH)
            .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
            .unwrap_or(0);
        let (response_elements, error_code, error_message) = match result {
            Ok(body) => {
                let v = redacted(body);
                let empty = v.as_object().is_some_and(Map::is_empty) || v.is_null();
                ((!empty).then_some(v), None, None)
            }
            Err(e) => {
                let (code, message) = match e {
                    BackendError::Service(api) => (api.error_type.clone(), api.message.clone()),
                    BackendError::Unreachable { .. } => ("Unreachable".into(), e.to_string()),
                    BackendError::Credentials { .. } => ("Credentials".into(), e.to_string()),
                    BackendError::Configuration { .. } => ("Configuration".into(), e.to_string()),
                    BackendError::Request { .. } => ("Request".into(), e.to_string()),
                    BackendError::Response { .. } => ("Response".into(), e.to_string()),
                };
                (None, Some(code), Some(message))
            }
        };
        Self {
            event_time: Timestamp::from_millis(millis),
            region: region.to_string(),
            operation: operation.to_string(),
            request_parameters: redacted(request),
            response_elements,
            error_code,
            error_message,
            request_id,
            attempts,
        }
    }

    /// The record as a CloudTrail event (`eventTime`, `eventSource`,
    /// `eventName`, `awsRegion`, `requestParameters`, `responseElements`,
    /// `errorCode`, `errorMessage`, `requestID`, `eventType`).
    pub fn to_cloudtrail_event(&self) -> Value {
        let mut e = Map::new();
        e.insert("eventVersion".into(), "1.11".into());
        e.insert("eventTime".into(), self.event_time.to_rfc3339().into());
        e.insert("eventSource".into(), "kms.amazonaws.com".into());
        e.insert("eventName".into(), self.operation.clone().into());
        e.insert("awsRegion".into(), self.region.clone().into());
        e.insert("requestParameters".into(), self.request_parameters.clone());
        e.insert(
            "responseElements".into(),
            self.response_elements.clone().unwrap_or(Value::Null),
        );
        if let Some(c) = &self.error_code {
            e.insert("errorCode".into(), c.clone().into());
        }
        if let Some(m) = &self.error_message {
            e.insert("errorMessage".into(), m.clone().into());
        }
        if let Some(id) = &self.request_id {
            e.insert("requestID".into(), id.clone().into());
        }
        e.insert("eventType".into(), "AwsApiCall".into());
        e.insert(
            "additionalEventData".into(),
            serde_json::json!({ "attempts": self.attempts }),
        );
        Value::Object(e)
    }
}

/// Whether a call of `operation` is recorded: everything except the plain
/// reads the console makes in bulk to fill its cache (`Describe*`, `List*`,
/// `GetKeyRotationStatus`, `GetKeyPolicy`).
pub fn is_recorded(operation: &str) -> bool {
    !(operation.starts_with("Describe")
        || operation.starts_with("List")
        || operation == "GetKeyRotationStatus"
        || operation == "GetKeyPolicy")
}

/// The members that carry secrets or blobs in AWS KMS requests and
/// answers: left out of records, as CloudTrail leaves them out.
const SECRET_MEMBERS: &[&str] = &[
    "Plaintext",
    "CiphertextBlob",
    "CiphertextForRecipient",
    "EncryptedKeyMaterial",
    "ImportToken",
    "PublicKey",
    "PrivateKeyPlaintext",
    "PrivateKeyCiphertextBlob",
    "Recipient",
    "AttestationDocument",
    "Message",
    "Signature",
    "Mac",
    "SharedSecret",
    "KeyStorePassword",
    "XksProxyAuthenticationCredential",
    "RawSecretAccessKey",
    "AccessKeyId",
    "SecretAccessKey",
    "SessionToken",
];

fn is_secret(member: &str) -> bool {
    SECRET_MEMBERS
        .iter()
        .any(|s| s.eq_ignore_ascii_case(member))
}

fn camel(member: &str) -> String {
    let mut chars = member.chars();
    match chars.next() {
        Some(c) => c.to_ascii_lowercase().to_string() + chars.as_str(),
        None => String::new(),
    }
}

/// The JSON `json` without its secret and blob members (at any depth) and
/// with camelCase member names. The secret values are skipped while
/// parsing, never copied. Not JSON: `null`.
pub fn redacted(json: &[u8]) -> Value {
    if json.iter().all(u8::is_ascii_whitespace) {
        return Value::Object(Map::new());
    }
    serde_json::from_slice::<Redacted>(json)
        .map(|r| r.0)
        .unwrap_or(Value::Null)
}

struct Redacted(Value);

impl<'de> Deserialize<'de> for Redacted {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(RedactingVisitor).map(Redacted)
    }
}

struct RedactingVisitor;

impl<'de> Visitor<'de> for RedactingVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("JSON")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        Ok(serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_string()))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut out = Vec::new();
        while let Some(Redacted(v)) = seq.next_element()? {
            out.push(v);
        }
        Ok(Value::Array(out))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if is_secret(&key) {
                map.next_value::<IgnoredAny>()?;
            } else if key.ends_with("EncryptionContext") {
                // The caller's own pairs, kept as they are (CloudTrail
                // logs the encryption context).
                let v: Value = map.next_value()?;
                out.insert(camel(&key), v);
            } else {
                let Redacted(v) = map.next_value()?;
                out.insert(camel(&key), v);
            }
        }
        Ok(Value::Object(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_reads_are_not_recorded_and_everything_else_is() {
        for op in [
            "DescribeKey",
            "ListKeys",
            "ListAliases",
            "ListKeyRotations",
            "ListResourceTags",
            "ListKeyPolicies",
            "GetKeyRotationStatus",
            "GetKeyPolicy",
        ] {
            assert!(!is_recorded(op), "{op} is a plain read");
        }
        for op in super::super::OPERATIONS
            .iter()
            .filter(|o| !o.starts_with("Describe") && !o.starts_with("List"))
            .filter(|o| !matches!(**o, "GetKeyRotationStatus" | "GetKeyPolicy"))
        {
            assert!(is_recorded(op), "{op} changes something or uses a key");
        }
        assert!(is_recorded("GetParametersForImport"));
        assert!(is_recorded("Decrypt"));
    }

    #[test]
    fn secrets_and_blobs_are_left_out_at_any_depth() {
        let v = redacted(
            br#"{"KeyId":"k","Plaintext":"c2VjcmV0","EncryptionContext":{"Purpose":"test"},
                 "ImportToken":"dG9rZW4=","Nested":[{"CiphertextBlob":"AAEC","ValidTo":1.5}],
                 "ImportType":"EXISTING_KEY_MATERIAL"}"#,
        );
        assert_eq!(
            v,
            serde_json::json!({
                "keyId": "k",
                "encryptionContext": {"Purpose": "test"},
                "nested": [{"validTo": 1.5}],
                "importType": "EXISTING_KEY_MATERIAL"
            })
        );
        assert_eq!(redacted(b""), serde_json::json!({}));
        assert_eq!(redacted(b"not json"), Value::Null);
    }
}
