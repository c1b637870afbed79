//! `verify-evidence DIR --cloudtrail`: each AWS call the journal says changed something is
//! looked up in CloudTrail's event history (LookupEvents) in its Region, and through the same
//! role, by its event name around its time, and matched on the request id.
//!
//! CloudTrail "typically delivers events within an average of about 5 minutes of an API call.
//! This time is not guaranteed" (CloudTrail user guide, "How CloudTrail works"). A call younger
//! than [`DELIVERY_DELAY`] that is not found yet is "not yet delivered"; older, it is missing.

use std::path::Path;
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::actions::ActionError;
use crate::actions::aws::{Aws, AwsCall, StepRole, in_step_as};
use crate::checkpoint::Record;
use crate::event::Event;
use crate::runbook::CallTimeouts;
use crate::runbook::model::Role;

/// How long after a call its CloudTrail event may still be on its way: three times the
/// documented average delivery time.
pub const DELIVERY_DELAY: Duration = Duration::from_secs(15 * 60);

/// What CloudTrail says about one call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TrailStatus {
    /// The event, by its CloudTrail event id.
    Found(String),
    /// Not found, but younger than [`DELIVERY_DELAY`].
    NotYetDelivered,
    /// Not found, and older than [`DELIVERY_DELAY`]: a failure.
    Missing,
    /// The call has no request id to look for (the answer carried none).
    NoRequestId,
}

#[derive(Debug, Clone)]
pub struct TrailCheck {
    pub call: AwsCall,
    pub status: TrailStatus,
}

/// The run id and the calls recorded in the journal of an evidence directory.
pub fn recorded_calls(dir: &Path) -> Result<(String, Vec<AwsCall>), String> {
    let path = dir.join("journal.jsonl");
    let text = std::fs::read_to_string(&path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let mut run_id = String::new();
    let mut calls = vec![];
    for (n, line) in text.lines().enumerate() {
        let r: Record = serde_json::from_str(line)
            .map_err(|e| format!("{}:{}: not a journal record: {e}", path.display(), n + 1))?;
        match r.event {
            Event::RunStarted { run_id: id, .. } => run_id = id,
            Event::AwsCalls { calls: c, .. } => calls.extend(c),
            _ => {}
        }
    }
    Ok((run_id, calls))
}

/// Looks every call up in CloudTrail, at `now`.
pub async fn check(
    aws: &Aws,
    run_id: &str,
    calls: &[AwsCall],
    now: DateTime<Utc>,
) -> Result<Vec<TrailCheck>, ActionError> {
    let mut out = vec![];
    for call in calls {
        let status = match &call.request_id {
            None => TrailStatus::NoRequestId,
            Some(id) => match find(aws, run_id, call, id).await? {
                Some(event) => TrailStatus::Found(event),
                None if (now - call.at).to_std().unwrap_or_default() < DELIVERY_DELAY => {
                    TrailStatus::NotYetDelivered
                }
                None => TrailStatus::Missing,
            },
        };
        out.push(TrailCheck {
            call: call.clone(),
            status,
        });
    }
    Ok(out)
}

/// The CloudTrail event id of `call`, searched by event name from 5 minutes before it to an
/// hour after, in its Region, as its role when it had one.
async fn find(
    aws: &Aws,
    run_id: &str,
    call: &AwsCall,
    request_id: &str,
) -> Result<Option<String>, ActionError> {
    use aws_sdk_cloudtrail::types::{LookupAttribute, LookupAttributeKey};
    let role = match &call.role_arn {
        Some(arn) => {
            let role = Role {
                arn: arn.clone(),
                external_id: None,
                duration: None,
            };
            Some(StepRole {
                arn: arn.clone(),
                credentials: aws
                    .role_credentials(&role, run_id, "verify-evidence", &call.region)
                    .await,
            })
        }
        None => None,
    };
    let lookup = async {
        let client = aws.cloudtrail(&call.region);
        let attribute = LookupAttribute::builder()
            .attribute_key(LookupAttributeKey::EventName)
            .attribute_value(&call.operation)
            .build()
            .map_err(|e| ActionError::Invalid {
                message: e.to_string(),
                hint: String::new(),
            })?;
        let start = call.at - chrono::Duration::minutes(5);
        let end = call.at + chrono::Duration::hours(1);
        let mut token: Option<String> = None;
        for _ in 0..20 {
            let out = client
                .lookup_events()
                .lookup_attributes(attribute.clone())
                .start_time(aws_smithy_types::DateTime::from_secs(start.timestamp()))
                .end_time(aws_smithy_types::DateTime::from_secs(end.timestamp()))
                .set_next_token(token.take())
                .send()
                .await
                .map_err(|e| {
                    crate::actions::aws::aws_error("cloudtrail", "LookupEvents", &call.region, e)
                })?;
            for ev in out.events() {
                let matches = ev
                    .cloud_trail_event()
                    .and_then(|j| serde_json::from_str::<serde_json::Value>(j).ok())
                    .is_some_and(|j| j["requestID"].as_str() == Some(request_id));
                if matches {
                    return Ok(Some(ev.event_id().unwrap_or_default().to_string()));
                }
            }
            match out.next_token() {
                Some(t) if !t.is_empty() => token = Some(t.to_string()),
                _ => break,
            }
        }
        Ok(None)
    };
    in_step_as("verify-evidence", CallTimeouts::default(), role, lookup).await
}
