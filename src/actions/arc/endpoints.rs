//! The cluster's Regional endpoints: the step's `endpoints:` (or DescribeCluster's, made in
//! us-west-2), and each call tried on them in turn until one answers.

use std::future::Future;

use aws_sdk_route53recoverycluster::Client as ClusterClient;

use crate::actions::aws::{ARC_CONFIG_REGION, aws_error};
use crate::actions::{ActionError, AwsFailure, Finding, StepContext};
use crate::catalog::Service;
use crate::runbook::regions;

/// The SDK's service names, for errors.
pub(super) const CLUSTER_SERVICE: &str = "route53-recovery-cluster";
const CONFIG_SERVICE: &str = "route53-recovery-control-config";

/// The `endpoints` value that asks DescribeCluster for the cluster's endpoints.
pub(crate) const DESCRIBE: &str = "describe";

/// One of a cluster's Regional endpoints: its URL and the Region its calls are signed for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Endpoint {
    pub region: String,
    pub url: String,
}

/// Where the endpoints came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum EndpointSource {
    /// The step's `endpoints:`.
    Runbook,
    /// DescribeCluster (control plane, us-west-2).
    DescribeCluster,
}

/// The Region an endpoint URL names: a host label (`host-x.us-west-2.example.com`, the form in
/// the DescribeCluster example of the ARC API reference) or a path segment.
fn region_in_url(url: &str) -> Option<String> {
    let rest = url.split_once("://").map(|(_, r)| r).unwrap_or(url);
    let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
    let host = host.rsplit_once('@').map(|(_, h)| h).unwrap_or(host);
    let host = host.split(':').next().unwrap_or(host);
    host.split('.')
        .chain(path.split(['/', '?']))
        .find(|p| regions::is_known(p))
        .map(str::to_string)
}

/// Parses `URL` or `REGION=URL`.
pub(crate) fn parse_endpoint(s: &str) -> Result<Endpoint, ActionError> {
    let s = s.trim();
    let invalid = |message: String| ActionError::Invalid {
        message,
        hint: "write each endpoint as its URL from DescribeCluster (`https://...`), or as \
               `REGION=URL` when the URL names no Region"
            .into(),
    };
    if let Some((region, url)) = s.split_once('=')
        && !region.contains('/')
    {
        let (region, url) = (region.trim(), url.trim());
        if !regions::is_known(region) {
            return Err(invalid(format!(
                "`{region}` in endpoint `{s}` is not a Region name"
            )));
        }
        if !url.contains("://") {
            return Err(invalid(format!("endpoint `{s}` has no URL after `=`")));
        }
        return Ok(Endpoint {
            region: region.to_string(),
            url: url.to_string(),
        });
    }
    if !s.contains("://") {
        return Err(invalid(format!("endpoint `{s}` is not a URL")));
    }
    match region_in_url(s) {
        Some(region) => Ok(Endpoint {
            region,
            url: s.to_string(),
        }),
        None => Err(invalid(format!(
            "cannot tell the Region of endpoint `{s}`; its calls must be signed for it"
        ))),
    }
}

/// How an endpoint is written back for pasting: its URL, prefixed with `REGION=` when the URL
/// does not name that Region.
pub(super) fn endpoint_text(e: &Endpoint) -> String {
    if region_in_url(&e.url).as_deref() == Some(e.region.as_str()) {
        e.url.clone()
    } else {
        format!("{}={}", e.region, e.url)
    }
}

/// The step's `endpoints:`, each entry possibly holding several separated by commas or spaces
/// (so one runbook variable can carry all five). `describe` asks DescribeCluster for them (the
/// same as none: ARC's control plane, in us-west-2), so a runbook can require the variable and
/// still let a dry run print the list to paste.
fn endpoints_param(ctx: &StepContext) -> Result<Vec<Endpoint>, ActionError> {
    let mut out: Vec<Endpoint> = vec![];
    for entry in ctx.params.str_list("endpoints")? {
        for part in entry
            .split([',', ' ', '\n', '\t'])
            .filter(|p| !p.trim().is_empty() && !p.trim().eq_ignore_ascii_case(DESCRIBE))
        {
            let e = parse_endpoint(part)?;
            if !out.contains(&e) {
                out.push(e);
            }
        }
    }
    Ok(out)
}

/// The cluster's endpoints: the step's, else DescribeCluster's (in us-west-2).
pub(super) async fn endpoints(
    ctx: &StepContext,
) -> Result<(Vec<Endpoint>, EndpointSource), ActionError> {
    let given = endpoints_param(ctx)?;
    if !given.is_empty() {
        return Ok((given, EndpointSource::Runbook));
    }
    let cluster = ctx.params.str("cluster")?;
    let out = ctx
        .aws
        .arc_config()
        .describe_cluster()
        .cluster_arn(&cluster)
        .send()
        .await
        .map_err(|e| {
            let mut err = aws_error(CONFIG_SERVICE, "DescribeCluster", ARC_CONFIG_REGION, e);
            let hint = format!(
                "DescribeCluster is ARC's control plane, served from {ARC_CONFIG_REGION} only; \
                 write the cluster's endpoints in the step (`endpoints: [URL, ...]`, as a dry \
                 run prints them) so the switch needs only the data plane"
            );
            match &mut err {
                ActionError::Aws(f) if !f.code.contains("AccessDenied") => f.hint = hint,
                _ => {}
            }
            err
        })?;
    let found: Vec<Endpoint> = out
        .cluster()
        .map(|c| c.cluster_endpoints())
        .unwrap_or_default()
        .iter()
        .filter_map(|e| {
            Some(Endpoint {
                region: e.region()?.to_string(),
                url: e.endpoint()?.to_string(),
            })
        })
        .collect();
    if found.is_empty() {
        return Err(ActionError::Precondition {
            findings: vec![Finding {
                message: format!("cluster `{cluster}` lists no endpoints (is it DEPLOYED?)"),
                hint: "check the cluster ARN; a new cluster gets its endpoints when it is \
                       DEPLOYED"
                    .into(),
            }],
        });
    }
    Ok((found, EndpointSource::DescribeCluster))
}

/// `; passed over: REGION, ...` for a summary, or nothing when no endpoint was passed over.
pub(super) fn passed_over_note(passed: &[PassedOver]) -> String {
    if passed.is_empty() {
        return String::new();
    }
    format!(
        "; passed over: {}",
        passed
            .iter()
            .map(|p| p.endpoint.region.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    )
}

/// Why an endpoint was passed over.
#[derive(Debug, Clone)]
pub(super) struct PassedOver {
    pub(super) endpoint: Endpoint,
    pub(super) why: String,
}

/// Whether an error means "this endpoint does not answer, try the next": the Region is
/// unreachable (refused by the scenario, connection failed, timeout, 5xx, throttled), or ARC
/// says so ("EndpointTemporarilyUnavailableException: The cluster endpoint isn't available.
/// Try another cluster endpoint.", Routing Control API reference, Errors).
fn move_on(e: &ActionError) -> bool {
    e.region_unreachable()
        || matches!(e, ActionError::Aws(f) if f.code == "EndpointTemporarilyUnavailableException")
}

/// Runs `f` against each endpoint in turn (starting with `first` when given) until one
/// answers; skips endpoints in a Region the game-day scenario impairs, moves on from any that
/// does not answer, and stops at any other error.
pub(super) async fn on_first_answering<T, F, Fut>(
    ctx: &StepContext,
    endpoints: &[Endpoint],
    first: Option<&str>,
    operation: &str,
    mut f: F,
) -> Result<(Endpoint, T, Vec<PassedOver>), ActionError>
where
    F: FnMut(ClusterClient, Endpoint) -> Fut,
    Fut: Future<Output = Result<T, ActionError>>,
{
    let mut order: Vec<&Endpoint> = endpoints.iter().collect();
    if let Some(url) = first
        && let Some(i) = order.iter().position(|e| e.url == url)
    {
        let e = order.remove(i);
        order.insert(0, e);
    }
    let mut passed = vec![];
    let mut tried = 0;
    let mut last: Option<ActionError> = None;
    for ep in order {
        if ctx.aws.is_impaired(&ep.region, Service::Arc) {
            passed.push(PassedOver {
                endpoint: ep.clone(),
                why: format!("{} is impaired by the scenario", ep.region),
            });
            continue;
        }
        tried += 1;
        let client = ctx.aws.arc_cluster(&ep.region, &ep.url);
        match f(client, ep.clone()).await {
            Ok(v) => return Ok((ep.clone(), v, passed)),
            Err(e) if move_on(&e) => {
                tracing::warn!(endpoint = %ep.url, region = %ep.region, error = %e,
                    "ARC cluster endpoint did not answer; trying the next");
                passed.push(PassedOver {
                    endpoint: ep.clone(),
                    why: e.to_string(),
                });
                last = Some(e);
            }
            Err(e) => return Err(e),
        }
    }
    let detail = passed
        .iter()
        .map(|p| format!("{} ({})", p.endpoint.region, p.why))
        .collect::<Vec<_>>()
        .join("; ");
    let nothing_tried = tried == 0;
    Err(ActionError::Aws(Box::new(AwsFailure {
        service: CLUSTER_SERVICE.into(),
        operation: operation.into(),
        region: endpoints
            .iter()
            .map(|e| e.region.as_str())
            .collect::<Vec<_>>()
            .join(","),
        code: "NoClusterEndpointAnswered".into(),
        message: format!(
            "none of the cluster's {} endpoints answered: {detail}",
            endpoints.len()
        ),
        // Endpoints come and go ("cycled through available and unavailable states for regular
        // maintenance"): the step's retry tries them all again. With every one impaired by the
        // scenario, there is nothing to retry.
        retryable: !nothing_tried && last.is_some(),
        request_id: None,
        hint: if endpoints.len() < 5 {
            "list all five of the cluster's Regional endpoints in `endpoints:` (DescribeCluster \
             gives them); ARC keeps at least three of the five available"
                .into()
        } else {
            "check network access to the cluster endpoints; ARC keeps at least three of the five \
             available"
                .into()
        },
    })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoint_regions_come_from_the_url_or_a_prefix() {
        let real = parse_endpoint("https://host-dddddd.us-west-2.example.com/v1").unwrap();
        assert_eq!(real.region, "us-west-2");
        let emu = parse_endpoint("http://127.0.0.1:4566/arc/abc-1/ap-southeast-2/v1").unwrap();
        assert_eq!(emu.region, "ap-southeast-2");
        assert_eq!(emu.url, "http://127.0.0.1:4566/arc/abc-1/ap-southeast-2/v1");
        let given = parse_endpoint("eu-west-1=https://host-x.example.com/v1").unwrap();
        assert_eq!(
            given,
            Endpoint {
                region: "eu-west-1".into(),
                url: "https://host-x.example.com/v1".into()
            }
        );
        assert_eq!(
            endpoint_text(&given),
            "eu-west-1=https://host-x.example.com/v1"
        );
        assert_eq!(endpoint_text(&real), real.url);
        assert!(parse_endpoint("https://host-x.example.com/v1").is_err());
        assert!(parse_endpoint("mars-1=https://host-x.example.com").is_err());
        assert!(parse_endpoint("not a url").is_err());
    }
}
