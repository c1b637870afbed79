//! ECS deployments take time (localstack/drillbook_ext/ecs.py). ECS API reference,
//! "Deployment": a deployment's rolloutState is IN_PROGRESS, then COMPLETED "when the service
//! reaches a steady state"; ECS developer guide, "Deploy Amazon ECS services by replacing
//! tasks": a forced new deployment replaces the tasks of the previous one, which stays (ACTIVE)
//! until the new one is done. A new desiredCount keeps the deployment; runningCount reaches it
//! as tasks start. Region: ap-southeast-7 (no test faults it).

use std::time::Duration;

use crate::support::{emulator, poll, unique_prefix};

const REGION: &str = "ap-southeast-7";

async fn client() -> aws_sdk_ecs::Client {
    aws_sdk_ecs::Client::new(&emulator().sdk_config(REGION).await)
}

/// (every deployment's (status, rolloutState), runningCount, desiredCount).
async fn state(c: &aws_sdk_ecs::Client, p: &str) -> (Vec<(String, String)>, i32, i32) {
    let out = c
        .describe_services()
        .cluster(format!("{p}cluster"))
        .services(format!("{p}svc"))
        .send()
        .await
        .unwrap();
    let s = &out.services()[0];
    let deps = s
        .deployments()
        .iter()
        .map(|d| {
            (
                d.status().unwrap_or_default().to_string(),
                d.rollout_state()
                    .map(|r| r.as_str().to_string())
                    .unwrap_or_default(),
            )
        })
        .collect();
    (deps, s.running_count(), s.desired_count())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_forced_deployment_rolls_out_beside_the_old_one_then_replaces_it() {
    let p = unique_prefix("fid_ecs");
    emulator().configure(serde_json::json!({"prefix": p, "ecs_deployment_seconds": 2}));
    let c = client().await;
    c.create_cluster()
        .cluster_name(format!("{p}cluster"))
        .send()
        .await
        .unwrap();
    c.create_service()
        .cluster(format!("{p}cluster"))
        .service_name(format!("{p}svc"))
        .desired_count(2)
        .send()
        .await
        .unwrap();
    // A new service's first deployment starts its tasks: none running yet.
    let (deps, running, desired) = state(&c, &p).await;
    assert_eq!(deps, vec![("PRIMARY".into(), "IN_PROGRESS".into())]);
    assert_eq!((running, desired), (0, 2));
    let done = || async {
        let (deps, running, desired) = state(&c, &p).await;
        (deps == vec![("PRIMARY".to_string(), "COMPLETED".to_string())] && running == desired)
            .then_some(running)
    };
    assert_eq!(poll(Duration::from_secs(10), done).await, Some(2));

    c.update_service()
        .cluster(format!("{p}cluster"))
        .service(format!("{p}svc"))
        .force_new_deployment(true)
        .send()
        .await
        .unwrap();
    let (deps, running, _) = state(&c, &p).await;
    assert_eq!(
        deps,
        vec![
            ("PRIMARY".into(), "IN_PROGRESS".into()),
            ("ACTIVE".into(), "COMPLETED".into())
        ]
    );
    assert_eq!(running, 2, "the old tasks run until replaced");
    assert_eq!(poll(Duration::from_secs(10), done).await, Some(2));

    // A new desiredCount: the same deployment, running reaches it after the delay.
    c.update_service()
        .cluster(format!("{p}cluster"))
        .service(format!("{p}svc"))
        .desired_count(4)
        .send()
        .await
        .unwrap();
    let (deps, running, desired) = state(&c, &p).await;
    assert_eq!(deps.len(), 1, "{deps:?}");
    assert_eq!((running, desired), (2, 4));
    assert_eq!(poll(Duration::from_secs(10), done).await, Some(4));
}
