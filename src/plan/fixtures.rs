//! Hand-built runbooks for the plan's unit tests.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::runbook::{Objectives, OnFailure, RetryPolicy, Runbook, Step};

pub(crate) fn step(id: &str, estimate_secs: u64, needs: &[&str]) -> Step {
    Step {
        id: id.into(),
        action: "wait".into(),
        description: None,
        needs: needs.iter().map(|s| s.to_string()).collect(),
        region: None,
        with: BTreeMap::new(),
        timeout: Duration::from_secs(600),
        estimate: Duration::from_secs(estimate_secs),
        retry: RetryPolicy::default(),
        on_failure: OnFailure::Abort,
        role: None,
        call_timeouts: Default::default(),
    }
}

pub(crate) fn runbook(steps: Vec<Step>, finally: Vec<Step>, rto_secs: Option<u64>) -> Runbook {
    Runbook {
        name: "test".into(),
        description: None,
        objectives: Objectives {
            rto: rto_secs.map(Duration::from_secs),
            rpo: None,
        },
        vars: BTreeMap::new(),
        accounts: BTreeMap::new(),
        allow_self_approval: false,
        approvers: Default::default(),
        secrets: Default::default(),
        steps,
        finally,
    }
}

/// A small failover: two branches joining at `switch-dns`, one cleanup chain.
pub(crate) fn failover(rto_secs: Option<u64>) -> Runbook {
    let mut rb = runbook(
        vec![
            step("freeze-writes", 30, &[]),
            step("check-alarms", 5, &[]),
            step("restore-vault", 720, &["freeze-writes"]),
            step("promote-key", 120, &["freeze-writes", "check-alarms"]),
            step("check-api", 30, &["promote-key"]),
            step("switch-dns", 60, &["restore-vault", "check-api"]),
            step("verify", 45, &["switch-dns"]),
        ],
        vec![
            step("delete-restored", 60, &[]),
            step("switch-back", 30, &["delete-restored", "verify"]),
        ],
        rto_secs,
    );
    rb.name = "failover".into();
    rb.description = Some("Fail over from ca-central-1 to eu-west-1".into());
    rb.steps[2].action = "dynamodb.restore_pitr".into();
    rb.steps[2].region = Some("eu-west-1".into());
    rb
}
