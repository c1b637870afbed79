//! `drillbook runs` and `drillbook report RUN_ID`: past runs, from their journals.

use std::borrow::Cow;
use std::path::Path;
use std::sync::Arc;

use super::{ExitCode, ReportArgs, ReportFormat, RunsArgs};
use crate::app::Failure;
use crate::checkpoint::{CheckpointError, CheckpointStore, StoredRun};
use crate::event::RunStatus;
use crate::report::sanitize::{self, one_line};
use crate::report::{RunDocument, TimingReport, html, junit, markdown};
use crate::runbook::Runbook;

/// The journal store of `--state`, else `--state-dir`.
fn open_store(
    state: &Option<String>,
    state_dir: &Path,
) -> Result<Arc<dyn CheckpointStore>, Failure> {
    block_on(crate::app::store::open(state, state_dir, &None))?
}

fn block_on<F: std::future::Future>(f: F) -> Result<F::Output, Failure> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map(|rt| rt.block_on(f))
        .map_err(|e| Failure::failed(format!("cannot start the async runtime: {e}")))
}

/// `--state URL` or `--state-dir DIR`, for hints.
fn location(state: &Option<String>, state_dir: &Path) -> String {
    match state {
        Some(url) => format!("--state '{url}'"),
        None => format!("--state-dir {}", state_dir.display()),
    }
}

fn store_failure(e: &CheckpointError, location: &str) -> Failure {
    match e {
        CheckpointError::NotFound(_) => Failure::invalid(e.to_string())
            .help(format!("list the runs with `drillbook runs {location}`")),
        CheckpointError::Corrupt { .. } => Failure::failed(e.to_string()).help(
            "the journal was changed or cut short after it was written; keep a copy for \
             investigation",
        ),
        _ => Failure::failed(e.to_string()),
    }
}

/// `drillbook runs`.
pub(super) fn runs(args: RunsArgs) -> Result<ExitCode, Failure> {
    if let Some(super::state::RunsAction::Export { run_id, dir }) = &args.action {
        return super::state::export(&args, run_id, dir);
    }
    let store = open_store(&args.state, &args.state_dir)?;
    let list = match block_on(store.list()) {
        Ok(Ok(l)) => l,
        Ok(Err(e)) => return Err(store_failure(&e, &location(&args.state, &args.state_dir))),
        Err(f) => return Err(f),
    };
    if list.is_empty() {
        match &args.state {
            Some(url) => outln!("no runs in {url}"),
            None => outln!("no runs in {}", args.state_dir.display()),
        }
        return Ok(ExitCode::Success);
    }
    out!("{}", runs_table(&list));
    Ok(ExitCode::Success)
}

/// The table printed by `drillbook runs` (newest first, as the store lists them). Each cell
/// is shown on one line (a runbook path is whatever the journal says), so the columns hold.
pub(super) fn runs_table(list: &[crate::checkpoint::RunSummary]) -> String {
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
    let store = open_store(&args.state, &args.state_dir)?;
    let run = match block_on(store.load(&args.run_id)) {
        Ok(Ok(r)) => r,
        Ok(Err(e)) => return Err(store_failure(&e, &location(&args.state, &args.state_dir))),
        Err(f) => return Err(f),
    };
    let runbook = runbook_of(&run);
    let document = || {
        let mut doc = RunDocument::build(&run, &runbook);
        // The head of the chain from the journal's own bytes, when the file is there.
        let journal =
            crate::checkpoint::file::FileStore::new(&args.state_dir).journal_path(&run.run_id);
        if let Ok(bytes) = std::fs::read(journal) {
            doc.set_journal_bytes(&bytes);
        }
        doc
    };
    let default_name = format!("drillbook-report-{}", run.run_id);
    let (name, text) = match args.format {
        ReportFormat::Text => (
            "report.txt",
            TimingReport(&crate::report::document::RunView::build(&run, &runbook)).render_text(),
        ),
        ReportFormat::Json => match serde_json::to_string_pretty(&document()) {
            Ok(s) => ("report.json", s + "\n"),
            Err(e) => {
                return Err(Failure::failed(format!(
                    "cannot write the report as JSON: {e}"
                )));
            }
        },
        ReportFormat::Markdown => ("report.md", markdown::render(&document())),
        ReportFormat::Junit => ("junit.xml", junit::render(&document())),
        ReportFormat::Html => ("report.html", html::render(&document())),
        ReportFormat::All => {
            let dir = args
                .output
                .clone()
                .unwrap_or_else(|| std::path::PathBuf::from(&default_name));
            return match crate::report::write_all(&dir, &document()) {
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

/// The runbook the run goes on with (after a forced resume, the one it recorded), with the
/// variables in effect. When it no longer parses (an older drillbook wrote it), the report is
/// built from the journal alone.
fn runbook_of(run: &StoredRun) -> Runbook {
    match run.runbook_in_effect() {
        Ok(l) => l.runbook,
        Err(d) => {
            errln!(
                "warning: the runbook stored with run `{}` does not load: {d}",
                run.run_id
            );
            errln!("help: the report below comes from the journal alone (no dependencies, no RTO)");
            Runbook {
                name: run.runbook_path.clone(),
                description: None,
                objectives: Default::default(),
                vars: run.vars.clone(),
                accounts: Default::default(),
                allow_self_approval: false,
                approvers: Default::default(),
                secrets: Default::default(),
                steps: vec![],
                finally: vec![],
            }
        }
    }
}
