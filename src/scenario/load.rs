//! Loading scenarios: the same bounded, located YAML tree as runbooks, then every problem at
//! once, each at its `file:line:column` with a `help:` line.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::model::{Expectation, Fault, INJECTED_AT, Injection, Scenario, replace_injected_at};
use crate::catalog::Impairment;
use crate::catalog::{self, Service};
use crate::duration::parse_duration;
use crate::runbook::diag::{Diagnostics, MAX_PROBLEMS, Problem, Source};
use crate::runbook::yaml::{Node, Span, Value};
use crate::runbook::{Loaded, Objectives, Runbook, did_you_mean, load, regions};

const TOP_KEYS: &[&str] = &[
    "version",
    "name",
    "description",
    "runbook",
    "vars",
    "impair",
    "objectives",
    "expect",
    "inject",
    "faults",
    "targets",
];
const FAULT_KEYS: &[&str] = &["fis"];
const FIS_KEYS: &[&str] = &["template", "region"];
/// FIS API reference, ExperimentTemplateId: at most 64 characters, no white space (`[\S]+`).
const MAX_TEMPLATE_ID: usize = 64;
const INJECT_KEYS: &[&str] = &["id", "description", "action", "region", "with"];
const OBJECTIVE_KEYS: &[&str] = &["rto", "rpo"];
const IMPAIR_KEYS: &[&str] = &["region", "service"];
const EXPECT_KEYS: &[&str] = &[
    "id",
    "description",
    "action",
    "region",
    "with",
    "outputs",
    "step",
    "status",
];
const STATUSES: &[&str] = &["succeeded", "failed", "skipped", "deferred"];
const SERVICES: &[Service] = &[
    Service::DynamoDb,
    Service::Kms,
    Service::ApiGateway,
    Service::Route53,
    Service::CloudWatch,
    Service::Arc,
    Service::Iam,
    Service::Rds,
    Service::Ecs,
    Service::Ssm,
    Service::S3,
];

#[derive(Debug, Deserialize)]
struct RawScenario {
    /// Required, like `name` and `runbook`: a missing one is reported with the rest.
    #[serde(default)]
    version: Option<u32>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    runbook: Option<String>,
    #[serde(default)]
    vars: BTreeMap<String, String>,
    #[serde(default)]
    impair: Vec<Impairment>,
    #[serde(default)]
    objectives: RawObjectives,
    #[serde(default)]
    expect: Vec<RawExpectation>,
    #[serde(default)]
    inject: Vec<RawInjection>,
    #[serde(default)]
    faults: Vec<RawFault>,
}

/// Unknown fields are reported by [`Checker::known_keys`] (with the rest), not by serde.
#[derive(Debug, Deserialize)]
struct RawFault {
    fis: RawFis,
}

#[derive(Debug, Deserialize)]
struct RawFis {
    template: String,
    region: String,
}

#[derive(Debug, Deserialize)]
struct RawInjection {
    id: String,
    #[serde(default)]
    description: Option<String>,
    action: String,
    #[serde(default)]
    region: Option<String>,
    #[serde(default)]
    with: BTreeMap<String, serde_json::Value>,
}

#[derive(Debug, Default, Deserialize)]
struct RawObjectives {
    #[serde(default)]
    rto: Option<String>,
    #[serde(default)]
    rpo: Option<String>,
}

#[derive(Debug, Deserialize)]
struct RawExpectation {
    id: String,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    action: Option<String>,
    #[serde(default)]
    region: Option<String>,
    #[serde(default)]
    with: BTreeMap<String, serde_json::Value>,
    #[serde(default)]
    outputs: BTreeMap<String, String>,
    #[serde(default)]
    step: Option<String>,
    #[serde(default)]
    status: Option<String>,
}

/// One step of a path into the tree.
#[derive(Clone, Copy)]
enum Seg<'a> {
    Key(&'a str),
    Index(usize),
}
use Seg::{Index, Key};

/// The problems of one file, located through its tree.
struct Checker<'a> {
    src: &'a Source,
    root: &'a Node,
    problems: Vec<Problem>,
}

fn entry<'n>(node: &'n Node, key: &str) -> Option<(&'n Node, &'n Node)> {
    match &node.value {
        Value::Map(entries) => entries
            .iter()
            .find(|(k, _)| k.scalar().is_some_and(|s| s.text == key))
            .map(|(k, v)| (k, v)),
        _ => None,
    }
}

impl<'a> Checker<'a> {
    /// The node at `path`, or (`Err`) the deepest part of the path that exists.
    fn node(&self, path: &[Seg]) -> Result<&'a Node, &'a Node> {
        let mut node = self.root;
        for seg in path {
            let next = match (seg, &node.value) {
                (Key(k), _) => entry(node, k).map(|(_, v)| v),
                (Index(i), Value::Seq(items)) => items.get(*i),
                _ => None,
            };
            node = next.ok_or(node)?;
        }
        Ok(node)
    }

    /// The span of the value at `path`, or of the deepest part of it that exists.
    fn span(&self, path: &[Seg]) -> Span {
        match self.node(path) {
            Ok(n) | Err(n) => n.span,
        }
    }

    /// The 1-based line of the value at `path`.
    fn span_line(&self, path: &[Seg]) -> usize {
        self.src.line_col(self.span(path).start).0
    }

    /// The span of the key that ends `path` (the value's when it is not a key).
    fn key_span(&self, path: &[Seg]) -> Span {
        if let [parent @ .., Key(k)] = path
            && let Ok(map) = self.node(parent)
            && let Some((key, _)) = entry(map, k)
        {
            return key.span;
        }
        self.span(path)
    }

    fn report(&mut self, span: Span, message: String, label: &str, help: String) {
        if self.problems.len() < MAX_PROBLEMS {
            self.problems
                .push(Problem::at(self.src, span, message, label, Some(help)));
        }
    }

    /// Reports keys of the mapping at `path` that are not in `allowed`.
    fn known_keys(&mut self, path: &[Seg], allowed: &[&str], what: &str) {
        let Ok(Node {
            value: Value::Map(entries),
            ..
        }) = self.node(path)
        else {
            return;
        };
        for (k, _) in entries {
            let key = k.scalar().map_or("", |s| s.text.as_str());
            if !allowed.contains(&key) {
                let help = did_you_mean(key, allowed.iter().copied())
                    .unwrap_or_else(|| format!("allowed fields: {}", allowed.join(", ")));
                self.report(
                    k.span,
                    format!("unknown field `{key}` in {what}"),
                    "unknown field",
                    help,
                );
            }
        }
    }

    /// The number of items of the list at `key` of the root (0 when it is not a list).
    fn items(&self, key: &str) -> usize {
        match entry(self.root, key).map(|(_, v)| &v.value) {
            Some(Value::Seq(items)) => items.len(),
            _ => 0,
        }
    }
}

/// Whether `text` is a scenario (`runbook:` at the top level) rather than a runbook (which has
/// `steps:`). A line scan, so validating a large runbook does not parse it twice; a document
/// written in flow style is taken for a runbook, whose validator then names the problem.
pub fn is_scenario_text(text: &str) -> bool {
    let mut runbook = false;
    for line in text.lines() {
        if line.starts_with("steps:") {
            return false;
        }
        runbook |= line.starts_with("runbook:");
    }
    runbook
}

/// Reads and validates a scenario file: every problem at once, each located.
pub fn load_scenario(path: &Path) -> Result<Scenario, Diagnostics> {
    load_scenario_in(path, None)
}

/// [`load_scenario`], with the directory the scenario's runbook must resolve inside (`--root`);
/// without it, the scenario file's own directory.
pub fn load_scenario_in(path: &Path, root: Option<&Path>) -> Result<Scenario, Diagnostics> {
    load_scenario_str_in(path, &load::read_text(path)?, root)
}

/// Validates scenario text; `path` is used in messages and to find the runbook.
pub fn load_scenario_str(path: &Path, text: &str) -> Result<Scenario, Diagnostics> {
    load_scenario_str_in(path, text, None)
}

/// [`load_scenario_str`] with a root for the runbook (see [`load_scenario_in`]).
pub fn load_scenario_str_in(
    path: &Path,
    text: &str,
    runbook_root: Option<&Path>,
) -> Result<Scenario, Diagnostics> {
    let (src, parsed) = load::parse_tree(path, text)?;
    let Some(root) = parsed.root.as_ref() else {
        return Err(Diagnostics::single(Problem::at(
            &src,
            Span::new(0, 0),
            "the scenario is empty",
            "nothing here",
            Some("a scenario starts with `version: 1`, `name:` and `runbook:`".into()),
        )));
    };
    if let Some(d) = load::wrong_kind(&src, Some(root), path, load::Kind::Scenario) {
        return Err(d);
    }
    let mut c = Checker {
        src: &src,
        root,
        problems: vec![],
    };
    for d in &parsed.duplicates {
        c.report(
            d.again,
            format!("duplicate key `{}`", d.key),
            "again here",
            format!(
                "it is already set on line {}; keep one",
                src.line_col(d.first.start).0
            ),
        );
    }
    // Unknown fields everywhere, before the typed parse stops at the first of them.
    c.known_keys(&[], TOP_KEYS, "the scenario");
    c.known_keys(&[Key("objectives")], OBJECTIVE_KEYS, "`objectives`");
    for i in 0..c.items("impair") {
        c.known_keys(&[Key("impair"), Index(i)], IMPAIR_KEYS, "an impairment");
    }
    for i in 0..c.items("expect") {
        c.known_keys(&[Key("expect"), Index(i)], EXPECT_KEYS, "an expectation");
    }
    for i in 0..c.items("inject") {
        c.known_keys(&[Key("inject"), Index(i)], INJECT_KEYS, "an injection");
    }
    for i in 0..c.items("faults") {
        c.known_keys(&[Key("faults"), Index(i)], FAULT_KEYS, "a fault");
        c.known_keys(
            &[Key("faults"), Index(i), Key("fis")],
            FIS_KEYS,
            "an FIS experiment",
        );
    }
    // `targets:` (a drill across accounts and Regions), checked like a runbook's.
    let targets = match entry(root, "targets") {
        Some((k, n)) => {
            let (t, problems) = crate::runbook::read_targets(&src, k, n);
            c.problems.extend(problems);
            t
        }
        None => None,
    };
    // Unknown fields do not stop the checks below: every problem is reported at once.
    let raw: RawScenario = match load::parse_document(path, text) {
        Ok(raw) => raw,
        Err(d) => {
            // The typed parse stops at its first problem; one of the unknown fields above
            // is not said twice.
            for p in d.problems {
                let known = c.problems.iter().any(|q| q.location == p.location);
                if !known && c.problems.len() < MAX_PROBLEMS {
                    c.problems.push(p);
                }
            }
            return Err(Diagnostics {
                problems: c.problems,
                omitted: 0,
            });
        }
    };
    let mut scenario = check(&mut c, path, text, raw, runbook_root);
    scenario.targets = targets;
    if c.problems.is_empty() {
        return Ok(scenario);
    }
    // The scenario's problems against its runbook (undeclared variables, unknown steps) are
    // found with the rest, when the runbook itself can be read.
    let runbook_ok = c.problems.iter().all(|p| {
        p.location
            .as_ref()
            .is_none_or(|(_, line, _)| *line != c.span_line(&[Key("runbook")]))
    });
    if runbook_ok
        && let Ok(rb_text) = load::read_text(&scenario.runbook)
        && is_mapping(&scenario.runbook, &rb_text)
        && let Ok(loaded) = load::load_shape(&scenario.runbook, &rb_text)
        && let Err(d) = check_against(&scenario, &loaded.runbook)
    {
        for p in d.problems {
            if c.problems.len() < MAX_PROBLEMS {
                c.problems.push(p);
            }
        }
    }
    Err(Diagnostics {
        problems: c.problems,
        omitted: 0,
    })
}

/// The meaning of a well-typed scenario: every problem is reported into `c`.
fn check(
    c: &mut Checker,
    path: &Path,
    text: &str,
    raw: RawScenario,
    root: Option<&Path>,
) -> Scenario {
    let head = Span::new(c.root.span.start, c.root.span.start);
    for (field, given, example) in [
        ("version", raw.version.is_some(), "version: 1"),
        ("name", raw.name.is_some(), "name: my-game-day"),
        (
            "runbook",
            raw.runbook.is_some(),
            "runbook: ../runbooks/region-failover.yaml",
        ),
    ] {
        match entry(c.root, field) {
            _ if given => {}
            None => c.report(
                head,
                format!("missing `{field}`"),
                "scenario starts here",
                format!("add `{example}`"),
            ),
            Some((k, _)) => c.report(
                k.span,
                format!("`{field}` has no value"),
                "no value",
                format!("write `{example}`"),
            ),
        }
    }
    if let Some(version) = raw.version
        && version != 1
    {
        c.report(
            c.span(&[Key("version")]),
            format!("unsupported scenario version {version}"),
            "unsupported",
            "this drillbook reads `version: 1`".into(),
        );
    }
    let base = path.parent().unwrap_or(Path::new("."));
    let runbook = match &raw.runbook {
        Some(r) => base.join(r),
        None => PathBuf::new(),
    };
    if let Some(raw_runbook) = &raw.runbook {
        if !runbook.is_file() {
            c.report(
                c.span(&[Key("runbook")]),
                format!(
                    "runbook `{raw_runbook}` not found (resolved to {})",
                    runbook.display()
                ),
                "no such file",
                "`runbook:` is relative to the scenario file".into(),
            );
        } else if let Err((message, label, help)) = allowed_runbook(base, root, &runbook) {
            c.report(c.span(&[Key("runbook")]), message, label, help);
        }
    }
    let duration = |c: &mut Checker, v: &Option<String>, key: &str| {
        let s = v.as_deref()?;
        parse_duration(s)
            .map_err(|e| {
                c.report(
                    c.span(&[Key("objectives"), Key(key)]),
                    format!("objectives.{key}: {e}"),
                    "not a duration",
                    "durations look like `500ms`, `30s`, `15m` or `2h`".into(),
                )
            })
            .ok()
    };
    let objectives = Objectives {
        rto: duration(c, &raw.objectives.rto, "rto"),
        rpo: duration(c, &raw.objectives.rpo, "rpo"),
    };
    for (i, imp) in raw.impair.iter().enumerate() {
        if !regions::is_known(&imp.region) {
            c.report(
                c.span(&[Key("impair"), Index(i), Key("region")]),
                format!("unknown Region `{}`", imp.region),
                "unknown Region",
                did_you_mean(&imp.region, regions::REGIONS.iter().copied())
                    .unwrap_or_else(|| "use a Region name such as `ca-central-1`".into()),
            );
        }
        if let Some(svc) = &imp.service
            && !SERVICES.iter().any(|s| s.name() == svc)
        {
            let names: Vec<&str> = SERVICES.iter().map(|s| s.name()).collect();
            c.report(
                c.span(&[Key("impair"), Index(i), Key("service")]),
                format!("unknown service `{svc}`"),
                "unknown service",
                did_you_mean(svc, names.iter().copied()).unwrap_or_else(|| {
                    format!(
                        "leave it out for the whole Region, or use one of: {}",
                        names.join(", ")
                    )
                }),
            );
        }
    }
    let mut seen = BTreeSet::new();
    let mut expect = vec![];
    for (i, e) in raw.expect.into_iter().enumerate() {
        let at = |k: &'static str| [Key("expect"), Index(i), Key(k)];
        if !seen.insert(e.id.clone()) {
            c.report(
                c.span(&at("id")),
                format!("duplicate expectation id `{}`", e.id),
                "used before",
                "give each expectation its own id".into(),
            );
        }
        match (e.action, e.step) {
            (Some(action), None) => {
                if check_action(
                    c,
                    ("expect", i),
                    &action,
                    &e.with,
                    &e.outputs,
                    e.region.is_some(),
                ) {
                    expect.push(Expectation::Observe {
                        id: e.id,
                        description: e.description,
                        action,
                        region: e.region,
                        with: e.with,
                        outputs: e.outputs,
                    });
                }
            }
            (None, Some(step)) => {
                let status = e.status.unwrap_or_else(|| "succeeded".into());
                if !STATUSES.contains(&status.as_str()) {
                    c.report(
                        c.span(&at("status")),
                        format!("expectation `{}`: unknown status `{status}`", e.id),
                        "unknown status",
                        did_you_mean(&status, STATUSES.iter().copied())
                            .unwrap_or_else(|| "use succeeded, failed, skipped or deferred".into()),
                    );
                }
                expect.push(Expectation::StepStatus {
                    id: e.id,
                    description: e.description,
                    step,
                    status,
                });
            }
            _ => c.report(
                c.span(&[Key("expect"), Index(i)]),
                format!(
                    "expectation `{}` needs exactly one of `action` or `step`",
                    e.id
                ),
                "here",
                "`action:` observes the system; `step:` checks a runbook step's status".into(),
            ),
        }
    }
    let mut inject = vec![];
    for (i, j) in raw.inject.into_iter().enumerate() {
        if !seen.insert(j.id.clone()) {
            c.report(
                c.span(&[Key("inject"), Index(i), Key("id")]),
                format!("duplicate id `{}`", j.id),
                "used before",
                "give each injection and expectation its own id".into(),
            );
        }
        if check_action(
            c,
            ("inject", i),
            &j.action,
            &j.with,
            &BTreeMap::new(),
            j.region.is_some(),
        ) {
            inject.push(Injection {
                id: j.id,
                description: j.description,
                action: j.action,
                region: j.region,
                with: j.with,
            });
        }
    }
    let faults = check_faults(c, raw.faults);
    for (k, v) in &raw.vars {
        if replace_injected_at(v, "") != *v && inject.is_empty() {
            c.report(
                c.span(&[Key("vars"), Key(k)]),
                format!("variable `{k}` uses `{{{{ {INJECTED_AT} }}}}`, but the scenario injects nothing"),
                "no injection",
                "`{{ drill.injected_at }}` is the time just before the first `inject:` action; add one, or write a time".into(),
            );
        }
    }
    Scenario {
        name: raw.name.unwrap_or_default(),
        description: raw.description,
        path: path.to_path_buf(),
        sha256: load::sha256_hex(text.as_bytes()),
        text: text.to_string(),
        runbook,
        vars: raw.vars,
        impair: raw.impair,
        objectives,
        expect,
        inject,
        faults,
        targets: None,
    }
}

/// Checks `faults:`: each FIS experiment names a template id and a Region (or `{{ vars.NAME }}`
/// for either, checked against the runbook by [`check_against`]), once.
fn check_faults(c: &mut Checker, raw: Vec<RawFault>) -> Vec<Fault> {
    let mut seen = BTreeSet::new();
    let mut out = vec![];
    for (i, f) in raw.into_iter().enumerate() {
        let at = |k: &'static str| [Key("faults"), Index(i), Key("fis"), Key(k)];
        let RawFis { template, region } = f.fis;
        let literal = |c: &mut Checker, value: &str, key: &'static str| match vars_in(value) {
            Err(message) => {
                c.report(
                    c.span(&at(key)),
                    format!("faults[{i}].fis.{key}: {message}"),
                    "not a template",
                    "a fault starts before any step: use a literal or `{{ vars.NAME }}`".into(),
                );
                false
            }
            Ok(vars) => vars.is_empty(),
        };
        if literal(c, &template, "template")
            && (template.is_empty()
                || template.len() > MAX_TEMPLATE_ID
                || template.contains(char::is_whitespace))
        {
            c.report(
                c.span(&at("template")),
                format!("`{template}` is not an FIS experiment template id"),
                "not a template id",
                format!(
                    "use the template's id (`EXT...`, at most {MAX_TEMPLATE_ID} characters without \
                     white space; `aws fis list-experiment-templates` lists them), or \
                     `{{{{ vars.NAME }}}}`"
                ),
            );
        }
        if literal(c, &region, "region") && !regions::is_known(&region) {
            c.report(
                c.span(&at("region")),
                format!("unknown Region `{region}`"),
                "unknown Region",
                did_you_mean(&region, regions::REGIONS.iter().copied()).unwrap_or_else(|| {
                    "use the Region whose FIS API runs the experiment, such as `ca-central-1`"
                        .into()
                }),
            );
        }
        if !seen.insert((template.clone(), region.clone())) {
            c.report(
                c.span(&[Key("faults"), Index(i)]),
                format!("the experiment template `{template}` in {region} is listed twice"),
                "listed before",
                "a drill starts each template once; keep one".into(),
            );
        }
        out.push(Fault::Fis { template, region });
    }
    out
}

/// The variables `value` refers to (`{{ vars.NAME }}`); `Err` for anything else a fault cannot
/// use (step outputs, the run id: a fault starts before any step and any run id).
fn vars_in(value: &str) -> Result<Vec<String>, String> {
    use crate::template::{Ref, parse};
    let placeholders = parse(value).map_err(|e| e.to_string())?;
    placeholders
        .into_iter()
        .map(|p| match p.reference {
            Ref::Var(name) => Ok(name),
            Ref::RunId => Err("`{{ run.id }}` is not known when a fault starts".to_string()),
            Ref::StepOutput { step, .. } => Err(format!(
                "`{{{{ steps.{step}... }}}}` is not known when a fault starts (before any step)"
            )),
        })
        .collect()
}

/// Checks an action of `expect[i]` (read-only) or `inject[i]` (may change things); false
/// when it cannot be used.
fn check_action(
    c: &mut Checker,
    (list, i): (&'static str, usize),
    action: &str,
    with: &BTreeMap<String, serde_json::Value>,
    outputs: &BTreeMap<String, String>,
    has_region: bool,
) -> bool {
    let item = |k: &'static str| [Key(list), Index(i), Key(k)];
    let Some(spec) = catalog::lookup(action) else {
        c.report(
            c.span(&item("action")),
            format!("unknown action `{action}`"),
            "unknown action",
            did_you_mean(action, catalog::names()).unwrap_or_else(|| {
                "use a read-only action such as route53.assert_records or kms.assert_replica".into()
            }),
        );
        return false;
    };
    if spec.mutates && list == "expect" {
        c.report(
            c.span(&item("action")),
            format!("`{action}` changes things; an expectation only observes"),
            "mutating action",
            "use a read-only action (assert_*, verify_*, wait_alarm)".into(),
        );
    }
    for k in with.keys() {
        if spec.param(k).is_none() {
            let names = spec.params.iter().map(|p| p.name);
            c.report(
                c.key_span(&[Key(list), Index(i), Key("with"), Key(k)]),
                format!("`{action}` has no parameter `{k}`"),
                "unknown parameter",
                did_you_mean(k, names.clone()).unwrap_or_else(|| {
                    format!(
                        "its parameters are: {}",
                        names.collect::<Vec<_>>().join(", ")
                    )
                }),
            );
        }
    }
    for p in spec.params.iter().filter(|p| p.required) {
        if !with.contains_key(p.name) {
            c.report(
                c.span(&item("action")),
                format!("`{action}` needs the parameter `{}`", p.name),
                "missing parameter",
                format!("add `with: {{ {}: ... }}` ({})", p.name, p.help),
            );
        }
    }
    for (k, want) in outputs {
        if let Some(n) = want.strip_prefix(">=")
            && n.trim().parse::<f64>().is_err()
        {
            c.report(
                c.span(&[Key("expect"), Index(i), Key("outputs"), Key(k)]),
                format!("`>=` needs a number, found `{n}`"),
                "not a number",
                "write `\">=50\"`; `~text` means contains, `text` or `=text` equals".into(),
            );
        }
        if spec.output(k).is_none() {
            let names = spec.outputs.iter().map(|o| o.name);
            c.report(
                c.key_span(&[Key("expect"), Index(i), Key("outputs"), Key(k)]),
                format!("`{action}` has no output `{k}`"),
                "unknown output",
                did_you_mean(k, names.clone()).unwrap_or_else(|| {
                    format!("its outputs are: {}", names.collect::<Vec<_>>().join(", "))
                }),
            );
        }
    }
    if spec.needs_region && !has_region {
        c.report(
            c.span(&item("action")),
            format!("`{action}` needs a `region`"),
            "no region",
            format!("add `region: eu-west-1` (or a `{{{{ vars.x }}}}`) to `{list}[{i}]`"),
        );
    }
    true
}

/// Whether the runbook a scenario names may be read: after symlinks it must lie inside `root`
/// (or, without one, inside the git repository holding the scenario, else the scenario's
/// directory `base`) and be a `.yaml`/`.yml` file. A
/// scenario comes from a pull request as often as a runbook does; without this, `runbook:
/// ~/.aws/credentials` would read (and quote) any file the runner can read.
fn allowed_runbook(
    base: &Path,
    root: Option<&Path>,
    runbook: &Path,
) -> Result<(), (String, &'static str, String)> {
    let dir = root.unwrap_or(base);
    let dir_shown = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    let dir_real = std::fs::canonicalize(dir_shown).map_err(|e| {
        (
            format!("cannot resolve {}: {e}", dir_shown.display()),
            "unresolvable",
            "check the scenario's directory (or `--root`)".to_string(),
        )
    })?;
    let real = std::fs::canonicalize(runbook).map_err(|e| {
        (
            format!("cannot resolve runbook {}: {e}", runbook.display()),
            "unresolvable",
            "check the path and the file's permissions".to_string(),
        )
    })?;
    // Without `--root`, the scenario's repository (the nearest directory above it holding
    // `.git`) is the tree: `../runbooks/x.yaml` from `scenarios/` stays inside the checkout a
    // pull request can change, wherever drillbook is run from.
    let dir_real = match root {
        Some(_) => dir_real,
        None => dir_real
            .ancestors()
            .find(|d| d.join(".git").exists())
            .map(Path::to_path_buf)
            .unwrap_or(dir_real),
    };
    let dir_shown = if root.is_none() {
        dir_real.as_path()
    } else {
        dir_shown
    };
    if !real.starts_with(&dir_real) {
        return Err((
            format!(
                "runbook {} resolves outside {} (to {})",
                runbook.display(),
                dir_shown.display(),
                real.display()
            ),
            "outside the allowed directory",
            format!(
                "a scenario may name only runbooks inside {}{}; move the runbook there, or pass \
                 `--root DIR` with a directory that holds both",
                dir_shown.display(),
                if root.is_some() {
                    " (`--root`)"
                } else {
                    " (the scenario's repository, else its directory)"
                }
            ),
        ));
    }
    let yaml = real
        .extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("yaml") || e.eq_ignore_ascii_case("yml"));
    if !yaml {
        return Err((
            format!(
                "runbook {} is not a `.yaml` or `.yml` file (resolves to {})",
                runbook.display(),
                real.display()
            ),
            "not a YAML file",
            "name a runbook file ending in `.yaml` or `.yml`".to_string(),
        ));
    }
    Ok(())
}

/// A problem at the scenario's `runbook:` value (the scenario is the file named on the
/// command line, so its own lines may be quoted).
fn at_runbook_value(
    scenario: &Scenario,
    message: String,
    label: &str,
    help: String,
) -> Diagnostics {
    let Ok((src, parsed)) = load::parse_tree(&scenario.path, &scenario.text) else {
        return Diagnostics::single(Problem::general(message, Some(help)));
    };
    let Some(root) = parsed.root.as_ref() else {
        return Diagnostics::single(Problem::general(message, Some(help)));
    };
    let c = Checker {
        src: &src,
        root,
        problems: vec![],
    };
    Diagnostics::single(Problem::at(
        &src,
        c.span(&[Key("runbook")]),
        message,
        label,
        Some(help),
    ))
}

/// Whether `text` parses as a YAML mapping: only then may diagnostics quote its lines. A file
/// that is not one (credentials, keys, anything a `runbook:` was pointed at) is never quoted.
fn is_mapping(path: &Path, text: &str) -> bool {
    matches!(
        load::parse_tree(path, text),
        Ok((_, parsed)) if matches!(parsed.root.as_ref().map(|n| &n.value), Some(Value::Map(_)))
    )
}

/// The runbook a scenario drives, read once: first checked against the scenario as written
/// (so the scenario's own mistakes point into the scenario), then loaded with the scenario's
/// variables and `cli_vars` (which win), with the scenario's objectives over its own.
///
/// `{{ drill.injected_at }}` in the scenario's variables reads as now; see
/// [`load_runbook_at`].
pub fn load_runbook(
    scenario: &Scenario,
    cli_vars: &[(String, String)],
) -> Result<Loaded, Diagnostics> {
    let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    load_runbook_at(scenario, cli_vars, &now)
}

/// [`load_runbook`], with `{{ drill.injected_at }}` in the scenario's variables read as
/// `injected_at` (the time just before the drill's first injection).
pub fn load_runbook_at(
    scenario: &Scenario,
    cli_vars: &[(String, String)],
    injected_at: &str,
) -> Result<Loaded, Diagnostics> {
    load_runbook_for(scenario, cli_vars, injected_at, None)
}

/// [`load_runbook_at`] for one target of a fleet (`target`): the runbook as that target runs
/// it ([`crate::runbook::for_target`]: its `{{ target.* }}` written out, its role and Region).
pub fn load_runbook_for(
    scenario: &Scenario,
    cli_vars: &[(String, String)],
    injected_at: &str,
    target: Option<&crate::runbook::TargetValues>,
) -> Result<Loaded, Diagnostics> {
    let mut text = load::read_text(&scenario.runbook)?;
    if let Some(t) = target {
        text = crate::runbook::for_target(&text, t).map_err(|e| {
            Diagnostics::single(Problem::general(
                format!("{}: {e}", scenario.runbook.display()),
                None,
            ))
        })?;
    }
    if !is_mapping(&scenario.runbook, &text) {
        return Err(at_runbook_value(
            scenario,
            format!(
                "runbook {} is not a runbook (not a YAML mapping); its content is not shown",
                scenario.runbook.display()
            ),
            "not a runbook",
            "point `runbook:` at a runbook file (a mapping with `version:`, `name:` and `steps:`)"
                .into(),
        ));
    }
    check_against(
        scenario,
        &load::load_shape(&scenario.runbook, &text)?.runbook,
    )?;
    let mut vars: Vec<(String, String)> = scenario.vars_at(injected_at).into_iter().collect();
    let from_scenario: BTreeSet<String> = vars
        .iter()
        .map(|(k, _)| k.clone())
        .filter(|k| !cli_vars.iter().any(|(c, _)| c == k))
        .collect();
    vars.extend(cli_vars.iter().cloned());
    let mut loaded = load::load_str_blaming(&scenario.runbook, &text, &vars, &from_scenario)?;
    loaded.runbook.objectives = scenario.objectives_over(&loaded.runbook.objectives);
    Ok(loaded)
}

/// Checks the scenario against the runbook it drives: its `vars` must be declared there and
/// its `step:` expectations name steps of it (reported at the scenario's `file:line:column`).
fn check_against(scenario: &Scenario, runbook: &Runbook) -> Result<(), Diagnostics> {
    let (src, parsed) = load::parse_tree(&scenario.path, &scenario.text)?;
    let Some(root) = parsed.root.as_ref() else {
        return Ok(());
    };
    let mut c = Checker {
        src: &src,
        root,
        problems: vec![],
    };
    for k in scenario.vars.keys() {
        if !runbook.vars.contains_key(k) {
            let declared: Vec<&str> = runbook.vars.keys().map(String::as_str).collect();
            c.report(
                c.key_span(&[Key("vars"), Key(k)]),
                format!("the runbook declares no variable `{k}`"),
                "undeclared",
                did_you_mean(k, declared.iter().copied())
                    .unwrap_or_else(|| format!("its variables are: {}", declared.join(", "))),
            );
        }
    }
    // Faults are rendered with the run's variables: only declared ones.
    for (i, f) in scenario.faults.iter().enumerate() {
        let Fault::Fis { template, region } = f;
        for (key, value) in [("template", template), ("region", region)] {
            for name in vars_in(value).unwrap_or_default() {
                if !runbook.vars.contains_key(&name) {
                    let declared: Vec<&str> = runbook.vars.keys().map(String::as_str).collect();
                    c.report(
                        c.span(&[Key("faults"), Index(i), Key("fis"), Key(key)]),
                        format!("the runbook declares no variable `{name}`"),
                        "undeclared",
                        did_you_mean(&name, declared.iter().copied()).unwrap_or_else(|| {
                            format!("its variables are: {}", declared.join(", "))
                        }),
                    );
                }
            }
        }
    }
    let step_ids = runbook.step_ids();
    // A loaded scenario kept every expectation, so indices match the file's.
    for (i, e) in scenario.expect.iter().enumerate() {
        if let Expectation::StepStatus { id, step, .. } = e
            && !step_ids.contains(&step.as_str())
        {
            c.report(
                c.span(&[Key("expect"), Index(i), Key("step")]),
                format!("expectation `{id}`: the runbook has no step `{step}`"),
                "unknown step",
                did_you_mean(step, step_ids.iter().copied())
                    .unwrap_or_else(|| format!("its steps are: {}", step_ids.join(", "))),
            );
        }
    }
    if c.problems.is_empty() {
        Ok(())
    } else {
        Err(Diagnostics {
            problems: c.problems,
            omitted: 0,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A scenario in the repository's `scenarios/` (it names the shipped failover runbook).
    fn load(body: &str) -> Result<Scenario, Diagnostics> {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/unit-test.yaml");
        let text =
            format!("version: 1\nname: t\nrunbook: ../runbooks/region-failover.yaml\n{body}");
        load_scenario_str(&path, &text)
    }

    fn messages(d: &Diagnostics) -> String {
        d.problems
            .iter()
            .map(|p| format!("{} (help: {:?})", p.message, p.help))
            .collect::<Vec<_>>()
            .join("\n")
    }

    #[test]
    fn targets_are_read_and_their_problems_located() {
        let s = load("targets: { organizational_units: [ou-ab12-cdef3456], regions: [eu-west-1], max_errors: \"5%\" }\n").unwrap();
        let t = s.targets.unwrap();
        assert_eq!(t.organizational_units, ["ou-ab12-cdef3456"]);
        assert_eq!(t.max_errors.as_deref(), Some("5%"));
        let d = load("targets:\n  accounts: [\"12345\"]\n  regions: [eu-west-1]\n").unwrap_err();
        let p = d
            .problems
            .iter()
            .find(|p| p.message.contains("`12345` in `targets.accounts`"))
            .unwrap_or_else(|| panic!("{}", messages(&d)));
        assert_eq!(p.location.as_ref().map(|l| (l.1, l.2)), Some((5, 14)));
    }

    #[test]
    fn faults_name_fis_templates_by_id_or_variable() {
        let s = load(
            "faults:\n  - fis: { template: EXTa1b2c3d4e5f6g7, region: ca-central-1 }\n  - fis: { template: \"{{ vars.fis_template }}\", region: \"{{ vars.primary }}\" }\n",
        )
        .unwrap();
        assert_eq!(
            s.faults,
            vec![
                Fault::Fis {
                    template: "EXTa1b2c3d4e5f6g7".into(),
                    region: "ca-central-1".into()
                },
                Fault::Fis {
                    template: "{{ vars.fis_template }}".into(),
                    region: "{{ vars.primary }}".into()
                },
            ]
        );
        assert!(load("").unwrap().faults.is_empty());
    }

    #[test]
    fn fault_problems_are_located_with_help() {
        let bad = [
            (
                "faults:\n  - fis: { template: EXT1, regoin: ca-central-1 }\n",
                "unknown field `regoin`",
            ),
            (
                "faults:\n  - fiss: { template: EXT1, region: ca-central-1 }\n",
                "unknown field `fiss`",
            ),
            (
                "faults:\n  - fis: { template: EXT1, region: ca-centrl-1 }\n",
                "unknown Region `ca-centrl-1`",
            ),
            (
                "faults:\n  - fis: { template: \"EXT 1\", region: ca-central-1 }\n",
                "is not an FIS experiment template id",
            ),
            (
                "faults:\n  - fis: { template: \"{{ steps.a.b }}\", region: ca-central-1 }\n",
                "not known when a fault starts",
            ),
            (
                "faults:\n  - fis: { template: EXT1, region: ca-central-1 }\n  - fis: { template: EXT1, region: ca-central-1 }\n",
                "listed twice",
            ),
        ];
        for (body, want) in bad {
            let d = load(body).expect_err(body);
            let all = messages(&d);
            assert!(all.contains(want), "{want} in {all}");
            assert!(
                d.problems
                    .iter()
                    .all(|p| p.help.is_some() && p.location.is_some()),
                "{all}"
            );
        }
    }

    #[test]
    fn fault_variables_must_be_declared_by_the_runbook() {
        let s = load(
            "faults:\n  - fis: { template: \"{{ vars.fis_tempalte }}\", region: ca-central-1 }\n",
        )
        .unwrap();
        let d = load_runbook(&s, &[]).expect_err("an undeclared variable");
        let all = messages(&d);
        assert!(all.contains("declares no variable `fis_tempalte`"), "{all}");
        assert!(all.contains("fis_template"), "did you mean: {all}");
    }
}
