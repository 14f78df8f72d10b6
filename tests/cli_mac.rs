//! `generate-mac` and `verify-mac` from the command line, with the AWS CLI's
//! flags (`--key-id`, `--message`, `--mac-algorithm`, `--mac`,
//! `--grant-tokens`, `--dry-run`) and output (the AWS model's member order:
//! `Mac`, `MacAlgorithm`, `KeyId`; `KeyId`, `MacValid`, `MacAlgorithm`):
//! `byok kms` on a local store, `byok kms --endpoint-url` through the AWS
//! backend to `byok serve`, and the real AWS CLI (`aws kms`) against
//! `byok serve`. The HMAC material is made and wrapped with OpenSSL as the
//! AWS KMS Developer Guide does it ("Encrypt key material"), 64 bytes for an
//! HMAC_256 key (the Developer Guide's "Requirements for imported key
//! material": 32 to 64 bytes), and the MACs are compared with
//! `openssl dgst -sha256 -mac HMAC -macopt hexkey:...`.

mod cli_common;
#[path = "cli_common/served.rs"]
mod served;
#[path = "aws_support/mod.rs"]
mod support;

use cli_common::*;
use served::*;
use support::Served;

/// The ceremony and the MAC checks, for a `kms` command given as `$KMS`
/// (`byok kms`, `byok kms --endpoint-url ...`, `aws kms --endpoint-url ...`).
/// Prints the files the test reads.
const SCRIPT: &str = r#"
KEY_ID=$($KMS create-key --key-spec HMAC_256 --key-usage GENERATE_VERIFY_MAC --origin EXTERNAL \
    --query KeyMetadata.KeyId --output text)
$KMS describe-key --key-id "$KEY_ID" > describe.json
$KMS get-parameters-for-import --key-id "$KEY_ID" --wrapping-algorithm RSAES_OAEP_SHA_256 \
    --wrapping-key-spec RSA_2048 --query '[PublicKey, ImportToken]' --output text > params.txt
cut -f1 params.txt | base64 -d > PublicKey.bin
cut -f2 params.txt | base64 -d > ImportToken.bin
openssl rand -out KeyMaterial.bin 64
openssl pkeyutl -encrypt -in KeyMaterial.bin -out EncryptedKeyMaterial.bin -inkey PublicKey.bin \
    -keyform DER -pubin -pkeyopt rsa_padding_mode:oaep -pkeyopt rsa_oaep_md:sha256 \
    -pkeyopt rsa_mgf1_md:sha256
$KMS import-key-material --key-id "$KEY_ID" --encrypted-key-material fileb://EncryptedKeyMaterial.bin \
    --import-token fileb://ImportToken.bin --expiration-model KEY_MATERIAL_DOES_NOT_EXPIRE > /dev/null
printf 'a message to authenticate' > message.bin
$KMS generate-mac --key-id "$KEY_ID" --message fileb://message.bin --mac-algorithm HMAC_SHA_256 \
    > generate.json
python3 -c "import json;print(json.load(open('generate.json'))['Mac'])" | base64 -d > mac.bin
openssl dgst -sha256 -mac HMAC -macopt hexkey:"$(xxd -p < KeyMaterial.bin | tr -d '\n')" message.bin \
    | sed 's/.*= //' > openssl-mac.txt
xxd -p < mac.bin | tr -d '\n' > mac.txt
$KMS verify-mac --key-id "$KEY_ID" --message fileb://message.bin --mac-algorithm HMAC_SHA_256 \
    --mac fileb://mac.bin > verify.json
set +e
printf 'a tampered message' > tampered.bin
$KMS verify-mac --key-id "$KEY_ID" --message fileb://tampered.bin --mac-algorithm HMAC_SHA_256 \
    --mac fileb://mac.bin 2> tampered.err
echo $? > tampered.status
$KMS generate-mac --key-id "$KEY_ID" --message fileb://message.bin --mac-algorithm HMAC_SHA_512 \
    2> algorithm.err
echo $? > algorithm.status
$KMS generate-mac --key-id "$KEY_ID" --message fileb://message.bin --mac-algorithm HMAC_SHA_256 \
    --dry-run 2> dry-run.err
echo $? > dry-run.status
$KMS encrypt --key-id "$KEY_ID" --plaintext fileb://message.bin 2> encrypt.err
echo $? > encrypt.status
$KMS rotate-key-on-demand --key-id "$KEY_ID" 2> rotate.err
echo $? > rotate.status
set -e
echo "$KEY_ID"
"#;

/// What every client must have produced in `dir` for key `key` (`arn`).
#[track_caller]
fn check(dir: &std::path::Path, arn: &str, who: &str, service_error_status: &str) {
    let describe: serde_json::Value = serde_json::from_str(&read(dir, "describe.json")).unwrap();
    let m = &describe["KeyMetadata"];
    assert_eq!(m["KeySpec"], "HMAC_256", "{who}");
    assert_eq!(m["KeyUsage"], "GENERATE_VERIFY_MAC", "{who}");
    assert_eq!(
        m["MacAlgorithms"],
        serde_json::json!(["HMAC_SHA_256"]),
        "{who}"
    );
    let generate = read(dir, "generate.json");
    assert_eq!(
        members_at(&generate, 1),
        ["Mac", "MacAlgorithm", "KeyId"],
        "{who}: {generate}"
    );
    let g: serde_json::Value = serde_json::from_str(&generate).unwrap();
    assert_eq!(g["MacAlgorithm"], "HMAC_SHA_256", "{who}");
    assert_eq!(g["KeyId"], arn, "{who}");
    // The MAC is OpenSSL's HMAC-SHA-256 of the message under the material.
    let ours = read(dir, "mac.txt");
    assert_eq!(ours.len(), 64, "{who}: 32 bytes of MAC");
    assert_eq!(ours, read(dir, "openssl-mac.txt").trim(), "{who}");
    let verify = read(dir, "verify.json");
    assert_eq!(
        members_at(&verify, 1),
        ["KeyId", "MacValid", "MacAlgorithm"],
        "{who}: {verify}"
    );
    let v: serde_json::Value = serde_json::from_str(&verify).unwrap();
    assert_eq!(
        v,
        serde_json::json!({"KeyId": arn, "MacValid": true, "MacAlgorithm": "HMAC_SHA_256"}),
        "{who}"
    );
    // Refusals: the AWS CLI's words and its exit status for the service's
    // errors (254 for AWS CLI v2, which byok follows; 255 for AWS CLI v1);
    // KMSInvalidMacException carries no message.
    let refusal = |name: &str| {
        (
            read(dir, &format!("{name}.status")),
            read(dir, &format!("{name}.err")),
        )
    };
    let (status, err) = refusal("tampered");
    assert_eq!(status.trim(), service_error_status, "{who}: {err}");
    assert!(
        err.contains(
            "An error occurred (KMSInvalidMacException) when calling the VerifyMac operation"
        ),
        "{who}: {err}"
    );
    let (status, err) = refusal("algorithm");
    assert_eq!(status.trim(), service_error_status, "{who}: {err}");
    assert!(
        err.contains("An error occurred (InvalidKeyUsageException) when calling the GenerateMac operation: Algorithm HMAC_SHA_512 is incompatible with key spec HMAC_256."),
        "{who}: {err}"
    );
    let (status, err) = refusal("dry-run");
    assert_eq!(status.trim(), service_error_status, "{who}: {err}");
    assert!(
        err.contains("An error occurred (DryRunOperationException) when calling the GenerateMac operation: The request would have succeeded, but the DryRun option is set."),
        "{who}: {err}"
    );
    let (status, err) = refusal("encrypt");
    assert_eq!(status.trim(), service_error_status, "{who}: {err}");
    assert!(
        err.contains(&format!("An error occurred (InvalidKeyUsageException) when calling the Encrypt operation: {arn} key usage is GENERATE_VERIFY_MAC which is not valid for Encrypt.")),
        "{who}: {err}"
    );
    let (status, err) = refusal("rotate");
    assert_eq!(status.trim(), service_error_status, "{who}: {err}");
    assert!(
        err.contains("An error occurred (UnsupportedOperationException) when calling the RotateKeyOnDemand operation: You cannot perform this operation on a non-symmetric key or a key with non-ENCRYPT_DECRYPT key usage."),
        "{who}: {err}"
    );
}

#[test]
fn generate_mac_and_verify_mac_on_a_local_store() {
    let s = Sandbox::new();
    let out = s.sh_ok(SCRIPT, &[("KMS", "byok kms")]);
    let key = out.line().to_string();
    assert!(is_key_id(&key), "{key}");
    let arn = format!("arn:aws:kms:us-east-1:000000000000:key/{key}");
    check(s.path(), &arn, "byok kms", "254");
}

/// `byok kms --endpoint-url` (the AWS backend, through aws-sdk-kms) and the
/// real AWS CLI, both against `byok serve`: the same answers as the local
/// store, since the endpoint runs the same dispatch.
#[test]
fn generate_mac_and_verify_mac_through_byok_serve_with_byok_and_the_aws_cli() {
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

/// A custodian without OpenSSL: `byok material generate --bytes N` writes
/// HMAC material of a length the spec takes, `byok material wrap` wraps it
/// (RSA_AES_KEY_WRAP_SHA_256 here) and the key makes OpenSSL's MAC with it;
/// a length no key spec takes is refused before anything is written.
#[test]
fn material_generate_and_wrap_make_hmac_material() {
    let s = Sandbox::new();
    let out = s.sh_ok(
        r#"KEY_ID=$(byok kms create-key --key-spec HMAC_512 --key-usage GENERATE_VERIFY_MAC \
    --origin EXTERNAL --query KeyMetadata.KeyId --output text)
byok material generate --bytes 100 --out KeyMaterial.bin > generate.json
byok kms get-parameters-for-import --key-id "$KEY_ID" --wrapping-algorithm RSA_AES_KEY_WRAP_SHA_256 \
    --wrapping-key-spec RSA_3072 --query '[PublicKey, ImportToken]' --output text > params.txt
cut -f1 params.txt | base64 -d > PublicKey.bin
cut -f2 params.txt | base64 -d > ImportToken.bin
byok material wrap --public-key PublicKey.bin --wrapping-algorithm RSA_AES_KEY_WRAP_SHA_256 \
    --in KeyMaterial.bin --out EncryptedKeyMaterial.bin > wrap.json
byok kms import-key-material --key-id "$KEY_ID" --encrypted-key-material fileb://EncryptedKeyMaterial.bin \
    --import-token fileb://ImportToken.bin --expiration-model KEY_MATERIAL_DOES_NOT_EXPIRE > /dev/null
printf 'custodian message' > message.bin
byok kms generate-mac --key-id "$KEY_ID" --message fileb://message.bin --mac-algorithm HMAC_SHA_512 \
    --query Mac --output text | base64 -d | xxd -p | tr -d '\n'
echo
openssl dgst -sha512 -mac HMAC -macopt hexkey:"$(xxd -p < KeyMaterial.bin | tr -d '\n')" message.bin \
    | sed 's/.*= //'"#,
        &[],
    );
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{}", out.stdout);
    assert_eq!(lines[0].len(), 128, "a 64-byte MAC");
    assert_eq!(lines[0], lines[1], "GenerateMac equals openssl dgst");
    assert_eq!(s.read("KeyMaterial.bin").len(), 100);
    let generate: serde_json::Value = serde_json::from_slice(&s.read("generate.json")).unwrap();
    assert_eq!(generate["Bytes"], 100);
    let wrap: serde_json::Value = serde_json::from_slice(&s.read("wrap.json")).unwrap();
    // RSA_3072 modulus, then RFC 5649 of 100 bytes (padded to 104, plus 8).
    assert_eq!(wrap["Bytes"], 384 + 112);

    let r = s.byok(&[
        "material",
        "generate",
        "--bytes",
        "16",
        "--out",
        "short.bin",
    ]);
    assert_eq!(r.status, 252, "{}", r.stderr);
    assert!(
        r.stderr.contains("--bytes 16: key material is 32 bytes for a symmetric encryption key, or 28 to 128 bytes for an HMAC key"),
        "{}",
        r.stderr
    );
    assert!(!s.file("short.bin").exists());
}
