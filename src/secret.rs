//! Secret variables: values that drillbook passes to the AWS calls that need them and writes
//! nowhere else.
//!
//! A runbook declares one as `vars: { NAME: { secret: true, env: ENV_VAR } }`; its value is read
//! from `ENV_VAR` when the runbook loads, and registered here. Every writer of the journal (both
//! stores), of the stored variables, of events, reports and terminal output passes its text
//! through [`redact`], so the value is replaced by [`marker`] wherever it would have appeared.

use std::borrow::Cow;
use std::sync::RwLock;

/// Shortest secret value accepted: shorter ones would redact ordinary text.
pub(crate) const MIN_LEN: usize = 8;

/// (value, JSON-escaped value, marker) of every secret this process loaded.
static SECRETS: RwLock<Vec<(String, String, String)>> = RwLock::new(Vec::new());

/// What stands in for the value of secret variable `name`: `[secret:NAME]`.
pub(crate) fn marker(name: &str) -> String {
    format!("[secret:{name}]")
}

/// Registers a secret value (values shorter than [`MIN_LEN`] are refused by validation first).
pub(crate) fn register(name: &str, value: &str) {
    if value.len() < MIN_LEN {
        return;
    }
    let escaped = serde_json::to_string(value).expect("a string serializes");
    let escaped = escaped[1..escaped.len() - 1].to_string();
    let mut all = SECRETS.write().unwrap_or_else(|e| e.into_inner());
    if !all.iter().any(|(v, _, _)| v == value) {
        all.push((value.to_string(), escaped, marker(name)));
        // Longest first, so a secret that contains another is replaced whole.
        all.sort_by_key(|(v, _, _)| std::cmp::Reverse(v.len()));
    }
}

/// `text` with every registered secret value replaced by its marker.
pub(crate) fn redact(text: &str) -> Cow<'_, str> {
    let all = SECRETS.read().unwrap_or_else(|e| e.into_inner());
    if all.is_empty()
        || !all
            .iter()
            .any(|(v, e, _)| text.contains(v.as_str()) || text.contains(e.as_str()))
    {
        return Cow::Borrowed(text);
    }
    let mut out = text.to_string();
    for (value, escaped, marker) in all.iter() {
        out = out.replace(value.as_str(), marker);
        if escaped != value {
            out = out.replace(escaped.as_str(), marker);
        }
    }
    Cow::Owned(out)
}

/// [`redact`] for bytes that are UTF-8 (JSON lines, reports); other bytes are returned as-is.
pub(crate) fn redact_bytes(bytes: Vec<u8>) -> Vec<u8> {
    match std::str::from_utf8(&bytes) {
        Ok(s) => match redact(s) {
            Cow::Borrowed(_) => bytes,
            Cow::Owned(o) => o.into_bytes(),
        },
        Err(_) => bytes,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registered_values_are_replaced_raw_and_json_escaped() {
        register("tok", "unit-secret-\"quoted\"-9f3a");
        register("short", "abc");
        let raw = "token=unit-secret-\"quoted\"-9f3a; abc";
        assert_eq!(redact(raw), "token=[secret:tok]; abc");
        let json =
            serde_json::to_string(&serde_json::json!({ "v": "unit-secret-\"quoted\"-9f3a" }))
                .unwrap();
        assert_eq!(redact(&json), r#"{"v":"[secret:tok]"}"#);
        assert!(matches!(redact("nothing here"), Cow::Borrowed(_)));
    }
}
