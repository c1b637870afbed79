//! The actions of Amazon CloudWatch.

use super::*;

const ALARM_STATES: &[&str] = &["OK", "ALARM", "INSUFFICIENT_DATA"];

pub(super) const ACTIONS: &[ActionSpec] = &[
    ActionSpec {
        name: "cloudwatch.wait_alarm",
        summary: "Wait until every listed alarm is in the given state (a health gate).",
        service: Service::CloudWatch,
        params: &[
            p("alarms", K::StringList, true, None, "alarm names").scoped(S::Alarm),
            p(
                "state",
                K::Enum(ALARM_STATES),
                false,
                Some("OK"),
                "state to wait for",
            ),
        ],
        outputs: &[o("states", "alarm=state pairs as observed last")],
        default_estimate: secs(10),
        estimate_param: None,
        mutates: false,
        needs_region: true,
        iam: &["cloudwatch:DescribeAlarms"],
        control_plane: ControlPlane::StepRegion,
    },
    ActionSpec {
        name: "cloudwatch.set_alarm_state",
        summary: "Force an alarm into a state (drills).",
        service: Service::CloudWatch,
        params: &[
            p("alarm", K::String, true, None, "alarm name").scoped(S::Alarm),
            p("state", K::Enum(ALARM_STATES), true, None, "state to set"),
            p(
                "reason",
                K::String,
                false,
                Some("set by drillbook"),
                "state reason",
            ),
        ],
        outputs: &[],
        default_estimate: secs(2),
        estimate_param: None,
        mutates: true,
        needs_region: true,
        iam: &["cloudwatch:DescribeAlarms", "cloudwatch:SetAlarmState"],
        control_plane: ControlPlane::StepRegion,
    },
    ActionSpec {
        name: "cloudwatch.put_signal",
        summary: "Set a failover signal: publish the metric of an alarm a Route 53 health check follows, and wait for the alarm.",
        service: Service::CloudWatch,
        params: &[
            p(
                "alarm",
                K::String,
                true,
                None,
                "the signal alarm's name (TreatMissingData `ignore`)",
            )
            .scoped(S::Alarm),
            p(
                "state",
                K::Enum(&["ALARM", "OK"]),
                false,
                Some("ALARM"),
                "ALARM fails over (the health check turns unhealthy), OK fails back",
            ),
        ],
        outputs: &[
            o("metric", "the alarm's metric: namespace/name [dimensions]"),
            o("state", "the alarm's state afterwards"),
            o(
                "value",
                "the value published (absent when the alarm was already in the state)",
            ),
        ],
        default_estimate: secs(60),
        estimate_param: None,
        mutates: true,
        needs_region: true,
        // PutMetricData supports no resource-level scoping (Service Authorization Reference,
        // "Actions, resources, and condition keys for Amazon CloudWatch").
        iam: &["cloudwatch:DescribeAlarms", "cloudwatch:PutMetricData"],
        control_plane: ControlPlane::StepRegion,
    },
];
