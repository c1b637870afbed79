//! `dynamodb.count_writes`: the writes a table's DynamoDB stream holds since a time. After a
//! point-in-time restore to that time, they are what the restored table lacks: writes that
//! land in the old table until the application is switched over are lost unless replayed.
//!
//! Why the stream: it is the one record of every item-level change AWS keeps ("DynamoDB
//! Streams captures a time-ordered sequence of item-level modifications in any DynamoDB table
//! and stores this information in a log for up to 24 hours", developer guide, "Change data
//! capture for DynamoDB Streams"), each record "appears exactly once in the stream", and a
//! global table has one on every replica. An attribute such as `updated_at` would count only
//! the items whose writers set it and never a delete. Limits, all reported:
//!
//! - 24 hours: a `since` older than that, or older than the stream itself
//!   (`CreationRequestDateTime`), is not fully covered; `complete` is then `false` and the
//!   counts are a lower bound.
//! - `ApproximateCreationDateTime` is "rounded down to the closest second" (API reference,
//!   StreamRecord): every write in the second of `since` counts, so the count can include a
//!   few writes the restore kept (an upper bound by that one second).
//! - An open shard is read until it returns no records three times in a row ("it might take
//!   multiple calls to get to a portion of the shard that contains stream records", API
//!   reference, GetRecords); writes arriving meanwhile may or may not count.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use serde_json::json;

use super::{SVC, aws_error, client, describe_table, finding, not_found, rfc3339, spec, to_utc};
use crate::actions::{Action, ActionError, ActionSpec, Observation, Outcome, StepContext};

/// How long DynamoDB Streams keeps a record (developer guide, "Change data capture for
/// DynamoDB Streams": "stores this information in a log for up to 24 hours").
const RETENTION: chrono::TimeDelta = chrono::TimeDelta::hours(24);
/// Empty pages in a row after which an open shard counts as read to its end.
const EMPTY_PAGES: usize = 3;
/// GetRecords calls per shard at most (1000 records each, the API's limit per call).
const MAX_PAGES: usize = 10_000;

pub(super) struct CountWrites;

/// What the stream says about writes since a time.
#[derive(Debug, Default, PartialEq)]
struct Count {
    writes: u64,
    items: BTreeSet<String>,
    last: Option<DateTime<Utc>>,
    /// A shard was cut short at [`MAX_PAGES`].
    truncated: bool,
}

impl Count {
    /// Counts one record written at `at` (rounded down to the second by AWS) for `key`, when
    /// it may be after `since`.
    fn add(&mut self, since: DateTime<Utc>, at: DateTime<Utc>, key: String) {
        let since_second = since.timestamp();
        if at.timestamp() >= since_second {
            self.writes += 1;
            self.items.insert(key);
            self.last = self.last.max(Some(at));
        }
    }
}

/// Whether the stream holds every write since `since`: it existed then, and `since` is within
/// the retention.
fn covers(since: DateTime<Utc>, created: Option<DateTime<Utc>>, now: DateTime<Utc>) -> bool {
    created.is_some_and(|c| c <= since) && now - since < RETENTION
}

#[async_trait::async_trait]
impl Action for CountWrites {
    fn spec(&self) -> &'static ActionSpec {
        spec("dynamodb.count_writes")
    }

    async fn observe(&self, ctx: &StepContext) -> Result<Observation, ActionError> {
        let table = ctx.params.str("table")?;
        let since_text = ctx.params.str("since")?;
        // Empty (an unset runbook variable) means no limit.
        let max = match ctx.params.opt_str("max_writes")? {
            Some(s) if !s.trim().is_empty() => {
                Some(s.trim().parse::<u64>().map_err(|_| ActionError::Invalid {
                    message: format!(
                        "parameter `max_writes` must be a whole number or empty, not `{s}`"
                    ),
                    hint:
                        "check the step's `with:` block (or the runbook variable it names)".into(),
                })?)
            }
            _ => None,
        };
        let mut obs = Observation::default();
        // A finding rather than an error: in a dry run `since` is the restore's output, not yet
        // known, and the engine reports a finding downstream of a change instead of failing.
        let Ok(since) = DateTime::parse_from_rfc3339(since_text.trim()) else {
            obs.summary = format!("`since` is not an RFC 3339 time: `{since_text}`");
            obs.findings.push(finding(
                format!("`since` must be an RFC 3339 time, not `{since_text}`"),
                "pass the restore's `restored_to` output, e.g. `{{ steps.restore-vault.restored_to }}`",
            ));
            return Ok(obs);
        };
        let since = since.with_timezone(&Utc);
        let (c, region) = client(ctx)?;
        let Some(desc) = describe_table(&c, &region, &table).await? else {
            obs.summary = format!("table `{table}` not found in {region}");
            obs.findings.push(not_found(&table, &region));
            return Ok(obs);
        };
        let Some(arn) = desc.latest_stream_arn().filter(|_| {
            desc.stream_specification()
                .is_some_and(|s| s.stream_enabled())
        }) else {
            obs.summary = format!("`{table}` has no stream enabled: its writes cannot be counted");
            obs.findings.push(finding(
                format!("`{table}` in {region} has no stream: writes since {since_text} cannot be counted"),
                "enable a stream on the table (UpdateTable StreamSpecification) before it is needed; it keeps 24 hours",
            ));
            return Ok(obs);
        };
        let streams = ctx.aws.dynamodb_streams(&region);
        let mut count = Count::default();
        let mut created = None;
        let mut start_shard: Option<String> = None;
        loop {
            let out = streams
                .describe_stream()
                .stream_arn(arn)
                .set_exclusive_start_shard_id(start_shard.take())
                .send()
                .await
                .map_err(|e| aws_error(SVC, "DescribeStream", &region, e))?;
            let Some(d) = out.stream_description else {
                break;
            };
            created = created.or(d.creation_request_date_time().and_then(to_utc_streams));
            for shard in d.shards() {
                let Some(id) = shard.shard_id() else { continue };
                let mut iterator = streams
                    .get_shard_iterator()
                    .stream_arn(arn)
                    .shard_id(id)
                    .shard_iterator_type(
                        aws_sdk_dynamodbstreams::types::ShardIteratorType::TrimHorizon,
                    )
                    .send()
                    .await
                    .map_err(|e| aws_error(SVC, "GetShardIterator", &region, e))?
                    .shard_iterator;
                let (mut empty, mut pages) = (0, 0);
                while let Some(it) = iterator.take() {
                    if pages == MAX_PAGES {
                        count.truncated = true;
                        break;
                    }
                    pages += 1;
                    let page = streams
                        .get_records()
                        .shard_iterator(it)
                        .send()
                        .await
                        .map_err(|e| aws_error(SVC, "GetRecords", &region, e))?;
                    for r in page.records() {
                        let Some(sr) = r.dynamodb() else { continue };
                        let Some(at) = sr.approximate_creation_date_time().and_then(to_utc_streams)
                        else {
                            continue;
                        };
                        let key: std::collections::BTreeMap<_, _> = sr
                            .keys()
                            .map(|k| {
                                k.iter()
                                    .map(|(n, v)| (n.clone(), format!("{v:?}")))
                                    .collect()
                            })
                            .unwrap_or_default();
                        count.add(since, at, format!("{key:?}"));
                    }
                    empty = if page.records().is_empty() {
                        empty + 1
                    } else {
                        0
                    };
                    if empty < EMPTY_PAGES {
                        iterator = page.next_shard_iterator;
                    }
                }
            }
            match d.last_evaluated_shard_id {
                Some(s) if !s.is_empty() => start_shard = Some(s),
                _ => break,
            }
        }
        let complete = covers(since, created, Utc::now()) && !count.truncated;
        let bound = if complete { "" } else { "at least " };
        obs.summary = format!(
            "{bound}{} write(s) to {} item(s) of `{table}` since {} (DynamoDB stream){}",
            count.writes,
            count.items.len(),
            rfc3339(since),
            if complete {
                ""
            } else {
                ": the stream does not cover the whole interval (it keeps 24 hours, and holds nothing from before it was enabled)"
            }
        );
        obs.facts.insert("stream_arn".into(), json!(arn));
        obs.facts.insert("writes".into(), json!(count.writes));
        obs.facts.insert("items".into(), json!(count.items.len()));
        obs.facts.insert("complete".into(), json!(complete));
        obs.outputs
            .insert("writes".into(), count.writes.to_string());
        obs.outputs
            .insert("items".into(), count.items.len().to_string());
        obs.outputs.insert("complete".into(), complete.to_string());
        obs.outputs.insert(
            "last_write".into(),
            count.last.map(rfc3339).unwrap_or_default(),
        );
        if let Some(max) = max.filter(|m| count.writes > *m) {
            obs.findings.push(finding(
                format!(
                    "{} write(s) landed in `{table}` since {} (limit {max}): switching to the restored table loses them",
                    count.writes,
                    rfc3339(since)
                ),
                "replay them into the restored table from the stream, or raise `max_writes` once they are accounted for",
            ));
        }
        Ok(obs)
    }

    async fn apply(&self, _: &StepContext, observed: &Observation) -> Result<Outcome, ActionError> {
        Ok(Outcome::observed(observed))
    }

    async fn verify(&self, _: &StepContext, _: &Outcome) -> Result<(), ActionError> {
        Ok(())
    }
}

/// The streams crate's timestamps are the same Smithy type as DynamoDB's.
fn to_utc_streams(t: &aws_smithy_types::DateTime) -> Option<DateTime<Utc>> {
    to_utc(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    /// AWS rounds a record's time down to the second: a write in the second of `since` counts,
    /// one in an earlier second does not.
    #[test]
    fn writes_count_from_the_second_of_since() {
        let since = t("2026-01-01T10:00:00.500Z");
        let mut c = Count::default();
        c.add(since, t("2026-01-01T09:59:59Z"), "a".into());
        c.add(since, t("2026-01-01T10:00:00Z"), "b".into());
        c.add(since, t("2026-01-01T10:00:05Z"), "b".into());
        c.add(since, t("2026-01-01T10:01:00Z"), "c".into());
        assert_eq!(c.writes, 3);
        assert_eq!(c.items.len(), 2);
        assert_eq!(c.last, Some(t("2026-01-01T10:01:00Z")));
    }

    #[test]
    fn the_stream_covers_only_what_it_held_and_kept() {
        let now = t("2026-01-02T12:00:00Z");
        let created = Some(t("2026-01-01T00:00:00Z"));
        assert!(covers(t("2026-01-02T11:00:00Z"), created, now));
        assert!(
            !covers(t("2026-01-01T11:00:00Z"), created, now),
            "older than 24 hours"
        );
        assert!(!covers(t("2025-12-31T23:00:00Z"), created, now));
        assert!(
            !covers(
                t("2026-01-02T11:00:00Z"),
                Some(t("2026-01-02T11:30:00Z")),
                now
            ),
            "enabled later"
        );
        assert!(!covers(t("2026-01-02T11:00:00Z"), None, now));
    }
}
