//! Fast-forward shows what time did (issue 10, item 12): the clock controls
//! sit above the key view of a training store, "Next event" jumps to the
//! engine's next time-driven event, and each one — a rotation completing,
//! a material's ValidTo passing, a key's deletion date passing — is
//! announced in a toast and kept on the clock bar's "Last" line.

#[path = "ui_support/mod.rs"]
mod support;

use byok::kms::{ImportState, KeyState, ManualClock};
use support::*;

#[test]
fn next_event_walks_through_what_time_does_and_each_event_is_announced() {
    let (_dir, store) = temp();
    let clock = ManualClock::new(START);
    let mut h = console(&store, &clock);
    open_demo(&mut h);
    settle(&mut h);

    // The controls are on the key view, with what comes next.
    assert!(
        shows(&h, "🕒 Simulated clock"),
        "the clock bar on the key view"
    );
    assert!(shows(&h, "+1 day"));
    assert!(
        shows_part(&h, "the rotation of alias/billing-archive completes in"),
        "the next event is the demo's rotation in progress"
    );
    assert!(shows_part(&h, "nothing yet"), "no event announced yet");

    // 1. The rotation in progress completes.
    let billing = key_by_alias(&h, "alias/billing-archive");
    let pending = billing.pending_material().expect("a pending material").id;
    click(&mut h, "⏭ Next event");
    wait_part(&mut h, "Rotation of alias/billing-archive complete");
    let now = h.state().view().unwrap().key(&billing.id).unwrap().clone();
    assert_eq!(now.current, Some(pending), "the engine made it current");
    assert!(
        shows_part(&h, &format!("{}… is now CURRENT", pending.short())),
        "the toast and the Last line name the new current material"
    );

    // 2. Further jumps reach the vendor feed's ValidTo (in 5 months) and
    // the staging key's deletion date, each announced with the engine's
    // outcome.
    let vendor = key_by_alias(&h, "alias/vendor-feed");
    let staging = key_by_alias(&h, "alias/staging-temp");
    let next = |h: &App<'_>| h.state().view().unwrap().local.as_ref().unwrap().next_event;
    let (mut saw_expiry, mut saw_deletion, mut saw_automatic) = (false, false, false);
    for _ in 0..12 {
        if saw_expiry && saw_deletion && saw_automatic {
            break;
        }
        let before = next(&h);
        click(&mut h, "⏭ Next event");
        wait_for(&mut h, "the engine's next event", |h| next(h) != before);
        settle(&mut h);
        saw_expiry |= shows_part(&h, "of alias/vendor-feed expired at its ValidTo");
        saw_deletion |= shows_part(&h, "alias/staging-temp was deleted");
        saw_automatic |= shows_part(&h, "KMS rotated alias/analytics on its schedule");
    }
    assert!(saw_automatic, "the automatic rotation was announced");
    assert!(saw_deletion, "the scheduled deletion was announced");
    assert!(saw_expiry, "the expiry was announced");
    let view = h.state().view().unwrap().clone();
    assert!(
        view.key(&staging.id).is_none(),
        "the engine deleted the key"
    );
    let vendor_now = view.key(&vendor.id).expect("the vendor key stays");
    assert!(
        vendor_now
            .materials
            .iter()
            .any(|m| m.import_state == ImportState::PendingImport),
        "its material was deleted at ValidTo"
    );
    assert_eq!(vendor_now.state, KeyState::PendingImport);
}

#[test]
fn the_clock_bar_is_only_on_training_stores() {
    let (_dir, store) = temp();
    let clock = ManualClock::new(START);
    let mut h = console(&store, &clock);
    create_store(&mut h);
    create_external_key(&mut h);
    settle(&mut h);
    assert!(!shows(&h, "🕒 Simulated clock"));
    assert!(!shows(&h, "⏭ Next event"));
}

fn key_by_alias(h: &App<'_>, alias: &str) -> byok::ui::view::KeyView {
    h.state()
        .view()
        .unwrap()
        .keys
        .iter()
        .find(|k| k.aliases.iter().any(|a| a == alias))
        .unwrap_or_else(|| panic!("{alias}"))
        .clone()
}
