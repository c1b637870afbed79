//! Approval statements: what `drillbook approve` signs, and the one rule by which `resume`,
//! `approve` and `verify-evidence` decide whether a gate passed.
//!
//! Everything in a run's state (its journal, its copy of the runbook and variables, the
//! DynamoDB items) is the executor's word. So a gate passes on one thing only: a statement
//! that binds the run, the step, the SHA-256 of the runbook and of the variables the run goes
//! on with, the definition of every step the gate guards, and the nonce of the request it
//! answers, signed by a key the runbook trusts (or, where the runbook opts into
//! `allow_unsigned: true`, the same statement unsigned, labelled unsigned everywhere). All of it
//! is recomputed from the runbook and variables in effect; a record of the approval step's
//! success, a resume's list, or any other record is never evidence that a gate passed. A
//! forced resume (a changed runbook or variables) starts a new epoch: every earlier statement
//! stops matching, and each gate is asked again with a new nonce. That is revocation by binding.

use std::collections::{BTreeMap, HashMap, HashSet};

use aws_smithy_types::base64;
use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};

use super::error::EvidenceError;
use super::manifest::SignerInfo;
use super::signer::{Prepared, verify_signature};
use crate::actions::aws::Identity;
use crate::checkpoint::{InEffect, Record};
use crate::event::{Event, SignedApproval};
use crate::runbook::{Approvers, Runbook, TrustedKeyRef};

/// `kind` of a statement.
pub const STATEMENT_KIND: &str = "drillbook-approval";
/// The statement format this build writes and accepts.
pub const STATEMENT_VERSION: u32 = 2;

/// What a gate's approval must bind, recomputed from the runbook and variables in effect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Binding {
    pub run_id: String,
    pub step: String,
    pub runbook_sha256: String,
    pub vars_sha256: String,
    /// Each step the gate guards (its transitive dependents) -> SHA-256 of its definition as
    /// it will run (action, rendered parameters, Region, role, needs).
    pub guards: BTreeMap<String, String>,
    /// The nonce of the request the approval answers.
    pub nonce: String,
}

/// What an approver signs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Statement {
    /// Always [`STATEMENT_KIND`].
    pub kind: String,
    /// Always [`STATEMENT_VERSION`].
    pub version: u32,
    pub run_id: String,
    pub step: String,
    /// SHA-256 of the runbook text the run goes on with.
    pub runbook_sha256: String,
    /// SHA-256 of the variables the run goes on with (a secret by name only).
    pub vars_sha256: String,
    /// The steps the gate guards, each with the SHA-256 of its definition.
    pub guards: BTreeMap<String, String>,
    /// The nonce `approval_requested` recorded.
    pub nonce: String,
    pub approver: Identity,
    pub comment: String,
    pub time: String,
}

impl Statement {
    pub fn new(
        binding: &Binding,
        approver: &Identity,
        comment: &str,
        time: DateTime<Utc>,
    ) -> Statement {
        Statement {
            kind: STATEMENT_KIND.to_string(),
            version: STATEMENT_VERSION,
            run_id: binding.run_id.clone(),
            step: binding.step.clone(),
            runbook_sha256: binding.runbook_sha256.clone(),
            vars_sha256: binding.vars_sha256.clone(),
            guards: binding.guards.clone(),
            nonce: binding.nonce.clone(),
            approver: approver.clone(),
            comment: comment.to_string(),
            time: time.to_rfc3339_opts(SecondsFormat::Secs, true),
        }
    }

    /// The statement as recorded (signed or not): its exact JSON text.
    pub fn text(&self) -> String {
        serde_json::to_string(self).expect("a statement serializes")
    }
}

/// The steps `step` guards: every step that (transitively) needs it, main and `finally`.
pub fn guarded_steps<'r>(runbook: &'r Runbook, step: &str) -> Vec<&'r crate::runbook::Step> {
    let all: Vec<&crate::runbook::Step> = runbook.steps.iter().chain(&runbook.finally).collect();
    let mut dependents: HashMap<&str, Vec<usize>> = HashMap::new();
    for (i, s) in all.iter().enumerate() {
        for n in &s.needs {
            dependents.entry(n.as_str()).or_default().push(i);
        }
    }
    let mut seen: HashSet<usize> = HashSet::new();
    let mut queue: Vec<&str> = vec![step];
    while let Some(id) = queue.pop() {
        for &i in dependents.get(id).map(Vec::as_slice).unwrap_or_default() {
            if seen.insert(i) {
                queue.push(&all[i].id);
            }
        }
    }
    let mut out: Vec<&crate::runbook::Step> = seen.into_iter().map(|i| all[i]).collect();
    out.sort_by(|a, b| a.id.cmp(&b.id));
    out
}

/// The SHA-256 of a step's definition as it will run: variables are rendered when the runbook
/// loads, the run id here; other steps' outputs stay references (they are bound by the steps
/// that produce them, which the gate guards or which ran before it).
fn definition_sha256(run_id: &str, step: &crate::runbook::Step) -> String {
    let ctx = crate::template::Context {
        vars: None,
        run_id: Some(run_id),
        outputs: None,
    };
    let with: BTreeMap<&String, serde_json::Value> = step
        .with
        .iter()
        .map(|(k, v)| {
            let v = crate::template::render_value(v, &ctx).unwrap_or_else(|_| v.clone());
            (k, v)
        })
        .collect();
    let def = serde_json::json!({
        "action": step.action,
        "with": with,
        "region": step.region,
        "role": step.role.as_ref().map(|r| &r.arn),
        "needs": step.needs,
    });
    crate::runbook::load::sha256_hex(def.to_string().as_bytes())
}

impl Binding {
    /// The binding of `step`'s approval under `runbook` (the one in effect), answering the
    /// request with `nonce`.
    pub fn of(
        run_id: &str,
        step: &str,
        runbook: &Runbook,
        in_effect: &InEffect<'_>,
        nonce: &str,
    ) -> Binding {
        Binding {
            run_id: run_id.to_string(),
            step: step.to_string(),
            runbook_sha256: in_effect.runbook_sha256.clone(),
            vars_sha256: in_effect.vars_sha256.clone(),
            guards: guarded_steps(runbook, step)
                .into_iter()
                .map(|s| (s.id.clone(), definition_sha256(run_id, s)))
                .collect(),
            nonce: nonce.to_string(),
        }
    }
}

/// Signs `statement` with a prepared signer (not `none`).
pub(crate) async fn sign(
    prepared: &Prepared,
    statement: &Statement,
) -> Result<SignedApproval, EvidenceError> {
    let text = statement.text();
    let signature =
        prepared
            .sign(text.as_bytes())
            .await?
            .ok_or_else(|| EvidenceError::InvalidSigner {
                spec: "none".into(),
                reason: "an approval is signed with a key".into(),
            })?;
    Ok(SignedApproval {
        statement: text,
        signer: prepared.info(),
        signature: base64::encode(signature),
    })
}

/// An unsigned approval: the statement, with no key (counts only under `allow_unsigned`).
pub fn unsigned(statement: &Statement) -> SignedApproval {
    SignedApproval {
        statement: statement.text(),
        signer: SignerInfo::None,
        signature: String::new(),
    }
}

/// How an approval stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Standing {
    /// Signed by a key the runbook trusts; the statement matches the run.
    Signed { signer: String },
    /// Unsigned, and the runbook accepts unsigned approvals.
    Unsigned,
    /// Given for an earlier runbook or variables: a forced resume revoked it (by changing what
    /// it bound). History, not a problem.
    Revoked { reason: String },
    /// Does not count, and why.
    Refused { reason: String },
}

impl Standing {
    pub fn counts(&self) -> bool {
        matches!(self, Standing::Signed { .. } | Standing::Unsigned)
    }
}

/// One approval in a journal, judged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Checked {
    pub seq: u64,
    pub step: String,
    pub approver: String,
    #[serde(flatten)]
    pub standing: Standing,
}

/// Judges one `approval_granted` record against the binding its gate needs now and the
/// runbook's `approvers:`. Nothing here asks an endpoint: a KMS key is trusted by the SHA-256
/// of its public key that the runbook pins.
pub fn check(event: &Event, binding: &Binding, approvers: &Approvers) -> Standing {
    let refused = |reason: String| Standing::Refused { reason };
    let Event::ApprovalGranted {
        step,
        approver,
        comment,
        signed,
    } = event
    else {
        return refused("not an approval".into());
    };
    if !approvers.admits(&approver.arn) {
        return refused(format!(
            "approver `{}` matches none of the runbook's `approvers.principals`",
            approver.arn
        ));
    }
    let Some(signed) = signed else {
        return refused("it carries no approval statement (an older drillbook wrote it)".into());
    };
    let statement: Statement = match serde_json::from_str(&signed.statement) {
        Ok(s) => s,
        Err(e) => return refused(format!("the approval statement is not readable: {e}")),
    };
    if statement.kind != STATEMENT_KIND || statement.version != STATEMENT_VERSION {
        return refused(format!(
            "the statement is not a drillbook approval of version {STATEMENT_VERSION}"
        ));
    }
    if statement.run_id != binding.run_id {
        return refused("the statement approves another run".into());
    }
    if statement.step != *step || statement.step != binding.step {
        return refused("the statement approves another step".into());
    }
    if statement.approver != *approver || statement.comment != *comment {
        return refused(
            "the statement names another approver or comment than the journal's record".into(),
        );
    }
    if statement.runbook_sha256 != binding.runbook_sha256 {
        return refused(format!(
            "the statement approves runbook {}, but the run goes on with runbook {} (a forced \
             resume changed it, which revokes every earlier approval)",
            short(&statement.runbook_sha256),
            short(&binding.runbook_sha256)
        ));
    }
    if statement.vars_sha256 != binding.vars_sha256 {
        return refused(format!(
            "the statement approves variables {}, but the run goes on with variables {} \
             (changed after the approval)",
            short(&statement.vars_sha256),
            short(&binding.vars_sha256)
        ));
    }
    if statement.guards != binding.guards {
        let changed: Vec<&str> = binding
            .guards
            .iter()
            .filter(|(k, v)| statement.guards.get(*k) != Some(*v))
            .map(|(k, _)| k.as_str())
            .chain(
                statement
                    .guards
                    .keys()
                    .filter(|k| !binding.guards.contains_key(*k))
                    .map(String::as_str),
            )
            .collect();
        return refused(format!(
            "the statement approves other definitions of the guarded steps ({})",
            changed.join(", ")
        ));
    }
    if statement.nonce != binding.nonce {
        return refused(
            "the statement answers another approval request (an earlier one: a replayed approval)"
                .into(),
        );
    }
    if signed.signer == SignerInfo::None {
        return if approvers.allow_unsigned {
            Standing::Unsigned
        } else {
            refused(
                "unsigned, and the runbook accepts only signed approvals (`approvers.keys`)".into(),
            )
        };
    }
    let Some(trusted) = approvers
        .keys
        .iter()
        .find(|k| matches_key(&k.key, &signed.signer))
    else {
        return refused(format!(
            "signed with {}, which the runbook's `approvers.keys` does not list",
            describe(&signed.signer)
        ));
    };
    if let Some(p) = &trusted.principal
        && !crate::runbook::model::arn_matches(p, &approver.arn)
    {
        return refused(format!(
            "signed with {}, which belongs to `{p}`, not to approver `{}`",
            describe(&signed.signer),
            approver.arn
        ));
    }
    if let SignerInfo::KmsEcdsaP256 {
        key_arn,
        public_key,
    } = &signed.signer
    {
        let pinned = trusted.sha256.as_deref().unwrap_or_default();
        let actual = base64::decode(public_key)
            .map(|der| crate::runbook::load::sha256_hex(&der))
            .unwrap_or_default();
        if pinned.is_empty() || !actual.eq_ignore_ascii_case(pinned) {
            return refused(format!(
                "the public key recorded for KMS key {key_arn} is not the one the runbook pins \
                 (sha256 {}, pinned {})",
                short(&actual),
                if pinned.is_empty() {
                    "nothing"
                } else {
                    short(pinned)
                }
            ));
        }
    }
    match verify_signature(
        &signed.signer,
        signed.statement.as_bytes(),
        Some(&signed.signature),
    ) {
        Ok(()) => Standing::Signed {
            signer: describe(&signed.signer),
        },
        Err(reason) => refused(format!("the signature does not verify: {reason}")),
    }
}

fn short(sha: &str) -> &str {
    sha.get(..12).unwrap_or(sha)
}

/// Whether a trusted key is the signer's.
fn matches_key(key: &TrustedKeyRef, signer: &SignerInfo) -> bool {
    match (key, signer) {
        (TrustedKeyRef::Ed25519 { public_key: k }, SignerInfo::Ed25519 { public_key }) => {
            k.eq_ignore_ascii_case(public_key)
        }
        (TrustedKeyRef::Kms { key_arn: k }, SignerInfo::KmsEcdsaP256 { key_arn, .. }) => {
            k == key_arn
        }
        _ => false,
    }
}

/// For messages and reports: `ed25519 HEX` or `KMS key ARN`.
pub fn describe(signer: &SignerInfo) -> String {
    match signer {
        SignerInfo::None => "no key".into(),
        SignerInfo::Ed25519 { public_key } => format!("ed25519 key {public_key}"),
        SignerInfo::KmsEcdsaP256 { key_arn, .. } => format!("KMS key {key_arn}"),
    }
}

/// One gate of a run, judged.
#[derive(Debug, Clone, Default)]
pub struct Gate {
    /// The request the gate waits on in the current epoch (index, nonce); `None` when it was
    /// not asked since the runbook or variables last changed.
    pub request: Option<(usize, String)>,
    /// The approval that passes it, and who gave it.
    pub passed: Option<(usize, Identity)>,
    /// Approvals recorded for the current request that do not count, with why.
    pub refused: Vec<(usize, String)>,
    /// Records of the current epoch that say the approval step succeeded although no approval
    /// passes it: forged, since the engine writes one only after a passing approval.
    pub unapproved_passes: Vec<usize>,
}

/// Every approval step of `runbook` (the one in effect), judged on `records` by the one rule.
pub fn gates(
    run_id: &str,
    records: &[Record],
    runbook: &Runbook,
    in_effect: &InEffect<'_>,
) -> BTreeMap<String, Gate> {
    let mut out: BTreeMap<String, Gate> = runbook
        .steps
        .iter()
        .chain(&runbook.finally)
        .filter(|s| s.action == "approval")
        .map(|s| (s.id.clone(), Gate::default()))
        .collect();
    let epoch = &records[in_effect.since.min(records.len())..];
    let at = |i: usize| in_effect.since + i;
    for (i, r) in epoch.iter().enumerate() {
        if let Event::ApprovalRequested { step, nonce, .. } = &r.event
            && let Some(g) = out.get_mut(step)
        {
            // A new request replaces the old one: its answers no longer count.
            *g = Gate {
                request: Some((at(i), nonce.clone())),
                ..Gate::default()
            };
        }
    }
    for (step, gate) in out.iter_mut() {
        let request = gate.request.clone();
        let binding = request
            .as_ref()
            .map(|(_, nonce)| Binding::of(run_id, step, runbook, in_effect, nonce));
        for (i, r) in records.iter().enumerate().skip(in_effect.since) {
            let Event::ApprovalGranted {
                step: s, approver, ..
            } = &r.event
            else {
                continue;
            };
            if s != step {
                continue;
            }
            // An approval in this epoch that comes before its request answers nothing the
            // run goes on with: a replayed record.
            let (Some((from, _)), Some(binding)) = (&request, &binding) else {
                gate.refused.push((
                    i,
                    "it answers no approval request of the runbook and variables in effect \
                     (a replayed approval)"
                        .into(),
                ));
                continue;
            };
            if i < *from {
                gate.refused.push((
                    i,
                    "it comes before the request it would answer (a replayed approval)".into(),
                ));
                continue;
            }
            {
                match check(&r.event, binding, &runbook.approvers) {
                    Standing::Refused { reason } | Standing::Revoked { reason } => {
                        gate.refused.push((i, reason))
                    }
                    _ if gate.passed.is_none() => gate.passed = Some((i, approver.clone())),
                    _ => {}
                }
            }
        }
    }
    // A dry run observes its approval steps and records them as passed: nothing is gated.
    let executed = matches!(
        records.first().map(|r| &r.event),
        Some(Event::RunStarted {
            mode: crate::event::Mode::Execute,
            ..
        })
    );
    for (i, r) in epoch.iter().enumerate() {
        if let Event::StepSucceeded { step, .. } = &r.event
            && executed
            && let Some(g) = out.get_mut(step)
            && g.passed.as_ref().is_none_or(|(p, _)| *p > at(i))
        {
            g.unapproved_passes.push(at(i));
        }
    }
    out
}

/// Every approval in a stored run's journal, judged: those of the current epoch against the
/// gate they answer, earlier ones as revoked by the change that ended their epoch.
pub fn check_all(
    run_id: &str,
    records: &[Record],
    runbook: &Runbook,
    in_effect: &InEffect<'_>,
) -> Vec<Checked> {
    let gates = gates(run_id, records, runbook, in_effect);
    let mut out = Vec::new();
    for (i, r) in records.iter().enumerate() {
        let Event::ApprovalGranted { step, approver, .. } = &r.event else {
            continue;
        };
        let gate = gates.get(step);
        let standing = match gate {
            None => Standing::Refused {
                reason: format!("the runbook in effect has no approval step `{step}`"),
            },
            Some(g) if g.passed.as_ref().is_some_and(|(p, _)| *p == i) => {
                let nonce = g.request.as_ref().map(|(_, n)| n.as_str()).unwrap_or("");
                check(
                    &r.event,
                    &Binding::of(run_id, step, runbook, in_effect, nonce),
                    &runbook.approvers,
                )
            }
            Some(g) => match g.refused.iter().find(|(at, _)| *at == i) {
                Some((_, reason)) => Standing::Refused {
                    reason: reason.clone(),
                },
                None if i < in_effect.since => Standing::Revoked {
                    reason: format!(
                        "the forced resume at record {} changed what it approved",
                        records[in_effect.since].seq
                    ),
                },
                None => Standing::Refused {
                    reason: "it answers no current request of the step".into(),
                },
            },
        };
        out.push(Checked {
            seq: r.seq,
            step: step.clone(),
            approver: approver.arn.clone(),
            standing,
        });
    }
    for (step, g) in &gates {
        for &i in &g.unapproved_passes {
            out.push(Checked {
                seq: records[i].seq,
                step: step.clone(),
                approver: "-".into(),
                standing: Standing::Refused {
                    reason: "the journal passes this approval step, but no approval statement \
                             matches it"
                        .into(),
                },
            });
        }
    }
    out.sort_by_key(|c| c.seq);
    out
}

/// Every approval in an evidence directory, judged against the runbook and variables in
/// effect, after the runbook copy and variables are checked against `run_started`'s hashes
/// (the copy is the executor's word too). `Ok(None)` when the directory holds no run.
pub fn check_evidence(dir: &std::path::Path) -> Result<Option<Vec<Checked>>, String> {
    let journal = dir.join(super::manifest::JOURNAL_FILE);
    let Ok(bytes) = std::fs::read(&journal) else {
        return Ok(None);
    };
    let Ok(runbook_text) = std::fs::read_to_string(dir.join("runbook.yaml")) else {
        return Ok(None);
    };
    // A broken journal is reported as such by the chain check.
    let Ok((records, head)) = crate::checkpoint::verify_journal("evidence", &bytes) else {
        return Ok(None);
    };
    let Some(Event::RunStarted {
        run_id, runbook, ..
    }) = records.first().map(|r| &r.event)
    else {
        return Err("the journal does not start with `run_started`".into());
    };
    let vars: BTreeMap<String, String> = match std::fs::read_to_string(dir.join("vars.json")) {
        Ok(t) => serde_json::from_str(&t).map_err(|e| format!("vars.json: {e}"))?,
        Err(_) => Default::default(),
    };
    let stored = crate::checkpoint::StoredRun {
        run_id: run_id.clone(),
        runbook_sha256: crate::runbook::load::sha256_hex(runbook_text.as_bytes()),
        runbook_text,
        runbook_path: runbook.clone(),
        vars,
        records,
        head_sha256: head,
    };
    stored.check_integrity().map_err(|e| e.to_string())?;
    let has_approvals = stored.records.iter().any(|r| {
        matches!(
            r.event,
            Event::ApprovalGranted { .. } | Event::ApprovalRequested { .. }
        )
    });
    let in_effect = stored.in_effect();
    let runbook = match stored.runbook_in_effect() {
        Ok(l) => l.runbook,
        // Nothing in the journal is about approvals: nothing to check.
        Err(_) if !has_approvals => return Ok(None),
        Err(d) => return Err(format!("the runbook in effect does not load: {d}")),
    };
    Ok(Some(check_all(
        &stored.run_id,
        &stored.records,
        &runbook,
        &in_effect,
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkpoint::{GENESIS, StoredRun};
    use ed25519_dalek::{Signer as _, SigningKey};

    const RUN: &str = "20261203-101500-ab12";
    const TEXT: &str = "version: 1\nname: g\napprovers: { allow_unsigned: true }\nsteps:\n  - id: gate\n    action: approval\n  - id: b\n    action: wait\n    needs: [gate]\n    with: { duration: 1s }\n";

    fn bob() -> Identity {
        Identity {
            account: "222233334444".into(),
            arn: "arn:aws:sts::222233334444:assumed-role/DrApprover/bob".into(),
        }
    }

    fn rec(seq: u64, event: Event) -> Record {
        Record {
            seq,
            at: Utc::now(),
            prev: GENESIS.to_string(),
            event,
        }
    }

    fn stored(records: Vec<Record>) -> StoredRun {
        StoredRun {
            run_id: RUN.into(),
            runbook_text: TEXT.into(),
            runbook_path: "r.yaml".into(),
            runbook_sha256: crate::runbook::load::sha256_hex(TEXT.as_bytes()),
            vars: BTreeMap::new(),
            records,
            head_sha256: String::new(),
        }
    }

    fn runbook(text: &str) -> Runbook {
        crate::runbook::load_str(std::path::Path::new("r.yaml"), text, &[])
            .unwrap()
            .runbook
    }

    fn started() -> Event {
        Event::RunStarted {
            format_version: 1,
            run_id: RUN.into(),
            runbook: "r.yaml".into(),
            runbook_sha256: crate::runbook::load::sha256_hex(TEXT.as_bytes()),
            mode: crate::event::Mode::Execute,
            identity: None,
            host: String::new(),
            user: String::new(),
            drillbook_version: String::new(),
            steps: vec!["gate".into(), "b".into()],
            vars_sha256: None,
            sealed_by: None,
        }
    }

    fn requested(nonce: &str) -> Event {
        Event::ApprovalRequested {
            step: "gate".into(),
            message: String::new(),
            nonce: nonce.into(),
        }
    }

    /// An approval of `gate` under the run's own runbook, answering nonce `n1`, signed with
    /// `key` (or unsigned), with `edit` applied to the statement first.
    fn granted(key: Option<&SigningKey>, edit: impl FnOnce(&mut Statement)) -> Event {
        let run = stored(vec![rec(1, started())]);
        let binding = Binding::of(RUN, "gate", &runbook(TEXT), &run.in_effect(), "n1");
        let mut st = Statement::new(&binding, &bob(), "ok", Utc::now());
        edit(&mut st);
        let signed = match key {
            None => unsigned(&st),
            Some(key) => {
                let text = st.text();
                SignedApproval {
                    signature: base64::encode(key.sign(text.as_bytes()).to_bytes()),
                    statement: text,
                    signer: SignerInfo::Ed25519 {
                        public_key: hex::encode(key.verifying_key().as_bytes()),
                    },
                }
            }
        };
        Event::ApprovalGranted {
            step: "gate".into(),
            approver: bob(),
            comment: "ok".into(),
            signed: Some(signed),
        }
    }

    fn journal(grant: Event) -> Vec<Record> {
        vec![
            rec(1, started()),
            rec(2, requested("n1")),
            rec(
                3,
                Event::RunPaused {
                    awaiting: vec![],
                    reason: "approval".into(),
                },
            ),
            rec(4, grant),
        ]
    }

    fn trusting(key: &SigningKey, principal: Option<&str>) -> String {
        let hexkey = hex::encode(key.verifying_key().as_bytes());
        match principal {
            Some(p) => format!(
                "approvers: {{ keys: [{{ key: \"ed25519:{hexkey}\", principal: \"{p}\" }}] }}\n"
            ),
            None => format!("approvers: {{ keys: [\"ed25519:{hexkey}\"] }}\n"),
        }
    }

    /// The gate as judged, under the runbook `TEXT` with `approvers` added (the run's runbook
    /// stays `TEXT`: only whom it trusts is varied here).
    fn gate(records: Vec<Record>, approvers: &str) -> Gate {
        let run = stored(records);
        let mut rb = runbook(TEXT);
        rb.approvers = runbook(&format!(
            "version: 1\nname: a\n{approvers}steps:\n  - id: w\n    action: wait\n    with: {{ duration: 0s }}\n"
        ))
        .approvers;
        gates(RUN, &run.records, &rb, &run.in_effect())
            .remove("gate")
            .unwrap()
    }

    fn refused(g: Gate, needle: &str) {
        assert!(g.passed.is_none(), "{needle}: passed");
        let reasons: Vec<&str> = g.refused.iter().map(|(_, r)| r.as_str()).collect();
        assert!(
            reasons.iter().any(|r| r.contains(needle)),
            "expected a refusal containing {needle:?}, got {reasons:?}"
        );
    }

    #[test]
    fn a_trusted_signature_over_the_binding_passes_the_gate() {
        let key = SigningKey::from_bytes(&[7; 32]);
        let g = gate(
            journal(granted(Some(&key), |_| {})),
            &trusting(&key, Some("arn:aws:sts::222233334444:*")),
        );
        assert_eq!(g.passed.map(|(i, _)| i), Some(3));
        assert!(g.refused.is_empty());
    }

    #[test]
    fn forgeries_and_statements_for_something_else_are_refused() {
        let key = SigningKey::from_bytes(&[7; 32]);
        let other = SigningKey::from_bytes(&[8; 32]);
        let trust = trusting(&key, None);
        let signed = |edit: fn(&mut Statement)| journal(granted(Some(&key), edit));
        refused(
            gate(journal(granted(Some(&other), |_| {})), &trust),
            "does not list",
        );
        refused(
            gate(
                signed(|_| {}),
                &trusting(&key, Some("arn:aws:iam::222233334444:user/carol")),
            ),
            "belongs to",
        );
        refused(
            gate(signed(|s| s.run_id = "other".into()), &trust),
            "another run",
        );
        refused(
            gate(signed(|s| s.step = "other".into()), &trust),
            "another step",
        );
        refused(
            gate(signed(|s| s.runbook_sha256 = "00".into()), &trust),
            "goes on with runbook",
        );
        refused(
            gate(signed(|s| s.vars_sha256 = "00".into()), &trust),
            "variables",
        );
        refused(
            gate(
                signed(|s| {
                    s.guards.insert("b".into(), "00".into());
                }),
                &trust,
            ),
            "guarded steps (b)",
        );
        refused(gate(signed(|s| s.nonce = "n0".into()), &trust), "replayed");
        // The record's approver rewritten after signing.
        let mut forged = granted(Some(&key), |_| {});
        if let Event::ApprovalGranted { approver, .. } = &mut forged {
            approver.arn = "arn:aws:iam::222233334444:user/mallory".into();
        }
        refused(gate(journal(forged), &trust), "another approver");
        // The statement changed after signing.
        let mut forged = granted(Some(&key), |_| {});
        if let Event::ApprovalGranted {
            signed: Some(s), ..
        } = &mut forged
        {
            s.statement = s.statement.replace("\"ok\"", "\"ok\" ");
        }
        refused(gate(journal(forged), &trust), "does not verify");
        // Unsigned: only with the opt-in, and only matching the binding too.
        refused(
            gate(journal(granted(None, |_| {})), &trust),
            "accepts only signed",
        );
        let open = "approvers: { allow_unsigned: true }\n";
        assert!(gate(journal(granted(None, |_| {})), open).passed.is_some());
        refused(
            gate(journal(granted(None, |s| s.nonce = "n0".into())), open),
            "replayed",
        );
        // No statement at all (as an older drillbook wrote it).
        let mut bare = granted(None, |_| {});
        if let Event::ApprovalGranted { signed, .. } = &mut bare {
            *signed = None;
        }
        refused(gate(journal(bare), open), "no approval statement");
    }

    #[test]
    fn a_record_that_the_approval_step_succeeded_is_no_approval() {
        let succeeded = |dry_run| Event::StepSucceeded {
            step: "gate".into(),
            outcome: Default::default(),
            attempts: 1,
            duration_ms: 0,
            aws_wait_ms: 0,
            dry_run,
        };
        for dry_run in [false, true] {
            let g = gate(
                vec![
                    rec(1, started()),
                    rec(2, requested("n1")),
                    rec(3, succeeded(dry_run)),
                ],
                "approvers: { allow_unsigned: true }\n",
            );
            assert!(g.passed.is_none());
            assert_eq!(g.unapproved_passes, vec![2]);
        }
        // After a passing approval, the engine's own record of the step is no forgery.
        let mut recs = journal(granted(None, |_| {}));
        recs.push(rec(5, succeeded(false)));
        let g = gate(recs, "approvers: { allow_unsigned: true }\n");
        assert!(g.passed.is_some() && g.unapproved_passes.is_empty());
    }

    #[test]
    fn a_forced_change_revokes_every_earlier_approval_by_binding() {
        let key = SigningKey::from_bytes(&[7; 32]);
        let text2 = format!("{TEXT}# changed\n");
        let text1 = TEXT;
        let forced = |text: &str| Event::RunResumed {
            run_id: String::new(),
            runbook: String::new(),
            mode: None,
            steps: vec![],
            identity: None,
            host: String::new(),
            in_doubt: vec![],
            forced: true,
            runbook_sha256: Some(crate::runbook::load::sha256_hex(text.as_bytes())),
            runbook_text: Some(text.to_string()),
            reapprove: vec!["gate".into()],
            vars: None,
            vars_sha256: None,
        };
        let mut recs = journal(granted(Some(&key), |_| {}));
        recs.push(rec(5, forced(&text2)));
        // The old approval, replayed after the change (the chain recomputed), and the
        // runbook changed back: neither matches the new epoch's request.
        recs.push(rec(6, recs[3].event.clone()));
        recs.push(rec(7, forced(text1)));
        recs.push(rec(8, requested("n2")));
        recs.push(rec(9, recs[3].event.clone()));
        let run = stored(recs);
        let effect = run.in_effect();
        assert_eq!(effect.since, 6);
        let rb = runbook(effect.runbook_text);
        let checked = check_all(RUN, &run.records, &rb, &effect);
        let by_seq: BTreeMap<u64, &Standing> =
            checked.iter().map(|c| (c.seq, &c.standing)).collect();
        assert!(
            matches!(by_seq[&4], Standing::Revoked { .. }),
            "{checked:?}"
        );
        assert!(
            matches!(by_seq[&6], Standing::Revoked { .. }),
            "{checked:?}"
        );
        match by_seq[&9] {
            Standing::Refused { reason } => assert!(reason.contains("replayed"), "{reason}"),
            other => panic!("{other:?}"),
        }
        assert!(
            gates(RUN, &run.records, &rb, &effect)["gate"]
                .passed
                .is_none()
        );
    }
}
