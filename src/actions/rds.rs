//! Amazon RDS actions: `assert_pitr`, `assert_ready`, `restore_pitr` and `failover`.
//!
//! - A point-in-time restore creates a *new* DB instance "with the default security group, the
//!   default subnet group, and the default DB parameter group", single-AZ unless asked (RDS API
//!   reference, RestoreDBInstanceToPointInTime; RDS user guide, "Restoring a DB instance to a
//!   specified time"). So `restore_pitr` passes the source's settings in the restore request
//!   itself, waits until the target is `available`, and verifies each one against the source.
//!   It marks the target with a `drillbook:restored-from` tag, so a resumed step that finds the
//!   target waits for it instead of starting another restore, and refuses a target that is not
//!   a restore of this source.
//! - A Multi-AZ failover is RebootDBInstance with ForceFailover: "the primary DB instance is
//!   switched to the standby" (RDS user guide, "Rebooting a DB instance"; "Failover process for
//!   Amazon RDS"). `failover` records the Availability Zone before it in a tag on the instance,
//!   so a retry or a resume of the same step finds the failover made (the instance is in another
//!   Availability Zone) or in progress, and never fails over twice. An Aurora DB cluster fails
//!   over with FailoverDBCluster (to `target_instance`, or a reader RDS chooses), its writer
//!   before recorded the same way on the cluster.
//!
//! - An Aurora DB cluster is restored with RestoreDBClusterToPointInTime, the same settings
//!   named, and then its writer instance created (the restore creates none).
//! - An Aurora global database moves its writer to another Region with SwitchoverGlobalCluster
//!   (planned, "without losing any data") or FailoverGlobalCluster with AllowDataLoss (the
//!   primary's Region is lost) (RDS API reference, "SwitchoverGlobalCluster",
//!   "FailoverGlobalCluster"; Aurora user guide, "Using switchover or failover in an Amazon
//!   Aurora global database"). The wanted state is "the writer member is in `to_region`", read
//!   from DescribeGlobalClusters, so a retry, a resume or a second run that finds it there
//!   does nothing, and one that finds the operation in progress waits for it.
//!
//! Left for later: reader instances of a restored cluster.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_rds::Client;
use aws_sdk_rds::types::{DbCluster, DbInstance, GlobalCluster, Tag};
use chrono::{DateTime, Utc};

use super::restore_point::{RestorePoint, rfc3339};
use serde_json::json;

use super::aws::aws_error;
use super::{Action, ActionError, ActionSpec, Finding, Observation, Outcome, StepContext, poll};
use crate::catalog;
use crate::duration::human;

pub(super) fn all() -> Vec<Arc<dyn Action>> {
    vec![
        Arc::new(AssertPitr),
        Arc::new(AssertReady),
        Arc::new(RestorePitr),
        Arc::new(Failover),
    ]
}

const SVC: &str = "rds";

/// The tag that marks a restored instance with its source.
const RESTORED_FROM_TAG: &str = "drillbook:restored-from";
/// The tag that records a failover in progress: `RUN_ID/STEP/AZ_BEFORE`.
const FAILOVER_TAG: &str = "drillbook:failover";

/// Longest pause while waiting for a restore or a failover (restores take many minutes).
const RDS_MAX_INTERVAL: Duration = Duration::from_secs(20);

/// AWS: "the latest restorable time is typically within the last 5 minutes" (RDS user guide,
/// "Restoring a DB instance to a specified time"): three times that is a finding by default.
const DEFAULT_MAX_LAG: Duration = Duration::from_secs(15 * 60);

fn spec(name: &str) -> &'static ActionSpec {
    catalog::lookup(name).expect("rds actions are in the catalogue")
}

fn client(ctx: &StepContext) -> Result<(Client, String), ActionError> {
    let region = ctx.region()?.to_string();
    Ok((ctx.aws.rds(&region), region))
}

fn finding(message: impl Into<String>, hint: impl Into<String>) -> Finding {
    Finding {
        message: message.into(),
        hint: hint.into(),
    }
}

fn to_utc(t: &aws_smithy_types::DateTime) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp(t.secs(), t.subsec_nanos())
}

/// DescribeDBInstances for one instance; `None` when it does not exist.
async fn describe_instance(
    c: &Client,
    region: &str,
    id: &str,
) -> Result<Option<DbInstance>, ActionError> {
    match c
        .describe_db_instances()
        .db_instance_identifier(id)
        .send()
        .await
    {
        Ok(out) => Ok(out.db_instances().first().cloned()),
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_db_instance_not_found_fault()) =>
        {
            Ok(None)
        }
        Err(e) => Err(aws_error(SVC, "DescribeDBInstances", region, e)),
    }
}

/// DescribeDBClusters for one cluster; `None` when it does not exist.
async fn describe_cluster(
    c: &Client,
    region: &str,
    id: &str,
) -> Result<Option<DbCluster>, ActionError> {
    match c
        .describe_db_clusters()
        .db_cluster_identifier(id)
        .send()
        .await
    {
        Ok(out) => Ok(out.db_clusters().first().cloned()),
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_db_cluster_not_found_fault()) =>
        {
            Ok(None)
        }
        Err(e) => Err(aws_error(SVC, "DescribeDBClusters", region, e)),
    }
}

/// What a read-only check is about: `instance` or `cluster`, exactly one.
enum Target {
    Instance(String),
    Cluster(String),
}

impl Target {
    fn read(ctx: &StepContext) -> Result<Target, ActionError> {
        match (
            ctx.params.opt_str("instance")?,
            ctx.params.opt_str("cluster")?,
        ) {
            (Some(i), None) => Ok(Target::Instance(i)),
            (None, Some(c)) => Ok(Target::Cluster(c)),
            (Some(_), Some(_)) => Err(ActionError::Invalid {
                message: "parameters `instance` and `cluster` are both set".into(),
                hint: "name either the DB instance or the DB cluster".into(),
            }),
            (None, None) => Err(ActionError::Invalid {
                message: "neither `instance` nor `cluster` is set".into(),
                hint: "name the DB instance (`instance:`) or the DB cluster (`cluster:`)".into(),
            }),
        }
    }

    fn describe(&self) -> String {
        match self {
            Target::Instance(i) => format!("DB instance `{i}`"),
            Target::Cluster(c) => format!("DB cluster `{c}`"),
        }
    }
}

/// The facts both read-only checks need, from an instance or a cluster.
struct State {
    status: String,
    multi_az: bool,
    retention_days: i32,
    latest_restorable: Option<DateTime<Utc>>,
    availability_zone: Option<String>,
    endpoint: Option<String>,
}

impl State {
    fn of_instance(i: &DbInstance) -> State {
        State {
            status: i.db_instance_status().unwrap_or("unknown").to_string(),
            multi_az: i.multi_az().unwrap_or(false),
            retention_days: i.backup_retention_period().unwrap_or(0),
            latest_restorable: i.latest_restorable_time().and_then(to_utc),
            availability_zone: i.availability_zone().map(str::to_string),
            endpoint: i.endpoint().and_then(|e| e.address()).map(str::to_string),
        }
    }

    fn of_cluster(c: &DbCluster) -> State {
        State {
            status: c.status().unwrap_or("unknown").to_string(),
            multi_az: c.multi_az().unwrap_or(false),
            retention_days: c.backup_retention_period().unwrap_or(0),
            latest_restorable: c.latest_restorable_time().and_then(to_utc),
            availability_zone: None,
            endpoint: c.endpoint().map(str::to_string),
        }
    }
}

/// Reads the instance or cluster; `Err(finding)` when it does not exist.
async fn read_state(
    ctx: &StepContext,
    target: &Target,
) -> Result<Result<State, Finding>, ActionError> {
    let (c, region) = client(ctx)?;
    let state = match target {
        Target::Instance(i) => describe_instance(&c, &region, i)
            .await?
            .map(|d| State::of_instance(&d)),
        Target::Cluster(id) => describe_cluster(&c, &region, id)
            .await?
            .map(|d| State::of_cluster(&d)),
    };
    Ok(state.ok_or_else(|| {
        finding(
            format!("{} not found in {region}", target.describe()),
            "check the identifier and the step's region",
        )
    }))
}

// ------------------------------------------------------------------------- assert_pitr

struct AssertPitr;

#[async_trait::async_trait]
impl Action for AssertPitr {
    fn spec(&self) -> &'static ActionSpec {
        spec("rds.assert_pitr")
    }

    async fn observe(&self, ctx: &StepContext) -> Result<Observation, ActionError> {
        let target = Target::read(ctx)?;
        let min = ctx
            .params
            .opt_duration("min_retention")?
            .unwrap_or(Duration::from_secs(86_400));
        let min_days = min.as_secs().div_ceil(86_400);
        let max_lag = ctx
            .params
            .opt_duration("max_lag")?
            .unwrap_or(DEFAULT_MAX_LAG);
        let region = ctx.region()?.to_string();
        let what = target.describe();
        let mut obs = Observation::default();
        let s = match read_state(ctx, &target).await? {
            Ok(s) => s,
            Err(f) => {
                obs.summary = f.message.clone();
                obs.findings.push(f);
                return Ok(obs);
            }
        };
        obs.facts
            .insert("retention_days".into(), json!(s.retention_days));
        obs.facts
            .insert("min_retention_days".into(), json!(min_days));
        obs.outputs
            .insert("retention_days".into(), s.retention_days.to_string());
        // "Setting the backup retention period to 0 disables automated backups" (RDS user
        // guide, "Enabling automated backups").
        if s.retention_days <= 0 {
            obs.summary = format!("automated backups are off on {what}");
            obs.findings.push(finding(
                format!("automated backups are off on {what} in {region} (backup retention period 0): it cannot be restored to a point in time"),
                "turn them on with a backup retention period of at least the days asked: \
                 aws rds modify-db-instance --backup-retention-period N --apply-immediately",
            ));
            return Ok(obs);
        }
        if (s.retention_days as u64) < min_days {
            obs.findings.push(finding(
                format!(
                    "{what} keeps automated backups {} day(s), fewer than the {min_days} asked",
                    s.retention_days
                ),
                "raise its backup retention period (at most 35 days), or lower `min_retention`",
            ));
        }
        let Some(latest) = s.latest_restorable else {
            obs.summary = format!("{what} reports no latest restorable time yet");
            obs.findings.push(finding(
                format!("{what} reports no latest restorable time"),
                "automated backups were probably just turned on; try again after the first backup",
            ));
            return Ok(obs);
        };
        let lag = (Utc::now() - latest).to_std().unwrap_or(Duration::ZERO);
        obs.facts
            .insert("latest_restorable_time".into(), json!(rfc3339(latest)));
        obs.facts.insert("lag_seconds".into(), json!(lag.as_secs()));
        obs.facts
            .insert("max_lag_seconds".into(), json!(max_lag.as_secs()));
        obs.outputs
            .insert("latest_restorable_time".into(), rfc3339(latest));
        obs.outputs
            .insert("lag_seconds".into(), lag.as_secs().to_string());
        obs.summary = format!(
            "automated backups on for {what}: {} day(s) kept, restorable up to {} (lag {}, limit {})",
            s.retention_days,
            rfc3339(latest),
            human(lag),
            human(max_lag)
        );
        if lag > max_lag {
            obs.findings.push(finding(
                format!(
                    "the latest restorable time of {what} ({}) trails now by {}, more than the {} allowed",
                    rfc3339(latest),
                    human(lag),
                    human(max_lag)
                ),
                "AWS documents it as typically within the last 5 minutes; a larger gap means \
                 transaction logs are not reaching backup storage: check the instance's events, \
                 or raise `max_lag`",
            ));
        }
        Ok(obs)
    }

    async fn verify(&self, _: &StepContext, outcome: &Outcome) -> Result<(), ActionError> {
        if outcome.outputs.contains_key("latest_restorable_time") {
            Ok(())
        } else {
            Err(ActionError::Verification {
                message: "no latest restorable time was observed".into(),
                hint: "check that automated backups are on".into(),
            })
        }
    }
}

// ------------------------------------------------------------------------- assert_ready

struct AssertReady;

#[async_trait::async_trait]
impl Action for AssertReady {
    fn spec(&self) -> &'static ActionSpec {
        spec("rds.assert_ready")
    }

    async fn observe(&self, ctx: &StepContext) -> Result<Observation, ActionError> {
        let target = Target::read(ctx)?;
        let want_multi_az = match ctx.params.0.get("multi_az") {
            None | Some(serde_json::Value::Null) => None,
            Some(_) => Some(ctx.params.bool_or("multi_az", false)?),
        };
        let what = target.describe();
        let mut obs = Observation::default();
        let s = match read_state(ctx, &target).await? {
            Ok(s) => s,
            Err(f) => {
                obs.summary = f.message.clone();
                obs.findings.push(f);
                return Ok(obs);
            }
        };
        obs.facts.insert("status".into(), json!(s.status));
        obs.facts.insert("multi_az".into(), json!(s.multi_az));
        obs.outputs.insert("status".into(), s.status.clone());
        obs.outputs
            .insert("multi_az".into(), s.multi_az.to_string());
        if let Some(az) = &s.availability_zone {
            obs.facts.insert("availability_zone".into(), json!(az));
            obs.outputs.insert("availability_zone".into(), az.clone());
        }
        if let Some(e) = &s.endpoint {
            obs.outputs.insert("endpoint".into(), e.clone());
        }
        obs.summary = format!(
            "{what} is `{}`{}{}",
            s.status,
            if s.multi_az {
                ", Multi-AZ"
            } else {
                ", single-AZ"
            },
            s.availability_zone
                .as_deref()
                .map(|az| format!(", in {az}"))
                .unwrap_or_default()
        );
        if s.status != "available" {
            obs.findings.push(finding(
                format!("{what} is `{}`, not `available`", s.status),
                "wait for it (a restore, reboot or modification in progress), or look at its events",
            ));
        }
        if let Some(want) = want_multi_az
            && want != s.multi_az
        {
            obs.findings.push(finding(
                format!(
                    "{what} is {}, not {} as asked",
                    if s.multi_az { "Multi-AZ" } else { "single-AZ" },
                    if want { "Multi-AZ" } else { "single-AZ" },
                ),
                "a restore is single-AZ unless it asks for Multi-AZ; modify the instance, or change `multi_az`",
            ));
        }
        Ok(obs)
    }

    async fn verify(&self, _: &StepContext, outcome: &Outcome) -> Result<(), ActionError> {
        match outcome.outputs.get("status").map(String::as_str) {
            Some("available") => Ok(()),
            other => Err(ActionError::Verification {
                message: format!("status is {}, not `available`", other.unwrap_or("unknown")),
                hint: "look at the instance's events".into(),
            }),
        }
    }
}

// ------------------------------------------------------------------------- restore_pitr

/// The settings a restore does not carry over by itself, as DescribeDBInstances shows them.
#[derive(Debug, Clone, PartialEq, Default)]
struct Settings {
    subnet_group: Option<String>,
    vpc_security_groups: Vec<String>,
    parameter_groups: Vec<String>,
    option_groups: Vec<String>,
    multi_az: bool,
    storage_type: Option<String>,
    deletion_protection: bool,
    /// Without drillbook's own marks and AWS-reserved (`aws:`) keys.
    tags: BTreeMap<String, String>,
    copy_tags_to_snapshot: bool,
    iam_auth: bool,
    log_exports: Vec<String>,
    encrypted: bool,
    kms_key: Option<String>,
}

impl Settings {
    fn of(i: &DbInstance) -> Settings {
        let sorted = |mut v: Vec<String>| {
            v.sort();
            v
        };
        Settings {
            subnet_group: i
                .db_subnet_group()
                .and_then(|g| g.db_subnet_group_name())
                .map(str::to_string),
            vpc_security_groups: sorted(
                i.vpc_security_groups()
                    .iter()
                    .filter_map(|g| g.vpc_security_group_id())
                    .map(str::to_string)
                    .collect(),
            ),
            parameter_groups: sorted(
                i.db_parameter_groups()
                    .iter()
                    .filter_map(|g| g.db_parameter_group_name())
                    .map(str::to_string)
                    .collect(),
            ),
            option_groups: sorted(
                i.option_group_memberships()
                    .iter()
                    .filter_map(|g| g.option_group_name())
                    .map(str::to_string)
                    .collect(),
            ),
            multi_az: i.multi_az().unwrap_or(false),
            storage_type: i.storage_type().map(str::to_string),
            deletion_protection: i.deletion_protection().unwrap_or(false),
            tags: i
                .tag_list()
                .iter()
                .filter_map(|t| Some((t.key()?.to_string(), t.value().unwrap_or("").to_string())))
                .filter(|(k, _)| !k.starts_with("drillbook:") && !k.starts_with("aws:"))
                .collect(),
            copy_tags_to_snapshot: i.copy_tags_to_snapshot().unwrap_or(false),
            iam_auth: i.iam_database_authentication_enabled().unwrap_or(false),
            log_exports: sorted(i.enabled_cloudwatch_logs_exports().to_vec()),
            encrypted: i.storage_encrypted().unwrap_or(false),
            kms_key: i.kms_key_id().map(str::to_string),
        }
    }

    /// One line per setting, for the facts and the mismatch messages.
    fn fields(&self) -> Vec<(&'static str, String)> {
        let list = |v: &[String]| {
            if v.is_empty() {
                "(none)".to_string()
            } else {
                v.join(",")
            }
        };
        let opt = |v: &Option<String>| v.clone().unwrap_or_else(|| "(default)".into());
        vec![
            ("DBSubnetGroupName", opt(&self.subnet_group)),
            ("VpcSecurityGroupIds", list(&self.vpc_security_groups)),
            ("DBParameterGroupName", list(&self.parameter_groups)),
            ("OptionGroupName", list(&self.option_groups)),
            ("MultiAZ", self.multi_az.to_string()),
            ("StorageType", opt(&self.storage_type)),
            ("DeletionProtection", self.deletion_protection.to_string()),
            (
                "Tags",
                if self.tags.is_empty() {
                    "(none)".into()
                } else {
                    self.tags
                        .iter()
                        .map(|(k, v)| format!("{k}={v}"))
                        .collect::<Vec<_>>()
                        .join(",")
                },
            ),
            ("CopyTagsToSnapshot", self.copy_tags_to_snapshot.to_string()),
            ("EnableIAMDatabaseAuthentication", self.iam_auth.to_string()),
            ("EnableCloudwatchLogsExports", list(&self.log_exports)),
            ("StorageEncrypted", self.encrypted.to_string()),
            ("KmsKeyId", opt(&self.kms_key)),
        ]
    }

    /// The settings of `restored` that differ from the source's (`self`).
    fn mismatches(&self, restored: &Settings) -> Vec<String> {
        self.fields()
            .into_iter()
            .zip(restored.fields())
            .filter(|((_, want), (_, got))| want != got)
            .map(|((name, want), (_, got))| format!("{name} is {got}, the source's is {want}"))
            .collect()
    }
}

/// How a restore point is stated in this action's facts: `latest` names the API parameter.
fn stated(point: &RestorePoint) -> String {
    match point {
        RestorePoint::Latest => "the latest restorable time (UseLatestRestorableTime)".to_string(),
        RestorePoint::At(_) => point.describe(),
    }
}

fn tag_value<'a>(i: &'a DbInstance, key: &str) -> Option<&'a str> {
    i.tag_list()
        .iter()
        .find(|t| t.key() == Some(key))
        .map(|t| t.value().unwrap_or(""))
}

fn instance_outputs(i: &DbInstance) -> BTreeMap<String, String> {
    let mut o = BTreeMap::new();
    if let Some(id) = i.db_instance_identifier() {
        o.insert("identifier".into(), id.to_string());
    }
    if let Some(e) = i.endpoint() {
        if let Some(a) = e.address() {
            o.insert("endpoint".into(), a.to_string());
        }
        if let Some(p) = e.port() {
            o.insert("port".into(), p.to_string());
        }
    }
    if let Some(arn) = i.db_instance_arn() {
        o.insert("arn".into(), arn.to_string());
    }
    o
}

fn status(i: &DbInstance) -> &str {
    i.db_instance_status().unwrap_or("unknown")
}

struct RestorePitr;

#[async_trait::async_trait]
impl Action for RestorePitr {
    fn spec(&self) -> &'static ActionSpec {
        spec("rds.restore_pitr")
    }

    async fn observe(&self, ctx: &StepContext) -> Result<Observation, ActionError> {
        if let Target::Cluster(src) = Target::read(ctx)? {
            return observe_cluster_restore(ctx, &src).await;
        }
        let src = ctx.params.str("instance")?;
        let dst = ctx.params.str("target")?;
        let point = RestorePoint::parse(&ctx.params.str("restore_to")?)?;
        let (c, region) = client(ctx)?;
        let mut obs = Observation::default();
        obs.facts.insert("source".into(), json!(src));
        obs.facts.insert("target".into(), json!(dst));
        obs.facts.insert("restore_to".into(), json!(stated(&point)));
        let Some(source) = describe_instance(&c, &region, &src).await? else {
            obs.summary = format!("DB instance `{src}` not found in {region}");
            obs.findings.push(finding(
                obs.summary.clone(),
                "check the identifier and the step's region (a cluster's restore is not supported yet)",
            ));
            return Ok(obs);
        };
        let from_source = Settings::of(&source);
        obs.facts.insert(
            "source_settings".into(),
            json!(from_source.fields().into_iter().collect::<BTreeMap<_, _>>()),
        );
        match describe_instance(&c, &region, &dst).await? {
            Some(target) => {
                if tag_value(&target, RESTORED_FROM_TAG) != Some(src.as_str()) {
                    obs.summary =
                        format!("DB instance `{dst}` exists and is not a restore of `{src}`");
                    obs.findings.push(finding(
                        format!(
                            "DB instance `{dst}` already exists in {region} and is not a restore of `{src}` (no `{RESTORED_FROM_TAG}={src}` tag)"
                        ),
                        "choose another `target`, or delete that instance if it is a leftover",
                    ));
                    return Ok(obs);
                }
                obs.facts
                    .insert("target_status".into(), json!(status(&target)));
                if status(&target) == "available" {
                    obs.summary = format!("`{dst}`, a restore of `{src}`, is available");
                    obs.outputs = instance_outputs(&target);
                } else {
                    obs.summary =
                        format!("`{dst}`, a restore of `{src}`, is `{}`", status(&target));
                    obs.changes.push(format!(
                        "wait for the restore of `{src}` as `{dst}` in progress (no second restore)"
                    ));
                }
            }
            None => {
                if from_source.encrypted {
                    obs.facts
                        .insert("kms_key".into(), json!(from_source.kms_key));
                }
                match (point, source.latest_restorable_time().and_then(to_utc)) {
                    (_, None) => obs.findings.push(finding(
                        format!("`{src}` has no latest restorable time: automated backups are off or have not run"),
                        "turn automated backups on (a backup retention period above 0)",
                    )),
                    (RestorePoint::At(t), Some(latest)) if t > latest => {
                        obs.findings.push(finding(
                            format!(
                                "restore point {} is after the latest restorable time of `{src}` ({})",
                                rfc3339(t),
                                rfc3339(latest)
                            ),
                            "use an earlier time, or `latest`",
                        ))
                    }
                    _ => {}
                }
                obs.summary = format!(
                    "`{dst}` does not exist; `{src}` would be restored to {}",
                    stated(&point)
                );
                obs.changes.push(format!(
                    "restore `{src}` to {} as new DB instance `{dst}`, with the source's {}",
                    stated(&point),
                    from_source
                        .fields()
                        .iter()
                        .filter(|(n, _)| !matches!(*n, "StorageEncrypted" | "KmsKeyId"))
                        .map(|(n, v)| format!("{n}={v}"))
                        .collect::<Vec<_>>()
                        .join(" ")
                ));
            }
        }
        Ok(obs)
    }

    async fn apply(&self, ctx: &StepContext, _: &Observation) -> Result<Outcome, ActionError> {
        if let Target::Cluster(src) = Target::read(ctx)? {
            return apply_cluster_restore(ctx, &src).await;
        }
        let src = ctx.params.str("instance")?;
        let dst = ctx.params.str("target")?;
        let point = RestorePoint::parse(&ctx.params.str("restore_to")?)?;
        let (c, region) = client(ctx)?;
        let mut changes = vec![];
        if describe_instance(&c, &region, &dst).await?.is_none() {
            let source = describe_instance(&c, &region, &src).await?.ok_or_else(|| {
                ActionError::Invalid {
                    message: format!("DB instance `{src}` not found in {region}"),
                    hint: "check the identifier and the step's region".into(),
                }
            })?;
            let s = Settings::of(&source);
            let mut tags: Vec<Tag> = s
                .tags
                .iter()
                .map(|(k, v)| Tag::builder().key(k).value(v).build())
                .collect();
            tags.push(Tag::builder().key(RESTORED_FROM_TAG).value(&src).build());
            // Every setting AWS would otherwise give its default, passed in the request (RDS
            // API reference, RestoreDBInstanceToPointInTime). The KMS key is not: "If the DB
            // instance is encrypted, then the restored DB instance is encrypted using the KMS
            // key that was used to encrypt the source DB instance" (same page, KmsKeyId).
            let mut req = c
                .restore_db_instance_to_point_in_time()
                .source_db_instance_identifier(&src)
                .target_db_instance_identifier(&dst)
                .set_db_subnet_group_name(s.subnet_group.clone())
                .set_vpc_security_group_ids(
                    (!s.vpc_security_groups.is_empty()).then(|| s.vpc_security_groups.clone()),
                )
                .set_db_parameter_group_name(s.parameter_groups.first().cloned())
                .set_option_group_name(s.option_groups.first().cloned())
                .multi_az(s.multi_az)
                .set_storage_type(s.storage_type.clone())
                .deletion_protection(s.deletion_protection)
                .set_tags(Some(tags))
                .copy_tags_to_snapshot(s.copy_tags_to_snapshot)
                .enable_iam_database_authentication(s.iam_auth)
                .set_enable_cloudwatch_logs_exports(
                    (!s.log_exports.is_empty()).then(|| s.log_exports.clone()),
                )
                .set_db_instance_class(ctx.params.opt_str("instance_class")?);
            req = match point {
                RestorePoint::Latest => req.use_latest_restorable_time(true),
                RestorePoint::At(t) => {
                    req.restore_time(aws_smithy_types::DateTime::from_secs_and_nanos(
                        t.timestamp(),
                        t.timestamp_subsec_nanos(),
                    ))
                }
            };
            req.send()
                .await
                .map_err(|e| aws_error(SVC, "RestoreDBInstanceToPointInTime", &region, e))?;
            changes.push(format!("restored `{src}` to {} as `{dst}`", stated(&point)));
        }
        let target = poll::until(&ctx.waits, RDS_MAX_INTERVAL, || async {
            match describe_instance(&c, &region, &dst).await? {
                Some(t) if status(&t) == "available" => Ok(Some(t)),
                Some(t) if matches!(status(&t), "failed" | "incompatible-restore" | "deleting") => {
                    Err(ActionError::Verification {
                        message: format!("the restore `{dst}` is `{}`", status(&t)),
                        hint: "look at the instance's events in the RDS console".into(),
                    })
                }
                _ => Ok(None),
            }
        })
        .await?;
        Ok(Outcome {
            summary: format!(
                "`{dst}` restored from `{src}` to {} and available",
                stated(&point)
            ),
            changes,
            outputs: instance_outputs(&target),
        })
    }

    async fn verify(&self, ctx: &StepContext, _: &Outcome) -> Result<(), ActionError> {
        if let Target::Cluster(src) = Target::read(ctx)? {
            return verify_cluster_restore(ctx, &src).await;
        }
        let src = ctx.params.str("instance")?;
        let dst = ctx.params.str("target")?;
        let (c, region) = client(ctx)?;
        let (Some(source), Some(target)) = (
            describe_instance(&c, &region, &src).await?,
            describe_instance(&c, &region, &dst).await?,
        ) else {
            return Err(ActionError::Verification {
                message: format!("`{src}` or `{dst}` is gone"),
                hint: "look at the instances in the RDS console".into(),
            });
        };
        let mut mismatches = Settings::of(&source).mismatches(&Settings::of(&target));
        if let Some(class) = ctx.params.opt_str("instance_class")?
            && target.db_instance_class() != Some(class.as_str())
        {
            mismatches.push(format!(
                "DBInstanceClass is {}, the step asked for {class}",
                target.db_instance_class().unwrap_or("unknown")
            ));
        }
        if mismatches.is_empty() {
            Ok(())
        } else {
            Err(ActionError::Verification {
                message: format!(
                    "`{dst}` does not carry `{src}`'s settings: {}",
                    mismatches.join("; ")
                ),
                hint: format!(
                    "modify `{dst}` to match (aws rds modify-db-instance --apply-immediately), then resume"
                ),
            })
        }
    }
}

// ------------------------------------------------------------------------- restore (cluster)

/// A cluster's settings a restore does not carry over by itself ("The new DB cluster is created
/// with the default DB security group", RDS API reference, RestoreDBClusterToPointInTime), in
/// the instance's [`Settings`] (a cluster has no option group; its Multi-AZ comes from reader
/// instances in other zones, which the restore does not create: not compared).
fn cluster_settings(c: &DbCluster) -> Settings {
    let mut sgs: Vec<String> = c
        .vpc_security_groups()
        .iter()
        .filter_map(|g| g.vpc_security_group_id())
        .map(str::to_string)
        .collect();
    sgs.sort();
    let mut logs = c.enabled_cloudwatch_logs_exports().to_vec();
    logs.sort();
    Settings {
        subnet_group: c.db_subnet_group().map(str::to_string),
        vpc_security_groups: sgs,
        parameter_groups: c
            .db_cluster_parameter_group()
            .map(|g| vec![g.to_string()])
            .unwrap_or_default(),
        option_groups: vec![],
        multi_az: false,
        storage_type: c.storage_type().map(str::to_string),
        deletion_protection: c.deletion_protection().unwrap_or(false),
        tags: c
            .tag_list()
            .iter()
            .filter_map(|t| Some((t.key()?.to_string(), t.value().unwrap_or("").to_string())))
            .filter(|(k, _)| !k.starts_with("drillbook:") && !k.starts_with("aws:"))
            .collect(),
        copy_tags_to_snapshot: c.copy_tags_to_snapshot().unwrap_or(false),
        iam_auth: c.iam_database_authentication_enabled().unwrap_or(false),
        log_exports: logs,
        encrypted: c.storage_encrypted().unwrap_or(false),
        kms_key: c.kms_key_id().map(str::to_string),
    }
}

fn cluster_tag<'a>(c: &'a DbCluster, key: &str) -> Option<&'a str> {
    c.tag_list()
        .iter()
        .find(|t| t.key() == Some(key))
        .map(|t| t.value().unwrap_or(""))
}

/// The writer instance the step creates in a restored cluster.
fn writer_id(target: &str) -> String {
    format!("{target}-1")
}

fn cluster_restore_outputs(c: &DbCluster) -> BTreeMap<String, String> {
    let mut o = BTreeMap::new();
    if let Some(id) = c.db_cluster_identifier() {
        o.insert("identifier".into(), id.to_string());
    }
    if let Some(e) = c.endpoint() {
        o.insert("endpoint".into(), e.to_string());
    }
    if let Some(p) = c.port() {
        o.insert("port".into(), p.to_string());
    }
    if let Some(arn) = c.db_cluster_arn() {
        o.insert("arn".into(), arn.to_string());
    }
    o
}

async fn observe_cluster_restore(ctx: &StepContext, src: &str) -> Result<Observation, ActionError> {
    let dst = ctx.params.str("target")?;
    let point = RestorePoint::parse(&ctx.params.str("restore_to")?)?;
    let (c, region) = client(ctx)?;
    let mut obs = Observation::default();
    obs.facts.insert("source_cluster".into(), json!(src));
    obs.facts.insert("target".into(), json!(dst));
    obs.facts.insert("restore_to".into(), json!(stated(&point)));
    let Some(source) = describe_cluster(&c, &region, src).await? else {
        obs.summary = format!("DB cluster `{src}` not found in {region}");
        obs.findings.push(finding(
            obs.summary.clone(),
            "check the identifier and the step's region",
        ));
        return Ok(obs);
    };
    let from_source = cluster_settings(&source);
    let writer = writer_id(&dst);
    match describe_cluster(&c, &region, &dst).await? {
        Some(target) => {
            if cluster_tag(&target, RESTORED_FROM_TAG) != Some(src) {
                obs.summary = format!("DB cluster `{dst}` exists and is not a restore of `{src}`");
                obs.findings.push(finding(
                    format!(
                        "DB cluster `{dst}` already exists in {region} and is not a restore of `{src}` (no `{RESTORED_FROM_TAG}={src}` tag)"
                    ),
                    "choose another `target`, or delete that cluster if it is a leftover",
                ));
                return Ok(obs);
            }
            let w = describe_instance(&c, &region, &writer).await?;
            let ready = target.status() == Some("available")
                && w.as_ref().is_some_and(|w| status(w) == "available");
            if ready {
                obs.summary =
                    format!("`{dst}`, a restore of `{src}`, is available with writer `{writer}`");
                obs.outputs = cluster_restore_outputs(&target);
            } else {
                obs.summary = format!(
                    "`{dst}`, a restore of `{src}`, is `{}`",
                    target.status().unwrap_or("unknown")
                );
                obs.changes.push(format!(
                    "wait for the restore of `{src}` as `{dst}` in progress (no second restore){}",
                    if w.is_none() {
                        format!(", then create its writer instance `{writer}`")
                    } else {
                        String::new()
                    }
                ));
            }
        }
        None => {
            if let (RestorePoint::At(t), Some(latest)) =
                (point, source.latest_restorable_time().and_then(to_utc))
                && t > latest
            {
                obs.findings.push(finding(
                    format!(
                        "restore point {} is after the latest restorable time of `{src}` ({})",
                        rfc3339(t),
                        rfc3339(latest)
                    ),
                    "use an earlier time, or `latest`",
                ));
            }
            obs.summary = format!(
                "`{dst}` does not exist; DB cluster `{src}` would be restored to {}",
                stated(&point)
            );
            obs.changes.push(format!(
                "restore DB cluster `{src}` to {} as new DB cluster `{dst}`, with the source's {}, and create its writer instance `{writer}`",
                stated(&point),
                from_source
                    .fields()
                    .iter()
                    .filter(|(n, _)| {
                        !matches!(*n, "StorageEncrypted" | "KmsKeyId" | "OptionGroupName" | "MultiAZ")
                    })
                    .map(|(n, v)| format!("{n}={v}"))
                    .collect::<Vec<_>>()
                    .join(" ")
            ));
        }
    }
    Ok(obs)
}

async fn apply_cluster_restore(ctx: &StepContext, src: &str) -> Result<Outcome, ActionError> {
    let dst = ctx.params.str("target")?;
    let point = RestorePoint::parse(&ctx.params.str("restore_to")?)?;
    let (c, region) = client(ctx)?;
    let missing = |what: &str| ActionError::Invalid {
        message: format!("{what} not found in {region}"),
        hint: "check the identifier and the step's region".into(),
    };
    let source = describe_cluster(&c, &region, src)
        .await?
        .ok_or_else(|| missing(&format!("DB cluster `{src}`")))?;
    let mut changes = vec![];
    if describe_cluster(&c, &region, &dst).await?.is_none() {
        let s = cluster_settings(&source);
        let mut tags: Vec<Tag> = s
            .tags
            .iter()
            .map(|(k, v)| Tag::builder().key(k).value(v).build())
            .collect();
        tags.push(Tag::builder().key(RESTORED_FROM_TAG).value(src).build());
        // The settings named in the request (RDS API reference,
        // RestoreDBClusterToPointInTime); the KMS key follows the source's encryption.
        let mut req = c
            .restore_db_cluster_to_point_in_time()
            .source_db_cluster_identifier(src)
            .db_cluster_identifier(&dst)
            .set_db_subnet_group_name(s.subnet_group.clone())
            .set_vpc_security_group_ids(
                (!s.vpc_security_groups.is_empty()).then(|| s.vpc_security_groups.clone()),
            )
            .set_db_cluster_parameter_group_name(s.parameter_groups.first().cloned())
            .deletion_protection(s.deletion_protection)
            .set_tags(Some(tags))
            .copy_tags_to_snapshot(s.copy_tags_to_snapshot)
            .enable_iam_database_authentication(s.iam_auth)
            .set_enable_cloudwatch_logs_exports(
                (!s.log_exports.is_empty()).then(|| s.log_exports.clone()),
            )
            .set_storage_type(s.storage_type.clone());
        req = match point {
            RestorePoint::Latest => req.use_latest_restorable_time(true),
            RestorePoint::At(t) => {
                req.restore_to_time(aws_smithy_types::DateTime::from_secs_and_nanos(
                    t.timestamp(),
                    t.timestamp_subsec_nanos(),
                ))
            }
        };
        req.send()
            .await
            .map_err(|e| aws_error(SVC, "RestoreDBClusterToPointInTime", &region, e))?;
        changes.push(format!(
            "restored DB cluster `{src}` to {} as `{dst}`",
            stated(&point)
        ));
    }
    poll::until(&ctx.waits, RDS_MAX_INTERVAL, || async {
        Ok(describe_cluster(&c, &region, &dst)
            .await?
            .filter(|t| t.status() == Some("available")))
    })
    .await?;
    // "RestoreDBClusterToPointInTime ... only restores the DB cluster, not the DB instances for
    // that DB cluster. You must invoke the CreateDBInstance operation to create DB instances
    // for the restored DB cluster" (RDS API reference, RestoreDBClusterToPointInTime).
    let writer = writer_id(&dst);
    if describe_instance(&c, &region, &writer).await?.is_none() {
        let source_writer = match cluster_writer(&source) {
            Some(w) => describe_instance(&c, &region, &w).await?,
            None => None,
        };
        let class = match ctx.params.opt_str("instance_class")? {
            Some(class) => class,
            None => source_writer
                .as_ref()
                .and_then(|w| w.db_instance_class())
                .map(str::to_string)
                .ok_or_else(|| ActionError::Invalid {
                    message: format!("`{src}` has no writer instance to take the class from"),
                    hint: "set `instance_class`".into(),
                })?,
        };
        let params = source_writer
            .as_ref()
            .and_then(|w| w.db_parameter_groups().first())
            .and_then(|g| g.db_parameter_group_name())
            .filter(|g| !g.starts_with("default."))
            .map(str::to_string);
        c.create_db_instance()
            .db_instance_identifier(&writer)
            .db_cluster_identifier(&dst)
            .set_engine(source.engine().map(str::to_string))
            .db_instance_class(class)
            .set_db_parameter_group_name(params)
            .tags(Tag::builder().key(RESTORED_FROM_TAG).value(src).build())
            .send()
            .await
            .map_err(|e| aws_error(SVC, "CreateDBInstance", &region, e))?;
        changes.push(format!("created writer instance `{writer}` in `{dst}`"));
    }
    poll::until(&ctx.waits, RDS_MAX_INTERVAL, || async {
        Ok(describe_instance(&c, &region, &writer)
            .await?
            .filter(|w| status(w) == "available"))
    })
    .await?;
    let target = describe_cluster(&c, &region, &dst)
        .await?
        .ok_or_else(|| missing(&format!("DB cluster `{dst}`")))?;
    Ok(Outcome {
        summary: format!(
            "DB cluster `{dst}` restored from `{src}` to {}, writer `{writer}` available",
            stated(&point)
        ),
        changes,
        outputs: cluster_restore_outputs(&target),
    })
}

async fn verify_cluster_restore(ctx: &StepContext, src: &str) -> Result<(), ActionError> {
    let dst = ctx.params.str("target")?;
    let (c, region) = client(ctx)?;
    let (Some(source), Some(target)) = (
        describe_cluster(&c, &region, src).await?,
        describe_cluster(&c, &region, &dst).await?,
    ) else {
        return Err(ActionError::Verification {
            message: format!("`{src}` or `{dst}` is gone"),
            hint: "look at the clusters in the RDS console".into(),
        });
    };
    let mut mismatches = cluster_settings(&source).mismatches(&cluster_settings(&target));
    let writer = writer_id(&dst);
    if cluster_writer(&target).as_deref() != Some(writer.as_str()) {
        mismatches.push(format!("`{writer}` is not the writer of `{dst}`"));
    }
    if mismatches.is_empty() {
        Ok(())
    } else {
        Err(ActionError::Verification {
            message: format!(
                "`{dst}` does not carry `{src}`'s settings: {}",
                mismatches.join("; ")
            ),
            hint: format!(
                "modify `{dst}` to match (aws rds modify-db-cluster --apply-immediately), then resume"
            ),
        })
    }
}

// ------------------------------------------------------------------------- failover

struct Failover;

/// What the failover tag says: (`RUN_ID/STEP`, the Availability Zone before).
fn failover_mark(i: &DbInstance) -> Option<(String, String)> {
    let v = tag_value(i, FAILOVER_TAG)?;
    let (who, az) = v.rsplit_once('/')?;
    Some((who.to_string(), az.to_string()))
}

fn failover_outputs(i: &DbInstance) -> BTreeMap<String, String> {
    let mut o = BTreeMap::new();
    if let Some(id) = i.db_instance_identifier() {
        o.insert("writer".into(), id.to_string());
    }
    if let Some(az) = i.availability_zone() {
        o.insert("availability_zone".into(), az.to_string());
    }
    o
}

#[async_trait::async_trait]
impl Action for Failover {
    fn spec(&self) -> &'static ActionSpec {
        spec("rds.failover")
    }

    async fn observe(&self, ctx: &StepContext) -> Result<Observation, ActionError> {
        match FailoverTarget::read(ctx)? {
            FailoverTarget::Global(g) => return observe_global_failover(ctx, &g).await,
            FailoverTarget::Cluster(cluster) => {
                return observe_cluster_failover(ctx, &cluster).await;
            }
            FailoverTarget::Instance => {}
        }
        let id = ctx.params.str("instance")?;
        let (c, region) = client(ctx)?;
        let me = format!("{}/{}", ctx.run_id, ctx.step_id);
        let mut obs = Observation::default();
        let Some(i) = describe_instance(&c, &region, &id).await? else {
            obs.summary = format!("DB instance `{id}` not found in {region}");
            obs.findings.push(finding(
                obs.summary.clone(),
                "check the identifier and the step's region",
            ));
            return Ok(obs);
        };
        let az = i.availability_zone().unwrap_or("unknown").to_string();
        obs.facts.insert("availability_zone".into(), json!(az));
        obs.facts.insert("status".into(), json!(status(&i)));
        if let Some(s) = i.secondary_availability_zone() {
            obs.facts
                .insert("secondary_availability_zone".into(), json!(s));
        }
        match failover_mark(&i) {
            Some((who, before)) if who == me => {
                obs.facts
                    .insert("availability_zone_before".into(), json!(before));
                if status(&i) == "available" && az != before {
                    obs.summary = format!("`{id}` failed over from {before} to {az}");
                    obs.outputs = failover_outputs(&i);
                } else if status(&i) == "available" {
                    // Marked, but the reboot was not made (interrupted between the two).
                    obs.summary =
                        format!("`{id}` is still in {before}; the failover was not started");
                    obs.changes.push(format!(
                        "reboot `{id}` with failover from {before} to its standby"
                    ));
                } else {
                    obs.summary = format!(
                        "`{id}` is `{}`: the failover from {before} is in progress",
                        status(&i)
                    );
                    obs.changes.push(format!(
                        "wait for the failover of `{id}` from {before} in progress"
                    ));
                }
                return Ok(obs);
            }
            _ => {}
        }
        if !i.multi_az().unwrap_or(false) {
            obs.findings.push(finding(
                format!("DB instance `{id}` is not Multi-AZ: it has no standby to fail over to"),
                "a reboot with ForceFailover needs a Multi-AZ DB instance deployment",
            ));
        }
        if status(&i) != "available" {
            obs.findings.push(finding(
                format!("DB instance `{id}` is `{}`, not `available`", status(&i)),
                "wait until it is available, then run the step again",
            ));
        }
        obs.summary = format!("`{id}` is in {az}");
        obs.changes.push(format!(
            "reboot `{id}` with failover (ForceFailover) from {az} to {}",
            i.secondary_availability_zone().unwrap_or("its standby")
        ));
        Ok(obs)
    }

    async fn apply(&self, ctx: &StepContext, _: &Observation) -> Result<Outcome, ActionError> {
        match FailoverTarget::read(ctx)? {
            FailoverTarget::Global(g) => return apply_global_failover(ctx, &g).await,
            FailoverTarget::Cluster(cluster) => {
                return apply_cluster_failover(ctx, &cluster).await;
            }
            FailoverTarget::Instance => {}
        }
        let id = ctx.params.str("instance")?;
        let (c, region) = client(ctx)?;
        let me = format!("{}/{}", ctx.run_id, ctx.step_id);
        let i = describe_instance(&c, &region, &id)
            .await?
            .ok_or_else(|| ActionError::Invalid {
                message: format!("DB instance `{id}` not found in {region}"),
                hint: "check the identifier and the step's region".into(),
            })?;
        let mut changes = vec![];
        let before = match failover_mark(&i) {
            Some((who, before)) if who == me => before,
            _ => {
                let before = i.availability_zone().unwrap_or("unknown").to_string();
                // Recorded before the reboot, so a retry or resume of this step knows it.
                c.add_tags_to_resource()
                    .resource_name(i.db_instance_arn().unwrap_or_default())
                    .tags(
                        Tag::builder()
                            .key(FAILOVER_TAG)
                            .value(format!("{me}/{before}"))
                            .build(),
                    )
                    .send()
                    .await
                    .map_err(|e| aws_error(SVC, "AddTagsToResource", &region, e))?;
                before
            }
        };
        let az_now = i.availability_zone().unwrap_or("unknown");
        if status(&i) == "available" && az_now == before {
            c.reboot_db_instance()
                .db_instance_identifier(&id)
                .force_failover(true)
                .send()
                .await
                .map_err(|e| aws_error(SVC, "RebootDBInstance", &region, e))?;
            changes.push(format!("rebooted `{id}` with failover from {before}"));
        }
        let done = poll::until(&ctx.waits, RDS_MAX_INTERVAL, || async {
            Ok(describe_instance(&c, &region, &id).await?.filter(|i| {
                status(i) == "available" && i.availability_zone() != Some(before.as_str())
            }))
        })
        .await?;
        Ok(Outcome {
            summary: format!(
                "`{id}` failed over from {before} to {}",
                done.availability_zone().unwrap_or("unknown")
            ),
            changes,
            outputs: failover_outputs(&done),
        })
    }

    async fn verify(&self, ctx: &StepContext, outcome: &Outcome) -> Result<(), ActionError> {
        match FailoverTarget::read(ctx)? {
            FailoverTarget::Global(g) => return verify_global_failover(ctx, &g, outcome).await,
            FailoverTarget::Cluster(cluster) => {
                return verify_cluster_failover(ctx, &cluster, outcome).await;
            }
            FailoverTarget::Instance => {}
        }
        let id = ctx.params.str("instance")?;
        let (c, region) = client(ctx)?;
        let i = describe_instance(&c, &region, &id).await?;
        match i {
            Some(i)
                if status(&i) == "available"
                    && outcome.outputs.get("availability_zone").map(String::as_str)
                        == i.availability_zone() =>
            {
                Ok(())
            }
            _ => Err(ActionError::Verification {
                message: format!(
                    "`{id}` is not available in the Availability Zone it failed over to"
                ),
                hint: "look at the instance's events in the RDS console".into(),
            }),
        }
    }
}

// ------------------------------------------------------------------------- failover (cluster)

/// An Aurora DB cluster's writer instance, from its members.
fn cluster_writer(c: &DbCluster) -> Option<String> {
    c.db_cluster_members()
        .iter()
        .find(|m| m.is_cluster_writer() == Some(true))
        .and_then(|m| m.db_instance_identifier())
        .map(str::to_string)
}

fn cluster_mark(c: &DbCluster) -> Option<(String, String)> {
    let v = c
        .tag_list()
        .iter()
        .find(|t| t.key() == Some(FAILOVER_TAG))
        .map(|t| t.value().unwrap_or(""))?;
    let (who, writer) = v.rsplit_once('/')?;
    Some((who.to_string(), writer.to_string()))
}

async fn cluster_outputs(
    client: &Client,
    region: &str,
    writer: &str,
) -> Result<BTreeMap<String, String>, ActionError> {
    let mut o = BTreeMap::from([("writer".to_string(), writer.to_string())]);
    if let Some(az) = describe_instance(client, region, writer)
        .await?
        .and_then(|i| i.availability_zone().map(str::to_string))
    {
        o.insert("availability_zone".into(), az);
    }
    Ok(o)
}

/// Whether the cluster's failover is done: available, and the writer is the one asked for, or
/// (none asked) another than `before`.
fn cluster_failed_over(c: &DbCluster, before: &str, wanted: Option<&str>) -> bool {
    let writer = cluster_writer(c);
    c.status() == Some("available")
        && match wanted {
            Some(w) => writer.as_deref() == Some(w),
            None => writer.is_some_and(|w| w != before),
        }
}

/// FailoverDBCluster "forces a failover for a DB cluster ... to one of the Aurora Replicas
/// (read-only instances) in the DB cluster to be the primary DB instance (the cluster writer)"
/// (RDS API reference, FailoverDBCluster). The writer before is recorded in a tag on the cluster,
/// as for an instance.
async fn observe_cluster_failover(
    ctx: &StepContext,
    cluster: &str,
) -> Result<Observation, ActionError> {
    let (c, region) = client(ctx)?;
    let me = format!("{}/{}", ctx.run_id, ctx.step_id);
    let wanted = ctx.params.opt_str("target_instance")?;
    let mut obs = Observation::default();
    let Some(cl) = describe_cluster(&c, &region, cluster).await? else {
        obs.summary = format!("DB cluster `{cluster}` not found in {region}");
        obs.findings.push(finding(
            obs.summary.clone(),
            "check the identifier and the step's region",
        ));
        return Ok(obs);
    };
    let writer = cluster_writer(&cl).unwrap_or_default();
    let status = cl.status().unwrap_or("unknown").to_string();
    obs.facts.insert("writer".into(), json!(writer));
    obs.facts.insert("status".into(), json!(status));
    if let Some((who, before)) = cluster_mark(&cl)
        && who == me
    {
        obs.facts.insert("writer_before".into(), json!(before));
        if cluster_failed_over(&cl, &before, wanted.as_deref()) {
            obs.summary = format!("`{cluster}` failed over from `{before}` to `{writer}`");
            obs.outputs = cluster_outputs(&c, &region, &writer).await?;
        } else if status == "available" && writer == before {
            obs.summary = format!("`{cluster}`'s writer is still `{before}`");
            obs.changes
                .push(format!("fail `{cluster}` over from `{before}`"));
        } else {
            obs.summary =
                format!("`{cluster}` is `{status}`: the failover from `{before}` is in progress");
            obs.changes.push(format!(
                "wait for the failover of `{cluster}` from `{before}` in progress"
            ));
        }
        return Ok(obs);
    }
    if let Some(w) = &wanted {
        if *w == writer {
            obs.summary = format!("`{w}` is already the writer of `{cluster}`");
            obs.outputs = cluster_outputs(&c, &region, &writer).await?;
            return Ok(obs);
        }
        if !cl
            .db_cluster_members()
            .iter()
            .any(|m| m.db_instance_identifier() == Some(w.as_str()))
        {
            obs.findings.push(finding(
                format!("`{w}` is not an instance of DB cluster `{cluster}`"),
                "name one of the cluster's reader instances, or leave `target_instance` out",
            ));
        }
    }
    if cl.db_cluster_members().len() < 2 {
        obs.findings.push(finding(
            format!("DB cluster `{cluster}` has no reader instance to fail over to"),
            "add an Aurora Replica to the cluster",
        ));
    }
    if status != "available" {
        obs.findings.push(finding(
            format!("DB cluster `{cluster}` is `{status}`, not `available`"),
            "wait until it is available, then run the step again",
        ));
    }
    obs.summary = format!("`{cluster}`'s writer is `{writer}`");
    obs.changes.push(format!(
        "fail `{cluster}` over (FailoverDBCluster) from `{writer}` to {}",
        wanted
            .as_deref()
            .map(|w| format!("`{w}`"))
            .unwrap_or_else(|| "a reader RDS chooses".into())
    ));
    Ok(obs)
}

async fn apply_cluster_failover(ctx: &StepContext, cluster: &str) -> Result<Outcome, ActionError> {
    let (c, region) = client(ctx)?;
    let me = format!("{}/{}", ctx.run_id, ctx.step_id);
    let wanted = ctx.params.opt_str("target_instance")?;
    let cl = describe_cluster(&c, &region, cluster)
        .await?
        .ok_or_else(|| ActionError::Invalid {
            message: format!("DB cluster `{cluster}` not found in {region}"),
            hint: "check the identifier and the step's region".into(),
        })?;
    let writer = cluster_writer(&cl).unwrap_or_default();
    let before = match cluster_mark(&cl) {
        Some((who, before)) if who == me => before,
        _ => {
            c.add_tags_to_resource()
                .resource_name(cl.db_cluster_arn().unwrap_or_default())
                .tags(
                    Tag::builder()
                        .key(FAILOVER_TAG)
                        .value(format!("{me}/{writer}"))
                        .build(),
                )
                .send()
                .await
                .map_err(|e| aws_error(SVC, "AddTagsToResource", &region, e))?;
            writer.clone()
        }
    };
    let mut changes = vec![];
    if cl.status() == Some("available") && writer == before {
        c.failover_db_cluster()
            .db_cluster_identifier(cluster)
            .set_target_db_instance_identifier(wanted.clone())
            .send()
            .await
            .map_err(|e| aws_error(SVC, "FailoverDBCluster", &region, e))?;
        changes.push(format!("failed `{cluster}` over from `{before}`"));
    }
    let done = poll::until(&ctx.waits, RDS_MAX_INTERVAL, || async {
        Ok(describe_cluster(&c, &region, cluster)
            .await?
            .filter(|cl| cluster_failed_over(cl, &before, wanted.as_deref())))
    })
    .await?;
    let writer = cluster_writer(&done).unwrap_or_default();
    Ok(Outcome {
        summary: format!("`{cluster}` failed over from `{before}` to `{writer}`"),
        changes,
        outputs: cluster_outputs(&c, &region, &writer).await?,
    })
}

async fn verify_cluster_failover(
    ctx: &StepContext,
    cluster: &str,
    outcome: &Outcome,
) -> Result<(), ActionError> {
    let (c, region) = client(ctx)?;
    let cl = describe_cluster(&c, &region, cluster).await?;
    match cl {
        Some(cl)
            if cl.status() == Some("available")
                && cluster_writer(&cl).as_deref()
                    == outcome.outputs.get("writer").map(String::as_str) =>
        {
            Ok(())
        }
        _ => Err(ActionError::Verification {
            message: format!("`{cluster}` is not available with the writer it failed over to"),
            hint: "look at the cluster's events in the RDS console".into(),
        }),
    }
}

// ------------------------------------------------------------------------- failover (global)

/// What `rds.failover` is about: exactly one of `instance`, `cluster`, `global_cluster`.
enum FailoverTarget {
    Instance,
    Cluster(String),
    Global(GlobalTarget),
}

/// The global database form's parameters.
struct GlobalTarget {
    id: String,
    to_region: String,
    /// `failover` (FailoverGlobalCluster with AllowDataLoss), else a switchover.
    failover: bool,
}

impl GlobalTarget {
    fn operation(&self) -> &'static str {
        if self.failover {
            "FailoverGlobalCluster"
        } else {
            "SwitchoverGlobalCluster"
        }
    }
    fn verb(&self) -> &'static str {
        if self.failover {
            "fail over"
        } else {
            "switch over"
        }
    }
}

/// The parameters the global database form takes and the others do not, and back.
const GLOBAL_ONLY: [&str; 2] = ["to_region", "mode"];

impl FailoverTarget {
    fn read(ctx: &StepContext) -> Result<FailoverTarget, ActionError> {
        let p = &ctx.params;
        let given = |k: &str| !matches!(p.0.get(k), None | Some(serde_json::Value::Null));
        let named: Vec<&str> = ["instance", "cluster", "global_cluster"]
            .into_iter()
            .filter(|k| given(k))
            .collect();
        if named.len() != 1 {
            return Err(ActionError::Invalid {
                message: if named.is_empty() {
                    "none of `instance`, `cluster` and `global_cluster` is set".into()
                } else {
                    format!("{} are all set: give exactly one", named.join(", "))
                },
                hint: "name the Multi-AZ DB instance (`instance:`), the Aurora DB cluster \
                       (`cluster:`) or the Aurora global database (`global_cluster:` with \
                       `to_region:`)"
                    .into(),
            });
        }
        match named[0] {
            "global_cluster" => {
                if given("target_instance") {
                    return Err(ActionError::Invalid {
                        message: "`target_instance` is set with `global_cluster`".into(),
                        hint: "a global database's writer moves to a Region (`to_region`), not to an instance".into(),
                    });
                }
                let mode = p.str_or("mode", "switchover")?;
                let failover = match mode.as_str() {
                    "switchover" => false,
                    "failover" => true,
                    other => {
                        return Err(ActionError::Invalid {
                            message: format!("`mode` is `{other}`"),
                            hint: "use `switchover` (planned, no data lost) or `failover` (the primary's Region is lost, AllowDataLoss)".into(),
                        });
                    }
                };
                Ok(FailoverTarget::Global(GlobalTarget {
                    id: p.str("global_cluster")?,
                    to_region: p
                        .opt_str("to_region")?
                        .ok_or_else(|| ActionError::Invalid {
                            message: "`global_cluster` is set without `to_region`".into(),
                            hint: "name the Region whose secondary DB cluster becomes the primary"
                                .into(),
                        })?,
                    failover,
                }))
            }
            form => {
                if let Some(k) = GLOBAL_ONLY.into_iter().find(|k| given(k)) {
                    return Err(ActionError::Invalid {
                        message: format!("`{k}` is set with `{form}`"),
                        hint: "`to_region` and `mode` belong to the global database form (`global_cluster:`)".into(),
                    });
                }
                if form == "cluster" {
                    Ok(FailoverTarget::Cluster(p.str("cluster")?))
                } else {
                    Ok(FailoverTarget::Instance)
                }
            }
        }
    }
}

/// The Region of an RDS ARN (`arn:aws:rds:REGION:ACCOUNT:cluster:ID`).
fn arn_region(arn: &str) -> Option<&str> {
    arn.split(':').nth(3).filter(|r| !r.is_empty())
}

/// The ARN of the global cluster's writer member (IsWriter).
fn global_writer(g: &GlobalCluster) -> Option<String> {
    g.global_cluster_members()
        .iter()
        .find(|m| m.is_writer() == Some(true))
        .and_then(|m| m.db_cluster_arn())
        .map(str::to_string)
}

/// The ARN of the member DB cluster in `region`.
fn global_member_in(g: &GlobalCluster, region: &str) -> Option<String> {
    g.global_cluster_members()
        .iter()
        .filter_map(|m| m.db_cluster_arn())
        .find(|arn| arn_region(arn) == Some(region))
        .map(str::to_string)
}

/// The operation in progress, as FailoverState shows it ("empty unless a switchover or
/// failover operation is scheduled or is in progress", RDS API reference, FailoverState):
/// (its status, the ARN it promotes).
fn global_in_progress(g: &GlobalCluster) -> Option<(String, String)> {
    let f = g.failover_state()?;
    let status = f.status()?.as_str().to_string();
    Some((
        status,
        f.to_db_cluster_arn().unwrap_or_default().to_string(),
    ))
}

/// Done: `available`, with the writer in `to_region`.
fn global_done(g: &GlobalCluster, to_region: &str) -> bool {
    g.status() == Some("available")
        && global_writer(g).is_some_and(|w| arn_region(&w) == Some(to_region))
}

/// DescribeGlobalClusters for one global cluster; `None` when it does not exist.
async fn describe_global(
    c: &Client,
    region: &str,
    id: &str,
) -> Result<Option<GlobalCluster>, ActionError> {
    match c
        .describe_global_clusters()
        .global_cluster_identifier(id)
        .send()
        .await
    {
        Ok(out) => Ok(out.global_clusters().first().cloned()),
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_global_cluster_not_found_fault()) =>
        {
            Ok(None)
        }
        Err(e) => Err(aws_error(SVC, "DescribeGlobalClusters", region, e)),
    }
}

/// `writer` and `region`; `availability_zone` when the writer cluster is in the step's Region
/// (no call into another Region for it) and has a writer instance.
async fn global_outputs(
    c: &Client,
    region: &str,
    writer_arn: &str,
) -> Result<BTreeMap<String, String>, ActionError> {
    let writer_region = arn_region(writer_arn).unwrap_or_default();
    let mut o = BTreeMap::from([
        ("writer".to_string(), writer_arn.to_string()),
        ("region".to_string(), writer_region.to_string()),
    ]);
    if writer_region == region {
        let id = writer_arn.rsplit(':').next().unwrap_or(writer_arn);
        if let Some(w) = describe_cluster(c, region, id)
            .await?
            .as_ref()
            .and_then(cluster_writer)
            && let Some(az) = describe_instance(c, region, &w)
                .await?
                .and_then(|i| i.availability_zone().map(str::to_string))
        {
            o.insert("availability_zone".into(), az);
        }
    }
    Ok(o)
}

async fn observe_global_failover(
    ctx: &StepContext,
    t: &GlobalTarget,
) -> Result<Observation, ActionError> {
    let (c, region) = client(ctx)?;
    let id = &t.id;
    let mut obs = Observation::default();
    obs.facts.insert("global_cluster".into(), json!(id));
    obs.facts.insert("to_region".into(), json!(t.to_region));
    obs.facts.insert(
        "mode".into(),
        json!(if t.failover { "failover" } else { "switchover" }),
    );
    let Some(g) = describe_global(&c, &region, id).await? else {
        obs.summary = format!("global cluster `{id}` not found (asked in {region})");
        obs.findings.push(finding(
            obs.summary.clone(),
            "check the global database's identifier (aws rds describe-global-clusters)",
        ));
        return Ok(obs);
    };
    let status = g.status().unwrap_or("unknown").to_string();
    let writer = global_writer(&g).unwrap_or_default();
    obs.facts.insert("status".into(), json!(status));
    obs.facts.insert("writer".into(), json!(writer));
    if global_done(&g, &t.to_region) {
        obs.summary = format!(
            "the writer of global cluster `{id}` is already in {}: `{writer}`",
            t.to_region
        );
        obs.outputs = global_outputs(&c, &region, &writer).await?;
        return Ok(obs);
    }
    let Some(target) = global_member_in(&g, &t.to_region) else {
        obs.summary = format!("global cluster `{id}` has no DB cluster in {}", t.to_region);
        obs.findings.push(finding(
            obs.summary.clone(),
            format!(
                "add a secondary DB cluster in {} to the global database, or name a Region it has: {}",
                t.to_region,
                g.global_cluster_members()
                    .iter()
                    .filter_map(|m| m.db_cluster_arn().and_then(arn_region))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ));
        return Ok(obs);
    };
    obs.facts.insert("target".into(), json!(target));
    if let Some((op, to)) = global_in_progress(&g).filter(|_| status != "available") {
        obs.summary = format!("global cluster `{id}` is `{status}` ({op} to `{to}`)");
        if to == target {
            obs.changes.push(format!(
                "wait for the {op} of `{id}` to {} in progress (no second request)",
                t.to_region
            ));
        } else {
            obs.findings.push(finding(
                format!(
                    "global cluster `{id}` is `{op}` to `{to}`, not to {}",
                    t.to_region
                ),
                "wait until it is available, then run the step again",
            ));
        }
        return Ok(obs);
    }
    if status != "available" {
        obs.findings.push(finding(
            format!("global cluster `{id}` is `{status}`, not `available`"),
            "wait until it is available, then run the step again",
        ));
    }
    obs.summary = format!(
        "the writer of global cluster `{id}` is in {}: `{writer}`",
        arn_region(&writer).unwrap_or("no Region")
    );
    obs.changes.push(format!(
        "{} global cluster `{id}` ({}{}) from `{writer}` to `{target}` in {}",
        t.verb(),
        t.operation(),
        if t.failover {
            " with AllowDataLoss"
        } else {
            ""
        },
        t.to_region
    ));
    Ok(obs)
}

/// Sends the switchover or failover once: with the SDK's retries off, since a request whose
/// answer was lost (a reset, a timeout) may have been made; before sending again, the global
/// cluster is read again, and an operation in progress to the target (or the writer there
/// already) ends it.
async fn promote_once(
    c: &Client,
    region: &str,
    t: &GlobalTarget,
    target: &str,
) -> Result<(), ActionError> {
    let no_retries = || {
        aws_sdk_rds::config::Builder::default()
            .retry_config(aws_config::retry::RetryConfig::disabled())
    };
    let mut sends = 0;
    loop {
        sends += 1;
        let sent = if t.failover {
            // "Allowing data loss triggers a global failover operation" (RDS API reference,
            // FailoverGlobalCluster, AllowDataLoss).
            c.failover_global_cluster()
                .global_cluster_identifier(&t.id)
                .target_db_cluster_identifier(target)
                .allow_data_loss(true)
                .customize()
                .config_override(no_retries())
                .send()
                .await
                .map(|_| ())
                .map_err(|e| aws_error(SVC, "FailoverGlobalCluster", region, e))
        } else {
            c.switchover_global_cluster()
                .global_cluster_identifier(&t.id)
                .target_db_cluster_identifier(target)
                .customize()
                .config_override(no_retries())
                .send()
                .await
                .map(|_| ())
                .map_err(|e| aws_error(SVC, "SwitchoverGlobalCluster", region, e))
        };
        let Err(e) = sent else { return Ok(()) };
        if !e.retryable() {
            return Err(e);
        }
        if let Ok(Some(g)) = describe_global(c, region, &t.id).await
            && (global_done(&g, &t.to_region)
                || global_in_progress(&g).is_some_and(|(_, to)| to == target))
        {
            return Ok(());
        }
        if sends >= 3 {
            return Err(e);
        }
        tokio::time::sleep(Duration::from_millis(100 << sends)).await;
    }
}

async fn apply_global_failover(
    ctx: &StepContext,
    t: &GlobalTarget,
) -> Result<Outcome, ActionError> {
    let (c, region) = client(ctx)?;
    let id = &t.id;
    let g = describe_global(&c, &region, id)
        .await?
        .ok_or_else(|| ActionError::Invalid {
            message: format!("global cluster `{id}` not found (asked in {region})"),
            hint: "check the global database's identifier".into(),
        })?;
    let before = global_writer(&g).unwrap_or_default();
    let mut changes = vec![];
    if !global_done(&g, &t.to_region) {
        let target = global_member_in(&g, &t.to_region).ok_or_else(|| ActionError::Invalid {
            message: format!("global cluster `{id}` has no DB cluster in {}", t.to_region),
            hint: "add a secondary DB cluster in that Region, or name another `to_region`".into(),
        })?;
        let in_progress = global_in_progress(&g)
            .filter(|_| g.status() != Some("available"))
            .is_some_and(|(_, to)| to == target);
        if !in_progress {
            promote_once(&c, &region, t, &target).await?;
            changes.push(format!(
                "{} global cluster `{id}` ({}) from `{before}` to `{target}`",
                if t.failover {
                    "failed over"
                } else {
                    "switched over"
                },
                t.operation()
            ));
        }
    }
    let done = poll::until(&ctx.waits, RDS_MAX_INTERVAL, || async {
        Ok(describe_global(&c, &region, id)
            .await?
            .filter(|g| global_done(g, &t.to_region)))
    })
    .await?;
    let writer = global_writer(&done).unwrap_or_default();
    Ok(Outcome {
        summary: format!(
            "the writer of global cluster `{id}` is in {}: `{writer}`",
            t.to_region
        ),
        changes,
        outputs: global_outputs(&c, &region, &writer).await?,
    })
}

async fn verify_global_failover(
    ctx: &StepContext,
    t: &GlobalTarget,
    outcome: &Outcome,
) -> Result<(), ActionError> {
    let (c, region) = client(ctx)?;
    match describe_global(&c, &region, &t.id).await? {
        Some(g)
            if global_done(&g, &t.to_region)
                && global_writer(&g).as_deref()
                    == outcome.outputs.get("writer").map(String::as_str) =>
        {
            Ok(())
        }
        _ => Err(ActionError::Verification {
            message: format!(
                "global cluster `{}` is not available with its writer in {}",
                t.id, t.to_region
            ),
            hint: "look at the global database in the RDS console (its status and FailoverState)"
                .into(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_failover_mark_names_the_step_and_the_zone_before() {
        let i = DbInstance::builder()
            .tag_list(
                Tag::builder()
                    .key(FAILOVER_TAG)
                    .value("20261207-104722-e49f/db-failover/us-east-1a")
                    .build(),
            )
            .build();
        assert_eq!(
            failover_mark(&i),
            Some((
                "20261207-104722-e49f/db-failover".to_string(),
                "us-east-1a".to_string()
            ))
        );
        assert_eq!(failover_mark(&DbInstance::builder().build()), None);
    }

    #[test]
    fn a_global_cluster_is_done_when_available_with_its_writer_in_the_region_asked() {
        use aws_sdk_rds::types::GlobalClusterMember;
        let member = |region: &str, writer: bool| {
            GlobalClusterMember::builder()
                .db_cluster_arn(format!(
                    "arn:aws:rds:{region}:111122223333:cluster:app-{region}"
                ))
                .is_writer(writer)
                .build()
        };
        let g = |status: &str| {
            GlobalCluster::builder()
                .status(status)
                .global_cluster_members(member("us-east-2", true))
                .global_cluster_members(member("us-west-2", false))
                .build()
        };
        assert_eq!(
            global_writer(&g("available")).as_deref(),
            Some("arn:aws:rds:us-east-2:111122223333:cluster:app-us-east-2")
        );
        assert!(global_done(&g("available"), "us-east-2"));
        assert!(!global_done(&g("available"), "us-west-2"));
        assert!(!global_done(&g("switching-over"), "us-east-2"));
        assert_eq!(
            global_member_in(&g("available"), "us-west-2").as_deref(),
            Some("arn:aws:rds:us-west-2:111122223333:cluster:app-us-west-2")
        );
        assert_eq!(global_member_in(&g("available"), "eu-west-1"), None);
        assert_eq!(
            arn_region("arn:aws:rds::111122223333:global-cluster:g"),
            None
        );
    }

    #[test]
    fn settings_ignore_drillbook_and_aws_tags() {
        let i = DbInstance::builder()
            .tag_list(Tag::builder().key("app").value("docustack").build())
            .tag_list(Tag::builder().key(RESTORED_FROM_TAG).value("db").build())
            .tag_list(
                Tag::builder()
                    .key("aws:cloudformation:stack-name")
                    .value("s")
                    .build(),
            )
            .build();
        assert_eq!(
            Settings::of(&i).tags,
            BTreeMap::from([("app".to_string(), "docustack".to_string())])
        );
    }

    #[test]
    fn a_restore_with_aws_defaults_differs_from_its_source_setting_by_setting() {
        let source = Settings {
            subnet_group: Some("app-subnets".into()),
            vpc_security_groups: vec!["sg-1".into()],
            parameter_groups: vec!["app-pg".into()],
            multi_az: true,
            deletion_protection: true,
            tags: BTreeMap::from([("team".into(), "db".into())]),
            ..Settings::default()
        };
        let restored = Settings {
            parameter_groups: vec!["default.postgres16".into()],
            ..Settings::default()
        };
        let m = source.mismatches(&restored);
        assert_eq!(m.len(), 6, "{m:?}");
        assert!(m[0].starts_with("DBSubnetGroupName is (default), the source's is app-subnets"));
        assert!(source.mismatches(&source.clone()).is_empty());
    }
}
