//! The action catalogue: every action's name, parameters, outputs and planning facts.
//!
//! This is plain data, so the validator, the planner, `iam-policy` and the JSON Schema can use it
//! without touching AWS. The implementations live beside it, one file per service.

use std::time::Duration;

/// The service an action talks to; rate limits and IAM are per service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Service {
    Core,
    DynamoDb,
    Kms,
    ApiGateway,
    Route53,
    CloudWatch,
    /// Route 53 Application Recovery Controller (routing control).
    Arc,
    /// AWS Identity and Access Management (global; its endpoint is in us-east-1).
    Iam,
    /// Amazon RDS (DB instances; Regional).
    Rds,
    /// Amazon Elastic Container Service (services and their deployments).
    Ecs,
    /// AWS Systems Manager Parameter Store.
    Ssm,
    /// Amazon S3 (the Terraform state's versioned bucket).
    S3,
}

impl Service {
    pub fn name(self) -> &'static str {
        match self {
            Service::Core => "core",
            Service::DynamoDb => "dynamodb",
            Service::Kms => "kms",
            Service::ApiGateway => "apigateway",
            Service::Route53 => "route53",
            Service::CloudWatch => "cloudwatch",
            Service::Arc => "arc",
            Service::Iam => "iam",
            Service::Rds => "rds",
            Service::Ecs => "ecs",
            Service::Ssm => "ssm",
            Service::S3 => "s3",
        }
    }
}

/// A Region (optionally one service in it) that a game-day scenario makes unreachable.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Impairment {
    pub region: String,
    /// `None`: every service. Otherwise a service name as in the catalogue (`kms`, `dynamodb`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
}

/// Which Region's control plane an action calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ControlPlane {
    /// No AWS call (core actions).
    None,
    /// The step's `region`.
    StepRegion,
    /// A global service whose control plane is in us-east-1 (Route 53; IAM, whose one
    /// endpoint `iam.amazonaws.com` is signed for us-east-1).
    UsEast1,
    /// The Region where the KMS key is currently primary (`UpdatePrimaryRegion`).
    KeyPrimaryRegion,
    /// No control plane: a data plane served from several Regions, any of which will do (ARC
    /// routing control: a cluster's five Regional endpoints, tried in turn). ARC's own control
    /// plane (DescribeCluster, us-west-2) is called only when the step lists no `endpoints`.
    DataPlane,
    /// An application endpoint, not an AWS API: the Region of the `url` (else `host`) when it
    /// is an API Gateway invoke or Regional domain name (`ID.execute-api.REGION.amazonaws.com`),
    /// else none.
    UrlRegion,
}

/// The Region of an API Gateway invoke or Regional domain name
/// (`ID.execute-api.REGION.amazonaws.com`, API Gateway DG, "Invoke REST APIs in API Gateway").
pub fn execute_api_region(host: &str) -> Option<String> {
    let host = host.trim().trim_end_matches('.').to_ascii_lowercase();
    let rest = host.strip_suffix(".amazonaws.com")?;
    let (id, region) = rest.split_once(".execute-api.")?;
    let region_like = region.split('-').count() >= 3
        && region
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && region.ends_with(|c: char| c.is_ascii_digit());
    (!id.is_empty() && !id.contains('.') && region_like).then(|| region.to_string())
}

/// The type a parameter's value must have.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case", tag = "type", content = "values")]
pub enum ParamKind {
    String,
    /// A runbook duration such as `30s`.
    Duration,
    Integer,
    Bool,
    /// An AWS Region name such as `eu-west-1`.
    Region,
    /// A list of strings.
    StringList,
    /// A map of string to string.
    StringMap,
    /// One of the listed strings.
    Enum(&'static [&'static str]),
}

/// One parameter of an action (a key under the step's `with:`).
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct ParamSpec {
    pub name: &'static str,
    pub kind: ParamKind,
    pub required: bool,
    /// Default value as it would be written in YAML, when there is one.
    pub default: Option<&'static str>,
    pub help: &'static str,
    /// What the value names, for the least-privilege policy `drillbook iam-policy` writes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<Scope>,
}

/// What a parameter's value names, so `drillbook iam-policy` can scope the step's grants to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    /// A DynamoDB table, by name or ARN, in the step's Region.
    DynamoDbTable,
    /// A KMS key: its id or ARN (any key of the account in the Region), or `alias/NAME`.
    KmsKey,
    /// A CloudWatch alarm name, or a list of them.
    Alarm,
    /// An ARC cluster ARN.
    ArcCluster,
    /// The Region where the step creates a replica: its resources are granted there too.
    ReplicaRegion,
    /// An IAM role, by name or ARN.
    IamRole,
    /// A KMS key in the step's `replica_region` (the replica's customer managed key).
    ReplicaKmsKey,
    /// A Route 53 hosted zone: its id, or its name (the id is then found at run time).
    HostedZone,
    /// A Route 53 health check id.
    HealthCheck,
    /// An RDS DB instance identifier, in the step's Region.
    RdsInstance,
    /// An RDS DB cluster identifier, in the step's Region.
    RdsCluster,
}

/// A named output of an action, usable as `{{ steps.ID.NAME }}` by later steps.
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct OutputSpec {
    pub name: &'static str,
    pub help: &'static str,
}

/// Everything drillbook knows about an action before running it.
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct ActionSpec {
    pub name: &'static str,
    pub summary: &'static str,
    pub service: Service,
    pub params: &'static [ParamSpec],
    pub outputs: &'static [OutputSpec],
    /// Used by the planner when a step has no `estimate`.
    #[serde(serialize_with = "ser_duration")]
    pub default_estimate: Duration,
    /// A `Duration` parameter whose value is the step's estimate when the step has no
    /// `estimate` (a `wait` takes as long as it waits).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub estimate_param: Option<&'static str>,
    /// Whether `apply` changes anything. Non-mutating actions do the same in dry-run and execute.
    pub mutates: bool,
    /// Whether the step needs a `region`.
    pub needs_region: bool,
    /// IAM actions the implementation calls (for `drillbook iam-policy`).
    pub iam: &'static [&'static str],
    pub control_plane: ControlPlane,
}

fn ser_duration<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&crate::duration::format_duration(*d))
}

impl ActionSpec {
    pub fn param(&self, name: &str) -> Option<&'static ParamSpec> {
        self.params.iter().find(|p| p.name == name)
    }
    pub fn output(&self, name: &str) -> Option<&'static OutputSpec> {
        self.outputs.iter().find(|o| o.name == name)
    }
}

const fn p(
    name: &'static str,
    kind: ParamKind,
    required: bool,
    default: Option<&'static str>,
    help: &'static str,
) -> ParamSpec {
    ParamSpec {
        name,
        kind,
        required,
        default,
        help,
        scope: None,
    }
}

impl ParamSpec {
    /// The parameter, naming what `scope` says.
    const fn scoped(mut self, scope: Scope) -> ParamSpec {
        self.scope = Some(scope);
        self
    }
}

const fn o(name: &'static str, help: &'static str) -> OutputSpec {
    OutputSpec { name, help }
}

const fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

use ParamKind as K;
use Scope as S;

const ALARM_STATES: &[&str] = &["OK", "ALARM", "INSUFFICIENT_DATA"];

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

/// Every action drillbook knows, in a stable order.
pub static CATALOG: &[ActionSpec] = &[
    // ---- core -------------------------------------------------------------------------------
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
    // ---- dynamodb ---------------------------------------------------------------------------
    ActionSpec {
        name: "dynamodb.assert_pitr",
        summary: "Check that point-in-time recovery is on and recent enough for the RPO.",
        service: Service::DynamoDb,
        params: &[
            p("table", K::String, true, None, "table name or ARN").scoped(S::DynamoDbTable),
            p(
                "max_lag",
                K::Duration,
                false,
                Some("15m"),
                "largest acceptable gap between now and the latest restorable time; AWS documents it as typically 5 minutes",
            ),
        ],
        outputs: &[
            o(
                "latest_restorable_time",
                "RFC 3339 time of the latest restorable point",
            ),
            o(
                "earliest_restorable_time",
                "RFC 3339 time of the earliest restorable point",
            ),
            o(
                "pitr_lag_seconds",
                "seconds between now and the latest restorable time: what a restore to `latest` would lose",
            ),
        ],
        default_estimate: secs(5),
        estimate_param: None,
        mutates: false,
        needs_region: true,
        iam: &[
            "dynamodb:DescribeContinuousBackups",
            "dynamodb:DescribeTable",
        ],
        control_plane: ControlPlane::StepRegion,
    },
    ActionSpec {
        name: "dynamodb.restore_pitr",
        summary: "Restore a table to a new table from point-in-time recovery, carry the source's TTL, PITR recovery period, tags and stream over to it, and verify items and settings.",
        service: Service::DynamoDb,
        params: &[
            p(
                "source_table",
                K::String,
                true,
                None,
                "table name (same Region) or ARN",
            )
            .scoped(S::DynamoDbTable),
            p(
                "target_table",
                K::String,
                true,
                None,
                "name of the new table",
            )
            .scoped(S::DynamoDbTable),
            p(
                "restore_to",
                K::String,
                false,
                Some("latest"),
                "`latest` or an RFC 3339 time",
            ),
            p(
                "enable_pitr",
                K::Bool,
                false,
                Some("true"),
                "turn PITR on for the restored table, with the source's recovery period",
            ),
            p(
                "ttl_attribute",
                K::String,
                false,
                None,
                "enable TTL on this attribute (default: the source's TTL attribute)",
            ),
            p(
                "tags",
                K::StringMap,
                false,
                None,
                "tags to put on the restored table, on top of the source's",
            ),
            p(
                "min_items",
                K::Integer,
                false,
                None,
                "fail verification below this many items (default: the source's item count)",
            ),
        ],
        outputs: &[
            o("table_name", "name of the restored table"),
            o("table_arn", "ARN of the restored table"),
            o("item_count", "items counted in the restored table"),
            o("restored_to", "the point in time restored"),
            o(
                "carried_over",
                "the source's settings the restored table got, comma-separated: `pitr`, `ttl`, `tags`, `stream`",
            ),
        ],
        default_estimate: secs(20 * 60),
        estimate_param: None,
        mutates: true,
        needs_region: true,
        iam: &[
            "dynamodb:RestoreTableToPointInTime",
            "dynamodb:DescribeTable",
            "dynamodb:DescribeContinuousBackups",
            "dynamodb:UpdateContinuousBackups",
            "dynamodb:UpdateTimeToLive",
            "dynamodb:DescribeTimeToLive",
            "dynamodb:TagResource",
            "dynamodb:ListTagsOfResource",
            "dynamodb:UpdateTable",
            "dynamodb:Scan",
            "dynamodb:PutItem",
            "dynamodb:GetItem",
            "dynamodb:Query",
            "dynamodb:UpdateItem",
            "dynamodb:DeleteItem",
            "dynamodb:BatchWriteItem",
        ],
        control_plane: ControlPlane::StepRegion,
    },
    ActionSpec {
        name: "dynamodb.count_writes",
        summary: "Count the writes a table's stream holds since a time (DynamoDB Streams, kept 24 hours): after a restore to that time, the writes the restored table lacks. Read-only, so a dry run counts too.",
        service: Service::DynamoDb,
        params: &[
            p("table", K::String, true, None, "table name, with a stream enabled").scoped(S::DynamoDbTable),
            p(
                "since",
                K::String,
                true,
                None,
                "RFC 3339 time; writes after it are counted, e.g. `{{ steps.restore-vault.restored_to }}`",
            ),
            p(
                "max_writes",
                K::String,
                false,
                None,
                "a whole number: fail the step above this many writes (empty: no limit, the count is only reported)",
            ),
        ],
        outputs: &[
            o(
                "writes",
                "stream records (inserts, updates, deletes) after `since`",
            ),
            o("items", "distinct items those writes touched"),
            o(
                "complete",
                "`false` when the stream cannot hold every write since `since` (enabled later, or more than 24 hours ago): the counts are then a lower bound",
            ),
            o("last_write", "RFC 3339 time of the latest counted write (empty when none)"),
        ],
        default_estimate: secs(10),
        estimate_param: None,
        mutates: false,
        needs_region: true,
        iam: &[
            "dynamodb:DescribeTable",
            "dynamodb:DescribeStream",
            "dynamodb:GetShardIterator",
            "dynamodb:GetRecords",
        ],
        control_plane: ControlPlane::StepRegion,
    },
    ActionSpec {
        name: "dynamodb.assert_replica",
        summary: "Check that a table (or global-table replica) is ACTIVE in the Region, and a replica of the peer Region's table when one is named.",
        service: Service::DynamoDb,
        params: &[
            p("table", K::String, true, None, "table name").scoped(S::DynamoDbTable),
            p(
                "peer_region",
                K::Region,
                false,
                None,
                "the table must be a global-table replica of this Region's table, and that replica ACTIVE",
            ),
        ],
        outputs: &[
            o("table_arn", "ARN of the table in this Region"),
            o("item_count", "approximate item count reported by DynamoDB"),
            o(
                "replica_regions",
                "comma-separated Regions of the other replicas",
            ),
        ],
        default_estimate: secs(5),
        estimate_param: None,
        mutates: false,
        needs_region: true,
        iam: &["dynamodb:DescribeTable"],
        control_plane: ControlPlane::StepRegion,
    },
    ActionSpec {
        name: "dynamodb.assert_replication",
        summary: "Write a probe item in the step's Region, time its arrival in the peer Region, then delete it: the replication lag, which is the data a failover loses.",
        service: Service::DynamoDb,
        params: &[
            p("table", K::String, true, None, "global table name").scoped(S::DynamoDbTable),
            p(
                "peer_region",
                K::Region,
                true,
                None,
                "the Region the probe must reach",
            ),
            p(
                "max_lag",
                K::Duration,
                false,
                None,
                "fail above this lag (default: objectives.rpo, else 1m); the probe is awaited this long",
            ),
        ],
        outputs: &[
            o(
                "replication_lag_seconds",
                "seconds from the probe's write until the peer Region returned it",
            ),
            o("probe_key", "the probe item's key, as written"),
        ],
        default_estimate: secs(5),
        estimate_param: None,
        mutates: true,
        needs_region: true,
        iam: &[
            "dynamodb:DescribeTable",
            "dynamodb:PutItem",
            "dynamodb:GetItem",
            "dynamodb:DeleteItem",
        ],
        control_plane: ControlPlane::StepRegion,
    },
    ActionSpec {
        name: "dynamodb.add_replica",
        summary: "Make a table a global table with a replica in another Region (UpdateTable ReplicaUpdates Create), wait until the replica is ACTIVE, and give it the source's point-in-time recovery.",
        service: Service::DynamoDb,
        params: &[
            p(
                "table",
                K::String,
                true,
                None,
                "table name, in the step's Region",
            )
            .scoped(S::DynamoDbTable),
            p(
                "replica_region",
                K::Region,
                true,
                None,
                "the Region of the new replica",
            )
            .scoped(S::ReplicaRegion),
            p(
                "kms_key",
                K::String,
                false,
                None,
                "the replica's KMS key (ID, ARN or alias) in `replica_region`, for a table encrypted with a customer managed key",
            )
            .scoped(S::ReplicaKmsKey),
        ],
        outputs: &[o("replica_arn", "ARN of the replica table")],
        default_estimate: secs(5 * 60),
        estimate_param: None,
        mutates: true,
        needs_region: true,
        iam: &[
            "dynamodb:UpdateTable",
            "dynamodb:DescribeTable",
            "dynamodb:CreateTableReplica",
            "dynamodb:DescribeContinuousBackups",
            "dynamodb:UpdateContinuousBackups",
            "dynamodb:Scan",
            "dynamodb:Query",
            "dynamodb:UpdateItem",
            "dynamodb:PutItem",
            "dynamodb:GetItem",
            "dynamodb:DeleteItem",
            "dynamodb:BatchWriteItem",
        ],
        control_plane: ControlPlane::StepRegion,
    },
    ActionSpec {
        name: "dynamodb.put_item",
        summary: "Write one item (PutItem). Game-day scenarios use it to inject damage.",
        service: Service::DynamoDb,
        params: &[
            p("table", K::String, true, None, "table name").scoped(S::DynamoDbTable),
            p(
                "item",
                K::StringMap,
                true,
                None,
                "attribute -> value; every value is a string (S) unless `types` says otherwise",
            ),
            p(
                "types",
                K::StringMap,
                false,
                None,
                "attribute -> DynamoDB type of its value: S, N or BOOL (key attributes: the table's own)",
            ),
        ],
        outputs: &[o("written_at", "RFC 3339 time just before the write")],
        default_estimate: secs(1),
        estimate_param: None,
        mutates: true,
        needs_region: true,
        iam: &[
            "dynamodb:DescribeTable",
            "dynamodb:GetItem",
            "dynamodb:PutItem",
        ],
        control_plane: ControlPlane::StepRegion,
    },
    ActionSpec {
        name: "dynamodb.assert_item",
        summary: "Read one item by key (GetItem, strongly consistent) and compare attributes, or check that it is absent.",
        service: Service::DynamoDb,
        params: &[
            p("table", K::String, true, None, "table name").scoped(S::DynamoDbTable),
            p(
                "key",
                K::StringMap,
                true,
                None,
                "key attribute -> value (types from the table's key schema)",
            ),
            p(
                "expect",
                K::StringMap,
                false,
                None,
                "attribute -> value it must have (numbers and booleans as written, e.g. `7`, `true`)",
            ),
            p(
                "absent",
                K::Bool,
                false,
                Some("false"),
                "the item must not exist",
            ),
        ],
        outputs: &[o("found", "`true` or `false`")],
        default_estimate: secs(1),
        estimate_param: None,
        mutates: false,
        needs_region: true,
        iam: &["dynamodb:DescribeTable", "dynamodb:GetItem"],
        control_plane: ControlPlane::StepRegion,
    },
    ActionSpec {
        name: "dynamodb.delete_table",
        summary: "Delete a table (drill cleanup). Missing tables are fine.",
        service: Service::DynamoDb,
        params: &[p("table", K::String, true, None, "table name").scoped(S::DynamoDbTable)],
        outputs: &[],
        default_estimate: secs(30),
        estimate_param: None,
        mutates: true,
        needs_region: true,
        iam: &["dynamodb:DeleteTable", "dynamodb:DescribeTable"],
        control_plane: ControlPlane::StepRegion,
    },
    // ---- kms --------------------------------------------------------------------------------
    ActionSpec {
        name: "kms.assert_replica",
        summary: "Check that a multi-Region key has an Enabled copy in the Region.",
        service: Service::Kms,
        params: &[p(
            "key",
            K::String,
            true,
            None,
            "key id, key ARN or `alias/NAME`",
        )
        .scoped(S::KmsKey)],
        outputs: &[
            o("key_arn", "ARN of the key in this Region"),
            o("primary_region", "Region where the key is primary"),
        ],
        default_estimate: secs(2),
        estimate_param: None,
        mutates: false,
        needs_region: true,
        iam: &["kms:DescribeKey"],
        control_plane: ControlPlane::StepRegion,
    },
    ActionSpec {
        name: "kms.replicate_key",
        summary: "Create a replica of a multi-Region key in another Region when missing (called in the primary's Region).",
        service: Service::Kms,
        params: &[
            p(
                "key",
                K::String,
                true,
                None,
                "key id, key ARN or `alias/NAME` in the step's Region (the primary)",
            )
            .scoped(S::KmsKey),
            p(
                "replica_region",
                K::Region,
                true,
                None,
                "Region to create the replica in",
            )
            .scoped(S::ReplicaRegion),
        ],
        outputs: &[o("replica_key_arn", "ARN of the replica")],
        default_estimate: secs(60),
        estimate_param: None,
        mutates: true,
        needs_region: true,
        iam: &[
            "kms:DescribeKey",
            "kms:ReplicateKey",
            "kms:CreateKey",
            "kms:CreateAlias",
            "kms:TagResource",
        ],
        control_plane: ControlPlane::StepRegion,
    },
    ActionSpec {
        name: "kms.promote",
        summary: "Make the step's Region the primary of a multi-Region key (UpdatePrimaryRegion on the current primary).",
        service: Service::Kms,
        params: &[
            p(
                "key",
                K::String,
                true,
                None,
                "key id, key ARN or `alias/NAME` as known in the step's Region (the new primary)",
            )
            .scoped(S::KmsKey),
            p(
                "optional",
                K::Bool,
                false,
                Some("false"),
                "report but do not fail the step when the current primary's Region cannot be reached",
            ),
        ],
        outputs: &[
            o(
                "primary_region",
                "Region where the key is primary afterwards",
            ),
            o("key_arn", "ARN of the key in the new primary Region"),
        ],
        default_estimate: secs(60),
        estimate_param: None,
        mutates: true,
        needs_region: true,
        iam: &["kms:DescribeKey", "kms:UpdatePrimaryRegion"],
        control_plane: ControlPlane::KeyPrimaryRegion,
    },
    ActionSpec {
        name: "kms.verify_crypto",
        summary: "Encrypt and decrypt a probe with the key in the Region.",
        service: Service::Kms,
        params: &[p(
            "key",
            K::String,
            true,
            None,
            "key id, key ARN or `alias/NAME`",
        )
        .scoped(S::KmsKey)],
        outputs: &[],
        default_estimate: secs(2),
        estimate_param: None,
        mutates: false,
        needs_region: true,
        iam: &["kms:Encrypt", "kms:Decrypt", "kms:DescribeKey"],
        control_plane: ControlPlane::StepRegion,
    },
    // ---- apigateway -------------------------------------------------------------------------
    ActionSpec {
        name: "apigateway.assert_ready",
        summary: "Check a REST API, its deployed stage, and optionally its custom domain and base path mapping.",
        service: Service::ApiGateway,
        params: &[
            p("rest_api", K::String, true, None, "REST API name or id"),
            p("stage", K::String, false, Some("prod"), "stage name"),
            p(
                "domain_name",
                K::String,
                false,
                None,
                "custom domain name that must map to the stage",
            ),
            p(
                "base_path",
                K::String,
                false,
                Some("(none)"),
                "base path of the mapping",
            ),
            p(
                "stage_variable",
                K::String,
                false,
                None,
                "a stage variable that must be set; its value is the `stage_variable` output",
            ),
        ],
        outputs: &[
            o("rest_api_id", "id of the REST API"),
            o(
                "stage_variable",
                "the value of `stage_variable` (when set), e.g. the table the API reads",
            ),
            o(
                "regional_domain_name",
                "the custom domain's Regional domain name (when `domain_name` is set)",
            ),
            o("invoke_url", "the stage's invoke URL"),
        ],
        default_estimate: secs(3),
        estimate_param: None,
        mutates: false,
        needs_region: true,
        iam: &["apigateway:GET"],
        control_plane: ControlPlane::StepRegion,
    },
    ActionSpec {
        name: "apigateway.update_stage",
        summary: "Set stage variables, for example to point the API at a restored table.",
        service: Service::ApiGateway,
        params: &[
            p("rest_api", K::String, true, None, "REST API name or id"),
            p("stage", K::String, false, Some("prod"), "stage name"),
            p(
                "variables",
                K::StringMap,
                true,
                None,
                "stage variables to set",
            ),
        ],
        outputs: &[o("rest_api_id", "id of the REST API")],
        default_estimate: secs(5),
        estimate_param: None,
        mutates: true,
        needs_region: true,
        iam: &["apigateway:GET", "apigateway:PATCH"],
        control_plane: ControlPlane::StepRegion,
    },
    ActionSpec {
        name: "apigateway.map_domain",
        summary: "Point a custom domain's base path mapping at an API and stage.",
        service: Service::ApiGateway,
        params: &[
            p("domain_name", K::String, true, None, "custom domain name"),
            p("rest_api", K::String, true, None, "REST API name or id"),
            p("stage", K::String, false, Some("prod"), "stage name"),
            p(
                "base_path",
                K::String,
                false,
                Some("(none)"),
                "base path of the mapping",
            ),
        ],
        outputs: &[o("rest_api_id", "id of the REST API")],
        default_estimate: secs(5),
        estimate_param: None,
        mutates: true,
        needs_region: true,
        iam: &["apigateway:GET", "apigateway:POST", "apigateway:PATCH"],
        control_plane: ControlPlane::StepRegion,
    },
    // ---- route53 ----------------------------------------------------------------------------
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
    // ---- arc (Route 53 Application Recovery Controller) ------------------------------------
    // ---- dns, http -----------------------------------------------------------------------
    ActionSpec {
        name: "dns.resolve",
        summary: "Ask DNS what a name answers (Route 53's data plane: its name servers keep answering without us-east-1), optionally checked against `expect`.",
        service: Service::Core,
        params: &[
            p(
                "name",
                K::String,
                true,
                None,
                "the name to resolve, e.g. `api.example.com`",
            ),
            p(
                "type",
                K::Enum(&["A", "AAAA", "CNAME", "TXT"]),
                false,
                Some("A"),
                "the record type to ask for",
            ),
            p(
                "server",
                K::String,
                false,
                None,
                "DNS server to ask, `HOST:PORT` or an IP (default: DRILLBOOK_DNS_SERVER, else the system's resolvers)",
            ),
            p(
                "expect",
                K::String,
                false,
                None,
                "text the answer must contain (an address, a name, or part of one)",
            ),
            p(
                "same_as",
                K::String,
                false,
                None,
                "another name whose records (same type, same server) this one's answer must share, e.g. the secondary's API Gateway regional domain name: an alias record answers with its target's addresses, a rotating subset of them",
            ),
            p(
                "not_same_as",
                K::String,
                false,
                None,
                "with `same_as`: the other name (e.g. the primary's regional domain name) whose records the answer must not share; sharing both names' records, or neither's, is ambiguous",
            ),
        ],
        outputs: &[
            o(
                "answer",
                "what the name answers (comma-separated), or the response code",
            ),
            o(
                "same",
                "with `same_as`: `true` when the answer shares records with `same_as` and not with `not_same_as`",
            ),
            o(
                "server",
                "the server asked (`system` for the system's resolvers)",
            ),
            o(
                "ttl",
                "the answer's TTL in seconds: how long resolvers may keep it (reports compare it with the runbook's wait)",
            ),
        ],
        default_estimate: secs(1),
        estimate_param: None,
        mutates: false,
        needs_region: false,
        iam: &[],
        control_plane: ControlPlane::DataPlane,
    },
    ActionSpec {
        name: "http.probe",
        summary: "Call an application endpoint (the secondary's API Gateway stage) as clients do and check its status and latency: a readiness gate on the data plane. Read-only, so a dry run probes too.",
        service: Service::Core,
        params: &[
            p(
                "url",
                K::String,
                true,
                None,
                "the URL to GET, e.g. `{{ steps.api-ready.invoke_url }}/health`",
            ),
            p(
                "host",
                K::String,
                false,
                None,
                "the name to send as Host header and TLS server name (SNI), the connection still going to the URL's host: a custom domain probed at one Region's Regional domain name",
            ),
            p(
                "expect_status",
                K::Integer,
                false,
                Some("200"),
                "the HTTP status that passes",
            ),
            p(
                "max_latency",
                K::Duration,
                false,
                None,
                "the longest an answer may take to pass, e.g. `2s`",
            ),
            p(
                "attempts",
                K::Integer,
                false,
                Some("3"),
                "how many requests to try (500 ms apart) before the probe fails; it passes at the first that passes",
            ),
        ],
        outputs: &[
            o(
                "status",
                "the HTTP status of the last attempt (empty when nothing answered)",
            ),
            o(
                "latency_ms",
                "how long the last attempt took, in milliseconds",
            ),
        ],
        default_estimate: secs(2),
        estimate_param: None,
        mutates: false,
        needs_region: false,
        iam: &[],
        control_plane: ControlPlane::UrlRegion,
    },
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
    // ---- iam ----------------------------------------------------------------------------------
    ActionSpec {
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
    },
    // ---- cloudwatch -------------------------------------------------------------------------
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
    // ---- ecs, ssm: the services of a system inside one Region and the parameters they read -----
    ActionSpec {
        name: "ecs.assert_stable",
        summary: "Check that an ECS service is stable: running equals desired and its PRIMARY deployment's rollout is COMPLETED.",
        service: Service::Ecs,
        params: &[
            p("cluster", K::String, true, None, "the cluster's name or ARN"),
            p("service", K::String, true, None, "the service's name or ARN"),
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
            p("cluster", K::String, true, None, "the cluster's name or ARN"),
            p("service", K::String, true, None, "the service's name or ARN"),
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
            p("cluster", K::String, true, None, "the cluster's name or ARN"),
            p("service", K::String, true, None, "the service's name or ARN"),
            p("desired", K::Integer, true, None, "the number of tasks wanted"),
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
    ActionSpec {
        name: "ssm.put_parameter",
        summary: "Set a Systems Manager parameter to a value (no call when it already has it); a SecureString's value is never shown or journaled.",
        service: Service::Ssm,
        params: &[
            p("name", K::String, true, None, "the parameter's name (for example `/app/db/host`)"),
            p("value", K::String, true, None, "the value wanted"),
            p(
                "type",
                K::Enum(&["String", "StringList", "SecureString"]),
                false,
                Some("String"),
                "the parameter's type, as AWS spells it",
            ),
        ],
        outputs: &[o("version", "the parameter's version afterwards")],
        default_estimate: secs(2),
        estimate_param: None,
        mutates: true,
        needs_region: true,
        // GetParameter WithDecryption of a SecureString also needs kms:Decrypt on its key
        // (Systems Manager user guide, "Restricting access to Parameter Store parameters
        // using IAM policies"); the default key aws/ssm needs none.
        iam: &["ssm:GetParameter", "ssm:PutParameter"],
        control_plane: ControlPlane::StepRegion,
    },
    ActionSpec {
        name: "ssm.assert_parameter",
        summary: "Check that a Systems Manager parameter has the expected value.",
        service: Service::Ssm,
        params: &[
            p("name", K::String, true, None, "the parameter's name"),
            p("expect", K::String, true, None, "the value it must have"),
        ],
        outputs: &[o("version", "the parameter's version")],
        default_estimate: secs(2),
        estimate_param: None,
        mutates: false,
        needs_region: true,
        iam: &["ssm:GetParameter"],
        control_plane: ControlPlane::StepRegion,
    },
    // ---- rds --------------------------------------------------------------------------------
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
    // ---- s3: the Terraform state in its versioned bucket ----------------------------------------
    ActionSpec {
        name: "s3.assert_versioning",
        summary: "Check that an S3 bucket has versioning Enabled (GetBucketVersioning), and say what MFA delete and Object Lock are set to.",
        service: Service::S3,
        params: &[p("bucket", K::String, true, None, "the bucket's name")],
        outputs: &[
            o("status", "the versioning status (`Enabled`)"),
            o("mfa_delete", "`Enabled` or `Disabled`"),
            o(
                "object_lock",
                "`Enabled`, with its default retention when it has one, or `none`",
            ),
        ],
        default_estimate: secs(2),
        estimate_param: None,
        mutates: false,
        needs_region: true,
        iam: &[
            "s3:GetBucketVersioning",
            "s3:GetBucketObjectLockConfiguration",
        ],
        control_plane: ControlPlane::StepRegion,
    },
    ActionSpec {
        name: "s3.put_object",
        summary: "Write an object (PutObject; no call when it already has these bytes). Game-day scenarios use it to overwrite a state object.",
        service: Service::S3,
        params: &[
            p("bucket", K::String, true, None, "the bucket's name"),
            p("key", K::String, true, None, "the object's key"),
            p("body", K::String, true, None, "the object's content (UTF-8 text)"),
        ],
        outputs: &[o(
            "version_id",
            "the object's current version id afterwards (`null` in a bucket never versioned)",
        )],
        default_estimate: secs(2),
        estimate_param: None,
        mutates: true,
        needs_region: true,
        iam: &["s3:GetObject", "s3:PutObject"],
        control_plane: ControlPlane::StepRegion,
    },
    ActionSpec {
        name: "s3.restore_object",
        summary: "Make the newest version of an object written at or before `restore_to` current again, as a copy onto the same key (history is kept; no copy when the current version already has its content); with `lock_table`, set the digest item Terraform's S3 backend keeps in its DynamoDB lock table to the restored state's MD5.",
        service: Service::S3,
        params: &[
            p("bucket", K::String, true, None, "the versioned bucket's name"),
            p("key", K::String, true, None, "the object's key (e.g. `env/production/terraform.tfstate`)"),
            p(
                "restore_to",
                K::String,
                true,
                None,
                "an RFC 3339 time before the damage; S3 lists LastModified to the second, so a version listed in restore_to's own second is not taken",
            ),
            p(
                "lock_table",
                K::String,
                false,
                None,
                "the Terraform S3 backend's DynamoDB lock table (`dynamodb_table`), whose item `BUCKET/KEY-md5` gets the restored state's MD5; not needed with S3-native locking (`use_lockfile`)",
            )
            .scoped(S::DynamoDbTable),
        ],
        outputs: &[
            o("version_id", "the object's current version id afterwards"),
            o("restored_from", "the id of the version whose content was restored"),
            o("restored_from_time", "that version's LastModified, RFC 3339"),
            o("digest", "the hex MD5 written to the lock table's digest item (with `lock_table`)"),
        ],
        default_estimate: secs(10),
        estimate_param: None,
        mutates: true,
        needs_region: true,
        // A bucket encrypted with SSE-KMS also needs kms:Decrypt and kms:GenerateDataKey on
        // its key for the copy (Amazon S3 user guide, "Using server-side encryption with AWS
        // KMS keys (SSE-KMS)"); the default SSE-S3 needs none.
        iam: &[
            "s3:GetBucketVersioning",
            "s3:ListBucketVersions",
            "s3:GetObject",
            "s3:GetObjectVersion",
            "s3:PutObject",
            "dynamodb:GetItem",
            "dynamodb:PutItem",
        ],
        control_plane: ControlPlane::StepRegion,
    },
    ActionSpec {
        name: "s3.assert_object",
        summary: "Check an object's current content: its MD5, equal to a given version's or to the version current at a time, and with `lock_table` the Terraform S3 backend's digest item equal to its MD5.",
        service: Service::S3,
        params: &[
            p("bucket", K::String, true, None, "the bucket's name"),
            p("key", K::String, true, None, "the object's key"),
            p("md5", K::String, false, None, "the hex MD5 its content must have"),
            p(
                "same_as",
                K::String,
                false,
                None,
                "a version id of the key whose content it must have",
            ),
            p(
                "as_of",
                K::String,
                false,
                None,
                "an RFC 3339 time: it must have the content of the version current then (chosen as `s3.restore_object` chooses)",
            ),
            p(
                "lock_table",
                K::String,
                false,
                None,
                "the Terraform S3 backend's DynamoDB lock table, whose digest item must be its MD5",
            )
            .scoped(S::DynamoDbTable),
        ],
        outputs: &[
            o("version_id", "the current version id"),
            o("md5", "the hex MD5 of its content"),
            o("size", "its size in bytes"),
        ],
        default_estimate: secs(2),
        estimate_param: None,
        mutates: false,
        needs_region: true,
        iam: &[
            "s3:GetObject",
            "s3:GetObjectVersion",
            "s3:ListBucketVersions",
            "dynamodb:GetItem",
        ],
        control_plane: ControlPlane::StepRegion,
    },
];

/// Looks an action up by name.
pub fn lookup(name: &str) -> Option<&'static ActionSpec> {
    CATALOG.iter().find(|a| a.name == name)
}

/// Names of every action, for did-you-mean suggestions and `--help`.
pub fn names() -> impl Iterator<Item = &'static str> {
    CATALOG.iter().map(|a| a.name)
}

/// The action table of docs/runbook-format.md (between its `actions:begin` and `actions:end`
/// markers), generated from [`CATALOG`]; a test keeps the document equal to it.
pub fn markdown_table() -> String {
    let mut o = String::from(
        "| action | what it does | changes AWS | parameters (**required**) | outputs |\n|---|---|---|---|---|\n",
    );
    for a in CATALOG {
        let params: Vec<String> = a
            .params
            .iter()
            .map(|p| {
                if p.required {
                    format!("**`{}`**", p.name)
                } else {
                    format!("`{}`", p.name)
                }
            })
            .collect();
        let outputs: Vec<String> = a.outputs.iter().map(|o| format!("`{}`", o.name)).collect();
        let cell = |v: Vec<String>| {
            if v.is_empty() {
                "-".to_string()
            } else {
                v.join(", ")
            }
        };
        o.push_str(&format!(
            "| `{}` | {} | {} | {} | {} |\n",
            a.name,
            a.summary.replace('|', "\\|"),
            if a.mutates { "yes" } else { "no" },
            cell(params),
            cell(outputs)
        ));
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_well_formed() {
        let mut seen = std::collections::BTreeSet::new();
        for a in CATALOG {
            assert!(seen.insert(a.name), "duplicate {}", a.name);
            let expected_prefix = match a.service {
                Service::Core => "",
                s => s.name(),
            };
            assert!(a.name.starts_with(expected_prefix), "{}", a.name);
            if a.mutates {
                assert!(
                    !a.iam.is_empty() || a.service == Service::Core,
                    "{}",
                    a.name
                );
            }
            for iam in a.iam {
                assert!(!iam.contains('*'), "{} has a wildcard IAM action", a.name);
            }
        }
    }

    /// The hand-written list of actions in the docs drifted from the catalogue before; the
    /// table is now generated. `DRILLBOOK_UPDATE_DOCS=1 cargo test --lib` rewrites it.
    #[test]
    fn the_docs_action_table_is_the_catalogue() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/runbook-format.md");
        let doc = std::fs::read_to_string(path).unwrap();
        let (begin, end) = ("<!-- actions:begin -->\n", "<!-- actions:end -->");
        let start = doc.find(begin).expect("the begin marker") + begin.len();
        let stop = doc.find(end).expect("the end marker");
        let table = super::markdown_table();
        if doc[start..stop] != table {
            if std::env::var_os("DRILLBOOK_UPDATE_DOCS").is_some() {
                std::fs::write(path, format!("{}{table}{}", &doc[..start], &doc[stop..])).unwrap();
            } else {
                panic!(
                    "docs/runbook-format.md's action table differs from the catalogue; rewrite it with `DRILLBOOK_UPDATE_DOCS=1 cargo test --lib the_docs_action_table`"
                );
            }
        }
    }
}
