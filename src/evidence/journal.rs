//! Checks the journal's hash chain (format version 1, see `src/checkpoint`): every line is a JSON
//! object whose `seq` is its line number (from 1) and whose `prev` is the lowercase hex SHA-256
//! of the previous line's bytes (64 zeros for the first). Reports every broken link, not just
//! the first, and computes the head the manifest records.

use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::checkpoint::GENESIS;

/// What a pass over the journal found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ChainCheck {
    /// Lines (complete or not).
    pub records: u64,
    /// `seq` of the last line (0 when empty or unreadable).
    pub last_seq: u64,
    /// SHA-256 of the last line's bytes; [`GENESIS`] when the journal is empty.
    pub head_sha256: String,
    /// (1-based line, what is wrong).
    pub problems: Vec<(usize, String)>,
}

pub(crate) fn check_chain(bytes: &[u8]) -> ChainCheck {
    let mut problems = Vec::new();
    let mut lines: Vec<&[u8]> = bytes.split(|&b| b == b'\n').collect();
    // `split` yields a final empty piece after the last newline.
    let complete = bytes.is_empty() || bytes.ends_with(b"\n");
    if complete {
        lines.pop();
    } else {
        problems.push((
            lines.len(),
            "the last line has no newline: the journal was truncated or its last write was torn"
                .to_string(),
        ));
    }
    let mut prev_hash = GENESIS.to_string();
    let mut last_seq = 0;
    for (i, line) in lines.iter().enumerate() {
        let line_no = i + 1;
        match serde_json::from_slice::<Value>(line) {
            Ok(Value::Object(rec)) => {
                match rec.get("seq").and_then(Value::as_u64) {
                    Some(seq) => {
                        if seq != line_no as u64 {
                            problems.push((
                                line_no,
                                format!(
                                    "`seq` is {seq} where {line_no} was expected (records missing or reordered)"
                                ),
                            ));
                        }
                        last_seq = seq;
                    }
                    None => problems.push((line_no, "no numeric `seq`".to_string())),
                }
                match rec.get("prev").and_then(Value::as_str) {
                    Some(p) if p == prev_hash => {}
                    Some(_) => problems.push((
                        line_no,
                        if line_no == 1 {
                            "`prev` of the first record is not the genesis value (64 zeros): records before it were removed".to_string()
                        } else {
                            format!(
                                "`prev` is not the SHA-256 of line {}: a record was changed, removed, inserted or reordered",
                                line_no - 1
                            )
                        },
                    )),
                    None => problems.push((line_no, "no `prev` hash".to_string())),
                }
            }
            Ok(_) => problems.push((line_no, "not a JSON object".to_string())),
            Err(e) => problems.push((line_no, format!("not valid JSON ({e})"))),
        }
        prev_hash = hex::encode(Sha256::digest(line));
    }
    ChainCheck {
        records: lines.len() as u64,
        last_seq,
        head_sha256: prev_hash,
        problems,
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A valid journal of `n` records, as the file store writes it.
    pub(crate) fn journal(n: u64) -> Vec<u8> {
        let mut out = Vec::new();
        let mut prev = GENESIS.to_string();
        for seq in 1..=n {
            let line = format!(
                r#"{{"seq":{seq},"at":"2026-11-23T18:45:0{seq}Z","prev":"{prev}","type":"note","message":"m{seq}","data":{{}}}}"#
            );
            prev = hex::encode(Sha256::digest(line.as_bytes()));
            out.extend_from_slice(line.as_bytes());
            out.push(b'\n');
        }
        out
    }

    fn lines(j: &[u8]) -> Vec<Vec<u8>> {
        j.split(|&b| b == b'\n')
            .filter(|l| !l.is_empty())
            .map(<[u8]>::to_vec)
            .collect()
    }

    fn join(ls: &[Vec<u8>]) -> Vec<u8> {
        let mut out = Vec::new();
        for l in ls {
            out.extend_from_slice(l);
            out.push(b'\n');
        }
        out
    }

    #[test]
    fn a_valid_chain_has_no_problems_and_its_head_is_the_last_line_hash() {
        let j = journal(3);
        let c = check_chain(&j);
        assert_eq!(c.problems, vec![]);
        assert_eq!(c.records, 3);
        assert_eq!(c.last_seq, 3);
        let last = lines(&j).pop().unwrap();
        assert_eq!(c.head_sha256, hex::encode(Sha256::digest(&last)));
    }

    #[test]
    fn empty_journal_has_the_genesis_head() {
        let c = check_chain(b"");
        assert_eq!((c.records, c.last_seq, c.problems.len()), (0, 0, 0));
        assert_eq!(c.head_sha256, GENESIS);
    }

    #[test]
    fn reordered_lines_break_links_and_sequence() {
        let mut ls = lines(&journal(3));
        ls.swap(1, 2);
        let c = check_chain(&join(&ls));
        let at: Vec<usize> = c.problems.iter().map(|p| p.0).collect();
        // line 2: wrong seq and wrong prev; line 3: wrong seq and wrong prev.
        assert_eq!(at, vec![2, 2, 3, 3], "{:?}", c.problems);
    }

    #[test]
    fn removed_first_line_and_truncation_are_reported() {
        let ls = lines(&journal(3));
        let c = check_chain(&join(&ls[1..]));
        assert!(
            c.problems
                .iter()
                .any(|(l, r)| *l == 1 && r.contains("genesis"))
        );
        let j = journal(3);
        let c = check_chain(&j[..j.len() - 5]);
        assert!(
            c.problems
                .iter()
                .any(|(l, r)| *l == 3 && r.contains("no newline"))
        );
        assert!(
            c.problems
                .iter()
                .any(|(l, r)| *l == 3 && r.contains("JSON"))
        );
    }

    #[test]
    fn a_changed_middle_record_breaks_the_next_link_only() {
        let mut ls = lines(&journal(3));
        let s = String::from_utf8(ls[1].clone())
            .unwrap()
            .replace("m2", "m9");
        ls[1] = s.into_bytes();
        let c = check_chain(&join(&ls));
        assert_eq!(c.problems.len(), 1, "{:?}", c.problems);
        assert_eq!(c.problems[0].0, 3);
    }
}
