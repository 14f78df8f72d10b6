//! What the CLI tests that run a script against `byok serve` share: the
//! shell with the served store's credentials, the exit status of a service
//! error, and the files the script leaves.
#![allow(dead_code)]

use std::process::Command;

use crate::support::Served;

/// A file the script wrote, as text.
pub fn read(dir: &std::path::Path, name: &str) -> String {
    std::fs::read_to_string(dir.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// A shell in `dir` running `script` with the served store's credentials and nothing of the
/// user's AWS setup.
pub fn served_shell(served: &Served, dir: &std::path::Path, kms: &str, script: &str) -> Command {
    let mut c = Command::new("bash");
    for (k, _) in std::env::vars() {
        if k.starts_with("AWS_") || k.starts_with("BYOK_") {
            c.env_remove(k);
        }
    }
    std::fs::write(dir.join("config"), "").unwrap();
    std::fs::write(dir.join("credentials"), "").unwrap();
    let bin_dir = dir.join("bin");
    std::fs::create_dir_all(&bin_dir).unwrap();
    let _ = std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_byok"), bin_dir.join("byok"));
    c.arg("-c")
        .arg(format!("set -euo pipefail\n{script}"))
        .current_dir(dir)
        .env("HOME", dir)
        .env("AWS_CONFIG_FILE", dir.join("config"))
        .env("AWS_SHARED_CREDENTIALS_FILE", dir.join("credentials"))
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_ACCESS_KEY_ID", &served.access_key_id)
        .env("AWS_SECRET_ACCESS_KEY", &served.secret)
        .env("AWS_DEFAULT_REGION", &served.region)
        .env("AWS_PAGER", "")
        .env("BYOK_STORE", dir.join("must-not-exist.byok"))
        .env("BYOK_PASSPHRASE", "unused")
        .env(
            "PATH",
            format!(
                "{}:{}",
                bin_dir.display(),
                std::env::var("PATH").unwrap_or_default()
            ),
        )
        .env(
            "KMS",
            format!(
                "{kms} --endpoint-url {} --region {}",
                served.url(),
                served.region
            ),
        )
        .stdin(std::process::Stdio::null());
    c
}

/// The exit status of a service error: byok's is AWS CLI v2's (254); the
/// AWS CLI answers 254 from version 2 on and 255 before ("Command line
/// return codes in the AWS CLI", AWS CLI User Guide).
pub fn service_error_status(kms: &str) -> &'static str {
    if kms.starts_with("byok") {
        return "254";
    }
    let out = Command::new("aws").arg("--version").output().unwrap();
    let version = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    if version.starts_with("aws-cli/1.") {
        "255"
    } else {
        "254"
    }
}
