//! `{{ ... }}` templates inside runbook strings.
//!
//! Three forms exist: `{{ vars.NAME }}` (substituted at load time), `{{ run.id }}` and
//! `{{ steps.STEP.OUTPUT }}` (rendered by the engine when a step starts).

use std::collections::BTreeMap;

/// One reference found in a string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Ref {
    Var(String),
    RunId,
    StepOutput { step: String, output: String },
}

/// A reference with its byte range in the string (the whole `{{ ... }}`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Placeholder {
    pub reference: Ref,
    pub start: usize,
    pub end: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum TemplateError {
    #[error("unclosed `{{{{` at byte {0}")]
    Unclosed(usize),
    #[error("unknown reference `{expr}`: expected `vars.NAME`, `run.id` or `steps.STEP.OUTPUT`")]
    BadReference { expr: String, start: usize },
    #[error("undefined variable `{name}`")]
    UndefinedVar { name: String, start: usize },
    #[error("unknown output `{output}` of step `{step}`")]
    MissingOutput { step: String, output: String },
    #[error(
        "this value renders to {size} bytes, more than the limit of {} KiB per value",
        MAX_RENDERED_VALUE / 1024
    )]
    TooLarge { size: usize },
}

/// The most one rendered value may hold: templates repeating a large variable cannot make
/// drillbook allocate without bound (a 4 MiB runbook could otherwise ask for gigabytes).
pub(crate) const MAX_RENDERED_VALUE: usize = 1024 * 1024;

/// The length `s` renders to with `ctx` (unknown references count as left in place), without
/// building it.
pub(crate) fn rendered_len(s: &str, placeholders: &[Placeholder], ctx: &Context<'_>) -> usize {
    let mut size = s.len();
    for p in placeholders {
        let value = match &p.reference {
            Ref::Var(name) => ctx.vars.and_then(|v| v.get(name)).map(String::len),
            Ref::RunId => ctx.run_id.map(str::len),
            Ref::StepOutput { step, output } => ctx
                .outputs
                .and_then(|all| all.get(step).and_then(|o| o.get(output)))
                .map(String::len),
        };
        size = (size - (p.end - p.start)) + value.unwrap_or(p.end - p.start);
    }
    size
}

/// Finds every placeholder in `s`.
pub(crate) fn parse(s: &str) -> Result<Vec<Placeholder>, TemplateError> {
    let mut out = Vec::new();
    let mut rest = 0;
    while let Some(open) = s[rest..].find("{{") {
        let start = rest + open;
        let close = s[start + 2..]
            .find("}}")
            .ok_or(TemplateError::Unclosed(start))?;
        let end = start + 2 + close + 2;
        let expr = s[start + 2..end - 2].trim();
        let parts: Vec<&str> = expr.split('.').collect();
        let ident_ok = |p: &str| {
            !p.is_empty()
                && p.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        };
        let reference = match parts.as_slice() {
            ["vars", name] if ident_ok(name) => Ref::Var(name.to_string()),
            ["run", "id"] => Ref::RunId,
            ["steps", step, output] if ident_ok(step) && ident_ok(output) => Ref::StepOutput {
                step: step.to_string(),
                output: output.to_string(),
            },
            _ => {
                return Err(TemplateError::BadReference {
                    expr: expr.to_string(),
                    start,
                });
            }
        };
        out.push(Placeholder {
            reference,
            start,
            end,
        });
        rest = end;
    }
    Ok(out)
}

/// Values available when rendering a string.
#[derive(Debug, Default, Clone)]
pub(crate) struct Context<'a> {
    pub vars: Option<&'a BTreeMap<String, String>>,
    pub run_id: Option<&'a str>,
    /// step id -> output name -> value
    pub outputs: Option<&'a BTreeMap<String, BTreeMap<String, String>>>,
}

/// Substitutes every reference the context knows; references it does not know
/// (for example `{{ run.id }}` when `run_id` is `None`) are left in place.
pub(crate) fn render(s: &str, ctx: &Context<'_>) -> Result<String, TemplateError> {
    let placeholders = parse(s)?;
    if placeholders.is_empty() {
        return Ok(s.to_string());
    }
    let size = rendered_len(s, &placeholders, ctx);
    if size > MAX_RENDERED_VALUE {
        return Err(TemplateError::TooLarge { size });
    }
    let mut out = String::with_capacity(size);
    let mut last = 0;
    for p in placeholders {
        out.push_str(&s[last..p.start]);
        let original = &s[p.start..p.end];
        match &p.reference {
            Ref::Var(name) => match ctx.vars {
                Some(vars) => match vars.get(name) {
                    Some(v) => out.push_str(v),
                    None => {
                        return Err(TemplateError::UndefinedVar {
                            name: name.clone(),
                            start: p.start,
                        });
                    }
                },
                None => out.push_str(original),
            },
            Ref::RunId => out.push_str(ctx.run_id.unwrap_or(original)),
            Ref::StepOutput { step, output } => match ctx.outputs {
                Some(all) => match all.get(step).and_then(|o| o.get(output)) {
                    Some(v) => out.push_str(v),
                    None => {
                        return Err(TemplateError::MissingOutput {
                            step: step.clone(),
                            output: output.clone(),
                        });
                    }
                },
                None => out.push_str(original),
            },
        }
        last = p.end;
    }
    out.push_str(&s[last..]);
    Ok(out)
}

/// Renders every string inside a JSON value (used for a step's `with`), map keys included
/// (a scenario's `with: { states: { "{{ vars.rc }}": On } }`).
pub(crate) fn render_value(
    v: &serde_json::Value,
    ctx: &Context<'_>,
) -> Result<serde_json::Value, TemplateError> {
    use serde_json::Value;
    Ok(match v {
        Value::String(s) => Value::String(render(s, ctx)?),
        Value::Array(a) => Value::Array(
            a.iter()
                .map(|x| render_value(x, ctx))
                .collect::<Result<_, _>>()?,
        ),
        Value::Object(o) => Value::Object(
            o.iter()
                .map(|(k, x)| Ok((render(k, ctx)?, render_value(x, ctx)?)))
                .collect::<Result<_, TemplateError>>()?,
        ),
        other => other.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_three_forms() {
        let p = parse("a{{ vars.x }}-{{run.id}}-{{ steps.restore-vault.table_name }}").unwrap();
        assert_eq!(p.len(), 3);
        assert_eq!(p[0].reference, Ref::Var("x".into()));
        assert_eq!(p[1].reference, Ref::RunId);
        assert_eq!(
            p[2].reference,
            Ref::StepOutput {
                step: "restore-vault".into(),
                output: "table_name".into()
            }
        );
    }

    #[test]
    fn rejects_bad_refs() {
        assert!(matches!(
            parse("{{ vars }}"),
            Err(TemplateError::BadReference { .. })
        ));
        assert!(matches!(
            parse("{{ env.HOME }}"),
            Err(TemplateError::BadReference { .. })
        ));
        assert!(matches!(
            parse("x {{ vars.a"),
            Err(TemplateError::Unclosed(2))
        ));
    }

    #[test]
    fn renders_partially() {
        let vars = BTreeMap::from([("secondary".to_string(), "eu-west-1".to_string())]);
        let ctx = Context {
            vars: Some(&vars),
            ..Default::default()
        };
        assert_eq!(
            render("{{ vars.secondary }}/{{ run.id }}", &ctx).unwrap(),
            "eu-west-1/{{ run.id }}"
        );
        let ctx = Context {
            run_id: Some("r1"),
            ..Default::default()
        };
        assert_eq!(render("t-{{ run.id }}", &ctx).unwrap(), "t-r1");
    }
}
