use super::*;
use crate::plan::Plan;
use crate::plan::fixtures::{failover, runbook, step};

use crate::runbook::Runbook;

fn plan(rto: Option<u64>) -> (Plan, Runbook) {
    let rb = failover(rto);
    (Plan::build(&rb).unwrap(), rb)
}

#[test]
fn text_within_rto() {
    insta::assert_snapshot!({
        let (p, rb) = plan(Some(900));
        text(&p, &rb)
    });
}

#[test]
fn text_over_rto_has_a_warning_line() {
    let out = {
        let (p, rb) = plan(Some(600));
        text(&p, &rb)
    };
    assert!(
        out.contains("warning: the estimated makespan 14m15s exceeds the RTO 10m by 4m15s"),
        "{out}"
    );
    insta::assert_snapshot!(out);
}

#[test]
fn text_without_rto_or_steps() {
    let rb = runbook(vec![], vec![], None);
    let out = text(&Plan::build(&rb).unwrap(), &rb);
    insta::assert_snapshot!(out);
}

#[test]
fn text_omits_the_timeline_for_big_plans() {
    let steps = (0..100).map(|i| step(&format!("s{i}"), 1, &[])).collect();
    let rb = runbook(steps, vec![], None);
    let out = text(&Plan::build(&rb).unwrap(), &rb);
    assert!(out.contains("Timeline omitted for 100 steps"), "{out}");
}

#[test]
fn json_output() {
    let out = {
        let (p, rb) = plan(Some(600));
        json(&p, &rb)
    };
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["format_version"], 1);
    assert_eq!(v, {
        let (p, rb) = plan(Some(600));
        json_value(&p, &rb)
    });
    insta::assert_snapshot!(out);
}

#[test]
fn dot_output() {
    insta::assert_snapshot!({
        let (p, rb) = plan(Some(900));
        dot(&p, &rb)
    });
}

#[test]
fn mermaid_output() {
    insta::assert_snapshot!({
        let (p, rb) = plan(Some(600));
        mermaid(&p, &rb)
    });
}

#[test]
fn diagrams_escape_labels() {
    let mut rb = runbook(vec![step("a\"b", 1, &[])], vec![], None);
    rb.name = "x\"y\\z\n".into();
    let p = Plan::build(&rb).unwrap();
    let d = dot(&p, &rb);
    assert!(d.contains(r#""a\"b" [label="a\"b\nwait"#), "{d}");
    assert!(d.contains(r#"label="x\"y\\z\n\nestimated"#), "{d}");
    let m = mermaid(&p, &rb);
    assert!(m.contains(r#"s0["a#quot;b<br/>wait"#), "{m}");
    // The front matter stays three lines: a newline in the name cannot end it early.
    let front: Vec<&str> = m.lines().take(3).collect();
    assert_eq!(front[0], "---");
    assert!(
        front[1].starts_with(r#"title: "x\"y\\z : estimated"#),
        "{m}"
    );
    assert_eq!(front[2], "---");
}
