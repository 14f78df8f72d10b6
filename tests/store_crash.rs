//! Crash safety: a child process makes and saves changes in a loop and is
//! killed with SIGKILL at random moments, many times (BYOK_CRASH_KILLS,
//! default 200). After every kill the store opens with the right passphrase
//! and every operation the child reported as acknowledged is there.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use byok::kms::audit::verify_chain;
use byok::kms::{
    Caller, CreateKeyRequest, EncryptionContext, Origin, PregeneratedKeys, Settings, Tag,
};
use byok::store::clock::SystemClock;
use byok::store::format::KdfParams;
use byok::store::{Vault, VaultOptions};
use rand::{RngExt, SeedableRng};
use secrecy::SecretString;

const CHILD_VAR: &str = "BYOK_CRASH_CHILD_STORE";
const PASSPHRASE: &str = "crash test passphrase";

fn options() -> VaultOptions {
    VaultOptions {
        clock: Arc::new(SystemClock),
        // No import happens here: no wrapping keys needed.
        wrapping_keys: Box::new(PregeneratedKeys::default()),
        kdf: KdfParams::INSECURE_FAST,
        settings: Settings::default(),
    }
}

fn pass() -> SecretString {
    SecretString::from(PASSPHRASE.to_string())
}

/// The child: runs only when the parent re-executes this test binary with
/// the store path in BYOK_CRASH_CHILD_STORE. It prints `ACK <description>`
/// after each change is acknowledged (persisted).
#[test]
fn crash_child() {
    let Ok(path) = std::env::var(CHILD_VAR) else {
        return;
    };
    let path = Path::new(&path);
    let mut vault = Vault::open(path, &pass(), options()).expect("child opens the store");
    let caller = Caller::cli();
    let start = vault.kms().state().key_count();
    let mut rng = rand::rngs::StdRng::seed_from_u64(std::process::id() as u64);
    for n in start.. {
        let description = format!("op-{n}");
        let id = vault
            .apply(|k| {
                k.create_key(
                    &caller,
                    CreateKeyRequest {
                        description: Some(description.clone()),
                        origin: Some(if n % 2 == 0 {
                            Origin::External
                        } else {
                            Origin::AwsKms
                        }),
                        tags: vec![Tag {
                            key: "n".into(),
                            value: n.to_string(),
                        }],
                    },
                )
            })
            .expect("create");
        println!("ACK {description} {id}");
        // Cryptographic calls in between: journal appends without a state save.
        if n % 2 == 1 {
            for _ in 0..rng.random_range(0..8) {
                vault
                    .apply(|k| {
                        k.encrypt(
                            &caller,
                            &id.to_string(),
                            b"payload",
                            &EncryptionContext::new(),
                        )
                    })
                    .expect("encrypt");
            }
        }
    }
}

#[test]
fn sigkill_at_random_moments_loses_no_acknowledged_change() {
    if std::env::var(CHILD_VAR).is_ok() {
        return;
    }
    let kills: usize = std::env::var("BYOK_CRASH_KILLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.byok");
    Vault::create(&path, &pass(), options())
        .unwrap()
        .close()
        .unwrap();
    let exe = std::env::current_exe().unwrap();
    let mut rng = rand::rngs::StdRng::seed_from_u64(42);
    let mut acknowledged: BTreeSet<String> = BTreeSet::new();
    let mut torn = 0;
    for round in 0..kills {
        let mut child = Command::new(&exe)
            .args(["--exact", "crash_child", "--nocapture", "--test-threads=1"])
            .env(CHILD_VAR, &path)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel::<String>();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(ack) = line.strip_prefix("ACK ") {
                    let _ = tx.send(ack.split(' ').next().unwrap_or_default().to_string());
                }
            }
        });
        // Wait for the first acknowledgement (the child is past opening),
        // then let it run a random while and kill it.
        let first = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("child acknowledges");
        let mut this_round = vec![first];
        let run = Duration::from_micros(rng.random_range(0..60_000));
        let t = Instant::now();
        while t.elapsed() < run {
            std::hint::spin_loop();
        }
        child.kill().unwrap();
        child.wait().unwrap();
        reader.join().unwrap();
        this_round.extend(rx.try_iter());
        // Evidence that the kill interrupted a write: a half-written state
        // file left behind, or a torn audit record dropped at open.
        let tmp_left = dir.path().join("store.byok.tmp").exists();
        acknowledged.extend(this_round);

        let vault = Vault::open(&path, &pass(), options()).unwrap_or_else(|e| {
            panic!("round {round}: the store does not open after SIGKILL: {e}")
        });
        torn += usize::from(tmp_left || !vault.notes().is_empty());
        let present: BTreeSet<String> = vault
            .kms()
            .keys()
            .map(|k| k.description().to_string())
            .collect();
        let missing: Vec<_> = acknowledged.difference(&present).collect();
        assert!(
            missing.is_empty(),
            "round {round}: acknowledged but lost: {missing:?}"
        );
        // The whole trail is re-read and re-hashed every 25 rounds and at the
        // end (it grows with every round; checking it each time would make
        // the test quadratic).
        if round % 25 == 0 || round + 1 == kills {
            let records = vault.audit_records().unwrap();
            verify_chain(&records).unwrap_or_else(|e| panic!("round {round}: {e}"));
            let created = records
                .iter()
                .filter(|r| r.event_name == "CreateKey" && !r.is_error())
                .count();
            assert!(
                created >= present.len(),
                "round {round}: every key has its CreateKey record"
            );
        }
        vault.close().unwrap();
    }
    assert!(
        acknowledged.len() >= kills,
        "each round acknowledged at least one change"
    );
    assert!(
        kills < 50 || torn > 0,
        "in {kills} rounds no kill interrupted a write: the test is not exercising crashes"
    );
    eprintln!(
        "{kills} kills, {} changes acknowledged, {torn} kills interrupted a write",
        acknowledged.len()
    );
}
