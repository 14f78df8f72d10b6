//! A multi-Region key in the console (issue 8): a primary made with
//! `byok kms create-key --multi-region` and replicated to eu-west-1 with
//! `byok kms replicate-key` shows, in the store's region, that it is the
//! primary of a set and where its replicas are — the DescribeKey
//! `MultiRegionConfiguration` (ReplicateKey and DescribeKey API references:
//! `MultiRegionKeyType` PRIMARY, `ReplicaKeys` with each `Region`).

#[path = "ui_support/mod.rs"]
mod support;

use byok::kms::{KeyMaterialState, KeyState, ManualClock};
use support::*;

/// `byok kms <args>` on the store; returns standard output.
fn kms(store: &std::path::Path, args: &[&str]) -> String {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_byok"))
        .arg("kms")
        .args(args)
        .env("BYOK_STORE", store)
        .env("BYOK_PASSPHRASE", "correct horse battery")
        .output()
        .expect("byok kms");
    assert!(out.status.success(), "byok kms {args:?}: {out:?}");
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

#[test]
fn a_multi_region_primary_names_its_replicas_in_the_key_detail() {
    let (_dir, store) = temp();
    let clock = ManualClock::new(START);
    let mut h = console(&store, &clock);
    create_store(&mut h);
    lock(&mut h, &store);

    let id = kms(
        &store,
        &[
            "create-key",
            "--multi-region",
            "--description",
            "payments-global",
            "--query",
            "KeyMetadata.KeyId",
            "--output",
            "text",
        ],
    );
    assert!(id.starts_with("mrk-"), "a multi-Region key id: {id}");

    reopen(&mut h);
    click_first(&mut h, "payments-global");
    wait_label(&mut h, "Multi-Region primary · no replicas yet");

    lock(&mut h, &store);
    kms(
        &store,
        &[
            "replicate-key",
            "--key-id",
            &id,
            "--replica-region",
            "eu-west-1",
        ],
    );
    reopen(&mut h);
    click_first(&mut h, "payments-global");
    wait_label(&mut h, "Multi-Region primary · replicas in eu-west-1");
}

/// The whole multi-Region story by point and click, in a local store: a
/// multi-Region key made with New key, its material imported, replicated
/// to eu-west-1 with Replicate key…, the replica found through the set's
/// link, other material refused by the replica, the same material
/// accepted, and the primary moved to eu-west-1 with Change primary
/// Region…. Sources: CreateKey (`MultiRegion`), ReplicateKey ("the replica
/// key ... has no key material ... Pending import"; import "the same key
/// material"), ImportKeyMaterial (`IncorrectKeyMaterialException` for other
/// material) and UpdatePrimaryRegion API references.
#[test]
fn the_console_replicates_a_key_imports_into_the_replica_and_moves_the_primary() {
    let (dir, store) = temp();
    let clock = ManualClock::new(START);
    let mut h = console(&store, &clock);
    create_store(&mut h);

    let primary = create_multi_region_key(&mut h, "payments-global");
    assert!(
        primary.arn().starts_with("arn:aws:kms:us-east-1:") && primary.arn().contains(":key/mrk-"),
        "a multi-Region key in the store's Region: {primary}"
    );
    wait_label(&mut h, "Multi-Region primary · no replicas yet");
    wait_label(&mut h, "us-east-1 · primary (this key)");

    let material = dir.path().join("KeyMaterial.bin");
    std::fs::write(
        &material,
        (0u8..32)
            .map(|i| i.wrapping_mul(37) ^ 0x5a)
            .collect::<Vec<_>>(),
    )
    .unwrap();
    let other = dir.path().join("Other.bin");
    std::fs::write(&other, [0x42u8; 32]).unwrap();
    import_file_through_wizard(&mut h, &material, "Key material imported");
    click(&mut h, "Close");
    wait_key_state(&mut h, &primary, KeyState::Enabled);

    replicate_selected(&mut h, "eu-west-1");
    wait_label(&mut h, "Multi-Region primary · replicas in eu-west-1");

    // The list holds both keys of the set, each with its Region's ARN.
    let view = h.state().view().expect("a view").clone();
    let id = engine_id(&primary).to_string();
    let mut regions: Vec<&str> = view
        .keys
        .iter()
        .filter(|k| k.key_id == id)
        .map(|k| k.region.as_str())
        .collect();
    regions.sort();
    assert_eq!(regions, ["eu-west-1", "us-east-1"]);

    click(&mut h, "eu-west-1 · replica");
    wait_label(&mut h, "eu-west-1 · replica (this key)");
    let replica = h.state().selected_key().expect("selected").clone();
    assert!(
        replica.arn().starts_with("arn:aws:kms:eu-west-1:"),
        "{replica}"
    );
    assert!(replica.arn().ends_with(&id));
    wait_key_state(&mut h, &replica, KeyState::PendingImport);
    wait_label(&mut h, "Multi-Region replica · primary in us-east-1");
    assert!(!shows(&h, "Replicate key…"), "a replica is not replicated");
    // Never imported here: the state note says so, not "was deleted".
    wait_part(
        &mut h,
        "this replica has none of its set's key material yet",
    );
    assert!(!shows_part(&h, "was deleted"));

    // Other material is refused by the replica; the same is accepted.
    import_file_through_wizard(&mut h, &other, "IncorrectKeyMaterialException");
    click(&mut h, "Cancel");
    wait_key_state(&mut h, &replica, KeyState::PendingImport);
    import_file_through_wizard(&mut h, &material, "Key material imported");
    click(&mut h, "Close");
    wait_key_state(&mut h, &replica, KeyState::Enabled);

    // The primary moves to eu-west-1.
    click(&mut h, "us-east-1 · primary");
    wait_label(&mut h, "us-east-1 · primary (this key)");
    click(&mut h, "Change primary Region…");
    click(&mut h, "Change primary Region");
    wait_part(&mut h, "eu-west-1 is now the primary Region");
    wait_label(&mut h, "Multi-Region replica · primary in eu-west-1");
    click(&mut h, "eu-west-1 · primary");
    wait_label(&mut h, "Multi-Region primary · replicas in us-east-1");
}

/// On-demand rotation of a multi-Region set by point and click, as the
/// RotateKeyOnDemand API reference describes it for multi-Region keys with
/// imported material: new material imported into the primary waits as
/// `PENDING_MULTI_REGION_IMPORT_AND_ROTATION` (Rotate now refused) until
/// the same material is imported into every replica (the wizard starts the
/// replica on `EXISTING_KEY_MATERIAL` of that material); it is then
/// `PENDING_ROTATION`, and Rotate now on the primary makes it current in
/// every Region.
#[test]
fn a_multi_region_set_rotates_once_its_replicas_hold_the_new_material() {
    let (dir, store) = temp();
    let clock = ManualClock::new(START);
    let mut h = console(&store, &clock);
    create_store(&mut h);
    let primary = create_multi_region_key(&mut h, "payments-global");
    let first = dir.path().join("First.bin");
    std::fs::write(&first, [0x11u8; 32]).unwrap();
    let second = dir.path().join("Second.bin");
    std::fs::write(&second, [0x22u8; 32]).unwrap();
    import_file_through_wizard(&mut h, &first, "Key material imported");
    click(&mut h, "Close");
    replicate_selected(&mut h, "eu-west-1");
    click(&mut h, "eu-west-1 · replica");
    wait_label(&mut h, "eu-west-1 · replica (this key)");
    let replica = h.state().selected_key().expect("selected").clone();
    import_file_through_wizard(&mut h, &first, "Key material imported");
    click(&mut h, "Close");
    wait_key_state(&mut h, &replica, KeyState::Enabled);

    // New material into the primary: pending until the replica has it.
    click(&mut h, "us-east-1 · primary");
    wait_label(&mut h, "us-east-1 · primary (this key)");
    import_file_through_wizard(&mut h, &second, "Key material imported");
    click(&mut h, "Close");
    let waiting = |h: &App<'_>, key: &byok::ui::view::KeyRef, state: KeyMaterialState| {
        h.state()
            .view()
            .and_then(|v| v.key(key))
            .is_some_and(|k| k.materials.iter().any(|m| m.state == state))
    };
    wait_for(
        &mut h,
        "the primary's new material to wait for the replicas",
        |h| {
            waiting(
                h,
                &primary,
                KeyMaterialState::PendingMultiRegionImportAndRotation,
            )
        },
    );
    wait_label(&mut h, "PENDING_MULTI_REGION_IMPORT_AND_ROTATION");
    wait_part(
        &mut h,
        "waits for the replicas (PENDING_MULTI_REGION_IMPORT_AND_ROTATION): import the same material into each replica (eu-west-1)",
    );
    assert!(
        is_disabled(&h, "⟳ Rotate now"),
        "the replica lacks the new material"
    );

    // The replica's wizard re-imports exactly the material it misses.
    click(&mut h, "eu-west-1 · replica");
    wait_label(&mut h, "eu-west-1 · replica (this key)");
    wait_part(&mut h, "is new material of the primary in us-east-1");
    import_file_through_wizard(&mut h, &second, "Key material imported");
    click(&mut h, "Close");
    wait_part(&mut h, "Rotate now on the primary in us-east-1");

    click(&mut h, "us-east-1 · primary");
    wait_for(&mut h, "the new material to be pending rotation", |h| {
        waiting(h, &primary, KeyMaterialState::PendingRotation)
    });
    wait_for(&mut h, "Rotate now", |h| !is_disabled(h, "⟳ Rotate now"));
    click(&mut h, "⟳ Rotate now");
    click(&mut h, "⟳ Rotate");
    wait_part(&mut h, "Rotation in progress");
    clock.advance(std::time::Duration::from_secs(60));
    wait_for(&mut h, "the rotation to complete", |h| {
        !shows_part(h, "Rotation in progress")
    });
    // Both keys of the set have the second material current.
    let view = h.state().view().unwrap().clone();
    let current = |key: &byok::ui::view::KeyRef| view.key(key).unwrap().current;
    assert!(current(&primary).is_some());
    assert_eq!(
        current(&primary),
        current(&replica),
        "one current material in the set"
    );
    let primary_view = view.key(&primary).unwrap();
    assert_eq!(primary_view.materials.len(), 2);
    assert_eq!(primary_view.on_demand_rotations, 1);
}
