//! Shared by the `cli_*` tests: a temporary folder with a store, the built
//! `byok` binary on PATH, and helpers that run it (directly or through bash,
//! as a shell user types the walkthrough).
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub const PASSPHRASE: &str = "correct horse battery staple";

/// The binary under test.
pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_byok")
}

/// A temporary working folder with its own store.
pub struct Sandbox {
    pub dir: tempfile::TempDir,
    /// Every stdout and stderr the CLI produced, for the no-secrets check.
    pub transcript: std::cell::RefCell<Vec<(String, Vec<u8>)>>,
}

/// A finished command.
pub struct Run {
    pub status: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    fn from(out: Output) -> Run {
        Run {
            status: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// The stdout as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{}", self.stdout))
    }

    /// The stdout without its trailing newline.
    pub fn line(&self) -> &str {
        self.stdout.trim_end_matches('\n')
    }
}

impl Sandbox {
    pub fn new() -> Sandbox {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::create_dir(dir.path().join("bin")).expect("bin dir");
        std::os::unix::fs::symlink(bin(), dir.path().join("bin/byok")).expect("symlink byok");
        Sandbox {
            dir,
            transcript: Default::default(),
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn file(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn store(&self) -> PathBuf {
        self.file("store.byok")
    }

    pub fn read(&self, name: &str) -> Vec<u8> {
        std::fs::read(self.file(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
    }

    fn command(&self, program: &str) -> Command {
        let mut c = Command::new(program);
        let path = format!(
            "{}:{}",
            self.file("bin").display(),
            std::env::var("PATH").unwrap_or_default()
        );
        c.current_dir(self.path())
            .env("PATH", path)
            .env("BYOK_STORE", self.store())
            .env("BYOK_PASSPHRASE", PASSPHRASE)
            .env("BYOK_INSECURE_FAST_KDF", "1")
            .env_remove("BYOK_NEW_PASSPHRASE")
            .stdin(std::process::Stdio::null());
        c
    }

    fn record(&self, what: &str, out: &Output) {
        let mut t = self.transcript.borrow_mut();
        t.push((format!("stdout of {what}"), out.stdout.clone()));
        t.push((format!("stderr of {what}"), out.stderr.clone()));
    }

    /// Runs `byok ARGS` with the sandbox's environment plus `env`.
    pub fn byok_env(&self, args: &[&str], env: &[(&str, &str)]) -> Run {
        let mut c = self.command(bin());
        c.args(args);
        for (k, v) in env {
            c.env(k, v);
        }
        let out = c.output().expect("run byok");
        self.record(&format!("byok {}", args.join(" ")), &out);
        Run::from(out)
    }

    /// Runs `byok ARGS`.
    pub fn byok(&self, args: &[&str]) -> Run {
        self.byok_env(args, &[])
    }

    /// Runs `byok ARGS` and insists on success.
    pub fn ok(&self, args: &[&str]) -> Run {
        let r = self.byok(args);
        assert_eq!(r.status, 0, "byok {} failed:\n{}", args.join(" "), r.stderr);
        r
    }

    /// Runs a bash script (`set -euo pipefail`) in the sandbox, with
    /// `vars` exported, as a shell user would.
    pub fn sh(&self, script: &str, vars: &[(&str, &str)]) -> Run {
        let mut c = self.command("bash");
        c.arg("-c").arg(format!("set -euo pipefail\n{script}"));
        for (k, v) in vars {
            c.env(k, v);
        }
        let out = c.output().expect("run bash");
        self.record(script, &out);
        Run::from(out)
    }

    /// Runs a bash script and insists on success.
    pub fn sh_ok(&self, script: &str, vars: &[(&str, &str)]) -> Run {
        let r = self.sh(script, vars);
        assert_eq!(
            r.status, 0,
            "script failed (status {}):\n{script}\nstderr:\n{}",
            r.status, r.stderr
        );
        r
    }
}

/// Whether `s` is the AWS CLI v2's ISO 8601 form of a UTC timestamp:
/// `2025-06-06T21:15:07.592000+00:00` or `2025-06-06T21:15:07+00:00`.
pub fn is_aws_cli_timestamp(s: &str) -> bool {
    let b = s.as_bytes();
    let digits =
        |r: std::ops::Range<usize>| b.get(r).is_some_and(|x| x.iter().all(u8::is_ascii_digit));
    let head = b.len() >= 25
        && digits(0..4)
        && b[4] == b'-'
        && digits(5..7)
        && b[7] == b'-'
        && digits(8..10)
        && b[10] == b'T'
        && digits(11..13)
        && b[13] == b':'
        && digits(14..16)
        && b[16] == b':'
        && digits(17..19);
    head && (&s[19..] == "+00:00"
        || (b[19] == b'.' && digits(20..26) && &s[26..] == "+00:00" && &s[20..26] != "000000"))
}

/// The member names of the objects printed at `depth` (1 = top level) of
/// 4-space-indented JSON, in the order printed (serde_json's map sorts them).
pub fn members_at(json: &str, depth: usize) -> Vec<String> {
    let indent = " ".repeat(4 * depth);
    json.lines()
        .filter(|l| l.starts_with(&format!("{indent}\"")))
        .filter_map(|l| {
            l.trim()
                .strip_prefix('"')?
                .split('"')
                .next()
                .map(str::to_string)
        })
        .collect()
}

/// Whether `s` is 64 lowercase hex characters (a KeyMaterialId).
pub fn is_material_id(s: &str) -> bool {
    s.len() == 64
        && s.bytes()
            .all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c))
}

/// Whether `s` is a UUID key id.
pub fn is_key_id(s: &str) -> bool {
    s.len() == 36
        && s.chars().enumerate().all(|(i, c)| {
            if [8, 13, 18, 23].contains(&i) {
                c == '-'
            } else {
                c.is_ascii_hexdigit()
            }
        })
}
