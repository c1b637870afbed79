//! Global tables (version 2019.11.21): `dynamodb.assert_replication` measures how far the peer
//! Region trails (the data a failover loses, which is the RPO of a regional failover), and
//! `dynamodb.add_replica` puts a table into a global table (UpdateTable ReplicaUpdates Create),
//! as a restored table must be before both Regions serve it. A KMS key is per Region, so a
//! replica of a table encrypted with a customer managed key names its own Region's key
//! (`kms_key`).

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::{
    AttributeValue, CreateReplicationGroupMemberAction, ReplicationGroupUpdate, TableDescription,
    TableStatus,
};
use chrono::Utc;
use serde_json::json;

use super::items::{attribute, key_schema};
use super::{
    SVC, aws_error, build_error, client, describe_pitr, describe_table, enable_pitr, finding,
    not_found, replica_regions, rfc3339, spec, status_str,
};
use crate::actions::{Action, ActionError, ActionSpec, Observation, Outcome, StepContext, poll};
use crate::duration::human;

/// `assert_replication`'s limit when neither `max_lag` nor the runbook's RPO is set.
const DEFAULT_MAX_REPLICATION_LAG: Duration = Duration::from_secs(60);
/// How often the peer Region is asked for the probe.
const PROBE_INTERVAL: Duration = Duration::from_millis(100);
/// The attribute that marks a probe item, so that no one mistakes it for data.
const PROBE_ATTRIBUTE: &str = "drillbook_probe";

/// Both tables exist and are ACTIVE, and the step Region's table has an ACTIVE replica in
/// `peer`. Problems become findings.
async fn check_pair(
    ctx: &StepContext,
    table: &str,
    peer: &str,
    obs: &mut Observation,
) -> Result<Option<TableDescription>, ActionError> {
    let (c, region) = client(ctx)?;
    let Some(desc) = describe_table(&c, &region, table).await? else {
        obs.findings.push(not_found(table, &region));
        return Ok(None);
    };
    if desc.table_status() != Some(&TableStatus::Active) {
        obs.findings.push(finding(
            format!("`{table}` is {} in {region}, not ACTIVE", status_str(&desc)),
            "wait for the table to become ACTIVE",
        ));
    }
    match replica_regions(&desc, &region).into_iter().find(|(r, _)| r == peer) {
        None => obs.findings.push(finding(
            format!("`{table}` in {region} has no replica in {peer}: nothing replicates there"),
            "name the global table's other Region in `peer_region`, or add the replica (dynamodb.add_replica)",
        )),
        Some((_, s)) if s != "ACTIVE" => obs.findings.push(finding(
            format!("the replica of `{table}` in {peer} is {s}, not ACTIVE"),
            "wait for the replica to become ACTIVE",
        )),
        Some(_) => {}
    }
    Ok(Some(desc))
}

/// A key no item of the table has: every key attribute holds `drillbook-probe-<run>-<nanos>`
/// (numbers: the nanoseconds).
fn probe_key(
    desc: &TableDescription,
    run_id: &str,
) -> Result<(HashMap<String, AttributeValue>, String), ActionError> {
    let nanos = Utc::now().timestamp_nanos_opt().unwrap_or_default();
    let mut key = HashMap::new();
    let mut text = vec![];
    for (name, ty) in key_schema(desc) {
        let value = match ty.as_str() {
            "N" => nanos.to_string(),
            _ => format!("drillbook-probe-{run_id}-{nanos}"),
        };
        text.push(format!("{name}={value}"));
        key.insert(name.clone(), attribute(&name, &value, ty.as_str())?);
    }
    Ok((key, text.join(", ")))
}

pub(super) struct AssertReplication;

#[async_trait::async_trait]
impl Action for AssertReplication {
    fn spec(&self) -> &'static ActionSpec {
        spec("dynamodb.assert_replication")
    }

    async fn observe(&self, ctx: &StepContext) -> Result<Observation, ActionError> {
        let table = ctx.params.str("table")?;
        let peer = ctx.params.str("peer_region")?;
        let region = ctx.region()?.to_string();
        let mut obs = Observation::default();
        obs.facts.insert("table".into(), json!(table));
        obs.facts.insert("peer_region".into(), json!(peer));
        check_pair(ctx, &table, &peer, &mut obs).await?;
        obs.summary = if obs.findings.is_empty() {
            format!("`{table}` replicates from {region} to {peer}")
        } else {
            format!("`{table}` cannot be probed from {region} to {peer}")
        };
        obs.changes.push(format!(
            "write a probe item to `{table}` in {region}, time its arrival in {peer}, then delete it"
        ));
        Ok(obs)
    }

    async fn apply(&self, ctx: &StepContext, _: &Observation) -> Result<Outcome, ActionError> {
        let table = ctx.params.str("table")?;
        let peer = ctx.params.str("peer_region")?;
        let limit = match ctx.params.opt_duration("max_lag")? {
            Some(d) => d,
            None => ctx.objectives.rpo.unwrap_or(DEFAULT_MAX_REPLICATION_LAG),
        };
        let (c, region) = client(ctx)?;
        let peer_client = ctx.aws.dynamodb(&peer);
        let mut obs = Observation::default();
        let Some(desc) = check_pair(ctx, &table, &peer, &mut obs).await? else {
            return Err(ActionError::Precondition {
                findings: obs.findings,
            });
        };
        let (key, key_text) = probe_key(&desc, &ctx.run_id)?;
        let mut item = key.clone();
        item.insert(
            PROBE_ATTRIBUTE.into(),
            AttributeValue::S(format!("{} {}", ctx.run_id, ctx.step_id)),
        );
        let written_at = Utc::now();
        let start = Instant::now();
        c.put_item()
            .table_name(&table)
            .set_item(Some(item))
            .send()
            .await
            .map_err(|e| aws_error(SVC, "PutItem", &region, e))?;
        let arrived = loop {
            let seen = peer_client
                .get_item()
                .table_name(&table)
                .set_key(Some(key.clone()))
                .send()
                .await
                .map_err(|e| aws_error(SVC, "GetItem", &peer, e))?;
            let elapsed = start.elapsed();
            if seen.item.is_some() {
                break Some(elapsed);
            }
            if elapsed > limit {
                break None;
            }
            tokio::time::sleep(PROBE_INTERVAL).await;
            ctx.waits.add(PROBE_INTERVAL);
        };
        // The probe goes whatever happened; its deletion replicates too.
        c.delete_item()
            .table_name(&table)
            .set_key(Some(key))
            .send()
            .await
            .map_err(|e| aws_error(SVC, "DeleteItem", &region, e))?;
        let Some(lag) = arrived else {
            return Err(ActionError::Verification {
                message: format!(
                    "a probe written to `{table}` in {region} at {} had not reached {peer} after {}: \
                     the replication lag is above the {} allowed, so a failover now would lose more than that",
                    rfc3339(written_at),
                    human(limit),
                    human(limit)
                ),
                hint: "check the global table's ReplicationLatency metric in CloudWatch and the peer Region's health; \
                       raise `max_lag` (or the RPO) only if that loss is acceptable"
                    .into(),
            });
        };
        let lag_text = format!("{:.3}", lag.as_secs_f64());
        Ok(Outcome {
            summary: format!(
                "a probe written to `{table}` in {region} reached {peer} in {} (limit {})",
                human(lag),
                human(limit)
            ),
            changes: vec![format!(
                "wrote and deleted a probe item ({key_text}) in `{table}` in {region}"
            )],
            outputs: BTreeMap::from([
                ("replication_lag_seconds".to_string(), lag_text),
                ("probe_key".to_string(), key_text),
            ]),
        })
    }

    async fn verify(&self, _: &StepContext, outcome: &Outcome) -> Result<(), ActionError> {
        if outcome.outputs.contains_key("replication_lag_seconds") {
            Ok(())
        } else {
            Err(ActionError::Verification {
                message: "the replication lag was not measured".into(),
                hint: "run the step again".into(),
            })
        }
    }
}

// ------------------------------------------------------------------------- add_replica

/// The replica's status as the step Region's table lists it (`None`: not a replica).
fn replica_status(desc: &TableDescription, region: &str, replica: &str) -> Option<String> {
    replica_regions(desc, region)
        .into_iter()
        .find(|(r, _)| r == replica)
        .map(|(_, s)| s)
}

pub(super) struct AddReplica;

#[async_trait::async_trait]
impl Action for AddReplica {
    fn spec(&self) -> &'static ActionSpec {
        spec("dynamodb.add_replica")
    }

    async fn observe(&self, ctx: &StepContext) -> Result<Observation, ActionError> {
        let table = ctx.params.str("table")?;
        let target = ctx.params.str("replica_region")?;
        let (c, region) = client(ctx)?;
        let mut obs = Observation::default();
        obs.facts.insert("table".into(), json!(table));
        obs.facts.insert("replica_region".into(), json!(target));
        let kms_key = ctx.params.opt_str("kms_key")?.filter(|k| !k.is_empty());
        if let Some(k) = &kms_key {
            obs.facts.insert("kms_key".into(), json!(k));
        }
        if target == region {
            obs.summary = format!("`{table}` cannot be its own replica");
            obs.findings.push(finding(
                format!("`replica_region` is the step's own Region ({region})"),
                "name the other Region of the pair",
            ));
            return Ok(obs);
        }
        let Some(desc) = describe_table(&c, &region, &table).await? else {
            obs.summary = format!("table `{table}` not found in {region}");
            obs.findings.push(not_found(&table, &region));
            return Ok(obs);
        };
        match replica_status(&desc, &region, &target).as_deref() {
            Some("ACTIVE") => {
                obs.summary = format!("`{table}` already has an ACTIVE replica in {target}");
                if let Some(days) = replica_pitr_to_set(ctx, &table, &target).await? {
                    obs.changes.push(format!(
                        "turn point-in-time recovery on for the replica in {target}{}",
                        days.map(|d| format!(" ({d} days, as the source)"))
                            .unwrap_or_default()
                    ));
                }
                if let Some(d) = describe_table(&ctx.aws.dynamodb(&target), &target, &table).await?
                {
                    obs.outputs.insert(
                        "replica_arn".into(),
                        d.table_arn().unwrap_or_default().to_string(),
                    );
                }
            }
            Some(s) => {
                obs.summary = format!("the replica of `{table}` in {target} is {s}");
                obs.changes.push(format!(
                    "wait for the replica of `{table}` in {target} to be ACTIVE"
                ));
            }
            None => {
                if describe_table(&ctx.aws.dynamodb(&target), &target, &table)
                    .await?
                    .is_some()
                {
                    obs.findings.push(finding(
                        format!("{target} already has a table named `{table}` that is not its replica"),
                        "AWS refuses a replica over an existing table: delete that table or restore under another name",
                    ));
                }
                obs.summary = format!("`{table}` in {region} has no replica in {target}");
                let key = kms_key
                    .as_deref()
                    .map(|k| format!(", encrypted with KMS key `{k}`"))
                    .unwrap_or_default();
                obs.changes.push(format!(
                    "add a replica of `{table}` in {target} (UpdateTable ReplicaUpdates Create{key}), wait until it is ACTIVE, and give it the source's point-in-time recovery"
                ));
            }
        }
        Ok(obs)
    }

    async fn apply(&self, ctx: &StepContext, _: &Observation) -> Result<Outcome, ActionError> {
        let table = ctx.params.str("table")?;
        let target = ctx.params.str("replica_region")?;
        let kms_key = ctx.params.opt_str("kms_key")?.filter(|k| !k.is_empty());
        let (c, region) = client(ctx)?;
        let Some(desc) = describe_table(&c, &region, &table).await? else {
            return Err(ActionError::Precondition {
                findings: vec![not_found(&table, &region)],
            });
        };
        let mut changes = vec![];
        if replica_status(&desc, &region, &target).is_none() {
            // KMSMasterKeyId: "The KMS key that should be used for KMS encryption in the new
            // replica. To specify a key, use its key ID, Amazon Resource Name (ARN), alias name,
            // or alias ARN." (DynamoDB API reference, CreateReplicationGroupMemberAction)
            let create = CreateReplicationGroupMemberAction::builder()
                .region_name(&target)
                .set_kms_master_key_id(kms_key.clone())
                .build()
                .map_err(build_error)?;
            c.update_table()
                .table_name(&table)
                .replica_updates(ReplicationGroupUpdate::builder().create(create).build())
                .send()
                .await
                .map_err(|e| aws_error(SVC, "UpdateTable", &region, e))?;
            changes.push(match &kms_key {
                Some(k) => format!("added a replica of `{table}` in {target} with KMS key `{k}`"),
                None => format!("added a replica of `{table}` in {target}"),
            });
        }
        let started = ctx.waits.total();
        let target_client = ctx.aws.dynamodb(&target);
        let arn = poll::until(&ctx.waits, poll::RESTORE_MAX_INTERVAL, || async {
            let Some(d) = describe_table(&c, &region, &table).await? else {
                return Err(ActionError::Verification {
                    message: format!(
                        "`{table}` disappeared from {region} while its replica was awaited"
                    ),
                    hint: "check whether someone deleted the table".into(),
                });
            };
            if replica_status(&d, &region, &target).as_deref() != Some("ACTIVE") {
                return Ok(None);
            }
            Ok(describe_table(&target_client, &target, &table)
                .await?
                .filter(|t| t.table_status() == Some(&TableStatus::Active))
                .map(|t| t.table_arn().unwrap_or_default().to_string()))
        })
        .await?;
        if let Some(days) = replica_pitr_to_set(ctx, &table, &target).await? {
            enable_pitr(ctx, &target_client, &target, &table, days).await?;
            changes.push(format!(
                "turned point-in-time recovery on for the replica in {target}{}",
                days.map(|d| format!(" ({d} days, as the source)"))
                    .unwrap_or_default()
            ));
        }
        Ok(Outcome {
            summary: format!(
                "`{table}` has an ACTIVE replica in {target} (waited {})",
                human(ctx.waits.total().saturating_sub(started))
            ),
            changes,
            outputs: BTreeMap::from([("replica_arn".to_string(), arn)]),
        })
    }

    async fn verify(&self, ctx: &StepContext, _: &Outcome) -> Result<(), ActionError> {
        let table = ctx.params.str("table")?;
        let target = ctx.params.str("replica_region")?;
        let (c, region) = client(ctx)?;
        let status = describe_table(&c, &region, &table)
            .await?
            .and_then(|d| replica_status(&d, &region, &target));
        match status.as_deref() {
            Some("ACTIVE") => {
                if replica_pitr_to_set(ctx, &table, &target).await?.is_some() {
                    return Err(ActionError::Verification {
                        message: format!(
                            "point-in-time recovery of the replica of `{table}` in {target} differs from the source's"
                        ),
                        hint: "run the step again; it sets the replica's PITR as the source's"
                            .into(),
                    });
                }
                match ctx.params.opt_str("kms_key")?.filter(|k| !k.is_empty()) {
                    Some(k) => verify_replica_key(ctx, &table, &target, &k).await,
                    None => Ok(()),
                }
            }
            other => Err(ActionError::Verification {
                message: format!(
                    "the replica of `{table}` in {target} is {}",
                    other.unwrap_or("missing")
                ),
                hint: "run the step again; it waits for the replica".into(),
            }),
        }
    }
}

/// Point-in-time recovery is a setting of each replica, not of the global table (CloudFormation
/// `AWS::DynamoDB::GlobalTable` ReplicaSpecification: `PointInTimeRecoverySpecification` per
/// replica; DynamoDB developer guide, "Enable point-in-time recovery in DynamoDB"): a new
/// replica starts without it. `Some(period)` when the source in the step's Region has PITR on
/// and the replica in `target` does not (or keeps another recovery period): the period to set.
async fn replica_pitr_to_set(
    ctx: &StepContext,
    table: &str,
    target: &str,
) -> Result<Option<Option<i32>>, ActionError> {
    let (c, region) = client(ctx)?;
    let Some(source) = describe_pitr(&c, &region, table).await? else {
        return Ok(None);
    };
    if !source.enabled {
        return Ok(None);
    }
    let replica = describe_pitr(&ctx.aws.dynamodb(target), target, table).await?;
    let same = replica.is_some_and(|r| {
        r.enabled && (source.period_days.is_none() || r.period_days == source.period_days)
    });
    Ok((!same).then_some(source.period_days))
}

/// The replica in `target` is encrypted with `kms_key` (any of its names, resolved with KMS
/// DescribeKey in `target`): its SSEDescription's KMSMasterKeyArn is that key's ARN ("The KMS
/// key ARN used for the KMS encryption", DynamoDB API reference, SSEDescription).
async fn verify_replica_key(
    ctx: &StepContext,
    table: &str,
    target: &str,
    kms_key: &str,
) -> Result<(), ActionError> {
    let fail = |message: String| ActionError::Verification {
        message,
        hint: format!(
            "the replica keeps the key it was created with: set it with aws dynamodb update-table --region {target} \
             --table-name {table} --sse-specification Enabled=true,SSEType=KMS,KMSMasterKeyId={kms_key}"
        ),
    };
    let used = describe_table(&ctx.aws.dynamodb(target), target, table)
        .await?
        .and_then(|d| {
            d.sse_description()
                .and_then(|s| s.kms_master_key_arn())
                .map(str::to_string)
        });
    let Some(used) = used else {
        return Err(fail(format!(
            "the replica of `{table}` in {target} is not encrypted with a KMS key of its own"
        )));
    };
    let want = ctx
        .aws
        .kms(target)
        .describe_key()
        .key_id(kms_key)
        .send()
        .await
        .map_err(|e| aws_error("kms", "DescribeKey", target, e))?
        .key_metadata()
        .and_then(|m| m.arn())
        .map(str::to_string)
        .unwrap_or_default();
    if used == want {
        Ok(())
    } else {
        Err(fail(format!(
            "the replica of `{table}` in {target} is encrypted with {used}, not with `{kms_key}` ({want})"
        )))
    }
}
