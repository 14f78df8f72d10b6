//! byok as the **external key manager** the announcement names: "use an
//! external key manager to set a rotation schedule that can drive new key
//! rotations into AWS KMS", keep "a copy of the imported key material
//! outside of AWS KMS in a system that you control", and hydrate and
//! re-hydrate keys with expiry and deletion.
//!
//! Everything goes through the one [`Backend`](crate::backend::Backend)
//! interface, so it runs the same for a local store and an AWS account:
//!
//! - [`state`]: what is kept in the store (policies, inventory, escrow,
//!   actions, approvers, suspensions), saved with its audit records;
//! - [`Manager`]: the runner. [`Manager::run`] carries every due action
//!   through its steps (`byok agent`, and the console while a store is
//!   open); each step is saved before the next call, so a run killed
//!   anywhere is finished by the next one without importing twice;
//! - [`Manager::suspend`] / [`Manager::restore`]: the kill switch and its
//!   undo, after [`Manager::blast_radius`];
//! - dual control: [`Manager::register_approver`], [`Manager::approve`];
//! - escrow of material of every key type that takes imported material
//!   (symmetric, HMAC, RSA and elliptic curve private keys):
//!   [`Manager::deposit`], and its export, [`Manager::export_escrow`].

mod blast;
mod runner;
pub mod state;

pub use blast::{BlastRadius, KeyBlast, MaterialUse};
pub use runner::{
    DueItem, DueStatus, Export, ExportForm, Manager, ManagerError, Outcome, RunReport, check_value,
};
pub use state::{
    Action, ActionKind, KeyPolicy, ManagerState, MaterialOrigin, MaterialRecord, MaterialSource,
    Step,
};
