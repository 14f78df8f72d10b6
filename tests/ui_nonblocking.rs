//! The UI thread never waits: not on key derivation, not on a save, not on
//! the vault's mutex. A slow holder of the vault (the endpoint, a long save)
//! does not stall frames, and the UI thread may not lock the vault at all
//! (a debug assertion).

#[path = "ui_support/mod.rs"]
mod support;

use std::sync::mpsc;
use std::time::{Duration, Instant};

use byok::kms::ManualClock;
use support::*;

#[test]
fn frames_keep_coming_while_another_thread_holds_the_vault() {
    let (_dir, store) = temp();
    let clock = ManualClock::new(START);
    let mut h = console(&store, &clock);
    create_store(&mut h);
    let vault = h.state().shared_vault().expect("an open store");

    // Another thread holds the vault for 1.5 s, as a slow save or the endpoint might.
    let (held_tx, held_rx) = mpsc::channel();
    let holder = std::thread::spawn(move || {
        let guard = vault.lock().unwrap_or_else(|p| p.into_inner());
        held_tx.send(()).expect("test thread");
        std::thread::sleep(Duration::from_millis(1500));
        drop(guard);
    });
    held_rx.recv().expect("the holder has the lock");
    let held_since = Instant::now();

    // The user creates a key meanwhile: the job queues behind the lock.
    click(&mut h, "➕ New key");
    type_into(&mut h, "Description", "made while the vault was busy");
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
        "a frame took {slowest:?} while the vault was held: the UI thread waited"
    );
    assert!(
        !shows(&h, "Key created"),
        "the job cannot finish while the vault is held"
    );
    holder.join().expect("holder");
    wait_label(&mut h, "Key created");
    assert_eq!(h.state().view().map(|v| v.keys.len()), Some(1));
}

#[cfg(debug_assertions)]
#[test]
fn the_ui_thread_may_not_lock_the_vault() {
    use std::sync::{Arc, Mutex};

    use byok::store::format::KdfParams;
    use byok::store::{Vault, VaultOptions};

    let (_dir, store) = temp();
    let vault = Vault::create(
        &store,
        &secrecy::SecretString::from("p".to_string()),
        VaultOptions {
            clock: Arc::new(ManualClock::new(START)),
            wrapping_keys: Box::new(test_keys()),
            kdf: KdfParams::INSECURE_FAST,
            settings: Default::default(),
        },
    )
    .expect("store");
    let vault = Arc::new(Mutex::new(vault));
    let worker_side = vault.clone();
    // Any other thread may lock it.
    std::thread::spawn(move || drop(byok::ui::worker::lock_vault(&worker_side)))
        .join()
        .expect("a worker thread may lock the vault");
    // The UI thread may not.
    let ui_side = vault.clone();
    let result = std::thread::spawn(move || {
        byok::ui::worker::mark_ui_thread();
        drop(byok::ui::worker::lock_vault(&ui_side));
    })
    .join();
    assert!(
        result.is_err(),
        "locking the vault on the UI thread must trip the debug assertion"
    );
}
