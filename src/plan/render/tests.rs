use super::*;
use crate::plan::Plan;
use crate::plan::fixtures::{failover, runbook, step};

fn plan(rto: Option<u64>) -> Plan {
    Plan::build(&failover(rto)).unwrap()
}

#[test]
fn text_within_rto() {
    insta::assert_snapshot!(text(&plan(Some(900))));
}

#[test]
fn text_over_rto_has_a_warning_line() {
    let out = text(&plan(Some(600)));
    assert!(
        out.contains("warning: the estimated makespan 14m15s exceeds the RTO 10m by 4m15s"),
        "{out}"
    );
    insta::assert_snapshot!(out);
}

#[test]
fn text_without_rto_or_steps() {
    let out = text(&Plan::build(&runbook(vec![], vec![], None)).unwrap());
    insta::assert_snapshot!(out);
}

#[test]
fn text_omits_the_timeline_for_big_plans() {
    let steps = (0..100).map(|i| step(&format!("s{i}"), 1, &[])).collect();
    let out = text(&Plan::build(&runbook(steps, vec![], None)).unwrap());
    assert!(out.contains("Timeline omitted for 100 steps"), "{out}");
}

#[test]
fn json_output() {
    let out = json(&plan(Some(600)));
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["format_version"], 1);
    assert_eq!(v, json_value(&plan(Some(600))));
    insta::assert_snapshot!(out);
}

#[test]
fn dot_output() {
    insta::assert_snapshot!(dot(&plan(Some(900))));
}

#[test]
fn mermaid_output() {
    insta::assert_snapshot!(mermaid(&plan(Some(600))));
}

#[test]
fn diagrams_escape_labels() {
    let mut rb = runbook(vec![step("a\"b", 1, &[])], vec![], None);
    rb.name = "x\"y\\z\n".into();
    let p = Plan::build(&rb).unwrap();
    let d = dot(&p);
    assert!(d.contains(r#""a\"b" [label="a\"b\nwait"#), "{d}");
    assert!(d.contains(r#"label="x\"y\\z\n\nestimated"#), "{d}");
    let m = mermaid(&p);
    assert!(m.contains(r#"s0["a#quot;b<br/>wait"#), "{m}");
}
