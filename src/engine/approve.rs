//! `drillbook approve`: records who approved a pending approval step.

use crate::actions::aws::{Aws, Identity};
use crate::checkpoint::{CheckpointStore, Record, status_of};
use crate::event::Event;
use crate::evidence::approval::{self, KmsKeys, Standing, Statement};
use crate::evidence::{Signer, SignerInfo};
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
    // Whoever executed the run (started it, or resumed it) cannot approve it.
    let executors = executors(&stored.records);
    let mut requested = false;
    let mut granted = false;
    let mut succeeded = false;
    for r in &stored.records {
        match &r.event {
            Event::ApprovalRequested { step: s, .. } if s == step => requested = true,
            Event::ApprovalGranted { step: s, .. } if s == step => granted = true,
            Event::StepSucceeded { step: s, .. } if s == step => succeeded = true,
            // A forced resume changed the step (or what it depends on): approve it again.
            Event::RunResumed { reapprove, .. } if reapprove.iter().any(|s| s == step) => {
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
    if status_of(&stored.records) == crate::event::RunStatus::Running {
        return Err(EngineError::RunInProgress {
            run_id: run_id.to_string(),
        });
    }
    // The runbook as run says who may approve: the copy the run started with, as the
    // journal's first record hashed it, or the one a forced resume recorded.
    let overrides: Vec<(String, String)> = stored.vars.clone().into_iter().collect();
    let text = stored.current_runbook_text();
    let runbook =
        crate::runbook::load_str(std::path::Path::new(&stored.runbook_path), text, &overrides)
            .map_err(EngineError::Runbook)?
            .runbook;
    if let Some((how, _)) = executors.iter().find(|(_, i)| i.arn == approver.arn)
        && !runbook.allow_self_approval
    {
        return Err(EngineError::SelfApproval {
            run_id: run_id.to_string(),
            arn: approver.arn,
            how,
        });
    }
    let (signed, kms) = match signer {
        Signer::None => (None, KmsKeys::new()),
        signer => {
            let prepared = crate::evidence::prepare_signer(signer, Some(aws))
                .await
                .map_err(EngineError::Signing)?;
            let statement = Statement::new(
                run_id,
                step,
                &crate::runbook::load::sha256_hex(text.as_bytes()),
                &stored.head_sha256,
                &approver,
                comment,
                chrono::Utc::now(),
            );
            let signed = approval::sign(&prepared, &statement)
                .await
                .map_err(EngineError::Signing)?;
            // The KMS key's public key was just fetched with the approver's credentials.
            let mut kms = KmsKeys::new();
            if let SignerInfo::KmsEcdsaP256 {
                key_arn,
                public_key,
            } = &signed.signer
            {
                let der = aws_smithy_types::base64::decode(public_key).unwrap_or_default();
                kms.insert(key_arn.clone(), Ok(der));
            }
            (Some(signed), kms)
        }
    };
    let entry = Event::ApprovalGranted {
        step: step.to_string(),
        approver,
        comment: comment.to_string(),
        signed,
    };
    // Judge the approval as `resume` will, before it is written.
    let mut records = stored.records.clone();
    records.push(Record {
        seq: records.len() as u64 + 1,
        at: chrono::Utc::now(),
        prev: stored.head_sha256.clone(),
        event: entry.clone(),
    });
    if let Standing::Refused { reason } = approval::check(
        run_id,
        &records,
        records.len() - 1,
        &runbook.approvers,
        &kms,
    ) {
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
