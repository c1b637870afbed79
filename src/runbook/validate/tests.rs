//! One test per validation error: the rendered diagnostic (message, location, caret, help)
//! is snapshotted without colour.

use std::path::Path;
use std::time::Duration;

use crate::runbook::model::OnFailure;
use crate::runbook::{Diagnostics, load_str};

const HEAD: &str = "version: 1\nname: t\n";

fn errors(text: &str) -> Diagnostics {
    errors_with(text, &[])
}

fn errors_with(text: &str, vars: &[(&str, &str)]) -> Diagnostics {
    let vars: Vec<(String, String)> = vars
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    match load_str(Path::new("test.yaml"), text, &vars) {
        Ok(_) => panic!("expected errors for:\n{text}"),
        Err(d) => d,
    }
}

/// Snapshots the rendering of a runbook that has exactly `n` problems.
macro_rules! check {
    ($name:ident, $n:expr, $text:expr) => {
        #[test]
        fn $name() {
            let text: String = $text.into();
            let d = errors(&text);
            let out = d.render(false);
            assert_eq!(d.len(), $n, "{out}");
            for p in &d.problems {
                assert!(p.help.is_some(), "no help for `{}`", p.message);
            }
            insta::assert_snapshot!(out);
        }
    };
}

fn wait_step(id: &str) -> String {
    format!("  - id: {id}\n    action: wait\n    with: {{ duration: 1s }}\n")
}

check!(invalid_yaml, 1, format!("{HEAD}steps: [ {{ id: a\n"));
check!(
    unknown_top_level_field,
    1,
    format!("{HEAD}descripton: x\nsteps:\n{}", wait_step("a"))
);
check!(
    unknown_step_field,
    1,
    format!(
        "{HEAD}steps:\n  - id: a\n    action: wait\n    nedds: [b]\n    with: {{ duration: 1s }}\n"
    )
);
check!(steps_wrong_type, 1, format!("{HEAD}steps: {{ a: wait }}\n"));
check!(
    needs_wrong_type,
    1,
    format!("{HEAD}steps:\n{}    needs: {{ b: c }}\n", wait_step("a"))
);
check!(
    bool_wrong_type,
    1,
    format!(
        "{HEAD}allow_self_approval: \"yes\"\nsteps:\n{}",
        wait_step("a")
    )
);
check!(
    duplicate_step_id,
    1,
    format!("{HEAD}steps:\n{}{}", wait_step("a"), wait_step("a"))
);
check!(
    bad_step_id,
    1,
    format!("{HEAD}steps:\n{}", wait_step("Restore_Vault"))
);
check!(
    missing_step_id,
    1,
    format!("{HEAD}steps:\n  - action: wait\n    with: {{ duration: 1s }}\n")
);
check!(
    unknown_dependency,
    1,
    format!(
        "{HEAD}steps:\n{}{}    needs: [restore-vaul]\n",
        wait_step("restore-vault"),
        wait_step("b")
    )
);
check!(
    self_dependency,
    1,
    format!("{HEAD}steps:\n{}    needs: [a]\n", wait_step("a"))
);
check!(
    dependency_cycle,
    1,
    format!(
        "{HEAD}steps:\n{}    needs: [b]\n{}    needs: [c]\n{}    needs: [a]\n{}",
        wait_step("a"),
        wait_step("b"),
        wait_step("c"),
        wait_step("d")
    )
);
check!(
    unknown_action,
    1,
    format!("{HEAD}steps:\n  - id: a\n    action: dynamodb.restore\n")
);
check!(missing_action, 1, format!("{HEAD}steps:\n  - id: a\n"));
check!(
    missing_parameter,
    1,
    format!("{HEAD}steps:\n  - id: a\n    action: wait\n")
);
check!(
    unknown_parameter,
    1,
    format!(
        "{HEAD}steps:\n  - id: a\n    action: wait\n    with: {{ duration: 1s, durration: 2s }}\n"
    )
);
check!(
    parameter_wrong_kind,
    1,
    format!(
        "{HEAD}defaults: {{ region: eu-west-1 }}\nsteps:\n  - id: a\n    action: dynamodb.restore_pitr\n    with: {{ source_table: v, target_table: w, min_items: lots }}\n"
    )
);
check!(
    parameter_not_in_enum,
    1,
    format!(
        "{HEAD}steps:\n  - id: a\n    action: route53.failover\n    with: {{ hosted_zone: z., record_name: r, to: secundary }}\n"
    )
);
check!(
    parameter_bad_duration,
    1,
    format!("{HEAD}steps:\n  - id: a\n    action: wait\n    with: {{ duration: 30 }}\n")
);
check!(
    bad_duration,
    1,
    format!("{HEAD}steps:\n{}    timeout: 10 minutes\n", wait_step("a"))
);
check!(
    zero_timeout,
    1,
    format!("{HEAD}steps:\n{}    timeout: 0s\n", wait_step("a"))
);
check!(
    bad_region,
    1,
    format!(
        "{HEAD}defaults: {{ region: eu-wset-1 }}\nsteps:\n{}",
        wait_step("a")
    )
);
check!(
    missing_region,
    1,
    format!(
        "{HEAD}steps:\n  - id: a\n    action: kms.verify_crypto\n    with: {{ key: alias/k }}\n"
    )
);
check!(
    undefined_var,
    1,
    format!(
        "{HEAD}vars: {{ secondary: eu-west-1 }}\ndefaults: {{ region: \"{{{{ vars.secondry }}}}\" }}\nsteps:\n{}",
        wait_step("a")
    )
);
check!(
    run_id_outside_with,
    1,
    format!(
        "{HEAD}steps:\n{}    region: \"{{{{ run.id }}}}\"\n",
        wait_step("a")
    )
);
check!(
    bad_template_reference,
    1,
    format!(
        "{HEAD}steps:\n  - id: a\n    action: approval\n    with: {{ message: \"{{{{ env.HOME }}}}\" }}\napprovers: {{ allow_unsigned: true }}\n"
    )
);
check!(
    unclosed_template,
    1,
    format!(
        "{HEAD}steps:\n  - id: a\n    action: approval\n    with: {{ message: \"{{{{ vars.x\" }}\napprovers: {{ allow_unsigned: true }}\n"
    )
);
check!(
    step_output_not_a_dependency,
    1,
    format!(
        "{HEAD}steps:\n  - id: gate\n    action: approval\n  - id: b\n    action: approval\n    with: {{ message: \"by {{{{ steps.gate.approved_by }}}}\" }}\napprovers: {{ allow_unsigned: true }}\n"
    )
);
check!(
    step_output_unknown,
    1,
    format!(
        "{HEAD}steps:\n  - id: gate\n    action: approval\n  - id: b\n    action: approval\n    needs: [gate]\n    with: {{ message: \"by {{{{ steps.gate.approver }}}}\" }}\napprovers: {{ allow_unsigned: true }}\n"
    )
);
check!(
    step_output_unknown_step,
    1,
    format!(
        "{HEAD}steps:\n  - id: gate\n    action: approval\n  - id: b\n    action: approval\n    needs: [gate]\n    with: {{ message: \"by {{{{ steps.gat.approved_by }}}}\" }}\napprovers: {{ allow_unsigned: true }}\n"
    )
);
check!(
    unsupported_version,
    1,
    format!("version: 2\nname: t\nsteps:\n{}", wait_step("a"))
);
check!(
    version_not_integer,
    1,
    format!("version: \"1\"\nname: t\nsteps:\n{}", wait_step("a"))
);
check!(
    missing_version_and_name,
    2,
    format!("steps:\n{}", wait_step("a"))
);
check!(empty_steps, 1, format!("{HEAD}steps: []\n"));
check!(no_steps, 1, HEAD);
check!(empty_file, 1, "");
check!(root_not_a_mapping, 1, "- a\n- b\n");
check!(
    account_not_12_digits,
    1,
    format!(
        "{HEAD}accounts: {{ primary: \"12345\" }}\nsteps:\n{}",
        wait_step("a")
    )
);
check!(
    duplicate_key,
    1,
    format!("{HEAD}name: again\nsteps:\n{}", wait_step("a"))
);
check!(
    finally_needs_main_step,
    1,
    format!(
        "{HEAD}steps:\n{}finally:\n{}    needs: [a]\n",
        wait_step("a"),
        wait_step("b")
    )
);
check!(
    main_step_needs_finally,
    1,
    format!(
        "{HEAD}steps:\n{}    needs: [b]\nfinally:\n{}",
        wait_step("a"),
        wait_step("b")
    )
);
check!(
    retry_attempts_out_of_range,
    1,
    format!(
        "{HEAD}steps:\n{}    retry: {{ attempts: 0 }}\n",
        wait_step("a")
    )
);
check!(
    on_failure_unknown,
    1,
    format!("{HEAD}steps:\n{}    on_failure: contine\n", wait_step("a"))
);
check!(
    bad_role_arn,
    1,
    format!("{HEAD}steps:\n{}    role_arn: drill-role\n", wait_step("a"))
);
check!(
    bad_role_session_options,
    3,
    format!(
        "{HEAD}defaults:\n  role_arn: arn:aws:iam::111122223333:role/dr\n  role_duration: 13h\nsteps:\n{}    external_id: \"x\"\n    role_duration: 5m\n",
        wait_step("a")
    )
);
check!(
    second_document,
    1,
    format!("{HEAD}steps:\n{}---\nname: again\n", wait_step("a"))
);
check!(nul_byte, 1, format!("{HEAD}\0steps: []\n"));
check!(deep_nesting, 1, "[".repeat(10_000));

check!(
    secret_read_from_an_aws_variable,
    1,
    format!(
        "{HEAD}vars:\n  token: {{ secret: true, env: AWS_SECRET_ACCESS_KEY }}\nsteps:\n{}",
        wait_step("a")
    )
);

#[test]
fn secrets_are_never_read_from_aws_or_drillbook_variables() {
    for env in [
        "AWS_SESSION_TOKEN",
        "aws_access_key_id",
        "DRILLBOOK_STATE",
        "Drillbook_Identity_Arn",
    ] {
        let text = format!(
            "{HEAD}vars:\n  token: {{ secret: true, env: {env} }}\nsteps:\n{}",
            wait_step("a")
        );
        let d = errors(&text);
        assert_eq!(d.len(), 1, "{d}");
        let p = &d.problems[0];
        assert!(
            p.message
                .contains(&format!("secret `token` cannot be read from `{env}`")),
            "{}",
            p.message
        );
        let column = text.lines().nth(3).and_then(|l| l.find(env)).unwrap() + 1;
        assert_eq!(p.location, Some(("test.yaml".to_string(), 4, column)));
        assert!(p.help.as_deref().unwrap_or("").contains("env: DR_TOKEN"));
    }
    // Names that merely contain the words are a runbook's own.
    for env in ["DR_AWS_TOKEN", "MY_DRILLBOOK_KEY", "AWS"] {
        let text = format!(
            "{HEAD}vars:\n  token: {{ secret: true, env: {env} }}\nsteps:\n{}",
            wait_step("a")
        );
        assert!(load_str(Path::new("t.yaml"), &text, &[]).is_ok(), "{env}");
    }
}

#[test]
fn secret_values_replace_their_markers_only_in_aws_actions() {
    use super::secrets::{secret_markers, with_secrets};
    let found: Vec<(usize, usize, &str)> =
        secret_markers("a[secret:x]b[secret:]c[secret:[secret:y-1]d[secret:z").collect();
    assert_eq!(found, vec![(1, 11, "x"), (30, 42, "y-1")]);

    let values: std::collections::BTreeMap<String, String> =
        [("tok".to_string(), "s3cr3t-value-1234".to_string())].into();
    let text = format!(
        "{HEAD}defaults: {{ region: eu-west-1 }}\nvars:\n  tok: {{ secret: true, env: DR_UNIT_NEVER_SET }}\nsteps:\n  - id: put\n    action: dynamodb.put_item\n    with:\n      table: t\n      item: {{ pk: \"a-{{{{ vars.tok }}}}\", \"{{{{ vars.tok }}}}\": x, other: \"[secret:nope]\" }}\n{}",
        wait_step("w")
    );
    let mut runbook = load_str(Path::new("t.yaml"), &text, &[]).unwrap().runbook;
    assert_eq!(runbook.vars["tok"], "[secret:tok]");
    runbook.steps[0]
        .with
        .insert("list".into(), serde_json::json!([["[secret:tok]"]]));
    runbook.steps[1]
        .with
        .insert("note".into(), serde_json::json!("[secret:tok]"));
    with_secrets(&mut runbook.steps, &values);
    let item = &runbook.steps[0].with["item"];
    assert_eq!(item["pk"], "a-s3cr3t-value-1234");
    assert_eq!(item["s3cr3t-value-1234"], "x");
    assert_eq!(runbook.steps[0].with["list"][0][0], "s3cr3t-value-1234");
    assert_eq!(
        runbook.steps[1].with["note"], "[secret:tok]",
        "not in core actions"
    );
    assert_eq!(item["other"], "[secret:nope]", "only declared secrets");
    assert_eq!(runbook.steps[1].with["duration"], "1s");
}

#[test]
fn override_of_undeclared_var() {
    let text = format!("{HEAD}vars: {{ table: vault }}\nsteps:\n{}", wait_step("a"));
    let d = errors_with(&text, &[("tabel", "x")]);
    assert_eq!(d.len(), 1);
    insta::assert_snapshot!(d.render(false));
}

/// A value `--var` changed is the argument's problem: one unlocated problem per variable,
/// naming `--var NAME=VALUE` and where the runbook uses it. The runbook's own problems, and
/// problems of a whole flow mapping that happens to use the variable, stay located.
#[test]
fn a_bad_override_is_blamed_on_the_var_once() {
    let text = format!(
        "{HEAD}vars: {{ r: eu-west-1, d: 1s }}\ndefaults: {{ region: \"{{{{ vars.r }}}}\" }}\nsteps:\n  - id: a\n    action: wait\n    region: \"{{{{ vars.r }}}}\"\n    with: {{ duration: \"{{{{ vars.d }}}}\", bogus: 1 }}\n"
    );
    let d = errors_with(&text, &[("r", "eu-wst-1"), ("d", "1s")]);
    let blamed: Vec<_> = d
        .problems
        .iter()
        .filter(|p| p.message.starts_with("`--var r=eu-wst-1`: unknown Region"))
        .collect();
    assert_eq!(blamed.len(), 1, "{}", d.render(false));
    assert!(blamed[0].location.is_none());
    let help = blamed[0].help.as_deref().unwrap();
    assert!(
        help.contains("did you mean `eu-west-1`?") && help.contains("test.yaml:4:"),
        "{help}"
    );
    // `d` was given its own value: nothing of it is blamed; `bogus` stays the runbook's.
    assert!(
        d.problems
            .iter()
            .any(|p| p.message.contains("bogus") && p.location.is_some()),
        "{}",
        d.render(false)
    );
    assert!(!d.render(false).contains("--var d="));
}

#[test]
fn alias_bomb_is_rejected_quickly() {
    let mut bomb = String::from("a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
    let mut prev = "a".to_string();
    for i in 0..12 {
        let name = format!("b{i}");
        let refs = vec![format!("*{prev}"); 9].join(", ");
        bomb.push_str(&format!("{name}: &{name} [{refs}]\n"));
        prev = name;
    }
    let start = std::time::Instant::now();
    let d = errors(&bomb);
    assert!(start.elapsed() < Duration::from_secs(1));
    assert!(d.problems[0].message.contains("aliases expand"), "{d}");
    assert!(d.problems[0].location.is_some());
}

#[test]
fn every_problem_is_reported_in_one_pass() {
    let text = "version: 3\nname: t\nsteps:\n  - id: a\n    action: wiat\n  - id: b\n    action: wait\n    needs: [zz]\n    timeout: 5x\n    with: { duration: 1s }\n";
    let d = errors(text);
    let messages: Vec<&str> = d.problems.iter().map(|p| p.message.as_str()).collect();
    assert_eq!(d.len(), 4, "{messages:?}");
}

#[test]
fn problems_are_capped() {
    let mut text = format!("{HEAD}steps:\n");
    for i in 0..300 {
        text.push_str(&format!("  - id: s{i}\n    action: nope\n"));
    }
    let d = errors(&text);
    assert_eq!(d.problems.len(), crate::runbook::diag::MAX_PROBLEMS);
    assert_eq!(d.len(), 300);
    assert!(d.render(false).contains("200 more problems"));
}

#[test]
fn a_wait_is_planned_by_its_duration() {
    let text = r#"
version: 1
name: waits
vars: { ttl: 2s }
steps:
  - { id: literal, action: wait, with: { duration: 1500ms } }
  - { id: from-var, action: wait, with: { duration: "{{ vars.ttl }}" } }
  - { id: declared, action: wait, estimate: 4s, with: { duration: 1s } }
"#;
    let rb = load_str(Path::new("t.yaml"), text, &[])
        .unwrap_or_else(|d| panic!("{d}"))
        .runbook;
    let estimates: Vec<Duration> = rb.steps.iter().map(|s| s.estimate).collect();
    assert_eq!(
        estimates,
        [
            Duration::from_millis(1500),
            Duration::from_secs(2),
            Duration::from_secs(4), // a declared estimate wins
        ]
    );
}

#[test]
fn builds_the_model_with_defaults_vars_and_estimates() {
    let text = r#"
version: 1
name: "{{ vars.app }}-failover"
objectives: { rto: 15m, rpo: 5m }
vars: { app: unolock, secondary: eu-west-1, table: vault }
defaults:
  region: "{{ vars.secondary }}"
  timeout: 7m
  retry: { attempts: 4, backoff: 3s }
  on_failure: continue
accounts: { primary: 111122223333 }
steps:
  - id: restore-vault
    action: dynamodb.restore_pitr
    with:
      source_table: "{{ vars.table }}"
      target_table: "{{ vars.table }}-{{ run.id }}"
      tags: { run: "{{ run.id }}" }
    retry: { attempts: 2 }
  - id: point
    action: apigateway.update_stage
    region: ca-central-1
    needs: [restore-vault]
    estimate: 45s
    timeout: 1m
    on_failure: abort
    with:
      rest_api: api
      variables: { table: "{{ steps.restore-vault.table_name }}" }
  - id: dns
    action: route53.assert_records
    needs: [point]
    with: { hosted_zone: z., record_name: r }
finally:
  - id: drop-restored
    action: dynamodb.delete_table
    with: { table: "{{ steps.restore-vault.table_name }}" }
"#;
    let vars = [("table".to_string(), "vault-test".to_string())];
    let loaded = load_str(Path::new("t.yaml"), text, &vars).unwrap_or_else(|d| panic!("{d}"));
    let rb = loaded.runbook;
    assert_eq!(rb.name, "unolock-failover");
    assert_eq!(rb.objectives.rto, Some(Duration::from_secs(900)));
    assert_eq!(rb.accounts["primary"], "111122223333");
    assert_eq!(rb.vars["table"], "vault-test");
    let restore = &rb.steps[0];
    assert_eq!(restore.region.as_deref(), Some("eu-west-1"));
    assert_eq!(restore.with["source_table"], "vault-test");
    assert_eq!(restore.with["target_table"], "vault-test-{{ run.id }}");
    assert_eq!(restore.with["tags"]["run"], "{{ run.id }}");
    assert_eq!(restore.timeout, Duration::from_secs(420));
    assert_eq!(restore.estimate, Duration::from_secs(20 * 60)); // the action's default
    assert_eq!(restore.retry.attempts, 2);
    assert_eq!(restore.retry.backoff, Duration::from_secs(3));
    assert_eq!(restore.on_failure, OnFailure::Continue);
    let point = &rb.steps[1];
    assert_eq!(point.region.as_deref(), Some("ca-central-1"));
    assert_eq!(point.estimate, Duration::from_secs(45));
    assert_eq!(point.on_failure, OnFailure::Abort);
    assert_eq!(
        point.with["variables"]["table"],
        "{{ steps.restore-vault.table_name }}"
    );
    assert_eq!(point.needs, vec!["restore-vault"]);
    // Route 53 actions take no Region.
    assert_eq!(rb.steps[2].region, None);
    assert_eq!(rb.finally.len(), 1);
    assert_eq!(
        loaded.sha256,
        crate::runbook::load::sha256_hex(text.as_bytes())
    );
}

#[test]
fn shipped_runbooks_are_valid() {
    // The failover reads the table from the API's stage variable: its prefixed copy is named
    // by the API.
    for (file, var, value) in [
        ("region-failover.yaml", "api", "t1-unolock-api"),
        ("data-corruption-restore.yaml", "table", "t1-vault"),
    ] {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("runbooks")
            .join(file);
        let loaded =
            crate::runbook::load_file(&path, &[]).unwrap_or_else(|d| panic!("{file}: {d}"));
        assert!(loaded.runbook.steps.len() >= 4, "{file}");
        // Prefixed copies for isolated tests.
        let vars = [(var.to_string(), value.to_string())];
        let loaded = crate::runbook::load_file(&path, &vars).unwrap();
        assert!(
            loaded
                .runbook
                .steps
                .iter()
                .any(|s| s.with.values().any(|v| v.to_string().contains(value))),
            "{file}"
        );
    }
}

#[test]
fn did_you_mean_finds_near_misses_and_swapped_letters() {
    let keys = ["key", "optional", "table"];
    assert_eq!(
        super::did_you_mean("kye", keys).as_deref(),
        Some("did you mean `key`?")
    );
    assert_eq!(
        super::did_you_mean("tabel", keys).as_deref(),
        Some("did you mean `table`?")
    );
    assert_eq!(super::did_you_mean("region", keys), None);
}

check!(
    approval_without_trusted_keys,
    1,
    format!("{HEAD}steps:\n  - id: gate\n    action: approval\n")
);
check!(
    approvers_with_bad_entries,
    4,
    format!(
        "{HEAD}approvers:\n  principals: [bob]\n  keys:\n    - \"ed25519:abcd\"\n    - key: \"kms:arn:aws:kms:eu-west-1:222233334444:alias/approver\"\nsteps:\n  - id: gate\n    action: approval\n"
    )
);
#[test]
fn approvers_are_read_with_their_keys_and_principals() {
    let text = format!(
        "{HEAD}approvers:\n  principals: [\"arn:aws:sts::222233334444:assumed-role/DrApprover/*\"]\n  keys:\n    - \"ed25519:{}\"\n    - key: \"kms:arn:aws:kms:eu-west-1:222233334444:key/1234abcd-12ab-34cd-56ef-1234567890ab\"\n      sha256: \"{}\"\n      principal: \"arn:aws:sts::222233334444:assumed-role/DrApprover/lead\"\nsteps:\n  - id: gate\n    action: approval\n",
        "AB".repeat(32),
        "CD".repeat(32)
    );
    let rb = load_str(Path::new("test.yaml"), &text, &[])
        .unwrap()
        .runbook;
    let a = &rb.approvers;
    assert!(a.admits("arn:aws:sts::222233334444:assumed-role/DrApprover/bob"));
    assert!(!a.admits("arn:aws:iam::222233334444:user/bob"));
    assert!(!a.allow_unsigned);
    assert_eq!(
        a.keys[0].key.to_string(),
        format!("ed25519:{}", "ab".repeat(32))
    );
    assert_eq!(a.keys[0].principal, None);
    assert_eq!(
        a.keys[1].principal.as_deref(),
        Some("arn:aws:sts::222233334444:assumed-role/DrApprover/lead")
    );
    assert_eq!(a.keys[1].sha256.as_deref(), Some("cd".repeat(32).as_str()));
    // A KMS key without its pin is refused, with the command that prints it.
    let unpinned = text.replace(&format!("      sha256: \"{}\"\n", "CD".repeat(32)), "");
    let err = load_str(Path::new("test.yaml"), &unpinned, &[]).unwrap_err();
    let p = &err.problems[0];
    assert!(p.message.contains("is not pinned"), "{}", p.message);
    assert!(
        p.help
            .as_deref()
            .unwrap_or("")
            .contains("drillbook evidence pin kms:"),
        "{:?}",
        p.help
    );
}

#[test]
fn targets_problems_are_listed_with_the_rest_of_the_runbooks() {
    let d = errors(&format!(
        "{HEAD}targets: {{ accounts: [\"1\"], regions: [eu-west-1], max_concurency: 3 }}\nsteps:\n  - id: a\n    action: nope.nope\n"
    ));
    let all: Vec<String> = d
        .problems
        .iter()
        .map(|p| format!("{}: {}", p.location_string().unwrap_or_default(), p.message))
        .collect();
    let all = all.join("\n");
    assert!(
        all.contains("test.yaml:3:23: `1` in `targets.accounts` is not an AWS account id"),
        "{all}"
    );
    assert!(
        all.contains("test.yaml:3:51: unknown field `max_concurency` in `targets`"),
        "{all}"
    );
    assert!(all.contains("nope.nope"), "{all}");
    // A valid `targets:` is no problem.
    load_str(
        Path::new("test.yaml"),
        &format!(
            "{HEAD}targets: {{ organizational_units: [ou-ab12-cdef3456], regions: [eu-west-1] }}\nsteps:\n  - id: a\n    action: wait\n    with: {{ duration: 1s }}\n"
        ),
        &[],
    )
    .unwrap();
}
