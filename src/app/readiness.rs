//! Readiness over all runs: `status` (is each runbook proven by a recent passing drill of its
//! exact text?) and `history` (every run of a runbook), read from the session's store.

use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::Failure;
pub use crate::history::RunDigest;

/// One runbook's line.
#[derive(Debug, Serialize)]
pub struct Status {
    pub file: String,
    pub runbook: String,
    pub sha256: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scenario: Option<String>,
    pub last_run: Option<RunRef>,
    pub last_pass: Option<PassRef>,
    /// `ok`, `changed`, `stale` or `never`.
    pub state: &'static str,
    /// Days since the last pass.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub age_days: Option<f64>,
}

#[derive(Debug, Serialize)]
pub struct RunRef {
    pub run_id: String,
    pub started_at: DateTime<Utc>,
    pub mode: crate::event::Mode,
    pub status: crate::event::RunStatus,
    /// The run's verdict, as its report gives it (a dry run's is `dry-run`).
    pub verdict: &'static str,
}

#[derive(Debug, Serialize)]
pub struct PassRef {
    pub run_id: String,
    pub scenario: String,
    pub started_at: DateTime<Utc>,
    pub verdict: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recovery_ms: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rto_ms: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rpo_measured_ms: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rpo_ms: Option<u64>,
}

/// What a file on the command line names: the runbook, and for a scenario its own hash too.
struct Target {
    file: String,
    name: String,
    runbook_sha: String,
    scenario: Option<(String, String)>,
}

fn target(path: &Path) -> Result<Target, Failure> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Failure::invalid(format!("cannot read {}: {e}", path.display())))?;
    if crate::scenario::is_scenario_text(&text) {
        let sha = crate::runbook::load::sha256_hex(text.as_bytes());
        let scenario = crate::scenario::load_scenario(path)?;
        let rb = crate::scenario::load_runbook(&scenario, &[])?;
        return Ok(Target {
            file: path.display().to_string(),
            name: rb.runbook.name,
            runbook_sha: rb.sha256,
            scenario: Some((scenario.name.clone(), sha)),
        });
    }
    let rb = crate::runbook::load_str(path, &text, &[])?;
    Ok(Target {
        file: path.display().to_string(),
        name: rb.runbook.name,
        runbook_sha: rb.sha256,
        scenario: None,
    })
}

fn status_of(
    t: &Target,
    runs: &[RunDigest],
    max_age: Option<Duration>,
    now: DateTime<Utc>,
) -> Status {
    let mine = runs.iter().filter(|d| d.runbook == t.name);
    let last_run = mine
        .clone()
        .find(|d| d.mode == crate::event::Mode::Execute)
        .map(|d| RunRef {
            run_id: d.run_id.clone(),
            started_at: d.started_at,
            mode: d.mode,
            status: d.status,
            verdict: d.verdict.as_str(),
        });
    let pass = mine.clone().find(|d| {
        d.passed_drill()
            && t.scenario
                .as_ref()
                .is_none_or(|(name, _)| d.drill.as_ref().is_some_and(|x| &x.scenario == name))
    });
    let age = pass.map(|p| (now - p.ended_at).to_std().unwrap_or_default());
    let changed = pass.is_some_and(|p| {
        p.runbook_sha256 != t.runbook_sha
            || t.scenario
                .as_ref()
                .is_some_and(|(_, sha)| p.drill.as_ref().is_some_and(|d| &d.scenario_sha256 != sha))
    });
    let state = match (pass, age, max_age) {
        (None, ..) => "never",
        _ if changed => "changed",
        (Some(_), Some(a), Some(m)) if a > m => "stale",
        _ => "ok",
    };
    Status {
        file: t.file.clone(),
        runbook: t.name.clone(),
        sha256: t.runbook_sha.clone(),
        scenario: t.scenario.as_ref().map(|(n, _)| n.clone()),
        last_run,
        last_pass: pass.map(|p| PassRef {
            run_id: p.run_id.clone(),
            scenario: p
                .drill
                .as_ref()
                .map(|d| d.scenario.clone())
                .unwrap_or_default(),
            started_at: p.started_at,
            verdict: p.verdict.as_str().to_string(),
            recovery_ms: p.recovery_ms,
            rto_ms: p.rto_ms,
            rpo_measured_ms: p.rpo_measured_ms,
            rpo_ms: p.rpo_ms,
        }),
        state,
        age_days: age.map(|a| (a.as_secs_f64() / 86_400.0 * 10.0).round() / 10.0),
    }
}

impl super::Session {
    /// Every run's digest, newest first.
    pub async fn digests(&self) -> Result<Vec<RunDigest>, Failure> {
        let s = &self.settings;
        super::store::digests(&s.state.url, &s.state.dir, &s.profile)
            .await
            .map_err(|e| e.context("cannot read past runs"))
    }

    /// One row per runbook or scenario file: its last executed run, its last passing drill
    /// and its state (`ok`, `changed`, `stale` past `max_age`, `never`). Exit 2 for a file that
    /// does not load.
    pub async fn readiness(
        &self,
        files: &[PathBuf],
        max_age: Option<Duration>,
    ) -> Result<Vec<Status>, Failure> {
        let targets = files
            .iter()
            .map(|f| target(f))
            .collect::<Result<Vec<_>, _>>()?;
        let runs = self.digests().await?;
        let now = Utc::now();
        Ok(targets
            .iter()
            .map(|t| status_of(t, &runs, max_age, now))
            .collect())
    }

    /// The runs of a runbook (a runbook or scenario file, or a runbook's `name`), newest
    /// first, with the name they were matched by.
    pub async fn history(&self, runbook: &str) -> Result<(String, Vec<RunDigest>), Failure> {
        let path = Path::new(runbook);
        let name = if path.is_file() {
            target(path)?.name
        } else {
            runbook.to_string()
        };
        let runs = self
            .digests()
            .await?
            .into_iter()
            .filter(|d| d.runbook == name)
            .collect();
        Ok((name, runs))
    }
}

/// The runs of one runbook as one self-contained HTML page, with a chart of the achieved RTO.
pub fn history_page(name: &str, runs: &[RunDigest]) -> String {
    let runs: Vec<&RunDigest> = runs.iter().collect();
    crate::history::page::render(name, &runs)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn digest(id: &str, sha: &str, verdict: Option<&str>, days_ago: i64) -> RunDigest {
        let at = Utc::now() - chrono::Duration::days(days_ago);
        RunDigest {
            run_id: id.into(),
            runbook: "failover".into(),
            runbook_sha256: sha.into(),
            started_at: at,
            ended_at: at,
            mode: crate::event::Mode::Execute,
            status: crate::event::RunStatus::Succeeded,
            verdict: match verdict {
                Some("failed") => crate::checkpoint::view::Verdict::Failed,
                _ => crate::checkpoint::view::Verdict::Passed,
            },
            drill: verdict.map(|v| crate::history::DrillDigest {
                scenario: "outage".into(),
                scenario_sha256: "s1".into(),
                verdict: v.into(),
            }),
            rto_ms: Some(900_000),
            recovery_ms: Some(60_000),
            rpo_ms: None,
            rpo_measured_ms: None,
            steps: vec![],
        }
    }

    fn target(sha: &str) -> Target {
        Target {
            file: "f.yaml".into(),
            name: "failover".into(),
            runbook_sha: sha.into(),
            scenario: None,
        }
    }

    #[test]
    fn states() {
        let day = Duration::from_secs(86_400);
        let now = Utc::now();
        // Newest first, as `digests` returns them.
        let runs = vec![
            digest("3", "new", Some("failed"), 1),
            digest("2", "old", Some("passed"), 10),
            digest("1", "old", None, 20),
        ];
        let s = status_of(&target("old"), &runs, Some(day * 30), now);
        assert_eq!(
            (s.state, s.last_pass.as_ref().unwrap().run_id.as_str()),
            ("ok", "2")
        );
        assert_eq!(s.last_run.unwrap().run_id, "3");
        assert_eq!(
            status_of(&target("old"), &runs, Some(day * 5), now).state,
            "stale"
        );
        assert_eq!(status_of(&target("new"), &runs, None, now).state, "changed");
        assert_eq!(
            status_of(&target("x"), &runs[..1], None, now).state,
            "never"
        );
    }
}
