//! Asymmetric keys through `byok serve` with the real `aws-sdk-kms`: real
//! SigV4 and HTTP against an endpoint started in process on 127.0.0.1 port
//! 0. CreateKey RSA_2048 SIGN_VERIFY EXTERNAL, GetParametersForImport with
//! RSA_AES_KEY_WRAP_SHA_256 (an RSA private key needs an RSA_AES wrapping
//! algorithm: the GetParametersForImport API reference), ImportKeyMaterial of
//! an OpenSSL-made PKCS #8 private key, Sign, Verify, GetPublicKey (the
//! signature checks with the public key alone), and the SDK's typed errors
//! for a bad signature (KMSInvalidSignatureException) and a second
//! NEW_KEY_MATERIAL.

#[path = "aws_support/mod.rs"]
mod support;

use std::process::Command;

use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::{
    AlgorithmSpec, ImportType, KeySpec, KeyUsageType, MessageType, OriginType,
    SigningAlgorithmSpec, WrappingKeySpec,
};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use byok::kms::{WrappingAlgorithm, wrap_material};
use rsa::pkcs8::DecodePublicKey;
use sha2::{Digest, Sha256};
use support::*;

/// An RSA 2048 private key from `openssl genpkey`, as PKCS #8 DER
/// (`openssl pkcs8 -topk8 -outform der -nocrypt`).
fn openssl_rsa_2048(dir: &std::path::Path, name: &str) -> Vec<u8> {
    let run = |args: &[&str]| {
        let out = Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .output()
            .expect("openssl");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let pem = format!("{name}.pem");
    let der = format!("{name}.der");
    run(&[
        "genpkey",
        "-algorithm",
        "RSA",
        "-pkeyopt",
        "rsa_keygen_bits:2048",
        "-out",
        &pem,
    ]);
    run(&[
        "pkcs8", "-topk8", "-outform", "der", "-nocrypt", "-in", &pem, "-out", &der,
    ]);
    std::fs::read(dir.join(der)).unwrap()
}

#[test]
fn rsa_2048_sign_verify_key_through_the_sdk() {
    let served = Served::start(0);
    let dir = tempfile::tempdir().unwrap();
    let private_key = openssl_rsa_2048(dir.path(), "key");
    let other_key = openssl_rsa_2048(dir.path(), "other");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let config = aws_sdk_kms::Config::builder()
            .behavior_version(aws_sdk_kms::config::BehaviorVersion::latest())
            .region(aws_sdk_kms::config::Region::new(served.region.clone()))
            .endpoint_url(served.url())
            .credentials_provider(served.credentials())
            .retry_config(aws_sdk_kms::config::retry::RetryConfig::standard().with_max_attempts(1))
            .build();
        let kms = aws_sdk_kms::Client::from_conf(config);

        let created = kms
            .create_key()
            .key_spec(KeySpec::Rsa2048)
            .key_usage(KeyUsageType::SignVerify)
            .origin(OriginType::External)
            .send()
            .await
            .expect("CreateKey");
        let meta = created.key_metadata().expect("KeyMetadata");
        assert_eq!(meta.key_spec(), Some(&KeySpec::Rsa2048));
        assert_eq!(meta.key_usage(), Some(&KeyUsageType::SignVerify));
        assert_eq!(meta.signing_algorithms().len(), 6);
        let key = meta.key_id().to_string();
        let arn = served.arn(&key);

        let import = |material: Vec<u8>, import_type: Option<ImportType>| {
            let kms = kms.clone();
            let key = key.clone();
            async move {
                let p = kms
                    .get_parameters_for_import()
                    .key_id(&key)
                    .wrapping_algorithm(AlgorithmSpec::RsaAesKeyWrapSha256)
                    .wrapping_key_spec(WrappingKeySpec::Rsa3072)
                    .send()
                    .await
                    .expect("GetParametersForImport");
                let wrapped = wrap_material(
                    p.public_key().expect("PublicKey").as_ref(),
                    WrappingAlgorithm::RsaAesKeyWrapSha256,
                    &material,
                    &mut rand::rng(),
                )
                .unwrap();
                kms.import_key_material()
                    .key_id(&key)
                    .import_token(p.import_token().expect("ImportToken").clone())
                    .encrypted_key_material(Blob::new(wrapped))
                    .expiration_model(
                        aws_sdk_kms::types::ExpirationModelType::KeyMaterialDoesNotExpire,
                    )
                    .set_import_type(import_type)
                    .send()
                    .await
            }
        };
        let imported = import(private_key.clone(), None)
            .await
            .expect("ImportKeyMaterial");
        assert_eq!(imported.key_id(), Some(arn.as_str()));

        let message = b"signed through byok serve".to_vec();
        let signed = kms
            .sign()
            .key_id(&key)
            .message(Blob::new(message.clone()))
            .message_type(MessageType::Raw)
            .signing_algorithm(SigningAlgorithmSpec::RsassaPssSha256)
            .send()
            .await
            .expect("Sign");
        assert_eq!(signed.key_id(), Some(arn.as_str()));
        assert_eq!(
            signed.signing_algorithm(),
            Some(&SigningAlgorithmSpec::RsassaPssSha256)
        );
        let signature = signed.signature().expect("Signature").as_ref().to_vec();
        assert_eq!(signature.len(), 256);

        let verified = kms
            .verify()
            .key_id(&key)
            .message(Blob::new(message.clone()))
            .message_type(MessageType::Raw)
            .signature(Blob::new(signature.clone()))
            .signing_algorithm(SigningAlgorithmSpec::RsassaPssSha256)
            .send()
            .await
            .expect("Verify");
        assert!(verified.signature_valid());

        // The public key alone checks the signature (PSS, salt = 32 bytes).
        let public = kms
            .get_public_key()
            .key_id(&key)
            .send()
            .await
            .expect("GetPublicKey");
        assert_eq!(public.key_spec(), Some(&KeySpec::Rsa2048));
        assert_eq!(public.key_usage(), Some(&KeyUsageType::SignVerify));
        assert!(
            public
                .signing_algorithms()
                .contains(&SigningAlgorithmSpec::RsassaPkcs1V15Sha256)
        );
        let der = public.public_key().expect("PublicKey").as_ref();
        assert_eq!(der.len(), 294, "DER SubjectPublicKeyInfo of RSA 2048");
        let rsa_public = rsa::PublicKey::from_public_key_der(der).expect("SPKI");
        rsa_public
            .verify(
                rsa::Pss::<Sha256>::new(),
                &Sha256::digest(&message),
                &signature,
            )
            .expect("the signature verifies with GetPublicKey's key");

        // A signature of another message: KMSInvalidSignatureException.
        let bad = kms
            .verify()
            .key_id(&key)
            .message(Blob::new(b"another message".to_vec()))
            .signature(Blob::new(signature))
            .signing_algorithm(SigningAlgorithmSpec::RsassaPssSha256)
            .send()
            .await
            .expect_err("a wrong message");
        assert!(
            bad.as_service_error()
                .is_some_and(|e| e.is_kms_invalid_signature_exception()),
            "{bad:?}"
        );

        // One private key per key: a second NEW_KEY_MATERIAL is refused.
        let again = import(other_key, Some(ImportType::NewKeyMaterial))
            .await
            .expect_err("a second NEW_KEY_MATERIAL");
        let e = again.as_service_error().expect("a service error");
        assert!(e.is_unsupported_operation_exception(), "{e:?}");
    });
}

/// The AWS backend (`byok kms --endpoint-url`, the console on an AWS
/// account) sends the asymmetric operations with the SDK and reads their
/// answers into the API's shapes member for member: DescribeKey and
/// GetPublicKey equal the local engine's answers; what one side signs,
/// encrypts or seals the other verifies, decrypts or opens; both derive the
/// same ECDH secret.
#[test]
fn asymmetric_answers_through_the_aws_backend_are_the_engines() {
    use byok::backend::Backend;
    use byok::backend::local::LocalBackend;
    use byok::kms::Caller;
    use serde_json::{Value, json};

    let served = Served::start(0);
    let aws = served.backend();
    let local = LocalBackend::new(served.vault.clone(), Caller::cli());
    let call = |b: &dyn Backend, op: &str, body: Value| -> Value {
        let out = b
            .call(op, &serde_json::to_vec(&body).unwrap())
            .unwrap_or_else(|e| panic!("{op}: {e:?}"));
        serde_json::from_slice(&out).unwrap()
    };
    let create = |spec: &str, usage: &str| -> String {
        call(
            &aws,
            "CreateKey",
            json!({"KeySpec": spec, "KeyUsage": usage}),
        )["KeyMetadata"]["KeyId"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let signer = create("ECC_NIST_P256", "SIGN_VERIFY");
    let rsa = create("RSA_2048", "ENCRYPT_DECRYPT");
    let agreement = create("ECC_NIST_P384", "KEY_AGREEMENT");
    let symmetric = call(&aws, "CreateKey", json!({}))["KeyMetadata"]["KeyId"]
        .as_str()
        .unwrap()
        .to_string();
    for key in [&signer, &rsa, &agreement] {
        for op in ["DescribeKey", "GetPublicKey"] {
            let body = json!({"KeyId": key});
            assert_eq!(call(&aws, op, body.clone()), call(&local, op, body), "{op}");
        }
    }
    let m = json!("bWVzc2FnZQ==");
    let signed = call(
        &aws,
        "Sign",
        json!({"KeyId": signer, "Message": m, "SigningAlgorithm": "ECDSA_SHA_256"}),
    );
    assert_eq!(signed["SigningAlgorithm"], "ECDSA_SHA_256");
    let verified = json!({"KeyId": served.arn(&signer), "SignatureValid": true, "SigningAlgorithm": "ECDSA_SHA_256"});
    for b in [&aws as &dyn Backend, &local] {
        let v = call(
            b,
            "Verify",
            json!({"KeyId": signer, "Message": m, "Signature": signed["Signature"], "SigningAlgorithm": "ECDSA_SHA_256"}),
        );
        assert_eq!(v, verified);
    }
    let ct = call(
        &aws,
        "Encrypt",
        json!({"KeyId": rsa, "Plaintext": m, "EncryptionAlgorithm": "RSAES_OAEP_SHA_1"}),
    );
    assert_eq!(ct["EncryptionAlgorithm"], "RSAES_OAEP_SHA_1");
    let pt = call(
        &local,
        "Decrypt",
        json!({"KeyId": rsa, "CiphertextBlob": ct["CiphertextBlob"], "EncryptionAlgorithm": "RSAES_OAEP_SHA_1"}),
    );
    assert_eq!(pt["Plaintext"], m);
    let peer = byok::kms::asym::AsymmetricKey::generate(
        byok::kms::KeySpec::EccNistP384,
        &mut support::common::seeded(3),
    )
    .unwrap()
    .public_key_der()
    .unwrap();
    let derive = json!({"KeyId": agreement, "KeyAgreementAlgorithm": "ECDH", "PublicKey": STANDARD.encode(&peer)});
    assert_eq!(
        call(&aws, "DeriveSharedSecret", derive.clone()),
        call(&local, "DeriveSharedSecret", derive)
    );
    let pair = call(
        &aws,
        "GenerateDataKeyPair",
        json!({"KeyId": symmetric, "KeyPairSpec": "ECC_SECG_P256K1"}),
    );
    assert_eq!(pair["KeyPairSpec"], "ECC_SECG_P256K1");
    assert!(pair["KeyMaterialId"].is_string(), "{pair}");
    let opened = call(
        &local,
        "Decrypt",
        json!({"CiphertextBlob": pair["PrivateKeyCiphertextBlob"]}),
    );
    assert_eq!(opened["Plaintext"], pair["PrivateKeyPlaintext"]);
    let without = call(
        &aws,
        "GenerateDataKeyPairWithoutPlaintext",
        json!({"KeyId": symmetric, "KeyPairSpec": "RSA_2048"}),
    );
    assert!(without.get("PrivateKeyPlaintext").is_none(), "{without}");
    assert_eq!(
        STANDARD
            .decode(without["PublicKey"].as_str().unwrap())
            .unwrap()
            .len(),
        294
    );
}
