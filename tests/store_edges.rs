//! Issue 9, items 5, 6, 8, 9 and 10: the store's lock, its path and how it
//! is opened. The exclusion of a second writer does not depend on a file
//! anyone may delete; a symlinked store is written through the link; a FIFO,
//! a folder or a device where the store should be is refused at once; the
//! change-passphrase message is true; a file is judged by its header before
//! its body is read, and a header cannot ask for an unbounded key
//! derivation; a read-only store can be read, and refuses changes without
//! losing anything; a read-only export needs no lock.

mod cli_common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use byok::kms::{Caller, GenerateOnDemand, Kms, Settings};
use byok::store::clock::SystemClock;
use byok::store::format::{FORMAT_VERSION, Header, KdfParams};
use byok::store::{StoreError, Vault, VaultOptions};
use cli_common::*;
use secrecy::SecretString;

fn options() -> VaultOptions {
    VaultOptions {
        clock: Arc::new(SystemClock),
        wrapping_keys: Box::new(GenerateOnDemand(Kms::os_rng())),
        kdf: KdfParams::INSECURE_FAST,
        settings: Settings::default(),
    }
}

fn passphrase() -> SecretString {
    SecretString::from(PASSPHRASE.to_string())
}

/// Creates an EXTERNAL key through the CLI; its key id.
fn create_key(s: &Sandbox, env: &[(&str, &str)]) -> String {
    let r = s.byok_env(
        &[
            "kms",
            "create-key",
            "--origin",
            "EXTERNAL",
            "--query",
            "KeyMetadata.KeyId",
            "--output",
            "text",
        ],
        env,
    );
    assert_eq!(r.status, 0, "create-key failed: {}", r.stderr);
    r.line().to_string()
}

/// The key ids the CLI lists, sorted.
fn list_keys(s: &Sandbox, env: &[(&str, &str)]) -> Vec<String> {
    let r = s.byok_env(
        &[
            "kms",
            "list-keys",
            "--query",
            "Keys[].KeyId",
            "--output",
            "text",
        ],
        env,
    );
    assert_eq!(r.status, 0, "list-keys failed: {}", r.stderr);
    let mut ids: Vec<String> = r.stdout.split_whitespace().map(str::to_string).collect();
    ids.sort();
    ids
}

/// Runs `byok ARGS` in the sandbox with a deadline: a byok that waits
/// forever fails the test instead of hanging it.
fn byok_within(s: &Sandbox, args: &[&str], env: &[(&str, &str)], limit: Duration) -> Run {
    let mut c = Command::new(bin());
    c.current_dir(s.path())
        .args(args)
        .env("BYOK_STORE", s.store())
        .env("BYOK_PASSPHRASE", PASSPHRASE)
        .env("BYOK_INSECURE_FAST_KDF", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        c.env(k, v);
    }
    let mut child = c.spawn().expect("run byok");
    let started = Instant::now();
    loop {
        if child.try_wait().expect("wait").is_some() {
            break;
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("byok {} still running after {limit:?}", args.join(" "));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().expect("output");
    Run {
        status: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// The names in a folder, sorted.
fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

/// Every file under `dir` with its bytes, for "nothing changed".
fn snapshot(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).expect("read dir") {
            let p = e.expect("entry").path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let bytes = std::fs::read(&p).unwrap_or_default();
                out.push((p, bytes));
            }
        }
    }
    out.sort();
    out
}

// ---------------------------------------------------------------- item 5

#[test]
fn deleting_the_lock_file_does_not_let_a_second_writer_in() {
    let s = Sandbox::new();
    let first = create_key(&s, &[]);

    let mut held = Vault::open(&s.store(), &passphrase(), options()).expect("open the store");
    std::fs::remove_file(s.file("store.byok.lock")).expect("delete the lock file");
    let before = s.read("store.byok");

    for args in [
        vec!["kms", "create-key", "--origin", "EXTERNAL"],
        vec!["kms", "list-keys"],
    ] {
        let r = s.byok(&args);
        assert_eq!(
            r.status, 255,
            "{args:?} ran beside the holder: {}",
            r.stdout
        );
        assert!(
            r.stderr
                .starts_with("byok: store is in use by another byok process"),
            "{args:?}: {}",
            r.stderr
        );
        assert_eq!(s.read("store.byok"), before, "{args:?} changed the store");
    }

    // The holder's own writes are kept, and seen once it is done.
    let body = held
        .call(&Caller::cli(), "CreateKey", br#"{"Origin":"EXTERNAL"}"#)
        .expect("the holder still writes");
    let second = serde_json::from_slice::<serde_json::Value>(&body[..]).expect("json")["KeyMetadata"]
        ["KeyId"]
        .as_str()
        .expect("key id")
        .to_string();
    held.close().expect("close");
    let mut expected = vec![first, second];
    expected.sort();
    assert_eq!(list_keys(&s, &[]), expected);
}

#[test]
fn a_holder_whose_lock_folder_was_replaced_refuses_to_save() {
    let s = Sandbox::new();
    create_key(&s, &[]);
    let mut held = Vault::open(&s.store(), &passphrase(), options()).expect("open the store");
    let before = s.read("store.byok");

    // The folder whose lock keeps writers out is removed and made anew (as
    // a second process would): the holder no longer excludes anyone.
    std::fs::remove_dir_all(s.file("store.byok.audit")).expect("remove the audit folder");
    std::fs::create_dir(s.file("store.byok.audit")).expect("a new audit folder");

    let e = held
        .call(&Caller::cli(), "CreateKey", br#"{"Origin":"EXTERNAL"}"#)
        .expect_err("a save without the lock must be refused");
    assert!(
        e.message.contains("no longer guards the store"),
        "{}",
        e.message
    );
    assert!(e.message.contains("store.byok.audit"), "{}", e.message);
    let e = held
        .rotate_api_credentials()
        .expect_err("a save without the lock must be refused");
    assert!(matches!(e, StoreError::LockLost(_)), "{e}");
    assert_eq!(s.read("store.byok"), before, "the store was written");
    drop(held);
}

// ---------------------------------------------------------------- item 6

#[test]
fn a_store_named_through_a_symbolic_link_is_written_at_its_target() {
    let s = Sandbox::new();
    std::fs::create_dir(s.file("real")).expect("folder");
    let real = [("BYOK_STORE", "real/store.byok")];
    let first = create_key(&s, &real);
    std::os::unix::fs::symlink("real/store.byok", s.file("link.byok")).expect("symlink");

    let link = [("BYOK_STORE", "link.byok")];
    let second = create_key(&s, &link);

    let meta = std::fs::symlink_metadata(s.file("link.byok")).expect("link");
    assert!(
        meta.file_type().is_symlink(),
        "the link was replaced by a file"
    );
    let mut expected = vec![first, second];
    expected.sort();
    assert_eq!(
        list_keys(&s, &real),
        expected,
        "the real store has both keys"
    );
    assert_eq!(list_keys(&s, &link), expected);

    // The siblings are beside the target, none beside the link.
    let beside_link: Vec<String> = names(s.path())
        .into_iter()
        .filter(|n| n.starts_with("link.byok"))
        .collect();
    assert_eq!(beside_link, vec!["link.byok".to_string()]);
    let beside_target = names(&s.file("real"));
    for sibling in ["store.byok", "store.byok.bak", "store.byok.audit"] {
        assert!(
            beside_target.contains(&sibling.to_string()),
            "{sibling} missing beside the target: {beside_target:?}"
        );
    }
}

// ---------------------------------------------------------------- item 8

#[test]
fn a_fifo_a_folder_or_a_device_where_the_store_should_be_is_refused_at_once() {
    let s = Sandbox::new();
    let made = Command::new("mkfifo")
        .arg(s.file("pipe.byok"))
        .status()
        .expect("mkfifo");
    assert!(made.success());
    std::fs::create_dir(s.file("folder.byok")).expect("folder");
    std::os::unix::fs::symlink("/dev/null", s.file("device.byok")).expect("symlink");

    for (name, shown, kind) in [
        ("pipe.byok", "pipe.byok", "a named pipe (FIFO)"),
        ("folder.byok", "folder.byok", "a directory"),
        ("device.byok", "/dev/null", "a character device"),
    ] {
        let store = s.file(name);
        let store = store.to_str().expect("utf-8");
        for args in [
            vec!["kms", "list-keys"],
            vec!["kms", "create-key"],
            vec!["store", "info"],
            vec!["audit", "export"],
        ] {
            let r = byok_within(&s, &args, &[("BYOK_STORE", store)], Duration::from_secs(20));
            assert_ne!(r.status, 0, "{name} {args:?} succeeded");
            assert!(
                r.stderr.contains(shown)
                    && r.stderr.contains(&format!("is {kind}, not a store file")),
                "{name} {args:?}: {}",
                r.stderr
            );
        }
    }
    // Nothing was made beside them.
    assert_eq!(
        names(s.path()),
        vec!["bin", "device.byok", "folder.byok", "pipe.byok"]
    );
    assert!(names(&s.file("folder.byok")).is_empty());
}

// ---------------------------------------------------------------- item 9

#[test]
fn change_passphrase_says_truly_what_the_backup_opens_with() {
    let s = Sandbox::new();
    create_key(&s, &[]);
    create_key(&s, &[]); // so that there is a previous generation
    let new = "a new passphrase entirely";
    let r = s.byok_env(
        &["store", "change-passphrase"],
        &[("BYOK_NEW_PASSPHRASE", new)],
    );
    assert_eq!(r.status, 0, "{}", r.stderr);
    assert!(
        !r.stderr.contains("still opens with the old passphrase"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains("store.byok.bak")
            && r.stderr.contains("the old passphrase opens neither"),
        "{}",
        r.stderr
    );

    // And it is so: the old passphrase opens neither file, the new one both.
    let old = passphrase();
    let new = SecretString::from(new.to_string());
    for file in ["store.byok", "store.byok.bak"] {
        let path = s.file(file);
        let e = Vault::open_read_only(&path, &old, options()).expect_err(file);
        assert!(matches!(e, StoreError::Unreadable { .. }), "{file}: {e}");
        let v = Vault::open_read_only(&path, &new, options()).expect(file);
        assert!(v.kms().keys().count() >= 1, "{file}");
    }
}

// ---------------------------------------------------------------- item 10

/// A header as byok writes it, with `kdf`.
fn header_bytes(kdf: KdfParams) -> Vec<u8> {
    Header {
        version: FORMAT_VERSION,
        kdf,
        salt: [7; 16],
        nonce: [9; 12],
    }
    .encode()
    .to_vec()
}

#[test]
fn a_huge_file_is_judged_by_its_header_without_reading_it() {
    let s = Sandbox::new();
    let size = 3u64 << 30;
    // Not a store: refused after its first bytes.
    let garbage = s.file("garbage.byok");
    std::fs::write(&garbage, b"hello, this is not a store").expect("write");
    std::fs::File::options()
        .write(true)
        .open(&garbage)
        .and_then(|f| f.set_len(size))
        .expect("grow (sparse)");
    // A store's header on a body far larger than any store.
    let large = s.file("large.byok");
    std::fs::write(&large, header_bytes(KdfParams::INSECURE_FAST)).expect("write");
    std::fs::File::options()
        .write(true)
        .open(&large)
        .and_then(|f| f.set_len(size))
        .expect("grow (sparse)");

    for (file, expected) in [
        ("garbage.byok", "is not a byok store".to_string()),
        (
            "large.byok",
            format!("is {size} bytes, larger than any byok store"),
        ),
    ] {
        let path = s.file(file);
        let store = path.to_str().expect("utf-8");
        let started = Instant::now();
        let r = byok_within(
            &s,
            &["kms", "list-keys"],
            &[("BYOK_STORE", store)],
            Duration::from_secs(60),
        );
        let took = started.elapsed();
        assert_ne!(r.status, 0, "{file}");
        assert!(r.stderr.contains(&expected), "{file}: {}", r.stderr);
        assert!(
            took < Duration::from_secs(3),
            "{file} took {took:?}: the body was read"
        );
    }
}

#[test]
fn a_header_asking_for_too_costly_a_derivation_is_refused_before_deriving() {
    let s = Sandbox::new();
    // The largest parameters earlier builds accepted: 1 GiB, 16 passes.
    let costly = KdfParams {
        m_cost_kib: 1024 * 1024,
        t_cost: 16,
        p_cost: 1,
    };
    let mut file = header_bytes(costly);
    file.extend_from_slice(&[0u8; 64]);
    std::fs::write(s.store(), &file).expect("write");

    let started = Instant::now();
    let r = byok_within(&s, &["kms", "list-keys"], &[], Duration::from_secs(60));
    let took = started.elapsed();
    assert_ne!(r.status, 0);
    assert!(
        r.stderr.contains(
            "asks for Argon2id with memory 1024 MiB, 16 passes and parallelism 1, beyond what byok accepts"
        ),
        "{}",
        r.stderr
    );
    assert!(took < Duration::from_secs(3), "took {took:?}: it derived");
    assert_eq!(s.read("store.byok"), file, "the file was changed");

    let e = Vault::open(&s.store(), &passphrase(), options()).expect_err("refused");
    assert!(matches!(e, StoreError::KdfTooCostly { .. }), "{e}");

    // byok never writes a store it would refuse to open.
    let mut too_costly = options();
    too_costly.kdf = costly;
    let e = Vault::create(&s.file("new.byok"), &passphrase(), too_costly).expect_err("refused");
    assert!(matches!(e, StoreError::KdfTooCostly { .. }), "{e}");
    assert!(!s.file("new.byok").exists());

    // What new stores use stays well within the limits.
    assert!(KdfParams::INTERACTIVE.within_limits());
    assert!(KdfParams::INSECURE_FAST.within_limits());
    assert!(!costly.within_limits());
}

#[test]
fn an_export_and_store_info_need_no_lock() {
    let s = Sandbox::new();
    let key = create_key(&s, &[]);
    let held = Vault::open(&s.store(), &passphrase(), options()).expect("open the store");
    let before = snapshot(s.path());

    let r = s.byok(&["audit", "export"]);
    assert_eq!(
        r.status, 0,
        "audit export refused beside the holder: {}",
        r.stderr
    );
    let export = r.json();
    let records = export["Records"].as_array().expect("records");
    assert!(
        records.iter().any(|r| r["eventName"] == "CreateKey"
            && r["responseElements"]["keyMetadata"]["keyId"] == key.as_str()),
        "{}",
        r.stdout
    );
    let r = s.byok(&["store", "info", "--query", "Keys", "--output", "text"]);
    assert_eq!(
        r.status, 0,
        "store info refused beside the holder: {}",
        r.stderr
    );
    assert_eq!(r.line(), "1");
    assert_eq!(snapshot(s.path()), before, "a reader changed a file");

    // A writer is still kept out.
    let r = s.byok(&["kms", "list-keys"]);
    assert_eq!(r.status, 255, "{}", r.stderr);
    held.close().expect("close");
}

/// A folder that cannot be written, whoever runs the test: a read-only
/// tmpfs mount when permissions do not stop this user (root, as in CI), a
/// folder with mode 0555 (and files 0444) otherwise. Never vacuous: if the
/// folder can still be written, the test fails.
struct ReadOnlyFolder {
    dir: PathBuf,
    mounted: bool,
}

impl ReadOnlyFolder {
    /// An empty folder, writable until [`ReadOnlyFolder::freeze`].
    fn new(s: &Sandbox) -> ReadOnlyFolder {
        let dir = s.file("ro");
        std::fs::create_dir(&dir).expect("folder");
        let mounted = permissions_do_not_bind(s);
        if mounted {
            let ok = Command::new("mount")
                .args(["-t", "tmpfs", "-o", "size=64m", "tmpfs"])
                .arg(&dir)
                .status()
                .is_ok_and(|st| st.success());
            assert!(
                ok,
                "permissions do not stop this user and a tmpfs cannot be mounted: no way to make a read-only store"
            );
        }
        ReadOnlyFolder { dir, mounted }
    }

    fn freeze(&self) {
        if self.mounted {
            let ok = Command::new("mount")
                .args(["-o", "remount,ro"])
                .arg(&self.dir)
                .status()
                .is_ok_and(|st| st.success());
            assert!(ok, "cannot remount read-only");
        } else {
            set_modes(&self.dir, 0o555, 0o444);
        }
        // Not vacuous: writing there must fail now.
        let probe = self.dir.join("probe");
        assert!(
            std::fs::write(&probe, b"x").is_err(),
            "the folder can still be written"
        );
        assert!(
            std::fs::OpenOptions::new()
                .append(true)
                .open(self.dir.join("store.byok"))
                .is_err(),
            "the store file can still be written"
        );
    }
}

impl Drop for ReadOnlyFolder {
    fn drop(&mut self) {
        if self.mounted {
            let _ = Command::new("umount").arg(&self.dir).status();
        } else {
            set_modes(&self.dir, 0o755, 0o644);
        }
    }
}

/// Whether this user writes in a folder of mode 0555 (root does).
fn permissions_do_not_bind(s: &Sandbox) -> bool {
    use std::os::unix::fs::PermissionsExt;
    let probe = s.file("probe");
    std::fs::create_dir(&probe).expect("probe folder");
    std::fs::set_permissions(&probe, std::fs::Permissions::from_mode(0o555)).expect("chmod");
    let writes = std::fs::write(probe.join("x"), b"x").is_ok();
    std::fs::set_permissions(&probe, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    std::fs::remove_dir_all(&probe).expect("remove probe");
    writes
}

fn set_modes(dir: &Path, dirs: u32, files: u32) {
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &Path, m: u32| {
        let _ = std::fs::set_permissions(p, std::fs::Permissions::from_mode(m));
    };
    // Open folders before descending, close them after.
    mode(dir, 0o755);
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                set_modes(&p, dirs, files);
            } else {
                mode(&p, files);
            }
        }
    }
    mode(dir, dirs);
}

#[test]
fn a_read_only_store_can_be_read_and_refuses_changes_losing_nothing() {
    let s = Sandbox::new();
    let ro = ReadOnlyFolder::new(&s);
    let env = [("BYOK_STORE", "ro/store.byok")];
    let key = create_key(&s, &env);
    create_key(&s, &env);
    // A key with material of its own (AWS_KMS), for a cryptographic call.
    let usable = s.byok_env(
        &[
            "kms",
            "create-key",
            "--query",
            "KeyMetadata.KeyId",
            "--output",
            "text",
        ],
        &env,
    );
    assert_eq!(usable.status, 0, "{}", usable.stderr);
    let usable = usable.line().to_string();
    ro.freeze();
    let before = snapshot(&ro.dir);
    let listing = names(&ro.dir);

    let keys = list_keys(&s, &env);
    assert_eq!(keys.len(), 3);
    assert!(keys.contains(&key));
    let r = s.byok_env(&["kms", "list-keys"], &env);
    assert!(
        r.stderr.contains("is open for reading only"),
        "{}",
        r.stderr
    );

    let r = s.byok_env(&["audit", "export"], &env);
    assert_eq!(r.status, 0, "audit export: {}", r.stderr);
    let creates = r.json()["Records"]
        .as_array()
        .expect("records")
        .iter()
        .filter(|r| r["eventName"] == "CreateKey")
        .count();
    assert_eq!(creates, 3);
    let r = s.byok_env(
        &["store", "info", "--query", "Keys", "--output", "text"],
        &env,
    );
    assert_eq!(r.status, 0, "store info: {}", r.stderr);
    assert_eq!(r.line(), "3");

    // A change is refused, clearly, and nothing is lost or left behind.
    for args in [
        vec!["kms", "create-key", "--origin", "EXTERNAL"],
        vec!["kms", "schedule-key-deletion", "--key-id", &key],
        vec!["store", "settings", "--rotation-delay-ms", "5"],
    ] {
        let r = s.byok_env(&args, &env);
        assert_ne!(r.status, 0, "{args:?} succeeded: {}", r.stdout);
        assert!(
            r.stderr.contains("is open for reading only")
                && r.stderr.contains("the change is refused"),
            "{args:?}: {}",
            r.stderr
        );
    }
    assert_eq!(snapshot(&ro.dir), before, "a file changed");
    assert_eq!(names(&ro.dir), listing, "a file was added or removed");

    // The console opens a store with Vault::open: read-only, and a refused
    // change leaves the engine as it was.
    let mut v = Vault::open(&ro.dir.join("store.byok"), &passphrase(), options()).expect("open");
    assert!(v.read_only().is_some());
    assert!(
        v.notes()
            .iter()
            .any(|n| n.contains("open for reading only")),
        "{:?}",
        v.notes()
    );
    let body = v
        .call(&Caller::console(), "ListKeys", b"{}")
        .expect("list keys");
    assert!(String::from_utf8_lossy(&body[..]).contains(&key));
    let e = v
        .call(&Caller::console(), "CreateKey", br#"{"Origin":"EXTERNAL"}"#)
        .expect_err("refused");
    assert!(e.message.contains("open for reading only"), "{}", e.message);
    assert_eq!(
        v.kms().keys().count(),
        3,
        "the refused change stayed in memory"
    );
    // Using key material needs an audit record, which cannot be written.
    let e = v
        .call(
            &Caller::console(),
            "GenerateDataKey",
            format!(r#"{{"KeyId":"{usable}","KeySpec":"AES_256"}}"#).as_bytes(),
        )
        .expect_err("refused");
    assert!(
        e.message.contains("GenerateDataKey uses key material"),
        "{}",
        e.message
    );
    let e = v.rotate_api_credentials().expect_err("refused");
    assert!(matches!(e, StoreError::ReadOnly { .. }), "{e}");
    v.close().expect("close");
    assert_eq!(snapshot(&ro.dir), before, "a file changed");
}

#[test]
fn a_store_in_a_read_only_folder_opens_for_reading() {
    use std::os::unix::fs::PermissionsExt;
    let s = Sandbox::new();
    let dir = s.file("kept");
    std::fs::create_dir(&dir).expect("folder");
    let path = dir.join("store.byok");
    let v = Vault::create(&path, &passphrase(), options()).expect("create");
    v.close().expect("close");
    // The folder's mode says "do not write here", whoever runs the test;
    // the store file itself stays 0600.
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o555)).expect("chmod");
    let before = snapshot(&dir);

    let mut v = Vault::open(&path, &passphrase(), options()).expect("open");
    let reason = v.read_only().map(str::to_string);
    let e = v
        .call(&Caller::cli(), "CreateKey", br#"{"Origin":"EXTERNAL"}"#)
        .map(|_| ())
        .expect_err("a change in a read-only folder");
    drop(v);
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    assert_eq!(reason.as_deref(), Some("its folder is read-only"));
    assert!(e.message.contains("open for reading only"), "{}", e.message);
    assert_eq!(snapshot(&dir), before, "a file changed");
}
