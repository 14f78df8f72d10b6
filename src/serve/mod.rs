//! `byok serve`: the AWS KMS JSON protocol (`awsJson1_1`) over HTTP, on
//! loopback by default, so that the real AWS CLI and SDKs can drive the
//! engine: `aws --endpoint-url http://127.0.0.1:PORT kms ...`.
//!
//! Every request must be signed with AWS Signature Version 4 (service `kms`,
//! the store's region) with the store's API credentials
//! ([`crate::store::Vault::api_credentials`]); `byok serve --show-credentials`
//! prints them. Each operation runs through [`crate::store::Vault::call`]: a
//! change is saved before it is acknowledged, and every call, refused ones
//! included, leaves an audit record marked as coming from the API.
//!
//! The console hosts the same endpoint on its own engine through
//! [`Endpoint`]; the command line runs it with [`main`].

mod endpoint;
mod handler;
pub mod sigv4;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};

use clap::Parser;

pub use endpoint::{Endpoint, EndpointConfig, EndpointStats};
pub use handler::{CONTENT_TYPE_JSON, TARGET_PREFIX};

use crate::kms::GenerateOnDemand;
use crate::store::clock::SystemClock;
use crate::store::keypool::KeyPairPool;
use crate::store::{ApiCredentials, Vault, VaultOptions, env};

/// The port `byok serve` listens on unless told otherwise.
pub const DEFAULT_PORT: u16 = 8600;

/// `byok serve`: the AWS KMS JSON protocol on loopback.
#[derive(Debug, Parser)]
#[command(
    name = "byok serve",
    about = "Serve the store through the AWS KMS JSON protocol (SigV4-signed, loopback by default)",
    after_help = "Store settings (region, rotation delay) are changed with `byok store settings`; the audit trail is read with `byok audit export`.\n\nPoint the AWS CLI or an SDK at it:\n  eval \"$(byok serve --show-credentials)\"\n  export AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_DEFAULT_REGION AWS_REGION\n  aws --endpoint-url http://127.0.0.1:8600 kms list-keys\n\nThe store and passphrase come from --store / BYOK_STORE and BYOK_PASSPHRASE (or a prompt)."
)]
struct Args {
    /// The store file (default: BYOK_STORE, then the per-user data folder).
    #[arg(long, value_name = "PATH")]
    store: Option<PathBuf>,
    /// The TCP port (0: any free port; the line printed at start tells which).
    #[arg(long, default_value_t = DEFAULT_PORT)]
    port: u16,
    /// The address to listen on.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1")]
    bind: String,
    /// Allow listening on an address other than loopback (plain HTTP: other
    /// machines would see plaintexts and data keys go by).
    #[arg(long)]
    allow_remote: bool,
    /// Print the access key id, secret and region as shell assignments, and exit.
    #[arg(long)]
    show_credentials: bool,
}

fn bind_address(text: &str, allow_remote: bool) -> Result<IpAddr, String> {
    let ip = if text.eq_ignore_ascii_case("localhost") {
        IpAddr::V4(Ipv4Addr::LOCALHOST)
    } else {
        text.parse::<IpAddr>()
            .map_err(|_| format!("--bind {text:?} is not an IP address"))?
    };
    if !ip.is_loopback() && !allow_remote {
        return Err(format!(
            "refusing to listen on {ip}: it is not a loopback address. The endpoint speaks plain HTTP; add --allow-remote if other machines must reach it"
        ));
    }
    Ok(ip)
}

/// Prints the endpoint's credentials as shell assignments, for `eval`.
fn print_credentials(c: &ApiCredentials, region: &str) {
    println!("AWS_ACCESS_KEY_ID={}", c.access_key_id);
    println!("AWS_SECRET_ACCESS_KEY={}", c.secret_str());
    println!("AWS_DEFAULT_REGION={region}");
    println!("AWS_REGION={region}");
}

/// Runs `byok serve` with `args` (after `serve`).
pub fn main(args: Vec<std::ffi::OsString>) -> ExitCode {
    let args = match Args::try_parse_from(std::iter::once("byok serve".into()).chain(args)) {
        Ok(a) => a,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(e.exit_code().clamp(0, 255) as u8);
        }
    };
    match run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("byok serve: {message}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: Args) -> Result<(), String> {
    let ip = bind_address(&args.bind, args.allow_remote)?;
    let path = env::store_path(args.store.as_deref()).map_err(|e| e.to_string())?;
    let options = VaultOptions {
        clock: Arc::new(SystemClock),
        wrapping_keys: if args.show_credentials {
            Box::new(GenerateOnDemand(crate::kms::Kms::os_rng()))
        } else {
            // GetParametersForImport answers at once from pairs made in advance.
            Box::new(KeyPairPool::start(1))
        },
        kdf: env::kdf_for_new_store(),
        settings: Default::default(),
    };
    if args.show_credentials && path.exists() {
        // Read without the lock: works while `byok serve` or the console
        // has the store open.
        let passphrase = env::passphrase(&format!("Passphrase for {}: ", path.display()), false)
            .map_err(|e| e.to_string())?;
        let (c, region) =
            Vault::read_api_credentials(&path, &passphrase).map_err(|e| e.to_string())?;
        print_credentials(&c, &region);
        return Ok(());
    }
    let vault = env::open_or_create(&path, options).map_err(|e| e.to_string())?;
    for note in vault.notes() {
        eprintln!("byok serve: {note}");
    }
    let region = vault.kms().settings().region.clone();
    if args.show_credentials {
        print_credentials(vault.api_credentials(), &region);
        return vault.close().map_err(|e| e.to_string());
    }
    if !ip.is_loopback() {
        eprintln!(
            "byok serve: WARNING: listening on {ip}, reachable from other machines over plain HTTP; \
             anyone on the network path can read plaintexts and data keys in the answers"
        );
    }
    let access_key_id = vault.api_credentials().access_key_id.clone();
    let vault = Arc::new(Mutex::new(vault));
    let endpoint = Endpoint::start(Arc::clone(&vault), SocketAddr::new(ip, args.port))
        .map_err(|e| format!("cannot listen on {}: {e}", SocketAddr::new(ip, args.port)))?;
    let addr = endpoint.local_addr();
    let host = match addr {
        SocketAddr::V6(a) => format!("[{}]:{}", a.ip(), a.port()),
        SocketAddr::V4(a) => a.to_string(),
    };
    {
        use std::io::Write;
        let mut out = std::io::stdout().lock();
        let _ = writeln!(
            out,
            "byok serve: listening on http://{host} (region {region})"
        );
        let _ = out.flush();
    }
    eprintln!(
        "byok serve: store {}, access key id {access_key_id} (byok serve --show-credentials prints the secret); Ctrl-C stops",
        path.display()
    );
    wait_for_signal()?;
    eprintln!("byok serve: stopping");
    let served = endpoint.requests_served();
    endpoint.stop();
    let vault = Arc::try_unwrap(vault).map_err(|_| "the store is still in use".to_string())?;
    let vault = vault.into_inner().unwrap_or_else(|p| p.into_inner());
    vault.close().map_err(|e| e.to_string())?;
    eprintln!("byok serve: stopped after {served} requests; the audit journal is on disk");
    Ok(())
}

/// Waits for SIGINT or SIGTERM.
fn wait_for_signal() -> Result<(), String> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    rt.block_on(async {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            let mut term = signal(SignalKind::terminate()).map_err(|e| e.to_string())?;
            tokio::select! {
                r = tokio::signal::ctrl_c() => r.map_err(|e| e.to_string()),
                _ = term.recv() => Ok(()),
            }
        }
        #[cfg(not(unix))]
        {
            tokio::signal::ctrl_c().await.map_err(|e| e.to_string())
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_without_allow_remote() {
        assert_eq!(
            bind_address("127.0.0.1", false),
            Ok(IpAddr::V4(Ipv4Addr::LOCALHOST))
        );
        assert_eq!(
            bind_address("localhost", false),
            Ok(IpAddr::V4(Ipv4Addr::LOCALHOST))
        );
        assert!(bind_address("::1", false).is_ok());
        assert!(
            bind_address("0.0.0.0", false)
                .unwrap_err()
                .contains("--allow-remote")
        );
        assert!(bind_address("0.0.0.0", true).is_ok());
        assert!(bind_address("example.org", true).is_err());
    }
}
