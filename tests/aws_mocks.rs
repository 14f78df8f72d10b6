//! What no local server answers, through `aws-smithy-mocks`: canned HTTP
//! responses fed to the real `aws-sdk-kms` parsers and retry strategy,
//! through the real `AwsBackend`. Every body is AWS's own, with its source
//! beside it:
//!
//! - [common errors]: "Common Errors", AWS KMS API Reference
//!   (<https://docs.aws.amazon.com/kms/latest/APIReference/CommonErrors.html>;
//!   the same list in <https://docs.aws.amazon.com/awsconsolehelpdocs/latest/gsg/common-errors.html>):
//!   `AccessDeniedException` and `ExpiredTokenException` (HTTP 403, "The
//!   security token included in the request is expired"), `ThrottlingException`.
//! - [throttling]: "Throttling AWS KMS requests", AWS KMS Developer Guide
//!   (<https://docs.aws.amazon.com/kms/latest/developerguide/throttling.html>):
//!   "You have exceeded the rate at which you may call KMS. Reduce the
//!   frequency of your calls." with status code 400.
//! - [access denied]: "Troubleshoot access denied error messages", IAM User
//!   Guide (<https://docs.aws.amazon.com/IAM/latest/UserGuide/troubleshoot_access-denied.html>):
//!   "User: <arn> is not authorized to perform: <action> on resource:
//!   <arn> because no identity-based policy allows the <action> action".
//! - [rotations]: "List rotations and key materials (AWS KMS API)", AWS KMS
//!   Developer Guide (<https://docs.aws.amazon.com/kms/latest/developerguide/list-rotations.html>):
//!   the `list-key-rotations --include-key-material ALL_KEY_MATERIAL` output,
//!   here in its wire form (timestamps as epoch seconds, as the AWS JSON
//!   protocol sends them; the ids quoted).

#[path = "aws_support/mod.rs"]
mod support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_credential_types::Credentials;
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_smithy_mocks::{MockResponseInterceptor, Rule, RuleMode, create_mock_http_client, mock};
use aws_smithy_runtime_api::client::interceptors::SharedInterceptor;
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::http::StatusCode;
use aws_smithy_types::body::SdkBody;
use byok::api::op;
use byok::api::shapes::*;
use byok::api::wire::Blob;
use byok::aws::{
    AwsBackend, AwsConnection, CallRecord, CallRecorder, ConnectOptions, missing_iam_action,
};
use byok::backend::{BackendError, send};

const KEY_ARN: &str = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";
const KEY_ID: &str = "1234abcd-12ab-34cd-56ef-1234567890ab";
/// Material ids of the [rotations] example.
const MATERIAL_A: &str = "123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0";
const MATERIAL_B: &str = "96083e4fb6dbc41d77578a213a6b6669c044dd4c143e96755396d2bf11fd6068";

fn response(status: u16, body: &str, request_id: &'static str) -> HttpResponse {
    let mut r = HttpResponse::new(
        StatusCode::try_from(status).expect("status"),
        SdkBody::from(body.to_string()),
    );
    r.headers_mut()
        .insert("content-type", "application/x-amz-json-1.1");
    r.headers_mut().insert("x-amzn-requestid", request_id);
    r
}

#[derive(Default)]
struct Collect(Mutex<Vec<CallRecord>>);

impl CallRecorder for Collect {
    fn record(&self, call: &CallRecord) {
        self.0.lock().unwrap().push(call.clone());
    }
}

fn backend(rules: &[&Rule], initial_backoff: Duration) -> (AwsBackend, Arc<Collect>) {
    let mut interceptor = MockResponseInterceptor::new().rule_mode(RuleMode::MatchAny);
    for r in rules {
        interceptor = interceptor.with_rule(r);
    }
    let options = ConnectOptions {
        credentials: Some(SharedCredentialsProvider::new(Credentials::new(
            "AKIAIOSFODNN7EXAMPLE",
            "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
            None,
            None,
            "mocks",
        ))),
        max_attempts: 5,
        initial_backoff,
        max_backoff: Duration::from_secs(2),
        http_client: Some(create_mock_http_client()),
        interceptors: vec![SharedInterceptor::new(interceptor)],
        ..ConnectOptions::default()
    };
    let connection = AwsConnection {
        profile: None,
        regions: vec!["us-east-1".into()],
        endpoint_url: None,
    };
    let records = Arc::new(Collect::default());
    let b = AwsBackend::connect(&connection, options)
        .expect("connect")
        .with_recorder(records.clone());
    (b, records)
}

fn import_request() -> ImportKeyMaterialInput {
    ImportKeyMaterialInput {
        key_id: Some(KEY_ARN.into()),
        import_token: Some(Blob::copy_of(b"token")),
        encrypted_key_material: Some(Blob::copy_of(&[7u8; 512])),
        expiration_model: Some("KEY_MATERIAL_DOES_NOT_EXPIRE".into()),
        import_type: Some("EXISTING_KEY_MATERIAL".into()),
        ..Default::default()
    }
}

#[test]
fn access_denied_names_the_missing_iam_action_and_is_not_retried() {
    // [common errors] AccessDeniedException, HTTP 403; message in the
    // [access denied] format.
    let denied = format!(
        r#"{{"__type":"AccessDeniedException","message":"User: arn:aws:iam::111122223333:user/officer is not authorized to perform: kms:ImportKeyMaterial on resource: {KEY_ARN} because no identity-based policy allows the kms:ImportKeyMaterial action"}}"#
    );
    let rule = mock!(aws_sdk_kms::Client::import_key_material)
        .sequence()
        .http_response(move || response(403, &denied, "5ac4c0a4-0000-4000-8000-00000000aaaa"))
        .times(5)
        .build();
    let (b, records) = backend(&[&rule], Duration::from_millis(10));
    let err = send::<op::ImportKeyMaterial>(&b, &import_request()).expect_err("denied");
    let api = err.service().expect("AWS's answer").clone();
    assert_eq!(api.error_type, "AccessDeniedException");
    assert_eq!(api.status, 403);
    assert!(err.is_access_denied());
    assert!(!err.is_transient());
    assert_eq!(
        missing_iam_action(&api.message),
        Some("kms:ImportKeyMaterial")
    );
    assert_eq!(rule.num_calls(), 1, "an access denial is not retried");
    let recs = records.0.lock().unwrap();
    assert_eq!(recs.len(), 1);
    assert_eq!(recs[0].error_code.as_deref(), Some("AccessDeniedException"));
    assert_eq!(
        recs[0].request_id.as_deref(),
        Some("5ac4c0a4-0000-4000-8000-00000000aaaa")
    );
    assert_eq!(recs[0].attempts, 1);
    assert_eq!(b.retry_state().throttled_attempts, 0);
}

#[test]
fn throttling_is_a_wait_the_call_succeeds_and_the_import_runs_once() {
    // [throttling] status 400 and message; then ImportKeyMaterial's answer
    // (API Reference response syntax: KeyId, KeyMaterialId; the ids of the
    // [rotations] example).
    const THROTTLED: &str = r#"{"__type":"ThrottlingException","message":"You have exceeded the rate at which you may call KMS. Reduce the frequency of your calls."}"#;
    let ok = format!(r#"{{"KeyId":"{KEY_ARN}","KeyMaterialId":"{MATERIAL_B}"}}"#);
    let rule = mock!(aws_sdk_kms::Client::import_key_material)
        .sequence()
        .http_response(|| response(400, THROTTLED, "11111111-0000-4000-8000-000000000001"))
        .times(3)
        .http_response(move || response(200, &ok, "11111111-0000-4000-8000-000000000002"))
        .build();
    let (b, records) = backend(&[&rule], Duration::from_millis(300));
    let b = Arc::new(b);
    let call = {
        let b = Arc::clone(&b);
        std::thread::spawn(move || send::<op::ImportKeyMaterial>(&*b, &import_request()))
    };
    // While the SDK backs off, the console can see that it waits.
    let mut saw_waiting = false;
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while !call.is_finished() && std::time::Instant::now() < deadline {
        let s = b.retry_state();
        if s.waiting {
            saw_waiting = true;
            assert!(s.throttled_attempts >= 1);
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let out = call
        .join()
        .expect("no panic")
        .expect("succeeds after the throttles");
    assert_eq!(out.key_material_id, MATERIAL_B);
    assert_eq!(out.key_id, KEY_ARN);
    assert!(saw_waiting, "retry_state().waiting was never seen");
    let state = b.retry_state();
    assert_eq!(state.throttled_attempts, 3);
    assert!(!state.waiting);
    assert_eq!(rule.num_calls(), 4, "3 throttled attempts and one that ran");
    assert!(rule.is_exhausted(), "the successful answer was given once");
    let recs = records.0.lock().unwrap();
    assert_eq!(recs.len(), 1, "one call, one record");
    assert_eq!(recs[0].attempts, 4);
    assert_eq!(recs[0].error_code, None);
    assert_eq!(
        recs[0].request_id.as_deref(),
        Some("11111111-0000-4000-8000-000000000002")
    );
}

#[test]
fn throttling_past_the_attempts_is_a_transient_throttling_error() {
    const THROTTLED: &str = r#"{"__type":"ThrottlingException","message":"You have exceeded the rate at which you may call KMS. Reduce the frequency of your calls."}"#;
    let rule = mock!(aws_sdk_kms::Client::describe_key)
        .sequence()
        .http_response(|| response(400, THROTTLED, "22222222-0000-4000-8000-000000000001"))
        .times(10)
        .build();
    let (b, _) = backend(&[&rule], Duration::from_millis(5));
    let err = send::<op::DescribeKey>(
        &b,
        &KeyIdInput {
            key_id: Some(KEY_ID.into()),
        },
    )
    .expect_err("still throttled");
    assert_eq!(err.aws_name(), Some("ThrottlingException"));
    assert!(err.is_transient());
    assert_eq!(rule.num_calls(), 5, "max_attempts");
    assert_eq!(b.retry_state().throttled_attempts, 5);
    assert!(!b.retry_state().waiting);
}

#[test]
fn an_expired_token_is_aws_answer_with_its_name() {
    // [common errors] ExpiredTokenException, HTTP 403.
    const EXPIRED: &str = r#"{"__type":"ExpiredTokenException","message":"The security token included in the request is expired"}"#;
    let rule = mock!(aws_sdk_kms::Client::rotate_key_on_demand)
        .sequence()
        .http_response(|| response(403, EXPIRED, "33333333-0000-4000-8000-000000000001"))
        .times(5)
        .build();
    let (b, _) = backend(&[&rule], Duration::from_millis(5));
    let err = send::<op::RotateKeyOnDemand>(
        &b,
        &KeyIdInput {
            key_id: Some(KEY_ARN.into()),
        },
    )
    .expect_err("expired");
    let api = err.service().expect("AWS's answer");
    assert_eq!(api.error_type, "ExpiredTokenException");
    assert_eq!(
        api.message,
        "The security token included in the request is expired"
    );
    assert_eq!(api.status, 403);
    assert!(!err.is_transient());
    // Not an SSO profile: no sign-in command to offer.
    assert_eq!(b.fix_for(&err), None);
    assert!(matches!(err, BackendError::Service(_)));
}

#[test]
fn the_2025_material_fields_come_through_member_for_member() {
    // [rotations]: the example's two entries; RotationDate
    // 2025-05-01T15:50:51.045-07:00 = 1746139851.045.
    let rotations = format!(
        r#"{{"Rotations":[{{"KeyId":"{KEY_ID}","KeyMaterialId":"{MATERIAL_A}","KeyMaterialDescription":"KeyMaterialA","ImportState":"PENDING_IMPORT","KeyMaterialState":"NON_CURRENT"}},{{"KeyId":"{KEY_ID}","KeyMaterialId":"{MATERIAL_B}","ImportState":"IMPORTED","KeyMaterialState":"CURRENT","ExpirationModel":"KEY_MATERIAL_DOES_NOT_EXPIRE","RotationDate":1746139851.045,"RotationType":"ON_DEMAND"}}],"Truncated":false}}"#
    );
    let list = mock!(aws_sdk_kms::Client::list_key_rotations)
        .match_requests(|r| {
            r.include_key_material()
                == Some(&aws_sdk_kms::types::IncludeKeyMaterial::AllKeyMaterial)
        })
        .sequence()
        .http_response(move || response(200, &rotations, "44444444-0000-4000-8000-000000000001"))
        .build();
    // Decrypt's response syntax (API Reference) with KeyMaterialId; the
    // plaintext "hello" in base64.
    let decrypted = format!(
        r#"{{"KeyId":"{KEY_ARN}","Plaintext":"aGVsbG8=","EncryptionAlgorithm":"SYMMETRIC_DEFAULT","KeyMaterialId":"{MATERIAL_A}"}}"#
    );
    let decrypt = mock!(aws_sdk_kms::Client::decrypt)
        .sequence()
        .http_response(move || response(200, &decrypted, "44444444-0000-4000-8000-000000000002"))
        .build();
    // DeleteImportedKeyMaterial by KeyMaterialId (response syntax: KeyId,
    // KeyMaterialId): only a request that names the material matches.
    let deleted = format!(r#"{{"KeyId":"{KEY_ARN}","KeyMaterialId":"{MATERIAL_A}"}}"#);
    let delete = mock!(aws_sdk_kms::Client::delete_imported_key_material)
        .match_requests(|r| r.key_material_id() == Some(MATERIAL_A))
        .sequence()
        .http_response(move || response(200, &deleted, "44444444-0000-4000-8000-000000000003"))
        .build();
    let (b, _) = backend(&[&list, &decrypt, &delete], Duration::from_millis(5));

    let out = send::<op::ListKeyRotations>(
        &b,
        &ListKeyRotationsInput {
            key_id: Some(KEY_ID.into()),
            include_key_material: Some("ALL_KEY_MATERIAL".into()),
            ..Default::default()
        },
    )
    .expect("ListKeyRotations");
    let v = serde_json::to_value(&out).unwrap();
    assert_eq!(
        v,
        serde_json::json!({
            "Rotations": [
                {"KeyId": KEY_ID, "KeyMaterialId": MATERIAL_A, "KeyMaterialDescription": "KeyMaterialA",
                 "ImportState": "PENDING_IMPORT", "KeyMaterialState": "NON_CURRENT"},
                {"KeyId": KEY_ID, "KeyMaterialId": MATERIAL_B, "ImportState": "IMPORTED",
                 "KeyMaterialState": "CURRENT", "ExpirationModel": "KEY_MATERIAL_DOES_NOT_EXPIRE",
                 "RotationDate": 1746139851.045, "RotationType": "ON_DEMAND"}
            ],
            "Truncated": false
        })
    );

    let d = send::<op::Decrypt>(
        &b,
        &DecryptInput {
            ciphertext_blob: Some(Blob::copy_of(&[1, 2, 3])),
            ..Default::default()
        },
    )
    .expect("Decrypt");
    assert_eq!(d.key_material_id.as_deref(), Some(MATERIAL_A));
    assert_eq!(d.plaintext.bytes(), b"hello");

    let del = send::<op::DeleteImportedKeyMaterial>(
        &b,
        &DeleteImportedKeyMaterialInput {
            key_id: Some(KEY_ARN.into()),
            key_material_id: Some(MATERIAL_A.into()),
        },
    )
    .expect("the request carried the KeyMaterialId");
    assert_eq!(del.key_material_id, MATERIAL_A);
}

#[test]
fn cloudtrail_history_is_paged_and_a_denial_is_told_apart() {
    // CloudTrail's LookupEvents (API Reference response syntax: Events with
    // CloudTrailEvent as a JSON string, NextToken), two pages.
    let event = |name: &str, id: &str| {
        serde_json::json!({
            "EventId": id,
            "EventName": name,
            "EventSource": "kms.amazonaws.com",
            "CloudTrailEvent": serde_json::json!({
                "eventVersion": "1.11",
                "eventSource": "kms.amazonaws.com",
                "eventName": name,
                "awsRegion": "us-east-1",
                "requestParameters": {"keyId": KEY_ARN},
                "additionalEventData": {"keyMaterialId": MATERIAL_B},
                "eventID": id
            }).to_string()
        })
    };
    let page1 =
        serde_json::json!({"Events": [event("RotateKeyOnDemand", "e1")], "NextToken": "page2"})
            .to_string();
    let page2 = serde_json::json!({"Events": [event("ImportKeyMaterial", "e2")]}).to_string();
    let lookup = mock!(aws_sdk_cloudtrail::Client::lookup_events)
        .match_requests(|r| {
            r.lookup_attributes().first().is_some_and(|a| {
                a.attribute_key() == &aws_sdk_cloudtrail::types::LookupAttributeKey::ResourceName
                    && a.attribute_value() == KEY_ARN
            })
        })
        .sequence()
        .http_response(move || response(200, &page1, "55555555-0000-4000-8000-000000000001"))
        .http_response(move || response(200, &page2, "55555555-0000-4000-8000-000000000002"))
        .build();
    let (b, records) = backend(&[&lookup], Duration::from_millis(5));
    let events = b.lookup_key_events(KEY_ARN, None).expect("LookupEvents");
    let names: Vec<&str> = events
        .iter()
        .map(|e| e["eventName"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["RotateKeyOnDemand", "ImportKeyMaterial"]);
    assert_eq!(
        events[1]["additionalEventData"]["keyMaterialId"],
        MATERIAL_B
    );
    assert!(records.0.lock().unwrap().is_empty(), "a plain read");

    // [common errors] AccessDeniedException: the caller may not look up.
    let denied = r#"{"__type":"AccessDeniedException","message":"User: arn:aws:iam::111122223333:user/officer is not authorized to perform: cloudtrail:LookupEvents because no identity-based policy allows the cloudtrail:LookupEvents action"}"#;
    let refuse = mock!(aws_sdk_cloudtrail::Client::lookup_events)
        .sequence()
        .http_response(move || response(400, denied, "55555555-0000-4000-8000-000000000003"))
        .times(5)
        .build();
    let (b, _) = backend(&[&refuse], Duration::from_millis(5));
    let err = b.lookup_key_events(KEY_ARN, None).expect_err("denied");
    assert!(err.is_access_denied(), "{err:?}");
    assert_eq!(
        missing_iam_action(&err.service().unwrap().message),
        Some("cloudtrail:LookupEvents")
    );
    // Not a key ARN: refused before sending.
    assert!(matches!(
        b.lookup_key_events(KEY_ID, None),
        Err(BackendError::Request { .. })
    ));
}
