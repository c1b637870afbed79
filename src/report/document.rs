//! The run document: everything a report says about one run, built once from the journal and
//! rendered by the HTML, Markdown, JUnit and JSON writers. Its JSON shape (`format_version: 1`)
//! is documented in `docs/report-json.md`.
//!
//! Cost: the timing report (O(records + steps + edges)), plus one pass over the records.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::actions::aws::{Identity, Impairment};
use crate::actions::{Finding, Observation};
use crate::checkpoint::{GENESIS, StoredRun};
use crate::event::{Event, Mode, RunStatus, StepStatus};
use crate::runbook::Runbook;
use crate::scenario::ExpectationVerdict;

pub use crate::checkpoint::view::{
    FaultRow, ObjectiveRow, ObjectiveState, RunView, StepCounts, Verdict,
};

/// Version of the JSON shape of [`RunDocument`].
pub const DOCUMENT_FORMAT_VERSION: u32 = 1;

/// The runbook as run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunbookInfo {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Path as given to drillbook.
    pub path: String,
    /// Hex SHA-256 of the runbook file as run.
    pub sha256: String,
}

/// The game-day scenario, for a drill.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScenarioInfo {
    pub name: String,
    pub sha256: String,
}

/// Who ran it, from where.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RanBy {
    /// The AWS caller identity's ARN (STS GetCallerIdentity), when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity_arn: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    /// Local user name.
    pub user: String,
    pub host: String,
}

/// A resume of the run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Resume {
    pub at: DateTime<Utc>,
    pub host: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity_arn: Option<String>,
    /// Steps that were in flight when the previous process stopped.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub in_doubt: Vec<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub forced: bool,
}

/// A stretch of time in which no process worked on the run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Pause {
    pub from_ms: u64,
    pub to_ms: u64,
    /// The run waited for an approval (else it was interrupted or crashed).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub waiting: bool,
}

/// Calls an impaired Region refused, grouped by the step that made them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImpairedStep {
    /// `None`: made outside any step (expectation checks, identity lookup).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step: Option<String>,
    pub calls: Vec<RefusedCall>,
}

/// One distinct refused call and how often it was refused.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RefusedCall {
    pub region: String,
    pub service: String,
    pub operation: String,
    pub count: u32,
}

/// An approval step: who was asked, who approved, when.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApprovalRow {
    pub step: String,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requested_at: Option<DateTime<Utc>>,
    /// `None` while it is pending.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub granted_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approver: Option<Identity>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub comment: String,
    /// The key the approval was signed with (`ed25519 key HEX`, `KMS key ARN`); `None` for an
    /// unsigned approval. Whether the runbook trusts it is `verify-evidence`'s to say.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signed_with: Option<String>,
}

/// A failed attempt that was retried.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RetryRow {
    pub attempt: u32,
    pub error: String,
    pub delay_ms: u64,
}

/// What a step observed (its last observation).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Observed {
    pub summary: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub facts: BTreeMap<String, serde_json::Value>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub findings: Vec<Finding>,
}

/// One step of the run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepRow {
    pub id: String,
    pub action: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub needs: Vec<String>,
    /// A `finally:` (cleanup) step.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub cleanup: bool,
    pub status: StepStatus,
    /// Offsets in wall-clock milliseconds since the run started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finish_ms: Option<u64>,
    /// Active duration (paused gaps left out).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<u64>,
    pub attempts: u32,
    pub aws_wait_ms: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slack_ms: Option<u64>,
    /// On the actual critical path.
    pub critical: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed: Option<Observed>,
    /// Changes the observation said `apply` would make (what a dry run would change).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub would_change: Vec<String>,
    /// The outcome's summary, for a step that succeeded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<String>,
    /// Changes actually made.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub changed: Vec<String>,
    /// The changes were sent by an attempt that a crash or Ctrl-C cut off; the resumed run
    /// found them in place (`observed` is then what that attempt saw before changing).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub changed_before_resume: bool,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub outputs: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub retries: Vec<RetryRow>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
    /// Why it was skipped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// The journal's size and the head of its hash chain.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JournalInfo {
    pub records: u64,
    /// Hex SHA-256 of the journal's last line.
    pub head_sha256: String,
}

/// Everything a report says about one run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunDocument {
    pub format_version: u32,
    pub verdict: Verdict,
    /// One sentence saying why.
    pub headline: String,
    pub run_id: String,
    /// The journal's status: `running` when it has no end after its last start.
    pub status: RunStatus,
    pub mode: Mode,
    pub runbook: RunbookInfo,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scenario: Option<ScenarioInfo>,
    pub ran_by: RanBy,
    /// The drillbook version that ran it.
    pub drillbook_version: String,
    /// The drillbook version that wrote this report.
    pub report_version: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended_at: Option<DateTime<Utc>>,
    /// Wall clock, first record to last.
    pub total_ms: u64,
    /// Time in which a drillbook process was running the run (see `checkpoint::view`).
    pub active_ms: u64,
    /// Time in which no process ran because the run waited for an approval.
    #[serde(default)]
    pub waiting_ms: u64,
    /// The recovery time the RTO is judged on; absent unless the run executed to the end of
    /// its recovery.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recovery_ms: Option<u64>,
    pub resumes: u32,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resumed: Vec<Resume>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pauses: Vec<Pause>,
    pub objectives: Vec<ObjectiveRow>,
    /// Where the recovery time leaves out resolver caching.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dns_caching: Vec<crate::checkpoint::view::DnsCaching>,
    pub expectations: Vec<ExpectationVerdict>,
    pub impaired: Vec<Impairment>,
    pub impaired_steps: Vec<ImpairedStep>,
    /// The drill's FIS experiments (scenario `faults:`), in the order they were started.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub faults: Vec<FaultRow>,
    pub approvals: Vec<ApprovalRow>,
    /// Every AWS call that changed something, with its request id: what to look up in
    /// CloudTrail (`drillbook verify-evidence DIR --cloudtrail`).
    #[serde(default)]
    pub aws_calls: Vec<crate::actions::aws::AwsCall>,
    pub counts: StepCounts,
    /// Step ids, first to last.
    pub critical_path: Vec<String>,
    pub critical_path_ms: u64,
    /// Ordered by start; steps that never started last.
    pub steps: Vec<StepRow>,
    pub journal: JournalInfo,
}

/// Per-step details the run document shows beyond the read model: what the step observed,
/// the changes it made, its retries.
#[derive(Default)]
struct Gathered<'a> {
    observation: Option<&'a Observation>,
    changed: Option<&'a [String]>,
    /// What an attempt cut off by a crash saw and was about to change.
    interrupted: Option<&'a Observation>,
    changed_before_resume: bool,
    retries: Vec<RetryRow>,
}

/// What the journal's records say beyond the read model ([`RunView`]): who ran it and from
/// where, the resumes, the AWS calls, and each step's observations, changes and retries.
struct Read<'r> {
    ran_by: RanBy,
    drillbook_version: String,
    runbook_path: String,
    runbook_sha: String,
    resumed: Vec<Resume>,
    aws_calls: Vec<crate::actions::aws::AwsCall>,
    gathered: HashMap<&'r str, Gathered<'r>>,
}

fn read(run: &StoredRun) -> Read<'_> {
    let mut ran_by = RanBy {
        identity_arn: None,
        account: None,
        user: String::new(),
        host: String::new(),
    };
    let mut drillbook_version = String::new();
    let mut runbook_path = run.runbook_path.clone();
    let mut runbook_sha = run.runbook_sha256.clone();
    let mut resumed = Vec::new();
    let mut aws_calls: Vec<crate::actions::aws::AwsCall> = Vec::new();
    let mut gathered: HashMap<&str, Gathered> = HashMap::new();

    for rec in &run.records {
        match &rec.event {
            Event::RunStarted {
                runbook,
                runbook_sha256,
                identity,
                host,
                user,
                drillbook_version: v,
                ..
            } => {
                if runbook_path.is_empty() {
                    runbook_path = runbook.clone();
                }
                if runbook_sha.is_empty() {
                    runbook_sha = runbook_sha256.clone();
                }
                ran_by.identity_arn = identity.as_ref().map(|i| i.arn.clone());
                ran_by.account = identity.as_ref().map(|i| i.account.clone());
                ran_by.user = user.clone();
                ran_by.host = host.clone();
                drillbook_version = v.clone();
            }
            Event::RunResumed {
                identity,
                host,
                in_doubt,
                forced,
                ..
            } => {
                for step in in_doubt {
                    let g = gathered.entry(step).or_default();
                    if g.observation.is_some_and(|o| !o.changes.is_empty()) {
                        g.interrupted = g.observation;
                    }
                }
                resumed.push(Resume {
                    at: rec.at,
                    host: host.clone(),
                    identity_arn: identity.as_ref().map(|i| i.arn.clone()),
                    in_doubt: in_doubt.clone(),
                    forced: *forced,
                })
            }
            Event::StepObserved { step, observation } => {
                gathered.entry(step).or_default().observation = Some(observation);
            }
            Event::StepRetrying {
                step,
                attempt,
                error,
                delay_ms,
            } => gathered.entry(step).or_default().retries.push(RetryRow {
                attempt: *attempt,
                error: error.to_string(),
                delay_ms: *delay_ms,
            }),
            Event::StepSucceeded { step, outcome, .. } => {
                let g = gathered.entry(step).or_default();
                g.changed = Some(&outcome.changes);
                // Resumed in doubt and nothing left to do: the cut-off attempt made the
                // changes it had planned.
                match g.interrupted.take() {
                    Some(before) if outcome.changes.is_empty() => {
                        g.observation = Some(before);
                        g.changed = Some(&before.changes);
                        g.changed_before_resume = true;
                    }
                    _ => {}
                }
            }
            Event::AwsCalls { calls, .. } => aws_calls.extend(calls.iter().cloned()),
            _ => {}
        }
    }

    Read {
        ran_by,
        drillbook_version,
        runbook_path,
        runbook_sha,
        resumed,
        aws_calls,
        gathered,
    }
}

impl RunDocument {
    /// Builds the document of a stored run, with its runbook in effect (parsed from the stored
    /// text).
    pub fn build(run: &StoredRun, runbook: &Runbook) -> RunDocument {
        RunDocument::from_view(run, runbook, &RunView::build(run, runbook))
    }

    /// The document of a stored run whose read model is already built.
    pub fn from_view(run: &StoredRun, runbook: &Runbook, view: &RunView) -> RunDocument {
        let Read {
            ran_by,
            drillbook_version,
            runbook_path,
            runbook_sha,
            resumed,
            aws_calls,
            gathered,
        } = read(run);

        let steps = step_rows(view, runbook, gathered);
        let (scenario, expectations, impaired, impaired_steps) = match &view.drill {
            Some(d) if d.judged => (
                Some(ScenarioInfo {
                    name: d.scenario.clone(),
                    sha256: d.scenario_sha256.clone(),
                }),
                d.expectations.clone(),
                d.impaired.clone(),
                refused_by_step(&d.refused_calls),
            ),
            _ => (None, Vec::new(), Vec::new(), Vec::new()),
        };
        let judged = scenario.is_some();
        let failed_steps: Vec<&str> = steps
            .iter()
            .filter(|s| s.status == StepStatus::Failed)
            .map(|s| s.id.as_str())
            .collect();
        let failed_expectations: Vec<&str> = expectations
            .iter()
            .filter(|e| !e.passed)
            .map(|e| e.id.as_str())
            .collect();
        let missed: Vec<String> = view
            .objectives
            .iter()
            .filter(|o| {
                o.verdict == ObjectiveState::Missed
                    || (judged
                        && view.mode == Mode::Execute
                        && view.status == RunStatus::Succeeded
                        && o.verdict == ObjectiveState::NotAssessed)
            })
            .map(|o| o.objective.to_uppercase())
            .collect();
        let awaiting: Vec<&str> = steps
            .iter()
            .filter(|s| s.status == StepStatus::AwaitingApproval)
            .map(|s| s.id.as_str())
            .collect();
        let headline = headline(
            view.verdict,
            view.status,
            view.mode,
            judged,
            &failed_steps,
            &failed_expectations,
            &missed,
            &awaiting,
            &run.run_id,
            &view.counts,
        );

        let journal = JournalInfo {
            records: run.records.len() as u64,
            head_sha256: run
                .records
                .last()
                .and_then(|r| serde_json::to_string(r).ok())
                .map(|l| crate::runbook::load::sha256_hex(l.as_bytes()))
                .unwrap_or_else(|| GENESIS.to_string()),
        };

        RunDocument {
            format_version: DOCUMENT_FORMAT_VERSION,
            verdict: view.verdict,
            headline,
            run_id: run.run_id.clone(),
            status: view.status,
            mode: view.mode,
            runbook: RunbookInfo {
                name: runbook.name.clone(),
                description: runbook.description.clone(),
                path: runbook_path,
                sha256: runbook_sha,
            },
            scenario,
            ran_by,
            drillbook_version,
            report_version: env!("CARGO_PKG_VERSION").to_string(),
            started_at: view.started_at,
            ended_at: view.ended_at,
            total_ms: view.times.total_ms,
            active_ms: view.times.active_ms,
            waiting_ms: view.times.waiting_ms,
            recovery_ms: view.times.recovery_ms,
            resumes: view.resumes,
            resumed,
            pauses: view
                .gaps
                .iter()
                .map(|g| Pause {
                    from_ms: g.from_ms,
                    to_ms: g.to_ms,
                    waiting: g.waiting,
                })
                .collect(),
            objectives: view.objectives.clone(),
            dns_caching: view.dns_caching.clone(),
            expectations,
            impaired,
            impaired_steps,
            faults: view.faults.clone(),
            approvals: view
                .approvals
                .iter()
                .map(|a| ApprovalRow {
                    step: a.step.clone(),
                    message: a.message.clone(),
                    requested_at: a.requested_at,
                    granted_at: a.granted_at,
                    approver: a.approver.clone(),
                    comment: a.comment.clone(),
                    signed_with: a.signer.as_ref().map(crate::evidence::approval::describe),
                })
                .collect(),
            aws_calls,
            counts: view.counts.clone(),
            critical_path: view.critical_path.clone(),
            critical_path_ms: view.critical_path_ms,
            steps,
            journal,
        }
    }

    /// Sets the journal's head from the journal file's bytes. [`RunDocument::build`] computes it
    /// from the parsed records, which matches the file as drillbook writes it; a caller that has
    /// the file should prefer its bytes.
    pub fn set_journal_bytes(&mut self, journal: &[u8]) {
        let body = journal.strip_suffix(b"\n").unwrap_or(journal);
        let last = body.rsplit(|&b| b == b'\n').next().unwrap_or(b"");
        if !last.is_empty() {
            self.journal.head_sha256 = crate::runbook::load::sha256_hex(last);
        }
    }

    /// True for a game-day drill (a scenario judged the run).
    pub fn is_drill(&self) -> bool {
        self.scenario.is_some()
    }
}

/// The read model's rows, completed with what the runbook and the records say.
fn step_rows(
    view: &RunView,
    runbook: &Runbook,
    mut gathered: HashMap<&str, Gathered<'_>>,
) -> Vec<StepRow> {
    let spec: HashMap<&str, &crate::runbook::Step> = runbook
        .steps
        .iter()
        .chain(&runbook.finally)
        .map(|s| (s.id.as_str(), s))
        .collect();
    view.steps
        .iter()
        .map(|t| {
            let s = spec.get(t.id.as_str());
            let g = gathered.remove(t.id.as_str()).unwrap_or_default();
            StepRow {
                id: t.id.clone(),
                action: t.action.clone(),
                description: s.and_then(|s| s.description.clone()),
                region: s.and_then(|s| s.region.clone()),
                needs: s.map(|s| s.needs.clone()).unwrap_or_default(),
                cleanup: t.cleanup,
                status: t.status,
                start_ms: t.start_ms,
                finish_ms: t.finish_ms,
                duration_ms: t.duration_ms,
                attempts: t.attempts,
                aws_wait_ms: t.aws_wait_ms,
                slack_ms: t.slack_ms,
                critical: t.critical,
                observed: g.observation.map(|o| Observed {
                    summary: o.summary.clone(),
                    facts: o.facts.clone(),
                    findings: o.findings.clone(),
                }),
                would_change: g.observation.map(|o| o.changes.clone()).unwrap_or_default(),
                result: t.result.clone(),
                changed: g.changed.map(<[String]>::to_vec).unwrap_or_default(),
                changed_before_resume: g.changed_before_resume,
                outputs: t.outputs.clone(),
                retries: g.retries,
                error: t.error.clone(),
                hint: t.hint.clone(),
                reason: t.reason.clone(),
            }
        })
        .collect()
}

/// The calls an impairment refused, grouped by step in order of first refusal, duplicates
/// counted.
fn refused_by_step(refused: &[crate::actions::aws::ImpairedCall]) -> Vec<ImpairedStep> {
    let mut groups: Vec<ImpairedStep> = Vec::new();
    let mut by_step: HashMap<Option<&str>, usize> = HashMap::new();
    for c in refused.iter() {
        let k = *by_step.entry(c.step.as_deref()).or_insert_with(|| {
            groups.push(ImpairedStep {
                step: c.step.clone(),
                calls: Vec::new(),
            });
            groups.len() - 1
        });
        let calls = &mut groups[k].calls;
        match calls
            .iter_mut()
            .find(|x| x.region == c.region && x.service == c.service && x.operation == c.operation)
        {
            Some(x) => x.count += 1,
            None => calls.push(RefusedCall {
                region: c.region.clone(),
                service: c.service.clone(),
                operation: c.operation.clone(),
                count: 1,
            }),
        }
    }
    groups
}

#[expect(
    clippy::too_many_arguments,
    reason = "the parts of one document, named at the one call"
)]
fn headline(
    verdict: Verdict,
    status: RunStatus,
    mode: Mode,
    drill: bool,
    failed_steps: &[&str],
    failed_expectations: &[&str],
    missed: &[String],
    awaiting: &[&str],
    run_id: &str,
    counts: &StepCounts,
) -> String {
    let list = |ids: &[&str]| {
        let shown: Vec<String> = ids.iter().take(3).map(|i| format!("`{i}`")).collect();
        let more = ids.len().saturating_sub(3);
        if more > 0 {
            format!("{} and {more} more", shown.join(", "))
        } else {
            shown.join(", ")
        }
    };
    match verdict {
        Verdict::Failed => {
            let mut why = Vec::new();
            if !failed_steps.is_empty() {
                why.push(format!(
                    "{} {} failed",
                    if failed_steps.len() == 1 {
                        "step"
                    } else {
                        "steps"
                    },
                    list(failed_steps)
                ));
            }
            if !failed_expectations.is_empty() {
                why.push(format!(
                    "{} {} did not hold",
                    if failed_expectations.len() == 1 {
                        "expectation"
                    } else {
                        "expectations"
                    },
                    list(failed_expectations)
                ));
            }
            for m in missed {
                why.push(format!("the {m} objective was not met"));
            }
            if why.is_empty() {
                why.push("the run failed".into());
            }
            let mut s = why.join("; ");
            if let Some(first) = s.get_mut(0..1) {
                first.make_ascii_uppercase();
            }
            if mode == Mode::DryRun {
                s.push_str(" (dry run: nothing was changed)");
            }
            s.push('.');
            s
        }
        Verdict::Paused => {
            if !awaiting.is_empty() {
                format!(
                    "Waiting for approval of {}; resume with `drillbook resume {run_id}`.",
                    list(awaiting)
                )
            } else if status == RunStatus::Paused {
                format!("The run was paused; resume with `drillbook resume {run_id}`.")
            } else {
                format!(
                    "The journal has no end: the run is still going or was interrupted; resume with `drillbook resume {run_id}`."
                )
            }
        }
        Verdict::DryRun => format!(
            "Dry run: {} of {} steps observed with no problem found; nothing was changed.",
            counts.succeeded, counts.total
        ),
        Verdict::Passed => {
            if drill {
                format!(
                    "Every objective and expectation held; {} steps succeeded{}.",
                    counts.succeeded,
                    if counts.deferred > 0 {
                        format!(", {} deferred", counts.deferred)
                    } else {
                        String::new()
                    }
                )
            } else {
                let mut also = Vec::new();
                if counts.deferred > 0 {
                    also.push(format!("{} deferred", counts.deferred));
                }
                if counts.skipped > 0 {
                    also.push(format!("{} skipped", counts.skipped));
                }
                if also.is_empty() {
                    format!("All {} steps succeeded.", counts.succeeded)
                } else {
                    format!("{} steps succeeded, {}.", counts.succeeded, also.join(", "))
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkpoint::{FORMAT_VERSION, Record};
    use crate::event::RunStatus;

    fn rec(seq: u64, secs: i64, event: Event) -> Record {
        Record {
            seq,
            at: DateTime::from_timestamp(1_800_000_000 + secs, 0).unwrap_or_default(),
            prev: GENESIS.into(),
            event,
        }
    }

    fn run(entries: Vec<(i64, Event)>) -> StoredRun {
        StoredRun {
            head_sha256: String::new(),
            run_id: "r1".into(),
            runbook_text: String::new(),
            runbook_path: "rb.yaml".into(),
            runbook_sha256: "ab".repeat(32),
            vars: Default::default(),
            records: entries
                .into_iter()
                .enumerate()
                .map(|(k, (s, e))| rec(k as u64 + 1, s, e))
                .collect(),
        }
    }

    fn started(mode: Mode) -> Event {
        Event::RunStarted {
            format_version: FORMAT_VERSION,
            run_id: "r1".into(),
            runbook: "rb.yaml".into(),
            runbook_sha256: String::new(),
            mode,
            identity: Some(Identity {
                account: "111122223333".into(),
                arn: "arn:aws:iam::111122223333:user/oncall".into(),
            }),
            host: "laptop".into(),
            user: "oncall".into(),
            drillbook_version: "0.1.0".into(),
            steps: vec![],
            vars_sha256: None,
            sealed_by: None,
        }
    }

    fn runbook() -> Runbook {
        crate::runbook::load_str(
            std::path::Path::new("rb.yaml"),
            "version: 1\nname: rb\nobjectives: { rto: 1m }\nsteps:\n  - id: a\n    action: wait\n    with: { duration: 1s }\n",
            &[],
        )
        .map(|l| l.runbook)
        .unwrap_or_else(|d| panic!("{d}"))
    }

    fn ok(step: &str) -> Event {
        Event::StepSucceeded {
            step: step.into(),
            outcome: Default::default(),
            attempts: 1,
            duration_ms: 1000,
            aws_wait_ms: 0,
            dry_run: false,
        }
    }

    #[test]
    fn verdicts_follow_the_journal() {
        let rb = runbook();
        let finished = |s| Event::RunFinished { status: s };
        let d = RunDocument::build(
            &run(vec![
                (0, started(Mode::Execute)),
                (
                    0,
                    Event::StepStarted {
                        action: String::new(),
                        step: "a".into(),
                        attempt: 1,
                    },
                ),
                (1, ok("a")),
                (1, finished(RunStatus::Succeeded)),
            ]),
            &rb,
        );
        assert_eq!(d.verdict, Verdict::Passed);
        assert_eq!(d.objectives[0].verdict, ObjectiveState::Met);
        assert_eq!(d.ran_by.account.as_deref(), Some("111122223333"));
        assert_eq!(d.journal.records, 4);
        assert_eq!(d.runbook.sha256, "ab".repeat(32));

        let d = RunDocument::build(
            &run(vec![
                (0, started(Mode::DryRun)),
                (
                    0,
                    Event::StepStarted {
                        action: String::new(),
                        step: "a".into(),
                        attempt: 1,
                    },
                ),
                (1, ok("a")),
                (1, finished(RunStatus::Succeeded)),
            ]),
            &rb,
        );
        assert_eq!(d.verdict, Verdict::DryRun);
        assert_eq!(d.objectives[0].verdict, ObjectiveState::NotAssessed);

        let d = RunDocument::build(
            &run(vec![
                (0, started(Mode::Execute)),
                (
                    0,
                    Event::StepStarted {
                        action: String::new(),
                        step: "a".into(),
                        attempt: 1,
                    },
                ),
            ]),
            &rb,
        );
        assert_eq!(d.verdict, Verdict::Paused);
        assert!(d.headline.contains("drillbook resume r1"), "{}", d.headline);

        let d = RunDocument::build(
            &run(vec![
                (0, started(Mode::Execute)),
                (
                    0,
                    Event::StepStarted {
                        action: String::new(),
                        step: "a".into(),
                        attempt: 1,
                    },
                ),
                (90, ok("a")),
                (90, finished(RunStatus::Succeeded)),
            ]),
            &rb,
        );
        assert_eq!(d.verdict, Verdict::Failed);
        assert_eq!(d.headline, "The RTO objective was not met.");
    }

    #[test]
    fn an_optional_step_that_could_not_act_is_deferred() {
        let d = RunDocument::build(
            &run(vec![
                (0, started(Mode::Execute)),
                (
                    0,
                    Event::StepStarted {
                        action: String::new(),
                        step: "a".into(),
                        attempt: 1,
                    },
                ),
                (
                    1,
                    Event::StepSucceeded {
                        step: "a".into(),
                        outcome: crate::actions::Outcome {
                            summary: "deferred: ca-central-1 cannot be reached".into(),
                            ..Default::default()
                        },
                        attempts: 1,
                        duration_ms: 1000,
                        aws_wait_ms: 0,
                        dry_run: false,
                    },
                ),
                (
                    1,
                    Event::RunFinished {
                        status: RunStatus::Succeeded,
                    },
                ),
            ]),
            &runbook(),
        );
        assert_eq!(d.steps[0].status, StepStatus::Deferred);
        assert_eq!((d.counts.succeeded, d.counts.deferred), (0, 1));
        assert_eq!(d.verdict, Verdict::Passed);
        assert_eq!(d.headline, "0 steps succeeded, 1 deferred.");
        assert!(
            crate::report::junit::render(&d).contains("<skipped message=\"deferred: ca-central-1")
        );
    }

    #[test]
    fn empty_journal_does_not_panic() {
        let d = RunDocument::build(&run(vec![]), &runbook());
        assert_eq!(d.journal.head_sha256, GENESIS);
        assert_eq!(d.verdict, Verdict::Paused);
    }

    #[test]
    fn journal_head_from_bytes() {
        let mut d = RunDocument::build(&run(vec![(0, started(Mode::Execute))]), &runbook());
        d.set_journal_bytes(b"{\"a\":1}\n{\"b\":2}\n");
        assert_eq!(
            d.journal.head_sha256,
            crate::runbook::load::sha256_hex(b"{\"b\":2}")
        );
    }
}
