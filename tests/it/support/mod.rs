//! Test harness for drillbook's integration tests: one AWS emulator (moto + drillbook's
//! extensions, see `localstack/README.md`) per test binary, started on first use through
//! `localstack/emulator start --parent-pid <this process>`, so it exits by itself when the test
//! binary ends. Tests share it concurrently and keep apart through `unique_prefix`.
#![expect(dead_code, reason = "not every helper is used by every module")]

pub(crate) mod actions;
pub(crate) mod cli;
pub(crate) mod faults;
pub(crate) mod http;
pub(crate) mod localstack;
pub(crate) mod recorder;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};

use serde::Deserialize;

pub(crate) use cli::{Drillbook, Ran};
pub(crate) use recorder::RecordedRequest;

pub(crate) const PRIMARY_REGION: &str = "ca-central-1";
pub(crate) const SECONDARY_REGION: &str = "eu-west-1";

/// A running emulator (moto with drillbook's extensions, or LocalStack).
#[derive(Debug)]
pub(crate) struct Emulator {
    endpoint: String,
    pid: u32,
    state_file: PathBuf,
}

static EMULATOR: OnceLock<Emulator> = OnceLock::new();

/// The repository root (where Cargo.toml is).
pub(crate) fn repo_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The script that installs, starts, seeds and stops the emulator.
pub(crate) fn emulator_script() -> PathBuf {
    repo_root().join("localstack").join("emulator")
}

/// A scratch directory unique to this test-binary run.
pub(crate) fn run_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("drillbook-it-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("create the test run directory");
        dir
    })
}

/// The shared moto emulator of this test binary, started (and installed) on first use.
/// Panics with the script's output if it cannot start.
pub(crate) fn emulator() -> &'static Emulator {
    EMULATOR.get_or_init(|| {
        Emulator::start(&run_dir().join("moto.env"), &[]).unwrap_or_else(|e| panic!("{e}"))
    })
}

impl Emulator {
    /// Runs `localstack/emulator start --parent-pid <pid> --state-file <state_file> <extra>`.
    pub(crate) fn start(state_file: &Path, extra: &[&str]) -> Result<Emulator, String> {
        Emulator::start_with_env(state_file, extra, &[])
    }

    /// [`Emulator::start`] with extra environment variables for the server (`DRILLBOOK_*`).
    pub(crate) fn start_with_env(
        state_file: &Path,
        extra: &[&str],
        env: &[(&str, &str)],
    ) -> Result<Emulator, String> {
        let out = Command::new(emulator_script())
            .envs(env.iter().copied())
            .arg("start")
            .arg("--parent-pid")
            .arg(std::process::id().to_string())
            .arg("--state-file")
            .arg(state_file)
            .args(extra)
            .output()
            .map_err(|e| format!("could not run {}: {e}", emulator_script().display()))?;
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        if !out.status.success() {
            return Err(format!(
                "localstack/emulator start failed ({}):\n{stderr}\n{stdout}",
                out.status
            ));
        }
        let var = |name: &str| {
            stdout.lines().find_map(|l| {
                l.trim()
                    .strip_prefix("export ")
                    .and_then(|kv| kv.strip_prefix(name))
                    .and_then(|v| v.strip_prefix('='))
                    .map(str::to_string)
            })
        };
        let endpoint = var("AWS_ENDPOINT_URL")
            .ok_or_else(|| format!("no AWS_ENDPOINT_URL in the output of start:\n{stdout}"))?;
        let pid = var("DRILLBOOK_EMULATOR_PID")
            .and_then(|p| p.parse().ok())
            .ok_or_else(|| {
                format!("no DRILLBOOK_EMULATOR_PID in the output of start:\n{stdout}")
            })?;
        Ok(Emulator {
            endpoint,
            pid,
            state_file: state_file.to_path_buf(),
        })
    }

    /// `http://127.0.0.1:PORT`
    pub(crate) fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// Process id of the emulator server.
    pub(crate) fn pid(&self) -> u32 {
        self.pid
    }

    /// The state file the script uses for this instance (pass to `localstack/emulator --state-file`).
    pub(crate) fn state_file(&self) -> &Path {
        &self.state_file
    }

    /// `127.0.0.1:PORT` of the emulator's DNS server (UDP and TCP), from the `dns=` line of the
    /// state file; `None` when it serves no DNS (LocalStack).
    pub(crate) fn dns_server(&self) -> Option<String> {
        let text = std::fs::read_to_string(&self.state_file).ok()?;
        text.lines()
            .find_map(|l| l.strip_prefix("dns="))
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
    }

    /// Environment for a drillbook (or AWS CLI) subprocess pointed at the emulator.
    pub(crate) fn env(&self) -> Vec<(String, String)> {
        self.env_for_region(PRIMARY_REGION)
    }

    pub(crate) fn env_for_region(&self, region: &str) -> Vec<(String, String)> {
        let mut env: Vec<(String, String)> = [
            ("AWS_ENDPOINT_URL", self.endpoint.as_str()),
            ("AWS_ACCESS_KEY_ID", "test"),
            ("AWS_SECRET_ACCESS_KEY", "test"),
            ("AWS_REGION", region),
            ("AWS_DEFAULT_REGION", region),
            ("AWS_EC2_METADATA_DISABLED", "true"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        if let Some(dns) = self.dns_server() {
            env.push(("DRILLBOOK_DNS_SERVER".to_string(), dns));
        }
        env
    }

    /// SDK configuration for `region` against the emulator, with test credentials.
    pub(crate) async fn sdk_config(&self, region: &str) -> aws_config::SdkConfig {
        aws_config::defaults(aws_config::BehaviorVersion::latest())
            .region(aws_sdk_kms::config::Region::new(region.to_string()))
            .endpoint_url(&self.endpoint)
            .credentials_provider(aws_sdk_kms::config::Credentials::new(
                "test",
                "test",
                None,
                None,
                "drillbook-it",
            ))
            .load()
            .await
    }

    /// Builds the reference system with resource names starting with `prefix`
    /// (`localstack/emulator seed --prefix P --json`) and returns what was created. Every
    /// AWS delay is set to 0 for `prefix` first ([`Emulator::fast`]): a test that studies a
    /// delay sets it again after seeding.
    pub(crate) fn seed(&self, prefix: &str) -> Seeded {
        self.seed_with(prefix, &SeedOptions::default())
    }

    /// [`Emulator::seed`] with another Region pair, failover mechanism or record type.
    pub(crate) fn seed_with(&self, prefix: &str, options: &SeedOptions) -> Seeded {
        self.fast(prefix);
        let out = Command::new(emulator_script())
            .args(["seed", "--json", "--prefix", prefix])
            .args(options.args())
            .arg("--state-file")
            .arg(&self.state_file)
            .output()
            .expect("run localstack/emulator seed");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "seed --prefix {prefix} failed ({}):\n{}\n{stdout}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        let raw: serde_json::Value = serde_json::from_str(&stdout)
            .unwrap_or_else(|e| panic!("seed output is not JSON ({e}): {stdout}"));
        let mut seeded: Seeded = serde_json::from_value(raw.clone())
            .unwrap_or_else(|e| panic!("unexpected seed JSON ({e}): {stdout}"));
        seeded.raw = raw;
        seeded
    }

    /// POSTs a settings document to the control endpoint (`/_drillbook/config`), e.g.
    /// `{"prefix": "t1-", "dynamodb_restore_creating_seconds": 2}`; returns the full config.
    pub(crate) fn configure(&self, settings: serde_json::Value) -> serde_json::Value {
        self.control("POST", "/_drillbook/config", Some(settings))
    }

    /// Sets every AWS delay of the emulator to 0 for resources named with `prefix`
    /// (localstack/README.md, "Settings"): for tests that do not study a delay.
    pub(crate) fn fast(&self, prefix: &str) -> serde_json::Value {
        let mut doc = serde_json::json!({"prefix": prefix});
        for name in DELAY_SETTINGS {
            doc[name] = serde_json::json!(0);
        }
        self.configure(doc)
    }

    /// Adds a Region fault at the server (`POST /_drillbook/faults`): calls to `region`
    /// (for `service` only, when given: a SigV4 signing name) are answered as `mode` says
    /// (`reset`, `hang`, `error`, `throttle`). Faults hold for the whole emulator: on the shared
    /// one, fault only a Region no other test uses, or use [`isolated_emulator`].
    pub(crate) fn fault(
        &self,
        region: &str,
        service: Option<&str>,
        mode: &str,
    ) -> serde_json::Value {
        let mut doc = serde_json::json!({"region": region, "mode": mode});
        if let Some(s) = service {
            doc["service"] = serde_json::json!(s);
        }
        self.control("POST", "/_drillbook/faults", Some(doc))
    }

    /// Requests signed with `access_key` answer `ExpiredTokenException` from `expires_at`
    /// (seconds since the epoch) on (`POST /_drillbook/credentials`).
    pub(crate) fn expire_credentials(
        &self,
        access_key: &str,
        expires_at: f64,
    ) -> serde_json::Value {
        self.control(
            "POST",
            "/_drillbook/credentials",
            Some(serde_json::json!({"access_key": access_key, "expires_at": expires_at})),
        )
    }

    /// Renews `access_key` (`DELETE /_drillbook/credentials?access_key=K`).
    pub(crate) fn renew_credentials(&self, access_key: &str) -> serde_json::Value {
        self.control(
            "DELETE",
            &format!("/_drillbook/credentials?access_key={access_key}"),
            None,
        )
    }

    /// The active faults (`GET /_drillbook/faults`).
    pub(crate) fn faults(&self) -> serde_json::Value {
        self.control("GET", "/_drillbook/faults", None)
    }

    /// Clears the faults of `region` (every fault when `None`).
    pub(crate) fn clear_faults(&self, region: Option<&str>) -> serde_json::Value {
        let path = match region {
            Some(r) => format!("/_drillbook/faults?region={r}"),
            None => "/_drillbook/faults".to_string(),
        };
        self.control("DELETE", &path, None)
    }

    /// Drops the settings of `prefix` (all settings when `None`).
    pub(crate) fn reset_config(&self, prefix: Option<&str>) -> serde_json::Value {
        let path = match prefix {
            Some(p) => format!("/_drillbook/config?prefix={p}"),
            None => "/_drillbook/config".to_string(),
        };
        self.control("DELETE", &path, None)
    }

    /// Sets the measured health of a Route 53 health check (before `Inverted` is applied).
    pub(crate) fn set_health(&self, health_check_id: &str, healthy: bool) {
        self.control(
            "POST",
            "/_drillbook/health",
            Some(serde_json::json!({"health_check_id": health_check_id, "healthy": healthy})),
        );
    }

    fn control(
        &self,
        method: &str,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> serde_json::Value {
        let body = body.map(|b| b.to_string());
        let (status, text) = http::request(&self.endpoint, method, path, body.as_deref())
            .unwrap_or_else(|e| panic!("{method} {path}: {e}"));
        assert_eq!(status, 200, "{method} {path} -> {status}: {text}");
        serde_json::from_str(&text).unwrap_or(serde_json::Value::Null)
    }

    /// Every request the emulator recorded so far (all tests of this binary).
    pub(crate) fn recorded_requests(&self) -> Vec<RecordedRequest> {
        let (status, text) = http::request(
            &self.endpoint,
            "GET",
            "/moto-api/recorder/download-recording",
            None,
        )
        .expect("download the recording");
        assert_eq!(status, 200, "download-recording -> {status}: {text:.300}");
        recorder::parse_recording(&text)
    }

    /// Recorded mutating calls whose path or body mentions `needle` (typically the test's
    /// unique prefix).
    pub(crate) fn mutating_calls_matching(&self, needle: &str) -> Vec<RecordedRequest> {
        self.mutating_calls_matching_any(&[needle])
    }

    /// Recorded mutating calls mentioning any of `needles` (prefix, key ids, zone ids, ...).
    pub(crate) fn mutating_calls_matching_any(&self, needles: &[&str]) -> Vec<RecordedRequest> {
        self.recorded_requests()
            .into_iter()
            .filter(|r| r.is_mutating() && needles.iter().any(|n| r.mentions(n)))
            .collect()
    }

    /// Stops this instance now (normally not needed: it exits with the test binary).
    pub(crate) fn stop(&self) {
        let _ = Command::new(emulator_script())
            .arg("stop")
            .arg("--state-file")
            .arg(&self.state_file)
            .output();
    }
}

/// Every delay setting of the emulator (localstack/README.md, "Settings").
pub(crate) const DELAY_SETTINGS: &[&str] = &[
    "dynamodb_restore_creating_seconds",
    "route53_change_pending_seconds",
    "kms_updating_seconds",
    "pitr_lag_seconds",
    "route53_health_seconds",
    "global_table_replication_seconds",
    "arc_wait_period_seconds",
    "fis_transition_seconds",
    "rds_restore_creating_seconds",
    "rds_failover_seconds",
    "rds_pitr_lag_seconds",
    "rds_global_switchover_seconds",
    "ecs_deployment_seconds",
];

/// How `localstack/emulator seed` builds the system (see `localstack/seed.py`).
#[derive(Debug, Clone, Default)]
pub(crate) struct SeedOptions {
    /// `[primary, secondary]`; default `ca-central-1`, `eu-west-1`.
    pub regions: Option<[String; 2]>,
    /// `health-check` (default) or `routing-control`.
    pub failover: Option<String>,
    /// `alias` (default: alias A records, as AWS recommends for API Gateway custom domains) or
    /// `cname`.
    pub dns: Option<String>,
}

impl SeedOptions {
    /// Another Region pair, e.g. `SeedOptions::regions("us-east-1", "us-west-2")`.
    pub(crate) fn regions(primary: &str, secondary: &str) -> SeedOptions {
        SeedOptions {
            regions: Some([primary.to_string(), secondary.to_string()]),
            ..SeedOptions::default()
        }
    }

    pub(crate) fn failover(mut self, mechanism: &str) -> SeedOptions {
        self.failover = Some(mechanism.to_string());
        self
    }

    pub(crate) fn dns(mut self, kind: &str) -> SeedOptions {
        self.dns = Some(kind.to_string());
        self
    }

    fn args(&self) -> Vec<String> {
        let mut out = Vec::new();
        if let Some([p, s]) = &self.regions {
            out.extend(["--regions".to_string(), format!("{p},{s}")]);
        }
        if let Some(f) = &self.failover {
            out.extend(["--failover".to_string(), f.clone()]);
        }
        if let Some(d) = &self.dns {
            out.extend(["--dns".to_string(), d.clone()]);
        }
        out
    }
}

/// An emulator of its own, for a test whose Region faults would disturb the tests sharing
/// [`emulator`] (a fault on us-east-1 takes Route 53's control plane with it). It is stopped
/// when dropped, and with the test binary at the latest.
pub(crate) struct IsolatedEmulator(Emulator);

impl std::ops::Deref for IsolatedEmulator {
    type Target = Emulator;
    fn deref(&self) -> &Emulator {
        &self.0
    }
}

impl Drop for IsolatedEmulator {
    fn drop(&mut self) {
        self.0.stop();
    }
}

/// Starts an [`IsolatedEmulator`]; `name` keeps its state file apart from the others'.
pub(crate) fn isolated_emulator(name: &str) -> IsolatedEmulator {
    isolated_emulator_with_env(name, &[])
}

/// [`isolated_emulator`] started with `env` (e.g. `DRILLBOOK_PITR_LAG_SECONDS`).
pub(crate) fn isolated_emulator_with_env(name: &str, env: &[(&str, &str)]) -> IsolatedEmulator {
    let state = run_dir().join(format!("isolated-{name}.env"));
    IsolatedEmulator(Emulator::start_with_env(&state, &[], env).unwrap_or_else(|e| panic!("{e}")))
}

/// A short resource-name prefix unique per test and process, valid in DynamoDB table names,
/// KMS aliases, API names and DNS labels: lowercase letters, digits and `-`, ending in `-`.
pub(crate) fn unique_prefix(test_name: &str) -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let short: String = test_name
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_lowercase())
        .take(8)
        .collect();
    let pid = std::process::id();
    format!("t{short}-{}{n}-", base36(pid))
}

fn base36(mut v: u32) -> String {
    const DIGITS: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut out = Vec::new();
    loop {
        out.push(DIGITS[(v % 36) as usize]);
        v /= 36;
        if v == 0 {
            break;
        }
    }
    out.reverse();
    String::from_utf8(out).unwrap()
}

/// Polls `check` every 100 ms until it returns `Some` or `timeout` passes.
pub(crate) async fn poll<T, F, Fut>(timeout: std::time::Duration, mut check: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = std::time::Instant::now() + timeout;
    loop {
        if let Some(v) = check().await {
            return Some(v);
        }
        if std::time::Instant::now() >= deadline {
            return None;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

/// `--var` arguments pointing the shipped runbooks at a seeded copy.
pub(crate) fn vars_for(seed: &Seeded) -> Vec<String> {
    let p = &seed.prefix;
    [
        ("table", format!("{p}vault")),
        ("key", format!("alias/{p}unolock-root")),
        ("api", format!("{p}unolock-api")),
        ("domain", format!("api.{p}unolock.example")),
        ("zone", format!("{p}unolock.example.")),
        ("record", format!("api.{p}unolock.example")),
        ("alarm", format!("{p}unolock-api-5xx")),
        ("signal_alarm", format!("{p}unolock-failover-signal")),
        ("dns_ttl", "0s".to_string()),
    ]
    .into_iter()
    .flat_map(|(k, v)| ["--var".to_string(), format!("{k}={v}")])
    .collect()
}

// ----------------------------------------------------------------------------- seed output

/// What `localstack/emulator seed` created (see `localstack/seed.py`).
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Seeded {
    pub prefix: String,
    pub endpoint: String,
    pub primary_region: String,
    pub secondary_region: String,
    /// Keyed by Region (`ca-central-1`, `eu-west-1`).
    pub regions: BTreeMap<String, RegionSeed>,
    pub kms: KmsSeed,
    pub route53: Route53Seed,
    /// The whole document as printed by the seed.
    #[serde(skip)]
    pub raw: serde_json::Value,
}

impl Seeded {
    pub(crate) fn primary(&self) -> &RegionSeed {
        &self.regions[&self.primary_region]
    }
    pub(crate) fn secondary(&self) -> &RegionSeed {
        &self.regions[&self.secondary_region]
    }
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct RegionSeed {
    pub dynamodb: TableSeed,
    pub kms: RegionKeySeed,
    pub apigateway: ApiSeed,
    pub cloudwatch: AlarmSeed,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct TableSeed {
    pub name: String,
    pub arn: String,
    pub item_count: usize,
    pub pitr_status: String,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct RegionKeySeed {
    pub key_id: String,
    pub alias: String,
    pub arn: String,
    pub multi_region_key_type: String,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct KmsSeed {
    pub key_id: String,
    pub alias: String,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct ApiSeed {
    pub rest_api_id: String,
    pub rest_api_name: String,
    pub health_resource_id: String,
    pub stage: String,
    pub stage_variables: BTreeMap<String, String>,
    pub invoke_url: String,
    pub domain_name: String,
    pub regional_domain_name: String,
    pub regional_hosted_zone_id: String,
    pub base_path_mappings: Vec<BasePathMappingSeed>,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct BasePathMappingSeed {
    pub base_path: String,
    pub rest_api_id: String,
    pub stage: String,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct AlarmSeed {
    pub name: String,
    pub arn: String,
    pub state: String,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct SignalSeed {
    pub name: String,
    pub region: String,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Route53Seed {
    pub hosted_zone_id: String,
    pub zone_name: String,
    pub record_name: String,
    /// `A` for alias records (the default), `CNAME` for `--dns cname`.
    pub record_type: String,
    /// The PRIMARY record's health check: with the default `signal` failover a CALCULATED check
    /// over [`Route53Seed::endpoint_health_check_id`] and the signal alarm's check.
    pub health_check_id: String,
    /// The HTTPS check on the primary's endpoint (none with `routing-control`).
    pub endpoint_health_check_id: Option<String>,
    /// The failover signal alarm (in the secondary Region), with the default `signal` failover.
    pub signal_alarm: Option<SignalSeed>,
    pub primary_target: String,
    pub secondary_target: String,
    pub change_id: String,
}

impl Seeded {
    /// Which regional domain name the failover record answers with now (TestDNSAnswer): for a
    /// CNAME the name itself; for an alias A record (which answers with its target's
    /// addresses) the target whose addresses these are. Anything else: the data as answered.
    pub(crate) async fn dns_answer(&self) -> String {
        self.dns_answer_at(emulator()).await
    }

    /// [`Seeded::dns_answer`], asked of `emu` (an isolated emulator the copy was seeded in).
    pub(crate) async fn dns_answer_at(&self, emu: &Emulator) -> String {
        let r = &self.route53;
        let conf = emu.sdk_config("us-east-1").await;
        let out = aws_sdk_route53::Client::new(&conf)
            .test_dns_answer()
            .hosted_zone_id(&r.hosted_zone_id)
            .record_name(r.record_name.trim_end_matches('.'))
            .record_type(aws_sdk_route53::types::RrType::from(r.record_type.as_str()))
            .send()
            .await
            .unwrap();
        let mut data: Vec<String> = out.record_data().to_vec();
        data.sort();
        for (side, target) in [
            ("primary", &r.primary_target),
            ("secondary", &r.secondary_target),
        ] {
            let want: Vec<String> = self.raw["route53"]["answers"][side]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|v| v.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default();
            // An API Gateway Regional name answers a rotating subset of its addresses: the
            // answer is that side's when every address it holds is one of the side's.
            if !data.is_empty() && data.iter().all(|a| want.contains(a)) {
                return target.clone();
            }
        }
        data.join(",")
    }
}
