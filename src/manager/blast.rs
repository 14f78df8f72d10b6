//! The kill switch's blast-radius preview: before materials are deleted,
//! which keys and materials become unusable, which aliases point at them,
//! which materials could not be restored (no escrow copy), and who used
//! them recently — from the store's audit trail (a local store) or
//! CloudTrail `LookupEvents` (an AWS account), both CloudTrail-shaped.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use super::runner::{Manager, ManagerError};
use crate::api::op;
use crate::api::shapes::ListAliasesInput;
use crate::backend::send;

/// How far back the preview looks.
pub const USAGE_DAYS: u32 = 30;

/// The cryptographic operations that use a key's material.
const USE_EVENTS: &[&str] = &[
    "Encrypt",
    "Decrypt",
    "ReEncrypt",
    "GenerateDataKey",
    "GenerateDataKeyWithoutPlaintext",
];

/// Who used one material, and how.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MaterialUse {
    /// The material (`None`: events that do not name one, such as AWS's
    /// Encrypt events).
    pub key_material_id: Option<String>,
    /// Calls per operation.
    pub calls: BTreeMap<String, u64>,
    /// Distinct callers (access key id, else the front end or principal).
    pub callers: BTreeSet<String>,
    /// Distinct encryption contexts (as JSON), at most 20.
    pub contexts: BTreeSet<String>,
    /// The latest use (RFC 3339).
    pub last_used: Option<String>,
}

/// What suspending one key does.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KeyBlast {
    /// The key.
    pub key_arn: String,
    /// Its state now.
    pub key_state: String,
    /// The materials that would be deleted: id, description, state.
    pub materials: Vec<(String, Option<String>, String)>,
    /// Those of them the store has no escrow copy of: they cannot be
    /// restored by byok.
    pub without_escrow: Vec<String>,
    /// Aliases that point at the key.
    pub aliases: Vec<String>,
    /// Recent use, by material.
    pub usage: Vec<MaterialUse>,
    /// Why the usage is missing or partial (CloudTrail denied, ...).
    pub usage_note: Option<String>,
}

/// What suspending a selection of keys does.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BlastRadius {
    /// Per key.
    pub keys: Vec<KeyBlast>,
}

impl BlastRadius {
    /// Materials that would be deleted, in all.
    pub fn material_count(&self) -> usize {
        self.keys.iter().map(|k| k.materials.len()).sum()
    }

    /// Uses in the last [`USAGE_DAYS`] days, in all.
    pub fn call_count(&self) -> u64 {
        self.keys
            .iter()
            .flat_map(|k| &k.usage)
            .flat_map(|u| u.calls.values())
            .sum()
    }
}

impl Manager {
    /// The blast radius of suspending `keys`.
    pub fn blast_radius(&self, keys: &[String]) -> Result<BlastRadius, ManagerError> {
        let state = self.state()?;
        let since = self.clock_now().minus(super::state::days_of(USAGE_DAYS));
        let mut out = BlastRadius::default();
        for key in keys {
            let meta = self.describe(key)?;
            let arn = meta.arn.clone();
            let materials = self.list_materials(&arn)?;
            let without_escrow = materials
                .iter()
                .filter(|(id, _, _)| state.escrowed(&arn, id).is_none())
                .map(|(id, _, _)| id.clone())
                .collect();
            let aliases = send::<op::ListAliases>(
                self.backend(),
                &ListAliasesInput {
                    key_id: Some(arn.clone()),
                    ..Default::default()
                },
            )?
            .aliases
            .into_iter()
            .map(|a| a.alias_name)
            .collect();
            let (usage, usage_note) = match self.usage_events(&arn, since) {
                Ok(events) => (summarise(&events), None),
                Err(e) => (
                    Vec::new(),
                    Some(format!("recent use could not be read: {e}")),
                ),
            };
            out.keys.push(KeyBlast {
                key_arn: arn,
                key_state: meta.key_state,
                materials,
                without_escrow,
                aliases,
                usage,
                usage_note,
            });
        }
        Ok(out)
    }
}

/// Groups CloudTrail-shaped events by material.
pub fn summarise(events: &[Value]) -> Vec<MaterialUse> {
    let mut by: BTreeMap<Option<String>, MaterialUse> = BTreeMap::new();
    for e in events {
        let name = e["eventName"].as_str().unwrap_or_default();
        if !USE_EVENTS.contains(&name) || e.get("errorCode").is_some_and(|c| !c.is_null()) {
            continue;
        }
        let material = e["additionalEventData"]["keyMaterialId"]
            .as_str()
            .map(str::to_string);
        let u = by.entry(material.clone()).or_insert_with(|| MaterialUse {
            key_material_id: material,
            ..MaterialUse::default()
        });
        *u.calls.entry(name.to_string()).or_default() += 1;
        let who = &e["userIdentity"];
        let caller = who["accessKeyId"]
            .as_str()
            .or(who["arn"].as_str())
            .or(who["invokedBy"].as_str())
            .unwrap_or("unknown");
        u.callers.insert(caller.to_string());
        let context = &e["requestParameters"]["encryptionContext"];
        if !context.is_null() && u.contexts.len() < 20 {
            u.contexts.insert(context.to_string());
        }
        if let Some(t) = e["eventTime"].as_str()
            && u.last_used.as_deref().is_none_or(|l| l < t)
        {
            u.last_used = Some(t.to_string());
        }
    }
    by.into_values().collect()
}
