//! Key-level operations: create, describe, list, enable/disable, deletion
//! scheduling, description, tags and aliases.

use serde_json::{Value, json};

use super::asym::AsymmetricKey;
use super::audit::Caller;
use super::clock::days;
use super::engine::{
    Alias, Kms, Page, ScheduledDeletionOutput, check_len, check_range, len_violation, paginate,
};
use super::error::{ErrorKind, KmsError, KmsResult, Violations};
use super::model::{
    Key, KeyId, KeyMaterialState, KeySpec, KeyState, KeyUsage, MaterialBytes, Origin,
    ScheduledDeletion, Tag,
};

/// CreateKey's inputs (SYMMETRIC_DEFAULT / ENCRYPT_DECRYPT keys only).
#[derive(Clone, Debug, Default)]
pub struct CreateKeyRequest {
    /// `Description` (0..8192).
    pub description: Option<String>,
    /// `Origin` (default `AWS_KMS`).
    pub origin: Option<Origin>,
    /// `Tags`.
    pub tags: Vec<Tag>,
}

pub(crate) const ALL_STATES: &[KeyState] = &[
    KeyState::Enabled,
    KeyState::Disabled,
    KeyState::PendingImport,
    KeyState::PendingDeletion,
];
const NOT_PENDING_DELETION: &[KeyState] = &[
    KeyState::Enabled,
    KeyState::Disabled,
    KeyState::PendingImport,
];

/// The member constraints of a request's `Tags` (checked with the other
/// members, before the operation runs): each key 1..128 characters, each
/// value 0..256, named by their 1-based place in the list as AWS names them
/// (`tags.1.member.tagKey`).
pub(crate) fn tag_violations(tags: &[Tag], found: &mut Violations) {
    for (i, t) in tags.iter().enumerate() {
        let n = i + 1;
        found.add(len_violation(
            &format!("tags.{n}.member.tagKey"),
            &t.key,
            1,
            128,
        ));
        found.add(len_violation(
            &format!("tags.{n}.member.tagValue"),
            &t.value,
            0,
            256,
        ));
    }
}

/// The most tags a key can have.
const TAG_LIMIT: usize = 50;

fn too_many_tags() -> KmsError {
    KmsError::new(ErrorKind::Tag, "Too many tags")
}

/// The tag rules of CreateKey and TagResource, after the member
/// constraints: no key twice, at most 50 tags, no key beginning with
/// `aws:` in any case.
pub(crate) fn check_tag_rules(tags: &[Tag]) -> KmsResult<()> {
    let mut seen = std::collections::HashSet::new();
    if !tags.iter().all(|t| seen.insert(t.key.as_str())) {
        return Err(KmsError::new(ErrorKind::Tag, "Duplicate tag keys"));
    }
    if tags.len() > TAG_LIMIT {
        return Err(too_many_tags());
    }
    if tags.iter().any(|t| {
        t.key
            .get(..4)
            .is_some_and(|p| p.eq_ignore_ascii_case("aws:"))
    }) {
        return Err(KmsError::new(
            ErrorKind::Tag,
            "Tags beginning with aws: are reserved",
        ));
    }
    Ok(())
}

pub(crate) fn merge_tags(existing: &mut Vec<Tag>, new: &[Tag]) {
    for t in new {
        match existing.iter_mut().find(|e| e.key == t.key) {
            Some(e) => e.value = t.value.clone(),
            None => existing.push(t.clone()),
        }
    }
}

pub(crate) fn tag_json(tags: &[Tag]) -> Value {
    tags.iter()
        .map(|t| json!({"tagKey": t.key, "tagValue": t.value}))
        .collect()
}

/// The key states in which EnableKey and DisableKey are accepted (SPEC §2).
impl Kms {
    /// CreateKey of a symmetric encryption key (`SYMMETRIC_DEFAULT`).
    pub fn create_key(&mut self, caller: &Caller, req: CreateKeyRequest) -> KmsResult<KeyId> {
        self.create_key_of_spec(caller, req, KeySpec::SymmetricDefault)
    }

    /// CreateKey of a key of `spec`, with the key usage AWS allows for it
    /// (`ENCRYPT_DECRYPT` for `SYMMETRIC_DEFAULT`, `GENERATE_VERIFY_MAC`
    /// for the HMAC specs). An `AWS_KMS` key gets generated material of
    /// the spec's digest length.
    pub fn create_key_of_spec(
        &mut self,
        caller: &Caller,
        req: CreateKeyRequest,
        spec: KeySpec,
    ) -> KmsResult<KeyId> {
        self.create_key_with_usage(caller, req, spec, spec.key_usage())
    }

    /// CreateKey of a key of `spec` and `usage` (one of
    /// [`KeySpec::key_usages`]; RSA and NIST curve keys have two). An
    /// `AWS_KMS` asymmetric key gets a private key generated at once.
    pub fn create_key_with_usage(
        &mut self,
        caller: &Caller,
        req: CreateKeyRequest,
        spec: KeySpec,
        usage: KeyUsage,
    ) -> KmsResult<KeyId> {
        self.create_key_in(caller, req, spec, usage, false)
    }

    /// CreateKey, of a multi-Region primary key when `multi_region` (its id
    /// is `mrk-` and 32 hex digits; its primary region is the call's).
    pub fn create_key_in(
        &mut self,
        caller: &Caller,
        req: CreateKeyRequest,
        spec: KeySpec,
        usage: KeyUsage,
        multi_region: bool,
    ) -> KmsResult<KeyId> {
        let origin = req.origin.unwrap_or(Origin::AwsKms);
        let mut params = json!({
            "description": req.description,
            "origin": origin.as_str(),
            "keySpec": spec.as_str(),
            "keyUsage": usage.as_str(),
            "tags": tag_json(&req.tags),
        });
        if multi_region {
            params["multiRegion"] = Value::Bool(true);
        }
        self.call(caller, "CreateKey", false, params, |kms, call| {
            let mut found = Violations::default();
            if let Some(d) = &req.description {
                found.add(len_violation("description", d, 0, 8192));
            }
            tag_violations(&req.tags, &mut found);
            found.check()?;
            if !spec.key_usages().contains(&usage) {
                return Err(KmsError::validation(format!(
                    "KeyUsage {usage} is not compatible with KeySpec {spec}"
                )));
            }
            check_tag_rules(&req.tags)?;
            let id = if multi_region {
                KeyId::multi_region_from_random(kms.random())
            } else {
                KeyId::from_uuid(kms.new_uuid())
            };
            let mut tags = Vec::new();
            merge_tags(&mut tags, &req.tags);
            let mut key = Key {
                id,
                creation_date: call.now,
                description: req.description.clone().unwrap_or_default(),
                origin,
                key_spec: spec,
                key_usage: usage,
                enabled: true,
                tags,
                materials: Vec::new(),
                current_key_material_id: None,
                on_demand_rotations: 0,
                rotation_started: None,
                deletion: None,
                automatic_rotation: None,
            };
            if origin == Origin::AwsKms {
                let bytes = if spec.is_asymmetric() {
                    AsymmetricKey::generate(spec, &mut kms.rng)?.to_pkcs8()?
                } else {
                    MaterialBytes::random(spec.generated_material_len(), &mut kms.rng)
                };
                let m = Kms::new_material(id, bytes, KeyMaterialState::Current, call.now);
                key.current_key_material_id = Some(m.id);
                key.materials.push(m);
            }
            call.key(id);
            call.response = Some(json!({"keyMetadata": {"keyId": id.to_string(), "arn": kms.arn(id), "origin": origin.as_str(), "keyState": key.state().as_str()}}));
            kms.state.keys.insert(id, key);
            if multi_region {
                let region = kms.region().to_string();
                kms.state.primary_regions.insert(id, region);
            }
            kms.changed();
            Ok(id)
        })
    }

    /// DescribeKey: resolves the identifier (aliases allowed) and returns the
    /// key's id; read the key with [`Kms::key`].
    pub fn describe_key(&mut self, caller: &Caller, key_id: &str) -> KmsResult<KeyId> {
        self.call(
            caller,
            "DescribeKey",
            true,
            json!({"keyId": key_id}),
            |kms, call| {
                let id = kms.resolve("keyId", key_id, true)?;
                call.key(id);
                Ok(id)
            },
        )
    }

    /// ListKeys: every key, in any state.
    pub fn list_keys(
        &mut self,
        caller: &Caller,
        limit: Option<i64>,
        marker: Option<&str>,
    ) -> KmsResult<Page<KeyId>> {
        self.call(
            caller,
            "ListKeys",
            true,
            json!({"limit": limit, "marker": marker}),
            |kms, _| {
                let entries = kms
                    .state
                    .keys
                    .keys()
                    .map(|id| (id.to_string(), *id))
                    .collect();
                paginate(entries, limit, marker, 100, 1000)
            },
        )
    }

    /// EnableKey.
    pub fn enable_key(&mut self, caller: &Caller, key_id: &str) -> KmsResult<KeyId> {
        self.set_enabled(caller, key_id, true)
    }

    /// DisableKey.
    pub fn disable_key(&mut self, caller: &Caller, key_id: &str) -> KmsResult<KeyId> {
        self.set_enabled(caller, key_id, false)
    }

    /// Whether EnableKey and DisableKey would be accepted for `id` now, and
    /// if not, the exception they would raise (the console offers the switch
    /// by this).
    pub fn check_set_enabled(&self, id: KeyId) -> KmsResult<()> {
        super::rules::set_enabled(&self.facts(id)?)
    }

    fn set_enabled(&mut self, caller: &Caller, key_id: &str, enabled: bool) -> KmsResult<KeyId> {
        let op = if enabled { "EnableKey" } else { "DisableKey" };
        self.call(caller, op, false, json!({"keyId": key_id}), |kms, call| {
            let id = kms.resolve("keyId", key_id, false)?;
            call.key(id);
            kms.check_set_enabled(id)?;
            let key = kms.key_mut(id)?;
            if key.enabled != enabled {
                key.enabled = enabled;
                // An automatic rotation that fell due while the key was
                // disabled happens now, dated now.
                if let Some(auto) = key.automatic_rotation.as_mut()
                    && enabled
                    && auto.next_rotation_date < call.now
                {
                    auto.next_rotation_date = call.now;
                }
                kms.changed();
            }
            Ok(id)
        })
    }

    /// ScheduleKeyDeletion (`PendingWindowInDays` 7..30, default 30).
    pub fn schedule_key_deletion(
        &mut self,
        caller: &Caller,
        key_id: &str,
        pending_window_days: Option<i64>,
    ) -> KmsResult<ScheduledDeletionOutput> {
        let params = json!({"keyId": key_id, "pendingWindowInDays": pending_window_days});
        self.call(caller, "ScheduleKeyDeletion", false, params, |kms, call| {
            let id = kms.resolve("keyId", key_id, false)?;
            call.key(id);
            let window = pending_window_days.unwrap_or(30);
            check_range("pendingWindowInDays", window, 7, 30)?;
            kms.require_state(id, NOT_PENDING_DELETION)?;
            // "If you schedule the deletion of a primary key with replicas,
            // its key state changes to PendingReplicaDeletion ... When the
            // last of its replicas keys is deleted (not just scheduled), the
            // key state of the primary key changes to PendingDeletion" (API
            // reference, ScheduleKeyDeletion).
            let awaiting = kms.multi_region_key_type(id)
                == Some(super::MultiRegionKeyType::Primary)
                && !kms.replica_regions(id).is_empty();
            if awaiting {
                let key = kms.key_mut(id)?;
                key.deletion = Some(ScheduledDeletion {
                    deletion_date: super::engine::AWAITING_REPLICAS,
                    pending_window_days: window as u32,
                });
                key.rotation_started = None;
                kms.changed();
                call.response = Some(json!({"keyId": kms.arn(id), "keyState": "PendingReplicaDeletion", "pendingWindowInDays": window}));
                return Ok(ScheduledDeletionOutput {
                    key_id: id,
                    deletion_date: super::engine::AWAITING_REPLICAS,
                    pending_window_days: window as u32,
                    pending_replica_deletion: true,
                });
            }
            let deletion_date = call.now.plus(days(window as u64));
            let key = kms.key_mut(id)?;
            key.deletion = Some(ScheduledDeletion {
                deletion_date,
                pending_window_days: window as u32,
            });
            key.rotation_started = None;
            kms.changed();
            call.response = Some(json!({"keyId": kms.arn(id), "deletionDate": deletion_date.to_rfc3339(), "keyState": "PendingDeletion", "pendingWindowInDays": window}));
            Ok(ScheduledDeletionOutput {
                key_id: id,
                deletion_date,
                pending_window_days: window as u32,
                pending_replica_deletion: false,
            })
        })
    }

    /// CancelKeyDeletion: the key comes back `Disabled` (or `PendingImport`).
    pub fn cancel_key_deletion(&mut self, caller: &Caller, key_id: &str) -> KmsResult<KeyId> {
        self.call(
            caller,
            "CancelKeyDeletion",
            false,
            json!({"keyId": key_id}),
            |kms, call| {
                let id = kms.resolve("keyId", key_id, false)?;
                call.key(id);
                if kms.key_ref(id)?.state() != KeyState::PendingDeletion {
                    return Err(KmsError::new(
                        ErrorKind::KmsInvalidState,
                        format!("{} is not pending deletion.", kms.arn(id)),
                    ));
                }
                let key = kms.key_mut(id)?;
                key.deletion = None;
                key.enabled = false;
                kms.changed();
                Ok(id)
            },
        )
    }

    /// UpdateKeyDescription.
    pub fn update_key_description(
        &mut self,
        caller: &Caller,
        key_id: &str,
        description: &str,
    ) -> KmsResult<KeyId> {
        let params = json!({"keyId": key_id, "description": description});
        self.call(
            caller,
            "UpdateKeyDescription",
            false,
            params,
            |kms, call| {
                let id = kms.resolve("keyId", key_id, false)?;
                call.key(id);
                check_len("description", description, 0, 8192)?;
                kms.require_state(id, NOT_PENDING_DELETION)?;
                kms.key_mut(id)?.description = description.to_string();
                kms.changed();
                Ok(id)
            },
        )
    }

    /// TagResource: adds tags or replaces their values.
    pub fn tag_resource(
        &mut self,
        caller: &Caller,
        key_id: &str,
        tags: &[Tag],
    ) -> KmsResult<KeyId> {
        let params = json!({"keyId": key_id, "tags": tag_json(tags)});
        self.call(caller, "TagResource", false, params, |kms, call| {
            let mut found = Violations::default();
            found.add(len_violation("keyId", key_id, 1, 2048));
            tag_violations(tags, &mut found);
            found.check()?;
            let id = kms.resolve("keyId", key_id, false)?;
            call.key(id);
            check_tag_rules(tags)?;
            kms.require_state(id, NOT_PENDING_DELETION)?;
            let key = kms.key_mut(id)?;
            let mut merged = key.tags.clone();
            merge_tags(&mut merged, tags);
            if merged.len() > TAG_LIMIT {
                return Err(too_many_tags());
            }
            key.tags = merged;
            kms.changed();
            Ok(id)
        })
    }

    /// UntagResource.
    pub fn untag_resource(
        &mut self,
        caller: &Caller,
        key_id: &str,
        tag_keys: &[String],
    ) -> KmsResult<KeyId> {
        let params = json!({"keyId": key_id, "tagKeys": tag_keys});
        self.call(caller, "UntagResource", false, params, |kms, call| {
            let mut found = Violations::default();
            found.add(len_violation("keyId", key_id, 1, 2048));
            for (i, k) in tag_keys.iter().enumerate() {
                found.add(len_violation(
                    &format!("tagKeys.{}.member", i + 1),
                    k,
                    1,
                    128,
                ));
            }
            found.check()?;
            let id = kms.resolve("keyId", key_id, false)?;
            call.key(id);
            kms.require_state(id, NOT_PENDING_DELETION)?;
            kms.key_mut(id)?.tags.retain(|t| !tag_keys.contains(&t.key));
            kms.changed();
            Ok(id)
        })
    }

    /// ListResourceTags.
    pub fn list_resource_tags(
        &mut self,
        caller: &Caller,
        key_id: &str,
        limit: Option<i64>,
        marker: Option<&str>,
    ) -> KmsResult<Page<Tag>> {
        let params = json!({"keyId": key_id, "limit": limit, "marker": marker});
        self.call(caller, "ListResourceTags", true, params, |kms, call| {
            let id = kms.resolve("keyId", key_id, false)?;
            call.key(id);
            kms.require_state(id, ALL_STATES)?;
            let entries = kms
                .key_ref(id)?
                .tags
                .iter()
                .map(|t| (t.key.clone(), t.clone()))
                .collect();
            paginate(entries, limit, marker, 50, 50)
        })
    }

    fn check_alias_name(&self, name: &str) -> KmsResult<()> {
        check_len("aliasName", name, 1, 256)?;
        if !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, ':' | '/' | '_' | '-'))
        {
            return Err(KmsError::constraint(
                "aliasName",
                Some(name),
                "Member must satisfy regular expression pattern: ^[a-zA-Z0-9:/_-]+$",
            ));
        }
        if !name.starts_with("alias/") {
            return Err(KmsError::validation(
                "Alias must start with the prefix \"alias/\". Please see https://docs.aws.amazon.com/kms/latest/developerguide/kms-alias.html",
            ));
        }
        // The member's pattern admits ':', the alias rules do not.
        if name.contains(':') {
            return Err(KmsError::validation(format!(
                "{name} contains invalid characters for an alias"
            )));
        }
        if name.len() == "alias/".len() {
            return Err(KmsError::new(
                ErrorKind::InvalidAliasName,
                format!("Alias must start with the prefix \"alias/\" and name something: {name}"),
            ));
        }
        if name.starts_with("alias/aws/") {
            return Err(KmsError::new(
                ErrorKind::InvalidAliasName,
                "Alias names beginning with alias/aws/ are reserved for AWS managed keys.",
            ));
        }
        Ok(())
    }

    /// CreateAlias.
    pub fn create_alias(
        &mut self,
        caller: &Caller,
        alias_name: &str,
        target_key_id: &str,
    ) -> KmsResult<()> {
        let params = json!({"aliasName": alias_name, "targetKeyId": target_key_id});
        self.call(caller, "CreateAlias", false, params, |kms, call| {
            kms.check_alias_name(alias_name)?;
            let id = kms.resolve("targetKeyId", target_key_id, false)?;
            call.key(id);
            kms.require_state(id, NOT_PENDING_DELETION)?;
            if kms.state.aliases.contains_key(alias_name) {
                return Err(KmsError::new(
                    ErrorKind::AlreadyExists,
                    format!(
                        "An alias with the name {} already exists",
                        kms.alias_arn(alias_name)
                    ),
                ));
            }
            kms.state.aliases.insert(
                alias_name.to_string(),
                Alias {
                    name: alias_name.to_string(),
                    target: id,
                    creation_date: call.now,
                    last_updated_date: call.now,
                },
            );
            kms.changed();
            Ok(())
        })
    }

    /// UpdateAlias: points an alias at another key.
    pub fn update_alias(
        &mut self,
        caller: &Caller,
        alias_name: &str,
        target_key_id: &str,
    ) -> KmsResult<()> {
        let params = json!({"aliasName": alias_name, "targetKeyId": target_key_id});
        self.call(caller, "UpdateAlias", false, params, |kms, call| {
            kms.check_alias_name(alias_name)?;
            let id = kms.resolve("targetKeyId", target_key_id, false)?;
            call.key(id);
            kms.require_state(id, NOT_PENDING_DELETION)?;
            let arn = kms.alias_arn(alias_name);
            let alias = kms.state.aliases.get_mut(alias_name).ok_or_else(|| {
                KmsError::new(ErrorKind::NotFound, format!("Alias {arn} is not found."))
            })?;
            alias.target = id;
            alias.last_updated_date = call.now;
            kms.changed();
            Ok(())
        })
    }

    /// DeleteAlias.
    pub fn delete_alias(&mut self, caller: &Caller, alias_name: &str) -> KmsResult<()> {
        self.call(
            caller,
            "DeleteAlias",
            false,
            json!({"aliasName": alias_name}),
            |kms, call| {
                check_len("aliasName", alias_name, 1, 256)?;
                let arn = kms.alias_arn(alias_name);
                let alias = kms.state.aliases.remove(alias_name).ok_or_else(|| {
                    KmsError::new(ErrorKind::NotFound, format!("Alias {arn} is not found."))
                })?;
                call.key(alias.target);
                kms.changed();
                Ok(())
            },
        )
    }

    /// ListAliases, optionally of one key.
    pub fn list_aliases(
        &mut self,
        caller: &Caller,
        key_id: Option<&str>,
        limit: Option<i64>,
        marker: Option<&str>,
    ) -> KmsResult<Page<Alias>> {
        let params = json!({"keyId": key_id, "limit": limit, "marker": marker});
        self.call(caller, "ListAliases", true, params, |kms, call| {
            let filter = match key_id {
                Some(k) => {
                    let id = kms.resolve("keyId", k, false)?;
                    call.key(id);
                    Some(id)
                }
                None => None,
            };
            let entries = kms
                .state
                .aliases
                .values()
                .filter(|a| filter.is_none_or(|f| a.target == f))
                .map(|a| (a.name.clone(), a.clone()))
                .collect();
            paginate(entries, limit, marker, 50, 100)
        })
    }
}
