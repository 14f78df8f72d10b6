//! Interop with the real `openssl` command (OpenSSL 3): key material wrapped
//! exactly as WALKTHROUGH.md (and the AWS documentation) does it imports into
//! the engine, and `wrap_material` produces what OpenSSL unwraps.

mod common;

use std::path::Path;

use byok::kms::material::key_material_id;
use byok::kms::{
    CreateKeyRequest, ExpirationModel, ImportKeyMaterialRequest, ImportParametersOutput, KeyId,
    KeySpec, MacAlgorithm, Origin, WrappingAlgorithm, WrappingKeySpec, wrap_material,
};
use common::*;

const ALGORITHMS: [WrappingAlgorithm; 4] = [
    WrappingAlgorithm::RsaesOaepSha1,
    WrappingAlgorithm::RsaesOaepSha256,
    WrappingAlgorithm::RsaAesKeyWrapSha1,
    WrappingAlgorithm::RsaAesKeyWrapSha256,
];

const SPECS: [WrappingKeySpec; 3] = [
    WrappingKeySpec::Rsa2048,
    WrappingKeySpec::Rsa3072,
    WrappingKeySpec::Rsa4096,
];

/// DER SubjectPublicKeyInfo sizes SPEC §3 promises.
fn public_key_len(spec: WrappingKeySpec) -> usize {
    match spec {
        WrappingKeySpec::Rsa2048 => 294,
        WrappingKeySpec::Rsa3072 => 422,
        WrappingKeySpec::Rsa4096 => 550,
    }
}

fn digest(algorithm: WrappingAlgorithm) -> &'static str {
    match algorithm {
        WrappingAlgorithm::RsaesOaepSha1 | WrappingAlgorithm::RsaAesKeyWrapSha1 => "sha1",
        _ => "sha256",
    }
}

fn is_key_wrap(algorithm: WrappingAlgorithm) -> bool {
    matches!(
        algorithm,
        WrappingAlgorithm::RsaAesKeyWrapSha1 | WrappingAlgorithm::RsaAesKeyWrapSha256
    )
}

/// `openssl pkeyutl -encrypt` of `input` under PublicKey.bin, as in the walkthrough.
fn oaep_encrypt_with_openssl(dir: &Path, md: &str, input: &str, output: &str) {
    openssl(
        dir,
        &[
            "pkeyutl",
            "-encrypt",
            "-in",
            input,
            "-out",
            output,
            "-inkey",
            "PublicKey.bin",
            "-keyform",
            "DER",
            "-pubin",
            "-pkeyopt",
            "rsa_padding_mode:oaep",
            "-pkeyopt",
            &format!("rsa_oaep_md:{md}"),
            "-pkeyopt",
            &format!("rsa_mgf1_md:{md}"),
        ],
    );
}

/// Wraps KeyMaterial.bin in `dir` with the walkthrough's OpenSSL commands and
/// returns EncryptedKeyMaterial.bin.
fn wrap_with_openssl(dir: &Path, algorithm: WrappingAlgorithm) -> Vec<u8> {
    let md = digest(algorithm);
    if !is_key_wrap(algorithm) {
        oaep_encrypt_with_openssl(dir, md, "KeyMaterial.bin", "EncryptedKeyMaterial.bin");
        return std::fs::read(dir.join("EncryptedKeyMaterial.bin")).unwrap();
    }
    openssl(dir, &["rand", "-out", "aes-key.bin", "32"]);
    oaep_encrypt_with_openssl(dir, md, "aes-key.bin", "aes-key-wrapped.bin");
    // "$(xxd -p < aes-key.bin | tr -d '\n')"
    let aes_key_hex = hex(&std::fs::read(dir.join("aes-key.bin")).unwrap());
    openssl(
        dir,
        &[
            "enc",
            "-id-aes256-wrap-pad",
            "-K",
            &aes_key_hex,
            "-iv",
            "A65959A6",
            "-in",
            "KeyMaterial.bin",
            "-out",
            "material-wrapped.bin",
        ],
    );
    // cat aes-key-wrapped.bin material-wrapped.bin > EncryptedKeyMaterial.bin
    let mut out = std::fs::read(dir.join("aes-key-wrapped.bin")).unwrap();
    let material_wrapped = std::fs::read(dir.join("material-wrapped.bin")).unwrap();
    let material_len = std::fs::metadata(dir.join("KeyMaterial.bin"))
        .unwrap()
        .len() as usize;
    assert_eq!(
        material_wrapped.len(),
        material_len.div_ceil(8) * 8 + 8,
        "RFC 5649 wrap of {material_len} bytes (40 for 32)"
    );
    out.extend_from_slice(&material_wrapped);
    out
}

fn import(
    h: &mut Harness,
    key: KeyId,
    params: &ImportParametersOutput,
    wrapped: Vec<u8>,
) -> byok::kms::KeyMaterialId {
    let req = ImportKeyMaterialRequest {
        key_id: key.to_string(),
        import_token: params.import_token.clone(),
        encrypted_key_material: wrapped,
        expiration_model: Some(ExpirationModel::KeyMaterialDoesNotExpire),
        ..Default::default()
    };
    h.try_import(&req)
        .expect("ImportKeyMaterial")
        .key_material_id
}

#[track_caller]
fn assert_round_trip(h: &mut Harness, key: KeyId, expected_material: byok::kms::KeyMaterialId) {
    let plaintext = format!("interop round trip for {key}");
    let blob = h.encrypt(key, plaintext.as_bytes()).expect("Encrypt");
    let out = h.decrypt(&blob).expect("Decrypt");
    assert_eq!(out.plaintext.expose(), plaintext.as_bytes());
    assert_eq!(out.key_material_id, expected_material);
    assert_eq!(out.key_id, key);
}

#[test]
fn public_keys_are_der_spki_of_the_promised_sizes_and_openssl_reads_them() {
    let mut h = Harness::new();
    let key = h.create_external();
    let dir = tempfile::tempdir().unwrap();
    for spec in SPECS {
        let params = h.params_with(key, WrappingAlgorithm::RsaesOaepSha256, spec);
        assert_eq!(params.public_key.len(), public_key_len(spec), "{spec}");
        std::fs::write(dir.path().join("PublicKey.bin"), &params.public_key).unwrap();
        let text = openssl(
            dir.path(),
            &[
                "pkey",
                "-pubin",
                "-inform",
                "DER",
                "-in",
                "PublicKey.bin",
                "-noout",
                "-text",
            ],
        );
        let text = String::from_utf8_lossy(&text);
        assert!(
            text.contains(&format!("Public-Key: ({} bit)", spec.bits())),
            "openssl pkey read a {spec} key as: {text}"
        );
        // and it re-encodes to the same DER
        let der = openssl(
            dir.path(),
            &[
                "pkey",
                "-pubin",
                "-inform",
                "DER",
                "-in",
                "PublicKey.bin",
                "-outform",
                "DER",
            ],
        );
        assert_eq!(
            der, params.public_key,
            "{spec}: OpenSSL's DER of the key is the engine's"
        );
    }
}

#[test]
fn material_wrapped_by_openssl_imports_for_every_algorithm_and_key_spec() {
    let mut h = Harness::new();
    for algorithm in ALGORITHMS {
        for spec in SPECS {
            let context = format!("{algorithm} / {spec}");
            let key = h.create_external();
            let params = h.params_with(key, algorithm, spec);
            assert_eq!(params.public_key.len(), public_key_len(spec), "{context}");
            let dir = tempfile::tempdir().unwrap();
            std::fs::write(dir.path().join("PublicKey.bin"), &params.public_key).unwrap();
            // openssl rand -out KeyMaterial.bin 32
            openssl(dir.path(), &["rand", "-out", "KeyMaterial.bin", "32"]);
            let material: [u8; 32] = std::fs::read(dir.path().join("KeyMaterial.bin"))
                .unwrap()
                .try_into()
                .expect("32 bytes of material");
            let wrapped = wrap_with_openssl(dir.path(), algorithm);
            let modulus = spec.bits() / 8;
            let expected_len = if is_key_wrap(algorithm) {
                modulus + 40
            } else {
                modulus
            };
            assert_eq!(
                wrapped.len(),
                expected_len,
                "{context}: EncryptedKeyMaterial.bin size"
            );

            let id = import(&mut h, key, &params, wrapped);
            assert_eq!(
                id,
                key_material_id(key, &material),
                "{context}: KeyMaterialId"
            );
            assert_eq!(
                h.kms.key(key).unwrap().current_key_material_id(),
                Some(id),
                "{context}"
            );
            assert_round_trip(&mut h, key, id);
        }
    }
}

#[test]
fn material_wrapped_by_wrap_material_imports_for_every_algorithm_and_key_spec() {
    let mut h = Harness::new();
    for algorithm in ALGORITHMS {
        for spec in SPECS {
            let context = format!("{algorithm} / {spec}");
            let key = h.create_external();
            let params = h.params_with(key, algorithm, spec);
            let material = h.material();
            let wrapped =
                wrap_material(&params.public_key, algorithm, &material, &mut h.rng).expect("wrap");
            let modulus = spec.bits() / 8;
            let expected_len = if is_key_wrap(algorithm) {
                modulus + 40
            } else {
                modulus
            };
            assert_eq!(wrapped.len(), expected_len, "{context}: wrapped size");
            let id = import(&mut h, key, &params, wrapped);
            assert_eq!(id, key_material_id(key, &material), "{context}");
            assert_round_trip(&mut h, key, id);
        }
    }
}

#[test]
fn openssl_unwraps_what_wrap_material_wraps() {
    let mut h = Harness::new();
    let key = h.create_external();
    for algorithm in ALGORITHMS {
        for spec in SPECS {
            let context = format!("{algorithm} / {spec}");
            let params = h.params_with(key, algorithm, spec);
            let material = h.material();
            let wrapped =
                wrap_material(&params.public_key, algorithm, &material, &mut h.rng).expect("wrap");
            let dir = tempfile::tempdir().unwrap();
            let d = dir.path();
            // The engine keeps its private keys to itself; the test knows the
            // pregenerated pair behind this public key.
            std::fs::write(
                d.join("PrivateKey.der"),
                private_key_for(&params.public_key),
            )
            .unwrap();
            let md = digest(algorithm);
            let decrypt = |input: &str, output: &str| {
                openssl(
                    d,
                    &[
                        "pkeyutl",
                        "-decrypt",
                        "-in",
                        input,
                        "-out",
                        output,
                        "-inkey",
                        "PrivateKey.der",
                        "-keyform",
                        "DER",
                        "-pkeyopt",
                        "rsa_padding_mode:oaep",
                        "-pkeyopt",
                        &format!("rsa_oaep_md:{md}"),
                        "-pkeyopt",
                        &format!("rsa_mgf1_md:{md}"),
                    ],
                );
            };
            let modulus = spec.bits() / 8;
            if is_key_wrap(algorithm) {
                let (rsa_part, kw_part) = wrapped.split_at(modulus);
                std::fs::write(d.join("aes-key-wrapped.bin"), rsa_part).unwrap();
                std::fs::write(d.join("material-wrapped.bin"), kw_part).unwrap();
                decrypt("aes-key-wrapped.bin", "aes-key.bin");
                let aes_key = std::fs::read(d.join("aes-key.bin")).unwrap();
                assert_eq!(aes_key.len(), 32, "{context}: the wrapped AES key");
                openssl(
                    d,
                    &[
                        "enc",
                        "-d",
                        "-id-aes256-wrap-pad",
                        "-K",
                        &hex(&aes_key),
                        "-iv",
                        "A65959A6",
                        "-in",
                        "material-wrapped.bin",
                        "-out",
                        "KeyMaterial.bin",
                    ],
                );
            } else {
                assert_eq!(wrapped.len(), modulus, "{context}");
                std::fs::write(d.join("EncryptedKeyMaterial.bin"), &wrapped).unwrap();
                decrypt("EncryptedKeyMaterial.bin", "KeyMaterial.bin");
            }
            let unwrapped = std::fs::read(d.join("KeyMaterial.bin")).unwrap();
            assert_eq!(
                unwrapped, material,
                "{context}: OpenSSL recovered the material"
            );
        }
    }
}

/// HMAC keys (issue 8): material made with `openssl rand` of a length each
/// HMAC spec takes (AWS KMS Developer Guide, "Requirements for imported key
/// material":
/// https://docs.aws.amazon.com/kms/latest/developerguide/importing-keys-conceptual.html#importing-keys-material-requirements),
/// wrapped with the Developer Guide's OpenSSL commands under every wrapping
/// algorithm, imports; GenerateMac's MAC equals
/// `openssl dgst -<sha> -mac HMAC -macopt hexkey:<material>`, and VerifyMac
/// accepts the MAC OpenSSL computed.
#[test]
fn hmac_material_wrapped_by_openssl_makes_the_macs_openssl_makes() {
    let mut h = Harness::new();
    let cases = [
        (
            KeySpec::Hmac224,
            MacAlgorithm::HmacSha224,
            "-sha224",
            [28, 64],
        ),
        (
            KeySpec::Hmac256,
            MacAlgorithm::HmacSha256,
            "-sha256",
            [32, 45],
        ),
        (
            KeySpec::Hmac384,
            MacAlgorithm::HmacSha384,
            "-sha384",
            [48, 128],
        ),
        (
            KeySpec::Hmac512,
            MacAlgorithm::HmacSha512,
            "-sha512",
            [100, 128],
        ),
    ];
    let caller = h.caller.clone();
    for (spec, mac_algorithm, md, lengths) in cases {
        for algorithm in ALGORITHMS {
            for len in lengths {
                let context = format!("{spec}, {len} bytes, {algorithm}");
                let key = h
                    .kms
                    .create_key_of_spec(
                        &caller,
                        CreateKeyRequest {
                            origin: Some(Origin::External),
                            ..Default::default()
                        },
                        spec,
                    )
                    .unwrap();
                let params = h.params_with(key, algorithm, WrappingKeySpec::Rsa2048);
                let dir = tempfile::tempdir().unwrap();
                let d = dir.path();
                std::fs::write(d.join("PublicKey.bin"), &params.public_key).unwrap();
                openssl(d, &["rand", "-out", "KeyMaterial.bin", &len.to_string()]);
                let material = std::fs::read(d.join("KeyMaterial.bin")).unwrap();
                let wrapped = wrap_with_openssl(d, algorithm);
                let id = import(&mut h, key, &params, wrapped);
                assert_eq!(id, key_material_id(key, &material), "{context}");

                let message = format!("HMAC interop message for {context}");
                std::fs::write(d.join("message.bin"), &message).unwrap();
                let out = openssl(
                    d,
                    &[
                        "dgst",
                        md,
                        "-mac",
                        "HMAC",
                        "-macopt",
                        &format!("hexkey:{}", hex(&material)),
                        "message.bin",
                    ],
                );
                // "HMAC-SHA2-256(message.bin)= 5bdc..."
                let out = String::from_utf8(out).unwrap();
                let openssl_mac = out.trim().rsplit("= ").next().unwrap().to_string();
                let ours = h
                    .kms
                    .generate_mac(
                        &caller,
                        &key.to_string(),
                        message.as_bytes(),
                        mac_algorithm,
                        false,
                    )
                    .expect("GenerateMac");
                assert_eq!(hex(&ours.mac), openssl_mac, "{context}");
                let openssl_bytes: Vec<u8> = (0..openssl_mac.len())
                    .step_by(2)
                    .map(|i| u8::from_str_radix(&openssl_mac[i..i + 2], 16).unwrap())
                    .collect();
                h.kms
                    .verify_mac(
                        &caller,
                        &key.to_string(),
                        message.as_bytes(),
                        &openssl_bytes,
                        mac_algorithm,
                        false,
                    )
                    .unwrap_or_else(|e| panic!("{context}: VerifyMac of OpenSSL's MAC: {e:?}"));
            }
        }
    }
}
