//! byok: a console, a CLI and a local AWS KMS endpoint for keys with imported
//! ("bring your own") key material, all on one engine.
//!
//! Layers (dependencies point one way): `ui`, `cli`, `serve` → `store`, `api`
//! → `kms`. See ARCHITECTURE.md.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod api;
pub mod aws;
pub mod backend;
pub mod cli;
pub mod kms;
pub mod manager;
pub mod serve;
pub mod store;
pub mod ui;
pub mod workspace;
