//! Issue 9, item 7: an empty passphrase never seals a store, wherever it
//! comes from. The check is in the store layer (`Vault::create`,
//! `Vault::change_passphrase`), so the CLI's `BYOK_PASSPHRASE=""`, stdin and
//! the console all get the same refusal.

mod cli_common;

use std::sync::Arc;

use byok::kms::{GenerateOnDemand, Kms, Settings};
use byok::store::clock::SystemClock;
use byok::store::format::KdfParams;
use byok::store::{EMPTY_PASSPHRASE, StoreError, Vault, VaultOptions};
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
fn an_empty_passphrase_from_the_environment_creates_no_store() {
    let s = Sandbox::new();
    let r = s.byok_env(
        &["kms", "create-key", "--origin", "EXTERNAL"],
        &[("BYOK_PASSPHRASE", "")],
    );
    assert_ne!(
        r.status, 0,
        "an empty passphrase created a key: {}",
        r.stdout
    );
    assert!(
        r.stderr.contains("the passphrase must not be empty"),
        "stderr: {}",
        r.stderr
    );
    assert!(
        !s.store().exists(),
        "a store was created under an empty passphrase"
    );
}

#[test]
fn the_store_api_refuses_an_empty_passphrase_to_create_and_to_change() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.byok");
    let empty = SecretString::from(String::new());
    match Vault::create(&path, &empty, options()) {
        Err(StoreError::Other(m)) if m == EMPTY_PASSPHRASE => {}
        Err(e) => panic!("wrong refusal: {e}"),
        Ok(_) => panic!("a store was created under an empty passphrase"),
    }
    assert!(!path.exists());

    let good = SecretString::from(PASSPHRASE.to_string());
    let mut vault = Vault::create(&path, &good, options()).unwrap();
    let before = std::fs::read(&path).unwrap();
    let err = vault.change_passphrase(&empty, None).unwrap_err();
    assert_eq!(err.to_string(), EMPTY_PASSPHRASE);
    assert_eq!(std::fs::read(&path).unwrap(), before, "the store changed");
    assert!(vault.check_passphrase(&good));
}
