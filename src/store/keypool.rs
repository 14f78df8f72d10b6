//! A pool of RSA wrapping key pairs kept warm on a background thread, so that
//! GetParametersForImport answers at once although a 4096-bit pair takes
//! 0.6–3 s to generate.

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;

use crate::kms::{KmsError, KmsResult, WrappingKeySource, WrappingKeySpec};

struct State {
    queues: Vec<(WrappingKeySpec, VecDeque<rsa::PrivateKey>)>,
    depth: usize,
    stop: bool,
}

struct Shared {
    state: Mutex<State>,
    changed: Condvar,
}

fn lock(m: &Mutex<State>) -> MutexGuard<'_, State> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Keeps `depth` key pairs of every spec ready once its generator thread
/// runs ([`KeyPairPool::start`], or [`WrappingKeySource::warm_up`] on a pool
/// made with [`KeyPairPool::new`]). Dropping the last handle stops the
/// generator thread.
pub struct KeyPairPool {
    shared: Arc<Shared>,
    worker: Option<JoinHandle<()>>,
}

impl KeyPairPool {
    /// Starts a generator that keeps `depth` pairs of each spec.
    pub fn start(depth: usize) -> Self {
        let mut pool = Self::new(depth);
        pool.spawn();
        pool
    }

    /// A pool of `depth` pairs of each spec whose generator starts when the
    /// engine is built over it ([`WrappingKeySource::warm_up`]), which a store
    /// does after its key derivation, or at the first pair taken. Filling
    /// the pool during the derivation took memory bandwidth and a core's
    /// share from the derivation a user waits for at unlock (issue 10,
    /// item 14; `cargo bench --bench console_open`).
    pub fn new(depth: usize) -> Self {
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                queues: WrappingKeySpec::ALL
                    .iter()
                    .map(|s| (*s, VecDeque::new()))
                    .collect(),
                depth: depth.max(1),
                stop: false,
            }),
            changed: Condvar::new(),
        });
        Self {
            shared,
            worker: None,
        }
    }

    /// Starts the generator thread unless it runs already.
    fn spawn(&mut self) {
        if self.worker.is_none() {
            let shared = Arc::clone(&self.shared);
            self.worker = std::thread::Builder::new()
                .name("byok-rsa-keygen".into())
                .spawn(move || generate_loop(&shared))
                .ok();
        }
    }

    /// Whether the generator thread runs.
    pub fn is_running(&self) -> bool {
        self.worker.is_some()
    }

    /// How many pairs of `spec` are ready now.
    pub fn ready(&self, spec: WrappingKeySpec) -> usize {
        lock(&self.shared.state)
            .queues
            .iter()
            .find(|(s, _)| *s == spec)
            .map_or(0, |(_, q)| q.len())
    }
}

/// Which spec the generator should work on next: the one with the fewest
/// ready pairs.
fn next_needed(state: &State) -> Option<WrappingKeySpec> {
    state
        .queues
        .iter()
        .filter(|(_, q)| q.len() < state.depth)
        .min_by_key(|(_, q)| q.len())
        .map(|(s, _)| *s)
}

fn generate_loop(shared: &Shared) {
    background_priority();
    let mut rng = rand::rng();
    loop {
        let spec = {
            let mut st = lock(&shared.state);
            loop {
                if st.stop {
                    return;
                }
                if let Some(s) = next_needed(&st) {
                    break s;
                }
                st = shared.changed.wait(st).unwrap_or_else(|p| p.into_inner());
            }
        };
        let Ok(key) = rsa::PrivateKey::new(&mut rng, spec.bits()) else {
            continue;
        };
        let mut st = lock(&shared.state);
        if let Some((_, q)) = st.queues.iter_mut().find(|(s, _)| *s == spec) {
            q.push_back(key);
        }
        shared.changed.notify_all();
    }
}

/// Filling the pool is background work: it must not take a core from what
/// a user waits for. A console opening a store starts the pool while it
/// derives the store key; at normal priority the 3072- and 4096-bit
/// generations took their share of the two cores from that derivation
/// (issue 10, item 14; `cargo bench --bench console_open`). On Linux a
/// thread has its own nice value, and `setpriority(PRIO_PROCESS, 0)` sets
/// the calling thread's only. A pair asked for while none is ready is
/// generated on the caller's thread, at the caller's priority.
fn background_priority() {
    #[cfg(target_os = "linux")]
    {
        // Best effort: a refusal leaves the thread at normal priority.
        let _ = rustix::process::setpriority_process(None, 19);
    }
}

impl WrappingKeySource for KeyPairPool {
    fn warm_up(&mut self) {
        self.spawn();
    }

    /// A ready pair, or one generated on the caller's thread if none is ready
    /// (the console calls this from a worker, never from the UI thread).
    fn take(&mut self, spec: WrappingKeySpec) -> KmsResult<rsa::PrivateKey> {
        self.spawn();
        let ready = {
            let mut st = lock(&self.shared.state);
            st.queues
                .iter_mut()
                .find(|(s, _)| *s == spec)
                .and_then(|(_, q)| q.pop_front())
        };
        self.shared.changed.notify_all();
        match ready {
            Some(k) => Ok(k),
            None => rsa::PrivateKey::new(&mut rand::rng(), spec.bits())
                .map_err(|e| KmsError::internal(format!("RSA key generation failed: {e}"))),
        }
    }
}

impl Drop for KeyPairPool {
    fn drop(&mut self) {
        lock(&self.shared.state).stop = true;
        self.shared.changed.notify_all();
        // The generator may be inside a multi-second key generation; do not
        // wait for it.
        drop(self.worker.take());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rsa::traits::PublicKeyParts;
    use std::time::{Duration, Instant};

    fn ready_in_all(pool: &KeyPairPool) -> usize {
        WrappingKeySpec::ALL.iter().map(|s| pool.ready(*s)).sum()
    }

    #[test]
    fn a_new_pool_generates_nothing_until_it_is_warmed_up() {
        let mut pool = KeyPairPool::new(1);
        std::thread::sleep(Duration::from_millis(200));
        assert!(!pool.is_running());
        assert_eq!(ready_in_all(&pool), 0);
        pool.warm_up();
        assert!(pool.is_running());
        let start = Instant::now();
        while ready_in_all(&pool) == 0 {
            assert!(
                start.elapsed() < Duration::from_secs(120),
                "the warmed-up pool made no pair"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    #[test]
    fn a_pair_taken_from_a_pool_not_yet_warm_is_generated_and_starts_it() {
        let mut pool = KeyPairPool::new(1);
        let key = pool.take(WrappingKeySpec::Rsa2048).expect("a pair");
        assert_eq!(key.size() * 8, 2048);
        assert!(pool.is_running());
    }
}
