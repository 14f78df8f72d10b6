//! Multi-Region keys: ReplicateKey, UpdatePrimaryRegion, and the rules that
//! tie a primary key to its replicas.
//!
//! A primary key and its replicas share the key id (`mrk-...`) and live in
//! different regions of one store (see [`Kms::in_region`]). Imported key
//! material is not copied: "If you replicate a multi-Region primary key with
//! imported key material, the replica key is created with no key material.
//! You must import the same key material that you imported into the primary
//! key." (API reference, ReplicateKey,
//! <https://docs.aws.amazon.com/kms/latest/APIReference/API_ReplicateKey.html>).
//! The replica therefore starts with the primary's materials listed and none
//! imported, so an import of any other bytes is refused as it is for any key.

use serde_json::json;

use super::audit::Caller;
use super::engine::{Kms, check_len, len_violation, valid_region_name};
use super::error::{ErrorKind, KmsError, KmsResult, Violations};
use super::model::{
    ExpirationModel, ImportState, Key, KeyId, KeyMaterial, KeyMaterialState, KeyState, Origin, Tag,
};
use super::ops_keys::{check_tag_rules, merge_tags, tag_json, tag_violations};

/// ReplicateKey's inputs.
#[derive(Clone, Debug, Default)]
pub struct ReplicateKeyRequest {
    /// `KeyId`: the primary key (key id or key ARN).
    pub key_id: String,
    /// `ReplicaRegion`.
    pub replica_region: String,
    /// `Description` of the replica (not a shared property).
    pub description: Option<String>,
    /// `Tags` of the replica (not a shared property).
    pub tags: Vec<Tag>,
    /// `Policy` of the replica.
    pub policy: Option<String>,
}

/// `MultiRegionKeyType`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MultiRegionKeyType {
    /// `PRIMARY`.
    Primary,
    /// `REPLICA`.
    Replica,
}

impl MultiRegionKeyType {
    /// As AWS spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Primary => "PRIMARY",
            Self::Replica => "REPLICA",
        }
    }
}

impl Kms {
    /// Whether key `id` of the active region is a primary or a replica
    /// (`None`: a single-Region key).
    pub fn multi_region_key_type(&self, id: KeyId) -> Option<MultiRegionKeyType> {
        let primary = self.primary_region(id)?;
        Some(if primary == self.region() {
            MultiRegionKeyType::Primary
        } else {
            MultiRegionKeyType::Replica
        })
    }

    /// Whether key `id` of the active region is a multi-Region replica.
    pub(crate) fn is_replica(&self, id: KeyId) -> bool {
        self.multi_region_key_type(id) == Some(MultiRegionKeyType::Replica)
    }

    /// Refuses `operation` on a replica key ([`super::rules::refuse_on_replica`]).
    pub(crate) fn refuse_on_replica(&self, id: KeyId, operation: &str) -> KmsResult<()> {
        super::rules::refuse_on_replica(&self.facts(id)?, operation)
    }

    /// ReplicateKey: creates a replica of the multi-Region primary key in
    /// `ReplicaRegion`. Returns the key id; the replica is read with
    /// [`Kms::in_region`] and [`Kms::key`].
    pub fn replicate_key(
        &mut self,
        caller: &Caller,
        req: &ReplicateKeyRequest,
    ) -> KmsResult<KeyId> {
        let params = json!({
            "keyId": req.key_id,
            "replicaRegion": req.replica_region,
            "description": req.description,
            "tags": tag_json(&req.tags),
        });
        self.call(caller, "ReplicateKey", false, params, |kms, call| {
            let mut found = Violations::default();
            found.add(len_violation("replicaRegion", &req.replica_region, 1, 32));
            if let Some(d) = &req.description {
                found.add(len_violation("description", d, 0, 8192));
            }
            tag_violations(&req.tags, &mut found);
            found.check()?;
            check_tag_rules(&req.tags)?;
            if let Some(p) = &req.policy {
                Kms::check_key_policy(p)?;
            }
            let id = kms.resolve("keyId", &req.key_id, false)?;
            call.key(id);
            let arn = kms.arn(id);
            super::rules::replicate_key(&kms.facts(id)?)?;
            let region = req.replica_region.as_str();
            if !valid_region_name(region) {
                // [byok] message.
                return Err(KmsError::validation(format!(
                    "'{region}' is not a region name (for example us-east-1)"
                )));
            }
            if region == kms.region() {
                // [byok] message: "The replica must be in a different
                // Amazon Web Services Region than its primary key" (API
                // reference, ReplicateKey, ReplicaRegion).
                return Err(KmsError::validation(format!(
                    "The replica region {region} is the region of the primary key {arn}. The replica must be in a different region."
                )));
            }
            if kms.keys_in(region).is_some_and(|k| k.contains_key(&id)) {
                // "If the Region already includes a replica of the key you're
                // trying to replicate, ReplicateKey returns an
                // AlreadyExistsException error" (API reference,
                // ReplicateKey); [byok] message.
                return Err(KmsError::new(
                    ErrorKind::AlreadyExists,
                    format!("Replica key {} already exists.", kms.arn_in(region, id)),
                ));
            }
            let primary = kms.key_ref(id)?;
            let mut tags = Vec::new();
            merge_tags(&mut tags, &req.tags);
            let replica = Key {
                id,
                creation_date: call.now,
                description: req.description.clone().unwrap_or_default(),
                origin: primary.origin,
                key_spec: primary.key_spec,
                key_usage: primary.key_usage,
                enabled: true,
                tags,
                materials: primary
                    .materials
                    .iter()
                    .map(|m| replica_material(primary.origin, m))
                    .collect(),
                current_key_material_id: primary.current_key_material_id,
                on_demand_rotations: primary.on_demand_rotations,
                rotation_started: None,
                deletion: None,
                automatic_rotation: None,
            };
            let replica_arn = kms.arn_in(region, id);
            let replica_state = replica.state();
            kms.keys_in_mut(region).insert(id, replica);
            // "The key policy is not a shared property of multi-Region
            // keys"; without `Policy`, "KMS attaches the default key policy
            // to the KMS key" (API reference, ReplicateKey, Policy).
            let stale = (region.to_string(), id);
            kms.policies.remove(&stale);
            if let Some(p) = &req.policy {
                kms.policies.insert(stale, p.clone());
            }
            kms.refresh_multi_region_pending(id);
            // "The CloudTrail log of a ReplicateKey operation records a
            // ReplicateKey operation in the primary key's Region and a
            // CreateKey operation in the replica key's Region" (API reference).
            let now = call.now;
            let primary_arn = arn.clone();
            kms.in_region(Some(region), |kms| {
                kms.record_service_event(
                    now,
                    "CreateKey",
                    Some(id),
                    json!({"multiRegion": true, "primaryKeyArn": primary_arn}),
                )
            });
            kms.changed();
            call.response = Some(json!({"replicaKeyMetadata": {"keyId": id.to_string(), "arn": replica_arn, "keyState": replica_state.as_str()}}));
            Ok(id)
        })
    }

    /// UpdatePrimaryRegion: the replica in `primary_region` becomes the
    /// primary key, and the primary key in the call's region a replica.
    pub fn update_primary_region(
        &mut self,
        caller: &Caller,
        key_id: &str,
        primary_region: &str,
    ) -> KmsResult<KeyId> {
        let params = json!({"keyId": key_id, "primaryRegion": primary_region});
        self.call(caller, "UpdatePrimaryRegion", false, params, |kms, call| {
            check_len("primaryRegion", primary_region, 1, 32)?;
            let id = kms.resolve("keyId", key_id, false)?;
            call.key(id);
            let arn = kms.arn(id);
            super::rules::update_primary_region(&kms.facts(id)?)?;
            if primary_region == kms.region() {
                // [byok] message.
                return Err(KmsError::validation(format!(
                    "{arn} is already the primary key in {primary_region}."
                )));
            }
            let exists = kms.keys_in(primary_region).and_then(|k| k.get(&id));
            let Some(replica) = exists else {
                return Err(KmsError::new(
                    ErrorKind::NotFound,
                    format!("Key '{}' does not exist", kms.arn_in(primary_region, id)),
                ));
            };
            if replica.state() == KeyState::PendingDeletion {
                return Err(super::rules::state_error(
                    &kms.arn_in(primary_region, id),
                    KeyState::PendingDeletion,
                ));
            }
            // The pending material of the former primary: a replica keeps
            // it as PENDING_ROTATION; the new primary's is recomputed.
            for m in &mut kms.key_mut(id)?.materials {
                if m.state == KeyMaterialState::PendingMultiRegionImportAndRotation {
                    m.state = KeyMaterialState::PendingRotation;
                }
            }
            kms.state
                .primary_regions
                .insert(id, primary_region.to_string());
            kms.refresh_multi_region_pending(id);
            kms.changed();
            Ok(id)
        })
    }

    /// The primary key's material imported for rotation is
    /// `PENDING_ROTATION` once every replica has it imported, and
    /// `PENDING_MULTI_REGION_IMPORT_AND_ROTATION` until then (API reference,
    /// `RotationsListEntry.KeyMaterialState`).
    pub(crate) fn refresh_multi_region_pending(&mut self, id: KeyId) {
        let Some(primary) = self.primary_region(id).map(str::to_string) else {
            return;
        };
        let replicas = self.replica_regions(id);
        let Some(pending) = self
            .keys_in(&primary)
            .and_then(|k| k.get(&id))
            .and_then(|k| k.pending_material())
            .map(|m| m.id())
        else {
            return;
        };
        let everywhere = replicas.iter().all(|r| {
            self.keys_in(r)
                .and_then(|k| k.get(&id))
                .and_then(|k| k.material(pending))
                .is_some_and(|m| m.is_imported())
        });
        let state = if everywhere {
            KeyMaterialState::PendingRotation
        } else {
            KeyMaterialState::PendingMultiRegionImportAndRotation
        };
        if let Some(m) = self
            .keys_in_mut(&primary)
            .get_mut(&id)
            .and_then(|k| k.material_mut(pending))
        {
            m.state = state;
        }
    }

    /// After new material entered the primary key `id` (active region): each
    /// replica lists it, not imported, so that the same material can be
    /// imported into it ("Call ImportKeyMaterial on the replica Region key
    /// with the ImportType set to EXISTING_KEY_MATERIAL using the same key
    /// material imported to the primary Region key", API reference,
    /// ImportKeyMaterial).
    pub(crate) fn announce_new_material(&mut self, id: KeyId, material: &KeyMaterial) {
        if self.multi_region_key_type(id) != Some(MultiRegionKeyType::Primary) {
            return;
        }
        let placeholder = replica_material(Origin::External, material);
        for region in self.replica_regions(id) {
            if let Some(key) = self.keys_in_mut(&region).get_mut(&id)
                && key.material(placeholder.id).is_none()
            {
                if placeholder.state == KeyMaterialState::Current {
                    key.current_key_material_id = Some(placeholder.id);
                }
                key.materials.push(placeholder.clone());
            }
        }
        self.refresh_multi_region_pending(id);
    }

    /// After pending material `material` was deleted from the primary key
    /// `id`: "When you delete the key material of a primary Region key that
    /// is in PENDING_ROTATION or PENDING_MULTI_REGION_IMPORT_AND_ROTATION
    /// state, you'll also be deleting the key materials for the replica
    /// Region keys" (API reference, DeleteImportedKeyMaterial).
    pub(crate) fn withdraw_pending_material(
        &mut self,
        id: KeyId,
        material: super::model::KeyMaterialId,
    ) {
        if self.multi_region_key_type(id) != Some(MultiRegionKeyType::Primary) {
            return;
        }
        for region in self.replica_regions(id) {
            if let Some(key) = self.keys_in_mut(&region).get_mut(&id) {
                key.materials
                    .retain(|m| m.id() != material || !m.state().is_pending());
            }
        }
    }

    /// Whether key `id` of the active region is a primary key scheduled for
    /// deletion that waits for its replicas: `PendingReplicaDeletion`.
    pub fn is_pending_replica_deletion(&self, id: KeyId) -> bool {
        self.key(id)
            .and_then(|k| k.deletion())
            .is_some_and(|d| d.deletion_date == super::engine::AWAITING_REPLICAS)
    }

    /// The `KeyState` AWS shows for key `id` of the active region: the
    /// key's own, or `PendingReplicaDeletion` for a primary key scheduled
    /// for deletion that still has replicas (byok applies the rules of
    /// `PendingDeletion` to it otherwise).
    pub fn key_state_name(&self, id: KeyId) -> &'static str {
        if self.is_pending_replica_deletion(id) {
            return "PendingReplicaDeletion";
        }
        self.key(id).map_or("", |k| k.state().as_str())
    }

    /// A multi-Region key was erased from the active region: a primary
    /// without replicas is forgotten; when the last replica of a primary
    /// pending replica deletion goes, the primary's waiting period begins.
    pub(crate) fn forget_deleted_multi_region_key(
        &mut self,
        at: super::clock::Timestamp,
        id: KeyId,
    ) {
        let Some(primary) = self.primary_region(id).map(str::to_string) else {
            return;
        };
        if primary == self.region() {
            if self.replica_regions(id).is_empty() {
                self.state.primary_regions.remove(&id);
            }
            return;
        }
        if self.replica_regions(id).is_empty()
            && let Some(key) = self.keys_in_mut(&primary).get_mut(&id)
            && let Some(d) = key.deletion.as_mut()
            && d.deletion_date == super::engine::AWAITING_REPLICAS
        {
            d.deletion_date = at.plus(super::clock::days(u64::from(d.pending_window_days)));
        }
        {
            // A replica fewer: its primary may have all it waited for.
            self.refresh_multi_region_pending(id);
        }
    }
}

/// The record a replica starts with for a material of its primary key:
/// without bytes for imported material (the same material must be imported
/// into it), with them for material KMS generated (`AWS_KMS` keys share it).
fn replica_material(origin: Origin, m: &KeyMaterial) -> KeyMaterial {
    let mut copy = m.clone();
    if origin == Origin::External {
        copy.bytes = None;
        copy.import_state = ImportState::PendingImport;
        copy.expiration_model = ExpirationModel::KeyMaterialDoesNotExpire;
        copy.valid_to = None;
        copy.description = None;
    }
    if copy.state.is_pending() {
        copy.state = KeyMaterialState::PendingRotation;
    }
    copy
}
