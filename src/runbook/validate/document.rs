//! Document checks: the runbook as a whole (top-level keys, `version`, `name`, `vars` and
//! `--var`, secrets, `objectives`, `defaults`, `accounts`, `approvers`, the step lists, the
//! Regions steps need), and the validated [`Runbook`] built once every check passed.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use super::graph::graph_checks;
use super::read::{Fields, Validation, Values, did_you_mean, shorten};
use super::secrets::with_secrets;
use super::step::{Draft, Retry, RoleDraft, estimate_from_param};
use crate::runbook::diag::{Diagnostics, Problem, Source};
use crate::runbook::model::{
    ApproverKey, Approvers, CallTimeouts, DEFAULT_TIMEOUT, Objectives, OnFailure, RetryPolicy,
    Runbook, SecretVar, Step, TrustedKeyRef,
};
use crate::runbook::yaml::{DuplicateKey, Node, Resolved, Span, Value};

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
    "targets",
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

struct Defaults {
    pub(super) region: Option<String>,
    pub(super) timeout: Option<Duration>,
    pub(super) retry: Retry,
    pub(super) on_failure: Option<OnFailure>,
    pub(super) call_timeouts: CallTimeouts,
    pub(super) role: RoleDraft,
}

impl Validation<'_> {
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
    pub(super) fn approvers(&mut self, key: &Node, node: &Node) -> Approvers {
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
}

/// Validates the tree and builds the runbook, or returns every problem found.
pub(crate) fn build(
    src: &Source,
    root: Option<&Node>,
    duplicates: &[DuplicateKey],
    overrides: &[(String, String)],
    from_scenario: &BTreeSet<String>,
    values: Values,
) -> Result<Runbook, Diagnostics> {
    let mut v = Validation {
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

/// The runbook's checks, in the order their problems are listed: the variables first
/// (everything else may use them), then the document's own keys, the steps, the graph; the
/// runbook is built once nothing is wrong.
fn top(v: &mut Validation<'_>, root: &Node, overrides: &[(String, String)]) -> Option<Runbook> {
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
    read_vars(v, &f);
    apply_overrides(v, &f, overrides);
    check_required(v);
    check_version(v, &f, head);
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
    let objectives = read_objectives(v, &f);
    let (defaults, defaults_region_given) = read_defaults(v, &f);
    let accounts = read_accounts(v, &f);
    let allow_self_approval = f
        .get("allow_self_approval")
        .and_then(|(k, n)| v.boolean(k, n, "allow_self_approval"))
        .unwrap_or(false);
    let drafts = read_steps(v, &f, head);
    check_regions(v, &drafts, &defaults, defaults_region_given);
    let approvers = read_approvers(v, &f, &drafts);
    read_targets(v, &f);

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

/// `targets:` (read again when the file runs; see `targets.rs`): its problems
/// are listed with the rest.
fn read_targets(v: &mut Validation<'_>, f: &Fields<'_>) {
    if let Some((k, n)) = f.get("targets") {
        for p in super::targets::read(v.src, k, n).1 {
            if v.full() {
                v.omitted += 1;
            } else {
                v.problems.push(p);
            }
        }
    }
}

/// `vars:`: plain values, `{ required: true }` and `{ secret: true, env: ... }` entries.
fn read_vars(v: &mut Validation<'_>, f: &Fields<'_>) {
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
}

/// `--var` (and a scenario's `vars:`) over the declared variables: a secret cannot be set
/// so, nor can an undeclared variable.
fn apply_overrides(v: &mut Validation<'_>, f: &Fields<'_>, overrides: &[(String, String)]) {
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
}

/// A required variable needs a value from `--var` (or the scenario's `vars:`).
fn check_required(v: &mut Validation<'_>) {
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
}

/// `version: 1`.
fn check_version(v: &mut Validation<'_>, f: &Fields<'_>, head: Span) {
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
}

/// `objectives: { rto, rpo }`.
fn read_objectives(v: &mut Validation<'_>, f: &Fields<'_>) -> Objectives {
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
    objectives
}

/// `defaults:`, and whether it names a Region (even one that is not valid).
fn read_defaults(v: &mut Validation<'_>, f: &Fields<'_>) -> (Defaults, bool) {
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
    (defaults, defaults_region_given)
}

/// `accounts: { label: "111122223333" }`.
fn read_accounts(v: &mut Validation<'_>, f: &Fields<'_>) -> BTreeMap<String, String> {
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
    accounts
}

/// `steps` and `finally`, each step read into a draft.
fn read_steps(v: &mut Validation<'_>, f: &Fields<'_>, head: Span) -> Vec<Draft> {
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
    drafts
}

/// Every step whose action needs a Region must have one.
fn check_regions(
    v: &mut Validation<'_>,
    drafts: &[Draft],
    defaults: &Defaults,
    defaults_region_given: bool,
) {
    for d in drafts {
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
}

/// `approvers:`; an approval step needs a trusted key, or unsigned approvals allowed.
fn read_approvers(v: &mut Validation<'_>, f: &Fields<'_>, drafts: &[Draft]) -> Approvers {
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
    approvers
}

fn valid_var_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'_' || c == b'-')
}
