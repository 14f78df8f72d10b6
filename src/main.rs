//! `byok`: with no arguments the console; `byok serve ...` the endpoint;
//! anything else the command line (`byok kms ...`, `byok material ...`).

use std::process::ExitCode;

fn main() -> ExitCode {
    // Before anything holds a secret: no core dumps, no debugger of the
    // same user (see byok::store::process).
    for note in byok::store::process::protect() {
        eprintln!("byok: {note}");
    }
    let args: Vec<std::ffi::OsString> = std::env::args_os().skip(1).collect();
    match args.first().and_then(|a| a.to_str()) {
        None => byok::ui::run(),
        Some("serve") => byok::serve::main(args[1..].to_vec()),
        Some(_) => byok::cli::main(args),
    }
}
