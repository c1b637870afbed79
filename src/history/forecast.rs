//! The makespan forecast of a plan, from the steps' learned estimates: at p50 and p90, with the
//! RTO judged at p90, as `drillbook plan` prints it.

use super::{Estimate, EstimateSource, MIN_SAMPLES};
use crate::plan::render;

/// The makespan forecast at p50 and p90 of the learned estimates.
pub struct Forecast {
    /// Each step's declared and learned estimates.
    pub estimates: Vec<Estimate>,
    /// The makespan with every step at its p50, and at its p90.
    pub p50: std::time::Duration,
    pub p90: std::time::Duration,
    /// The RTO judged on the p90 makespan.
    pub rto: Option<crate::plan::RtoCheck>,
}

impl Forecast {
    /// Whether any step's estimate is learned (else the plan uses the declared ones).
    pub fn learned(&self) -> bool {
        self.estimates
            .iter()
            .any(|e| matches!(e.source, EstimateSource::Learned { .. }))
    }

    /// The forecast's table under a plan printed as text.
    pub fn text(&self, name: &str) -> String {
        use std::fmt::Write as _;
        let d = render::short_duration;
        let mut o = String::new();
        if self.estimates.iter().all(|e| e.samples == 0) {
            // No executed run measured anything yet: nothing to show.
            return o;
        }
        let _ = writeln!(
            o,
            "\nEstimates (learned from executed runs of `{name}` once a step has {MIN_SAMPLES} samples; dry runs do not count):"
        );
        let _ = writeln!(
            o,
            "  {:<24} {:<28} {:>9} {:>9} {:>9} {:>7}  USED",
            "STEP", "ACTION", "DECLARED", "P50", "P90", "SAMPLES"
        );
        for e in &self.estimates {
            let opt = |v: Option<std::time::Duration>| v.map(d).unwrap_or_else(|| "-".into());
            let used = match e.source {
                EstimateSource::Declared => "declared".to_string(),
                EstimateSource::Learned { samples } => format!("learned ({samples})"),
            };
            let _ = writeln!(
                o,
                "  {:<24} {:<28} {:>9} {:>9} {:>9} {:>7}  {used}",
                e.step,
                e.action,
                d(e.declared),
                opt(e.p50),
                opt(e.p90),
                e.samples
            );
        }
        if !self.learned() {
            let _ = writeln!(
                o,
                "No step has enough samples yet: the plan uses the declared estimates."
            );
            return o;
        }
        let _ = write!(
            o,
            "Forecast makespan: p50 {}, p90 {}",
            d(self.p50),
            d(self.p90)
        );
        match self.rto {
            Some(c) if c.within => {
                let _ = writeln!(
                    o,
                    " (RTO {}: within at p90, {} to spare)",
                    d(c.rto),
                    d(c.rto - c.makespan)
                );
            }
            Some(c) => {
                let _ = writeln!(
                    o,
                    " (RTO {}: EXCEEDED at p90 by {})",
                    d(c.rto),
                    d(c.over_by())
                );
            }
            None => {
                let _ = writeln!(o);
            }
        }
        o
    }

    /// The forecast as the plan's JSON carries it (`estimates`).
    pub fn json(&self) -> serde_json::Value {
        let ms = |d: std::time::Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
        serde_json::json!({
            "min_samples": MIN_SAMPLES,
            "steps": self.estimates,
            "forecast": {
                "p50_ms": ms(self.p50),
                "p90_ms": ms(self.p90),
                "rto_within_at_p90": self.rto.map(|c| c.within),
            },
        })
    }
}
