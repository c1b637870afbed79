//! The command line: arguments, dispatch, exit codes. `main.rs` only calls [`main`].
#![expect(
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "the CLI is where drillbook talks to people"
)]

/// `println!` for the commands: the text leaves through the terminal sanitizer
/// ([`crate::report::sanitize::terminal`]: secrets redacted, control characters shown as
/// escapes). Fields that must stay on one line are passed through
/// [`crate::report::sanitize::one_line`] first.
macro_rules! outln {
    () => {
        println!()
    };
    ($($arg:tt)*) => {
        println!("{}", $crate::report::sanitize::terminal(&format!($($arg)*)))
    };
}

/// `print!` through the terminal sanitizer (see [`outln!`]).
macro_rules! out {
    ($($arg:tt)*) => {
        print!("{}", $crate::report::sanitize::terminal(&format!($($arg)*)))
    };
}

/// `eprintln!` through the terminal sanitizer (see [`outln!`]).
macro_rules! errln {
    ($($arg:tt)*) => {
        eprintln!("{}", $crate::report::sanitize::terminal(&format!($($arg)*)))
    };
}

mod commands;
mod drill;
mod evidence;
mod fleet;
mod plan;
mod report;
mod run;
mod setup;
mod state;
mod status;
mod validate;

pub use crate::app::ExitCode;
use crate::app::Failure;

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Disaster-recovery drills as code: plan, dry-run and execute recovery runbooks.
#[derive(Debug, Parser)]
#[command(name = "drillbook", version, about, long_about = None, after_help = EXAMPLES)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

const EXAMPLES: &str = "\
Examples:
  drillbook validate runbooks/region-failover.yaml
  drillbook plan runbooks/region-failover.yaml --format mermaid
  drillbook run runbooks/region-failover.yaml                 # dry-run (changes nothing)
  drillbook run runbooks/region-failover.yaml --execute       # asks for confirmation
  drillbook resume 20261123-184501-ab12
  drillbook drill scenarios/ca-central-1-outage.yaml --execute --yes

Exit codes: 0 success, 1 a step failed or an objective was missed (or the state store did
not answer before the run started), 2 invalid input, 3 paused (awaiting approval, interrupted,
or the state store stopped answering; resumable), 4 another run holds the lock.";

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check runbooks and report every problem at once.
    #[command(after_help = validate::VALIDATE_HELP)]
    Validate(ValidateArgs),
    /// Show the DAG, start order, critical path and estimated makespan.
    Plan(PlanArgs),
    /// Print the JSON Schema of the runbook format.
    #[command(after_help = validate::SCHEMA_HELP)]
    Schema,
    /// Dry-run (default) or execute a runbook.
    Run(RunArgs),
    /// Continue an interrupted, paused or failed run.
    Resume(ResumeArgs),
    /// Approve a pending `approval` step of a run.
    #[command(after_help = "\
Examples:
  drillbook evidence keygen ~/.drillbook/approver.key     # once; put approver.key.pub in the runbook's approvers.keys
  drillbook approve 20261203-101500-ab12 gate --sign-with ed25519:$HOME/.drillbook/approver.key --comment 'dashboards green'
  drillbook approve 20261203-101500-ab12 gate --sign-with kms:alias/dr-approver@eu-west-1 --state 'dynamodb://drillbook-state?region=eu-west-1'

The approval is refused (exit 2) when you started or resumed the run, or when the runbook's
`approvers:` would not count it (unsigned, or not a key it trusts for you).")]
    Approve(ApproveArgs),
    /// List past runs.
    Runs(RunsArgs),
    /// Show the timing report of a past run, or write it in another format.
    Report(ReportArgs),
    /// Run a game-day scenario: impair Regions, run its runbook, check expectations and objectives.
    Drill(DrillArgs),
    /// Print the least-privilege IAM policy (JSON) a runbook needs.
    IamPolicy(IamPolicyArgs),
    /// Check a sealed evidence directory: hashes, journal chain, signature.
    VerifyEvidence(evidence::VerifyEvidenceArgs),
    /// Evidence keys and sealing.
    Evidence(evidence::EvidenceArgs),
    /// Shared run state for a team (DynamoDB): create the table.
    State(state::StateArgs),
    /// Which runbooks passed a drill, how recently, and whether they changed since.
    #[command(after_help = status::STATUS_HELP)]
    Status(status::StatusArgs),
    /// Every run of one runbook: dates, verdicts, achieved RTO and RPO, slowest steps.
    #[command(after_help = status::HISTORY_HELP)]
    History(status::HistoryArgs),
}

#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// Runbook files.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// Override a variable (repeatable): `--var secondary=eu-west-1`.
    #[arg(long = "var", value_name = "K=V")]
    pub vars: Vec<String>,
    /// Directory a scenario's `runbook:` must resolve inside, after symlinks (default: the
    /// scenario file's directory).
    #[arg(long, value_name = "DIR")]
    pub root: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum PlanFormat {
    Text,
    Json,
    Dot,
    Mermaid,
}

#[derive(Debug, Args)]
#[command(after_help = plan::EXAMPLES)]
pub struct PlanArgs {
    /// Runbook file.
    pub file: PathBuf,
    /// Output format: text for people, json for tools (docs/plan-json.md), dot or mermaid for
    /// diagrams.
    #[arg(long, value_enum, default_value = "text")]
    pub format: PlanFormat,
    /// Override a variable (repeatable): `--var secondary=eu-west-1`.
    #[arg(long = "var", value_name = "K=V")]
    pub vars: Vec<String>,
    /// Exit 1 when the estimated makespan exceeds `objectives.rto`, or when a required
    /// recovery step needs a `--lost-region`.
    #[arg(long)]
    pub strict: bool,
    /// A Region the outage takes away (repeatable): marks every step that would need it, and
    /// every step that needs a global control plane; a required recovery step that needs a lost
    /// Region is a finding.
    #[arg(long = "lost-region", value_name = "REGION")]
    pub lost_regions: Vec<String>,
    /// Steps the run will start at once (as `run --max-parallel`): the makespan is estimated
    /// under this limit.
    #[arg(long, default_value_t = 8)]
    pub max_parallel: usize,
    /// Step estimates: `declared` (`estimate:`), `learned` (measured in past executed runs of
    /// this runbook; every step needs 5), `auto` (learned where a step has 5 samples).
    #[arg(long, value_enum, default_value = "auto")]
    pub estimates: crate::app::Estimates,
    /// Where past runs are read from (as `run`).
    #[command(flatten)]
    pub history: StoreArgs,
}

pub use crate::report::console::MessageFormat;

/// Options shared by commands that run steps.
#[derive(Debug, Args, Clone)]
pub struct ExecOptions {
    #[command(flatten)]
    pub store: StoreArgs,
    /// Steps running at once.
    #[arg(long, default_value_t = 8)]
    pub max_parallel: usize,
    /// Progress for people (`human`), or one JSON line per journal event (`json`, see
    /// docs/events.md).
    #[arg(long, value_enum, default_value = "human")]
    pub message_format: MessageFormat,
    /// Publish run metrics to this CloudWatch namespace.
    #[arg(long, value_name = "NAMESPACE")]
    pub publish_metrics: Option<String>,
    /// Where reports go: `<report-dir>/<run-id>/` (default: `<state-dir>/reports`).
    #[arg(long, env = "DRILLBOOK_REPORT_DIR")]
    pub report_dir: Option<PathBuf>,
    /// Sign the evidence: `ed25519:KEYFILE` or `kms:alias/NAME[@REGION]` (default: hashes only).
    /// Recorded when the run starts: a resume seals with the same key.
    #[arg(long, env = "DRILLBOOK_SIGN_WITH", value_name = "SPEC")]
    pub sign_with: Option<String>,
    /// Take over the runbook lock whose lease expired (DynamoDB state); recorded in the journal.
    #[arg(long)]
    pub steal_lock: bool,
    /// Lease of the runbook lock (DynamoDB state), renewed every third of it.
    #[arg(
        long,
        env = "DRILLBOOK_LOCK_LEASE",
        default_value = "60s",
        value_name = "DURATION"
    )]
    pub lock_lease: String,
}

impl ExecOptions {
    /// The settings a run needs, resolved: the signer parsed, the lock lease read (exit 2 when
    /// either is invalid).
    pub(crate) fn settings(&self) -> Result<crate::app::Settings, Failure> {
        let signer = crate::app::signer(self.sign_with.as_deref())?;
        let lock_lease = crate::duration::parse_duration(&self.lock_lease).map_err(|e| {
            Failure::invalid(format!("invalid `--lock-lease {}`: {e}", self.lock_lease))
                .help("write a duration such as `60s`")
        })?;
        let mut settings = self.store.settings();
        settings.state.lock_lease = lock_lease;
        settings.state.steal_lock = self.steal_lock;
        settings.max_parallel = self.max_parallel;
        settings.report_dir = self.report_dir.clone();
        settings.publish_metrics = self.publish_metrics.clone();
        settings.signer = signer;
        Ok(settings)
    }
}

/// Where runs are kept, for every command that reads or writes them (declared once).
#[derive(Debug, Args, Clone)]
pub struct StoreArgs {
    /// Directory holding run journals (and, by default, reports).
    #[arg(
        long,
        env = "DRILLBOOK_STATE_DIR",
        default_value = ".drillbook",
        global = true
    )]
    pub state_dir: PathBuf,
    /// Shared run state: `dynamodb://TABLE?region=REGION` (default: the files in --state-dir).
    #[arg(long, env = "DRILLBOOK_STATE", value_name = "URL", global = true)]
    pub state: Option<String>,
    #[command(flatten)]
    pub aws: ProfileArg,
}

impl StoreArgs {
    /// The settings of a command that reads runs or adds to one (the defaults for the rest).
    pub(crate) fn settings(&self) -> crate::app::Settings {
        crate::app::Settings::reading(
            self.state_dir.clone(),
            self.state.clone(),
            self.aws.profile.clone(),
        )
    }
}

/// The AWS profile (declared once).
#[derive(Debug, Args, Clone)]
pub struct ProfileArg {
    /// AWS profile to use: your own identity (for the steps' calls, the state table, signing
    /// and approving).
    #[arg(long, env = "AWS_PROFILE", global = true)]
    pub profile: Option<String>,
}

#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  drillbook drill scenarios/ca-central-1-outage.yaml              # dry run of the drill
  drillbook drill scenarios/ca-central-1-outage.yaml --execute --yes
  drillbook drill scenarios/rehearsal.yaml --execute --yes --message-format json
  drillbook drill scenarios/rehearsal.yaml --execute --yes --accounts 111111111111,222222222222 --regions ca-central-1

Exit codes: 0 every expectation and objective held; 1 a step failed, an expectation or an
objective did not hold; 2 invalid scenario or runbook; 3 paused (approval, Ctrl-C, the state
store stopped answering). Across accounts (docs/fleets.md): 0 every target passed, 3 some
paused and none failed, 1 otherwise; `drillbook resume FLEET_ID` drills again those that did
not pass.")]
pub struct DrillArgs {
    /// Scenario file (see scenarios/).
    pub scenario: PathBuf,
    /// Directory a scenario's `runbook:` must resolve inside, after symlinks (default: the
    /// scenario file's directory).
    #[arg(long, value_name = "DIR")]
    pub root: Option<PathBuf>,
    /// Override a runbook variable (wins over the scenario's `vars`).
    #[arg(long = "var", value_name = "K=V")]
    pub vars: Vec<String>,
    /// Make changes. Without it the drill is a dry run: observe only.
    #[arg(long)]
    pub execute: bool,
    /// Do not ask for confirmation.
    #[arg(long, short = 'y')]
    pub yes: bool,
    #[command(flatten)]
    pub targets: TargetArgs,
    #[command(flatten)]
    pub exec: ExecOptions,
}

#[derive(Debug, Args)]
#[command(
    after_help = "Example:\n  drillbook iam-policy runbooks/region-failover.yaml > policy.json"
)]
pub struct IamPolicyArgs {
    /// Runbook file.
    pub file: PathBuf,
    /// Override a variable (repeatable): `--var secondary=eu-west-1`.
    #[arg(long = "var", value_name = "K=V")]
    pub vars: Vec<String>,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Runbook file.
    pub file: PathBuf,
    /// Override a variable (repeatable): `--var secondary=eu-west-1`.
    #[arg(long = "var", value_name = "K=V")]
    pub vars: Vec<String>,
    /// Only observe: read real state, change nothing (the default).
    #[arg(long, conflicts_with = "execute")]
    pub dry_run: bool,
    /// Make changes. Asks for confirmation unless `--yes` or stdin is not a terminal.
    #[arg(long)]
    pub execute: bool,
    /// Do not ask for confirmation.
    #[arg(long, short = 'y')]
    pub yes: bool,
    #[command(flatten)]
    pub targets: TargetArgs,
    #[command(flatten)]
    pub exec: ExecOptions,
}

/// Where a runbook runs across accounts and Regions: each target (account x Region) is a run
/// of its own, the fleet one record (`drillbook runs` lists it; `drillbook resume FLEET_ID`
/// runs again every target that did not succeed). The limits mean what AWS Systems Manager
/// Automation's `TargetLocations` give them. Each flag overrides its field of the file's
/// `targets:` (docs/fleets.md).
#[derive(Debug, Args, Clone)]
pub struct TargetArgs {
    /// Run across these accounts (comma-separated ids; `ID=NAME` names one): each step assumes
    /// `arn:aws:iam::ID:role/ROLE_NAME`, and the runbook may write `{{ target.account }}`,
    /// `{{ target.region }}`, `{{ target.name }}`, `{{ target.role_arn }}`.
    #[arg(long, value_name = "IDS", value_delimiter = ',')]
    pub accounts: Vec<String>,
    /// Run across the accounts of these OUs (comma-separated OU ids, `ou-...`), as AWS
    /// Organizations lists them to drillbook's own identity (the management account or a
    /// delegated administrator); suspended or closed accounts are skipped and listed.
    #[arg(long = "ou", value_name = "OU_IDS", value_delimiter = ',')]
    pub organizational_units: Vec<String>,
    /// With `--ou`: also the accounts of their child OUs, all the way down.
    #[arg(long)]
    pub include_child_ous: bool,
    /// Leave out these accounts or OUs (comma-separated ids).
    #[arg(long, value_name = "IDS", value_delimiter = ',')]
    pub exclude: Vec<String>,
    /// The Regions of each account (comma-separated), given as `{{ target.region }}` and as
    /// `defaults.region` when the runbook sets none.
    #[arg(long, value_name = "REGIONS", value_delimiter = ',')]
    pub regions: Vec<String>,
    /// The role each target's steps assume in its account [default: OrganizationAccountAccessRole].
    #[arg(long, value_name = "NAME")]
    pub role_name: Option<String>,
    /// Targets running at once: a number, or a share of the targets (`10%`) [default: 10].
    #[arg(long, value_name = "N|N%")]
    pub max_concurrency: Option<String>,
    /// Failures allowed before no new target starts (`3`: the fourth failure stops the
    /// rollout; running targets finish): a number, or a share (`10%`) [default: 0].
    #[arg(long, value_name = "N|N%")]
    pub max_errors: Option<String>,
    /// A CloudWatch alarm of the account drillbook runs in (`NAME`, or `NAME@REGION`; the
    /// first of --regions by default): while it is in ALARM, or cannot be read, no new target
    /// starts (running targets finish), as Systems Manager's alarm configuration does.
    #[arg(long, value_name = "NAME[@REGION]")]
    pub stop_alarm: Option<String>,
}

impl TargetArgs {
    /// The flags as a `targets:` field (what was not given is left unset).
    pub(crate) fn targets(&self) -> crate::app::targets::Targets {
        crate::app::targets::Targets {
            accounts: self.accounts.clone(),
            organizational_units: self.organizational_units.clone(),
            include_child_ous: self.include_child_ous.then_some(true),
            exclude: self.exclude.clone(),
            regions: self.regions.clone(),
            role_name: self.role_name.clone(),
            max_concurrency: self.max_concurrency.clone(),
            max_errors: self.max_errors.clone(),
            stop_alarm: self.stop_alarm.clone(),
        }
    }
}

#[derive(Debug, Args)]
pub struct ResumeArgs {
    /// The run to continue (as `drillbook runs` lists it).
    pub run_id: String,
    /// The runbook to go on with. Without it the run goes on with its own copy; a different
    /// runbook needs `--force`.
    #[arg(long, value_name = "FILE")]
    pub runbook: Option<PathBuf>,
    /// Change a variable (NAME=VALUE, repeatable); needs `--force`.
    #[arg(long = "var", value_name = "NAME=VALUE")]
    pub vars: Vec<String>,
    /// Go on with the changed `--runbook` or `--var` values. Recorded in the journal; every
    /// approval is asked again, since an approval binds the runbook and variables it approved.
    #[arg(long)]
    pub force: bool,
    /// Do not ask for confirmation.
    #[arg(long, short = 'y')]
    pub yes: bool,
    #[command(flatten)]
    pub exec: ExecOptions,
}

#[derive(Debug, Args)]
pub struct ApproveArgs {
    /// The paused run (as `drillbook runs` lists it).
    pub run_id: String,
    /// The approval step it awaits.
    pub step: String,
    /// A note kept with the approval.
    #[arg(long, default_value = "")]
    pub comment: String,
    /// Sign the approval with your own key: `ed25519:KEY_FILE` (from `drillbook evidence
    /// keygen`) or `kms:KEY` (an asymmetric ECC_NIST_P256 SIGN_VERIFY key you may use; alias,
    /// key id or ARN, `@REGION` optional). The runbook's `approvers.keys` must list it.
    #[arg(long, value_name = "SIGNER")]
    pub sign_with: Option<String>,
    #[command(flatten)]
    pub store: StoreArgs,
}

#[derive(Debug, Args)]
pub struct RunsArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    #[command(subcommand)]
    pub action: Option<state::RunsAction>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReportFormat {
    /// The timing report, for a terminal.
    Text,
    /// The run document (see docs/report-json.md).
    Json,
    /// One self-contained page for people who do not run drillbook.
    Html,
    /// For a ticket or a pull request.
    Markdown,
    /// JUnit XML, for CI dashboards.
    Junit,
    /// report.html, report.md, report.json and junit.xml together.
    All,
}

#[derive(Debug, Args)]
#[command(after_help = "Where the report goes:
  without --output, text, json, markdown and junit are printed to stdout; html is written to
  ./drillbook-report-<RUN_ID>.html and `all` into ./drillbook-report-<RUN_ID>/.
  With --output DIR, the report is written into DIR (created) under its usual name:
  report.txt, report.json, report.html, report.md or junit.xml (all four for `all`, as every
  run writes them into <report-dir>/<RUN_ID>/). The written paths are printed.
  The exit code is 0 whenever the report was produced, whatever the run's verdict.")]
pub struct ReportArgs {
    /// The run (as `drillbook runs` lists it).
    pub run_id: String,
    /// What to write (see the formats below).
    #[arg(long, value_enum, default_value = "text")]
    pub format: ReportFormat,
    /// Write the report into this directory instead of stdout.
    #[arg(long, value_name = "DIR")]
    pub output: Option<PathBuf>,
    #[command(flatten)]
    pub store: StoreArgs,
}

/// Printing a [`Failure`]: `error: ...` and `help: ...` on stderr (secrets redacted).
pub(crate) trait Report {
    /// Prints it and returns its exit code.
    fn report(&self) -> ExitCode;
}

impl Report for Failure {
    fn report(&self) -> ExitCode {
        if let Some(d) = self.problems() {
            eprint!("{}", diagnostics(d, validate::stderr_color()));
        }
        // What a message quotes (an ARN, an AWS error) stays on its line.
        let message = self.to_string();
        if !message.is_empty() {
            eprintln!("error: {}", crate::report::sanitize::message(&message));
        }
        if let Some(h) = self.hint() {
            eprintln!("help: {}", crate::report::sanitize::message(h));
        }
        self.code
    }
}

/// Input problems as printed: the source lines they quote pass the terminal sanitizer too.
/// Colour only when nothing in them needed escaping (the sanitizer would show miette's own
/// colour codes as text).
pub(super) fn diagnostics(d: &crate::app::Diagnostics, color: bool) -> String {
    let plain = d.render(false);
    match crate::report::sanitize::terminal(&plain) {
        std::borrow::Cow::Borrowed(_) if color => d.render(true),
        shown => shown.into_owned(),
    }
}

/// A command's end: its exit code, or its failure printed.
pub(crate) fn finish(r: Result<ExitCode, Failure>) -> ExitCode {
    r.unwrap_or_else(|f| f.report())
}

/// The async runtime every command that talks to AWS or a state table runs on (the one
/// runtime builder).
pub(super) fn runtime() -> Result<tokio::runtime::Runtime, Failure> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::failed(format!("cannot start the async runtime: {e}")))
}

/// Parses arguments, runs the command, maps the outcome to an exit code.
pub fn main() -> std::process::ExitCode {
    // Like other Unix tools, end quietly when the reader of stdout goes away
    // (`drillbook plan ... | head`) instead of failing to print.
    #[cfg(unix)]
    // SAFETY: restoring the default disposition of SIGPIPE before any thread starts.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let cli = Cli::parse();
    for var in crate::app::ignored_test_hooks() {
        errln!("warning: {var} is a testing aid and is ignored by this release build");
    }
    let code = commands::dispatch(cli);
    std::process::ExitCode::from(code as u8)
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory as _;

    /// Every argument of every command says what it is for: `--help` has no bare names.
    #[test]
    fn no_argument_is_without_help() {
        fn walk(cmd: &clap::Command, path: &str, missing: &mut Vec<String>) {
            let path = format!("{path} {}", cmd.get_name());
            for arg in cmd.get_arguments() {
                let id = arg.get_id().as_str();
                if matches!(id, "help" | "version") {
                    continue;
                }
                let help = arg
                    .get_help()
                    .or(arg.get_long_help())
                    .map(|h| h.to_string())
                    .unwrap_or_default();
                if help.trim().is_empty() {
                    missing.push(format!("{path} <{id}>"));
                }
            }
            for sub in cmd.get_subcommands() {
                if sub
                    .get_about()
                    .is_none_or(|a| a.to_string().trim().is_empty())
                {
                    missing.push(format!("{path} {} (the command)", sub.get_name()));
                }
                walk(sub, &path, missing);
            }
        }
        let mut missing = vec![];
        walk(&super::Cli::command(), "", &mut missing);
        assert!(missing.is_empty(), "without help:\n{}", missing.join("\n"));
    }
}
