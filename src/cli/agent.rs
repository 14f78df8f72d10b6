//! `byok agent ...`: the external key manager from the command line. With
//! no subcommand it runs every due action and exits (for cron or a systemd
//! timer); `--watch` keeps running. The subcommands set policies, show what
//! is due, manage escrow, run the kill switch and its restore, and approve
//! actions under dual control. A local store and an AWS store alike: the
//! store file says which.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use clap::{Args, Subcommand};
use secrecy::{ExposeSecret, SecretString};

use super::{CliError, Global, close_shared, open_store};
use crate::aws::ConnectOptions;
use crate::kms::{Caller, KeySpec, SecretVec, WrappingAlgorithm};
use crate::manager::state::short;
use crate::manager::{
    BlastRadius, DueStatus, ExportForm, KeyPolicy, Manager, ManagerError, MaterialOrigin,
    MaterialSource, RunReport, Step,
};
use crate::workspace::{AwsSection, Workspace};

/// Environment variable with an approver's passphrase (`approvers add`,
/// `approve`, `reject`); otherwise it is asked without echo.
pub const APPROVER_PASSPHRASE_VAR: &str = "BYOK_APPROVER_PASSPHRASE";

/// `byok agent`.
#[derive(Args, Debug)]
#[command(args_conflicts_with_subcommands = true)]
pub struct AgentArgs {
    #[command(subcommand)]
    command: Option<AgentCommand>,
    /// Keep running: check for due actions every --interval seconds.
    #[arg(long)]
    watch: bool,
    /// With --watch: seconds between checks (default 60).
    #[arg(long, value_name = "SECONDS", default_value_t = 60)]
    interval: u64,
    /// With --watch: stop after this many checks (default: never).
    #[arg(long, value_name = "N")]
    runs: Option<u64>,
    /// How long a run waits for a rotation it started to complete, in
    /// seconds (default 30; the next run checks it otherwise).
    #[arg(long, value_name = "SECONDS", default_value_t = 30)]
    rotation_wait: u64,
    #[command(flatten)]
    who: Officer,
}

/// Who is acting.
#[derive(Args, Debug, Clone)]
struct Officer {
    /// The officer's name, recorded as who asked (default: $USER).
    #[arg(long, global = true, value_name = "NAME")]
    officer: Option<String>,
}

impl Officer {
    fn name(&self) -> String {
        self.officer
            .clone()
            .or_else(|| std::env::var("USER").ok())
            .filter(|n| !n.trim().is_empty())
            .unwrap_or_else(|| "officer".into())
    }
}

/// Which keys a kill switch command acts on.
#[derive(Args, Debug, Clone)]
#[group(required = true, multiple = false)]
struct Selection {
    /// A key (ID, ARN or alias); repeat for several.
    #[arg(long = "key", value_name = "KEY", num_args = 1..)]
    keys: Vec<String>,
    /// Every key with this tag (KEY=VALUE).
    #[arg(long, value_name = "KEY=VALUE")]
    tag: Option<String>,
    /// Every key the key manager manages (a policy, escrow or suspension).
    #[arg(long)]
    all: bool,
}

#[derive(Subcommand, Debug)]
enum AgentCommand {
    /// What is due and open: each policy's next action, approvals waiting,
    /// actions under way.
    Status,
    /// Set or clear a key's policy.
    #[command(subcommand)]
    Policy(PolicyCommand),
    /// The materials byok imported (key ARN, KeyMaterialId, description,
    /// key check value, origin, ValidTo) and their escrow status.
    Inventory {
        /// Only this key.
        #[arg(long, value_name = "KEY")]
        key: Option<String>,
    },
    /// The custodian's copies kept in the store.
    #[command(subcommand)]
    Escrow(EscrowCommand),
    /// What suspending the keys would do: materials deleted, those without
    /// escrow copy, aliases, and who used them in the last 30 days.
    Preview {
        #[command(flatten)]
        select: Selection,
    },
    /// The kill switch: delete the imported material of the keys (after a
    /// preview; --yes to confirm).
    Suspend {
        #[command(flatten)]
        select: Selection,
        /// Confirm (without it the preview is printed and nothing happens).
        #[arg(long)]
        yes: bool,
    },
    /// Re-import from escrow what the kill switch deleted.
    Restore {
        #[command(flatten)]
        select: Selection,
    },
    /// Approvers for dual control.
    #[command(subcommand)]
    Approvers(ApproversCommand),
    /// Approve a waiting action as a registered approver; it runs at once.
    Approve {
        /// The action (act-000012).
        action: String,
        /// The approver's registered name.
        #[arg(long, value_name = "NAME")]
        approver: String,
    },
    /// Refuse a waiting action as a registered approver.
    Reject {
        /// The action.
        action: String,
        /// The approver's registered name.
        #[arg(long, value_name = "NAME")]
        approver: String,
    },
}

#[derive(Subcommand, Debug)]
enum PolicyCommand {
    /// Sets a key's policy (replacing its previous one).
    Set {
        /// The key (ID, ARN or alias).
        key: String,
        /// Keep the custodian's copy of every material byok imports into
        /// this key inside the store (needed for renewal and restore).
        #[arg(long)]
        escrow: bool,
        /// Rotate every N days: new material, imported as NEW_KEY_MATERIAL,
        /// then RotateKeyOnDemand, then CurrentKeyMaterialId checked.
        #[arg(long, value_name = "N")]
        rotate_every_days: Option<u32>,
        /// Take new material from the oldest 32-byte file in this folder
        /// instead of generating it (the file is removed once stored).
        #[arg(long, value_name = "DIR")]
        material_folder: Option<PathBuf>,
        /// Materials byok imports expire M days after import (ValidTo).
        #[arg(long, value_name = "M")]
        valid_for_days: Option<u32>,
        /// Renew (re-import) escrowed materials K days before ValidTo.
        #[arg(long, value_name = "K")]
        renew_before_days: Option<u32>,
        /// On-demand rotations to keep in reserve (default 1): the schedule
        /// stops when only this many of the 25 are left.
        #[arg(long, value_name = "R", default_value_t = 1)]
        reserve: u32,
        /// Every action on this key waits for a registered approver.
        #[arg(long)]
        dual_control: bool,
        /// The first rotation is due now instead of N days from now.
        #[arg(long)]
        rotate_now: bool,
    },
    /// Removes a key's policy (its escrow copies stay).
    Clear {
        /// The key.
        key: String,
    },
}

#[derive(Subcommand, Debug)]
enum EscrowCommand {
    /// Lists the escrow copies (ids and key check values, never the bytes).
    List,
    /// Exports one escrow copy to a new file readable by its owner only:
    /// the raw bytes as imported (32 bytes for a symmetric key, the HMAC
    /// key's bytes, the DER PKCS #8 private key of an asymmetric key), or
    /// wrapped under an RSA public key (for an HSM).
    Export {
        /// The key.
        key: String,
        /// The material's KeyMaterialId.
        key_material_id: String,
        /// The file to write (refused if it exists).
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
        /// Wrap under this RSA public key (DER or PEM SubjectPublicKeyInfo).
        #[arg(long, value_name = "FILE")]
        wrap_with: Option<PathBuf>,
        /// With --wrap-with: RSAES_OAEP_SHA_256 (default),
        /// RSAES_OAEP_SHA_1, RSA_AES_KEY_WRAP_SHA_256 or RSA_AES_KEY_WRAP_SHA_1.
        #[arg(long, value_name = "ALGORITHM", default_value = "RSAES_OAEP_SHA_256")]
        algorithm: String,
        /// Confirm the export (a copy of the material leaves the store).
        #[arg(long)]
        yes: bool,
    },
    /// Keeps a custodian's copy of a material already imported into a key.
    Deposit {
        /// The key.
        key: String,
        /// The material's KeyMaterialId.
        key_material_id: String,
        /// The plaintext material file, as it was imported: 32 bytes for a
        /// symmetric key, the HMAC key's bytes, or the DER PKCS #8 private
        /// key of an asymmetric key.
        #[arg(long, value_name = "FILE")]
        material: PathBuf,
    },
}

#[derive(Subcommand, Debug)]
enum ApproversCommand {
    /// Registers an approver (passphrase from $BYOK_APPROVER_PASSPHRASE or
    /// asked twice).
    Add {
        /// Their name.
        name: String,
    },
    /// Lists the registered approvers.
    List,
}

/// An open store and its manager.
struct Session {
    manager: Option<Manager>,
    workspace: Option<Workspace>,
}

impl Session {
    fn open(g: &Global, officer: &str, rotation_wait: Duration) -> Result<Session, CliError> {
        let vault = open_store(g, false)?;
        let aws = AwsSection::read(&vault)?.is_some();
        let vault = Arc::new(Mutex::new(vault));
        let workspace = if aws {
            Workspace::open_aws(
                vault,
                None,
                ConnectOptions::default(),
                Caller::agent(),
                Arc::new(|| {}),
            )
            .map_err(|e| CliError::Failed(e.to_string()))?
        } else {
            Workspace::local(vault, Caller::agent())
        };
        let manager = Manager::for_workspace(&workspace, Caller::agent(), officer)
            .with_rotation_wait(rotation_wait);
        Ok(Session {
            manager: Some(manager),
            workspace: Some(workspace),
        })
    }

    fn manager(&self) -> &Manager {
        self.manager.as_ref().expect("open")
    }

    fn close(mut self) -> Result<(), CliError> {
        drop(self.manager.take());
        if let Some(ws) = self.workspace.take() {
            if ws.is_aws() {
                ws.close()?;
            } else {
                let vault = ws.vault().clone();
                drop(ws);
                close_shared(vault)?;
            }
        }
        Ok(())
    }
}

fn failed(e: ManagerError) -> CliError {
    match e {
        ManagerError::Backend(b) => CliError::from_backend("the key manager", b),
        ManagerError::Refused(m) => CliError::Usage(m),
        ManagerError::Store(s) => CliError::Failed(s.to_string()),
    }
}

/// Runs `byok agent`.
pub fn run(args: AgentArgs, g: &Global) -> Result<(), CliError> {
    let officer = args.who.name();
    let session = Session::open(g, &officer, Duration::from_secs(args.rotation_wait))?;
    let result = dispatch(&args, session.manager());
    let closed = session.close();
    result.and(closed)
}

fn dispatch(args: &AgentArgs, m: &Manager) -> Result<(), CliError> {
    let Some(command) = &args.command else {
        return run_due(m, args);
    };
    match command {
        AgentCommand::Status => status(m),
        AgentCommand::Policy(PolicyCommand::Set {
            key,
            escrow,
            rotate_every_days,
            material_folder,
            valid_for_days,
            renew_before_days,
            reserve,
            dual_control,
            rotate_now,
        }) => {
            let mut policy = KeyPolicy::new(key, m.clock_now());
            policy.escrow = *escrow;
            policy.rotate_every_days = *rotate_every_days;
            policy.source = match material_folder {
                Some(f) => MaterialSource::Folder { folder: f.clone() },
                None => MaterialSource::Generate,
            };
            policy.valid_for_days = *valid_for_days;
            policy.renew_before_days = *renew_before_days;
            policy.rotation_reserve = *reserve;
            policy.dual_control = *dual_control;
            if *rotate_now && let Some(d) = rotate_every_days {
                policy.anchor = policy.anchor.minus(crate::manager::state::days_of(*d));
            }
            m.set_policy(policy).map_err(failed)?;
            println!("Policy set for {key}.");
            status(m)
        }
        AgentCommand::Policy(PolicyCommand::Clear { key }) => {
            let arn = resolve(m, key)?;
            if m.clear_policy(&arn).map_err(failed)? {
                println!("Policy of {arn} removed; its escrow copies stay in the store.");
            } else {
                println!("{arn} has no policy.");
            }
            Ok(())
        }
        AgentCommand::Inventory { key } => inventory(m, key.as_deref()),
        AgentCommand::Escrow(EscrowCommand::List) => {
            let s = m.state().map_err(failed)?;
            if s.escrow.is_empty() {
                println!("The store holds no escrow copies.");
            }
            for e in &s.escrow {
                println!(
                    "{}  {}  kcv {}{}",
                    e.key_arn,
                    e.key_material_id.as_deref().unwrap_or("(import under way)"),
                    crate::manager::check_value(e.material.expose()),
                    e.action
                        .as_ref()
                        .map(|a| format!("  ({a})"))
                        .unwrap_or_default()
                );
            }
            Ok(())
        }
        AgentCommand::Escrow(EscrowCommand::Export {
            key,
            key_material_id,
            out,
            wrap_with,
            algorithm,
            yes,
        }) => {
            let arn = resolve(m, key)?;
            if out.exists() {
                return Err(CliError::Failed(format!(
                    "{} exists already; an export never replaces a file",
                    out.display()
                )));
            }
            let form = match wrap_with {
                None => ExportForm::Raw,
                Some(p) => {
                    let der = read_public_key(p)?;
                    let algorithm = algorithm.parse::<WrappingAlgorithm>().map_err(|()| {
                        CliError::Usage(format!(
                            "--algorithm {algorithm} is not a wrapping algorithm"
                        ))
                    })?;
                    ExportForm::Wrapped {
                        public_key_der: der,
                        algorithm,
                    }
                }
            };
            if !yes {
                return Err(CliError::Usage(format!(
                    "exporting writes a copy of material {} of {arn} outside the store{}; add --yes to confirm",
                    short(key_material_id),
                    if matches!(form, ExportForm::Raw) {
                        " in the clear"
                    } else {
                        ", wrapped"
                    }
                )));
            }
            let export = m
                .export_escrow(&arn, key_material_id, &form, out)
                .map_err(failed)?;
            super::write_private_file(out, &export.bytes, false)?;
            println!(
                "Wrote {} ({} bytes, owner-only), key check value {}. The export is in the audit trail.",
                out.display(),
                export.bytes.len(),
                export.key_check_value
            );
            Ok(())
        }
        AgentCommand::Escrow(EscrowCommand::Deposit {
            key,
            key_material_id,
            material,
        }) => {
            let arn = resolve(m, key)?;
            // No key takes more than the longest private key: a larger
            // file is refused before it is read (the manager checks the
            // length and form the key's spec takes).
            let longest = KeySpec::ALL
                .iter()
                .map(|s| *s.material_lengths().end())
                .max()
                .unwrap_or(0) as u64;
            if let Ok(meta) = std::fs::metadata(material)
                && meta.len() > longest
            {
                return Err(CliError::Usage(format!(
                    "{} holds {} bytes; no key material is longer than {longest}",
                    material.display(),
                    meta.len()
                )));
            }
            let copy = SecretVec::from(super::read_file("--material", material)?);
            m.deposit(
                &arn,
                key_material_id,
                &copy,
                MaterialOrigin::File {
                    path: material.clone(),
                },
            )
            .map_err(failed)?;
            println!(
                "Escrow copy of material {} kept in the store (key check value {}).",
                short(key_material_id),
                crate::manager::check_value(copy.expose())
            );
            Ok(())
        }
        AgentCommand::Preview { select } => {
            let keys = select_keys(m, select)?;
            print_blast(&m.blast_radius(&keys).map_err(failed)?);
            Ok(())
        }
        AgentCommand::Suspend { select, yes } => {
            let keys = select_keys(m, select)?;
            let blast = m.blast_radius(&keys).map_err(failed)?;
            print_blast(&blast);
            if !yes {
                return Err(CliError::Usage(
                    "nothing was deleted; add --yes to suspend these keys".into(),
                ));
            }
            let (_, report) = m.suspend(&keys).map_err(failed)?;
            print_report(&report);
            report_status(&report)
        }
        AgentCommand::Restore { select } => {
            let keys = select_keys(m, select)?;
            let (_, report) = m.restore(&keys).map_err(failed)?;
            print_report(&report);
            report_status(&report)
        }
        AgentCommand::Approvers(ApproversCommand::Add { name }) => {
            let pass = approver_passphrase(&format!("Passphrase for approver {name}: "), true)?;
            m.register_approver(name, &pass).map_err(failed)?;
            println!("Approver {name} registered.");
            Ok(())
        }
        AgentCommand::Approvers(ApproversCommand::List) => {
            let s = m.state().map_err(failed)?;
            if s.approvers.is_empty() {
                println!("No approvers are registered.");
            }
            for a in &s.approvers {
                println!("{}  registered {}", a.name, a.registered.to_rfc3339());
            }
            Ok(())
        }
        AgentCommand::Approve { action, approver } => {
            let pass =
                approver_passphrase(&format!("Passphrase for approver {approver}: "), false)?;
            let report = m.approve(action, approver, &pass).map_err(failed)?;
            println!("{action} approved by {approver}.");
            print_report(&report);
            report_status(&report)
        }
        AgentCommand::Reject { action, approver } => {
            let pass =
                approver_passphrase(&format!("Passphrase for approver {approver}: "), false)?;
            m.reject(action, approver, &pass).map_err(failed)?;
            println!("{action} refused by {approver}; it will not run.");
            Ok(())
        }
    }
}

fn run_due(m: &Manager, args: &AgentArgs) -> Result<(), CliError> {
    let mut n = 0u64;
    loop {
        n += 1;
        let report = m.run().map_err(failed)?;
        print_report(&report);
        if !args.watch {
            return report_status(&report);
        }
        if args.runs.is_some_and(|r| n >= r) {
            return Ok(());
        }
        std::thread::sleep(Duration::from_secs(args.interval.max(1)));
    }
}

/// Exit status 1 when an action failed in this run.
fn report_status(report: &RunReport) -> Result<(), CliError> {
    let failed: Vec<&str> = report
        .outcomes
        .iter()
        .filter(|o| o.failed)
        .map(|o| o.action.as_str())
        .collect();
    if failed.is_empty() {
        Ok(())
    } else {
        Err(CliError::CheckFailed(format!(
            "{} action(s) failed: {}",
            failed.len(),
            failed.join(", ")
        )))
    }
}

fn print_report(r: &RunReport) {
    if r.outcomes.is_empty() && r.open.is_empty() && r.warnings.is_empty() {
        println!("Nothing is due.");
    }
    for o in &r.outcomes {
        println!(
            "{} {}  {}: {}",
            if o.failed { "FAILED" } else { "done  " },
            o.action,
            o.key_arn,
            o.text
        );
    }
    for o in &r.open {
        println!("open   {}  {}: {}", o.action, o.key_arn, o.text);
    }
    for w in &r.warnings {
        println!("WARNING {w}");
    }
}

fn status(m: &Manager) -> Result<(), CliError> {
    let state = m.state().map_err(failed)?;
    if state.policies.is_empty() {
        println!(
            "No key has a policy. Set one with `byok agent policy set KEY --rotate-every-days 90 --escrow`."
        );
    }
    for p in &state.policies {
        let mut parts = Vec::new();
        if let Some(d) = p.rotate_every_days {
            parts.push(format!("rotate every {d} days"));
        }
        if let Some(d) = p.valid_for_days {
            parts.push(format!("valid for {d} days"));
        }
        if let Some(d) = p.renew_before_days {
            parts.push(format!("renew {d} days before ValidTo"));
        }
        parts.push(if p.escrow {
            "escrow on".into()
        } else {
            "escrow off".into()
        });
        if p.dual_control {
            parts.push("dual control".into());
        }
        if let MaterialSource::Folder { folder } = &p.source {
            parts.push(format!("material from {}", folder.display()));
        }
        println!("{}: {}", p.key_arn, parts.join(", "));
    }
    let due = m.due().map_err(failed)?;
    if !due.is_empty() {
        println!();
        println!("Due and upcoming:");
    }
    for d in due {
        let status = match &d.status {
            DueStatus::Due => "due now".to_string(),
            DueStatus::Upcoming => "upcoming".to_string(),
            DueStatus::AwaitingApproval => "awaiting approval".to_string(),
            DueStatus::InProgress => "in progress".to_string(),
            DueStatus::Blocked(why) => format!("blocked: {why}"),
        };
        let cost = if d.added_cost_usd > 0 {
            format!(" (adds ${} a month)", d.added_cost_usd)
        } else {
            String::new()
        };
        println!(
            "  {}  {}  {}  {}{}{}",
            d.when.to_rfc3339(),
            d.key_arn,
            d.what,
            status,
            cost,
            d.action.map(|a| format!("  [{a}]")).unwrap_or_default()
        );
    }
    let waiting: Vec<_> = state
        .actions
        .iter()
        .filter(|a| a.step == Step::AwaitingApproval)
        .collect();
    if !waiting.is_empty() {
        println!();
        println!("Waiting for an approver:");
        for a in waiting {
            println!(
                "  {}  {}  {} (asked by {} at {})",
                a.id,
                a.key_arn,
                a.kind.describe(),
                a.requested_by,
                a.planned.to_rfc3339()
            );
        }
    }
    let recent: Vec<_> = state
        .actions
        .iter()
        .rev()
        .filter(|a| a.step.is_final())
        .take(10)
        .collect();
    if !recent.is_empty() {
        println!();
        println!("Last results:");
        for a in recent {
            let text = match &a.step {
                Step::Done { summary } => format!("done: {summary}"),
                Step::Failed { reason } => format!("FAILED: {reason}"),
                Step::Cancelled { reason } => format!("cancelled: {reason}"),
                _ => String::new(),
            };
            println!(
                "  {}  {}  {}  {}",
                a.finished.map(|t| t.to_rfc3339()).unwrap_or_default(),
                a.id,
                a.key_arn,
                text
            );
        }
    }
    Ok(())
}

fn inventory(m: &Manager, key: Option<&str>) -> Result<(), CliError> {
    let arn = key.map(|k| resolve(m, k)).transpose()?;
    let s = m.state().map_err(failed)?;
    let mut any = false;
    for r in s
        .inventory
        .iter()
        .filter(|r| arn.as_deref().is_none_or(|a| a == r.key_arn))
    {
        any = true;
        let origin = match &r.origin {
            MaterialOrigin::Generated => "generated by byok".to_string(),
            MaterialOrigin::File { path } => format!("file {}", path.display()),
        };
        println!(
            "{}  {}\n    description {}\n    key check value {}  origin {}  imported {}  ValidTo {}  escrow {}",
            r.key_arn,
            r.key_material_id,
            r.description.as_deref().unwrap_or("-"),
            r.key_check_value,
            origin,
            r.imported.to_rfc3339(),
            r.valid_to
                .map(|t| t.to_rfc3339())
                .unwrap_or_else(|| "does not expire".into()),
            if s.escrowed(&r.key_arn, &r.key_material_id).is_some() {
                "kept in the store"
            } else {
                "none"
            }
        );
    }
    if !any {
        println!(
            "byok has imported no material{}.",
            arn.map(|a| format!(" into {a}")).unwrap_or_default()
        );
    }
    Ok(())
}

fn print_blast(b: &BlastRadius) {
    println!(
        "Suspending {} key(s) deletes {} material(s); {} use(s) in the last 30 days.",
        b.keys.len(),
        b.material_count(),
        b.call_count()
    );
    for k in &b.keys {
        println!();
        println!("{} ({})", k.key_arn, k.key_state);
        if !k.aliases.is_empty() {
            println!("  aliases: {}", k.aliases.join(", "));
        }
        for (id, desc, state) in &k.materials {
            let escrow = if k.without_escrow.contains(id) {
                "NO ESCROW COPY: cannot be restored by byok"
            } else {
                "escrowed"
            };
            println!(
                "  material {}  {}  {}  {escrow}",
                short(id),
                state,
                desc.as_deref().unwrap_or("")
            );
        }
        for u in &k.usage {
            let calls: Vec<String> = u.calls.iter().map(|(op, n)| format!("{op} ×{n}")).collect();
            println!(
                "  used{}: {}; by {}; last {}",
                u.key_material_id
                    .as_deref()
                    .map(|m| format!(" (material {})", short(m)))
                    .unwrap_or_default(),
                calls.join(", "),
                u.callers.iter().cloned().collect::<Vec<_>>().join(", "),
                u.last_used.as_deref().unwrap_or("-")
            );
            for c in &u.contexts {
                println!("    encryption context {c}");
            }
        }
        if let Some(n) = &k.usage_note {
            println!("  {n}");
        }
    }
}

fn resolve(m: &Manager, key: &str) -> Result<String, CliError> {
    m.key_arn(key).map_err(failed)
}

fn select_keys(m: &Manager, s: &Selection) -> Result<Vec<String>, CliError> {
    let keys = if s.all {
        m.managed_keys().map_err(failed)?
    } else if let Some(tag) = &s.tag {
        let Some((k, v)) = tag.split_once('=') else {
            return Err(CliError::Usage(format!("--tag {tag}: expected KEY=VALUE")));
        };
        m.keys_with_tag(k, v).map_err(failed)?
    } else {
        s.keys
            .iter()
            .map(|k| resolve(m, k))
            .collect::<Result<_, _>>()?
    };
    if keys.is_empty() {
        return Err(CliError::Usage("no key matches the selection".into()));
    }
    Ok(keys)
}

fn read_public_key(path: &Path) -> Result<Vec<u8>, CliError> {
    let bytes = super::read_file("--wrap-with", path)?;
    let text = std::str::from_utf8(&bytes).ok();
    if let Some(t) = text
        && t.contains("-----BEGIN PUBLIC KEY-----")
    {
        let body: String = t
            .lines()
            .filter(|l| !l.starts_with("-----"))
            .collect::<Vec<_>>()
            .concat();
        return base64::Engine::decode(&base64::engine::general_purpose::STANDARD, body.trim())
            .map_err(|e| {
                CliError::Usage(format!(
                    "--wrap-with {}: the PEM body is not base64 ({e})",
                    path.display()
                ))
            });
    }
    Ok(bytes.to_vec())
}

fn approver_passphrase(prompt: &str, confirm: bool) -> Result<SecretString, CliError> {
    if let Ok(p) = std::env::var(APPROVER_PASSPHRASE_VAR) {
        return Ok(SecretString::from(p));
    }
    if !std::io::IsTerminal::is_terminal(&std::io::stdin()) {
        return Err(CliError::Failed(format!(
            "no approver passphrase: set {APPROVER_PASSPHRASE_VAR} or run in a terminal"
        )));
    }
    let read = |p: &str| {
        rpassword::prompt_password(p)
            .map(SecretString::from)
            .map_err(|e| CliError::Failed(format!("cannot read the passphrase: {e}")))
    };
    let first = read(prompt)?;
    if confirm {
        let second = read("Repeat it: ")?;
        if first.expose_secret() != second.expose_secret() {
            return Err(CliError::Failed("the passphrases do not match".into()));
        }
    }
    Ok(first)
}
