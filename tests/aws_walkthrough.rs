//! The announcement's seven steps (WALKTHROUGH.md) through the AWS backend:
//! the typed `send::<O>()` of the one Backend interface, the real
//! `aws-sdk-kms`, real SigV4 and real HTTP, against a `byok serve` endpoint
//! started in process on 127.0.0.1 port 0. Rotation pending then complete,
//! delete material → PendingImport, re-import, old ciphertext decrypts with
//! its KeyMaterialId. Then: the answers through AWS are the local engine's
//! answers member for member, and the routing of key ARNs by region.

#[path = "aws_support/mod.rs"]
mod support;

use std::time::{Duration, Instant};

use byok::api::op;
use byok::api::shapes::*;
use byok::aws::AwsBackend;
use byok::backend::local::LocalBackend;
use byok::backend::{Backend, BackendError, BackendKind, send};
use byok::kms::Caller;
use support::*;

const ROTATION_DELAY_MS: u64 = 1500;

fn data_key(b: &AwsBackend, key_id: &str) -> GenerateDataKeyOutputShape {
    send::<op::GenerateDataKey>(
        b,
        &GenerateDataKeyInput {
            key_id: Some(key_id.to_string()),
            key_spec: Some("AES_256".into()),
            ..Default::default()
        },
    )
    .expect("GenerateDataKey")
}

fn decrypt(
    b: &AwsBackend,
    blob: &byok::api::wire::Blob,
) -> Result<DecryptOutputShape, BackendError> {
    send::<op::Decrypt>(
        b,
        &DecryptInput {
            ciphertext_blob: Some(blob.clone()),
            ..Default::default()
        },
    )
}

fn states(entries: &[RotationsListEntryShape]) -> Vec<(String, String)> {
    entries
        .iter()
        .map(|e| (e.key_material_id.clone(), e.key_material_state.clone()))
        .collect()
}

#[test]
fn the_seven_steps_through_the_aws_sdk_against_byok_serve() {
    let served = Served::start(ROTATION_DELAY_MS);
    let b = served.backend();
    let info = b.info();
    assert_eq!(info.kind, BackendKind::Aws);
    assert_eq!(info.region, "us-east-1");
    assert_eq!(info.endpoint.as_deref(), Some(served.url().as_str()));

    // Step 1: a key with EXTERNAL origin, and its first material.
    let meta = create_external(&b, "imported key");
    assert_eq!(meta.key_state, "PendingImport");
    assert_eq!(meta.origin, "EXTERNAL");
    assert!(!meta.enabled);
    assert_eq!(meta.current_key_material_id, None);
    assert_eq!(meta.expiration_model, None);
    assert_eq!(b.info().account.as_deref(), Some(served.account.as_str()));
    let key = meta.key_id.clone();
    let arn = served.arn(&key);
    assert_eq!(meta.arn, arn);

    let p1 = params(&b, &key);
    assert_eq!(p1.key_id, arn);
    assert_eq!(
        p1.public_key.bytes().len(),
        550,
        "RSA_4096 SubjectPublicKeyInfo"
    );
    assert!(!p1.import_token.bytes().is_empty());
    let now = byok::kms::Timestamp::from_millis(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis() as i64,
    );
    let valid_for = p1.parameters_valid_to.0.since(now);
    assert!(
        valid_for > Duration::from_secs(24 * 3600 - 120)
            && valid_for <= Duration::from_secs(24 * 3600),
        "ParametersValidTo is now + 24 h, got {valid_for:?}"
    );
    let m1 = material();
    let wrapped1 = wrap(&p1.public_key, &m1);
    let id1 = import(
        &b,
        &key,
        &p1.import_token,
        &wrapped1,
        None,
        Some("KeyMaterial1 kept in HSM vault A"),
    )
    .expect("ImportKeyMaterial 1")
    .key_material_id;
    assert_eq!(id1, material_id(&key, &m1));
    let meta = describe(&b, &key);
    assert_eq!(meta.key_state, "Enabled");
    assert!(meta.enabled);
    assert_eq!(meta.current_key_material_id.as_deref(), Some(id1.as_str()));
    assert_eq!(
        meta.expiration_model.as_deref(),
        Some("KEY_MATERIAL_DOES_NOT_EXPIRE")
    );
    let r = rotations(&b, &key);
    assert_eq!(states(&r), [(id1.clone(), "CURRENT".to_string())]);
    assert_eq!(r[0].import_state.as_deref(), Some("IMPORTED"));
    assert_eq!(
        r[0].key_material_description.as_deref(),
        Some("KeyMaterial1 kept in HSM vault A")
    );
    assert_eq!(
        r[0].key_id, key,
        "RotationsListEntry.KeyId is the bare key id"
    );

    // Step 2: use it.
    let dk1 = data_key(&b, &key);
    assert_eq!(dk1.key_material_id.as_deref(), Some(id1.as_str()));
    assert_eq!(dk1.key_id, arn);
    let plain1 = dk1.plaintext.clone().expect("Plaintext");
    assert_eq!(plain1.bytes().len(), 32);
    let ct1 = dk1.ciphertext_blob.clone();
    let d1 = decrypt(&b, &ct1).expect("Decrypt 1");
    assert_eq!(d1.plaintext, plain1);
    assert_eq!(d1.key_material_id.as_deref(), Some(id1.as_str()));
    assert_eq!(d1.encryption_algorithm, "SYMMETRIC_DEFAULT");

    // Step 3: a second material, pending rotation.
    let p2 = params(&b, &key);
    let m2 = material();
    let id2 = import(
        &b,
        &key,
        &p2.import_token,
        &wrap(&p2.public_key, &m2),
        Some("NEW_KEY_MATERIAL"),
        Some("KeyMaterial2 kept in HSM vault A"),
    )
    .expect("ImportKeyMaterial 2")
    .key_material_id;
    assert_eq!(id2, material_id(&key, &m2));
    assert_eq!(
        states(&rotations(&b, &key)),
        [
            (id1.clone(), "CURRENT".to_string()),
            (id2.clone(), "PENDING_ROTATION".to_string())
        ]
    );

    // Step 4: rotate; pending while the store's rotation delay runs.
    let started = Instant::now();
    let rotated = send::<op::RotateKeyOnDemand>(
        &b,
        &KeyIdInput {
            key_id: Some(key.clone()),
        },
    )
    .expect("RotateKeyOnDemand");
    assert_eq!(rotated.key_id, arn);
    let status = send::<op::GetKeyRotationStatus>(
        &b,
        &KeyIdInput {
            key_id: Some(key.clone()),
        },
    )
    .expect("GetKeyRotationStatus");
    assert!(
        started.elapsed() < Duration::from_millis(ROTATION_DELAY_MS),
        "too slow to see the pending rotation"
    );
    assert!(status.on_demand_rotation_start_date.is_some(), "{status:?}");
    assert!(!status.key_rotation_enabled);
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let s = send::<op::GetKeyRotationStatus>(
            &b,
            &KeyIdInput {
                key_id: Some(key.clone()),
            },
        )
        .expect("GetKeyRotationStatus");
        if s.on_demand_rotation_start_date.is_none() {
            break;
        }
        assert!(Instant::now() < deadline, "the rotation never completed");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(
        describe(&b, &key).current_key_material_id.as_deref(),
        Some(id2.as_str())
    );
    let r = rotations(&b, &key);
    assert_eq!(
        states(&r),
        [
            (id1.clone(), "NON_CURRENT".to_string()),
            (id2.clone(), "CURRENT".to_string())
        ]
    );
    assert_eq!(r[1].rotation_type.as_deref(), Some("ON_DEMAND"));
    assert!(r[1].rotation_date.is_some());
    assert_eq!(r[0].rotation_type, None);

    // Step 5: new ciphertext uses material 2; old ciphertext decrypts with 1.
    let dk2 = data_key(&b, &key);
    assert_eq!(dk2.key_material_id.as_deref(), Some(id2.as_str()));
    let ct2 = dk2.ciphertext_blob.clone();
    let d1 = decrypt(&b, &ct1).expect("Decrypt 1 after the rotation");
    assert_eq!(d1.key_material_id.as_deref(), Some(id1.as_str()));
    assert_eq!(d1.plaintext, plain1);

    // Step 6: delete material 1; the key becomes unusable.
    let deleted = send::<op::DeleteImportedKeyMaterial>(
        &b,
        &DeleteImportedKeyMaterialInput {
            key_id: Some(key.clone()),
            key_material_id: Some(id1.clone()),
        },
    )
    .expect("DeleteImportedKeyMaterial");
    assert_eq!(deleted.key_material_id, id1);
    assert_eq!(deleted.key_id, arn);
    assert_eq!(describe(&b, &key).key_state, "PendingImport");
    let err = decrypt(&b, &ct2).expect_err("decrypt while pending import");
    let api = err.service().expect("a service error");
    assert_eq!(api.error_type, "KMSInvalidStateException");
    assert_eq!(api.message, format!("{arn} is pending import."));
    assert_eq!(api.status, 400);
    let r = rotations(&b, &key);
    assert_eq!(r[0].import_state.as_deref(), Some("PENDING_IMPORT"));

    // Step 7: re-import material 1 with the same wrapped blob and token.
    let again = import(
        &b,
        &key,
        &p1.import_token,
        &wrapped1,
        Some("EXISTING_KEY_MATERIAL"),
        None,
    )
    .expect("re-import");
    assert_eq!(again.key_material_id, id1);
    assert_eq!(describe(&b, &key).key_state, "Enabled");
    assert_eq!(
        decrypt(&b, &ct1).expect("ct1").key_material_id.as_deref(),
        Some(id1.as_str())
    );
    assert_eq!(
        decrypt(&b, &ct2).expect("ct2").key_material_id.as_deref(),
        Some(id2.as_str())
    );
}

/// A key's history through CloudTrail's `LookupEvents`, which `byok serve`
/// answers from its own trail (issue 11, item 6): the real
/// `aws-sdk-cloudtrail`, SigV4 scoped to `cloudtrail`, over HTTP. The events
/// come newest first (CloudTrail API Reference, LookupEvents: "Events are
/// returned in reverse chronological order") and name the material of each
/// import, rotation and deletion; the console's timeline reads them.
#[test]
fn a_keys_history_comes_from_cloudtrail_lookup_events_on_byok_serve() {
    let served = Served::start(0);
    let b = served.backend();
    let other = create_external(&b, "another key").key_id;
    let key = create_external(&b, "history through CloudTrail").key_id;
    let arn = served.arn(&key);
    let p1 = params(&b, &key);
    let wrapped1 = wrap(&p1.public_key, &material());
    let id1 = import(&b, &key, &p1.import_token, &wrapped1, None, Some("first"))
        .expect("import 1")
        .key_material_id;
    let p2 = params(&b, &key);
    let id2 = import(
        &b,
        &key,
        &p2.import_token,
        &wrap(&p2.public_key, &material()),
        Some("NEW_KEY_MATERIAL"),
        Some("second"),
    )
    .expect("import 2")
    .key_material_id;
    send::<op::RotateKeyOnDemand>(
        &b,
        &KeyIdInput {
            key_id: Some(key.clone()),
        },
    )
    .expect("RotateKeyOnDemand");
    let deadline = Instant::now() + Duration::from_secs(20);
    while describe(&b, &key).current_key_material_id.as_deref() != Some(id2.as_str()) {
        assert!(Instant::now() < deadline, "the rotation never completed");
        std::thread::sleep(Duration::from_millis(50));
    }
    send::<op::DeleteImportedKeyMaterial>(
        &b,
        &DeleteImportedKeyMaterialInput {
            key_id: Some(key.clone()),
            key_material_id: Some(id1.clone()),
        },
    )
    .expect("DeleteImportedKeyMaterial");

    let events = b.lookup_key_events(&arn, None).expect("LookupEvents");
    let names: Vec<&str> = events
        .iter()
        .map(|e| e["eventName"].as_str().expect("eventName"))
        .collect();
    // Only this key's events (LookupAttribute ResourceName = the key ARN).
    assert!(!names.contains(&"ListKeys"), "{names:?}");
    assert!(
        events.iter().all(|e| !e.to_string().contains(&other)),
        "another key's events were returned"
    );
    let history: Vec<byok::kms::history::HistoryEvent> = events
        .iter()
        .enumerate()
        .filter_map(|(i, v)| {
            byok::kms::history::HistoryEvent::from_cloudtrail(v, (events.len() - i) as u64)
        })
        .collect();
    assert_eq!(history.len(), events.len(), "every event reads back");
    // Newest first.
    assert!(history.windows(2).all(|w| w[0].at >= w[1].at));
    let material_events: Vec<(&str, Option<String>)> = history
        .iter()
        .rev()
        .filter(|e| {
            matches!(
                e.name.as_str(),
                "ImportKeyMaterial" | "DeleteImportedKeyMaterial"
            )
        })
        .map(|e| (e.name.as_str(), e.material.as_ref().map(|m| m.to_string())))
        .collect();
    assert_eq!(
        material_events,
        [
            ("ImportKeyMaterial", Some(id1.clone())),
            ("ImportKeyMaterial", Some(id2.clone())),
            ("DeleteImportedKeyMaterial", Some(id1.clone())),
        ]
    );
    assert!(names.contains(&"RotateKeyOnDemand"), "{names:?}");
    assert!(names.contains(&"CreateKey"), "{names:?}");

    // CloudTrail's own paging: 50 per page, NextToken followed to the end.
    for _ in 0..60 {
        describe(&b, &key);
    }
    let all = b
        .lookup_key_events(&arn, None)
        .expect("LookupEvents, paged");
    assert_eq!(all.len(), events.len() + 60, "every page was read");
}

/// The same request through the AWS backend (SDK, HTTP, byok serve) and
/// through the local backend (the engine directly) gives the same JSON:
/// every member, timestamp and blob encoding survives the SDK both ways.
#[test]
fn answers_through_aws_are_the_engines_member_for_member() {
    let served = Served::start(0);
    let b = served.backend();
    let local = LocalBackend::new(served.vault.clone(), Caller::cli());
    let key = create_external(&b, "member for member").key_id;
    let p = params(&b, &key);
    import(
        &b,
        &key,
        &p.import_token,
        &wrap(&p.public_key, &material()),
        None,
        Some("first"),
    )
    .expect("import");
    let p2 = params(&b, &key);
    import(
        &b,
        &key,
        &p2.import_token,
        &wrap(&p2.public_key, &material()),
        Some("NEW_KEY_MATERIAL"),
        Some("second"),
    )
    .expect("import 2");
    send::<op::CreateAlias>(
        &b,
        &AliasInput {
            alias_name: Some("alias/member-for-member".into()),
            target_key_id: Some(key.clone()),
        },
    )
    .expect("CreateAlias");
    send::<op::TagResource>(
        &b,
        &TagResourceInput {
            key_id: Some(key.clone()),
            tags: Some(vec![TagShape {
                tag_key: Some("Owner".into()),
                tag_value: Some("security".into()),
            }]),
        },
    )
    .expect("TagResource");
    send::<op::ScheduleKeyDeletion>(
        &b,
        &ScheduleKeyDeletionInput {
            key_id: Some(key.clone()),
            pending_window_in_days: Some(7),
        },
    )
    .expect("ScheduleKeyDeletion");
    let requests = [
        ("DescribeKey", serde_json::json!({"KeyId": key})),
        (
            "ListKeyRotations",
            serde_json::json!({"KeyId": key, "IncludeKeyMaterial": "ALL_KEY_MATERIAL"}),
        ),
        ("ListKeys", serde_json::json!({})),
        ("ListAliases", serde_json::json!({"KeyId": key})),
        ("ListResourceTags", serde_json::json!({"KeyId": key})),
        ("GetKeyRotationStatus", serde_json::json!({"KeyId": key})),
    ];
    for (operation, request) in requests {
        let bytes = serde_json::to_vec(&request).unwrap();
        let through_aws: serde_json::Value =
            serde_json::from_slice(&b.call(operation, &bytes).expect(operation)).unwrap();
        let direct: serde_json::Value =
            serde_json::from_slice(&local.call(operation, &bytes).expect(operation)).unwrap();
        assert_eq!(through_aws, direct, "{operation}");
    }
}

#[test]
fn a_key_arn_goes_to_its_region_and_one_outside_the_connection_is_refused() {
    let served = Served::start(0);
    let b = AwsBackend::connect(
        &served.connection(&["us-east-1", "eu-west-1"]),
        served.options(),
    )
    .expect("connect");
    let key = create_external(&b, "routing").key_id;

    // The home region: a bare key id.
    assert_eq!(describe(&b, &key).key_state, "PendingImport");

    // A key ARN in eu-west-1 goes to eu-west-1's client: the request is
    // signed for eu-west-1, so the endpoint answers for eu-west-1, where
    // the key (made in us-east-1) does not exist.
    let eu = format!("arn:aws:kms:eu-west-1:{}:key/{key}", served.account);
    let before = served.requests_served();
    let err = send::<op::DescribeKey>(
        &b,
        &KeyIdInput {
            key_id: Some(eu.clone()),
        },
    )
    .expect_err("no such key in eu-west-1");
    let api = err.service().expect("the endpoint's answer");
    assert_eq!(api.error_type, "NotFoundException");
    assert_eq!(api.message, format!("Key '{eu}' does not exist"));
    assert!(served.requests_served() > before);

    // A key ARN in a region the connection lacks: refused before sending.
    let ap = format!("arn:aws:kms:ap-south-1:{}:key/{key}", served.account);
    let before = served.requests_served();
    let err = send::<op::DescribeKey>(
        &b,
        &KeyIdInput {
            key_id: Some(ap.clone()),
        },
    )
    .expect_err("not in the connection");
    match &err {
        BackendError::Request { operation, detail } => {
            assert_eq!(operation, "DescribeKey");
            assert!(detail.contains("ap-south-1"), "{detail}");
            assert!(detail.contains("us-east-1, eu-west-1"), "{detail}");
        }
        other => panic!("expected a refusal before sending, got {other:?}"),
    }
    assert_eq!(served.requests_served(), before, "nothing was sent");

    // A key ARN of another account in a connected region is sent, and the
    // answer is the endpoint's (on AWS: the key policy decides).
    let other = format!("arn:aws:kms:us-east-1:111122223333:key/{key}");
    let err = send::<op::DescribeKey>(
        &b,
        &KeyIdInput {
            key_id: Some(other.clone()),
        },
    )
    .expect_err("another account's key");
    assert_eq!(err.aws_name(), Some("NotFoundException"), "{err:?}");

    // An operation the backend does not know.
    let err = b
        .call("FlyToTheMoon", b"{}")
        .expect_err("unknown operation");
    assert!(
        matches!(&err, BackendError::Request { detail, .. } if detail.contains("FlyToTheMoon")),
        "{err:?}"
    );
}
