//! `drillbook approve`: records who approved a pending approval step.

use crate::actions::aws::Identity;
use crate::checkpoint::file::status_of;
use crate::checkpoint::{CheckpointStore, Entry, Record};

use super::error::EngineError;

/// Who executed a run, and how (`started`, `resumed`), from its journal.
pub(super) fn executors(records: &[Record]) -> Vec<(&'static str, &Identity)> {
    records
        .iter()
        .filter_map(|r| match &r.entry {
            Entry::RunStarted {
                identity: Some(i), ..
            } => Some(("started", i)),
            Entry::RunResumed {
                identity: Some(i), ..
            } => Some(("resumed", i)),
            _ => None,
        })
        .collect()
}

/// Records `approver`'s approval of `step` in run `run_id`.
///
/// Refused when the step has no pending approval, when the run is still in progress (its
/// process would append to the same journal), and when the approver is the identity that
/// started the run unless the runbook sets `allow_self_approval: true`.
pub async fn approve(
    store: &dyn CheckpointStore,
    run_id: &str,
    step: &str,
    comment: &str,
    approver: Identity,
) -> Result<(), EngineError> {
    let stored = store.load(run_id).await?;
    // Whoever executed the run (started it, or resumed it) cannot approve it.
    let executors = executors(&stored.records);
    let mut requested = false;
    let mut granted = false;
    let mut succeeded = false;
    for r in &stored.records {
        match &r.entry {
            Entry::ApprovalRequested { step: s, .. } if s == step => requested = true,
            Entry::ApprovalGranted { step: s, .. } if s == step => granted = true,
            Entry::StepSucceeded { step: s, .. } if s == step => succeeded = true,
            // A forced resume changed the step (or what it depends on): approve it again.
            Entry::RunResumed { reapprove, .. } if reapprove.iter().any(|s| s == step) => {
                (requested, granted, succeeded) = (false, false, false);
            }
            _ => {}
        }
    }
    let no = |detail: &str| EngineError::NoPendingApproval {
        run_id: run_id.to_string(),
        step: step.to_string(),
        detail: detail.to_string(),
    };
    if succeeded || granted {
        return Err(no(" (it was already approved)"));
    }
    if !requested {
        return Err(no(""));
    }
    if status_of(&stored.records) == "running" {
        return Err(EngineError::RunInProgress {
            run_id: run_id.to_string(),
        });
    }
    // The runbook as run says whether self-approval is allowed: the copy the run started
    // with, as the journal's first record hashed it, or the one a forced resume recorded.
    let overrides: Vec<(String, String)> = stored.vars.clone().into_iter().collect();
    let allow_self = crate::runbook::load_str(
        std::path::Path::new(&stored.runbook_path),
        stored.current_runbook_text(),
        &overrides,
    )
    .map(|l| l.runbook.allow_self_approval)
    .map_err(EngineError::Runbook)?;
    if let Some((how, _)) = executors.iter().find(|(_, i)| i.arn == approver.arn)
        && !allow_self
    {
        return Err(EngineError::SelfApproval {
            run_id: run_id.to_string(),
            arn: approver.arn,
            how,
        });
    }
    store
        .append(
            run_id,
            vec![Entry::ApprovalGranted {
                step: step.to_string(),
                approver,
                comment: comment.to_string(),
            }],
        )
        .await?;
    Ok(())
}
