//! Systems Manager Parameter Store actions: `ssm.put_parameter`, `ssm.assert_parameter`.
//!
//! The value of a SecureString parameter is never written into a summary, a fact, a change or
//! an output, and it is registered with [`crate::secret`] so any writer that meets it (journal,
//! reports, terminal) shows a marker instead.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::aws::aws_error;
use super::{Action, ActionError, ActionSpec, Finding, Observation, Outcome, StepContext};
use crate::catalog;

/// This service's actions, for the registry.
pub(super) fn all() -> Vec<Arc<dyn Action>> {
    vec![Arc::new(PutParameter), Arc::new(AssertParameter)]
}

/// What GetParameter says about a parameter.
struct Param {
    value: String,
    /// `String`, `StringList` or `SecureString`.
    kind: String,
    version: i64,
}

/// GetParameter (WithDecryption, so a SecureString's value can be compared); `None` when the
/// parameter does not exist (ParameterNotFound, Systems Manager API reference, GetParameter).
async fn get(ctx: &StepContext, region: &str, name: &str) -> Result<Option<Param>, ActionError> {
    let r = ctx
        .aws
        .ssm(region)
        .get_parameter()
        .name(name)
        .with_decryption(true)
        .send()
        .await
        .map_err(|e| aws_error("ssm", "GetParameter", region, e));
    let out = match r {
        Ok(o) => o,
        Err(ActionError::Aws(f)) if f.code == "ParameterNotFound" => return Ok(None),
        Err(e) => return Err(e),
    };
    let Some(p) = out.parameter() else {
        return Ok(None);
    };
    let param = Param {
        value: p.value().unwrap_or_default().to_string(),
        kind: p
            .r#type()
            .map(|t| t.as_str().to_string())
            .unwrap_or_default(),
        version: p.version(),
    };
    if param.kind == "SecureString" {
        guard_secret(name, &param.value);
    }
    Ok(Some(param))
}

/// Registers a SecureString's value as a secret, so no writer shows it.
fn guard_secret(name: &str, value: &str) {
    crate::secret::register(&format!("ssm:{name}"), value);
}

/// How a value is shown: a SecureString's never.
fn shown(kind: &str, value: &str) -> String {
    if kind == "SecureString" {
        "(SecureString, not shown)".into()
    } else {
        format!("`{value}`")
    }
}

// ------------------------------------------------------------------------------ ssm.put_parameter

pub(crate) struct PutParameter;

#[async_trait::async_trait]
impl Action for PutParameter {
    fn spec(&self) -> &'static ActionSpec {
        catalog::lookup("ssm.put_parameter").expect("ssm.put_parameter is in the catalogue")
    }

    async fn observe(&self, ctx: &StepContext) -> Result<Observation, ActionError> {
        let region = ctx.region()?;
        let name = ctx.params.str("name")?;
        let value = ctx.params.str("value")?;
        let kind = ctx.params.str_or("type", "String")?;
        if kind == "SecureString" {
            guard_secret(&name, &value);
        }
        let have = get(ctx, region, &name).await?;
        let mut facts = BTreeMap::new();
        facts.insert("type".into(), kind.clone().into());
        let (summary, changes, outputs) = match &have {
            Some(p) if p.value == value && p.kind == kind => (
                format!(
                    "parameter `{name}` already has the value ({kind}, version {})",
                    p.version
                ),
                vec![],
                BTreeMap::from([("version".to_string(), p.version.to_string())]),
            ),
            Some(p) => {
                facts.insert("version".into(), p.version.into());
                (
                    format!(
                        "parameter `{name}` is {} ({}, version {})",
                        shown(&p.kind, &p.value),
                        p.kind,
                        p.version
                    ),
                    vec![format!(
                        "PutParameter `{name}` = {} ({kind}, overwrite)",
                        shown(&kind, &value)
                    )],
                    BTreeMap::new(),
                )
            }
            None => (
                format!("parameter `{name}` does not exist"),
                vec![format!(
                    "PutParameter `{name}` = {} ({kind})",
                    shown(&kind, &value)
                )],
                BTreeMap::new(),
            ),
        };
        Ok(Observation {
            summary,
            facts,
            findings: vec![],
            changes,
            outputs,
        })
    }

    async fn apply(
        &self,
        ctx: &StepContext,
        observed: &Observation,
    ) -> Result<Outcome, ActionError> {
        let region = ctx.region()?;
        let name = ctx.params.str("name")?;
        let value = ctx.params.str("value")?;
        let kind = ctx.params.str_or("type", "String")?;
        let out = ctx
            .aws
            .ssm(region)
            .put_parameter()
            .name(&name)
            .value(&value)
            .r#type(aws_sdk_ssm::types::ParameterType::from(kind.as_str()))
            .overwrite(true)
            .send()
            .await
            .map_err(|e| aws_error("ssm", "PutParameter", region, e))?;
        Ok(Outcome {
            summary: format!(
                "parameter `{name}` set to {} ({kind}, version {})",
                shown(&kind, &value),
                out.version()
            ),
            changes: observed.changes.clone(),
            outputs: BTreeMap::from([("version".to_string(), out.version().to_string())]),
        })
    }

    async fn verify(&self, ctx: &StepContext, _outcome: &Outcome) -> Result<(), ActionError> {
        let region = ctx.region()?;
        let name = ctx.params.str("name")?;
        let value = ctx.params.str("value")?;
        let kind = ctx.params.str_or("type", "String")?;
        match get(ctx, region, &name).await? {
            Some(p) if p.value == value && p.kind == kind => Ok(()),
            _ => Err(ActionError::Verification {
                message: format!("parameter `{name}` does not have the value set"),
                hint: "another writer may have changed it; check its history".into(),
            }),
        }
    }
}

// ------------------------------------------------------------------------------ ssm.assert_parameter

pub(crate) struct AssertParameter;

#[async_trait::async_trait]
impl Action for AssertParameter {
    fn spec(&self) -> &'static ActionSpec {
        catalog::lookup("ssm.assert_parameter").expect("ssm.assert_parameter is in the catalogue")
    }

    async fn observe(&self, ctx: &StepContext) -> Result<Observation, ActionError> {
        let region = ctx.region()?;
        let name = ctx.params.str("name")?;
        let expect = ctx.params.str("expect")?;
        let Some(p) = get(ctx, region, &name).await? else {
            return Ok(Observation {
                summary: format!("parameter `{name}` does not exist in {region}"),
                findings: vec![Finding {
                    message: format!("parameter `{name}` does not exist in {region}"),
                    hint: "set it with an `ssm.put_parameter` step, or check the name and Region"
                        .into(),
                }],
                ..Default::default()
            });
        };
        let mut findings = vec![];
        if p.value != expect {
            findings.push(Finding {
                message: format!(
                    "parameter `{name}` is {}, not {}",
                    shown(&p.kind, &p.value),
                    shown(&p.kind, &expect)
                ),
                hint: "set it with an `ssm.put_parameter` step before the services read it".into(),
            });
        }
        Ok(Observation {
            summary: format!(
                "parameter `{name}` is {} ({}, version {})",
                shown(&p.kind, &p.value),
                p.kind,
                p.version
            ),
            facts: BTreeMap::from([
                ("type".to_string(), p.kind.clone().into()),
                ("version".to_string(), p.version.into()),
            ]),
            findings,
            changes: vec![],
            outputs: BTreeMap::from([("version".to_string(), p.version.to_string())]),
        })
    }

    async fn verify(&self, _ctx: &StepContext, _outcome: &Outcome) -> Result<(), ActionError> {
        Ok(())
    }
}
