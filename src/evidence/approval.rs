//! Signed approvals: the statement `drillbook approve --sign-with` signs, and the checks that
//! `resume` and `verify-evidence` make on every approval in a journal.
//!
//! A statement names the run, the step, the runbook's SHA-256, the journal head the approver
//! saw, the approver and the time. It is signed with the approver's own key (an Ed25519 key
//! file, or an AWS KMS key through the approver's credentials), so whoever executes the run
//! cannot write an approval that verifies: the journal's hash chain has no key, a signature does.

use std::collections::HashMap;

use aws_smithy_types::base64;
use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};

use super::error::EvidenceError;
use super::manifest::SignerInfo;
use super::signer::{Prepared, verify_signature};
use crate::actions::aws::{Aws, Identity};
use crate::checkpoint::Record;
use crate::event::{Event, SignedApproval};
use crate::runbook::{Approvers, TrustedKeyRef};

/// `kind` of a statement.
pub const STATEMENT_KIND: &str = "drillbook-approval";

/// What an approver signs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Statement {
    /// Always [`STATEMENT_KIND`].
    pub kind: String,
    /// Always 1.
    pub version: u32,
    pub run_id: String,
    pub step: String,
    /// SHA-256 of the runbook text the run goes on with.
    pub runbook_sha256: String,
    /// SHA-256 of the journal's last line when the approver looked (the `prev` of a later record).
    pub journal_head: String,
    pub approver: Identity,
    pub comment: String,
    pub time: String,
}

impl Statement {
    pub fn new(
        run_id: &str,
        step: &str,
        runbook_sha256: &str,
        journal_head: &str,
        approver: &Identity,
        comment: &str,
        time: DateTime<Utc>,
    ) -> Statement {
        Statement {
            kind: STATEMENT_KIND.to_string(),
            version: 1,
            run_id: run_id.to_string(),
            step: step.to_string(),
            runbook_sha256: runbook_sha256.to_string(),
            journal_head: journal_head.to_string(),
            approver: approver.clone(),
            comment: comment.to_string(),
            time: time.to_rfc3339_opts(SecondsFormat::Secs, true),
        }
    }
}

/// Signs `statement` with a prepared signer (not `none`).
pub(crate) async fn sign(
    prepared: &Prepared,
    statement: &Statement,
) -> Result<SignedApproval, EvidenceError> {
    let text = serde_json::to_string(statement).expect("a statement serializes");
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

/// How an approval stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Standing {
    /// Signed by a key the runbook trusts; the statement matches the journal.
    Signed { signer: String },
    /// Unsigned, and the runbook accepts unsigned approvals.
    Unsigned,
    /// Does not count, and why.
    Refused { reason: String },
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

/// Public keys of KMS keys, fetched with GetPublicKey (key ARN -> DER, or why not).
pub type KmsKeys = HashMap<String, Result<Vec<u8>, String>>;

/// Judges the approval at `records[at]` against `approvers` (the runbook in effect then).
/// `kms` holds the public keys of the KMS keys the runbook trusts.
pub fn check(
    run_id: &str,
    records: &[Record],
    at: usize,
    approvers: &Approvers,
    kms: &KmsKeys,
) -> Standing {
    let refused = |reason: String| Standing::Refused { reason };
    let Event::ApprovalGranted {
        step,
        approver,
        comment,
        signed,
    } = &records[at].event
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
        return if approvers.allow_unsigned {
            Standing::Unsigned
        } else {
            refused(
                "unsigned, and the runbook accepts only signed approvals (`approvers.keys`)".into(),
            )
        };
    };
    if approvers.keys.is_empty() && approvers.allow_unsigned {
        // Nothing to check a signature against: it proves no more than no signature.
        return Standing::Unsigned;
    }
    let statement: Statement = match serde_json::from_str(&signed.statement) {
        Ok(s) => s,
        Err(e) => return refused(format!("the signed statement is not readable: {e}")),
    };
    if statement.kind != STATEMENT_KIND || statement.version != 1 {
        return refused("the signed statement is not a drillbook approval".into());
    }
    let mismatch = [
        ("run", statement.run_id == run_id),
        ("step", statement.step == *step),
        ("approver", statement.approver == *approver),
        ("comment", statement.comment == *comment),
    ];
    if let Some((what, _)) = mismatch.iter().find(|(_, ok)| !ok) {
        return refused(format!(
            "the signed statement names another {what} than the journal's record"
        ));
    }
    if !runbook_shas_before(records, at).contains(&statement.runbook_sha256.as_str()) {
        return refused(format!(
            "the signed statement approves runbook {}, which this run never ran",
            statement.runbook_sha256
        ));
    }
    if !heads_since_request(records, at, step).contains(&statement.journal_head.as_str()) {
        return refused(
            "the signed statement's journal head is not a point of this run between the request and the approval".into(),
        );
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
        match kms.get(key_arn) {
            Some(Ok(der)) if base64::decode(public_key).is_ok_and(|p| &p == der) => {}
            Some(Ok(_)) => {
                return refused(format!(
                    "the public key recorded for KMS key {key_arn} is not the key's (GetPublicKey)"
                ));
            }
            Some(Err(e)) => return refused(format!("cannot check KMS key {key_arn}: {e}")),
            None => return refused(format!("KMS key {key_arn} was not checked")),
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

/// The runbook SHA-256s in effect up to `records[at]`: the one the run started with and any a
/// forced resume recorded.
fn runbook_shas_before(records: &[Record], at: usize) -> Vec<&str> {
    records[..at]
        .iter()
        .filter_map(|r| match &r.event {
            Event::RunStarted { runbook_sha256, .. } => Some(runbook_sha256.as_str()),
            Event::RunResumed {
                runbook_sha256: Some(s),
                ..
            } => Some(s.as_str()),
            _ => None,
        })
        .collect()
}

/// The journal heads between the last request of `step` before `records[at]` and `at`.
fn heads_since_request<'r>(records: &'r [Record], at: usize, step: &str) -> Vec<&'r str> {
    let from = records[..at]
        .iter()
        .rposition(|r| matches!(&r.event, Event::ApprovalRequested { step: s, .. } if s == step));
    match from {
        Some(i) => records[i + 1..=at]
            .iter()
            .map(|r| r.prev.as_str())
            .collect(),
        None => vec![],
    }
}

/// Indices of the approvals that still gate their step: not revoked by a later forced resume
/// (`reapprove`), nor by `revoking_now`.
pub fn live_approvals(records: &[Record], revoking_now: &[String]) -> Vec<usize> {
    let mut live: Vec<usize> = Vec::new();
    for (i, r) in records.iter().enumerate() {
        match &r.event {
            Event::ApprovalGranted { .. } => live.push(i),
            Event::RunResumed { reapprove, .. } => live.retain(|&g| {
                !matches!(&records[g].event, Event::ApprovalGranted { step, .. } if reapprove.contains(step))
            }),
            _ => {}
        }
    }
    live.retain(|&g| {
        !matches!(&records[g].event, Event::ApprovalGranted { step, .. } if revoking_now.contains(step))
    });
    live
}

/// Approval steps the journal records as passed (`step_succeeded`, not a dry run) with no
/// approval before it since the step was last asked again: a forged step record.
pub fn unapproved_passes<'r>(
    records: &'r [Record],
    approval_steps: &[&str],
) -> Vec<(u64, &'r str)> {
    let mut granted: HashMap<&str, bool> = HashMap::new();
    let mut out = Vec::new();
    for r in records {
        match &r.event {
            Event::ApprovalGranted { step, .. } => {
                granted.insert(step, true);
            }
            Event::RunResumed { reapprove, .. } => {
                for s in reapprove {
                    granted.remove(s.as_str());
                }
            }
            Event::StepSucceeded {
                step,
                dry_run: false,
                ..
            } if approval_steps.contains(&step.as_str())
                && !granted.get(step.as_str()).copied().unwrap_or(false) =>
            {
                out.push((r.seq, step.as_str()));
            }
            _ => {}
        }
    }
    out
}

/// The trusted KMS keys that signed the approvals at `at`: what [`fetch_kms_keys`] must fetch.
pub fn kms_keys_to_fetch(records: &[Record], at: &[usize]) -> Vec<String> {
    let mut arns: Vec<String> = at
        .iter()
        .filter_map(|&i| match &records[i].event {
            Event::ApprovalGranted {
                signed:
                    Some(SignedApproval {
                        signer: SignerInfo::KmsEcdsaP256 { key_arn, .. },
                        ..
                    }),
                ..
            } => Some(key_arn.clone()),
            _ => None,
        })
        .collect();
    arns.sort();
    arns.dedup();
    arns
}

/// Fetches each KMS key's public key (GetPublicKey, in the key's Region). A key that is not a
/// well-formed ARN, or that AWS refuses, comes back as the reason.
pub async fn fetch_kms_keys(aws: &Aws, arns: &[String]) -> KmsKeys {
    let mut out = KmsKeys::new();
    for arn in arns {
        let got = match arn.split(':').nth(3).filter(|r| !r.is_empty()) {
            None => Err("not a KMS key ARN".to_string()),
            Some(region) => aws
                .kms(region)
                .get_public_key()
                .key_id(arn)
                .send()
                .await
                .map_err(|e| {
                    crate::actions::aws::aws_error("kms", "GetPublicKey", region, e).to_string()
                })
                .and_then(|o| {
                    o.public_key()
                        .map(|b| b.as_ref().to_vec())
                        .ok_or_else(|| "GetPublicKey returned no key".to_string())
                }),
        };
        out.insert(arn.clone(), got);
    }
    out
}

/// The journal, runbook copy and variables of a run's evidence directory.
struct EvidenceRun {
    run_id: String,
    records: Vec<Record>,
    runbook_path: String,
    runbook_text: String,
    vars: Vec<(String, String)>,
}

fn read_evidence(dir: &std::path::Path) -> Result<Option<EvidenceRun>, String> {
    let journal = dir.join(super::manifest::JOURNAL_FILE);
    let Ok(bytes) = std::fs::read(&journal) else {
        return Ok(None);
    };
    let Ok(runbook_text) = std::fs::read_to_string(dir.join("runbook.yaml")) else {
        return Ok(None);
    };
    // A broken journal is reported as such by the chain check.
    let Ok((records, _)) = crate::checkpoint::verify_journal("evidence", &bytes) else {
        return Ok(None);
    };
    let Some(Event::RunStarted {
        run_id, runbook, ..
    }) = records.first().map(|r| &r.event)
    else {
        return Err("the journal does not start with `run_started`".into());
    };
    let vars: std::collections::BTreeMap<String, String> =
        match std::fs::read_to_string(dir.join("vars.json")) {
            Ok(t) => serde_json::from_str(&t).map_err(|e| format!("vars.json: {e}"))?,
            Err(_) => Default::default(),
        };
    Ok(Some(EvidenceRun {
        run_id: run_id.clone(),
        runbook_path: runbook.clone(),
        records,
        runbook_text,
        vars: vars.into_iter().collect(),
    }))
}

/// The KMS keys that signed approvals in an evidence directory (to fetch before
/// [`check_evidence`]).
pub fn kms_keys_in(dir: &std::path::Path) -> Vec<String> {
    match read_evidence(dir) {
        Ok(Some(run)) => {
            let all: Vec<usize> = (0..run.records.len()).collect();
            kms_keys_to_fetch(&run.records, &all)
        }
        _ => vec![],
    }
}

/// Every approval in an evidence directory, each judged against the runbook in effect when it
/// was granted, and every approval step passed without one. `Ok(None)` when the directory holds
/// no run (no journal or no runbook copy).
pub fn check_evidence(
    dir: &std::path::Path,
    kms: &KmsKeys,
) -> Result<Option<Vec<Checked>>, String> {
    let Some(run) = read_evidence(dir)? else {
        return Ok(None);
    };
    let parse = |text: &str| {
        crate::runbook::load_str(std::path::Path::new(&run.runbook_path), text, &run.vars)
            .map(|l| l.runbook)
            .map_err(|d| format!("the runbook in effect does not load: {d}"))
    };
    let mut current = match parse(&run.runbook_text) {
        Ok(r) => r,
        // Nothing in the journal is about approvals: nothing to check.
        Err(_)
            if !run.records.iter().any(|r| {
                matches!(
                    r.event,
                    Event::ApprovalGranted { .. } | Event::ApprovalRequested { .. }
                )
            }) =>
        {
            return Ok(None);
        }
        Err(e) => return Err(e),
    };
    let mut out = Vec::new();
    for (i, r) in run.records.iter().enumerate() {
        match &r.event {
            Event::RunResumed {
                runbook_text: Some(t),
                ..
            } => current = parse(t)?,
            Event::ApprovalGranted { step, approver, .. } => out.push(Checked {
                seq: r.seq,
                step: step.clone(),
                approver: approver.arn.clone(),
                standing: check(&run.run_id, &run.records, i, &current.approvers, kms),
            }),
            _ => {}
        }
    }
    let approval_steps: Vec<&str> = current
        .steps
        .iter()
        .chain(&current.finally)
        .filter(|s| s.action == "approval")
        .map(|s| s.id.as_str())
        .collect();
    for (seq, step) in unapproved_passes(&run.records, &approval_steps) {
        out.push(Checked {
            seq,
            step: step.to_string(),
            approver: "-".into(),
            standing: Standing::Refused {
                reason: "the journal passes this approval step, but nobody approved it".into(),
            },
        });
    }
    out.sort_by_key(|c| c.seq);
    Ok(Some(out))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkpoint::GENESIS;
    use crate::runbook::ApproverKey;
    use ed25519_dalek::{Signer as _, SigningKey};

    const RUN: &str = "20261203-101500-ab12";
    const SHA: &str = "5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a";

    fn bob() -> Identity {
        Identity {
            account: "222233334444".into(),
            arn: "arn:aws:sts::222233334444:assumed-role/DrApprover/bob".into(),
        }
    }

    fn rec(seq: u64, prev: &str, event: Event) -> Record {
        Record {
            seq,
            at: Utc::now(),
            prev: prev.to_string(),
            event,
        }
    }

    fn started() -> Event {
        Event::RunStarted {
            format_version: 1,
            run_id: RUN.into(),
            runbook: "r.yaml".into(),
            runbook_sha256: SHA.into(),
            mode: crate::event::Mode::Execute,
            identity: None,
            host: String::new(),
            user: String::new(),
            drillbook_version: String::new(),
            steps: vec!["gate".into()],
        }
    }

    /// A journal: started, requested, paused, then `grant` (signed over `head` unless given).
    fn journal(key: &SigningKey, edit: impl FnOnce(&mut Statement)) -> Vec<Record> {
        let mut st = Statement::new(RUN, "gate", SHA, "h3", &bob(), "ok", Utc::now());
        edit(&mut st);
        let text = serde_json::to_string(&st).unwrap();
        let signed = SignedApproval {
            signature: base64::encode(key.sign(text.as_bytes()).to_bytes()),
            statement: text,
            signer: SignerInfo::Ed25519 {
                public_key: hex::encode(key.verifying_key().as_bytes()),
            },
        };
        vec![
            rec(1, GENESIS, started()),
            rec(
                2,
                "h2",
                Event::ApprovalRequested {
                    step: "gate".into(),
                    message: String::new(),
                },
            ),
            rec(
                3,
                "h3",
                Event::RunPaused {
                    awaiting: vec![],
                    reason: "approval".into(),
                },
            ),
            rec(
                4,
                "h4",
                Event::ApprovalGranted {
                    step: "gate".into(),
                    approver: bob(),
                    comment: "ok".into(),
                    signed: Some(signed),
                },
            ),
        ]
    }

    fn trusting(key: &SigningKey, principal: Option<&str>) -> Approvers {
        Approvers {
            principals: vec![],
            keys: vec![ApproverKey {
                key: TrustedKeyRef::Ed25519 {
                    public_key: hex::encode(key.verifying_key().as_bytes()),
                },
                principal: principal.map(str::to_string),
            }],
            allow_unsigned: false,
        }
    }

    fn standing(records: &[Record], approvers: &Approvers) -> Standing {
        check(RUN, records, 3, approvers, &KmsKeys::new())
    }

    fn refused(s: Standing, needle: &str) {
        match s {
            Standing::Refused { reason } => assert!(reason.contains(needle), "{reason}"),
            other => panic!("expected a refusal containing {needle:?}, got {other:?}"),
        }
    }

    #[test]
    fn a_trusted_signature_over_the_journal_verifies() {
        let key = SigningKey::from_bytes(&[7; 32]);
        let recs = journal(&key, |_| {});
        assert!(matches!(
            standing(&recs, &trusting(&key, Some("arn:aws:sts::222233334444:*"))),
            Standing::Signed { .. }
        ));
    }

    #[test]
    fn forgeries_are_refused() {
        let key = SigningKey::from_bytes(&[7; 32]);
        let other = SigningKey::from_bytes(&[8; 32]);
        let trust = trusting(&key, None);
        // Signed by a key the runbook does not trust.
        refused(standing(&journal(&other, |_| {}), &trust), "does not list");
        // The key belongs to someone else.
        refused(
            standing(
                &journal(&key, |_| {}),
                &trusting(&key, Some("arn:aws:iam::222233334444:user/carol")),
            ),
            "belongs to",
        );
        // A statement for another run, another step, another runbook, an old head.
        refused(
            standing(&journal(&key, |s| s.run_id = "other".into()), &trust),
            "another run",
        );
        refused(
            standing(&journal(&key, |s| s.step = "other".into()), &trust),
            "another step",
        );
        refused(
            standing(&journal(&key, |s| s.runbook_sha256 = "00".into()), &trust),
            "never ran",
        );
        refused(
            standing(&journal(&key, |s| s.journal_head = "h2".into()), &trust),
            "journal head",
        );
        // The record's approver rewritten after signing.
        let mut recs = journal(&key, |_| {});
        if let Event::ApprovalGranted { approver, .. } = &mut recs[3].event {
            approver.arn = "arn:aws:iam::222233334444:user/mallory".into();
        }
        refused(standing(&recs, &trust), "another approver");
        // The signature itself tampered with.
        let mut recs = journal(&key, |_| {});
        if let Event::ApprovalGranted {
            signed: Some(s), ..
        } = &mut recs[3].event
        {
            s.statement = s.statement.replace("\"ok\"", "\"ok\" ");
        }
        refused(standing(&recs, &trust), "does not verify");
        // Unsigned, without the opt-in.
        let mut recs = journal(&key, |_| {});
        if let Event::ApprovalGranted { signed, .. } = &mut recs[3].event {
            *signed = None;
        }
        refused(standing(&recs, &trust), "accepts only signed");
        let mut open = trust.clone();
        open.allow_unsigned = true;
        assert_eq!(standing(&recs, &open), Standing::Unsigned);
        // Principals restrict who.
        let mut only_alice = open;
        only_alice.principals = vec!["arn:aws:iam::222233334444:user/alice".into()];
        refused(standing(&recs, &only_alice), "matches none");
    }

    #[test]
    fn an_approval_step_passed_without_an_approval_is_found() {
        let key = SigningKey::from_bytes(&[7; 32]);
        let mut recs = journal(&key, |_| {});
        let ok = |seq| {
            rec(
                seq,
                "h",
                Event::StepSucceeded {
                    step: "gate".into(),
                    outcome: Default::default(),
                    attempts: 1,
                    duration_ms: 0,
                    aws_wait_ms: 0,
                    dry_run: false,
                },
            )
        };
        recs.push(ok(5));
        assert!(unapproved_passes(&recs, &["gate"]).is_empty());
        let forged = vec![recs[0].clone(), recs[1].clone(), ok(3)];
        assert_eq!(unapproved_passes(&forged, &["gate"]), vec![(3, "gate")]);
    }

    #[test]
    fn revoked_approvals_are_not_live() {
        let key = SigningKey::from_bytes(&[7; 32]);
        let mut recs = journal(&key, |_| {});
        assert_eq!(live_approvals(&recs, &[]), vec![3]);
        assert!(live_approvals(&recs, &["gate".into()]).is_empty());
        recs.push(rec(
            5,
            "h5",
            Event::RunResumed {
                run_id: String::new(),
                runbook: String::new(),
                mode: None,
                steps: vec![],
                identity: None,
                host: String::new(),
                in_doubt: vec![],
                forced: true,
                runbook_sha256: None,
                runbook_text: None,
                reapprove: vec!["gate".into()],
            },
        ));
        assert!(live_approvals(&recs, &[]).is_empty());
    }
}
