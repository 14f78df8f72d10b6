//! Helpers for the console tests: a console on a manual clock with cheap key
//! derivation and RSA key pairs made in advance, and ways to wait for the
//! background worker while stepping frames.
#![allow(dead_code)]

#[path = "../common/mod.rs"]
mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use byok::kms::{KeyState, ManualClock};
use byok::ui::view::KeyRef;
use byok::ui::{AppConfig, ConsoleApp};
use egui_kittest::Harness;
use egui_kittest::kittest::{NodeT, Queryable};

pub use common::{START, openssl, test_keys};
// Only some of the tests that include this module import through a backend.
#[allow(unused_imports)]
pub use common::external_key_through;

/// A console harness.
pub type App<'a> = Harness<'a, ConsoleApp>;

/// The console for `store`, on `clock`, at 1600×1000.
pub fn console(store: &Path, clock: &ManualClock) -> App<'static> {
    console_sized(store, clock, egui::vec2(1600.0, 1000.0))
}

/// The console for `store`, on `clock`, in a window of `size`.
pub fn console_sized(store: &Path, clock: &ManualClock, size: egui::Vec2) -> App<'static> {
    let config = AppConfig::for_tests(store.to_path_buf(), clock.clone(), || Box::new(test_keys()));
    Harness::builder()
        .with_size(size)
        .with_max_steps(400)
        .build_eframe(move |cc| ConsoleApp::new(cc, config))
}

/// Opens the training demo from the unlock screen and waits until it is open.
pub fn open_demo(h: &mut App<'_>) {
    click(h, "🎓 Open training demo");
    wait_for(h, "the training store", |h| h.state().is_ready());
}

/// Turns presentation mode on in Settings and returns to the key view.
pub fn presentation_mode(h: &mut App<'_>) {
    click(h, "Settings");
    click(h, "Presentation mode (larger text for projectors)");
    click(h, "Keys");
    settle(h);
}

/// Creates an EXTERNAL key with the New key dialog (no description) and
/// returns its id; the console selects it.
pub fn create_external_key(h: &mut App<'_>) -> KeyRef {
    click(h, "➕ New key");
    click(h, "Create key");
    wait_label(h, "Key created");
    h.state()
        .selected_key()
        .expect("the new key is selected")
        .clone()
}

/// The engine's id of a key the console shows (a local store's keys are
/// named by the engine).
pub fn engine_id(key: &KeyRef) -> byok::kms::KeyId {
    let id = key.arn().rsplit_once("key/").expect("a key ARN").1;
    byok::kms::KeyId::parse(id).expect("an engine key id")
}

/// Waits until the console's view shows `key` in `state`.
#[track_caller]
pub fn wait_key_state(h: &mut App<'_>, key: &KeyRef, state: KeyState) {
    wait_for(h, &format!("the key in state {state:?}"), |h| {
        h.state()
            .view()
            .and_then(|v| v.key(key))
            .is_some_and(|k| k.state == state)
    });
}

/// Steps frames until `cond` holds (the worker answers in the background).
#[track_caller]
pub fn wait_for(h: &mut App<'_>, what: &str, cond: impl Fn(&App<'_>) -> bool) {
    let start = Instant::now();
    loop {
        if cond(h) {
            h.step();
            h.step();
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "timed out waiting for {what}"
        );
        h.step();
        std::thread::sleep(Duration::from_millis(4));
    }
}

/// Whether a node with exactly this label is shown.
pub fn shows(h: &App<'_>, label: &str) -> bool {
    h.query_all_by_label(label).next().is_some()
}

/// Whether a node whose label contains `part` is shown.
pub fn shows_part(h: &App<'_>, part: &str) -> bool {
    h.query_all_by_label_contains(part).next().is_some()
}

/// Waits for a label to appear.
#[track_caller]
pub fn wait_label(h: &mut App<'_>, label: &str) {
    let l = label.to_string();
    wait_for(h, &format!("label {label:?}"), move |h| shows(h, &l));
}

/// Waits for a label containing `part` to appear.
#[track_caller]
pub fn wait_part(h: &mut App<'_>, part: &str) {
    let l = part.to_string();
    wait_for(h, &format!("a label containing {part:?}"), move |h| {
        shows_part(h, &l)
    });
}

/// Clicks the only node labelled `label`.
#[track_caller]
pub fn click(h: &mut App<'_>, label: &str) {
    wait_label(h, label);
    settle_node(h, label);
    h.get_by_label(label).click();
    // Press and release, then a frame for the action to apply and one for a
    // new window or popup to lay itself out.
    for _ in 0..4 {
        h.step();
    }
}

/// Whether the only node labelled `label` is disabled.
#[track_caller]
pub fn is_disabled(h: &App<'_>, label: &str) -> bool {
    h.get_by_label(label).accesskit_node().is_disabled()
}

/// Replaces the text of the field labelled `label`.
#[track_caller]
pub fn type_into(h: &mut App<'_>, label: &str, text: &str) {
    wait_label(h, label);
    h.get_by_label(label).focus();
    h.step();
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::A);
    h.step();
    h.get_by_label(label).type_text(text);
    h.step();
    h.step();
}

/// A temporary folder for a test's store and files.
/// Waits until no console holds `store` any more: a console's worker closes
/// the store after the window shows the unlock screen, so a second console
/// in the same test must wait for that before opening it.
pub fn wait_until_released(store: &Path) {
    let mut lock_name = store.file_name().expect("file name").to_os_string();
    lock_name.push(".lock");
    let lock = store.with_file_name(lock_name);
    let start = Instant::now();
    loop {
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(&lock)
            .expect("lock file");
        if file.try_lock().is_ok() {
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "the first console never closed the store"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

pub fn temp() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = dir.path().join("store.byok");
    (dir, store)
}

/// Creates a store through the unlock screen and waits until it is open.
pub fn create_store(h: &mut App<'_>) {
    wait_label(h, "Create a store");
    type_into(h, "New passphrase", "correct horse battery");
    type_into(h, "Repeat the passphrase", "correct horse battery");
    click(h, "Create store");
    wait_for(h, "the store to open", |h| h.state().is_ready());
}

/// Locks the console and waits until the store file is free for the CLI.
pub fn lock(h: &mut App<'_>, store: &Path) {
    click(h, "🔒 Lock");
    wait_label(h, "Open store");
    wait_until_released(store);
}

/// Opens the store again from the unlock screen (the passphrase of
/// [`create_store`]).
pub fn reopen(h: &mut App<'_>) {
    type_into(h, "Passphrase", "correct horse battery");
    click(h, "Open store");
    wait_for(h, "the store to open", |h| h.state().is_ready());
}

/// Runs the harness until nothing animates (bounded).
pub fn settle(h: &mut App<'_>) {
    for _ in 0..10 {
        h.step();
    }
}

/// Clicks the first node labelled `label` (in drawing order: the key list
/// comes before the detail).
#[track_caller]
pub fn click_first(h: &mut App<'_>, label: &str) {
    wait_label(h, label);
    settle_node(h, label);
    scroll_into_view(h, label);
    h.get_all_by_label(label).next().expect("a node").click();
    for _ in 0..4 {
        h.step();
    }
}

/// Scrolls the first node labelled `label` into the window, as a user
/// would with the wheel over it (a click on a row scrolled out of view
/// does nothing).
pub fn scroll_into_view(h: &mut App<'_>, label: &str) {
    let window = h.ctx.content_rect();
    // Above the status bar.
    let floor = window.bottom() - 40.0;
    for _ in 0..60 {
        let Some(r) = h.get_all_by_label(label).next().map(|n| n.rect()) else {
            return;
        };
        if r.top() >= window.top() && r.bottom() <= floor {
            return;
        }
        let dy = if r.top() < window.top() { 60.0 } else { -60.0 };
        let at = egui::pos2(r.center().x, floor - 60.0);
        h.event(egui::Event::PointerMoved(at));
        h.event(egui::Event::MouseWheel {
            unit: egui::MouseWheelUnit::Point,
            delta: egui::vec2(0.0, dy),
            phase: egui::TouchPhase::Move,
            source: egui::MouseWheelSource::Unknown,
            modifiers: egui::Modifiers::NONE,
        });
        h.step();
    }
}

/// Steps until the first node labelled `label` stops moving (a window that
/// grew re-centres itself over a frame or two).
pub fn settle_node(h: &mut App<'_>, label: &str) {
    let rect = |h: &App<'_>| h.get_all_by_label(label).next().map(|n| n.rect());
    for _ in 0..30 {
        let before = rect(h);
        h.step();
        if rect(h) == before {
            return;
        }
    }
}

/// A private key made as the Developer Guide makes one (`genpkey`, then
/// DER PKCS #8): returns the PEM path (for OpenSSL) and the DER path (for
/// the wizard).
pub fn private_key(dir: &Path, genpkey: &[&str]) -> (String, String) {
    let pem = dir.join("key.pem").display().to_string();
    let der = dir.join("PrivateKey.der").display().to_string();
    let mut args = vec!["genpkey"];
    args.extend_from_slice(genpkey);
    args.extend_from_slice(&["-out", &pem]);
    openssl(dir, &args);
    openssl(
        dir,
        &[
            "pkcs8", "-topk8", "-outform", "der", "-nocrypt", "-in", &pem, "-out", &der,
        ],
    );
    (pem, der)
}

/// Creates a key of `usage` and `spec` with origin EXTERNAL through the
/// New key dialog and imports the private key `der` through the wizard.
pub fn asymmetric_key(h: &mut App<'_>, usage: &str, spec: &str, der: &str) -> KeyRef {
    click(h, "➕ New key");
    type_into(h, "Description", &format!("{spec} {usage}"));
    click(h, usage);
    click(h, spec);
    click(h, "Create key");
    wait_label(h, "Key created");
    let key = h.state().selected_key().expect("selected").clone();
    wait_key_state(h, &key, KeyState::PendingImport);
    click(h, "📥 Import key material…");
    wait_label(h, "Get import parameters");
    click(h, "Get import parameters");
    wait_label(h, "Import parameters ready");
    click(h, "Next ›");
    click(h, "Wrap a plaintext KeyMaterial.bin here");
    type_into(h, "Plaintext KeyMaterial.bin path", der);
    click(h, "Wrap this material");
    click(h, "Next ›");
    wait_label(h, "Import type");
    click(h, "Import");
    wait_label(h, "Key material imported");
    click(h, "Close");
    wait_key_state(h, &key, KeyState::Enabled);
    click(h, "Cryptography");
    key
}

/// Imports the plaintext material in file `material` into the selected key
/// through the import wizard; waits for a label containing `expect`.
pub fn import_file_through_wizard(h: &mut App<'_>, material: &std::path::Path, expect: &str) {
    click(h, "📥 Import key material…");
    // A refused import leaves its parameters in the store: the next
    // wizard resumes with them.
    wait_for(h, "the wizard", |h| {
        shows(h, "Get import parameters") || shows(h, "Get new import parameters")
    });
    if shows(h, "Get import parameters") {
        click(h, "Get import parameters");
    }
    wait_label(h, "Import parameters ready");
    click(h, "Next ›");
    click(h, "Wrap a plaintext KeyMaterial.bin here");
    type_into(
        h,
        "Plaintext KeyMaterial.bin path",
        &material.display().to_string(),
    );
    click(h, "Wrap this material");
    click(h, "Next ›");
    wait_label(h, "Import type");
    click(h, "Import");
    wait_part(h, expect);
}

/// Creates an EXTERNAL multi-Region key described `description` with the
/// New key dialog; the console selects it.
pub fn create_multi_region_key(h: &mut App<'_>, description: &str) -> KeyRef {
    click(h, "➕ New key");
    type_into(h, "Description", description);
    click(h, "Multi-Region key");
    click(h, "Create key");
    wait_label(h, "Key created");
    h.state()
        .selected_key()
        .expect("the new key is selected")
        .clone()
}

/// Replicates the selected multi-Region primary to `region` with
/// Replicate key… and waits for the console's notice.
pub fn replicate_selected(h: &mut App<'_>, region: &str) {
    wait_label(h, "Replicate key…");
    wait_for(h, "Replicate key… to be enabled", |h| {
        !is_disabled(h, "Replicate key…")
    });
    click(h, "Replicate key…");
    type_into(h, "Replica Region", region);
    click(h, "Replicate key");
    wait_part(h, &format!("Replica created in {region}"));
}

/// Renders the frame and writes it as the window shows it: over the
/// console's clear colour (the panels' colour; the panels paint no fill of
/// their own, see `theme::clear_color`), where kittest clears to
/// transparent. The renderer's pixels are premultiplied, so this is the
/// blend a window does: colour + clear × (1 − alpha).
#[cfg(feature = "snapshots")]
pub fn save_shown(h: &mut App<'_>, path: &std::path::Path) {
    use eframe::App as _;
    let clear = h.state().clear_color(&h.ctx.global_style().visuals);
    let mut image = h.render().expect("render");
    for p in image.pixels_mut() {
        let under = 1.0 - f32::from(p[3]) / 255.0;
        for (c, bg) in p.0.iter_mut().zip(clear).take(3) {
            *c = (f32::from(*c) + bg * 255.0 * under).round().min(255.0) as u8;
        }
        p[3] = 255;
    }
    image.save(path).expect("write png");
}
