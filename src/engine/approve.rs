//! `drillbook approve`: records who approved a pending approval step.

use crate::actions::aws::{Aws, Identity};
use crate::checkpoint::{CheckpointStore, Record, status_of};
use crate::event::Event;
use crate::evidence::Signer;
use crate::evidence::approval::{self, Standing, Statement};
use crate::runbook::Approvers;

use super::error::EngineError;

/// Who executed a run, and how (`started`, `resumed`), from its journal.
pub(super) fn executors(records: &[Record]) -> Vec<(&'static str, &Identity)> {
    records
        .iter()
        .filter_map(|r| match &r.event {
            Event::RunStarted {
                identity: Some(i), ..
            } => Some(("started", i)),
            Event::RunResumed {
                identity: Some(i), ..
            } => Some(("resumed", i)),
            _ => None,
        })
        .collect()
}

/// Records `approver`'s approval of `step` in run `run_id`, signed with `signer` (the
/// approver's own key; [`Signer::None`] for an unsigned approval).
///
/// Refused when the step has no pending approval, when the run is still in progress (its
/// process would append to the same journal), when the approver executed the run (started or
/// resumed it) unless the runbook sets `allow_self_approval: true`, and when the runbook's
/// `approvers:` would not count the approval (an untrusted key or principal, or unsigned
/// without `allow_unsigned: true`): the same check `resume` makes.
pub async fn approve(
    store: &dyn CheckpointStore,
    aws: &Aws,
    run_id: &str,
    step: &str,
    comment: &str,
    approver: Identity,
    signer: &Signer,
) -> Result<(), EngineError> {
    let stored = store.load(run_id).await?;
    let no = |detail: &str| EngineError::NoPendingApproval {
        run_id: run_id.to_string(),
        step: step.to_string(),
        detail: detail.to_string(),
    };
    // Who may approve, and what the approval binds, come from the runbook and variables the
    // run goes on with: the ones it started with, or those a forced resume recorded.
    let in_effect = stored.in_effect();
    let runbook = stored
        .runbook_in_effect()
        .map_err(EngineError::Runbook)?
        .runbook;
    let gates = approval::gates(run_id, &stored.records, &runbook, &in_effect);
    let Some(gate) = gates.get(step) else {
        // A misspelled step: the closest awaited approval, else the list of them.
        let awaited: Vec<&str> = gates
            .iter()
            .filter(|(_, g)| g.request.is_some() && g.passed.is_none())
            .map(|(s, _)| s.as_str())
            .collect();
        let detail = match crate::runbook::did_you_mean(step, awaited.iter().copied())
            .or_else(|| crate::runbook::did_you_mean(step, gates.keys().map(String::as_str)))
        {
            Some(d) => format!("; {d}"),
            None if awaited.is_empty() => String::new(),
            None => format!(
                "; it awaits approval of {}",
                awaited
                    .iter()
                    .map(|s| format!("`{s}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        };
        return Err(no(&detail));
    };
    if gate.passed.is_some() {
        return Err(no(" (it was already approved)"));
    }
    let Some((_, nonce)) = &gate.request else {
        return Err(no(""));
    };
    if status_of(&stored.records) == crate::event::RunStatus::Running {
        return Err(EngineError::RunInProgress {
            run_id: run_id.to_string(),
        });
    }
    // Whoever executed the run (started it, or resumed it) cannot approve it.
    if let Some((how, _)) = executors(&stored.records)
        .iter()
        .find(|(_, i)| i.arn == approver.arn)
        && !runbook.allow_self_approval
    {
        return Err(EngineError::SelfApproval {
            run_id: run_id.to_string(),
            arn: approver.arn,
            how,
        });
    }
    let binding = approval::Binding::of(run_id, step, &runbook, &in_effect, nonce);
    let statement = Statement::new(&binding, &approver, comment, chrono::Utc::now());
    let signed = match signer {
        Signer::None => approval::unsigned(&statement),
        signer => {
            let prepared = crate::evidence::prepare_signer(signer, Some(aws))
                .await
                .map_err(EngineError::Signing)?;
            approval::sign(&prepared, &statement)
                .await
                .map_err(EngineError::Signing)?
        }
    };
    let entry = Event::ApprovalGranted {
        step: step.to_string(),
        approver,
        comment: comment.to_string(),
        signed: Some(signed),
    };
    // Judge the approval as `resume` will, before it is written.
    if let Standing::Refused { reason } = approval::check(&entry, &binding, &runbook.approvers) {
        return Err(EngineError::ApprovalNotTrusted {
            run_id: run_id.to_string(),
            step: step.to_string(),
            reason,
            help: approve_help(&runbook.approvers, signer),
        });
    }
    store.append(run_id, vec![entry]).await?;
    Ok(())
}

/// The `--sign-with` argument an `approve` command needs for the runbook's `approvers:`
/// (with its leading space), or nothing when the runbook counts unsigned approvals
/// (`allow_unsigned: true`). A runbook's one KMS key is named; an Ed25519 key is the
/// approver's own private file, so only its form is shown.
pub fn sign_with_hint(approvers: &Approvers) -> String {
    use crate::runbook::TrustedKeyRef;
    if approvers.allow_unsigned {
        return String::new();
    }
    let kms: Vec<&str> = approvers
        .keys
        .iter()
        .filter_map(|k| match &k.key {
            TrustedKeyRef::Kms { key_arn } => Some(key_arn.as_str()),
            TrustedKeyRef::Ed25519 { .. } => None,
        })
        .collect();
    match kms.as_slice() {
        [one] if approvers.keys.len() == 1 => format!(" --sign-with kms:{one}"),
        [_, ..] if kms.len() == approvers.keys.len() => " --sign-with kms:KEY".into(),
        _ => " --sign-with ed25519:KEY_FILE".into(),
    }
}

/// What to do about an approval the runbook would not count.
pub(super) fn approve_help(approvers: &Approvers, signer: &Signer) -> String {
    let keys: Vec<String> = approvers.keys.iter().map(|k| k.key.to_string()).collect();
    match signer {
        Signer::None if !approvers.keys.is_empty() => format!(
            "sign it with your key: `drillbook approve RUN STEP --sign-with ed25519:KEY` or `--sign-with kms:KEY`; the runbook trusts {}",
            keys.join(", ")
        ),
        _ if keys.is_empty() => "the runbook's `approvers:` lists no key; a signed approval needs `approvers: { keys: [...] }`".into(),
        _ => format!(
            "the runbook's `approvers:` trusts {}{}; approve with one of those keys, as a matching principal",
            keys.join(", "),
            if approvers.principals.is_empty() {
                String::new()
            } else {
                format!(" for {}", approvers.principals.join(", "))
            }
        ),
    }
}
