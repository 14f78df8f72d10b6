//! Audit records (SPEC §6): one CloudTrail-shaped record per operation and
//! per service event, hash-chained **[byok]** so that an export can be
//! verified. Records carry identifiers and parameters, never secrets.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

/// Which front end made a call.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CallSource {
    /// The desktop console.
    Console,
    /// `byok kms ...`.
    Cli,
    /// The AWS protocol endpoint (`byok serve`).
    Api,
    /// The key manager's runner (`byok agent`, or the console running it).
    Agent,
}

impl CallSource {
    /// `console`, `cli` or `api`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Console => "console",
            Self::Cli => "cli",
            Self::Api => "api",
            Self::Agent => "agent",
        }
    }
}

/// Who is calling: recorded in every audit record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Caller {
    /// The front end.
    pub source: CallSource,
    /// The SigV4 access key id, for calls through the endpoint.
    pub access_key_id: Option<String>,
    /// The client's `User-Agent`.
    pub user_agent: Option<String>,
    /// The client's address.
    pub source_ip: Option<String>,
    /// The region the call is made in (the SigV4 credential scope, the
    /// CLI's `--region`); `None`: the store's region.
    pub region: Option<String>,
}

impl Caller {
    /// A call from the console.
    pub fn console() -> Self {
        Self::from_source(CallSource::Console)
    }
    /// A call from the command line.
    pub fn cli() -> Self {
        Self::from_source(CallSource::Cli)
    }
    /// A call made by the key manager's runner.
    pub fn agent() -> Self {
        Self::from_source(CallSource::Agent)
    }
    /// The same caller, calling in `region` (`None`: the store's region).
    pub fn in_region(mut self, region: Option<String>) -> Self {
        self.region = region;
        self
    }
    fn from_source(source: CallSource) -> Self {
        Self {
            source,
            access_key_id: None,
            user_agent: None,
            source_ip: None,
            region: None,
        }
    }
}

/// `userIdentity`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserIdentity {
    /// `byok` for calls, `AWSService` for service events.
    #[serde(rename = "type")]
    pub identity_type: String,
    /// The account of the store.
    pub account_id: String,
    /// `console`, `cli`, `api`, or `kms.amazonaws.com` for service events.
    pub invoked_by: String,
    /// The access key id of an endpoint call.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_key_id: Option<String>,
}

/// A `resources` entry.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Resource {
    /// The key ARN.
    #[serde(rename = "ARN")]
    pub arn: String,
    /// The account.
    #[serde(rename = "accountId")]
    pub account_id: String,
    /// `AWS::KMS::Key`.
    #[serde(rename = "type")]
    pub resource_type: String,
}

/// The longest string member an audit record keeps verbatim.
pub const MAX_AUDITED_STRING: usize = 16 * 1024;
/// The most JSON an audit record keeps of a request's (or an answer's)
/// members; a journal frame holds up to 1 MiB.
pub const MAX_AUDITED_MEMBERS_BYTES: usize = 192 * 1024;

/// The hash chain link **[byok]**.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChainLink {
    /// Position in the trail, from 1.
    pub sequence: u64,
    /// Hex SHA-256 of the previous record (64 zeros for the first).
    pub previous_hash: String,
    /// Hex SHA-256 of `previous hash bytes || this record with hash ""`.
    pub hash: String,
}

/// One CloudTrail-shaped record.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditRecord {
    /// CloudTrail's record format version.
    pub event_version: String,
    /// Who made the call.
    pub user_identity: UserIdentity,
    /// When, in ISO 8601 UTC.
    pub event_time: String,
    /// `kms.amazonaws.com`.
    pub event_source: String,
    /// The operation or service event (`Decrypt`, `RotateKey`, ...).
    pub event_name: String,
    /// The store's region.
    pub aws_region: String,
    /// The client address of an endpoint call.
    #[serde(
        rename = "sourceIPAddress",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub source_ip_address: Option<String>,
    /// The client's `User-Agent`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<String>,
    /// The exception name, on failure.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_code: Option<String>,
    /// The exception message, on failure.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_message: Option<String>,
    /// The request's non-secret parameters.
    pub request_parameters: Option<Value>,
    /// The response's non-secret elements.
    pub response_elements: Option<Value>,
    /// `keyMaterialId` and similar.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub additional_event_data: Option<Value>,
    /// A request id.
    #[serde(rename = "requestID")]
    pub request_id: String,
    /// A unique event id.
    #[serde(rename = "eventID")]
    pub event_id: String,
    /// Whether the operation only reads.
    pub read_only: bool,
    /// The key concerned.
    pub resources: Vec<Resource>,
    /// `AwsApiCall` or `AwsServiceEvent`.
    pub event_type: String,
    /// Always true for KMS.
    pub management_event: bool,
    /// The store's account.
    pub recipient_account_id: String,
    /// `Management`.
    pub event_category: String,
    /// The chain link **[byok]**.
    pub byok: ChainLink,
}

impl AuditRecord {
    /// The key ARN this record concerns, if any.
    pub fn key_arn(&self) -> Option<&str> {
        self.resources.first().map(|r| r.arn.as_str())
    }

    /// The bare key id this record concerns, if any.
    pub fn key_id(&self) -> Option<&str> {
        self.key_arn()
            .and_then(|a| a.rsplit_once("key/"))
            .map(|(_, id)| id)
    }

    /// `additionalEventData.<name>` as a string.
    pub fn additional(&self, name: &str) -> Option<&str> {
        self.additional_event_data.as_ref()?.get(name)?.as_str()
    }

    /// `requestParameters.<name>` as a string.
    pub fn request_parameter(&self, name: &str) -> Option<&str> {
        self.request_parameters.as_ref()?.get(name)?.as_str()
    }

    /// Whether the call failed.
    pub fn is_error(&self) -> bool {
        self.error_code.is_some()
    }

    /// Bounds what the record keeps of a request, so that every record fits
    /// a journal frame whatever a client sent: a string member longer than
    /// [`MAX_AUDITED_STRING`] characters (AWS's own limits stop far below:
    /// a Description is at most 8,192) is replaced by its size,
    /// `{"byokOmitted": {"characters": n}}`; so is an error message that long.
    /// A refused oversized request is audited like any other — its size, not
    /// its content.
    pub fn bound_sizes(&mut self) {
        fn bound(v: &mut Value) {
            match v {
                Value::String(s) if s.chars().count() > MAX_AUDITED_STRING => {
                    *v = omitted(s.chars().count());
                }
                Value::Array(items) => items.iter_mut().for_each(bound),
                Value::Object(members) => members.values_mut().for_each(bound),
                _ => {}
            }
        }
        fn omitted(characters: usize) -> Value {
            serde_json::json!({ "byokOmitted": { "characters": characters } })
        }
        for v in [
            &mut self.request_parameters,
            &mut self.response_elements,
            &mut self.additional_event_data,
        ]
        .into_iter()
        .flatten()
        {
            bound(v);
        }
        for text in [&mut self.error_message, &mut self.user_agent]
            .into_iter()
            .flatten()
        {
            if text.chars().count() > MAX_AUDITED_STRING {
                let n = text.chars().count();
                *text = format!(
                    "{}… [byok: {n} characters, the rest not recorded]",
                    text.chars().take(256).collect::<String>()
                );
            }
        }
        // Many members each within the bound (a list of 100,000 grant
        // tokens, say): keep only the size of the whole.
        for v in [
            &mut self.request_parameters,
            &mut self.response_elements,
            &mut self.additional_event_data,
        ] {
            let size = v
                .as_ref()
                .and_then(|v| serde_json::to_vec(v).ok())
                .map_or(0, |b| b.len());
            if size > MAX_AUDITED_MEMBERS_BYTES {
                *v = Some(serde_json::json!({ "byokOmitted": { "bytes": size } }));
            }
        }
    }

    /// The hash this record should carry, given its `previous_hash`.
    pub fn compute_hash(&self) -> Option<String> {
        let prev = decode_hex32(&self.byok.previous_hash)?;
        let mut unsealed = self.clone();
        unsealed.byok.hash = String::new();
        let body = serde_json::to_vec(&unsealed).ok()?;
        let mut h = Sha256::new();
        h.update(prev);
        h.update(&body);
        Some(super::model::hex(&h.finalize()))
    }
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct CloudTrailRef<'a> {
    records: &'a [AuditRecord],
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct CloudTrail {
    records: Vec<AuditRecord>,
}

/// The trail as a CloudTrail log file: `{"Records": [...]}`, indented with
/// four spaces, ending in a newline.
pub fn to_cloudtrail_json(records: &[AuditRecord]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut ser = serde_json::Serializer::with_formatter(
        &mut out,
        serde_json::ser::PrettyFormatter::with_indent(b"    "),
    );
    // Records are plain data: serialising them to memory cannot fail.
    let _ = CloudTrailRef { records }.serialize(&mut ser);
    out.push(b'\n');
    out
}

/// Reads a CloudTrail log file written by [`to_cloudtrail_json`].
pub fn from_cloudtrail_json(bytes: &[u8]) -> Result<Vec<AuditRecord>, serde_json::Error> {
    serde_json::from_slice::<CloudTrail>(bytes).map(|t| t.records)
}

/// The end of the chain: what the next record links to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChainHead {
    /// Sequence number of the last record (0 before the first).
    pub sequence: u64,
    /// Hash of the last record (64 zeros before the first).
    pub hash: String,
}

impl Default for ChainHead {
    fn default() -> Self {
        Self {
            sequence: 0,
            hash: GENESIS.to_string(),
        }
    }
}

impl ChainHead {
    /// Links `record` after this head, sets its hash, and advances the head.
    pub fn link(&mut self, record: &mut AuditRecord) {
        record.byok.sequence = self.sequence + 1;
        record.byok.previous_hash = self.hash.clone();
        record.byok.hash = record.compute_hash().unwrap_or_default();
        self.sequence = record.byok.sequence;
        self.hash = record.byok.hash.clone();
    }

    /// The head after `record`.
    pub fn after(record: &AuditRecord) -> Self {
        Self {
            sequence: record.byok.sequence,
            hash: record.byok.hash.clone(),
        }
    }
}

/// The previous hash of the first record.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// What verification of a trail found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChainReport {
    /// Records checked.
    pub records: usize,
    /// Whether the trail starts at the first record ever written (older
    /// journal segments may have been retired).
    pub from_genesis: bool,
    /// Sequence of the last record.
    pub last_sequence: u64,
}

/// Where and why a chain is broken.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("audit chain broken at record {index} (sequence {sequence}): {reason}")]
pub struct ChainError {
    /// Position in the list, from 0.
    pub index: usize,
    /// The record's claimed sequence.
    pub sequence: u64,
    /// What does not hold.
    pub reason: String,
}

/// Checks that every record's hash is right and each links to the one
/// before it.
pub fn verify_chain(records: &[AuditRecord]) -> Result<ChainReport, ChainError> {
    let mut prev: Option<&AuditRecord> = None;
    for (index, r) in records.iter().enumerate() {
        let fail = |reason: String| ChainError {
            index,
            sequence: r.byok.sequence,
            reason,
        };
        if r.compute_hash().as_deref() != Some(r.byok.hash.as_str()) {
            return Err(fail("its hash does not match its contents".into()));
        }
        if let Some(p) = prev {
            if r.byok.previous_hash != p.byok.hash {
                return Err(fail("it does not link to the record before it".into()));
            }
            if r.byok.sequence != p.byok.sequence + 1 {
                return Err(fail(format!(
                    "sequence jumps from {} to {}",
                    p.byok.sequence, r.byok.sequence
                )));
            }
        } else if r.byok.sequence == 1 && r.byok.previous_hash != GENESIS {
            return Err(fail("the first record does not start the chain".into()));
        }
        prev = Some(r);
    }
    Ok(ChainReport {
        records: records.len(),
        from_genesis: records.first().is_none_or(|r| r.byok.sequence == 1),
        last_sequence: prev.map_or(0, |r| r.byok.sequence),
    })
}

fn decode_hex32(s: &str) -> Option<[u8; 32]> {
    super::model::KeyMaterialId::parse(s).map(|id| *id.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A record as an API call would leave it, with fixed identifiers.
    fn record(name: &str) -> AuditRecord {
        AuditRecord {
            event_version: "1.11".into(),
            user_identity: UserIdentity {
                identity_type: "byok".into(),
                account_id: "000000000000".into(),
                invoked_by: "cli".into(),
                access_key_id: None,
            },
            event_time: "2026-01-01T00:00:00Z".into(),
            event_source: "kms.amazonaws.com".into(),
            event_name: name.into(),
            aws_region: "us-east-1".into(),
            source_ip_address: None,
            user_agent: None,
            error_code: None,
            error_message: None,
            request_parameters: Some(
                serde_json::json!({"keyId": "1234abcd-12ab-34cd-56ef-1234567890ab"}),
            ),
            response_elements: None,
            additional_event_data: None,
            request_id: "00000000-0000-4000-8000-000000000001".into(),
            event_id: "00000000-0000-4000-8000-000000000002".into(),
            read_only: true,
            resources: vec![],
            event_type: "AwsApiCall".into(),
            management_event: true,
            recipient_account_id: "000000000000".into(),
            event_category: "Management".into(),
            byok: ChainLink {
                sequence: 0,
                previous_hash: String::new(),
                hash: String::new(),
            },
        }
    }

    /// The hash is SHA-256(previous hash bytes || the record's compact JSON
    /// with `byok.hash` empty). Expected value computed independently with
    /// Python's hashlib over the JSON text below:
    /// `hashlib.sha256(bytes(32) + body.encode()).hexdigest()`.
    #[test]
    fn first_record_hash_known_answer() {
        let mut head = ChainHead::default();
        let mut r = record("DescribeKey");
        head.link(&mut r);
        let mut unsealed = r.clone();
        unsealed.byok.hash = String::new();
        assert_eq!(
            String::from_utf8(serde_json::to_vec(&unsealed).unwrap()).unwrap(),
            concat!(
                r#"{"eventVersion":"1.11","userIdentity":{"type":"byok","accountId":"000000000000","invokedBy":"cli"},"#,
                r#""eventTime":"2026-01-01T00:00:00Z","eventSource":"kms.amazonaws.com","eventName":"DescribeKey","#,
                r#""awsRegion":"us-east-1","requestParameters":{"keyId":"1234abcd-12ab-34cd-56ef-1234567890ab"},"#,
                r#""responseElements":null,"requestID":"00000000-0000-4000-8000-000000000001","#,
                r#""eventID":"00000000-0000-4000-8000-000000000002","readOnly":true,"resources":[],"#,
                r#""eventType":"AwsApiCall","managementEvent":true,"recipientAccountId":"000000000000","#,
                r#""eventCategory":"Management","byok":{"sequence":1,"previousHash":"#,
                r#""0000000000000000000000000000000000000000000000000000000000000000","hash":""}}"#
            )
        );
        assert_eq!(r.byok.sequence, 1);
        assert_eq!(r.byok.previous_hash, GENESIS);
        assert_eq!(
            r.byok.hash,
            "a95a472f2ebbd11aa99fedabd3d9d28f7c0eb3d136b1da5e388eb75c3ea82f5e"
        );
        assert_eq!(head, ChainHead::after(&r));
    }

    fn chain(n: usize) -> Vec<AuditRecord> {
        let mut head = ChainHead::default();
        (0..n)
            .map(|i| {
                let mut r = record(&format!("Op{i}"));
                head.link(&mut r);
                r
            })
            .collect()
    }

    #[test]
    fn a_linked_trail_verifies_and_any_change_breaks_it() {
        let trail = chain(5);
        assert_eq!(
            verify_chain(&trail),
            Ok(ChainReport {
                records: 5,
                from_genesis: true,
                last_sequence: 5
            })
        );
        // A later segment on its own verifies, without reaching genesis.
        assert_eq!(
            verify_chain(&trail[2..]),
            Ok(ChainReport {
                records: 3,
                from_genesis: false,
                last_sequence: 5
            })
        );
        assert_eq!(verify_chain(&[]).map(|r| r.records), Ok(0));

        let broken_at = |t: &[AuditRecord]| verify_chain(t).map_err(|e| (e.index, e.reason));
        let mut edited = trail.clone();
        edited[2].error_message = Some("edited".into());
        assert_eq!(
            broken_at(&edited),
            Err((2, "its hash does not match its contents".to_string()))
        );
        let mut removed = trail.clone();
        removed.remove(2);
        assert_eq!(
            broken_at(&removed),
            Err((2, "it does not link to the record before it".to_string()))
        );
        let mut swapped = trail.clone();
        swapped.swap(1, 2);
        assert_eq!(
            broken_at(&swapped),
            Err((1, "it does not link to the record before it".to_string()))
        );
        // A record re-sealed after editing still does not link to its successor.
        let mut resealed = trail.clone();
        resealed[1].event_name = "Forged".into();
        resealed[1].byok.hash = resealed[1].compute_hash().unwrap();
        assert_eq!(
            broken_at(&resealed),
            Err((2, "it does not link to the record before it".to_string()))
        );
        let mut renumbered = trail.clone();
        renumbered[3].byok.sequence = 9;
        renumbered[3].byok.hash = renumbered[3].compute_hash().unwrap();
        renumbered[4].byok.previous_hash = renumbered[3].byok.hash.clone();
        renumbered[4].byok.hash = renumbered[4].compute_hash().unwrap();
        assert_eq!(
            broken_at(&renumbered),
            Err((3, "sequence jumps from 3 to 9".to_string()))
        );
        let mut not_genesis = chain(1);
        not_genesis[0].byok.previous_hash = "11".repeat(32);
        not_genesis[0].byok.hash = not_genesis[0].compute_hash().unwrap();
        assert_eq!(
            broken_at(&not_genesis),
            Err((0, "the first record does not start the chain".to_string()))
        );
        let mut garbage = chain(1);
        garbage[0].byok.previous_hash = "not hex".into();
        assert_eq!(
            broken_at(&garbage),
            Err((0, "its hash does not match its contents".to_string()))
        );
    }
}
