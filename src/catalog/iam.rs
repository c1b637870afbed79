//! The actions of AWS IAM.

use super::*;

pub(super) const ACTIONS: &[ActionSpec] = &[ActionSpec {
    name: "iam.assert_access",
    summary: "Check with IAM's policy simulator (SimulatePrincipalPolicy) that a role may perform every listed action on every listed resource; names each pair it may not, and the policies that deny it. Read-only, so a dry run checks too.",
    service: Service::Iam,
    params: &[
        p(
            "role",
            K::String,
            true,
            None,
            "the application's role: ARN, or name (looked up with GetRole)",
        )
        .scoped(S::IamRole),
        p(
            "actions",
            K::StringList,
            true,
            None,
            "IAM actions the role needs, e.g. `[dynamodb:GetItem, dynamodb:PutItem]`",
        ),
        p(
            "resources",
            K::StringList,
            true,
            None,
            "resource ARNs the actions must be allowed on, e.g. the restored table's `{{ steps.restore-vault.table_arn }}`",
        ),
    ],
    outputs: &[
        o("role_arn", "the role's ARN"),
        o(
            "decisions",
            "`ACTION RESOURCE=DECISION` for each pair, comma-separated (`allowed`, `implicitDeny`, `explicitDeny`)",
        ),
    ],
    default_estimate: secs(3),
    estimate_param: None,
    mutates: false,
    needs_region: false,
    iam: &["iam:GetRole", "iam:SimulatePrincipalPolicy"],
    control_plane: ControlPlane::UsEast1,
}];
