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
pub use crate::checkpoint::fleet::{FleetRecord, FleetScenario, Share, StopAlarm, TargetRecord};
use crate::event::{Event, Mode, RunStatus};
use crate::report::fleet::TargetDetail;
use crate::runbook::TargetValues;
use crate::scenario::Scenario;

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
    /// The alarm that stops the rollout while it is in ALARM.
    pub stop_alarm: Option<StopAlarm>,
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
        let probe = first_target(spec)?;
        let runbook = self.target_runbook(path, &text, vars, &probe)?.runbook.name;
        let mut record = new_record(path, &text, runbook, None, vars, spec, mode);
        self.save_fleet(&record)?;
        let all: Vec<usize> = (0..record.targets.len()).collect();
        self.roll_out(&mut record, &text, None, &all, sinks, narrator)
            .await?;
        Ok(record)
    }

    /// Drills `scenario` in every target of `spec`: each target's damage, faults, recovery
    /// and expectations act in its account (through its role) and Region, each a drill run
    /// with its own verdict.
    pub async fn drill_fleet(
        &self,
        drill: FleetDrill<'_>,
        vars: &[(String, String)],
        spec: &FleetSpec,
        mode: Mode,
        sinks: TargetSinks<'_>,
        narrator: &dyn Narrator,
    ) -> Result<FleetRecord, Failure> {
        self.fleet_store_dir()?;
        let FleetDrill { scenario, root } = drill;
        let path = scenario.runbook.as_path();
        let text = crate::runbook::load::read_text(path).map_err(Failure::from)?;
        let probe = first_target(spec)?;
        let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        let runbook = crate::scenario::load_runbook_for(scenario, vars, &now, Some(&probe))?
            .runbook
            .name;
        let absolute = |p: &Path| {
            std::fs::canonicalize(p)
                .unwrap_or_else(|_| p.to_path_buf())
                .display()
                .to_string()
        };
        let drilled = FleetScenario {
            name: scenario.name.clone(),
            path: absolute(&scenario.path),
            sha256: scenario.sha256.clone(),
            root: root.map(absolute),
        };
        let mut record = new_record(path, &text, runbook, Some(drilled), vars, spec, mode);
        self.save_fleet(&record)?;
        let all: Vec<usize> = (0..record.targets.len()).collect();
        self.roll_out(&mut record, &text, Some(scenario), &all, sinks, narrator)
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
        // A drill fleet's targets drill the scenario as the fleet started it, or none.
        let scenario = match &record.scenario {
            None => None,
            Some(s) => {
                let loaded = crate::scenario::load_scenario_in(
                    Path::new(&s.path),
                    s.root.as_deref().map(Path::new),
                )
                .map_err(|d| {
                    Failure::in_input(
                        d,
                        format!(
                            "fleet {fleet_id} drills {}, which cannot be loaded again",
                            s.path
                        ),
                    )
                })?;
                if loaded.sha256 != s.sha256 {
                    return Err(Failure::invalid(format!(
                        "the scenario {} changed since fleet {fleet_id} started (SHA-256 {}, now {})",
                        s.path, s.sha256, loaded.sha256
                    ))
                    .help(
                        "restore the file as it was, or start a new fleet with `drillbook drill ... --accounts ...`",
                    ));
                }
                Some(loaded)
            }
        };
        record.stopped = None;
        let again: Vec<usize> = (0..record.targets.len())
            .filter(|&i| record.targets[i].status != "succeeded")
            .collect();
        self.roll_out(
            &mut record,
            &text,
            scenario.as_ref(),
            &again,
            sinks,
            narrator,
        )
        .await?;
        Ok(record)
    }

    /// Runs targets `which` of `record`, at most `max_concurrency` at once, until more than
    /// `max_errors` of the fleet's targets failed; saves the record after each target.
    async fn roll_out(
        &self,
        record: &mut FleetRecord,
        text: &str,
        scenario: Option<&Scenario>,
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
        let mut queue = which.iter().copied().peekable();
        let mut running = FuturesUnordered::new();
        let mut stopped = false;
        loop {
            while !stopped && running.len() < concurrency && queue.peek().is_some() {
                if let Some(why) = self.stop_alarm_says_stop(record.stop_alarm.as_ref()).await {
                    stopped = true;
                    record.stopped = Some(why);
                    break;
                }
                let Some(i) = queue.next() else { break };
                let target = record.targets[i].clone();
                let vars = record.vars.clone();
                let path = PathBuf::from(&record.runbook_path);
                let fleet_id = record.fleet_id.clone();
                let role = record.role_name.clone();
                let mode = record.mode;
                let root = record
                    .scenario
                    .as_ref()
                    .and_then(|s| s.root.as_ref())
                    .map(PathBuf::from);
                running.push(async move {
                    let ended = match scenario {
                        None => {
                            self.run_target(
                                &fleet_id, &path, text, &vars, &role, mode, &target, sinks,
                                narrator,
                            )
                            .await
                        }
                        Some(scenario) => {
                            let drill = FleetDrill {
                                scenario,
                                root: root.as_deref(),
                            };
                            self.drill_target(
                                &fleet_id, drill, &vars, &role, mode, &target, sinks, narrator,
                            )
                            .await
                        }
                    };
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

    /// Why no new target may start, when the stop alarm says so: it is in ALARM, or its state
    /// cannot be read (Systems Manager API reference, "AlarmConfiguration": the rollout goes on
    /// in OK or INSUFFICIENT_DATA; `IgnorePollAlarmFailure` defaults to false, so a state that
    /// cannot be read stops it too).
    async fn stop_alarm_says_stop(&self, alarm: Option<&StopAlarm>) -> Option<String> {
        let alarm = alarm?;
        let aws = self.aws(vec![]).await;
        let stop = |what: String| format!("{what}: no new target started");
        match crate::actions::cloudwatch::alarm_state(&aws, &alarm.region, &alarm.name).await {
            Ok(Some(state)) if state == "ALARM" => Some(stop(format!(
                "stop alarm `{}` ({}) is in ALARM",
                alarm.name, alarm.region
            ))),
            Ok(Some(_)) => None,
            Ok(None) => Some(stop(format!(
                "stop alarm `{}` no longer exists in {}",
                alarm.name, alarm.region
            ))),
            Err(e) => Some(stop(format!(
                "the state of stop alarm `{}` ({}) cannot be read ({e})",
                alarm.name, alarm.region
            ))),
        }
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

    /// One target of a drill fleet: the scenario drilled in its account (through its role)
    /// and Region, a drill run of its own. A paused drill (an approval, Ctrl-C) goes on where
    /// it stopped; a failed one is drilled again from its damage, as a new drill run, since
    /// its verdict is the whole drill's.
    #[expect(
        clippy::too_many_arguments,
        reason = "the target's whole context, passed once from the rollout"
    )]
    async fn drill_target(
        &self,
        fleet_id: &str,
        drill: FleetDrill<'_>,
        vars: &[(String, String)],
        role_name: &str,
        mode: Mode,
        t: &TargetRecord,
        sinks: TargetSinks<'_>,
        narrator: &dyn Narrator,
    ) -> Result<Ending, Failure> {
        let mut session = self.child();
        session.lock_scope = Some(format!("{}/{}", t.account, t.region));
        let values = target_values(&t.account, &t.name, &t.region, role_name);
        session.target_role = Some(super::session::TargetRole {
            arn: values.role_arn.clone(),
            region: t.region.clone(),
            fleet_id: fleet_id.to_string(),
        });
        if let (Some(run_id), "paused") = (&t.run_id, t.status.as_str()) {
            let with = crate::engine::ResumeWith::default();
            return session.resume(run_id, &with, sinks(t), narrator).await;
        }
        super::drill::check_state_region(&session.settings, drill.scenario)?;
        let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        let loaded = crate::scenario::load_runbook_for(drill.scenario, vars, &now, Some(&values))?;
        let start = super::DrillStart {
            scenario: drill.scenario,
            root: drill.root,
            cli_vars: vars,
            target: Some(&values),
        };
        session.drill(start, loaded, mode, sinks(t), narrator).await
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
    /// Where fleet records are kept: `<state-dir>/fleets`, whichever store the targets' runs
    /// are in (with `--state dynamodb://...` each target's journal and lock are in the table;
    /// the fleet's record, reports and manifest stay on the machine that ran it).
    fn fleet_store_dir(&self) -> Result<PathBuf, Failure> {
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

    /// The fleet's report files and its manifest: the SHA-256 of `fleet.json`, of each report
    /// file, and of each target's own evidence manifest.
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
        let details: Vec<TargetDetail> = record
            .targets
            .iter()
            .map(|t| target_detail(&dir, t))
            .collect();
        use crate::report::fleet as report;
        let reports = [
            ("fleet.txt", report::text(record)),
            ("junit.xml", report::junit(record, &details)),
            (FLEET_REPORT_JSON, report::json(record, &details)),
            (FLEET_REPORT_HTML, report::html(record, &details)),
        ];
        for (name, text) in &reports {
            std::fs::write(dir.join(name), text).map_err(io)?;
        }
        let sha = |name: &str| -> Result<String, Failure> {
            let bytes = std::fs::read(dir.join(name)).map_err(io)?;
            Ok(hex::encode(sha2::Sha256::digest(&bytes)))
        };
        let mut files = serde_json::Map::new();
        for name in std::iter::once(FLEET_RECORD).chain(reports.iter().map(|(n, _)| *n)) {
            files.insert(name.to_string(), sha(name)?.into());
        }
        let manifest = serde_json::json!({
            "kind": FLEET_MANIFEST_KIND,
            "fleet_id": record.fleet_id,
            FLEET_RECORD: files[FLEET_RECORD],
            "files": files,
            "targets": record.targets.iter().map(|t| serde_json::json!({
                "account": t.account,
                "region": t.region,
                "run_id": t.run_id,
                "report_dir": t.report_dir,
                "manifest_sha256": t.manifest_sha256,
            })).collect::<Vec<_>>(),
        });
        std::fs::write(
            dir.join(crate::evidence::MANIFEST_FILE),
            serde_json::to_vec_pretty(&manifest).unwrap_or_default(),
        )
        .map_err(io)
    }

    /// The directory of fleet `fleet_id` in this session's store.
    pub fn fleet_path(&self, fleet_id: &str) -> Result<PathBuf, Failure> {
        self.fleet_dir(fleet_id)
    }

    /// A session for one target: the same settings and AWS configuration, its own handle and
    /// lock.
    fn child(&self) -> Session {
        let mut s = Session::new(self.settings.clone());
        s.share_config(self);
        s
    }
}

/// The fleet's record in its directory.
pub const FLEET_RECORD: &str = "fleet.json";
/// The fleet report for programs (`report::fleet::json`).
pub const FLEET_REPORT_JSON: &str = "report.json";
/// The fleet report for people (`report::fleet::html`).
pub const FLEET_REPORT_HTML: &str = "report.html";
/// `kind` of a fleet's `manifest.json` (a run's evidence manifest has its own).
pub const FLEET_MANIFEST_KIND: &str = "drillbook-fleet-manifest";

/// What a target's own report says, with the path from the fleet's directory to its page.
fn target_detail(fleet_dir: &Path, t: &TargetRecord) -> TargetDetail {
    let Some(dir) = t.report_dir.as_deref().map(Path::new) else {
        return TargetDetail::default();
    };
    let doc: serde_json::Value = std::fs::read(dir.join("report.json"))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default();
    let page = dir.join("report.html");
    let link = relative(fleet_dir, &page).unwrap_or_else(|| page.display().to_string());
    TargetDetail::from_report(&doc, Some(link))
}

/// `to` written relative to directory `from` (both absolute after symlinks), when they share
/// a root.
fn relative(from: &Path, to: &Path) -> Option<String> {
    let from = std::fs::canonicalize(from).ok()?;
    let to = std::fs::canonicalize(to).ok()?;
    let (f, t): (Vec<_>, Vec<_>) = (from.components().collect(), to.components().collect());
    let common = f.iter().zip(&t).take_while(|(a, b)| a == b).count();
    if common <= 1 {
        return None;
    }
    let mut parts: Vec<String> = vec!["..".into(); f.len() - common];
    parts.extend(
        t[common..]
            .iter()
            .map(|c| c.as_os_str().to_string_lossy().into_owned()),
    );
    Some(parts.join("/"))
}

/// Whether `dir` holds a fleet's record and manifest.
pub fn is_fleet_dir(dir: &Path) -> bool {
    dir.join(FLEET_RECORD).is_file() && dir.join(crate::evidence::MANIFEST_FILE).is_file()
}

/// A fleet verified as a whole (see [`verify_fleet`]).
#[derive(Debug)]
pub struct FleetVerification {
    pub fleet_id: String,
    /// What changed in the fleet's own files (the record, its reports), each naming the file.
    pub problems: Vec<String>,
    pub targets: Vec<TargetVerification>,
}

impl FleetVerification {
    /// Nothing changed anywhere.
    pub fn intact(&self) -> bool {
        self.problems.is_empty()
            && self
                .targets
                .iter()
                .all(|t| t.problems.is_empty() && t.evidence.as_ref().is_none_or(|r| r.intact()))
    }
}

/// One target's evidence, against the fleet's manifest and on its own.
#[derive(Debug)]
pub struct TargetVerification {
    pub account: String,
    pub region: String,
    pub run_id: Option<String>,
    /// Its evidence directory, as the fleet sealed it.
    pub dir: Option<String>,
    /// What does not match the fleet's manifest (its manifest's SHA-256, a missing directory).
    pub problems: Vec<String>,
    /// Its own evidence verified (hashes, journal chain, signature), when it has any.
    pub evidence: Option<crate::evidence::VerifyReport>,
}

/// Verifies the fleet in `dir` as a whole: each file its `manifest.json` seals (`fleet.json`
/// and the reports) against its SHA-256; each target's evidence manifest against the SHA-256
/// the fleet sealed, and the target's evidence verified on its own (`options`: the keys it may
/// be signed with). A target never started has no evidence and is not a problem.
pub fn verify_fleet(
    dir: &Path,
    options: &crate::evidence::VerifyOptions,
) -> Result<FleetVerification, Failure> {
    let manifest_file = dir.join(crate::evidence::MANIFEST_FILE);
    let manifest: serde_json::Value = std::fs::read(&manifest_file)
        .map_err(|e| Failure::invalid(format!("{}: {e}", manifest_file.display())))
        .and_then(|b| {
            serde_json::from_slice(&b).map_err(|e| {
                Failure::failed(format!(
                    "{} is not a fleet manifest: {e}",
                    manifest_file.display()
                ))
            })
        })?;
    let mut problems = vec![];
    // Manifests written before the reports were sealed name `fleet.json` only.
    let files: Vec<(String, String)> = match manifest["files"].as_object() {
        Some(files) => files
            .iter()
            .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
            .collect(),
        None => vec![(
            FLEET_RECORD.to_string(),
            manifest[FLEET_RECORD]
                .as_str()
                .unwrap_or_default()
                .to_string(),
        )],
    };
    for (name, sealed) in &files {
        if name.contains('/') || name.contains("..") {
            problems.push(format!(
                "the manifest names `{name}`, outside the fleet's directory"
            ));
            continue;
        }
        match std::fs::read(dir.join(name)) {
            Ok(bytes) => {
                let now = hex::encode(sha2::Sha256::digest(&bytes));
                if &now != sealed {
                    problems.push(format!(
                        "{name} changed since the fleet was sealed (SHA-256 {now}, sealed {sealed})"
                    ));
                }
            }
            Err(e) => problems.push(format!("{name} cannot be read: {e}")),
        }
    }
    let mut targets = vec![];
    for t in manifest["targets"].as_array().into_iter().flatten() {
        let text = |k: &str| t[k].as_str().map(str::to_string);
        let mut v = TargetVerification {
            account: text("account").unwrap_or_default(),
            region: text("region").unwrap_or_default(),
            run_id: text("run_id"),
            dir: text("report_dir"),
            problems: vec![],
            evidence: None,
        };
        if let Some(d) = v.dir.clone() {
            let d = Path::new(&d);
            let sealed = text("manifest_sha256").unwrap_or_default();
            match std::fs::read(d.join(crate::evidence::MANIFEST_FILE)) {
                Ok(bytes) => {
                    let now = hex::encode(sha2::Sha256::digest(&bytes));
                    if now != sealed {
                        v.problems.push(format!(
                            "{} changed since the fleet sealed it (SHA-256 {now}, sealed {sealed})",
                            d.join(crate::evidence::MANIFEST_FILE).display()
                        ));
                    }
                }
                Err(e) => v.problems.push(format!(
                    "its evidence manifest {} cannot be read: {e}",
                    d.join(crate::evidence::MANIFEST_FILE).display()
                )),
            }
            match crate::evidence::verify_with(d, options) {
                Ok(r) => v.evidence = Some(r),
                Err(e) => v.problems.push(format!("{}: {e}", d.display())),
            }
        }
        targets.push(v);
    }
    Ok(FleetVerification {
        fleet_id: manifest["fleet_id"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
        problems,
        targets,
    })
}

/// What a drill fleet drills: the scenario, and `--root` (the directory its runbook must
/// resolve inside).
#[derive(Clone, Copy)]
pub struct FleetDrill<'a> {
    pub scenario: &'a Scenario,
    pub root: Option<&'a Path>,
}

/// The first target's values, to load the runbook with before any target runs.
fn first_target(spec: &FleetSpec) -> Result<TargetValues, Failure> {
    let (a, r) = spec
        .accounts
        .first()
        .zip(spec.regions.first())
        .ok_or_else(|| Failure::invalid("a fleet needs at least one account and one Region"))?;
    Ok(target_values(&a.id, &a.name, r, &spec.role_name))
}

/// A new fleet's record: every target (account x Region) `not started`.
fn new_record(
    path: &Path,
    text: &str,
    runbook: String,
    scenario: Option<FleetScenario>,
    vars: &[(String, String)],
    spec: &FleetSpec,
    mode: Mode,
) -> FleetRecord {
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
    FleetRecord {
        fleet_id: format!("fleet-{}", crate::checkpoint::new_run_id()),
        runbook_path: std::fs::canonicalize(path)
            .unwrap_or_else(|_| path.to_path_buf())
            .display()
            .to_string(),
        runbook,
        runbook_sha256: crate::runbook::load::sha256_hex(text.as_bytes()),
        scenario,
        mode,
        vars: vars.to_vec(),
        role_name: spec.role_name.clone(),
        max_concurrency: spec.max_concurrency,
        max_errors: spec.max_errors,
        started_at: chrono::Utc::now(),
        targets,
        stopped: None,
        stop_alarm: spec.stop_alarm.clone(),
        skipped: spec.skipped.clone(),
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

    #[test]
    fn a_targets_report_is_linked_relative_to_the_fleet() {
        let root = tempfile::tempdir().unwrap();
        let fleet = root.path().join("fleets/fleet-1");
        let page = root.path().join("reports/run-1/report.html");
        std::fs::create_dir_all(&fleet).unwrap();
        std::fs::create_dir_all(page.parent().unwrap()).unwrap();
        std::fs::write(&page, "").unwrap();
        assert_eq!(
            super::relative(&fleet, &page).as_deref(),
            Some("../../reports/run-1/report.html")
        );
    }
}
