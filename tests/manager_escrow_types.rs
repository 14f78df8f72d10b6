//! The key manager's escrow for every key type that takes imported material
//! (issue 8): HMAC keys (their bytes, of the lengths each spec takes) and
//! asymmetric keys (the DER PKCS #8 private key as imported) are escrowed
//! like 32-byte symmetric material; the kill switch deletes their material
//! and restore re-imports it from escrow, so the key answers as before (the
//! same MAC; signatures that verify under the public key the key had before);
//! renewal re-imports with a new ValidTo; the export is the exact bytes; a
//! store written when every escrow copy was 32 bytes reads as it is; and no
//! `Debug` output shows a copy.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine;
use byok::api::op;
use byok::api::shapes::*;
use byok::api::wire::{Blob, Time};
use byok::backend::local::LocalBackend;
use byok::backend::{Backend, send};
use byok::kms::asym::AsymmetricKey;
use byok::kms::material::MATERIAL_LEN;
use byok::kms::{
    Caller, Clock, ExpirationModel, KeySpec, MacAlgorithm, ManualClock, SecretArray, SecretVec,
    Timestamp, WrappingAlgorithm, wrap_material,
};
use byok::manager::state::{EscrowEntry, ManagerState, SECTION, days_of};
use byok::manager::{ExportForm, KeyPolicy, Manager, MaterialOrigin};
use byok::store::Vault;
use common::{START, pass, test_keys, vault_options};
use sha2::Digest;

const DAY: Duration = Duration::from_secs(86_400);

/// A local store on the manual clock and its manager acting as `alice`.
struct Local {
    dir: tempfile::TempDir,
    clock: ManualClock,
    vault: Arc<Mutex<Vault>>,
    backend: Arc<dyn Backend>,
    manager: Manager,
}

fn local() -> Local {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(START);
    let options = vault_options(&clock, test_keys());
    let vault = Vault::create(&dir.path().join("store.byok"), &pass("escrow"), options).unwrap();
    let vault = Arc::new(Mutex::new(vault));
    let backend: Arc<dyn Backend> = Arc::new(LocalBackend::new(vault.clone(), Caller::agent()));
    let manager = manager_of(&backend, &vault, &clock);
    Local {
        dir,
        clock,
        vault,
        backend,
        manager,
    }
}

fn manager_of(
    backend: &Arc<dyn Backend>,
    vault: &Arc<Mutex<Vault>>,
    clock: &ManualClock,
) -> Manager {
    Manager::new(
        backend.clone(),
        vault.clone(),
        Arc::new(clock.clone()),
        Caller::agent(),
        "alice",
    )
    .with_rotation_wait(Duration::ZERO)
}

/// A new EXTERNAL key of `spec` and `usage`, without material: its ARN.
fn external_key(b: &dyn Backend, spec: &str, usage: &str) -> String {
    send::<op::CreateKey>(
        b,
        &CreateKeyInput {
            origin: Some("EXTERNAL".into()),
            key_spec: Some(spec.into()),
            key_usage: Some(usage.into()),
            description: Some(format!("escrowed {spec}")),
            ..Default::default()
        },
    )
    .expect("CreateKey")
    .key_metadata
    .arn
}

/// Imports `material` into `arn` as the import wizard does (its default:
/// RSA_AES_KEY_WRAP_SHA_256 under an RSA_4096 wrapping key), expiring at
/// `valid_to`: the material's id.
fn import(b: &dyn Backend, arn: &str, material: &[u8], valid_to: Option<Timestamp>) -> String {
    let params = send::<op::GetParametersForImport>(
        b,
        &GetParametersForImportInput {
            key_id: Some(arn.to_string()),
            wrapping_algorithm: Some("RSA_AES_KEY_WRAP_SHA_256".into()),
            wrapping_key_spec: Some("RSA_4096".into()),
        },
    )
    .expect("GetParametersForImport");
    let wrapped = wrap_material(
        params.public_key.bytes(),
        WrappingAlgorithm::RsaAesKeyWrapSha256,
        material,
        &mut rand::rng(),
    )
    .expect("wrap");
    send::<op::ImportKeyMaterial>(
        b,
        &ImportKeyMaterialInput {
            key_id: Some(arn.to_string()),
            import_token: Some(params.import_token),
            encrypted_key_material: Some(Blob::from(wrapped)),
            expiration_model: Some(ExpirationModel::for_valid_to(valid_to).as_str().into()),
            valid_to: valid_to.map(Time),
            key_material_description: Some("custodian material".into()),
            ..Default::default()
        },
    )
    .expect("ImportKeyMaterial")
    .key_material_id
}

/// A policy with escrow on (and renewal when `renew`), as the officer sets
/// it before the wizard imports.
fn escrow_policy(m: &Manager, arn: &str, now: Timestamp, renew: bool) {
    let mut p = KeyPolicy::new(arn, now);
    p.escrow = true;
    if renew {
        p.valid_for_days = Some(30);
        p.renew_before_days = Some(7);
    }
    m.set_policy(p).expect("an escrow policy for this key");
}

fn key_state(b: &dyn Backend, arn: &str) -> String {
    send::<op::DescribeKey>(
        b,
        &KeyIdInput {
            key_id: Some(arn.to_string()),
        },
    )
    .unwrap()
    .key_metadata
    .key_state
}

fn valid_to_of(b: &dyn Backend, arn: &str, id: &str) -> Option<Timestamp> {
    send::<op::ListKeyRotations>(
        b,
        &ListKeyRotationsInput {
            key_id: Some(arn.to_string()),
            include_key_material: Some("ALL_KEY_MATERIAL".into()),
            limit: Some(1000),
            ..Default::default()
        },
    )
    .unwrap()
    .rotations
    .into_iter()
    .find(|r| r.key_material_id == id)
    .expect("the material is listed")
    .valid_to
    .map(|t| t.0)
}

fn mac(b: &dyn Backend, arn: &str, message: &[u8]) -> Result<Vec<u8>, byok::backend::BackendError> {
    send::<op::GenerateMac>(
        b,
        &GenerateMacInput {
            key_id: Some(arn.to_string()),
            message: Some(Blob::copy_of(message)),
            mac_algorithm: Some("HMAC_SHA_256".into()),
            ..Default::default()
        },
    )
    .map(|o| o.mac.bytes().to_vec())
}

fn sign(
    b: &dyn Backend,
    arn: &str,
    algorithm: &str,
    message: &[u8],
) -> Result<Vec<u8>, byok::backend::BackendError> {
    send::<op::Sign>(
        b,
        &SignInput {
            key_id: Some(arn.to_string()),
            message: Some(Blob::copy_of(message)),
            message_type: Some("RAW".into()),
            signing_algorithm: Some(algorithm.into()),
            ..Default::default()
        },
    )
    .map(|o| o.signature.bytes().to_vec())
}

fn public_key(b: &dyn Backend, arn: &str) -> Vec<u8> {
    send::<op::GetPublicKey>(
        b,
        &GetPublicKeyInput {
            key_id: Some(arn.to_string()),
            ..Default::default()
        },
    )
    .expect("GetPublicKey")
    .public_key
    .bytes()
    .to_vec()
}

/// The escrow copy of material `id` of `arn`, as the store holds it.
fn escrowed(m: &Manager, arn: &str, id: &str) -> Vec<u8> {
    m.state()
        .unwrap()
        .escrowed(arn, id)
        .expect("an escrow copy")
        .material
        .expose()
        .to_vec()
}

/// The kill switch on `arn`, checked: its material deleted (the key
/// PendingImport, `works` failing), then restored from escrow.
fn suspend_and_restore(t: &Local, arn: &str, works: impl Fn() -> bool) {
    assert!(works(), "the key works before the kill switch");
    let blast = t.manager.blast_radius(&[arn.to_string()]).unwrap();
    assert!(
        blast.keys.iter().all(|k| k.without_escrow.is_empty()),
        "every material of {arn} has an escrow copy: {blast:?}"
    );
    let (_, report) = t.manager.suspend(&[arn.to_string()]).unwrap();
    assert!(report.outcomes.iter().all(|o| !o.failed), "{report:?}");
    assert_eq!(key_state(&*t.backend, arn), "PendingImport");
    assert!(!works(), "the key does not work while suspended");
    let (_, report) = t.manager.restore(&[arn.to_string()]).unwrap();
    assert!(
        !report.outcomes.is_empty() && report.outcomes.iter().all(|o| !o.failed),
        "{report:?}"
    );
    assert_eq!(key_state(&*t.backend, arn), "Enabled");
    assert!(t.manager.state().unwrap().suspended.is_empty());
}

/// Renewal of `id` of `arn` (imported valid for 30 days) 24 days later:
/// re-imported with a ValidTo 30 days from then.
fn renews(t: &Local, arn: &str, id: &str) {
    let first = valid_to_of(&*t.backend, arn, id).expect("an expiring material");
    t.clock.advance(24 * DAY);
    let report = t.manager.run().unwrap();
    assert!(
        report
            .outcomes
            .iter()
            .any(|o| !o.failed && o.text.contains("renewed material")),
        "{report:?}"
    );
    let renewed = valid_to_of(&*t.backend, arn, id).expect("still expiring");
    assert_eq!(renewed, t.clock.now().plus(days_of(30)));
    assert!(renewed > first);
    let record = t
        .manager
        .state()
        .unwrap()
        .inventory
        .into_iter()
        .find(|r| r.key_arn == arn && r.key_material_id == id)
        .expect("in the inventory");
    assert_eq!(record.valid_to, Some(renewed));
    assert!(record.escrowed);
}

/// The raw export of `id` of `arn`, written to a new file: its bytes.
fn exported(t: &Local, arn: &str, id: &str) -> Vec<u8> {
    let path = t.dir.path().join(format!("export-{}.bin", &id[..8]));
    let export = t
        .manager
        .export_escrow(arn, id, &ExportForm::Raw, &path)
        .unwrap();
    byok::store::files::write_private(&path, &export.bytes).expect("write the export");
    std::fs::read(&path).unwrap()
}

#[test]
fn an_hmac_keys_material_is_escrowed_restored_after_the_kill_switch_renewed_and_exported() {
    let t = local();
    let b = &*t.backend;
    let arn = external_key(b, "HMAC_256", "GENERATE_VERIFY_MAC");
    escrow_policy(&t.manager, &arn, t.clock.now(), true);
    // 48 bytes: HMAC_256 takes 32 to 64.
    let material = SecretVec::random(48, &mut rand::rng());
    let id = import(
        b,
        &arn,
        material.expose(),
        Some(t.clock.now().plus(days_of(30))),
    );
    t.manager
        .deposit(
            &arn,
            &id,
            &material,
            MaterialOrigin::File {
                path: "HmacKey.bin".into(),
            },
        )
        .unwrap();
    assert_eq!(escrowed(&t.manager, &arn, &id), material.expose());
    let record = &t.manager.state().unwrap().inventory[0];
    let digest = sha2::Sha256::digest(material.expose());
    assert_eq!(
        record.key_check_value,
        format!("sha256:{:02x}{:02x}{:02x}", digest[0], digest[1], digest[2]),
        "material that is not 32 bytes is checked by its SHA-256"
    );

    let message = b"webhook payload";
    let before = mac(b, &arn, message).unwrap();
    let local_hmac = byok::kms::hmac(MacAlgorithm::HmacSha256, material.expose(), message);
    assert_eq!(before, local_hmac, "the key holds the escrowed bytes");
    suspend_and_restore(&t, &arn, || mac(b, &arn, message).is_ok());
    assert_eq!(
        mac(b, &arn, message).unwrap(),
        before,
        "the same MAC as before"
    );

    renews(&t, &arn, &id);
    assert_eq!(mac(b, &arn, message).unwrap(), before);
    assert_eq!(exported(&t, &arn, &id), material.expose());
}

#[test]
fn an_rsa_signing_keys_private_key_is_escrowed_as_imported_and_restored_after_the_kill_switch() {
    let t = local();
    let b = &*t.backend;
    let arn = external_key(b, "RSA_2048", "SIGN_VERIFY");
    escrow_policy(&t.manager, &arn, t.clock.now(), true);
    // A pregenerated 2048-bit key (an RSA key pair takes seconds to make).
    let der = common::test_key_pairs()
        .iter()
        .find(|p| rsa::traits::PublicKeyParts::size(&p.key) == 256)
        .expect("a 2048-bit test key")
        .pkcs8_der
        .clone();
    let material = SecretVec::new(der);
    let id = import(
        b,
        &arn,
        material.expose(),
        Some(t.clock.now().plus(days_of(30))),
    );
    t.manager
        .deposit(
            &arn,
            &id,
            &material,
            MaterialOrigin::File {
                path: "PrivateKey.der".into(),
            },
        )
        .unwrap();
    assert_eq!(escrowed(&t.manager, &arn, &id), material.expose());

    let original = public_key(b, &arn);
    let verifies = |signature: &[u8]| {
        use rsa::pkcs8::DecodePublicKey;
        let public = rsa::PublicKey::from_public_key_der(&original).expect("SPKI");
        public
            .verify(
                rsa::Pkcs1v15Sign::new::<sha2::Sha256>(),
                &sha2::Sha256::digest(b"release 1.0"),
                signature,
            )
            .is_ok()
    };
    let signed = sign(b, &arn, "RSASSA_PKCS1_V1_5_SHA_256", b"release 1.0").unwrap();
    assert!(verifies(&signed));
    suspend_and_restore(&t, &arn, || {
        sign(b, &arn, "RSASSA_PKCS1_V1_5_SHA_256", b"release 1.0").is_ok()
    });
    let after = sign(b, &arn, "RSASSA_PKCS1_V1_5_SHA_256", b"release 1.0").unwrap();
    assert!(
        verifies(&after),
        "signed after restore, verified with the original public key"
    );
    assert_eq!(public_key(b, &arn), original);

    renews(&t, &arn, &id);
    let renewed = sign(b, &arn, "RSASSA_PKCS1_V1_5_SHA_256", b"release 1.0").unwrap();
    assert!(verifies(&renewed));
    assert_eq!(
        exported(&t, &arn, &id),
        material.expose(),
        "the PKCS #8 DER as imported"
    );

    // Wrapped under the custodian's RSA public key: RSA-OAEP cannot hold a
    // private key, and the refusal says which algorithm can; the AES key
    // wrap holds it, and the custodian's private key opens it.
    let custodian = &common::test_key_pairs()
        .iter()
        .find(|p| {
            rsa::traits::PublicKeyParts::size(&p.key) == 256 && p.pkcs8_der != material.expose()
        })
        .expect("another 2048-bit test key")
        .key;
    let custodian_der = {
        use rsa::pkcs8::EncodePublicKey;
        custodian
            .to_public_key()
            .to_public_key_der()
            .unwrap()
            .as_bytes()
            .to_vec()
    };
    let path = t.dir.path().join("wrapped.bin");
    let oaep = ExportForm::Wrapped {
        public_key_der: custodian_der.clone(),
        algorithm: WrappingAlgorithm::RsaesOaepSha256,
    };
    let Err(refused) = t.manager.export_escrow(&arn, &id, &oaep, &path) else {
        panic!("RSA-OAEP wrapped a 2048-bit private key");
    };
    let refused = refused.to_string();
    assert!(
        refused.contains("more than RSAES_OAEP_SHA_256 can wrap")
            && refused.contains("RSA_AES_KEY_WRAP_SHA_256"),
        "{refused}"
    );
    let kwp = ExportForm::Wrapped {
        public_key_der: custodian_der,
        algorithm: WrappingAlgorithm::RsaAesKeyWrapSha256,
    };
    let wrapped = t.manager.export_escrow(&arn, &id, &kwp, &path).unwrap();
    let (rsa_part, kw_part) = wrapped.bytes.split_at(256);
    let aes_key = custodian
        .oaep_decrypt::<sha2::Sha256>(rsa_part)
        .expect("the custodian's key opens the AES key");
    let kek = <aes_kw::KwpAes256 as aes_kw::KeyInit>::new_from_slice(&aes_key).unwrap();
    let mut out = vec![0u8; kw_part.len()];
    let opened = kek.unwrap_key(kw_part, &mut out).expect("RFC 5649 unwrap");
    assert_eq!(opened, material.expose(), "the private key as imported");
}

/// ECC_NIST_P521 material does not fit RSA-OAEP under a 2048-bit wrapping
/// key (GetParametersForImport refuses it): the manager wraps it the way
/// AWS allows for the spec.
#[test]
fn a_p521_keys_private_key_is_restored_with_a_wrapping_aws_allows_for_it() {
    let t = local();
    let b = &*t.backend;
    let arn = external_key(b, "ECC_NIST_P521", "SIGN_VERIFY");
    escrow_policy(&t.manager, &arn, t.clock.now(), false);
    let material = AsymmetricKey::generate(KeySpec::EccNistP521, &mut rand::rng())
        .unwrap()
        .to_pkcs8()
        .unwrap();
    let id = import(b, &arn, material.expose(), None);
    t.manager
        .deposit(&arn, &id, &material, MaterialOrigin::Generated)
        .unwrap();
    let original = public_key(b, &arn);
    let verifies = |signature: &[u8]| {
        use ecdsa::signature::hazmat::PrehashVerifier;
        use rsa::pkcs8::DecodePublicKey;
        let public = p521::PublicKey::from_public_key_der(&original).expect("SPKI");
        let verifier = ecdsa::VerifyingKey::<p521::NistP521>::from(public);
        let sig = ecdsa::Signature::<p521::NistP521>::from_der(signature).expect("DER signature");
        verifier
            .verify_prehash(&sha2::Sha512::digest(b"firmware"), &sig)
            .is_ok()
    };
    suspend_and_restore(&t, &arn, || {
        sign(b, &arn, "ECDSA_SHA_512", b"firmware").is_ok()
    });
    let after = sign(b, &arn, "ECDSA_SHA_512", b"firmware").unwrap();
    assert!(verifies(&after));
    assert_eq!(public_key(b, &arn), original);
    // The restore's GetParametersForImport is in the trail: not RSA-OAEP
    // under RSA_2048, which cannot wrap this material.
    let records = t.vault.lock().unwrap().audit_records().unwrap();
    assert!(
        !records
            .iter()
            .any(|r| r.event_name == "GetParametersForImport" && r.error_code.is_some()),
        "no wrapping was refused"
    );
    let wrapping: Vec<String> = records
        .iter()
        .filter(|r| r.event_name == "GetParametersForImport" && r.error_code.is_none())
        .filter_map(|r| r.request_parameters.as_ref())
        .map(|v| v["wrappingAlgorithm"].as_str().unwrap_or("").to_string())
        .collect();
    assert_eq!(
        wrapping.last().map(String::as_str),
        Some("RSA_AES_KEY_WRAP_SHA_256"),
        "{wrapping:?}"
    );
}

#[test]
fn a_copy_that_is_not_what_the_key_takes_is_refused_with_the_reason() {
    let t = local();
    let b = &*t.backend;
    let hmac = external_key(b, "HMAC_256", "GENERATE_VERIFY_MAC");
    let material = SecretVec::random(32, &mut rand::rng());
    let id = import(b, &hmac, material.expose(), None);
    let e = t
        .manager
        .deposit(
            &hmac,
            &id,
            &SecretVec::random(16, &mut rand::rng()),
            MaterialOrigin::Generated,
        )
        .unwrap_err();
    assert!(
        e.to_string().contains("16 bytes") && e.to_string().contains("32 to 64 bytes"),
        "{e}"
    );
    let rsa = external_key(b, "RSA_2048", "SIGN_VERIFY");
    let der = common::test_key_pairs()
        .iter()
        .find(|p| rsa::traits::PublicKeyParts::size(&p.key) == 256)
        .expect("a 2048-bit test key")
        .pkcs8_der
        .clone();
    let id = import(b, &rsa, &der, None);
    let e = t
        .manager
        .deposit(
            &rsa,
            &id,
            &SecretVec::random(200, &mut rand::rng()),
            MaterialOrigin::Generated,
        )
        .unwrap_err();
    assert!(e.to_string().contains("PKCS #8"), "{e}");
    assert!(t.manager.state().unwrap().escrow.is_empty());
    // A policy that rotates such a key is refused: AWS does not rotate it.
    let mut p = KeyPolicy::new(&rsa, t.clock.now());
    p.rotate_every_days = Some(30);
    let e = t.manager.set_policy(p).unwrap_err();
    assert!(e.to_string().contains("does not rotate"), "{e}");
}

/// All the forms a copy could take in text.
fn forms(material: &[u8]) -> Vec<String> {
    vec![
        material.iter().map(|b| format!("{b:02x}")).collect(),
        format!("{material:?}"),
        base64::engine::general_purpose::STANDARD.encode(material),
    ]
}

#[test]
fn the_debug_of_an_escrow_entry_shows_no_material() {
    for material in [
        SecretVec::random(32, &mut rand::rng()),
        SecretVec::random(64, &mut rand::rng()),
        AsymmetricKey::generate(KeySpec::EccNistP256, &mut rand::rng())
            .unwrap()
            .to_pkcs8()
            .unwrap(),
    ] {
        let entry = EscrowEntry {
            key_arn: "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
                .into(),
            key_material_id: Some("ab".repeat(32)),
            action: None,
            material: material.clone(),
        };
        let state = ManagerState {
            escrow: vec![entry.clone()],
            ..Default::default()
        };
        for shown in [
            format!("{entry:?}"),
            format!("{entry:#?}"),
            format!("{state:?}"),
        ] {
            assert!(shown.contains("REDACTED"), "{shown}");
            for f in forms(material.expose()) {
                assert!(!shown.contains(&f), "{shown}");
            }
        }
    }
}

/// A store of a build whose escrow held `SecretArray<32>`: its section is
/// the JSON that build wrote (the material as an array of 32 numbers),
/// which is also exactly what a 32-byte copy is written as now.
#[test]
fn a_store_written_when_escrow_copies_were_32_bytes_reads_and_restores_as_it_is() {
    let t = local();
    let b = &*t.backend;
    let material = SecretArray::<MATERIAL_LEN>::random(&mut rand::rng());
    let (arn, id) = common::external_key_through(
        b,
        CreateKeyInput::default(),
        material.expose(),
        Some("first"),
        None,
    );
    // The old entry's serialisation and the new one's are the same bytes.
    let old_form = serde_json::to_vec(&material).unwrap();
    let new_form = serde_json::to_vec(&SecretVec::copy_of(material.expose())).unwrap();
    assert_eq!(old_form, new_form);
    let section = serde_json::json!({
        "policies": [{
            "keyArn": arn, "escrow": true, "rotateEveryDays": null,
            "source": {"kind": "generate"}, "rotationReserve": 1,
            "dualControl": false, "anchor": t.clock.now(),
        }],
        "inventory": [{
            "keyArn": arn, "keyMaterialId": id, "description": "first",
            "keyCheckValue": byok::kms::material::key_check_value(material.expose()),
            "origin": {"kind": "generated"}, "imported": t.clock.now(),
            "validTo": null, "escrowed": true,
        }],
        "escrow": [{
            "keyArn": arn, "keyMaterialId": id, "action": null,
            "material": material.expose().to_vec(),
        }],
        "actions": [], "nextAction": 0, "approvers": [], "suspended": [], "warned": [],
    });
    t.vault
        .lock()
        .unwrap()
        .set_section(SECTION, Some(serde_json::to_vec(&section).unwrap()))
        .unwrap();
    // Closed and opened again, as an upgraded byok opens it.
    let Local {
        dir,
        clock,
        vault,
        backend,
        manager,
    } = t;
    drop(manager);
    drop(backend);
    let vault = Arc::try_unwrap(vault).ok().unwrap().into_inner().unwrap();
    let path = vault.path().to_path_buf();
    vault.close().unwrap();
    let vault = Vault::open(&path, &pass("escrow"), vault_options(&clock, test_keys())).unwrap();
    let vault = Arc::new(Mutex::new(vault));
    let backend: Arc<dyn Backend> = Arc::new(LocalBackend::new(vault.clone(), Caller::agent()));
    let t = Local {
        manager: manager_of(&backend, &vault, &clock),
        dir,
        clock,
        vault,
        backend,
    };
    let state = t.manager.state().unwrap();
    assert_eq!(state.escrow.len(), 1);
    assert_eq!(state.escrow[0].material.expose(), material.expose());
    assert!(state.policy(&arn).is_some_and(|p| p.escrow));
    let blob = send::<op::Encrypt>(
        &*t.backend,
        &EncryptInput {
            key_id: Some(arn.clone()),
            plaintext: Some(Blob::copy_of(b"kept")),
            ..Default::default()
        },
    )
    .unwrap()
    .ciphertext_blob;
    let decrypts = || {
        send::<op::Decrypt>(
            &*t.backend,
            &DecryptInput {
                ciphertext_blob: Some(blob.clone()),
                ..Default::default()
            },
        )
        .is_ok()
    };
    suspend_and_restore(&t, &arn, decrypts);
    assert_eq!(exported(&t, &arn, &id), material.expose());
    // Saved again by this build, it is the same form.
    let raw = t
        .vault
        .lock()
        .unwrap()
        .sections()
        .get(SECTION)
        .unwrap()
        .to_vec();
    let again: serde_json::Value = serde_json::from_slice(&raw).unwrap();
    assert_eq!(
        again["escrow"][0]["material"],
        section["escrow"][0]["material"]
    );
}
