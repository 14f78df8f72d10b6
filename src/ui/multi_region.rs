//! A multi-Region key in the key detail: its set — the primary and every
//! replica, by Region, each a link to that Region's key — and the two
//! operations of the set, **Replicate key…** (ReplicateKey) and **Change
//! primary Region…** (UpdatePrimaryRegion), each behind a dialog that says
//! what the operation does. Whether each is possible is the engine's
//! verdict ([`crate::kms::rules::replicate_key`],
//! [`crate::kms::rules::update_primary_region`]), carried in the view.

use egui::{RichText, Ui};

use super::action::Action;
use super::theme;
use super::view::{KeyRef, KeyView, StoreView};
use super::worker::Job;
use crate::kms::KmsError;

enum Dialog {
    Replicate {
        key: KeyRef,
        region: String,
        description: String,
    },
    UpdatePrimary {
        key: KeyRef,
        region: Option<String>,
    },
}

/// The multi-Region row of the key detail and its dialogs.
#[derive(Default)]
pub struct MultiRegionPanel {
    dialog: Option<Dialog>,
}

/// A refusal as a tooltip: AWS's exception and message.
fn refusal(e: &KmsError) -> String {
    format!("Not possible now ({}: {})", e.aws_name(), e.message())
}

/// The Regions a replica of `key` can go to that the store lists: the
/// store's (or connection's) Regions without a key of the set.
fn free_regions(key: &KeyView, view: &StoreView) -> Vec<String> {
    let taken: Vec<&str> = key
        .multi_region_set
        .as_ref()
        .map(|s| s.regions())
        .unwrap_or_default();
    view.backend
        .regions
        .iter()
        .filter(|r| !taken.contains(&r.as_str()) && **r != key.region)
        .cloned()
        .collect()
}

impl MultiRegionPanel {
    /// Whether a dialog is open (the console's shortcuts wait).
    pub fn has_dialog(&self) -> bool {
        self.dialog.is_some()
    }

    /// The set's row for `key` (nothing for a single-Region key): each
    /// Region of the set, this key's marked, the others links; then the
    /// set's operations on the primary.
    pub fn row(&mut self, ui: &mut Ui, key: &KeyView, view: &StoreView, busy: bool) -> Vec<Action> {
        let mut actions = Vec::new();
        let Some(set) = &key.multi_region_set else {
            return actions;
        };
        ui.horizontal_wrapped(|ui| {
            ui.label(theme::weak(ui, "Multi-Region set"));
            let members = set
                .primary
                .iter()
                .map(|p| (p, "primary"))
                .chain(set.replicas.iter().map(|r| (r, "replica")));
            for ((region, arn), role) in members {
                if *region == key.region {
                    ui.label(RichText::new(format!("{region} · {role} (this key)")).strong());
                    continue;
                }
                let listed = view.key(arn).is_some();
                let link = ui
                    .add_enabled(listed, egui::Link::new(format!("{region} · {role}")))
                    .on_hover_text(format!("Show the {role} key in {region}: {arn}"))
                    .on_disabled_hover_text(format!(
                        "{region} is not one of the Regions this store lists ({}): {arn}",
                        view.backend.regions.join(", ")
                    ));
                if link.clicked() {
                    actions.push(Action::SelectKey(arn.clone()));
                }
            }
            if !set.is_primary {
                return;
            }
            ui.separator();
            let replicate = ui
                .add_enabled(
                    !busy && key.verdicts.replicate.is_ok(),
                    egui::Button::new("Replicate key…"),
                )
                .on_hover_text(
                    "ReplicateKey: a replica of this key, with the same key id, in another Region",
                );
            let replicate = match &key.verdicts.replicate {
                Ok(()) => replicate,
                Err(e) => replicate.on_disabled_hover_text(refusal(e)),
            };
            if replicate.clicked() {
                self.dialog = Some(Dialog::Replicate {
                    key: key.id.clone(),
                    region: free_regions(key, view)
                        .into_iter()
                        .next()
                        .unwrap_or_default(),
                    description: key.description.clone(),
                });
            }
            if !set.replicas.is_empty() {
                let change = ui
                    .add_enabled(
                        !busy && key.verdicts.update_primary_region.is_ok(),
                        egui::Button::new("Change primary Region…"),
                    )
                    .on_hover_text(
                        "UpdatePrimaryRegion: make a replica the primary key of the set",
                    );
                let change = match &key.verdicts.update_primary_region {
                    Ok(()) => change,
                    Err(e) => change.on_disabled_hover_text(refusal(e)),
                };
                if change.clicked() {
                    self.dialog = Some(Dialog::UpdatePrimary {
                        key: key.id.clone(),
                        region: set.replicas.first().map(|(r, _)| r.clone()),
                    });
                }
            }
        });
        if !set.is_primary && key.materials.is_empty() {
            ui.label(theme::weak(
                ui,
                "A replica takes the same key material as its primary: import the primary's material \
                 (the same bytes) into it. Other material is refused (IncorrectKeyMaterialException).",
            ));
        }
        actions
    }

    /// The open dialog, if any; returns the job its confirmation asks for.
    pub fn dialogs(&mut self, ui: &mut Ui, view: &StoreView) -> Option<(&'static str, Job)> {
        let dialog = self.dialog.as_mut()?;
        let mut close = false;
        let mut run = None;
        match dialog {
            Dialog::Replicate {
                key,
                region,
                description,
            } => {
                let Some(k) = view.key(key) else {
                    self.dialog = None;
                    return None;
                };
                let free = free_regions(k, view);
                let modal = egui::Modal::new(egui::Id::unique("replicate-key")).show(ui.ctx(), |ui| {
                    ui.set_max_width(560.0);
                    ui.heading(format!("Replicate {}", k.label));
                    ui.add(egui::Label::new(RichText::new(k.arn.as_str()).monospace().small()).wrap());
                    ui.add_space(6.0);
                    ui.label(
                        "ReplicateKey creates a replica key in another Region: the same key id, key spec and \
                         origin. A replica of a key with imported key material has none of its own: it is \
                         Pending import until you import the same key material into it.",
                    );
                    ui.add_space(6.0);
                    ui.horizontal_wrapped(|ui| {
                        let l = ui.label(RichText::new("Replica Region").strong());
                        ui.add(
                            egui::TextEdit::singleline(region)
                                .desired_width(160.0)
                                .hint_text("eu-west-1"),
                        )
                        .labelled_by(l.id);
                        for r in &free {
                            if ui.selectable_label(region == r, r.as_str()).clicked() {
                                *region = r.clone();
                            }
                        }
                    });
                    let wanted = region.trim();
                    // An AWS store lists the Regions of its connection; a
                    // local store every Region that holds a key.
                    if view.is_aws() && !wanted.is_empty() && !view.backend.regions.iter().any(|r| r == wanted) {
                        theme::note_box(ui, theme::AMBER, |ui| {
                            ui.label(format!(
                                "{wanted} is not one of the Regions this store lists ({}). The replica is made, \
                                 but the key list shows it only once the store includes {wanted}.",
                                view.backend.regions.join(", ")
                            ));
                        });
                    }
                    ui.horizontal(|ui| {
                        let l = ui.label("Description");
                        ui.add(egui::TextEdit::singleline(description).desired_width(380.0))
                            .labelled_by(l.id);
                    });
                    ui.label(theme::weak(
                        ui,
                        "The description is the replica's own (not shared across the set).",
                    ));
                    ui.add_space(8.0);
                    ui.horizontal(|ui| {
                        if ui
                            .add_enabled(!wanted.is_empty(), theme::primary("Replicate key"))
                            .clicked()
                        {
                            run = Some((
                                "Replicate key",
                                Job::ReplicateKey {
                                    key: key.clone(),
                                    region: wanted.to_string(),
                                    description: description.trim().to_string(),
                                },
                            ));
                            close = true;
                        }
                        if ui.button("Cancel").clicked() {
                            close = true;
                        }
                    });
                });
                close |= theme::escape_closes(&modal);
            }
            Dialog::UpdatePrimary { key, region } => {
                let Some(k) = view.key(key) else {
                    self.dialog = None;
                    return None;
                };
                let replicas: Vec<String> = k
                    .multi_region_set
                    .as_ref()
                    .map(|s| s.replicas.iter().map(|(r, _)| r.clone()).collect())
                    .unwrap_or_default();
                let modal = egui::Modal::new(egui::Id::unique("update-primary-region")).show(ui.ctx(), |ui| {
                    ui.set_max_width(560.0);
                    ui.heading(format!("Change the primary Region of {}", k.label));
                    ui.add(egui::Label::new(RichText::new(k.arn.as_str()).monospace().small()).wrap());
                    ui.add_space(6.0);
                    ui.label(format!(
                        "UpdatePrimaryRegion makes the replica in the Region you choose the primary key of the \
                         set; this key in {} becomes a replica. The key id, the key material and every \
                         ciphertext stay as they are. New key material for the set is then imported into the \
                         new primary first.",
                        k.region
                    ));
                    ui.add_space(6.0);
                    ui.label(RichText::new("New primary Region").strong());
                    for r in &replicas {
                        ui.radio_value(region, Some(r.clone()), r.as_str());
                    }
                    ui.add_space(8.0);
                    ui.horizontal(|ui| {
                        if ui
                            .add_enabled(region.is_some(), theme::primary("Change primary Region"))
                            .clicked()
                            && let Some(r) = region.clone()
                        {
                            run = Some((
                                "Change primary Region",
                                Job::UpdatePrimaryRegion {
                                    key: key.clone(),
                                    region: r,
                                },
                            ));
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
        run
    }
}
