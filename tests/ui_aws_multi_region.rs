//! A multi-Region key in the console on an **AWS store** of two Regions
//! (`us-east-1, eu-west-1`), whose endpoint is `byok serve` on loopback:
//! the real `aws-sdk-kms` and SigV4, one client per Region. The key is
//! made with New key (CreateKey `MultiRegion`), replicated with Replicate
//! key… (ReplicateKey, sent to the primary's Region), the replica listed by
//! eu-west-1's ListKeys and opened through the set's link, and the primary
//! moved with Change primary Region… (UpdatePrimaryRegion). Sources: the
//! CreateKey, ReplicateKey, DescribeKey (`MultiRegionConfiguration`) and
//! UpdatePrimaryRegion API references.

// Both helper modules bring the shared fixtures (tests/common) with them.
#![allow(clippy::duplicate_mod)]

#[path = "aws_support/mod.rs"]
mod aws;
#[path = "ui_support/mod.rs"]
mod support;

use byok::kms::{KeyState, ManualClock};
use byok::ui::{AppConfig, ConsoleApp};
use egui_kittest::Harness;
use support::*;

#[test]
fn an_aws_store_of_two_regions_replicates_a_key_and_moves_its_primary() {
    let served = aws::Served::start(1000);
    assert_eq!(served.region, "us-east-1");
    let dir = tempfile::tempdir().unwrap();
    let mut config = AppConfig::for_tests(
        dir.path().join("local.byok"),
        ManualClock::new(START),
        || Box::new(test_keys()),
    );
    config.aws_options = Some(served.options());
    let mut h: App<'static> = Harness::builder()
        .with_size(egui::vec2(1600.0, 1000.0))
        .with_max_steps(400)
        .build_eframe(move |cc| ConsoleApp::new(cc, config));

    wait_label(&mut h, "AWS account");
    type_into(&mut h, "Regions", "us-east-1, eu-west-1");
    type_into(&mut h, "Endpoint URL", &served.url());
    let file = dir.path().join("account.byok");
    type_into(&mut h, "byok file", &file.display().to_string());
    type_into(&mut h, "Passphrase of the byok file", "officer passphrase");
    type_into(
        &mut h,
        "Repeat the passphrase of the byok file",
        "officer passphrase",
    );
    click(&mut h, "Connect and create the byok file");
    wait_for(&mut h, "the AWS store to open", |h| {
        h.state()
            .view()
            .is_some_and(|v| v.is_aws() && v.complete && v.backend.regions.len() == 2)
    });

    let primary = create_multi_region_key(&mut h, "payments-global");
    assert!(primary.arn().contains(":us-east-1:") && primary.arn().contains(":key/mrk-"));
    wait_label(&mut h, "Multi-Region primary · no replicas yet");

    // The dialog offers the connection's other Region.
    click(&mut h, "Replicate key…");
    click(&mut h, "eu-west-1");
    click(&mut h, "Replicate key");
    wait_part(&mut h, "Replica created in eu-west-1");
    wait_label(&mut h, "Multi-Region primary · replicas in eu-west-1");

    // The account holds the replica in eu-west-1: the served store says so.
    let id = primary.arn().rsplit_once("key/").unwrap().1.to_string();
    {
        let mut v = served.vault.lock().unwrap();
        let replica_state = v.read_in_region("eu-west-1", |kms| {
            kms.keys()
                .find(|k| k.id().to_string() == id)
                .map(|k| k.state())
        });
        assert_eq!(replica_state, Some(KeyState::PendingImport));
    }

    // eu-west-1's ListKeys lists it; the set's link opens it.
    wait_for(&mut h, "the replica in the key list", |h| {
        h.state().view().is_some_and(|v| {
            v.keys
                .iter()
                .any(|k| k.key_id == id && k.region == "eu-west-1")
        })
    });
    click(&mut h, "eu-west-1 · replica");
    wait_label(&mut h, "eu-west-1 · replica (this key)");
    let replica = h.state().selected_key().expect("selected").clone();
    assert!(
        replica.arn().starts_with("arn:aws:kms:eu-west-1:"),
        "{replica}"
    );
    wait_label(&mut h, "Multi-Region replica · primary in us-east-1");

    // UpdatePrimaryRegion, sent to the primary's Region.
    click(&mut h, "us-east-1 · primary");
    click(&mut h, "Change primary Region…");
    click(&mut h, "Change primary Region");
    wait_part(&mut h, "eu-west-1 is now the primary Region");
    wait_label(&mut h, "Multi-Region replica · primary in eu-west-1");
    let v = served.vault.lock().unwrap();
    assert_eq!(
        v.kms()
            .primary_region(byok::kms::KeyId::parse(&id).unwrap()),
        Some("eu-west-1")
    );
}
