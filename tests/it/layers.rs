//! The house as DESIGN.md draws it: every `crate::` or `super::` path in `src/` runs from a
//! module to one on a lower floor, and no two modules (top-level, or siblings one level down)
//! import each other. Test modules (`#[cfg(test)] mod tests`) may reach anywhere.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Floors, lowest first. A module may use modules on its own floor's lower floors only.
const FLOORS: &[&[&str]] = &[
    // The ground floor: plain data and helpers every layer above shares.
    &["duration", "dag", "template", "secret"],
    &["catalog"],
    &["event"],
    &["runbook"],
    &["actions", "plan"],
    &["scenario"],
    &["checkpoint"],
    &["evidence"],
    &["engine", "report"],
    &["history"],
    &["app"],
    &["cli"],
];

fn floor(module: &str) -> Option<usize> {
    FLOORS.iter().position(|f| f.contains(&module))
}

/// Module path of a file under `src/` (`src/cli/run.rs` -> `["cli", "run"]`).
fn module_of(rel: &Path) -> Vec<String> {
    let mut parts: Vec<String> = rel
        .with_extension("")
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if matches!(
        parts.last().map(String::as_str),
        Some("mod" | "lib" | "main")
    ) {
        parts.pop();
    }
    parts
}

/// The module paths a source text names after `prefix` (`crate::` or `super::`).
fn paths_after<'t>(text: &'t str, prefix: &str) -> Vec<Vec<&'t str>> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find(prefix) {
        let before = rest[..i].chars().next_back();
        rest = &rest[i + prefix.len()..];
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':') {
            continue;
        }
        let path: Vec<&str> = rest
            .split("::")
            .map(|seg| {
                let end = seg
                    .find(|c: char| !(c.is_ascii_lowercase() || c == '_' || c.is_ascii_digit()))
                    .unwrap_or(seg.len());
                &seg[..end]
            })
            .take_while(|s| !s.is_empty())
            .collect();
        if !path.is_empty() {
            out.push(path);
        }
    }
    out
}

/// Edges `module -> module it uses`, at `depth` path segments.
fn imports(depth: usize) -> BTreeMap<String, BTreeSet<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut stack = vec![src.clone()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let full = module_of(path.strip_prefix(&src).unwrap());
            if full.is_empty() {
                continue; // the crate root declares the modules
            }
            let text = std::fs::read_to_string(&path).unwrap();
            let code = text
                .split("#[cfg(test)]\nmod tests")
                .next()
                .unwrap_or_default();
            // Doc comments name paths without importing them.
            let code: String = code
                .lines()
                .filter(|l| !l.trim_start().starts_with("//"))
                .collect::<Vec<_>>()
                .join("\n");
            let parent = &full[..full.len().saturating_sub(1)];
            let mut targets: Vec<Vec<String>> = paths_after(&code, "crate::")
                .into_iter()
                .map(|p| p.iter().map(|s| s.to_string()).collect())
                .collect();
            for p in paths_after(&code, "super::") {
                let mut t = parent.to_vec();
                t.extend(p.iter().map(|s| s.to_string()));
                targets.push(t);
            }
            let from = full
                .iter()
                .take(depth)
                .cloned()
                .collect::<Vec<_>>()
                .join("::");
            for t in targets {
                let to = t.iter().take(depth).cloned().collect::<Vec<_>>().join("::");
                let nested =
                    from.starts_with(&format!("{to}::")) || to.starts_with(&format!("{from}::"));
                if !to.is_empty() && to != from && !nested {
                    edges.entry(from.clone()).or_default().insert(to);
                }
            }
        }
    }
    edges
}

#[test]
fn no_two_modules_import_each_other() {
    for depth in [1, 2] {
        let edges = imports(depth);
        let mut pairs = Vec::new();
        for (a, bs) in &edges {
            for b in bs {
                if a < b && edges.get(b).is_some_and(|x| x.contains(a)) {
                    pairs.push(format!("{a} <-> {b}"));
                }
            }
        }
        assert!(pairs.is_empty(), "at depth {depth}: {pairs:#?}");
    }
}

#[test]
fn every_import_runs_to_a_lower_floor() {
    let edges = imports(1);
    let mut wrong = Vec::new();
    for (from, tos) in &edges {
        let Some(f) = floor(from) else {
            wrong.push(format!(
                "`{from}` is on no floor: add it to FLOORS (and DESIGN.md)"
            ));
            continue;
        };
        for to in tos {
            match floor(to) {
                Some(t) if t < f => {}
                Some(_) => wrong.push(format!("`{from}` uses `{to}`, which is not below it")),
                None => wrong.push(format!("`{to}` is on no floor")),
            }
        }
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
}

/// The command line's layer: every command imports only the application layer, the events and
/// the renderers (and the duration formatting).
#[test]
fn the_command_line_imports_only_the_application_layer() {
    const ALLOWED: &[&str] = &["app", "event", "report", "duration", "plan::render"];
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/cli");
    let mut wrong = vec![];
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        let text = std::fs::read_to_string(&path).unwrap();
        for (i, _) in text.match_indices("crate::") {
            let rest = &text[i + "crate::".len()..];
            let allowed = ALLOWED.iter().any(|m| {
                rest.starts_with(&format!("{m}::"))
                    || rest.starts_with(&format!("{m};"))
                    || rest.starts_with(&format!("{m}}}"))
            });
            if !allowed {
                let module: String = rest
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                wrong.push(format!("src/cli/{name}: crate::{module}"));
            }
        }
    }
    wrong.sort();
    wrong.dedup();
    assert!(
        wrong.is_empty(),
        "the command line reaches past the application layer:\n{}",
        wrong.join("\n")
    );
}
