//! The announcement's walkthrough (steps 1–7) driven through the engine.

mod common;

use std::time::Duration;

use byok::kms::{
    DataKeyLength, DataKeySpec, EncryptionContext, ImportState, ImportType, IncludeKeyMaterial, KeyMaterialState,
    KeyState, RotationType, WrappingAlgorithm, WrappingKeySpec,
};
use common::*;

#[test]
fn announcement_steps_one_to_seven() {
    let mut h = Harness::new();
    let caller = h.caller.clone();

    // Step 1: an EXTERNAL key starts in PendingImport, with no material.
    let key = h.create_external();
    let k = h.kms.key(key).unwrap();
    assert_eq!(k.state(), KeyState::PendingImport);
    assert_eq!(k.current_key_material_id(), None);
    assert_eq!(k.expiration_model(), None);
    assert_eq!(k.valid_to(), None);

    let params1 = h.params_with(key, WrappingAlgorithm::RsaesOaepSha256, WrappingKeySpec::Rsa4096);
    assert_eq!(params1.public_key.len(), 550, "DER SPKI of a 4096-bit key");
    assert_eq!(params1.parameters_valid_to, h.now().plus(Duration::from_secs(24 * 3600)));
    let material1 = h.material();
    let wrapped1 = h.wrap(&params1, WrappingAlgorithm::RsaesOaepSha256, &material1);
    let mut req1 = h.import_request(key, &params1, &material1, None);
    req1.encrypted_key_material = wrapped1.clone();
    req1.key_material_description = Some("KeyMaterial1 kept in HSM vault A".into());
    let imported1 = h.try_import(&req1).expect("first import");
    let m1 = imported1.key_material_id;
    assert_eq!(m1, byok::kms::material::key_material_id(key, &material1));
    assert_eq!(imported1.import_type, ImportType::NewKeyMaterial, "default for a key without material");
    let k = h.kms.key(key).unwrap();
    assert_eq!(k.state(), KeyState::Enabled);
    assert_eq!(k.current_key_material_id(), Some(m1));
    let all = h
        .kms
        .list_key_rotations(&caller, &key.to_string(), Some(IncludeKeyMaterial::AllKeyMaterial), None, None)
        .unwrap();
    assert_eq!(all.items.len(), 1);
    assert_eq!(all.items[0].key_material_id, m1);
    assert_eq!(all.items[0].key_material_state, KeyMaterialState::Current);
    assert_eq!(all.items[0].import_state, Some(ImportState::Imported));
    assert_eq!(all.items[0].key_material_description.as_deref(), Some("KeyMaterial1 kept in HSM vault A"));
    assert_eq!(all.items[0].rotation_date, None);
    let rotations_only = h.kms.list_key_rotations(&caller, &key.to_string(), None, None, None).unwrap();
    assert!(rotations_only.items.is_empty(), "no rotation yet");

    // Step 2: GenerateDataKey and Decrypt report material 1.
    let dk1 = h
        .kms
        .generate_data_key(
            &caller,
            &key.to_string(),
            Some(DataKeyLength::Spec(DataKeySpec::Aes256)),
            &EncryptionContext::new(),
            true,
        )
        .unwrap();
    assert_eq!(dk1.key_material_id, m1);
    let plain1 = dk1.plaintext.clone().unwrap();
    assert_eq!(plain1.len(), 32);
    let ciphertext1 = dk1.ciphertext_blob.clone();
    let d = h.decrypt(&ciphertext1).unwrap();
    assert_eq!(d.key_material_id, m1);
    assert_eq!(d.plaintext, plain1);

    // Step 3: a second material, NEW_KEY_MATERIAL, waits as PENDING_ROTATION.
    let material2 = h.material();
    let params2 = h.params_with(key, WrappingAlgorithm::RsaesOaepSha256, WrappingKeySpec::Rsa4096);
    let mut req2 = h.import_request(key, &params2, &material2, Some(ImportType::NewKeyMaterial));
    req2.key_material_description = Some("KeyMaterial2 kept in HSM vault A".into());
    let m2 = h.try_import(&req2).unwrap().key_material_id;
    assert_ne!(m1, m2);
    let all = h
        .kms
        .list_key_rotations(&caller, &key.to_string(), Some(IncludeKeyMaterial::AllKeyMaterial), None, None)
        .unwrap();
    assert_eq!(
        all.items.iter().map(|e| (e.key_material_id, e.key_material_state)).collect::<Vec<_>>(),
        vec![(m1, KeyMaterialState::Current), (m2, KeyMaterialState::PendingRotation)]
    );
    assert_eq!(h.kms.key(key).unwrap().state(), KeyState::Enabled);

    // Step 4: rotate on demand; it is asynchronous.
    h.rotate(key).unwrap();
    let started = h.now();
    let status = h.kms.get_key_rotation_status(&caller, &key.to_string()).unwrap();
    assert_eq!(status.on_demand_rotation_start_date, Some(started));
    assert!(!status.key_rotation_enabled);
    // while pending, encryption still uses material 1
    h.advance(Duration::from_millis(1000));
    let during = h.encrypt(key, b"during the rotation").unwrap();
    assert_eq!(h.decrypt(&during).unwrap().key_material_id, m1);
    assert_eq!(h.kms.key(key).unwrap().current_key_material_id(), Some(m1));
    // one millisecond before the delay: still pending
    h.advance(Duration::from_millis(1999));
    let status = h.kms.get_key_rotation_status(&caller, &key.to_string()).unwrap();
    assert_eq!(status.on_demand_rotation_start_date, Some(started));
    // at the delay it completes
    h.advance(Duration::from_millis(1));
    let status = h.kms.get_key_rotation_status(&caller, &key.to_string()).unwrap();
    assert_eq!(status.on_demand_rotation_start_date, None);
    let k = h.kms.key(key).unwrap();
    assert_eq!(k.current_key_material_id(), Some(m2));
    assert_eq!(k.on_demand_rotations(), 1);
    let all = h
        .kms
        .list_key_rotations(&caller, &key.to_string(), Some(IncludeKeyMaterial::AllKeyMaterial), None, None)
        .unwrap();
    assert_eq!(all.items[0].key_material_state, KeyMaterialState::NonCurrent);
    assert_eq!(all.items[1].key_material_state, KeyMaterialState::Current);
    assert_eq!(all.items[1].rotation_type, Some(RotationType::OnDemand));
    assert_eq!(all.items[1].rotation_date, Some(started.plus(Duration::from_secs(3))));
    let rotations_only = h.kms.list_key_rotations(&caller, &key.to_string(), None, None, None).unwrap();
    assert_eq!(rotations_only.items.iter().map(|e| e.key_material_id).collect::<Vec<_>>(), vec![m2]);

    // Step 5: new ciphertext uses material 2; the step-2 ciphertext still decrypts with material 1.
    let dk2 = h
        .kms
        .generate_data_key(
            &caller,
            &key.to_string(),
            Some(DataKeyLength::Spec(DataKeySpec::Aes256)),
            &EncryptionContext::new(),
            true,
        )
        .unwrap();
    assert_eq!(dk2.key_material_id, m2);
    let ciphertext2 = dk2.ciphertext_blob.clone();
    let d2 = h.decrypt(&ciphertext2).unwrap();
    assert_eq!((d2.key_material_id, &d2.plaintext), (m2, dk2.plaintext.as_ref().unwrap()));
    let d1 = h.decrypt(&ciphertext1).unwrap();
    assert_eq!((d1.key_material_id, &d1.plaintext), (m1, &plain1));

    // Step 6: delete material 1; the key becomes unusable, even for material 2's ciphertext.
    h.delete_material(key, Some(&m1.to_string())).unwrap();
    let k = h.kms.key(key).unwrap();
    assert_eq!(k.state(), KeyState::PendingImport);
    assert_eq!(k.material(m1).unwrap().import_state(), ImportState::PendingImport);
    let arn = h.arn(key);
    assert_err(h.decrypt(&ciphertext2), "KMSInvalidStateException", &format!("{arn} is pending import."));

    // Step 7: re-import material 1 with the same wrapped blob and token.
    let mut again = req1.clone();
    again.import_type = Some(ImportType::ExistingKeyMaterial);
    again.key_material_description = None;
    let back = h.try_import(&again).unwrap();
    assert_eq!(back.key_material_id, m1);
    assert_eq!(back.key_material_state, KeyMaterialState::NonCurrent);
    let k = h.kms.key(key).unwrap();
    assert_eq!(k.state(), KeyState::Enabled);
    assert_eq!(
        k.material(m1).unwrap().description(),
        Some("KeyMaterial1 kept in HSM vault A"),
        "a re-import without a description keeps the old one"
    );
    assert_eq!(h.decrypt(&ciphertext1).unwrap().plaintext, plain1);
    assert_eq!(h.decrypt(&ciphertext2).unwrap().key_material_id, m2);
}

#[test]
fn a_rotation_delay_of_zero_completes_before_the_next_call() {
    let mut settings = byok::kms::Settings::default();
    settings.rotation_delay_ms = 0;
    let mut h = Harness::with_settings(settings);
    let (key, _) = h.enabled_external();
    let m2 = h.material();
    let new = h.import(key, &m2, Some(ImportType::NewKeyMaterial)).key_material_id;
    h.rotate(key).unwrap();
    let caller = h.caller.clone();
    let status = h.kms.get_key_rotation_status(&caller, &key.to_string()).unwrap();
    assert_eq!(status.on_demand_rotation_start_date, None);
    assert_eq!(h.kms.key(key).unwrap().current_key_material_id(), Some(new));
}
