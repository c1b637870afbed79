//! The caller identity, with a testing override.

use crate::actions::ActionError;
use crate::actions::aws::{Aws, Identity};
use crate::runbook::Runbook;

use super::hooks::{IDENTITY_ENV, test_hook};

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
