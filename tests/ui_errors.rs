//! Engine errors show inline where the action was taken, in plain words with
//! the AWS exception name: in the wizard step that caused them, and under the
//! key's actions. The console lets the engine decide, it does not guess.

#[path = "ui_support/mod.rs"]
mod support;

use byok::kms::{KeyState, ManualClock};
use egui_kittest::kittest::Queryable;
use support::*;

#[test]
fn errors_show_in_the_step_that_caused_them() {
    let (dir, store) = temp();
    let clock = ManualClock::new(START);
    let mut h = console(&store, &clock);
    create_store(&mut h);
    let key = create_external_key(&mut h);

    // AWS refuses DisableKey on a key pending import: the button says so
    // instead of offering it.
    assert!(
        is_disabled(&h, "Disable key"),
        "DisableKey is refused in PendingImport"
    );

    // An alias the engine refuses: its words show under the key's actions.
    click(&mut h, "Aliases, tags and description");
    type_into(&mut h, "New alias", "alias/aws/mine");
    click(&mut h, "Add alias");
    wait_label(&mut h, "Add alias failed:");
    assert!(shows(&h, "InvalidAliasNameException"));
    assert!(shows_part(&h, "reserved for AWS managed keys"));
    assert!(
        h.state()
            .view()
            .and_then(|v| v.key(&key))
            .is_some_and(|k| k.aliases.is_empty()),
        "nothing was added"
    );

    click(&mut h, "📥 Import key material…");
    click(&mut h, "Get import parameters");
    wait_label(&mut h, "Import parameters ready");
    click(&mut h, "Next ›");

    // A path that does not exist: said in step 2, nothing imported.
    let missing = dir.path().join("nowhere.bin");
    type_into(
        &mut h,
        "EncryptedKeyMaterial.bin path",
        &missing.display().to_string(),
    );
    click(&mut h, "Next ›");
    wait_label(&mut h, "⚠ The file could not be read.");
    assert!(
        shows(&h, "Where is the wrapped key material?"),
        "still step 2"
    );

    // Bytes that are not material wrapped under this key pair: the import
    // fails and the wizard goes back to step 2 with the engine's words.
    let junk = dir.path().join("junk.bin");
    std::fs::write(&junk, [7u8; 512]).unwrap();
    type_into(
        &mut h,
        "EncryptedKeyMaterial.bin path",
        &junk.display().to_string(),
    );
    click(&mut h, "Next ›");
    wait_label(&mut h, "Import type");
    click(&mut h, "Import");
    wait_label(&mut h, "InvalidCiphertextException");
    assert!(
        shows(&h, "Where is the wrapped key material?"),
        "back in step 2"
    );
    assert!(shows_part(&h, "could not be decrypted or unwrapped"));
    click(&mut h, "Cancel");

    // A key pending deletion: the engine's verdict for GetParametersForImport
    // refuses the import, and the button says why with AWS's exception.
    click(&mut h, "🗑 Schedule deletion…");
    click(&mut h, "Schedule deletion");
    wait_key_state(&mut h, &key, KeyState::PendingDeletion);
    assert!(
        is_disabled(&h, "📥 Import key material…"),
        "GetParametersForImport is refused in PendingDeletion (SPEC §2)"
    );
    h.get_by_label("📥 Import key material…").hover();
    wait_part(&mut h, "KMSInvalidStateException");
    assert!(shows_part(&h, "is pending deletion."));

    // Cancel deletion brings it back (PendingImport: it never had material).
    click(&mut h, "Cancel deletion");
    wait_key_state(&mut h, &key, KeyState::PendingImport);
}

#[test]
fn the_filter_and_sorting_of_the_key_list() {
    let (_dir, store) = temp();
    let clock = ManualClock::new(START);
    let mut h = console(&store, &clock);
    click(&mut h, "🎓 Open training demo");
    wait_for(&mut h, "the training store", |h| h.state().is_ready());
    wait_label(&mut h, "9 keys");
    type_into(&mut h, "Filter keys", "legacy");
    wait_label(&mut h, "1 of 9 keys");
    assert!(shows(&h, "alias/legacy-export"));
    type_into(&mut h, "Filter keys", "EXTERNAL");
    wait_label(&mut h, "8 of 9 keys");
    type_into(&mut h, "Filter keys", "");
    wait_label(&mut h, "9 keys");
    // The Cost column gives way at the list's default width: widen the
    // list by its edge, as a user would, to sort by it.
    assert!(!shows(&h, "Sort by Cost"));
    let right = h.get_by_label("Clear the filter").rect().right();
    let y = h.get_by_label("Clear the filter").rect().center().y + 200.0;
    let press = |pos: egui::Pos2, pressed: bool| egui::Event::PointerButton {
        pos,
        button: egui::PointerButton::Primary,
        pressed,
        modifiers: egui::Modifiers::NONE,
    };
    // The panel's edge is a few points right of the row's last button.
    for offset in [4.0, 8.0, 12.0, 16.0] {
        if shows(&h, "Sort by Cost") {
            break;
        }
        let mut x = right + offset;
        h.event(egui::Event::PointerMoved(egui::pos2(x, y)));
        h.step();
        h.event(press(egui::pos2(x, y), true));
        h.step();
        for _ in 0..15 {
            x += 20.0;
            h.event(egui::Event::PointerMoved(egui::pos2(x, y)));
            h.step();
        }
        h.event(press(egui::pos2(x, y), false));
        settle(&mut h);
    }
    // Sorting by cost, twice: descending puts the $3 keys first.
    click(&mut h, "Sort by Cost");
    click(&mut h, "Sort by Cost");
    let labels: Vec<String> = {
        use egui_kittest::kittest::Queryable;
        h.query_all_by_label_contains("$")
            .filter_map(|n| n.value())
            .filter(|v| v.len() <= 3)
            .collect()
    };
    assert_eq!(labels.first().map(String::as_str), Some("$3"), "{labels:?}");
    assert_eq!(labels.last().map(String::as_str), Some("$1"), "{labels:?}");
}

#[test]
fn filtering_and_clearing_again_and_again_never_widens_the_key_list() {
    // Issue 10, item 7: each use of the filter used to widen the list by
    // about 70 px, for good.
    let (_dir, store) = temp();
    let clock = ManualClock::new(START);
    let mut h = console(&store, &clock);
    click(&mut h, "🎓 Open training demo");
    wait_for(&mut h, "the training store", |h| h.state().is_ready());
    wait_label(&mut h, "9 keys");
    let width = |h: &App<'_>| h.get_by_label("Filter keys").rect().width();
    // The clear button ends the row: its right edge is the panel's.
    let sort = |h: &App<'_>| h.get_by_label("Clear the filter").rect().right();
    let (before, sort_before) = (width(&h), sort(&h));
    for word in ["legacy", "EXTERNAL", "payments", "x"] {
        type_into(&mut h, "Filter keys", word);
        settle(&mut h);
        assert!(
            (width(&h) - before).abs() < 1.0,
            "{word}: {} then {}",
            before,
            width(&h)
        );
        click(&mut h, "Clear the filter");
        settle(&mut h);
        wait_label(&mut h, "9 keys");
    }
    assert!(
        (width(&h) - before).abs() < 1.0,
        "{before} then {}",
        width(&h)
    );
    assert!(
        (sort(&h) - sort_before).abs() < 1.0,
        "the list's columns moved"
    );
}
