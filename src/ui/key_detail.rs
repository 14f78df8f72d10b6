//! The key detail: ARN with a copy button, the state badge with a plain-words
//! explanation, the actions the engine allows now, the "Key material and
//! rotations" table (as in the AWS console) with per-row Delete key
//! material… and Reimport…, the rotation-in-progress indicator, aliases,
//! tags and description, and the material timeline below.

use std::time::{Duration, Instant};

use egui::{Align, Color32, Layout, RichText, Ui};
use egui_extras::{Column, TableBuilder};

use super::action::{Action, Owner};
use super::format;
use super::key_list::{expiry_color, state_explanation};
use super::theme;
use super::timeline::Timeline;
use super::view::{KeyRef, KeyView, MaterialView, StoreView};
use super::worker::{Job, Jobs, Outcome, Pending, Ticket, UiError};
use crate::kms::{
    ExpirationModel, ImportState, KeyMaterialId, KeyMaterialState, KeyState,
    ON_DEMAND_ROTATION_LIMIT, Tag, Timestamp,
};

/// How long a completed rotation stays highlighted.
pub const TRANSITION: Duration = Duration::from_millis(2200);

/// A rotation the engine just completed, animated for a moment: detected by
/// comparing two views (the rotation's start date disappears and the
/// current material changes), never by a UI timer.
#[derive(Clone, Debug)]
pub struct RotationTransition {
    /// The key.
    pub key: KeyRef,
    /// The material that became current.
    pub to: KeyMaterialId,
    /// The material that became non-current.
    pub from: Option<KeyMaterialId>,
    /// When the UI saw it.
    pub seen: Instant,
}

impl RotationTransition {
    /// 0 at completion, 1 when the animation is over.
    pub fn progress(&self) -> f32 {
        (self.seen.elapsed().as_secs_f32() / TRANSITION.as_secs_f32()).min(1.0)
    }
}

enum Dialog {
    DeleteMaterial {
        key: KeyRef,
        material: KeyMaterialId,
    },
    ScheduleDeletion {
        key: KeyRef,
        days: u32,
    },
    /// Rotate now: it uses one of 25 on-demand rotations and may add cost.
    Rotate {
        key: KeyRef,
    },
}

/// The key detail's state.
#[derive(Default)]
pub struct KeyDetail {
    edits_for: Option<KeyRef>,
    /// The status slot's height for the key shown: it grows to the tallest
    /// banner seen and never shrinks while the key is shown.
    status_height: f32,
    description: String,
    new_alias: String,
    tag_key: String,
    tag_value: String,
    dialog: Option<Dialog>,
    pending: Option<Pending<&'static str>>,
    error: Option<(&'static str, UiError)>,
    /// A multi-Region key's set and its operations.
    multi_region: super::multi_region::MultiRegionPanel,
    /// The timeline below the table.
    pub timeline: Timeline,
}

impl KeyDetail {
    /// Whether `ticket` is this screen's.
    pub fn owns(&self, ticket: Ticket) -> bool {
        self.pending.as_ref().is_some_and(|p| p.ticket == ticket)
    }

    /// A job's result; returns a notice to show on success.
    pub fn finished(
        &mut self,
        ticket: Ticket,
        outcome: &Result<Outcome, UiError>,
    ) -> Option<String> {
        if !self.owns(ticket) {
            return None;
        }
        let what = self.pending.take()?.what;
        match outcome {
            Ok(Outcome::Changed(text)) => {
                self.error = None;
                Some(text.clone())
            }
            Ok(Outcome::RotationStarted(_)) => {
                self.error = None;
                Some("Rotation started".into())
            }
            Ok(Outcome::MaterialDeleted { material, .. }) => {
                self.error = None;
                Some(format!("Key material {}… deleted", material.short()))
            }
            Ok(Outcome::KeyCreated(_)) => None,
            Ok(_) => None,
            Err(e) => {
                self.error = Some((what, e.clone()));
                None
            }
        }
    }

    /// Asks to rotate `key` now (the button and the Ctrl+R shortcut): the
    /// confirmation names the rotations used and the cost.
    pub fn confirm_rotate(&mut self, key: KeyRef) {
        self.dialog = Some(Dialog::Rotate { key });
    }

    /// Whether a dialog is open (the console's shortcuts wait).
    pub fn has_dialog(&self) -> bool {
        self.dialog.is_some() || self.multi_region.has_dialog()
    }

    fn run(&mut self, jobs: &Jobs, what: &'static str, job: Job) {
        self.error = None;
        self.pending = Some(Pending::submit(jobs, Owner::Keys, what, job));
    }

    /// The status slot: the state note, the rotation banners or, when
    /// nothing is under way, a quiet line, all in one place whose height
    /// never shrinks while the key is shown, so the actions and the table
    /// below stay where they are when a rotation starts, completes or a
    /// material goes missing (issue 10, item 8). The state note, when there
    /// is one, says what matters most.
    fn status_slot(
        &mut self,
        ui: &mut Ui,
        key: &KeyView,
        view: &StoreView,
        now: Timestamp,
        transitions: &[RotationTransition],
        busy: bool,
    ) -> Vec<Action> {
        // The floor fits the usual banners: a heading row, two lines of text
        // and a row of buttons, inside the note's margins.
        let spacing = ui.spacing();
        let line = ui.text_style_height(&egui::TextStyle::Body);
        let button = line.max(spacing.interact_size.y) + 2.0 * spacing.button_padding.y;
        let floor =
            NOTE_MARGINS + BANNER_HEADING + 2.0 * line + button + 3.0 * spacing.item_spacing.y;
        let reserved = self.status_height.max(floor);
        let mut actions = Vec::new();
        let slot = ui.vertical(|ui| {
            ui.set_min_height(reserved);
            // A rotation the engine just completed, while the table animates.
            let completed = transitions
                .iter()
                .find(|t| t.key == key.id && t.progress() < 1.0);
            if matches!(
                key.state,
                KeyState::PendingImport | KeyState::PendingDeletion | KeyState::Disabled
            ) {
                actions.extend(state_note(ui, key, now, busy));
            } else if let Some(started) = key.rotation_started {
                rotation_banner(ui, key, view, now, started);
            } else if let Some(t) = completed {
                completion_banner(ui, t);
            } else {
                idle_status(ui, key);
            }
        });
        self.status_height = reserved.max(slot.response.rect.height());
        actions
    }

    /// Draws the detail of `key`.
    pub fn ui(
        &mut self,
        ui: &mut Ui,
        key: &KeyView,
        view: &StoreView,
        now: Timestamp,
        transitions: &[RotationTransition],
        jobs: &Jobs,
    ) -> Vec<Action> {
        let mut actions = Vec::new();
        if self.edits_for.as_ref() != Some(&key.id) {
            self.edits_for = Some(key.id.clone());
            self.status_height = 0.0;
            self.description = key.description.clone();
            self.new_alias.clear();
            self.tag_key.clear();
            self.tag_value.clear();
            self.error = None;
        }
        let busy = self.pending.is_some();

        // Title, ARN, state.
        ui.horizontal_wrapped(|ui| {
            ui.label(RichText::new(key.label.as_str()).heading().strong());
            super::key_list::state_badge(ui, key, now);
            ui.label(
                theme::colored(ui, key.origin_text.as_str(), theme::origin(key.origin)).strong(),
            );
            let spec = key.spec_line();
            if !spec.is_empty() {
                ui.label(RichText::new(spec).monospace())
                    .on_hover_text(spec_hover(key));
            }
            if let Some(words) = &key.multi_region {
                ui.label(theme::colored(ui, words.as_str(), theme::BLUE))
                    .on_hover_text(
                        "The same key id and key material in every Region of the set; \
                         each Region's key is used and imported into on its own \
                         (byok kms --region, or the SDK's region through byok serve)",
                    );
            }
        });
        actions.extend(self.multi_region.row(ui, key, view, busy));
        ui.horizontal_wrapped(|ui| {
            ui.label(theme::weak(ui, "ARN"));
            ui.add(egui::Label::new(RichText::new(key.arn.as_str()).monospace()).selectable(true));
            if ui
                .button("🗐 Copy ARN")
                .on_hover_text("Copy the key ARN")
                .clicked()
            {
                actions.push(Action::Copy(key.arn.clone()));
                actions.push(Action::Notify("ARN copied".into()));
            }
        });
        ui.horizontal_wrapped(|ui| {
            ui.label(theme::weak(
                ui,
                format!("Created {}", format::date_time(key.creation_date)),
            ));
            ui.label(theme::weak(ui, "·"));
            ui.label(theme::weak(
                ui,
                if key.rotates_on_demand() {
                    format!(
                        "On-demand rotations {}/{ON_DEMAND_ROTATION_LIMIT}",
                        key.on_demand_rotations
                    )
                } else {
                    format!("{} keys rotate manually", key.key_spec_text)
                },
            ));
            ui.label(theme::weak(ui, "·"));
            ui.label(theme::weak(
                ui,
                format!("Estimated {} / month", format::usd(key.monthly_cost)),
            ));
            if let Some(auto) = key.automatic_rotation {
                ui.label(theme::weak(ui, "·"));
                ui.label(theme::weak(
                    ui,
                    format!(
                        "Automatic rotation every {} days, next {}",
                        auto.period_days,
                        format::relative(auto.next_rotation_date, now)
                    ),
                ));
            }
        });
        ui.add_space(4.0);

        actions.extend(self.status_slot(ui, key, view, now, transitions, busy));

        // Actions.
        ui.add_space(4.0);
        ui.horizontal_wrapped(|ui| {
            // Offered where the engine would accept it; elsewhere the
            // button says why not.
            let (label, enable) = if key.enabled_flag {
                ("Disable key", false)
            } else {
                ("Enable key", true)
            };
            let op = if enable { "EnableKey" } else { "DisableKey" };
            let switch = ui
                .add_enabled(!busy && key.verdicts.set_enabled.is_ok(), egui::Button::new(label))
                .on_hover_text(op);
            let switch = match &key.verdicts.set_enabled {
                Ok(()) => switch,
                Err(e) => switch.on_disabled_hover_text(format!(
                    "Not possible now: {} ({}: {})",
                    switch_refusal(key.state),
                    e.aws_name(),
                    e.message()
                )),
            };
            if switch.clicked() {
                self.run(jobs, label, Job::SetEnabled { key: key.id.clone(), enabled: enable });
            }
            let rotate_ok = key.verdicts.rotate.is_ok();
            let rotate_button = if rotate_ok {
                theme::primary("⟳ Rotate now")
            } else {
                egui::Button::new("⟳ Rotate now")
            };
            let rotate = ui.add_enabled(!busy && rotate_ok, rotate_button);
            let rotate = match &key.verdicts.rotate {
                Ok(()) => rotate.on_hover_text(
                    "Make the pending material current (RotateKeyOnDemand, Ctrl+R). The rotation completes in the background.",
                ),
                Err(e) => rotate.on_disabled_hover_text(format!(
                    "Not possible now: {} ({}: {})",
                    rotate_refusal(e.kind(), key),
                    e.aws_name(),
                    e.message()
                )),
            };
            if rotate.clicked() {
                self.confirm_rotate(key.id.clone());
            }
            // Keys that cannot rotate on demand are rotated by hand: a new
            // key of the same spec, usage and origin, then the aliases.
            if key.manual_rotation.is_ok() || key.is_mac_key() {
                let manual = ui
                    .add_enabled(
                        !busy && key.manual_rotation.is_ok(),
                        egui::Button::new("Manual rotation…"),
                    )
                    .on_hover_text(
                        "A new key of the same key spec, usage and origin (CreateKey), its material imported \
                         (GetParametersForImport, ImportKeyMaterial), then the aliases moved to it (UpdateAlias)",
                    );
                let manual = match &key.manual_rotation {
                    Ok(()) => manual,
                    Err(e) => manual.on_disabled_hover_text(refusal_text(e)),
                };
                if manual.clicked() {
                    actions.push(Action::ManualRotation { key: key.id.clone() });
                }
            }
            if key.is_external() {
                let import = ui
                    .add_enabled(
                        !busy && key.verdicts.get_parameters.is_ok(),
                        egui::Button::new("📥 Import key material…"),
                    )
                    .on_hover_text("GetParametersForImport, wrap, ImportKeyMaterial (Ctrl+I)");
                let import = match &key.verdicts.get_parameters {
                    Ok(()) => import,
                    Err(e) => import.on_disabled_hover_text(refusal_text(e)),
                };
                if import.clicked() {
                    actions.push(Action::OpenImportWizard { key: key.id.clone(), reimport: None });
                }
            }
            if key.state == KeyState::PendingDeletion {
                if ui
                    .add_enabled(!busy && key.verdicts.cancel_deletion.is_ok(), egui::Button::new("Cancel deletion"))
                    .clicked()
                {
                    self.run(jobs, "Cancel deletion", Job::CancelDeletion { key: key.id.clone() });
                }
            } else {
                let schedule = ui
                    .add_enabled(
                        !busy && key.verdicts.schedule_deletion.is_ok(),
                        egui::Button::new(theme::colored(ui, "🗑 Schedule deletion…", theme::RED)),
                    );
                let schedule = match &key.verdicts.schedule_deletion {
                    Ok(()) => schedule,
                    Err(e) => schedule.on_disabled_hover_text(refusal_text(e)),
                };
                if schedule.clicked() {
                    self.dialog = Some(Dialog::ScheduleDeletion { key: key.id.clone(), days: 30 });
                }
            }
            if let Some(p) = &self.pending {
                theme::spinner(ui);
                ui.label(format!("{}… {:.1} s", p.what, p.started.elapsed().as_secs_f32()));
            }
        });
        if let Some((what, e)) = &self.error {
            ui.label(theme::weak(ui, format!("{what} failed:")));
            theme::error_box(ui, e);
        }

        // Materials.
        ui.add_space(10.0);
        ui.heading("Key material and rotations");
        if key.materials.is_empty() {
            ui.label(theme::weak(
                ui,
                "No key material yet. Import key material to use this key.",
            ));
        } else {
            self.materials_table(ui, key, now, transitions, busy, &mut actions, view);
        }

        // Aliases, tags, description.
        ui.add_space(8.0);
        egui::CollapsingHeader::new("Aliases, tags and description")
            .default_open(false)
            .show(ui, |ui| self.metadata_ui(ui, key, busy, jobs));

        ui.add_space(10.0);
        let mut timeline_actions = self.timeline.ui(ui, key, view, now, jobs);
        actions.append(&mut timeline_actions);

        self.dialogs(ui, view, jobs);
        if let Some((what, job)) = self.multi_region.dialogs(ui, view) {
            self.run(jobs, what, job);
        }
        actions
    }

    #[allow(clippy::too_many_arguments)]
    fn materials_table(
        &mut self,
        ui: &mut Ui,
        key: &KeyView,
        now: Timestamp,
        transitions: &[RotationTransition],
        busy: bool,
        actions: &mut Vec<Action>,
        view: &StoreView,
    ) {
        let transition = transitions.iter().find(|t| t.key == key.id);
        let cols = MaterialColumns::fit(ui, key, now);
        let row_h =
            (ui.spacing().interact_size.y + 8.0).max(34.0) * if cols.two_lines { 1.7 } else { 1.0 };
        let table_height = row_h * key.materials.len() as f32 + 40.0;
        let headers: Vec<&str> = [
            "Key material ID",
            "Description",
            "Material state",
            "Import state",
            "Expiration",
            "Rotation date",
            "Escrow",
            "Actions",
        ]
        .into_iter()
        .filter(|h| !(cols.fold_import && *h == "Import state"))
        .filter(|h| !(cols.fold_escrow && *h == "Escrow"))
        .collect();
        // Wider than the pane only when even the narrowest layout does not
        // fit (large text in a small window): then it scrolls sideways, with
        // a scroll bar, rather than cutting a column.
        egui::ScrollArea::horizontal()
            .id_salt(("materials-scroll", &key.id))
            .show(ui, |ui| {
                ui.push_id(("materials", &key.id), |ui| {
                    let mut table = TableBuilder::new(ui)
                        .striped(true)
                        .resizable(false)
                        .vscroll(false)
                        .cell_layout(Layout::left_to_right(Align::Center));
                    for w in cols.widths() {
                        table = table.column(Column::exact(w).clip(true));
                    }
                    table
                        .max_scroll_height(table_height)
                        .header(26.0 * cols.scale, |mut h| {
                            for title in &headers {
                                h.col(|ui| {
                                    ui.label(RichText::new(*title).strong());
                                });
                            }
                        })
                        .body(|mut body| {
                            for m in &key.materials {
                                body.row(row_h, |mut row| {
                                    let glow = transition.and_then(|t| {
                                        (t.to == m.id || t.from == Some(m.id))
                                            .then(|| (t.progress(), t.to == m.id))
                                    });
                                    row.col(|ui| {
                                        paint_glow(ui, glow);
                                        ui.add(
                                            egui::Label::new(
                                                RichText::new(m.short.as_str())
                                                    .monospace()
                                                    .strong(),
                                            )
                                            .selectable(false),
                                        )
                                        .on_hover_text(m.id.to_string());
                                        if ui
                                            .small_button("🗐")
                                            .on_hover_text("Copy the full KeyMaterialId")
                                            .accessible_name(format!(
                                                "Copy key material ID {}",
                                                m.short
                                            ))
                                            .clicked()
                                        {
                                            actions.push(Action::Copy(m.id.to_string()));
                                            actions.push(Action::Notify(
                                                "KeyMaterialId copied".into(),
                                            ));
                                        }
                                        if cols.fold_escrow && view.escrowed(&key.id, m.id) {
                                            ui.label(ESCROW_MARK).on_hover_text(
                                                "Escrow: the store holds the custodian's copy \
                                                 (restore and renewal possible)",
                                            );
                                        }
                                    });
                                    row.col(|ui| {
                                        paint_glow(ui, glow);
                                        match &m.description {
                                            Some(d) => {
                                                ui.add(egui::Label::new(d.as_str()).truncate())
                                            }
                                            None => ui.label(theme::weak(ui, "—")),
                                        };
                                    });
                                    row.col(|ui| {
                                        paint_glow(ui, glow);
                                        if cols.fold_import
                                            && m.import_state != ImportState::Imported
                                        {
                                            // The Import state column gave way: a
                                            // material pending import says so here.
                                            ui.vertical(|ui| {
                                                ui.horizontal(|ui| {
                                                    material_state_cell(ui, key, m, now, glow)
                                                });
                                                theme::badge(
                                                    ui,
                                                    m.import_state.as_str(),
                                                    theme::import_state(m.import_state),
                                                );
                                            });
                                        } else {
                                            material_state_cell(ui, key, m, now, glow);
                                        }
                                    });
                                    if !cols.fold_import {
                                        row.col(|ui| {
                                            paint_glow(ui, glow);
                                            theme::badge(
                                                ui,
                                                m.import_state.as_str(),
                                                theme::import_state(m.import_state),
                                            );
                                        });
                                    }
                                    row.col(|ui| {
                                        paint_glow(ui, glow);
                                        match (m.expiration_model, m.valid_to) {
                                            (ExpirationModel::KeyMaterialExpires, Some(v)) => {
                                                let text = if m.import_state
                                                    == ImportState::PendingImport
                                                    && v <= now
                                                {
                                                    format!("expired {}", format::day(v))
                                                } else {
                                                    format::relative(v, now)
                                                };
                                                let color = expiry_color(v, now);
                                                let r = match color {
                                                    Some(c) => ui.label(
                                                        theme::colored(ui, text, c).strong(),
                                                    ),
                                                    None => ui.label(text),
                                                };
                                                r.on_hover_text(format!(
                                                    "ValidTo {}",
                                                    format::date_time(v)
                                                ));
                                            }
                                            _ => {
                                                ui.label(theme::weak(ui, "does not expire"));
                                            }
                                        }
                                    });
                                    row.col(|ui| {
                                        paint_glow(ui, glow);
                                        match (m.rotation_date, m.rotation_type) {
                                            (Some(d), Some(t)) => {
                                                let text = if cols.rotation_time {
                                                    format::day_time(d)
                                                } else {
                                                    format::day(d)
                                                };
                                                ui.label(text).on_hover_text(format!(
                                                    "RotationDate {} ({})",
                                                    format::date_time_secs(d),
                                                    t.as_str()
                                                ));
                                            }
                                            _ => {
                                                ui.label(theme::weak(ui, "—"));
                                            }
                                        }
                                    });
                                    // The key manager's escrow copy (issue 12).
                                    if !cols.fold_escrow {
                                        row.col(|ui| {
                                            paint_glow(ui, glow);
                                            super::manager::escrow_badge(
                                                ui,
                                                view.escrowed(&key.id, m.id),
                                            );
                                        });
                                    }
                                    row.col(|ui| {
                                        paint_glow(ui, glow);
                                        if !key.is_external() {
                                            ui.label(theme::weak(ui, "generated by KMS"));
                                            return;
                                        }
                                        if m.import_state == ImportState::Imported {
                                            let delete = ui
                                                .add_enabled(
                                                    !busy && m.delete_check.is_ok(),
                                                    egui::Button::new("Delete…"),
                                                )
                                                .accessible_name(format!(
                                                    "Delete key material {}",
                                                    m.short
                                                ))
                                                .on_hover_text("DeleteImportedKeyMaterial");
                                            let delete = match &m.delete_check {
                                                Ok(()) => delete,
                                                Err(e) => {
                                                    delete.on_disabled_hover_text(refusal_text(e))
                                                }
                                            };
                                            if delete.clicked() {
                                                self.dialog = Some(Dialog::DeleteMaterial {
                                                    key: key.id.clone(),
                                                    material: m.id,
                                                });
                                            }
                                        }
                                        // As in the AWS console, re-import is always
                                        // offered: it also changes a material's expiry.
                                        let reimport = ui
                                    .add_enabled(
                                        !busy && key.verdicts.reimport.is_ok(),
                                        egui::Button::new("Reimport…"),
                                    )
                                    .accessible_name(format!("Reimport key material {}", m.short))
                                    .on_hover_text(if m.import_state == ImportState::Imported {
                                        "Import this same material again (to change its expiration)"
                                    } else {
                                        "Import this same material again"
                                    });
                                        let reimport = match &key.verdicts.reimport {
                                            Ok(()) => reimport,
                                            Err(e) => {
                                                reimport.on_disabled_hover_text(refusal_text(e))
                                            }
                                        };
                                        if reimport.clicked() {
                                            actions.push(Action::OpenImportWizard {
                                                key: key.id.clone(),
                                                reimport: Some(m.id),
                                            });
                                        }
                                    });
                                });
                            }
                        });
                });
            });
    }

    fn metadata_ui(&mut self, ui: &mut Ui, key: &KeyView, busy: bool, jobs: &Jobs) {
        // The engine refuses changes to a key pending deletion; it says so inline.
        let editable = !busy;
        ui.label(RichText::new("Aliases").strong());
        if key.aliases.is_empty() {
            ui.label(theme::weak(ui, "No aliases."));
        }
        for a in &key.aliases {
            ui.horizontal(|ui| {
                ui.label(RichText::new(a.as_str()).monospace());
                if ui
                    .add_enabled(!busy, egui::Button::new("Remove").small())
                    .accessible_name(format!("Remove alias {a}"))
                    .clicked()
                {
                    self.run(
                        jobs,
                        "Remove alias",
                        Job::DeleteAlias {
                            key: key.id.clone(),
                            name: a.clone(),
                        },
                    );
                }
            });
        }
        ui.horizontal(|ui| {
            ui.add_enabled(
                editable,
                egui::TextEdit::singleline(&mut self.new_alias)
                    .hint_text("alias/my-key")
                    .desired_width(240.0),
            )
            .accessible_name("New alias");
            if ui
                .add_enabled(
                    editable && !self.new_alias.trim().is_empty(),
                    egui::Button::new("Add alias"),
                )
                .clicked()
            {
                let mut name = self.new_alias.trim().to_string();
                if !name.starts_with("alias/") {
                    name = format!("alias/{name}");
                }
                self.new_alias.clear();
                self.run(
                    jobs,
                    "Add alias",
                    Job::CreateAlias {
                        key: key.id.clone(),
                        name,
                    },
                );
            }
        });
        ui.add_space(6.0);
        ui.label(RichText::new("Tags").strong());
        if key.tags.is_empty() {
            ui.label(theme::weak(ui, "No tags."));
        }
        for t in &key.tags {
            ui.horizontal(|ui| {
                ui.label(RichText::new(format!("{} = {}", t.key, t.value)).monospace());
                if ui
                    .add_enabled(editable, egui::Button::new("Remove").small())
                    .accessible_name(format!("Remove tag {}", t.key))
                    .clicked()
                {
                    self.run(
                        jobs,
                        "Remove tag",
                        Job::Untag {
                            key: key.id.clone(),
                            tag_key: t.key.clone(),
                        },
                    );
                }
            });
        }
        ui.horizontal(|ui| {
            ui.add_enabled(
                editable,
                egui::TextEdit::singleline(&mut self.tag_key)
                    .hint_text("TagKey")
                    .desired_width(140.0),
            )
            .accessible_name("Tag key");
            ui.add_enabled(
                editable,
                egui::TextEdit::singleline(&mut self.tag_value)
                    .hint_text("TagValue")
                    .desired_width(180.0),
            )
            .accessible_name("Tag value");
            if ui
                .add_enabled(
                    editable && !self.tag_key.trim().is_empty(),
                    egui::Button::new("Set tag"),
                )
                .clicked()
            {
                let tag = Tag {
                    key: self.tag_key.trim().to_string(),
                    value: self.tag_value.clone(),
                };
                self.tag_key.clear();
                self.tag_value.clear();
                self.run(
                    jobs,
                    "Set tag",
                    Job::Tag {
                        key: key.id.clone(),
                        tag,
                    },
                );
            }
        });
        ui.add_space(6.0);
        ui.label(RichText::new("Description").strong());
        ui.horizontal(|ui| {
            ui.add_enabled(
                editable,
                egui::TextEdit::singleline(&mut self.description).desired_width(360.0),
            )
            .accessible_name("Key description");
            if ui
                .add_enabled(
                    editable && self.description != key.description,
                    egui::Button::new("Save description"),
                )
                .clicked()
            {
                self.run(
                    jobs,
                    "Save description",
                    Job::UpdateDescription {
                        key: key.id.clone(),
                        description: self.description.clone(),
                    },
                );
            }
        });
    }

    fn dialogs(&mut self, ui: &mut Ui, view: &StoreView, jobs: &Jobs) {
        let Some(dialog) = &mut self.dialog else {
            return;
        };
        let mut close = false;
        let mut run: Option<(&'static str, Job)> = None;
        match dialog {
            Dialog::DeleteMaterial { key, material } => {
                let (key, material) = (key.clone(), *material);
                let Some(k) = view.key(&key) else {
                    self.dialog = None;
                    return;
                };
                let m = k.material(material);
                let pending = m.is_some_and(|m| m.state == KeyMaterialState::PendingRotation);
                let modal = egui::Modal::new(egui::Id::unique("delete-material")).show(ui.ctx(), |ui| {
                    ui.set_max_width(560.0);
                    ui.heading(format!("Delete key material {}…?", material.short()));
                    ui.add(egui::Label::new(RichText::new(material.to_string()).monospace().small()).wrap());
                    if let Some(d) = m.and_then(|m| m.description.as_deref()) {
                        ui.label(format!("Description: {d}"));
                    }
                    ui.add_space(6.0);
                    if pending {
                    theme::note_box(ui, theme::VIOLET, |ui| {
                            ui.label(
                                "This material is pending rotation and has never been current: deleting it removes it \
                                 from the key entirely. The key's state does not change.",
                            );
                        });
                    } else {
                        theme::note_box(ui, theme::AMBER, |ui| {
                            ui.label(RichText::new("The key becomes Pending import.").strong());
                            ui.label(
                                "Encrypt and Decrypt fail (KMSInvalidStateException) until every deleted material is \
                                 re-imported — even ciphertext made with another material of this key.",
                            );
                            ui.label(
                                "byok erases the bytes now. To use the key again you must re-import exactly this \
                                 material from the copy you keep outside byok.",
                            );
                        });
                    }
                    ui.add_space(8.0);
                    ui.horizontal(|ui| {
                        if ui
                            .add(egui::Button::new(RichText::new("Delete key material").strong().color(Color32::WHITE)).fill(theme::RED))
                            .clicked()
                        {
                            run = Some(("Delete key material", Job::DeleteMaterial { key: key.clone(), material }));
                            close = true;
                        }
                        if ui.button("Cancel").clicked() {
                            close = true;
                        }
                    });
                });
                close |= theme::escape_closes(&modal);
            }
            Dialog::ScheduleDeletion { key, days } => {
                let key = key.clone();
                let modal = egui::Modal::new(egui::Id::unique("schedule-deletion")).show(ui.ctx(), |ui| {
                    ui.set_max_width(520.0);
                    ui.heading("Schedule key deletion");
                    ui.label(
                        "The key goes to Pending deletion at once: cryptography fails. At the end of the waiting \
                         period the key, its aliases and all its materials are erased — ciphertext made with it can \
                         never be decrypted again. You can cancel until then.",
                    );
                    ui.add_space(6.0);
                    ui.horizontal(|ui| {
                        let label = ui.label("Waiting period (days)");
                        ui.add(egui::Slider::new(days, 7..=30)).labelled_by(label.id);
                    });
                    ui.add_space(8.0);
                    ui.horizontal(|ui| {
                        if ui
                            .add(egui::Button::new(RichText::new("Schedule deletion").strong().color(Color32::WHITE)).fill(theme::RED))
                            .clicked()
                        {
                            run = Some(("Schedule deletion", Job::ScheduleDeletion { key: key.clone(), days: *days }));
                            close = true;
                        }
                        if ui.button("Cancel").clicked() {
                            close = true;
                        }
                    });
                });
                close |= theme::escape_closes(&modal);
            }
            Dialog::Rotate { key } => {
                let key = key.clone();
                let Some(k) = view.key(&key) else {
                    self.dialog = None;
                    return;
                };
                let used = k.on_demand_rotations;
                let completed = k.completed_rotations;
                // What the engine's cost estimate says before and after.
                let (before, after) = (
                    crate::kms::rules::monthly_cost_usd(completed),
                    crate::kms::rules::monthly_cost_usd(completed + 1),
                );
                let modal = egui::Modal::new(egui::Id::unique("rotate-now")).show(ui.ctx(), |ui| {
                    ui.set_max_width(560.0);
                    ui.heading(format!("Rotate {} now?", k.label));
                    ui.add(egui::Label::new(RichText::new(k.arn.as_str()).monospace().small()).wrap());
                    ui.add_space(6.0);
                    ui.label(
                        "RotateKeyOnDemand makes the pending material current; the rotation completes in the \
                         background and cannot be undone.",
                    );
                    ui.label(
                        RichText::new(format!(
                            "On-demand rotations used: {used} of {ON_DEMAND_ROTATION_LIMIT}. This one makes {} of {ON_DEMAND_ROTATION_LIMIT}.",
                            used + 1
                        ))
                        .strong(),
                    );
                    theme::note_box(ui, theme::AMBER, |ui| {
                        ui.label(
                            "Cost: AWS bills $1 a month per key, plus $1 for each of a key's first two rotations; \
                             later rotations are free.",
                        );
                        ui.label(if after > before {
                            format!(
                                "This rotation adds {} a month to the key's estimate (from {} to {}).",
                                format::usd(after - before),
                                format::usd(before),
                                format::usd(after)
                            )
                        } else {
                            "This rotation adds nothing: the key has had its two billed rotations.".to_string()
                        });
                    });
                    ui.add_space(8.0);
                    ui.horizontal(|ui| {
                        if ui.add(theme::primary("⟳ Rotate")).clicked() {
                            run = Some(("Rotate now", Job::Rotate { key: key.clone() }));
                            close = true;
                        }
                        if ui.button("Cancel").clicked() {
                            close = true;
                        }
                    });
                });
                close |= theme::escape_closes(&modal);
            }
        }
        if close {
            self.dialog = None;
        }
        if let Some((what, job)) = run {
            self.run(jobs, what, job);
        }
    }
}

/// A refusal as a tooltip: the plain words, then AWS's exception and message.
/// The height of a banner's heading row (the rotation spinner's size).
const BANNER_HEADING: f32 = 22.0;
/// What a note box adds around its content: inner margins and stroke.
const NOTE_MARGINS: f32 = 24.0;

/// What a Pending import, Pending deletion or Disabled key's state means,
/// with a Re-import button per missing material.
fn state_note(ui: &mut Ui, key: &KeyView, now: Timestamp, busy: bool) -> Vec<Action> {
    let mut actions = Vec::new();
    theme::note_box(ui, theme::key_state(key.state).fill, |ui| {
        ui.label(RichText::new(state_explanation(key, now)).strong());
        if key.state == KeyState::PendingImport && key.is_external() {
            ui.horizontal_wrapped(|ui| {
                for m in key.missing_materials() {
                    if ui
                        .add_enabled(!busy, egui::Button::new(format!("Re-import {}…", m.short)))
                        .on_hover_text("Open the import wizard to re-import this same material")
                        .clicked()
                    {
                        actions.push(Action::OpenImportWizard {
                            key: key.id.clone(),
                            reimport: Some(m.id),
                        });
                    }
                }
            });
        }
    });
    actions
}

/// A rotation in progress: since when, and how far along.
fn rotation_banner(
    ui: &mut Ui,
    key: &KeyView,
    view: &StoreView,
    now: Timestamp,
    started: Timestamp,
) {
    let pending = key
        .pending_material()
        .map(|m| m.short.clone())
        .unwrap_or_default();
    theme::note_box(ui, theme::VIOLET, |ui| {
        ui.horizontal_wrapped(|ui| {
            theme::spinner_sized(ui, BANNER_HEADING);
            ui.label(
                RichText::new(format!("Rotation in progress: {pending}… becomes CURRENT"))
                    .strong()
                    .size(17.0),
            );
        });
        let elapsed = now.since(started);
        match view.settings().map(|s| s.rotation_delay()) {
            Some(delay) => {
                ui.label(format!(
                    "OnDemandRotationStartDate {} · elapsed {} · the engine completes rotations after {}",
                    format::date_time_secs(started),
                    format::clock_duration(elapsed),
                    format::duration(delay)
                ));
                let fraction = if delay.is_zero() {
                    1.0
                } else {
                    (elapsed.as_secs_f32() / delay.as_secs_f32()).min(1.0)
                };
                ui.add(egui::ProgressBar::new(fraction).desired_height(8.0));
            }
            None => {
                ui.label(format!(
                    "OnDemandRotationStartDate {} · elapsed {} · AWS completes the rotation in the background; byok asks every few seconds",
                    format::date_time_secs(started),
                    format::clock_duration(elapsed),
                ));
                ui.add(
                    egui::ProgressBar::new(0.5)
                        .animate(true)
                        .desired_height(8.0),
                );
            }
        }
    });
}

/// A rotation the engine just completed, said in place of the in-progress
/// banner while the table animates.
fn completion_banner(ui: &mut Ui, t: &RotationTransition) {
    theme::note_box(ui, theme::GREEN, |ui| {
        ui.horizontal_wrapped(|ui| {
            ui.set_min_height(BANNER_HEADING);
            ui.label(
                RichText::new(format!(
                    "✔ Rotation complete: {}… is now CURRENT",
                    t.to.short()
                ))
                .strong()
                .size(17.0),
            );
        });
        ui.label(match t.from {
            Some(from) => format!(
                "{}… is NON_CURRENT and still decrypts what it encrypted. New ciphertext uses {}….",
                from.short(),
                t.to.short()
            ),
            None => format!("New ciphertext uses {}….", t.to.short()),
        });
        ui.add(
            egui::ProgressBar::new(1.0)
                .desired_height(8.0)
                .fill(theme::GREEN),
        );
    });
    ui.ctx().request_repaint();
}

/// The status slot when no rotation is under way and the key is usable:
/// the same shape as the rotation banners (a heading, a line, the bar's
/// height), so the slot does not change height when one starts.
fn idle_status(ui: &mut Ui, key: &KeyView) {
    let current = key.current.and_then(|id| key.material(id));
    let set = key.multi_region_set.as_ref();
    let primary_region = set
        .and_then(|s| s.primary.as_ref())
        .map_or("its primary's Region", |(r, _)| r.as_str());
    let (heading, detail) = match (current, key.pending_material()) {
        // A multi-Region primary's new material, not yet in every replica.
        (Some(c), _) if let Some(w) = super::key_list::waiting_for_replicas(key) => {
            (format!("{}… is CURRENT", c.short), w)
        }
        // A replica: the primary rotates the set.
        (Some(c), Some(p)) if set.is_some_and(|s| !s.is_primary) => (
            format!("{}… is CURRENT", c.short),
            if p.import_state == ImportState::PendingImport {
                format!(
                    "{}… is new material of the primary in {primary_region}: import the same material into this \
                     replica (EXISTING_KEY_MATERIAL); the primary then rotates the whole set.",
                    p.short
                )
            } else {
                format!(
                    "{}… is PENDING_ROTATION: Rotate now on the primary in {primary_region} makes it current in every Region.",
                    p.short
                )
            },
        ),
        (Some(c), Some(p)) => (
            format!("{}… is CURRENT", c.short),
            format!(
                "{}… is PENDING_ROTATION: Rotate now (RotateKeyOnDemand) makes it current.",
                p.short
            ),
        ),
        // The engine takes no new material for this key (HMAC keys keep
        // their one material): it is rotated by replacing it.
        (Some(c), None) if key.manual_rotation.is_ok() => (
            format!("{}… is CURRENT", c.short),
            "This key keeps its one material and cannot rotate on demand: Manual rotation… replaces it with a new key."
                .to_owned(),
        ),
        (Some(c), None) if key.is_external() => (
            format!("{}… is CURRENT", c.short),
            "No rotation under way. Import a new key material (NEW_KEY_MATERIAL) to rotate to it."
                .to_owned(),
        ),
        (Some(c), None) => (
            format!("{}… is CURRENT", c.short),
            "No rotation under way.".to_owned(),
        ),
        (None, _) => (
            "No rotation under way".to_owned(),
            "The key has no current key material.".to_owned(),
        ),
    };
    let color = ui.visuals().widgets.noninteractive.bg_stroke.color;
    theme::note_box(ui, color, |ui| {
        ui.horizontal_wrapped(|ui| {
            ui.set_min_height(BANNER_HEADING); // the spinner's row in the rotation banner
            ui.label(RichText::new(heading).strong().size(17.0));
        });
        ui.label(theme::weak(ui, detail));
        // Where the rotation banners draw their progress bar.
        ui.add_visible(false, egui::ProgressBar::new(0.0).desired_height(8.0));
    });
}

fn refusal_text(e: &crate::kms::KmsError) -> String {
    format!(
        "Not possible now: {} ({}: {})",
        e.kind().plain_words().trim_end_matches('.'),
        e.aws_name(),
        e.message()
    )
}

/// Why EnableKey/DisableKey is refused, in plain words, and what fixes it.
fn switch_refusal(state: KeyState) -> &'static str {
    match state {
        KeyState::PendingImport => "the key is Pending import; import its key material first",
        KeyState::PendingDeletion => "the key is Pending deletion; cancel the deletion first",
        _ => "the key is not in a state that allows it",
    }
}

/// What the spec line's hover says: the spec, the usage and what it means
/// for the operations.
fn spec_hover(key: &KeyView) -> String {
    let mut text = format!(
        "KeySpec {}, KeyUsage {}",
        key.key_spec_text, key.key_usage_text
    );
    if !key.mac_algorithms.is_empty() {
        text.push_str(&format!(
            "\nMacAlgorithms {}: GenerateMac and VerifyMac in the Cryptography tab",
            key.mac_algorithms.join(", ")
        ));
    }
    if let Some(spec) = key.key_spec {
        text.push_str(&format!(
            "\nImported key material: {}",
            format::material_lengths(spec)
        ));
    }
    text
}

/// Why the engine refuses RotateKeyOnDemand, in plain words.
fn rotate_refusal(kind: crate::kms::ErrorKind, key: &KeyView) -> String {
    use crate::kms::ErrorKind as K;
    match kind {
        K::KmsInvalidState if key.state == KeyState::Enabled => {
            "there is no material pending rotation — import new key material first".into()
        }
        K::Conflict => "a rotation is already in progress".into(),
        K::LimitExceeded => "this key has used all 25 on-demand rotations".into(),
        K::UnsupportedOperation if key.manual_rotation.is_ok() || key.is_mac_key() => format!(
            "keys of KeySpec {} cannot rotate on demand — use Manual rotation… instead",
            key.key_spec_text
        ),
        _ => kind.plain_words().trim_end_matches('.').to_lowercase(),
    }
}

fn paint_glow(ui: &mut Ui, glow: Option<(f32, bool)>) {
    if let Some((p, became_current)) = glow
        && p < 1.0
    {
        let color = if became_current {
            theme::GREEN
        } else {
            theme::SLATE
        };
        let alpha = (1.0 - p) * 0.45;
        let rect = ui.max_rect().expand2(egui::vec2(4.0, 2.0));
        ui.painter()
            .rect_filled(rect, 0.0, color.gamma_multiply(alpha));
        ui.ctx().request_repaint();
    }
}

fn material_state_cell(
    ui: &mut Ui,
    key: &KeyView,
    m: &MaterialView,
    now: Timestamp,
    glow: Option<(f32, bool)>,
) {
    let style = theme::material_state(m.state);
    match glow {
        Some((p, became_current)) if p < 1.0 => {
            // Cross-fade from the old state's colour to the new one, with an arrow.
            let from = if became_current {
                KeyMaterialState::PendingRotation
            } else {
                KeyMaterialState::Current
            };
            let from_style = theme::material_state(from);
            let t = (p * 1.6).min(1.0);
            let fill = from_style.fill.lerp_to_gamma(style.fill, t);
            let text = if t < 1.0 {
                format!("{} › {}", short_state(from), m.state.as_str())
            } else {
                m.state.as_str().to_string()
            };
            theme::badge(ui, &text, theme::BadgeStyle::on(fill));
        }
        _ => {
            if m.state == KeyMaterialState::PendingRotation && key.rotation_started.is_some() {
                let phase = (ui.input(|i| i.time) as f32 * 0.8).fract();
                theme::spinner_sized(ui, 16.0);
                let r = theme::pulsing_badge(ui, m.state.as_str(), style, phase);
                if let Some(started) = key.rotation_started {
                    r.on_hover_text(format!(
                        "Becoming CURRENT: rotation started {} ({} ago)",
                        format::date_time_secs(started),
                        format::clock_duration(now.since(started))
                    ));
                }
                ui.ctx().request_repaint_after(Duration::from_millis(50));
            } else {
                theme::badge(ui, m.state.as_str(), style);
            }
        }
    }
}

/// The material table's column widths, measured from their text in the
/// current text size (presentation mode, Ctrl+zoom), so that no badge,
/// date or button is cut; the description takes the rest. When the pane is
/// too narrow, the Import state column gives way first (a material pending
/// import shows it under its state), then the rotation date's time of day
/// (it stays in the tooltip); after that the table scrolls sideways.
struct MaterialColumns {
    id: f32,
    description: f32,
    state: f32,
    import: f32,
    expiration: f32,
    rotation: f32,
    escrow: f32,
    actions: f32,
    /// The Import state column gave way.
    fold_import: bool,
    /// The Escrow column gave way: a lock after the material ID says
    /// "kept" instead.
    fold_escrow: bool,
    /// Some material pending import is shown under its state (two lines).
    two_lines: bool,
    /// The rotation date shows its time of day.
    rotation_time: bool,
    /// Body text size against the 15 points the console was drawn for.
    scale: f32,
}

impl MaterialColumns {
    /// Descriptions longer than this many body-text heights are cut (the
    /// whole text is in the tooltip): about 55 characters.
    const DESCRIPTION_CAP: f32 = 27.0;

    fn fit(ui: &Ui, key: &KeyView, now: Timestamp) -> Self {
        let body = egui::TextStyle::Body.resolve(ui.style());
        let mono = egui::TextStyle::Monospace.resolve(ui.style());
        let button = egui::TextStyle::Button.resolve(ui.style());
        let spacing = ui.spacing().item_spacing.x;
        let pad = ui.spacing().button_padding.x * 2.0;
        let text = |t: &str, font: &egui::FontId| {
            ui.painter()
                .layout_no_wrap(t.to_owned(), font.clone(), Color32::PLACEHOLDER)
                .size()
                .x
        };
        let widest = |texts: &mut dyn Iterator<Item = String>, font: &egui::FontId| {
            texts.map(|t| text(&t, font)).fold(0.0_f32, f32::max)
        };
        let header = |t: &str| text(t, &body);
        let badge = |t: &str| theme::badge_width(ui, t);
        // Room for the cell's own margins and rounding.
        let slack = 6.0;

        let id = (widest(&mut key.materials.iter().map(|m| m.short.clone()), &mono)
            + spacing
            + text("🗐", &button)
            + pad)
            .max(header("Key material ID"))
            + slack;
        let description_natural = widest(
            &mut key.materials.iter().filter_map(|m| m.description.clone()),
            &body,
        )
        .min(Self::DESCRIPTION_CAP * body.size)
        .max(header("Description"))
            + slack;
        // Every state a material passes through, so that a rotation (the
        // spinner, the cross-fade) never moves the columns.
        let state = [
            badge("CURRENT › NON_CURRENT"),
            badge("PENDING › CURRENT"),
            16.0 + spacing + badge(KeyMaterialState::PendingRotation.as_str()),
            header("Material state"),
        ]
        .into_iter()
        .fold(0.0, f32::max)
            + slack;
        let import = badge(ImportState::PendingImport.as_str())
            .max(badge(ImportState::Imported.as_str()))
            .max(header("Import state"))
            + slack;
        let expiration = widest(
            &mut key
                .materials
                .iter()
                .map(|m| match (m.expiration_model, m.valid_to) {
                    (ExpirationModel::KeyMaterialExpires, Some(v)) => {
                        if m.import_state == ImportState::PendingImport && v <= now {
                            format!("expired {}", format::day(v))
                        } else {
                            format::relative(v, now)
                        }
                    }
                    _ => "does not expire".to_string(),
                })
                .chain(["Expiration".to_string()]),
            &body,
        ) + slack;
        let rotation_dates = |time: bool| {
            widest(
                &mut key
                    .materials
                    .iter()
                    .filter_map(|m| m.rotation_date)
                    .map(|d| {
                        if time {
                            format::day_time(d)
                        } else {
                            format::day(d)
                        }
                    })
                    .chain(["Rotation date".to_string()]),
                &body,
            ) + slack
        };
        let actions = if key.is_external() {
            let delete = text("Delete…", &button) + pad;
            let reimport = text("Reimport…", &button) + pad;
            // Both buttons, the gap between them, and the cell's margin.
            delete + reimport + 2.0 * spacing + pad
        } else {
            text("generated by KMS", &body)
        }
        .max(header("Actions"))
            + slack;

        // The key manager's escrow copy (issue 12): "kept" or "none".
        let escrow = badge("kept").max(text("none", &body)).max(header("Escrow")) + slack;
        let mut cols = MaterialColumns {
            id,
            description: description_natural,
            state,
            import,
            expiration,
            rotation: rotation_dates(true),
            escrow,
            actions,
            fold_import: false,
            fold_escrow: false,
            two_lines: false,
            rotation_time: true,
            scale: body.size / 15.0,
        };
        // The table's own cell margins, and the pane's right edge: without
        // them the last column's last pixels are under the edge.
        let available = ui.available_width() - 2.0 * spacing - slack;
        if cols.total(spacing) > available {
            cols.fold_import = true;
            cols.two_lines = key
                .materials
                .iter()
                .any(|m| m.import_state != ImportState::Imported);
        }
        if cols.total(spacing) > available {
            cols.rotation_time = false;
            cols.rotation = rotation_dates(false);
        }
        if cols.total(spacing) > available {
            cols.fold_escrow = true;
            cols.id += text(ESCROW_MARK, &body) + spacing;
        }
        // The description takes what is left, never less than its text.
        let fixed = cols.total(spacing) - cols.description;
        cols.description = (available - fixed).max(description_natural);
        cols
    }

    /// The columns shown, left to right.
    fn widths(&self) -> Vec<f32> {
        let mut w = vec![self.id, self.description, self.state];
        if !self.fold_import {
            w.push(self.import);
        }
        w.extend([self.expiration, self.rotation]);
        if !self.fold_escrow {
            w.push(self.escrow);
        }
        w.push(self.actions);
        w
    }

    fn total(&self, spacing: f32) -> f32 {
        self.widths().iter().map(|w| w + spacing).sum()
    }
}

/// Marks an escrowed material when the Escrow column gave way.
const ESCROW_MARK: &str = "🔐";

fn short_state(s: KeyMaterialState) -> &'static str {
    match s {
        KeyMaterialState::PendingRotation
        | KeyMaterialState::PendingMultiRegionImportAndRotation => "PENDING",
        KeyMaterialState::Current => "CURRENT",
        KeyMaterialState::NonCurrent => "NON_CURRENT",
    }
}
