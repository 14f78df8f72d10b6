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
    /// Proves the store's trail whole: every journal segment, record and
    /// sequence number, against the checkpoint in the state file (read
    /// only, no lock: works while `byok serve` runs). Given FILE, checks the
    /// hash chain of an export instead. Exit status 1 when anything is
    /// missing or damaged.
    Verify {
        /// An export written by `byok audit export` (default: the store's
        /// own journal).
        #[arg(value_name = "FILE")]
        file: Option<PathBuf>,
    },
}

/// `byok audit verify` of the store's own journal.
fn verify_store(g: &Global) -> Result<ExitCode, CliError> {
    let path = crate::store::env::store_path(g.store.as_deref())?;
    if !path.exists() {
        return Err(crate::store::StoreError::Missing(path.to_path_buf()).into());
    }
    let passphrase =
        crate::store::env::passphrase(&format!("Passphrase for {}: ", path.display()), false)?;
    let report = crate::store::Vault::check_journal_at(&path, &passphrase)?;
    let dir = crate::store::audit_dir_of(&path);
    let span = match (report.first_sequence, report.last_sequence) {
        (Some(a), Some(b)) => format!("sequence {a} to {b}"),
        _ => "no records".into(),
    };
    let segments = match (report.segments.first(), report.segments.last()) {
        (Some(a), Some(b)) if a == b => format!("segment {a}"),
        (Some(a), Some(b)) => format!("segments {a} to {b}"),
        _ => "no segment".into(),
    };
    let vouched = match &report.checkpoint {
        Some(c) => format!(
            "every record the state file vouches for (up to sequence {}) is present and authentic",
            c.sequence
        ),
        None => "the state file holds no checkpoint yet (a store from before byok kept one): \
                 linkage and authenticity only"
            .into(),
    };
    if let Some(t) = &report.torn_tail {
        say(&format!(
            "note: segment {} ends in an incomplete record ({} bytes at offset {}) left by an interrupted write; it was never acknowledged",
            t.segment, t.bytes, t.offset
        ));
    }
    if report.is_whole() {
        say(&format!(
            "OK: {} records, {span}, {segments}; {vouched}: {}",
            report.readable,
            dir.display()
        ));
        return Ok(ExitCode::SUCCESS);
    }
    say(&format!(
        "DAMAGED: {} problem{} in {} ({} records readable, {span}):",
        report.problems.len(),
        if report.problems.len() == 1 { "" } else { "s" },
        dir.display(),
        report.readable
    ));
    for p in &report.problems {
        say(&format!("  {p}"));
    }
    Ok(ExitCode::from(1))
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
        AuditCommand::Verify { file: None } => verify_store(g),
        AuditCommand::Verify { file: Some(file) } => {
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
