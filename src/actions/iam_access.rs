//! IAM: `iam.assert_access`, IAM's policy simulator asked whether the application's role may
//! use what a recovery created (a restored table is a new resource: AWS lists "IAM policies"
//! among what a restore does not set up, RestoreTableToPointInTime).
//!
//! SimulatePrincipalPolicy evaluates the policies attached to the principal and answers per
//! action and resource with an `EvalDecision` of `allowed`, `explicitDeny` or `implicitDeny`,
//! and the statements that decided it (IAM API reference, SimulatePrincipalPolicy,
//! EvaluationResult). It reads policies and changes nothing. IAM is
//! global: its endpoint is in us-east-1 ([`crate::actions::aws::Aws::iam`]).

use std::collections::BTreeMap;
use std::sync::Arc;

use aws_sdk_iam::types::{EvaluationResult, PolicyEvaluationDecisionType, Statement};
use serde_json::json;

use super::aws::aws_error;
use super::{Action, ActionError, ActionSpec, Finding, Observation, Outcome, StepContext};
use crate::catalog;

pub(super) fn all() -> Vec<Arc<dyn Action>> {
    vec![Arc::new(AssertAccess)]
}

const SVC: &str = "iam";
/// IAM's endpoint is signed for us-east-1.
const IAM_REGION: &str = "us-east-1";

/// `iam.assert_access`.
pub(super) struct AssertAccess;

/// The decision for one (action, resource) pair, with the policies that decided it.
#[derive(Debug, Clone, PartialEq)]
struct Decision {
    decision: String,
    /// `POLICY (TYPE)` for each matched statement, as AWS returns them (SourcePolicyId,
    /// SourcePolicyType); empty for an implicit deny.
    statements: Vec<String>,
}

fn statements(list: &[Statement]) -> Vec<String> {
    list.iter()
        .filter_map(|s| {
            let id = s.source_policy_id()?;
            Some(match s.source_policy_type() {
                Some(t) => format!("{id} ({})", t.as_str()),
                None => id.to_string(),
            })
        })
        .collect()
}

fn decision_str(d: &PolicyEvaluationDecisionType) -> String {
    d.as_str().to_string()
}

/// The (action, resource) decisions of one page of results. A result with
/// `ResourceSpecificResults` carries one decision per resource there; otherwise the result's
/// own `EvalResourceName` and `EvalDecision` are the pair's.
fn decisions_of(results: &[EvaluationResult], into: &mut BTreeMap<(String, String), Decision>) {
    for r in results {
        let action = r.eval_action_name().to_string();
        if r.resource_specific_results().is_empty() {
            into.insert(
                (action, r.eval_resource_name().unwrap_or("*").to_string()),
                Decision {
                    decision: decision_str(r.eval_decision()),
                    statements: statements(r.matched_statements()),
                },
            );
        } else {
            for rr in r.resource_specific_results() {
                into.insert(
                    (action.clone(), rr.eval_resource_name().to_string()),
                    Decision {
                        decision: decision_str(rr.eval_resource_decision()),
                        statements: statements(rr.matched_statements()),
                    },
                );
            }
        }
    }
}

/// A finding for every requested pair that is not `allowed`, in the order asked.
fn findings_for(
    role: &str,
    actions: &[String],
    resources: &[String],
    decisions: &BTreeMap<(String, String), Decision>,
) -> Vec<Finding> {
    let mut out = vec![];
    for a in actions {
        for r in resources {
            // Action names are not case-sensitive in IAM; resource ARNs are.
            let found = decisions
                .iter()
                .find(|((da, dr), _)| da.eq_ignore_ascii_case(a) && dr == r)
                .map(|(_, d)| d);
            match found {
                Some(d) if d.decision == "allowed" => {}
                Some(d) if d.decision == "explicitDeny" => out.push(Finding {
                    message: format!(
                        "`{role}` may not {a} on {r}: explicitDeny{}",
                        if d.statements.is_empty() {
                            String::new()
                        } else {
                            format!(" by {}", d.statements.join(", "))
                        }
                    ),
                    hint: "an explicit Deny wins over every Allow: narrow or remove that statement"
                        .into(),
                }),
                Some(d) => out.push(Finding {
                    message: format!(
                        "`{role}` may not {a} on {r}: {} (no statement allows it)",
                        d.decision
                    ),
                    hint: format!("allow {a} on {r} in one of the role's policies"),
                }),
                None => out.push(Finding {
                    message: format!("IAM returned no decision for {a} on {r} for `{role}`"),
                    hint: "check the action and resource names".into(),
                }),
            }
        }
    }
    out
}

impl AssertAccess {
    async fn role_arn(&self, ctx: &StepContext, role: &str) -> Result<String, ActionError> {
        if role.starts_with("arn:") {
            return Ok(role.to_string());
        }
        let out = ctx
            .aws
            .iam()
            .get_role()
            .role_name(role)
            .send()
            .await
            .map_err(|e| aws_error(SVC, "GetRole", IAM_REGION, e))?;
        out.role()
            .map(|r| r.arn().to_string())
            .ok_or_else(|| ActionError::Verification {
                message: format!("GetRole returned no role for `{role}`"),
                hint: "check the role name".into(),
            })
    }
}

#[async_trait::async_trait]
impl Action for AssertAccess {
    fn spec(&self) -> &'static ActionSpec {
        catalog::lookup("iam.assert_access").expect("iam actions are in the catalogue")
    }

    async fn observe(&self, ctx: &StepContext) -> Result<Observation, ActionError> {
        let role = ctx.params.str("role")?;
        let actions = ctx.params.str_list("actions")?;
        let resources = ctx.params.str_list("resources")?;
        if actions.is_empty() || resources.is_empty() {
            return Err(ActionError::Invalid {
                message: "`actions` and `resources` must each name at least one".into(),
                hint: "list the IAM actions and the resource ARNs the role needs".into(),
            });
        }
        let arn = self.role_arn(ctx, &role).await?;
        let c = ctx.aws.iam();
        let mut decisions = BTreeMap::new();
        let mut marker = None;
        loop {
            let out = c
                .simulate_principal_policy()
                .policy_source_arn(&arn)
                .set_action_names(Some(actions.clone()))
                .set_resource_arns(Some(resources.clone()))
                .set_marker(marker.take())
                .send()
                .await
                .map_err(|e| aws_error(SVC, "SimulatePrincipalPolicy", IAM_REGION, e))?;
            decisions_of(out.evaluation_results(), &mut decisions);
            match out.marker {
                Some(m) if out.is_truncated && !m.is_empty() => marker = Some(m),
                _ => break,
            }
        }
        let findings = findings_for(&role, &actions, &resources, &decisions);
        let listed: Vec<String> = decisions
            .iter()
            .map(|((a, r), d)| format!("{a} {r}={}", d.decision))
            .collect();
        let pairs = actions.len() * resources.len();
        let mut obs = Observation {
            summary: if findings.is_empty() {
                format!("`{role}` may perform all {pairs} action-resource pairs")
            } else {
                format!(
                    "`{role}` may not perform {} of {pairs} action-resource pairs",
                    findings.len()
                )
            },
            findings,
            ..Observation::default()
        };
        obs.facts.insert("role_arn".into(), json!(arn));
        obs.facts.insert(
            "decisions".into(),
            json!(
                decisions
                    .iter()
                    .map(|((a, r), d)| json!({
                        "action": a, "resource": r, "decision": d.decision,
                        "matched_statements": d.statements,
                    }))
                    .collect::<Vec<_>>()
            ),
        );
        obs.outputs.insert("role_arn".into(), arn);
        obs.outputs.insert("decisions".into(), listed.join(","));
        Ok(obs)
    }

    async fn apply(
        &self,
        _ctx: &StepContext,
        observed: &Observation,
    ) -> Result<Outcome, ActionError> {
        Ok(Outcome::observed(observed))
    }

    async fn verify(&self, _ctx: &StepContext, _outcome: &Outcome) -> Result<(), ActionError> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_iam::types::{PolicySourceType, ResourceSpecificResult};

    fn result(action: &str, resource: &str, d: PolicyEvaluationDecisionType) -> EvaluationResult {
        EvaluationResult::builder()
            .eval_action_name(action)
            .eval_resource_name(resource)
            .eval_decision(d)
            .build()
            .unwrap()
    }

    #[test]
    fn every_pair_not_allowed_is_named_with_the_statements_that_denied_it() {
        let deny = Statement::builder()
            .source_policy_id("no-deletes")
            .source_policy_type(PolicySourceType::Role)
            .build();
        let mut explicit = result(
            "dynamodb:DeleteItem",
            "t1",
            PolicyEvaluationDecisionType::ExplicitDeny,
        );
        explicit.matched_statements = Some(vec![deny]);
        let mut d = BTreeMap::new();
        decisions_of(
            &[
                result(
                    "dynamodb:GetItem",
                    "t1",
                    PolicyEvaluationDecisionType::Allowed,
                ),
                result(
                    "dynamodb:GetItem",
                    "t2",
                    PolicyEvaluationDecisionType::ImplicitDeny,
                ),
                explicit,
            ],
            &mut d,
        );
        let f = findings_for(
            "app",
            &["DynamoDB:GetItem".into(), "dynamodb:DeleteItem".into()],
            &["t1".into(), "t2".into()],
            &d,
        );
        let msgs: Vec<&str> = f.iter().map(|f| f.message.as_str()).collect();
        assert_eq!(
            msgs,
            [
                "`app` may not DynamoDB:GetItem on t2: implicitDeny (no statement allows it)",
                "`app` may not dynamodb:DeleteItem on t1: explicitDeny by no-deletes (role)",
                "IAM returned no decision for dynamodb:DeleteItem on t2 for `app`",
            ]
        );
    }

    #[test]
    fn resource_specific_results_decide_per_resource() {
        let mut r = result("s3:GetObject", "*", PolicyEvaluationDecisionType::Allowed);
        r.resource_specific_results = Some(vec![
            ResourceSpecificResult::builder()
                .eval_resource_name("a")
                .eval_resource_decision(PolicyEvaluationDecisionType::ImplicitDeny)
                .build()
                .unwrap(),
        ]);
        let mut d = BTreeMap::new();
        decisions_of(&[r], &mut d);
        let f = findings_for("x", &["s3:GetObject".into()], &["a".into()], &d);
        assert_eq!(f.len(), 1);
        assert!(f[0].message.contains("implicitDeny"), "{}", f[0].message);
    }
}
