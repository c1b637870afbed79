//! AWS access shared by the actions: one SDK configuration from the standard chain
//! (profiles, SSO, environment, `AWS_ENDPOINT_URL`), clients per Region, the caller identity.

use std::sync::Arc;

use aws_config::{BehaviorVersion, Region, SdkConfig};

use super::Action;

/// Settings that shape every AWS client of a run.
#[derive(Debug, Clone, Default)]
pub struct AwsOptions {
    /// `--profile`.
    pub profile: Option<String>,
    /// Regions whose calls must fail as if unreachable (game-day impairment):
    /// `(region, Some(service))` or `(region, None)` for every service.
    pub impaired: Vec<(String, Option<String>)>,
}

/// The caller identity (STS GetCallerIdentity).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Identity {
    pub account: String,
    pub arn: String,
}

/// AWS access for one run.
pub struct Aws {
    base: SdkConfig,
    pub options: AwsOptions,
}

impl Aws {
    /// Loads the configuration chain. Makes no AWS call.
    pub async fn load(options: AwsOptions) -> Aws {
        let mut loader = aws_config::defaults(BehaviorVersion::latest());
        if let Some(p) = &options.profile {
            loader = loader.profile_name(p);
        }
        let base = loader.load().await;
        Aws { base, options }
    }

    /// The SDK configuration for a Region.
    pub fn config(&self, region: &str) -> SdkConfig {
        self.base
            .to_builder()
            .region(Region::new(region.to_string()))
            .build()
    }

    pub fn dynamodb(&self, region: &str) -> aws_sdk_dynamodb::Client {
        aws_sdk_dynamodb::Client::new(&self.config(region))
    }
    pub fn kms(&self, region: &str) -> aws_sdk_kms::Client {
        aws_sdk_kms::Client::new(&self.config(region))
    }
    pub fn apigateway(&self, region: &str) -> aws_sdk_apigateway::Client {
        aws_sdk_apigateway::Client::new(&self.config(region))
    }
    pub fn route53(&self) -> aws_sdk_route53::Client {
        aws_sdk_route53::Client::new(&self.config("us-east-1"))
    }
    pub fn cloudwatch(&self, region: &str) -> aws_sdk_cloudwatch::Client {
        aws_sdk_cloudwatch::Client::new(&self.config(region))
    }
    pub fn sts(&self, region: &str) -> aws_sdk_sts::Client {
        aws_sdk_sts::Client::new(&self.config(region))
    }

    /// Who is calling (STS GetCallerIdentity in `region`).
    pub async fn identity(&self, region: &str) -> Result<Identity, super::ActionError> {
        let out = self
            .sts(region)
            .get_caller_identity()
            .send()
            .await
            .map_err(|e| {
                super::ActionError::Aws(Box::new(super::AwsFailure {
                    service: "sts".into(),
                    operation: "GetCallerIdentity".into(),
                    region: region.into(),
                    code: "RequestFailed".into(),
                    message: aws_smithy_types::error::display::DisplayErrorContext(&e).to_string(),
                    retryable: true,
                    request_id: None,
                    hint: "check your AWS credentials (`aws sts get-caller-identity`)".into(),
                }))
            })?;
        Ok(Identity {
            account: out.account().unwrap_or_default().to_string(),
            arn: out.arn().unwrap_or_default().to_string(),
        })
    }
}

/// The AWS actions (one file per service, added as they are implemented).
pub(super) fn all() -> Vec<Arc<dyn Action>> {
    vec![]
}
