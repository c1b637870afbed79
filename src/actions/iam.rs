//! The least-privilege IAM policy a runbook needs, derived from the catalogue.
//!
//! One statement per service and Region, listing only the IAM actions of the actions the
//! runbook uses, scoped to the resources named in the steps where they are known (`{{ }}`
//! parts become `*`), never `*` actions.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Value, json};

use crate::catalog::{self, ActionSpec, Scope, Service};
use crate::runbook::Runbook;
use crate::template;

/// IAM actions and resources granted for one (service, Region).
type Grant = (BTreeSet<&'static str>, BTreeSet<String>);

/// Builds the policy document for `runbook`.
pub(crate) fn policy_for(runbook: &Runbook) -> Value {
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
        return policy_of(steps.iter().copied(), &account);
    }
    // Steps with a role run as the role: each role needs its steps' permissions, in its own
    // account; the caller needs its own steps' permissions and to assume the roles (with
    // session tags: drillbook tags each session with the run and the step).
    let mut caller = policy_of(steps.iter().copied().filter(|s| s.role.is_none()), &account);
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
                    "policy": policy_of(mine, role.account()),
                    "trust_policy_statement": trust,
                }),
            )
        })
        .collect();
    json!({ "caller": caller, "roles": per_role })
}

/// The identity policy for `steps`, their resources in `account`.
fn policy_of<'s>(steps: impl Iterator<Item = &'s crate::runbook::Step>, account: &str) -> Value {
    let account = account.to_string();
    let mut groups: BTreeMap<(Service, String), Grant> = BTreeMap::new();
    // Replica Region -> the replica's customer managed keys (`dynamodb.add_replica`'s `kms_key`).
    let mut replica_kms: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
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
        entry
            .1
            .extend(resources(spec, &step.with, &region, &account));
        // Calls outside the step's Region: UpdatePrimaryRegion goes to the key's current
        // primary (unknown before the run), ReplicateKey creates the key in `replica_region`.
        if spec.control_plane == catalog::ControlPlane::KeyPrimaryRegion {
            entry.1.insert(format!("arn:aws:kms:*:{account}:key/*"));
        }
        // The new replica lives in `replica_region`: ReplicateKey creates the key there, and
        // adding a DynamoDB replica needs CreateTable, CreateTableReplica and the data-plane
        // actions on the replica table in that Region (AWS, "DynamoDB global tables
        // security": permissions in the destination Regions).
        for r in scoped(spec, &step.with, Scope::ReplicaRegion) {
            match spec.service {
                Service::Kms => {
                    entry.1.insert(format!("arn:aws:kms:{r}:{account}:key/*"));
                    entry.1.insert(format!("arn:aws:kms:{r}:{account}:alias/*"));
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
    let mut statements: Vec<Value> = groups
        .into_iter()
        .map(|((service, region), (actions, resources))| {
            let sid: String = format!("{}-{}", service.name(), region)
                .split(['-', '_'])
                .map(|w| {
                    let mut c = w.chars();
                    c.next()
                        .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                        .unwrap_or_default()
                })
                .collect();
            json!({
                "Sid": sid,
                "Effect": "Allow",
                "Action": actions.into_iter().collect::<Vec<_>>(),
                "Resource": resources.into_iter().collect::<Vec<_>>(),
            })
        })
        .collect();
    for (region, keys) in replica_kms {
        let sid = |what: &str| {
            format!(
                "DynamoDbReplicaKey{what}{}",
                region
                    .split('-')
                    .map(|w| {
                        let mut c = w.chars();
                        c.next()
                            .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                            .unwrap_or_default()
                    })
                    .collect::<String>()
            )
        };
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
        Service::Kms => {
            let mut r = vec![format!("arn:aws:kms:{region}:{account}:key/*")];
            for k in scoped(spec, with, Scope::KmsKey) {
                if k.starts_with("alias/") {
                    r.push(format!("arn:aws:kms:{region}:{account}:{k}"));
                }
            }
            r
        }
        Service::ApiGateway => vec![
            format!("arn:aws:apigateway:{region}::/restapis"),
            format!("arn:aws:apigateway:{region}::/restapis/*"),
            format!("arn:aws:apigateway:{region}::/domainnames"),
            format!("arn:aws:apigateway:{region}::/domainnames/*"),
        ],
        Service::Route53 => vec![
            "arn:aws:route53:::hostedzone/*".into(),
            "arn:aws:route53:::healthcheck/*".into(),
            "arn:aws:route53:::change/*".into(),
            // ListHostedZonesByName and TestDNSAnswer do not support resource-level scoping.
            "*".into(),
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
            all.contains("arn:aws:kms:us-east-1:*:alias/orders-root"),
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
