//! The console, driven by its labels the way a security officer clicks
//! through it: a new store, an EXTERNAL key, the import wizard with typed
//! file paths and with in-app generation, a second material, Rotate now and
//! its pending indicator, deletion and re-import, encryption, the ciphertext
//! inspector and the audit export; files dropped on the window. A manual clock, cheap key derivation and
//! RSA key pairs made in advance keep it fast and deterministic.

#[path = "ui_support/mod.rs"]
mod support;

use std::time::Duration;

use byok::kms::material::{key_check_value, key_material_id};
use byok::kms::{KeyMaterialState, KeyState, ManualClock, WrappingAlgorithm, wrap_material};
use egui_kittest::kittest::Queryable;
use support::*;

fn material(seed: u8) -> [u8; 32] {
    std::array::from_fn(|i| seed.wrapping_mul(31).wrapping_add(i as u8))
}

/// Step (a) of the wizard: parameters, saved to `dir` by typed folder.
fn get_parameters(h: &mut App<'_>, dir: &std::path::Path) -> (Vec<u8>, Vec<u8>) {
    wait_label(h, "Get import parameters");
    assert!(
        shows(h, "RSA_AES_KEY_WRAP_SHA_256"),
        "the recommended algorithm is offered"
    );
    click(h, "Get import parameters");
    wait_label(h, "Import parameters ready");
    assert!(
        shows_part(h, "ParametersValidTo"),
        "a countdown to ParametersValidTo"
    );
    assert!(
        shows_part(h, "openssl pkeyutl -encrypt"),
        "the OpenSSL commands are shown"
    );
    let _ = std::fs::remove_file(dir.join("PublicKey.bin"));
    let _ = std::fs::remove_file(dir.join("ImportToken.bin"));
    type_into(
        h,
        "Folder for PublicKey.bin and ImportToken.bin",
        &dir.display().to_string(),
    );
    click(h, "Save both to folder");
    let (pk, tok) = (dir.join("PublicKey.bin"), dir.join("ImportToken.bin"));
    wait_for(h, "PublicKey.bin and ImportToken.bin", |_| {
        pk.exists() && tok.exists()
    });
    let public_key = std::fs::read(&pk).expect("PublicKey.bin");
    let token = std::fs::read(&tok).expect("ImportToken.bin");
    assert_eq!(
        public_key.len(),
        550,
        "DER SPKI of the recommended RSA_4096 key"
    );
    (public_key, token)
}

#[test]
fn a_security_officer_runs_the_whole_material_lifecycle() {
    let (dir, store) = temp();
    let clock = ManualClock::new(START);
    let mut h = console(&store, &clock);
    let mut rng = rand::rng();

    // A new store on first run.
    create_store(&mut h);
    assert!(shows(&h, "✔ Saved"));
    assert!(
        shows(&h, "MANUAL CLOCK"),
        "a badge whenever the clock is not real time"
    );

    // An EXTERNAL key.
    click(&mut h, "➕ New key");
    type_into(&mut h, "Description", "Payments test key");
    click(&mut h, "Create key");
    wait_label(&mut h, "Key created");
    let key = h
        .state()
        .selected_key()
        .expect("the new key is selected")
        .clone();
    wait_for(&mut h, "the key in the view", |h| {
        h.state().view().is_some_and(|v| v.key(&key).is_some())
    });
    assert!(
        shows(&h, "Pending import"),
        "a new EXTERNAL key waits for its material"
    );
    assert!(shows_part(&h, "has no key material yet"));
    h.check_accessibility();

    // First material: the import wizard with typed file paths.
    click(&mut h, "📥 Import key material…");
    let (public_key, token) = get_parameters(&mut h, dir.path());
    let m1 = material(1);
    let wrapped = wrap_material(
        &public_key,
        WrappingAlgorithm::RsaAesKeyWrapSha256,
        &m1,
        &mut rng,
    )
    .unwrap();
    let wrapped_path = dir.path().join("EncryptedKeyMaterial1.bin");
    std::fs::write(&wrapped_path, &wrapped).unwrap();
    assert!(!token.is_empty());
    click(&mut h, "Next ›");
    wait_label(&mut h, "Where is the wrapped key material?");
    type_into(
        &mut h,
        "EncryptedKeyMaterial.bin path",
        &wrapped_path.display().to_string(),
    );
    click(&mut h, "Next ›");
    wait_label(&mut h, "Import type");
    type_into(
        &mut h,
        "Key material description",
        "Material one in HSM vault A",
    );
    h.check_accessibility();
    click(&mut h, "Import");
    wait_label(&mut h, "Key material imported");
    let id1 = key_material_id(engine_id(&key), &m1);
    assert!(
        shows(&h, &id1.to_string()),
        "the wizard shows the KeyMaterialId"
    );
    click(&mut h, "Close");
    wait_key_state(&mut h, &key, KeyState::Enabled);
    assert!(shows(&h, "Enabled"));

    // Rotate now is refused by the engine while nothing is pending.
    assert!(
        is_disabled(&h, "⟳ Rotate now"),
        "no material pending rotation yet"
    );

    // Second material: generated and wrapped here, with its KCV and id.
    click(&mut h, "📥 Import key material…");
    let _ = get_parameters(&mut h, dir.path());
    click(&mut h, "Next ›");
    click(&mut h, "Generate and wrap here (training)");
    click(&mut h, "Generate 32 random bytes and wrap them");
    wait_label(&mut h, "Key check value");
    assert!(shows(&h, "Keep a copy of this key material outside byok."));
    let copy = dir.path().join("KeyMaterial2.bin");
    type_into(&mut h, "Plaintext copy path", &copy.display().to_string());
    click(&mut h, "Save copy");
    wait_for(&mut h, "the plaintext copy", |_| copy.exists());
    let m2: [u8; 32] = std::fs::read(&copy).unwrap().try_into().expect("32 bytes");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&copy).unwrap().permissions().mode();
        assert_eq!(
            mode & 0o777,
            0o600,
            "the plaintext copy is its owner's only"
        );
    }
    let id2 = key_material_id(engine_id(&key), &m2);
    assert!(
        shows(&h, &key_check_value(&m2)),
        "the key check value of the plaintext is shown"
    );
    assert!(
        shows(&h, &id2.to_string()),
        "and the KeyMaterialId it gets in this key"
    );
    click(&mut h, "Next ›");
    wait_label(&mut h, "Import type");
    click(&mut h, "Import");
    wait_label(&mut h, "Key material imported");
    assert!(shows(&h, "PENDING_ROTATION"));
    click(&mut h, "Close");
    wait_for(&mut h, "the pending material in the view", |h| {
        h.state()
            .view()
            .and_then(|v| v.key(&key))
            .is_some_and(|k| k.pending_material().is_some())
    });

    // Rotate now: enabled, then a pending indicator while it runs.
    assert!(
        !is_disabled(&h, "⟳ Rotate now"),
        "a material waits for rotation"
    );
    // Issue 10, item 8: nothing moves under the pointer. The actions and
    // the materials table keep their place through the whole rotation (in
    // progress, complete, the animation) and when the key becomes Pending
    // import; the banners share one status slot.
    let places = |h: &App<'_>| {
        (
            h.get_by_label("⟳ Rotate now").rect().top(),
            h.get_by_label("📥 Import key material…").rect().top(),
        )
    };
    let before = places(&h);
    // Issue 10, item 10: Rotate now uses one of 25 on-demand rotations and
    // may add cost, so it asks first; Ctrl+R asks too, and Escape cancels.
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::R);
    wait_part(&mut h, "now?");
    assert!(shows_part(&h, "On-demand rotations used: 0 of 25."));
    h.key_press(egui::Key::Escape);
    settle(&mut h);
    assert!(
        !shows_part(&h, "On-demand rotations used"),
        "Escape closed it"
    );
    assert!(
        !shows_part(&h, "Rotation in progress"),
        "nothing was rotated"
    );
    click(&mut h, "⟳ Rotate now");
    wait_part(
        &mut h,
        "On-demand rotations used: 0 of 25. This one makes 1 of 25.",
    );
    assert!(shows_part(
        &h,
        "plus $1 for each of a key's first two rotations"
    ));
    assert!(shows_part(&h, "This rotation adds $1 a month"));
    click(&mut h, "⟳ Rotate");
    wait_part(&mut h, "Rotation in progress");
    assert!(shows_part(&h, "OnDemandRotationStartDate"));
    assert_eq!(places(&h), before, "the rotation banner moved the actions");
    // The engine completes it on its own clock, not a UI timer.
    for _ in 0..20 {
        h.step();
    }
    assert!(
        shows_part(&h, "Rotation in progress"),
        "still in progress before the delay passes"
    );
    clock.advance(Duration::from_millis(3_001));
    wait_for(&mut h, "the rotation to complete", |h| {
        !shows_part(h, "Rotation in progress")
    });
    assert!(shows_part(&h, "is now CURRENT"), "a short notice");
    assert_eq!(
        places(&h),
        before,
        "the completion notice moved the actions"
    );
    let k = h.state().view().unwrap().key(&key).unwrap().clone();
    assert_eq!(k.current, Some(id2));
    assert_eq!(k.material(id2).unwrap().state, KeyMaterialState::Current);
    assert_eq!(k.material(id1).unwrap().state, KeyMaterialState::NonCurrent);
    wait_for(&mut h, "the transition animation to end", |h| {
        !shows_part(h, "PENDING › ")
    });
    assert!(
        shows(&h, "CURRENT") && shows(&h, "NON_CURRENT"),
        "the table shows the new CURRENT"
    );
    assert_eq!(
        places(&h),
        before,
        "the end of the animation moved the actions"
    );

    // Delete the first material: the key becomes Pending import, explained.
    click(&mut h, &format!("Delete key material {}", id1.short()));
    wait_label(&mut h, "The key becomes Pending import.");
    assert!(shows_part(&h, "until every deleted material is"));
    click(&mut h, "Delete key material");
    wait_key_state(&mut h, &key, KeyState::PendingImport);
    assert!(shows_part(
        &h,
        &format!("material {}… was deleted", id1.short())
    ));
    assert_eq!(
        places(&h),
        before,
        "the Pending import note moved the actions"
    );

    // Re-import it: the wizard opens in re-import mode for that material.
    click(&mut h, &format!("Reimport key material {}", id1.short()));
    wait_label(&mut h, "Re-import key material");
    let (public_key, _) = get_parameters(&mut h, dir.path());
    let wrapped = wrap_material(
        &public_key,
        WrappingAlgorithm::RsaAesKeyWrapSha256,
        &m1,
        &mut rng,
    )
    .unwrap();
    std::fs::write(&wrapped_path, &wrapped).unwrap();
    click(&mut h, "Next ›");
    assert!(
        is_disabled(&h, "Generate and wrap here (training)"),
        "a re-import needs the same bytes"
    );
    type_into(
        &mut h,
        "EncryptedKeyMaterial.bin path",
        &wrapped_path.display().to_string(),
    );
    click(&mut h, "Next ›");
    wait_label(&mut h, "Import type");
    click(&mut h, "Import");
    wait_label(&mut h, "Key material imported");
    assert!(shows(&h, "EXISTING_KEY_MATERIAL"));
    click(&mut h, "Close");
    wait_key_state(&mut h, &key, KeyState::Enabled);

    // Encrypt and decrypt, with the material used.
    click(&mut h, "Cryptography");
    wait_label(&mut h, "Ciphertext inspector");
    type_into(&mut h, "Plaintext", "hello byok");
    click(&mut h, "Encrypt");
    wait_label(&mut h, "Encrypted with key material");
    assert!(
        shows(&h, &id2.to_string()),
        "encryption used the current material"
    );
    click(&mut h, "Use in Decrypt ›");
    click(&mut h, "Decrypt");
    wait_label(&mut h, "Decrypted with key material");
    assert!(shows(&h, "hello byok"));
    h.check_accessibility();

    // Inspect the ciphertext.
    click(&mut h, "Inspect ciphertext");
    wait_label(&mut h, "Can be decrypted now");
    assert!(shows(&h, &id2.to_string()));

    // A damaged blob gives a plain answer, not a crash.
    type_into(&mut h, "Ciphertext to decrypt (base64)", "bm90IGEgYmxvYg==");
    click(&mut h, "Decrypt");
    wait_label(&mut h, "InvalidCiphertextException");
    click(&mut h, "Inspect ciphertext");
    wait_label(&mut h, "Not a byok ciphertext blob");

    // Export the audit trail to a typed path.
    click(&mut h, "Audit trail");
    wait_part(&mut h, "records");
    wait_for(&mut h, "records", |h| !shows(h, "reading…"));
    let export = dir.path().join("trail.json");
    type_into(&mut h, "Export path", &export.display().to_string());
    click(&mut h, "Export");
    wait_for(&mut h, "the export", |_| export.exists());
    let json: serde_json::Value = serde_json::from_slice(&std::fs::read(&export).unwrap()).unwrap();
    let records = json["Records"].as_array().expect("{\"Records\": [...]}");
    let names: Vec<&str> = records
        .iter()
        .filter_map(|r| r["eventName"].as_str())
        .collect();
    for expected in [
        "CreateKey",
        "GetParametersForImport",
        "ImportKeyMaterial",
        "RotateKeyOnDemand",
        "RotateKey",
        "DeleteImportedKeyMaterial",
        "Encrypt",
        "Decrypt",
    ] {
        assert!(
            names.contains(&expected),
            "{expected} in the export: {names:?}"
        );
    }
    click(&mut h, "✔ Verify chain");
    wait_part(&mut h, "Chain intact");
    h.check_accessibility();

    // Lock: back to the unlock screen, and the store opens again.
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::L);
    wait_label(&mut h, "Open store");
    type_into(&mut h, "Passphrase", "correct horse battery");
    click(&mut h, "Open store");
    wait_for(&mut h, "the store to open again", |h| h.state().is_ready());
    let v = h.state().view().unwrap().clone();
    assert_eq!(v.key(&key).unwrap().state, KeyState::Enabled);
}

#[test]
fn a_wrong_passphrase_is_answered_in_plain_words() {
    let (_dir, store) = temp();
    let clock = ManualClock::new(START);
    {
        let mut h = console(&store, &clock);
        create_store(&mut h);
        click(&mut h, "🔒 Lock");
        wait_label(&mut h, "Open store");
    }
    wait_until_released(&store);
    let mut h = console(&store, &clock);
    wait_label(&mut h, "Open store");
    type_into(&mut h, "Passphrase", "not the passphrase");
    click(&mut h, "Open store");
    wait_label(&mut h, "⚠ Wrong passphrase, or the store file is damaged.");
    assert!(!h.state().is_ready());
}

/// A file dropped from a file manager: egui 0.37 leaves the handle to the
/// integration, so the test brings its own.
#[derive(Debug)]
struct Dropped(std::path::PathBuf);

impl egui::DroppedFile for Dropped {
    fn path(&self) -> &std::path::Path {
        &self.0
    }
    fn bytes(&self) -> Result<Vec<u8>, String> {
        std::fs::read(&self.0).map_err(|e| e.to_string())
    }
}

/// Drops `path` on the window.
fn drop_file(h: &mut App<'_>, path: &std::path::Path) {
    h.input_mut()
        .dropped_files
        .push(std::sync::Arc::new(Dropped(path.to_path_buf())));
    for _ in 0..4 {
        h.step();
    }
}

/// The value of the field labelled `label`.
fn field(h: &App<'_>, label: &str) -> String {
    use egui_kittest::kittest::Queryable;
    h.get_by_label(label).value().unwrap_or_default()
}

#[test]
fn files_dropped_on_the_window_go_where_they_make_sense() {
    let (dir, store) = temp();
    let clock = ManualClock::new(START);
    let mut h = console(&store, &clock);
    let mut rng = rand::rng();
    create_store(&mut h);
    let key = create_external_key(&mut h);

    // EncryptedKeyMaterial.bin dropped on step 2 of the wizard is the
    // material to import.
    click(&mut h, "📥 Import key material…");
    let (public_key, _token) = get_parameters(&mut h, dir.path());
    click(&mut h, "Next ›");
    wait_label(&mut h, "Where is the wrapped key material?");
    let m = material(9);
    let wrapped = wrap_material(
        &public_key,
        WrappingAlgorithm::RsaAesKeyWrapSha256,
        &m,
        &mut rng,
    )
    .unwrap();
    let wrapped_path = dir.path().join("Dropped-EncryptedKeyMaterial.bin");
    std::fs::write(&wrapped_path, &wrapped).unwrap();
    drop_file(&mut h, &wrapped_path);
    assert_eq!(
        field(&h, "EncryptedKeyMaterial.bin path"),
        wrapped_path.display().to_string(),
        "the dropped file fills the wizard's path"
    );
    click(&mut h, "Next ›");
    wait_label(&mut h, "Import type");
    click(&mut h, "Import");
    wait_label(&mut h, "Key material imported");
    assert!(shows(&h, &key_material_id(engine_id(&key), &m).to_string()));
    click(&mut h, "Close");
    wait_key_state(&mut h, &key, KeyState::Enabled);

    // A ciphertext file dropped anywhere else opens in the Cryptography
    // panel's Decrypt box.
    click(&mut h, "Cryptography");
    type_into(&mut h, "Plaintext", "dropped secret");
    click(&mut h, "Encrypt");
    wait_label(&mut h, "Encrypted with key material");
    let cipher_path = dir.path().join("ciphertext.bin");
    type_into(
        &mut h,
        "Ciphertext file to write",
        &cipher_path.display().to_string(),
    );
    click(&mut h, "Save ciphertext");
    wait_for(&mut h, "the ciphertext file", |_| cipher_path.exists());
    click(&mut h, "Audit trail");
    wait_label(&mut h, "✔ Verify chain");
    drop_file(&mut h, &cipher_path);
    wait_label(&mut h, "Ciphertext inspector");
    wait_for(&mut h, "the dropped blob in the Decrypt box", |h| {
        !field(h, "Ciphertext to decrypt (base64)").is_empty()
    });
    click(&mut h, "Decrypt");
    wait_label(&mut h, "Decrypted with key material");
    assert!(shows(&h, "dropped secret"));
}

#[test]
fn an_idle_console_locks_itself_and_releases_the_store() {
    let (_dir, store) = temp();
    let clock = ManualClock::new(START);
    let mut h = console(&store, &clock);
    create_store(&mut h);
    wait_label(&mut h, "✔ Saved");

    // Idle for less than the setting (15 minutes by default): still open.
    h.state_mut().set_idle_for(Duration::from_secs(14 * 60));
    for _ in 0..3 {
        h.step();
    }
    assert!(h.state().view().is_some(), "open after 14 idle minutes");

    // Past it: the console locks, says why, and the store is closed.
    h.state_mut().set_idle_for(Duration::from_secs(15 * 60 + 1));
    h.step();
    wait_label(&mut h, "Open a store");
    assert!(shows_part(&h, "Locked after 15 idle minutes."));
    assert!(h.state().view().is_none(), "nothing of the store is shown");
    wait_until_released(&store);
}

/// The window title names the open store (the task bar tells two consoles
/// apart), and no longer names it once locked.
#[test]
fn the_window_title_names_the_open_store() {
    let (_dir, store) = temp();
    let clock = ManualClock::new(START);
    let mut h = console(&store, &clock);
    assert_eq!(h.state().window_title(), byok::ui::WINDOW_TITLE);
    create_store(&mut h);
    assert_eq!(h.state().window_title(), "byok — store.byok");
    click(&mut h, "🔒 Lock");
    wait_label(&mut h, "Open a store");
    assert_eq!(h.state().window_title(), byok::ui::WINDOW_TITLE);
    wait_until_released(&store);
}

#[test]
fn a_hidden_console_still_locks_itself() {
    // Issue 10, item 3: for a hidden or minimised window eframe calls only
    // `App::logic`, never `App::ui`. Here nothing is drawn after the store
    // is open: only `logic` runs, as eframe runs it for a hidden window.
    let (_dir, store) = temp();
    let clock = ManualClock::new(START);
    let mut h = console(&store, &clock);
    create_store(&mut h);
    wait_label(&mut h, "✔ Saved");
    let ctx = h.ctx.clone();
    let mut frame = eframe::Frame::_new_kittest();
    h.state_mut().set_idle_for(Duration::from_secs(15 * 60 + 1));
    eframe::App::logic(h.state_mut(), &ctx, &mut frame);
    assert!(h.state().view().is_none(), "locked without a frame drawn");
    wait_until_released(&store);
    // Shown again, it says why.
    h.step();
    assert!(shows_part(&h, "Locked after 15 idle minutes."));
}

#[test]
fn generated_material_waits_for_a_saved_copy_or_an_explicit_choice() {
    let (dir, store) = temp();
    let clock = ManualClock::new(START);
    let mut h = console(&store, &clock);
    create_store(&mut h);
    let key = create_external_key(&mut h);
    click(&mut h, "📥 Import key material…");
    let _ = get_parameters(&mut h, dir.path());
    click(&mut h, "Next ›");
    click(&mut h, "Generate and wrap here (training)");
    click(&mut h, "Generate 32 random bytes and wrap them");
    wait_label(&mut h, "Key check value");
    click(&mut h, "Next ›");
    wait_label(&mut h, "No copy of this material is saved.");
    assert!(
        is_disabled(&h, "Import"),
        "no import of material nobody kept"
    );
    click(&mut h, "Import without a copy (training only)");
    assert!(!is_disabled(&h, "Import"), "the user chose");
    click(&mut h, "Import");
    wait_label(&mut h, "Key material imported");
    wait_key_state(&mut h, &key, KeyState::Enabled);
}

/// Issue 10, item 10: Escape closes the New key dialog and the import
/// wizard; Up and Down move the selection through the key list, in its
/// order, stopping at the ends.
#[test]
fn escape_closes_dialogs_and_arrow_keys_move_through_the_key_list() {
    let (_dir, store) = temp();
    let clock = ManualClock::new(START);
    // Three keys, made through the store before the console opens it.
    {
        let mut v = byok::store::Vault::create(
            &store,
            &secrecy::SecretString::from("correct horse battery".to_string()),
            byok::store::VaultOptions {
                clock: std::sync::Arc::new(clock.clone()),
                wrapping_keys: Box::new(test_keys()),
                kdf: byok::store::format::KdfParams::INSECURE_FAST,
                settings: byok::kms::Settings::default(),
            },
        )
        .expect("store");
        for i in 0..3 {
            v.apply(|k| {
                k.create_key(
                    &byok::kms::Caller::cli(),
                    byok::kms::CreateKeyRequest {
                        description: Some(format!("key {i}")),
                        origin: Some(byok::kms::Origin::External),
                        ..Default::default()
                    },
                )
            })
            .expect("key");
        }
        v.close().expect("close");
    }
    let mut h = console(&store, &clock);
    wait_label(&mut h, "Open store");
    type_into(&mut h, "Passphrase", "correct horse battery");
    click(&mut h, "Open store");
    wait_for(&mut h, "the store to open", |h| h.state().is_ready());
    settle(&mut h);

    click(&mut h, "➕ New key");
    wait_label(&mut h, "Create key");
    h.key_press(egui::Key::Escape);
    settle(&mut h);
    assert!(!shows(&h, "Create key"), "Escape closed the New key dialog");

    click(&mut h, "📥 Import key material…");
    wait_label(&mut h, "Import key material");
    h.key_press(egui::Key::Escape);
    settle(&mut h);
    assert!(
        !shows(&h, "Import key material"),
        "Escape closed the import wizard"
    );

    let order = h.state().visible_keys().to_vec();
    assert_eq!(order.len(), 3);
    let selected = |h: &App<'_>| h.state().selected_key().cloned().expect("a selection");
    for _ in 0..4 {
        h.key_press(egui::Key::ArrowUp);
        h.step();
    }
    settle(&mut h);
    assert_eq!(selected(&h), order[0], "Up reaches the first key");
    h.key_press(egui::Key::ArrowDown);
    settle(&mut h);
    assert_eq!(selected(&h), order[1], "Down moves one row");
    for _ in 0..4 {
        h.key_press(egui::Key::ArrowDown);
        h.step();
    }
    settle(&mut h);
    assert_eq!(selected(&h), order[2], "and stops at the last");
    h.key_press(egui::Key::ArrowUp);
    settle(&mut h);
    assert_eq!(selected(&h), order[1], "Up moves back");
    for _ in 0..4 {
        h.key_press(egui::Key::ArrowUp);
        h.step();
    }
    settle(&mut h);
    assert_eq!(selected(&h), order[0], "and stops at the first");
}

/// Opens the wizard on the selected key and walks it to the import options
/// with material generated here (the parameters of an earlier wizard are
/// resumed, or fetched again).
fn wizard_to_options(h: &mut App<'_>, dir: &std::path::Path) {
    click(h, "📥 Import key material…");
    wait_label(h, "Import key material");
    if !shows(h, "Import parameters ready") {
        let _ = get_parameters(h, dir);
    }
    click(h, "Next ›");
    click(h, "Generate and wrap here (training)");
    click(h, "Generate 32 random bytes and wrap them");
    wait_label(h, "Key check value");
    click(h, "Next ›");
    wait_label(h, "Import type");
}

/// The ValidTo date picker's button (its label is the date and a calendar).
fn date_button(h: &App<'_>) -> String {
    use egui_kittest::kittest::{NodeT, Queryable};
    h.query_all_by_label_contains("📆")
        .next()
        .and_then(|n| n.accesskit_node().label())
        .expect("the ValidTo date button")
}

/// Clicks the node labelled `label` with the pointer as a quick mouse click
/// does: moved there, pressed and released within one frame.
fn quick_click(h: &mut App<'_>, label: &str) {
    use egui_kittest::kittest::Queryable;
    settle_node(h, label);
    let pos = h.get_by_label(label).rect().center();
    h.event(egui::Event::PointerMoved(pos));
    h.step();
    // `Harness::event` runs a frame per event: both go into one frame's input.
    for pressed in [true, false] {
        h.input_mut().events.push(egui::Event::PointerButton {
            pos,
            button: egui::PointerButton::Primary,
            pressed,
            modifiers: egui::Modifiers::NONE,
        });
    }
    for _ in 0..4 {
        h.step();
    }
}

/// Issue 10, item 2: the ValidTo date picker opens in every wizard and
/// every time, not only the first time: it draws above the wizard even when
/// the click that opens it also raises the wizard (a quick click), and
/// egui's memory of its layer (kept across restarts) does not bury it.
#[test]
fn the_valid_to_date_picker_opens_every_time() {
    use egui_kittest::kittest::Queryable;
    let (dir, store) = temp();
    let clock = ManualClock::new(START);
    let mut h = console(&store, &clock);
    create_store(&mut h);
    create_external_key(&mut h);
    for round in 0..2 {
        wizard_to_options(&mut h, dir.path());
        click(&mut h, "KEY_MATERIAL_EXPIRES on");
        for time in 0..2 {
            assert!(
                !shows(&h, "Save"),
                "round {round}: the picker starts closed"
            );
            let button = date_button(&h);
            quick_click(&mut h, &button);
            assert!(
                shows(&h, "Save"),
                "round {round}, time {time}: the date picker opened"
            );
            // On top: a pointer over the picker's Save reaches the picker,
            // not the wizard under it.
            let save = h.get_by_label("Save").rect().center();
            let on_button = h.get_by_label(&button).rect().center();
            assert_ne!(
                h.ctx.layer_id_at(save),
                h.ctx.layer_id_at(on_button),
                "round {round}, time {time}: the picker is drawn above the wizard"
            );
            // A month later, saved: the button shows the new date.
            quick_click(&mut h, ">");
            quick_click(&mut h, "Save");
            assert!(!shows(&h, "Save"), "Save closed the picker");
            assert_ne!(date_button(&h), button, "the chosen date is taken");
            // Something else in the wizard is clicked before the next try.
            quick_click(&mut h, "KEY_MATERIAL_EXPIRES on");
        }
        click(&mut h, "Cancel");
        assert!(!shows(&h, "Import key material"), "the wizard closed");
    }
}

/// Issue 10, item 2: ValidTo has a time of day (UTC), checked as typed, and
/// the import carries it.
#[test]
fn valid_to_takes_a_time_of_day() {
    let (dir, store) = temp();
    let clock = ManualClock::new(START);
    let mut h = console(&store, &clock);
    create_store(&mut h);
    let key = create_external_key(&mut h);
    wizard_to_options(&mut h, dir.path());
    click(&mut h, "KEY_MATERIAL_EXPIRES on");
    let date = date_button(&h);
    let date = date.trim_end_matches(" 📆");
    assert!(
        shows_part(&h, &format!("ValidTo {date} 00:00 UTC")),
        "midnight unless told"
    );
    type_into(&mut h, "at", "25:10");
    assert!(shows_part(&h, "Not a valid date and time of day"));
    type_into(&mut h, "at", "14:30");
    assert!(shows_part(&h, &format!("ValidTo {date} 14:30 UTC")));
    click(&mut h, "Import without a copy (training only)");
    click(&mut h, "Import");
    wait_label(&mut h, "Key material imported");
    let valid_to = h
        .state()
        .view()
        .and_then(|v| v.key(&key))
        .and_then(|k| k.materials.first())
        .and_then(|m| m.valid_to)
        .expect("the material expires");
    assert_eq!(
        valid_to.millis().rem_euclid(86_400_000),
        (14 * 60 + 30) * 60_000,
        "ValidTo at 14:30 UTC"
    );
}
