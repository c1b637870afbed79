//! Secret variables in the validated runbook: their markers (`[secret:NAME]`), which every
//! check sees, are replaced by their values once every check is done.

use std::collections::BTreeMap;

use crate::catalog;
use crate::runbook::model::Step;

/// The secret markers (`[secret:NAME]`) in `s`, as (start, end, NAME); linear in `s`.
pub(super) fn secret_markers(s: &str) -> impl Iterator<Item = (usize, usize, &str)> {
    const OPEN: &str = "[secret:";
    let mut from = 0;
    std::iter::from_fn(move || {
        while let Some(i) = s.get(from..).and_then(|r| r.find(OPEN)).map(|i| from + i) {
            let name_start = i + OPEN.len();
            let name_len = s[name_start..]
                .bytes()
                .take_while(|b| b.is_ascii_alphanumeric() || *b == b'_' || *b == b'-')
                .count();
            let end = name_start + name_len;
            from = end;
            if name_len > 0 && s.as_bytes().get(end) == Some(&b']') {
                from = end + 1;
                return Some((i, end + 1, &s[name_start..end]));
            }
        }
        None
    })
}

/// Puts the secrets' values in place of their markers in the `with:` of AWS actions (the only
/// place validation lets a secret be used), once every check is done.
pub(super) fn with_secrets(steps: &mut [Step], values: &BTreeMap<String, String>) {
    fn replace(s: &mut String, values: &BTreeMap<String, String>) {
        if !secret_markers(s).any(|(_, _, name)| values.contains_key(name)) {
            return;
        }
        let mut out = String::with_capacity(s.len());
        let mut last = 0;
        for (start, end, name) in secret_markers(s) {
            if let Some(value) = values.get(name) {
                out.push_str(&s[last..start]);
                out.push_str(value);
                last = end;
            }
        }
        out.push_str(&s[last..]);
        *s = out;
    }
    fn walk(v: &mut serde_json::Value, values: &BTreeMap<String, String>) {
        use serde_json::Value as J;
        match v {
            J::String(s) => replace(s, values),
            J::Array(items) => items.iter_mut().for_each(|i| walk(i, values)),
            J::Object(map) => {
                for (mut k, mut item) in std::mem::take(map) {
                    replace(&mut k, values);
                    walk(&mut item, values);
                    map.entry(k).or_insert(item);
                }
            }
            _ => {}
        }
    }
    if values.is_empty() {
        return;
    }
    for step in steps {
        if catalog::lookup(&step.action).is_some_and(|a| a.service != catalog::Service::Core) {
            for v in step.with.values_mut() {
                walk(v, values);
            }
        }
    }
}
