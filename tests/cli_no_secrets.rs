//! After the walkthrough, no secret is anywhere it was not asked for: the
//! store file, its `.bak`, the audit journal segments, a backup, the audit
//! export and everything the CLI printed are searched for the key material
//! and every data key, raw and as hex or base64. Only the `Plaintext` of
//! generate-data-key and decrypt (which the user asked for) may hold a data key.

mod cli_common;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use cli_common::*;

/// The forms a secret could leak in: raw, hex (both cases), and base64 at
/// each of the three alignments it could have inside a longer blob.
fn encodings(secret: &[u8]) -> Vec<(String, Vec<u8>)> {
    let hex: String = secret.iter().map(|b| format!("{b:02x}")).collect();
    let mut out = vec![
        ("raw".to_string(), secret.to_vec()),
        ("hex".to_string(), hex.clone().into_bytes()),
        ("HEX".to_string(), hex.to_uppercase().into_bytes()),
    ];
    for offset in 0..3usize {
        let mut padded = vec![0u8; offset];
        padded.extend_from_slice(secret);
        let b64 = STANDARD.encode(&padded);
        // Skip the characters that also encode the padding bytes, and the
        // last group, which depends on whatever follows.
        let skip = offset.div_ceil(3) * 4;
        let core = &b64[skip..b64.len() - 4];
        out.push((format!("base64+{offset}"), core.as_bytes().to_vec()));
    }
    out
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    needle.len() <= haystack.len() && haystack.windows(needle.len()).any(|w| w == needle)
}

fn walkthrough(s: &Sandbox) -> String {
    let key = s
        .sh_ok(
            r#"byok kms create-key --origin EXTERNAL --description "imported key" --query KeyMetadata.KeyId --output text"#,
            &[],
        )
        .line()
        .to_string();
    s.ok(&["store", "settings", "--rotation-delay-ms", "0"]);
    for n in 1..=2 {
        s.sh_ok(
            &format!(
                r#"openssl rand -out KeyMaterial{n}.bin 32
byok kms get-parameters-for-import --key-id "$KEY_ID" \
    --wrapping-algorithm RSAES_OAEP_SHA_256 --wrapping-key-spec RSA_2048 \
    --query '[PublicKey, ImportToken]' --output text > params{n}.txt
cut -f1 params{n}.txt | base64 -d > PublicKey{n}.bin
cut -f2 params{n}.txt | base64 -d > ImportToken{n}.bin
openssl pkeyutl -encrypt -in KeyMaterial{n}.bin -out EncryptedKeyMaterial{n}.bin \
    -inkey PublicKey{n}.bin -keyform DER -pubin -pkeyopt rsa_padding_mode:oaep \
    -pkeyopt rsa_oaep_md:sha256 -pkeyopt rsa_mgf1_md:sha256
byok kms import-key-material --key-id "$KEY_ID" \
    --encrypted-key-material fileb://EncryptedKeyMaterial{n}.bin \
    --import-token fileb://ImportToken{n}.bin \
    --expiration-model KEY_MATERIAL_DOES_NOT_EXPIRE --import-type NEW_KEY_MATERIAL \
    --key-material-description "KeyMaterial{n} kept in HSM vault A" > import{n}.json
byok kms list-key-rotations --key-id "$KEY_ID" --include-key-material ALL_KEY_MATERIAL
byok kms generate-data-key --key-id "$KEY_ID" --key-spec AES_256 > datakey{n}.json
python3 -c "import json,base64;print(json.load(open('datakey{n}.json'))['CiphertextBlob'])" | base64 -d > ciphertext{n}.bin
byok kms decrypt --ciphertext-blob fileb://ciphertext{n}.bin > decrypt{n}.json
byok kms generate-data-key-without-plaintext --key-id "$KEY_ID" --number-of-bytes 48
byok kms encrypt --key-id "$KEY_ID" --plaintext fileb://KeyMaterial{n}.bin --query KeyId
byok kms rotate-key-on-demand --key-id "$KEY_ID" || true
byok kms get-key-rotation-status --key-id "$KEY_ID""#
            ),
            &[("KEY_ID", &key)],
        );
    }
    s.sh_ok(
        r#"M1=$(python3 -c "import json;print(json.load(open('import1.json'))['KeyMaterialId'])")
byok kms describe-key --key-id "$KEY_ID"
byok kms delete-imported-key-material --key-id "$KEY_ID" --key-material-id "$M1"
byok kms decrypt --ciphertext-blob fileb://ciphertext2.bin || true
byok kms import-key-material --key-id "$KEY_ID" \
    --encrypted-key-material fileb://EncryptedKeyMaterial1.bin \
    --import-token fileb://ImportToken1.bin \
    --expiration-model KEY_MATERIAL_DOES_NOT_EXPIRE --import-type EXISTING_KEY_MATERIAL
byok kms decrypt --ciphertext-blob fileb://ciphertext1.bin --output text > decrypt1.txt
byok material check --in KeyMaterial1.bin --key-id "$KEY_ID"
byok kms describe-key --key-id "$KEY_ID" --output table
byok store info
byok store backup --out backup.byok
byok audit export --out trail.json
byok audit verify trail.json"#,
        &[("KEY_ID", &key)],
    );
    key
}

#[test]
fn no_secret_leaves_where_it_was_not_asked_for() {
    let s = Sandbox::new();
    let key = walkthrough(&s);

    // The secrets: both materials, and every data key the CLI returned.
    let mut secrets: Vec<(String, Vec<u8>)> = vec![
        ("KeyMaterial1".into(), s.read("KeyMaterial1.bin")),
        ("KeyMaterial2".into(), s.read("KeyMaterial2.bin")),
    ];
    for n in 1..=2 {
        let dk: serde_json::Value =
            serde_json::from_slice(&s.read(&format!("datakey{n}.json"))).unwrap();
        let plain = STANDARD.decode(dk["Plaintext"].as_str().unwrap()).unwrap();
        assert_eq!(plain.len(), 32);
        let d: serde_json::Value =
            serde_json::from_slice(&s.read(&format!("decrypt{n}.json"))).unwrap();
        assert_eq!(
            d["Plaintext"], dk["Plaintext"],
            "decrypt gave the data key back"
        );
        secrets.push((format!("data key {n}"), plain));
    }

    // Where to look: the store's files, and every output of the CLI, with
    // the asked-for Plaintext members taken out.
    let mut places: Vec<(String, Vec<u8>)> = Vec::new();
    for name in ["store.byok", "store.byok.bak", "backup.byok", "trail.json"] {
        places.push((name.into(), s.read(name)));
    }
    let journal: Vec<_> = std::fs::read_dir(s.file("store.byok.audit"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert!(!journal.is_empty());
    for p in journal {
        places.push((p.display().to_string(), std::fs::read(&p).unwrap()));
    }
    for (what, bytes) in s.transcript.borrow().iter() {
        places.push((what.clone(), bytes.clone()));
    }
    for name in [
        "datakey1.json",
        "datakey2.json",
        "decrypt1.json",
        "decrypt2.json",
    ] {
        let mut v: serde_json::Value = serde_json::from_slice(&s.read(name)).unwrap();
        v.as_object_mut().unwrap().remove("Plaintext");
        places.push((
            format!("{name} without Plaintext"),
            serde_json::to_vec(&v).unwrap(),
        ));
    }
    // `decrypt --output text` printed the asked-for Plaintext as its last
    // field (members sorted by name): everything else on the line is checked.
    let text = String::from_utf8(s.read("decrypt1.txt")).unwrap();
    let (rest, plaintext) = text.trim_end().rsplit_once('\t').unwrap();
    let dk1: serde_json::Value = serde_json::from_slice(&s.read("datakey1.json")).unwrap();
    assert_eq!(plaintext, dk1["Plaintext"].as_str().unwrap());
    places.push((
        "decrypt1.txt without Plaintext".into(),
        rest.as_bytes().to_vec(),
    ));

    // The search finds what is there: each form of a data key inside a
    // longer text, whatever its alignment.
    for (name, secret) in &secrets {
        for prefix in [&b""[..], b"x", b"xy"] {
            let mut blob = prefix.to_vec();
            blob.extend_from_slice(secret);
            blob.extend_from_slice(b"tail");
            let hex: String = blob.iter().map(|b| format!("{b:02x}")).collect();
            for (form, needle) in encodings(secret) {
                let haystack: Vec<u8> = match form.as_str() {
                    "raw" => blob.clone(),
                    "hex" => hex.clone().into_bytes(),
                    "HEX" => hex.to_uppercase().into_bytes(),
                    _ => STANDARD.encode(&blob).into_bytes(),
                };
                let offset: usize = form
                    .strip_prefix("base64+")
                    .map_or(0, |o| o.parse().unwrap());
                if !form.starts_with("base64") || offset == prefix.len() {
                    assert!(
                        contains(&haystack, &needle),
                        "the {form} search misses {name}"
                    );
                }
            }
        }
    }

    let mut checked = 0;
    for (place, bytes) in &places {
        for (name, secret) in &secrets {
            for (form, needle) in encodings(secret) {
                assert!(
                    !contains(bytes, &needle),
                    "{name} ({form}) found in {place}"
                );
                checked += 1;
            }
        }
    }
    assert!(checked > 100, "only {checked} checks");
    // The walkthrough did what it should (so the search covered real output).
    let status = s.ok(&[
        "kms",
        "describe-key",
        "--key-id",
        &key,
        "--query",
        "KeyMetadata.KeyState",
        "--output",
        "text",
    ]);
    assert_eq!(status.stdout, "Enabled\n");
}

/// A running `byok serve` (it holds the passphrase, the endpoint's secret
/// key and the key material) cannot be dumped or read by another process of
/// its user: its core-file limit is zero even when it was started with core
/// dumps allowed, and it is not dumpable, so the kernel gives its
/// `/proc/<pid>/` files to root and refuses a process of the same user its
/// memory and environment (where `BYOK_PASSPHRASE` sits).
///
/// Root may read any process's memory (`CAP_SYS_PTRACE`), so when the test
/// runs as root the endpoint and the reader run as `nobody`.
#[cfg(target_os = "linux")]
#[test]
fn a_running_endpoint_leaves_no_core_and_cannot_be_read_by_its_user() {
    use std::io::{BufRead, BufReader};
    use std::os::unix::fs::MetadataExt;
    use std::os::unix::process::CommandExt;
    use std::process::{Command, Stdio};

    const NOBODY: u32 = 65534;
    let me = std::fs::metadata("/proc/self").expect("/proc/self").uid();
    let user = if me == 0 { NOBODY } else { me };
    let dir = tempfile::tempdir().expect("temp dir");
    if me == 0 {
        std::os::unix::fs::chown(dir.path(), Some(NOBODY), Some(NOBODY)).expect("chown");
    }
    let store = dir.path().join("store.byok");
    let as_user = |c: &mut Command| {
        if me == 0 {
            c.uid(NOBODY).gid(NOBODY);
        }
    };
    // Core dumps allowed as far as the hard limit lets the shell raise them.
    let mut command = Command::new("sh");
    command
        .arg("-c")
        .arg(r#"ulimit -c "$(ulimit -H -c)"; exec "$0" serve --port 0 --store "$1""#)
        .arg(bin())
        .arg(&store)
        .env("HOME", dir.path())
        .env("BYOK_PASSPHRASE", PASSPHRASE)
        .env("BYOK_INSECURE_FAST_KDF", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    as_user(&mut command);
    let mut child = command.spawn().expect("spawn byok serve");
    struct Kill(std::process::Child);
    impl Drop for Kill {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let stdout = child.stdout.take().expect("stdout");
    let child = Kill(child);
    let pid = child.0.id();
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).expect("read");
    assert!(
        line.contains("listening on"),
        "byok serve did not start: {line:?}"
    );

    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).expect("limits");
    let core = limits
        .lines()
        .find(|l| l.starts_with("Max core file size"))
        .expect("core line");
    let values: Vec<&str> = core["Max core file size".len()..]
        .split_whitespace()
        .collect();
    assert_eq!(&values[..2], ["0", "0"], "{core}");

    let owner = std::fs::metadata(format!("/proc/{pid}/status"))
        .expect("status")
        .uid();
    assert_eq!(
        owner, 0,
        "/proc/{pid} belongs to {owner}: the process is dumpable"
    );

    // A process of the same user cannot read its environment.
    let mut reader = Command::new("cat");
    reader
        .arg(format!("/proc/{pid}/environ"))
        .stdin(Stdio::null());
    as_user(&mut reader);
    let read = reader.output().expect("run cat");
    assert!(
        !read.status.success(),
        "uid {user} read /proc/{pid}/environ: {:?}",
        String::from_utf8_lossy(&read.stdout)
    );
    assert!(
        !contains(&read.stdout, PASSPHRASE.as_bytes()),
        "the passphrase was read"
    );
    drop(child);
}
