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
    state_file: PathBuf,
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
        Emulator {
            endpoint,
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

    pub(crate) fn env(&self, cmd: &mut Command) {
        cmd.env("AWS_ENDPOINT_URL", &self.endpoint)
            .env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test")
            .env("AWS_REGION", "ca-central-1")
            .env("AWS_DEFAULT_REGION", "ca-central-1")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("AWS_PAGER", "")
            .env_remove("AWS_PROFILE");
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
