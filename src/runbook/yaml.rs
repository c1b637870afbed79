//! A small YAML tree with byte spans, built from yaml-rust2's event parser.
//!
//! The tree keeps every scalar's source text and position so the validator can point at the
//! exact spot of a problem. Building it is bounded: nesting depth, total node count (which
//! includes alias expansion, against "billion laughs") and a single document.

use std::collections::HashMap;

use yaml_rust2::parser::{Event, Parser};
use yaml_rust2::scanner::{Marker, TScalarStyle};

/// Deepest nesting accepted (a runbook needs about 6 levels).
pub(crate) const MAX_DEPTH: usize = 64;
/// Most nodes a document may expand to, aliases included.
pub(crate) const MAX_NODES: usize = 500_000;

/// A byte range in the source text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Span {
    pub start: usize,
    pub end: usize,
}

impl Span {
    pub fn new(start: usize, end: usize) -> Span {
        Span {
            start,
            end: end.max(start),
        }
    }
    pub fn len(&self) -> usize {
        self.end - self.start
    }
    pub fn is_empty(&self) -> bool {
        self.end == self.start
    }
}

/// A scalar as written: its text, and whether it was plain (unquoted, untagged), which decides
/// whether `true`, `12` or `null` mean a bool, a number or null.
#[derive(Debug, Clone, PartialEq)]
pub struct Scalar {
    pub text: String,
    pub plain: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Scalar(Scalar),
    Seq(Vec<Node>),
    Map(Vec<(Node, Node)>),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub value: Value,
    pub span: Span,
}

/// What a scalar resolves to (YAML 1.2 core schema).
#[derive(Debug, Clone, PartialEq)]
pub enum Resolved<'a> {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(&'a str),
}

impl Scalar {
    pub fn resolve(&self) -> Resolved<'_> {
        let t = self.text.as_str();
        if !self.plain {
            return Resolved::Str(t);
        }
        match t {
            "" | "~" | "null" | "Null" | "NULL" => return Resolved::Null,
            "true" | "True" | "TRUE" => return Resolved::Bool(true),
            "false" | "False" | "FALSE" => return Resolved::Bool(false),
            ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => {
                return Resolved::Float(f64::INFINITY);
            }
            "-.inf" | "-.Inf" | "-.INF" => return Resolved::Float(f64::NEG_INFINITY),
            ".nan" | ".NaN" | ".NAN" => return Resolved::Float(f64::NAN),
            _ => {}
        }
        let digits = t.strip_prefix(['-', '+']).unwrap_or(t);
        if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
            if let Ok(i) = t.parse::<i64>() {
                return Resolved::Int(i);
            }
            return Resolved::Str(t);
        }
        if let Some(hex) = t.strip_prefix("0x")
            && let Ok(i) = i64::from_str_radix(hex, 16)
        {
            return Resolved::Int(i);
        }
        if let Some(oct) = t.strip_prefix("0o")
            && let Ok(i) = i64::from_str_radix(oct, 8)
        {
            return Resolved::Int(i);
        }
        let looks_float = digits
            .bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'-' | b'+'))
            && digits.bytes().any(|b| b.is_ascii_digit())
            && digits.as_bytes()[0] != b'e'
            && digits.as_bytes()[0] != b'E';
        if looks_float && let Ok(f) = t.parse::<f64>() {
            return Resolved::Float(f);
        }
        Resolved::Str(t)
    }
}

impl Node {
    /// Short name of the node's type, for "expected X, found Y" messages.
    pub fn kind_name(&self) -> &'static str {
        match &self.value {
            Value::Seq(_) => "a list",
            Value::Map(_) => "a mapping",
            Value::Scalar(s) => match s.resolve() {
                Resolved::Null => "nothing (null)",
                Resolved::Bool(_) => "a boolean",
                Resolved::Int(_) => "an integer",
                Resolved::Float(_) => "a number",
                Resolved::Str(_) => "a string",
            },
        }
    }

    pub fn scalar(&self) -> Option<&Scalar> {
        match &self.value {
            Value::Scalar(s) => Some(s),
            _ => None,
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(self.scalar().map(Scalar::resolve), Some(Resolved::Null))
    }

    /// The node as JSON (scalars resolved, no template substitution).
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value as J;
        match &self.value {
            Value::Scalar(s) => match s.resolve() {
                Resolved::Null => J::Null,
                Resolved::Bool(b) => J::Bool(b),
                Resolved::Int(i) => J::from(i),
                Resolved::Float(f) => serde_json::Number::from_f64(f)
                    .map_or_else(|| J::String(s.text.clone()), J::Number),
                Resolved::Str(t) => J::String(t.to_string()),
            },
            Value::Seq(items) => J::Array(items.iter().map(Node::to_json).collect()),
            Value::Map(entries) => J::Object(
                entries
                    .iter()
                    .map(|(k, v)| {
                        let key = k
                            .scalar()
                            .map_or_else(|| k.to_json().to_string(), |s| s.text.clone());
                        (key, v.to_json())
                    })
                    .collect(),
            ),
        }
    }

    /// Number of nodes in this subtree (for the alias budget).
    fn count(&self) -> usize {
        1 + match &self.value {
            Value::Scalar(_) => 0,
            Value::Seq(items) => items.iter().map(Node::count).sum(),
            Value::Map(entries) => entries.iter().map(|(k, v)| k.count() + v.count()).sum(),
        }
    }
}

/// Why the text could not be turned into a tree. `at` is a byte offset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct YamlError {
    pub message: String,
    pub help: String,
    pub at: usize,
}

/// A non-fatal problem found while building (duplicate mapping keys).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DuplicateKey {
    pub key: String,
    pub first: Span,
    pub again: Span,
}

/// The document's root (`None` for an empty stream) and the duplicate keys seen.
#[derive(Debug)]
pub struct Parsed {
    pub root: Option<Node>,
    pub duplicates: Vec<DuplicateKey>,
}

enum Frame {
    Seq {
        start: usize,
        anchor: usize,
        items: Vec<Node>,
    },
    Map {
        start: usize,
        anchor: usize,
        entries: Vec<(Node, Node)>,
        key: Option<Node>,
    },
}

/// Converts yaml-rust2's character-based markers into byte offsets.
struct Offsets<'a> {
    text: &'a str,
    ascii: bool,
    char_idx: usize,
    byte_idx: usize,
}

impl Offsets<'_> {
    fn byte(&mut self, m: &Marker) -> usize {
        let target = m.index();
        if self.ascii {
            return target.min(self.text.len());
        }
        let bytes = self.text.as_bytes();
        while self.char_idx < target && self.byte_idx < bytes.len() {
            self.byte_idx += 1;
            while self.byte_idx < bytes.len() && !self.text.is_char_boundary(self.byte_idx) {
                self.byte_idx += 1;
            }
            self.char_idx += 1;
        }
        while self.char_idx > target && self.byte_idx > 0 {
            self.byte_idx -= 1;
            while self.byte_idx > 0 && !self.text.is_char_boundary(self.byte_idx) {
                self.byte_idx -= 1;
            }
            self.char_idx -= 1;
        }
        self.byte_idx
    }
}

/// Where a scalar starting at `start` ends in the source (best effort: the whole token when it
/// sits on one line, else the rest of its first line).
fn scalar_end(text: &str, start: usize, value: &str, style: TScalarStyle) -> usize {
    let rest = &text[start..];
    if style == TScalarStyle::Plain && rest.starts_with(value) && !value.contains('\n') {
        return start + value.len();
    }
    // Look no further than a bounded window: a single huge line must not make this quadratic.
    let mut window = rest.len().min(value.len().saturating_mul(2) + 256);
    while !rest.is_char_boundary(window) {
        window -= 1;
    }
    let rest = &rest[..window];
    let line_end = rest.find(['\n', '\r']).unwrap_or(rest.len());
    let line = &rest[..line_end];
    match style {
        TScalarStyle::SingleQuoted if line.starts_with('\'') => {
            let b = line.as_bytes();
            let mut i = 1;
            while i < b.len() {
                if b[i] == b'\'' {
                    if b.get(i + 1) == Some(&b'\'') {
                        i += 2;
                        continue;
                    }
                    return start + i + 1;
                }
                i += 1;
            }
            start + line_end
        }
        TScalarStyle::DoubleQuoted if line.starts_with('"') => {
            let b = line.as_bytes();
            let mut i = 1;
            while i < b.len() {
                match b[i] {
                    b'\\' => i += 2,
                    b'"' => return start + i + 1,
                    _ => i += 1,
                }
            }
            start + line_end
        }
        _ => start + line_end.max(usize::from(value.is_empty() && line_end > 0)),
    }
}

fn err(message: impl Into<String>, help: impl Into<String>, at: usize) -> YamlError {
    YamlError {
        message: message.into(),
        help: help.into(),
        at,
    }
}

/// Parses one YAML document into a [`Node`] tree, within the limits above.
pub(crate) fn parse(text: &str) -> Result<Parsed, YamlError> {
    let mut parser = Parser::new_from_str(text);
    let mut offsets = Offsets {
        text,
        ascii: text.is_ascii(),
        char_idx: 0,
        byte_idx: 0,
    };
    let mut stack: Vec<Frame> = Vec::new();
    let mut anchors: HashMap<usize, (Node, usize)> = HashMap::new();
    let mut root: Option<Node> = None;
    let mut duplicates = Vec::new();
    let mut nodes = 0usize;
    let mut documents = 0usize;

    loop {
        let (event, mark) = match parser.next_token() {
            Ok(x) => x,
            Err(e) => {
                let at = offsets.byte(e.marker());
                if e.info().contains("recursion limit") {
                    return Err(err(
                        format!("nesting deeper than {MAX_DEPTH} levels"),
                        "a runbook needs only a few levels of nesting; this file is not a runbook",
                        at,
                    ));
                }
                return Err(err(
                    format!("invalid YAML: {}", e.info()),
                    "check the indentation and quoting around here",
                    at,
                ));
            }
        };
        let at = offsets.byte(&mark);
        let node = match event {
            Event::StreamEnd => break,
            Event::Nothing | Event::StreamStart | Event::DocumentEnd => continue,
            Event::DocumentStart => {
                documents += 1;
                if documents > 1 {
                    return Err(err(
                        "more than one YAML document",
                        "a runbook is a single document: remove this `---` and what follows, or split it into another file",
                        at,
                    ));
                }
                continue;
            }
            Event::SequenceStart(anchor, _) | Event::MappingStart(anchor, _) => {
                if stack.len() >= MAX_DEPTH {
                    return Err(err(
                        format!("nesting deeper than {MAX_DEPTH} levels"),
                        "a runbook needs only a few levels of nesting; this file is not a runbook",
                        at,
                    ));
                }
                nodes += 1;
                if nodes > MAX_NODES {
                    return Err(too_many(at));
                }
                stack.push(if matches!(event, Event::SequenceStart(..)) {
                    Frame::Seq {
                        start: at,
                        anchor,
                        items: Vec::new(),
                    }
                } else {
                    Frame::Map {
                        start: at,
                        anchor,
                        entries: Vec::new(),
                        key: None,
                    }
                });
                continue;
            }
            Event::SequenceEnd | Event::MappingEnd => {
                let frame = stack.pop().ok_or_else(|| err("unbalanced YAML", "", at))?;
                let (node, anchor) = match frame {
                    Frame::Seq {
                        start,
                        anchor,
                        items,
                    } => (
                        Node {
                            value: Value::Seq(items),
                            span: Span::new(start, start + 1),
                        },
                        anchor,
                    ),
                    Frame::Map {
                        start,
                        anchor,
                        entries,
                        ..
                    } => {
                        find_duplicates(&entries, &mut duplicates);
                        // A block mapping is best pointed at by its first key.
                        let span = match entries.first() {
                            Some((k, _)) => k.span,
                            _ => Span::new(start, start + 1),
                        };
                        (
                            Node {
                                value: Value::Map(entries),
                                span,
                            },
                            anchor,
                        )
                    }
                };
                if anchor > 0 {
                    let count = node.count();
                    anchors.insert(anchor, (node.clone(), count));
                }
                node
            }
            Event::Scalar(value, style, anchor, tag) => {
                nodes += 1;
                if nodes > MAX_NODES {
                    return Err(too_many(at));
                }
                let end = scalar_end(text, at, &value, style);
                let plain = style == TScalarStyle::Plain && tag.is_none();
                let node = Node {
                    value: Value::Scalar(Scalar { text: value, plain }),
                    span: Span::new(at, end),
                };
                if anchor > 0 {
                    anchors.insert(anchor, (node.clone(), 1));
                }
                node
            }
            Event::Alias(id) => {
                let Some((node, count)) = anchors.get(&id) else {
                    return Err(err(
                        "alias to an unknown anchor",
                        "define the anchor (`&name`) before using it (`*name`)",
                        at,
                    ));
                };
                nodes += count;
                if nodes > MAX_NODES {
                    return Err(err(
                        format!("aliases expand to more than {MAX_NODES} nodes"),
                        "this looks like an alias bomb; a runbook does not need nested aliases",
                        at,
                    ));
                }
                let mut node = node.clone();
                // Point at the alias itself, not the anchor.
                let alias_end = text[at..]
                    .find(|c: char| c.is_whitespace() || matches!(c, ',' | ']' | '}'))
                    .map_or(text.len(), |i| at + i);
                node.span = Span::new(at, alias_end);
                node
            }
        };
        match stack.last_mut() {
            None => {
                if root.is_none() {
                    root = Some(node);
                }
            }
            Some(Frame::Seq { items, .. }) => items.push(node),
            Some(Frame::Map { entries, key, .. }) => match key.take() {
                None => *key = Some(node),
                Some(k) => entries.push((k, node)),
            },
        }
    }
    Ok(Parsed { root, duplicates })
}

fn too_many(at: usize) -> YamlError {
    err(
        format!("document has more than {MAX_NODES} nodes"),
        "a runbook is far smaller; this file is not a runbook",
        at,
    )
}

fn find_duplicates(entries: &[(Node, Node)], out: &mut Vec<DuplicateKey>) {
    if entries.len() < 2 {
        return;
    }
    // Small mappings (nearly all of a runbook) are checked without allocating.
    if entries.len() <= 16 {
        for (i, (k, _)) in entries.iter().enumerate() {
            let Some(s) = k.scalar() else { continue };
            if let Some((first, _)) = entries[..i]
                .iter()
                .find(|(p, _)| p.scalar().is_some_and(|p| p.text == s.text))
            {
                // Report each repeat once, against the first occurrence.
                out.push(DuplicateKey {
                    key: s.text.clone(),
                    first: first.span,
                    again: k.span,
                });
            }
        }
        return;
    }
    let mut seen: HashMap<&str, Span> = HashMap::with_capacity(entries.len());
    for (k, _) in entries {
        if let Some(s) = k.scalar() {
            match seen.get(s.text.as_str()) {
                Some(first) => out.push(DuplicateKey {
                    key: s.text.clone(),
                    first: *first,
                    again: k.span,
                }),
                None => {
                    seen.insert(&s.text, k.span);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map_get<'a>(n: &'a Node, key: &str) -> &'a Node {
        match &n.value {
            Value::Map(e) => {
                &e.iter()
                    .find(|(k, _)| k.scalar().unwrap().text == key)
                    .unwrap()
                    .1
            }
            _ => panic!("not a map"),
        }
    }

    #[test]
    fn spans_point_at_scalars() {
        let text = "a: hello\nb: \"quoted \\\" x\"\nc: 'it''s'\nd: é1\ne: ok\n";
        let root = parse(text).unwrap().root.unwrap();
        for key in ["a", "b", "c", "d", "e"] {
            let n = map_get(&root, key);
            let src = &text[n.span.start..n.span.end];
            assert!(!src.is_empty(), "{key}");
            assert!(!src.contains('\n'), "{key}: {src:?}");
        }
        let e = map_get(&root, "e");
        assert_eq!(&text[e.span.start..e.span.end], "ok");
        let b = map_get(&root, "b");
        assert_eq!(&text[b.span.start..b.span.end], "\"quoted \\\" x\"");
    }

    #[test]
    fn resolves_core_schema() {
        let s = |t: &str| Scalar {
            text: t.into(),
            plain: true,
        };
        assert_eq!(s("12").resolve(), Resolved::Int(12));
        assert_eq!(s("true").resolve(), Resolved::Bool(true));
        assert_eq!(s("~").resolve(), Resolved::Null);
        assert_eq!(s("1.5").resolve(), Resolved::Float(1.5));
        assert_eq!(s("30s").resolve(), Resolved::Str("30s"));
        assert_eq!(s("e1").resolve(), Resolved::Str("e1"));
        let q = Scalar {
            text: "12".into(),
            plain: false,
        };
        assert_eq!(q.resolve(), Resolved::Str("12"));
    }

    #[test]
    fn rejects_alias_bombs_and_depth() {
        let mut bomb = String::from("a: &a [x, x, x, x, x, x, x, x, x, x]\n");
        let mut prev = 'a';
        for c in 'b'..='k' {
            bomb.push_str(&format!(
                "{c}: &{c} [*{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}]\n"
            ));
            prev = c;
        }
        let e = parse(&bomb).unwrap_err();
        assert!(e.message.contains("aliases expand"), "{e:?}");
        let deep = "[".repeat(10_000);
        let e = parse(&deep).unwrap_err();
        assert!(e.message.contains("nesting"), "{e:?}");
    }

    #[test]
    fn reports_duplicates_and_documents() {
        let p = parse("a: 1\na: 2\n").unwrap();
        assert_eq!(p.duplicates.len(), 1);
        let e = parse("a: 1\n---\nb: 2\n").unwrap_err();
        assert!(e.message.contains("more than one"));
        assert!(parse("").unwrap().root.is_none());
    }
}
