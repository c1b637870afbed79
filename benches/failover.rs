//! The region-failover runbook on the emulator, against the same calls made one by one with
//! the AWS CLI, side by side in one run.
//!
//! `cargo bench --bench failover` (release). Starts its own emulator
//! (`localstack/emulator start --state-file <tmp>`), seeds one prefixed copy of the reference
//! system per measurement, and stops the emulator at the end (by the pid in its state file).
//! The AWS CLI comes from `localstack/.venv-awscli` (created with `pip install awscli` on first
//! use); `DRILLBOOK_BENCH_AWS=/path/to/aws` uses another one. Target (issue 5): the whole
//! failover executes in < 3 s against the emulator.
#![expect(clippy::print_stdout, reason = "benches print their figures")]

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common::{Emulator, repo};
use std::time::{Duration, Instant};

const ROUNDS: usize = 3;
const TARGET: Duration = Duration::from_secs(3);

/// The AWS CLI: `DRILLBOOK_BENCH_AWS`, or `localstack/.venv-awscli/bin/aws`, installed with pip
/// on first use. `None` (with the reason) when it cannot be installed.
fn aws_cli() -> Result<PathBuf, String> {
    if let Ok(p) = std::env::var("DRILLBOOK_BENCH_AWS") {
        return Ok(p.into());
    }
    let venv = repo().join("localstack/.venv-awscli");
    let aws = venv.join("bin/aws");
    if aws.exists() {
        return Ok(aws);
    }
    let ok = |c: &mut Command| c.stdout(Stdio::null()).status().is_ok_and(|s| s.success());
    if !ok(Command::new("python3").arg("-m").arg("venv").arg(&venv)) {
        return Err("python3 -m venv failed".into());
    }
    if !ok(Command::new(venv.join("bin/pip")).args(["install", "-q", "awscli"])) {
        return Err("pip install awscli failed".into());
    }
    Ok(aws)
}

fn str_at<'a>(v: &'a serde_json::Value, path: &[&str]) -> &'a str {
    path.iter()
        .fold(v, |v, k| &v[*k])
        .as_str()
        .unwrap_or_else(|| panic!("seed JSON has no {path:?}"))
}

/// The failover with drillbook: `run runbooks/region-failover.yaml --execute` on the seeded copy.
fn drillbook(emu: &Emulator, seed: &serde_json::Value, state: &Path) -> Duration {
    let p = str_at(seed, &["prefix"]);
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_drillbook"));
    cmd.arg("run")
        .arg(repo().join("runbooks/region-failover.yaml"))
        .args(["--execute", "--yes", "--state-dir"])
        .arg(state);
    for (k, v) in [
        ("table", format!("{p}vault")),
        ("key", format!("alias/{p}unolock-root")),
        ("api", format!("{p}unolock-api")),
        ("domain", format!("api.{p}unolock.example")),
        ("zone", format!("{p}unolock.example.")),
        ("record", format!("api.{p}unolock.example")),
        ("alarm", format!("{p}unolock-api-5xx")),
        ("signal_alarm", format!("{p}unolock-failover-signal")),
        ("dns_ttl", "0s".to_string()),
    ] {
        cmd.arg("--var").arg(format!("{k}={v}"));
    }
    emu.env(&mut cmd);
    cmd.stdin(Stdio::null()).stdout(Stdio::null());
    let start = Instant::now();
    let out = cmd.output().expect("run drillbook");
    let took = start.elapsed();
    assert!(
        out.status.success(),
        "drillbook failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    took
}

/// The same failover as the runbook, one AWS CLI call at a time (the checks, the KMS
/// promotion, the failover signal: the signal alarm read and its metric published, the DNS
/// answer), the way an operator would script it.
fn cli(emu: &Emulator, aws: &Path, seed: &serde_json::Value) -> (Duration, usize) {
    let p = str_at(seed, &["prefix"]).to_string();
    let sec = "eu-west-1";
    let zone = str_at(seed, &["route53", "hosted_zone_id"]).to_string();
    let record = str_at(seed, &["route53", "record_name"]).to_string();
    let record_type = str_at(seed, &["route53", "record_type"]).to_string();
    let signal = &seed["route53"]["signal_alarm"];
    let signal_name = str_at(signal, &["name"]).to_string();
    let namespace = str_at(signal, &["namespace"]).to_string();
    let metric = str_at(signal, &["metric"]).to_string();
    let api = str_at(seed, &["regions", sec, "apigateway", "rest_api_id"]).to_string();
    let primary_arn = str_at(seed, &["regions", "ca-central-1", "kms", "arn"]).to_string();
    let key = format!("alias/{p}unolock-root");
    let s = |v: &str| v.to_string();
    let calls: Vec<Vec<String>> = vec![
        vec![
            s("cloudwatch"),
            s("describe-alarms"),
            s("--region"),
            s(sec),
            s("--alarm-names"),
            format!("{p}unolock-api-5xx"),
        ],
        vec![
            s("dynamodb"),
            s("describe-table"),
            s("--region"),
            s(sec),
            s("--table-name"),
            format!("{p}vault"),
        ],
        vec![
            s("dynamodb"),
            s("describe-continuous-backups"),
            s("--region"),
            s(sec),
            s("--table-name"),
            format!("{p}vault"),
        ],
        vec![
            s("kms"),
            s("describe-key"),
            s("--region"),
            s(sec),
            s("--key-id"),
            key.clone(),
        ],
        vec![
            s("kms"),
            s("update-primary-region"),
            s("--region"),
            s("ca-central-1"),
            s("--key-id"),
            primary_arn,
            s("--primary-region"),
            s(sec),
        ],
        vec![
            s("kms"),
            s("describe-key"),
            s("--region"),
            s(sec),
            s("--key-id"),
            key.clone(),
        ],
        vec![
            s("kms"),
            s("encrypt"),
            s("--region"),
            s(sec),
            s("--key-id"),
            key,
            s("--plaintext"),
            s("cHJvYmU="),
        ],
        vec![
            s("apigateway"),
            s("get-stage"),
            s("--region"),
            s(sec),
            s("--rest-api-id"),
            api,
            s("--stage-name"),
            s("prod"),
        ],
        vec![
            s("apigateway"),
            s("get-base-path-mappings"),
            s("--region"),
            s(sec),
            s("--domain-name"),
            format!("api.{p}unolock.example"),
        ],
        vec![
            s("route53"),
            s("list-resource-record-sets"),
            s("--hosted-zone-id"),
            zone.clone(),
        ],
        vec![
            s("cloudwatch"),
            s("describe-alarms"),
            s("--region"),
            s(sec),
            s("--alarm-names"),
            signal_name,
        ],
        vec![
            s("cloudwatch"),
            s("put-metric-data"),
            s("--region"),
            s(sec),
            s("--namespace"),
            namespace,
            s("--metric-name"),
            metric,
            s("--value"),
            s("1"),
            s("--unit"),
            s("Count"),
        ],
        vec![
            s("route53"),
            s("test-dns-answer"),
            s("--hosted-zone-id"),
            zone,
            s("--record-name"),
            record,
            s("--record-type"),
            record_type,
        ],
    ];
    let start = Instant::now();
    for args in &calls {
        let mut cmd = Command::new(aws);
        cmd.args(args).args(["--output", "json"]);
        emu.env(&mut cmd);
        let out = cmd.stdin(Stdio::null()).output().expect("run aws");
        assert!(
            out.status.success(),
            "aws {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    (start.elapsed(), calls.len())
}

/// `drillbook verify-evidence` on the report directory the run wrote (its sealed evidence).
fn verify_evidence(state: &Path) -> Duration {
    let dir = std::fs::read_dir(state.join("reports"))
        .expect("the run wrote reports")
        .flatten()
        .next()
        .expect("one report directory")
        .path();
    let start = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_drillbook"))
        .arg("verify-evidence")
        .arg(&dir)
        .stdin(Stdio::null())
        .output()
        .expect("run drillbook verify-evidence");
    let took = start.elapsed();
    assert!(out.status.success(), "verify-evidence failed: {out:?}");
    took
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() {
    // `cargo bench` passes `--bench`; nothing to filter.
    let tmp = tempfile::tempdir().expect("tempdir");
    let emu = Emulator::start(&tmp.path().join("moto.env"));
    emu.without_delays();
    let aws = aws_cli();
    let tag = std::process::id();
    let (mut ours, mut theirs, mut verify, mut ncalls) = (vec![], vec![], vec![], 0);
    for round in 0..ROUNDS {
        let seed = emu.seed(&format!("bf{tag}r{round}d-"));
        let state = tmp.path().join(format!("state{round}"));
        ours.push(drillbook(&emu, &seed, &state));
        verify.push(verify_evidence(&state));
        if let Ok(aws) = &aws {
            let seed = emu.seed(&format!("bf{tag}r{round}c-"));
            let (t, n) = cli(&emu, aws, &seed);
            theirs.push(t);
            ncalls = n;
        }
    }
    let d = median(ours);
    println!(
        "region-failover on the emulator, median of {ROUNDS} runs (each on a fresh seeded copy)"
    );
    println!(
        "  drillbook run --execute   {:>7.3} s   (target < {} s)   {}",
        d.as_secs_f64(),
        TARGET.as_secs(),
        if d < TARGET { "MET" } else { "MISSED" }
    );
    println!(
        "  (includes writing the reports and sealing the evidence; verify-evidence {:.3} s)",
        median(verify).as_secs_f64()
    );
    match aws {
        Ok(_) => {
            let c = median(theirs);
            println!(
                "  aws CLI, {ncalls} calls one by one {:>7.3} s   ({:.1}x drillbook)",
                c.as_secs_f64(),
                c.as_secs_f64() / d.as_secs_f64()
            );
        }
        Err(e) => println!("  aws CLI                   not measured: {e}"),
    }
}
