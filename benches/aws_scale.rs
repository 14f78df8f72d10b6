//! The console on a big AWS account: 5 000 keys served by `byok serve` on
//! loopback, reached through the AWS backend (real `aws-sdk-kms`, SigV4,
//! HTTP). Measured, headless (an `egui::Context` without a renderer, the
//! key list at 1600×1000):
//!
//! - connect → the first page of the key list on screen: the store file
//!   opened, ListKeys's first page and the aliases read, and every row the
//!   list draws described (DescribeKey and ListKeyRotations);
//! - AWS calls the refresh made per key shown;
//! - frame time while scrolling through the list, against the same list of
//!   a local store of 5 000 keys in the same run (the budget).
//!
//! Run: `cargo bench --bench aws_scale`.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_credential_types::Credentials;
use aws_credential_types::provider::SharedCredentialsProvider;
use byok::aws::{AwsConnection, ConnectOptions};
use byok::kms::{
    Caller, CreateKeyRequest, ExpirationModel, ImportKeyMaterialRequest, ImportType, Kms, KmsError,
    ManualClock, Origin, PregeneratedKeys, Settings, Timestamp, WrappingAlgorithm, WrappingKeySpec,
    wrap_material,
};
use byok::serve::{Endpoint, EndpointConfig};
use byok::store::format::KdfParams;
use byok::store::{Vault, VaultOptions};
use byok::ui::view::Knowledge;
use byok::ui::{AppClock, AppConfig, ConsoleApp, Prefs};
use rsa::pkcs8::DecodePrivateKey;
use secrecy::SecretString;

const START: Timestamp = Timestamp::from_secs(1_767_225_600);
const KEYS: usize = 5_000;

fn test_keys() -> PregeneratedKeys {
    let mut keys = PregeneratedKeys::default();
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/wrapping");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("tests/data/wrapping")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "der"))
        .collect();
    files.sort();
    for f in files {
        let der = std::fs::read(&f).expect("key file");
        keys.add(rsa::PrivateKey::from_pkcs8_der(&der).expect("PKCS#8"))
            .expect("known size");
    }
    keys
}

/// 5 000 EXTERNAL keys; one in fifty with an imported material and an alias.
fn populate(kms: &mut Kms, clock: &ManualClock) -> Result<(), KmsError> {
    let caller = Caller::cli();
    let mut rng = rand::rng();
    for i in 0..KEYS {
        clock.advance(Duration::from_secs(1));
        let id = kms.create_key(
            &caller,
            CreateKeyRequest {
                description: Some(format!("tenant key {i:05}")),
                origin: Some(Origin::External),
                tags: vec![],
            },
        )?;
        if i % 50 == 0 {
            kms.create_alias(&caller, &format!("alias/tenant-{i:05}"), &id.to_string())?;
            let params = kms.get_parameters_for_import(
                &caller,
                &id.to_string(),
                WrappingAlgorithm::RsaesOaepSha256,
                WrappingKeySpec::Rsa2048,
            )?;
            let material: [u8; 32] = std::array::from_fn(|j| (i as u8) ^ j as u8);
            let wrapped = wrap_material(
                &params.public_key,
                WrappingAlgorithm::RsaesOaepSha256,
                &material,
                &mut rng,
            )
            .expect("wrap");
            kms.import_key_material(
                &caller,
                &ImportKeyMaterialRequest {
                    key_id: id.to_string(),
                    import_token: params.import_token.clone(),
                    encrypted_key_material: wrapped,
                    expiration_model: Some(ExpirationModel::KeyMaterialDoesNotExpire),
                    import_type: Some(ImportType::NewKeyMaterial),
                    ..Default::default()
                },
            )?;
        }
    }
    Ok(())
}

fn build_store(path: &Path, clock: &ManualClock) -> Vault {
    let mut vault = Vault::create(
        path,
        &SecretString::from("bench".to_string()),
        VaultOptions {
            clock: Arc::new(clock.clone()),
            wrapping_keys: Box::new(test_keys()),
            kdf: KdfParams::INSECURE_FAST,
            settings: Settings::default(),
        },
    )
    .expect("create store");
    vault.apply(|kms| populate(kms, clock)).expect("populate");
    vault
}

fn input(frame: u64, events: Vec<egui::Event>) -> egui::RawInput {
    egui::RawInput {
        screen_rect: Some(egui::Rect::from_min_size(
            egui::Pos2::ZERO,
            egui::vec2(1600.0, 1000.0),
        )),
        time: Some(frame as f64 / 60.0),
        predicted_dt: 1.0 / 60.0,
        events,
        ..Default::default()
    }
}

struct Console {
    ctx: egui::Context,
    app: ConsoleApp,
    frame: u64,
}

impl Console {
    fn new(config: AppConfig) -> Console {
        let ctx = egui::Context::default();
        let app = ConsoleApp::with_context(ctx.clone(), config, Prefs::default());
        Console { ctx, app, frame: 0 }
    }

    /// One frame; its UI pass in milliseconds.
    fn frame(&mut self, events: Vec<egui::Event>) -> f64 {
        self.frame += 1;
        let t = Instant::now();
        let out = self
            .ctx
            .run_ui(input(self.frame, events), |ui| self.app.show(ui));
        let ms = t.elapsed().as_secs_f64() * 1e3;
        std::hint::black_box(out);
        ms
    }

    /// Frames while scrolling down the key list, then back up; the UI pass
    /// of each.
    fn scroll(&mut self, frames: usize) -> Vec<f64> {
        let over_list = egui::pos2(300.0, 500.0);
        let mut times = Vec::with_capacity(frames);
        for i in 0..frames {
            let dy = if i < frames / 2 { -60.0 } else { 60.0 };
            times.push(self.frame(vec![
                egui::Event::PointerMoved(over_list),
                egui::Event::MouseWheel {
                    unit: egui::MouseWheelUnit::Point,
                    delta: egui::vec2(0.0, dy),
                    modifiers: egui::Modifiers::NONE,
                    phase: egui::TouchPhase::Move,
                    source: egui::MouseWheelSource::Wheel,
                },
            ]));
        }
        times.sort_by(f64::total_cmp);
        times
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn main() {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    println!("aws_scale: the console on an AWS account of {KEYS} keys served by byok serve");
    println!("machine: {cpu}, {cores} cores available");
    let dir = tempfile::tempdir().expect("temp dir");
    let clock = ManualClock::new(START);

    // The account: a store of 5 000 keys behind byok serve.
    let t = Instant::now();
    let account = build_store(&dir.path().join("account.byok"), &clock);
    eprintln!("  built the account in {:.1} s", t.elapsed().as_secs_f64());
    let creds = account.api_credentials().clone();
    let region = account.kms().settings().region.clone();
    let account = Arc::new(Mutex::new(account));
    let endpoint = Endpoint::start_with(
        account.clone(),
        EndpointConfig::new("127.0.0.1:0".parse().expect("addr")),
    )
    .expect("serve");
    let url = format!("http://{}", endpoint.local_addr());

    // The console on it.
    let mut config = AppConfig::for_tests(dir.path().join("unused.byok"), clock.clone(), || {
        Box::new(test_keys())
    });
    config.clock = AppClock::Manual(clock.clone());
    config.aws_options = Some(ConnectOptions {
        credentials: Some(SharedCredentialsProvider::new(Credentials::new(
            &creds.access_key_id,
            creds.secret_str(),
            None,
            None,
            "bench",
        ))),
        ..ConnectOptions::default()
    });
    let mut c = Console::new(config.clone());
    let started = Instant::now();
    c.app.connect_aws(
        dir.path().join("officer.byok"),
        SecretString::from("bench".to_string()),
        AwsConnection {
            profile: None,
            regions: vec![region],
            endpoint_url: Some(url),
        },
        true,
    );
    let deadline = started + Duration::from_secs(120);
    let first_page = loop {
        c.frame(Vec::new());
        let shown = c.app.visible_keys().to_vec();
        if let Some(v) = c.app.view()
            && v.keys.len() >= 1000
            && !shown.is_empty()
            && shown
                .iter()
                .all(|k| v.key(k).is_some_and(|k| k.knowledge > Knowledge::Listed))
        {
            break started.elapsed();
        }
        assert!(Instant::now() < deadline, "the first page never showed");
        std::thread::sleep(Duration::from_millis(2));
    };
    let shown = c.app.visible_keys().len();
    // Let the listing finish (5 pages) and count the calls.
    while !c
        .app
        .view()
        .is_some_and(|v| v.complete && v.keys.len() == KEYS)
    {
        c.frame(Vec::new());
        std::thread::sleep(Duration::from_millis(5));
        assert!(Instant::now() < deadline, "the listing never finished");
    }
    for _ in 0..60 {
        c.frame(Vec::new());
        std::thread::sleep(Duration::from_millis(5));
    }
    let view = c.app.view().expect("a view").clone();
    let described = view
        .keys
        .iter()
        .filter(|k| k.knowledge > Knowledge::Listed)
        .count();
    let listing_calls = KEYS.div_ceil(1000) as u64 + (KEYS / 50).div_ceil(100) as u64;
    let calls = view.refresh_calls;
    println!(
        "connect → first page on screen ({shown} rows described, 1000 listed): {:.0} ms",
        first_page.as_secs_f64() * 1e3
    );
    // The key in detail also gets GetKeyRotationStatus and ListResourceTags.
    let detail_calls = 2;
    let row_calls = calls.saturating_sub(listing_calls + detail_calls);
    println!(
        "calls: {calls} in all = {listing_calls} listing (ListKeys pages, ListAliases pages) + {detail_calls} for the key in detail + {row_calls} for {described} rows described: {:.2} per row",
        row_calls as f64 / described.max(1) as f64
    );
    let aws_frames = c.scroll(300);
    let scrolled_described = c
        .app
        .view()
        .map(|v| {
            v.keys
                .iter()
                .filter(|k| k.knowledge > Knowledge::Listed)
                .count()
        })
        .unwrap_or(0);
    println!(
        "scrolling the AWS key list: ui pass median {:.3} ms, p95 {:.3} ms, max {:.3} ms ({scrolled_described} keys described after scrolling)",
        percentile(&aws_frames, 0.5),
        percentile(&aws_frames, 0.95),
        aws_frames.last().copied().unwrap_or(0.0)
    );
    drop(c);
    endpoint.stop();

    // The budget: the same list of a local store, same run, same frames.
    let local = build_store(&dir.path().join("local.byok"), &clock);
    let mut l = Console::new(config);
    l.app.adopt(local);
    while !l.app.is_ready() {
        l.frame(Vec::new());
        std::thread::sleep(Duration::from_millis(5));
    }
    for _ in 0..60 {
        l.frame(Vec::new());
    }
    let local_frames = l.scroll(300);
    println!(
        "scrolling the local key list (the budget): ui pass median {:.3} ms, p95 {:.3} ms, max {:.3} ms",
        percentile(&local_frames, 0.5),
        percentile(&local_frames, 0.95),
        local_frames.last().copied().unwrap_or(0.0)
    );
    println!(
        "AWS / local (median ui pass while scrolling): {:.2}×",
        percentile(&aws_frames, 0.5) / percentile(&local_frames, 0.5)
    );
}
