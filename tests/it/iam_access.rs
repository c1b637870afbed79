//! `iam.assert_access` through the binary against the emulator's SimulatePrincipalPolicy: a
//! role allowed on `PREFIXvault*` may use a restored table, not a table outside its policy, and
//! an explicit Deny wins over the Allow (IAM user guide, "Policy evaluation logic").

use crate::drill::Drill;
use crate::support::{Ran, emulator, unique_prefix};

/// A Region no other test faults (IAM itself is signed for us-east-1 whatever the step says).
const REGION: &str = "ap-southeast-7";
const ACCOUNT: &str = "123456789012";

/// The role `{p}app`: an inline policy allowing the data actions on `{p}vault*`, and a
/// customer managed policy denying PutItem on `{p}vault-locked`.
async fn app_role(p: &str) -> String {
    let iam = aws_sdk_iam::Client::new(&emulator().sdk_config("us-east-1").await);
    let trust = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"apigateway.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;
    let arn = iam
        .create_role()
        .role_name(format!("{p}app"))
        .assume_role_policy_document(trust)
        .send()
        .await
        .unwrap()
        .role
        .unwrap()
        .arn;
    let allow = serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Action": ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query"],
            "Resource": format!("arn:aws:dynamodb:*:{ACCOUNT}:table/{p}vault*"),
        }],
    });
    iam.put_role_policy()
        .role_name(format!("{p}app"))
        .policy_name(format!("{p}vault-data"))
        .policy_document(allow.to_string())
        .send()
        .await
        .unwrap();
    let deny = serde_json::json!({
        "Version": "2012-10-17",
        "Statement": {
            "Effect": "Deny",
            "Action": "dynamodb:Put*",
            "Resource": format!("arn:aws:dynamodb:*:{ACCOUNT}:table/{p}vault-locked"),
        },
    });
    let policy = iam
        .create_policy()
        .policy_name(format!("{p}no-locked-writes"))
        .policy_document(deny.to_string())
        .send()
        .await
        .unwrap()
        .policy
        .unwrap()
        .arn
        .unwrap();
    iam.attach_role_policy()
        .role_name(format!("{p}app"))
        .policy_arn(policy)
        .send()
        .await
        .unwrap();
    arn
}

fn table(p: &str, name: &str) -> String {
    format!("arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{p}{name}")
}

/// A one-step runbook checking `role` on `resources` for GetItem, PutItem and Query.
fn runbook(d: &Drill, role: &str, resources: &[String]) -> String {
    let text = format!(
        "version: 1\nname: access\nsteps:\n  - id: app-may-use\n    action: iam.assert_access\n    with:\n      role: \"{role}\"\n      actions: [dynamodb:GetItem, dynamodb:PutItem, dynamodb:Query]\n      resources: {}\n",
        serde_json::to_string(resources).unwrap()
    );
    let path = d.dir().join("access.yaml");
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_app_role_may_use_a_restored_table_and_not_one_outside_its_policy() {
    let p = unique_prefix("iam_access");
    let arn = app_role(&p).await;

    // Allowed: a restored table matches `{p}vault*`. By name (GetRole) and in a dry run,
    // which checks too (the action is read-only).
    let d = Drill::new();
    let rb = runbook(&d, &format!("{p}app"), &[table(&p, "vault-restored-abc")]);
    let out = d.run(&["run", &rb], &[]);
    out.assert_exit(0);
    let decisions = d
        .journal()
        .iter()
        .find(|r| r["type"] == "step_succeeded" && r["step"] == "app-may-use")
        .and_then(|r| r["outcome"]["outputs"]["decisions"].as_str())
        .expect("app-may-use succeeded")
        .to_string();
    assert_eq!(decisions.matches("=allowed").count(), 3, "{decisions}");

    // A table outside the policy: every pair is named, with its decision.
    let d = Drill::new();
    let other = table(&p, "orders");
    let rb = runbook(&d, &arn, &[table(&p, "vault-restored-abc"), other.clone()]);
    let out = d.run(&["run", &rb, "--execute", "--yes"], &[]);
    out.assert_exit(1);
    let all = out.text();
    for action in ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query"] {
        assert!(
            all.contains(&format!("may not {action} on {other}: implicitDeny")),
            "{action}: {all}"
        );
    }
    assert!(!all.contains("vault-restored-abc: "), "{all}");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_explicit_deny_wins_over_the_allow_and_names_its_policy() {
    let p = unique_prefix("iam_deny");
    let arn = app_role(&p).await;
    let d = Drill::new();
    let locked = table(&p, "vault-locked");
    let rb = runbook(&d, &arn, std::slice::from_ref(&locked));
    let out = d.run(&["run", &rb, "--execute", "--yes"], &[]);
    out.assert_exit(1);
    let all = out.text();
    assert!(
        all.contains(&format!(
            "may not dynamodb:PutItem on {locked}: explicitDeny by {p}no-locked-writes (user-managed)"
        )),
        "{all}"
    );
    // GetItem and Query on the same table stay allowed: only the denied pair is named.
    assert!(!all.contains("dynamodb:GetItem on"), "{all}");
    assert!(!all.contains("dynamodb:Query on"), "{all}");
}
