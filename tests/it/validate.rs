//! `drillbook validate` and `drillbook schema`, run as the built binary.

use crate::support::Ran;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::{Duration, Instant};

fn drillbook(args: &[&str]) -> Output {
    crate::support::cli::bin().args(args).output()
}

fn corpus(kind: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/corpus")
        .join(kind);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    files
}

fn has_location(stderr: &str, file: &Path) -> bool {
    let name = file.display().to_string();
    stderr.match_indices(&name).any(|(i, _)| {
        let rest = &stderr[i + name.len()..];
        let mut parts = rest.splitn(3, ':');
        parts.next() == Some("")
            && parts
                .next()
                .is_some_and(|l| !l.is_empty() && l.bytes().all(|b| b.is_ascii_digit()))
            && parts
                .next()
                .is_some_and(|c| c.starts_with(|ch: char| ch.is_ascii_digit()))
    })
}

#[test]
fn every_malformed_runbook_is_rejected_with_a_location() {
    let files = corpus("invalid");
    assert!(files.len() >= 50, "only {} corpus files", files.len());
    for file in files {
        let start = Instant::now();
        let out = drillbook(&["validate", file.to_str().unwrap()]);
        let elapsed = start.elapsed();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{}:\n{stderr}", file.display());
        assert!(
            has_location(&stderr, &file),
            "no file:line:col for {}:\n{stderr}",
            file.display()
        );
        assert!(
            stderr.contains("help:"),
            "no help for {}:\n{stderr}",
            file.display()
        );
        assert!(
            !stderr.contains("panicked"),
            "{}:\n{stderr}",
            file.display()
        );
        assert!(
            elapsed < Duration::from_secs(1),
            "{} took {elapsed:?}",
            file.display()
        );
        assert!(out.stdout.is_empty(), "{}", file.display());
    }
}

/// Malformed scenarios, through `drill` (which stops before any AWS call) and `validate`.
#[test]
fn every_malformed_scenario_is_rejected_with_a_location() {
    let files = corpus("invalid-scenarios");
    assert!(files.len() >= 30, "only {} scenario cases", files.len());
    assert!(
        files.len() + corpus("invalid").len() >= 100,
        "the malformed corpus holds at least 100 cases"
    );
    for file in files {
        for cmd in ["drill", "validate"] {
            let start = Instant::now();
            let out = drillbook(&[cmd, file.to_str().unwrap()]);
            let elapsed = start.elapsed();
            let stderr = String::from_utf8_lossy(&out.stderr);
            let what = format!("{cmd} {}", file.display());
            assert_eq!(out.status.code(), Some(2), "{what}:\n{stderr}");
            assert!(
                has_location(&stderr, &file),
                "no file:line:col for {what}:\n{stderr}"
            );
            assert!(stderr.contains("help:"), "no help for {what}:\n{stderr}");
            assert!(!stderr.contains("panicked"), "{what}:\n{stderr}");
            assert!(elapsed < Duration::from_secs(1), "{what} took {elapsed:?}");
        }
    }
}

#[test]
fn scenario_problems_are_all_reported_with_did_you_mean() {
    let dir = tempfile::tempdir().unwrap();
    // A scenario may name only a runbook inside its own directory tree.
    let rb = dir.path().join("region-failover.yaml");
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("runbooks/region-failover.yaml"),
        &rb,
    )
    .unwrap();
    let file = dir.path().join("s.yaml");
    std::fs::write(
        &file,
        format!(
            "version: 1\nname: s\nrunbook: {}\nimpair: [{{ region: eu-wst-1 }}]\nexpect:\n  - {{ id: a, step: switch-dsn }}\n  - {{ id: b, action: kms.assert_replica, region: eu-west-1, with: {{ kye: k }} }}\n",
            rb.display()
        ),
    )
    .unwrap();
    let out = drillbook(&["validate", file.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    let f = file.display();
    for (at, help) in [
        (format!("{f}:4:20"), "did you mean `eu-west-1`?"),
        (format!("{f}:7:69"), "did you mean `key`?"),
    ] {
        assert!(stderr.contains(&at), "{at} in:\n{stderr}");
        assert!(stderr.contains(help), "{help} in:\n{stderr}");
    }
    assert!(stderr.contains("needs the parameter `key`"), "{stderr}");
    // The step is checked against the runbook once the scenario itself is sound.
    std::fs::write(
        &file,
        format!(
            "version: 1\nname: s\nrunbook: {}\nexpect:\n  - {{ id: a, step: switch-dsn }}\n",
            rb.display()
        ),
    )
    .unwrap();
    let out = drillbook(&["validate", file.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains(&format!("{f}:5:20")), "{stderr}");
    assert!(stderr.contains("did you mean `switch-dns`?"), "{stderr}");
}

#[test]
fn valid_runbooks_pass() {
    let mut files = corpus("valid");
    let runbooks = Path::new(env!("CARGO_MANIFEST_DIR")).join("runbooks");
    files.push(runbooks.join("region-failover.yaml"));
    files.push(runbooks.join("data-corruption-restore.yaml"));
    let args: Vec<&str> = std::iter::once("validate")
        .chain(files.iter().map(|f| f.to_str().unwrap()))
        .collect();
    let out = drillbook(&args);
    let stdout = String::from_utf8_lossy(&out.stdout);
    out.assert_exit(0);
    for f in &files {
        assert!(stdout.contains(&format!("ok: {}", f.display())), "{stdout}");
    }
    assert!(
        stdout.contains("region-failover.yaml (10 steps)"),
        "{stdout}"
    );
}

#[test]
fn one_bad_file_among_good_ones_gives_exit_2_and_reports_both() {
    let good = Path::new(env!("CARGO_MANIFEST_DIR")).join("runbooks/region-failover.yaml");
    let bad =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus/invalid/dependency-cycle.yaml");
    let out = drillbook(&["validate", good.to_str().unwrap(), bad.to_str().unwrap()]);
    out.assert_exit(2);
    assert!(String::from_utf8_lossy(&out.stdout).contains("ok: "));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("dependency cycle: a -> c -> b -> a"),
        "{stderr}"
    );
}

#[test]
fn var_overrides_are_checked() {
    let rb = Path::new(env!("CARGO_MANIFEST_DIR")).join("runbooks/region-failover.yaml");
    let rb = rb.to_str().unwrap();
    let out = drillbook(&[
        "validate",
        rb,
        "--var",
        "table=t1-vault",
        "--var",
        "secondary=eu-central-1",
    ]);
    out.assert_exit(0);

    let out = drillbook(&["validate", rb, "--var", "tabel=x"]);
    out.assert_exit(2);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("did you mean `table`?"), "{stderr}");

    let out = drillbook(&["validate", rb, "--var", "secondary=eu-west-9"]);
    out.assert_exit(2);
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown Region `eu-west-9`"));

    let out = drillbook(&["validate", rb, "--var", "novalue"]);
    out.assert_exit(2);
    assert!(String::from_utf8_lossy(&out.stderr).contains("expected NAME=VALUE"));
}

#[test]
fn hostile_files_are_rejected_quickly() {
    let dir = tempfile::tempdir().unwrap();
    // 50 MB: refused before reading.
    let huge = dir.path().join("huge.yaml");
    let f = std::fs::File::create(&huge).unwrap();
    f.set_len(50 * 1024 * 1024).unwrap();
    // Just under the limit: a long list of scalars.
    let big = dir.path().join("big.yaml");
    std::fs::write(&big, "a: [".to_string() + &"1,".repeat(2_000_000) + "1]\n").unwrap();
    for (file, expect) in [(&huge, "file too large"), (&big, "more than 500000 nodes")] {
        let start = Instant::now();
        let out = drillbook(&["validate", file.to_str().unwrap()]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert!(stderr.contains(expect), "{stderr}");
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "{:?}",
            start.elapsed()
        );
    }
}

/// Step output references are checked by reachability in the one graph, with work bounded
/// whatever the shape: 36,000 steps in a chain, step `i` using step `i/2`'s output (each
/// referenced step has thousands of steps below it), and one wide fan-in (a step using the
/// outputs of 4,000 steps it needs through a hub). A per-step set of descendants took 47 s
/// and 9 GB on the first shape (release build).
#[test]
fn step_output_references_are_checked_in_bounded_work() {
    let dir = tempfile::tempdir().unwrap();
    let head = "version: 1\nname: shapes\ndefaults: { region: eu-west-1 }\nsteps:\n";
    let mut halves =
        format!("{head}  - id: s0\n    action: kms.assert_replica\n    with: {{ key: alias/k }}\n");
    for i in 1..36_000 {
        halves.push_str(&format!(
            "  - id: s{i}\n    action: kms.assert_replica\n    needs: [s{}]\n    with: {{ key: \"{{{{ steps.s{}.key_arn }}}}\" }}\n",
            i - 1,
            i / 2
        ));
    }
    // A step outside the chain, and one reference to it from the chain's end.
    let mut broken = halves.clone();
    broken.push_str(
        "  - id: apart\n    action: kms.assert_replica\n    with: { key: alias/k }\n  - id: last\n    action: kms.verify_crypto\n    needs: [s35999]\n    with: { key: \"{{ steps.s17999.key_arn }}{{ steps.apart.key_arn }}\" }\n",
    );
    let n = 4_000;
    let mut fan = head.to_string();
    for i in 0..n {
        fan.push_str(&format!(
            "  - id: p{i}\n    action: kms.assert_replica\n    with: {{ key: alias/k }}\n"
        ));
    }
    let all: Vec<String> = (0..n).map(|i| format!("p{i}")).collect();
    let uses: String = (0..n)
        .map(|i| format!("{{{{ steps.p{i}.key_arn }}}}"))
        .collect();
    fan.push_str(&format!(
        "  - id: hub\n    action: wait\n    with: {{ duration: 0s }}\n    needs: [{}]\n  - id: last\n    action: kms.verify_crypto\n    needs: [hub]\n    with: {{ key: \"{uses}\" }}\n",
        all.join(", ")
    ));
    for (name, text, valid) in [
        ("halves.yaml", &halves, true),
        ("broken.yaml", &broken, false),
        ("fan.yaml", &fan, true),
    ] {
        let file = dir.path().join(name);
        std::fs::write(&file, text).unwrap();
        let file = file.to_str().unwrap();
        for command in ["validate", "plan"] {
            let start = Instant::now();
            let out = drillbook(&[command, file]);
            let took = start.elapsed();
            // A debug build, on a shared machine: generous, and still far below the old cost.
            assert!(took < Duration::from_secs(30), "{command} {name}: {took:?}");
            if valid {
                out.assert_exit(0);
                continue;
            }
            out.assert_exit(2);
            let stderr = out.stderr_text();
            assert!(
                stderr.contains(
                    "step `last` uses an output of `apart`, which is not among its dependencies"
                ),
                "{stderr}"
            );
            // Four lines of header, three for `s0` and `apart`, four for each other step:
            // `last`'s `with:` is its fourth line.
            let line = 4 + 3 + 35_999 * 4 + 3 + 4;
            assert!(stderr.contains(&format!("{file}:{line}:")), "{stderr}");
        }
    }
}

#[test]
fn missing_file_is_an_input_error() {
    let out = drillbook(&["validate", "/nonexistent/runbook.yaml"]);
    out.assert_exit(2);
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot read"));
}

#[test]
fn rendered_diagnostic_matches_snapshot() {
    let file = "tests/corpus/invalid/many-problems.yaml";
    let out = crate::support::cli::bin()
        .args(["validate", file])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output();
    out.assert_exit(2);
    insta::assert_snapshot!(String::from_utf8_lossy(&out.stderr));
}

#[test]
fn schema_is_json_with_every_action() {
    let out = drillbook(&["schema"]);
    out.assert_exit(0);
    let schema: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(schema["title"], "drillbook runbook");
    let actions = schema
        .pointer("/$defs/StepSpec/properties/action/enum")
        .unwrap();
    for a in [
        "wait",
        "approval",
        "dynamodb.restore_pitr",
        "route53.failover",
    ] {
        assert!(actions.as_array().unwrap().iter().any(|x| x == a), "{a}");
    }
    let required = &schema["required"];
    assert!(required.as_array().unwrap().iter().any(|x| x == "steps"));
}

#[test]
fn validate_help_has_examples() {
    let out = drillbook(&["validate", "--help"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("Examples:"), "{stdout}");
    assert!(stdout.contains("--var"), "{stdout}");
}

/// A large variable repeated cannot make validation allocate without bound: a value is
/// limited to 1 MiB once rendered, the whole runbook to 32 MiB, and problems quote at most a
/// few hundred bytes of a value.
#[test]
fn templates_that_would_render_to_gigabytes_are_refused_cheaply() {
    let dir = tempfile::tempdir().unwrap();
    let big = "x".repeat(600 * 1024);
    let mut text = format!(
        "version: 1\nname: explode\nvars: {{ big: \"{big}\" }}\nsteps:\n  - id: twice\n    action: wait\n    with: {{ duration: \"{{{{ vars.big }}}}{{{{ vars.big }}}}\" }}\n"
    );
    for k in 0..60 {
        text.push_str(&format!(
            "  - id: w{k}\n    action: wait\n    with: {{ duration: \"{{{{ vars.big }}}}\" }}\n"
        ));
    }
    let path = dir.path().join("explode.yaml");
    std::fs::write(&path, text).unwrap();
    let out = drillbook(&["validate", path.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err:.2000}");
    assert!(
        err.contains("more than the limit of 1024 KiB per value"),
        "{err:.2000}"
    );
    assert!(
        err.contains("render to more than 32 MiB in all"),
        "{err:.2000}"
    );
    assert!(
        err.len() < 200_000,
        "problems quote values briefly: {} bytes",
        err.len()
    );
}

/// A variable declared `{ required: true, help: ... }` has no default: without `--var` the
/// runbook is refused at the variable's line, with its help; with one it loads. The ARC
/// runbook requires its cluster endpoints (DescribeCluster is ARC's control plane).
#[test]
fn a_required_variable_needs_a_value() {
    let arc = Path::new(env!("CARGO_MANIFEST_DIR")).join("runbooks/region-failover-arc.yaml");
    let f = arc.to_str().unwrap();
    let text = std::fs::read_to_string(&arc).unwrap();
    let line = text
        .lines()
        .position(|l| l.starts_with("  cluster_endpoints:"))
        .unwrap()
        + 1;
    let out = drillbook(&["validate", f]);
    out.assert_exit(2);
    let stderr = String::from_utf8_lossy(&out.stderr);
    // The help is wrapped to the terminal: compare its words.
    let words = stderr
        .split_whitespace()
        .filter(|w| !w.starts_with('│') && !w.starts_with('·'))
        .collect::<Vec<_>>()
        .join(" ");
    assert!(
        stderr.contains("variable `cluster_endpoints` is required and has no value"),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!("region-failover-arc.yaml:{line}:3")),
        "{stderr}"
    );
    assert!(
        words.contains("--var cluster_endpoints=VALUE") && words.contains("DescribeCluster"),
        "{stderr}"
    );
    // An empty value is no value.
    drillbook(&["validate", f, "--var", "cluster_endpoints= "]).assert_exit(2);
    let out = drillbook(&[
        "validate",
        f,
        "--var",
        "cluster_endpoints=us-west-2=https://a.example/v1,eu-west-1=https://b.example/v1",
    ]);
    out.assert_exit(0);
    // `describe` is a value: DescribeCluster reads them (a dry run prints them).
    drillbook(&["validate", f, "--var", "cluster_endpoints=describe"]).assert_exit(0);
    // `required:` must be `true`.
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.yaml");
    std::fs::write(
        &bad,
        "version: 1\nname: n\nvars:\n  x: { required: false }\nsteps:\n  - id: a\n    action: wait\n    with: { duration: 0s }\n",
    )
    .unwrap();
    let out = drillbook(&["validate", bad.to_str().unwrap()]);
    out.assert_exit(2);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("has `required:` but not `required: true`"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
