//! The audit journal: group commit, torn tails, rollover and retention.

mod common;

use byok::kms::AuditRecord;
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
    // Within the flush interval the background flusher writes a record
    // without being asked.
    let seg = segments(dir.path()).pop().unwrap();
    let len = std::fs::metadata(&seg).unwrap().len();
    v.apply(|k| k.encrypt(&caller, &key.to_string(), b"y", &EncryptionContext::new()))
        .unwrap();
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

/// A journal of five CreateKey records; returns the segment path and the
/// offsets at which its frames start.
fn five_records(dir: &std::path::Path) -> (std::path::PathBuf, Vec<usize>) {
    let path = dir.join("store.byok");
    let caller = Caller::cli();
    let mut v = Vault::create(&path, &pass(), options()).unwrap();
    for _ in 0..5 {
        v.apply(|k| k.create_key(&caller, CreateKeyRequest::default()))
            .unwrap();
    }
    v.close().unwrap();
    let seg = segments(dir).pop().unwrap();
    let bytes = std::fs::read(&seg).unwrap();
    let mut offsets = Vec::new();
    let mut at = byok::store::journal::SEGMENT_HEADER_LEN as usize;
    while at < bytes.len() {
        offsets.push(at);
        let len = u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
        at += 4 + 12 + len;
    }
    assert_eq!(offsets.len(), 5);
    (seg, offsets)
}

fn create_keys_in_trail(v: &Vault) -> Vec<AuditRecord> {
    v.audit_records()
        .unwrap()
        .into_iter()
        .filter(|r| r.event_name == "CreateKey")
        .collect()
}

#[test]
fn a_damaged_record_in_the_middle_stays_and_shows_as_a_gap() {
    let dir = tempfile::tempdir().unwrap();
    let (seg, offsets) = five_records(dir.path());
    let mut bytes = std::fs::read(&seg).unwrap();
    // A bit of the third record's ciphertext.
    bytes[offsets[2] + 40] ^= 0x20;
    std::fs::write(&seg, &bytes).unwrap();
    let mut v = Vault::open(&dir.path().join("store.byok"), &pass(), options()).unwrap();
    let caller = Caller::cli();
    v.apply(|k| k.create_key(&caller, CreateKeyRequest::default()))
        .unwrap();
    let after = std::fs::read(&seg).unwrap();
    assert_eq!(
        &after[..bytes.len()],
        &bytes[..],
        "nothing already written is changed"
    );
    let created = create_keys_in_trail(&v);
    assert_eq!(created.len(), 5, "four readable, one lost, one new");
    let err = verify_chain(&v.audit_records().unwrap()).unwrap_err();
    assert!(
        err.reason.contains("sequence jumps") || err.reason.contains("does not link"),
        "{err}"
    );
}

#[test]
fn damage_that_breaks_the_framing_is_kept_aside_and_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let (seg, offsets) = five_records(dir.path());
    let mut bytes = std::fs::read(&seg).unwrap();
    // The second record's length field: the frames no longer lead to the end.
    bytes[offsets[1]] ^= 0x40;
    std::fs::write(&seg, &bytes).unwrap();
    let mut v = Vault::open(&dir.path().join("store.byok"), &pass(), options()).unwrap();
    assert!(v.notes()[0].contains("is damaged"), "{:?}", v.notes());
    assert_eq!(
        std::fs::read(&seg).unwrap(),
        bytes,
        "the damaged segment is kept as it is"
    );
    let caller = Caller::cli();
    v.apply(|k| k.create_key(&caller, CreateKeyRequest::default()))
        .unwrap();
    assert_eq!(
        segments(dir.path()).len(),
        2,
        "new records go to a new segment"
    );
    let records = v.audit_records().unwrap();
    assert!(
        records
            .iter()
            .any(|r| r.event_name == "AuditJournalDamaged"),
        "opening records what it found"
    );
    assert_eq!(
        create_keys_in_trail(&v).len(),
        5,
        "four readable (reading resumes after the damage), one new"
    );
    assert!(verify_chain(&records).is_err(), "the gap is visible");
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
