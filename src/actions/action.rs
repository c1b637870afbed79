//! The [`Action`] trait and the [`Registry`] that maps action names to implementations.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::{ActionError, ActionSpec, Observation, Outcome, StepContext, core_actions};

/// The trait every action implements.
#[async_trait::async_trait]
pub trait Action: Send + Sync {
    /// The catalogue entry (parameters, outputs, estimate, IAM).
    fn spec(&self) -> &'static ActionSpec;

    /// Read-only look at the world. Must make no mutating call.
    async fn observe(&self, ctx: &StepContext) -> Result<Observation, ActionError>;

    /// Make the changes `observed.changes` lists. Idempotent. A read-only action changes
    /// nothing: by default its outcome is what it observed. An action the catalogue marks as
    /// mutating must implement it (the default refuses, so a forgotten `apply` cannot pass as
    /// done).
    async fn apply(
        &self,
        _ctx: &StepContext,
        observed: &Observation,
    ) -> Result<Outcome, ActionError> {
        if self.spec().mutates {
            return Err(ActionError::Invalid {
                message: format!("`{}` has no apply", self.spec().name),
                hint: "a bug in drillbook: report it".into(),
            });
        }
        Ok(Outcome::observed(observed))
    }

    /// Check the post-condition after `apply` (or after an observe that found nothing to do).
    async fn verify(&self, ctx: &StepContext, outcome: &Outcome) -> Result<(), ActionError>;
}

/// Maps action names to implementations.
#[derive(Clone)]
pub struct Registry {
    actions: BTreeMap<&'static str, Arc<dyn Action>>,
}

impl Registry {
    /// Every built-in action.
    pub fn builtin() -> Self {
        let mut r = Registry {
            actions: BTreeMap::new(),
        };
        // Each service file declares its actions; this is the one list of services.
        let services = [
            core_actions::all,
            super::dynamodb::all,
            super::kms::all,
            super::apigateway::all,
            super::route53::all,
            super::dns::all,
            super::http::all,
            super::arc::all,
            super::cloudwatch::all,
            super::iam_access::all,
            super::rds::all,
            super::ecs::all,
            super::ssm::all,
            super::s3::all,
        ];
        for a in services.into_iter().flat_map(|all| all()) {
            r.register(a);
        }
        r
    }

    /// Adds or replaces an implementation (tests use this for fault injection).
    pub fn register(&mut self, action: Arc<dyn Action>) {
        self.actions.insert(action.spec().name, action);
    }

    pub fn get(&self, name: &str) -> Option<Arc<dyn Action>> {
        self.actions.get(name).cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::Registry;
    use crate::catalog::CATALOG;

    /// Adding an action to the catalogue without an implementation (or the reverse) fails here,
    /// not in a user's run.
    #[test]
    fn every_catalogue_entry_has_an_implementation_and_back() {
        let registry = Registry::builtin();
        for spec in CATALOG.iter() {
            let action = registry.get(spec.name).unwrap_or_else(|| {
                panic!(
                    "`{}` is in the catalogue but has no implementation",
                    spec.name
                )
            });
            assert_eq!(action.spec().name, spec.name);
        }
        for name in registry.actions.keys() {
            assert!(
                CATALOG.iter().any(|s| s.name == *name),
                "`{name}` is implemented but not in the catalogue"
            );
        }
    }
}
