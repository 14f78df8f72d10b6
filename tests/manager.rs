//! The key manager (issue 12): rotation schedules on the manual clock,
//! renewal ("hydration"), the rotation budget, dual control, the kill switch
//! and its restore on a local store and on an AWS store served by
//! `byok serve`, and escrow that never leaves the store but by an explicit
//! export.

mod aws_support;

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_support::Served;
use aws_support::common::{self, START, pass, test_keys, vault_options};
use base64::Engine;
use byok::api::op;
use byok::api::shapes::*;
use byok::api::wire::Blob;
use byok::backend::local::LocalBackend;
use byok::backend::{Backend, send};
use byok::kms::material::MATERIAL_LEN;
use byok::kms::{Caller, Clock, ManualClock, SecretArray, SecretVec, Timestamp};
use byok::manager::state::{ManagerState, days_of};
use byok::manager::{ActionKind, DueStatus, ExportForm, KeyPolicy, Manager, MaterialOrigin, Step};
use byok::store::Vault;
use byok::workspace::Workspace;

const DAY: Duration = Duration::from_secs(86_400);

/// A local store on the manual clock, and its manager acting as `alice`.
struct Local {
    dir: tempfile::TempDir,
    clock: ManualClock,
    vault: Arc<Mutex<Vault>>,
    backend: Arc<dyn Backend>,
    manager: Manager,
}

fn local(rotation_delay_ms: u64) -> Local {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(START);
    let mut options = vault_options(&clock, test_keys());
    options.settings.rotation_delay_ms = rotation_delay_ms;
    let vault = Vault::create(
        &dir.path().join("store.byok"),
        &pass("key manager"),
        options,
    )
    .unwrap();
    let vault = Arc::new(Mutex::new(vault));
    let backend: Arc<dyn Backend> = Arc::new(LocalBackend::new(vault.clone(), Caller::agent()));
    let manager = Manager::new(
        backend.clone(),
        vault.clone(),
        Arc::new(clock.clone()),
        Caller::agent(),
        "alice",
    )
    .with_rotation_wait(Duration::ZERO);
    Local {
        dir,
        clock,
        vault,
        backend,
        manager,
    }
}

/// A new EXTERNAL key with a first material (expiring at `valid_to` when
/// given), escrowed in the manager: (ARN, material, material id).
fn key_with_material(
    b: &dyn Backend,
    m: &Manager,
    valid_to: Option<Timestamp>,
) -> (String, SecretArray<MATERIAL_LEN>, String) {
    let material = SecretArray::<MATERIAL_LEN>::random(&mut rand::rng());
    let (arn, id) = common::external_key_through(
        b,
        CreateKeyInput {
            description: Some("managed".into()),
            ..Default::default()
        },
        material.expose(),
        Some("first"),
        valid_to,
    );
    m.deposit(
        &arn,
        &id,
        &SecretVec::copy_of(material.expose()),
        MaterialOrigin::Generated,
    )
    .unwrap();
    (arn, material, id)
}

fn describe(b: &dyn Backend, key: &str) -> KeyMetadata {
    send::<op::DescribeKey>(
        b,
        &KeyIdInput {
            key_id: Some(key.to_string()),
        },
    )
    .unwrap()
    .key_metadata
}

fn rotations(b: &dyn Backend, key: &str, include: &str) -> Vec<RotationsListEntryShape> {
    send::<op::ListKeyRotations>(
        b,
        &ListKeyRotationsInput {
            key_id: Some(key.to_string()),
            include_key_material: Some(include.into()),
            limit: Some(1000),
            ..Default::default()
        },
    )
    .unwrap()
    .rotations
}

fn encrypt(b: &dyn Backend, key: &str, text: &str) -> Blob {
    send::<op::Encrypt>(
        b,
        &EncryptInput {
            key_id: Some(key.to_string()),
            plaintext: Some(Blob::copy_of(text.as_bytes())),
            ..Default::default()
        },
    )
    .unwrap()
    .ciphertext_blob
}

fn decrypt(b: &dyn Backend, blob: &Blob) -> Result<Vec<u8>, byok::backend::BackendError> {
    send::<op::Decrypt>(
        b,
        &DecryptInput {
            ciphertext_blob: Some(blob.clone()),
            ..Default::default()
        },
    )
    .map(|o| o.plaintext.bytes().to_vec())
}

fn done(state: &ManagerState, kind: impl Fn(&ActionKind) -> bool) -> Vec<String> {
    state
        .actions
        .iter()
        .filter(|a| kind(&a.kind))
        .filter_map(|a| match &a.step {
            Step::Done { summary } => Some(summary.clone()),
            _ => None,
        })
        .collect()
}

fn event_names(vault: &Mutex<Vault>) -> Vec<(String, serde_json::Value)> {
    vault
        .lock()
        .unwrap()
        .audit_records()
        .unwrap()
        .into_iter()
        .map(|r| {
            let v = serde_json::to_value(&r).unwrap();
            (r.event_name, v)
        })
        .collect()
}

#[test]
fn a_90_day_policy_over_two_simulated_years_rotates_8_times_and_the_key_never_stops_working() {
    // Rotations take 3 s (the store's default delay) and the runner does not
    // wait for them: the next daily run checks each one, as a cron job would.
    let t = local(3000);
    let (arn, _, first) = key_with_material(&*t.backend, &t.manager, None);
    let mut policy = KeyPolicy::new(&arn, t.clock.now());
    policy.escrow = true;
    policy.rotate_every_days = Some(90);
    t.manager.set_policy(policy).unwrap();

    let mut sealed = vec![(encrypt(&*t.backend, &arn, "day 0"), "day 0".to_string())];
    let mut currents = vec![first];
    for day in 1..=730 {
        // Every hour of the day the key is usable, not only at the runs.
        for _ in 0..4 {
            t.clock.advance(Duration::from_secs(6 * 3600));
            let meta = describe(&*t.backend, &arn);
            assert_eq!(meta.key_state, "Enabled", "day {day}");
            let text = format!("day {day} {}", t.clock.now().millis());
            if day % 30 == 0 {
                sealed.push((encrypt(&*t.backend, &arn, &text), text));
            }
        }
        let report = t.manager.run().unwrap();
        assert!(
            report.outcomes.iter().all(|o| !o.failed),
            "day {day}: {:?}",
            report.outcomes
        );
        let current = describe(&*t.backend, &arn).current_key_material_id.unwrap();
        if currents.last() != Some(&current) {
            currents.push(current);
        }
    }
    let state = t.manager.state().unwrap();
    let rotated = done(&state, |k| *k == ActionKind::Rotate);
    assert_eq!(rotated.len(), 8, "{rotated:#?}");
    for s in &rotated {
        assert!(s.contains("CurrentKeyMaterialId checked"), "{s}");
    }
    // AWS's own account of it: 8 on-demand rotations, 9 materials, each
    // rotation's material current in turn.
    let listed = rotations(&*t.backend, &arn, "ROTATIONS_ONLY");
    assert_eq!(listed.len(), 8);
    assert!(
        listed
            .iter()
            .all(|r| r.rotation_type.as_deref() == Some("ON_DEMAND"))
    );
    assert_eq!(currents.len(), 9, "{currents:?}");
    // The rotations kept the schedule's rhythm: one every 90 days.
    let dates: Vec<i64> = listed
        .iter()
        .map(|r| r.rotation_date.as_ref().unwrap().0.millis())
        .collect();
    for pair in dates.windows(2) {
        let days = (pair[1] - pair[0]) as f64 / 86_400_000.0;
        assert!(
            (89.0..=91.0).contains(&days),
            "{days} days between rotations"
        );
    }
    // Every material is escrowed, and every ciphertext made on the way
    // decrypts with the material that made it.
    for m in rotations(&*t.backend, &arn, "ALL_KEY_MATERIAL") {
        assert!(
            state.escrowed(&arn, &m.key_material_id).is_some(),
            "{}",
            m.key_material_id
        );
    }
    for (blob, text) in &sealed {
        assert_eq!(decrypt(&*t.backend, blob).unwrap(), text.as_bytes());
    }
    // Each step of each rotation is in the audit trail.
    let events = event_names(&t.vault);
    for step in ["MaterialReady", "Imported", "RotationStarted", "Done"] {
        let n = events
            .iter()
            .filter(|(n, v)| n == "KeyManagerStep" && v["additionalEventData"]["step"] == step)
            .count();
        assert_eq!(n, 8, "{step}");
    }
    let imports = events
        .iter()
        .filter(|(n, v)| {
            n == "ImportKeyMaterial" && v["requestParameters"]["importType"] == "NEW_KEY_MATERIAL"
        })
        .count();
    assert_eq!(imports, 8);
    drop(t.dir);
}

#[test]
fn a_renewal_policy_keeps_a_30_day_material_alive_for_a_year() {
    let t = local(0);
    let (arn, _, id) = key_with_material(&*t.backend, &t.manager, Some(START.plus(30 * DAY)));
    let mut policy = KeyPolicy::new(&arn, t.clock.now());
    policy.escrow = true;
    policy.valid_for_days = Some(30);
    policy.renew_before_days = Some(7);
    t.manager.set_policy(policy).unwrap();
    let blob = encrypt(&*t.backend, &arn, "kept alive");
    for day in 1..=365 {
        t.clock.advance(DAY);
        let report = t.manager.run().unwrap();
        assert!(
            report.outcomes.iter().all(|o| !o.failed),
            "day {day}: {report:?}"
        );
        let meta = describe(&*t.backend, &arn);
        assert_eq!(meta.key_state, "Enabled", "day {day}");
        let valid_to = rotations(&*t.backend, &arn, "ALL_KEY_MATERIAL")[0]
            .valid_to
            .as_ref()
            .unwrap()
            .0;
        // Never closer than the renewal margin (less the day between runs).
        assert!(valid_to > t.clock.now().plus(6 * DAY), "day {day}");
        assert!(valid_to <= t.clock.now().plus(30 * DAY), "day {day}");
    }
    assert_eq!(decrypt(&*t.backend, &blob).unwrap(), b"kept alive");
    let state = t.manager.state().unwrap();
    let renewed = done(
        &state,
        |k| matches!(k, ActionKind::Renew { key_material_id } if *key_material_id == id),
    );
    // Every 23 days (30 valid, renewed 7 before): 15 renewals in 365 days.
    assert_eq!(renewed.len(), 15, "{renewed:#?}");
    let reimports = event_names(&t.vault)
        .into_iter()
        .filter(|(n, v)| {
            n == "ImportKeyMaterial"
                && v["requestParameters"]["importType"] == "EXISTING_KEY_MATERIAL"
        })
        .count();
    assert_eq!(reimports, 15);
}

#[test]
fn without_renewal_the_same_material_expires_and_the_key_stops() {
    // The control for the test above: the year is not kept alive by itself.
    let t = local(0);
    let (arn, _, _) = key_with_material(&*t.backend, &t.manager, Some(START.plus(30 * DAY)));
    t.clock.advance(31 * DAY);
    t.manager.run().unwrap();
    assert_eq!(describe(&*t.backend, &arn).key_state, "PendingImport");
}

#[test]
fn the_budget_warning_fires_before_the_25th_rotation_and_the_schedule_stops_at_the_reserve() {
    let t = local(0);
    let (arn, _, _) = key_with_material(&*t.backend, &t.manager, None);
    let mut policy = KeyPolicy::new(&arn, t.clock.now());
    policy.rotate_every_days = Some(1);
    t.manager.set_policy(policy).unwrap();
    let mut first_warning = None;
    for day in 1..=40 {
        t.clock.advance(DAY);
        let report = t.manager.run().unwrap();
        assert!(report.outcomes.iter().all(|o| !o.failed), "{report:?}");
        let used = rotations(&*t.backend, &arn, "ROTATIONS_ONLY").len();
        if first_warning.is_none() && !report.warnings.is_empty() {
            first_warning = Some((day, used, report.warnings.clone()));
        }
    }
    let (_, used_then, warnings) = first_warning.expect("a warning");
    // On-demand rotation 22 of 25 is the first that warns: 3 left after it.
    assert_eq!(used_then, 22, "{warnings:?}");
    assert!(
        warnings[0].contains("on-demand rotation 22 of 25; 3 left"),
        "{warnings:?}"
    );
    // One kept in reserve: 24 done, never refused by AWS's limit.
    assert_eq!(rotations(&*t.backend, &arn, "ROTATIONS_ONLY").len(), 24);
    let events = event_names(&t.vault);
    assert!(
        !events
            .iter()
            .any(|(_, v)| v["errorCode"] == "LimitExceededException")
    );
    let warned: Vec<_> = events
        .iter()
        .filter(|(n, _)| n == "KeyManagerWarning")
        .map(|(_, v)| {
            v["additionalEventData"]["warning"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(warned.len(), 4, "{warned:#?}");
    assert!(
        warned[3].contains("stopped: 24 of 25 on-demand rotations used"),
        "{warned:#?}"
    );
    let due = t.manager.due().unwrap();
    assert!(
        matches!(&due[0].status, DueStatus::Blocked(why) if why.contains("24 of 25")),
        "{due:?}"
    );
}

#[test]
fn under_dual_control_nothing_happens_without_the_approval_and_with_it_the_action_runs_once() {
    let t = local(0);
    let (arn, _, first) = key_with_material(&*t.backend, &t.manager, None);
    t.manager
        .register_approver("bob", &pass("bob's own passphrase"))
        .unwrap();
    let mut policy = KeyPolicy::new(&arn, t.clock.now());
    policy.escrow = true;
    policy.rotate_every_days = Some(30);
    policy.dual_control = true;
    t.manager.set_policy(policy).unwrap();
    let count = |name: &str| {
        event_names(&t.vault)
            .iter()
            .filter(|(n, _)| n == name)
            .count()
    };
    let params_before = count("GetParametersForImport");
    t.clock.advance(31 * DAY);
    for _ in 0..3 {
        let report = t.manager.run().unwrap();
        assert!(
            report.open[0].text.contains("waits for an approver"),
            "{report:?}"
        );
        t.clock.advance(DAY);
    }
    let state = t.manager.state().unwrap();
    let waiting: Vec<_> = state
        .actions
        .iter()
        .filter(|a| a.step == Step::AwaitingApproval)
        .collect();
    assert_eq!(waiting.len(), 1, "one request, however many runs");
    let id = waiting[0].id.clone();
    assert_eq!(
        describe(&*t.backend, &arn).current_key_material_id.unwrap(),
        first
    );
    assert_eq!(count("GetParametersForImport"), params_before);
    assert_eq!(count("ImportKeyMaterial"), 1);
    assert_eq!(count("RotateKeyOnDemand"), 0);

    // A wrong passphrase, an unknown approver, the requester: refused.
    let wrong = t
        .manager
        .approve(&id, "bob", &pass("not bob's"))
        .unwrap_err();
    assert!(
        wrong
            .to_string()
            .contains("not a registered approver, or the passphrase is wrong")
    );
    assert!(
        t.manager
            .approve(&id, "mallory", &pass("bob's own passphrase"))
            .is_err()
    );
    assert_eq!(
        t.manager.state().unwrap().action(&id).unwrap().step,
        Step::AwaitingApproval
    );

    let report = t
        .manager
        .approve(&id, "bob", &pass("bob's own passphrase"))
        .unwrap();
    assert!(
        report.outcomes[0].text.contains("rotated to material"),
        "{report:?}"
    );
    for _ in 0..3 {
        t.manager.run().unwrap();
    }
    assert_eq!(rotations(&*t.backend, &arn, "ROTATIONS_ONLY").len(), 1);
    let events = event_names(&t.vault);
    assert_eq!(
        events
            .iter()
            .filter(|(n, _)| n == "RotateKeyOnDemand")
            .count(),
        1
    );
    let approved: Vec<_> = events
        .iter()
        .filter(|(n, _)| n == "KeyManagerActionApproved")
        .collect();
    assert_eq!(approved.len(), 1);
    assert_eq!(approved[0].1["additionalEventData"]["approver"], "bob");
    assert_eq!(
        events
            .iter()
            .filter(|(n, _)| n == "KeyManagerApprovalRefused")
            .count(),
        2
    );
}

#[test]
fn the_officer_who_asks_cannot_approve_their_own_request() {
    let t = local(0);
    let (arn, _, _) = key_with_material(&*t.backend, &t.manager, None);
    t.manager
        .register_approver("alice", &pass("alice approves too"))
        .unwrap();
    let mut policy = KeyPolicy::new(&arn, t.clock.now());
    policy.escrow = true;
    policy.dual_control = true;
    t.manager.set_policy(policy).unwrap();
    // alice pulls the kill switch; the key's policy wants a second officer.
    let (ids, report) = t.manager.suspend(std::slice::from_ref(&arn)).unwrap();
    assert!(
        report.open[0]
            .text
            .contains("waits for an approver (asked by alice)")
    );
    let e = t
        .manager
        .approve(&ids[0], "alice", &pass("alice approves too"))
        .unwrap_err();
    assert!(
        e.to_string()
            .contains("dual control needs a second officer"),
        "{e}"
    );
    assert_eq!(describe(&*t.backend, &arn).key_state, "Enabled");
}

/// Suspends and restores 50 keys through `m`, checking states and
/// ciphertexts on `b`.
fn kill_switch_round_trip(b: &dyn Backend, m: &Manager) {
    let mut keys = Vec::new();
    let mut sealed = Vec::new();
    for i in 0..50 {
        let (arn, _, _) = key_with_material(b, m, None);
        if i % 5 == 0 {
            // A second, current material in some keys; the first stays
            // NON_CURRENT and must come back too.
            let mut p = KeyPolicy::new(&arn, m.clock_now().minus(days_of(10)));
            p.escrow = true;
            p.rotate_every_days = Some(10);
            m.set_policy(p).unwrap();
        }
        sealed.push((arn.clone(), encrypt(b, &arn, &format!("before {i}"))));
        keys.push(arn);
    }
    let report = m.run().unwrap();
    assert_eq!(
        report.outcomes.iter().filter(|o| !o.failed).count(),
        10,
        "{report:?}"
    );
    for (i, arn) in keys.iter().enumerate() {
        sealed.push((arn.clone(), encrypt(b, arn, &format!("after rotation {i}"))));
    }

    let blast = m.blast_radius(&keys).unwrap();
    assert_eq!(blast.keys.len(), 50);
    assert_eq!(blast.material_count(), 60);
    assert!(blast.keys.iter().all(|k| k.without_escrow.is_empty()));

    let (ids, report) = m.suspend(&keys).unwrap();
    assert_eq!(ids.len(), 50);
    assert!(report.outcomes.iter().all(|o| !o.failed), "{report:?}");
    for arn in &keys {
        assert_eq!(describe(b, arn).key_state, "PendingImport", "{arn}");
    }
    for (_, blob) in &sealed {
        assert!(decrypt(b, blob).is_err());
    }

    let (_, report) = m.restore(&keys).unwrap();
    assert!(report.outcomes.iter().all(|o| !o.failed), "{report:?}");
    for arn in &keys {
        assert_eq!(describe(b, arn).key_state, "Enabled", "{arn}");
    }
    for (i, (_, blob)) in sealed.iter().enumerate() {
        let text = decrypt(b, blob).unwrap();
        let want = if i < 50 {
            format!("before {i}")
        } else {
            format!("after rotation {}", i - 50)
        };
        assert_eq!(text, want.as_bytes());
    }
    assert!(m.state().unwrap().suspended.is_empty());
}

#[test]
fn kill_switch_then_restore_on_50_keys_of_a_local_store() {
    let t = local(0);
    kill_switch_round_trip(&*t.backend, &t.manager);
    // The preview read who used the keys from the store's own trail.
    let arn = t.manager.managed_keys().unwrap()[0].clone();
    let blast = t.manager.blast_radius(&[arn]).unwrap();
    let uses: u64 = blast.keys[0]
        .usage
        .iter()
        .flat_map(|u| u.calls.values())
        .sum();
    assert!(uses >= 2, "{blast:?}");
    assert!(
        blast.keys[0]
            .usage
            .iter()
            .all(|u| u.key_material_id.is_some())
    );
}

#[test]
fn kill_switch_then_restore_on_50_keys_of_an_aws_store_served_by_byok_serve() {
    let served = Served::start(0);
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(START);
    let file = Vault::create(
        &dir.path().join("aws.byok"),
        &pass("aws store"),
        vault_options(&clock, test_keys()),
    )
    .unwrap();
    let ws = Workspace::aws(
        Arc::new(Mutex::new(file)),
        &served.connection(&[&served.region]),
        served.options(),
        Caller::agent(),
        Vec::new(),
        Arc::new(|| {}),
    )
    .unwrap();
    let m = Manager::for_workspace(&ws, Caller::agent(), "alice")
        .with_rotation_wait(Duration::from_secs(10));
    kill_switch_round_trip(&**ws.backend(), &m);
    // The manager's state and trail live in the AWS store's own file; the
    // calls are in the served store's trail.
    let state = m.state().unwrap();
    assert_eq!(state.escrow.len(), 60);
    let served_events = event_names(&served.vault);
    assert_eq!(
        served_events
            .iter()
            .filter(|(n, _)| n == "DeleteImportedKeyMaterial")
            .count(),
        60
    );
    drop(m);
    ws.close().unwrap();
}

/// Every file under `dir`, recursively.
fn files_under(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            files_under(&p, out);
        } else {
            out.push(p);
        }
    }
}

fn forms(material: &[u8]) -> Vec<Vec<u8>> {
    let hex: String = material.iter().map(|b| format!("{b:02x}")).collect();
    vec![
        material.to_vec(),
        hex.clone().into_bytes(),
        hex.to_uppercase().into_bytes(),
        base64::engine::general_purpose::STANDARD
            .encode(material)
            .into_bytes(),
        base64::engine::general_purpose::STANDARD_NO_PAD
            .encode(material)
            .into_bytes(),
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(material)
            .into_bytes(),
    ]
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn escrowed_material_appears_in_no_file_outside_the_store_but_the_explicit_export() {
    let t = local(0);
    let (arn, first, first_id) = key_with_material(&*t.backend, &t.manager, None);
    let mut policy = KeyPolicy::new(&arn, t.clock.now());
    policy.escrow = true;
    policy.rotate_every_days = Some(30);
    t.manager.set_policy(policy).unwrap();
    for _ in 0..3 {
        t.clock.advance(30 * DAY);
        t.manager.run().unwrap();
    }
    let state = t.manager.state().unwrap();
    assert_eq!(state.escrow.len(), 4);
    let materials: Vec<Vec<u8>> = state
        .escrow
        .iter()
        .map(|e| e.material.expose().to_vec())
        .collect();
    assert_eq!(materials[0], first.expose().to_vec());
    // Debug output never shows a copy.
    let debug = format!("{state:?}");
    for m in &materials {
        for f in forms(m) {
            assert!(!contains(debug.as_bytes(), &f));
        }
    }

    let out_dir = tempfile::tempdir().unwrap();
    let export = out_dir.path().join("first.bin");
    let bytes = t
        .manager
        .export_escrow(&arn, &first_id, &ExportForm::Raw, &export)
        .unwrap();
    byok::store::files::write_private(&export, &bytes.bytes).unwrap();
    drop(bytes);
    // Close the store so every file is as it stays.
    let Local {
        dir,
        vault,
        backend,
        manager,
        ..
    } = t;
    drop(manager);
    drop(backend);
    Arc::try_unwrap(vault)
        .ok()
        .unwrap()
        .into_inner()
        .unwrap()
        .close()
        .unwrap();

    let mut files = Vec::new();
    files_under(dir.path(), &mut files);
    files_under(out_dir.path(), &mut files);
    assert!(files.len() >= 4, "{files:?}");
    for f in &files {
        let content = std::fs::read(f).unwrap();
        for (i, m) in materials.iter().enumerate() {
            let explicit = *f == export && i == 0;
            for form in forms(m) {
                assert_eq!(
                    contains(&content, &form),
                    explicit && form == *m,
                    "material {i} in {}",
                    f.display()
                );
            }
        }
    }
    // The export is recorded, without the material.
    let v = Vault::open(
        &dir.path().join("store.byok"),
        &pass("key manager"),
        vault_options(&ManualClock::new(START.plus(100 * DAY)), test_keys()),
    )
    .unwrap();
    let records = v.audit_records().unwrap();
    let exported: Vec<_> = records
        .iter()
        .filter(|r| r.event_name == "KeyManagerEscrowExported")
        .collect();
    assert_eq!(exported.len(), 1);
    assert_eq!(
        exported[0].additional_event_data.as_ref().unwrap()["form"],
        "RAW"
    );
    v.close().unwrap();
}

#[test]
fn policies_that_cannot_work_are_refused_with_the_reason() {
    let t = local(0);
    let (arn, _, _) = key_with_material(&*t.backend, &t.manager, None);
    let mut p = KeyPolicy::new(&arn, t.clock.now());
    p.renew_before_days = Some(7);
    p.valid_for_days = Some(30);
    assert!(
        t.manager
            .set_policy(p.clone())
            .unwrap_err()
            .to_string()
            .contains("needs escrow")
    );
    p.escrow = true;
    p.valid_for_days = Some(400);
    assert!(
        t.manager
            .set_policy(p.clone())
            .unwrap_err()
            .to_string()
            .contains("1 to 365 days")
    );
    p.valid_for_days = Some(5);
    assert!(
        t.manager
            .set_policy(p.clone())
            .unwrap_err()
            .to_string()
            .contains("leaves no time")
    );
    let aws_kms = send::<op::CreateKey>(&*t.backend, &CreateKeyInput::default())
        .unwrap()
        .key_metadata
        .arn;
    let e = t
        .manager
        .set_policy(KeyPolicy::new(&aws_kms, t.clock.now()))
        .unwrap_err();
    assert!(e.to_string().contains("origin AWS_KMS"), "{e}");
    let hmac = send::<op::CreateKey>(
        &*t.backend,
        &CreateKeyInput {
            origin: Some("EXTERNAL".into()),
            key_spec: Some("HMAC_256".into()),
            key_usage: Some("GENERATE_VERIFY_MAC".into()),
            ..Default::default()
        },
    )
    .unwrap()
    .key_metadata
    .arn;
    // An HMAC key keeps escrow, expiry and renewal (tests/manager_escrow_types.rs),
    // but AWS does not rotate it on demand: a policy that rotates it is
    // refused, whatever the material's source.
    let mut rotating = KeyPolicy::new(&hmac, t.clock.now());
    rotating.escrow = true;
    rotating.rotate_every_days = Some(90);
    let e = t.manager.set_policy(rotating.clone()).unwrap_err();
    assert!(e.to_string().contains("is a HMAC_256 key"), "{e}");
    assert!(e.to_string().contains("does not rotate"), "{e}");
    rotating.rotate_every_days = None;
    rotating.source = byok::manager::MaterialSource::Folder {
        folder: t.dir.path().to_path_buf(),
    };
    let e = t.manager.set_policy(rotating).unwrap_err();
    assert!(e.to_string().contains("is a HMAC_256 key"), "{e}");
    assert!(t.manager.state().unwrap().policies.is_empty());
}

#[test]
fn a_material_without_escrow_is_named_in_the_preview_and_restore_says_what_is_missing() {
    let t = local(0);
    let material = aws_support::material();
    let (arn, id) = common::external_key_through(
        &*t.backend,
        CreateKeyInput::default(),
        &material,
        None,
        None,
    );
    let blast = t.manager.blast_radius(std::slice::from_ref(&arn)).unwrap();
    assert_eq!(blast.keys[0].without_escrow, vec![id.clone()]);
    t.manager.suspend(std::slice::from_ref(&arn)).unwrap();
    let (_, report) = t.manager.restore(std::slice::from_ref(&arn)).unwrap();
    assert!(report.outcomes[0].failed);
    assert!(
        report.outcomes[0].text.contains("without an escrow copy"),
        "{report:?}"
    );
    assert_eq!(describe(&*t.backend, &arn).key_state, "PendingImport");
}

#[test]
fn materials_dropped_in_a_folder_are_taken_oldest_first_and_removed_once_stored() {
    let t = local(0);
    let (arn, _, _) = key_with_material(&*t.backend, &t.manager, None);
    let folder = t.dir.path().join("drop");
    std::fs::create_dir(&folder).unwrap();
    // A file of the wrong size is left alone, with a warning in the run.
    std::fs::write(folder.join("short.bin"), [7u8; 31]).unwrap();
    let mut policy = KeyPolicy::new(&arn, t.clock.now());
    policy.escrow = true;
    policy.rotate_every_days = Some(30);
    policy.source = byok::manager::MaterialSource::Folder {
        folder: folder.clone(),
    };
    t.manager.set_policy(policy).unwrap();
    t.clock.advance(31 * DAY);
    let report = t.manager.run().unwrap();
    assert!(
        report.open[0]
            .text
            .contains("waiting for a material file (exactly 32 bytes)"),
        "{report:?}"
    );
    assert!(folder.join("short.bin").exists());

    let older = [1u8; 32];
    let newer = [2u8; 32];
    std::fs::write(folder.join("b-older.bin"), older).unwrap();
    std::thread::sleep(Duration::from_millis(20));
    std::fs::write(folder.join("a-newer.bin"), newer).unwrap();
    let report = t.manager.run().unwrap();
    assert!(
        report
            .outcomes
            .iter()
            .any(|o| o.text.contains("rotated to material")),
        "{report:?}"
    );
    assert!(
        !folder.join("b-older.bin").exists(),
        "the consumed file is removed"
    );
    assert!(
        folder.join("a-newer.bin").exists(),
        "the next one waits for the next rotation"
    );
    let state = t.manager.state().unwrap();
    let current = describe(&*t.backend, &arn).current_key_material_id.unwrap();
    assert_eq!(
        state.escrowed(&arn, &current).unwrap().material.expose(),
        &older
    );
    let record = state
        .inventory
        .iter()
        .find(|r| r.key_material_id == current)
        .unwrap();
    assert_eq!(
        record.origin,
        MaterialOrigin::File {
            path: folder.join("b-older.bin")
        }
    );
    assert_eq!(
        record.key_check_value,
        byok::kms::material::key_check_value(&older)
    );
}

#[test]
fn renewal_rehydrates_a_key_whose_material_expired_while_the_runner_was_away() {
    let t = local(0);
    let (arn, _, _) = key_with_material(&*t.backend, &t.manager, Some(START.plus(30 * DAY)));
    let blob = encrypt(&*t.backend, &arn, "across the outage");
    let mut policy = KeyPolicy::new(&arn, t.clock.now());
    policy.escrow = true;
    policy.valid_for_days = Some(30);
    policy.renew_before_days = Some(7);
    t.manager.set_policy(policy).unwrap();
    // Nobody ran the agent for 40 days: the material expired.
    t.clock.advance(40 * DAY);
    assert_eq!(describe(&*t.backend, &arn).key_state, "PendingImport");
    let report = t.manager.run().unwrap();
    assert!(
        report
            .outcomes
            .iter()
            .any(|o| o.text.starts_with("renewed material")),
        "{report:?}"
    );
    assert_eq!(describe(&*t.backend, &arn).key_state, "Enabled");
    assert_eq!(decrypt(&*t.backend, &blob).unwrap(), b"across the outage");
}

#[test]
fn a_suspended_key_is_not_renewed_back_to_life_by_its_policy() {
    let t = local(0);
    let (arn, _, _) = key_with_material(&*t.backend, &t.manager, Some(START.plus(30 * DAY)));
    let mut policy = KeyPolicy::new(&arn, t.clock.now());
    policy.escrow = true;
    policy.valid_for_days = Some(30);
    policy.renew_before_days = Some(7);
    policy.rotate_every_days = Some(10);
    t.manager.set_policy(policy).unwrap();
    t.manager.suspend(std::slice::from_ref(&arn)).unwrap();
    for _ in 0..40 {
        t.clock.advance(DAY);
        t.manager.run().unwrap();
        assert_eq!(describe(&*t.backend, &arn).key_state, "PendingImport");
    }
    let due = t.manager.due().unwrap();
    assert!(
        due.iter()
            .any(|d| matches!(&d.status, DueStatus::Blocked(w) if w == "the key is suspended")),
        "{due:?}"
    );
    t.manager.restore(std::slice::from_ref(&arn)).unwrap();
    assert_eq!(describe(&*t.backend, &arn).key_state, "Enabled");
}
