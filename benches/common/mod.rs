//! What the emulator benches share: an emulator of their own, started through
//! `localstack/emulator start --state-file <tmp>` and stopped (by its pid) when dropped.

use std::path::{Path, PathBuf};
use std::process::Command;

pub(crate) fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub(crate) fn script() -> PathBuf {
    repo().join("localstack/emulator")
}

pub(crate) struct Emulator {
    pub endpoint: String,
    /// The emulator's DNS server (`DRILLBOOK_DNS_SERVER`), which answers for its hosted zones.
    dns_server: Option<String>,
    pub state_file: PathBuf,
}

impl Emulator {
    pub(crate) fn start(state_file: &Path) -> Emulator {
        let out = Command::new(script())
            .arg("start")
            .arg("--state-file")
            .arg(state_file)
            .output()
            .expect("run localstack/emulator start");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "emulator start failed:\n{}\n{stdout}",
            String::from_utf8_lossy(&out.stderr)
        );
        let endpoint = stdout
            .lines()
            .find_map(|l| l.trim().strip_prefix("export AWS_ENDPOINT_URL="))
            .expect("AWS_ENDPOINT_URL in the output of start")
            .to_string();
        let dns_server = stdout
            .lines()
            .find_map(|l| l.trim().strip_prefix("export DRILLBOOK_DNS_SERVER="))
            .map(str::to_string);
        Emulator {
            endpoint,
            dns_server,
            state_file: state_file.to_path_buf(),
        }
    }

    #[expect(
        clippy::allow_attributes,
        reason = "shared by every bench, used by some: `expect(dead_code)` would fail in the others"
    )]
    #[allow(dead_code, reason = "not every bench seeds")]
    pub(crate) fn seed(&self, prefix: &str) -> serde_json::Value {
        let out = Command::new(script())
            .args(["seed", "--json", "--prefix", prefix, "--state-file"])
            .arg(&self.state_file)
            .output()
            .expect("run localstack/emulator seed");
        assert!(out.status.success(), "seed failed: {:?}", out);
        serde_json::from_slice(&out.stdout).expect("seed JSON")
    }

    /// Sets every AWS delay the emulator models to zero (`localstack/emulator config`, which
    /// without arguments prints them; localstack/README.md "Settings"): a bench measures
    /// drillbook, not the 60 s a Route 53 change takes to be INSYNC.
    #[expect(
        clippy::allow_attributes,
        reason = "shared by every bench, used by some: `expect(dead_code)` would fail in the others"
    )]
    #[allow(dead_code, reason = "not every bench waits on AWS")]
    pub(crate) fn without_delays(&self) {
        let config = |args: &[String]| {
            let out = Command::new(script())
                .arg("config")
                .arg("--state-file")
                .arg(&self.state_file)
                .args(args)
                .output()
                .expect("run localstack/emulator config");
            assert!(out.status.success(), "config failed: {:?}", out);
            out.stdout
        };
        let current: serde_json::Value =
            serde_json::from_slice(&config(&[])).expect("the emulator's settings as JSON");
        let zero: Vec<String> = current["global"]
            .as_object()
            .expect("global settings")
            .keys()
            .map(|name| format!("{name}=0"))
            .collect();
        config(&zero);
    }

    pub(crate) fn env(&self, cmd: &mut Command) {
        cmd.env("AWS_ENDPOINT_URL", &self.endpoint)
            .env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test")
            .env("AWS_REGION", "ca-central-1")
            .env("AWS_DEFAULT_REGION", "ca-central-1")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("AWS_PAGER", "")
            .env_remove("AWS_PROFILE");
        if let Some(dns) = &self.dns_server {
            cmd.env("DRILLBOOK_DNS_SERVER", dns);
        }
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        // `stop` kills only the pid recorded in this state file.
        let _ = Command::new(script())
            .arg("stop")
            .arg("--state-file")
            .arg(&self.state_file)
            .output();
    }
}
