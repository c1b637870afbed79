//! `drillbook runs` and `drillbook report RUN_ID`: past runs, from their journals.

use std::borrow::Cow;
use std::path::Path;

use super::{ExitCode, ReportArgs, ReportFormat, RunsArgs};
use crate::app::{Failure, RunSummary, Session};
use crate::event::RunStatus;
use crate::report::sanitize::{self, one_line};
use crate::report::{TimingReport, html, junit, markdown};

/// `drillbook runs`.
pub(super) fn runs(args: RunsArgs) -> Result<ExitCode, Failure> {
    if let Some(super::state::RunsAction::Export { run_id, dir }) = &args.action {
        return super::state::export(&args, run_id, dir);
    }
    let session = Session::new(args.store.settings());
    let list = super::runtime()?.block_on(session.runs())?;
    if list.is_empty() {
        match &args.store.state {
            Some(url) => outln!("no runs in {url}"),
            None => outln!("no runs in {}", args.store.state_dir.display()),
        }
        return Ok(ExitCode::Success);
    }
    out!("{}", runs_table(&list));
    let fleets = session.fleets();
    if !fleets.is_empty() {
        outln!("\nFLEETS");
        for f in &fleets {
            outln!(
                "{}  {}  {}  {}",
                f.fleet_id,
                one_line(&f.runbook),
                f.started_at.format("%Y-%m-%d %H:%M:%S UTC"),
                crate::report::fleet::totals(f)
            );
        }
    }
    Ok(ExitCode::Success)
}

/// The table printed by `drillbook runs` (newest first, as the store lists them). Each cell
/// is shown on one line (a runbook path is whatever the journal says), so the columns hold.
pub(super) fn runs_table(list: &[RunSummary]) -> String {
    let rows: Vec<[String; 7]> = list
        .iter()
        .map(|r| {
            // The verdict every report of the run leads with (a drill not yet judged: pending).
            let (scenario, verdict) = match &r.drill {
                Some(d) => (d.scenario.clone(), d.verdict.clone()),
                None => (
                    "-".into(),
                    r.verdict.map_or("-", |v| v.as_str()).to_string(),
                ),
            };
            [
                r.run_id.clone(),
                r.runbook.clone(),
                r.started_at.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
                match r.mode {
                    crate::event::Mode::DryRun => "dry-run".into(),
                    crate::event::Mode::Execute => "execute".into(),
                },
                match (r.status, r.awaiting.as_slice()) {
                    (None, _) => "corrupt".to_string(),
                    (Some(RunStatus::Paused), [_, ..]) => {
                        format!("paused (awaits approval of {})", r.awaiting.join(", "))
                    }
                    (Some(s), _) => s.as_str().to_string(),
                },
                scenario,
                verdict,
            ]
            .map(|cell| match one_line(&cell) {
                Cow::Borrowed(_) => cell,
                Cow::Owned(shown) => shown,
            })
        })
        .collect();
    let head = [
        "RUN ID", "RUNBOOK", "STARTED", "MODE", "STATUS", "SCENARIO", "VERDICT",
    ];
    let mut w = head.map(|h| h.chars().count());
    for r in &rows {
        for (k, c) in r.iter().enumerate() {
            w[k] = w[k].max(c.chars().count());
        }
    }
    let line = |cells: [&str; 7]| {
        let mut s = String::new();
        for (k, c) in cells.iter().enumerate() {
            if k + 1 == cells.len() {
                s.push_str(c);
            } else {
                s.push_str(&format!("{c:<width$}  ", width = w[k]));
            }
        }
        s.push('\n');
        s
    };
    let mut out = line(head);
    for r in &rows {
        out.push_str(&line(r.each_ref().map(String::as_str)));
    }
    out
}

/// `drillbook report RUN_ID`.
pub(super) fn report(args: ReportArgs) -> Result<ExitCode, Failure> {
    let session = Session::new(args.store.settings());
    let run = super::runtime()?.block_on(session.stored_report(&args.run_id))?;
    if let Some(w) = &run.warning {
        errln!("warning: {}", one_line(w));
        errln!("help: the report below comes from the journal alone (no dependencies, no RTO)");
    }
    let document = || &run.document;
    let default_name = format!("drillbook-report-{}", run.run_id);
    let (name, text) = match args.format {
        ReportFormat::Text => ("report.txt", TimingReport(&run.view).render_text()),
        ReportFormat::Json => match serde_json::to_string_pretty(document()) {
            Ok(s) => ("report.json", s + "\n"),
            Err(e) => {
                return Err(Failure::failed(format!(
                    "cannot write the report as JSON: {e}"
                )));
            }
        },
        ReportFormat::Markdown => ("report.md", markdown::render(document())),
        ReportFormat::Junit => ("junit.xml", junit::render(document())),
        ReportFormat::Html => ("report.html", html::render(document())),
        ReportFormat::All => {
            let dir = args
                .output
                .clone()
                .unwrap_or_else(|| std::path::PathBuf::from(&default_name));
            return match crate::report::write_all(&dir, document()) {
                Ok(paths) => {
                    for p in paths {
                        outln!("wrote {}", p.display());
                    }
                    Ok(ExitCode::Success)
                }
                Err(e) => Err(write_failure(&dir, &e)),
            };
        }
    };
    let path = match (&args.output, args.format) {
        (Some(dir), _) => {
            if let Err(e) = std::fs::create_dir_all(dir) {
                return Err(write_failure(dir, &e));
            }
            dir.join(name)
        }
        (None, ReportFormat::Html) => std::path::PathBuf::from(format!("{default_name}.html")),
        (None, _) => {
            let shown = match args.format {
                ReportFormat::Json => sanitize::json(&text),
                _ => sanitize::terminal(&text),
            };
            print!("{shown}");
            return Ok(ExitCode::Success);
        }
    };
    // The text report is for a terminal wherever it is read.
    let text = match args.format {
        ReportFormat::Text => sanitize::terminal(&text).into_owned(),
        _ => text,
    };
    match std::fs::write(&path, text) {
        Ok(()) => {
            outln!("wrote {}", path.display());
            Ok(ExitCode::Success)
        }
        Err(e) => Err(write_failure(&path, &e)),
    }
}

fn write_failure(path: &Path, e: &std::io::Error) -> Failure {
    Failure::failed(format!(
        "cannot write the report to {}: {e}",
        path.display()
    ))
    .help("choose a writable directory with `--output DIR`")
}
