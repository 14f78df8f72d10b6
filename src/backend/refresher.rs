//! Keeps a [`Catalog`] of a remote backend fresh in the background: the
//! first page of ListKeys and the aliases at once, the further pages after,
//! then DescribeKey and ListKeyRotations for the keys on screen (the rows
//! the key list drew), with the key shown in detail asked more often and
//! more fully (rotation status, tags) — and every few seconds while a
//! rotation of it is in progress. A few describes run at once; nothing runs
//! on the thread that asks. The owner reads the catalog and a change
//! counter; it never waits on the network.

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use super::catalog::{Catalog, KeyRecord};
use super::{Backend, BackendError};
use crate::kms::Timestamp;

/// How old a description of a key on screen may get.
pub const VISIBLE_FRESHNESS: Duration = Duration::from_secs(120);
/// How old the description of the key shown in detail may get.
pub const SELECTED_FRESHNESS: Duration = Duration::from_secs(20);
/// How often a key with a rotation in progress is asked again.
pub const ROTATING_FRESHNESS: Duration = Duration::from_secs(3);
/// Describes in flight at once.
pub const PARALLEL: usize = 4;

/// What the owner wants kept fresh.
#[derive(Default)]
struct Wants {
    visible: Vec<String>,
    selected: Option<String>,
    /// Keys to describe now, whatever their age (after a change byok made).
    urgent: Vec<String>,
    relist: bool,
    stop: bool,
}

struct Shared {
    wants: Mutex<Wants>,
    wake: Condvar,
    catalog: Mutex<Catalog>,
    changed: AtomicU64,
    /// Why the last listing failed.
    error: Mutex<Option<BackendError>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The background refresher of one catalog.
pub struct Refresher {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl Refresher {
    /// Starts refreshing `catalog` from `backend`; `now` tells the time
    /// records are stamped with, `notify` is called after every change.
    pub fn start(
        backend: Arc<dyn Backend>,
        catalog: Catalog,
        now: Arc<dyn Fn() -> Timestamp + Send + Sync>,
        notify: Arc<dyn Fn() + Send + Sync>,
    ) -> Refresher {
        let shared = Arc::new(Shared {
            wants: Mutex::new(Wants::default()),
            wake: Condvar::new(),
            catalog: Mutex::new(catalog),
            changed: AtomicU64::new(1),
            error: Mutex::new(None),
        });
        let s = shared.clone();
        let thread = std::thread::Builder::new()
            .name("byok-refresh".into())
            .spawn(move || run(&s, backend.as_ref(), now.as_ref(), notify.as_ref()))
            .ok();
        Refresher { shared, thread }
    }

    /// The keys on screen and the key in detail.
    pub fn watch(&self, visible: Vec<String>, selected: Option<String>) {
        let mut w = lock(&self.shared.wants);
        w.visible = visible;
        w.selected = selected;
        self.shared.wake.notify_all();
    }

    /// Describes `arn` now (byok just changed it).
    pub fn urgent(&self, arn: &str) {
        lock(&self.shared.wants).urgent.push(arn.to_string());
        self.shared.wake.notify_all();
    }

    /// Describes `arn` on the calling thread (byok just changed it), so the
    /// next snapshot shows the change.
    pub fn describe_now(&self, backend: &dyn Backend, arn: &str, detail: bool, now: Timestamp) {
        describe(&self.shared, backend, arn, detail, now);
        self.shared.changed.fetch_add(1, Ordering::AcqRel);
    }

    /// Lists every key again and describes what is on screen again.
    pub fn refresh_all(&self) {
        {
            let mut c = lock(&self.shared.catalog);
            c.relist();
            c.mark_stale();
        }
        lock(&self.shared.wants).relist = true;
        self.shared.wake.notify_all();
    }

    /// Grows with every change of the catalog.
    pub fn generation(&self) -> u64 {
        self.shared.changed.load(Ordering::Acquire)
    }

    /// The catalog as it is now.
    pub fn snapshot(&self) -> (Vec<KeyRecord>, bool) {
        let c = lock(&self.shared.catalog);
        (c.keys().to_vec(), c.complete())
    }

    /// A copy of the whole catalog (to cache it in the store).
    pub fn catalog(&self) -> Catalog {
        lock(&self.shared.catalog).clone()
    }

    /// Runs `f` on the catalog (a change byok made: put a record in, take
    /// one out) and counts it as a change.
    pub fn update(&self, f: impl FnOnce(&mut Catalog)) {
        f(&mut lock(&self.shared.catalog));
        self.shared.changed.fetch_add(1, Ordering::AcqRel);
    }

    /// API calls made so far.
    pub fn calls(&self) -> u64 {
        lock(&self.shared.catalog).calls
    }

    /// Why listing the keys failed, if it did.
    pub fn error(&self) -> Option<BackendError> {
        lock(&self.shared.error).clone()
    }

    /// Stops the thread (it finishes the calls in flight).
    pub fn stop(mut self) {
        self.halt();
    }

    fn halt(&mut self) {
        lock(&self.shared.wants).stop = true;
        self.shared.wake.notify_all();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Refresher {
    fn drop(&mut self) {
        self.halt();
    }
}

fn age(record: &KeyRecord, now: Timestamp) -> Option<Duration> {
    record.fetched.map(|f| now.since(f))
}

/// The keys to describe now, most wanted first, and whether with detail.
fn due(shared: &Shared, now: Timestamp) -> Vec<(String, bool)> {
    let mut wants = lock(&shared.wants);
    let catalog = lock(&shared.catalog);
    let mut out: Vec<(String, bool)> = Vec::new();
    let mut seen = HashSet::new();
    let selected = wants.selected.clone();
    for arn in wants.urgent.drain(..) {
        if seen.insert(arn.clone()) {
            let detail = selected.as_deref() == Some(arn.as_str());
            out.push((arn, detail));
        }
    }
    if let Some(arn) = &selected {
        let stale = match catalog.key(arn) {
            None => true,
            Some(r) => {
                let rotating = r
                    .rotation_status
                    .as_ref()
                    .is_some_and(|s| s.on_demand_rotation_start_date.is_some());
                let limit = if rotating {
                    ROTATING_FRESHNESS
                } else {
                    SELECTED_FRESHNESS
                };
                r.error.is_none()
                    && (r.rotation_status.is_none()
                        || r.tags.is_none()
                        || age(r, now).is_none_or(|a| a >= limit))
            }
        };
        if stale && seen.insert(arn.clone()) {
            out.push((arn.clone(), true));
        }
    }
    for arn in &wants.visible {
        let stale = catalog.key(arn).is_none_or(|r| {
            r.error.is_none()
                && (r.metadata.is_none() || age(r, now).is_none_or(|a| a >= VISIBLE_FRESHNESS))
        });
        if stale && seen.insert(arn.clone()) {
            out.push((arn.clone(), false));
        }
    }
    out
}

fn run(
    shared: &Shared,
    backend: &dyn Backend,
    now: &(dyn Fn() -> Timestamp + Send + Sync),
    notify: &(dyn Fn() + Send + Sync),
) {
    let changed = || {
        shared.changed.fetch_add(1, Ordering::AcqRel);
        notify();
    };
    loop {
        if lock(&shared.wants).stop {
            return;
        }
        // The listing: the first page and the aliases first, so the list
        // shows at once; the further pages one per round. The catalog is
        // not held during a call.
        let (page, aliases) = {
            let relist = std::mem::take(&mut lock(&shared.wants).relist);
            let c = lock(&shared.catalog);
            let page = if relist { Some(None) } else { c.next_page() };
            (page, relist || !c.aliases_loaded())
        };
        if let Some(marker) = page {
            let first = marker.is_none();
            let result = Catalog::fetch_page(backend, marker).and_then(|out| {
                let aliases = if aliases {
                    Some(Catalog::fetch_aliases(backend)?)
                } else {
                    None
                };
                Ok((out, aliases))
            });
            match result {
                Ok((out, aliases)) => {
                    let mut c = lock(&shared.catalog);
                    c.apply_page(first, out);
                    if let Some((by_key, calls)) = aliases {
                        c.apply_aliases(by_key, calls);
                    }
                    drop(c);
                    *lock(&shared.error) = None;
                    changed();
                }
                Err(e) => {
                    *lock(&shared.error) = Some(e);
                    changed();
                    // Not again before the owner asks or a while passes.
                    wait(shared, Duration::from_secs(10));
                    continue;
                }
            }
        }
        let todo = due(shared, now());
        if !todo.is_empty() {
            std::thread::scope(|scope| {
                for chunk in todo.chunks(todo.len().div_ceil(PARALLEL)) {
                    scope.spawn(move || {
                        for (arn, detail) in chunk {
                            describe(shared, backend, arn, *detail, now());
                            changed();
                        }
                    });
                }
            });
            continue;
        }
        if lock(&shared.catalog).complete() {
            wait(shared, Duration::from_millis(1000));
        }
    }
}

/// Describes one key without holding the catalog during the calls.
fn describe(shared: &Shared, backend: &dyn Backend, arn: &str, detail: bool, now: Timestamp) {
    let mut scratch = Catalog::default();
    if let Some(r) = lock(&shared.catalog).key(arn) {
        scratch.put(r.clone());
    }
    let _ = scratch.describe(backend, arn, detail, now);
    let calls = scratch.calls;
    let record = scratch.key(arn).cloned();
    let mut c = lock(&shared.catalog);
    c.calls += calls;
    if let Some(mut record) = record {
        // Aliases come from the account-wide listing.
        if let Some(existing) = c.key(arn) {
            record.aliases = existing.aliases.clone();
        }
        c.put(record);
    }
}

/// Sleeps until the owner asks for something, or `timeout` passes.
fn wait(shared: &Shared, timeout: Duration) {
    let w = lock(&shared.wants);
    if w.stop || !w.urgent.is_empty() || w.relist {
        return;
    }
    // Woken by a new watch list, an urgent key, a relist or stop.
    let _ = shared
        .wake
        .wait_timeout(w, timeout)
        .unwrap_or_else(PoisonError::into_inner);
}
