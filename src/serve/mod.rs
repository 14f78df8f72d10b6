//! `byok serve`: the AWS KMS JSON protocol on loopback (to be written).

use std::process::ExitCode;

/// Runs `byok serve` with `args` (after `serve`).
pub fn main(args: Vec<std::ffi::OsString>) -> ExitCode {
    let _ = args;
    eprintln!("byok serve: not written yet");
    ExitCode::from(252)
}
