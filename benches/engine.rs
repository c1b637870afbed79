//! Engine overhead and scheduling fidelity, with the durable file journal.
//!
//! `cargo bench --bench engine` (release). Prints one line per figure with its target.
#![expect(clippy::print_stdout, reason = "benches print their figures")]

use std::fmt::Write as _;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use drillbook::actions::Registry;
use drillbook::actions::aws::{Aws, AwsOptions};
use drillbook::checkpoint::file::FileStore;
use drillbook::engine::Engine;
use drillbook::event::{Event, EventSink, Mode, RunStatus};

struct Null;
impl EventSink for Null {
    fn emit(&self, _: chrono::DateTime<chrono::Utc>, _: &Event) {}
}

fn engine(state: &Path, max_parallel: usize) -> Engine {
    let conf = aws_config::SdkConfig::builder()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .build();
    Engine::new(
        Arc::new(FileStore::new(state)),
        Registry::builtin(),
        Arc::new(Aws::from_config(conf, AwsOptions::default())),
        Arc::new(Null),
    )
    .max_parallel(max_parallel)
}

/// `(id, needs, wait)` to YAML.
fn yaml(steps: &[(String, Vec<String>, String)]) -> String {
    let mut s = String::from("version: 1\nname: bench\nsteps:\n");
    for (id, needs, wait) in steps {
        let _ = writeln!(
            s,
            "  - id: {id}\n    action: wait\n    with: {{ duration: {wait} }}"
        );
        if !needs.is_empty() {
            let _ = writeln!(s, "    needs: [{}]", needs.join(", "));
        }
    }
    s
}

fn run(rt: &tokio::runtime::Runtime, name: &str, text: &str, max_parallel: usize) -> Duration {
    run_in(rt, &std::env::temp_dir(), name, text, max_parallel)
}

fn run_in(
    rt: &tokio::runtime::Runtime,
    base: &Path,
    name: &str,
    text: &str,
    max_parallel: usize,
) -> Duration {
    let dir = tempfile::tempdir_in(base).unwrap();
    let path = dir.path().join(format!("{name}.yaml"));
    std::fs::write(&path, text).unwrap();
    let loaded = drillbook::runbook::load_file(&path, &[]).unwrap();
    let e = engine(&dir.path().join("state"), max_parallel);
    let start = Instant::now();
    let res = rt.block_on(e.run(&loaded, Mode::Execute)).unwrap();
    let took = start.elapsed();
    assert_eq!(res.status, RunStatus::Succeeded, "{name}: {:?}", res.failed);
    took
}

fn peak_rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .map(|kb| kb / 1024.0)
        .unwrap_or(f64::NAN)
}

/// Mean latency of a 200-byte append + fdatasync in `dir` (what one journal batch costs).
fn fsync_latency(dir: &Path) -> Duration {
    use std::io::Write;
    let tmp = tempfile::tempdir_in(dir).unwrap();
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(tmp.path().join("probe"))
        .unwrap();
    let n = 200;
    let start = Instant::now();
    for _ in 0..n {
        f.write_all(&[b'x'; 200]).unwrap();
        f.sync_data().unwrap();
    }
    start.elapsed() / n
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let tmp = std::env::temp_dir();
    let fsync = fsync_latency(&tmp);
    println!(
        "fsync latency  {:>8.3} ms  in {}",
        fsync.as_secs_f64() * 1e3,
        tmp.display(),
    );

    // 1. A 1,000-step chain of `wait 0s`. A wait changes nothing, so its outcome may be batched
    // (docs/journal.md, Durability): the chain does not pay one fsync per step; a chain of
    // steps that change AWS would (>= 1,000 x the fsync latency).
    let chain: Vec<_> = (0..1000)
        .map(|i| {
            let needs = if i == 0 {
                vec![]
            } else {
                vec![format!("s{}", i - 1)]
            };
            (format!("s{i}"), needs, "0s".to_string())
        })
        .collect();
    let t = run(&rt, "chain", &yaml(&chain), 8);
    println!(
        "chain-1000     {:>8.3} s   (target < 0.5 s)   {}   (one fsync per step would be >= {:.3} s)",
        t.as_secs_f64(),
        if t < Duration::from_millis(500) {
            "ok"
        } else {
            "MISSED"
        },
        1000.0 * fsync.as_secs_f64()
    );
    // The same on a RAM file system, when there is one: the engine's own overhead.
    let shm = Path::new("/dev/shm");
    if shm.is_dir() {
        let t = run_in(&rt, shm, "chain", &yaml(&chain), 8);
        println!(
            "chain-1000 on /dev/shm {:>8.3} s (fsync nearly free: engine overhead)",
            t.as_secs_f64()
        );
    }

    // 2. A 10,000-step random DAG of `wait 0s` (each step needs up to 3 earlier steps).
    fastrand::seed(7);
    let dag: Vec<_> = (0..10_000)
        .map(|i| {
            let mut needs: Vec<String> = if i == 0 {
                vec![]
            } else {
                (0..fastrand::usize(0..=3))
                    .map(|_| format!("s{}", fastrand::usize(0..i)))
                    .collect()
            };
            needs.sort();
            needs.dedup();
            (format!("s{i}"), needs, "0s".to_string())
        })
        .collect();
    let t = run(&rt, "dag", &yaml(&dag), 64);
    let rss = peak_rss_mb();
    println!(
        "dag-10000      {:>8.3} s   (target < 2 s)     {}",
        t.as_secs_f64(),
        if t < Duration::from_secs(2) {
            "ok"
        } else {
            "MISSED"
        }
    );
    println!(
        "peak RSS       {:>8.1} MB  (target < 200 MB)  {}",
        rss,
        if rss < 200.0 { "ok" } else { "MISSED" }
    );

    // 3. Scheduling fidelity: ten chains of four waits, each chain 2.0 s, 20 s of waits in
    //    all, with the long and short waits at different positions. Level-by-level batching
    //    would take 4 x 0.9 s = 3.6 s; a ready-set scheduler takes the critical path, 2.0 s.
    let patterns: [[u32; 4]; 10] = [
        [900, 100, 900, 100],
        [100, 900, 100, 900],
        [500, 500, 500, 500],
        [900, 900, 100, 100],
        [100, 100, 900, 900],
        [200, 800, 800, 200],
        [800, 200, 200, 800],
        [700, 300, 700, 300],
        [300, 700, 300, 700],
        [600, 400, 400, 600],
    ];
    let mut steps = vec![];
    for (c, p) in patterns.iter().enumerate() {
        for (k, ms) in p.iter().enumerate() {
            let needs = if k == 0 {
                vec![]
            } else {
                vec![format!("c{c}s{}", k - 1)]
            };
            steps.push((format!("c{c}s{k}"), needs, format!("{ms}ms")));
        }
    }
    let total: u32 = patterns.iter().flatten().sum();
    assert_eq!(total, 20_000);
    let t = run(&rt, "fidelity", &yaml(&steps), 16);
    println!(
        "fidelity       {:>8.3} s   (critical path 2.0 s, 20 s of waits; target < 2.05 s)   {}",
        t.as_secs_f64(),
        if t < Duration::from_millis(2050) {
            "ok"
        } else {
            "MISSED"
        }
    );
}
