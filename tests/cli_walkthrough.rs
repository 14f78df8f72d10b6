//! The announcement's walkthrough (WALKTHROUGH.md, steps 1–7) typed as a
//! shell user types it: each command its own process through bash, `aws kms`
//! replaced by `byok kms`, material wrapped with the real `openssl`, ids
//! captured with `--query ... --output text`. Every state, id and error on
//! the way is checked.

mod cli_common;

use std::time::{Duration, Instant};

use cli_common::*;
use serde_json::Value;

/// The entries of `list-key-rotations --include-key-material ALL_KEY_MATERIAL`.
fn rotations(s: &Sandbox, key: &str) -> Vec<Value> {
    let r = s.sh_ok(
        r#"byok kms list-key-rotations --key-id "$KEY_ID" --include-key-material ALL_KEY_MATERIAL"#,
        &[("KEY_ID", key)],
    );
    r.json()["Rotations"].as_array().expect("Rotations").clone()
}

fn describe(s: &Sandbox, key: &str) -> Value {
    s.sh_ok(
        r#"byok kms describe-key --key-id "$KEY_ID""#,
        &[("KEY_ID", key)],
    )
    .json()["KeyMetadata"]
        .clone()
}

/// Step 2/5: generate a data key into `json_file`, cut its CiphertextBlob
/// into `blob_file` with python3 as the walkthrough does; returns the output.
fn generate_data_key(s: &Sandbox, key: &str, json_file: &str, blob_file: &str) -> Value {
    s.sh_ok(
        &format!(
            r#"byok kms generate-data-key --key-id "$KEY_ID" --key-spec AES_256 > {json_file}
python3 -c "import json,base64;print(json.load(open('{json_file}'))['CiphertextBlob'])" | base64 -d > {blob_file}"#
        ),
        &[("KEY_ID", key)],
    );
    serde_json::from_slice(&s.read(json_file)).expect("data key JSON")
}

fn decrypt(s: &Sandbox, blob_file: &str) -> Value {
    s.sh_ok(
        &format!("byok kms decrypt --ciphertext-blob fileb://{blob_file}"),
        &[],
    )
    .json()
}

/// GetParametersForImport as the walkthrough types it, then the public key
/// and token decoded into files.
fn get_parameters(s: &Sandbox, key: &str, n: u32, algorithm: &str, spec: &str) {
    s.sh_ok(
        &format!(
            r#"byok kms get-parameters-for-import --key-id "$KEY_ID" \
    --wrapping-algorithm {algorithm} --wrapping-key-spec {spec} \
    --query '[PublicKey, ImportToken]' --output text > params{n}.txt
cut -f1 params{n}.txt | base64 -d > PublicKey{n}.bin     # DER SubjectPublicKeyInfo
cut -f2 params{n}.txt | base64 -d > ImportToken{n}.bin"#
        ),
        &[("KEY_ID", key)],
    );
}

/// `openssl pkeyutl` RSAES_OAEP_SHA_256 wrapping of KeyMaterial{n}.bin.
fn openssl_wrap_oaep(s: &Sandbox, n: u32) {
    s.sh_ok(
        &format!(
            r#"openssl pkeyutl -encrypt -in KeyMaterial{n}.bin -out EncryptedKeyMaterial{n}.bin \
    -inkey PublicKey{n}.bin -keyform DER -pubin -pkeyopt rsa_padding_mode:oaep \
    -pkeyopt rsa_oaep_md:sha256 -pkeyopt rsa_mgf1_md:sha256"#
        ),
        &[],
    );
}

#[test]
fn the_announcement_walkthrough_runs_as_typed() {
    let s = Sandbox::new();

    // ---- Step 1: a key with EXTERNAL origin, and its first material -------
    let key = s
        .sh_ok(
            r#"KEY_ID=$(byok kms create-key --origin EXTERNAL --description "imported key" \
          --query KeyMetadata.KeyId --output text)
echo "$KEY_ID""#,
            &[],
        )
        .line()
        .to_string();
    assert!(is_key_id(&key), "KEY_ID = {key:?}");
    let arn = format!("arn:aws:kms:us-east-1:000000000000:key/{key}");
    let md = describe(&s, &key);
    assert_eq!(md["KeyState"], "PendingImport");
    assert_eq!(md["Origin"], "EXTERNAL");
    assert_eq!(md["Enabled"], false);
    assert_eq!(md["Description"], "imported key");
    assert!(md.get("CurrentKeyMaterialId").is_none() && md.get("ExpirationModel").is_none());

    // The store's rotation delay: 2 s, so that step 4 can watch it run.
    let settings = s
        .ok(&["store", "settings", "--rotation-delay-ms", "2000"])
        .json();
    assert_eq!(settings["RotationDelayMs"], 2000);

    s.sh_ok("openssl rand -out KeyMaterial1.bin 32", &[]);
    get_parameters(&s, &key, 1, "RSAES_OAEP_SHA_256", "RSA_4096");
    assert_eq!(
        s.read("PublicKey1.bin").len(),
        550,
        "RSA_4096 SubjectPublicKeyInfo"
    );
    openssl_wrap_oaep(&s, 1);
    assert_eq!(s.read("EncryptedKeyMaterial1.bin").len(), 512);
    let m1 = s
        .sh_ok(
            r#"KEY_MATERIAL1_ID=$(byok kms import-key-material --key-id "$KEY_ID" \
    --encrypted-key-material fileb://EncryptedKeyMaterial1.bin \
    --import-token fileb://ImportToken1.bin \
    --expiration-model KEY_MATERIAL_DOES_NOT_EXPIRE \
    --key-material-description "KeyMaterial1 kept in HSM vault A" \
    --query KeyMaterialId --output text)
echo "$KEY_MATERIAL1_ID""#,
            &[("KEY_ID", &key)],
        )
        .line()
        .to_string();
    assert!(is_material_id(&m1), "KEY_MATERIAL1_ID = {m1:?}");
    // The id is the one the custodian computes from the material.
    let expected = s.ok(&[
        "material",
        "check",
        "--in",
        "KeyMaterial1.bin",
        "--key-id",
        &key,
        "--query",
        "KeyMaterialId",
        "--output",
        "text",
    ]);
    assert_eq!(expected.line(), m1);

    let md = describe(&s, &key);
    assert_eq!(md["KeyState"], "Enabled");
    assert_eq!(md["Enabled"], true);
    assert_eq!(md["CurrentKeyMaterialId"], m1.as_str());
    assert_eq!(md["ExpirationModel"], "KEY_MATERIAL_DOES_NOT_EXPIRE");
    let rot = rotations(&s, &key);
    assert_eq!(rot.len(), 1, "{rot:?}");
    assert_eq!(rot[0]["KeyId"], key.as_str());
    assert_eq!(rot[0]["KeyMaterialId"], m1.as_str());
    assert_eq!(rot[0]["KeyMaterialState"], "CURRENT");
    assert_eq!(rot[0]["ImportState"], "IMPORTED");
    assert_eq!(
        rot[0]["KeyMaterialDescription"],
        "KeyMaterial1 kept in HSM vault A"
    );
    assert!(rot[0].get("RotationDate").is_none() && rot[0].get("RotationType").is_none());

    // ---- Step 2: use it -----------------------------------------------------
    let dk1 = generate_data_key(&s, &key, "datakey1.json", "ciphertext1.bin");
    assert_eq!(dk1["KeyMaterialId"], m1.as_str());
    assert_eq!(dk1["KeyId"], arn.as_str());
    let plain1 = dk1["Plaintext"].as_str().expect("Plaintext").to_string();
    let d = decrypt(&s, "ciphertext1.bin");
    assert_eq!(d["Plaintext"], plain1.as_str());
    assert_eq!(d["KeyMaterialId"], m1.as_str());
    assert_eq!(d["KeyId"], arn.as_str());
    assert_eq!(d["EncryptionAlgorithm"], "SYMMETRIC_DEFAULT");

    // ---- Step 3: a second material, pending rotation ------------------------
    s.sh_ok("openssl rand -out KeyMaterial2.bin 32", &[]);
    get_parameters(&s, &key, 2, "RSAES_OAEP_SHA_256", "RSA_2048");
    assert_eq!(
        s.read("PublicKey2.bin").len(),
        294,
        "RSA_2048 SubjectPublicKeyInfo"
    );
    openssl_wrap_oaep(&s, 2);
    // Without --import-type the key already has material: EXISTING is assumed, and refused.
    let refused = s.sh(
        r#"byok kms import-key-material --key-id "$KEY_ID" \
    --encrypted-key-material fileb://EncryptedKeyMaterial2.bin \
    --import-token fileb://ImportToken2.bin \
    --expiration-model KEY_MATERIAL_DOES_NOT_EXPIRE"#,
        &[("KEY_ID", &key)],
    );
    assert_eq!(refused.status, 254, "{}", refused.stderr);
    assert!(
        refused
            .stderr
            .contains("An error occurred (IncorrectKeyMaterialException) when calling the ImportKeyMaterial operation"),
        "{}",
        refused.stderr
    );
    let m2 = s
        .sh_ok(
            r#"KEY_MATERIAL2_ID=$(byok kms import-key-material --key-id "$KEY_ID" \
    --encrypted-key-material fileb://EncryptedKeyMaterial2.bin \
    --import-token fileb://ImportToken2.bin \
    --expiration-model KEY_MATERIAL_DOES_NOT_EXPIRE --import-type NEW_KEY_MATERIAL \
    --key-material-description "KeyMaterial2 kept in HSM vault A" \
    --query KeyMaterialId --output text)
echo "$KEY_MATERIAL2_ID""#,
            &[("KEY_ID", &key)],
        )
        .line()
        .to_string();
    assert!(is_material_id(&m2) && m2 != m1, "KEY_MATERIAL2_ID = {m2:?}");
    let rot = rotations(&s, &key);
    assert_eq!(rot.len(), 2, "{rot:?}");
    assert_eq!(
        (
            rot[0]["KeyMaterialId"].as_str(),
            rot[0]["KeyMaterialState"].as_str()
        ),
        (Some(m1.as_str()), Some("CURRENT"))
    );
    assert_eq!(
        (
            rot[1]["KeyMaterialId"].as_str(),
            rot[1]["KeyMaterialState"].as_str()
        ),
        (Some(m2.as_str()), Some("PENDING_ROTATION"))
    );
    assert_eq!(rot[1]["ImportState"], "IMPORTED");
    assert_eq!(describe(&s, &key)["CurrentKeyMaterialId"], m1.as_str());

    // ---- Step 4: rotate --------------------------------------------------------
    let started = Instant::now();
    let r = s.sh_ok(
        r#"byok kms rotate-key-on-demand --key-id "$KEY_ID""#,
        &[("KEY_ID", &key)],
    );
    assert_eq!(r.json(), serde_json::json!({ "KeyId": arn }));
    let status = s
        .sh_ok(
            r#"byok kms get-key-rotation-status --key-id "$KEY_ID""#,
            &[("KEY_ID", &key)],
        )
        .json();
    assert_eq!(status["KeyRotationEnabled"], false);
    assert_eq!(status["KeyId"], arn.as_str());
    let start_date = status["OnDemandRotationStartDate"]
        .as_str()
        .unwrap_or_else(|| {
            panic!(
                "OnDemandRotationStartDate missing {:?} after rotate-key-on-demand: {status}",
                started.elapsed()
            )
        });
    assert!(is_aws_cli_timestamp(start_date), "{start_date}");
    // Until the rotation completes, encryption keeps using material 1.
    assert_eq!(describe(&s, &key)["CurrentKeyMaterialId"], m1.as_str());
    // ... poll until that field is gone (bounded).
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let status = s
            .sh_ok(
                r#"byok kms get-key-rotation-status --key-id "$KEY_ID""#,
                &[("KEY_ID", &key)],
            )
            .json();
        if status.get("OnDemandRotationStartDate").is_none() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the rotation never completed: {status}"
        );
        std::thread::sleep(Duration::from_millis(250));
    }
    assert!(
        started.elapsed() >= Duration::from_secs(2),
        "completed before the 2 s delay"
    );
    let md = describe(&s, &key);
    assert_eq!(md["CurrentKeyMaterialId"], m2.as_str());
    assert_eq!(md["KeyState"], "Enabled");
    let rot = rotations(&s, &key);
    assert_eq!(rot.len(), 2, "{rot:?}");
    assert_eq!(rot[0]["KeyMaterialId"], m1.as_str());
    assert_eq!(rot[0]["KeyMaterialState"], "NON_CURRENT");
    assert_eq!(rot[1]["KeyMaterialId"], m2.as_str());
    assert_eq!(rot[1]["KeyMaterialState"], "CURRENT");
    assert_eq!(rot[1]["RotationType"], "ON_DEMAND");
    assert!(
        is_aws_cli_timestamp(rot[1]["RotationDate"].as_str().unwrap_or("")),
        "{:?}",
        rot[1]
    );

    // ---- Step 5: new ciphertext uses material 2; old still decrypts with 1 ---
    let dk2 = generate_data_key(&s, &key, "datakey2.json", "ciphertext2.bin");
    assert_eq!(dk2["KeyMaterialId"], m2.as_str());
    let plain2 = dk2["Plaintext"].as_str().expect("Plaintext").to_string();
    let d = decrypt(&s, "ciphertext2.bin");
    assert_eq!(
        (d["Plaintext"].as_str(), d["KeyMaterialId"].as_str()),
        (Some(plain2.as_str()), Some(m2.as_str()))
    );
    let d = decrypt(&s, "ciphertext1.bin");
    assert_eq!(
        (d["Plaintext"].as_str(), d["KeyMaterialId"].as_str()),
        (Some(plain1.as_str()), Some(m1.as_str()))
    );

    // ---- Step 6: delete material 1; the key becomes unusable ----------------
    let del = s
        .sh_ok(
            r#"byok kms delete-imported-key-material --key-id "$KEY_ID" --key-material-id "$KEY_MATERIAL1_ID""#,
            &[("KEY_ID", &key), ("KEY_MATERIAL1_ID", &m1)],
        )
        .json();
    assert_eq!(
        del,
        serde_json::json!({ "KeyId": arn, "KeyMaterialId": m1 })
    );
    let md = describe(&s, &key);
    assert_eq!(md["KeyState"], "PendingImport");
    assert_eq!(md["CurrentKeyMaterialId"], m2.as_str());
    let rot = rotations(&s, &key);
    assert_eq!(rot[0]["ImportState"], "PENDING_IMPORT");
    assert_eq!(rot[1]["ImportState"], "IMPORTED");
    let failed = s.sh(
        "byok kms decrypt --ciphertext-blob fileb://ciphertext2.bin",
        &[],
    );
    assert_eq!(failed.status, 254);
    assert_eq!(failed.stdout, "");
    assert_eq!(
        failed.stderr.trim(),
        format!(
            "An error occurred (KMSInvalidStateException) when calling the Decrypt operation: {arn} is pending import."
        )
    );
    assert_eq!(
        failed.stderr,
        format!("\n{}\n", failed.stderr.trim()),
        "AWS CLI layout: a blank line first"
    );

    // ---- Step 7: re-import material 1 with the same blob and token ----------
    let re = s
        .sh_ok(
            r#"byok kms import-key-material --key-id "$KEY_ID" \
    --encrypted-key-material fileb://EncryptedKeyMaterial1.bin \
    --import-token fileb://ImportToken1.bin \
    --expiration-model KEY_MATERIAL_DOES_NOT_EXPIRE --import-type EXISTING_KEY_MATERIAL"#,
            &[("KEY_ID", &key)],
        )
        .json();
    assert_eq!(re, serde_json::json!({ "KeyId": arn, "KeyMaterialId": m1 }));
    let md = describe(&s, &key);
    assert_eq!(md["KeyState"], "Enabled");
    assert_eq!(md["CurrentKeyMaterialId"], m2.as_str());
    let rot = rotations(&s, &key);
    assert_eq!(rot[0]["ImportState"], "IMPORTED");
    assert_eq!(
        rot[0]["KeyMaterialDescription"], "KeyMaterial1 kept in HSM vault A",
        "kept on re-import"
    );
    let d = decrypt(&s, "ciphertext1.bin");
    assert_eq!(
        (d["Plaintext"].as_str(), d["KeyMaterialId"].as_str()),
        (Some(plain1.as_str()), Some(m1.as_str()))
    );
    let d = decrypt(&s, "ciphertext2.bin");
    assert_eq!(
        (d["Plaintext"].as_str(), d["KeyMaterialId"].as_str()),
        (Some(plain2.as_str()), Some(m2.as_str()))
    );
}

/// Step 1 with RSA_AES_KEY_WRAP_SHA_256: RSA-OAEP of a fresh AES key, then
/// `openssl enc -id-aes256-wrap-pad` of the material.
#[test]
fn rsa_aes_key_wrap_material_imports_as_typed() {
    let s = Sandbox::new();
    let key = s
        .sh_ok(
            r#"byok kms create-key --origin EXTERNAL --description "imported key" \
          --query KeyMetadata.KeyId --output text"#,
            &[],
        )
        .line()
        .to_string();
    assert!(is_key_id(&key));
    s.sh_ok("openssl rand -out KeyMaterial.bin 32", &[]);
    s.sh_ok(
        r#"byok kms get-parameters-for-import --key-id "$KEY_ID" \
    --wrapping-algorithm RSA_AES_KEY_WRAP_SHA_256 --wrapping-key-spec RSA_2048 \
    --query '[PublicKey, ImportToken]' --output text > params.txt
cut -f1 params.txt | base64 -d > PublicKey.bin
cut -f2 params.txt | base64 -d > ImportToken.bin"#,
        &[("KEY_ID", &key)],
    );
    s.sh_ok(
        r#"openssl rand -out aes-key.bin 32
openssl pkeyutl -encrypt -in aes-key.bin -out aes-key-wrapped.bin -inkey PublicKey.bin \
    -keyform DER -pubin -pkeyopt rsa_padding_mode:oaep -pkeyopt rsa_oaep_md:sha256 \
    -pkeyopt rsa_mgf1_md:sha256
openssl enc -id-aes256-wrap-pad -K "$(xxd -p < aes-key.bin | tr -d '\n')" -iv A65959A6 \
    -in KeyMaterial.bin -out material-wrapped.bin
cat aes-key-wrapped.bin material-wrapped.bin > EncryptedKeyMaterial.bin"#,
        &[],
    );
    assert_eq!(s.read("EncryptedKeyMaterial.bin").len(), 256 + 40);
    let m = s
        .sh_ok(
            r#"byok kms import-key-material --key-id "$KEY_ID" \
    --encrypted-key-material fileb://EncryptedKeyMaterial.bin \
    --import-token fileb://ImportToken.bin \
    --expiration-model KEY_MATERIAL_DOES_NOT_EXPIRE \
    --query KeyMaterialId --output text"#,
            &[("KEY_ID", &key)],
        )
        .line()
        .to_string();
    let expected = s.ok(&[
        "material",
        "check",
        "--in",
        "KeyMaterial.bin",
        "--key-id",
        &key,
        "--query",
        "KeyMaterialId",
        "--output",
        "text",
    ]);
    assert_eq!(m, expected.line());
    let md = describe(&s, &key);
    assert_eq!(md["KeyState"], "Enabled");
    assert_eq!(md["CurrentKeyMaterialId"], m.as_str());

    // The key works: encrypt a file and decrypt it back.
    let out = s.sh_ok(
        r#"printf 'hello, imported key' > hello.txt
byok kms encrypt --key-id "$KEY_ID" --plaintext fileb://hello.txt --encryption-context app=demo \
    --query CiphertextBlob --output text | base64 -d > hello.enc
byok kms decrypt --ciphertext-blob fileb://hello.enc --encryption-context app=demo \
    --query Plaintext --output text | base64 -d"#,
        &[("KEY_ID", &key)],
    );
    assert_eq!(out.stdout, "hello, imported key");
    // Without the context it does not decrypt.
    let bad = s.sh("byok kms decrypt --ciphertext-blob fileb://hello.enc", &[]);
    assert_eq!(bad.status, 254);
    assert!(
        bad.stderr
            .contains("(InvalidCiphertextException) when calling the Decrypt operation"),
        "{}",
        bad.stderr
    );
}
