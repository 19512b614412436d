//! A circuit breaker per provider target, kept in each instance's memory: a target
//! that keeps failing is skipped for a cool-down, then one probe request decides
//! whether it is back. Recent errors and latency are kept for the health report.

use crate::providers::Target;
use serde::Serialize;
use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use utoipa::ToSchema;

const RECENT_ERRORS: usize = 5;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CircuitState {
    Closed,
    Open,
    HalfOpen,
}

#[derive(Debug, Clone)]
struct Health {
    state: CircuitState,
    consecutive_failures: u32,
    /// When an open circuit lets a probe through (unix ms).
    open_until_ms: i64,
    probe_in_flight: bool,
    recent_errors: VecDeque<String>,
    /// Exponentially weighted time to first token.
    latency_ms: Option<f64>,
}

impl Default for Health {
    fn default() -> Self {
        Health {
            state: CircuitState::Closed,
            consecutive_failures: 0,
            open_until_ms: 0,
            probe_in_flight: false,
            recent_errors: VecDeque::new(),
            latency_ms: None,
        }
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TargetHealth {
    pub target: Target,
    pub state: CircuitState,
    pub consecutive_failures: u32,
    pub recent_errors: Vec<String>,
    /// Smoothed time to first token, in milliseconds.
    pub latency_ms: Option<f64>,
}

pub struct Breakers {
    threshold: u32,
    cooldown_ms: i64,
    targets: Mutex<HashMap<Target, Health>>,
}

impl Breakers {
    pub fn new(threshold: u32, cooldown_ms: i64) -> Breakers {
        Breakers { threshold, cooldown_ms, targets: Mutex::new(HashMap::new()) }
    }

    fn with<R>(&self, target: &Target, f: impl FnOnce(&mut Health) -> R) -> R {
        let mut targets = self.targets.lock().unwrap_or_else(|p| p.into_inner());
        f(targets.entry(target.clone()).or_default())
    }

    /// Whether a request may go to `target` now. An open circuit past its cool-down
    /// turns half-open and admits exactly one probe.
    pub fn admit(&self, target: &Target, now_ms: i64) -> bool {
        self.with(target, |h| match h.state {
            CircuitState::Closed => true,
            CircuitState::Open if now_ms >= h.open_until_ms => {
                h.state = CircuitState::HalfOpen;
                h.probe_in_flight = true;
                true
            }
            CircuitState::Open => false,
            CircuitState::HalfOpen if !h.probe_in_flight => {
                h.probe_in_flight = true;
                true
            }
            CircuitState::HalfOpen => false,
        })
    }

    pub fn success(&self, target: &Target, latency_ms: f64) {
        self.with(target, |h| {
            h.state = CircuitState::Closed;
            h.consecutive_failures = 0;
            h.probe_in_flight = false;
            h.latency_ms = Some(h.latency_ms.map_or(latency_ms, |l| 0.8 * l + 0.2 * latency_ms));
        })
    }

    pub fn failure(&self, target: &Target, error: String, now_ms: i64) {
        let (threshold, cooldown) = (self.threshold, self.cooldown_ms);
        self.with(target, |h| {
            h.consecutive_failures += 1;
            h.probe_in_flight = false;
            if h.state == CircuitState::HalfOpen || h.consecutive_failures >= threshold {
                h.state = CircuitState::Open;
                h.open_until_ms = now_ms + cooldown;
            }
            h.recent_errors.push_front(error);
            h.recent_errors.truncate(RECENT_ERRORS);
        })
    }

    /// Every target this instance has called, with its circuit's state.
    pub fn states(&self) -> Vec<(Target, CircuitState)> {
        let targets = self.targets.lock().unwrap_or_else(|p| p.into_inner());
        targets.iter().map(|(target, h)| (target.clone(), h.state)).collect()
    }

    pub fn report(&self, targets: impl IntoIterator<Item = Target>) -> Vec<TargetHealth> {
        targets
            .into_iter()
            .map(|target| {
                let h = self.with(&target, |h| h.clone());
                TargetHealth {
                    target,
                    state: h.state,
                    consecutive_failures: h.consecutive_failures,
                    recent_errors: h.recent_errors.into_iter().collect(),
                    latency_ms: h.latency_ms,
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::ProviderKind;

    fn target() -> Target {
        Target {
            provider: ProviderKind::Echo,
            base_url: String::new(),
            model: "m".into(),
            api_key_secret: None,
            region: None,
        }
    }

    #[test]
    fn opens_after_threshold_then_probes_once_after_cooldown() {
        let b = Breakers::new(3, 1000);
        let t = target();
        for _ in 0..3 {
            assert!(b.admit(&t, 0));
            b.failure(&t, "boom".into(), 0);
        }
        assert!(!b.admit(&t, 500), "open during the cool-down");
        assert!(b.admit(&t, 1000), "one probe after it");
        assert!(!b.admit(&t, 1001), "only one probe at a time");
        b.failure(&t, "still down".into(), 1001);
        assert!(!b.admit(&t, 1500), "a failed probe reopens");
        assert!(b.admit(&t, 2001));
        b.success(&t, 10.0);
        assert!(b.admit(&t, 2002) && b.admit(&t, 2003), "a good probe closes");
        let report = &b.report([t])[0];
        assert_eq!((report.state, report.consecutive_failures), (CircuitState::Closed, 0));
        assert_eq!(report.recent_errors[0], "still down");
    }
}
