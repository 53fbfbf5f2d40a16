//! The scheduler's notion of "now", injectable so tests advance time instead of sleeping.
//!
//! A server runs on the system clock unless started with `--test-clock` (hidden), which freezes
//! time at the start instant: then only [`Clock::advance`] moves it, and the scheduler loop does
//! not run on its own; tests drive it with `server::scheduler::tick` (docs/alerts.md).

use std::sync::Mutex;

use chrono::{DateTime, Duration, Utc};

/// Wall time, or a manual clock for tests.
#[derive(Debug)]
pub enum Clock {
    /// `Utc::now()`.
    System,
    /// A frozen instant that moves only when advanced.
    Manual(Mutex<DateTime<Utc>>),
}

impl Clock {
    /// A manual clock at `start`.
    pub fn manual(start: DateTime<Utc>) -> Clock {
        Clock::Manual(Mutex::new(start))
    }

    /// Now.
    pub fn now(&self) -> DateTime<Utc> {
        match self {
            Clock::System => Utc::now(),
            Clock::Manual(t) => *t.lock().unwrap_or_else(std::sync::PoisonError::into_inner),
        }
    }

    /// Whether this is a manual clock (the scheduler loop then waits for explicit ticks).
    pub fn is_manual(&self) -> bool {
        matches!(self, Clock::Manual(_))
    }

    /// Moves a manual clock forward by `by` (no effect on the system clock); returns the new now.
    pub fn advance(&self, by: Duration) -> DateTime<Utc> {
        match self {
            Clock::System => Utc::now(),
            Clock::Manual(t) => {
                let mut t = t.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                *t += by;
                *t
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manual_clock_moves_only_when_advanced() {
        let start = Utc::now();
        let clock = Clock::manual(start);
        assert_eq!(clock.now(), start);
        assert_eq!(clock.advance(Duration::minutes(5)), start + Duration::minutes(5));
        assert_eq!(clock.now(), start + Duration::minutes(5));
        assert!(!Clock::System.is_manual());
    }
}
