//! No secret in audit records or `Debug` output (SPEC §6, DESIGN "Secrets
//! never leave in clear"): key material, data keys, plaintexts and wrapping
//! private keys appear in none of them, in any usual encoding.

mod common;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE_NO_PAD};
use byok::kms::{
    DataKeyLength, DataKeySpec, DecryptRequest, EncryptionContext, ExpirationModel,
    ImportKeyMaterialRequest, ImportType, ReEncryptRequest, WrappingAlgorithm, WrappingKeySpec,
    wrap_material,
};
use common::*;
use rsa::traits::PrivateKeyParts;

/// The forms a leaked secret would take in a string. With `window_step`,
/// its 16-byte windows starting every `window_step` bytes too: a partial
/// leak is a leak (a step of 1 catches any 16 leaked bytes, a step of 16 any
/// 31).
fn encodings(secret: &[u8], window_step: Option<usize>) -> Vec<(&'static str, String)> {
    let mut out = vec![
        ("lowercase hex", hex(secret)),
        ("uppercase hex", hex(secret).to_uppercase()),
        ("base64", STANDARD.encode(secret)),
        ("base64 without padding", STANDARD_NO_PAD.encode(secret)),
        ("base64url", URL_SAFE_NO_PAD.encode(secret)),
        ("debug list", format!("{secret:?}")),
        ("pretty debug list", format!("{secret:#?}")),
        ("JSON list", serde_json::to_string(secret).unwrap()),
    ];
    let raw = String::from_utf8_lossy(secret).into_owned();
    // A lossy string of random bytes is mostly replacement characters; it
    // says something only if it keeps enough of the original bytes.
    if raw
        .chars()
        .filter(|c| *c != char::REPLACEMENT_CHARACTER)
        .count()
        >= 8
    {
        out.push(("raw bytes", raw));
    }
    if let Some(step) = window_step.filter(|_| secret.len() > 16) {
        for window in secret.windows(16).step_by(step) {
            out.push(("16-byte window, hex", hex(window)));
            out.push(("16-byte window, HEX", hex(window).to_uppercase()));
            let list = format!("{window:?}");
            out.push(("16-byte window, list", list[1..list.len() - 1].to_string()));
            let json = serde_json::to_string(window).unwrap();
            out.push((
                "16-byte window, JSON list",
                json[1..json.len() - 1].to_string(),
            ));
        }
    }
    out
}

/// The secrets of a run, as the strings that would betray them.
struct Secrets(Vec<(String, &'static str, String)>);

impl Secrets {
    /// A secret, and every 16 bytes of it.
    fn add(&mut self, what: impl Into<String>, bytes: &[u8]) {
        self.add_with(what, bytes, Some(1));
    }

    fn add_with(&mut self, what: impl Into<String>, bytes: &[u8], window_step: Option<usize>) {
        assert!(
            bytes.len() >= 16,
            "secrets shorter than 16 bytes would give false alarms"
        );
        let what = what.into();
        for (form, needle) in encodings(bytes, window_step) {
            self.0.push((what.clone(), form, needle));
        }
    }

    /// The first secret found in `text`, in which form.
    fn find_in(&self, text: &str) -> Option<String> {
        self.0
            .iter()
            .find(|(_, _, needle)| text.contains(needle.as_str()))
            .map(|(what, form, _)| format!("{what} as {form}"))
    }

    #[track_caller]
    fn assert_absent(&self, place: &str, text: &str) {
        if let Some(found) = self.find_in(text) {
            panic!("{found} appears in {place}: {text}");
        }
    }
}

#[test]
fn the_detector_finds_what_it_looks_for() {
    let mut s = Secrets(Vec::new());
    let bytes: Vec<u8> = (0u8..32)
        .map(|i| i.wrapping_mul(37).wrapping_add(200))
        .collect();
    s.add("probe", &bytes);
    for (form, needle) in encodings(&bytes, Some(1)) {
        let text = format!("prefix {needle} suffix");
        assert!(s.find_in(&text).is_some(), "{form} not detected");
    }
    let words = b"the vault combination is 31-41-59";
    s.add("words", words);
    assert!(s.find_in("x the vault combination is 31-41-59 y").is_some());
    assert!(
        s.find_in(&format!("{:?}", &bytes[3..19])).is_some(),
        "a partial leak"
    );
    assert!(s.find_in("nothing to see").is_none());
}

#[test]
fn no_secret_in_audit_records_or_debug_output() {
    let mut h = Harness::new();
    let caller = h.caller.clone();
    let mut secrets = Secrets(Vec::new());
    let mut debug: Vec<(String, String)> = Vec::new();
    let plaintext = b"byok secret plaintext: the vault combination is 31-41-59".to_vec();
    secrets.add("the recognisable plaintext", &plaintext);
    for (i, pair) in test_key_pairs().iter().enumerate() {
        // The whole document (it embeds the public modulus, so no windows),
        // and the private exponent and primes in windows.
        secrets.add_with(format!("wrapping key {i} (PKCS#8)"), &pair.pkcs8_der, None);
        let d = pair.key.d().to_be_bytes_trimmed_vartime();
        secrets.add_with(format!("wrapping key {i} d"), &d, Some(16));
        for (j, prime) in pair.key.primes().iter().enumerate() {
            let p = prime.as_ref().to_be_bytes_trimmed_vartime();
            secrets.add_with(format!("wrapping key {i} prime {j}"), &p, Some(16));
        }
    }

    // Step 1: the first material, wrapped with RSA-AES key wrap.
    let key = h.create_external();
    let params1 = h.params_with(
        key,
        WrappingAlgorithm::RsaAesKeyWrapSha256,
        WrappingKeySpec::Rsa4096,
    );
    debug.push(("ImportParametersOutput".into(), format!("{params1:?}")));
    let material1 = h.material();
    secrets.add("material 1", &material1);
    let wrapped1 = wrap_material(
        &params1.public_key,
        WrappingAlgorithm::RsaAesKeyWrapSha256,
        &material1,
        &mut h.rng,
    )
    .unwrap();
    let req1 = ImportKeyMaterialRequest {
        key_id: key.to_string(),
        import_token: params1.import_token.clone(),
        encrypted_key_material: wrapped1,
        expiration_model: Some(ExpirationModel::KeyMaterialDoesNotExpire),
        key_material_description: Some("KeyMaterial1 kept in HSM vault A".into()),
        ..Default::default()
    };
    debug.push(("ImportKeyMaterialRequest".into(), format!("{req1:?}")));
    let out1 = h.try_import(&req1).unwrap();
    debug.push(("ImportOutput".into(), format!("{out1:?}")));

    // Step 2: data keys, both kinds, and decrypts.
    let dk = h
        .kms
        .generate_data_key(
            &caller,
            &key.to_string(),
            Some(DataKeyLength::Spec(DataKeySpec::Aes256)),
            &EncryptionContext::new(),
            true,
        )
        .unwrap();
    secrets.add("data key 1", dk.plaintext.as_ref().unwrap().expose());
    debug.push(("DataKeyOutput".into(), format!("{dk:?}")));
    let context = EncryptionContext::from([("purpose".to_string(), "secrets test".to_string())]);
    let dk2 = h
        .kms
        .generate_data_key(
            &caller,
            &key.to_string(),
            Some(DataKeyLength::Bytes(64)),
            &context,
            true,
        )
        .unwrap();
    secrets.add("data key 2", dk2.plaintext.as_ref().unwrap().expose());
    debug.push(("DataKeyOutput (64 bytes)".into(), format!("{dk2:#?}")));
    let dk3 = h
        .kms
        .generate_data_key(
            &caller,
            &key.to_string(),
            Some(DataKeyLength::Spec(DataKeySpec::Aes128)),
            &EncryptionContext::new(),
            false,
        )
        .unwrap();
    let d = h.decrypt(&dk.ciphertext_blob).unwrap();
    debug.push(("DecryptOutput".into(), format!("{d:?}")));
    let d3 = h.decrypt(&dk3.ciphertext_blob).unwrap();
    secrets.add("data key 3 (without plaintext)", d3.plaintext.expose());
    debug.push(("DecryptOutput (pretty)".into(), format!("{d3:#?}")));

    // Step 3-5: a second material, rotation, encryption of the recognisable plaintext.
    let material2 = h.material();
    secrets.add("material 2", &material2);
    let params2 = h.params_with(
        key,
        WrappingAlgorithm::RsaesOaepSha1,
        WrappingKeySpec::Rsa2048,
    );
    let wrapped2 = wrap_material(
        &params2.public_key,
        WrappingAlgorithm::RsaesOaepSha1,
        &material2,
        &mut h.rng,
    )
    .unwrap();
    h.try_import(&ImportKeyMaterialRequest {
        key_id: key.to_string(),
        import_token: params2.import_token.clone(),
        encrypted_key_material: wrapped2,
        expiration_model: Some(ExpirationModel::KeyMaterialExpires),
        valid_to: Some(h.now().plus(byok::kms::clock::days(90))),
        import_type: Some(ImportType::NewKeyMaterial),
        ..Default::default()
    })
    .unwrap();
    h.rotate(key).unwrap();
    h.finish_rotation();
    let enc = h
        .kms
        .encrypt(&caller, &key.to_string(), &plaintext, &context)
        .unwrap();
    debug.push(("EncryptOutput".into(), format!("{enc:?}")));
    let dec = h
        .kms
        .decrypt(
            &caller,
            &DecryptRequest {
                ciphertext_blob: enc.ciphertext_blob.clone(),
                encryption_context: context.clone(),
                key_id: Some(key.to_string()),
            },
        )
        .unwrap();
    assert_eq!(dec.plaintext.expose(), plaintext.as_slice());
    debug.push((
        "DecryptOutput of the plaintext".into(),
        format!("{dec:?} {dec:#?}"),
    ));
    let other = h.create_aws_kms();
    let re = h
        .kms
        .re_encrypt(
            &caller,
            &ReEncryptRequest {
                ciphertext_blob: enc.ciphertext_blob.clone(),
                source_encryption_context: context.clone(),
                destination_key_id: other.to_string(),
                ..Default::default()
            },
        )
        .unwrap();
    debug.push(("ReEncryptOutput".into(), format!("{re:?}")));
    // A wrong context fails; its error must not carry the plaintext either.
    let err = h
        .kms
        .decrypt(
            &caller,
            &DecryptRequest {
                ciphertext_blob: enc.ciphertext_blob.clone(),
                ..Default::default()
            },
        )
        .unwrap_err();
    debug.push(("KmsError".into(), format!("{err:?} {err}")));

    // The same through the wire layer, with the plaintext in the request body.
    let body =
        serde_json::json!({"KeyId": key.to_string(), "Plaintext": STANDARD.encode(&plaintext)});
    let response =
        byok::api::dispatch(&mut h.kms, &caller, "Encrypt", body.to_string().as_bytes()).unwrap();
    let response: serde_json::Value = serde_json::from_slice(&response).unwrap();
    let body = serde_json::json!({"CiphertextBlob": response["CiphertextBlob"]});
    let response =
        byok::api::dispatch(&mut h.kms, &caller, "Decrypt", body.to_string().as_bytes()).unwrap();
    assert!(
        secrets
            .find_in(&String::from_utf8_lossy(&response))
            .is_some(),
        "a Decrypt response does carry the plaintext (this proves the probe works on it)"
    );

    // Step 6-7: delete material 1 and re-import it.
    h.delete_material(key, Some(&out1.key_material_id.to_string()))
        .unwrap();
    let mut again = req1.clone();
    again.import_type = Some(ImportType::ExistingKeyMaterial);
    h.try_import(&again).unwrap();
    // Let material 2's expiry and a scheduled deletion happen as service events.
    let doomed = h.create_aws_kms();
    h.kms
        .schedule_key_deletion(&caller, &doomed.to_string(), Some(7))
        .unwrap();
    h.advance(byok::kms::clock::days(91));
    h.kms.tick();

    // Everything that could leak.
    let records = h.kms.take_audit_records();
    assert!(records.len() > 20, "the walkthrough was audited");
    let names: Vec<&str> = records.iter().map(|r| r.event_name.as_str()).collect();
    for expected in [
        "ImportKeyMaterial",
        "GenerateDataKey",
        "GenerateDataKeyWithoutPlaintext",
        "Decrypt",
        "Encrypt",
        "ReEncrypt",
        "RotateKey",
        "DeleteImportedKeyMaterial",
        "DeleteExpiredKeyMaterial",
        "DeleteKey",
    ] {
        assert!(
            names.contains(&expected),
            "{expected} was audited: {names:?}"
        );
    }
    for r in &records {
        let json = serde_json::to_string(r).unwrap();
        secrets.assert_absent(&format!("the audit record of {}", r.event_name), &json);
        secrets.assert_absent("an audit record's Debug", &format!("{r:?}"));
    }
    debug.push(("Kms".into(), format!("{:?}", h.kms)));
    debug.push(("KmsState".into(), format!("{:?}", h.kms.state())));
    debug.push(("KmsState (pretty)".into(), format!("{:#?}", h.kms.state())));
    for k in h.kms.keys() {
        debug.push((format!("Key {}", k.id()), format!("{k:?} {k:#?}")));
        for m in k.materials() {
            debug.push((format!("KeyMaterial {}", m.id()), format!("{m:?}")));
        }
    }
    for (place, text) in &debug {
        secrets.assert_absent(place, text);
    }
    // The state's Debug did describe the materials (so the check above saw them).
    let state = format!("{:?}", h.kms.state());
    assert!(state.contains(&out1.key_material_id.to_string()) || state.contains("KeyMaterialId("));
    assert!(state.contains("REDACTED"));
}

/// The private scalar of an ECC PKCS #8 private key.
fn ecc_scalar(spec: byok::kms::KeySpec, der: &[u8]) -> Option<Vec<u8>> {
    use p256::pkcs8::DecodePrivateKey;
    match spec {
        byok::kms::KeySpec::EccNistP256 => Some(
            p256::SecretKey::from_pkcs8_der(der)
                .ok()?
                .to_bytes()
                .to_vec(),
        ),
        byok::kms::KeySpec::EccNistP384 => Some(
            p384::SecretKey::from_pkcs8_der(der)
                .ok()?
                .to_bytes()
                .to_vec(),
        ),
        _ => None,
    }
}

/// Asymmetric keys (issue 8): the imported private keys (whole PKCS #8, and
/// the ECC scalar in windows), RSA-OAEP plaintexts, ECDH shared secrets and
/// the private keys of GenerateDataKeyPair appear in no audit record, no
/// `Debug` of the engine, its state, keys or materials, and no answer but
/// the one that carries them.
#[test]
fn no_asymmetric_secret_in_audit_records_or_debug_output() {
    use byok::kms::asym::AsymmetricKey;
    use byok::kms::{CreateKeyRequest, KeySpec, KeyUsage, Origin, SigningAlgorithm};
    use serde_json::json;
    let mut h = Harness::new();
    let caller = h.caller.clone();
    let mut secrets = Secrets(Vec::new());
    let call = |h: &mut Harness, op: &str, body: serde_json::Value| -> serde_json::Value {
        let caller = h.caller.clone();
        let out = byok::api::dispatch(&mut h.kms, &caller, op, body.to_string().as_bytes())
            .unwrap_or_else(|e| panic!("{op}: {e:?}"));
        serde_json::from_slice(&out).unwrap()
    };
    let mut import = |h: &mut Harness, spec: KeySpec, usage: KeyUsage, seed: u64| {
        let private = AsymmetricKey::generate(spec, &mut seeded(seed))
            .unwrap()
            .to_pkcs8()
            .unwrap();
        let der = private.expose().to_vec();
        secrets.add_with(format!("{spec} private key (PKCS#8)"), &der, None);
        // The private scalar itself, in windows (the document's header and
        // public key are not secret).
        if let Some(scalar) = ecc_scalar(spec, &der) {
            secrets.add(format!("{spec} private scalar"), &scalar);
        }
        if spec.rsa_bits().is_some() {
            use rsa::pkcs8::DecodePrivateKey;
            let k = rsa::PrivateKey::from_pkcs8_der(&der).unwrap();
            let d = k.d().to_be_bytes_trimmed_vartime();
            secrets.add_with(format!("{spec} d"), &d, Some(16));
            for (j, prime) in k.primes().iter().enumerate() {
                let p = prime.as_ref().to_be_bytes_trimmed_vartime();
                secrets.add_with(format!("{spec} prime {j}"), &p, Some(16));
            }
        }
        let key = h
            .kms
            .create_key_with_usage(
                &caller,
                CreateKeyRequest {
                    origin: Some(Origin::External),
                    ..Default::default()
                },
                spec,
                usage,
            )
            .unwrap();
        let params = h.params_with(
            key,
            WrappingAlgorithm::RsaAesKeyWrapSha256,
            WrappingKeySpec::Rsa2048,
        );
        let wrapped = wrap_material(
            &params.public_key,
            WrappingAlgorithm::RsaAesKeyWrapSha256,
            &der,
            &mut h.rng,
        )
        .unwrap();
        h.try_import(&ImportKeyMaterialRequest {
            key_id: key.to_string(),
            import_token: params.import_token,
            encrypted_key_material: wrapped,
            expiration_model: Some(ExpirationModel::KeyMaterialDoesNotExpire),
            ..Default::default()
        })
        .unwrap();
        key.to_string()
    };
    let signer = import(&mut h, KeySpec::EccNistP256, KeyUsage::SignVerify, 21);
    let rsa = import(&mut h, KeySpec::Rsa2048, KeyUsage::EncryptDecrypt, 22);
    let agreement = import(&mut h, KeySpec::EccNistP384, KeyUsage::KeyAgreement, 23);
    let message = b"byok asymmetric secret: sign this message please".to_vec();
    secrets.add("the signed message", &message);
    h.kms
        .sign(
            &caller,
            &signer,
            &message,
            None,
            SigningAlgorithm::EcdsaSha256,
            false,
        )
        .unwrap();
    let plaintext = b"byok secret for RSA-OAEP: 2718281828".to_vec();
    secrets.add("the RSA plaintext", &plaintext);
    let ct = call(
        &mut h,
        "Encrypt",
        json!({"KeyId": rsa, "Plaintext": STANDARD.encode(&plaintext), "EncryptionAlgorithm": "RSAES_OAEP_SHA_256"}),
    );
    call(
        &mut h,
        "Decrypt",
        json!({"KeyId": rsa, "CiphertextBlob": ct["CiphertextBlob"], "EncryptionAlgorithm": "RSAES_OAEP_SHA_256"}),
    );
    let peer = AsymmetricKey::generate(KeySpec::EccNistP384, &mut seeded(24)).unwrap();
    let shared = call(
        &mut h,
        "DeriveSharedSecret",
        json!({"KeyId": agreement, "KeyAgreementAlgorithm": "ECDH", "PublicKey": STANDARD.encode(peer.public_key_der().unwrap())}),
    );
    let shared = STANDARD
        .decode(shared["SharedSecret"].as_str().unwrap())
        .unwrap();
    secrets.add("the ECDH shared secret", &shared);
    let symmetric = h.create_aws_kms().to_string();
    let pair = call(
        &mut h,
        "GenerateDataKeyPair",
        json!({"KeyId": symmetric, "KeyPairSpec": "ECC_NIST_P256"}),
    );
    let pair_private = STANDARD
        .decode(pair["PrivateKeyPlaintext"].as_str().unwrap())
        .unwrap();
    secrets.add_with("the data key pair's private key", &pair_private, None);
    secrets.add_with(
        "the data key pair's private key windows",
        &pair_private[..48],
        Some(4),
    );
    // Answers that must not carry them.
    for (op, body) in [
        ("DescribeKey", json!({"KeyId": signer})),
        ("GetPublicKey", json!({"KeyId": rsa})),
        (
            "ListKeyRotations",
            json!({"KeyId": agreement, "IncludeKeyMaterial": "ALL_KEY_MATERIAL"}),
        ),
    ] {
        let answer = call(&mut h, op, body).to_string();
        secrets.assert_absent(&format!("the {op} answer"), &answer);
    }
    let records = h.kms.take_audit_records();
    let names: Vec<&str> = records.iter().map(|r| r.event_name.as_str()).collect();
    for expected in [
        "Sign",
        "Encrypt",
        "Decrypt",
        "DeriveSharedSecret",
        "GenerateDataKeyPair",
    ] {
        assert!(
            names.contains(&expected),
            "{expected} was audited: {names:?}"
        );
    }
    for r in &records {
        secrets.assert_absent(
            &format!("the audit record of {}", r.event_name),
            &serde_json::to_string(r).unwrap(),
        );
        secrets.assert_absent("an audit record's Debug", &format!("{r:?}"));
    }
    let mut debug = vec![
        ("Kms".to_string(), format!("{:?}", h.kms)),
        ("KmsState".to_string(), format!("{:#?}", h.kms.state())),
        ("AsymmetricKey".to_string(), format!("{peer:?} {peer:#?}")),
    ];
    for k in h.kms.keys() {
        debug.push((format!("Key {}", k.id()), format!("{k:?}")));
    }
    for (place, text) in &debug {
        secrets.assert_absent(place, text);
    }
    // The probe works: the answer that carries a secret is found.
    assert!(secrets.find_in(&pair.to_string()).is_some());
}
