//! The catalog of a remote backend: ListKeys a page at a time, two calls
//! per key described, and the keys byok does not manage (AWS managed keys,
//! keys in a custom key store, key types this version does not manage)
//! listed read-only with the reason, their buttons refused.
//!
//! The answers are written in the shapes of the AWS KMS API Reference
//! (ListKeys, DescribeKey's KeyMetadata: `KeyManager` "AWS | CUSTOMER",
//! `Origin` "AWS_KMS | EXTERNAL | AWS_CLOUDHSM | EXTERNAL_KEY_STORE",
//! `CustomKeyStoreId`, `KeySpec`), served by a fake backend that counts calls.

use std::collections::HashMap;
use std::sync::Mutex;

use byok::api::{ApiError, Body};
use byok::backend::catalog::Catalog;
use byok::backend::{Backend, BackendError, BackendInfo, BackendKind};
use byok::kms::Timestamp;
use byok::ui::view::KeyView;
use serde_json::{Value, json};

const ACCOUNT: &str = "111122223333";

fn arn(id: &str) -> String {
    format!("arn:aws:kms:us-west-2:{ACCOUNT}:key/{id}")
}

/// Answers ListKeys (pages of `page`), ListAliases, DescribeKey and
/// ListKeyRotations from a table of key metadata; counts calls.
struct Fake {
    keys: Vec<Value>,
    page: usize,
    calls: Mutex<HashMap<String, usize>>,
}

impl Backend for Fake {
    fn call(&self, operation: &str, request: &[u8]) -> Result<Body, BackendError> {
        *self
            .calls
            .lock()
            .unwrap()
            .entry(operation.to_string())
            .or_default() += 1;
        let req: Value = serde_json::from_slice(request).unwrap_or(json!({}));
        let out = match operation {
            "ListKeys" => {
                let start: usize = req["Marker"].as_str().map_or(0, |m| m.parse().unwrap());
                let end = (start + self.page).min(self.keys.len());
                let keys: Vec<Value> = self.keys[start..end]
                    .iter()
                    .map(|k| json!({"KeyId": k["KeyId"], "KeyArn": k["Arn"]}))
                    .collect();
                let more = end < self.keys.len();
                let mut out = json!({"Keys": keys, "Truncated": more});
                if more {
                    out["NextMarker"] = json!(end.to_string());
                }
                out
            }
            "ListAliases" => json!({"Aliases": [
                {"AliasName": "alias/aws/s3", "AliasArn": format!("arn:aws:kms:us-west-2:{ACCOUNT}:alias/aws/s3"),
                 "TargetKeyId": "0000aaaa-0000-4000-8000-000000000001"}
            ], "Truncated": false}),
            "DescribeKey" => {
                let id = req["KeyId"].as_str().unwrap();
                let k = self
                    .keys
                    .iter()
                    .find(|k| k["Arn"] == id || k["KeyId"] == id)
                    .ok_or_else(|| {
                        BackendError::Service(ApiError::new(
                            "NotFoundException",
                            format!("Key '{id}' does not exist"),
                            400,
                        ))
                    })?;
                json!({"KeyMetadata": k})
            }
            "ListKeyRotations" => json!({"Rotations": [], "Truncated": false}),
            other => panic!("unexpected {other}"),
        };
        Ok(zeroize::Zeroizing::new(serde_json::to_vec(&out).unwrap()))
    }

    fn info(&self) -> BackendInfo {
        BackendInfo {
            kind: BackendKind::Aws,
            account: Some(ACCOUNT.into()),
            region: "us-west-2".into(),
            regions: vec!["us-west-2".into()],
            profile: None,
            endpoint: None,
        }
    }
}

fn metadata(id: &str, manager: &str, origin: &str, spec: &str, store: Option<&str>) -> Value {
    let mut m = json!({
        "AWSAccountId": ACCOUNT, "KeyId": id, "Arn": arn(id), "CreationDate": 1.7e9,
        "Enabled": true, "Description": "", "KeyUsage": if spec == "SYMMETRIC_DEFAULT" {"ENCRYPT_DECRYPT"} else {"SIGN_VERIFY"},
        "KeyState": "Enabled", "Origin": origin, "KeyManager": manager,
        "CustomerMasterKeySpec": spec, "KeySpec": spec, "MultiRegion": false
    });
    if let Some(s) = store {
        m["CustomKeyStoreId"] = json!(s);
        m["CloudHsmClusterId"] = json!("cluster-1a23b4cdefg");
    }
    m
}

#[test]
fn keys_byok_does_not_manage_are_read_only_with_the_reason() {
    let keys = vec![
        metadata(
            "0000aaaa-0000-4000-8000-000000000001",
            "AWS",
            "AWS_KMS",
            "SYMMETRIC_DEFAULT",
            None,
        ),
        metadata(
            "0000aaaa-0000-4000-8000-000000000002",
            "CUSTOMER",
            "AWS_CLOUDHSM",
            "SYMMETRIC_DEFAULT",
            Some("cks-1234567890abcdef0"),
        ),
        metadata(
            "0000aaaa-0000-4000-8000-000000000003",
            "CUSTOMER",
            "AWS_KMS",
            "ML_DSA_65",
            None,
        ),
        metadata(
            "0000aaaa-0000-4000-8000-000000000004",
            "CUSTOMER",
            "EXTERNAL",
            "SYMMETRIC_DEFAULT",
            None,
        ),
    ];
    let fake = Fake {
        keys,
        page: 3,
        calls: Mutex::default(),
    };
    let mut c = Catalog::default();
    assert_eq!(c.list_next_page(&fake).unwrap(), 3);
    assert!(!c.complete());
    assert_eq!(c.list_next_page(&fake).unwrap(), 1);
    assert!(c.complete());
    assert_eq!(c.list_next_page(&fake).unwrap(), 0, "nothing more to list");
    c.load_aliases(&fake).unwrap();
    let now = Timestamp::from_secs(1_800_000_000);
    for i in 1..=4 {
        c.describe(
            &fake,
            &arn(&format!("0000aaaa-0000-4000-8000-00000000000{i}")),
            false,
            now,
        )
        .unwrap();
    }
    let calls = fake.calls.lock().unwrap().clone();
    assert_eq!(calls["ListKeys"], 2, "a page at a time");
    assert_eq!(calls["DescribeKey"], 4);
    assert_eq!(
        calls.get("ListKeyRotations").copied(),
        Some(1),
        "only the key byok manages has its materials listed: at most two calls per key"
    );
    let views: Vec<KeyView> = c
        .keys()
        .iter()
        .map(|r| KeyView::from_record(r, now))
        .collect();
    let reason = |i: usize| views[i].readonly.clone().unwrap_or_default();
    assert!(reason(0).contains("AWS managed key"), "{}", reason(0));
    assert_eq!(views[0].label, "alias/aws/s3");
    assert!(
        reason(1).contains("custom key store cks-1234567890abcdef0"),
        "{}",
        reason(1)
    );
    assert!(reason(2).contains("KeySpec ML_DSA_65"), "{}", reason(2));
    assert!(
        views[3].readonly.is_none(),
        "an EXTERNAL symmetric key is managed"
    );
    for v in &views[..3] {
        for verdict in [
            &v.verdicts.rotate,
            &v.verdicts.set_enabled,
            &v.verdicts.get_parameters,
            &v.verdicts.schedule_deletion,
        ] {
            let e = verdict.as_ref().expect_err("refused");
            assert_eq!(e.aws_name(), "UnsupportedOperationException");
        }
    }
    assert!(views[3].verdicts.get_parameters.is_ok());
}

#[test]
fn a_key_that_cannot_be_described_keeps_its_error() {
    let fake = Fake {
        keys: vec![],
        page: 10,
        calls: Mutex::default(),
    };
    let mut c = Catalog::default();
    let gone = arn("0000aaaa-0000-4000-8000-00000000000f");
    let err = c
        .describe(&fake, &gone, true, Timestamp::from_secs(1))
        .expect_err("not found");
    assert_eq!(err.aws_name(), Some("NotFoundException"));
    let v = KeyView::from_record(c.key(&gone).unwrap(), Timestamp::from_secs(1));
    assert_eq!(
        v.error.as_ref().and_then(|e| e.aws_name.as_deref()),
        Some("NotFoundException")
    );
}
