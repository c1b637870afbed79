//! Routing controls: the states the step wants, and the controls and states read at an
//! endpoint (by ARN or by name, through the data plane's ListRoutingControls).

use std::collections::BTreeMap;

use aws_sdk_route53recoverycluster::Client as ClusterClient;
use aws_sdk_route53recoverycluster::types::RoutingControlState;

use super::endpoints::{
    CLUSTER_SERVICE, Endpoint, EndpointSource, PassedOver, endpoint_text, endpoints,
    on_first_answering, passed_over_note,
};
use crate::actions::aws::{ARC_CONFIG_REGION, aws_error};
use crate::actions::{ActionError, Finding, Observation, StepContext};

/// "Number of routing controls per UpdateRoutingControlStates operation call: 10".
const MAX_STATES_PER_CALL: usize = 10;

/// The wanted state of each routing control, as the step names it (ARN or name).
pub(super) fn wanted(ctx: &StepContext) -> Result<Vec<(String, RoutingControlState)>, ActionError> {
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

pub(super) fn state_str(s: &RoutingControlState) -> &str {
    s.as_str()
}

/// One routing control as read at an endpoint.
#[derive(Debug, Clone)]
pub(super) struct Control {
    /// As the step names it (ARN or name).
    pub(super) key: String,
    pub(super) arn: String,
    pub(super) name: String,
    pub(super) current: RoutingControlState,
    pub(super) want: RoutingControlState,
}

/// What an endpoint said about the wanted routing controls.
#[derive(Debug, Clone, Default)]
pub(super) struct Read {
    pub(super) controls: Vec<Control>,
    pub(super) findings: Vec<Finding>,
}

impl Read {
    pub(super) fn to_change(&self) -> Vec<&Control> {
        self.controls
            .iter()
            .filter(|c| c.current != c.want)
            .collect()
    }

    /// `key=State,...` as read.
    pub(super) fn states(&self) -> String {
        self.controls
            .iter()
            .map(|c| format!("{}={}", c.key, state_str(&c.current)))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// `` `key` State, ...`` for a summary: each control with the state `state` picks.
    pub(super) fn listing(&self, state: impl Fn(&Control) -> &RoutingControlState) -> String {
        self.controls
            .iter()
            .map(|c| format!("`{}` {}", c.key, state_str(state(c))))
            .collect::<Vec<_>>()
            .join(", ")
    }

    pub(super) fn facts(&self) -> serde_json::Value {
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
pub(super) async fn read_states(
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
pub(super) async fn observe_states(
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
pub(super) fn observation(
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
        read.listing(|c| &c.current),
        ep.region
    );
    summary.push_str(&passed_over_note(passed));
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
pub(super) fn change_line(read: &Read) -> String {
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
