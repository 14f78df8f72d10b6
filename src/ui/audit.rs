//! The audit trail: CloudTrail-shaped records in a filterable table (key,
//! event name, errors only), a detail pane with the record's JSON, export to
//! a CloudTrail JSON file (`{"Records": [...]}`), and chain verification.
//! Records are read on the worker and shared with the timeline.

use std::path::PathBuf;
use std::sync::Arc;

use egui::{Align, Layout, RichText, Sense, Ui};
use egui_extras::{Column, TableBuilder};

use super::action::{Action, Owner, PickTarget};
use super::format;
use super::theme;
use super::view::StoreView;
use super::worker::{Async, Job, Jobs, Outcome, Ticket, UiError};
use crate::kms::{AuditRecord, Timestamp};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Slot {
    Load,
    Verify,
    Export,
}

/// The audit panel's state.
pub struct AuditPanel {
    records: Async<Arc<Vec<AuditRecord>>>,
    loaded_seq: Option<u64>,
    /// Key filter (id, alias or description substring).
    pub key_filter: String,
    event_filter: Option<String>,
    errors_only: bool,
    rows: Vec<usize>,
    rows_key: Option<(usize, String, Option<String>, bool, u64)>,
    event_names: Vec<String>,
    selected: Option<usize>,
    detail: Option<(usize, String)>,
    /// Typed export path.
    pub export_path: String,
    export: Async<String>,
    chain: Async<Result<String, String>>,
}

impl Default for AuditPanel {
    fn default() -> Self {
        AuditPanel {
            records: Async::Idle,
            loaded_seq: None,
            key_filter: String::new(),
            event_filter: None,
            errors_only: false,
            rows: Vec::new(),
            rows_key: None,
            event_names: Vec::new(),
            selected: None,
            detail: None,
            export_path: String::new(),
            export: Async::Idle,
            chain: Async::Idle,
        }
    }
}

impl AuditPanel {
    fn run(&mut self, jobs: &Jobs, slot: Slot, job: Job) {
        let owner = Owner::Audit;
        match slot {
            Slot::Load => self.records.submit(jobs, owner, job),
            Slot::Verify => self.chain.submit(jobs, owner, job),
            Slot::Export => self.export.submit(jobs, owner, job),
        }
    }

    /// The records, once read (shared with the timeline).
    pub fn records(&self) -> Option<&Arc<Vec<AuditRecord>>> {
        self.records.value()
    }

    /// A job's result.
    pub fn finished(&mut self, ticket: Ticket, outcome: Result<Outcome, UiError>) {
        match outcome {
            Ok(Outcome::Audit(records)) => {
                self.records.finish(ticket, Ok(records));
            }
            Ok(Outcome::Chain(report)) => {
                let text = match report {
                    Ok(r) => Ok(format!(
                        "Chain intact: {} records, each hash verified and linked{} (last sequence {}).",
                        r.records,
                        if r.from_genesis {
                            " from the first record ever written"
                        } else {
                            " (older segments retired)"
                        },
                        r.last_sequence
                    )),
                    Err(e) => Err(e.to_string()),
                };
                self.chain.finish(ticket, Ok(text));
            }
            Ok(Outcome::Exported { path, count }) => {
                self.export.finish(
                    ticket,
                    Ok(format!("{count} records exported to {}", path.display())),
                );
            }
            Ok(_) => {}
            Err(e) => {
                if !self.records.finish(ticket, Err(e.clone()))
                    && !self.chain.finish(ticket, Err(e.clone()))
                {
                    self.export.finish(ticket, Err(e));
                }
            }
        }
    }

    /// A picker answered (export path).
    pub fn picked(&mut self, target: PickTarget, path: PathBuf, jobs: &Jobs) {
        if target != PickTarget::ExportAudit {
            return;
        }
        self.export_path = path.display().to_string();
        self.export(jobs);
    }

    fn export(&mut self, jobs: &Jobs) {
        let Some(records) = self.records.value().cloned() else {
            return;
        };
        let chosen: Vec<AuditRecord> = self
            .rows
            .iter()
            .rev()
            .filter_map(|&i| records.get(i).cloned())
            .collect();
        let path = PathBuf::from(self.export_path.trim());
        self.run(
            jobs,
            Slot::Export,
            Job::ExportAudit {
                path,
                records: chosen,
            },
        );
    }

    fn refresh_rows(&mut self, view: &StoreView) {
        let Some(records) = self.records.value() else {
            return;
        };
        let key = (
            Arc::as_ptr(records) as usize,
            self.key_filter.clone(),
            self.event_filter.clone(),
            self.errors_only,
            view.revision,
        );
        if self.rows_key.as_ref() == Some(&key) {
            return;
        }
        let needle = self.key_filter.trim().to_lowercase();
        // Key ids whose alias or description matches the filter.
        let matching_keys: Vec<String> = if needle.is_empty() {
            Vec::new()
        } else {
            view.keys
                .iter()
                .filter(|k| k.search.contains(&needle))
                .map(|k| k.key_id.clone())
                .collect()
        };
        let mut names: Vec<String> = records.iter().map(|r| r.event_name.clone()).collect();
        names.sort();
        names.dedup();
        self.event_names = names;
        // Newest first.
        self.rows = (0..records.len())
            .rev()
            .filter(|&i| {
                let r = &records[i];
                (!self.errors_only || r.is_error())
                    && self
                        .event_filter
                        .as_ref()
                        .is_none_or(|e| *e == r.event_name)
                    && (needle.is_empty()
                        || r.key_id().is_some_and(|k| {
                            k.contains(&needle) || matching_keys.iter().any(|m| m == k)
                        }))
            })
            .collect();
        self.rows_key = Some(key);
    }

    /// Draws the panel.
    pub fn ui(
        &mut self,
        ui: &mut Ui,
        view: &StoreView,
        now: Timestamp,
        jobs: &Jobs,
    ) -> Vec<Action> {
        let mut actions = Vec::new();
        let stale = self.loaded_seq != Some(view.audit_sequence);
        if stale && !self.records.is_pending() {
            self.loaded_seq = Some(view.audit_sequence);
            self.run(jobs, Slot::Load, Job::LoadAudit);
        }
        self.refresh_rows(view);

        ui.horizontal_wrapped(|ui| {
            ui.heading("Audit trail");
            match self.records.value() {
                Some(r) => ui.label(theme::weak(
                    ui,
                    format!("{} of {} records", self.rows.len(), r.len()),
                )),
                None => ui.label(theme::weak(ui, "reading…")),
            };
            if self.records.is_pending() {
                theme::spinner(ui);
            }
        });
        ui.horizontal_wrapped(|ui| {
            ui.add(
                egui::TextEdit::singleline(&mut self.key_filter)
                    .hint_text("key id, alias or description")
                    .desired_width(240.0),
            )
            .accessible_name("Filter by key");
            let selected_text = self
                .event_filter
                .clone()
                .unwrap_or_else(|| "All events".into());
            egui::ComboBox::from_id_salt("event-filter")
                .selected_text(selected_text)
                .width(220.0)
                .show_ui(ui, |ui| {
                    ui.selectable_value(&mut self.event_filter, None, "All events");
                    for n in &self.event_names {
                        ui.selectable_value(&mut self.event_filter, Some(n.clone()), n.as_str());
                    }
                })
                .response
                .on_hover_text("Filter by event name");
            ui.checkbox(&mut self.errors_only, "Errors only");
            ui.separator();
            if ui
                .add_enabled(
                    !self.chain.is_pending(),
                    egui::Button::new("✔ Verify chain"),
                )
                .on_hover_text("Check every record's hash and its link to the one before")
                .clicked()
            {
                self.run(jobs, Slot::Verify, Job::VerifyChain);
            }
            if ui
                .button("Export…")
                .on_hover_text("Export the shown records as a CloudTrail JSON file")
                .accessible_name("Export audit trail…")
                .clicked()
            {
                actions.push(Action::Pick(PickTarget::ExportAudit));
            }
            ui.add(
                egui::TextEdit::singleline(&mut self.export_path)
                    .hint_text("or type a path")
                    .desired_width(220.0),
            )
            .accessible_name("Export path");
            if ui
                .add_enabled(
                    !self.export_path.trim().is_empty() && self.records.value().is_some(),
                    egui::Button::new("Export"),
                )
                .clicked()
            {
                self.export(jobs);
            }
        });
        match self.chain.value() {
            Some(Ok(text)) => {
                ui.label(theme::colored(ui, format!("✔ {text}"), theme::GREEN).strong());
            }
            Some(Err(text)) => {
                ui.label(theme::colored(ui, format!("✖ {text}"), theme::RED).strong());
            }
            None => {}
        }
        if let Some(e) = self.chain.error() {
            theme::error_box(ui, e);
        }
        if let Some(text) = self.export.value() {
            ui.label(theme::colored(ui, format!("✔ {text}"), theme::GREEN));
        }
        if let Some(e) = self.export.error() {
            theme::error_box(ui, e);
        }
        if let Some(e) = self.records.error() {
            theme::error_box(ui, e);
        }
        ui.separator();

        let Some(records) = self.records.value().cloned() else {
            return actions;
        };
        egui::Panel::right("audit-detail")
            .frame(theme::side_panel_frame(ui))
            .resizable(true)
            .default_size(520.0)
            .min_size(300.0)
            .show(ui, |ui| self.detail_ui(ui, &records));
        egui::CentralPanel::no_frame().show(ui, |ui| self.table_ui(ui, &records, view, now));
        actions
    }

    fn table_ui(
        &mut self,
        ui: &mut Ui,
        records: &Arc<Vec<AuditRecord>>,
        view: &StoreView,
        now: Timestamp,
    ) {
        let rows = std::mem::take(&mut self.rows);
        let mut clicked = None;
        TableBuilder::new(ui)
            .id_salt("audit-table")
            .striped(true)
            .sense(Sense::click())
            .cell_layout(Layout::left_to_right(Align::Center))
            .column(Column::exact(172.0))
            .column(Column::exact(250.0))
            .column(Column::remainder().at_least(120.0).clip(true))
            .column(Column::exact(90.0))
            .column(Column::exact(80.0))
            .column(Column::exact(170.0).clip(true))
            .auto_shrink(false)
            .header(26.0, |mut h| {
                for t in ["Time (UTC)", "Event", "Key", "Material", "Source", "Result"] {
                    h.col(|ui| {
                        ui.label(RichText::new(t).strong());
                    });
                }
            })
            .body(|body| {
                body.rows(26.0, rows.len(), |mut row| {
                    let Some(&i) = rows.get(row.index()) else {
                        return;
                    };
                    let Some(r) = records.get(i) else { return };
                    row.set_selected(self.selected == Some(i));
                    row.col(|ui| {
                        let t = Timestamp::parse(&r.event_time);
                        let text = t.map_or(r.event_time.clone(), |t| {
                            t.to_datetime().format("%Y-%m-%d %H:%M:%S").to_string()
                        });
                        let label = ui.label(RichText::new(text).monospace());
                        if let Some(t) = t {
                            label.on_hover_text(format::relative(t, now));
                        }
                    });
                    row.col(|ui| {
                        let service = r.event_type == "AwsServiceEvent";
                        let text = RichText::new(r.event_name.as_str()).strong();
                        ui.label(if service { text.italics() } else { text });
                    });
                    row.col(|ui| {
                        let label = r
                            .key_arn()
                            .and_then(|arn| view.key(&super::view::KeyRef::new(arn)))
                            .map(|k| format!("{} ({})", k.label, k.short_id))
                            .or_else(|| r.key_id().map(|k| format::ellipsize(k, 9)))
                            .unwrap_or_else(|| "—".into());
                        ui.add(egui::Label::new(label).truncate());
                    });
                    row.col(|ui| {
                        let m = r
                            .additional("keyMaterialId")
                            .or_else(|| r.additional("currentKeyMaterialId"));
                        ui.label(
                            RichText::new(m.map_or("—".to_string(), |m| format::ellipsize(m, 9)))
                                .monospace(),
                        );
                    });
                    row.col(|ui| {
                        ui.label(r.user_identity.invoked_by.as_str());
                    });
                    row.col(|ui| match &r.error_code {
                        Some(code) => {
                            ui.label(theme::colored(ui, code.as_str(), theme::RED).strong());
                        }
                        None => {
                            ui.label(theme::colored(ui, "OK", theme::GREEN));
                        }
                    });
                    if row.response().clicked() {
                        clicked = Some(i);
                    }
                });
            });
        self.rows = rows;
        if let Some(i) = clicked {
            self.selected = Some(i);
        }
    }

    fn detail_ui(&mut self, ui: &mut Ui, records: &Arc<Vec<AuditRecord>>) {
        // A resizable panel keeps the width its contents use.
        ui.set_min_width(ui.available_width());
        ui.heading("Record");
        let Some(i) = self.selected.filter(|&i| i < records.len()) else {
            ui.label(theme::weak(ui, "Select a record to see its JSON."));
            return;
        };
        if self.detail.as_ref().is_none_or(|(j, _)| *j != i) {
            let json = serde_json::to_string_pretty(&records[i])
                .unwrap_or_else(|e| format!("(cannot show: {e})"));
            self.detail = Some((i, json));
        }
        let Some((_, json)) = &self.detail else {
            return;
        };
        let r = &records[i];
        ui.horizontal_wrapped(|ui| {
            ui.label(RichText::new(r.event_name.as_str()).strong());
            ui.label(theme::weak(ui, format!("sequence {}", r.byok.sequence)));
            if ui.small_button("🗐 Copy JSON").clicked() {
                ui.ctx().copy_text(json.clone());
            }
        });
        egui::ScrollArea::both().auto_shrink(false).show(ui, |ui| {
            ui.add(
                egui::Label::new(RichText::new(json.as_str()).monospace())
                    .selectable(true)
                    .extend(),
            );
        });
    }
}
