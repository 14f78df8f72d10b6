//! The view model: an immutable picture of the store that the worker builds
//! after every change and hands to the UI thread. It holds identifiers,
//! states and display strings, never key material, so the UI never touches
//! the vault (or its mutex) and never holds a secret it did not ask for.

use std::collections::HashMap;
use std::path::PathBuf;

use crate::kms::{
    AutomaticRotation, ExpirationModel, ImportState, KeyId, KeyMaterialId, KeyMaterialState,
    KeyState, KmsError, Origin, RotationType, ScheduledDeletion, Settings, Tag, Timestamp,
};
use crate::store::{StoreSettings, Vault};

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
    /// When it first entered the key.
    pub first_imported: Timestamp,
    /// When its bytes were last imported.
    pub last_imported: Timestamp,
}

/// One key, as the console shows it.
#[derive(Clone, Debug)]
pub struct KeyView {
    /// `KeyId`.
    pub id: KeyId,
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
    /// `Origin`.
    pub origin: Origin,
    /// `KeyState`.
    pub state: KeyState,
    /// The operator's enabled flag.
    pub enabled_flag: bool,
    /// `CreationDate`.
    pub creation_date: Timestamp,
    /// Tags.
    pub tags: Vec<Tag>,
    /// Materials in the engine's order.
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
    /// A scheduled deletion.
    pub deletion: Option<ScheduledDeletion>,
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
    /// What RotateKeyOnDemand would answer now (the engine's own check).
    pub rotate_check: Result<(), KmsError>,
    /// What EnableKey/DisableKey would answer now (the engine's own check).
    pub enable_check: Result<(), KmsError>,
    /// Lowercase text the filter box searches.
    pub search: String,
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
}

impl MaterialView {
    /// Permanently associated to its key, and its bytes are gone (deleted
    /// or expired): the key is unusable until it is re-imported.
    pub fn is_missing(&self) -> bool {
        self.state != KeyMaterialState::PendingRotation
            && self.import_state == ImportState::PendingImport
    }
}

/// The whole store, as of one instant.
#[derive(Clone, Debug)]
pub struct StoreView {
    /// Grows with every view the worker publishes.
    pub revision: u64,
    /// The engine's generation this view shows.
    pub generation: u64,
    /// The state file.
    pub path: PathBuf,
    /// Whether this is a throwaway training store.
    pub is_demo: bool,
    /// Engine settings.
    pub settings: Settings,
    /// Store settings.
    pub store_settings: StoreSettings,
    /// Keys in id order.
    pub keys: Vec<KeyView>,
    /// Position of each key in `keys`.
    pub index: HashMap<KeyId, usize>,
    /// Sum of the keys' monthly cost estimates.
    pub total_cost: u32,
    /// Keys with a rotation in progress.
    pub rotating: Vec<KeyId>,
    /// The audit chain's last sequence number (grows with every record).
    pub audit_sequence: u64,
    /// Whether everything is on disk.
    pub save: SaveStatus,
    /// When the engine's next time-driven event falls due.
    pub next_event: Option<Timestamp>,
}

impl StoreView {
    /// The key with `id`.
    pub fn key(&self, id: KeyId) -> Option<&KeyView> {
        self.index.get(&id).and_then(|&i| self.keys.get(i))
    }

    /// Builds the view of `vault` (on the worker thread).
    pub fn build(vault: &mut Vault, revision: u64, is_demo: bool, save: SaveStatus) -> StoreView {
        let next_event = vault.next_event_time();
        let kms = vault.kms();
        let now = kms.now();
        let mut aliases: HashMap<KeyId, Vec<String>> = HashMap::new();
        for a in kms.aliases() {
            aliases.entry(a.target).or_default().push(a.name.clone());
        }
        let mut keys = Vec::with_capacity(kms.keys().len());
        let mut index = HashMap::with_capacity(kms.keys().len());
        let mut rotating = Vec::new();
        let mut total_cost = 0;
        for key in kms.keys() {
            let id = key.id();
            let materials: Vec<MaterialView> = key
                .materials()
                .iter()
                .map(|m| MaterialView {
                    id: m.id(),
                    short: m.id().short(),
                    description: m.description().map(str::to_owned),
                    import_state: m.import_state(),
                    state: m.state(),
                    expiration_model: m.expiration_model(),
                    valid_to: m.valid_to(),
                    rotation_date: m.rotation_date(),
                    rotation_type: m.rotation_type(),
                    first_imported: m.first_imported(),
                    last_imported: m.last_imported(),
                })
                .collect();
            let key_aliases = aliases.remove(&id).unwrap_or_default();
            let short_id = id.short();
            let label = key_aliases
                .first()
                .cloned()
                .or_else(|| (!key.description().is_empty()).then(|| key.description().to_string()))
                .unwrap_or_else(|| format!("Key {short_id}"));
            let mut search = format!("{id} {} {}", key.description(), key.origin()).to_lowercase();
            for a in &key_aliases {
                search.push(' ');
                search.push_str(&a.to_lowercase());
            }
            for m in &materials {
                search.push(' ');
                search.push_str(&m.short);
            }
            if key.rotation_started().is_some() {
                rotating.push(id);
            }
            total_cost += key.monthly_cost_usd();
            let current = key.current_key_material_id();
            index.insert(id, keys.len());
            keys.push(KeyView {
                id,
                arn: kms.arn(id),
                short_id,
                description: key.description().to_string(),
                aliases: key_aliases,
                label,
                origin: key.origin(),
                state: key.state(),
                enabled_flag: key.enabled_flag(),
                creation_date: key.creation_date(),
                tags: key.tags().to_vec(),
                current,
                current_short: current.map(|c| c.short()).unwrap_or_default(),
                on_demand_rotations: key.on_demand_rotations(),
                completed_rotations: key.completed_rotations(),
                rotation_started: key.rotation_started(),
                deletion: key.deletion(),
                automatic_rotation: key.automatic_rotation(),
                next_expiry: key.next_expiry(),
                lapsed_expiry: materials
                    .iter()
                    .filter(|m| m.is_missing())
                    .filter_map(|m| m.valid_to.filter(|v| *v <= now))
                    .max(),
                valid_to: key.valid_to(),
                expiration_model: key.expiration_model(),
                monthly_cost: key.monthly_cost_usd(),
                rotate_check: kms.check_rotate_on_demand(id),
                enable_check: kms.check_set_enabled(id),
                search,
                materials,
            });
        }
        StoreView {
            revision,
            generation: kms.generation(),
            path: vault.path().to_path_buf(),
            is_demo,
            settings: kms.settings().clone(),
            store_settings: vault.store_settings().clone(),
            keys,
            index,
            total_cost,
            rotating,
            audit_sequence: kms.chain_head().sequence,
            save,
            next_event,
        }
    }
}
