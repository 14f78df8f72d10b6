//! The unlock screen: open the default store (or another one, by picker,
//! typed path or drop), create a store on first run, or open the training
//! demo. Key derivation runs on the worker, with a visible indicator.

use std::path::{Path, PathBuf};

use egui::{Align, Layout, RichText, Ui};
use secrecy::SecretString;
use zeroize::Zeroizing;

use super::action::{Action, Owner, PickTarget};
use super::theme;
use super::worker::{Job, Jobs, Outcome, Pending, Ticket, UiError};

/// A labelled text field for a secret: masked, its undo history dropped
/// every frame, its buffer zeroized when replaced or dropped.
pub fn secret_field(
    ui: &mut Ui,
    text: &mut Zeroizing<String>,
    name: &str,
    hint: &str,
) -> egui::Response {
    let label = ui.label(name);
    let response = ui.add(
        egui::TextEdit::singleline(&mut **text)
            .password(true)
            .hint_text(hint)
            .desired_width(340.0),
    );
    let response = response.labelled_by(label.id);
    if let Some(mut state) = egui::text_edit::TextEditState::load(ui.ctx(), response.id) {
        state.clear_undoer();
        state.store(ui.ctx(), response.id);
    }
    response
}

/// A fresh, pre-allocated secret buffer (no reallocation leaves copies behind
/// for passphrases of ordinary length).
pub fn secret_buffer() -> Zeroizing<String> {
    Zeroizing::new(String::with_capacity(256))
}

/// What the unlock screen is waiting for.
#[derive(Clone, Debug)]
enum Waiting {
    Open,
    Create,
    Demo,
}

/// The unlock screen's state.
pub struct UnlockScreen {
    path_text: String,
    checked_path: Option<String>,
    path_exists: bool,
    passphrase: Zeroizing<String>,
    confirm: Zeroizing<String>,
    pending: Option<Pending<Waiting>>,
    progress: Option<(f32, String)>,
    error: Option<UiError>,
    message: Option<String>,
}

impl UnlockScreen {
    /// The screen, offering `path`.
    pub fn new(path: Option<&Path>) -> Self {
        UnlockScreen {
            path_text: path.map(|p| p.display().to_string()).unwrap_or_default(),
            checked_path: None,
            path_exists: false,
            passphrase: secret_buffer(),
            confirm: secret_buffer(),
            pending: None,
            progress: None,
            error: None,
            message: None,
        }
    }

    /// Shows why the store was locked.
    pub fn set_message(&mut self, message: impl Into<String>) {
        self.message = Some(message.into());
    }

    /// A path chosen by picker or drop.
    pub fn set_path(&mut self, path: PathBuf) {
        self.path_text = path.display().to_string();
        self.error = None;
    }

    /// Whether a job of this screen is running.
    pub fn is_busy(&self) -> bool {
        self.pending.is_some()
    }

    fn start(&mut self, jobs: &Jobs, waiting: Waiting, job: Job) {
        self.pending = Some(Pending::submit(jobs, Owner::Unlock, waiting, job));
        self.progress = None;
        self.error = None;
    }

    /// A store handed over by the application (no passphrase asked).
    pub fn adopt(&mut self, jobs: &Jobs, vault: crate::store::Vault) {
        self.start(jobs, Waiting::Open, Job::Adopt(Box::new(vault)));
    }

    /// Progress of the demo build.
    pub fn progress(&mut self, ticket: Ticket, fraction: f32, text: String) {
        if self.pending.as_ref().is_some_and(|p| p.ticket == ticket) {
            self.progress = Some((fraction, text));
        }
    }

    /// A job's result. Returns true when a store is now open.
    pub fn finished(&mut self, ticket: Ticket, outcome: &Result<Outcome, UiError>) -> bool {
        if self.pending.as_ref().is_none_or(|p| p.ticket != ticket) {
            return false;
        }
        self.pending = None;
        self.progress = None;
        match outcome {
            Ok(Outcome::Opened { .. }) => {
                self.passphrase = secret_buffer();
                self.confirm = secret_buffer();
                self.error = None;
                self.message = None;
                true
            }
            Ok(_) => false,
            Err(e) => {
                self.error = Some(e.clone());
                false
            }
        }
    }

    fn refresh_exists(&mut self) {
        if self.checked_path.as_deref() != Some(self.path_text.as_str()) {
            // A stat, only when the typed path changes.
            self.path_exists = Path::new(self.path_text.trim()).is_file();
            self.checked_path = Some(self.path_text.clone());
        }
    }

    /// Draws the screen.
    pub fn ui(&mut self, ui: &mut Ui, jobs: &Jobs) -> Vec<Action> {
        let mut actions = Vec::new();
        self.refresh_exists();
        let busy = self.pending.is_some();
        egui::CentralPanel::default().show(ui, |ui| {
            egui::ScrollArea::vertical().show(ui, |ui| {
                ui.vertical_centered(|ui| {
                    ui.add_space(ui.available_height().min(900.0) * 0.06);
                    ui.label(RichText::new("🔐 byok").size(34.0).strong());
                    ui.label(theme::weak(
                        ui,
                        "AWS KMS keys with imported key material — create, import, rotate, expire, delete, audit",
                    ));
                    ui.add_space(18.0);
                    ui.allocate_ui_with_layout(
                        egui::vec2(560.0_f32.min(ui.available_width()), 0.0),
                        Layout::top_down(Align::Min),
                        |ui| {
                            theme::card(ui).show(ui, |ui| {
                                ui.set_width(ui.available_width());
                                self.store_ui(ui, jobs, busy, &mut actions);
                            });
                            ui.add_space(14.0);
                            theme::card(ui).show(ui, |ui| {
                                ui.set_width(ui.available_width());
                                self.demo_ui(ui, jobs, busy);
                            });
                        },
                    );
                });
            });
        });
        actions
    }

    fn store_ui(&mut self, ui: &mut Ui, jobs: &Jobs, busy: bool, actions: &mut Vec<Action>) {
        if let Some(m) = &self.message {
            theme::note_box(ui, theme::BLUE, |ui| {
                ui.label(m.as_str());
            });
            ui.add_space(6.0);
        }
        let creating = !self.path_exists;
        ui.heading(if creating {
            "Create a store"
        } else {
            "Open a store"
        });
        ui.add_space(4.0);
        let path_label = ui.label("Store file");
        ui.horizontal(|ui| {
            let w = ui.available_width() - 110.0;
            ui.add_enabled(
                !busy,
                egui::TextEdit::singleline(&mut self.path_text)
                    .desired_width(w)
                    .hint_text("/path/to/store.byok"),
            )
            .labelled_by(path_label.id);
            if ui
                .add_enabled(!busy, egui::Button::new("Browse…"))
                .on_hover_text("Choose another store file")
                .clicked()
            {
                actions.push(Action::Pick(PickTarget::StoreFile));
            }
        });
        ui.label(theme::weak(
            ui,
            if creating {
                "No store exists at this path yet: choose a passphrase to create it."
            } else {
                "The store is encrypted with a key derived from its passphrase (Argon2id)."
            },
        ));
        ui.add_space(8.0);
        let mut submit = false;
        let mut edited = false;
        let enter_pressed = ui.input(|i| i.key_pressed(egui::Key::Enter));
        let enter = |r: &egui::Response| r.lost_focus() && enter_pressed;
        if creating {
            let first = secret_field(ui, &mut self.passphrase, "New passphrase", "passphrase");
            let second = secret_field(
                ui,
                &mut self.confirm,
                "Repeat the passphrase",
                "passphrase again",
            );
            edited |= first.changed() || second.changed();
            // Enter in the first field goes on to the second, as in any form.
            if enter(&first) {
                second.request_focus();
            }
            submit |= enter(&second);
            if !busy && ui.memory(|m| m.focused().is_none()) {
                first.request_focus();
            }
        } else {
            let r = secret_field(ui, &mut self.passphrase, "Passphrase", "passphrase");
            edited |= r.changed();
            submit |= enter(&r);
            // The passphrase is what this screen asks for: typing goes there
            // unless another field has the focus.
            if !busy && ui.memory(|m| m.focused().is_none()) {
                r.request_focus();
            }
        }
        // A message about what was typed before goes once the user types again.
        if edited && self.pending.is_none() {
            self.error = None;
        }
        ui.add_space(8.0);
        let label = if creating {
            "Create store"
        } else {
            "Open store"
        };
        let clicked = ui
            .add_enabled(
                !busy,
                theme::primary(label).min_size(egui::vec2(140.0, 32.0)),
            )
            .clicked();
        if (clicked || submit) && !busy {
            self.error = None;
            let path = PathBuf::from(self.path_text.trim());
            if self.path_text.trim().is_empty() {
                self.error = Some(UiError::plain("Type or choose a store file.", ""));
            } else if self.passphrase.is_empty() {
                self.error = Some(UiError::plain("Type the passphrase.", ""));
            } else if creating && *self.passphrase != *self.confirm {
                self.error = Some(UiError::plain(
                    "The two passphrases differ.",
                    "type the same passphrase twice",
                ));
            } else {
                let passphrase = SecretString::from(self.passphrase.as_str());
                self.passphrase = secret_buffer();
                self.confirm = secret_buffer();
                actions.push(Action::RememberStore(path.clone()));
                if creating {
                    self.start(jobs, Waiting::Create, Job::CreateStore { path, passphrase });
                } else {
                    self.start(jobs, Waiting::Open, Job::OpenStore { path, passphrase });
                }
            }
        }
        if let Some(Pending {
            what: waiting,
            started,
            ..
        }) = &self.pending
            && !matches!(waiting, Waiting::Demo)
        {
            ui.add_space(8.0);
            ui.horizontal(|ui| {
                ui.spinner();
                ui.label(format!(
                    "{} — deriving the store key (Argon2id)… {:.1} s",
                    if matches!(waiting, Waiting::Create) {
                        "Creating the store"
                    } else {
                        "Opening the store"
                    },
                    started.elapsed().as_secs_f32()
                ));
            });
        }
        if let Some(e) = &self.error {
            ui.add_space(8.0);
            theme::error_box(ui, e);
        }
    }

    fn demo_ui(&mut self, ui: &mut Ui, jobs: &Jobs, busy: bool) {
        ui.heading("Training");
        ui.label(
            "A temporary store with keys in every state: pending import, a material waiting for rotation, \
             a rotation in progress, an expired material, a deleted material, a key pending deletion, \
             and a key rotated eight times. Its history is real: built by running the engine at past times.",
        );
        ui.add_space(6.0);
        if ui
            .add_enabled(
                !busy,
                theme::primary("🎓 Open training demo").min_size(egui::vec2(200.0, 32.0)),
            )
            .on_hover_text("Creates a throwaway store in a temporary folder; it is deleted when you lock or quit.")
            .clicked()
        {
            self.start(jobs, Waiting::Demo, Job::OpenDemo);
        }
        if let Some(Pending {
            what: Waiting::Demo,
            started,
            ..
        }) = &self.pending
        {
            ui.add_space(6.0);
            let (fraction, text) = self
                .progress
                .clone()
                .unwrap_or((0.0, "Starting".to_string()));
            ui.add(
                egui::ProgressBar::new(fraction)
                    .show_percentage()
                    .animate(true)
                    .text(format!("{text} ({:.1} s)", started.elapsed().as_secs_f32())),
            );
        }
    }
}
