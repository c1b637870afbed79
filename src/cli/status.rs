//! `drillbook status` and `drillbook history`: readiness over all runs.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, ValueEnum};

use super::ExitCode;
use crate::app::readiness::{Status, history_page};
use crate::app::{Failure, Session};
use crate::duration::{format_duration, parse_duration};
use crate::report::sanitize;

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
`drillbook drill SCENARIO --execute` until it passes; a dry run proves nothing. A drill across
accounts (a fleet) proves it when every one of its targets passed; one target alone does not. RTO and RPO are
in seconds (achieved/objective), AGE in days since the last pass.
Exit codes: 0 all OK, 1 some runbook is not (with --max-age), 2 bad input.";

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
    let session = Session::new(args.source.settings());
    let rows = super::runtime()?.block_on(session.readiness(&args.files, max_age))?;
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
                    .map(|p| {
                        let fleet = p
                            .targets
                            .map(|n| format!(" (fleet, {n} targets)"))
                            .unwrap_or_default();
                        format!("{} {}{fleet}", p.started_at.format("%Y-%m-%d"), p.scenario)
                    })
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
slowest steps. A fleet's target shows its account and Region (TARGET).";

pub(super) fn history(args: HistoryArgs) -> Result<ExitCode, Failure> {
    let session = Session::new(args.source.settings());
    let (name, runs) = super::runtime()?.block_on(session.history(&args.runbook))?;
    let out = match args.format {
        HistoryFormat::Html => history_page(&name, &runs),
        HistoryFormat::Json => {
            let doc = serde_json::json!({ "format_version": 1, "runbook": name, "runs": runs });
            serde_json::to_string_pretty(&doc).unwrap_or_default() + "\n"
        }
        HistoryFormat::Text => {
            let mut o = format!(
                "{:<22} {:<17} {:<8} {:<24} {:<25} {:<10} {:<8} {:<20} {:<16} SLOWEST STEPS\n",
                "RUN", "STARTED", "MODE", "SCENARIO", "TARGET", "STATUS", "VERDICT", "RTO", "RPO"
            );
            for r in &runs {
                let slowest: Vec<String> = r
                    .slowest(3)
                    .iter()
                    .map(|s| format!("{} {}", s.id, d(s.duration_ms)))
                    .collect();
                // One line per run, whatever its scenario's name holds.
                o.push_str(&sanitize::one_line(&format!(
                    "{:<22} {:<17} {:<8} {:<24} {:<25} {:<10} {:<8} {:<20} {:<16} {}",
                    r.run_id,
                    r.started_at.format("%Y-%m-%d %H:%M"),
                    match r.mode {
                        crate::event::Mode::Execute => "execute",
                        crate::event::Mode::DryRun => "dry-run",
                    },
                    r.drill.as_ref().map(|x| x.scenario.as_str()).unwrap_or("-"),
                    // A fleet's target: its account and Region (the fleet in `--format json`).
                    r.target
                        .as_ref()
                        .map(|t| format!("{} {}", t.account, t.region))
                        .unwrap_or_else(|| "-".into()),
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
