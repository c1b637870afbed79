//! The actions of Amazon Route 53 Application Recovery Controller.

use super::*;

/// The parameters the ARC actions share.
const ARC_CLUSTER: ParamSpec = p(
    "cluster",
    K::String,
    true,
    None,
    "the ARC cluster's ARN (arn:aws:route53-recovery-control::ACCOUNT:cluster/ID)",
)
.scoped(S::ArcCluster);
const ARC_STATES: ParamSpec = p(
    "states",
    K::StringMap,
    true,
    None,
    "routing control ARN or name -> `On` or `Off` (at most 10: ARC's limit per UpdateRoutingControlStates)",
);
const ARC_ENDPOINTS: ParamSpec = p(
    "endpoints",
    K::StringList,
    false,
    None,
    "the cluster's Regional endpoint URLs (`URL` or `REGION=URL`; commas separate several in one string), tried in turn; none, or `describe`: DescribeCluster in us-west-2 (a control-plane call; a dry run prints the list to paste)",
);
const ARC_OUTPUTS: &[OutputSpec] = &[
    o("endpoint", "the cluster endpoint URL that answered"),
    o("endpoint_region", "the Region of that endpoint"),
    o(
        "states",
        "routing control=state pairs as read back, comma-separated",
    ),
];

pub(super) const ACTIONS: &[ActionSpec] = &[
    ActionSpec {
        name: "arc.set_routing_controls",
        summary: "Set ARC routing controls to the given states in one UpdateRoutingControlStates call (a data-plane DNS switch), trying the cluster's Regional endpoints in turn; reads them back.",
        service: Service::Arc,
        params: &[
            ARC_CLUSTER,
            ARC_STATES,
            ARC_ENDPOINTS,
            p(
                "safety_rules_to_override",
                K::StringList,
                false,
                None,
                "safety rule ARNs to override (\"break glass\"); default: none, a rule's refusal fails the step",
            ),
            p(
                "conflict_retry",
                K::Duration,
                false,
                Some("15s"),
                "how long a ConflictException (\"try again\": a safety rule's WaitPeriodMs, 5000 ms by default) is retried with backoff before the refusal fails the step",
            ),
        ],
        outputs: ARC_OUTPUTS,
        default_estimate: secs(5),
        estimate_param: None,
        mutates: true,
        needs_region: false,
        iam: &[
            "route53-recovery-cluster:UpdateRoutingControlStates",
            "route53-recovery-cluster:GetRoutingControlState",
            "route53-recovery-cluster:ListRoutingControls",
            "route53-recovery-control-config:DescribeCluster",
            "route53-recovery-control-config:DescribeSafetyRule",
        ],
        control_plane: ControlPlane::DataPlane,
    },
    ActionSpec {
        name: "arc.assert_routing_controls",
        summary: "Check that ARC routing controls are in the given states, read through the cluster's Regional endpoints in turn.",
        service: Service::Arc,
        params: &[ARC_CLUSTER, ARC_STATES, ARC_ENDPOINTS],
        outputs: ARC_OUTPUTS,
        default_estimate: secs(2),
        estimate_param: None,
        mutates: false,
        needs_region: false,
        iam: &[
            "route53-recovery-cluster:GetRoutingControlState",
            "route53-recovery-cluster:ListRoutingControls",
            "route53-recovery-control-config:DescribeCluster",
        ],
        control_plane: ControlPlane::DataPlane,
    },
];
