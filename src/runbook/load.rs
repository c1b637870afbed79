//! Loading runbooks: read the file (bounded), parse YAML into a located tree, validate.
//!
//! The public API here is the contract the rest of drillbook uses: [`load_file`],
//! [`load_str`], [`Loaded`], [`Diagnostics`], [`sha256_hex`].

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use sha2::{Digest, Sha256};

use super::diag::Source;
pub use super::diag::{Diagnostics, Problem};
use super::model::Runbook;
use super::{validate, yaml};

/// Largest runbook file accepted, checked before parsing.
pub const MAX_FILE_SIZE: u64 = 4 * 1024 * 1024;

/// A runbook with its source.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub runbook: Runbook,
    /// The file's text, as read.
    pub text: String,
    pub path: PathBuf,
    /// Hex SHA-256 of `text`.
    pub sha256: String,
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

fn too_large(path: &Path, size: u64) -> Diagnostics {
    Diagnostics::single(Problem::general(
        format!(
            "{}: file too large ({size} bytes; the limit is {} MiB)",
            path.display(),
            MAX_FILE_SIZE / (1024 * 1024)
        ),
        Some("a runbook is a small YAML file; check that this is the right file".into()),
    ))
}

/// Reads and validates a runbook file. `overrides` are `--var k=v` pairs.
pub fn load_file(path: &Path, overrides: &[(String, String)]) -> Result<Loaded, Diagnostics> {
    let text = read_text(path)?;
    load_str(path, &text, overrides)
}

/// Reads a runbook or scenario file: bounded in size, UTF-8 (a bad byte is located).
pub fn read_text(path: &Path) -> Result<String, Diagnostics> {
    let cannot_read = |e: std::io::Error| {
        Diagnostics::single(Problem::general(
            format!("{}: cannot read: {e}", path.display()),
            Some("check the path and the file's permissions".into()),
        ))
    };
    let file = std::fs::File::open(path).map_err(cannot_read)?;
    if let Ok(meta) = file.metadata() {
        if meta.is_dir() {
            return Err(Diagnostics::single(Problem::general(
                format!("{}: is a directory", path.display()),
                Some("give the path of a runbook file".into()),
            )));
        }
        if meta.len() > MAX_FILE_SIZE {
            return Err(too_large(path, meta.len()));
        }
    }
    let mut bytes = Vec::new();
    file.take(MAX_FILE_SIZE + 1)
        .read_to_end(&mut bytes)
        .map_err(cannot_read)?;
    if bytes.len() as u64 > MAX_FILE_SIZE {
        return Err(too_large(path, bytes.len() as u64));
    }
    String::from_utf8(bytes).map_err(|e| {
        let at = e.utf8_error().valid_up_to();
        let bytes = e.into_bytes();
        let prefix = String::from_utf8_lossy(&bytes[..at]).into_owned();
        let src = Source::new(path.display().to_string(), Arc::from(prefix));
        Diagnostics::single(Problem::at(
            &src,
            yaml::Span::new(at, at),
            format!(
                "not UTF-8: invalid byte 0x{:02x} at byte offset {at}",
                bytes[at]
            ),
            "invalid UTF-8 here",
            Some("save the file as UTF-8 text".into()),
        ))
    })
}

/// Runs `f`, turning a panic into a diagnostic instead of a crash.
fn guarded<T>(path: &Path, f: impl FnOnce() -> Result<T, Diagnostics>) -> Result<T, Diagnostics> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).unwrap_or_else(|_| {
        Err(Diagnostics::single(Problem::general(
            format!("{}: the YAML parser failed on this file", path.display()),
            Some("this is a bug in drillbook; please report it with the file".into()),
        )))
    })
}

/// Parses YAML text into a located tree, within the size, depth and node limits; every
/// failure is a located diagnostic. Runbooks and scenarios both start here.
pub fn parse_tree(path: &Path, text: &str) -> Result<(Source, yaml::Parsed), Diagnostics> {
    if text.len() as u64 > MAX_FILE_SIZE {
        return Err(too_large(path, text.len() as u64));
    }
    let src = Source::new(path.display().to_string(), Arc::from(text));
    if let Some(at) = text.find('\0') {
        return Err(Diagnostics::single(Problem::at(
            &src,
            yaml::Span::new(at, at + 1),
            format!("NUL byte at byte offset {at}"),
            "NUL byte",
            Some("a runbook is plain text; this looks like a binary file".into()),
        )));
    }
    let parsed = guarded(path, || {
        yaml::parse(text).map_err(|e| {
            // An error at the very end is best shown on the last written character.
            let content_end = text.trim_end().len();
            let at = if e.at >= content_end && content_end > 0 {
                text[..content_end]
                    .char_indices()
                    .next_back()
                    .map_or(0, |(i, _)| i)
            } else {
                e.at
            };
            Diagnostics::single(Problem::at(
                &src,
                yaml::Span::new(at, at),
                e.message,
                "here",
                Some(e.help),
            ))
        })
    })?;
    Ok((src, parsed))
}

/// Validates runbook text; `path` is used in messages. A problem with a value an override
/// changed is blamed on `--var NAME=VALUE`.
pub fn load_str(
    path: &Path,
    text: &str,
    overrides: &[(String, String)],
) -> Result<Loaded, Diagnostics> {
    load_str_blaming(path, text, overrides, &std::collections::BTreeSet::new())
}

/// [`load_str`], where the overrides named in `from_scenario` come from a scenario's `vars:`
/// (a problem with their value is blamed on the scenario, not on `--var`).
pub fn load_str_blaming(
    path: &Path,
    text: &str,
    overrides: &[(String, String)],
    from_scenario: &std::collections::BTreeSet<String>,
) -> Result<Loaded, Diagnostics> {
    load_checked(
        path,
        text,
        overrides,
        from_scenario,
        validate::Values::Required,
    )
}

/// A runbook read for its shape only (its variables' names and its steps, to check a scenario
/// against it): a required variable without a value is no problem here.
pub fn load_shape(path: &Path, text: &str) -> Result<Loaded, Diagnostics> {
    load_checked(
        path,
        text,
        &[],
        &std::collections::BTreeSet::new(),
        validate::Values::Optional,
    )
}

fn load_checked(
    path: &Path,
    text: &str,
    overrides: &[(String, String)],
    from_scenario: &std::collections::BTreeSet<String>,
    values: validate::Values,
) -> Result<Loaded, Diagnostics> {
    let (src, parsed) = parse_tree(path, text)?;
    if let Some(d) = wrong_kind(&src, parsed.root.as_ref(), path, Kind::Runbook) {
        return Err(d);
    }
    let runbook = guarded(path, || {
        validate::build(
            &src,
            parsed.root.as_ref(),
            &parsed.duplicates,
            overrides,
            from_scenario,
            values,
        )
    })?;
    Ok(Loaded {
        runbook,
        text: text.to_string(),
        path: path.to_path_buf(),
        sha256: sha256_hex(text.as_bytes()),
    })
}

/// The `targets:` of a runbook or scenario file (`None` when it has none), every problem
/// located in `text`. Read from the file as written, before a target's values are put in.
pub fn targets_of(path: &Path, text: &str) -> Result<Option<super::Targets>, Diagnostics> {
    let (src, parsed) = parse_tree(path, text)?;
    let Some(yaml::Node {
        value: yaml::Value::Map(entries),
        ..
    }) = parsed.root.as_ref()
    else {
        return Ok(None);
    };
    let Some((k, n)) = entries
        .iter()
        .find(|(k, _)| k.scalar().is_some_and(|s| s.text == "targets"))
    else {
        return Ok(None);
    };
    match validate::targets::read(&src, k, n) {
        (Some(t), p) if p.is_empty() => Ok(Some(t)),
        (_, problems) => Err(Diagnostics {
            problems,
            omitted: 0,
        }),
    }
}

/// The two kinds of file drillbook reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// Has `steps:`; `run`, `plan` and `iam-policy` take it.
    Runbook,
    /// Has `runbook:` (and no `steps:`); `drill` takes it.
    Scenario,
}

/// When the document is the other kind of file than the command takes (a scenario given to
/// `run`, a runbook given to `drill`): one problem at the key that shows its kind, naming the
/// command that takes it, instead of every field the other kind does not have.
pub(crate) fn wrong_kind(
    src: &Source,
    root: Option<&yaml::Node>,
    path: &Path,
    expected: Kind,
) -> Option<Diagnostics> {
    let yaml::Value::Map(entries) = &root?.value else {
        return None;
    };
    let key = |name: &str| {
        entries
            .iter()
            .find(|(k, _)| k.scalar().is_some_and(|s| s.text == name))
            .map(|(k, _)| k.span)
    };
    let file = path.display().to_string();
    let file = if file
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "-_./".contains(c))
    {
        file
    } else {
        format!("'{}'", file.replace('\'', "'\\''"))
    };
    let (span, message, label, help) = match (expected, key("steps"), key("runbook")) {
        (Kind::Scenario, Some(at), None) => (
            at,
            "this is a runbook (it has `steps:`), not a scenario".to_string(),
            "a runbook's steps",
            format!(
                "a drill takes a scenario (`version`, `name`, `runbook:` naming this file, \
                 `impair`, `expect`): `drillbook drill SCENARIO`; to dry-run or execute the \
                 runbook itself: `drillbook run {file}`"
            ),
        ),
        (Kind::Runbook, None, Some(at)) => (
            at,
            "this is a scenario (it has `runbook:`), not a runbook".to_string(),
            "a scenario names its runbook here",
            format!(
                "a scenario is run as a game day: `drillbook drill {file}`; `run`, `plan` and \
                 `iam-policy` take a runbook (a file with `steps:`)"
            ),
        ),
        _ => return None,
    };
    Some(Diagnostics::single(Problem::at(
        src,
        span,
        message,
        label,
        Some(help),
    )))
}

/// Parses `--var k=v` arguments.
pub fn parse_var_overrides(args: &[String]) -> Result<Vec<(String, String)>, Diagnostics> {
    let mut out = Vec::with_capacity(args.len());
    let mut problems = Vec::new();
    for a in args {
        match a.split_once('=') {
            Some((k, v)) if !k.trim().is_empty() => out.push((k.trim().to_string(), v.to_string())),
            _ => problems.push(Problem::general(
                format!("invalid `--var {a}`: expected NAME=VALUE"),
                Some("for example `--var secondary=eu-west-1`".into()),
            )),
        }
    }
    if problems.is_empty() {
        Ok(out)
    } else {
        Err(Diagnostics {
            problems,
            omitted: 0,
        })
    }
}

/// One target of a fleet, as a runbook sees it: `{{ target.account }}`, `{{ target.region }}`,
/// `{{ target.name }}` and `{{ target.role_arn }}`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TargetValues {
    pub account: String,
    pub region: String,
    pub name: String,
    /// `arn:aws:iam::ACCOUNT:role/ROLE_NAME`: every step assumes it unless it names its own.
    pub role_arn: String,
}

/// The runbook text one target runs: its `{{ target.* }}` written out, `defaults.role_arn`
/// set to the target's role and `defaults.region` to its Region when the runbook sets none.
/// Refused when the runbook already sets `defaults.role_arn` (the fleet sets it per target).
pub fn for_target(text: &str, t: &TargetValues) -> Result<String, String> {
    let text = text
        .replace("{{ target.account }}", &t.account)
        .replace("{{ target.region }}", &t.region)
        .replace("{{ target.name }}", &t.name)
        .replace("{{ target.role_arn }}", &t.role_arn);
    let mut doc: serde_yaml::Value =
        serde_yaml::from_str(&text).map_err(|e| format!("the runbook is not YAML: {e}"))?;
    let Some(top) = doc.as_mapping_mut() else {
        return Err("the runbook is not a mapping".into());
    };
    let defaults = top
        .entry("defaults".into())
        .or_insert_with(|| serde_yaml::Value::Mapping(Default::default()));
    let Some(defaults) = defaults.as_mapping_mut() else {
        return Err("`defaults` is not a mapping".into());
    };
    if defaults.contains_key("role_arn") {
        return Err(
            "the runbook sets `defaults.role_arn`; across targets each account's role is \
             `--role-name` in that account: remove `defaults.role_arn`"
                .into(),
        );
    }
    defaults.insert("role_arn".into(), t.role_arn.clone().into());
    if !defaults.contains_key("region") {
        defaults.insert("region".into(), t.region.clone().into());
    }
    serde_yaml::to_string(&doc).map_err(|e| format!("cannot write the target's runbook: {e}"))
}

/// Parses a YAML document into `T` (scenarios use this; serde_yaml stays in this file).
pub fn parse_document<T: serde::de::DeserializeOwned>(
    path: &Path,
    text: &str,
) -> Result<T, Diagnostics> {
    if text.len() as u64 > MAX_FILE_SIZE {
        return Err(too_large(path, text.len() as u64));
    }
    serde_yaml::from_str(text).map_err(|e| {
        let message = e.to_string();
        // serde_yaml appends " at line L column C"; the location is shown separately.
        let message = match message.rfind(" at line ") {
            Some(i) => message[..i].to_string(),
            None => message,
        };
        match e.location() {
            Some(l) => {
                let src = Source::new(path.display().to_string(), Arc::from(text));
                let at = l.index();
                Diagnostics::single(Problem::at(
                    &src,
                    yaml::Span::new(at, at),
                    message,
                    "here",
                    Some("check this field against the documented format".into()),
                ))
            }
            None => Diagnostics::single(Problem::general(
                format!("{}: {message}", path.display()),
                Some("check the file against the documented format".into()),
            )),
        }
    })
}

#[cfg(test)]
mod proptests {
    use super::*;
    use proptest::prelude::*;

    const VALID: &str = include_str!("../../runbooks/region-failover.yaml");

    fn load(text: &str) {
        let _ = load_str(Path::new("fuzz.yaml"), text, &[]).map_err(|d| d.render(false));
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

        #[test]
        fn arbitrary_text_never_panics(s in "\\PC{0,400}") {
            load(&s);
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
            load(&String::from_utf8_lossy(&bytes));
        }

        #[test]
        fn yaml_like_text_never_panics(s in "([-:{}\\[\\],&*!|>'\"#%@` \n\t]|[a-z]{1,4}|[0-9]{1,3}){0,120}") {
            load(&s);
        }

        #[test]
        fn mutated_runbooks_never_panic(
            edits in proptest::collection::vec((any::<prop::sample::Index>(), 0usize..4, any::<char>()), 1..8)
        ) {
            let mut text: Vec<char> = VALID.chars().collect();
            for (at, op, c) in edits {
                if text.is_empty() {
                    break;
                }
                let i = at.index(text.len());
                match op {
                    0 => text[i] = c,
                    1 => text.insert(i, c),
                    2 => { text.remove(i); }
                    _ => {
                        // Duplicate a line somewhere: structural edits.
                        let s: String = text.iter().collect();
                        let lines: Vec<&str> = s.lines().collect();
                        let line = lines[i % lines.len()].to_string();
                        let mut out = s.clone();
                        out.push_str(&line);
                        out.push('\n');
                        text = out.chars().collect();
                    }
                }
            }
            let s: String = text.into_iter().collect();
            load(&s);
        }
    }
}
