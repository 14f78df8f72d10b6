//! Expiry on time (SPEC §3–§4): a material imported with `ValidTo` = T is
//! erased exactly at T, by the tick or by whatever operation runs first, with
//! a `DeleteExpiredKeyMaterial` service event dated T; events that fell due
//! while nobody called the engine are applied in the order of their due times.

mod common;

use std::time::Duration;

use byok::kms::clock::days;
use byok::kms::{
    AuditRecord, EncryptionContext, ExpirationModel, ImportOutput, ImportState, ImportType, KeyId,
    KeyMaterialId, KeyMaterialState, KeyState, Settings, Timestamp,
};
use common::*;

/// GetParametersForImport + wrap + ImportKeyMaterial with the given expiry.
fn import_with(
    h: &mut Harness,
    key: KeyId,
    material: &[u8; 32],
    import_type: Option<ImportType>,
    valid_to: Option<Timestamp>,
) -> ImportOutput {
    let params = h.params(key);
    let mut req = h.import_request(key, &params, material, import_type);
    if let Some(t) = valid_to {
        req.expiration_model = Some(ExpirationModel::KeyMaterialExpires);
        req.valid_to = Some(t);
    }
    h.try_import(&req).expect("ImportKeyMaterial")
}

fn service_events(records: &[AuditRecord]) -> Vec<(String, String, String)> {
    records
        .iter()
        .filter(|r| r.event_type == "AwsServiceEvent")
        .map(|r| {
            (
                r.event_name.clone(),
                r.event_time.clone(),
                r.key_id().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

fn expired_event(records: &[AuditRecord], material: KeyMaterialId) -> Vec<&AuditRecord> {
    records
        .iter()
        .filter(|r| r.event_name == "DeleteExpiredKeyMaterial")
        .filter(|r| r.additional("keyMaterialId") == Some(material.to_string().as_str()))
        .collect()
}

#[test]
fn material_expires_exactly_at_valid_to_on_the_tick_and_reimport_restores_it() {
    let mut h = Harness::new();
    let key = h.create_external();
    let material = h.material();
    let t = START.plus(Duration::from_secs(3600) + Duration::from_millis(250));
    let id = import_with(&mut h, key, &material, None, Some(t)).key_material_id;
    let k = h.kms.key(key).unwrap();
    assert_eq!(k.material(id).unwrap().valid_to(), Some(t));
    assert_eq!(
        k.material(id).unwrap().expiration_model(),
        ExpirationModel::KeyMaterialExpires
    );
    let blob = h.encrypt(key, b"before the expiry").unwrap();

    // T - 1 ms: still there.
    h.clock.set(t.minus(Duration::from_millis(1)));
    assert!(!h.kms.tick(), "nothing is due one millisecond early");
    assert_eq!(h.kms.key(key).unwrap().state(), KeyState::Enabled);
    assert_eq!(h.kms.next_event_time(), Some(t));
    assert_eq!(
        h.decrypt(&blob).unwrap().plaintext.expose(),
        b"before the expiry"
    );
    let before = h.kms.take_audit_records();
    assert!(expired_event(&before, id).is_empty());

    // T: the tick erases it.
    h.clock.set(t);
    assert!(h.kms.tick(), "the expiry changed the state");
    let k = h.kms.key(key).unwrap();
    assert_eq!(k.state(), KeyState::PendingImport);
    let m = k.material(id).unwrap();
    assert_eq!(m.import_state(), ImportState::PendingImport);
    assert_eq!(
        m.state(),
        KeyMaterialState::Current,
        "it stays the current material, without bytes"
    );
    assert_eq!(k.current_key_material_id(), Some(id));
    let records = h.kms.take_audit_records();
    assert_eq!(
        records.len(),
        1,
        "the tick itself is not an API call: {records:?}"
    );
    let event = &records[0];
    assert_eq!(event.event_name, "DeleteExpiredKeyMaterial");
    assert_eq!(event.event_type, "AwsServiceEvent");
    assert_eq!(event.event_time, "2026-01-01T01:00:00.250Z");
    assert_eq!(event.event_time, t.to_rfc3339());
    assert_eq!(
        event.additional("keyMaterialId"),
        Some(id.to_string().as_str())
    );
    assert_eq!(event.key_arn(), Some(h.arn(key).as_str()));
    assert!(!event.is_error());
    assert!(!h.kms.tick(), "an expiry happens once");

    let arn = h.arn(key);
    assert_err(
        h.decrypt(&blob),
        "KMSInvalidStateException",
        &format!("{arn} is pending import."),
    );
    assert_err(
        h.encrypt(key, b"x"),
        "KMSInvalidStateException",
        &format!("{arn} is pending import."),
    );

    // Re-importing the same bytes restores the material and the key.
    h.advance(Duration::from_secs(60));
    let again = import_with(
        &mut h,
        key,
        &material,
        Some(ImportType::ExistingKeyMaterial),
        None,
    );
    assert_eq!(again.key_material_id, id);
    assert_eq!(again.key_material_state, KeyMaterialState::Current);
    let k = h.kms.key(key).unwrap();
    assert_eq!(k.state(), KeyState::Enabled);
    let m = k.material(id).unwrap();
    assert_eq!(m.import_state(), ImportState::Imported);
    assert_eq!(
        m.expiration_model(),
        ExpirationModel::KeyMaterialDoesNotExpire
    );
    assert_eq!(m.valid_to(), None);
    assert_eq!(
        h.decrypt(&blob).unwrap().plaintext.expose(),
        b"before the expiry"
    );
}

#[test]
fn any_operation_applies_the_expiry_first() {
    let mut h = Harness::new();
    let key = h.create_external();
    let material = h.material();
    let t = START.plus(Duration::from_secs(90));
    let id = import_with(&mut h, key, &material, None, Some(t)).key_material_id;
    let blob = h.encrypt(key, b"secret").unwrap();
    h.kms.take_audit_records();

    // Nobody calls the engine until well after T; the first call sees the
    // key as it is at its own time, and the expiry is dated T.
    h.clock.set(t.plus(Duration::from_secs(30)));
    let arn = h.arn(key);
    assert_err(
        h.decrypt(&blob),
        "KMSInvalidStateException",
        &format!("{arn} is pending import."),
    );
    let records = h.kms.take_audit_records();
    assert_eq!(
        records
            .iter()
            .map(|r| (
                r.event_name.as_str(),
                r.event_type.as_str(),
                r.event_time.as_str()
            ))
            .collect::<Vec<_>>(),
        vec![
            (
                "DeleteExpiredKeyMaterial",
                "AwsServiceEvent",
                "2026-01-01T00:01:30Z"
            ),
            ("Decrypt", "AwsApiCall", "2026-01-01T00:02:00Z"),
        ]
    );
    assert_eq!(
        records[0].additional("keyMaterialId"),
        Some(id.to_string().as_str())
    );
    assert_eq!(
        records[1].error_code.as_deref(),
        Some("KMSInvalidStateException")
    );
    assert_eq!(
        h.kms.key(key).unwrap().material(id).unwrap().import_state(),
        ImportState::PendingImport
    );
    assert!(byok::kms::audit::verify_chain(&records).is_ok());
}

#[test]
fn an_expiring_pending_rotation_material_disappears_and_the_key_stays_enabled() {
    let mut h = Harness::new();
    let (key, _) = h.enabled_external();
    let m1 = h.kms.key(key).unwrap().current_key_material_id().unwrap();
    let material2 = h.material();
    let t = START.plus(Duration::from_secs(600));
    let m2 = import_with(
        &mut h,
        key,
        &material2,
        Some(ImportType::NewKeyMaterial),
        Some(t),
    )
    .key_material_id;
    assert_eq!(
        h.kms.key(key).unwrap().material(m2).unwrap().state(),
        KeyMaterialState::PendingRotation
    );
    let blob = h.encrypt(key, b"made with material 1").unwrap();
    h.kms.take_audit_records();

    h.clock.set(t);
    assert!(h.kms.tick());
    let k = h.kms.key(key).unwrap();
    assert_eq!(
        k.state(),
        KeyState::Enabled,
        "a pending material is not permanently associated"
    );
    assert!(
        k.material(m2).is_none(),
        "the pending material is gone entirely"
    );
    assert!(k.pending_material().is_none());
    assert_eq!(k.materials().len(), 1);
    assert_eq!(k.current_key_material_id(), Some(m1));
    let records = h.kms.take_audit_records();
    let events = expired_event(&records, m2);
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].event_time, t.to_rfc3339());
    assert_eq!(events[0].event_type, "AwsServiceEvent");

    assert_eq!(h.decrypt(&blob).unwrap().key_material_id, m1);
    let arn = h.arn(key);
    assert_err(
        h.rotate(key),
        "KMSInvalidStateException",
        &format!("No available key material pending rotation for the key: {arn}."),
    );
    // It left no trace: the same bytes are new material again.
    let back = import_with(
        &mut h,
        key,
        &material2,
        Some(ImportType::NewKeyMaterial),
        None,
    );
    assert_eq!(
        (back.key_material_id, back.key_material_state),
        (m2, KeyMaterialState::PendingRotation)
    );
}

#[test]
fn a_pending_material_expiring_during_its_rotation_cancels_the_rotation() {
    let settings = Settings {
        rotation_delay_ms: 3_600_000,
        ..Settings::default()
    };
    let mut h = Harness::with_settings(settings);
    let (key, _) = h.enabled_external();
    let m1 = h.kms.key(key).unwrap().current_key_material_id().unwrap();
    let material2 = h.material();
    let t0 = h.now();
    let m2 = import_with(
        &mut h,
        key,
        &material2,
        Some(ImportType::NewKeyMaterial),
        Some(t0.plus(Duration::from_secs(600))),
    )
    .key_material_id;
    h.rotate(key).unwrap();
    h.kms.take_audit_records();

    // At the expiry the rotation stops being in progress at once...
    h.clock.set(t0.plus(Duration::from_secs(600)));
    let caller = h.caller.clone();
    let status = h
        .kms
        .get_key_rotation_status(&caller, &key.to_string())
        .unwrap();
    assert_eq!(status.on_demand_rotation_start_date, None);
    assert_eq!(h.kms.key(key).unwrap().rotation_started(), None);
    // ... and "Rotate now" is refused for want of pending material, not
    // because a rotation is still running.
    let arn = h.arn(key);
    assert_err(
        h.rotate(key),
        "KMSInvalidStateException",
        &format!("No available key material pending rotation for the key: {arn}."),
    );

    h.clock.set(t0.plus(Duration::from_secs(7200)));
    assert!(!h.kms.tick(), "nothing more happens at the old due time");
    let records = h.kms.take_audit_records();
    assert_eq!(
        service_events(&records),
        vec![(
            "DeleteExpiredKeyMaterial".to_string(),
            "2026-01-01T00:10:00Z".to_string(),
            key.to_string()
        )],
        "the rotation, due at 01:00, never completes"
    );
    let k = h.kms.key(key).unwrap();
    assert_eq!(k.rotation_started(), None);
    assert_eq!(k.current_key_material_id(), Some(m1));
    assert_eq!(k.on_demand_rotations(), 0);
    assert!(k.material(m2).is_none());
    assert_eq!(k.state(), KeyState::Enabled);
}

#[test]
fn events_that_fell_due_meanwhile_are_applied_in_order_of_their_due_time() {
    let mut h = Harness::new(); // rotation delay 3 s
    let caller = h.caller.clone();
    // Key A: material 1 never expires; material 2 is pending and expires at t0 + 2 d.
    let (a, _) = h.enabled_external();
    let a1 = h.kms.key(a).unwrap().current_key_material_id().unwrap();
    let material_a2 = h.material();
    // Key B: its only material expires at t0 + 1 h.
    let b = h.create_external();
    let material_b = h.material();
    // Key C: scheduled for deletion at t0 + 7 d.
    let (c, _) = h.enabled_external();
    let blob_c = h.encrypt(c, b"key C").unwrap();

    let t0 = h.now();
    let t_rotation = t0.plus(Duration::from_secs(3));
    let t_b = t0.plus(Duration::from_secs(3600));
    let t_a2 = t0.plus(days(2));
    let t_c = t0.plus(days(7));
    let a2 = import_with(
        &mut h,
        a,
        &material_a2,
        Some(ImportType::NewKeyMaterial),
        Some(t_a2),
    )
    .key_material_id;
    let b1 = import_with(&mut h, b, &material_b, None, Some(t_b)).key_material_id;
    h.kms
        .schedule_key_deletion(&caller, &c.to_string(), Some(7))
        .unwrap();
    h.rotate(a).unwrap();
    h.kms.take_audit_records();

    // Nobody calls the engine for eight days.
    h.clock.set(t0.plus(days(8)));
    let ids = h.kms.list_keys(&caller, None, None).unwrap();
    let records = h.kms.take_audit_records();
    let names: Vec<(&str, &str, String)> = records
        .iter()
        .map(|r| {
            (
                r.event_name.as_str(),
                r.event_type.as_str(),
                r.event_time.clone(),
            )
        })
        .collect();
    assert_eq!(
        names,
        vec![
            ("RotateKey", "AwsServiceEvent", t_rotation.to_rfc3339()),
            (
                "DeleteExpiredKeyMaterial",
                "AwsServiceEvent",
                t_b.to_rfc3339()
            ),
            (
                "DeleteExpiredKeyMaterial",
                "AwsServiceEvent",
                t_a2.to_rfc3339()
            ),
            ("DeleteKey", "AwsServiceEvent", t_c.to_rfc3339()),
            ("ListKeys", "AwsApiCall", t0.plus(days(8)).to_rfc3339()),
        ]
    );
    assert_eq!(records[0].key_id(), Some(a.to_string().as_str()));
    assert_eq!(
        records[0].additional("previousKeyMaterialId"),
        Some(a1.to_string().as_str())
    );
    assert_eq!(
        records[0].additional("currentKeyMaterialId"),
        Some(a2.to_string().as_str())
    );
    assert_eq!(records[1].key_id(), Some(b.to_string().as_str()));
    assert_eq!(
        records[1].additional("keyMaterialId"),
        Some(b1.to_string().as_str())
    );
    assert_eq!(records[2].key_id(), Some(a.to_string().as_str()));
    assert_eq!(
        records[2].additional("keyMaterialId"),
        Some(a2.to_string().as_str())
    );
    assert_eq!(records[3].key_id(), Some(c.to_string().as_str()));
    byok::kms::audit::verify_chain(&records).expect("chain");

    // The effects are those of that order: material 2 became current at
    // t_rotation and then expired as a permanently associated material.
    assert_eq!(ids.items, {
        let mut v = vec![a, b];
        v.sort();
        v
    });
    let k = h.kms.key(a).unwrap();
    assert_eq!(k.current_key_material_id(), Some(a2));
    let m2 = k.material(a2).unwrap();
    assert_eq!(m2.state(), KeyMaterialState::Current);
    assert_eq!(m2.import_state(), ImportState::PendingImport);
    assert_eq!(m2.rotation_date(), Some(t_rotation));
    assert_eq!(
        k.material(a1).unwrap().state(),
        KeyMaterialState::NonCurrent
    );
    assert_eq!(k.state(), KeyState::PendingImport);
    assert_eq!(h.kms.key(b).unwrap().state(), KeyState::PendingImport);
    assert!(h.kms.key(c).is_none());
    assert_err(h.decrypt(&blob_c), "InvalidCiphertextException", "");
}

#[test]
fn describe_key_expiration_model_and_valid_to_follow_the_permanently_associated_materials() {
    let mut h = Harness::new();
    let caller = h.caller.clone();
    let key = h.create_external();
    let k = h.kms.key(key).unwrap();
    assert_eq!(
        (k.expiration_model(), k.valid_to()),
        (None, None),
        "no material yet"
    );

    let material1 = h.material();
    let m1 = import_with(&mut h, key, &material1, None, None).key_material_id;
    let k = h.kms.key(key).unwrap();
    assert_eq!(
        (k.expiration_model(), k.valid_to()),
        (Some(ExpirationModel::KeyMaterialDoesNotExpire), None)
    );

    // A pending material's expiry does not count (not permanently associated).
    let ta = START.plus(days(30));
    let material2 = h.material();
    let m2 = import_with(
        &mut h,
        key,
        &material2,
        Some(ImportType::NewKeyMaterial),
        Some(ta),
    )
    .key_material_id;
    let k = h.kms.key(key).unwrap();
    assert_eq!(
        (k.expiration_model(), k.valid_to()),
        (Some(ExpirationModel::KeyMaterialDoesNotExpire), None)
    );
    assert_eq!(
        k.next_expiry(),
        Some(ta),
        "the console still warns about it"
    );

    // Once it is current, it does.
    h.rotate(key).unwrap();
    h.finish_rotation();
    let k = h.kms.key(key).unwrap();
    assert_eq!(k.current_key_material_id(), Some(m2));
    assert_eq!(
        (k.expiration_model(), k.valid_to()),
        (Some(ExpirationModel::KeyMaterialExpires), Some(ta))
    );
    let metadata = byok::api::shapes::KeyMetadata::of(&h.kms, k);
    assert_eq!(
        metadata.expiration_model.as_deref(),
        Some("KEY_MATERIAL_EXPIRES")
    );
    assert_eq!(metadata.valid_to.map(|t| t.0), Some(ta));

    // ValidTo is the earliest over them.
    let tb = START.plus(days(10));
    import_with(
        &mut h,
        key,
        &material1,
        Some(ImportType::ExistingKeyMaterial),
        Some(tb),
    );
    let k = h.kms.key(key).unwrap();
    assert_eq!(
        (k.expiration_model(), k.valid_to()),
        (Some(ExpirationModel::KeyMaterialExpires), Some(tb))
    );

    // Material 1 expires at tb: only imported materials count.
    h.clock.set(tb);
    h.kms.tick();
    let k = h.kms.key(key).unwrap();
    assert_eq!(k.state(), KeyState::PendingImport);
    assert_eq!(
        (k.expiration_model(), k.valid_to()),
        (Some(ExpirationModel::KeyMaterialExpires), Some(ta))
    );

    // Re-imported without expiry; material 2 still expires at ta.
    import_with(
        &mut h,
        key,
        &material1,
        Some(ImportType::ExistingKeyMaterial),
        None,
    );
    let k = h.kms.key(key).unwrap();
    assert_eq!(k.state(), KeyState::Enabled);
    assert_eq!(
        (k.expiration_model(), k.valid_to()),
        (Some(ExpirationModel::KeyMaterialExpires), Some(ta))
    );

    // Material 2 expires at ta: what remains does not expire.
    h.clock.set(ta);
    let described = h.kms.describe_key(&caller, &key.to_string()).unwrap();
    let k = h.kms.key(described).unwrap();
    assert_eq!(
        k.material(m2).unwrap().import_state(),
        ImportState::PendingImport
    );
    assert_eq!(
        (k.expiration_model(), k.valid_to()),
        (Some(ExpirationModel::KeyMaterialDoesNotExpire), None)
    );

    // Nothing imported: both absent.
    h.delete_material(key, Some(&m1.to_string())).unwrap();
    let k = h.kms.key(key).unwrap();
    assert_eq!((k.expiration_model(), k.valid_to()), (None, None));
    let metadata = byok::api::shapes::KeyMetadata::of(&h.kms, k);
    assert_eq!((metadata.expiration_model, metadata.valid_to), (None, None));

    // AWS_KMS keys have neither.
    let generated = h.create_aws_kms();
    let k = h.kms.key(generated).unwrap();
    assert_eq!((k.expiration_model(), k.valid_to()), (None, None));
}

#[test]
fn valid_to_is_honoured_to_the_millisecond_across_a_day_jump() {
    // A material expiring one millisecond after another: a single jump past
    // both applies them in order, each at its own time.
    let mut h = Harness::new();
    let k1 = h.create_external();
    let k2 = h.create_external();
    let t = START.plus(days(1));
    let mat1 = h.material();
    let mat2 = h.material();
    let id2 = import_with(
        &mut h,
        k2,
        &mat2,
        None,
        Some(t.plus(Duration::from_millis(1))),
    )
    .key_material_id;
    let id1 = import_with(&mut h, k1, &mat1, None, Some(t)).key_material_id;
    h.kms.take_audit_records();
    h.clock.set(t.plus(days(3)));
    h.kms
        .encrypt(
            &h.caller.clone(),
            &k1.to_string(),
            b"late",
            &EncryptionContext::new(),
        )
        .unwrap_err();
    let records = h.kms.take_audit_records();
    let expired: Vec<(Option<&str>, &str)> = records
        .iter()
        .filter(|r| r.event_name == "DeleteExpiredKeyMaterial")
        .map(|r| (r.additional("keyMaterialId"), r.event_time.as_str()))
        .collect();
    assert_eq!(
        expired,
        vec![
            (Some(id1.to_string().as_str()), "2026-01-02T00:00:00Z"),
            (Some(id2.to_string().as_str()), "2026-01-02T00:00:00.001Z"),
        ]
    );
}
