//! The engine: the serialisable state, the clock and key-pair source it is
//! handed, and the plumbing every operation goes through — time-driven
//! events first (SPEC §4), then the operation, then one audit record.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::audit::{AuditRecord, CallSource, Caller, ChainHead, ChainLink, Resource, UserIdentity};
use super::clock::{Clock, Timestamp};
use super::error::{ErrorKind, KmsError, KmsResult, violation};
use super::material::key_material_id;
use super::model::{
    ExpirationModel, ImportState, Key, KeyId, KeyMaterial, KeyMaterialId, KeyMaterialState,
    KeyState, MaterialBytes, Origin, RotationType, WrappingAlgorithm, WrappingKeySpec,
};
use super::secret::{SecretArray, SecretVec};
use super::wrapping::WrappingKeySource;

/// Store-wide settings.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Settings {
    /// The region in ARNs and audit records (default `us-east-1`).
    pub region: String,
    /// The account in ARNs (default `000000000000`).
    pub account_id: String,
    /// How long an on-demand rotation takes to complete **[byok]**
    /// (default 3 s; 0 allowed).
    pub rotation_delay_ms: u64,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            region: "us-east-1".into(),
            account_id: "000000000000".into(),
            rotation_delay_ms: 3_000,
        }
    }
}

impl Settings {
    /// The rotation delay as a duration.
    pub fn rotation_delay(&self) -> Duration {
        Duration::from_millis(self.rotation_delay_ms)
    }

    /// Checks a region name (`us-east-1` style) and a 12-digit account.
    pub fn validate(&self) -> KmsResult<()> {
        let region_ok = !self.region.is_empty()
            && self.region.len() <= 32
            && self
                .region
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        if !region_ok {
            return Err(KmsError::validation(format!(
                "'{}' is not a region name (for example us-east-1)",
                self.region
            )));
        }
        if self.account_id.len() != 12 || !self.account_id.chars().all(|c| c.is_ascii_digit()) {
            return Err(KmsError::validation(format!(
                "'{}' is not a 12-digit account id",
                self.account_id
            )));
        }
        Ok(())
    }
}

/// An alias.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Alias {
    /// `alias/...`.
    pub name: String,
    /// The key it points to.
    pub target: KeyId,
    /// `CreationDate`.
    pub creation_date: Timestamp,
    /// `LastUpdatedDate`.
    pub last_updated_date: Timestamp,
}

/// A wrapping key pair issued by GetParametersForImport, kept until its
/// token expires.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct ImportParameters {
    pub(crate) key_id: KeyId,
    pub(crate) algorithm: WrappingAlgorithm,
    pub(crate) spec: WrappingKeySpec,
    pub(crate) valid_to: Timestamp,
    /// PKCS#8 DER.
    pub(crate) private_key: SecretVec,
}

/// The keys, aliases and import parameters of one region.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub(crate) struct RegionState {
    pub(crate) keys: BTreeMap<KeyId, Key>,
    pub(crate) aliases: BTreeMap<String, Alias>,
    pub(crate) import_parameters: BTreeMap<[u8; 16], ImportParameters>,
}

impl RegionState {
    fn is_empty(&self) -> bool {
        self.keys.is_empty() && self.aliases.is_empty() && self.import_parameters.is_empty()
    }
}

/// Everything the engine knows, in the form the store persists.
///
/// `keys`, `aliases` and `import_parameters` are those of the *active*
/// region: the store's own region between calls, the call's region during
/// one (see [`Kms::in_region`]). The other regions wait in `regions`, so
/// every operation reads and writes the keys of its own region through the
/// same three maps.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct KmsState {
    pub(crate) settings: Settings,
    pub(crate) keys: BTreeMap<KeyId, Key>,
    pub(crate) aliases: BTreeMap<String, Alias>,
    pub(crate) import_parameters: BTreeMap<[u8; 16], ImportParameters>,
    /// Seals import tokens.
    pub(crate) token_secret: SecretArray<32>,
    /// The regions other than the active one (store format 5).
    pub(crate) regions: BTreeMap<String, RegionState>,
    /// The primary region of each multi-Region key (store format 5).
    pub(crate) primary_regions: BTreeMap<KeyId, String>,
}

impl KmsState {
    /// An empty state with a fresh token secret.
    pub fn new(settings: Settings, rng: &mut impl rand::CryptoRng) -> Self {
        Self {
            settings,
            keys: BTreeMap::new(),
            aliases: BTreeMap::new(),
            import_parameters: BTreeMap::new(),
            token_secret: SecretArray::random(rng),
            regions: BTreeMap::new(),
            primary_regions: BTreeMap::new(),
        }
    }

    /// The settings.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// Number of keys (of every region).
    pub fn key_count(&self) -> usize {
        self.keys.len() + self.regions.values().map(|r| r.keys.len()).sum::<usize>()
    }
}

/// ScheduleKeyDeletion's result.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ScheduledDeletionOutput {
    /// The key.
    pub key_id: KeyId,
    /// When it will be erased.
    pub deletion_date: Timestamp,
    /// The waiting period.
    pub pending_window_days: u32,
    /// A multi-Region primary key with replicas: `PendingReplicaDeletion`,
    /// and `deletion_date` is not known yet (its waiting period begins when
    /// the last replica is deleted).
    pub pending_replica_deletion: bool,
}

/// The deletion date of a primary key pending replica deletion: none yet.
pub(crate) const AWAITING_REPLICAS: Timestamp = Timestamp::from_millis(i64::MAX);

/// A call byok made to another KMS, for [`Kms::audit_remote_call`].
#[derive(Clone, Debug, PartialEq)]
pub struct RemoteCall {
    /// When it was made.
    pub at: Timestamp,
    /// The region it went to.
    pub region: String,
    /// The account it concerned, when known.
    pub account: Option<String>,
    /// The operation (`ImportKeyMaterial`, ...).
    pub operation: String,
    /// The key it concerned.
    pub key_arn: Option<String>,
    /// The request's members, without secrets or blobs.
    pub request_parameters: Option<Value>,
    /// The answer's members, without secrets or blobs.
    pub response_elements: Option<Value>,
    /// The exception, on failure.
    pub error_code: Option<String>,
    /// Its message.
    pub error_message: Option<String>,
    /// The KMS request id (`x-amzn-RequestId`).
    pub request_id: Option<String>,
    /// Attempts made (retries after throttling included).
    pub attempts: u32,
}

/// One page of a listing.
#[derive(Clone, Debug, PartialEq)]
pub struct Page<T> {
    /// The entries on this page.
    pub items: Vec<T>,
    /// The marker for the next page (`Truncated` iff present).
    pub next_marker: Option<String>,
}

/// What a time-driven event does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Due {
    ParametersExpire([u8; 16]),
    MaterialExpires(KeyId, KeyMaterialId),
    RotationCompletes(KeyId),
    AutomaticRotation(KeyId),
    KeyDeletion(KeyId),
}

/// The engine's next time-driven event, as the console announces it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimeEvent {
    /// Import parameters (a wrapping key and import token) expire.
    ImportParametersExpire,
    /// A material's `ValidTo` passes: KMS deletes it.
    MaterialExpires {
        /// The key.
        key: KeyId,
        /// The material.
        material: KeyMaterialId,
    },
    /// An on-demand rotation in progress completes.
    RotationCompletes {
        /// The key.
        key: KeyId,
    },
    /// An automatic rotation (`AWS_KMS` keys) falls due.
    AutomaticRotation {
        /// The key.
        key: KeyId,
    },
    /// A key's scheduled deletion date passes: KMS deletes the key.
    KeyDeletion {
        /// The key.
        key: KeyId,
    },
}

impl TimeEvent {
    fn of(due: Due) -> TimeEvent {
        match due {
            Due::ParametersExpire(_) => TimeEvent::ImportParametersExpire,
            Due::MaterialExpires(key, material) => TimeEvent::MaterialExpires { key, material },
            Due::RotationCompletes(key) => TimeEvent::RotationCompletes { key },
            Due::AutomaticRotation(key) => TimeEvent::AutomaticRotation { key },
            Due::KeyDeletion(key) => TimeEvent::KeyDeletion { key },
        }
    }

    /// The key it concerns.
    pub fn key(&self) -> Option<KeyId> {
        match *self {
            TimeEvent::ImportParametersExpire => None,
            TimeEvent::MaterialExpires { key, .. }
            | TimeEvent::RotationCompletes { key }
            | TimeEvent::AutomaticRotation { key }
            | TimeEvent::KeyDeletion { key } => Some(key),
        }
    }
}

/// The in-progress audit record of one operation.
pub(crate) struct Call {
    pub(crate) now: Timestamp,
    op: &'static str,
    read_only: bool,
    params: Value,
    pub(crate) key: Option<KeyId>,
    pub(crate) response: Option<Value>,
    pub(crate) extra: Map<String, Value>,
}

impl Call {
    /// Names the key the call concerns (for `resources`).
    pub(crate) fn key(&mut self, id: KeyId) {
        self.key = Some(id);
    }
    /// Records `additionalEventData.keyMaterialId`.
    pub(crate) fn material(&mut self, id: KeyMaterialId) {
        self.extra
            .insert("keyMaterialId".into(), Value::String(id.to_string()));
    }
}

/// The KMS engine. Pure: time comes from the clock it is given, randomness
/// from its RNG, wrapping key pairs from its source; it touches no file,
/// thread or network.
pub struct Kms {
    pub(crate) state: KmsState,
    clock: Arc<dyn Clock>,
    wrapping_keys: Box<dyn WrappingKeySource>,
    pub(crate) rng: StdRng,
    audit_outbox: Vec<AuditRecord>,
    chain: ChainHead,
    generation: u64,
    next_due: Option<(u64, Option<Timestamp>)>,
    /// Key policies replaced with PutKeyPolicy (see `ops_policy`), by
    /// Region and key: a key policy is not a shared property of a
    /// multi-Region set.
    pub(crate) policies: super::ops_policy::KeyPolicies,
    /// The time of the latest event in the trail: the clock may not read
    /// earlier (a history never goes backwards).
    not_before: Timestamp,
    /// The region whose keys `state.keys` holds, when not the store's.
    active_region: Option<String>,
}

impl fmt::Debug for Kms {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Kms")
            .field("keys", &self.state.keys.len())
            .field("generation", &self.generation)
            .field("chain", &self.chain)
            .finish_non_exhaustive()
    }
}

impl Kms {
    /// An engine over a fresh, empty state.
    pub fn new(
        settings: Settings,
        clock: Arc<dyn Clock>,
        wrapping_keys: Box<dyn WrappingKeySource>,
        mut rng: StdRng,
    ) -> Self {
        let state = KmsState::new(settings, &mut rng);
        Self::from_state(state, clock, wrapping_keys, rng)
    }

    /// An engine over a persisted state. Events that fell due meanwhile are
    /// applied by the next operation or [`Kms::tick`], each at its own time.
    pub fn from_state(
        state: KmsState,
        clock: Arc<dyn Clock>,
        wrapping_keys: Box<dyn WrappingKeySource>,
        rng: StdRng,
    ) -> Self {
        Self {
            state,
            clock,
            wrapping_keys,
            rng,
            audit_outbox: Vec::new(),
            chain: ChainHead::default(),
            generation: 0,
            next_due: None,
            policies: super::ops_policy::KeyPolicies::new(),
            not_before: Timestamp::from_millis(i64::MIN),
            active_region: None,
        }
    }

    /// An RNG seeded from the operating system, for production engines.
    pub fn os_rng() -> StdRng {
        let mut seed = [0u8; 32];
        rand::rng().fill_bytes(&mut seed);
        let rng = StdRng::from_seed(seed);
        zeroize::Zeroize::zeroize(&mut seed);
        rng
    }

    /// The state, for persisting.
    pub fn state(&self) -> &KmsState {
        &self.state
    }

    /// The settings.
    pub fn settings(&self) -> &Settings {
        &self.state.settings
    }

    /// Replaces the settings (region, account, rotation delay).
    pub fn set_settings(&mut self, settings: Settings) -> KmsResult<()> {
        settings.validate()?;
        if settings.region != self.state.settings.region
            && self.state.regions.contains_key(&settings.region)
        {
            // [byok] the store's keys would mix with that region's replicas.
            return Err(KmsError::validation(format!(
                "The store already holds keys in {}; its region cannot move there.",
                settings.region
            )));
        }
        self.state.settings = settings;
        self.changed();
        Ok(())
    }

    /// The clock the engine reads.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    /// The current instant, by the engine's clock.
    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }

    /// Replaces the clock (the console switches between real and simulated time).
    pub fn set_clock(&mut self, clock: Arc<dyn Clock>) {
        self.clock = clock;
    }

    /// Counts changes of state: it grows whenever something that must be
    /// persisted changed.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// All keys, by id.
    pub fn keys(&self) -> impl ExactSizeIterator<Item = &Key> {
        self.state.keys.values()
    }

    /// The key with `id`.
    pub fn key(&self, id: KeyId) -> Option<&Key> {
        self.state.keys.get(&id)
    }

    /// All aliases, by name.
    pub fn aliases(&self) -> impl Iterator<Item = &Alias> {
        self.state.aliases.values()
    }

    /// The aliases of key `id`.
    pub fn aliases_of(&self, id: KeyId) -> impl Iterator<Item = &Alias> {
        self.state.aliases.values().filter(move |a| a.target == id)
    }

    /// The ARN of key `id` in the active region.
    pub fn arn(&self, id: KeyId) -> String {
        self.arn_in(self.region(), id)
    }

    /// The ARN of key `id` in `region`.
    pub fn arn_in(&self, region: &str, id: KeyId) -> String {
        format!(
            "arn:aws:kms:{}:{}:key/{}",
            region, self.state.settings.account_id, id
        )
    }

    /// The ARN of alias `name`.
    pub fn alias_arn(&self, name: &str) -> String {
        format!(
            "arn:aws:kms:{}:{}:{}",
            self.region(),
            self.state.settings.account_id,
            name
        )
    }

    /// The active region: the call's during an operation, else the store's.
    pub fn region(&self) -> &str {
        self.active_region
            .as_deref()
            .unwrap_or(&self.state.settings.region)
    }

    /// The regions that hold keys, the store's first.
    pub fn regions(&self) -> Vec<String> {
        let mut all = vec![self.state.settings.region.clone()];
        if let Some(active) = &self.active_region {
            all.push(active.clone());
        }
        for r in self.state.regions.keys() {
            if !all.contains(r) {
                all.push(r.clone());
            }
        }
        all
    }

    /// The keys of `region`.
    pub(crate) fn keys_in(&self, region: &str) -> Option<&BTreeMap<KeyId, Key>> {
        if region == self.region() {
            Some(&self.state.keys)
        } else {
            self.state.regions.get(region).map(|r| &r.keys)
        }
    }

    /// The keys of `region`, made if needed.
    pub(crate) fn keys_in_mut(&mut self, region: &str) -> &mut BTreeMap<KeyId, Key> {
        if region == self.region() {
            &mut self.state.keys
        } else {
            &mut self
                .state
                .regions
                .entry(region.to_string())
                .or_default()
                .keys
        }
    }

    /// The primary region of multi-Region key `id`, if it is one.
    pub fn primary_region(&self, id: KeyId) -> Option<&str> {
        self.state.primary_regions.get(&id).map(String::as_str)
    }

    /// The regions other than the primary's that hold a replica of `id`,
    /// in name order.
    pub fn replica_regions(&self, id: KeyId) -> Vec<String> {
        let Some(primary) = self.primary_region(id) else {
            return Vec::new();
        };
        let mut out: Vec<String> = self
            .regions()
            .into_iter()
            .filter(|r| r != primary && self.keys_in(r).is_some_and(|k| k.contains_key(&id)))
            .collect();
        out.sort();
        out
    }

    /// Makes `region` the active one: its keys, aliases and import
    /// parameters move into `state`, the previous region's out of it.
    fn switch_region(&mut self, region: &str) {
        if region == self.region() {
            return;
        }
        let from = self.region().to_string();
        let incoming = self.state.regions.remove(region).unwrap_or_default();
        let outgoing = RegionState {
            keys: std::mem::replace(&mut self.state.keys, incoming.keys),
            aliases: std::mem::replace(&mut self.state.aliases, incoming.aliases),
            import_parameters: std::mem::replace(
                &mut self.state.import_parameters,
                incoming.import_parameters,
            ),
        };
        if !outgoing.is_empty() {
            self.state.regions.insert(from, outgoing);
        }
        self.active_region = (region != self.state.settings.region).then(|| region.to_string());
        // The cached next event covers every region: it stays valid.
    }

    /// Runs `f` with `region` active (`None`: the active one stays), then
    /// makes the previously active region active again. Operations see the
    /// keys and aliases of their region only, as in AWS.
    pub fn in_region<T>(&mut self, region: Option<&str>, f: impl FnOnce(&mut Self) -> T) -> T {
        let Some(region) = region else {
            return f(self);
        };
        let previous = self.region().to_string();
        self.switch_region(region);
        let out = f(self);
        self.switch_region(&previous);
        out
    }

    /// Sets where the audit chain continues (the store reads it from the
    /// journal at open).
    pub fn set_chain_head(&mut self, head: ChainHead) {
        self.chain = head;
    }

    /// The time of the latest event already in the trail (the store sets it
    /// at open from the journal): an operation is refused while the clock
    /// reads earlier, so that the history never goes backwards.
    pub fn set_not_before(&mut self, t: Timestamp) {
        self.not_before = self.not_before.max(t);
    }

    /// The clock, refused when it reads earlier than the latest event.
    fn forward_now(&self) -> KmsResult<Timestamp> {
        let now = self.clock.now();
        if now < self.not_before {
            return Err(KmsError::internal(format!(
                "The clock reads {now}, earlier than the latest event in the audit trail ({}). \
                 byok does not write a history that goes backwards: check the system clock.",
                self.not_before
            )));
        }
        Ok(now)
    }

    /// Where the audit chain stands.
    pub fn chain_head(&self) -> &ChainHead {
        &self.chain
    }

    /// Takes the audit records made since the last call, in order.
    pub fn take_audit_records(&mut self) -> Vec<AuditRecord> {
        std::mem::take(&mut self.audit_outbox)
    }

    /// Whether audit records are waiting to be taken.
    pub fn has_audit_records(&self) -> bool {
        !self.audit_outbox.is_empty()
    }

    /// Applies every time-driven event that is due (SPEC §4). Returns whether
    /// the state changed.
    pub fn tick(&mut self) -> bool {
        let before = self.generation;
        let Ok(now) = self.forward_now() else {
            return false;
        };
        self.advance(now);
        self.generation != before
    }

    /// The next time-driven event and when it falls due, if any.
    pub fn next_event(&self) -> Option<(Timestamp, TimeEvent)> {
        self.next_due_event().map(|(t, d, _)| (t, TimeEvent::of(d)))
    }

    /// When the next time-driven event falls due, if any.
    pub fn next_event_time(&mut self) -> Option<Timestamp> {
        if let Some((generation, due)) = self.next_due
            && generation == self.generation
        {
            return due;
        }
        let due = self.next_due_event().map(|(t, _, _)| t);
        self.next_due = Some((self.generation, due));
        due
    }

    // ----- plumbing shared by the operations -----

    /// Marks the state changed.
    pub(crate) fn changed(&mut self) {
        self.generation += 1;
    }

    /// Puts back a state taken before a change that cannot be kept (a store
    /// open for reading only refuses changes; a change that could not be
    /// saved is undone): the state, the chain head, and none of the audit
    /// records made since.
    pub(crate) fn restore(&mut self, state: KmsState, chain: ChainHead) {
        self.state = state;
        self.chain = chain;
        self.audit_outbox.clear();
        self.changed();
    }

    /// Runs one operation: due events first, then `f`, then its audit record.
    pub(crate) fn call<T>(
        &mut self,
        caller: &Caller,
        op: &'static str,
        read_only: bool,
        params: Value,
        f: impl FnOnce(&mut Self, &mut Call) -> KmsResult<T>,
    ) -> KmsResult<T> {
        if let Some(region) = caller.region.as_deref()
            && region != self.region()
        {
            if !valid_region_name(region) {
                // [byok] AWS has no endpoint for such a region.
                return Err(KmsError::validation(format!(
                    "'{region}' is not a region name (for example us-east-1)"
                )));
            }
            let region = region.to_string();
            let caller = caller.clone().in_region(None);
            return self.in_region(Some(&region), |kms| {
                kms.call(&caller, op, read_only, params, f)
            });
        }
        let now = self.forward_now()?;
        self.advance(now);
        let mut call = Call {
            now,
            op,
            read_only,
            params,
            key: None,
            response: None,
            extra: Map::new(),
        };
        let result = f(self, &mut call);
        self.record_call(caller, call, result.as_ref().err());
        result
    }

    /// Records a request that was refused before reaching an operation (a
    /// malformed member or an unknown operation caught by the wire layer).
    pub fn audit_rejected_request(
        &mut self,
        caller: &Caller,
        op: &str,
        error_code: &str,
        message: &str,
        request_bytes: Option<u64>,
    ) {
        let now = self.clock.now().max(self.not_before);
        self.advance(now);
        let mut name: String = op
            .chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .take(64)
            .collect();
        if name.is_empty() {
            name = "UnknownOperation".into();
        }
        let call = Call {
            now,
            op: "",
            read_only: false,
            params: Value::Null,
            key: None,
            response: None,
            // The size of what was refused, never its content.
            extra: request_bytes
                .map(|n| Map::from_iter([("requestBytes".to_string(), Value::from(n))]))
                .unwrap_or_default(),
        };
        self.record_call_named(caller, &name, call, Some((error_code, message)));
    }

    fn record_call(&mut self, caller: &Caller, call: Call, error: Option<&KmsError>) {
        self.record_call_named(
            caller,
            call.op,
            call,
            error.map(|e| (e.aws_name(), e.message())),
        );
    }

    fn record_call_named(
        &mut self,
        caller: &Caller,
        name: &str,
        call: Call,
        error: Option<(&str, &str)>,
    ) {
        let identity = UserIdentity {
            identity_type: "byok".into(),
            account_id: self.state.settings.account_id.clone(),
            invoked_by: caller.source.as_str().into(),
            access_key_id: caller.access_key_id.clone(),
        };
        let params = match call.params {
            Value::Null => None,
            p => Some(p),
        };
        let mut record = self.new_record(identity, call.now, name, "AwsApiCall", call.key);
        record.read_only = call.read_only;
        record.request_parameters = params;
        record.response_elements = if error.is_none() { call.response } else { None };
        record.additional_event_data =
            (!call.extra.is_empty()).then_some(Value::Object(call.extra));
        record.error_code = error.map(|(code, _)| code.to_string());
        record.error_message = error.map(|(_, message)| message.to_string());
        if caller.source == CallSource::Api {
            record.source_ip_address = caller.source_ip.clone();
            record.user_agent = caller.user_agent.clone();
        }
        self.push_record(record);
    }

    /// Records a call byok made to another KMS (an AWS account) on the
    /// store's behalf: the store's own CloudTrail-shaped trail of what it
    /// asked, linked into the same hash chain as every other record. The
    /// record names AWS's region, key ARN and request id; `call` carries no
    /// secret (its parameters were redacted before they got here).
    pub fn audit_remote_call(&mut self, caller: &Caller, call: RemoteCall) {
        let identity = UserIdentity {
            identity_type: "byok".into(),
            account_id: call.account.clone().unwrap_or_default(),
            invoked_by: caller.source.as_str().into(),
            access_key_id: None,
        };
        let mut record = self.new_record(identity, call.at, &call.operation, "AwsApiCall", None);
        if let Some(arn) = call.key_arn {
            record.resources = vec![Resource {
                account_id: arn.split(':').nth(4).unwrap_or_default().to_string(),
                arn,
                resource_type: "AWS::KMS::Key".into(),
            }];
        }
        record.aws_region = call.region;
        record.recipient_account_id = call.account.unwrap_or_default();
        record.read_only = false;
        record.request_parameters = call.request_parameters;
        record.response_elements = call.response_elements;
        record.error_code = call.error_code;
        record.error_message = call.error_message;
        if let Some(id) = call.request_id {
            record.request_id = id;
        }
        if call.attempts > 1 {
            record.additional_event_data = Some(serde_json::json!({"attempts": call.attempts}));
        }
        self.push_record(record);
    }

    /// Records a byok service event about the store itself (for example
    /// `AuditJournalDamaged` when opening found a damaged journal segment).
    pub fn audit_store_event(&mut self, name: &'static str, details: Value) {
        let now = self.clock.now().max(self.not_before);
        self.record_service_event(now, name, None, details);
    }

    /// Records what the key manager did or decided (`KeyManagerStep`,
    /// `KeyManagerActionPlanned`, `KeyManagerEscrowExported`, ...): an
    /// `AwsServiceEvent`-shaped record invoked by `caller`'s front end,
    /// naming the key ARN when there is one. `details` never holds a secret.
    pub fn audit_manager_event(
        &mut self,
        caller: &Caller,
        name: &str,
        key_arn: Option<&str>,
        details: Value,
    ) {
        let now = self.clock.now().max(self.not_before);
        let identity = UserIdentity {
            identity_type: "byok".into(),
            account_id: self.state.settings.account_id.clone(),
            invoked_by: caller.source.as_str().into(),
            access_key_id: None,
        };
        let mut record = self.new_record(identity, now, name, "AwsServiceEvent", None);
        if let Some(arn) = key_arn {
            record.resources = vec![Resource {
                account_id: arn.split(':').nth(4).unwrap_or_default().to_string(),
                arn: arn.to_string(),
                resource_type: "AWS::KMS::Key".into(),
            }];
        }
        record.read_only = false;
        record.additional_event_data = Some(details);
        self.push_record(record);
    }

    pub(crate) fn record_service_event(
        &mut self,
        at: Timestamp,
        name: &'static str,
        key: Option<KeyId>,
        extra: Value,
    ) {
        let identity = UserIdentity {
            identity_type: "AWSService".into(),
            account_id: self.state.settings.account_id.clone(),
            invoked_by: "kms.amazonaws.com".into(),
            access_key_id: None,
        };
        let mut record = self.new_record(identity, at, name, "AwsServiceEvent", key);
        record.read_only = false;
        record.additional_event_data = Some(extra);
        self.push_record(record);
    }

    fn new_record(
        &mut self,
        identity: UserIdentity,
        at: Timestamp,
        name: &str,
        event_type: &str,
        key: Option<KeyId>,
    ) -> AuditRecord {
        self.not_before = self.not_before.max(at);
        let request_id = self.new_uuid().to_string();
        let event_id = self.new_uuid().to_string();
        let settings = &self.state.settings;
        let resources = key
            .map(|k| Resource {
                arn: self.arn(k),
                account_id: settings.account_id.clone(),
                resource_type: "AWS::KMS::Key".into(),
            })
            .into_iter()
            .collect();
        AuditRecord {
            event_version: "1.11".into(),
            user_identity: identity,
            event_time: at.to_rfc3339(),
            event_source: "kms.amazonaws.com".into(),
            event_name: name.into(),
            aws_region: self.region().to_string(),
            source_ip_address: None,
            user_agent: None,
            error_code: None,
            error_message: None,
            request_parameters: None,
            response_elements: None,
            additional_event_data: None,
            request_id,
            event_id,
            read_only: true,
            resources,
            event_type: event_type.into(),
            management_event: true,
            recipient_account_id: settings.account_id.clone(),
            event_category: "Management".into(),
            byok: ChainLink {
                sequence: 0,
                previous_hash: String::new(),
                hash: String::new(),
            },
        }
    }

    fn push_record(&mut self, mut record: AuditRecord) {
        record.bound_sizes();
        self.chain.link(&mut record);
        self.audit_outbox.push(record);
    }

    pub(crate) fn new_uuid(&mut self) -> uuid::Uuid {
        let mut b = [0u8; 16];
        self.rng.fill_bytes(&mut b);
        uuid::Builder::from_random_bytes(b).into_uuid()
    }

    pub(crate) fn random<const N: usize>(&mut self) -> [u8; N] {
        let mut b = [0u8; N];
        self.rng.fill_bytes(&mut b);
        b
    }

    pub(crate) fn take_wrapping_key(
        &mut self,
        spec: WrappingKeySpec,
    ) -> KmsResult<rsa::PrivateKey> {
        self.wrapping_keys.take(spec)
    }

    /// Resolves a key identifier. Management operations accept a key id or
    /// key ARN; crypto operations and DescribeKey also accept aliases.
    pub(crate) fn resolve(&self, member: &str, value: &str, aliases: bool) -> KmsResult<KeyId> {
        check_len(member, value, 1, 2048)?;
        let invalid = || KmsError::new(ErrorKind::NotFound, format!("Invalid keyId '{value}'"));
        let (region_account, resource) = if let Some(rest) = value.strip_prefix("arn:aws:kms:") {
            let mut parts = rest.splitn(3, ':');
            let (Some(region), Some(account), Some(resource)) =
                (parts.next(), parts.next(), parts.next())
            else {
                return Err(invalid());
            };
            (Some((region, account)), resource)
        } else {
            (None, value)
        };
        let settings = &self.state.settings;
        let region = self.region();
        let ours = region_account.is_none_or(|(r, a)| r == region && a == settings.account_id);
        if resource.starts_with("alias/") {
            if !aliases {
                return Err(invalid());
            }
            let alias_arn = self.alias_arn(resource);
            let target = self
                .state
                .aliases
                .get(resource)
                .filter(|_| ours)
                .map(|a| a.target)
                .ok_or_else(|| {
                    KmsError::new(
                        ErrorKind::NotFound,
                        format!("Alias {alias_arn} is not found."),
                    )
                })?;
            return Ok(target);
        }
        let id_text = match region_account {
            Some(_) => resource.strip_prefix("key/").ok_or_else(invalid)?,
            None => resource,
        };
        let not_found = |key: &str| {
            let arn = match region_account {
                Some((r, a)) => format!("arn:aws:kms:{r}:{a}:key/{key}"),
                None => format!("arn:aws:kms:{region}:{}:key/{key}", settings.account_id),
            };
            KmsError::new(ErrorKind::NotFound, format!("Key '{arn}' does not exist"))
        };
        let Some(id) = KeyId::parse(id_text) else {
            // A multi-Region key id (`mrk-` and 32 hex digits) that byok
            // did not make is well formed, and names no key here.
            return Err(if is_multi_region_key_id(id_text) {
                not_found(id_text)
            } else {
                invalid()
            });
        };
        if !ours || !self.state.keys.contains_key(&id) {
            return Err(not_found(&id.to_string()));
        }
        Ok(id)
    }

    pub(crate) fn key_ref(&self, id: KeyId) -> KmsResult<&Key> {
        self.state
            .keys
            .get(&id)
            .ok_or_else(|| KmsError::internal(format!("key {id} vanished")))
    }

    pub(crate) fn key_mut(&mut self, id: KeyId) -> KmsResult<&mut Key> {
        self.state
            .keys
            .get_mut(&id)
            .ok_or_else(|| KmsError::internal(format!("key {id} vanished")))
    }

    /// Fails with the AWS exception for the key's state unless it is one of
    /// `allowed` (SPEC §2's table).
    pub(crate) fn require_state(&self, id: KeyId, allowed: &[KeyState]) -> KmsResult<()> {
        let state = self.key_ref(id)?.state();
        if allowed.contains(&state) {
            return Ok(());
        }
        Err(self.state_error(id, state))
    }

    /// The exception that refuses an operation because the key is in `state`.
    pub(crate) fn state_error(&self, id: KeyId, state: KeyState) -> KmsError {
        super::rules::state_error(&self.arn(id), state)
    }

    pub(crate) fn origin_error(&self, id: KeyId, origin: Origin) -> KmsError {
        super::rules::origin_error(&self.arn(id), origin.as_str())
    }

    /// What the rules read of key `id` (see [`super::rules`]).
    pub fn facts(&self, id: KeyId) -> KmsResult<super::rules::KeyFacts> {
        let key = self.key(id).ok_or_else(|| {
            KmsError::new(
                ErrorKind::NotFound,
                format!("Key '{}' does not exist", self.arn(id)),
            )
        })?;
        let mut facts = key.facts(self.arn(id));
        facts.multi_region = self.multi_region_key_type(id).and_then(|t| {
            Some(super::rules::MultiRegionFacts {
                is_primary: t == super::MultiRegionKeyType::Primary,
                primary_arn: self.arn_in(self.primary_region(id)?, id),
            })
        });
        Ok(facts)
    }

    /// Makes a material record for fresh bytes.
    pub(crate) fn new_material(
        key_id: KeyId,
        bytes: MaterialBytes,
        state: KeyMaterialState,
        now: Timestamp,
    ) -> KeyMaterial {
        KeyMaterial {
            id: key_material_id(key_id, bytes.expose()),
            bytes: Some(bytes),
            description: None,
            import_state: ImportState::Imported,
            state,
            expiration_model: ExpirationModel::KeyMaterialDoesNotExpire,
            valid_to: None,
            rotation: None,
            first_imported: now,
            last_imported: now,
        }
    }

    // ----- time-driven events (SPEC §4) -----

    fn advance(&mut self, now: Timestamp) {
        // Fast path: nothing changed since the next due time was computed,
        // and it is still in the future.
        if let Some((generation, due)) = self.next_due
            && generation == self.generation
            && due.is_none_or(|t| t > now)
        {
            return;
        }
        loop {
            match self.next_due_event() {
                Some((t, due, None)) if t <= now => self.apply_event(t, due),
                Some((t, due, Some(region))) if t <= now => {
                    self.in_region(Some(&region), |kms| kms.apply_event(t, due))
                }
                next => {
                    self.next_due = Some((self.generation, next.map(|(t, _, _)| t)));
                    return;
                }
            }
        }
    }

    /// The next event of every region: `None` names the active one.
    fn next_due_event(&self) -> Option<(Timestamp, Due, Option<String>)> {
        let delay = self.state.settings.rotation_delay();
        let mut best = Self::next_due_in(&self.state.keys, &self.state.import_parameters, delay)
            .map(|(t, d)| (t, d, None));
        for (name, r) in &self.state.regions {
            if let Some((t, d)) = Self::next_due_in(&r.keys, &r.import_parameters, delay)
                && best.as_ref().is_none_or(|b| (t, d) < (b.0, b.1))
            {
                best = Some((t, d, Some(name.clone())));
            }
        }
        best
    }

    fn next_due_in(
        keys: &BTreeMap<KeyId, Key>,
        import_parameters: &BTreeMap<[u8; 16], ImportParameters>,
        delay: Duration,
    ) -> Option<(Timestamp, Due)> {
        let mut best: Option<(Timestamp, Due)> = None;
        let mut offer = |t: Timestamp, d: Due| {
            if best.is_none_or(|b| (t, d) < b) {
                best = Some((t, d));
            }
        };
        for (token_id, p) in import_parameters {
            offer(p.valid_to, Due::ParametersExpire(*token_id));
        }
        for key in keys.values() {
            for m in &key.materials {
                if let (ImportState::Imported, Some(t)) = (m.import_state, m.valid_to) {
                    offer(t, Due::MaterialExpires(key.id, m.id));
                }
            }
            if let Some(start) = key.rotation_started {
                offer(start.plus(delay), Due::RotationCompletes(key.id));
            }
            // AWS does not rotate a disabled key or one pending deletion.
            if let Some(auto) = key.automatic_rotation
                && key.deletion.is_none()
                && key.enabled
            {
                offer(auto.next_rotation_date, Due::AutomaticRotation(key.id));
            }
            if let Some(d) = key.deletion
                && d.deletion_date != AWAITING_REPLICAS
            {
                offer(d.deletion_date, Due::KeyDeletion(key.id));
            }
        }
        best
    }

    fn apply_event(&mut self, at: Timestamp, due: Due) {
        match due {
            Due::ParametersExpire(token_id) => {
                self.state.import_parameters.remove(&token_id);
            }
            Due::MaterialExpires(key_id, material_id) => {
                self.expire_material(at, key_id, material_id)
            }
            Due::RotationCompletes(key_id) => {
                self.complete_rotation(at, key_id, RotationType::OnDemand)
            }
            Due::AutomaticRotation(key_id) => {
                if let Some(key) = self.state.keys.get_mut(&key_id)
                    && let Some(auto) = key.automatic_rotation.as_mut()
                {
                    auto.next_rotation_date =
                        at.plus(super::clock::days(u64::from(auto.period_days)));
                }
                self.complete_rotation(at, key_id, RotationType::Automatic);
            }
            Due::KeyDeletion(key_id) => {
                self.state.keys.remove(&key_id);
                self.forget_deleted_multi_region_key(at, key_id);
                self.state.aliases.retain(|_, a| a.target != key_id);
                self.state
                    .import_parameters
                    .retain(|_, p| p.key_id != key_id);
                self.record_service_event(at, "DeleteKey", Some(key_id), json!({}));
            }
        }
        self.changed();
    }

    fn expire_material(&mut self, at: Timestamp, key_id: KeyId, material_id: KeyMaterialId) {
        let Some(key) = self.state.keys.get_mut(&key_id) else {
            return;
        };
        let Some(pos) = key.materials.iter().position(|m| m.id == material_id) else {
            return;
        };
        if key.materials[pos].state.is_pending() {
            key.materials.remove(pos);
            key.rotation_started = None;
        } else {
            let m = &mut key.materials[pos];
            m.bytes = None;
            m.import_state = ImportState::PendingImport;
        }
        self.record_service_event(
            at,
            "DeleteExpiredKeyMaterial",
            Some(key_id),
            json!({ "keyMaterialId": material_id.to_string() }),
        );
    }

    /// Makes the pending material current (on demand), or generates and
    /// makes current a new one (`AWS_KMS` keys).
    /// The rotation of a multi-Region primary key completes in every replica
    /// too: they share their key material (the on-demand rotation of a set
    /// of related multi-Region keys is invoked on the primary key, API
    /// reference, RotateKeyOnDemand).
    fn complete_rotation(&mut self, at: Timestamp, key_id: KeyId, rotation_type: RotationType) {
        let replicas = if self.primary_region(key_id) == Some(self.region()) {
            self.replica_regions(key_id)
        } else {
            Vec::new()
        };
        let generated = self.complete_rotation_here(at, key_id, rotation_type, None);
        for region in replicas {
            let generated = generated.clone();
            self.in_region(Some(&region), |kms| {
                kms.complete_rotation_here(at, key_id, rotation_type, generated);
            });
        }
    }

    /// Completes the rotation of `key_id` in the active region; `given` is
    /// the material the primary generated (`AWS_KMS` replicas). Returns the
    /// material generated here, if any.
    fn complete_rotation_here(
        &mut self,
        at: Timestamp,
        key_id: KeyId,
        rotation_type: RotationType,
        given: Option<KeyMaterial>,
    ) -> Option<KeyMaterial> {
        let generated = match given {
            Some(m) => Some(m),
            None => {
                let key = self.state.keys.get(&key_id)?;
                let len = key.key_spec.generated_material_len();
                (key.origin == Origin::AwsKms).then(|| {
                    let bytes = MaterialBytes::random(len, &mut self.rng);
                    Self::new_material(key_id, bytes, KeyMaterialState::PendingRotation, at)
                })
            }
        };
        let key = self.state.keys.get_mut(&key_id)?;
        key.rotation_started = None;
        if let Some(m) = &generated {
            key.materials.push(m.clone());
        }
        let Some(new_pos) = key
            .materials
            .iter()
            .position(|m| m.state == KeyMaterialState::PendingRotation)
        else {
            return generated; // the pending material was deleted or expired meanwhile
        };
        let previous = key.current_key_material_id;
        for m in &mut key.materials {
            if m.state == KeyMaterialState::Current {
                m.state = KeyMaterialState::NonCurrent;
            }
        }
        let m = &mut key.materials[new_pos];
        m.state = KeyMaterialState::Current;
        m.rotation = Some((at, rotation_type));
        let current = m.id;
        key.current_key_material_id = Some(current);
        if rotation_type == RotationType::OnDemand {
            key.on_demand_rotations += 1;
        }
        self.record_service_event(
            at,
            "RotateKey",
            Some(key_id),
            json!({
                "rotationType": rotation_type.as_str(),
                "previousKeyMaterialId": previous.map(|p| p.to_string()),
                "currentKeyMaterialId": current.to_string(),
                "keyMaterialId": current.to_string(),
            }),
        );
        generated
    }
}

/// Whether `s` names a region the way AWS spells them (`us-east-1`).
pub(crate) fn valid_region_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 32
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && s.contains('-')
}

/// Whether `s` is a multi-Region key id: `mrk-` and 32 hex digits.
fn is_multi_region_key_id(s: &str) -> bool {
    s.strip_prefix("mrk-")
        .is_some_and(|h| h.len() == 32 && h.chars().all(|c| c.is_ascii_hexdigit()))
}

/// The `Member must have length ...` violation of a string member, if any,
/// counting characters as AWS does and quoting the value as AWS does for
/// members that are not sensitive.
pub(crate) fn len_violation(member: &str, value: &str, min: usize, max: usize) -> Option<String> {
    let n = value.chars().count();
    let constraint = if n < min {
        format!("Member must have length greater than or equal to {min}")
    } else if n > max {
        format!("Member must have length less than or equal to {max}")
    } else {
        return None;
    };
    Some(violation(member, Some(value), &constraint))
}

/// `Member must have length ...` checks of a string member.
pub(crate) fn check_len(member: &str, value: &str, min: usize, max: usize) -> KmsResult<()> {
    match len_violation(member, value, min, max) {
        Some(v) => Err(KmsError::violations(&[v])),
        None => Ok(()),
    }
}

/// Byte-length checks for blobs. AWS does not quote a blob's value
/// (`Value at 'plaintext'`, `Value at 'ciphertextBlob'`).
pub(crate) fn check_blob(member: &str, value: &[u8], min: usize, max: usize) -> KmsResult<()> {
    if value.len() < min {
        return Err(KmsError::constraint(
            member,
            None,
            &format!("Member must have length greater than or equal to {min}"),
        ));
    }
    if value.len() > max {
        return Err(KmsError::constraint(
            member,
            None,
            &format!("Member must have length less than or equal to {max}"),
        ));
    }
    Ok(())
}

/// Range checks for numbers; AWS quotes the number (`Value '0' at
/// 'numberOfBytes'`).
pub(crate) fn check_range(member: &str, value: i64, min: i64, max: i64) -> KmsResult<()> {
    let text = value.to_string();
    if value < min {
        return Err(KmsError::constraint(
            member,
            Some(&text),
            &format!("Member must have value greater than or equal to {min}"),
        ));
    }
    if value > max {
        return Err(KmsError::constraint(
            member,
            Some(&text),
            &format!("Member must have value less than or equal to {max}"),
        ));
    }
    Ok(())
}

/// Splits `entries` (each with the marker that starts at it) into a page.
pub(crate) fn paginate<T>(
    entries: Vec<(String, T)>,
    limit: Option<i64>,
    marker: Option<&str>,
    default_limit: i64,
    max_limit: i64,
) -> KmsResult<Page<T>> {
    let limit = limit.unwrap_or(default_limit);
    check_range("limit", limit, 1, max_limit)?;
    let start = match marker {
        None => 0,
        Some(m) => {
            check_len("marker", m, 1, 1024)?;
            entries
                .iter()
                .position(|(k, _)| k == m)
                .ok_or_else(|| KmsError::new(ErrorKind::InvalidMarker, "Invalid marker"))?
        }
    };
    let mut rest = entries.into_iter().skip(start);
    let items: Vec<T> = rest.by_ref().take(limit as usize).map(|(_, v)| v).collect();
    let next_marker = rest.next().map(|(k, _)| k);
    Ok(Page { items, next_marker })
}
