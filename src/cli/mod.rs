//! `byok kms ...`, `byok material ...`, `byok audit ...`, `byok store ...`:
//! the command line (to be written).

use std::process::ExitCode;

/// Runs the command line with `args` (without the program name).
pub fn main(args: Vec<std::ffi::OsString>) -> ExitCode {
    let _ = args;
    eprintln!("byok: the command line is not written yet");
    ExitCode::from(252)
}
