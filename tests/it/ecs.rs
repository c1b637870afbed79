//! `ecs.assert_stable`, `ecs.redeploy`, `ecs.scale`, `ssm.put_parameter` and
//! `ssm.assert_parameter` through the binary against the emulator (its ECS deployments take
//! `ecs_deployment_seconds`, localstack/README.md): what each leaves in the emulator, in the
//! journal and in the output, how many mutating calls it makes, and a redeploy killed in its
//! wait that resumes without starting a second deployment.

use std::time::Duration;

use crate::drill::Drill;
use crate::support::{Ran, emulator, poll, unique_prefix};

/// A Region no other test faults; SECOND for the test that runs in another one.
const REGION: &str = "ap-southeast-7";
const SECOND: &str = "us-west-1";

async fn ecs(region: &str) -> aws_sdk_ecs::Client {
    aws_sdk_ecs::Client::new(&emulator().sdk_config(region).await)
}

async fn ssm(region: &str) -> aws_sdk_ssm::Client {
    aws_sdk_ssm::Client::new(&emulator().sdk_config(region).await)
}

/// A cluster `{p}cluster` and a service `{p}svc` of `desired` tasks in `region`, stable
/// (the prefix's deployments take `delay` seconds afterwards).
async fn service(p: &str, region: &str, desired: i32, delay: f64) {
    emulator().fast(p);
    let c = ecs(region).await;
    c.create_cluster()
        .cluster_name(format!("{p}cluster"))
        .send()
        .await
        .unwrap();
    c.register_task_definition()
        .family(format!("{p}app"))
        .container_definitions(
            aws_sdk_ecs::types::ContainerDefinition::builder()
                .name("app")
                .image("public.example/app:1")
                .memory(512)
                .build(),
        )
        .send()
        .await
        .unwrap();
    c.create_service()
        .cluster(format!("{p}cluster"))
        .service_name(format!("{p}svc"))
        .task_definition(format!("{p}app"))
        .desired_count(desired)
        .send()
        .await
        .unwrap();
    emulator().configure(serde_json::json!({"prefix": p, "ecs_deployment_seconds": delay}));
}

/// (PRIMARY deployment id, every deployment's (id, status, rolloutState), running, desired).
async fn deployments(p: &str, region: &str) -> (String, Vec<(String, String, String)>, i32, i32) {
    let out = ecs(region)
        .await
        .describe_services()
        .cluster(format!("{p}cluster"))
        .services(format!("{p}svc"))
        .send()
        .await
        .unwrap();
    let s = &out.services()[0];
    let all: Vec<(String, String, String)> = s
        .deployments()
        .iter()
        .map(|d| {
            (
                d.id().unwrap_or_default().to_string(),
                d.status().unwrap_or_default().to_string(),
                d.rollout_state()
                    .map(|r| r.as_str().to_string())
                    .unwrap_or_default(),
            )
        })
        .collect();
    let primary = all
        .iter()
        .find(|d| d.1 == "PRIMARY")
        .map(|d| d.0.clone())
        .unwrap_or_default();
    (primary, all, s.running_count(), s.desired_count())
}

/// A runbook of one step `id` running `action` in `region` with `with` (YAML flow mapping).
fn runbook(d: &Drill, name: &str, id: &str, action: &str, region: &str, with: &str) -> String {
    let text = format!(
        "version: 1\nname: {name}\nsteps:\n  - id: {id}\n    action: {action}\n    region: {region}\n    timeout: 2m\n    with: {with}\n"
    );
    let path = d.dir().join(format!("{name}.yaml"));
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_string()
}

fn svc_with(p: &str) -> String {
    format!("{{ cluster: {p}cluster, service: {p}svc }}")
}

/// The step's `step_succeeded` record.
fn succeeded(journal: &[serde_json::Value], step: &str) -> serde_json::Value {
    journal
        .iter()
        .rev()
        .find(|r| r["type"] == "step_succeeded" && r["step"] == step)
        .cloned()
        .unwrap_or_else(|| panic!("no step_succeeded for {step}: {journal:?}"))
}

fn update_service_calls(p: &str) -> usize {
    emulator()
        .mutating_calls_matching_any(&[&format!("{p}svc")])
        .iter()
        .filter(|r| r.label() == "UpdateService")
        .count()
}

#[tokio::test(flavor = "multi_thread")]
async fn assert_stable_passes_when_stable_and_fails_while_a_deployment_rolls_out() {
    let p = unique_prefix("ecs_stable");
    service(&p, REGION, 2, 0.0).await;
    let d = Drill::new();
    let rb = runbook(
        &d,
        "stable",
        "check",
        "ecs.assert_stable",
        REGION,
        &svc_with(&p),
    );
    let out = d.run(&["run", &rb, "--execute", "--yes"], &[]);
    out.assert_exit(0);
    let rec = succeeded(&d.journal(), "check");
    assert_eq!(rec["outcome"]["outputs"]["running"], "2", "{rec}");
    assert_eq!(rec["outcome"]["outputs"]["desired"], "2", "{rec}");

    // A forced deployment that takes a minute: PRIMARY IN_PROGRESS, the old one ACTIVE.
    emulator().configure(serde_json::json!({"prefix": p, "ecs_deployment_seconds": 60}));
    ecs(REGION)
        .await
        .update_service()
        .cluster(format!("{p}cluster"))
        .service(format!("{p}svc"))
        .force_new_deployment(true)
        .send()
        .await
        .unwrap();
    let (_, all, _, _) = deployments(&p, REGION).await;
    assert_eq!(all.len(), 2, "{all:?}");
    let d = Drill::new();
    let rb = runbook(
        &d,
        "stable",
        "check",
        "ecs.assert_stable",
        REGION,
        &svc_with(&p),
    );
    let out = d.run(&["run", &rb], &[]);
    out.assert_exit(1);
    assert!(out.text().contains("is not stable"), "{}", out.text());
    assert!(out.text().contains("IN_PROGRESS"), "{}", out.text());
}

#[tokio::test(flavor = "multi_thread")]
async fn redeploy_starts_one_deployment_waits_for_it_and_resuming_the_run_starts_none() {
    let p = unique_prefix("ecs_redeploy");
    service(&p, REGION, 2, 1.0).await;
    let (before, _, _, _) = deployments(&p, REGION).await;

    // A dry run changes nothing.
    let d = Drill::new();
    let rb = runbook(
        &d,
        "redeploy",
        "redeploy",
        "ecs.redeploy",
        REGION,
        &svc_with(&p),
    );
    d.run(&["run", &rb], &[]).assert_exit(0);
    assert_eq!(update_service_calls(&p), 0);
    assert_eq!(deployments(&p, REGION).await.0, before);

    let d = Drill::new();
    let rb = runbook(
        &d,
        "redeploy",
        "redeploy",
        "ecs.redeploy",
        REGION,
        &svc_with(&p),
    );
    let out = d.run(&["run", &rb, "--execute", "--yes"], &[]);
    out.assert_exit(0);
    let rec = succeeded(&d.journal(), "redeploy");
    let id = rec["outcome"]["outputs"]["deployment_id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_ne!(id, before);
    // Waited until stable: the new deployment alone, PRIMARY and COMPLETED, running == desired.
    let (primary, all, running, desired) = deployments(&p, REGION).await;
    assert_eq!(primary, id);
    assert_eq!(
        all,
        vec![(id.clone(), "PRIMARY".to_string(), "COMPLETED".to_string())]
    );
    assert_eq!((running, desired), (2, 2));
    assert_eq!(update_service_calls(&p), 1);

    // The same run again (a resume of the finished run) starts nothing.
    let runs: Vec<_> = std::fs::read_dir(d.dir().join("state").join("runs"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().into_string().unwrap())
        .collect();
    let again = d.run(&["resume", &runs[0]], &[]);
    again.assert_exit(0);
    assert!(
        again.text().contains("status: succeeded"),
        "{}",
        again.text()
    );
    let starts = d
        .journal()
        .iter()
        .filter(|r| r["type"] == "step_started" && r["step"] == "redeploy")
        .count();
    assert_eq!(starts, 1, "the finished step ran again");
    assert_eq!(update_service_calls(&p), 1, "{}", again.text());
    assert_eq!(deployments(&p, REGION).await.0, id);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_redeploy_killed_while_it_waits_resumes_and_waits_for_its_own_deployment() {
    let p = unique_prefix("ecs_resume");
    service(&p, REGION, 2, 6.0).await;
    let (before, _, _, _) = deployments(&p, REGION).await;
    // Created with the 6 s delay set afterwards: already stable.
    let d = Drill::new();
    let rb = runbook(
        &d,
        "redeploy",
        "redeploy",
        "ecs.redeploy",
        REGION,
        &svc_with(&p),
    );
    let mut child = crate::support::cli::bin()
        .args(["run", &rb, "--execute", "--yes", "--state-dir"])
        .arg(d.dir().join("state"))
        .envs(emulator().env())
        .current_dir(d.dir())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn();
    // Killed once its deployment is rolling out (started, not yet stable).
    let started = poll(Duration::from_secs(30), || {
        let p = p.clone();
        let before = before.clone();
        async move {
            let (primary, all, _, _) = deployments(&p, REGION).await;
            (primary != before && all.len() == 2).then_some(primary)
        }
    })
    .await
    .expect("the redeploy started a deployment");
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(update_service_calls(&p), 1);

    let runs: Vec<_> = std::fs::read_dir(d.dir().join("state").join("runs"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().into_string().unwrap())
        .collect();
    let out = d.run(&["resume", &runs[0]], &[]);
    out.assert_exit(0);
    let rec = succeeded(&d.journal(), "redeploy");
    assert_eq!(rec["outcome"]["outputs"]["deployment_id"], started.as_str());
    assert_eq!(
        update_service_calls(&p),
        1,
        "the resume started another deployment"
    );
    let (primary, all, running, desired) = deployments(&p, REGION).await;
    assert_eq!(primary, started);
    assert_eq!(all.len(), 1, "{all:?}");
    assert_eq!((running, desired), (2, 2));
}

/// A step timeout while waiting ends the attempt; the retry finds the deployment the first
/// attempt started (the journaled `deployment_before` differs from the PRIMARY) and waits for it.
#[tokio::test(flavor = "multi_thread")]
async fn a_redeploy_retried_after_a_timeout_waits_for_the_deployment_it_started() {
    let p = unique_prefix("ecs_retry");
    service(&p, REGION, 2, 5.0).await;
    let (before, _, _, _) = deployments(&p, REGION).await;
    let d = Drill::new();
    let text = format!(
        "version: 1\nname: retry\nsteps:\n  - id: redeploy\n    action: ecs.redeploy\n    region: {REGION}\n    timeout: 2s\n    retry: {{ attempts: 6, backoff: 1s }}\n    with: {}\n",
        svc_with(&p)
    );
    let rb = d.dir().join("retry.yaml");
    std::fs::write(&rb, text).unwrap();
    let out = d.run(&["run", rb.to_str().unwrap(), "--execute", "--yes"], &[]);
    out.assert_exit(0);
    let journal = d.journal();
    let rec = succeeded(&journal, "redeploy");
    assert!(rec["attempts"].as_u64().unwrap() >= 2, "{rec}");
    let id = rec["outcome"]["outputs"]["deployment_id"].as_str().unwrap();
    assert_ne!(id, before);
    assert_eq!(
        update_service_calls(&p),
        1,
        "a retry started another deployment"
    );
    let (primary, all, _, _) = deployments(&p, REGION).await;
    assert_eq!(primary, id);
    assert_eq!(all.len(), 1, "{all:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn scale_to_three_twice_makes_one_update_and_waits_for_the_tasks() {
    let p = unique_prefix("ecs_scale");
    service(&p, REGION, 1, 1.0).await;
    let with = format!("{{ cluster: {p}cluster, service: {p}svc, desired: 3 }}");
    for round in 0..2 {
        let d = Drill::new();
        let rb = runbook(&d, "scale", "scale", "ecs.scale", REGION, &with);
        let out = d.run(&["run", &rb, "--execute", "--yes"], &[]);
        out.assert_exit(0);
        let rec = succeeded(&d.journal(), "scale");
        assert_eq!(rec["outcome"]["outputs"]["desired"], "3", "{rec}");
        let changes = rec["outcome"]["changes"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        assert_eq!(changes.len(), 1 - round, "round {round}: {rec}");
        // Waited: running has reached desired.
        let (_, _, running, desired) = deployments(&p, REGION).await;
        assert_eq!((running, desired), (3, 3), "round {round}");
    }
    assert_eq!(update_service_calls(&p), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn put_parameter_sets_state_once_and_never_shows_a_secure_value() {
    let p = unique_prefix("ssm_put");
    // In a second Region: the parameter lives where the step says.
    let name = format!("/{p}app/db/password");
    let secret = format!("{p}-hunter2-Secret");
    let with = format!("{{ name: \"{name}\", value: \"{secret}\", type: SecureString }}");
    let mut versions = vec![];
    for round in 0..2 {
        let d = Drill::new();
        let rb = runbook(&d, "param", "put", "ssm.put_parameter", SECOND, &with);
        let out = d.run(&["run", &rb, "--execute", "--yes"], &[]);
        out.assert_exit(0);
        let journal = d.journal();
        let rec = succeeded(&journal, "put");
        versions.push(
            rec["outcome"]["outputs"]["version"]
                .as_str()
                .unwrap()
                .to_string(),
        );
        let changes = rec["outcome"]["changes"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        assert_eq!(changes.len(), 1 - round, "round {round}: {rec}");
        let raw = serde_json::to_string(&journal).unwrap();
        assert!(!raw.contains(&secret), "the journal holds the value: {raw}");
        assert!(!out.text().contains(&secret), "{}", out.text());
    }
    assert_eq!(versions, vec!["1", "1"]);
    // A value too short to be registered as a secret (under 8 characters) is not shown either:
    // the action itself never writes it.
    let short = "Zq7xk9";
    let d = Drill::new();
    let short_with =
        format!("{{ name: \"{name}-short\", value: \"{short}\", type: SecureString }}");
    let rb = runbook(&d, "short", "put", "ssm.put_parameter", SECOND, &short_with);
    let out = d.run(&["run", &rb, "--execute", "--yes"], &[]);
    out.assert_exit(0);
    let raw = serde_json::to_string(&d.journal()).unwrap();
    assert!(!raw.contains(short), "the journal holds the value: {raw}");
    assert!(!out.text().contains(short), "{}", out.text());
    let puts = emulator()
        .mutating_calls_matching_any(&[&format!("\"{name}\"")])
        .iter()
        .filter(|r| r.label().ends_with("PutParameter"))
        .count();
    assert_eq!(puts, 1);
    let got = ssm(SECOND)
        .await
        .get_parameter()
        .name(&name)
        .with_decryption(true)
        .send()
        .await
        .unwrap();
    let got = got.parameter().unwrap();
    assert_eq!(got.value(), Some(secret.as_str()));
    assert_eq!(got.r#type().map(|t| t.as_str()), Some("SecureString"));
    // Not in the step's Region's neighbour: the first Region has no such parameter.
    assert!(
        ssm(REGION)
            .await
            .get_parameter()
            .name(&name)
            .send()
            .await
            .is_err()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn put_parameter_overwrites_a_changed_value_and_assert_parameter_checks_it() {
    let p = unique_prefix("ssm_assert");
    let name = format!("/{p}app/db/host");
    let put = |value: &str| format!("{{ name: \"{name}\", value: \"{value}\" }}");
    let d = Drill::new();
    let rb = runbook(
        &d,
        "p1",
        "put",
        "ssm.put_parameter",
        REGION,
        &put("db-old.internal"),
    );
    d.run(&["run", &rb, "--execute", "--yes"], &[])
        .assert_exit(0);
    let d = Drill::new();
    let rb = runbook(
        &d,
        "p2",
        "put",
        "ssm.put_parameter",
        REGION,
        &put("db-new.internal"),
    );
    d.run(&["run", &rb, "--execute", "--yes"], &[])
        .assert_exit(0);
    assert_eq!(
        succeeded(&d.journal(), "put")["outcome"]["outputs"]["version"],
        "2"
    );

    let check = |expect: &str| format!("{{ name: \"{name}\", expect: \"{expect}\" }}");
    let d = Drill::new();
    let rb = runbook(
        &d,
        "a1",
        "check",
        "ssm.assert_parameter",
        REGION,
        &check("db-new.internal"),
    );
    d.run(&["run", &rb], &[]).assert_exit(0);
    let d = Drill::new();
    let rb = runbook(
        &d,
        "a2",
        "check",
        "ssm.assert_parameter",
        REGION,
        &check("db-old.internal"),
    );
    let out = d.run(&["run", &rb], &[]);
    out.assert_exit(1);
    assert!(
        out.text()
            .contains("is `db-new.internal`, not `db-old.internal`"),
        "{}",
        out.text()
    );
}
