//! Settings resolved from the command line and the environment, before anything runs.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::evidence::Signer;

/// Where runs are kept.
#[derive(Debug, Clone)]
pub struct State {
    /// The file store's directory (`--state-dir`); reports go under it by default.
    pub dir: PathBuf,
    /// The DynamoDB table (`--state dynamodb://TABLE?region=REGION`), when runs are shared.
    pub url: Option<String>,
    /// How long the runbook lock lasts without a renewal (`--lock-lease`).
    pub lock_lease: Duration,
    /// Take over a lock whose lease expired (`--steal-lock`).
    pub steal_lock: bool,
}

/// What a run, resume or drill needs to know besides the runbook.
#[derive(Debug, Clone)]
pub struct Settings {
    pub state: State,
    /// The AWS profile for the state table, signing and the steps' calls.
    pub profile: Option<String>,
    pub max_parallel: usize,
    /// Where each run's reports and evidence go (`DIR/RUN_ID/`); default `STATE_DIR/reports`.
    pub report_dir: Option<PathBuf>,
    /// The CloudWatch namespace the run's metrics are published to.
    pub publish_metrics: Option<String>,
    /// Who seals the evidence.
    pub signer: Signer,
}

impl Settings {
    /// The settings of a command that reads runs or adds to one: where they are kept and the
    /// AWS profile; the defaults of `run` for the rest.
    pub fn reading(dir: PathBuf, url: Option<String>, profile: Option<String>) -> Settings {
        Settings {
            state: State {
                dir,
                url,
                lock_lease: Duration::from_secs(60),
                steal_lock: false,
            },
            profile,
            max_parallel: 8,
            report_dir: None,
            publish_metrics: None,
            signer: Signer::None,
        }
    }

    /// The directory of one run's reports and evidence.
    pub fn report_dir_for(&self, run_id: &str) -> PathBuf {
        self.report_dir
            .clone()
            .unwrap_or_else(|| self.state.dir.join("reports"))
            .join(run_id)
    }

    /// `--state 'URL'` or `--state-dir DIR` (nothing for the default directory), to repeat in
    /// printed commands.
    pub fn location_flag(&self) -> String {
        match &self.state.url {
            Some(u) => format!(" --state '{u}'"),
            None => state_dir_flag(&self.state.dir),
        }
    }
}

/// ` --state-dir DIR`, or nothing for the default `.drillbook`.
pub fn state_dir_flag(dir: &Path) -> String {
    if dir == Path::new(".drillbook") {
        String::new()
    } else {
        format!(" --state-dir {}", shell_quote(&dir.display().to_string()))
    }
}

/// Quotes a word for a copy-pasted shell command when it needs it.
pub fn shell_quote(s: &str) -> String {
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:@".contains(c))
    {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}
