//! Shared test fixtures: an engine on a manual clock with RSA key pairs made
//! in advance (tests/data/wrapping), and helpers for the import ceremony.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use byok::kms::{
    Caller, CreateKeyRequest, DecryptRequest, EncryptionContext, ExpirationModel,
    ImportKeyMaterialRequest, ImportOutput, ImportParametersOutput, ImportType, KeyId, Kms,
    KmsError, ManualClock, Origin, PregeneratedKeys, Settings, Timestamp, WrappingAlgorithm,
    WrappingKeySpec, wrap_material,
};
use rand::SeedableRng;
use rand::rngs::StdRng;
use rsa::pkcs8::DecodePrivateKey;

/// 2026-01-01T00:00:00Z: where every test clock starts.
pub const START: Timestamp = Timestamp::from_secs(1_767_225_600);

pub fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data")
}

/// One pregenerated wrapping key pair: its PKCS#8 DER file and the parsed key.
pub struct TestKeyPair {
    pub pkcs8_der: Vec<u8>,
    pub key: rsa::PrivateKey,
}

/// The key pairs in tests/data/wrapping, read and parsed once per test binary
/// (parsing a 4096-bit key costs milliseconds, and property tests build
/// thousands of engines).
pub fn test_key_pairs() -> &'static [TestKeyPair] {
    static PAIRS: OnceLock<Vec<TestKeyPair>> = OnceLock::new();
    PAIRS.get_or_init(|| {
        let mut files: Vec<_> = std::fs::read_dir(data_dir().join("wrapping"))
            .expect("tests/data/wrapping")
            .map(|e| e.expect("dir entry").path())
            .filter(|p| p.extension().is_some_and(|e| e == "der"))
            .collect();
        files.sort();
        files
            .into_iter()
            .map(|f| {
                let pkcs8_der = std::fs::read(&f).expect("key file");
                let key = rsa::PrivateKey::from_pkcs8_der(&pkcs8_der).expect("PKCS#8 key");
                TestKeyPair { pkcs8_der, key }
            })
            .collect()
    })
}

/// The key pairs in tests/data/wrapping.
pub fn test_keys() -> PregeneratedKeys {
    test_keys_where(|_| true)
}

/// The key pairs in tests/data/wrapping that `keep` selects.
pub fn test_keys_where(keep: impl Fn(&rsa::PrivateKey) -> bool) -> PregeneratedKeys {
    let mut keys = PregeneratedKeys::default();
    for pair in test_key_pairs().iter().filter(|p| keep(&p.key)) {
        keys.add(pair.key.clone()).expect("known size");
    }
    keys
}

/// The PKCS#8 DER of the pregenerated private key whose public half is
/// `public_key_der` (the `PublicKey` GetParametersForImport returned).
pub fn private_key_for(public_key_der: &[u8]) -> &'static [u8] {
    use rsa::pkcs8::EncodePublicKey;
    test_key_pairs()
        .iter()
        .find(|p| {
            p.key
                .to_public_key()
                .to_public_key_der()
                .expect("SPKI")
                .as_bytes()
                == public_key_der
        })
        .map(|p| p.pkcs8_der.as_slice())
        .expect("the public key of a pregenerated pair")
}

pub fn seeded(seed: u64) -> StdRng {
    StdRng::seed_from_u64(seed)
}

/// An engine on a manual clock, driven as the console would.
pub struct Harness {
    pub kms: Kms,
    pub clock: ManualClock,
    pub caller: Caller,
    pub rng: StdRng,
}

impl Harness {
    pub fn new() -> Self {
        Self::with_settings(Settings::default())
    }

    pub fn with_settings(settings: Settings) -> Self {
        Self::with_keys(settings, test_keys(), 1)
    }

    /// An engine with the given key pairs and RNG seed.
    pub fn with_keys(settings: Settings, keys: PregeneratedKeys, seed: u64) -> Self {
        let clock = ManualClock::new(START);
        let kms = Kms::new(
            settings,
            Arc::new(clock.clone()),
            Box::new(keys),
            seeded(seed),
        );
        Self {
            kms,
            clock,
            caller: Caller::console(),
            rng: seeded(seed.wrapping_add(1)),
        }
    }

    pub fn advance(&self, d: Duration) {
        self.clock.advance(d);
    }

    pub fn now(&self) -> Timestamp {
        self.kms.now()
    }

    pub fn arn(&self, id: KeyId) -> String {
        self.kms.arn(id)
    }

    pub fn create_external(&mut self) -> KeyId {
        let caller = self.caller.clone();
        self.kms
            .create_key(
                &caller,
                CreateKeyRequest {
                    description: Some("imported key".into()),
                    origin: Some(Origin::External),
                    tags: vec![],
                },
            )
            .expect("CreateKey")
    }

    pub fn create_aws_kms(&mut self) -> KeyId {
        let caller = self.caller.clone();
        self.kms
            .create_key(&caller, CreateKeyRequest::default())
            .expect("CreateKey")
    }

    pub fn params(&mut self, key: KeyId) -> ImportParametersOutput {
        self.params_with(
            key,
            WrappingAlgorithm::RsaesOaepSha256,
            WrappingKeySpec::Rsa2048,
        )
    }

    pub fn params_with(
        &mut self,
        key: KeyId,
        algorithm: WrappingAlgorithm,
        spec: WrappingKeySpec,
    ) -> ImportParametersOutput {
        let caller = self.caller.clone();
        self.kms
            .get_parameters_for_import(&caller, &key.to_string(), algorithm, spec)
            .expect("GetParametersForImport")
    }

    pub fn material(&mut self) -> [u8; 32] {
        let mut m = [0u8; 32];
        rand::Rng::fill_bytes(&mut self.rng, &mut m);
        m
    }

    pub fn wrap(
        &mut self,
        params: &ImportParametersOutput,
        algorithm: WrappingAlgorithm,
        material: &[u8],
    ) -> Vec<u8> {
        let material: [u8; 32] = material.try_into().expect("32 bytes");
        wrap_material(&params.public_key, algorithm, &material, &mut self.rng).expect("wrap")
    }

    pub fn import_request(
        &mut self,
        key: KeyId,
        params: &ImportParametersOutput,
        material: &[u8],
        import_type: Option<ImportType>,
    ) -> ImportKeyMaterialRequest {
        let wrapped = self.wrap(params, WrappingAlgorithm::RsaesOaepSha256, material);
        ImportKeyMaterialRequest {
            key_id: key.to_string(),
            import_token: params.import_token.clone(),
            encrypted_key_material: wrapped,
            expiration_model: Some(ExpirationModel::KeyMaterialDoesNotExpire),
            import_type,
            ..Default::default()
        }
    }

    pub fn try_import(&mut self, req: &ImportKeyMaterialRequest) -> Result<ImportOutput, KmsError> {
        let caller = self.caller.clone();
        self.kms.import_key_material(&caller, req)
    }

    /// GetParametersForImport + wrap + ImportKeyMaterial (never expires).
    pub fn import(
        &mut self,
        key: KeyId,
        material: &[u8; 32],
        import_type: Option<ImportType>,
    ) -> ImportOutput {
        let params = self.params(key);
        let req = self.import_request(key, &params, material, import_type);
        self.try_import(&req).expect("ImportKeyMaterial")
    }

    /// A key with one imported material, ready for use.
    pub fn enabled_external(&mut self) -> (KeyId, [u8; 32]) {
        let key = self.create_external();
        let m = self.material();
        self.import(key, &m, None);
        (key, m)
    }

    pub fn encrypt(&mut self, key: KeyId, plaintext: &[u8]) -> Result<Vec<u8>, KmsError> {
        let caller = self.caller.clone();
        self.kms
            .encrypt(
                &caller,
                &key.to_string(),
                plaintext,
                &EncryptionContext::new(),
            )
            .map(|o| o.ciphertext_blob)
    }

    pub fn decrypt(&mut self, blob: &[u8]) -> Result<byok::kms::DecryptOutput, KmsError> {
        let caller = self.caller.clone();
        self.kms.decrypt(
            &caller,
            &DecryptRequest {
                ciphertext_blob: blob.to_vec(),
                ..Default::default()
            },
        )
    }

    pub fn rotate(&mut self, key: KeyId) -> Result<KeyId, KmsError> {
        let caller = self.caller.clone();
        self.kms.rotate_key_on_demand(&caller, &key.to_string())
    }

    pub fn delete_material(&mut self, key: KeyId, material: Option<&str>) -> Result<(), KmsError> {
        let caller = self.caller.clone();
        self.kms
            .delete_imported_key_material(&caller, &key.to_string(), material)
            .map(|_| ())
    }

    /// Advances past the rotation delay and lets the engine complete the rotation.
    pub fn finish_rotation(&mut self) {
        self.advance(self.kms.settings().rotation_delay() + Duration::from_millis(1));
        self.kms.tick();
    }
}

/// Options for a test vault: the manual clock, the given key pairs, the
/// cheapest key derivation, default settings.
pub fn vault_options(clock: &ManualClock, keys: PregeneratedKeys) -> byok::store::VaultOptions {
    byok::store::VaultOptions {
        clock: Arc::new(clock.clone()),
        wrapping_keys: Box::new(keys),
        kdf: byok::store::format::KdfParams::INSECURE_FAST,
        settings: Settings::default(),
    }
}

/// A passphrase.
pub fn pass(s: &str) -> secrecy::SecretString {
    secrecy::SecretString::from(s.to_string())
}

/// Asserts an error's AWS name and message.
#[track_caller]
pub fn assert_err<T: std::fmt::Debug>(r: Result<T, KmsError>, name: &str, message: &str) {
    match r {
        Ok(v) => panic!("expected {name}, got Ok({v:?})"),
        Err(e) => {
            assert_eq!(
                e.aws_name(),
                name,
                "exception name (message: {})",
                e.message()
            );
            assert_eq!(e.message(), message, "message of {name}");
        }
    }
}

/// Asserts an error's AWS name and that its message contains `part`.
#[track_caller]
pub fn assert_err_contains<T: std::fmt::Debug>(r: Result<T, KmsError>, name: &str, part: &str) {
    match r {
        Ok(v) => panic!("expected {name}, got Ok({v:?})"),
        Err(e) => {
            assert_eq!(
                e.aws_name(),
                name,
                "exception name (message: {})",
                e.message()
            );
            assert!(
                e.message().contains(part),
                "message {:?} should contain {part:?}",
                e.message()
            );
        }
    }
}

/// Lowercase hex.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Through any backend (a local store, `byok serve`, an AWS store): a new
/// EXTERNAL key made from `input` (its origin set), with `material` imported
/// as its first material, wrapped with RSAES_OAEP_SHA_256 under a 2048-bit
/// key, described `material_description`; expiring at `valid_to` when
/// given. Answers the key ARN and the material id.
pub fn external_key_through(
    b: &dyn byok::backend::Backend,
    input: byok::api::shapes::CreateKeyInput,
    material: &[u8; 32],
    material_description: Option<&str>,
    valid_to: Option<Timestamp>,
) -> (String, String) {
    use byok::api::op;
    use byok::api::shapes::*;
    use byok::backend::send;
    let arn = send::<op::CreateKey>(
        b,
        &CreateKeyInput {
            origin: Some("EXTERNAL".into()),
            ..input
        },
    )
    .expect("CreateKey")
    .key_metadata
    .arn;
    let params = send::<op::GetParametersForImport>(
        b,
        &GetParametersForImportInput {
            key_id: Some(arn.clone()),
            wrapping_algorithm: Some("RSAES_OAEP_SHA_256".into()),
            wrapping_key_spec: Some("RSA_2048".into()),
        },
    )
    .expect("GetParametersForImport");
    let wrapped = wrap_material(
        params.public_key.bytes(),
        WrappingAlgorithm::RsaesOaepSha256,
        material,
        &mut rand::rng(),
    )
    .expect("wrap");
    let id = send::<op::ImportKeyMaterial>(
        b,
        &ImportKeyMaterialInput {
            key_id: Some(arn.clone()),
            import_token: Some(params.import_token),
            encrypted_key_material: Some(byok::api::wire::Blob::from(wrapped)),
            expiration_model: Some(
                byok::kms::ExpirationModel::for_valid_to(valid_to)
                    .as_str()
                    .into(),
            ),
            valid_to: valid_to.map(byok::api::wire::Time),
            key_material_description: material_description.map(str::to_string),
            ..Default::default()
        },
    )
    .expect("ImportKeyMaterial")
    .key_material_id;
    (arn, id)
}

/// The JSON API as a client calls it: `op` with `body`, the answer parsed.
pub fn call(
    kms: &mut Kms,
    op: &str,
    body: serde_json::Value,
) -> Result<serde_json::Value, byok::api::ApiError> {
    byok::api::dispatch(kms, &Caller::cli(), op, body.to_string().as_bytes())
        .map(|b| serde_json::from_slice(&b).expect("JSON answer"))
}

/// The answer of a call that must succeed.
#[track_caller]
pub fn ok(r: Result<serde_json::Value, byok::api::ApiError>) -> serde_json::Value {
    r.unwrap_or_else(|e| panic!("expected success, got {e:?}"))
}

/// A call refused with exception `name` and exactly `message`.
#[track_caller]
pub fn refused(r: Result<serde_json::Value, byok::api::ApiError>, name: &str, message: &str) {
    match r {
        Ok(v) => panic!("expected {name}, got {v}"),
        Err(e) => {
            assert_eq!(e.error_type, name, "exception (message {:?})", e.message);
            assert_eq!(e.message, message, "message of {name}");
        }
    }
}

/// Standard base64, as the JSON API carries blobs.
pub fn b64(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Runs `openssl <args>` in `dir`; fails the test with its stderr.
#[track_caller]
pub fn openssl(dir: &Path, args: &[&str]) -> Vec<u8> {
    let out = std::process::Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("the openssl command (OpenSSL 3) must be installed");
    assert!(
        out.status.success(),
        "openssl {} failed: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}
