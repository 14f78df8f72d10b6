//! Multi-Region keys with imported key material, through the JSON API as a
//! client calls it, each call made in a region (the SigV4 scope of
//! `byok serve`, the CLI's `--region`).
//!
//! Sources:
//! - API reference, CreateKey `MultiRegion`, ReplicateKey, UpdatePrimaryRegion,
//!   DescribeKey `MultiRegionConfiguration`, ImportKeyMaterial,
//!   RotateKeyOnDemand, DeleteImportedKeyMaterial, `RotationsListEntry`
//!   (<https://docs.aws.amazon.com/kms/latest/APIReference/>), as carried in
//!   aws-sdk-kms 1.129's model documentation.
//! - Developer Guide, "Importing key material into multi-Region keys"
//!   (<https://docs.aws.amazon.com/kms/latest/developerguide/multi-region-keys-import.html>):
//!   "AWS KMS does not copy or synchronize the key material from a primary
//!   key with imported key material to its replica keys. You must import the
//!   same key material into related primary and replica keys."

mod common;

use std::time::Duration;

use byok::kms::{Caller, Kms, WrappingAlgorithm, wrap_material};
use common::{Harness, b64, ok, refused};
use serde_json::{Value, json};

const A: &str = "us-east-1";
const B: &str = "eu-west-1";
const C: &str = "ap-southeast-2";

/// `op` with `body`, called in `region`.
fn call_in(
    kms: &mut Kms,
    region: &str,
    op: &str,
    body: Value,
) -> Result<Value, byok::api::ApiError> {
    let caller = Caller::cli().in_region(Some(region.to_string()));
    byok::api::dispatch(kms, &caller, op, body.to_string().as_bytes())
        .map(|b| serde_json::from_slice(&b).expect("JSON answer"))
}

/// GetParametersForImport + wrap + ImportKeyMaterial of `material` into
/// `key` (key id or ARN) in `region`, never expiring.
fn import_in(
    h: &mut Harness,
    region: &str,
    key: &str,
    material: &[u8; 32],
    import_type: Option<&str>,
) -> Result<Value, byok::api::ApiError> {
    let params = ok(call_in(
        &mut h.kms,
        region,
        "GetParametersForImport",
        json!({"KeyId": key, "WrappingAlgorithm": "RSAES_OAEP_SHA_256", "WrappingKeySpec": "RSA_2048"}),
    ));
    let public_key = base64_decode(params["PublicKey"].as_str().unwrap());
    let wrapped = wrap_material(
        &public_key,
        WrappingAlgorithm::RsaesOaepSha256,
        material,
        &mut h.rng,
    )
    .unwrap();
    let mut body = json!({
        "KeyId": key,
        "ImportToken": params["ImportToken"],
        "EncryptedKeyMaterial": b64(&wrapped),
        "ExpirationModel": "KEY_MATERIAL_DOES_NOT_EXPIRE",
    });
    if let Some(t) = import_type {
        body["ImportType"] = json!(t);
    }
    call_in(&mut h.kms, region, "ImportKeyMaterial", body)
}

fn base64_decode(s: &str) -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.decode(s).unwrap()
}

fn arn(region: &str, id: &str) -> String {
    format!("arn:aws:kms:{region}:000000000000:key/{id}")
}

/// An EXTERNAL multi-Region primary key in region A with `material`
/// imported. Returns its key id.
fn imported_primary(h: &mut Harness, material: &[u8; 32]) -> String {
    let created = ok(call_in(
        &mut h.kms,
        A,
        "CreateKey",
        json!({"Origin": "EXTERNAL", "MultiRegion": true, "Description": "mrk"}),
    ));
    let id = created["KeyMetadata"]["KeyId"]
        .as_str()
        .unwrap()
        .to_string();
    ok(import_in(h, A, &id, material, None));
    id
}

fn describe(h: &mut Harness, region: &str, id: &str) -> Value {
    ok(call_in(
        &mut h.kms,
        region,
        "DescribeKey",
        json!({"KeyId": id}),
    ))["KeyMetadata"]
        .clone()
}

fn rotations(h: &mut Harness, region: &str, id: &str) -> Vec<Value> {
    ok(call_in(
        &mut h.kms,
        region,
        "ListKeyRotations",
        json!({"KeyId": id, "IncludeKeyMaterial": "ALL_KEY_MATERIAL"}),
    ))["Rotations"]
        .as_array()
        .unwrap()
        .clone()
}

#[test]
fn create_key_multi_region_gives_an_mrk_primary_key() {
    let mut h = Harness::new();
    let created = ok(call_in(
        &mut h.kms,
        A,
        "CreateKey",
        json!({"Origin": "EXTERNAL", "MultiRegion": true}),
    ))["KeyMetadata"]
        .clone();
    let id = created["KeyId"].as_str().unwrap();
    // "mrk-" and 32 hex digits (API reference, CreateKey, MultiRegion;
    // Developer Guide, "Multi-Region key identifiers").
    assert!(id.starts_with("mrk-") && id.len() == 36, "{id}");
    assert!(id[4..].chars().all(|c| c.is_ascii_hexdigit()));
    assert_eq!(created["Arn"], json!(arn(A, id)));
    assert_eq!(created["MultiRegion"], json!(true));
    assert_eq!(created["KeyState"], json!("PendingImport"));
    assert_eq!(
        created["MultiRegionConfiguration"],
        json!({
            "MultiRegionKeyType": "PRIMARY",
            "PrimaryKey": {"Arn": arn(A, id), "Region": A},
            "ReplicaKeys": [],
        })
    );
    // A single-Region key is not multi-Region and has no configuration.
    let single = ok(call_in(&mut h.kms, A, "CreateKey", json!({})))["KeyMetadata"].clone();
    assert_eq!(single["MultiRegion"], json!(false));
    assert!(single.get("MultiRegionConfiguration").is_none(), "{single}");
}

#[test]
fn replica_needs_the_same_material_and_then_decrypts_what_the_primary_encrypted() {
    let mut h = Harness::new();
    let material = h.material();
    let id = imported_primary(&mut h, &material);

    let out = ok(call_in(
        &mut h.kms,
        A,
        "ReplicateKey",
        json!({"KeyId": id, "ReplicaRegion": B, "Description": "replica", "Tags": [{"TagKey": "site", "TagValue": "dublin"}]}),
    ));
    let replica = &out["ReplicaKeyMetadata"];
    assert_eq!(replica["KeyId"], json!(id));
    assert_eq!(replica["Arn"], json!(arn(B, &id)));
    assert_eq!(replica["Description"], json!("replica"));
    assert_eq!(
        out["ReplicaTags"],
        json!([{"TagKey": "site", "TagValue": "dublin"}])
    );
    // "If you replicate a multi-Region primary key with imported key
    // material, the replica key is created with no key material" (API
    // reference, ReplicateKey).
    assert_eq!(replica["KeyState"], json!("PendingImport"));
    assert_eq!(replica["Origin"], json!("EXTERNAL"));

    // Encrypt with the primary in A.
    let blob = ok(call_in(
        &mut h.kms,
        A,
        "Encrypt",
        json!({"KeyId": id, "Plaintext": b64(b"across regions")}),
    ))["CiphertextBlob"]
        .clone();
    // The replica has no material yet: SPEC §2's state message.
    refused(
        call_in(&mut h.kms, B, "Decrypt", json!({"CiphertextBlob": blob})),
        "KMSInvalidStateException",
        &format!("{} is pending import.", arn(B, &id)),
    );

    // Different material is refused: AWS's IncorrectKeyMaterialException ("it
    // is not the same key material that was previously imported", API
    // reference, Errors of ImportKeyMaterial); the message is byok's own
    // [byok], the one every key gives.
    let other = h.material();
    refused(
        import_in(&mut h, B, &id, &other, None),
        "IncorrectKeyMaterialException",
        &format!(
            "The key material in the request is not associated with KMS key {}. To import new key material, set ImportType to NEW_KEY_MATERIAL.",
            arn(B, &id)
        ),
    );
    // New key material cannot go into a replica ("You cannot directly
    // import new key material into the replica Region keys", API
    // reference, ImportKeyMaterial); [byok] message.
    refused(
        import_in(&mut h, B, &id, &other, Some("NEW_KEY_MATERIAL")),
        "UnsupportedOperationException",
        &format!(
            "New key material cannot be imported into the multi-Region replica key {}. Import it into the primary key {}, then import the same key material into this key with ImportType EXISTING_KEY_MATERIAL.",
            arn(B, &id),
            arn(A, &id)
        ),
    );
    assert_eq!(describe(&mut h, B, &id)["KeyState"], json!("PendingImport"));

    // Import parameters are per key, so per region: the primary's token
    // does not import into the replica (SPEC §3's InvalidImportTokenException).
    let params = ok(call_in(
        &mut h.kms,
        A,
        "GetParametersForImport",
        json!({"KeyId": id, "WrappingAlgorithm": "RSAES_OAEP_SHA_256", "WrappingKeySpec": "RSA_2048"}),
    ));
    let wrapped = wrap_material(
        &base64_decode(params["PublicKey"].as_str().unwrap()),
        WrappingAlgorithm::RsaesOaepSha256,
        &material,
        &mut h.rng,
    )
    .unwrap();
    refused(
        call_in(
            &mut h.kms,
            B,
            "ImportKeyMaterial",
            json!({"KeyId": id, "ImportToken": params["ImportToken"], "EncryptedKeyMaterial": b64(&wrapped), "ExpirationModel": "KEY_MATERIAL_DOES_NOT_EXPIRE"}),
        ),
        "InvalidImportTokenException",
        "The import token is invalid or was issued for a different KMS key.",
    );

    // The same material: the replica is enabled, with the same material id.
    let imported = ok(import_in(&mut h, B, &id, &material, None));
    let primary_material = describe(&mut h, A, &id)["CurrentKeyMaterialId"].clone();
    assert_eq!(imported["KeyMaterialId"], primary_material);
    assert_eq!(describe(&mut h, B, &id)["KeyState"], json!("Enabled"));

    // Ciphertext made in A decrypts in B, and the other way round.
    let plain = ok(call_in(
        &mut h.kms,
        B,
        "Decrypt",
        json!({"CiphertextBlob": blob}),
    ));
    assert_eq!(plain["Plaintext"], json!(b64(b"across regions")));
    assert_eq!(plain["KeyId"], json!(arn(B, &id)));
    let back = ok(call_in(
        &mut h.kms,
        B,
        "Encrypt",
        json!({"KeyId": arn(B, &id), "Plaintext": b64(b"and back")}),
    ))["CiphertextBlob"]
        .clone();
    let plain = ok(call_in(
        &mut h.kms,
        A,
        "Decrypt",
        json!({"CiphertextBlob": back}),
    ));
    assert_eq!(plain["Plaintext"], json!(b64(b"and back")));

    // "The key states of related multi-Region keys are independent of each
    // other" (Developer Guide, importing into multi-Region keys).
    ok(call_in(&mut h.kms, B, "DisableKey", json!({"KeyId": id})));
    assert_eq!(describe(&mut h, B, &id)["KeyState"], json!("Disabled"));
    assert_eq!(describe(&mut h, A, &id)["KeyState"], json!("Enabled"));
}

#[test]
fn describe_key_shows_the_configuration_on_both_and_update_primary_region_swaps_it() {
    let mut h = Harness::new();
    let material = h.material();
    let id = imported_primary(&mut h, &material);
    ok(call_in(
        &mut h.kms,
        A,
        "ReplicateKey",
        json!({"KeyId": id, "ReplicaRegion": B}),
    ));
    ok(call_in(
        &mut h.kms,
        A,
        "ReplicateKey",
        json!({"KeyId": id, "ReplicaRegion": C}),
    ));
    let replicas = json!([
        {"Arn": arn(C, &id), "Region": C},
        {"Arn": arn(B, &id), "Region": B},
    ]);
    for (region, kind) in [(A, "PRIMARY"), (B, "REPLICA"), (C, "REPLICA")] {
        let meta = describe(&mut h, region, &id);
        assert_eq!(meta["Arn"], json!(arn(region, &id)));
        assert_eq!(meta["MultiRegion"], json!(true));
        assert_eq!(
            meta["MultiRegionConfiguration"],
            json!({
                "MultiRegionKeyType": kind,
                "PrimaryKey": {"Arn": arn(A, &id), "Region": A},
                "ReplicaKeys": replicas,
            }),
            "{region}"
        );
    }
    // One replica per region: AlreadyExistsException (API reference,
    // ReplicateKey); [byok] message.
    refused(
        call_in(
            &mut h.kms,
            A,
            "ReplicateKey",
            json!({"KeyId": id, "ReplicaRegion": B}),
        ),
        "AlreadyExistsException",
        &format!("Replica key {} already exists.", arn(B, &id)),
    );
    // A replica is not replicated: its primary is ([byok] message).
    refused(
        call_in(
            &mut h.kms,
            B,
            "ReplicateKey",
            json!({"KeyId": id, "ReplicaRegion": "us-west-2"}),
        ),
        "UnsupportedOperationException",
        &format!(
            "{} is a multi-Region replica key. Call ReplicateKey on its primary key {}.",
            arn(B, &id),
            arn(A, &id)
        ),
    );

    // UpdatePrimaryRegion, called on the primary, makes B the primary.
    ok(call_in(
        &mut h.kms,
        A,
        "UpdatePrimaryRegion",
        json!({"KeyId": id, "PrimaryRegion": B}),
    ));
    let after = json!([
        {"Arn": arn(C, &id), "Region": C},
        {"Arn": arn(A, &id), "Region": A},
    ]);
    for (region, kind) in [(A, "REPLICA"), (B, "PRIMARY"), (C, "REPLICA")] {
        assert_eq!(
            describe(&mut h, region, &id)["MultiRegionConfiguration"],
            json!({
                "MultiRegionKeyType": kind,
                "PrimaryKey": {"Arn": arn(B, &id), "Region": B},
                "ReplicaKeys": after,
            }),
            "{region}"
        );
    }
    // Now A is a replica: it can no longer move the primary.
    refused(
        call_in(
            &mut h.kms,
            A,
            "UpdatePrimaryRegion",
            json!({"KeyId": id, "PrimaryRegion": C}),
        ),
        "UnsupportedOperationException",
        &format!(
            "{} is a multi-Region replica key. Call UpdatePrimaryRegion on its primary key {}.",
            arn(A, &id),
            arn(B, &id)
        ),
    );
    // A region without a replica: the key does not exist there.
    refused(
        call_in(
            &mut h.kms,
            B,
            "UpdatePrimaryRegion",
            json!({"KeyId": id, "PrimaryRegion": "us-west-2"}),
        ),
        "NotFoundException",
        &format!("Key '{}' does not exist", arn("us-west-2", &id)),
    );
}

#[test]
fn keys_aliases_and_listings_are_per_region() {
    let mut h = Harness::new();
    let material = h.material();
    let id = imported_primary(&mut h, &material);
    let single = ok(call_in(&mut h.kms, A, "CreateKey", json!({})))["KeyMetadata"]["KeyId"]
        .as_str()
        .unwrap()
        .to_string();
    ok(call_in(
        &mut h.kms,
        A,
        "ReplicateKey",
        json!({"KeyId": id, "ReplicaRegion": B}),
    ));
    ok(call_in(
        &mut h.kms,
        A,
        "CreateAlias",
        json!({"AliasName": "alias/mrk", "TargetKeyId": id}),
    ));

    let listed = |h: &mut Harness, region: &str| -> Vec<String> {
        ok(call_in(&mut h.kms, region, "ListKeys", json!({})))["Keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k["KeyArn"].as_str().unwrap().to_string())
            .collect()
    };
    let mut in_a = listed(&mut h, A);
    in_a.sort();
    let mut expected = vec![arn(A, &id), arn(A, &single)];
    expected.sort();
    assert_eq!(in_a, expected);
    assert_eq!(listed(&mut h, B), vec![arn(B, &id)]);
    // Aliases are not shared (API reference, ReplicateKey).
    let aliases_b = ok(call_in(&mut h.kms, B, "ListAliases", json!({})))["Aliases"].clone();
    assert_eq!(aliases_b, json!([]));
    refused(
        call_in(&mut h.kms, B, "DescribeKey", json!({"KeyId": "alias/mrk"})),
        "NotFoundException",
        &format!("Alias arn:aws:kms:{B}:000000000000:alias/mrk is not found."),
    );
    // The single-Region key is not in B.
    refused(
        call_in(&mut h.kms, B, "DescribeKey", json!({"KeyId": single})),
        "NotFoundException",
        &format!("Key '{}' does not exist", arn(B, &single)),
    );
    // An mrk- id unknown in a region (SPEC §3's template).
    refused(
        call_in(&mut h.kms, C, "DescribeKey", json!({"KeyId": id})),
        "NotFoundException",
        &format!("Key '{}' does not exist", arn(C, &id)),
    );
    let unknown = "mrk-1234abcd12ab34cd56ef1234567890ab";
    refused(
        call_in(&mut h.kms, A, "DescribeKey", json!({"KeyId": unknown})),
        "NotFoundException",
        &format!("Key '{}' does not exist", arn(A, unknown)),
    );
    // An ARN of another region is not a key of this one.
    refused(
        call_in(&mut h.kms, B, "DescribeKey", json!({"KeyId": arn(A, &id)})),
        "NotFoundException",
        &format!("Key '{}' does not exist", arn(A, &id)),
    );
}

#[test]
fn on_demand_rotation_of_a_multi_region_set() {
    let mut h = Harness::new();
    let first = h.material();
    let id = imported_primary(&mut h, &first);
    ok(call_in(
        &mut h.kms,
        A,
        "ReplicateKey",
        json!({"KeyId": id, "ReplicaRegion": B}),
    ));
    ok(import_in(&mut h, B, &id, &first, None));
    let old_blob = ok(call_in(
        &mut h.kms,
        A,
        "Encrypt",
        json!({"KeyId": id, "Plaintext": b64(b"before")}),
    ))["CiphertextBlob"]
        .clone();

    // 1. New material into the primary: PENDING_MULTI_REGION_IMPORT_AND_ROTATION
    // until every replica has it (API reference, RotationsListEntry).
    let second = h.material();
    let new = ok(import_in(&mut h, A, &id, &second, Some("NEW_KEY_MATERIAL")));
    let new_id = new["KeyMaterialId"].clone();
    let pending = rotations(&mut h, A, &id).last().unwrap().clone();
    assert_eq!(pending["KeyMaterialId"], new_id);
    assert_eq!(
        pending["KeyMaterialState"],
        json!("PENDING_MULTI_REGION_IMPORT_AND_ROTATION")
    );
    // Rotation is refused until then: SPEC §3's message for a key with no
    // material PENDING_ROTATION.
    refused(
        call_in(&mut h.kms, A, "RotateKeyOnDemand", json!({"KeyId": id})),
        "KMSInvalidStateException",
        &format!(
            "No available key material pending rotation for the key: {}.",
            arn(A, &id)
        ),
    );
    // 2. The replica lists the new material, not imported; importing it
    // (EXISTING_KEY_MATERIAL, API reference, ImportKeyMaterial) makes the
    // primary's PENDING_ROTATION.
    let listed = rotations(&mut h, B, &id).last().unwrap().clone();
    assert_eq!(listed["KeyMaterialId"], new_id);
    assert_eq!(listed["ImportState"], json!("PENDING_IMPORT"));
    let third = h.material();
    refused(
        import_in(&mut h, B, &id, &third, Some("EXISTING_KEY_MATERIAL")),
        "IncorrectKeyMaterialException",
        &format!(
            "The key material in the request is not associated with KMS key {}. To import new key material, set ImportType to NEW_KEY_MATERIAL.",
            arn(B, &id)
        ),
    );
    ok(import_in(
        &mut h,
        B,
        &id,
        &second,
        Some("EXISTING_KEY_MATERIAL"),
    ));
    assert_eq!(
        rotations(&mut h, A, &id).last().unwrap()["KeyMaterialState"],
        json!("PENDING_ROTATION")
    );
    // 3. On-demand rotation is invoked on the primary key, never a replica
    // ([byok] message).
    refused(
        call_in(&mut h.kms, B, "RotateKeyOnDemand", json!({"KeyId": id})),
        "UnsupportedOperationException",
        &format!(
            "{} is a multi-Region replica key. Call RotateKeyOnDemand on its primary key {}.",
            arn(B, &id),
            arn(A, &id)
        ),
    );
    ok(call_in(
        &mut h.kms,
        A,
        "RotateKeyOnDemand",
        json!({"KeyId": id}),
    ));
    h.advance(h.kms.settings().rotation_delay() + Duration::from_millis(1));
    h.kms.tick();
    // The whole set rotated: the new material is current in A and in B.
    for region in [A, B] {
        let meta = describe(&mut h, region, &id);
        assert_eq!(meta["CurrentKeyMaterialId"], new_id, "{region}");
        let current = rotations(&mut h, region, &id).last().unwrap().clone();
        assert_eq!(current["KeyMaterialState"], json!("CURRENT"), "{region}");
        assert_eq!(current["RotationType"], json!("ON_DEMAND"), "{region}");
    }
    // New ciphertext from B decrypts in A; old ciphertext still decrypts in B.
    let blob = ok(call_in(
        &mut h.kms,
        B,
        "Encrypt",
        json!({"KeyId": id, "Plaintext": b64(b"after")}),
    ))["CiphertextBlob"]
        .clone();
    let out = ok(call_in(
        &mut h.kms,
        A,
        "Decrypt",
        json!({"CiphertextBlob": blob}),
    ));
    assert_eq!(out["KeyMaterialId"], new_id);
    let out = ok(call_in(
        &mut h.kms,
        B,
        "Decrypt",
        json!({"CiphertextBlob": old_blob}),
    ));
    assert_eq!(out["Plaintext"], json!(b64(b"before")));

    // Deleting pending material of the primary deletes it from the replicas
    // too (API reference, DeleteImportedKeyMaterial).
    let fourth = h.material();
    let staged =
        ok(import_in(&mut h, A, &id, &fourth, Some("NEW_KEY_MATERIAL")))["KeyMaterialId"].clone();
    assert_eq!(
        rotations(&mut h, B, &id).last().unwrap()["KeyMaterialId"],
        staged
    );
    ok(call_in(
        &mut h.kms,
        A,
        "DeleteImportedKeyMaterial",
        json!({"KeyId": id, "KeyMaterialId": staged}),
    ));
    assert_eq!(
        rotations(&mut h, B, &id).last().unwrap()["KeyMaterialId"],
        new_id
    );
}

#[test]
fn scheduling_the_deletion_of_a_primary_with_replicas_waits_for_them() {
    let mut h = Harness::new();
    let material = h.material();
    let id = imported_primary(&mut h, &material);
    ok(call_in(
        &mut h.kms,
        A,
        "ReplicateKey",
        json!({"KeyId": id, "ReplicaRegion": B}),
    ));
    ok(import_in(&mut h, B, &id, &material, None));

    // "You can schedule the deletion of a multi-Region primary key and its
    // replica keys at any time. However, KMS will not delete a multi-Region
    // primary key with existing replica keys. If you schedule the deletion
    // of a primary key with replicas, its key state changes to
    // PendingReplicaDeletion and it cannot be replicated or used in
    // cryptographic operations." (API reference, ScheduleKeyDeletion). The
    // output has no DeletionDate ("If the KMS key is a multi-Region primary
    // key with replica keys, this field does not appear").
    let out = ok(call_in(
        &mut h.kms,
        A,
        "ScheduleKeyDeletion",
        json!({"KeyId": id, "PendingWindowInDays": 7}),
    ));
    assert_eq!(
        out,
        json!({"KeyId": arn(A, &id), "KeyState": "PendingReplicaDeletion", "PendingWindowInDays": 7})
    );
    // KeyMetadata: PendingDeletionWindowInDays, no DeletionDate (API
    // reference, KeyMetadata).
    let meta = describe(&mut h, A, &id);
    assert_eq!(meta["KeyState"], json!("PendingReplicaDeletion"));
    assert_eq!(meta["PendingDeletionWindowInDays"], json!(7));
    assert!(meta.get("DeletionDate").is_none(), "{meta}");
    // Not usable, not replicable: the rules of PendingDeletion, with SPEC
    // §2's message (AWS publishes no text for this state) [byok].
    refused(
        call_in(
            &mut h.kms,
            A,
            "Encrypt",
            json!({"KeyId": id, "Plaintext": b64(b"x")}),
        ),
        "KMSInvalidStateException",
        &format!("{} is pending deletion.", arn(A, &id)),
    );
    refused(
        call_in(
            &mut h.kms,
            A,
            "ReplicateKey",
            json!({"KeyId": id, "ReplicaRegion": C}),
        ),
        "KMSInvalidStateException",
        &format!("{} is pending deletion.", arn(A, &id)),
    );
    // The replica is independent and still works.
    ok(call_in(
        &mut h.kms,
        B,
        "Encrypt",
        json!({"KeyId": id, "Plaintext": b64(b"x")}),
    ));

    // Deleting the replica (not just scheduling it) starts the primary's
    // waiting period.
    ok(call_in(
        &mut h.kms,
        B,
        "ScheduleKeyDeletion",
        json!({"KeyId": id, "PendingWindowInDays": 7}),
    ));
    assert_eq!(
        describe(&mut h, A, &id)["KeyState"],
        json!("PendingReplicaDeletion")
    );
    let week = Duration::from_secs(7 * 24 * 3600);
    h.advance(week + Duration::from_secs(1));
    h.kms.tick();
    refused(
        call_in(&mut h.kms, B, "DescribeKey", json!({"KeyId": id})),
        "NotFoundException",
        &format!("Key '{}' does not exist", arn(B, &id)),
    );
    let meta = describe(&mut h, A, &id);
    assert_eq!(meta["KeyState"], json!("PendingDeletion"));
    let replica_gone = h.now().millis() as f64 / 1000.0 - 1.0;
    let deletion = meta["DeletionDate"].as_f64().unwrap();
    assert!(
        (deletion - (replica_gone + 7.0 * 24.0 * 3600.0)).abs() < 2.0,
        "{deletion} vs {replica_gone}"
    );
    assert_eq!(meta["MultiRegionConfiguration"]["ReplicaKeys"], json!([]));
    h.advance(week + Duration::from_secs(1));
    h.kms.tick();
    refused(
        call_in(&mut h.kms, A, "DescribeKey", json!({"KeyId": id})),
        "NotFoundException",
        &format!("Key '{}' does not exist", arn(A, &id)),
    );
}

#[test]
fn audit_records_carry_the_region_of_the_call() {
    let mut h = Harness::new();
    let material = h.material();
    let id = imported_primary(&mut h, &material);
    h.kms.take_audit_records();
    ok(call_in(
        &mut h.kms,
        A,
        "ReplicateKey",
        json!({"KeyId": id, "ReplicaRegion": B}),
    ));
    let _ = call_in(&mut h.kms, B, "DescribeKey", json!({"KeyId": id}));
    let records = h.kms.take_audit_records();
    let seen: Vec<(String, String, String)> = records
        .iter()
        .map(|r| {
            (
                r.event_name.clone(),
                r.aws_region.clone(),
                r.resources
                    .first()
                    .map(|x| x.arn.clone())
                    .unwrap_or_default(),
            )
        })
        .collect();
    // "The CloudTrail log of a ReplicateKey operation records a
    // ReplicateKey operation in the primary key's Region and a CreateKey
    // operation in the replica key's Region" (API reference, ReplicateKey).
    assert_eq!(
        seen,
        vec![
            ("CreateKey".into(), B.into(), arn(B, &id)),
            ("ReplicateKey".into(), A.into(), arn(A, &id)),
            ("DescribeKey".into(), B.into(), arn(B, &id)),
        ]
    );
}

#[test]
fn a_kms_generated_multi_region_key_shares_its_material_and_rotates_from_the_primary() {
    let mut h = Harness::new();
    let id = ok(call_in(
        &mut h.kms,
        A,
        "CreateKey",
        json!({"MultiRegion": true}),
    ))["KeyMetadata"]["KeyId"]
        .as_str()
        .unwrap()
        .to_string();
    let out = ok(call_in(
        &mut h.kms,
        A,
        "ReplicateKey",
        json!({"KeyId": id, "ReplicaRegion": B}),
    ));
    // KMS-generated material is the replica's at once.
    assert_eq!(out["ReplicaKeyMetadata"]["KeyState"], json!("Enabled"));
    let blob = ok(call_in(
        &mut h.kms,
        B,
        "Encrypt",
        json!({"KeyId": id, "Plaintext": b64(b"b")}),
    ))["CiphertextBlob"]
        .clone();
    ok(call_in(
        &mut h.kms,
        A,
        "Decrypt",
        json!({"CiphertextBlob": blob}),
    ));
    // Automatic rotation is set on the primary ([byok] message).
    refused(
        call_in(&mut h.kms, B, "EnableKeyRotation", json!({"KeyId": id})),
        "UnsupportedOperationException",
        &format!(
            "{} is a multi-Region replica key. Call EnableKeyRotation on its primary key {}.",
            arn(B, &id),
            arn(A, &id)
        ),
    );
    // An on-demand rotation of the primary gives the replica the same new
    // material.
    ok(call_in(
        &mut h.kms,
        A,
        "RotateKeyOnDemand",
        json!({"KeyId": id}),
    ));
    h.advance(h.kms.settings().rotation_delay() + Duration::from_millis(1));
    h.kms.tick();
    let current_a = describe(&mut h, A, &id)["CurrentKeyMaterialId"].clone();
    assert_eq!(describe(&mut h, B, &id)["CurrentKeyMaterialId"], current_a);
    let blob = ok(call_in(
        &mut h.kms,
        A,
        "Encrypt",
        json!({"KeyId": id, "Plaintext": b64(b"a")}),
    ))["CiphertextBlob"]
        .clone();
    let out = ok(call_in(
        &mut h.kms,
        B,
        "Decrypt",
        json!({"CiphertextBlob": blob}),
    ));
    assert_eq!(out["KeyMaterialId"], current_a);
}

/// A key policy is each key's own, in a store that is closed and opened
/// again: "The key policy is not a shared property of multi-Region keys",
/// and without `Policy` ReplicateKey "attaches the default key policy"
/// (API reference, ReplicateKey, `Policy`; SDK model documentation).
#[test]
fn each_key_of_a_multi_region_set_keeps_its_own_key_policy() {
    use byok::store::Vault;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.byok");
    let clock = byok::kms::ManualClock::new(common::START);
    let pass = common::pass("policies per region");
    let mut v = Vault::create(
        &path,
        &pass,
        common::vault_options(&clock, common::test_keys()),
    )
    .unwrap();
    let call = |v: &mut Vault, region: &str, op: &str, body: Value| -> Value {
        let caller = Caller::cli().in_region(Some(region.to_string()));
        let out = v
            .call(&caller, op, body.to_string().as_bytes())
            .unwrap_or_else(|e| panic!("{op} in {region}: {e:?}"));
        serde_json::from_slice(&out).unwrap_or(Value::Null)
    };
    let policy = |account: &str, sid: &str| {
        json!({
            "Version": "2012-10-17",
            "Statement": [{"Sid": sid, "Effect": "Allow",
                "Principal": {"AWS": format!("arn:aws:iam::{account}:root")},
                "Action": "kms:*", "Resource": "*"}]
        })
        .to_string()
    };
    let key = call(
        &mut v,
        A,
        "CreateKey",
        json!({"Origin": "EXTERNAL", "MultiRegion": true}),
    );
    let id = key["KeyMetadata"]["KeyId"].as_str().unwrap().to_string();
    let account = key["KeyMetadata"]["AWSAccountId"]
        .as_str()
        .unwrap()
        .to_string();
    let default = call(&mut v, A, "GetKeyPolicy", json!({"KeyId": id}))["Policy"]
        .as_str()
        .unwrap()
        .to_string();
    let primary_policy = policy(&account, "primary");
    call(
        &mut v,
        A,
        "PutKeyPolicy",
        json!({"KeyId": id, "Policy": primary_policy}),
    );
    // B: no Policy, the default; C: a Policy of its own.
    let b = call(
        &mut v,
        A,
        "ReplicateKey",
        json!({"KeyId": id, "ReplicaRegion": B}),
    );
    assert_eq!(b["ReplicaPolicy"], json!(default));
    let c_policy = policy(&account, "replica-c");
    let c = call(
        &mut v,
        A,
        "ReplicateKey",
        json!({"KeyId": id, "ReplicaRegion": C, "Policy": c_policy}),
    );
    assert_eq!(c["ReplicaPolicy"], json!(c_policy));
    let b_policy = policy(&account, "replica-b");
    call(
        &mut v,
        B,
        "PutKeyPolicy",
        json!({"KeyId": id, "Policy": b_policy}),
    );
    drop(v);

    let mut v = Vault::open(
        &path,
        &pass,
        common::vault_options(&clock, common::test_keys()),
    )
    .unwrap();
    for (region, want) in [(A, &primary_policy), (B, &b_policy), (C, &c_policy)] {
        let got = call(&mut v, region, "GetKeyPolicy", json!({"KeyId": id}));
        assert_eq!(
            got["Policy"].as_str(),
            Some(want.as_str()),
            "the key policy in {region}"
        );
    }
}
