//! `drillbook plan FILE [--format text|json|dot|mermaid] [--var k=v] [--strict]`.

use std::io::Write as _;

use super::{ExitCode, PlanArgs, PlanFormat};
use crate::plan::{Plan, render};
use crate::runbook;

pub(super) const EXAMPLES: &str = "\
Examples:
  drillbook plan runbooks/region-failover.yaml
  drillbook plan runbooks/region-failover.yaml --format json | jq .critical_path
  drillbook plan runbooks/region-failover.yaml --format dot | dot -Tsvg > plan.svg
  drillbook plan runbooks/region-failover.yaml --format mermaid > plan.mmd
  drillbook plan runbooks/region-failover.yaml --var secondary=eu-west-1 --strict   # in CI

The estimated makespan uses each step's `estimate` (or its action's default estimate) and
schedules the steps as the run will: at most --max-parallel at once (default 8, as `run`), ready
steps first come, first served. The critical path is the makespan with unlimited parallelism.
When the makespan exceeds `objectives.rto`, a warning goes to stderr; with --strict the exit
code is then 1.

Exit codes: 0 plan printed, 1 estimate exceeds the RTO (with --strict), 2 invalid runbook.";

/// Splits `--var k=v` arguments. Errors name the bad argument.
pub(super) fn parse_vars(vars: &[String]) -> Result<Vec<(String, String)>, String> {
    vars.iter()
        .map(|kv| match kv.split_once('=') {
            Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_string(), v.to_string())),
            _ => Err(format!(
                "error: invalid --var `{kv}`: expected KEY=VALUE\n  help: write it like `--var secondary=eu-west-1`"
            )),
        })
        .collect()
}

pub(super) fn run(args: PlanArgs) -> ExitCode {
    let overrides = match parse_vars(&args.vars) {
        Ok(o) => o,
        Err(msg) => {
            eprintln!("{msg}");
            return ExitCode::Invalid;
        }
    };
    let loaded = match runbook::load_file(&args.file, &overrides) {
        Ok(l) => l,
        Err(diags) => {
            eprintln!("{diags}");
            eprintln!(
                "error: {} is not a valid runbook ({} problem{})",
                args.file.display(),
                diags.len(),
                if diags.len() == 1 { "" } else { "s" }
            );
            return ExitCode::Invalid;
        }
    };
    let plan = match Plan::build(&loaded.runbook) {
        Ok(p) => p.with_max_parallel(args.max_parallel),
        Err(e) => {
            eprintln!("{}: error: {e}", args.file.display());
            return ExitCode::Invalid;
        }
    };
    let out = match args.format {
        PlanFormat::Text => render::text(&plan, &loaded.runbook),
        PlanFormat::Json => render::json(&plan, &loaded.runbook),
        PlanFormat::Dot => render::dot(&plan, &loaded.runbook),
        PlanFormat::Mermaid => render::mermaid(&plan, &loaded.runbook),
    };
    let out = crate::secret::redact(&out);
    let mut stdout = std::io::stdout().lock();
    if let Err(e) = stdout
        .write_all(out.as_bytes())
        .and_then(|_| stdout.flush())
        && e.kind() != std::io::ErrorKind::BrokenPipe
    {
        eprintln!("error: cannot write the plan: {e}");
        return ExitCode::Failed;
    }
    match plan.rto_check() {
        Some(c) if !c.within => {
            let d = render::short_duration;
            eprintln!(
                "warning: the estimated makespan {} exceeds the RTO {} by {}",
                d(c.makespan),
                d(c.rto),
                d(c.over_by())
            );
            eprintln!(
                "  help: shorten or parallelize the steps on the critical path, or revisit objectives.rto{}",
                if args.strict {
                    ""
                } else {
                    " (--strict makes this an error)"
                }
            );
            if args.strict {
                ExitCode::Failed
            } else {
                ExitCode::Success
            }
        }
        _ => ExitCode::Success,
    }
}
