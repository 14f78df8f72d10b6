//! Random operation sequences against a reference model (DESIGN.md: "property
//! tests (random operation sequences against invariants)").
//!
//! Each case builds an engine on a manual clock and applies 10–40 random
//! steps: creating keys (symmetric encryption keys, and HMAC_256 keys that
//! take 32-byte imported material but never rotate on demand, take no second
//! new material and do not encrypt: issue 8; ECC_NIST_P256 SIGN_VERIFY keys
//! whose material is the P-256 private key a 32-byte scalar makes, with the
//! same refusals and Sign/Verify instead of MACs), importing new and known material with and without
//! `ValidTo`, rotating, deleting material, enabling and disabling, scheduling
//! and cancelling deletion, encrypting, decrypting earlier ciphertexts,
//! GenerateMac with VerifyMac of its MAC and of a changed one, Sign with
//! Verify of its signature and of another message, clock
//! jumps of milliseconds to weeks, and ticks. Beside the engine runs a model
//! written from SPEC §2–§4 alone; it predicts every outcome (exception name
//! and message included) and every service event. After every step:
//!
//! - at most one `CURRENT` and one `PENDING_ROTATION` material per key;
//! - `Key::state()` equals SPEC §2 re-derived from the model, and from the
//!   engine's own fields;
//! - no `IMPORTED` material has `ValidTo` ≤ the time of the last call;
//! - every key, material and rotation field equals the model's;
//! - every ciphertext made so far would decrypt exactly when its key exists
//!   and is `Enabled` (and the real Decrypt steps, and a sweep at the end of
//!   each case, decrypt them to their plaintexts), otherwise fails with the
//!   exception the model predicts;
//! - the audit records are one per call plus the predicted service events,
//!   at their due times, and the hash chain verifies.

mod common;

use std::time::Duration;

use byok::kms::audit::verify_chain;
use byok::kms::material::key_material_id;
use byok::kms::{
    AuditRecord, CreateKeyRequest, DecryptRequest, EncryptionContext, ExpirationModel,
    ImportKeyMaterialRequest, ImportParametersOutput, ImportState, ImportType, KeyId,
    KeyMaterialId, KeyMaterialState, KeySpec, KeyState, KmsError, MacAlgorithm, Origin,
    RotationType, Settings, SigningAlgorithm, Timestamp, WrappingAlgorithm, WrappingKeySpec,
    wrap_material,
};
use common::*;
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use rand::rngs::StdRng;
use rsa::traits::PublicKeyParts;

const SECOND: u64 = 1_000;
const MINUTE: u64 = 60 * SECOND;
const HOUR: u64 = 60 * MINUTE;
const DAY: u64 = 24 * HOUR;

// ----- the operations -----

/// Which bytes an import brings.
#[derive(Clone, Debug)]
enum Bytes {
    /// Never seen before.
    Fresh,
    /// Bytes this key has had (index into its history).
    OfThisKey(usize),
    /// Bytes any key has had (index into all bytes used so far).
    OfAnyKey(usize),
}

/// Which material DeleteImportedKeyMaterial names.
#[derive(Clone, Debug)]
enum Target {
    /// No `KeyMaterialId`: the current material.
    Current,
    /// One the key has had (index into its history).
    OfThisKey(usize),
    /// An id no key has.
    Unknown,
}

#[derive(Clone, Debug)]
enum Op {
    CreateKey {
        external: bool,
        kind: Kind,
    },
    Import {
        key: usize,
        bytes: Bytes,
        valid_for_ms: Option<u64>,
        import_type: Option<ImportType>,
        new_parameters: bool,
        give_id: bool,
    },
    Rotate {
        key: usize,
    },
    DeleteMaterial {
        key: usize,
        target: Target,
    },
    Enable {
        key: usize,
    },
    Disable {
        key: usize,
    },
    ScheduleDeletion {
        key: usize,
        days: i64,
    },
    CancelDeletion {
        key: usize,
    },
    Encrypt {
        key: usize,
        plaintext: Vec<u8>,
    },
    Decrypt {
        ciphertext: usize,
    },
    /// GenerateMac, then VerifyMac of its MAC and of a changed one.
    Mac {
        key: usize,
        message: Vec<u8>,
    },
    /// Sign, then Verify of its signature and of another message.
    Sign {
        key: usize,
        message: Vec<u8>,
    },
    Advance {
        ms: u64,
    },
    Tick,
}

fn jump_ms() -> impl Strategy<Value = u64> {
    prop_oneof![
        1u64..SECOND,
        SECOND..10 * SECOND,
        MINUTE..6 * HOUR,
        DAY..3 * DAY,
        3 * DAY..40 * DAY,
    ]
}

fn valid_for_ms() -> impl Strategy<Value = Option<u64>> {
    prop_oneof![
        4 => Just(None),
        2 => (1u64..10 * SECOND).prop_map(Some),
        2 => (MINUTE..2 * DAY).prop_map(Some),
        1 => (2 * DAY..=365 * DAY).prop_map(Some),
        1 => Just(Some(0)),                               // not in the future
        1 => (365 * DAY + 1..400 * DAY).prop_map(Some),   // too far ahead
    ]
}

fn op() -> impl Strategy<Value = Op> {
    let key = || 0usize..6;
    prop_oneof![
        2 => (
            proptest::bool::weighted(0.8),
            prop_oneof![6 => Just(Kind::Symmetric), 2 => Just(Kind::Hmac), 2 => Just(Kind::Signing)]
        )
            .prop_map(|(external, kind)| Op::CreateKey { external, kind }),
        7 => (
            key(),
            prop_oneof![
                3 => Just(Bytes::Fresh),
                3 => (0usize..8).prop_map(Bytes::OfThisKey),
                1 => (0usize..16).prop_map(Bytes::OfAnyKey),
            ],
            valid_for_ms(),
            prop_oneof![
                2 => Just(None),
                2 => Just(Some(ImportType::NewKeyMaterial)),
                2 => Just(Some(ImportType::ExistingKeyMaterial)),
            ],
            proptest::bool::weighted(0.3),
            proptest::bool::weighted(0.2),
        )
            .prop_map(|(key, bytes, valid_for_ms, import_type, new_parameters, give_id)| Op::Import {
                key,
                bytes,
                valid_for_ms,
                import_type,
                new_parameters,
                give_id,
            }),
        3 => key().prop_map(|key| Op::Rotate { key }),
        2 => (
            key(),
            prop_oneof![
                2 => Just(Target::Current),
                3 => (0usize..8).prop_map(Target::OfThisKey),
                1 => Just(Target::Unknown),
            ]
        )
            .prop_map(|(key, target)| Op::DeleteMaterial { key, target }),
        1 => key().prop_map(|key| Op::Enable { key }),
        1 => key().prop_map(|key| Op::Disable { key }),
        1 => (key(), 7i64..=30).prop_map(|(key, days)| Op::ScheduleDeletion { key, days }),
        1 => key().prop_map(|key| Op::CancelDeletion { key }),
        4 => (key(), proptest::collection::vec(any::<u8>(), 1..48))
            .prop_map(|(key, plaintext)| Op::Encrypt { key, plaintext }),
        3 => (0usize..64).prop_map(|ciphertext| Op::Decrypt { ciphertext }),
        2 => (key(), proptest::collection::vec(any::<u8>(), 1..48))
            .prop_map(|(key, message)| Op::Mac { key, message }),
        2 => (key(), proptest::collection::vec(any::<u8>(), 1..48))
            .prop_map(|(key, message)| Op::Sign { key, message }),
        5 => jump_ms().prop_map(|ms| Op::Advance { ms }),
        1 => Just(Op::Tick),
    ]
}

// ----- the model (SPEC §2–§4) -----

/// What kind of key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// SYMMETRIC_DEFAULT, ENCRYPT_DECRYPT.
    Symmetric,
    /// HMAC_256, GENERATE_VERIFY_MAC.
    Hmac,
    /// ECC_NIST_P256, SIGN_VERIFY.
    Signing,
}

impl Kind {
    fn spec(self) -> KeySpec {
        match self {
            Kind::Symmetric => KeySpec::SymmetricDefault,
            Kind::Hmac => KeySpec::Hmac256,
            Kind::Signing => KeySpec::EccNistP256,
        }
    }
    fn usage(self) -> &'static str {
        match self {
            Kind::Symmetric => "ENCRYPT_DECRYPT",
            Kind::Hmac => "GENERATE_VERIFY_MAC",
            Kind::Signing => "SIGN_VERIFY",
        }
    }
}

/// The material a key of `kind` takes for the 32 bytes `seed`: the bytes
/// themselves, or for a signing key the P-256 private key with that scalar
/// as DER PKCS #8 (the canonical encoding byok keeps).
fn payload(kind: Kind, seed: &[u8; 32]) -> Vec<u8> {
    use p256::pkcs8::EncodePrivateKey;
    match kind {
        Kind::Signing => p256::SecretKey::from_slice(seed)
            .expect("a random scalar below the group order")
            .to_pkcs8_der()
            .expect("PKCS #8")
            .as_bytes()
            .to_vec(),
        _ => seed.to_vec(),
    }
}

#[derive(Clone, Debug)]
struct ModelMaterial {
    /// `None` until learnt, for material the engine generates (`AWS_KMS`).
    id: Option<KeyMaterialId>,
    imported: bool,
    state: KeyMaterialState,
    expiration_model: ExpirationModel,
    valid_to: Option<Timestamp>,
    rotation: Option<(Timestamp, RotationType)>,
}

#[derive(Clone, Debug)]
struct ModelKey {
    id: KeyId,
    arn: String,
    origin: Origin,
    /// Symmetric, HMAC_256 or ECC_NIST_P256 signing key.
    kind: Kind,
    alive: bool,
    enabled: bool,
    deletion: Option<Timestamp>,
    materials: Vec<ModelMaterial>,
    rotation_started: Option<Timestamp>,
    on_demand_rotations: u32,
    parameters: Option<ImportParametersOutput>,
    /// Every byte string imported into this key.
    history: Vec<[u8; 32]>,
}

impl ModelKey {
    /// SPEC §2, from the model's own record of the key.
    fn state(&self) -> KeyState {
        if self.deletion.is_some() {
            KeyState::PendingDeletion
        } else if self.materials.is_empty()
            || self
                .materials
                .iter()
                .any(|m| m.state != KeyMaterialState::PendingRotation && !m.imported)
        {
            KeyState::PendingImport
        } else if self.enabled {
            KeyState::Enabled
        } else {
            KeyState::Disabled
        }
    }

    fn position(&self, state: KeyMaterialState) -> Option<usize> {
        self.materials.iter().position(|m| m.state == state)
    }

    fn current_id(&self) -> Option<KeyMaterialId> {
        self.position(KeyMaterialState::Current)
            .and_then(|i| self.materials[i].id)
    }
}

/// A service event the model expects in the audit trail.
#[derive(Clone, Debug, PartialEq)]
struct ServiceEvent {
    name: &'static str,
    time: Timestamp,
    key: KeyId,
    /// `keyMaterialId` (expiry) or `currentKeyMaterialId` (rotation), when known.
    material: Option<KeyMaterialId>,
    /// `previousKeyMaterialId` (rotation).
    previous: Option<KeyMaterialId>,
}

struct Ciphertext {
    key: KeyId,
    material: KeyMaterialId,
    plaintext: Vec<u8>,
    blob: Vec<u8>,
}

/// What a call should give.
type Outcome = Result<(), (&'static str, String)>;

fn state_error(arn: &str, state: KeyState) -> (&'static str, String) {
    match state {
        KeyState::Disabled => ("DisabledException", format!("{arn} is disabled.")),
        KeyState::PendingImport => (
            "KMSInvalidStateException",
            format!("{arn} is pending import."),
        ),
        KeyState::PendingDeletion => (
            "KMSInvalidStateException",
            format!("{arn} is pending deletion."),
        ),
        KeyState::Enabled => unreachable!("nothing refuses an enabled key for its state"),
    }
}

fn not_found(arn: &str) -> (&'static str, String) {
    ("NotFoundException", format!("Key '{arn}' does not exist"))
}

/// Applies what fell due by `now`, in order of due time (ties: expiries,
/// then rotations, then deletions), and records the service events.
fn advance_model(
    keys: &mut [ModelKey],
    delay: Duration,
    now: Timestamp,
    events: &mut Vec<ServiceEvent>,
) {
    #[derive(Clone, Copy)]
    enum Due {
        Expiry(usize),
        Rotation,
        Deletion,
    }
    loop {
        let mut next: Option<(Timestamp, u8, KeyId, Option<KeyMaterialId>, usize, Due)> = None;
        for (k, key) in keys.iter().enumerate().filter(|(_, k)| k.alive) {
            let mut offer = |c: (Timestamp, u8, KeyId, Option<KeyMaterialId>, usize, Due)| {
                if next
                    .as_ref()
                    .is_none_or(|n| (c.0, c.1, c.2, c.3) < (n.0, n.1, n.2, n.3))
                {
                    next = Some(c);
                }
            };
            for (i, m) in key.materials.iter().enumerate() {
                if let (true, Some(t)) = (m.imported, m.valid_to) {
                    offer((t, 0, key.id, m.id, k, Due::Expiry(i)));
                }
            }
            if let Some(start) = key.rotation_started {
                offer((start.plus(delay), 1, key.id, None, k, Due::Rotation));
            }
            if let Some(d) = key.deletion {
                offer((d, 3, key.id, None, k, Due::Deletion));
            }
        }
        let Some((t, _, _, _, k, due)) = next.filter(|n| n.0 <= now) else {
            return;
        };
        let key = &mut keys[k];
        match due {
            Due::Expiry(i) => {
                let id = key.materials[i].id;
                if key.materials[i].state == KeyMaterialState::PendingRotation {
                    key.materials.remove(i);
                    key.rotation_started = None;
                } else {
                    key.materials[i].imported = false;
                }
                events.push(ServiceEvent {
                    name: "DeleteExpiredKeyMaterial",
                    time: t,
                    key: key.id,
                    material: id,
                    previous: None,
                });
            }
            Due::Rotation => {
                key.rotation_started = None;
                if key.origin == Origin::AwsKms {
                    key.materials.push(ModelMaterial {
                        id: None,
                        imported: true,
                        state: KeyMaterialState::PendingRotation,
                        expiration_model: ExpirationModel::KeyMaterialDoesNotExpire,
                        valid_to: None,
                        rotation: None,
                    });
                }
                if let Some(p) = key.position(KeyMaterialState::PendingRotation) {
                    let previous = key.current_id();
                    for m in &mut key.materials {
                        if m.state == KeyMaterialState::Current {
                            m.state = KeyMaterialState::NonCurrent;
                        }
                    }
                    key.materials[p].state = KeyMaterialState::Current;
                    key.materials[p].rotation = Some((t, RotationType::OnDemand));
                    key.on_demand_rotations += 1;
                    events.push(ServiceEvent {
                        name: "RotateKey",
                        time: t,
                        key: key.id,
                        material: key.materials[p].id,
                        previous,
                    });
                }
            }
            Due::Deletion => {
                key.alive = false;
                events.push(ServiceEvent {
                    name: "DeleteKey",
                    time: t,
                    key: key.id,
                    material: None,
                    previous: None,
                });
            }
        }
    }
}

// ----- the run -----

struct Run {
    h: Harness,
    rng: StdRng,
    delay: Duration,
    keys: Vec<ModelKey>,
    ciphertexts: Vec<Ciphertext>,
    all_bytes: Vec<[u8; 32]>,
    /// Service events the model expects since the last check.
    events: Vec<ServiceEvent>,
    /// API calls made since the last check, with their outcomes.
    calls: Vec<(&'static str, Outcome)>,
    /// The time of the last engine call: everything due by then is applied.
    engine_time: Timestamp,
    last_record: Option<AuditRecord>,
    log: Vec<String>,
}

macro_rules! check_outcome {
    ($run:expr, $op:expr, $expected:expr, $result:expr) => {{
        let expected: Outcome = $expected;
        let result = $result;
        let got: Outcome = match &result {
            Ok(_) => Ok(()),
            Err(e) => Err((e.aws_name(), e.message().to_string())),
        };
        prop_assert_eq!(&got, &expected, "{} (steps so far: {:#?})", $op, $run.log);
        $run.calls.push(($op, got));
        result
    }};
}

impl Run {
    fn new(seed: u64, delay_ms: u64) -> Self {
        let settings = Settings {
            rotation_delay_ms: delay_ms,
            ..Settings::default()
        };
        // RSA-2048 pairs only: unwrapping is what an import costs.
        let h = Harness::with_keys(settings, test_keys_where(|k| k.size() == 256), seed);
        let engine_time = h.now();
        Self {
            h,
            rng: seeded(seed ^ 0x5eed),
            delay: Duration::from_millis(delay_ms),
            keys: Vec::new(),
            ciphertexts: Vec::new(),
            all_bytes: Vec::new(),
            events: Vec::new(),
            calls: Vec::new(),
            engine_time,
            last_record: None,
            log: Vec::new(),
        }
    }

    /// Brings the model to the engine's clock, as the engine does first
    /// thing in every call.
    fn before_call(&mut self) -> Timestamp {
        let now = self.h.now();
        advance_model(&mut self.keys, self.delay, now, &mut self.events);
        self.engine_time = now;
        now
    }

    /// Learns the ids of materials the engine generated.
    fn learn_generated_ids(&mut self) {
        for key in self.keys.iter_mut().filter(|k| k.alive) {
            let Some(engine_key) = self.h.kms.key(key.id) else {
                continue;
            };
            for (m, e) in key.materials.iter_mut().zip(engine_key.materials()) {
                if m.id.is_none() {
                    m.id = Some(e.id());
                }
            }
        }
    }

    fn key_index(&self, i: usize) -> Option<usize> {
        (!self.keys.is_empty()).then(|| i % self.keys.len())
    }

    fn step(&mut self, op: &Op) -> Result<(), TestCaseError> {
        self.log.push(format!("{} {op:?}", self.h.now()));
        let caller = self.h.caller.clone();
        match op {
            Op::CreateKey { external, kind } => {
                self.before_call();
                let origin = if *external {
                    Origin::External
                } else {
                    Origin::AwsKms
                };
                let req = CreateKeyRequest {
                    origin: Some(origin),
                    ..Default::default()
                };
                let spec = kind.spec();
                let usage = kind.usage().parse().expect("a key usage");
                let id = check_outcome!(
                    self,
                    "CreateKey",
                    Ok(()),
                    self.h.kms.create_key_with_usage(&caller, req, spec, usage)
                )
                .unwrap();
                let materials = if origin == Origin::AwsKms {
                    vec![ModelMaterial {
                        id: None,
                        imported: true,
                        state: KeyMaterialState::Current,
                        expiration_model: ExpirationModel::KeyMaterialDoesNotExpire,
                        valid_to: None,
                        rotation: None,
                    }]
                } else {
                    Vec::new()
                };
                self.keys.push(ModelKey {
                    id,
                    arn: self.h.arn(id),
                    origin,
                    kind: *kind,
                    alive: true,
                    enabled: true,
                    deletion: None,
                    materials,
                    rotation_started: None,
                    on_demand_rotations: 0,
                    parameters: None,
                    history: Vec::new(),
                });
            }
            Op::Import {
                key,
                bytes,
                valid_for_ms,
                import_type,
                new_parameters,
                give_id,
            } => {
                let Some(k) = self.key_index(*key) else {
                    return Ok(());
                };
                let now = self.before_call();
                let id = self.keys[k].id;
                let arn = self.keys[k].arn.clone();
                // GetParametersForImport when asked to, or when there are none yet.
                if *new_parameters || self.keys[k].parameters.is_none() {
                    let m = &self.keys[k];
                    let expected = if !m.alive {
                        Err(not_found(&arn))
                    } else if m.origin != Origin::External {
                        Err((
                            "UnsupportedOperationException",
                            format!(
                                "{arn} origin is AWS_KMS which is not valid for this operation."
                            ),
                        ))
                    } else if m.state() == KeyState::PendingDeletion {
                        Err(state_error(&arn, KeyState::PendingDeletion))
                    } else {
                        Ok(())
                    };
                    let result = self.h.kms.get_parameters_for_import(
                        &caller,
                        &id.to_string(),
                        WrappingAlgorithm::RsaesOaepSha256,
                        WrappingKeySpec::Rsa2048,
                    );
                    if let Ok(p) = check_outcome!(self, "GetParametersForImport", expected, result)
                    {
                        prop_assert_eq!(
                            p.parameters_valid_to,
                            now.plus(Duration::from_secs(24 * 3600))
                        );
                        self.keys[k].parameters = Some(p);
                    }
                }
                let material: [u8; 32] = match bytes {
                    Bytes::OfThisKey(i) if !self.keys[k].history.is_empty() => {
                        self.keys[k].history[i % self.keys[k].history.len()]
                    }
                    Bytes::OfAnyKey(i) if !self.all_bytes.is_empty() => {
                        self.all_bytes[i % self.all_bytes.len()]
                    }
                    _ => {
                        let mut b = [0u8; 32];
                        rand::Rng::fill_bytes(&mut self.rng, &mut b);
                        b
                    }
                };
                let bytes_in = payload(self.keys[k].kind, &material);
                let material_id = key_material_id(id, &bytes_in);
                let (token, wrapped, token_valid_to) = match &self.keys[k].parameters {
                    Some(p) => (
                        p.import_token.clone(),
                        wrap_material(
                            &p.public_key,
                            WrappingAlgorithm::RsaesOaepSha256,
                            &bytes_in,
                            &mut self.rng,
                        )
                        .expect("wrap"),
                        p.parameters_valid_to,
                    ),
                    None => (vec![1; byok::kms::token::TOKEN_LEN], vec![1; 256], now),
                };
                let valid_to = valid_for_ms.map(|ms| now.plus(Duration::from_millis(ms)));
                let req = ImportKeyMaterialRequest {
                    key_id: id.to_string(),
                    import_token: token,
                    encrypted_key_material: wrapped,
                    expiration_model: Some(ExpirationModel::for_valid_to(valid_to)),
                    valid_to,
                    import_type: *import_type,
                    key_material_description: None,
                    key_material_id: give_id.then(|| material_id.to_string()),
                };
                // SPEC §3's checks, in order.
                let m = &self.keys[k];
                let effective_type = import_type.unwrap_or(if m.materials.is_empty() {
                    ImportType::NewKeyMaterial
                } else {
                    ImportType::ExistingKeyMaterial
                });
                let known = m.materials.iter().any(|x| x.id == Some(material_id));
                let expected: Outcome = if let Some(t) = valid_to.filter(|t| *t <= now) {
                    Err((
                        "ValidationException",
                        format!(
                            "The validTo date {t} is in the past. It must be in the future and at most 365 days from now."
                        ),
                    ))
                } else if let Some(t) =
                    valid_to.filter(|t| *t > now.plus(byok::kms::clock::days(365)))
                {
                    Err((
                        "ValidationException",
                        format!(
                            "The validTo date {t} is more than 365 days from now. It must be in the future and at most 365 days from now."
                        ),
                    ))
                } else if *give_id && *import_type == Some(ImportType::NewKeyMaterial) {
                    Err((
                        "ValidationException",
                        "KeyMaterialId can only be specified when ImportType is EXISTING_KEY_MATERIAL".into(),
                    ))
                } else if !m.alive {
                    Err(not_found(&arn))
                } else if m.origin != Origin::External {
                    Err((
                        "UnsupportedOperationException",
                        format!("{arn} origin is AWS_KMS which is not valid for this operation."),
                    ))
                } else if m.state() == KeyState::PendingDeletion {
                    Err(state_error(&arn, KeyState::PendingDeletion))
                } else if m.kind != Kind::Symmetric
                    && *import_type == Some(ImportType::NewKeyMaterial)
                    && !m.materials.is_empty()
                {
                    Err((
                        "UnsupportedOperationException",
                        format!(
                            "New key material cannot be imported into KMS key {arn}. For asymmetric, HMAC and multi-Region keys, you cannot change the key material after the initial import."
                        ),
                    ))
                } else if token_valid_to <= now {
                    Err((
                        "ExpiredImportTokenException",
                        format!(
                            "The import token expired at {token_valid_to}. Call GetParametersForImport for a new public key and import token, and wrap the key material again."
                        ),
                    ))
                } else if effective_type == ImportType::ExistingKeyMaterial && !known {
                    Err((
                        "IncorrectKeyMaterialException",
                        format!(
                            "The key material in the request is not associated with KMS key {arn}. To import new key material, set ImportType to NEW_KEY_MATERIAL."
                        ),
                    ))
                } else if effective_type == ImportType::NewKeyMaterial && known {
                    Err((
                        "IncorrectKeyMaterialException",
                        format!(
                            "The key material in the request is already associated with KMS key {arn} (key material {material_id}). To reimport it, set ImportType to EXISTING_KEY_MATERIAL."
                        ),
                    ))
                } else if let Some(p) = (effective_type == ImportType::NewKeyMaterial)
                    .then(|| m.position(KeyMaterialState::PendingRotation))
                    .flatten()
                {
                    Err((
                        "KMSInvalidStateException",
                        format!(
                            "New key material (id: {material_id}) cannot be imported into KMS key {arn}, because another key material (id: {}) is pending rotation.",
                            m.materials[p].id.expect("imported material has a known id")
                        ),
                    ))
                } else {
                    Ok(())
                };
                let result = self.h.kms.import_key_material(&caller, &req);
                let out = check_outcome!(self, "ImportKeyMaterial", expected, result);
                if let Ok(out) = out {
                    prop_assert_eq!(out.key_material_id, material_id);
                    prop_assert_eq!(out.import_type, effective_type);
                    let key = &mut self.keys[k];
                    let expiration_model = if valid_to.is_some() {
                        ExpirationModel::KeyMaterialExpires
                    } else {
                        ExpirationModel::KeyMaterialDoesNotExpire
                    };
                    if effective_type == ImportType::NewKeyMaterial {
                        let state = if key.materials.is_empty() {
                            KeyMaterialState::Current
                        } else {
                            KeyMaterialState::PendingRotation
                        };
                        key.materials.push(ModelMaterial {
                            id: Some(material_id),
                            imported: true,
                            state,
                            expiration_model,
                            valid_to,
                            rotation: None,
                        });
                        prop_assert_eq!(out.key_material_state, state);
                    } else {
                        let m = key
                            .materials
                            .iter_mut()
                            .find(|x| x.id == Some(material_id))
                            .unwrap();
                        m.imported = true;
                        m.expiration_model = expiration_model;
                        m.valid_to = valid_to;
                        prop_assert_eq!(out.key_material_state, m.state);
                    }
                    if !key.history.contains(&material) {
                        key.history.push(material);
                    }
                    if !self.all_bytes.contains(&material) {
                        self.all_bytes.push(material);
                    }
                }
            }
            Op::Rotate { key } => {
                let Some(k) = self.key_index(*key) else {
                    return Ok(());
                };
                let now = self.before_call();
                let m = &self.keys[k];
                let arn = m.arn.clone();
                let expected = if !m.alive {
                    Err(not_found(&arn))
                } else if m.kind != Kind::Symmetric {
                    Err((
                        "UnsupportedOperationException",
                        "You cannot perform this operation on a non-symmetric key or a key with non-ENCRYPT_DECRYPT key usage.".to_string(),
                    ))
                } else if m.state() != KeyState::Enabled {
                    Err(state_error(&arn, m.state()))
                } else if m.origin == Origin::External
                    && m.position(KeyMaterialState::PendingRotation).is_none()
                {
                    Err((
                        "KMSInvalidStateException",
                        format!("No available key material pending rotation for the key: {arn}."),
                    ))
                } else if m.rotation_started.is_some() {
                    Err((
                        "ConflictException",
                        format!("A rotation of key {arn} is already in progress."),
                    ))
                } else if m.on_demand_rotations >= 25 {
                    Err((
                        "LimitExceededException",
                        format!(
                            "The on-demand rotations limit has been reached for the given keyId. No more on-demand rotations can be performed for this key: {arn}"
                        ),
                    ))
                } else {
                    Ok(())
                };
                let result = self.h.kms.rotate_key_on_demand(&caller, &m.id.to_string());
                if check_outcome!(self, "RotateKeyOnDemand", expected, result).is_ok() {
                    self.keys[k].rotation_started = Some(now);
                }
            }
            Op::DeleteMaterial { key, target } => {
                let Some(k) = self.key_index(*key) else {
                    return Ok(());
                };
                self.before_call();
                let m = &self.keys[k];
                let arn = m.arn.clone();
                let requested: Option<KeyMaterialId> = match target {
                    Target::Current => None,
                    Target::OfThisKey(i) if !m.history.is_empty() => Some(key_material_id(
                        m.id,
                        &payload(m.kind, &m.history[i % m.history.len()]),
                    )),
                    Target::OfThisKey(_) => None,
                    Target::Unknown => Some(KeyMaterialId::from_bytes([0xee; 32])),
                };
                let target_id = requested.or(m.current_id());
                let position =
                    target_id.and_then(|t| m.materials.iter().position(|x| x.id == Some(t)));
                let expected = if !m.alive {
                    Err(not_found(&arn))
                } else if m.origin != Origin::External {
                    Err((
                        "UnsupportedOperationException",
                        format!("{arn} origin is AWS_KMS which is not valid for this operation."),
                    ))
                } else {
                    match (target_id, position) {
                        (None, _) => Err((
                            "KMSInvalidStateException",
                            format!("{arn} has no key material to delete."),
                        )),
                        (Some(t), None) => Err((
                            "NotFoundException",
                            format!("Key material {t} does not exist in KMS key {arn}."),
                        )),
                        (Some(t), Some(p)) if !m.materials[p].imported => Err((
                            "KMSInvalidStateException",
                            format!(
                                "Key material {t} of KMS key {arn} is already deleted (its import state is PENDING_IMPORT)."
                            ),
                        )),
                        _ => Ok(()),
                    }
                };
                let requested_text = requested.map(|r| r.to_string());
                let result = self.h.kms.delete_imported_key_material(
                    &caller,
                    &m.id.to_string(),
                    requested_text.as_deref(),
                );
                if let Ok((_, deleted)) =
                    check_outcome!(self, "DeleteImportedKeyMaterial", expected, result)
                {
                    prop_assert_eq!(Some(deleted), target_id);
                    let key = &mut self.keys[k];
                    let p = position.unwrap();
                    if key.materials[p].state == KeyMaterialState::PendingRotation {
                        key.materials.remove(p);
                        key.rotation_started = None;
                    } else {
                        key.materials[p].imported = false;
                    }
                }
            }
            Op::Enable { key } | Op::Disable { key } => {
                let Some(k) = self.key_index(*key) else {
                    return Ok(());
                };
                self.before_call();
                let enable = matches!(op, Op::Enable { .. });
                let m = &self.keys[k];
                let expected = if !m.alive {
                    Err(not_found(&m.arn))
                } else if !matches!(m.state(), KeyState::Enabled | KeyState::Disabled) {
                    Err(state_error(&m.arn, m.state()))
                } else {
                    Ok(())
                };
                let id = m.id.to_string();
                let ok = if enable {
                    check_outcome!(
                        self,
                        "EnableKey",
                        expected,
                        self.h.kms.enable_key(&caller, &id)
                    )
                    .is_ok()
                } else {
                    check_outcome!(
                        self,
                        "DisableKey",
                        expected,
                        self.h.kms.disable_key(&caller, &id)
                    )
                    .is_ok()
                };
                if ok {
                    self.keys[k].enabled = enable;
                }
            }
            Op::ScheduleDeletion { key, days } => {
                let Some(k) = self.key_index(*key) else {
                    return Ok(());
                };
                let now = self.before_call();
                let m = &self.keys[k];
                let expected = if !m.alive {
                    Err(not_found(&m.arn))
                } else if m.state() == KeyState::PendingDeletion {
                    Err(state_error(&m.arn, KeyState::PendingDeletion))
                } else {
                    Ok(())
                };
                let result =
                    self.h
                        .kms
                        .schedule_key_deletion(&caller, &m.id.to_string(), Some(*days));
                if let Ok(out) = check_outcome!(self, "ScheduleKeyDeletion", expected, result) {
                    let date = now.plus(byok::kms::clock::days(*days as u64));
                    prop_assert_eq!(out.deletion_date, date);
                    self.keys[k].deletion = Some(date);
                    self.keys[k].rotation_started = None;
                }
            }
            Op::CancelDeletion { key } => {
                let Some(k) = self.key_index(*key) else {
                    return Ok(());
                };
                self.before_call();
                let m = &self.keys[k];
                let expected = if !m.alive {
                    Err(not_found(&m.arn))
                } else if m.state() != KeyState::PendingDeletion {
                    Err((
                        "KMSInvalidStateException",
                        format!("{} is not pending deletion.", m.arn),
                    ))
                } else {
                    Ok(())
                };
                let result = self.h.kms.cancel_key_deletion(&caller, &m.id.to_string());
                if check_outcome!(self, "CancelKeyDeletion", expected, result).is_ok() {
                    self.keys[k].deletion = None;
                    self.keys[k].enabled = false;
                }
            }
            Op::Mac { key, message } => {
                let Some(k) = self.key_index(*key) else {
                    return Ok(());
                };
                self.before_call();
                let m = &self.keys[k];
                let expected = if !m.alive {
                    Err(not_found(&m.arn))
                } else if m.state() != KeyState::Enabled {
                    Err(state_error(&m.arn, m.state()))
                } else if m.kind != Kind::Hmac {
                    Err((
                        "InvalidKeyUsageException",
                        format!(
                            "{} key usage is {} which is not valid for GenerateMac.",
                            m.arn,
                            m.kind.usage()
                        ),
                    ))
                } else {
                    Ok(())
                };
                let id = m.id.to_string();
                let result =
                    self.h
                        .kms
                        .generate_mac(&caller, &id, message, MacAlgorithm::HmacSha256, false);
                if let Ok(out) = check_outcome!(self, "GenerateMac", expected, result) {
                    self.learn_generated_ids();
                    // The MAC of the current material's bytes, when the
                    // model knows them (imported material).
                    let current = self.keys[k].current_id();
                    if let Some(bytes) = self.keys[k]
                        .history
                        .iter()
                        .find(|b| Some(key_material_id(self.keys[k].id, &b[..])) == current)
                    {
                        prop_assert_eq!(
                            &out.mac,
                            &byok::kms::hmac(MacAlgorithm::HmacSha256, bytes, message)
                        );
                    }
                    self.before_call();
                    let verified = self.h.kms.verify_mac(
                        &caller,
                        &id,
                        message,
                        &out.mac,
                        MacAlgorithm::HmacSha256,
                        false,
                    );
                    let _ = check_outcome!(self, "VerifyMac", Ok(()), verified.map(|_| ()));
                    let mut wrong = out.mac.clone();
                    wrong[0] ^= 0x80;
                    self.before_call();
                    let refused = self.h.kms.verify_mac(
                        &caller,
                        &id,
                        message,
                        &wrong,
                        MacAlgorithm::HmacSha256,
                        false,
                    );
                    let _ = check_outcome!(
                        self,
                        "VerifyMac",
                        Err(("KMSInvalidMacException", String::new())),
                        refused.map(|_| ())
                    );
                }
            }
            Op::Sign { key, message } => {
                let Some(k) = self.key_index(*key) else {
                    return Ok(());
                };
                self.before_call();
                let m = &self.keys[k];
                let expected = if !m.alive {
                    Err(not_found(&m.arn))
                } else if m.state() != KeyState::Enabled {
                    Err(state_error(&m.arn, m.state()))
                } else if m.kind != Kind::Signing {
                    Err((
                        "InvalidKeyUsageException",
                        format!(
                            "{} key usage is {} which is not valid for Sign.",
                            m.arn,
                            m.kind.usage()
                        ),
                    ))
                } else {
                    Ok(())
                };
                let id = m.id.to_string();
                let result = self.h.kms.sign(
                    &caller,
                    &id,
                    message,
                    None,
                    SigningAlgorithm::EcdsaSha256,
                    false,
                );
                if let Ok(out) = check_outcome!(self, "Sign", expected, result) {
                    self.learn_generated_ids();
                    // The signature verifies under the private key of the
                    // current material, when the model knows its scalar.
                    let current = self.keys[k].current_id();
                    let key_id = self.keys[k].id;
                    if let Some(seed) = self.keys[k].history.iter().find(|b| {
                        Some(key_material_id(key_id, &payload(Kind::Signing, b))) == current
                    }) {
                        use p256::ecdsa::signature::Verifier;
                        let public = p256::ecdsa::VerifyingKey::from(
                            p256::SecretKey::from_slice(seed).unwrap().public_key(),
                        );
                        let sig = p256::ecdsa::DerSignature::try_from(out.signature.as_slice())
                            .expect("a DER signature");
                        prop_assert!(public.verify(message, &sig).is_ok());
                    }
                    self.before_call();
                    let verified = self.h.kms.verify(
                        &caller,
                        &id,
                        message,
                        None,
                        &out.signature,
                        SigningAlgorithm::EcdsaSha256,
                        false,
                    );
                    let _ = check_outcome!(self, "Verify", Ok(()), verified.map(|_| ()));
                    let mut other = message.clone();
                    other.push(0);
                    self.before_call();
                    let refused = self.h.kms.verify(
                        &caller,
                        &id,
                        &other,
                        None,
                        &out.signature,
                        SigningAlgorithm::EcdsaSha256,
                        false,
                    );
                    let _ = check_outcome!(
                        self,
                        "Verify",
                        Err(("KMSInvalidSignatureException", String::new())),
                        refused.map(|_| ())
                    );
                }
            }
            Op::Encrypt { key, plaintext } => {
                let Some(k) = self.key_index(*key) else {
                    return Ok(());
                };
                self.before_call();
                let m = &self.keys[k];
                let expected = if !m.alive {
                    Err(not_found(&m.arn))
                } else if m.state() != KeyState::Enabled {
                    Err(state_error(&m.arn, m.state()))
                } else if m.kind != Kind::Symmetric {
                    Err((
                        "InvalidKeyUsageException",
                        format!(
                            "{} key usage is {} which is not valid for Encrypt.",
                            m.arn,
                            m.kind.usage()
                        ),
                    ))
                } else {
                    Ok(())
                };
                let id = m.id;
                let result = self.h.kms.encrypt(
                    &caller,
                    &id.to_string(),
                    plaintext,
                    &EncryptionContext::new(),
                );
                if let Ok(out) = check_outcome!(self, "Encrypt", expected, result) {
                    self.learn_generated_ids();
                    prop_assert_eq!(
                        Some(out.key_material_id),
                        self.keys[k].current_id(),
                        "Encrypt uses CURRENT"
                    );
                    self.ciphertexts.push(Ciphertext {
                        key: id,
                        material: out.key_material_id,
                        plaintext: plaintext.clone(),
                        blob: out.ciphertext_blob,
                    });
                }
            }
            Op::Decrypt { ciphertext } => {
                if self.ciphertexts.is_empty() {
                    return Ok(());
                }
                self.decrypt(ciphertext % self.ciphertexts.len())?;
            }
            Op::Advance { ms } => self.h.advance(Duration::from_millis(*ms)),
            Op::Tick => {
                self.before_call();
                self.h.kms.tick();
            }
        }
        self.learn_generated_ids();
        self.check()
    }

    /// What Decrypt of ciphertext `c` must give now, by the model.
    fn expected_decrypt(&self, c: usize) -> Outcome {
        let ct = &self.ciphertexts[c];
        let key = self.keys.iter().find(|k| k.id == ct.key).unwrap();
        if !key.alive {
            return Err(("InvalidCiphertextException", String::new()));
        }
        if key.state() != KeyState::Enabled {
            return Err(state_error(&key.arn, key.state()));
        }
        match key.materials.iter().find(|m| m.id == Some(ct.material)) {
            Some(m) if m.imported => Ok(()),
            _ => Err(("InvalidCiphertextException", String::new())),
        }
    }

    fn decrypt(&mut self, c: usize) -> Result<(), TestCaseError> {
        self.before_call();
        let expected = self.expected_decrypt(c);
        let caller = self.h.caller.clone();
        let req = DecryptRequest {
            ciphertext_blob: self.ciphertexts[c].blob.clone(),
            ..Default::default()
        };
        let result: Result<_, KmsError> = self.h.kms.decrypt(&caller, &req);
        if let Ok(out) = check_outcome!(self, "Decrypt", expected, result) {
            let ct = &self.ciphertexts[c];
            prop_assert_eq!(out.plaintext.expose(), ct.plaintext.as_slice());
            prop_assert_eq!(out.key_material_id, ct.material);
            prop_assert_eq!(out.key_id, ct.key);
        }
        Ok(())
    }

    /// The invariants, after every step.
    fn check(&mut self) -> Result<(), TestCaseError> {
        let log = || format!("steps so far: {:#?}", self.log);
        // Keys: existence, state, materials, rotation and deletion fields.
        prop_assert_eq!(
            self.h.kms.keys().len(),
            self.keys.iter().filter(|k| k.alive).count(),
            "{}",
            log()
        );
        for m in &self.keys {
            let Some(k) = self.h.kms.key(m.id) else {
                prop_assert!(!m.alive, "key {} vanished: {}", m.id, log());
                continue;
            };
            prop_assert!(m.alive, "key {} should be gone: {}", m.id, log());
            let materials = k.materials();
            let count = |s| materials.iter().filter(|x| x.state() == s).count();
            prop_assert!(
                count(KeyMaterialState::Current) <= 1,
                "two CURRENT: {}",
                log()
            );
            prop_assert!(
                count(KeyMaterialState::PendingRotation) <= 1,
                "two PENDING_ROTATION: {}",
                log()
            );
            // SPEC §2 from the engine's own fields...
            let derived = if k.deletion().is_some() {
                KeyState::PendingDeletion
            } else if materials.is_empty()
                || materials.iter().any(|x| {
                    x.state() != KeyMaterialState::PendingRotation
                        && x.import_state() == ImportState::PendingImport
                })
            {
                KeyState::PendingImport
            } else if k.enabled_flag() {
                KeyState::Enabled
            } else {
                KeyState::Disabled
            };
            prop_assert_eq!(k.state(), derived, "{}", log());
            // ... and from the model's.
            prop_assert_eq!(k.state(), m.state(), "key {}: {}", m.id, log());
            prop_assert_eq!(k.enabled_flag(), m.enabled, "{}", log());
            prop_assert_eq!(k.key_spec(), m.kind.spec(), "{}", log());
            prop_assert_eq!(
                k.deletion().map(|d| d.deletion_date),
                m.deletion,
                "{}",
                log()
            );
            prop_assert_eq!(k.rotation_started(), m.rotation_started, "{}", log());
            prop_assert_eq!(k.on_demand_rotations(), m.on_demand_rotations, "{}", log());
            prop_assert_eq!(k.origin(), m.origin);
            prop_assert_eq!(k.current_key_material_id(), m.current_id(), "{}", log());
            prop_assert_eq!(
                k.current_key_material_id(),
                k.current_material().map(|x| x.id())
            );
            prop_assert_eq!(
                materials.len(),
                m.materials.len(),
                "materials of {}: {}",
                m.id,
                log()
            );
            for (e, x) in materials.iter().zip(&m.materials) {
                prop_assert_eq!(Some(e.id()), x.id, "{}", log());
                prop_assert_eq!(e.state(), x.state, "{}", log());
                prop_assert_eq!(e.is_imported(), x.imported, "{}", log());
                prop_assert_eq!(e.valid_to(), x.valid_to, "{}", log());
                prop_assert_eq!(e.expiration_model(), x.expiration_model, "{}", log());
                prop_assert_eq!(e.rotation_date(), x.rotation.map(|r| r.0), "{}", log());
                prop_assert_eq!(e.rotation_type(), x.rotation.map(|r| r.1), "{}", log());
                // expiry on time
                if e.is_imported()
                    && let Some(t) = e.valid_to()
                {
                    prop_assert!(
                        t > self.engine_time,
                        "material {} still imported at its ValidTo {t}: {}",
                        e.id(),
                        log()
                    );
                }
            }
        }
        // Every ciphertext: the engine would decrypt it exactly when the model says.
        for c in 0..self.ciphertexts.len() {
            let expected = self.expected_decrypt(c);
            let inspection = self
                .h
                .kms
                .inspect_ciphertext(&self.ciphertexts[c].blob)
                .expect("our own blob parses");
            let got: Outcome = inspection
                .decryptable
                .map_err(|e| (e.aws_name(), e.message().to_string()));
            prop_assert_eq!(got, expected, "ciphertext {}: {}", c, log());
        }
        // Audit: the predicted service events, then one record per call.
        let records = self.h.kms.take_audit_records();
        let mut chain: Vec<AuditRecord> = self.last_record.iter().cloned().collect();
        chain.extend(records.iter().cloned());
        prop_assert!(
            verify_chain(&chain).is_ok(),
            "chain: {:?}",
            verify_chain(&chain)
        );
        if let Some(last) = records.last() {
            self.last_record = Some(last.clone());
        }
        let services: Vec<&AuditRecord> = records
            .iter()
            .filter(|r| r.event_type == "AwsServiceEvent")
            .collect();
        let api: Vec<&AuditRecord> = records
            .iter()
            .filter(|r| r.event_type == "AwsApiCall")
            .collect();
        prop_assert_eq!(services.len() + api.len(), records.len());
        prop_assert!(
            records
                .iter()
                .take(services.len())
                .all(|r| r.event_type == "AwsServiceEvent"),
            "service events come before the call that applied them"
        );
        for w in services.windows(2) {
            let (a, b) = (
                Timestamp::parse(&w[0].event_time),
                Timestamp::parse(&w[1].event_time),
            );
            prop_assert!(
                a <= b,
                "service events in order of due time: {:?}",
                services
            );
        }
        let mut expected_events = std::mem::take(&mut self.events);
        let mut got_events: Vec<ServiceEvent> = services
            .iter()
            .map(|r| ServiceEvent {
                name: match r.event_name.as_str() {
                    "DeleteExpiredKeyMaterial" => "DeleteExpiredKeyMaterial",
                    "RotateKey" => "RotateKey",
                    "DeleteKey" => "DeleteKey",
                    _ => "unexpected",
                },
                time: Timestamp::parse(&r.event_time).expect("eventTime"),
                key: KeyId::parse(r.key_id().expect("a key")).expect("a key id"),
                material: r
                    .additional(if r.event_name == "RotateKey" {
                        "currentKeyMaterialId"
                    } else {
                        "keyMaterialId"
                    })
                    .and_then(KeyMaterialId::parse),
                previous: r
                    .additional("previousKeyMaterialId")
                    .and_then(KeyMaterialId::parse),
            })
            .collect();
        // Generated material ids are learnt only now.
        for (e, g) in expected_events.iter_mut().zip(&got_events) {
            if e.name == "RotateKey" && e.material.is_none() {
                e.material = g.material;
            }
        }
        // Order across keys at the same instant is not part of the contract.
        expected_events.sort_by_key(|e| (e.time, e.key));
        got_events.sort_by_key(|e| (e.time, e.key));
        prop_assert_eq!(got_events, expected_events, "service events: {}", log());
        let calls = std::mem::take(&mut self.calls);
        prop_assert_eq!(
            api.len(),
            calls.len(),
            "one audit record per call: {:?} {}",
            api,
            log()
        );
        for (r, (name, outcome)) in api.iter().zip(&calls) {
            prop_assert_eq!(r.event_name.as_str(), *name);
            prop_assert_eq!(&r.event_time, &self.engine_time.to_rfc3339());
            match outcome {
                Ok(()) => prop_assert!(r.error_code.is_none()),
                Err((code, message)) => {
                    prop_assert_eq!(r.error_code.as_deref(), Some(*code));
                    prop_assert_eq!(r.error_message.as_deref(), Some(message.as_str()));
                }
            }
        }
        Ok(())
    }

    /// At the end: every ciphertext, really decrypted.
    fn sweep(&mut self) -> Result<(), TestCaseError> {
        for c in 0..self.ciphertexts.len() {
            self.log
                .push(format!("{} final Decrypt of ciphertext {c}", self.h.now()));
            self.decrypt(c)?;
            self.learn_generated_ids();
            self.check()?;
        }
        Ok(())
    }
}

fn run(seed: u64, delay_ms: u64, ops: &[Op]) -> Result<(), TestCaseError> {
    let mut run = Run::new(seed, delay_ms);
    for op in ops {
        run.step(op)?;
    }
    run.sweep()
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 3000,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn random_operation_sequences_keep_the_invariants(
        seed in any::<u64>(),
        delay_ms in proptest::sample::select(vec![0u64, 3_000, HOUR]),
        ops in proptest::collection::vec(op(), 10..40),
    ) {
        run(seed, delay_ms, &ops)?;
    }
}
