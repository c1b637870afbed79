//! The caller identity, with a testing override.

use crate::actions::ActionError;
use crate::actions::aws::{Aws, Identity};
use crate::runbook::Runbook;

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
    [IDENTITY_ENV, super::crash::CRASH_ENV]
        .into_iter()
        .filter(|v| std::env::var(v).is_ok_and(|x| !x.trim().is_empty()))
        .collect()
}

/// Who is running drillbook: `DRILLBOOK_IDENTITY_ARN` when set (testing aid, debug builds
/// only), else STS.
pub async fn caller_identity(aws: &Aws, region: &str) -> Result<Identity, ActionError> {
    if let Some(arn) = test_hook(IDENTITY_ENV) {
        let account = arn.split(':').nth(4).unwrap_or_default().to_string();
        return Ok(Identity { account, arn });
    }
    aws.identity(region).await
}

/// The Region to ask STS in: the first step Region, else `AWS_REGION`, else us-east-1.
pub fn identity_region(runbook: &Runbook) -> String {
    runbook
        .steps
        .iter()
        .chain(&runbook.finally)
        .find_map(|s| s.region.clone())
        .or_else(|| std::env::var("AWS_REGION").ok().filter(|r| !r.is_empty()))
        .unwrap_or_else(|| "us-east-1".to_string())
}
