//! API Gateway (REST API) actions: `apigateway.assert_ready`, `apigateway.update_stage`,
//! `apigateway.map_domain`.
//!
//! Every API Gateway request goes through [`send`] (the one place for the engine's pacing hook).

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;

use aws_sdk_apigateway::types::{Op, PatchOperation};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

use super::aws::aws_error;
use super::{Action, ActionError, ActionSpec, Finding, Observation, Outcome, StepContext};
use crate::catalog;

/// This service's actions, for the registry.
pub(super) fn all() -> Vec<Arc<dyn Action>> {
    vec![
        Arc::new(AssertReady),
        Arc::new(UpdateStage),
        Arc::new(MapDomain),
    ]
}

/// The base path of a mapping without one.
const NO_BASE_PATH: &str = "(none)";

/// Sends one API Gateway request and maps its error. Every call of this file passes here.
async fn send<T, E>(
    operation: &str,
    region: &str,
    request: impl Future<Output = Result<T, SdkError<E, HttpResponse>>>,
) -> Result<T, ActionError>
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    request
        .await
        .map_err(|e| aws_error("apigateway", operation, region, e))
}

/// `Ok(None)` when the resource does not exist.
fn absent<T>(r: Result<T, ActionError>) -> Result<Option<T>, ActionError> {
    match r {
        Ok(v) => Ok(Some(v)),
        Err(ActionError::Aws(f)) if f.code == "NotFoundException" => Ok(None),
        Err(e) => Err(e),
    }
}

fn normal_base_path(p: Option<&str>) -> String {
    match p.map(str::trim).map(|p| p.trim_matches('/')) {
        None | Some("") => NO_BASE_PATH.to_string(),
        Some(p) => p.to_string(),
    }
}

/// The invoke URL of a REST API stage.
pub(crate) fn invoke_url(rest_api_id: &str, region: &str, stage: &str) -> String {
    format!("https://{rest_api_id}.execute-api.{region}.amazonaws.com/{stage}")
}

/// Escapes a stage variable name for a JSON-pointer patch path.
fn pointer_escape(s: &str) -> String {
    s.replace('~', "~0").replace('/', "~1")
}

/// Finds a REST API by id or name: `Ok(Err(finding))` when there is none or the name is
/// ambiguous.
async fn find_api(
    ctx: &StepContext,
    region: &str,
    wanted: &str,
) -> Result<Result<(String, String), Finding>, ActionError> {
    let client = ctx.aws.apigateway(region);
    let mut by_name = vec![];
    let mut position: Option<String> = None;
    loop {
        let page = send(
            "GetRestApis",
            region,
            client
                .get_rest_apis()
                .limit(500)
                .set_position(position.clone())
                .send(),
        )
        .await?;
        for api in page.items() {
            let id = api.id().unwrap_or_default();
            let name = api.name().unwrap_or_default();
            if id == wanted {
                return Ok(Ok((id.to_string(), name.to_string())));
            }
            if name == wanted {
                by_name.push((id.to_string(), name.to_string()));
            }
        }
        match page.position() {
            Some(p) if !p.is_empty() && Some(p) != position.as_deref() => {
                position = Some(p.to_string())
            }
            _ => break,
        }
    }
    match by_name.len() {
        1 => Ok(Ok(by_name.remove(0))),
        0 => Ok(Err(Finding {
            message: format!("no REST API named or with id `{wanted}` in {region}"),
            hint: "check `rest_api` and the step's Region (aws apigateway get-rest-apis)".into(),
        })),
        n => Ok(Err(Finding {
            message: format!("{n} REST APIs are named `{wanted}` in {region}"),
            hint: format!(
                "give the id instead: one of {}",
                by_name
                    .iter()
                    .map(|(id, _)| id.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        })),
    }
}

/// A stage as far as the actions care.
struct StageInfo {
    deployment_id: Option<String>,
    variables: BTreeMap<String, String>,
}

async fn get_stage(
    ctx: &StepContext,
    region: &str,
    api_id: &str,
    stage: &str,
) -> Result<Option<StageInfo>, ActionError> {
    let client = ctx.aws.apigateway(region);
    let out = absent(
        send(
            "GetStage",
            region,
            client
                .get_stage()
                .rest_api_id(api_id)
                .stage_name(stage)
                .send(),
        )
        .await,
    )?;
    Ok(out.map(|s| StageInfo {
        deployment_id: s
            .deployment_id()
            .filter(|d| !d.is_empty())
            .map(str::to_string),
        variables: s
            .variables()
            .map(|v| v.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default(),
    }))
}

fn stage_missing(stage: &str, api: &str, region: &str) -> Finding {
    Finding {
        message: format!("stage `{stage}` not found on REST API `{api}` in {region}"),
        hint: "deploy the API to that stage (aws apigateway create-deployment --stage-name ...)"
            .into(),
    }
}

/// `(rest_api_id, stage)` of a base path mapping; `None` when the mapping does not exist.
async fn get_mapping(
    ctx: &StepContext,
    region: &str,
    domain: &str,
    base_path: &str,
) -> Result<Option<(String, String)>, ActionError> {
    let client = ctx.aws.apigateway(region);
    let out = absent(
        send(
            "GetBasePathMapping",
            region,
            client
                .get_base_path_mapping()
                .domain_name(domain)
                .base_path(base_path)
                .send(),
        )
        .await,
    )?;
    Ok(out.map(|m| {
        (
            m.rest_api_id().unwrap_or_default().to_string(),
            m.stage().unwrap_or_default().to_string(),
        )
    }))
}

/// The custom domain's Regional domain name; `None` when the domain does not exist.
async fn get_domain(
    ctx: &StepContext,
    region: &str,
    domain: &str,
) -> Result<Option<String>, ActionError> {
    let client = ctx.aws.apigateway(region);
    let out = absent(
        send(
            "GetDomainName",
            region,
            client.get_domain_name().domain_name(domain).send(),
        )
        .await,
    )?;
    Ok(out.map(|d| d.regional_domain_name().unwrap_or_default().to_string()))
}

fn domain_missing(domain: &str, region: &str) -> Finding {
    Finding {
        message: format!("custom domain `{domain}` not found in {region}"),
        hint: "create the Regional custom domain in this Region (each Region needs its own)".into(),
    }
}

// ------------------------------------------------------------------------------ assert_ready

pub(crate) struct AssertReady;

#[async_trait::async_trait]
impl Action for AssertReady {
    fn spec(&self) -> &'static ActionSpec {
        catalog::lookup("apigateway.assert_ready")
            .expect("apigateway.assert_ready is in the catalogue")
    }

    async fn observe(&self, ctx: &StepContext) -> Result<Observation, ActionError> {
        let region = ctx.region()?;
        let wanted = ctx.params.str("rest_api")?;
        let stage = ctx.params.str_or("stage", "prod")?;
        let domain = ctx.params.opt_str("domain_name")?;
        let base_path = normal_base_path(ctx.params.opt_str("base_path")?.as_deref());
        let variable = ctx.params.opt_str("stage_variable")?;
        let (api_id, api_name) = match find_api(ctx, region, &wanted).await? {
            Ok(a) => a,
            Err(f) => {
                return Ok(Observation {
                    summary: format!("REST API `{wanted}` not found in {region}"),
                    findings: vec![f],
                    ..Default::default()
                });
            }
        };
        let mut obs = Observation::default();
        obs.facts
            .insert("rest_api_id".into(), api_id.clone().into());
        obs.facts.insert("rest_api_name".into(), api_name.into());
        // The value of `stage_variable`, for the steps after: where the application reads
        // (a restore points the stage at a new table, so later runbooks find it here).
        let mut variable_value = None;
        match get_stage(ctx, region, &api_id, &stage).await? {
            None => obs.findings.push(stage_missing(&stage, &wanted, region)),
            Some(s) => {
                match &s.deployment_id {
                    None => obs.findings.push(Finding {
                        message: format!("stage `{stage}` of `{wanted}` has no deployment"),
                        hint: "deploy the API to the stage (aws apigateway create-deployment)"
                            .into(),
                    }),
                    Some(d) => {
                        obs.facts.insert("deployment_id".into(), d.clone().into());
                    }
                }
                if let Some(name) = &variable {
                    match s.variables.get(name) {
                        Some(v) => variable_value = Some(v.clone()),
                        None => obs.findings.push(Finding {
                            message: format!(
                                "stage `{stage}` of `{wanted}` has no stage variable `{name}`"
                            ),
                            hint: format!(
                                "the stage has: {}",
                                if s.variables.is_empty() {
                                    "no variables".to_string()
                                } else {
                                    s.variables.keys().cloned().collect::<Vec<_>>().join(", ")
                                }
                            ),
                        }),
                    }
                }
            }
        }
        let mut regional = String::new();
        if let Some(domain) = &domain {
            match get_domain(ctx, region, domain).await? {
                None => obs.findings.push(domain_missing(domain, region)),
                Some(r) => {
                    if r.is_empty() {
                        obs.findings.push(Finding {
                            message: format!(
                                "custom domain `{domain}` in {region} has no Regional domain name"
                            ),
                            hint: "failover between Regions needs a REGIONAL custom domain".into(),
                        });
                    }
                    regional = r;
                    match get_mapping(ctx, region, domain, &base_path).await? {
                        None => obs.findings.push(Finding {
                            message: format!(
                                "custom domain `{domain}` has no base path mapping `{base_path}` in {region}"
                            ),
                            hint: "add it with an `apigateway.map_domain` step".into(),
                        }),
                        Some((a, s)) if a != api_id || s != stage => obs.findings.push(Finding {
                            message: format!(
                                "base path `{base_path}` of `{domain}` maps to {a}/{s}, not {api_id}/{stage}"
                            ),
                            hint: "point it at the API with an `apigateway.map_domain` step".into(),
                        }),
                        Some(_) => {}
                    }
                }
            }
            obs.facts
                .insert("regional_domain_name".into(), regional.clone().into());
        }
        let url = invoke_url(&api_id, region, &stage);
        obs.summary = if obs.findings.is_empty() {
            format!("REST API `{wanted}` ({api_id}) stage `{stage}` is ready in {region}")
        } else {
            format!("REST API `{wanted}` ({api_id}) is not ready in {region}")
        };
        obs.outputs = [
            ("rest_api_id", api_id),
            ("regional_domain_name", regional),
            ("invoke_url", url),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        if let Some(v) = variable_value {
            obs.outputs.insert("stage_variable".into(), v);
        }
        Ok(obs)
    }

    async fn verify(&self, _: &StepContext, outcome: &Outcome) -> Result<(), ActionError> {
        if outcome
            .outputs
            .get("rest_api_id")
            .is_none_or(String::is_empty)
        {
            return Err(ActionError::Verification {
                message: "no REST API id was found".into(),
                hint: "check `rest_api` and the step's Region".into(),
            });
        }
        Ok(())
    }
}

// ------------------------------------------------------------------------------ update_stage

pub(crate) struct UpdateStage;

/// Stage variables to change: `(name, wanted, current)`.
fn variable_diff(
    wanted: &BTreeMap<String, String>,
    current: &BTreeMap<String, String>,
) -> Vec<(String, String, Option<String>)> {
    wanted
        .iter()
        .filter(|(k, v)| current.get(*k) != Some(*v))
        .map(|(k, v)| (k.clone(), v.clone(), current.get(k).cloned()))
        .collect()
}

fn describe_change(name: &str, wanted: &str, current: Option<&str>) -> String {
    match current {
        Some(c) => format!("set stage variable {name} = {wanted:?} (was {c:?})"),
        None => format!("set stage variable {name} = {wanted:?} (unset)"),
    }
}

impl UpdateStage {
    async fn look(ctx: &StepContext) -> Result<Result<(String, StageInfo), Finding>, ActionError> {
        let region = ctx.region()?;
        let wanted = ctx.params.str("rest_api")?;
        let stage = ctx.params.str_or("stage", "prod")?;
        let (api_id, _) = match find_api(ctx, region, &wanted).await? {
            Ok(a) => a,
            Err(f) => return Ok(Err(f)),
        };
        match get_stage(ctx, region, &api_id, &stage).await? {
            None => Ok(Err(stage_missing(&stage, &wanted, region))),
            Some(s) => Ok(Ok((api_id, s))),
        }
    }
}

#[async_trait::async_trait]
impl Action for UpdateStage {
    fn spec(&self) -> &'static ActionSpec {
        catalog::lookup("apigateway.update_stage")
            .expect("apigateway.update_stage is in the catalogue")
    }

    async fn observe(&self, ctx: &StepContext) -> Result<Observation, ActionError> {
        let stage = ctx.params.str_or("stage", "prod")?;
        let wanted = ctx.params.str_map("variables")?;
        let (api_id, s) = match Self::look(ctx).await? {
            Ok(x) => x,
            Err(f) => {
                return Ok(Observation {
                    summary: f.message.clone(),
                    findings: vec![f],
                    ..Default::default()
                });
            }
        };
        let diff = variable_diff(&wanted, &s.variables);
        let mut facts = BTreeMap::new();
        facts.insert("variables".into(), serde_json::json!(s.variables));
        Ok(Observation {
            summary: if diff.is_empty() {
                format!("stage `{stage}` of {api_id} already has the variables")
            } else {
                format!(
                    "stage `{stage}` of {api_id}: {} variable(s) to set",
                    diff.len()
                )
            },
            facts,
            findings: vec![],
            changes: diff
                .iter()
                .map(|(k, v, c)| describe_change(k, v, c.as_deref()))
                .collect(),
            outputs: [("rest_api_id".to_string(), api_id)].into(),
        })
    }

    async fn apply(&self, ctx: &StepContext, _: &Observation) -> Result<Outcome, ActionError> {
        let region = ctx.region()?;
        let stage = ctx.params.str_or("stage", "prod")?;
        let wanted = ctx.params.str_map("variables")?;
        let (api_id, s) = Self::look(ctx)
            .await?
            .map_err(|f| ActionError::Precondition { findings: vec![f] })?;
        let diff = variable_diff(&wanted, &s.variables);
        if !diff.is_empty() {
            let ops = diff
                .iter()
                .map(|(k, v, _)| {
                    PatchOperation::builder()
                        .op(Op::Replace)
                        .path(format!("/variables/{}", pointer_escape(k)))
                        .value(v)
                        .build()
                })
                .collect::<Vec<_>>();
            let client = ctx.aws.apigateway(region);
            send(
                "UpdateStage",
                region,
                client
                    .update_stage()
                    .rest_api_id(&api_id)
                    .stage_name(&stage)
                    .set_patch_operations(Some(ops))
                    .send(),
            )
            .await?;
        }
        Ok(Outcome {
            summary: format!(
                "stage `{stage}` of {api_id}: {} variable(s) set",
                diff.len()
            ),
            changes: diff
                .iter()
                .map(|(k, v, c)| describe_change(k, v, c.as_deref()))
                .collect(),
            outputs: [("rest_api_id".to_string(), api_id)].into(),
        })
    }

    async fn verify(&self, ctx: &StepContext, _: &Outcome) -> Result<(), ActionError> {
        let stage = ctx.params.str_or("stage", "prod")?;
        let wanted = ctx.params.str_map("variables")?;
        let (api_id, s) = Self::look(ctx)
            .await?
            .map_err(|f| ActionError::Verification {
                message: f.message,
                hint: f.hint,
            })?;
        let diff = variable_diff(&wanted, &s.variables);
        if let Some((k, v, c)) = diff.first() {
            return Err(ActionError::Verification {
                message: format!(
                    "stage variable {k} of {api_id}/{stage} is {}, not {v:?}",
                    c.as_deref()
                        .map_or("unset".to_string(), |c| format!("{c:?}"))
                ),
                hint: "run the step again; check who else updates the stage".into(),
            });
        }
        Ok(())
    }
}

// ------------------------------------------------------------------------------ map_domain

pub(crate) struct MapDomain;

/// What `map_domain` found: the API id and the current mapping.
struct MappingPlan {
    api_id: String,
    current: Option<(String, String)>,
}

impl MapDomain {
    async fn look(ctx: &StepContext) -> Result<Result<MappingPlan, Vec<Finding>>, ActionError> {
        let region = ctx.region()?;
        let domain = ctx.params.str("domain_name")?;
        let wanted = ctx.params.str("rest_api")?;
        let stage = ctx.params.str_or("stage", "prod")?;
        let base_path = normal_base_path(ctx.params.opt_str("base_path")?.as_deref());
        let mut findings = vec![];
        if get_domain(ctx, region, &domain).await?.is_none() {
            findings.push(domain_missing(&domain, region));
        }
        let api_id = match find_api(ctx, region, &wanted).await? {
            Ok((id, _)) => {
                if get_stage(ctx, region, &id, &stage).await?.is_none() {
                    findings.push(stage_missing(&stage, &wanted, region));
                }
                id
            }
            Err(f) => {
                findings.push(f);
                String::new()
            }
        };
        if !findings.is_empty() {
            return Ok(Err(findings));
        }
        let current = get_mapping(ctx, region, &domain, &base_path).await?;
        Ok(Ok(MappingPlan { api_id, current }))
    }

    fn change(plan: &MappingPlan, domain: &str, base_path: &str, stage: &str) -> Option<String> {
        let api_id = &plan.api_id;
        match &plan.current {
            None => Some(format!(
                "create base path mapping `{base_path}` on {domain} -> {api_id}/{stage}"
            )),
            Some((a, s)) if a != api_id || s != stage => Some(format!(
                "update base path mapping `{base_path}` on {domain}: {a}/{s} -> {api_id}/{stage}"
            )),
            Some(_) => None,
        }
    }
}

#[async_trait::async_trait]
impl Action for MapDomain {
    fn spec(&self) -> &'static ActionSpec {
        catalog::lookup("apigateway.map_domain").expect("apigateway.map_domain is in the catalogue")
    }

    async fn observe(&self, ctx: &StepContext) -> Result<Observation, ActionError> {
        let domain = ctx.params.str("domain_name")?;
        let stage = ctx.params.str_or("stage", "prod")?;
        let base_path = normal_base_path(ctx.params.opt_str("base_path")?.as_deref());
        let plan = match Self::look(ctx).await? {
            Ok(p) => p,
            Err(findings) => {
                return Ok(Observation {
                    summary: format!("cannot map `{domain}`"),
                    findings,
                    ..Default::default()
                });
            }
        };
        let change = Self::change(&plan, &domain, &base_path, &stage);
        let mut facts = BTreeMap::new();
        if let Some((a, s)) = &plan.current {
            facts.insert("mapped_to".into(), format!("{a}/{s}").into());
        }
        Ok(Observation {
            summary: match &change {
                None => format!(
                    "`{domain}` `{base_path}` already maps to {}/{stage}",
                    plan.api_id
                ),
                Some(c) => c.clone(),
            },
            facts,
            findings: vec![],
            changes: change.into_iter().collect(),
            outputs: [("rest_api_id".to_string(), plan.api_id)].into(),
        })
    }

    async fn apply(&self, ctx: &StepContext, _: &Observation) -> Result<Outcome, ActionError> {
        let region = ctx.region()?;
        let domain = ctx.params.str("domain_name")?;
        let stage = ctx.params.str_or("stage", "prod")?;
        let base_path = normal_base_path(ctx.params.opt_str("base_path")?.as_deref());
        let plan = Self::look(ctx)
            .await?
            .map_err(|findings| ActionError::Precondition { findings })?;
        let change = Self::change(&plan, &domain, &base_path, &stage);
        let client = ctx.aws.apigateway(region);
        let mut update = plan.current.is_some();
        if change.is_some() && !update {
            let mut req = client
                .create_base_path_mapping()
                .domain_name(&domain)
                .rest_api_id(&plan.api_id)
                .stage(&stage);
            if base_path != NO_BASE_PATH {
                req = req.base_path(&base_path);
            }
            match send("CreateBasePathMapping", region, req.send()).await {
                Ok(_) => {}
                // Created meanwhile (a resumed step): update it instead.
                Err(ActionError::Aws(f)) if f.code == "ConflictException" => update = true,
                Err(e) => return Err(e),
            }
        }
        if change.is_some() && update {
            let ops = [
                ("/restapiId", plan.api_id.as_str()),
                ("/stage", stage.as_str()),
            ]
            .into_iter()
            .map(|(p, v)| {
                PatchOperation::builder()
                    .op(Op::Replace)
                    .path(p)
                    .value(v)
                    .build()
            })
            .collect::<Vec<_>>();
            send(
                "UpdateBasePathMapping",
                region,
                client
                    .update_base_path_mapping()
                    .domain_name(&domain)
                    .base_path(&base_path)
                    .set_patch_operations(Some(ops))
                    .send(),
            )
            .await?;
        }
        Ok(Outcome {
            summary: format!("`{domain}` `{base_path}` maps to {}/{stage}", plan.api_id),
            changes: change.into_iter().collect(),
            outputs: [("rest_api_id".to_string(), plan.api_id)].into(),
        })
    }

    async fn verify(&self, ctx: &StepContext, outcome: &Outcome) -> Result<(), ActionError> {
        let region = ctx.region()?;
        let domain = ctx.params.str("domain_name")?;
        let stage = ctx.params.str_or("stage", "prod")?;
        let base_path = normal_base_path(ctx.params.opt_str("base_path")?.as_deref());
        let api_id = outcome
            .outputs
            .get("rest_api_id")
            .cloned()
            .unwrap_or_default();
        match get_mapping(ctx, region, &domain, &base_path).await? {
            Some((a, s)) if a == api_id && s == stage => Ok(()),
            other => Err(ActionError::Verification {
                message: format!(
                    "base path `{base_path}` of `{domain}` maps to {}, not {api_id}/{stage}",
                    other.map_or("nothing".to_string(), |(a, s)| format!("{a}/{s}"))
                ),
                hint: "run the step again; check who else edits the mapping".into(),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_paths_are_normalised() {
        assert_eq!(normal_base_path(None), "(none)");
        assert_eq!(normal_base_path(Some("")), "(none)");
        assert_eq!(normal_base_path(Some("(none)")), "(none)");
        assert_eq!(normal_base_path(Some("/v1/")), "v1");
    }

    #[test]
    fn only_differing_variables_change() {
        let wanted: BTreeMap<_, _> = [("a", "1"), ("b", "2"), ("c", "3")]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let current: BTreeMap<_, _> = [("a", "1"), ("b", "x"), ("z", "9")]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let d = variable_diff(&wanted, &current);
        assert_eq!(
            d,
            vec![
                ("b".to_string(), "2".to_string(), Some("x".to_string())),
                ("c".to_string(), "3".to_string(), None)
            ]
        );
        assert_eq!(pointer_escape("a/b~c"), "a~1b~0c");
    }

    #[test]
    fn invoke_url_format() {
        assert_eq!(
            invoke_url("abc123", "eu-west-1", "prod"),
            "https://abc123.execute-api.eu-west-1.amazonaws.com/prod"
        );
    }
}
