//! IAM's policy simulator as the emulator serves it (`drillbook_ext/iam.py`; moto 5.2.5 has
//! none): the IAM user guide's "Policy evaluation logic" for a role's identity-based policies,
//! answered in the shape of the IAM API reference's SimulatePrincipalPolicy. Through the AWS SDK
//! for Rust.

use aws_sdk_iam::types::PolicyEvaluationDecisionType as D;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

use crate::support::{emulator, unique_prefix};

/// A role with the inline policy `doc`; returns its ARN.
async fn role(iam: &aws_sdk_iam::Client, name: &str, doc: serde_json::Value) -> String {
    let trust = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"apigateway.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;
    let arn = iam
        .create_role()
        .role_name(name)
        .assume_role_policy_document(trust)
        .send()
        .await
        .unwrap()
        .role
        .unwrap()
        .arn;
    iam.put_role_policy()
        .role_name(name)
        .policy_name("inline")
        .policy_document(doc.to_string())
        .send()
        .await
        .unwrap();
    arn
}

/// "By default, all requests are implicitly denied"; Action and Resource wildcards (`*`, `?`),
/// action names without regard to case; NotAction; an explicit deny overrides every allow; a statement with a Condition is not evaluated here (it never applies),
/// as localstack/README.md says (IAM user guide, "Policy evaluation logic"; "IAM JSON policy
/// elements: Action", "NotAction", "Resource").
#[tokio::test(flavor = "multi_thread")]
async fn simulate_principal_policy_follows_the_evaluation_logic() {
    let p = unique_prefix("fid_iam");
    let iam = aws_sdk_iam::Client::new(&emulator().sdk_config("us-east-1").await);
    let arn = role(
        &iam,
        &format!("{p}app"),
        serde_json::json!({
            "Version": "2012-10-17",
            "Statement": [
                { "Effect": "Allow", "Action": "DynamoDB:Get*", "Resource": "arn:aws:dynamodb:*:*:table/orders-?" },
                { "Effect": "Allow", "NotAction": "dynamodb:Delete*", "Resource": "arn:aws:dynamodb:*:*:table/logs" },
                { "Effect": "Deny", "Action": "dynamodb:GetItem", "Resource": "arn:aws:dynamodb:*:*:table/orders-x" },
                { "Effect": "Allow", "Action": "dynamodb:Query", "Resource": "*",
                  "Condition": { "Bool": { "aws:SecureTransport": "true" } } },
            ],
        }),
    )
    .await;
    let t = |n: &str| format!("arn:aws:dynamodb:us-east-1:123456789012:table/{n}");
    let out = iam
        .simulate_principal_policy()
        .policy_source_arn(&arn)
        .action_names("dynamodb:GetItem")
        .action_names("dynamodb:DeleteItem")
        .action_names("dynamodb:Query")
        .resource_arns(t("orders-1"))
        .resource_arns(t("orders-12"))
        .resource_arns(t("orders-x"))
        .resource_arns(t("logs"))
        .send()
        .await
        .unwrap();
    assert!(!out.is_truncated);
    let got: Vec<(String, String, D, Vec<String>)> = out
        .evaluation_results()
        .iter()
        .map(|r| {
            (
                r.eval_action_name().to_string(),
                r.eval_resource_name()
                    .unwrap()
                    .rsplit('/')
                    .next()
                    .unwrap()
                    .to_string(),
                r.eval_decision().clone(),
                r.matched_statements()
                    .iter()
                    .map(|s| {
                        format!(
                            "{}:{}",
                            s.source_policy_id().unwrap(),
                            s.source_policy_type().unwrap().as_str()
                        )
                    })
                    .collect(),
            )
        })
        .collect();
    let decision = |a: &str, r: &str| {
        got.iter()
            .find(|g| g.0 == a && g.1 == r)
            .unwrap_or_else(|| panic!("{a} {r}: {got:?}"))
            .clone()
    };
    assert_eq!(got.len(), 12, "one result per pair: {got:?}");
    let get1 = decision("dynamodb:GetItem", "orders-1");
    assert_eq!(
        (get1.2, get1.3),
        (D::Allowed, vec!["inline:role".to_string()])
    );
    assert_eq!(
        decision("dynamodb:GetItem", "orders-12").2,
        D::ImplicitDeny,
        "`?` is one character"
    );
    assert_eq!(decision("dynamodb:GetItem", "orders-x").2, D::ExplicitDeny);
    assert_eq!(
        decision("dynamodb:GetItem", "logs").2,
        D::Allowed,
        "NotAction"
    );
    assert_eq!(
        decision("dynamodb:DeleteItem", "logs").2,
        D::ImplicitDeny,
        "NotAction"
    );
    assert_eq!(
        decision("dynamodb:DeleteItem", "orders-1").2,
        D::ImplicitDeny
    );
    assert_eq!(
        decision("dynamodb:Query", "orders-1").2,
        D::ImplicitDeny,
        "a Condition is not evaluated"
    );

    // An unknown role: NoSuchEntity, as IAM answers.
    let err = iam
        .simulate_principal_policy()
        .policy_source_arn(format!("arn:aws:iam::123456789012:role/{p}nobody"))
        .action_names("dynamodb:GetItem")
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("NoSuchEntity"), "{err:?}");
}
