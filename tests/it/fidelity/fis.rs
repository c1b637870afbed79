//! AWS Fault Injection Service, as the emulator serves it (moto's FIS API plus
//! `drillbook_ext/fis.py`): experiments move through FIS's states and their actions become the
//! emulator's server-side faults, each as the FIS user guide describes it ("AWS FIS Actions
//! reference", "Experiment states"). Through the AWS SDK for Rust.
//!
//! A disruption of a Region's subnets takes that Region's endpoints down for every test: those
//! tests run on an emulator of their own. API errors act on one role's calls only, and paused
//! replication on one table: those run on the shared emulator, with names of their own.

use std::collections::HashMap;
use std::time::Duration;

use aws_config::SdkConfig;
use aws_config::retry::RetryConfig;
use aws_sdk_fis::types::{
    CreateExperimentTemplateActionInput, CreateExperimentTemplateStopConditionInput,
    CreateExperimentTemplateTargetInput, ExperimentStatus,
};
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

use crate::support::{self, Emulator, SeedOptions, emulator, unique_prefix};

const ACCOUNT: &str = "123456789012";

/// SDK configuration for `region` on `emu`, one attempt per call, signed with `creds` (test
/// credentials when `None`).
async fn conf(
    emu: &Emulator,
    region: &str,
    creds: Option<aws_sdk_sts::config::Credentials>,
) -> SdkConfig {
    let creds = creds.unwrap_or_else(|| {
        aws_sdk_sts::config::Credentials::new("test", "test", None, None, "drillbook-it")
    });
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new(region.to_string()))
        .endpoint_url(emu.endpoint())
        .credentials_provider(creds)
        .retry_config(RetryConfig::disabled())
        .load()
        .await
}

fn stop_none() -> CreateExperimentTemplateStopConditionInput {
    CreateExperimentTemplateStopConditionInput::builder()
        .source("none")
        .build()
        .unwrap()
}

fn target(resource_type: &str, arns: &[&str]) -> CreateExperimentTemplateTargetInput {
    let mut t = CreateExperimentTemplateTargetInput::builder()
        .resource_type(resource_type)
        .selection_mode("ALL");
    for a in arns {
        t = t.resource_arns(*a);
    }
    t.build().unwrap()
}

fn action(
    id: &str,
    target_key: Option<(&str, &str)>,
    params: &[(&str, &str)],
) -> CreateExperimentTemplateActionInput {
    let mut a = CreateExperimentTemplateActionInput::builder().action_id(id);
    if let Some((k, v)) = target_key {
        a = a.targets(k, v);
    }
    for (k, v) in params {
        a = a.parameters(*k, *v);
    }
    a.build().unwrap()
}

/// A template named `name` (its Name tag, the emulator's settings scope) with one action on
/// IAM role targets, or a wait when `role` is `None`.
async fn template(
    fis: &aws_sdk_fis::Client,
    name: &str,
    actions: Vec<(&str, CreateExperimentTemplateActionInput)>,
    role: Option<&str>,
) -> String {
    let mut req = fis
        .create_experiment_template()
        .description(format!("{name} experiment"))
        .role_arn(format!("arn:aws:iam::{ACCOUNT}:role/{name}fis"))
        .stop_conditions(stop_none())
        .tags("Name", name);
    if let Some(role) = role {
        req = req.targets("roles", target("aws:iam:role", &[role]));
    }
    for (k, a) in actions {
        req = req.actions(k, a);
    }
    req.send()
        .await
        .unwrap()
        .experiment_template()
        .unwrap()
        .id()
        .unwrap()
        .to_string()
}

async fn status(fis: &aws_sdk_fis::Client, id: &str) -> ExperimentStatus {
    fis.get_experiment()
        .id(id)
        .send()
        .await
        .unwrap()
        .experiment()
        .unwrap()
        .state()
        .unwrap()
        .status()
        .unwrap()
        .clone()
}

async fn wait_status(fis: &aws_sdk_fis::Client, id: &str, want: ExperimentStatus) {
    let found = support::poll(Duration::from_secs(20), || {
        let want = want.clone();
        async move { (status(fis, id).await == want).then_some(()) }
    })
    .await;
    assert!(
        found.is_some(),
        "experiment {id} is {:?}, not {want:?}",
        status(fis, id).await
    );
}

/// FIS API reference (CreateExperimentTemplate, GetExperimentTemplate, ListExperimentTemplates,
/// StartExperiment, GetExperiment, ListExperiments, StopExperiment) and the FIS user guide,
/// "Experiment states": an experiment is `initiating`, then `running`; StopExperiment makes it
/// `stopping`, then `stopped`; one whose actions' durations end is `completed`. Invalid
/// templates are refused with ValidationException ("duration – The duration, from one minute
/// to 12 hours", FIS actions reference).
#[tokio::test(flavor = "multi_thread")]
async fn fis_api_round_trip_through_the_experiment_states() {
    let emu = emulator();
    let p = unique_prefix("fis_round_trip");
    let region = "sa-east-1";
    let fis = aws_sdk_fis::Client::new(&conf(emu, region, None).await);
    emu.configure(serde_json::json!({"prefix": p, "fis_transition_seconds": 1}));

    // Refused: a duration under a minute; a target of the wrong resource type.
    let short = fis
        .create_experiment_template()
        .description("too short")
        .role_arn(format!("arn:aws:iam::{ACCOUNT}:role/fis"))
        .stop_conditions(stop_none())
        .actions(
            "wait",
            action("aws:fis:wait", None, &[("duration", "PT10S")]),
        )
        .send()
        .await
        .expect_err("a 10 s action is refused");
    assert_eq!(short.code(), Some("ValidationException"), "{short:?}");
    let wrong = fis
        .create_experiment_template()
        .description("wrong target")
        .role_arn(format!("arn:aws:iam::{ACCOUNT}:role/fis"))
        .stop_conditions(stop_none())
        .targets("roles", target("aws:iam:role", &["arn:aws:iam::1:role/x"]))
        .actions(
            "cut",
            action(
                "aws:network:disrupt-connectivity",
                Some(("Subnets", "roles")),
                &[("duration", "PT5M"), ("scope", "all")],
            ),
        )
        .send()
        .await
        .expect_err("a subnet action on roles is refused");
    assert_eq!(wrong.code(), Some("ValidationException"), "{wrong:?}");

    let id = template(
        &fis,
        &p,
        vec![(
            "wait",
            action("aws:fis:wait", None, &[("duration", "PT10M")]),
        )],
        None,
    )
    .await;
    assert!(id.starts_with("EXT"), "template ids look like AWS's: {id}");
    let got = fis.get_experiment_template().id(&id).send().await.unwrap();
    let t = got.experiment_template().unwrap();
    assert_eq!(
        t.actions().unwrap()["wait"].action_id(),
        Some("aws:fis:wait")
    );
    assert_eq!(t.tags().unwrap()["Name"], p);
    let listed = fis.list_experiment_templates().send().await.unwrap();
    assert!(
        listed
            .experiment_templates()
            .iter()
            .any(|t| t.id() == Some(id.as_str())),
        "{listed:?}"
    );

    // Started: initiating, then running; stopped: stopping, then stopped with an end time.
    let started = fis
        .start_experiment()
        .experiment_template_id(&id)
        .tags("Name", &p)
        .send()
        .await
        .unwrap();
    let e = started.experiment().unwrap();
    let exp = e.id().unwrap().to_string();
    assert!(exp.starts_with("EXP"), "{exp}");
    assert_eq!(
        e.state().unwrap().status(),
        Some(&ExperimentStatus::Initiating)
    );
    wait_status(&fis, &exp, ExperimentStatus::Running).await;
    let listed = fis
        .list_experiments()
        .experiment_template_id(&id)
        .send()
        .await
        .unwrap();
    let mine: Vec<_> = listed
        .experiments()
        .iter()
        .filter(|x| x.id() == Some(exp.as_str()))
        .collect();
    assert_eq!(mine.len(), 1, "{listed:?}");
    assert_eq!(
        mine[0].state().unwrap().status(),
        Some(&ExperimentStatus::Running)
    );
    let stopping = fis.stop_experiment().id(&exp).send().await.unwrap();
    assert_eq!(
        stopping.experiment().unwrap().state().unwrap().status(),
        Some(&ExperimentStatus::Stopping)
    );
    wait_status(&fis, &exp, ExperimentStatus::Stopped).await;
    let done = fis.get_experiment().id(&exp).send().await.unwrap();
    let done = done.experiment().unwrap();
    assert!(done.end_time().is_some(), "{done:?}");
    assert_eq!(
        done.actions().unwrap()["wait"].state().unwrap().status(),
        Some(&aws_sdk_fis::types::ExperimentActionStatus::Stopped)
    );

    // An experiment whose actions' durations end is completed (the emulator's
    // `fis_action_duration_seconds` shortens every duration, as the other delays are).
    emu.configure(serde_json::json!({
        "prefix": p, "fis_transition_seconds": 0, "fis_action_duration_seconds": 1
    }));
    let again = fis
        .start_experiment()
        .experiment_template_id(&id)
        .send()
        .await
        .unwrap();
    let exp2 = again.experiment().unwrap().id().unwrap().to_string();
    assert_eq!(status(&fis, &exp2).await, ExperimentStatus::Running);
    wait_status(&fis, &exp2, ExperimentStatus::Completed).await;
    let listed = fis
        .list_experiments()
        .experiment_template_id(&id)
        .send()
        .await
        .unwrap();
    assert_eq!(listed.experiments().len(), 2, "{listed:?}");
}

/// The health check on the PRIMARY record of a seeded system: what GetHealthCheckStatus says.
async fn healthy(emu: &Emulator, health_check_id: &str) -> bool {
    let r53 = aws_sdk_route53::Client::new(&conf(emu, "us-east-1", None).await);
    let out = r53
        .get_health_check_status()
        .health_check_id(health_check_id)
        .send()
        .await
        .unwrap();
    out.health_check_observations().iter().all(|o| {
        o.status_report()
            .and_then(|r| r.status())
            .is_some_and(|s| s.starts_with("Success"))
    })
}

/// `aws:network:disrupt-connectivity` (scope `all`) on the primary's application subnet, from
/// the seed's template: "Denies all traffic entering and leaving the subnet" (FIS actions
/// reference), so the Region's API endpoints stop answering and the Route 53 health check that
/// measures them reports unhealthy; AWS's regional APIs keep answering. Stopped, the endpoints
/// answer again and the check is healthy.
async fn disruption_fails_the_health_check_until_stopped(primary: &str, secondary: &str) {
    let emu = support::isolated_emulator(&format!("fis-disrupt-{primary}"));
    let seed = emu.seed_with(
        &unique_prefix("fis_disrupt"),
        &SeedOptions::regions(primary, secondary),
    );
    let template_id = seed.raw["fis"]["experiment_template_id"]
        .as_str()
        .expect("the seed prints its FIS template")
        .to_string();
    assert_eq!(seed.raw["fis"]["region"], primary);
    let hc = seed.route53.health_check_id.clone();
    assert!(healthy(&emu, &hc).await, "healthy before the experiment");

    let fis = aws_sdk_fis::Client::new(&conf(&emu, primary, None).await);
    let exp = fis
        .start_experiment()
        .experiment_template_id(&template_id)
        .send()
        .await
        .unwrap()
        .experiment()
        .unwrap()
        .id()
        .unwrap()
        .to_string();
    wait_status(&fis, &exp, ExperimentStatus::Running).await;
    let got = fis.get_experiment().id(&exp).send().await.unwrap();
    assert_eq!(
        got.experiment().unwrap().actions().unwrap()["disrupt-app-subnets"]
            .state()
            .unwrap()
            .status(),
        Some(&aws_sdk_fis::types::ExperimentActionStatus::Running)
    );
    assert!(
        !healthy(&emu, &hc).await,
        "the health check sees the primary's endpoint fail"
    );
    // The Region's own APIs still answer: API Gateway's control plane, DynamoDB.
    let apigw = aws_sdk_apigateway::Client::new(&conf(&emu, primary, None).await);
    let apis = apigw.get_rest_apis().send().await.unwrap();
    assert!(
        apis.items()
            .iter()
            .any(|a| a.name() == Some(format!("{}unolock-api", seed.prefix).as_str())),
        "{apis:?}"
    );
    aws_sdk_dynamodb::Client::new(&conf(&emu, primary, None).await)
        .describe_table()
        .table_name(format!("{}vault", seed.prefix))
        .send()
        .await
        .unwrap();

    fis.stop_experiment().id(&exp).send().await.unwrap();
    wait_status(&fis, &exp, ExperimentStatus::Stopped).await;
    assert!(
        healthy(&emu, &hc).await,
        "healthy again once the experiment stopped"
    );
    let faults = emu.faults();
    assert_eq!(faults["faults"], serde_json::json!([]), "{faults}");
}

#[tokio::test(flavor = "multi_thread")]
async fn fis_disrupt_connectivity_fails_the_primarys_health_check_until_stopped() {
    disruption_fails_the_health_check_until_stopped("ca-central-1", "eu-west-1").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn fis_disrupt_connectivity_on_another_region_pair() {
    disruption_fails_the_health_check_until_stopped("us-west-2", "ap-southeast-2").await;
}

/// `aws:fis:inject-api-internal-error` / `-throttle-error` / `-unavailable-error` on an IAM role
/// target: "Injects Internal Errors into requests made by the target IAM role" (FIS actions
/// reference), for the named `service` and `operations`, in the experiment's Region. Calls of
/// an assumed-role session of that role fail; other operations, other callers and other Regions
/// do not; once stopped, the role's calls succeed again.
#[tokio::test(flavor = "multi_thread")]
async fn fis_api_errors_fail_the_targeted_roles_calls_only() {
    let emu = emulator();
    let p = unique_prefix("fis_api_errors");
    let region = "me-south-1";
    emu.fast(&p);
    let role = format!("arn:aws:iam::{ACCOUNT}:role/{p}app");
    let sts = aws_sdk_sts::Client::new(&conf(emu, region, None).await);
    let c = sts
        .assume_role()
        .role_arn(&role)
        .role_session_name("app-session")
        .send()
        .await
        .unwrap();
    let c = c.credentials().unwrap();
    let session = aws_sdk_sts::config::Credentials::new(
        c.access_key_id(),
        c.secret_access_key(),
        Some(c.session_token().to_string()),
        None,
        "assumed",
    );
    let as_role = conf(emu, region, Some(session.clone())).await;
    let who = aws_sdk_sts::Client::new(&as_role)
        .get_caller_identity()
        .send()
        .await
        .unwrap();
    assert!(
        who.arn()
            .unwrap()
            .contains(&format!("assumed-role/{p}app/")),
        "{who:?}"
    );
    let ddb_role = aws_sdk_dynamodb::Client::new(&as_role);
    let kms_role = aws_sdk_kms::Client::new(&as_role);
    let ddb_other = aws_sdk_dynamodb::Client::new(&conf(emu, region, None).await);
    let ddb_role_elsewhere =
        aws_sdk_dynamodb::Client::new(&conf(emu, "ap-southeast-7", Some(session)).await);

    let fis = aws_sdk_fis::Client::new(&conf(emu, region, None).await);
    let mut actions: HashMap<&str, CreateExperimentTemplateActionInput> = HashMap::new();
    actions.insert(
        "ddb-internal",
        action(
            "aws:fis:inject-api-internal-error",
            Some(("Roles", "roles")),
            &[
                ("duration", "PT10M"),
                ("service", "dynamodb"),
                ("operations", "ListTables"),
                ("percentage", "100"),
            ],
        ),
    );
    actions.insert(
        "kms-throttle",
        action(
            "aws:fis:inject-api-throttle-error",
            Some(("Roles", "roles")),
            &[
                ("duration", "PT10M"),
                ("service", "kms"),
                ("percentage", "100"),
            ],
        ),
    );
    let id = template(&fis, &p, actions.into_iter().collect(), Some(&role)).await;
    let exp = fis
        .start_experiment()
        .experiment_template_id(&id)
        .send()
        .await
        .unwrap()
        .experiment()
        .unwrap()
        .id()
        .unwrap()
        .to_string();
    wait_status(&fis, &exp, ExperimentStatus::Running).await;

    let err = ddb_role.list_tables().send().await.expect_err("injected");
    assert_eq!(err.code(), Some("InternalServerError"), "{err:?}");
    assert_eq!(err.raw_response().map(|r| r.status().as_u16()), Some(500));
    let err = kms_role.list_keys().send().await.expect_err("throttled");
    assert_eq!(err.code(), Some("ThrottlingException"), "{err:?}");
    // Another operation, another caller, another Region: untouched.
    ddb_role.describe_limits().send().await.unwrap();
    ddb_other.list_tables().send().await.unwrap();
    ddb_role_elsewhere.list_tables().send().await.unwrap();

    fis.stop_experiment().id(&exp).send().await.unwrap();
    wait_status(&fis, &exp, ExperimentStatus::Stopped).await;
    ddb_role.list_tables().send().await.unwrap();
    kms_role.list_keys().send().await.unwrap();
}

/// `aws:dynamodb:global-table-pause-replication` on a replica: "Pauses Amazon DynamoDB global
/// table replication to any replica table" (FIS actions reference). Writes in the primary do
/// not reach the paused replica until the experiment stops; then they flow.
#[tokio::test(flavor = "multi_thread")]
async fn fis_pause_replication_holds_writes_into_the_replica_until_stopped() {
    let emu = emulator();
    let seed = emu.seed(&unique_prefix("fis_pause"));
    let (primary, secondary) = (seed.primary_region.clone(), seed.secondary_region.clone());
    let table = seed.secondary().dynamodb.name.clone();
    let replica_arn = seed.secondary().dynamodb.arn.clone();
    let fis = aws_sdk_fis::Client::new(&conf(emu, &secondary, None).await);
    let id = fis
        .create_experiment_template()
        .description(format!("{} pause", seed.prefix))
        .role_arn(format!("arn:aws:iam::{ACCOUNT}:role/fis"))
        .stop_conditions(stop_none())
        .tags("Name", format!("{}pause", seed.prefix))
        .targets(
            "tables",
            target("aws:dynamodb:global-table", &[replica_arn.as_str()]),
        )
        .actions(
            "pause",
            action(
                "aws:dynamodb:global-table-pause-replication",
                Some(("Tables", "tables")),
                &[("duration", "PT10M")],
            ),
        )
        .send()
        .await
        .unwrap()
        .experiment_template()
        .unwrap()
        .id()
        .unwrap()
        .to_string();
    let exp = fis
        .start_experiment()
        .experiment_template_id(&id)
        .send()
        .await
        .unwrap()
        .experiment()
        .unwrap()
        .id()
        .unwrap()
        .to_string();
    wait_status(&fis, &exp, ExperimentStatus::Running).await;

    use aws_sdk_dynamodb::types::AttributeValue;
    let ddb_p = aws_sdk_dynamodb::Client::new(&conf(emu, &primary, None).await);
    let ddb_s = aws_sdk_dynamodb::Client::new(&conf(emu, &secondary, None).await);
    ddb_p
        .put_item()
        .table_name(&table)
        .item("pk", AttributeValue::S("during-pause".into()))
        .send()
        .await
        .unwrap();
    let in_secondary = || async {
        ddb_s
            .get_item()
            .table_name(&table)
            .key("pk", AttributeValue::S("during-pause".into()))
            .send()
            .await
            .unwrap()
            .item()
            .is_some()
    };
    // Replication is immediate for the seed's prefix: half a second is many delays.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        !in_secondary().await,
        "nothing replicates into the paused replica"
    );

    fis.stop_experiment().id(&exp).send().await.unwrap();
    wait_status(&fis, &exp, ExperimentStatus::Stopped).await;
    let arrived = support::poll(Duration::from_secs(10), || async {
        in_secondary().await.then_some(())
    })
    .await;
    assert!(
        arrived.is_some(),
        "the held write flows once the pause ends"
    );
}
