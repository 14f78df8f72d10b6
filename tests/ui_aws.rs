//! The console on an AWS store: the announcement's seven steps driven by
//! label, against an AWS account whose endpoint is `byok serve` on
//! loopback — the real `aws-sdk-kms`, real SigV4, real HTTP. The console
//! does not know it is not AWS: everything it shows comes through the AWS
//! backend, its key list from ListKeys/DescribeKey/ListKeyRotations, and
//! what it asked AWS goes into its own store's trail, with AWS's request ids.

// Both helper modules bring the shared fixtures (tests/common) with them.
#![allow(clippy::duplicate_mod)]

#[path = "aws_support/mod.rs"]
mod aws;
#[path = "ui_support/mod.rs"]
mod support;

use std::time::Duration;

use byok::kms::{KeyMaterialState, KeyState, ManualClock, WrappingAlgorithm, wrap_material};
use byok::ui::{AppConfig, ConsoleApp};
use egui_kittest::Harness;
use support::*;

/// A console configured to reach `served` with its credentials.
fn console_for(served: &aws::Served, store: &std::path::Path) -> App<'static> {
    let mut config = AppConfig::for_tests(store.to_path_buf(), ManualClock::new(START), || {
        Box::new(test_keys())
    });
    config.aws_options = Some(served.options());
    Harness::builder()
        .with_size(egui::vec2(1600.0, 1000.0))
        .with_max_steps(400)
        .build_eframe(move |cc| ConsoleApp::new(cc, config))
}

fn connect(h: &mut App<'_>, served: &aws::Served, file: &std::path::Path, create: bool) {
    wait_label(h, "AWS account");
    type_into(h, "Regions", &served.region);
    type_into(h, "Endpoint URL", &served.url());
    type_into(h, "byok file", &file.display().to_string());
    type_into(h, "Passphrase of the byok file", "officer passphrase");
    if create {
        type_into(
            h,
            "Repeat the passphrase of the byok file",
            "officer passphrase",
        );
        click(h, "Connect and create the byok file");
    } else {
        click(h, "Connect");
    }
    wait_for(h, "the AWS store to open", |h| {
        h.state().view().is_some_and(|v| v.is_aws() && v.complete)
    });
}

fn get_parameters(h: &mut App<'_>, dir: &std::path::Path) -> Vec<u8> {
    click(h, "Get import parameters");
    wait_label(h, "Import parameters ready");
    type_into(
        h,
        "Folder for PublicKey.bin and ImportToken.bin",
        &dir.display().to_string(),
    );
    let pk = dir.join("PublicKey.bin");
    let _ = std::fs::remove_file(&pk);
    click(h, "Save both to folder");
    wait_for(h, "PublicKey.bin", |_| pk.exists());
    std::fs::read(&pk).expect("PublicKey.bin")
}

#[test]
fn the_seven_steps_through_the_console_on_an_aws_store() {
    let served = aws::Served::start(1000);
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("aws-officer.byok");
    let mut h = console_for(&served, &dir.path().join("local.byok"));
    connect(&mut h, &served, &file, true);
    assert!(
        shows_part(&h, "0 keys"),
        "the account is empty and fully listed"
    );

    // Step 1: CreateKey with Origin EXTERNAL, through the SDK.
    click(&mut h, "➕ New key");
    type_into(&mut h, "Description", "imported key");
    click(&mut h, "Create key");
    wait_label(&mut h, "Key created");
    let key = h.state().selected_key().expect("selected").clone();
    assert!(key.arn().starts_with(&format!(
        "arn:aws:kms:{}:{}:key/",
        served.region, served.account
    )));
    wait_key_state(&mut h, &key, KeyState::PendingImport);

    // Steps 2–3: parameters, the first material wrapped by the custodian
    // (here, the test with the same RSA-OAEP + RFC 5649 as OpenSSL), import.
    let mut rng = rand::rng();
    let m1 = [0x11u8; 32];
    click(&mut h, "📥 Import key material…");
    let public_key = get_parameters(&mut h, dir.path());
    let wrapped = wrap_material(
        &public_key,
        WrappingAlgorithm::RsaAesKeyWrapSha256,
        &m1,
        &mut rng,
    )
    .unwrap();
    let wrapped_path = dir.path().join("EncryptedKeyMaterial1.bin");
    std::fs::write(&wrapped_path, &wrapped).unwrap();
    click(&mut h, "Next ›");
    type_into(
        &mut h,
        "EncryptedKeyMaterial.bin path",
        &wrapped_path.display().to_string(),
    );
    click(&mut h, "Next ›");
    type_into(
        &mut h,
        "Key material description",
        "KeyMaterial1 in vault A",
    );
    click(&mut h, "Import");
    wait_label(&mut h, "Key material imported");
    click(&mut h, "Close");
    wait_key_state(&mut h, &key, KeyState::Enabled);
    let id1 = h
        .state()
        .view()
        .unwrap()
        .key(&key)
        .unwrap()
        .current
        .expect("current");

    // Step 4: new material (generated and wrapped here, a copy kept), then
    // Rotate now; the pending state shows until AWS completes it.
    click(&mut h, "📥 Import key material…");
    let _ = get_parameters(&mut h, dir.path());
    click(&mut h, "Next ›");
    click(&mut h, "Generate and wrap here (training)");
    click(&mut h, "Generate 32 random bytes and wrap them");
    wait_label(&mut h, "Key check value");
    assert!(
        shows(&h, "assigned by AWS when the material is imported"),
        "AWS names material; byok does not guess the id"
    );
    let copy = dir.path().join("KeyMaterial2.bin");
    type_into(&mut h, "Plaintext copy path", &copy.display().to_string());
    click(&mut h, "Save copy");
    wait_for(&mut h, "the copy", |_| copy.exists());
    click(&mut h, "Next ›");
    click(&mut h, "Import");
    wait_label(&mut h, "Key material imported");
    assert!(shows(&h, "PENDING_ROTATION"), "the view came back from AWS");
    click(&mut h, "Close");
    wait_for(&mut h, "the pending material", |h| {
        h.state()
            .view()
            .and_then(|v| v.key(&key))
            .is_some_and(|k| k.pending_material().is_some() && k.verdicts.rotate.is_ok())
    });
    click(&mut h, "⟳ Rotate now");
    click(&mut h, "⟳ Rotate");
    wait_part(&mut h, "Rotation in progress");
    assert!(shows_part(
        &h,
        "AWS completes the rotation in the background"
    ));
    wait_for(&mut h, "AWS to complete the rotation", |h| {
        h.state()
            .view()
            .and_then(|v| v.key(&key))
            .is_some_and(|k| k.rotation_started.is_none() && k.current != Some(id1))
    });
    let k = h.state().view().unwrap().key(&key).unwrap().clone();
    assert_eq!(k.material(id1).unwrap().state, KeyMaterialState::NonCurrent);
    assert_eq!(k.on_demand_rotations, 1);

    // Step 5: encrypt with the new material.
    click(&mut h, "Cryptography");
    type_into(&mut h, "Plaintext", "hello from the officer");
    click(&mut h, "Encrypt");
    wait_part(&mut h, "Encrypted with the key's current material");

    // Step 6: delete the first material: the key is PendingImport.
    click_first(&mut h, "Keys");
    click(&mut h, &format!("Delete key material {}", id1.short()));
    click(&mut h, "Delete key material");
    wait_key_state(&mut h, &key, KeyState::PendingImport);

    // Step 7: re-import it (EXISTING_KEY_MATERIAL) and decrypt the old
    // ciphertext.
    click(&mut h, &format!("Reimport key material {}", id1.short()));
    wait_label(&mut h, "Re-import key material");
    let public_key = get_parameters(&mut h, dir.path());
    let wrapped = wrap_material(
        &public_key,
        WrappingAlgorithm::RsaAesKeyWrapSha256,
        &m1,
        &mut rng,
    )
    .unwrap();
    std::fs::write(&wrapped_path, &wrapped).unwrap();
    click(&mut h, "Next ›");
    type_into(
        &mut h,
        "EncryptedKeyMaterial.bin path",
        &wrapped_path.display().to_string(),
    );
    click(&mut h, "Next ›");
    click(&mut h, "Import");
    wait_label(&mut h, "Key material imported");
    assert!(shows(&h, "EXISTING_KEY_MATERIAL"));
    click(&mut h, "Close");
    wait_key_state(&mut h, &key, KeyState::Enabled);
    click(&mut h, "Cryptography");
    click(&mut h, "Use in Decrypt ›");
    click(&mut h, "Decrypt");
    wait_label(&mut h, "Decrypted with key material");
    assert!(shows(&h, "hello from the officer"));

    // The store's own trail: what byok asked AWS, with AWS's request ids,
    // hash-chained.
    click(&mut h, "Audit trail");
    wait_for(&mut h, "records", |h| !shows(h, "reading…"));
    let export = dir.path().join("trail.json");
    type_into(&mut h, "Export path", &export.display().to_string());
    click(&mut h, "Export");
    wait_for(&mut h, "the export", |_| export.exists());
    let json: serde_json::Value = serde_json::from_slice(&std::fs::read(&export).unwrap()).unwrap();
    let records = json["Records"].as_array().expect("records");
    let names: Vec<&str> = records
        .iter()
        .filter_map(|r| r["eventName"].as_str())
        .collect();
    for expected in [
        "CreateKey",
        "GetParametersForImport",
        "ImportKeyMaterial",
        "RotateKeyOnDemand",
        "DeleteImportedKeyMaterial",
        "Encrypt",
        "Decrypt",
    ] {
        assert!(names.contains(&expected), "{expected} in {names:?}");
    }
    assert!(
        !names.contains(&"DescribeKey") && !names.contains(&"ListKeys"),
        "the key list's reads are not recorded: {names:?}"
    );
    let import = records
        .iter()
        .find(|r| r["eventName"] == "ImportKeyMaterial")
        .unwrap();
    assert_eq!(import["awsRegion"], served.region.as_str());
    assert_eq!(import["resources"][0]["ARN"], key.arn());
    assert_eq!(
        import["requestID"].as_str().map(str::len),
        Some(36),
        "AWS's request id (x-amzn-requestid): {import}"
    );
    assert!(
        import["requestParameters"]
            .get("encryptedKeyMaterial")
            .is_none()
            && import["requestParameters"].get("importToken").is_none(),
        "no blob in the trail: {import}"
    );
    click(&mut h, "✔ Verify chain");
    wait_part(&mut h, "Chain intact");

    // The account itself holds what the console did.
    {
        let v = served.vault.lock().unwrap();
        let id = byok::kms::KeyId::parse(key.arn().rsplit_once("key/").unwrap().1).unwrap();
        let k = v.kms().key(id).expect("the key in the account");
        assert_eq!(k.state(), KeyState::Enabled);
        assert_eq!(k.materials().len(), 2);
    }

    // No secret reached a file byok wrote: not the account's secret access
    // key, not the key material (raw, hex, base64), not the plaintext. The
    // plaintext copy the officer saved on purpose is the one exception.
    let m2 = std::fs::read(&copy).unwrap();
    let mut needles: Vec<(String, Vec<u8>)> = vec![
        (
            "secret access key".into(),
            served.secret.as_bytes().to_vec(),
        ),
        ("plaintext".into(), b"hello from the officer".to_vec()),
    ];
    for (name, m) in [("material 1", m1.to_vec()), ("material 2", m2)] {
        use base64::Engine as _;
        needles.push((format!("{name} raw"), m.clone()));
        needles.push((format!("{name} hex"), hex(&m).into_bytes()));
        needles.push((
            format!("{name} base64"),
            base64::engine::general_purpose::STANDARD
                .encode(&m)
                .into_bytes(),
        ));
    }
    for file in files_under(dir.path()) {
        if file == copy {
            continue;
        }
        let bytes = std::fs::read(&file).unwrap();
        for (name, needle) in &needles {
            assert!(
                !bytes.windows(needle.len()).any(|w| w == needle.as_slice()),
                "{name} found in {}",
                file.display()
            );
        }
    }

    // Settings on an AWS store: nothing that only a local store has (the
    // simulated clock, serving the store on loopback).
    click(&mut h, "Settings");
    wait_label(&mut h, "Appearance");
    assert!(!shows_part(&h, "Local AWS endpoint"));
    assert!(!shows_part(&h, "Simulated clock"));
    click(&mut h, "Keys");

    // Lock and connect again: the same store file, its trail kept.
    click(&mut h, "🔒 Lock");
    wait_label(&mut h, "AWS account");
    wait_until_released(&file);
    connect(&mut h, &served, &file, false);
    wait_for(&mut h, "the key listed again", |h| {
        h.state().view().is_some_and(|v| v.key(&key).is_some())
    });
    std::thread::sleep(Duration::from_millis(10));
}

/// A console on `url` (a proxy in front of `served`), a new EXTERNAL key,
/// and the import wizard on its Options step with material wrapped for it.
fn wizard_ready_to_import(
    served: &aws::Served,
    url: &str,
    dir: &std::path::Path,
    options: byok::aws::ConnectOptions,
) -> (App<'static>, byok::ui::view::KeyRef) {
    let (mut h, key) = new_key_on_aws_store(served, url, dir, options, "");
    click(&mut h, "📥 Import key material…");
    let public_key = get_parameters(&mut h, dir);
    let wrapped = wrap_material(
        &public_key,
        WrappingAlgorithm::RsaAesKeyWrapSha256,
        &[0x22u8; 32],
        &mut rand::rng(),
    )
    .unwrap();
    let path = dir.join("EncryptedKeyMaterial.bin");
    std::fs::write(&path, wrapped).unwrap();
    click(&mut h, "Next ›");
    type_into(
        &mut h,
        "EncryptedKeyMaterial.bin path",
        &path.display().to_string(),
    );
    click(&mut h, "Next ›");
    wait_label(&mut h, "Import type");
    (h, key)
}

/// A console connected through `url` to a new AWS store `dir/aws.byok`
/// (passphrase "p"), with a new EXTERNAL key described as `description`.
fn new_key_on_aws_store(
    served: &aws::Served,
    url: &str,
    dir: &std::path::Path,
    options: byok::aws::ConnectOptions,
    description: &str,
) -> (App<'static>, byok::ui::view::KeyRef) {
    let mut config = AppConfig::for_tests(dir.join("local.byok"), ManualClock::new(START), || {
        Box::new(test_keys())
    });
    config.aws_options = Some(options);
    let mut h = Harness::builder()
        .with_size(egui::vec2(1600.0, 1000.0))
        .with_max_steps(400)
        .build_eframe(move |cc| ConsoleApp::new(cc, config));
    wait_label(&mut h, "AWS account");
    type_into(&mut h, "Regions", &served.region);
    type_into(&mut h, "Endpoint URL", url);
    type_into(
        &mut h,
        "byok file",
        &dir.join("aws.byok").display().to_string(),
    );
    type_into(&mut h, "Passphrase of the byok file", "p");
    type_into(&mut h, "Repeat the passphrase of the byok file", "p");
    click(&mut h, "Connect and create the byok file");
    wait_for(&mut h, "the AWS store", |h| {
        h.state().view().is_some_and(|v| v.is_aws() && v.complete)
    });
    click(&mut h, "➕ New key");
    if !description.is_empty() {
        type_into(&mut h, "Description", description);
    }
    click(&mut h, "Create key");
    wait_label(&mut h, "Key created");
    let key = h.state().selected_key().unwrap().clone();
    wait_key_state(&mut h, &key, KeyState::PendingImport);
    (h, key)
}

fn trail(h: &mut App<'_>, dir: &std::path::Path) -> Vec<serde_json::Value> {
    click_first(h, "Audit trail");
    wait_for(h, "records", |h| !shows(h, "reading…"));
    let export = dir.join("trail.json");
    let _ = std::fs::remove_file(&export);
    type_into(h, "Export path", &export.display().to_string());
    click(h, "Export");
    wait_for(h, "the export", |_| export.exists());
    let json: serde_json::Value = serde_json::from_slice(&std::fs::read(&export).unwrap()).unwrap();
    json["Records"].as_array().unwrap().clone()
}

fn materials_in_account(served: &aws::Served, key: &byok::ui::view::KeyRef) -> usize {
    let v = served.vault.lock().unwrap();
    let id = byok::kms::KeyId::parse(key.arn().rsplit_once("key/").unwrap().1).unwrap();
    v.kms().key(id).map_or(0, |k| k.materials().len())
}

/// AWS throttles the import three times: the console says it waits, the
/// import completes, and it ran once — one material, four attempts.
#[test]
fn a_throttled_import_waits_and_runs_once() {
    let served = aws::Served::start(1000);
    let proxy = aws::Proxy::start(served.endpoint.as_ref().unwrap().local_addr());
    let dir = tempfile::tempdir().unwrap();
    let options = byok::aws::ConnectOptions {
        max_attempts: 6,
        initial_backoff: Duration::from_millis(400),
        max_backoff: Duration::from_secs(2),
        ..served.options()
    };
    let (mut h, key) = wizard_ready_to_import(&served, &proxy.url(), dir.path(), options);
    *proxy.rules.lock().unwrap() = aws::ProxyRules {
        throttle: 3,
        throttle_op: "ImportKeyMaterial".into(),
    };
    click(&mut h, "Import");
    wait_part(&mut h, "AWS is throttling requests: waiting to retry");
    wait_label(&mut h, "Key material imported");
    assert_eq!(
        proxy.calls_of("ImportKeyMaterial"),
        4,
        "3 throttled, then the one that ran"
    );
    assert_eq!(
        materials_in_account(&served, &key),
        1,
        "never imported twice"
    );
    click(&mut h, "Close");
    wait_key_state(&mut h, &key, KeyState::Enabled);
    let records = trail(&mut h, dir.path());
    let imports: Vec<&serde_json::Value> = records
        .iter()
        .filter(|r| r["eventName"] == "ImportKeyMaterial")
        .collect();
    assert_eq!(imports.len(), 1, "one call, retried inside the SDK");
    assert_eq!(imports[0]["additionalEventData"]["attempts"], 4);
    assert!(imports[0]["errorCode"].is_null());
}

/// The network goes away between GetParametersForImport and
/// ImportKeyMaterial (connection refused): a clear error in the step, the
/// parameters and the file kept, a retry succeeds, and the trail shows
/// both attempts.
#[test]
fn a_lost_network_mid_ceremony_loses_nothing() {
    let served = aws::Served::start(1000);
    let mut proxy = aws::Proxy::start(served.endpoint.as_ref().unwrap().local_addr());
    let dir = tempfile::tempdir().unwrap();
    let options = byok::aws::ConnectOptions {
        max_attempts: 2,
        initial_backoff: Duration::from_millis(20),
        ..served.options()
    };
    let (mut h, key) = wizard_ready_to_import(&served, &proxy.url(), dir.path(), options);
    proxy.pause();
    click(&mut h, "Import");
    wait_part(&mut h, "KMS could not be reached");
    assert!(shows_part(&h, "Nothing was lost"));
    assert!(
        shows_part(&h, &proxy.addr.to_string()),
        "the endpoint is named"
    );
    assert!(shows(&h, "Import type"), "still the options step");
    assert!(!is_disabled(&h, "Import"), "the import can be sent again");
    assert_eq!(materials_in_account(&served, &key), 0);
    proxy.resume();
    click(&mut h, "Import");
    wait_label(&mut h, "Key material imported");
    click(&mut h, "Close");
    wait_key_state(&mut h, &key, KeyState::Enabled);
    assert_eq!(materials_in_account(&served, &key), 1);
    let records = trail(&mut h, dir.path());
    let imports: Vec<&serde_json::Value> = records
        .iter()
        .filter(|r| r["eventName"] == "ImportKeyMaterial")
        .collect();
    assert_eq!(imports.len(), 2, "both attempts are in the trail");
    assert_eq!(imports[0]["errorCode"], "Unreachable");
    assert!(imports[1]["errorCode"].is_null());
    assert_eq!(imports[1]["resources"][0]["ARN"], key.arn());
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn files_under(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(files_under(&p));
        } else {
            out.push(p);
        }
    }
    out
}

/// The byok file of an AWS store holds the connection, the key list as last
/// seen and the import parameters in flight: opened again with only its
/// passphrase ("Open store", no form), it is the same account; with the
/// network gone, the key list still shows, from the cache; and a ceremony
/// paused after GetParametersForImport resumes with the same parameters —
/// AWS is asked for them once.
#[test]
fn the_byok_file_reopens_the_account_its_cache_and_a_paused_ceremony() {
    let served = aws::Served::start(1000);
    let mut proxy = aws::Proxy::start(served.endpoint.as_ref().unwrap().local_addr());
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("aws.byok");
    let (mut h, key) = new_key_on_aws_store(
        &served,
        &proxy.url(),
        dir.path(),
        served.options(),
        "paused ceremony",
    );
    click(&mut h, "📥 Import key material…");
    let public_key = get_parameters(&mut h, dir.path());
    assert_eq!(proxy.calls_of("GetParametersForImport"), 1);
    // The custodian takes PublicKey.bin away; the officer closes the console.
    click(&mut h, "Cancel");
    click(&mut h, "🔒 Lock");
    drop(h);
    wait_until_released(&file);

    // The next morning, offline: the file alone opens the account's view.
    proxy.pause();
    let mut config = AppConfig::for_tests(file.clone(), ManualClock::new(START), || {
        Box::new(test_keys())
    });
    config.aws_options = Some(byok::aws::ConnectOptions {
        max_attempts: 1,
        ..served.options()
    });
    let mut h = Harness::builder()
        .with_size(egui::vec2(1600.0, 1000.0))
        .with_max_steps(400)
        .build_eframe(move |cc| ConsoleApp::new(cc, config));
    type_into(&mut h, "Store file", &file.display().to_string());
    type_into(&mut h, "Passphrase", "p");
    click(&mut h, "Open store");
    wait_for(&mut h, "the AWS store from its file", |h| {
        h.state().view().is_some_and(|v| v.is_aws())
    });
    let view = h.state().view().unwrap();
    let cached = view.key(&key).expect("the key, from the cache");
    assert_eq!(cached.description, "paused ceremony");
    assert!(
        cached.fetched.is_some(),
        "a cached record says when it was read"
    );
    wait_part(&mut h, "could not be read");

    // Back online: the wizard resumes with the parameters of yesterday.
    proxy.resume();
    let wrapped = wrap_material(
        &public_key,
        WrappingAlgorithm::RsaAesKeyWrapSha256,
        &[0x33u8; 32],
        &mut rand::rng(),
    )
    .unwrap();
    let path = dir.path().join("EncryptedKeyMaterial.bin");
    std::fs::write(&path, wrapped).unwrap();
    click_first(&mut h, "paused ceremony");
    click(&mut h, "📥 Import key material…");
    wait_part(&mut h, "Kept from earlier in this ceremony");
    assert!(shows(&h, "Import parameters ready"));
    click(&mut h, "Next ›");
    type_into(
        &mut h,
        "EncryptedKeyMaterial.bin path",
        &path.display().to_string(),
    );
    click(&mut h, "Next ›");
    click(&mut h, "Import");
    wait_label(&mut h, "Key material imported");
    assert_eq!(
        proxy.calls_of("GetParametersForImport"),
        1,
        "the parameters came from the byok file"
    );
    assert_eq!(materials_in_account(&served, &key), 1);
    click(&mut h, "Close");
    wait_key_state(&mut h, &key, KeyState::Enabled);
}
