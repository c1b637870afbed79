//! The manifest (`manifest.json`, format version 1), its canonical bytes and the signed message.
//! See `docs/evidence.md` for the format as an auditor reads it.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

/// Name of the manifest file at the root of an evidence directory.
pub const MANIFEST_FILE: &str = "manifest.json";
/// Value of the manifest's `kind` member.
pub const KIND: &str = "drillbook-evidence";
/// Version of the manifest format written by this build.
pub const MANIFEST_FORMAT_VERSION: u32 = 1;
/// Prefix of the signed message: `drillbook-evidence-v1:<hex SHA-256 of the canonical body>`.
pub const SIGNING_PREFIX: &str = "drillbook-evidence-v1:";
/// The journal, when the directory holds one (relative to the evidence directory).
pub const JOURNAL_FILE: &str = "journal.jsonl";

/// `manifest.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// Always `drillbook-evidence`.
    pub kind: String,
    pub format_version: u32,
    /// Version of the drillbook that sealed the directory.
    pub drillbook_version: String,
    /// RFC 3339, UTC, seconds.
    pub created_at: String,
    /// Every file of the directory tree except `manifest.json`, sorted by `path` (bytewise).
    pub files: Vec<FileEntry>,
    /// The head of the journal's hash chain; `null` when the directory holds no journal.
    pub journal: Option<JournalHead>,
    /// Who signed (or `{"algorithm": "none"}`).
    pub signer: SignerInfo,
    /// Base64 (standard alphabet, padded) signature over [`signing_message`]; `null` when
    /// unsigned. Not part of the canonical body.
    pub signature: Option<String>,
}

/// One sealed file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileEntry {
    /// Relative to the evidence directory, `/`-separated.
    pub path: String,
    /// Bytes.
    pub size: u64,
    /// Lowercase hex SHA-256 of the file's bytes.
    pub sha256: String,
}

/// The end of the journal's hash chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JournalHead {
    /// `journal.jsonl`.
    pub path: String,
    /// Number of records (lines).
    pub records: u64,
    /// `seq` of the last record.
    pub last_seq: u64,
    /// Lowercase hex SHA-256 of the last line's bytes (without its newline): the `prev` the next
    /// record would carry.
    pub head_sha256: String,
}

/// The signer, as recorded in the manifest (defined with the journal record that also holds it).
pub use crate::event::SignerInfo;

/// The canonical bytes of a manifest body: the manifest's JSON object without its `signature`
/// member, object members sorted by name (bytewise, recursively), no whitespace, strings and
/// integers as serde_json writes them (RFC 8259 minimal escaping, UTF-8). For the integers and
/// ASCII member names a manifest holds, this is the JSON Canonicalization Scheme (RFC 8785).
pub fn canonical_body(manifest: &Value) -> Vec<u8> {
    let mut body = manifest.clone();
    if let Value::Object(map) = &mut body {
        map.remove("signature");
    }
    let mut out = Vec::with_capacity(4096);
    write_canonical(&body, &mut out);
    out
}

fn write_canonical(v: &Value, out: &mut Vec<u8>) {
    match v {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
            out.push(b'{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_scalar(&Value::String(k.clone()), out);
                out.push(b':');
                write_canonical(&map[k], out);
            }
            out.push(b'}');
        }
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_canonical(item, out);
            }
            out.push(b']');
        }
        scalar => write_scalar(scalar, out),
    }
}

fn write_scalar(v: &Value, out: &mut Vec<u8>) {
    // Serializing a scalar Value cannot fail.
    if let Ok(bytes) = serde_json::to_vec(v) {
        out.extend_from_slice(&bytes);
    }
}

/// The message a signer signs: ASCII `drillbook-evidence-v1:` followed by the lowercase hex
/// SHA-256 of [`canonical_body`] (86 bytes). KMS hashes it again with SHA-256 (`RAW` message),
/// Ed25519 signs it as is.
pub fn signing_message(manifest: &Value) -> Vec<u8> {
    let digest = hex::encode(Sha256::digest(canonical_body(manifest)));
    format!("{SIGNING_PREFIX}{digest}").into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn canonical_body_sorts_members_drops_signature_and_whitespace() {
        let v = json!({
            "signature": "abc",
            "zeta": [ {"b": 1, "a": "x\ny"} ],
            "alpha": null,
            "Beta": 18446744073709551615u64,
        });
        let got = String::from_utf8(canonical_body(&v)).unwrap();
        assert_eq!(
            got,
            r#"{"Beta":18446744073709551615,"alpha":null,"zeta":[{"a":"x\ny","b":1}]}"#
        );
    }

    #[test]
    fn signing_message_changes_with_any_member_but_not_the_signature() {
        let a = json!({"files": [], "created_at": "2026-01-01T00:00:00Z", "signature": "s1"});
        let b = json!({"files": [], "created_at": "2026-01-01T00:00:00Z", "signature": "s2"});
        let c = json!({"files": [], "created_at": "2026-01-01T00:00:01Z", "signature": "s1"});
        let d = json!({"files": [], "created_at": "2026-01-01T00:00:00Z", "extra": 1});
        assert_eq!(signing_message(&a), signing_message(&b));
        assert_ne!(signing_message(&a), signing_message(&c));
        assert_ne!(signing_message(&a), signing_message(&d));
        let m = String::from_utf8(signing_message(&a)).unwrap();
        assert!(m.starts_with(SIGNING_PREFIX));
        assert_eq!(m.len(), SIGNING_PREFIX.len() + 64);
    }

    #[test]
    fn signer_info_is_tagged_by_algorithm() {
        let s = SignerInfo::Ed25519 {
            public_key: "00".repeat(32),
        };
        let v = serde_json::to_value(&s).unwrap();
        assert_eq!(v["algorithm"], "ed25519");
        assert_eq!(
            serde_json::to_value(SignerInfo::None).unwrap(),
            json!({"algorithm": "none"})
        );
        let back: SignerInfo = serde_json::from_value(v).unwrap();
        assert_eq!(back, s);
    }
}
