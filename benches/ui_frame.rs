//! CPU time per frame of the console's main view (key list, key detail with
//! its materials table and timeline, status bar), headless: an
//! `egui::Context` without a renderer, with 100, 1 000 and 10 000 keys of
//! five materials each.
//!
//! Stores are built through the engine: mostly `AWS_KMS` keys rotated four
//! times (no RSA unwrap per material), plus one `EXTERNAL` key in a hundred
//! with five imported materials, four rotations, real RSA unwraps.
//!
//! Run: `cargo bench --bench ui_frame` (add `-- --quick` for fewer frames).

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use byok::kms::{
    Caller, CreateKeyRequest, ExpirationModel, ImportKeyMaterialRequest, ImportType, Kms, KmsError,
    ManualClock, Origin, PregeneratedKeys, Settings, Timestamp, WrappingAlgorithm, WrappingKeySpec,
    wrap_material,
};
use byok::store::format::KdfParams;
use byok::store::{Vault, VaultOptions};
use byok::ui::{AppClock, AppConfig, ConsoleApp, Prefs};
use rsa::pkcs8::DecodePrivateKey;
use secrecy::SecretString;

const START: Timestamp = Timestamp::from_secs(1_767_225_600);

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

fn populate(kms: &mut Kms, clock: &ManualClock, n: usize) -> Result<(), KmsError> {
    let caller = Caller::cli();
    let mut rng = rand::rng();
    for i in 0..n {
        clock.advance(Duration::from_secs(60));
        if i % 100 == 1 {
            let id = kms.create_key(
                &caller,
                CreateKeyRequest {
                    description: Some(format!("imported key {i}")),
                    origin: Some(Origin::External),
                    tags: vec![],
                },
            )?;
            let params = kms.get_parameters_for_import(
                &caller,
                &id.to_string(),
                WrappingAlgorithm::RsaesOaepSha256,
                WrappingKeySpec::Rsa2048,
            )?;
            for m in 0..5u8 {
                let material: [u8; 32] =
                    std::array::from_fn(|j| (i as u8) ^ m.wrapping_mul(17) ^ j as u8);
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
                if m > 0 {
                    kms.rotate_key_on_demand(&caller, &id.to_string())?;
                    clock.advance(Duration::from_millis(1));
                    kms.tick();
                }
            }
        } else {
            let id = kms.create_key(
                &caller,
                CreateKeyRequest {
                    description: Some(format!("service key {i:05}")),
                    ..Default::default()
                },
            )?;
            for _ in 0..4 {
                kms.rotate_key_on_demand(&caller, &id.to_string())?;
                clock.advance(Duration::from_millis(1));
                kms.tick();
            }
        }
    }
    Ok(())
}

fn build_store(dir: &Path, n: usize, clock: &ManualClock) -> Vault {
    let path = dir.join(format!("bench-{n}.byok"));
    let mut vault = Vault::create(
        &path,
        &SecretString::from("bench".to_string()),
        VaultOptions {
            clock: Arc::new(clock.clone()),
            wrapping_keys: Box::new(test_keys()),
            kdf: KdfParams::INSECURE_FAST,
            settings: Settings {
                rotation_delay_ms: 0,
                ..Settings::default()
            },
        },
    )
    .expect("create store");
    vault
        .apply(|kms| populate(kms, clock, n))
        .expect("populate");
    for k in vault.kms().keys() {
        assert_eq!(k.materials().len(), 5, "five materials per key");
    }
    vault
}

fn input(frame: u64) -> egui::RawInput {
    egui::RawInput {
        screen_rect: Some(egui::Rect::from_min_size(
            egui::Pos2::ZERO,
            egui::vec2(1600.0, 1000.0),
        )),
        time: Some(frame as f64 / 60.0),
        predicted_dt: 1.0 / 60.0,
        ..Default::default()
    }
}

struct Figures {
    keys: usize,
    median: f64,
    p95: f64,
    median_tess: f64,
    p95_tess: f64,
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn measure(n: usize, frames: usize) -> Figures {
    let dir = tempfile::tempdir().expect("temp dir");
    let clock = ManualClock::new(START);
    let t = Instant::now();
    let vault = build_store(dir.path(), n, &clock);
    eprintln!(
        "  built a store of {n} keys × 5 materials in {:.1} s",
        t.elapsed().as_secs_f64()
    );
    let ctx = egui::Context::default();
    let mut config = AppConfig::for_tests(dir.path().join("unused.byok"), clock.clone(), || {
        Box::new(test_keys())
    });
    config.clock = AppClock::Manual(clock.clone());
    let mut app = ConsoleApp::with_context(ctx.clone(), config, Prefs::default());
    app.adopt(vault);
    let mut frame = 0u64;
    let mut run = |app: &mut ConsoleApp| {
        frame += 1;
        let out = ctx.run_ui(input(frame), |ui| app.show(ui));
        let t = Instant::now();
        let prims = ctx.tessellate(out.shapes, out.pixels_per_point);
        let tess = t.elapsed();
        std::hint::black_box(prims);
        tess
    };
    let deadline = Instant::now() + Duration::from_secs(120);
    while !app.is_ready() {
        run(&mut app);
        std::thread::sleep(Duration::from_millis(5));
        assert!(Instant::now() < deadline, "the store never opened");
    }
    // Let the timeline read the audit trail and every cache fill.
    while !app.timeline_ready() {
        run(&mut app);
        std::thread::sleep(Duration::from_millis(10));
        assert!(Instant::now() < deadline, "the timeline never loaded");
    }
    for _ in 0..60 {
        run(&mut app);
    }
    let mut ui_ms = Vec::with_capacity(frames);
    let mut total_ms = Vec::with_capacity(frames);
    for _ in 0..frames {
        let t = Instant::now();
        let tess = run(&mut app);
        let all = t.elapsed();
        ui_ms.push((all - tess).as_secs_f64() * 1e3);
        total_ms.push(all.as_secs_f64() * 1e3);
    }
    ui_ms.sort_by(f64::total_cmp);
    total_ms.sort_by(f64::total_cmp);
    Figures {
        keys: n,
        median: percentile(&ui_ms, 0.5),
        p95: percentile(&ui_ms, 0.95),
        median_tess: percentile(&total_ms, 0.5),
        p95_tess: percentile(&total_ms, 0.95),
    }
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let frames = if quick { 100 } else { 400 };
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    println!(
        "ui_frame: main view (key list + key detail + timeline), 1600×1000, {frames} frames per size"
    );
    println!("machine: {cpu}, {cores} cores available");
    let mut all = Vec::new();
    for n in [100, 1_000, 10_000] {
        let f = measure(n, frames);
        println!(
            "{:>6} keys: ui pass median {:.3} ms, p95 {:.3} ms | with tessellation median {:.3} ms, p95 {:.3} ms",
            f.keys, f.median, f.p95, f.median_tess, f.p95_tess
        );
        all.push(f);
    }
    let ratio = all[2].median / all[0].median;
    println!("10 000 keys / 100 keys (median ui pass): {ratio:.2}×");
}
