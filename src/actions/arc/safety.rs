//! Safety rules: a refused update (`ConflictException`) named by its rule, and the error that
//! says what to do.

use super::controls::{Read, state_str};
use crate::actions::aws::ARC_CONFIG_REGION;
use crate::actions::{ActionError, Finding, StepContext};
use crate::catalog::Service;

/// The name of the safety rule a ConflictException names by its `resourceId`, from
/// DescribeSafetyRule (control plane, us-west-2, best effort: this runs only once the switch
/// has been refused for good), else none.
async fn safety_rule_name(ctx: &StepContext, arn: &str) -> Option<String> {
    if arn.is_empty() || ctx.aws.is_impaired(ARC_CONFIG_REGION, Service::Arc) {
        return None;
    }
    let out = ctx
        .aws
        .arc_config()
        .describe_safety_rule()
        .safety_rule_arn(arn)
        .send()
        .await
        .ok()?;
    out.assertion_rule()
        .and_then(|r| r.name())
        .or_else(|| out.gating_rule().and_then(|r| r.name()))
        .map(str::to_string)
}

/// A safety rule's refusal, as a precondition finding (not retried).
/// How long a ConflictException is retried before the step fails (`conflict_retry`).
pub(super) const CONFLICT_RETRY: std::time::Duration = std::time::Duration::from_secs(15);

/// A ConflictException, as the service model shapes it.
pub(super) struct Conflict {
    pub(super) resource_id: String,
    pub(super) message: String,
}

pub(super) async fn refusal(
    ctx: &StepContext,
    conflict: &Conflict,
    read: &Read,
    tries: u32,
) -> ActionError {
    let arn = if conflict.resource_id.contains("safetyrule") {
        conflict.resource_id.as_str()
    } else {
        ""
    };
    let message = format!(
        "{} (ConflictException, {tries} tr{} over the retry window)",
        conflict.message,
        if tries == 1 { "y" } else { "ies" }
    );
    let name = safety_rule_name(ctx, arn).await;
    let rule = match (&name, arn) {
        (Some(n), "") => format!("safety rule `{n}`"),
        (Some(n), a) => format!("safety rule `{n}` ({a})"),
        (None, "") => "a safety rule".to_string(),
        (None, a) => format!("safety rule {a}"),
    };
    let wanted = read
        .controls
        .iter()
        .map(|c| format!("`{}` {}", c.key, state_str(&c.want)))
        .collect::<Vec<_>>()
        .join(", ");
    ActionError::Precondition {
        findings: vec![Finding {
            message: format!(
                "{rule} refused the routing control states {wanted}: {message}; nothing changed"
            ),
            hint: format!(
                "set states that keep the rule (turn the secondary On in the same step that turns \
                 the primary Off); to break glass on purpose, add the rule's ARN to \
                 `safety_rules_to_override:`{}",
                if arn.is_empty() {
                    String::new()
                } else {
                    format!(" (`{arn}`)")
                }
            ),
        }],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_conflict_without_a_rule_arn_names_no_rule() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let aws = std::sync::Arc::new(crate::actions::aws::Aws::from_config(
            aws_config::SdkConfig::builder()
                .behavior_version(aws_config::BehaviorVersion::latest())
                .build(),
            Default::default(),
        ));
        let ctx = StepContext {
            run_id: "r".into(),
            step_id: "s".into(),
            region: None,
            params: Default::default(),
            objectives: Default::default(),
            role_arn: None,
            aws,
            waits: Default::default(),
            earlier: None,
        };
        // No rule ARN: nothing to look up, and the message is never parsed for a name.
        assert_eq!(rt.block_on(safety_rule_name(&ctx, "")), None);
    }
}
