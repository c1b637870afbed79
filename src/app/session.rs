//! One command's session: the resolved [`Settings`], the AWS configuration (loaded once, on
//! first use, and only when something needs it), the state store, and the AWS handle the
//! steps call through. `run`, `resume` and `drill` go from a session to an exit code (the
//! lifecycle module); the commands that read runs use the same store.

use std::sync::Arc;

use aws_config::{BehaviorVersion, SdkConfig};
use tokio::sync::OnceCell;

use super::{Failure, Settings};
use crate::actions::aws::{Aws, AwsOptions, Impairment};
use crate::checkpoint::CheckpointStore;
use crate::checkpoint::dynamodb::{DynamoDbStore, StateUrl};
use crate::checkpoint::file::FileStore;
use crate::event::Mode;
use crate::runbook::Runbook;

/// See the module documentation.
pub struct Session {
    pub settings: Settings,
    /// The AWS configuration chain's result (`--profile`), loaded once; a fleet's targets
    /// share their fleet's cell, so the fleet loads it once for all of them.
    config: Arc<OnceCell<SdkConfig>>,
    /// The store runs are read from (the run itself writes through the runbook's lock).
    store: OnceCell<Arc<dyn CheckpointStore>>,
    /// The handle the steps call through, once chosen for the runbook ([`Session::aws_for`]).
    aws: Option<Arc<Aws>>,
    /// For one target of a fleet: `ACCOUNT/REGION`, added to the runbook's lock (each target
    /// runs under its own).
    pub(super) lock_scope: Option<String>,
    /// For one target of a drill fleet: the role its drill's own calls (damage, faults,
    /// expectations) are made through, in the target's account and Region.
    pub(super) target_role: Option<TargetRole>,
}

/// The role a target's drill acts through (see [`Session::as_target`]).
#[derive(Debug, Clone)]
pub(crate) struct TargetRole {
    /// `arn:aws:iam::ACCOUNT:role/ROLE_NAME`.
    pub arn: String,
    /// The target's Region (STS is called there).
    pub region: String,
    /// The fleet's id: the role session is `drillbook-<fleet id>`, as a step's is
    /// `drillbook-<run id>`.
    pub fleet_id: String,
}

impl Session {
    pub fn new(settings: Settings) -> Session {
        Session {
            settings,
            config: Arc::default(),
            store: OnceCell::new(),
            aws: None,
            lock_scope: None,
            target_role: None,
        }
    }

    /// Uses `other`'s AWS configuration, loaded once for both, by whichever needs it first (a
    /// fleet's targets share one: one credentials chain and one HTTP connection pool).
    pub(super) fn share_config(&mut self, other: &Session) {
        self.config = other.config.clone();
    }

    /// The AWS configuration, loaded on first use (the profile's chain: credentials, Region,
    /// endpoints), the same for everything this command does.
    pub async fn aws_config(&self) -> &SdkConfig {
        self.config
            .get_or_init(|| async {
                let mut loader = aws_config::defaults(BehaviorVersion::latest());
                if let Some(p) = &self.settings.profile {
                    loader = loader.profile_name(p);
                }
                // With its HTTP client made here, every handle on this configuration (each
                // target of a fleet) shares one connection pool.
                crate::actions::aws::with_http_client(loader.load().await)
            })
            .await
    }

    /// An AWS handle on this session's configuration (`impaired`: the Regions a drill takes
    /// away).
    pub async fn aws(&self, impaired: Vec<Impairment>) -> Aws {
        Aws::with_config(
            self.aws_config().await.clone(),
            AwsOptions {
                profile: self.settings.profile.clone(),
                impaired,
                ..Default::default()
            },
        )
    }

    /// The handle a run's steps call through, chosen once: on the AWS configuration when the
    /// runbook needs AWS (and the identity does not come from the testing override), else an
    /// offline one that makes no call and loads nothing.
    pub async fn aws_for(
        &mut self,
        runbook: Option<&Runbook>,
        mode: Mode,
        impaired: Vec<Impairment>,
    ) -> Arc<Aws> {
        if let Some(aws) = &self.aws {
            return aws.clone();
        }
        let aws = if needs_aws_config(runbook, mode) {
            Arc::new(self.aws(impaired).await)
        } else {
            let conf = SdkConfig::builder()
                .behavior_version(BehaviorVersion::latest())
                .build();
            Arc::new(Aws::from_config(
                conf,
                AwsOptions {
                    profile: self.settings.profile.clone(),
                    impaired,
                    ..Default::default()
                },
            ))
        };
        self.aws = Some(aws.clone());
        aws
    }

    /// The handle chosen for the run, if chosen yet.
    pub(super) fn current_aws(&self) -> Option<Arc<Aws>> {
        self.aws.clone()
    }

    pub(super) fn set_aws(&mut self, aws: Arc<Aws>) {
        self.aws = Some(aws);
    }

    /// Runs `fut` as the target's role when this session is a drill fleet's target (its
    /// damage, faults and expectations act in the target's account), else as the caller.
    pub(super) async fn as_target<F: std::future::Future>(&self, aws: &Aws, fut: F) -> F::Output {
        let Some(t) = &self.target_role else {
            return fut.await;
        };
        let role = crate::runbook::model::Role {
            arn: t.arn.clone(),
            external_id: None,
            duration: None,
        };
        let credentials = aws
            .role_credentials(&role, &t.fleet_id, "drill", &t.region)
            .await;
        let role = crate::actions::aws::StepRole {
            arn: t.arn.clone(),
            credentials,
        };
        crate::actions::aws::as_role(Some(role), fut).await
    }

    /// The DynamoDB store of `--state`, on this session's configuration.
    pub(super) async fn dynamodb(&self, url: &str) -> Result<DynamoDbStore, Failure> {
        let url = StateUrl::parse(url).map_err(Failure::invalid)?;
        let aws = self.aws(vec![]).await;
        Ok(DynamoDbStore::new(aws.dynamodb(&url.region), url))
    }

    /// The store runs are read from: the table of `--state`, else the files of `--state-dir`.
    pub async fn store(&self) -> Result<Arc<dyn CheckpointStore>, Failure> {
        self.store
            .get_or_try_init(|| async {
                Ok::<_, Failure>(match &self.settings.state.url {
                    Some(url) => Arc::new(self.dynamodb(url).await?) as Arc<dyn CheckpointStore>,
                    None => Arc::new(FileStore::new(&self.settings.state.dir)),
                })
            })
            .await
            .cloned()
    }
}

/// Whether a run of `runbook` needs the AWS configuration: an AWS step, or the caller's
/// identity (approvals, account guard) unless the testing override gives it.
fn needs_aws_config(runbook: Option<&Runbook>, mode: Mode) -> bool {
    let identity_overridden = crate::engine::test_hook(crate::engine::IDENTITY_ENV).is_some();
    match runbook {
        Some(r) => {
            let aws_steps = r.steps.iter().chain(&r.finally).any(|s| {
                crate::catalog::lookup(&s.action)
                    .is_some_and(|a| a.service != crate::actions::Service::Core)
            });
            // A step that assumes a role calls STS, whatever its action (a fleet's targets
            // assume theirs for every step).
            let roles = r.steps.iter().chain(&r.finally).any(|s| s.role.is_some());
            aws_steps || roles || (crate::engine::needs_aws(r, mode) && !identity_overridden)
        }
        None => !identity_overridden,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session() -> Session {
        Session::new(Settings::reading(
            std::env::temp_dir().join("drillbook-session-test"),
            None,
            None,
        ))
    }

    /// A fleet's targets load the AWS configuration once between them, whichever needs it first,
    /// and share its HTTP client (one connection pool).
    #[tokio::test]
    async fn sessions_that_share_a_configuration_load_it_once() {
        let fleet = session();
        let mut first = session();
        first.share_config(&fleet);
        let mut second = session();
        second.share_config(&fleet);
        assert!(
            fleet.config.get().is_none(),
            "nothing loaded before it is needed"
        );
        let loaded = first.aws_config().await;
        assert!(
            loaded.http_client().is_some(),
            "loaded with its HTTP client"
        );
        assert!(fleet.config.get().is_some());
        assert!(std::ptr::eq(second.aws_config().await, loaded));
        assert!(std::ptr::eq(fleet.aws_config().await, loaded));
        // A session of its own loads its own.
        let other = session();
        assert!(!std::ptr::eq(other.aws_config().await, loaded));
    }
}
