//! What a front end knows of the keys of a backend, in the API's own
//! shapes: a [`KeyRecord`] per key (DescribeKey's metadata, ListKeyRotations
//! with `ALL_KEY_MATERIAL`, GetKeyRotationStatus, aliases, tags). The local
//! store fills records straight from its engine; for any other backend a
//! [`Catalog`] fills them by calling the API — lazily, a page of ListKeys
//! at a time, describing only the keys asked for — and remembers when each
//! was fetched, so a view can say what is stale.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::{Backend, BackendError, send};
use crate::api::op;
use crate::api::shapes::{
    GetKeyRotationStatusOutput, KeyIdInput, KeyMetadata, ListAliasesInput, ListKeyRotationsInput,
    ListKeysInput, ListKeysOutput, ListResourceTagsInput, RotationsListEntryShape, TagShape,
};
use crate::kms::rules::{KeyFacts, MaterialFacts};
use crate::kms::{
    ImportState, KeyMaterialState, KeySpec, KeyState, Origin, RotationType, Timestamp,
};

/// What only the engine of a local store knows about a key (AWS shows it in
/// CloudTrail at best).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LocalFacts {
    /// When each material (by `KeyMaterialId`) entered the key.
    pub first_imported: HashMap<String, Timestamp>,
    /// The operator's enabled flag (the state may still be PendingImport).
    pub enabled_flag: bool,
}

/// One key as a front end knows it.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct KeyRecord {
    /// The key ARN (a key's identity across regions and accounts).
    pub arn: String,
    /// The bare key id.
    pub key_id: String,
    /// DescribeKey's `KeyMetadata`; `None` until described.
    pub metadata: Option<KeyMetadata>,
    /// ListKeyRotations with `ALL_KEY_MATERIAL`; `None` until listed (or
    /// not listable: keys whose material AWS manages elsewhere).
    pub materials: Option<Vec<RotationsListEntryShape>>,
    /// GetKeyRotationStatus; `None` until asked.
    pub rotation_status: Option<GetKeyRotationStatusOutput>,
    /// Alias names pointing at the key.
    pub aliases: Vec<String>,
    /// ListResourceTags; `None` until asked.
    pub tags: Option<Vec<TagShape>>,
    /// When the metadata was fetched (`None`: it is the engine's live state).
    pub fetched: Option<Timestamp>,
    /// Why the last attempt to describe it failed.
    #[serde(skip)]
    pub error: Option<BackendError>,
    /// What only a local engine knows.
    pub local: Option<LocalFacts>,
}

/// Why byok shows a key but will not change it.
pub fn unmanageable_reason(m: &KeyMetadata) -> Option<String> {
    if m.key_manager == "AWS" {
        return Some(
            "An AWS managed key: AWS creates, rotates and manages it; its policy and material cannot be changed."
                .into(),
        );
    }
    if m.custom_key_store_id.is_some() {
        return Some(format!(
            "A key in custom key store {}: its material lives in the key store, not in imported material.",
            m.custom_key_store_id.as_deref().unwrap_or_default()
        ));
    }
    if Origin::parse_member("origin", &m.origin).is_err() {
        return Some(format!(
            "Origin {}: byok manages keys with EXTERNAL or AWS_KMS material.",
            m.origin
        ));
    }
    if KeyState::parse_member("keyState", &m.key_state).is_err() {
        return Some(format!(
            "The key is {}: byok acts on keys that are Enabled, Disabled, PendingImport or PendingDeletion.",
            m.key_state
        ));
    }
    // Every key spec the engine models is managed; the rules of each
    // operation (kms::rules) say what a spec allows.
    if KeySpec::parse_member("keySpec", &m.key_spec).is_err() {
        let known: Vec<&str> = KeySpec::ALL.iter().map(|s| s.as_str()).collect();
        return Some(format!(
            "KeySpec {}: this version of byok manages keys of {}.",
            m.key_spec,
            known.join(", ")
        ));
    }
    None
}

impl KeyRecord {
    /// A key known by its ARN only (a ListKeys entry).
    pub fn listed(arn: String, key_id: String) -> Self {
        KeyRecord {
            arn,
            key_id,
            ..KeyRecord::default()
        }
    }

    /// Why byok will not change this key, if it will not.
    pub fn unmanageable(&self) -> Option<String> {
        self.metadata.as_ref().and_then(unmanageable_reason)
    }

    /// The key's materials as the rules read them.
    pub fn material_facts(&self) -> Vec<MaterialFacts> {
        self.materials
            .iter()
            .flatten()
            .filter_map(|e| {
                Some(MaterialFacts {
                    id: e.key_material_id.clone(),
                    state: KeyMaterialState::parse_member(
                        "keyMaterialState",
                        &e.key_material_state,
                    )
                    .ok()?,
                    import_state: e
                        .import_state
                        .as_deref()
                        .and_then(|s| ImportState::parse_member("importState", s).ok()),
                })
            })
            .collect()
    }

    /// On-demand rotations used, counted from ListKeyRotations.
    pub fn on_demand_rotations(&self) -> u32 {
        self.materials
            .iter()
            .flatten()
            .filter(|e| e.rotation_type.as_deref() == Some(RotationType::OnDemand.as_str()))
            .count() as u32
    }

    /// What the rules of [`crate::kms::rules`] read of this key; `None`
    /// until it is described, and for keys byok does not manage.
    pub fn facts(&self) -> Option<KeyFacts> {
        let m = self.metadata.as_ref()?;
        if self.unmanageable().is_some() {
            return None;
        }
        Some(KeyFacts {
            arn: m.arn.clone(),
            state: KeyState::parse_member("keyState", &m.key_state).ok()?,
            origin: Origin::parse_member("origin", &m.origin).ok(),
            origin_text: m.origin.clone(),
            key_spec: m.key_spec.clone(),
            materials: self.material_facts(),
            rotation_in_progress: self
                .rotation_status
                .as_ref()
                .is_some_and(|s| s.on_demand_rotation_start_date.is_some()),
            on_demand_rotations: self.on_demand_rotations(),
            multi_region: m.multi_region_configuration.as_ref().map(|c| {
                crate::kms::rules::MultiRegionFacts {
                    is_primary: c.multi_region_key_type != "REPLICA",
                    primary_arn: c
                        .primary_key
                        .as_ref()
                        .map(|p| p.arn.clone())
                        .unwrap_or_default(),
                }
            }),
        })
    }
}

/// How many keys a page of ListKeys asks for (AWS's maximum).
pub const LIST_PAGE: i64 = 1000;

/// Keys of a backend, filled by calling its API.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Catalog {
    keys: Vec<KeyRecord>,
    #[serde(skip)]
    index: HashMap<String, usize>,
    /// ListKeys's marker for the next page; `None` with `listed` true: done.
    next_marker: Option<String>,
    /// Whether the first page was listed.
    listed: bool,
    /// Every alias, by target key id (ListAliases is account-wide).
    aliases: HashMap<String, Vec<String>>,
    aliases_loaded: bool,
    /// API calls made so far (for the scale benchmark and the status bar).
    #[serde(skip)]
    pub calls: u64,
}

impl Catalog {
    /// A catalog restored from a cache: its records keep the time they
    /// were fetched (so they show as stale until described again) and the
    /// listing starts over, to find keys created or deleted since.
    pub fn restore(mut self) -> Self {
        self.reindex();
        self.relist();
        self
    }

    /// The keys known so far, in ListKeys order.
    pub fn keys(&self) -> &[KeyRecord] {
        &self.keys
    }

    /// The key with this ARN.
    pub fn key(&self, arn: &str) -> Option<&KeyRecord> {
        self.index.get(arn).and_then(|&i| self.keys.get(i))
    }

    /// Whether every page of ListKeys has been read.
    pub fn complete(&self) -> bool {
        self.listed && self.next_marker.is_none()
    }

    /// Forgets the listing (not the descriptions), to list again from the
    /// first page.
    pub fn relist(&mut self) {
        self.listed = false;
        self.next_marker = None;
        self.aliases_loaded = false;
    }

    fn upsert(&mut self, arn: &str, key_id: &str) -> usize {
        if let Some(&i) = self.index.get(arn) {
            return i;
        }
        let i = self.keys.len();
        self.keys
            .push(KeyRecord::listed(arn.to_string(), key_id.to_string()));
        self.keys[i].aliases = self.aliases.get(key_id).cloned().unwrap_or_default();
        self.index.insert(arn.to_string(), i);
        i
    }

    /// The marker of the next ListKeys page: `None` when the listing is
    /// complete, `Some(None)` for the first page.
    pub fn next_page(&self) -> Option<Option<String>> {
        if self.complete() {
            None
        } else if self.listed {
            Some(self.next_marker.clone())
        } else {
            Some(None)
        }
    }

    /// Asks for the ListKeys page at `marker` (up to [`LIST_PAGE`] keys).
    pub fn fetch_page(
        backend: &dyn Backend,
        marker: Option<String>,
    ) -> Result<ListKeysOutput, BackendError> {
        send::<op::ListKeys>(
            backend,
            &ListKeysInput {
                limit: Some(LIST_PAGE),
                marker,
            },
        )
    }

    /// Takes in a ListKeys page (`first`: the listing's first page).
    pub fn apply_page(&mut self, first: bool, out: ListKeysOutput) {
        self.calls += 1;
        self.listed = true;
        self.next_marker = out.next_marker.filter(|_| out.truncated);
        if first && self.next_marker.is_none() {
            // A complete listing in one page: keys deleted since go.
            let live: std::collections::HashSet<&str> =
                out.keys.iter().map(|k| k.key_arn.as_str()).collect();
            self.keys.retain(|k| live.contains(k.arn.as_str()));
            self.reindex();
        }
        for k in &out.keys {
            self.upsert(&k.key_arn, &k.key_id);
        }
    }

    /// Reads the next page of ListKeys. Returns how many keys the page
    /// named; 0 when the listing is complete.
    pub fn list_next_page(&mut self, backend: &dyn Backend) -> Result<usize, BackendError> {
        let Some(marker) = self.next_page() else {
            return Ok(0);
        };
        let first = marker.is_none();
        let out = Catalog::fetch_page(backend, marker)?;
        let n = out.keys.len();
        self.apply_page(first, out);
        Ok(n)
    }

    /// Asks for every alias (ListAliases pages of 100), by target key id;
    /// also says how many calls it took.
    pub fn fetch_aliases(
        backend: &dyn Backend,
    ) -> Result<(HashMap<String, Vec<String>>, u64), BackendError> {
        let mut marker = None;
        let mut by_key: HashMap<String, Vec<String>> = HashMap::new();
        let mut calls = 0;
        // Bounded: AWS allows 100,000 keys and aliases per region.
        for _ in 0..2_000 {
            let out = send::<op::ListAliases>(
                backend,
                &ListAliasesInput {
                    key_id: None,
                    limit: Some(100),
                    marker: marker.clone(),
                },
            )?;
            calls += 1;
            for a in out.aliases {
                if let Some(target) = a.target_key_id {
                    by_key.entry(target).or_default().push(a.alias_name);
                }
            }
            marker = out.next_marker.filter(|_| out.truncated);
            if marker.is_none() {
                break;
            }
        }
        Ok((by_key, calls))
    }

    /// Takes in every alias.
    pub fn apply_aliases(&mut self, by_key: HashMap<String, Vec<String>>, calls: u64) {
        self.calls += calls;
        for k in &mut self.keys {
            k.aliases = by_key.get(&k.key_id).cloned().unwrap_or_default();
        }
        self.aliases = by_key;
        self.aliases_loaded = true;
    }

    /// Reads every alias.
    pub fn load_aliases(&mut self, backend: &dyn Backend) -> Result<(), BackendError> {
        let (by_key, calls) = Catalog::fetch_aliases(backend)?;
        self.apply_aliases(by_key, calls);
        Ok(())
    }

    /// Marks every description as old (to be asked again).
    pub fn mark_stale(&mut self) {
        for k in &mut self.keys {
            if k.fetched.is_some() {
                k.fetched = Some(Timestamp::from_millis(0));
            }
            k.error = None;
        }
    }

    fn reindex(&mut self) {
        self.index = self
            .keys
            .iter()
            .enumerate()
            .map(|(i, k)| (k.arn.clone(), i))
            .collect();
    }

    /// Whether aliases were read.
    pub fn aliases_loaded(&self) -> bool {
        self.aliases_loaded
    }

    /// Describes key `arn`: DescribeKey, then ListKeyRotations with
    /// `ALL_KEY_MATERIAL` for the keys that have imported or rotated
    /// material (two calls). With `detail` (the key on screen) also
    /// GetKeyRotationStatus and ListResourceTags. A key the caller may not
    /// describe keeps its error.
    pub fn describe(
        &mut self,
        backend: &dyn Backend,
        arn: &str,
        detail: bool,
        now: Timestamp,
    ) -> Result<(), BackendError> {
        let key_id = arn
            .rsplit_once("key/")
            .map_or(arn, |(_, id)| id)
            .to_string();
        let i = self.upsert(arn, &key_id);
        let result = self.fetch(backend, arn, detail);
        let record = &mut self.keys[i];
        match result {
            Ok(fetched) => {
                record.metadata = Some(fetched.metadata);
                if let Some(m) = fetched.materials {
                    record.materials = Some(m);
                }
                if fetched.rotation_status.is_some() {
                    record.rotation_status = fetched.rotation_status;
                }
                if fetched.tags.is_some() {
                    record.tags = fetched.tags;
                }
                record.fetched = Some(now);
                record.error = None;
                self.calls += fetched.calls;
                Ok(())
            }
            Err((e, calls)) => {
                self.calls += calls;
                record.error = Some(e.clone());
                Err(e)
            }
        }
    }

    fn fetch(
        &self,
        backend: &dyn Backend,
        arn: &str,
        detail: bool,
    ) -> Result<Fetched, (BackendError, u64)> {
        let mut calls = 0;
        let call = |calls: &mut u64| *calls += 1;
        let key = || KeyIdInput {
            key_id: Some(arn.to_string()),
        };
        call(&mut calls);
        let metadata = send::<op::DescribeKey>(backend, &key())
            .map_err(|e| (e, 1))?
            .key_metadata;
        let manageable = unmanageable_reason(&metadata).is_none();
        let materials = if manageable {
            call(&mut calls);
            let out = send::<op::ListKeyRotations>(
                backend,
                &ListKeyRotationsInput {
                    key_id: Some(arn.to_string()),
                    include_key_material: Some("ALL_KEY_MATERIAL".into()),
                    limit: Some(1000),
                    marker: None,
                },
            )
            .map_err(|e| (e, calls))?;
            Some(out.rotations)
        } else {
            None
        };
        let (rotation_status, tags) = if detail && manageable {
            call(&mut calls);
            let status =
                send::<op::GetKeyRotationStatus>(backend, &key()).map_err(|e| (e, calls))?;
            call(&mut calls);
            let tags = send::<op::ListResourceTags>(
                backend,
                &ListResourceTagsInput {
                    key_id: Some(arn.to_string()),
                    limit: Some(50),
                    marker: None,
                },
            )
            .map_err(|e| (e, calls))?
            .tags;
            (Some(status), Some(tags))
        } else {
            (None, None)
        };
        Ok(Fetched {
            metadata,
            materials,
            rotation_status,
            tags,
            calls,
        })
    }

    /// Puts `record` in (a record the backend just answered for).
    pub fn put(&mut self, record: KeyRecord) {
        let i = self.upsert(&record.arn.clone(), &record.key_id.clone());
        self.keys[i] = record;
    }

    /// Forgets key `arn` (it was deleted).
    pub fn remove(&mut self, arn: &str) {
        if self.index.remove(arn).is_some() {
            self.keys.retain(|k| k.arn != arn);
            self.reindex();
        }
    }
}

struct Fetched {
    metadata: KeyMetadata,
    materials: Option<Vec<RotationsListEntryShape>>,
    rotation_status: Option<GetKeyRotationStatusOutput>,
    tags: Option<Vec<TagShape>>,
    calls: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn metadata(key_spec: &str) -> KeyMetadata {
        KeyMetadata {
            key_manager: "CUSTOMER".into(),
            origin: "EXTERNAL".into(),
            key_state: "Enabled".into(),
            key_spec: key_spec.into(),
            ..KeyMetadata::default()
        }
    }

    /// Every key spec the engine models is managed (issue 8: HMAC keys);
    /// one it does not is shown read-only, with the specs byok manages.
    #[test]
    fn key_specs_the_engine_models_are_managed() {
        for spec in KeySpec::ALL {
            assert_eq!(
                unmanageable_reason(&metadata(spec.as_str())),
                None,
                "{spec}"
            );
        }
        // ML_DSA_65 (AWS KMS Developer Guide, "Key spec reference") is one
        // byok does not model yet.
        let why = unmanageable_reason(&metadata("ML_DSA_65")).expect("read-only");
        assert!(why.starts_with(
            "KeySpec ML_DSA_65: this version of byok manages keys of SYMMETRIC_DEFAULT, HMAC_224"
        ));
    }
}
