//! The runner: plans the actions policies make due and carries every open
//! action through its steps, on any [`Backend`].
//!
//! A step is saved (state and audit record, write-ahead) before the call
//! that follows it, and every call is one whose effect the next run can
//! read back: a rotation's material is imported under a description unique
//! to its action, so a run killed between ImportKeyMaterial and the save
//! finds the material by its description instead of importing another; a
//! run killed after RotateKeyOnDemand finds the rotation in progress or
//! done. Renewal, suspension and restore are idempotent by nature
//! (re-importing the same material, deleting what is already deleted).

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use serde_json::{Value, json};

use super::state::*;
use crate::api::op;
use crate::api::shapes::*;
use crate::api::wire::{Blob, Time};
use crate::backend::{Backend, BackendError, send};
use crate::kms::material::{MATERIAL_LEN, key_check_value};
use crate::kms::rules::monthly_cost_usd;
use crate::kms::{
    Caller, Clock, ExpirationModel, KeySpec, Kms, SecretArray, SecretVec, Timestamp,
    WrappingAlgorithm, WrappingKeySpec, wrap_material,
};
use crate::store::{AuditedEvent, StoreError, Vault};

/// The wrappings the runner asks for, in order of preference: the first
/// one AWS allows for the key's spec ([`crate::kms::rules::import_wrapping`],
/// the rule GetParametersForImport applies) is used. RSA-OAEP with SHA-256
/// under a 2048-bit key wraps symmetric and HMAC material and most elliptic
/// curve private keys; RSA private keys (and P-521 keys under a 2048-bit
/// wrapping key) need RSA_AES_KEY_WRAP ("Select a wrapping algorithm", AWS
/// KMS Developer Guide).
const WRAPPINGS: [(WrappingAlgorithm, WrappingKeySpec); 2] = [
    (WrappingAlgorithm::RsaesOaepSha256, WrappingKeySpec::Rsa2048),
    (
        WrappingAlgorithm::RsaAesKeyWrapSha256,
        WrappingKeySpec::Rsa2048,
    ),
];

/// The longest `ValidTo` AWS accepts: 365 days ahead (SPEC §3).
const MAX_VALID_DAYS: u32 = 365;

/// A failing action is retried on later runs this many times before it is
/// given up (transient failures only: no answer, throttling).
const MAX_TRANSIENT_FAILURES: u32 = 20;

/// Why the manager could not do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum ManagerError {
    /// The store could not be read or written.
    #[error("{0}")]
    Store(#[from] StoreError),
    /// The backend gave no usable answer.
    #[error("{0}")]
    Backend(#[from] BackendError),
    /// The request cannot be carried out as asked.
    #[error("{0}")]
    Refused(String),
}

/// One thing the runner did or found in a run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    /// The action.
    pub action: String,
    /// The key.
    pub key_arn: String,
    /// What happened, in words.
    pub text: String,
    /// Whether it went wrong.
    pub failed: bool,
}

/// What a run did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RunReport {
    /// Actions that reached their end in this run, or failed a step.
    pub outcomes: Vec<Outcome>,
    /// Actions still open (waiting for approval, a rotation in progress, a
    /// transient failure to retry).
    pub open: Vec<Outcome>,
    /// Warnings (the rotation budget, a material that cannot be renewed).
    pub warnings: Vec<String>,
}

/// Whether a [`DueItem`] is due.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DueStatus {
    /// Due now: the next run carries it out.
    Due,
    /// Due later.
    Upcoming,
    /// Planned and waiting for an approver.
    AwaitingApproval,
    /// Under way.
    InProgress,
    /// Will not run until something changes.
    Blocked(String),
}

/// An action a policy will make, or an open one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DueItem {
    /// The key.
    pub key_arn: String,
    /// What.
    pub what: String,
    /// When.
    pub when: Timestamp,
    /// Due, upcoming, waiting...
    pub status: DueStatus,
    /// The action, when it is planned.
    pub action: Option<String>,
    /// The added monthly cost estimate in USD (the first two rotations of
    /// a key add $1 a month each).
    pub added_cost_usd: u32,
}

/// How an escrow copy leaves the store.
#[derive(Clone, Debug)]
pub enum ExportForm {
    /// The raw bytes as imported (32 bytes for a symmetric key, an HMAC
    /// key's bytes, the DER PKCS #8 private key of an asymmetric key).
    Raw,
    /// Wrapped under an RSA public key (DER SubjectPublicKeyInfo) the
    /// officer supplies, as AWS wraps for import.
    Wrapped {
        /// The public key.
        public_key_der: Vec<u8>,
        /// `RSAES_OAEP_SHA_256`, `RSA_AES_KEY_WRAP_SHA_256`, ...
        algorithm: WrappingAlgorithm,
    },
}

/// An exported escrow copy (wiped on drop).
pub struct Export {
    /// The bytes to write.
    pub bytes: zeroize::Zeroizing<Vec<u8>>,
    /// The material's key check value.
    pub key_check_value: String,
}

/// The facts of one material as ListKeyRotations shows them.
#[derive(Clone, Debug)]
struct Listed {
    id: String,
    description: Option<String>,
    import_state: Option<String>,
    state: String,
    expiration_model: Option<String>,
    valid_to: Option<Timestamp>,
    rotation_type: Option<String>,
}

/// The key manager on one store and its backend.
pub struct Manager {
    backend: Arc<dyn Backend>,
    vault: Arc<Mutex<Vault>>,
    clock: Arc<dyn Clock>,
    caller: Caller,
    officer: String,
    rotation_wait: Duration,
    usage: Option<UsageSource>,
}

/// Where the blast-radius preview reads who used a key (a key ARN and a
/// start time → CloudTrail-shaped events).
pub type UsageSource =
    Arc<dyn Fn(&str, Timestamp) -> Result<Vec<Value>, BackendError> + Send + Sync>;

fn lock(v: &Mutex<Vault>) -> MutexGuard<'_, Vault> {
    v.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Manager {
    /// The manager of `vault` (where its state lives) acting through
    /// `backend`, on `clock`'s time, as `officer` (recorded as who asked
    /// for manual actions) through `caller`'s front end.
    pub fn new(
        backend: Arc<dyn Backend>,
        vault: Arc<Mutex<Vault>>,
        clock: Arc<dyn Clock>,
        caller: Caller,
        officer: &str,
    ) -> Manager {
        Manager {
            backend,
            vault,
            clock,
            caller,
            officer: officer.to_string(),
            rotation_wait: Duration::from_secs(30),
            usage: None,
        }
    }

    /// The manager of an open store of either kind: its backend, its file,
    /// and the key clock (a local store's engine clock, real time for an
    /// AWS account); the blast-radius preview reads CloudTrail for an AWS
    /// store and the store's own trail for a local one.
    pub fn for_workspace(
        ws: &crate::workspace::Workspace,
        caller: Caller,
        officer: &str,
    ) -> Manager {
        let clock: Arc<dyn Clock> = if ws.is_aws() {
            Arc::new(crate::store::clock::SystemClock)
        } else {
            lock(ws.vault()).kms().clock().clone()
        };
        let backend: Arc<dyn Backend> = if ws.is_aws() {
            ws.backend().clone()
        } else {
            // The local backend, calling as the runner.
            Arc::new(crate::backend::local::LocalBackend::new(
                ws.vault().clone(),
                caller.clone(),
            ))
        };
        let mut m = Manager::new(backend, ws.vault().clone(), clock, caller, officer);
        if let Some(aws) = ws.aws_backend_shared() {
            m.usage = Some(Arc::new(move |arn: &str, since: Timestamp| {
                aws.lookup_key_events(arn, Some(since))
            }));
        }
        m
    }

    /// How long one run waits for a rotation it started to complete before
    /// leaving it to the next run (default 30 s; AWS completes on-demand
    /// rotations of imported material within seconds).
    pub fn with_rotation_wait(mut self, wait: Duration) -> Manager {
        self.rotation_wait = wait;
        self
    }

    /// Where the blast-radius preview reads recent use (default: the store's
    /// own audit trail, which is the whole story for a local store).
    pub fn with_usage(mut self, usage: UsageSource) -> Manager {
        self.usage = Some(usage);
        self
    }

    /// The manager's state as saved.
    pub fn state(&self) -> Result<ManagerState, ManagerError> {
        Ok(ManagerState::load(&lock(&self.vault))?)
    }

    fn save(
        &self,
        state: &mut ManagerState,
        events: Vec<AuditedEvent>,
    ) -> Result<(), ManagerError> {
        state.trim();
        state.save(&mut lock(&self.vault), &self.caller, events)?;
        Ok(())
    }

    // ----- policies -------------------------------------------------------

    /// Sets `policy` for its key (replacing the key's policy), after
    /// checking that the key exists and takes imported material.
    pub fn set_policy(&self, mut policy: KeyPolicy) -> Result<(), ManagerError> {
        let meta = self.describe(&policy.key_arn)?;
        if meta.origin != "EXTERNAL" {
            return Err(ManagerError::Refused(format!(
                "{} has origin {}: only keys with imported material (origin EXTERNAL) have key manager policies",
                meta.arn, meta.origin
            )));
        }
        // Escrow, expiry, renewal and the kill switch work for every key
        // that takes imported material; rotation to new material does not:
        // asymmetric and HMAC keys with imported material "do not support
        // on-demand key rotation" (the announcement), and take no new
        // material after the first import (the ImportKeyMaterial API
        // reference). The engine's own verdict says which keys those are.
        let spec = key_spec_of(&meta)?;
        if spec.single_material()
            && (policy.rotate_every_days.is_some() || policy.source != MaterialSource::Generate)
        {
            return Err(ManagerError::Refused(format!(
                "{} is a {} key: AWS KMS does not rotate asymmetric or HMAC keys on demand, \
                 and they take no new key material after the first import, so their policy \
                 cannot rotate (escrow, expiry, renewal and the kill switch work); \
                 rotate such a key manually, with a new key and its alias moved to it",
                meta.arn, meta.key_spec
            )));
        }
        policy.key_arn = meta.arn.clone();
        if let Some(d) = policy.valid_for_days
            && !(1..=MAX_VALID_DAYS).contains(&d)
        {
            return Err(ManagerError::Refused(format!(
                "materials can be valid for 1 to {MAX_VALID_DAYS} days (ValidTo is at most 365 days ahead); {d} was asked"
            )));
        }
        if policy.rotate_every_days == Some(0) {
            return Err(ManagerError::Refused(
                "a rotation schedule needs at least 1 day between rotations".into(),
            ));
        }
        if policy.renew_before_days.is_some() && !policy.escrow {
            return Err(ManagerError::Refused(
                "renewal re-imports the same material, so it needs escrow: turn escrow on for this key".into(),
            ));
        }
        if let (Some(renew), Some(valid)) = (policy.renew_before_days, policy.valid_for_days)
            && renew >= valid
        {
            return Err(ManagerError::Refused(format!(
                "renewing {renew} days before ValidTo leaves no time between renewals of a material valid for {valid} days"
            )));
        }
        if policy.rotation_reserve >= ON_DEMAND_ROTATION_LIMIT {
            return Err(ManagerError::Refused(format!(
                "a reserve of {} leaves no on-demand rotation of the {ON_DEMAND_ROTATION_LIMIT}",
                policy.rotation_reserve
            )));
        }
        if let MaterialSource::Folder { folder } = &policy.source
            && !folder.is_dir()
        {
            return Err(ManagerError::Refused(format!(
                "{} is not a folder",
                folder.display()
            )));
        }
        let mut state = self.state()?;
        let before = state.policy(&policy.key_arn).cloned();
        if let Some(b) = &before {
            // The schedule keeps its rhythm unless it changes, or the new
            // policy asks for a rotation now (an anchor in the past).
            let asks_now = policy.anchor.plus(Duration::from_secs(3600)) < self.clock_now();
            if b.rotate_every_days == policy.rotate_every_days && !asks_now {
                policy.last_rotation = b.last_rotation;
            }
        }
        let details =
            json!({ "policy": policy_json(&policy), "before": before.as_ref().map(policy_json) });
        state.policies.retain(|p| p.key_arn != policy.key_arn);
        let arn = policy.key_arn.clone();
        state.policies.push(policy);
        self.save(
            &mut state,
            vec![event("KeyManagerPolicyChanged", Some(&arn), details)],
        )
    }

    /// Removes the policy of `key_arn` (its escrow copies stay: they are
    /// deleted only with [`Manager::forget_escrow`]).
    pub fn clear_policy(&self, key_arn: &str) -> Result<bool, ManagerError> {
        let mut state = self.state()?;
        let Some(before) = state.policy(key_arn).cloned() else {
            return Ok(false);
        };
        state.policies.retain(|p| p.key_arn != key_arn);
        self.save(
            &mut state,
            vec![event(
                "KeyManagerPolicyChanged",
                Some(key_arn),
                json!({ "policy": null, "before": policy_json(&before) }),
            )],
        )?;
        Ok(true)
    }

    // ----- the run ----------------------------------------------------------

    /// Plans what is due and carries every open action as far as it goes.
    pub fn run(&self) -> Result<RunReport, ManagerError> {
        let mut report = RunReport::default();
        let mut state = self.state()?;
        self.plan_due(&mut state, &mut report)?;
        let open: Vec<String> = state
            .actions
            .iter()
            .filter(|a| !a.step.is_final())
            .map(|a| a.id.clone())
            .collect();
        for id in open {
            self.advance(&mut state, &id, &mut report)?;
        }
        Ok(report)
    }

    /// Carries action `id` as far as it goes now (an approved action, for
    /// instance, right after its approval).
    pub fn run_action(&self, id: &str) -> Result<RunReport, ManagerError> {
        let mut report = RunReport::default();
        let mut state = self.state()?;
        if state.action(id).is_none() {
            return Err(ManagerError::Refused(format!("there is no action {id}")));
        }
        self.advance(&mut state, id, &mut report)?;
        Ok(report)
    }

    /// What the policies will do and what is open, soonest first.
    pub fn due(&self) -> Result<Vec<DueItem>, ManagerError> {
        let state = self.state()?;
        let now = self.clock_now();
        let mut items = Vec::new();
        for a in state.actions.iter().filter(|a| !a.step.is_final()) {
            items.push(DueItem {
                key_arn: a.key_arn.clone(),
                what: a.kind.describe(),
                when: a.due,
                status: if a.step == Step::AwaitingApproval {
                    DueStatus::AwaitingApproval
                } else {
                    DueStatus::InProgress
                },
                action: Some(a.id.clone()),
                added_cost_usd: 0,
            });
        }
        for p in &state.policies {
            let suspended = state.suspension(&p.key_arn).is_some();
            // One listing per key serves the budget and the renewals.
            let listed = if p.rotate_every_days.is_some() || p.renew_before_days.is_some() {
                self.list(&p.key_arn).unwrap_or_default()
            } else {
                Vec::new()
            };
            if let Some(when) = p.next_rotation()
                && !state
                    .open_actions(&p.key_arn)
                    .any(|a| a.kind == ActionKind::Rotate)
            {
                let used = rotations_used(&listed);
                let limit = ON_DEMAND_ROTATION_LIMIT - p.rotation_reserve;
                let status = if suspended {
                    DueStatus::Blocked("the key is suspended".into())
                } else if used >= limit {
                    DueStatus::Blocked(format!(
                        "{used} of {ON_DEMAND_ROTATION_LIMIT} on-demand rotations used; {} kept in reserve",
                        p.rotation_reserve
                    ))
                } else if when <= now {
                    DueStatus::Due
                } else {
                    DueStatus::Upcoming
                };
                items.push(DueItem {
                    key_arn: p.key_arn.clone(),
                    what: format!(
                        "rotate to new material (on-demand rotation {} of {ON_DEMAND_ROTATION_LIMIT})",
                        used + 1
                    ),
                    when,
                    status,
                    action: None,
                    added_cost_usd: rotation_cost(used),
                });
            }
            if let Some(before) = p.renew_before_days
                && !suspended
            {
                for m in &listed {
                    let Some(valid_to) = m.valid_to else { continue };
                    if state.open_actions(&p.key_arn).any(|a| {
                        a.kind
                            == (ActionKind::Renew {
                                key_material_id: m.id.clone(),
                            })
                    }) {
                        continue;
                    }
                    let when = valid_to.minus(days_of(before));
                    let status = if state.escrowed(&p.key_arn, &m.id).is_none() {
                        DueStatus::Blocked("no escrow copy of this material".into())
                    } else if when <= now {
                        DueStatus::Due
                    } else {
                        DueStatus::Upcoming
                    };
                    items.push(DueItem {
                        key_arn: p.key_arn.clone(),
                        what: format!(
                            "renew material {} (ValidTo {})",
                            short(&m.id),
                            valid_to.to_datetime().format("%Y-%m-%d %H:%M UTC")
                        ),
                        when,
                        status,
                        action: None,
                        added_cost_usd: 0,
                    });
                }
            }
        }
        items.sort_by_key(|i| i.when);
        Ok(items)
    }

    /// Plans the actions policies make due now.
    fn plan_due(
        &self,
        state: &mut ManagerState,
        report: &mut RunReport,
    ) -> Result<(), ManagerError> {
        let now = self.clock_now();
        let policies = state.policies.clone();
        for p in &policies {
            if state.suspension(&p.key_arn).is_some() {
                continue;
            }
            // Listed at most once per key and run, when first needed.
            let mut cache: Option<Result<Vec<Listed>, BackendError>> = None;
            let mut listed = |m: &Manager| cache.get_or_insert_with(|| m.list(&p.key_arn)).clone();
            if let Some(due) = p.next_rotation()
                && due <= now
                && !state
                    .open_actions(&p.key_arn)
                    .any(|a| a.kind == ActionKind::Rotate)
                && !failed_before(state, &p.key_arn, &ActionKind::Rotate, due, report)
            {
                match listed(self).map(|l| rotations_used(&l)) {
                    Ok(used) => {
                        let limit = ON_DEMAND_ROTATION_LIMIT - p.rotation_reserve;
                        if used >= limit {
                            let text = format!(
                                "rotation schedule of {} stopped: {used} of {ON_DEMAND_ROTATION_LIMIT} on-demand rotations used and {} kept in reserve; rotate with new keys from now on",
                                p.key_arn, p.rotation_reserve
                            );
                            self.warn_once(
                                state,
                                &p.key_arn,
                                &format!("stop:{used}"),
                                &text,
                                report,
                            )?;
                        } else {
                            let after = used + 1;
                            if ON_DEMAND_ROTATION_LIMIT - after <= BUDGET_WARNING_AT {
                                let text = format!(
                                    "{}: this rotation is on-demand rotation {after} of {ON_DEMAND_ROTATION_LIMIT}; {} left",
                                    p.key_arn,
                                    ON_DEMAND_ROTATION_LIMIT - after
                                );
                                self.warn_once(
                                    state,
                                    &p.key_arn,
                                    &format!("budget:{after}"),
                                    &text,
                                    report,
                                )?;
                            }
                            let details = json!({ "onDemandRotation": after, "addedMonthlyCostUsd": rotation_cost(used) });
                            self.plan(
                                state,
                                &p.key_arn,
                                ActionKind::Rotate,
                                due,
                                "schedule",
                                p.dual_control,
                                details,
                            )?;
                        }
                    }
                    Err(e) => report.warnings.push(format!(
                        "{}: the rotation that is due was not planned: {e}",
                        p.key_arn
                    )),
                }
            }
            if let Some(before) = p.renew_before_days {
                let listed = match listed(self) {
                    Ok(l) => l,
                    Err(e) => {
                        report
                            .warnings
                            .push(format!("{}: renewals were not checked: {e}", p.key_arn));
                        continue;
                    }
                };
                for m in listed {
                    let Some(valid_to) = m.valid_to else { continue };
                    let due = valid_to.minus(days_of(before));
                    let kind = ActionKind::Renew {
                        key_material_id: m.id.clone(),
                    };
                    if due > now
                        || state.open_actions(&p.key_arn).any(|a| a.kind == kind)
                        || failed_before(state, &p.key_arn, &kind, due, report)
                    {
                        continue;
                    }
                    if state.escrowed(&p.key_arn, &m.id).is_none() {
                        let text = format!(
                            "{}: material {} expires at {} and cannot be renewed: the store has no escrow copy of it",
                            p.key_arn,
                            short(&m.id),
                            valid_to.to_rfc3339()
                        );
                        self.warn_once(
                            state,
                            &p.key_arn,
                            &format!("renew:{}", m.id),
                            &text,
                            report,
                        )?;
                        continue;
                    }
                    let details =
                        json!({ "keyMaterialId": m.id, "validTo": valid_to.to_rfc3339() });
                    self.plan(
                        state,
                        &p.key_arn,
                        kind,
                        due,
                        "schedule",
                        p.dual_control,
                        details,
                    )?;
                }
            }
        }
        Ok(())
    }

    fn warn_once(
        &self,
        state: &mut ManagerState,
        key_arn: &str,
        tag: &str,
        text: &str,
        report: &mut RunReport,
    ) -> Result<(), ManagerError> {
        report.warnings.push(text.to_string());
        let tag = format!("{tag}:{key_arn}");
        if state.warned.contains(&tag) {
            return Ok(());
        }
        state.warned.push(tag);
        if state.warned.len() > 1000 {
            state.warned.remove(0);
        }
        self.save(
            state,
            vec![event(
                "KeyManagerWarning",
                Some(key_arn),
                json!({ "warning": text }),
            )],
        )
    }

    /// Plans an action and saves it (with `KeyManagerActionPlanned`, and
    /// `KeyManagerApprovalRequested` when it needs an approver).
    #[allow(clippy::too_many_arguments)]
    fn plan(
        &self,
        state: &mut ManagerState,
        key_arn: &str,
        kind: ActionKind,
        due: Timestamp,
        requested_by: &str,
        needs_approval: bool,
        details: Value,
    ) -> Result<String, ManagerError> {
        let id = state.new_action_id();
        let action = Action {
            id: id.clone(),
            key_arn: key_arn.to_string(),
            kind: kind.clone(),
            due,
            planned: self.clock_now(),
            requested_by: requested_by.to_string(),
            needs_approval,
            approval: None,
            step: if needs_approval {
                Step::AwaitingApproval
            } else {
                Step::Planned
            },
            finished: None,
            material: None,
            source_file: None,
            transient_failures: 0,
            last_error: None,
        };
        let mut events = vec![event(
            "KeyManagerActionPlanned",
            Some(key_arn),
            json!({
                "action": id,
                "kind": kind,
                "due": due.to_rfc3339(),
                "requestedBy": requested_by,
                "details": details,
            }),
        )];
        if needs_approval {
            events.push(event(
                "KeyManagerApprovalRequested",
                Some(key_arn),
                json!({ "action": id, "what": kind.describe(), "requestedBy": requested_by }),
            ));
        }
        state.actions.push(action);
        self.save(state, events)?;
        Ok(id)
    }

    /// Saves a new step of action `id`, with its `KeyManagerStep` record.
    fn step(
        &self,
        state: &mut ManagerState,
        id: &str,
        step: Step,
        details: Value,
    ) -> Result<(), ManagerError> {
        let now = self.clock_now();
        let a = state
            .action_mut(id)
            .ok_or_else(|| ManagerError::Refused(format!("there is no action {id}")))?;
        let key = a.key_arn.clone();
        let name = step.name();
        if step.is_final() {
            a.finished = Some(now);
            a.material = None;
        }
        a.step = step.clone();
        a.last_error = None;
        let mut body = json!({ "action": id, "step": name, "kind": a.kind.clone() });
        if let (Value::Object(b), Value::Object(d)) = (&mut body, details) {
            b.extend(d);
        }
        match &step {
            Step::Done { summary } => body["summary"] = json!(summary),
            Step::Failed { reason } | Step::Cancelled { reason } => body["reason"] = json!(reason),
            _ => {}
        }
        self.save(state, vec![event("KeyManagerStep", Some(&key), body)])
    }

    /// Carries action `id` as far as it goes now.
    fn advance(
        &self,
        state: &mut ManagerState,
        id: &str,
        report: &mut RunReport,
    ) -> Result<(), ManagerError> {
        // At most a handful of steps per action and run; the bound keeps a
        // confused backend from spinning the runner.
        for _ in 0..12 {
            let Some(action) = state.action(id).cloned() else {
                return Ok(());
            };
            let outcome = |text: String, failed: bool| Outcome {
                action: id.to_string(),
                key_arn: action.key_arn.clone(),
                text,
                failed,
            };
            if action.step == Step::AwaitingApproval {
                report.open.push(outcome(
                    format!(
                        "{} waits for an approver (asked by {})",
                        action.kind.describe(),
                        action.requested_by
                    ),
                    false,
                ));
                return Ok(());
            }
            if action.step.is_final() {
                let (text, failed) = match &action.step {
                    Step::Done { summary } => (summary.clone(), false),
                    Step::Failed { reason } => (reason.clone(), true),
                    Step::Cancelled { reason } => (reason.clone(), true),
                    _ => unreachable!("final steps"),
                };
                report.outcomes.push(outcome(text, failed));
                return Ok(());
            }
            match self.next_step(state, &action) {
                Ok(Progress::Moved) => continue,
                Ok(Progress::Wait(text)) => {
                    report.open.push(outcome(text, false));
                    return Ok(());
                }
                Err(StepError::Final(reason)) => {
                    self.step(state, id, Step::Failed { reason }, json!({}))?;
                }
                Err(StepError::Store(e)) => return Err(e),
                Err(StepError::Transient(e)) => {
                    let a = state.action_mut(id).expect("present");
                    a.transient_failures += 1;
                    a.last_error = Some(e.to_string());
                    let failures = a.transient_failures;
                    if failures >= MAX_TRANSIENT_FAILURES {
                        self.step(
                            state,
                            id,
                            Step::Failed {
                                reason: format!(
                                    "given up after {failures} attempts; the last said: {e}"
                                ),
                            },
                            json!({}),
                        )?;
                        continue;
                    }
                    self.save(
                        state,
                        vec![event(
                            "KeyManagerStepDeferred",
                            Some(&action.key_arn),
                            json!({ "action": id, "step": action.step.name(), "attempt": failures, "error": e.to_string() }),
                        )],
                    )?;
                    report.open.push(outcome(
                        format!("{}: will be retried ({e})", action.kind.describe()),
                        false,
                    ));
                    return Ok(());
                }
            }
        }
        Ok(())
    }

    fn next_step(&self, state: &mut ManagerState, a: &Action) -> Result<Progress, StepError> {
        match (&a.kind, &a.step) {
            (ActionKind::Rotate, Step::Planned) => self.prepare_material(state, a),
            (ActionKind::Rotate, Step::MaterialReady { description }) => {
                self.import_new(state, a, description)
            }
            (ActionKind::Rotate, Step::Imported { key_material_id }) => {
                self.start_rotation(state, a, key_material_id)
            }
            (ActionKind::Rotate, Step::RotationStarted { key_material_id }) => {
                self.finish_rotation(state, a, key_material_id)
            }
            (ActionKind::Renew { key_material_id }, Step::Planned) => {
                self.renew(state, a, key_material_id)
            }
            (ActionKind::Suspend, Step::Planned) => self.run_suspend(state, a),
            (ActionKind::Restore, Step::Planned) => self.run_restore(state, a),
            (kind, step) => Err(StepError::Final(format!(
                "{} cannot continue from step {}",
                kind.describe(),
                step.name()
            ))),
        }
    }

    // ----- rotation -------------------------------------------------------

    fn prepare_material(
        &self,
        state: &mut ManagerState,
        a: &Action,
    ) -> Result<Progress, StepError> {
        let policy = state.policy(&a.key_arn).cloned();
        let source = policy
            .as_ref()
            .map(|p| p.source.clone())
            .unwrap_or_default();
        let escrow = policy.as_ref().is_some_and(|p| p.escrow);
        let (material, file, origin) = match &source {
            MaterialSource::Generate => {
                let mut rng = Kms::os_rng();
                (
                    SecretArray::<MATERIAL_LEN>::random(&mut rng),
                    None,
                    "generated",
                )
            }
            MaterialSource::Folder { folder } => match take_from_folder(folder) {
                Ok(FolderPick {
                    taken: Some((m, path)),
                    ..
                }) => (m, Some(path), "file"),
                Ok(FolderPick {
                    taken: None,
                    skipped,
                }) => {
                    let mut text = format!(
                        "waiting for a material file (exactly 32 bytes) in {}",
                        folder.display()
                    );
                    if !skipped.is_empty() {
                        text.push_str(&format!(" ({})", skipped.join("; ")));
                    }
                    return Ok(Progress::Wait(text));
                }
                Err(why) => return Ok(Progress::Wait(why)),
            },
        };
        let kcv = key_check_value(material.expose());
        let description = format!(
            "byok {} rotation {}",
            a.id,
            self.clock_now().to_datetime().format("%Y-%m-%d")
        );
        let entry = state.action_mut(&a.id).expect("present");
        entry.material = Some(material.clone());
        entry.source_file = file.clone();
        if escrow {
            state.escrow.push(EscrowEntry {
                key_arn: a.key_arn.clone(),
                key_material_id: None,
                action: Some(a.id.clone()),
                material: SecretVec::copy_of(material.expose()),
            });
        }
        self.step(
            state,
            &a.id,
            Step::MaterialReady {
                description: description.clone(),
            },
            json!({
                "keyMaterialDescription": description,
                "keyCheckValue": kcv,
                "origin": origin,
                "file": file.as_ref().map(|f| f.display().to_string()),
                "escrowed": escrow,
            }),
        )
        .map_err(StepError::Store)?;
        // The material is in the store now: the dropped file goes.
        if let Some(f) = &file {
            remove_material_file(f, state.action(&a.id).and_then(|x| x.material.as_ref()));
        }
        Ok(Progress::Moved)
    }

    fn import_new(
        &self,
        state: &mut ManagerState,
        a: &Action,
        description: &str,
    ) -> Result<Progress, StepError> {
        if let (Some(f), Some(m)) = (&a.source_file, &a.material) {
            // Killed after saving the material and before removing its file.
            remove_material_file(f, Some(m));
        }
        let Some(material) = a.material.clone() else {
            return Err(StepError::Final(
                "the action's material is missing from the store".into(),
            ));
        };
        // Did an earlier run import it already? Its description says so.
        let listed = self.list(&a.key_arn).map_err(StepError::from_backend)?;
        let (id, valid_to) = match listed
            .iter()
            .find(|m| m.description.as_deref() == Some(description))
        {
            Some(m) => (m.id.clone(), m.valid_to),
            None => {
                let policy = state.policy(&a.key_arn).cloned();
                let valid_to = policy
                    .as_ref()
                    .and_then(|p| p.valid_for_days)
                    .map(|d| self.clock_now().plus(days_of(d)));
                let out = self
                    .import(
                        &a.key_arn,
                        material.expose(),
                        "NEW_KEY_MATERIAL",
                        None,
                        Some(description),
                        valid_to,
                    )
                    .map_err(|e| match e.aws_name() {
                        Some("KMSInvalidStateException" | "IncorrectKeyMaterialException") => {
                            StepError::Final(format!("ImportKeyMaterial was refused: {e}"))
                        }
                        _ => StepError::from_backend(e),
                    })?;
                (out, valid_to)
            }
        };
        let now = self.clock_now();
        let policy = state.policy(&a.key_arn).cloned();
        let escrow = policy.as_ref().is_some_and(|p| p.escrow);
        for e in state.escrow.iter_mut() {
            if e.action.as_deref() == Some(&a.id) {
                e.key_material_id = Some(id.clone());
                e.action = None;
            }
        }
        state
            .inventory
            .retain(|r| !(r.key_arn == a.key_arn && r.key_material_id == id));
        state.inventory.push(MaterialRecord {
            key_arn: a.key_arn.clone(),
            key_material_id: id.clone(),
            description: Some(description.to_string()),
            key_check_value: key_check_value(material.expose()),
            origin: match &a.source_file {
                Some(p) => MaterialOrigin::File { path: p.clone() },
                None => MaterialOrigin::Generated,
            },
            imported: now,
            valid_to,
            escrowed: escrow,
        });
        self.step(
            state,
            &a.id,
            Step::Imported {
                key_material_id: id.clone(),
            },
            json!({ "keyMaterialId": id, "importType": "NEW_KEY_MATERIAL", "validTo": valid_to.map(|t| t.to_rfc3339()) }),
        )
        .map_err(StepError::Store)?;
        Ok(Progress::Moved)
    }

    fn start_rotation(
        &self,
        state: &mut ManagerState,
        a: &Action,
        material: &str,
    ) -> Result<Progress, StepError> {
        let listed = self.list(&a.key_arn).map_err(StepError::from_backend)?;
        let Some(m) = listed.iter().find(|m| m.id == material) else {
            return Err(StepError::Final(format!(
                "material {} is no longer in the key (deleted before the rotation)",
                short(material)
            )));
        };
        if m.state == "PENDING_ROTATION" {
            let status = send::<op::GetKeyRotationStatus>(&*self.backend, &key_input(&a.key_arn))
                .map_err(StepError::from_backend)?;
            if status.on_demand_rotation_start_date.is_none() {
                match send::<op::RotateKeyOnDemand>(&*self.backend, &key_input(&a.key_arn)) {
                    Ok(_) => {}
                    // Started by an earlier run whose answer was lost.
                    Err(e) if e.aws_name() == Some("ConflictException") => {}
                    Err(e)
                        if matches!(
                            e.aws_name(),
                            Some(
                                "LimitExceededException"
                                    | "KMSInvalidStateException"
                                    | "DisabledException"
                            )
                        ) =>
                    {
                        return Err(StepError::Final(format!(
                            "RotateKeyOnDemand was refused: {e}"
                        )));
                    }
                    Err(e) => return Err(StepError::from_backend(e)),
                }
            }
        }
        self.step(
            state,
            &a.id,
            Step::RotationStarted {
                key_material_id: material.to_string(),
            },
            json!({ "keyMaterialId": material }),
        )
        .map_err(StepError::Store)?;
        Ok(Progress::Moved)
    }

    fn finish_rotation(
        &self,
        state: &mut ManagerState,
        a: &Action,
        material: &str,
    ) -> Result<Progress, StepError> {
        let deadline = std::time::Instant::now() + self.rotation_wait;
        loop {
            let meta = self.describe(&a.key_arn).map_err(StepError::from_backend)?;
            if meta.current_key_material_id.as_deref() == Some(material) {
                let now = self.clock_now();
                if let Some(p) = state.policy_mut(&a.key_arn) {
                    // The schedule keeps its rhythm (the next rotation is due
                    // a period after this one was due), unless the runner
                    // was away for a whole period.
                    let period = days_of(p.rotate_every_days.unwrap_or(0));
                    p.last_rotation = Some(if now.since(a.due) < period {
                        a.due
                    } else {
                        now
                    });
                }
                let used = self
                    .list(&a.key_arn)
                    .map(|l| rotations_used(&l))
                    .unwrap_or(0);
                self.step(
                    state,
                    &a.id,
                    Step::Done {
                        summary: format!(
                            "rotated to material {} (CurrentKeyMaterialId checked; on-demand rotation {used} of {ON_DEMAND_ROTATION_LIMIT})",
                            short(material)
                        ),
                    },
                    json!({ "keyMaterialId": material, "currentKeyMaterialId": meta.current_key_material_id, "keyState": meta.key_state }),
                )
                .map_err(StepError::Store)?;
                return Ok(Progress::Moved);
            }
            let listed = self.list(&a.key_arn).map_err(StepError::from_backend)?;
            match listed.iter().find(|m| m.id == material) {
                Some(m) if m.state == "PENDING_ROTATION" => {}
                // The rotation completed between DescribeKey and this
                // listing: DescribeKey says so on the next look.
                Some(m) if m.state == "CURRENT" => {}
                Some(m) => {
                    return Err(StepError::Final(format!(
                        "material {} is {} and not current: another rotation overtook it",
                        short(material),
                        m.state
                    )));
                }
                None => {
                    return Err(StepError::Final(format!(
                        "material {} was removed before its rotation completed",
                        short(material)
                    )));
                }
            }
            if std::time::Instant::now() >= deadline {
                return Ok(Progress::Wait(format!(
                    "rotation to material {} is in progress; the next run checks it",
                    short(material)
                )));
            }
            std::thread::sleep(Duration::from_millis(250));
        }
    }

    // ----- renewal ----------------------------------------------------------

    fn renew(
        &self,
        state: &mut ManagerState,
        a: &Action,
        material: &str,
    ) -> Result<Progress, StepError> {
        let Some(copy) = state
            .escrowed(&a.key_arn, material)
            .map(|e| e.material.clone())
        else {
            return Err(StepError::Final(format!(
                "material {} has no escrow copy to re-import",
                short(material)
            )));
        };
        let days = state
            .policy(&a.key_arn)
            .and_then(|p| p.valid_for_days)
            .unwrap_or(MAX_VALID_DAYS);
        let valid_to = self.clock_now().plus(days_of(days));
        self.import(
            &a.key_arn,
            copy.expose(),
            "EXISTING_KEY_MATERIAL",
            Some(material),
            None,
            Some(valid_to),
        )
        .map_err(|e| match e.aws_name() {
            Some(
                "IncorrectKeyMaterialException"
                | "KMSInvalidStateException"
                | "NotFoundException"
                | "ValidationException",
            ) => StepError::Final(format!("ImportKeyMaterial was refused: {e}")),
            _ => StepError::from_backend(e),
        })?;
        if let Some(r) = state.record_mut(&a.key_arn, material) {
            r.valid_to = Some(valid_to);
            r.imported = self.clock_now();
        }
        self.step(
            state,
            &a.id,
            Step::Done {
                summary: format!(
                    "renewed material {} until {}",
                    short(material),
                    valid_to.to_rfc3339()
                ),
            },
            json!({ "keyMaterialId": material, "importType": "EXISTING_KEY_MATERIAL", "validTo": valid_to.to_rfc3339() }),
        )
        .map_err(StepError::Store)?;
        Ok(Progress::Moved)
    }

    // ----- kill switch --------------------------------------------------------

    /// Suspends each key of `keys`: plans the deletion of its imported
    /// material and carries it out (unless the key's policy wants an
    /// approver). Answers the actions planned.
    pub fn suspend(&self, keys: &[String]) -> Result<(Vec<String>, RunReport), ManagerError> {
        self.manual(keys, ActionKind::Suspend)
    }

    /// Restores each key of `keys` from escrow (what the kill switch
    /// deleted).
    pub fn restore(&self, keys: &[String]) -> Result<(Vec<String>, RunReport), ManagerError> {
        self.manual(keys, ActionKind::Restore)
    }

    fn manual(
        &self,
        keys: &[String],
        kind: ActionKind,
    ) -> Result<(Vec<String>, RunReport), ManagerError> {
        let mut state = self.state()?;
        let mut ids = Vec::new();
        let mut arns = Vec::new();
        for k in keys {
            let meta = self.describe(k)?;
            if meta.origin != "EXTERNAL" {
                return Err(ManagerError::Refused(format!(
                    "{} has origin {}: the kill switch deletes imported material, which it has none of",
                    meta.arn, meta.origin
                )));
            }
            if kind == ActionKind::Restore && state.suspension(&meta.arn).is_none() {
                return Err(ManagerError::Refused(format!(
                    "{} is not suspended by byok: there is nothing to restore",
                    meta.arn
                )));
            }
            arns.push(meta.arn);
        }
        for arn in &arns {
            if let Some(open) = state.open_actions(arn).find(|a| a.kind == kind) {
                ids.push(open.id.clone());
                continue;
            }
            let dual = state.policy(arn).is_some_and(|p| p.dual_control);
            let now = self.clock_now();
            let officer = self.officer.clone();
            ids.push(self.plan(
                &mut state,
                arn,
                kind.clone(),
                now,
                &officer,
                dual,
                json!({}),
            )?);
        }
        let mut report = RunReport::default();
        for id in &ids {
            self.advance(&mut state, id, &mut report)?;
        }
        Ok((ids, report))
    }

    fn run_suspend(&self, state: &mut ManagerState, a: &Action) -> Result<Progress, StepError> {
        let listed = self.list(&a.key_arn).map_err(StepError::from_backend)?;
        let now = self.clock_now();
        let mut suspension = state.suspension(&a.key_arn).cloned().unwrap_or(Suspension {
            key_arn: a.key_arn.clone(),
            at: now,
            materials: Vec::new(),
        });
        for m in listed
            .iter()
            .filter(|m| m.import_state.as_deref() != Some("PENDING_IMPORT"))
        {
            if !suspension
                .materials
                .iter()
                .any(|s| s.key_material_id == m.id)
            {
                suspension.materials.push(SuspendedMaterial {
                    key_material_id: m.id.clone(),
                    description: m.description.clone(),
                    state: m.state.clone(),
                    expiration_model: m.expiration_model.clone(),
                    valid_to: m.valid_to,
                });
            }
        }
        // Known before anything is deleted: what restore must re-import.
        let unrecoverable: Vec<String> = suspension
            .materials
            .iter()
            .filter(|m| state.escrowed(&a.key_arn, &m.key_material_id).is_none())
            .map(|m| m.key_material_id.clone())
            .collect();
        state.suspended.retain(|s| s.key_arn != a.key_arn);
        state.suspended.push(suspension.clone());
        let details = json!({
            "materials": suspension.materials.iter().map(|m| m.key_material_id.clone()).collect::<Vec<_>>(),
            "withoutEscrowCopy": unrecoverable,
        });
        self.save(
            state,
            vec![event(
                "KeyManagerSuspensionRecorded",
                Some(&a.key_arn),
                json!({ "action": a.id, "details": details }),
            )],
        )
        .map_err(StepError::Store)?;
        // Pending material first: deleting it is not blocked by the others.
        let mut order: Vec<&SuspendedMaterial> = suspension.materials.iter().collect();
        order.sort_by_key(|m| m.state != "PENDING_ROTATION");
        let mut deleted = 0;
        for m in order {
            let input = DeleteImportedKeyMaterialInput {
                key_id: Some(a.key_arn.clone()),
                key_material_id: Some(m.key_material_id.clone()),
            };
            match send::<op::DeleteImportedKeyMaterial>(&*self.backend, &input) {
                Ok(_) => deleted += 1,
                // Deleted already (by an earlier, interrupted run).
                Err(e)
                    if matches!(
                        e.aws_name(),
                        Some("KMSInvalidStateException" | "NotFoundException")
                    ) => {}
                Err(e) if e.aws_name().is_some() && !e.is_transient() => {
                    return Err(StepError::Final(format!(
                        "DeleteImportedKeyMaterial of material {} was refused: {e}",
                        short(&m.key_material_id)
                    )));
                }
                Err(e) => return Err(StepError::from_backend(e)),
            }
        }
        let meta = self.describe(&a.key_arn).map_err(StepError::from_backend)?;
        self.step(
            state,
            &a.id,
            Step::Done {
                summary: format!(
                    "suspended: {} material(s) deleted, key state {}",
                    suspension.materials.len(),
                    meta.key_state
                ),
            },
            json!({ "deletedNow": deleted, "materials": suspension.materials.len(), "keyState": meta.key_state }),
        )
        .map_err(StepError::Store)?;
        Ok(Progress::Moved)
    }

    fn run_restore(&self, state: &mut ManagerState, a: &Action) -> Result<Progress, StepError> {
        let Some(suspension) = state.suspension(&a.key_arn).cloned() else {
            return Err(StepError::Final("the key is not suspended".into()));
        };
        let listed = self.list(&a.key_arn).map_err(StepError::from_backend)?;
        let now = self.clock_now();
        let policy_days = state.policy(&a.key_arn).and_then(|p| p.valid_for_days);
        let mut missing = Vec::new();
        let mut order: Vec<&SuspendedMaterial> = suspension.materials.iter().collect();
        // The permanently associated materials first, the pending one last
        // (it is imported as new material again).
        order.sort_by_key(|m| m.state == "PENDING_ROTATION");
        let mut imported = 0;
        for m in order {
            let Some(copy) = state
                .escrowed(&a.key_arn, &m.key_material_id)
                .map(|e| e.material.clone())
            else {
                missing.push(m.key_material_id.clone());
                continue;
            };
            let on_key = listed.iter().find(|l| l.id == m.key_material_id);
            if on_key.is_some_and(|l| l.import_state.as_deref() == Some("IMPORTED")) {
                continue;
            }
            let valid_to = if m.expiration_model.as_deref() == Some("KEY_MATERIAL_DOES_NOT_EXPIRE")
            {
                None
            } else {
                let fallback = now.plus(days_of(policy_days.unwrap_or(30)));
                Some(match m.valid_to {
                    Some(v) if v > now.plus(days_of(1)) => v.min(now.plus(days_of(MAX_VALID_DAYS))),
                    _ => fallback,
                })
            };
            let result = if on_key.is_some() {
                self.import(
                    &a.key_arn,
                    copy.expose(),
                    "EXISTING_KEY_MATERIAL",
                    Some(&m.key_material_id),
                    None,
                    valid_to,
                )
            } else {
                self.import(
                    &a.key_arn,
                    copy.expose(),
                    "NEW_KEY_MATERIAL",
                    None,
                    m.description.as_deref(),
                    valid_to,
                )
            };
            match result {
                Ok(_) => imported += 1,
                Err(e) if e.aws_name().is_some() && !e.is_transient() => {
                    return Err(StepError::Final(format!(
                        "re-importing material {} was refused: {e}",
                        short(&m.key_material_id)
                    )));
                }
                Err(e) => return Err(StepError::from_backend(e)),
            }
        }
        if !missing.is_empty() {
            return Err(StepError::Final(format!(
                "cannot restore {} material(s) without an escrow copy ({}); the key stays PendingImport until the custodian re-imports them",
                missing.len(),
                missing
                    .iter()
                    .map(|m| short(m))
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
        let meta = self.describe(&a.key_arn).map_err(StepError::from_backend)?;
        state.suspended.retain(|s| s.key_arn != a.key_arn);
        self.step(
            state,
            &a.id,
            Step::Done {
                summary: format!(
                    "restored from escrow: {} material(s) re-imported, key state {}",
                    suspension.materials.len(),
                    meta.key_state
                ),
            },
            json!({ "importedNow": imported, "materials": suspension.materials.len(), "keyState": meta.key_state }),
        )
        .map_err(StepError::Store)?;
        Ok(Progress::Moved)
    }

    /// The keys (ARNs) whose tags include `tag_key` = `tag_value`, among
    /// every key of the backend.
    pub fn keys_with_tag(
        &self,
        tag_key: &str,
        tag_value: &str,
    ) -> Result<Vec<String>, ManagerError> {
        let mut out = Vec::new();
        let mut marker: Option<String> = None;
        loop {
            let page = send::<op::ListKeys>(
                &*self.backend,
                &ListKeysInput {
                    limit: Some(1000),
                    marker: marker.take(),
                },
            )?;
            for k in &page.keys {
                let tags = send::<op::ListResourceTags>(
                    &*self.backend,
                    &ListResourceTagsInput {
                        key_id: Some(k.key_arn.clone()),
                        ..Default::default()
                    },
                )?;
                if tags.tags.iter().any(|t| {
                    t.tag_key.as_deref() == Some(tag_key)
                        && t.tag_value.as_deref() == Some(tag_value)
                }) {
                    out.push(k.key_arn.clone());
                }
            }
            match page.next_marker {
                Some(m) if page.truncated => marker = Some(m),
                _ => break,
            }
        }
        Ok(out)
    }

    /// Every key the manager has a policy, escrow copy or suspension for.
    pub fn managed_keys(&self) -> Result<Vec<String>, ManagerError> {
        let s = self.state()?;
        let mut keys: Vec<String> = s
            .policies
            .iter()
            .map(|p| p.key_arn.clone())
            .chain(s.escrow.iter().map(|e| e.key_arn.clone()))
            .chain(s.suspended.iter().map(|e| e.key_arn.clone()))
            .collect();
        keys.sort();
        keys.dedup();
        Ok(keys)
    }

    // ----- dual control ------------------------------------------------------

    /// Registers approver `name` with `passphrase` (Argon2id, as the
    /// store's own key is derived).
    pub fn register_approver(
        &self,
        name: &str,
        passphrase: &secrecy::SecretString,
    ) -> Result<(), ManagerError> {
        use secrecy::ExposeSecret;
        let name = name.trim();
        if name.is_empty() || name.len() > 64 {
            return Err(ManagerError::Refused(
                "an approver's name is 1 to 64 characters".into(),
            ));
        }
        if passphrase.expose_secret().chars().count() < 8 {
            return Err(ManagerError::Refused(
                "an approver's passphrase has at least 8 characters".into(),
            ));
        }
        let mut state = self.state()?;
        if state.approvers.iter().any(|a| a.name == name) {
            return Err(ManagerError::Refused(format!(
                "{name} is registered already"
            )));
        }
        let mut salt = [0u8; 16];
        rand::Rng::fill_bytes(&mut Kms::os_rng(), &mut salt);
        let kdf = crate::store::env::kdf_for_new_store();
        let verifier = derive(passphrase, &salt, kdf)?;
        state.approvers.push(Approver {
            name: name.to_string(),
            salt,
            verifier,
            kdf: (kdf.m_cost_kib, kdf.t_cost, kdf.p_cost),
            registered: self.clock_now(),
        });
        self.save(
            &mut state,
            vec![event(
                "KeyManagerApproverRegistered",
                None,
                json!({ "approver": name }),
            )],
        )
    }

    /// Approves action `id` as `approver`, whose passphrase must match; the
    /// officer who asked may not approve their own request. The action
    /// then runs at once.
    pub fn approve(
        &self,
        id: &str,
        approver: &str,
        passphrase: &secrecy::SecretString,
    ) -> Result<RunReport, ManagerError> {
        let mut state = self.state()?;
        self.check_approver(&mut state, id, approver, passphrase)?;
        let a = state.action_mut(id).expect("checked");
        a.approval = Some(Approval {
            by: approver.to_string(),
            at: self.clock_now(),
        });
        let key = a.key_arn.clone();
        let what = a.kind.describe();
        a.step = Step::Planned;
        self.save(
            &mut state,
            vec![event(
                "KeyManagerActionApproved",
                Some(&key),
                json!({ "action": id, "what": what, "approver": approver }),
            )],
        )?;
        let mut report = RunReport::default();
        self.advance(&mut state, id, &mut report)?;
        Ok(report)
    }

    /// Refuses action `id` as `approver`.
    pub fn reject(
        &self,
        id: &str,
        approver: &str,
        passphrase: &secrecy::SecretString,
    ) -> Result<(), ManagerError> {
        let mut state = self.state()?;
        self.check_approver(&mut state, id, approver, passphrase)?;
        self.step(
            &mut state,
            id,
            Step::Cancelled {
                reason: format!("refused by approver {approver}"),
            },
            json!({ "approver": approver }),
        )
    }

    fn check_approver(
        &self,
        state: &mut ManagerState,
        id: &str,
        approver: &str,
        passphrase: &secrecy::SecretString,
    ) -> Result<(), ManagerError> {
        let a = state
            .action(id)
            .ok_or_else(|| ManagerError::Refused(format!("there is no action {id}")))?;
        if a.step != Step::AwaitingApproval {
            return Err(ManagerError::Refused(format!(
                "{id} does not wait for an approval (it is {})",
                a.step.name()
            )));
        }
        if a.requested_by == approver {
            return Err(ManagerError::Refused(format!(
                "{approver} asked for {id} and cannot also approve it: dual control needs a second officer"
            )));
        }
        let key = a.key_arn.clone();
        let registered = state.approvers.iter().find(|x| x.name == approver).cloned();
        let ok = match &registered {
            Some(r) => {
                let (m_cost_kib, t_cost, p_cost) = r.kdf;
                let kdf = crate::store::format::KdfParams {
                    m_cost_kib,
                    t_cost,
                    p_cost,
                };
                let candidate = derive(passphrase, &r.salt, kdf)?;
                subtle::ConstantTimeEq::ct_eq(&candidate.expose()[..], &r.verifier.expose()[..])
                    .into()
            }
            None => false,
        };
        if !ok {
            self.save(
                state,
                vec![event(
                    "KeyManagerApprovalRefused",
                    Some(&key),
                    json!({ "action": id, "approver": approver, "reason": "unknown approver or wrong passphrase" }),
                )],
            )?;
            return Err(ManagerError::Refused(format!(
                "{approver} is not a registered approver, or the passphrase is wrong"
            )));
        }
        Ok(())
    }

    // ----- escrow ---------------------------------------------------------

    /// Keeps `material` as the escrow copy of material `key_material_id` of
    /// `key_arn` (a custodian's copy made outside byok, or the import
    /// wizard's material), and records it in the inventory.
    pub fn deposit(
        &self,
        key_arn: &str,
        key_material_id: &str,
        material: &SecretVec,
        origin: MaterialOrigin,
    ) -> Result<(), ManagerError> {
        let meta = self.describe(key_arn)?;
        check_material(&meta, material.expose())?;
        let listed = self.list(key_arn)?;
        let Some(m) = listed.iter().find(|m| m.id == key_material_id) else {
            return Err(ManagerError::Refused(format!(
                "{key_arn} has no material {key_material_id}"
            )));
        };
        let mut state = self.state()?;
        if let Some(e) = state.escrowed(key_arn, key_material_id) {
            if e.material.expose() == material.expose() {
                return Ok(());
            }
            return Err(ManagerError::Refused(format!(
                "the store holds a different escrow copy of material {}",
                short(key_material_id)
            )));
        }
        let kcv = check_value(material.expose());
        state.escrow.push(EscrowEntry {
            key_arn: key_arn.to_string(),
            key_material_id: Some(key_material_id.to_string()),
            action: None,
            material: material.clone(),
        });
        state
            .inventory
            .retain(|r| !(r.key_arn == key_arn && r.key_material_id == key_material_id));
        state.inventory.push(MaterialRecord {
            key_arn: key_arn.to_string(),
            key_material_id: key_material_id.to_string(),
            description: m.description.clone(),
            key_check_value: kcv.clone(),
            origin,
            imported: self.clock_now(),
            valid_to: m.valid_to,
            escrowed: true,
        });
        self.save(
            &mut state,
            vec![event(
                "KeyManagerEscrowDeposited",
                Some(key_arn),
                json!({ "keyMaterialId": key_material_id, "keyCheckValue": kcv }),
            )],
        )
    }

    /// The escrow copy of material `key_material_id` of `key_arn`, in
    /// `form`, for an explicit export (recorded as
    /// `KeyManagerEscrowExported`, with the form and where it goes).
    pub fn export_escrow(
        &self,
        key_arn: &str,
        key_material_id: &str,
        form: &ExportForm,
        destination: &Path,
    ) -> Result<Export, ManagerError> {
        let mut state = self.state()?;
        let Some(entry) = state.escrowed(key_arn, key_material_id).cloned() else {
            return Err(ManagerError::Refused(format!(
                "the store holds no escrow copy of material {key_material_id} of {key_arn}"
            )));
        };
        let kcv = check_value(entry.material.expose());
        let (bytes, form_name) = match form {
            ExportForm::Raw => (
                zeroize::Zeroizing::new(entry.material.expose().to_vec()),
                "RAW".to_string(),
            ),
            ExportForm::Wrapped {
                public_key_der,
                algorithm,
            } => {
                let wrapped = wrap_material(
                    public_key_der,
                    *algorithm,
                    entry.material.expose(),
                    &mut Kms::os_rng(),
                )
                .map_err(|e| match (&e, algorithm) {
                    // RSA-OAEP wraps at most the key's size less its
                    // padding: a private key in escrow needs the AES key
                    // wrap.
                    (
                        crate::kms::WrapError::Rsa(_),
                        WrappingAlgorithm::RsaesOaepSha1 | WrappingAlgorithm::RsaesOaepSha256,
                    ) => ManagerError::Refused(format!(
                        "the escrow copy is {} bytes, more than {} can wrap under this RSA public key ({e}); \
                         wrap it with RSA_AES_KEY_WRAP_SHA_256 (--algorithm RSA_AES_KEY_WRAP_SHA_256), which wraps any length",
                        entry.material.expose().len(),
                        algorithm.as_str()
                    )),
                    _ => ManagerError::Refused(e.to_string()),
                })?;
                (
                    zeroize::Zeroizing::new(wrapped),
                    algorithm.as_str().to_string(),
                )
            }
        };
        self.save(
            &mut state,
            vec![event(
                "KeyManagerEscrowExported",
                Some(key_arn),
                json!({
                    "keyMaterialId": key_material_id,
                    "keyCheckValue": kcv,
                    "form": form_name,
                    "file": destination.display().to_string(),
                    "officer": self.officer,
                }),
            )],
        )?;
        Ok(Export {
            bytes,
            key_check_value: kcv,
        })
    }

    // ----- backend helpers ----------------------------------------------------

    pub(super) fn describe(&self, key: &str) -> Result<KeyMetadata, BackendError> {
        Ok(send::<op::DescribeKey>(&*self.backend, &key_input(key))?.key_metadata)
    }

    fn list(&self, key: &str) -> Result<Vec<Listed>, BackendError> {
        let mut out = Vec::new();
        let mut marker = None;
        for _ in 0..100 {
            let page = send::<op::ListKeyRotations>(
                &*self.backend,
                &ListKeyRotationsInput {
                    key_id: Some(key.to_string()),
                    include_key_material: Some("ALL_KEY_MATERIAL".into()),
                    limit: Some(1000),
                    marker,
                },
            )?;
            out.extend(page.rotations.into_iter().map(|r| Listed {
                id: r.key_material_id,
                description: r.key_material_description,
                import_state: r.import_state,
                state: r.key_material_state,
                expiration_model: r.expiration_model,
                valid_to: r.valid_to.map(|t| t.0),
                rotation_type: r.rotation_type,
            }));
            match page.next_marker {
                Some(m) if page.truncated => marker = Some(m),
                _ => break,
            }
        }
        Ok(out)
    }

    /// GetParametersForImport, wrap on this side, ImportKeyMaterial.
    /// The wrapping is the first of [`WRAPPINGS`] AWS allows for the key's
    /// spec.
    fn import(
        &self,
        key: &str,
        material: &[u8],
        import_type: &str,
        key_material_id: Option<&str>,
        description: Option<&str>,
        valid_to: Option<Timestamp>,
    ) -> Result<String, BackendError> {
        let meta = self.describe(key)?;
        let spec = key_spec_of(&meta).map_err(|e| BackendError::Request {
            operation: "GetParametersForImport".into(),
            detail: e.to_string(),
        })?;
        let (algorithm, wrapping_spec) = wrapping_for(&meta.arn, spec);
        let params = send::<op::GetParametersForImport>(
            &*self.backend,
            &GetParametersForImportInput {
                key_id: Some(key.to_string()),
                wrapping_algorithm: Some(algorithm.as_str().into()),
                wrapping_key_spec: Some(wrapping_spec.as_str().into()),
            },
        )?;
        let wrapped = wrap_material(
            params.public_key.bytes(),
            algorithm,
            material,
            &mut Kms::os_rng(),
        )
        .map_err(|e| BackendError::Request {
            operation: "ImportKeyMaterial".into(),
            detail: format!("the material could not be wrapped: {e}"),
        })?;
        let input = ImportKeyMaterialInput {
            key_id: Some(key.to_string()),
            import_token: Some(params.import_token),
            encrypted_key_material: Some(Blob::from(wrapped)),
            valid_to: valid_to.map(Time),
            expiration_model: Some(ExpirationModel::for_valid_to(valid_to).as_str().into()),
            import_type: Some(import_type.into()),
            key_material_description: description.map(str::to_string),
            key_material_id: key_material_id.map(str::to_string),
        };
        Ok(send::<op::ImportKeyMaterial>(&*self.backend, &input)?.key_material_id)
    }

    /// The usage source of the blast-radius preview.
    pub(super) fn usage_events(
        &self,
        key_arn: &str,
        since: Timestamp,
    ) -> Result<Vec<Value>, ManagerError> {
        if let Some(u) = &self.usage {
            return Ok(u(key_arn, since)?);
        }
        let records = lock(&self.vault).audit_records()?;
        Ok(records
            .into_iter()
            .filter(|r| r.key_arn() == Some(key_arn))
            .filter(|r| Timestamp::parse(&r.event_time).is_some_and(|t| t >= since))
            .filter_map(|r| serde_json::to_value(r).ok())
            .collect())
    }

    pub(super) fn backend(&self) -> &dyn Backend {
        &*self.backend
    }

    pub(super) fn list_materials(
        &self,
        key: &str,
    ) -> Result<Vec<(String, Option<String>, String)>, BackendError> {
        Ok(self
            .list(key)?
            .into_iter()
            .filter(|m| m.import_state.as_deref() != Some("PENDING_IMPORT"))
            .map(|m| (m.id, m.description, m.state))
            .collect())
    }

    /// The manager's time: the store's key clock for a local store, real
    /// time for an AWS account.
    pub fn clock_now(&self) -> Timestamp {
        self.clock.now()
    }

    /// The ARN of `key` (a key ID, ARN, alias name or alias ARN).
    pub fn key_arn(&self, key: &str) -> Result<String, ManagerError> {
        Ok(self.describe(key)?.arn)
    }
}

/// Whether the action `kind` due at `due` failed already: it is not planned
/// again until the policy changes (a warning says so), so a broken action
/// does not repeat every run.
fn failed_before(
    state: &ManagerState,
    key_arn: &str,
    kind: &ActionKind,
    due: Timestamp,
    report: &mut RunReport,
) -> bool {
    let failed = state.actions.iter().rev().find(|a| {
        a.key_arn == key_arn
            && a.kind == *kind
            && a.due == due
            && matches!(a.step, Step::Failed { .. })
    });
    if let Some(a) = failed {
        report.warnings.push(format!(
            "{key_arn}: {} due at {} failed ({}); set the key's policy again to retry (`byok agent policy set ... --rotate-now`)",
            kind.describe(),
            due.to_rfc3339(),
            a.id
        ));
        return true;
    }
    false
}

/// On-demand rotations a key has used, from its ListKeyRotations entries.
fn rotations_used(listed: &[Listed]) -> u32 {
    listed
        .iter()
        .filter(|m| m.rotation_type.as_deref() == Some("ON_DEMAND"))
        .count() as u32
}

/// The added monthly cost of the next rotation of a key that has had
/// `used` (SPEC §7, by [`monthly_cost_usd`]).
fn rotation_cost(used: u32) -> u32 {
    monthly_cost_usd(used as usize + 1) - monthly_cost_usd(used as usize)
}

fn key_input(key: &str) -> KeyIdInput {
    KeyIdInput {
        key_id: Some(key.to_string()),
    }
}

/// The key's `KeySpec` as the engine models it, or why the manager cannot
/// handle the key (a spec byok does not know, such as an ML-DSA key).
fn key_spec_of(meta: &KeyMetadata) -> Result<KeySpec, ManagerError> {
    if meta.key_spec.is_empty() {
        // An answer without KeySpec: keys before key specs were symmetric.
        return Ok(KeySpec::SymmetricDefault);
    }
    meta.key_spec.parse::<KeySpec>().map_err(|_| {
        ManagerError::Refused(format!(
            "{} is a {} key, which the key manager does not handle",
            meta.arn, meta.key_spec
        ))
    })
}

/// The first of [`WRAPPINGS`] that AWS allows for `spec`'s material (the
/// engine's rule, [`crate::kms::rules::import_wrapping`]); RSA_AES_KEY_WRAP
/// with SHA-256 wraps every material.
fn wrapping_for(arn: &str, spec: KeySpec) -> (WrappingAlgorithm, WrappingKeySpec) {
    WRAPPINGS
        .into_iter()
        .find(|(a, w)| crate::kms::rules::import_wrapping(arn, spec, *a, *w).is_ok())
        .unwrap_or((
            WrappingAlgorithm::RsaAesKeyWrapSha256,
            WrappingKeySpec::Rsa2048,
        ))
}

/// Whether `material` is what a key described by `meta` takes: the lengths
/// of its spec ([`KeySpec::material_lengths`]: 32 bytes for a symmetric key,
/// 28 to 128 for HMAC keys by spec) and, for an asymmetric key, a DER PKCS #8
/// private key of the key's type and size. The refusal says which.
fn check_material(meta: &KeyMetadata, material: &[u8]) -> Result<(), ManagerError> {
    let spec = key_spec_of(meta)?;
    let lengths = spec.material_lengths();
    if !lengths.contains(&material.len()) {
        let wanted = if spec.is_asymmetric() {
            format!(
                "a DER PKCS #8 private key of at most {} bytes",
                lengths.end()
            )
        } else if lengths.start() == lengths.end() {
            format!("exactly {} bytes", lengths.start())
        } else {
            format!("{} to {} bytes", lengths.start(), lengths.end())
        };
        return Err(ManagerError::Refused(format!(
            "the material is {} bytes; {} is a {spec} key, which takes {wanted}",
            material.len(),
            meta.arn
        )));
    }
    if spec.is_asymmetric() {
        crate::kms::asym::AsymmetricKey::from_pkcs8(spec, material).map_err(|wanted| {
            ManagerError::Refused(format!(
                "the material is not a private key {} takes: a {spec} key takes {wanted}",
                meta.arn
            ))
        })?;
    }
    Ok(())
}

/// The check value recorded beside a copy (never the bytes): for 32-byte
/// material the key check value HSM consoles show
/// ([`key_check_value`]: AES-256-ECB of a zero block, first three bytes);
/// for material of another length, where AES-256 does not apply (HMAC keys,
/// private keys), `sha256:` and the first three bytes of its SHA-256, which
/// a custodian repeats with `openssl dgst -sha256`.
pub fn check_value(material: &[u8]) -> String {
    match <&[u8; MATERIAL_LEN]>::try_from(material) {
        Ok(m) => key_check_value(m),
        Err(_) => {
            use sha2::Digest;
            let d = sha2::Sha256::digest(material);
            format!("sha256:{:02x}{:02x}{:02x}", d[0], d[1], d[2])
        }
    }
}

fn policy_json(p: &KeyPolicy) -> Value {
    serde_json::to_value(p).unwrap_or(Value::Null)
}

fn derive(
    passphrase: &secrecy::SecretString,
    salt: &[u8; 16],
    kdf: crate::store::format::KdfParams,
) -> Result<SecretArray<32>, ManagerError> {
    use secrecy::ExposeSecret;
    if kdf.m_cost_kib > crate::store::format::KdfParams::MAX.m_cost_kib
        || kdf.t_cost > crate::store::format::KdfParams::MAX.t_cost
    {
        return Err(ManagerError::Refused(
            "the approver's key derivation parameters are out of bounds".into(),
        ));
    }
    crate::store::format::derive_key(passphrase.expose_secret().as_bytes(), salt, kdf)
        .ok_or_else(|| ManagerError::Refused("the approver's key could not be derived".into()))
}

enum Progress {
    Moved,
    Wait(String),
}

enum StepError {
    /// The action cannot succeed: it is marked failed.
    Final(String),
    /// It may succeed later: it stays where it is.
    Transient(BackendError),
    /// The store could not be written: the run stops.
    Store(ManagerError),
}

impl StepError {
    fn from_backend(e: BackendError) -> StepError {
        if e.is_transient() || e.aws_name().is_none() {
            StepError::Transient(e)
        } else {
            StepError::Final(e.to_string())
        }
    }
}

/// The oldest file of exactly 32 bytes in `folder` (by modification time,
/// then name). Files of another size are left where they are. It is new
/// material for a rotation, and only symmetric keys rotate
/// ([`Manager::set_policy`] refuses a folder source for other keys), so 32
/// bytes is the one length that fits.
fn take_from_folder(folder: &Path) -> Result<FolderPick, String> {
    let entries = std::fs::read_dir(folder).map_err(|e| {
        format!(
            "the material folder {} cannot be read: {e}",
            folder.display()
        )
    })?;
    let mut candidates: Vec<(std::time::SystemTime, PathBuf)> = Vec::new();
    let mut skipped = Vec::new();
    for e in entries.filter_map(Result::ok) {
        let Ok(meta) = e.metadata() else { continue };
        if !meta.is_file() {
            continue;
        }
        if meta.len() == MATERIAL_LEN as u64 {
            candidates.push((meta.modified().unwrap_or(std::time::UNIX_EPOCH), e.path()));
        } else {
            skipped.push(format!(
                "{} is {} bytes, not {MATERIAL_LEN}: left as it is",
                e.file_name().to_string_lossy(),
                meta.len()
            ));
        }
    }
    candidates.sort();
    skipped.sort();
    for (_, path) in candidates {
        let Ok(bytes) = std::fs::read(&path).map(zeroize::Zeroizing::new) else {
            skipped.push(format!("{} cannot be read", path.display()));
            continue;
        };
        if let Some(m) = SecretArray::from_slice(&bytes) {
            return Ok(FolderPick {
                taken: Some((m, path)),
                skipped,
            });
        }
    }
    Ok(FolderPick {
        taken: None,
        skipped,
    })
}

/// What [`take_from_folder`] found.
struct FolderPick {
    taken: Option<(SecretArray<MATERIAL_LEN>, PathBuf)>,
    skipped: Vec<String>,
}

/// Removes a consumed material file, overwriting it first, when it still
/// holds `material` (a file replaced since is left alone).
fn remove_material_file(path: &Path, material: Option<&SecretArray<MATERIAL_LEN>>) {
    let Ok(bytes) = std::fs::read(path).map(zeroize::Zeroizing::new) else {
        return;
    };
    if material.is_some_and(|m| bytes[..] == m.expose()[..]) {
        if let Ok(mut f) = std::fs::OpenOptions::new().write(true).open(path) {
            use std::io::Write;
            let _ = f.write_all(&[0u8; MATERIAL_LEN]);
            let _ = f.sync_all();
        }
        let _ = std::fs::remove_file(path);
    }
}
