//! The plan as a diagram: Graphviz DOT and Mermaid flowcharts, critical path highlighted.

use std::fmt::Write as _;

use super::common::View;
use super::common::{critical_edges, edges, short_duration as d};
use crate::plan::{Plan, StepIdx};
use crate::runbook::Runbook;

const CRITICAL: &str = "#d62728";

fn dot_str(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn rto_label(plan: &Plan) -> String {
    match plan.rto_check() {
        None => format!("estimated makespan {}", d(plan.makespan())),
        Some(c) if c.within => format!(
            "estimated makespan {} (RTO {}: within)",
            d(c.makespan),
            d(c.rto)
        ),
        Some(c) => format!(
            "estimated makespan {} (RTO {}: EXCEEDED by {})",
            d(c.makespan),
            d(c.rto),
            d(c.over_by())
        ),
    }
}

fn node_label(g: &View, v: StepIdx, offset: std::time::Duration) -> String {
    let s = g.step(v);
    format!(
        "{}\n{}\nest {}, start +{}",
        s.id,
        s.action,
        d(s.estimate),
        d(offset + g.earliest_start(v))
    )
}

/// Graphviz DOT (`dot -Tsvg plan.dot > plan.svg`). Critical path nodes and edges are red and
/// thick; cleanup steps sit in a dashed cluster.
pub fn dot(plan: &Plan, runbook: &Runbook) -> String {
    let mut o = String::new();
    let main = View::main(plan, runbook);
    let _ = writeln!(o, "digraph plan {{");
    let _ = writeln!(
        o,
        "  graph [rankdir=LR, labelloc=t, fontname=\"Helvetica\", label={}];",
        dot_str(&format!("{}\n{}", plan.name(), rto_label(plan)))
    );
    let _ = writeln!(
        o,
        "  node [shape=box, style=rounded, fontname=\"Helvetica\"];"
    );
    let _ = writeln!(o, "  edge [color=\"#555555\"];");
    for &v in main.steps() {
        let label = dot_str(&node_label(&main, v, Default::default()));
        if main.is_critical(v) {
            let _ = writeln!(
                o,
                "  {} [label={label}, color=\"{CRITICAL}\", penwidth=2.5];",
                dot_str(&main.step(v).id)
            );
        } else {
            let _ = writeln!(o, "  {} [label={label}];", dot_str(&main.step(v).id));
        }
    }
    let crit = critical_edges(&main);
    for (u, v) in edges(&main) {
        let attrs = if crit.contains(&(u, v)) {
            format!(" [color=\"{CRITICAL}\", penwidth=2.5]")
        } else {
            String::new()
        };
        let _ = writeln!(
            o,
            "  {} -> {}{attrs};",
            dot_str(&main.step(u).id),
            dot_str(&main.step(v).id)
        );
    }
    let cleanup = View::cleanup(plan, runbook);
    if !cleanup.is_empty() {
        let _ = writeln!(o, "  subgraph cluster_finally {{");
        let _ = writeln!(
            o,
            "    label=\"finally (after the steps, whatever their outcome)\";"
        );
        let _ = writeln!(o, "    style=dashed;");
        for &v in cleanup.steps() {
            let _ = writeln!(
                o,
                "    {} [label={}];",
                dot_str(&cleanup.step(v).id),
                dot_str(&node_label(&cleanup, v, plan.makespan()))
            );
        }
        for (u, v) in edges(&cleanup) {
            let _ = writeln!(
                o,
                "    {} -> {};",
                dot_str(&cleanup.step(u).id),
                dot_str(&cleanup.step(v).id)
            );
        }
        let _ = writeln!(o, "  }}");
    }
    let _ = writeln!(o, "}}");
    o
}

fn mermaid_label(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("#quot;"),
            '<' => out.push_str("#lt;"),
            '>' => out.push_str("#gt;"),
            '\n' => out.push_str("<br/>"),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A Mermaid flowchart (renders in GitHub and GitLab Markdown inside a ```mermaid block).
/// Node ids are `s<N>` for steps and `f<N>` for cleanup steps, N being the position in the
/// runbook. Critical path nodes get the `critical` class, its edges a red `linkStyle`.
pub fn mermaid(plan: &Plan, runbook: &Runbook) -> String {
    let mut o = String::new();
    let main = View::main(plan, runbook);
    let _ = writeln!(o, "---");
    let _ = writeln!(o, "title: {}", mermaid_title(plan));
    let _ = writeln!(o, "---");
    let _ = writeln!(o, "flowchart LR");
    let id = |prefix: char, v: StepIdx| format!("{prefix}{}", v.index());
    for &v in main.steps() {
        let _ = writeln!(
            o,
            "  {}[{}]",
            id('s', v),
            mermaid_label(&node_label(&main, v, Default::default()))
        );
    }
    let crit = critical_edges(&main);
    let mut crit_links = vec![];
    for (link, (u, v)) in edges(&main).into_iter().enumerate() {
        let _ = writeln!(o, "  {} --> {}", id('s', u), id('s', v));
        if crit.contains(&(u, v)) {
            crit_links.push(link.to_string());
        }
    }
    let cleanup = View::cleanup(plan, runbook);
    if !cleanup.is_empty() {
        let _ = writeln!(
            o,
            "  subgraph cleanup [\"finally (after the steps, whatever their outcome)\"]"
        );
        for &v in cleanup.steps() {
            let _ = writeln!(
                o,
                "    {}[{}]",
                id('f', v),
                mermaid_label(&node_label(&cleanup, v, plan.makespan()))
            );
        }
        for (u, v) in edges(&cleanup) {
            let _ = writeln!(o, "    {} --> {}", id('f', u), id('f', v));
        }
        let _ = writeln!(o, "  end");
    }
    let _ = writeln!(o, "  classDef critical stroke:{CRITICAL},stroke-width:3px");
    if !main.critical_path().is_empty() {
        let nodes: Vec<String> = main.critical_path().iter().map(|&v| id('s', v)).collect();
        let _ = writeln!(o, "  class {} critical", nodes.join(","));
    }
    if !crit_links.is_empty() {
        let _ = writeln!(
            o,
            "  linkStyle {} stroke:{CRITICAL},stroke-width:3px",
            crit_links.join(",")
        );
    }
    o
}

fn mermaid_title(plan: &Plan) -> String {
    // Front-matter is YAML: keep the title on one line and quoted.
    // A newline or another control character in the runbook's name would end the front
    // matter: they become spaces.
    let t: String = format!("{}: {}", plan.name(), rto_label(plan))
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    format!("\"{}\"", t.replace('\\', "\\\\").replace('"', "\\\""))
}
