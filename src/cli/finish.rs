//! What happens after every run, resume and drill: the reports and a copy of the run's files go
//! into `<report-dir>/<run-id>/`, which is sealed as evidence (`manifest.json`); metrics are
//! published when asked; the timing report is printed for humans.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::{ExecOptions, MessageFormat};
use crate::actions::aws::Aws;
use crate::checkpoint::StoredRun;
use crate::checkpoint::file::FileStore;
use crate::event::Event;
use crate::evidence::Signer;
use crate::report::TimingReport;
use crate::runbook::Runbook;

/// The run files copied next to the reports (the evidence covers them too).
const RUN_FILES: &[&str] = &[
    "runbook.yaml",
    "runbook.sha256",
    "vars.json",
    "journal.jsonl",
];

/// A finished run read back from its journal.
pub(super) struct Finished {
    pub stored: StoredRun,
    pub runbook: Runbook,
    pub timing: TimingReport,
}

/// Reads a run back (journal verified) with its runbook as run.
pub(super) async fn read_run(exec: &ExecOptions, run_id: &str) -> Result<Finished, String> {
    let store = super::state::open_exec(exec)
        .await
        .map_err(|f| f.to_string())?;
    let stored = store.load(run_id).await.map_err(|e| e.to_string())?;
    let overrides: Vec<(String, String)> = stored.vars.clone().into_iter().collect();
    let runbook = crate::runbook::load_str(
        Path::new(&stored.runbook_path),
        stored.current_runbook_text(),
        &overrides,
    )
    .map_err(|d| d.to_string())?
    .runbook;
    let timing = TimingReport::from_journal(&stored, &runbook);
    Ok(Finished {
        stored,
        runbook,
        timing,
    })
}

/// Each step's outputs and final status (`succeeded`, `deferred`, `failed`, `skipped`) from the
/// journal. A step whose outcome summary starts with `deferred` (an optional step that could
/// not act, e.g. a KMS promotion while the old primary is down) counts as deferred.
pub(super) fn step_results(
    stored: &StoredRun,
) -> (
    BTreeMap<String, BTreeMap<String, String>>,
    BTreeMap<String, String>,
) {
    let mut outputs = BTreeMap::new();
    let mut statuses = BTreeMap::new();
    for r in &stored.records {
        match &r.event {
            Event::StepSucceeded { step, outcome, .. } => {
                outputs.insert(step.clone(), outcome.outputs.clone());
                let status = if outcome.is_deferred() {
                    "deferred"
                } else {
                    "succeeded"
                };
                statuses.insert(step.clone(), status.to_string());
            }
            Event::StepFailed { step, .. } => {
                statuses.insert(step.clone(), "failed".into());
            }
            Event::StepSkipped { step, .. } => {
                statuses.insert(step.clone(), "skipped".into());
            }
            _ => {}
        }
    }
    (outputs, statuses)
}

/// Writes the reports, copies the run's files, seals the directory, publishes metrics and
/// prints the timing report. Returns the report directory.
pub(super) async fn finish(
    exec: &ExecOptions,
    aws: &Aws,
    signer: &Signer,
    run_id: &str,
    objectives_met: Option<bool>,
) -> Result<PathBuf, String> {
    let run = read_run(exec, run_id).await?;
    let dir = exec.report_dir_for(run_id);
    let io =
        |what: &str, e: std::io::Error| format!("cannot write {what} in {}: {e}", dir.display());
    // A resumed run is reported (and sealed) again from scratch.
    if dir.exists() {
        std::fs::remove_dir_all(&dir).map_err(|e| io("the report directory", e))?;
    }
    std::fs::create_dir_all(&dir).map_err(|e| io("the report directory", e))?;
    let run_dir = FileStore::new(&exec.state_dir).run_dir(run_id);
    // With DynamoDB state the run's files are exported into the report directory.
    let exported = super::state::write_run_files(exec, run_id, &dir).await?;
    let journal_dir = if exported { &dir } else { &run_dir };
    let mut doc = crate::report::document::RunDocument::build(&run.stored, &run.runbook);
    if let Ok(journal) = std::fs::read(journal_dir.join("journal.jsonl")) {
        doc.set_journal_bytes(&journal);
    }
    crate::report::write_all(&dir, &doc).map_err(|e| io("the reports", e))?;
    std::fs::write(dir.join("timing.txt"), run.timing.render_text())
        .map_err(|e| io("timing.txt", e))?;
    for f in RUN_FILES.iter().filter(|_| !exported) {
        let from = run_dir.join(f);
        if from.exists() {
            std::fs::copy(&from, dir.join(f)).map_err(|e| io(f, e))?;
        }
    }
    crate::evidence::seal_with_aws(&dir, signer, aws)
        .await
        .map_err(|e| format!("cannot seal the evidence in {}: {e}", dir.display()))?;

    if let Some(namespace) = &exec.publish_metrics {
        let steps: Vec<(String, std::time::Duration)> = run
            .timing
            .steps
            .iter()
            .filter_map(|s| {
                Some((
                    s.id.clone(),
                    std::time::Duration::from_millis(s.duration_ms?),
                ))
            })
            .collect();
        let region = crate::engine::identity_region(&run.runbook);
        crate::actions::cloudwatch::publish_run_metrics(
            aws,
            &region,
            namespace,
            &run.runbook.name,
            std::time::Duration::from_millis(run.timing.total_ms),
            &steps,
            objectives_met,
        )
        .await
        .map_err(|e| format!("cannot publish metrics to {namespace}: {e}"))?;
    }

    if exec.message_format == MessageFormat::Human {
        println!(
            "{}",
            crate::report::console::terminal_safe(&run.timing.render_text())
        );
        eprintln!(
            "reports and sealed evidence: {} (open {})",
            dir.display(),
            dir.join("report.html").display()
        );
    }
    Ok(dir)
}
