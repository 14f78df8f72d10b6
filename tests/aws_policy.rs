//! The officer's IAM policy (assets/aws-officer-policy.json) against what
//! the AWS backend really sends: every operation it can send maps to an
//! action the policy allows, and the policy allows nothing it never calls.
//! Resource types as the AWS KMS developer guide's permissions reference
//! gives them: key actions on `key/*`; CreateAlias, UpdateAlias and
//! DeleteAlias on both the alias and the key; CreateKey, ListKeys,
//! ListAliases, GenerateRandom and DescribeCustomKeyStores only on `*`
//! (they name no key);
//! `cloudtrail:LookupEvents` has no resource-level permissions.

use std::collections::BTreeSet;

use byok::aws::OPERATIONS;
use byok::aws::policy::{CLOUDTRAIL_ACTION, all_actions, iam_actions};
use serde_json::Value;

fn policy() -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/assets/aws-officer-policy.json"
    );
    serde_json::from_slice(&std::fs::read(path).expect("the policy file")).expect("JSON")
}

fn list(v: &Value) -> Vec<String> {
    match v {
        Value::String(s) => vec![s.clone()],
        Value::Array(a) => a
            .iter()
            .map(|s| s.as_str().expect("a string").to_string())
            .collect(),
        other => panic!("not a string or a list: {other}"),
    }
}

/// (action, resource) pairs the policy allows.
fn grants() -> BTreeSet<(String, String)> {
    let p = policy();
    assert_eq!(p["Version"], "2012-10-17");
    let mut out = BTreeSet::new();
    for s in p["Statement"].as_array().expect("Statement") {
        assert_eq!(s["Effect"], "Allow");
        assert!(s.get("NotAction").is_none() && s.get("NotResource").is_none());
        for a in list(&s["Action"]) {
            assert!(!a.contains('*'), "no wildcard actions: {a}");
            for r in list(&s["Resource"]) {
                out.insert((a.clone(), r));
            }
        }
    }
    out
}

const KEYS: &str = "arn:aws:kms:*:*:key/*";
const ALIASES: &str = "arn:aws:kms:*:*:alias/*";
const ANY: &str = "*";

#[test]
fn every_operation_the_backend_sends_is_allowed_and_nothing_else() {
    let grants = grants();
    let allowed: BTreeSet<String> = grants.iter().map(|(a, _)| a.clone()).collect();
    for op in OPERATIONS {
        for action in iam_actions(op) {
            assert!(allowed.contains(&action), "{op} needs {action}");
        }
    }
    assert!(allowed.contains(CLOUDTRAIL_ACTION));
    let needed: BTreeSet<String> = all_actions().into_iter().collect();
    let extra: Vec<_> = allowed.difference(&needed).collect();
    assert!(
        extra.is_empty(),
        "the policy allows actions byok never calls: {extra:?}"
    );
    assert_eq!(allowed, needed);
}

#[test]
fn each_action_is_granted_on_its_own_resource_type_only() {
    let grants = grants();
    let account_level = [
        "kms:CreateKey",
        "kms:ListKeys",
        "kms:ListAliases",
        "kms:GenerateRandom",
        "kms:DescribeCustomKeyStores",
        CLOUDTRAIL_ACTION,
    ];
    let alias_level = ["kms:CreateAlias", "kms:UpdateAlias", "kms:DeleteAlias"];
    for (action, resource) in &grants {
        let a = action.as_str();
        if account_level.contains(&a) {
            assert_eq!(resource, ANY, "{a}");
        } else if alias_level.contains(&a) {
            assert!(resource == KEYS || resource == ALIASES, "{a} on {resource}");
        } else {
            assert_eq!(resource, KEYS, "{a} is a key action");
        }
    }
    for a in alias_level {
        assert!(
            grants.contains(&(a.to_string(), KEYS.to_string())),
            "{a} on the key"
        );
        assert!(
            grants.contains(&(a.to_string(), ALIASES.to_string())),
            "{a} on the alias"
        );
    }
}

#[test]
fn re_encrypt_needs_both_halves() {
    assert_eq!(
        iam_actions("ReEncrypt"),
        ["kms:ReEncryptFrom", "kms:ReEncryptTo"]
    );
    assert_eq!(iam_actions("ImportKeyMaterial"), ["kms:ImportKeyMaterial"]);
}
