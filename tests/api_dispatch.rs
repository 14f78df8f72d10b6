//! The wire layer: the announcement's steps 1–7 through `byok::api::dispatch`
//! with JSON bodies as the AWS CLI sends them (PascalCase members, base64
//! blobs, epoch-second timestamps), its error shapes, and one audit record
//! per dispatched call.

mod common;

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use byok::api::ApiError;
use byok::kms::material::key_material_id;
use byok::kms::{AuditRecord, CallSource, Caller, WrappingAlgorithm, wrap_material};
use common::*;
use serde_json::{Value, json};

/// An engine reached through the protocol, as `byok serve` reaches it.
struct Api {
    h: Harness,
    caller: Caller,
    trail: Vec<AuditRecord>,
}

impl Api {
    fn new() -> Self {
        Self {
            h: Harness::new(),
            caller: Caller {
                source: CallSource::Api,
                access_key_id: Some("AKIAIOSFODNN7EXAMPLE".into()),
                user_agent: Some("aws-cli/2.27.0 md/command#kms.describe-key".into()),
                source_ip: Some("127.0.0.1".into()),
                region: None,
            },
            trail: Vec::new(),
        }
    }

    /// Dispatches raw bytes and checks the call left exactly one audit
    /// record of itself (after any service events it applied).
    #[track_caller]
    fn raw(&mut self, operation: &str, body: &[u8]) -> Result<Value, ApiError> {
        let result = byok::api::dispatch(&mut self.h.kms, &self.caller, operation, body);
        let records = self.h.kms.take_audit_records();
        let calls: Vec<&AuditRecord> = records
            .iter()
            .filter(|r| r.event_type == "AwsApiCall")
            .collect();
        assert_eq!(
            calls.len(),
            1,
            "{operation}: one audit record per call, got {records:#?}"
        );
        let record = records.last().unwrap();
        assert_eq!(
            record.event_type, "AwsApiCall",
            "the call's record comes after its service events"
        );
        assert_eq!(record.event_name, operation);
        assert_eq!(record.event_time, self.h.now().to_rfc3339());
        assert_eq!(record.user_identity.invoked_by, "api");
        assert_eq!(
            record.user_identity.access_key_id.as_deref(),
            Some("AKIAIOSFODNN7EXAMPLE")
        );
        assert_eq!(record.source_ip_address.as_deref(), Some("127.0.0.1"));
        assert_eq!(record.user_agent, self.caller.user_agent);
        match &result {
            Ok(_) => assert_eq!(record.error_code, None, "{operation}"),
            Err(e) => {
                assert_eq!(record.error_code.as_deref(), Some(e.error_type.as_str()));
                assert_eq!(record.error_message.as_deref(), Some(e.message.as_str()));
            }
        }
        self.trail.extend(records);
        result.map(|body| serde_json::from_slice(&body).expect("the response is JSON"))
    }

    #[track_caller]
    fn call(&mut self, operation: &str, body: Value) -> Result<Value, ApiError> {
        self.raw(operation, body.to_string().as_bytes())
    }

    #[track_caller]
    fn ok(&mut self, operation: &str, body: Value) -> Value {
        self.call(operation, body)
            .unwrap_or_else(|e| panic!("{operation} failed: {e:?}"))
    }

    #[track_caller]
    fn err(&mut self, operation: &str, body: Value) -> ApiError {
        match self.call(operation, body) {
            Ok(v) => panic!("{operation} should fail, got {v}"),
            Err(e) => e,
        }
    }
}

fn b64(bytes: &[u8]) -> String {
    STANDARD.encode(bytes)
}

fn unb64(v: &Value) -> Vec<u8> {
    STANDARD
        .decode(v.as_str().expect("a base64 string"))
        .expect("base64")
}

/// The `{"__type", "message"}` body the endpoint sends.
#[track_caller]
fn assert_error(e: &ApiError, error_type: &str, message: &str) {
    assert_eq!(e.status, 400, "{e:?}");
    let body: Value = serde_json::from_slice(&e.to_json()).unwrap();
    // AWS leaves `message` out when it is empty (see tests/api_fidelity.rs).
    let expected = if message.is_empty() {
        json!({"__type": error_type})
    } else {
        json!({"__type": error_type, "message": message})
    };
    assert_eq!(body, expected);
}

fn epoch(t: byok::kms::Timestamp) -> Value {
    json!(t.millis() / 1000)
}

#[test]
fn the_announcement_through_the_protocol() {
    let mut api = Api::new();

    // Step 1: aws kms create-key --origin EXTERNAL --description "imported key"
    let created = api.ok(
        "CreateKey",
        json!({"Origin": "EXTERNAL", "Description": "imported key"}),
    );
    let md = &created["KeyMetadata"];
    let key_id = md["KeyId"].as_str().unwrap().to_string();
    let key = byok::kms::KeyId::parse(&key_id).expect("KeyMetadata.KeyId is the bare key id");
    let arn = format!("arn:aws:kms:us-east-1:000000000000:key/{key_id}");
    assert_eq!(md["Arn"], json!(arn));
    assert_eq!(md["AWSAccountId"], json!("000000000000"));
    assert_eq!(md["KeyState"], json!("PendingImport"));
    assert_eq!(md["Enabled"], json!(false));
    assert_eq!(md["Origin"], json!("EXTERNAL"));
    assert_eq!(md["Description"], json!("imported key"));
    assert_eq!(md["KeySpec"], json!("SYMMETRIC_DEFAULT"));
    assert_eq!(md["KeyUsage"], json!("ENCRYPT_DECRYPT"));
    assert_eq!(md["KeyManager"], json!("CUSTOMER"));
    assert_eq!(md["EncryptionAlgorithms"], json!(["SYMMETRIC_DEFAULT"]));
    assert_eq!(md["MultiRegion"], json!(false));
    assert_eq!(md["CreationDate"], epoch(START));
    for absent in [
        "ExpirationModel",
        "ValidTo",
        "CurrentKeyMaterialId",
        "DeletionDate",
    ] {
        assert!(
            md.get(absent).is_none(),
            "{absent} is absent before the first import: {md}"
        );
    }

    // aws kms get-parameters-for-import --wrapping-algorithm RSAES_OAEP_SHA_256 --wrapping-key-spec RSA_4096
    let params1 = api.ok(
        "GetParametersForImport",
        json!({"KeyId": key_id, "WrappingAlgorithm": "RSAES_OAEP_SHA_256", "WrappingKeySpec": "RSA_4096"}),
    );
    assert_eq!(
        params1["KeyId"],
        json!(arn),
        "operation outputs name the key by ARN"
    );
    let public_key1 = unb64(&params1["PublicKey"]);
    assert_eq!(public_key1.len(), 550);
    let token1 = unb64(&params1["ImportToken"]);
    assert_eq!(
        params1["ParametersValidTo"],
        epoch(START.plus(Duration::from_secs(86_400)))
    );
    let material1 = api.h.material();
    let wrapped1 = wrap_material(
        &public_key1,
        WrappingAlgorithm::RsaesOaepSha256,
        &material1,
        &mut api.h.rng,
    )
    .unwrap();

    // aws kms import-key-material ... --expiration-model KEY_MATERIAL_DOES_NOT_EXPIRE --key-material-description ...
    let import1 = json!({
        "KeyId": key_id,
        "ImportToken": b64(&token1),
        "EncryptedKeyMaterial": b64(&wrapped1),
        "ExpirationModel": "KEY_MATERIAL_DOES_NOT_EXPIRE",
        "KeyMaterialDescription": "KeyMaterial1 kept in HSM vault A",
    });
    let imported1 = api.ok("ImportKeyMaterial", import1.clone());
    let m1 = key_material_id(key, &material1).to_string();
    assert_eq!(imported1, json!({"KeyId": arn, "KeyMaterialId": m1}));

    let described = api.ok("DescribeKey", json!({"KeyId": key_id}));
    let md = &described["KeyMetadata"];
    assert_eq!(md["KeyId"], json!(key_id));
    assert_eq!(md["KeyState"], json!("Enabled"));
    assert_eq!(md["Enabled"], json!(true));
    assert_eq!(md["CurrentKeyMaterialId"], json!(m1));
    assert_eq!(md["ExpirationModel"], json!("KEY_MATERIAL_DOES_NOT_EXPIRE"));
    assert!(md.get("ValidTo").is_none());

    let rotations = api.ok(
        "ListKeyRotations",
        json!({"KeyId": key_id, "IncludeKeyMaterial": "ALL_KEY_MATERIAL"}),
    );
    assert_eq!(
        rotations,
        json!({
            "Rotations": [{
                "KeyId": key_id,
                "KeyMaterialId": m1,
                "KeyMaterialDescription": "KeyMaterial1 kept in HSM vault A",
                "ImportState": "IMPORTED",
                "KeyMaterialState": "CURRENT",
                "ExpirationModel": "KEY_MATERIAL_DOES_NOT_EXPIRE",
            }],
            "Truncated": false,
        })
    );

    // Step 2: aws kms generate-data-key --key-spec AES_256; aws kms decrypt
    let dk1 = api.ok(
        "GenerateDataKey",
        json!({"KeyId": key_id, "KeySpec": "AES_256"}),
    );
    assert_eq!(dk1["KeyId"], json!(arn));
    assert_eq!(dk1["KeyMaterialId"], json!(m1));
    let plain1 = unb64(&dk1["Plaintext"]);
    assert_eq!(plain1.len(), 32);
    let ciphertext1 = dk1["CiphertextBlob"].clone();
    let d1 = api.ok("Decrypt", json!({"CiphertextBlob": ciphertext1}));
    assert_eq!(unb64(&d1["Plaintext"]), plain1);
    assert_eq!(d1["KeyMaterialId"], json!(m1));
    assert_eq!(d1["KeyId"], json!(arn));
    assert_eq!(d1["EncryptionAlgorithm"], json!("SYMMETRIC_DEFAULT"));

    // Step 3: a second material, NEW_KEY_MATERIAL, with a ValidTo in epoch seconds.
    let params2 = api.ok(
        "GetParametersForImport",
        json!({"KeyId": arn, "WrappingAlgorithm": "RSA_AES_KEY_WRAP_SHA_256", "WrappingKeySpec": "RSA_3072"}),
    );
    let public_key2 = unb64(&params2["PublicKey"]);
    assert_eq!(public_key2.len(), 422);
    let material2 = api.h.material();
    let wrapped2 = wrap_material(
        &public_key2,
        WrappingAlgorithm::RsaAesKeyWrapSha256,
        &material2,
        &mut api.h.rng,
    )
    .unwrap();
    let valid_to = START.plus(byok::kms::clock::days(200));
    let imported2 = api.ok(
        "ImportKeyMaterial",
        json!({
            "KeyId": key_id,
            "ImportToken": params2["ImportToken"],
            "EncryptedKeyMaterial": b64(&wrapped2),
            "ExpirationModel": "KEY_MATERIAL_EXPIRES",
            "ValidTo": valid_to.millis() / 1000,
            "ImportType": "NEW_KEY_MATERIAL",
            "KeyMaterialDescription": "KeyMaterial2 kept in HSM vault A",
        }),
    );
    let m2 = key_material_id(key, &material2).to_string();
    assert_eq!(imported2["KeyMaterialId"], json!(m2));
    let rotations = api.ok(
        "ListKeyRotations",
        json!({"KeyId": key_id, "IncludeKeyMaterial": "ALL_KEY_MATERIAL"}),
    );
    let entries = rotations["Rotations"].as_array().unwrap();
    assert_eq!(entries.len(), 2);
    assert_eq!(entries[1]["KeyMaterialId"], json!(m2));
    assert_eq!(entries[1]["KeyMaterialState"], json!("PENDING_ROTATION"));
    assert_eq!(entries[1]["ExpirationModel"], json!("KEY_MATERIAL_EXPIRES"));
    assert_eq!(entries[1]["ValidTo"], epoch(valid_to));
    assert!(entries[1].get("RotationDate").is_none());
    // the key-level expiry ignores a material that is only pending
    let md = api.ok("DescribeKey", json!({"KeyId": key_id}))["KeyMetadata"].clone();
    assert_eq!(md["ExpirationModel"], json!("KEY_MATERIAL_DOES_NOT_EXPIRE"));
    assert!(md.get("ValidTo").is_none());

    // Step 4: aws kms rotate-key-on-demand; poll get-key-rotation-status.
    api.h.advance(Duration::from_millis(1500));
    let started = api.h.now();
    let rotated = api.ok("RotateKeyOnDemand", json!({"KeyId": key_id}));
    assert_eq!(rotated, json!({"KeyId": arn}));
    let status = api.ok("GetKeyRotationStatus", json!({"KeyId": key_id}));
    assert_eq!(
        status,
        json!({"KeyRotationEnabled": false, "KeyId": arn, "OnDemandRotationStartDate": started.epoch_seconds()})
    );
    assert!(
        status["OnDemandRotationStartDate"].is_f64(),
        "a fraction: {status}"
    );
    api.h.advance(Duration::from_secs(3));
    let status = api.ok("GetKeyRotationStatus", json!({"KeyId": key_id}));
    assert_eq!(status, json!({"KeyRotationEnabled": false, "KeyId": arn}));
    let rotate_events: Vec<&AuditRecord> = api
        .trail
        .iter()
        .filter(|r| r.event_name == "RotateKey")
        .collect();
    assert_eq!(rotate_events.len(), 1);
    assert_eq!(rotate_events[0].event_type, "AwsServiceEvent");
    assert_eq!(
        rotate_events[0].additional("currentKeyMaterialId"),
        Some(m2.as_str())
    );

    let md = api.ok("DescribeKey", json!({"KeyId": arn}))["KeyMetadata"].clone();
    assert_eq!(md["CurrentKeyMaterialId"], json!(m2));
    assert_eq!(md["ExpirationModel"], json!("KEY_MATERIAL_EXPIRES"));
    assert_eq!(md["ValidTo"], epoch(valid_to));
    let rotations = api.ok(
        "ListKeyRotations",
        json!({"KeyId": key_id, "IncludeKeyMaterial": "ALL_KEY_MATERIAL"}),
    );
    let entries = rotations["Rotations"].as_array().unwrap();
    assert_eq!(entries[0]["KeyMaterialId"], json!(m1));
    assert_eq!(entries[0]["KeyMaterialState"], json!("NON_CURRENT"));
    assert_eq!(entries[1]["KeyMaterialId"], json!(m2));
    assert_eq!(entries[1]["KeyMaterialState"], json!("CURRENT"));
    assert_eq!(entries[1]["RotationType"], json!("ON_DEMAND"));
    assert_eq!(
        entries[1]["RotationDate"],
        json!(started.plus(Duration::from_secs(3)).epoch_seconds())
    );
    let only = api.ok("ListKeyRotations", json!({"KeyId": key_id}));
    assert_eq!(
        only["Rotations"].as_array().unwrap().len(),
        1,
        "ROTATIONS_ONLY by default"
    );
    assert_eq!(only["Rotations"][0]["KeyMaterialId"], json!(m2));

    // Step 5: new data keys use material 2; ciphertext 1 still decrypts with material 1.
    let dk2 = api.ok(
        "GenerateDataKey",
        json!({"KeyId": key_id, "KeySpec": "AES_256"}),
    );
    assert_eq!(dk2["KeyMaterialId"], json!(m2));
    let ciphertext2 = dk2["CiphertextBlob"].clone();
    assert_eq!(
        api.ok("Decrypt", json!({"CiphertextBlob": ciphertext1}))["KeyMaterialId"],
        json!(m1)
    );

    // Step 6: aws kms delete-imported-key-material --key-material-id $KEY_MATERIAL1_ID
    let deleted = api.ok(
        "DeleteImportedKeyMaterial",
        json!({"KeyId": key_id, "KeyMaterialId": m1}),
    );
    assert_eq!(deleted, json!({"KeyId": arn, "KeyMaterialId": m1}));
    let e = api.err("Decrypt", json!({"CiphertextBlob": ciphertext2}));
    assert_error(
        &e,
        "KMSInvalidStateException",
        &format!("{arn} is pending import."),
    );
    let md = api.ok("DescribeKey", json!({"KeyId": key_id}))["KeyMetadata"].clone();
    assert_eq!(md["KeyState"], json!("PendingImport"));
    assert_eq!(md["Enabled"], json!(false));

    // Step 7: the same wrapped blob and token, EXISTING_KEY_MATERIAL.
    let mut again = import1.clone();
    again["ImportType"] = json!("EXISTING_KEY_MATERIAL");
    again
        .as_object_mut()
        .unwrap()
        .remove("KeyMaterialDescription");
    assert_eq!(
        api.ok("ImportKeyMaterial", again),
        json!({"KeyId": arn, "KeyMaterialId": m1})
    );
    let md = api.ok("DescribeKey", json!({"KeyId": key_id}))["KeyMetadata"].clone();
    assert_eq!(md["KeyState"], json!("Enabled"));
    assert_eq!(
        unb64(&api.ok("Decrypt", json!({"CiphertextBlob": ciphertext1}))["Plaintext"]),
        plain1
    );
    assert_eq!(
        api.ok("Decrypt", json!({"CiphertextBlob": ciphertext2}))["KeyMaterialId"],
        json!(m2)
    );

    // aws kms list-keys
    let other = api.ok("CreateKey", json!({}));
    let other_id = other["KeyMetadata"]["KeyId"].as_str().unwrap().to_string();
    assert_eq!(other["KeyMetadata"]["Origin"], json!("AWS_KMS"));
    assert_eq!(other["KeyMetadata"]["KeyState"], json!("Enabled"));
    let listed = api.ok("ListKeys", json!({}));
    let mut expected = vec![
        json!({"KeyId": key_id, "KeyArn": arn}),
        json!({"KeyId": other_id, "KeyArn": format!("arn:aws:kms:us-east-1:000000000000:key/{other_id}")}),
    ];
    expected.sort_by_key(|e| e["KeyId"].as_str().unwrap().to_string());
    assert_eq!(listed, json!({"Keys": expected, "Truncated": false}));

    byok::kms::audit::verify_chain(&api.trail).expect("the trail verifies");
}

#[test]
fn encrypt_and_the_key_identifier_forms() {
    let mut api = Api::new();
    let (key, _) = api.h.enabled_external();
    api.h.kms.take_audit_records();
    let arn = api.h.arn(key);
    let caller = api.h.caller.clone();
    api.h
        .kms
        .create_alias(&caller, "alias/payroll", &key.to_string())
        .unwrap();
    api.h.kms.take_audit_records();
    let context = json!({"Department": "Finance"});
    for id in [
        key.to_string(),
        arn.clone(),
        "alias/payroll".to_string(),
        api.h.kms.alias_arn("alias/payroll"),
    ] {
        let out = api.ok(
            "Encrypt",
            json!({"KeyId": id, "Plaintext": b64(b"Hello, world"), "EncryptionContext": context}),
        );
        assert_eq!(out["KeyId"], json!(arn));
        assert_eq!(out["EncryptionAlgorithm"], json!("SYMMETRIC_DEFAULT"));
        assert!(
            out.get("KeyMaterialId").is_none(),
            "Encrypt's output has no KeyMaterialId"
        );
        let back = api.ok(
            "Decrypt",
            json!({"CiphertextBlob": out["CiphertextBlob"], "EncryptionContext": context, "KeyId": id}),
        );
        assert_eq!(unb64(&back["Plaintext"]), b"Hello, world");
        let wrong = api.err("Decrypt", json!({"CiphertextBlob": out["CiphertextBlob"]}));
        assert_error(&wrong, "InvalidCiphertextException", "");
    }
    let md = api.ok("DescribeKey", json!({"KeyId": "alias/payroll"}))["KeyMetadata"].clone();
    assert_eq!(md["KeyId"], json!(key.to_string()));
}

#[test]
fn protocol_errors_and_their_audit_records() {
    let mut api = Api::new();
    let (key, _) = api.h.enabled_external();
    api.h.kms.take_audit_records();
    let key_id = key.to_string();

    // A missing required member.
    let e = api.err("DescribeKey", json!({}));
    assert_error(
        &e,
        "ValidationException",
        "1 validation error detected: Value null at 'keyId' failed to satisfy constraint: Member must not be null",
    );
    // An empty body is an empty request.
    let e = api.raw("DescribeKey", b"").unwrap_err();
    assert_eq!(e.error_type, "ValidationException");
    let e = api.err("Decrypt", json!({"EncryptionContext": {}}));
    assert_error(
        &e,
        "ValidationException",
        "1 validation error detected: Value null at 'ciphertextBlob' failed to satisfy constraint: Member must not be null",
    );
    let e = api.err(
        "GetParametersForImport",
        json!({"KeyId": key_id, "WrappingAlgorithm": "RSAES_OAEP_SHA_256"}),
    );
    assert_error(
        &e,
        "ValidationException",
        "1 validation error detected: Value null at 'wrappingKeySpec' failed to satisfy constraint: Member must not be null",
    );

    // Malformed JSON, a wrong type, a blob that is not base64.
    for (body, what) in [
        (&b"{\"KeyId\": "[..], "truncated JSON"),
        (&b"KeyId=abc"[..], "not JSON"),
        (&b"{\"KeyId\": 5}"[..], "a number for a string"),
        (&b"[\"KeyId\"]"[..], "an array"),
    ] {
        let e = api.raw("DescribeKey", body).unwrap_err();
        assert_eq!(e.error_type, "SerializationException", "{what}");
        assert_eq!(e.status, 400);
        assert!(
            e.message.starts_with("The request body could not be read"),
            "{what}: {}",
            e.message
        );
        let shape: Value = serde_json::from_slice(&e.to_json()).unwrap();
        assert_eq!(
            shape,
            json!({"__type": "SerializationException", "message": e.message})
        );
    }
    let e = api.err("Decrypt", json!({"CiphertextBlob": "not base64!"}));
    assert_eq!(e.error_type, "SerializationException");

    // An operation byok does not have.
    let e = api.err("CreateGrant", json!({"KeyId": key_id}));
    assert_error(
        &e,
        "UnknownOperationException",
        "byok does not implement the operation \"CreateGrant\"",
    );

    // Bad enumeration values.
    let e = api.err(
        "GetParametersForImport",
        json!({"KeyId": key_id, "WrappingAlgorithm": "RSAES_OAEP_SHA_256", "WrappingKeySpec": "RSA_1024"}),
    );
    assert_error(
        &e,
        "ValidationException",
        "1 validation error detected: Value 'RSA_1024' at 'wrappingKeySpec' failed to satisfy constraint: Member must satisfy enum value set: [RSA_2048, RSA_3072, RSA_4096]",
    );
    // AWS_CLOUDHSM is one of AWS's origins (OriginType in the AWS KMS API
    // Reference): valid, and refused only because byok does not model it.
    let e = api.err("CreateKey", json!({"Origin": "AWS_CLOUDHSM"}));
    assert_error(
        &e,
        "UnsupportedOperationException",
        "Origin AWS_CLOUDHSM is not supported: byok models AWS_KMS and EXTERNAL keys only.",
    );
    let e = api.err("CreateKey", json!({"Origin": "CLOUDHSM"}));
    assert_error(
        &e,
        "ValidationException",
        "1 validation error detected: Value 'CLOUDHSM' at 'origin' failed to satisfy constraint: Member must satisfy enum value set: [AWS_KMS, EXTERNAL, AWS_CLOUDHSM, EXTERNAL_KEY_STORE]",
    );
    let e = api.err(
        "ListKeyRotations",
        json!({"KeyId": key_id, "IncludeKeyMaterial": "EVERYTHING"}),
    );
    assert_error(
        &e,
        "ValidationException",
        "1 validation error detected: Value 'EVERYTHING' at 'includeKeyMaterial' failed to satisfy constraint: Member must satisfy enum value set: [ALL_KEY_MATERIAL, ROTATIONS_ONLY]",
    );
    // EncryptionAlgorithm: AWS's set (EncryptionAlgorithmSpec in the API
    // model); an RSA algorithm with a symmetric key is the key spec's
    // refusal (tests/engine_asym.rs).
    let e = api.err(
        "Encrypt",
        json!({"KeyId": key_id, "Plaintext": b64(b"x"), "EncryptionAlgorithm": "RSAES_OAEP_SHA_512"}),
    );
    assert_error(
        &e,
        "ValidationException",
        "1 validation error detected: Value 'RSAES_OAEP_SHA_512' at 'encryptionAlgorithm' failed to satisfy constraint: Member must satisfy enum value set: [SYMMETRIC_DEFAULT, RSAES_OAEP_SHA_1, RSAES_OAEP_SHA_256, SM2PKE]",
    );

    // Engine errors keep their AWS names and messages.
    let unknown = "11111111-2222-4333-8444-555555555555";
    let e = api.err("DescribeKey", json!({"KeyId": unknown}));
    assert_error(
        &e,
        "NotFoundException",
        &format!("Key 'arn:aws:kms:us-east-1:000000000000:key/{unknown}' does not exist"),
    );
    let e = api.err("DescribeKey", json!({"KeyId": "not-a-key"}));
    assert_error(&e, "NotFoundException", "Invalid keyId 'not-a-key'");
    let e = api.err(
        "ImportKeyMaterial",
        json!({"KeyId": key_id, "ImportToken": b64(b"token"), "EncryptedKeyMaterial": b64(&[7; 256])}),
    );
    assert_error(
        &e,
        "ValidationException",
        "A validTo date must be set if the ExpirationModel is KEY_MATERIAL_EXPIRES",
    );

    // Every call above, rejected on the wire or by the engine, left exactly
    // one record (checked per call by `Api::raw`), all of them errors, and
    // the trail verifies.
    assert_eq!(api.trail.len(), 18);
    assert!(api.trail.iter().all(AuditRecord::is_error));
    assert_eq!(api.trail[0].event_name, "DescribeKey");
    assert_eq!(
        api.trail[0].error_code.as_deref(),
        Some("ValidationException")
    );
    byok::kms::audit::verify_chain(&api.trail).expect("the trail verifies");
}
