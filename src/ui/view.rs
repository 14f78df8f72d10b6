//! The view model: an immutable picture of the store that the worker builds
//! after every change and hands to the UI thread. It is built from the
//! backend's [`KeyRecord`]s — the AWS API's own shapes — the same way for a
//! local store and for an AWS account, so no screen knows which one it
//! shows. It holds identifiers, states and display strings, never key
//! material, so the UI never touches the vault (or its mutex) and never
//! holds a secret it did not ask for.

use std::collections::HashMap;
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use super::worker::UiError;
use crate::backend::catalog::KeyRecord;
use crate::backend::{BackendInfo, BackendKind};
use crate::kms::rules::{self, Verdicts};
use crate::kms::{
    AutomaticRotation, ExpirationModel, ImportState, KeyMaterialId, KeyMaterialState, KeySpec,
    KeyState, KeyUsage, KmsError, Origin, RotationType, Settings, Tag, Timestamp,
};
use crate::store::StoreSettings;
use crate::workspace::ImportInFlight;

/// A key's identity in the console: its ARN (unique across the regions and
/// accounts of a store; multi-Region replicas share a key id, not an ARN).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyRef(Arc<str>);

impl KeyRef {
    /// The key with ARN `arn`.
    pub fn new(arn: &str) -> Self {
        KeyRef(Arc::from(arn))
    }

    /// The ARN (every operation accepts it as `KeyId`).
    pub fn arn(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for KeyRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for KeyRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyRef({})", self.0)
    }
}

/// Whether the last change reached the disk.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SaveStatus {
    /// Everything acknowledged is on disk.
    Saved,
    /// The last change could not be saved (the message says why).
    Failed(String),
}

/// One key material, as the console shows it.
#[derive(Clone, Debug)]
pub struct MaterialView {
    /// `KeyMaterialId`.
    pub id: KeyMaterialId,
    /// The first eight hex characters.
    pub short: String,
    /// `KeyMaterialDescription`.
    pub description: Option<String>,
    /// `ImportState`.
    pub import_state: ImportState,
    /// `KeyMaterialState`.
    pub state: KeyMaterialState,
    /// `ExpirationModel`.
    pub expiration_model: ExpirationModel,
    /// `ValidTo`.
    pub valid_to: Option<Timestamp>,
    /// `RotationDate`.
    pub rotation_date: Option<Timestamp>,
    /// `RotationType`.
    pub rotation_type: Option<RotationType>,
    /// When it first entered the key, when the backend knows.
    pub first_imported: Option<Timestamp>,
    /// What DeleteImportedKeyMaterial of this material would answer now.
    pub delete_check: Result<(), KmsError>,
}

/// A multi-Region key's set, from DescribeKey's `MultiRegionConfiguration`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MultiRegionSet {
    /// Whether this key is the set's primary (`MultiRegionKeyType` PRIMARY).
    pub is_primary: bool,
    /// The primary key: Region and ARN.
    pub primary: Option<(String, KeyRef)>,
    /// The replica keys: Region and ARN, in AWS's order.
    pub replicas: Vec<(String, KeyRef)>,
}

impl MultiRegionSet {
    fn of(c: &crate::api::shapes::MultiRegionConfiguration) -> Self {
        let pair = |k: &crate::api::shapes::MultiRegionKey| (k.region.clone(), KeyRef::new(&k.arn));
        MultiRegionSet {
            is_primary: c.multi_region_key_type != "REPLICA",
            primary: c.primary_key.as_ref().map(pair),
            replicas: c.replica_keys.iter().map(pair).collect(),
        }
    }

    /// Every Region of the set, the primary's first.
    pub fn regions(&self) -> Vec<&str> {
        self.primary
            .iter()
            .chain(&self.replicas)
            .map(|(r, _)| r.as_str())
            .collect()
    }
}

/// How much the console knows of a key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Knowledge {
    /// Only its ARN (a ListKeys entry): not described yet.
    Listed,
    /// Described (metadata and materials).
    Described,
    /// Described with its rotation status and tags (the key on screen).
    Detailed,
}

/// One key, as the console shows it.
#[derive(Clone, Debug)]
pub struct KeyView {
    /// The key's identity (its ARN).
    pub id: KeyRef,
    /// The bare key id.
    pub key_id: String,
    /// The key ARN.
    pub arn: String,
    /// The first eight characters of the id.
    pub short_id: String,
    /// `Description`.
    pub description: String,
    /// Alias names (`alias/...`).
    pub aliases: Vec<String>,
    /// What the list shows: the first alias, else the description, else the short id.
    pub label: String,
    /// `Origin`, when it is one byok manages.
    pub origin: Option<Origin>,
    /// `Origin` as AWS spells it.
    pub origin_text: String,
    /// `KeySpec`, when it is one the engine models.
    pub key_spec: Option<KeySpec>,
    /// `KeySpec` as AWS spells it (empty until described).
    pub key_spec_text: String,
    /// `KeyUsage`, when it is one the engine models.
    pub key_usage: Option<KeyUsage>,
    /// `KeyUsage` as AWS spells it (empty until described).
    pub key_usage_text: String,
    /// `MacAlgorithms` (HMAC keys), as AWS spells them.
    pub mac_algorithms: Vec<String>,
    /// `SigningAlgorithms` (SIGN_VERIFY keys), as AWS spells them.
    pub signing_algorithms: Vec<String>,
    /// `EncryptionAlgorithms`, as AWS spells them (`SYMMETRIC_DEFAULT`, or
    /// the RSAES_OAEP algorithms of an RSA encryption key).
    pub encryption_algorithms: Vec<String>,
    /// `KeyAgreementAlgorithms` (KEY_AGREEMENT keys).
    pub key_agreement_algorithms: Vec<String>,
    /// A multi-Region key's place in its set, in words from its
    /// `MultiRegionConfiguration` ("Multi-Region primary · replicas in
    /// eu-west-1"); `None` for a single-Region key.
    pub multi_region: Option<String>,
    /// A multi-Region key's set: its primary and replicas, each with its
    /// Region and ARN (`None` for a single-Region key).
    pub multi_region_set: Option<MultiRegionSet>,
    /// The key's Region (from its ARN).
    pub region: String,
    /// Whether the manual rotation flow is offered instead of Rotate now:
    /// the engine refuses on-demand rotation for this kind of key
    /// (`UnsupportedOperationException`), and the key can still be
    /// replaced (it is not pending deletion). The error says why not.
    pub manual_rotation: Result<(), KmsError>,
    /// `KeyState` (for keys byok does not manage, the nearest; see
    /// `state_text`).
    pub state: KeyState,
    /// `KeyState` as AWS spells it.
    pub state_text: String,
    /// The operator's enabled flag, where it is known.
    pub enabled_flag: bool,
    /// `CreationDate`.
    pub creation_date: Timestamp,
    /// Tags (empty until listed).
    pub tags: Vec<Tag>,
    /// Materials in ListKeyRotations's order.
    pub materials: Vec<MaterialView>,
    /// `CurrentKeyMaterialId`.
    pub current: Option<KeyMaterialId>,
    /// Its short form, or an empty string.
    pub current_short: String,
    /// On-demand rotations used (of 25).
    pub on_demand_rotations: u32,
    /// Completed rotations of any kind.
    pub completed_rotations: usize,
    /// `OnDemandRotationStartDate`, while a rotation is in progress.
    pub rotation_started: Option<Timestamp>,
    /// `DeletionDate`, when pending deletion.
    pub deletion_date: Option<Timestamp>,
    /// Automatic rotation (`AWS_KMS` keys).
    pub automatic_rotation: Option<AutomaticRotation>,
    /// The earliest `ValidTo` of any imported material.
    pub next_expiry: Option<Timestamp>,
    /// The latest `ValidTo` that has passed on a material still missing
    /// (expired and not re-imported): the key is unusable since then.
    pub lapsed_expiry: Option<Timestamp>,
    /// Key-level `ValidTo`.
    pub valid_to: Option<Timestamp>,
    /// Key-level `ExpirationModel`.
    pub expiration_model: Option<ExpirationModel>,
    /// Estimated monthly cost in USD.
    pub monthly_cost: u32,
    /// What each operation would answer now (the engine's rules).
    pub verdicts: Verdicts,
    /// Why byok shows the key but will not change it.
    pub readonly: Option<String>,
    /// How much is known of it.
    pub knowledge: Knowledge,
    /// When it was fetched from the backend (`None`: live).
    pub fetched: Option<Timestamp>,
    /// Why describing it failed, if it did.
    pub error: Option<UiError>,
    /// Lowercase text the filter box searches.
    pub search: String,
    /// The label in lowercase, for sorting (made once, off the UI thread).
    pub sort_name: String,
}

impl KeyView {
    /// The material with `id`.
    pub fn material(&self, id: KeyMaterialId) -> Option<&MaterialView> {
        self.materials.iter().find(|m| m.id == id)
    }

    /// The pending-rotation material.
    pub fn pending_material(&self) -> Option<&MaterialView> {
        self.materials
            .iter()
            .find(|m| m.state == KeyMaterialState::PendingRotation)
    }

    /// Permanently associated materials whose bytes are missing.
    pub fn missing_materials(&self) -> impl Iterator<Item = &MaterialView> {
        self.materials.iter().filter(|m| m.is_missing())
    }

    /// Whether the key takes imported material.
    pub fn is_external(&self) -> bool {
        self.origin == Some(Origin::External)
    }

    /// The key as the history rule reads it.
    pub fn present(&self) -> crate::kms::history::PresentKey {
        crate::kms::history::PresentKey {
            key_id: self.key_id.clone(),
            created: self.creation_date,
            state: self.state,
            materials: self
                .materials
                .iter()
                .map(|m| crate::kms::history::PresentMaterial {
                    id: m.id,
                    description: m.description.clone(),
                    import_state: m.import_state,
                    state: m.state,
                    valid_to: m.valid_to,
                    rotation_date: m.rotation_date,
                    first_imported: m.first_imported,
                })
                .collect(),
            rotation_started: self.rotation_started,
        }
    }

    /// The view of `record` at `now`.
    pub fn from_record(record: &KeyRecord, now: Timestamp) -> KeyView {
        let short_id: String = record.key_id.chars().take(8).collect();
        let readonly = record.unmanageable();
        let facts = record.facts();
        let no_facts = || match &readonly {
            Some(reason) => KmsError::new(crate::kms::ErrorKind::UnsupportedOperation, reason),
            None => KmsError::new(
                crate::kms::ErrorKind::KmsInvalidState,
                "The key has not been described yet.",
            ),
        };
        let verdicts = match &facts {
            Some(f) => Verdicts::of(f),
            None => {
                let e = Err(no_facts());
                Verdicts {
                    rotate: e.clone(),
                    set_enabled: e.clone(),
                    get_parameters: e.clone(),
                    import_new: e.clone(),
                    reimport: e.clone(),
                    schedule_deletion: e.clone(),
                    cancel_deletion: e.clone(),
                    replicate: e.clone(),
                    update_primary_region: e,
                }
            }
        };
        let local = record.local.as_ref();
        let materials: Vec<MaterialView> = record
            .materials
            .iter()
            .flatten()
            .filter_map(|e| {
                let id = KeyMaterialId::parse(&e.key_material_id)?;
                let time = |t: Option<crate::api::wire::Time>| t.map(|t| t.0);
                Some(MaterialView {
                    id,
                    short: id.short(),
                    description: e.key_material_description.clone(),
                    import_state: e
                        .import_state
                        .as_deref()
                        .and_then(|s| ImportState::parse_member("importState", s).ok())
                        .unwrap_or(ImportState::Imported),
                    state: KeyMaterialState::parse_member(
                        "keyMaterialState",
                        &e.key_material_state,
                    )
                    .ok()?,
                    expiration_model: e
                        .expiration_model
                        .as_deref()
                        .and_then(|s| ExpirationModel::parse_member("expirationModel", s).ok())
                        .unwrap_or(ExpirationModel::KeyMaterialDoesNotExpire),
                    valid_to: time(e.valid_to),
                    rotation_date: time(e.rotation_date),
                    rotation_type: e
                        .rotation_type
                        .as_deref()
                        .and_then(|s| RotationType::parse_member("rotationType", s).ok()),
                    first_imported: local
                        .and_then(|l| l.first_imported.get(&e.key_material_id).copied()),
                    delete_check: match &facts {
                        Some(f) => rules::delete_imported_key_material(f, Some(&e.key_material_id)),
                        None => Err(no_facts()),
                    },
                })
            })
            .collect();
        let meta = record.metadata.as_ref();
        let description = meta.map(|m| m.description.clone()).unwrap_or_default();
        let label = record
            .aliases
            .first()
            .cloned()
            .or_else(|| (!description.is_empty()).then(|| description.clone()))
            .unwrap_or_else(|| format!("Key {short_id}"));
        let state_text = meta.map(|m| m.key_state.clone()).unwrap_or_default();
        let state = KeyState::parse_member("keyState", &state_text).unwrap_or(KeyState::Disabled);
        let origin_text = meta.map(|m| m.origin.clone()).unwrap_or_default();
        let origin = Origin::parse_member("origin", &origin_text).ok();
        let key_spec_text = meta.map(|m| m.key_spec.clone()).unwrap_or_default();
        let key_usage_text = meta.map(|m| m.key_usage.clone()).unwrap_or_default();
        let has_material = meta.is_some_and(|m| m.current_key_material_id.is_some());
        let manual_rotation =
            manual_rotation(&verdicts.rotate, state, meta.is_some(), has_material);
        let mut search = format!(
            "{} {description} {origin_text} {key_spec_text} {key_usage_text} {}",
            record.key_id,
            crate::backend::kms_arn_region(&record.arn).unwrap_or_default()
        )
        .to_lowercase();
        for a in &record.aliases {
            search.push(' ');
            search.push_str(&a.to_lowercase());
        }
        for m in &materials {
            search.push(' ');
            search.push_str(&m.short);
        }
        let status = record.rotation_status.as_ref();
        let completed_rotations = materials
            .iter()
            .filter(|m| m.rotation_date.is_some())
            .count();
        let current = meta
            .and_then(|m| m.current_key_material_id.as_deref())
            .and_then(KeyMaterialId::parse);
        let knowledge = match (meta, status, &record.tags) {
            (None, _, _) => Knowledge::Listed,
            (Some(_), Some(_), Some(_)) => Knowledge::Detailed,
            _ => Knowledge::Described,
        };
        KeyView {
            id: KeyRef::new(&record.arn),
            key_id: record.key_id.clone(),
            arn: record.arn.clone(),
            short_id,
            description,
            aliases: record.aliases.clone(),
            origin,
            origin_text,
            key_spec: key_spec_text.parse().ok(),
            key_usage: key_usage_text.parse().ok(),
            key_spec_text,
            key_usage_text,
            mac_algorithms: meta
                .and_then(|m| m.mac_algorithms.clone())
                .unwrap_or_default(),
            signing_algorithms: meta
                .and_then(|m| m.signing_algorithms.clone())
                .unwrap_or_default(),
            encryption_algorithms: meta
                .and_then(|m| m.encryption_algorithms.clone())
                .unwrap_or_default(),
            key_agreement_algorithms: meta
                .and_then(|m| m.key_agreement_algorithms.clone())
                .unwrap_or_default(),
            multi_region: meta
                .and_then(|m| m.multi_region_configuration.as_ref())
                .map(multi_region_words),
            multi_region_set: meta
                .and_then(|m| m.multi_region_configuration.as_ref())
                .map(MultiRegionSet::of),
            region: crate::backend::kms_arn_region(&record.arn).unwrap_or_default(),
            manual_rotation,
            state,
            enabled_flag: local.map_or(state == KeyState::Enabled, |l| l.enabled_flag),
            state_text,
            creation_date: meta.map_or(Timestamp::from_millis(0), |m| m.creation_date.0),
            tags: record
                .tags
                .iter()
                .flatten()
                .filter_map(|t| {
                    Some(Tag {
                        key: t.tag_key.clone()?,
                        value: t.tag_value.clone().unwrap_or_default(),
                    })
                })
                .collect(),
            current,
            current_short: current.map(|c| c.short()).unwrap_or_default(),
            on_demand_rotations: record.on_demand_rotations(),
            completed_rotations,
            rotation_started: status.and_then(|s| s.on_demand_rotation_start_date.map(|t| t.0)),
            deletion_date: meta.and_then(|m| m.deletion_date.map(|t| t.0)),
            automatic_rotation: status.filter(|s| s.key_rotation_enabled).and_then(|s| {
                Some(AutomaticRotation {
                    period_days: s.rotation_period_in_days?,
                    next_rotation_date: s.next_rotation_date?.0,
                })
            }),
            next_expiry: materials
                .iter()
                .filter(|m| m.import_state == ImportState::Imported)
                .filter_map(|m| m.valid_to)
                .min(),
            lapsed_expiry: materials
                .iter()
                .filter(|m| m.is_missing())
                .filter_map(|m| m.valid_to.filter(|v| *v <= now))
                .max(),
            valid_to: meta.and_then(|m| m.valid_to.map(|t| t.0)),
            expiration_model: meta
                .and_then(|m| m.expiration_model.as_deref())
                .and_then(|s| ExpirationModel::parse_member("expirationModel", s).ok()),
            monthly_cost: rules::monthly_cost_usd(completed_rotations),
            verdicts,
            readonly,
            knowledge,
            fetched: record.fetched,
            error: record.error.as_ref().map(UiError::from),
            search,
            sort_name: label.to_lowercase(),
            label,
            materials,
        }
    }
}

/// Whether the manual rotation flow is offered (see
/// [`KeyView::manual_rotation`]): it reads the engine's verdict on
/// RotateKeyOnDemand, so a key kind the engine cannot rotate on demand gets
/// the flow without the console knowing which kinds those are.
fn manual_rotation(
    rotate: &Result<(), KmsError>,
    state: KeyState,
    described: bool,
    has_material: bool,
) -> Result<(), KmsError> {
    match rotate {
        Err(e) if described && e.kind() == crate::kms::ErrorKind::UnsupportedOperation => {
            if state == KeyState::PendingDeletion {
                Err(KmsError::new(
                    crate::kms::ErrorKind::KmsInvalidState,
                    "The key is pending deletion: cancel the deletion first, or create the new key yourself.",
                ))
            } else if !has_material {
                Err(KmsError::new(
                    crate::kms::ErrorKind::KmsInvalidState,
                    "The key has no key material yet: import its first material; there is nothing to rotate.",
                ))
            } else {
                Ok(())
            }
        }
        _ => Err(KmsError::new(
            crate::kms::ErrorKind::UnsupportedOperation,
            "This key rotates on demand: use Rotate now.",
        )),
    }
}

/// A multi-Region key's place in its set, from its
/// `MultiRegionConfiguration`.
fn multi_region_words(c: &crate::api::shapes::MultiRegionConfiguration) -> String {
    let replicas: Vec<&str> = c.replica_keys.iter().map(|r| r.region.as_str()).collect();
    match c.multi_region_key_type.as_str() {
        "REPLICA" => format!(
            "Multi-Region replica · primary in {}",
            c.primary_key.as_ref().map_or("?", |p| p.region.as_str())
        ),
        _ if replicas.is_empty() => "Multi-Region primary · no replicas yet".into(),
        _ => format!("Multi-Region primary · replicas in {}", replicas.join(", ")),
    }
}

impl KeyView {
    /// The compact spec line the list and the detail show:
    /// `HMAC_256 · GENERATE_VERIFY_MAC` (empty until described).
    pub fn spec_line(&self) -> String {
        match (
            self.key_spec_text.is_empty(),
            self.key_usage_text.is_empty(),
        ) {
            (true, _) => String::new(),
            (false, true) => self.key_spec_text.clone(),
            (false, false) => format!("{} · {}", self.key_spec_text, self.key_usage_text),
        }
    }

    /// Whether the engine (or AWS) rotates this kind of key on demand at
    /// all: HMAC and asymmetric keys are refused with
    /// UnsupportedOperationException and rotate manually; their count of
    /// the 25 on-demand rotations means nothing.
    pub fn rotates_on_demand(&self) -> bool {
        !matches!(&self.verdicts.rotate,
            Err(e) if e.kind() == crate::kms::ErrorKind::UnsupportedOperation)
    }

    /// Whether the key makes and checks MACs (GenerateMac, VerifyMac)
    /// rather than encrypting.
    pub fn is_mac_key(&self) -> bool {
        self.key_usage == Some(KeyUsage::GenerateVerifyMac)
    }

    /// Whether the key signs and verifies (SIGN_VERIFY).
    pub fn is_signing_key(&self) -> bool {
        self.key_usage == Some(KeyUsage::SignVerify)
    }

    /// Whether the key derives shared secrets (KEY_AGREEMENT).
    pub fn is_key_agreement_key(&self) -> bool {
        self.key_usage == Some(KeyUsage::KeyAgreement)
    }

    /// Whether the key is an asymmetric (RSA or elliptic-curve) key: it has
    /// a public key (GetPublicKey).
    pub fn is_asymmetric(&self) -> bool {
        self.key_spec.is_some_and(|s| s.is_asymmetric())
    }

    /// Whether the key encrypts with RSAES_OAEP (an RSA ENCRYPT_DECRYPT
    /// key): Encrypt and Decrypt name the algorithm, and Decrypt the key.
    pub fn is_asymmetric_encryption(&self) -> bool {
        self.is_asymmetric() && self.key_usage == Some(KeyUsage::EncryptDecrypt)
    }
}

impl MaterialView {
    /// Permanently associated to its key, and its bytes are gone (deleted
    /// or expired): the key is unusable until it is re-imported.
    pub fn is_missing(&self) -> bool {
        self.state != KeyMaterialState::PendingRotation
            && self.import_state == ImportState::PendingImport
    }
}

/// What only a local store has: its settings and the training flag.
#[derive(Clone, Debug)]
pub struct LocalStoreView {
    /// Whether this is a throwaway training store.
    pub is_demo: bool,
    /// Engine settings.
    pub settings: Settings,
    /// The engine's next time-driven event, and when it falls due.
    pub next_event: Option<(Timestamp, crate::kms::TimeEvent)>,
}

/// The whole store, as of one instant.
#[derive(Clone, Debug)]
pub struct StoreView {
    /// Grows with every view the worker publishes.
    pub revision: u64,
    /// The state file.
    pub path: PathBuf,
    /// What the backend is (local or AWS, account, region).
    pub backend: BackendInfo,
    /// Set for a local store.
    pub local: Option<LocalStoreView>,
    /// Whether this is a throwaway training store.
    pub is_demo: bool,
    /// Store settings.
    pub store_settings: StoreSettings,
    /// Keys in the backend's order.
    pub keys: Vec<KeyView>,
    /// Position of each key in `keys`.
    pub index: HashMap<KeyRef, usize>,
    /// Whether every key of the backend is listed (an AWS account is listed
    /// a page at a time).
    pub complete: bool,
    /// Sum of the keys' monthly cost estimates.
    pub total_cost: u32,
    /// Keys with a rotation in progress.
    pub rotating: Vec<KeyRef>,
    /// The audit chain's last sequence number (grows with every record).
    pub audit_sequence: u64,
    /// Whether everything is on disk.
    pub save: SaveStatus,
    /// A note for the status bar (throttling, a refresh that failed).
    pub notice: Option<String>,
    /// API calls the background refresh of an AWS store made so far.
    pub refresh_calls: u64,
    /// Import parameters kept in the store (to resume a ceremony).
    pub imports_in_flight: Vec<ImportInFlight>,
    /// The key manager: policies, what is due, approvals, escrow.
    pub manager: Arc<ManagerView>,
}

impl StoreView {
    /// Whether the store holds the escrow copy of material `id` of `key`.
    pub fn escrowed(&self, key: &KeyRef, id: KeyMaterialId) -> bool {
        self.manager
            .escrowed
            .contains(&(key.arn().to_string(), id.to_string()))
    }

    /// The key `id`.
    pub fn key(&self, id: &KeyRef) -> Option<&KeyView> {
        self.index.get(id).and_then(|&i| self.keys.get(i))
    }

    /// Whether the store is an AWS account.
    pub fn is_aws(&self) -> bool {
        self.backend.kind == BackendKind::Aws
    }

    /// Import parameters of key `id` kept from an earlier step of the
    /// ceremony, if still valid.
    pub fn import_in_flight(&self, id: &KeyRef) -> Option<&ImportInFlight> {
        self.imports_in_flight
            .iter()
            .find(|i| i.key_arn == id.arn())
    }

    /// Engine settings of a local store.
    pub fn settings(&self) -> Option<&Settings> {
        self.local.as_ref().map(|l| &l.settings)
    }

    /// Builds the view of `records` (on the worker thread).
    pub fn build(parts: ViewParts, records: &[KeyRecord], now: Timestamp) -> StoreView {
        let mut keys = Vec::with_capacity(records.len());
        let mut index = HashMap::with_capacity(records.len());
        let mut rotating = Vec::new();
        let mut total_cost = 0;
        for r in records {
            let k = KeyView::from_record(r, now);
            if k.rotation_started.is_some() {
                rotating.push(k.id.clone());
            }
            if k.knowledge > Knowledge::Listed {
                total_cost += k.monthly_cost;
            }
            index.insert(k.id.clone(), keys.len());
            keys.push(k);
        }
        StoreView {
            revision: parts.revision,
            is_demo: parts.local.as_ref().is_some_and(|l| l.is_demo),
            path: parts.path,
            backend: parts.backend,
            local: parts.local,
            store_settings: parts.store_settings,
            keys,
            index,
            complete: parts.complete,
            total_cost,
            rotating,
            audit_sequence: parts.audit_sequence,
            save: parts.save,
            notice: parts.notice,
            refresh_calls: parts.refresh_calls,
            imports_in_flight: parts.imports_in_flight,
            manager: parts.manager,
        }
    }
}

/// Everything but the keys that goes into a view.
pub struct ViewParts {
    /// The revision.
    pub revision: u64,
    /// The state file.
    pub path: PathBuf,
    /// The backend.
    pub backend: BackendInfo,
    /// The local store's part.
    pub local: Option<LocalStoreView>,
    /// Store settings.
    pub store_settings: StoreSettings,
    /// Whether every key is listed.
    pub complete: bool,
    /// The audit chain's last sequence number.
    pub audit_sequence: u64,
    /// Save status.
    pub save: SaveStatus,
    /// A status note.
    pub notice: Option<String>,
    /// API calls of the background refresh.
    pub refresh_calls: u64,
    /// Import parameters kept in the store and still valid.
    pub imports_in_flight: Vec<ImportInFlight>,
    /// The key manager's part.
    pub manager: Arc<ManagerView>,
}

/// One finished (or failed) action of the key manager.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ActionView {
    /// `act-000017`.
    pub id: String,
    /// The key's ARN.
    pub key_arn: String,
    /// What it did, in words.
    pub what: String,
    /// Who asked (`schedule` for a policy's action).
    pub requested_by: String,
    /// Who approved it, under dual control.
    pub approved_by: Option<String>,
    /// Its result in words.
    pub result: String,
    /// Whether it failed (or was refused).
    pub failed: bool,
    /// When it ended.
    pub finished: Option<Timestamp>,
}

/// An action waiting for a second officer (dual control).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApprovalView {
    /// The action.
    pub id: String,
    /// The key's ARN.
    pub key_arn: String,
    /// What will happen.
    pub what: String,
    /// Who asked.
    pub requested_by: String,
    /// When it was asked for.
    pub planned: Timestamp,
}

/// One key's policy, as the console shows it.
#[derive(Clone, Debug)]
pub struct PolicyView {
    /// The policy (no secret in it).
    pub policy: crate::manager::KeyPolicy,
    /// The next thing it will do.
    pub next: Option<crate::manager::DueItem>,
    /// The last action on the key that ended.
    pub last: Option<ActionView>,
}

/// What the runner did last (a scheduled run, Run now, an approval, the
/// kill switch): the console notifies when it changes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RunView {
    /// Grows with every run the worker makes or reports.
    pub number: u64,
    /// When (the key clock).
    pub at: Option<Timestamp>,
    /// What started it (`scheduled run`, `Run now`, ...).
    pub trigger: String,
    /// Actions that ended or failed a step.
    pub outcomes: Vec<crate::manager::Outcome>,
    /// Actions still open.
    pub open: Vec<crate::manager::Outcome>,
    /// Warnings (the rotation budget, ...).
    pub warnings: Vec<String>,
    /// Why the run itself failed.
    pub error: Option<String>,
}

impl RunView {
    /// Whether anything happened worth telling.
    pub fn is_news(&self) -> bool {
        !self.outcomes.is_empty() || !self.warnings.is_empty() || self.error.is_some()
    }
}

/// The key manager, as the console shows it (built by the worker from the
/// manager's state without its secrets: no escrow bytes, no material).
#[derive(Clone, Debug, Default)]
pub struct ManagerView {
    /// Each policy, in the order they were set.
    pub policies: Vec<PolicyView>,
    /// What the policies will do and what is open, soonest first.
    pub due: Vec<crate::manager::DueItem>,
    /// Actions waiting for an approver.
    pub approvals: Vec<ApprovalView>,
    /// Actions that ended, newest first (at most 50).
    pub recent: Vec<ActionView>,
    /// (key ARN, KeyMaterialId) of every material the store holds an
    /// escrow copy of.
    pub escrowed: std::collections::HashSet<(String, String)>,
    /// Registered approvers' names.
    pub approvers: Vec<String>,
    /// Keys the kill switch suspended (ARNs).
    pub suspended: Vec<String>,
    /// The last run.
    pub last_run: RunView,
    /// Why the manager's state could not be read.
    pub error: Option<String>,
}

impl ManagerView {
    /// The policy of `key`.
    pub fn policy(&self, key: &str) -> Option<&PolicyView> {
        self.policies.iter().find(|p| p.policy.key_arn == key)
    }

    /// Whether `key` is suspended by the kill switch.
    pub fn is_suspended(&self, key: &str) -> bool {
        self.suspended.iter().any(|k| k == key)
    }

    /// Items due now.
    pub fn due_now(&self) -> usize {
        self.due
            .iter()
            .filter(|d| d.status == crate::manager::DueStatus::Due)
            .count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kms::ErrorKind;

    /// The manual rotation flow follows the engine's verdict on
    /// RotateKeyOnDemand: offered where it is refused as unsupported for the
    /// kind of key (HMAC keys), once the key has material, and not while it
    /// is pending deletion; never for a key that rotates on demand.
    #[test]
    fn manual_rotation_follows_the_rotation_verdict() {
        let unsupported = Err(KmsError::new(
            ErrorKind::UnsupportedOperation,
            "You cannot perform this operation on a non-symmetric key or a key with non-ENCRYPT_DECRYPT key usage.",
        ));
        assert!(manual_rotation(&unsupported, KeyState::Enabled, true, true).is_ok());
        assert!(manual_rotation(&unsupported, KeyState::Disabled, true, true).is_ok());
        assert!(manual_rotation(&unsupported, KeyState::PendingImport, true, false).is_err());
        assert!(manual_rotation(&unsupported, KeyState::PendingDeletion, true, true).is_err());
        assert!(manual_rotation(&unsupported, KeyState::Enabled, false, true).is_err());
        let no_pending = Err(KmsError::new(
            ErrorKind::KmsInvalidState,
            "No available key material",
        ));
        assert!(manual_rotation(&no_pending, KeyState::Enabled, true, true).is_err());
        assert!(manual_rotation(&Ok(()), KeyState::Enabled, true, true).is_err());
    }
}
