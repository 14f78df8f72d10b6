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
}

impl CallSource {
    /// `console`, `cli` or `api`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Console => "console",
            Self::Cli => "cli",
            Self::Api => "api",
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
    fn from_source(source: CallSource) -> Self {
        Self {
            source,
            access_key_id: None,
            user_agent: None,
            source_ip: None,
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
    #[serde(rename = "sourceIPAddress", default, skip_serializing_if = "Option::is_none")]
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
        self.key_arn().and_then(|a| a.rsplit_once("key/")).map(|(_, id)| id)
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
