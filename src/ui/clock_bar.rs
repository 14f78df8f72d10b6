//! The simulated clock where the trainer stands: above the key view of a
//! training store, the engine's time, its speed, jumps forward, "skip to
//! the next event", what is due next and what time did last. Every line
//! keeps its height whatever it says, so nothing moves under the pointer of
//! a trainer clicking "+1 day" again and again.

use std::time::Duration;

use egui::{RichText, Ui};

use super::action::{Action, ClockCommand};
use super::announce::{self, Announcement};
use super::config::AppClock;
use super::format;
use super::theme;
use super::view::StoreView;
use crate::kms::Timestamp;

/// The jumps offered, in order.
pub const JUMPS: [(&str, Duration); 4] = [
    ("+1 min", Duration::from_secs(60)),
    ("+1 hour", Duration::from_secs(3600)),
    ("+1 day", Duration::from_secs(86_400)),
    ("+30 days", Duration::from_secs(30 * 86_400)),
];

/// The speeds offered.
pub const SPEEDS: [(&str, f64); 4] = [
    ("1×", 1.0),
    ("60×", 60.0),
    ("1 h/s", 3600.0),
    ("1 day/s", 86_400.0),
];

/// Draws the bar (training stores only; the caller checks).
pub fn ui(
    ui: &mut Ui,
    clock: &AppClock,
    view: &StoreView,
    latest: Option<&Announcement>,
    now: Timestamp,
) -> Vec<Action> {
    let mut actions = Vec::new();
    theme::card(ui).show(ui, |ui| {
        ui.set_width(ui.available_width());
        ui.horizontal_wrapped(|ui| {
            ui.label(RichText::new("🕒 Simulated clock").strong());
            ui.label(
                RichText::new(format::date_time_secs(now))
                    .monospace()
                    .strong(),
            )
            .on_hover_text("The engine's time on this training store");
            let ahead = clock.offset();
            if ahead >= Duration::from_secs(1) {
                ui.label(theme::colored(
                    ui,
                    format!("+{}", format::duration(ahead)),
                    theme::AMBER,
                ))
                .on_hover_text("Ahead of real time");
            }
            ui.separator();
            if let AppClock::Simulated(_) = clock {
                let speed = clock.speed();
                for (label, s) in SPEEDS {
                    if ui
                        .selectable_label((speed - s).abs() < 1e-6, label)
                        .on_hover_text(format!("Run the clock at {s}× real time"))
                        .accessible_name(format!("Clock speed {label}"))
                        .clicked()
                    {
                        actions.push(Action::Clock(ClockCommand::SetSpeed(s)));
                    }
                }
                ui.separator();
            }
            for (label, d) in JUMPS {
                if ui
                    .button(label)
                    .on_hover_text(format!("Move the clock forward by {}", format::duration(d)))
                    .clicked()
                {
                    actions.push(Action::Clock(ClockCommand::Advance(d)));
                }
            }
            let next = announce::next_event(view);
            let skip = next.as_ref().map(|(_, at, _)| {
                Duration::from_millis((at.millis() - now.millis()).max(0) as u64 + 1)
            });
            let hover = match &next {
                Some((what, at, _)) => format!("Jump to {} — {what}", format::date_time_secs(*at)),
                None => "Nothing is due on this store".to_string(),
            };
            if ui
                .add_enabled(skip.is_some(), egui::Button::new("⏭ Next event"))
                .on_hover_text(hover.as_str())
                .on_disabled_hover_text(hover.as_str())
                .clicked()
                && let Some(d) = skip
            {
                actions.push(Action::Clock(ClockCommand::Advance(d)));
            }
        });
        // What is next, what happened last: one line each, always there.
        let next = announce::next_event(view);
        line(ui, "Next", |ui| match &next {
            Some((what, at, _)) => {
                ui.label(format!("{what} {}", when(*at, now)));
            }
            None => {
                ui.label(theme::weak(
                    ui,
                    "nothing is due: no expiry, rotation or deletion pending",
                ));
            }
        });
        line(ui, "Last", |ui| match latest {
            Some(a) => {
                ui.label(theme::colored(
                    ui,
                    format!("{} · {}", format::date_time(a.at), a.text),
                    theme::AMBER,
                ))
                .on_hover_text(a.text.as_str());
            }
            None => {
                ui.label(theme::weak(
                    ui,
                    "nothing yet — expiries, completed rotations and deletions show here",
                ));
            }
        });
    });
    actions
}

fn when(at: Timestamp, now: Timestamp) -> String {
    if at <= now {
        "now".to_string()
    } else {
        format!(
            "in {}",
            format::duration(Duration::from_millis((at.millis() - now.millis()) as u64))
        )
    }
}

/// One line that keeps its height: a label, then `add`, cut at the edge.
fn line(ui: &mut Ui, label: &str, add: impl FnOnce(&mut Ui)) {
    ui.horizontal(|ui| {
        ui.label(RichText::new(label).strong());
        ui.style_mut().wrap_mode = Some(egui::TextWrapMode::Truncate);
        add(ui);
    });
}
