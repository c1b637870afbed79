//! The actions of the core actions: waiting and approvals.

use super::*;

pub(super) const ACTIONS: &[ActionSpec] = &[
    ActionSpec {
        name: "wait",
        summary: "Wait for a fixed time (DNS TTLs, propagation, benchmarks).",
        service: Service::Core,
        params: &[p(
            "duration",
            K::Duration,
            true,
            None,
            "how long to wait, e.g. `30s`",
        )],
        outputs: &[],
        default_estimate: secs(0),
        estimate_param: Some("duration"),
        mutates: false,
        needs_region: false,
        iam: &[],
        control_plane: ControlPlane::None,
    },
    ActionSpec {
        name: "approval",
        summary: "A human gate: the run pauses until `drillbook approve RUN_ID STEP`.",
        service: Service::Core,
        params: &[p(
            "message",
            K::String,
            false,
            None,
            "what the approver must check",
        )],
        outputs: &[o("approved_by", "ARN of the identity that approved")],
        default_estimate: secs(300),
        estimate_param: None,
        mutates: false,
        needs_region: false,
        iam: &[],
        control_plane: ControlPlane::None,
    },
];
