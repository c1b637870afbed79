//! Engine overhead and scheduling fidelity, with the durable file journal.
//!
//! `cargo bench --bench engine` (release). Prints one line per figure with its target.
//!
//! The last figure runs the whole `drillbook run --execute` process side by side with Chaos
//! Toolkit: it installs `chaostoolkit` into a virtual environment under the target directory
//! the first time (`python3 -m venv`, `pip install chaostoolkit`); when that cannot be done it
//! says so and prints drillbook's figure alone.
#![expect(clippy::print_stdout, reason = "benches print their figures")]

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
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

/// Median of `n` wall-clock runs of `f`.
fn median_of(n: usize, mut f: impl FnMut() -> Duration) -> Duration {
    let mut v: Vec<Duration> = (0..n).map(|_| f()).collect();
    v.sort();
    v[n / 2]
}

/// The whole process: `drillbook run CHAIN --execute --yes --state-dir TMP` (load, journal with
/// fsync, reports and sealed evidence), in a fresh state directory under `base`.
fn drillbook_process(bin: &Path, base: &Path, chain: &Path) -> Duration {
    let state = tempfile::tempdir_in(base).unwrap();
    let start = Instant::now();
    let status = Command::new(bin)
        .arg("run")
        .arg(chain)
        .args(["--execute", "--yes", "--state-dir"])
        .arg(state.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("run drillbook");
    let took = start.elapsed();
    assert!(status.success(), "drillbook run: {status}");
    took
}

/// The target directory this bench was built in (`<target>/release/deps/engine-*`).
fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.ancestors()
        .nth(3)
        .map_or_else(std::env::temp_dir, Path::to_path_buf)
}

/// `chaos` from a virtual environment under the target directory, installed the first time.
fn chaostoolkit() -> Result<PathBuf, String> {
    let venv = target_dir().join("chaostoolkit-venv");
    let chaos = venv.join("bin/chaos");
    if chaos.is_file() {
        return Ok(chaos);
    }
    let ok = |c: &mut Command| c.stdout(Stdio::null()).status().is_ok_and(|s| s.success());
    if !ok(Command::new("python3").args(["-m", "venv"]).arg(&venv)) {
        return Err("`python3 -m venv` failed (is a Python 3 with venv installed?)".into());
    }
    if !ok(Command::new(venv.join("bin/pip")).args(["install", "-q", "chaostoolkit"])) {
        return Err("`pip install chaostoolkit` failed".into());
    }
    if chaos.is_file() {
        Ok(chaos)
    } else {
        Err(format!("{} is missing after the install", chaos.display()))
    }
}

/// A Chaos Toolkit experiment of `n` no-op Python activities, run in order.
fn chaos_experiment(n: usize) -> String {
    let method: Vec<_> = (0..n)
        .map(|i| {
            serde_json::json!({
                "type": "action",
                "name": format!("s{i}"),
                "provider": {
                    "type": "python",
                    "module": "os.path",
                    "func": "exists",
                    "arguments": { "path": "/" }
                }
            })
        })
        .collect();
    serde_json::json!({
        "version": "1.0.0",
        "title": "bench",
        "description": "no-op activities",
        "method": method
    })
    .to_string()
}

fn chaos_process(chaos: &Path, dir: &Path, experiment: &Path) -> Duration {
    let start = Instant::now();
    let status = Command::new(chaos)
        .args([
            "--no-version-check",
            "--no-log-file",
            "run",
            "--journal-path",
        ])
        .arg(dir.join("journal.json"))
        .arg(experiment)
        .current_dir(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("run chaos");
    let took = start.elapsed();
    assert!(status.success(), "chaos run: {status}");
    took
}

/// 4. The whole `drillbook run --execute` process against Chaos Toolkit, 1,000 no-op steps
///    each, median of 5 wall-clock runs each (issue 27: at least 8x faster). `--drillbook PATH`
///    measures another build of drillbook (an older one, to compare).
fn versus_chaostoolkit(chain_yaml: &str) {
    let args: Vec<String> = std::env::args().collect();
    let bin = args
        .iter()
        .position(|a| a == "--drillbook")
        .and_then(|i| args.get(i + 1))
        .map_or_else(
            || PathBuf::from(env!("CARGO_BIN_EXE_drillbook")),
            PathBuf::from,
        );
    let tmp = std::env::temp_dir();
    let dir = tempfile::tempdir_in(&tmp).unwrap();
    let chain = dir.path().join("chain.yaml");
    std::fs::write(&chain, chain_yaml).unwrap();
    drillbook_process(&bin, &tmp, &chain); // warm the page cache
    let ours = median_of(5, || drillbook_process(&bin, &tmp, &chain));
    println!(
        "drillbook run --execute, 1,000 x wait 0s, whole process {:>8.3} s (median of 5; {})",
        ours.as_secs_f64(),
        bin.display()
    );
    let chaos = match chaostoolkit() {
        Ok(c) => c,
        Err(e) => {
            println!("chaostoolkit not measured: {e}");
            return;
        }
    };
    let experiment = dir.path().join("experiment.json");
    std::fs::write(&experiment, chaos_experiment(1000)).unwrap();
    chaos_process(&chaos, dir.path(), &experiment); // warm the page cache
    let theirs = median_of(5, || chaos_process(&chaos, dir.path(), &experiment));
    let ratio = theirs.as_secs_f64() / ours.as_secs_f64();
    println!(
        "chaos run, 1,000 no-op Python activities          {:>8.3} s (median of 5)",
        theirs.as_secs_f64()
    );
    println!(
        "ratio          {ratio:>8.1}x  (target >= 8x)   {}",
        if ratio >= 8.0 { "ok" } else { "MISSED" }
    );
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
    let chain_yaml = yaml(&chain);
    if std::env::args().any(|a| a == "--versus-only") {
        versus_chaostoolkit(&chain_yaml);
        return;
    }
    let t = run(&rt, "chain", &chain_yaml, 8);
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
        let t = run_in(&rt, shm, "chain", &chain_yaml, 8);
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

    versus_chaostoolkit(&chain_yaml);
}
