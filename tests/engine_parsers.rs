//! Parsers never panic and reject damaged input with the exact AWS
//! exception: ciphertext blobs (Decrypt), import tokens and wrapped material
//! (ImportKeyMaterial), and request bodies of every operation (dispatch).

mod common;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use byok::api::ApiError;
use byok::kms::ciphertext::{HEADER_LEN, MIN_LEN};
use byok::kms::token::TOKEN_LEN;
use std::sync::Arc;

use byok::kms::{
    CallSource, Caller, DecryptRequest, EncryptionContext, ImportKeyMaterialRequest, KeyId, Kms,
    KmsError, KmsState, ManualClock, OPERATIONS, WrappingAlgorithm, WrappingKeySpec,
};
use common::*;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use serde_json::{Value, json};

const INVALID_TOKEN: &str = "The import token is invalid or was issued for a different KMS key.";
const INCORRECT_KEY: &str =
    "The key ID in the request does not identify a CMK that can perform this operation.";

fn too_short(member: &str) -> String {
    format!(
        "1 validation error detected: Value at '{member}' failed to satisfy constraint: Member must have length greater than or equal to 1"
    )
}

fn too_long(member: &str) -> String {
    format!(
        "1 validation error detected: Value at '{member}' failed to satisfy constraint: Member must have length less than or equal to 6144"
    )
}

fn context() -> EncryptionContext {
    EncryptionContext::from([("Department".to_string(), "Finance".to_string())])
}

fn decrypt(
    h: &mut Harness,
    blob: &[u8],
    key_id: Option<String>,
) -> Result<byok::kms::DecryptOutput, KmsError> {
    let caller = h.caller.clone();
    h.kms.decrypt(
        &caller,
        &DecryptRequest {
            ciphertext_blob: blob.to_vec(),
            encryption_context: context(),
            key_id,
        },
    )
}

/// An enabled key, a second enabled key, and a blob made by the first.
fn blob_fixture() -> (Harness, KeyId, Vec<u8>) {
    let mut h = Harness::new();
    let (key, _) = h.enabled_external();
    h.enabled_external();
    let caller = h.caller.clone();
    let blob = h
        .kms
        .encrypt(
            &caller,
            &key.to_string(),
            b"sixteen byte msg and more",
            &context(),
        )
        .unwrap()
        .ciphertext_blob;
    (h, key, blob)
}

#[test]
fn every_truncation_of_a_ciphertext_blob_is_rejected() {
    let (mut h, key, blob) = blob_fixture();
    assert_eq!(blob.len(), MIN_LEN + 25);
    // Length 0 breaks the member constraint (CiphertextBlob is 1..6144 bytes)
    // before the blob is parsed at all.
    assert_err(
        decrypt(&mut h, &[], None),
        "ValidationException",
        &too_short("ciphertextBlob"),
    );
    for n in 1..blob.len() {
        assert_err(
            decrypt(&mut h, &blob[..n], None),
            "InvalidCiphertextException",
            "",
        );
        // With the right KeyId too: the header is read before the key is compared.
        assert_err(
            decrypt(&mut h, &blob[..n], Some(key.to_string())),
            "InvalidCiphertextException",
            "",
        );
    }
    // The whole blob still decrypts: every refusal above was the truncation's.
    assert_eq!(
        decrypt(&mut h, &blob, None).unwrap().plaintext.expose(),
        b"sixteen byte msg and more"
    );
}

#[test]
fn every_bit_flip_of_a_ciphertext_blob_is_rejected() {
    let (mut h, key, blob) = blob_fixture();
    for bit in 0..blob.len() * 8 {
        let mut damaged = blob.clone();
        damaged[bit / 8] ^= 1 << (bit % 8);
        assert_err(
            decrypt(&mut h, &damaged, None),
            "InvalidCiphertextException",
            "",
        );
        // Given the KeyId of the key that made the blob, a flip in the blob's
        // key id (bytes 1..17) names another key: that is IncorrectKeyException,
        // as AWS answers a blob of another key. Every other flip is still an
        // invalid ciphertext.
        let byte = bit / 8;
        let with_key = decrypt(&mut h, &damaged, Some(key.to_string()));
        if (1..17).contains(&byte) {
            assert_err(with_key, "IncorrectKeyException", INCORRECT_KEY);
        } else {
            assert_err(with_key, "InvalidCiphertextException", "");
        }
    }
    assert_eq!(decrypt(&mut h, &blob, None).unwrap().key_id, key);
    assert_eq!(HEADER_LEN, 77);
}

/// An EXTERNAL key without material, its import parameters, and a request
/// that would import 32 bytes.
fn import_fixture() -> (Harness, ImportKeyMaterialRequest) {
    let mut h = Harness::new();
    let key = h.create_external();
    let params = h.params_with(
        key,
        WrappingAlgorithm::RsaesOaepSha256,
        WrappingKeySpec::Rsa2048,
    );
    let material = h.material();
    let req = h.import_request(key, &params, &material, None);
    (h, req)
}

#[test]
fn every_truncation_and_bit_flip_of_an_import_token_is_rejected() {
    let (mut h, req) = import_fixture();
    let token = req.import_token.clone();
    assert_eq!(token.len(), TOKEN_LEN);
    // Checks run in SPEC §3's order: member constraints, key, token. The only
    // member constraint on ImportToken is its length (1..6144), which an
    // empty prefix breaks; a flip keeps the length, so every flip reaches
    // the token check.
    let mut r = req.clone();
    r.import_token = Vec::new();
    assert_err(
        h.try_import(&r),
        "ValidationException",
        &too_short("importToken"),
    );
    for n in 1..token.len() {
        r.import_token = token[..n].to_vec();
        assert_err(
            h.try_import(&r),
            "InvalidImportTokenException",
            INVALID_TOKEN,
        );
    }
    for bit in 0..token.len() * 8 {
        let mut damaged = token.clone();
        damaged[bit / 8] ^= 1 << (bit % 8);
        r.import_token = damaged;
        assert_err(
            h.try_import(&r),
            "InvalidImportTokenException",
            INVALID_TOKEN,
        );
    }
    // Longer than any token, and longer than the member allows.
    r.import_token = [token.clone(), vec![0]].concat();
    assert_err(
        h.try_import(&r),
        "InvalidImportTokenException",
        INVALID_TOKEN,
    );
    r.import_token = vec![1; 6145];
    assert_err(
        h.try_import(&r),
        "ValidationException",
        &too_long("importToken"),
    );
    // The intact token still works: every refusal above was the damage's.
    h.try_import(&req).expect("the undamaged request imports");
}

/// What the wire layer must answer for a request whose ImportToken member is
/// the JSON text `token_json`: SerializationException if the body is not
/// JSON or the member not base64, else the engine's verdict on the bytes.
fn expected_for_token_text(body: &[u8], original: &[u8]) -> Option<&'static str> {
    let Ok(v) = serde_json::from_slice::<Value>(body) else {
        return Some("SerializationException");
    };
    let Some(text) = v.get("ImportToken").and_then(Value::as_str) else {
        return Some("SerializationException");
    };
    match STANDARD.decode(text) {
        Err(_) => Some("SerializationException"),
        Ok(bytes) if bytes.is_empty() => Some("ValidationException"),
        Ok(bytes) if bytes == original => None,
        Ok(_) => Some("InvalidImportTokenException"),
    }
}

#[test]
fn every_bit_flip_of_an_import_token_on_the_wire_is_rejected_exactly() {
    let (mut h, req) = import_fixture();
    let caller = h.caller.clone();
    let body = json!({
        "KeyId": req.key_id,
        "ImportToken": STANDARD.encode(&req.import_token),
        "EncryptedKeyMaterial": STANDARD.encode(&req.encrypted_key_material),
        "ExpirationModel": "KEY_MATERIAL_DOES_NOT_EXPIRE",
    })
    .to_string()
    .into_bytes();
    let b64 = STANDARD.encode(&req.import_token);
    let at = body
        .windows(b64.len())
        .position(|w| w == b64.as_bytes())
        .unwrap();
    let mut seen = std::collections::BTreeSet::new();
    for bit in 0..b64.len() * 8 {
        let mut damaged = body.clone();
        damaged[at + bit / 8] ^= 1 << (bit % 8);
        let expected = expected_for_token_text(&damaged, &req.import_token);
        let got = byok::api::dispatch(&mut h.kms, &caller, "ImportKeyMaterial", &damaged);
        match (expected, got) {
            (Some(name), Err(e)) => {
                assert_eq!(e.error_type, name, "bit {bit}: {e:?}");
                if name == "InvalidImportTokenException" {
                    assert_eq!(e.message, INVALID_TOKEN);
                }
                seen.insert(name);
            }
            (expected, got) => panic!("bit {bit}: expected {expected:?}, got {got:?}"),
        }
    }
    assert!(
        seen.contains("SerializationException") && seen.contains("InvalidImportTokenException")
    );
    byok::api::dispatch(&mut h.kms, &caller, "ImportKeyMaterial", &body)
        .expect("the undamaged body imports");
}

#[test]
fn every_truncation_and_bit_flip_of_wrapped_material_is_rejected() {
    // Each attempt costs an RSA decryption, so a sample of truncations and
    // flips (every 13th bit, over both the RSA and the AES key wrap part).
    let mut h = Harness::new();
    let key = h.create_external();
    let algorithm = WrappingAlgorithm::RsaAesKeyWrapSha256;
    let params = h.params_with(key, algorithm, WrappingKeySpec::Rsa2048);
    let material = h.material();
    let mut req = h.import_request(key, &params, &material, None);
    req.encrypted_key_material = h.wrap(&params, algorithm, &material);
    let wrapped = req.encrypted_key_material.clone();
    assert_eq!(wrapped.len(), 256 + 40);
    let mut r = req.clone();
    r.encrypted_key_material = Vec::new();
    assert_err(
        h.try_import(&r),
        "ValidationException",
        &too_short("encryptedKeyMaterial"),
    );
    for n in (1..wrapped.len()).filter(|n| *n <= 8 || *n % 37 == 0 || *n >= 250) {
        r.encrypted_key_material = wrapped[..n].to_vec();
        assert_err(h.try_import(&r), "InvalidCiphertextException", "");
    }
    for bit in (0..wrapped.len() * 8).filter(|b| b % 13 == 0) {
        let mut damaged = wrapped.clone();
        damaged[bit / 8] ^= 1 << (bit % 8);
        r.encrypted_key_material = damaged;
        assert_err(h.try_import(&r), "InvalidCiphertextException", "");
    }
    let out = h.try_import(&req).expect("the undamaged material imports");
    assert_eq!(
        out.key_material_id,
        byok::kms::material::key_material_id(key, &material)
    );
}

// ----- random input -----

fn config(cases: u32) -> Config {
    Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    }
}

#[test]
fn random_blobs_to_decrypt() {
    let (h, key, blob) = blob_fixture();
    let h = std::cell::RefCell::new(h);
    let header = blob[..49].to_vec();
    let key_bytes = key.as_bytes().to_vec();
    // Plain random bytes, and random bytes behind a real version, key id and
    // material id, so that parsing gets as far as the authentication.
    let strategy = prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..400),
        proptest::collection::vec(any::<u8>(), 0..200)
            .prop_map(move |tail| [header.clone(), tail].concat()),
        proptest::collection::vec(any::<u8>(), 0..100).prop_map(move |tail| [
            vec![1u8],
            key_bytes.clone(),
            tail
        ]
        .concat()),
        Just(Vec::new()),
        proptest::collection::vec(any::<u8>(), 6145..6200),
    ];
    TestRunner::new(config(2000))
        .run(&strategy, |bytes| {
            let mut h = h.borrow_mut();
            let r = decrypt(&mut h, &bytes, None);
            match r {
                Ok(_) => prop_assert!(false, "random bytes decrypted: {bytes:?}"),
                Err(e) if bytes.is_empty() => {
                    prop_assert_eq!(e.aws_name(), "ValidationException");
                    prop_assert_eq!(e.message(), too_short("ciphertextBlob"));
                }
                Err(e) if bytes.len() > 6144 => {
                    prop_assert_eq!(e.aws_name(), "ValidationException");
                    prop_assert_eq!(e.message(), too_long("ciphertextBlob"));
                }
                Err(e) => {
                    prop_assert_eq!(e.aws_name(), "InvalidCiphertextException");
                    prop_assert_eq!(e.message(), "");
                }
            }
            Ok(())
        })
        .unwrap();
}

#[test]
fn random_tokens_and_wrapped_material_to_import() {
    let (h, req) = import_fixture();
    let h = std::cell::RefCell::new(h);
    let token = req.import_token.clone();
    let tokens = prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..200),
        proptest::collection::vec(any::<u8>(), TOKEN_LEN..=TOKEN_LEN),
        proptest::collection::vec(any::<u8>(), TOKEN_LEN - 1..=TOKEN_LEN).prop_map(|tail| [
            vec![1u8],
            tail
        ]
        .concat()),
    ];
    TestRunner::new(config(1000))
        .run(&tokens, |bytes| {
            let mut h = h.borrow_mut();
            let mut r = req.clone();
            r.import_token = bytes.clone();
            let e = h.try_import(&r).expect_err("a random token");
            if bytes.is_empty() {
                prop_assert_eq!(e.aws_name(), "ValidationException");
            } else {
                prop_assert_eq!(e.aws_name(), "InvalidImportTokenException");
                prop_assert_eq!(e.message(), INVALID_TOKEN);
            }
            Ok(())
        })
        .unwrap();
    // Random wrapped material with a valid token. 256-byte inputs cost an RSA
    // decryption each, so fewer cases.
    let wrapped = prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..600),
        proptest::collection::vec(any::<u8>(), 256..=256),
        proptest::collection::vec(any::<u8>(), 6145..6150),
    ];
    TestRunner::new(config(300))
        .run(&wrapped, |bytes| {
            let mut h = h.borrow_mut();
            let mut r = req.clone();
            r.encrypted_key_material = bytes.clone();
            let e = h.try_import(&r).expect_err("random wrapped material");
            if bytes.is_empty() {
                prop_assert_eq!(e.aws_name(), "ValidationException");
                prop_assert_eq!(e.message(), too_short("encryptedKeyMaterial"));
            } else if bytes.len() > 6144 {
                prop_assert_eq!(e.aws_name(), "ValidationException");
                prop_assert_eq!(e.message(), too_long("encryptedKeyMaterial"));
            } else {
                prop_assert_eq!(e.aws_name(), "InvalidCiphertextException");
                prop_assert_eq!(e.message(), "");
            }
            Ok(())
        })
        .unwrap();
    let mut h = h.borrow_mut();
    assert_eq!(
        h.kms
            .key(KeyId::parse(&req.key_id).unwrap())
            .unwrap()
            .materials()
            .len(),
        0
    );
    let mut r = req.clone();
    r.import_token = token;
    h.try_import(&r)
        .expect("nothing above spoiled the real token");
}

// ----- dispatch with random bodies -----

/// Every request member of every operation, and a few that no operation has.
const MEMBERS: &[&str] = &[
    "KeyId",
    "Description",
    "KeyUsage",
    "KeySpec",
    "CustomerMasterKeySpec",
    "Origin",
    "Tags",
    "TagKey",
    "TagValue",
    "MultiRegion",
    "Policy",
    "CustomKeyStoreId",
    "Limit",
    "Marker",
    "WrappingAlgorithm",
    "WrappingKeySpec",
    "ImportToken",
    "EncryptedKeyMaterial",
    "ValidTo",
    "ExpirationModel",
    "ImportType",
    "KeyMaterialDescription",
    "KeyMaterialId",
    "RotationPeriodInDays",
    "IncludeKeyMaterial",
    "Plaintext",
    "EncryptionContext",
    "EncryptionAlgorithm",
    "GrantTokens",
    "CiphertextBlob",
    "SourceEncryptionContext",
    "SourceKeyId",
    "DestinationKeyId",
    "DestinationEncryptionContext",
    "SourceEncryptionAlgorithm",
    "DestinationEncryptionAlgorithm",
    "NumberOfBytes",
    "PendingWindowInDays",
    "AliasName",
    "TargetKeyId",
    "TagKeys",
    "Message",
    "MessageType",
    "SigningAlgorithm",
    "Signature",
    "PublicKey",
    "KeyAgreementAlgorithm",
    "DryRun",
    "keyId",
    "Unknown",
    "",
];

/// AWS enumeration values, right and nearly right.
const ENUM_VALUES: &[&str] = &[
    "EXTERNAL",
    "AWS_KMS",
    "AWS_CLOUDHSM",
    "SYMMETRIC_DEFAULT",
    "RSA_2048",
    "ENCRYPT_DECRYPT",
    "SIGN_VERIFY",
    "RSAES_OAEP_SHA_1",
    "RSAES_OAEP_SHA_256",
    "RSA_AES_KEY_WRAP_SHA_1",
    "RSA_AES_KEY_WRAP_SHA_256",
    "RSAES_PKCS1_V1_5",
    "RSA_3072",
    "RSA_4096",
    "RSA_1024",
    "KEY_MATERIAL_EXPIRES",
    "KEY_MATERIAL_DOES_NOT_EXPIRE",
    "NEW_KEY_MATERIAL",
    "EXISTING_KEY_MATERIAL",
    "ALL_KEY_MATERIAL",
    "ROTATIONS_ONLY",
    "AES_256",
    "AES_128",
    "aes_256",
    "alias/test",
    "alias/aws/ebs",
    "alias/",
    "ECC_NIST_P256",
    "ECC_SECG_P256K1",
    "KEY_AGREEMENT",
    "RSASSA_PSS_SHA_256",
    "RSASSA_PKCS1_V1_5_SHA_512",
    "ECDSA_SHA_256",
    "ECDSA_SHA_384",
    "RAW",
    "DIGEST",
    "EXTERNAL_MU",
    "ECDH",
];

/// A value of the fixture, filled in per case.
#[derive(Clone, Debug)]
enum Fixture {
    KeyId,
    KeyArn,
    AwsKmsKeyId,
    AliasName,
    AliasArn,
    Ciphertext,
    ImportToken,
    MaterialId,
    SigningKeyId,
    RsaKeyId,
    AgreementKeyId,
    PublicKey,
    Signature,
}

struct Fixtures {
    key: KeyId,
    aws_kms_key: KeyId,
    arn: String,
    alias_arn: String,
    ciphertext: Vec<u8>,
    import_token: Vec<u8>,
    material_id: String,
    signing_key: KeyId,
    rsa_key: KeyId,
    agreement_key: KeyId,
    public_key: Vec<u8>,
    signature: Vec<u8>,
}

impl Fixtures {
    fn value(&self, f: &Fixture) -> Value {
        match f {
            Fixture::KeyId => json!(self.key.to_string()),
            Fixture::KeyArn => json!(self.arn),
            Fixture::AwsKmsKeyId => json!(self.aws_kms_key.to_string()),
            Fixture::AliasName => json!("alias/test"),
            Fixture::AliasArn => json!(self.alias_arn),
            Fixture::Ciphertext => json!(STANDARD.encode(&self.ciphertext)),
            Fixture::ImportToken => json!(STANDARD.encode(&self.import_token)),
            Fixture::MaterialId => json!(self.material_id),
            Fixture::SigningKeyId => json!(self.signing_key.to_string()),
            Fixture::RsaKeyId => json!(self.rsa_key.to_string()),
            Fixture::AgreementKeyId => json!(self.agreement_key.to_string()),
            Fixture::PublicKey => json!(STANDARD.encode(&self.public_key)),
            Fixture::Signature => json!(STANDARD.encode(&self.signature)),
        }
    }
}

/// A JSON value that may hold fixture placeholders.
#[derive(Clone, Debug)]
enum J {
    Value(Value),
    Fixture(Fixture),
    Array(Vec<J>),
    Object(Vec<(String, J)>),
}

impl J {
    fn resolve(&self, f: &Fixtures) -> Value {
        match self {
            J::Value(v) => v.clone(),
            J::Fixture(x) => f.value(x),
            J::Array(items) => Value::Array(items.iter().map(|i| i.resolve(f)).collect()),
            J::Object(members) => Value::Object(
                members
                    .iter()
                    .map(|(k, v)| (k.clone(), v.resolve(f)))
                    .collect(),
            ),
        }
    }
}

fn leaf() -> impl Strategy<Value = J> {
    prop_oneof![
        Just(J::Value(Value::Null)),
        any::<bool>().prop_map(|b| J::Value(json!(b))),
        any::<i64>().prop_map(|n| J::Value(json!(n))),
        (-5i64..2000).prop_map(|n| J::Value(json!(n))),
        any::<f64>().prop_map(|x| J::Value(
            serde_json::Number::from_f64(x).map_or(Value::Null, Value::Number)
        )),
        (1.7e9f64..1.9e9).prop_map(|x| J::Value(json!(x))),
        ".{0,40}".prop_map(|s| J::Value(json!(s))),
        proptest::sample::select(ENUM_VALUES).prop_map(|s| J::Value(json!(s))),
        proptest::collection::vec(any::<u8>(), 0..80)
            .prop_map(|b| J::Value(json!(STANDARD.encode(b)))),
        prop_oneof![
            Just(Fixture::KeyId),
            Just(Fixture::KeyArn),
            Just(Fixture::AwsKmsKeyId),
            Just(Fixture::AliasName),
            Just(Fixture::AliasArn),
            Just(Fixture::Ciphertext),
            Just(Fixture::ImportToken),
            Just(Fixture::MaterialId),
            Just(Fixture::SigningKeyId),
            Just(Fixture::RsaKeyId),
            Just(Fixture::AgreementKeyId),
            Just(Fixture::PublicKey),
            Just(Fixture::Signature),
        ]
        .prop_map(J::Fixture),
    ]
}

fn json_value() -> impl Strategy<Value = J> {
    leaf().prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(J::Array),
            proptest::collection::vec(
                (
                    prop_oneof![
                        proptest::sample::select(MEMBERS).prop_map(str::to_string),
                        ".{0,8}"
                    ],
                    inner
                ),
                0..6
            )
            .prop_map(J::Object),
        ]
    })
}

/// A request body: mostly an object of request members.
fn json_body() -> impl Strategy<Value = J> {
    prop_oneof![
        4 => proptest::collection::vec((proptest::sample::select(MEMBERS).prop_map(str::to_string), json_value()), 0..6)
            .prop_map(J::Object),
        1 => json_value(),
    ]
}

/// The state every dispatch case starts from: an enabled EXTERNAL key with
/// an alias, a ciphertext and import parameters, and an AWS_KMS key. Built
/// once; each case gets an engine over a copy (an import costs an RSA
/// decryption, which would dominate thousands of cases).
fn api_fixture_state() -> &'static (KmsState, Fixtures) {
    static STATE: std::sync::OnceLock<(KmsState, Fixtures)> = std::sync::OnceLock::new();
    STATE.get_or_init(|| {
        let mut h = Harness::new();
        let (key, _) = h.enabled_external();
        let aws_kms_key = h.create_aws_kms();
        let caller = h.caller.clone();
        h.kms
            .create_alias(&caller, "alias/test", &key.to_string())
            .unwrap();
        let ciphertext = h.encrypt(key, b"fixture").unwrap();
        let import_token = h.params(key).import_token;
        let material_id = h
            .kms
            .key(key)
            .unwrap()
            .current_key_material_id()
            .unwrap()
            .to_string();
        // Asymmetric keys (AWS_KMS: generated, so no import is needed): a
        // P-256 signing key with a signature of "fixture", an RSA_2048
        // encryption key, a P-256 key agreement key and its public key.
        let asym = |h: &mut Harness, spec: &str, usage: &str| -> KeyId {
            let caller = h.caller.clone();
            let out = byok::api::dispatch(
                &mut h.kms,
                &caller,
                "CreateKey",
                json!({"KeySpec": spec, "KeyUsage": usage})
                    .to_string()
                    .as_bytes(),
            )
            .unwrap();
            let v: Value = serde_json::from_slice(&out).unwrap();
            KeyId::parse(v["KeyMetadata"]["KeyId"].as_str().unwrap()).unwrap()
        };
        let signing_key = asym(&mut h, "ECC_NIST_P256", "SIGN_VERIFY");
        let rsa_key = asym(&mut h, "RSA_2048", "ENCRYPT_DECRYPT");
        let agreement_key = asym(&mut h, "ECC_NIST_P256", "KEY_AGREEMENT");
        let public_key = h
            .kms
            .get_public_key(&caller, &agreement_key.to_string())
            .unwrap()
            .public_key;
        let signature = h
            .kms
            .sign(
                &caller,
                &signing_key.to_string(),
                b"fixture",
                None,
                byok::kms::SigningAlgorithm::EcdsaSha256,
                false,
            )
            .unwrap()
            .signature;
        let fixtures = Fixtures {
            signing_key,
            rsa_key,
            agreement_key,
            public_key,
            signature,
            key,
            aws_kms_key,
            arn: h.arn(key),
            alias_arn: h.kms.alias_arn("alias/test"),
            ciphertext,
            import_token,
            material_id,
        };
        (h.kms.state().clone(), fixtures)
    })
}

fn api_fixture() -> (Harness, &'static Fixtures) {
    let (state, fixtures) = api_fixture_state();
    let clock = ManualClock::new(START);
    let kms = Kms::from_state(
        state.clone(),
        Arc::new(clock.clone()),
        Box::new(test_keys()),
        seeded(3),
    );
    let h = Harness {
        kms,
        clock,
        caller: Caller {
            source: CallSource::Api,
            access_key_id: Some("AKIAIOSFODNN7EXAMPLE".into()),
            user_agent: Some("proptest".into()),
            source_ip: Some("127.0.0.1".into()),
            region: None,
        },
        rng: seeded(4),
    };
    (h, fixtures)
}

/// The exception names dispatch may answer a client with.
fn known_exception(name: &str) -> bool {
    matches!(
        name,
        "ValidationException"
            | "SerializationException"
            | "UnknownOperationException"
            | "NotFoundException"
            | "KMSInvalidStateException"
            | "DisabledException"
            | "UnsupportedOperationException"
            | "InvalidImportTokenException"
            | "ExpiredImportTokenException"
            | "InvalidCiphertextException"
            | "IncorrectKeyMaterialException"
            | "IncorrectKeyException"
            | "ConflictException"
            | "LimitExceededException"
            | "AlreadyExistsException"
            | "InvalidMarkerException"
            | "InvalidAliasNameException"
            | "TagException"
            // CreateKey's and PutKeyPolicy's Policy (AWS KMS API Reference).
            | "MalformedPolicyDocumentException"
            | "CustomKeyStoreNotFoundException"
            | "DryRunOperationException"
            // Key usage and algorithm refusals (HMAC and asymmetric keys),
            // VerifyMac's and Verify's answers.
            | "InvalidKeyUsageException"
            | "KMSInvalidMacException"
            | "KMSInvalidSignatureException"
    )
}

/// Dispatches and checks what every call must satisfy: a JSON object on
/// success, an AWS error shape (status 400, a known exception) otherwise,
/// and exactly one audit record of the call.
fn dispatch_checked(h: &mut Harness, operation: &str, body: &[u8]) -> Result<Value, TestCaseError> {
    let caller = h.caller.clone();
    let result = byok::api::dispatch(&mut h.kms, &caller, operation, body);
    let records = h.kms.take_audit_records();
    let calls: Vec<_> = records
        .iter()
        .filter(|r| r.event_type == "AwsApiCall")
        .collect();
    prop_assert_eq!(calls.len(), 1, "one audit record per call: {:?}", records);
    let record = calls[0];
    prop_assert_eq!(&record.event_name, operation);
    prop_assert_eq!(record.user_identity.invoked_by.as_str(), "api");
    prop_assert!(byok::kms::audit::verify_chain(&records).is_ok());
    match result {
        Ok(body) => {
            prop_assert!(record.error_code.is_none());
            let v: Value =
                serde_json::from_slice(&body).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert!(v.is_object(), "a response is a JSON object: {}", v);
            Ok(v)
        }
        Err(e) => {
            check_error_shape(&e)?;
            prop_assert_eq!(record.error_code.as_deref(), Some(e.error_type.as_str()));
            prop_assert_eq!(record.error_message.as_deref(), Some(e.message.as_str()));
            Ok(json!({"__type": e.error_type, "message": e.message}))
        }
    }
}

fn check_error_shape(e: &ApiError) -> Result<(), TestCaseError> {
    prop_assert_eq!(e.status, 400, "no internal error for bad input: {:?}", e);
    prop_assert!(known_exception(&e.error_type), "unknown exception {:?}", e);
    let shape: Value =
        serde_json::from_slice(&e.to_json()).map_err(|x| TestCaseError::fail(x.to_string()))?;
    prop_assert_eq!(shape, json!({"__type": e.error_type, "message": e.message}));
    Ok(())
}

#[test]
fn dispatch_answers_random_json_for_every_operation() {
    let strategy = (proptest::sample::select(OPERATIONS), json_body());
    TestRunner::new(config(1500))
        .run(&strategy, |(operation, body)| {
            let (mut h, fixtures) = api_fixture();
            let body = serde_json::to_vec(&body.resolve(fixtures)).unwrap();
            let v = dispatch_checked(&mut h, operation, &body)?;
            // A body that is not a JSON object cannot be a request.
            let parsed: Value = serde_json::from_slice(&body).unwrap();
            if !parsed.is_object() {
                prop_assert_eq!(&v["__type"], "SerializationException", "{}", v);
            }
            Ok(())
        })
        .unwrap();
}

#[test]
fn dispatch_answers_random_bytes_for_every_operation() {
    let strategy = (
        proptest::sample::select(OPERATIONS),
        prop_oneof![
            proptest::collection::vec(any::<u8>(), 0..200),
            "[ \\t\\r\\n{}\\[\\]\":,a-zA-Z0-9]{0,40}".prop_map(String::into_bytes),
        ],
    );
    TestRunner::new(config(1500))
        .run(&strategy, |(operation, body)| {
            let (mut h, _) = api_fixture();
            let v = dispatch_checked(&mut h, operation, &body)?;
            let blank = body.iter().all(u8::is_ascii_whitespace);
            if !blank && serde_json::from_slice::<Value>(&body).is_err() {
                prop_assert_eq!(&v["__type"], "SerializationException", "{}", v);
            }
            Ok(())
        })
        .unwrap();
}

#[test]
fn dispatch_answers_an_unknown_operation_with_an_error_shape() {
    let (mut h, _) = api_fixture();
    let caller = h.caller.clone();
    for name in [
        "",
        "Frobnicate",
        "decrypt",
        "Decrypt ",
        "ListKeys\0",
        "🔑",
        &"X".repeat(10_000),
    ] {
        let e = byok::api::dispatch(&mut h.kms, &caller, name, b"{}").unwrap_err();
        assert_eq!(e.error_type, "UnknownOperationException", "{name:?}");
        check_error_shape(&e).unwrap();
        let records = h.kms.take_audit_records();
        assert_eq!(records.len(), 1, "{name:?}");
        assert_eq!(
            records[0].error_code.as_deref(),
            Some("UnknownOperationException")
        );
        assert!(
            records[0].event_name.len() <= 64,
            "the record's name is bounded"
        );
    }
}

// ----- asymmetric keys -----

/// An enabled AWS_KMS key of `spec` and `usage`, made through the API.
fn asymmetric_key(h: &mut Harness, spec: &str, usage: &str, origin: &str) -> String {
    let caller = h.caller.clone();
    let out = byok::api::dispatch(
        &mut h.kms,
        &caller,
        "CreateKey",
        json!({"KeySpec": spec, "KeyUsage": usage, "Origin": origin})
            .to_string()
            .as_bytes(),
    )
    .unwrap();
    let v: Value = serde_json::from_slice(&out).unwrap();
    v["KeyMetadata"]["KeyId"].as_str().unwrap().to_string()
}

/// Every truncation and every bit flip of a valid ECDSA (DER) and RSA-PSS
/// signature is refused by Verify with `KMSInvalidSignatureException`
/// (an empty one with the member constraint), never a panic.
#[test]
fn every_truncation_and_bit_flip_of_a_signature_is_rejected() {
    use byok::kms::SigningAlgorithm;
    let mut h = Harness::new();
    let caller = h.caller.clone();
    for (spec, alg) in [
        ("ECC_NIST_P256", SigningAlgorithm::EcdsaSha256),
        ("RSA_2048", SigningAlgorithm::RsassaPssSha256),
    ] {
        let key = asymmetric_key(&mut h, spec, "SIGN_VERIFY", "AWS_KMS");
        let sig = h
            .kms
            .sign(&caller, &key, b"parsed", None, alg, false)
            .unwrap()
            .signature;
        let verify = |h: &mut Harness, s: &[u8]| {
            h.kms
                .verify(&caller, &key, b"parsed", None, s, alg, false)
                .map(|_| ())
        };
        verify(&mut h, &sig).expect("the signature itself verifies");
        for n in 0..sig.len() {
            let e = verify(&mut h, &sig[..n]).unwrap_err();
            if n == 0 {
                assert_eq!(e.message(), too_short("signature"));
            } else {
                assert_eq!(
                    e.aws_name(),
                    "KMSInvalidSignatureException",
                    "{spec} cut at {n}"
                );
            }
        }
        for i in 0..sig.len() * 8 {
            let mut s = sig.clone();
            s[i / 8] ^= 1 << (i % 8);
            let e = verify(&mut h, &s).unwrap_err();
            assert_eq!(
                e.aws_name(),
                "KMSInvalidSignatureException",
                "{spec} bit {i}"
            );
            assert_eq!(e.message(), "");
        }
    }
}

/// Every truncation of a PKCS #8 private key, and bit flips in its header,
/// are refused by ImportKeyMaterial with `IncorrectKeyMaterialException`;
/// the key stays without material.
#[test]
fn every_truncation_of_a_pkcs8_private_key_is_rejected() {
    use byok::kms::asym::AsymmetricKey;
    let mut h = Harness::new();
    let key = asymmetric_key(&mut h, "ECC_NIST_P256", "SIGN_VERIFY", "EXTERNAL");
    let private = AsymmetricKey::generate(byok::kms::KeySpec::EccNistP256, &mut seeded(9))
        .unwrap()
        .to_pkcs8()
        .unwrap();
    let der = private.expose().to_vec();
    let id = KeyId::parse(&key).unwrap();
    let params = h.params_with(
        id,
        WrappingAlgorithm::RsaAesKeyWrapSha256,
        WrappingKeySpec::Rsa2048,
    );
    let attempt = |h: &mut Harness, material: &[u8]| {
        let wrapped = byok::kms::wrap_material(
            &params.public_key,
            WrappingAlgorithm::RsaAesKeyWrapSha256,
            material,
            &mut h.rng,
        )
        .unwrap();
        let req = ImportKeyMaterialRequest {
            key_id: key.clone(),
            import_token: params.import_token.clone(),
            encrypted_key_material: wrapped,
            expiration_model: Some(byok::kms::ExpirationModel::KeyMaterialDoesNotExpire),
            ..Default::default()
        };
        h.try_import(&req)
    };
    for n in 1..der.len() {
        let e = attempt(&mut h, &der[..n]).unwrap_err();
        assert_eq!(e.aws_name(), "IncorrectKeyMaterialException", "cut at {n}");
    }
    // Every bit flip: the parser answers (a flip may leave a valid key, such
    // as another scalar) and never panics; what it accepts re-encodes.
    for i in 0..der.len() * 8 {
        let mut m = der.clone();
        m[i / 8] ^= 1 << (i % 8);
        if let Ok(k) = AsymmetricKey::from_pkcs8(byok::kms::KeySpec::EccNistP256, &m) {
            k.to_pkcs8().expect("an accepted key re-encodes");
        }
    }
    assert_eq!(h.kms.key(id).unwrap().materials().len(), 0);
    attempt(&mut h, &der).expect("the whole key imports");
}
