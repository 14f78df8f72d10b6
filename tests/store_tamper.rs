//! Damaged store files: flipped bits at sampled positions of the header and
//! the body, and truncations, always give a clear error — never a panic —
//! and leave the file byte-for-byte unchanged.

mod common;

use std::path::Path;

use byok::kms::{Caller, CreateKeyRequest, ManualClock, PregeneratedKeys};
use byok::store::format::HEADER_LEN;
use byok::store::{StoreError, Vault, VaultOptions};
use common::*;
use secrecy::SecretString;

fn options() -> VaultOptions {
    vault_options(&ManualClock::new(START), PregeneratedKeys::default())
}

fn pass() -> SecretString {
    SecretString::from("tamper test".to_string())
}

/// Opens `bytes` written at `path`; asserts a clear error and no change.
fn assert_refused(path: &Path, bytes: &[u8], what: &str) {
    std::fs::write(path, bytes).unwrap();
    let err = Vault::open(path, &pass(), options()).expect_err(what);
    let text = err.to_string();
    match &err {
        StoreError::Unreadable { .. } => {
            assert!(
                text.starts_with("wrong passphrase, or the store is damaged: "),
                "{what}: {text}"
            )
        }
        StoreError::NotAStore(_) => {
            assert!(text.ends_with("is not a byok store"), "{what}: {text}")
        }
        StoreError::TooNew { .. } => assert!(
            text.contains("was written by a newer byok"),
            "{what}: {text}"
        ),
        // A flipped bit in the Argon2 parameters: refused before deriving.
        StoreError::KdfTooCostly { .. } => assert!(
            text.contains("beyond what byok accepts") && text.contains("refused before deriving"),
            "{what}: {text}"
        ),
        other => panic!("{what}: unexpected error {other:?}"),
    }
    assert_eq!(
        std::fs::read(path).unwrap(),
        bytes,
        "{what}: the file was modified"
    );
}

#[test]
fn flipped_bits_and_truncations_are_refused_without_changes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.byok");
    {
        let mut v = Vault::create(&path, &pass(), options()).unwrap();
        let caller = Caller::cli();
        for i in 0..20 {
            v.apply(|k| {
                k.create_key(
                    &caller,
                    CreateKeyRequest {
                        description: Some(format!("key {i}")),
                        ..Default::default()
                    },
                )
            })
            .unwrap();
        }
        v.close().unwrap();
    }
    let good = std::fs::read(&path).unwrap();
    assert!(good.len() > HEADER_LEN + 1000);

    // Every bit of the header.
    let mut positions: Vec<usize> = (0..HEADER_LEN).collect();
    // Sampled bytes of the body, and its last 16 (the tag).
    let body = good.len() - HEADER_LEN;
    positions.extend((0..64).map(|i| HEADER_LEN + i * body / 64));
    positions.extend(good.len() - 16..good.len());
    let mut tried = 0;
    for &pos in &positions {
        let bits: &[u8] = if pos < HEADER_LEN {
            &[0, 1, 2, 3, 4, 5, 6, 7]
        } else {
            &[pos as u8 % 8]
        };
        for &bit in bits {
            let mut bad = good.clone();
            bad[pos] ^= 1 << bit;
            assert_refused(&path, &bad, &format!("bit {bit} of byte {pos}"));
            tried += 1;
        }
    }
    for len in [
        0,
        1,
        7,
        8,
        20,
        HEADER_LEN - 1,
        HEADER_LEN,
        HEADER_LEN + 15,
        good.len() / 2,
        good.len() - 1,
    ] {
        assert_refused(&path, &good[..len], &format!("truncated to {len} bytes"));
        tried += 1;
    }
    let mut longer = good.clone();
    longer.extend_from_slice(b"trailing garbage");
    assert_refused(&path, &longer, "extended");
    assert_eq!(
        tried,
        HEADER_LEN * 8 + 64 + 16 + 10,
        "every header bit, 80 body bytes, 10 truncations"
    );

    // The intact file still opens.
    std::fs::write(&path, &good).unwrap();
    let v = Vault::open(&path, &pass(), options()).unwrap();
    assert_eq!(v.kms().state().key_count(), 20);
}

#[test]
fn the_error_names_the_backup_when_there_is_one() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.byok");
    {
        let mut v = Vault::create(&path, &pass(), options()).unwrap();
        let caller = Caller::cli();
        v.apply(|k| k.create_key(&caller, CreateKeyRequest::default()))
            .unwrap();
        v.close().unwrap();
    }
    let bak = dir.path().join("store.byok.bak");
    assert!(bak.exists(), "the previous generation is kept");
    let mut bad = std::fs::read(&path).unwrap();
    let n = bad.len();
    bad[n - 1] ^= 1;
    std::fs::write(&path, &bad).unwrap();
    let err = Vault::open(&path, &pass(), options()).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "wrong passphrase, or the store is damaged: {} (the previous generation is kept as {})",
            path.display(),
            bak.display()
        )
    );
    // The backup opens: it is the generation before the last save.
    let b = Vault::open(&bak, &pass(), options()).unwrap();
    assert_eq!(b.kms().state().key_count(), 0);
}

#[test]
fn files_that_are_not_stores() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("notes.txt");
    std::fs::write(&path, "these are my notes").unwrap();
    let err = Vault::open(&path, &pass(), options()).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("{} is not a byok store", path.display())
    );
    let missing = dir.path().join("nothing.byok");
    let err = Vault::open(&missing, &pass(), options()).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("there is no store at {}", missing.display())
    );
}
