//! A runbook across targets (accounts x Regions) in one command: each target is a run of its
//! own (its journal, its lock keyed by runbook, account and Region, its sealed evidence), and
//! the fleet is one record that lists them. The rollout follows what AWS Systems Manager
//! Automation does with `TargetLocations` (API reference, "TargetLocation" and
//! "StartAutomationExecution"): at most `max_concurrency` targets run at once (`10` or `10%`);
//! once more than `max_errors` targets failed (`3`: the fourth failure; `10%` of 50: the
//! sixth), no new target starts and the running ones finish.
//!
//! The record lives in the file store, `<state-dir>/fleets/<fleet-id>/` (`fleet.json`, the
//! fleet report `fleet.txt`, `junit.xml`, and `manifest.json`, which seals each target's own
//! evidence manifest by its SHA-256): an auditor of one account needs only that account's run.

use std::path::{Path, PathBuf};

use futures::StreamExt as _;
use futures::stream::FuturesUnordered;
use serde::{Deserialize, Serialize};
use sha2::Digest as _;

use super::lifecycle::{Ending, Narrator, SinkFor};
use super::{ExitCode, Failure, Session};
pub use crate::checkpoint::fleet::{FleetRecord, Share, TargetRecord};
use crate::event::{Event, Mode, RunStatus};
use crate::runbook::TargetValues;

/// The role a target's steps assume unless `--role-name` says otherwise: the one AWS
/// Organizations creates in an account it creates ("Accessing member accounts in your
/// organization", AWS Organizations User Guide).
pub const DEFAULT_ROLE_NAME: &str = "OrganizationAccountAccessRole";

/// One account the fleet covers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    pub id: String,
    /// Its name (the id when none is known).
    pub name: String,
}

/// What to run across: accounts x Regions, the role, the rollout's limits.
#[derive(Debug, Clone)]
pub struct FleetSpec {
    pub accounts: Vec<Account>,
    pub regions: Vec<String>,
    pub role_name: String,
    pub max_concurrency: Share,
    pub max_errors: Share,
    /// Accounts of its OUs that are not run (suspended or closed), listed in the record.
    pub skipped: Vec<crate::checkpoint::fleet::Skipped>,
}

/// The fleet's exit code: 0 when every target succeeded, 3 when some are paused and none
/// failed, else 1.
pub fn exit_code(record: &FleetRecord) -> ExitCode {
    match record.counts() {
        (_, 0, 0, 0) => ExitCode::Success,
        (_, 0, _, 0) => ExitCode::Paused,
        _ => ExitCode::Failed,
    }
}

/// Whether a run id names a fleet.
pub fn is_fleet_id(id: &str) -> bool {
    id.starts_with("fleet-")
}

/// Each target's event sink, given its account and Region and the approval hint.
pub type TargetSinks<'a> = &'a (dyn Fn(&TargetRecord) -> SinkFor<'static> + Sync);

impl Session {
    /// Runs the runbook at `path` on every target of `spec`.
    pub async fn run_fleet(
        &self,
        path: &Path,
        vars: &[(String, String)],
        spec: &FleetSpec,
        mode: Mode,
        sinks: TargetSinks<'_>,
        narrator: &dyn Narrator,
    ) -> Result<FleetRecord, Failure> {
        self.fleet_store_dir()?;
        let text = crate::runbook::load::read_text(path).map_err(Failure::from)?;
        // The runbook must load for a target before any target runs.
        let first = spec
            .accounts
            .first()
            .zip(spec.regions.first())
            .ok_or_else(|| Failure::invalid("a fleet needs at least one account and one Region"))?;
        let probe = target_values(&first.0.id, &first.0.name, first.1, &spec.role_name);
        let runbook = self.target_runbook(path, &text, vars, &probe)?.runbook.name;
        let mut targets = vec![];
        for a in &spec.accounts {
            for r in &spec.regions {
                targets.push(TargetRecord {
                    account: a.id.clone(),
                    name: a.name.clone(),
                    region: r.clone(),
                    run_id: None,
                    status: "not started".into(),
                    verdict: None,
                    recovery_ms: None,
                    report_dir: None,
                    manifest_sha256: None,
                    reason: None,
                });
            }
        }
        let mut record = FleetRecord {
            fleet_id: format!("fleet-{}", crate::checkpoint::new_run_id()),
            runbook_path: std::fs::canonicalize(path)
                .unwrap_or_else(|_| path.to_path_buf())
                .display()
                .to_string(),
            runbook,
            runbook_sha256: crate::runbook::load::sha256_hex(text.as_bytes()),
            mode,
            vars: vars.to_vec(),
            role_name: spec.role_name.clone(),
            max_concurrency: spec.max_concurrency,
            max_errors: spec.max_errors,
            started_at: chrono::Utc::now(),
            targets,
            stopped: None,
            skipped: spec.skipped.clone(),
        };
        self.save_fleet(&record)?;
        let all: Vec<usize> = (0..record.targets.len()).collect();
        self.roll_out(&mut record, &text, &all, sinks, narrator)
            .await?;
        Ok(record)
    }

    /// Runs again every target of fleet `fleet_id` that did not succeed: a paused or failed
    /// execute run is resumed, a failed dry run or a target never started is run; nothing else.
    pub async fn resume_fleet(
        &self,
        fleet_id: &str,
        sinks: TargetSinks<'_>,
        narrator: &dyn Narrator,
    ) -> Result<FleetRecord, Failure> {
        let mut record = self.load_fleet(fleet_id)?;
        let text =
            crate::runbook::load::read_text(Path::new(&record.runbook_path)).map_err(|d| {
                Failure::from(d).context(&format!(
                    "fleet {fleet_id} runs {}, which cannot be read again",
                    record.runbook_path
                ))
            })?;
        // The targets not started yet run the file as the fleet started it, or not at all.
        let now = crate::runbook::load::sha256_hex(text.as_bytes());
        if !record.runbook_sha256.is_empty() && now != record.runbook_sha256 {
            return Err(Failure::invalid(format!(
                "the runbook {} changed since fleet {fleet_id} started (SHA-256 {}, now {now})",
                record.runbook_path, record.runbook_sha256
            ))
            .help(
                "restore the file as it was, or start a new fleet with `drillbook run ... --accounts ...`",
            ));
        }
        record.stopped = None;
        let again: Vec<usize> = (0..record.targets.len())
            .filter(|&i| record.targets[i].status != "succeeded")
            .collect();
        self.roll_out(&mut record, &text, &again, sinks, narrator)
            .await?;
        Ok(record)
    }

    /// Runs targets `which` of `record`, at most `max_concurrency` at once, until more than
    /// `max_errors` of the fleet's targets failed; saves the record after each target.
    async fn roll_out(
        &self,
        record: &mut FleetRecord,
        text: &str,
        which: &[usize],
        sinks: TargetSinks<'_>,
        narrator: &dyn Narrator,
    ) -> Result<(), Failure> {
        let n = record.targets.len();
        let concurrency = record.max_concurrency.of(n).max(1);
        let max_errors = record.max_errors.of(n);
        let mut failures = record
            .targets
            .iter()
            .enumerate()
            .filter(|(i, t)| t.status == "failed" && !which.contains(i))
            .count();
        let mut queue = which.iter().copied();
        let mut running = FuturesUnordered::new();
        let mut stopped = false;
        loop {
            while !stopped && running.len() < concurrency {
                let Some(i) = queue.next() else { break };
                let target = record.targets[i].clone();
                let vars = record.vars.clone();
                let path = PathBuf::from(&record.runbook_path);
                let fleet_id = record.fleet_id.clone();
                let role = record.role_name.clone();
                let mode = record.mode;
                running.push(async move {
                    let ended = self
                        .run_target(
                            &fleet_id, &path, text, &vars, &role, mode, &target, sinks, narrator,
                        )
                        .await;
                    (i, ended)
                });
            }
            let Some((i, ended)) = running.next().await else {
                break;
            };
            let t = &mut record.targets[i];
            match ended {
                Ok(ending) => fill(t, &ending),
                Err(f) => {
                    t.status = "failed".into();
                    t.reason = Some(f.to_string());
                }
            }
            if t.status == "failed" {
                failures += 1;
                if failures > max_errors && !stopped {
                    stopped = true;
                    record.stopped = Some(format!(
                        "{failures} target(s) failed, more than max_errors {}: no new target started",
                        max_errors
                    ));
                }
            }
            self.save_fleet(record)?;
        }
        self.seal_fleet(record)
    }

    /// One target: its runbook written out for it, run (or resumed) as a run of its own.
    #[expect(
        clippy::too_many_arguments,
        reason = "the target's whole context, passed once from the rollout"
    )]
    async fn run_target(
        &self,
        fleet_id: &str,
        path: &Path,
        text: &str,
        vars: &[(String, String)],
        role_name: &str,
        mode: Mode,
        t: &TargetRecord,
        sinks: TargetSinks<'_>,
        narrator: &dyn Narrator,
    ) -> Result<Ending, Failure> {
        let mut session = self.child();
        session.lock_scope = Some(format!("{}/{}", t.account, t.region));
        // A paused or failed execute run goes on where it stopped.
        if let (Some(run_id), Mode::Execute, "paused" | "failed") =
            (&t.run_id, mode, t.status.as_str())
        {
            let with = crate::engine::ResumeWith::default();
            return session.resume(run_id, &with, sinks(t), narrator).await;
        }
        let values = target_values(&t.account, &t.name, &t.region, role_name);
        let loaded = self.target_runbook(path, text, vars, &values)?;
        let preamble = vec![Event::FleetTarget {
            fleet_id: fleet_id.to_string(),
            account: t.account.clone(),
            region: t.region.clone(),
            name: t.name.clone(),
        }];
        session
            .run_with(&loaded, mode, sinks(t), narrator, preamble)
            .await
    }

    /// The runbook as one target runs it.
    fn target_runbook(
        &self,
        path: &Path,
        text: &str,
        vars: &[(String, String)],
        values: &TargetValues,
    ) -> Result<crate::runbook::Loaded, Failure> {
        let text = crate::runbook::for_target(text, values)
            .map_err(|e| Failure::invalid(format!("{}: {e}", path.display())))?;
        Ok(crate::runbook::load_str(path, &text, vars)?)
    }

    /// `<state-dir>/fleets/`, refused with DynamoDB state (fleets are kept in the file store).
    fn fleet_store_dir(&self) -> Result<PathBuf, Failure> {
        if self.settings.state.url.is_some() {
            return Err(Failure::invalid(
                "fleets are kept in the file store for now: run across targets without --state",
            ));
        }
        Ok(self.settings.state.dir.join("fleets"))
    }

    fn fleet_dir(&self, fleet_id: &str) -> Result<PathBuf, Failure> {
        Ok(self.fleet_store_dir()?.join(fleet_id))
    }

    /// Every fleet of the store, newest first.
    pub fn fleets(&self) -> Vec<FleetRecord> {
        let Ok(dir) = self.fleet_store_dir() else {
            return vec![];
        };
        let mut out: Vec<FleetRecord> = std::fs::read_dir(dir)
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| std::fs::read(e.path().join("fleet.json")).ok())
            .filter_map(|b| serde_json::from_slice(&b).ok())
            .collect();
        out.sort_by_key(|r: &FleetRecord| std::cmp::Reverse(r.started_at));
        out
    }

    /// Fleet `fleet_id`'s record.
    pub fn load_fleet(&self, fleet_id: &str) -> Result<FleetRecord, Failure> {
        let file = self.fleet_dir(fleet_id)?.join("fleet.json");
        let bytes = std::fs::read(&file).map_err(|e| {
            Failure::invalid(format!("no fleet {fleet_id} in {}: {e}", file.display()))
                .help("list the fleets with `drillbook runs`")
        })?;
        serde_json::from_slice(&bytes)
            .map_err(|e| Failure::failed(format!("{} does not read: {e}", file.display())))
    }

    fn save_fleet(&self, record: &FleetRecord) -> Result<(), Failure> {
        let dir = self.fleet_dir(&record.fleet_id)?;
        let io = |e: std::io::Error| {
            Failure::failed(format!(
                "cannot write the fleet record in {}: {e}",
                dir.display()
            ))
        };
        std::fs::create_dir_all(&dir).map_err(io)?;
        let json = serde_json::to_vec_pretty(record).unwrap_or_default();
        let tmp = dir.join("fleet.json.tmp");
        std::fs::write(&tmp, json).map_err(io)?;
        std::fs::rename(&tmp, dir.join("fleet.json")).map_err(io)
    }

    /// The fleet's report files and its manifest: the SHA-256 of `fleet.json` and of each
    /// target's own evidence manifest.
    fn seal_fleet(&self, record: &mut FleetRecord) -> Result<(), Failure> {
        for t in &mut record.targets {
            t.manifest_sha256 = t.report_dir.as_ref().and_then(|d| {
                let bytes =
                    std::fs::read(Path::new(d).join(crate::evidence::MANIFEST_FILE)).ok()?;
                Some(hex::encode(sha2::Sha256::digest(&bytes)))
            });
        }
        self.save_fleet(record)?;
        let dir = self.fleet_dir(&record.fleet_id)?;
        let io = |e: std::io::Error| {
            Failure::failed(format!(
                "cannot write the fleet report in {}: {e}",
                dir.display()
            ))
        };
        std::fs::write(dir.join("fleet.txt"), crate::report::fleet::text(record)).map_err(io)?;
        std::fs::write(dir.join("junit.xml"), crate::report::fleet::junit(record)).map_err(io)?;
        let fleet_json = std::fs::read(dir.join("fleet.json")).map_err(io)?;
        let manifest = serde_json::json!({
            "fleet_id": record.fleet_id,
            "fleet.json": hex::encode(sha2::Sha256::digest(&fleet_json)),
            "targets": record.targets.iter().map(|t| serde_json::json!({
                "account": t.account,
                "region": t.region,
                "run_id": t.run_id,
                "manifest_sha256": t.manifest_sha256,
            })).collect::<Vec<_>>(),
        });
        std::fs::write(
            dir.join("manifest.json"),
            serde_json::to_vec_pretty(&manifest).unwrap_or_default(),
        )
        .map_err(io)
    }

    /// A session for one target: the same settings and AWS configuration, its own handle and
    /// lock.
    fn child(&self) -> Session {
        let mut s = Session::new(self.settings.clone());
        s.share_config(self);
        s
    }
}

/// A target's `{{ target.* }}` values.
fn target_values(account: &str, name: &str, region: &str, role_name: &str) -> TargetValues {
    TargetValues {
        account: account.to_string(),
        region: region.to_string(),
        name: name.to_string(),
        role_arn: format!("arn:aws:iam::{account}:role/{role_name}"),
    }
}

/// A target's record from how its run ended.
fn fill(t: &mut TargetRecord, ending: &Ending) {
    t.run_id = Some(ending.res.run_id.clone());
    t.status = match (ending.store_lost.is_some(), ending.res.status) {
        (true, _) | (_, RunStatus::Paused | RunStatus::Running) => "paused",
        (_, RunStatus::Succeeded) if ending.code == ExitCode::Success => "succeeded",
        _ => "failed",
    }
    .into();
    t.reason = ending
        .res
        .failed
        .first()
        .map(|(step, e)| format!("step `{step}` failed: {e}"));
    if let Some(Ok(r)) = &ending.reported {
        t.verdict = Some(r.view.verdict.as_str().to_string());
        t.recovery_ms = r.view.times.recovery_ms;
        t.report_dir = Some(r.dir.display().to_string());
    }
}

#[cfg(test)]
mod tests {
    use crate::checkpoint::fleet::Share;

    #[test]
    fn shares_follow_systems_manager() {
        assert_eq!(Share::parse("3", "--max-errors").unwrap().of(50), 3);
        // "If you run an automation on 50 resources and set max-errors to 10%, then the system
        // stops ... when the sixth error is received": 5 errors are allowed.
        assert_eq!(Share::parse("10%", "--max-errors").unwrap().of(50), 5);
        assert_eq!(Share::parse("0", "--max-errors").unwrap().of(7), 0);
        assert!(Share::parse("101%", "--max-errors").is_err());
        assert!(Share::parse("x", "--max-concurrency").is_err());
    }
}
