//! `drillbook plan FILE [--format text|json|dot|mermaid] [--var k=v] [--strict]`.

use std::io::Write as _;

use super::setup::parse_vars;
use super::{ExitCode, PlanArgs, PlanFormat};
use crate::app::plan::PlanRequest;
use crate::app::{Failure, Session};
use crate::plan::render;
use crate::report::sanitize;

pub(super) const EXAMPLES: &str = "\
Examples:
  drillbook plan runbooks/region-failover.yaml
  drillbook plan runbooks/region-failover.yaml --format json | jq .critical_path
  drillbook plan runbooks/region-failover.yaml --format dot | dot -Tsvg > plan.svg
  drillbook plan runbooks/region-failover.yaml --format mermaid > plan.mmd
  drillbook plan runbooks/region-failover.yaml --var secondary=eu-west-1 --strict   # in CI
  drillbook plan runbooks/region-failover.yaml --lost-region ca-central-1 --strict

The estimated makespan uses each step's `estimate` (or its action's default estimate) and
schedules the steps as the run will: at most --max-parallel at once (default 8, as `run`), ready
steps first come, first served. The critical path is the makespan with unlimited parallelism.
When the makespan exceeds `objectives.rto`, a warning goes to stderr; with --strict the exit
code is then 1.

With --lost-region R (repeatable) the plan lists, per step, the Regions and global control
planes it calls (Route 53's control plane is in us-east-1, ARC's configuration API in
us-west-2), and marks as a FINDING every required recovery step (neither `optional` nor
`on_failure: continue`, not in `finally`) that needs a lost Region; --strict exits 1 on one.

Exit codes: 0 plan printed, 1 estimate exceeds the RTO or a lost-Region finding (with
--strict), 2 invalid runbook.";

pub(super) fn run(args: PlanArgs) -> Result<ExitCode, Failure> {
    let vars = parse_vars(&args.vars)?;
    let session = Session::new(args.history.settings());
    let planned = super::runtime()?.block_on(session.plan(PlanRequest {
        file: &args.file,
        vars: &vars,
        max_parallel: args.max_parallel,
        estimates: args.estimates,
        lost_regions: &args.lost_regions,
    }))?;
    let out = match args.format {
        PlanFormat::Text => planned.text(),
        PlanFormat::Json => planned.json(),
        PlanFormat::Dot => planned.dot(),
        PlanFormat::Mermaid => planned.mermaid(),
    };
    // Text, DOT and Mermaid are read on a terminal as often as not: escaped. Not redacted: a
    // plan renders no parameter values (the only place a secret may be used) and validation
    // sees a secret only as its marker, while redacting would tell whether any text of the
    // runbook equals the value of the variable a secret names.
    let out = sanitize::unredacted(&out, matches!(args.format, PlanFormat::Json));
    let mut stdout = std::io::stdout().lock();
    if let Err(e) = stdout
        .write_all(out.as_bytes())
        .and_then(|_| stdout.flush())
        && e.kind() != std::io::ErrorKind::BrokenPipe
    {
        return Err(Failure::failed(format!("cannot write the plan: {e}")));
    }
    let findings = planned.findings();
    if findings > 0 {
        errln!(
            "warning: {findings} required recovery step{} need{} a lost Region ({})",
            if findings == 1 { "" } else { "s" },
            if findings == 1 { "s" } else { "" },
            planned.lost_regions.join(", ")
        );
        errln!(
            "  help: recover from the Regions that stay (a step's `region`), use a data-plane switch (`cloudwatch.put_signal` on an alarm a health check follows, or `arc.set_routing_controls` with `endpoints`), or make the step `optional`{}",
            if args.strict {
                ""
            } else {
                " (--strict makes this an error)"
            }
        );
        if args.strict {
            return Ok(ExitCode::Failed);
        }
    }
    match planned.rto_check() {
        Some(c) if !c.within => {
            let d = render::short_duration;
            errln!(
                "warning: the estimated makespan {} exceeds the RTO {} by {}",
                d(c.makespan),
                d(c.rto),
                d(c.over_by())
            );
            errln!(
                "  help: shorten or parallelize the steps on the critical path, or revisit objectives.rto{}",
                if args.strict {
                    ""
                } else {
                    " (--strict makes this an error)"
                }
            );
            Ok(if args.strict {
                ExitCode::Failed
            } else {
                ExitCode::Success
            })
        }
        _ => Ok(ExitCode::Success),
    }
}
