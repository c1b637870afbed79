//! `drillbook run RUNBOOK --accounts ... --regions ...` and `drillbook resume FLEET_ID`: a
//! runbook across targets, with one progress line per target event that matters and the fleet
//! report at the end.

use super::setup::Shown;
use super::{DrillArgs, ExitCode, MessageFormat, ResumeArgs, RunArgs, runtime};
use crate::app::fleet::{FleetDrill, FleetRecord, FleetSpec, TargetRecord};
use crate::app::targets::Targets;
use crate::app::{Failure, Session};
use crate::event::{Event, EventSink, Mode};
use crate::report::fleet_progress::FleetProgress;
use crate::report::sanitize::one_line;
use std::sync::Arc;

pub(super) fn run(
    args: &RunArgs,
    overrides: &[(String, String)],
    targets: &Targets,
) -> Result<ExitCode, Failure> {
    let mode = mode(args.execute, args.yes)?;
    let format = args.exec.message_format;
    let session = Session::new(args.exec.settings()?);
    let rt = runtime()?;
    let spec = rt.block_on(resolve(&session, targets))?;
    let progress = Arc::new(FleetProgress::detect(
        spec.accounts.len() * spec.regions.len(),
    ));
    let record = rt.block_on(session.run_fleet(
        &args.file,
        overrides,
        &spec,
        mode,
        &|t| sink(format, &progress, t),
        &Shown(format),
    ));
    progress.finish();
    Ok(show(&record?, format, &session))
}

/// `drillbook drill SCENARIO --accounts ... --regions ...` (or the scenario's `targets:`): the
/// scenario drilled in every target, each a drill run of its own.
pub(super) fn drill(
    args: &DrillArgs,
    scenario: &crate::app::Scenario,
    cli_vars: &[(String, String)],
    targets: &Targets,
) -> Result<ExitCode, Failure> {
    let mode = mode(args.execute, args.yes)?;
    let format = args.exec.message_format;
    let session = Session::new(args.exec.settings()?);
    let rt = runtime()?;
    let spec = rt.block_on(resolve(&session, targets))?;
    let drill = FleetDrill {
        scenario,
        root: args.root.as_deref(),
    };
    let progress = Arc::new(FleetProgress::detect(
        spec.accounts.len() * spec.regions.len(),
    ));
    let record = rt.block_on(session.drill_fleet(
        drill,
        cli_vars,
        &spec,
        mode,
        &|t| sink(format, &progress, t),
        &Shown(format),
    ));
    progress.finish();
    Ok(show(&record?, format, &session))
}

/// The mode of a run across accounts: `--execute` is confirmed with `--yes`, not target by
/// target.
fn mode(execute: bool, yes: bool) -> Result<Mode, Failure> {
    let mode = if execute { Mode::Execute } else { Mode::DryRun };
    if mode == Mode::Execute && !yes && std::io::IsTerminal::is_terminal(&std::io::stdin()) {
        return Err(Failure::invalid(
            "an `--execute` run across accounts is not confirmed target by target",
        )
        .help("run it first without --execute (a dry run of every target), then add --yes"));
    }
    Ok(mode)
}

/// The accounts (OUs listed through AWS Organizations) before any target starts; the
/// accounts left out as suspended or closed are told, by id and name.
async fn resolve(session: &Session, targets: &Targets) -> Result<FleetSpec, Failure> {
    let spec = session.resolve_targets(targets).await?;
    for s in &spec.skipped {
        errln!(
            "[{} ({})] skipped: {}",
            one_line(&s.account),
            one_line(&s.name),
            one_line(&s.reason)
        );
    }
    Ok(spec)
}

pub(super) fn resume(args: &ResumeArgs) -> Result<ExitCode, Failure> {
    let format = args.exec.message_format;
    let session = Session::new(args.exec.settings()?);
    // The targets that did not succeed are the ones it runs.
    let left = session
        .load_fleet(&args.run_id)?
        .targets
        .iter()
        .filter(|t| t.status != "succeeded")
        .count();
    let progress = Arc::new(FleetProgress::detect(left));
    let record = runtime()?.block_on(session.resume_fleet(
        &args.run_id,
        &|t| sink(format, &progress, t),
        &Shown(format),
    ));
    progress.finish();
    Ok(show(&record?, format, &session))
}

/// The fleet report on stdout (people) and where its files are.
fn show(record: &FleetRecord, format: MessageFormat, session: &Session) -> ExitCode {
    if format == MessageFormat::Human {
        outln!("{}", crate::report::fleet::text(record));
    }
    let dir = session
        .settings
        .state
        .dir
        .join("fleets")
        .join(&record.fleet_id);
    errln!(
        "fleet {}: {} (reports: fleet.txt, report.json, report.html, junit.xml; sealed by manifest.json; in {})",
        record.fleet_id,
        crate::report::fleet::totals(record),
        dir.display()
    );
    let code = crate::app::fleet::exit_code(record);
    if code != ExitCode::Success {
        errln!(
            "run again every target that did not succeed with:\n  drillbook resume {}{}",
            record.fleet_id,
            session.settings.location_flag()
        );
    }
    code
}

/// A target's progress: on the fleet's progress (a line per running target and the totals on a
/// terminal, plain lines otherwise), or every event as a JSON line carrying the target.
fn sink(
    format: MessageFormat,
    progress: &Arc<FleetProgress>,
    t: &TargetRecord,
) -> crate::app::SinkFor<'static> {
    let label = TargetLines {
        format,
        progress: progress.clone(),
        account: t.account.clone(),
        region: t.region.clone(),
    };
    Box::new(move |_sign_with: &str| Arc::new(label) as Arc<dyn EventSink>)
}

struct TargetLines {
    format: MessageFormat,
    progress: Arc<FleetProgress>,
    account: String,
    region: String,
}

impl EventSink for TargetLines {
    fn emit(&self, at: chrono::DateTime<chrono::Utc>, event: &Event) {
        if self.format == MessageFormat::Json {
            // The stream's own line (docs/events.md), with the target it belongs to.
            let Some(line) = crate::report::console::json_line(at, event) else {
                return;
            };
            let mut v: serde_json::Value = serde_json::from_str(&line).unwrap_or_default();
            if let Some(o) = v.as_object_mut() {
                o.insert(
                    "target".into(),
                    serde_json::json!({ "account": self.account, "region": self.region }),
                );
            }
            outln!("{v}");
            return;
        }
        self.progress.event(&self.account, &self.region, event);
    }
}
