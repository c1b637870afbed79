//! From a YAML tree to a validated [`Runbook`], reporting every problem in one pass.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::time::Duration;

use super::diag::{Diagnostics, MAX_PROBLEMS, Problem, Source};
use super::model::{
    ApproverKey, Approvers, CallTimeouts, DEFAULT_TIMEOUT, Objectives, OnFailure, RetryPolicy,
    Runbook, SecretVar, Step, TrustedKeyRef,
};
use super::regions;
use super::yaml::{DuplicateKey, Node, Resolved, Span, Value};
use crate::catalog::{self, ActionSpec, ParamKind, ParamSpec};
use crate::duration::parse_duration;
use crate::template::{self, Ref, TemplateError};

const TOP_KEYS: &[&str] = &[
    "version",
    "name",
    "description",
    "objectives",
    "vars",
    "defaults",
    "accounts",
    "allow_self_approval",
    "steps",
    "finally",
    "approvers",
];
const SECRET_KEYS: &[&str] = &["secret", "env"];
const REQUIRED_KEYS: &[&str] = &["required", "help"];
/// Environment variables a secret may not be read from (compared without regard to case).
const RESERVED_ENV_PREFIXES: &[&str] = &["AWS_", "DRILLBOOK_"];
const APPROVER_KEYS: &[&str] = &["principals", "keys", "allow_unsigned"];
const APPROVER_KEY_KEYS: &[&str] = &["key", "principal", "sha256"];
const OBJECTIVE_KEYS: &[&str] = &["rto", "rpo"];
const DEFAULT_KEYS: &[&str] = &[
    "region",
    "timeout",
    "retry",
    "on_failure",
    "connect_timeout",
    "call_timeout",
    "role_arn",
    "external_id",
    "role_duration",
];
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
/// The most all of a runbook's rendered values may hold together (each value also has
/// `template::MAX_RENDERED_VALUE`).
const MAX_RENDERED_TOTAL: usize = 32 * 1024 * 1024;

/// The longest message a problem keeps: a value quoted in it (a megabyte of bad duration) is
/// cut, so that reporting stays cheap whatever the input.
const MAX_MESSAGE: usize = 400;

fn shorten(message: String) -> String {
    if message.len() <= MAX_MESSAGE {
        return message;
    }
    let mut end = MAX_MESSAGE;
    while !message.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}... ({} bytes in all)", &message[..end], message.len())
}

/// `did you mean `x`?` for the closest candidate, when one is close enough.
pub fn did_you_mean<'c>(
    word: &str,
    candidates: impl IntoIterator<Item = &'c str>,
) -> Option<String> {
    let mut best: Option<(f64, &str)> = None;
    for c in candidates {
        // Jaro-Winkler misses swapped letters in short words (`kye` for `key`): one edit
        // (transpositions included) counts as close too.
        let close = strsim::osa_distance(word, c) <= 1 && c.len() > 1;
        let score = strsim::jaro_winkler(word, c) + if close { 1.0 } else { 0.0 };
        if score >= 0.8 && best.is_none_or(|(s, _)| score > s) {
            best = Some((score, c));
        }
    }
    best.map(|(_, c)| format!("did you mean `{c}`?"))
}

/// A `{{ steps.X.Y }}` found in a step's parameters.
struct StepRef {
    step: String,
    output: String,
    /// The value it is in, and the placeholder as written: its own span is looked up
    /// ([`V::locate`]) only for a problem that will be listed, so that thousands of references
    /// in one long value do not each search it.
    at: Span,
    text: String,
}

#[derive(Default)]
struct Retry {
    attempts: Option<u32>,
    backoff: Option<Duration>,
}

struct Draft {
    finally: bool,
    /// The id as written (even when invalid), for messages.
    name: String,
    span: Span,
    id: Option<(String, Span)>,
    action: Option<&'static ActionSpec>,
    action_span: Option<Span>,
    description: Option<String>,
    needs: Vec<(String, Span)>,
    region: Option<String>,
    region_given: bool,
    with: BTreeMap<String, serde_json::Value>,
    written: BTreeSet<String>,
    refs: Vec<StepRef>,
    timeout: Option<Duration>,
    estimate: Option<Duration>,
    retry: Retry,
    on_failure: Option<OnFailure>,
    role: RoleDraft,
    call_timeouts: CallTimeouts,
}

/// `role_arn`, `external_id` and `role_duration` as written on a step or in `defaults`.
#[derive(Default, Clone)]
struct RoleDraft {
    arn: Option<String>,
    external_id: Option<String>,
    duration: Option<Duration>,
}

impl RoleDraft {
    /// The step's role: its own fields, else the defaults'.
    fn over(self, defaults: &RoleDraft) -> Option<crate::runbook::model::Role> {
        Some(crate::runbook::model::Role {
            arn: self.arn.or_else(|| defaults.arn.clone())?,
            external_id: self.external_id.or_else(|| defaults.external_id.clone()),
            duration: self.duration.or(defaults.duration),
        })
    }
}

struct Defaults {
    region: Option<String>,
    timeout: Option<Duration>,
    retry: Retry,
    on_failure: Option<OnFailure>,
    call_timeouts: CallTimeouts,
    role: RoleDraft,
}

struct V<'a> {
    src: &'a Source,
    problems: Vec<Problem>,
    omitted: usize,
    /// Variables; a secret's entry is its marker (`[secret:NAME]`), whatever the environment.
    vars: BTreeMap<String, String>,
    /// Secret variables.
    secrets: BTreeMap<String, SecretVar>,
    /// The values of the secrets whose environment variable holds one long enough to redact.
    /// Nothing checks them: every check sees the marker, so what validation says about a
    /// runbook does not depend on the value of any environment variable. They replace the
    /// markers in the validated runbook only ([`with_secrets`]).
    secret_values: BTreeMap<String, String>,
    /// Whether a secret may be rendered here: the `with:` of an AWS action.
    secret_ok: bool,
    /// Bytes rendered so far, against `MAX_RENDERED_TOTAL`.
    rendered_total: usize,
    over_budget: bool,
    /// Variables whose value `--var` changed (name, value given): a problem with a value that
    /// uses one of them is the argument's, and is reported against `--var`, once per variable.
    overridden: BTreeMap<String, String>,
    /// The overridden variables already blamed.
    blamed: BTreeSet<String>,
    /// Overridden variables that a scenario's `vars:` set (not `--var`).
    from_scenario: &'a BTreeSet<String>,
    /// Variables declared `{ required: true }`: where, and what their `help:` says.
    required: BTreeMap<String, (Span, Option<String>)>,
    /// Whether those must have a value here.
    values: Values,
}

type Field<'n> = Option<(&'n Node, &'n Node)>;

/// The fields of a mapping, read by name; only names of the allowed list exist.
struct Fields<'n> {
    allowed: &'static [&'static str],
    found: Vec<Field<'n>>,
}

impl<'n> Fields<'n> {
    /// The key and value of field `name`, when the mapping has it.
    fn get(&self, name: &str) -> Field<'n> {
        let i = self.allowed.iter().position(|a| *a == name);
        debug_assert!(i.is_some(), "`{name}` is not one of {:?}", self.allowed);
        i.and_then(|i| self.found[i])
    }
}

impl<'a> V<'a> {
    fn full(&self) -> bool {
        self.problems.len() >= MAX_PROBLEMS
    }

    /// Records a problem; `help` is only computed when the problem will be listed.
    fn report(
        &mut self,
        span: Span,
        message: impl Into<String>,
        label: impl Into<String>,
        help: impl FnOnce() -> Option<String>,
    ) {
        if self.full() {
            self.omitted += 1;
            return;
        }
        if let Some(name) = self.overridden_in(span) {
            if self.blamed.insert(name.clone()) {
                let (line, col) = self.src.line_col(span.start);
                let value = &self.overridden[&name];
                let used_at = format!("used at {}:{line}:{col}", self.src.name());
                let (given, source) = if self.from_scenario.contains(&name) {
                    (
                        format!("the scenario's `vars: {{ {name}: {value} }}`"),
                        format!("the scenario's `vars.{name}`"),
                    )
                } else {
                    (
                        format!("`--var {name}={value}`"),
                        format!("`--var {name}=...`"),
                    )
                };
                let help = match help() {
                    Some(h) => format!("{h} (the value comes from {source}, {used_at})"),
                    None => format!("the value comes from {source}, {used_at}"),
                };
                self.problems.push(Problem::general(
                    shorten(format!("{given}: {}", message.into())),
                    Some(help),
                ));
            }
            return;
        }
        let p = Problem::at(self.src, span, shorten(message.into()), label, help());
        self.problems.push(p);
    }

    /// The `--var` variable a value at `span` (one line of the file) takes its text from.
    fn overridden_in(&self, span: Span) -> Option<String> {
        if self.overridden.is_empty() {
            return None;
        }
        let text = self.src.text().get(span.start..span.end)?;
        if text.contains('\n') || !text.contains("{{") {
            return None;
        }
        let placeholders = template::parse(text).ok()?;
        // One scalar only: a flow mapping or list on the line is not the value's problem.
        let mut rest = String::new();
        let mut last = 0;
        for p in &placeholders {
            rest.push_str(&text[last..p.start]);
            last = p.end;
        }
        rest.push_str(&text[last..]);
        if rest.contains(['{', '}', '[', ']']) {
            return None;
        }
        placeholders.into_iter().find_map(|p| match p.reference {
            Ref::Var(name) if self.overridden.contains_key(&name) => Some(name),
            _ => None,
        })
    }

    fn line_of(&self, span: Span) -> usize {
        self.src.line_col(span.start).0
    }

    /// Splits a mapping into the allowed fields (first occurrence wins), reporting unknown keys.
    fn fields<'n>(
        &mut self,
        node: &'n Node,
        allowed: &'static [&'static str],
        what: &str,
    ) -> Fields<'n> {
        let mut out = vec![None; allowed.len()];
        let Value::Map(entries) = &node.value else {
            return Fields {
                allowed,
                found: out,
            };
        };
        for (k, v) in entries {
            let Some(key) = k.scalar().map(|s| s.text.as_str()) else {
                self.report(
                    k.span,
                    format!("{what} keys must be plain names"),
                    "not a name",
                    || Some("use a plain word as the key, for example `name:`".into()),
                );
                continue;
            };
            match allowed.iter().position(|a| *a == key) {
                Some(i) => {
                    if out[i].is_none() {
                        out[i] = Some((k, v));
                    }
                }
                None => {
                    let key = key.to_string();
                    self.report(
                        k.span,
                        format!("unknown field `{key}` in {what}"),
                        "unknown field",
                        || {
                            Some(match did_you_mean(&key, allowed.iter().copied()) {
                                Some(d) => d,
                                None => format!("allowed fields: {}", allowed.join(", ")),
                            })
                        },
                    )
                }
            }
        }
        Fields {
            allowed,
            found: out,
        }
    }

    /// Requires `node` to be a mapping.
    fn expect_map(&mut self, key: &Node, node: &Node, what: &str, example: &str) -> bool {
        if matches!(node.value, Value::Map(_)) {
            return true;
        }
        let found = node.kind_name();
        let span = if node.scalar().is_some() {
            node.span
        } else {
            key.span
        };
        self.report(
            span,
            format!("`{what}` must be a mapping, found {found}"),
            "expected a mapping",
            || Some(format!("write it as `{example}`")),
        );
        false
    }

    /// A scalar taken as a string (numbers and booleans keep their text).
    fn string(&mut self, key: &Node, node: &Node, what: &str) -> Option<String> {
        match &node.value {
            Value::Scalar(s) if !matches!(s.resolve(), Resolved::Null) => Some(s.text.clone()),
            _ => {
                let found = node.kind_name();
                let span = if node.scalar().is_some() {
                    node.span
                } else {
                    key.span
                };
                self.report(
                    span,
                    format!("`{what}` must be a string, found {found}"),
                    "expected a string",
                    || Some(format!("write `{what}: some text` (quote it if it contains `: ` or starts with `{{`)")),
                );
                None
            }
        }
    }

    /// A string with `{{ vars.* }}` substituted. `runtime` allows `{{ run.id }}` and
    /// `{{ steps.X.Y }}` to stay (collected into `refs` when given).
    fn render(
        &mut self,
        s: &str,
        span: Span,
        what: &str,
        runtime: bool,
        mut refs: Option<&mut Vec<StepRef>>,
    ) -> Option<String> {
        if !s.contains("{{") {
            return Some(s.to_string());
        }
        let placeholders = match template::parse(s) {
            Ok(p) => p,
            Err(e) => {
                let (msg, help) = match &e {
                    TemplateError::Unclosed(_) => (
                        "unclosed `{{` in template".to_string(),
                        "close it with `}}`, for example `{{ vars.table }}`".to_string(),
                    ),
                    TemplateError::BadReference { expr, .. } => (
                        format!("unknown reference `{{{{ {expr} }}}}`"),
                        "use `{{ vars.NAME }}`, `{{ run.id }}` or `{{ steps.STEP.OUTPUT }}`"
                            .to_string(),
                    ),
                    other => (other.to_string(), String::new()),
                };
                self.report(span, msg, "bad template", || Some(help));
                return None;
            }
        };
        let mut ok = true;
        for p in &placeholders {
            let text = &s[p.start..p.end];
            let (message, label) = match &p.reference {
                Ref::Var(name) if !self.vars.contains_key(name) => (
                    format!("undefined variable `{name}`"),
                    "not declared under `vars`",
                ),
                Ref::Var(name) if self.secrets.contains_key(name) && !self.secret_ok => (
                    format!("secret variable `{name}` cannot be used in `{what}`"),
                    "a secret",
                ),
                Ref::RunId | Ref::StepOutput { .. } if !runtime => (
                    format!("`{text}` cannot be used in `{what}`"),
                    "only known once the run starts",
                ),
                _ => continue,
            };
            ok = false;
            // The spot and the help only for a problem that will be listed.
            if self.full() {
                self.omitted += 1;
                continue;
            }
            let help = match &p.reference {
                Ref::Var(name) if !self.vars.contains_key(name) => {
                    did_you_mean(name, self.vars.keys().map(String::as_str)).unwrap_or_else(|| {
                        format!("declare it under `vars:` (for example `vars: {{ {name}: ... }}`)")
                    })
                }
                Ref::Var(_) => "a secret is passed only to the AWS call that needs it: use it in a `with:` parameter of an AWS action (not in names, descriptions, Regions, roles, messages or core actions)".into(),
                _ => "only `{{ vars.NAME }}` is substituted here; run and step values exist only in a step's `with`".into(),
            };
            let pspan = self.locate(span, text);
            self.report(pspan, message, label, || Some(help));
        }
        if !ok {
            return None;
        }
        let ctx = template::Context {
            vars: Some(&self.vars),
            ..Default::default()
        };
        // Counted before it is built: over the budget, nothing more is rendered.
        let size = template::rendered_len(s, &placeholders, &ctx);
        if self.rendered_total + size > MAX_RENDERED_TOTAL {
            if !self.over_budget {
                self.over_budget = true;
                self.report(
                    span,
                    format!(
                        "the runbook's values render to more than {} MiB in all",
                        MAX_RENDERED_TOTAL >> 20
                    ),
                    "too large",
                    || Some("use shorter variables, or fewer references to them".into()),
                );
            }
            return None;
        }
        self.rendered_total += size;
        let rendered = match template::render(s, &ctx) {
            Ok(r) => r,
            Err(e @ TemplateError::TooLarge { .. }) => {
                self.report(span, e.to_string(), "too large", || {
                    Some("use shorter variables, or fewer references to them".into())
                });
                return None;
            }
            Err(e) => {
                self.report(span, e.to_string(), "bad template", || {
                    Some("check the `{{ }}` references in this value".into())
                });
                return None;
            }
        };

        // Variable values may themselves hold `{{ run.id }}` or `{{ steps.X.Y }}`.
        let after = match template::parse(&rendered) {
            Ok(p) => p,
            Err(e) => {
                self.report(
                    span,
                    format!("a variable used here makes a bad template: {e}"),
                    "bad template after substitution",
                    || Some("check the values under `vars:`".into()),
                );
                return None;
            }
        };
        for p in after {
            match p.reference {
                Ref::Var(name) => {
                    self.report(
                        span,
                        format!("a variable used here refers to another variable (`{name}`)"),
                        "nested variable",
                        || {
                            Some(
                                "variable values are not substituted again; write the value out"
                                    .into(),
                            )
                        },
                    );
                    return None;
                }
                Ref::RunId => {
                    if !runtime {
                        self.report(
                            span,
                            format!("a variable used in `{what}` holds `{{{{ run.id }}}}`"),
                            "only known once the run starts",
                            || Some("only plain values can be used here".into()),
                        );
                        return None;
                    }
                }
                Ref::StepOutput { step, output } => {
                    if !runtime {
                        self.report(
                            span,
                            format!("`{what}` cannot use a step output"),
                            "only known once the run starts",
                            || Some("step outputs exist only in a step's `with`".into()),
                        );
                        return None;
                    }
                    if let Some(refs) = refs.as_deref_mut() {
                        refs.push(StepRef {
                            step,
                            output,
                            at: span,
                            text: rendered[p.start..p.end].to_string(),
                        });
                    }
                }
            }
        }
        Some(rendered)
    }

    /// The span of `needle` inside the source covered by `span` (or `span` itself).
    fn locate(&self, span: Span, needle: &str) -> Span {
        let text = self.src.text();
        // Look on the node's first line and a little beyond, for block scalars.
        let end = text.len().min(span.end.max(span.start + 4096));
        let mut e = end;
        while !text.is_char_boundary(e) {
            e -= 1;
        }
        match text.get(span.start..e).and_then(|hay| hay.find(needle)) {
            Some(i) => Span::new(span.start + i, span.start + i + needle.len()),
            None => span,
        }
    }

    /// `connect_timeout` and `call_timeout` (under `prefix`, e.g. `defaults.`): positive, and
    /// no longer than an hour (a call that hangs longer is a Region that does not answer).
    /// `role_arn`, `external_id` and `role_duration` (AWS STS AssumeRole: ExternalId is 2 to
    /// 1224 characters of `[\w+=,.@:/-]`; DurationSeconds is 900 to 43200).
    fn role(
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

    fn call_timeouts(
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

    fn duration(&mut self, key: &Node, node: &Node, what: &str) -> Option<Duration> {
        let s = self.string(key, node, what)?;
        let s = self.render(&s, node.span, what, false, None)?;
        match parse_duration(&s) {
            Ok(d) => Some(d),
            Err(e) => {
                self.report(
                    node.span,
                    format!("bad duration for `{what}`: {e}"),
                    "not a duration",
                    || {
                        Some(
                            "write a whole number and a unit: `500ms`, `30s`, `15m`, `2h` or `1d`"
                                .into(),
                        )
                    },
                );
                None
            }
        }
    }

    fn integer(&mut self, key: &Node, node: &Node, what: &str) -> Option<i64> {
        match node.scalar().map(|s| s.resolve()) {
            Some(Resolved::Int(i)) => Some(i),
            _ => {
                let span = if node.scalar().is_some() {
                    node.span
                } else {
                    key.span
                };
                let found = node.kind_name();
                self.report(
                    span,
                    format!("`{what}` must be an integer, found {found}"),
                    "expected an integer",
                    || Some("write a whole number without quotes, for example `3`".into()),
                );
                None
            }
        }
    }

    /// `NAME: { required: true, help: TEXT }`: a variable without a default, which `--var`
    /// (or a scenario's `vars:`) must set; returns its help text.
    fn required_var(&mut self, name: &str, node: &Node) -> Option<Option<String>> {
        let f = self.fields(node, REQUIRED_KEYS, &format!("`vars.{name}`"));
        let required = match f.get("required") {
            Some((k, n)) => self.boolean(k, n, &format!("vars.{name}.required")),
            None => None,
        };
        if required != Some(true) {
            self.report(
                node.span,
                format!("variable `{name}` has `required:` but not `required: true`"),
                "not required",
                || Some(format!("write `{name}: {{ required: true, help: \"what to give\" }}`, or give it a default value")),
            );
            return None;
        }
        Some(match f.get("help") {
            Some((k, n)) => self.string(k, n, &format!("vars.{name}.help")),
            None => None,
        })
    }

    /// `NAME: { secret: true, env: ENV_VAR }`: the value is read from `ENV_VAR` now, and
    /// returned for the validated runbook only when it is long enough to redact; validation
    /// itself sees the marker. Unset or too short, running refuses to start (and says which);
    /// validating does not tell.
    fn secret_var(&mut self, name: &str, node: &Node) -> Option<(SecretVar, Option<String>)> {
        let f = self.fields(node, SECRET_KEYS, &format!("`vars.{name}`"));
        let secret = match f.get("secret") {
            Some((k, n)) => self.boolean(k, n, &format!("vars.{name}.secret")),
            None => None,
        };
        if secret != Some(true) {
            self.report(node.span, format!("variable `{name}` is a mapping but not `secret: true`"), "not a secret", || {
                Some(format!("a variable is a string (`{name}: value`) or a secret read from the environment (`{name}: {{ secret: true, env: DR_{} }}`)", name.to_ascii_uppercase().replace('-', "_")))
            });
            return None;
        }
        let env = match f.get("env") {
            Some((k, n)) => self.string(k, n, &format!("vars.{name}.env"))?,
            None => {
                self.report(node.span, format!("secret variable `{name}` needs `env:`"), "no environment variable", || {
                    Some(format!("name the environment variable that holds it: `{name}: {{ secret: true, env: DR_{} }}`", name.to_ascii_uppercase().replace('-', "_")))
                });
                return None;
            }
        };
        let env_ok = !env.is_empty()
            && !env.starts_with(|c: char| c.is_ascii_digit())
            && env.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
        if !env_ok {
            let span = f.get("env").map(|(_, n)| n.span).unwrap_or(node.span);
            self.report(
                span,
                format!("`{env}` is not an environment variable name"),
                "bad name",
                || Some("use letters, digits and `_`, not starting with a digit".into()),
            );
            return None;
        }
        // The AWS SDK reads its credentials and settings from `AWS_*` variables, drillbook its
        // own from `DRILLBOOK_*`: a runbook that could pass one on to an AWS call (a stage
        // variable, an item) could copy the executor's credentials where it can read them.
        let upper = env.to_ascii_uppercase();
        if let Some(prefix) = RESERVED_ENV_PREFIXES.iter().find(|p| upper.starts_with(*p)) {
            let span = f.get("env").map(|(_, n)| n.span).unwrap_or(node.span);
            let owner = if *prefix == "AWS_" {
                "the AWS SDK's credentials and settings"
            } else {
                "drillbook's own settings"
            };
            self.report(
                span,
                format!("secret `{name}` cannot be read from `{env}`: `{prefix}*` variables hold {owner}"),
                "reserved environment variable",
                || {
                    Some(format!(
                        "keep the secret in a variable of its own, for example `env: DR_{}`; a runbook never reads `AWS_*` or `DRILLBOOK_*` variables",
                        name.to_ascii_uppercase().replace('-', "_")
                    ))
                },
            );
            // Declared all the same (never read), so that its uses are not reported again.
            return Some((
                SecretVar {
                    env,
                    set: false,
                    too_short: false,
                },
                None,
            ));
        }
        let value = std::env::var(&env).ok().filter(|v| !v.is_empty());
        let set = value.is_some();
        // Too short to redact: never used, and said only when a run starts.
        let too_short = value
            .as_ref()
            .is_some_and(|v| v.len() < crate::secret::MIN_LEN);
        let value = value.filter(|_| !too_short);
        if let Some(v) = &value {
            crate::secret::register(name, v);
        }
        Some((
            SecretVar {
                env,
                set,
                too_short,
            },
            value,
        ))
    }

    /// `approvers: { principals: [ARN pattern], keys: [KEY | { key: KEY, principal: ARN }],
    /// allow_unsigned: bool }`.
    fn approvers(&mut self, key: &Node, node: &Node) -> Approvers {
        let mut out = Approvers::default();
        if !self.expect_map(
            key,
            node,
            "approvers",
            "approvers: { keys: [\"ed25519:<hex of KEY.pub>\"] }",
        ) {
            return out;
        }
        let f = self.fields(node, APPROVER_KEYS, "`approvers`");
        if let Some((k, n)) = f.get("principals") {
            for (item, text) in self.string_items(k, n, "approvers.principals") {
                if let Some(p) = self.principal_pattern(item, &text) {
                    out.principals.push(p);
                }
            }
        }
        if let Some((_, n)) = f.get("keys") {
            let items: Vec<&Node> = match &n.value {
                Value::Seq(items) => items.iter().collect(),
                _ => {
                    self.report(n.span, "`approvers.keys` must be a list", "expected a list", || {
                        Some("write `keys: [\"ed25519:<hex>\", { key: \"kms:<key ARN>\", principal: \"arn:...\" }]`".into())
                    });
                    vec![]
                }
            };
            for item in items {
                let (key_node, principal, pin) = if matches!(item.value, Value::Map(_)) {
                    let kf = self.fields(item, APPROVER_KEY_KEYS, "an approver key");
                    let principal = kf.get("principal").and_then(|(pk, pn)| {
                        let t = self.string(pk, pn, "approvers.keys[].principal")?;
                        self.principal_pattern(pn, &t)
                    });
                    let pin = kf.get("sha256").and_then(|(pk, pn)| {
                        let t = self.string(pk, pn, "approvers.keys[].sha256")?;
                        let t = t.trim().to_ascii_lowercase();
                        if t.len() == 64 && t.bytes().all(|b| b.is_ascii_hexdigit()) {
                            Some(t)
                        } else {
                            self.report(
                                pn.span,
                                "`sha256` must be 64 hex digits",
                                "not a SHA-256",
                                || {
                                    Some(
                                        "print the pin with `drillbook evidence pin kms:KEY_ARN`"
                                            .into(),
                                    )
                                },
                            );
                            None
                        }
                    });
                    match kf.get("key") {
                        Some((_, kn)) => (kn, principal, pin),
                        None => {
                            self.report(item.span, "an approver key needs `key:`", "no key", || {
                                Some("write `{ key: \"ed25519:<hex>\", principal: \"arn:...\" }`".into())
                            });
                            continue;
                        }
                    }
                } else {
                    (item, None, None)
                };
                let Some(text) = self.string(key_node, key_node, "approvers.keys[]") else {
                    continue;
                };
                match TrustedKeyRef::parse(&text) {
                    // A KMS key is trusted by its public key's hash, written in the runbook: an
                    // endpoint setting (`AWS_ENDPOINT_URL_KMS`) could answer GetPublicKey with
                    // another key.
                    Ok(TrustedKeyRef::Kms { key_arn }) if pin.is_none() => self.report(
                        key_node.span,
                        format!("KMS approver key `{}` is not pinned", shorten(key_arn.clone())),
                        "no `sha256:`",
                        || {
                            Some(format!(
                                "write `{{ key: \"kms:{key_arn}\", sha256: \"<hex>\" }}`; `drillbook evidence pin kms:{key_arn}` prints the pin"
                            ))
                        },
                    ),
                    Ok(key) => out.keys.push(ApproverKey {
                        key,
                        principal,
                        sha256: pin,
                    }),
                    Err(reason) => self.report(
                        key_node.span,
                        format!("`{}` is not an approval key", shorten(text.clone())),
                        "not a key",
                        || Some(reason),
                    ),
                }
            }
        }
        if let Some((k, n)) = f.get("allow_unsigned") {
            out.allow_unsigned = self
                .boolean(k, n, "approvers.allow_unsigned")
                .unwrap_or(false);
        }
        out
    }

    /// The items of a list of strings, each with its node.
    fn string_items<'n>(
        &mut self,
        key: &'n Node,
        node: &'n Node,
        what: &str,
    ) -> Vec<(&'n Node, String)> {
        let Value::Seq(items) = &node.value else {
            let span = if node.scalar().is_some() {
                node.span
            } else {
                key.span
            };
            let found = node.kind_name();
            self.report(
                span,
                format!("`{what}` must be a list of strings, found {found}"),
                "expected a list",
                || Some(format!("write `{what}: [\"...\"]`")),
            );
            return vec![];
        };
        items
            .iter()
            .filter_map(|i| self.string(i, i, what).map(|s| (i, s)))
            .collect()
    }

    /// An ARN pattern: `arn:` and at least the six fields of an ARN.
    fn principal_pattern(&mut self, node: &Node, text: &str) -> Option<String> {
        let t = text.trim();
        if (t.starts_with("arn:") && t.split(':').count() >= 6) || t == "*" {
            return Some(t.to_string());
        }
        self.report(
            node.span,
            format!("`{}` is not an ARN pattern", shorten(t.to_string())),
            "not an ARN",
            || Some("write the approver's ARN, with `*` for any run of characters: `arn:aws:sts::222233334444:assumed-role/DrApprover/*`".into()),
        );
        None
    }

    fn boolean(&mut self, key: &Node, node: &Node, what: &str) -> Option<bool> {
        match node.scalar().map(|s| s.resolve()) {
            Some(Resolved::Bool(b)) => Some(b),
            _ => {
                let span = if node.scalar().is_some() {
                    node.span
                } else {
                    key.span
                };
                let found = node.kind_name();
                self.report(
                    span,
                    format!("`{what}` must be `true` or `false`, found {found}"),
                    "expected a boolean",
                    || Some("write `true` or `false` without quotes".into()),
                );
                None
            }
        }
    }

    fn region(&mut self, key: &Node, node: &Node, what: &str) -> Option<String> {
        let s = self.string(key, node, what)?;
        let r = self.render(&s, node.span, what, false, None)?;
        self.check_region(&r, node.span, what).then_some(r)
    }

    fn check_region(&mut self, r: &str, span: Span, what: &str) -> bool {
        if regions::is_known(r) {
            return true;
        }
        let r = r.to_string();
        self.report(
            span,
            format!("unknown Region `{r}` in `{what}`"),
            "not an AWS Region",
            || {
                Some(
                    did_you_mean(&r, regions::REGIONS.iter().copied()).unwrap_or_else(|| {
                        "use a Region name such as `ca-central-1` or `eu-west-1`".into()
                    }),
                )
            },
        );
        false
    }

    fn on_failure(&mut self, key: &Node, node: &Node, what: &str) -> Option<OnFailure> {
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

    fn retry(&mut self, key: &Node, node: &Node, what: &str) -> Retry {
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

    fn step(&mut self, node: &Node, finally: bool) -> Option<Draft> {
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

/// Validates the tree and builds the runbook, or returns every problem found.
/// Whether required variables must have a value: always, except when a runbook is read only
/// for its shape (its variables' names and its steps: a scenario checked against it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Values {
    Required,
    Optional,
}

pub(crate) fn build(
    src: &Source,
    root: Option<&Node>,
    duplicates: &[DuplicateKey],
    overrides: &[(String, String)],
    from_scenario: &BTreeSet<String>,
    values: Values,
) -> Result<Runbook, Diagnostics> {
    let mut v = V {
        src,
        problems: Vec::new(),
        omitted: 0,
        vars: BTreeMap::new(),
        secrets: BTreeMap::new(),
        secret_values: BTreeMap::new(),
        secret_ok: false,
        rendered_total: 0,
        over_budget: false,
        overridden: BTreeMap::new(),
        blamed: BTreeSet::new(),
        from_scenario,
        required: BTreeMap::new(),
        values,
    };
    for dup in duplicates {
        let first_line = v.line_of(dup.first);
        let key = dup.key.clone();
        v.report(
            dup.again,
            format!("duplicate key `{key}`"),
            "set again here",
            || {
                Some(format!(
                    "`{key}` is already set on line {first_line}; keep one"
                ))
            },
        );
    }
    let runbook = match root {
        None => {
            v.report(
                Span::new(0, 0),
                "empty runbook: the file has no content",
                "empty",
                || Some("start with `version: 1`, a `name` and a list of `steps`".into()),
            );
            None
        }
        Some(root) => top(&mut v, root, overrides),
    };
    match runbook {
        Some(r) if v.problems.is_empty() && v.omitted == 0 => Ok(r),
        _ => Err(Diagnostics {
            problems: v.problems,
            omitted: v.omitted,
        }),
    }
}

fn top(v: &mut V<'_>, root: &Node, overrides: &[(String, String)]) -> Option<Runbook> {
    if !matches!(root.value, Value::Map(_)) {
        let found = root.kind_name();
        v.report(
            root.span,
            format!("a runbook must be a mapping, found {found}"),
            "expected `version:`, `name:`, `steps:`",
            || Some("start with `version: 1`, a `name` and a list of `steps`".into()),
        );
        return None;
    }
    let f = v.fields(root, TOP_KEYS, "the runbook");
    let head = Span::new(root.span.start, root.span.start);
    // `root.span` is the first key of the document.
    // vars first: everything else may use them.
    if let Some((k, n)) = f.get("vars")
        && !n.is_null()
        && v.expect_map(k, n, "vars", "vars: { primary: ca-central-1 }")
        && let Value::Map(entries) = &n.value
    {
        for (vk, vv) in entries {
            let Some(name) = vk.scalar().map(|s| s.text.clone()) else {
                v.report(
                    vk.span,
                    "variable names must be plain strings",
                    "not a name",
                    || Some("write variables as `vars: { name: value }`".into()),
                );
                continue;
            };
            if !valid_var_name(&name) {
                v.report(
                    vk.span,
                    format!("invalid variable name `{name}`"),
                    "bad name",
                    || Some("variable names use letters, digits, `-` and `_`".into()),
                );
                continue;
            }
            if let Value::Map(m) = &vv.value
                && m.iter()
                    .any(|(k, _)| k.scalar().is_some_and(|s| s.text == "required"))
            {
                if !v.vars.contains_key(&name)
                    && let Some(help) = v.required_var(&name, vv)
                {
                    v.vars.insert(name.clone(), String::new());
                    v.required.insert(name, (vk.span, help));
                }
                continue;
            }
            if matches!(vv.value, Value::Map(_)) {
                if !v.vars.contains_key(&name)
                    && let Some((secret, value)) = v.secret_var(&name, vv)
                {
                    v.vars.insert(name.clone(), crate::secret::marker(&name));
                    if let Some(value) = value {
                        v.secret_values.insert(name.clone(), value);
                    }
                    v.secrets.insert(name, secret);
                }
                continue;
            }
            if let Some(val) = v.string(vk, vv, &format!("vars.{name}")) {
                v.vars.entry(name).or_insert(val);
            }
        }
    }
    for (name, value) in overrides {
        if let Some(secret) = v.secrets.get(name) {
            // A stored run keeps the marker in place of the value: the value comes from the
            // environment again.
            if *value != crate::secret::marker(name) {
                let env = secret.env.clone();
                let message = format!("`--var {name}=...` sets a secret variable");
                let help = format!(
                    "a secret is read from the environment only (a command line is visible to other users and kept in shell history): `export {env}=...`"
                );
                match f.get("vars") {
                    Some((k, _)) => v.report(
                        k.span,
                        message,
                        "secret variables are declared here",
                        || Some(help),
                    ),
                    None => v.problems.push(Problem::general(message, Some(help))),
                }
            }
        } else if v.vars.contains_key(name) {
            if v.vars.get(name) != Some(value) {
                v.overridden.insert(name.clone(), value.clone());
            }
            v.vars.insert(name.clone(), value.clone());
        } else {
            let help = did_you_mean(name, v.vars.keys().map(String::as_str))
                .map(|d| format!("{d} only variables declared under `vars:` can be set with `--var`"))
                .unwrap_or_else(|| format!("declare `{name}` under `vars:` first; only declared variables can be set with `--var`"));
            let message = format!("`--var {name}=...` sets an undeclared variable");
            match f.get("vars") {
                Some((k, _)) => v.report(k.span, message, "variables are declared here", || {
                    Some(help)
                }),
                None => {
                    if v.full() {
                        v.omitted += 1;
                    } else {
                        v.problems.push(Problem::general(message, Some(help)));
                    }
                }
            }
        }
    }
    // A required variable needs a value from `--var` (or the scenario's `vars:`).
    for (name, (span, help)) in std::mem::take(&mut v.required) {
        if v.values == Values::Optional
            || v.vars.get(&name).is_some_and(|val| !val.trim().is_empty())
        {
            continue;
        }
        let help = match help {
            Some(h) => format!("set it with `--var {name}=VALUE`: {h}"),
            None => format!("set it with `--var {name}=VALUE`"),
        };
        v.report(
            span,
            format!("variable `{name}` is required and has no value"),
            "required",
            || Some(help),
        );
    }
    // version
    match f.get("version") {
        None => v.report(head, "missing `version`", "runbook starts here", || {
            Some("add `version: 1` at the top".into())
        }),
        Some((k, n)) => match n.scalar().map(|s| s.resolve()) {
            Some(Resolved::Int(1)) => {}
            Some(Resolved::Int(x)) => v.report(
                n.span,
                format!("unsupported version `{x}`"),
                "unsupported",
                || Some("this drillbook reads `version: 1`".into()),
            ),
            _ => {
                let found = n.kind_name();
                let span = if n.scalar().is_some() { n.span } else { k.span };
                v.report(
                    span,
                    format!("`version` must be the integer 1, found {found}"),
                    "expected 1",
                    || Some("write `version: 1` (no quotes)".into()),
                )
            }
        },
    }
    let name = match f.get("name") {
        None => {
            v.report(head, "missing `name`", "runbook starts here", || {
                Some("add `name: my-runbook`".into())
            });
            None
        }
        Some((k, n)) => v
            .string(k, n, "name")
            .and_then(|s| v.render(&s, n.span, "name", false, None)),
    };
    let description = f.get("description").and_then(|(k, n)| {
        let s = v.string(k, n, "description")?;
        v.render(&s, n.span, "description", true, None)
    });
    let mut objectives = Objectives::default();
    if let Some((k, n)) = f.get("objectives")
        && v.expect_map(k, n, "objectives", "objectives: { rto: 15m, rpo: 5m }")
    {
        let o = v.fields(n, OBJECTIVE_KEYS, "`objectives`");
        if let Some((k, n)) = o.get("rto") {
            objectives.rto = v.duration(k, n, "objectives.rto");
        }
        if let Some((k, n)) = o.get("rpo") {
            objectives.rpo = v.duration(k, n, "objectives.rpo");
        }
    }
    let mut defaults = Defaults {
        region: None,
        timeout: None,
        retry: Retry::default(),
        on_failure: None,
        call_timeouts: CallTimeouts::default(),
        role: RoleDraft::default(),
    };
    let mut defaults_region_given = false;
    if let Some((k, n)) = f.get("defaults")
        && v.expect_map(
            k,
            n,
            "defaults",
            "defaults: { region: eu-west-1, timeout: 10m }",
        )
    {
        let d = v.fields(n, DEFAULT_KEYS, "`defaults`");
        if let Some((k, n)) = d.get("region") {
            defaults_region_given = true;
            defaults.region = v.region(k, n, "defaults.region");
        }
        if let Some((k, n)) = d.get("timeout") {
            defaults.timeout = v.duration(k, n, "defaults.timeout");
            if defaults.timeout == Some(Duration::ZERO) {
                v.report(
                    n.span,
                    "`defaults.timeout` must be greater than zero",
                    "zero timeout",
                    || Some("for example `timeout: 10m`".into()),
                );
            }
        }
        if let Some((k, n)) = d.get("retry") {
            defaults.retry = v.retry(k, n, "defaults.retry");
        }
        if let Some((k, n)) = d.get("on_failure") {
            defaults.on_failure = v.on_failure(k, n, "defaults.on_failure");
        }
        defaults.call_timeouts =
            v.call_timeouts(d.get("connect_timeout"), d.get("call_timeout"), "defaults.");
        defaults.role = v.role(
            d.get("role_arn"),
            d.get("external_id"),
            d.get("role_duration"),
            "defaults.",
        );
    }
    let mut accounts = BTreeMap::new();
    if let Some((k, n)) = f.get("accounts")
        && v.expect_map(k, n, "accounts", "accounts: { primary: \"111122223333\" }")
        && let Value::Map(entries) = &n.value
    {
        for (ak, av) in entries {
            let Some(label) = ak.scalar().map(|s| s.text.clone()) else {
                v.report(
                    ak.span,
                    "account labels must be plain strings",
                    "not a label",
                    || Some("write accounts as `accounts: { primary: \"111122223333\" }`".into()),
                );
                continue;
            };
            if let Some(id) = v.string(ak, av, &format!("accounts.{label}")) {
                let id = v.render(&id, av.span, "accounts", false, None);
                match id {
                    Some(id) if id.len() == 12 && id.bytes().all(|b| b.is_ascii_digit()) => {
                        accounts.entry(label).or_insert(id);
                    }
                    Some(id) => v.report(av.span, format!("account id `{id}` for `{label}` is not 12 digits"), "not an AWS account id", || {
                        Some("AWS account ids are exactly 12 digits; quote them to keep leading zeros: `\"012345678901\"`".into())
                    }),
                    None => {}
                }
            }
        }
    }
    let allow_self_approval = f
        .get("allow_self_approval")
        .and_then(|(k, n)| v.boolean(k, n, "allow_self_approval"))
        .unwrap_or(false);

    let mut drafts: Vec<Draft> = Vec::new();
    for finally in [false, true] {
        let section = if finally { "finally" } else { "steps" };
        match f.get(section) {
            None => {
                if !finally {
                    v.report(
                        head,
                        "empty runbook: no `steps`",
                        "runbook starts here",
                        || Some("add `steps:` with at least one step".into()),
                    );
                }
            }
            Some((k, n)) => match &n.value {
                Value::Seq(items) => {
                    if items.is_empty() && !finally {
                        v.report(
                            k.span,
                            "empty runbook: `steps` has no steps",
                            "no steps",
                            || Some("add at least one step under `steps:`".into()),
                        );
                    }
                    drafts.reserve(items.len());
                    for item in items {
                        if let Some(d) = v.step(item, finally) {
                            drafts.push(d);
                        }
                    }
                }
                _ if n.is_null() => {
                    if !finally {
                        v.report(
                            k.span,
                            "empty runbook: `steps` has no steps",
                            "no steps",
                            || Some("add at least one step under `steps:`".into()),
                        );
                    }
                }
                _ => {
                    let found = n.kind_name();
                    let span = if n.scalar().is_some() { n.span } else { k.span };
                    v.report(
                        span,
                        format!("`{section}` must be a list of steps, found {found}"),
                        "expected a list",
                        || {
                            Some(format!(
                                "write `{section}:` followed by `- id: ...` entries"
                            ))
                        },
                    );
                }
            },
        }
    }

    // Regions: every step whose action needs one must have one.
    for d in &drafts {
        if let Some(spec) = d.action
            && spec.needs_region
            && d.region.is_none()
            && defaults.region.is_none()
            && !defaults_region_given
            && !d.region_given
        {
            let id = d.name.clone();
            let span = d.action_span.unwrap_or(d.span);
            let action = spec.name;
            v.report(span, format!("step `{id}` needs a Region for `{action}`"), "no Region for this action", || {
                Some("add `region: ...` to the step, or `defaults: { region: ... }` to the runbook".into())
            });
        }
    }

    let approvers = f
        .get("approvers")
        .map(|(k, n)| v.approvers(k, n))
        .unwrap_or_default();
    if approvers.keys.is_empty()
        && !approvers.allow_unsigned
        && let Some(d) = drafts
            .iter()
            .find(|d| d.action.is_some_and(|a| a.name == "approval"))
    {
        let id = d.name.clone();
        v.report(
            d.action_span.unwrap_or(d.span),
            format!("approval step `{id}` can never be approved: the runbook trusts no approval key"),
            "needs a trusted approver",
            || Some("name the approvers' keys: `approvers: { keys: [\"ed25519:<64 hex digits of KEY.pub>\", \"kms:<key ARN>\"] }` (create one with `drillbook evidence keygen KEY`), or accept unsigned approvals with `approvers: { allow_unsigned: true }`".into()),
        );
    }

    let deps = graph_checks(v, &drafts);

    if !v.problems.is_empty() || v.omitted > 0 {
        return None;
    }
    deps?;
    let name = name?;
    let mut steps = Vec::with_capacity(drafts.len());
    let mut finally = Vec::new();
    for d in drafts {
        let spec = d.action?;
        let estimate = d
            .estimate
            .or_else(|| estimate_from_param(spec, &d.with))
            .unwrap_or(spec.default_estimate);
        let step = Step {
            id: d.id?.0,
            action: spec.name.to_string(),
            description: d.description,
            needs: d.needs.into_iter().map(|(n, _)| n).collect(),
            region: if spec.needs_region {
                d.region.or_else(|| defaults.region.clone())
            } else {
                None
            },
            with: d.with,
            timeout: d.timeout.or(defaults.timeout).unwrap_or(DEFAULT_TIMEOUT),
            estimate,
            retry: RetryPolicy {
                attempts: d
                    .retry
                    .attempts
                    .or(defaults.retry.attempts)
                    .unwrap_or(RetryPolicy::default().attempts),
                backoff: d
                    .retry
                    .backoff
                    .or(defaults.retry.backoff)
                    .unwrap_or(RetryPolicy::default().backoff),
            },
            on_failure: d.on_failure.or(defaults.on_failure).unwrap_or_default(),
            role: d.role.over(&defaults.role),
            call_timeouts: CallTimeouts {
                connect: d.call_timeouts.connect.or(defaults.call_timeouts.connect),
                attempt: d.call_timeouts.attempt.or(defaults.call_timeouts.attempt),
            },
        };
        if d.finally {
            finally.push(step);
        } else {
            steps.push(step);
        }
    }
    let mut vars = v.vars.clone();
    for (name, value) in &v.secret_values {
        vars.insert(name.clone(), value.clone());
    }
    with_secrets(&mut steps, &v.secret_values);
    with_secrets(&mut finally, &v.secret_values);
    Some(Runbook {
        name,
        description,
        objectives,
        vars,
        accounts,
        allow_self_approval,
        approvers,
        secrets: v.secrets.clone(),
        steps,
        finally,
    })
}

/// The secret markers (`[secret:NAME]`) in `s`, as (start, end, NAME); linear in `s`.
fn secret_markers(s: &str) -> impl Iterator<Item = (usize, usize, &str)> {
    const OPEN: &str = "[secret:";
    let mut from = 0;
    std::iter::from_fn(move || {
        while let Some(i) = s.get(from..).and_then(|r| r.find(OPEN)).map(|i| from + i) {
            let name_start = i + OPEN.len();
            let name_len = s[name_start..]
                .bytes()
                .take_while(|b| b.is_ascii_alphanumeric() || *b == b'_' || *b == b'-')
                .count();
            let end = name_start + name_len;
            from = end;
            if name_len > 0 && s.as_bytes().get(end) == Some(&b']') {
                from = end + 1;
                return Some((i, end + 1, &s[name_start..end]));
            }
        }
        None
    })
}

/// Puts the secrets' values in place of their markers in the `with:` of AWS actions (the only
/// place validation lets a secret be used), once every check is done.
fn with_secrets(steps: &mut [Step], values: &BTreeMap<String, String>) {
    fn replace(s: &mut String, values: &BTreeMap<String, String>) {
        if !secret_markers(s).any(|(_, _, name)| values.contains_key(name)) {
            return;
        }
        let mut out = String::with_capacity(s.len());
        let mut last = 0;
        for (start, end, name) in secret_markers(s) {
            if let Some(value) = values.get(name) {
                out.push_str(&s[last..start]);
                out.push_str(value);
                last = end;
            }
        }
        out.push_str(&s[last..]);
        *s = out;
    }
    fn walk(v: &mut serde_json::Value, values: &BTreeMap<String, String>) {
        use serde_json::Value as J;
        match v {
            J::String(s) => replace(s, values),
            J::Array(items) => items.iter_mut().for_each(|i| walk(i, values)),
            J::Object(map) => {
                for (mut k, mut item) in std::mem::take(map) {
                    replace(&mut k, values);
                    walk(&mut item, values);
                    map.entry(k).or_insert(item);
                }
            }
            _ => {}
        }
    }
    if values.is_empty() {
        return;
    }
    for step in steps {
        if catalog::lookup(&step.action).is_some_and(|a| a.service != catalog::Service::Core) {
            for v in step.with.values_mut() {
                walk(v, values);
            }
        }
    }
}

fn valid_var_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'_' || c == b'-')
}

/// The step's estimate read from the parameter its action plans by (a `wait`'s `duration`),
/// when that value is known before the run (no step outputs or run id in it).
fn estimate_from_param(
    spec: &ActionSpec,
    with: &BTreeMap<String, serde_json::Value>,
) -> Option<Duration> {
    match with.get(spec.estimate_param?)? {
        serde_json::Value::String(s) if !s.contains("{{") => parse_duration(s).ok(),
        _ => None,
    }
}

/// Ids, dependencies, cycles and step-output references. Returns each step's resolved
/// dependencies (indices into `drafts`) when the graph is sound.
fn graph_checks(v: &mut V<'_>, drafts: &[Draft]) -> Option<Vec<Vec<usize>>> {
    let n = drafts.len();
    let mut index: HashMap<&str, usize> = HashMap::with_capacity(n);
    for (i, d) in drafts.iter().enumerate() {
        let Some((id, span)) = &d.id else { continue };
        if let Some(&first) = index.get(id.as_str()) {
            let line = drafts[first].id.as_ref().map_or(0, |(_, s)| v.line_of(*s));
            let id = id.clone();
            v.report(*span, format!("duplicate step id `{id}`"), "used again here", || {
                Some(format!("the first `{id}` is on line {line}; step ids must be unique across `steps` and `finally`"))
            });
        } else {
            index.insert(id, i);
        }
    }
    let all_ids = || {
        drafts
            .iter()
            .filter_map(|d| d.id.as_ref().map(|(i, _)| i.as_str()))
    };
    let mut deps: Vec<Vec<usize>> = vec![Vec::new(); n];
    let mut sound = true;
    // One set reused across steps: a step may list thousands of needs.
    let mut listed: HashSet<&str> = HashSet::new();
    for (i, d) in drafts.iter().enumerate() {
        let me = d.name.as_str();
        listed.clear();
        for (need, span) in &d.needs {
            if !listed.insert(need.as_str()) {
                let need = need.clone();
                v.report(
                    *span,
                    format!("`{need}` is listed twice in the `needs` of `{me}`"),
                    "listed again",
                    || Some("remove the repeated entry".into()),
                );
                continue;
            }
            match index.get(need.as_str()) {
                None => {
                    sound = false;
                    let need = need.clone();
                    v.report(
                        *span,
                        format!("step `{me}` needs unknown step `{need}`"),
                        "no step has this id",
                        || {
                            Some(did_you_mean(&need, all_ids()).unwrap_or_else(|| {
                                "check the spelling, or add a step with this id".into()
                            }))
                        },
                    );
                }
                Some(&j) if j == i => {
                    sound = false;
                    v.report(
                        *span,
                        format!("step `{me}` needs itself"),
                        "self-dependency",
                        || Some(format!("remove `{me}` from its own `needs`")),
                    );
                }
                Some(&j) => {
                    let other = need.as_str();
                    if !d.finally && drafts[j].finally {
                        sound = false;
                        v.report(*span, format!("step `{me}` needs cleanup step `{other}`"), "a `finally` step", || {
                            Some("`finally` steps run after the graph; move the step into `steps` or drop the dependency".into())
                        });
                    } else if d.finally && !drafts[j].finally {
                        sound = false;
                        v.report(*span, format!("cleanup step `{me}` needs main step `{other}`"), "a main step", || {
                            Some("`finally` steps run after every main step anyway; they may only need other `finally` steps".into())
                        });
                    } else {
                        deps[i].push(j);
                    }
                }
            }
        }
    }
    // Cycles.
    let mut cyclic = false;
    // Components come with their nodes sorted; self-dependencies were refused above.
    let mut sccs: Vec<Vec<usize>> = crate::dag::components(&deps)
        .into_iter()
        .filter(|c| c.len() > 1)
        .collect();
    sccs.sort();
    for scc in sccs {
        cyclic = true;
        let cycle = find_cycle(&deps, &scc);
        let name = |i: usize| drafts[i].name.as_str();
        let mut path: Vec<&str> = cycle.iter().map(|&i| name(i)).collect();
        path.push(name(cycle[0]));
        let text = path.join(" -> ");
        let last = *cycle.last().unwrap_or(&cycle[0]);
        let closing = drafts[last]
            .needs
            .iter()
            .find(|(x, _)| x == name(cycle[0]))
            .map_or(drafts[last].span, |(_, s)| *s);
        let pairs: Vec<String> = path
            .windows(2)
            .map(|w| format!("`{}` needs `{}`", w[0], w[1]))
            .collect();
        let extra = if scc.len() > cycle.len() {
            format!(" ({} steps are caught in this loop in all)", scc.len())
        } else {
            String::new()
        };
        v.report(
            closing,
            format!("dependency cycle: {text}"),
            "closes the cycle",
            || {
                Some(format!(
                    "{}; remove one of these dependencies to break the cycle{extra}",
                    pairs.join(", ")
                ))
            },
        );
    }
    // Step output references: which referenced steps are transitive dependencies is decided
    // for all references at once (`dag::reaches`, bounded whatever the shape of the graph),
    // each (step, referenced step) pair once however often it repeats.
    let mut pairs: Vec<(usize, usize)> = Vec::new();
    for (i, d) in drafts.iter().enumerate() {
        for r in &d.refs {
            if let Some(&x) = index.get(r.step.as_str())
                && x != i
                && d.finally == drafts[x].finally
            {
                pairs.push((i, x));
            }
        }
    }
    pairs.sort_unstable();
    pairs.dedup();
    let reachable_pairs = crate::dag::reaches(&deps, &pairs);
    for (i, d) in drafts.iter().enumerate() {
        let me = d.name.as_str();
        for r in &d.refs {
            // Where the reference is, looked up only when the problem will be listed.
            let at = |v: &V<'_>| {
                if v.full() {
                    r.at
                } else {
                    v.locate(r.at, &r.text)
                }
            };
            let Some(&x) = index.get(r.step.as_str()) else {
                let step = r.step.clone();
                v.report(
                    at(v),
                    format!(
                        "`{{{{ steps.{step}.{} }}}}` names an unknown step",
                        r.output
                    ),
                    "unknown step",
                    || {
                        Some(
                            did_you_mean(&step, all_ids())
                                .unwrap_or_else(|| "check the step id".into()),
                        )
                    },
                );
                continue;
            };
            if x == i {
                v.report(at(v), format!("step `{me}` uses its own output `{}`", r.output), "own output", || {
                    Some("a step's outputs exist only after it finishes; use another step's output".into())
                });
                continue;
            }
            let reachable = if d.finally && !drafts[x].finally {
                true // every main step has finished before cleanup starts
            } else if d.finally != drafts[x].finally {
                false
            } else {
                pairs
                    .binary_search(&(i, x))
                    .is_ok_and(|k| reachable_pairs[k])
            };
            if !reachable {
                let step = r.step.clone();
                v.report(at(v), format!("step `{me}` uses an output of `{step}`, which is not among its dependencies"), "not a dependency", || {
                    Some(format!("add `{step}` to the `needs` of `{me}` (directly or through another step) so its outputs exist when `{me}` starts"))
                });
                continue;
            }
            if let Some(spec) = drafts[x].action
                && spec.output(&r.output).is_none()
            {
                let (output, step) = (r.output.clone(), r.step.clone());
                v.report(
                    at(v),
                    format!("step `{step}` (`{}`) has no output `{output}`", spec.name),
                    "unknown output",
                    || {
                        Some(
                            match did_you_mean(&output, spec.outputs.iter().map(|o| o.name)) {
                                Some(d) => d,
                                None if spec.outputs.is_empty() => {
                                    format!("`{}` has no outputs", spec.name)
                                }
                                None => format!(
                                    "outputs of `{}`: {}",
                                    spec.name,
                                    spec.outputs
                                        .iter()
                                        .map(|o| o.name)
                                        .collect::<Vec<_>>()
                                        .join(", ")
                                ),
                            },
                        )
                    },
                );
            }
        }
    }
    (sound && !cyclic).then_some(deps)
}

/// One concrete cycle inside a strongly connected component, starting at its first step.
fn find_cycle(deps: &[Vec<usize>], scc: &[usize]) -> Vec<usize> {
    let start = scc[0];
    let in_scc = |x: usize| scc.binary_search(&x).is_ok();
    let mut parent: HashMap<usize, usize> = HashMap::new();
    let mut queue = std::collections::VecDeque::from([start]);
    while let Some(u) = queue.pop_front() {
        for &w in &deps[u] {
            if w == start {
                let mut path = vec![u];
                let mut cur = u;
                while cur != start {
                    cur = parent[&cur];
                    path.push(cur);
                }
                path.reverse();
                return path;
            }
            if in_scc(w) && !parent.contains_key(&w) {
                parent.insert(w, u);
                queue.push_back(w);
            }
        }
    }
    scc.to_vec()
}

#[cfg(test)]
#[path = "validate_tests.rs"]
mod tests;
