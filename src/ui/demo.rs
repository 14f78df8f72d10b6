//! The training demo: a throwaway store filled with keys in every state, so a
//! trainer starts in one click. It is built by driving the engine — real
//! operations at simulated past times on a manual clock — and then handed
//! the live clock, so its audit trail and timelines are real.
//!
//! The plaintext of every demo material is written next to the store (in
//! `key-material/`), so the trainer can demonstrate re-importing a deleted
//! or expired material. Throwaway training material only.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use secrecy::SecretString;

use super::config::AppConfig;
use super::worker::UiError;
use crate::kms::clock::days;
use crate::kms::{
    Caller, Clock, CreateKeyRequest, DataKeyLength, DataKeySpec, EncryptionContext,
    ExpirationModel, ImportKeyMaterialRequest, ImportType, KeyId, Kms, KmsError, ManualClock,
    Origin, SecretArray, Settings, Tag, Timestamp, WrappingAlgorithm, WrappingKeySpec,
    wrap_material,
};
use crate::store::format::KdfParams;
use crate::store::{StoreSettings, Vault, VaultOptions};

/// The rotation delay of training stores: long enough to watch a rotation
/// in progress, short enough to wait for it.
pub const DEMO_ROTATION_DELAY_MS: u64 = 45_000;

/// A fresh folder for a training store.
pub fn demo_dir(base: Option<&Path>) -> PathBuf {
    let base = base
        .map(Path::to_path_buf)
        .unwrap_or_else(std::env::temp_dir);
    let mut suffix = [0u8; 4];
    rand::Rng::fill_bytes(&mut rand::rng(), &mut suffix);
    let tag: String = suffix.iter().map(|b| format!("{b:02x}")).collect();
    base.join(format!("byok-training-{}-{tag}", std::process::id()))
}

/// Removes the training folders (store and plaintext material files) that
/// a byok process left in `base` when it was killed before it could clean
/// up: folders named `byok-training-<pid>-<tag>` whose process is gone.
/// Returns how many were removed. Only Linux can tell a live pid from a dead
/// one here (`/proc`); elsewhere nothing is removed.
pub fn sweep_stale_demo_dirs(base: Option<&Path>) -> usize {
    let base = base
        .map(Path::to_path_buf)
        .unwrap_or_else(std::env::temp_dir);
    if !Path::new("/proc/self").exists() {
        return 0;
    }
    let Ok(entries) = std::fs::read_dir(&base) else {
        return 0;
    };
    let mut removed = 0;
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|n| n.strip_prefix("byok-training-"))
            .and_then(|rest| rest.split_once('-'))
            .and_then(|(pid, _)| pid.parse::<u32>().ok())
        else {
            continue;
        };
        let is_dir = entry.file_type().is_ok_and(|t| t.is_dir());
        if !is_dir || pid == std::process::id() || Path::new(&format!("/proc/{pid}")).exists() {
            continue;
        }
        if std::fs::remove_dir_all(entry.path()).is_ok() {
            removed += 1;
        }
    }
    removed
}

/// The folder holding the plaintext of the demo's materials.
pub fn material_dir(store_path: &Path) -> PathBuf {
    store_path
        .parent()
        .map(|p| p.join("key-material"))
        .unwrap_or_else(|| PathBuf::from("key-material"))
}

struct Builder {
    kms_clock: ManualClock,
    caller: Caller,
    rng: rand::rngs::ThreadRng,
    material_dir: PathBuf,
}

type Step<T> = Result<T, KmsError>;

impl Builder {
    fn at(&self, t: Timestamp) {
        self.kms_clock.set(t);
    }

    fn create(
        &self,
        kms: &mut Kms,
        alias: &str,
        description: &str,
        origin: Origin,
        tags: &[(&str, &str)],
    ) -> Step<KeyId> {
        let id = kms.create_key(
            &self.caller,
            CreateKeyRequest {
                description: Some(description.into()),
                origin: Some(origin),
                tags: tags
                    .iter()
                    .map(|(k, v)| Tag {
                        key: (*k).into(),
                        value: (*v).into(),
                    })
                    .collect(),
            },
        )?;
        kms.create_alias(&self.caller, &format!("alias/{alias}"), &id.to_string())?;
        Ok(id)
    }

    /// GetParametersForImport + wrap + ImportKeyMaterial of fresh material.
    #[allow(clippy::too_many_arguments)]
    fn import_new(
        &mut self,
        kms: &mut Kms,
        key: KeyId,
        alias: &str,
        description: &str,
        valid_to: Option<Timestamp>,
        import_type: Option<ImportType>,
    ) -> Step<()> {
        let algorithm = WrappingAlgorithm::RsaAesKeyWrapSha256;
        let params = kms.get_parameters_for_import(
            &self.caller,
            &key.to_string(),
            algorithm,
            WrappingKeySpec::Rsa2048,
        )?;
        let material = SecretArray::<32>::random(&mut self.rng);
        let wrapped = wrap_material(
            &params.public_key,
            algorithm,
            material.expose(),
            &mut self.rng,
        )
        .map_err(|e| KmsError::new(crate::kms::ErrorKind::KmsInternal, e.to_string()))?;
        let out = kms.import_key_material(
            &self.caller,
            &ImportKeyMaterialRequest {
                key_id: key.to_string(),
                import_token: params.import_token,
                encrypted_key_material: wrapped,
                expiration_model: Some(ExpirationModel::for_valid_to(valid_to)),
                valid_to,
                import_type,
                key_material_description: Some(description.into()),
                key_material_id: None,
            },
        )?;
        // Training only: keep the plaintext so the trainer can re-import it.
        let file = self
            .material_dir
            .join(format!("{alias}-{}.bin", out.key_material_id.short()));
        let _ = crate::store::files::write_private(&file, material.expose());
        Ok(())
    }

    fn rotate(&self, kms: &mut Kms, key: KeyId, delay: Duration) -> Step<()> {
        kms.rotate_key_on_demand(&self.caller, &key.to_string())?;
        self.kms_clock.advance(delay + Duration::from_millis(5));
        kms.tick();
        Ok(())
    }

    fn use_key(&self, kms: &mut Kms, key: KeyId, n: usize) -> Step<()> {
        let ctx = EncryptionContext::from([("purpose".to_string(), "training".to_string())]);
        for _ in 0..n {
            let dk = kms.generate_data_key(
                &self.caller,
                &key.to_string(),
                Some(DataKeyLength::Spec(DataKeySpec::Aes256)),
                &ctx,
                false,
            )?;
            self.kms_clock.advance(Duration::from_secs(37));
            kms.decrypt(
                &self.caller,
                &crate::kms::DecryptRequest {
                    ciphertext_blob: dk.ciphertext_blob,
                    encryption_context: ctx.clone(),
                    key_id: None,
                },
            )?;
        }
        Ok(())
    }
}

/// Builds the training store in `dir` and returns it open, on the live clock.
pub fn build(
    dir: &Path,
    config: &AppConfig,
    mut progress: impl FnMut(f32, &str),
) -> Result<Vault, UiError> {
    std::fs::create_dir_all(dir).map_err(|e| {
        UiError::plain(
            "The training store folder could not be created.",
            format!("{}: {e}", dir.display()),
        )
    })?;
    let path = dir.join("training.byok");
    let live = config.clock.engine_clock();
    let now = live.now();
    let start = now.minus(days(330));
    let kms_clock = ManualClock::new(start);
    let mut pass = [0u8; 24];
    rand::Rng::fill_bytes(&mut rand::rng(), &mut pass);
    let passphrase: String = pass.iter().map(|b| format!("{b:02x}")).collect();
    let settings = Settings {
        rotation_delay_ms: DEMO_ROTATION_DELAY_MS,
        ..Settings::default()
    };
    progress(0.02, "Creating the training store");
    let mut vault = Vault::create(
        &path,
        &SecretString::from(passphrase),
        VaultOptions {
            clock: Arc::new(kms_clock.clone()),
            wrapping_keys: (config.wrapping_keys)(),
            // A throwaway store with a random passphrase nobody types.
            kdf: KdfParams::INSECURE_FAST,
            settings: settings.clone(),
        },
    )?;
    // A training store never locks by itself: locking removes it, and a
    // trainer must not lose the demo mid-session (issue 10, item 5).
    vault
        .update_settings(
            StoreSettings {
                auto_lock_minutes: 0,
                ..vault.store_settings().clone()
            },
            settings.clone(),
        )
        .map_err(UiError::from)?;
    let material_dir = material_dir(&path);
    std::fs::create_dir_all(&material_dir).map_err(|e| {
        UiError::plain(
            "The training material folder could not be created.",
            format!("{}: {e}", material_dir.display()),
        )
    })?;
    let mut b = Builder {
        kms_clock,
        caller: Caller::console(),
        rng: rand::rng(),
        material_dir,
    };
    let delay = settings.rotation_delay();
    vault
        .apply(|kms| script(kms, &mut b, now, delay, &mut progress))
        .map_err(UiError::from)?;

    progress(0.97, "Switching to the live clock");
    let clock: Arc<dyn Clock> = live;
    vault
        .apply(|kms| {
            kms.set_clock(clock);
            Ok(())
        })
        .map_err(UiError::from)?;
    vault.tick()?;
    progress(1.0, "Ready");
    Ok(vault)
}

/// The scenario, in chronological order (the audit trail must read forward
/// in time): nine keys, one in each situation a trainer wants to show.
fn script(
    kms: &mut Kms,
    b: &mut Builder,
    now: Timestamp,
    delay: Duration,
    progress: &mut dyn FnMut(f32, &str),
) -> Step<()> {
    let ago = |d: u64| now.minus(days(d));
    let hours_ago = |h: u64| now.minus(Duration::from_secs(h * 3600));
    let new = Some(ImportType::NewKeyMaterial);
    let total_steps = 24.0;
    let mut done = 0.0;
    let mut report = |text: &str| {
        done += 1.0;
        progress(0.05 + 0.9 * (done / total_steps), text);
    };

    // payments-master: rotated every five weeks for most of a year.
    report("payments-master: first material");
    b.at(ago(330));
    let payments = b.create(
        kms,
        "payments-master",
        "Payments master key (rotated every five weeks)",
        Origin::External,
        &[("team", "payments"), ("classification", "restricted")],
    )?;
    b.import_new(
        kms,
        payments,
        "payments-master",
        "Generation 1 kept in HSM vault A",
        None,
        None,
    )?;
    b.use_key(kms, payments, 2)?;
    let mut generation = 1u64;
    let mut rotate_payments = |kms: &mut Kms, b: &mut Builder, at: Timestamp| -> Step<()> {
        generation += 1;
        b.at(at);
        b.import_new(
            kms,
            payments,
            "payments-master",
            &format!("Generation {generation} kept in HSM vault A"),
            None,
            new,
        )?;
        b.kms_clock.advance(Duration::from_secs(2 * 3600));
        b.rotate(kms, payments, delay)?;
        b.use_key(kms, payments, 1)
    };
    for d in [295, 260, 225] {
        report("payments-master: rotation");
        rotate_payments(kms, b, ago(d))?;
    }

    // analytics: AWS_KMS origin with automatic rotation, for comparison.
    report("analytics: automatic rotation");
    b.at(ago(200));
    let analytics = b.create(
        kms,
        "analytics",
        "Analytics (AWS_KMS origin, automatic rotation)",
        Origin::AwsKms,
        &[],
    )?;
    kms.enable_key_rotation(&b.caller, &analytics.to_string(), Some(90))?;
    b.use_key(kms, analytics, 1)?;

    for d in [190, 155, 120] {
        report("payments-master: rotation");
        rotate_payments(kms, b, ago(d))?;
    }

    // hr-records: enabled, with a second material waiting for rotation.
    report("hr-records: first material");
    b.at(ago(119));
    let hr = b.create(
        kms,
        "hr-records",
        "HR records",
        Origin::External,
        &[("team", "people")],
    )?;
    b.import_new(
        kms,
        hr,
        "hr-records",
        "HR material 1 in HSM vault B",
        None,
        None,
    )?;
    b.use_key(kms, hr, 1)?;

    // legacy-export: its current material expires five days ago.
    report("legacy-export: first material");
    b.at(ago(100));
    let legacy = b.create(
        kms,
        "legacy-export",
        "Legacy export partner",
        Origin::External,
        &[],
    )?;
    b.import_new(
        kms,
        legacy,
        "legacy-export",
        "Legacy material 1",
        None,
        None,
    )?;

    report("payments-master: rotation");
    rotate_payments(kms, b, ago(85))?;

    report("legacy-export: rotation to an expiring material");
    b.at(ago(80));
    b.import_new(
        kms,
        legacy,
        "legacy-export",
        "Legacy material 2 valid 75 days",
        Some(ago(5)),
        new,
    )?;
    b.rotate(kms, legacy, delay)?;
    b.use_key(kms, legacy, 1)?;

    // billing-archive: a rotation will be in progress as the store opens.
    report("billing-archive: first material");
    b.at(ago(60));
    let billing = b.create(
        kms,
        "billing-archive",
        "Billing archive",
        Origin::External,
        &[],
    )?;
    b.import_new(
        kms,
        billing,
        "billing-archive",
        "Billing material 1",
        None,
        None,
    )?;
    b.use_key(kms, billing, 1)?;

    report("payments-master: rotation");
    rotate_payments(kms, b, ago(50))?;

    // sovereign-eu: hydration and re-hydration; material 1 deleted yesterday.
    report("sovereign-eu: first material");
    b.at(ago(49));
    let sovereign = b.create(
        kms,
        "sovereign-eu",
        "EU sovereign workload",
        Origin::External,
        &[("region", "eu")],
    )?;
    b.import_new(
        kms,
        sovereign,
        "sovereign-eu",
        "EU material 1 in on-prem HSM",
        None,
        None,
    )?;

    // staging-temp: scheduled for deletion three days ago.
    report("staging-temp: first material");
    b.at(ago(40));
    let staging = b.create(
        kms,
        "staging-temp",
        "Staging (to be retired)",
        Origin::External,
        &[],
    )?;
    b.import_new(kms, staging, "staging-temp", "Staging material", None, None)?;

    report("sovereign-eu: rotation");
    b.at(ago(30));
    b.import_new(
        kms,
        sovereign,
        "sovereign-eu",
        "EU material 2 in on-prem HSM",
        None,
        new,
    )?;
    b.rotate(kms, sovereign, delay)?;
    b.use_key(kms, sovereign, 1)?;

    // vendor-feed: an expiring material, then disabled.
    report("vendor-feed: first material");
    b.at(ago(20));
    let vendor = b.create(
        kms,
        "vendor-feed",
        "Vendor data feed",
        Origin::External,
        &[],
    )?;
    b.import_new(
        kms,
        vendor,
        "vendor-feed",
        "Vendor material",
        Some(ago(20).plus(days(200))),
        None,
    )?;
    b.use_key(kms, vendor, 1)?;

    report("legacy-export: material expires");
    b.at(ago(5).plus(Duration::from_secs(1)));
    kms.tick();

    report("staging-temp: deletion scheduled");
    b.at(ago(3));
    kms.schedule_key_deletion(&b.caller, &staging.to_string(), Some(30))?;

    report("hr-records: material for rotation");
    b.at(ago(2));
    b.import_new(
        kms,
        hr,
        "hr-records",
        "HR material 2 in HSM vault B",
        Some(ago(2).plus(days(300))),
        new,
    )?;
    b.kms_clock.advance(Duration::from_secs(3600));
    kms.disable_key(&b.caller, &vendor.to_string())?;

    report("sovereign-eu: material deleted");
    b.at(ago(1));
    let first = kms
        .key(sovereign)
        .and_then(|k| k.materials().first())
        .map(|m| m.id().to_string());
    kms.delete_imported_key_material(&b.caller, &sovereign.to_string(), first.as_deref())?;

    report("new-partner: waiting for its first material");
    b.at(hours_ago(20));
    b.create(
        kms,
        "new-partner",
        "New partner onboarding",
        Origin::External,
        &[],
    )?;

    report("billing-archive: rotation in progress");
    b.at(hours_ago(1));
    b.import_new(
        kms,
        billing,
        "billing-archive",
        "Billing material 2",
        None,
        new,
    )?;
    b.at(now.minus(Duration::from_secs(5)));
    kms.rotate_key_on_demand(&b.caller, &billing.to_string())?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folders_of_dead_processes_are_swept_and_nothing_else() {
        let base = tempfile::tempdir().unwrap();
        let mkdir = |name: &str| {
            let d = base.path().join(name);
            std::fs::create_dir_all(d.join("key-material")).unwrap();
            std::fs::write(d.join("key-material").join("m.bin"), [1u8; 32]).unwrap();
            d
        };
        // Above any Linux pid_max (2^22): no such process can exist.
        let dead = mkdir("byok-training-4294967-0a0b0c0d");
        let ours = mkdir(&format!("byok-training-{}-01020304", std::process::id()));
        let parent = mkdir("byok-training-1-05060708"); // pid 1 is alive
        let other = mkdir("byok-training-notapid-x");
        let unrelated = mkdir("something-else-4294967-a");
        let removed = sweep_stale_demo_dirs(Some(base.path()));
        assert_eq!(removed, 1);
        assert!(!dead.exists(), "a dead process's folder is removed");
        for kept in [&ours, &parent, &other, &unrelated] {
            assert!(kept.exists(), "{} is kept", kept.display());
        }
    }
}
