//! Guided lessons for a trainer (issue 10, item 13): short scripts that run
//! real AWS KMS operations on a dedicated key of the training store, on its
//! simulated clock, one sentence of narration per step, with the engine's
//! real answer (its exception name and message when it refuses) under the
//! sentence. A lesson restarts on a fresh key, so it can be replayed.
//!
//! The steps run on the worker like every other job ([`Job::Lesson`]); what a
//! lesson remembers between steps (its key, the first material's plaintext
//! for re-import, the first ciphertext) travels with the job and comes back
//! with its result. Only training stores offer lessons: the worker refuses a
//! lesson step on any other store, because it moves the simulated clock.

use std::time::Duration;

use egui::{Align, Layout, RichText, Ui};

use super::action::Owner;
use super::config::AppClock;
use super::theme;
use super::view::{KeyRef, StoreView};
use super::worker::{Job, Jobs, Outcome, Ticket, UiError};
use crate::api::op;
use crate::api::shapes::*;
use crate::api::wire::{Blob, Time};
use crate::backend::{Backend, BackendError, send};
use crate::kms::clock::days;
use crate::kms::{ExpirationModel, ImportType, SecretArray, WrappingAlgorithm, WrappingKeySpec};

/// The lessons, in the order the panel offers them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LessonId {
    /// Rotation and old ciphertext.
    Rotation,
    /// Expiry makes the key unusable.
    Expiry,
    /// Delete and re-import.
    DeleteReimport,
    /// The 25-rotation budget.
    RotationBudget,
}

impl LessonId {
    /// Every lesson.
    pub const ALL: [LessonId; 4] = [
        LessonId::Rotation,
        LessonId::Expiry,
        LessonId::DeleteReimport,
        LessonId::RotationBudget,
    ];

    /// The lesson's script.
    pub fn lesson(self) -> Lesson {
        use LessonOp::*;
        match self {
            LessonId::Rotation => Lesson {
                title: "Rotation and old ciphertext",
                goal: "Rotating imported material never strands data encrypted before the rotation.",
                steps: vec![
                    step(
                        "We create a key with Origin EXTERNAL and import our own 256-bit material: the key is Enabled.",
                        Setup { valid_days: None },
                    ),
                    step(
                        "An application encrypts a record; the ciphertext names the material that made it.",
                        Encrypt,
                    ),
                    step(
                        "We import a second material as NEW_KEY_MATERIAL: it waits as PENDING_ROTATION.",
                        ImportNew,
                    ),
                    step(
                        "RotateKeyOnDemand makes the new material CURRENT; the first one becomes NON_CURRENT.",
                        Rotate,
                    ),
                    step(
                        "The old ciphertext still decrypts, and Decrypt names the first material's KeyMaterialId.",
                        DecryptFirst,
                    ),
                    step("New encryptions use the new CURRENT material.", Encrypt),
                ],
            },
            LessonId::Expiry => Lesson {
                title: "Expiry makes the key unusable",
                goal: "When material reaches its ValidTo, KMS deletes it and the whole key stops working.",
                steps: vec![
                    step(
                        "We import material that expires in 30 days (ExpirationModel KEY_MATERIAL_EXPIRES).",
                        Setup {
                            valid_days: Some(30),
                        },
                    ),
                    step(
                        "An application encrypts a record while the material is valid.",
                        Encrypt,
                    ),
                    step(
                        "The simulated clock moves 31 days forward, past ValidTo: the key goes to PendingImport.",
                        AdvanceDays(31),
                    ),
                    step(
                        "Decrypting the record now fails: KMS has no material to decrypt it with.",
                        DecryptFirst,
                    ),
                    step(
                        "We re-import the same material (EXISTING_KEY_MATERIAL), this time with no expiry.",
                        Reimport,
                    ),
                    step(
                        "The record decrypts again with the same KeyMaterialId: the material, not the key, had expired.",
                        DecryptFirst,
                    ),
                ],
            },
            LessonId::DeleteReimport => Lesson {
                title: "Delete and re-import",
                goal: "Deleting imported material is reversible only if you kept a copy of it.",
                steps: vec![
                    step(
                        "We create a key with Origin EXTERNAL and import our own material.",
                        Setup { valid_days: None },
                    ),
                    step("An application encrypts a record.", Encrypt),
                    step(
                        "DeleteImportedKeyMaterial removes the material at once: the key goes to PendingImport.",
                        DeleteFirst,
                    ),
                    step(
                        "Decrypting the record fails while the material is gone.",
                        DecryptFirst,
                    ),
                    step(
                        "We re-import the very same material from our own copy (EXISTING_KEY_MATERIAL).",
                        Reimport,
                    ),
                    step(
                        "The record decrypts again: same material, same KeyMaterialId.",
                        DecryptFirst,
                    ),
                ],
            },
            LessonId::RotationBudget => Lesson {
                title: "The 25-rotation budget",
                goal: "A key with imported material allows at most 25 on-demand rotations in its life.",
                steps: vec![
                    step(
                        "We create a key with Origin EXTERNAL and import its first material.",
                        Setup { valid_days: None },
                    ),
                    step(
                        "Each on-demand rotation needs a new material imported first: this is rotation 1.",
                        RotateTimes(1),
                    ),
                    step(
                        "Fast-forward: 23 more imports and rotations, each waiting out the rotation delay.",
                        RotateTimes(23),
                    ),
                    step(
                        "Rotation 25 is the last one the budget allows.",
                        RotateTimes(1),
                    ),
                    step(
                        "A 26th material imports, but KMS refuses the 26th RotateKeyOnDemand.",
                        RotateTimes(1),
                    ),
                ],
            },
        }
    }
}

/// A guided lesson: a title, its goal in one line, and its steps.
#[derive(Clone, Debug)]
pub struct Lesson {
    /// The title.
    pub title: &'static str,
    /// What the room learns, in one line.
    pub goal: &'static str,
    /// The steps, in order.
    pub steps: Vec<LessonStep>,
}

/// One step: a sentence of narration and the engine operations it runs.
#[derive(Clone, Debug)]
pub struct LessonStep {
    /// One sentence, read out to the room.
    pub narration: &'static str,
    /// What it does.
    pub op: LessonOp,
}

fn step(narration: &'static str, op: LessonOp) -> LessonStep {
    LessonStep { narration, op }
}

/// The real operations a step performs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LessonOp {
    /// CreateKey (Origin EXTERNAL), GetParametersForImport, ImportKeyMaterial
    /// of fresh material, valid for this many days (`None`: no expiry).
    Setup {
        /// Days of validity.
        valid_days: Option<u64>,
    },
    /// Encrypt a record; the first ciphertext is remembered.
    Encrypt,
    /// Import a new material (NEW_KEY_MATERIAL).
    ImportNew,
    /// RotateKeyOnDemand, then the clock past the rotation delay.
    Rotate,
    /// Import new material and rotate to it, this many times.
    RotateTimes(u32),
    /// Decrypt the first ciphertext.
    DecryptFirst,
    /// Move the simulated clock forward this many days.
    AdvanceDays(u64),
    /// DeleteImportedKeyMaterial of the first material.
    DeleteFirst,
    /// Re-import the first material (EXISTING_KEY_MATERIAL), no expiry.
    Reimport,
}

/// What a lesson keeps between its steps (travels with the job).
#[derive(Debug, Default)]
pub struct LessonMemory {
    /// The lesson's key.
    pub key: Option<KeyRef>,
    /// The first material: its id and its plaintext (training material,
    /// kept to demonstrate re-import; zeroized when dropped).
    first: Option<(String, SecretArray<32>)>,
    /// The first ciphertext.
    ciphertext: Option<Vec<u8>>,
}

/// A step's real outcome, as the engine answered.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StepOutcome {
    /// What succeeded, one line each.
    pub lines: Vec<String>,
    /// The refusal: `ExceptionName: message`.
    pub refused: Option<String>,
}

/// A finished lesson step (the worker's answer).
#[derive(Debug)]
pub struct LessonDone {
    /// The memory, updated.
    pub memory: LessonMemory,
    /// What happened.
    pub outcome: StepOutcome,
}

/// Whether the simulated clock rotation delay is passed by this much more.
const ROTATION_MARGIN: Duration = Duration::from_secs(1);

/// Runs `op` through `backend` (on the worker). Refusals are part of the
/// outcome, not an error: they are what the lesson shows.
pub fn perform(
    backend: &dyn Backend,
    clock: &AppClock,
    rotation_delay: Duration,
    memory: &mut LessonMemory,
    op: LessonOp,
) -> StepOutcome {
    let mut out = StepOutcome::default();
    if let Err(e) = run(backend, clock, rotation_delay, memory, op, &mut out.lines) {
        out.refused = Some(match e {
            BackendError::Service(e) => format!("{}: {}", e.error_type, e.message),
            other => other.to_string(),
        });
    }
    out
}

type Step = Result<(), BackendError>;

fn key_arn(memory: &LessonMemory) -> Result<String, BackendError> {
    memory
        .key
        .as_ref()
        .map(|k| k.arn().to_string())
        .ok_or_else(|| {
            BackendError::Service(crate::api::ApiError::new(
                "NotFoundException",
                "The lesson has no key yet: press Reset.",
                400,
            ))
        })
}

fn run(
    backend: &dyn Backend,
    clock: &AppClock,
    rotation_delay: Duration,
    memory: &mut LessonMemory,
    op: LessonOp,
    lines: &mut Vec<String>,
) -> Step {
    match op {
        LessonOp::Setup { valid_days } => {
            *memory = LessonMemory::default();
            let out = send::<op::CreateKey>(
                backend,
                &CreateKeyInput {
                    description: Some("Lesson key (training)".into()),
                    origin: Some("EXTERNAL".into()),
                    ..CreateKeyInput::default()
                },
            )?;
            let arn = out.key_metadata.arn.clone();
            memory.key = Some(KeyRef::new(&arn));
            lines.push(format!(
                "CreateKey: {} (Origin EXTERNAL, {})",
                short_arn(&arn),
                out.key_metadata.key_state
            ));
            let material = SecretArray::<32>::random(&mut rand::rng());
            let valid_to = valid_days.map(|d| clock.now().plus(days(d)));
            let id = import(
                backend,
                &arn,
                &material,
                ImportType::NewKeyMaterial,
                valid_to,
                None,
            )?;
            lines.push(format!(
                "ImportKeyMaterial: KeyMaterialId {}…{}",
                short(&id),
                valid_to
                    .map(|t| format!(", ValidTo {}", super::format::date_time(t)))
                    .unwrap_or_else(|| ", no expiry".into())
            ));
            memory.first = Some((id, material));
            describe(backend, &arn, lines)
        }
        LessonOp::Encrypt => {
            let arn = key_arn(memory)?;
            let out = send::<op::Encrypt>(
                backend,
                &EncryptInput {
                    key_id: Some(arn.clone()),
                    plaintext: Some(Blob::copy_of(b"Payroll record, March: 1,204 rows")),
                    ..EncryptInput::default()
                },
            )?;
            let blob = out.ciphertext_blob.bytes().to_vec();
            let made_by =
                crate::kms::ciphertext::parse_header(&blob).map(|h| h.key_material_id.to_string());
            lines.push(format!(
                "Encrypt: {} bytes of ciphertext{}",
                blob.len(),
                made_by
                    .map(|m| format!(", made by KeyMaterialId {}…", short(&m)))
                    .unwrap_or_default()
            ));
            if memory.ciphertext.is_none() {
                memory.ciphertext = Some(blob);
            }
            Ok(())
        }
        LessonOp::ImportNew => {
            let arn = key_arn(memory)?;
            let material = SecretArray::<32>::random(&mut rand::rng());
            let id = import(
                backend,
                &arn,
                &material,
                ImportType::NewKeyMaterial,
                None,
                None,
            )?;
            lines.push(format!(
                "ImportKeyMaterial (NEW_KEY_MATERIAL): KeyMaterialId {}… is PENDING_ROTATION",
                short(&id)
            ));
            Ok(())
        }
        LessonOp::Rotate => {
            let arn = key_arn(memory)?;
            rotate(backend, clock, rotation_delay, &arn)?;
            lines.push(format!(
                "RotateKeyOnDemand accepted; the simulated clock moved {} s, past the rotation delay",
                (rotation_delay + ROTATION_MARGIN).as_secs()
            ));
            describe(backend, &arn, lines)
        }
        LessonOp::RotateTimes(n) => {
            let arn = key_arn(memory)?;
            for _ in 0..n {
                let material = SecretArray::<32>::random(&mut rand::rng());
                import(
                    backend,
                    &arn,
                    &material,
                    ImportType::NewKeyMaterial,
                    None,
                    None,
                )?;
                rotate(backend, clock, rotation_delay, &arn)?;
            }
            let rotations = rotations(backend, &arn)?;
            lines.push(format!("{} of 25 on-demand rotations used", rotations));
            describe(backend, &arn, lines)
        }
        LessonOp::DecryptFirst => {
            let blob = memory.ciphertext.clone().unwrap_or_default();
            let out = send::<op::Decrypt>(
                backend,
                &DecryptInput {
                    ciphertext_blob: Some(Blob::from(blob)),
                    ..DecryptInput::default()
                },
            )?;
            let id = out.key_material_id.unwrap_or_default();
            let first = if memory.first.as_ref().is_some_and(|(f, _)| *f == id) {
                " — the first material"
            } else {
                ""
            };
            lines.push(format!(
                "Decrypt succeeded with KeyMaterialId {}…{first}",
                short(&id)
            ));
            Ok(())
        }
        LessonOp::AdvanceDays(d) => {
            let arn = key_arn(memory)?;
            clock.advance(days(d));
            lines.push(format!("The simulated clock moved {d} days forward"));
            describe(backend, &arn, lines)
        }
        LessonOp::DeleteFirst => {
            let arn = key_arn(memory)?;
            let id = memory.first.as_ref().map(|(id, _)| id.clone());
            let out = send::<op::DeleteImportedKeyMaterial>(
                backend,
                &DeleteImportedKeyMaterialInput {
                    key_id: Some(arn.clone()),
                    key_material_id: id,
                },
            )?;
            lines.push(format!(
                "DeleteImportedKeyMaterial: KeyMaterialId {}… deleted",
                short(&out.key_material_id)
            ));
            describe(backend, &arn, lines)
        }
        LessonOp::Reimport => {
            let arn = key_arn(memory)?;
            let Some((id, material)) = memory.first.as_ref() else {
                return key_arn(&LessonMemory::default()).map(|_| ());
            };
            let got = import(
                backend,
                &arn,
                material,
                ImportType::ExistingKeyMaterial,
                None,
                Some(id.clone()),
            )?;
            lines.push(format!(
                "ImportKeyMaterial (EXISTING_KEY_MATERIAL): KeyMaterialId {}… is back",
                short(&got)
            ));
            describe(backend, &arn, lines)
        }
    }
}

fn import(
    backend: &dyn Backend,
    arn: &str,
    material: &SecretArray<32>,
    import_type: ImportType,
    valid_to: Option<crate::kms::Timestamp>,
    key_material_id: Option<String>,
) -> Result<String, BackendError> {
    let algorithm = WrappingAlgorithm::RsaAesKeyWrapSha256;
    let params = send::<op::GetParametersForImport>(
        backend,
        &GetParametersForImportInput {
            key_id: Some(arn.to_string()),
            wrapping_algorithm: Some(algorithm.as_str().to_string()),
            wrapping_key_spec: Some(WrappingKeySpec::Rsa2048.as_str().to_string()),
        },
    )?;
    let wrapped = crate::kms::wrap_material(
        params.public_key.bytes(),
        algorithm,
        material.expose(),
        &mut rand::rng(),
    )
    .map_err(|e| {
        BackendError::Service(crate::api::ApiError::new(
            "KMSInternalException",
            e.to_string(),
            500,
        ))
    })?;
    let out = send::<op::ImportKeyMaterial>(
        backend,
        &ImportKeyMaterialInput {
            key_id: Some(arn.to_string()),
            import_token: Some(params.import_token),
            encrypted_key_material: Some(Blob::from(wrapped)),
            valid_to: valid_to.map(Time),
            expiration_model: Some(ExpirationModel::for_valid_to(valid_to).as_str().to_string()),
            import_type: Some(import_type.as_str().to_string()),
            key_material_description: Some("Lesson material".into()),
            key_material_id,
        },
    )?;
    Ok(out.key_material_id)
}

fn rotate(backend: &dyn Backend, clock: &AppClock, delay: Duration, arn: &str) -> Step {
    send::<op::RotateKeyOnDemand>(
        backend,
        &KeyIdInput {
            key_id: Some(arn.to_string()),
        },
    )?;
    // Time-driven events are applied before every operation, so the next
    // call sees the rotation complete.
    clock.advance(delay + ROTATION_MARGIN);
    Ok(())
}

fn rotations(backend: &dyn Backend, arn: &str) -> Result<usize, BackendError> {
    let out = send::<op::ListKeyRotations>(
        backend,
        &ListKeyRotationsInput {
            key_id: Some(arn.to_string()),
            limit: Some(1000),
            ..ListKeyRotationsInput::default()
        },
    )?;
    Ok(out
        .rotations
        .iter()
        .filter(|r| r.rotation_type.as_deref() == Some("ON_DEMAND"))
        .count())
}

fn describe(backend: &dyn Backend, arn: &str, lines: &mut Vec<String>) -> Step {
    let out = send::<op::DescribeKey>(
        backend,
        &KeyIdInput {
            key_id: Some(arn.to_string()),
        },
    )?;
    let m = out.key_metadata;
    lines.push(format!(
        "DescribeKey: KeyState {}{}",
        m.key_state,
        m.current_key_material_id
            .map(|c| format!(", CurrentKeyMaterialId {}…", short(&c)))
            .unwrap_or_default()
    ));
    Ok(())
}

fn short(id: &str) -> String {
    id.chars().take(12).collect()
}

fn short_arn(arn: &str) -> String {
    let id = arn.rsplit_once("key/").map_or(arn, |(_, id)| id);
    format!("key/{}…", id.chars().take(8).collect::<String>())
}

/// The lessons panel's state (training stores only).
#[derive(Default)]
pub struct LessonsPanel {
    /// Whether the panel is shown.
    pub open: bool,
    lesson: Option<LessonId>,
    /// Steps run so far (the shown step is `done`, 1-based).
    done: usize,
    memory: Option<LessonMemory>,
    pending: Option<Ticket>,
    outcome: Option<StepOutcome>,
    error: Option<UiError>,
}

impl LessonsPanel {
    /// The lesson's key, once its first step ran.
    pub fn key(&self) -> Option<&KeyRef> {
        self.memory.as_ref().and_then(|m| m.key.as_ref())
    }

    fn submit(&mut self, jobs: &Jobs, op: LessonOp) {
        let memory = self.memory.take().unwrap_or_default();
        self.pending = Some(jobs.submit(Owner::Lessons, Job::Lesson { memory, op }));
    }

    /// Starts (or restarts) `lesson` at step 1, on a fresh key.
    pub fn start(&mut self, lesson: LessonId, jobs: &Jobs) {
        if self.pending.is_some() {
            return;
        }
        self.lesson = Some(lesson);
        self.done = 0;
        self.outcome = None;
        self.error = None;
        self.memory = None;
        let op = lesson.lesson().steps[0].op;
        self.submit(jobs, op);
    }

    /// Runs the next step, if there is one.
    pub fn next(&mut self, jobs: &Jobs) {
        let Some(lesson) = self.lesson else { return };
        if self.pending.is_some() {
            return;
        }
        if let Some(s) = lesson.lesson().steps.get(self.done) {
            self.submit(jobs, s.op);
        }
    }

    /// A job's result; returns the lesson's key to select.
    pub fn finished(
        &mut self,
        ticket: Ticket,
        outcome: Result<Outcome, UiError>,
    ) -> Option<KeyRef> {
        if self.pending != Some(ticket) {
            return None;
        }
        self.pending = None;
        match outcome {
            Ok(Outcome::Lesson(done)) => {
                let LessonDone { memory, outcome } = *done;
                self.done += 1;
                self.outcome = Some(outcome);
                let key = memory.key.clone();
                self.memory = Some(memory);
                key
            }
            Ok(_) => None,
            Err(e) => {
                self.error = Some(e);
                None
            }
        }
    }

    /// Draws the panel; Right arrow runs the next step.
    pub fn ui(&mut self, ui: &mut Ui, view: &StoreView, jobs: &Jobs) {
        if !view.is_demo {
            return;
        }
        ui.add_space(6.0);
        ui.horizontal(|ui| {
            ui.heading("🎓 Lessons");
            ui.with_layout(Layout::right_to_left(Align::Center), |ui| {
                if ui.button("✖ Close").clicked() {
                    self.open = false;
                }
            });
        });
        ui.separator();
        ui.horizontal_wrapped(|ui| {
            for id in LessonId::ALL {
                let selected = self.lesson == Some(id);
                let r = ui.add_enabled(
                    self.pending.is_none(),
                    egui::Button::selectable(selected, id.lesson().title),
                );
                if clicked(&r) && !selected {
                    self.start(id, jobs);
                }
            }
        });
        ui.separator();
        let Some(id) = self.lesson else {
            ui.label(
                RichText::new("Pick a lesson. Each one runs real KMS operations on a new key of this training store, on its simulated clock.")
                    .size(18.0),
            );
            return;
        };
        let lesson = id.lesson();
        let total = lesson.steps.len();
        ui.label(RichText::new(lesson.title).size(24.0).strong());
        ui.label(theme::weak(ui, lesson.goal).size(16.0));
        ui.add_space(8.0);
        let shown = self.done.max(1);
        ui.label(
            RichText::new(format!("Step {shown} of {total}"))
                .size(16.0)
                .strong()
                .color(theme::BLUE),
        );
        ui.add_space(4.0);
        let narration = lesson.steps[shown - 1].narration;
        ui.label(RichText::new(narration).size(22.0));
        ui.add_space(8.0);
        if self.pending.is_some() && self.outcome.is_none() {
            ui.horizontal(|ui| {
                theme::spinner(ui);
                ui.label("Running…");
            });
        }
        if let Some(o) = &self.outcome {
            for l in &o.lines {
                ui.label(
                    RichText::new(format!("✔ {l}"))
                        .size(15.0)
                        .color(theme::GREEN),
                );
            }
            if let Some(r) = &o.refused {
                theme::note_box(ui, theme::RED, |ui| {
                    ui.label(RichText::new(format!("✖ Refused — {r}")).size(15.0));
                });
            }
        }
        if let Some(e) = &self.error {
            theme::note_box(ui, theme::RED, |ui| {
                ui.label(format!("{}: {}", e.plain, e.message));
            });
        }
        ui.add_space(12.0);
        let last = self.done >= total;
        ui.horizontal(|ui| {
            let busy = self.pending.is_some();
            let next = ui
                .add_enabled(
                    !busy && !last && self.done > 0,
                    egui::Button::new(RichText::new("Next step ▶").size(18.0)),
                )
                .on_hover_text("Run the next step (Right arrow)");
            if clicked(&next) {
                self.next(jobs);
            }
            let reset = ui
                .add_enabled(
                    !busy,
                    egui::Button::new(RichText::new("↺ Reset").size(18.0)),
                )
                .on_hover_text("Back to step 1, on a fresh key");
            if clicked(&reset) {
                self.start(id, jobs);
            }
            if busy {
                theme::spinner(ui);
            }
        });
        if last {
            ui.add_space(6.0);
            ui.label(
                RichText::new("Lesson complete — Reset to replay it.")
                    .size(16.0)
                    .strong(),
            );
        }
        if !busy_or_text(ui, self.pending.is_some())
            && !last
            && self.done > 0
            && ui.input_mut(|i| i.consume_key(egui::Modifiers::NONE, egui::Key::ArrowRight))
        {
            self.next(jobs);
        }
    }
}

/// Whether `r` was clicked; a clicked button gives up the focus it took,
/// since egui moves the focus with the arrow keys and Right must run the
/// next step.
fn clicked(r: &egui::Response) -> bool {
    if r.clicked() {
        r.surrender_focus();
    }
    r.clicked()
}

fn busy_or_text(ui: &Ui, busy: bool) -> bool {
    busy || ui.ctx().text_edit_focused()
}
