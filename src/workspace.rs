//! An open store of either kind, as the console (and the key manager) use
//! it: a **local** store — the engine in an encrypted file — or an **AWS**
//! store — an account and its regions, with an encrypted file of its own
//! that holds the connection, the console's own CloudTrail-shaped trail of
//! everything it asked AWS, and the cached key list. Both answer through
//! the one [`Backend`] interface; what differs (where key records come
//! from, where a key's history comes from) is decided here, once, so the
//! front ends do not know which kind they hold.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::api::wire::Blob;
use crate::aws::{AwsBackend, AwsConnection, CallRecord, CallRecorder, ConnectOptions};
use crate::backend::catalog::{Catalog, KeyRecord};
use crate::backend::local::{LocalBackend, snapshot};
use crate::backend::refresher::Refresher;
use crate::backend::{Backend, BackendError, BackendInfo, BackendKind};
use crate::kms::history::{HistoryEvent, KeyHistory, PresentKey};
use crate::kms::{AuditRecord, Caller, RemoteCall, Timestamp};
use crate::store::{StoreError, Vault};

fn lock(v: &Mutex<Vault>) -> MutexGuard<'_, Vault> {
    v.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The store section of an AWS store: where the account is, and the key
/// list as last seen (so the console opens instantly; every record keeps the
/// time it was fetched and shows as stale until described again). Never a
/// credential: those stay in `~/.aws` and the SDK's chain.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct AwsSection {
    /// Profile, regions and endpoint URL.
    pub connection: AwsConnection,
    /// Each region's cached key list.
    #[serde(default)]
    pub catalogs: Vec<(String, Catalog)>,
}

/// The name of [`AwsSection`]'s section.
pub const AWS_SECTION: &str = "aws";

/// The name of the section of [`ImportInFlight`]s.
pub const IMPORTS_SECTION: &str = "imports";

/// Import parameters downloaded and not used yet: a ceremony can pause (the
/// console closed, the custodian wrapping the material elsewhere) and
/// resume with them until `parameters_valid_to` (24 hours at AWS).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ImportInFlight {
    /// The key.
    pub key_arn: String,
    /// `WrappingAlgorithm` asked for.
    pub wrapping_algorithm: String,
    /// `WrappingKeySpec` asked for.
    pub wrapping_key_spec: String,
    /// `PublicKey` (DER SubjectPublicKeyInfo).
    pub public_key: Blob,
    /// `ImportToken`.
    pub import_token: Blob,
    /// `ParametersValidTo`.
    pub parameters_valid_to: Timestamp,
    /// When byok downloaded them.
    pub downloaded: Timestamp,
}

fn read_section<T: DeserializeOwned>(vault: &Vault, name: &str) -> Result<Option<T>, StoreError> {
    vault
        .sections()
        .get(name)
        .map(|bytes| {
            // Damage is reported, never repaired: the section stays as it is.
            serde_json::from_slice(bytes).map_err(|e| {
                StoreError::Other(format!(
                    "the store's {name} section cannot be read ({e}); the file was left as it is"
                ))
            })
        })
        .transpose()
}

fn write_section<T: Serialize>(vault: &mut Vault, name: &str, value: &T) -> Result<(), StoreError> {
    let bytes = serde_json::to_vec(value).map_err(|e| StoreError::Other(e.to_string()))?;
    vault.set_section(name, Some(bytes))
}

/// Import parameters kept in `vault` and still valid at `now` (a section
/// that cannot be read gives none; opening it reports the damage).
pub fn imports_in_flight(vault: &Vault, now: Timestamp) -> Vec<ImportInFlight> {
    read_section::<Vec<ImportInFlight>>(vault, IMPORTS_SECTION)
        .ok()
        .flatten()
        .unwrap_or_default()
        .into_iter()
        .filter(|i| i.parameters_valid_to > now)
        .collect()
}

impl AwsSection {
    /// The AWS section of `vault`: `None` for a local store.
    pub fn read(vault: &Vault) -> Result<Option<AwsSection>, StoreError> {
        read_section(vault, AWS_SECTION)
    }

    /// Saves it into `vault`.
    pub fn write(&self, vault: &mut Vault) -> Result<(), StoreError> {
        write_section(vault, AWS_SECTION, self)
    }
}

/// Where a key's history came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HistorySource {
    /// The local store's audit trail.
    AuditTrail {
        /// Records of the key read.
        records: usize,
    },
    /// The account's CloudTrail (`LookupEvents`).
    CloudTrail {
        /// Events of the key read.
        events: usize,
    },
    /// CloudTrail could not be read: the history comes from
    /// ListKeyRotations and this store's own trail of what it asked AWS.
    OwnTrail {
        /// Why CloudTrail was not used (AWS's words).
        why: String,
        /// Whether the caller may not call `cloudtrail:LookupEvents`.
        denied: bool,
    },
}

/// Why a workspace could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum WorkspaceError {
    /// The store file.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The connection.
    #[error(transparent)]
    Backend(#[from] BackendError),
}

/// Puts every call the AWS backend records into the store's own trail.
struct TrailRecorder {
    vault: Arc<Mutex<Vault>>,
    caller: Caller,
}

impl CallRecorder for TrailRecorder {
    fn record(&self, call: &CallRecord) {
        let key_arn = call
            .request_parameters
            .get("keyId")
            .or_else(|| call.request_parameters.get("targetKeyId"))
            .and_then(|v| v.as_str())
            .filter(|k| k.starts_with("arn:"))
            .map(str::to_string)
            .or_else(|| {
                call.response_elements
                    .as_ref()
                    .and_then(|r| r.get("keyId").or_else(|| r.pointer("/keyMetadata/arn")))
                    .and_then(|v| v.as_str())
                    .filter(|k| k.starts_with("arn:"))
                    .map(str::to_string)
            });
        let account = key_arn
            .as_deref()
            .and_then(|a| a.split(':').nth(4))
            .map(str::to_string);
        let remote = RemoteCall {
            at: call.event_time,
            region: call.region.clone(),
            account,
            operation: call.operation.clone(),
            key_arn,
            request_parameters: Some(call.request_parameters.clone()),
            response_elements: call.response_elements.clone(),
            error_code: call.error_code.clone(),
            error_message: call.error_message.clone(),
            request_id: call.request_id.clone(),
            attempts: call.attempts,
        };
        let mut v = lock(&self.vault);
        let _ = v.apply(|kms| {
            kms.audit_remote_call(&self.caller, remote);
            Ok(())
        });
        // What byok asked AWS to change is durable before it answers on.
        let _ = v.flush_audit();
    }
}

/// One region of an AWS store: its backend and the refresher of its keys.
struct Region {
    name: String,
    backend: Arc<dyn Backend>,
    refresher: Refresher,
}

struct AwsSide {
    /// The connection as the store holds it (regions unresolved).
    asked: AwsConnection,
    backend: Arc<AwsBackend>,
    regions: Vec<Region>,
}

impl AwsSide {
    /// The region of key `arn`'s refresher.
    fn region_of(&self, arn: &str) -> Option<&Region> {
        let name = arn.split(':').nth(3)?;
        self.regions.iter().find(|r| r.name == name)
    }
}

/// An open store.
pub struct Workspace {
    vault: Arc<Mutex<Vault>>,
    backend: Arc<dyn Backend>,
    aws: Option<AwsSide>,
}

impl Workspace {
    /// A local store: the engine in `vault`, calls audited as `caller`'s.
    pub fn local(vault: Arc<Mutex<Vault>>, caller: Caller) -> Workspace {
        Workspace {
            backend: Arc::new(LocalBackend::new(vault.clone(), caller)),
            vault,
            aws: None,
        }
    }

    /// An AWS store opened from its file: `connection` replaces the one the
    /// file holds (`None`: the file's own). The cached key list is used
    /// when the connection is the one it was read through. The file then
    /// holds the connection, so opening it again needs no form.
    pub fn open_aws(
        vault: Arc<Mutex<Vault>>,
        connection: Option<&AwsConnection>,
        options: ConnectOptions,
        caller: Caller,
        notify: Arc<dyn Fn() + Send + Sync>,
    ) -> Result<Workspace, WorkspaceError> {
        let section = AwsSection::read(&lock(&vault))?;
        let stored = section.as_ref().map(|s| s.connection.clone());
        let (connection, cached) = match (connection, section) {
            (Some(c), Some(s)) if *c == s.connection => (c.clone(), s.catalogs),
            (Some(c), _) => (c.clone(), Vec::new()),
            (None, Some(s)) => (s.connection, s.catalogs),
            (None, None) => {
                return Err(WorkspaceError::Store(StoreError::Other(
                    "this store holds no AWS connection".into(),
                )));
            }
        };
        if stored.as_ref() != Some(&connection) {
            AwsSection {
                connection: connection.clone(),
                catalogs: Vec::new(),
            }
            .write(&mut lock(&vault))?;
        }
        Ok(Workspace::aws(
            vault,
            &connection,
            options,
            caller,
            cached,
            notify,
        )?)
    }

    /// An AWS store: `vault` keeps the trail and the cache, `connection`
    /// says where the account is. Calls nothing on the network; the key
    /// list fills in the background (`notify` is called after each change).
    pub fn aws(
        vault: Arc<Mutex<Vault>>,
        connection: &AwsConnection,
        options: ConnectOptions,
        caller: Caller,
        cached: Vec<(String, Catalog)>,
        notify: Arc<dyn Fn() + Send + Sync>,
    ) -> Result<Workspace, BackendError> {
        let recorder = Arc::new(TrailRecorder {
            vault: vault.clone(),
            caller,
        });
        let aws = Arc::new(AwsBackend::connect(connection, options)?.with_recorder(recorder));
        // How old a description is, is wall time (the key clock of a
        // training store never applies to an AWS account).
        let now: Arc<dyn Fn() -> Timestamp + Send + Sync> =
            Arc::new(|| crate::kms::Clock::now(&crate::store::clock::SystemClock));
        let mut cached = cached;
        let mut regions = Vec::new();
        // Every region of the connection lists and refreshes its own keys.
        for name in aws.connection().regions.clone() {
            let backend: Arc<dyn Backend> = Arc::new(aws.in_region(&name)?);
            let catalog = cached
                .iter()
                .position(|(r, _)| *r == name)
                .map(|i| cached.swap_remove(i).1.restore())
                .unwrap_or_default();
            let refresher = Refresher::start(backend.clone(), catalog, now.clone(), notify.clone());
            regions.push(Region {
                name,
                backend,
                refresher,
            });
        }
        let backend: Arc<dyn Backend> = aws.clone();
        Ok(Workspace {
            vault,
            backend,
            aws: Some(AwsSide {
                asked: connection.clone(),
                backend: aws,
                regions,
            }),
        })
    }

    /// The interface every operation goes through.
    pub fn backend(&self) -> &Arc<dyn Backend> {
        &self.backend
    }

    /// The store file (the engine of a local store; the trail and cache of
    /// an AWS store).
    pub fn vault(&self) -> &Arc<Mutex<Vault>> {
        &self.vault
    }

    /// The AWS backend, for an AWS store.
    pub fn aws_backend(&self) -> Option<&AwsBackend> {
        self.aws.as_ref().map(|a| a.backend.as_ref())
    }

    /// The AWS backend, shared, for an AWS store (the key manager reads
    /// CloudTrail through it on its own thread).
    pub fn aws_backend_shared(&self) -> Option<Arc<AwsBackend>> {
        self.aws.as_ref().map(|a| a.backend.clone())
    }

    /// A live reading of AWS's throttling (for the status bar, which polls
    /// it while a call waits), for an AWS store.
    pub fn retry_watch(&self) -> Option<crate::aws::RetryWatch> {
        self.aws.as_ref().map(|a| a.backend.retry_watch())
    }

    /// Whether this is an AWS store.
    pub fn is_aws(&self) -> bool {
        self.aws.is_some()
    }

    /// What the backend is.
    pub fn info(&self) -> BackendInfo {
        match &self.aws {
            Some(a) => a.backend.info(),
            None => self.backend.info(),
        }
    }

    /// The keys as known now, and whether every key is listed.
    pub fn records(&self) -> (Vec<KeyRecord>, bool) {
        match &self.aws {
            Some(a) => {
                let mut all = Vec::new();
                let mut complete = true;
                for r in &a.regions {
                    let (records, done) = r.refresher.snapshot();
                    all.extend(records);
                    complete &= done;
                }
                (all, complete)
            }
            None => (snapshot(&mut lock(&self.vault)), true),
        }
    }

    /// Grows whenever the records change.
    pub fn generation(&self) -> u64 {
        match &self.aws {
            // Two counters, one number: the trail grows with every call too.
            Some(a) => a
                .regions
                .iter()
                .map(|r| r.refresher.generation())
                .sum::<u64>()
                .wrapping_mul(1 << 20)
                .wrapping_add(lock(&self.vault).kms().chain_head().sequence),
            None => lock(&self.vault).kms().generation(),
        }
    }

    /// The keys on screen (an AWS store describes those).
    pub fn watch(&self, visible: Vec<String>, selected: Option<String>) {
        if let Some(a) = &self.aws {
            for r in &a.regions {
                let mine = |arn: &String| a.region_of(arn).is_some_and(|x| x.name == r.name);
                r.refresher.watch(
                    visible.iter().filter(|k| mine(k)).cloned().collect(),
                    selected.clone().filter(|k| mine(k)),
                );
            }
        }
    }

    /// Reads every key again.
    pub fn refresh(&self) {
        if let Some(a) = &self.aws {
            for r in &a.regions {
                r.refresher.refresh_all();
            }
        }
    }

    /// Key `arn` was changed (or created) by byok: describe it again now,
    /// on the calling thread, so the next view shows the change.
    pub fn changed(&self, arn: &str) {
        if let Some(r) = self.aws.as_ref().and_then(|a| a.region_of(arn)) {
            let now = crate::kms::Clock::now(&crate::store::clock::SystemClock);
            r.refresher.describe_now(r.backend.as_ref(), arn, true, now);
        }
    }

    /// An alias now points at key `arn` (UpdateAlias, CreateAlias): an AWS
    /// store reads the aliases of that key's region again (ListAliases is
    /// account-wide; a local store's records read the engine's aliases).
    pub fn aliases_changed(&self, arn: &str) {
        if let Some(r) = self.aws.as_ref().and_then(|a| a.region_of(arn))
            && let Ok((by_key, calls)) =
                crate::backend::catalog::Catalog::fetch_aliases(r.backend.as_ref())
        {
            r.refresher.update(|c| c.apply_aliases(by_key, calls));
        }
    }

    /// Key `arn` is gone from the account.
    pub fn forget(&self, arn: &str) {
        if let Some(r) = self.aws.as_ref().and_then(|a| a.region_of(arn)) {
            r.refresher.update(|c| c.remove(arn));
        }
    }

    /// A note for the status bar: AWS throttling, a listing that failed.
    pub fn notice(&self) -> Option<String> {
        let a = self.aws.as_ref()?;
        let retry = a.backend.retry_state();
        if retry.waiting {
            return Some(format!(
                "AWS is throttling requests: waiting to retry ({} throttled so far)",
                retry.throttled_attempts
            ));
        }
        a.regions.iter().find_map(|r| {
            r.refresher
                .error()
                .map(|e| format!("The key list of {} could not be read: {e}", r.name))
        })
    }

    /// API calls made by the background refresh so far.
    pub fn refresh_calls(&self) -> u64 {
        self.aws
            .as_ref()
            .map_or(0, |a| a.regions.iter().map(|r| r.refresher.calls()).sum())
    }

    /// The store's own trail.
    pub fn audit_records(&self) -> Result<Vec<AuditRecord>, StoreError> {
        let v = lock(&self.vault);
        v.flush_audit()?;
        v.audit_records()
    }

    /// The history of `key`: from the audit trail of a local store; from
    /// CloudTrail for an AWS store, or, where CloudTrail is denied or fails,
    /// from ListKeyRotations and the store's own trail.
    pub fn history(
        &self,
        key: &PresentKey,
        arn: &str,
        own: &[AuditRecord],
    ) -> (KeyHistory, HistorySource) {
        // A multi-Region key has the same key id in every region of its
        // set: its history is that of its own region.
        let region = crate::backend::kms_arn_region(arn);
        let own_events = || -> Vec<HistoryEvent> {
            own.iter()
                .filter(|r| region.as_deref().is_none_or(|g| r.aws_region == g))
                .filter_map(HistoryEvent::from_record)
                .collect()
        };
        let Some(a) = &self.aws else {
            let events = own_events();
            let h = KeyHistory::from_events(key, &events);
            let records = h.records;
            return (h, HistorySource::AuditTrail { records });
        };
        match a.backend.lookup_key_events(arn, None) {
            Ok(events) => {
                let events: Vec<HistoryEvent> = events
                    .iter()
                    .enumerate()
                    // Newest first from CloudTrail: order numbers ascend in time.
                    .filter_map(|(i, v)| {
                        HistoryEvent::from_cloudtrail(v, (events.len() - i) as u64)
                    })
                    .collect();
                let h = KeyHistory::from_events(key, &events);
                let n = h.records;
                (h, HistorySource::CloudTrail { events: n })
            }
            Err(e) => {
                let denied = e.aws_name().is_some_and(|n| n == "AccessDeniedException");
                let events = own_events();
                (
                    KeyHistory::from_events(key, &events),
                    HistorySource::OwnTrail {
                        why: e.to_string(),
                        denied,
                    },
                )
            }
        }
    }

    /// The cached key list (an AWS store keeps it between sessions).
    pub fn catalogs(&self) -> Vec<(String, Catalog)> {
        self.aws.as_ref().map_or_else(Vec::new, |a| {
            a.regions
                .iter()
                .map(|r| (r.name.clone(), r.refresher.catalog()))
                .collect()
        })
    }

    /// Saves the key list as it is now into the store (an AWS store opens
    /// with it next time).
    pub fn save_cache(&self) -> Result<(), StoreError> {
        let Some(a) = &self.aws else {
            return Ok(());
        };
        let section = AwsSection {
            connection: a.asked.clone(),
            catalogs: self.catalogs(),
        };
        section.write(&mut lock(&self.vault))
    }

    /// Keeps import parameters just downloaded, to resume the ceremony
    /// later (replaces those of the same key; drops expired ones).
    pub fn remember_import(
        &self,
        import: ImportInFlight,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let mut v = lock(&self.vault);
        let mut all: Vec<ImportInFlight> = read_section(&v, IMPORTS_SECTION)?.unwrap_or_default();
        all.retain(|i| i.key_arn != import.key_arn && i.parameters_valid_to > now);
        all.push(import);
        write_section(&mut v, IMPORTS_SECTION, &all)
    }

    /// The parameters of key `arn` were used (or are not wanted).
    pub fn forget_import(&self, arn: &str) -> Result<(), StoreError> {
        let mut v = lock(&self.vault);
        let mut all: Vec<ImportInFlight> = read_section(&v, IMPORTS_SECTION)?.unwrap_or_default();
        let before = all.len();
        all.retain(|i| i.key_arn != arn);
        if all.len() == before {
            return Ok(());
        }
        write_section(&mut v, IMPORTS_SECTION, &all)
    }

    /// Import parameters kept and still valid at `now`.
    pub fn imports_in_flight(&self, now: Timestamp) -> Vec<ImportInFlight> {
        imports_in_flight(&lock(&self.vault), now)
    }

    /// Stops the background work and closes the store (the last holder of
    /// the vault closes it). An AWS store saves its key list first.
    pub fn close(self) -> Result<(), StoreError> {
        let cached = self.save_cache();
        let Workspace {
            vault,
            backend,
            aws,
        } = self;
        if let Some(a) = aws {
            for r in a.regions {
                r.refresher.stop();
            }
            drop(a.backend);
        }
        drop(backend);
        let closed = match Arc::try_unwrap(vault) {
            Ok(m) => m
                .into_inner()
                .unwrap_or_else(PoisonError::into_inner)
                .close(),
            Err(_) => Ok(()),
        };
        cached.and(closed)
    }

    /// Whether this kind of store is `kind`.
    pub fn kind(&self) -> BackendKind {
        if self.is_aws() {
            BackendKind::Aws
        } else {
            BackendKind::Local
        }
    }
}
