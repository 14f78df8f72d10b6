//! Clocks for the front ends: real time, and a simulated clock that a
//! trainer can speed up or move forward to show expiry and rotation.

use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::kms::{Clock, Timestamp};

fn system_now() -> Timestamp {
    let ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0);
    Timestamp::from_millis(ms)
}

/// The system's real time.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        system_now()
    }
}

#[derive(Clone, Copy, Debug)]
struct Anchor {
    real: Timestamp,
    simulated: Timestamp,
    speed: f64,
}

/// A clock that runs `speed` times faster than real time from an anchor,
/// and can be moved forward. Never moves backwards.
#[derive(Debug)]
pub struct SimulatedClock {
    anchor: Mutex<Anchor>,
}

impl Default for SimulatedClock {
    fn default() -> Self {
        let now = system_now();
        Self {
            anchor: Mutex::new(Anchor {
                real: now,
                simulated: now,
                speed: 1.0,
            }),
        }
    }
}

impl SimulatedClock {
    fn read(a: &Anchor, real_now: Timestamp) -> Timestamp {
        let elapsed = real_now.millis().saturating_sub(a.real.millis()).max(0) as f64;
        Timestamp::from_millis(a.simulated.millis().saturating_add((elapsed * a.speed) as i64))
    }

    fn with<R>(&self, f: impl FnOnce(&mut Anchor) -> R) -> R {
        let mut a = self.anchor.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut a)
    }

    /// How many times faster than real time it runs (1 = real time).
    pub fn speed(&self) -> f64 {
        self.with(|a| a.speed)
    }

    /// Sets the speed (clamped to 1..=100 000), keeping the current instant.
    pub fn set_speed(&self, speed: f64) {
        let real = system_now();
        self.with(|a| {
            a.simulated = Self::read(a, real);
            a.real = real;
            a.speed = if speed.is_finite() { speed.clamp(1.0, 100_000.0) } else { 1.0 };
        });
    }

    /// Moves the clock forward by `d`.
    pub fn advance(&self, d: Duration) {
        let real = system_now();
        self.with(|a| {
            a.simulated = Self::read(a, real).plus(d);
            a.real = real;
        });
    }

    /// How far the clock is ahead of real time.
    pub fn offset(&self) -> Duration {
        self.now().since(system_now())
    }

    /// Whether the clock shows real time (speed 1, no offset beyond a second).
    pub fn is_real_time(&self) -> bool {
        self.speed() == 1.0 && self.offset() < Duration::from_secs(1)
    }

    /// Back to real time.
    pub fn reset(&self) {
        let now = system_now();
        self.with(|a| {
            *a = Anchor {
                real: now,
                simulated: now.max(Self::read(a, now)),
                speed: 1.0,
            }
        });
    }
}

impl Clock for SimulatedClock {
    fn now(&self) -> Timestamp {
        let real = system_now();
        self.with(|a| Self::read(a, real))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn advancing_moves_forward_and_speed_keeps_the_instant() {
        let c = SimulatedClock::default();
        let before = c.now();
        c.advance(Duration::from_secs(3600));
        assert!(c.now() >= before.plus(Duration::from_secs(3600)));
        let t = c.now();
        c.set_speed(60.0);
        assert!(c.now() >= t);
        assert_eq!(c.speed(), 60.0);
        assert!(!c.is_real_time());
        c.set_speed(f64::NAN);
        assert_eq!(c.speed(), 1.0);
    }
}
