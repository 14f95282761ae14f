//! Flap damping: `SuccessBeforePassing`, `FailuresBeforeWarning`, `FailuresBeforeCritical`.

use super::Outcome;
use crate::state::status;

/// Consecutive-result counters of one check. Both counters start at their thresholds, so
/// the very first result applies at once, as Consul's do.
#[derive(Clone, Debug)]
pub struct Damping {
    success_before_passing: u32,
    failures_before_warning: u32,
    failures_before_critical: u32,
    successes: u32,
    failures: u32,
}

impl Damping {
    /// Thresholds as given in a definition; negative values count as 0, and
    /// `FailuresBeforeWarning` 0 means "same as `FailuresBeforeCritical`".
    pub fn new(
        success_before_passing: i64,
        failures_before_warning: i64,
        failures_before_critical: i64,
    ) -> Damping {
        let clamp = |v: i64| u32::try_from(v.max(0)).unwrap_or(u32::MAX);
        let fbc = clamp(failures_before_critical);
        let fbw = match clamp(failures_before_warning) {
            0 => fbc,
            w => w,
        };
        let sbp = clamp(success_before_passing);
        Damping {
            success_before_passing: sbp,
            failures_before_warning: fbw,
            failures_before_critical: fbc,
            successes: sbp,
            failures: fbc,
        }
    }

    /// Feed one probe result; the status to report, if it should be reported. A passing or
    /// warning result counts as a success; a critical one as a failure, reported as warning
    /// once `FailuresBeforeWarning` is reached and as critical at `FailuresBeforeCritical`.
    pub fn settle(&mut self, o: Outcome) -> Option<(&'static str, String)> {
        if o.status == status::CRITICAL {
            self.failures = self.failures.saturating_add(1);
            self.successes = 0;
            if self.failures >= self.failures_before_critical {
                Some((status::CRITICAL, o.output))
            } else if self.failures >= self.failures_before_warning {
                Some((status::WARNING, o.output))
            } else {
                None
            }
        } else {
            self.successes = self.successes.saturating_add(1);
            self.failures = 0;
            (self.successes >= self.success_before_passing).then_some((o.status, o.output))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(d: &mut Damping, s: &'static str) -> Option<&'static str> {
        d.settle(Outcome {
            status: s,
            output: String::new(),
        })
        .map(|(s, _)| s)
    }

    #[test]
    fn without_thresholds_every_result_applies() {
        let mut d = Damping::new(0, 0, 0);
        assert_eq!(run(&mut d, status::CRITICAL), Some(status::CRITICAL));
        assert_eq!(run(&mut d, status::PASSING), Some(status::PASSING));
        assert_eq!(run(&mut d, status::WARNING), Some(status::WARNING));
    }

    #[test]
    fn first_result_applies_then_thresholds_hold() {
        let mut d = Damping::new(2, 1, 3);
        // Counters start satisfied.
        assert_eq!(run(&mut d, status::PASSING), Some(status::PASSING));
        assert_eq!(run(&mut d, status::CRITICAL), Some(status::WARNING));
        assert_eq!(run(&mut d, status::CRITICAL), Some(status::WARNING));
        assert_eq!(run(&mut d, status::CRITICAL), Some(status::CRITICAL));
        // One success is not enough to pass again.
        assert_eq!(run(&mut d, status::PASSING), None);
        assert_eq!(run(&mut d, status::PASSING), Some(status::PASSING));
    }

    #[test]
    fn failures_before_warning_defaults_to_critical_threshold() {
        let mut d = Damping::new(0, 0, 2);
        assert_eq!(run(&mut d, status::PASSING), Some(status::PASSING));
        assert_eq!(run(&mut d, status::CRITICAL), None);
        assert_eq!(run(&mut d, status::CRITICAL), Some(status::CRITICAL));
    }
}
