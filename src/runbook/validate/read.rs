//! Reading the YAML tree: the state of one validation pass ([`Validation`]), how a problem
//! is recorded, and the typed readers every check uses (fields of a mapping, strings,
//! durations, integers, booleans, Regions, lists of strings, and `{{ vars.* }}` rendering).

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use crate::duration::parse_duration;
use crate::runbook::diag::{MAX_PROBLEMS, Problem, Source};
use crate::runbook::model::SecretVar;
use crate::runbook::regions;
use crate::runbook::yaml::{Node, Resolved, Span, Value};
use crate::template::{self, Ref, TemplateError};

/// The most all of a runbook's rendered values may hold together (each value also has
/// `template::MAX_RENDERED_VALUE`).
const MAX_RENDERED_TOTAL: usize = 32 * 1024 * 1024;

/// The longest message a problem keeps: a value quoted in it (a megabyte of bad duration) is
/// cut, so that reporting stays cheap whatever the input.
const MAX_MESSAGE: usize = 400;

pub(super) fn shorten(message: String) -> String {
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

/// Whether required variables must have a value: always, except when a runbook is read only
/// for its shape (its variables' names and its steps: a scenario checked against it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Values {
    Required,
    Optional,
}

/// A `{{ steps.X.Y }}` found in a step's parameters.
pub(super) struct StepRef {
    /// The step named (`X`).
    pub(super) step: String,
    /// The output named (`Y`).
    pub(super) output: String,
    /// The value it is in, and the placeholder as written: its own span is looked up
    /// ([`Validation::locate`]) only for a problem that will be listed, so that thousands of
    /// references in one long value do not each search it.
    pub(super) at: Span,
    /// The placeholder as written, looked for inside `at`.
    pub(super) text: String,
}

/// One validation pass over a runbook's tree: the source it reports against, the problems
/// found so far, and the variables values are rendered with. Every check reads through it and
/// records its problems in it; [`build`](super::build) makes one per runbook.
pub(super) struct Validation<'a> {
    /// The runbook's text and file name, for locations and carets.
    pub(super) src: &'a Source,
    /// The problems listed, at most `MAX_PROBLEMS`.
    pub(super) problems: Vec<Problem>,
    /// The problems found beyond `MAX_PROBLEMS`, counted only.
    pub(super) omitted: usize,
    /// Variables; a secret's entry is its marker (`[secret:NAME]`), whatever the environment.
    pub(super) vars: BTreeMap<String, String>,
    /// Secret variables.
    pub(super) secrets: BTreeMap<String, SecretVar>,
    /// The values of the secrets whose environment variable holds one long enough to redact.
    /// Nothing checks them: every check sees the marker, so what validation says about a
    /// runbook does not depend on the value of any environment variable. They replace the
    /// markers in the validated runbook only ([`with_secrets`](super::secrets::with_secrets)).
    pub(super) secret_values: BTreeMap<String, String>,
    /// Whether a secret may be rendered here: the `with:` of an AWS action.
    pub(super) secret_ok: bool,
    /// Bytes rendered so far, against `MAX_RENDERED_TOTAL`.
    pub(super) rendered_total: usize,
    /// Whether that budget was exceeded (reported once; nothing more is rendered).
    pub(super) over_budget: bool,
    /// Variables whose value `--var` changed (name, value given): a problem with a value that
    /// uses one of them is the argument's, and is reported against `--var`, once per variable.
    pub(super) overridden: BTreeMap<String, String>,
    /// The overridden variables already blamed.
    pub(super) blamed: BTreeSet<String>,
    /// Overridden variables that a scenario's `vars:` set (not `--var`).
    pub(super) from_scenario: &'a BTreeSet<String>,
    /// Variables declared `{ required: true }`: where, and what their `help:` says.
    pub(super) required: BTreeMap<String, (Span, Option<String>)>,
    /// Whether those must have a value here.
    pub(super) values: Values,
}

pub(super) type Field<'n> = Option<(&'n Node, &'n Node)>;

/// The fields of a mapping, read by name; only names of the allowed list exist.
pub(super) struct Fields<'n> {
    /// The names a mapping may have.
    allowed: &'static [&'static str],
    /// The key and value of each allowed name, in `allowed` order, when the mapping has it.
    found: Vec<Field<'n>>,
}

impl<'n> Fields<'n> {
    /// The key and value of field `name`, when the mapping has it.
    pub(super) fn get(&self, name: &str) -> Field<'n> {
        let i = self.allowed.iter().position(|a| *a == name);
        debug_assert!(i.is_some(), "`{name}` is not one of {:?}", self.allowed);
        i.and_then(|i| self.found[i])
    }
}

impl<'a> Validation<'a> {
    pub(super) fn full(&self) -> bool {
        self.problems.len() >= MAX_PROBLEMS
    }

    /// Records a problem; `help` is only computed when the problem will be listed.
    pub(super) fn report(
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

    pub(super) fn line_of(&self, span: Span) -> usize {
        self.src.line_col(span.start).0
    }

    /// Splits a mapping into the allowed fields (first occurrence wins), reporting unknown keys.
    pub(super) fn fields<'n>(
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
    pub(super) fn expect_map(
        &mut self,
        key: &Node,
        node: &Node,
        what: &str,
        example: &str,
    ) -> bool {
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
    pub(super) fn string(&mut self, key: &Node, node: &Node, what: &str) -> Option<String> {
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
    pub(super) fn render(
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
    pub(super) fn locate(&self, span: Span, needle: &str) -> Span {
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

    pub(super) fn duration(&mut self, key: &Node, node: &Node, what: &str) -> Option<Duration> {
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

    pub(super) fn integer(&mut self, key: &Node, node: &Node, what: &str) -> Option<i64> {
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

    /// The items of a list of strings, each with its node.
    pub(super) fn string_items<'n>(
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

    pub(super) fn boolean(&mut self, key: &Node, node: &Node, what: &str) -> Option<bool> {
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

    pub(super) fn region(&mut self, key: &Node, node: &Node, what: &str) -> Option<String> {
        let s = self.string(key, node, what)?;
        let r = self.render(&s, node.span, what, false, None)?;
        self.check_region(&r, node.span, what).then_some(r)
    }

    pub(super) fn check_region(&mut self, r: &str, span: Span, what: &str) -> bool {
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
}
