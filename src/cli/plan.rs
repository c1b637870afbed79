//! `drillbook plan FILE [--format text|json|dot|mermaid] [--var k=v] [--strict]`.

use std::io::Write as _;

use super::setup::parse_vars;
use super::{ExitCode, PlanArgs, PlanFormat};
use crate::app::Failure;
use crate::history::{Estimate, EstimateSource, Estimates, MIN_SAMPLES};
use crate::plan::{Plan, render};
use crate::report::sanitize::{self, one_line};
use crate::runbook;

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
    let overrides = parse_vars(&args.vars)?;
    let loaded = match runbook::load_file(&args.file, &overrides) {
        Ok(l) => l,
        Err(diags) => {
            eprintln!("{}", super::diagnostics(&diags, false).trim_end());
            errln!(
                "error: {} is not a valid runbook ({} problem{})",
                one_line(&args.file.display().to_string()),
                diags.len(),
                if diags.len() == 1 { "" } else { "s" }
            );
            return Ok(ExitCode::Invalid);
        }
    };
    let estimates = learned(&args, &loaded.runbook)?;
    let estimated = |p90: bool| match &estimates {
        Some(e) => crate::history::with_estimates(&loaded.runbook, e, p90),
        None => loaded.runbook.clone(),
    };
    let mut runbook_p50 = estimated(false);
    if let PlanFormat::Text = args.format {
        // The runbook's name heads the plan: on one line, whatever it holds.
        runbook_p50.name = one_line(&runbook_p50.name).into_owned();
    }
    // With learned estimates, the RTO is judged on the p90 forecast.
    let plan_p90 = estimates.as_ref().and_then(|_| {
        Plan::build(&estimated(true))
            .ok()
            .map(|p| p.with_max_parallel(args.max_parallel))
    });
    let plan = match Plan::build(&runbook_p50) {
        Ok(p) => p.with_max_parallel(args.max_parallel),
        Err(e) => {
            errln!("{}: error: {e}", one_line(&args.file.display().to_string()));
            return Ok(ExitCode::Invalid);
        }
    };
    let forecast = estimates
        .as_ref()
        .zip(plan_p90.as_ref())
        .map(|(e, p90)| Forecast {
            estimates: e,
            p50: plan.makespan(),
            p90: p90.makespan(),
            rto: p90.rto_check(),
        });
    let lost = &args.lost_regions;
    let needs = crate::plan::regions::needs(&loaded.runbook, lost);
    let findings = needs.iter().filter(|n| n.finding).count();
    let out = match args.format {
        PlanFormat::Text => {
            let mut o = render::text(&plan, &runbook_p50);
            if let Some(f) = &forecast {
                o.push_str(&f.text(&runbook_p50.name));
            }
            if !lost.is_empty() {
                o.push_str(&crate::plan::regions::text(&needs, lost));
            }
            o
        }
        PlanFormat::Json => {
            let text =
                render::json_with(&plan, &runbook_p50, forecast.as_ref().map(Forecast::json));
            match serde_json::from_str::<serde_json::Value>(&text) {
                Ok(mut v) => {
                    v["lost_regions"] = serde_json::json!(lost);
                    v["region_needs"] = serde_json::json!(needs);
                    let mut s = serde_json::to_string_pretty(&v).unwrap_or(text);
                    s.push('\n');
                    s
                }
                Err(_) => text,
            }
        }
        PlanFormat::Dot => render::dot(&plan, &runbook_p50),
        PlanFormat::Mermaid => render::mermaid(&plan, &runbook_p50),
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
    if findings > 0 {
        errln!(
            "warning: {findings} required recovery step{} need{} a lost Region ({})",
            if findings == 1 { "" } else { "s" },
            if findings == 1 { "s" } else { "" },
            lost.join(", ")
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
    let rto_check = match &forecast {
        Some(f) if f.learned() => f.rto,
        _ => plan.rto_check(),
    };
    match rto_check {
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

/// The steps' learned estimates (`None` with `--estimates declared`); exit 2 when `learned` is
/// asked and a step has too few samples, exit 1 when past runs cannot be read.
fn learned(
    args: &PlanArgs,
    runbook: &crate::runbook::Runbook,
) -> Result<Option<Vec<Estimate>>, Failure> {
    if args.estimates == Estimates::Declared {
        return Ok(None);
    }
    let rt = super::runtime()?;
    let history = rt.block_on(args.history.digests()).map_err(|e| {
        Failure::failed(format!("cannot read past runs for learned estimates: {e}"))
            .help("pass --estimates declared to plan without them")
    })?;
    match crate::history::learn(runbook, &history, args.estimates) {
        Ok(e) => Ok(Some(e)),
        Err(short) => Err(Failure::invalid(format!(
            "--estimates learned needs {MIN_SAMPLES} measured runs of every step; too few for: {}",
            short.join(", ")
        ))
        .help("execute the runbook more often, or use --estimates auto")),
    }
}

/// The makespan forecast at p50 and p90 of the learned estimates.
struct Forecast<'a> {
    estimates: &'a [Estimate],
    p50: std::time::Duration,
    p90: std::time::Duration,
    rto: Option<crate::plan::RtoCheck>,
}

impl Forecast<'_> {
    fn learned(&self) -> bool {
        self.estimates
            .iter()
            .any(|e| matches!(e.source, EstimateSource::Learned { .. }))
    }

    fn text(&self, name: &str) -> String {
        use std::fmt::Write as _;
        let d = render::short_duration;
        let mut o = String::new();
        if self.estimates.iter().all(|e| e.samples == 0) {
            // No executed run measured anything yet: nothing to show.
            return o;
        }
        let _ = writeln!(
            o,
            "\nEstimates (learned from executed runs of `{name}` once a step has {MIN_SAMPLES} samples; dry runs do not count):"
        );
        let _ = writeln!(
            o,
            "  {:<24} {:<28} {:>9} {:>9} {:>9} {:>7}  USED",
            "STEP", "ACTION", "DECLARED", "P50", "P90", "SAMPLES"
        );
        for e in self.estimates {
            let opt = |v: Option<std::time::Duration>| v.map(d).unwrap_or_else(|| "-".into());
            let used = match e.source {
                EstimateSource::Declared => "declared".to_string(),
                EstimateSource::Learned { samples } => format!("learned ({samples})"),
            };
            let _ = writeln!(
                o,
                "  {:<24} {:<28} {:>9} {:>9} {:>9} {:>7}  {used}",
                e.step,
                e.action,
                d(e.declared),
                opt(e.p50),
                opt(e.p90),
                e.samples
            );
        }
        if !self.learned() {
            let _ = writeln!(
                o,
                "No step has enough samples yet: the plan uses the declared estimates."
            );
            return o;
        }
        let _ = write!(
            o,
            "Forecast makespan: p50 {}, p90 {}",
            d(self.p50),
            d(self.p90)
        );
        match self.rto {
            Some(c) if c.within => {
                let _ = writeln!(
                    o,
                    " (RTO {}: within at p90, {} to spare)",
                    d(c.rto),
                    d(c.rto - c.makespan)
                );
            }
            Some(c) => {
                let _ = writeln!(
                    o,
                    " (RTO {}: EXCEEDED at p90 by {})",
                    d(c.rto),
                    d(c.over_by())
                );
            }
            None => {
                let _ = writeln!(o);
            }
        }
        o
    }

    fn json(&self) -> serde_json::Value {
        let ms = |d: std::time::Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
        serde_json::json!({
            "min_samples": MIN_SAMPLES,
            "steps": self.estimates,
            "forecast": {
                "p50_ms": ms(self.p50),
                "p90_ms": ms(self.p90),
                "rto_within_at_p90": self.rto.map(|c| c.within),
            },
        })
    }
}
