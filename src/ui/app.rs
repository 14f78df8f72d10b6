//! The application: screens draw and return [`Action`]s, which are applied
//! here, in one place, after drawing. Engine work goes to the
//! [`Worker`]; its results and views come back through a channel.

use std::sync::Arc;
use std::time::{Duration, Instant};

use egui::{Align, Align2, Color32, Key, KeyboardShortcut, Layout, Modifiers, RichText, Ui};
use serde::{Deserialize, Serialize};

use super::action::{Action, ClockCommand, Owner, PickTarget, Tab};
use super::audit::AuditPanel;
use super::config::AppConfig;
use super::crypto::CryptoPanel;
use super::files::{FilePickers, Picked};
use super::import_wizard::ImportWizard;
use super::key_detail::{KeyDetail, RotationTransition};
use super::key_list::KeyList;
use super::manager::ManagerPanel;
use super::manual_rotation::ManualRotation;
use super::settings::SettingsPanel;
use super::status_bar::{self, ServeHook, StatusInfo};
use super::theme::{self, ThemeChoice};
use super::unlock::UnlockScreen;
use super::view::{KeyRef, StoreView};
use super::worker::{Job, Jobs, Outcome, Pending, Ticket, UiError, Worker, WorkerEvent};
use crate::kms::{KeySpec, KeyUsage, Origin};
use crate::store::Vault;

/// What eframe remembers between runs: preferences only, never secrets.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Prefs {
    /// Dark, light or system.
    pub theme: ThemeChoice,
    /// Larger text for projectors.
    pub presentation: bool,
    /// The store opened last (a path, not a secret).
    pub last_store: Option<std::path::PathBuf>,
    /// The AWS account card as last filled in (profile, regions, endpoint,
    /// file: no secret).
    pub aws: super::unlock::AwsForm,
}

/// What the unlock screen says after a training store was locked.
pub const TRAINING_STORE_REMOVED: &str =
    "The training store was removed: it is temporary. Open training demo for a fresh one.";

/// Shortcuts for the frequent actions.
pub const SHORTCUT_NEW_KEY: KeyboardShortcut = KeyboardShortcut::new(Modifiers::COMMAND, Key::N);
/// Import key material into the selected key.
pub const SHORTCUT_IMPORT: KeyboardShortcut = KeyboardShortcut::new(Modifiers::COMMAND, Key::I);
/// Rotate the selected key.
pub const SHORTCUT_ROTATE: KeyboardShortcut = KeyboardShortcut::new(Modifiers::COMMAND, Key::R);
/// Focus the key filter.
pub const SHORTCUT_FILTER: KeyboardShortcut = KeyboardShortcut::new(Modifiers::COMMAND, Key::F);
/// Lock the store.
pub const SHORTCUT_LOCK: KeyboardShortcut = KeyboardShortcut::new(Modifiers::COMMAND, Key::L);

struct NewKeyDialog {
    description: String,
    origin: Origin,
    key_usage: KeyUsage,
    key_spec: KeySpec,
    /// `MultiRegion`: a multi-Region primary key.
    multi_region: bool,
    pending: Option<Pending<()>>,
    error: Option<UiError>,
    /// The description field has had its first focus.
    focused: bool,
}

/// Everything shown while a store is open.
struct Workspace {
    view: Option<Arc<StoreView>>,
    tab: Tab,
    selected: Option<KeyRef>,
    /// What the worker was last told is on screen.
    watched: (Vec<KeyRef>, Option<KeyRef>),
    key_list: KeyList,
    detail: KeyDetail,
    wizard: Option<ImportWizard>,
    crypto: CryptoPanel,
    audit: AuditPanel,
    manager: ManagerPanel,
    settings: SettingsPanel,
    new_key: Option<NewKeyDialog>,
    /// The manual rotation flow (keys that cannot rotate on demand).
    manual: Option<ManualRotation>,
    /// Locking a training store removes it: the user confirms first.
    confirm_lock: bool,
    transitions: Vec<RotationTransition>,
    /// Time-driven events seen while the store is open, oldest first.
    events: Vec<super::announce::Announcement>,
    notes: Vec<String>,
    /// AWS's throttling, read every frame (AWS stores).
    retry: Option<crate::aws::RetryWatch>,
    /// Guided lessons (training stores only).
    lessons: super::lessons::LessonsPanel,
}

impl Workspace {
    fn new() -> Self {
        Workspace {
            view: None,
            tab: Tab::Keys,
            selected: None,
            watched: (Vec::new(), None),
            key_list: KeyList::default(),
            detail: KeyDetail::default(),
            wizard: None,
            crypto: CryptoPanel::default(),
            audit: AuditPanel::default(),
            manager: ManagerPanel::default(),
            settings: SettingsPanel::default(),
            new_key: None,
            manual: None,
            confirm_lock: false,
            transitions: Vec::new(),
            events: Vec::new(),
            notes: Vec::new(),
            retry: None,
            lessons: Default::default(),
        }
    }
}

enum Phase {
    Locked,
    Open,
}

/// The console.
pub struct ConsoleApp {
    config: AppConfig,
    ctx: egui::Context,
    worker: Worker,
    prefs: Prefs,
    applied_theme: Option<(ThemeChoice, bool)>,
    phase: Phase,
    unlock: UnlockScreen,
    ws: Workspace,
    pickers: FilePickers,
    toasts: Vec<(String, Instant)>,
    last_activity: Instant,
    /// `logic` ran for the frame `show` is about to draw (eframe calls it
    /// first), so `show` need not poll again.
    polled_in_logic: bool,
    serve: ServeHook,
    frames: u64,
    /// The window title last sent (it names the open store).
    title: String,
}

impl ConsoleApp {
    /// The console inside eframe (preferences from eframe's storage).
    pub fn new(cc: &eframe::CreationContext<'_>, config: AppConfig) -> Self {
        let prefs = if config.load_preferences {
            cc.storage
                .and_then(|s| eframe::get_value::<Prefs>(s, eframe::APP_KEY))
                .unwrap_or_default()
        } else {
            Prefs::default()
        };
        Self::with_context(cc.egui_ctx.clone(), config, prefs)
    }

    /// The console on an `egui::Context` (tests and benchmarks drive it
    /// without a window).
    pub fn with_context(ctx: egui::Context, mut config: AppConfig, prefs: Prefs) -> Self {
        // The store opened last, unless BYOK_STORE names one explicitly.
        if config.load_preferences
            && std::env::var_os(crate::store::env::STORE_VAR).is_none()
            && let Some(last) = prefs.last_store.clone()
        {
            config.store_path = Some(last);
        }
        theme::apply(&ctx, prefs.theme, prefs.presentation);
        let wanted_theme = (prefs.theme, prefs.presentation);
        let config_serve_addr = config.serve_addr.to_string();
        let repaint_ctx = ctx.clone();
        let worker = Worker::start(config.clone(), move || repaint_ctx.request_repaint());
        egui_extras::install_image_loaders(&ctx);
        let mut unlock = UnlockScreen::new(config.store_path.as_deref());
        unlock.aws = prefs.aws.clone();
        ConsoleApp {
            unlock,
            config,
            ctx,
            worker,
            prefs,
            applied_theme: Some(wanted_theme),
            phase: Phase::Locked,
            ws: Workspace::new(),
            pickers: FilePickers::default(),
            toasts: Vec::new(),
            last_activity: Instant::now(),
            polled_in_logic: false,
            serve: ServeHook {
                available: true,
                address: config_serve_addr,
                ..ServeHook::default()
            },
            frames: 0,
            title: super::WINDOW_TITLE.to_string(),
        }
    }

    /// Hands an already open store to the console (benchmarks, embedding).
    pub fn adopt(&mut self, vault: Vault) {
        let jobs = self.worker.jobs().clone();
        self.unlock.adopt(&jobs, vault);
    }

    /// Connects to an AWS store (benchmarks, embedding): what the unlock
    /// screen's AWS account card does.
    pub fn connect_aws(
        &mut self,
        path: std::path::PathBuf,
        passphrase: secrecy::SecretString,
        connection: crate::aws::AwsConnection,
        create: bool,
    ) {
        let jobs = self.worker.jobs().clone();
        self.unlock
            .connect_aws(&jobs, path, passphrase, connection, create);
    }

    /// The keys the key list drew in the last frame.
    pub fn visible_keys(&self) -> &[KeyRef] {
        self.ws.key_list.visible()
    }

    /// Whether a store is open and its first view has arrived.
    pub fn is_ready(&self) -> bool {
        matches!(self.phase, Phase::Open) && self.ws.view.is_some()
    }

    /// Whether the key detail shows its timeline (the audit trail was read).
    pub fn timeline_ready(&self) -> bool {
        self.ws.detail.timeline.has_history()
    }

    /// The latest view of the store.
    pub fn view(&self) -> Option<&Arc<StoreView>> {
        self.ws.view.as_ref()
    }

    /// The selected key.
    pub fn selected_key(&self) -> Option<&KeyRef> {
        self.ws.selected.as_ref()
    }

    /// Frames drawn so far.
    pub fn frames(&self) -> u64 {
        self.frames
    }

    /// Jobs in flight.
    pub fn jobs_in_flight(&self) -> usize {
        self.worker.jobs().in_flight()
    }

    /// The job queue (tests use it to keep the worker busy).
    pub fn jobs(&self) -> &Jobs {
        self.worker.jobs()
    }

    fn toast(&mut self, text: impl Into<String>) {
        self.toasts.push((text.into(), Instant::now()));
        if self.toasts.len() > 4 {
            self.toasts.remove(0);
        }
    }

    fn now(&self) -> crate::kms::Timestamp {
        self.config.clock.now()
    }

    // ----- events from the worker -----

    fn poll_worker(&mut self) {
        for event in self.worker.poll() {
            match event {
                WorkerEvent::View(view) => self.new_view(view),
                WorkerEvent::ServeStats { requests } => self.serve.requests = requests,
                WorkerEvent::Progress {
                    ticket,
                    fraction,
                    text,
                } => self.unlock.progress(ticket, fraction, text),
                WorkerEvent::Done {
                    ticket,
                    owner,
                    outcome,
                } => self.done(ticket, owner, outcome),
            }
        }
    }

    fn new_view(&mut self, view: Arc<StoreView>) {
        if !matches!(self.phase, Phase::Open) {
            return;
        }
        // What time did (a rotation completing, an expiry, a deletion):
        // toasted, flagged on the timeline, kept in the clock bar.
        if let Some(old) = &self.ws.view {
            let now = self.now();
            for a in super::announce::time_driven(old, &view, now) {
                if let super::announce::Happened::RotationCompleted { to, from } = a.what {
                    self.ws.transitions.push(RotationTransition {
                        key: a.key.clone(),
                        to,
                        from,
                        seen: Instant::now(),
                    });
                }
                self.toast(a.text.clone());
                self.ws.detail.timeline.announce(&a);
                self.ws.events.push(a);
            }
            let excess = self.ws.events.len().saturating_sub(20);
            self.ws.events.drain(..excess);
        }
        // The key manager ran (on its schedule, or for an officer): say what
        // it did, and loudly when something failed.
        let old_run = self.ws.view.as_ref().map(|v| v.manager.last_run.number);
        let run = &view.manager.last_run;
        if old_run.is_some_and(|n| n != run.number) && run.is_news() {
            let failed = run.error.is_some() || run.outcomes.iter().any(|o| o.failed);
            let mut text = super::manager::run_summary(run);
            for o in run.outcomes.iter().take(3) {
                text.push_str(&format!(
                    "\n{} {}",
                    if o.failed { "✖" } else { "✔" },
                    o.text
                ));
            }
            for w in run.warnings.iter().take(2) {
                text.push_str(&format!("\n⚠ {w}"));
            }
            if failed {
                text = format!("⚠ {text}");
            }
            self.toast(text);
        }
        if self
            .ws
            .selected
            .as_ref()
            .is_none_or(|s| view.key(s).is_none())
        {
            self.ws.selected = view.keys.first().map(|k| k.id.clone());
        }
        self.ws.view = Some(view);
    }

    fn done(&mut self, ticket: Ticket, owner: Owner, outcome: Result<Outcome, UiError>) {
        let jobs = self.worker.jobs().clone();
        match owner {
            Owner::Unlock => {
                if let Ok(Outcome::Opened {
                    is_demo,
                    retry,
                    notes,
                }) = &outcome
                {
                    self.ws = Workspace::new();
                    self.ws.retry = retry.clone();
                    self.ws.notes = notes.clone();
                    if *is_demo {
                        self.toast("Training store ready");
                    }
                }
                if self.unlock.finished(ticket, &outcome) {
                    self.phase = Phase::Open;
                    self.last_activity = Instant::now();
                }
            }
            Owner::Keys => {
                if let Some(d) = &mut self.ws.new_key
                    && d.pending.as_ref().is_some_and(|p| p.ticket == ticket)
                {
                    d.pending = None;
                    match &outcome {
                        Ok(Outcome::KeyCreated(id)) => {
                            self.ws.selected = Some(id.clone());
                            self.ws.key_list.reveal_selected();
                            self.ws.new_key = None;
                            self.ws.tab = Tab::Keys;
                            self.toast("Key created");
                        }
                        Err(e) => d.error = Some(e.clone()),
                        Ok(_) => {}
                    }
                    return;
                }
                if let Some(text) = self.ws.detail.finished(ticket, &outcome) {
                    self.toast(text);
                }
            }
            Owner::Wizard => {
                if let Some(w) = &mut self.ws.wizard {
                    let _ = w.finished(ticket, outcome);
                }
            }
            Owner::Crypto => self.ws.crypto.finished(ticket, outcome, &jobs),
            Owner::ManualRotation => {
                if let Some(m) = &mut self.ws.manual
                    && let Some(text) = m.finished(ticket, outcome, &jobs)
                {
                    self.toast(text);
                }
            }
            Owner::Audit => self.ws.audit.finished(ticket, outcome),
            Owner::Lessons => {
                // The room sees the lesson's key and its material timeline.
                if let Some(key) = self.ws.lessons.finished(ticket, outcome) {
                    self.ws.tab = Tab::Keys;
                    self.apply(Action::SelectKey(key));
                }
            }
            Owner::Manager => {
                if let Some(text) = self.ws.manager.finished(ticket, outcome) {
                    self.toast(text);
                }
            }
            Owner::Timeline => self.ws.detail.timeline.finished(ticket, &outcome),
            Owner::Settings => self.ws.settings.finished(ticket, &outcome),
            Owner::Serve => {
                self.serve.pending = false;
                match outcome {
                    Ok(Outcome::Serving { addr }) => {
                        self.toast(format!("Serving the AWS KMS endpoint on http://{addr}"));
                        self.serve.serving = Some(addr);
                    }
                    Ok(Outcome::ServeStopped) => {
                        self.serve.serving = None;
                        self.toast("The AWS endpoint stopped");
                    }
                    Ok(Outcome::Credentials(text)) => {
                        self.ctx.copy_text(text.expose().to_string());
                        self.toast("Endpoint credentials copied (the secret included)");
                    }
                    Ok(_) => {}
                    Err(e) => self.toast(format!("{} {}", e.plain, e.message)),
                }
            }
        }
    }

    // ----- applying actions -----

    fn apply(&mut self, action: Action) {
        match action {
            Action::RememberStore(path) => self.prefs.last_store = Some(path),
            Action::RememberAws(form) => self.prefs.aws = form,
            Action::Lock => {
                if self.ws.view.as_ref().is_some_and(|v| v.is_demo) {
                    self.ws.confirm_lock = true;
                } else {
                    self.lock(None);
                }
            }
            Action::LockTrainingStore => self.lock(Some(TRAINING_STORE_REMOVED.into())),
            Action::ShowTab(tab) => self.ws.tab = tab,
            Action::SelectKey(id) => self.ws.selected = Some(id),
            Action::Pick(target) => {
                let ctx = self.ctx.clone();
                self.pickers.open(target, move || ctx.request_repaint());
            }
            Action::OpenImportWizard { key, reimport } => {
                let now = self.now();
                let view = self.ws.view.as_ref();
                if let Some(k) = view.and_then(|v| v.key(&key)) {
                    if k.is_external() {
                        let resume = view.and_then(|v| v.import_in_flight(&key));
                        self.ws.wizard = Some(ImportWizard::new(k, reimport, now, resume));
                    } else {
                        self.toast("Only keys with EXTERNAL origin take imported key material");
                    }
                }
            }
            Action::ManualRotation { key } => {
                let flow = self
                    .ws
                    .view
                    .as_ref()
                    .and_then(|v| v.key(&key))
                    .filter(|k| k.manual_rotation.is_ok())
                    .and_then(ManualRotation::new);
                match flow {
                    Some(f) => self.ws.manual = Some(f),
                    None => self.toast("This key is not one to rotate manually"),
                }
            }
            Action::NewKeyDialog => {
                self.ws.new_key = Some(NewKeyDialog {
                    description: String::new(),
                    origin: Origin::External,
                    key_usage: KeyUsage::EncryptDecrypt,
                    key_spec: KeySpec::SymmetricDefault,
                    multi_region: false,
                    pending: None,
                    error: None,
                    focused: false,
                });
            }
            Action::RotateSelected => {
                let key = self
                    .ws
                    .selected
                    .as_ref()
                    .and_then(|id| self.ws.view.as_ref().and_then(|v| v.key(id)));
                match key.map(|k| (k.id.clone(), k.verdicts.rotate.clone())) {
                    Some((id, Ok(()))) => {
                        // The confirmation shows with the key's detail.
                        self.ws.tab = Tab::Keys;
                        self.ws.detail.confirm_rotate(id);
                    }
                    Some((_, Err(e))) => self.toast(format!(
                        "Rotate now is not possible: {}\n{}: {}",
                        e.kind().plain_words(),
                        e.aws_name(),
                        e.message()
                    )),
                    None => {}
                }
            }
            Action::FocusFilter => {
                self.ws.tab = Tab::Keys;
                self.ws.key_list.focus_filter();
            }
            Action::Clock(cmd) => {
                // The simulated clock belongs to training stores only.
                if !self.ws.view.as_ref().is_some_and(|v| v.is_demo) {
                    return;
                }
                match cmd {
                    ClockCommand::Advance(d) => {
                        self.config.clock.advance(d);
                        // The view follows the story: back to now.
                        self.ws.detail.timeline.follow_now();
                    }
                    ClockCommand::SetSpeed(s) => self.config.clock.set_speed(s),
                    ClockCommand::RealTime => self.config.clock.reset(),
                }
                self.ctx.request_repaint();
            }
            Action::Appearance {
                theme,
                presentation,
            } => {
                self.prefs.theme = theme;
                self.prefs.presentation = presentation;
            }
            Action::Serve(on) => self.apply_serve(on),
            Action::RefreshKeys => {
                self.worker.jobs().submit(Owner::Keys, Job::Refresh);
            }
            Action::CopyServeCredentials => {
                self.serve.pending = true;
                self.worker
                    .jobs()
                    .submit(Owner::Serve, Job::ServeCredentials);
            }
            Action::Copy(text) => self.ctx.copy_text(text),
            Action::Notify(text) => self.toast(text),
        }
    }

    /// Starts or stops the local AWS endpoint (on the worker: it locks the
    /// vault and waits for requests in flight).
    fn apply_serve(&mut self, on: bool) {
        let local = self.ws.view.as_ref().is_some_and(|v| !v.is_aws());
        if !self.serve.available || !local {
            return;
        }
        self.serve.pending = true;
        let job = if on { Job::StartServe } else { Job::StopServe };
        self.worker.jobs().submit(Owner::Serve, job);
    }

    fn lock(&mut self, message: Option<String>) {
        // The worker stops the endpoint before it closes the store.
        self.serve.serving = None;
        self.serve.requests = 0;
        self.serve.pending = false;
        self.ws = Workspace::new();
        self.phase = Phase::Locked;
        self.unlock = UnlockScreen::new(
            self.prefs
                .last_store
                .as_deref()
                .or(self.config.store_path.as_deref()),
        );
        self.unlock.aws = self.prefs.aws.clone();
        if let Some(m) = message {
            self.unlock.set_message(m);
        }
        self.worker.jobs().submit(Owner::Unlock, Job::CloseStore);
    }

    // ----- drawing -----

    /// Makes the console count the user as idle for `idle` already: for
    /// tests of auto-lock, which counts wall time (the operator's absence),
    /// not the key clock.
    #[doc(hidden)]
    pub fn set_idle_for(&mut self, idle: Duration) {
        if let Some(t) = Instant::now().checked_sub(idle) {
            self.last_activity = t;
        }
    }

    /// Draws one frame (eframe's `ui`, also driven directly by benchmarks).
    pub fn show(&mut self, ui: &mut Ui) {
        self.frames += 1;
        let wanted = (self.prefs.theme, self.prefs.presentation);
        if self.applied_theme != Some(wanted) {
            theme::apply(ui.ctx(), wanted.0, wanted.1);
            self.applied_theme = Some(wanted);
        }
        if !std::mem::take(&mut self.polled_in_logic) {
            self.background(ui.ctx());
        }
        let mut actions = Vec::new();
        match self.pickers.poll() {
            Some((target, Picked::Path(path))) => actions.extend(self.picked(target, path)),
            Some((_, Picked::Unavailable)) => self.toast(
                "No file dialog could open on this desktop (it needs xdg-desktop-portal or zenity).\n\
                 Type the path in the field, or drop the file on the window.",
            ),
            Some((_, Picked::Cancelled)) | None => {}
        }

        match self.phase {
            Phase::Locked => {
                let dropped = ui.input(|i| {
                    i.raw
                        .dropped_files
                        .iter()
                        .map(|f| f.path().to_path_buf())
                        .find(|p| !p.as_os_str().is_empty())
                });
                if let Some(p) = dropped {
                    self.unlock.set_path(p);
                }
                let jobs = self.worker.jobs().clone();
                actions.extend(self.unlock.ui(ui, &jobs));
            }
            Phase::Open => actions.extend(self.workspace_ui(ui)),
        }
        self.toasts_ui(ui.ctx());
        for a in actions {
            self.apply(a);
        }
        self.update_title(ui.ctx());
        if matches!(self.phase, Phase::Open) {
            // The clock in the status bar ticks.
            ui.ctx().request_repaint_after(Duration::from_millis(500));
        }
    }

    /// The window title names the open store, as a desktop application
    /// names its document (the task bar tells two consoles apart).
    fn update_title(&mut self, ctx: &egui::Context) {
        let title = match (&self.phase, &self.ws.view) {
            (Phase::Open, Some(view)) if view.is_demo => "byok — training demo".to_string(),
            (Phase::Open, Some(view)) => format!(
                "byok — {}",
                view.path.file_name().map_or_else(
                    || view.path.display().to_string(),
                    |n| n.to_string_lossy().into_owned()
                )
            ),
            _ => super::WINDOW_TITLE.to_string(),
        };
        if title != self.title {
            ctx.send_viewport_cmd(egui::ViewportCommand::Title(title.clone()));
            self.title = title;
        }
    }

    /// The window title now.
    pub fn window_title(&self) -> &str {
        &self.title
    }

    fn picked(&mut self, target: PickTarget, path: std::path::PathBuf) -> Vec<Action> {
        match target {
            PickTarget::StoreFile => {
                self.unlock.set_path(path);
                Vec::new()
            }
            PickTarget::SavePublicKey
            | PickTarget::SaveImportToken
            | PickTarget::EncryptedMaterial
            | PickTarget::PlaintextMaterial
            | PickTarget::SavePlaintextCopy => {
                let jobs = self.worker.jobs().clone();
                if let Some(w) = &mut self.ws.wizard {
                    w.picked(target, path, &jobs);
                }
                Vec::new()
            }
            PickTarget::EncryptFile
            | PickTarget::CiphertextFile
            | PickTarget::SaveCiphertext
            | PickTarget::SaveKeyPublicKey => {
                let jobs = self.worker.jobs().clone();
                self.ws.crypto.picked(target, path, &jobs);
                Vec::new()
            }
            PickTarget::ExportAudit => {
                let jobs = self.worker.jobs().clone();
                self.ws.audit.picked(target, path, &jobs);
                Vec::new()
            }
            PickTarget::ExportEscrow => {
                self.ws.manager.picked(target, path);
                Vec::new()
            }
        }
    }

    /// What must happen whether or not the window is drawn: the worker's
    /// results, and the auto-lock (eframe calls only `logic` for a hidden
    /// or minimised window, so a console left minimised still locks;
    /// issue 10, item 3).
    fn background(&mut self, ctx: &egui::Context) {
        self.poll_worker();
        self.track_activity(ctx);
    }

    fn track_activity(&mut self, ctx: &egui::Context) {
        let active =
            ctx.input(|i| !i.events.is_empty() || i.pointer.is_moving() || i.pointer.any_down());
        if active {
            self.last_activity = Instant::now();
        }
        if let (Phase::Open, Some(view)) = (&self.phase, &self.ws.view) {
            let minutes = view.store_settings.auto_lock_minutes;
            if minutes > 0
                && self.last_activity.elapsed() >= Duration::from_secs(u64::from(minutes) * 60)
            {
                let removed = if view.is_demo {
                    format!(" {TRAINING_STORE_REMOVED}")
                } else {
                    String::new()
                };
                self.lock(Some(format!(
                    "Locked after {}.{removed}",
                    super::format::plural(u64::from(minutes), "idle minute")
                )));
            } else if minutes > 0 {
                ctx.request_repaint_after(Duration::from_secs(15));
            }
        }
    }

    fn shortcuts(&mut self, ctx: &egui::Context) -> Vec<Action> {
        let mut actions = Vec::new();
        if self.ws.wizard.is_some()
            || self.ws.new_key.is_some()
            || self.ws.manual.is_some()
            || self.ws.confirm_lock
            || self.ws.detail.has_dialog()
            || self.ws.manager.has_dialog()
        {
            return actions;
        }
        let (new, import, rotate, filter, lock) = ctx.input_mut(|i| {
            (
                i.consume_shortcut(&SHORTCUT_NEW_KEY),
                i.consume_shortcut(&SHORTCUT_IMPORT),
                i.consume_shortcut(&SHORTCUT_ROTATE),
                i.consume_shortcut(&SHORTCUT_FILTER),
                i.consume_shortcut(&SHORTCUT_LOCK),
            )
        });
        if new {
            actions.push(Action::NewKeyDialog);
        }
        if import && let Some(key) = self.ws.selected.clone() {
            actions.push(Action::OpenImportWizard {
                key,
                reimport: None,
            });
        }
        if rotate {
            actions.push(Action::RotateSelected);
        }
        if filter {
            actions.push(Action::FocusFilter);
        }
        if lock {
            actions.push(Action::Lock);
        }
        // Up and Down move through the key list, as in the AWS console's
        // tables (not while a text field takes the keys).
        if matches!(self.ws.tab, Tab::Keys | Tab::Crypto)
            && !ctx.text_edit_focused()
            && let Some(view) = &self.ws.view
        {
            let (up, down) = ctx.input_mut(|i| {
                (
                    i.consume_key(Modifiers::NONE, Key::ArrowUp),
                    i.consume_key(Modifiers::NONE, Key::ArrowDown),
                )
            });
            let step = i32::from(down) - i32::from(up);
            if step != 0
                && let Some(next) =
                    self.ws
                        .key_list
                        .neighbour(view, self.ws.selected.as_ref(), step)
            {
                self.ws.key_list.reveal_selected();
                actions.push(Action::SelectKey(next));
            }
        }
        actions
    }

    fn workspace_ui(&mut self, ui: &mut Ui) -> Vec<Action> {
        let mut actions = self.shortcuts(ui.ctx());
        let Some(view) = self.ws.view.clone() else {
            egui::CentralPanel::default()
                .frame(theme::central_panel_frame(ui))
                .show(ui, |ui| {
                    ui.centered_and_justified(|ui| {
                        theme::spinner(ui);
                    });
                });
            return actions;
        };
        let now = self.now();
        let jobs = self.worker.jobs().clone();
        self.ws.transitions.retain(|t| t.progress() < 1.0);

        // Dropped files go where they make sense.
        let dropped: Vec<std::path::PathBuf> = ui.input(|i| {
            i.raw
                .dropped_files
                .iter()
                .map(|f| f.path().to_path_buf())
                .filter(|p| !p.as_os_str().is_empty())
                .collect()
        });
        for p in dropped {
            if let Some(w) = &mut self.ws.wizard {
                w.dropped(p);
            } else {
                self.ws.tab = Tab::Crypto;
                self.ws.crypto.dropped(p, &jobs);
            }
        }

        egui::Panel::top("toolbar")
            .frame(theme::side_panel_frame(ui))
            .show(ui, |ui| {
                ui.add_space(4.0);
                ui.horizontal(|ui| {
                    ui.label(RichText::new("🔐 byok").heading().strong());
                    if view.is_demo {
                        theme::badge(ui, "TRAINING STORE", theme::BadgeStyle::on(theme::BLUE))
                            .on_hover_text("A temporary store, deleted when you lock or quit");
                        let open = self.ws.lessons.open;
                        if ui
                            .add(egui::Button::selectable(
                                open,
                                RichText::new("🎓 Lessons").size(16.0),
                            ))
                            .on_hover_text("Guided lessons on the simulated clock")
                            .clicked()
                        {
                            self.ws.lessons.open = !open;
                        }
                    }
                    ui.add_space(16.0);
                    for tab in Tab::ALL {
                        let r = ui.add(egui::Button::selectable(
                            self.ws.tab == tab,
                            RichText::new(tab.label()).size(16.0),
                        ));
                        if r.clicked() {
                            actions.push(Action::ShowTab(tab));
                        }
                    }
                    ui.with_layout(Layout::right_to_left(Align::Center), |ui| {
                        if ui
                            .button("🔒 Lock")
                            .on_hover_text("Close the store (Ctrl+L)")
                            .clicked()
                        {
                            actions.push(Action::Lock);
                        }
                        // The status bar always shows the clock; the toolbar
                        // repeats it where there is room for it.
                        if !self.config.clock.is_real_time()
                            && ui.available_width()
                                >= status_bar::clock_width(ui, &self.config.clock)
                        {
                            status_bar::clock_ui(ui, &self.config.clock);
                        }
                    });
                });
                ui.add_space(2.0);
            });
        egui::Panel::bottom("status")
            .frame(theme::side_panel_frame(ui))
            .show(ui, |ui| {
                ui.add_space(2.0);
                actions.extend(status_bar::ui(
                    ui,
                    StatusInfo {
                        view: &view,
                        saving: jobs.saving(),
                        clock: &self.config.clock,
                        serve: &self.serve,
                        throttling: self.ws.retry.as_ref().map(|r| r.state()),
                    },
                ));
                ui.add_space(2.0);
            });
        if view.is_demo && self.ws.lessons.open {
            egui::Panel::right("lessons")
                .frame(theme::side_panel_frame(ui))
                .resizable(true)
                .default_size(360.0)
                .min_size(340.0)
                .show(ui, |ui| {
                    egui::ScrollArea::vertical().show(ui, |ui| {
                        self.ws.lessons.ui(ui, &view, &jobs);
                    });
                });
        }
        if matches!(self.ws.tab, Tab::Keys | Tab::Crypto) {
            // With the lessons open, the key list gives up its width to the
            // key under study (its own id, so each layout keeps its size).
            let lessons = view.is_demo && self.ws.lessons.open;
            let (id, width) = if lessons {
                ("key-list-lessons", 380.0)
            } else {
                ("key-list", 600.0)
            };
            egui::Panel::left(id)
                .frame(theme::side_panel_frame(ui))
                .resizable(true)
                .default_size(width)
                .min_size(380.0)
                .show(ui, |ui| {
                    ui.add_space(6.0);
                    actions.extend(
                        self.ws
                            .key_list
                            .ui(ui, &view, self.ws.selected.as_ref(), now),
                    );
                });
        }
        egui::CentralPanel::default()
            .frame(theme::central_panel_frame(ui))
            .show(ui, |ui| match self.ws.tab {
                Tab::Keys => actions.extend(self.keys_ui(ui, &view, now, &jobs)),
                Tab::Crypto => actions.extend(self.ws.crypto.ui(
                    ui,
                    &view,
                    self.ws.selected.as_ref(),
                    now,
                    &jobs,
                )),
                Tab::Audit => actions.extend(self.ws.audit.ui(ui, &view, now, &jobs)),
                Tab::Manager => actions.extend(self.ws.manager.ui(
                    ui,
                    &view,
                    self.ws.selected.as_ref(),
                    now,
                    &jobs,
                )),
                Tab::Settings => {
                    let (t, p) = (self.prefs.theme, self.prefs.presentation);
                    actions.extend(self.ws.settings.ui(
                        ui,
                        &view,
                        &self.config.clock,
                        (t, p),
                        &self.serve,
                        &jobs,
                    ));
                }
            });

        // Step 2 of a manual rotation is the import wizard: drawn after
        // the flow, on top of it.
        if let Some(m) = &mut self.ws.manual {
            actions.extend(m.ui(ui.ctx(), &view, &jobs));
            if m.closed {
                self.ws.manual = None;
            }
        }
        if let Some(w) = &mut self.ws.wizard {
            actions.extend(w.ui(ui.ctx(), &view, now, &jobs));
            if w.closed {
                self.ws.wizard = None;
            }
        }
        self.new_key_ui(ui.ctx(), &jobs);
        actions.extend(self.confirm_lock_ui(ui.ctx(), &view));
        self.watch(&view, &jobs);
        actions
    }

    /// Tells the worker which keys are on screen, when that changed: an AWS
    /// account describes only those.
    fn watch(&mut self, view: &StoreView, jobs: &Jobs) {
        if !view.is_aws() {
            return;
        }
        let visible = self.ws.key_list.visible();
        if self.ws.watched.0 == visible && self.ws.watched.1 == self.ws.selected {
            return;
        }
        self.ws.watched = (visible.to_vec(), self.ws.selected.clone());
        jobs.submit(
            Owner::Keys,
            Job::Watch {
                visible: visible.to_vec(),
                selected: self.ws.selected.clone(),
            },
        );
    }

    fn keys_ui(
        &mut self,
        ui: &mut Ui,
        view: &StoreView,
        now: crate::kms::Timestamp,
        jobs: &Jobs,
    ) -> Vec<Action> {
        let mut actions = Vec::new();
        if view.is_demo
            && let Some(settings) = view.settings()
        {
            let dir = super::demo::material_dir(&view.path);
            ui.horizontal_wrapped(|ui| {
                theme::badge(ui, "TRAINING", theme::BadgeStyle::on(theme::BLUE));
                ui.label(theme::weak(
                    ui,
                    format!(
                        "History built by the engine at past times · rotations take {} · material files for re-import:",
                        super::format::duration(settings.rotation_delay())
                    ),
                ));
                ui.add(egui::Label::new(RichText::new(dir.display().to_string()).monospace().small()).selectable(true))
                    .on_hover_text("The plaintext of the training materials (throwaway), to demonstrate re-import");
            });
            actions.extend(super::clock_bar::ui(
                ui,
                &self.config.clock,
                view,
                self.ws.events.last(),
                now,
            ));
            ui.add_space(4.0);
        }
        for n in &self.ws.notes {
            theme::note_box(ui, theme::AMBER, |ui| {
                ui.label(n.as_str());
            });
        }
        let Some(key) = self.ws.selected.as_ref().and_then(|id| view.key(id)) else {
            ui.vertical_centered(|ui| {
                ui.add_space(60.0);
                ui.label(RichText::new("No key selected").heading());
                ui.label("Create a key to start: Ctrl+N, or the button below.");
                if ui.button("➕ Create a key").clicked() {
                    actions.push(Action::NewKeyDialog);
                }
            });
            return actions;
        };
        egui::ScrollArea::vertical()
            .id_salt("key-detail")
            .auto_shrink(false)
            .show(ui, |ui| {
                actions.extend(
                    self.ws
                        .detail
                        .ui(ui, key, view, now, &self.ws.transitions, jobs),
                );
            });
        actions
    }

    fn new_key_ui(&mut self, ctx: &egui::Context, jobs: &Jobs) {
        let Some(d) = &mut self.ws.new_key else {
            return;
        };
        let mut close = false;
        let modal = egui::Modal::new(egui::Id::unique("new-key")).show(ctx, |ui| {
            ui.set_width(560.0);
            ui.heading("New key");
            ui.add_space(4.0);
            // The choices are the engine's key specs and usages, as data:
            // a spec the engine learns appears here with its usage.
            ui.label(RichText::new("Key usage").strong());
            ui.horizontal_wrapped(|ui| {
                for &usage in KeyUsage::ALL {
                    if !KeySpec::ALL.iter().any(|s| s.key_usages().contains(&usage)) {
                        continue;
                    }
                    if ui
                        .radio_value(&mut d.key_usage, usage, key_usage_words(usage))
                        .on_hover_text(usage.as_str())
                        .changed()
                        && !d.key_spec.key_usages().contains(&usage)
                        && let Some(first) =
                            KeySpec::ALL.iter().find(|s| s.key_usages().contains(&usage))
                    {
                        d.key_spec = *first;
                    }
                }
            });
            ui.label(RichText::new("Key spec").strong());
            ui.horizontal_wrapped(|ui| {
                for &spec in KeySpec::ALL
                    .iter()
                    .filter(|s| s.key_usages().contains(&d.key_usage))
                {
                    ui.radio_value(&mut d.key_spec, spec, spec.as_str());
                }
            });
            ui.label(theme::weak(
                ui,
                format!(
                    "CreateKey with KeySpec {}, KeyUsage {}{}. Imported material: {}.",
                    d.key_spec,
                    d.key_usage,
                    d.key_spec
                        .mac_algorithm()
                        .map(|m| format!(" (MacAlgorithm {m})"))
                        .unwrap_or_default(),
                    super::format::material_lengths(d.key_spec)
                ),
            ));
            if d.key_spec.is_hmac() || d.key_spec.is_asymmetric() {
                ui.label(theme::weak(
                    ui,
                    "HMAC and asymmetric keys do not rotate on demand: rotate them manually (a new key, then the aliases moved to it).",
                ));
            }
            ui.add_space(6.0);
            let l = ui.label("Description");
            let field = ui
                .add(
                    egui::TextEdit::singleline(&mut d.description)
                        .desired_width(440.0)
                        .hint_text("what the key protects"),
                )
                .labelled_by(l.id);
            // Ready to type when the dialog opens; Enter creates the key.
            if !d.focused {
                field.request_focus();
                d.focused = true;
            }
            let enter = field.lost_focus() && ui.input(|i| i.key_pressed(Key::Enter));
            ui.add_space(6.0);
            ui.label(RichText::new("Key material origin").strong());
            ui.radio_value(
                &mut d.origin,
                Origin::External,
                "EXTERNAL — you import the key material (bring your own key)",
            );
            ui.radio_value(
                &mut d.origin,
                Origin::AwsKms,
                "AWS_KMS — byok generates the key material",
            );
            if d.origin == Origin::External {
                ui.label(theme::weak(
                    ui,
                    "The key starts in Pending import until its first material is imported.",
                ));
            }
            ui.add_space(6.0);
            ui.checkbox(&mut d.multi_region, "Multi-Region key")
                .on_hover_text("CreateKey with MultiRegion true: an mrk- key id, replicated to other Regions with ReplicateKey");
            if d.multi_region {
                ui.label(theme::weak(
                    ui,
                    "A multi-Region primary key in this Region. Replicate it from its detail; each replica takes \
                     the same key material, imported into it on its own.",
                ));
            }
            if let Some(e) = &d.error {
                theme::error_box(ui, e);
            }
            ui.add_space(8.0);
            ui.horizontal(|ui| {
                let busy = d.pending.is_some();
                if ui
                    .add_enabled(!busy, theme::primary("Create key"))
                    .clicked()
                    || (enter && !busy)
                {
                    d.error = None;
                    d.pending = Some(Pending::submit(
                        jobs,
                        Owner::Keys,
                        (),
                        Job::CreateKey {
                            description: d.description.trim().to_string(),
                            origin: d.origin,
                            key_spec: d.key_spec,
                            key_usage: d.key_usage,
                            multi_region: d.multi_region,
                        },
                    ));
                }
                if ui.add_enabled(!busy, egui::Button::new("Cancel")).clicked() {
                    close = true;
                }
                if busy {
                    theme::spinner(ui);
                }
            });
        });
        // Escape is Cancel (not while the key is being created).
        if theme::escape_closes(&modal) && d.pending.is_none() {
            close = true;
        }
        if close {
            self.ws.new_key = None;
        }
    }

    /// Locking a training store removes it (its folder, history and
    /// material files): the dialog says so before it happens.
    fn confirm_lock_ui(&mut self, ctx: &egui::Context, view: &StoreView) -> Option<Action> {
        if !self.ws.confirm_lock {
            return None;
        }
        let mut action = None;
        let mut close = false;
        let modal = egui::Modal::new(egui::Id::unique("confirm-lock")).show(ctx, |ui| {
            ui.set_max_width(540.0);
            ui.heading("Lock and remove the training store?");
            ui.label(
                "The training store is temporary: locking it deletes it, with its keys, its history \
                 and its training material files. Open training demo again for a fresh one.",
            );
            if let Some(dir) = view.path.parent() {
                ui.label(theme::weak(ui, dir.display().to_string()));
            }
            ui.add_space(8.0);
            ui.horizontal(|ui| {
                if ui
                    .add(
                        egui::Button::new(
                            RichText::new("🔒 Lock and remove").strong().color(Color32::WHITE),
                        )
                        .fill(theme::RED),
                    )
                    .clicked()
                {
                    action = Some(Action::LockTrainingStore);
                    close = true;
                }
                if ui.button("Cancel").clicked() {
                    close = true;
                }
            });
        });
        if close || theme::escape_closes(&modal) {
            self.ws.confirm_lock = false;
        }
        action
    }

    fn toasts_ui(&mut self, ctx: &egui::Context) {
        self.toasts
            .retain(|(_, at)| at.elapsed() < Duration::from_secs(5));
        if self.toasts.is_empty() {
            return;
        }
        egui::Area::new(egui::Id::unique("toasts"))
            .anchor(Align2::RIGHT_BOTTOM, egui::vec2(-16.0, -44.0))
            .order(egui::Order::Foreground)
            .interactable(false)
            .show(ctx, |ui| {
                for (text, _) in &self.toasts {
                    egui::Frame::popup(ui.style())
                        .fill(theme::BLUE)
                        .show(ui, |ui| {
                            ui.add(
                                egui::Label::new(
                                    RichText::new(text.as_str()).color(Color32::WHITE).strong(),
                                )
                                .wrap_mode(egui::TextWrapMode::Extend),
                            );
                        });
                }
            });
        ctx.request_repaint_after(Duration::from_millis(250));
    }
}

impl eframe::App for ConsoleApp {
    fn logic(&mut self, ctx: &egui::Context, _frame: &mut eframe::Frame) {
        self.background(ctx);
        self.polled_in_logic = true;
    }

    fn ui(&mut self, ui: &mut Ui, _frame: &mut eframe::Frame) {
        self.show(ui);
    }

    fn clear_color(&self, visuals: &egui::Visuals) -> [f32; 4] {
        theme::clear_color(visuals)
    }

    fn save(&mut self, storage: &mut dyn eframe::Storage) {
        eframe::set_value(storage, eframe::APP_KEY, &self.prefs);
    }

    fn on_exit(&mut self, _gl: Option<&eframe::glow::Context>) {
        self.serve.serving = None;
        self.ws = Workspace::new();
        // Persist, flush the audit journal, release the lock, remove a
        // training store: the window is closing, so waiting is fine here.
        self.worker.shutdown(Duration::from_secs(5));
    }
}

/// A key usage as the AWS console words it.
fn key_usage_words(usage: KeyUsage) -> &'static str {
    const WORDS: &[(KeyUsage, &str)] = &[
        (KeyUsage::EncryptDecrypt, "Encrypt and decrypt"),
        (KeyUsage::GenerateVerifyMac, "Generate and verify MAC"),
        (KeyUsage::SignVerify, "Sign and verify"),
        (KeyUsage::KeyAgreement, "Key agreement"),
    ];
    WORDS
        .iter()
        .find(|(u, _)| *u == usage)
        .map_or(usage.as_str(), |(_, w)| w)
}
