//! What the console is built from: the store path, the clock, the key
//! derivation cost and where RSA wrapping keys come from. The application
//! uses the real defaults; tests inject a manual clock, cheap key derivation
//! and key pairs made in advance.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::kms::{Clock, ManualClock, Timestamp, WrappingKeySource};
use crate::store::clock::SimulatedClock;
use crate::store::format::KdfParams;
use crate::store::keypool::KeyPairPool;

/// The engine's clock, as the console sees it: the simulated clock a trainer
/// can speed up (real time by default), or a manual clock in tests.
#[derive(Clone)]
pub enum AppClock {
    /// Real time unless a trainer speeds it up or moves it forward.
    Simulated(Arc<SimulatedClock>),
    /// Moves only when told to (tests).
    Manual(ManualClock),
}

impl AppClock {
    /// A real-time simulated clock.
    pub fn real_time() -> Self {
        AppClock::Simulated(Arc::new(SimulatedClock::default()))
    }

    /// The clock the engine is handed.
    pub fn engine_clock(&self) -> Arc<dyn Clock> {
        match self {
            AppClock::Simulated(c) => c.clone(),
            AppClock::Manual(c) => Arc::new(c.clone()),
        }
    }

    /// The current instant.
    pub fn now(&self) -> Timestamp {
        match self {
            AppClock::Simulated(c) => c.now(),
            AppClock::Manual(c) => c.now(),
        }
    }

    /// Moves the clock forward.
    pub fn advance(&self, d: Duration) {
        match self {
            AppClock::Simulated(c) => c.advance(d),
            AppClock::Manual(c) => c.advance(d),
        }
    }

    /// How many times faster than real time the clock runs (0 for a manual clock).
    pub fn speed(&self) -> f64 {
        match self {
            AppClock::Simulated(c) => c.speed(),
            AppClock::Manual(_) => 0.0,
        }
    }

    /// Sets the speed of a simulated clock.
    pub fn set_speed(&self, speed: f64) {
        if let AppClock::Simulated(c) = self {
            c.set_speed(speed);
        }
    }

    /// Back to real-time speed (a simulated clock never goes back in time).
    pub fn reset(&self) {
        if let AppClock::Simulated(c) = self {
            c.reset();
        }
    }

    /// Whether the clock shows real time; the console shows a badge otherwise.
    pub fn is_real_time(&self) -> bool {
        match self {
            AppClock::Simulated(c) => c.is_real_time(),
            AppClock::Manual(_) => false,
        }
    }

    /// How far ahead of real time a simulated clock is.
    pub fn offset(&self) -> Duration {
        match self {
            AppClock::Simulated(c) => c.offset(),
            AppClock::Manual(_) => Duration::ZERO,
        }
    }
}

/// Makes the wrapping key source of each store the console opens.
pub type WrappingKeysFactory = Arc<dyn Fn() -> Box<dyn WrappingKeySource> + Send + Sync>;

/// How the console is set up.
#[derive(Clone)]
pub struct AppConfig {
    /// The store offered on the unlock screen.
    pub store_path: Option<PathBuf>,
    /// The engine's clock.
    pub clock: AppClock,
    /// Key derivation cost for stores created here.
    pub kdf: KdfParams,
    /// Where RSA wrapping key pairs come from.
    pub wrapping_keys: WrappingKeysFactory,
    /// How often the worker applies time-driven events (rotation completion,
    /// expiry) when nothing is due sooner.
    pub tick_interval: Duration,
    /// Where training demo stores are created (default: the system's temporary folder).
    pub demo_dir: Option<PathBuf>,
    /// Whether eframe persistence may be read (window size and theme only).
    pub load_preferences: bool,
    /// Where the console serves the AWS KMS endpoint when switched on
    /// (loopback; `byok serve`'s default port).
    pub serve_addr: SocketAddr,
    /// How AWS stores connect (`None`: the SDK's defaults; tests pass
    /// explicit credentials and short retries).
    pub aws_options: Option<crate::aws::ConnectOptions>,
    /// How often (wall time) the key manager's runner carries out what is
    /// due while a store is open; it also runs right after opening, and
    /// every few seconds while a rotation it started is in progress.
    pub manager_interval: Duration,
}

impl AppConfig {
    /// The application's defaults: the default store, real time, interactive
    /// key derivation, a warm pool of RSA key pairs.
    pub fn production() -> Self {
        AppConfig {
            store_path: crate::store::env::store_path(None).ok(),
            clock: AppClock::real_time(),
            kdf: crate::store::env::kdf_for_new_store(),
            // Its generator starts once the store key is derived.
            wrapping_keys: Arc::new(|| Box::new(KeyPairPool::new(1))),
            tick_interval: Duration::from_millis(200),
            demo_dir: None,
            load_preferences: true,
            serve_addr: SocketAddr::new(Ipv4Addr::LOCALHOST.into(), crate::serve::DEFAULT_PORT),
            aws_options: None,
            manager_interval: Duration::from_secs(60),
        }
    }

    /// A console for tests: a store path, a manual clock, cheap key
    /// derivation, and a wrapping key source made by `keys`.
    pub fn for_tests(
        store_path: PathBuf,
        clock: ManualClock,
        keys: impl Fn() -> Box<dyn WrappingKeySource> + Send + Sync + 'static,
    ) -> Self {
        AppConfig {
            demo_dir: store_path.parent().map(|p| p.join("demo")),
            store_path: Some(store_path),
            clock: AppClock::Manual(clock),
            kdf: KdfParams::INSECURE_FAST,
            wrapping_keys: Arc::new(keys),
            tick_interval: Duration::from_millis(20),
            load_preferences: false,
            serve_addr: SocketAddr::new(Ipv4Addr::LOCALHOST.into(), 0),
            aws_options: None,
            manager_interval: Duration::from_secs(60),
        }
    }
}
