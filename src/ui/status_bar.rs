//! The status bar: the store, whether everything is saved, the clock (with
//! a badge when it is not real time), and whether the local AWS endpoint is
//! serving.

use egui::{Align, Layout, RichText, Ui};

use super::action::Action;
use super::config::AppClock;
use super::format;
use super::theme;
use super::view::{SaveStatus, StoreView};

/// The console's switch for the local AWS endpoint (`src/serve`). The
/// worker owns the [`crate::serve::Endpoint`] (`Job::StartServe` /
/// `Job::StopServe`): starting and stopping lock the vault and wait for
/// requests in flight, which the UI thread never does. Locking the store
/// stops it.
#[derive(Debug, Clone, Default)]
pub struct ServeHook {
    /// Whether this build has the endpoint (a build without `src/serve`
    /// shows the switch disabled).
    pub available: bool,
    /// The address it serves on, while serving.
    pub serving: Option<String>,
    /// Requests answered since it started.
    pub requests: u64,
    /// A start or stop is in flight.
    pub pending: bool,
    /// The address it will serve on.
    pub address: String,
}

/// What the status bar shows.
pub struct StatusInfo<'a> {
    /// The store's view.
    pub view: &'a StoreView,
    /// Jobs that change the store are in flight.
    pub saving: bool,
    /// The engine's clock.
    pub clock: &'a AppClock,
    /// The endpoint hook.
    pub serve: &'a ServeHook,
    /// AWS's throttling right now (AWS stores), read every frame.
    pub throttling: Option<crate::aws::RetryState>,
}

/// Draws the status bar.
pub fn ui(ui: &mut Ui, info: StatusInfo<'_>) -> Vec<Action> {
    let mut actions = Vec::new();
    ui.horizontal(|ui| {
        if info.view.is_aws() {
            let b = &info.view.backend;
            theme::badge(ui, "AWS", theme::BadgeStyle::on(theme::AMBER))
                .on_hover_text(format!("Keys of an AWS account; byok's own file: {}", info.view.path.display()));
            let mut text = match &b.account {
                Some(a) => format!("account {a} · {}", b.region),
                None => b.region.clone(),
            };
            if let Some(p) = &b.profile {
                text.push_str(&format!(" · profile {p}"));
            }
            if let Some(e) = &b.endpoint {
                text.push_str(&format!(" · {e}"));
            }
            ui.label(RichText::new(text).monospace());
            ui.separator();
            match info.throttling {
                Some(t) if t.waiting => {
                    theme::spinner(ui);
                    ui.label(theme::colored(ui, "AWS is throttling requests: waiting to retry", theme::AMBER).strong())
                        .on_hover_text(format!("{} throttled attempts so far; the SDK's adaptive retry slows down and tries again", t.throttled_attempts));
                    ui.ctx().request_repaint_after(std::time::Duration::from_millis(200));
                    ui.separator();
                }
                _ => {}
            }
            if let Some(n) = &info.view.notice {
                ui.label(theme::colored(ui, format!("⚠ {}", format::ellipsize(n, 80)), theme::AMBER))
                    .on_hover_text(n.as_str());
                ui.separator();
            }
            if ui
                .small_button("⟳ Refresh")
                .on_hover_text("Read the key list and the keys on screen from AWS again")
                .clicked()
            {
                actions.push(Action::RefreshKeys);
            }
            ui.separator();
        } else {
            let store = if info.view.is_demo {
                "Training store (temporary)".to_string()
            } else {
                info.view.path.display().to_string()
            };
            ui.label(theme::weak(ui, "Store"));
            ui.label(RichText::new(format::ellipsize(&store, 60)).monospace())
                .on_hover_text(info.view.path.display().to_string());
            ui.separator();
        }
        match (&info.view.save, info.saving) {
            (SaveStatus::Failed(msg), _) => {
                ui.label(theme::colored(ui, "⚠ Not saved", theme::RED).strong())
                    .on_hover_text(format!("The last change could not be saved: {msg}"));
            }
            (SaveStatus::Saved, true) => {
                theme::spinner(ui);
                ui.label("Saving…");
            }
            (SaveStatus::Saved, false) => {
                ui.label(theme::colored(ui, "✔ Saved", theme::GREEN))
                    .on_hover_text("Every acknowledged change is on disk");
            }
        }
        ui.separator();
        ui.label(super::format::plural(info.view.keys.len() as u64, "key"));
        // The key manager: what waits for the officer, one click away.
        let m = &info.view.manager;
        let (due, waiting) = (m.due_now(), m.approvals.len());
        let failed = m.last_run.error.is_some() || m.last_run.outcomes.iter().any(|o| o.failed);
        if due + waiting > 0 || failed {
            ui.separator();
            let mut parts = Vec::new();
            if due > 0 {
                parts.push(format!("{due} due"));
            }
            if waiting > 0 {
                parts.push(format!("{waiting} to approve"));
            }
            if failed {
                parts.push("last run failed".to_string());
            }
            let color = if failed { theme::RED } else { theme::AMBER };
            if ui
                .link(theme::colored(ui, format!("Key manager: {}", parts.join(" · ")), color))
                .on_hover_text("Open the Key manager")
                .clicked()
            {
                actions.push(Action::ShowTab(super::action::Tab::Manager));
            }
        }
        ui.with_layout(Layout::right_to_left(Align::Center), |ui| {
            if info.view.is_aws() {
                clock_ui(ui, info.clock);
                return;
            }
            // The endpoint switch.
            let mut on = info.serve.serving.is_some();
            if info.serve.pending {
                theme::spinner(ui);
            }
            let r = ui.add_enabled(
                info.serve.available && !info.serve.pending,
                egui::Checkbox::new(&mut on, "Serve AWS endpoint"),
            );
            let r = if info.serve.available {
                let endpoint = info.serve.serving.as_deref().unwrap_or(&info.serve.address);
                r.on_hover_text(format!(
                    "Serve the AWS KMS JSON protocol on http://{endpoint} (loopback, SigV4). \
                     Settings › Local AWS endpoint copies the credentials; then: \
                     aws --endpoint-url http://{endpoint} kms list-keys"
                ))
            } else {
                r.on_disabled_hover_text("endpoint not available in this build")
            };
            if let Some(addr) = &info.serve.serving {
                ui.label(
                    theme::colored(
                        ui,
                        format!("on {addr} · {}", requests_text(info.serve.requests)),
                        theme::GREEN,
                    )
                    .monospace(),
                );
            }
            if r.changed() {
                actions.push(Action::Serve(on));
            }
            ui.separator();
            clock_ui(ui, info.clock);
        });
    });
    actions
}

/// The clock, and a badge when it is not real time.
pub fn clock_ui(ui: &mut Ui, clock: &AppClock) {
    let now = clock.now();
    ui.label(RichText::new(format::date_time_secs(now)).monospace());
    if let Some(text) = badge_text(clock) {
        theme::badge(ui, &text, theme::BadgeStyle::on(theme::AMBER))
            .on_hover_text("The engine's clock is not real time (Settings › Simulated clock)");
    }
}

/// The width [`clock_ui`] takes, so that a bar can leave it out rather
/// than draw it over its neighbours (badge padding and spacing included).
pub fn clock_width(ui: &Ui, clock: &AppClock) -> f32 {
    let date = ui
        .painter()
        .layout_no_wrap(
            format::date_time_secs(clock.now()),
            egui::TextStyle::Monospace.resolve(ui.style()),
            egui::Color32::PLACEHOLDER,
        )
        .size()
        .x;
    let badge = badge_text(clock).map_or(0.0, |t| theme::badge_width(ui, &t));
    date + badge + 2.0 * ui.spacing().item_spacing.x
}

/// The badge's text when the clock is not real time.
fn badge_text(clock: &AppClock) -> Option<String> {
    if clock.is_real_time() {
        return None;
    }
    Some(match clock {
        AppClock::Manual(_) => "MANUAL CLOCK".to_string(),
        AppClock::Simulated(_) => {
            let speed = clock.speed();
            let ahead = clock.offset();
            let mut t = "SIMULATED CLOCK".to_string();
            if speed > 1.0 {
                t.push_str(&format!(" ×{speed:.0}"));
            }
            if ahead.as_secs() >= 1 {
                t.push_str(&format!(" +{}", format::duration(ahead)));
            }
            t
        }
    })
}

/// `1 request`, `12 requests`.
pub fn requests_text(n: u64) -> String {
    if n == 1 {
        "1 request".into()
    } else {
        format!("{n} requests")
    }
}
