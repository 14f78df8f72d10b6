//! Asymmetric keys with imported key material (issue 8): RSA_2048/3072/4096,
//! ECC_NIST_P256/P384/P521 and ECC_SECG_P256K1, through the AWS JSON API the
//! CLI and `byok serve` share, with the private keys made by the real
//! `openssl` command and wrapped with the Developer Guide's OpenSSL commands;
//! what byok signs, encrypts and derives is checked with `openssl` too.
//!
//! Sources, cited per assertion below:
//! - [SPEC] AWS KMS Developer Guide, "Key spec reference"
//!   (<https://docs.aws.amazon.com/kms/latest/developerguide/symm-asymm-choose-key-spec.html>):
//!   RSA keys ENCRYPT_DECRYPT (RSAES_OAEP_SHA_1, RSAES_OAEP_SHA_256, with
//!   the plaintext limits of its table) or SIGN_VERIFY (RSASSA_PSS_SHA_*,
//!   RSASSA_PKCS1_V1_5_SHA_*); NIST curves SIGN_VERIFY (ECDSA with the
//!   curve's hash) or KEY_AGREEMENT (ECDH); ECC_SECG_P256K1 SIGN_VERIFY only.
//! - [WRAP] GetParametersForImport API reference, `WrappingAlgorithm`
//!   (<https://docs.aws.amazon.com/kms/latest/APIReference/API_GetParametersForImport.html>):
//!   "To import an RSA private key, you must use an RSA_AES wrapping
//!   algorithm"; RSAES_OAEP_* "cannot ... wrap ECC_NIST_P521 key material"
//!   under an RSA_2048 wrapping key.
//! - [STEP3] Developer Guide, "Step 3: Encrypt the key material"
//!   (<https://docs.aws.amazon.com/kms/latest/developerguide/importing-keys-encrypt-key-material.html>):
//!   the OpenSSL commands for RSA_AES_KEY_WRAP_SHA_256 (`openssl rand`,
//!   `openssl enc -id-aes256-wrap-pad`, `openssl pkeyutl -encrypt` with
//!   OAEP-SHA-256, concatenation), and `openssl pkcs8 -topk8 -outform der
//!   -nocrypt` for the private key.
//! - [IMPORT] ImportKeyMaterial API reference: "For asymmetric, HMAC and
//!   multi-Region keys, you cannot change the key material after the
//!   initial import"; IncorrectKeyMaterialException: "the key material in
//!   the request is, expired, invalid, or does not meet expectations".
//! - [SIGN] Sign/Verify API references: ECDSA signatures are DER-encoded;
//!   "If the signature is not verified, the Verify operation fails with a
//!   KMSInvalidSignatureException exception". AWS's recorded messages:
//!   `Algorithm <ALG> is incompatible with key spec <SPEC>.`, `<arn> key
//!   usage is <USAGE> which is not valid for <Operation>.` (both
//!   InvalidKeyUsageException; the first also in
//!   zalando/spring-cloud-config-aws-kms#82 for Encrypt: "Algorithm
//!   SYMMETRIC_DEFAULT is incompatible with key spec RSA_4096."),
//!   `Digest is invalid length for algorithm <ALG>.` (ValidationException,
//!   recorded in awslabs/aws-sdk-rust discussion #571).
//! - [ROTATE] RotateKeyOnDemand API reference: "You cannot perform
//!   on-demand rotation of asymmetric KMS keys"; AWS's message recorded in
//!   floci-io/floci#586.

mod common;

use std::path::Path;
use std::process::Command;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use byok::api::ApiError;
use byok::kms::{Kms, WrappingAlgorithm, wrap_material};
use common::*;
use serde_json::{Value, json};

fn unb64(v: &Value) -> Vec<u8> {
    STANDARD.decode(v.as_str().expect("base64 string")).unwrap()
}

/// Whether `openssl <args>` succeeds (for verifications expected to fail).
fn openssl_succeeds(dir: &Path, args: &[&str]) -> bool {
    Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl")
        .status
        .success()
}

/// `openssl genpkey` arguments for a key of `spec`.
fn genpkey_args(spec: &str) -> Vec<&'static str> {
    match spec {
        "RSA_2048" => vec!["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"],
        "RSA_3072" => vec!["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:3072"],
        "RSA_4096" => vec!["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:4096"],
        "ECC_NIST_P256" => vec!["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"],
        "ECC_NIST_P384" => vec!["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-384"],
        "ECC_NIST_P521" => vec!["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-521"],
        "ECC_SECG_P256K1" => vec![
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:secp256k1",
        ],
        other => panic!("no openssl key for {other}"),
    }
}

/// A private key of `spec` made by `openssl genpkey` as `<name>.pem`, and its
/// PKCS #8 DER (`openssl pkcs8 -topk8 -outform der -nocrypt`, [STEP3]) as
/// `<name>.der`, returned.
fn openssl_key(dir: &Path, spec: &str, name: &str) -> Vec<u8> {
    let pem = format!("{name}.pem");
    let der = format!("{name}.der");
    let mut args = vec!["genpkey"];
    args.extend(genpkey_args(spec));
    args.extend(["-out", &pem]);
    openssl(dir, &args);
    openssl(
        dir,
        &[
            "pkcs8", "-topk8", "-outform", "der", "-nocrypt", "-in", &pem, "-out", &der,
        ],
    );
    std::fs::read(dir.join(der)).unwrap()
}

fn create(kms: &mut Kms, spec: &str, usage: &str) -> (String, String) {
    let out = ok(call(
        kms,
        "CreateKey",
        json!({"KeySpec": spec, "KeyUsage": usage, "Origin": "EXTERNAL"}),
    ));
    assert_eq!(out["KeyMetadata"]["KeyState"], "PendingImport");
    (
        out["KeyMetadata"]["KeyId"].as_str().unwrap().to_string(),
        out["KeyMetadata"]["Arn"].as_str().unwrap().to_string(),
    )
}

/// Wraps `<name>.der` in `dir` for `public_key` with the Developer Guide's
/// OpenSSL commands for RSA_AES_KEY_WRAP_SHA_256 [STEP3].
fn wrap_with_openssl(dir: &Path, public_key: &[u8], name: &str) -> Vec<u8> {
    std::fs::write(dir.join("WrappingPublicKey.bin"), public_key).unwrap();
    openssl(dir, &["rand", "-out", "aes-key.bin", "32"]);
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
            &format!("{name}.der"),
            "-out",
            "key-material-wrapped.bin",
        ],
    );
    openssl(
        dir,
        &[
            "pkeyutl",
            "-encrypt",
            "-in",
            "aes-key.bin",
            "-out",
            "aes-key-wrapped.bin",
            "-inkey",
            "WrappingPublicKey.bin",
            "-keyform",
            "DER",
            "-pubin",
            "-pkeyopt",
            "rsa_padding_mode:oaep",
            "-pkeyopt",
            "rsa_oaep_md:sha256",
            "-pkeyopt",
            "rsa_mgf1_md:sha256",
        ],
    );
    let mut out = std::fs::read(dir.join("aes-key-wrapped.bin")).unwrap();
    out.extend(std::fs::read(dir.join("key-material-wrapped.bin")).unwrap());
    out
}

fn params(kms: &mut Kms, key: &str, algorithm: &str, spec: &str) -> Result<Value, ApiError> {
    call(
        kms,
        "GetParametersForImport",
        json!({"KeyId": key, "WrappingAlgorithm": algorithm, "WrappingKeySpec": spec}),
    )
}

/// Imports `<name>.der` into `key`, wrapped by OpenSSL.
fn import_with_openssl(
    kms: &mut Kms,
    dir: &Path,
    key: &str,
    name: &str,
    extra: Value,
) -> Result<Value, ApiError> {
    let p = ok(params(kms, key, "RSA_AES_KEY_WRAP_SHA_256", "RSA_4096"));
    let wrapped = wrap_with_openssl(dir, &unb64(&p["PublicKey"]), name);
    import_wrapped(kms, key, &p, &wrapped, extra)
}

fn import_wrapped(
    kms: &mut Kms,
    key: &str,
    params: &Value,
    wrapped: &[u8],
    extra: Value,
) -> Result<Value, ApiError> {
    let mut req = json!({
        "KeyId": key,
        "ImportToken": params["ImportToken"],
        "EncryptedKeyMaterial": b64(wrapped),
        "ExpirationModel": "KEY_MATERIAL_DOES_NOT_EXPIRE",
    });
    if let (Value::Object(r), Value::Object(e)) = (&mut req, extra) {
        r.extend(e);
    }
    call(kms, "ImportKeyMaterial", req)
}

/// Imports `material` (any bytes) wrapped by byok with RSA_AES_KEY_WRAP_SHA_256.
fn import_bytes(
    h: &mut Harness,
    key: &str,
    material: &[u8],
    extra: Value,
) -> Result<Value, ApiError> {
    let p = ok(params(
        &mut h.kms,
        key,
        "RSA_AES_KEY_WRAP_SHA_256",
        "RSA_2048",
    ));
    let wrapped = wrap_material(
        &unb64(&p["PublicKey"]),
        WrappingAlgorithm::RsaAesKeyWrapSha256,
        material,
        &mut h.rng,
    )
    .unwrap();
    import_wrapped(&mut h.kms, key, &p, &wrapped, extra)
}

/// GetPublicKey's DER, written as `<name>.pub.pem` for openssl.
fn public_key_pem(kms: &mut Kms, dir: &Path, key: &str, name: &str) -> Vec<u8> {
    let out = ok(call(kms, "GetPublicKey", json!({"KeyId": key})));
    let der = unb64(&out["PublicKey"]);
    std::fs::write(dir.join(format!("{name}.pub.der")), &der).unwrap();
    openssl(
        dir,
        &[
            "pkey",
            "-pubin",
            "-inform",
            "DER",
            "-in",
            &format!("{name}.pub.der"),
            "-out",
            &format!("{name}.pub.pem"),
        ],
    );
    der
}

fn sign(
    kms: &mut Kms,
    key: &str,
    alg: &str,
    message_type: &str,
    message: &[u8],
) -> Result<Value, ApiError> {
    call(
        kms,
        "Sign",
        json!({"KeyId": key, "Message": b64(message), "MessageType": message_type, "SigningAlgorithm": alg}),
    )
}

fn verify(
    kms: &mut Kms,
    key: &str,
    alg: &str,
    message_type: &str,
    message: &[u8],
    signature: &[u8],
) -> Result<Value, ApiError> {
    call(
        kms,
        "Verify",
        json!({"KeyId": key, "Message": b64(message), "MessageType": message_type, "Signature": b64(signature), "SigningAlgorithm": alg}),
    )
}

fn digest_of(alg: &str) -> &'static str {
    if alg.ends_with("256") {
        "sha256"
    } else if alg.ends_with("384") {
        "sha384"
    } else {
        "sha512"
    }
}

fn sha(dir: &Path, md: &str, file: &str) -> Vec<u8> {
    openssl(dir, &["dgst", &format!("-{md}"), "-binary", file])
}

const SIGNING: [(&str, &[&str]); 7] = [
    (
        "RSA_2048",
        &[
            "RSASSA_PKCS1_V1_5_SHA_256",
            "RSASSA_PKCS1_V1_5_SHA_384",
            "RSASSA_PKCS1_V1_5_SHA_512",
            "RSASSA_PSS_SHA_256",
            "RSASSA_PSS_SHA_384",
            "RSASSA_PSS_SHA_512",
        ],
    ),
    (
        "RSA_3072",
        &[
            "RSASSA_PKCS1_V1_5_SHA_256",
            "RSASSA_PKCS1_V1_5_SHA_384",
            "RSASSA_PKCS1_V1_5_SHA_512",
            "RSASSA_PSS_SHA_256",
            "RSASSA_PSS_SHA_384",
            "RSASSA_PSS_SHA_512",
        ],
    ),
    (
        "RSA_4096",
        &[
            "RSASSA_PKCS1_V1_5_SHA_256",
            "RSASSA_PKCS1_V1_5_SHA_384",
            "RSASSA_PKCS1_V1_5_SHA_512",
            "RSASSA_PSS_SHA_256",
            "RSASSA_PSS_SHA_384",
            "RSASSA_PSS_SHA_512",
        ],
    ),
    ("ECC_NIST_P256", &["ECDSA_SHA_256"]),
    ("ECC_NIST_P384", &["ECDSA_SHA_384"]),
    ("ECC_NIST_P521", &["ECDSA_SHA_512"]),
    ("ECC_SECG_P256K1", &["ECDSA_SHA_256"]),
];

/// [SPEC] [STEP3] [SIGN] Every signing spec: an OpenSSL private key
/// imported with the Developer Guide's OpenSSL wrapping; DescribeKey and
/// GetPublicKey list AWS's algorithms; GetPublicKey is OpenSSL's public key;
/// every algorithm signs RAW and DIGEST messages that `openssl dgst -verify`
/// accepts (PSS with salt length = digest length), OpenSSL's signatures
/// verify, and a wrong message is `KMSInvalidSignatureException`.
#[test]
fn every_signing_spec_interoperates_with_openssl() {
    let mut h = Harness::new();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("msg.bin"), b"the message that was signed").unwrap();
    let message = std::fs::read(d.join("msg.bin")).unwrap();
    for (spec, algorithms) in SIGNING {
        let private = openssl_key(d, spec, "key");
        let (key, arn) = create(&mut h.kms, spec, "SIGN_VERIFY");
        let out = ok(import_with_openssl(&mut h.kms, d, &key, "key", json!({})));
        assert_eq!(out["KeyId"], arn.as_str());
        let meta =
            ok(call(&mut h.kms, "DescribeKey", json!({"KeyId": key})))["KeyMetadata"].clone();
        assert_eq!(meta["KeyState"], "Enabled", "{spec}");
        assert_eq!(meta["KeySpec"], spec);
        assert_eq!(meta["KeyUsage"], "SIGN_VERIFY");
        assert_eq!(meta["SigningAlgorithms"], json!(algorithms), "{spec}");
        assert!(meta.get("EncryptionAlgorithms").is_none(), "{spec}: {meta}");
        // GetPublicKey is the public half of OpenSSL's key.
        let der = public_key_pem(&mut h.kms, d, &key, "kms");
        let expected = openssl(d, &["pkey", "-in", "key.pem", "-pubout", "-outform", "DER"]);
        assert_eq!(der, expected, "{spec}: GetPublicKey is the imported key's");
        let gpk = ok(call(&mut h.kms, "GetPublicKey", json!({"KeyId": key})));
        assert_eq!(gpk["KeySpec"], spec);
        assert_eq!(gpk["CustomerMasterKeySpec"], spec);
        assert_eq!(gpk["KeyUsage"], "SIGN_VERIFY");
        assert_eq!(gpk["SigningAlgorithms"], json!(algorithms));
        assert!(gpk.get("EncryptionAlgorithms").is_none());
        drop(private);
        for alg in algorithms {
            let md = digest_of(alg);
            let pss = alg.starts_with("RSASSA_PSS");
            // AWS's PSS salt is as long as the digest: -1 in OpenSSL.
            let sigopts: Vec<&str> = if pss {
                vec![
                    "-sigopt",
                    "rsa_padding_mode:pss",
                    "-sigopt",
                    "rsa_pss_saltlen:-1",
                ]
            } else {
                vec![]
            };
            let digest = sha(d, md, "msg.bin");
            for (message_type, input) in [("RAW", &message), ("DIGEST", &digest)] {
                let out = ok(sign(&mut h.kms, &key, alg, message_type, input));
                assert_eq!(out["SigningAlgorithm"], *alg);
                assert_eq!(out["KeyId"], arn.as_str());
                let signature = unb64(&out["Signature"]);
                std::fs::write(d.join("sig.bin"), &signature).unwrap();
                let mut args = vec![
                    "dgst".to_string(),
                    format!("-{md}"),
                    "-verify".into(),
                    "kms.pub.pem".into(),
                    "-signature".into(),
                    "sig.bin".into(),
                ];
                args.extend(sigopts.iter().map(|s| s.to_string()));
                args.push("msg.bin".into());
                let args: Vec<&str> = args.iter().map(|s| s.as_str()).collect();
                let said = String::from_utf8_lossy(&openssl(d, &args)).to_string();
                assert!(
                    said.contains("Verified OK"),
                    "{spec} {alg} {message_type}: {said}"
                );
                ok(verify(
                    &mut h.kms,
                    &key,
                    alg,
                    message_type,
                    input,
                    &signature,
                ));
                refused(
                    verify(&mut h.kms, &key, alg, "RAW", b"another message", &signature),
                    "KMSInvalidSignatureException",
                    "",
                );
            }
            // A signature OpenSSL made with the private key verifies in byok.
            let mut args = vec![
                "dgst".to_string(),
                format!("-{md}"),
                "-sign".into(),
                "key.pem".into(),
                "-out".into(),
                "openssl-sig.bin".into(),
            ];
            args.extend(sigopts.iter().map(|s| s.to_string()));
            args.push("msg.bin".into());
            let args: Vec<&str> = args.iter().map(|s| s.as_str()).collect();
            openssl(d, &args);
            let theirs = std::fs::read(d.join("openssl-sig.bin")).unwrap();
            ok(verify(&mut h.kms, &key, alg, "RAW", &message, &theirs));
            ok(verify(&mut h.kms, &key, alg, "DIGEST", &digest, &theirs));
        }
        // A wrong signature is refused by openssl as well (the check above is
        // not vacuous).
        std::fs::write(d.join("sig.bin"), [0u8; 64]).unwrap();
        assert!(!openssl_succeeds(
            d,
            &[
                "dgst",
                "-sha256",
                "-verify",
                "kms.pub.pem",
                "-signature",
                "sig.bin",
                "msg.bin"
            ]
        ));
    }
}

/// [SPEC] [STEP3] RSA ENCRYPT_DECRYPT keys: RSAES_OAEP_SHA_1 and
/// RSAES_OAEP_SHA_256 (MGF1 of the same hash) ciphertexts decrypt with
/// `openssl pkeyutl -decrypt` and the private key; OpenSSL's ciphertexts
/// under GetPublicKey's key decrypt in byok; the plaintext limits of the key
/// spec reference's table hold exactly.
#[test]
fn rsa_oaep_interoperates_with_openssl() {
    let mut h = Harness::new();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for (spec, limits) in [
        ("RSA_2048", [214usize, 190]),
        ("RSA_3072", [342, 318]),
        ("RSA_4096", [470, 446]),
    ] {
        openssl_key(d, spec, "key");
        let (key, arn) = create(&mut h.kms, spec, "ENCRYPT_DECRYPT");
        ok(import_with_openssl(&mut h.kms, d, &key, "key", json!({})));
        let meta =
            ok(call(&mut h.kms, "DescribeKey", json!({"KeyId": key})))["KeyMetadata"].clone();
        assert_eq!(
            meta["EncryptionAlgorithms"],
            json!(["RSAES_OAEP_SHA_1", "RSAES_OAEP_SHA_256"])
        );
        assert!(meta.get("SigningAlgorithms").is_none());
        public_key_pem(&mut h.kms, d, &key, "kms");
        for (alg, md, limit) in [
            ("RSAES_OAEP_SHA_1", "sha1", limits[0]),
            ("RSAES_OAEP_SHA_256", "sha256", limits[1]),
        ] {
            let plaintext = vec![0x5a; limit];
            let out = ok(call(
                &mut h.kms,
                "Encrypt",
                json!({"KeyId": key, "Plaintext": b64(&plaintext), "EncryptionAlgorithm": alg}),
            ));
            assert_eq!(out["EncryptionAlgorithm"], alg);
            assert_eq!(out["KeyId"], arn.as_str());
            let blob = unb64(&out["CiphertextBlob"]);
            std::fs::write(d.join("ct.bin"), &blob).unwrap();
            let oaep = [
                "-pkeyopt".to_string(),
                "rsa_padding_mode:oaep".into(),
                "-pkeyopt".into(),
                format!("rsa_oaep_md:{md}"),
                "-pkeyopt".into(),
                format!("rsa_mgf1_md:{md}"),
            ];
            let mut args: Vec<String> =
                ["pkeyutl", "-decrypt", "-inkey", "key.pem", "-in", "ct.bin"]
                    .iter()
                    .map(|s| s.to_string())
                    .collect();
            args.extend(oaep.iter().cloned());
            let args_ref: Vec<&str> = args.iter().map(|s| s.as_str()).collect();
            assert_eq!(openssl(d, &args_ref), plaintext, "{spec} {alg}");
            let back = ok(call(
                &mut h.kms,
                "Decrypt",
                json!({"KeyId": key, "CiphertextBlob": b64(&blob), "EncryptionAlgorithm": alg}),
            ));
            assert_eq!(unb64(&back["Plaintext"]), plaintext);
            assert_eq!(back["EncryptionAlgorithm"], alg);
            // OpenSSL encrypts under GetPublicKey's key; byok decrypts.
            std::fs::write(d.join("pt.bin"), b"from openssl").unwrap();
            let mut args: Vec<String> = [
                "pkeyutl",
                "-encrypt",
                "-pubin",
                "-inkey",
                "kms.pub.pem",
                "-in",
                "pt.bin",
                "-out",
                "ct2.bin",
            ]
            .iter()
            .map(|s| s.to_string())
            .collect();
            args.extend(oaep.iter().cloned());
            let args_ref: Vec<&str> = args.iter().map(|s| s.as_str()).collect();
            openssl(d, &args_ref);
            let theirs = std::fs::read(d.join("ct2.bin")).unwrap();
            let back = ok(call(
                &mut h.kms,
                "Decrypt",
                json!({"KeyId": key, "CiphertextBlob": b64(&theirs), "EncryptionAlgorithm": alg}),
            ));
            assert_eq!(unb64(&back["Plaintext"]), b"from openssl");
            // One byte over the limit is refused.
            refused(
                call(
                    &mut h.kms,
                    "Encrypt",
                    json!({"KeyId": key, "Plaintext": b64(&vec![1u8; limit + 1]), "EncryptionAlgorithm": alg}),
                ),
                "ValidationException",
                &format!(
                    "Algorithm {alg} and key spec {spec} cannot encrypt data larger than {limit} bytes."
                ),
            );
            // A damaged ciphertext is InvalidCiphertextException, no message.
            let mut bad = blob.clone();
            bad[10] ^= 1;
            refused(
                call(
                    &mut h.kms,
                    "Decrypt",
                    json!({"KeyId": key, "CiphertextBlob": b64(&bad), "EncryptionAlgorithm": alg}),
                ),
                "InvalidCiphertextException",
                "",
            );
        }
        // [SIGN] Symmetric encryption with an RSA key is refused.
        refused(
            call(
                &mut h.kms,
                "Encrypt",
                json!({"KeyId": key, "Plaintext": b64(b"x")}),
            ),
            "InvalidKeyUsageException",
            &format!("Algorithm SYMMETRIC_DEFAULT is incompatible with key spec {spec}."),
        );
        refused(
            call(
                &mut h.kms,
                "GenerateDataKey",
                json!({"KeyId": key, "KeySpec": "AES_256"}),
            ),
            "InvalidKeyUsageException",
            &format!("Algorithm SYMMETRIC_DEFAULT is incompatible with key spec {spec}."),
        );
        // An encryption key does not sign.
        refused(
            sign(&mut h.kms, &key, "RSASSA_PSS_SHA_256", "RAW", b"m"),
            "InvalidKeyUsageException",
            &format!("{arn} key usage is ENCRYPT_DECRYPT which is not valid for Sign."),
        );
    }
}

/// [SPEC] NIST curves with KEY_AGREEMENT: DeriveSharedSecret with the
/// peer's DER public key equals `openssl pkeyutl -derive` with the peer's
/// private key and GetPublicKey's key; DescribeKey lists ECDH.
#[test]
fn ecdh_equals_openssl_derive() {
    let mut h = Harness::new();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for spec in ["ECC_NIST_P256", "ECC_NIST_P384", "ECC_NIST_P521"] {
        openssl_key(d, spec, "key");
        openssl_key(d, spec, "peer");
        let peer_public = openssl(
            d,
            &["pkey", "-in", "peer.pem", "-pubout", "-outform", "DER"],
        );
        let (key, arn) = create(&mut h.kms, spec, "KEY_AGREEMENT");
        ok(import_with_openssl(&mut h.kms, d, &key, "key", json!({})));
        let meta =
            ok(call(&mut h.kms, "DescribeKey", json!({"KeyId": key})))["KeyMetadata"].clone();
        assert_eq!(meta["KeyAgreementAlgorithms"], json!(["ECDH"]));
        assert!(meta.get("SigningAlgorithms").is_none());
        public_key_pem(&mut h.kms, d, &key, "kms");
        let out = ok(call(
            &mut h.kms,
            "DeriveSharedSecret",
            json!({"KeyId": key, "KeyAgreementAlgorithm": "ECDH", "PublicKey": b64(&peer_public)}),
        ));
        assert_eq!(out["KeyId"], arn.as_str());
        assert_eq!(out["KeyAgreementAlgorithm"], "ECDH");
        assert_eq!(out["KeyOrigin"], "EXTERNAL");
        let theirs = openssl(
            d,
            &[
                "pkeyutl",
                "-derive",
                "-inkey",
                "peer.pem",
                "-peerkey",
                "kms.pub.pem",
            ],
        );
        assert_eq!(unb64(&out["SharedSecret"]), theirs, "{spec}");
        // A public key on another curve is refused.
        openssl_key(d, "ECC_SECG_P256K1", "other");
        let other = openssl(
            d,
            &["pkey", "-in", "other.pem", "-pubout", "-outform", "DER"],
        );
        refused(
            call(
                &mut h.kms,
                "DeriveSharedSecret",
                json!({"KeyId": key, "KeyAgreementAlgorithm": "ECDH", "PublicKey": b64(&other)}),
            ),
            "ValidationException",
            &format!(
                "The public key in the request is not a DER-encoded X.509 SubjectPublicKeyInfo public key for key spec {spec}."
            ),
        );
        // A key agreement key does not sign.
        refused(
            sign(&mut h.kms, &key, "ECDSA_SHA_256", "RAW", b"m"),
            "InvalidKeyUsageException",
            &format!("{arn} key usage is KEY_AGREEMENT which is not valid for Sign."),
        );
    }
}

/// [SPEC] CreateKey refuses the key usages a spec does not take, with AWS's
/// ValidationException.
#[test]
fn create_key_refuses_usages_the_spec_does_not_take() {
    let mut h = Harness::new();
    for (spec, usage) in [
        ("ECC_SECG_P256K1", "KEY_AGREEMENT"),
        ("ECC_SECG_P256K1", "ENCRYPT_DECRYPT"),
        ("RSA_2048", "KEY_AGREEMENT"),
        ("RSA_4096", "GENERATE_VERIFY_MAC"),
        ("ECC_NIST_P256", "ENCRYPT_DECRYPT"),
    ] {
        refused(
            call(
                &mut h.kms,
                "CreateKey",
                json!({"KeySpec": spec, "KeyUsage": usage, "Origin": "EXTERNAL"}),
            ),
            "ValidationException",
            &format!("KeyUsage {usage} is not compatible with KeySpec {spec}"),
        );
    }
    refused(
        call(
            &mut h.kms,
            "CreateKey",
            json!({"KeySpec": "RSA_2048", "Origin": "EXTERNAL"}),
        ),
        "ValidationException",
        "You must specify a KeyUsage value for all KMS keys except for symmetric encryption keys.",
    );
    // AWS_KMS asymmetric keys get a generated private key and work at once.
    let out = ok(call(
        &mut h.kms,
        "CreateKey",
        json!({"KeySpec": "ECC_NIST_P384", "KeyUsage": "SIGN_VERIFY"}),
    ));
    let key = out["KeyMetadata"]["KeyId"].as_str().unwrap().to_string();
    assert_eq!(out["KeyMetadata"]["KeyState"], "Enabled");
    let s = ok(sign(&mut h.kms, &key, "ECDSA_SHA_384", "RAW", b"generated"));
    ok(verify(
        &mut h.kms,
        &key,
        "ECDSA_SHA_384",
        "RAW",
        b"generated",
        &unb64(&s["Signature"]),
    ));
}

/// [WRAP] RSA private keys need an RSA_AES wrapping algorithm; ECC_NIST_P521
/// material cannot be wrapped with RSAES_OAEP under RSA_2048; other ECC
/// material can use RSAES_OAEP.
#[test]
fn wrapping_algorithms_follow_the_key_spec() {
    let mut h = Harness::new();
    let (rsa, rsa_arn) = create(&mut h.kms, "RSA_2048", "SIGN_VERIFY");
    for alg in ["RSAES_OAEP_SHA_1", "RSAES_OAEP_SHA_256"] {
        refused(
            params(&mut h.kms, &rsa, alg, "RSA_4096"),
            "ValidationException",
            &format!(
                "The {alg} wrapping algorithm with the RSA_4096 wrapping key spec cannot wrap RSA_2048 key material for KMS key {rsa_arn}. To import an RSA private key, use an RSA_AES wrapping algorithm; to import ECC_NIST_P521 key material with RSAES_OAEP, use an RSA_3072 or RSA_4096 wrapping key spec."
            ),
        );
    }
    ok(params(
        &mut h.kms,
        &rsa,
        "RSA_AES_KEY_WRAP_SHA_1",
        "RSA_2048",
    ));
    let (p521, p521_arn) = create(&mut h.kms, "ECC_NIST_P521", "SIGN_VERIFY");
    refused(
        params(&mut h.kms, &p521, "RSAES_OAEP_SHA_256", "RSA_2048"),
        "ValidationException",
        &format!(
            "The RSAES_OAEP_SHA_256 wrapping algorithm with the RSA_2048 wrapping key spec cannot wrap ECC_NIST_P521 key material for KMS key {p521_arn}. To import an RSA private key, use an RSA_AES wrapping algorithm; to import ECC_NIST_P521 key material with RSAES_OAEP, use an RSA_3072 or RSA_4096 wrapping key spec."
        ),
    );
    ok(params(&mut h.kms, &p521, "RSAES_OAEP_SHA_256", "RSA_3072"));
    // P-256 material wrapped with plain RSAES_OAEP_SHA_256 imports.
    let dir = tempfile::tempdir().unwrap();
    let der = openssl_key(dir.path(), "ECC_NIST_P256", "key");
    let (p256, _) = create(&mut h.kms, "ECC_NIST_P256", "SIGN_VERIFY");
    let p = ok(params(&mut h.kms, &p256, "RSAES_OAEP_SHA_256", "RSA_2048"));
    let wrapped = wrap_material(
        &unb64(&p["PublicKey"]),
        WrappingAlgorithm::RsaesOaepSha256,
        &der,
        &mut h.rng,
    )
    .unwrap();
    ok(import_wrapped(&mut h.kms, &p256, &p, &wrapped, json!({})));
}

/// [IMPORT] The material must be a PKCS #8 private key of the key spec's
/// type and size (IncorrectKeyMaterialException); one material only: a
/// second NEW_KEY_MATERIAL and RotateKeyOnDemand are refused [ROTATE], a
/// different private key is refused, the same key re-imports after
/// deletion (also in another PKCS #8 encoding) with the same KeyMaterialId.
#[test]
fn one_private_key_per_key_and_the_same_one_reimports() {
    let mut h = Harness::new();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let p256 = openssl_key(d, "ECC_NIST_P256", "p256");
    let p384 = openssl_key(d, "ECC_NIST_P384", "p384");
    let rsa2048 = openssl_key(d, "RSA_2048", "rsa2048");
    let (key, arn) = create(&mut h.kms, "ECC_NIST_P256", "SIGN_VERIFY");
    let wanted = format!(
        "The key material in the request is invalid for KMS key {arn}: a ECC_NIST_P256 key takes a DER-encoded PKCS #8 elliptic curve private key on the NIST P-256 (secp256r1) curve."
    );
    for wrong in [
        &p384[..],
        &rsa2048[..],
        b"not a private key at all",
        &p256[..p256.len() - 1],
    ] {
        refused(
            import_bytes(&mut h, &key, wrong, json!({})),
            "IncorrectKeyMaterialException",
            &wanted,
        );
    }
    let (rsa_key, rsa_arn) = create(&mut h.kms, "RSA_3072", "SIGN_VERIFY");
    refused(
        import_bytes(&mut h, &rsa_key, &rsa2048, json!({})),
        "IncorrectKeyMaterialException",
        &format!(
            "The key material in the request is invalid for KMS key {rsa_arn}: a RSA_3072 key takes a DER-encoded PKCS #8 RSA private key with a 3072-bit modulus."
        ),
    );
    // Nothing was imported by the refusals.
    let meta = ok(call(&mut h.kms, "DescribeKey", json!({"KeyId": key})))["KeyMetadata"].clone();
    assert_eq!(meta["KeyState"], "PendingImport");
    // The first import.
    let first = ok(import_bytes(&mut h, &key, &p256, json!({})));
    let material = first["KeyMaterialId"].as_str().unwrap().to_string();
    // A second NEW_KEY_MATERIAL is refused.
    let other = openssl_key(d, "ECC_NIST_P256", "other");
    refused(
        import_bytes(
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
    // A different private key as a re-import is not this key's material.
    refused(
        import_bytes(&mut h, &key, &other, json!({})),
        "IncorrectKeyMaterialException",
        &format!(
            "The key material in the request is not associated with KMS key {arn}. To import new key material, set ImportType to NEW_KEY_MATERIAL."
        ),
    );
    refused(
        call(&mut h.kms, "RotateKeyOnDemand", json!({"KeyId": key})),
        "UnsupportedOperationException",
        "You cannot perform this operation on a non-symmetric key or a key with non-ENCRYPT_DECRYPT key usage.",
    );
    // Deleting the material: PendingImport, Sign refused with AWS's state message.
    ok(call(
        &mut h.kms,
        "DeleteImportedKeyMaterial",
        json!({"KeyId": key}),
    ));
    refused(
        sign(&mut h.kms, &key, "ECDSA_SHA_256", "RAW", b"m"),
        "KMSInvalidStateException",
        &format!("{arn} is pending import."),
    );
    refused(
        call(&mut h.kms, "GetPublicKey", json!({"KeyId": key})),
        "KMSInvalidStateException",
        &format!("{arn} is pending import."),
    );
    // The same private key in the traditional EC encoding converted by
    // `openssl pkcs8 -topk8` from a SEC1 file without the public key: same
    // private key, same material.
    openssl(
        d,
        &[
            "ec",
            "-in",
            "p256.pem",
            "-no_public",
            "-out",
            "p256-nopub.pem",
        ],
    );
    openssl(
        d,
        &[
            "pkcs8",
            "-topk8",
            "-outform",
            "der",
            "-nocrypt",
            "-in",
            "p256-nopub.pem",
            "-out",
            "p256-nopub.der",
        ],
    );
    let reencoded = std::fs::read(d.join("p256-nopub.der")).unwrap();
    assert_ne!(reencoded, p256, "a different encoding of the same key");
    let again = ok(import_bytes(
        &mut h,
        &key,
        &reencoded,
        json!({"ImportType": "EXISTING_KEY_MATERIAL", "KeyMaterialId": material}),
    ));
    assert_eq!(again["KeyMaterialId"], material.as_str());
    let s = ok(sign(&mut h.kms, &key, "ECDSA_SHA_256", "RAW", b"back"));
    ok(verify(
        &mut h.kms,
        &key,
        "ECDSA_SHA_256",
        "RAW",
        b"back",
        &unb64(&s["Signature"]),
    ));
    // After expiry, too.
    h.advance(std::time::Duration::from_secs(60));
    let valid_to = h.now().millis() as f64 / 1000.0 + 3600.0;
    ok(import_bytes(
        &mut h,
        &key,
        &p256,
        json!({"ExpirationModel": "KEY_MATERIAL_EXPIRES", "ValidTo": valid_to}),
    ));
    h.advance(std::time::Duration::from_secs(7200));
    refused(
        sign(&mut h.kms, &key, "ECDSA_SHA_256", "RAW", b"m"),
        "KMSInvalidStateException",
        &format!("{arn} is pending import."),
    );
    ok(import_bytes(&mut h, &key, &p256, json!({})));
    ok(sign(&mut h.kms, &key, "ECDSA_SHA_256", "RAW", b"m"));
}

/// [SIGN] Sign's and Verify's refusals, in AWS's words; key states as for
/// symmetric keys; audit records name the material and hold no secret.
#[test]
fn sign_and_verify_refusals_and_audit() {
    let mut h = Harness::new();
    let dir = tempfile::tempdir().unwrap();
    let der = openssl_key(dir.path(), "ECC_NIST_P256", "key");
    let (key, arn) = create(&mut h.kms, "ECC_NIST_P256", "SIGN_VERIFY");
    refused(
        sign(&mut h.kms, &key, "ECDSA_SHA_256", "RAW", b"m"),
        "KMSInvalidStateException",
        &format!("{arn} is pending import."),
    );
    ok(import_bytes(&mut h, &key, &der, json!({})));
    refused(
        sign(&mut h.kms, &key, "ECDSA_SHA_384", "RAW", b"m"),
        "InvalidKeyUsageException",
        "Algorithm ECDSA_SHA_384 is incompatible with key spec ECC_NIST_P256.",
    );
    refused(
        sign(&mut h.kms, &key, "RSASSA_PSS_SHA_256", "RAW", b"m"),
        "InvalidKeyUsageException",
        "Algorithm RSASSA_PSS_SHA_256 is incompatible with key spec ECC_NIST_P256.",
    );
    refused(
        sign(&mut h.kms, &key, "ECDSA_SHA_256", "DIGEST", &[0u8; 31]),
        "ValidationException",
        "Digest is invalid length for algorithm ECDSA_SHA_256.",
    );
    refused(
        sign(&mut h.kms, &key, "ECDSA_SHA_257", "RAW", b"m"),
        "ValidationException",
        "1 validation error detected: Value 'ECDSA_SHA_257' at 'signingAlgorithm' failed to satisfy constraint: Member must satisfy enum value set: [RSASSA_PSS_SHA_256, RSASSA_PSS_SHA_384, RSASSA_PSS_SHA_512, RSASSA_PKCS1_V1_5_SHA_256, RSASSA_PKCS1_V1_5_SHA_384, RSASSA_PKCS1_V1_5_SHA_512, ECDSA_SHA_256, ECDSA_SHA_384, ECDSA_SHA_512, SM2DSA, ML_DSA_SHAKE_256, ED25519_SHA_512, ED25519_PH_SHA_512]",
    );
    refused(
        sign(&mut h.kms, &key, "ECDSA_SHA_256", "RAW", &[1u8; 4097]),
        "ValidationException",
        "1 validation error detected: Value at 'message' failed to satisfy constraint: Member must have length less than or equal to 4096",
    );
    refused(
        call(
            &mut h.kms,
            "Sign",
            json!({"KeyId": key, "Message": b64(b"m")}),
        ),
        "ValidationException",
        "1 validation error detected: Value null at 'signingAlgorithm' failed to satisfy constraint: Member must not be null",
    );
    refused(
        verify(&mut h.kms, &key, "ECDSA_SHA_256", "RAW", b"m", b"not DER"),
        "KMSInvalidSignatureException",
        "",
    );
    // A signing key neither encrypts nor derives; a symmetric key has no
    // public key and does not sign.
    refused(
        call(
            &mut h.kms,
            "Encrypt",
            json!({"KeyId": key, "Plaintext": b64(b"x"), "EncryptionAlgorithm": "RSAES_OAEP_SHA_256"}),
        ),
        "InvalidKeyUsageException",
        &format!("{arn} key usage is SIGN_VERIFY which is not valid for Encrypt."),
    );
    refused(
        call(
            &mut h.kms,
            "DeriveSharedSecret",
            json!({"KeyId": key, "KeyAgreementAlgorithm": "ECDH", "PublicKey": b64(b"x")}),
        ),
        "InvalidKeyUsageException",
        &format!("{arn} key usage is SIGN_VERIFY which is not valid for DeriveSharedSecret."),
    );
    let sym = h.create_aws_kms();
    let sym_arn = h.arn(sym);
    refused(
        call(
            &mut h.kms,
            "GetPublicKey",
            json!({"KeyId": sym.to_string()}),
        ),
        "UnsupportedOperationException",
        &format!(
            "{sym_arn} key spec is SYMMETRIC_DEFAULT which is not valid for GetPublicKey: only asymmetric KMS keys have a public key."
        ),
    );
    refused(
        sign(&mut h.kms, &sym.to_string(), "ECDSA_SHA_256", "RAW", b"m"),
        "InvalidKeyUsageException",
        &format!("{sym_arn} key usage is ENCRYPT_DECRYPT which is not valid for Sign."),
    );
    refused(
        call(
            &mut h.kms,
            "Encrypt",
            json!({"KeyId": sym.to_string(), "Plaintext": b64(b"x"), "EncryptionAlgorithm": "RSAES_OAEP_SHA_1"}),
        ),
        "InvalidKeyUsageException",
        "Algorithm RSAES_OAEP_SHA_1 is incompatible with key spec SYMMETRIC_DEFAULT.",
    );
    // Disabled: DisabledException, as for Encrypt.
    ok(call(&mut h.kms, "DisableKey", json!({"KeyId": key})));
    refused(
        sign(&mut h.kms, &key, "ECDSA_SHA_256", "RAW", b"m"),
        "DisabledException",
        &format!("{arn} is disabled."),
    );
    ok(call(&mut h.kms, "EnableKey", json!({"KeyId": key})));
    // Audit: one record per call, the material named, no secret.
    h.kms.take_audit_records();
    let s = ok(sign(
        &mut h.kms,
        &key,
        "ECDSA_SHA_256",
        "RAW",
        b"audited message",
    ));
    let signature = unb64(&s["Signature"]);
    ok(verify(
        &mut h.kms,
        &key,
        "ECDSA_SHA_256",
        "RAW",
        b"audited message",
        &signature,
    ));
    ok(call(&mut h.kms, "GetPublicKey", json!({"KeyId": key})));
    let records = h.kms.take_audit_records();
    let names: Vec<String> = records.iter().map(|r| r.event_name.clone()).collect();
    assert_eq!(names, ["Sign", "Verify", "GetPublicKey"]);
    let text = serde_json::to_string(&records).unwrap();
    assert!(text.contains("keyMaterialId"), "{text}");
    assert!(text.contains("ECDSA_SHA_256"));
    for secret in [b64(&der), b64(&signature), b64(b"audited message")] {
        assert!(!text.contains(&secret), "a secret in the audit trail");
    }
    assert!(!text.contains("audited message"));
}

/// GenerateDataKeyPair(WithoutPlaintext) (the API reference: the private key
/// "DER-encoded PKCS #8" encrypted under the symmetric encryption KMS key,
/// the public key "DER-encoded X.509 SubjectPublicKeyInfo"): OpenSSL reads
/// the private key and derives the same public key; Decrypt of the
/// encrypted private key (with the encryption context) gives it back; an
/// asymmetric KMS key is refused; KeyPairSpec is AWS's set.
#[test]
fn generate_data_key_pair_makes_keys_openssl_reads() {
    let mut h = Harness::new();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let sym = h.create_aws_kms().to_string();
    let arn = h.arn(byok::kms::KeyId::parse(&sym).unwrap());
    for spec in [
        "RSA_2048",
        "ECC_NIST_P256",
        "ECC_NIST_P384",
        "ECC_NIST_P521",
        "ECC_SECG_P256K1",
    ] {
        let out = ok(call(
            &mut h.kms,
            "GenerateDataKeyPair",
            json!({"KeyId": sym, "KeyPairSpec": spec, "EncryptionContext": {"purpose": "pair"}}),
        ));
        assert_eq!(out["KeyPairSpec"], spec);
        assert_eq!(out["KeyId"], arn.as_str());
        assert!(out["KeyMaterialId"].is_string());
        let private = unb64(&out["PrivateKeyPlaintext"]);
        let public = unb64(&out["PublicKey"]);
        std::fs::write(d.join("pair.der"), &private).unwrap();
        let derived = openssl(
            d,
            &[
                "pkey", "-inform", "DER", "-in", "pair.der", "-pubout", "-outform", "DER",
            ],
        );
        assert_eq!(
            derived, public,
            "{spec}: OpenSSL derives the same public key"
        );
        let back = ok(call(
            &mut h.kms,
            "Decrypt",
            json!({"CiphertextBlob": out["PrivateKeyCiphertextBlob"], "EncryptionContext": {"purpose": "pair"}}),
        ));
        assert_eq!(unb64(&back["Plaintext"]), private);
        refused(
            call(
                &mut h.kms,
                "Decrypt",
                json!({"CiphertextBlob": out["PrivateKeyCiphertextBlob"]}),
            ),
            "InvalidCiphertextException",
            "",
        );
        let without = ok(call(
            &mut h.kms,
            "GenerateDataKeyPairWithoutPlaintext",
            json!({"KeyId": sym, "KeyPairSpec": spec}),
        ));
        assert!(without.get("PrivateKeyPlaintext").is_none(), "{without}");
        let back = ok(call(
            &mut h.kms,
            "Decrypt",
            json!({"CiphertextBlob": without["PrivateKeyCiphertextBlob"]}),
        ));
        std::fs::write(d.join("pair2.der"), unb64(&back["Plaintext"])).unwrap();
        let derived = openssl(
            d,
            &[
                "pkey",
                "-inform",
                "DER",
                "-in",
                "pair2.der",
                "-pubout",
                "-outform",
                "DER",
            ],
        );
        assert_eq!(derived, unb64(&without["PublicKey"]));
    }
    refused(
        call(
            &mut h.kms,
            "GenerateDataKeyPair",
            json!({"KeyId": sym, "KeyPairSpec": "RSA_1024"}),
        ),
        "ValidationException",
        "1 validation error detected: Value 'RSA_1024' at 'keyPairSpec' failed to satisfy constraint: Member must satisfy enum value set: [RSA_2048, RSA_3072, RSA_4096, ECC_NIST_P256, ECC_NIST_P384, ECC_NIST_P521, ECC_SECG_P256K1, SM2, ECC_NIST_EDWARDS25519]",
    );
    let (kind, _) = call(
        &mut h.kms,
        "GenerateDataKeyPair",
        json!({"KeyId": sym, "KeyPairSpec": "SM2"}),
    )
    .map(|_| ())
    .map_err(|e| (e.error_type, e.message))
    .unwrap_err();
    assert_eq!(kind, "UnsupportedOperationException");
    refused(
        call(
            &mut h.kms,
            "GenerateDataKeyPair",
            json!({"KeyId": sym, "KeyPairSpec": "ECC_NIST_P256", "DryRun": true}),
        ),
        "DryRunOperationException",
        "The request would have succeeded, but the DryRun option is set.",
    );
    // [SIGN] An asymmetric KMS key does not encrypt data key pairs.
    let rsa = ok(call(
        &mut h.kms,
        "CreateKey",
        json!({"KeySpec": "RSA_2048", "KeyUsage": "ENCRYPT_DECRYPT"}),
    ))["KeyMetadata"]["KeyId"]
        .as_str()
        .unwrap()
        .to_string();
    refused(
        call(
            &mut h.kms,
            "GenerateDataKeyPair",
            json!({"KeyId": rsa, "KeyPairSpec": "ECC_NIST_P256"}),
        ),
        "InvalidKeyUsageException",
        "Algorithm SYMMETRIC_DEFAULT is incompatible with key spec RSA_2048.",
    );
}
