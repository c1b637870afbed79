//! Resume preparation: the stored run read back, the runbook and variables it goes on with
//! (changed only with `force`), who may have approved what, and the walk restored from the
//! journal, before the driver goes on.

use std::collections::HashMap;
use std::path::Path;

use chrono::Utc;

use super::error::EngineError;
use super::run::{Engine, RunResult, check_secrets, host_name};
use super::walk::Walk;
use crate::actions::aws::Identity;
use crate::event::Event;
use crate::plan::Plan;
use crate::runbook::Runbook;

/// What a resume goes on with besides the stored run.
#[derive(Debug, Clone, Default)]
pub struct ResumeWith {
    /// `--runbook FILE`: compared with the runbook the run goes on with; a different one needs
    /// `force`. Without it the run goes on with its own copy (no path recorded in the journal
    /// is ever read).
    pub runbook: Option<std::path::PathBuf>,
    /// `--var NAME=VALUE`: changes the run's variables (needs `force`).
    pub vars: Vec<(String, String)>,
    /// `--force`: go on with a changed runbook or variables, recorded; every approval is asked
    /// again, since each statement binds what it approved.
    pub force: bool,
}

/// Refuses a resume whose approvals were granted by someone who executed the run: who
/// started it, resumed it before, or resumes it now (unless the runbook allows self-approval).
fn check_approvers(
    run_id: &str,
    records: &[crate::checkpoint::Record],
    resumer: Option<&Identity>,
    runbook: &Runbook,
) -> Result<(), EngineError> {
    if runbook.allow_self_approval {
        return Ok(());
    }
    let mut executors = super::approve::executors(records);
    executors.extend(resumer.map(|i| ("resumes", i)));
    for r in records {
        if let Event::ApprovalGranted { approver, .. } = &r.event
            && let Some((how, _)) = executors.iter().find(|(_, i)| i.arn == approver.arn)
        {
            return Err(EngineError::SelfApproval {
                run_id: run_id.to_string(),
                arn: approver.arn.clone(),
                how,
            });
        }
    }
    Ok(())
}

impl Engine {
    /// Continues an interrupted, paused or failed run. Succeeded steps never run again; steps
    /// that were running when the previous process stopped are in doubt: their action observes
    /// first and applies only what is still needed. An approval step passes only on an approval
    /// statement that matches the run as it goes on (see [`crate::evidence::approval`]).
    pub async fn resume(&self, run_id: &str, with: &ResumeWith) -> Result<RunResult, EngineError> {
        // The store checks the chain, the runbook copy and variables against `run_started`,
        // and that the run is all one mode.
        let stored = self.store.load(run_id).await?;
        self.resume_stored(stored, with).await
    }

    /// [`Engine::resume`] of a run already read from this engine's store (the application reads
    /// it once, before it takes the run's lock): the store appends after the records read, and
    /// refuses to when another process wrote to the journal since.
    pub async fn resume_stored(
        &self,
        stored: crate::checkpoint::StoredRun,
        with: &ResumeWith,
    ) -> Result<RunResult, EngineError> {
        let run_id = stored.run_id.as_str();
        let Event::RunStarted { mode, .. } = &stored.records[0].event else {
            unreachable!("the store checks the first record")
        };
        let mode = *mode;
        let effect = stored.in_effect();
        let path = Path::new(&stored.runbook_path);
        let text = match &with.runbook {
            None => effect.runbook_text.to_string(),
            Some(file) => {
                let bytes = std::fs::read(file).map_err(|e| EngineError::RunbookMissing {
                    run_id: run_id.to_string(),
                    path: file.display().to_string(),
                    reason: e.to_string(),
                })?;
                String::from_utf8(bytes).map_err(|_| EngineError::RunbookMissing {
                    run_id: run_id.to_string(),
                    path: file.display().to_string(),
                    reason: "not UTF-8".into(),
                })?
            }
        };
        let mut overrides: Vec<(String, String)> = effect.vars.clone().into_iter().collect();
        overrides.extend(with.vars.iter().cloned());
        let loaded =
            crate::runbook::load_str(path, &text, &overrides).map_err(EngineError::Runbook)?;
        let runbook = &loaded.runbook;
        let vars = runbook.shown_vars();
        let text_changed = text != effect.runbook_text;
        let vars_changed = vars != effect.vars;
        let changed = text_changed || vars_changed;
        if changed && !with.force {
            let what = match (text_changed, vars_changed) {
                (true, true) => "the runbook and variables",
                (true, false) => "the runbook",
                _ => "the variables",
            };
            return Err(EngineError::RunbookChanged {
                run_id: run_id.to_string(),
                what: what.to_string(),
            });
        }
        if with.force && !changed {
            return Err(EngineError::NothingToForce {
                run_id: run_id.to_string(),
            });
        }
        self.check_implementations(runbook)?;
        check_secrets(runbook)?;
        let identity = self.identity_for(runbook, mode).await?;
        check_approvers(run_id, &stored.records, identity.as_ref(), runbook)?;

        // The gates: judged on the runbook and variables in effect. A change starts a new
        // epoch in which nothing is approved yet.
        let approval_steps: Vec<String> = runbook
            .steps
            .iter()
            .chain(&runbook.finally)
            .filter(|s| s.action == "approval")
            .map(|s| s.id.clone())
            .collect();
        let mut granted: HashMap<String, Identity> = HashMap::new();
        let since = if changed {
            stored.records.len()
        } else {
            let gates = crate::evidence::approval::gates(run_id, &stored.records, runbook, &effect);
            for (step, gate) in gates {
                let refuse = |reason: String| EngineError::ApprovalNotTrusted {
                    run_id: run_id.to_string(),
                    step: step.clone(),
                    reason,
                    help: "the run stops here: find out who wrote this record (the journal's \
                           host and time, CloudTrail for the DynamoDB store); an approver can \
                           approve the step again with `drillbook approve`"
                        .into(),
                };
                if let Some(&at) = gate.unapproved_passes.first() {
                    return Err(refuse(format!(
                        "journal record {} passes the step, but no approval statement matches it",
                        stored.records[at].seq
                    )));
                }
                match gate.passed {
                    Some((_, who)) => {
                        granted.insert(step, who);
                    }
                    None => {
                        if let Some((at, reason)) = gate.refused.into_iter().next() {
                            return Err(refuse(format!(
                                "record {}: {reason}",
                                stored.records[at].seq
                            )));
                        }
                    }
                }
            }
            effect.since
        };

        let mut walk = Walk::new(&Plan::build(runbook)?);
        let in_doubt = walk.restore(&stored.records, mode, &approval_steps, granted, since);
        let resumed = Event::RunResumed {
            run_id: run_id.to_string(),
            runbook: stored.runbook_path.clone(),
            mode: Some(mode),
            steps: walk.topo_order(),
            identity: identity.clone(),
            host: host_name(),
            in_doubt,
            forced: changed,
            runbook_sha256: text_changed.then(|| loaded.sha256.clone()),
            runbook_text: text_changed.then(|| text.clone()),
            reapprove: if changed { approval_steps } else { vec![] },
            vars_sha256: vars_changed.then(|| crate::checkpoint::vars_sha256_of(&vars)),
            vars: vars_changed.then_some(vars),
        };
        self.store.append(run_id, vec![resumed.clone()]).await?;
        self.sink.emit(Utc::now(), &resumed);
        let run_id = run_id.to_string();
        drop(stored);
        self.drive(run_id, mode, runbook, walk, identity).await
    }
}
