//! The engine state as store formats 1 and 2 wrote it, read once and
//! turned into the current [`KmsState`]. postcard is not self-describing:
//! a struct is its fields one after the other, so a key written before
//! key specs existed is read with the shape it was written in. Formats 1
//! and 2 hold symmetric encryption keys only (`SYMMETRIC_DEFAULT`,
//! `ENCRYPT_DECRYPT`, 32-byte materials); their materials are written as
//! length-prefixed bytes, which the variable-length material of format 3
//! reads unchanged.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::clock::Timestamp;
use super::engine::{Alias, ImportParameters, KmsState, Settings};
use super::model::{
    AutomaticRotation, Key, KeyId, KeyMaterial, KeyMaterialId, KeySpec, KeyUsage, Origin,
    ScheduledDeletion, Tag,
};
use super::secret::SecretArray;

/// A key as formats 1 and 2 wrote it: [`Key`] without `key_spec` and
/// `key_usage`.
#[derive(Deserialize)]
struct KeyV2 {
    id: KeyId,
    creation_date: Timestamp,
    description: String,
    origin: Origin,
    enabled: bool,
    tags: Vec<Tag>,
    materials: Vec<KeyMaterial>,
    current_key_material_id: Option<KeyMaterialId>,
    on_demand_rotations: u32,
    rotation_started: Option<Timestamp>,
    deletion: Option<ScheduledDeletion>,
    automatic_rotation: Option<AutomaticRotation>,
}

impl From<KeyV2> for Key {
    fn from(k: KeyV2) -> Key {
        Key {
            id: k.id,
            creation_date: k.creation_date,
            description: k.description,
            origin: k.origin,
            key_spec: KeySpec::SymmetricDefault,
            key_usage: KeyUsage::EncryptDecrypt,
            enabled: k.enabled,
            tags: k.tags,
            materials: k.materials,
            current_key_material_id: k.current_key_material_id,
            on_demand_rotations: k.on_demand_rotations,
            rotation_started: k.rotation_started,
            deletion: k.deletion,
            automatic_rotation: k.automatic_rotation,
        }
    }
}

/// The engine state of store formats 1 and 2.
#[derive(Deserialize)]
pub struct KmsStateV2 {
    settings: Settings,
    keys: BTreeMap<KeyId, KeyV2>,
    aliases: BTreeMap<String, Alias>,
    import_parameters: BTreeMap<[u8; 16], ImportParameters>,
    token_secret: SecretArray<32>,
}

impl From<KmsStateV2> for KmsState {
    fn from(s: KmsStateV2) -> KmsState {
        KmsState {
            settings: s.settings,
            keys: s.keys.into_iter().map(|(id, k)| (id, k.into())).collect(),
            aliases: s.aliases,
            import_parameters: s.import_parameters,
            token_secret: s.token_secret,
            regions: BTreeMap::new(),
            primary_regions: BTreeMap::new(),
        }
    }
}

/// The engine state of store formats 3 and 4: one region, no multi-Region
/// keys (format 5 appends the other regions and the primary regions).
#[derive(Deserialize)]
pub struct KmsStateV4 {
    settings: Settings,
    keys: BTreeMap<KeyId, Key>,
    aliases: BTreeMap<String, Alias>,
    import_parameters: BTreeMap<[u8; 16], ImportParameters>,
    token_secret: SecretArray<32>,
}

impl From<KmsStateV4> for KmsState {
    fn from(s: KmsStateV4) -> KmsState {
        KmsState {
            settings: s.settings,
            keys: s.keys,
            aliases: s.aliases,
            import_parameters: s.import_parameters,
            token_secret: s.token_secret,
            regions: BTreeMap::new(),
            primary_regions: BTreeMap::new(),
        }
    }
}
