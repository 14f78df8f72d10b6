//! Encrypt requests per second on loopback: `byok serve` against
//! `moto_server` (the usual local KMS stand-in), driven by the same client —
//! a hyper HTTP/1.1 client with N keep-alive connections, each request signed
//! with `aws-sigv4` like an SDK, the same 256-byte payload — on the same
//! machine, in one run.
//!
//! `cargo bench --bench serve_encrypt` (release). Environment:
//! `BENCH_CONNECTIONS` (default 16), `BENCH_SECONDS` per server (default 10),
//! `MOTO_SERVER` (default `moto_server`; the moto part is skipped with a note
//! if it cannot be started).

#[path = "../tests/serve_common/mod.rs"]
mod serve_common;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::json;
use serve_common::{Client, Signer};

const WARMUP: Duration = Duration::from_secs(2);

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

struct Figures {
    requests: u64,
    errors: u64,
    seconds: f64,
    p50: Duration,
    p99: Duration,
    /// New connections because the server closed the previous one.
    reconnects: u64,
}

impl Figures {
    fn rate(&self) -> f64 {
        self.requests as f64 / self.seconds
    }
}

/// Runs `connections` clients sending Encrypt for `key` during warm-up plus `seconds`.
async fn drive(
    addr: SocketAddr,
    signer: Signer,
    key: String,
    connections: usize,
    seconds: Duration,
) -> Figures {
    let plaintext = base64::engine::general_purpose::STANDARD.encode([0x5au8; 256]);
    let body = serde_json::to_vec(&json!({"KeyId": key, "Plaintext": plaintext})).unwrap();
    let body = Arc::new(body);
    let measuring = Arc::new(AtomicBool::new(false));
    let stop = Arc::new(AtomicBool::new(false));
    let mut tasks = Vec::new();
    for _ in 0..connections {
        let (signer, body, measuring, stop) = (
            signer.clone(),
            body.clone(),
            measuring.clone(),
            stop.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut c = Client::connect(addr, signer).await.expect("connect");
            let (mut ok, mut errors, mut latencies) = (0u64, 0u64, Vec::with_capacity(1 << 16));
            while !stop.load(Ordering::Relaxed) {
                let t = Instant::now();
                let answer = c.call_raw("Encrypt", &body).await;
                let counted = measuring.load(Ordering::Relaxed);
                match answer {
                    Ok(a) if a.status.is_success() => {
                        if counted {
                            ok += 1;
                            latencies.push(t.elapsed());
                        }
                    }
                    Ok(a) => {
                        if counted {
                            errors += 1;
                        }
                        if errors < 3 {
                            eprintln!(
                                "  error answer: {} {}",
                                a.status,
                                String::from_utf8_lossy(&a.body)
                            );
                        }
                    }
                    Err(e) => {
                        errors += 1;
                        eprintln!("  transport error: {e}");
                        match Client::connect(addr, c.signer.clone()).await {
                            Ok(n) => c = n,
                            Err(_) => break,
                        }
                    }
                }
            }
            (ok, errors, latencies, c.reconnects)
        }));
    }
    tokio::time::sleep(WARMUP).await;
    measuring.store(true, Ordering::Relaxed);
    let started = Instant::now();
    tokio::time::sleep(seconds).await;
    measuring.store(false, Ordering::Relaxed);
    let elapsed = started.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    let (mut requests, mut errors, mut all, mut reconnects) = (0, 0, Vec::new(), 0);
    for t in tasks {
        let (ok, err, lat, rc) = t.await.unwrap();
        requests += ok;
        errors += err;
        reconnects += rc;
        all.extend(lat);
    }
    all.sort_unstable();
    let pct = |p: f64| {
        all.get(((all.len() as f64 * p) as usize).min(all.len().saturating_sub(1)))
            .copied()
            .unwrap_or_default()
    };
    Figures {
        requests,
        errors,
        seconds: elapsed,
        p50: pct(0.50),
        p99: pct(0.99),
        reconnects,
    }
}

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        // SIGTERM first (byok serve shuts down gracefully on it), then kill.
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.0.id().to_string())
            .status();
        for _ in 0..50 {
            if matches!(self.0.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_byok(dir: &std::path::Path) -> (Server, SocketAddr, Signer) {
    let bin = env!("CARGO_BIN_EXE_byok");
    let store = dir.join("bench.byok");
    let env = |c: &mut Command| {
        c.env("BYOK_STORE", &store)
            .env("BYOK_PASSPHRASE", "bench")
            .env("BYOK_INSECURE_FAST_KDF", "1");
    };
    let mut show = Command::new(bin);
    show.args(["serve", "--show-credentials"]);
    env(&mut show);
    let out = show.output().expect("byok serve --show-credentials");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let get = |k: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("{k}=")))
            .unwrap_or_else(|| panic!("{k} in {text}"))
            .to_string()
    };
    let signer = Signer::new(
        &get("AWS_ACCESS_KEY_ID"),
        &get("AWS_SECRET_ACCESS_KEY"),
        &get("AWS_DEFAULT_REGION"),
    );
    let mut serve = Command::new(bin);
    serve
        .args(["serve", "--port", "0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    env(&mut serve);
    let mut child = serve.spawn().expect("byok serve");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line
        .split("http://")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .unwrap_or_else(|| panic!("listening line: {line:?}"))
        .parse()
        .unwrap();
    (Server(child), addr, signer)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn start_moto() -> Option<(Server, SocketAddr)> {
    let program = std::env::var("MOTO_SERVER").unwrap_or_else(|_| "moto_server".into());
    let port = free_port();
    let child = Command::new(&program)
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| eprintln!("moto: cannot start {program}: {e} (pip install 'moto[server]')"))
        .ok()?;
    let server = Server(child);
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let started = Instant::now();
    while std::net::TcpStream::connect(addr).is_err() {
        if started.elapsed() > Duration::from_secs(30) {
            eprintln!("moto: {program} did not listen within 30 s");
            return None;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Some((server, addr))
}

async fn create_key(addr: SocketAddr, signer: &Signer) -> String {
    let mut c = Client::connect(addr, signer.clone())
        .await
        .expect("connect");
    let a = c
        .call("CreateKey", &json!({"Description": "bench"}))
        .await
        .expect("CreateKey");
    assert!(
        a.status.is_success(),
        "CreateKey: {} {}",
        a.status,
        String::from_utf8_lossy(&a.body)
    );
    a.json()["KeyMetadata"]["KeyId"]
        .as_str()
        .unwrap()
        .to_string()
}

fn report(name: &str, f: &Figures) {
    println!(
        "{name:>6}: {:>9.0} Encrypt/s  ({} ok, {} errors in {:.1} s; latency p50 {:.2} ms, p99 {:.2} ms; {} reconnections)",
        f.rate(),
        f.requests,
        f.errors,
        f.seconds,
        f.p50.as_secs_f64() * 1e3,
        f.p99.as_secs_f64() * 1e3,
        f.reconnects
    );
}

/// Where a request's time goes, measured on one thread without HTTP: the
/// engine call (`Vault::call("Encrypt")`, inside the lock) and the SigV4
/// verification (outside it).
fn breakdown(dir: &std::path::Path) {
    use byok::serve::sigv4::Verifier;
    use byok::store::{Vault, VaultOptions};
    let options = VaultOptions {
        clock: std::sync::Arc::new(byok::store::clock::SystemClock),
        wrapping_keys: Box::new(byok::kms::GenerateOnDemand(byok::kms::Kms::os_rng())),
        kdf: byok::store::format::KdfParams::INSECURE_FAST,
        settings: Default::default(),
    };
    let pass = secrecy::SecretString::from("bench".to_string());
    let mut vault = Vault::create(&dir.join("breakdown.byok"), &pass, options).unwrap();
    let caller = byok::kms::Caller {
        source: byok::kms::CallSource::Api,
        access_key_id: Some(vault.api_credentials().access_key_id.clone()),
        user_agent: Some("bench".into()),
        source_ip: Some("127.0.0.1".into()),
        region: None,
    };
    let created = vault.call(&caller, "CreateKey", b"{}").unwrap();
    let key: serde_json::Value = serde_json::from_slice(&created).unwrap();
    let plaintext = base64::engine::general_purpose::STANDARD.encode([0x5au8; 256]);
    let body =
        serde_json::to_vec(&json!({"KeyId": key["KeyMetadata"]["KeyId"], "Plaintext": plaintext}))
            .unwrap();
    let n = 50_000;
    let t = Instant::now();
    for _ in 0..n {
        vault.call(&caller, "Encrypt", &body).unwrap();
    }
    let engine = t.elapsed() / n;
    let creds = vault.api_credentials().clone();
    let region = vault.kms().settings().region.clone();
    let signer = Signer::new(&creds.access_key_id, creds.secret_str(), &region);
    let addr: SocketAddr = "127.0.0.1:1".parse().unwrap();
    let mut req = serve_common::request(addr, "Encrypt", &body);
    signer.sign(&mut req, &body, std::time::SystemTime::now());
    let (parts, _) = req.into_parts();
    let verifier = Verifier::new(&creds, &region);
    let t = Instant::now();
    for _ in 0..n {
        verifier
            .verify(
                &parts,
                &body,
                std::time::SystemTime::now(),
                byok::serve::sigv4::SERVICE,
            )
            .unwrap();
    }
    let sigv4 = t.elapsed() / n;
    println!(
        "breakdown (one thread, no HTTP): engine Encrypt incl. audit append {:.1} µs, SigV4 verification {:.1} µs",
        engine.as_secs_f64() * 1e6,
        sigv4.as_secs_f64() * 1e6
    );
    vault.close().unwrap();
}

fn main() {
    // `cargo bench` passes `--bench`; any other argument is a filter we ignore.
    let connections: usize = env_or("BENCH_CONNECTIONS", 16);
    let seconds = Duration::from_secs(env_or("BENCH_SECONDS", 10));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    println!(
        "serve_encrypt: {connections} keep-alive connections, 256-byte plaintext, {:.0} s warm-up + {} s per server, {} cores",
        WARMUP.as_secs_f64(),
        seconds.as_secs(),
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    let dir = tempfile::tempdir().unwrap();
    breakdown(dir.path());
    let byok = {
        let (server, addr, signer) = start_byok(dir.path());
        let figures = rt.block_on(async {
            let key = create_key(addr, &signer).await;
            drive(addr, signer, key, connections, seconds).await
        });
        drop(server);
        figures
    };
    report("byok", &byok);
    let moto = start_moto().map(|(server, addr)| {
        let signer = Signer::new("AKIDMOTOBENCH", "moto-does-not-check-secrets", "us-east-1");
        let figures = rt.block_on(async {
            let key = create_key(addr, &signer).await;
            drive(addr, signer, key, connections, seconds).await
        });
        drop(server);
        figures
    });
    match moto {
        Some(moto) => {
            report("moto", &moto);
            let ratio = byok.rate() / moto.rate().max(f64::MIN_POSITIVE);
            println!("ratio: byok serve is {ratio:.1}x moto_server (goal: >= 20x)");
        }
        None => println!("moto: not measured"),
    }
    assert_eq!(byok.errors, 0, "byok answered with errors");
}
