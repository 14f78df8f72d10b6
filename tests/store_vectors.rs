//! One test-vector store per format version (tests/data/store-v<N>.byok and
//! its audit journal), so that a store written by an older byok always opens.
//!
//! The format-1 vector was written by a format-1 byok
//! (`BYOK_WRITE_STORE_VECTORS=1 cargo test --test store_vectors` on such a
//! build) and is frozen: this build writes format 2, so the switch refuses.

mod common;

use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use byok::kms::audit::verify_chain;
use byok::kms::{
    Caller, CreateKeyRequest, DecryptRequest, EncryptionContext, ExpirationModel,
    ImportKeyMaterialRequest, KeyState, ManualClock, Origin, WrappingAlgorithm, WrappingKeySpec,
    wrap_material,
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
    v.close().unwrap();
    for leftover in [format!("{name}.bak"), format!("{name}.lock")] {
        std::fs::remove_file(dir.join(leftover)).unwrap();
    }
    let expect = json!({
        "KeyId": key.to_string(),
        "KeyMaterialId": imported.key_material_id.to_string(),
        "CiphertextBlob": STANDARD.encode(&blob),
        "Plaintext": format!("format {version} plaintext"),
    });
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
    let expect: Value =
        serde_json::from_slice(&std::fs::read(data.join("store-v1.expect.json")).unwrap()).unwrap();
    let (_tmp, path) = copy_of_vector(&data);

    let mut v = Vault::open(
        &path,
        &SecretString::from(PASSPHRASE.to_string()),
        options(),
    )
    .unwrap();
    assert_eq!(v.info().format_version, 1);
    let key_id = expect["KeyId"].as_str().unwrap();
    let key = v
        .kms()
        .keys()
        .find(|k| k.id().to_string() == key_id)
        .expect("the vector's key");
    assert_eq!(key.state(), KeyState::Enabled);
    assert_eq!(key.description(), "format 1 vector");
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
    assert_eq!(
        records
            .iter()
            .map(|r| r.event_name.as_str())
            .collect::<Vec<_>>(),
        [
            "CreateKey",
            "GetParametersForImport",
            "ImportKeyMaterial",
            "CreateAlias",
            "Encrypt",
            "Decrypt"
        ]
    );
    assert!(verify_chain(&records).unwrap().from_genesis);
}

/// Format 2 appends named sections to the body (the AWS workspace keeps its
/// connection and cached key list there). A format-1 store opens, is
/// rewritten as format 2 at its next change, and loses nothing; sections
/// survive closing and reopening.
#[test]
fn a_format_1_store_becomes_format_2_and_keeps_its_sections() {
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
    assert_eq!(v.info().format_version, 2);
    let keys = v.kms().keys().count();
    v.close().unwrap();

    let v = Vault::open(&path, &pass, options()).unwrap();
    assert_eq!(v.info().format_version, 2);
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
    // The backup written by the same code path is format 2 and opens too.
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
/// (`BYOK_WRITE_STORE_VECTORS=2`); frozen once written.
#[test]
fn format_2_vector_writer() {
    if std::env::var("BYOK_WRITE_STORE_VECTORS").is_ok_and(|v| v == "2") {
        assert_eq!(byok::store::format::FORMAT_VERSION, 2);
        write_vector_v(&data_dir(), 2);
    }
}
