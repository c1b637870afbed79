//! Past runs, read from the store: the list `runs` shows and one run's reports (`report`).

use super::{Failure, Session};
use crate::checkpoint::view::RunView;
use crate::checkpoint::{CheckpointError, RunSummary, StoredRun};
use crate::report::RunDocument;
use crate::runbook::Runbook;

/// One stored run, ready to render.
pub struct StoredReport {
    pub run_id: String,
    /// The run's read model.
    pub view: RunView,
    /// The run document every file report is rendered from.
    pub document: RunDocument,
    /// Set when the stored runbook no longer loads: the reports come from the journal alone.
    pub warning: Option<String>,
}

impl Session {
    /// Every run in the store, newest first.
    pub async fn runs(&self) -> Result<Vec<RunSummary>, Failure> {
        let store = self.store().await?;
        store.list().await.map_err(|e| self.store_failure(&e))
    }

    /// Run `run_id` as its reports tell it.
    pub async fn stored_report(&self, run_id: &str) -> Result<StoredReport, Failure> {
        let store = self.store().await?;
        let run = store
            .load(run_id)
            .await
            .map_err(|e| self.store_failure(&e))?;
        let (runbook, warning) = runbook_of(&run);
        let mut document = RunDocument::build(&run, &runbook);
        // The head of the chain from the journal's own bytes, when the file is there.
        let journal = crate::checkpoint::file::FileStore::new(&self.settings.state.dir)
            .journal_path(&run.run_id);
        if let Ok(bytes) = std::fs::read(journal) {
            document.set_journal_bytes(&bytes);
        }
        Ok(StoredReport {
            run_id: run.run_id.clone(),
            view: RunView::build(&run, &runbook),
            document,
            warning,
        })
    }

    /// A store's error, with what to do about it.
    fn store_failure(&self, e: &CheckpointError) -> Failure {
        let location = match &self.settings.state.url {
            Some(url) => format!("--state '{url}'"),
            None => format!("--state-dir {}", self.settings.state.dir.display()),
        };
        match e {
            CheckpointError::NotFound(_) => Failure::invalid(e.to_string())
                .help(format!("list the runs with `drillbook runs {location}`")),
            CheckpointError::Corrupt { .. } => Failure::failed(e.to_string()).help(
                "the journal was changed or cut short after it was written; keep a copy for \
                 investigation",
            ),
            _ => Failure::failed(e.to_string()),
        }
    }
}

/// The runbook the run goes on with (after a forced resume, the one it recorded), with the
/// variables in effect. When it no longer parses (an older drillbook wrote it), the report is
/// built from the journal alone, and the warning says so.
fn runbook_of(run: &StoredRun) -> (Runbook, Option<String>) {
    match run.runbook_in_effect() {
        Ok(l) => (l.runbook, None),
        Err(d) => (
            Runbook {
                name: run.runbook_path.clone(),
                description: None,
                objectives: Default::default(),
                vars: run.vars.clone(),
                accounts: Default::default(),
                allow_self_approval: false,
                approvers: Default::default(),
                secrets: Default::default(),
                steps: vec![],
                finally: vec![],
            },
            Some(format!(
                "the runbook stored with run `{}` does not load: {d}",
                run.run_id
            )),
        ),
    }
}
