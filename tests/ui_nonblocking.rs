//! The UI thread never waits: not on key derivation, not on a save, not on
//! a worker that is busy. A slow job (a long save, a slow network call)
//! does not stall frames: the job queues and the console keeps drawing.
//! That the UI thread cannot reach the vault at all is a matter of types
//! (no type the UI holds contains it), checked by `tests/architecture.rs`.

#[path = "ui_support/mod.rs"]
mod support;

use std::time::{Duration, Instant};

use byok::kms::ManualClock;
use byok::ui::action::Owner;
use byok::ui::worker::Job;
use support::*;

#[test]
fn frames_keep_coming_while_the_worker_is_busy() {
    let (_dir, store) = temp();
    let clock = ManualClock::new(START);
    let mut h = console(&store, &clock);
    create_store(&mut h);

    // The worker is busy for 1.5 s, as with a slow save or a slow answer
    // from AWS.
    h.state()
        .jobs()
        .submit(Owner::Keys, Job::Stall(Duration::from_millis(1500)));
    let held_since = Instant::now();

    // The user creates a key meanwhile: the job queues behind the busy one.
    click(&mut h, "➕ New key");
    type_into(&mut h, "Description", "made while the worker was busy");
    click(&mut h, "Create key");
    let mut slowest = Duration::ZERO;
    let mut frames = 0;
    while held_since.elapsed() < Duration::from_millis(1200) {
        let t = Instant::now();
        h.step();
        slowest = slowest.max(t.elapsed());
        frames += 1;
        assert!(
            shows(&h, "Saving…"),
            "the pending change is visible while it waits"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(frames >= 10, "only {frames} frames in 1.2 s");
    assert!(
        slowest < Duration::from_millis(400),
        "a frame took {slowest:?} while the worker was busy: the UI thread waited"
    );
    assert!(
        !shows(&h, "Key created"),
        "the job cannot finish while the worker is busy"
    );
    wait_label(&mut h, "Key created");
    assert_eq!(h.state().view().map(|v| v.keys.len()), Some(1));
}
