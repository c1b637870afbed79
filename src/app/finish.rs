//! What happens after every run, resume and drill: the reports and a copy of the run's files go
//! into `<report-dir>/<run-id>/`, which is sealed as evidence (`manifest.json`); metrics are
//! published when asked.

use std::path::PathBuf;

use super::{Failure, Settings};
use crate::actions::aws::Aws;
use crate::checkpoint::StoredRun;
use crate::checkpoint::file::FileStore;
use crate::checkpoint::view::RunView;
use crate::event::SignerInfo;
use crate::runbook::Runbook;

/// The run files copied next to the reports (the evidence covers them too).
const RUN_FILES: &[&str] = &[
    "runbook.yaml",
    "runbook.sha256",
    "vars.json",
    "journal.jsonl",
];

/// A finished run read back from its journal, with its read model.
pub struct Finished {
    pub stored: StoredRun,
    pub runbook: Runbook,
    pub view: RunView,
}

/// Reads a run back (journal verified) with its runbook as run.
pub async fn read_run(session: &super::Session, run_id: &str) -> Result<Finished, Failure> {
    let store = session.store().await?;
    let stored = store.load(run_id).await?;
    let runbook = stored
        .runbook_in_effect()
        .map_err(|d| {
            Failure::in_input(
                d,
                format!("the runbook stored with run {run_id} no longer loads"),
            )
        })?
        .runbook;
    let view = RunView::build(&stored, &runbook);
    Ok(Finished {
        stored,
        runbook,
        view,
    })
}

/// The key the run's evidence will be sealed with, as `run_started` records it. A resume
/// passes what its run recorded: a run that began signed goes on with the same key (a KMS key
/// by itself, an Ed25519 key file only when given again) and never ends unsigned.
pub async fn seal_key(
    settings: &mut Settings,
    recorded: Option<&SignerInfo>,
    run_id: &str,
    aws: &Aws,
) -> Result<Option<SignerInfo>, Failure> {
    use crate::evidence::Signer;
    if matches!(settings.signer, Signer::None) {
        match recorded {
            None | Some(SignerInfo::None) => return Ok(None),
            Some(SignerInfo::KmsEcdsaP256 { key_arn, .. }) => {
                settings.signer = Signer::Kms {
                    key: key_arn.clone(),
                    region: key_arn.split(':').nth(3).map(str::to_string),
                };
            }
            Some(SignerInfo::Ed25519 { public_key }) => {
                return Err(crate::engine::EngineError::SignerRequired {
                    run_id: run_id.to_string(),
                    signer: format!("ed25519 key {public_key}"),
                    hint: "ed25519:KEYFILE".into(),
                }
                .into());
            }
        }
    }
    let info = crate::evidence::prepare_signer(&settings.signer, Some(aws))
        .await?
        .info();
    let same = match (recorded, &info) {
        (None | Some(SignerInfo::None), _) => true,
        (Some(SignerInfo::Ed25519 { public_key: a }), SignerInfo::Ed25519 { public_key: b }) => {
            a.eq_ignore_ascii_case(b)
        }
        (
            Some(SignerInfo::KmsEcdsaP256 { key_arn: a, .. }),
            SignerInfo::KmsEcdsaP256 { key_arn: b, .. },
        ) => a == b,
        _ => false,
    };
    if !same {
        let was = recorded
            .map(crate::evidence::approval::describe)
            .unwrap_or_default();
        return Err(Failure::invalid(format!(
            "run {run_id} began signed by {was}; `--sign-with` names {}",
            crate::evidence::approval::describe(&info)
        ))
        .help("resume with the key the run began with: its evidence is sealed with one key"));
    }
    Ok((info != SignerInfo::None).then_some(info))
}

/// A run's reports and evidence, written.
pub struct Reported {
    /// `<report-dir>/<run-id>/`.
    pub dir: PathBuf,
    /// The run's read model, as the reports show it.
    pub view: RunView,
}

/// Writes the reports, copies the run's files, seals the directory and publishes metrics.
pub async fn finish(
    session: &super::Session,
    aws: &Aws,
    run_id: &str,
    objectives_met: Option<bool>,
) -> Result<Reported, Failure> {
    let settings = &session.settings;
    let run = read_run(session, run_id).await?;
    let dir = settings.report_dir_for(run_id);
    let io = |what: &str, e: std::io::Error| {
        Failure::failed(format!("cannot write {what} in {}: {e}", dir.display()))
    };
    // A resumed run is reported (and sealed) again from scratch.
    if dir.exists() {
        std::fs::remove_dir_all(&dir).map_err(|e| io("the report directory", e))?;
    }
    std::fs::create_dir_all(&dir).map_err(|e| io("the report directory", e))?;
    let run_dir = FileStore::new(&settings.state.dir).run_dir(run_id);
    // With DynamoDB state the run's files are exported into the report directory.
    let exported = super::store::write_run_files(session, run_id, &dir).await?;
    let journal_dir = if exported { &dir } else { &run_dir };
    let mut doc =
        crate::report::document::RunDocument::from_view(&run.stored, &run.runbook, &run.view);
    if let Ok(journal) = std::fs::read(journal_dir.join("journal.jsonl")) {
        doc.set_journal_bytes(&journal);
    }
    crate::report::write_all(&dir, &doc).map_err(|e| io("the reports", e))?;
    // timing.txt is read on a terminal (`cat`): it leaves through the terminal sanitizer.
    let timing = crate::report::TimingReport(&run.view).render_text();
    std::fs::write(
        dir.join("timing.txt"),
        crate::report::sanitize::terminal(&timing).as_bytes(),
    )
    .map_err(|e| io("timing.txt", e))?;
    for f in RUN_FILES.iter().filter(|_| !exported) {
        let from = run_dir.join(f);
        if from.exists() {
            std::fs::copy(&from, dir.join(f)).map_err(|e| io(f, e))?;
        }
    }
    crate::evidence::seal_with_aws(&dir, &settings.signer, aws)
        .await
        .map_err(|e| {
            Failure::failed(format!(
                "cannot seal the evidence in {}: {e}",
                dir.display()
            ))
        })?;

    if let Some(namespace) = &settings.publish_metrics {
        let steps: Vec<(String, std::time::Duration)> = run
            .view
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
            std::time::Duration::from_millis(run.view.times.total_ms),
            &steps,
            objectives_met,
        )
        .await
        .map_err(|e| Failure::failed(format!("cannot publish metrics to {namespace}: {e}")))?;
    }
    Ok(Reported {
        dir,
        view: run.view,
    })
}
