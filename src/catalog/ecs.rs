//! The actions of Amazon ECS.

use super::*;

pub(super) const ACTIONS: &[ActionSpec] = &[
    // ---- ecs, ssm: the services of a system inside one Region and the parameters they read -----
    ActionSpec {
        name: "ecs.assert_stable",
        summary: "Check that an ECS service is stable: running equals desired and its PRIMARY deployment's rollout is COMPLETED.",
        service: Service::Ecs,
        params: &[
            p(
                "cluster",
                K::String,
                true,
                None,
                "the cluster's name or ARN",
            ),
            p(
                "service",
                K::String,
                true,
                None,
                "the service's name or ARN",
            ),
        ],
        outputs: &[
            o("deployment_id", "the PRIMARY deployment's id"),
            o("running", "the service's runningCount"),
            o("desired", "the service's desiredCount"),
        ],
        default_estimate: secs(2),
        estimate_param: None,
        mutates: false,
        needs_region: true,
        iam: &["ecs:DescribeServices"],
        control_plane: ControlPlane::StepRegion,
    },
    ActionSpec {
        name: "ecs.redeploy",
        summary: "Start a new deployment of an ECS service (force new deployment) and wait until it is stable; a retried or resumed step waits for the deployment it started.",
        service: Service::Ecs,
        params: &[
            p(
                "cluster",
                K::String,
                true,
                None,
                "the cluster's name or ARN",
            ),
            p(
                "service",
                K::String,
                true,
                None,
                "the service's name or ARN",
            ),
        ],
        outputs: &[o("deployment_id", "the new deployment's id")],
        default_estimate: secs(300),
        estimate_param: None,
        mutates: true,
        needs_region: true,
        iam: &["ecs:DescribeServices", "ecs:UpdateService"],
        control_plane: ControlPlane::StepRegion,
    },
    ActionSpec {
        name: "ecs.scale",
        summary: "Set an ECS service's desired count (no call when it already is) and wait until it is stable.",
        service: Service::Ecs,
        params: &[
            p(
                "cluster",
                K::String,
                true,
                None,
                "the cluster's name or ARN",
            ),
            p(
                "service",
                K::String,
                true,
                None,
                "the service's name or ARN",
            ),
            p(
                "desired",
                K::Integer,
                true,
                None,
                "the number of tasks wanted",
            ),
        ],
        outputs: &[
            o("desired", "the service's desiredCount afterwards"),
            o("deployment_id", "the PRIMARY deployment's id afterwards"),
        ],
        default_estimate: secs(180),
        estimate_param: None,
        mutates: true,
        needs_region: true,
        iam: &["ecs:DescribeServices", "ecs:UpdateService"],
        control_plane: ControlPlane::StepRegion,
    },
];
