//! The key manager in the console (issue 12, item 6): the Key manager tab
//! shows each key's policy and its next due action; dual control refuses a
//! wrong approver passphrase and runs nothing; the kill switch previews its
//! blast radius (materials without escrow marked unrecoverable), suspends on
//! confirmation, and restores from escrow. The material table shows each
//! material's escrow status.

#[path = "ui_support/mod.rs"]
mod support;

use std::path::Path;
use std::sync::{Arc, Mutex};

use byok::api::op;
use byok::api::shapes::*;
use byok::api::wire::Blob;
use byok::backend::local::LocalBackend;
use byok::backend::{Backend, send};
use byok::kms::material::MATERIAL_LEN;
use byok::kms::{Caller, KeyState, ManualClock, SecretArray, SecretVec, Settings};
use byok::manager::{KeyPolicy, Manager, MaterialOrigin};
use byok::store::{Vault, VaultOptions};
use byok::ui::view::KeyRef;
use egui_kittest::kittest::{NodeT, Queryable};
use support::*;

const PASSPHRASE: &str = "correct horse battery";

/// A store made before the console opens it, with the key manager's
/// library: keys with imported material, some escrowed.
struct Prepared {
    vault: Arc<Mutex<Vault>>,
    backend: Arc<dyn Backend>,
    manager: Manager,
}

impl Prepared {
    fn new(store: &Path, clock: &ManualClock) -> Prepared {
        let vault = Vault::create(
            store,
            &secrecy::SecretString::from(PASSPHRASE.to_string()),
            VaultOptions {
                clock: Arc::new(clock.clone()),
                wrapping_keys: Box::new(test_keys()),
                kdf: byok::store::format::KdfParams::INSECURE_FAST,
                settings: Settings::default(),
            },
        )
        .expect("store");
        let vault = Arc::new(Mutex::new(vault));
        let backend: Arc<dyn Backend> = Arc::new(LocalBackend::new(vault.clone(), Caller::cli()));
        let manager = Manager::new(
            backend.clone(),
            vault.clone(),
            Arc::new(clock.clone()),
            Caller::cli(),
            "alice",
        );
        Prepared {
            vault,
            backend,
            manager,
        }
    }

    /// An EXTERNAL key described `description`, tagged `env=<env>`, with one
    /// imported material (escrowed when `escrow`): its ARN.
    fn key(&self, description: &str, env: &str, escrow: bool) -> String {
        self.key_and_material(description, env, escrow).0
    }

    /// [`Prepared::key`], and the material's bytes.
    fn key_and_material(
        &self,
        description: &str,
        env: &str,
        escrow: bool,
    ) -> (String, SecretArray<MATERIAL_LEN>) {
        let material = SecretArray::<MATERIAL_LEN>::random(&mut rand::rng());
        let (arn, id) = external_key_through(
            &*self.backend,
            CreateKeyInput {
                description: Some(description.into()),
                tags: Some(vec![TagShape {
                    tag_key: Some("env".into()),
                    tag_value: Some(env.into()),
                }]),
                ..Default::default()
            },
            material.expose(),
            Some(&format!("{description} first")),
            None,
        );
        if escrow {
            self.manager
                .deposit(
                    &arn,
                    &id,
                    &SecretVec::copy_of(material.expose()),
                    MaterialOrigin::Generated,
                )
                .expect("deposit");
        }
        (arn, material)
    }

    fn close(self) {
        let Prepared {
            vault,
            backend,
            manager,
        } = self;
        drop(manager);
        drop(backend);
        let Ok(vault) = Arc::try_unwrap(vault) else {
            panic!("only the test holds the vault");
        };
        let vault = vault.into_inner().expect("vault");
        vault.close().expect("close");
    }
}

/// Opens `store` in a console and shows the Key manager tab.
fn open_manager(store: &Path, clock: &ManualClock) -> App<'static> {
    let mut h = console(store, clock);
    wait_label(&mut h, "Open store");
    type_into(&mut h, "Passphrase", PASSPHRASE);
    click(&mut h, "Open store");
    wait_for(&mut h, "the store to open", |h| h.state().is_ready());
    click(&mut h, "Key manager");
    wait_label(&mut h, "Policies");
    h
}

/// Scrolls the node labelled `label` into view, then clicks it (the Key
/// manager is one long page).
#[track_caller]
fn click_scrolled(h: &mut App<'_>, label: &str) {
    wait_label(h, label);
    h.get_by_label(label).scroll_to_me();
    settle(h);
    click(h, label);
}

fn key_state(h: &App<'_>, arn: &str) -> Option<KeyState> {
    h.state()
        .view()
        .and_then(|v| v.key(&KeyRef::new(arn)))
        .map(|k| k.state)
}

#[test]
fn the_key_manager_tab_shows_a_policy_and_its_next_due_action() {
    let (_dir, store) = temp();
    let clock = ManualClock::new(START);
    let p = Prepared::new(&store, &clock);
    let (arn, material) = p.key_and_material("payments", "prod", true);
    p.close();
    let mut h = open_manager(&store, &clock);

    // The key is listed without a policy; select it and write one.
    assert!(shows(&h, "no policy"));
    click_first(&mut h, "payments");
    wait_label(&mut h, "Policy of payments");
    click(
        &mut h,
        "Keep an escrow copy of each new material in the store",
    );
    click(&mut h, "Rotate to new material every");
    click(&mut h, "Save policy");
    wait_part(&mut h, "Policy saved");

    // The policy, its next action (the first on-demand rotation, 90 days
    // from now, which adds $1 a month) and where it stands.
    wait_part(&mut h, "rotate every 90 days · escrow");
    assert!(
        shows_part(
            &h,
            "rotate to new material (on-demand rotation 1 of 25) in 3 months"
        ),
        "the next due action in the policies table"
    );
    assert!(shows(&h, "UPCOMING"));
    assert!(shows(&h, "+$1/month"), "the cost of the first rotation");
    let view = h.state().view().expect("view").clone();
    let policy = view
        .manager
        .policy(&arn)
        .expect("the policy is in the view");
    assert_eq!(policy.policy.rotate_every_days, Some(90));
    assert!(policy.policy.escrow);
    let next = policy.next.as_ref().expect("a next action");
    assert_eq!(next.when, START.plus(byok::manager::state::days_of(90)));
    assert_eq!(next.added_cost_usd, 1);

    // The escrow copy leaves only by an explicit export, to a new file
    // readable by its owner only.
    let out = _dir.path().join("exported").join("KeyMaterial.bin");
    let short = view.key(&KeyRef::new(&arn)).expect("key").materials[0]
        .short
        .clone();
    click_scrolled(&mut h, &format!("Export escrow copy {short}"));
    wait_label(&mut h, "Export the escrowed key material?");
    type_into(&mut h, "Export file path", &out.display().to_string());
    click(&mut h, "Export plaintext material");
    wait_part(&mut h, "Exported to");
    let bytes = std::fs::read(&out).expect("exported file");
    assert_eq!(&bytes[..], material.expose(), "the raw 32 bytes");
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&out).expect("meta").permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "owner-only");
    }
    // A second export to the same file is refused: nothing is overwritten.
    click_scrolled(&mut h, &format!("Export escrow copy {short}"));
    type_into(&mut h, "Export file path", &out.display().to_string());
    click(&mut h, "Export plaintext material");
    wait_part(&mut h, "byok does not overwrite");
    click(&mut h, "Cancel");

    // The material table of the key detail says the material is escrowed.
    click(&mut h, "Keys");
    wait_label(&mut h, "Escrow");
    assert!(shows(&h, "kept"), "the escrow column of the material table");
}

#[test]
fn approving_with_a_wrong_passphrase_shows_the_error_and_runs_nothing() {
    let (_dir, store) = temp();
    let clock = ManualClock::new(START);
    let p = Prepared::new(&store, &clock);
    let arn = p.key("ledger", "prod", true);
    let mut policy = KeyPolicy::new(&arn, START);
    policy.escrow = true;
    policy.dual_control = true;
    p.manager.set_policy(policy).expect("policy");
    p.manager
        .register_approver(
            "bob",
            &secrecy::SecretString::from("bob's own passphrase".to_string()),
        )
        .expect("approver");
    // alice asks for the kill switch: it waits for bob.
    let (ids, _) = p
        .manager
        .suspend(std::slice::from_ref(&arn))
        .expect("planned");
    p.close();
    let action = ids[0].clone();
    let mut h = open_manager(&store, &clock);

    wait_label(&mut h, "Waiting for a second officer (dual control)");
    assert!(
        shows(&h, "Key manager: 1 to approve"),
        "the status bar says an approval waits"
    );
    // The runner ran when the store opened: the action still waits.
    wait_for(&mut h, "the first scheduled run", |h| {
        h.state()
            .view()
            .is_some_and(|v| v.manager.last_run.number > 0)
    });
    assert!(shows_part(&h, "1 still open"));
    assert!(shows_part(&h, "asked by alice"), "who asked");
    assert!(
        shows_part(&h, "suspend (delete imported material) on ledger"),
        "what will happen"
    );
    click(&mut h, &format!("Decide {action}"));
    type_into(&mut h, "Approver name", "bob");
    type_into(&mut h, "Approver passphrase", "not bob's passphrase");
    click(&mut h, "Approve and run");
    wait_part(
        &mut h,
        "bob is not a registered approver, or the passphrase is wrong",
    );

    // Nothing ran: the key keeps its material and the action still waits.
    settle(&mut h);
    assert_eq!(key_state(&h, &arn), Some(KeyState::Enabled));
    let view = h.state().view().expect("view").clone();
    assert_eq!(view.manager.approvals.len(), 1);
    assert_eq!(view.manager.approvals[0].id, action);
    assert!(view.manager.suspended.is_empty() || view.manager.recent.is_empty());
    assert!(view.manager.recent.is_empty(), "no action ended");

    // With bob's passphrase the suspension runs, once.
    type_into(&mut h, "Approver passphrase", "bob's own passphrase");
    click(&mut h, "Approve and run");
    wait_key_state(&mut h, &KeyRef::new(&arn), KeyState::PendingImport);
    wait_for(&mut h, "the approval to go", |h| {
        h.state()
            .view()
            .is_some_and(|v| v.manager.approvals.is_empty() && v.manager.recent.len() == 1)
    });
    assert!(
        h.query_all_by_label_contains("Key manager (approval of act-")
            .any(|n| n
                .accesskit_node()
                .value()
                .is_some_and(|l| l.contains("\n✔ suspended"))),
        "a notice (toast) says what the run did, action by action"
    );
    let view = h.state().view().expect("view").clone();
    assert_eq!(view.manager.recent[0].approved_by.as_deref(), Some("bob"));
    assert!(!view.manager.recent[0].failed);
}

#[test]
fn the_kill_switch_previews_unrecoverable_materials_then_suspends_and_restores() {
    let (_dir, store) = temp();
    let clock = ManualClock::new(START);
    let p = Prepared::new(&store, &clock);
    let kept = p.key("orders", "prod", true);
    let lost = p.key("billing", "prod", false);
    let other = p.key("sandbox", "dev", false);
    // Recent use, for the preview.
    let blob = send::<op::Encrypt>(
        &*p.backend,
        &EncryptInput {
            key_id: Some(lost.clone()),
            plaintext: Some(Blob::copy_of(b"invoice 17")),
            encryption_context: Some([("purpose".to_string(), "invoices".to_string())].into()),
            ..Default::default()
        },
    )
    .expect("encrypt");
    assert!(!blob.ciphertext_blob.bytes().is_empty());
    p.close();
    let mut h = open_manager(&store, &clock);

    // Every key tagged env=prod.
    click_scrolled(&mut h, "Every key with the tag");
    type_into(&mut h, "Tag key", "env");
    type_into(&mut h, "=", "prod");
    click_scrolled(&mut h, "Preview blast radius");
    wait_part(
        &mut h,
        "Blast radius: 2 keys · 2 materials deleted · 1 unrecoverable",
    );
    assert_eq!(
        h.query_all_by_label("✖ no escrow: unrecoverable").count(),
        1,
        "billing's material has no escrow copy"
    );
    assert!(shows_part(&h, "Encrypt 1"), "recent use per material");
    assert!(shows_part(&h, "invoices"), "the encryption context");
    assert!(shows_part(&h, "1 material without an escrow copy"));

    click_scrolled(&mut h, "⛔ Suspend 2 keys…");
    wait_label(&mut h, "Suspend 2 keys?");
    assert!(shows_part(&h, "byok cannot restore it"));
    click(&mut h, "⛔ Suspend now");
    wait_key_state(&mut h, &KeyRef::new(&kept), KeyState::PendingImport);
    wait_key_state(&mut h, &KeyRef::new(&lost), KeyState::PendingImport);
    assert_eq!(
        key_state(&h, &other),
        Some(KeyState::Enabled),
        "env=dev untouched"
    );
    wait_label(&mut h, "Suspended keys");

    // Restore the escrowed key.
    click_scrolled(&mut h, "Restore orders");
    wait_key_state(&mut h, &KeyRef::new(&kept), KeyState::Enabled);
    assert_eq!(key_state(&h, &lost), Some(KeyState::PendingImport));
}

#[test]
fn the_console_runs_due_rotations_while_the_store_is_open() {
    let (_dir, store) = temp();
    let clock = ManualClock::new(START);
    let p = Prepared::new(&store, &clock);
    let arn = p.key("payments", "prod", true);
    // Every 30 days, the last period began 30 days ago: a rotation is due.
    let mut policy = KeyPolicy::new(&arn, START.minus(byok::manager::state::days_of(30)));
    policy.escrow = true;
    policy.rotate_every_days = Some(30);
    p.manager.set_policy(policy).expect("policy");
    assert_eq!(
        p.manager.due().expect("due")[0].status,
        byok::manager::DueStatus::Due
    );
    p.close();
    let mut h = open_manager(&store, &clock);

    // The runner starts it when the store opens: a new material is imported
    // and the rotation is in progress (the engine completes it after its
    // rotation delay, on the key clock).
    let key = KeyRef::new(&arn);
    wait_for(&mut h, "the new material", |h| {
        h.state()
            .view()
            .and_then(|v| v.key(&key))
            .is_some_and(|k| k.materials.len() == 2)
    });
    clock.advance(std::time::Duration::from_secs(10));
    // The next run (seconds later, while an action is under way) checks
    // CurrentKeyMaterialId and finishes the action.
    wait_for(&mut h, "the rotation to be done", |h| {
        h.state()
            .view()
            .is_some_and(|v| v.manager.recent.first().is_some_and(|a| !a.failed))
    });
    let view = h.state().view().expect("view").clone();
    let k = view.key(&key).expect("key");
    assert_eq!(k.on_demand_rotations, 1);
    let current = k.current.expect("a current material");
    assert!(view.escrowed(&key, current), "the new material is escrowed");
    assert!(
        view.manager.recent[0]
            .result
            .contains("rotated to material")
    );
    assert!(
        h.query_all_by_label_contains("Key manager (scheduled run)")
            .any(|n| n
                .accesskit_node()
                .value()
                .is_some_and(|l| l.contains("\n✔ "))),
        "a notice says the scheduled run rotated the key"
    );
    // The next rotation keeps the rhythm (a period after this one fell due)
    // and, as the key's second, adds a dollar a month.
    let next = view
        .manager
        .policy(&arn)
        .and_then(|p| p.next.clone())
        .expect("next");
    assert_eq!(next.when, START.plus(byok::manager::state::days_of(30)));
    assert_eq!(next.added_cost_usd, 1);
}

/// Pictures of the Key manager tab (1600×1000 and 1280×720, normal and
/// presentation mode), written to the test's temporary folder under
/// `target/tmp/key-manager/` for a person to look at.
///
/// `XDG_RUNTIME_DIR=$(mktemp -d) cargo test --features snapshots --test ui_manager`
#[cfg(feature = "snapshots")]
#[test]
fn screenshots_of_the_key_manager() {
    use std::time::Duration;

    let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("key-manager");
    std::fs::create_dir_all(&out).expect("folder");
    let (_dir, store) = temp();
    let clock = ManualClock::new(START);
    let p = Prepared::new(&store, &clock);
    let payments = p.key("payments", "prod", true);
    let ledger = p.key("ledger", "prod", true);
    let billing = p.key("billing", "prod", false);
    let _sandbox = p.key("sandbox", "dev", false);
    let mut policy = KeyPolicy::new(&payments, START);
    policy.escrow = true;
    policy.rotate_every_days = Some(90);
    policy.valid_for_days = Some(180);
    policy.renew_before_days = Some(30);
    p.manager.set_policy(policy).expect("policy");
    let mut policy = KeyPolicy::new(&ledger, START.minus(byok::manager::state::days_of(30)));
    policy.escrow = true;
    policy.rotate_every_days = Some(30);
    policy.dual_control = true;
    p.manager.set_policy(policy).expect("policy");
    let mut policy = KeyPolicy::new(&billing, START);
    policy.rotate_every_days = Some(365);
    p.manager.set_policy(policy).expect("policy");
    p.manager
        .register_approver(
            "bob",
            &secrecy::SecretString::from("bob's own passphrase".to_string()),
        )
        .expect("approver");
    for i in 0..3 {
        send::<op::Encrypt>(
            &*p.backend,
            &EncryptInput {
                key_id: Some(billing.clone()),
                plaintext: Some(Blob::copy_of(b"invoice")),
                encryption_context: Some([("invoice".to_string(), format!("{i}"))].into()),
                ..Default::default()
            },
        )
        .expect("encrypt");
    }
    p.close();

    let config =
        byok::ui::AppConfig::for_tests(store.clone(), clock.clone(), || Box::new(test_keys()));
    let mut h: App<'static> = egui_kittest::Harness::builder()
        .with_size(egui::vec2(1600.0, 1000.0))
        .with_max_steps(400)
        .with_render_cursor(false)
        .wgpu()
        .build_eframe(move |cc| byok::ui::ConsoleApp::new(cc, config));
    wait_label(&mut h, "Open store");
    type_into(&mut h, "Passphrase", PASSPHRASE);
    click(&mut h, "Open store");
    wait_for(&mut h, "the store to open", |h| h.state().is_ready());
    click(&mut h, "Key manager");
    wait_for(&mut h, "the first run", |h| {
        h.state()
            .view()
            .is_some_and(|v| v.manager.last_run.number > 0)
    });
    click_first(&mut h, "billing");
    click_scrolled(&mut h, "Preview blast radius");
    wait_part(&mut h, "Blast radius");
    std::thread::sleep(Duration::from_millis(5200));
    let shoot = |h: &mut App<'static>, name: &str| {
        for _ in 0..8 {
            h.step();
        }
        let path = out.join(format!("{name}.png"));
        save_shown(h, &path);
        eprintln!("wrote {}", path.display());
    };
    // The top of the page, then scrolled to the kill switch.
    h.get_by_label("Policies").scroll_to_me();
    shoot(&mut h, "manager-1600x1000-top");
    h.get_by_label("Preview blast radius").scroll_to_me();
    shoot(&mut h, "manager-1600x1000-kill-switch");
    h.set_size(egui::vec2(1280.0, 720.0));
    h.get_by_label("Policies").scroll_to_me();
    shoot(&mut h, "manager-1280x720-top");
    h.get_by_label("Preview blast radius").scroll_to_me();
    shoot(&mut h, "manager-1280x720-kill-switch");
    // Approval dialog.
    let approvals: Vec<String> = h
        .state()
        .view()
        .map(|v| v.manager.approvals.iter().map(|a| a.id.clone()).collect())
        .unwrap_or_default();
    if let Some(id) = approvals.first() {
        click_scrolled(&mut h, &format!("Decide {id}"));
        shoot(&mut h, "manager-1280x720-approve");
        click(&mut h, "Cancel");
    }
    // Presentation mode.
    click(&mut h, "Settings");
    click(&mut h, "Presentation mode (larger text for projectors)");
    click(&mut h, "Key manager");
    h.set_size(egui::vec2(1600.0, 1000.0));
    h.get_by_label("Policies").scroll_to_me();
    shoot(&mut h, "manager-presentation-1600x1000-top");
    h.set_size(egui::vec2(1280.0, 720.0));
    shoot(&mut h, "manager-presentation-1280x720-top");
    h.get_by_label("Preview blast radius").scroll_to_me();
    shoot(&mut h, "manager-presentation-1280x720-kill-switch");
    // The material table's Escrow column.
    click(&mut h, "Keys");
    click_first(&mut h, "payments");
    wait_label(&mut h, "Escrow");
    h.set_size(egui::vec2(1600.0, 1000.0));
    shoot(&mut h, "keys-presentation-1600x1000-escrow-column");
    // Normal size: the material table and the timeline with the key
    // manager's next rotation.
    click(&mut h, "Settings");
    click(&mut h, "Presentation mode (larger text for projectors)");
    click(&mut h, "Keys");
    wait_label(&mut h, "Material timeline");
    shoot(&mut h, "keys-1600x1000-escrow-and-planned");
    click(&mut h, "Fit");
    shoot(&mut h, "keys-1600x1000-timeline-fit");
}

#[test]
fn material_wrapped_in_the_wizard_is_escrowed_when_the_keys_policy_says_so() {
    let (_dir, store) = temp();
    let clock = ManualClock::new(START);
    let p = Prepared::new(&store, &clock);
    let arn = p.key("payments", "prod", true);
    let mut policy = KeyPolicy::new(&arn, START);
    policy.escrow = true;
    p.manager.set_policy(policy).expect("policy");
    p.close();
    let mut h = open_manager(&store, &clock);
    click(&mut h, "Keys");
    let key = KeyRef::new(&arn);
    wait_for(&mut h, "the key selected", |h| {
        h.state().selected_key() == Some(&key)
    });

    // A second material, generated and wrapped in the wizard.
    click(&mut h, "📥 Import key material…");
    click(&mut h, "Get import parameters");
    wait_label(&mut h, "Import parameters ready");
    click(&mut h, "Next ›");
    click(&mut h, "Generate and wrap here (training)");
    click(&mut h, "Generate 32 random bytes and wrap them");
    wait_label(&mut h, "Key check value");
    click(&mut h, "Next ›");
    click(&mut h, "Import without a copy (training only)");
    click(&mut h, "Import");
    wait_label(&mut h, "Key material imported");
    click(&mut h, "Close");
    wait_for(&mut h, "the pending material escrowed", |h| {
        h.state().view().is_some_and(|v| {
            v.key(&key)
                .and_then(|k| k.pending_material().map(|m| m.id))
                .is_some_and(|id| v.escrowed(&key, id))
        })
    });
}

/// Material of an HMAC or an asymmetric key, wrapped from a plaintext file
/// in the wizard, is escrowed like 32-byte material when the key's policy
/// keeps escrow (issue 8): the policy editor offers no rotation for such a
/// key (AWS does not rotate it on demand), the escrow holds the bytes as
/// imported, and the Key manager tab exports exactly those bytes.
fn the_wizard_escrows(spec: &str, usage: &str, material: &[u8], kind: &str) {
    let (dir, store) = temp();
    let clock = ManualClock::new(START);
    let p = Prepared::new(&store, &clock);
    let arn = send::<op::CreateKey>(
        &*p.backend,
        &CreateKeyInput {
            origin: Some("EXTERNAL".into()),
            key_spec: Some(spec.into()),
            key_usage: Some(usage.into()),
            description: Some("custodian key".into()),
            ..Default::default()
        },
    )
    .expect("CreateKey")
    .key_metadata
    .arn;
    let mut policy = KeyPolicy::new(&arn, START);
    policy.escrow = true;
    p.manager.set_policy(policy).expect("an escrow policy");
    p.close();
    let mut h = open_manager(&store, &clock);
    click(&mut h, "Keys");
    let key = KeyRef::new(&arn);
    wait_for(&mut h, "the key selected", |h| {
        h.state().selected_key() == Some(&key)
    });

    let file = dir.path().join("KeyMaterial.bin");
    std::fs::write(&file, material).unwrap();
    click(&mut h, "📥 Import key material…");
    wait_label(&mut h, "Get import parameters");
    click(&mut h, "Get import parameters");
    wait_label(&mut h, "Import parameters ready");
    click(&mut h, "Next ›");
    click(&mut h, "Wrap a plaintext KeyMaterial.bin here");
    type_into(
        &mut h,
        "Plaintext KeyMaterial.bin path",
        &file.display().to_string(),
    );
    click(&mut h, "Wrap this material");
    click(&mut h, "Next ›");
    wait_label(&mut h, "Import type");
    click(&mut h, "Import");
    wait_label(&mut h, "Key material imported");
    assert!(
        shows(&h, "Escrow copy"),
        "the result says what the escrow holds"
    );
    click(&mut h, "Close");
    wait_key_state(&mut h, &key, KeyState::Enabled);
    wait_for(&mut h, "the material escrowed", |h| {
        h.state().view().is_some_and(|v| {
            v.key(&key)
                .and_then(|k| k.current)
                .is_some_and(|id| v.escrowed(&key, id))
        })
    });

    click(&mut h, "Key manager");
    wait_label(&mut h, "Policies");
    click_first(&mut h, "custodian key");
    wait_label(&mut h, "Policy of custodian key");
    assert!(
        is_disabled(&h, "Rotate to new material every"),
        "no rotation is offered for a {spec} key"
    );
    assert!(shows_part(&h, "is not rotated on demand (AWS KMS)"));
    let view = h.state().view().expect("view").clone();
    let short = view.key(&key).expect("key").materials[0].short.clone();
    click_scrolled(&mut h, &format!("Export escrow copy {short}"));
    wait_label(&mut h, "Export the escrowed key material?");
    assert!(shows_part(&h, kind), "the dialog says what leaves");
    let out = dir.path().join("exported.bin");
    type_into(&mut h, "Export file path", &out.display().to_string());
    click(&mut h, "Export plaintext material");
    wait_part(&mut h, "Exported to");
    assert_eq!(std::fs::read(&out).expect("exported file"), material);
}

#[test]
fn hmac_material_wrapped_in_the_wizard_is_escrowed_and_exported_as_imported() {
    let material: Vec<u8> = (0u8..48).map(|i| i.wrapping_mul(37) ^ 0x5a).collect();
    the_wizard_escrows(
        "HMAC_256",
        "GENERATE_VERIFY_MAC",
        &material,
        "HMAC key material of 32 to 64 bytes",
    );
}

#[test]
fn a_private_key_wrapped_in_the_wizard_is_escrowed_and_exported_as_imported() {
    let der =
        byok::kms::asym::AsymmetricKey::generate(byok::kms::KeySpec::EccNistP256, &mut rand::rng())
            .expect("a P-256 key")
            .to_pkcs8()
            .expect("PKCS #8");
    the_wizard_escrows(
        "ECC_NIST_P256",
        "SIGN_VERIFY",
        der.expose(),
        "an ECC_NIST_P256 private key, DER PKCS #8",
    );
}
