//! `drillbook runs` and `drillbook report RUN_ID`: past runs, from their journals.

use std::path::Path;

use super::{ExitCode, ReportArgs, ReportFormat, RunsArgs};
use crate::checkpoint::{CheckpointError, CheckpointStore, StoredRun};
use crate::report::{RunDocument, TimingReport, html, junit, markdown};
use crate::runbook::Runbook;

/// The journal store for `--state-dir`.
// SHIM: until `checkpoint::file::FileStore` lands, a read-only reader of the same on-disk layout
// (see `store_shim`). Replace with `crate::checkpoint::file::FileStore::new(dir)`.
fn open_store(state_dir: &Path) -> impl CheckpointStore {
    store_shim::JournalDir::new(state_dir)
}

fn block_on<F: std::future::Future>(f: F) -> Result<F::Output, ExitCode> {
    match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => Ok(rt.block_on(f)),
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            Err(ExitCode::Failed)
        }
    }
}

fn report_store_error(e: &CheckpointError, state_dir: &Path) -> ExitCode {
    eprintln!("error: {e}");
    match e {
        CheckpointError::NotFound(_) => {
            eprintln!(
                "help: list the runs with `drillbook runs --state-dir {}`",
                state_dir.display()
            );
            ExitCode::Invalid
        }
        CheckpointError::Corrupt { .. } => {
            eprintln!(
                "help: the journal was changed or cut short after it was written; keep a copy for investigation"
            );
            ExitCode::Failed
        }
        _ => ExitCode::Failed,
    }
}

/// `drillbook runs`.
pub(super) fn runs(args: RunsArgs) -> ExitCode {
    let store = open_store(&args.state_dir);
    let list = match block_on(store.list()) {
        Ok(Ok(l)) => l,
        Ok(Err(e)) => return report_store_error(&e, &args.state_dir),
        Err(code) => return code,
    };
    if list.is_empty() {
        println!("no runs in {}", args.state_dir.display());
        return ExitCode::Success;
    }
    print!("{}", runs_table(&list));
    ExitCode::Success
}

/// The table printed by `drillbook runs` (newest first, as the store lists them).
pub fn runs_table(list: &[crate::checkpoint::RunSummary]) -> String {
    let rows: Vec<[String; 5]> = list
        .iter()
        .map(|r| {
            [
                r.run_id.clone(),
                r.runbook.clone(),
                r.started_at.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
                match r.mode {
                    crate::event::Mode::DryRun => "dry-run".into(),
                    crate::event::Mode::Execute => "execute".into(),
                },
                r.status.clone(),
            ]
        })
        .collect();
    let head = ["RUN ID", "RUNBOOK", "STARTED", "MODE", "STATUS"];
    let mut w = head.map(|h| h.chars().count());
    for r in &rows {
        for (k, c) in r.iter().enumerate() {
            w[k] = w[k].max(c.chars().count());
        }
    }
    let line = |cells: [&str; 5]| {
        let mut s = String::new();
        for (k, c) in cells.iter().enumerate() {
            if k + 1 == cells.len() {
                s.push_str(c);
            } else {
                s.push_str(&format!("{c:<width$}  ", width = w[k]));
            }
        }
        s.push('\n');
        s
    };
    let mut out = line(head);
    for r in &rows {
        out.push_str(&line([&r[0], &r[1], &r[2], &r[3], &r[4]]));
    }
    out
}

/// `drillbook report RUN_ID`.
pub(super) fn report(args: ReportArgs) -> ExitCode {
    let store = open_store(&args.state_dir);
    let run = match block_on(store.load(&args.run_id)) {
        Ok(Ok(r)) => r,
        Ok(Err(e)) => return report_store_error(&e, &args.state_dir),
        Err(code) => return code,
    };
    let runbook = runbook_of(&run);
    let document = || {
        let mut doc = RunDocument::build(&run, &runbook);
        // The head of the chain from the journal's own bytes, when the file is there.
        let journal = args
            .state_dir
            .join("runs")
            .join(&run.run_id)
            .join("journal.jsonl");
        if let Ok(bytes) = std::fs::read(journal) {
            doc.set_journal_bytes(&bytes);
        }
        doc
    };
    let default_name = format!("drillbook-report-{}", run.run_id);
    let (name, text) = match args.format {
        ReportFormat::Text => (
            "report.txt",
            TimingReport::from_journal(&run, &runbook).render_text(),
        ),
        ReportFormat::Json => match serde_json::to_string_pretty(&document()) {
            Ok(s) => ("report.json", s + "\n"),
            Err(e) => {
                eprintln!("error: cannot write the report as JSON: {e}");
                return ExitCode::Failed;
            }
        },
        ReportFormat::Markdown => ("report.md", markdown::render(&document())),
        ReportFormat::Junit => ("junit.xml", junit::render(&document())),
        ReportFormat::Html => ("report.html", html::render(&document())),
        ReportFormat::All => {
            let dir = args
                .output
                .clone()
                .unwrap_or_else(|| std::path::PathBuf::from(&default_name));
            return match crate::report::write_all(&dir, &document()) {
                Ok(paths) => {
                    for p in paths {
                        println!("wrote {}", p.display());
                    }
                    ExitCode::Success
                }
                Err(e) => write_error(&dir, &e),
            };
        }
    };
    let path = match (&args.output, args.format) {
        (Some(dir), _) => {
            if let Err(e) = std::fs::create_dir_all(dir) {
                return write_error(dir, &e);
            }
            dir.join(name)
        }
        (None, ReportFormat::Html) => std::path::PathBuf::from(format!("{default_name}.html")),
        (None, _) => {
            print!("{text}");
            return ExitCode::Success;
        }
    };
    match std::fs::write(&path, text) {
        Ok(()) => {
            println!("wrote {}", path.display());
            ExitCode::Success
        }
        Err(e) => write_error(&path, &e),
    }
}

fn write_error(path: &Path, e: &std::io::Error) -> ExitCode {
    eprintln!("error: cannot write the report to {}: {e}", path.display());
    eprintln!("help: choose a writable directory with `--output DIR`");
    ExitCode::Failed
}

/// The runbook as it was run, parsed from the text stored with the run. When it no longer
/// parses (an older drillbook wrote it), the report is built from the journal alone.
fn runbook_of(run: &StoredRun) -> Runbook {
    let vars: Vec<(String, String)> = run
        .vars
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    match crate::runbook::load_str(Path::new(&run.runbook_path), &run.runbook_text, &vars) {
        Ok(l) => l.runbook,
        Err(d) => {
            eprintln!(
                "warning: the runbook stored with run `{}` does not load: {d}",
                run.run_id
            );
            eprintln!(
                "help: the report below comes from the journal alone (no dependencies, no RTO)"
            );
            Runbook {
                name: run.runbook_path.clone(),
                description: None,
                objectives: Default::default(),
                vars: run.vars.clone(),
                accounts: Default::default(),
                allow_self_approval: false,
                steps: vec![],
                finally: vec![],
            }
        }
    }
}

/// SHIM (remove when `checkpoint::file::FileStore` is on main): reads
/// `<state-dir>/runs/<run-id>/{journal.jsonl,runbook.yaml,runbook.sha256,vars.json}`,
/// verifying the hash chain. Read-only.
mod store_shim {
    use std::collections::BTreeMap;
    use std::path::{Path, PathBuf};

    use crate::checkpoint::{
        CheckpointError, CheckpointStore, Entry, GENESIS, NewRun, Record, RunSummary, StoredRun,
    };
    use crate::event::RunStatus;

    pub struct JournalDir {
        root: PathBuf,
    }

    impl JournalDir {
        pub fn new(state_dir: &Path) -> JournalDir {
            JournalDir {
                root: state_dir.to_path_buf(),
            }
        }

        fn run_dir(&self, run_id: &str) -> PathBuf {
            self.root.join("runs").join(run_id)
        }
    }

    fn io(path: &Path) -> impl FnOnce(std::io::Error) -> CheckpointError + '_ {
        move |source| CheckpointError::Io {
            path: path.display().to_string(),
            source,
        }
    }

    fn read_records(run_id: &str, path: &Path) -> Result<Vec<Record>, CheckpointError> {
        let text = std::fs::read_to_string(path).map_err(io(path))?;
        let mut prev = GENESIS.to_string();
        let mut out = Vec::new();
        for (k, line) in text.lines().enumerate() {
            let corrupt = |seq: u64, reason: String| CheckpointError::Corrupt {
                run_id: run_id.to_string(),
                seq,
                line: k + 1,
                reason,
            };
            let rec: Record = serde_json::from_str(line)
                .map_err(|e| corrupt(out.len() as u64, format!("not a record: {e}")))?;
            if rec.prev != prev {
                return Err(corrupt(
                    rec.seq,
                    "hash chain broken (`prev` is not the hash of the line before)".into(),
                ));
            }
            // Consecutive numbers, whatever the first one is.
            let expected = out.first().map(|f: &Record| f.seq + out.len() as u64);
            if expected.is_some_and(|e| rec.seq != e) {
                return Err(corrupt(
                    rec.seq,
                    format!("expected seq {}", expected.unwrap_or_default()),
                ));
            }
            prev = crate::runbook::load::sha256_hex(line.as_bytes());
            out.push(rec);
        }
        if out.is_empty() {
            return Err(CheckpointError::Corrupt {
                run_id: run_id.to_string(),
                seq: 0,
                line: 1,
                reason: "empty journal".into(),
            });
        }
        Ok(out)
    }

    pub fn status_of(records: &[Record]) -> &'static str {
        let mut status = "running";
        for r in records {
            match &r.entry {
                Entry::RunResumed { .. } => status = "running",
                Entry::RunPaused { .. } => status = "paused",
                Entry::RunFinished { status: s } => {
                    status = match s {
                        RunStatus::Succeeded => "succeeded",
                        RunStatus::Failed => "failed",
                        RunStatus::Paused => "paused",
                    }
                }
                _ => {}
            }
        }
        status
    }

    #[async_trait::async_trait]
    impl CheckpointStore for JournalDir {
        async fn create(&self, _run: &NewRun, _first: Entry) -> Result<(), CheckpointError> {
            Err(CheckpointError::Store("read-only journal reader".into()))
        }

        async fn append(&self, _run_id: &str, _e: Vec<Entry>) -> Result<(), CheckpointError> {
            Err(CheckpointError::Store("read-only journal reader".into()))
        }

        async fn load(&self, run_id: &str) -> Result<StoredRun, CheckpointError> {
            let dir = self.run_dir(run_id);
            if run_id.is_empty() || run_id.contains(['/', '\\']) || !dir.is_dir() {
                return Err(CheckpointError::NotFound(run_id.to_string()));
            }
            let records = read_records(run_id, &dir.join("journal.jsonl"))?;
            let rb = dir.join("runbook.yaml");
            let runbook_text = std::fs::read_to_string(&rb).map_err(io(&rb))?;
            let sha = dir.join("runbook.sha256");
            let runbook_sha256 = std::fs::read_to_string(&sha)
                .map(|s| s.trim().to_string())
                .unwrap_or_default();
            let vp = dir.join("vars.json");
            let vars: BTreeMap<String, String> = match std::fs::read_to_string(&vp) {
                Ok(t) => serde_json::from_str(&t).map_err(|e| CheckpointError::Corrupt {
                    run_id: run_id.to_string(),
                    seq: 0,
                    line: 0,
                    reason: format!("vars.json: {e}"),
                })?,
                Err(_) => BTreeMap::new(),
            };
            let runbook_path = match &records[0].entry {
                Entry::RunStarted { runbook, .. } => runbook.clone(),
                _ => "runbook.yaml".into(),
            };
            Ok(StoredRun {
                run_id: run_id.to_string(),
                runbook_text,
                runbook_path,
                runbook_sha256,
                vars,
                records,
            })
        }

        async fn list(&self) -> Result<Vec<RunSummary>, CheckpointError> {
            let runs = self.root.join("runs");
            let entries = match std::fs::read_dir(&runs) {
                Ok(e) => e,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(vec![]),
                Err(e) => return Err(io(&runs)(e)),
            };
            let mut out = Vec::new();
            for e in entries.flatten() {
                let run_id = e.file_name().to_string_lossy().into_owned();
                let path = e.path().join("journal.jsonl");
                let Ok(records) = read_records(&run_id, &path) else {
                    continue;
                };
                if let Entry::RunStarted { runbook, mode, .. } = &records[0].entry {
                    out.push(RunSummary {
                        run_id,
                        runbook: runbook.clone(),
                        started_at: records[0].at,
                        mode: *mode,
                        status: status_of(&records).into(),
                    });
                }
            }
            out.sort_by(|a, b| {
                b.started_at
                    .cmp(&a.started_at)
                    .then_with(|| b.run_id.cmp(&a.run_id))
            });
            Ok(out)
        }
    }
}
