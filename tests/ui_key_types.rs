//! Key specs in the console (issue 8): an HMAC_256 key with imported
//! material created through the New key dialog, its material generated in
//! the import wizard at a length the spec takes, GenerateMac and VerifyMac
//! in the cryptography panel (the MAC checked against one computed here
//! with the `hmac` crate on the material the wizard saved), Rotate now
//! refused with AWS's message, and the manual rotation flow end to end — on
//! a local store and on an AWS account served by `byok serve`.

// Both helper modules bring the shared fixtures (tests/common) with them.
#![allow(clippy::duplicate_mod)]

#[path = "aws_support/mod.rs"]
mod aws;
#[path = "ui_support/mod.rs"]
mod support;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use byok::kms::{KeyState, ManualClock};
use byok::ui::view::KeyRef;
use byok::ui::{AppConfig, ConsoleApp};
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use support::*;

/// AWS's answer to RotateKeyOnDemand for an HMAC key. The RotateKeyOnDemand
/// API reference (<https://docs.aws.amazon.com/kms/latest/APIReference/API_RotateKeyOnDemand.html>):
/// "You cannot perform on-demand rotation of asymmetric KMS keys, HMAC KMS
/// keys, ..."; the text is the UnsupportedOperationException AWS answers
/// for such keys (recorded from AWS, floci-io/floci#586), the one
/// `kms::rules::require_symmetric_encryption` gives.
const NOT_ROTATABLE: &str = "You cannot perform this operation on a non-symmetric key or a key with non-ENCRYPT_DECRYPT key usage.";

/// HMAC-SHA-256 of `message` under `key` (RFC 2104), computed apart from
/// the engine.
fn hmac_sha256(key: &[u8], message: &[u8]) -> Vec<u8> {
    let mut m = <Hmac<Sha256> as KeyInit>::new_from_slice(key).expect("any key length");
    m.update(message);
    m.finalize().into_bytes().to_vec()
}

/// The value of the field labelled `label`.
fn field(h: &App<'_>, label: &str) -> String {
    h.get_by_label(label).value().unwrap_or_default()
}

/// Creates an HMAC key of `spec` with origin EXTERNAL through the New key
/// dialog; returns it (the console selects it).
fn create_hmac_key(h: &mut App<'_>, description: &str, spec: &str) -> KeyRef {
    click(h, "➕ New key");
    type_into(h, "Description", description);
    click(h, "Generate and verify MAC");
    click(h, spec);
    assert!(
        shows_part(
            h,
            &format!("CreateKey with KeySpec {spec}, KeyUsage GENERATE_VERIFY_MAC")
        ),
        "the dialog names the CreateKey parameters"
    );
    click(h, "Create key");
    wait_label(h, "Key created");
    let key = h.state().selected_key().expect("selected").clone();
    wait_key_state(h, &key, KeyState::PendingImport);
    key
}

/// The import wizard for the key on screen (or the new key of a manual
/// rotation): parameters, material generated here, a plaintext copy saved
/// to `copy`, ImportKeyMaterial. Returns the material the wizard saved.
fn import_generated(h: &mut App<'_>, copy: &std::path::Path, generate: &str) -> Vec<u8> {
    wait_label(h, "Get import parameters");
    click(h, "Get import parameters");
    wait_label(h, "Import parameters ready");
    click(h, "Next ›");
    click(h, "Generate and wrap here (training)");
    click(h, generate);
    wait_label(h, "Key check value");
    type_into(h, "Plaintext copy path", &copy.display().to_string());
    click(h, "Save copy");
    wait_for(h, "the plaintext copy", |_| copy.exists());
    let material = std::fs::read(copy).expect("the saved material");
    click(h, "Next ›");
    wait_label(h, "Import type");
    click(h, "Import");
    wait_label(h, "Key material imported");
    click(h, "Close");
    material
}

/// GenerateMac of the message in the panel; returns the MAC shown.
fn generate_mac(h: &mut App<'_>) -> Vec<u8> {
    let before = shows(h, "Mac (base64)").then(|| field(h, "Mac (base64)"));
    click(h, "Generate MAC");
    wait_for(h, "a new MAC", |h| {
        shows(h, "Mac (base64)") && Some(field(h, "Mac (base64)")) != before
    });
    B64.decode(field(h, "Mac (base64)")).expect("base64 MAC")
}

/// The whole HMAC story on a console whose store is open (local or AWS).
fn hmac_key_story(h: &mut App<'_>, dir: &std::path::Path) {
    // An HMAC_256 key with imported material.
    let key = create_hmac_key(h, "Webhook signing", "HMAC_256");
    let k = h.state().view().unwrap().key(&key).unwrap().clone();
    assert_eq!(k.key_spec_text, "HMAC_256");
    assert_eq!(k.key_usage_text, "GENERATE_VERIFY_MAC");
    assert_eq!(k.origin_text, "EXTERNAL");
    assert_eq!(k.mac_algorithms, vec!["HMAC_SHA_256".to_string()]);
    assert!(
        shows(h, "HMAC_256 · GENERATE_VERIFY_MAC"),
        "the detail header names spec and usage"
    );
    assert!(shows(h, "HMAC_256"), "the key list shows the spec");
    click(h, "Aliases, tags and description");
    type_into(h, "New alias", "alias/webhook-mac");
    click(h, "Add alias");
    wait_for(h, "the alias", |h| {
        h.state()
            .view()
            .and_then(|v| v.key(&key))
            .is_some_and(|k| k.aliases == ["alias/webhook-mac"])
    });

    // Rotate now is refused with AWS's message, before and after import.
    assert!(is_disabled(h, "⟳ Rotate now"));
    h.get_by_label("⟳ Rotate now").hover();
    wait_part(h, NOT_ROTATABLE);
    assert!(shows_part(h, "UnsupportedOperationException"));
    assert!(
        is_disabled(h, "Manual rotation…"),
        "nothing to rotate before the first material"
    );

    // A wrong-length file: wrapped, refused by ImportKeyMaterial with the
    // engine's (AWS's) exception and the length explained; nothing lost.
    click(h, "📥 Import key material…");
    wait_label(h, "Get import parameters");
    click(h, "Get import parameters");
    wait_label(h, "Import parameters ready");
    click(h, "Next ›");
    assert!(shows_part(
        h,
        "KeySpec HMAC_256 takes key material of 32 to 64 bytes"
    ));
    let short = dir.join("Short.bin");
    std::fs::write(&short, [7u8; 16]).unwrap();
    click(h, "Wrap a plaintext KeyMaterial.bin here");
    type_into(
        h,
        "Plaintext KeyMaterial.bin path",
        &short.display().to_string(),
    );
    click(h, "Wrap this material");
    wait_part(
        h,
        "This material is 16 bytes; KeySpec HMAC_256 takes 32 to 64 bytes.",
    );
    click(h, "Next ›");
    click(h, "Import");
    wait_label(h, "InvalidCiphertextException");
    assert!(shows_part(
        h,
        "⚠ This material is 16 bytes; KeySpec HMAC_256 takes 32 to 64 bytes."
    ));
    assert!(
        shows(h, "Where is the wrapped key material?"),
        "back at the material step, the parameters kept"
    );
    let still = h.state().view().unwrap().key(&key).unwrap().state;
    assert_eq!(still, KeyState::PendingImport, "nothing was imported");
    // The same wizard, generated material this time (the digest length).
    click(h, "Generate and wrap here (training)");
    click(h, "Generate 32 random bytes and wrap them");
    wait_label(h, "Key check value");
    let copy1 = dir.join("HmacMaterial1.bin");
    type_into(h, "Plaintext copy path", &copy1.display().to_string());
    click(h, "Save copy");
    wait_for(h, "the plaintext copy", |_| copy1.exists());
    let m1 = std::fs::read(&copy1).unwrap();
    assert_eq!(m1.len(), 32);
    click(h, "Next ›");
    click(h, "Import");
    wait_label(h, "Key material imported");
    click(h, "Close");
    wait_key_state(h, &key, KeyState::Enabled);
    assert!(
        is_disabled(h, "⟳ Rotate now"),
        "still no on-demand rotation"
    );

    // GenerateMac and VerifyMac in the cryptography panel.
    click(h, "Cryptography");
    assert!(
        !shows(h, "Encrypt") && !shows(h, "Generate data key"),
        "no encryption offered for a MAC key"
    );
    assert!(shows(h, "HMAC_SHA_256"), "the key's MacAlgorithm");
    let message = b"order 1234 paid";
    type_into(h, "Message", std::str::from_utf8(message).unwrap());
    let mac1 = generate_mac(h);
    assert_eq!(
        mac1,
        hmac_sha256(&m1, message),
        "HMAC-SHA-256 of the message under the imported material"
    );
    click(h, "Use in Verify ›");
    click(h, "Verify MAC");
    wait_label(h, "✔ MacValid: the MAC verifies (HMAC_SHA_256)");
    let mut wrong = mac1.clone();
    wrong[0] ^= 1;
    type_into(h, "MAC to verify (base64)", &B64.encode(&wrong));
    click(h, "Verify MAC");
    wait_label(h, "KMSInvalidMacException");

    // Manual rotation: a new key of the same kind, its material, the alias.
    click_first(h, "Keys");
    click(h, "Manual rotation…");
    wait_label(h, "Manual rotation of alias/webhook-mac");
    assert!(shows(
        h,
        "CreateKey  KeySpec=HMAC_256  KeyUsage=GENERATE_VERIFY_MAC  Origin=EXTERNAL"
    ));
    assert!(shows_part(h, "The old key stays."));
    click(h, "Create the new key (CreateKey)");
    wait_part(h, "✔ New key arn:aws:kms:");
    click(h, "Import key material into the new key…");
    let m2 = import_generated(
        h,
        &dir.join("HmacMaterial2.bin"),
        "Generate 32 random bytes and wrap them",
    );
    wait_part(h, "✔ The new key has its material");
    let new_arn = h
        .state()
        .view()
        .unwrap()
        .keys
        .iter()
        .find(|k| k.id != key && k.key_spec_text == "HMAC_256")
        .expect("the new key")
        .id
        .clone();
    let new_id = new_arn.arn().rsplit_once("key/").unwrap().1.to_string();
    assert!(shows(
        h,
        &format!("UpdateAlias  AliasName=alias/webhook-mac  TargetKeyId={new_id}")
    ));
    click(h, "Move alias/webhook-mac to the new key (UpdateAlias)");
    wait_label(
        h,
        "✔ Manual rotation complete: the aliases name the new key.",
    );
    click(h, "Close");
    wait_for(h, "the alias on the new key", |h| {
        let v = h.state().view().unwrap();
        v.key(&new_arn)
            .is_some_and(|k| k.aliases == ["alias/webhook-mac"])
            && v.key(&key).is_some_and(|k| k.aliases.is_empty())
    });
    let n = h.state().view().unwrap().key(&new_arn).unwrap().clone();
    assert_eq!(
        (
            n.key_spec_text.as_str(),
            n.key_usage_text.as_str(),
            n.origin_text.as_str()
        ),
        ("HMAC_256", "GENERATE_VERIFY_MAC", "EXTERNAL"),
        "same spec, usage and origin"
    );
    assert_eq!(n.state, KeyState::Enabled);

    // The old key (still selected) still verifies its old MAC.
    assert_eq!(h.state().selected_key(), Some(&key));
    let old = h.state().view().unwrap().key(&key).unwrap().clone();
    assert_eq!(old.state, KeyState::Enabled, "the old key stays");
    click(h, "Cryptography");
    type_into(h, "MAC to verify (base64)", &B64.encode(&mac1));
    click(h, "Verify MAC");
    wait_label(h, "✔ MacValid: the MAC verifies (HMAC_SHA_256)");

    // The new key makes MACs under the new material.
    click_first(h, "Keys");
    click_first(h, "alias/webhook-mac");
    wait_for(h, "the new key selected", |h| {
        h.state().selected_key() == Some(&new_arn)
    });
    click(h, "Cryptography");
    let mac2 = generate_mac(h);
    assert_eq!(mac2, hmac_sha256(&m2, message));
    assert_ne!(mac2, mac1);
}

#[test]
fn an_hmac_key_through_the_console_on_a_local_store() {
    let (dir, store) = temp();
    let clock = ManualClock::new(START);
    let mut h = console(&store, &clock);
    create_store(&mut h);
    hmac_key_story(&mut h, dir.path());
}

#[test]
fn an_hmac_key_through_the_console_on_an_aws_store() {
    let served = aws::Served::start(1000);
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("aws-officer.byok");
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
    type_into(&mut h, "Regions", &served.region);
    type_into(&mut h, "Endpoint URL", &served.url());
    type_into(&mut h, "byok file", &file.display().to_string());
    type_into(&mut h, "Passphrase of the byok file", "officer passphrase");
    type_into(
        &mut h,
        "Repeat the passphrase of the byok file",
        "officer passphrase",
    );
    click(&mut h, "Connect and create the byok file");
    wait_for(&mut h, "the AWS store to open", |h| {
        h.state().view().is_some_and(|v| v.is_aws() && v.complete)
    });
    hmac_key_story(&mut h, dir.path());

    // What the account itself says, through the SDK: the alias names the
    // new key, and the old key is still there.
    let b = served.backend();
    let aliases = byok::backend::send::<byok::api::op::ListAliases>(
        &b,
        &byok::api::shapes::ListAliasesInput::default(),
    )
    .expect("ListAliases");
    let alias = aliases
        .aliases
        .iter()
        .find(|a| a.alias_name == "alias/webhook-mac")
        .expect("the alias");
    let keys: Vec<_> = {
        let v = h.state().view().unwrap();
        v.keys
            .iter()
            .map(|k| (k.key_id.clone(), k.aliases.clone()))
            .collect()
    };
    let new = keys
        .iter()
        .find(|(_, a)| a.iter().any(|a| a == "alias/webhook-mac"))
        .expect("the new key in the view");
    assert_eq!(alias.target_key_id.as_deref(), Some(new.0.as_str()));
    assert_eq!(keys.len(), 2, "the old key stays");
}

/// The spec decides the length of generated material: an HMAC_384 key's is
/// 48 bytes, and its MAC is HMAC-SHA-384 of the saved bytes.
#[test]
fn generated_material_has_a_length_the_spec_takes() {
    let (dir, store) = temp();
    let clock = ManualClock::new(START);
    let mut h = console_sized(&store, &clock, egui::vec2(1280.0, 720.0));
    create_store(&mut h);
    let key = create_hmac_key(&mut h, "Audit log MAC", "HMAC_384");
    click(&mut h, "📥 Import key material…");
    let m = import_generated(
        &mut h,
        &dir.path().join("Hmac384.bin"),
        "Generate 48 random bytes and wrap them",
    );
    assert_eq!(m.len(), 48);
    assert!(
        byok::kms::KeySpec::Hmac384
            .material_lengths()
            .contains(&m.len())
    );
    wait_key_state(&mut h, &key, KeyState::Enabled);
    click(&mut h, "Cryptography");
    assert!(shows(&h, "HMAC_SHA_384"));
    type_into(&mut h, "Message", "entry 1");
    let mac = generate_mac(&mut h);
    let mut want = <Hmac<sha2::Sha384> as KeyInit>::new_from_slice(&m).unwrap();
    want.update(b"entry 1");
    assert_eq!(mac, want.finalize().into_bytes().to_vec());

    // The manual rotation flow fits a 1280×720 window.
    click_first(&mut h, "Keys");
    click(&mut h, "Manual rotation…");
    wait_label(&mut h, "Manual rotation of Audit log MAC");
    for label in ["Create the new key (CreateKey)", "Cancel"] {
        let r = h.get_by_label(label).rect();
        assert!(
            r.top() >= 0.0 && r.bottom() <= 720.0,
            "{label} is inside the window: {r:?}"
        );
    }
}

/// An asymmetric signing key through the console: New key offers the
/// usages and specs the AWS KMS Developer Guide's key spec reference allows
/// (<https://docs.aws.amazon.com/kms/latest/developerguide/symm-asymm-choose-key-spec.html>),
/// the import wizard takes the private key as a DER PKCS #8 file (what the
/// Developer Guide's `openssl pkcs8 -topk8 -outform der -nocrypt` writes),
/// offers no generated bytes, and the key ends Enabled with the public key
/// of that private key.
#[test]
fn an_rsa_signing_key_imports_its_pkcs8_private_key_through_the_wizard() {
    let (dir, store) = temp();
    let clock = ManualClock::new(START);
    let mut h = console(&store, &clock);
    create_store(&mut h);

    click(&mut h, "➕ New key");
    type_into(&mut h, "Description", "release signing");
    click(&mut h, "Sign and verify");
    click(&mut h, "RSA_2048");
    assert!(shows_part(
        &h,
        "CreateKey with KeySpec RSA_2048, KeyUsage SIGN_VERIFY"
    ));
    click(&mut h, "Create key");
    wait_label(&mut h, "Key created");
    let key = h.state().selected_key().expect("selected").clone();
    wait_key_state(&mut h, &key, KeyState::PendingImport);
    // Asymmetric keys do not rotate on demand (RotateKeyOnDemand API
    // reference): no count of the 25 on-demand rotations, in the list or
    // the detail, but the way they do rotate.
    wait_part(&mut h, "RSA_2048 keys rotate manually");
    assert!(shows(&h, "manual"), "the list's rotation column");
    assert!(!shows_part(&h, "0/25"), "no on-demand count for this key");

    // The private key, made with OpenSSL as the Developer Guide does.
    let pem = dir.path().join("key.pem");
    let der = dir.path().join("PrivateKey.der");
    let run = |args: &[&str]| {
        let out = std::process::Command::new("openssl")
            .args(args)
            .output()
            .expect("openssl");
        assert!(out.status.success(), "openssl {args:?}: {out:?}");
    };
    run(&[
        "genpkey",
        "-algorithm",
        "RSA",
        "-pkeyopt",
        "rsa_keygen_bits:2048",
        "-out",
        pem.to_str().unwrap(),
    ]);
    run(&[
        "pkcs8",
        "-topk8",
        "-outform",
        "der",
        "-nocrypt",
        "-in",
        pem.to_str().unwrap(),
        "-out",
        der.to_str().unwrap(),
    ]);

    click(&mut h, "📥 Import key material…");
    wait_label(&mut h, "Get import parameters");
    click(&mut h, "Get import parameters");
    wait_label(&mut h, "Import parameters ready");
    click(&mut h, "Next ›");
    assert!(shows_part(
        &h,
        "KeySpec RSA_2048 takes key material of an RSA_2048 private key, DER PKCS #8"
    ));
    assert!(
        is_disabled(&h, "Generate and wrap here (training)"),
        "random bytes are no private key"
    );
    click(&mut h, "Wrap a plaintext KeyMaterial.bin here");
    type_into(
        &mut h,
        "Plaintext KeyMaterial.bin path",
        der.to_str().unwrap(),
    );
    click(&mut h, "Wrap this material");
    click(&mut h, "Next ›");
    wait_label(&mut h, "Import type");
    click(&mut h, "Import");
    wait_label(&mut h, "Key material imported");
    click(&mut h, "Close");
    wait_key_state(&mut h, &key, KeyState::Enabled);

    // The key now holds that private key: its public key is OpenSSL's.
    let spki = std::process::Command::new("openssl")
        .args([
            "pkey",
            "-in",
            pem.to_str().unwrap(),
            "-pubout",
            "-outform",
            "der",
        ])
        .output()
        .expect("openssl pkey");
    click(&mut h, "🔒 Lock");
    wait_label(&mut h, "Open a store");
    wait_until_released(&store);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_byok"))
        .args([
            "kms",
            "get-public-key",
            "--key-id",
            key.arn(),
            "--query",
            "PublicKey",
            "--output",
            "text",
        ])
        .env("BYOK_STORE", &store)
        .env("BYOK_PASSPHRASE", "correct horse battery")
        .output()
        .expect("byok kms get-public-key");
    assert!(out.status.success(), "get-public-key: {out:?}");
    let public = B64
        .decode(String::from_utf8_lossy(&out.stdout).trim())
        .expect("base64");
    assert_eq!(public, spki.stdout, "the imported private key's public key");
}
