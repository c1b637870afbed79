//! Loading runbooks from YAML. (Temporary minimal loader: the full validator with located
//! diagnostics replaces it. The public API below is the contract.)

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::model::{DEFAULT_TIMEOUT, Objectives, OnFailure, RetryPolicy, Runbook, Step};
use super::{duration::parse_duration, template};

/// A runbook with its source.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub runbook: Runbook,
    /// The file's text, as read.
    pub text: String,
    pub path: PathBuf,
    /// Hex SHA-256 of `text`.
    pub sha256: String,
}

/// Every problem found in one pass.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{}", .0.join("\n"))]
pub struct Diagnostics(pub Vec<String>);

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Reads and validates a runbook file. `overrides` are `--var k=v` pairs.
pub fn load_file(path: &Path, overrides: &[(String, String)]) -> Result<Loaded, Diagnostics> {
    let bytes = std::fs::read(path)
        .map_err(|e| Diagnostics(vec![format!("{}: cannot read: {e}", path.display())]))?;
    let text = String::from_utf8(bytes)
        .map_err(|_| Diagnostics(vec![format!("{}: not UTF-8", path.display())]))?;
    load_str(path, &text, overrides)
}

/// Validates runbook text; `path` is used in messages.
pub fn load_str(
    path: &Path,
    text: &str,
    overrides: &[(String, String)],
) -> Result<Loaded, Diagnostics> {
    let err = |m: String| Diagnostics(vec![format!("{}: {m}", path.display())]);
    let v: serde_yaml::Value = serde_yaml::from_str(text).map_err(|e| err(e.to_string()))?;
    let get_str =
        |v: &serde_yaml::Value, k: &str| v.get(k).and_then(|x| x.as_str()).map(str::to_string);
    let dur = |v: &serde_yaml::Value, k: &str| {
        get_str(v, k)
            .map(|s| parse_duration(&s).map_err(|e| err(e.to_string())))
            .transpose()
    };
    let mut vars: BTreeMap<String, String> = v
        .get("vars")
        .and_then(|m| m.as_mapping())
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| {
                    Some((
                        k.as_str()?.to_string(),
                        v.as_str().map(str::to_string).unwrap_or_else(|| {
                            serde_yaml::to_string(v)
                                .unwrap_or_default()
                                .trim()
                                .to_string()
                        }),
                    ))
                })
                .collect()
        })
        .unwrap_or_default();
    for (k, val) in overrides {
        vars.insert(k.clone(), val.clone());
    }
    let ctx = template::Context {
        vars: Some(&vars),
        ..Default::default()
    };
    let render = |s: String| template::render(&s, &ctx).map_err(|e| err(e.to_string()));
    let defaults = v.get("defaults").cloned().unwrap_or_default();
    let retry_of = |v: &serde_yaml::Value| -> Result<Option<RetryPolicy>, Diagnostics> {
        match v.get("retry") {
            None => Ok(None),
            Some(r) => Ok(Some(RetryPolicy {
                attempts: r.get("attempts").and_then(|a| a.as_u64()).unwrap_or(3) as u32,
                backoff: dur(r, "backoff")?.unwrap_or(std::time::Duration::from_secs(2)),
            })),
        }
    };
    let parse_steps = |key: &str| -> Result<Vec<Step>, Diagnostics> {
        let mut out = vec![];
        for s in v
            .get(key)
            .and_then(|s| s.as_sequence())
            .cloned()
            .unwrap_or_default()
        {
            let action = get_str(&s, "action").ok_or_else(|| err("step without action".into()))?;
            let spec = crate::actions::catalog::lookup(&action)
                .ok_or_else(|| err(format!("unknown action `{action}`")))?;
            let with: BTreeMap<String, serde_json::Value> = match s.get("with") {
                Some(w) => {
                    let j: serde_json::Value =
                        serde_json::to_value(w).map_err(|e| err(e.to_string()))?;
                    let j = template::render_value(&j, &ctx).map_err(|e| err(e.to_string()))?;
                    serde_json::from_value(j).map_err(|e| err(e.to_string()))?
                }
                None => BTreeMap::new(),
            };
            let region = match get_str(&s, "region").or_else(|| get_str(&defaults, "region")) {
                Some(r) if spec.needs_region => Some(render(r)?),
                _ => None,
            };
            out.push(Step {
                id: get_str(&s, "id").ok_or_else(|| err("step without id".into()))?,
                action,
                description: get_str(&s, "description"),
                needs: s
                    .get("needs")
                    .and_then(|n| n.as_sequence())
                    .map(|n| {
                        n.iter()
                            .filter_map(|x| x.as_str().map(str::to_string))
                            .collect()
                    })
                    .unwrap_or_default(),
                region,
                with,
                timeout: dur(&s, "timeout")?
                    .or(dur(&defaults, "timeout")?)
                    .unwrap_or(DEFAULT_TIMEOUT),
                estimate: dur(&s, "estimate")?.unwrap_or(spec.default_estimate),
                retry: retry_of(&s)?.or(retry_of(&defaults)?).unwrap_or_default(),
                on_failure: match get_str(&s, "on_failure").as_deref() {
                    Some("continue") => OnFailure::Continue,
                    _ => OnFailure::Abort,
                },
                role_arn: get_str(&s, "role_arn"),
            });
        }
        Ok(out)
    };
    let objectives = match v.get("objectives") {
        Some(o) => Objectives {
            rto: dur(o, "rto")?,
            rpo: dur(o, "rpo")?,
        },
        None => Objectives::default(),
    };
    let runbook = Runbook {
        name: get_str(&v, "name").unwrap_or_default(),
        description: get_str(&v, "description"),
        objectives,
        vars: vars.clone(),
        accounts: BTreeMap::new(),
        allow_self_approval: v
            .get("allow_self_approval")
            .and_then(|b| b.as_bool())
            .unwrap_or(false),
        steps: parse_steps("steps")?,
        finally: parse_steps("finally")?,
    };
    Ok(Loaded {
        runbook,
        text: text.to_string(),
        path: path.to_path_buf(),
        sha256: sha256_hex(text.as_bytes()),
    })
}

/// Parses a YAML document into `T` (scenarios use this; serde_yaml stays in this file).
pub fn parse_document<T: serde::de::DeserializeOwned>(
    path: &Path,
    text: &str,
) -> Result<T, Diagnostics> {
    serde_yaml::from_str(text).map_err(|e| {
        let loc = e
            .location()
            .map(|l| format!("{}:{}:{}", path.display(), l.line(), l.column()))
            .unwrap_or_else(|| path.display().to_string());
        Diagnostics(vec![format!("{loc}: {e}")])
    })
}
