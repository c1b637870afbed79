//! DynamoDB actions: `assert_pitr`, `restore_pitr`, `assert_replica`, `delete_table` here;
//! `put_item` and `assert_item` in `items`; `assert_replication` and `add_replica` in
//! `replication`.
//!
//! A point-in-time restore always creates a *new* table and carries over none of PITR, TTL,
//! tags or the stream, so `restore_pitr` sets the source's on it (the runbook's `ttl_attribute`
//! and `tags` on top), each only when it differs, and counts the items. It is resumable: a
//! target already `CREATING` is waited for, never restored a second time.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{
    PointInTimeRecoverySpecification, PointInTimeRecoveryStatus, Select, StreamSpecification,
    StreamViewType, TableDescription, TableStatus, Tag, TimeToLiveSpecification, TimeToLiveStatus,
};
use chrono::{DateTime, Utc};
use serde_json::json;

use super::aws::aws_error;
use super::{Action, ActionError, ActionSpec, Finding, Observation, Outcome, StepContext, poll};
use crate::catalog;
use crate::duration::human;

mod items;
mod replication;
mod streams;

pub(super) fn all() -> Vec<Arc<dyn Action>> {
    vec![
        Arc::new(AssertPitr),
        Arc::new(RestorePitr),
        Arc::new(AssertReplica),
        Arc::new(DeleteTable),
        Arc::new(items::PutItem),
        Arc::new(items::AssertItem),
        Arc::new(replication::AssertReplication),
        Arc::new(replication::AddReplica),
        Arc::new(streams::CountWrites),
    ]
}

const SVC: &str = "dynamodb";

fn spec(name: &str) -> &'static ActionSpec {
    catalog::lookup(name).expect("dynamodb actions are in the catalogue")
}

fn client(ctx: &StepContext) -> Result<(Client, String), ActionError> {
    let region = ctx.region()?.to_string();
    Ok((ctx.aws.dynamodb(&region), region))
}

fn finding(message: impl Into<String>, hint: impl Into<String>) -> Finding {
    Finding {
        message: message.into(),
        hint: hint.into(),
    }
}

fn not_found(table: &str, region: &str) -> Finding {
    finding(
        format!("table `{table}` not found in {region}"),
        "check the table name and the step's region",
    )
}

fn build_error(e: aws_smithy_types::error::operation::BuildError) -> ActionError {
    ActionError::Invalid {
        message: format!("could not build the request: {e}"),
        hint: "check the step's `with:` block".into(),
    }
}

/// An SDK timestamp as a chrono time (`None` only for out-of-range values).
fn to_utc(t: &aws_smithy_types::DateTime) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp(t.secs(), t.subsec_nanos())
}

pub(crate) use super::restore_point::{RestorePoint, rfc3339};

fn to_smithy(t: DateTime<Utc>) -> aws_smithy_types::DateTime {
    aws_smithy_types::DateTime::from_secs_and_nanos(t.timestamp(), t.timestamp_subsec_nanos())
}

fn status_str(desc: &TableDescription) -> &str {
    desc.table_status()
        .map(TableStatus::as_str)
        .unwrap_or("UNKNOWN")
}

// ------------------------------------------------------------------------- service helpers

/// The other Regions' replicas of a global table (2019.11.21) and their ReplicaStatus.
fn replica_regions(desc: &TableDescription, region: &str) -> Vec<(String, String)> {
    desc.replicas()
        .iter()
        .filter_map(|r| {
            let name = r.region_name()?;
            (name != region).then(|| {
                let status = r.replica_status().map(|s| s.as_str()).unwrap_or("UNKNOWN");
                (name.to_string(), status.to_string())
            })
        })
        .collect()
}

/// DescribeTable; `None` when the table does not exist.
async fn describe_table(
    c: &Client,
    region: &str,
    table: &str,
) -> Result<Option<TableDescription>, ActionError> {
    match c.describe_table().table_name(table).send().await {
        Ok(out) => Ok(out.table),
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_resource_not_found_exception()) =>
        {
            Ok(None)
        }
        Err(e) => Err(aws_error(SVC, "DescribeTable", region, e)),
    }
}

/// Point-in-time recovery state of a table.
#[derive(Debug, Clone, PartialEq)]
struct Pitr {
    enabled: bool,
    status: String,
    earliest: Option<DateTime<Utc>>,
    latest: Option<DateTime<Utc>>,
    period_days: Option<i32>,
}

/// DescribeContinuousBackups; `None` when the table does not exist.
async fn describe_pitr(c: &Client, region: &str, table: &str) -> Result<Option<Pitr>, ActionError> {
    let out = match c
        .describe_continuous_backups()
        .table_name(table)
        .send()
        .await
    {
        Ok(out) => out,
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_table_not_found_exception()) =>
        {
            return Ok(None);
        }
        Err(e) => return Err(aws_error(SVC, "DescribeContinuousBackups", region, e)),
    };
    let d = out
        .continuous_backups_description()
        .and_then(|d| d.point_in_time_recovery_description());
    let status = d.and_then(|d| d.point_in_time_recovery_status());
    Ok(Some(Pitr {
        enabled: status == Some(&PointInTimeRecoveryStatus::Enabled),
        status: status.map(|s| s.as_str()).unwrap_or("DISABLED").to_string(),
        earliest: d
            .and_then(|d| d.earliest_restorable_date_time())
            .and_then(to_utc),
        latest: d
            .and_then(|d| d.latest_restorable_date_time())
            .and_then(to_utc),
        period_days: d.and_then(|d| d.recovery_period_in_days()),
    }))
}

/// Counts a table's items exactly: Scan with `Select=COUNT`, every page.
async fn count_items(c: &Client, region: &str, table: &str) -> Result<u64, ActionError> {
    let mut total = 0u64;
    let mut start = None;
    loop {
        let out = c
            .scan()
            .table_name(table)
            .select(Select::Count)
            .set_exclusive_start_key(start.take())
            .send()
            .await
            .map_err(|e| aws_error(SVC, "Scan", region, e))?;
        total += out.count().max(0) as u64;
        match out.last_evaluated_key {
            Some(k) if !k.is_empty() => start = Some(k),
            _ => return Ok(total),
        }
    }
}

/// TTL status and attribute of a table.
async fn describe_ttl(
    c: &Client,
    region: &str,
    table: &str,
) -> Result<(Option<TimeToLiveStatus>, Option<String>), ActionError> {
    let out = c
        .describe_time_to_live()
        .table_name(table)
        .send()
        .await
        .map_err(|e| aws_error(SVC, "DescribeTimeToLive", region, e))?;
    let d = out.time_to_live_description();
    Ok((
        d.and_then(|d| d.time_to_live_status()).cloned(),
        d.and_then(|d| d.attribute_name()).map(str::to_string),
    ))
}

/// Every tag of a table (ListTagsOfResource pages).
async fn list_tags(
    c: &Client,
    region: &str,
    arn: &str,
) -> Result<BTreeMap<String, String>, ActionError> {
    let mut tags = BTreeMap::new();
    let mut token = None;
    loop {
        let out = c
            .list_tags_of_resource()
            .resource_arn(arn)
            .set_next_token(token.take())
            .send()
            .await
            .map_err(|e| aws_error(SVC, "ListTagsOfResource", region, e))?;
        for t in out.tags() {
            tags.insert(t.key().to_string(), t.value().to_string());
        }
        match out.next_token {
            Some(t) if !t.is_empty() => token = Some(t),
            _ => return Ok(tags),
        }
    }
}

// ------------------------------------------------------------------------- assert_pitr

/// `assert_pitr`'s default `max_lag`. AWS documents LatestRestorableDateTime as "typically 5
/// minutes before the current time" (DynamoDB API reference, PointInTimeRecoveryDescription),
/// so the normal lag passes with room, and a lag of three times that is a finding.
const DEFAULT_PITR_MAX_LAG: Duration = Duration::from_secs(15 * 60);

struct AssertPitr;

#[async_trait::async_trait]
impl Action for AssertPitr {
    fn spec(&self) -> &'static ActionSpec {
        spec("dynamodb.assert_pitr")
    }

    async fn observe(&self, ctx: &StepContext) -> Result<Observation, ActionError> {
        let table = ctx.params.str("table")?;
        let limit = ctx
            .params
            .opt_duration("max_lag")?
            .unwrap_or(DEFAULT_PITR_MAX_LAG);
        let (c, region) = client(ctx)?;
        let mut obs = Observation::default();
        obs.facts.insert("table".into(), json!(table));
        let Some(pitr) = describe_pitr(&c, &region, &table).await? else {
            obs.summary = format!("table `{table}` not found in {region}");
            obs.findings.push(not_found(&table, &region));
            return Ok(obs);
        };
        obs.facts.insert("pitr_status".into(), json!(pitr.status));
        if let Some(days) = pitr.period_days {
            obs.facts.insert("recovery_period_days".into(), json!(days));
        }
        if !pitr.enabled {
            obs.summary = format!("point-in-time recovery is off on `{table}`");
            obs.findings.push(finding(
                format!("point-in-time recovery is off on `{table}` in {region}; it cannot be restored"),
                format!(
                    "turn it on: aws dynamodb update-continuous-backups --region {region} --table-name {table} \
                     --point-in-time-recovery-specification PointInTimeRecoveryEnabled=true"
                ),
            ));
            return Ok(obs);
        }
        let Some(latest) = pitr.latest else {
            obs.summary =
                format!("point-in-time recovery on `{table}` reports no restorable time yet");
            obs.findings.push(finding(
                format!("`{table}` reports no latest restorable time"),
                "PITR was probably just turned on; try again in a few minutes",
            ));
            return Ok(obs);
        };
        let lag = (Utc::now() - latest).to_std().unwrap_or(Duration::ZERO);
        let earliest = pitr.earliest.unwrap_or(latest);
        for (k, v) in [
            ("earliest_restorable_time", rfc3339(earliest)),
            ("latest_restorable_time", rfc3339(latest)),
            ("pitr_lag_seconds", lag.as_secs().to_string()),
        ] {
            obs.facts.insert(k.into(), json!(v));
            obs.outputs.insert(k.into(), v);
        }
        obs.facts
            .insert("max_lag_seconds".into(), json!(limit.as_secs()));
        obs.summary = format!(
            "point-in-time recovery on for `{table}`: restorable from {} to {}; PITR lag {} (limit {})",
            rfc3339(earliest),
            rfc3339(latest),
            human(lag),
            human(limit)
        );
        if lag > limit {
            obs.findings.push(finding(
                format!(
                    "the latest restorable time of `{table}` ({}) trails now by {}, more than the {} allowed",
                    rfc3339(latest),
                    human(lag),
                    human(limit)
                ),
                "AWS documents this gap as typically 5 minutes; a larger one means continuous backups \
                 are not keeping up: check the table's backups in the console, or raise `max_lag`",
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
                hint: "check that point-in-time recovery is on for the table".into(),
            })
        }
    }
}

// ------------------------------------------------------------------------- restore_pitr

struct RestoreParams {
    source: String,
    target: String,
    point: RestorePoint,
    enable_pitr: bool,
    ttl_attribute: Option<String>,
    tags: BTreeMap<String, String>,
    min_items: Option<u64>,
}

impl RestoreParams {
    fn read(ctx: &StepContext) -> Result<Self, ActionError> {
        let p = &ctx.params;
        Ok(RestoreParams {
            source: p.str("source_table")?,
            target: p.str("target_table")?,
            point: RestorePoint::parse(&p.str_or("restore_to", "latest")?)?,
            enable_pitr: p.bool_or("enable_pitr", true)?,
            ttl_attribute: p.opt_str("ttl_attribute")?.filter(|s| !s.is_empty()),
            tags: p.str_map("tags")?,
            min_items: p.opt_u64("min_items")?,
        })
    }

    /// What the restored table must have: the source's settings (`from_source`, read from the
    /// source table), with the step's `ttl_attribute` and `tags` on top, and PITR only when
    /// `enable_pitr` asks for it.
    fn wanted(&self, from_source: &Settings) -> Settings {
        let mut tags = from_source.tags.clone();
        tags.extend(self.tags.iter().map(|(k, v)| (k.clone(), v.clone())));
        Settings {
            pitr: self.enable_pitr,
            period_days: from_source.period_days.filter(|_| self.enable_pitr),
            ttl: self
                .ttl_attribute
                .clone()
                .or_else(|| from_source.ttl.clone()),
            tags,
            stream: from_source.stream.clone(),
        }
    }

    /// Which of the source's settings the restored table takes over (not replaced by the
    /// step's own parameters), for the `carried_over` output.
    fn carried_over(&self, from_source: &Settings) -> Vec<&'static str> {
        let mut out = vec![];
        if self.enable_pitr && from_source.pitr {
            out.push("pitr");
        }
        if self.ttl_attribute.is_none() && from_source.ttl.is_some() {
            out.push("ttl");
        }
        if !from_source.tags.is_empty() {
            out.push("tags");
        }
        if from_source.stream.is_some() {
            out.push("stream");
        }
        out
    }
}

/// The settings that a point-in-time restore does not carry over. AWS: "You must manually set up
/// the following on the restored table: Auto scaling policies, IAM policies, Amazon CloudWatch
/// metrics and alarms, Tags, Stream settings, Time to Live (TTL) settings, Point in time recovery
/// settings" (DynamoDB API reference, RestoreTableToPointInTime). The same shape holds what a
/// table has (`read_settings`), what the restored table must have (`RestoreParams::wanted`) and
/// what it still lacks (`Settings::missing`).
#[derive(Debug, Default, Clone, PartialEq)]
struct Settings {
    /// Point-in-time recovery on.
    pitr: bool,
    /// Its RecoveryPeriodInDays, when known ("The number of preceding days for which continuous
    /// backups are taken and maintained", API reference, PointInTimeRecoverySpecification).
    period_days: Option<i32>,
    /// The TTL attribute, when TTL is ENABLED or ENABLING.
    ttl: Option<String>,
    tags: BTreeMap<String, String>,
    /// The StreamViewType, when the stream is enabled.
    stream: Option<String>,
}

impl Settings {
    /// What `self` (wanted) asks that `have` lacks: only that is set, so a resumed or repeated
    /// step sets nothing twice.
    fn missing(&self, have: &Settings) -> Settings {
        let pitr = self.pitr
            && (!have.pitr || (self.period_days.is_some() && have.period_days != self.period_days));
        Settings {
            pitr,
            period_days: self.period_days.filter(|_| pitr),
            ttl: self.ttl.clone().filter(|a| have.ttl.as_ref() != Some(a)),
            tags: self
                .tags
                .iter()
                .filter(|(k, v)| have.tags.get(*k) != Some(*v))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            stream: self
                .stream
                .clone()
                .filter(|s| have.stream.as_ref() != Some(s)),
        }
    }

    fn is_empty(&self) -> bool {
        !self.pitr && self.ttl.is_none() && self.tags.is_empty() && self.stream.is_none()
    }

    /// The facts of `carry_over`: the settings as JSON.
    fn to_json(&self) -> serde_json::Value {
        json!({
            "pitr": self.pitr,
            "recovery_period_days": self.period_days,
            "ttl_attribute": self.ttl,
            "tags": self.tags,
            "stream_view_type": self.stream,
        })
    }

    fn lines(&self, table: &str) -> Vec<String> {
        let mut out = vec![];
        if self.pitr {
            match self.period_days {
                Some(d) => out.push(format!(
                    "turn on point-in-time recovery for `{table}` with a recovery period of {d} days"
                )),
                None => out.push(format!("turn on point-in-time recovery for `{table}`")),
            }
        }
        if let Some(a) = &self.ttl {
            out.push(format!("enable TTL on attribute `{a}` of `{table}`"));
        }
        if !self.tags.is_empty() {
            let tags: Vec<String> = self.tags.iter().map(|(k, v)| format!("{k}={v}")).collect();
            out.push(format!("tag `{table}` with {}", tags.join(", ")));
        }
        if let Some(s) = &self.stream {
            out.push(format!("enable the stream of `{table}` ({s})"));
        }
        out
    }
}

/// The settings a table has now (`desc`: its DescribeTable, for the ARN and the stream).
async fn read_settings(
    c: &Client,
    region: &str,
    table: &str,
    desc: &TableDescription,
) -> Result<Settings, ActionError> {
    let pitr = describe_pitr(c, region, table).await?;
    let (status, attr) = describe_ttl(c, region, table).await?;
    let ttl = attr.filter(|_| {
        matches!(
            status,
            Some(TimeToLiveStatus::Enabled | TimeToLiveStatus::Enabling)
        )
    });
    let tags = match desc.table_arn() {
        Some(arn) => list_tags(c, region, arn).await?,
        None => BTreeMap::new(),
    };
    // StreamSpecification: "The current DynamoDB Streams configuration for the table" (API
    // reference, TableDescription).
    let stream = desc
        .stream_specification()
        .filter(|s| s.stream_enabled())
        .and_then(|s| s.stream_view_type())
        .map(|v| v.as_str().to_string());
    Ok(Settings {
        pitr: pitr.as_ref().is_some_and(|p| p.enabled),
        period_days: pitr.and_then(|p| p.period_days.filter(|_| p.enabled)),
        ttl,
        tags,
        stream,
    })
}

/// The source table's Region and name: a same-Region name, or an ARN (a cross-Region restore:
/// "SourceTableArn: The DynamoDB table that will be restored. This value is an Amazon Resource
/// Name (ARN)", API reference, RestoreTableToPointInTime).
fn source_location(source: &str, step_region: &str) -> (String, String) {
    if let Some(rest) = source.strip_prefix("arn:") {
        // arn:PARTITION:dynamodb:REGION:ACCOUNT:table/NAME
        let parts: Vec<&str> = rest.splitn(5, ':').collect();
        if let [_, _, region, _, resource] = parts[..]
            && let Some(name) = resource.strip_prefix("table/")
        {
            return (region.to_string(), name.to_string());
        }
    }
    (step_region.to_string(), source.to_string())
}

/// The client, Region and name of the source table.
fn source_client(
    ctx: &StepContext,
    p: &RestoreParams,
) -> Result<(Client, String, String), ActionError> {
    let (region, name) = source_location(&p.source, ctx.region()?);
    Ok((ctx.aws.dynamodb(&region), region, name))
}

/// The source's settings to carry over (none when the source is gone).
async fn source_settings(ctx: &StepContext, p: &RestoreParams) -> Result<Settings, ActionError> {
    let (sc, sregion, sname) = source_client(ctx, p)?;
    match describe_table(&sc, &sregion, &sname).await? {
        Some(desc) => read_settings(&sc, &sregion, &sname, &desc).await,
        None => Ok(Settings::default()),
    }
}

/// The restore point a restored table reports, else what was asked.
fn restored_to(desc: &TableDescription, point: RestorePoint) -> String {
    desc.restore_summary()
        .and_then(|r| to_utc(r.restore_date_time()))
        .map(rfc3339)
        .unwrap_or_else(|| match point {
            RestorePoint::Latest => "latest".into(),
            RestorePoint::At(t) => rfc3339(t),
        })
}

async fn restore_outputs(
    c: &Client,
    region: &str,
    p: &RestoreParams,
    desc: &TableDescription,
    carried: &[&str],
) -> Result<BTreeMap<String, String>, ActionError> {
    let count = count_items(c, region, &p.target).await?;
    Ok(BTreeMap::from([
        ("carried_over".to_string(), carried.join(",")),
        ("table_name".to_string(), p.target.clone()),
        (
            "table_arn".to_string(),
            desc.table_arn().unwrap_or_default().to_string(),
        ),
        ("item_count".to_string(), count.to_string()),
        ("restored_to".to_string(), restored_to(desc, p.point)),
    ]))
}

struct RestorePitr;

#[async_trait::async_trait]
impl Action for RestorePitr {
    fn spec(&self) -> &'static ActionSpec {
        spec("dynamodb.restore_pitr")
    }

    async fn observe(&self, ctx: &StepContext) -> Result<Observation, ActionError> {
        let p = RestoreParams::read(ctx)?;
        let (c, region) = client(ctx)?;
        let (src, dst) = (&p.source, &p.target);
        let mut obs = Observation::default();
        obs.facts.insert("source_table".into(), json!(src));
        obs.facts.insert("target_table".into(), json!(dst));
        obs.facts
            .insert("restore_to".into(), json!(p.point.describe()));

        let (sc, sregion, sname) = source_client(ctx, &p)?;
        let source = describe_table(&sc, &sregion, &sname).await?;
        let source_arn = source
            .as_ref()
            .and_then(|s| s.table_arn())
            .map(str::to_string);
        let from_source = match &source {
            Some(s) => read_settings(&sc, &sregion, &sname, s).await?,
            None => Settings::default(),
        };
        let wanted = p.wanted(&from_source);
        let carried = p.carried_over(&from_source);
        if let Some(s) = &source {
            obs.facts.insert("source_arn".into(), json!(source_arn));
            obs.facts
                .insert("source_item_count".into(), json!(s.item_count()));
            // What the restore will not bring and this step sets from the source.
            obs.facts.insert("carry_over".into(), json!(carried));
            obs.facts
                .insert("source_settings".into(), from_source.to_json());
        }

        let Some(target) = describe_table(&c, &region, dst).await? else {
            // Not restored yet: the source must be restorable to the requested point.
            let mut window = String::new();
            if source.is_none() {
                obs.findings.push(not_found(src, &sregion));
            } else {
                match describe_pitr(&sc, &sregion, &sname).await? {
                    None => obs.findings.push(not_found(src, &sregion)),
                    Some(pitr) if !pitr.enabled => obs.findings.push(finding(
                        format!("point-in-time recovery is off on `{src}` in {region}; there is nothing to restore from"),
                        format!(
                            "turn PITR on for `{src}` (it only covers changes made after it is on), \
                             or restore from a backup instead"
                        ),
                    )),
                    Some(pitr) => {
                        let (e, l) = (pitr.earliest, pitr.latest);
                        if let (Some(e), Some(l)) = (e, l) {
                            obs.facts
                                .insert("earliest_restorable_time".into(), json!(rfc3339(e)));
                            obs.facts
                                .insert("latest_restorable_time".into(), json!(rfc3339(l)));
                            window = format!(" (restorable from {} to {})", rfc3339(e), rfc3339(l));
                            if let RestorePoint::At(t) = p.point
                                && t > l
                                && t <= Utc::now()
                            {
                                // Past, but not restorable yet: PITR trails by about 5 minutes.
                                obs.changes.push(format!(
                                    "wait about {} until {} is restorable (the latest restorable time trails now)",
                                    human((t - l).to_std().unwrap_or_default()),
                                    rfc3339(t)
                                ));
                            } else if let RestorePoint::At(t) = p.point
                                && (t < e || t > l)
                            {
                                obs.findings.push(finding(
                                    format!(
                                        "restore point {} is outside the restorable window of `{src}` ({} to {})",
                                        rfc3339(t),
                                        rfc3339(e),
                                        rfc3339(l)
                                    ),
                                    "use `restore_to: latest` or a time inside the window",
                                ));
                            }
                        }
                    }
                }
            }
            obs.facts.insert("target_status".into(), json!("ABSENT"));
            obs.summary = format!("`{dst}` does not exist; `{src}` would be restored{window}");
            obs.changes.push(format!(
                "restore `{src}` to new table `{dst}` at {}",
                p.point.describe()
            ));
            obs.changes.extend(wanted.lines(dst));
            return Ok(obs);
        };

        // The target exists: it must be our restore (resume), not an unrelated table.
        let status = status_str(&target).to_string();
        obs.facts.insert("target_status".into(), json!(status));
        match target.restore_summary() {
            None => obs.findings.push(finding(
                format!("target table `{dst}` already exists in {region} and is not a restored table"),
                "choose another `target_table` (for example with `{{ run.id }}` in the name) or delete the table first",
            )),
            Some(rs) => {
                if let (Some(from), Some(want)) = (rs.source_table_arn(), source_arn.as_deref())
                    && from != want
                {
                    obs.findings.push(finding(
                        format!("target table `{dst}` is a restore of {from}, not of `{src}`"),
                        "choose another `target_table` or delete the table first",
                    ));
                }
            }
        }
        match target.table_status() {
            Some(TableStatus::Creating) => {
                obs.summary = format!("a restore into `{dst}` is in progress (CREATING)");
                obs.changes.push(format!(
                    "wait for the restore already in progress into `{dst}`"
                ));
                obs.changes.extend(wanted.lines(dst));
            }
            Some(TableStatus::Active | TableStatus::Updating) => {
                let have = read_settings(&c, &region, dst, &target).await?;
                obs.changes = wanted.missing(&have).lines(dst);
                if obs.changes.is_empty() {
                    if obs.findings.is_empty() {
                        obs.outputs = restore_outputs(&c, &region, &p, &target, &carried).await?;
                    }
                    obs.summary = format!(
                        "`{dst}` is {status}, restored to {} with the source's and the requested settings; nothing to do",
                        restored_to(&target, p.point)
                    );
                } else {
                    obs.summary = format!(
                        "`{dst}` is {status}; settings missing: {}",
                        obs.changes.len()
                    );
                }
            }
            _ => {
                obs.summary = format!("`{dst}` is {status}");
                obs.findings.push(finding(
                    format!("target table `{dst}` is {status}"),
                    "wait for the table's deletion to finish, or choose another `target_table`",
                ));
            }
        }
        Ok(obs)
    }

    async fn apply(&self, ctx: &StepContext, _: &Observation) -> Result<Outcome, ActionError> {
        let p = RestoreParams::read(ctx)?;
        let (c, region) = client(ctx)?;
        let (src, dst) = (&p.source, &p.target);
        let mut changes = vec![];

        match describe_table(&c, &region, dst).await? {
            None => {
                if let RestorePoint::At(t) = p.point {
                    let (sc, sregion, sname) = source_client(ctx, &p)?;
                    wait_until_restorable(ctx, &sc, &sregion, &sname, t).await?;
                }
                let mut req = c.restore_table_to_point_in_time().target_table_name(dst);
                req = if src.starts_with("arn:") {
                    req.source_table_arn(src)
                } else {
                    req.source_table_name(src)
                };
                req = match p.point {
                    RestorePoint::Latest => req.use_latest_restorable_time(true),
                    RestorePoint::At(t) => req.restore_date_time(to_smithy(t)),
                };
                match req.send().await {
                    Ok(_) => changes.push(format!(
                        "started the restore of `{src}` to `{dst}` at {}",
                        p.point.describe()
                    )),
                    // Someone (a previous attempt) started it meanwhile: wait for that one.
                    Err(e)
                        if e.as_service_error()
                            .is_some_and(|s| s.is_table_already_exists_exception()) =>
                    {
                        changes.push(format!(
                            "waited for the restore already in progress into `{dst}`"
                        ));
                    }
                    Err(e) => return Err(aws_error(SVC, "RestoreTableToPointInTime", &region, e)),
                }
            }
            // Never touch a table that is not a restore (observe reports it as a finding).
            Some(t) if t.restore_summary().is_none() => {
                return Err(ActionError::Precondition {
                    findings: vec![finding(
                        format!(
                            "target table `{dst}` already exists in {region} and is not a restored table"
                        ),
                        "choose another `target_table` or delete the table first",
                    )],
                });
            }
            Some(t) if t.table_status() == Some(&TableStatus::Creating) => {
                changes.push(format!(
                    "waited for the restore already in progress into `{dst}`"
                ));
            }
            Some(_) => {}
        }
        // Right after RestoreTableToPointInTime, DescribeTable may not see the table yet.
        let just_started = !changes.is_empty();

        let waited_before = ctx.waits.total();
        let desc = poll::until(&ctx.waits, poll::RESTORE_MAX_INTERVAL, || async {
            match describe_table(&c, &region, dst).await? {
                None if just_started => Ok(None),
                None => Err(ActionError::Verification {
                    message: format!("`{dst}` disappeared while its restore was awaited"),
                    hint: "check whether someone deleted the table, then run the step again".into(),
                }),
                Some(d) if d.table_status() == Some(&TableStatus::Active) => Ok(Some(d)),
                Some(d) if d.table_status() == Some(&TableStatus::Creating) => Ok(None),
                Some(d) if d.table_status() == Some(&TableStatus::Updating) => Ok(Some(d)),
                Some(d) => Err(ActionError::Verification {
                    message: format!("`{dst}` is {} instead of becoming ACTIVE", status_str(&d)),
                    hint: "check the table in the console".into(),
                }),
            }
        })
        .await?;
        let waited = ctx.waits.total().saturating_sub(waited_before);

        let from_source = source_settings(ctx, &p).await?;
        let have = read_settings(&c, &region, dst, &desc).await?;
        let missing = p.wanted(&from_source).missing(&have);
        let (desc, set) = carry_over(ctx, &c, &region, dst, &desc, &have, &missing).await?;
        changes.extend(set);

        let outputs =
            restore_outputs(&c, &region, &p, &desc, &p.carried_over(&from_source)).await?;
        Ok(Outcome {
            summary: format!(
                "`{dst}` is ACTIVE with {} items, restored to {} (waited {})",
                outputs["item_count"],
                outputs["restored_to"],
                human(waited)
            ),
            changes,
            outputs,
        })
    }

    async fn verify(&self, ctx: &StepContext, outcome: &Outcome) -> Result<(), ActionError> {
        let p = RestoreParams::read(ctx)?;
        let (c, region) = client(ctx)?;
        let dst = &p.target;
        let fail = |message: String, hint: &str| ActionError::Verification {
            message,
            hint: hint.to_string(),
        };
        let Some(desc) = describe_table(&c, &region, dst).await? else {
            return Err(fail(
                format!("`{dst}` does not exist in {region}"),
                "run the step again to restore it",
            ));
        };
        if desc.table_status() != Some(&TableStatus::Active) {
            return Err(fail(
                format!("`{dst}` is {}, not ACTIVE", status_str(&desc)),
                "wait for the table, then run the step again",
            ));
        }
        // Each setting against the source's (and the step's): what is still missing fails.
        let wanted = p.wanted(&source_settings(ctx, &p).await?);
        let have = read_settings(&c, &region, dst, &desc).await?;
        let missing = wanted.missing(&have);
        if !missing.is_empty() {
            return Err(fail(
                format!(
                    "`{dst}` lacks settings of `{}`: {}",
                    p.source,
                    missing.lines(dst).join("; ")
                ),
                "run the step again; it sets what is missing",
            ));
        }
        let count = match outcome
            .outputs
            .get("item_count")
            .and_then(|s| s.parse().ok())
        {
            Some(n) => n,
            None => count_items(&c, &region, dst).await?,
        };
        let (min, what) = match p.min_items {
            Some(m) => (m, "`min_items`".to_string()),
            None => {
                let (sc, sregion, sname) = source_client(ctx, &p)?;
                let Some(src) = describe_table(&sc, &sregion, &sname).await? else {
                    return Err(fail(
                        format!(
                            "cannot compare item counts: source `{}` not found in {sregion}",
                            p.source
                        ),
                        "set `min_items` on the step",
                    ));
                };
                let n = src.item_count().unwrap_or(0).max(0) as u64;
                (
                    n,
                    format!("the source's item count ({} reports {n})", p.source),
                )
            }
        };
        if count < min {
            return Err(fail(
                format!("`{dst}` holds {count} items, fewer than {min} ({what})"),
                "check `restore_to` and the source table; lower `min_items` if fewer items are expected",
            ));
        }
        Ok(())
    }
}

/// Waits until `t` (already past) is no later than the source's latest restorable time, which
/// AWS documents as "typically 5 minutes before the current time" (API reference,
/// PointInTimeRecoveryDescription). A restore asked for the minute before a corruption can so
/// start as soon as it is possible.
async fn wait_until_restorable(
    ctx: &StepContext,
    c: &Client,
    region: &str,
    source: &str,
    t: DateTime<Utc>,
) -> Result<(), ActionError> {
    if t > Utc::now() {
        return Err(ActionError::Invalid {
            message: format!("restore point {} is in the future", rfc3339(t)),
            hint: "name a time before the damage, or `latest`".into(),
        });
    }
    poll::until(&ctx.waits, poll::RESTORE_MAX_INTERVAL, || async {
        match describe_pitr(c, region, source).await? {
            Some(p) if p.latest.is_some_and(|l| l >= t) => Ok(Some(())),
            Some(p) if p.enabled => Ok(None),
            _ => Err(ActionError::Precondition {
                findings: vec![finding(
                    format!("point-in-time recovery of `{source}` in {region} is off or the table is gone"),
                    "turn PITR on for the source table",
                )],
            }),
        }
    })
    .await
}

/// Sets on the restored table what it lacks (`missing`, computed from `have`), and returns its
/// description, ACTIVE again, and the change lines. Each setting is its own call, as AWS documents it:
/// - PITR: UpdateContinuousBackups, PointInTimeRecoverySpecification with
///   `RecoveryPeriodInDays` ("The number of preceding days for which continuous backups are
///   taken and maintained. Your table data is only recoverable to any point-in-time from within
///   the configured recovery period. [...] If no value is provided, the value will default to
///   35.", API reference, PointInTimeRecoverySpecification), so the copy keeps the source's
///   period rather than AWS's default;
/// - TTL: UpdateTimeToLive with the attribute (API reference, UpdateTimeToLive);
/// - tags: TagResource (API reference, TagResource; the source's come from ListTagsOfResource);
/// - the stream: UpdateTable StreamSpecification (API reference, UpdateTable: "You receive a
///   ValidationException if you try to enable a stream on a table that already has a stream", so
///   a stream of another view type is disabled first), after which the table is UPDATING until
///   ACTIVE again.
async fn carry_over(
    ctx: &StepContext,
    c: &Client,
    region: &str,
    dst: &str,
    desc: &TableDescription,
    have: &Settings,
    missing: &Settings,
) -> Result<(TableDescription, Vec<String>), ActionError> {
    let mut changes = vec![];
    if missing.pitr {
        enable_pitr(ctx, c, region, dst, missing.period_days).await?;
        changes.push(match missing.period_days {
            Some(d) => format!(
                "turned on point-in-time recovery for `{dst}` with a recovery period of {d} days"
            ),
            None => format!("turned on point-in-time recovery for `{dst}`"),
        });
    }
    if let Some(attr) = &missing.ttl {
        let spec = TimeToLiveSpecification::builder()
            .enabled(true)
            .attribute_name(attr)
            .build()
            .map_err(build_error)?;
        c.update_time_to_live()
            .table_name(dst)
            .time_to_live_specification(spec)
            .send()
            .await
            .map_err(|e| aws_error(SVC, "UpdateTimeToLive", region, e))?;
        changes.push(format!("enabled TTL on attribute `{attr}` of `{dst}`"));
    }
    if !missing.tags.is_empty() {
        let tags = missing
            .tags
            .iter()
            .map(|(k, v)| Tag::builder().key(k).value(v).build().map_err(build_error))
            .collect::<Result<Vec<_>, _>>()?;
        c.tag_resource()
            .resource_arn(desc.table_arn().unwrap_or_default())
            .set_tags(Some(tags))
            .send()
            .await
            .map_err(|e| aws_error(SVC, "TagResource", region, e))?;
        let list: Vec<String> = missing
            .tags
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        changes.push(format!("tagged `{dst}` with {}", list.join(", ")));
    }
    let Some(view) = &missing.stream else {
        return Ok((desc.clone(), changes));
    };
    if have.stream.is_some() {
        update_stream(ctx, c, region, dst, None).await?;
        changes.push(format!(
            "disabled the {} stream of `{dst}`",
            have.stream.as_deref().unwrap_or_default()
        ));
    }
    let desc = update_stream(ctx, c, region, dst, Some(view)).await?;
    changes.push(format!("enabled the stream of `{dst}` ({view})"));
    Ok((desc, changes))
}

/// UpdateTable StreamSpecification (`None`: disable), then waits until the table is ACTIVE.
async fn update_stream(
    ctx: &StepContext,
    c: &Client,
    region: &str,
    table: &str,
    view: Option<&str>,
) -> Result<TableDescription, ActionError> {
    let spec = StreamSpecification::builder()
        .stream_enabled(view.is_some())
        .set_stream_view_type(view.map(StreamViewType::from))
        .build()
        .map_err(build_error)?;
    c.update_table()
        .table_name(table)
        .stream_specification(spec)
        .send()
        .await
        .map_err(|e| aws_error(SVC, "UpdateTable", region, e))?;
    poll::until(&ctx.waits, poll::RESTORE_MAX_INTERVAL, || async {
        match describe_table(c, region, table).await? {
            Some(d) if d.table_status() == Some(&TableStatus::Active) => Ok(Some(d)),
            Some(_) => Ok(None),
            None => Err(ActionError::Verification {
                message: format!("`{table}` disappeared while its stream was being set"),
                hint: "check whether someone deleted the table, then run the step again".into(),
            }),
        }
    })
    .await
}

/// UpdateContinuousBackups right after a restore can be refused for a while
/// (ContinuousBackupsUnavailableException): wait and try again.
async fn enable_pitr(
    ctx: &StepContext,
    c: &Client,
    region: &str,
    table: &str,
    period_days: Option<i32>,
) -> Result<(), ActionError> {
    let spec = PointInTimeRecoverySpecification::builder()
        .point_in_time_recovery_enabled(true)
        .set_recovery_period_in_days(period_days)
        .build()
        .map_err(build_error)?;
    poll::until(&ctx.waits, poll::RESTORE_MAX_INTERVAL, || async {
        match c
            .update_continuous_backups()
            .table_name(table)
            .point_in_time_recovery_specification(spec.clone())
            .send()
            .await
        {
            Ok(_) => Ok(Some(())),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_continuous_backups_unavailable_exception()) =>
            {
                Ok(None)
            }
            Err(e) => Err(aws_error(SVC, "UpdateContinuousBackups", region, e)),
        }
    })
    .await
}

// ------------------------------------------------------------------------- assert_replica

struct AssertReplica;

#[async_trait::async_trait]
impl Action for AssertReplica {
    fn spec(&self) -> &'static ActionSpec {
        spec("dynamodb.assert_replica")
    }

    async fn observe(&self, ctx: &StepContext) -> Result<Observation, ActionError> {
        let table = ctx.params.str("table")?;
        let (c, region) = client(ctx)?;
        let mut obs = Observation::default();
        obs.facts.insert("table".into(), json!(table));
        let Some(desc) = describe_table(&c, &region, &table).await? else {
            obs.summary = format!("table `{table}` not found in {region}");
            obs.findings.push(not_found(&table, &region));
            return Ok(obs);
        };
        let status = status_str(&desc).to_string();
        obs.facts.insert("status".into(), json!(status));
        if desc.table_status() != Some(&TableStatus::Active) {
            obs.findings.push(finding(
                format!("table `{table}` is {status} in {region}, not ACTIVE"),
                "wait for the table to become ACTIVE, or check the Region's health",
            ));
        }
        // For a global table, the replica entry for this Region must be ACTIVE too.
        if let Some(rep) = desc
            .replicas()
            .iter()
            .find(|r| r.region_name() == Some(region.as_str()))
        {
            let rs = rep
                .replica_status()
                .map(|s| s.as_str())
                .unwrap_or("UNKNOWN");
            obs.facts.insert("replica_status".into(), json!(rs));
            if rs != "ACTIVE" {
                obs.findings.push(finding(
                    format!("the replica of `{table}` in {region} is {rs}, not ACTIVE"),
                    "wait for the replica to become ACTIVE, or check the global table's health",
                ));
            }
        }
        let others = replica_regions(&desc, &region);
        if let Some(peer) = ctx.params.opt_str("peer_region")? {
            obs.facts.insert("peer_region".into(), json!(peer));
            match others.iter().find(|(r, _)| *r == peer) {
                None => obs.findings.push(finding(
                    format!(
                        "`{table}` in {region} is not a global-table replica of `{table}` in {peer} (its replicas: {})",
                        if others.is_empty() {
                            "none".to_string()
                        } else {
                            others.iter().map(|(r, _)| r.as_str()).collect::<Vec<_>>().join(", ")
                        }
                    ),
                    format!(
                        "a same-named table that is not a replica receives nothing: add the replica \
                         (dynamodb.add_replica, or aws dynamodb update-table --region {peer} --table-name {table} \
                         --replica-updates Create={{RegionName={region}}})"
                    ),
                )),
                Some((_, rs)) if rs != "ACTIVE" => obs.findings.push(finding(
                    format!("the replica of `{table}` in {peer} is {rs}, not ACTIVE"),
                    "wait for the replica to become ACTIVE, or check the global table's health",
                )),
                Some(_) => {}
            }
        }
        obs.outputs.insert(
            "replica_regions".into(),
            others
                .iter()
                .map(|(r, _)| r.as_str())
                .collect::<Vec<_>>()
                .join(","),
        );
        let count = desc.item_count().unwrap_or(0).max(0);
        obs.outputs.insert(
            "table_arn".into(),
            desc.table_arn().unwrap_or_default().to_string(),
        );
        obs.outputs.insert("item_count".into(), count.to_string());
        obs.summary = format!("`{table}` is {status} in {region} (about {count} items)");
        Ok(obs)
    }

    async fn verify(&self, ctx: &StepContext, _: &Outcome) -> Result<(), ActionError> {
        let table = ctx.params.str("table")?;
        let (c, region) = client(ctx)?;
        match describe_table(&c, &region, &table).await? {
            Some(d) if d.table_status() == Some(&TableStatus::Active) => Ok(()),
            Some(d) => Err(ActionError::Verification {
                message: format!("`{table}` is {} in {region}, not ACTIVE", status_str(&d)),
                hint: "check the table in the Region".into(),
            }),
            None => Err(ActionError::Verification {
                message: format!("`{table}` not found in {region}"),
                hint: "check the table name and the step's region".into(),
            }),
        }
    }
}

// ------------------------------------------------------------------------- delete_table

struct DeleteTable;

#[async_trait::async_trait]
impl Action for DeleteTable {
    fn spec(&self) -> &'static ActionSpec {
        spec("dynamodb.delete_table")
    }

    async fn observe(&self, ctx: &StepContext) -> Result<Observation, ActionError> {
        let table = ctx.params.str("table")?;
        let (c, region) = client(ctx)?;
        let mut obs = Observation::default();
        obs.facts.insert("table".into(), json!(table));
        match describe_table(&c, &region, &table).await? {
            None => {
                obs.facts.insert("status".into(), json!("ABSENT"));
                obs.summary = format!("`{table}` does not exist in {region}; nothing to delete");
            }
            Some(d) if d.table_status() == Some(&TableStatus::Deleting) => {
                obs.facts.insert("status".into(), json!("DELETING"));
                obs.summary = format!("`{table}` is already being deleted");
            }
            Some(d) => {
                let status = status_str(&d).to_string();
                obs.facts.insert("status".into(), json!(status));
                if d.deletion_protection_enabled() == Some(true) {
                    obs.findings.push(finding(
                        format!("`{table}` has deletion protection on"),
                        "turn deletion protection off first if this table really is a drill leftover",
                    ));
                }
                obs.summary = format!("`{table}` is {status} in {region}");
                obs.changes
                    .push(format!("delete table `{table}` in {region}"));
            }
        }
        Ok(obs)
    }

    async fn apply(
        &self,
        ctx: &StepContext,
        observed: &Observation,
    ) -> Result<Outcome, ActionError> {
        let table = ctx.params.str("table")?;
        if observed.changes.is_empty() {
            return Ok(Outcome {
                summary: format!("`{table}` was already gone"),
                ..Default::default()
            });
        }
        let (c, region) = client(ctx)?;
        let changes = match c.delete_table().table_name(&table).send().await {
            Ok(_) => vec![format!("deleted table `{table}` in {region}")],
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_resource_not_found_exception()) =>
            {
                vec![]
            }
            Err(e) => return Err(aws_error(SVC, "DeleteTable", &region, e)),
        };
        Ok(Outcome {
            summary: if changes.is_empty() {
                format!("`{table}` was already gone")
            } else {
                format!("deleted `{table}`")
            },
            changes,
            outputs: BTreeMap::new(),
        })
    }

    async fn verify(&self, ctx: &StepContext, _: &Outcome) -> Result<(), ActionError> {
        let table = ctx.params.str("table")?;
        let (c, region) = client(ctx)?;
        match describe_table(&c, &region, &table).await? {
            None => Ok(()),
            Some(d) if d.table_status() == Some(&TableStatus::Deleting) => Ok(()),
            Some(d) => Err(ActionError::Verification {
                message: format!("`{table}` still exists ({})", status_str(&d)),
                hint: "run the step again, or delete the table by hand".into(),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn restore_point_parses_latest_and_rfc3339() {
        assert_eq!(RestorePoint::parse("latest").unwrap(), RestorePoint::Latest);
        assert_eq!(
            RestorePoint::parse(" LATEST ").unwrap(),
            RestorePoint::Latest
        );
        let RestorePoint::At(t) = RestorePoint::parse("2024-05-01T12:00:00+02:00").unwrap() else {
            panic!("expected a time");
        };
        assert_eq!(rfc3339(t), "2024-05-01T10:00:00Z");
        let err = RestorePoint::parse("yesterday").unwrap_err();
        assert!(
            err.to_string().contains("`latest` or an RFC 3339 time"),
            "{err}"
        );
        assert!(err.hint().is_some());
    }

    #[test]
    fn times_round_trip_through_rfc3339_exactly() {
        let t = aws_smithy_types::DateTime::from_secs_and_nanos(1_714_557_600, 123_456_789);
        let c = to_utc(&t).unwrap();
        let s = rfc3339(c);
        assert_eq!(s, "2024-05-01T10:00:00.123456789Z");
        let RestorePoint::At(back) = RestorePoint::parse(&s).unwrap() else {
            panic!()
        };
        assert_eq!(to_smithy(back), t);
    }

    #[test]
    fn settings_lines_name_only_what_is_missing() {
        let s = Settings {
            ttl: Some("expires_at".into()),
            tags: BTreeMap::from([("app".into(), "vault".into())]),
            stream: Some("NEW_IMAGE".into()),
            ..Default::default()
        };
        assert_eq!(
            s.lines("t"),
            vec![
                "enable TTL on attribute `expires_at` of `t`".to_string(),
                "tag `t` with app=vault".to_string(),
                "enable the stream of `t` (NEW_IMAGE)".to_string(),
            ]
        );
        assert!(Settings::default().lines("t").is_empty());
    }

    fn source() -> Settings {
        Settings {
            pitr: true,
            period_days: Some(7),
            ttl: Some("expires_at".into()),
            tags: BTreeMap::from([("app".into(), "unolock".into())]),
            stream: Some("NEW_AND_OLD_IMAGES".into()),
        }
    }

    fn params(enable_pitr: bool, ttl: Option<&str>, tags: &[(&str, &str)]) -> RestoreParams {
        RestoreParams {
            source: "vault".into(),
            target: "copy".into(),
            point: RestorePoint::Latest,
            enable_pitr,
            ttl_attribute: ttl.map(str::to_string),
            tags: tags
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            min_items: None,
        }
    }

    #[test]
    fn the_source_s_settings_are_wanted_and_the_step_s_win() {
        let p = params(true, None, &[]);
        assert_eq!(p.wanted(&source()), source());
        assert_eq!(p.carried_over(&source()), ["pitr", "ttl", "tags", "stream"]);
        // A fresh restore lacks all of it; the copy gets the source's 7 days, not 35.
        let missing = p.wanted(&source()).missing(&Settings::default());
        assert_eq!(missing, source());
        assert_eq!(
            missing.lines("copy")[0],
            "turn on point-in-time recovery for `copy` with a recovery period of 7 days"
        );
        // The step's TTL attribute and tags win; `enable_pitr: false` leaves PITR off.
        let p = params(false, Some("gone_at"), &[("app", "drill"), ("run", "1")]);
        let w = p.wanted(&source());
        assert!(!w.pitr && w.period_days.is_none());
        assert_eq!(w.ttl.as_deref(), Some("gone_at"));
        assert_eq!(w.tags["app"], "drill");
        assert_eq!(w.tags["run"], "1");
        assert_eq!(p.carried_over(&source()), ["tags", "stream"]);
    }

    #[test]
    fn missing_is_only_what_differs() {
        let want = source();
        assert!(want.missing(&source()).is_empty());
        // PITR on with AWS's default period: only the period is set again.
        let have = Settings {
            period_days: Some(35),
            ..source()
        };
        let m = want.missing(&have);
        assert!(m.pitr && m.period_days == Some(7));
        assert!(m.ttl.is_none() && m.tags.is_empty() && m.stream.is_none());
        // One tag of two, another stream view type.
        let mut want2 = source();
        want2.tags.insert("drill".into(), "yes".into());
        let have = Settings {
            stream: Some("KEYS_ONLY".into()),
            ..source()
        };
        let m = want2.missing(&have);
        assert!(!m.pitr && m.ttl.is_none());
        assert_eq!(m.tags, BTreeMap::from([("drill".into(), "yes".into())]));
        assert_eq!(m.stream.as_deref(), Some("NEW_AND_OLD_IMAGES"));
        // A source without a known period: PITR on is enough.
        let want3 = Settings {
            period_days: None,
            ..source()
        };
        assert!(want3.missing(&have).stream.is_some() && !want3.missing(&have).pitr);
    }

    #[test]
    fn a_source_arn_names_its_region_and_table() {
        assert_eq!(
            source_location(
                "arn:aws:dynamodb:eu-west-1:111122223333:table/vault",
                "ca-central-1"
            ),
            ("eu-west-1".to_string(), "vault".to_string())
        );
        assert_eq!(
            source_location("vault", "ca-central-1"),
            ("ca-central-1".to_string(), "vault".to_string())
        );
    }
}
