//! Testing aids that only debug builds honour: the caller-identity override and the crash
//! points. Release builds ignore them (the CLI warns when one is set).

/// TESTING AID (debug builds only, see [`TEST_HOOKS`]): when this environment variable holds an
/// ARN, drillbook uses it as the caller identity instead of calling STS GetCallerIdentity (the
/// account is the ARN's fifth field).
/// It exists so approval and account-guard behaviour can be tested without AWS; it bypasses
/// no AWS permission (every AWS call still uses the real credentials), but it does let whoever
/// sets it claim any identity in the journal, so do not set it in real runs.
pub const IDENTITY_ENV: &str = "DRILLBOOK_IDENTITY_ARN";

/// Whether this build honours the testing aids (`DRILLBOOK_IDENTITY_ARN`,
/// `DRILLBOOK_TEST_CRASH_AT`): debug builds only, which is what `cargo test` builds. A release
/// build, the one anyone runs in production, ignores them (the CLI says so), so nobody can
/// claim another identity or arm a crash through the environment.
pub const TEST_HOOKS: bool = cfg!(debug_assertions);

/// The value of a testing-aid variable, in a build that honours it.
pub fn test_hook(var: &str) -> Option<String> {
    let value = std::env::var(var).ok().filter(|v| !v.trim().is_empty())?;
    TEST_HOOKS.then(|| value.trim().to_string())
}

/// The testing-aid variables set in the environment that this build ignores (a release
/// build): the CLI warns about each once.
pub fn ignored_test_hooks() -> Vec<&'static str> {
    if TEST_HOOKS {
        return vec![];
    }
    [IDENTITY_ENV, CRASH_ENV]
        .into_iter()
        .filter(|v| std::env::var(v).is_ok_and(|x| !x.trim().is_empty()))
        .collect()
}

/// The environment variable that arms a crash point (see `crash.rs`).
pub const CRASH_ENV: &str = "DRILLBOOK_TEST_CRASH_AT";
