//! Asymmetric keys from the command line with the AWS CLI's verbs and flags
//! (`sign`, `verify`, `get-public-key`): `byok kms` on a local store, `byok
//! kms --endpoint-url` through the AWS backend to `byok serve`, and the real
//! AWS CLI (`aws kms`) against `byok serve`. The private key is made with
//! `openssl genpkey`, converted with `openssl pkcs8 -topk8 -outform der
//! -nocrypt`, and wrapped with the AWS KMS Developer Guide's OpenSSL commands
//! for RSA_AES_KEY_WRAP_SHA_256 ("Step 3: Encrypt the key material",
//! <https://docs.aws.amazon.com/kms/latest/developerguide/importing-keys-encrypt-key-material.html>);
//! signatures are checked with `openssl dgst -verify` both ways.

mod cli_common;
#[path = "cli_common/served.rs"]
mod served;
#[path = "aws_support/mod.rs"]
mod support;

use cli_common::*;
use served::*;
use support::Served;

const SCRIPT: &str = r#"
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out key.pem 2> /dev/null
openssl pkcs8 -topk8 -outform der -nocrypt -in key.pem -out PrivateKey.der
KEY_ID=$($KMS create-key --key-spec ECC_NIST_P256 --key-usage SIGN_VERIFY --origin EXTERNAL \
    --query KeyMetadata.KeyId --output text)
$KMS get-parameters-for-import --key-id "$KEY_ID" --wrapping-algorithm RSA_AES_KEY_WRAP_SHA_256 \
    --wrapping-key-spec RSA_3072 --query '[PublicKey, ImportToken]' --output text > params.txt
cut -f1 params.txt | base64 -d > PublicKey.bin
cut -f2 params.txt | base64 -d > ImportToken.bin
openssl rand -out aes-key.bin 32
openssl enc -id-aes256-wrap-pad -K "$(xxd -p < aes-key.bin | tr -d '\n')" -iv A65959A6 \
    -in PrivateKey.der -out key-material-wrapped.bin
openssl pkeyutl -encrypt -in aes-key.bin -out aes-key-wrapped.bin -inkey PublicKey.bin \
    -keyform DER -pubin -pkeyopt rsa_padding_mode:oaep -pkeyopt rsa_oaep_md:sha256 \
    -pkeyopt rsa_mgf1_md:sha256
cat aes-key-wrapped.bin key-material-wrapped.bin > EncryptedKeyMaterial.bin
$KMS import-key-material --key-id "$KEY_ID" --encrypted-key-material fileb://EncryptedKeyMaterial.bin \
    --import-token fileb://ImportToken.bin --expiration-model KEY_MATERIAL_DOES_NOT_EXPIRE > /dev/null
$KMS describe-key --key-id "$KEY_ID" > describe.json
printf 'a message to sign' > message.bin
$KMS sign --key-id "$KEY_ID" --message fileb://message.bin --signing-algorithm ECDSA_SHA_256 \
    --query Signature --output text | base64 -d > sig.der
$KMS get-public-key --key-id "$KEY_ID" --query PublicKey --output text | base64 -d > pub.der
openssl dgst -sha256 -verify pub.der -keyform DER -signature sig.der message.bin > openssl-verify.txt
$KMS verify --key-id "$KEY_ID" --message fileb://message.bin --signature fileb://sig.der \
    --signing-algorithm ECDSA_SHA_256 > verify.json
openssl dgst -sha256 -sign key.pem -out openssl-sig.der message.bin
openssl dgst -sha256 -binary message.bin > digest.bin
$KMS verify --key-id "$KEY_ID" --message fileb://digest.bin --message-type DIGEST \
    --signature fileb://openssl-sig.der --signing-algorithm ECDSA_SHA_256 > verify-openssl.json
set +e
printf 'a tampered message' > tampered.bin
$KMS verify --key-id "$KEY_ID" --message fileb://tampered.bin --signature fileb://sig.der \
    --signing-algorithm ECDSA_SHA_256 2> tampered.err
echo $? > tampered.status
$KMS sign --key-id "$KEY_ID" --message fileb://message.bin --signing-algorithm ECDSA_SHA_384 \
    2> algorithm.err
echo $? > algorithm.status
set -e
echo "$KEY_ID"
"#;

#[track_caller]
fn check(dir: &std::path::Path, arn: &str, who: &str, service_error_status: &str) {
    let describe: serde_json::Value = serde_json::from_str(&read(dir, "describe.json")).unwrap();
    let m = &describe["KeyMetadata"];
    assert_eq!(m["KeySpec"], "ECC_NIST_P256", "{who}");
    assert_eq!(m["KeyUsage"], "SIGN_VERIFY", "{who}");
    assert_eq!(m["KeyState"], "Enabled", "{who}");
    assert_eq!(
        m["SigningAlgorithms"],
        serde_json::json!(["ECDSA_SHA_256"]),
        "{who}"
    );
    assert_eq!(
        read(dir, "openssl-verify.txt").trim(),
        "Verified OK",
        "{who}"
    );
    for file in ["verify.json", "verify-openssl.json"] {
        let v: serde_json::Value = serde_json::from_str(&read(dir, file)).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"KeyId": arn, "SignatureValid": true, "SigningAlgorithm": "ECDSA_SHA_256"}),
            "{who}: {file}"
        );
    }
    let status = read(dir, "tampered.status");
    let err = read(dir, "tampered.err");
    assert_eq!(status.trim(), service_error_status, "{who}: {err}");
    assert!(
        err.contains(
            "An error occurred (KMSInvalidSignatureException) when calling the Verify operation"
        ),
        "{who}: {err}"
    );
    let status = read(dir, "algorithm.status");
    let err = read(dir, "algorithm.err");
    assert_eq!(status.trim(), service_error_status, "{who}: {err}");
    assert!(
        err.contains("An error occurred (InvalidKeyUsageException) when calling the Sign operation: Algorithm ECDSA_SHA_384 is incompatible with key spec ECC_NIST_P256."),
        "{who}: {err}"
    );
}

#[test]
fn sign_and_verify_on_a_local_store() {
    let s = Sandbox::new();
    let out = s.sh_ok(SCRIPT, &[("KMS", "byok kms")]);
    let key = out.line().to_string();
    assert!(is_key_id(&key), "{key}");
    let arn = format!("arn:aws:kms:us-east-1:000000000000:key/{key}");
    check(s.path(), &arn, "byok kms", "254");
}

/// `byok kms --endpoint-url` and the real AWS CLI against `byok serve`.
#[test]
fn sign_and_verify_through_byok_serve_with_byok_and_the_aws_cli() {
    let served = Served::start(0);
    for kms in ["byok kms", "aws kms"] {
        let dir = tempfile::tempdir().unwrap();
        let out = served_shell(&served, dir.path(), kms, SCRIPT)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{kms}: {}\n{stdout}",
            String::from_utf8_lossy(&out.stderr)
        );
        let key = stdout.trim().to_string();
        assert!(is_key_id(&key), "{kms}: {key}");
        check(
            dir.path(),
            &served.arn(&key),
            kms,
            service_error_status(kms),
        );
    }
}

/// A custodian without the OpenSSL wrapping commands: `byok material wrap`
/// wraps an RSA private key (PKCS #8 DER) with RSA_AES_KEY_WRAP_SHA_256 and
/// the key encrypts with RSAES_OAEP_SHA_256 what `openssl pkeyutl -decrypt`
/// reads with the private key; a file that is neither a length a
/// symmetric or HMAC key takes nor a PKCS #8 private key is refused.
#[test]
fn material_wrap_takes_a_pkcs8_private_key() {
    let s = Sandbox::new();
    let out = s.sh_ok(
        r#"openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out key.pem 2> /dev/null
openssl pkcs8 -topk8 -outform der -nocrypt -in key.pem -out PrivateKey.der
KEY_ID=$(byok kms create-key --key-spec RSA_2048 --key-usage ENCRYPT_DECRYPT \
    --origin EXTERNAL --query KeyMetadata.KeyId --output text)
byok kms get-parameters-for-import --key-id "$KEY_ID" --wrapping-algorithm RSA_AES_KEY_WRAP_SHA_256 \
    --wrapping-key-spec RSA_4096 --query '[PublicKey, ImportToken]' --output text > params.txt
cut -f1 params.txt | base64 -d > PublicKey.bin
cut -f2 params.txt | base64 -d > ImportToken.bin
byok material wrap --public-key PublicKey.bin --wrapping-algorithm RSA_AES_KEY_WRAP_SHA_256 \
    --in PrivateKey.der --out EncryptedKeyMaterial.bin > /dev/null
byok kms import-key-material --key-id "$KEY_ID" --encrypted-key-material fileb://EncryptedKeyMaterial.bin \
    --import-token fileb://ImportToken.bin --expiration-model KEY_MATERIAL_DOES_NOT_EXPIRE > /dev/null
printf 'for the private key holder' > plaintext.bin
byok kms encrypt --key-id "$KEY_ID" --plaintext fileb://plaintext.bin \
    --encryption-algorithm RSAES_OAEP_SHA_256 --query CiphertextBlob --output text | base64 -d > ct.bin
openssl pkeyutl -decrypt -inkey key.pem -in ct.bin -pkeyopt rsa_padding_mode:oaep \
    -pkeyopt rsa_oaep_md:sha256 -pkeyopt rsa_mgf1_md:sha256"#,
        &[],
    );
    assert_eq!(out.stdout, "for the private key holder");
    std::fs::write(s.file("junk.der"), [0x30u8; 300]).unwrap();
    let r = s.byok(&[
        "material",
        "wrap",
        "--public-key",
        "PublicKey.bin",
        "--wrapping-algorithm",
        "RSA_AES_KEY_WRAP_SHA_256",
        "--in",
        "junk.der",
        "--out",
        "junk.bin",
    ]);
    assert_ne!(r.status, 0);
    assert!(r.stderr.contains("junk.der is 300 bytes"), "{}", r.stderr);
    assert!(r.stderr.contains("DER PKCS #8 private key"), "{}", r.stderr);
    assert!(!s.file("junk.bin").exists());
}
