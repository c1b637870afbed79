//! The shipped region failover as a dry run across a fleet: N member accounts of the emulator's
//! organization x two Regions, `--max-concurrency 50`, for N = 25, 50, 100 and 200, so that how
//! the time grows with the targets shows.
//!
//! `cargo bench --bench fleet` (release); `cargo bench --bench fleet -- --accounts 200` (or
//! `--accounts 25,200`) measures only those sizes. Starts its own emulator
//! (`localstack/emulator start --state-file <tmp>`), sets its delays to zero, seeds the largest
//! organization once (`localstack/emulator seed --accounts N`: one copy of the reference system
//! per member account; its time is printed apart and not counted), then times
//! `drillbook run runbooks/region-failover.yaml --accounts ... --regions
//! ca-central-1,eu-west-1 --max-concurrency 50` over the first N accounts, each size in a fresh
//! state directory. Peak RSS is drillbook's own (`wait4`'s `ru_maxrss`); the emulator's CPU
//! time during the run is printed beside it (it is one Python process). Every target must
//! succeed: a failing dry run is not a figure.
//!
//! Target (issue 29): 200 accounts x 2 Regions within 60 s and within 500 MB.
#![expect(clippy::print_stdout, reason = "benches print their figures")]

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{Emulator, repo, script};

const REGIONS: &str = "ca-central-1,eu-west-1";
const CONCURRENCY: &str = "50";
const SIZES: [usize; 4] = [25, 50, 100, 200];
const TARGET_ACCOUNTS: usize = 200;
const TARGET_WALL: Duration = Duration::from_secs(60);
const TARGET_RSS_KB: u64 = 500 * 1024;

/// The account counts to measure: `--accounts N[,N...]`, else 25, 50, 100 and 200.
fn sizes() -> Vec<usize> {
    let args: Vec<String> = std::env::args().collect();
    let Some(i) = args.iter().position(|a| a == "--accounts") else {
        return SIZES.to_vec();
    };
    let list = args
        .get(i + 1)
        .expect("--accounts needs a number, or numbers separated by commas");
    let mut v: Vec<usize> = list
        .split(',')
        .map(|n| {
            n.trim()
                .parse()
                .unwrap_or_else(|_| panic!("--accounts: `{n}` is not a number"))
        })
        .collect();
    v.sort_unstable();
    v.dedup();
    assert!(v.iter().all(|&n| n > 0), "--accounts: at least one account");
    v
}

/// `localstack/emulator seed --accounts N`: the member accounts' ids, in order.
fn seed_organization(state_file: &Path, prefix: &str, accounts: usize) -> Vec<String> {
    let out = Command::new(script())
        .args(["seed", "--json", "--prefix", prefix, "--ou"])
        .arg(format!("{prefix}workloads"))
        .args(["--accounts", &accounts.to_string(), "--state-file"])
        .arg(state_file)
        .stdin(Stdio::null())
        .output()
        .expect("run localstack/emulator seed");
    assert!(
        out.status.success(),
        "seed --accounts {accounts} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).expect("seed JSON");
    doc["accounts"]
        .as_array()
        .expect("seed JSON has accounts")
        .iter()
        .map(|a| a["id"].as_str().expect("an account id").to_string())
        .collect()
}

/// The emulator's pid, from its state file (`pid=`).
fn emulator_pid(state_file: &Path) -> Option<u32> {
    std::fs::read_to_string(state_file)
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix("pid="))?
        .trim()
        .parse()
        .ok()
}

/// CPU time (user + system) a process has used so far, from `/proc/PID/stat`.
fn cpu_time(pid: u32) -> Option<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The fields after the command name (which is in parentheses and may hold spaces).
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?;
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    Some(Duration::from_secs_f64(ticks as f64 / hz.max(1) as f64))
}

struct Run {
    wall: Duration,
    max_rss_kb: u64,
    cpu: Duration,
    emulator_cpu: Option<Duration>,
}

/// One fleet dry run over `accounts`, in a fresh state directory under `dir`; asserts that it
/// exited 0 and that every target of its record succeeded.
fn fleet_dry_run(emu: &Emulator, dir: &Path, prefix: &str, accounts: &[String]) -> Run {
    let state = dir.join("state");
    let p = prefix;
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_drillbook"));
    cmd.arg("run")
        .arg(repo().join("runbooks/region-failover.yaml"))
        .arg("--accounts")
        .arg(accounts.join(","))
        .args(["--regions", REGIONS, "--max-concurrency", CONCURRENCY])
        .arg("--state-dir")
        .arg(&state);
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
    let stdout = std::fs::File::create(dir.join("stdout")).expect("stdout file");
    let stderr = std::fs::File::create(dir.join("stderr")).expect("stderr file");
    cmd.stdin(Stdio::null()).stdout(stdout).stderr(stderr);
    let emu_pid = emulator_pid(&emu.state_file);
    let emu_before = emu_pid.and_then(cpu_time);
    let start = Instant::now();
    #[expect(
        clippy::zombie_processes,
        reason = "reaped by `wait4` below, which also gives its rusage"
    )]
    let child = cmd.spawn().expect("spawn drillbook");
    let pid = child.id() as libc::pid_t;
    let mut status: libc::c_int = 0;
    // SAFETY: rusage is plain old data; wait4 fills it for our own child, which std has not
    // reaped (we never call `wait` on `child`).
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    let r = unsafe { libc::wait4(pid, &mut status, 0, &mut ru) };
    let wall = start.elapsed();
    assert_eq!(r, pid, "wait4 failed: {}", std::io::Error::last_os_error());
    let emulator_cpu = emu_pid
        .and_then(cpu_time)
        .zip(emu_before)
        .map(|(after, before)| after.saturating_sub(before));
    let log = || {
        format!(
            "{}\n{}",
            std::fs::read_to_string(dir.join("stdout")).unwrap_or_default(),
            std::fs::read_to_string(dir.join("stderr")).unwrap_or_default()
        )
    };
    let exited_ok = libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0;
    assert!(exited_ok, "the fleet dry run failed:\n{}", log());
    // Every target ran and succeeded, as the fleet's own record says.
    let fleets: Vec<_> = std::fs::read_dir(state.join("fleets"))
        .expect("the fleet wrote its record")
        .flatten()
        .collect();
    assert_eq!(fleets.len(), 1, "one fleet record expected");
    let record: serde_json::Value = serde_json::from_slice(
        &std::fs::read(fleets[0].path().join("fleet.json")).expect("fleet.json"),
    )
    .expect("fleet.json reads");
    let targets = record["targets"].as_array().expect("targets");
    let regions = REGIONS.split(',').count();
    assert_eq!(targets.len(), accounts.len() * regions, "{record}");
    let bad: Vec<_> = targets
        .iter()
        .filter(|t| t["status"] != "succeeded")
        .collect();
    assert!(bad.is_empty(), "targets that did not succeed: {bad:?}");
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    Run {
        wall,
        max_rss_kb: ru.ru_maxrss as u64, // kilobytes on Linux
        cpu: tv(ru.ru_utime) + tv(ru.ru_stime),
        emulator_cpu,
    }
}

fn main() {
    let sizes = sizes();
    let largest = *sizes.last().expect("at least one size");
    let tmp = tempfile::tempdir().expect("tempdir");
    let emu = Emulator::start(&tmp.path().join("moto.env"));
    emu.without_delays();
    let prefix = format!("bfl{}-", std::process::id());

    let start = Instant::now();
    let accounts = seed_organization(&emu.state_file, &prefix, largest);
    assert_eq!(accounts.len(), largest);
    println!(
        "seeded an organization of {largest} member accounts (one copy of the reference system \
         each) in {:.1} s (not counted)",
        start.elapsed().as_secs_f64()
    );
    println!(
        "region-failover dry run across accounts x {REGIONS}, --max-concurrency {CONCURRENCY}:"
    );
    println!(
        "  {:>8} {:>7} {:>9} {:>10} {:>12} {:>13} {:>13}",
        "accounts",
        "targets",
        "wall s",
        "targets/s",
        "peak RSS MB",
        "drillbook CPU",
        "emulator CPU"
    );
    let mut at_target = None;
    for (i, &n) in sizes.iter().enumerate() {
        let dir = tmp.path().join(format!("fleet{i}"));
        std::fs::create_dir_all(&dir).expect("run dir");
        let run = fleet_dry_run(&emu, &dir, &prefix, &accounts[..n]);
        let targets = n * REGIONS.split(',').count();
        println!(
            "  {:>8} {:>7} {:>9.1} {:>10.1} {:>12.0} {:>11.1} s {:>11}",
            n,
            targets,
            run.wall.as_secs_f64(),
            targets as f64 / run.wall.as_secs_f64(),
            run.max_rss_kb as f64 / 1024.0,
            run.cpu.as_secs_f64(),
            run.emulator_cpu
                .map(|d| format!("{:.1} s", d.as_secs_f64()))
                .unwrap_or_else(|| "?".into()),
        );
        if n == TARGET_ACCOUNTS {
            at_target = Some(run);
        }
        // The runs' journals and reports are not needed any more.
        let _ = std::fs::remove_dir_all(&dir);
    }
    match at_target {
        Some(r) => println!(
            "  {TARGET_ACCOUNTS} accounts: {:.1} s (target < {} s), {:.0} MB (target < {} MB): {}",
            r.wall.as_secs_f64(),
            TARGET_WALL.as_secs(),
            r.max_rss_kb as f64 / 1024.0,
            TARGET_RSS_KB / 1024,
            if r.wall < TARGET_WALL && r.max_rss_kb < TARGET_RSS_KB {
                "MET"
            } else {
                "MISSED"
            }
        ),
        None => println!("  (the target is for {TARGET_ACCOUNTS} accounts: add it to --accounts)"),
    }
}
