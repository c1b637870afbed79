//! Step checks: one entry of `steps` or `finally` read into a [`Draft`] (id, action,
//! parameters against the action's declared kinds, step-output references, timeouts, retry,
//! failure policy, role), and the settings a step shares with `defaults`.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use super::read::{StepRef, Validation, did_you_mean};
use super::secrets::secret_markers;
use crate::catalog::{self, ActionSpec, ParamKind, ParamSpec};
use crate::duration::parse_duration;
use crate::runbook::model::{CallTimeouts, OnFailure};
use crate::runbook::yaml::{Node, Resolved, Span, Value};

const RETRY_KEYS: &[&str] = &["attempts", "backoff"];
const STEP_KEYS: &[&str] = &[
    "id",
    "action",
    "description",
    "needs",
    "region",
    "with",
    "timeout",
    "estimate",
    "retry",
    "on_failure",
    "role_arn",
    "connect_timeout",
    "call_timeout",
    "external_id",
    "role_duration",
];
const ON_FAILURE: &[&str] = &["abort", "continue"];
const MAX_ATTEMPTS: i64 = 100;

#[derive(Default)]
pub(super) struct Retry {
    pub(super) attempts: Option<u32>,
    pub(super) backoff: Option<Duration>,
}

pub(super) struct Draft {
    pub(super) finally: bool,
    /// The id as written (even when invalid), for messages.
    pub(super) name: String,
    pub(super) span: Span,
    pub(super) id: Option<(String, Span)>,
    pub(super) action: Option<&'static ActionSpec>,
    pub(super) action_span: Option<Span>,
    pub(super) description: Option<String>,
    pub(super) needs: Vec<(String, Span)>,
    pub(super) region: Option<String>,
    pub(super) region_given: bool,
    pub(super) with: BTreeMap<String, serde_json::Value>,
    pub(super) written: BTreeSet<String>,
    pub(super) refs: Vec<StepRef>,
    pub(super) timeout: Option<Duration>,
    pub(super) estimate: Option<Duration>,
    pub(super) retry: Retry,
    pub(super) on_failure: Option<OnFailure>,
    pub(super) role: RoleDraft,
    pub(super) call_timeouts: CallTimeouts,
}

/// `role_arn`, `external_id` and `role_duration` as written on a step or in `defaults`.
#[derive(Default, Clone)]
pub(super) struct RoleDraft {
    pub(super) arn: Option<String>,
    pub(super) external_id: Option<String>,
    pub(super) duration: Option<Duration>,
}

impl RoleDraft {
    /// The step's role: its own fields, else the defaults'.
    pub(super) fn over(self, defaults: &RoleDraft) -> Option<crate::runbook::model::Role> {
        Some(crate::runbook::model::Role {
            arn: self.arn.or_else(|| defaults.arn.clone())?,
            external_id: self.external_id.or_else(|| defaults.external_id.clone()),
            duration: self.duration.or(defaults.duration),
        })
    }
}

impl Validation<'_> {
    /// `connect_timeout` and `call_timeout` (under `prefix`, e.g. `defaults.`): positive, and
    /// no longer than an hour (a call that hangs longer is a Region that does not answer).
    /// `role_arn`, `external_id` and `role_duration` (AWS STS AssumeRole: ExternalId is 2 to
    /// 1224 characters of `[\w+=,.@:/-]`; DurationSeconds is 900 to 43200).
    pub(super) fn role(
        &mut self,
        arn: Option<(&Node, &Node)>,
        external_id: Option<(&Node, &Node)>,
        duration: Option<(&Node, &Node)>,
        prefix: &str,
    ) -> RoleDraft {
        let mut r = RoleDraft::default();
        if let Some((k, v)) = arn
            && let Some(s) = self.string(k, v, &format!("{prefix}role_arn"))
            && let Some(a) = self.render(&s, v.span, "role_arn", false, None)
        {
            if is_role_arn(&a) {
                r.arn = Some(a);
            } else {
                self.report(
                    v.span,
                    format!("`{prefix}role_arn` is not an IAM role ARN: `{a}`"),
                    "not a role ARN",
                    || Some("write `arn:aws:iam::111122223333:role/NAME`".into()),
                );
            }
        }
        if let Some((k, v)) = external_id
            && let Some(s) = self.string(k, v, &format!("{prefix}external_id"))
            && let Some(x) = self.render(&s, v.span, "external_id", false, None)
        {
            let ok = (2..=1224).contains(&x.len())
                && x.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "_+=,.@:/-".contains(c));
            if ok {
                r.external_id = Some(x);
            } else {
                self.report(
                    v.span,
                    format!("`{prefix}external_id` must be 2 to 1224 characters of letters, digits and _+=,.@:/-"),
                    "not an external id",
                    || Some("copy the external id from the role's trust policy (`sts:ExternalId`)".into()),
                );
            }
        }
        if let Some((k, v)) = duration
            && let Some(d) = self.duration(k, v, &format!("{prefix}role_duration"))
        {
            if (900..=43200).contains(&d.as_secs()) {
                r.duration = Some(d);
            } else {
                self.report(
                    v.span,
                    format!("`{prefix}role_duration` must be from 15m to 12h"),
                    "out of range",
                    || Some("AssumeRole sessions last 15m to 12h, and at most the role's maximum session duration; the default is 1h".into()),
                );
            }
        }
        r
    }

    pub(super) fn call_timeouts(
        &mut self,
        connect: Option<(&Node, &Node)>,
        call: Option<(&Node, &Node)>,
        prefix: &str,
    ) -> CallTimeouts {
        let one = |v: &mut Self, field: Option<(&Node, &Node)>, name: &str| {
            let (k, n) = field?;
            let what = format!("{prefix}{name}");
            let d = v.duration(k, n, &what)?;
            if d.is_zero() || d > Duration::from_secs(3600) {
                v.report(
                    n.span,
                    format!("`{what}` must be more than 0 and at most 1h"),
                    "out of range",
                    || {
                        Some(format!(
                            "for example `{name}: 10s`; the default is {}",
                            if name == "connect_timeout" {
                                "3s"
                            } else {
                                "20s"
                            }
                        ))
                    },
                );
                return None;
            }
            Some(d)
        };
        CallTimeouts {
            connect: one(self, connect, "connect_timeout"),
            attempt: one(self, call, "call_timeout"),
        }
    }

    pub(super) fn on_failure(&mut self, key: &Node, node: &Node, what: &str) -> Option<OnFailure> {
        let s = self.string(key, node, what)?;
        match s.as_str() {
            "abort" => Some(OnFailure::Abort),
            "continue" => Some(OnFailure::Continue),
            _ => {
                self.report(
                    node.span,
                    format!("unknown `{what}` value `{s}`"),
                    "expected abort or continue",
                    || {
                        Some(
                            did_you_mean(&s, ON_FAILURE.iter().copied())
                                .unwrap_or_else(|| "use `abort` or `continue`".into()),
                        )
                    },
                );
                None
            }
        }
    }

    pub(super) fn retry(&mut self, key: &Node, node: &Node, what: &str) -> Retry {
        let mut r = Retry::default();
        if !self.expect_map(key, node, what, "retry: { attempts: 3, backoff: 2s }") {
            return r;
        }
        let f = self.fields(node, RETRY_KEYS, &format!("`{what}`"));
        if let Some((k, v)) = f.get("attempts")
            && let Some(n) = self.integer(k, v, "retry.attempts")
        {
            if (1..=MAX_ATTEMPTS).contains(&n) {
                r.attempts = Some(n as u32);
            } else {
                self.report(
                    v.span,
                    format!("`retry.attempts` must be between 1 and {MAX_ATTEMPTS}, found {n}"),
                    "out of range",
                    || Some("attempts counts the first try: 1 means no retry".into()),
                );
            }
        }
        if let Some((k, v)) = f.get("backoff") {
            r.backoff = self.duration(k, v, "retry.backoff");
        }
        r
    }

    /// Converts a `with` value to JSON, substituting vars and collecting step references.
    fn with_value_json(
        &mut self,
        node: &Node,
        what: &str,
        refs: &mut Vec<StepRef>,
    ) -> Option<serde_json::Value> {
        use serde_json::Value as J;
        Some(match &node.value {
            Value::Scalar(s) => match s.resolve() {
                Resolved::Null => J::Null,
                Resolved::Bool(b) => J::Bool(b),
                Resolved::Int(i) => J::from(i),
                Resolved::Float(f) => serde_json::Number::from_f64(f)
                    .map(J::Number)
                    .unwrap_or_else(|| J::String(s.text.clone())),
                Resolved::Str(t) => J::String(self.render(t, node.span, what, true, Some(refs))?),
            },
            Value::Seq(items) => {
                let mut out = Vec::with_capacity(items.len());
                let mut ok = true;
                for item in items {
                    match self.with_value_json(item, what, refs) {
                        Some(v) => out.push(v),
                        None => ok = false,
                    }
                }
                if !ok {
                    return None;
                }
                J::Array(out)
            }
            Value::Map(entries) => {
                let mut out = serde_json::Map::new();
                let mut ok = true;
                for (k, v) in entries {
                    let Some(key) = k.scalar().map(|s| s.text.clone()) else {
                        self.report(
                            k.span,
                            format!("keys in `{what}` must be plain strings"),
                            "not a string",
                            || Some("use plain words as keys".into()),
                        );
                        ok = false;
                        continue;
                    };
                    // Keys may name things by variable (`states: { "{{ vars.rc }}": On }`);
                    // only `{{ vars.* }}`: a key must be known before the run.
                    let Some(key) = self.render(&key, k.span, what, false, None) else {
                        ok = false;
                        continue;
                    };
                    match self.with_value_json(v, what, refs) {
                        Some(v) => {
                            out.entry(key).or_insert(v);
                        }
                        None => ok = false,
                    }
                }
                if !ok {
                    return None;
                }
                J::Object(out)
            }
        })
    }

    /// Checks one parameter's value against its declared kind.
    fn check_param(
        &mut self,
        action: &str,
        spec: &ParamSpec,
        value: &serde_json::Value,
        node: &Node,
        key: &Node,
    ) {
        use serde_json::Value as J;
        let span = if node.scalar().is_some() {
            node.span
        } else {
            key.span
        };
        let name = spec.name;
        if let J::String(s) = value
            && (s.contains("{{") || secret_markers(s).any(|(_, _, n)| self.secrets.contains_key(n)))
        {
            // Rendered at run time; a secret's value is not looked at before the run.
            return;
        }
        let scalar_text = match value {
            J::String(s) => Some(s.clone()),
            J::Number(n) => Some(n.to_string()),
            J::Bool(b) => Some(b.to_string()),
            _ => None,
        };
        let found = node.kind_name();
        let wrong = |v: &mut Self, expected: &str| {
            let help = spec.help;
            v.report(
                span,
                format!("parameter `{name}` of `{action}` must be {expected}, found {found}"),
                format!("expected {expected}"),
                || Some(format!("`{name}`: {help}")),
            );
        };
        if matches!(value, J::Null) {
            wrong(self, "set (it is empty)");
            return;
        }
        match spec.kind {
            ParamKind::String => {
                if scalar_text.is_none() {
                    wrong(self, "a string");
                }
            }
            ParamKind::Duration => match scalar_text {
                None => wrong(self, "a duration"),
                Some(t) => {
                    if let Err(e) = parse_duration(&t) {
                        self.report(span, format!("bad duration for parameter `{name}` of `{action}`: {e}"), "not a duration", || {
                            Some("write a whole number and a unit: `500ms`, `30s`, `15m`, `2h` or `1d`".into())
                        });
                    }
                }
            },
            ParamKind::Integer => {
                let ok = match value {
                    J::Number(n) => n.as_u64().is_some(),
                    J::String(s) => s.parse::<u64>().is_ok(),
                    _ => false,
                };
                if !ok {
                    wrong(self, "a whole number");
                }
            }
            ParamKind::Bool => {
                let ok = matches!(value, J::Bool(_))
                    || matches!(value, J::String(s) if s == "true" || s == "false");
                if !ok {
                    wrong(self, "`true` or `false`");
                }
            }
            ParamKind::Region => match scalar_text {
                None => wrong(self, "a Region name"),
                Some(r) => {
                    self.check_region(&r, span, &format!("with.{name}"));
                }
            },
            ParamKind::StringList => {
                let ok = match value {
                    J::Array(a) => a
                        .iter()
                        .all(|x| matches!(x, J::String(_) | J::Number(_) | J::Bool(_))),
                    J::String(_) => true,
                    _ => false,
                };
                if !ok {
                    wrong(self, "a list of strings");
                }
            }
            ParamKind::StringMap => {
                let ok = match value {
                    J::Object(o) => o
                        .values()
                        .all(|x| matches!(x, J::String(_) | J::Number(_) | J::Bool(_))),
                    _ => false,
                };
                if !ok {
                    wrong(self, "a mapping of strings");
                }
            }
            ParamKind::Enum(values) => {
                match scalar_text {
                    Some(t) if values.contains(&t.as_str()) => {}
                    Some(t) => {
                        self.report(
                            span,
                            format!(
                                "parameter `{name}` of `{action}` must be one of {}, found `{t}`",
                                values.join(", ")
                            ),
                            "not an allowed value",
                            || {
                                Some(did_you_mean(&t, values.iter().copied()).unwrap_or_else(
                                    || format!("use one of: {}", values.join(", ")),
                                ))
                            },
                        );
                    }
                    None => wrong(self, &format!("one of {}", values.join(", "))),
                }
            }
        }
    }

    pub(super) fn step(&mut self, node: &Node, finally: bool) -> Option<Draft> {
        let section = if finally { "finally" } else { "steps" };
        if !matches!(node.value, Value::Map(_)) {
            let found = node.kind_name();
            self.report(node.span, format!("each entry of `{section}` must be a mapping, found {found}"), "expected a step", || {
                Some("write a step as `- id: my-step` followed by `action: ...` on the next lines".into())
            });
            return None;
        }
        let f = self.fields(node, STEP_KEYS, "a step");
        let mut d = Draft {
            finally,
            name: String::new(),
            span: node.span,
            id: None,
            action: None,
            action_span: None,
            description: None,
            needs: Vec::new(),
            region: None,
            region_given: false,
            with: BTreeMap::new(),
            written: BTreeSet::new(),
            refs: Vec::new(),
            timeout: None,
            estimate: None,
            retry: Retry::default(),
            on_failure: None,
            role: RoleDraft::default(),
            call_timeouts: CallTimeouts::default(),
        };
        // id
        match f.get("id") {
            None => self.report(
                node.span,
                format!("step without `id` in `{section}`"),
                "this step has no id",
                || Some("add `id: my-step` (lowercase letters, digits, `-` and `_`)".into()),
            ),
            Some((k, v)) => {
                if let Some(id) = self.string(k, v, "id") {
                    if valid_id(&id) {
                        d.id = Some((id, v.span));
                    } else {
                        let suggestion = suggest_id(&id);
                        self.report(v.span, format!("invalid step id `{id}`"), "bad id", || {
                            Some(match suggestion {
                                Some(s) => format!("ids use lowercase letters, digits, `-` and `_`, and start with a letter or digit: try `{s}`"),
                                None => "ids use lowercase letters, digits, `-` and `_`, and start with a letter or digit".into(),
                            })
                        });
                    }
                }
            }
        }
        let id_text = match (&d.id, f.get("id").and_then(|(_, v)| v.scalar())) {
            (Some((i, _)), _) => i.clone(),
            (None, Some(raw)) => raw.text.clone(),
            (None, None) => "?".to_string(),
        };
        d.name = id_text.clone();
        // action
        match f.get("action") {
            None => self.report(f.get("id").map_or(node.span, |(k, _)| k.span), format!("step `{id_text}` has no `action`"), "no action", || {
                Some("add `action: ...`, for example `action: wait` with `with: { duration: 30s }`".into())
            }),
            Some((k, v)) => {
                if let Some(a) = self.string(k, v, "action") {
                    d.action_span = Some(v.span);
                    match catalog::lookup(&a) {
                        Some(spec) => d.action = Some(spec),
                        None => self.report(v.span, format!("unknown action `{a}`"), "not in the action catalogue", || {
                            Some(did_you_mean(&a, catalog::names()).unwrap_or_else(|| {
                                format!("known actions: {}", catalog::names().collect::<Vec<_>>().join(", "))
                            }))
                        }),
                    }
                }
            }
        }
        if let Some((k, v)) = f.get("description")
            && let Some(s) = self.string(k, v, "description")
        {
            d.description = self.render(&s, v.span, "description", true, None);
        }
        if let Some((k, v)) = f.get("needs") {
            match &v.value {
                Value::Seq(items) => {
                    for item in items {
                        if let Some(s) = self.string(item, item, "needs") {
                            d.needs.push((s, item.span));
                        }
                    }
                }
                _ if v.is_null() => {}
                _ => {
                    let found = v.kind_name();
                    let span = if v.scalar().is_some() { v.span } else { k.span };
                    self.report(
                        span,
                        format!("`needs` must be a list of step ids, found {found}"),
                        "expected a list",
                        || Some("write `needs: [other-step]`".into()),
                    );
                }
            }
        }
        if let Some((k, v)) = f.get("region") {
            d.region_given = true;
            d.region = self.region(k, v, "region");
        }
        let mut with_entries: Vec<(&Node, &Node)> = Vec::new();
        let mut with_key: Option<&Node> = None;
        if let Some((k, v)) = f.get("with") {
            with_key = Some(k);
            if v.is_null() {
                // `with:` with nothing under it
            } else if self.expect_map(k, v, "with", "with: { name: value }")
                && let Value::Map(entries) = &v.value
            {
                for (pk, pv) in entries {
                    let Some(pname) = pk.scalar().map(|s| s.text.clone()) else {
                        self.report(
                            pk.span,
                            "parameter names must be plain strings",
                            "not a name",
                            || {
                                Some(
                                    "use the parameter's name as the key, for example `table:`"
                                        .into(),
                                )
                            },
                        );
                        continue;
                    };
                    if !d.written.insert(pname.clone()) {
                        continue;
                    }
                    let what = format!("with.{pname}");
                    self.secret_ok = d
                        .action
                        .is_some_and(|a| a.service != catalog::Service::Core);
                    let rendered = self.with_value_json(pv, &what, &mut d.refs);
                    self.secret_ok = false;
                    if let Some(j) = rendered {
                        d.with.insert(pname, j);
                        with_entries.push((pk, pv));
                    }
                }
            }
        }
        if let Some(spec) = d.action {
            for (pk, pv) in &with_entries {
                let pname = pk.scalar().map(|s| s.text.as_str()).unwrap_or_default();
                match spec.param(pname) {
                    Some(ps) => {
                        if let Some(j) = d.with.get(pname) {
                            self.check_param(spec.name, ps, j, pv, pk);
                        }
                    }
                    None => {
                        let pname = pname.to_string();
                        self.report(
                            pk.span,
                            format!("unknown parameter `{pname}` for `{}`", spec.name),
                            "unknown parameter",
                            || {
                                Some(
                                    did_you_mean(&pname, spec.params.iter().map(|p| p.name))
                                        .unwrap_or_else(|| {
                                            if spec.params.is_empty() {
                                                format!("`{}` takes no parameters", spec.name)
                                            } else {
                                                format!(
                                                    "parameters of `{}`: {}",
                                                    spec.name,
                                                    spec.params
                                                        .iter()
                                                        .map(|p| p.name)
                                                        .collect::<Vec<_>>()
                                                        .join(", ")
                                                )
                                            }
                                        }),
                                )
                            },
                        );
                    }
                }
            }
            for ps in spec.params.iter().filter(|p| p.required) {
                if !d.written.contains(ps.name) {
                    let span = with_key
                        .map(|k| k.span)
                        .or(d.action_span)
                        .unwrap_or(node.span);
                    let (name, help, action) = (ps.name, ps.help, spec.name);
                    self.report(
                        span,
                        format!("missing parameter `{name}` for `{action}` in step `{id_text}`"),
                        "required parameter missing",
                        || Some(format!("add `{name}: ...` under `with:` ({help})")),
                    );
                }
            }
        }
        if let Some(spec) = d.action
            && let Some((message, help)) = param_combination(spec.name, &d.written)
        {
            let span = with_key
                .map(|k| k.span)
                .or(d.action_span)
                .unwrap_or(node.span);
            self.report(
                span,
                format!("{message} in step `{id_text}`"),
                "parameters that do not go together",
                || Some(help),
            );
        }
        if let Some((k, v)) = f.get("timeout") {
            d.timeout = self.duration(k, v, "timeout");
            if d.timeout == Some(Duration::ZERO) {
                self.report(
                    v.span,
                    "`timeout` must be greater than zero",
                    "zero timeout",
                    || Some("give the step time to finish, for example `timeout: 10m`".into()),
                );
            }
        }
        if let Some((k, v)) = f.get("estimate") {
            d.estimate = self.duration(k, v, "estimate");
        }
        if let Some((k, v)) = f.get("retry") {
            d.retry = self.retry(k, v, "retry");
        }
        if let Some((k, v)) = f.get("on_failure") {
            d.on_failure = self.on_failure(k, v, "on_failure");
        }
        d.call_timeouts = self.call_timeouts(f.get("connect_timeout"), f.get("call_timeout"), "");
        d.role = self.role(
            f.get("role_arn"),
            f.get("external_id"),
            f.get("role_duration"),
            "",
        );
        Some(d)
    }
}

/// Parameters an action takes in one combination only, which the catalogue's per-parameter
/// `required` cannot say: (the problem, what to do).
fn param_combination(action: &str, written: &BTreeSet<String>) -> Option<(String, String)> {
    if action != "rds.failover" {
        return None;
    }
    let has = |k: &str| written.contains(k);
    let forms: Vec<&str> = ["instance", "cluster", "global_cluster"]
        .into_iter()
        .filter(|k| has(k))
        .collect();
    let help = "give exactly one of `instance` (Multi-AZ DB instance), `cluster` (Aurora DB \
                cluster, with `target_instance` optional) and `global_cluster` (Aurora global \
                database, with `to_region` and optional `mode`)";
    match forms.as_slice() {
        [] => Some((
            "`rds.failover` needs one of `instance`, `cluster` and `global_cluster`".into(),
            help.into(),
        )),
        [_] if has("global_cluster") && !has("to_region") => Some((
            "`global_cluster` needs `to_region` in `rds.failover`".into(),
            "add `to_region: REGION`, the Region whose secondary DB cluster becomes the primary"
                .into(),
        )),
        [_] if has("global_cluster") && has("target_instance") => Some((
            "`target_instance` does not go with `global_cluster` in `rds.failover`".into(),
            "a global database's writer moves to a Region (`to_region`); remove `target_instance`"
                .into(),
        )),
        [form] if !has("global_cluster") && (has("to_region") || has("mode")) => Some((
            format!(
                "`{}` does not go with `{form}` in `rds.failover`",
                if has("to_region") {
                    "to_region"
                } else {
                    "mode"
                }
            ),
            "`to_region` and `mode` belong to the global database form (`global_cluster:`)".into(),
        )),
        [_] => None,
        many => Some((
            format!(
                "`rds.failover` takes one of `instance`, `cluster` and `global_cluster`, not {}",
                many.iter()
                    .map(|k| format!("`{k}`"))
                    .collect::<Vec<_>>()
                    .join(" and ")
            ),
            help.into(),
        )),
    }
}

fn valid_id(id: &str) -> bool {
    let b = id.as_bytes();
    !b.is_empty()
        && (b[0].is_ascii_lowercase() || b[0].is_ascii_digit())
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-' || *c == b'_')
}

fn suggest_id(id: &str) -> Option<String> {
    let s: String = id
        .to_ascii_lowercase()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect();
    let s = s.trim_start_matches(['-', '_']).to_string();
    (valid_id(&s) && s != id && s.len() <= 64).then_some(s)
}

fn is_role_arn(s: &str) -> bool {
    let parts: Vec<&str> = s.splitn(6, ':').collect();
    parts.len() == 6
        && parts[0] == "arn"
        && parts[1].starts_with("aws")
        && parts[2] == "iam"
        && parts[4].len() == 12
        && parts[4].bytes().all(|b| b.is_ascii_digit())
        && parts[5]
            .strip_prefix("role/")
            .is_some_and(|r| !r.is_empty())
}

/// The step's estimate read from the parameter its action plans by (a `wait`'s `duration`),
/// when that value is known before the run (no step outputs or run id in it).
pub(super) fn estimate_from_param(
    spec: &ActionSpec,
    with: &BTreeMap<String, serde_json::Value>,
) -> Option<Duration> {
    match with.get(spec.estimate_param?)? {
        serde_json::Value::String(s) if !s.contains("{{") => parse_duration(s).ok(),
        _ => None,
    }
}
