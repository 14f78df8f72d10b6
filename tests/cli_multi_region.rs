//! Multi-Region keys from the command line with the AWS CLI's verbs and
//! flags: `create-key --multi-region`, `replicate-key --replica-region`,
//! `update-primary-region --primary-region`, each call in the region of
//! `--region`. `byok kms` on a local store (one store holds every region's
//! keys), and `byok kms --endpoint-url` and the real AWS CLI (`aws kms`)
//! against `byok serve` (the region is the SigV4 credential scope). The
//! material is wrapped with the AWS KMS Developer Guide's OpenSSL command
//! for RSAES_OAEP_SHA_256 ("Step 3: Encrypt the key material",
//! <https://docs.aws.amazon.com/kms/latest/developerguide/importing-keys-encrypt-key-material.html>),
//! and the same material is imported into the replica ("You must import the
//! same key material into related primary and replica keys", Developer
//! Guide, "Importing key material into multi-Region keys").

mod cli_common;
#[path = "cli_common/served.rs"]
mod served;
#[path = "aws_support/mod.rs"]
mod support;

use cli_common::*;
use served::*;
use support::Served;

/// `$KMS` calls in the primary region (us-east-1), `$KMS_B` in eu-west-1.
const SCRIPT: &str = r#"
import() {
    $1 get-parameters-for-import --key-id "$KEY_ID" --wrapping-algorithm RSAES_OAEP_SHA_256 \
        --wrapping-key-spec RSA_2048 --query '[PublicKey, ImportToken]' --output text > params.txt
    cut -f1 params.txt | base64 -d > PublicKey.bin
    cut -f2 params.txt | base64 -d > ImportToken.bin
    openssl pkeyutl -encrypt -in "$2" -out EncryptedKeyMaterial.bin -inkey PublicKey.bin \
        -keyform DER -pubin -pkeyopt rsa_padding_mode:oaep -pkeyopt rsa_oaep_md:sha256 \
        -pkeyopt rsa_mgf1_md:sha256
    $1 import-key-material --key-id "$KEY_ID" --encrypted-key-material fileb://EncryptedKeyMaterial.bin \
        --import-token fileb://ImportToken.bin --expiration-model KEY_MATERIAL_DOES_NOT_EXPIRE
}
openssl rand -out PlaintextKeyMaterial.bin 32
openssl rand -out OtherKeyMaterial.bin 32
KEY_ID=$($KMS create-key --origin EXTERNAL --multi-region --query KeyMetadata.KeyId --output text)
import "$KMS" PlaintextKeyMaterial.bin > /dev/null
$KMS replicate-key --key-id "$KEY_ID" --replica-region eu-west-1 --description "replica" \
    --tags TagKey=site,TagValue=dublin > replicate.json
printf 'made in us-east-1' > plain.txt
$KMS encrypt --key-id "$KEY_ID" --plaintext fileb://plain.txt --query CiphertextBlob --output text \
    | base64 -d > blob.bin
set +e
import "$KMS_B" OtherKeyMaterial.bin > /dev/null 2> other.err
echo $? > other.status
set -e
import "$KMS_B" PlaintextKeyMaterial.bin > /dev/null
$KMS_B decrypt --ciphertext-blob fileb://blob.bin --query Plaintext --output text | base64 -d > decrypted.txt
$KMS_B describe-key --key-id "$KEY_ID" > replica.json
$KMS update-primary-region --key-id "$KEY_ID" --primary-region eu-west-1
$KMS describe-key --key-id "$KEY_ID" \
    --query KeyMetadata.MultiRegionConfiguration.MultiRegionKeyType --output text > type-a.txt
$KMS_B describe-key --key-id "$KEY_ID" \
    --query KeyMetadata.MultiRegionConfiguration.MultiRegionKeyType --output text > type-b.txt
echo "$KEY_ID"
"#;

fn check(dir: &std::path::Path, key: &str, who: &str, service_error_status: &str) {
    assert!(
        key.starts_with("mrk-") && key.len() == 36,
        "{who}: key id {key}"
    );
    let replica_arn = format!("arn:aws:kms:eu-west-1:000000000000:key/{key}");
    let primary_arn = format!("arn:aws:kms:us-east-1:000000000000:key/{key}");
    let replicated: serde_json::Value = serde_json::from_str(&read(dir, "replicate.json")).unwrap();
    assert_eq!(
        replicated["ReplicaKeyMetadata"]["Arn"],
        serde_json::json!(replica_arn),
        "{who}"
    );
    assert_eq!(
        replicated["ReplicaKeyMetadata"]["KeyState"],
        serde_json::json!("PendingImport"),
        "{who}"
    );
    assert_eq!(
        replicated["ReplicaTags"],
        serde_json::json!([{"TagKey": "site", "TagValue": "dublin"}]),
        "{who}"
    );
    // Different material: AWS's IncorrectKeyMaterialException; the message
    // is byok's [byok].
    assert_eq!(
        read(dir, "other.status").trim(),
        service_error_status,
        "{who}"
    );
    let err = read(dir, "other.err");
    assert!(
        err.contains(&format!(
            "An error occurred (IncorrectKeyMaterialException) when calling the ImportKeyMaterial operation: The key material in the request is not associated with KMS key {replica_arn}. To import new key material, set ImportType to NEW_KEY_MATERIAL."
        )),
        "{who}: {err}"
    );
    assert_eq!(read(dir, "decrypted.txt"), "made in us-east-1", "{who}");
    let replica: serde_json::Value = serde_json::from_str(&read(dir, "replica.json")).unwrap();
    let meta = &replica["KeyMetadata"];
    assert_eq!(meta["KeyState"], serde_json::json!("Enabled"), "{who}");
    assert_eq!(meta["MultiRegion"], serde_json::json!(true), "{who}");
    assert_eq!(
        meta["MultiRegionConfiguration"],
        serde_json::json!({
            "MultiRegionKeyType": "REPLICA",
            "PrimaryKey": {"Arn": primary_arn, "Region": "us-east-1"},
            "ReplicaKeys": [{"Arn": replica_arn, "Region": "eu-west-1"}],
        }),
        "{who}"
    );
    assert_eq!(read(dir, "type-a.txt").trim(), "REPLICA", "{who}");
    assert_eq!(read(dir, "type-b.txt").trim(), "PRIMARY", "{who}");
}

#[test]
fn replicate_key_on_a_local_store() {
    let s = Sandbox::new();
    let out = s.sh_ok(
        SCRIPT,
        &[
            ("KMS", "byok kms"),
            ("KMS_B", "byok kms --region eu-west-1"),
        ],
    );
    check(s.path(), out.line(), "byok kms", "254");
    // The store keeps both regions: they are there after it is reopened.
    let key = out.line();
    let listed = s.ok(&["kms", "list-keys", "--region", "eu-west-1"]).json();
    assert_eq!(listed["Keys"][0]["KeyId"], serde_json::json!(key));
    let info = s.ok(&["store", "info"]).json();
    assert_eq!(info["FormatVersion"], serde_json::json!(5));
}

/// `byok kms --endpoint-url` and the real AWS CLI against `byok serve`.
#[test]
fn replicate_key_through_byok_serve_with_byok_and_the_aws_cli() {
    let served = Served::start(0);
    assert_eq!(served.region, "us-east-1");
    for kms in ["byok kms", "aws kms"] {
        let dir = tempfile::tempdir().unwrap();
        let mut shell = served_shell(&served, dir.path(), kms, SCRIPT);
        shell.env(
            "KMS_B",
            format!("{kms} --endpoint-url {} --region eu-west-1", served.url()),
        );
        let out = shell.output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{kms}: {}\n{stdout}",
            String::from_utf8_lossy(&out.stderr)
        );
        check(dir.path(), stdout.trim(), kms, service_error_status(kms));
    }
}
