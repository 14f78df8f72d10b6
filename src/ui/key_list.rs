//! The key list (left panel): alias or description, short id and origin, a
//! state badge, current material, number of materials, next expiry, on-demand
//! rotations used of 25, and the monthly cost estimate with a total. Filter
//! and sortable columns. Rows come from the worker's view model (strings
//! built off the UI thread); the filtered and sorted order is cached and
//! rebuilt only when the view, the filter or the sort changes; only visible
//! rows are laid out.

use std::cmp::Ordering;

use egui::{Align, Color32, Layout, RichText, Sense, Ui};
use egui_extras::{Column, TableBuilder};

use super::action::Action;
use super::format;
use super::theme;
use super::view::{KeyRef, KeyView, Knowledge, StoreView};
use crate::kms::{KeyMaterialState, KeySpec, KeyState, ON_DEMAND_ROTATION_LIMIT, Timestamp};

/// A sortable column.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SortColumn {
    /// Alias / description.
    Name,
    /// Key state.
    State,
    /// Current material.
    Current,
    /// Number of materials.
    Materials,
    /// Next expiry.
    Expiry,
    /// Rotations used.
    Rotations,
    /// Monthly cost.
    Cost,
}

/// How close an expiry must be to be shown in amber.
pub const EXPIRY_WARNING: std::time::Duration = crate::kms::clock::days(30);

/// The key list's state.
pub struct KeyList {
    /// The filter text.
    pub filter: String,
    sort: SortColumn,
    ascending: bool,
    /// Cached order: indices into the view's keys.
    rows: Vec<usize>,
    cache_key: Option<(u64, String, SortColumn, bool)>,
    focus_filter: bool,
    scroll_to_selected: bool,
    /// The keys drawn in the last frame (an AWS store describes those).
    visible: Vec<KeyRef>,
}

impl Default for KeyList {
    fn default() -> Self {
        KeyList {
            filter: String::new(),
            sort: SortColumn::Name,
            ascending: true,
            rows: Vec::new(),
            cache_key: None,
            focus_filter: false,
            scroll_to_selected: false,
            visible: Vec::new(),
        }
    }
}

fn compare(a: &KeyView, b: &KeyView, column: SortColumn) -> Ordering {
    // Lapsed expiries (the key is unusable) sort first, then the next to come.
    let expiry = |k: &KeyView| {
        k.lapsed_expiry
            .or(k.next_expiry)
            .map_or(i64::MAX, Timestamp::millis)
    };
    match column {
        SortColumn::Name => a.sort_name.cmp(&b.sort_name),
        SortColumn::State => a.state.cmp(&b.state),
        SortColumn::Current => a.current_short.cmp(&b.current_short),
        SortColumn::Materials => a.materials.len().cmp(&b.materials.len()),
        SortColumn::Expiry => expiry(a).cmp(&expiry(b)),
        SortColumn::Rotations => a.on_demand_rotations.cmp(&b.on_demand_rotations),
        SortColumn::Cost => a.monthly_cost.cmp(&b.monthly_cost),
    }
    .then_with(|| a.id.cmp(&b.id))
}

impl KeyList {
    /// Focuses the filter box on the next frame.
    pub fn focus_filter(&mut self) {
        self.focus_filter = true;
    }

    /// The keys drawn in the last frame.
    pub fn visible(&self) -> &[KeyRef] {
        &self.visible
    }

    /// Scrolls the selected key into view on the next frame.
    pub fn reveal_selected(&mut self) {
        self.scroll_to_selected = true;
    }

    /// The key `step` rows from `selected` in display order (Up: -1, Down:
    /// +1), stopping at the ends; the first row when nothing shown is
    /// selected.
    pub fn neighbour(
        &mut self,
        view: &StoreView,
        selected: Option<&KeyRef>,
        step: i32,
    ) -> Option<KeyRef> {
        let rows = self.order(view);
        let at = selected.and_then(|s| rows.iter().position(|&i| &view.keys[i].id == s));
        let next = match at {
            Some(at) => (at as i64 + i64::from(step)).clamp(0, rows.len() as i64 - 1) as usize,
            None => 0,
        };
        rows.get(next).map(|&i| view.keys[i].id.clone())
    }

    /// The keys in display order (filtered and sorted).
    pub fn order(&mut self, view: &StoreView) -> &[usize] {
        let key = (
            view.revision,
            self.filter.clone(),
            self.sort,
            self.ascending,
        );
        if self.cache_key.as_ref() != Some(&key) {
            let needle = self.filter.trim().to_lowercase();
            let mut rows: Vec<usize> = (0..view.keys.len())
                .filter(|&i| needle.is_empty() || view.keys[i].search.contains(&needle))
                .collect();
            let column = self.sort;
            rows.sort_by(|&a, &b| compare(&view.keys[a], &view.keys[b], column));
            if !self.ascending {
                rows.reverse();
            }
            self.rows = rows;
            self.cache_key = Some(key);
        }
        &self.rows
    }

    fn header_button(&mut self, ui: &mut Ui, label: &str, column: SortColumn) {
        let arrow = if self.sort == column {
            if self.ascending { " ⏶" } else { " ⏷" }
        } else {
            ""
        };
        let response = ui
            .add(egui::Button::new(RichText::new(format!("{label}{arrow}")).strong()).frame(false))
            .on_hover_text(format!("Sort by {}", label.to_lowercase()))
            .accessible_name(format!("Sort by {label}"));
        if response.clicked() {
            if self.sort == column {
                self.ascending = !self.ascending;
            } else {
                self.sort = column;
                self.ascending = true;
            }
        }
    }

    /// Draws the list.
    pub fn ui(
        &mut self,
        ui: &mut Ui,
        view: &StoreView,
        selected: Option<&KeyRef>,
        now: Timestamp,
    ) -> Vec<Action> {
        let mut actions = Vec::new();
        ui.horizontal(|ui| {
            ui.heading("Keys");
            ui.with_layout(Layout::right_to_left(Align::Center), |ui| {
                if ui
                    .button("➕ New key")
                    .on_hover_text("Create a key (Ctrl+N)")
                    .clicked()
                {
                    actions.push(Action::NewKeyDialog);
                }
            });
        });
        ui.horizontal(|ui| {
            // The clear button always has its place (disabled while there is
            // nothing to clear), so typing never widens the row, and with it
            // the resizable panel, which would keep the width (issue 10,
            // item 7).
            let clear = egui::Button::new("✖").small();
            let clear_width = ui.spacing().interact_size.y + ui.spacing().button_padding.x * 2.0;
            let width =
                (ui.available_width() - clear_width - ui.spacing().item_spacing.x).max(40.0);
            let filter = ui.add(
                egui::TextEdit::singleline(&mut self.filter)
                    .hint_text("Filter by alias, description, id, origin, material (Ctrl+F)")
                    .desired_width(width),
            );
            let filter = filter.accessible_name("Filter keys");
            if self.focus_filter {
                filter.request_focus();
                self.focus_filter = false;
            }
            if ui
                .add_enabled(!self.filter.is_empty(), clear)
                .accessible_name("Clear the filter")
                .on_hover_text("Clear the filter")
                .clicked()
            {
                self.filter.clear();
            }
        });
        let shown = self.order(view).len();
        let total = view.keys.len();
        ui.horizontal(|ui| {
            let more = if view.complete { "" } else { "+ (listing…)" };
            let text = if shown == total {
                format!("{}{more}", super::format::plural(total as u64, "key"))
            } else {
                format!(
                    "{shown} of {}{more}",
                    super::format::plural(total as u64, "key")
                )
            };
            ui.label(theme::weak(ui, text));
            ui.with_layout(Layout::right_to_left(Align::Center), |ui| {
                ui.label(
                    RichText::new(format!(
                        "Estimated total {} / month",
                        format::usd(view.total_cost)
                    ))
                    .strong(),
                )
                .on_hover_text(
                    "AWS bills $1 per key per month, plus $1 for each of the first two rotations \
                         (later rotations are free).",
                );
            });
        });
        ui.separator();

        let scroll_to = if self.scroll_to_selected {
            self.scroll_to_selected = false;
            selected
                .and_then(|s| view.index.get(s))
                .and_then(|&i| self.rows.iter().position(|&r| r == i))
        } else {
            None
        };
        let line = ui.text_style_height(&egui::TextStyle::Body);
        let mut row_height = line * 2.0 + 8.0;
        // Keys of several Regions: each row says its Region (a
        // multi-Region key has the same id in each).
        let regions = view.backend.regions.len() > 1;
        let columns = Col::fitting(ui);
        let hidden: Vec<Col> = Col::ALL
            .into_iter()
            .filter(|c| !columns.contains(c))
            .collect();
        if !hidden.is_empty() {
            // What gave way is still on screen, in a line of its own under
            // each key's name, and the list says so (issue 10, item 11).
            let titles: Vec<&str> = hidden.iter().map(|c| c.title()).collect();
            ui.add(
                egui::Label::new(theme::weak(
                    ui,
                    format!(
                        "{} shown under each key's name at this size; drag the list's edge to widen it",
                        titles.join(", ")
                    ),
                ))
                .wrap(),
            );
        }
        if !hidden.is_empty() {
            // A horizontal row is at least `interact_size` high.
            row_height += ui.spacing().interact_size.y + ui.spacing().item_spacing.y;
        }
        let widths: Vec<f32> = columns.iter().map(|c| c.width(ui)).collect();
        let mut table = TableBuilder::new(ui)
            .id_salt("key-list")
            .striped(true)
            .sense(Sense::click())
            .resizable(false)
            .cell_layout(Layout::left_to_right(Align::Center))
            .column(Column::remainder().at_least(130.0).clip(true));
        for w in widths {
            table = table.column(Column::exact(w));
        }
        let mut table = table.min_scrolled_height(0.0).auto_shrink(false);
        if let Some(row) = scroll_to {
            table = table.scroll_to_row(row, Some(Align::Center));
        }
        let rows = std::mem::take(&mut self.rows);
        let mut clicked: Option<KeyRef> = None;
        let mut visible = Vec::new();
        table
            .header(28.0, |mut header| {
                header.col(|ui| self.header_button(ui, "Key", SortColumn::Name));
                for c in &columns {
                    header.col(|ui| self.header_button(ui, c.title(), c.sort()));
                }
            })
            .body(|body| {
                body.rows(row_height, rows.len(), |mut row| {
                    let Some(key) = rows.get(row.index()).and_then(|&i| view.keys.get(i)) else {
                        return;
                    };
                    row.set_selected(selected == Some(&key.id));
                    visible.push(key.id.clone());
                    if key.knowledge == Knowledge::Listed {
                        listed_row(&mut row, key, columns.len());
                        if row.response().clicked() {
                            clicked = Some(key.id.clone());
                        }
                        return;
                    }
                    row.col(|ui| {
                        ui.vertical(|ui| {
                            ui.add(
                                egui::Label::new(RichText::new(key.label.as_str()).strong())
                                    .truncate(),
                            );
                            ui.horizontal(|ui| {
                                ui.label(RichText::new(key.short_id.as_str()).monospace().small());
                                if regions {
                                    ui.label(
                                        theme::colored(ui, key.region.as_str(), theme::BLUE)
                                            .small(),
                                    )
                                    .on_hover_text(format!("The key's Region: {}", key.arn));
                                }
                                ui.label(
                                    theme::colored(
                                        ui,
                                        key.origin_text.as_str(),
                                        theme::origin(key.origin),
                                    )
                                    .small(),
                                );
                                // Only what differs from the usual symmetric
                                // encryption key, to keep the row short.
                                if !key.key_spec_text.is_empty()
                                    && key.key_spec != Some(KeySpec::SymmetricDefault)
                                {
                                    ui.add(
                                        egui::Label::new(
                                            RichText::new(key.key_spec_text.as_str())
                                                .monospace()
                                                .small(),
                                        )
                                        .truncate(),
                                    )
                                    .on_hover_text(key.spec_line());
                                }
                            });
                            if !hidden.is_empty() {
                                hidden_line(ui, key, now, &hidden);
                            }
                        });
                    });
                    for c in &columns {
                        row.col(|ui| c.cell(ui, key, now));
                    }
                    if row.response().clicked() {
                        clicked = Some(key.id.clone());
                    }
                });
            });
        self.rows = rows;
        self.visible = visible;
        if let Some(id) = clicked {
            actions.push(Action::SelectKey(id));
        }
        actions
    }
}

/// A row for a key known only by its ARN (an AWS account's ListKeys page):
/// what is known, and that the rest is on its way.
fn listed_row(row: &mut egui_extras::TableRow<'_, '_>, key: &KeyView, columns: usize) {
    row.col(|ui| {
        ui.vertical(|ui| {
            ui.label(RichText::new(key.label.as_str()).strong());
            ui.label(RichText::new(key.key_id.as_str()).monospace().small());
        });
    });
    row.col(|ui| match &key.error {
        Some(e) => {
            ui.label(theme::colored(
                ui,
                e.aws_name.as_deref().unwrap_or("error"),
                theme::RED,
            ))
            .on_hover_text(format!("{} {}", e.plain, e.message));
        }
        None => {
            theme::spinner(ui).on_hover_text("DescribeKey is on its way");
        }
    });
    for _ in 1..columns {
        row.col(|ui| {
            ui.label(theme::weak(ui, "…"));
        });
    }
}

/// A column of the key list after the key itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Col {
    State,
    Current,
    Materials,
    Expiry,
    Rotations,
    Cost,
}

impl Col {
    /// Every column, in order.
    const ALL: [Col; 6] = [
        Col::State,
        Col::Current,
        Col::Materials,
        Col::Expiry,
        Col::Rotations,
        Col::Cost,
    ];
    /// The order in which columns give way when the list is narrow or the
    /// text large (presentation mode, 1280×720, Ctrl+zoom): the key's name
    /// and state never do; what the detail pane repeats goes first.
    const GIVE_WAY: [Col; 4] = [Col::Cost, Col::Materials, Col::Rotations, Col::Expiry];

    /// The room a key's name keeps, in body-text sizes (about 20
    /// characters: `alias/payments-master`).
    const NAME_ROOM: f32 = 11.5;

    /// The columns that fit beside a readable key name in `ui`'s width.
    fn fitting(ui: &Ui) -> Vec<Col> {
        let mut shown = Col::ALL.to_vec();
        let name = egui::TextStyle::Body.resolve(ui.style()).size * Self::NAME_ROOM;
        let spacing = ui.spacing().item_spacing.x;
        let need = |cols: &[Col]| name + cols.iter().map(|c| c.width(ui) + spacing).sum::<f32>();
        for c in Self::GIVE_WAY {
            if need(&shown) <= ui.available_width() {
                break;
            }
            shown.retain(|&s| s != c);
        }
        shown
    }

    /// Its width: measured in the current text size, so that badges and
    /// figures are never cut when the text grows.
    fn width(self, ui: &Ui) -> f32 {
        // 15 points: the body text size the widths were drawn for.
        let scale = egui::TextStyle::Body.resolve(ui.style()).size / 15.0;
        scale
            * match self {
                Col::State => 126.0,
                Col::Current => 78.0,
                Col::Materials => 36.0,
                Col::Expiry => 96.0,
                Col::Rotations => 46.0,
                Col::Cost => 40.0,
            }
    }

    fn title(self) -> &'static str {
        match self {
            Col::State => "State",
            Col::Current => "Current",
            Col::Materials => "Mat.",
            Col::Expiry => "Next expiry",
            Col::Rotations => "Rot.",
            Col::Cost => "Cost",
        }
    }

    fn sort(self) -> SortColumn {
        match self {
            Col::State => SortColumn::State,
            Col::Current => SortColumn::Current,
            Col::Materials => SortColumn::Materials,
            Col::Expiry => SortColumn::Expiry,
            Col::Rotations => SortColumn::Rotations,
            Col::Cost => SortColumn::Cost,
        }
    }

    fn cell(self, ui: &mut Ui, key: &KeyView, now: Timestamp) {
        match self {
            Col::State => {
                state_badge(ui, key, now);
            }
            Col::Current => {
                if key.current_short.is_empty() {
                    ui.label(theme::weak(ui, "—"));
                } else {
                    ui.label(RichText::new(key.current_short.as_str()).monospace());
                }
            }
            Col::Materials => {
                ui.label(key.materials.len().to_string());
            }
            Col::Expiry => match key.lapsed_expiry {
                Some(t) => lapsed_label(ui, t, now),
                None => expiry_label(ui, key.next_expiry, now),
            },
            Col::Rotations if !key.rotates_on_demand() => {
                ui.label(theme::weak(ui, "manual")).on_hover_text(format!(
                    "{} keys do not rotate on demand: rotate them manually (a new key, then the aliases moved to it)",
                    key.key_spec_text
                ));
            }
            Col::Rotations => {
                ui.label(format!(
                    "{}/{}",
                    key.on_demand_rotations, ON_DEMAND_ROTATION_LIMIT
                ))
                .on_hover_text("On-demand rotations used, of the 25 a key may have");
            }
            Col::Cost => {
                ui.label(format::usd(key.monthly_cost));
            }
        }
    }
}

/// The columns that gave way, as one compact line under the key's name:
/// "2 mat. · exp. in 5 days · rot. 1/25 · $2/mo".
fn hidden_line(ui: &mut Ui, key: &KeyView, now: Timestamp, hidden: &[Col]) {
    ui.horizontal(|ui| {
        ui.spacing_mut().item_spacing.x = 3.0;
        let small = |t: String| RichText::new(t).small();
        for (i, c) in hidden.iter().enumerate() {
            if i > 0 {
                ui.label(theme::weak(ui, "·").small());
            }
            match c {
                Col::Materials => {
                    ui.label(small(format!("{} mat.", key.materials.len())))
                        .on_hover_text("Key materials");
                }
                Col::Expiry => {
                    let (text, color) = match (key.lapsed_expiry, key.next_expiry) {
                        (Some(t), _) => (
                            format!("exp. {}", format::relative(t, now)),
                            Some(theme::RED),
                        ),
                        (None, Some(t)) => (
                            format!("exp. {}", format::relative(t, now)),
                            expiry_color(t, now),
                        ),
                        (None, None) => ("exp. never".to_string(), None),
                    };
                    let text = match color {
                        Some(c) => theme::colored(ui, text, c).small().strong(),
                        None => small(text),
                    };
                    ui.label(text).on_hover_text("Next expiry (ValidTo)");
                }
                Col::Rotations if !key.rotates_on_demand() => {
                    ui.label(small("manual rot.".into()))
                        .on_hover_text("Rotated manually: a new key, then the aliases moved to it");
                }
                Col::Rotations => {
                    ui.label(small(format!(
                        "rot. {}/{ON_DEMAND_ROTATION_LIMIT}",
                        key.on_demand_rotations
                    )))
                    .on_hover_text("On-demand rotations used, of the 25 a key may have");
                }
                Col::Cost => {
                    ui.label(small(format!("{}/mo", format::usd(key.monthly_cost))))
                        .on_hover_text("Estimated monthly cost");
                }
                Col::State | Col::Current => {}
            }
        }
    });
}

/// The state badge of a key, pulsing while a rotation is in progress.
pub fn state_badge(ui: &mut Ui, key: &KeyView, now: Timestamp) -> egui::Response {
    if let Some(reason) = &key.readonly {
        return theme::badge(ui, &key.state_text, theme::BadgeStyle::on(theme::SLATE))
            .on_hover_text(format!("Read-only in byok: {reason}"));
    }
    let style = theme::key_state(key.state);
    if let Some(started) = key.rotation_started {
        let phase = (ui.input(|i| i.time) as f32 * 0.8).fract();
        ui.ctx()
            .request_repaint_after(std::time::Duration::from_millis(50));
        let r = theme::pulsing_badge(
            ui,
            &format!("⟳ {}", theme::key_state_label(key.state)),
            style,
            phase,
        );
        return r.on_hover_text(format!(
            "Rotation in progress since {} ({} elapsed)",
            format::date_time_secs(started),
            format::clock_duration(now.since(started))
        ));
    }
    theme::badge(ui, theme::key_state_label(key.state), style)
        .on_hover_text(state_explanation(key, now))
}

/// The expiry cell: relative, amber when near, red when expired.
pub fn expiry_label(ui: &mut Ui, expiry: Option<Timestamp>, now: Timestamp) {
    match expiry {
        None => {
            ui.label(theme::weak(ui, "never"));
        }
        Some(t) => {
            let color = expiry_color(t, now);
            let text = format::relative(t, now);
            let label = match color {
                Some(c) => ui.label(theme::colored(ui, text, c).strong()),
                None => ui.label(text),
            };
            label.on_hover_text(format!("ValidTo {}", format::date_time(t)));
        }
    }
}

/// The expiry cell of a key whose material expired and was not re-imported.
fn lapsed_label(ui: &mut Ui, t: Timestamp, now: Timestamp) {
    // Red says "expired"; the words say when (the column is narrow).
    ui.label(theme::colored(ui, format::relative(t, now), theme::RED).strong())
        .on_hover_text(format!(
            "Material expired at ValidTo {}: the key is unusable until it is re-imported",
            format::date_time(t)
        ));
}

/// Amber within [`EXPIRY_WARNING`], red once passed.
pub fn expiry_color(t: Timestamp, now: Timestamp) -> Option<Color32> {
    if t <= now {
        Some(theme::RED)
    } else if t.since(now) <= EXPIRY_WARNING {
        Some(theme::AMBER)
    } else {
        None
    }
}

/// A multi-Region primary's new material that waits for its replicas
/// (`PENDING_MULTI_REGION_IMPORT_AND_ROTATION`), and what ends the wait.
pub fn waiting_for_replicas(key: &KeyView) -> Option<String> {
    let w = key
        .materials
        .iter()
        .find(|m| m.state == KeyMaterialState::PendingMultiRegionImportAndRotation)?;
    let replicas: Vec<&str> = key
        .multi_region_set
        .iter()
        .flat_map(|s| s.replicas.iter().map(|(r, _)| r.as_str()))
        .collect();
    Some(format!(
        "{}… waits for the replicas (PENDING_MULTI_REGION_IMPORT_AND_ROTATION): import the same material \
         into each replica ({}) with EXISTING_KEY_MATERIAL; then Rotate now makes it current in every Region.",
        w.short,
        replicas.join(", ")
    ))
}

/// What the key's state means and what fixes it, in plain words.
pub fn state_explanation(key: &KeyView, now: Timestamp) -> String {
    match key.state {
        KeyState::Enabled => {
            let mut s = "Enabled: the key encrypts with its current material and decrypts with any material it holds.".to_string();
            if let Some(p) = key.pending_material() {
                s.push_str(&format!(
                    " Material {}… is imported and waits for rotation: Rotate now makes it current.",
                    p.short
                ));
            }
            if let Some(w) = waiting_for_replicas(key) {
                s.push_str(" Material ");
                s.push_str(&w);
            }
            s
        }
        KeyState::Disabled => {
            "Disabled: Encrypt and Decrypt fail with DisabledException. Enable the key to use it again.".into()
        }
        KeyState::PendingDeletion => match key.deletion_date {
            Some(d) => format!(
                "Pending deletion: the key and all its materials will be erased on {} ({}). \
                 Cryptography fails meanwhile. Cancel deletion to keep it (it comes back disabled).",
                format::date_time(d),
                format::relative(d, now)
            ),
            None => "Pending deletion.".into(),
        },
        KeyState::PendingImport => {
            let missing: Vec<String> = key
                .missing_materials()
                .map(|m| {
                    let how = match m.valid_to {
                        Some(v) if v <= now => format!("expired on {}", format::day(v)),
                        _ => "was deleted".to_string(),
                    };
                    format!("material {}… {how}", m.short)
                })
                .collect();
            let replica = key.multi_region_set.as_ref().filter(|s| !s.is_primary);
            if key.materials.is_empty() {
                "Pending import: this key has no key material yet. Import key material to use it.".into()
            } else if let Some(primary) = replica.filter(|_| key.missing_materials().count() == key.materials.len()) {
                // A new replica: the set's materials, none imported here yet.
                let ids: Vec<String> = key.materials.iter().map(|m| format!("{}…", m.short)).collect();
                format!(
                    "Pending import: this replica has none of its set's key material yet. Import the same \
                     material as the primary's{} ({}); until then Encrypt and Decrypt fail \
                     (KMSInvalidStateException).",
                    primary.primary.as_ref().map(|(r, _)| format!(" in {r}")).unwrap_or_default(),
                    ids.join(", ")
                )
            } else if missing.is_empty() {
                "Pending import.".into()
            } else {
                format!(
                    "Pending import: {}. Re-import {} to use this key again; until then Encrypt and Decrypt fail \
                     (KMSInvalidStateException).",
                    missing.join("; "),
                    if missing.len() == 1 { "that same material" } else { "each of these same materials" }
                )
            }
        }
    }
}
