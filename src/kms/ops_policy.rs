//! Key policies: GetKeyPolicy, PutKeyPolicy, ListKeyPolicies. byok keeps
//! each key's policy and checks that it is a JSON policy document; it does
//! not evaluate policies (the store's own credentials may call everything).
//!
//! Every key has AWS's default key policy for keys created through the API
//! until a PutKeyPolicy replaces it. Only replaced policies are kept, in a
//! map beside the engine state (`Kms::key_policies`) that the store
//! persists as a section of its own, so the engine state's format is
//! unchanged.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::audit::Caller;
use super::engine::{Kms, check_len};
use super::error::{ErrorKind, KmsError, KmsResult};
use super::model::KeyId;
use super::ops_keys::ALL_STATES;

/// The replaced key policies, by Region and key id.
pub type KeyPolicies = BTreeMap<(String, KeyId), String>;

/// The one policy name AWS accepts ("The only valid value is default",
/// AWS KMS API Reference, GetKeyPolicy and PutKeyPolicy).
pub const DEFAULT_POLICY_NAME: &str = "default";

/// AWS's limit on a key policy's length (AWS's API model: `Policy`,
/// 1..131072 characters).
const MAX_POLICY: usize = 131_072;

impl Kms {
    /// AWS's default key policy for a key created through the API (AWS KMS
    /// Developer Guide, "Default key policy"), as GetKeyPolicy returns it
    /// (the API Reference's GetKeyPolicy example): one statement giving the
    /// account itself every KMS permission, which lets IAM policies grant
    /// access.
    pub fn default_key_policy(&self) -> String {
        format!(
            "{{\n  \"Version\" : \"2012-10-17\",\n  \"Id\" : \"key-default-1\",\n  \"Statement\" : [ {{\n    \"Sid\" : \"Enable IAM User Permissions\",\n    \"Effect\" : \"Allow\",\n    \"Principal\" : {{\n      \"AWS\" : \"arn:aws:iam::{}:root\"\n    }},\n    \"Action\" : \"kms:*\",\n    \"Resource\" : \"*\"\n  }} ]\n}}",
            self.settings().account_id
        )
    }

    /// The policies replaced with PutKeyPolicy, by Region and key (for
    /// the store).
    pub fn key_policies(&self) -> &KeyPolicies {
        &self.policies
    }

    /// Puts back the replaced policies (the store, at open).
    pub fn set_key_policies(&mut self, policies: KeyPolicies) {
        self.policies = policies;
    }

    /// The replaced policy of key `id` of the active Region, if any.
    fn replaced_policy(&self, id: KeyId) -> Option<&String> {
        self.policies.get(&(self.region().to_string(), id))
    }

    /// Replaces the policy of key `id` of the active Region.
    pub(crate) fn replace_policy(&mut self, id: KeyId, policy: String) {
        let region = self.region().to_string();
        self.policies.insert((region, id), policy);
    }

    /// Checks a policy given to CreateKey (as PutKeyPolicy checks one).
    pub fn check_key_policy(policy: &str) -> KmsResult<()> {
        check_len("policy", policy, 1, MAX_POLICY)?;
        check_policy_document(policy)
    }

    /// Gives the key just created the policy CreateKey was given (checked
    /// with [`Kms::check_key_policy`] before it was created).
    pub fn adopt_key_policy(&mut self, id: KeyId, policy: String) {
        if self.state.keys.contains_key(&id) {
            self.replace_policy(id, policy);
            self.changed();
        }
    }

    /// The policy in force for key `id` (replaced, or the default).
    pub fn key_policy_of(&self, id: KeyId) -> String {
        match self.replaced_policy(id) {
            Some(p) => p.clone(),
            None => self.default_key_policy(),
        }
    }

    /// GetKeyPolicy: the key's policy and its name.
    pub fn get_key_policy(
        &mut self,
        caller: &Caller,
        key_id: &str,
        policy_name: Option<&str>,
    ) -> KmsResult<(String, String)> {
        let params = json!({"keyId": key_id, "policyName": policy_name});
        self.call(caller, "GetKeyPolicy", true, params, |kms, call| {
            let name = check_policy_name(policy_name)?;
            let id = kms.resolve("keyId", key_id, false)?;
            call.key(id);
            kms.require_state(id, ALL_STATES)?;
            let policy = match kms.replaced_policy(id) {
                Some(p) => p.clone(),
                None => kms.default_key_policy(),
            };
            Ok((policy, name.to_string()))
        })
    }

    /// PutKeyPolicy: replaces the key's policy with a JSON policy document.
    pub fn put_key_policy(
        &mut self,
        caller: &Caller,
        key_id: &str,
        policy_name: Option<&str>,
        policy: &str,
        bypass_lockout_check: bool,
    ) -> KmsResult<()> {
        // CloudTrail records the policy document of a PutKeyPolicy.
        let params = json!({
            "keyId": key_id,
            "policyName": policy_name,
            "policy": policy,
            "bypassPolicyLockoutSafetyCheck": bypass_lockout_check,
        });
        self.call(caller, "PutKeyPolicy", false, params, |kms, call| {
            check_len("policy", policy, 1, MAX_POLICY)?;
            check_policy_name(policy_name)?;
            let id = kms.resolve("keyId", key_id, false)?;
            call.key(id);
            kms.require_state(id, ALL_STATES)?;
            check_policy_document(policy)?;
            kms.replace_policy(id, policy.to_string());
            kms.changed();
            Ok(())
        })
    }

    /// ListKeyPolicies: always `["default"]`.
    pub fn list_key_policies(&mut self, caller: &Caller, key_id: &str) -> KmsResult<Vec<String>> {
        let params = json!({"keyId": key_id});
        self.call(caller, "ListKeyPolicies", true, params, |kms, call| {
            let id = kms.resolve("keyId", key_id, false)?;
            call.key(id);
            kms.require_state(id, ALL_STATES)?;
            Ok(vec![DEFAULT_POLICY_NAME.to_string()])
        })
    }
}

/// `PolicyName` is optional and, when given, must be `default`. AWS
/// publishes no answer for another name; byok refuses it as not found.
fn check_policy_name(name: Option<&str>) -> KmsResult<&str> {
    match name {
        None => Ok(DEFAULT_POLICY_NAME),
        Some(n) => {
            check_len("policyName", n, 1, 128)?;
            if n == DEFAULT_POLICY_NAME {
                Ok(DEFAULT_POLICY_NAME)
            } else {
                Err(KmsError::new(
                    ErrorKind::NotFound,
                    format!(
                        "The key policy '{n}' does not exist: the only key policy name is \"default\"."
                    ),
                ))
            }
        }
    }
}

/// A policy document is a JSON object with a `Statement` (the IAM policy
/// grammar); byok checks that much and no more.
fn check_policy_document(policy: &str) -> KmsResult<()> {
    let malformed = |why: &str| {
        KmsError::new(
            ErrorKind::MalformedPolicyDocument,
            format!("The policy document is not a key policy: {why}."),
        )
    };
    let v: Value = serde_json::from_str(policy).map_err(|_| malformed("it is not JSON"))?;
    let Some(doc) = v.as_object() else {
        return Err(malformed("it is not a JSON object"));
    };
    match doc.get("Statement") {
        Some(Value::Array(s)) if !s.is_empty() => Ok(()),
        Some(Value::Object(_)) => Ok(()),
        _ => Err(malformed("it has no Statement")),
    }
}
