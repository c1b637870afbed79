//! KMS multi-Region key actions: `kms.assert_replica`, `kms.replicate_key`, `kms.promote`,
//! `kms.verify_crypto`.
//!
//! Every KMS request goes through [`send`] (the one place for the engine's pacing hook).
//! `UpdatePrimaryRegion` is called on the *current primary's* Region; while that Region is
//! unreachable the replicas still encrypt and decrypt, so a promotion marked `optional` is
//! deferred instead of failing.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_kms::primitives::Blob;
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

use super::aws::aws_error;
use super::{Action, ActionError, ActionSpec, Finding, Observation, Outcome, StepContext};
use crate::catalog;

/// This service's actions, for the registry.
pub(super) fn all() -> Vec<Arc<dyn Action>> {
    vec![
        Arc::new(AssertReplica),
        Arc::new(ReplicateKey),
        Arc::new(Promote),
        Arc::new(VerifyCrypto),
    ]
}

/// Longest pause between two looks at a key's state.
const KEY_STATE_POLL_MAX: Duration = Duration::from_secs(2);

// ------------------------------------------------------------------------------ shared helpers

/// Sends one KMS request and maps its error. Every KMS call of this file passes here.
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
        .map_err(|e| aws_error("kms", operation, region, e))
}

/// `Ok(None)` when the call failed with one of `codes`.
fn absent<T>(r: Result<T, ActionError>, codes: &[&str]) -> Result<Option<T>, ActionError> {
    match r {
        Ok(v) => Ok(Some(v)),
        Err(ActionError::Aws(f)) if codes.contains(&f.code.as_str()) => Ok(None),
        Err(e) => Err(e),
    }
}

/// The same key reference as seen from `region`: multi-Region keys share their id, so a key
/// (or alias) ARN is rewritten to the other Region; ids and `alias/NAME` are used as they are.
pub(crate) fn key_ref_in(key: &str, region: &str) -> String {
    let parts: Vec<&str> = key.splitn(6, ':').collect();
    if parts.len() == 6 && parts[0] == "arn" && parts[2] == "kms" {
        let mut parts = parts;
        parts[3] = region;
        parts.join(":")
    } else {
        key.to_string()
    }
}

/// `alias/NAME` when the key was given by alias (plain or as an alias ARN).
pub(crate) fn alias_of(key: &str) -> Option<String> {
    if key.starts_with("alias/") {
        return Some(key.to_string());
    }
    let parts: Vec<&str> = key.splitn(6, ':').collect();
    (parts.len() == 6 && parts[0] == "arn" && parts[5].starts_with("alias/"))
        .then(|| parts[5].to_string())
}

/// What DescribeKey says about one copy of a key.
#[derive(Debug, Clone, PartialEq)]
struct KeyInfo {
    key_id: String,
    arn: String,
    state: String,
    description: String,
    multi_region: bool,
    /// `PRIMARY` or `REPLICA` (multi-Region keys only).
    kind: Option<String>,
    primary_region: Option<String>,
    primary_arn: Option<String>,
    replica_regions: Vec<String>,
    usage: String,
}

impl KeyInfo {
    fn is_primary(&self) -> bool {
        self.kind.as_deref() == Some("PRIMARY")
    }
    fn facts(&self) -> BTreeMap<String, serde_json::Value> {
        let mut f = BTreeMap::new();
        f.insert("key_arn".into(), self.arn.clone().into());
        f.insert("key_state".into(), self.state.clone().into());
        f.insert("multi_region".into(), self.multi_region.into());
        if let Some(k) = &self.kind {
            f.insert("multi_region_key_type".into(), k.clone().into());
        }
        if let Some(p) = &self.primary_region {
            f.insert("primary_region".into(), p.clone().into());
        }
        if !self.replica_regions.is_empty() {
            f.insert(
                "replica_regions".into(),
                serde_json::json!(self.replica_regions),
            );
        }
        f
    }
}

/// DescribeKey in `region`; `None` when the key (or alias) does not exist there.
async fn describe(
    ctx: &StepContext,
    region: &str,
    key: &str,
) -> Result<Option<KeyInfo>, ActionError> {
    let client = ctx.aws.kms(region);
    let key = key_ref_in(key, region);
    let out = absent(
        send(
            "DescribeKey",
            region,
            client.describe_key().key_id(&key).send(),
        )
        .await,
        &["NotFoundException"],
    )?;
    let Some(md) = out.as_ref().and_then(|o| o.key_metadata()) else {
        return Ok(None);
    };
    let mrc = md.multi_region_configuration();
    Ok(Some(KeyInfo {
        key_id: md.key_id().to_string(),
        arn: md.arn().unwrap_or_default().to_string(),
        state: md
            .key_state()
            .map(|s| s.as_str().to_string())
            .unwrap_or_default(),
        description: md.description().unwrap_or_default().to_string(),
        multi_region: md.multi_region().unwrap_or(false),
        kind: mrc
            .and_then(|c| c.multi_region_key_type())
            .map(|t| t.as_str().to_string()),
        primary_region: mrc
            .and_then(|c| c.primary_key())
            .and_then(|k| k.region())
            .map(str::to_string),
        primary_arn: mrc
            .and_then(|c| c.primary_key())
            .and_then(|k| k.arn())
            .map(str::to_string),
        replica_regions: mrc
            .map(|c| {
                c.replica_keys()
                    .iter()
                    .filter_map(|k| k.region().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default(),
        usage: md
            .key_usage()
            .map(|u| u.as_str().to_string())
            .unwrap_or_default(),
    }))
}

fn missing_finding(key: &str, region: &str) -> Finding {
    Finding {
        message: format!("key `{key}` has no copy in {region}"),
        hint: format!(
            "replicate it from the primary's Region with a `kms.replicate_key` step (replica_region: {region}), or check the key and the step's Region"
        ),
    }
}

fn not_multi_region_finding(key: &str, region: &str) -> Finding {
    Finding {
        message: format!("key `{key}` in {region} is not a multi-Region key"),
        hint: "only multi-Region keys (ids starting with `mrk-`) have replicas in other Regions; \
               create one with MultiRegion=true and re-encrypt the data under it"
            .into(),
    }
}

fn state_finding(key: &str, region: &str, state: &str) -> Finding {
    let hint = match state {
        "Disabled" => format!("enable it: aws kms enable-key --key-id {key} --region {region}"),
        "PendingDeletion" | "PendingReplicaDeletion" => format!(
            "cancel the deletion: aws kms cancel-key-deletion --key-id {key} --region {region}"
        ),
        "Creating" | "Updating" => {
            "the key is changing; wait until it is Enabled and run the step again".into()
        }
        _ => "the key must be Enabled to encrypt and decrypt".into(),
    };
    Finding {
        message: format!("key `{key}` in {region} is {state}, not Enabled"),
        hint,
    }
}

fn outputs(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

// ------------------------------------------------------------------------------ kms.assert_replica

pub(crate) struct AssertReplica;

#[async_trait::async_trait]
impl Action for AssertReplica {
    fn spec(&self) -> &'static ActionSpec {
        catalog::lookup("kms.assert_replica").expect("kms.assert_replica is in the catalogue")
    }

    async fn observe(&self, ctx: &StepContext) -> Result<Observation, ActionError> {
        let region = ctx.region()?;
        let key = ctx.params.str("key")?;
        let Some(k) = describe(ctx, region, &key).await? else {
            return Ok(Observation {
                summary: format!("key `{key}` not found in {region}"),
                findings: vec![missing_finding(&key, region)],
                ..Default::default()
            });
        };
        let mut findings = vec![];
        if !k.multi_region {
            findings.push(not_multi_region_finding(&key, region));
        }
        if k.state != "Enabled" {
            findings.push(state_finding(&key, region, &k.state));
        }
        let primary = k.primary_region.clone().unwrap_or_default();
        Ok(Observation {
            summary: format!(
                "key `{key}` in {region}: {} {}, primary in {}",
                k.kind.as_deref().unwrap_or("single-Region"),
                k.state,
                if primary.is_empty() { region } else { &primary }
            ),
            facts: k.facts(),
            findings,
            changes: vec![],
            outputs: outputs(&[("key_arn", &k.arn), ("primary_region", &primary)]),
        })
    }

    async fn verify(&self, ctx: &StepContext, outcome: &Outcome) -> Result<(), ActionError> {
        if outcome.outputs.get("key_arn").is_none_or(String::is_empty) {
            return Err(ActionError::Verification {
                message: format!("no Enabled multi-Region key copy in {}", ctx.region()?),
                hint: "check the key and the step's Region".into(),
            });
        }
        Ok(())
    }
}

// ------------------------------------------------------------------------------ kms.replicate_key

pub(crate) struct ReplicateKey;

/// What `kms.replicate_key` found.
struct ReplicaPlan {
    primary: KeyInfo,
    replica: Option<KeyInfo>,
    /// The alias to create in the replica Region (key given by alias and alias missing there).
    alias_missing: Option<String>,
}

impl ReplicateKey {
    /// Looks at the primary and the replica Region; `Err(findings)` when it cannot proceed.
    async fn plan(
        ctx: &StepContext,
        region: &str,
        key: &str,
        replica_region: &str,
    ) -> Result<Result<ReplicaPlan, Vec<Finding>>, ActionError> {
        if replica_region == region {
            return Ok(Err(vec![Finding {
                message: format!("replica_region is the step's Region ({region})"),
                hint: "run the step in the primary's Region and set `replica_region` to another Region".into(),
            }]));
        }
        let Some(primary) = describe(ctx, region, key).await? else {
            return Ok(Err(vec![Finding {
                message: format!("key `{key}` not found in {region}"),
                hint: "run `kms.replicate_key` in the Region where the key is primary".into(),
            }]));
        };
        if !primary.multi_region {
            return Ok(Err(vec![not_multi_region_finding(key, region)]));
        }
        if !primary.is_primary() {
            return Ok(Err(vec![Finding {
                message: format!(
                    "key `{key}` is a replica in {region}; its primary is in {}",
                    primary
                        .primary_region
                        .as_deref()
                        .unwrap_or("another Region")
                ),
                hint: format!(
                    "set the step's region to {} (ReplicateKey is called on the primary)",
                    primary
                        .primary_region
                        .as_deref()
                        .unwrap_or("the primary's Region")
                ),
            }]));
        }
        let replica = if primary.replica_regions.iter().any(|r| r == replica_region) {
            describe(ctx, replica_region, &primary.arn).await?
        } else {
            None
        };
        let mut alias_missing = None;
        if let Some(alias) = alias_of(key) {
            match describe(ctx, replica_region, &alias).await? {
                None => alias_missing = Some(alias),
                Some(other) if other.key_id != primary.key_id => {
                    return Ok(Err(vec![Finding {
                        message: format!(
                            "{alias} in {replica_region} points to another key ({})",
                            other.key_id
                        ),
                        hint: format!(
                            "point it at {} (aws kms update-alias --region {replica_region}) or delete it",
                            primary.key_id
                        ),
                    }]));
                }
                Some(_) => {}
            }
        }
        Ok(Ok(ReplicaPlan {
            primary,
            replica,
            alias_missing,
        }))
    }

    fn changes(plan: &ReplicaPlan, replica_region: &str) -> Vec<String> {
        let mut changes = vec![];
        match &plan.replica {
            None => changes.push(format!(
                "ReplicateKey {} to {replica_region}",
                plan.primary.key_id
            )),
            Some(r) if r.state != "Enabled" => changes.push(format!(
                "wait for the replica in {replica_region} to be Enabled (now {})",
                r.state
            )),
            Some(_) => {}
        }
        if let Some(alias) = &plan.alias_missing {
            changes.push(format!("create {alias} in {replica_region}"));
        }
        changes
    }
}

#[async_trait::async_trait]
impl Action for ReplicateKey {
    fn spec(&self) -> &'static ActionSpec {
        catalog::lookup("kms.replicate_key").expect("kms.replicate_key is in the catalogue")
    }

    async fn observe(&self, ctx: &StepContext) -> Result<Observation, ActionError> {
        let region = ctx.region()?;
        let key = ctx.params.str("key")?;
        let replica_region = ctx.params.str("replica_region")?;
        let plan = match Self::plan(ctx, region, &key, &replica_region).await? {
            Ok(p) => p,
            Err(findings) => {
                return Ok(Observation {
                    summary: format!("cannot replicate `{key}` to {replica_region}"),
                    findings,
                    ..Default::default()
                });
            }
        };
        let changes = Self::changes(&plan, &replica_region);
        let mut facts = plan.primary.facts();
        let mut out = BTreeMap::new();
        if let Some(r) = &plan.replica {
            facts.insert("replica_state".into(), r.state.clone().into());
            facts.insert("replica_key_arn".into(), r.arn.clone().into());
            if changes.is_empty() {
                out.insert("replica_key_arn".to_string(), r.arn.clone());
            }
        }
        Ok(Observation {
            summary: match &plan.replica {
                Some(r) => format!("replica of `{key}` in {replica_region} is {}", r.state),
                None => format!("`{key}` has no replica in {replica_region}"),
            },
            facts,
            findings: vec![],
            changes,
            outputs: out,
        })
    }

    async fn apply(&self, ctx: &StepContext, _: &Observation) -> Result<Outcome, ActionError> {
        let region = ctx.region()?;
        let key = ctx.params.str("key")?;
        let replica_region = ctx.params.str("replica_region")?;
        // Observe again: a resumed step continues from what exists.
        let plan = match Self::plan(ctx, region, &key, &replica_region).await? {
            Ok(p) => p,
            Err(findings) => return Err(ActionError::Precondition { findings }),
        };
        let mut changes = vec![];
        if plan.replica.is_none() {
            let client = ctx.aws.kms(region);
            let mut req = client
                .replicate_key()
                .key_id(&plan.primary.arn)
                .replica_region(&replica_region);
            if !plan.primary.description.is_empty() {
                req = req.description(&plan.primary.description);
            }
            // AlreadyExists: a previous attempt got there first; wait for it below.
            absent(
                send("ReplicateKey", region, req.send()).await,
                &["AlreadyExistsException"],
            )?;
            changes.push(format!(
                "replicated {} to {replica_region}",
                plan.primary.key_id
            ));
        }
        let arn = plan.primary.arn.clone();
        let replica = super::poll::until(&ctx.waits, KEY_STATE_POLL_MAX, || async {
            Ok(describe(ctx, &replica_region, &arn)
                .await?
                .filter(|r| r.state == "Enabled"))
        })
        .await?;
        if let Some(alias) = &plan.alias_missing {
            let client = ctx.aws.kms(&replica_region);
            absent(
                send(
                    "CreateAlias",
                    &replica_region,
                    client
                        .create_alias()
                        .alias_name(alias)
                        .target_key_id(&replica.key_id)
                        .send(),
                )
                .await,
                &["AlreadyExistsException"],
            )?;
            changes.push(format!("created {alias} in {replica_region}"));
        }
        Ok(Outcome {
            summary: format!("replica of `{key}` in {replica_region} is Enabled"),
            changes,
            outputs: outputs(&[("replica_key_arn", &replica.arn)]),
        })
    }

    async fn verify(&self, ctx: &StepContext, _: &Outcome) -> Result<(), ActionError> {
        let region = ctx.region()?;
        let key = ctx.params.str("key")?;
        let replica_region = ctx.params.str("replica_region")?;
        let replica = describe(ctx, &replica_region, &key_ref_in(&key, &replica_region)).await?;
        match replica {
            Some(r)
                if r.state == "Enabled"
                    && r.kind.as_deref() == Some("REPLICA")
                    && r.primary_region.as_deref() == Some(region) =>
            {
                Ok(())
            }
            Some(r) => Err(ActionError::Verification {
                message: format!(
                    "the copy of `{key}` in {replica_region} is {} {} with primary {}",
                    r.kind.as_deref().unwrap_or("single-Region"),
                    r.state,
                    r.primary_region.as_deref().unwrap_or("-")
                ),
                hint: "inspect the key with aws kms describe-key in both Regions".into(),
            }),
            None => Err(ActionError::Verification {
                message: format!("`{key}` has no copy in {replica_region}"),
                hint: "run the step again; check the key's aliases in the replica Region".into(),
            }),
        }
    }
}

// ------------------------------------------------------------------------------ kms.promote

pub(crate) struct Promote;

fn deferral_hint(primary: &str, region: &str) -> String {
    format!(
        "UpdatePrimaryRegion must be called in {primary}, which cannot be reached; the replica in \
         {region} still encrypts and decrypts, so the promotion can wait: mark the step \
         `optional: true` to defer it, and run it again when {primary} is back"
    )
}

/// UpdatePrimaryRegion exactly once. The SDK's own retries are off for this call: when a
/// response is lost after the request took effect, a blind retry repeats the change (and fails,
/// since the key is no longer primary where it is sent). Instead, after a retryable error the
/// key is described again in `region`, and the call is sent again only if the promotion has not
/// happened (up to 3 sends, like the SDK's standard retry).
async fn update_primary_region(
    ctx: &StepContext,
    region: &str,
    key_arn: &str,
    primary: &str,
    primary_arn: &str,
) -> Result<(), ActionError> {
    let client = ctx.aws.kms(primary);
    let mut sends = 0u32;
    loop {
        sends += 1;
        let sent = send(
            "UpdatePrimaryRegion",
            primary,
            client
                .update_primary_region()
                .key_id(primary_arn)
                .primary_region(region)
                .customize()
                .config_override(
                    aws_sdk_kms::config::Builder::default()
                        .retry_config(aws_config::retry::RetryConfig::disabled()),
                )
                .send(),
        )
        .await;
        let Err(e) = sent else { return Ok(()) };
        if !e.retryable() {
            return Err(e);
        }
        // Did it take effect although the answer never came?
        if let Ok(Some(h)) = describe(ctx, region, key_arn).await
            && h.primary_region.as_deref() == Some(region)
        {
            return Ok(());
        }
        if sends >= 3 {
            return Err(e);
        }
        tokio::time::sleep(std::time::Duration::from_millis(100 << sends)).await;
    }
}

impl Promote {
    /// Waits while the step Region's copy is `Updating`; `None` when there is no copy.
    async fn settled(
        ctx: &StepContext,
        region: &str,
        key: &str,
    ) -> Result<Option<KeyInfo>, ActionError> {
        super::poll::until(&ctx.waits, KEY_STATE_POLL_MAX, || async {
            Ok(match describe(ctx, region, key).await? {
                Some(k) if k.state == "Updating" => None,
                other => Some(other),
            })
        })
        .await
    }
}

#[async_trait::async_trait]
impl Action for Promote {
    fn spec(&self) -> &'static ActionSpec {
        catalog::lookup("kms.promote").expect("kms.promote is in the catalogue")
    }

    async fn observe(&self, ctx: &StepContext) -> Result<Observation, ActionError> {
        let region = ctx.region()?;
        let key = ctx.params.str("key")?;
        let Some(k) = describe(ctx, region, &key).await? else {
            return Ok(Observation {
                summary: format!("key `{key}` not found in {region}"),
                findings: vec![missing_finding(&key, region)],
                ..Default::default()
            });
        };
        let mut obs = Observation {
            facts: k.facts(),
            ..Default::default()
        };
        if !k.multi_region {
            obs.summary = format!("key `{key}` in {region} is single-Region");
            obs.findings.push(not_multi_region_finding(&key, region));
            return Ok(obs);
        }
        if !matches!(k.state.as_str(), "Enabled" | "Updating") {
            obs.summary = format!("key `{key}` in {region} is {}", k.state);
            obs.findings.push(state_finding(&key, region, &k.state));
            return Ok(obs);
        }
        let primary = k.primary_region.clone().unwrap_or_default();
        if k.state == "Updating" {
            obs.summary = format!("key `{key}` in {region} is Updating (primary: {primary})");
            obs.changes.push(format!(
                "wait for the key to finish Updating, then UpdatePrimaryRegion in {primary} to {region} if still needed"
            ));
        } else if k.is_primary() {
            obs.summary = format!("key `{key}` is already primary in {region}");
            obs.outputs = outputs(&[("primary_region", region), ("key_arn", &k.arn)]);
        } else {
            obs.summary = format!("key `{key}` is a replica in {region}; primary in {primary}");
            obs.changes
                .push(format!("UpdatePrimaryRegion in {primary} to {region}"));
        }
        Ok(obs)
    }

    async fn apply(&self, ctx: &StepContext, _: &Observation) -> Result<Outcome, ActionError> {
        let region = ctx.region()?;
        let key = ctx.params.str("key")?;
        let optional = ctx.params.bool_or("optional", false)?;
        let Some(k) = Self::settled(ctx, region, &key).await? else {
            return Err(ActionError::Precondition {
                findings: vec![missing_finding(&key, region)],
            });
        };
        let mut changes = vec![];
        if !k.is_primary() {
            let primary = k.primary_region.clone().unwrap_or_default();
            let primary_arn = k.primary_arn.clone().unwrap_or_else(|| k.arn.clone());
            let sent = update_primary_region(ctx, region, &k.arn, &primary, &primary_arn).await;
            match sent {
                Ok(_) => changes.push(format!("UpdatePrimaryRegion in {primary} to {region}")),
                Err(e) if e.region_unreachable() && optional => {
                    return Ok(Outcome {
                        summary: format!(
                            "{} {primary} cannot be reached ({e}); the key stays primary in \
                             {primary} and its replica in {region} still encrypts and decrypts; run \
                             the step again when {primary} is back",
                            Outcome::DEFERRED
                        ),
                        changes: vec![],
                        outputs: outputs(&[("primary_region", &primary), ("key_arn", &k.arn)]),
                    });
                }
                Err(e) if e.region_unreachable() => {
                    let hint = deferral_hint(&primary, region);
                    return Err(match e {
                        ActionError::Aws(mut f) => {
                            f.hint = hint;
                            ActionError::Aws(f)
                        }
                        other => ActionError::Aws(Box::new(super::AwsFailure {
                            service: "kms".into(),
                            operation: "UpdatePrimaryRegion".into(),
                            region: primary.clone(),
                            code: "RegionUnreachable".into(),
                            message: other.to_string(),
                            retryable: false,
                            request_id: None,
                            hint,
                        })),
                    });
                }
                Err(e) => return Err(e),
            }
            // Both copies Enabled, and the step Region's copy primary.
            let old_arn = primary_arn.clone();
            super::poll::until(&ctx.waits, KEY_STATE_POLL_MAX, || async {
                let here = describe(ctx, region, &k.arn).await?;
                let there = describe(ctx, &primary, &old_arn).await?;
                Ok(match (here, there) {
                    (Some(h), Some(t))
                        if h.is_primary() && h.state == "Enabled" && t.state == "Enabled" =>
                    {
                        Some(())
                    }
                    _ => None,
                })
            })
            .await?;
        }
        Ok(Outcome {
            summary: if changes.is_empty() {
                format!("key `{key}` is primary in {region}")
            } else {
                format!("key `{key}` promoted: primary in {region}")
            },
            changes,
            outputs: outputs(&[("primary_region", region), ("key_arn", &k.arn)]),
        })
    }

    async fn verify(&self, ctx: &StepContext, outcome: &Outcome) -> Result<(), ActionError> {
        let region = ctx.region()?;
        let key = ctx.params.str("key")?;
        let optional = ctx.params.bool_or("optional", false)?;
        let reported = outcome
            .outputs
            .get("primary_region")
            .map(String::as_str)
            .unwrap_or_default();
        if reported != region {
            // A deferred promotion (optional step, primary unreachable) keeps the old primary.
            if optional && outcome.is_deferred() {
                return Ok(());
            }
            return Err(ActionError::Verification {
                message: format!("key `{key}` is primary in {reported:?}, not {region}"),
                hint: "run the step again".into(),
            });
        }
        match describe(ctx, region, &key).await? {
            Some(k) if k.is_primary() && k.state == "Enabled" => Ok(()),
            Some(k) => Err(ActionError::Verification {
                message: format!(
                    "key `{key}` in {region} is {} {}, not an Enabled PRIMARY",
                    k.kind.as_deref().unwrap_or("single-Region"),
                    k.state
                ),
                hint: "run the step again; it waits out the Updating state".into(),
            }),
            None => Err(ActionError::Verification {
                message: format!("key `{key}` not found in {region}"),
                hint: "check the key and the step's Region".into(),
            }),
        }
    }
}

// ------------------------------------------------------------------------------ kms.verify_crypto

pub(crate) struct VerifyCrypto;

#[async_trait::async_trait]
impl Action for VerifyCrypto {
    fn spec(&self) -> &'static ActionSpec {
        catalog::lookup("kms.verify_crypto").expect("kms.verify_crypto is in the catalogue")
    }

    /// Encrypt + Decrypt are not mutating calls, so the probe runs here (also in dry-run).
    async fn observe(&self, ctx: &StepContext) -> Result<Observation, ActionError> {
        let region = ctx.region()?;
        let key = ctx.params.str("key")?;
        let Some(k) = describe(ctx, region, &key).await? else {
            return Ok(Observation {
                summary: format!("key `{key}` not found in {region}"),
                findings: vec![missing_finding(&key, region)],
                ..Default::default()
            });
        };
        let mut findings = vec![];
        if k.state != "Enabled" && k.state != "Updating" {
            findings.push(state_finding(&key, region, &k.state));
        }
        if !k.usage.is_empty() && k.usage != "ENCRYPT_DECRYPT" {
            findings.push(Finding {
                message: format!("key `{key}` is a {} key, not ENCRYPT_DECRYPT", k.usage),
                hint: "point the step at the symmetric encryption key".into(),
            });
        }
        if !findings.is_empty() {
            return Ok(Observation {
                summary: format!("key `{key}` in {region} cannot encrypt"),
                facts: k.facts(),
                findings,
                ..Default::default()
            });
        }
        let probe = format!(
            "drillbook probe {} {} {}",
            ctx.run_id,
            ctx.step_id,
            chrono::Utc::now().timestamp_nanos_opt().unwrap_or_default()
        );
        let client = ctx.aws.kms(region);
        let enc = send(
            "Encrypt",
            region,
            client
                .encrypt()
                .key_id(&k.arn)
                .plaintext(Blob::new(probe.as_bytes().to_vec()))
                .encryption_context("drillbook", "probe")
                .send(),
        )
        .await?;
        let blob = enc
            .ciphertext_blob()
            .cloned()
            .unwrap_or_else(|| Blob::new(vec![]));
        let dec = send(
            "Decrypt",
            region,
            client
                .decrypt()
                .key_id(&k.arn)
                .ciphertext_blob(blob.clone())
                .encryption_context("drillbook", "probe")
                .send(),
        )
        .await?;
        check_round_trip(
            &key,
            region,
            probe.as_bytes(),
            dec.plaintext().map(|b| b.as_ref()),
        )?;
        let mut facts = k.facts();
        facts.insert("ciphertext_bytes".into(), blob.as_ref().len().into());
        Ok(Observation {
            summary: format!("key `{key}` encrypts and decrypts in {region}"),
            facts,
            ..Default::default()
        })
    }

    async fn verify(&self, _: &StepContext, _: &Outcome) -> Result<(), ActionError> {
        // The round trip itself is checked in `observe`.
        Ok(())
    }
}

fn check_round_trip(
    key: &str,
    region: &str,
    sent: &[u8],
    got: Option<&[u8]>,
) -> Result<(), ActionError> {
    if got == Some(sent) {
        return Ok(());
    }
    Err(ActionError::Verification {
        message: format!(
            "decrypting the probe with key `{key}` in {region} gave {} bytes that differ from the {} encrypted",
            got.map_or(0, <[u8]>::len),
            sent.len()
        ),
        hint: "the key material in this Region does not match; check the replica with aws kms describe-key".into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_arns_are_rewritten_to_the_region() {
        assert_eq!(
            key_ref_in(
                "arn:aws:kms:ca-central-1:123456789012:key/mrk-1234",
                "eu-west-1"
            ),
            "arn:aws:kms:eu-west-1:123456789012:key/mrk-1234"
        );
        assert_eq!(key_ref_in("mrk-1234", "eu-west-1"), "mrk-1234");
        assert_eq!(key_ref_in("alias/root", "eu-west-1"), "alias/root");
    }

    #[test]
    fn aliases_are_recognised() {
        assert_eq!(alias_of("alias/root").as_deref(), Some("alias/root"));
        assert_eq!(
            alias_of("arn:aws:kms:ca-central-1:1:alias/root").as_deref(),
            Some("alias/root")
        );
        assert_eq!(alias_of("mrk-1"), None);
        assert_eq!(alias_of("arn:aws:kms:ca-central-1:1:key/mrk-1"), None);
    }

    #[test]
    fn round_trip_mismatch_is_a_verification_error() {
        assert!(check_round_trip("k", "eu-west-1", b"a", Some(b"a")).is_ok());
        let e = check_round_trip("k", "eu-west-1", b"abc", Some(b"abd")).unwrap_err();
        assert!(matches!(e, ActionError::Verification { .. }), "{e:?}");
        assert!(check_round_trip("k", "eu-west-1", b"abc", None).is_err());
    }

    #[test]
    fn every_way_a_region_stops_answering_counts_as_unreachable() {
        assert!(
            ActionError::Impaired {
                region: "ca-central-1".into(),
                service: "kms".into(),
                operation: "UpdatePrimaryRegion".into(),
            }
            .region_unreachable()
        );
        let f = |code: &str, retryable: bool| {
            ActionError::Aws(Box::new(super::super::AwsFailure {
                service: "kms".into(),
                operation: "UpdatePrimaryRegion".into(),
                region: "ca-central-1".into(),
                code: code.into(),
                message: String::new(),
                retryable,
                request_id: None,
                hint: String::new(),
            }))
        };
        // Connection refused or reset, timeouts, 5xx and throttling (retryable after the SDK's
        // own retries) all mean the Region is not answering.
        for code in ["ConnectionFailed", "Timeout", "BadResponse"] {
            assert!(f(code, false).region_unreachable(), "{code}");
        }
        for code in [
            "ServiceUnavailable",
            "ThrottlingException",
            "KMSInternalException",
        ] {
            assert!(f(code, true).region_unreachable(), "{code}");
        }
        assert!(!f("KMSInvalidStateException", false).region_unreachable());
        assert!(!f("AccessDeniedException", false).region_unreachable());
    }

    /// LocalStack answers UpdatePrimaryRegion with HTTP 501 `InternalFailure` ("not included in
    /// your current license plan or has not yet been emulated"): it must read as unsupported.
    #[test]
    fn localstack_501_maps_to_unsupported() {
        use aws_sdk_kms::operation::update_primary_region::UpdatePrimaryRegionError;
        use aws_smithy_runtime_api::http::StatusCode;
        use aws_smithy_types::body::SdkBody;
        use aws_smithy_types::error::ErrorMetadata;
        let meta = ErrorMetadata::builder()
            .code("InternalFailure")
            .message(
                "The API for service kms is either not included in your current license plan or \
                 has not yet been emulated by LocalStack.",
            )
            .build();
        let raw = HttpResponse::new(StatusCode::try_from(501).unwrap(), SdkBody::empty());
        let err = SdkError::service_error(UpdatePrimaryRegionError::generic(meta), raw);
        let e = aws_error("kms", "UpdatePrimaryRegion", "ca-central-1", err);
        assert_eq!(
            e.to_string(),
            "this endpoint does not support UpdatePrimaryRegion"
        );
        assert!(matches!(e, ActionError::Unsupported { .. }));
    }
}
