//! The DynamoDB checkpoint store on the emulator (issue 7): the latency of one append, and a
//! 200-step run with `--state dynamodb://...` against the same run with the file store.
//!
//! `cargo bench --bench team_state` (release). Starts and stops its own emulator. Targets:
//! append median < 5 ms; the 200-step run with the DynamoDB store <= 2x the file store.
#![expect(clippy::print_stdout, reason = "benches print their figures")]

mod common;

use std::collections::BTreeMap;
use std::process::Command;
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region};
use common::Emulator;
use drillbook::checkpoint::dynamodb::{DynamoDbStore, StateUrl};
use drillbook::checkpoint::{CheckpointStore, FORMAT_VERSION, NewRun};
use drillbook::event::Event;
use drillbook::event::Mode;

const APPENDS: usize = 200;
const ROUNDS: usize = 3;

fn runbook(steps: usize) -> String {
    let mut s = String::from("version: 1\nname: bench-team\nsteps:\n");
    for i in 0..steps {
        s.push_str(&format!(
            "  - id: s{i}\n    action: wait\n    with: {{ duration: 0s }}\n"
        ));
        if i > 0 {
            s.push_str(&format!("    needs: [s{}]\n", i - 1));
        }
    }
    s
}

async fn store(emu: &Emulator, table: &str) -> DynamoDbStore {
    let conf = aws_config::defaults(BehaviorVersion::latest())
        .endpoint_url(&emu.endpoint)
        .region(Region::new("ca-central-1"))
        .credentials_provider(Credentials::new("test", "test", None, None, "bench"))
        .load()
        .await;
    let store = DynamoDbStore::new(
        aws_sdk_dynamodb::Client::new(&conf),
        StateUrl {
            table: table.into(),
            region: "ca-central-1".into(),
        },
    );
    store.create_table().await.expect("create the state table");
    store
}

/// Median and 90th percentile of `APPENDS` single-record appends, in ms.
async fn append_latency(store: &DynamoDbStore) -> (f64, f64) {
    let run = NewRun {
        run_id: "bench-append".into(),
        runbook_text: "version: 1\nname: b\nsteps: []\n".into(),
        runbook_path: "b.yaml".into(),
        vars: BTreeMap::new(),
        identity: None,
    };
    let first = Event::RunStarted {
        format_version: FORMAT_VERSION,
        run_id: run.run_id.clone(),
        runbook: "b.yaml".into(),
        runbook_sha256: String::new(),
        mode: Mode::Execute,
        identity: None,
        host: String::new(),
        user: String::new(),
        drillbook_version: "bench".into(),
        steps: vec![],
        vars_sha256: None,
        sealed_by: None,
    };
    store.create(&run, first).await.expect("create the run");
    let mut ms = Vec::with_capacity(APPENDS);
    for i in 0..APPENDS {
        let note = Event::Note {
            message: format!("n{i}"),
            data: BTreeMap::new(),
        };
        let t = Instant::now();
        store.append(&run.run_id, vec![note]).await.expect("append");
        ms.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    ms.sort_by(f64::total_cmp);
    (ms[APPENDS / 2], ms[APPENDS * 9 / 10])
}

/// Wall time of `drillbook run FILE --execute --yes` with `state` arguments (median of rounds).
fn run_time(emu: &Emulator, dir: &std::path::Path, state: &[&str]) -> Duration {
    let mut times: Vec<Duration> = (0..ROUNDS)
        .map(|_| {
            let mut cmd = Command::new(env!("CARGO_BIN_EXE_drillbook"));
            cmd.args(["run", "rb.yaml", "--execute", "--yes"])
                .args(state)
                .current_dir(dir)
                .env_remove("DRILLBOOK_STATE")
                .env_remove("DRILLBOOK_STATE_DIR")
                .stdin(std::process::Stdio::null())
                .stdout(std::process::Stdio::null());
            emu.env(&mut cmd);
            let t = Instant::now();
            let out = cmd.output().expect("run drillbook");
            let took = t.elapsed();
            assert!(
                out.status.success(),
                "drillbook run failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            took
        })
        .collect();
    times.sort();
    times[ROUNDS / 2]
}

fn main() {
    if std::env::args()
        .skip(1)
        .any(|a| !a.starts_with('-') && !"team_state".contains(a.as_str()))
    {
        return;
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let emu = Emulator::start(&tmp.path().join("moto.env"));
    let rt = tokio::runtime::Runtime::new().expect("tokio runtime");

    let s = rt.block_on(store(&emu, "bench-append-state"));
    let (median, p90) = rt.block_on(append_latency(&s));
    println!("DynamoDB checkpoint store on the emulator");
    println!(
        "  append, 1 record ({APPENDS} appends)   median {median:.2} ms, p90 {p90:.2} ms   (target: median < 5 ms)   {}",
        if median < 5.0 { "MET" } else { "MISSED" }
    );

    let _ = rt.block_on(store(&emu, "bench-run-state"));
    std::fs::write(tmp.path().join("rb.yaml"), runbook(200)).expect("write runbook");
    let file = run_time(&emu, tmp.path(), &["--state-dir", "st"]);
    let url = "dynamodb://bench-run-state?region=ca-central-1";
    let ddb = run_time(&emu, tmp.path(), &["--state", url]);
    let ratio = ddb.as_secs_f64() / file.as_secs_f64();
    println!(
        "  200-step chain, median of {ROUNDS}   file store {:.0} ms, DynamoDB store {:.0} ms ({ratio:.2}x)   (target <= 2x)   {}",
        file.as_secs_f64() * 1000.0,
        ddb.as_secs_f64() * 1000.0,
        if ratio <= 2.0 { "MET" } else { "MISSED" }
    );
}
