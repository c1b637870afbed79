//! The caller identity, with a testing override.

use crate::actions::ActionError;
use crate::actions::aws::{Aws, Identity};
use crate::runbook::Runbook;

/// TESTING AID: when this environment variable holds an ARN, drillbook uses it as the caller
/// identity instead of calling STS GetCallerIdentity (the account is the ARN's fifth field).
/// It exists so approval and account-guard behaviour can be tested without AWS; it bypasses
/// no AWS permission (every AWS call still uses the real credentials), but it does let whoever
/// sets it claim any identity in the journal, so do not set it in real runs.
pub const IDENTITY_ENV: &str = "DRILLBOOK_IDENTITY_ARN";

/// Who is running drillbook: `DRILLBOOK_IDENTITY_ARN` when set (testing aid), else STS.
pub async fn caller_identity(aws: &Aws, region: &str) -> Result<Identity, ActionError> {
    if let Ok(arn) = std::env::var(IDENTITY_ENV)
        && !arn.trim().is_empty()
    {
        let arn = arn.trim().to_string();
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
