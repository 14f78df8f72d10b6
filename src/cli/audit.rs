//! `byok audit ...`: export the trail as CloudTrail JSON, and verify the hash
//! chain of an export (no store needed).

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Subcommand;

use super::{CliError, Global};
use crate::kms::audit::{from_cloudtrail_json, to_cloudtrail_json, verify_chain};

/// `byok audit` commands.
#[derive(Subcommand, Debug)]
pub enum AuditCommand {
    /// Writes the whole retained trail as CloudTrail JSON {"Records": [...]}.
    Export {
        /// The file to write (default: standard output).
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// Checks the hash chain of an export; exit status 1 when it is broken.
    Verify {
        /// An export written by `byok audit export`.
        #[arg(value_name = "FILE")]
        file: PathBuf,
    },
}

/// Prints the verdict line; a closed pipe is not an error.
fn say(line: &str) {
    let _ = writeln!(std::io::stdout().lock(), "{line}");
}

/// Runs an `audit` command.
pub fn run(cmd: AuditCommand, g: &Global) -> Result<ExitCode, CliError> {
    match cmd {
        AuditCommand::Export { out } => {
            // Reading only: no lock, so an export works beside `byok serve`.
            let vault = super::open_store_for_reading(g)?;
            let records = vault.audit_records()?;
            vault.close()?;
            let bytes = to_cloudtrail_json(&records);
            match out.filter(|p| p.as_os_str() != "-") {
                Some(path) => {
                    crate::store::files::write_private(&path, &bytes).map_err(|e| {
                        CliError::Failed(format!(
                            "cannot write {}: {}",
                            path.display(),
                            super::io_reason(&e)
                        ))
                    })?;
                    let range = match (records.first(), records.last()) {
                        (Some(a), Some(b)) => {
                            format!(", sequence {} to {}", a.byok.sequence, b.byok.sequence)
                        }
                        _ => String::new(),
                    };
                    eprintln!(
                        "byok: {} records written to {}{range}",
                        records.len(),
                        path.display()
                    );
                }
                None => {
                    let _ = std::io::stdout().lock().write_all(&bytes);
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        AuditCommand::Verify { file } => {
            let bytes = super::read_file("audit verify", &file)?;
            let records = from_cloudtrail_json(&bytes).map_err(|e| {
                CliError::CheckFailed(format!(
                    "{} is not an audit export ({{\"Records\": [...]}} from `byok audit export`): {e}",
                    file.display()
                ))
            })?;
            match verify_chain(&records) {
                Ok(report) => {
                    let span = match records.first() {
                        Some(first) => format!(
                            "sequence {} to {}",
                            first.byok.sequence, report.last_sequence
                        ),
                        None => "no records".into(),
                    };
                    let origin = if report.from_genesis {
                        "starts at genesis (the first record ever written)"
                    } else {
                        "starts after older records that are not in this file"
                    };
                    say(&format!(
                        "OK: {} records, {span}, chain intact, {origin}: {}",
                        report.records,
                        file.display()
                    ));
                    Ok(ExitCode::SUCCESS)
                }
                Err(e) => {
                    let what = records
                        .get(e.index)
                        .map(|r| format!(", {} at {}", r.event_name, r.event_time))
                        .unwrap_or_default();
                    say(&format!(
                        "BROKEN: record {} of {} (sequence {}{what}): {}: {}",
                        e.index + 1,
                        records.len(),
                        e.sequence,
                        e.reason,
                        file.display()
                    ));
                    Ok(ExitCode::from(1))
                }
            }
        }
    }
}
