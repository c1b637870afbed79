//! Serde structs that mirror the runbook YAML exactly, for the JSON Schema
//! (`drillbook schema`). The validator reads a located YAML tree instead, so it can report
//! every problem with its position; a test keeps both in step.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::catalog::{self, ParamKind};

const DURATION: &str = r"^(0|[0-9]+(ms|s|m|h|d))$";

/// A drillbook runbook (`version: 1`).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "drillbook runbook")]
pub(crate) struct RunbookSpec {
    /// Format version; must be 1.
    #[schemars(range(min = 1, max = 1))]
    pub version: u32,
    /// Short name of the runbook.
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub objectives: Option<ObjectivesSpec>,
    /// Variables, used as `{{ vars.NAME }}`; overridable with `--var NAME=VALUE`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub vars: BTreeMap<String, VarSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub defaults: Option<DefaultsSpec>,
    /// Account guard: label -> 12-digit AWS account id.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[schemars(with = "BTreeMap<String, AccountId>")]
    pub accounts: BTreeMap<String, String>,
    /// Let the identity that started the run approve its `approval` steps.
    #[serde(default)]
    pub allow_self_approval: bool,
    /// Who may approve `approval` steps, and the keys that prove it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approvers: Option<ApproversSpec>,
    /// The recovery steps, a dependency graph.
    #[schemars(length(min = 1))]
    pub steps: Vec<StepSpec>,
    /// Cleanup steps, run after the graph whatever its outcome.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub finally: Vec<StepSpec>,
    /// Run across accounts and Regions (a fleet; docs/fleets.md); each `run` flag overrides
    /// its field.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub targets: Option<TargetsSpec>,
}

/// `targets:`: accounts or OUs x Regions, as Systems Manager Automation's `TargetLocation`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct TargetsSpec {
    /// Account ids (`"111111111111"`, or `"111111111111=NAME"`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(with = "Vec<TargetAccount>")]
    pub accounts: Vec<String>,
    /// OU ids (`ou-...`, or a root `r-...`) whose accounts AWS Organizations lists.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(with = "Vec<OuId>")]
    pub organizational_units: Vec<String>,
    /// Also the accounts of the OUs' child OUs, all the way down.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub include_child_ous: Option<bool>,
    /// Account ids or OU ids left out.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exclude: Vec<String>,
    /// The Regions of each account.
    #[schemars(length(min = 1))]
    pub regions: Vec<String>,
    /// The role each target's steps assume in its account.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role_name: Option<String>,
    /// Targets running at once: `10` or `"10%"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_concurrency: Option<ShareSpec>,
    /// Failures allowed before no new target starts: `1` or `"5%"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_errors: Option<ShareSpec>,
    /// A CloudWatch alarm of the account drillbook runs in (`NAME` or `NAME@REGION`): in
    /// ALARM, no new target starts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_alarm: Option<String>,
}

/// An account id, or `ID=NAME`.
#[derive(JsonSchema)]
#[expect(dead_code, reason = "only its JSON Schema is used")]
struct TargetAccount(#[schemars(regex(pattern = r"^[0-9]{12}(=.+)?$"))] String);

/// An OU id or a root id.
#[derive(JsonSchema)]
#[expect(dead_code, reason = "only its JSON Schema is used")]
struct OuId(
    #[schemars(regex(pattern = r"^(ou-[0-9a-z]{4,32}-[a-z0-9]{8,32}|r-[0-9a-z]{4,32})$"))] String,
);

/// A number of targets (`3`, `"3"`), or a share of them (`"10%"`).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub(crate) enum ShareSpec {
    Count(u64),
    Text(#[schemars(regex(pattern = r"^([0-9]+|([0-9]|[1-9][0-9]|100)%)$"))] String),
}

/// A variable: a value, or a secret read from the environment.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub(crate) enum VarSpec {
    Value(String),
    /// No default: `--var` (or a scenario's `vars:`) must give a value.
    Required {
        required: bool,
        /// What to give, for the error that names a missing value.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        help: Option<String>,
    },
    /// Read from `env` when the runbook loads; usable only in an AWS action's `with:`; never
    /// written anywhere (`[secret:NAME]` stands in).
    Secret {
        secret: bool,
        /// The environment variable holding the value.
        #[schemars(regex(pattern = r"^[A-Za-z_][A-Za-z0-9_]*$"))]
        env: String,
    },
}

/// `approvers:`: an approval counts when the approver matches `principals` (if any) and it is
/// signed with one of `keys`; unsigned approvals count only with `allow_unsigned: true`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ApproversSpec {
    /// ARN patterns of who may approve (`*` any run of characters, `?` one character).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub principals: Vec<String>,
    /// Trusted keys: `ed25519:HEX` (a `KEY.pub`) or `kms:KEY_ARN`, or `{ key, principal }`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub keys: Vec<ApproverKeySpec>,
    /// Accept approvals that are not signed (reports label them unsigned).
    #[serde(default)]
    pub allow_unsigned: bool,
}

/// A trusted approval key, alone or bound to the principal it belongs to.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub(crate) enum ApproverKeySpec {
    Key(
        #[schemars(regex(
            pattern = r"^(ed25519:[0-9a-fA-F]{64}|kms:arn:[^:]+:kms:[^:]+:[0-9]{12}:key/.+)$"
        ))]
        String,
    ),
    Bound {
        #[schemars(regex(
            pattern = r"^(ed25519:[0-9a-fA-F]{64}|kms:arn:[^:]+:kms:[^:]+:[0-9]{12}:key/.+)$"
        ))]
        key: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        principal: Option<String>,
    },
}

/// A 12-digit AWS account id.
#[derive(JsonSchema)]
#[expect(dead_code, reason = "only its JSON Schema is used")]
struct AccountId(#[schemars(regex(pattern = r"^[0-9]{12}$"))] String);

/// A duration such as `500ms`, `30s`, `15m`, `2h` or `1d`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(transparent)]
pub(crate) struct DurationSpec(
    #[schemars(regex(pattern = r"^(0|[0-9]+(ms|s|m|h|d))$"))] pub String,
);

/// Recovery objectives.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ObjectivesSpec {
    /// Recovery time objective.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rto: Option<DurationSpec>,
    /// Recovery point objective.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rpo: Option<DurationSpec>,
}

/// Values every step inherits unless it sets its own.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct DefaultsSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<DurationSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry: Option<RetrySpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_failure: Option<OnFailureSpec>,
    /// How long an AWS call may take to connect (default 3s).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connect_timeout: Option<DurationSpec>,
    /// How long one attempt of an AWS call may take (default 20s).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub call_timeout: Option<DurationSpec>,
    /// IAM role every step assumes unless it names its own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role_arn: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role_duration: Option<DurationSpec>,
}

/// Retry policy; `attempts` counts the first try.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RetrySpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 100))]
    pub attempts: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backoff: Option<DurationSpec>,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub(crate) enum OnFailureSpec {
    /// Start nothing new; the rest is skipped.
    Abort,
    /// Keep going with steps that do not depend on the failed one.
    Continue,
}

/// One step of the graph.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct StepSpec {
    /// Unique id: lowercase letters, digits, `-` and `_`.
    #[schemars(regex(pattern = r"^[a-z0-9][a-z0-9_-]*$"))]
    pub id: String,
    /// Catalogue action, for example `dynamodb.restore_pitr` or `wait`.
    pub action: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Ids of the steps that must succeed before this one starts.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub needs: Vec<String>,
    /// AWS Region (defaults to `defaults.region`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// The action's parameters.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub with: BTreeMap<String, serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<DurationSpec>,
    /// Expected duration, for planning (defaults to the action's estimate).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub estimate: Option<DurationSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry: Option<RetrySpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_failure: Option<OnFailureSpec>,
    /// IAM role to assume for this step (default: `defaults.role_arn`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role_arn: Option<String>,
    /// The external id the role's trust policy asks for (STS AssumeRole ExternalId).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
    /// How long the role's session lasts (STS AssumeRole DurationSeconds): 15m to 12h.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role_duration: Option<DurationSpec>,
    /// How long an AWS call of this step may take to connect (default: `defaults`, else 3s).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connect_timeout: Option<DurationSpec>,
    /// How long one attempt of an AWS call of this step may take (default: `defaults`, else 20s).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub call_timeout: Option<DurationSpec>,
}

fn param_schema(kind: ParamKind) -> serde_json::Value {
    use serde_json::json;
    let template = json!({ "type": "string", "pattern": "\\{\\{" });
    match kind {
        ParamKind::String => json!({ "type": ["string", "number", "boolean"] }),
        ParamKind::Duration => {
            json!({ "type": "string", "pattern": DURATION.replace('$', "$|\\{\\{") })
        }
        ParamKind::Integer => json!({ "anyOf": [{ "type": "integer", "minimum": 0 }, template] }),
        ParamKind::Bool => json!({ "anyOf": [{ "type": "boolean" }, template] }),
        ParamKind::Region => json!({ "anyOf": [{ "enum": super::regions::REGIONS }, template] }),
        ParamKind::StringList => json!({ "anyOf": [
            { "type": "array", "items": { "type": ["string", "number", "boolean"] } },
            { "type": "string" }
        ] }),
        ParamKind::StringMap => json!({
            "type": "object",
            "additionalProperties": { "type": ["string", "number", "boolean"] }
        }),
        ParamKind::Enum(values) => json!({ "anyOf": [{ "enum": values }, template] }),
    }
}

/// The JSON Schema of the runbook format, with each action's parameters spelled out so
/// editors can complete `with:` blocks.
pub(crate) fn json_schema() -> serde_json::Value {
    use serde_json::json;
    let mut schema =
        serde_json::to_value(schemars::schema_for!(RunbookSpec)).unwrap_or_else(|_| json!({}));
    let per_action: Vec<serde_json::Value> = catalog::CATALOG
        .iter()
        .map(|a| {
            let props: serde_json::Map<String, serde_json::Value> = a
                .params
                .iter()
                .map(|p| {
                    let mut s = param_schema(p.kind);
                    s["description"] = json!(p.help);
                    if let Some(d) = p.default {
                        s["default"] = json!(d);
                    }
                    (p.name.to_string(), s)
                })
                .collect();
            let required: Vec<&str> = a
                .params
                .iter()
                .filter(|p| p.required)
                .map(|p| p.name)
                .collect();
            let mut with =
                json!({ "type": "object", "properties": props, "additionalProperties": false });
            if !required.is_empty() {
                with["required"] = json!(required);
            }
            let mut then = json!({ "properties": { "with": with } });
            if !required.is_empty() {
                then["required"] = json!(["with"]);
            }
            json!({
                "if": { "properties": { "action": { "const": a.name } }, "required": ["action"] },
                "then": then
            })
        })
        .collect();
    if let Some(step) = schema.pointer_mut("/$defs/StepSpec") {
        step["allOf"] = json!(per_action);
        if let Some(action) = step.pointer_mut("/properties/action") {
            action["enum"] = json!(catalog::names().collect::<Vec<_>>());
        }
    }
    schema
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The serde structs and the validator agree on what a valid runbook looks like.
    #[test]
    fn valid_runbooks_deserialize_into_the_spec() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut files: Vec<_> = std::fs::read_dir(root.join("tests/corpus/valid"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        files.push(root.join("runbooks/region-failover.yaml"));
        files.push(root.join("runbooks/data-corruption-restore.yaml"));
        for f in files {
            let text = std::fs::read_to_string(&f).unwrap();
            crate::runbook::load_str(&f, &text, &[]).unwrap_or_else(|d| panic!("{d}"));
            let tree = crate::runbook::yaml::parse(&text).unwrap().root.unwrap();
            let spec: RunbookSpec = serde_json::from_value(tree.to_json())
                .unwrap_or_else(|e| panic!("{}: {e}", f.display()));
            assert!(!spec.steps.is_empty());
        }
    }

    #[test]
    fn unknown_fields_are_rejected_by_the_spec_too() {
        let text = "version: 1\nname: t\nsteps:\n  - id: a\n    action: wait\n    nedds: [b]\n";
        let tree = crate::runbook::yaml::parse(text).unwrap().root.unwrap();
        assert!(serde_json::from_value::<RunbookSpec>(tree.to_json()).is_err());
    }

    #[test]
    fn schema_lists_actions_and_step_fields() {
        let s = json_schema();
        let step = s.pointer("/$defs/StepSpec").expect("StepSpec definition");
        let actions = step.pointer("/properties/action/enum").unwrap();
        assert!(
            actions
                .as_array()
                .unwrap()
                .iter()
                .any(|a| a == "dynamodb.restore_pitr")
        );
        assert_eq!(step["additionalProperties"], serde_json::json!(false));
        assert_eq!(
            step["allOf"].as_array().unwrap().len(),
            catalog::CATALOG.len()
        );
        assert_eq!(s["additionalProperties"], serde_json::json!(false));
    }
}
