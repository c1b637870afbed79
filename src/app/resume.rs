//! What resuming a stored run needs to know before the engine takes it over: its mode, its
//! runbook as stored (which AWS access it needs), its name (the lock it runs under) and, for
//! a drill, the scenario and the impairment it started with. The run is read once: the engine
//! goes on from that read, under the lock taken after it.

use super::Failure;
use crate::actions::aws::Impairment;
use crate::event::{Event, Mode};
use crate::runbook::Runbook;
use crate::scenario::Scenario;

/// A stored run, read for its resume.
pub struct Resumable {
    /// The run as read, once: the engine goes on from it.
    pub stored: crate::checkpoint::StoredRun,
    pub mode: Mode,
    /// The runbook as stored, when it still loads (the engine reports why it does not).
    pub runbook: Option<Runbook>,
    /// The runbook's name, else its path: the lock the resumed run takes.
    pub name: String,
    /// The runbook file the run was started with, as given then.
    pub runbook_path: String,
    /// A drill resumes as a drill: the same scenario (unchanged) and the same impairment.
    pub drill: Option<(Scenario, Vec<Impairment>)>,
    /// The key the run's evidence is sealed with, as `run_started` recorded it.
    pub sealed_by: Option<crate::event::SignerInfo>,
    /// For one target of a fleet: `ACCOUNT/REGION` (its lock).
    pub target: Option<String>,
}

/// Reads run `run_id` from the selected store.
pub async fn resumable(session: &super::Session, run_id: &str) -> Result<Resumable, Failure> {
    let store = session.store().await?;
    let stored = store.load(run_id).await?;
    let (mode, sealed_by) = match stored.records.first().map(|r| &r.event) {
        Some(Event::RunStarted {
            mode, sealed_by, ..
        }) => (*mode, sealed_by.clone()),
        _ => (Mode::DryRun, None),
    };
    let runbook = stored.runbook_in_effect().ok().map(|l| l.runbook);
    let name = runbook
        .as_ref()
        .map(|r| r.name.clone())
        .unwrap_or_else(|| stored.runbook_path.clone());
    let drill = super::drill::drill_of(&stored)?;
    let target = stored.records.iter().find_map(|r| match &r.event {
        Event::FleetTarget {
            account, region, ..
        } => Some(format!("{account}/{region}")),
        _ => None,
    });
    Ok(Resumable {
        runbook_path: stored.runbook_path.clone(),
        stored,
        mode,
        runbook,
        name,
        drill,
        sealed_by,
        target,
    })
}
