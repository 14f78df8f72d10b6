//! Guided lessons on the training store (issue 10, item 13): each lesson
//! runs end to end through the panel, the engine's real answers show under
//! the narration, Reset starts again at step 1 on a fresh key, and a real
//! store offers no lessons.

#[path = "ui_support/mod.rs"]
mod support;

use byok::kms::{KeyState, ManualClock};
use support::*;

fn training(clock: &ManualClock) -> (tempfile::TempDir, App<'static>) {
    let (dir, store) = temp();
    let mut h = console(&store, clock);
    open_demo(&mut h);
    click(&mut h, "🎓 Lessons");
    (dir, h)
}

/// Starts `title` and waits for its first step.
fn start(h: &mut App<'_>, title: &str, steps: usize) {
    click(h, title);
    wait_label(h, &format!("Step 1 of {steps}"));
    ready(h);
}

/// Waits until the step under way has finished (Reset is enabled again).
fn ready(h: &mut App<'_>) {
    wait_for(h, "the step to finish", |h| !is_disabled(h, "↺ Reset"));
}

/// Runs the next step and waits for it to show.
fn next(h: &mut App<'_>, n: usize, steps: usize) {
    ready(h);
    click(h, "Next step ▶");
    wait_label(h, &format!("Step {n} of {steps}"));
    ready(h);
}

fn selected_state(h: &App<'_>) -> KeyState {
    let key = h
        .state()
        .selected_key()
        .expect("the lesson key is selected");
    h.state()
        .view()
        .and_then(|v| v.key(key))
        .expect("the lesson key in the view")
        .state
}

#[test]
fn rotation_keeps_old_ciphertext_decryptable() {
    let clock = ManualClock::new(START);
    let (_dir, mut h) = training(&clock);
    start(&mut h, "Rotation and old ciphertext", 6);
    assert!(shows_part(&h, "CreateKey: key/"));
    assert!(shows_part(&h, "DescribeKey: KeyState Enabled"));
    let key = h.state().selected_key().expect("the lesson key").clone();
    next(&mut h, 2, 6);
    assert!(shows_part(&h, "Encrypt: "));
    next(&mut h, 3, 6);
    assert!(shows_part(&h, "is PENDING_ROTATION"));
    next(&mut h, 4, 6);
    assert!(shows_part(&h, "RotateKeyOnDemand accepted"));
    let view = h.state().view().expect("view").clone();
    let k = view.key(&key).expect("the lesson key");
    assert_eq!(k.materials.len(), 2, "two materials after the rotation");
    next(&mut h, 5, 6);
    assert!(
        shows_part(&h, "— the first material"),
        "the old ciphertext decrypts with the first KeyMaterialId"
    );
    next(&mut h, 6, 6);
    wait_part(&mut h, "Lesson complete");
    assert!(is_disabled(&h, "Next step ▶"));
}

#[test]
fn expiry_makes_the_key_unusable_until_reimport() {
    let clock = ManualClock::new(START);
    let (_dir, mut h) = training(&clock);
    start(&mut h, "Expiry makes the key unusable", 6);
    assert!(shows_part(&h, ", ValidTo "));
    next(&mut h, 2, 6);
    next(&mut h, 3, 6);
    assert!(shows_part(&h, "DescribeKey: KeyState PendingImport"));
    wait_for(&mut h, "the key view to show PendingImport", |h| {
        selected_state(h) == KeyState::PendingImport
    });
    next(&mut h, 4, 6);
    assert!(
        shows_part(&h, "✖ Refused — KMSInvalidStateException"),
        "Decrypt fails with the AWS exception"
    );
    next(&mut h, 5, 6);
    assert!(shows_part(&h, "DescribeKey: KeyState Enabled"));
    next(&mut h, 6, 6);
    assert!(shows_part(&h, "— the first material"));
    assert_eq!(selected_state(&h), KeyState::Enabled);
}

#[test]
fn delete_and_reimport_brings_the_ciphertext_back() {
    let clock = ManualClock::new(START);
    let (_dir, mut h) = training(&clock);
    start(&mut h, "Delete and re-import", 6);
    next(&mut h, 2, 6);
    next(&mut h, 3, 6);
    assert!(shows_part(&h, "DeleteImportedKeyMaterial: KeyMaterialId"));
    assert!(shows_part(&h, "KeyState PendingImport"));
    next(&mut h, 4, 6);
    assert!(shows_part(&h, "KMSInvalidStateException"));
    next(&mut h, 5, 6);
    assert!(shows_part(&h, "(EXISTING_KEY_MATERIAL)"));
    next(&mut h, 6, 6);
    assert!(shows_part(&h, "Decrypt succeeded with KeyMaterialId"));
    assert!(shows_part(&h, "— the first material"));
}

#[test]
fn the_twenty_sixth_rotation_is_refused() {
    let clock = ManualClock::new(START);
    let (_dir, mut h) = training(&clock);
    start(&mut h, "The 25-rotation budget", 5);
    next(&mut h, 2, 5);
    assert!(shows_part(&h, "1 of 25 on-demand rotations used"));
    next(&mut h, 3, 5);
    assert!(shows_part(&h, "24 of 25 on-demand rotations used"));
    next(&mut h, 4, 5);
    assert!(shows_part(&h, "25 of 25 on-demand rotations used"));
    next(&mut h, 5, 5);
    assert!(
        shows_part(
            &h,
            "✖ Refused — LimitExceededException: The on-demand rotations limit has been reached"
        ),
        "the engine's own refusal"
    );
    wait_part(&mut h, "Lesson complete");
}

#[test]
fn reset_returns_to_step_one_on_a_fresh_key() {
    let clock = ManualClock::new(START);
    let (_dir, mut h) = training(&clock);
    start(&mut h, "Delete and re-import", 6);
    let first = h.state().selected_key().expect("the lesson key").clone();
    next(&mut h, 2, 6);
    next(&mut h, 3, 6);
    assert_eq!(selected_state(&h), KeyState::PendingImport);
    click(&mut h, "↺ Reset");
    wait_for(&mut h, "a fresh lesson key", |h| {
        h.state().selected_key().is_some_and(|k| *k != first)
    });
    wait_label(&mut h, "Step 1 of 6");
    ready(&mut h);
    assert!(!shows_part(&h, "DeleteImportedKeyMaterial"));
    assert_eq!(selected_state(&h), KeyState::Enabled, "the starting state");
}

#[test]
fn right_arrow_runs_the_next_step() {
    let clock = ManualClock::new(START);
    let (_dir, mut h) = training(&clock);
    start(&mut h, "Rotation and old ciphertext", 6);
    h.key_press(egui::Key::ArrowRight);
    wait_label(&mut h, "Step 2 of 6");
}

#[test]
fn a_real_store_offers_no_lessons() {
    let (_dir, store) = temp();
    let clock = ManualClock::new(START);
    let mut h = console(&store, &clock);
    create_store(&mut h);
    settle(&mut h);
    assert!(!shows(&h, "🎓 Lessons"));
    assert!(!shows_part(&h, "Rotation and old ciphertext"));
}

/// In the room (1280×720, presentation mode, lessons open) the toolbar's
/// clock gives way to the tabs instead of being drawn over "Settings": the
/// status bar shows the clock anyway.
#[test]
fn the_toolbar_clock_never_covers_the_tabs_at_1280_in_presentation_mode() {
    use egui_kittest::kittest::Queryable as _;
    let (_dir, store) = temp();
    let clock = ManualClock::new(START);
    let mut h = console_sized(&store, &clock, egui::vec2(1280.0, 720.0));
    open_demo(&mut h);
    presentation_mode(&mut h);
    click(&mut h, "🎓 Lessons");
    settle(&mut h);
    let tabs: Vec<egui::Rect> = ["Key manager", "Audit trail", "Settings", "🔒 Lock"]
        .iter()
        .map(|t| h.get_by_label(t).rect())
        .collect();
    let badges: Vec<egui::Rect> = h
        .query_all_by_label("MANUAL CLOCK")
        .map(|n| n.rect())
        .collect();
    assert!(!badges.is_empty(), "the status bar shows the clock");
    for b in &badges {
        for t in &tabs {
            assert!(!b.intersects(*t), "the clock badge {b:?} covers {t:?}");
        }
    }
}
