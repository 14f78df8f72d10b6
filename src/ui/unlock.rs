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
    Aws,
}

/// The "AWS account" card's fields (remembered between runs: none is a
/// secret).
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct AwsForm {
    /// The profile (empty: the default credential chain).
    pub profile: String,
    /// Regions, comma separated; the first is the home region.
    pub regions: String,
    /// An endpoint URL in place of AWS's (a local KMS).
    pub endpoint_url: String,
    /// The store file that keeps the trail and the cache.
    pub store: String,
}

impl AwsForm {
    /// The connection the fields describe.
    pub fn connection(&self) -> crate::aws::AwsConnection {
        let text = |s: &str| (!s.trim().is_empty()).then(|| s.trim().to_string());
        crate::aws::AwsConnection {
            profile: text(&self.profile),
            regions: self
                .regions
                .split([',', ' '])
                .map(str::trim)
                .filter(|r| !r.is_empty())
                .map(str::to_string)
                .collect(),
            endpoint_url: text(&self.endpoint_url),
        }
    }

    /// Where this account's store file goes by default.
    pub fn default_store(&self) -> String {
        let name = match self.profile.trim() {
            "" => "aws-default.byok".to_string(),
            p => format!(
                "aws-{}.byok",
                p.chars()
                    .map(|c| if c.is_ascii_alphanumeric() || c == '-' {
                        c
                    } else {
                        '_'
                    })
                    .collect::<String>()
            ),
        };
        crate::store::default_path()
            .and_then(|p| p.parent().map(|d| d.join(name.clone())))
            .map_or(name, |p| p.display().to_string())
    }
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
    /// The AWS account card.
    pub aws: AwsForm,
    aws_profiles: Option<Vec<String>>,
    aws_passphrase: Zeroizing<String>,
    aws_confirm: Zeroizing<String>,
    aws_error: Option<UiError>,
    /// Whether the job in flight is the AWS card's (its error shows there).
    pending_was_aws: Option<bool>,
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
            aws: AwsForm::default(),
            aws_profiles: None,
            aws_passphrase: secret_buffer(),
            aws_confirm: secret_buffer(),
            aws_error: None,
            pending_was_aws: None,
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
        if !matches!(waiting, Waiting::Aws) {
            self.pending_was_aws = None;
        }
        self.pending = Some(Pending::submit(jobs, Owner::Unlock, waiting, job));
        self.progress = None;
        self.error = None;
    }

    /// Connects to an AWS store (what the AWS account card submits).
    pub fn connect_aws(
        &mut self,
        jobs: &Jobs,
        path: PathBuf,
        passphrase: SecretString,
        connection: crate::aws::AwsConnection,
        create: bool,
    ) {
        self.pending_was_aws = Some(true);
        self.start(
            jobs,
            Waiting::Aws,
            Job::ConnectAws {
                path,
                passphrase,
                connection,
                create,
            },
        );
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
                if self.pending_was_aws.take().unwrap_or(false) {
                    self.aws_error = Some(e.clone());
                } else {
                    self.error = Some(e.clone());
                }
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
        egui::CentralPanel::default()
            .frame(theme::central_panel_frame(ui))
            .show(ui, |ui| {
            egui::ScrollArea::vertical().show(ui, |ui| {
                ui.vertical_centered(|ui| {
                    ui.add_space(ui.available_height().min(900.0) * 0.06);
                    ui.label(RichText::new("🔐 byok").size(34.0).strong());
                    ui.label(theme::weak(
                        ui,
                        "AWS KMS keys with imported key material — create, import, rotate, expire, delete, audit",
                    ));
                    ui.add_space(18.0);
                    // Two columns where there is room (the local store and
                    // training on the left, an AWS account on the right),
                    // else one below the other.
                    let wide = ui.available_width() >= 1180.0;
                    let column = 560.0_f32.min(ui.available_width());
                    if wide {
                        ui.allocate_ui_with_layout(
                            egui::vec2(column * 2.0 + 24.0, 0.0),
                            Layout::left_to_right(Align::Min),
                            |ui| {
                                ui.allocate_ui_with_layout(
                                    egui::vec2(column, 0.0),
                                    Layout::top_down(Align::Min),
                                    |ui| self.local_cards(ui, jobs, busy, &mut actions),
                                );
                                ui.add_space(24.0);
                                ui.allocate_ui_with_layout(
                                    egui::vec2(column, 0.0),
                                    Layout::top_down(Align::Min),
                                    |ui| {
                                        theme::card(ui).show(ui, |ui| {
                                            ui.set_width(ui.available_width());
                                            self.aws_ui(ui, jobs, busy, &mut actions);
                                        });
                                    },
                                );
                            },
                        );
                    } else {
                        ui.allocate_ui_with_layout(
                            egui::vec2(column, 0.0),
                            Layout::top_down(Align::Min),
                            |ui| {
                                self.local_cards(ui, jobs, busy, &mut actions);
                                ui.add_space(14.0);
                                theme::card(ui).show(ui, |ui| {
                                    ui.set_width(ui.available_width());
                                    self.aws_ui(ui, jobs, busy, &mut actions);
                                });
                            },
                        );
                    }
                });
            });
        });
        actions
    }

    fn local_cards(&mut self, ui: &mut Ui, jobs: &Jobs, busy: bool, actions: &mut Vec<Action>) {
        theme::card(ui).show(ui, |ui| {
            ui.set_width(ui.available_width());
            self.store_ui(ui, jobs, busy, actions);
        });
        ui.add_space(14.0);
        theme::card(ui).show(ui, |ui| {
            ui.set_width(ui.available_width());
            self.demo_ui(ui, jobs, busy);
        });
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
            // While the key is derived the window draws as little as it
            // can: every frame under software rendering takes CPU from the
            // derivation on a small machine (issue 10, item 14). No spinner
            // and no blinking cursor; no frame at all for the first second
            // (the worker's answer wakes the window), then the elapsed time
            // twice a second.
            ui.memory_mut(|m| {
                if let Some(id) = m.focused() {
                    m.surrender_focus(id);
                }
            });
            let elapsed = started.elapsed();
            let quiet = std::time::Duration::from_secs(1);
            ui.ctx().request_repaint_after(if elapsed < quiet {
                quiet - elapsed
            } else {
                std::time::Duration::from_millis(500)
            });
            let what = if matches!(waiting, Waiting::Create) {
                "Creating the store"
            } else {
                "Opening the store"
            };
            ui.horizontal(|ui| {
                ui.label(RichText::new("⏳").size(ui.style().spacing.interact_size.y));
                ui.label(if elapsed < quiet {
                    format!("{what} — deriving the store key (Argon2id)…")
                } else {
                    format!(
                        "{what} — deriving the store key (Argon2id)… {:.1} s",
                        elapsed.as_secs_f32()
                    )
                });
            });
        }
        if let Some(e) = &self.error {
            ui.add_space(8.0);
            theme::error_box(ui, e);
        }
    }

    fn aws_ui(&mut self, ui: &mut Ui, jobs: &Jobs, busy: bool, actions: &mut Vec<Action>) {
        ui.heading("AWS account");
        ui.label(theme::weak(
            ui,
            "Manage the keys of an AWS account with your AWS CLI profile (SSO, credential_process and \
             assume-role work as in the AWS CLI). byok copies no credentials: its own encrypted file \
             keeps the connection, the trail of what it asked AWS, and the key list for a fast start.",
        ));
        ui.add_space(4.0);
        let profiles = self
            .aws_profiles
            .get_or_insert_with(crate::aws::profiles)
            .clone();
        egui::Grid::new("aws-connection")
            .num_columns(2)
            .spacing([12.0, 6.0])
            .show(ui, |ui| {
                let l = ui.label("Profile");
                ui.horizontal(|ui| {
                    ui.add_enabled(
                        !busy,
                        egui::TextEdit::singleline(&mut self.aws.profile)
                            .hint_text("default credential chain")
                            .desired_width(200.0),
                    )
                    .labelled_by(l.id);
                    if !profiles.is_empty() {
                        egui::ComboBox::from_id_salt("aws-profiles")
                            .selected_text("choose…")
                            .show_ui(ui, |ui| {
                                for p in &profiles {
                                    if ui.selectable_label(self.aws.profile == *p, p).clicked() {
                                        self.aws.profile = p.clone();
                                    }
                                }
                            });
                    }
                });
                ui.end_row();
                let l = ui.label("Regions");
                ui.add_enabled(
                    !busy,
                    egui::TextEdit::singleline(&mut self.aws.regions)
                        .hint_text("us-east-1, eu-west-1 (first: home region)")
                        .desired_width(300.0),
                )
                .labelled_by(l.id);
                ui.end_row();
                let l = ui.label("Endpoint URL");
                ui.add_enabled(
                    !busy,
                    egui::TextEdit::singleline(&mut self.aws.endpoint_url)
                        .hint_text("optional: a local KMS such as byok serve")
                        .desired_width(300.0),
                )
                .labelled_by(l.id);
                ui.end_row();
                let l = ui.label("byok file");
                let hint = self.aws.default_store();
                ui.add_enabled(
                    !busy,
                    egui::TextEdit::singleline(&mut self.aws.store)
                        .hint_text(hint)
                        .desired_width(300.0),
                )
                .labelled_by(l.id);
                ui.end_row();
            });
        let store = match self.aws.store.trim() {
            "" => self.aws.default_store(),
            s => s.to_string(),
        };
        let exists = Path::new(&store).is_file();
        let first = secret_field(
            ui,
            &mut self.aws_passphrase,
            "Passphrase of the byok file",
            if exists {
                "passphrase"
            } else {
                "new passphrase"
            },
        );
        let second = (!exists).then(|| {
            secret_field(
                ui,
                &mut self.aws_confirm,
                "Repeat the passphrase of the byok file",
                "new passphrase again",
            )
        });
        if first.changed() || second.as_ref().is_some_and(|r| r.changed()) {
            self.aws_error = None;
        }
        ui.add_space(6.0);
        let label = if exists {
            "Connect"
        } else {
            "Connect and create the byok file"
        };
        if ui
            .add_enabled(
                !busy,
                theme::primary(label).min_size(egui::vec2(140.0, 32.0)),
            )
            .on_hover_text("Nothing is sent to AWS until the key list loads")
            .clicked()
        {
            if self.aws_passphrase.is_empty() {
                self.aws_error = Some(UiError::plain("Type the passphrase of the byok file.", ""));
            } else if !exists && *self.aws_passphrase != *self.aws_confirm {
                self.aws_error = Some(UiError::plain(
                    "The two passphrases differ.",
                    "type the same passphrase twice",
                ));
            } else {
                let passphrase = SecretString::from(self.aws_passphrase.as_str());
                self.aws_passphrase = secret_buffer();
                self.aws_confirm = secret_buffer();
                self.aws_error = None;
                actions.push(Action::RememberAws(self.aws.clone()));
                let connection = self.aws.connection();
                self.connect_aws(jobs, PathBuf::from(&store), passphrase, connection, !exists);
            }
        }
        if let Some(Pending {
            what: Waiting::Aws,
            started,
            ..
        }) = &self.pending
        {
            ui.horizontal(|ui| {
                theme::spinner(ui);
                ui.label(format!(
                    "Opening the byok file and reading the AWS configuration… {:.1} s",
                    started.elapsed().as_secs_f32()
                ));
            });
        }
        if let Some(e) = &self.aws_error {
            ui.add_space(6.0);
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
            // Not animated: an animated bar repaints every frame, and under
            // software rendering that takes CPU from building the demo. The
            // worker's progress reports wake the window; the elapsed time
            // moves twice a second.
            ui.ctx()
                .request_repaint_after(std::time::Duration::from_millis(500));
            ui.add(
                egui::ProgressBar::new(fraction)
                    .show_percentage()
                    .text(format!("{text} ({:.1} s)", started.elapsed().as_secs_f32())),
            );
        }
    }
}
