//! Readiness over all runs: `status` (is each runbook proven by a recent passing drill of its
//! exact text?) and `history` (every run of a runbook), read from the session's store.

use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::Failure;
use crate::checkpoint::fleet::FleetRecord;
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
    /// For a fleet's pass (`run_id` is the fleet's id): how many targets, every one passed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub targets: Option<usize>,
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
        let runbook_text = crate::runbook::load::read_text(&scenario.runbook)?;
        let name = match crate::scenario::load_runbook(&scenario, &[]) {
            Ok(rb) => rb.runbook.name,
            Err(e) => {
                let now = Utc::now().to_rfc3339();
                crate::scenario::load_runbook_for(&scenario, &[], &now, Some(&any_target()))
                    .map_err(|_| e)?
                    .runbook
                    .name
            }
        };
        return Ok(Target {
            file: path.display().to_string(),
            name,
            runbook_sha: crate::runbook::load::sha256_hex(runbook_text.as_bytes()),
            scenario: Some((scenario.name.clone(), sha)),
        });
    }
    let name = match crate::runbook::load_str(path, &text, &[]) {
        Ok(rb) => rb.runbook.name,
        Err(e) => {
            crate::runbook::for_target(&text, &any_target())
                .ok()
                .and_then(|t| crate::runbook::load_str(path, &t, &[]).ok())
                .ok_or(e)?
                .runbook
                .name
        }
    };
    Ok(Target {
        file: path.display().to_string(),
        name,
        runbook_sha: crate::runbook::load::sha256_hex(text.as_bytes()),
        scenario: None,
    })
}

/// A target to load a runbook written for fleets only (one that writes `{{ target.region }}`
/// where a Region goes): its name is what `status` needs, whatever the target.
fn any_target() -> crate::runbook::TargetValues {
    crate::runbook::TargetValues {
        account: "000000000000".into(),
        region: "us-east-1".into(),
        name: "any".into(),
        role_arn: "arn:aws:iam::000000000000:role/OrganizationAccountAccessRole".into(),
    }
}

/// A passing drill of a runbook: one run, or a fleet whose every target passed.
struct Pass {
    id: String,
    scenario: String,
    scenario_sha256: String,
    runbook_sha256: String,
    started_at: DateTime<Utc>,
    ended_at: DateTime<Utc>,
    verdict: String,
    recovery_ms: Option<u64>,
    rto_ms: Option<u64>,
    rpo_measured_ms: Option<u64>,
    rpo_ms: Option<u64>,
    targets: Option<usize>,
}

/// The passing drills of runbook `name`: its runs that passed a drill on their own (a fleet's
/// target runs a copy with `{{ target.* }}` written out, judged with its fleet), and its
/// executed drill fleets whose every target passed (the slowest target's times).
fn passes(name: &str, runs: &[RunDigest], fleets: &[FleetRecord]) -> Vec<Pass> {
    let mut out: Vec<Pass> = runs
        .iter()
        .filter(|d| d.runbook == name && d.target.is_none() && d.passed_drill())
        .map(|d| Pass {
            id: d.run_id.clone(),
            scenario: d
                .drill
                .as_ref()
                .map(|x| x.scenario.clone())
                .unwrap_or_default(),
            scenario_sha256: d
                .drill
                .as_ref()
                .map(|x| x.scenario_sha256.clone())
                .unwrap_or_default(),
            runbook_sha256: d.runbook_sha256.clone(),
            started_at: d.started_at,
            ended_at: d.ended_at,
            verdict: d.verdict.as_str().to_string(),
            recovery_ms: d.recovery_ms,
            rto_ms: d.rto_ms,
            rpo_measured_ms: d.rpo_measured_ms,
            rpo_ms: d.rpo_ms,
            targets: None,
        })
        .collect();
    for f in fleets.iter().filter(|f| f.runbook == name) {
        let Some(scenario) = &f.scenario else {
            continue;
        };
        // The record is the executor's word, unsigned: each target's pass must be its run's own
        // (a journal of that fleet's target, judged passed on this scenario), as a single
        // run's pass is.
        let mine: Vec<&RunDigest> = f
            .targets
            .iter()
            .filter_map(|t| {
                runs.iter().find(|d| {
                    Some(&d.run_id) == t.run_id.as_ref()
                        && d.target.as_ref().is_some_and(|x| {
                            x.fleet_id == f.fleet_id
                                && x.account == t.account
                                && x.region == t.region
                        })
                        && d.passed_drill()
                        && d.drill
                            .as_ref()
                            .is_some_and(|x| x.scenario == scenario.name)
                })
            })
            .collect();
        let all_passed = !f.targets.is_empty()
            && f.mode == crate::event::Mode::Execute
            && mine.len() == f.targets.len();
        if !all_passed {
            continue;
        }
        let max = |v: fn(&RunDigest) -> Option<u64>| mine.iter().filter_map(|d| v(d)).max();
        out.push(Pass {
            id: f.fleet_id.clone(),
            scenario: scenario.name.clone(),
            scenario_sha256: scenario.sha256.clone(),
            runbook_sha256: f.runbook_sha256.clone(),
            started_at: f.started_at,
            ended_at: mine
                .iter()
                .map(|d| d.ended_at)
                .max()
                .unwrap_or(f.started_at),
            verdict: "passed".into(),
            recovery_ms: max(|d| d.recovery_ms),
            rto_ms: max(|d| d.rto_ms),
            rpo_measured_ms: max(|d| d.rpo_measured_ms),
            rpo_ms: max(|d| d.rpo_ms),
            targets: Some(f.targets.len()),
        });
    }
    out.sort_by_key(|p| std::cmp::Reverse(p.started_at));
    out
}

fn status_of(
    t: &Target,
    runs: &[RunDigest],
    fleets: &[FleetRecord],
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
    let pass = passes(&t.name, runs, fleets).into_iter().find(|p| {
        t.scenario
            .as_ref()
            .is_none_or(|(name, _)| &p.scenario == name)
    });
    let age = pass
        .as_ref()
        .map(|p| (now - p.ended_at).to_std().unwrap_or_default());
    let changed = pass.as_ref().is_some_and(|p| {
        p.runbook_sha256 != t.runbook_sha
            || t.scenario
                .as_ref()
                .is_some_and(|(_, sha)| &p.scenario_sha256 != sha)
    });
    let state = match (&pass, age, max_age) {
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
            run_id: p.id,
            scenario: p.scenario,
            started_at: p.started_at,
            verdict: p.verdict,
            recovery_ms: p.recovery_ms,
            rto_ms: p.rto_ms,
            rpo_measured_ms: p.rpo_measured_ms,
            rpo_ms: p.rpo_ms,
            targets: p.targets,
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
        let fleets = self.fleets();
        let now = Utc::now();
        Ok(targets
            .iter()
            .map(|t| status_of(t, &runs, &fleets, max_age, now))
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
            target: None,
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
        let s = status_of(&target("old"), &runs, &[], Some(day * 30), now);
        assert_eq!(
            (s.state, s.last_pass.as_ref().unwrap().run_id.as_str()),
            ("ok", "2")
        );
        assert_eq!(s.last_run.unwrap().run_id, "3");
        assert_eq!(
            status_of(&target("old"), &runs, &[], Some(day * 5), now).state,
            "stale"
        );
        assert_eq!(
            status_of(&target("new"), &runs, &[], None, now).state,
            "changed"
        );
        assert_eq!(
            status_of(&target("x"), &runs[..1], &[], None, now).state,
            "never"
        );
    }

    #[test]
    fn a_fleet_whose_every_target_passed_proves_the_file_its_targets_alone_do_not() {
        let now = Utc::now();
        let fleet_id = "fleet-1".to_string();
        // Each target ran the file with `{{ target.* }}` written out: another SHA-256.
        let target_run = |id: &str, account: &str, verdict: &str| {
            let mut d = digest(id, "written-out", Some(verdict), 1);
            d.target = Some(crate::history::TargetDigest {
                fleet_id: fleet_id.clone(),
                account: account.into(),
                region: "eu-west-1".into(),
            });
            d
        };
        let runs = vec![
            target_run("t1", "111111111111", "passed"),
            target_run("t2", "222222222222", "passed"),
            target_run("t3", "333333333333", "failed"),
        ];
        // The record says which runs its targets are, and their verdicts.
        let record = |targets: &[(&str, &str, &str)]| -> FleetRecord {
            serde_json::from_value(serde_json::json!({
                "fleet_id": fleet_id,
                "runbook_path": "/f.yaml",
                "runbook": "failover",
                "runbook_sha256": "file",
                "scenario": {"name": "outage", "path": "/s.yaml", "sha256": "s1"},
                "mode": "execute",
                "vars": [],
                "role_name": "R",
                "max_concurrency": {"Count": 1},
                "max_errors": {"Count": 0},
                "started_at": (now - chrono::Duration::days(1)).to_rfc3339(),
                "targets": targets.iter().map(|(run, account, v)| serde_json::json!({
                    "account": account, "name": "a", "region": "eu-west-1", "run_id": run,
                    "status": if *v == "passed" { "succeeded" } else { "failed" },
                    "verdict": v,
                })).collect::<Vec<_>>(),
            }))
            .unwrap()
        };
        let both = [
            ("t1", "111111111111", "passed"),
            ("t2", "222222222222", "passed"),
        ];
        // A target that failed: the fleet proves nothing, and its passing target alone neither.
        let failed = record(&[both[0], ("t3", "333333333333", "failed")]);
        let s = status_of(&target("file"), &runs, &[failed], None, now);
        assert_eq!(s.state, "never");
        let s = status_of(&target("file"), &runs, &[record(&both)], None, now);
        assert_eq!(s.state, "ok");
        let pass = s.last_pass.unwrap();
        assert_eq!((pass.run_id.as_str(), pass.targets), ("fleet-1", Some(2)));
        assert_eq!(pass.recovery_ms, Some(60_000));
        // A record that says `passed` for a run whose own journal failed (or that has no
        // journal) is not believed.
        let forged = record(&[both[0], ("t3", "333333333333", "passed")]);
        assert_eq!(
            status_of(&target("file"), &runs, &[forged], None, now).state,
            "never"
        );
        let forged = record(&[both[0], ("t9", "333333333333", "passed")]);
        assert_eq!(
            status_of(&target("file"), &runs, &[forged], None, now).state,
            "never"
        );
        // The file changed since: the fleet's pass no longer holds.
        let s = status_of(&target("edited"), &runs, &[record(&both)], None, now);
        assert_eq!(s.state, "changed");
    }
}
