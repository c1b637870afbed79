//! The action catalogue: every action's name, parameters, outputs and planning facts.
//!
//! This is plain data, so the validator, the planner, `iam-policy` and the JSON Schema can use it
//! without touching AWS. One file per service holds its actions' entries (`dynamodb.rs`, ...;
//! `builtin.rs`: `wait` and `approval`; `net.rs`: `dns.resolve` and `http.probe`); the
//! implementations live in `src/actions/`, one file per service too. Adding an action to a
//! service takes two places: its entry in the service's file here, and its implementation in
//! `src/actions/SERVICE.rs` (listed in that file's `all()`); the docs' action table is
//! generated from here (`DRILLBOOK_UPDATE_DOCS=1 cargo test --lib the_docs_action_table`).

use std::time::Duration;

/// The service an action talks to; rate limits and IAM are per service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Service {
    Core,
    DynamoDb,
    Kms,
    ApiGateway,
    Route53,
    CloudWatch,
    /// Route 53 Application Recovery Controller (routing control).
    Arc,
    /// AWS Identity and Access Management (global; its endpoint is in us-east-1).
    Iam,
    /// Amazon RDS (DB instances; Regional).
    Rds,
    /// Amazon Elastic Container Service (services and their deployments).
    Ecs,
    /// AWS Systems Manager Parameter Store.
    Ssm,
    /// Amazon S3 (the Terraform state's versioned bucket).
    S3,
}

impl Service {
    pub fn name(self) -> &'static str {
        match self {
            Service::Core => "core",
            Service::DynamoDb => "dynamodb",
            Service::Kms => "kms",
            Service::ApiGateway => "apigateway",
            Service::Route53 => "route53",
            Service::CloudWatch => "cloudwatch",
            Service::Arc => "arc",
            Service::Iam => "iam",
            Service::Rds => "rds",
            Service::Ecs => "ecs",
            Service::Ssm => "ssm",
            Service::S3 => "s3",
        }
    }
}

/// A Region (optionally one service in it) that a game-day scenario makes unreachable.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Impairment {
    pub region: String,
    /// `None`: every service. Otherwise a service name as in the catalogue (`kms`, `dynamodb`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
}

/// Which Region's control plane an action calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ControlPlane {
    /// No AWS call (core actions).
    None,
    /// The step's `region`.
    StepRegion,
    /// A global service whose control plane is in us-east-1 (Route 53; IAM, whose one
    /// endpoint `iam.amazonaws.com` is signed for us-east-1).
    UsEast1,
    /// The Region where the KMS key is currently primary (`UpdatePrimaryRegion`).
    KeyPrimaryRegion,
    /// No control plane: a data plane served from several Regions, any of which will do (ARC
    /// routing control: a cluster's five Regional endpoints, tried in turn). ARC's own control
    /// plane (DescribeCluster, us-west-2) is called only when the step lists no `endpoints`.
    DataPlane,
    /// An application endpoint, not an AWS API: the Region of the `url` (else `host`) when it
    /// is an API Gateway invoke or Regional domain name (`ID.execute-api.REGION.amazonaws.com`),
    /// else none.
    UrlRegion,
}

/// The Region of an API Gateway invoke or Regional domain name
/// (`ID.execute-api.REGION.amazonaws.com`, API Gateway DG, "Invoke REST APIs in API Gateway").
pub fn execute_api_region(host: &str) -> Option<String> {
    let host = host.trim().trim_end_matches('.').to_ascii_lowercase();
    let rest = host.strip_suffix(".amazonaws.com")?;
    let (id, region) = rest.split_once(".execute-api.")?;
    let region_like = region.split('-').count() >= 3
        && region
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && region.ends_with(|c: char| c.is_ascii_digit());
    (!id.is_empty() && !id.contains('.') && region_like).then(|| region.to_string())
}

/// The type a parameter's value must have.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case", tag = "type", content = "values")]
pub enum ParamKind {
    String,
    /// A runbook duration such as `30s`.
    Duration,
    Integer,
    Bool,
    /// An AWS Region name such as `eu-west-1`.
    Region,
    /// A list of strings.
    StringList,
    /// A map of string to string.
    StringMap,
    /// One of the listed strings.
    Enum(&'static [&'static str]),
}

/// One parameter of an action (a key under the step's `with:`).
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct ParamSpec {
    pub name: &'static str,
    pub kind: ParamKind,
    pub required: bool,
    /// Default value as it would be written in YAML, when there is one.
    pub default: Option<&'static str>,
    pub help: &'static str,
    /// What the value names, for the least-privilege policy `drillbook iam-policy` writes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<Scope>,
}

/// What a parameter's value names, so `drillbook iam-policy` can scope the step's grants to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    /// A DynamoDB table, by name or ARN, in the step's Region.
    DynamoDbTable,
    /// A KMS key: its id or ARN (any key of the account in the Region), or `alias/NAME`.
    KmsKey,
    /// A CloudWatch alarm name, or a list of them.
    Alarm,
    /// An ARC cluster ARN.
    ArcCluster,
    /// The Region where the step creates a replica: its resources are granted there too.
    ReplicaRegion,
    /// An IAM role, by name or ARN.
    IamRole,
    /// A KMS key in the step's `replica_region` (the replica's customer managed key).
    ReplicaKmsKey,
    /// A Route 53 hosted zone: its id, or its name (the id is then found at run time).
    HostedZone,
    /// A Route 53 health check id.
    HealthCheck,
    /// An RDS DB instance identifier, in the step's Region.
    RdsInstance,
    /// An RDS DB cluster identifier, in the step's Region.
    RdsCluster,
}

/// A named output of an action, usable as `{{ steps.ID.NAME }}` by later steps.
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct OutputSpec {
    pub name: &'static str,
    pub help: &'static str,
}

/// Everything drillbook knows about an action before running it.
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct ActionSpec {
    pub name: &'static str,
    pub summary: &'static str,
    pub service: Service,
    pub params: &'static [ParamSpec],
    pub outputs: &'static [OutputSpec],
    /// Used by the planner when a step has no `estimate`.
    #[serde(serialize_with = "ser_duration")]
    pub default_estimate: Duration,
    /// A `Duration` parameter whose value is the step's estimate when the step has no
    /// `estimate` (a `wait` takes as long as it waits).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub estimate_param: Option<&'static str>,
    /// Whether `apply` changes anything. Non-mutating actions do the same in dry-run and execute.
    pub mutates: bool,
    /// Whether the step needs a `region`.
    pub needs_region: bool,
    /// IAM actions the implementation calls (for `drillbook iam-policy`).
    pub iam: &'static [&'static str],
    pub control_plane: ControlPlane,
}

fn ser_duration<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&crate::duration::format_duration(*d))
}

impl ActionSpec {
    pub fn param(&self, name: &str) -> Option<&'static ParamSpec> {
        self.params.iter().find(|p| p.name == name)
    }
    pub fn output(&self, name: &str) -> Option<&'static OutputSpec> {
        self.outputs.iter().find(|o| o.name == name)
    }
}

const fn p(
    name: &'static str,
    kind: ParamKind,
    required: bool,
    default: Option<&'static str>,
    help: &'static str,
) -> ParamSpec {
    ParamSpec {
        name,
        kind,
        required,
        default,
        help,
        scope: None,
    }
}

impl ParamSpec {
    /// The parameter, naming what `scope` says.
    const fn scoped(mut self, scope: Scope) -> ParamSpec {
        self.scope = Some(scope);
        self
    }
}

const fn o(name: &'static str, help: &'static str) -> OutputSpec {
    OutputSpec { name, help }
}

const fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

use ParamKind as K;
use Scope as S;

mod apigateway;
mod arc;
mod builtin;
mod cloudwatch;
mod dynamodb;
mod ecs;
mod iam;
mod kms;
mod net;
mod rds;
mod route53;
mod s3;
mod ssm;

/// Every action drillbook knows, in a stable order: the services' tables one after another.
pub static CATALOG: std::sync::LazyLock<Vec<ActionSpec>> = std::sync::LazyLock::new(|| {
    [
        builtin::ACTIONS,
        dynamodb::ACTIONS,
        kms::ACTIONS,
        apigateway::ACTIONS,
        route53::ACTIONS,
        net::ACTIONS,
        arc::ACTIONS,
        iam::ACTIONS,
        cloudwatch::ACTIONS,
        ecs::ACTIONS,
        ssm::ACTIONS,
        rds::ACTIONS,
        s3::ACTIONS,
    ]
    .concat()
});

/// Looks an action up by name.
pub fn lookup(name: &str) -> Option<&'static ActionSpec> {
    CATALOG.iter().find(|a| a.name == name)
}

/// Names of every action, for did-you-mean suggestions and `--help`.
pub fn names() -> impl Iterator<Item = &'static str> {
    CATALOG.iter().map(|a| a.name)
}

/// The action table of docs/runbook-format.md (between its `actions:begin` and `actions:end`
/// markers), generated from [`CATALOG`]; a test keeps the document equal to it.
pub fn markdown_table() -> String {
    let mut o = String::from(
        "| action | what it does | changes AWS | parameters (**required**) | outputs |\n|---|---|---|---|---|\n",
    );
    for a in CATALOG.iter() {
        let params: Vec<String> = a
            .params
            .iter()
            .map(|p| {
                if p.required {
                    format!("**`{}`**", p.name)
                } else {
                    format!("`{}`", p.name)
                }
            })
            .collect();
        let outputs: Vec<String> = a.outputs.iter().map(|o| format!("`{}`", o.name)).collect();
        let cell = |v: Vec<String>| {
            if v.is_empty() {
                "-".to_string()
            } else {
                v.join(", ")
            }
        };
        o.push_str(&format!(
            "| `{}` | {} | {} | {} | {} |\n",
            a.name,
            a.summary.replace('|', "\\|"),
            if a.mutates { "yes" } else { "no" },
            cell(params),
            cell(outputs)
        ));
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_well_formed() {
        let mut seen = std::collections::BTreeSet::new();
        for a in CATALOG.iter() {
            assert!(seen.insert(a.name), "duplicate {}", a.name);
            let expected_prefix = match a.service {
                Service::Core => "",
                s => s.name(),
            };
            assert!(a.name.starts_with(expected_prefix), "{}", a.name);
            if a.mutates {
                assert!(
                    !a.iam.is_empty() || a.service == Service::Core,
                    "{}",
                    a.name
                );
            }
            for iam in a.iam {
                assert!(!iam.contains('*'), "{} has a wildcard IAM action", a.name);
            }
        }
    }

    /// The hand-written list of actions in the docs drifted from the catalogue before; the
    /// table is now generated. `DRILLBOOK_UPDATE_DOCS=1 cargo test --lib` rewrites it.
    #[test]
    fn the_docs_action_table_is_the_catalogue() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/runbook-format.md");
        let doc = std::fs::read_to_string(path).unwrap();
        let (begin, end) = ("<!-- actions:begin -->\n", "<!-- actions:end -->");
        let start = doc.find(begin).expect("the begin marker") + begin.len();
        let stop = doc.find(end).expect("the end marker");
        let table = super::markdown_table();
        if doc[start..stop] != table {
            if std::env::var_os("DRILLBOOK_UPDATE_DOCS").is_some() {
                std::fs::write(path, format!("{}{table}{}", &doc[..start], &doc[stop..])).unwrap();
            } else {
                panic!(
                    "docs/runbook-format.md's action table differs from the catalogue; rewrite it with `DRILLBOOK_UPDATE_DOCS=1 cargo test --lib the_docs_action_table`"
                );
            }
        }
    }
}
