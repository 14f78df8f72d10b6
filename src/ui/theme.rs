//! Colours, text sizes and badge styles: every state's look lives here, so a
//! state reads the same in the key list, the detail, the timeline and the
//! audit trail, in dark and light themes, and on a projector.

use egui::{Color32, CornerRadius, FontId, Response, RichText, Stroke, TextStyle, Ui, Vec2};
use serde::{Deserialize, Serialize};

use crate::kms::{ImportState, KeyMaterialState, KeyState, Origin};

/// The user's theme choice (an eframe-persisted preference).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum ThemeChoice {
    /// Follow the operating system.
    #[default]
    System,
    /// Dark.
    Dark,
    /// Light.
    Light,
}

impl ThemeChoice {
    /// Every choice, in menu order.
    pub const ALL: [ThemeChoice; 3] = [ThemeChoice::Dark, ThemeChoice::Light, ThemeChoice::System];

    /// The label in the settings.
    pub fn label(self) -> &'static str {
        match self {
            ThemeChoice::System => "System",
            ThemeChoice::Dark => "Dark",
            ThemeChoice::Light => "Light",
        }
    }

    fn preference(self) -> egui::ThemePreference {
        match self {
            ThemeChoice::System => egui::ThemePreference::System,
            ThemeChoice::Dark => egui::ThemePreference::Dark,
            ThemeChoice::Light => egui::ThemePreference::Light,
        }
    }
}

/// Installs the theme: larger text than egui's default (the console is read
/// from across a room), roomier spacing, and the chosen dark/light theme.
pub fn apply(ctx: &egui::Context, choice: ThemeChoice, presentation: bool) {
    ctx.set_theme(choice.preference());
    let scale = if presentation { 1.2 } else { 1.0 };
    ctx.all_styles_mut(|style| {
        use egui::FontFamily::{Monospace, Proportional};
        style.text_styles = [
            (TextStyle::Small, FontId::new(12.5 * scale, Proportional)),
            (TextStyle::Body, FontId::new(15.0 * scale, Proportional)),
            (TextStyle::Button, FontId::new(15.0 * scale, Proportional)),
            (TextStyle::Monospace, FontId::new(14.0 * scale, Monospace)),
            (TextStyle::Heading, FontId::new(21.0 * scale, Proportional)),
        ]
        .into();
        style.spacing.item_spacing = Vec2::new(8.0, 6.0);
        style.spacing.button_padding = Vec2::new(9.0, 4.0);
        style.spacing.interact_size.y = 26.0 * scale;
        style.spacing.combo_width = 180.0;
        style.spacing.tooltip_width = 460.0;
        // Labels pass clicks to the row under them (key list, audit trail);
        // identifiers that are worth copying opt back in with `.selectable(true)`.
        style.interaction.selectable_labels = false;
        style.visuals.hyperlink_color = if style.visuals.dark_mode {
            Color32::from_rgb(125, 185, 255)
        } else {
            Color32::from_rgb(20, 90, 200)
        };
        if !style.visuals.dark_mode {
            // egui's light theme draws faint text; a projector washes it out.
            style.visuals.override_text_color = Some(Color32::from_rgb(25, 28, 34));
            style.visuals.panel_fill = Color32::from_rgb(246, 247, 249);
            style.visuals.window_fill = Color32::from_rgb(252, 252, 253);
            style.visuals.faint_bg_color = Color32::from_rgb(236, 239, 243);
        } else {
            style.visuals.override_text_color = Some(Color32::from_rgb(228, 231, 236));
            style.visuals.panel_fill = Color32::from_rgb(24, 26, 31);
            style.visuals.window_fill = Color32::from_rgb(31, 34, 40);
            style.visuals.faint_bg_color = Color32::from_rgb(36, 39, 46);
            style.visuals.extreme_bg_color = Color32::from_rgb(16, 17, 21);
        }
    });
}

/// What the window is cleared to before a frame is painted: the panels'
/// colour. The panels themselves are painted without a fill
/// ([`side_panel_frame`], [`central_panel_frame`]): under software
/// rendering (Mesa's llvmpipe, as on a VM or a projector laptop without a
/// GPU driver) shading the panels' fill, which covers the whole window,
/// was a third of every frame's cost, while a clear costs next to nothing
/// (issue 10, item 14; `cargo bench --bench console_open`).
pub fn clear_color(visuals: &egui::Visuals) -> [f32; 4] {
    visuals.panel_fill.to_normalized_gamma_f32()
}

/// A side, top or bottom panel's frame without its fill (see
/// [`clear_color`]).
pub fn side_panel_frame(ui: &Ui) -> egui::Frame {
    egui::Frame::side_top_panel(ui.style()).fill(Color32::TRANSPARENT)
}

/// The central panel's frame without its fill (see [`clear_color`]).
pub fn central_panel_frame(ui: &Ui) -> egui::Frame {
    egui::Frame::central_panel(ui.style()).fill(Color32::TRANSPARENT)
}

/// A badge: background and text colour.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BadgeStyle {
    /// Fill.
    pub fill: Color32,
    /// Text.
    pub text: Color32,
}

impl BadgeStyle {
    /// A badge filled with `fill`, lettered in whatever reads on it: dark
    /// ink on amber, white on every other colour of the palette.
    pub fn on(fill: Color32) -> Self {
        let text = if fill == AMBER { INK } else { WHITE };
        BadgeStyle { fill, text }
    }
}

const WHITE: Color32 = Color32::WHITE;
const INK: Color32 = Color32::from_rgb(20, 20, 20);

/// Green: usable / current.
pub const GREEN: Color32 = Color32::from_rgb(22, 140, 74);
/// Amber: attention (pending import, expiring soon).
pub const AMBER: Color32 = Color32::from_rgb(230, 150, 20);
/// Red: danger (pending deletion, expired, deleted).
pub const RED: Color32 = Color32::from_rgb(206, 38, 38);
/// Slate: inactive (disabled, non-current).
pub const SLATE: Color32 = Color32::from_rgb(100, 112, 130);
/// Violet: in transit (pending rotation, rotation in progress).
pub const VIOLET: Color32 = Color32::from_rgb(124, 58, 237);
/// Blue: informational (AWS_KMS origin, markers).
pub const BLUE: Color32 = Color32::from_rgb(37, 99, 235);
/// Teal: imported material present.
pub const TEAL: Color32 = Color32::from_rgb(13, 148, 136);

/// The badge of a key state.
pub fn key_state(state: KeyState) -> BadgeStyle {
    BadgeStyle::on(match state {
        KeyState::Enabled => GREEN,
        KeyState::Disabled => SLATE,
        KeyState::PendingImport => AMBER,
        KeyState::PendingDeletion => RED,
    })
}

/// The badge of a material state.
pub fn material_state(state: KeyMaterialState) -> BadgeStyle {
    BadgeStyle::on(match state {
        KeyMaterialState::Current => GREEN,
        KeyMaterialState::NonCurrent => SLATE,
        KeyMaterialState::PendingRotation
        | KeyMaterialState::PendingMultiRegionImportAndRotation => VIOLET,
    })
}

/// The badge of an import state.
pub fn import_state(state: ImportState) -> BadgeStyle {
    BadgeStyle::on(match state {
        ImportState::Imported => TEAL,
        ImportState::PendingImport => AMBER,
    })
}

/// The text colour for an origin.
pub fn origin(origin: Option<Origin>) -> Color32 {
    match origin {
        Some(Origin::External) => TEAL,
        Some(Origin::AwsKms) => BLUE,
        None => SLATE,
    }
}

/// The human label of a key state ("Pending import").
pub fn key_state_label(state: KeyState) -> &'static str {
    match state {
        KeyState::Enabled => "Enabled",
        KeyState::Disabled => "Disabled",
        KeyState::PendingImport => "Pending import",
        KeyState::PendingDeletion => "Pending deletion",
    }
}

/// Paints a rounded badge with `text`; the response carries the text as its
/// accessible name.
pub fn badge(ui: &mut Ui, text: &str, style: BadgeStyle) -> Response {
    let font = TextStyle::Body.resolve(ui.style());
    let font = FontId::new(font.size * 0.88, font.family);
    let galley = ui
        .painter()
        .layout_no_wrap(text.to_owned(), font, style.text);
    let padding = Vec2::new(8.0, 2.5);
    let size = galley.size() + 2.0 * padding;
    let (rect, response) = ui.allocate_exact_size(size, egui::Sense::hover());
    if ui.is_rect_visible(rect) {
        ui.painter()
            .rect_filled(rect, CornerRadius::same(6), style.fill);
        ui.painter().galley(rect.min + padding, galley, style.text);
    }
    response.widget_info(|| egui::WidgetInfo::labeled(egui::Role::Label, true, text));
    response
}

/// The width [`badge`] takes for `text`.
pub fn badge_width(ui: &Ui, text: &str) -> f32 {
    let font = TextStyle::Body.resolve(ui.style());
    let font = FontId::new(font.size * 0.88, font.family);
    ui.painter()
        .layout_no_wrap(text.to_owned(), font, Color32::PLACEHOLDER)
        .size()
        .x
        + 16.0
}

/// A badge whose fill pulses (for "rotation in progress"): `phase` in 0..1.
pub fn pulsing_badge(ui: &mut Ui, text: &str, style: BadgeStyle, phase: f32) -> Response {
    let t = 0.5 + 0.5 * (phase * std::f32::consts::TAU).sin();
    let fill = style.fill.lerp_to_gamma(Color32::WHITE, 0.35 * t);
    badge(
        ui,
        text,
        BadgeStyle {
            fill,
            text: style.text,
        },
    )
}

/// Text in a colour that stays readable on both themes.
pub fn colored(ui: &Ui, text: impl Into<String>, color: Color32) -> RichText {
    let c = if ui.visuals().dark_mode {
        color.lerp_to_gamma(Color32::WHITE, 0.25)
    } else {
        color.lerp_to_gamma(Color32::BLACK, 0.15)
    };
    RichText::new(text).color(c)
}

/// Subdued text for secondary information.
pub fn weak(ui: &Ui, text: impl Into<String>) -> RichText {
    let c = if ui.visuals().dark_mode {
        Color32::from_rgb(160, 166, 176)
    } else {
        Color32::from_rgb(85, 92, 104)
    };
    RichText::new(text).color(c)
}

/// The primary action of a screen: filled in the accent colour.
pub fn primary(text: &str) -> egui::Button<'static> {
    egui::Button::new(
        RichText::new(text.to_owned())
            .strong()
            .color(Color32::WHITE),
    )
    .fill(BLUE)
}

/// A card-like frame for sections.
pub fn card(ui: &Ui) -> egui::Frame {
    egui::Frame::group(ui.style())
        .fill(ui.visuals().faint_bg_color)
        .corner_radius(CornerRadius::same(8))
        .inner_margin(egui::Margin::same(12))
        .stroke(Stroke::new(
            1.0,
            ui.visuals().widgets.noninteractive.bg_stroke.color,
        ))
}

/// An inline error box: plain words first, the AWS name and message after.
pub fn error_box(ui: &mut Ui, error: &super::worker::UiError) {
    let fill = if ui.visuals().dark_mode {
        Color32::from_rgb(70, 22, 22)
    } else {
        Color32::from_rgb(253, 232, 232)
    };
    egui::Frame::new()
        .fill(fill)
        .stroke(Stroke::new(1.5, RED))
        .corner_radius(CornerRadius::same(6))
        .inner_margin(egui::Margin::same(10))
        .show(ui, |ui| {
            ui.set_width(ui.available_width());
            ui.label(RichText::new(format!("⚠ {}", error.plain)).strong());
            if let Some(name) = &error.aws_name {
                ui.label(RichText::new(name.as_str()).monospace().strong());
            }
            if !error.message.is_empty() {
                ui.add(egui::Label::new(RichText::new(error.message.as_str()).monospace()).wrap());
            }
        });
}

/// An information box (what happens next, warnings that are not errors).
pub fn note_box(ui: &mut Ui, color: Color32, add: impl FnOnce(&mut Ui)) {
    let fill = if ui.visuals().dark_mode {
        color.gamma_multiply(0.18)
    } else {
        color.gamma_multiply(0.10)
    };
    egui::Frame::new()
        .fill(fill)
        .stroke(Stroke::new(1.5, color))
        .corner_radius(CornerRadius::same(6))
        .inner_margin(egui::Margin::same(10))
        .show(ui, |ui| {
            ui.set_width(ui.available_width());
            add(ui)
        });
}

/// Whether Escape closes `modal`: pressed while it is the topmost dialog
/// and no popup (a combo box, a date picker) is open, which takes it first.
/// A click beside a dialog does not close it: that would lose what was typed.
pub fn escape_closes<T>(modal: &egui::ModalResponse<T>) -> bool {
    modal.is_top_modal
        && !modal.any_popup_open
        && modal
            .response
            .ctx
            .input_mut(|i| i.consume_key(egui::Modifiers::NONE, egui::Key::Escape))
}

/// How often a busy indicator moves: often enough to show that work goes
/// on, rarely enough that a window under software rendering leaves the
/// cores to the work it waits for. egui's own spinner repaints every
/// frame, which took a core from the key derivation it was waiting for
/// (issue 10, item 14; `cargo bench --bench console_open`).
pub const BUSY_FRAME: std::time::Duration = std::time::Duration::from_millis(100);

/// A busy indicator of the usual size (see [`BUSY_FRAME`]).
pub fn spinner(ui: &mut Ui) -> Response {
    let size = ui.style().spacing.interact_size.y;
    spinner_sized(ui, size)
}

/// A busy indicator `size` points wide: egui's spinner arc, moved in steps
/// of [`BUSY_FRAME`].
pub fn spinner_sized(ui: &mut Ui, size: f32) -> Response {
    let (rect, response) = ui.allocate_exact_size(egui::vec2(size, size), egui::Sense::hover());
    response.widget_info(|| egui::WidgetInfo::new(egui::Role::ProgressIndicator));
    if ui.is_rect_visible(rect) {
        ui.ctx().request_repaint_after(BUSY_FRAME);
        let step = BUSY_FRAME.as_secs_f64();
        let time = (ui.input(|i| i.time) / step).floor() * step;
        let radius = rect.height().min(rect.width()) * 0.5 - 2.0;
        let n = (radius.round() as u32).clamp(8, 128);
        let start = time * std::f64::consts::TAU;
        let end = start + 240f64.to_radians() * time.sin();
        let points: Vec<egui::Pos2> = (0..n)
            .map(|i| {
                let angle = egui::emath::lerp(start..=end, f64::from(i) / f64::from(n));
                let (sin, cos) = angle.sin_cos();
                rect.center() + radius * egui::vec2(cos as f32, sin as f32)
            })
            .collect();
        let color = ui.visuals().strong_text_color();
        ui.painter()
            .add(egui::Shape::line(points, egui::Stroke::new(3.0, color)));
    }
    response
}
