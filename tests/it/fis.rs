//! Drills whose outage AWS injects (a scenario's `faults:`, AWS Fault Injection Service), run as
//! the built binary against the emulator: the experiment starts before the runbook's first
//! step, is recorded in the journal and the reports, and is stopped when the drill ends; a
//! drill paused for an approval keeps it, and its resume finds it again instead of starting
//! another.

use std::path::{Path, PathBuf};
use std::process::Output;

use aws_sdk_fis::types::ExperimentStatus;

use crate::support::{self, Emulator, Ran, SeedOptions, Seeded, emulator, unique_prefix};

/// The journal of the only run in `state`.
fn journal(state: &Path) -> Vec<serde_json::Value> {
    let runs: Vec<_> = std::fs::read_dir(state.join("runs"))
        .unwrap()
        .flatten()
        .collect();
    assert_eq!(runs.len(), 1, "one run expected");
    std::fs::read_to_string(runs[0].path().join("journal.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn of_type<'a>(records: &'a [serde_json::Value], t: &str) -> Vec<&'a serde_json::Value> {
    records.iter().filter(|r| r["type"] == t).collect()
}

/// `--var` arguments pointing the shipped failover runbook at `seed`, with its Regions.
fn vars(seed: &Seeded) -> Vec<String> {
    let p = &seed.prefix;
    [
        ("primary", seed.primary_region.clone()),
        ("secondary", seed.secondary_region.clone()),
        ("table", format!("{p}vault")),
        ("key", format!("alias/{p}unolock-root")),
        ("api", format!("{p}unolock-api")),
        ("domain", format!("api.{p}unolock.example")),
        ("zone", format!("{p}unolock.example.")),
        ("record", format!("api.{p}unolock.example")),
        ("alarm", format!("{p}unolock-api-5xx")),
        ("signal_alarm", format!("{p}unolock-failover-signal")),
        (
            "fis_template",
            seed.raw["fis"]["experiment_template_id"]
                .as_str()
                .expect("the seed prints its FIS template")
                .to_string(),
        ),
    ]
    .into_iter()
    .flat_map(|(k, v)| ["--var".to_string(), format!("{k}={v}")])
    .collect()
}

fn drill(emu: &Emulator, dir: &Path, scenario: &Path, extra: &[String]) -> Output {
    crate::support::cli::bin()
        .arg("drill")
        .arg(scenario)
        .args(["--execute", "--yes"])
        .args(extra)
        .arg("--state-dir")
        .arg(dir.join("state"))
        .envs(emu.env())
        .current_dir(dir)
        .output()
}

async fn fis_client(emu: &Emulator, region: &str) -> aws_sdk_fis::Client {
    aws_sdk_fis::Client::new(&emu.sdk_config(region).await)
}

async fn experiment_status(emu: &Emulator, region: &str, id: &str) -> ExperimentStatus {
    fis_client(emu, region)
        .await
        .get_experiment()
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

/// The shipped `scenarios/ca-central-1-fis-outage.yaml` on `primary`/`secondary`: the drill
/// starts the seeded FIS template (disrupt the primary's application subnets) before the
/// first step; Route 53's health check sees the primary fail, so the name already answers the
/// secondary when `switch-dns` looks (it changes nothing); the expectations hold while the
/// experiment runs; the drill ends with the experiment stopped, recorded in the journal
/// (`fault_injected`, `fault_stopped`) and in the report, and the primary healthy again.
async fn fis_outage_drill(primary: &str, secondary: &str) {
    let emu = support::isolated_emulator(&format!("fis-drill-{primary}"));
    let seed = emu.seed_with(
        &unique_prefix("fis_drill"),
        &SeedOptions::regions(primary, secondary),
    );
    let dir = tempfile::tempdir().unwrap();
    let scenario = support::repo_root().join("scenarios/ca-central-1-fis-outage.yaml");
    let out = drill(&emu, dir.path(), &scenario, &vars(&seed));
    let all = out.text();
    out.assert_exit(0);
    for want in [
        "PASS  dns-answers-from-secondary",
        "PASS  dns-answers-over-dns",
        "PASS  promotion-made",
        "PASS  data-in-secondary",
        "drill `ca-central-1-fis-outage` PASSED",
    ] {
        assert!(all.contains(want), "missing `{want}` in:\n{all}");
    }

    let records = journal(&dir.path().join("state"));
    let injected = of_type(&records, "fault_injected");
    assert_eq!(injected.len(), 1, "{records:#?}");
    let e = &injected[0]["experiment"];
    let id = e["id"].as_str().unwrap().to_string();
    assert!(id.starts_with("EXP"), "{e}");
    assert_eq!(e["state"], "running");
    assert_eq!(e["region"], primary);
    assert_eq!(e["template"], seed.raw["fis"]["experiment_template_id"]);
    assert_eq!(e["actions"][0], "aws:network:disrupt-connectivity");
    // Before the first step, with the scenario.
    let at = |t: &str| records.iter().position(|r| r["type"] == t).unwrap();
    assert!(at("drill_started") < at("fault_injected"));
    assert!(at("fault_injected") < at("step_started"));
    // Route 53's health check may already have moved the answer (the FIS outage at the
    // server); switch-dns still set the failover signal, so the answer holds when the primary
    // recovers.
    let switch = records
        .iter()
        .find(|r| r["type"] == "step_succeeded" && r["step"] == "switch-dns")
        .expect("switch-dns succeeded");
    assert!(
        switch["outcome"]["changes"]
            .as_array()
            .is_some_and(|c| c.len() == 1
                && c[0]
                    .as_str()
                    .unwrap()
                    .starts_with("publish 1 to Unolock/Failover")),
        "{switch}"
    );
    // The DNS switch waited for the secondary's stage to answer on its data plane (http.probe),
    // while the experiment had the primary's endpoints down.
    let probe = records
        .iter()
        .find(|r| r["type"] == "step_succeeded" && r["step"] == "api-probe")
        .expect("api-probe succeeded");
    assert_eq!(probe["outcome"]["outputs"]["status"], "200", "{probe}");
    let started = |step: &str| {
        records
            .iter()
            .position(|r| r["type"] == "step_started" && r["step"] == step)
            .unwrap()
    };
    let probed = records
        .iter()
        .position(|r| r["type"] == "step_succeeded" && r["step"] == "api-probe")
        .unwrap();
    assert!(probed < started("switch-dns"));
    // Judged while the fault acted, then stopped.
    assert!(at("drill_judged") < at("fault_stopped"));
    let stopped = of_type(&records, "fault_stopped");
    assert_eq!(stopped.len(), 1);
    assert_eq!(stopped[0]["experiment"]["id"], id.as_str());
    assert_eq!(stopped[0]["experiment"]["state"], "stopped");
    assert!(stopped[0]["experiment"]["ended_at"].is_string());
    assert_eq!(
        experiment_status(&emu, primary, &id).await,
        ExperimentStatus::Stopped
    );
    assert_eq!(emu.faults()["faults"], serde_json::json!([]));
    // The primary is healthy again (the experiment stopped; its measured health forced
    // healthy here too): the name still answers the secondary, since only a failback (an
    // operator's decision) takes traffic back.
    emu.set_health(
        seed.route53
            .endpoint_health_check_id
            .as_deref()
            .expect("the seed's endpoint check"),
        true,
    );
    assert_eq!(
        seed.dns_answer_at(&emu).await,
        seed.route53.secondary_target,
        "the answer held after the primary recovered"
    );

    // The reports show the experiment with its state and times.
    let reports: Vec<_> = std::fs::read_dir(dir.path().join("state").join("reports"))
        .unwrap()
        .flatten()
        .collect();
    let report = reports[0].path();
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(report.join("report.json")).unwrap())
            .unwrap();
    let fault = &doc["faults"][0];
    assert_eq!(fault["id"], id.as_str());
    assert_eq!(fault["state"], "stopped");
    for t in ["started_at", "running_at", "ended_at"] {
        assert!(fault[t].is_string(), "{t} in {fault}");
    }
    let md = std::fs::read_to_string(report.join("report.md")).unwrap();
    assert!(md.contains("## Faults injected by AWS FIS"), "{md}");
    assert!(md.contains(&id), "{md}");
    let html = std::fs::read_to_string(report.join("report.html")).unwrap();
    assert!(html.contains(&id));
    // The evidence (journal included) is intact.
    let v = crate::support::cli::bin()
        .arg("verify-evidence")
        .arg(&report)
        .output();
    v.assert_exit(0);
}

#[tokio::test(flavor = "multi_thread")]
async fn fis_outage_drill_records_its_experiment_and_ends_with_it_stopped() {
    fis_outage_drill("ca-central-1", "eu-west-1").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn fis_outage_drill_on_another_region_pair() {
    fis_outage_drill("us-west-2", "ap-southeast-2").await;
}

const RUNNER: &str = "arn:aws:iam::123456789012:user/oncall";
const APPROVER: &str = "arn:aws:iam::123456789012:user/incident-commander";

/// A runbook with an approval gate, and a scenario whose fault is an FIS template in `region`
/// (API errors for a role no one uses: it disturbs nothing else on the shared emulator).
fn write_gated(dir: &Path, template: &str, region: &str) -> PathBuf {
    std::fs::write(
        dir.join("gated.yaml"),
        "version: 1\nname: gated\napprovers: { allow_unsigned: true }\nvars:\n  fis_template: \"\"\n\
         steps:\n  - id: gate\n    action: approval\n    with: { message: Go on }\n\
         \x20 - id: after\n    action: wait\n    needs: [gate]\n    with: { duration: 0s }\n",
    )
    .unwrap();
    let scenario = dir.join("gated-fis.yaml");
    std::fs::write(
        &scenario,
        format!(
            "version: 1\nname: gated-fis\nrunbook: gated.yaml\nvars: {{ fis_template: {template} }}\n\
             faults:\n  - fis: {{ template: \"{{{{ vars.fis_template }}}}\", region: {region} }}\n\
             expect:\n  - {{ id: after-ran, step: after }}\n"
        ),
    )
    .unwrap();
    scenario
}

fn as_who(emu: &Emulator, dir: &Path, who: &str, args: &[&str]) -> Output {
    crate::support::cli::bin()
        .args(args)
        .arg("--state-dir")
        .arg(dir.join("state"))
        .envs(emu.env())
        .identity(who)
        .current_dir(dir)
        .output()
}

/// A drill paused for an approval keeps its experiment running (the outage goes on while the
/// approver decides); `drillbook resume` finds it in the journal, starts no other, and stops it
/// at the drill's end.
#[tokio::test(flavor = "multi_thread")]
async fn fis_drill_paused_for_approval_keeps_its_experiment_and_the_resume_stops_it() {
    let emu = emulator();
    let p = unique_prefix("fis_pause");
    emu.fast(&p);
    let region = "af-south-1";
    let fis = fis_client(emu, region).await;
    let template = fis
        .create_experiment_template()
        .description(format!("{p} api errors"))
        .role_arn("arn:aws:iam::123456789012:role/fis")
        .tags("Name", &p)
        .stop_conditions(
            aws_sdk_fis::types::CreateExperimentTemplateStopConditionInput::builder()
                .source("none")
                .build()
                .unwrap(),
        )
        .targets(
            "roles",
            aws_sdk_fis::types::CreateExperimentTemplateTargetInput::builder()
                .resource_type("aws:iam:role")
                .resource_arns(format!("arn:aws:iam::123456789012:role/{p}nobody"))
                .selection_mode("ALL")
                .build()
                .unwrap(),
        )
        .actions(
            "errors",
            aws_sdk_fis::types::CreateExperimentTemplateActionInput::builder()
                .action_id("aws:fis:inject-api-unavailable-error")
                .targets("Roles", "roles")
                .parameters("duration", "PT30M")
                .parameters("service", "dynamodb")
                .parameters("percentage", "100")
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap()
        .experiment_template()
        .unwrap()
        .id()
        .unwrap()
        .to_string();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let scenario = write_gated(d, &template, region);
    let scenario = scenario.to_str().unwrap();

    let out = as_who(emu, d, RUNNER, &["drill", scenario, "--execute", "--yes"]);
    let all = out.text();
    out.assert_exit(3);
    assert!(
        all.contains("keeps running while the drill awaits"),
        "{all}"
    );
    let records = journal(&d.join("state"));
    let injected = of_type(&records, "fault_injected");
    assert_eq!(injected.len(), 1, "{records:#?}");
    let id = injected[0]["experiment"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(of_type(&records, "fault_stopped").is_empty());
    assert_eq!(
        experiment_status(emu, region, &id).await,
        ExperimentStatus::Running,
        "kept running during the pause"
    );
    let run_id = records[0]["run_id"].as_str().unwrap().to_string();

    as_who(emu, d, APPROVER, &["approve", &run_id, "gate"]).assert_exit(0);
    let out = as_who(emu, d, RUNNER, &["resume", &run_id, "--yes"]);
    let all = out.text();
    out.assert_exit(0);
    assert!(all.contains("drill `gated-fis` PASSED"), "{all}");
    let records = journal(&d.join("state"));
    assert_eq!(
        of_type(&records, "fault_injected").len(),
        1,
        "no second start"
    );
    let stopped = of_type(&records, "fault_stopped");
    assert_eq!(stopped.len(), 1, "{records:#?}");
    assert_eq!(stopped[0]["experiment"]["id"], id.as_str());
    assert_eq!(stopped[0]["experiment"]["state"], "stopped");
    let listed = fis
        .list_experiments()
        .experiment_template_id(&template)
        .send()
        .await
        .unwrap();
    assert_eq!(listed.experiments().len(), 1, "{listed:?}");
    assert_eq!(
        experiment_status(emu, region, &id).await,
        ExperimentStatus::Stopped
    );
}

/// A drill whose experiment does not run (its targets resolve to nothing: FIS fails it) stops
/// before its runbook, says why, and leaves no run behind.
#[tokio::test(flavor = "multi_thread")]
async fn fis_drill_stops_before_the_runbook_when_its_experiment_fails() {
    let emu = emulator();
    let p = unique_prefix("fis_fail");
    emu.fast(&p);
    let region = "eu-north-1";
    let fis = fis_client(emu, region).await;
    let template = fis
        .create_experiment_template()
        .description(format!("{p} no subnets"))
        .role_arn("arn:aws:iam::123456789012:role/fis")
        .tags("Name", &p)
        .stop_conditions(
            aws_sdk_fis::types::CreateExperimentTemplateStopConditionInput::builder()
                .source("none")
                .build()
                .unwrap(),
        )
        .targets(
            "subnets",
            aws_sdk_fis::types::CreateExperimentTemplateTargetInput::builder()
                .resource_type("aws:ec2:subnet")
                .resource_tags("Name", format!("{p}no-such-subnet"))
                .selection_mode("ALL")
                .build()
                .unwrap(),
        )
        .actions(
            "cut",
            aws_sdk_fis::types::CreateExperimentTemplateActionInput::builder()
                .action_id("aws:network:disrupt-connectivity")
                .targets("Subnets", "subnets")
                .parameters("duration", "PT5M")
                .parameters("scope", "all")
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap()
        .experiment_template()
        .unwrap()
        .id()
        .unwrap()
        .to_string();
    let dir = tempfile::tempdir().unwrap();
    let scenario = write_gated(dir.path(), &template, region);
    let out = drill(emu, dir.path(), &scenario, &[]);
    let all = out.text();
    out.assert_exit(1);
    assert!(all.contains("is failed"), "{all}");
    assert!(all.contains("Target resolution failed"), "{all}");
    assert!(all.contains("nothing of the runbook ran"), "{all}");
    assert!(
        !dir.path().join("state").join("runs").exists()
            || std::fs::read_dir(dir.path().join("state").join("runs"))
                .unwrap()
                .next()
                .is_none(),
        "no run was recorded"
    );
}

/// Ctrl-C during a drill: the run pauses (exit 3) and the drill stops its experiment on the way
/// out (`fault_stopped`): an interrupted game day leaves no outage running. Its resume starts
/// none again and finishes the runbook.
#[tokio::test(flavor = "multi_thread")]
async fn fis_drill_interrupted_stops_its_experiment() {
    use std::time::{Duration, Instant};
    let emu = emulator();
    let p = unique_prefix("fis_ctrl_c");
    emu.fast(&p);
    let region = "ap-northeast-3";
    let fis = fis_client(emu, region).await;
    let template = fis
        .create_experiment_template()
        .description(format!("{p} api errors"))
        .role_arn("arn:aws:iam::123456789012:role/fis")
        .tags("Name", &p)
        .stop_conditions(
            aws_sdk_fis::types::CreateExperimentTemplateStopConditionInput::builder()
                .source("none")
                .build()
                .unwrap(),
        )
        .targets(
            "roles",
            aws_sdk_fis::types::CreateExperimentTemplateTargetInput::builder()
                .resource_type("aws:iam:role")
                .resource_arns(format!("arn:aws:iam::123456789012:role/{p}nobody"))
                .selection_mode("ALL")
                .build()
                .unwrap(),
        )
        .actions(
            "errors",
            aws_sdk_fis::types::CreateExperimentTemplateActionInput::builder()
                .action_id("aws:fis:inject-api-throttle-error")
                .targets("Roles", "roles")
                .parameters("duration", "PT30M")
                .parameters("service", "kms")
                .parameters("percentage", "50")
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap()
        .experiment_template()
        .unwrap()
        .id()
        .unwrap()
        .to_string();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let mut steps = String::new();
    for i in 1..=8 {
        let needs = if i > 1 {
            format!("\n    needs: [s{}]", i - 1)
        } else {
            String::new()
        };
        steps.push_str(&format!(
            "  - id: s{i}\n    action: wait{needs}\n    with: {{ duration: 300ms }}\n"
        ));
    }
    std::fs::write(
        d.join("waits.yaml"),
        format!("version: 1\nname: waits\nvars:\n  fis_template: \"\"\nsteps:\n{steps}"),
    )
    .unwrap();
    std::fs::write(
        d.join("waits-fis.yaml"),
        format!(
            "version: 1\nname: waits-fis\nrunbook: waits.yaml\nvars: {{ fis_template: {template} }}\n\
             faults:\n  - fis: {{ template: \"{{{{ vars.fis_template }}}}\", region: {region} }}\n"
        ),
    )
    .unwrap();
    let state = d.join("state");
    let child = crate::support::cli::bin()
        .args([
            "drill",
            "waits-fis.yaml",
            "--execute",
            "--yes",
            "--state-dir",
        ])
        .arg(&state)
        .envs(emu.env())
        .current_dir(d)
        .spawn();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let text = std::fs::read_dir(state.join("runs"))
            .ok()
            .and_then(|mut r| r.next())
            .and_then(|e| std::fs::read_to_string(e.ok()?.path().join("journal.jsonl")).ok())
            .unwrap_or_default();
        if text.contains("\"type\":\"fault_injected\"")
            && text.contains("\"type\":\"step_succeeded\",\"step\":\"s1\"")
        {
            break;
        }
        assert!(Instant::now() < deadline, "no progress in the journal");
        std::thread::sleep(Duration::from_millis(5));
    }
    // SAFETY: kill(2) on the child's pid has no memory-safety preconditions.
    unsafe {
        libc::kill(child.id() as i32, libc::SIGINT);
    }
    let o = child.wait_with_output().unwrap();
    let all = o.text();
    o.assert_exit(3);
    let records = journal(&state);
    let id = of_type(&records, "fault_injected")[0]["experiment"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let stopped = of_type(&records, "fault_stopped");
    assert_eq!(stopped.len(), 1, "{all}");
    assert_eq!(stopped[0]["experiment"]["state"], "stopped");
    assert_eq!(
        experiment_status(emu, region, &id).await,
        ExperimentStatus::Stopped
    );

    let run_id = records[0]["run_id"].as_str().unwrap().to_string();
    let out = crate::support::cli::bin()
        .args(["resume", &run_id, "--yes", "--state-dir"])
        .arg(&state)
        .envs(emu.env())
        .current_dir(d)
        .output();
    out.assert_exit(0);
    let records = journal(&state);
    assert_eq!(of_type(&records, "fault_injected").len(), 1);
    assert_eq!(of_type(&records, "fault_stopped").len(), 1);
    let listed = fis
        .list_experiments()
        .experiment_template_id(&template)
        .send()
        .await
        .unwrap();
    assert_eq!(listed.experiments().len(), 1, "{listed:?}");
}
