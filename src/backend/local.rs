//! The local backend: the engine inside an encrypted store. A call takes
//! the vault's lock, runs through [`crate::api::dispatch`] (the function
//! `byok serve` answers with), and is persisted before it returns.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use super::{Backend, BackendError, BackendInfo, BackendKind};
use crate::api::Body;
use crate::kms::Caller;
use crate::store::Vault;

/// A local store as a [`Backend`].
pub struct LocalBackend {
    vault: Arc<Mutex<Vault>>,
    caller: Caller,
}

impl LocalBackend {
    /// Calls on `vault`, audited as made by `caller`.
    pub fn new(vault: Arc<Mutex<Vault>>, caller: Caller) -> Self {
        Self { vault, caller }
    }

    /// The shared vault.
    pub fn vault(&self) -> &Arc<Mutex<Vault>> {
        &self.vault
    }

    fn lock(&self) -> MutexGuard<'_, Vault> {
        self.vault.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Backend for LocalBackend {
    fn call(&self, operation: &str, request: &[u8]) -> Result<Body, BackendError> {
        self.lock()
            .call(&self.caller, operation, request)
            .map_err(BackendError::Service)
    }

    fn info(&self) -> BackendInfo {
        let v = self.lock();
        let settings = v.kms().settings();
        BackendInfo {
            kind: BackendKind::Local,
            account: Some(settings.account_id.clone()),
            region: settings.region.clone(),
            profile: None,
            endpoint: None,
        }
    }
}
