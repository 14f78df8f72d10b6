//! A multi-Region key in the console (issue 8): a primary made with
//! `byok kms create-key --multi-region` and replicated to eu-west-1 with
//! `byok kms replicate-key` shows, in the store's region, that it is the
//! primary of a set and where its replicas are — the DescribeKey
//! `MultiRegionConfiguration` (ReplicateKey and DescribeKey API references:
//! `MultiRegionKeyType` PRIMARY, `ReplicaKeys` with each `Region`).

#[path = "ui_support/mod.rs"]
mod support;

use byok::kms::{KeyState, ManualClock};
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

    click(&mut h, "➕ New key");
    type_into(&mut h, "Description", "payments-global");
    click(&mut h, "Multi-Region key");
    click(&mut h, "Create key");
    wait_label(&mut h, "Key created");
    let primary = h.state().selected_key().expect("selected").clone();
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

    click(&mut h, "Replicate key…");
    type_into(&mut h, "Replica Region", "eu-west-1");
    click(&mut h, "Replicate key");
    wait_part(&mut h, "Replica created in eu-west-1");
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
