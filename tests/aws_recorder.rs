//! The recorder of what byok asked AWS: every call except the plain reads
//! is recorded, CloudTrail-shaped, with AWS's request id; no secret (key
//! material, plaintext, data key, import token, public key, wrapped
//! material, ciphertext, the secret access key) reaches a record, raw, in
//! hex or in base64.

#[path = "aws_support/mod.rs"]
mod support;

use std::sync::{Arc, Mutex};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use byok::api::op;
use byok::api::shapes::*;
use byok::aws::{CallRecord, CallRecorder};
use byok::backend::send;
use support::*;

#[derive(Default)]
struct Collect(Mutex<Vec<CallRecord>>);

impl CallRecorder for Collect {
    fn record(&self, call: &CallRecord) {
        self.0.lock().unwrap().push(call.clone());
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

#[test]
fn no_secret_reaches_a_call_record() {
    let served = Served::start(0);
    let records = Arc::new(Collect::default());
    let b = served.backend().with_recorder(records.clone());

    let key = create_external(&b, "recorded").key_id;
    let p = params(&b, &key);
    let m = material();
    let wrapped = wrap(&p.public_key, &m);
    let id = import(&b, &key, &p.import_token, &wrapped, None, Some("vault A"))
        .expect("import")
        .key_material_id;
    describe(&b, &key);
    rotations(&b, &key);
    let plaintext = b"the officer's secret message".to_vec();
    let ct = send::<op::Encrypt>(
        &b,
        &EncryptInput {
            key_id: Some(key.clone()),
            plaintext: Some(byok::api::wire::Blob::copy_of(&plaintext)),
            encryption_context: Some([("Purpose".to_string(), "test".to_string())].into()),
            ..Default::default()
        },
    )
    .expect("Encrypt")
    .ciphertext_blob;
    let dk = send::<op::GenerateDataKey>(
        &b,
        &GenerateDataKeyInput {
            key_id: Some(key.clone()),
            number_of_bytes: Some(32),
            ..Default::default()
        },
    )
    .expect("GenerateDataKey");
    let data_key = dk.plaintext.clone().expect("Plaintext");
    send::<op::Decrypt>(
        &b,
        &DecryptInput {
            ciphertext_blob: Some(ct.clone()),
            encryption_context: Some([("Purpose".to_string(), "test".to_string())].into()),
            ..Default::default()
        },
    )
    .expect("Decrypt");
    // A refused call is recorded too.
    let _ = import(
        &b,
        &key,
        &p.import_token,
        &wrapped,
        Some("NEW_KEY_MATERIAL"),
        None,
    )
    .expect_err("the same bytes as new material");

    let recs = records.0.lock().unwrap().clone();
    let ops: Vec<&str> = recs.iter().map(|r| r.operation.as_str()).collect();
    assert_eq!(
        ops,
        [
            "CreateKey",
            "GetParametersForImport",
            "ImportKeyMaterial",
            "Encrypt",
            "GenerateDataKey",
            "Decrypt",
            "ImportKeyMaterial"
        ],
        "plain reads (DescribeKey, ListKeyRotations) are not recorded"
    );
    for r in &recs {
        assert_eq!(r.region, "us-east-1");
        assert_eq!(r.attempts, 1, "{r:?}");
        assert!(
            r.request_id.as_deref().is_some_and(|id| !id.is_empty()),
            "{r:?}"
        );
    }
    let import_rec = &recs[2];
    assert_eq!(import_rec.request_parameters["keyId"], key);
    assert_eq!(
        import_rec.request_parameters["expirationModel"],
        "KEY_MATERIAL_DOES_NOT_EXPIRE"
    );
    assert_eq!(
        import_rec.request_parameters["keyMaterialDescription"],
        "vault A"
    );
    assert_eq!(
        import_rec.response_elements.as_ref().expect("elements")["keyMaterialId"],
        id
    );
    assert_eq!(
        recs[3].request_parameters["encryptionContext"]["Purpose"],
        "test"
    );
    let refused = &recs[6];
    assert_eq!(
        refused.error_code.as_deref(),
        Some("IncorrectKeyMaterialException")
    );
    assert_eq!(refused.request_parameters["importType"], "NEW_KEY_MATERIAL");
    let event = recs[2].to_cloudtrail_event();
    assert_eq!(event["eventName"], "ImportKeyMaterial");
    assert_eq!(event["eventSource"], "kms.amazonaws.com");
    assert_eq!(event["awsRegion"], "us-east-1");
    assert_eq!(event["requestID"], recs[2].request_id.clone().unwrap());

    // Everything a record shows: its JSON, its CloudTrail form, its Debug.
    let mut text = String::new();
    for r in &recs {
        text.push_str(&serde_json::to_string(r).unwrap());
        text.push_str(&r.to_cloudtrail_event().to_string());
        text.push_str(&format!("{r:?}"));
    }
    let secrets: Vec<(&str, Vec<u8>)> = vec![
        ("key material", m.to_vec()),
        ("plaintext", plaintext.clone()),
        ("data key", data_key.bytes().to_vec()),
        ("import token", p.import_token.bytes().to_vec()),
        ("public key", p.public_key.bytes().to_vec()),
        ("wrapped material", wrapped.bytes().to_vec()),
        ("ciphertext", ct.bytes().to_vec()),
        ("secret access key", served.secret.as_bytes().to_vec()),
    ];
    for (what, secret) in &secrets {
        let needle_b64 = B64.encode(secret);
        // A 16-byte stretch is enough to recognise any of them.
        let part = &secret[..secret.len().min(16)];
        assert!(
            !text.as_bytes().windows(part.len()).any(|w| w == part),
            "{what} (raw) in a record"
        );
        assert!(!text.contains(&hex(part)), "{what} (hex) in a record");
        assert!(
            !text.contains(&needle_b64[..needle_b64.len().min(20)]),
            "{what} (base64) in a record"
        );
    }
}
