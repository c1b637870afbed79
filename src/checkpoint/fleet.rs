//! A fleet's record: the targets (accounts x Regions) one command ran a runbook on, each with
//! its own run, and what became of each. Kept beside the runs (see `app::fleet`).

use serde::{Deserialize, Serialize};

use crate::event::Mode;

/// `10` or `10%`: a number of targets, or a share of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Share {
    Count(usize),
    Percent(u32),
}

impl Share {
    /// Parses `N` or `N%` (`what` names the option in the error).
    pub fn parse(s: &str, what: &str) -> Result<Share, String> {
        let bad = || {
            format!(
                "invalid {what} `{s}`: write a number of targets (`{what} 3`) or a share (`{what} 10%`)"
            )
        };
        match s.trim().strip_suffix('%') {
            Some(p) => match p.parse::<u32>() {
                Ok(p) if p <= 100 => Ok(Share::Percent(p)),
                _ => Err(bad()),
            },
            None => s.trim().parse().map(Share::Count).map_err(|_| bad()),
        }
    }

    /// How many of `n` targets: a share rounds down (10% of 50 is 5).
    pub fn of(self, n: usize) -> usize {
        match self {
            Share::Count(c) => c,
            Share::Percent(p) => n * p as usize / 100,
        }
    }
}

/// One target in the fleet's record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TargetRecord {
    pub account: String,
    pub name: String,
    pub region: String,
    /// Its run, once started.
    #[serde(default)]
    pub run_id: Option<String>,
    /// `succeeded`, `failed`, `paused`, or `not started` (never started, or stopped queueing).
    pub status: String,
    /// The run's verdict (`passed`, `failed`, `dry run`), once it ended.
    #[serde(default)]
    pub verdict: Option<String>,
    /// The recovery time of an executed run that reached the end of its recovery.
    #[serde(default)]
    pub recovery_ms: Option<u64>,
    /// The target's reports and sealed evidence.
    #[serde(default)]
    pub report_dir: Option<String>,
    /// SHA-256 of the target's `manifest.json`, sealed by the fleet's manifest.
    #[serde(default)]
    pub manifest_sha256: Option<String>,
    /// Why it failed or did not start.
    #[serde(default)]
    pub reason: Option<String>,
}

/// The scenario of a drill fleet, as the fleet started: targets drilled later (a resume)
/// drill that file or none.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FleetScenario {
    pub name: String,
    /// The scenario file, absolute.
    pub path: String,
    pub sha256: String,
    /// `--root`, the directory its runbook must resolve inside, when given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub root: Option<String>,
}

/// The fleet's record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FleetRecord {
    pub fleet_id: String,
    /// The runbook file, absolute.
    pub runbook_path: String,
    pub runbook: String,
    /// SHA-256 of the runbook file as the fleet started: targets run later (a resume) run
    /// that text or none.
    #[serde(default)]
    pub runbook_sha256: String,
    /// For a drill across targets (`drillbook drill SCENARIO --accounts ...`): the scenario
    /// each target drills; `runbook_path` is then the scenario's runbook.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scenario: Option<FleetScenario>,
    pub mode: Mode,
    /// The `--var` values it was started with.
    pub vars: Vec<(String, String)>,
    pub role_name: String,
    pub max_concurrency: Share,
    pub max_errors: Share,
    pub started_at: chrono::DateTime<chrono::Utc>,
    pub targets: Vec<TargetRecord>,
    /// Set when the rollout stopped queueing (too many failures, or the stop alarm).
    #[serde(default)]
    pub stopped: Option<String>,
    /// The alarm that stops the rollout while it is in ALARM.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_alarm: Option<StopAlarm>,
    /// Accounts of the fleet's OUs that were not run: suspended or closed, as AWS
    /// Organizations reported them when the fleet started.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub skipped: Vec<Skipped>,
}

/// A CloudWatch alarm of the account drillbook runs in, read before each target starts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StopAlarm {
    pub name: String,
    pub region: String,
}

/// An account of the fleet's OUs that no target runs in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Skipped {
    pub account: String,
    pub name: String,
    /// Why (`SUSPENDED in AWS Organizations`).
    pub reason: String,
}

impl FleetRecord {
    /// `(succeeded, failed, paused, not started)`.
    pub fn counts(&self) -> (usize, usize, usize, usize) {
        let n = |s: &str| self.targets.iter().filter(|t| t.status == s).count();
        (n("succeeded"), n("failed"), n("paused"), n("not started"))
    }
}
