//! Route 53 Application Recovery Controller (ARC) routing control: a DNS switch on a data
//! plane that no single Region hosts.
//!
//! - `arc.set_routing_controls` sets routing controls to the states the step names (never
//!   toggles), every one in a single `UpdateRoutingControlStates` transaction, and reads them
//!   back with `GetRoutingControlState`.
//! - `arc.assert_routing_controls` reads them (a check for scenarios and runbooks).
//!
//! AWS facts they rely on:
//!
//! - "A cluster provides a set of five redundant Regional endpoints against which you can run
//!   API calls to get or update the state of routing controls. To implement failover, you set
//!   one routing control to ON and another one to OFF" (Routing Control API reference, Welcome,
//!   <https://docs.aws.amazon.com/routing-control/latest/APIReference/Welcome.html>).
//! - "You can use any of the Regional cluster endpoints. We recommend that your systems rotate
//!   through the regional endpoints, and be prepared to retry with each of the available
//!   endpoints" (ARC developer guide, "List and update routing controls and states with the
//!   AWS CLI",
//!   <https://docs.aws.amazon.com/r53recovery/latest/dg/getting-started-cli-routing.control-state.html>);
//!   "ARC ensures that at least three out of the five Regional cluster endpoints are always
//!   accessible ... If the endpoint is unavailable, you can try connecting to another one of
//!   your cluster endpoints" (ARC developer guide, "Getting and updating routing control states
//!   using the ARC API",
//!   <https://docs.aws.amazon.com/r53recovery/latest/dg/routing-control.update.api.html>).
//! - The endpoints come from `DescribeCluster`, a Recovery Control Config (control-plane) call
//!   made in us-west-2; AWS recommends keeping a local copy: "save a local copy of the ARC
//!   Regional cluster endpoints, in bookmarks or hardcoded in automation code that you use to
//!   retry your endpoints" (the "List and update ..." page above). So `endpoints:` in the step
//!   takes the list, and the dry run prints it when the step has none.
//! - The data plane lists routing controls too (`ListRoutingControls`: "List routing control
//!   names and Amazon Resource Names (ARNs), as well as the routing control state for each
//!   routing control", Routing Control API reference), so names resolve without the control
//!   plane. "Routing control names must be unique within each control panel", not across a
//!   cluster: a name found in two panels is ambiguous.
//! - Safety rules refuse an update that would break them (`ConflictException`); the step names
//!   the rule and does not retry. `SafetyRulesToOverride` is the documented "break glass"
//!   (UpdateRoutingControlStates, Routing Control API reference,
//!   <https://docs.aws.amazon.com/routing-control/latest/APIReference/API_UpdateRoutingControlStates.html>).
//! - Quotas: "Number of routing controls per UpdateRoutingControlStates operation call: 10";
//!   "Number of mutating API calls to a cluster endpoint, per second: 3" (ARC developer guide,
//!   "Quotas for routing control",
//!   <https://docs.aws.amazon.com/r53recovery/latest/dg/routing-control.quotas.html>; the rate
//!   is kept by [`super::limits::RateLimits`]).

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;

use aws_sdk_route53recoverycluster::Client as ClusterClient;
use aws_sdk_route53recoverycluster::types::{RoutingControlState, UpdateRoutingControlStateEntry};
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

use super::aws::{ARC_CONFIG_REGION, aws_error};
use super::{Action, ActionError, AwsFailure, Finding, Observation, Outcome, StepContext};
use crate::catalog::{self, ActionSpec, Service};
use crate::runbook::regions;

/// The SDK's service names, for errors.
const CLUSTER_SERVICE: &str = "route53-recovery-cluster";
const CONFIG_SERVICE: &str = "route53-recovery-control-config";

/// "Number of routing controls per UpdateRoutingControlStates operation call: 10".
const MAX_STATES_PER_CALL: usize = 10;

pub(super) fn all() -> Vec<Arc<dyn Action>> {
    vec![
        Arc::new(SetRoutingControls),
        Arc::new(AssertRoutingControls),
    ]
}

// ------------------------------------------------------------------------------ parameters

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
enum EndpointSource {
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
fn endpoint_text(e: &Endpoint) -> String {
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

/// The wanted state of each routing control, as the step names it (ARN or name).
fn wanted(ctx: &StepContext) -> Result<Vec<(String, RoutingControlState)>, ActionError> {
    let map = ctx.params.str_map("states")?;
    if map.is_empty() {
        return Err(ActionError::Invalid {
            message: "parameter `states` names no routing control".into(),
            hint: "write `states: { ROUTING_CONTROL_ARN_OR_NAME: On, ... }`".into(),
        });
    }
    if map.len() > MAX_STATES_PER_CALL {
        return Err(ActionError::Invalid {
            message: format!(
                "parameter `states` names {} routing controls; ARC sets at most \
                 {MAX_STATES_PER_CALL} in one UpdateRoutingControlStates call",
                map.len()
            ),
            hint: "split the switch over several steps (ARC developer guide, \"Quotas for \
                   routing control\")"
                .into(),
        });
    }
    map.into_iter()
        .map(|(k, v)| {
            let state = match v.to_ascii_lowercase().as_str() {
                "on" => RoutingControlState::On,
                "off" => RoutingControlState::Off,
                _ => {
                    return Err(ActionError::Invalid {
                        message: format!(
                            "routing control `{k}` must be set to `On` or `Off`, not `{v}`"
                        ),
                        hint: "write the state wanted, `On` or `Off`; drillbook never toggles"
                            .into(),
                    });
                }
            };
            Ok((k, state))
        })
        .collect()
}

fn state_str(s: &RoutingControlState) -> &str {
    s.as_str()
}

// ------------------------------------------------------------------------------ endpoints

/// The cluster's endpoints: the step's, else DescribeCluster's (in us-west-2).
async fn endpoints(ctx: &StepContext) -> Result<(Vec<Endpoint>, EndpointSource), ActionError> {
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

/// Why an endpoint was passed over.
#[derive(Debug, Clone)]
struct PassedOver {
    endpoint: Endpoint,
    why: String,
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
async fn on_first_answering<T, F, Fut>(
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

// ------------------------------------------------------------------------------ reading

/// One routing control as read at an endpoint.
#[derive(Debug, Clone)]
struct Control {
    /// As the step names it (ARN or name).
    key: String,
    arn: String,
    name: String,
    current: RoutingControlState,
    want: RoutingControlState,
}

/// What an endpoint said about the wanted routing controls.
#[derive(Debug, Clone, Default)]
struct Read {
    controls: Vec<Control>,
    findings: Vec<Finding>,
}

impl Read {
    fn to_change(&self) -> Vec<&Control> {
        self.controls
            .iter()
            .filter(|c| c.current != c.want)
            .collect()
    }

    /// `key=State,...` as read.
    fn states(&self) -> String {
        self.controls
            .iter()
            .map(|c| format!("{}={}", c.key, state_str(&c.current)))
            .collect::<Vec<_>>()
            .join(",")
    }

    fn facts(&self) -> serde_json::Value {
        self.controls
            .iter()
            .map(|c| {
                (
                    c.key.clone(),
                    serde_json::json!({
                        "arn": c.arn,
                        "name": c.name,
                        "state": state_str(&c.current),
                        "wanted": state_str(&c.want),
                    }),
                )
            })
            .collect::<serde_json::Map<_, _>>()
            .into()
    }
}

fn is_arn(key: &str) -> bool {
    key.starts_with("arn:")
}

/// Names → (ARN, control panel name) through the data plane's ListRoutingControls.
async fn list_controls(
    client: &ClusterClient,
    region: &str,
) -> Result<BTreeMap<String, Vec<(String, String)>>, ActionError> {
    let mut by_name: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
    let mut token: Option<String> = None;
    loop {
        let out = client
            .list_routing_controls()
            .set_next_token(token.clone())
            .send()
            .await
            .map_err(|e| aws_error(CLUSTER_SERVICE, "ListRoutingControls", region, e))?;
        for rc in out.routing_controls() {
            if let (Some(name), Some(arn)) = (rc.routing_control_name(), rc.routing_control_arn()) {
                by_name.entry(name.to_string()).or_default().push((
                    arn.to_string(),
                    rc.control_panel_name().unwrap_or_default().to_string(),
                ));
            }
        }
        match out.next_token() {
            Some(t) if !t.is_empty() && token.as_deref() != Some(t) => token = Some(t.to_string()),
            _ => break,
        }
    }
    Ok(by_name)
}

/// Resolves names and reads every wanted routing control's state at one endpoint.
async fn read_states(
    client: &ClusterClient,
    ep: &Endpoint,
    want: &[(String, RoutingControlState)],
) -> Result<Read, ActionError> {
    let mut read = Read::default();
    let names = if want.iter().any(|(k, _)| !is_arn(k)) {
        Some(list_controls(client, &ep.region).await?)
    } else {
        None
    };
    for (key, state) in want {
        let arn = if is_arn(key) {
            key.clone()
        } else {
            let found = names
                .as_ref()
                .and_then(|n| n.get(key))
                .cloned()
                .unwrap_or_default();
            match found.as_slice() {
                [(arn, _)] => arn.clone(),
                [] => {
                    read.findings.push(Finding {
                        message: format!("no routing control named `{key}` in the cluster"),
                        hint: "check the name (ListRoutingControls at a cluster endpoint lists \
                               them), or give its ARN"
                            .into(),
                    });
                    continue;
                }
                several => {
                    read.findings.push(Finding {
                        message: format!(
                            "routing control name `{key}` is in {} control panels ({})",
                            several.len(),
                            several
                                .iter()
                                .map(|(_, p)| p.as_str())
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                        hint: "names are unique only within a control panel; give the routing \
                               control's ARN"
                            .into(),
                    });
                    continue;
                }
            }
        };
        match client
            .get_routing_control_state()
            .routing_control_arn(&arn)
            .send()
            .await
        {
            Ok(out) => read.controls.push(Control {
                key: key.clone(),
                name: out.routing_control_name().unwrap_or(key).to_string(),
                arn,
                current: out.routing_control_state().clone(),
                want: state.clone(),
            }),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|se| se.is_resource_not_found_exception()) =>
            {
                read.findings.push(Finding {
                    message: format!("routing control `{key}` is not in this cluster"),
                    hint: "check the routing control's ARN and the step's `cluster`/`endpoints`"
                        .into(),
                });
            }
            Err(e) => {
                return Err(aws_error(
                    CLUSTER_SERVICE,
                    "GetRoutingControlState",
                    &ep.region,
                    e,
                ));
            }
        }
    }
    Ok(read)
}

/// Reads the wanted controls through the first endpoint that answers.
async fn observe_states(
    ctx: &StepContext,
    want: &[(String, RoutingControlState)],
    first: Option<&str>,
) -> Result<
    (
        Vec<Endpoint>,
        EndpointSource,
        Endpoint,
        Read,
        Vec<PassedOver>,
    ),
    ActionError,
> {
    let (eps, source) = endpoints(ctx).await?;
    let (ep, read, passed) = on_first_answering(
        ctx,
        &eps,
        first,
        "GetRoutingControlState",
        |c, ep| async move { read_states(&c, &ep, want).await },
    )
    .await?;
    Ok((eps, source, ep, read, passed))
}

/// The observation shared by both actions.
fn observation(
    eps: &[Endpoint],
    source: EndpointSource,
    ep: &Endpoint,
    read: &Read,
    passed: &[PassedOver],
) -> Observation {
    let mut facts = BTreeMap::new();
    facts.insert("endpoint".to_string(), serde_json::json!(ep.url));
    facts.insert("endpoint_region".to_string(), serde_json::json!(ep.region));
    facts.insert(
        "cluster_endpoints".to_string(),
        serde_json::json!(eps.iter().map(endpoint_text).collect::<Vec<_>>()),
    );
    facts.insert(
        "endpoints_from".to_string(),
        serde_json::json!(match source {
            EndpointSource::Runbook => "runbook",
            EndpointSource::DescribeCluster => "DescribeCluster",
        }),
    );
    if !passed.is_empty() {
        facts.insert(
            "endpoints_passed_over".to_string(),
            serde_json::json!(
                passed
                    .iter()
                    .map(|p| format!("{}: {}", p.endpoint.region, p.why))
                    .collect::<Vec<_>>()
            ),
        );
    }
    facts.insert("routing_controls".to_string(), read.facts());
    let mut summary = format!(
        "routing controls {} (read at the {} cluster endpoint)",
        read.controls
            .iter()
            .map(|c| format!("`{}` {}", c.key, state_str(&c.current)))
            .collect::<Vec<_>>()
            .join(", "),
        ep.region
    );
    if !passed.is_empty() {
        summary.push_str(&format!(
            "; passed over: {}",
            passed
                .iter()
                .map(|p| p.endpoint.region.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    if source == EndpointSource::DescribeCluster {
        summary.push_str(&format!(
            "; the endpoints came from DescribeCluster ({ARC_CONFIG_REGION}, control plane): \
             paste them into the step so the switch needs none: endpoints: [{}]",
            eps.iter().map(endpoint_text).collect::<Vec<_>>().join(", ")
        ));
    }
    let mut outputs = BTreeMap::new();
    outputs.insert("endpoint".to_string(), ep.url.clone());
    outputs.insert("endpoint_region".to_string(), ep.region.clone());
    outputs.insert("states".to_string(), read.states());
    Observation {
        summary,
        facts,
        findings: read.findings.clone(),
        changes: vec![],
        outputs,
    }
}

/// The change line: one transaction, every wanted state.
fn change_line(read: &Read) -> String {
    format!(
        "UpdateRoutingControlStates (one transaction): {}",
        read.controls
            .iter()
            .map(|c| if c.current == c.want {
                format!("`{}` {} (already)", c.key, state_str(&c.want))
            } else {
                format!(
                    "`{}` {} -> {}",
                    c.key,
                    state_str(&c.current),
                    state_str(&c.want)
                )
            })
            .collect::<Vec<_>>()
            .join(", ")
    )
}

// ------------------------------------------------------------------------------ safety rules

/// The name of the safety rule a ConflictException names by its `resourceId`, from
/// DescribeSafetyRule (control plane, us-west-2, best effort: this runs only once the switch
/// has been refused for good), else none.
async fn safety_rule_name(ctx: &StepContext, arn: &str) -> Option<String> {
    if arn.is_empty() || ctx.aws.is_impaired(ARC_CONFIG_REGION, Service::Arc) {
        return None;
    }
    let out = ctx
        .aws
        .arc_config()
        .describe_safety_rule()
        .safety_rule_arn(arn)
        .send()
        .await
        .ok()?;
    out.assertion_rule()
        .and_then(|r| r.name())
        .or_else(|| out.gating_rule().and_then(|r| r.name()))
        .map(str::to_string)
}

/// A safety rule's refusal, as a precondition finding (not retried).
/// How long a ConflictException is retried before the step fails (`conflict_retry`).
const CONFLICT_RETRY: std::time::Duration = std::time::Duration::from_secs(15);

/// A ConflictException, as the service model shapes it.
struct Conflict {
    resource_id: String,
    message: String,
}

async fn refusal(ctx: &StepContext, conflict: &Conflict, read: &Read, tries: u32) -> ActionError {
    let arn = if conflict.resource_id.contains("safetyrule") {
        conflict.resource_id.as_str()
    } else {
        ""
    };
    let message = format!(
        "{} (ConflictException, {tries} tr{} over the retry window)",
        conflict.message,
        if tries == 1 { "y" } else { "ies" }
    );
    let name = safety_rule_name(ctx, arn).await;
    let rule = match (&name, arn) {
        (Some(n), "") => format!("safety rule `{n}`"),
        (Some(n), a) => format!("safety rule `{n}` ({a})"),
        (None, "") => "a safety rule".to_string(),
        (None, a) => format!("safety rule {a}"),
    };
    let wanted = read
        .controls
        .iter()
        .map(|c| format!("`{}` {}", c.key, state_str(&c.want)))
        .collect::<Vec<_>>()
        .join(", ");
    ActionError::Precondition {
        findings: vec![Finding {
            message: format!(
                "{rule} refused the routing control states {wanted}: {message}; nothing changed"
            ),
            hint: format!(
                "set states that keep the rule (turn the secondary On in the same step that turns \
                 the primary Off); to break glass on purpose, add the rule's ARN to \
                 `safety_rules_to_override:`{}",
                if arn.is_empty() {
                    String::new()
                } else {
                    format!(" (`{arn}`)")
                }
            ),
        }],
    }
}

// ------------------------------------------------------------------------------ arc.set_routing_controls

pub(crate) struct SetRoutingControls;

#[async_trait::async_trait]
impl Action for SetRoutingControls {
    fn spec(&self) -> &'static ActionSpec {
        catalog::lookup("arc.set_routing_controls")
            .expect("arc.set_routing_controls is in the catalogue")
    }

    async fn observe(&self, ctx: &StepContext) -> Result<Observation, ActionError> {
        let want = wanted(ctx)?;
        let (eps, source, ep, read, passed) = observe_states(ctx, &want, None).await?;
        let mut obs = observation(&eps, source, &ep, &read, &passed);
        if obs.findings.is_empty() && !read.to_change().is_empty() {
            obs.changes.push(change_line(&read));
            // `endpoint` is known only once a cluster endpoint has taken the update.
            obs.outputs.clear();
        }
        Ok(obs)
    }

    /// At the first endpoint that answers: read the states again, and when any differs, set
    /// every wanted state in one UpdateRoutingControlStates transaction. A state already set
    /// means no call (a resumed or repeated step changes nothing twice).
    async fn apply(&self, ctx: &StepContext, _: &Observation) -> Result<Outcome, ActionError> {
        let want = wanted(ctx)?;
        let overrides = ctx.params.str_list("safety_rules_to_override")?;
        let (eps, _) = endpoints(ctx).await?;
        let want = &want;
        let overrides = &overrides;
        // ConflictException means "try again" (Routing Control API reference, errors): a
        // safety rule's WaitPeriodMs ("an evaluation period ... during which any request
        // against the target routing controls will fail", 5000 ms by default) refuses updates
        // for a while after a change. So a refusal is retried with backoff for up to
        // `conflict_retry` (default 15 s: three default wait periods), and only one that
        // persists names the rule and fails the step.
        let retry_for = ctx
            .params
            .opt_str("conflict_retry")?
            .map(|d| {
                crate::duration::parse_duration(&d).map_err(|e| ActionError::Invalid {
                    message: format!("`conflict_retry: {d}`: {e}"),
                    hint: "write a duration such as `15s`".into(),
                })
            })
            .transpose()?
            .unwrap_or(CONFLICT_RETRY);
        let deadline = tokio::time::Instant::now() + retry_for;
        let mut delay = std::time::Duration::from_millis(250);
        let mut conflicts = 0u32;
        let (ep, (read, changed), passed) = loop {
            let (ep, outcome, passed) = on_first_answering(
                ctx,
                &eps,
                None,
                "UpdateRoutingControlStates",
                |c, ep| async move {
                    let read = read_states(&c, &ep, want).await?;
                    if !read.findings.is_empty() {
                        return Err(ActionError::Precondition {
                            findings: read.findings.clone(),
                        });
                    }
                    if read.to_change().is_empty() {
                        return Ok(Ok((read, false)));
                    }
                    let mut req = c.update_routing_control_states();
                    for ctl in &read.controls {
                        req = req.update_routing_control_state_entries(
                            UpdateRoutingControlStateEntry::builder()
                                .routing_control_arn(&ctl.arn)
                                .routing_control_state(ctl.want.clone())
                                .build()
                                .map_err(|e| ActionError::Invalid {
                                    message: format!("routing control `{}`: {e}", ctl.key),
                                    hint: "check the step's `states:`".into(),
                                })?,
                        );
                    }
                    for o in overrides {
                        req = req.safety_rules_to_override(o);
                    }
                    match req.send().await {
                        Ok(_) => Ok(Ok((read, true))),
                        Err(e) => {
                            // Read by the error's code and its `resourceId` (the service
                            // model's ConflictException shape), never by its message text.
                            let conflict = e.as_service_error().and_then(|se| match se {
                                aws_sdk_route53recoverycluster::operation::update_routing_control_states::UpdateRoutingControlStatesError::ConflictException(c) => Some(Conflict {
                                    resource_id: c.resource_id().to_string(),
                                    message: c.message().to_string(),
                                }),
                                _ if se.code() == Some("ConflictException") => Some(Conflict {
                                    resource_id: String::new(),
                                    message: se.message().unwrap_or_default().to_string(),
                                }),
                                _ => None,
                            });
                            match conflict {
                                Some(c) => Ok(Err((c, read))),
                                None => Err(aws_error(
                                    CLUSTER_SERVICE,
                                    "UpdateRoutingControlStates",
                                    &ep.region,
                                    e,
                                )),
                            }
                        }
                    }
                },
            )
            .await?;
            match outcome {
                Ok(done) => break (ep, done, passed),
                Err((conflict, read)) => {
                    conflicts += 1;
                    // At least one retry, however slow the first attempt was.
                    if conflicts > 1 && tokio::time::Instant::now() + delay > deadline {
                        return Err(refusal(ctx, &conflict, &read, conflicts).await);
                    }
                    tokio::time::sleep(delay).await;
                    ctx.waits.add(delay);
                    delay = (delay * 2).min(std::time::Duration::from_secs(2));
                }
            }
        };
        let mut summary = if changed {
            format!(
                "routing controls set at the {} cluster endpoint: {}",
                ep.region,
                read.controls
                    .iter()
                    .map(|c| format!("`{}` {}", c.key, state_str(&c.want)))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        } else {
            format!(
                "routing controls already {} (read at the {} cluster endpoint)",
                read.controls
                    .iter()
                    .map(|c| format!("`{}` {}", c.key, state_str(&c.want)))
                    .collect::<Vec<_>>()
                    .join(", "),
                ep.region
            )
        };
        if !passed.is_empty() {
            summary.push_str(&format!(
                "; passed over: {}",
                passed
                    .iter()
                    .map(|p| p.endpoint.region.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        let mut outputs = BTreeMap::new();
        outputs.insert("endpoint".to_string(), ep.url.clone());
        outputs.insert("endpoint_region".to_string(), ep.region.clone());
        outputs.insert(
            "states".to_string(),
            read.controls
                .iter()
                .map(|c| format!("{}={}", c.key, state_str(&c.want)))
                .collect::<Vec<_>>()
                .join(","),
        );
        Ok(Outcome {
            summary,
            changes: if changed {
                vec![change_line(&read)]
            } else {
                vec![]
            },
            outputs,
        })
    }

    /// Reads every state back (GetRoutingControlState), first at the endpoint that took the
    /// update, and fails unless each is the wanted one.
    async fn verify(&self, ctx: &StepContext, outcome: &Outcome) -> Result<(), ActionError> {
        let want = wanted(ctx)?;
        let first = outcome.outputs.get("endpoint").map(String::as_str);
        let (_, _, ep, read, _) = observe_states(ctx, &want, first).await?;
        if !read.findings.is_empty() {
            return Err(ActionError::Precondition {
                findings: read.findings,
            });
        }
        let wrong = read.to_change();
        if wrong.is_empty() {
            return Ok(());
        }
        Err(ActionError::Verification {
            message: format!(
                "read back at the {} cluster endpoint: {}",
                ep.region,
                wrong
                    .iter()
                    .map(|c| format!(
                        "`{}` is {}, not {}",
                        c.key,
                        state_str(&c.current),
                        state_str(&c.want)
                    ))
                    .collect::<Vec<_>>()
                    .join("; ")
            ),
            hint: "another client may have changed them; run the step again (it sets the wanted \
                   states, it never toggles)"
                .into(),
        })
    }
}

// ------------------------------------------------------------------------------ arc.assert_routing_controls

pub(crate) struct AssertRoutingControls;

#[async_trait::async_trait]
impl Action for AssertRoutingControls {
    fn spec(&self) -> &'static ActionSpec {
        catalog::lookup("arc.assert_routing_controls")
            .expect("arc.assert_routing_controls is in the catalogue")
    }

    async fn observe(&self, ctx: &StepContext) -> Result<Observation, ActionError> {
        let want = wanted(ctx)?;
        let (eps, source, ep, read, passed) = observe_states(ctx, &want, None).await?;
        let mut obs = observation(&eps, source, &ep, &read, &passed);
        for c in read.to_change() {
            obs.findings.push(Finding {
                message: format!(
                    "routing control `{}` is {}, not {}",
                    c.key,
                    state_str(&c.current),
                    state_str(&c.want)
                ),
                hint: "set it with `arc.set_routing_controls`".into(),
            });
        }
        Ok(obs)
    }

    async fn verify(&self, _: &StepContext, _: &Outcome) -> Result<(), ActionError> {
        Ok(())
    }
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

    #[test]
    fn a_conflict_without_a_rule_arn_names_no_rule() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let aws = Arc::new(super::super::aws::Aws::from_config(
            aws_config::SdkConfig::builder()
                .behavior_version(aws_config::BehaviorVersion::latest())
                .build(),
            Default::default(),
        ));
        let ctx = StepContext {
            run_id: "r".into(),
            step_id: "s".into(),
            region: None,
            params: Default::default(),
            objectives: Default::default(),
            role_arn: None,
            aws,
            waits: Default::default(),
            earlier: None,
        };
        // No rule ARN: nothing to look up, and the message is never parsed for a name.
        assert_eq!(rt.block_on(safety_rule_name(&ctx, "")), None);
    }
}
