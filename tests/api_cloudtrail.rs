//! CloudTrail's LookupEvents answered from the engine's own trail: the
//! rules of the CloudTrail API Reference's LookupEvents page (one lookup
//! attribute at most, MaxResults 1..50 with 10 by default, most recent
//! first, NextToken to continue), and the records readable by the history
//! rule exactly as AWS's would be.

mod common;

use std::time::Duration;

use byok::api::cloudtrail::{LookupEventsOutput, lookup_events};
use byok::kms::history::HistoryEvent;
use common::Harness;
use serde_json::json;

fn ask(records: &[byok::kms::AuditRecord], body: serde_json::Value) -> LookupEventsOutput {
    let out = lookup_events(records, &serde_json::to_vec(&body).unwrap()).expect("answer");
    serde_json::from_slice(&out).expect("LookupEvents JSON")
}

#[test]
fn a_keys_events_most_recent_first_in_pages() {
    let mut h = Harness::new();
    let (a, _) = h.enabled_external();
    let b = h.create_external();
    for i in 0..12u8 {
        h.advance(Duration::from_secs(1));
        h.encrypt(a, &[i]).expect("encrypt");
    }
    let records = h.kms.take_audit_records();
    let arn = h.arn(a);

    // Everything about key a, 10 by default, newest first.
    let first = ask(
        &records,
        json!({"LookupAttributes": [{"AttributeKey": "ResourceName", "AttributeValue": arn}]}),
    );
    assert_eq!(first.events.len(), 10);
    assert!(
        first
            .events
            .iter()
            .all(|e| e.resources[0].resource_name == arn)
    );
    assert!(
        first
            .events
            .windows(2)
            .all(|w| w[0].event_time >= w[1].event_time),
        "most recent first"
    );
    let token = first.next_token.clone().expect("more events");
    let second = ask(
        &records,
        json!({"LookupAttributes": [{"AttributeKey": "ResourceName", "AttributeValue": arn}],
               "NextToken": token}),
    );
    let all_a = records
        .iter()
        .filter(|r| r.key_arn() == Some(arn.as_str()))
        .count();
    assert_eq!(first.events.len() + second.events.len(), all_a);
    assert!(second.next_token.is_none());
    // The bare key id names the same resource; key b's events are not in.
    let by_id = ask(
        &records,
        json!({"LookupAttributes": [{"AttributeKey": "ResourceName", "AttributeValue": a.to_string()}],
               "MaxResults": 50}),
    );
    assert_eq!(by_id.events.len(), all_a);
    let of_b = ask(
        &records,
        json!({"LookupAttributes": [{"AttributeKey": "ResourceName", "AttributeValue": h.arn(b)}]}),
    );
    assert_eq!(of_b.events.len(), 1, "CreateKey");

    // Each CloudTrailEvent reads back as a history event of the key.
    let events: Vec<HistoryEvent> = by_id
        .events
        .iter()
        .enumerate()
        .filter_map(|(i, e)| {
            let v: serde_json::Value = serde_json::from_str(&e.cloud_trail_event).ok()?;
            HistoryEvent::from_cloudtrail(&v, i as u64)
        })
        .collect();
    assert_eq!(events.len(), all_a);
    assert!(
        events
            .iter()
            .any(|e| e.name == "ImportKeyMaterial" && e.material.is_some())
    );
}

#[test]
fn lookup_rules_of_the_api_reference() {
    let mut h = Harness::new();
    h.create_external();
    let records = h.kms.take_audit_records();
    let refuse = |body: serde_json::Value| {
        lookup_events(&records, &serde_json::to_vec(&body).unwrap())
            .expect_err("refused")
            .error_type
    };
    // The exception names of the API Reference's LookupEvents "Errors".
    assert_eq!(
        refuse(json!({"LookupAttributes": [
            {"AttributeKey": "EventName", "AttributeValue": "CreateKey"},
            {"AttributeKey": "ReadOnly", "AttributeValue": "false"}]})),
        "InvalidLookupAttributesException"
    );
    assert_eq!(
        refuse(json!({"MaxResults": 51})),
        "InvalidMaxResultsException"
    );
    assert_eq!(
        refuse(json!({"MaxResults": 0})),
        "InvalidMaxResultsException"
    );
    assert_eq!(
        refuse(json!({"StartTime": 2_000_000_000, "EndTime": 1_000_000_000})),
        "InvalidTimeRangeException"
    );
    assert_eq!(
        refuse(json!({"NextToken": "not-a-token"})),
        "InvalidNextTokenException"
    );
    // An empty request lists everything (10 at most).
    assert_eq!(ask(&records, json!({})).events.len(), records.len().min(10));
    let by_name = ask(
        &records,
        json!({"LookupAttributes": [{"AttributeKey": "EventName", "AttributeValue": "CreateKey"}]}),
    );
    assert_eq!(by_name.events.len(), 1);
    assert_eq!(by_name.events[0].event_source, "kms.amazonaws.com");
}
