//! The actions of Amazon Route 53.

use super::*;

pub(super) const ACTIONS: &[ActionSpec] = &[
    ActionSpec {
        name: "route53.failover",
        summary: "Make the failover record set answer with the target side, by pinning the primary's health check unhealthy (disabled and inverted, the default) or by swapping the records; waits for the answer.",
        service: Service::Route53,
        params: &[
            p(
                "hosted_zone",
                K::String,
                true,
                None,
                "hosted zone name (`example.com.`) or id",
            )
            .scoped(S::HostedZone),
            p(
                "record_name",
                K::String,
                true,
                None,
                "the failover record name, e.g. `api.example.com`",
            ),
            p(
                "to",
                K::Enum(&["secondary", "primary"]),
                false,
                Some("secondary"),
                "which side must answer afterwards",
            ),
            p(
                "mode",
                K::Enum(&["health_check", "records"]),
                false,
                Some("health_check"),
                "`health_check` pins the primary's health check unhealthy (Disabled and Inverted together), and failing back lets it measure again; `records` swaps the failover records, so the answer holds whatever the old primary's health does",
            ),
            p(
                "health_check_id",
                K::String,
                false,
                None,
                "health check to pin (default: the one on the PRIMARY record)",
            )
            .scoped(S::HealthCheck),
        ],
        outputs: &[
            o(
                "change_id",
                "Route 53 change id (empty when nothing changed)",
            ),
            o("answer", "the value the name answers with afterwards"),
        ],
        default_estimate: secs(90),
        estimate_param: None,
        mutates: true,
        needs_region: false,
        iam: &[
            "route53:ListHostedZonesByName",
            "route53:ListResourceRecordSets",
            "route53:GetHealthCheck",
            "route53:GetHealthCheckStatus",
            "route53:TestDNSAnswer",
            "route53:UpdateHealthCheck",
            "route53:ChangeResourceRecordSets",
            "route53:GetChange",
        ],
        control_plane: ControlPlane::UsEast1,
    },
    ActionSpec {
        name: "route53.assert_records",
        summary: "Check what a name answers with in the hosted zone, given health checks and failover routing.",
        service: Service::Route53,
        params: &[
            p(
                "hosted_zone",
                K::String,
                true,
                None,
                "hosted zone name or id",
            )
            .scoped(S::HostedZone),
            p("record_name", K::String, true, None, "record name"),
            p(
                "expect",
                K::String,
                false,
                None,
                "substring the answer must contain, e.g. `eu-west-1`",
            ),
        ],
        outputs: &[o("answer", "the value the name answers with")],
        default_estimate: secs(2),
        estimate_param: None,
        mutates: false,
        needs_region: false,
        iam: &[
            "route53:ListHostedZonesByName",
            "route53:ListResourceRecordSets",
            "route53:GetHealthCheck",
            "route53:GetHealthCheckStatus",
            "route53:TestDNSAnswer",
        ],
        control_plane: ControlPlane::UsEast1,
    },
];
