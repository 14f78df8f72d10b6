//! The command line: `byok kms <verb>` (the AWS CLI's verbs, flags, output
//! and errors), `byok material ...` (what a key custodian does outside KMS),
//! `byok store ...` and `byok audit ...`.
//!
//! `byok kms` talks to the local store, or with `--profile` or
//! `--endpoint-url` to AWS KMS (or a server that speaks for it) through
//! [`crate::aws::AwsBackend`]; both through the one [`Backend`](crate::backend::Backend) interface.
//!
//! Exit status, as the AWS CLI v2 ("Command line return codes in the AWS
//! CLI", AWS CLI User Guide): 0 success; 252 a usage or parameter error;
//! 253 the environment or configuration is invalid (no credentials, an
//! expired SSO session, no region); 254 the service refused the request
//! (`An error occurred (...)`); 255 anything else (the endpoint could not be
//! reached, the store cannot be opened, a file cannot be written); 1
//! `byok audit verify` found a broken chain.

mod agent;
mod audit;
mod kms;
mod material;
mod output;
mod params;
mod store;

use std::ffi::OsString;
use std::fmt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Arc, Mutex, PoisonError};

use clap::{Args, Parser, Subcommand};

use crate::api::ApiError;
use crate::aws::{AwsBackend, AwsConnection, ConnectOptions};
use crate::backend::BackendError;
use crate::backend::local::LocalBackend;
use crate::kms::{Caller, GenerateOnDemand, Kms, Settings};
use crate::store::{StoreError, Vault, VaultOptions, env};
use output::{Json, OutputFormat, Query};

/// Why a command failed, and so its exit status.
#[derive(Debug)]
pub enum CliError {
    /// Bad arguments or parameter values (252).
    Usage(String),
    /// The service refused the operation (254).
    Service {
        /// The AWS operation name.
        operation: String,
        /// The error.
        error: ApiError,
    },
    /// The environment or configuration is invalid: no credentials, an
    /// expired SSO session, no region (253).
    Configuration(String),
    /// The endpoint could not be reached, or did not answer in time (255).
    Unreachable(String),
    /// Anything else: store, files (255).
    Failed(String),
    /// A check that ran and found a problem (1): `audit verify`.
    CheckFailed(String),
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CliError::Usage(m)
            | CliError::Configuration(m)
            | CliError::Unreachable(m)
            | CliError::Failed(m)
            | CliError::CheckFailed(m) => f.write_str(m),
            CliError::Service { operation, error } => write!(
                f,
                "An error occurred ({}) when calling the {operation} operation: {}",
                error.error_type, error.message
            ),
        }
    }
}

impl From<StoreError> for CliError {
    fn from(e: StoreError) -> Self {
        CliError::Failed(e.to_string())
    }
}

impl CliError {
    /// A backend's failure of `operation`, worded as the AWS CLI words it
    /// (botocore/exceptions.py: EndpointConnectionError, ReadTimeoutError,
    /// NoCredentialsError, UnauthorizedSSOTokenError, NoRegionError).
    fn from_backend(operation: &str, e: BackendError) -> CliError {
        match e {
            BackendError::Service(error) => CliError::Service {
                operation: operation.to_string(),
                error,
            },
            BackendError::Unreachable { endpoint, detail } => {
                if detail == "timed out" {
                    CliError::Unreachable(format!("Read timeout on endpoint URL: \"{endpoint}\""))
                } else {
                    CliError::Unreachable(format!(
                        "Could not connect to the endpoint URL: \"{endpoint}\""
                    ))
                }
            }
            BackendError::Credentials {
                profile,
                detail,
                fix,
            } => {
                let head = match fix.as_deref() {
                    Some(f) if f.starts_with("aws sso login") => {
                        "The SSO session associated with this profile has expired or is \
                         otherwise invalid. To refresh this SSO session run aws sso login with \
                         the corresponding profile."
                            .to_string()
                    }
                    Some(f) if f.starts_with("aws configure") => {
                        "Unable to locate credentials".to_string()
                    }
                    _ => format!(
                        "Error when retrieving credentials from {}: {detail}",
                        profile
                            .as_deref()
                            .map_or("the default chain".to_string(), |p| format!("profile {p}"))
                    ),
                };
                match fix {
                    Some(f) => CliError::Configuration(format!("{head}\nRun: {f}")),
                    None => CliError::Configuration(head),
                }
            }
            BackendError::Configuration { detail } => CliError::Configuration(detail),
            BackendError::Request { detail, .. } => CliError::Usage(detail),
            e @ BackendError::Response { .. } => CliError::Failed(e.to_string()),
        }
    }

    fn exit_code(&self) -> u8 {
        match self {
            CliError::Usage(_) => 252,
            CliError::Configuration(_) => 253,
            CliError::Unreachable(_) => 255,
            CliError::Service { .. } => 254,
            CliError::Failed(_) => 255,
            CliError::CheckFailed(_) => 1,
        }
    }

    fn report(&self) {
        match self {
            // The AWS CLI's own layout: a blank line, then the message.
            CliError::Usage(m) | CliError::Configuration(m) | CliError::Unreachable(m) => {
                eprintln!("\n{m}\n")
            }
            CliError::Service { .. } => eprintln!("\n{self}"),
            CliError::Failed(m) | CliError::CheckFailed(m) => eprintln!("byok: {m}"),
        }
    }
}

/// `byok`: keys with imported ("bring your own") key material, as AWS KMS runs them.
#[derive(Parser, Debug)]
#[command(
    name = "byok",
    version,
    about = "Keys with imported (\"bring your own\") key material, as AWS KMS runs them",
    long_about = "Keys with imported (\"bring your own\") key material, as AWS KMS runs them.\n\n\
`byok kms <verb>` takes the AWS CLI's verbs and flags and prints what `aws kms` prints; \
the other commands do what a key custodian does outside KMS.",
    after_help = "Other ways in:\n  byok                 the desktop console (no arguments)\n  \
byok serve --help    a local endpoint that speaks the AWS KMS JSON protocol\n\n\
Store: --store PATH, else $BYOK_STORE, else the default location; the passphrase comes from \
$BYOK_PASSPHRASE or is asked without echo. The first `byok kms` command creates the store.\n\n\
AWS: `byok kms --profile P --region R <verb>` (or --endpoint-url URL) calls AWS KMS with the AWS CLI's \
profiles and credentials instead of the local store.\n\n\
Exit status: 0 ok, 252 usage error, 253 configuration or credentials problem, 254 the service refused \
the request, 255 endpoint unreachable, store or file problem, 1 `audit verify` found a broken chain.",
    subcommand_required = true,
    arg_required_else_help = true
)]
struct Cli {
    #[command(flatten)]
    global: Global,
    #[command(subcommand)]
    command: Command,
}

/// Options every command accepts, before or after the verb.
#[derive(Args, Debug, Clone)]
#[command(next_help_heading = "Global options")]
struct Global {
    /// The store file (default: $BYOK_STORE, else the per-user data directory).
    #[arg(long, global = true, value_name = "PATH")]
    store: Option<PathBuf>,
    /// With --profile or --endpoint-url: the AWS region to call (else the
    /// profile's). With `byok kms` on the store: the region the call is made
    /// in (default: the store's; multi-Region replicas live in other
    /// regions). Other commands: must match the store's region (see `byok
    /// store settings`); a new store is created in it.
    #[arg(long, global = true, value_name = "REGION")]
    region: Option<String>,
    /// `byok kms` calls AWS KMS with this profile of ~/.aws/config and
    /// ~/.aws/credentials (SSO, credential_process, assume-role, ...) instead
    /// of the local store.
    #[arg(long, global = true, value_name = "PROFILE")]
    profile: Option<String>,
    /// `byok kms` sends its requests to this URL (a server that speaks the
    /// AWS KMS API, such as `byok serve` or LocalStack) instead of the local
    /// store; credentials from --profile or the default chain.
    #[arg(long, global = true, value_name = "URL")]
    endpoint_url: Option<String>,
    /// Output format (default json).
    #[arg(long, global = true, value_enum, value_name = "FORMAT")]
    output: Option<OutputFormat>,
    /// A JMESPath query applied to the response before it is printed.
    #[arg(
        long,
        global = true,
        value_name = "JMESPATH",
        allow_hyphen_values = true
    )]
    query: Option<String>,
    /// How blob parameters given as text are read: base64 (the default), or
    /// raw-in-base64-out (the text itself), as in the AWS CLI v2.
    #[arg(long, global = true, value_enum, value_name = "FORMAT")]
    cli_binary_format: Option<params::BinaryFormat>,
    /// Print only the first page of list operations.
    #[arg(long, global = true)]
    no_paginate: bool,
    /// Accepted for AWS CLI scripts (byok never pages its output).
    #[arg(long, global = true, hide = true)]
    no_cli_pager: bool,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// AWS KMS operations with the AWS CLI's verbs and flags.
    ///
    /// Responses are printed as `aws kms` prints them (--output json|text|table,
    /// --query JMESPath). Blob parameters take fileb://FILE (raw bytes) or
    /// base64; file://FILE reads text. Keys: key ID, key ARN, alias/NAME or
    /// alias ARN.
    #[command(subcommand)]
    Kms(kms::KmsVerb),
    /// Key material on the custodian's side: generate, wrap for import, check.
    #[command(subcommand)]
    Material(material::MaterialCommand),
    /// The store: facts, settings, passphrase, backup.
    #[command(subcommand)]
    Store(store::StoreCommand),
    /// The audit trail: export as CloudTrail JSON, verify the hash chain.
    #[command(subcommand)]
    Audit(audit::AuditCommand),
    /// The external key manager: rotation schedules, expiry renewal, escrow,
    /// the kill switch and dual control. With no subcommand: run every due
    /// action and exit (for cron or a systemd timer); --watch keeps running.
    Agent(agent::AgentArgs),
}

/// Runs the command line with `args` (without the program name).
pub fn main(args: Vec<OsString>) -> ExitCode {
    let argv = std::iter::once(OsString::from("byok")).chain(args);
    let cli = match Cli::try_parse_from(argv) {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return match e.kind() {
                clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion => {
                    ExitCode::SUCCESS
                }
                _ => ExitCode::from(252),
            };
        }
    };
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            e.report();
            ExitCode::from(e.exit_code())
        }
    }
}

fn run(cli: Cli) -> Result<ExitCode, CliError> {
    let g = cli.global;
    let query = g.query.as_deref().map(Query::compile).transpose()?;
    let out = Printer {
        format: g.output.unwrap_or_default(),
        query,
    };
    match cli.command {
        Command::Kms(verb) => {
            // Read parameter files first: a wrong path costs no passphrase.
            let call = verb.call(g.no_paginate, g.cli_binary_format.unwrap_or_default())?;
            let result = if g.profile.is_some() || g.endpoint_url.is_some() {
                let backend =
                    aws_backend(&g).map_err(|e| CliError::from_backend(call.operation, e))?;
                kms::run(&backend, &call)
            } else {
                // --region is the region the call is made in: the store
                // holds the keys of several regions (multi-Region keys).
                let vault = Arc::new(Mutex::new(open_store_for_calls(&g)?));
                let caller = Caller::cli().in_region(g.region.clone());
                let backend = LocalBackend::new(Arc::clone(&vault), caller);
                let result = kms::run(&backend, &call);
                drop(backend);
                close_shared(vault)?;
                result
            };
            let response = result.map_err(|e| CliError::from_backend(call.operation, e))?;
            out.print(response, call.operation)?;
        }
        Command::Material(cmd) => material::run(cmd, &g, &out)?,
        Command::Store(cmd) => store::run(cmd, &g, &out)?,
        Command::Audit(cmd) => return audit::run(cmd, &g),
        Command::Agent(args) => agent::run(args, &g)?,
    }
    Ok(ExitCode::SUCCESS)
}

/// The AWS backend of `--profile`, `--region` and `--endpoint-url`.
fn aws_backend(g: &Global) -> Result<AwsBackend, BackendError> {
    let connection = AwsConnection {
        profile: g.profile.clone(),
        regions: g.region.iter().cloned().collect(),
        endpoint_url: g.endpoint_url.clone(),
    };
    // Three attempts, as the AWS CLI v2 makes by default ("AWS CLI retries",
    // standard mode): a script learns of an unreachable endpoint in seconds.
    let options = ConnectOptions {
        max_attempts: 3,
        ..ConnectOptions::default()
    };
    AwsBackend::connect(&connection, options)
}

/// Closes a vault that was shared with a backend that is gone.
fn close_shared(vault: Arc<Mutex<Vault>>) -> Result<(), CliError> {
    match Arc::try_unwrap(vault) {
        Ok(m) => Ok(m
            .into_inner()
            .unwrap_or_else(PoisonError::into_inner)
            .close()?),
        Err(_) => Err(CliError::Failed("the store is still in use".into())),
    }
}

/// `--output` and `--query`.
struct Printer {
    format: OutputFormat,
    query: Option<Query>,
}

impl Printer {
    /// Converts timestamps, applies the query, prints.
    fn print(&self, mut value: Json, title: &str) -> Result<(), CliError> {
        output::convert_timestamps(&mut value);
        let value = match &self.query {
            Some(q) => q.apply(&value)?,
            None => value,
        };
        output::print(&value, self.format, title);
        Ok(())
    }
}

/// What the vault is given: real time, wrapping keys generated on this
/// thread, and for a new store the KDF cost and `region` (else the default).
fn vault_options(region: Option<&str>) -> VaultOptions {
    let mut settings = Settings::default();
    if let Some(r) = region {
        settings.region = r.to_string();
    }
    VaultOptions {
        clock: Arc::new(crate::store::clock::SystemClock),
        wrapping_keys: Box::new(GenerateOnDemand(Kms::os_rng())),
        kdf: env::kdf_for_new_store(),
        settings,
    }
}

/// Opens the store at --store / $BYOK_STORE / the default (creating it on
/// first use when `create`, in --region if one is given), then checks
/// `--region` against it.
fn open_store(g: &Global, create: bool) -> Result<Vault, CliError> {
    let path = env::store_path(g.store.as_deref())?;
    let options = vault_options(g.region.as_deref());
    let vault = if create {
        env::open_or_create(&path, options)?
    } else {
        open_existing(&path, options)?
    };
    checked(vault, g)
}

/// Opens (or, on first use, creates in --region) the store for `byok kms`:
/// there --region names the region of the call, any region.
fn open_store_for_calls(g: &Global) -> Result<Vault, CliError> {
    let path = env::store_path(g.store.as_deref())?;
    let vault = env::open_or_create(&path, vault_options(g.region.as_deref()))?;
    checked(
        vault,
        &Global {
            region: None,
            ..g.clone()
        },
    )
}

/// Opens the store at --store / $BYOK_STORE / the default for reading only,
/// without taking its lock (see [`Vault::open_read_only`]), so that a
/// command that only reads works while `byok serve` or the console has the
/// store open; then checks `--region` against it.
fn open_store_for_reading(g: &Global) -> Result<Vault, CliError> {
    let path = env::store_path(g.store.as_deref())?;
    if !path.exists() {
        return Err(StoreError::Missing(path.to_path_buf()).into());
    }
    let passphrase = env::passphrase(&format!("Passphrase for {}: ", path.display()), false)?;
    let vault = Vault::open_read_only(&path, &passphrase, vault_options(g.region.as_deref()))?;
    checked(vault, g)
}

/// Prints what opening noticed and checks `--region` against the store.
fn checked(vault: Vault, g: &Global) -> Result<Vault, CliError> {
    for note in vault.notes() {
        eprintln!("byok: {note}");
    }
    if let Some(region) = &g.region {
        let store_region = &vault.kms().settings().region;
        if region != store_region {
            return Err(CliError::Failed(format!(
                "--region {region} does not match the store's region {store_region}; \
                 change the store's region with `byok store settings --region {region}`"
            )));
        }
    }
    Ok(vault)
}

fn open_existing(path: &Path, options: VaultOptions) -> Result<Vault, CliError> {
    if !path.exists() {
        return Err(StoreError::Missing(path.to_path_buf()).into());
    }
    let passphrase = env::passphrase(&format!("Passphrase for {}: ", path.display()), false)?;
    Ok(Vault::open(path, &passphrase, options)?)
}

/// Writes `bytes` to a new file `path` readable by its owner only (0600);
/// refuses to replace an existing file unless `force`.
fn write_private_file(path: &Path, bytes: &[u8], force: bool) -> Result<(), CliError> {
    let fail = |e: std::io::Error| {
        CliError::Failed(format!(
            "cannot write {}: {}",
            path.display(),
            io_reason(&e)
        ))
    };
    if path.exists() && !force {
        return Err(CliError::Failed(format!(
            "{} exists already; remove it or pass --force to replace it",
            path.display()
        )));
    }
    crate::store::files::write_private(path, bytes).map_err(fail)
}

/// An OS error in words, without Rust's "(os error 2)".
fn io_reason(e: &std::io::Error) -> String {
    let text = e.to_string();
    match text.rfind(" (os error ") {
        Some(i) if text.ends_with(')') => text[..i].to_string(),
        _ => text,
    }
}

/// Reads a file the user named, with a clear message when it cannot be.
fn read_file(flag: &str, path: &Path) -> Result<zeroize::Zeroizing<Vec<u8>>, CliError> {
    std::fs::read(path)
        .map(zeroize::Zeroizing::new)
        .map_err(|e| CliError::Failed(format!("{flag} {}: {}", path.display(), io_reason(&e))))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn every_engine_operation_has_a_verb() {
        let cmd = Cli::command();
        let kms = cmd.find_subcommand("kms").expect("kms");
        for op in crate::kms::OPERATIONS {
            let mut verb = String::new();
            for (i, c) in op.chars().enumerate() {
                if c.is_ascii_uppercase() && i > 0 {
                    verb.push('-');
                }
                verb.push(c.to_ascii_lowercase());
            }
            assert!(
                kms.find_subcommand(&verb).is_some(),
                "no verb {verb} for {op}"
            );
        }
    }
}
