//! Screenshots of the main screens with the training demo, rendered headless
//! through wgpu (Mesa llvmpipe) and written to `assets/`.
//!
//! `XDG_RUNTIME_DIR=$(mktemp -d) cargo test --features snapshots --test ui_screenshots`
#![cfg(feature = "snapshots")]

#[path = "ui_support/mod.rs"]
mod support;

use std::path::PathBuf;
use std::time::Duration;

use byok::kms::ManualClock;
use byok::ui::{AppConfig, ConsoleApp};
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use support::*;

fn assets() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("assets")
}

fn shoot(h: &mut App<'_>, name: &str) {
    for _ in 0..6 {
        h.step();
    }
    let path = assets().join(format!("screenshot-{name}.png"));
    save_shown(h, &path);
    eprintln!("wrote {}", path.display());
}

fn click_at(h: &mut App<'_>, pos: egui::Pos2) {
    h.event(egui::Event::PointerMoved(pos));
    h.event(egui::Event::PointerButton {
        pos,
        button: egui::PointerButton::Primary,
        pressed: true,
        modifiers: egui::Modifiers::NONE,
    });
    h.event(egui::Event::PointerButton {
        pos,
        button: egui::PointerButton::Primary,
        pressed: false,
        modifiers: egui::Modifiers::NONE,
    });
    h.step();
    h.step();
}

fn harness(store: &std::path::Path, clock: &ManualClock) -> App<'static> {
    harness_sized(store, clock, egui::vec2(1600.0, 1000.0))
}

/// A console rendered through wgpu in a window of `size`.
fn harness_sized(store: &std::path::Path, clock: &ManualClock, size: egui::Vec2) -> App<'static> {
    let config = AppConfig::for_tests(store.to_path_buf(), clock.clone(), || Box::new(test_keys()));
    Harness::builder()
        .with_size(size)
        .with_max_steps(400)
        .with_render_cursor(false)
        .wgpu()
        .build_eframe(move |cc| ConsoleApp::new(cc, config))
}

#[test]
fn screenshots_of_the_main_screens() {
    std::fs::create_dir_all(assets()).expect("assets/");
    let (_dir, store) = temp();
    let clock = ManualClock::new(START);
    let mut h = harness(&store, &clock);
    wait_label(&mut h, "🎓 Open training demo");
    shoot(&mut h, "unlock");

    click(&mut h, "🎓 Open training demo");
    wait_for(&mut h, "the training store", |h| h.state().is_ready());
    clock.advance(Duration::from_secs(2));
    // Let the "Training store ready" notice fade before the pictures.
    std::thread::sleep(Duration::from_millis(5200));
    h.step();

    // Keys: the key with many rotations, its materials and timeline.
    click_first(&mut h, "alias/payments-master");
    wait_label(&mut h, "Material timeline");
    wait_for(&mut h, "the timeline", |h| {
        !shows(h, "Reading the audit trail…")
    });
    shoot(&mut h, "keys");

    // Timeline: a key whose material was deleted, cursor in the past.
    click_first(&mut h, "alias/sovereign-eu");
    wait_label(&mut h, "Material timeline");
    wait_for(&mut h, "the timeline", |h| {
        !shows(h, "Reading the audit trail…")
    });
    h.get_by_label("Material timeline chart").scroll_to_me();
    settle(&mut h);
    let r = h.get_by_label("Material timeline chart").rect();
    click_at(
        &mut h,
        egui::pos2(
            r.left() + 200.0 + (r.width() - 200.0) * 0.55,
            r.top() + 80.0,
        ),
    );
    shoot(&mut h, "timeline");

    // Rotation in progress.
    click_first(&mut h, "alias/billing-archive");
    wait_part(&mut h, "Rotation in progress");
    click(&mut h, "Show the last 1 d");
    shoot(&mut h, "rotation");
    // The engine completes it when its clock passes the delay: the table
    // animates the move to CURRENT / NON_CURRENT.
    clock.advance(Duration::from_millis(
        byok::ui::demo::DEMO_ROTATION_DELAY_MS,
    ));
    wait_part(&mut h, "Rotation complete");
    save_shown(&mut h, &assets().join("screenshot-rotation-complete.png"));

    // The import wizard, parameters ready.
    click_first(&mut h, "alias/new-partner");
    wait_label(&mut h, "📥 Import key material…");
    click(&mut h, "📥 Import key material…");
    click(&mut h, "Get import parameters");
    wait_label(&mut h, "Import parameters ready");
    shoot(&mut h, "wizard");
    click(&mut h, "Cancel");

    // Cryptography: encrypt, then inspect a ciphertext of an expired material.
    click_first(&mut h, "alias/hr-records");
    click(&mut h, "Cryptography");
    wait_label(&mut h, "Ciphertext inspector");
    type_into(&mut h, "Plaintext", "Quarterly payroll run 2026-Q1");
    click(&mut h, "Encrypt");
    wait_label(&mut h, "Encrypted with key material");
    click(&mut h, "Use in Decrypt ›");
    click(&mut h, "Decrypt");
    wait_label(&mut h, "Decrypted with key material");
    click(&mut h, "Inspect ciphertext");
    wait_label(&mut h, "Can be decrypted now");
    shoot(&mut h, "crypto");

    // Audit trail with a record selected.
    click(&mut h, "Audit trail");
    wait_for(&mut h, "records", |h| !shows(h, "reading…"));
    settle(&mut h);
    click_first(&mut h, "RotateKey");
    settle(&mut h);
    shoot(&mut h, "audit");

    // Settings, then the light theme.
    click(&mut h, "Settings");
    wait_label(&mut h, "Simulated clock (training)");
    shoot(&mut h, "settings");
    click(&mut h, "Light");
    click(&mut h, "Keys");
    click_first(&mut h, "alias/legacy-export");
    wait_for(&mut h, "the timeline", |h| {
        shows(h, "Material timeline") && !shows(h, "Reading the audit trail…")
    });
    shoot(&mut h, "light");
}

/// The Cryptography tab of an RSA signing key at 1280×720 (a laptop, a
/// projector's common mode) and in presentation mode, after Sign, Verify
/// and GetPublicKey: every card and its result must be readable.
#[test]
fn screenshots_of_an_asymmetric_key_at_1280_by_720() {
    asymmetric_key_screenshots(egui::vec2(1280.0, 720.0), "1280");
}

/// The same at 1600×1000.
#[test]
fn screenshots_of_an_asymmetric_key_at_1600_by_1000() {
    asymmetric_key_screenshots(egui::vec2(1600.0, 1000.0), "1600");
}

fn asymmetric_key_screenshots(size: egui::Vec2, suffix: &str) {
    let (dir, store) = temp();
    let clock = ManualClock::new(START);
    let mut h = harness_sized(&store, &clock, size);
    create_store(&mut h);
    let (_pem, der) = private_key(
        dir.path(),
        &["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"],
    );
    asymmetric_key(&mut h, "Sign and verify", "RSA_2048", &der);
    type_into(&mut h, "Message to sign", "release 2.4.1");
    click(&mut h, "Sign");
    wait_label(&mut h, "Signature (base64)");
    click(&mut h, "Use in Verify ›");
    click(&mut h, "Verify signature");
    wait_part(&mut h, "✔ SignatureValid");
    click(&mut h, "Get public key");
    wait_label(&mut h, "Public key (PEM)");
    shoot(&mut h, &format!("sign-{suffix}"));
    presentation_mode(&mut h);
    click(&mut h, "Cryptography");
    shoot(&mut h, &format!("sign-presenting-{suffix}"));
    click(&mut h, "➕ New key");
    click(&mut h, "Sign and verify");
    wait_label(&mut h, "ECC_NIST_P256");
    shoot(&mut h, &format!("new-key-presenting-{suffix}"));
}

/// A multi-Region key at 1280×720: the replica's detail with its set's
/// links, the Replicate key… dialog on the primary, and presentation mode.
#[test]
fn screenshots_of_a_multi_region_key_at_1280_by_720() {
    multi_region_screenshots(egui::vec2(1280.0, 720.0), "1280");
}

/// The same at 1600×1000.
#[test]
fn screenshots_of_a_multi_region_key_at_1600_by_1000() {
    multi_region_screenshots(egui::vec2(1600.0, 1000.0), "1600");
}

fn multi_region_screenshots(size: egui::Vec2, suffix: &str) {
    let (dir, store) = temp();
    let clock = ManualClock::new(START);
    let mut h = harness_sized(&store, &clock, size);
    create_store(&mut h);
    create_multi_region_key(&mut h, "payments-global");
    let material = dir.path().join("KeyMaterial.bin");
    std::fs::write(&material, [0x3cu8; 32]).unwrap();
    import_file_through_wizard(&mut h, &material, "Key material imported");
    click(&mut h, "Close");
    replicate_selected(&mut h, "eu-west-1");
    wait_for(&mut h, "Replicate key… to be enabled", |h| {
        !is_disabled(h, "Replicate key…")
    });
    click(&mut h, "Replicate key…");
    type_into(&mut h, "Replica Region", "ap-southeast-2");
    shoot(&mut h, &format!("replicate-dialog-{suffix}"));
    click(&mut h, "Replicate key");
    wait_part(&mut h, "Replica created in ap-southeast-2");
    click(&mut h, "eu-west-1 · replica");
    wait_label(&mut h, "eu-west-1 · replica (this key)");
    shoot(&mut h, &format!("multi-region-replica-{suffix}"));
    presentation_mode(&mut h);
    wait_label(&mut h, "eu-west-1 · replica (this key)");
    shoot(&mut h, &format!("multi-region-presenting-{suffix}"));
}

/// The training demo at 1280×720, plain and in presentation mode: the key
/// list gives columns up and shows what they said under each key's name.
#[test]
fn screenshots_of_the_demo_at_1280_by_720() {
    let (_dir, store) = temp();
    let clock = ManualClock::new(START);
    let mut h = harness_sized(&store, &clock, egui::vec2(1280.0, 720.0));
    open_demo(&mut h);
    click_first(&mut h, "alias/payments-master");
    wait_label(&mut h, "Material timeline");
    shoot(&mut h, "1280");
    presentation_mode(&mut h);
    wait_part(&mut h, "shown under each key's name at this size");
    shoot(&mut h, "presentation-1280");
}
