//! Values that flow between the engine and the actions.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::runbook::model::Objectives;

/// What a step works with when it runs: rendered parameters and the AWS handle.
#[derive(Clone)]
pub struct StepContext {
    pub run_id: String,
    pub step_id: String,
    /// The step's Region, rendered. `None` for core actions.
    pub region: Option<String>,
    /// The step's `with:`, every template rendered.
    pub params: Params,
    pub objectives: Objectives,
    pub role_arn: Option<String>,
    pub aws: Arc<super::aws::Aws>,
    /// Where the action reports time spent waiting on AWS (polling).
    pub waits: WaitMeter,
    /// What this step observed last in this run before the current attempt (an earlier
    /// attempt's observation, or, on resume, the one journaled before the process stopped with
    /// the step in doubt); `None` on a step's first attempt. An action whose change cannot be
    /// recognised as its own from AWS alone reads what it recorded there (`ecs.redeploy`: the
    /// deployment that was PRIMARY before it started one).
    pub earlier: Option<Observation>,
}

impl StepContext {
    /// The step's Region, or an error when the step has none.
    pub fn region(&self) -> Result<&str, ActionError> {
        self.region.as_deref().ok_or_else(|| ActionError::Invalid {
            message: format!("step `{}` has no region", self.step_id),
            hint: "set `region:` on the step or in `defaults:`".into(),
        })
    }
}

/// Accumulates time an action spends waiting on AWS (polling for a state).
#[derive(Clone, Default, Debug)]
pub struct WaitMeter(Arc<std::sync::atomic::AtomicU64>);

impl WaitMeter {
    pub fn add(&self, d: Duration) {
        self.0
            .fetch_add(d.as_millis() as u64, std::sync::atomic::Ordering::Relaxed);
    }
    pub fn total(&self) -> Duration {
        Duration::from_millis(self.0.load(std::sync::atomic::Ordering::Relaxed))
    }
}

/// A step's rendered parameters with typed accessors. Types were checked by the validator,
/// so accessor errors only arise from `{{ }}` renderings that produced a bad value.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Params(pub BTreeMap<String, serde_json::Value>);

impl Params {
    fn invalid(name: &str, what: &str) -> ActionError {
        ActionError::Invalid {
            message: format!("parameter `{name}` must be {what}"),
            hint: "check the step's `with:` block".into(),
        }
    }

    pub fn opt_str(&self, name: &str) -> Result<Option<String>, ActionError> {
        match self.0.get(name) {
            None | Some(serde_json::Value::Null) => Ok(None),
            Some(serde_json::Value::String(s)) => Ok(Some(s.clone())),
            Some(serde_json::Value::Number(n)) => Ok(Some(n.to_string())),
            Some(serde_json::Value::Bool(b)) => Ok(Some(b.to_string())),
            Some(_) => Err(Self::invalid(name, "a string")),
        }
    }

    pub fn str(&self, name: &str) -> Result<String, ActionError> {
        self.opt_str(name)?
            .ok_or_else(|| Self::invalid(name, "set (it is required)"))
    }

    pub fn str_or(&self, name: &str, default: &str) -> Result<String, ActionError> {
        Ok(self.opt_str(name)?.unwrap_or_else(|| default.to_string()))
    }

    pub fn bool_or(&self, name: &str, default: bool) -> Result<bool, ActionError> {
        match self.0.get(name) {
            None | Some(serde_json::Value::Null) => Ok(default),
            Some(serde_json::Value::Bool(b)) => Ok(*b),
            Some(serde_json::Value::String(s)) if s == "true" => Ok(true),
            Some(serde_json::Value::String(s)) if s == "false" => Ok(false),
            Some(_) => Err(Self::invalid(name, "true or false")),
        }
    }

    pub fn opt_u64(&self, name: &str) -> Result<Option<u64>, ActionError> {
        match self.0.get(name) {
            None | Some(serde_json::Value::Null) => Ok(None),
            Some(serde_json::Value::Number(n)) => n
                .as_u64()
                .map(Some)
                .ok_or_else(|| Self::invalid(name, "a whole number")),
            Some(serde_json::Value::String(s)) => s
                .parse()
                .map(Some)
                .map_err(|_| Self::invalid(name, "a whole number")),
            Some(_) => Err(Self::invalid(name, "a whole number")),
        }
    }

    pub fn opt_duration(&self, name: &str) -> Result<Option<Duration>, ActionError> {
        self.opt_str(name)?
            .map(|s| {
                crate::duration::parse_duration(&s)
                    .map_err(|_| Self::invalid(name, "a duration such as `30s`"))
            })
            .transpose()
    }

    pub fn str_list(&self, name: &str) -> Result<Vec<String>, ActionError> {
        match self.0.get(name) {
            None | Some(serde_json::Value::Null) => Ok(vec![]),
            Some(serde_json::Value::String(s)) => Ok(vec![s.clone()]),
            Some(serde_json::Value::Array(a)) => a
                .iter()
                .map(|v| {
                    v.as_str()
                        .map(str::to_string)
                        .ok_or_else(|| Self::invalid(name, "a list of strings"))
                })
                .collect(),
            Some(_) => Err(Self::invalid(name, "a list of strings")),
        }
    }

    pub fn str_map(&self, name: &str) -> Result<BTreeMap<String, String>, ActionError> {
        match self.0.get(name) {
            None | Some(serde_json::Value::Null) => Ok(BTreeMap::new()),
            Some(serde_json::Value::Object(o)) => o
                .iter()
                .map(|(k, v)| match v {
                    serde_json::Value::String(s) => Ok((k.clone(), s.clone())),
                    serde_json::Value::Number(n) => Ok((k.clone(), n.to_string())),
                    serde_json::Value::Bool(b) => Ok((k.clone(), b.to_string())),
                    _ => Err(Self::invalid(name, "a map of strings")),
                })
                .collect(),
            Some(_) => Err(Self::invalid(name, "a map of strings")),
        }
    }
}

pub use crate::event::{ActionError, AwsFailure, Finding, Observation, Outcome};
