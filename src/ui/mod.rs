//! The egui console (to be written).

use std::process::ExitCode;

/// Opens the console window.
pub fn run() -> ExitCode {
    eprintln!("byok: the console is not written yet; see `byok --help`");
    ExitCode::SUCCESS
}
