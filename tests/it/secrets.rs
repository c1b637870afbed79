//! Secret variables through the binary, against the emulator: the value reaches the AWS call
//! that needs it and nothing else (terminal, JSON events, journal, stored variables, reports,
//! evidence, the DynamoDB store).

use std::path::Path;
use std::process::Output;

use crate::roles::create_table;
use crate::support::{PRIMARY_REGION, emulator, unique_prefix};

const ENV: &str = "DR_API_TOKEN";

fn runbook(table: &str) -> String {
    format!(
        r#"version: 1
name: secret-token
vars:
  table: {table}
  api_token: {{ secret: true, env: {ENV} }}
defaults: {{ region: {PRIMARY_REGION} }}
steps:
  - id: put-token
    action: dynamodb.put_item
    with:
      table: "{{{{ vars.table }}}}"
      item: {{ pk: svc, token: "{{{{ vars.api_token }}}}" }}
  - id: check-token
    action: dynamodb.assert_item
    needs: [put-token]
    with:
      table: "{{{{ vars.table }}}}"
      key: {{ pk: svc }}
      expect: {{ token: "{{{{ vars.api_token }}}}" }}
"#
    )
}

fn bin(dir: &Path, secret: Option<&str>, args: &[&str]) -> Output {
    let mut c = crate::support::cli::bin();
    c.args(args)
        .current_dir(dir)
        .emulator()
        .identity("arn:aws:iam::123456789012:user/alice")
        .env_remove(ENV);
    if let Some(s) = secret {
        c.env(ENV, s);
    }
    c.output()
}

fn all(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Every file under `dir` whose bytes contain `needle`.
fn files_containing(dir: &Path, needle: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if String::from_utf8_lossy(&std::fs::read(&p).unwrap()).contains(needle) {
                found.push(p.display().to_string());
            }
        }
    }
    found
}

#[tokio::test(flavor = "multi_thread")]
async fn a_secret_reaches_only_the_aws_call_that_needs_it() {
    let prefix = unique_prefix("secret_var");
    let table = format!("{prefix}tokens");
    let ddb = aws_sdk_dynamodb::Client::new(&emulator().sdk_config(PRIMARY_REGION).await);
    create_table(&ddb, &table).await;
    let secret = format!("tok-{prefix}-Zq8xV1b");
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    std::fs::write(d.join("rb.yaml"), runbook(&table)).unwrap();
    let run = ["run", "rb.yaml", "--execute", "--yes"];

    // Without its environment variable nothing starts; `--var` cannot set it.
    let o = bin(d, None, &run);
    assert_eq!(o.status.code(), Some(2), "{}", all(&o));
    assert!(
        all(&o).contains(&format!("`{ENV}` is not set")),
        "{}",
        all(&o)
    );
    let mut with_var = run.to_vec();
    let var = format!("api_token={secret}");
    with_var.extend(["--var", &var]);
    let o = bin(d, Some(&secret), &with_var);
    assert_eq!(o.status.code(), Some(2), "{}", all(&o));
    assert!(all(&o).contains("sets a secret variable"), "{}", all(&o));
    assert!(!d.join(".drillbook/runs").exists(), "nothing was recorded");

    // With it, the call gets the value; nothing drillbook writes or prints holds it.
    let o = bin(d, Some(&secret), &run);
    assert_eq!(o.status.code(), Some(0), "{}", all(&o));
    assert!(!all(&o).contains(&secret), "{}", all(&o));
    let item = ddb
        .get_item()
        .table_name(&table)
        .key(
            "pk",
            aws_sdk_dynamodb::types::AttributeValue::S("svc".into()),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(
        item.item().unwrap()["token"].as_s().unwrap(),
        &secret,
        "the AWS call got the value"
    );
    let state = d.join(".drillbook");
    assert_eq!(files_containing(&state, &secret), Vec::<String>::new());
    let vars_files = files_containing(&state, "[secret:api_token]");
    assert!(
        vars_files.iter().any(|f| f.ends_with("vars.json")),
        "the marker stands in: {vars_files:?}"
    );
    let reports = files_containing(&state, "token");
    assert!(
        reports.iter().any(|f| f.ends_with("report.md")),
        "the reports were written: {reports:?}"
    );

    // JSON events, and the DynamoDB store.
    let url = format!("dynamodb://{prefix}state?region={PRIMARY_REGION}");
    let o = bin(d, None, &["state", "init", "--state", &url]);
    assert_eq!(o.status.code(), Some(0), "{}", all(&o));
    let mut shared = run.to_vec();
    shared.extend(["--state", &url, "--message-format", "json"]);
    let o = bin(d, Some(&secret), &shared);
    assert_eq!(o.status.code(), Some(0), "{}", all(&o));
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("\"v\":2"),
        "JSON events"
    );
    assert!(!all(&o).contains(&secret), "{}", all(&o));
    let items = ddb
        .scan()
        .table_name(format!("{prefix}state"))
        .send()
        .await
        .unwrap();
    assert!(items.count() > 2, "the run is in the table");
    let dump = format!("{:?}", items.items());
    assert!(dump.contains("check-token"), "the journal is in the table");
    assert!(!dump.contains(&secret), "the table holds no secret");
}

#[test]
fn a_secret_is_refused_anywhere_but_an_aws_calls_parameters() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let text = format!(
        "version: 1\nname: \"deploy {{{{ vars.api_token }}}}\"\nvars:\n  api_token: {{ secret: true, env: {ENV} }}\n  short: {{ secret: true }}\nsteps:\n  - id: w\n    action: wait\n    with: {{ duration: 1s }}\n  - id: gate\n    action: approval\n    with: {{ message: \"token {{{{ vars.api_token }}}}\" }}\napprovers: {{ allow_unsigned: true }}\n"
    );
    std::fs::write(d.join("rb.yaml"), text).unwrap();
    let o = bin(d, Some("long-enough-secret"), &["validate", "rb.yaml"]);
    let out = all(&o);
    assert_eq!(o.status.code(), Some(2), "{out}");
    assert!(
        out.contains("secret variable `api_token` cannot be used in `name`"),
        "{out}"
    );
    assert!(out.contains("cannot be used in `with.message`"), "{out}");
    assert!(
        out.contains("secret variable `short` needs `env:`"),
        "{out}"
    );
    assert!(!out.contains("long-enough-secret"), "{out}");
}

/// The binary with only `vars` set in its environment (no emulator: nothing here calls AWS).
fn offline(dir: &Path, vars: &[(&str, &str)], args: &[&str]) -> Output {
    let mut c = crate::support::cli::bin();
    c.args(args).current_dir(dir).env_remove(PROBE);
    for (k, v) in vars {
        c.env(k, v);
    }
    c.output()
}

const PROBE: &str = "DR_PROBE_VALUE";

#[test]
fn a_secret_is_never_read_from_aws_or_drillbook_variables() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let canary = "canary-aws-secret-4f1d9c";
    for env in ["AWS_SECRET_ACCESS_KEY", "DRILLBOOK_STATE"] {
        let text = format!(
            "version: 1\nname: exfil\ndefaults: {{ region: eu-west-1 }}\nvars:\n  creds: {{ secret: true, env: {env} }}\nsteps:\n  - id: put\n    action: dynamodb.put_item\n    with: {{ table: t, item: {{ pk: \"{{{{ vars.creds }}}}\" }} }}\n"
        );
        std::fs::write(d.join("rb.yaml"), text).unwrap();
        let o = offline(d, &[(env, canary)], &["validate", "rb.yaml"]);
        let out = all(&o);
        assert_eq!(o.status.code(), Some(2), "{out}");
        assert!(
            out.contains(&format!("secret `creds` cannot be read from `{env}`")),
            "{out}"
        );
        assert!(out.contains("rb.yaml:5:31"), "file:line:column\n{out}");
        assert!(out.contains("1 problem found"), "{out}");
        assert!(
            out.contains("help: keep the secret in a variable of its own"),
            "{out}"
        );
        assert!(!out.contains(canary), "{out}");
        // Nor does a run start.
        let o = offline(
            d,
            &[(env, canary)],
            &["run", "rb.yaml", "--execute", "--yes"],
        );
        assert_eq!(o.status.code(), Some(2), "{}", all(&o));
        assert!(!d.join(".drillbook/runs").exists(), "nothing was recorded");
    }
}

/// What `validate` and `plan` say is the same whatever the variable a secret names holds:
/// unset, too short, a Region name, a long token, text that looks like a template or a marker.
/// (Before, a value under 8 characters was reported, so any runbook could ask whether any
/// variable of the environment was that short; a secret in a Region parameter was checked.)
#[test]
fn validate_and_plan_say_nothing_about_the_value_a_secret_names() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let text = format!(
        "version: 1\nname: probe\ndefaults: {{ region: eu-west-1 }}\nvars:\n  probe: {{ secret: true, env: {PROBE} }}\nsteps:\n  - id: copy\n    action: kms.replicate_key\n    with: {{ key: \"alias/{{{{ vars.probe }}}}\", replica_region: \"{{{{ vars.probe }}}}\" }}\n  - id: check\n    action: kms.assert_replica\n    needs: [copy]\n    with: {{ key: \"{{{{ vars.probe }}}}\" }}\n"
    );
    std::fs::write(d.join("rb.yaml"), text).unwrap();
    let values: [Option<&str>; 7] = [
        None,
        Some("abc"),
        Some("1234567"),
        Some("eu-west-1"),
        Some("a-long-enough-token-0b6e2a9d"),
        Some("{{ steps.nope.key_arn }}"),
        Some("[secret:probe]"),
    ];
    for args in [
        &["validate", "rb.yaml"][..],
        &["plan", "rb.yaml", "--format", "json"][..],
    ] {
        let mut seen: Option<(Option<i32>, String)> = None;
        for value in values {
            let vars: Vec<(&str, &str)> = value.map(|v| (PROBE, v)).into_iter().collect();
            let o = offline(d, &vars, args);
            let got = (o.status.code(), all(&o));
            assert_eq!(got.0, Some(0), "{value:?}: {}", got.1);
            assert!(!got.1.contains("0b6e2a9d"), "{value:?}: {}", got.1);
            match &seen {
                None => seen = Some(got),
                Some(first) => assert_eq!(&got, first, "{args:?} with {PROBE}={value:?}"),
            }
        }
    }
}

#[test]
fn a_secret_too_short_to_redact_is_refused_when_the_run_starts() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let text = format!(
        "version: 1\nname: short\nvars:\n  probe: {{ secret: true, env: {PROBE} }}\nsteps:\n  - id: w\n    action: wait\n    with: {{ duration: 0s }}\n"
    );
    std::fs::write(d.join("rb.yaml"), text).unwrap();
    let o = offline(d, &[(PROBE, "abc")], &["validate", "rb.yaml"]);
    assert_eq!(o.status.code(), Some(0), "{}", all(&o));
    let o = offline(
        d,
        &[(PROBE, "abc")],
        &["run", "rb.yaml", "--execute", "--yes"],
    );
    let out = all(&o);
    assert_eq!(o.status.code(), Some(2), "{out}");
    assert!(
        out.contains(&format!(
            "secret variable `probe` from `{PROBE}` is shorter than 8 characters"
        )),
        "{out}"
    );
    assert!(!d.join(".drillbook/runs").exists(), "nothing was recorded");
    // Long enough, the same run goes.
    let o = offline(
        d,
        &[(PROBE, "long-enough-value")],
        &["run", "rb.yaml", "--execute", "--yes"],
    );
    assert_eq!(o.status.code(), Some(0), "{}", all(&o));
}
