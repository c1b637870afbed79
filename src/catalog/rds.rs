//! The actions of Amazon RDS.

use super::*;

/// The parameters the RDS read-only checks share: one of them names what is checked.
const RDS_INSTANCE_OR_CLUSTER: ParamSpec = p(
    "instance",
    K::String,
    false,
    None,
    "the DB instance identifier (give this or `cluster`)",
)
.scoped(S::RdsInstance);
const RDS_CLUSTER_OR_INSTANCE: ParamSpec = p(
    "cluster",
    K::String,
    false,
    None,
    "the DB cluster identifier (give this or `instance`)",
)
.scoped(S::RdsCluster);

pub(super) const ACTIONS: &[ActionSpec] = &[
    ActionSpec {
        name: "rds.assert_pitr",
        summary: "Check that a DB instance's or cluster's automated backups are on with at least the retention asked, and that its latest restorable time is recent enough for the RPO.",
        service: Service::Rds,
        params: &[
            RDS_INSTANCE_OR_CLUSTER,
            RDS_CLUSTER_OR_INSTANCE,
            p(
                "min_retention",
                K::Duration,
                false,
                Some("1d"),
                "smallest acceptable backup retention period (whole days, e.g. `7d`); 0 days means automated backups are off",
            ),
            p(
                "max_lag",
                K::Duration,
                false,
                Some("15m"),
                "largest acceptable gap between now and the latest restorable time; AWS documents it as typically within the last 5 minutes",
            ),
        ],
        outputs: &[
            o(
                "latest_restorable_time",
                "RFC 3339 time of the latest restorable point",
            ),
            o(
                "lag_seconds",
                "seconds between now and the latest restorable time: what a restore to `latest` would lose",
            ),
            o("retention_days", "the backup retention period, in days"),
        ],
        default_estimate: secs(5),
        estimate_param: None,
        mutates: false,
        needs_region: true,
        iam: &["rds:DescribeDBInstances", "rds:DescribeDBClusters"],
        control_plane: ControlPlane::StepRegion,
    },
    ActionSpec {
        name: "rds.assert_ready",
        summary: "Check that a DB instance or cluster is `available`, and Multi-AZ when asked.",
        service: Service::Rds,
        params: &[
            RDS_INSTANCE_OR_CLUSTER,
            RDS_CLUSTER_OR_INSTANCE,
            p(
                "multi_az",
                K::Bool,
                false,
                None,
                "`true`: it must be Multi-AZ; `false`: it must not be; unset: either",
            ),
        ],
        outputs: &[
            o("status", "the status read (`available`)"),
            o("multi_az", "`true` or `false`"),
            o(
                "availability_zone",
                "the instance's Availability Zone (a cluster's writer's, when known)",
            ),
            o("endpoint", "the host name clients connect to"),
        ],
        default_estimate: secs(5),
        estimate_param: None,
        mutates: false,
        needs_region: true,
        iam: &["rds:DescribeDBInstances", "rds:DescribeDBClusters"],
        control_plane: ControlPlane::StepRegion,
    },
    ActionSpec {
        name: "rds.restore_pitr",
        summary: "Restore a DB instance (or an Aurora DB cluster, then its writer instance) to a point in time as a new one, with the source's subnet group, VPC security groups, parameter and option groups, Multi-AZ, storage type, deletion protection, tags, IAM authentication and log exports (AWS gives a restore the defaults otherwise), wait until `available`, and verify each setting against the source.",
        service: Service::Rds,
        params: &[
            p(
                "instance",
                K::String,
                false,
                None,
                "the source DB instance identifier (give this or `cluster`)",
            )
            .scoped(S::RdsInstance),
            p(
                "cluster",
                K::String,
                false,
                None,
                "the source Aurora DB cluster identifier (give this or `instance`); the target is a new cluster with one writer instance, `TARGET-1`",
            )
            .scoped(S::RdsCluster),
            p(
                "target",
                K::String,
                true,
                None,
                "identifier of the new DB instance (or DB cluster)",
            )
            .scoped(S::RdsInstance),
            p(
                "restore_to",
                K::String,
                true,
                None,
                "an RFC 3339 time (before the damage), or `latest` (UseLatestRestorableTime)",
            ),
            p(
                "instance_class",
                K::String,
                false,
                None,
                "the new instance's class (default: the source's, or the source cluster's writer's)",
            ),
        ],
        outputs: &[
            o("identifier", "the restored DB instance's identifier"),
            o("endpoint", "its endpoint's host name"),
            o("port", "its endpoint's port"),
            o("arn", "its ARN"),
        ],
        default_estimate: secs(30 * 60),
        estimate_param: None,
        mutates: true,
        needs_region: true,
        iam: &[
            "rds:DescribeDBInstances",
            "rds:RestoreDBInstanceToPointInTime",
            "rds:DescribeDBClusters",
            "rds:RestoreDBClusterToPointInTime",
            "rds:CreateDBInstance",
            "rds:AddTagsToResource",
        ],
        control_plane: ControlPlane::StepRegion,
    },
    ActionSpec {
        name: "rds.failover",
        summary: "Fail a Multi-AZ DB instance over to its standby (RebootDBInstance with ForceFailover), an Aurora DB cluster to another instance (FailoverDBCluster), or an Aurora global database to its secondary cluster in another Region (SwitchoverGlobalCluster, or FailoverGlobalCluster with AllowDataLoss), once across retries and resumes, and wait until it is `available` with the writer moved.",
        service: Service::Rds,
        params: &[
            p(
                "instance",
                K::String,
                false,
                None,
                "the Multi-AZ DB instance identifier (give exactly one of `instance`, `cluster`, `global_cluster`)",
            )
            .scoped(S::RdsInstance),
            p(
                "cluster",
                K::String,
                false,
                None,
                "the Aurora DB cluster identifier (give exactly one of `instance`, `cluster`, `global_cluster`)",
            )
            .scoped(S::RdsCluster),
            p(
                "target_instance",
                K::String,
                false,
                None,
                "with `cluster`: the reader instance to promote (default: one RDS chooses)",
            )
            .scoped(S::RdsInstance),
            p(
                "global_cluster",
                K::String,
                false,
                None,
                "the Aurora global database's identifier (give exactly one of `instance`, `cluster`, `global_cluster`); needs `to_region`",
            ),
            p(
                "to_region",
                K::Region,
                false,
                None,
                "with `global_cluster`: the Region whose secondary DB cluster becomes the primary; nothing is done when the writer is there already. The calls go to the step's `region`: make it this one, so a failover does not depend on the Region it leaves",
            ),
            p(
                "mode",
                K::Enum(&["switchover", "failover"]),
                false,
                None,
                "with `global_cluster`: `switchover` (the default; planned, SwitchoverGlobalCluster, no data lost) or `failover` (the primary's Region is lost: FailoverGlobalCluster with AllowDataLoss, what was not replicated yet is lost)",
            ),
        ],
        outputs: &[
            o(
                "writer",
                "the DB instance now serving writes (with `global_cluster`: the primary DB cluster's ARN)",
            ),
            o(
                "availability_zone",
                "its Availability Zone after the failover (with `global_cluster`: its writer instance's, when the primary is in the step's Region)",
            ),
            o(
                "region",
                "with `global_cluster`: the Region of the primary DB cluster",
            ),
        ],
        default_estimate: secs(120),
        estimate_param: None,
        mutates: true,
        needs_region: true,
        iam: &[
            "rds:DescribeDBInstances",
            "rds:DescribeDBClusters",
            "rds:RebootDBInstance",
            "rds:FailoverDBCluster",
            "rds:AddTagsToResource",
            "rds:DescribeGlobalClusters",
            "rds:SwitchoverGlobalCluster",
            "rds:FailoverGlobalCluster",
        ],
        control_plane: ControlPlane::StepRegion,
    },
];
