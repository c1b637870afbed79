//! Reading moto's request recording (`/moto-api/recorder/download-recording`).
//!
//! The emulator records every AWS request from the start (MOTO_ENABLE_RECORDING); one file per
//! emulator instance, shared by all tests of the binary. Tests running concurrently tell their
//! own calls apart by their unique resource-name prefix (or ids such as a KMS key id or a hosted
//! zone id): a call belongs to a test when its path or body contains one of its needles.

use aws_smithy_types::base64;
use serde::Deserialize;

#[derive(Debug, Clone)]
pub(crate) struct RecordedRequest {
    /// HTTP method (`POST`, `GET`, `PATCH`, ...).
    pub method: String,
    /// Path and query, percent-decoded (`/2013-04-01/hostedzone/Z1/rrset`).
    pub path: String,
    /// Signing name from the SigV4 credential scope (`kms`, `dynamodb`, `route53`, `apigateway`,
    /// `monitoring`, `sts`), empty if unsigned.
    pub service: String,
    /// Region from the SigV4 credential scope, empty if unsigned.
    pub region: String,
    /// Operation name when the protocol names it (`X-Amz-Target`, query `Action=`, or the
    /// Smithy RPC v2 path `/service/S/operation/Op`); `None` for REST protocols.
    pub operation: Option<String>,
    /// Request body (lossy UTF-8; binary CBOR strings stay readable).
    pub body: String,
}

const READ_ONLY_PREFIXES: &[&str] = &[
    "Describe",
    "Get",
    "List",
    "Query",
    "Scan",
    "BatchGet",
    "TestDNSAnswer",
    "Decrypt",
    "Encrypt",
    "GenerateDataKey",
    "GenerateRandom",
    "Verify",
    "Sign",
    "Simulate",
];

impl RecordedRequest {
    /// Whether the request changes state: by operation name when known, else by HTTP method.
    pub(crate) fn is_mutating(&self) -> bool {
        match &self.operation {
            Some(op) => !READ_ONLY_PREFIXES.iter().any(|p| op.starts_with(p)),
            None => !matches!(self.method.as_str(), "GET" | "HEAD" | "OPTIONS"),
        }
    }

    /// Whether the path or body mentions `needle` (a resource-name prefix, key id, zone id...).
    pub(crate) fn mentions(&self, needle: &str) -> bool {
        !needle.is_empty() && (self.path.contains(needle) || self.body.contains(needle))
    }

    /// `operation` if known, else `METHOD /path` (for REST protocols).
    pub(crate) fn label(&self) -> String {
        self.operation
            .clone()
            .unwrap_or_else(|| format!("{} {}", self.method, self.path))
    }
}

#[derive(Deserialize)]
struct RawEntry {
    #[serde(default)]
    headers: std::collections::HashMap<String, String>,
    method: String,
    url: String,
    #[serde(default)]
    body: Option<String>,
    #[serde(default)]
    body_encoded: bool,
}

pub(crate) fn parse_recording(text: &str) -> Vec<RecordedRequest> {
    text.lines()
        .filter_map(|line| serde_json::from_str::<RawEntry>(line).ok())
        .map(to_request)
        .collect()
}

fn header<'a>(e: &'a RawEntry, name: &str) -> Option<&'a str> {
    e.headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

fn to_request(e: RawEntry) -> RecordedRequest {
    let body = match (&e.body, e.body_encoded) {
        (Some(b), true) => base64::decode(b)
            .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
            .unwrap_or_default(),
        (Some(b), false) => b.clone(),
        (None, _) => String::new(),
    };
    let after_scheme = e.url.split_once("://").map(|(_, r)| r).unwrap_or(&e.url);
    let raw_path = after_scheme
        .find('/')
        .map(|i| &after_scheme[i..])
        .unwrap_or("/");
    let path = percent_decode(raw_path);
    let (mut service, mut region) = (String::new(), String::new());
    if let Some(auth) = header(&e, "Authorization")
        && let Some(cred) = auth.split("Credential=").nth(1)
    {
        let scope: Vec<&str> = cred
            .split([',', ' '])
            .next()
            .unwrap_or("")
            .split('/')
            .collect();
        if scope.len() >= 4 {
            region = scope[2].to_string();
            service = scope[3].to_string();
        }
    }
    let operation = if let Some(t) = header(&e, "X-Amz-Target") {
        Some(t.rsplit('.').next().unwrap_or(t).to_string())
    } else if let Some(op) = path
        .split("/operation/")
        .nth(1)
        .filter(|_| path.starts_with("/service/"))
    {
        Some(op.split(['?', '/']).next().unwrap_or(op).to_string())
    } else {
        form_action(&body).or_else(|| form_action(path.split_once('?').map(|x| x.1).unwrap_or("")))
    };
    RecordedRequest {
        method: e.method,
        path,
        service,
        region,
        operation,
        body,
    }
}

fn form_action(form: &str) -> Option<String> {
    form.split('&')
        .find_map(|kv| kv.strip_prefix("Action="))
        .map(percent_decode)
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let Ok(v) = u8::from_str_radix(&s[i + 1..i + 3], 16)
        {
            out.push(v);
            i += 3;
            continue;
        }
        out.push(if bytes[i] == b'+' { b' ' } else { bytes[i] });
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_json_and_rest_entries() {
        let text = concat!(
            r#"{"headers":{"X-Amz-Target":"DynamoDB_20120810.PutItem","Authorization":"AWS4-HMAC-SHA256 Credential=test/20260101/eu-west-1/dynamodb/aws4_request, SignedHeaders=x"},"method":"POST","url":"http://127.0.0.1:1/","body":"{\"TableName\":\"p1-vault\"}","body_encoded":false}"#,
            "\n",
            r#"{"headers":{},"method":"GET","url":"http://127.0.0.1:1/2013-04-01/hostedzone/Z1%2Fx","body":"","body_encoded":false}"#,
            "\n{broken"
        );
        let reqs = parse_recording(text);
        assert_eq!(reqs.len(), 2);
        assert_eq!(reqs[0].operation.as_deref(), Some("PutItem"));
        assert_eq!(reqs[0].region, "eu-west-1");
        assert_eq!(reqs[0].service, "dynamodb");
        assert!(reqs[0].is_mutating() && reqs[0].mentions("p1-"));
        assert_eq!(reqs[1].path, "/2013-04-01/hostedzone/Z1/x");
        assert!(!reqs[1].is_mutating());
    }
}
