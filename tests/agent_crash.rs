//! `byok agent` killed with SIGKILL at random points, 200 times (issue 12):
//! never two new-material imports for one due action, never a material
//! imported without its escrow copy, every completed step in the audit
//! trail, and the next run completes what was interrupted.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use byok::api::op;
use byok::api::shapes::*;
use byok::backend::local::LocalBackend;
use byok::backend::{Backend, send};
use byok::kms::material::MATERIAL_LEN;
use byok::kms::{Caller, SecretArray, SecretVec, Settings};
use byok::manager::state::{ManagerState, days_of};
use byok::manager::{ActionKind, KeyPolicy, Manager, MaterialOrigin, Step};
use byok::store::clock::SystemClock;
use byok::store::format::KdfParams;
use byok::store::{Vault, VaultOptions};
use rand::{RngExt, SeedableRng};

const PASSPHRASE: &str = "crash test passphrase";
const KEYS: usize = 4;
const STORES: usize = 20;
const KILLS_PER_STORE: usize = 10;

fn options() -> VaultOptions {
    VaultOptions {
        clock: Arc::new(SystemClock),
        wrapping_keys: Box::new(common::test_keys()),
        kdf: KdfParams::INSECURE_FAST,
        settings: Settings {
            // Long enough that some kills land while a rotation completes.
            rotation_delay_ms: 150,
            ..Settings::default()
        },
    }
}

fn open(path: &Path) -> (Arc<Mutex<Vault>>, Arc<dyn Backend>, Manager) {
    let vault = Vault::open(path, &common::pass(PASSPHRASE), options()).expect("open the store");
    let vault = Arc::new(Mutex::new(vault));
    let backend: Arc<dyn Backend> = Arc::new(LocalBackend::new(vault.clone(), Caller::cli()));
    let m = Manager::new(
        backend.clone(),
        vault.clone(),
        Arc::new(SystemClock),
        Caller::cli(),
        "test",
    );
    (vault, backend, m)
}

fn close(vault: Arc<Mutex<Vault>>, backend: Arc<dyn Backend>, m: Manager) {
    drop(m);
    drop(backend);
    Arc::try_unwrap(vault)
        .unwrap_or_else(|_| panic!("the vault is still shared"))
        .into_inner()
        .unwrap()
        .close()
        .unwrap();
}

fn agent(path: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_byok"));
    c.args(["agent", "--rotation-wait", "10", "--officer", "crash"])
        .arg("--store")
        .arg(path)
        .env("BYOK_PASSPHRASE", PASSPHRASE)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    c
}

/// Where the open action stands ("none" when nothing was planned yet).
fn standing(state: &ManagerState) -> String {
    state
        .actions
        .iter()
        .find(|a| !a.step.is_final())
        .map(|a| a.step.name().to_string())
        .unwrap_or_else(|| "none".into())
}

#[test]
fn sigkill_at_random_points_in_200_runs_never_imports_twice_or_without_escrow() {
    let seed: u64 = std::env::var("BYOK_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| rand::rng().random());
    eprintln!("crash test seed {seed} (BYOK_CRASH_SEED to repeat)");
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut landed: BTreeMap<String, usize> = BTreeMap::new();
    let started = Instant::now();
    // Twenty stores of ten killed runs each: opening a store proves its whole
    // trail, so a fresh store now and then keeps every run as quick as the
    // first (the invariants are per store).
    let mut kills = 0;
    for store in 0..STORES {
        kills += one_store(&mut rng, &mut landed);
        eprintln!(
            "store {store}: {kills} kills in {:?}; landed at {landed:?}",
            started.elapsed()
        );
    }
    assert_eq!(kills, STORES * KILLS_PER_STORE);
    // The kills reached every step, not only the start or the end.
    for step in ["none", "MaterialReady", "Imported", "RotationStarted"] {
        assert!(
            landed.get(step).is_some_and(|n| *n > 0),
            "no kill landed at {step}: {landed:?}"
        );
    }
}

/// A store with [`KEYS`] keys (a first material each, in escrow), and
/// [`KILLS_PER_STORE`] due rotations, each run killed and then completed.
fn one_store(rng: &mut rand::rngs::StdRng, landed: &mut BTreeMap<String, usize>) -> usize {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.byok");
    let v = Vault::create(&path, &common::pass(PASSPHRASE), options()).unwrap();
    v.close().unwrap();
    let (vault, backend, m) = open(&path);
    let mut keys = Vec::new();
    for _ in 0..KEYS {
        let material = SecretArray::<MATERIAL_LEN>::random(&mut rand::rng());
        let (arn, id) = common::external_key_through(
            &*backend,
            CreateKeyInput::default(),
            material.expose(),
            None,
            None,
        );
        m.deposit(
            &arn,
            &id,
            &SecretVec::copy_of(material.expose()),
            MaterialOrigin::Generated,
        )
        .unwrap();
        keys.push(arn);
    }
    set_due(&m, &keys[0]);
    close(vault, backend, m);

    // The first run is not killed: it measures how long a run takes, and
    // the kills land anywhere in that span.
    let begun = Instant::now();
    let out = agent(&path).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let window = begun.elapsed();
    check(&path, &keys, 0, Some(&keys[1 % KEYS]));

    let mut kills = 0;
    for run in 1..=KILLS_PER_STORE {
        let mut child = agent(&path).spawn().unwrap();
        let delay = window.mul_f64(rng.random_range(0.0..1.1));
        std::thread::sleep(delay);
        let _ = child.kill(); // SIGKILL
        let _ = child.wait();
        kills += 1;
        let (vault, backend, m) = open(&path);
        *landed.entry(standing(&m.state().unwrap())).or_default() += 1;
        close(vault, backend, m);

        // The next run finishes what was interrupted.
        let out = agent(&path).output().unwrap();
        assert!(
            out.status.success(),
            "run {run} after a kill at {delay:?} ended with {}: {}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        check(
            &path,
            &keys,
            run,
            (run < KILLS_PER_STORE).then(|| &keys[(run + 1) % KEYS]),
        );
    }
    kills
}

/// Makes a rotation of `key` due now.
fn set_due(m: &Manager, key: &str) {
    let mut p = KeyPolicy::new(key, m.clock_now().minus(days_of(90)));
    p.escrow = true;
    p.rotate_every_days = Some(90);
    m.set_policy(p).unwrap();
}

/// The invariants, after the run that completes `run`; then makes the
/// rotation of `next` due.
fn check(path: &Path, keys: &[String], run: usize, next: Option<&String>) {
    let (vault, backend, m) = open(path);
    let state = m.state().unwrap();
    let report = vault.lock().unwrap().check_journal().unwrap();
    assert!(
        report.problems.is_empty(),
        "run {run}: {:?}",
        report.problems
    );
    let records = vault.lock().unwrap().audit_records().unwrap();

    // Every rotation planned is done, and nothing failed.
    let rotations: Vec<_> = state
        .actions
        .iter()
        .filter(|a| a.kind == ActionKind::Rotate)
        .collect();
    assert_eq!(
        rotations.len(),
        run + 1,
        "run {run}: one action per due rotation"
    );
    for a in &rotations {
        assert!(
            matches!(a.step, Step::Done { .. }),
            "run {run}: {} is {:?}",
            a.id,
            a.step
        );
    }

    // One new-material import per due action: on the keys themselves,
    // each action's unique description names exactly one material, and
    // each key holds its first material plus one per rotation done. (The
    // trail is written ahead of the state, so a kill between the two can
    // leave a record of an import whose effect was never saved; the key
    // is what counts, and the trail must hold at least one record.)
    let mut imported: BTreeMap<String, usize> = BTreeMap::new();
    for r in &records {
        let p = r.request_parameters.as_ref();
        if r.event_name == "ImportKeyMaterial"
            && r.error_code.is_none()
            && p.is_some_and(|p| p["importType"] == "NEW_KEY_MATERIAL")
        {
            let d = p.unwrap()["keyMaterialDescription"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            *imported.entry(d).or_default() += 1;
        }
    }
    let mut described = BTreeSet::new();
    for key in keys {
        let listed = send::<op::ListKeyRotations>(
            &*backend,
            &ListKeyRotationsInput {
                key_id: Some(key.clone()),
                include_key_material: Some("ALL_KEY_MATERIAL".into()),
                ..Default::default()
            },
        )
        .unwrap();
        let done_here = rotations.iter().filter(|a| a.key_arn == *key).count();
        assert_eq!(listed.rotations.len(), 1 + done_here, "run {run}: {key}");
        for r in &listed.rotations {
            assert!(
                state.escrowed(key, &r.key_material_id).is_some(),
                "run {run}: material {} of {key} has no escrow copy",
                r.key_material_id
            );
            if let Some(d) = r
                .key_material_description
                .as_deref()
                .filter(|d| d.starts_with("byok act-"))
            {
                assert!(
                    described.insert(d.to_string()),
                    "run {run}: two materials described {d}"
                );
                assert!(
                    imported.get(d).is_some_and(|n| *n >= 1),
                    "run {run}: no import record for {d}"
                );
                let id = d.split(' ').nth(1).unwrap();
                assert!(
                    state.action(id).is_some(),
                    "run {run}: {d} belongs to no action"
                );
            }
        }
    }
    assert_eq!(described.len(), run + 1, "run {run}");

    // Every completed step is in the trail (at least once: a kill after the
    // record and before the state makes the next run record it again).
    let mut steps: BTreeMap<(String, String), usize> = BTreeMap::new();
    for r in records.iter().filter(|r| r.event_name == "KeyManagerStep") {
        let d = r.additional_event_data.as_ref().unwrap();
        let key = (
            d["action"].as_str().unwrap().to_string(),
            d["step"].as_str().unwrap().to_string(),
        );
        *steps.entry(key).or_default() += 1;
    }
    for a in &rotations {
        for step in ["MaterialReady", "Imported", "RotationStarted", "Done"] {
            let n = steps
                .get(&(a.id.clone(), step.to_string()))
                .copied()
                .unwrap_or(0);
            assert!(
                n >= 1,
                "run {run}: {} step {step} is not in the trail",
                a.id
            );
        }
    }
    let planned: BTreeSet<String> = records
        .iter()
        .filter(|r| r.event_name == "KeyManagerActionPlanned")
        .map(|r| {
            r.additional_event_data.as_ref().unwrap()["action"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(planned.len(), run + 1);
    if let Some(k) = next {
        set_due(&m, k);
    }
    close(vault, backend, m);
}
