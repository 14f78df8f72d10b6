//! The local backend: the engine inside an encrypted store. A call takes
//! the vault's lock, runs through [`crate::api::dispatch`] (the function
//! `byok serve` answers with), and is persisted before it returns.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use super::catalog::{KeyRecord, LocalFacts};
use super::{Backend, BackendError, BackendInfo, BackendKind};
use crate::api::Body;
use crate::api::shapes::{
    GetKeyRotationStatusOutput, KeyMetadata, RotationsListEntryShape, TagShape,
};
use crate::api::wire::Time;
use crate::kms::{Caller, IncludeKeyMaterial, KeyId};
use crate::store::Vault;

/// A local store as a [`Backend`].
pub struct LocalBackend {
    vault: Arc<Mutex<Vault>>,
    caller: Caller,
}

impl LocalBackend {
    /// Calls on `vault`, audited as made by `caller`.
    pub fn new(vault: Arc<Mutex<Vault>>, caller: Caller) -> Self {
        Self { vault, caller }
    }

    /// The shared vault.
    pub fn vault(&self) -> &Arc<Mutex<Vault>> {
        &self.vault
    }

    fn lock(&self) -> MutexGuard<'_, Vault> {
        self.vault.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Backend for LocalBackend {
    /// A request naming a key ARN or alias ARN runs in that ARN's region,
    /// as the AWS backend routes it; any other runs in the caller's.
    fn call(&self, operation: &str, request: &[u8]) -> Result<Body, BackendError> {
        let routed;
        let caller = match super::arn_region(request) {
            Some((_, region)) if self.caller.region.as_deref() != Some(region.as_str()) => {
                routed = Caller {
                    region: Some(region),
                    ..self.caller.clone()
                };
                &routed
            }
            _ => &self.caller,
        };
        self.lock()
            .call(caller, operation, request)
            .map_err(BackendError::Service)
    }

    fn info(&self) -> BackendInfo {
        let v = self.lock();
        let settings = v.kms().settings();
        BackendInfo {
            kind: BackendKind::Local,
            account: Some(settings.account_id.clone()),
            region: settings.region.clone(),
            regions: v.kms().regions(),
            profile: None,
            endpoint: None,
        }
    }
}

/// Every key of `vault`'s engine, in every region that holds keys (the
/// store's first), as the API would show it, read straight from the
/// engine's state: no call, no audit record (the console's view of its own
/// store). A multi-Region key appears once per region, each with its
/// region's ARN.
pub fn snapshot(vault: &mut Vault) -> Vec<KeyRecord> {
    let mut all = Vec::new();
    for region in vault.kms().regions() {
        all.extend(vault.read_in_region(&region, region_snapshot));
    }
    all
}

/// The keys of the engine's active region.
fn region_snapshot(kms: &crate::kms::Kms) -> Vec<KeyRecord> {
    let mut aliases: HashMap<KeyId, Vec<String>> = HashMap::new();
    for a in kms.aliases() {
        aliases.entry(a.target).or_default().push(a.name.clone());
    }
    kms.keys()
        .map(|key| {
            let id = key.id();
            let arn = kms.arn(id);
            KeyRecord {
                key_id: id.to_string(),
                metadata: Some(KeyMetadata::of(kms, key)),
                materials: Some(
                    key.rotations_list(IncludeKeyMaterial::AllKeyMaterial)
                        .iter()
                        .map(RotationsListEntryShape::from)
                        .collect(),
                ),
                rotation_status: Some(GetKeyRotationStatusOutput {
                    key_rotation_enabled: key.automatic_rotation().is_some(),
                    key_id: arn.clone(),
                    rotation_period_in_days: key.automatic_rotation().map(|a| a.period_days),
                    next_rotation_date: key
                        .automatic_rotation()
                        .map(|a| Time(a.next_rotation_date)),
                    on_demand_rotation_start_date: key.rotation_started().map(Time),
                }),
                aliases: aliases.remove(&id).unwrap_or_default(),
                tags: Some(key.tags().iter().map(TagShape::from).collect()),
                fetched: None,
                error: None,
                local: Some(LocalFacts {
                    first_imported: key
                        .materials()
                        .iter()
                        .map(|m| (m.id().to_string(), m.first_imported()))
                        .collect(),
                    enabled_flag: key.enabled_flag(),
                }),
                arn,
            }
        })
        .collect()
}
