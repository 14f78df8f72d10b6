//! The endpoint: hyper 1 on a small tokio runtime of its own, and one engine
//! thread that runs the operations on the shared [`Vault`].
//!
//! Connections are served by the runtime's workers (HTTP parsing, timeouts,
//! SigV4 verification). Operations go through a queue to a single engine
//! thread, which takes the vault's lock once for a whole batch of queued
//! calls: no lock contention between requests, and a cryptographic call
//! costs one journal append inside the lock (the journal's own flusher
//! writes them to disk in groups). A call that changes state is saved by
//! [`Vault::call`] before its reply is sent, so it is acknowledged only once
//! durable. The same thread applies due time events (rotation completion,
//! expiry) on a short interval, so they happen on time without a request.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::sync::{Semaphore, oneshot, watch};
use zeroize::Zeroizing;

use super::handler;
use super::sigv4::{MAX_CLOCK_SKEW, Verifier};
use crate::api::{ApiError, Body};
use crate::kms::Caller;
use crate::store::Vault;

/// How an [`Endpoint`] runs. [`EndpointConfig::new`] gives the defaults.
#[derive(Clone, Debug)]
pub struct EndpointConfig {
    /// Where to listen (port 0: any free port).
    pub addr: SocketAddr,
    /// A client must send a request's headers within this time, counted
    /// from the connection's start or from the end of the previous answer:
    /// it is also how long an idle keep-alive connection, or one that never
    /// sends a byte, stays open.
    pub header_read_timeout: Duration,
    /// A client must send a request's body within this time.
    pub body_read_timeout: Duration,
    /// Larger request bodies are refused (HTTP 413).
    pub max_body_bytes: usize,
    /// Open connections, in total. A new connection beyond this closes the
    /// connection that has been idle longest (a client's idle keep-alive
    /// connection, or one still sending its headers) to make room; when
    /// every connection is busy with a request it is answered
    /// `ThrottlingException` (HTTP 400, as KMS answers it; the AWS SDKs
    /// retry it) and closed.
    pub max_connections: usize,
    /// Open connections from one client address; beyond it, that address's
    /// own longest idle connection makes room, as above. Every local client
    /// comes from 127.0.0.1, so on loopback this is the bound that applies.
    pub max_connections_per_client: usize,
    /// How often to apply due time events; `None` when the host process
    /// does it itself (the console's own tick).
    pub tick_interval: Option<Duration>,
    /// How far a request's `X-Amz-Date` may be from the real clock.
    pub max_clock_skew: Duration,
    /// How long [`Endpoint::stop`] lets requests in flight finish.
    pub shutdown_grace: Duration,
    /// Runtime worker threads.
    pub worker_threads: usize,
}

impl EndpointConfig {
    /// The defaults, listening on `addr`: 15 s header and body timeouts,
    /// 1 MiB bodies, 512 connections (256 from one address), a tick every 250 ms, 5 minutes of
    /// clock skew, 10 s of grace at shutdown, 2 worker threads.
    pub fn new(addr: SocketAddr) -> Self {
        Self {
            addr,
            header_read_timeout: Duration::from_secs(15),
            body_read_timeout: Duration::from_secs(15),
            max_body_bytes: 1 << 20,
            max_connections: 512,
            max_connections_per_client: 256,
            tick_interval: Some(Duration::from_millis(250)),
            max_clock_skew: MAX_CLOCK_SKEW,
            shutdown_grace: Duration::from_secs(10),
            worker_threads: 2,
        }
    }
}

/// Counters of an endpoint, since it started.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EndpointStats {
    /// Requests answered, whatever the answer.
    pub requests: u64,
    /// Of those, answered with an error (HTTP 4xx or 5xx).
    pub errors: u64,
    /// Of those, refused before reaching the engine (authentication, size,
    /// timeouts, unknown operation target).
    pub refused: u64,
}

#[derive(Default)]
pub(crate) struct Counters {
    requests: AtomicU64,
    errors: AtomicU64,
    refused: AtomicU64,
}

impl Counters {
    pub(crate) fn record(&self, status: u16, refused: bool) {
        self.requests.fetch_add(1, Ordering::Relaxed);
        if status >= 400 {
            self.errors.fetch_add(1, Ordering::Relaxed);
        }
        if refused {
            self.refused.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn snapshot(&self) -> EndpointStats {
        EndpointStats {
            requests: self.requests.load(Ordering::Relaxed),
            errors: self.errors.load(Ordering::Relaxed),
            refused: self.refused.load(Ordering::Relaxed),
        }
    }
}

/// Work for the engine thread.
pub(crate) enum Work {
    /// Run an operation and reply.
    Call {
        caller: Caller,
        operation: String,
        body: Zeroizing<Vec<u8>>,
        reply: oneshot::Sender<Result<Body, ApiError>>,
    },
    /// CloudTrail's `LookupEvents` over the store's audit trail.
    LookupEvents {
        body: Zeroizing<Vec<u8>>,
        reply: oneshot::Sender<Result<Body, ApiError>>,
    },
    /// Record a request refused before the engine (nothing to reply).
    Refused {
        caller: Caller,
        operation: String,
        error: ApiError,
        /// The declared size of the refused request (`Content-Length`).
        request_bytes: Option<u64>,
    },
}

/// What the connection tasks share.
pub(crate) struct Shared {
    pub(crate) config: EndpointConfig,
    pub(crate) counters: Arc<Counters>,
    verifier: Arc<RwLock<Arc<Verifier>>>,
    // The engine thread ends when the last clone of this is gone, so only
    // the connection tasks hold it, never the `Endpoint` itself.
    jobs: mpsc::Sender<Work>,
}

impl Shared {
    pub(crate) fn verifier(&self) -> Arc<Verifier> {
        Arc::clone(&self.verifier.read().unwrap_or_else(|p| p.into_inner()))
    }

    fn send(&self, work: Work) -> bool {
        self.jobs.send(work).is_ok()
    }

    /// Runs `operation` on the engine thread.
    pub(crate) async fn call(
        &self,
        caller: Caller,
        operation: String,
        body: Zeroizing<Vec<u8>>,
    ) -> Result<Body, ApiError> {
        self.ask(|reply| Work::Call {
            caller,
            operation,
            body,
            reply,
        })
        .await
    }

    /// Answers CloudTrail's `LookupEvents` from the store's audit trail, on
    /// the engine thread (so every record acknowledged before is in it).
    /// A read of the trail, not recorded in it, as AWS's own backend treats
    /// it.
    pub(crate) async fn lookup_events(&self, body: Zeroizing<Vec<u8>>) -> Result<Body, ApiError> {
        self.ask(|reply| Work::LookupEvents { body, reply }).await
    }

    /// Queues `work` for the engine thread and waits for its answer.
    async fn ask(
        &self,
        work: impl FnOnce(oneshot::Sender<Result<Body, ApiError>>) -> Work,
    ) -> Result<Body, ApiError> {
        let (reply, answer) = oneshot::channel();
        let stopped = || {
            ApiError::new(
                "KMSInternalException",
                "The endpoint is shutting down.",
                500,
            )
        };
        if !self.send(work(reply)) {
            return Err(stopped());
        }
        answer.await.unwrap_or_else(|_| Err(stopped()))
    }

    /// Queues the audit record of a refused request.
    pub(crate) fn audit_refusal(
        &self,
        caller: Caller,
        operation: String,
        error: ApiError,
        request_bytes: Option<u64>,
    ) {
        self.send(Work::Refused {
            caller,
            operation,
            error,
            request_bytes,
        });
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn verifier_for(vault: &Vault, config: &EndpointConfig) -> Verifier {
    Verifier::new(vault.api_credentials(), &vault.kms().settings().region)
        .with_max_skew(config.max_clock_skew)
}

/// The AWS KMS endpoint, serving a shared vault until stopped.
///
/// ```no_run
/// # use std::sync::{Arc, Mutex};
/// # fn demo(vault: byok::store::Vault) -> std::io::Result<()> {
/// use byok::serve::Endpoint;
/// let vault = Arc::new(Mutex::new(vault));
/// let endpoint = Endpoint::start(Arc::clone(&vault), "127.0.0.1:0".parse().unwrap())?;
/// println!("listening on http://{}", endpoint.local_addr());
/// // ... the console keeps using `vault` meanwhile ...
/// println!("{} requests served", endpoint.requests_served());
/// endpoint.stop(); // waits for requests in flight (bounded by the grace period)
/// # Ok(()) }
/// ```
///
/// The endpoint runs on threads of its own (a tokio runtime and an engine
/// thread), so it can be started from code that has no async runtime, such
/// as the console. It locks the vault's mutex for short batches of calls;
/// whoever else holds that mutex should do so briefly too. Credentials are
/// read from the vault at start: after [`Vault::rotate_api_credentials`],
/// call [`Endpoint::reload_credentials`].
pub struct Endpoint {
    addr: SocketAddr,
    vault: Arc<Mutex<Vault>>,
    config: EndpointConfig,
    counters: Arc<Counters>,
    verifier: Arc<RwLock<Arc<Verifier>>>,
    stop: Option<watch::Sender<bool>>,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Endpoint")
            .field("addr", &self.addr)
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

impl Endpoint {
    /// Starts serving `vault` on `addr` with the default settings. Returns
    /// once the socket is bound; [`Endpoint::local_addr`] tells the port.
    pub fn start(vault: Arc<Mutex<Vault>>, addr: SocketAddr) -> std::io::Result<Endpoint> {
        Self::start_with(vault, EndpointConfig::new(addr))
    }

    /// Starts serving `vault` as `config` says.
    pub fn start_with(
        vault: Arc<Mutex<Vault>>,
        config: EndpointConfig,
    ) -> std::io::Result<Endpoint> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(config.worker_threads.max(1))
            .thread_name("byok-serve")
            .enable_all()
            .build()?;
        let listener = listen(&runtime, config.addr)?;
        let addr = listener.local_addr()?;
        let verifier = Arc::new(RwLock::new(Arc::new(verifier_for(&lock(&vault), &config))));
        let counters = Arc::new(Counters::default());
        let (jobs, queue) = mpsc::channel();
        let shared = Arc::new(Shared {
            config: config.clone(),
            counters: Arc::clone(&counters),
            verifier: Arc::clone(&verifier),
            jobs,
        });
        let engine = {
            let vault = Arc::clone(&vault);
            let tick = config.tick_interval;
            std::thread::Builder::new()
                .name("byok-serve-engine".into())
                .spawn(move || engine_loop(&vault, &queue, tick))?
        };
        let (stop, stopped) = watch::channel(false);
        let thread = {
            std::thread::Builder::new()
                .name("byok-serve-accept".into())
                .spawn(move || {
                    let grace = shared.config.shutdown_grace;
                    runtime.block_on(serve(listener, shared, stopped, grace));
                    // Dropping the runtime drops the connections left after the
                    // grace period, and with them the last handles on the queue:
                    // the engine thread then drains what was queued and ends.
                    drop(runtime);
                    let _ = engine.join();
                })?
        };
        Ok(Endpoint {
            addr,
            vault,
            config,
            counters,
            verifier,
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    /// The address the endpoint listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Requests answered so far (successful or not).
    pub fn requests_served(&self) -> u64 {
        self.stats().requests
    }

    /// All the counters.
    pub fn stats(&self) -> EndpointStats {
        self.counters.snapshot()
    }

    /// Reads the access key id, secret and region from the vault again (after
    /// the console rotated the credentials or changed the region).
    pub fn reload_credentials(&self) {
        let verifier = verifier_for(&lock(&self.vault), &self.config);
        *self.verifier.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(verifier);
    }

    /// Stops accepting connections, lets requests in flight finish (up to
    /// the grace period), runs every queued call, and returns. Audit records
    /// are queued in the vault's journal; [`Vault::close`] or
    /// [`Vault::flush_audit`] puts them on disk at once.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(true);
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for Endpoint {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Connections answered `ThrottlingException` at once when every slot is
/// busy; beyond these, a new connection is closed as soon as it is accepted.
const OVERFLOW_CONNECTIONS: usize = 32;

const IDLE: u8 = 0;
const BUSY: u8 = 1;
const CLOSING: u8 = 2;

/// Where one connection stands: idle (between requests, or still sending a
/// request's headers), busy (a request is being read, run or answered), or
/// closing (chosen to make room; it never becomes busy again).
pub(crate) struct ConnState {
    phase: AtomicU8,
    /// When it last became idle, as a tick of [`Registry::clock`]: the
    /// smallest idle one has waited longest.
    idle_since: AtomicU64,
    clock: Arc<AtomicU64>,
}

impl ConnState {
    /// Marks the connection busy, unless it is already closing.
    fn begin(self: &Arc<Self>) -> Option<BusyGuard> {
        self.phase
            .compare_exchange(IDLE, BUSY, Ordering::AcqRel, Ordering::Acquire)
            .ok()
            .map(|_| BusyGuard(Arc::clone(self)))
    }

    /// Marks an idle connection closing; false when it is busy.
    fn try_close(&self) -> bool {
        self.phase
            .compare_exchange(IDLE, CLOSING, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }
}

/// Held while a connection serves a request, until its answer's bytes are
/// handed to the socket.
pub(crate) struct BusyGuard(Arc<ConnState>);

impl Drop for BusyGuard {
    fn drop(&mut self) {
        let s = &self.0;
        s.idle_since
            .store(s.clock.fetch_add(1, Ordering::Relaxed), Ordering::Relaxed);
        let _ = s
            .phase
            .compare_exchange(BUSY, IDLE, Ordering::AcqRel, Ordering::Acquire);
    }
}

struct Entry {
    ip: IpAddr,
    state: Arc<ConnState>,
    close: oneshot::Sender<()>,
}

/// The open connections, by id, with their count per client address.
struct Registry {
    max_total: usize,
    max_per_client: usize,
    next_id: u64,
    clock: Arc<AtomicU64>,
    entries: HashMap<u64, Entry>,
    per_client: HashMap<IpAddr, usize>,
}

/// A connection's place in the [`Registry`], given up when dropped.
struct Slot {
    id: u64,
    state: Arc<ConnState>,
    closed: oneshot::Receiver<()>,
    registry: Arc<Mutex<Registry>>,
}

impl Drop for Slot {
    fn drop(&mut self) {
        lock(&self.registry).remove(self.id);
    }
}

impl Registry {
    fn new(config: &EndpointConfig) -> Self {
        let max_total = config.max_connections.max(1);
        Self {
            max_total,
            max_per_client: config.max_connections_per_client.clamp(1, max_total),
            next_id: 0,
            clock: Arc::new(AtomicU64::new(0)),
            entries: HashMap::new(),
            per_client: HashMap::new(),
        }
    }

    fn remove(&mut self, id: u64) -> Option<Entry> {
        let entry = self.entries.remove(&id)?;
        if let Some(n) = self.per_client.get_mut(&entry.ip) {
            *n -= 1;
            if *n == 0 {
                self.per_client.remove(&entry.ip);
            }
        }
        Some(entry)
    }

    /// Closes the connection idle longest (of `ip` only, when given).
    /// False when every candidate is busy.
    fn evict_oldest_idle(&mut self, ip: Option<IpAddr>) -> bool {
        // Each pass either closes one or finds none idle; a connection that
        // turned busy between the scan and the mark is skipped next pass.
        for _ in 0..self.entries.len() {
            let oldest = self
                .entries
                .iter()
                .filter(|(_, e)| ip.is_none_or(|ip| e.ip == ip))
                .filter(|(_, e)| e.state.phase.load(Ordering::Acquire) == IDLE)
                .min_by_key(|(_, e)| e.state.idle_since.load(Ordering::Relaxed))
                .map(|(id, _)| *id);
            let Some(id) = oldest else { return false };
            if self.entries[&id].state.try_close() {
                if let Some(e) = self.remove(id) {
                    let _ = e.close.send(());
                }
                return true;
            }
        }
        false
    }

    /// A place for a new connection from `ip`, closing an idle one to make
    /// room if need be; `None` when all the connections it could replace
    /// are busy.
    fn admit(this: &Arc<Mutex<Registry>>, ip: IpAddr) -> Option<Slot> {
        let mut r = lock(this);
        let from_ip = r.per_client.get(&ip).copied().unwrap_or(0);
        if from_ip >= r.max_per_client {
            if !r.evict_oldest_idle(Some(ip)) {
                return None;
            }
        } else if r.entries.len() >= r.max_total && !r.evict_oldest_idle(None) {
            return None;
        }
        let id = r.next_id;
        r.next_id += 1;
        let state = Arc::new(ConnState {
            phase: AtomicU8::new(IDLE),
            idle_since: AtomicU64::new(r.clock.fetch_add(1, Ordering::Relaxed)),
            clock: Arc::clone(&r.clock),
        });
        let (close, closed) = oneshot::channel();
        r.entries.insert(
            id,
            Entry {
                ip,
                state: Arc::clone(&state),
                close,
            },
        );
        *r.per_client.entry(ip).or_insert(0) += 1;
        Some(Slot {
            id,
            state,
            closed,
            registry: Arc::clone(this),
        })
    }
}

/// Returns once the endpoint is told to stop (or its handle is gone).
async fn stop_requested(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}

/// Connections the kernel completes while the endpoint has not accepted
/// them yet. The usual 128 overflows under a burst of connections, and a
/// client whose handshake is dropped waits a second for its retry.
const LISTEN_BACKLOG: u32 = 1024;

/// The listening socket, on `runtime`'s reactor.
fn listen(
    runtime: &tokio::runtime::Runtime,
    addr: SocketAddr,
) -> std::io::Result<tokio::net::TcpListener> {
    let _context = runtime.enter();
    let socket = match addr {
        SocketAddr::V4(_) => tokio::net::TcpSocket::new_v4()?,
        SocketAddr::V6(_) => tokio::net::TcpSocket::new_v6()?,
    };
    // As std's `TcpListener::bind` does: a restarted endpoint can bind its
    // port while the previous one's connections are in TIME_WAIT.
    #[cfg(unix)]
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(LISTEN_BACKLOG)
}

async fn serve(
    listener: tokio::net::TcpListener,
    shared: Arc<Shared>,
    stopped: watch::Receiver<bool>,
    grace: Duration,
) {
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(shared.config.header_read_timeout)
        .keep_alive(true);
    let registry = Arc::new(Mutex::new(Registry::new(&shared.config)));
    let overflow = Arc::new(Semaphore::new(OVERFLOW_CONNECTIONS));
    // Every connection task holds a clone; `recv` returns `None` once the
    // last one has ended.
    let (alive, mut all_closed) = tokio::sync::mpsc::channel::<()>(1);
    let mut stop = stopped.clone();
    loop {
        // Accepting never waits for a free slot: a new client is served,
        // or told to retry, at once.
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of file descriptors and the like: wait, do not spin.
                    eprintln!("byok serve: accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            _ = stop_requested(&mut stop) => break,
        };
        let _ = stream.set_nodelay(true);
        let io = TokioIo::new(stream);
        let mut stopping = stopped.clone();
        let alive = alive.clone();
        if let Some(slot) = Registry::admit(&registry, peer.ip()) {
            let state = Arc::clone(&slot.state);
            let service = {
                let shared = Arc::clone(&shared);
                service_fn(move |req| {
                    let shared = Arc::clone(&shared);
                    let busy = state.begin();
                    async move {
                        let Some(busy) = busy else {
                            return Ok(handler::too_many_connections(&shared));
                        };
                        let response = handler::handle(req, shared, peer).await?;
                        Ok::<_, Infallible>(response.map(|b| b.holding(busy)))
                    }
                })
            };
            let conn = http.serve_connection(io, service);
            tokio::spawn(async move {
                let _alive = alive;
                let mut slot = slot;
                tokio::pin!(conn);
                tokio::select! {
                    _ = conn.as_mut() => {}
                    // Closed to make room: it was idle, nothing is lost.
                    _ = &mut slot.closed => {}
                    _ = stop_requested(&mut stopping) => {
                        if !slot.state.try_close() {
                            conn.as_mut().graceful_shutdown();
                            let _ = conn.await;
                        }
                    }
                }
            });
        } else if let Ok(permit) = Arc::clone(&overflow).try_acquire_owned() {
            let service = {
                let shared = Arc::clone(&shared);
                service_fn(move |_req| {
                    let answer = handler::too_many_connections(&shared);
                    async move { Ok::<_, Infallible>(answer) }
                })
            };
            let conn = http.serve_connection(io, service);
            tokio::spawn(async move {
                let _alive = alive;
                let _permit = permit;
                tokio::pin!(conn);
                tokio::select! {
                    _ = conn.as_mut() => {}
                    _ = stop_requested(&mut stopping) => {}
                }
            });
        }
        // else: dropped at once, the client sees the connection close.
    }
    drop(listener);
    drop(alive);
    tokio::select! {
        _ = all_closed.recv() => {}
        _ = tokio::time::sleep(grace) => {
            eprintln!("byok serve: some connections were still busy after {grace:?}; closing them");
        }
    }
}

/// Runs queued work on the vault, a batch per lock, and applies due time
/// events every `tick`. Ends when every sender is gone and the queue is empty.
fn engine_loop(vault: &Mutex<Vault>, queue: &mpsc::Receiver<Work>, tick: Option<Duration>) {
    const BATCH: usize = 256;
    let mut next_tick = tick.map(|t| Instant::now() + t);
    loop {
        let first = match next_tick {
            Some(at) => match queue.recv_timeout(at.saturating_duration_since(Instant::now())) {
                Ok(w) => Some(w),
                Err(RecvTimeoutError::Timeout) => None,
                Err(RecvTimeoutError::Disconnected) => return,
            },
            None => match queue.recv() {
                Ok(w) => Some(w),
                Err(_) => return,
            },
        };
        let mut v = lock(vault);
        if let Some(w) = first {
            run(&mut v, w);
            for w in queue.try_iter().take(BATCH - 1) {
                run(&mut v, w);
            }
        }
        if let (Some(at), Some(every)) = (next_tick, tick)
            && Instant::now() >= at
        {
            apply_due_events(&mut v);
            next_tick = Some(Instant::now() + every);
        }
    }
}

fn apply_due_events(v: &mut Vault) {
    let now = v.kms().now();
    if v.next_event_time().is_some_and(|due| due <= now)
        && let Err(e) = v.tick()
    {
        eprintln!("byok serve: applying due events failed: {e}");
    }
}

fn run(v: &mut Vault, work: Work) {
    match work {
        Work::Call {
            caller,
            operation,
            body,
            reply,
        } => {
            // A bug in the engine must not take the endpoint down with it.
            let result = catch_unwind(AssertUnwindSafe(|| v.call(&caller, &operation, &body)))
                .unwrap_or_else(|_| {
                    Err(ApiError::new(
                        "KMSInternalException",
                        "The operation failed unexpectedly; nothing was acknowledged.",
                        500,
                    ))
                });
            let _ = reply.send(result);
        }
        Work::LookupEvents { body, reply } => {
            let result = catch_unwind(AssertUnwindSafe(|| {
                // `InternalFailure` is the common error of every AWS API
                // ("The request processing has failed because of an
                // unknown error, exception or failure." — CloudTrail API
                // Reference, Common Errors).
                let records = v.audit_records().map_err(|e| {
                    ApiError::new(
                        "InternalFailure",
                        format!("The audit trail could not be read: {e}"),
                        500,
                    )
                })?;
                crate::api::cloudtrail::lookup_events(&records, &body).map(Zeroizing::new)
            }))
            .unwrap_or_else(|_| {
                Err(ApiError::new(
                    "InternalFailure",
                    "The request processing has failed because of an unknown error, exception or failure.",
                    500,
                ))
            });
            let _ = reply.send(result);
        }
        Work::Refused {
            caller,
            operation,
            error,
            request_bytes,
        } => {
            let _ = catch_unwind(AssertUnwindSafe(|| {
                v.apply(|k| {
                    k.audit_rejected_request(
                        &caller,
                        &operation,
                        &error.error_type,
                        &error.message,
                        request_bytes,
                    );
                    Ok(())
                })
            }));
        }
    }
}
