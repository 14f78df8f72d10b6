//! CloudTrail's `LookupEvents` (the AWS JSON 1.1 protocol of CloudTrail,
//! `X-Amz-Target: com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.LookupEvents`)
//! answered from a store's own audit trail, whose records are already
//! CloudTrail-shaped. So a client that reads a key's history from
//! CloudTrail — byok's console on an AWS store among them — can be tested
//! end to end against `byok serve`.
//!
//! As the CloudTrail API Reference describes `LookupEvents`: every lookup
//! attribute is optional and at most one may be given (with a time range);
//! `MaxResults` defaults to 10 and may be 1..50; events come most recent
//! first; a `NextToken` continues a listing made with the same parameters.
//! The exception names are those the API Reference lists for LookupEvents
//! (`InvalidLookupAttributesException`, `InvalidMaxResultsException`,
//! `InvalidTimeRangeException`, `InvalidNextTokenException`); AWS publishes
//! no message texts for them, so the messages here are byok's.

use serde::{Deserialize, Serialize};

use super::ApiError;
use crate::kms::{AuditRecord, Timestamp};

/// The `X-Amz-Target` of `LookupEvents`, as the AWS model's target prefix
/// names it (botocore and the AWS CLI send this)...
pub const LOOKUP_EVENTS_TARGET: &str =
    "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.LookupEvents";
/// ...and as the AWS SDK for Rust sends it (aws-sdk-cloudtrail 1.130,
/// `operation/lookup_events.rs`).
pub const LOOKUP_EVENTS_TARGET_SHORT: &str = "CloudTrail_20131101.LookupEvents";

/// A `LookupAttribute`.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct LookupAttribute {
    /// `EventId`, `EventName`, `ReadOnly`, `Username`, `ResourceType`,
    /// `ResourceName`, `EventSource` or `AccessKeyId`.
    pub attribute_key: String,
    /// The value to match.
    pub attribute_value: String,
}

/// LookupEvents's request.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct LookupEventsInput {
    /// At most one attribute.
    pub lookup_attributes: Vec<LookupAttribute>,
    /// Events at or after this time (epoch seconds).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_time: Option<f64>,
    /// Events at or before this time (epoch seconds).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end_time: Option<f64>,
    /// 1..50, default 10.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_results: Option<i64>,
    /// Where the previous page stopped.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

/// A `Resource` of an event.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct EventResource {
    /// `AWS::KMS::Key`.
    pub resource_type: String,
    /// The key ARN.
    pub resource_name: String,
}

/// An `Event`.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Event {
    /// `EventId`.
    pub event_id: String,
    /// `EventName`.
    pub event_name: String,
    /// `ReadOnly` ("true" or "false", a string in CloudTrail's model).
    pub read_only: String,
    /// `AccessKeyId`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub access_key_id: Option<String>,
    /// `EventTime` (epoch seconds).
    pub event_time: f64,
    /// `EventSource`.
    pub event_source: String,
    /// `Username`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// `Resources`.
    pub resources: Vec<EventResource>,
    /// `CloudTrailEvent`: the whole record as a JSON string.
    pub cloud_trail_event: String,
}

/// LookupEvents's response.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct LookupEventsOutput {
    /// Most recent first.
    pub events: Vec<Event>,
    /// Present when more events match.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

fn invalid(name: &str, message: impl Into<String>) -> ApiError {
    ApiError::new(name, message, 400)
}

fn matches(r: &AuditRecord, a: &LookupAttribute) -> bool {
    let v = a.attribute_value.as_str();
    match a.attribute_key.as_str() {
        "EventId" => r.event_id == v,
        "EventName" => r.event_name == v,
        "ReadOnly" => r.read_only.to_string() == v,
        "EventSource" => r.event_source == v,
        "AccessKeyId" => r.user_identity.access_key_id.as_deref() == Some(v),
        "Username" => r.user_identity.invoked_by == v,
        "ResourceType" => r.resources.iter().any(|x| x.resource_type == v),
        // A resource name is the key's ARN, or its bare id.
        "ResourceName" => r
            .resources
            .iter()
            .any(|x| x.arn == v || x.arn.rsplit_once("key/").is_some_and(|(_, id)| id == v)),
        _ => false,
    }
}

const KEYS: [&str; 8] = [
    "EventId",
    "EventName",
    "ReadOnly",
    "Username",
    "ResourceType",
    "ResourceName",
    "EventSource",
    "AccessKeyId",
];

/// Answers `LookupEvents` (`body`, the request JSON) from `records`.
pub fn lookup_events(records: &[AuditRecord], body: &[u8]) -> Result<Vec<u8>, ApiError> {
    let input: LookupEventsInput = if body.iter().all(u8::is_ascii_whitespace) {
        LookupEventsInput::default()
    } else {
        serde_json::from_slice(body).map_err(|e| {
            invalid(
                "SerializationException",
                format!("The request body could not be read: {e}"),
            )
        })?
    };
    if input.lookup_attributes.len() > 1 {
        return Err(invalid(
            "InvalidLookupAttributesException",
            "You can only specify one lookup attribute.",
        ));
    }
    if let Some(a) = input.lookup_attributes.first()
        && !KEYS.contains(&a.attribute_key.as_str())
    {
        return Err(invalid(
            "InvalidLookupAttributesException",
            format!("Unknown AttributeKey {}.", a.attribute_key),
        ));
    }
    let max = input.max_results.unwrap_or(10);
    if !(1..=50).contains(&max) {
        return Err(invalid(
            "InvalidMaxResultsException",
            "MaxResults must be between 1 and 50.",
        ));
    }
    let time = |t: Option<f64>| t.and_then(Timestamp::from_epoch_seconds);
    let (start, end) = (time(input.start_time), time(input.end_time));
    if let (Some(s), Some(e)) = (start, end)
        && s > e
    {
        return Err(invalid(
            "InvalidTimeRangeException",
            "StartTime must be earlier than EndTime.",
        ));
    }
    // The token is the sequence number where the next page starts (byok's
    // records are numbered; most recent first means descending).
    let before: Option<u64> = match &input.next_token {
        None => None,
        Some(t) => Some(
            t.parse()
                .map_err(|_| invalid("InvalidNextTokenException", "The NextToken is not valid."))?,
        ),
    };
    let mut chosen: Vec<&AuditRecord> = records
        .iter()
        .filter(|r| before.is_none_or(|b| r.byok.sequence < b))
        .filter(|r| input.lookup_attributes.iter().all(|a| matches(r, a)))
        .filter(|r| {
            let at = Timestamp::parse(&r.event_time);
            start.is_none_or(|s| at.is_some_and(|t| t >= s))
                && end.is_none_or(|e| at.is_some_and(|t| t <= e))
        })
        .collect();
    chosen.sort_by_key(|r| std::cmp::Reverse(r.byok.sequence));
    let more = chosen.len() > max as usize;
    chosen.truncate(max as usize);
    let next_token = more
        .then(|| chosen.last().map(|r| r.byok.sequence.to_string()))
        .flatten();
    let events = chosen
        .into_iter()
        .map(|r| Event {
            event_id: r.event_id.clone(),
            event_name: r.event_name.clone(),
            read_only: r.read_only.to_string(),
            access_key_id: r.user_identity.access_key_id.clone(),
            event_time: Timestamp::parse(&r.event_time).map_or(0.0, |t| t.epoch_seconds()),
            event_source: r.event_source.clone(),
            username: Some(r.user_identity.invoked_by.clone()),
            resources: r
                .resources
                .iter()
                .map(|x| EventResource {
                    resource_type: x.resource_type.clone(),
                    resource_name: x.arn.clone(),
                })
                .collect(),
            cloud_trail_event: serde_json::to_string(r).unwrap_or_default(),
        })
        .collect();
    serde_json::to_vec(&LookupEventsOutput { events, next_token })
        .map_err(|e| ApiError::new("InternalFailure", e.to_string(), 500))
}
