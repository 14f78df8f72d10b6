//! Load on loopback, bounded in time: concurrent signed clients send
//! Encrypt, Decrypt and GenerateDataKey for `LOAD_SECONDS` (30 s; override
//! with `BYOK_SERVE_LOAD_SECS` for local iteration). Every request must be
//! answered 200 and every decryption must round-trip; then the endpoint is
//! stopped, the store reopened, and every acknowledged call must be in the
//! audit trail, whose hash chain must verify.

mod common;
mod serve_common;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use byok::kms::Settings;
use byok::kms::audit::verify_chain;
use byok::serve::Endpoint;
use byok::store::clock::SystemClock;
use byok::store::format::KdfParams;
use byok::store::{Vault, VaultOptions};
use rand::Rng;
use secrecy::SecretString;
use serde_json::json;
use serve_common::{Client, Signer};

/// How long the clients send, in seconds.
const LOAD_SECONDS: u64 = 30;
/// Concurrent clients, one keep-alive connection each.
const CLIENTS: usize = 16;

fn load_duration() -> Duration {
    let secs = std::env::var("BYOK_SERVE_LOAD_SECS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(LOAD_SECONDS);
    Duration::from_secs(secs)
}

fn options() -> VaultOptions {
    VaultOptions {
        clock: Arc::new(SystemClock),
        wrapping_keys: Box::new(common::test_keys()),
        kdf: KdfParams::INSECURE_FAST,
        settings: Settings::default(),
    }
}

#[derive(Default, Debug)]
struct Tally {
    acknowledged: HashMap<&'static str, u64>,
    sent: u64,
    answered: u64,
    reconnects: u64,
    failures: Vec<String>,
}

async fn client_loop(mut c: Client, key: String, deadline: Instant, seed: u64) -> Tally {
    let mut t = Tally::default();
    let mut rng = common::seeded(seed);
    let fail = |t: &mut Tally, what: String| {
        if t.failures.len() < 5 {
            t.failures.push(what);
        } else {
            t.failures.push(String::new());
        }
    };
    let mut i = seed;
    while Instant::now() < deadline {
        i += 1;
        let len = 1 + (rng.next_u32() as usize % 512);
        let mut plaintext = vec![0u8; len];
        rng.fill_bytes(&mut plaintext);
        // Encrypt, or GenerateDataKey, then Decrypt what came back.
        let (op, body) = if i.is_multiple_of(2) {
            (
                "Encrypt",
                json!({"KeyId": key, "Plaintext": B64.encode(&plaintext), "EncryptionContext": {"n": i.to_string()}}),
            )
        } else {
            (
                "GenerateDataKey",
                json!({"KeyId": key, "NumberOfBytes": 32, "EncryptionContext": {"n": i.to_string()}}),
            )
        };
        t.sent += 1;
        let a = match c.call(op, &body).await {
            Ok(a) => a,
            Err(e) => {
                fail(&mut t, format!("{op}: transport error {e}"));
                break;
            }
        };
        t.answered += 1;
        if !a.status.is_success() {
            fail(
                &mut t,
                format!("{op}: {} {}", a.status, String::from_utf8_lossy(&a.body)),
            );
            continue;
        }
        *t.acknowledged.entry(op).or_default() += 1;
        let out = a.json();
        let expected = if op == "Encrypt" {
            plaintext
        } else {
            B64.decode(out["Plaintext"].as_str().unwrap_or_default())
                .unwrap_or_default()
        };
        t.sent += 1;
        let d = match c
            .call(
                "Decrypt",
                &json!({"CiphertextBlob": out["CiphertextBlob"], "EncryptionContext": {"n": i.to_string()}}),
            )
            .await
        {
            Ok(a) => a,
            Err(e) => {
                fail(&mut t, format!("Decrypt: transport error {e}"));
                break;
            }
        };
        t.answered += 1;
        if !d.status.is_success() {
            fail(
                &mut t,
                format!("Decrypt: {} {}", d.status, String::from_utf8_lossy(&d.body)),
            );
            continue;
        }
        *t.acknowledged.entry("Decrypt").or_default() += 1;
        let got = B64
            .decode(d.json()["Plaintext"].as_str().unwrap_or_default())
            .unwrap_or_default();
        if got != expected || expected.is_empty() {
            fail(&mut t, format!("Decrypt of {op} output did not round-trip"));
        }
    }
    t.reconnects = c.reconnects;
    t
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sustained_load_loses_nothing_and_every_call_is_audited() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.byok");
    let pass = SecretString::from("load".to_string());
    let vault = Vault::create(&path, &pass, options()).unwrap();
    let creds = vault.api_credentials().clone();
    let signer = Signer::new(
        &creds.access_key_id,
        creds.secret_str(),
        &vault.kms().settings().region,
    );
    let vault = Arc::new(Mutex::new(vault));
    let endpoint = Endpoint::start(Arc::clone(&vault), "127.0.0.1:0".parse().unwrap()).unwrap();
    let addr = endpoint.local_addr();

    let mut setup = Client::connect(addr, signer.clone()).await.unwrap();
    let created = setup
        .call("CreateKey", &json!({"Description": "load"}))
        .await
        .unwrap();
    assert!(created.status.is_success());
    let key = created.json()["KeyMetadata"]["Arn"]
        .as_str()
        .unwrap()
        .to_string();

    let duration = load_duration();
    let started = Instant::now();
    let deadline = started + duration;
    let mut tasks = Vec::new();
    for n in 0..CLIENTS {
        let c = Client::connect(addr, signer.clone()).await.unwrap();
        tasks.push(tokio::spawn(client_loop(
            c,
            key.clone(),
            deadline,
            n as u64 * 1_000_000_007,
        )));
    }
    let mut total = Tally::default();
    for t in tasks {
        let t = t.await.unwrap();
        total.sent += t.sent;
        total.answered += t.answered;
        total.reconnects += t.reconnects;
        total.failures.extend(t.failures);
        for (op, n) in t.acknowledged {
            *total.acknowledged.entry(op).or_default() += n;
        }
    }
    let elapsed = started.elapsed();
    let acknowledged: u64 = total.acknowledged.values().sum();
    eprintln!(
        "serve_load: {CLIENTS} clients, {:.1} s: {} requests ({:.0}/s), acknowledged {:?}",
        elapsed.as_secs_f64(),
        total.answered,
        total.answered as f64 / elapsed.as_secs_f64(),
        total.acknowledged
    );
    let failures: Vec<_> = total.failures.iter().filter(|f| !f.is_empty()).collect();
    assert!(
        total.failures.is_empty(),
        "{} failures, first: {failures:?}",
        total.failures.len()
    );
    assert_eq!(total.sent, total.answered, "every request was answered");
    assert_eq!(
        total.reconnects, 0,
        "the endpoint kept every connection alive"
    );
    assert_eq!(acknowledged, total.answered, "every answer was a 200");
    assert!(acknowledged > 0);
    let served = endpoint.requests_served();
    assert_eq!(
        served,
        total.answered + 1,
        "the endpoint counted every request (and CreateKey)"
    );

    // Stop, close, reopen: every acknowledged call is in the audit trail.
    tokio::task::spawn_blocking(move || endpoint.stop())
        .await
        .unwrap();
    let vault = Arc::try_unwrap(vault).expect("endpoint released the vault");
    vault.into_inner().unwrap().close().unwrap();
    let checking = Instant::now();
    let reopened = Vault::open(&path, &pass, options()).unwrap();
    let records = reopened.audit_records().unwrap();
    let report = verify_chain(&records).unwrap();
    assert!(report.from_genesis);
    let mut audited: HashMap<&str, u64> = HashMap::new();
    for r in &records {
        if r.user_identity.invoked_by == "api" && !r.is_error() {
            assert_eq!(
                r.user_identity.access_key_id.as_deref(),
                Some(creds.access_key_id.as_str())
            );
            *audited.entry(r.event_name.as_str()).or_default() += 1;
        }
    }
    for (op, n) in &total.acknowledged {
        let got = audited.get(op).copied().unwrap_or(0);
        assert!(
            got >= *n,
            "{op}: {got} audit records for {n} acknowledged calls"
        );
    }
    eprintln!(
        "serve_load: {} audit records verified in {:.1} s",
        records.len(),
        checking.elapsed().as_secs_f64()
    );
}
