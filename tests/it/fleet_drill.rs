//! A drill across the seeded organization's OU (`drill SCENARIO --ou OU_ID --regions`):
//! each target's damage, recovery and expectations act in its own account, through the role
//! drillbook assumes there, each a drill run with its own verdict; the rollout stops queueing
//! past `--max-errors`, `resume FLEET_ID` drills only the targets that did not pass, and the
//! fleet's evidence verifies as a whole while each target's still verifies on its own.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::drill::Drill;
use crate::fleet::ssm_in;
use crate::support::{Ran, emulator, unique_prefix};

const REGION: &str = "ca-central-1";

async fn put(account: &str, name: &str, value: &str) {
    ssm_in(account, REGION)
        .await
        .put_parameter()
        .name(name)
        .value(value)
        .overwrite(true)
        .r#type(aws_sdk_ssm::types::ParameterType::String)
        .send()
        .await
        .unwrap();
}

async fn get(account: &str, name: &str) -> Option<String> {
    ssm_in(account, REGION)
        .await
        .get_parameter()
        .name(name)
        .send()
        .await
        .ok()
        .and_then(|o| o.parameter?.value)
}

fn fleet_dir(d: &Drill) -> PathBuf {
    let fleets: Vec<_> = std::fs::read_dir(d.dir().join("state/fleets"))
        .unwrap()
        .flatten()
        .collect();
    assert_eq!(fleets.len(), 1, "one fleet expected");
    fleets[0].path()
}

fn read_json(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

fn verify(d: &Drill, what: &str) -> std::process::Output {
    crate::support::cli::bin()
        .args(["verify-evidence", what, "--state-dir"])
        .arg(d.dir().join("state"))
        .output()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_drill_across_an_ou_stops_past_max_errors_resumes_what_did_not_pass_and_its_evidence_verifies()
 {
    let p = unique_prefix("fleetdrill");
    let seeded = std::time::Instant::now();
    let org = crate::organization::seed_accounts(&p, 3, &format!("{p}workloads"));
    eprintln!("seeded 3 accounts in {:?}", seeded.elapsed());
    // The drill names the OU: its accounts, in the order AWS Organizations lists them (the
    // order the rollout takes them in).
    let ou = org["ou"]["id"].as_str().unwrap().to_string();
    let listed = aws_sdk_organizations::Client::new(&emulator().sdk_config("us-east-1").await)
        .list_accounts_for_parent()
        .parent_id(&ou)
        .send()
        .await
        .unwrap();
    let accounts: Vec<String> = listed
        .accounts()
        .iter()
        .filter_map(|a| a.id().map(str::to_string))
        .collect();
    assert_eq!(accounts.len(), 3, "{listed:?}");
    let (ready, mode) = (format!("/{p}app/ready"), format!("/{p}app/mode"));
    // Every account is ready for its recovery, but the second one's parameter is deleted.
    for a in &accounts {
        put(a, &ready, "yes").await;
    }
    ssm_in(&accounts[1], REGION)
        .await
        .delete_parameter()
        .name(&ready)
        .send()
        .await
        .unwrap();

    let d = Drill::new();
    std::fs::write(
        d.dir().join("rb.yaml"),
        format!(
            "version: 1\nname: {p}recover\nvars:\n  region: \"{{{{ target.region }}}}\"\nsteps:\n  - id: ready\n    action: ssm.assert_parameter\n    with: {{ name: \"{ready}\", expect: \"yes\" }}\n    retry: {{ attempts: 1 }}\n  - id: repair\n    action: ssm.put_parameter\n    needs: [ready]\n    with: {{ name: \"{mode}\", value: healthy }}\n"
        ),
    )
    .unwrap();
    let scenario = d.dir().join("scenario.yaml");
    std::fs::write(
        &scenario,
        format!(
            "version: 1\nname: {p}damage\ndescription: the app's mode is broken; the recovery repairs it\nrunbook: rb.yaml\nobjectives:\n  rto: 5m\ninject:\n  - id: break-mode\n    description: the mode is set to broken\n    action: ssm.put_parameter\n    region: \"{{{{ vars.region }}}}\"\n    with: {{ name: \"{mode}\", value: broken }}\nexpect:\n  - id: mode-healthy\n    description: the mode is healthy again\n    action: ssm.assert_parameter\n    region: \"{{{{ vars.region }}}}\"\n    with: {{ name: \"{mode}\", expect: healthy }}\n  - id: repaired\n    description: the repair step ran\n    step: repair\n    status: succeeded\n"
        ),
    )
    .unwrap();

    let started = std::time::Instant::now();
    let out = d.run(
        &[
            "drill",
            scenario.to_str().unwrap(),
            "--execute",
            "--yes",
            "--ou",
            &ou,
            "--regions",
            REGION,
            "--max-concurrency",
            "1",
            "--max-errors",
            "0",
        ],
        &[],
    );
    eprintln!("drill across 3 accounts in {:?}", started.elapsed());
    out.assert_exit(1);
    let text = out.text();
    assert!(
        text.contains("3 targets: 1 succeeded, 1 failed, 0 paused, 1 not started"),
        "{text}"
    );
    let dir = fleet_dir(&d);
    let before = read_json(&dir.join("fleet.json"));
    let fleet_id = before["fleet_id"].as_str().unwrap().to_string();
    assert_eq!(before["scenario"]["name"], format!("{p}damage"), "{before}");
    let t = &before["targets"];
    assert_eq!(t[0]["verdict"], "passed", "{before}");
    assert_eq!(t[1]["status"], "failed", "{before}");
    assert_eq!(t[2]["status"], "not started", "{before}");
    assert!(t[2]["run_id"].is_null(), "{before}");
    // Damage and recovery acted in each drilled account, never in the caller's; the account
    // never started was not damaged.
    assert_eq!(get(&accounts[0], &mode).await.as_deref(), Some("healthy"));
    assert_eq!(get(&accounts[1], &mode).await.as_deref(), Some("broken"));
    assert_eq!(get(&accounts[2], &mode).await, None);
    let own = aws_sdk_ssm::Client::new(&emulator().sdk_config(REGION).await);
    assert!(own.get_parameter().name(&mode).send().await.is_err());
    // Each target's journal is a drill run, and says which target it is.
    let journal = std::fs::read_to_string(
        d.dir()
            .join("state/runs")
            .join(t[0]["run_id"].as_str().unwrap())
            .join("journal.jsonl"),
    )
    .unwrap();
    assert!(
        journal.contains("\"type\":\"fleet_target\"")
            && journal.contains("\"type\":\"drill_judged\"")
            && journal.contains(&accounts[0]),
        "{journal}"
    );

    // The account is fixed; the resume drills the failed and the unstarted targets only.
    put(&accounts[1], &ready, "yes").await;
    let first_run = t[0]["run_id"].as_str().unwrap().to_string();
    let again = d.run(&["resume", &fleet_id], &[]);
    again.assert_exit(0);
    assert!(
        again.text().contains("3 targets: 3 succeeded"),
        "{}",
        again.text()
    );
    assert!(
        !again.text().contains(&format!("[{} ", accounts[0])),
        "the target that passed was drilled again: {}",
        again.text()
    );
    let after = read_json(&dir.join("fleet.json"));
    assert_eq!(after["targets"][0]["run_id"], first_run.as_str());
    for (k, a) in accounts.iter().enumerate() {
        assert_eq!(after["targets"][k]["verdict"], "passed", "{after}");
        assert_eq!(get(a, &mode).await.as_deref(), Some("healthy"), "{a}");
    }
    // `status` counts the fleet as the scenario's passing drill (every target passed; no target
    // alone does), and `history` names each target's account and Region.
    let status = d.run(
        &["status", scenario.to_str().unwrap(), "--format", "json"],
        &[],
    );
    status.assert_exit(0);
    let doc: Value = serde_json::from_slice(&status.stdout).unwrap();
    let row = &doc["runbooks"][0];
    assert_eq!(row["state"], "ok", "{doc}");
    assert_eq!(row["last_pass"]["run_id"], fleet_id.as_str(), "{doc}");
    assert_eq!(row["last_pass"]["targets"], 3, "{doc}");
    let history = d.run(&["history", scenario.to_str().unwrap()], &[]);
    history.assert_exit(0);
    for a in &accounts {
        assert!(
            history.text().contains(&format!("{a} {REGION}")),
            "{}",
            history.text()
        );
    }

    // The fleet reports: JSON per target, the HTML table linking each target's report, JUnit
    // per target and per expectation.
    let report = read_json(&dir.join("report.json"));
    let r0 = &report["targets"][0];
    assert_eq!(r0["account"], accounts[0].as_str(), "{report}");
    assert_eq!(r0["rto"]["target_ms"], 300_000, "{report}");
    assert_eq!(r0["rto"]["verdict"], "met", "{report}");
    assert_eq!(r0["expectations"].as_array().unwrap().len(), 2, "{report}");
    assert!(
        r0["slowest_steps"].as_array().unwrap().len() >= 2,
        "{report}"
    );
    let html = std::fs::read_to_string(dir.join("report.html")).unwrap();
    let link = r0["report_html"].as_str().unwrap();
    assert!(dir.join(link).is_file(), "{link}");
    assert!(html.contains(&format!("href=\"{link}\"")), "{html}");
    let junit = std::fs::read_to_string(dir.join("junit.xml")).unwrap();
    for a in &accounts {
        assert!(junit.contains(&format!("name=\"{a} {REGION}\"")), "{junit}");
        assert!(
            junit.contains(&format!("name=\"{a} {REGION}: mode-healthy\"")),
            "{junit}"
        );
    }
    let manifest = read_json(&dir.join("manifest.json"));
    for f in ["fleet.json", "report.json", "report.html", "junit.xml"] {
        assert!(manifest["files"][f].is_string(), "{f}: {manifest}");
    }

    // The fleet verifies as a whole (by id, and by directory).
    verify(&d, &fleet_id).assert_exit(0);
    verify(&d, dir.to_str().unwrap()).assert_exit(0);
    // One byte of the second account's evidence changed: the fleet fails and names it ...
    let target_dir = PathBuf::from(after["targets"][1]["report_dir"].as_str().unwrap());
    let file = target_dir.join("report.json");
    let mut bytes = std::fs::read(&file).unwrap();
    let at = bytes.iter().position(|&b| b == b'{').unwrap();
    bytes[at] = b'[';
    std::fs::write(&file, bytes).unwrap();
    let tampered = verify(&d, &fleet_id);
    tampered.assert_exit(1);
    let told = tampered.text();
    assert!(
        told.contains(&accounts[1]) && told.contains("report.json") && told.contains("TAMPERED"),
        "{told}"
    );
    // ... while the other accounts' evidence verifies on its own, with nothing from another.
    for k in [0, 2] {
        let own = after["targets"][k]["report_dir"].as_str().unwrap();
        crate::support::cli::bin()
            .args(["verify-evidence", own])
            .output()
            .assert_exit(0);
    }
    // A changed fleet record is named too.
    let record = dir.join("fleet.json");
    let mut bytes = std::fs::read(&record).unwrap();
    bytes.push(b' ');
    std::fs::write(&record, bytes).unwrap();
    let told = verify(&d, dir.to_str().unwrap());
    told.assert_exit(1);
    assert!(
        told.text().contains("fleet.json changed"),
        "{}",
        told.text()
    );
}
