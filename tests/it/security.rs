//! Attacks from runbook and scenario authors (docs/security.md), run through the binary.

use crate::support::Ran;
use std::path::Path;
use std::process::Output;

fn drillbook_in(dir: &Path, args: &[&str]) -> Output {
    crate::support::cli::bin()
        .args(args)
        .current_dir(dir)
        .output()
}

const SECRET: &str = "wJalrXUtnFEMIK7MDENGbPxRfiCYSECRETKEY";

fn credentials() -> String {
    format!(
        "[default]\naws_access_key_id = AKIAIOSFODNN7EXAMPLE\naws_secret_access_key = {SECRET}\n"
    )
}

/// A checkout with a scenario directory, a runbook, and a credentials file outside it.
fn layout() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::create_dir_all(d.join("home/.aws")).unwrap();
    std::fs::create_dir_all(d.join("repo/scenarios")).unwrap();
    std::fs::create_dir_all(d.join("repo/runbooks")).unwrap();
    std::fs::write(d.join("home/.aws/credentials"), credentials()).unwrap();
    let rb = Path::new(env!("CARGO_MANIFEST_DIR")).join("runbooks/region-failover.yaml");
    std::fs::copy(rb, d.join("repo/runbooks/region-failover.yaml")).unwrap();
    dir
}

fn scenario(dir: &Path, name: &str, runbook: &str) {
    std::fs::write(
        dir.join("repo/scenarios").join(name),
        format!("version: 1\nname: pr-scenario\nrunbook: {runbook}\n"),
    )
    .unwrap();
}

fn assert_refused(out: &Output, file: &str, what: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(2), "{what}:\n{stderr}");
    assert!(
        !stderr.contains(SECRET) && !stdout.contains(SECRET),
        "{what} leaked:\n{stderr}"
    );
    assert!(
        !stderr.contains("aws_access_key_id"),
        "{what} leaked:\n{stderr}"
    );
    assert!(
        stderr.contains(&format!("{file}:3:10")),
        "{what}: no location:\n{stderr}"
    );
    assert!(stderr.contains("help:"), "{what}: no help:\n{stderr}");
}

#[test]
fn a_scenario_cannot_make_validate_or_drill_print_a_file_outside_its_tree() {
    let dir = layout();
    let d = dir.path();
    let creds = d.join("home/.aws/credentials");
    scenario(d, "absolute.yaml", creds.to_str().unwrap());
    scenario(d, "dotdot.yaml", "../../home/.aws/credentials");
    std::os::unix::fs::symlink(&creds, d.join("repo/scenarios/link.yaml")).unwrap();
    scenario(d, "symlink.yaml", "link.yaml");
    for name in ["absolute.yaml", "dotdot.yaml", "symlink.yaml"] {
        let file = format!("scenarios/{name}");
        let repo = d.join("repo");
        let out = drillbook_in(&repo, &["validate", &file]);
        assert_refused(&out, &file, &format!("validate {name}"));
        assert!(String::from_utf8_lossy(&out.stderr).contains("outside"));
        let state = d.join("state");
        let out = drillbook_in(
            &repo,
            &["drill", &file, "--state-dir", state.to_str().unwrap()],
        );
        assert_refused(&out, &file, &format!("drill {name}"));
    }
}

#[test]
fn a_scenario_runbook_must_be_yaml_and_is_not_quoted_unless_it_is_a_mapping() {
    let dir = layout();
    let d = dir.path();
    // Inside the tree, but not YAML by name.
    std::fs::write(d.join("repo/scenarios/creds.ini"), credentials()).unwrap();
    scenario(d, "ini.yaml", "creds.ini");
    let out = drillbook_in(d, &["validate", "repo/scenarios/ini.yaml"]);
    assert_refused(&out, "repo/scenarios/ini.yaml", "non-yaml name");
    assert!(String::from_utf8_lossy(&out.stderr).contains(".yaml"));
    // Inside `--root` and named .yaml, but not a runbook mapping: not quoted either.
    std::fs::write(d.join("repo/creds.yaml"), credentials()).unwrap();
    scenario(d, "named.yaml", "../creds.yaml");
    let out = drillbook_in(
        d,
        &["validate", "--root", "repo", "repo/scenarios/named.yaml"],
    );
    assert_refused(&out, "repo/scenarios/named.yaml", "not a mapping");
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a runbook"));
}

#[test]
fn root_admits_a_runbook_beside_the_scenario_directory() {
    let dir = layout();
    let d = dir.path();
    scenario(d, "ok.yaml", "../runbooks/region-failover.yaml");
    let out = drillbook_in(&d.join("repo/scenarios"), &["validate", "ok.yaml"]);
    out.assert_exit(2);
    let out = drillbook_in(d, &["validate", "--root", "repo", "repo/scenarios/ok.yaml"]);
    out.assert_exit(0);
}
