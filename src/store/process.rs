//! Keeping the process's memory to itself: a byok process holds key
//! material, the endpoint's secret key and the store's passphrase, and a
//! core dump or a debugger attached by another process of the same user
//! would carry them away.
//!
//! [`protect`] is called first thing by every byok process (console, CLI,
//! endpoint), as ssh-agent and gpg-agent do: the core-file limit goes to
//! zero (soft and hard, so nothing the process starts can raise it again),
//! and on Linux the process is marked non-dumpable (`PR_SET_DUMPABLE` 0):
//! no core file is written even by a core-pattern helper, other processes
//! of the same user can neither `ptrace` it nor read `/proc/<pid>/mem` or
//! `environ` (only a process with `CAP_SYS_PTRACE`, such as root, still
//! can), and the files under `/proc/<pid>/` belong to root.
//!
//! Memory is not locked against swap: `mlockall(MCL_FUTURE)` makes every
//! later allocation past `RLIMIT_MEMLOCK` (8 MiB by default) fail, which
//! the console's graphics stack and the endpoint's runtime would hit at
//! once; secrets live in zeroizing buffers for as short a time as the
//! operations allow, and an encrypted swap covers the rest.

/// Makes the current process non-dumpable and sets its core-file limit to
/// zero. Returns a note for each step that could not be taken (none on
/// Linux in practice); the process goes on either way.
pub fn protect() -> Vec<String> {
    let mut notes = Vec::new();
    #[cfg(unix)]
    {
        use rustix::process::{Resource, Rlimit, setrlimit};
        let zero = Rlimit {
            current: Some(0),
            maximum: Some(0),
        };
        if let Err(e) = setrlimit(Resource::Core, zero) {
            notes.push(format!("could not set the core file size limit to 0: {e}"));
        }
    }
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        use rustix::process::{DumpableBehavior, set_dumpable_behavior};
        if let Err(e) = set_dumpable_behavior(DumpableBehavior::NotDumpable) {
            notes.push(format!("could not mark the process non-dumpable: {e}"));
        }
    }
    notes
}
