//! The shipped failover's DNS switch: a failover signal (`cloudwatch.put_signal`) published in
//! the secondary Region, which the PRIMARY record's health check follows (a CALCULATED check
//! over the endpoint's HTTPS check and a CLOUDWATCH_METRIC check on the signal alarm). Each
//! test seeds its own emulator, so no other test's fault can move the answer: here the signal
//! alone does.

use std::path::Path;
use std::process::Output;

use crate::support::{self, Emulator, Ran, SeedOptions, Seeded, unique_prefix, vars_for};

/// The shipped runbook's variables for `seed`, with its Regions.
fn failover_vars(seed: &Seeded) -> Vec<String> {
    let mut v = vars_for(seed);
    v.extend([
        "--var".to_string(),
        format!("primary={}", seed.primary_region),
        "--var".to_string(),
        format!("secondary={}", seed.secondary_region),
    ]);
    v
}

fn run(emu: &Emulator, dir: &Path, runbook: &Path, vars: &[String]) -> Output {
    crate::support::cli::bin()
        .arg("run")
        .arg(runbook)
        .args(["--execute", "--yes", "--state-dir"])
        .arg(dir.join("state"))
        .args(vars)
        .envs(emu.env())
        .current_dir(dir)
        .output()
}

/// The outcome of the last `step_succeeded` of `step` in any run under `dir`.
fn outcome(dir: &Path, step: &str) -> serde_json::Value {
    let runs = dir.join("state").join("runs");
    let mut found = None;
    for run in std::fs::read_dir(&runs).unwrap().flatten() {
        let text = std::fs::read_to_string(run.path().join("journal.jsonl")).unwrap();
        for line in text.lines() {
            let r: serde_json::Value = serde_json::from_str(line).unwrap();
            if r["type"] == "step_succeeded" && r["step"] == step {
                found = Some(r["outcome"].clone());
            }
        }
    }
    found.unwrap_or_else(|| panic!("no step_succeeded of {step} under {}", runs.display()))
}

/// A one-step runbook that sets the signal `alarm` in `region` to `state`.
fn signal_runbook(dir: &Path, region: &str, alarm: &str, state: &str) -> std::path::PathBuf {
    let path = dir.join(format!("signal-{state}.yaml"));
    std::fs::write(
        &path,
        format!(
            "version: 1\nname: signal-{state}\nsteps:\n  - id: signal\n    action: cloudwatch.put_signal\n    region: {region}\n    with: {{ alarm: \"{alarm}\", state: {state} }}\n    timeout: 1m\n"
        ),
    )
    .unwrap();
    path
}

/// Fails over with the shipped runbook while the primary is healthy: the signal alone moves
/// the answer to the secondary; the answer holds while the primary's endpoint measures
/// healthy; a second run changes nothing; publishing OK fails back to exactly the primary.
async fn signal_failover_holds_until_failback(primary: &str, secondary: &str, fail_back: bool) {
    let emu = support::isolated_emulator(&format!("signal-{primary}"));
    let seed = emu.seed_with(
        &unique_prefix("signal"),
        &SeedOptions::regions(primary, secondary),
    );
    let r = &seed.route53;
    let signal = r.signal_alarm.as_ref().expect("the seed's failover signal");
    assert_eq!(
        signal.region, secondary,
        "the signal lives in the secondary"
    );
    let endpoint_check = r.endpoint_health_check_id.clone().unwrap();
    assert_eq!(seed.dns_answer_at(&emu).await, r.primary_target, "before");

    let dir = tempfile::tempdir().unwrap();
    let runbook = support::repo_root().join("runbooks/region-failover.yaml");
    let out = run(&emu, dir.path(), &runbook, &failover_vars(&seed));
    out.assert_exit(0);
    let switched = outcome(dir.path(), "switch-dns");
    assert_eq!(switched["outputs"]["state"], "ALARM", "{switched}");
    assert_eq!(switched["outputs"]["value"], "1", "{switched}");
    assert!(
        switched["outputs"]["metric"]
            .as_str()
            .unwrap()
            .starts_with("Unolock/Failover/FailoverRequested"),
        "{switched}"
    );
    let verified = outcome(dir.path(), "verify-dns");
    assert_eq!(verified["outputs"]["same"], "true", "{verified}");
    // The answer's TTL is longer than the runbook's wait (dns_ttl=0s here): the reports say
    // what the recovery time leaves out.
    let ttl = verified["outputs"]["ttl"]
        .as_str()
        .expect("the answer's TTL");
    let note = format!(
        "resolver caching is not in the recovery time: `verify-dns` answered with a TTL of {ttl}s"
    );
    assert!(out.text().contains(&note), "{}", out.text());
    assert_eq!(seed.dns_answer_at(&emu).await, r.secondary_target);

    // The primary's endpoint measures healthy: the answer stays, since the signal holds.
    emu.set_health(&endpoint_check, true);
    assert_eq!(
        seed.dns_answer_at(&emu).await,
        r.secondary_target,
        "the answer held while the primary measured healthy"
    );

    // Again: the signal is already set, nothing is published.
    let again = tempfile::tempdir().unwrap();
    run(&emu, again.path(), &runbook, &failover_vars(&seed)).assert_exit(0);
    let second = outcome(again.path(), "switch-dns");
    assert!(
        second["changes"].as_array().is_none_or(|c| c.is_empty()),
        "{second}"
    );
    assert!(
        second["summary"]
            .as_str()
            .unwrap()
            .contains("already ALARM")
    );

    if !fail_back {
        return;
    }
    // Failback is a decision: publish OK. The alarm's statistic is the period's Maximum, so it
    // goes OK once the failover data point has left its 60 s period.
    let back = signal_runbook(dir.path(), secondary, &signal.name, "OK");
    run(&emu, dir.path(), &back, &[]).assert_exit(0);
    assert_eq!(
        seed.dns_answer_at(&emu).await,
        r.primary_target,
        "failed back"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn signal_failover_moves_traffic_by_itself_and_holds_until_failback() {
    signal_failover_holds_until_failback("ca-central-1", "eu-west-1", true).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn signal_failover_on_another_region_pair() {
    signal_failover_holds_until_failback("us-west-2", "ap-southeast-2", false).await;
}

/// A signal alarm that treats missing data as anything but `ignore` would lapse when its data
/// point ages out and send traffic back with no decision: refused before anything is
/// published, naming the setting.
#[tokio::test(flavor = "multi_thread")]
async fn a_signal_that_would_lapse_is_refused() {
    let emu = support::emulator();
    let seed = emu.seed(&unique_prefix("lapse"));
    let dir = tempfile::tempdir().unwrap();
    // The API's 5xx alarm treats missing data as notBreaching.
    let rb = signal_runbook(
        dir.path(),
        &seed.secondary_region,
        &format!("{}unolock-api-5xx", seed.prefix),
        "ALARM",
    );
    let out = run(emu, dir.path(), &rb, &[]);
    out.assert_exit(1);
    let all = out.text();
    assert!(
        all.contains("treats missing data as `notBreaching`"),
        "{all}"
    );
    assert!(all.contains("TreatMissingData to `ignore`"), "{all}");
    let published = emu
        .mutating_calls_matching_any(&[&seed.prefix])
        .into_iter()
        .filter(|r| r.label() == "PutMetricData")
        .count();
    assert_eq!(published, 0, "nothing published");
}
