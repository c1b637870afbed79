//! Reporters: progress on a terminal, plain lines, JSON lines, timing and drill reports.
//! The only module (with `cli/`) that prints.

pub mod bundle;
pub(crate) mod console;
pub mod document;
pub mod fleet;
pub mod fleet_progress;
pub mod html;
pub mod junit;
pub mod markdown;
pub mod sanitize;
pub(crate) mod timing;

pub use console::Console;
pub use document::RunDocument;
pub use timing::TimingReport;

/// Writes `report.html`, `report.md`, `report.json` and `junit.xml` for `doc` into `dir`
/// (created with its parents), and returns their paths. Each file is written to a temporary
/// name first and renamed, so a reader never sees half a report.
pub fn write_all(
    dir: &std::path::Path,
    doc: &RunDocument,
) -> Result<Vec<std::path::PathBuf>, std::io::Error> {
    std::fs::create_dir_all(dir)?;
    let json = serde_json::to_string_pretty(doc).map_err(std::io::Error::other)? + "\n";
    let files = [
        ("report.html", html::render(doc)),
        ("report.md", markdown::render(doc)),
        ("report.json", json),
        ("junit.xml", junit::render(doc)),
    ];
    let mut written = Vec::with_capacity(files.len());
    for (name, text) in files {
        let path = dir.join(name);
        let tmp = dir.join(format!(".{name}.tmp"));
        // Reports come from the journal (already redacted) and the runbook as loaded.
        std::fs::write(&tmp, crate::secret::redact(&text).as_bytes())?;
        std::fs::rename(&tmp, &path)?;
        written.push(path);
    }
    Ok(written)
}
