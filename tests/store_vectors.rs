//! One test-vector store per format version (tests/data/store-v<N>.byok and
//! its audit journal), so that a store written by an older byok always opens.
//!
//! Each vector was written by a build of its format
//! (`BYOK_WRITE_STORE_VECTORS=<N> cargo test --test store_vectors` on such a
//! build) and is frozen: a build of another format refuses to rewrite it.
//! Format 1: the body; format 2: named sections after it; format 3: keys
//! with a key spec and usage and materials of any length (HMAC keys);
//! format 4: asymmetric keys (a PKCS #8 private key as material).

mod common;

use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use byok::kms::audit::verify_chain;
use byok::kms::{
    Caller, CreateKeyRequest, DecryptRequest, EncryptionContext, ExpirationModel,
    ImportKeyMaterialRequest, KeySpec, KeyState, KeyUsage, MacAlgorithm, ManualClock, Origin,
    SigningAlgorithm, WrappingAlgorithm, WrappingKeySpec, wrap_material,
};
use byok::store::{Vault, VaultOptions};
use common::*;
use secrecy::SecretString;
use serde_json::{Value, json};

const PASSPHRASE: &str = "byok store format 1 test vector";

/// The passphrase of the format-`version` vector.
fn vector_passphrase(version: u16) -> String {
    format!("byok store format {version} test vector")
}

fn options() -> VaultOptions {
    vault_options(&ManualClock::new(START), test_keys())
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
    }
}

/// A copy of the format-1 vector (state file and journal) in a new folder.
fn copy_of_vector(data: &Path) -> (tempfile::TempDir, PathBuf) {
    copy_of_vector_v(data, 1)
}

/// A copy of the format-`version` vector in a new folder.
fn copy_of_vector_v(data: &Path, version: u16) -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let name = format!("store-v{version}.byok");
    let path = tmp.path().join(&name);
    std::fs::copy(data.join(&name), &path).unwrap();
    copy_dir(
        &data.join(format!("{name}.audit")),
        &tmp.path().join(format!("{name}.audit")),
    );
    (tmp, path)
}

/// Writes the format-1 vector: an EXTERNAL key holding SPEC §8's material
/// (bytes 00..1f) under alias/vector, and a ciphertext made with it.
fn write_vector(dir: &Path) {
    write_vector_v(dir, 1)
}

/// Writes the vector of the format this build writes (`version`): the
/// format-1 contents, and from format 2 on a section `vector` too.
fn write_vector_v(dir: &Path, version: u16) {
    let name = format!("store-v{version}.byok");
    let path = dir.join(&name);
    let _ = std::fs::remove_file(&path);
    let _ = std::fs::remove_dir_all(dir.join(format!("{name}.audit")));
    let pass = SecretString::from(vector_passphrase(version));
    let mut v = Vault::create(&path, &pass, options()).unwrap();
    let caller = Caller::cli();
    let material: [u8; 32] = std::array::from_fn(|i| i as u8);
    let key = v
        .apply(|k| {
            k.create_key(
                &caller,
                CreateKeyRequest {
                    description: Some(format!("format {version} vector")),
                    origin: Some(Origin::External),
                    tags: vec![],
                },
            )
        })
        .unwrap();
    let params = v
        .apply(|k| {
            k.get_parameters_for_import(
                &caller,
                &key.to_string(),
                WrappingAlgorithm::RsaesOaepSha256,
                WrappingKeySpec::Rsa2048,
            )
        })
        .unwrap();
    let wrapped = wrap_material(
        &params.public_key,
        WrappingAlgorithm::RsaesOaepSha256,
        &material,
        &mut seeded(5),
    )
    .unwrap();
    let imported = v
        .apply(|k| {
            k.import_key_material(
                &caller,
                &ImportKeyMaterialRequest {
                    key_id: key.to_string(),
                    import_token: params.import_token.clone(),
                    encrypted_key_material: wrapped.clone(),
                    expiration_model: Some(ExpirationModel::KeyMaterialDoesNotExpire),
                    key_material_description: Some("SPEC 8 vector material".into()),
                    ..Default::default()
                },
            )
        })
        .unwrap();
    v.apply(|k| k.create_alias(&caller, "alias/vector", &key.to_string()))
        .unwrap();
    let blob = v
        .apply(|k| {
            k.encrypt(
                &caller,
                "alias/vector",
                format!("format {version} plaintext").as_bytes(),
                &EncryptionContext::new(),
            )
        })
        .unwrap()
        .ciphertext_blob;
    if version >= 2 {
        v.set_section("vector", Some(b"format 2 section".to_vec()))
            .unwrap();
    }
    let mut expect_mac = json!({});
    if version >= 3 {
        // An HMAC_512 key holding 100 bytes (00..63), imported with
        // RSA_AES_KEY_WRAP_SHA_256, and a MAC it made.
        let mac_material: Vec<u8> = (0u8..100).collect();
        let mac_key = v
            .apply(|k| {
                k.create_key_of_spec(
                    &caller,
                    CreateKeyRequest {
                        description: Some("format 3 HMAC vector".into()),
                        origin: Some(Origin::External),
                        tags: vec![],
                    },
                    KeySpec::Hmac512,
                )
            })
            .unwrap();
        let params = v
            .apply(|k| {
                k.get_parameters_for_import(
                    &caller,
                    &mac_key.to_string(),
                    WrappingAlgorithm::RsaAesKeyWrapSha256,
                    WrappingKeySpec::Rsa3072,
                )
            })
            .unwrap();
        let wrapped = wrap_material(
            &params.public_key,
            WrappingAlgorithm::RsaAesKeyWrapSha256,
            &mac_material,
            &mut seeded(6),
        )
        .unwrap();
        let imported = v
            .apply(|k| {
                k.import_key_material(
                    &caller,
                    &ImportKeyMaterialRequest {
                        key_id: mac_key.to_string(),
                        import_token: params.import_token.clone(),
                        encrypted_key_material: wrapped,
                        expiration_model: Some(ExpirationModel::KeyMaterialDoesNotExpire),
                        ..Default::default()
                    },
                )
            })
            .unwrap();
        v.apply(|k| k.create_alias(&caller, "alias/vector-mac", &mac_key.to_string()))
            .unwrap();
        let mac = v
            .apply(|k| {
                k.generate_mac(
                    &caller,
                    "alias/vector-mac",
                    b"format 3 message",
                    MacAlgorithm::HmacSha512,
                    false,
                )
            })
            .unwrap()
            .mac;
        expect_mac = json!({
            "MacKeyId": mac_key.to_string(),
            "MacKeyMaterialId": imported.key_material_id.to_string(),
            "Mac": STANDARD.encode(&mac),
            "Message": "format 3 message",
        });
    }
    if version >= 4 {
        // An ECC_NIST_P256 SIGN_VERIFY key holding a private key made from a
        // seeded RNG, imported with RSA_AES_KEY_WRAP_SHA_256, and an
        // ECDSA_SHA_256 signature it made.
        let private =
            byok::kms::asym::AsymmetricKey::generate(KeySpec::EccNistP256, &mut seeded(8))
                .unwrap()
                .to_pkcs8()
                .unwrap();
        let sign_key = v
            .apply(|k| {
                k.create_key_with_usage(
                    &caller,
                    CreateKeyRequest {
                        description: Some("format 4 signing vector".into()),
                        origin: Some(Origin::External),
                        tags: vec![],
                    },
                    KeySpec::EccNistP256,
                    KeyUsage::SignVerify,
                )
            })
            .unwrap();
        let params = v
            .apply(|k| {
                k.get_parameters_for_import(
                    &caller,
                    &sign_key.to_string(),
                    WrappingAlgorithm::RsaAesKeyWrapSha256,
                    WrappingKeySpec::Rsa2048,
                )
            })
            .unwrap();
        let wrapped = wrap_material(
            &params.public_key,
            WrappingAlgorithm::RsaAesKeyWrapSha256,
            private.expose(),
            &mut seeded(9),
        )
        .unwrap();
        let imported = v
            .apply(|k| {
                k.import_key_material(
                    &caller,
                    &ImportKeyMaterialRequest {
                        key_id: sign_key.to_string(),
                        import_token: params.import_token.clone(),
                        encrypted_key_material: wrapped,
                        expiration_model: Some(ExpirationModel::KeyMaterialDoesNotExpire),
                        ..Default::default()
                    },
                )
            })
            .unwrap();
        let signature = v
            .apply(|k| {
                k.sign(
                    &caller,
                    &sign_key.to_string(),
                    b"format 4 message",
                    None,
                    SigningAlgorithm::EcdsaSha256,
                    false,
                )
            })
            .unwrap()
            .signature;
        let public_key = v
            .apply(|k| k.get_public_key(&caller, &sign_key.to_string()))
            .unwrap()
            .public_key;
        if let Value::Object(m) = &mut expect_mac {
            m.insert("SignKeyId".into(), json!(sign_key.to_string()));
            m.insert(
                "SignKeyMaterialId".into(),
                json!(imported.key_material_id.to_string()),
            );
            m.insert("Signature".into(), json!(STANDARD.encode(&signature)));
            m.insert("PublicKey".into(), json!(STANDARD.encode(&public_key)));
            m.insert("SignMessage".into(), json!("format 4 message"));
        }
    }
    v.close().unwrap();
    for leftover in [format!("{name}.bak"), format!("{name}.lock")] {
        std::fs::remove_file(dir.join(leftover)).unwrap();
    }
    let mut expect = json!({
        "KeyId": key.to_string(),
        "KeyMaterialId": imported.key_material_id.to_string(),
        "CiphertextBlob": STANDARD.encode(&blob),
        "Plaintext": format!("format {version} plaintext"),
    });
    if let (Value::Object(e), Value::Object(m)) = (&mut expect, expect_mac) {
        e.extend(m);
    }
    std::fs::write(
        dir.join(format!("store-v{version}.expect.json")),
        serde_json::to_string_pretty(&expect).unwrap(),
    )
    .unwrap();
}

#[test]
fn format_1_vector_opens() {
    let data = data_dir();
    if std::env::var("BYOK_WRITE_STORE_VECTORS").is_ok_and(|v| v == "1") {
        assert_eq!(
            byok::store::format::FORMAT_VERSION,
            1,
            "the format-1 vector is frozen: a format-2 build must not rewrite it"
        );
        write_vector(&data);
    }
    let records = vector_opens(&data, 1);
    assert_eq!(records.len(), 6, "{records:?}");
}

#[test]
fn format_2_vector_opens() {
    let records = vector_opens(&data_dir(), 2);
    assert_eq!(records.len(), 6, "{records:?}");
}

/// Opens a copy of the format-`version` vector and checks what every
/// vector holds: the EXTERNAL symmetric key with SPEC §8's material under
/// alias/vector, which decrypts the vector's ciphertext, and the audit
/// trail from genesis. Returns the trail's event names.
fn vector_opens(data: &Path, version: u16) -> Vec<String> {
    let expect: Value = serde_json::from_slice(
        &std::fs::read(data.join(format!("store-v{version}.expect.json"))).unwrap(),
    )
    .unwrap();
    let (_tmp, path) = copy_of_vector_v(data, version);

    let mut v = Vault::open(
        &path,
        &SecretString::from(vector_passphrase(version)),
        options(),
    )
    .unwrap();
    assert_eq!(v.info().format_version, version);
    if version >= 2 {
        assert_eq!(v.sections().get("vector"), Some(&b"format 2 section"[..]));
    }
    let key_id = expect["KeyId"].as_str().unwrap();
    let key = v
        .kms()
        .keys()
        .find(|k| k.id().to_string() == key_id)
        .expect("the vector's key");
    assert_eq!(key.state(), KeyState::Enabled);
    assert_eq!(key.description(), format!("format {version} vector"));
    // Formats 1 and 2 hold symmetric encryption keys only.
    assert_eq!(key.key_spec(), KeySpec::SymmetricDefault);
    assert_eq!(key.key_usage(), KeyUsage::EncryptDecrypt);
    assert_eq!(
        key.current_key_material_id()
            .map(|m| m.to_string())
            .as_deref(),
        expect["KeyMaterialId"].as_str()
    );
    // The material is SPEC §8's: its id is recomputed from the bytes.
    let material: [u8; 32] = std::array::from_fn(|i| i as u8);
    assert_eq!(
        Some(byok::kms::material::key_material_id(key.id(), &material).to_string()).as_deref(),
        expect["KeyMaterialId"].as_str()
    );
    let blob = STANDARD
        .decode(expect["CiphertextBlob"].as_str().unwrap())
        .unwrap();
    let caller = Caller::cli();
    let out = v
        .apply(|k| {
            k.decrypt(
                &caller,
                &DecryptRequest {
                    ciphertext_blob: blob.clone(),
                    key_id: Some("alias/vector".into()),
                    ..Default::default()
                },
            )
        })
        .unwrap();
    assert_eq!(
        out.plaintext.expose(),
        expect["Plaintext"].as_str().unwrap().as_bytes()
    );
    let records = v.audit_records().unwrap();
    let names: Vec<String> = records.iter().map(|r| r.event_name.clone()).collect();
    assert_eq!(
        names[..5],
        [
            "CreateKey",
            "GetParametersForImport",
            "ImportKeyMaterial",
            "CreateAlias",
            "Encrypt",
        ]
    );
    assert_eq!(names.last().map(String::as_str), Some("Decrypt"));
    assert!(verify_chain(&records).unwrap().from_genesis);
    names
}

/// Format 2 appends named sections to the body (the AWS workspace keeps its
/// connection and cached key list there). A format-1 store opens, is
/// rewritten in the current format at its next change, and loses nothing;
/// sections survive closing and reopening.
#[test]
fn a_format_1_store_becomes_the_current_format_and_keeps_its_sections() {
    let data = data_dir();
    let (tmp, path) = copy_of_vector(&data);
    let pass = SecretString::from(PASSPHRASE.to_string());
    let mut v = Vault::open(&path, &pass, options()).unwrap();
    assert_eq!(v.info().format_version, 1);
    assert_eq!(v.sections().names().count(), 0);
    v.set_section("aws", Some(b"{\"profile\":\"officer\"}".to_vec()))
        .unwrap();
    v.set_section("other", Some(vec![0, 1, 2])).unwrap();
    v.set_section("other", None).unwrap();
    assert_eq!(v.info().format_version, byok::store::format::FORMAT_VERSION);
    let keys = v.kms().keys().count();
    v.close().unwrap();

    let v = Vault::open(&path, &pass, options()).unwrap();
    assert_eq!(v.info().format_version, byok::store::format::FORMAT_VERSION);
    assert_eq!(
        v.sections().get("aws"),
        Some(&b"{\"profile\":\"officer\"}"[..])
    );
    // ... beside the journal's checkpoint, which every save writes.
    assert_eq!(
        v.sections().names().collect::<Vec<_>>(),
        ["audit-checkpoint", "aws"]
    );
    assert_eq!(v.kms().keys().count(), keys);
    assert!(v.kms().aliases().any(|a| a.name == "alias/vector"));
    // The backup written by the same code path is in the current format and
    // opens too.
    let backup = tmp.path().join("copy.byok");
    v.backup_to(&backup).unwrap();
    v.close().unwrap();
    let b = Vault::open(&backup, &pass, options()).unwrap();
    assert_eq!(
        b.sections().get("aws"),
        Some(&b"{\"profile\":\"officer\"}"[..])
    );
}

/// Writes the format-2 vector with a format-2 build
/// (`BYOK_WRITE_STORE_VECTORS=2`); frozen once written (it was written by
/// the last format-2 build, commit 0da2f1a).
#[test]
fn format_2_vector_writer() {
    if std::env::var("BYOK_WRITE_STORE_VECTORS").is_ok_and(|v| v == "2") {
        assert_eq!(
            byok::store::format::FORMAT_VERSION,
            2,
            "the format-2 vector is frozen: a format-3 build must not rewrite it"
        );
        write_vector_v(&data_dir(), 2);
    }
}

/// The format-3 vector (`BYOK_WRITE_STORE_VECTORS=3` on a format-3 build
/// writes it): what formats 1 and 2 hold, plus an HMAC_512 key with 100
/// bytes of imported material (00..63) under alias/vector-mac whose MAC of
/// "format 3 message" verifies and is HMAC-SHA-512 of those bytes.
#[test]
fn format_3_vector_opens() {
    let data = data_dir();
    if std::env::var("BYOK_WRITE_STORE_VECTORS").is_ok_and(|v| v == "3") {
        assert_eq!(
            byok::store::format::FORMAT_VERSION,
            3,
            "the format-3 vector is frozen: a format-4 build must not rewrite it"
        );
        write_vector_v(&data, 3);
    }
    let names = vector_opens(&data, 3);
    assert!(names.iter().any(|n| n == "GenerateMac"), "{names:?}");
    let expect: Value =
        serde_json::from_slice(&std::fs::read(data.join("store-v3.expect.json")).unwrap()).unwrap();
    let (_tmp, path) = copy_of_vector_v(&data, 3);
    let mut v = Vault::open(&path, &pass(&vector_passphrase(3)), options()).unwrap();
    let mac_key_id = expect["MacKeyId"].as_str().unwrap();
    let key = v
        .kms()
        .keys()
        .find(|k| k.id().to_string() == mac_key_id)
        .expect("the vector's HMAC key");
    assert_eq!(key.key_spec(), KeySpec::Hmac512);
    assert_eq!(key.key_usage(), KeyUsage::GenerateVerifyMac);
    assert_eq!(key.state(), KeyState::Enabled);
    let material: Vec<u8> = (0u8..100).collect();
    assert_eq!(
        byok::kms::material::key_material_id(key.id(), &material).to_string(),
        expect["MacKeyMaterialId"].as_str().unwrap()
    );
    let mac = STANDARD.decode(expect["Mac"].as_str().unwrap()).unwrap();
    let message = expect["Message"].as_str().unwrap().as_bytes().to_vec();
    assert_eq!(
        mac,
        byok::kms::hmac(MacAlgorithm::HmacSha512, &material, &message)
    );
    let caller = Caller::cli();
    v.apply(|k| {
        k.verify_mac(
            &caller,
            "alias/vector-mac",
            &message,
            &mac,
            MacAlgorithm::HmacSha512,
            false,
        )
    })
    .unwrap();
}

/// The format-4 vector (`BYOK_WRITE_STORE_VECTORS=4` on a format-4 build
/// writes it): what format 3 holds, plus an ECC_NIST_P256 SIGN_VERIFY key
/// with an imported private key whose signature of "format 4 message"
/// verifies, and whose public key is the one recorded.
#[test]
fn format_4_vector_opens() {
    let data = data_dir();
    if std::env::var("BYOK_WRITE_STORE_VECTORS").is_ok_and(|v| v == "4") {
        assert_eq!(byok::store::format::FORMAT_VERSION, 4);
        write_vector_v(&data, 4);
    }
    let names = vector_opens(&data, 4);
    assert!(names.iter().any(|n| n == "Sign"), "{names:?}");
    let expect: Value =
        serde_json::from_slice(&std::fs::read(data.join("store-v4.expect.json")).unwrap()).unwrap();
    let (_tmp, path) = copy_of_vector_v(&data, 4);
    let mut v = Vault::open(&path, &pass(&vector_passphrase(4)), options()).unwrap();
    let sign_key = expect["SignKeyId"].as_str().unwrap().to_string();
    let key = v
        .kms()
        .keys()
        .find(|k| k.id().to_string() == sign_key)
        .expect("the vector's signing key");
    assert_eq!(key.key_spec(), KeySpec::EccNistP256);
    assert_eq!(key.key_usage(), KeyUsage::SignVerify);
    assert_eq!(key.state(), KeyState::Enabled);
    assert_eq!(
        key.current_key_material_id()
            .map(|m| m.to_string())
            .as_deref(),
        expect["SignKeyMaterialId"].as_str()
    );
    let caller = Caller::cli();
    let signature = STANDARD
        .decode(expect["Signature"].as_str().unwrap())
        .unwrap();
    v.apply(|k| {
        k.verify(
            &caller,
            &sign_key,
            b"format 4 message",
            None,
            &signature,
            SigningAlgorithm::EcdsaSha256,
            false,
        )
    })
    .unwrap();
    let public_key = v
        .apply(|k| k.get_public_key(&caller, &sign_key))
        .unwrap()
        .public_key;
    assert_eq!(
        STANDARD.encode(public_key),
        expect["PublicKey"].as_str().unwrap()
    );
}

/// A format-3 store opens as it is and is rewritten in the current format at its
/// first change; an asymmetric key made then survives closing and
/// reopening, and the HMAC key still verifies its MAC.
#[test]
fn format_3_stores_migrate_to_format_4() {
    let data = data_dir();
    let (_tmp, path) = copy_of_vector_v(&data, 3);
    let pass = pass(&vector_passphrase(3));
    let mut v = Vault::open(&path, &pass, options()).unwrap();
    assert_eq!(v.info().format_version, 3);
    let caller = Caller::cli();
    let key = v
        .apply(|k| {
            k.create_key_with_usage(
                &caller,
                CreateKeyRequest::default(),
                KeySpec::EccSecgP256k1,
                KeyUsage::SignVerify,
            )
        })
        .unwrap();
    assert_eq!(
        v.info().format_version,
        byok::store::format::FORMAT_VERSION,
        "rewritten at the first change"
    );
    let signature = v
        .apply(|k| {
            k.sign(
                &caller,
                &key.to_string(),
                b"after the migration",
                None,
                SigningAlgorithm::EcdsaSha256,
                false,
            )
        })
        .unwrap()
        .signature;
    v.close().unwrap();
    let mut v = Vault::open(&path, &pass, options()).unwrap();
    assert_eq!(v.info().format_version, byok::store::format::FORMAT_VERSION);
    v.apply(|k| {
        k.verify(
            &caller,
            &key.to_string(),
            b"after the migration",
            None,
            &signature,
            SigningAlgorithm::EcdsaSha256,
            false,
        )
    })
    .unwrap();
    assert!(v.kms().keys().any(|k| k.key_spec() == KeySpec::Hmac512));
}

/// The migration to format 3: a format-1 or format-2 store opens, its keys
/// are symmetric encryption keys, the first change rewrites it as format 3,
/// an HMAC key made after that survives closing and reopening, and the
/// older key still decrypts the vector's ciphertext.
#[test]
fn format_1_and_2_stores_migrate_to_format_3() {
    let data = data_dir();
    for version in [1u16, 2] {
        let expect: Value = serde_json::from_slice(
            &std::fs::read(data.join(format!("store-v{version}.expect.json"))).unwrap(),
        )
        .unwrap();
        let (_tmp, path) = copy_of_vector_v(&data, version);
        let pass = pass(&vector_passphrase(version));
        let mut v = Vault::open(&path, &pass, options()).unwrap();
        assert_eq!(v.info().format_version, version);
        assert!(
            v.kms()
                .keys()
                .all(|k| k.key_spec() == KeySpec::SymmetricDefault)
        );
        let caller = Caller::cli();
        let mac_key = v
            .apply(|k| k.create_key_of_spec(&caller, CreateKeyRequest::default(), KeySpec::Hmac224))
            .unwrap();
        assert_eq!(
            v.info().format_version,
            byok::store::format::FORMAT_VERSION,
            "rewritten at the first change"
        );
        let mac = v
            .apply(|k| {
                k.generate_mac(
                    &caller,
                    &mac_key.to_string(),
                    b"after the migration",
                    MacAlgorithm::HmacSha224,
                    false,
                )
            })
            .unwrap()
            .mac;
        v.close().unwrap();

        let mut v = Vault::open(&path, &pass, options()).unwrap();
        assert_eq!(v.info().format_version, byok::store::format::FORMAT_VERSION);
        let key = v.kms().key(mac_key).expect("the HMAC key");
        assert_eq!(key.key_spec(), KeySpec::Hmac224);
        assert_eq!(key.key_usage(), KeyUsage::GenerateVerifyMac);
        v.apply(|k| {
            k.verify_mac(
                &caller,
                &mac_key.to_string(),
                b"after the migration",
                &mac,
                MacAlgorithm::HmacSha224,
                false,
            )
        })
        .unwrap();
        let blob = STANDARD
            .decode(expect["CiphertextBlob"].as_str().unwrap())
            .unwrap();
        let out = v
            .apply(|k| {
                k.decrypt(
                    &caller,
                    &DecryptRequest {
                        ciphertext_blob: blob,
                        ..Default::default()
                    },
                )
            })
            .unwrap();
        assert_eq!(
            out.plaintext.expose(),
            expect["Plaintext"].as_str().unwrap().as_bytes()
        );
        assert!(
            verify_chain(&v.audit_records().unwrap())
                .unwrap()
                .from_genesis
        );
    }
}

/// A format-4 store (one region) opens as it is and is rewritten as format
/// 5 at its first change; a multi-Region key and its replica in another
/// region, made then, survive closing and reopening: the replica decrypts
/// what the primary encrypted, and DescribeKey still shows the set.
#[test]
fn format_4_stores_migrate_to_format_5_with_multi_region_keys() {
    let data = data_dir();
    let (_tmp, path) = copy_of_vector_v(&data, 4);
    let pass = pass(&vector_passphrase(4));
    let mut v = Vault::open(&path, &pass, options()).unwrap();
    assert_eq!(v.info().format_version, 4);
    let keys_before = v.kms().keys().count();
    let home = Caller::cli();
    let away = Caller::cli().in_region(Some("eu-west-1".into()));
    let answer = |v: &mut Vault, caller: &Caller, op: &str, body: Value| -> Value {
        let out = v
            .call(caller, op, body.to_string().as_bytes())
            .unwrap_or_else(|e| panic!("{op}: {e:?}"));
        serde_json::from_slice(&out).unwrap()
    };
    let created = answer(&mut v, &home, "CreateKey", json!({"MultiRegion": true}));
    let id = created["KeyMetadata"]["KeyId"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(id.starts_with("mrk-"), "{id}");
    assert_eq!(v.info().format_version, 5, "rewritten at the first change");
    answer(
        &mut v,
        &home,
        "ReplicateKey",
        json!({"KeyId": id, "ReplicaRegion": "eu-west-1"}),
    );
    let blob = answer(
        &mut v,
        &home,
        "Encrypt",
        json!({"KeyId": id, "Plaintext": STANDARD.encode(b"format 5")}),
    )["CiphertextBlob"]
        .clone();
    v.close().unwrap();

    let mut v = Vault::open(&path, &pass, options()).unwrap();
    assert_eq!(v.info().format_version, 5);
    // The store's region holds the format-4 keys and the primary key.
    assert_eq!(v.kms().keys().count(), keys_before + 1);
    let plain = answer(&mut v, &away, "Decrypt", json!({"CiphertextBlob": blob}));
    assert_eq!(plain["Plaintext"], json!(STANDARD.encode(b"format 5")));
    let meta = answer(&mut v, &away, "DescribeKey", json!({"KeyId": id}))["KeyMetadata"].clone();
    assert_eq!(
        meta["MultiRegionConfiguration"]["MultiRegionKeyType"],
        json!("REPLICA")
    );
    assert_eq!(
        meta["MultiRegionConfiguration"]["PrimaryKey"]["Region"],
        json!("us-east-1")
    );
    let listed = answer(&mut v, &away, "ListKeys", json!({}));
    assert_eq!(listed["Keys"].as_array().unwrap().len(), 1);
}
