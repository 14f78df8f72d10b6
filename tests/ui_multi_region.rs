//! A multi-Region key in the console (issue 8): a primary made with
//! `byok kms create-key --multi-region` and replicated to eu-west-1 with
//! `byok kms replicate-key` shows, in the store's region, that it is the
//! primary of a set and where its replicas are — the DescribeKey
//! `MultiRegionConfiguration` (ReplicateKey and DescribeKey API references:
//! `MultiRegionKeyType` PRIMARY, `ReplicaKeys` with each `Region`).

#[path = "ui_support/mod.rs"]
mod support;

use byok::kms::ManualClock;
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
