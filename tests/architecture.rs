//! DESIGN.md's invariants as a test that fails when they break:
//!
//! - `kms` is pure: no UI, CLI, HTTP or async crates, no files, threads or
//!   network, no system clock; it uses no other layer of the crate.
//! - `api` is the protocol without the transport: it uses no front end, no
//!   store, and no UI, CLI or HTTP crate.
//! - Dependencies point one way: `ui`, `cli`, `serve` → `store`, `api` →
//!   `kms`; the front ends do not import each other, except `ui` → `serve`.
//!
//! Modules that do not exist yet are skipped.

use std::path::{Path, PathBuf};

fn collect(dir: &Path, files: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.unwrap().path();
        if path.is_dir() {
            collect(&path, files);
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
}

/// Blanks out `//` and `/* */` comments (doc comments included) and the
/// contents of string and char literals, keeping line breaks, so that a word
/// in prose or in a message is not taken for a use.
fn strip_comments_and_strings(src: &str) -> String {
    let chars: Vec<char> = src.chars().collect();
    let mut out = String::with_capacity(src.len());
    let mut i = 0;
    let mut block_depth = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        if block_depth > 0 {
            if c == '*' && next == Some('/') {
                block_depth -= 1;
                i += 2;
            } else if c == '/' && next == Some('*') {
                block_depth += 1;
                i += 2;
            } else {
                if c == '\n' {
                    out.push('\n');
                }
                i += 1;
            }
            continue;
        }
        if c == '/' && next == Some('/') {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
            continue;
        }
        if c == '/' && next == Some('*') {
            block_depth = 1;
            i += 2;
            continue;
        }
        // raw strings r"..." / r#"..."#
        if c == 'r' && (next == Some('"') || next == Some('#')) && !prev_is_ident(&chars, i) {
            let mut j = i + 1;
            let mut hashes = 0;
            while chars.get(j) == Some(&'#') {
                hashes += 1;
                j += 1;
            }
            if chars.get(j) == Some(&'"') {
                j += 1;
                loop {
                    match chars.get(j) {
                        None => break,
                        Some('"') if (0..hashes).all(|k| chars.get(j + 1 + k) == Some(&'#')) => {
                            j += 1 + hashes;
                            break;
                        }
                        Some('\n') => out.push('\n'),
                        _ => {}
                    }
                    j += 1;
                }
                out.push_str("\"\"");
                i = j;
                continue;
            }
        }
        if c == '"' {
            let mut j = i + 1;
            while j < chars.len() && chars[j] != '"' {
                if chars[j] == '\\' {
                    j += 1;
                }
                if chars.get(j) == Some(&'\n') {
                    out.push('\n');
                }
                j += 1;
            }
            out.push_str("\"\"");
            i = j + 1;
            continue;
        }
        // char literals ('x', '\n', '\''), not lifetimes ('a)
        if c == '\'' {
            let close = if next == Some('\\') {
                (i + 3..(i + 12).min(chars.len())).find(|&k| chars[k] == '\'')
            } else if chars.get(i + 2) == Some(&'\'') {
                Some(i + 2)
            } else {
                None
            };
            if let Some(end) = close {
                out.push_str("' '");
                i = end + 1;
                continue;
            }
        }
        out.push(c);
        i += 1;
    }
    out
}

fn prev_is_ident(chars: &[char], i: usize) -> bool {
    i > 0 && (chars[i - 1].is_alphanumeric() || chars[i - 1] == '_')
}

fn is_ident_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// A token of (comment- and string-free) Rust: an identifier, `::`, or one
/// punctuation character; with its line number.
fn tokens(code: &str) -> Vec<(String, usize)> {
    let chars: Vec<char> = code.chars().collect();
    let mut out = Vec::new();
    let mut line = 1;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '\n' {
            line += 1;
            i += 1;
        } else if c.is_whitespace() {
            i += 1;
        } else if is_ident_char(c) {
            let start = i;
            while i < chars.len() && is_ident_char(chars[i]) {
                i += 1;
            }
            out.push((chars[start..i].iter().collect(), line));
        } else if c == ':' && chars.get(i + 1) == Some(&':') {
            out.push(("::".to_string(), line));
            i += 2;
        } else {
            out.push((c.to_string(), line));
            i += 1;
        }
    }
    out
}

/// The lines where `path` (`egui`, `std::fs`, `Utc::now`, `crate::serve`)
/// is used: as that sequence of path segments, or as a member of a `use`
/// group (`use std::{io, fs};`, `use crate::{kms, serve};`).
fn uses(tokens: &[(String, usize)], path: &str) -> Vec<usize> {
    let segments: Vec<&str> = path.split("::").collect();
    let mut pattern: Vec<&str> = Vec::new();
    for (i, s) in segments.iter().enumerate() {
        if i > 0 {
            pattern.push("::");
        }
        pattern.push(s);
    }
    let text = |i: usize| tokens.get(i).map(|t| t.0.as_str());
    let mut lines = Vec::new();
    for (start, (_, line)) in tokens.iter().enumerate() {
        if pattern
            .iter()
            .enumerate()
            .all(|(k, p)| text(start + k) == Some(*p))
        {
            lines.push(*line);
        }
    }
    // `head::{ ..., last, ... }`, where `last` may itself continue as `last::x`
    if segments.len() > 1 {
        let (head, last) = pattern.split_at(pattern.len() - 1);
        let last = last[0];
        for start in 0..tokens.len() {
            let n = head.len();
            if !(head
                .iter()
                .enumerate()
                .all(|(k, p)| text(start + k) == Some(*p))
                && text(start + n) == Some("{"))
            {
                continue;
            }
            let mut depth = 0;
            let mut item_start = true;
            for t in &tokens[start + n..] {
                match t.0.as_str() {
                    "{" => {
                        depth += 1;
                        item_start = depth == 1;
                    }
                    "}" => {
                        depth -= 1;
                        if depth == 0 {
                            break;
                        }
                    }
                    "," if depth == 1 => item_start = true,
                    word if item_start && depth == 1 => {
                        if word == last {
                            lines.push(t.1);
                        }
                        item_start = false;
                    }
                    _ => {}
                }
            }
        }
    }
    lines.sort();
    lines.dedup();
    lines
}

/// Whether some line of `src` uses `path` (after comments and strings are
/// removed).
fn mentions(src: &str, path: &str) -> bool {
    !uses(&tokens(&strip_comments_and_strings(src)), path).is_empty()
}

/// How code in `file` (under `src/`) names the crate root: `crate`, `byok`
/// (not possible inside the library, but cheap to check), and `super`
/// repeated as deep as the file's module sits.
fn root_names(file: &Path) -> Vec<String> {
    let relative = file.strip_prefix(src("")).expect("a file under src/");
    let dirs = relative.components().count() - 1;
    let depth = if file.file_name().is_some_and(|n| n == "mod.rs") {
        dirs
    } else {
        dirs + 1
    };
    let mut names = vec!["crate".to_string(), "byok".to_string()];
    if depth > 0 {
        names.push(vec!["super"; depth].join("::"));
    }
    names
}

/// The uses in `dir` of the crates and paths in `forbidden`, and of the
/// crate's own `layers`.
fn violations_of(dir: &Path, forbidden: &[&str], layers: &[&str]) -> Vec<String> {
    let mut files = Vec::new();
    collect(dir, &mut files);
    files.sort();
    let mut found = Vec::new();
    for file in files {
        let text =
            std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        let toks = tokens(&strip_comments_and_strings(&text));
        let source_lines: Vec<&str> = text.lines().collect();
        let mut paths: Vec<String> = forbidden.iter().map(|f| f.to_string()).collect();
        for root in root_names(&file) {
            for layer in layers {
                paths.push(format!("{root}::{layer}"));
            }
        }
        for path in &paths {
            for line in uses(&toks, path) {
                let code = source_lines.get(line - 1).copied().unwrap_or("").trim();
                found.push(format!("{}:{line}: `{path}` in `{code}`", file.display()));
            }
        }
    }
    found
}

fn violations(dir: &Path, forbidden: &[&str]) -> Vec<String> {
    violations_of(dir, forbidden, &[])
}

fn src(module: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("src")
        .join(module)
}

/// A module's directory, or `None` when the module does not exist yet.
fn module_dir(module: &str) -> Option<PathBuf> {
    let dir = src(module);
    dir.is_dir().then_some(dir)
}

const UI_CLI_HTTP_CRATES: &[&str] = &[
    "egui",
    "eframe",
    "egui_extras",
    "egui_plot",
    "egui_kittest",
    "rfd",
    "clap",
    "hyper",
    "hyper_util",
    "http_body_util",
    "tokio",
    "aws_sigv4",
];

#[test]
fn the_engine_is_pure() {
    let dir = module_dir("kms").expect("src/kms exists");
    let mut forbidden = UI_CLI_HTTP_CRATES.to_vec();
    forbidden.extend([
        "std::fs",
        "std::thread",
        "std::net",
        "std::process",
        "SystemTime::now",
        "Instant::now",
        "Utc::now",
        "Local::now",
        "directories",
        "fd_lock",
        "rpassword",
    ]);
    let found = violations_of(&dir, &forbidden, &["api", "store", "cli", "serve", "ui"]);
    assert!(
        found.is_empty(),
        "src/kms must stay pure (DESIGN.md):\n{}",
        found.join("\n")
    );
}

#[test]
fn the_wire_layer_uses_no_front_end() {
    let dir = module_dir("api").expect("src/api exists");
    let found = violations_of(&dir, UI_CLI_HTTP_CRATES, &["store", "cli", "serve", "ui"]);
    assert!(
        found.is_empty(),
        "src/api is the protocol without the transport (DESIGN.md):\n{}",
        found.join("\n")
    );
}

#[test]
fn the_store_uses_no_front_end() {
    let Some(dir) = module_dir("store") else {
        return;
    };
    let found = violations_of(&dir, &[], &["cli", "serve", "ui"]);
    assert!(
        found.is_empty(),
        "src/store is below the front ends:\n{}",
        found.join("\n")
    );
}

#[test]
fn the_aws_backend_knows_the_shapes_and_the_sdk_not_the_store() {
    let Some(dir) = module_dir("aws") else {
        return;
    };
    let ui_and_cli = ["egui", "eframe", "egui_extras", "egui_plot", "rfd", "clap"];
    let found = violations_of(&dir, &ui_and_cli, &["store", "cli", "serve", "ui"]);
    assert!(
        found.is_empty(),
        "src/aws knows the API shapes and the SDK, not the store or a front end (DESIGN.md):\n{}",
        found.join("\n")
    );
    // Of the engine, only its timestamp.
    let mut files = Vec::new();
    collect(&dir, &mut files);
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        let code = strip_comments_and_strings(&text);
        for (i, line) in code.lines().enumerate() {
            if let Some(at) = line.find("kms::") {
                let before = &line[..at];
                if before.ends_with("crate::") || before.ends_with("byok::") {
                    assert!(
                        line[at..].starts_with("kms::Timestamp"),
                        "{}:{}: src/aws uses the engine: {line}",
                        file.display(),
                        i + 1
                    );
                }
            }
        }
    }
}

#[test]
fn front_ends_stand_apart_except_ui_hosting_serve() {
    let mut found = Vec::new();
    for from in ["cli", "serve", "ui"] {
        let Some(dir) = module_dir(from) else {
            continue;
        };
        let others: Vec<&str> = ["cli", "serve", "ui"]
            .into_iter()
            .filter(|to| *to != from && !(from == "ui" && *to == "serve"))
            .collect();
        found.extend(violations_of(&dir, &[], &others));
    }
    assert!(
        found.is_empty(),
        "cli, serve and ui do not import each other (only ui may host serve):\n{}",
        found.join("\n")
    );
}

#[test]
fn the_backend_layer_uses_no_front_end() {
    let dir = module_dir("backend").expect("src/backend exists");
    let found = violations_of(&dir, UI_CLI_HTTP_CRATES, &["cli", "serve", "ui"]);
    assert!(
        found.is_empty(),
        "src/backend sits below the front ends (DESIGN.md, Backends):\n{}",
        found.join("\n")
    );
}

/// The UI thread cannot reach the vault: only the worker holds the shared
/// vault (its `Mutex`), so no screen, and nothing the screens are handed,
/// names a mutex at all.
#[test]
fn only_the_worker_holds_the_vault_mutex() {
    let dir = module_dir("ui").expect("src/ui exists");
    let mut files = Vec::new();
    collect(&dir, &mut files);
    let mut found = Vec::new();
    for file in files {
        let name = file.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if name == "worker.rs" {
            continue;
        }
        let text = std::fs::read_to_string(&file).expect("source");
        for path in ["Mutex", "MutexGuard", "std::sync::Mutex"] {
            if mentions(&text, path) {
                found.push(format!("{} names {path}", file.display()));
            }
        }
    }
    assert!(
        found.is_empty(),
        "only src/ui/worker.rs may hold the vault's mutex:\n{}",
        found.join("\n")
    );
}

// ----- the checker checks -----

#[test]
fn the_checker_sees_uses_and_ignores_comments_and_strings() {
    let hit = mentions;

    assert!(hit("use std::fs;", "std::fs"));
    assert!(hit("let t = std::fs::read(p)?;", "std::fs"));
    assert!(hit("use ::std::fs::File;", "std::fs"));
    assert!(hit("use std::{collections::BTreeMap, fs};", "std::fs"));
    assert!(hit("use std::{\n    io,\n    fs,\n};", "std::fs"));
    assert!(hit("use std::{io::{self, Read}, fs::File};", "std::fs"));
    assert!(
        !hit("use std::{io::{self, fs}};", "std::fs"),
        "that is std::io::fs"
    );
    assert!(hit("use std::{io, thread::spawn};", "std::thread"));
    assert!(hit("let now = SystemTime::now();", "SystemTime::now"));
    assert!(hit("let now = std::time::Instant::now();", "Instant::now"));
    assert!(hit("let now = chrono::Utc::now();", "Utc::now"));
    assert!(hit("use egui::Ui;", "egui"));
    assert!(hit("fn f(ui: &mut egui::Ui) {}", "egui"));
    assert!(hit("use crate::serve::Endpoint;", "crate::serve"));
    assert!(hit("use crate::{kms, serve};", "crate::serve"));

    assert!(!hit("// uses std::fs in a comment", "std::fs"));
    assert!(!hit(
        "/// Never calls `SystemTime::now()`.",
        "SystemTime::now"
    ));
    assert!(!hit("/* egui */ let x = 1;", "egui"));
    assert!(!hit("/* a /* nested */ egui */ let x = 1;", "egui"));
    assert!(!hit("let m = \"no std::fs here\";", "std::fs"));
    assert!(!hit("let m = r#\"nor \"egui\" here\"#;", "egui"));
    assert!(!hit("let c = '\"'; let x = 1;", "egui"));
    assert!(!hit("let my_egui_thing = 1;", "egui"));
    assert!(!hit("let rfdx = 1; surfd();", "rfd"));
    assert!(!hit("use mystd::fs;", "std::fs"));
    assert!(!hit("use std::fsx;", "std::fs"));
    assert!(!hit("use crate::server;", "crate::serve"));
    assert!(!hit("fn f<'a>(x: &'a str) -> &'a str { x }", "egui"));
    // a comment does not hide the code before it
    assert!(hit("use std::fs; // files", "std::fs"));
    // the crate root by `super` from inside a module
    assert_eq!(root_names(&src("cli/mod.rs")), ["crate", "byok", "super"]);
    assert_eq!(
        root_names(&src("cli/run.rs")),
        ["crate", "byok", "super::super"]
    );
    assert_eq!(
        root_names(&src("ui/screens/keys.rs")),
        ["crate", "byok", "super::super::super"]
    );
    assert!(hit(
        "use super::super::serve::Endpoint;",
        "super::super::serve"
    ));
    assert!(hit(
        "use super::super::{kms, serve};",
        "super::super::serve"
    ));
    // a string does not swallow the rest of the line
    assert!(hit("let p = \"x\"; std::fs::read(p);", "std::fs"));
}

#[test]
fn the_checker_reads_the_real_tree() {
    // The engine does use chrono and rand — the checker must see code at all.
    let dir = module_dir("kms").unwrap();
    assert!(!violations(&dir, &["chrono"]).is_empty());
    assert!(!violations(&dir, &["serde_json"]).is_empty());
    // and finds nothing for a crate it does not use
    assert!(violations(&dir, &["no_such_crate_anywhere"]).is_empty());
}
