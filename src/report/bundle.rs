//! The index page of an evidence bundle (`drillbook evidence export`).

/// The bundle's index.html: one row per run, linking to its report (maud escapes every value).
pub fn html(index: &serde_json::Value) -> String {
    use maud::{DOCTYPE, PreEscaped, html};
    let t = |v: &serde_json::Value| match v {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Null => "-".into(),
        other => other.to_string(),
    };
    let page = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                title { "drillbook evidence" }
                style { (PreEscaped("body{font-family:system-ui,sans-serif;margin:2rem}td,th{border-bottom:1px solid #ccc;padding:.3rem .6rem;text-align:left}")) }
            }
            body {
                h1 { "drillbook evidence bundle" }
                p {
                    "Runs since " (t(&index["since"])) ". Each run directory is sealed, and so is the bundle: "
                    code { "drillbook verify-evidence" } " checks both."
                }
                table {
                    thead { tr {
                        th { "Run" } th { "Runbook" } th { "SHA-256" } th { "Scenario" } th { "Verdict" }
                        th { "RTO achieved / objective (ms)" } th { "Approvers" } th { "Evidence" }
                    } }
                    tbody {
                        @for r in index["runs"].as_array().into_iter().flatten() {
                            @let approvals: Vec<&serde_json::Value> = r["approvals"].as_array().into_iter().flatten().collect();
                            tr {
                                td { a href={ (t(&r["run_id"])) "/report.html" } { code { (t(&r["run_id"])) } } }
                                td { (t(&r["runbook"])) }
                                td { code { (t(&r["runbook_sha256"])) } }
                                td { (t(&r["scenario"])) }
                                td { (t(&r["verdict"])) }
                                td { (t(&r["objectives"]["recovery_ms"])) " / " (t(&r["objectives"]["rto_ms"])) }
                                td {
                                    @if approvals.is_empty() { "-" }
                                    @for (k, a) in approvals.iter().enumerate() {
                                        @if k > 0 { br; }
                                        (t(&a["approver"])) " (" (t(&a["status"])) ")"
                                    }
                                }
                                td { (t(&r["evidence"])) }
                            }
                        }
                    }
                }
            }
        }
    };
    let mut out = page.into_string();
    out.push('\n');
    out
}
