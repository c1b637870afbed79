//! The least-privilege IAM policy a runbook needs, derived from the catalogue.
//!
//! One statement per service and Region, listing only the IAM actions of the actions the
//! runbook uses, scoped to the resources named in the steps where they are known (`{{ }}`
//! parts become `*`), never `*` actions. Route 53 is split by the resource type each IAM
//! action is authorized on (hosted zone, health check, change, none), and a KMS key named by
//! an alias is granted through the alias condition keys; where a resource is known only at run
//! time, a note says so (see [`policy_with_notes`]).

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Value, json};

use crate::catalog::{self, ActionSpec, Scope, Service};
use crate::runbook::Runbook;
use crate::template;

/// IAM actions and resources granted for one (service, Region).
type Grant = (BTreeSet<&'static str>, BTreeSet<String>);

/// Builds the policy document for `runbook`.
#[cfg(test)]
pub(crate) fn policy_for(runbook: &Runbook) -> Value {
    policy_with_notes(runbook).0
}

/// The policy document for `runbook`, and notes for the person who applies it: every grant
/// that is wider than the runbook's resources because a resource is known only at run time
/// (a hosted zone given by name, a key given by a template), and what to write instead.
pub(crate) fn policy_with_notes(runbook: &Runbook) -> (Value, Vec<String>) {
    let mut notes = BTreeSet::new();
    let policy = policy_noted(runbook, &mut notes);
    (policy, notes.into_iter().collect())
}

fn policy_noted(runbook: &Runbook, notes: &mut BTreeSet<String>) -> Value {
    let account = runbook
        .accounts
        .values()
        .next()
        .cloned()
        .unwrap_or_else(|| "*".to_string());
    let steps: Vec<&crate::runbook::Step> = runbook.steps.iter().chain(&runbook.finally).collect();
    let roles: std::collections::BTreeSet<&str> = steps
        .iter()
        .filter_map(|s| s.role.as_ref().map(|r| r.arn.as_str()))
        .collect();
    if roles.is_empty() {
        return policy_of(steps.iter().copied(), &account, notes);
    }
    // Steps with a role run as the role: each role needs its steps' permissions, in its own
    // account; the caller needs its own steps' permissions and to assume the roles (with
    // session tags: drillbook tags each session with the run and the step).
    let mut caller = policy_of(
        steps.iter().copied().filter(|s| s.role.is_none()),
        &account,
        notes,
    );
    if let Some(list) = caller["Statement"].as_array_mut() {
        list.push(json!({
            "Sid": "AssumeRunbookRoles",
            "Effect": "Allow",
            "Action": ["sts:AssumeRole", "sts:TagSession"],
            "Resource": roles.iter().collect::<Vec<_>>(),
        }));
    }
    let per_role: serde_json::Map<String, Value> = roles
        .iter()
        .map(|arn| {
            let role = steps
                .iter()
                .find_map(|s| s.role.as_ref().filter(|r| r.arn == *arn))
                .expect("a step names the role");
            let mine = steps
                .iter()
                .copied()
                .filter(|s| s.role.as_ref().is_some_and(|r| r.arn == *arn));
            let mut trust = json!({
                "Effect": "Allow",
                "Principal": { "AWS": "CALLER_PRINCIPAL_ARN" },
                "Action": ["sts:AssumeRole", "sts:TagSession"],
            });
            if let Some(x) = &role.external_id {
                trust["Condition"] = json!({ "StringEquals": { "sts:ExternalId": x } });
            }
            (
                arn.to_string(),
                json!({
                    "account": role.account(),
                    "policy": policy_of(mine, role.account(), notes),
                    "trust_policy_statement": trust,
                }),
            )
        })
        .collect();
    json!({ "caller": caller, "roles": per_role })
}

/// The identity policy for `steps`, their resources in `account`.
fn policy_of<'s>(
    steps: impl Iterator<Item = &'s crate::runbook::Step>,
    account: &str,
    notes: &mut BTreeSet<String>,
) -> Value {
    let account = account.to_string();
    let mut groups: BTreeMap<(Service, String), Grant> = BTreeMap::new();
    // Replica Region -> the replica's customer managed keys (`dynamodb.add_replica`'s `kms_key`).
    let mut replica_kms: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    // KMS keys named by an alias, per statement (service Region): (Regions the key is called
    // in, "*" when unknown before the run; the aliases).
    let mut by_alias: BTreeMap<String, (BTreeSet<String>, BTreeSet<String>)> = BTreeMap::new();
    for step in steps {
        let Some(spec) = catalog::lookup(&step.action) else {
            continue;
        };
        if spec.service == Service::Core {
            continue;
        }
        let region = match spec.service {
            // Route 53, ARC and IAM resources are global (their ARNs name no Region).
            Service::Route53 | Service::Arc | Service::Iam => "global".to_string(),
            _ => step.region.clone().unwrap_or_else(|| "*".to_string()),
        };
        let entry = groups.entry((spec.service, region.clone())).or_default();
        entry.0.extend(spec.iam.iter().copied());
        match spec.service {
            Service::Kms => {
                // Calls outside the step's Region: UpdatePrimaryRegion goes to the key's
                // current primary (unknown before the run). A multi-Region key has the same
                // key id in every Region (AWS KMS developer guide, "Multi-Region keys in AWS
                // KMS": related multi-Region keys share their key id and key material), so a
                // key given by id or ARN is granted in any Region by its id.
                let anywhere = spec.control_plane == catalog::ControlPlane::KeyPrimaryRegion;
                for key in scoped(spec, &step.with, Scope::KmsKey) {
                    match kms_key(&key, &region, &account, anywhere) {
                        KmsKey::Arns(arns) => entry.1.extend(arns),
                        KmsKey::Alias { alias, .. } => {
                            let (regions, aliases) = by_alias.entry(region.clone()).or_default();
                            regions.insert(if anywhere { "*".into() } else { region.clone() });
                            if anywhere {
                                notes.insert(format!(
                                    "the key `{alias}` is promoted: UpdatePrimaryRegion is \
                                     authorized on the key in its current primary Region, where \
                                     the alias must name the same key (aliases are per Region); \
                                     give the key's `mrk-` id or ARN to grant it by id instead"
                                ));
                            }
                            aliases.insert(alias);
                        }
                        KmsKey::AtRunTime(arn) => {
                            notes.insert(format!(
                                "step `{}` names its KMS key only at run time (`{key}`): the \
                                 statement grants {arn}; name the key (id, ARN or alias) to \
                                 scope it",
                                step.id
                            ));
                            entry.1.insert(arn);
                        }
                    }
                }
            }
            Service::Route53 => {
                for zone in scoped(spec, &step.with, Scope::HostedZone) {
                    entry.1.insert(hosted_zone_arn(&zone, &step.id, notes));
                }
                let checks = scoped(spec, &step.with, Scope::HealthCheck);
                if checks.is_empty() || checks.iter().any(|c| c.contains('*')) {
                    // The health check is found on the primary record at run time.
                    entry.1.insert("arn:aws:route53:::healthcheck/*".into());
                }
                for c in checks.iter().filter(|c| !c.contains('*')) {
                    entry.1.insert(format!("arn:aws:route53:::healthcheck/{c}"));
                }
                entry.1.insert("arn:aws:route53:::change/*".into());
            }
            _ => entry
                .1
                .extend(resources(spec, &step.with, &region, &account)),
        }
        // The new replica lives in `replica_region`: ReplicateKey creates the key there, and
        // adding a DynamoDB replica needs CreateTable, CreateTableReplica and the data-plane
        // actions on the replica table in that Region (AWS, "DynamoDB global tables
        // security": permissions in the destination Regions).
        for r in scoped(spec, &step.with, Scope::ReplicaRegion) {
            match spec.service {
                Service::Kms => {
                    // The replica: the same key id in `r` (any key there when the id is not
                    // known before the run), and the alias ReplicateKey's caller creates.
                    for key in scoped(spec, &step.with, Scope::KmsKey) {
                        match kms_key(&key, &r, &account, false) {
                            KmsKey::Arns(arns) => entry.1.extend(arns),
                            KmsKey::Alias { alias_arn, .. } => {
                                entry.1.insert(format!("arn:aws:kms:{r}:{account}:key/*"));
                                entry.1.insert(alias_arn);
                            }
                            KmsKey::AtRunTime(arn) => {
                                entry.1.insert(arn);
                            }
                        }
                    }
                }
                Service::DynamoDb => {
                    entry.0.insert("dynamodb:CreateTable");
                    entry.1.extend(resources(spec, &step.with, &r, &account));
                }
                _ => {}
            }
        }
        // A replica encrypted with a customer managed key: the key policy AWS documents for a
        // table's customer managed key lets the principal that uses the table call
        // "kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*",
        // "kms:DescribeKey" and "kms:CreateGrant", through DynamoDB in the key's Region
        // (`kms:ViaService` `dynamodb.REGION.amazonaws.com`) (AWS KMS developer guide, "How
        // Amazon DynamoDB uses AWS KMS", "Key policy for a customer managed key"). The wildcards are written out (Service
        // Authorization Reference, "Actions defined by AWS Key Management Service": ReEncrypt*
        // = ReEncryptFrom, ReEncryptTo; GenerateDataKey* of a symmetric key = GenerateDataKey,
        // GenerateDataKeyWithoutPlaintext). drillbook itself calls DescribeKey on the key to
        // verify the replica, so that one is granted without the condition.
        let replica_keys = scoped(spec, &step.with, Scope::ReplicaKmsKey);
        if !replica_keys.is_empty() {
            for r in scoped(spec, &step.with, Scope::ReplicaRegion) {
                let mut keys: BTreeSet<String> =
                    BTreeSet::from([format!("arn:aws:kms:{r}:{account}:key/*")]);
                for k in &replica_keys {
                    if k.starts_with("alias/") {
                        keys.insert(format!("arn:aws:kms:{r}:{account}:{k}"));
                    } else if k.starts_with("arn:") {
                        keys.insert(k.clone());
                    }
                }
                replica_kms.entry(r.clone()).or_default().extend(keys);
            }
        }
    }
    let sid_of = |parts: &[&str]| -> String {
        parts
            .join("-")
            .split(['-', '_'])
            .map(|w| {
                let mut c = w.chars();
                c.next()
                    .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                    .unwrap_or_default()
            })
            .collect()
    };
    let mut statements: Vec<Value> = vec![];
    for ((service, region), (actions, resources)) in groups {
        let sid = sid_of(&[service.name(), &region]);
        let actions: Vec<&str> = actions.into_iter().collect();
        match service {
            Service::Route53 => statements.extend(route53_statements(&actions, &resources)),
            Service::Kms => {
                if !resources.is_empty() {
                    statements.push(json!({
                        "Sid": sid,
                        "Effect": "Allow",
                        "Action": actions,
                        "Resource": resources.into_iter().collect::<Vec<_>>(),
                    }));
                }
                if let Some((regions, aliases)) = by_alias.get(&region) {
                    // AWS KMS developer guide, "Using aliases to control access to KMS keys"
                    // (kms:ResourceAliases): allows the operations on a key only while one of
                    // these aliases is associated with it, for every operation authorized on
                    // a key resource; a multi-valued key, so `ForAnyValue:`.
                    statements.push(json!({
                        "Sid": sid_of(&[service.name(), &region, "by-alias"]),
                        "Effect": "Allow",
                        "Action": actions,
                        // Any Region covers the step's own.
                        "Resource": if regions.contains("*") {
                            vec![format!("arn:aws:kms:*:{account}:key/*")]
                        } else {
                            regions
                                .iter()
                                .map(|r| format!("arn:aws:kms:{r}:{account}:key/*"))
                                .collect::<Vec<_>>()
                        },
                        "Condition": {
                            "ForAnyValue:StringEquals": {
                                "kms:ResourceAliases": aliases.iter().collect::<Vec<_>>(),
                            }
                        },
                    }));
                }
            }
            _ => statements.push(json!({
                "Sid": sid,
                "Effect": "Allow",
                "Action": actions,
                "Resource": resources.into_iter().collect::<Vec<_>>(),
            })),
        }
    }
    for (region, keys) in replica_kms {
        let sid = |what: &str| sid_of(&["DynamoDbReplicaKey", what, &region]);
        let keys: Vec<String> = keys.into_iter().collect();
        statements.push(json!({
            "Sid": sid("Describe"),
            "Effect": "Allow",
            "Action": ["kms:DescribeKey"],
            "Resource": keys,
        }));
        statements.push(json!({
            "Sid": sid("ViaDynamoDb"),
            "Effect": "Allow",
            "Action": REPLICA_KEY_ACTIONS,
            "Resource": keys,
            "Condition": { "StringEquals": { "kms:ViaService": format!("dynamodb.{region}.amazonaws.com") } },
        }));
    }
    json!({ "Version": "2012-10-17", "Statement": statements })
}

/// What DynamoDB does with a table's customer managed key on the principal's behalf (see
/// [`policy_of`]), wildcards written out.
const REPLICA_KEY_ACTIONS: &[&str] = &[
    "kms:CreateGrant",
    "kms:Decrypt",
    "kms:DescribeKey",
    "kms:Encrypt",
    "kms:GenerateDataKey",
    "kms:GenerateDataKeyWithoutPlaintext",
    "kms:ReEncryptFrom",
    "kms:ReEncryptTo",
];

/// A KMS key parameter, as IAM resources.
enum KmsKey {
    /// Key ARNs (a key given by id or ARN).
    Arns(Vec<String>),
    /// `alias/NAME`: the key is granted through the alias condition; the alias ARN itself is
    /// the resource of alias operations.
    Alias { alias: String, alias_arn: String },
    /// Known only at run time (a `{{ }}` value): every key of the Region.
    AtRunTime(String),
}

/// How `key` (an id, a key ARN, `alias/NAME`, an alias ARN, or a template as `*`) is
/// granted in `region`; `anywhere`: the call may go to any Region (the key's primary).
fn kms_key(key: &str, region: &str, account: &str, anywhere: bool) -> KmsKey {
    let in_region = if anywhere { "*" } else { region };
    if key.contains('*') {
        return KmsKey::AtRunTime(format!("arn:aws:kms:{in_region}:{account}:key/*"));
    }
    let alias = if let Some(name) = key.strip_prefix("alias/") {
        Some(format!("alias/{name}"))
    } else if key.starts_with("arn:") && key.contains(":alias/") {
        key.split_once(":alias/").map(|(_, n)| format!("alias/{n}"))
    } else {
        None
    };
    if let Some(alias) = alias {
        let alias_arn = format!("arn:aws:kms:{region}:{account}:{alias}");
        return KmsKey::Alias { alias, alias_arn };
    }
    let id = key.rsplit_once(":key/").map_or(key, |(_, id)| id);
    let arn_region = key
        .strip_prefix("arn:")
        .and_then(|k| k.split(':').nth(2))
        .filter(|r| !r.is_empty() && !anywhere)
        .unwrap_or(in_region);
    KmsKey::Arns(vec![format!("arn:aws:kms:{arn_region}:{account}:key/{id}")])
}

/// The hosted zone a step names, as an IAM resource: its ARN when the runbook gives its id;
/// given by name, the id is found at run time (ListHostedZonesByName), so every hosted zone
/// of the account, with a note saying so.
fn hosted_zone_arn(zone: &str, step: &str, notes: &mut BTreeSet<String>) -> String {
    if zone.contains('*') {
        notes.insert(format!(
            "step `{step}` names its hosted zone only at run time (`{zone}`): the Route 53 \
             statement grants every hosted zone (hostedzone/*); give the zone's id to scope it"
        ));
        return "arn:aws:route53:::hostedzone/*".into();
    }
    // Route 53 reads a value without a dot as a zone id (as the action does).
    if !zone.contains('.') {
        let id = zone.trim_start_matches("/hostedzone/");
        return format!("arn:aws:route53:::hostedzone/{id}");
    }
    notes.insert(format!(
        "the hosted zone `{zone}` is given by name: its id is known only at run time, so \
         the Route 53 statement grants every hosted zone (hostedzone/*); give `hosted_zone` \
         the zone's id (`aws route53 list-hosted-zones-by-name --dns-name {zone}`) to scope \
         it to that zone"
    ));
    "arn:aws:route53:::hostedzone/*".into()
}

/// The Route 53 statements: one per resource type its actions are authorized on (Service
/// Authorization Reference, "Actions, resources, and condition keys for Amazon Route 53":
/// ChangeResourceRecordSets, ListResourceRecordSets and GetHostedZone on `hostedzone`;
/// GetHealthCheck, GetHealthCheckStatus and UpdateHealthCheck on `healthcheck`; GetChange on
/// `change`; ListHostedZonesByName and TestDNSAnswer support no resource-level permissions),
/// so that no action that changes records is allowed on `*`.
fn route53_statements(actions: &[&str], resources: &BTreeSet<String>) -> Vec<Value> {
    let kinds: [(&str, &str, &[&str]); 3] = [
        (
            "Route53HostedZones",
            "arn:aws:route53:::hostedzone/",
            &[
                "route53:ChangeResourceRecordSets",
                "route53:GetHostedZone",
                "route53:ListResourceRecordSets",
            ],
        ),
        (
            "Route53HealthChecks",
            "arn:aws:route53:::healthcheck/",
            &[
                "route53:GetHealthCheck",
                "route53:GetHealthCheckStatus",
                "route53:UpdateHealthCheck",
            ],
        ),
        (
            "Route53Changes",
            "arn:aws:route53:::change/",
            &["route53:GetChange"],
        ),
    ];
    let mut out = vec![];
    for (sid, prefix, of_kind) in kinds {
        let mine: Vec<&str> = actions
            .iter()
            .copied()
            .filter(|a| of_kind.contains(a))
            .collect();
        let arns: Vec<&String> = resources.iter().filter(|r| r.starts_with(prefix)).collect();
        if !mine.is_empty() && !arns.is_empty() {
            out.push(json!({ "Sid": sid, "Effect": "Allow", "Action": mine, "Resource": arns }));
        }
    }
    let unscoped: Vec<&str> = actions
        .iter()
        .copied()
        .filter(|a| !kinds.iter().any(|(_, _, k)| k.contains(a)))
        .collect();
    if !unscoped.is_empty() {
        out.push(json!({
            "Sid": "Route53NoResourceLevelPermissions",
            "Effect": "Allow",
            "Action": unscoped,
            "Resource": "*",
        }));
    }
    out
}

/// A resource name with every `{{ ... }}` replaced by `*`.
fn wildcard(s: &str) -> String {
    match template::parse(s) {
        Ok(ps) if !ps.is_empty() => {
            let mut out = String::new();
            let mut last = 0;
            for p in ps {
                out.push_str(&s[last..p.start]);
                out.push('*');
                last = p.end;
            }
            out.push_str(&s[last..]);
            out
        }
        _ => s.to_string(),
    }
}

/// The values of the step's parameters that name `scope` (the catalogue says which), with
/// templates as `*`.
fn scoped(spec: &ActionSpec, with: &BTreeMap<String, Value>, scope: Scope) -> Vec<String> {
    spec.params
        .iter()
        .filter(|p| p.scope == Some(scope))
        .filter_map(|p| with.get(p.name))
        .flat_map(|v| match v {
            // A list may be one string: one item (as `Params::str_list` reads it).
            Value::String(s) => vec![wildcard(s)],
            Value::Array(list) => list
                .iter()
                .filter_map(Value::as_str)
                .map(wildcard)
                .collect(),
            _ => vec![],
        })
        .collect()
}

fn resources(
    spec: &ActionSpec,
    with: &BTreeMap<String, Value>,
    region: &str,
    account: &str,
) -> Vec<String> {
    match spec.service {
        Service::DynamoDb => scoped(spec, with, Scope::DynamoDbTable)
            .into_iter()
            .flat_map(|t| {
                let name = t.rsplit('/').next().unwrap_or(&t).to_string();
                let arn = format!("arn:aws:dynamodb:{region}:{account}:table/{name}");
                [arn.clone(), format!("{arn}/*")]
            })
            .collect(),
        // Granted per key and per resource type in `policy_of`.
        Service::Kms | Service::Route53 => vec![],
        Service::ApiGateway => vec![
            format!("arn:aws:apigateway:{region}::/restapis"),
            format!("arn:aws:apigateway:{region}::/restapis/*"),
            format!("arn:aws:apigateway:{region}::/domainnames"),
            format!("arn:aws:apigateway:{region}::/domainnames/*"),
        ],
        Service::CloudWatch => {
            let mut names = scoped(spec, with, Scope::Alarm);
            if names.is_empty() {
                names.push("*".into());
            }
            let mut r: Vec<String> = names
                .into_iter()
                .map(|n| format!("arn:aws:cloudwatch:{region}:{account}:alarm:{n}"))
                .collect();
            // PutMetricData supports no resource-level scoping (Service Authorization
            // Reference, "Actions, resources, and condition keys for Amazon CloudWatch").
            if spec.iam.contains(&"cloudwatch:PutMetricData") {
                r.push("*".into());
            }
            r
        }
        Service::Arc => {
            // Resource types from the Service Authorization Reference, "Actions, resources, and
            // condition keys for Amazon Route 53 Recovery Cluster" / "... Recovery Controls"
            // (https://docs.aws.amazon.com/service-authorization/latest/reference/list_route53-recovery-cluster.html):
            // GetRoutingControlState and UpdateRoutingControlState(s) take a `routingcontrol`,
            // DescribeCluster a `cluster`, DescribeSafetyRule a `safetyrule`;
            // ListRoutingControls supports no resource-level scoping.
            let mut r = vec![
                format!(
                    "arn:aws:route53-recovery-control::{account}:controlpanel/*/routingcontrol/*"
                ),
                format!("arn:aws:route53-recovery-control::{account}:controlpanel/*/safetyrule/*"),
                "*".to_string(),
            ];
            r.extend(scoped(spec, with, Scope::ArcCluster));
            r
        }
        // GetRole and SimulatePrincipalPolicy are scoped to the principal, a `role` here
        // (Service Authorization Reference, "Actions defined by AWS Identity and Access
        // Management").
        Service::Iam => scoped(spec, with, Scope::IamRole)
            .into_iter()
            .map(|r| {
                if r.starts_with("arn:") {
                    r
                } else {
                    format!("arn:aws:iam::{account}:role/{r}")
                }
            })
            .collect(),
        // DB instances and clusters by identifier (Service Authorization Reference, "Actions,
        // resources, and condition keys for Amazon RDS": resource types `db` and `cluster`).
        // RestoreDBInstanceToPointInTime also authorizes the groups it names (`og`, `pg`,
        // `subgrp`, `secgrp`), which are the source's, known only at run time.
        Service::Rds => {
            let mut r: Vec<String> = scoped(spec, with, Scope::RdsInstance)
                .into_iter()
                .map(|i| format!("arn:aws:rds:{region}:{account}:db:{i}"))
                .chain(
                    scoped(spec, with, Scope::RdsCluster)
                        .into_iter()
                        .map(|c| format!("arn:aws:rds:{region}:{account}:cluster:{c}")),
                )
                .collect();
            // A cluster's restore names the new cluster `target` and its writer `target-1`.
            if with.contains_key("cluster")
                && let Some(Value::String(t)) = with.get("target")
            {
                let t = wildcard(t);
                r.push(format!("arn:aws:rds:{region}:{account}:cluster:{t}"));
                r.push(format!("arn:aws:rds:{region}:{account}:db:{t}-1"));
            }
            // A global database (`global-cluster`, no Region in its ARN) and its member
            // clusters, which are in other Regions than the step's (same reference: resource
            // types of SwitchoverGlobalCluster and FailoverGlobalCluster).
            if let Some(Value::String(g)) = with.get("global_cluster") {
                r.push(format!(
                    "arn:aws:rds::{account}:global-cluster:{}",
                    wildcard(g)
                ));
                r.push(format!("arn:aws:rds:*:{account}:cluster:*"));
            }
            if spec.iam.contains(&"rds:RestoreDBInstanceToPointInTime") {
                for kind in ["og", "pg", "subgrp", "secgrp"] {
                    r.push(format!("arn:aws:rds:{region}:{account}:{kind}:*"));
                }
            }
            r
        }
        // DescribeServices and UpdateService are scoped to the service (Service Authorization
        // Reference, "Actions, resources, and condition keys for Amazon Elastic Container
        // Service": service/${ClusterName}/${ServiceName}).
        Service::Ecs => {
            let name = |k: &str| {
                with.get(k)
                    .and_then(Value::as_str)
                    .map(|v| v.rsplit('/').next().unwrap_or(v).to_string())
                    .unwrap_or_else(|| "*".into())
            };
            vec![format!(
                "arn:aws:ecs:{region}:{account}:service/{}/{}",
                name("cluster"),
                name("service")
            )]
        }
        // Parameter ARNs name the parameter without its leading slash (same reference,
        // "Actions, resources, and condition keys for AWS Systems Manager": parameter/${ParameterNameWithoutLeadingSlash}).
        Service::Ssm => {
            let name = with
                .get("name")
                .and_then(Value::as_str)
                .map(|n| n.trim_start_matches('/').to_string())
                .unwrap_or_else(|| "*".into());
            vec![format!("arn:aws:ssm:{region}:{account}:parameter/{name}")]
        }
        // Buckets and objects have Region-less ARNs, `arn:aws:s3:::BUCKET` (ListBucketVersions,
        // GetBucketVersioning, GetBucketObjectLockConfiguration) and `arn:aws:s3:::BUCKET/KEY`
        // (GetObject, GetObjectVersion, PutObject) (Service Authorization Reference, "Actions,
        // resources, and condition keys for Amazon S3"); the lock table is a DynamoDB table of
        // the step's Region (GetItem, PutItem).
        Service::S3 => {
            let name = |k: &str| {
                with.get(k)
                    .and_then(Value::as_str)
                    .map(wildcard)
                    .unwrap_or_else(|| "*".into())
            };
            let bucket = name("bucket");
            let mut r = vec![format!("arn:aws:s3:::{bucket}")];
            if with.contains_key("key") {
                r.push(format!("arn:aws:s3:::{bucket}/{}", name("key")));
            }
            r.extend(
                scoped(spec, with, Scope::DynamoDbTable)
                    .into_iter()
                    .map(|t| format!("arn:aws:dynamodb:{region}:{account}:table/{t}")),
            );
            r
        }
        Service::Core => vec![],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runbook::load_str;
    use std::path::Path;

    #[test]
    fn policy_lists_only_used_actions_per_region_without_wildcard_actions() {
        let text = r#"
version: 1
name: t
steps:
  - id: restore
    action: dynamodb.restore_pitr
    region: eu-west-1
    with: { source_table: vault, target_table: "vault-{{ run.id }}" }
  - id: gate
    action: cloudwatch.wait_alarm
    region: ca-central-1
    with: { alarms: [api-5xx] }
"#;
        let rb = load_str(Path::new("t.yaml"), text, &[]).unwrap().runbook;
        let p = policy_for(&rb);
        let st = p["Statement"].as_array().unwrap();
        assert_eq!(st.len(), 2);
        let all = p.to_string();
        assert!(all.contains("dynamodb:RestoreTableToPointInTime"));
        assert!(all.contains("arn:aws:dynamodb:eu-west-1:*:table/vault-*"));
        assert!(all.contains("arn:aws:cloudwatch:ca-central-1:*:alarm:api-5xx"));
        assert!(!all.contains("kms:"));
        for s in st {
            for a in s["Action"].as_array().unwrap() {
                assert!(!a.as_str().unwrap().contains('*'));
            }
        }
    }

    /// Adding a replica acts in two Regions: the source table's (UpdateTable) and the new
    /// replica's (CreateTable, CreateTableReplica and the data-plane actions on the replica
    /// table), as AWS documents for global tables. No KMS grant comes with it.
    /// Scoping follows the catalogue's parameter scopes, not parameter names: a KMS alias is
    /// granted for `kms.*`'s `key`, and `dynamodb.assert_item`'s `key` (an item key) is not.
    #[test]
    fn resources_come_from_the_parameters_the_catalogue_scopes() {
        let text = r#"
version: 1
name: t
steps:
  - id: item
    action: dynamodb.assert_item
    region: us-east-1
    with: { table: orders, key: { pk: "alias/not-a-key" } }
  - id: key
    action: kms.assert_replica
    region: us-east-1
    with: { key: alias/orders-root }
"#;
        let rb = load_str(Path::new("t.yaml"), text, &[]).unwrap().runbook;
        let all = policy_for(&rb).to_string();
        assert!(
            all.contains("arn:aws:dynamodb:us-east-1:*:table/orders"),
            "{all}"
        );
        assert!(
            all.contains(r#""kms:ResourceAliases":["alias/orders-root"]"#),
            "{all}"
        );
        assert!(!all.contains("not-a-key"), "{all}");
        let scoped: Vec<&str> = crate::catalog::CATALOG
            .iter()
            .flat_map(|a| a.params)
            .filter(|p| p.scope.is_some())
            .map(|p| p.name)
            .collect();
        assert!(scoped.contains(&"replica_region") && scoped.contains(&"cluster"));
        assert!(scoped.contains(&"hosted_zone") && scoped.contains(&"health_check_id"));
    }

    /// The statements of `policy` that allow `action`.
    fn allowing<'p>(policy: &'p Value, action: &str) -> Vec<&'p Value> {
        policy["Statement"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|s| s["Action"].as_array().unwrap().iter().any(|a| a == action))
            .collect()
    }

    fn policy_notes(text: &str) -> (Value, Vec<String>) {
        let rb = load_str(Path::new("t.yaml"), text, &[]).unwrap().runbook;
        policy_with_notes(&rb)
    }

    /// Record changes are allowed on the hosted zone the runbook names, never on `*`; only the
    /// two actions AWS authorizes on no resource are.
    #[test]
    fn route53_statements_are_scoped_to_the_hosted_zone_by_id() {
        let (p, notes) = policy_notes(
            r#"
version: 1
name: t
steps:
  - id: dns
    action: route53.failover
    with: { hosted_zone: Z0123456789ABC, record_name: api.example.com, health_check_id: hc-1 }
"#,
        );
        assert!(notes.is_empty(), "{notes:?}");
        let change = allowing(&p, "route53:ChangeResourceRecordSets");
        assert_eq!(change.len(), 1, "{p:#}");
        assert_eq!(
            change[0]["Resource"],
            json!(["arn:aws:route53:::hostedzone/Z0123456789ABC"])
        );
        assert_eq!(
            allowing(&p, "route53:UpdateHealthCheck")[0]["Resource"],
            json!(["arn:aws:route53:::healthcheck/hc-1"])
        );
        assert_eq!(
            allowing(&p, "route53:GetChange")[0]["Resource"],
            json!(["arn:aws:route53:::change/*"])
        );
        for s in p["Statement"].as_array().unwrap() {
            if s["Resource"] == "*" || s["Resource"].to_string().contains("\"*\"") {
                let mut actions: Vec<&str> = s["Action"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|a| a.as_str().unwrap())
                    .collect();
                actions.sort();
                assert_eq!(
                    actions,
                    ["route53:ListHostedZonesByName", "route53:TestDNSAnswer"],
                    "{p:#}"
                );
            }
        }
    }

    /// A zone given by name is found at run time: the grant covers every zone, and a note
    /// says so and how to scope it.
    #[test]
    fn a_hosted_zone_given_by_name_is_noted_not_silently_widened() {
        let (p, notes) = policy_notes(
            r#"
version: 1
name: t
steps:
  - id: dns
    action: route53.assert_records
    with: { hosted_zone: example.com., record_name: api.example.com }
"#,
        );
        assert_eq!(
            allowing(&p, "route53:ListResourceRecordSets")[0]["Resource"],
            json!(["arn:aws:route53:::hostedzone/*"])
        );
        assert_eq!(notes.len(), 1, "{notes:?}");
        assert!(
            notes[0].contains("`example.com.` is given by name")
                && notes[0].contains("list-hosted-zones-by-name --dns-name example.com."),
            "{notes:?}"
        );
    }

    /// KMS: a key given by id or ARN is granted by its ARN (in any Region for a promotion:
    /// a multi-Region key keeps its id); a key given by alias through `kms:ResourceAliases`;
    /// never a bare `key/*`.
    #[test]
    fn kms_statements_are_scoped_to_the_key_the_runbook_names() {
        let (p, _) = policy_notes(
            r#"
version: 1
name: t
accounts: { main: "111122223333" }
steps:
  - id: check
    action: kms.verify_crypto
    region: eu-west-1
    with: { key: "arn:aws:kms:eu-west-1:111122223333:key/mrk-1234abcd" }
  - id: promote
    action: kms.promote
    region: eu-west-1
    with: { key: mrk-1234abcd }
"#,
        );
        let all = p.to_string();
        assert!(
            all.contains("arn:aws:kms:eu-west-1:111122223333:key/mrk-1234abcd")
                && all.contains("arn:aws:kms:*:111122223333:key/mrk-1234abcd"),
            "{p:#}"
        );
        assert!(!all.contains("key/*"), "{p:#}");

        let (p, notes) = policy_notes(
            r#"
version: 1
name: t
accounts: { main: "111122223333" }
steps:
  - id: promote
    action: kms.promote
    region: eu-west-1
    with: { key: alias/root }
  - id: replicate
    action: kms.replicate_key
    region: ca-central-1
    with: { key: alias/root, replica_region: eu-west-1 }
"#,
        );
        for s in p["Statement"].as_array().unwrap() {
            let r = s["Resource"].to_string();
            if r.contains(":key/*") && !r.contains("eu-west-1:111122223333:key/*") {
                assert_eq!(
                    s["Condition"]["ForAnyValue:StringEquals"]["kms:ResourceAliases"],
                    json!(["alias/root"]),
                    "{p:#}"
                );
            }
        }
        let promote = allowing(&p, "kms:UpdatePrimaryRegion");
        assert_eq!(promote.len(), 1, "{p:#}");
        assert_eq!(
            promote[0]["Resource"],
            json!(["arn:aws:kms:*:111122223333:key/*"])
        );
        assert!(
            p.to_string()
                .contains("arn:aws:kms:eu-west-1:111122223333:alias/root"),
            "the replica's alias: {p:#}"
        );
        assert!(notes.iter().any(|n| n.contains("`alias/root` is promoted")));
    }

    #[test]
    fn add_replica_is_granted_on_the_replica_table_in_the_replica_region() {
        let text = r#"
version: 1
name: t
steps:
  - id: replicate
    action: dynamodb.add_replica
    region: us-east-1
    with: { table: orders, replica_region: us-west-2 }
"#;
        let rb = load_str(Path::new("t.yaml"), text, &[]).unwrap().runbook;
        let all = policy_for(&rb).to_string();
        for want in [
            "arn:aws:dynamodb:us-east-1:*:table/orders",
            "arn:aws:dynamodb:us-west-2:*:table/orders",
            "arn:aws:dynamodb:us-west-2:*:table/orders/*",
            "dynamodb:CreateTable\"",
            "dynamodb:CreateTableReplica",
            "dynamodb:UpdateTable",
        ] {
            assert!(all.contains(want), "missing {want} in {all}");
        }
        assert!(!all.contains("kms:"), "{all}");
    }
    /// A replica with its own customer managed key: DynamoDB uses the key on the caller's
    /// behalf (the key policy AWS documents), and drillbook describes it to verify the replica.
    #[test]
    fn add_replica_with_a_kms_key_is_granted_the_key_through_dynamodb() {
        let text = r#"
version: 1
name: t
accounts: { primary: "111122223333" }
steps:
  - id: replicate
    action: dynamodb.add_replica
    region: us-east-1
    with: { table: orders, replica_region: us-west-2, kms_key: alias/orders-west }
  - id: access
    action: iam.assert_access
    with: { role: orders-app, actions: [dynamodb:GetItem], resources: ["*"] }
"#;
        let rb = load_str(Path::new("t.yaml"), text, &[]).unwrap().runbook;
        let p = policy_for(&rb);
        let st = p["Statement"].as_array().unwrap();
        let via = st
            .iter()
            .find(|s| s["Sid"] == "DynamoDbReplicaKeyViaDynamoDbUsWest2")
            .unwrap_or_else(|| panic!("{p}"));
        assert_eq!(
            via["Condition"]["StringEquals"]["kms:ViaService"],
            "dynamodb.us-west-2.amazonaws.com"
        );
        let actions: Vec<&str> = via["Action"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a.as_str().unwrap())
            .collect();
        for want in [
            "kms:CreateGrant",
            "kms:DescribeKey",
            "kms:Encrypt",
            "kms:Decrypt",
        ] {
            assert!(actions.contains(&want), "{want} missing: {actions:?}");
        }
        let all = p.to_string();
        assert!(
            all.contains("arn:aws:kms:us-west-2:111122223333:alias/orders-west"),
            "{all}"
        );
        assert!(!all.contains("arn:aws:kms:us-east-1"), "{all}");
        let iam = st.iter().find(|s| s["Sid"] == "IamGlobal").unwrap();
        assert_eq!(
            iam["Resource"][0],
            "arn:aws:iam::111122223333:role/orders-app"
        );
        assert!(
            iam.to_string().contains("iam:SimulatePrincipalPolicy"),
            "{iam}"
        );
    }
}
