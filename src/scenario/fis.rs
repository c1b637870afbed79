//! A drill's AWS Fault Injection Service experiments (`faults:`): started from their templates
//! just before the runbook's first step, watched until FIS runs them, stopped at the drill's
//! end. The emulator serves the same API (localstack/README.md, "AWS FIS").
//!
//! FIS API reference: StartExperiment starts an experiment from a template; GetExperiment
//! reports its `state` (`pending`, `initiating`, `running`, `completed`, `stopping`, `stopped`,
//! `failed`, `cancelled`); StopExperiment stops it (FIS user guide, "Experiment states").

use std::time::Duration;

use aws_sdk_fis::types::Experiment;

use crate::actions::aws::{Aws, aws_error};
use crate::event::FisExperiment;

/// Longest pause between two GetExperiment calls while waiting.
const POLL_MAX: Duration = Duration::from_secs(5);

fn time(t: Option<&aws_smithy_types::DateTime>) -> Option<chrono::DateTime<chrono::Utc>> {
    let t = t?;
    chrono::DateTime::from_timestamp(t.secs(), t.subsec_nanos())
}

/// What FIS says of an experiment.
fn described(e: &Experiment, template: &str, region: &str) -> FisExperiment {
    let mut actions: Vec<String> = e
        .actions()
        .map(|a| {
            a.values()
                .filter_map(|a| a.action_id().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    actions.sort();
    actions.dedup();
    FisExperiment {
        id: e.id().unwrap_or_default().to_string(),
        template: e.experiment_template_id().unwrap_or(template).to_string(),
        region: region.to_string(),
        state: e
            .state()
            .and_then(|s| s.status())
            .map(|s| s.as_str().to_string())
            .unwrap_or_default(),
        reason: e
            .state()
            .and_then(|s| s.reason())
            .unwrap_or_default()
            .to_string(),
        started_at: time(e.start_time()),
        ended_at: time(e.end_time()),
        actions,
        zones: zones(e),
    }
}

/// The Availability Zones the experiment's network disruptions are confined to: every
/// `aws:network:disrupt-connectivity` action's subnets target has an `AvailabilityZone` filter
/// (how AWS's "AZ Availability: Power Interruption" scenario scopes one zone). Empty when one
/// has not, or when there is none.
fn zones(e: &Experiment) -> Vec<String> {
    let targets = e.targets();
    let mut zones = vec![];
    let mut any = false;
    for a in e.actions().into_iter().flat_map(|a| a.values()) {
        if a.action_id() != Some("aws:network:disrupt-connectivity") {
            continue;
        }
        any = true;
        let filtered: Vec<&String> = a
            .targets()
            .and_then(|t| t.get("Subnets"))
            .and_then(|name| targets.and_then(|t| t.get(name)))
            .map(|t| {
                t.filters()
                    .iter()
                    .filter(|f| f.path() == Some("AvailabilityZone"))
                    .flat_map(|f| f.values())
                    .collect()
            })
            .unwrap_or_default();
        if filtered.is_empty() {
            return vec![];
        }
        zones.extend(filtered.into_iter().cloned());
    }
    if !any {
        return vec![];
    }
    zones.sort();
    zones.dedup();
    zones
}

/// The action ids of a template (GetExperimentTemplate), for a dry run: it exists, and this is
/// what it would do.
pub async fn describe_template(
    aws: &Aws,
    template: &str,
    region: &str,
) -> Result<Vec<String>, String> {
    let out = aws
        .fis(region)
        .get_experiment_template()
        .id(template)
        .send()
        .await
        .map_err(|e| aws_error("fis", "GetExperimentTemplate", region, e).to_string())?;
    let mut ids: Vec<String> = out
        .experiment_template()
        .and_then(|t| t.actions())
        .map(|a| {
            a.values()
                .filter_map(|a| a.action_id().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    ids.sort();
    Ok(ids)
}

/// StartExperiment from `template` in `region`, tagged with the drill's scenario.
pub async fn start_experiment(
    aws: &Aws,
    template: &str,
    region: &str,
    scenario: &str,
) -> Result<FisExperiment, String> {
    let out = aws
        .fis(region)
        .start_experiment()
        .experiment_template_id(template)
        .tags("drillbook:scenario", scenario)
        .send()
        .await
        .map_err(|e| aws_error("fis", "StartExperiment", region, e).to_string())?;
    let e = out
        .experiment()
        .ok_or_else(|| "StartExperiment answered without an experiment".to_string())?;
    Ok(described(e, template, region))
}

async fn get(aws: &Aws, e: &FisExperiment) -> Result<FisExperiment, String> {
    let out = aws
        .fis(&e.region)
        .get_experiment()
        .id(&e.id)
        .send()
        .await
        .map_err(|err| aws_error("fis", "GetExperiment", &e.region, err).to_string())?;
    let got = out
        .experiment()
        .ok_or_else(|| format!("GetExperiment {} answered without an experiment", e.id))?;
    Ok(described(got, &e.template, &e.region))
}

/// Polls GetExperiment until `done` holds or `timeout` passes; the last description either way.
async fn poll(
    aws: &Aws,
    e: &FisExperiment,
    timeout: Duration,
    done: impl Fn(&FisExperiment) -> bool,
) -> Result<FisExperiment, String> {
    let deadline = tokio::time::Instant::now() + timeout;
    let mut pause = Duration::from_millis(200);
    loop {
        let now = get(aws, e).await?;
        if done(&now) || tokio::time::Instant::now() >= deadline {
            return Ok(now);
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(POLL_MAX);
    }
}

/// Waits until FIS runs the experiment (`running`); `Err` when it ends first (failed, stopped)
/// or is not running within `timeout`.
pub async fn wait_running(
    aws: &Aws,
    e: &FisExperiment,
    timeout: Duration,
) -> Result<FisExperiment, (String, Option<FisExperiment>)> {
    let now = poll(aws, e, timeout, |x| x.state == "running" || x.has_ended())
        .await
        .map_err(|m| (m, None))?;
    if now.state == "running" {
        return Ok(now);
    }
    let why = if now.reason.is_empty() {
        String::new()
    } else {
        format!(": {}", now.reason)
    };
    Err((
        format!(
            "FIS experiment {} (template {}, {}) is {}{why}",
            now.id, now.template, now.region, now.state
        ),
        Some(now),
    ))
}

/// Stops the experiment (StopExperiment, unless FIS has ended it already) and waits up to
/// `timeout` for it to end; its last description.
pub async fn stop_experiment(
    aws: &Aws,
    e: &FisExperiment,
    timeout: Duration,
) -> Result<FisExperiment, String> {
    let now = get(aws, e).await?;
    if now.has_ended() {
        return Ok(now);
    }
    aws.fis(&e.region)
        .stop_experiment()
        .id(&e.id)
        .send()
        .await
        .map_err(|err| aws_error("fis", "StopExperiment", &e.region, err).to_string())?;
    poll(aws, e, timeout, FisExperiment::has_ended).await
}

#[cfg(test)]
mod tests {
    use aws_sdk_fis::types::{
        Experiment, ExperimentAction, ExperimentTarget, ExperimentTargetFilter,
    };

    fn experiment(filters: &[(&str, &str)], action: &str) -> Experiment {
        let mut target = ExperimentTarget::builder()
            .resource_type("aws:ec2:subnet")
            .selection_mode("ALL");
        for (path, value) in filters {
            target = target.filters(
                ExperimentTargetFilter::builder()
                    .path(*path)
                    .values(*value)
                    .build(),
            );
        }
        Experiment::builder()
            .targets("subnets", target.build())
            .actions(
                "cut",
                ExperimentAction::builder()
                    .action_id(action)
                    .targets("Subnets", "subnets")
                    .build(),
            )
            .build()
    }

    #[test]
    fn a_network_disruption_filtered_by_zone_is_confined_to_it() {
        let e = experiment(
            &[("AvailabilityZone", "us-east-1a")],
            "aws:network:disrupt-connectivity",
        );
        assert_eq!(super::zones(&e), ["us-east-1a"]);
        // Not filtered by zone: the Region's subnets.
        let e = experiment(
            &[("State", "available")],
            "aws:network:disrupt-connectivity",
        );
        assert!(super::zones(&e).is_empty());
        let e = experiment(&[], "aws:network:disrupt-connectivity");
        assert!(super::zones(&e).is_empty());
        // No network disruption: nothing to confine.
        let e = experiment(&[("AvailabilityZone", "us-east-1a")], "aws:fis:wait");
        assert!(super::zones(&e).is_empty());
    }
}
