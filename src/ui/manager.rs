//! The key manager screen (issue 12): each key's policy, its next due action
//! and last result; a policy editor for the selected key; what is due, with
//! the cost of each rotation; actions waiting for a second officer (dual
//! control); the kill switch with its blast-radius preview, and restore;
//! the escrow copies of the selected key and their export.
//!
//! Everything is read from the [`ManagerView`] the worker publishes; every
//! change is a job (`Job::SetPolicy`, `Job::Decide`, `Job::Suspend`, ...).

use std::path::PathBuf;
use std::sync::Arc;

use egui::{Align, Color32, Layout, RichText, Ui};
use egui_extras::{Column, TableBuilder};
use secrecy::SecretString;
use zeroize::Zeroizing;

use super::action::{Action, Owner, PickTarget};
use super::format;
use super::theme;
use super::unlock::{secret_buffer, secret_field};
use super::view::{KeyRef, KeyView, ManagerView, StoreView};
use super::worker::{Job, Jobs, KillSelection, Outcome, Pending, Ticket, UiError};
use crate::kms::{KeyMaterialId, Timestamp};
use crate::manager::state::{ON_DEMAND_ROTATION_LIMIT, days_of};
use crate::manager::{BlastRadius, DueItem, DueStatus, KeyPolicy, MaterialSource};

/// One section's job: in flight, its error, what it achieved.
#[derive(Default)]
struct Task {
    pending: Option<Pending<()>>,
    error: Option<UiError>,
    note: Option<String>,
}

impl Task {
    fn submit(&mut self, jobs: &Jobs, job: Job) {
        self.error = None;
        self.note = None;
        self.pending = Some(Pending::submit(jobs, Owner::Manager, (), job));
    }

    fn busy(&self) -> bool {
        self.pending.is_some()
    }

    /// Takes the result of `ticket` if it is this task's.
    fn finish(&mut self, ticket: Ticket, outcome: &Result<Outcome, UiError>) -> bool {
        if self.pending.as_ref().is_none_or(|p| p.ticket != ticket) {
            return false;
        }
        self.pending = None;
        match outcome {
            Ok(o) => self.note = describe(o),
            Err(e) => self.error = Some(e.clone()),
        }
        true
    }

    fn ui(&self, ui: &mut Ui) {
        if self.busy() {
            ui.horizontal(|ui| {
                theme::spinner(ui);
                ui.label("Working…");
            });
        }
        if let Some(e) = &self.error {
            theme::error_box(ui, e);
        }
        if let Some(n) = &self.note {
            ui.label(theme::colored(ui, format!("✔ {n}"), theme::GREEN));
        }
    }
}

/// What a result says, in words.
fn describe(o: &Outcome) -> Option<String> {
    match o {
        Outcome::Changed(text) => Some(text.clone()),
        Outcome::ManagerRan(run) => Some(run_summary(run)),
        Outcome::FileWritten(path) => Some(format!(
            "Exported to {} (readable by you only)",
            path.display()
        )),
        _ => None,
    }
}

/// A run's outcome in one line.
pub fn run_summary(run: &super::view::RunView) -> String {
    if let Some(e) = &run.error {
        return format!("Key manager ({}) failed: {e}", run.trigger);
    }
    let failed = run.outcomes.iter().filter(|o| o.failed).count();
    let done = run.outcomes.len() - failed;
    let mut parts = Vec::new();
    if done > 0 {
        parts.push(format!("{} done", format::plural(done as u64, "action")));
    }
    if failed > 0 {
        parts.push(format!("{failed} failed"));
    }
    if !run.open.is_empty() {
        parts.push(format!("{} still open", run.open.len()));
    }
    if !run.warnings.is_empty() {
        parts.push(format::plural(run.warnings.len() as u64, "warning"));
    }
    if parts.is_empty() {
        parts.push("nothing was due".into());
    }
    format!("Key manager ({}): {}", run.trigger, parts.join(", "))
}

/// The policy editor's fields for one key.
struct PolicyForm {
    key: KeyRef,
    /// The manager view's policy it was loaded from.
    loaded: Option<KeyPolicy>,
    escrow: bool,
    rotate: bool,
    rotate_days: u32,
    rotate_now: bool,
    folder: bool,
    folder_path: String,
    expire: bool,
    valid_days: u32,
    renew: bool,
    renew_days: u32,
    reserve: u32,
    dual_control: bool,
}

impl PolicyForm {
    fn new(key: &KeyRef, policy: Option<&KeyPolicy>) -> Self {
        let p = policy;
        PolicyForm {
            key: key.clone(),
            loaded: p.cloned(),
            escrow: p.is_some_and(|p| p.escrow),
            rotate: p.is_some_and(|p| p.rotate_every_days.is_some()),
            rotate_days: p.and_then(|p| p.rotate_every_days).unwrap_or(90),
            rotate_now: false,
            folder: matches!(p.map(|p| &p.source), Some(MaterialSource::Folder { .. })),
            folder_path: match p.map(|p| &p.source) {
                Some(MaterialSource::Folder { folder }) => folder.display().to_string(),
                _ => String::new(),
            },
            expire: p.is_some_and(|p| p.valid_for_days.is_some()),
            valid_days: p.and_then(|p| p.valid_for_days).unwrap_or(365),
            renew: p.is_some_and(|p| p.renew_before_days.is_some()),
            renew_days: p.and_then(|p| p.renew_before_days).unwrap_or(30),
            reserve: p.map_or(1, |p| p.rotation_reserve),
            dual_control: p.is_some_and(|p| p.dual_control),
        }
    }

    /// The policy these fields ask for, at `now` (the key clock).
    fn policy(&self, now: Timestamp) -> KeyPolicy {
        let mut p = self
            .loaded
            .clone()
            .unwrap_or_else(|| KeyPolicy::new(self.key.arn(), now));
        let rotate = self.rotate.then_some(self.rotate_days);
        if rotate != p.rotate_every_days {
            // A new schedule starts now.
            p.anchor = now;
            p.last_rotation = None;
        }
        p.rotate_every_days = rotate;
        if let Some(d) = rotate
            && self.rotate_now
        {
            p.anchor = now.minus(days_of(d));
            p.last_rotation = None;
        }
        p.escrow = self.escrow;
        p.source = if self.folder {
            MaterialSource::Folder {
                folder: PathBuf::from(self.folder_path.trim()),
            }
        } else {
            MaterialSource::Generate
        };
        p.valid_for_days = self.expire.then_some(self.valid_days);
        p.renew_before_days = self.renew.then_some(self.renew_days);
        p.rotation_reserve = self.reserve;
        p.dual_control = self.dual_control;
        p
    }
}

/// The approve / refuse dialog of one waiting action.
struct Decision {
    action: String,
    what: String,
    approver: String,
    passphrase: Zeroizing<String>,
    task: Task,
}

/// The kill switch's selection and preview.
#[derive(Default)]
struct KillSwitch {
    by_tag: bool,
    tag_key: String,
    tag_value: String,
    preview: Option<Arc<BlastRadius>>,
    preview_task: Task,
    confirm: bool,
    suspend_task: Task,
}

/// Export of one escrow copy.
struct ExportDialog {
    key: KeyRef,
    material: KeyMaterialId,
    path: String,
    task: Task,
}

/// The key manager screen.
#[derive(Default)]
pub struct ManagerPanel {
    form: Option<PolicyForm>,
    policy_task: Task,
    run_task: Task,
    decision: Option<Decision>,
    approver_name: String,
    approver_pass: Option<Zeroizing<String>>,
    approver_repeat: Option<Zeroizing<String>>,
    approver_task: Task,
    kill: KillSwitch,
    restore_task: Task,
    export: Option<ExportDialog>,
}

impl ManagerPanel {
    /// Whether a dialog is open (shortcuts wait).
    pub fn has_dialog(&self) -> bool {
        self.decision.is_some() || self.kill.confirm || self.export.is_some()
    }

    /// Takes a job's result; answers a notice for the toasts.
    pub fn finished(
        &mut self,
        ticket: Ticket,
        outcome: Result<Outcome, UiError>,
    ) -> Option<String> {
        if let Some(d) = &mut self.decision
            && d.task.finish(ticket, &outcome)
        {
            if let Ok(o) = &outcome {
                // A run is announced with the view that reports it.
                let note = d
                    .task
                    .note
                    .clone()
                    .filter(|_| !matches!(o, Outcome::ManagerRan(_)));
                self.decision = None;
                return note;
            }
            return None;
        }
        if self.kill.preview_task.finish(ticket, &outcome) {
            if let Ok(Outcome::Blast(b)) = outcome {
                self.kill.preview = Some(b);
            }
            return None;
        }
        if self.kill.suspend_task.finish(ticket, &outcome) {
            self.kill.confirm = false;
            if outcome.is_ok() {
                self.kill.preview = None;
            }
            return None;
        }
        if let Some(e) = &mut self.export
            && e.task.finish(ticket, &outcome)
        {
            if outcome.is_ok() {
                let note = e.task.note.clone();
                self.export = None;
                return note;
            }
            return None;
        }
        if self.policy_task.finish(ticket, &outcome) {
            if outcome.is_ok() {
                // Reloaded from the view the worker publishes next.
                self.form = None;
            }
            return None;
        }
        if self.approver_task.finish(ticket, &outcome) {
            if outcome.is_ok() {
                self.approver_name.clear();
                self.approver_pass = None;
                self.approver_repeat = None;
            }
            return None;
        }
        let _ =
            self.run_task.finish(ticket, &outcome) || self.restore_task.finish(ticket, &outcome);
        None
    }

    /// A file picked for the export.
    pub fn picked(&mut self, target: PickTarget, path: PathBuf) {
        if target == PickTarget::ExportEscrow
            && let Some(e) = &mut self.export
        {
            e.path = path.display().to_string();
        }
    }

    /// Draws the screen.
    pub fn ui(
        &mut self,
        ui: &mut Ui,
        view: &StoreView,
        selected: Option<&KeyRef>,
        now: Timestamp,
        jobs: &Jobs,
    ) -> Vec<Action> {
        let mut actions = Vec::new();
        let m = view.manager.clone();
        egui::ScrollArea::vertical()
            .id_salt("manager")
            .auto_shrink(false)
            .show(ui, |ui| {
                self.header_ui(ui, &m, now, jobs);
                if let Some(e) = &m.error {
                    theme::error_box(
                        ui,
                        &UiError::plain("The key manager's state cannot be read.", e),
                    );
                }
                if !m.approvals.is_empty() {
                    self.approvals_ui(ui, view, &m, now);
                }
                ui.add_space(6.0);
                self.policies_ui(ui, view, &m, selected, now, &mut actions);
                ui.add_space(10.0);
                ui.columns(2, |cols| {
                    let key = selected.and_then(|s| view.key(s));
                    self.editor_ui(&mut cols[0], view, &m, key, now, jobs);
                    cols[0].add_space(10.0);
                    self.escrow_ui(&mut cols[0], view, key);
                    due_ui(&mut cols[1], view, &m, now);
                    cols[1].add_space(10.0);
                    self.approvers_ui(&mut cols[1], &m, jobs);
                });
                ui.add_space(10.0);
                self.kill_switch_ui(ui, view, &m, selected, jobs);
                ui.add_space(10.0);
                recent_ui(ui, view, &m);
            });
        self.dialogs(ui, view, jobs, &mut actions);
        actions
    }

    fn header_ui(&mut self, ui: &mut Ui, m: &ManagerView, now: Timestamp, jobs: &Jobs) {
        ui.horizontal_wrapped(|ui| {
            ui.heading("Key manager");
            ui.add_space(12.0);
            ui.label(theme::weak(
                ui,
                format!(
                    "{} · {} due now · {} waiting for approval",
                    match m.policies.len() {
                        1 => "1 policy".to_string(),
                        n => format!("{n} policies"),
                    },
                    m.due_now(),
                    m.approvals.len()
                ),
            ));
            ui.with_layout(Layout::right_to_left(Align::Center), |ui| {
                if ui
                    .add_enabled(
                        !self.run_task.busy(),
                        theme::primary("▶ Run due actions now"),
                    )
                    .on_hover_text("The runner also runs every minute while the store is open")
                    .clicked()
                {
                    self.run_task.submit(jobs, Job::ManagerRun);
                }
            });
        });
        let run = &m.last_run;
        // One line, always there, so the page does not jump when a run ends.
        match run.at {
            Some(at) => {
                let color = if run.error.is_some() || run.outcomes.iter().any(|o| o.failed) {
                    theme::RED
                } else {
                    theme::SLATE
                };
                ui.label(theme::colored(
                    ui,
                    format!("Last: {} — {}", format::relative(at, now), run_summary(run)),
                    color,
                ));
            }
            None => {
                ui.label(theme::weak(
                    ui,
                    "The runner carries out what is due right after the store opens and every minute while it is open.",
                ));
            }
        }
        for w in &run.warnings {
            theme::note_box(ui, theme::AMBER, |ui| {
                ui.label(format!("⚠ {w}"));
            });
        }
        self.run_task.ui(ui);
    }

    fn approvals_ui(&mut self, ui: &mut Ui, view: &StoreView, m: &ManagerView, now: Timestamp) {
        theme::note_box(ui, theme::AMBER, |ui| {
            ui.label(RichText::new("Waiting for a second officer (dual control)").strong());
            for a in &m.approvals {
                ui.horizontal_wrapped(|ui| {
                    theme::badge(ui, &a.id, theme::BadgeStyle::on(theme::AMBER));
                    ui.label(
                        RichText::new(format!("{} on {}", a.what, key_label(view, &a.key_arn)))
                            .strong(),
                    );
                    ui.label(theme::weak(
                        ui,
                        format!(
                            "asked by {}, {}",
                            if a.requested_by == "schedule" {
                                "the policy's schedule"
                            } else {
                                a.requested_by.as_str()
                            },
                            format::relative(a.planned, now)
                        ),
                    ));
                    if ui
                        .button("Approve or refuse…")
                        .accessible_name(format!("Decide {}", a.id))
                        .clicked()
                    {
                        self.decision = Some(Decision {
                            action: a.id.clone(),
                            what: format!("{} on {}", a.what, key_label(view, &a.key_arn)),
                            approver: String::new(),
                            passphrase: secret_buffer(),
                            task: Task::default(),
                        });
                    }
                });
            }
        });
    }

    fn policies_ui(
        &mut self,
        ui: &mut Ui,
        view: &StoreView,
        m: &ManagerView,
        selected: Option<&KeyRef>,
        now: Timestamp,
        actions: &mut Vec<Action>,
    ) {
        section(ui, "Policies");
        let keys: Vec<&KeyView> = view
            .keys
            .iter()
            .filter(|k| k.is_external() || m.policy(&k.arn).is_some())
            .collect();
        if keys.is_empty() {
            ui.label(theme::weak(
                ui,
                "No key with imported material (origin EXTERNAL) yet: policies are for those keys.",
            ));
            return;
        }
        let row_h = 30.0;
        ui.push_id("policies", |ui| {
            TableBuilder::new(ui)
                .striped(true)
                .resizable(false)
                .vscroll(true)
                .max_scroll_height(row_h * 7.0)
                .cell_layout(Layout::left_to_right(Align::Center))
                .column(Column::exact(200.0).clip(true))
                .column(Column::exact(340.0).clip(true))
                .column(Column::remainder().at_least(200.0).clip(true))
                .column(Column::exact(300.0).clip(true))
                .header(24.0, |mut h| {
                    for t in ["Key", "Policy", "Next action", "Last result"] {
                        h.col(|ui| {
                            ui.label(RichText::new(t).strong());
                        });
                    }
                })
                .body(|body| {
                    body.rows(row_h, keys.len(), |mut row| {
                        let k = keys[row.index()];
                        let p = m.policy(&k.arn);
                        row.col(|ui| {
                            let is_sel = selected == Some(&k.id);
                            if ui
                                .add(egui::Button::selectable(is_sel, k.label.as_str()).truncate())
                                .on_hover_text(k.arn.as_str())
                                .clicked()
                            {
                                actions.push(Action::SelectKey(k.id.clone()));
                            }
                        });
                        row.col(|ui| match p {
                            Some(p) => {
                                let text = policy_summary(&p.policy);
                                ui.add(egui::Label::new(text.as_str()).truncate())
                                    .on_hover_text(text);
                            }
                            None => {
                                ui.label(theme::weak(ui, "no policy"));
                            }
                        });
                        row.col(|ui| {
                            if m.is_suspended(&k.arn) {
                                theme::badge(ui, "SUSPENDED", theme::BadgeStyle::on(theme::RED));
                            }
                            match p.and_then(|p| p.next.as_ref()) {
                                Some(d) => due_cell(ui, d, now),
                                None => {
                                    ui.label(theme::weak(ui, "—"));
                                }
                            }
                        });
                        row.col(|ui| match p.and_then(|p| p.last.as_ref()) {
                            Some(l) => {
                                let text = format!("{}: {}", l.what, l.result);
                                let r = if l.failed {
                                    ui.add(
                                        egui::Label::new(theme::colored(
                                            ui,
                                            format!("✖ {text}"),
                                            theme::RED,
                                        ))
                                        .truncate(),
                                    )
                                } else {
                                    ui.add(egui::Label::new(format!("✔ {text}")).truncate())
                                };
                                r.on_hover_text(format!(
                                    "{} · asked by {}{}{}",
                                    l.id,
                                    l.requested_by,
                                    l.approved_by
                                        .as_ref()
                                        .map(|a| format!(" · approved by {a}"))
                                        .unwrap_or_default(),
                                    l.finished
                                        .map(|f| format!(" · {}", format::date_time(f)))
                                        .unwrap_or_default()
                                ));
                            }
                            None => {
                                ui.label(theme::weak(ui, "—"));
                            }
                        });
                    });
                });
        });
    }

    fn editor_ui(
        &mut self,
        ui: &mut Ui,
        view: &StoreView,
        m: &ManagerView,
        key: Option<&KeyView>,
        now: Timestamp,
        jobs: &Jobs,
    ) {
        theme::card(ui).show(ui, |ui| {
            ui.set_width(ui.available_width());
            let Some(key) = key else {
                ui.label(theme::weak(ui, "Select a key to edit its policy."));
                return;
            };
            section(ui, format!("Policy of {}", key.label));
            if !key.is_external() {
                ui.label(theme::weak(
                    ui,
                    format!(
                        "{} has origin {}: only keys with imported material have key manager policies.",
                        key.label, key.origin_text
                    ),
                ));
                return;
            }
            let policy = m.policy(&key.arn).map(|p| &p.policy);
            let stale = self
                .form
                .as_ref()
                .is_none_or(|f| f.key != key.id || (f.loaded.as_ref() != policy && !self.policy_task.busy()));
            if stale {
                self.form = Some(PolicyForm::new(&key.id, policy));
            }
            let busy = self.policy_task.busy();
            let Some(f) = &mut self.form else { return };
            // Asymmetric and HMAC keys take one material, ever, and AWS
            // does not rotate them on demand: their policy keeps the escrow
            // copy, expiry and renewal, never a rotation.
            let single = key.key_spec.is_some_and(|s| s.single_material());
            if single && f.loaded.as_ref().is_none_or(|p| p.rotate_every_days.is_none()) {
                f.rotate = false;
                f.folder = false;
            }
            ui.add_enabled_ui(!busy, |ui| {
                let escrow_text = match key.key_spec {
                    Some(s) if s.single_material() => format!(
                        "Keep an escrow copy of the imported material in the store ({})",
                        format::material_lengths(s)
                    ),
                    _ => "Keep an escrow copy of each new material in the store".to_string(),
                };
                ui.checkbox(&mut f.escrow, escrow_text)
                    .on_hover_text("Needed for renewal and for restore after the kill switch");
                ui.horizontal(|ui| {
                    ui.add_enabled(!single || f.rotate, egui::Checkbox::new(&mut f.rotate, "Rotate to new material every"))
                        .on_disabled_hover_text(
                            "AWS KMS does not rotate asymmetric or HMAC keys on demand, and they take no new material after the first import: rotate them manually (a new key, its alias moved to it)",
                        );
                    ui.add_enabled(
                        f.rotate,
                        egui::DragValue::new(&mut f.rotate_days).range(1..=3650).suffix(" days"),
                    );
                });
                if single {
                    ui.label(theme::weak(
                        ui,
                        format!(
                            "A {} key is not rotated on demand (AWS KMS): its policy keeps the escrow copy, expiry and renewal.",
                            key.key_spec_text
                        ),
                    ));
                }
                if f.rotate {
                    ui.indent("rotate", |ui| {
                        ui.checkbox(&mut f.rotate_now, "First rotation due now (else one period from now)");
                        ui.horizontal(|ui| {
                            ui.checkbox(&mut f.folder, "New material from a folder:");
                            ui.add_enabled(
                                f.folder,
                                egui::TextEdit::singleline(&mut f.folder_path)
                                    .hint_text("folder the HSM drops 32-byte files in")
                                    .desired_width(220.0),
                            );
                        });
                        if !f.folder {
                            ui.label(theme::weak(ui, "New material is generated here from the operating system's randomness."));
                        }
                        ui.horizontal(|ui| {
                            ui.label("Keep in reserve");
                            ui.add(egui::DragValue::new(&mut f.reserve).range(0..=ON_DEMAND_ROTATION_LIMIT - 1));
                            ui.label(format!("of the {ON_DEMAND_ROTATION_LIMIT} on-demand rotations"));
                        });
                    });
                }
                ui.horizontal(|ui| {
                    ui.checkbox(&mut f.expire, "Materials expire after");
                    ui.add_enabled(
                        f.expire,
                        egui::DragValue::new(&mut f.valid_days).range(1..=365).suffix(" days"),
                    );
                });
                ui.horizontal(|ui| {
                    ui.checkbox(&mut f.renew, "Renew (re-import) escrowed materials");
                    ui.add_enabled(
                        f.renew,
                        egui::DragValue::new(&mut f.renew_days).range(1..=364).suffix(" days"),
                    );
                    ui.label("before ValidTo");
                });
                ui.checkbox(&mut f.dual_control, "Dual control: every action waits for a second officer");
            });
            ui.add_space(6.0);
            ui.horizontal(|ui| {
                if ui.add_enabled(!busy, theme::primary("Save policy")).clicked() {
                    let policy = f.policy(now);
                    self.policy_task.submit(jobs, Job::SetPolicy(Box::new(policy)));
                }
                if policy.is_some()
                    && ui
                        .add_enabled(!busy, egui::Button::new("Remove policy"))
                        .on_hover_text("The escrow copies stay in the store")
                        .clicked()
                {
                    self.policy_task.submit(jobs, Job::ClearPolicy { key: key.id.clone() });
                }
            });
            self.policy_task.ui(ui);
            let _ = view;
        });
    }

    fn escrow_ui(&mut self, ui: &mut Ui, view: &StoreView, key: Option<&KeyView>) {
        let Some(key) = key.filter(|k| k.is_external() && !k.materials.is_empty()) else {
            return;
        };
        theme::card(ui).show(ui, |ui| {
            ui.set_width(ui.available_width());
            section(ui, "Escrow copies");
            egui::Grid::new(("escrow", &key.id))
                .striped(true)
                .num_columns(4)
                .show(ui, |ui| {
                    for mat in &key.materials {
                        ui.label(RichText::new(mat.short.as_str()).monospace());
                        ui.label(mat.state.as_str());
                        let kept = view.escrowed(&key.id, mat.id);
                        escrow_badge(ui, kept).on_hover_text(escrow_kind(key));
                        if kept {
                            if ui
                                .button("Export…")
                                .accessible_name(format!("Export escrow copy {}", mat.short))
                                .clicked()
                            {
                                self.export = Some(ExportDialog {
                                    key: key.id.clone(),
                                    material: mat.id,
                                    path: String::new(),
                                    task: Task::default(),
                                });
                            }
                        } else {
                            ui.label("");
                        }
                        ui.end_row();
                    }
                });
        });
    }

    fn approvers_ui(&mut self, ui: &mut Ui, m: &ManagerView, jobs: &Jobs) {
        theme::card(ui).show(ui, |ui| {
            ui.set_width(ui.available_width());
            section(ui, "Approvers (dual control)");
            if m.approvers.is_empty() {
                ui.label(theme::weak(ui, "No approver registered yet."));
            } else {
                ui.label(format!("Registered: {}", m.approvers.join(", ")));
            }
            egui::CollapsingHeader::new("Register an approver")
                .id_salt("register-approver")
                .show(ui, |ui| {
                    let l = ui.label("New approver's name");
                    ui.add(
                        egui::TextEdit::singleline(&mut self.approver_name).desired_width(240.0),
                    )
                    .labelled_by(l.id);
                    let pass = self.approver_pass.get_or_insert_with(secret_buffer);
                    secret_field(
                        ui,
                        pass,
                        "New approver's passphrase",
                        "at least 8 characters",
                    );
                    let repeat = self.approver_repeat.get_or_insert_with(secret_buffer);
                    secret_field(ui, repeat, "Repeat the approver's passphrase", "");
                    let same = self.approver_pass.as_deref().map(String::as_str)
                        == self.approver_repeat.as_deref().map(String::as_str);
                    if !same {
                        ui.label(theme::colored(ui, "The passphrases differ.", theme::RED));
                    }
                    if ui
                        .add_enabled(
                            same && !self.approver_task.busy()
                                && !self.approver_name.trim().is_empty(),
                            egui::Button::new("Register approver"),
                        )
                        .clicked()
                    {
                        let passphrase = SecretString::from(
                            self.approver_pass.as_deref().map_or("", String::as_str),
                        );
                        self.approver_task.submit(
                            jobs,
                            Job::RegisterApprover {
                                name: self.approver_name.trim().to_string(),
                                passphrase,
                            },
                        );
                    }
                    self.approver_task.ui(ui);
                });
        });
    }

    fn kill_switch_ui(
        &mut self,
        ui: &mut Ui,
        view: &StoreView,
        m: &ManagerView,
        selected: Option<&KeyRef>,
        jobs: &Jobs,
    ) {
        theme::card(ui).show(ui, |ui| {
            ui.set_width(ui.available_width());
            section(ui, "⛔ Kill switch");
            ui.label(theme::weak(
                ui,
                "Suspending a key deletes its imported material: every call that uses it fails until it is restored from escrow.",
            ));
            let k = &mut self.kill;
            let sel_key = selected.and_then(|s| view.key(s));
            ui.horizontal_wrapped(|ui| {
                ui.radio_value(
                    &mut k.by_tag,
                    false,
                    format!(
                        "The selected key ({})",
                        sel_key.map_or("none".to_string(), |k| k.label.clone())
                    ),
                );
                ui.radio_value(&mut k.by_tag, true, "Every key with the tag");
                let l = ui.label("Tag key");
                ui.add_enabled(k.by_tag, egui::TextEdit::singleline(&mut k.tag_key).desired_width(120.0))
                    .labelled_by(l.id);
                let l = ui.label("=");
                ui.add_enabled(k.by_tag, egui::TextEdit::singleline(&mut k.tag_value).desired_width(120.0))
                    .labelled_by(l.id)
                    .on_hover_text("Tag value");
            });
            let selection = if k.by_tag {
                (!k.tag_key.trim().is_empty()).then(|| KillSelection::Tag {
                    key: k.tag_key.trim().to_string(),
                    value: k.tag_value.trim().to_string(),
                })
            } else {
                sel_key
                    .filter(|k| k.is_external())
                    .map(|k| KillSelection::Keys(vec![k.id.clone()]))
            };
            if ui
                .add_enabled(
                    selection.is_some() && !k.preview_task.busy() && !k.suspend_task.busy(),
                    egui::Button::new("Preview blast radius"),
                )
                .clicked()
                && let Some(s) = selection
            {
                k.preview = None;
                k.preview_task.submit(jobs, Job::BlastRadius(s));
            }
            k.preview_task.ui(ui);
            if let Some(b) = k.preview.clone() {
                blast_summary_ui(ui, &b);
                let unrecoverable: usize = b.keys.iter().map(|k| k.without_escrow.len()).sum();
                ui.horizontal_wrapped(|ui| {
                    let label = format!("⛔ Suspend {}…", format::plural(b.keys.len() as u64, "key"));
                    if ui
                        .add_enabled(
                            !k.suspend_task.busy(),
                            egui::Button::new(RichText::new(label).strong().color(Color32::WHITE))
                                .fill(theme::RED),
                        )
                        .clicked()
                    {
                        k.confirm = true;
                    }
                    if unrecoverable > 0 {
                        ui.label(theme::colored(
                            ui,
                            format!(
                                "{} without an escrow copy: byok cannot restore {}.",
                                format::plural(unrecoverable as u64, "material"),
                                if unrecoverable == 1 { "it" } else { "them" }
                            ),
                            theme::RED,
                        ));
                    }
                });
                blast_ui(ui, view, &b);
            }
            k.suspend_task.ui(ui);
            if !m.suspended.is_empty() {
                ui.separator();
                ui.label(RichText::new("Suspended keys").strong());
                for arn in &m.suspended {
                    ui.horizontal(|ui| {
                        theme::badge(ui, "SUSPENDED", theme::BadgeStyle::on(theme::RED));
                        ui.label(key_label(view, arn));
                        if ui
                            .add_enabled(!self.restore_task.busy(), egui::Button::new("Restore from escrow"))
                            .accessible_name(format!("Restore {}", key_label(view, arn)))
                            .clicked()
                        {
                            self.restore_task.submit(
                                jobs,
                                Job::Restore {
                                    keys: vec![KeyRef::new(arn)],
                                },
                            );
                        }
                    });
                }
                self.restore_task.ui(ui);
            }
        });
    }

    fn dialogs(&mut self, ui: &mut Ui, view: &StoreView, jobs: &Jobs, actions: &mut Vec<Action>) {
        let ctx = ui.ctx().clone();
        if let Some(d) = &mut self.decision {
            let mut close = false;
            let modal = egui::Modal::new(egui::Id::unique("manager-decide")).show(&ctx, |ui| {
                ui.set_width(520.0);
                ui.heading(format!("Approve {}?", d.action));
                ui.label(format!("What will happen: {}.", d.what));
                ui.label(theme::weak(
                    ui,
                    "A registered approver other than the officer who asked signs with their own passphrase.",
                ));
                ui.add_space(6.0);
                let l = ui.label("Approver name");
                ui.add(egui::TextEdit::singleline(&mut d.approver).desired_width(340.0))
                    .labelled_by(l.id);
                secret_field(ui, &mut d.passphrase, "Approver passphrase", "");
                d.task.ui(ui);
                ui.add_space(6.0);
                let busy = d.task.busy();
                let ready = !busy && !d.approver.trim().is_empty() && !d.passphrase.is_empty();
                ui.horizontal(|ui| {
                    for (label, approve) in [("Approve and run", true), ("Refuse", false)] {
                        let button = if approve {
                            theme::primary(label)
                        } else {
                            egui::Button::new(label)
                        };
                        if ui.add_enabled(ready, button).clicked() {
                            let passphrase = SecretString::from(d.passphrase.as_str());
                            d.passphrase = secret_buffer();
                            d.task.submit(
                                jobs,
                                Job::Decide {
                                    action: d.action.clone(),
                                    approver: d.approver.trim().to_string(),
                                    passphrase,
                                    approve,
                                },
                            );
                        }
                    }
                    if ui.add_enabled(!busy, egui::Button::new("Cancel")).clicked() {
                        close = true;
                    }
                });
            });
            if (close || theme::escape_closes(&modal)) && !d.task.busy() {
                self.decision = None;
            }
        }
        if self.kill.confirm
            && let Some(b) = self.kill.preview.clone()
        {
            let mut close = false;
            let modal = egui::Modal::new(egui::Id::unique("manager-suspend")).show(&ctx, |ui| {
                ui.set_max_width(560.0);
                ui.heading(format!("Suspend {}?", format::plural(b.keys.len() as u64, "key")));
                ui.label(format!(
                    "{} will be deleted from {}. Every Encrypt, Decrypt and GenerateDataKey with {} fails until restored.",
                    format::plural(b.material_count() as u64, "material"),
                    b.keys.iter().map(|k| key_label(view, &k.key_arn)).collect::<Vec<_>>().join(", "),
                    if b.keys.len() == 1 { "it" } else { "them" }
                ));
                let unrecoverable: usize = b.keys.iter().map(|k| k.without_escrow.len()).sum();
                if unrecoverable > 0 {
                    theme::note_box(ui, theme::RED, |ui| {
                        ui.label(RichText::new(format!(
                            "{} without an escrow copy: once deleted, byok cannot restore {}. Only a copy kept outside byok can.",
                            format::plural(unrecoverable as u64, "material"),
                            if unrecoverable == 1 { "it" } else { "them" }
                        )).strong());
                    });
                }
                self.kill.suspend_task.ui(ui);
                ui.add_space(8.0);
                ui.horizontal(|ui| {
                    let busy = self.kill.suspend_task.busy();
                    if ui
                        .add_enabled(
                            !busy,
                            egui::Button::new(RichText::new("⛔ Suspend now").strong().color(Color32::WHITE))
                                .fill(theme::RED),
                        )
                        .clicked()
                    {
                        let keys = b.keys.iter().map(|k| KeyRef::new(&k.key_arn)).collect();
                        self.kill.suspend_task.submit(jobs, Job::Suspend { keys });
                    }
                    if ui.add_enabled(!busy, egui::Button::new("Cancel")).clicked() {
                        close = true;
                    }
                });
            });
            if (close || theme::escape_closes(&modal)) && !self.kill.suspend_task.busy() {
                self.kill.confirm = false;
            }
        }
        if let Some(e) = &mut self.export {
            let mut close = false;
            let modal = egui::Modal::new(egui::Id::unique("manager-export")).show(&ctx, |ui| {
                ui.set_max_width(560.0);
                ui.heading("Export the escrowed key material?");
                let what = view
                    .key(&e.key)
                    .map_or_else(|| "key material".to_string(), escrow_kind);
                ui.label(format!(
                    "The plaintext material {} of {} ({what}) is written to a new file readable by you only. The export is recorded in the audit trail.",
                    e.material.short(),
                    key_label(view, e.key.arn())
                ));
                ui.horizontal(|ui| {
                    let l = ui.label("Export file path");
                    ui.add(egui::TextEdit::singleline(&mut e.path).desired_width(340.0))
                        .labelled_by(l.id);
                    if ui.button("Choose…").clicked() {
                        actions.push(Action::Pick(PickTarget::ExportEscrow));
                    }
                });
                e.task.ui(ui);
                ui.horizontal(|ui| {
                    let busy = e.task.busy();
                    if ui
                        .add_enabled(!busy && !e.path.trim().is_empty(), theme::primary("Export plaintext material"))
                        .clicked()
                    {
                        e.task.submit(
                            jobs,
                            Job::ExportEscrow {
                                key: e.key.clone(),
                                material: e.material,
                                path: PathBuf::from(e.path.trim()),
                            },
                        );
                    }
                    if ui.add_enabled(!busy, egui::Button::new("Cancel")).clicked() {
                        close = true;
                    }
                });
            });
            if (close || theme::escape_closes(&modal)) && !e.task.busy() {
                self.export = None;
            }
        }
    }
}

/// A section's title: a little larger than the body text (and growing with
/// it in presentation mode).
fn section(ui: &mut Ui, text: impl Into<String>) {
    let size = ui
        .style()
        .text_styles
        .get(&egui::TextStyle::Body)
        .map_or(16.0, |f| f.size * 1.2);
    ui.label(RichText::new(text).strong().size(size));
}

/// The escrow status of a material: kept, or none.
pub fn escrow_badge(ui: &mut Ui, kept: bool) -> egui::Response {
    if kept {
        theme::badge(ui, "kept", theme::BadgeStyle::on(theme::GREEN))
            .on_hover_text("The store holds the custodian's copy (restore and renewal possible)")
    } else {
        ui.label(theme::weak(ui, "none"))
            .on_hover_text("byok holds no copy of this material")
    }
}

/// What an escrow copy of `key`'s material holds, in words: "32 bytes",
/// "32 to 64 bytes of HMAC key", "an RSA_2048 private key, DER PKCS #8 ...".
fn escrow_kind(key: &KeyView) -> String {
    match key.key_spec {
        Some(s) if s.is_hmac() => format!("HMAC key material of {}", format::material_lengths(s)),
        Some(s) => format::material_lengths(s),
        None => format!("{} key material", key.key_spec_text),
    }
}

/// A key's label, or its ARN when it is not in the view.
fn key_label(view: &StoreView, arn: &str) -> String {
    view.key(&KeyRef::new(arn))
        .map_or_else(|| arn.to_string(), |k| k.label.clone())
}

/// A policy in one line.
fn policy_summary(p: &KeyPolicy) -> String {
    let mut parts = Vec::new();
    if let Some(d) = p.rotate_every_days {
        parts.push(format!(
            "rotate every {}",
            format::plural(u64::from(d), "day")
        ));
    }
    if let Some(d) = p.valid_for_days {
        parts.push(format!("valid {}", format::plural(u64::from(d), "day")));
    }
    if let Some(d) = p.renew_before_days {
        parts.push(format!("renew {d} days before ValidTo"));
    }
    if p.escrow {
        parts.push("escrow".into());
    }
    if p.dual_control {
        parts.push("dual control".into());
    }
    if parts.is_empty() {
        "nothing scheduled".into()
    } else {
        parts.join(" · ")
    }
}

fn status_badge(ui: &mut Ui, s: &DueStatus) -> egui::Response {
    match s {
        DueStatus::Due => theme::badge(ui, "DUE", theme::BadgeStyle::on(theme::AMBER)),
        DueStatus::Upcoming => theme::badge(ui, "UPCOMING", theme::BadgeStyle::on(theme::SLATE)),
        DueStatus::AwaitingApproval => theme::badge(
            ui,
            "AWAITING APPROVAL",
            theme::BadgeStyle::on(theme::VIOLET),
        ),
        DueStatus::InProgress => {
            theme::badge(ui, "IN PROGRESS", theme::BadgeStyle::on(theme::BLUE))
        }
        DueStatus::Blocked(why) => theme::badge(ui, "BLOCKED", theme::BadgeStyle::on(theme::RED))
            .on_hover_text(why.as_str()),
    }
}

fn due_cell(ui: &mut Ui, d: &DueItem, now: Timestamp) {
    status_badge(ui, &d.status);
    ui.add(egui::Label::new(format!("{} {}", d.what, format::relative(d.when, now))).truncate())
        .on_hover_text(format::date_time(d.when));
}

fn due_ui(ui: &mut Ui, view: &StoreView, m: &ManagerView, now: Timestamp) {
    theme::card(ui).show(ui, |ui| {
        ui.set_width(ui.available_width());
        section(ui, "Due and upcoming");
        if m.due.is_empty() {
            ui.label(theme::weak(ui, "Nothing is scheduled."));
            return;
        }
        for (n, d) in m.due.iter().take(40).enumerate() {
            if n > 0 {
                ui.separator();
            }
            ui.horizontal_wrapped(|ui| {
                ui.add_sized(
                    [90.0, 18.0],
                    egui::Label::new(RichText::new(format::relative(d.when, now)).strong()),
                )
                .on_hover_text(format::date_time(d.when));
                status_badge(ui, &d.status);
                ui.label(RichText::new(key_label(view, &d.key_arn)).strong());
                ui.label(d.what.as_str());
                if d.added_cost_usd > 0 {
                    ui.label(theme::colored(
                        ui,
                        format!("+{}/month", format::usd(d.added_cost_usd)),
                        theme::AMBER,
                    ))
                    .on_hover_text(
                        "Each of a key's first two rotations adds $1 a month; later ones are free",
                    );
                }
            });
            if let DueStatus::Blocked(why) = &d.status {
                ui.label(theme::colored(ui, why.as_str(), theme::RED));
            }
        }
    });
}

fn blast_summary_ui(ui: &mut Ui, b: &BlastRadius) {
    let unrecoverable: usize = b.keys.iter().map(|k| k.without_escrow.len()).sum();
    ui.label(
        RichText::new(format!(
            "Blast radius: {} · {} deleted · {} unrecoverable · {} in the last {} days",
            format::plural(b.keys.len() as u64, "key"),
            format::plural(b.material_count() as u64, "material"),
            unrecoverable,
            format::plural(b.call_count(), "call"),
            30
        ))
        .strong(),
    );
}

fn blast_ui(ui: &mut Ui, view: &StoreView, b: &BlastRadius) {
    for k in &b.keys {
        theme::card(ui).show(ui, |ui| {
            ui.set_width(ui.available_width());
            ui.horizontal_wrapped(|ui| {
                ui.label(RichText::new(key_label(view, &k.key_arn)).strong());
                ui.label(theme::weak(ui, k.key_state.as_str()));
                if k.aliases.is_empty() {
                    ui.label(theme::weak(ui, "no alias"));
                } else {
                    ui.label(format!("aliases: {}", k.aliases.join(", ")));
                }
            });
            egui::Grid::new(("blast", &k.key_arn))
                .striped(true)
                .num_columns(4)
                .show(ui, |ui| {
                    for (id, description, state) in &k.materials {
                        ui.label(RichText::new(crate::manager::state::short(id)).monospace());
                        ui.label(state.as_str());
                        if k.without_escrow.contains(id) {
                            ui.label(
                                theme::colored(ui, "✖ no escrow: unrecoverable", theme::RED)
                                    .strong(),
                            );
                        } else {
                            escrow_badge(ui, true);
                        }
                        let usage = k
                            .usage
                            .iter()
                            .find(|u| u.key_material_id.as_deref() == Some(id.as_str()));
                        ui.vertical(|ui| {
                            if let Some(d) = description {
                                ui.label(theme::weak(ui, d.as_str()));
                            }
                            match usage {
                                Some(u) => usage_ui(ui, u),
                                None => {
                                    ui.label(theme::weak(ui, "not used in the last 30 days"));
                                }
                            }
                        });
                        ui.end_row();
                    }
                });
            if let Some(u) = k.usage.iter().find(|u| u.key_material_id.is_none()) {
                ui.label(theme::weak(ui, "Calls that name no material:"));
                usage_ui(ui, u);
            }
            if let Some(n) = &k.usage_note {
                ui.label(theme::colored(ui, n.as_str(), theme::AMBER));
            }
        });
    }
}

fn usage_ui(ui: &mut Ui, u: &crate::manager::MaterialUse) {
    let calls: Vec<String> = u.calls.iter().map(|(op, n)| format!("{op} {n}")).collect();
    ui.label(format!(
        "{}{}",
        calls.join(" · "),
        u.last_used
            .as_ref()
            .map(|l| format!(" · last {l}"))
            .unwrap_or_default()
    ));
    if !u.callers.is_empty() {
        ui.label(theme::weak(
            ui,
            format!(
                "callers: {}",
                u.callers.iter().cloned().collect::<Vec<_>>().join(", ")
            ),
        ));
    }
    if !u.contexts.is_empty() {
        ui.label(theme::weak(
            ui,
            format!(
                "encryption contexts: {}",
                u.contexts.iter().cloned().collect::<Vec<_>>().join(" ")
            ),
        ));
    }
}

fn recent_ui(ui: &mut Ui, view: &StoreView, m: &ManagerView) {
    egui::CollapsingHeader::new(format!("Recent results ({})", m.recent.len()))
        .id_salt("manager-recent")
        .default_open(true)
        .show(ui, |ui| {
            if m.recent.is_empty() {
                ui.label(theme::weak(ui, "No action has run yet."));
                return;
            }
            egui::Grid::new("recent")
                .striped(true)
                .num_columns(4)
                .show(ui, |ui| {
                    for a in m.recent.iter().take(15) {
                        ui.label(a.finished.map(format::date_time).unwrap_or_default());
                        ui.label(key_label(view, &a.key_arn));
                        ui.label(a.what.as_str());
                        let text = if a.failed {
                            theme::colored(ui, format!("✖ {}", a.result), theme::RED)
                        } else {
                            RichText::new(format!("✔ {}", a.result))
                        };
                        ui.add(egui::Label::new(text).wrap());
                        ui.end_row();
                    }
                });
        });
}
