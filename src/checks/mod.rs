//! Running health checks: HTTP, TCP and script probes on an interval, with Consul's flap
//! damping, and the bookkeeping (schedule lag, run counts) that shows whether thousands of
//! them keep their schedule.
//!
//! This module knows nothing of the agent: a check task reports each settled status through
//! [`Report`], and the agent decides what to store and sync. TTL checks have no probe; the
//! agent arms their timers itself.

pub mod damping;
pub mod http;
pub mod output;
pub mod script;
pub mod tcp;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::state::{CheckDefinition, CheckTuning};

pub use damping::Damping;

/// Consul raises shorter intervals to this, so a typo cannot hammer a backend.
pub const MIN_INTERVAL: Duration = Duration::from_secs(1);
/// HTTP and TCP timeout when none is given and the interval is not shorter.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// Script timeout when none is given.
pub const DEFAULT_SCRIPT_TIMEOUT: Duration = Duration::from_secs(30);
/// Bytes of output kept when the definition does not say (`check_output_max_size`).
pub const DEFAULT_OUTPUT_MAX: usize = 4096;

/// The status and output one probe run produced.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    /// `passing`, `warning` or `critical`.
    pub status: &'static str,
    /// What Consul would show as the check's output.
    pub output: String,
}

/// Where settled results go; implemented by the agent.
pub trait Report: Send + Sync + 'static {
    /// A check's status after damping. Called from the check's own task.
    fn report(&self, check_id: &str, status: &'static str, output: String);
}

/// One runnable probe, built from a check definition.
#[derive(Clone, Debug)]
pub enum Probe {
    /// HTTP request; 2xx passing, 429 warning, else critical.
    Http(http::HttpProbe),
    /// TCP connect.
    Tcp(tcp::TcpProbe),
    /// Program run without a shell; exit 0 passing, 1 warning, else critical.
    Script(script::ScriptProbe),
}

impl Probe {
    /// The probe for a definition, or `None` for kinds with no probe (TTL, and kinds disco
    /// stores but does not run).
    pub fn from_definition(
        def: &CheckDefinition,
        tuning: &CheckTuning,
        output_max: usize,
    ) -> Option<Probe> {
        let interval = Duration::from_nanos(def.interval_ns).max(MIN_INTERVAL);
        let given = (def.timeout_ns > 0).then(|| Duration::from_nanos(def.timeout_ns));
        // As Consul: without a timeout, an interval shorter than 10 s bounds the request.
        let net_timeout = given.unwrap_or_else(|| DEFAULT_TIMEOUT.min(interval));
        let output_max = if tuning.output_max_size > 0 {
            usize::try_from(tuning.output_max_size).unwrap_or(usize::MAX)
        } else {
            output_max
        };
        if !def.script_args.is_empty() {
            Some(Probe::Script(script::ScriptProbe {
                args: def.script_args.clone(),
                timeout: given.unwrap_or(DEFAULT_SCRIPT_TIMEOUT),
                output_max,
            }))
        } else if !def.http.is_empty() {
            Some(Probe::Http(http::HttpProbe {
                url: def.http.clone(),
                method: if def.method.is_empty() {
                    "GET".into()
                } else {
                    def.method.clone()
                },
                header: def.header.clone(),
                body: def.body.clone(),
                timeout: net_timeout,
                tls_skip_verify: def.tls_skip_verify,
                disable_redirects: tuning.disable_redirects,
                output_max,
            }))
        } else if !def.tcp.is_empty() {
            Some(Probe::Tcp(tcp::TcpProbe {
                addr: def.tcp.clone(),
                timeout: net_timeout,
            }))
        } else {
            None
        }
    }

    /// Run once.
    pub async fn run(&self) -> Outcome {
        match self {
            Probe::Http(p) => p.run().await,
            Probe::Tcp(p) => p.run().await,
            Probe::Script(p) => p.run().await,
        }
    }

    /// `Stats::monitors` counts script checks separately, as Consul's `check_monitors`.
    fn is_script(&self) -> bool {
        matches!(self, Probe::Script(_))
    }
}

/// Upper bounds (µs) of the schedule-lag histogram buckets; the last bucket is open.
const LAG_BOUNDS_US: [u64; 14] = [
    100, 250, 500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 500_000,
    1_000_000, 5_000_000,
];

/// Counters shared by every check task: cheap atomics, read by the metrics endpoint.
#[derive(Default, Debug)]
pub struct Stats {
    runs: AtomicU64,
    monitors: AtomicU64,
    lag_buckets: [AtomicU64; LAG_BOUNDS_US.len() + 1],
    lag_max_us: AtomicU64,
}

impl Stats {
    fn record_lag(&self, lag: Duration) {
        let us = lag.as_micros().min(u128::from(u64::MAX)) as u64;
        let i = LAG_BOUNDS_US
            .iter()
            .position(|b| us <= *b)
            .unwrap_or(LAG_BOUNDS_US.len());
        self.lag_buckets[i].fetch_add(1, Ordering::Relaxed);
        self.lag_max_us.fetch_max(us, Ordering::Relaxed);
        self.runs.fetch_add(1, Ordering::Relaxed);
    }

    /// Probe runs since start.
    pub fn runs(&self) -> u64 {
        self.runs.load(Ordering::Relaxed)
    }

    /// Script checks currently scheduled.
    pub fn monitors(&self) -> u64 {
        self.monitors.load(Ordering::Relaxed)
    }

    /// The bucket bound (ms) at or below which `q` (0–1) of all runs started; an estimate
    /// good to one histogram bucket. `None` before the first run.
    pub fn lag_quantile_ms(&self, q: f64) -> Option<f64> {
        let counts: Vec<u64> = self
            .lag_buckets
            .iter()
            .map(|c| c.load(Ordering::Relaxed))
            .collect();
        let total: u64 = counts.iter().sum();
        if total == 0 {
            return None;
        }
        let want = ((total as f64) * q).ceil().max(1.0) as u64;
        let mut seen = 0;
        for (i, c) in counts.iter().enumerate() {
            seen += c;
            if seen >= want {
                let us = LAG_BOUNDS_US
                    .get(i)
                    .copied()
                    .unwrap_or_else(|| self.lag_max_us.load(Ordering::Relaxed));
                return Some(us as f64 / 1000.0);
            }
        }
        None
    }

    /// Largest lag seen (ms).
    pub fn lag_max_ms(&self) -> f64 {
        self.lag_max_us.load(Ordering::Relaxed) as f64 / 1000.0
    }
}

/// The running check tasks of one agent, by check ID.
pub struct Runner {
    tasks: parking_lot::Mutex<HashMap<String, (JoinHandle<()>, bool)>>,
    stats: Arc<Stats>,
}

impl Default for Runner {
    fn default() -> Self {
        Runner {
            tasks: parking_lot::Mutex::new(HashMap::new()),
            stats: Arc::new(Stats::default()),
        }
    }
}

impl Runner {
    /// Shared counters.
    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// Start (or restart) `check_id`: the first run after a random delay within the
    /// interval, so checks registered together do not fire together, then one run per
    /// interval. A run that overruns its slot delays the next one; runs never overlap.
    pub fn start(
        &self,
        check_id: &str,
        probe: Probe,
        interval: Duration,
        damping: Damping,
        sink: Arc<dyn Report>,
    ) {
        let interval = interval.max(MIN_INTERVAL);
        let id = check_id.to_string();
        let stats = self.stats.clone();
        let script = probe.is_script();
        let task = tokio::spawn(async move {
            let first = Duration::from_nanos(rand::random_range(0..interval.as_nanos() as u64));
            let mut next = Instant::now() + first;
            let mut damping = damping;
            loop {
                tokio::time::sleep_until(next).await;
                stats.record_lag(Instant::now().saturating_duration_since(next));
                let outcome = probe.run().await;
                if let Some((status, output)) = damping.settle(outcome) {
                    sink.report(&id, status, output);
                }
                next += interval;
                let now = Instant::now();
                if next < now {
                    // Overran: skip the missed slots instead of running back to back.
                    next = now + interval;
                }
            }
        });
        let mut tasks = self.tasks.lock();
        if script {
            self.stats.monitors.fetch_add(1, Ordering::Relaxed);
        }
        if let Some((old, was_script)) = tasks.insert(check_id.to_string(), (task, script)) {
            old.abort();
            if was_script {
                self.stats.monitors.fetch_sub(1, Ordering::Relaxed);
            }
        }
    }

    /// Stop `check_id` if it runs.
    pub fn stop(&self, check_id: &str) {
        let mut tasks = self.tasks.lock();
        if let Some((task, script)) = tasks.remove(check_id) {
            task.abort();
            if script {
                self.stats.monitors.fetch_sub(1, Ordering::Relaxed);
            }
        }
    }

    /// Stop every check.
    pub fn stop_all(&self) {
        let mut tasks = self.tasks.lock();
        for (_, (task, _)) in tasks.drain() {
            task.abort();
        }
        self.stats.monitors.store(0, Ordering::Relaxed);
    }
}

impl Drop for Runner {
    fn drop(&mut self) {
        self.stop_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lag_quantiles_come_from_the_buckets() {
        let s = Stats::default();
        assert_eq!(s.lag_quantile_ms(0.99), None);
        for _ in 0..99 {
            s.record_lag(Duration::from_micros(80));
        }
        s.record_lag(Duration::from_millis(40));
        assert_eq!(s.lag_quantile_ms(0.5), Some(0.1));
        assert_eq!(s.lag_quantile_ms(0.99), Some(0.1));
        assert_eq!(s.lag_quantile_ms(1.0), Some(50.0));
        assert_eq!(s.runs(), 100);
        assert!((s.lag_max_ms() - 40.0).abs() < 1e-9);
    }

    #[test]
    fn probes_follow_the_definition() {
        let mut def = CheckDefinition {
            http: "http://127.0.0.1:1/".into(),
            interval_ns: 5_000_000_000,
            ..Default::default()
        };
        match Probe::from_definition(&def, &CheckTuning::default(), 4096) {
            Some(Probe::Http(h)) => {
                assert_eq!(h.method, "GET");
                // No timeout given and an interval under 10 s: the interval bounds it.
                assert_eq!(h.timeout, Duration::from_secs(5));
            }
            other => panic!("{other:?}"),
        }
        def.http.clear();
        def.tcp = "127.0.0.1:1".into();
        def.timeout_ns = 2_000_000_000;
        assert!(matches!(
            Probe::from_definition(&def, &CheckTuning::default(), 4096),
            Some(Probe::Tcp(t)) if t.timeout == Duration::from_secs(2)
        ));
        def.tcp.clear();
        def.script_args = vec!["/bin/true".into()];
        def.timeout_ns = 0;
        assert!(matches!(
            Probe::from_definition(&def, &CheckTuning::default(), 4096),
            Some(Probe::Script(s)) if s.timeout == DEFAULT_SCRIPT_TIMEOUT
        ));
        def.script_args.clear();
        def.ttl_ns = 1;
        assert!(Probe::from_definition(&def, &CheckTuning::default(), 4096).is_none());
    }
}
