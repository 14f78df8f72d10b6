//! Store open (after key derivation) and save at 100, 1 000 and 10 000 keys
//! with 5 materials each. Run: `cargo bench --bench store`.
//!
//! Keys are AWS_KMS keys rotated four times (5 materials each, built through
//! the engine in one operation batch); imported keys hold the same material
//! records, and building 50 000 imports would spend minutes on RSA unwraps.

use std::sync::Arc;
use std::time::{Duration, Instant};

use byok::kms::{Caller, CreateKeyRequest, PregeneratedKeys, Settings};
use byok::store::clock::SystemClock;
use byok::store::format::{KdfParams, derive_key};
use byok::store::{Vault, VaultOptions};
use secrecy::SecretString;

fn options() -> VaultOptions {
    VaultOptions {
        clock: Arc::new(SystemClock),
        wrapping_keys: Box::new(PregeneratedKeys::default()),
        kdf: NEGLIGIBLE_KDF,
        settings: Settings {
            rotation_delay_ms: 0,
            ..Default::default()
        },
    }
}

/// The smallest Argon2id cost the store accepts, so that "open" measures the
/// store and not the key derivation (which is measured on its own, and
/// subtracted).
const NEGLIGIBLE_KDF: KdfParams = KdfParams {
    m_cost_kib: 8,
    t_cost: 1,
    p_cost: 1,
};

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn main() {
    let pass = SecretString::from("bench".to_string());
    let caller = Caller::cli();
    // The key derivation alone, to subtract from a full open.
    let kdf = median(
        (0..5)
            .map(|_| {
                let t = Instant::now();
                derive_key(b"bench", &[7; 16], NEGLIGIBLE_KDF).unwrap();
                t.elapsed()
            })
            .collect(),
    );
    println!(
        "machine: {} cores; key derivation with the benchmark's minimal parameters: {:.3} ms (subtracted from open)",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        ms(kdf)
    );
    let t = Instant::now();
    derive_key(b"bench", &[7; 16], KdfParams::INTERACTIVE).unwrap();
    println!(
        "unlock key derivation of a real store (Argon2id {} MiB, t={}): {:.0} ms",
        KdfParams::INTERACTIVE.m_cost_kib / 1024,
        KdfParams::INTERACTIVE.t_cost,
        ms(t.elapsed())
    );
    println!(
        "{:>7} {:>12} {:>14} {:>14}",
        "keys", "state bytes", "open (ms)", "save (ms)"
    );
    for n in [100usize, 1_000, 10_000] {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store.byok");
        let mut v = Vault::create(&path, &pass, options()).unwrap();
        v.apply(|k| {
            for i in 0..n {
                let id = k.create_key(
                    &caller,
                    CreateKeyRequest {
                        description: Some(format!("benchmark key {i}")),
                        ..Default::default()
                    },
                )?;
                for _ in 0..4 {
                    k.rotate_key_on_demand(&caller, &id.to_string())?;
                    k.tick();
                }
            }
            Ok(())
        })
        .unwrap();
        assert!(v.kms().keys().all(|k| k.materials().len() == 5));
        let first = v.kms().keys().next().unwrap().id().to_string();
        let saves: Vec<Duration> = (0..11)
            .map(|i| {
                let t = Instant::now();
                v.apply(|k| k.update_key_description(&caller, &first, &format!("changed {i}")))
                    .unwrap();
                t.elapsed()
            })
            .collect();
        let size = v.info().state_bytes;
        v.close().unwrap();
        let opens: Vec<Duration> = (0..7)
            .map(|_| {
                let t = Instant::now();
                let v = Vault::open(&path, &pass, options()).unwrap();
                let d = t.elapsed();
                assert_eq!(v.kms().state().key_count(), n);
                drop(v);
                d.saturating_sub(kdf)
            })
            .collect();
        println!(
            "{n:>7} {size:>12} {:>14.1} {:>14.1}",
            ms(median(opens)),
            ms(median(saves))
        );
    }
}
