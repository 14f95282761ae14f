//! Agent metrics for `/v1/agent/metrics`.
//!
//! Written here rather than with a metrics crate because the endpoint must render the same
//! values twice, as Consul's JSON summary (count, sum, min, max, mean, stddev per sample)
//! and as Prometheus text; keeping the aggregates ourselves makes both trivial and keeps the
//! hot path to one short mutex section per observation.

use std::collections::BTreeMap;
use std::time::Duration;

use parking_lot::Mutex;

/// Aggregate of one timing series, in milliseconds.
#[derive(Clone, Debug, Default)]
pub struct Sample {
    /// Observations.
    pub count: u64,
    /// Sum (ms).
    pub sum: f64,
    /// Sum of squares (ms²).
    pub sum_sq: f64,
    /// Minimum (ms).
    pub min: f64,
    /// Maximum (ms).
    pub max: f64,
}

/// Counters and timing samples by name.
#[derive(Default, Debug)]
pub struct Metrics {
    counters: Mutex<BTreeMap<&'static str, u64>>,
    samples: Mutex<BTreeMap<&'static str, Sample>>,
}

impl Metrics {
    /// Add one to a counter.
    pub fn incr(&self, name: &'static str) {
        *self.counters.lock().entry(name).or_insert(0) += 1;
    }

    /// Add `n` to a counter.
    pub fn add(&self, name: &'static str, n: u64) {
        *self.counters.lock().entry(name).or_insert(0) += n;
    }

    /// Check statuses written to the catalog (one batch counts its checks).
    pub fn check_updates_pushed(&self, n: usize) {
        self.add("consul.agent.check.updates_pushed", n as u64);
        self.incr("consul.agent.check.update_batches");
    }

    /// Record one timing.
    pub fn observe(&self, name: &'static str, d: Duration) {
        let ms = d.as_secs_f64() * 1000.0;
        {
            let mut s = self.samples.lock();
            let e = s.entry(name).or_default();
            if e.count == 0 || ms < e.min {
                e.min = ms;
            }
            if ms > e.max {
                e.max = ms;
            }
            e.count += 1;
            e.sum += ms;
            e.sum_sq += ms * ms;
        }
    }

    /// Copy of every counter.
    pub fn counters(&self) -> BTreeMap<&'static str, u64> {
        self.counters.lock().clone()
    }

    /// Copy of every sample.
    pub fn samples(&self) -> BTreeMap<&'static str, Sample> {
        self.samples.lock().clone()
    }
}
