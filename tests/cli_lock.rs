//! One writer at a time: while this test process holds the store open, the
//! CLI is refused with the holder's pid and leaves the store untouched;
//! commands that only read work beside it.

mod cli_common;

use std::sync::Arc;

use byok::kms::{GenerateOnDemand, Kms, Settings};
use byok::store::clock::SystemClock;
use byok::store::format::KdfParams;
use byok::store::{Vault, VaultOptions};
use cli_common::*;
use secrecy::SecretString;

fn options() -> VaultOptions {
    VaultOptions {
        clock: Arc::new(SystemClock),
        wrapping_keys: Box::new(GenerateOnDemand(Kms::os_rng())),
        kdf: KdfParams::INSECURE_FAST,
        settings: Settings::default(),
    }
}

#[test]
fn a_store_held_by_another_process_is_refused_and_untouched() {
    let s = Sandbox::new();
    let key = s.ok(&[
        "kms",
        "create-key",
        "--origin",
        "EXTERNAL",
        "--query",
        "KeyMetadata.KeyId",
        "--output",
        "text",
    ]);
    let key = key.line().to_string();

    let held = Vault::open(
        &s.store(),
        &SecretString::from(PASSPHRASE.to_string()),
        options(),
    )
    .expect("open the store");
    let before = s.read("store.byok");
    let bak_before = s.read("store.byok.bak");

    for args in [
        vec!["kms", "list-keys"],
        vec!["kms", "schedule-key-deletion", "--key-id", &key],
    ] {
        let r = s.byok(&args);
        assert_ne!(r.status, 0, "{args:?} ran while the store was held");
        assert_eq!(r.status, 255);
        assert_eq!(
            r.stderr,
            format!(
                "byok: store is in use by another byok process (pid {})\n",
                std::process::id()
            ),
            "{args:?}"
        );
        assert_eq!(r.stdout, "");
        assert_eq!(
            s.read("store.byok"),
            before,
            "{args:?} changed the store file"
        );
        assert_eq!(
            s.read("store.byok.bak"),
            bak_before,
            "{args:?} changed the backup"
        );
    }

    // Commands that only read open the store without its lock (issue 9,
    // item 10): they work beside the holder and change nothing.
    for (args, shows) in [
        (vec!["store", "info", "--query", "Keys"], "1\n".to_string()),
        (vec!["audit", "export"], key.clone()),
    ] {
        let r = s.byok(&args);
        assert_eq!(r.status, 0, "{args:?} was refused: {}", r.stderr);
        assert!(r.stdout.contains(&shows), "{args:?}: {}", r.stdout);
        assert_eq!(s.read("store.byok"), before, "{args:?} changed the store");
        assert_eq!(
            s.read("store.byok.bak"),
            bak_before,
            "{args:?} changed the backup"
        );
    }

    // Released: the CLI works again and sees the one key.
    held.close().expect("close");
    let r = s.ok(&[
        "kms",
        "list-keys",
        "--query",
        "Keys[].KeyId",
        "--output",
        "text",
    ]);
    assert_eq!(r.stdout, format!("{key}\n"));
}
