//! Which Regions and global control planes each step needs, and which required recovery steps a
//! lost Region would take away: a static check of the path to recovery (Well-Architected
//! REL11-BP04, "Rely on the data plane and not the control plane during recovery"; the AWS
//! fault-isolation whitepaper's static stability).
//!
//! The catalogue says where each action calls ([`ControlPlane`]): the step's Region, Route 53's
//! control plane in us-east-1, the KMS key's current primary Region (UpdatePrimaryRegion), or a
//! data plane served from several Regions (ARC's cluster endpoints, any one of which will do;
//! without a local list of them, DescribeCluster on ARC's configuration API in us-west-2).

use serde::Serialize;

use crate::catalog::{self, ControlPlane};
use crate::runbook::{OnFailure, Runbook, Step};

/// Route 53's control plane (ChangeResourceRecordSets, UpdateHealthCheck, GetChange,
/// TestDNSAnswer) is in us-east-1 (Route 53 developer guide; fault-isolation whitepaper,
/// "Global services").
pub const ROUTE53_CONTROL_PLANE: &str = "us-east-1";
/// ARC's configuration API (DescribeCluster) is in us-west-2 (ARC developer guide, "Routing
/// control components": "the control plane API ... in the US West (Oregon) Region").
pub const ARC_CONTROL_PLANE: &str = "us-west-2";

/// What one step needs to succeed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StepNeeds {
    pub step: String,
    pub action: String,
    /// Regions every one of which the step calls.
    pub regions: Vec<String>,
    /// Regions any one of which will do (ARC's cluster endpoints).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub any_of: Vec<String>,
    /// Global or out-of-Region control planes the step calls, named for people.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub control_planes: Vec<String>,
    /// Neither `optional` nor `on_failure: continue`, and not a `finally` step: recovery waits
    /// for it.
    pub required: bool,
    /// The lost Regions the step needs.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub lost: Vec<String>,
    /// A required step that needs a lost Region: the recovery would stop there.
    pub finding: bool,
}

/// Every step's needs against `lost` (Region names), main steps then `finally` steps.
pub fn needs(runbook: &Runbook, lost: &[String]) -> Vec<StepNeeds> {
    let main = runbook.steps.iter().map(|s| (s, true));
    let cleanup = runbook.finally.iter().map(|s| (s, false));
    main.chain(cleanup)
        .map(|(s, on_path)| step_needs(s, on_path, lost))
        .collect()
}

fn step_needs(step: &Step, on_path: bool, lost: &[String]) -> StepNeeds {
    let spec = catalog::lookup(&step.action);
    let mut regions: Vec<String> = Vec::new();
    let mut any_of: Vec<String> = Vec::new();
    let mut control_planes: Vec<String> = Vec::new();
    let mut primary_unknown = false;
    let own = step.region.clone();
    match spec.map(|a| a.control_plane) {
        None | Some(ControlPlane::None) => {}
        Some(ControlPlane::StepRegion) => regions.extend(own),
        Some(ControlPlane::UsEast1) => {
            regions.push(ROUTE53_CONTROL_PLANE.into());
            // IAM's one endpoint is signed for us-east-1, as Route 53's control plane is.
            let service = match spec.map(|a| a.service) {
                Some(catalog::Service::Iam) => "IAM",
                _ => "Route 53",
            };
            control_planes.push(format!("{service} control plane ({ROUTE53_CONTROL_PLANE})"));
        }
        Some(ControlPlane::KeyPrimaryRegion) => {
            regions.extend(own);
            control_planes
                .push("the KMS key's current primary Region (UpdatePrimaryRegion)".into());
            primary_unknown = true;
        }
        Some(ControlPlane::DataPlane) if step.action.starts_with("arc.") => {
            any_of = endpoint_regions(step);
            if any_of.is_empty() {
                regions.push(ARC_CONTROL_PLANE.into());
                control_planes.push(format!(
                    "ARC configuration API ({ARC_CONTROL_PLANE}, DescribeCluster: no `endpoints` listed)"
                ));
            }
        }
        Some(ControlPlane::DataPlane) => {}
        Some(ControlPlane::UrlRegion) => {
            let region_of = |key: &str| {
                step.with
                    .get(key)
                    .and_then(serde_json::Value::as_str)
                    .and_then(|v| {
                        let host = v.split_once("://").map_or(v, |(_, rest)| rest);
                        let host = host.split(['/', '?', '#']).next().unwrap_or_default();
                        let host = host.rsplit_once(':').map_or(host, |(h, _)| h);
                        catalog::execute_api_region(host)
                    })
            };
            regions.extend(region_of("url").or_else(|| region_of("host")));
        }
    }
    regions.sort();
    regions.dedup();
    let mut needed: Vec<String> = regions
        .iter()
        .filter(|r| lost.contains(r))
        .cloned()
        .collect();
    if !any_of.is_empty() && any_of.iter().all(|r| lost.contains(r)) {
        needed.extend(any_of.iter().cloned());
    }
    if primary_unknown {
        // Before the run nobody knows where the key is primary; when a Region is lost, it is
        // most likely the one the key was primary in.
        needed.extend(lost.iter().cloned());
    }
    needed.sort();
    needed.dedup();
    let optional = step
        .with
        .get("optional")
        .and_then(serde_json::Value::as_bool)
        .unwrap_or(false);
    let required = on_path && !optional && step.on_failure != OnFailure::Continue;
    StepNeeds {
        step: step.id.clone(),
        action: step.action.clone(),
        regions,
        any_of,
        control_planes,
        required,
        finding: required && !needed.is_empty(),
        lost: needed,
    }
}

/// The Regions of an ARC step's `endpoints` (`REGION=URL`, or a URL whose host names a
/// Region, as ARC's cluster endpoints do: `https://host.route53-recovery-cluster.REGION.amazonaws.com/v1`).
fn endpoint_regions(step: &Step) -> Vec<String> {
    let items: Vec<String> = match step.with.get("endpoints") {
        Some(serde_json::Value::String(s)) => s.split(',').map(str::to_string).collect(),
        Some(serde_json::Value::Array(a)) => a
            .iter()
            .filter_map(|v| v.as_str())
            .flat_map(|s| s.split(','))
            .map(str::to_string)
            .collect(),
        _ => vec![],
    };
    let mut out: Vec<String> = items
        .iter()
        .filter_map(|item| {
            let item = item.trim();
            if let Some((region, _)) = item.split_once('=') {
                return Some(region.trim().to_string());
            }
            item.split(['/', '.', ':'])
                .find(|part| crate::runbook::regions::is_known(part))
                .map(str::to_string)
        })
        .filter(|r| !r.is_empty())
        .collect();
    out.sort();
    out.dedup();
    out
}

/// The text block `plan --lost-region` prints.
pub fn text(needs: &[StepNeeds], lost: &[String]) -> String {
    let mut out = format!("\nWith {} lost:\n", lost.join(", "));
    let findings: Vec<&StepNeeds> = needs.iter().filter(|n| n.finding).collect();
    for n in needs {
        let mut what: Vec<String> = Vec::new();
        if !n.regions.is_empty() {
            what.push(format!("calls {}", n.regions.join(", ")));
        }
        if !n.any_of.is_empty() {
            what.push(format!("any one of {}", n.any_of.join(", ")));
        }
        what.extend(n.control_planes.iter().cloned());
        if what.is_empty() {
            continue;
        }
        let mark = if n.finding {
            "FINDING "
        } else if !n.lost.is_empty() {
            "not required "
        } else {
            ""
        };
        out.push_str(&format!(
            "  {mark}{} ({}): {}{}\n",
            n.step,
            n.action,
            what.join("; "),
            if n.lost.is_empty() {
                String::new()
            } else {
                format!(" -> needs lost {}", n.lost.join(", "))
            }
        ));
    }
    if findings.is_empty() {
        out.push_str("  no required recovery step needs a lost Region\n");
    } else {
        out.push_str(&format!(
            "  {} required recovery step{} need{} a lost Region: the recovery would stop there\n",
            findings.len(),
            if findings.len() == 1 { "" } else { "s" },
            if findings.len() == 1 { "s" } else { "" },
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn runbook(text: &str) -> Runbook {
        crate::runbook::load_str(std::path::Path::new("r.yaml"), text, &[])
            .unwrap()
            .runbook
    }

    #[test]
    fn required_steps_that_need_a_lost_region_are_findings() {
        let rb = runbook(
            "version: 1\nname: n\nsteps:\n  - id: in-lost\n    action: dynamodb.assert_pitr\n    region: ca-central-1\n    with: { table: t }\n  - id: opt\n    action: kms.promote\n    region: eu-west-1\n    with: { key: alias/k, optional: true }\n  - id: dns\n    action: route53.failover\n    with: { hosted_zone: z, record_name: r }\n  - id: arc\n    action: arc.set_routing_controls\n    with: { cluster: \"arn:aws:route53-recovery-control::111122223333:cluster/c\", states: { \"arn:aws:route53-recovery-control::111122223333:controlpanel/p/routingcontrol/r\": \"On\" }, endpoints: \"ca-central-1=https://a.example/v1,us-west-2=https://b.example/v1\" }\n",
        );
        let n = needs(&rb, &["ca-central-1".into()]);
        let by = |id: &str| n.iter().find(|x| x.step == id).unwrap();
        assert!(by("in-lost").finding);
        assert!(!by("opt").finding, "optional");
        assert_eq!(by("opt").lost, ["ca-central-1"]);
        assert!(!by("dns").finding);
        assert_eq!(by("dns").regions, [ROUTE53_CONTROL_PLANE]);
        assert!(!by("arc").finding, "one endpoint left");
        assert_eq!(by("arc").any_of, ["ca-central-1", "us-west-2"]);
        let n = needs(&rb, &["us-east-1".into()]);
        assert!(n.iter().find(|x| x.step == "dns").unwrap().finding);
        let n = needs(&rb, &["ca-central-1".into(), "us-west-2".into()]);
        assert!(n.iter().find(|x| x.step == "arc").unwrap().finding);
    }
}
