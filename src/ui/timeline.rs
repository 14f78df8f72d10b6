//! The material timeline: one lane per material showing its life — pending
//! rotation, current, non-current, deleted or expired — with import,
//! rotation, deletion and expiry markers, each material's ValidTo, a "now"
//! line, zoom and pan, and a cursor that can be dragged to any past instant
//! to show what the key's state was then. Everything comes from the audit
//! trail ([`KeyHistory`]). Drawn with the painter in large, high-contrast
//! shapes so it reads on a projector.

use std::sync::Arc;

use egui::{
    Align2, Color32, CornerRadius, FontId, Pos2, Rect, RichText, Sense, Shape, Stroke, Ui, pos2,
    vec2,
};

use super::action::{Action, Owner};
use super::format;
use super::theme;
use super::view::{KeyRef, KeyView, StoreView};
use super::worker::{Job, Jobs, Outcome, Pending, Ticket, UiError};
use crate::kms::Timestamp;
use crate::kms::history::{KeyEventKind, KeyHistory, MarkerKind, Presence, Role, StateAt};

const GUTTER: f32 = 200.0;
const AXIS_H: f32 = 30.0;
const EVENTS_H: f32 = 30.0;
const LANE_H: f32 = 34.0;
const LANE_GAP: f32 = 10.0;

/// The timeline's state.
#[derive(Default)]
pub struct Timeline {
    /// The history shown: for which key, as of which view revision.
    history: Option<(KeyRef, u64, Arc<KeyHistory>)>,
    /// The history asked for: for which key and revision.
    pending: Option<Pending<(KeyRef, u64)>>,
    error: Option<UiError>,
    /// Where the history shown came from.
    source: Option<crate::workspace::HistorySource>,
    /// Visible range in milliseconds; `None` fits the key's life.
    range: Option<(f64, f64)>,
    range_key: Option<KeyRef>,
    /// The cursor; `None` follows "now".
    cursor: Option<Timestamp>,
    dragging_cursor: bool,
    /// Time-driven events just announced: flagged on the chart for a while.
    flags: Vec<Flag>,
}

/// An announced event's flag on the chart.
struct Flag {
    key: KeyRef,
    at: Timestamp,
    text: &'static str,
    seen: std::time::Instant,
}

/// How long an announced event stays flagged.
const FLAG_FOR: std::time::Duration = std::time::Duration::from_secs(12);

/// The events the default view shows (the latest part of the story).
const STORY_EVENTS: usize = 4;

fn role_color(role: Role) -> Color32 {
    theme::material_state(role.material_state()).fill
}

impl Timeline {
    /// A job's result.
    pub fn finished(&mut self, ticket: Ticket, outcome: &Result<Outcome, UiError>) {
        let Some(p) = self.pending.take_if(|p| p.ticket == ticket) else {
            return;
        };
        let (key, revision) = p.what;
        match outcome {
            Ok(Outcome::History(h, source)) => {
                self.history = Some((key, revision, h.clone()));
                self.source = Some(source.clone());
                self.error = None;
            }
            Err(e) => self.error = Some(e.clone()),
            Ok(_) => {}
        }
    }

    /// Flags a time-driven event on the chart of its key.
    pub fn announce(&mut self, a: &super::announce::Announcement) {
        self.flags.retain(|f| f.seen.elapsed() < FLAG_FOR);
        self.flags.push(Flag {
            key: a.key.clone(),
            at: a.at,
            text: a.flag(),
            seen: std::time::Instant::now(),
        });
    }

    /// Back to the default view, following now, the cursor on now (the
    /// clock jumped: the story is at the present).
    pub fn follow_now(&mut self) {
        self.range = None;
        self.cursor = None;
    }

    /// Whether the history of a key has been derived (the chart is drawn).
    pub fn has_history(&self) -> bool {
        self.history.is_some()
    }

    /// The key's history, asked of the worker again when the key or the
    /// view changed (the previous one stays on screen meanwhile).
    fn history(&mut self, key: &KeyView, view: &StoreView, jobs: &Jobs) -> Option<Arc<KeyHistory>> {
        let current = self.history.as_ref().filter(|(k, _, _)| *k == key.id);
        let fresh = current.is_some_and(|(_, rev, _)| *rev == view.revision);
        let asked = self
            .pending
            .as_ref()
            .is_some_and(|p| p.what.0 == key.id && p.what.1 == view.revision);
        if !fresh && !asked && self.pending.is_none() {
            self.pending = Some(Pending::submit(
                jobs,
                Owner::Timeline,
                (key.id.clone(), view.revision),
                Job::History {
                    arn: key.id.clone(),
                    key: Box::new(key.present()),
                },
            ));
        }
        current.map(|(_, _, h)| h.clone())
    }

    /// Draws the timeline of `key`.
    pub fn ui(
        &mut self,
        ui: &mut Ui,
        key: &KeyView,
        view: &StoreView,
        now: Timestamp,
        jobs: &Jobs,
    ) -> Vec<Action> {
        let actions = Vec::new();
        if self.range_key.as_ref() != Some(&key.id) {
            self.range = None;
            self.cursor = None;
            self.range_key = Some(key.id.clone());
        }
        let Some(history) = self.history(key, view, jobs) else {
            ui.horizontal(|ui| {
                theme::spinner(ui);
                ui.label(if view.is_aws() {
                    "Reading the key's history (CloudTrail, ListKeyRotations)…"
                } else {
                    "Reading the audit trail…"
                });
            });
            if let Some(e) = &self.error {
                theme::error_box(ui, e);
            }
            return actions;
        };
        // Fit: the key's whole life, up to its last ValidTo or deletion
        // date. History: creation to now. The default view is the latest
        // part of the story (the last few events to now), so a rotation
        // that took a minute is not one pixel of a key's months; a later
        // ValidTo is flagged at the right edge, earlier history at the left.
        let (span_start, span_end) = history.span(now);
        let around = |start: Timestamp, end: Timestamp| {
            let pad = ((end.millis() - start.millis()) as f64 * 0.04).max(60_000.0);
            (start.millis() as f64 - pad, end.millis() as f64 + pad)
        };
        let fit = around(span_start, span_end);
        let history_view = around(span_start, now.max(span_start));
        let (story_start, story_end) = history.recent_span(now, STORY_EVENTS);
        let story_view = around(story_start, story_end);
        let (mut t0, mut t1) = self.range.unwrap_or(story_view);

        // Where the history comes from (an AWS store reads CloudTrail).
        match &self.source {
            Some(crate::workspace::HistorySource::CloudTrail { events }) => {
                ui.label(theme::weak(
                    ui,
                    format!(
                        "From the account's CloudTrail: {} of this key (LookupEvents).",
                        format::plural(*events as u64, "event")
                    ),
                ));
            }
            Some(crate::workspace::HistorySource::OwnTrail { why, denied }) => {
                theme::note_box(ui, theme::AMBER, |ui| {
                    ui.label(if *denied {
                        "CloudTrail is not permitted for you (cloudtrail:LookupEvents is denied): the lanes come from ListKeyRotations and from what byok itself asked AWS."
                    } else {
                        "CloudTrail could not be read: the lanes come from ListKeyRotations and from what byok itself asked AWS."
                    });
                    ui.label(theme::weak(ui, why.as_str()));
                });
            }
            _ => {}
        }
        // Toolbar.
        ui.horizontal_wrapped(|ui| {
            ui.heading("Material timeline");
            ui.add_space(12.0);
            let zoom = |t0: &mut f64, t1: &mut f64, factor: f64| {
                let mid = (*t0 + *t1) / 2.0;
                let half = ((*t1 - *t0) / 2.0 * factor).max(30_000.0);
                *t0 = mid - half;
                *t1 = mid + half;
            };
            if ui
                .button("➖")
                .on_hover_text("Zoom out")
                .accessible_name("Zoom out")
                .clicked()
            {
                zoom(&mut t0, &mut t1, 1.6);
                self.range = Some((t0, t1));
            }
            if ui
                .button("➕")
                .on_hover_text("Zoom in")
                .accessible_name("Zoom in")
                .clicked()
            {
                zoom(&mut t0, &mut t1, 1.0 / 1.6);
                self.range = Some((t0, t1));
            }
            if ui
                .selectable_label(self.range.is_none(), "Recent")
                .on_hover_text("Follow the latest events up to now (the default)")
                .clicked()
            {
                self.range = None;
                (t0, t1) = story_view;
            }
            if ui
                .button("History")
                .on_hover_text("Show what happened, from the key's creation to now")
                .clicked()
            {
                self.range = Some(history_view);
                (t0, t1) = history_view;
            }
            if ui
                .button("Fit")
                .on_hover_text("Show the key's whole life, up to its last ValidTo or deletion date")
                .clicked()
            {
                self.range = Some(fit);
                (t0, t1) = fit;
            }
            for (label, days) in [
                ("90 d", 90.0),
                ("7 d", 7.0),
                ("1 d", 1.0),
                ("1 h", 1.0 / 24.0),
            ] {
                if ui
                    .small_button(label)
                    .on_hover_text(format!("Show the last {label} up to now"))
                    .accessible_name(format!("Show the last {label}"))
                    .clicked()
                {
                    let span = days * DAY;
                    let now_ms = now.millis() as f64;
                    (t0, t1) = (now_ms - span, now_ms + span * 0.12);
                    self.range = Some((t0, t1));
                }
            }
            if ui
                .add_enabled(self.cursor.is_some(), egui::Button::new("Now"))
                .on_hover_text("Move the cursor back to now")
                .clicked()
            {
                self.cursor = None;
            }
        });
        ui.horizontal_wrapped(|ui| {
            legend(ui);
            ui.add_space(12.0);
            ui.label(theme::weak(
                ui,
                "Drag the amber cursor (or click) for any past instant · drag to pan · Ctrl+scroll to zoom",
            ));
        });

        // Canvas.
        let lanes = history.lanes.len().max(1);
        let height = AXIS_H + EVENTS_H + lanes as f32 * (LANE_H + LANE_GAP) + 24.0;
        let width = ui.available_width().max(320.0);
        let (rect, response) = ui.allocate_exact_size(vec2(width, height), Sense::click_and_drag());
        let response = response.accessible_name("Material timeline chart");
        let plot = Rect::from_min_max(pos2(rect.left() + GUTTER, rect.top()), rect.max);
        let span = (t1 - t0).max(1.0);
        let (v0, vspan) = (t0, span);
        let x_of = |t: f64| plot.left() + ((t - v0) / vspan) as f32 * plot.width();
        let t_of = |x: f32| v0 + ((x - plot.left()) / plot.width()) as f64 * vspan;
        let now_ms = now.millis() as f64;

        // Interaction: cursor drag, pan, click to place, ctrl+scroll zoom.
        let cursor_ms = self.cursor.map_or(now_ms, |c| c.millis() as f64);
        if response.drag_started()
            && let Some(p) = response.interact_pointer_pos()
        {
            self.dragging_cursor =
                (p.x - x_of(cursor_ms)).abs() < 14.0 || p.y < rect.top() + AXIS_H;
        }
        if response.dragged() {
            if self.dragging_cursor {
                if let Some(p) = response.interact_pointer_pos() {
                    self.cursor =
                        Some(Timestamp::from_millis(t_of(p.x).min(now_ms).max(t0) as i64));
                }
            } else {
                let dt = -(response.drag_delta().x / plot.width()) as f64 * span;
                t0 += dt;
                t1 += dt;
                self.range = Some((t0, t1));
            }
        }
        if response.drag_stopped() {
            self.dragging_cursor = false;
        }
        if response.clicked()
            && let Some(p) = response.interact_pointer_pos()
            && p.x >= plot.left()
        {
            let t = t_of(p.x).min(now_ms);
            self.cursor = if (now_ms - t).abs() < span * 0.002 {
                None
            } else {
                Some(Timestamp::from_millis(t as i64))
            };
        }
        if response.hovered() {
            let (zoom, scroll_x) = ui.input(|i| (i.zoom_delta(), i.smooth_scroll_delta.x));
            if (zoom - 1.0).abs() > 1e-3 {
                let anchor = ui
                    .input(|i| i.pointer.hover_pos())
                    .map_or((t0 + t1) / 2.0, |p| t_of(p.x));
                let f = 1.0 / zoom as f64;
                t0 = anchor - (anchor - t0) * f;
                t1 = anchor + (t1 - anchor) * f;
                self.range = Some((t0, t1));
            }
            if scroll_x.abs() > 0.0 {
                let dt = -(scroll_x / plot.width()) as f64 * span;
                t0 += dt;
                t1 += dt;
                self.range = Some((t0, t1));
            }
        }
        let span = (t1 - t0).max(1.0);
        let x_of = |t: f64| plot.left() + ((t - t0) / span) as f32 * plot.width();

        let painter = ui.painter_at(rect);
        let dark = ui.visuals().dark_mode;
        let ink = if dark {
            Color32::from_rgb(235, 238, 242)
        } else {
            Color32::from_rgb(20, 22, 26)
        };
        let faint = if dark {
            Color32::from_gray(60)
        } else {
            Color32::from_gray(210)
        };
        let bg = ui.visuals().extreme_bg_color;
        painter.rect_filled(rect, CornerRadius::same(6), bg);
        let body_font = FontId::proportional(14.0);
        let small_font = FontId::proportional(12.5);
        let mono_font = FontId::monospace(14.0);

        // Axis and grid.
        let step = tick_step(span, plot.width());
        let mut tick = (t0 / step).ceil() * step;
        while tick <= t1 {
            let x = x_of(tick);
            painter.line_segment(
                [pos2(x, rect.top() + AXIS_H - 6.0), pos2(x, rect.bottom())],
                Stroke::new(1.0, faint),
            );
            // A label that would run off the right edge is left out.
            if x + 80.0 < plot.right() {
                let label = tick_label(Timestamp::from_millis(tick as i64), step);
                painter.text(
                    pos2(x + 3.0, rect.top() + 6.0),
                    Align2::LEFT_TOP,
                    label,
                    small_font.clone(),
                    ink,
                );
            }
            tick += step;
        }
        painter.line_segment(
            [
                pos2(plot.left(), rect.top() + AXIS_H),
                pos2(plot.right(), rect.top() + AXIS_H),
            ],
            Stroke::new(1.0, faint),
        );

        // Key-level row: deletion and rotation periods, key events.
        let events_top = rect.top() + AXIS_H;
        painter.text(
            pos2(rect.left() + 10.0, events_top + EVENTS_H / 2.0),
            Align2::LEFT_CENTER,
            "Key events",
            body_font.clone(),
            ink,
        );
        let lanes_top = events_top + EVENTS_H;
        let lanes_bottom = lanes_top + lanes as f32 * (LANE_H + LANE_GAP);
        for (from, to) in history.rotation_periods() {
            let x0 = x_of(from.millis() as f64);
            let x1 = x_of(to.map_or(now_ms, |t| t.millis() as f64)).max(x0 + 3.0);
            let band = Rect::from_min_max(pos2(x0, events_top + 2.0), pos2(x1, lanes_bottom));
            painter.rect_filled(band, CornerRadius::ZERO, theme::VIOLET.gamma_multiply(0.22));
        }
        let mut hover_text: Option<String> = None;
        let pointer = ui
            .input(|i| i.pointer.hover_pos())
            .filter(|p| rect.contains(*p));
        for e in &history.key_events {
            let x = x_of(e.at.millis() as f64);
            if x < plot.left() - 10.0 || x > plot.right() + 10.0 {
                continue;
            }
            let c = pos2(x, events_top + EVENTS_H / 2.0);
            let color = match e.kind {
                KeyEventKind::Created | KeyEventKind::Enabled => theme::GREEN,
                KeyEventKind::RotationRequested => theme::VIOLET,
                KeyEventKind::DeletionScheduled(_) => theme::RED,
                KeyEventKind::DeletionCancelled | KeyEventKind::Disabled => theme::SLATE,
            };
            diamond(&painter, c, 8.0, color, Stroke::new(1.5, ink));
            if let KeyEventKind::DeletionScheduled(Some(d)) = e.kind {
                let xd = x_of(d.millis() as f64);
                painter.line_segment([c, pos2(xd, c.y)], Stroke::new(2.0, theme::RED));
                painter.text(
                    pos2(xd, c.y),
                    Align2::RIGHT_BOTTOM,
                    "deletion date",
                    small_font.clone(),
                    theme::RED,
                );
            }
            if pointer.is_some_and(|p| (p - c).length() < 10.0) {
                hover_text = Some(format!(
                    "{} — {}",
                    e.kind.label(),
                    format::date_time_secs(e.at)
                ));
            }
        }

        // What the key manager will do (issue 12): hollow diamonds on the
        // key's row, a flag at the edge for the next one beyond the view.
        let mut beyond = None;
        for d in view.manager.due.iter().filter(|d| d.key_arn == key.arn) {
            let x = x_of(d.when.millis() as f64);
            if x > plot.right() {
                beyond = beyond.or(Some(d));
                continue;
            }
            if x < plot.left() {
                continue;
            }
            let c = pos2(x, events_top + EVENTS_H / 2.0);
            diamond(
                &painter,
                c,
                7.0,
                Color32::TRANSPARENT,
                Stroke::new(2.0, theme::TEAL),
            );
            if pointer.is_some_and(|p| (p - c).length() < 10.0) {
                hover_text = Some(format!(
                    "Key manager: {} — {} ({})",
                    d.what,
                    format::date_time(d.when),
                    format::relative(d.when, now)
                ));
            }
        }
        if let Some(d) = beyond {
            let text = format!("next: {} ›", format::relative(d.when, now));
            let at = pos2(plot.right() - 5.0, events_top + 2.0);
            let galley = painter.layout_no_wrap(text, small_font.clone(), Color32::WHITE);
            let r = Align2::RIGHT_TOP.anchor_size(at, galley.size());
            painter.rect_filled(r.expand(2.0), CornerRadius::same(3), theme::TEAL);
            painter.galley(r.min, galley, Color32::WHITE);
            if pointer.is_some_and(|p| r.expand(3.0).contains(p)) {
                hover_text = Some(format!(
                    "Key manager: {} — {} ({})",
                    d.what,
                    format::date_time(d.when),
                    format::relative(d.when, now)
                ));
            }
        }

        // Lanes.
        for (i, lane) in history.lanes.iter().enumerate() {
            let top = lanes_top + i as f32 * (LANE_H + LANE_GAP) + LANE_GAP / 2.0;
            let mid = top + LANE_H / 2.0;
            painter.text(
                pos2(rect.left() + 10.0, mid - 8.0),
                Align2::LEFT_CENTER,
                lane.short.as_str(),
                mono_font.clone(),
                ink,
            );
            let desc =
                lane.description
                    .as_deref()
                    .unwrap_or(if lane.removed { "removed" } else { "" });
            painter.text(
                pos2(rect.left() + 10.0, mid + 9.0),
                Align2::LEFT_CENTER,
                format::ellipsize(desc, 24),
                small_font.clone(),
                ink.gamma_multiply(0.75),
            );
            for s in &lane.segments {
                let x0 = x_of(s.from.millis() as f64).max(plot.left() - 2.0);
                let x1 = x_of(s.to.map_or(now_ms, |t| t.millis() as f64)).min(plot.right() + 2.0);
                if x1 <= plot.left() || x0 >= plot.right() {
                    continue;
                }
                let r = Rect::from_min_max(pos2(x0, top), pos2(x1.max(x0 + 2.0), top + LANE_H));
                let color = role_color(s.role);
                match s.presence {
                    Presence::Imported => {
                        painter.rect_filled(r, CornerRadius::same(4), color);
                    }
                    Presence::Deleted | Presence::Expired | Presence::Missing => {
                        // Gone (red), or absent for a reason the trail
                        // does not give (amber).
                        let tone = if s.presence == Presence::Missing {
                            theme::AMBER
                        } else {
                            theme::RED
                        };
                        painter.rect_filled(r, CornerRadius::same(4), tone.gamma_multiply(0.25));
                        hatch(&painter, r, tone);
                        painter.rect_stroke(
                            r,
                            CornerRadius::same(4),
                            Stroke::new(2.0, tone),
                            egui::StrokeKind::Inside,
                        );
                    }
                }
                let label = match s.presence {
                    Presence::Imported => s.role.as_str().to_string(),
                    Presence::Deleted => format!("{} · DELETED", s.role.as_str()),
                    Presence::Expired => format!("{} · EXPIRED", s.role.as_str()),
                    Presence::Missing => format!("{} · PENDING IMPORT", s.role.as_str()),
                };
                let text_color = if s.presence == Presence::Imported {
                    theme::material_state(s.role.material_state()).text
                } else {
                    ink
                };
                let visible = Rect::from_min_max(
                    pos2(r.left().max(plot.left()), r.top()),
                    pos2(r.right().min(plot.right()), r.bottom()),
                );
                if visible.width() > 140.0 {
                    painter.with_clip_rect(visible).text(
                        pos2(visible.left() + 8.0, mid),
                        Align2::LEFT_CENTER,
                        label.as_str(),
                        body_font.clone(),
                        text_color,
                    );
                }
                if pointer.is_some_and(|p| r.contains(p)) && hover_text.is_none() {
                    hover_text = Some(format!(
                        "Material {}…: {label}\nfrom {}{}",
                        lane.short,
                        format::date_time(s.from),
                        s.to.map(|t| format!(" to {}", format::date_time(t)))
                            .unwrap_or_else(|| " until now".into())
                    ));
                }
            }
            for m in &lane.markers {
                let x = x_of(m.at.millis() as f64);
                if x < plot.left() - 8.0 || x > plot.right() + 8.0 {
                    continue;
                }
                let c = pos2(x, mid);
                marker(&painter, c, m.kind, ink);
                if pointer.is_some_and(|p| (p - c).length() < 11.0) {
                    hover_text = Some(format!(
                        "{} — {}\n{} (audit event {})",
                        m.kind.label(),
                        format::date_time_secs(m.at),
                        lane.short,
                        m.event
                    ));
                }
            }
            if let Some(v) = lane.valid_to {
                let x = x_of(v.millis() as f64);
                if v > now {
                    let xn = x_of(now_ms).max(plot.left());
                    dashed(
                        &painter,
                        pos2(xn, mid),
                        pos2(x.min(plot.right()), mid),
                        theme::AMBER,
                    );
                }
                if x > plot.right() {
                    // Beyond the view: a flag at the edge says when.
                    let text = format!("ValidTo {} ›", format::relative(v, now));
                    let at = pos2(plot.right() - 5.0, top + 2.0);
                    let r = flag(&painter, at, Align2::RIGHT_TOP, text, small_font.clone());
                    if pointer.is_some_and(|p| r.expand(3.0).contains(p)) {
                        hover_text = Some(format!(
                            "ValidTo {} ({}) — Fit shows it",
                            format::date_time(v),
                            format::relative(v, now)
                        ));
                    }
                }
                if x >= plot.left() && x <= plot.right() {
                    painter.line_segment(
                        [pos2(x, top - 3.0), pos2(x, top + LANE_H + 3.0)],
                        Stroke::new(3.0, theme::RED),
                    );
                    // The flag goes on whichever side has room.
                    let (anchor, at) = if x + 70.0 < plot.right() {
                        (Align2::LEFT_TOP, pos2(x + 5.0, top + 2.0))
                    } else {
                        (Align2::RIGHT_TOP, pos2(x - 5.0, top + 2.0))
                    };
                    flag(&painter, at, anchor, "ValidTo".into(), small_font.clone());
                    if pointer
                        .is_some_and(|p| (p.x - x).abs() < 6.0 && p.y > top && p.y < top + LANE_H)
                    {
                        hover_text = Some(format!(
                            "ValidTo {} ({})",
                            format::date_time(v),
                            format::relative(v, now)
                        ));
                    }
                }
            }
        }
        if history.lanes.is_empty() {
            painter.text(
                pos2(plot.left() + 12.0, lanes_top + LANE_H / 2.0 + 4.0),
                Align2::LEFT_CENTER,
                "No key material yet — import key material to start this key's timeline",
                body_font.clone(),
                ink,
            );
        }

        // Earlier history beyond the left edge.
        if t0 > history.created.millis() as f64 {
            painter.text(
                pos2(plot.left() + 4.0, rect.bottom() - 3.0),
                Align2::LEFT_BOTTOM,
                format!(
                    "‹ earlier: created {} (History shows it)",
                    format::relative(history.created, now)
                ),
                small_font.clone(),
                ink.gamma_multiply(0.7),
            );
        }
        // Time-driven events just announced: a pulsing line and a flag.
        self.flags.retain(|f| f.seen.elapsed() < FLAG_FOR);
        for f in self.flags.iter().filter(|f| f.key == key.id) {
            let x = x_of(f.at.millis() as f64).clamp(plot.left(), plot.right());
            let phase = f.seen.elapsed().as_secs_f32() * std::f32::consts::TAU / 1.5;
            let width = 3.0 + 2.0 * phase.sin().abs();
            painter.line_segment(
                [pos2(x, events_top), pos2(x, lanes_bottom)],
                Stroke::new(width, theme::AMBER),
            );
            let at = pos2(x, events_top + 2.0);
            let anchor = if x + 160.0 < plot.right() {
                Align2::LEFT_TOP
            } else {
                Align2::RIGHT_TOP
            };
            let galley =
                painter.layout_no_wrap(f.text.to_string(), body_font.clone(), Color32::BLACK);
            let r = anchor.anchor_size(at, galley.size()).expand(3.0);
            painter.rect_filled(r, CornerRadius::same(4), theme::AMBER);
            painter.galley(r.min + vec2(3.0, 3.0), galley, Color32::BLACK);
        }
        if self.flags.iter().any(|f| f.key == key.id) {
            ui.ctx()
                .request_repaint_after(std::time::Duration::from_millis(50));
        }

        // Now line.
        let xn = x_of(now_ms);
        if xn >= plot.left() && xn <= plot.right() {
            let now_color = if dark { Color32::WHITE } else { Color32::BLACK };
            painter.line_segment(
                [pos2(xn, rect.top() + AXIS_H), pos2(xn, rect.bottom())],
                Stroke::new(2.0, now_color),
            );
            painter.text(
                pos2(xn - 5.0, rect.bottom() - 3.0),
                Align2::RIGHT_BOTTOM,
                "now",
                body_font.clone(),
                now_color,
            );
        }
        // Cursor.
        if let Some(c) = self.cursor {
            let xc = x_of(c.millis() as f64);
            if xc >= plot.left() && xc <= plot.right() {
                painter.line_segment(
                    [pos2(xc, rect.top() + 2.0), pos2(xc, rect.bottom())],
                    Stroke::new(3.0, theme::AMBER),
                );
                let head = pos2(xc, rect.top() + AXIS_H - 2.0);
                painter.add(Shape::convex_polygon(
                    vec![head + vec2(-9.0, -12.0), head + vec2(9.0, -12.0), head],
                    theme::AMBER,
                    Stroke::new(1.0, ink),
                ));
            }
        }
        if let Some(text) = hover_text {
            response.clone().on_hover_text_at_pointer(text);
        }
        if response.hovered() {
            ui.ctx().set_cursor_icon(if self.dragging_cursor {
                egui::CursorIcon::ResizeHorizontal
            } else {
                egui::CursorIcon::Grab
            });
        }
        if self.range.is_some() {
            self.range = Some((t0, t1));
        }

        // The key as it was at the cursor.
        // The past comes from the trail; the present from the engine itself.
        let state = match self.cursor {
            Some(at) => history.state_at(at),
            None => StateAt::from_present(&key.present(), now),
        };
        state_at_ui(ui, &state, now, self.cursor.is_some());
        actions
    }
}

fn legend(ui: &mut Ui) {
    for (text, color) in [
        ("Pending rotation", theme::VIOLET),
        ("Current", theme::GREEN),
        ("Non-current", theme::SLATE),
        ("Deleted / expired", theme::RED),
    ] {
        let (r, _) = ui.allocate_exact_size(vec2(16.0, 16.0), Sense::hover());
        ui.painter().rect_filled(r, CornerRadius::same(3), color);
        ui.label(text);
    }
    let (r, _) = ui.allocate_exact_size(vec2(16.0, 16.0), Sense::hover());
    diamond(
        ui.painter(),
        r.center(),
        6.0,
        Color32::TRANSPARENT,
        Stroke::new(2.0, theme::TEAL),
    );
    ui.label("Planned by the key manager");
}

fn state_at_ui(ui: &mut Ui, state: &StateAt, now: Timestamp, is_cursor: bool) {
    theme::card(ui).show(ui, |ui| {
        ui.set_width(ui.available_width());
        ui.horizontal_wrapped(|ui| {
            let title = if is_cursor {
                format!(
                    "At {} ({})",
                    format::date_time(state.at),
                    format::relative(state.at, now)
                )
            } else {
                "Now".to_string()
            };
            ui.label(RichText::new(title).strong().size(17.0));
            if !state.existed {
                ui.label("the key did not exist yet.");
                return;
            }
            theme::badge(
                ui,
                theme::key_state_label(state.key_state),
                theme::key_state(state.key_state),
            );
            if state.rotating {
                theme::badge(
                    ui,
                    "⟳ rotation in progress",
                    theme::BadgeStyle::on(theme::VIOLET),
                );
            }
            match state.current {
                Some(c) => ui.label(format!("Current material {}…", c.short())),
                None => ui.label("No current material"),
            };
        });
        ui.horizontal_wrapped(|ui| {
            for m in &state.materials {
                let presence = match m.presence {
                    Presence::Imported => "imported",
                    Presence::Deleted => "deleted",
                    Presence::Expired => "expired",
                    Presence::Missing => "pending import",
                };
                let style = match m.presence {
                    Presence::Imported => theme::material_state(m.role.material_state()),
                    Presence::Missing => theme::BadgeStyle::on(theme::AMBER),
                    Presence::Deleted | Presence::Expired => theme::BadgeStyle::on(theme::RED),
                };
                theme::badge(
                    ui,
                    &format!("{}… {} · {presence}", m.id.short(), m.role.as_str()),
                    style,
                );
            }
        });
    });
}

/// A marker glyph: circle (imported), ring (re-imported), diamond (rotated
/// in), cross (deleted, expired, removed).
fn marker(painter: &egui::Painter, c: Pos2, kind: MarkerKind, ink: Color32) {
    let outline = Stroke::new(2.0, ink);
    match kind {
        MarkerKind::Imported => {
            painter.circle(c, 7.0, theme::TEAL, outline);
        }
        MarkerKind::Reimported => {
            painter.circle(c, 7.0, theme::AMBER, outline);
            painter.circle_filled(c, 2.5, ink);
        }
        MarkerKind::RotatedIn => {
            diamond(painter, c, 9.0, theme::GREEN, outline);
        }
        MarkerKind::Deleted | MarkerKind::Expired | MarkerKind::Removed => {
            painter.circle(c, 8.0, theme::RED, outline);
            let d = 4.0;
            let s = Stroke::new(2.5, Color32::WHITE);
            painter.line_segment([c + vec2(-d, -d), c + vec2(d, d)], s);
            painter.line_segment([c + vec2(-d, d), c + vec2(d, -d)], s);
        }
    }
}

/// A diamond of half-width `r` centred on `c` (key events, rotations).
fn diamond(painter: &egui::Painter, c: Pos2, r: f32, fill: Color32, stroke: Stroke) {
    painter.add(Shape::convex_polygon(
        vec![
            c + vec2(0.0, -r),
            c + vec2(r, 0.0),
            c + vec2(0.0, r),
            c + vec2(-r, 0.0),
        ],
        fill,
        stroke,
    ));
}

fn hatch(painter: &egui::Painter, r: Rect, color: Color32) {
    let p = painter.with_clip_rect(r.intersect(painter.clip_rect()));
    let stroke = Stroke::new(1.5, color.gamma_multiply(0.7));
    let mut x = r.left() - r.height();
    while x < r.right() {
        p.line_segment([pos2(x, r.bottom()), pos2(x + r.height(), r.top())], stroke);
        x += 9.0;
    }
}

/// A ValidTo flag: white text on red, anchored at `at`. Returns its rect.
fn flag(painter: &egui::Painter, at: Pos2, anchor: Align2, text: String, font: FontId) -> Rect {
    let galley = painter.layout_no_wrap(text, font, Color32::WHITE);
    let r = anchor.anchor_size(at, galley.size());
    painter.rect_filled(r.expand(2.0), CornerRadius::same(3), theme::RED);
    painter.galley(r.min, galley, Color32::WHITE);
    r
}

fn dashed(painter: &egui::Painter, a: Pos2, b: Pos2, color: Color32) {
    if b.x <= a.x {
        return;
    }
    painter.add(Shape::dashed_line(
        &[a, b],
        Stroke::new(2.5, color),
        8.0,
        6.0,
    ));
}

const HOUR: f64 = 3_600_000.0;
const DAY: f64 = 24.0 * HOUR;

/// A tick spacing that leaves at least ~110 px between labels.
fn tick_step(span_ms: f64, width: f32) -> f64 {
    let min = span_ms / (width as f64 / 110.0).max(1.0);
    for s in [
        60_000.0,
        5.0 * 60_000.0,
        15.0 * 60_000.0,
        HOUR,
        3.0 * HOUR,
        6.0 * HOUR,
        12.0 * HOUR,
        DAY,
        2.0 * DAY,
        7.0 * DAY,
        14.0 * DAY,
        30.0 * DAY,
        60.0 * DAY,
        91.0 * DAY,
        182.0 * DAY,
        365.0 * DAY,
    ] {
        if s >= min {
            return s;
        }
    }
    730.0 * DAY
}

fn tick_label(t: Timestamp, step: f64) -> String {
    let dt = t.to_datetime();
    if step < DAY {
        dt.format("%-d %b %H:%M").to_string()
    } else if step < 60.0 * DAY {
        dt.format("%-d %b").to_string()
    } else {
        dt.format("%b %Y").to_string()
    }
}
