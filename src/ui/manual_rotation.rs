//! Manual rotation, for keys that cannot rotate on demand (HMAC keys, and
//! whatever else the engine refuses RotateKeyOnDemand for): the AWS KMS
//! Developer Guide's "Rotating keys manually"
//! (<https://docs.aws.amazon.com/kms/latest/developerguide/rotate-keys-manually.html>):
//! create a new key of the same key spec, key usage and origin, import new
//! material into it, then point the aliases at the new key with
//! UpdateAlias, so applications that name the key by its alias use the new
//! one. The old key stays: it still verifies MACs (or decrypts data) made
//! before.
//!
//! Each step is one AWS operation the officer sees named and starts
//! (CreateKey; the import wizard's GetParametersForImport and
//! ImportKeyMaterial; one UpdateAlias per alias), so the flow works the same
//! on a local store and on an AWS account. Where it stands is read from the
//! view (the new key's state and aliases), so it survives a slow refresh.

use egui::{RichText, Ui};

use super::action::{Action, Owner};
use super::theme;
use super::view::{KeyRef, KeyView, StoreView};
use super::worker::{Job, Jobs, Outcome, Pending, Ticket, UiError};
use crate::kms::{KeySpec, KeyState, KeyUsage, Origin};

/// What the flow is waiting for.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Work {
    /// CreateKey.
    Create,
    /// UpdateAlias of this alias.
    Move(String),
}

/// The manual rotation flow of one key.
pub struct ManualRotation {
    /// The key being replaced.
    pub old: KeyRef,
    old_label: String,
    key_spec: KeySpec,
    key_usage: KeyUsage,
    origin: Origin,
    /// The new key's `Description`.
    pub description: String,
    /// The old key's aliases when the flow began (the ones to move).
    aliases: Vec<String>,
    /// The new key, once created.
    pub new: Option<KeyRef>,
    /// Aliases UpdateAlias moved.
    moved: Vec<String>,
    /// Aliases the officer asked to move that are not moved yet.
    queue: Vec<String>,
    pending: Option<Pending<Work>>,
    error: Option<(Work, UiError)>,
    /// Set when the flow should close.
    pub closed: bool,
    /// Jobs asked for while drawing, submitted after.
    outbox: Vec<(Work, Job)>,
}

impl ManualRotation {
    /// The flow for `key`, or `None` when the view does not say what kind
    /// of key it is (a key not described yet, a spec the engine does not
    /// model).
    pub fn new(key: &KeyView) -> Option<Self> {
        Some(ManualRotation {
            old: key.id.clone(),
            old_label: key.label.clone(),
            key_spec: key.key_spec?,
            key_usage: key.key_usage?,
            origin: key.origin?,
            description: key.description.clone(),
            aliases: key.aliases.clone(),
            new: None,
            moved: Vec::new(),
            queue: Vec::new(),
            pending: None,
            error: None,
            closed: false,
            outbox: Vec::new(),
        })
    }

    /// Whether `ticket` is this flow's.
    pub fn owns(&self, ticket: Ticket) -> bool {
        self.pending.as_ref().is_some_and(|p| p.ticket == ticket)
    }

    /// A job's result; returns a notice to show.
    pub fn finished(
        &mut self,
        ticket: Ticket,
        outcome: Result<Outcome, UiError>,
        jobs: &Jobs,
    ) -> Option<String> {
        if !self.owns(ticket) {
            return None;
        }
        let work = self.pending.take()?.what;
        let notice = match outcome {
            Ok(Outcome::KeyCreated(key)) => {
                self.error = None;
                self.new = Some(key);
                Some("New key created".to_string())
            }
            Ok(Outcome::Changed(text)) => {
                self.error = None;
                if let Work::Move(alias) = &work {
                    self.queue.retain(|a| a != alias);
                    self.moved.push(alias.clone());
                }
                Some(text)
            }
            Ok(_) => None,
            Err(e) => {
                // The aliases not moved yet wait for the officer again.
                self.queue.clear();
                self.error = Some((work, e));
                None
            }
        };
        self.next_move();
        self.flush(jobs);
        notice
    }

    /// Asks for the next UpdateAlias of the queue.
    fn next_move(&mut self) {
        if self.pending.is_some() || !self.outbox.is_empty() {
            return;
        }
        if let (Some(alias), Some(new)) = (self.queue.first().cloned(), self.new.clone()) {
            self.outbox.push((
                Work::Move(alias.clone()),
                Job::UpdateAlias {
                    name: alias,
                    from: self.old.clone(),
                    to: new,
                },
            ));
        }
    }

    fn flush(&mut self, jobs: &Jobs) {
        if let Some((work, job)) = self.outbox.pop() {
            self.pending = Some(Pending::submit(jobs, Owner::ManualRotation, work, job));
        }
        self.outbox.clear();
    }

    /// Whether `alias` points at the new key now.
    fn is_moved(&self, alias: &str, new: Option<&KeyView>) -> bool {
        self.moved.iter().any(|a| a == alias)
            || new.is_some_and(|k| k.aliases.iter().any(|a| a == alias))
    }

    /// Draws the flow as a modal.
    pub fn ui(&mut self, ctx: &egui::Context, view: &StoreView, jobs: &Jobs) -> Vec<Action> {
        let mut actions = Vec::new();
        let id = egui::Id::unique("manual-rotation");
        let modal = egui::Modal::new(id).show(ctx, |ui| {
            ui.set_width(760.0_f32.min(ctx.content_rect().width() - 60.0));
            self.draw(ui, view, &mut actions);
        });
        if theme::escape_closes(&modal) && self.pending.is_none() {
            self.closed = true;
        }
        self.flush(jobs);
        actions
    }

    fn draw(&mut self, ui: &mut Ui, view: &StoreView, actions: &mut Vec<Action>) {
        let busy = self.pending.is_some();
        let old = view.key(&self.old);
        let new = self.new.as_ref().and_then(|k| view.key(k));
        ui.heading(format!("Manual rotation of {}", self.old_label));
        ui.label(theme::weak(
            ui,
            format!("{} · {} · {}", self.key_spec, self.key_usage, self.origin),
        ));
        // On a small window (1280×720) the explanation gives way to the
        // steps, so the whole flow fits without scrolling.
        let roomy = ui.ctx().content_rect().height() >= 800.0;
        if let Some(o) = old
            && let Err(e) = &o.verdicts.rotate
            && roomy
        {
            ui.label(theme::weak(
                ui,
                format!("Rotate now is refused for this key: {}", e.message()),
            ));
        }
        if roomy {
            ui.label(
                "A key of this kind is rotated by replacing it: a new key of the same key spec, usage and \
                 origin takes new material, and the aliases move to it, so applications that use the alias \
                 use the new key. Each step below is one AWS KMS operation.",
            );
        }
        ui.add_space(6.0);

        // 1. CreateKey.
        let created = self.new.is_some();
        step_card(ui, created, "1  Create the new key — CreateKey", |ui| {
            ui.label(
                RichText::new(format!(
                    "CreateKey  KeySpec={}  KeyUsage={}  Origin={}",
                    self.key_spec, self.key_usage, self.origin
                ))
                .monospace(),
            );
            match &self.new {
                Some(k) => {
                    ui.label(theme::colored(
                        ui,
                        format!("✔ New key {}", k.arn()),
                        theme::GREEN,
                    ));
                }
                None => {
                    ui.horizontal(|ui| {
                        let l = ui.label("Description");
                        ui.add(
                            egui::TextEdit::singleline(&mut self.description)
                                .desired_width(420.0)
                                .hint_text("what the new key protects"),
                        )
                        .labelled_by(l.id);
                    });
                    if ui
                        .add_enabled(!busy, theme::primary("Create the new key (CreateKey)"))
                        .clicked()
                    {
                        self.error = None;
                        self.outbox.push((
                            Work::Create,
                            Job::CreateKey {
                                description: self.description.trim().to_string(),
                                origin: self.origin,
                                key_spec: self.key_spec,
                                key_usage: self.key_usage,
                                multi_region: false,
                            },
                        ));
                    }
                }
            }
            self.error_ui(ui, |w| *w == Work::Create);
        });

        // 2. The new key's material.
        let has_material = new.is_some_and(|k| k.state == KeyState::Enabled);
        step_card(
            ui,
            has_material,
            "2  Import new key material — GetParametersForImport, ImportKeyMaterial",
            |ui| match (self.origin, new) {
                (Origin::AwsKms, _) => {
                    ui.label("Origin AWS_KMS: KMS generated the new key's material; there is nothing to import.");
                }
                (_, None) => {
                    ui.label(theme::weak(ui, "After step 1."));
                }
                (_, Some(k)) if has_material => {
                    ui.label(theme::colored(
                        ui,
                        format!(
                            "✔ The new key has its material{}: it is Enabled.",
                            if k.current_short.is_empty() {
                                String::new()
                            } else {
                                format!(" ({}…)", k.current_short)
                            }
                        ),
                        theme::GREEN,
                    ));
                }
                (_, Some(k)) => {
                    ui.label(format!(
                        "The new key is {}: import its first material with the import wizard. KeySpec {} takes {}.",
                        k.state_text,
                        self.key_spec,
                        super::format::material_lengths(self.key_spec)
                    ));
                    let open = ui.add_enabled(
                        !busy && k.verdicts.get_parameters.is_ok(),
                        theme::primary("Import key material into the new key…"),
                    );
                    if open.clicked() {
                        actions.push(Action::OpenImportWizard {
                            key: k.id.clone(),
                            reimport: None,
                        });
                    }
                }
            },
        );

        // 3. UpdateAlias for each alias.
        let all_moved = self.aliases.iter().all(|a| self.is_moved(a, new));
        step_card(
            ui,
            has_material && all_moved,
            "3  Move the aliases to the new key — UpdateAlias",
            |ui| {
                if self.aliases.is_empty() {
                    ui.label(
                        "The old key has no alias. Applications that name it by key ID or ARN must be \
                         changed to the new key's ARN; an alias (alias/…) makes the next rotation a single \
                         UpdateAlias.",
                    );
                    return;
                }
                let target = self
                    .new
                    .as_ref()
                    .map(|k| {
                        k.arn()
                            .rsplit_once("key/")
                            .map_or(k.arn(), |(_, id)| id)
                            .to_string()
                    })
                    .unwrap_or_else(|| "the new key".into());
                for alias in &self.aliases {
                    let moved = self.is_moved(alias, new);
                    let moving = self
                        .pending
                        .as_ref()
                        .is_some_and(|p| p.what == Work::Move(alias.clone()));
                    ui.horizontal(|ui| {
                        ui.label(
                            RichText::new(format!(
                                "UpdateAlias  AliasName={alias}  TargetKeyId={target}"
                            ))
                            .monospace(),
                        );
                        if moved {
                            ui.label(theme::colored(ui, "✔ moved", theme::GREEN));
                        } else if moving {
                            ui.spinner();
                        }
                    });
                }
                let to_move: Vec<String> = self
                    .aliases
                    .iter()
                    .filter(|a| !self.is_moved(a, new))
                    .cloned()
                    .collect();
                if !to_move.is_empty() {
                    let label = format!(
                        "Move {} to the new key (UpdateAlias)",
                        if to_move.len() == 1 {
                            to_move[0].clone()
                        } else {
                            format!("{} aliases", to_move.len())
                        }
                    );
                    let button = ui
                        .add_enabled(
                            !busy && has_material && self.queue.is_empty(),
                            theme::primary(&label),
                        )
                        .on_disabled_hover_text(
                            "After the new key has its material: an alias moved to a key without material \
                             breaks the applications that use it.",
                        );
                    if button.clicked() {
                        self.error = None;
                        self.queue = to_move;
                        self.next_move();
                    }
                }
                self.error_ui(ui, |w| matches!(w, Work::Move(_)));
            },
        );

        // 4. The old key stays.
        ui.add_space(4.0);
        theme::note_box(ui, theme::AMBER, |ui| {
            ui.label(RichText::new("The old key stays.").strong());
            ui.label(format!(
                "{} keeps its material: it still {} made before the rotation. Schedule its deletion \
                 only when nothing needs it any more; until then it costs its monthly fee.",
                self.old_label,
                if self.key_usage == KeyUsage::GenerateVerifyMac {
                    "verifies the MACs it"
                } else {
                    "decrypts the data it"
                }
            ));
        });
        let done = has_material && all_moved;
        if done {
            ui.label(theme::colored(
                ui,
                "✔ Manual rotation complete: the aliases name the new key.",
                theme::GREEN,
            ));
        }
        ui.add_space(8.0);
        ui.horizontal(|ui| {
            if let Some(new) = &self.new
                && ui.button("Show the new key").clicked()
            {
                actions.push(Action::SelectKey(new.clone()));
                self.closed = true;
            }
            if ui
                .add_enabled(
                    !busy,
                    egui::Button::new(if done { "Close" } else { "Cancel" }),
                )
                .on_hover_text(
                    "A key already created stays; the flow can be started again for the old key.",
                )
                .clicked()
            {
                self.closed = true;
            }
            if let Some(p) = &self.pending {
                ui.spinner();
                let what = match &p.what {
                    Work::Create => "CreateKey".to_string(),
                    Work::Move(a) => format!("UpdateAlias {a}"),
                };
                ui.label(format!(
                    "{what}… {:.1} s",
                    p.started.elapsed().as_secs_f32()
                ));
            }
        });
    }

    fn error_ui(&self, ui: &mut Ui, mine: impl Fn(&Work) -> bool) {
        if let Some((w, e)) = &self.error
            && mine(w)
        {
            theme::error_box(ui, e);
        }
    }
}

/// A step's card: its title, ticked when done.
fn step_card(ui: &mut Ui, done: bool, title: &str, add: impl FnOnce(&mut Ui)) {
    theme::card(ui).show(ui, |ui| {
        ui.set_width(ui.available_width());
        ui.horizontal(|ui| {
            if done {
                ui.label(theme::colored(ui, "✔", theme::GREEN).strong());
            }
            ui.label(RichText::new(title).strong());
        });
        add(ui);
    });
    ui.add_space(4.0);
}
