//! Learned estimates: each step's measured durations in past executed runs of the same runbook,
//! as p50 and p90, in place of its hand-written `estimate:` once there are enough of them.

use std::collections::HashMap;
use std::time::Duration;

use serde::Serialize;

use super::RunDigest;
use crate::event::Mode;
use crate::runbook::Runbook;

/// Samples a step needs before its measured durations replace its declared estimate.
pub const MIN_SAMPLES: usize = 5;

/// Where the estimates come from (`--estimates`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Estimates {
    /// Every step's `estimate:` (or its action's default).
    Declared,
    /// Measured durations for every step; an error when a step has fewer than 5 samples.
    Learned,
    /// Measured durations where a step has 5 samples or more, declared elsewhere.
    #[default]
    Auto,
}

/// Where one step's estimate came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "source")]
pub enum EstimateSource {
    Declared,
    Learned { samples: usize },
}

/// One step's estimate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Estimate {
    pub step: String,
    pub action: String,
    #[serde(serialize_with = "ser_ms")]
    pub declared: Duration,
    /// Measured, when there is at least one sample.
    #[serde(serialize_with = "ser_ms_opt")]
    pub p50: Option<Duration>,
    #[serde(serialize_with = "ser_ms_opt")]
    pub p90: Option<Duration>,
    pub samples: usize,
    #[serde(flatten)]
    pub source: EstimateSource,
}

impl Estimate {
    /// The estimate used for the p50 (or p90) forecast.
    pub fn at(&self, p90: bool) -> Duration {
        match (self.source, p90) {
            (EstimateSource::Declared, _) => self.declared,
            (EstimateSource::Learned { .. }, false) => self.p50.unwrap_or(self.declared),
            (EstimateSource::Learned { .. }, true) => self.p90.unwrap_or(self.declared),
        }
    }
}

fn ser_ms<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u64(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

fn ser_ms_opt<S: serde::Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
    match d {
        Some(d) => ser_ms(d, s),
        None => s.serialize_none(),
    }
}

/// Nearest-rank percentile of sorted samples.
fn percentile(sorted: &[u64], q: f64) -> u64 {
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

/// Each step's estimate for `runbook` from `history` (digests of any runbooks; only executed
/// runs of this one, by name, count, and a step's samples are keyed by its id and action).
/// `Err` lists the steps without enough samples when `mode` is [`Estimates::Learned`].
pub fn learn(
    runbook: &Runbook,
    history: &[RunDigest],
    mode: Estimates,
) -> Result<Vec<Estimate>, Vec<String>> {
    let mut samples: HashMap<(&str, &str), Vec<u64>> = HashMap::new();
    for d in history
        .iter()
        .filter(|d| d.runbook == runbook.name && d.mode == Mode::Execute)
    {
        for s in &d.steps {
            samples
                .entry((s.id.as_str(), s.action.as_str()))
                .or_default()
                .push(s.duration_ms);
        }
    }
    let mut short = Vec::new();
    let out = runbook
        .steps
        .iter()
        .chain(&runbook.finally)
        .map(|step| {
            let mut got = samples
                .remove(&(step.id.as_str(), step.action.as_str()))
                .unwrap_or_default();
            got.sort_unstable();
            let n = got.len();
            let (p50, p90) = if n == 0 {
                (None, None)
            } else {
                (
                    Some(Duration::from_millis(percentile(&got, 0.5))),
                    Some(Duration::from_millis(percentile(&got, 0.9))),
                )
            };
            let enough = n >= MIN_SAMPLES;
            if mode == Estimates::Learned && !enough {
                short.push(format!(
                    "{} ({n} sample{})",
                    step.id,
                    if n == 1 { "" } else { "s" }
                ));
            }
            let source = if mode != Estimates::Declared && enough {
                EstimateSource::Learned { samples: n }
            } else {
                EstimateSource::Declared
            };
            Estimate {
                step: step.id.clone(),
                action: step.action.clone(),
                declared: step.estimate,
                p50,
                p90,
                samples: n,
                source,
            }
        })
        .collect();
    if short.is_empty() {
        Ok(out)
    } else {
        Err(short)
    }
}

/// `runbook` with every step's estimate replaced by its p50 (or p90) estimate.
pub fn with_estimates(runbook: &Runbook, estimates: &[Estimate], p90: bool) -> Runbook {
    let by_step: HashMap<&str, Duration> = estimates
        .iter()
        .map(|e| (e.step.as_str(), e.at(p90)))
        .collect();
    let mut rb = runbook.clone();
    for s in rb.steps.iter_mut().chain(rb.finally.iter_mut()) {
        if let Some(d) = by_step.get(s.id.as_str()) {
            s.estimate = *d;
        }
    }
    rb
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let v: Vec<u64> = (1..=10).collect();
        assert_eq!(percentile(&v, 0.5), 5);
        assert_eq!(percentile(&v, 0.9), 9);
        assert_eq!(percentile(&[7], 0.9), 7);
        assert_eq!(percentile(&[1, 2], 0.5), 1);
    }
}
