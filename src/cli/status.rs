//! `drillbook status` and `drillbook history`: readiness over all runs.

use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, Utc};
use clap::{Args, ValueEnum};
use serde::Serialize;

use super::ExitCode;
use crate::app::Failure;
use crate::duration::{format_duration, parse_duration};
use crate::history::RunDigest;
use crate::report::sanitize;

impl super::StoreArgs {
    /// Every run's digest, newest first (see [`crate::app::store::digests`]).
    pub(super) async fn digests(&self) -> Result<Vec<RunDigest>, Failure> {
        crate::app::store::digests(&self.state, &self.state_dir, &self.aws.profile).await
    }
}

#[derive(Debug, Clone, Copy, Default, ValueEnum, PartialEq, Eq)]
pub enum StatusFormat {
    #[default]
    Text,
    Json,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Runbook or scenario files (a scenario stands for its runbook, and must itself be the one
    /// that passed).
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// Exit 1 when a runbook has no passing drill this recent, or changed since it passed
    /// (`90d`, `12h`, ...).
    #[arg(long, value_name = "AGE")]
    pub max_age: Option<String>,
    /// Output format: a table for people, or JSON for tools.
    #[arg(long, value_enum, default_value = "text")]
    pub format: StatusFormat,
    #[command(flatten)]
    pub source: super::StoreArgs,
}

pub(super) const STATUS_HELP: &str = "\
Examples:
  drillbook status runbooks/*.yaml
  drillbook status scenarios/ca-central-1-outage.yaml --max-age 90d     # in a scheduled CI job
  drillbook status runbooks/region-failover.yaml --format json --state 'dynamodb://drillbook-state?region=eu-west-1'

STATE is OK (a passing drill of this exact runbook within --max-age), CHANGED (the file
differs from the one that passed), STALE (the last pass is older than --max-age) or NEVER (no
drill of it passed). A runbook is proven by a scenario that names it (`runbook:`) run with
`drillbook drill SCENARIO --execute` until it passes; a dry run proves nothing. RTO and RPO are
in seconds (achieved/objective), AGE in days since the last pass.
Exit codes: 0 all OK, 1 some runbook is not (with --max-age), 2 bad input.";

/// One runbook's line.
#[derive(Debug, Serialize)]
struct Status {
    file: String,
    runbook: String,
    sha256: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    scenario: Option<String>,
    last_run: Option<RunRef>,
    last_pass: Option<PassRef>,
    /// `ok`, `changed`, `stale` or `never`.
    state: &'static str,
    /// Days since the last pass.
    #[serde(skip_serializing_if = "Option::is_none")]
    age_days: Option<f64>,
}

#[derive(Debug, Serialize)]
struct RunRef {
    run_id: String,
    started_at: DateTime<Utc>,
    mode: crate::event::Mode,
    status: crate::event::RunStatus,
    /// The run's verdict, as its report gives it (a dry run's is `dry-run`).
    verdict: &'static str,
}

#[derive(Debug, Serialize)]
struct PassRef {
    run_id: String,
    scenario: String,
    started_at: DateTime<Utc>,
    verdict: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    recovery_ms: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    rto_ms: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    rpo_measured_ms: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    rpo_ms: Option<u64>,
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

fn d(ms: u64) -> String {
    format_duration(Duration::from_millis(ms))
}

/// A duration of `status`'s RTO and RPO columns: in seconds, whatever its size, so that a
/// measured time and its objective read in one unit (`90s/900s`, `0.2s/300s`).
fn secs(ms: u64) -> String {
    if ms.is_multiple_of(1000) {
        return format!("{}s", ms / 1000);
    }
    let s = format!("{:.1}", ms as f64 / 1000.0);
    // Never a measured time shown as `0.0s`.
    if s == "0.0" {
        format!("{:.3}s", ms as f64 / 1000.0)
    } else {
        format!("{s}s")
    }
}

/// `measured/objective` in seconds (see [`secs`]).
fn against_secs(measured: Option<u64>, objective: Option<u64>) -> String {
    match (measured, objective) {
        (Some(m), Some(o)) => format!("{}/{}", secs(m), secs(o)),
        (Some(m), None) => secs(m),
        (None, Some(o)) => format!("-/{}", secs(o)),
        (None, None) => "-".into(),
    }
}

/// How a runbook becomes proven, for a row that is not: a scenario drives it, and a passing
/// `drill --execute` of that scenario is the proof (a dry run proves nothing).
fn how_to_prove(r: &Status) -> String {
    let file = crate::app::shell_quote(&r.file);
    match &r.scenario {
        Some(_) => format!("run `drillbook drill {file} --execute` and let it pass"),
        None => format!(
            "a runbook is proven by a passing drill: write a scenario that names it \
             (`runbook: {file}`, with `impair:` and `expect:`), then run \
             `drillbook drill SCENARIO --execute`"
        ),
    }
}

fn against(measured: Option<u64>, objective: Option<u64>) -> String {
    match (measured, objective) {
        (Some(m), Some(o)) => format!("{}/{}", d(m), d(o)),
        (Some(m), None) => d(m),
        (None, Some(o)) => format!("-/{}", d(o)),
        (None, None) => "-".into(),
    }
}

pub(super) fn status(args: StatusArgs) -> Result<ExitCode, Failure> {
    let max_age = args
        .max_age
        .as_deref()
        .map(parse_duration)
        .transpose()
        .map_err(|e| {
            Failure::invalid(format!("--max-age: {e}")).help("write it like `--max-age 90d`")
        })?;
    let targets = args
        .files
        .iter()
        .map(|f| target(f))
        .collect::<Result<Vec<_>, _>>()?;
    let runs = super::runtime()?
        .block_on(args.source.digests())
        .map_err(|e| e.context("cannot read past runs"))?;
    let now = Utc::now();
    let rows: Vec<Status> = targets
        .iter()
        .map(|t| status_of(t, &runs, max_age, now))
        .collect();
    match args.format {
        StatusFormat::Json => {
            let doc = serde_json::json!({ "format_version": 1, "max_age": args.max_age, "runbooks": rows });
            let text = serde_json::to_string_pretty(&doc).unwrap_or_default();
            println!("{}", sanitize::json(&text));
        }
        StatusFormat::Text => {
            let fw = rows
                .iter()
                .map(|r| r.file.chars().count())
                .max()
                .unwrap_or(0)
                .max(4);
            outln!(
                "{:<fw$} {:<28} {:<12} {:<9} {:<32} {:<34} {:<16} {:<16} AGE",
                "FILE",
                "RUNBOOK",
                "SHA256",
                "STATE",
                "LAST EXECUTED RUN",
                "LAST PASSING DRILL",
                "RTO",
                "RPO"
            );
            for r in &rows {
                let last = r
                    .last_run
                    .as_ref()
                    .map(|l| format!("{} {}", l.run_id, l.status))
                    .unwrap_or_else(|| "-".into());
                let pass = r
                    .last_pass
                    .as_ref()
                    .map(|p| format!("{} {}", p.started_at.format("%Y-%m-%d"), p.scenario))
                    .unwrap_or_else(|| "-".into());
                let rto = r
                    .last_pass
                    .as_ref()
                    .map(|p| against_secs(p.recovery_ms, p.rto_ms))
                    .unwrap_or_else(|| "-".into());
                let rpo = r
                    .last_pass
                    .as_ref()
                    .map(|p| against_secs(p.rpo_measured_ms, p.rpo_ms))
                    .unwrap_or_else(|| "-".into());
                let age = r
                    .age_days
                    .map(|a| format!("{a}d"))
                    .unwrap_or_else(|| "-".into());
                // One line per runbook, whatever its name or its scenario's holds.
                println!(
                    "{}",
                    sanitize::one_line(&format!(
                        "{:<fw$} {:<28} {:<12} {:<9} {:<32} {:<34} {:<16} {:<16} {age}",
                        r.file,
                        r.runbook,
                        &r.sha256[..12.min(r.sha256.len())],
                        r.state.to_uppercase(),
                        last,
                        pass,
                        rto,
                        rpo
                    ))
                );
            }
        }
    }
    let failing: Vec<&Status> = rows.iter().filter(|r| r.state != "ok").collect();
    if max_age.is_none() && args.format == StatusFormat::Text {
        for r in failing.iter().filter(|r| r.state == "never") {
            errln!(
                "help: {} is not proven: {}",
                sanitize::one_line(&r.file),
                how_to_prove(r)
            );
        }
    }
    if max_age.is_some() && !failing.is_empty() {
        for r in &failing {
            let why = match r.state {
                "never" => format!("no drill of it has passed; {}", how_to_prove(r)),
                "changed" => "it changed since its drill passed: run the drill again".to_string(),
                _ => format!(
                    "its last passing drill is older than {}",
                    args.max_age.as_deref().unwrap_or_default()
                ),
            };
            errln!(
                "not ready: {} ({}): {why}",
                sanitize::one_line(&r.runbook),
                sanitize::one_line(&r.file)
            );
        }
        return Ok(ExitCode::Failed);
    }
    Ok(ExitCode::Success)
}

#[derive(Debug, Clone, Copy, Default, ValueEnum, PartialEq, Eq)]
pub enum HistoryFormat {
    #[default]
    Text,
    Json,
    /// One self-contained page with an SVG chart of the achieved RTO per drill.
    Html,
}

#[derive(Debug, Args)]
pub struct HistoryArgs {
    /// A runbook or scenario file, or a runbook's `name`.
    pub runbook: String,
    /// Output format: a table, JSON, or an HTML page with a chart.
    #[arg(long, value_enum, default_value = "text")]
    pub format: HistoryFormat,
    /// Write to this file instead of stdout.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    #[command(flatten)]
    pub source: super::StoreArgs,
}

pub(super) const HISTORY_HELP: &str = "\
Examples:
  drillbook history runbooks/region-failover.yaml
  drillbook history region-failover --format html --out history.html
  drillbook history scenarios/ca-central-1-outage.yaml --format json | jq '.runs[0]'

Every run of the runbook (matched by its `name`), newest first: date, mode, scenario, status,
achieved RTO (recovery time: approvals and pauses included) and RPO where measured, and the
slowest steps.";

pub(super) fn history(args: HistoryArgs) -> Result<ExitCode, Failure> {
    let path = Path::new(&args.runbook);
    let name = if path.is_file() {
        target(path)?.name
    } else {
        args.runbook.clone()
    };
    let all = super::runtime()?
        .block_on(args.source.digests())
        .map_err(|e| e.context("cannot read past runs"))?;
    let runs: Vec<&RunDigest> = all.iter().filter(|d| d.runbook == name).collect();
    let out = match args.format {
        HistoryFormat::Html => crate::history::page::render(&name, &runs),
        HistoryFormat::Json => {
            let doc = serde_json::json!({ "format_version": 1, "runbook": name, "runs": runs });
            serde_json::to_string_pretty(&doc).unwrap_or_default() + "\n"
        }
        HistoryFormat::Text => {
            let mut o = format!(
                "{:<22} {:<17} {:<8} {:<24} {:<10} {:<8} {:<20} {:<16} SLOWEST STEPS\n",
                "RUN", "STARTED", "MODE", "SCENARIO", "STATUS", "VERDICT", "RTO", "RPO"
            );
            for r in &runs {
                let slowest: Vec<String> = r
                    .slowest(3)
                    .iter()
                    .map(|s| format!("{} {}", s.id, d(s.duration_ms)))
                    .collect();
                // One line per run, whatever its scenario's name holds.
                o.push_str(&sanitize::one_line(&format!(
                    "{:<22} {:<17} {:<8} {:<24} {:<10} {:<8} {:<20} {:<16} {}",
                    r.run_id,
                    r.started_at.format("%Y-%m-%d %H:%M"),
                    match r.mode {
                        crate::event::Mode::Execute => "execute",
                        crate::event::Mode::DryRun => "dry-run",
                    },
                    r.drill.as_ref().map(|x| x.scenario.as_str()).unwrap_or("-"),
                    r.status.as_str(),
                    r.verdict.as_str(),
                    against(r.recovery_ms, r.rto_ms),
                    against(r.rpo_measured_ms, r.rpo_ms),
                    if slowest.is_empty() {
                        "-".to_string()
                    } else {
                        slowest.join(", ")
                    }
                )));
                o.push('\n');
            }
            if runs.is_empty() {
                o.push_str(&format!(
                    "no run of `{}` in this state\n",
                    sanitize::one_line(&name)
                ));
            }
            o
        }
    };
    match &args.out {
        Some(p) => {
            std::fs::write(p, out)
                .map_err(|e| Failure::failed(format!("cannot write {}: {e}", p.display())))?;
            errln!("wrote {}", p.display());
        }
        None => match args.format {
            HistoryFormat::Json => print!("{}", sanitize::json(&out)),
            _ => out!("{out}"),
        },
    }
    Ok(ExitCode::Success)
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
