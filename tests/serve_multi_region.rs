//! Multi-Region keys through `byok serve` with the real `aws-sdk-kms`: two
//! clients configured for two regions against the same endpoint. The region
//! is the SigV4 credential scope of each request. The client in us-east-1
//! creates an EXTERNAL multi-Region key (`MultiRegion`, API reference,
//! CreateKey), imports material, encrypts, and calls ReplicateKey for
//! eu-west-1; the client in eu-west-1 sees the replica (DescribeKey's
//! `MultiRegionConfiguration`), imports the same material into it ("You
//! must import the same key material into related primary and replica
//! keys", Developer Guide, "Importing key material into multi-Region keys")
//! and decrypts the ciphertext made in us-east-1.

#[path = "aws_support/mod.rs"]
mod support;

use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::{
    AlgorithmSpec, ExpirationModelType, MultiRegionKeyType, OriginType, WrappingKeySpec,
};
use byok::kms::{WrappingAlgorithm, wrap_material};
use support::*;

const REPLICA_REGION: &str = "eu-west-1";

fn client(served: &Served, region: &str) -> aws_sdk_kms::Client {
    let config = aws_sdk_kms::Config::builder()
        .behavior_version(aws_sdk_kms::config::BehaviorVersion::latest())
        .region(aws_sdk_kms::config::Region::new(region.to_string()))
        .endpoint_url(served.url())
        .credentials_provider(served.credentials())
        .retry_config(aws_sdk_kms::config::retry::RetryConfig::standard().with_max_attempts(1))
        .build();
    aws_sdk_kms::Client::from_conf(config)
}

async fn import(
    kms: &aws_sdk_kms::Client,
    key: &str,
    material: &[u8; 32],
) -> Result<
    aws_sdk_kms::operation::import_key_material::ImportKeyMaterialOutput,
    aws_sdk_kms::error::SdkError<
        aws_sdk_kms::operation::import_key_material::ImportKeyMaterialError,
    >,
> {
    let p = kms
        .get_parameters_for_import()
        .key_id(key)
        .wrapping_algorithm(AlgorithmSpec::RsaesOaepSha256)
        .wrapping_key_spec(WrappingKeySpec::Rsa2048)
        .send()
        .await
        .expect("GetParametersForImport");
    let wrapped = wrap_material(
        p.public_key().expect("PublicKey").as_ref(),
        WrappingAlgorithm::RsaesOaepSha256,
        material,
        &mut rand::rng(),
    )
    .unwrap();
    kms.import_key_material()
        .key_id(key)
        .import_token(p.import_token().expect("ImportToken").clone())
        .encrypted_key_material(Blob::new(wrapped))
        .expiration_model(ExpirationModelType::KeyMaterialDoesNotExpire)
        .send()
        .await
}

#[test]
fn replicate_with_one_region_decrypt_with_the_other() {
    let served = Served::start(0);
    let primary_region = served.region.clone();
    assert_ne!(primary_region, REPLICA_REGION);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let home = client(&served, &primary_region);
        let away = client(&served, REPLICA_REGION);

        let created = home
            .create_key()
            .origin(OriginType::External)
            .multi_region(true)
            .send()
            .await
            .expect("CreateKey");
        let meta = created.key_metadata().expect("KeyMetadata");
        let key = meta.key_id().to_string();
        assert!(key.starts_with("mrk-"), "{key}");
        assert_eq!(meta.multi_region(), Some(true));
        let primary_arn = format!("arn:aws:kms:{primary_region}:000000000000:key/{key}");
        let replica_arn = format!("arn:aws:kms:{REPLICA_REGION}:000000000000:key/{key}");
        assert_eq!(meta.arn(), Some(primary_arn.as_str()));

        let m = material();
        import(&home, &key, &m).await.expect("ImportKeyMaterial");
        let blob = home
            .encrypt()
            .key_id(&key)
            .plaintext(Blob::new(b"made in the primary region".to_vec()))
            .send()
            .await
            .expect("Encrypt")
            .ciphertext_blob()
            .expect("CiphertextBlob")
            .clone();

        // The key does not exist in eu-west-1 before ReplicateKey.
        let err = away
            .describe_key()
            .key_id(&key)
            .send()
            .await
            .expect_err("no replica yet");
        let service = err.into_service_error();
        assert!(service.is_not_found_exception(), "{service:?}");
        assert_eq!(
            service.meta().message(),
            Some(format!("Key '{replica_arn}' does not exist").as_str())
        );

        let replicated = home
            .replicate_key()
            .key_id(&key)
            .replica_region(REPLICA_REGION)
            .description("replica in Dublin")
            .send()
            .await
            .expect("ReplicateKey");
        let replica = replicated
            .replica_key_metadata()
            .expect("ReplicaKeyMetadata");
        assert_eq!(replica.arn(), Some(replica_arn.as_str()));
        assert_eq!(
            replica.key_state().map(|s| s.as_str()),
            Some("PendingImport")
        );

        let described = away
            .describe_key()
            .key_id(&key)
            .send()
            .await
            .expect("DescribeKey in the replica region");
        let config = described
            .key_metadata()
            .and_then(|m| m.multi_region_configuration())
            .expect("MultiRegionConfiguration");
        assert_eq!(
            config.multi_region_key_type(),
            Some(&MultiRegionKeyType::Replica)
        );
        let primary = config.primary_key().expect("PrimaryKey");
        assert_eq!(primary.arn(), Some(primary_arn.as_str()));
        assert_eq!(primary.region(), Some(primary_region.as_str()));
        assert_eq!(config.replica_keys().len(), 1);
        assert_eq!(config.replica_keys()[0].region(), Some(REPLICA_REGION));

        // Different material is refused (IncorrectKeyMaterialException, API
        // reference, ImportKeyMaterial's errors).
        let err = import(&away, &key, &material())
            .await
            .expect_err("other material");
        assert!(
            err.into_service_error()
                .is_incorrect_key_material_exception(),
            "IncorrectKeyMaterialException"
        );
        import(&away, &key, &m).await.expect("the same material");

        let plain = away
            .decrypt()
            .ciphertext_blob(blob)
            .send()
            .await
            .expect("Decrypt in the replica region");
        assert_eq!(
            plain.plaintext().map(|p| p.as_ref().to_vec()),
            Some(b"made in the primary region".to_vec())
        );
        assert_eq!(plain.key_id(), Some(replica_arn.as_str()));

        // Each region lists its own keys.
        let listed = away.list_keys().send().await.expect("ListKeys");
        let arns: Vec<_> = listed.keys().iter().filter_map(|k| k.key_arn()).collect();
        assert_eq!(arns, vec![replica_arn.as_str()]);
    });
}
