//! One way to run the drillbook binary in a test and assert on what it did, as ripgrep's and
//! just's test builders do.
//!
//! `bin()` starts from the same clean slate every time: nothing about state, identity,
//! locks or colour is inherited from the caller's environment, and stdin is closed. What a test
//! needs it adds (`.emulator()`, `.state_dir(..)`, `.env(..)`), then `.output()` runs it, and
//! `Ran::assert_exit(code)` fails with both output streams when the exit code is another.

use std::ffi::OsStr;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};

use super::emulator;

/// The environment a test run never inherits.
const SCRUBBED: &[&str] = &[
    "DRILLBOOK_STATE",
    "DRILLBOOK_STATE_DIR",
    "DRILLBOOK_LOCK_LEASE",
    "DRILLBOOK_IDENTITY_ARN",
    "DRILLBOOK_TEST_CRASH_AT",
    "CLICOLOR_FORCE",
];

/// The binary under test, with nothing inherited that changes what it does.
pub(crate) fn bin() -> Drillbook {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_drillbook"));
    cmd.env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for k in SCRUBBED {
        cmd.env_remove(k);
    }
    Drillbook { cmd }
}

/// A drillbook command being built.
pub(crate) struct Drillbook {
    cmd: Command,
}

impl Drillbook {
    pub(crate) fn arg(&mut self, a: impl AsRef<OsStr>) -> &mut Self {
        self.cmd.arg(a);
        self
    }
    pub(crate) fn args<I, S>(&mut self, args: I) -> &mut Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.cmd.args(args);
        self
    }
    /// Runs in `dir`.
    pub(crate) fn current_dir(&mut self, dir: impl AsRef<Path>) -> &mut Self {
        self.cmd.current_dir(dir.as_ref());
        self
    }
    /// Standard error (piped unless set).
    pub(crate) fn stderr(&mut self, stderr: Stdio) -> &mut Self {
        self.cmd.stderr(stderr);
        self
    }
    /// Standard output (piped unless set).
    pub(crate) fn stdout(&mut self, stdout: Stdio) -> &mut Self {
        self.cmd.stdout(stdout);
        self
    }
    pub(crate) fn env(&mut self, k: impl AsRef<OsStr>, v: impl AsRef<OsStr>) -> &mut Self {
        self.cmd.env(k, v);
        self
    }
    pub(crate) fn envs<I, K, V>(&mut self, vars: I) -> &mut Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<OsStr>,
        V: AsRef<OsStr>,
    {
        self.cmd.envs(vars);
        self
    }
    pub(crate) fn env_remove(&mut self, k: impl AsRef<OsStr>) -> &mut Self {
        self.cmd.env_remove(k);
        self
    }
    /// Talks to the shared emulator (endpoint, credentials, default Region).
    pub(crate) fn emulator(&mut self) -> &mut Self {
        self.envs(emulator().env())
    }
    /// As `identity` (the emulator's caller identity is overridden for the run).
    pub(crate) fn identity(&mut self, arn: &str) -> &mut Self {
        self.env("DRILLBOOK_IDENTITY_ARN", arn)
    }
    /// `--state-dir DIR`.
    pub(crate) fn state_dir(&mut self, dir: impl AsRef<Path>) -> &mut Self {
        self.arg("--state-dir").arg(dir.as_ref())
    }
    /// Starts it (for tests that signal or race it); both streams are piped unless set.
    pub(crate) fn spawn(&mut self) -> Child {
        self.cmd.spawn().expect("spawn drillbook")
    }
    /// Runs it to the end.
    pub(crate) fn output(&mut self) -> Output {
        self.cmd.output().expect("run drillbook")
    }
}

/// What a finished drillbook printed, and how it ended.
pub(crate) trait Ran {
    /// The exit code (-1 when a signal ended it).
    fn code(&self) -> i32;
    fn stdout_text(&self) -> String;
    fn stderr_text(&self) -> String;
    /// Standard output then standard error.
    fn text(&self) -> String {
        format!("{}{}", self.stdout_text(), self.stderr_text())
    }
    /// Fails the test, with both streams, unless the exit code is `code`.
    #[track_caller]
    fn assert_exit(&self, code: i32) -> &Self {
        assert_eq!(
            self.code(),
            code,
            "exit code\n--- stdout\n{}\n--- stderr\n{}",
            self.stdout_text(),
            self.stderr_text()
        );
        self
    }
}

impl Ran for Output {
    fn code(&self) -> i32 {
        self.status.code().unwrap_or(-1)
    }
    fn stdout_text(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }
    fn stderr_text(&self) -> String {
        String::from_utf8_lossy(&self.stderr).into_owned()
    }
}
