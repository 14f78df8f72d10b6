//! Settings: the engine's rotation delay, region and account; auto-lock;
//! theme and presentation size; passphrase change; and the simulated clock
//! for training (speed, +1 h / +1 day / +30 days, back to real time).

use std::time::Duration;

use egui::{RichText, Ui};
use secrecy::SecretString;
use zeroize::Zeroizing;

use super::action::{Action, ClockCommand, Owner};
use super::config::AppClock;
use super::format;
use super::status_bar::ServeHook;
use super::theme::{self, ThemeChoice};
use super::unlock::{secret_buffer, secret_field};
use super::view::StoreView;
use super::worker::{Async, Job, Jobs, Outcome, Ticket, UiError};
use crate::kms::Settings;
use crate::store::StoreSettings;

/// The settings screen's state.
pub struct SettingsPanel {
    edits_for: Option<u64>,
    region: String,
    account: String,
    rotation_delay_s: f64,
    auto_lock: u32,
    current: Zeroizing<String>,
    new: Zeroizing<String>,
    confirm: Zeroizing<String>,
    save: Async<()>,
    passphrase: Async<()>,
    dirty: bool,
}

impl Default for SettingsPanel {
    fn default() -> Self {
        SettingsPanel {
            edits_for: None,
            region: String::new(),
            account: String::new(),
            rotation_delay_s: 3.0,
            auto_lock: 15,
            current: secret_buffer(),
            new: secret_buffer(),
            confirm: secret_buffer(),
            save: Async::Idle,
            passphrase: Async::Idle,
            dirty: false,
        }
    }
}

impl SettingsPanel {
    /// A job's result.
    pub fn finished(&mut self, ticket: Ticket, outcome: &Result<Outcome, UiError>) {
        let result = outcome.as_ref().map(|_| ()).map_err(Clone::clone);
        if self.save.finish(ticket, result.clone()) {
            if result.is_ok() {
                self.dirty = false;
            }
        } else {
            self.passphrase.finish(ticket, result);
        }
    }

    /// Draws the screen.
    pub fn ui(
        &mut self,
        ui: &mut Ui,
        view: &StoreView,
        clock: &AppClock,
        (theme_choice, presentation): (ThemeChoice, bool),
        serve: &ServeHook,
        jobs: &Jobs,
    ) -> Vec<Action> {
        let mut actions = Vec::new();
        if !self.dirty && self.edits_for != Some(view.revision) {
            self.edits_for = Some(view.revision);
            if let Some(settings) = view.settings() {
                self.region = settings.region.clone();
                self.account = settings.account_id.clone();
                self.rotation_delay_s = settings.rotation_delay_ms as f64 / 1000.0;
            }
            self.auto_lock = view.store_settings.auto_lock_minutes;
        }
        egui::ScrollArea::vertical()
            .auto_shrink(false)
            .show(ui, |ui| {
                ui.heading("Settings");
                ui.add_space(6.0);
                ui.columns(2, |cols| {
                    self.store_ui(&mut cols[0], view, jobs);
                    cols[0].add_space(10.0);
                    self.passphrase_ui(&mut cols[0], jobs);
                    if view.is_demo {
                        clock_ui(&mut cols[1], clock, &mut actions);
                    } else if view.is_aws() {
                        // An AWS store runs on AWS's clock and is not served
                        // by byok: neither card applies.
                    } else {
                        theme::card(&cols[1]).show(&mut cols[1], |ui| {
                            ui.set_width(ui.available_width());
                            ui.label(RichText::new("Simulated clock").strong().size(17.0));
                            ui.label(
                                "Only training stores run on a simulated clock: jumping ahead would expire and \
                                 erase real key material and write audit records dated in the future. Open the \
                                 training demo (Lock, then Open training demo) to show time-driven events.",
                            );
                        });
                    }
                    if !view.is_aws() {
                        cols[1].add_space(10.0);
                    }
                    appearance_ui(&mut cols[1], theme_choice, presentation, &mut actions);
                    if !view.is_aws() {
                        cols[1].add_space(10.0);
                        endpoint_ui(&mut cols[1], serve, &mut actions);
                    }
                });
            });
        actions
    }

    fn store_ui(&mut self, ui: &mut Ui, view: &StoreView, jobs: &Jobs) {
        theme::card(ui).show(ui, |ui| {
            ui.set_width(ui.available_width());
            ui.label(RichText::new("Store").strong().size(17.0));
            ui.label(theme::weak(ui, view.path.display().to_string()));
            let local = view.settings().is_some();
            egui::Grid::new("store-settings").num_columns(2).spacing([14.0, 8.0]).show(ui, |ui| {
                if local {
                let l = ui.label("Region");
                self.dirty |= ui.add(egui::TextEdit::singleline(&mut self.region).desired_width(180.0)).labelled_by(l.id).changed();
                ui.end_row();
                let l = ui.label("Account");
                self.dirty |= ui.add(egui::TextEdit::singleline(&mut self.account).desired_width(180.0)).labelled_by(l.id).changed();
                ui.end_row();
                let l = ui.label("Rotation delay");
                self.dirty |= ui
                    .add(egui::DragValue::new(&mut self.rotation_delay_s).range(0.0..=3600.0).speed(0.5).suffix(" s"))
                    .labelled_by(l.id)
                    .on_hover_text("How long an on-demand rotation takes to complete (AWS takes minutes; byok defaults to 3 s)")
                    .changed();
                ui.end_row();
                }
                let l = ui.label("Auto-lock");
                self.dirty |= ui
                    .add(
                        egui::DragValue::new(&mut self.auto_lock)
                            .range(0..=1440)
                            .custom_formatter(|n, _| auto_lock_text(n))
                            .custom_parser(parse_auto_lock),
                    )
                    .labelled_by(l.id)
                    .on_hover_text("0 (\"never\"): the store never locks by itself")
                    .changed();
                ui.end_row();
            });
            if local {
                ui.label(theme::weak(ui, "Region and account appear in every ARN and audit record."));
            }
            ui.horizontal(|ui| {
                if ui
                    .add_enabled(self.dirty && !self.save.is_pending(), egui::Button::new(RichText::new("Save settings").strong()))
                    .clicked()
                {
                    let engine = local.then(|| Settings {
                        region: self.region.trim().to_string(),
                        account_id: self.account.trim().to_string(),
                        rotation_delay_ms: (self.rotation_delay_s * 1000.0).round() as u64,
                    });
                    let store = StoreSettings {
                        auto_lock_minutes: self.auto_lock,
                        ..view.store_settings.clone()
                    };
                    self.save.submit(jobs, Owner::Settings, Job::UpdateSettings { store, engine });
                }
                if self.dirty && ui.button("Revert").clicked() {
                    self.dirty = false;
                    self.edits_for = None;
                }
                if self.save.is_pending() {
                    theme::spinner(ui);
                } else if matches!(self.save, Async::Ready(())) && !self.dirty {
                    ui.label(theme::colored(ui, "✔ Saved", theme::GREEN));
                }
            });
            if let Some(e) = self.save.error() {
                theme::error_box(ui, e);
            }
        });
    }

    fn passphrase_ui(&mut self, ui: &mut Ui, jobs: &Jobs) {
        theme::card(ui).show(ui, |ui| {
            ui.set_width(ui.available_width());
            ui.label(RichText::new("Change passphrase").strong().size(17.0));
            secret_field(
                ui,
                &mut self.current,
                "Current passphrase",
                "current passphrase",
            );
            secret_field(ui, &mut self.new, "New passphrase", "new passphrase");
            secret_field(
                ui,
                &mut self.confirm,
                "Repeat the new passphrase",
                "new passphrase again",
            );
            ui.horizontal(|ui| {
                let ready = !self.current.is_empty() && !self.new.is_empty();
                if ui
                    .add_enabled(
                        ready && !self.passphrase.is_pending(),
                        egui::Button::new("Change passphrase"),
                    )
                    .clicked()
                {
                    if *self.new != *self.confirm {
                        self.passphrase =
                            Async::Failed(UiError::plain("The two new passphrases differ.", ""));
                    } else {
                        let current = SecretString::from(self.current.as_str());
                        let new = SecretString::from(self.new.as_str());
                        self.current = secret_buffer();
                        self.new = secret_buffer();
                        self.confirm = secret_buffer();
                        self.passphrase.submit(
                            jobs,
                            Owner::Settings,
                            Job::ChangePassphrase { current, new },
                        );
                    }
                }
                if let Some(e) = self.passphrase.elapsed() {
                    theme::spinner(ui);
                    ui.label(format!("Deriving keys… {:.1} s", e.as_secs_f32()));
                } else if matches!(self.passphrase, Async::Ready(())) {
                    ui.label(theme::colored(ui, "✔ Passphrase changed", theme::GREEN));
                }
            });
            if let Some(e) = self.passphrase.error() {
                theme::error_box(ui, e);
            }
        });
    }
}

fn clock_ui(ui: &mut Ui, clock: &AppClock, actions: &mut Vec<Action>) {
    theme::card(ui).show(ui, |ui| {
        ui.set_width(ui.available_width());
        ui.label(RichText::new("Simulated clock (training)").strong().size(17.0));
        ui.label(
            "Speed time up or jump ahead to show expiry, rotation completion and scheduled deletion. \
             A badge in the toolbar shows whenever the clock is not real time. The clock never goes back.",
        );
        ui.add_space(4.0);
        ui.label(RichText::new(format::date_time_secs(clock.now())).monospace().strong().size(18.0));
        match clock {
            AppClock::Simulated(_) => {
                let ahead = clock.offset();
                // Always one line, so the buttons below never move under
                // the pointer of a trainer clicking "+30 days" repeatedly.
                if ahead >= Duration::from_secs(1) {
                    ui.label(theme::colored(ui, format!("{} ahead of real time", format::duration(ahead)), theme::AMBER));
                } else {
                    ui.label(theme::weak(ui, "Real time"));
                }
                ui.horizontal_wrapped(|ui| {
                    ui.label("Speed");
                    let speed = clock.speed();
                    for (label, s) in [("1×", 1.0), ("10×", 10.0), ("60×", 60.0), ("1 h/s", 3600.0), ("1 day/s", 86_400.0)] {
                        if ui.selectable_label((speed - s).abs() < 1e-6, label).on_hover_text(format!("{s}× real time")).clicked() {
                            actions.push(Action::Clock(ClockCommand::SetSpeed(s)));
                        }
                    }
                });
            }
            AppClock::Manual(_) => {
                ui.label(theme::weak(ui, "Manual clock (tests): it moves only with the buttons."));
            }
        }
        ui.horizontal_wrapped(|ui| {
            for (label, d) in [
                ("+1 hour", Duration::from_secs(3600)),
                ("+1 day", Duration::from_secs(86_400)),
                ("+30 days", Duration::from_secs(30 * 86_400)),
            ] {
                if ui.button(label).on_hover_text(format!("Move the clock forward by {}", &label[1..])).clicked() {
                    actions.push(Action::Clock(ClockCommand::Advance(d)));
                }
            }
            if ui.button("Real-time speed").on_hover_text("Run at real-time speed again").clicked() {
                actions.push(Action::Clock(ClockCommand::RealTime));
            }
        });
    });
}

fn appearance_ui(
    ui: &mut Ui,
    theme_choice: ThemeChoice,
    presentation: bool,
    actions: &mut Vec<Action>,
) {
    theme::card(ui).show(ui, |ui| {
        ui.set_width(ui.available_width());
        ui.label(RichText::new("Appearance").strong().size(17.0));
        ui.horizontal(|ui| {
            ui.label("Theme");
            for t in ThemeChoice::ALL {
                if ui.selectable_label(t == theme_choice, t.label()).clicked() {
                    actions.push(Action::Appearance { theme: t, presentation });
                }
            }
        });
        let mut p = presentation;
        if ui
            .checkbox(&mut p, "Presentation mode (larger text for projectors)")
            .changed()
        {
            actions.push(Action::Appearance { theme: theme_choice, presentation: p });
        }
        ui.label(theme::weak(ui, "Ctrl + and Ctrl − zoom the whole window too. Remembered on this computer (never secrets)."));
    });
}

fn endpoint_ui(ui: &mut Ui, serve: &ServeHook, actions: &mut Vec<Action>) {
    theme::card(ui).show(ui, |ui| {
        ui.set_width(ui.available_width());
        ui.label(RichText::new("Local AWS endpoint").strong().size(17.0));
        ui.label(
            "The switch in the status bar serves this store through the AWS KMS JSON protocol on \
             loopback, so the real AWS CLI and SDKs can drive it while the console shows every change.",
        );
        let endpoint = serve.serving.as_deref().unwrap_or(&serve.address);
        ui.add(
            egui::Label::new(
                RichText::new(format!("aws --endpoint-url http://{endpoint} kms list-keys")).monospace(),
            )
            .selectable(true),
        );
        match &serve.serving {
            Some(addr) => ui.label(theme::colored(
                ui,
                format!(
                    "Serving on {addr} · {}",
                    super::status_bar::requests_text(serve.requests)
                ),
                theme::GREEN,
            )),
            None => ui.label(theme::weak(ui, "Not serving.")),
        };
        ui.horizontal(|ui| {
            if ui
                .add_enabled(serve.available, egui::Button::new("Copy credentials as shell variables"))
                .on_hover_text(
                    "AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and the region, as `export` lines \
                     (the secret goes to the clipboard, never on screen)",
                )
                .clicked()
            {
                actions.push(Action::CopyServeCredentials);
            }
        });
    });
}

/// The auto-lock setting in words: 0 minutes is "never".
fn auto_lock_text(minutes: f64) -> String {
    match minutes {
        0.0 => "never".to_string(),
        1.0 => "after 1 idle minute".to_string(),
        n => format!("after {n} idle minutes"),
    }
}

/// Reads what [`auto_lock_text`] writes, "never" or a number of minutes.
fn parse_auto_lock(text: &str) -> Option<f64> {
    let t = text.trim().to_ascii_lowercase();
    if t == "never" {
        return Some(0.0);
    }
    let t = t.strip_prefix("after").unwrap_or(&t).trim();
    let t = t
        .strip_suffix("idle minutes")
        .or_else(|| t.strip_suffix("idle minute"))
        .unwrap_or(t);
    t.trim().parse().ok()
}
