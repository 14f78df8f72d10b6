//! The audit journal: group commit, torn tails, rollover and retention.

mod common;

use byok::kms::audit::verify_chain;
use byok::kms::{Caller, CreateKeyRequest, EncryptionContext, ManualClock, PregeneratedKeys};
use byok::store::{StoreSettings, Vault, VaultOptions};
use common::*;
use secrecy::SecretString;

fn options() -> VaultOptions {
    vault_options(&ManualClock::new(START), PregeneratedKeys::default())
}

fn pass() -> SecretString {
    SecretString::from("journal".to_string())
}

fn segments(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut v: Vec<_> = std::fs::read_dir(dir.join("store.byok.audit"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    v.sort();
    v
}

#[test]
fn crypto_calls_append_without_rewriting_the_state() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.byok");
    let mut v = Vault::create(&path, &pass(), options()).unwrap();
    let caller = Caller::cli();
    let key = v
        .apply(|k| k.create_key(&caller, CreateKeyRequest::default()))
        .unwrap();
    let state_before = std::fs::read(&path).unwrap();
    for _ in 0..50 {
        v.apply(|k| k.encrypt(&caller, &key.to_string(), b"x", &EncryptionContext::new()))
            .unwrap();
    }
    assert_eq!(
        std::fs::read(&path).unwrap(),
        state_before,
        "Encrypt changes no key state"
    );
    v.flush_audit().unwrap();
    let records = v.audit_records().unwrap();
    assert_eq!(
        records.iter().filter(|r| r.event_name == "Encrypt").count(),
        50
    );
    // Within the flush interval the background flusher writes them without being asked.
    v.apply(|k| k.encrypt(&caller, &key.to_string(), b"y", &EncryptionContext::new()))
        .unwrap();
    let seg = segments(dir.path()).pop().unwrap();
    let len = std::fs::metadata(&seg).unwrap().len();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(1);
    while std::fs::metadata(&seg).unwrap().len() == len {
        assert!(
            std::time::Instant::now() < deadline,
            "the record reached the disk within a second"
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

#[test]
fn a_torn_record_at_the_tail_is_dropped_at_open() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.byok");
    let caller = Caller::cli();
    {
        let mut v = Vault::create(&path, &pass(), options()).unwrap();
        for _ in 0..3 {
            v.apply(|k| k.create_key(&caller, CreateKeyRequest::default()))
                .unwrap();
        }
        v.close().unwrap();
    }
    let seg = segments(dir.path()).pop().unwrap();
    let full = std::fs::read(&seg).unwrap();
    // Cut the last record in half, as a crash in the middle of a write would.
    std::fs::write(&seg, &full[..full.len() - 100]).unwrap();
    let mut v = Vault::open(&path, &pass(), options()).unwrap();
    assert_eq!(v.notes().len(), 1, "{:?}", v.notes());
    assert!(v.notes()[0].starts_with("dropped an incomplete audit record at the end of"));
    let records = v.audit_records().unwrap();
    assert_eq!(records.len(), 2);
    // The chain continues from the last whole record.
    v.apply(|k| k.create_key(&caller, CreateKeyRequest::default()))
        .unwrap();
    let records = v.audit_records().unwrap();
    assert_eq!(records.len(), 3);
    verify_chain(&records).unwrap();
}

#[test]
fn damage_in_the_middle_is_kept_aside_and_shows_in_verification() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.byok");
    let caller = Caller::cli();
    {
        let mut v = Vault::create(&path, &pass(), options()).unwrap();
        for _ in 0..5 {
            v.apply(|k| k.create_key(&caller, CreateKeyRequest::default()))
                .unwrap();
        }
        v.close().unwrap();
    }
    let seg = segments(dir.path()).pop().unwrap();
    let mut bytes = std::fs::read(&seg).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x20;
    std::fs::write(&seg, &bytes).unwrap();
    let mut v = Vault::open(&path, &pass(), options()).unwrap();
    assert!(v.notes()[0].contains("is damaged"), "{:?}", v.notes());
    assert_eq!(
        std::fs::read(&seg).unwrap(),
        bytes,
        "the damaged segment is kept as it is"
    );
    v.apply(|k| k.create_key(&caller, CreateKeyRequest::default()))
        .unwrap();
    assert_eq!(
        segments(dir.path()).len(),
        2,
        "new records go to a new segment"
    );
    let records = v.audit_records().unwrap();
    let names: Vec<_> = records.iter().map(|r| r.event_name.as_str()).collect();
    assert_eq!(
        names.iter().filter(|n| **n == "CreateKey").count(),
        5,
        "one of five lost, one new: {names:?}"
    );
    assert!(
        names.contains(&"AuditJournalDamaged"),
        "opening records what it found: {names:?}"
    );
    let err = verify_chain(&records).unwrap_err();
    assert!(
        err.reason.contains("sequence jumps") || err.reason.contains("does not link"),
        "{err}"
    );
}

#[test]
fn segments_roll_over_by_size_and_retention_retires_the_oldest() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.byok");
    let caller = Caller::cli();
    let mut v = Vault::create(&path, &pass(), options()).unwrap();
    let engine = v.kms().settings().clone();
    v.update_settings(
        StoreSettings {
            journal_segment_bytes: 64 * 1024,
            journal_retention_segments: 3,
            ..StoreSettings::default()
        },
        engine,
    )
    .unwrap();
    v.close().unwrap();
    let mut v = Vault::open(&path, &pass(), options()).unwrap();
    let key = v
        .apply(|k| k.create_key(&caller, CreateKeyRequest::default()))
        .unwrap();
    for _ in 0..600 {
        v.apply(|k| {
            k.encrypt(
                &caller,
                &key.to_string(),
                b"roll",
                &EncryptionContext::new(),
            )
        })
        .unwrap();
    }
    v.flush_audit().unwrap();
    let segs = segments(dir.path());
    assert_eq!(segs.len(), 3, "{segs:?}");
    for s in &segs {
        assert!(std::fs::metadata(s).unwrap().len() <= 64 * 1024);
    }
    let records = v.audit_records().unwrap();
    let report = verify_chain(&records).unwrap();
    assert!(!report.from_genesis, "the oldest segments were retired");
    assert_eq!(report.last_sequence, records.last().unwrap().byok.sequence);
    drop(v);
    // Reopening continues the chain across segments.
    let mut v = Vault::open(&path, &pass(), options()).unwrap();
    v.apply(|k| {
        k.encrypt(
            &caller,
            &key.to_string(),
            b"after",
            &EncryptionContext::new(),
        )
    })
    .unwrap();
    verify_chain(&v.audit_records().unwrap()).unwrap();
}
