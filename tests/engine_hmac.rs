//! HMAC keys with imported key material (issue 8, "Key types that take
//! imported material"), through the AWS JSON API the CLI and `byok serve`
//! share: CreateKey with an HMAC key spec, DescribeKey's KeySpec, KeyUsage
//! and MacAlgorithms, the material lengths AWS accepts for each spec,
//! GenerateMac and VerifyMac, and AWS's exact answers to what HMAC keys may
//! not do.
//!
//! Sources, cited per assertion below:
//! - [REQ] AWS KMS Developer Guide, "Create a KMS key with imported key
//!   material", section "Requirements for imported key material":
//!   <https://docs.aws.amazon.com/kms/latest/developerguide/importing-keys-conceptual.html#importing-keys-material-requirements>
//!   (HMAC_224: 28-64 bytes, HMAC_256: 32-64, HMAC_384: 48-128, HMAC_512: 64-128).
//! - [MAC] AWS KMS API Reference, GenerateMac and VerifyMac
//!   (<https://docs.aws.amazon.com/kms/latest/APIReference/API_GenerateMac.html>,
//!   <https://docs.aws.amazon.com/kms/latest/APIReference/API_VerifyMac.html>):
//!   "If the HMAC is not verified, the VerifyMac operation fails with a
//!   KMSInvalidMacException exception"; the exception has no message in
//!   AWS's recorded answers (LocalStack's AWS-validated KMS provider raises
//!   it bare). InvalidKeyUsageException's texts `<arn> key usage is <USAGE>
//!   which is not valid for <Operation>.` and `Algorithm <ALG> is
//!   incompatible with key spec <SPEC>.` are AWS's recorded messages (the
//!   second also in zalando/spring-cloud-config-aws-kms#82 for Encrypt:
//!   "Algorithm SYMMETRIC_DEFAULT is incompatible with key spec RSA_4096.").
//! - [DESCRIBE] AWS KMS API Reference, KeyMetadata: `MacAlgorithms` for HMAC
//!   keys, `EncryptionAlgorithms` for encryption keys.
//! - [ROTATE] The announcement (seed/): asymmetric, HMAC and multi-Region
//!   keys with imported material "do not support on-demand key rotation";
//!   RotateKeyOnDemand API reference: "You cannot perform on-demand rotation
//!   of ... HMAC KMS keys"; AWS's message for these keys, recorded in
//!   floci-io/floci#586: "You cannot perform this operation on a
//!   non-symmetric key or a key with non-ENCRYPT_DECRYPT key usage."
//! - [IMPORT] ImportKeyMaterial API reference: "For asymmetric, HMAC and
//!   multi-Region keys, you cannot change the key material after the
//!   initial import."

mod common;

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use byok::api::ApiError;
use byok::kms::{WrappingAlgorithm, wrap_material};
use common::*;
use serde_json::{Value, json};

const SPECS: [(&str, &str, usize, usize); 4] = [
    ("HMAC_224", "HMAC_SHA_224", 28, 64),
    ("HMAC_256", "HMAC_SHA_256", 32, 64),
    ("HMAC_384", "HMAC_SHA_384", 48, 128),
    ("HMAC_512", "HMAC_SHA_512", 64, 128),
];

fn hmac_key(h: &mut Harness, spec: &str, origin: &str) -> (String, String) {
    let out = ok(call(
        &mut h.kms,
        "CreateKey",
        json!({"KeySpec": spec, "KeyUsage": "GENERATE_VERIFY_MAC", "Origin": origin}),
    ));
    (
        out["KeyMetadata"]["KeyId"].as_str().unwrap().to_string(),
        out["KeyMetadata"]["Arn"].as_str().unwrap().to_string(),
    )
}

/// GetParametersForImport + wrap `material` (RSAES_OAEP_SHA_256) +
/// ImportKeyMaterial with `extra` members.
fn import(h: &mut Harness, key: &str, material: &[u8], extra: Value) -> Result<Value, ApiError> {
    let params = ok(call(
        &mut h.kms,
        "GetParametersForImport",
        json!({"KeyId": key, "WrappingAlgorithm": "RSAES_OAEP_SHA_256", "WrappingKeySpec": "RSA_2048"}),
    ));
    let public = STANDARD
        .decode(params["PublicKey"].as_str().unwrap())
        .unwrap();
    let wrapped = wrap_material(
        &public,
        WrappingAlgorithm::RsaesOaepSha256,
        material,
        &mut h.rng,
    )
    .unwrap();
    let mut req = json!({
        "KeyId": key,
        "ImportToken": params["ImportToken"],
        "EncryptedKeyMaterial": b64(&wrapped),
        "ExpirationModel": "KEY_MATERIAL_DOES_NOT_EXPIRE",
    });
    if let (Value::Object(r), Value::Object(e)) = (&mut req, extra) {
        r.extend(e);
    }
    call(&mut h.kms, "ImportKeyMaterial", req)
}

fn material(h: &mut Harness, len: usize) -> Vec<u8> {
    let mut m = vec![0u8; len];
    rand::Rng::fill_bytes(&mut h.rng, &mut m);
    m
}

fn generate_mac(h: &mut Harness, key: &str, alg: &str, message: &[u8]) -> Result<Value, ApiError> {
    call(
        &mut h.kms,
        "GenerateMac",
        json!({"KeyId": key, "MacAlgorithm": alg, "Message": b64(message)}),
    )
}

fn verify_mac(
    h: &mut Harness,
    key: &str,
    alg: &str,
    message: &[u8],
    mac: &str,
) -> Result<Value, ApiError> {
    call(
        &mut h.kms,
        "VerifyMac",
        json!({"KeyId": key, "MacAlgorithm": alg, "Message": b64(message), "Mac": mac}),
    )
}

/// [DESCRIBE] An HMAC key shows its KeySpec, KeyUsage and its one MAC
/// algorithm, and no EncryptionAlgorithms; with Origin EXTERNAL it starts in
/// PendingImport.
#[test]
fn describe_key_shows_key_spec_key_usage_and_mac_algorithms() {
    let mut h = Harness::new();
    for (spec, alg, _, _) in SPECS {
        let (key, _) = hmac_key(&mut h, spec, "EXTERNAL");
        let m = &ok(call(&mut h.kms, "DescribeKey", json!({"KeyId": key})))["KeyMetadata"];
        assert_eq!(m["KeySpec"], spec);
        assert_eq!(m["CustomerMasterKeySpec"], spec);
        assert_eq!(m["KeyUsage"], "GENERATE_VERIFY_MAC");
        assert_eq!(m["MacAlgorithms"], json!([alg]));
        assert!(m.get("EncryptionAlgorithms").is_none(), "{m}");
        assert_eq!(m["KeyState"], "PendingImport");
        assert_eq!(m["Origin"], "EXTERNAL");
        assert_eq!(m["Enabled"], false);
    }
    // A symmetric key keeps what it showed before.
    let out = ok(call(&mut h.kms, "CreateKey", json!({})));
    let m = &out["KeyMetadata"];
    assert_eq!(m["KeySpec"], "SYMMETRIC_DEFAULT");
    assert_eq!(m["KeyUsage"], "ENCRYPT_DECRYPT");
    assert_eq!(m["EncryptionAlgorithms"], json!(["SYMMETRIC_DEFAULT"]));
    assert!(m.get("MacAlgorithms").is_none(), "{m}");
}

/// CreateKey's own validation: an HMAC spec needs KeyUsage, and only
/// GENERATE_VERIFY_MAC goes with it.
#[test]
fn create_key_wants_generate_verify_mac_for_hmac_specs() {
    let mut h = Harness::new();
    refused(
        call(&mut h.kms, "CreateKey", json!({"KeySpec": "HMAC_256"})),
        "ValidationException",
        "You must specify a KeyUsage value for all KMS keys except for symmetric encryption keys.",
    );
    refused(
        call(
            &mut h.kms,
            "CreateKey",
            json!({"KeySpec": "HMAC_256", "KeyUsage": "ENCRYPT_DECRYPT"}),
        ),
        "ValidationException",
        "KeyUsage ENCRYPT_DECRYPT is not compatible with KeySpec HMAC_256",
    );
}

/// [REQ] Each HMAC spec takes material of exactly the documented lengths:
/// the shortest and the longest are imported, one byte fewer or more is
/// refused as the symmetric key refuses material that is not 32 bytes
/// (InvalidCiphertextException, no message) and leaves the key waiting.
#[test]
fn import_accepts_exactly_the_lengths_aws_documents_for_each_spec() {
    let mut h = Harness::new();
    for (spec, _, min, max) in SPECS {
        for (len, accepted) in [(min - 1, false), (min, true), (max, true), (max + 1, false)] {
            let (key, _) = hmac_key(&mut h, spec, "EXTERNAL");
            let m = material(&mut h, len);
            let r = import(&mut h, &key, &m, json!({}));
            if accepted {
                let out = ok(r);
                assert_eq!(
                    out["KeyMaterialId"],
                    byok::kms::material::key_material_id(
                        byok::kms::KeyId::parse(&key).unwrap(),
                        &m
                    )
                    .to_string(),
                    "{spec}, {len} bytes"
                );
                let d = ok(call(&mut h.kms, "DescribeKey", json!({"KeyId": key})));
                assert_eq!(
                    d["KeyMetadata"]["KeyState"], "Enabled",
                    "{spec}, {len} bytes"
                );
            } else {
                refused(r, "InvalidCiphertextException", "");
                let d = ok(call(&mut h.kms, "DescribeKey", json!({"KeyId": key})));
                assert_eq!(
                    d["KeyMetadata"]["KeyState"], "PendingImport",
                    "{spec}, {len}"
                );
            }
        }
    }
}

/// [MAC] GenerateMac answers Mac, MacAlgorithm and the key ARN; the MAC is
/// RFC 2104 HMAC of the message under the imported bytes; VerifyMac accepts
/// it (MacValid true) and an alias names the key too.
#[test]
fn generate_mac_is_rfc_2104_hmac_of_the_imported_material_and_verifies() {
    let mut h = Harness::new();
    for (spec, alg, min, max) in SPECS {
        let (key, arn) = hmac_key(&mut h, spec, "EXTERNAL");
        let m = material(&mut h, (min + max) / 2);
        ok(import(&mut h, &key, &m, json!({})));
        let message = format!("a message for {spec}");
        let out = ok(generate_mac(&mut h, &key, alg, message.as_bytes()));
        let mac = STANDARD.decode(out["Mac"].as_str().unwrap()).unwrap();
        let algorithm = alg.parse().unwrap();
        assert_eq!(mac, byok::kms::hmac(algorithm, &m, message.as_bytes()));
        assert_eq!(out["MacAlgorithm"], alg);
        assert_eq!(out["KeyId"], arn.as_str());
        let alias = format!("alias/mac-{}", spec.to_lowercase().replace('_', "-"));
        ok(call(
            &mut h.kms,
            "CreateAlias",
            json!({"AliasName": alias, "TargetKeyId": key}),
        ));
        let v = ok(verify_mac(
            &mut h,
            &alias,
            alg,
            message.as_bytes(),
            out["Mac"].as_str().unwrap(),
        ));
        assert_eq!(
            v,
            json!({"KeyId": arn, "MacValid": true, "MacAlgorithm": alg})
        );
    }
}

/// The known-answer check of the HMAC itself: RFC 4231 test case 2
/// ("Jefe", "what do ya want for nothing?") for all four hashes.
#[test]
fn hmac_matches_rfc_4231_test_case_2() {
    use byok::kms::MacAlgorithm as A;
    let msg = b"what do ya want for nothing?";
    let cases = [
        (
            A::HmacSha224,
            "a30e01098bc6dbbf45690f3a7e9e6d0f8bbea2a39e6148008fd05e44",
        ),
        (
            A::HmacSha256,
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
        ),
        (
            A::HmacSha384,
            "af45d2e376484031617f78d2b58a6b1b9c7ef464f5a01b47e42ec3736322445e8e2240ca5e69e2c78b3239ecfab21649",
        ),
        (
            A::HmacSha512,
            "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea2505549758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737",
        ),
    ];
    for (a, expected) in cases {
        assert_eq!(hex(&byok::kms::hmac(a, b"Jefe", msg)), expected, "{a}");
    }
}

/// [MAC] What GenerateMac and VerifyMac refuse, with AWS's exceptions.
#[test]
fn mac_operations_refuse_as_aws_does() {
    let mut h = Harness::new();
    let (key, arn) = hmac_key(&mut h, "HMAC_256", "EXTERNAL");
    // Before any material: pending import.
    refused(
        generate_mac(&mut h, &key, "HMAC_SHA_256", b"m"),
        "KMSInvalidStateException",
        &format!("{arn} is pending import."),
    );
    let m = material(&mut h, 32);
    ok(import(&mut h, &key, &m, json!({})));
    // An algorithm of another spec.
    refused(
        generate_mac(&mut h, &key, "HMAC_SHA_384", b"m"),
        "InvalidKeyUsageException",
        "Algorithm HMAC_SHA_384 is incompatible with key spec HMAC_256.",
    );
    // Not a MAC algorithm at all: AWS's enum message, in AWS's order.
    refused(
        generate_mac(&mut h, &key, "HMAC_SHA_1", b"m"),
        "ValidationException",
        "1 validation error detected: Value 'HMAC_SHA_1' at 'macAlgorithm' failed to satisfy constraint: Member must satisfy enum value set: [HMAC_SHA_384, HMAC_SHA_256, HMAC_SHA_224, HMAC_SHA_512]",
    );
    // The message is sensitive: its value is left out.
    refused(
        generate_mac(&mut h, &key, "HMAC_SHA_256", &[7u8; 4097]),
        "ValidationException",
        "1 validation error detected: Value at 'message' failed to satisfy constraint: Member must have length less than or equal to 4096",
    );
    // A MAC that does not match: KMSInvalidMacException without a message,
    // so the protocol's body has no message member.
    let mac = ok(generate_mac(&mut h, &key, "HMAC_SHA_256", b"signed"))["Mac"]
        .as_str()
        .unwrap()
        .to_string();
    let e = verify_mac(&mut h, &key, "HMAC_SHA_256", b"tampered", &mac).unwrap_err();
    assert_eq!(e.error_type, "KMSInvalidMacException");
    assert_eq!(e.message, "");
    assert_eq!(
        serde_json::from_slice::<Value>(&e.to_json()).unwrap(),
        json!({"__type": "KMSInvalidMacException"})
    );
    let mut wrong = STANDARD.decode(&mac).unwrap();
    wrong[0] ^= 1;
    refused(
        verify_mac(&mut h, &key, "HMAC_SHA_256", b"signed", &b64(&wrong)),
        "KMSInvalidMacException",
        "",
    );
    // A symmetric encryption key does not make MACs.
    let (sym, _) = h.enabled_external();
    refused(
        generate_mac(&mut h, &sym.to_string(), "HMAC_SHA_256", b"m"),
        "InvalidKeyUsageException",
        &format!(
            "{} key usage is ENCRYPT_DECRYPT which is not valid for GenerateMac.",
            h.arn(sym)
        ),
    );
    refused(
        verify_mac(&mut h, &sym.to_string(), "HMAC_SHA_256", b"m", &mac),
        "InvalidKeyUsageException",
        &format!(
            "{} key usage is ENCRYPT_DECRYPT which is not valid for VerifyMac.",
            h.arn(sym)
        ),
    );
    // A disabled key.
    ok(call(&mut h.kms, "DisableKey", json!({"KeyId": key})));
    refused(
        generate_mac(&mut h, &key, "HMAC_SHA_256", b"m"),
        "DisabledException",
        &format!("{arn} is disabled."),
    );
    ok(call(&mut h.kms, "EnableKey", json!({"KeyId": key})));
    // DryRun: every check, then AWS's DryRunOperationException.
    refused(
        call(
            &mut h.kms,
            "GenerateMac",
            json!({"KeyId": key, "MacAlgorithm": "HMAC_SHA_256", "Message": b64(b"m"), "DryRun": true}),
        ),
        "DryRunOperationException",
        "The request would have succeeded, but the DryRun option is set.",
    );
    refused(
        call(
            &mut h.kms,
            "VerifyMac",
            json!({"KeyId": key, "MacAlgorithm": "HMAC_SHA_256", "Message": b64(b"signed"), "Mac": mac, "DryRun": true}),
        ),
        "DryRunOperationException",
        "The request would have succeeded, but the DryRun option is set.",
    );
}

/// [MAC] An HMAC key does not encrypt, decrypt or make data keys:
/// InvalidKeyUsageException naming its usage and the operation.
#[test]
fn an_hmac_key_refuses_encryption_operations() {
    let mut h = Harness::new();
    let (key, arn) = hmac_key(&mut h, "HMAC_512", "EXTERNAL");
    let m = material(&mut h, 64);
    ok(import(&mut h, &key, &m, json!({})));
    let usage =
        |op: &str| format!("{arn} key usage is GENERATE_VERIFY_MAC which is not valid for {op}.");
    refused(
        call(
            &mut h.kms,
            "Encrypt",
            json!({"KeyId": key, "Plaintext": b64(b"secret")}),
        ),
        "InvalidKeyUsageException",
        &usage("Encrypt"),
    );
    refused(
        call(
            &mut h.kms,
            "GenerateDataKey",
            json!({"KeyId": key, "KeySpec": "AES_256"}),
        ),
        "InvalidKeyUsageException",
        &usage("GenerateDataKey"),
    );
    refused(
        call(
            &mut h.kms,
            "GenerateDataKeyWithoutPlaintext",
            json!({"KeyId": key, "NumberOfBytes": 16}),
        ),
        "InvalidKeyUsageException",
        &usage("GenerateDataKeyWithoutPlaintext"),
    );
    let (sym, _) = h.enabled_external();
    let blob = h.encrypt(sym, b"under the symmetric key").unwrap();
    refused(
        call(
            &mut h.kms,
            "Decrypt",
            json!({"KeyId": key, "CiphertextBlob": b64(&blob)}),
        ),
        "InvalidKeyUsageException",
        &usage("Decrypt"),
    );
    refused(
        call(
            &mut h.kms,
            "ReEncrypt",
            json!({"CiphertextBlob": b64(&blob), "DestinationKeyId": key}),
        ),
        "InvalidKeyUsageException",
        &usage("ReEncrypt"),
    );
}

/// [ROTATE] [IMPORT] An HMAC key with imported material cannot rotate on
/// demand nor take a second NEW_KEY_MATERIAL; other bytes are not its
/// material; the same bytes re-import after a deletion and MACs made before
/// verify again.
#[test]
fn an_hmac_key_keeps_its_one_material_and_does_not_rotate() {
    let mut h = Harness::new();
    let (key, arn) = hmac_key(&mut h, "HMAC_384", "EXTERNAL");
    let m = material(&mut h, 48);
    let first = ok(import(&mut h, &key, &m, json!({})));
    let non_symmetric = "You cannot perform this operation on a non-symmetric key or a key with non-ENCRYPT_DECRYPT key usage.";
    refused(
        call(&mut h.kms, "RotateKeyOnDemand", json!({"KeyId": key})),
        "UnsupportedOperationException",
        non_symmetric,
    );
    let other = material(&mut h, 48);
    refused(
        import(
            &mut h,
            &key,
            &other,
            json!({"ImportType": "NEW_KEY_MATERIAL"}),
        ),
        "UnsupportedOperationException",
        &format!(
            "New key material cannot be imported into KMS key {arn}. For asymmetric, HMAC and multi-Region keys, you cannot change the key material after the initial import."
        ),
    );
    refused(
        import(&mut h, &key, &other, json!({})),
        "IncorrectKeyMaterialException",
        &format!(
            "The key material in the request is not associated with KMS key {arn}. To import new key material, set ImportType to NEW_KEY_MATERIAL."
        ),
    );
    let mac = ok(generate_mac(&mut h, &key, "HMAC_SHA_384", b"kept"))["Mac"]
        .as_str()
        .unwrap()
        .to_string();
    ok(call(
        &mut h.kms,
        "DeleteImportedKeyMaterial",
        json!({"KeyId": key}),
    ));
    refused(
        verify_mac(&mut h, &key, "HMAC_SHA_384", b"kept", &mac),
        "KMSInvalidStateException",
        &format!("{arn} is pending import."),
    );
    let again = ok(import(&mut h, &key, &m, json!({})));
    assert_eq!(again["KeyMaterialId"], first["KeyMaterialId"]);
    ok(verify_mac(&mut h, &key, "HMAC_SHA_384", b"kept", &mac));
    // GetKeyRotationStatus answers (false), as AWS now does for HMAC keys.
    let s = ok(call(
        &mut h.kms,
        "GetKeyRotationStatus",
        json!({"KeyId": key}),
    ));
    assert_eq!(s["KeyRotationEnabled"], false);
}

/// An AWS_KMS HMAC key: the engine generates its material; it makes and
/// verifies MACs; automatic rotation is refused as for any non-symmetric key.
#[test]
fn an_aws_kms_hmac_key_makes_macs_and_refuses_rotation() {
    let mut h = Harness::new();
    let mut made = Vec::new();
    for (spec, alg, _, _) in SPECS {
        let (key, _) = hmac_key(&mut h, spec, "AWS_KMS");
        let d = ok(call(&mut h.kms, "DescribeKey", json!({"KeyId": key})));
        assert_eq!(d["KeyMetadata"]["KeyState"], "Enabled");
        let out = ok(generate_mac(&mut h, &key, alg, b"generated"));
        ok(verify_mac(
            &mut h,
            &key,
            alg,
            b"generated",
            out["Mac"].as_str().unwrap(),
        ));
        for op in [
            "EnableKeyRotation",
            "DisableKeyRotation",
            "RotateKeyOnDemand",
        ] {
            refused(
                call(&mut h.kms, op, json!({"KeyId": key})),
                "UnsupportedOperationException",
                "You cannot perform this operation on a non-symmetric key or a key with non-ENCRYPT_DECRYPT key usage.",
            );
        }
        made.push((key, alg, out["Mac"].as_str().unwrap().to_string()));
    }
    // Time-driven events leave an HMAC key and its one material alone.
    h.advance(Duration::from_secs(400 * 86_400));
    h.kms.tick();
    for (key, alg, mac) in made {
        ok(verify_mac(&mut h, &key, alg, b"generated", &mac));
        let d = ok(call(&mut h.kms, "DescribeKey", json!({"KeyId": key})));
        assert_eq!(d["KeyMetadata"]["KeyState"], "Enabled");
    }
}

/// Every call is audited: GenerateMac and VerifyMac records name the
/// material and carry neither the message nor the MAC.
#[test]
fn mac_calls_are_audited_without_message_or_mac() {
    let mut h = Harness::new();
    let (key, _) = hmac_key(&mut h, "HMAC_256", "EXTERNAL");
    let m = material(&mut h, 40);
    let imported = ok(import(&mut h, &key, &m, json!({})));
    let out = ok(generate_mac(
        &mut h,
        &key,
        "HMAC_SHA_256",
        b"audited message",
    ));
    ok(verify_mac(
        &mut h,
        &key,
        "HMAC_SHA_256",
        b"audited message",
        out["Mac"].as_str().unwrap(),
    ));
    let records = h.kms.take_audit_records();
    let macs: Vec<_> = records
        .iter()
        .filter(|r| r.event_name == "GenerateMac" || r.event_name == "VerifyMac")
        .collect();
    assert_eq!(macs.len(), 2);
    for r in macs {
        let text = serde_json::to_string(r).unwrap();
        assert!(
            text.contains(imported["KeyMaterialId"].as_str().unwrap()),
            "{text}"
        );
        assert!(!text.contains(&b64(b"audited message")), "{text}");
        assert!(!text.contains(out["Mac"].as_str().unwrap()), "{text}");
    }
}
