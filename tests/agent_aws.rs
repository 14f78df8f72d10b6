//! `byok agent` on an AWS store, as an officer runs it from the command
//! line (issue 12): `byok store connect-aws` makes the store an AWS store
//! (here the account is a `byok serve` on loopback, reached with the AWS
//! SDK's default credential chain from the environment), then escrow, a
//! rotation policy, the runner, the kill switch and the restore, each a
//! `byok agent` command.

mod aws_support;

use std::path::Path;
use std::process::{Command, Output};

use aws_support::{Served, describe, import, material, params, wrap};
use byok::api::op;
use byok::api::shapes::*;
use byok::api::wire::Blob;
use byok::backend::send;

fn byok(served: &Served, home: &Path, store: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_byok"))
        .arg("--store")
        .arg(store)
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", home)
        .env("BYOK_PASSPHRASE", "the aws store")
        .env("BYOK_INSECURE_FAST_KDF", "1")
        .env("AWS_ACCESS_KEY_ID", &served.access_key_id)
        .env("AWS_SECRET_ACCESS_KEY", &served.secret)
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .output()
        .expect("run byok")
}

#[track_caller]
fn ok(out: Output) -> String {
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "exit {:?}\n{stdout}\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

#[test]
fn an_officer_runs_the_key_manager_on_an_aws_account_from_the_command_line() {
    let served = Served::start(0);
    let b = served.backend();
    let home = tempfile::tempdir().unwrap();
    let store = home.path().join("aws.byok");
    let url = served.url();

    // A key in the account with a first material, made by the custodian.
    let arn = send::<op::CreateKey>(
        &b,
        &CreateKeyInput {
            origin: Some("EXTERNAL".into()),
            ..Default::default()
        },
    )
    .unwrap()
    .key_metadata
    .arn;
    let first = material();
    let p = params(&b, &arn);
    let first_id = import(
        &b,
        &arn,
        &p.import_token,
        &wrap(&p.public_key, &first),
        None,
        Some("custodian"),
    )
    .unwrap()
    .key_material_id;
    let sealed = send::<op::Encrypt>(
        &b,
        &EncryptInput {
            key_id: Some(arn.clone()),
            plaintext: Some(Blob::copy_of(b"made before everything")),
            ..Default::default()
        },
    )
    .unwrap()
    .ciphertext_blob;

    let out = ok(byok(
        &served,
        home.path(),
        &store,
        &[
            "--endpoint-url",
            &url,
            "--region",
            &served.region,
            "store",
            "connect-aws",
        ],
    ));
    assert!(out.contains("\"Keys\": \"1 in"), "{out}");

    let file = home.path().join("first.bin");
    std::fs::write(&file, first).unwrap();
    let out = ok(byok(
        &served,
        home.path(),
        &store,
        &[
            "agent",
            "escrow",
            "deposit",
            &arn,
            &first_id,
            "--material",
            file.to_str().unwrap(),
        ],
    ));
    assert!(out.contains("kept in the store"), "{out}");
    std::fs::remove_file(&file).unwrap();

    let out = ok(byok(
        &served,
        home.path(),
        &store,
        &[
            "agent",
            "policy",
            "set",
            &arn,
            "--escrow",
            "--rotate-every-days",
            "90",
            "--rotate-now",
        ],
    ));
    assert!(out.contains("due now (adds $1 a month)"), "{out}");

    let out = ok(byok(&served, home.path(), &store, &["agent"]));
    assert!(out.contains("rotated to material"), "{out}");
    let current = describe(&b, &arn).current_key_material_id.unwrap();
    assert_ne!(current, first_id);
    let out = ok(byok(&served, home.path(), &store, &["agent"]));
    assert!(out.contains("Nothing is due."), "{out}");

    let out = ok(byok(&served, home.path(), &store, &["agent", "inventory"]));
    assert!(out.contains(&current) && out.contains(&first_id), "{out}");
    assert_eq!(out.matches("escrow kept in the store").count(), 2, "{out}");

    // Without --yes the kill switch only previews.
    let out = byok(
        &served,
        home.path(),
        &store,
        &["agent", "suspend", "--key", &arn],
    );
    assert_eq!(out.status.code(), Some(252));
    assert!(String::from_utf8_lossy(&out.stdout).contains("deletes 2 material(s)"));
    assert_eq!(describe(&b, &arn).key_state, "Enabled");

    let out = ok(byok(
        &served,
        home.path(),
        &store,
        &["agent", "suspend", "--key", &arn, "--yes"],
    ));
    assert!(out.contains("key state PendingImport"), "{out}");
    assert_eq!(describe(&b, &arn).key_state, "PendingImport");

    let out = ok(byok(
        &served,
        home.path(),
        &store,
        &["agent", "restore", "--key", &arn],
    ));
    assert!(out.contains("key state Enabled"), "{out}");
    assert_eq!(describe(&b, &arn).key_state, "Enabled");
    let plain = send::<op::Decrypt>(
        &b,
        &DecryptInput {
            ciphertext_blob: Some(sealed),
            ..Default::default()
        },
    )
    .unwrap()
    .plaintext;
    assert_eq!(plain.bytes(), b"made before everything");

    // The AWS store's own trail proves itself and holds each step.
    let out = ok(byok(&served, home.path(), &store, &["audit", "verify"]));
    assert!(out.starts_with("OK:"), "{out}");
    let out = ok(byok(&served, home.path(), &store, &["audit", "export"]));
    for event in [
        "KeyManagerEscrowDeposited",
        "KeyManagerStep",
        "ImportKeyMaterial",
        "RotateKeyOnDemand",
        "DeleteImportedKeyMaterial",
    ] {
        assert!(
            out.contains(event),
            "{event} missing from the AWS store's trail"
        );
    }
}
