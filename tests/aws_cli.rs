//! `byok kms --endpoint-url / --profile / --region` reaches the AWS backend:
//! the walkthrough with the CLI binary against `byok serve` on loopback
//! (credentials from the environment, the AWS config files pointed at
//! empty temp files so the user's own setup never leaks in), one run with
//! `--profile` from a temp credentials file, and the failure kinds with the
//! AWS CLI's words and exit statuses ("Command line return codes in the AWS
//! CLI", AWS CLI User Guide,
//! <https://docs.aws.amazon.com/cli/latest/userguide/cli-usage-returncodes.html>:
//! 253 configuration or credentials, 254 the service's error, 255 the
//! request failed, e.g. no connection; messages as botocore/exceptions.py
//! words them: EndpointConnectionError, UnauthorizedSSOTokenError).

#[path = "aws_support/mod.rs"]
mod support;

use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use byok::aws::{AwsBackend, AwsConnection};
use byok::backend::{Backend, BackendError};
use support::*;

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_byok")
}

/// A child environment with nothing of the user's AWS setup: HOME and the
/// AWS config files in `dir`, no instance metadata, no AWS variables.
fn clean(c: &mut Command, dir: &Path) {
    for (k, _) in std::env::vars() {
        if k.starts_with("AWS_") || k.starts_with("BYOK_") {
            c.env_remove(k);
        }
    }
    c.env("HOME", dir)
        .env("AWS_CONFIG_FILE", dir.join("config"))
        .env("AWS_SHARED_CREDENTIALS_FILE", dir.join("credentials"))
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("BYOK_STORE", dir.join("must-not-exist.byok"))
        .env("BYOK_PASSPHRASE", "unused")
        .current_dir(dir)
        .stdin(std::process::Stdio::null());
}

struct Run {
    status: i32,
    stdout: String,
    stderr: String,
}

fn run(mut c: Command) -> Run {
    let out: Output = c.output().expect("run");
    Run {
        status: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn files(dir: &Path, config: &str, credentials: &str) {
    std::fs::write(dir.join("config"), config).unwrap();
    std::fs::write(dir.join("credentials"), credentials).unwrap();
}

#[test]
fn the_walkthrough_with_the_cli_and_endpoint_url() {
    let served = Served::start(1500);
    let dir = tempfile::tempdir().unwrap();
    files(dir.path(), "", "");
    let script = r#"
set -euo pipefail
kms() { byok kms --endpoint-url "$EP" --region us-east-1 "$@"; }
# Step 1 (the flags after the verb, as the AWS CLI accepts them too)
KEY_ID=$(byok kms create-key --origin EXTERNAL --description "imported key" \
    --endpoint-url "$EP" --region us-east-1 --query KeyMetadata.KeyId --output text)
test "$(kms describe-key --key-id "$KEY_ID" --query KeyMetadata.KeyState --output text)" = PendingImport
byok material generate --out KeyMaterial1.bin >/dev/null
kms get-parameters-for-import --key-id "$KEY_ID" --wrapping-algorithm RSAES_OAEP_SHA_256 \
    --wrapping-key-spec RSA_4096 --query '[PublicKey, ImportToken]' --output text > params1.txt
cut -f1 params1.txt | base64 -d > PublicKey1.bin
cut -f2 params1.txt | base64 -d > ImportToken1.bin
byok material wrap --public-key PublicKey1.bin --wrapping-algorithm RSAES_OAEP_SHA_256 \
    --in KeyMaterial1.bin --out EncryptedKeyMaterial1.bin >/dev/null
M1=$(kms import-key-material --key-id "$KEY_ID" --encrypted-key-material fileb://EncryptedKeyMaterial1.bin \
    --import-token fileb://ImportToken1.bin --expiration-model KEY_MATERIAL_DOES_NOT_EXPIRE \
    --key-material-description "KeyMaterial1 kept in HSM vault A" --query KeyMaterialId --output text)
test "$(kms describe-key --key-id "$KEY_ID" --query KeyMetadata.CurrentKeyMaterialId --output text)" = "$M1"
# Step 2
kms generate-data-key --key-id "$KEY_ID" --key-spec AES_256 > datakey1.json
python3 -c "import json;print(json.load(open('datakey1.json'))['CiphertextBlob'])" | base64 -d > ciphertext1.bin
test "$(kms decrypt --ciphertext-blob fileb://ciphertext1.bin --query KeyMaterialId --output text)" = "$M1"
# Step 3
byok material generate --out KeyMaterial2.bin >/dev/null
kms get-parameters-for-import --key-id "$KEY_ID" --wrapping-algorithm RSAES_OAEP_SHA_256 \
    --wrapping-key-spec RSA_4096 --query '[PublicKey, ImportToken]' --output text > params2.txt
cut -f1 params2.txt | base64 -d > PublicKey2.bin
cut -f2 params2.txt | base64 -d > ImportToken2.bin
byok material wrap --public-key PublicKey2.bin --wrapping-algorithm RSAES_OAEP_SHA_256 \
    --in KeyMaterial2.bin --out EncryptedKeyMaterial2.bin >/dev/null
M2=$(kms import-key-material --key-id "$KEY_ID" --encrypted-key-material fileb://EncryptedKeyMaterial2.bin \
    --import-token fileb://ImportToken2.bin --expiration-model KEY_MATERIAL_DOES_NOT_EXPIRE \
    --import-type NEW_KEY_MATERIAL --query KeyMaterialId --output text)
test "$(kms list-key-rotations --key-id "$KEY_ID" --include-key-material ALL_KEY_MATERIAL \
    --query 'Rotations[1].KeyMaterialState' --output text)" = PENDING_ROTATION
# Step 4
kms rotate-key-on-demand --key-id "$KEY_ID" >/dev/null
kms get-key-rotation-status --key-id "$KEY_ID" --query OnDemandRotationStartDate --output text > pending.txt
for _ in $(seq 100); do
    s=$(kms get-key-rotation-status --key-id "$KEY_ID" --query OnDemandRotationStartDate --output text)
    [ "$s" = None ] && break
    sleep 0.2
done
test "$s" = None
test "$(kms describe-key --key-id "$KEY_ID" --query KeyMetadata.CurrentKeyMaterialId --output text)" = "$M2"
# Step 5
kms generate-data-key --key-id "$KEY_ID" --key-spec AES_256 > datakey2.json
python3 -c "import json;print(json.load(open('datakey2.json'))['CiphertextBlob'])" | base64 -d > ciphertext2.bin
test "$(kms decrypt --ciphertext-blob fileb://ciphertext1.bin --query KeyMaterialId --output text)" = "$M1"
# Step 6
kms delete-imported-key-material --key-id "$KEY_ID" --key-material-id "$M1" >/dev/null
test "$(kms describe-key --key-id "$KEY_ID" --query KeyMetadata.KeyState --output text)" = PendingImport
set +e
kms decrypt --ciphertext-blob fileb://ciphertext2.bin 2> decrypt2.err
echo $? > decrypt2.status
set -e
# Step 7
kms import-key-material --key-id "$KEY_ID" --encrypted-key-material fileb://EncryptedKeyMaterial1.bin \
    --import-token fileb://ImportToken1.bin --expiration-model KEY_MATERIAL_DOES_NOT_EXPIRE \
    --import-type EXISTING_KEY_MATERIAL >/dev/null
test "$(kms describe-key --key-id "$KEY_ID" --query KeyMetadata.KeyState --output text)" = Enabled
test "$(kms decrypt --ciphertext-blob fileb://ciphertext2.bin --query KeyMaterialId --output text)" = "$M2"
echo "$KEY_ID $M1 $M2"
"#;
    let mut c = Command::new("bash");
    clean(&mut c, dir.path());
    let bin_dir = dir.path().join("bin");
    std::fs::create_dir(&bin_dir).unwrap();
    std::os::unix::fs::symlink(bin(), bin_dir.join("byok")).unwrap();
    c.arg("-c")
        .arg(script)
        .env(
            "PATH",
            format!(
                "{}:{}",
                bin_dir.display(),
                std::env::var("PATH").unwrap_or_default()
            ),
        )
        .env("EP", served.url())
        .env("AWS_ACCESS_KEY_ID", &served.access_key_id)
        .env("AWS_SECRET_ACCESS_KEY", &served.secret);
    let r = run(c);
    assert_eq!(r.status, 0, "stdout:\n{}\nstderr:\n{}", r.stdout, r.stderr);
    let out: Vec<&str> = r.stdout.split_whitespace().collect();
    let key = out[0];
    let m1 = std::fs::read(dir.path().join("KeyMaterial1.bin")).unwrap();
    assert_eq!(out[1], material_id(key, &m1.try_into().unwrap()));
    // The pending rotation was seen.
    let pending = std::fs::read_to_string(dir.path().join("pending.txt")).unwrap();
    assert!(
        pending.trim().starts_with("20"),
        "OnDemandRotationStartDate: {pending}"
    );
    // Step 6's refusal, exactly as the AWS CLI prints it, with status 254.
    assert_eq!(
        std::fs::read_to_string(dir.path().join("decrypt2.status"))
            .unwrap()
            .trim(),
        "254"
    );
    assert_eq!(
        std::fs::read_to_string(dir.path().join("decrypt2.err"))
            .unwrap()
            .trim(),
        format!(
            "An error occurred (KMSInvalidStateException) when calling the Decrypt operation: {} is pending import.",
            served.arn(key)
        )
    );
    assert!(
        !dir.path().join("must-not-exist.byok").exists(),
        "no local store was touched"
    );
    // The endpoint's audit trail holds the CLI's calls, signed with the
    // environment's access key.
    let records = served.vault.lock().unwrap().audit_records().unwrap();
    assert!(records.iter().any(|r| r.event_name == "ImportKeyMaterial"));
}

#[test]
fn a_named_profile_from_a_temp_credentials_file() {
    let served = Served::start(0);
    let dir = tempfile::tempdir().unwrap();
    files(
        dir.path(),
        "[profile officer]\nregion = us-east-1\n",
        &format!(
            "[officer]\naws_access_key_id = {}\naws_secret_access_key = {}\n",
            served.access_key_id, served.secret
        ),
    );
    let mut c = Command::new(bin());
    clean(&mut c, dir.path());
    // No --region: the profile's.
    c.args([
        "kms",
        "--profile",
        "officer",
        "--endpoint-url",
        &served.url(),
    ])
    .args([
        "create-key",
        "--origin",
        "EXTERNAL",
        "--description",
        "from a profile",
    ]);
    let r = run(c);
    assert_eq!(r.status, 0, "{}", r.stderr);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(v["KeyMetadata"]["KeyState"], "PendingImport");
    assert_eq!(v["KeyMetadata"]["Description"], "from a profile");

    // A profile that does not exist: no credentials (253), nothing sent.
    let before = served.requests_served();
    let mut c = Command::new(bin());
    clean(&mut c, dir.path());
    c.args(["kms", "--profile", "nobody", "--region", "us-east-1"])
        .args(["--endpoint-url", &served.url(), "list-keys"]);
    let r = run(c);
    assert_eq!(r.status, 253, "{}", r.stderr);
    assert_eq!(served.requests_served(), before);
    assert!(!r.stderr.contains(&served.secret));
}

#[test]
fn connection_refused_names_the_endpoint() {
    // A port nothing listens on.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let url = format!("http://127.0.0.1:{port}");

    let b = AwsBackend::connect(
        &AwsConnection {
            profile: None,
            regions: vec!["us-east-1".into()],
            endpoint_url: Some(url.clone()),
        },
        Served::start(0).options(),
    )
    .unwrap();
    let started = Instant::now();
    match b.call("ListKeys", b"{}") {
        Err(BackendError::Unreachable { endpoint, detail }) => {
            assert_eq!(endpoint, url);
            assert!(detail.to_lowercase().contains("refused"), "{detail}");
        }
        other => panic!("expected Unreachable, got {other:?}"),
    }
    assert!(started.elapsed() < Duration::from_secs(10));

    let dir = tempfile::tempdir().unwrap();
    files(dir.path(), "", "");
    let mut c = Command::new(bin());
    clean(&mut c, dir.path());
    c.env("AWS_ACCESS_KEY_ID", "AKIAIOSFODNN7EXAMPLE")
        .env(
            "AWS_SECRET_ACCESS_KEY",
            "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        )
        .args([
            "kms",
            "list-keys",
            "--endpoint-url",
            &url,
            "--region",
            "us-east-1",
        ]);
    let started = Instant::now();
    let r = run(c);
    assert_eq!(r.status, 255, "{}", r.stderr);
    assert_eq!(
        r.stderr.trim(),
        format!("Could not connect to the endpoint URL: \"{url}\"")
    );
    assert!(started.elapsed() < Duration::from_secs(30));
}

/// SHA-1 (hex) of the session name: the SSO token cache's file name, as
/// the AWS CLI and SDKs name it (`~/.aws/sso/cache/<sha1>.json`).
fn sha1_hex(s: &str) -> String {
    use sha1::Digest;
    sha1::Sha1::digest(s.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[test]
fn an_expired_sso_session_asks_for_sso_login() {
    let dir = tempfile::tempdir().unwrap();
    files(
        dir.path(),
        "[profile sso-officer]\nsso_session = corp\nsso_account_id = 111122223333\n\
         sso_role_name = KeyOfficer\nregion = us-east-1\n\n\
         [sso-session corp]\nsso_start_url = https://corp.awsapps.com/start\n\
         sso_region = us-east-1\nsso_registration_scopes = sso:account:access\n",
        "",
    );
    let cache = dir.path().join(".aws/sso/cache");
    std::fs::create_dir_all(&cache).unwrap();
    let token = "expired-sso-access-token-0123456789";
    std::fs::write(
        cache.join(format!("{}.json", sha1_hex("corp"))),
        format!(
            r#"{{"accessToken":"{token}","expiresAt":"2020-01-01T00:00:00Z","region":"us-east-1","startUrl":"https://corp.awsapps.com/start"}}"#
        ),
    )
    .unwrap();
    // An endpoint that listens but must never be called.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let mut c = Command::new(bin());
    clean(&mut c, dir.path());
    c.args([
        "kms",
        "--profile",
        "sso-officer",
        "--endpoint-url",
        &url,
        "list-keys",
    ]);
    let r = run(c);
    assert_eq!(r.status, 253, "stdout {} stderr {}", r.stdout, r.stderr);
    assert!(
        r.stderr.contains(
            "The SSO session associated with this profile has expired or is otherwise invalid."
        ),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr
            .contains("Run: aws sso login --profile sso-officer"),
        "{}",
        r.stderr
    );
    assert!(!r.stderr.contains(token), "the token never shows");
    assert!(listener.accept().is_err(), "nothing was sent");

    // No cached token at all: the same remedy.
    std::fs::remove_dir_all(&cache).unwrap();
    let mut c = Command::new(bin());
    clean(&mut c, dir.path());
    c.args([
        "kms",
        "--profile",
        "sso-officer",
        "--endpoint-url",
        &url,
        "list-keys",
    ]);
    let r = run(c);
    assert_eq!(r.status, 253, "{}", r.stderr);
    assert!(
        r.stderr.contains("aws sso login --profile sso-officer"),
        "{}",
        r.stderr
    );
}
