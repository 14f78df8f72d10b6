//! The egui console: one file per screen (DESIGN.md). Screens draw and
//! return [`action::Action`]s that the app applies after drawing; engine
//! work, saves, key derivation and file I/O run on the worker thread, which
//! hands back results and an immutable view of the store.

pub mod action;
pub mod announce;
pub mod app;
pub mod audit;
pub mod clock_bar;
pub mod config;
pub mod crypto;
pub mod crypto_asym;
pub mod demo;
pub mod files;
pub mod format;
pub mod import_wizard;
pub mod key_detail;
pub mod key_list;
pub mod lessons;
pub mod manager;
pub mod manual_rotation;
pub mod multi_region;
pub mod settings;
pub mod status_bar;
pub mod theme;
pub mod timeline;
pub mod unlock;
pub mod view;
pub mod worker;

use std::process::ExitCode;

pub use app::{ConsoleApp, Prefs};
pub use config::{AppClock, AppConfig};

/// The window's title while no store is open.
pub const WINDOW_TITLE: &str = "byok — imported key material console";

/// Opens the console window on the default store.
pub fn run() -> ExitCode {
    let options = eframe::NativeOptions {
        viewport: egui::ViewportBuilder::default()
            .with_title(WINDOW_TITLE)
            .with_app_id("byok")
            .with_inner_size([1600.0, 1000.0])
            .with_min_inner_size([1024.0, 640.0])
            .with_drag_and_drop(true),
        ..Default::default()
    };
    let result = eframe::run_native(
        "byok",
        options,
        Box::new(|cc| Ok(Box::new(ConsoleApp::new(cc, AppConfig::production())))),
    );
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("byok: cannot open the console window: {e}");
            ExitCode::FAILURE
        }
    }
}
