//! `byok store ...`: facts about the store (no secrets), its settings, its
//! passphrase and an encrypted backup.

use std::path::PathBuf;

use clap::Subcommand;
use secrecy::{ExposeSecret, SecretString};

use super::output::Json;
use super::{CliError, Global, Printer};
use crate::store::Vault;

/// Environment variable with the new passphrase for `store change-passphrase`.
pub const NEW_PASSPHRASE_VAR: &str = "BYOK_NEW_PASSPHRASE";

/// `byok store` commands.
#[derive(Subcommand, Debug)]
pub enum StoreCommand {
    /// Shows the store's path, format, key derivation parameters, key count
    /// and audit journal size (no secrets).
    Info,
    /// Shows the engine settings, or changes them. The global --region sets
    /// the store's region here (it changes every key ARN).
    Settings {
        /// How long an on-demand rotation takes to complete, in milliseconds (default 3000; 0 allowed).
        #[arg(long, value_name = "MS")]
        rotation_delay_ms: Option<u64>,
        /// The 12-digit account id in ARNs (default 000000000000).
        #[arg(long, value_name = "ACCOUNT")]
        account_id: Option<String>,
    },
    /// Makes the store an AWS store: the account reached with the global
    /// --profile, --region (repeat the command's --regions for several) and
    /// --endpoint-url, as the console's AWS account form does. The store
    /// then keeps the connection (never a credential), the trail of what
    /// byok asks AWS, and the key manager's state; `byok agent --store FILE`
    /// runs the key manager on that account.
    ConnectAws {
        /// More regions besides --region.
        #[arg(long, value_name = "REGION", num_args = 1..)]
        regions: Vec<String>,
    },
    /// Re-encrypts the store under a new passphrase ($BYOK_NEW_PASSPHRASE, or asked twice).
    ChangePassphrase,
    /// Writes an encrypted copy of the store (same passphrase) to a file.
    Backup {
        /// The backup file.
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
        /// Replace the file if it exists.
        #[arg(long)]
        force: bool,
    },
}

fn new_passphrase() -> Result<SecretString, CliError> {
    if let Ok(p) = std::env::var(NEW_PASSPHRASE_VAR) {
        if p.is_empty() {
            return Err(CliError::Failed(format!("{NEW_PASSPHRASE_VAR} is empty")));
        }
        return Ok(SecretString::from(p));
    }
    if !std::io::IsTerminal::is_terminal(&std::io::stdin()) {
        return Err(CliError::Failed(format!(
            "no new passphrase: set {NEW_PASSPHRASE_VAR} or run in a terminal"
        )));
    }
    let read = |prompt: &str| {
        rpassword::prompt_password(prompt)
            .map(SecretString::from)
            .map_err(|e| CliError::Failed(format!("cannot read the passphrase: {e}")))
    };
    let first = read("New passphrase: ")?;
    let second = read("Repeat the new passphrase: ")?;
    if first.expose_secret() != second.expose_secret() {
        return Err(CliError::Failed("the passphrases do not match".into()));
    }
    if first.expose_secret().is_empty() {
        return Err(CliError::Failed("the passphrase must not be empty".into()));
    }
    Ok(first)
}

fn settings_json(vault: &Vault) -> Json {
    let s = vault.kms().settings();
    Json::Object(vec![
        ("Region".into(), Json::str(s.region.clone())),
        ("AccountId".into(), Json::str(s.account_id.clone())),
        (
            "RotationDelayMs".into(),
            Json::Number(s.rotation_delay_ms.into()),
        ),
    ])
}

/// Runs a `store` command.
pub fn run(cmd: StoreCommand, g: &Global, out: &Printer) -> Result<(), CliError> {
    match cmd {
        StoreCommand::Info => {
            // Reading only: no lock, so this works beside `byok serve`.
            let vault = super::open_store_for_reading(g)?;
            let i = vault.info();
            let s = vault.store_settings();
            let n = |v: u64| Json::Number(v.into());
            let info = Json::Object(vec![
                ("Path".into(), Json::str(i.path.display().to_string())),
                ("FormatVersion".into(), n(i.format_version.into())),
                (
                    "Kdf".into(),
                    Json::Object(vec![
                        ("Algorithm".into(), Json::str("Argon2id")),
                        ("MemoryKiB".into(), n(i.kdf.0.into())),
                        ("Passes".into(), n(i.kdf.1.into())),
                        ("Lanes".into(), n(i.kdf.2.into())),
                    ]),
                ),
                ("Keys".into(), n(i.keys as u64)),
                ("Aliases".into(), n(i.aliases as u64)),
                ("Region".into(), Json::str(i.region)),
                ("AccountId".into(), Json::str(i.account_id)),
                (
                    "RotationDelayMs".into(),
                    n(vault.kms().settings().rotation_delay_ms),
                ),
                ("StateBytes".into(), n(i.state_bytes)),
                (
                    "AuditJournal".into(),
                    Json::Object(vec![
                        ("Segments".into(), n(i.audit_segments as u64)),
                        ("Bytes".into(), n(i.audit_bytes)),
                        ("SegmentLimitBytes".into(), n(s.journal_segment_bytes)),
                        (
                            "RetainedSegments".into(),
                            n(s.journal_retention_segments.into()),
                        ),
                    ]),
                ),
            ]);
            vault.close()?;
            out.print(info, "StoreInfo")
        }
        StoreCommand::Settings {
            rotation_delay_ms,
            account_id,
        } => {
            // --region is the new value here, not a check against the store.
            // Settings may be the first thing done with a store: create it then.
            let check = Global {
                region: None,
                ..g.clone()
            };
            let mut vault = super::open_store(&check, true)?;
            let mut engine = vault.kms().settings().clone();
            let before = engine.clone();
            if let Some(ms) = rotation_delay_ms {
                engine.rotation_delay_ms = ms;
            }
            if let Some(a) = account_id {
                engine.account_id = a;
            }
            if let Some(r) = &g.region {
                engine.region = r.clone();
            }
            if engine != before {
                let store = vault.store_settings().clone();
                vault.update_settings(store, engine).map_err(|e| match e {
                    crate::store::VaultError::Kms(k) => CliError::Usage(k.message().to_string()),
                    crate::store::VaultError::Store(s) => CliError::from(s),
                })?;
            }
            let shown = settings_json(&vault);
            vault.close()?;
            out.print(shown, "StoreSettings")
        }
        StoreCommand::ConnectAws { regions } => {
            let check = Global {
                region: None,
                ..g.clone()
            };
            let vault = super::open_store(&check, true)?;
            let keys = vault.kms().keys().count();
            if keys > 0 {
                return Err(CliError::Usage(format!(
                    "{} is a local store with {keys} keys; an AWS store is a file of its own: \
                     pass --store NEW_FILE",
                    vault.path().display()
                )));
            }
            let mut all: Vec<String> = g.region.iter().cloned().collect();
            all.extend(regions);
            all.dedup();
            if all.is_empty() {
                return Err(CliError::Configuration(
                    "You must specify a region: --region REGION".into(),
                ));
            }
            let connection = crate::aws::AwsConnection {
                profile: g.profile.clone(),
                regions: all,
                endpoint_url: g.endpoint_url.clone(),
            };
            let vault = std::sync::Arc::new(std::sync::Mutex::new(vault));
            let ws = crate::workspace::Workspace::open_aws(
                vault,
                Some(&connection),
                crate::aws::ConnectOptions {
                    max_attempts: 3,
                    ..Default::default()
                },
                crate::kms::Caller::cli(),
                std::sync::Arc::new(|| {}),
            )
            .map_err(|e| CliError::Failed(e.to_string()))?;
            // One call proves the credentials and the endpoint.
            let listed = crate::backend::send::<crate::api::op::ListKeys>(
                &**ws.backend(),
                &crate::api::shapes::ListKeysInput {
                    limit: Some(100),
                    marker: None,
                },
            );
            let path = ws.vault().lock().map(|v| v.path().to_path_buf()).ok();
            ws.close()?;
            let listed = listed.map_err(|e| CliError::from_backend("ListKeys", e))?;
            let more = if listed.truncated { " or more" } else { "" };
            out.print(
                Json::Object(vec![
                    (
                        "Store".into(),
                        Json::str(path.map(|p| p.display().to_string()).unwrap_or_default()),
                    ),
                    (
                        "Regions".into(),
                        Json::Array(connection.regions.iter().cloned().map(Json::str).collect()),
                    ),
                    (
                        "Keys".into(),
                        Json::str(format!(
                            "{}{more} in {}",
                            listed.keys.len(),
                            connection.regions[0]
                        )),
                    ),
                ]),
                "StoreConnectAws",
            )
        }
        StoreCommand::ChangePassphrase => {
            let mut vault = super::open_store(g, false)?;
            let new = new_passphrase()?;
            vault.change_passphrase(&new, None)?;
            let path = vault.path().to_path_buf();
            vault.close()?;
            // change_passphrase replaces the previous generation too.
            eprintln!(
                "byok: the passphrase of {} is changed. The previous generation {} is replaced by a \
                 copy under the new passphrase: the old passphrase opens neither.",
                path.display(),
                crate::store::backup_path(&path).display()
            );
            Ok(())
        }
        StoreCommand::Backup { out: file, force } => {
            if file.exists() && !force {
                return Err(CliError::Failed(format!(
                    "{} exists already; remove it or pass --force to replace it",
                    file.display()
                )));
            }
            let vault = super::open_store(g, false)?;
            if std::fs::canonicalize(&file).ok() == std::fs::canonicalize(vault.path()).ok() {
                return Err(CliError::Failed(
                    "the backup cannot replace the store itself".into(),
                ));
            }
            vault.backup_to(&file)?;
            vault.close()?;
            let bytes = std::fs::metadata(&file).map(|m| m.len()).unwrap_or(0);
            out.print(
                Json::Object(vec![
                    ("File".into(), Json::str(file.display().to_string())),
                    ("Bytes".into(), Json::Number(bytes.into())),
                ]),
                "StoreBackup",
            )
        }
    }
}
