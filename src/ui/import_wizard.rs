//! The import wizard (a modal with Back/Next): (a) wrapping algorithm and key
//! spec → GetParametersForImport on the worker, countdown to
//! ParametersValidTo, PublicKey.bin / ImportToken.bin, the exact OpenSSL
//! commands; (b) the wrapped material — a file (picker, typed path, drop), a
//! plaintext file wrapped here, or material generated and wrapped here for
//! training — with its key check value and KeyMaterialId; (c) import type,
//! description, expiration; (d) the result and what to do next. Every
//! engine error is shown in the step that caused it.

use std::path::PathBuf;

use egui::{RichText, Ui};
use jiff::civil::Date;

use super::action::{Action, Owner, PickTarget};
use super::format;
use super::theme;
use super::view::{KeyRef, KeyView, StoreView};
use super::worker::{
    ImportParameters, ImportRequest, Job, Jobs, MaterialSource, Outcome, Pending, PreparedMaterial,
    Ticket, UiError,
};
use crate::kms::{
    ErrorKind, ExpirationModel, ImportType, KeyMaterialId, KeyMaterialState, KeySpec, KeyState,
    SecretVec, Timestamp, WrappingAlgorithm, WrappingKeySpec,
};
use crate::workspace::ImportInFlight;

/// The wizard's steps.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Step {
    /// Wrapping algorithm, key spec, parameters.
    Parameters = 0,
    /// The wrapped material.
    Material = 1,
    /// Import type, description, expiration.
    Options = 2,
    /// What happened.
    Result = 3,
}

impl Step {
    fn title(self) -> &'static str {
        match self {
            Step::Parameters => "1  Wrapping key",
            Step::Material => "2  Key material",
            Step::Options => "3  Import options",
            Step::Result => "4  Result",
        }
    }
}

/// Where the wrapped material comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// EncryptedKeyMaterial.bin made with OpenSSL or an HSM.
    WrappedFile,
    /// A plaintext KeyMaterial.bin, wrapped here.
    WrapPlaintext,
    /// Random bytes of a length the key's spec takes, generated and
    /// wrapped here (training).
    Generate,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Work {
    Parameters,
    Prepare,
    ReadWrapped,
    Save(&'static str),
    Import,
}

impl Work {
    fn step(self) -> Step {
        match self {
            Work::Parameters => Step::Parameters,
            Work::Prepare | Work::ReadWrapped => Step::Material,
            Work::Save(_) => Step::Material,
            Work::Import => Step::Options,
        }
    }

    fn text(self) -> &'static str {
        match self {
            Work::Parameters => "GetParametersForImport: generating the RSA wrapping key pair",
            Work::Prepare => "Wrapping the key material",
            Work::ReadWrapped => "Reading the wrapped key material",
            Work::Save(_) => "Saving",
            Work::Import => "ImportKeyMaterial: unwrapping and importing",
        }
    }
}

/// The wizard's state.
pub struct ImportWizard {
    /// The key.
    pub key: KeyRef,
    /// The key's `KeySpec`: the material lengths it takes.
    key_spec: KeySpec,
    reimport: Option<KeyMaterialId>,
    /// The step shown.
    pub step: Step,
    algorithm: WrappingAlgorithm,
    spec: WrappingKeySpec,
    params: Option<ImportParameters>,
    params_spec: Option<(WrappingAlgorithm, WrappingKeySpec)>,
    /// When the parameters resumed from the store were downloaded.
    resumed: Option<Timestamp>,
    /// Folder typed for saving PublicKey.bin and ImportToken.bin.
    pub save_dir: String,
    saved: Vec<String>,
    /// Where the material comes from.
    pub source: Source,
    /// Typed path of EncryptedKeyMaterial.bin.
    pub wrapped_path: String,
    /// Typed path of a plaintext KeyMaterial.bin.
    pub plaintext_path: String,
    loaded: Option<(String, Vec<u8>)>,
    prepared: Option<Box<PreparedMaterial>>,
    /// Typed path for the plaintext copy.
    pub copy_path: String,
    copy_saved: Option<PathBuf>,
    /// The user chose to import generated material without saving a copy.
    no_copy_ok: bool,
    import_type: ImportType,
    description: String,
    expires: bool,
    expiry: Date,
    /// ValidTo's time of day (UTC), typed as HH:MM.
    pub expiry_time: String,
    result: Option<(KeyRef, Option<KeyMaterialId>, ImportType)>,
    errors: [Option<UiError>; 4],
    /// Jobs asked for while drawing, submitted after.
    outbox: Vec<(Option<Work>, Job)>,
    pending: Option<Pending<Work>>,
    /// Jobs that follow the pending one (the second file of "Save both").
    followups: Vec<Ticket>,
    advance_after_read: bool,
    /// Set when the wizard should close.
    pub closed: bool,
}

impl ImportWizard {
    /// A wizard for `key`; `reimport` names the material to import again.
    ///
    /// `resume`: import parameters of this key kept in the store from an
    /// earlier step of the ceremony (a paused ceremony resumes with them).
    pub fn new(
        key: &KeyView,
        reimport: Option<KeyMaterialId>,
        now: Timestamp,
        resume: Option<&ImportInFlight>,
    ) -> Self {
        let today = now.to_datetime().date_naive();
        let default_expiry = today + chrono::Days::new(180);
        use chrono::Datelike;
        let expiry = Date::new(
            default_expiry.year() as i16,
            default_expiry.month() as i8,
            default_expiry.day() as i8,
        )
        .unwrap_or_default();
        // Where the engine refuses new material but takes a re-import (a
        // multi-Region replica takes only its primary's material, as
        // EXISTING_KEY_MATERIAL), the wizard starts on the import of the
        // first material whose bytes the key lacks: one it misses, else
        // one the primary announced for rotation.
        let reimport = reimport.or_else(|| {
            if key.verdicts.import_new.is_err() && key.verdicts.reimport.is_ok() {
                key.missing_materials()
                    .chain(
                        key.materials
                            .iter()
                            .filter(|m| m.import_state == crate::kms::ImportState::PendingImport),
                    )
                    .next()
                    .map(|m| m.id)
            } else {
                None
            }
        });
        let import_type = if reimport.is_some() {
            ImportType::ExistingKeyMaterial
        } else {
            ImportType::NewKeyMaterial
        };
        let description = reimport
            .and_then(|id| key.material(id))
            .and_then(|m| m.description.clone())
            .unwrap_or_default();
        let resume = resume
            .filter(|r| r.key_arn == key.id.arn() && r.parameters_valid_to > now)
            .and_then(|r| {
                let a = r.wrapping_algorithm.parse::<WrappingAlgorithm>().ok()?;
                let s = r.wrapping_key_spec.parse::<WrappingKeySpec>().ok()?;
                Some((a, s, r))
            });
        let (algorithm, spec) = resume.as_ref().map_or(
            (
                WrappingAlgorithm::RsaAesKeyWrapSha256,
                WrappingKeySpec::Rsa4096,
            ),
            |(a, s, _)| (*a, *s),
        );
        let params = resume.as_ref().map(|(_, _, r)| ImportParameters {
            key: key.id.clone(),
            public_key: r.public_key.bytes().to_vec(),
            import_token: r.import_token.bytes().to_vec(),
            parameters_valid_to: r.parameters_valid_to,
        });
        ImportWizard {
            key: key.id.clone(),
            key_spec: key.key_spec.unwrap_or(KeySpec::SymmetricDefault),
            reimport,
            step: Step::Parameters,
            algorithm,
            spec,
            resumed: resume.as_ref().map(|(_, _, r)| r.downloaded),
            params_spec: params.as_ref().map(|_| (algorithm, spec)),
            params,
            save_dir: String::new(),
            saved: Vec::new(),
            source: Source::WrappedFile,
            wrapped_path: String::new(),
            plaintext_path: String::new(),
            loaded: None,
            prepared: None,
            copy_path: String::new(),
            copy_saved: None,
            no_copy_ok: false,
            import_type,
            description,
            expires: false,
            expiry,
            expiry_time: "00:00".to_string(),
            result: None,
            errors: Default::default(),
            outbox: Vec::new(),
            pending: None,
            followups: Vec::new(),
            advance_after_read: false,
            closed: false,
        }
    }

    /// Asks for `job`, submitted when the frame's drawing is done.
    fn run(&mut self, work: Work, job: Job) {
        self.errors[work.step() as usize] = None;
        self.outbox.push((Some(work), job));
    }

    /// Submits what was asked for.
    pub fn flush(&mut self, jobs: &Jobs) {
        for (work, job) in self.outbox.drain(..) {
            match work {
                Some(w) => self.pending = Some(Pending::submit(jobs, Owner::Wizard, w, job)),
                None => self.followups.push(jobs.submit(Owner::Wizard, job)),
            }
        }
    }

    /// A file was dropped on the window.
    pub fn dropped(&mut self, path: PathBuf) {
        if self.step != Step::Material {
            return;
        }
        let text = path.display().to_string();
        match self.source {
            Source::WrapPlaintext => self.plaintext_path = text,
            _ => {
                self.source = Source::WrappedFile;
                self.wrapped_path = text;
            }
        }
    }

    /// A picker answered.
    pub fn picked(&mut self, target: PickTarget, path: PathBuf, jobs: &Jobs) {
        match target {
            PickTarget::EncryptedMaterial => {
                self.source = Source::WrappedFile;
                self.wrapped_path = path.display().to_string();
            }
            PickTarget::PlaintextMaterial => {
                self.source = Source::WrapPlaintext;
                self.plaintext_path = path.display().to_string();
            }
            PickTarget::SavePublicKey | PickTarget::SaveImportToken => {
                if let Some(p) = &self.params {
                    let (what, bytes) = if target == PickTarget::SavePublicKey {
                        ("PublicKey.bin", p.public_key.clone())
                    } else {
                        ("ImportToken.bin", p.import_token.clone())
                    };
                    self.run(
                        Work::Save(what),
                        Job::WriteFile {
                            path,
                            bytes: SecretVec::new(bytes),
                        },
                    );
                }
            }
            PickTarget::SavePlaintextCopy => {
                self.copy_path = path.display().to_string();
                self.save_copy();
            }
            _ => {}
        }
        self.flush(jobs);
    }

    fn save_copy(&mut self) {
        let Some(bytes) = self
            .prepared
            .as_ref()
            .map(|p| SecretVec::new(p.plaintext.expose().to_vec()))
        else {
            return;
        };
        let path = PathBuf::from(self.copy_path.trim());
        if self.copy_path.trim().is_empty() {
            return;
        }
        self.run(Work::Save("plaintext copy"), Job::WriteFile { path, bytes });
    }

    /// A job's result.
    pub fn finished(
        &mut self,
        ticket: Ticket,
        outcome: Result<Outcome, UiError>,
    ) -> Option<Result<Outcome, UiError>> {
        let Some(work) = self
            .pending
            .as_ref()
            .filter(|p| p.ticket == ticket)
            .map(|p| p.what)
        else {
            // A follow-up job (the second file of "Save both to folder").
            self.followups.retain(|t| *t != ticket);
            match outcome {
                Ok(Outcome::FileWritten(path)) => {
                    let name = path
                        .file_name()
                        .map(|n| n.to_string_lossy().to_string())
                        .unwrap_or_default();
                    self.saved
                        .push(format!("{name} saved to {}", path.display()));
                    return None;
                }
                Err(e) => {
                    self.errors[self.step as usize] = Some(e);
                    return None;
                }
                other => return Some(other),
            }
        };
        self.pending = None;
        let step = work.step() as usize;
        match outcome {
            Err(mut e) => {
                // The engine (like AWS) refuses material of a length the
                // key spec does not take as it refuses an unwrapping
                // failure: when the bytes wrapped here are the cause, say so.
                if work == Work::Import
                    && e.kind == Some(ErrorKind::InvalidCiphertext)
                    && self.source != Source::WrappedFile
                    && let Some(p) = &self.prepared
                    && let Some(why) = self.length_problem(p.plaintext.len())
                {
                    e.plain = format!("{why} {}", e.plain);
                }
                let target = match (work, e.kind) {
                    (
                        Work::Import,
                        Some(ErrorKind::InvalidImportToken | ErrorKind::ExpiredImportToken),
                    ) => Step::Parameters,
                    (
                        Work::Import,
                        Some(ErrorKind::InvalidCiphertext | ErrorKind::IncorrectKeyMaterial),
                    ) => Step::Material,
                    (w, _) => w.step(),
                };
                self.errors[target as usize] = Some(e);
                self.step = self.step.min(target);
                self.advance_after_read = false;
            }
            Ok(Outcome::Parameters(p)) => {
                self.resumed = None;
                self.params_spec = Some((self.algorithm, self.spec));
                self.params = Some(p);
                self.errors[step] = None;
                // Material wrapped under an earlier key pair no longer fits.
                self.prepared = None;
            }
            Ok(Outcome::Prepared(p)) => {
                self.prepared = Some(p);
                self.copy_saved = None;
                self.no_copy_ok = false;
            }
            Ok(Outcome::FileRead { path, bytes }) => {
                self.loaded = Some((path.display().to_string(), bytes.expose().to_vec()));
                if self.advance_after_read {
                    self.advance_after_read = false;
                    self.step = Step::Options;
                }
            }
            Ok(Outcome::FileWritten(path)) => {
                if let Work::Save(what) = work {
                    if what == "plaintext copy" {
                        self.copy_saved = Some(path.clone());
                    }
                    self.saved
                        .push(format!("{what} saved to {}", path.display()));
                }
            }
            Ok(Outcome::Imported {
                key,
                material,
                import_type,
            }) => {
                self.result = Some((key, material, import_type));
                self.step = Step::Result;
                // The plaintext is not needed any more.
                self.prepared = None;
            }
            Ok(other) => return Some(Ok(other)),
        }
        None
    }

    /// The lengths the key's spec takes, in words: "32 bytes",
    /// "32 to 64 bytes".
    fn lengths_text(&self) -> String {
        format::material_lengths(self.key_spec)
    }

    /// Why material of `len` bytes does not fit the key, if it does not.
    fn length_problem(&self, len: usize) -> Option<String> {
        (!self.key_spec.material_lengths().contains(&len)).then(|| {
            format!(
                "This material is {len} bytes; KeySpec {} takes {}.",
                self.key_spec,
                self.lengths_text()
            )
        })
    }

    fn busy(&self) -> bool {
        self.pending.is_some() || !self.outbox.is_empty()
    }

    /// The wrapped bytes that will be imported.
    fn wrapped(&self) -> Option<&[u8]> {
        match self.source {
            Source::WrappedFile => self
                .loaded
                .as_ref()
                .filter(|(p, _)| *p == self.wrapped_path.trim())
                .map(|(_, b)| b.as_slice()),
            Source::WrapPlaintext | Source::Generate => self
                .prepared
                .as_ref()
                .filter(|p| (self.source == Source::Generate) == p.generated)
                .map(|p| p.wrapped.as_slice()),
        }
    }

    /// Draws the wizard as a modal.
    pub fn ui(
        &mut self,
        ctx: &egui::Context,
        view: &StoreView,
        now: Timestamp,
        jobs: &Jobs,
    ) -> Vec<Action> {
        let actions = self.draw(ctx, view, now);
        self.flush(jobs);
        actions
    }

    fn draw(&mut self, ctx: &egui::Context, view: &StoreView, now: Timestamp) -> Vec<Action> {
        let mut actions = Vec::new();
        let Some(key) = view.key(&self.key) else {
            self.closed = true;
            return actions;
        };
        let key = key.clone();
        let modal = egui::Modal::new(egui::Id::unique("import-wizard")).show(ctx, |ui| {
            ui.set_width(780.0_f32.min(ctx.content_rect().width() - 60.0));
            ui.horizontal(|ui| {
                let title = if self.reimport.is_some() {
                    "Re-import key material"
                } else {
                    "Import key material"
                };
                ui.label(RichText::new(title).heading().strong());
                ui.label(theme::weak(
                    ui,
                    format!("into {} ({}…)", key.label, key.short_id),
                ));
            });
            ui.add_space(4.0);
            ui.horizontal(|ui| {
                for s in [
                    Step::Parameters,
                    Step::Material,
                    Step::Options,
                    Step::Result,
                ] {
                    let style = if s == self.step {
                        theme::BadgeStyle::on(theme::BLUE)
                    } else if s < self.step {
                        theme::BadgeStyle::on(theme::GREEN)
                    } else {
                        theme::BadgeStyle::on(theme::SLATE.gamma_multiply(0.6))
                    };
                    theme::badge(ui, s.title(), style);
                    if s != Step::Result {
                        ui.label(theme::weak(ui, "›"));
                    }
                }
            });
            ui.separator();
            // A dialog of constant size: Back and Next stay where they are.
            let height = (ctx.content_rect().height() - 220.0).clamp(240.0, 640.0);
            egui::ScrollArea::vertical()
                .max_height(height)
                .min_scrolled_height(height)
                .auto_shrink([false, false])
                .show(ui, |ui| {
                    // Room for the scroll bar: nothing runs under it.
                    ui.set_max_width(ui.available_width() - 18.0);
                    match self.step {
                        Step::Parameters => self.parameters_ui(ui, &key, now, &mut actions),
                        Step::Material => self.material_ui(ui, &key, &mut actions),
                        Step::Options => self.options_ui(ui, &key, now, &mut actions),
                        Step::Result => self.result_ui(ui, view),
                    }
                    if let Some(e) = &self.errors[self.step as usize] {
                        ui.add_space(6.0);
                        theme::error_box(ui, e);
                    }
                    if let Some(Pending {
                        what: work,
                        started,
                        ..
                    }) = &self.pending
                        && work.step() == self.step
                    {
                        ui.add_space(6.0);
                        ui.horizontal(|ui| {
                            theme::spinner(ui);
                            ui.label(format!(
                                "{}… {:.1} s",
                                work.text(),
                                started.elapsed().as_secs_f32()
                            ));
                        });
                    }
                });
            ui.separator();
            self.buttons_ui(ui, &key, now);
        });
        // Escape is Cancel (or Close on the last step): not while a job runs.
        if theme::escape_closes(&modal) && (self.step == Step::Result || !self.busy()) {
            self.closed = true;
        }
        actions
    }

    fn parameters_ui(
        &mut self,
        ui: &mut Ui,
        key: &KeyView,
        now: Timestamp,
        actions: &mut Vec<Action>,
    ) {
        let busy = self.busy();
        ui.label(RichText::new("Wrapping algorithm").strong());
        for (alg, note) in [
            (
                WrappingAlgorithm::RsaAesKeyWrapSha256,
                "Recommended. RSA-OAEP-SHA-256 wraps a fresh AES key, which wraps the material (RFC 5649).",
            ),
            (
                WrappingAlgorithm::RsaesOaepSha256,
                "Recommended. RSA-OAEP with SHA-256 wraps the material directly.",
            ),
            (
                WrappingAlgorithm::RsaAesKeyWrapSha1,
                "Weak hash: SHA-1. Only for HSMs that cannot do SHA-256.",
            ),
            (
                WrappingAlgorithm::RsaesOaepSha1,
                "Weak hash: SHA-1. Only for HSMs that cannot do SHA-256.",
            ),
        ] {
            ui.horizontal_wrapped(|ui| {
                ui.add_enabled_ui(!busy, |ui| {
                    ui.radio_value(&mut self.algorithm, alg, alg.as_str())
                });
                let weak = note.starts_with("Weak");
                ui.label(if weak {
                    theme::colored(ui, note, theme::AMBER)
                } else {
                    theme::weak(ui, note)
                });
            });
        }
        ui.horizontal_wrapped(|ui| {
            ui.add_enabled(false, egui::RadioButton::new(false, "RSAES_PKCS1_V1_5"));
            ui.label(theme::colored(
                ui,
                "Refused: AWS stopped accepting PKCS#1 v1.5 in October 2023.",
                theme::RED,
            ));
        });
        ui.add_space(6.0);
        ui.label(RichText::new("Wrapping key spec").strong());
        ui.horizontal(|ui| {
            ui.add_enabled_ui(!busy, |ui| {
                ui.radio_value(
                    &mut self.spec,
                    WrappingKeySpec::Rsa4096,
                    "RSA_4096 (recommended)",
                );
                ui.radio_value(&mut self.spec, WrappingKeySpec::Rsa3072, "RSA_3072");
                ui.radio_value(
                    &mut self.spec,
                    WrappingKeySpec::Rsa2048,
                    "RSA_2048 (weakest)",
                );
            });
        });
        ui.add_space(8.0);
        let stale = self.params.is_some() && self.params_spec != Some((self.algorithm, self.spec));
        let label = if self.params.is_none() {
            "Get import parameters"
        } else {
            "Get new import parameters"
        };
        if ui
            .add_enabled(!busy, theme::primary(label))
            .on_hover_text("GetParametersForImport: a fresh RSA key pair and an import token valid for 24 hours")
            .clicked()
        {
            self.run(
                Work::Parameters,
                Job::GetParameters { key: key.id.clone(), algorithm: self.algorithm, spec: self.spec },
            );
        }
        if stale {
            theme::note_box(ui, theme::AMBER, |ui| {
                ui.label("You changed the algorithm or key spec: get new import parameters before wrapping.");
            });
        }
        if let Some(p) = self.params.clone() {
            ui.add_space(8.0);
            let left = p.parameters_valid_to.since(now);
            theme::card(ui).show(ui, |ui| {
                ui.set_width(ui.available_width());
                ui.horizontal_wrapped(|ui| {
                    ui.label(RichText::new("Import parameters ready").strong());
                    if let Some((a, s)) = self.params_spec {
                        ui.label(theme::weak(ui, format!("{a} · {s}")));
                    }
                });
                if let Some(at) = self.resumed {
                    ui.label(format!(
                        "Kept from earlier in this ceremony: downloaded {}. Wrap with the PublicKey.bin of that download.",
                        format::date_time(at)
                    ));
                }
                if p.parameters_valid_to > now {
                    ui.label(
                        RichText::new(format!(
                            "ParametersValidTo {} — {} left",
                            format::date_time(p.parameters_valid_to),
                            format::clock_duration(left)
                        ))
                        .strong(),
                    );
                    ui.ctx()
                        .request_repaint_after(std::time::Duration::from_millis(500));
                } else {
                    ui.label(
                        theme::colored(
                            ui,
                            "These parameters have expired: get new ones.",
                            theme::RED,
                        )
                        .strong(),
                    );
                }
                ui.label(theme::weak(
                    ui,
                    format!(
                        "PublicKey {} bytes (DER SubjectPublicKeyInfo) · ImportToken {} bytes",
                        p.public_key.len(),
                        p.import_token.len()
                    ),
                ));
                ui.horizontal_wrapped(|ui| {
                    if ui
                        .add_enabled(!busy, egui::Button::new("Save PublicKey.bin…"))
                        .clicked()
                    {
                        actions.push(Action::Pick(PickTarget::SavePublicKey));
                    }
                    if ui
                        .add_enabled(!busy, egui::Button::new("Save ImportToken.bin…"))
                        .clicked()
                    {
                        actions.push(Action::Pick(PickTarget::SaveImportToken));
                    }
                });
                ui.horizontal(|ui| {
                    ui.add(
                        egui::TextEdit::singleline(&mut self.save_dir)
                            .hint_text("or type a folder")
                            .desired_width(360.0),
                    )
                    .accessible_name("Folder for PublicKey.bin and ImportToken.bin");
                    if ui
                        .add_enabled(
                            !busy && !self.save_dir.trim().is_empty(),
                            egui::Button::new("Save both to folder"),
                        )
                        .clicked()
                    {
                        let dir = PathBuf::from(self.save_dir.trim());
                        self.run(
                            Work::Save("PublicKey.bin"),
                            Job::WriteFile {
                                path: dir.join("PublicKey.bin"),
                                bytes: SecretVec::new(p.public_key.clone()),
                            },
                        );
                        // The second file follows the first on the same worker.
                        self.outbox.push((
                            None,
                            Job::WriteFile {
                                path: dir.join("ImportToken.bin"),
                                bytes: SecretVec::new(p.import_token.clone()),
                            },
                        ));
                    }
                });
                for s in &self.saved {
                    ui.label(theme::colored(ui, format!("✔ {s}"), theme::GREEN));
                }
            });
            ui.add_space(6.0);
            let algorithm = self.params_spec.map_or(self.algorithm, |(a, _)| a);
            openssl_ui(
                ui,
                algorithm,
                self.key_spec.generated_material_len(),
                actions,
            );
        }
    }

    fn material_ui(&mut self, ui: &mut Ui, key: &KeyView, actions: &mut Vec<Action>) {
        let busy = self.busy();
        ui.label(RichText::new("Where is the wrapped key material?").strong());
        ui.label(theme::weak(
            ui,
            format!(
                "KeySpec {} takes key material of {} (AWS KMS Developer Guide, \"Requirements for imported key material\").",
                self.key_spec,
                self.lengths_text()
            ),
        ));
        ui.radio_value(
            &mut self.source,
            Source::WrappedFile,
            "I wrapped it myself: EncryptedKeyMaterial.bin",
        );
        ui.radio_value(
            &mut self.source,
            Source::WrapPlaintext,
            "Wrap a plaintext KeyMaterial.bin here",
        );
        // An asymmetric key takes a private key made elsewhere (a DER
        // PKCS #8 file); random bytes are no such key.
        let asymmetric = self.key_spec.is_asymmetric();
        if asymmetric && self.source == Source::Generate {
            self.source = Source::WrapPlaintext;
        }
        ui.add_enabled_ui(self.reimport.is_none() && !asymmetric, |ui| {
            ui.radio_value(
                &mut self.source,
                Source::Generate,
                "Generate and wrap here (training)",
            )
            .on_disabled_hover_text(if asymmetric {
                "An asymmetric key imports a private key: a DER PKCS #8 file (openssl pkcs8 -topk8 -outform der -nocrypt)"
            } else {
                "A re-import needs the same bytes as before, not new ones"
            });
        });
        ui.add_space(8.0);
        match self.source {
            Source::WrappedFile => {
                ui.horizontal(|ui| {
                    ui.add(
                        egui::TextEdit::singleline(&mut self.wrapped_path)
                            .hint_text("/path/to/EncryptedKeyMaterial.bin — or drop the file on the window")
                            .desired_width(520.0),
                    )
                    .accessible_name("EncryptedKeyMaterial.bin path");
                    if ui.add_enabled(!busy, egui::Button::new("Browse…")).clicked() {
                        actions.push(Action::Pick(PickTarget::EncryptedMaterial));
                    }
                });
                if let Some((p, b)) = &self.loaded
                    && *p == self.wrapped_path.trim()
                {
                    ui.label(theme::colored(
                        ui,
                        format!("✔ {} bytes read from {p}", b.len()),
                        theme::GREEN,
                    ));
                }
                ui.label(theme::weak(
                    ui,
                    "Wrapped under the public key of step 1 with the algorithm chosen there. byok cannot show a key \
                     check value for it: the plaintext never reaches byok.",
                ));
            }
            Source::WrapPlaintext => {
                let hint = format!("/path/to/KeyMaterial.bin ({})", self.lengths_text());
                ui.horizontal(|ui| {
                    ui.add(
                        egui::TextEdit::singleline(&mut self.plaintext_path)
                            .hint_text(hint)
                            .desired_width(520.0),
                    )
                    .accessible_name("Plaintext KeyMaterial.bin path");
                    if ui
                        .add_enabled(!busy, egui::Button::new("Browse…"))
                        .clicked()
                    {
                        actions.push(Action::Pick(PickTarget::PlaintextMaterial));
                    }
                });
                if ui
                    .add_enabled(
                        !busy && !self.plaintext_path.trim().is_empty(),
                        egui::Button::new("Wrap this material"),
                    )
                    .clicked()
                    && let Some(p) = &self.params
                {
                    let job = Job::PrepareMaterial {
                        key: key.id.clone(),
                        public_key: p.public_key.clone(),
                        algorithm: self.params_spec.map_or(self.algorithm, |(a, _)| a),
                        source: MaterialSource::PlaintextFile(PathBuf::from(
                            self.plaintext_path.trim(),
                        )),
                    };
                    self.run(Work::Prepare, job);
                }
            }
            Source::Generate => {
                let len = self.key_spec.generated_material_len();
                if ui
                    .add_enabled(
                        !busy,
                        theme::primary(&format!("Generate {len} random bytes and wrap them")),
                    )
                    .clicked()
                    && let Some(p) = &self.params
                {
                    let job = Job::PrepareMaterial {
                        key: key.id.clone(),
                        public_key: p.public_key.clone(),
                        algorithm: self.params_spec.map_or(self.algorithm, |(a, _)| a),
                        source: MaterialSource::Generate { len },
                    };
                    self.run(Work::Prepare, job);
                }
            }
        }
        let facts = self
            .prepared
            .as_ref()
            .filter(|p| {
                self.source != Source::WrappedFile
                    && (self.source == Source::Generate) == p.generated
            })
            .map(|p| {
                (
                    p.kcv.clone(),
                    p.material_id,
                    p.wrapped.len(),
                    p.generated,
                    p.plaintext.len(),
                )
            });
        if let Some((kcv, material_id, wrapped_len, generated, plain_len)) = facts {
            let length_problem = self.length_problem(plain_len);
            ui.add_space(8.0);
            theme::card(ui).show(ui, |ui| {
                ui.set_width(ui.available_width());
                ui.label(RichText::new("Plaintext material at hand").strong());
                egui::Grid::new("material-facts").num_columns(2).spacing([16.0, 6.0]).show(ui, |ui| {
                    ui.label("Key check value");
                    match &kcv {
                        Some(kcv) => {
                            ui.label(RichText::new(kcv.as_str()).monospace().strong().size(18.0))
                                .on_hover_text("AES-256-ECB of sixteen zero bytes, first three bytes: compare with your HSM");
                        }
                        None => {
                            ui.label(theme::weak(ui, "none: the AES key check value is defined for 32-byte material"));
                        }
                    }
                    ui.end_row();
                    ui.label("Length");
                    ui.label(format!("{plain_len} bytes ({} takes {})", self.key_spec, self.lengths_text()));
                    ui.end_row();
                    ui.label("KeyMaterialId in this key");
                    match material_id {
                        Some(id) => {
                            ui.add(egui::Label::new(RichText::new(id.to_string()).monospace()).wrap().selectable(true));
                        }
                        None => {
                            ui.label(theme::weak(ui, "assigned by AWS when the material is imported"));
                        }
                    }
                    ui.end_row();
                    ui.label("Wrapped");
                    ui.label(format!("{wrapped_len} bytes"));
                    ui.end_row();
                });
                if let Some(why) = &length_problem {
                    theme::note_box(ui, theme::RED, |ui| {
                        ui.label(format!("{why} ImportKeyMaterial will refuse it: choose another file."));
                    });
                }
                if let (Some(wanted), Some(id)) = (self.reimport, material_id)
                    && wanted != id
                {
                    theme::note_box(ui, theme::RED, |ui| {
                        ui.label("This is not the material being re-imported: its KeyMaterialId differs.");
                    });
                }
                if generated {
                    ui.add_space(6.0);
                    theme::note_box(ui, theme::AMBER, |ui| {
                        ui.label(RichText::new("Keep a copy of this key material outside byok.").strong());
                        ui.label(
                            "Like AWS KMS, byok never gives imported material back. If it is deleted or expires, the key \
                             stays unusable until you re-import these exact bytes. Store the copy in a system you control \
                             (an HSM or key manager), with the key ARN and the material description beside it.",
                        );
                    });
                    ui.horizontal(|ui| {
                        if ui.add_enabled(!busy, egui::Button::new("Save plaintext copy…")).clicked() {
                            actions.push(Action::Pick(PickTarget::SavePlaintextCopy));
                        }
                        ui.add(egui::TextEdit::singleline(&mut self.copy_path).hint_text("or type a path").desired_width(300.0))
                            .accessible_name("Plaintext copy path");
                        if ui
                            .add_enabled(!busy && !self.copy_path.trim().is_empty(), egui::Button::new("Save copy"))
                            .clicked()
                        {
                            self.save_copy();
                        }
                    });
                    if let Some(p) = &self.copy_saved {
                        ui.label(theme::colored(ui, format!("✔ Plaintext copy saved to {}", p.display()), theme::GREEN));
                    }
                }
            });
        }
    }

    fn options_ui(
        &mut self,
        ui: &mut Ui,
        key: &KeyView,
        now: Timestamp,
        _actions: &mut Vec<Action>,
    ) {
        ui.label(RichText::new("Import type").strong());
        let first = key.materials.is_empty();
        ui.radio_value(
            &mut self.import_type,
            ImportType::NewKeyMaterial,
            if first {
                "NEW_KEY_MATERIAL — the key's first material (becomes CURRENT)"
            } else {
                "NEW_KEY_MATERIAL — new material for rotation (becomes PENDING_ROTATION)"
            },
        );
        ui.add_enabled_ui(!first, |ui| {
            ui.radio_value(
                &mut self.import_type,
                ImportType::ExistingKeyMaterial,
                "EXISTING_KEY_MATERIAL — re-import of a material this key had (deleted or expired)",
            );
        });
        if self.import_type == ImportType::ExistingKeyMaterial {
            let missing: Vec<_> = key
                .missing_materials()
                .map(|m| (m.id, m.short.clone()))
                .collect();
            ui.horizontal(|ui| {
                ui.label("Material being re-imported");
                let text = self
                    .reimport
                    .map_or("any (byok checks the bytes)".to_string(), |id| {
                        format!("{}…", id.short())
                    });
                egui::ComboBox::from_id_salt("reimport-which")
                    .selected_text(text)
                    .show_ui(ui, |ui| {
                        ui.selectable_value(
                            &mut self.reimport,
                            None,
                            "any (byok checks the bytes)",
                        );
                        for (id, short) in missing {
                            ui.selectable_value(&mut self.reimport, Some(id), format!("{short}…"));
                        }
                    });
            });
        }
        ui.add_space(6.0);
        let label = ui.label(RichText::new("Key material description").strong());
        ui.add(
            egui::TextEdit::singleline(&mut self.description)
                .hint_text("where the copy is kept, e.g. KeyMaterial2 kept in HSM vault A")
                .desired_width(520.0),
        )
        .labelled_by(label.id);
        ui.label(theme::weak(
            ui,
            "Letters, digits, spaces and : / _ . - (up to 256).",
        ));
        ui.add_space(6.0);
        ui.label(RichText::new("Expiration").strong());
        ui.radio_value(&mut self.expires, false, "KEY_MATERIAL_DOES_NOT_EXPIRE");
        ui.horizontal(|ui| {
            ui.radio_value(&mut self.expires, true, "KEY_MATERIAL_EXPIRES on");
            ui.add_enabled_ui(self.expires, |ui| {
                const PICKER: &str = "valid-to";
                ui.add(egui_extras::DatePickerButton::new(&mut self.expiry).id_salt(PICKER));
                // egui_extras draws the open picker as an Area of its own
                // (at `make_persistent_id(Some(salt))`) in the wizard's
                // Foreground order, ranked by when each layer was last
                // raised. A click on the wizard raises the wizard, and a
                // quick click that opens the picker (press and release in
                // one frame) raises both and keeps the wizard on top: the
                // picker opened under the wizard, every time but the very
                // first (egui even remembers the ranking across restarts).
                // As the wizard's sublayer it is drawn right above it.
                let picker = ui.make_persistent_id(Some(PICKER));
                ui.ctx().set_sublayer(
                    ui.layer_id(),
                    egui::LayerId::new(ui.layer_id().order, picker),
                );
                let at = ui.label("at");
                ui.add(
                    egui::TextEdit::singleline(&mut self.expiry_time)
                        .hint_text("HH:MM")
                        // "23:59" whole, in any text size.
                        .desired_width(ui.text_style_height(&egui::TextStyle::Body) * 4.0),
                )
                .labelled_by(at.id)
                .on_hover_text("ValidTo's time of day (UTC), as HH:MM");
                ui.label("UTC");
            });
        });
        if self.expires {
            match self.valid_to() {
                Some(v) => {
                    let max = now.plus(crate::kms::MAX_VALID_TO_AHEAD);
                    let text = format!(
                        "ValidTo {} ({})",
                        format::date_time(v),
                        format::relative(v, now)
                    );
                    if v <= now || v > max {
                        ui.label(theme::colored(
                            ui,
                            format!("{text} — must be in the future and at most 365 days ahead"),
                            theme::RED,
                        ));
                    } else {
                        ui.label(text);
                    }
                }
                None => {
                    ui.label(theme::colored(
                        ui,
                        "Not a valid date and time of day (HH:MM, 00:00 to 23:59)",
                        theme::RED,
                    ));
                }
            }
            ui.label(theme::weak(
                ui,
                "When ValidTo passes, byok erases the material at once and the key becomes Pending import until it is re-imported.",
            ));
        }
        if self.source == Source::Generate && self.copy_saved.is_none() {
            ui.add_space(8.0);
            theme::note_box(ui, theme::RED, |ui| {
                ui.label(RichText::new("No copy of this material is saved.").strong());
                ui.label(
                    "After the import byok cannot give it back. If it is deleted or expires, this key stays \
                     unusable for good, and its ciphertexts with it. ‹ Back saves a copy.",
                );
                ui.checkbox(
                    &mut self.no_copy_ok,
                    "Import without a copy (training only)",
                );
            });
        }
    }

    /// Generated here, no plaintext copy saved, and the user has not said
    /// that is fine: the import waits.
    fn needs_copy_consent(&self) -> bool {
        self.source == Source::Generate && self.copy_saved.is_none() && !self.no_copy_ok
    }

    fn valid_to(&self) -> Option<Timestamp> {
        let d = chrono::NaiveDate::from_ymd_opt(
            i32::from(self.expiry.year()),
            u32::try_from(self.expiry.month()).ok()?,
            u32::try_from(self.expiry.day()).ok()?,
        )?;
        let (hour, minute) = parse_time_of_day(&self.expiry_time)?;
        Some(Timestamp::from_millis(
            d.and_hms_opt(hour, minute, 0)?.and_utc().timestamp_millis(),
        ))
    }

    fn result_ui(&mut self, ui: &mut Ui, view: &StoreView) {
        let Some((key_ref, material_id, import_type)) = &self.result else {
            return;
        };
        let key = view.key(key_ref);
        let material_state = key
            .zip(*material_id)
            .and_then(|(k, id)| k.material(id))
            .map(|m| m.state);
        theme::note_box(ui, theme::GREEN, |ui| {
            ui.label(RichText::new("Key material imported").strong().size(18.0));
            egui::Grid::new("import-result")
                .num_columns(2)
                .spacing([16.0, 6.0])
                .show(ui, |ui| {
                    ui.label("KeyMaterialId");
                    ui.add(
                        egui::Label::new(
                            RichText::new(material_id.map(|m| m.to_string()).unwrap_or_default())
                                .monospace(),
                        )
                        .wrap()
                        .selectable(true),
                    );
                    ui.end_row();
                    ui.label("Import type");
                    ui.label(import_type.as_str());
                    ui.end_row();
                    if let Some(state) = material_state {
                        ui.label("Material state");
                        theme::badge(ui, state.as_str(), theme::material_state(state));
                        ui.end_row();
                    }
                    if let Some(k) = key {
                        ui.label("Key state");
                        theme::badge(
                            ui,
                            theme::key_state_label(k.state),
                            theme::key_state(k.state),
                        );
                        ui.end_row();
                    }
                    // The key manager's escrow, when the key's policy keeps
                    // copies: what the store holds, whatever the key type.
                    if let Some(id) = material_id
                        && view
                            .manager
                            .policy(key_ref.arn())
                            .is_some_and(|p| p.policy.escrow)
                    {
                        ui.label("Escrow copy");
                        let kept = view.escrowed(key_ref, *id);
                        ui.horizontal_wrapped(|ui| {
                            super::manager::escrow_badge(ui, kept);
                            if !kept && self.source == Source::WrappedFile {
                                ui.label(theme::weak(
                                    ui,
                                    "The material was wrapped outside byok, so the store holds no copy: \
                                     deposit the custodian's copy with `byok agent escrow deposit`.",
                                ));
                            }
                        });
                        ui.end_row();
                    }
                });
        });
        ui.add_space(6.0);
        ui.label(RichText::new("What next").strong());
        let next = match (*import_type, material_state, key.map(|k| k.state)) {
            (_, _, Some(KeyState::PendingImport)) => {
                let missing: Vec<String> = key
                    .map(|k| k.missing_materials().map(|m| format!("{}…", m.short)).collect())
                    .unwrap_or_default();
                format!(
                    "The key is still Pending import: re-import {} as well. Every deleted or expired material must be back before the key works.",
                    missing.join(", ")
                )
            }
            (_, Some(KeyMaterialState::PendingRotation), _) => {
                "This material waits for rotation. Click Rotate now on the key to make it current; \
                 encryption keeps using the current material until the rotation completes."
                    .into()
            }
            (ImportType::ExistingKeyMaterial, _, _) => {
                "The material is back. Ciphertext made with it decrypts again.".into()
            }
            _ if self.key_spec.mac_algorithm().is_some() => {
                "The key makes and verifies MACs with this material now (GenerateMac, VerifyMac in the \
                 Cryptography tab). Keep your copy of the material outside byok."
                    .into()
            }
            _ => "The key encrypts with this material now. Keep your copy of the material outside byok.".into(),
        };
        ui.label(next);
    }

    fn buttons_ui(&mut self, ui: &mut Ui, key: &KeyView, now: Timestamp) {
        let busy = self.busy();
        ui.horizontal(|ui| {
            if self.step == Step::Result {
                if ui.button(RichText::new("Close").strong()).clicked() {
                    self.closed = true;
                }
                return;
            }
            if ui.add_enabled(!busy, egui::Button::new("Cancel")).clicked() {
                self.closed = true;
            }
            ui.with_layout(
                egui::Layout::right_to_left(egui::Align::Center),
                |ui| match self.step {
                    Step::Parameters => {
                        let ready = self.params.as_ref().is_some_and(|p| {
                            p.parameters_valid_to > now
                                && self.params_spec == Some((self.algorithm, self.spec))
                        });
                        if ui
                            .add_enabled(ready && !busy, theme::primary("Next ›"))
                            .clicked()
                        {
                            self.step = Step::Material;
                        }
                    }
                    Step::Material => {
                        let ready = match self.source {
                            Source::WrappedFile => !self.wrapped_path.trim().is_empty(),
                            _ => self.wrapped().is_some(),
                        };
                        if ui
                            .add_enabled(ready && !busy, theme::primary("Next ›"))
                            .clicked()
                        {
                            if self.source == Source::WrappedFile && self.wrapped().is_none() {
                                self.advance_after_read = true;
                                let path = PathBuf::from(self.wrapped_path.trim());
                                self.run(
                                    Work::ReadWrapped,
                                    Job::ReadFile {
                                        path,
                                        max_len: 6144,
                                    },
                                );
                            } else {
                                self.step = Step::Options;
                            }
                        }
                        if ui.add_enabled(!busy, egui::Button::new("‹ Back")).clicked() {
                            self.step = Step::Parameters;
                        }
                    }
                    Step::Options => {
                        if ui
                            .add_enabled(!busy && !self.needs_copy_consent(), theme::primary("Import"))
                            .on_hover_text("ImportKeyMaterial")
                            .on_disabled_hover_text(
                                "Save a copy of the material (‹ Back), or tick \"Import without a copy\"",
                            )
                            .clicked()
                            && let Some(req) = self.request(key)
                        {
                            self.run(Work::Import, Job::Import(req));
                        }
                        if ui.add_enabled(!busy, egui::Button::new("‹ Back")).clicked() {
                            self.step = Step::Material;
                        }
                    }
                    Step::Result => {}
                },
            );
        });
    }

    fn request(&mut self, key: &KeyView) -> Option<ImportRequest> {
        let params = self.params.as_ref()?;
        let wrapped = self.wrapped()?.to_vec();
        let description = self.description.trim();
        Some(ImportRequest {
            key: key.id.clone(),
            import_token: params.import_token.clone(),
            encrypted_key_material: wrapped,
            expiration_model: if self.expires {
                ExpirationModel::KeyMaterialExpires
            } else {
                ExpirationModel::KeyMaterialDoesNotExpire
            },
            // An expiring import with an invalid date goes to the engine,
            // which answers with AWS's message.
            valid_to: if self.expires { self.valid_to() } else { None },
            import_type: self.import_type,
            description: (!description.is_empty()).then(|| description.to_string()),
            key_material_id: if self.import_type == ImportType::ExistingKeyMaterial {
                self.reimport
            } else {
                None
            },
            custodian_copy: match self.source {
                Source::WrappedFile => None,
                // The bytes wrapped here, as they are imported: 32 bytes for
                // a symmetric key, an HMAC key's bytes, an asymmetric key's
                // DER PKCS #8 private key (the key manager's escrow keeps
                // them all).
                Source::WrapPlaintext | Source::Generate => self.prepared.as_ref().map(|p| {
                    let origin = if p.generated {
                        crate::manager::MaterialOrigin::Generated
                    } else {
                        crate::manager::MaterialOrigin::File {
                            path: PathBuf::from(self.plaintext_path.trim()),
                        }
                    };
                    (SecretVec::copy_of(p.plaintext.expose()), origin)
                }),
            },
        })
    }
}

/// The OpenSSL commands for `algorithm`, with copy buttons.
fn openssl_ui(
    ui: &mut Ui,
    algorithm: WrappingAlgorithm,
    material_len: usize,
    actions: &mut Vec<Action>,
) {
    let material = (
        format!("Your {material_len}-byte key material (or export it from your HSM)"),
        format!("openssl rand -out KeyMaterial.bin {material_len}"),
    );
    let md = match algorithm {
        WrappingAlgorithm::RsaesOaepSha1 | WrappingAlgorithm::RsaAesKeyWrapSha1 => "sha1",
        _ => "sha256",
    };
    let oaep = format!(
        "-pkeyopt rsa_padding_mode:oaep -pkeyopt rsa_oaep_md:{md} -pkeyopt rsa_mgf1_md:{md}"
    );
    let commands: Vec<(String, String)> = match algorithm {
        WrappingAlgorithm::RsaAesKeyWrapSha1 | WrappingAlgorithm::RsaAesKeyWrapSha256 => vec![
            material,
            ("A one-time AES key".into(), "openssl rand -out aes-key.bin 32".into()),
            (
                "Wrap the AES key with the public key".into(),
                format!("openssl pkeyutl -encrypt -in aes-key.bin -out aes-key-wrapped.bin -inkey PublicKey.bin -keyform DER -pubin {oaep}"),
            ),
            (
                "Wrap the material with the AES key (RFC 5649)".into(),
                "openssl enc -id-aes256-wrap-pad -K \"$(xxd -p < aes-key.bin | tr -d '\\n')\" -iv A65959A6 -in KeyMaterial.bin -out material-wrapped.bin".into(),
            ),
            (
                "Join them".into(),
                "cat aes-key-wrapped.bin material-wrapped.bin > EncryptedKeyMaterial.bin".into(),
            ),
        ],
        _ => vec![
            material,
            (
                "Wrap it with the public key".into(),
                format!("openssl pkeyutl -encrypt -in KeyMaterial.bin -out EncryptedKeyMaterial.bin -inkey PublicKey.bin -keyform DER -pubin {oaep}"),
            ),
        ],
    };
    egui::CollapsingHeader::new(format!("OpenSSL commands for {algorithm}"))
        .default_open(true)
        .show(ui, |ui| {
            for (i, (what, cmd)) in commands.iter().enumerate() {
                ui.label(theme::weak(ui, format!("{}. {what}", i + 1)));
                ui.horizontal(|ui| {
                    if ui
                        .small_button("🗐")
                        .on_hover_text("Copy this command")
                        .accessible_name(format!("Copy OpenSSL command {}", i + 1))
                        .clicked()
                    {
                        actions.push(Action::Copy(cmd.clone()));
                        actions.push(Action::Notify("Command copied".into()));
                    }
                    ui.add(egui::Label::new(RichText::new(cmd.as_str()).monospace()).wrap());
                });
            }
        });
}

/// `HH:MM` (or `H:MM`), 00:00 to 23:59.
fn parse_time_of_day(text: &str) -> Option<(u32, u32)> {
    let (h, m) = text.trim().split_once(':')?;
    let digits = |s: &str, len: std::ops::RangeInclusive<usize>| {
        (len.contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse::<u32>().ok())
            .flatten()
    };
    let (h, m) = (digits(h, 1..=2)?, digits(m, 2..=2)?);
    (h < 24 && m < 60).then_some((h, m))
}
