//! How the front ends find a store and its passphrase: `--store PATH`, then
//! `BYOK_STORE`, then `<XDG data dir>/byok/store.byok`; the passphrase from
//! `BYOK_PASSPHRASE` (scripts and tests) or an interactive prompt without echo.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use secrecy::SecretString;

use super::format::KdfParams;
use super::{StoreError, Vault, VaultOptions};

/// Environment variable naming the store file.
pub const STORE_VAR: &str = "BYOK_STORE";
/// Environment variable holding the passphrase (for scripts and tests).
pub const PASSPHRASE_VAR: &str = "BYOK_PASSPHRASE";
/// Set to `1` to create new stores with cheap key derivation (tests and
/// throwaway training stores only; the parameters are recorded in the file).
pub const FAST_KDF_VAR: &str = "BYOK_INSECURE_FAST_KDF";

/// The store path: the explicit one, else `BYOK_STORE`, else the default.
pub fn store_path(explicit: Option<&Path>) -> Result<PathBuf, StoreError> {
    if let Some(p) = explicit {
        return Ok(p.to_path_buf());
    }
    if let Some(p) = std::env::var_os(STORE_VAR).filter(|p| !p.is_empty()) {
        return Ok(PathBuf::from(p));
    }
    super::default_path().ok_or_else(|| StoreError::Other("cannot find a home directory for the default store; use --store PATH".into()))
}

/// Key derivation parameters for a store created now.
pub fn kdf_for_new_store() -> KdfParams {
    if std::env::var(FAST_KDF_VAR).is_ok_and(|v| v == "1") {
        KdfParams::INSECURE_FAST
    } else {
        KdfParams::INTERACTIVE
    }
}

/// The passphrase from `BYOK_PASSPHRASE`, or asked on the terminal (twice
/// when `confirm`, for a new store).
pub fn passphrase(prompt: &str, confirm: bool) -> Result<SecretString, StoreError> {
    if let Ok(p) = std::env::var(PASSPHRASE_VAR) {
        return Ok(SecretString::from(p));
    }
    if !std::io::stdin().is_terminal() {
        return Err(StoreError::Other(format!(
            "no passphrase: set {PASSPHRASE_VAR} or run in a terminal"
        )));
    }
    let first = rpassword::prompt_password(prompt).map_err(|e| StoreError::Other(format!("cannot read the passphrase: {e}")))?;
    if confirm {
        let second = rpassword::prompt_password("Repeat the passphrase: ")
            .map_err(|e| StoreError::Other(format!("cannot read the passphrase: {e}")))?;
        if first != second {
            return Err(StoreError::Other("the passphrases do not match".into()));
        }
        if first.is_empty() {
            return Err(StoreError::Other("the passphrase must not be empty".into()));
        }
    }
    Ok(SecretString::from(first))
}

/// Opens the store at `path`, creating it on first use.
pub fn open_or_create(path: &Path, options: VaultOptions) -> Result<Vault, StoreError> {
    if path.exists() {
        let p = passphrase(&format!("Passphrase for {}: ", path.display()), false)?;
        Vault::open(path, &p, options)
    } else {
        let p = passphrase(&format!("New store at {}. Choose a passphrase: ", path.display()), true)?;
        Vault::create(path, &p, options)
    }
}
