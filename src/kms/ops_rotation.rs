//! Rotation: RotateKeyOnDemand (asynchronous), GetKeyRotationStatus,
//! ListKeyRotations and automatic rotation of `AWS_KMS` keys (SPEC §3).

use serde_json::json;

use super::audit::Caller;
use super::clock::{Timestamp, days};
use super::engine::{Kms, Page, paginate};
use super::error::KmsResult;
use super::model::{
    AutomaticRotation, ExpirationModel, ImportState, IncludeKeyMaterial, Key, KeyId, KeyMaterialId,
    KeyMaterialState, KeyState, Origin, RotationType,
};
use super::rules;

/// The most on-demand rotations a key may have.
pub use super::rules::ON_DEMAND_ROTATION_LIMIT;

/// GetKeyRotationStatus's result.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RotationStatus {
    /// The key.
    pub key_id: KeyId,
    /// `KeyRotationEnabled` (automatic rotation; false for `EXTERNAL`).
    pub key_rotation_enabled: bool,
    /// `RotationPeriodInDays`, when automatic rotation is on.
    pub rotation_period_in_days: Option<u32>,
    /// `NextRotationDate`, when automatic rotation is on.
    pub next_rotation_date: Option<Timestamp>,
    /// `OnDemandRotationStartDate`, only while a rotation is in progress.
    pub on_demand_rotation_start_date: Option<Timestamp>,
}

/// A `RotationsListEntry`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RotationsListEntry {
    /// The key.
    pub key_id: KeyId,
    /// The material.
    pub key_material_id: KeyMaterialId,
    /// Its description.
    pub key_material_description: Option<String>,
    /// `IMPORTED` / `PENDING_IMPORT` (imported keys only).
    pub import_state: Option<ImportState>,
    /// `CURRENT` / `NON_CURRENT` / `PENDING_ROTATION`.
    pub key_material_state: KeyMaterialState,
    /// Whether it expires (imported keys only).
    pub expiration_model: Option<ExpirationModel>,
    /// When it expires (only when it does).
    pub valid_to: Option<Timestamp>,
    /// When a rotation made it current.
    pub rotation_date: Option<Timestamp>,
    /// How it became current.
    pub rotation_type: Option<RotationType>,
}

impl Key {
    /// What ListKeyRotations lists for this key (every page at once; no
    /// audit record: for views of the engine's own state).
    pub fn rotations_list(&self, include: IncludeKeyMaterial) -> Vec<RotationsListEntry> {
        let imported = self.origin == Origin::External;
        self.materials
            .iter()
            .filter(|m| include == IncludeKeyMaterial::AllKeyMaterial || m.rotation.is_some())
            .map(|m| RotationsListEntry {
                key_id: self.id,
                key_material_id: m.id,
                key_material_description: m.description.clone(),
                import_state: imported.then_some(m.import_state),
                key_material_state: m.state,
                expiration_model: imported.then_some(m.expiration_model),
                valid_to: m.valid_to.filter(|_| imported),
                rotation_date: m.rotation_date(),
                rotation_type: m.rotation_type(),
            })
            .collect()
    }
}

impl Kms {
    /// Whether RotateKeyOnDemand would be accepted for `id` now, and if not,
    /// the exception it would raise (the console enables "Rotate now" by this).
    pub fn check_rotate_on_demand(&self, id: KeyId) -> KmsResult<()> {
        rules::rotate_on_demand(&self.facts(id)?)
    }

    /// RotateKeyOnDemand: records `OnDemandRotationStartDate` and returns; the
    /// rotation completes after the store's rotation delay.
    pub fn rotate_key_on_demand(&mut self, caller: &Caller, key_id: &str) -> KmsResult<KeyId> {
        self.call(
            caller,
            "RotateKeyOnDemand",
            false,
            json!({"keyId": key_id}),
            |kms, call| {
                let id = kms.resolve("keyId", key_id, false)?;
                call.key(id);
                // "invoke the on-demand rotation on the primary Region key"
                // (API reference, RotateKeyOnDemand); [byok] message.
                kms.refuse_on_replica(id, "RotateKeyOnDemand")?;
                kms.check_rotate_on_demand(id)?;
                let pending = kms.key_ref(id)?.pending_material().map(|m| m.id);
                if let Some(p) = pending {
                    call.material(p);
                }
                kms.key_mut(id)?.rotation_started = Some(call.now);
                kms.changed();
                call.response = Some(json!({"keyId": kms.arn(id)}));
                Ok(id)
            },
        )
    }

    /// GetKeyRotationStatus.
    pub fn get_key_rotation_status(
        &mut self,
        caller: &Caller,
        key_id: &str,
    ) -> KmsResult<RotationStatus> {
        self.call(
            caller,
            "GetKeyRotationStatus",
            true,
            json!({"keyId": key_id}),
            |kms, call| {
                let id = kms.resolve("keyId", key_id, false)?;
                call.key(id);
                let key = kms.key_ref(id)?;
                Ok(RotationStatus {
                    key_id: id,
                    key_rotation_enabled: key.automatic_rotation.is_some(),
                    rotation_period_in_days: key.automatic_rotation.map(|a| a.period_days),
                    next_rotation_date: key.automatic_rotation.map(|a| a.next_rotation_date),
                    on_demand_rotation_start_date: key.rotation_started,
                })
            },
        )
    }

    /// EnableKeyRotation (`AWS_KMS` keys; `RotationPeriodInDays` 90..2560,
    /// default 365).
    pub fn enable_key_rotation(
        &mut self,
        caller: &Caller,
        key_id: &str,
        rotation_period_in_days: Option<i64>,
    ) -> KmsResult<KeyId> {
        let params = json!({"keyId": key_id, "rotationPeriodInDays": rotation_period_in_days});
        self.call(caller, "EnableKeyRotation", false, params, |kms, call| {
            let id = kms.resolve("keyId", key_id, false)?;
            call.key(id);
            // Automatic rotation is a shared property, set on the primary key
            // (API reference, ReplicateKey); [byok] message.
            kms.refuse_on_replica(id, "EnableKeyRotation")?;
            let period = rotation_period_in_days.unwrap_or(365);
            super::engine::check_range("rotationPeriodInDays", period, 90, 2560)?;
            rules::require_symmetric_encryption(&kms.facts(id)?)?;
            let origin = kms.key_ref(id)?.origin;
            if origin != Origin::AwsKms {
                return Err(kms.origin_error(id, origin));
            }
            kms.require_state(id, &[KeyState::Enabled])?;
            kms.key_mut(id)?.automatic_rotation = Some(AutomaticRotation {
                period_days: period as u32,
                next_rotation_date: call.now.plus(days(period as u64)),
            });
            kms.changed();
            Ok(id)
        })
    }

    /// DisableKeyRotation (`AWS_KMS` keys).
    pub fn disable_key_rotation(&mut self, caller: &Caller, key_id: &str) -> KmsResult<KeyId> {
        self.call(
            caller,
            "DisableKeyRotation",
            false,
            json!({"keyId": key_id}),
            |kms, call| {
                let id = kms.resolve("keyId", key_id, false)?;
                call.key(id);
                // Automatic rotation is a shared property, set on the primary key
                // (API reference, ReplicateKey); [byok] message.
                kms.refuse_on_replica(id, "DisableKeyRotation")?;
                rules::require_symmetric_encryption(&kms.facts(id)?)?;
                let origin = kms.key_ref(id)?.origin;
                if origin != Origin::AwsKms {
                    return Err(kms.origin_error(id, origin));
                }
                kms.require_state(id, &[KeyState::Enabled])?;
                kms.key_mut(id)?.automatic_rotation = None;
                kms.changed();
                Ok(id)
            },
        )
    }

    /// ListKeyRotations. Order **[byok]**: the first material, completed
    /// rotations by date, then a pending one.
    pub fn list_key_rotations(
        &mut self,
        caller: &Caller,
        key_id: &str,
        include: Option<IncludeKeyMaterial>,
        limit: Option<i64>,
        marker: Option<&str>,
    ) -> KmsResult<Page<RotationsListEntry>> {
        let include = include.unwrap_or(IncludeKeyMaterial::RotationsOnly);
        let params = json!({"keyId": key_id, "includeKeyMaterial": include.as_str(), "limit": limit, "marker": marker});
        self.call(caller, "ListKeyRotations", true, params, |kms, call| {
            let id = kms.resolve("keyId", key_id, false)?;
            call.key(id);
            let entries = kms
                .key_ref(id)?
                .rotations_list(include)
                .into_iter()
                .map(|e| (e.key_material_id.to_string(), e))
                .collect();
            paginate(entries, limit, marker, 100, 1000)
        })
    }
}
