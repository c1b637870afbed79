//! The edge: every byte drillbook writes for a terminal passes through here.
//!
//! Text that reaches a terminal comes from runbooks, scenarios, journals, evidence directories
//! and AWS answers (a table name, an error message, an approver's ARN): any of it can hold
//! escape sequences that recolour or rewrite what is shown, move the cursor, set the window
//! title or write the clipboard (OSC 52), or a carriage return that prints a forged
//! `APPROVED` over a line. So the commands and the console print text only through
//! [`terminal`] (multi-line text), [`one_line`] (a field or a line of its own), [`message`]
//! (an error and its `help:`) or [`json`] (serialized JSON); each also replaces every secret
//! variable's value by its marker ([`crate::secret::redact`]).
//!
//! What is escaped, shown visibly instead of sent:
//! - C0 controls (U+0000..U+001F) but newline and tab in multi-line text, DEL, ESC and CR:
//!   `\x1b`, `\x07`, `\x7f`; `\r`, `\n` and `\t` by name;
//! - C1 controls (U+0080..U+009F; terminals read U+009B as CSI and U+009D as OSC): `\u{9b}`;
//! - the characters that reorder or break a line without looking like anything: the
//!   bidirectional embeddings, overrides and isolates (U+202A..U+202E, U+2066..U+2069),
//!   the marks U+061C, U+200E and U+200F, and the line and paragraph separators
//!   U+2028 and U+2029: `\u{202e}`.
//!
//! Text that needs nothing is returned borrowed, after one pass over its bytes (console lines
//! are printed while a run goes on).

use std::borrow::Cow;

/// Multi-line text for a terminal: secrets redacted, every control character but newline and
/// tab shown as an escape (see the module docs).
pub fn terminal(s: &str) -> Cow<'_, str> {
    clean(s, Lines::Keep)
}

/// A one-line field (a name, a path, an error inside a line, a table cell) or a line printed
/// on its own: as [`terminal`], and newlines and tabs are escaped too, so the text cannot start
/// a line of its own (a forged `run succeeded`).
pub fn one_line(s: &str) -> Cow<'_, str> {
    clean(s, Lines::Escape)
}

/// An error message (`error: ...`): as [`one_line`], but a line break before a `help:` line
/// stays, as drillbook's errors say what to do on a line of their own. What a message quotes
/// (an approver's ARN from a journal, an AWS error) cannot start any other line.
pub fn message(s: &str) -> Cow<'_, str> {
    if !s.contains('\n') {
        return one_line(s);
    }
    let redacted = crate::secret::redact(s);
    let mut out = String::with_capacity(redacted.len() + 16);
    for (i, line) in redacted.split('\n').enumerate() {
        if i > 0 {
            if line.trim_start().starts_with("help:") {
                out.push('\n');
            } else {
                out.push_str("\\n");
            }
        }
        out.push_str(&escape(line, Lines::Escape));
    }
    Cow::Owned(out)
}

/// Serialized JSON for a terminal or a pipe: secrets redacted, and the characters `serde_json`
/// leaves as they are (DEL, C1 controls, the bidirectional controls; it escapes C0 itself)
/// written as JSON escapes (`\u009b`), so the document means the same and shows nothing.
/// Outside strings serialized JSON holds none of them.
pub fn json(s: &str) -> Cow<'_, str> {
    match crate::secret::redact(s) {
        Cow::Borrowed(b) => escape_json(b),
        Cow::Owned(o) => Cow::Owned(escape_json(&o).into_owned()),
    }
}

/// Output that holds no secret value by construction (`plan`: it renders no parameter values,
/// and validation sees a secret only as its marker): escaped as [`terminal`] and [`json`] do,
/// but not redacted, since redacting would tell whether any text of the runbook equals the
/// value of the variable a secret names.
pub fn unredacted(s: &str, is_json: bool) -> Cow<'_, str> {
    if is_json {
        escape_json(s)
    } else {
        escape(s, Lines::Keep)
    }
}

fn escape_json(s: &str) -> Cow<'_, str> {
    let Some(i) = first_unsafe(s, Lines::Keep) else {
        return Cow::Borrowed(s);
    };
    let mut out = String::with_capacity(s.len() + 16);
    out.push_str(&s[..i]);
    for c in s[i..].chars() {
        if is_unsafe(c, Lines::Keep) {
            // C0 controls never get here: serde_json escapes them.
            out.push_str(&format!("\\u{:04x}", c as u32));
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// Appends `c` as it is shown when escaped: `\r`, `\n`, `\t`, `\x1b`, `\u{9b}`. For renderers
/// that show such characters in their own syntax (the Markdown report).
pub(crate) fn push_visible(out: &mut String, c: char) {
    match c {
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        c if (c as u32) < 0x80 => out.push_str(&format!("\\x{:02x}", c as u32)),
        c => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
    }
}

/// Whether [`terminal`] shows `c` as an escape (newline and tab pass).
pub(crate) fn is_control(c: char) -> bool {
    is_unsafe(c, Lines::Keep)
}

#[derive(Clone, Copy, PartialEq)]
enum Lines {
    /// Newline and tab pass.
    Keep,
    /// Newline and tab are escaped.
    Escape,
}

fn clean(s: &str, lines: Lines) -> Cow<'_, str> {
    match crate::secret::redact(s) {
        Cow::Borrowed(b) => escape(b, lines),
        Cow::Owned(o) => Cow::Owned(escape(&o, lines).into_owned()),
    }
}

fn escape(s: &str, lines: Lines) -> Cow<'_, str> {
    let Some(i) = first_unsafe(s, lines) else {
        return Cow::Borrowed(s);
    };
    let mut out = String::with_capacity(s.len() + 16);
    out.push_str(&s[..i]);
    for c in s[i..].chars() {
        if is_unsafe(c, lines) {
            push_visible(&mut out, c);
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

fn is_unsafe(c: char, lines: Lines) -> bool {
    match c {
        '\n' | '\t' => lines == Lines::Escape,
        '\0'..='\x1f' | '\x7f' | '\u{80}'..='\u{9f}' => true,
        '\u{61c}' | '\u{200e}' | '\u{200f}' | '\u{2028}' | '\u{2029}' => true,
        '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' => true,
        _ => false,
    }
}

/// The byte offset of the first character to escape, after one pass over the bytes: ASCII
/// controls are bytes below 0x20 and 0x7F; every other character [`is_unsafe`] names is
/// encoded with a lead byte of 0xC2 (C1), 0xD8 (U+061C) or 0xE2 (U+2000..U+2FFF). Continuation
/// bytes (0x80..0xBF) never equal those, so a match is always the start of a character.
fn first_unsafe(s: &str, lines: Lines) -> Option<usize> {
    let bytes = s.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        let candidate = match b {
            b'\n' | b'\t' => lines == Lines::Escape,
            0..=0x1f | 0x7f => true,
            0xc2 | 0xd8 | 0xe2 => s[i..].chars().next().is_some_and(|c| is_unsafe(c, lines)),
            _ => false,
        };
        if candidate {
            return Some(i);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_text_is_borrowed() {
        for s in [
            "",
            "run 20261123-184501-ab12 succeeded",
            "héllo → wörld ✓ 東京",
            "a\nb\tc",
        ] {
            assert!(matches!(terminal(s), Cow::Borrowed(_)), "{s:?}");
            assert!(matches!(json(s), Cow::Borrowed(_)), "{s:?}");
        }
        assert!(matches!(one_line("a b ✓"), Cow::Borrowed(_)));
        assert!(matches!(one_line("a\nb"), Cow::Owned(_)));
    }

    #[test]
    fn controls_are_shown_not_sent() {
        let forged = "check dashboards\r\u{1b}[32mAPPROVED\u{1b}[0m\u{7}";
        assert_eq!(
            terminal(forged),
            "check dashboards\\r\\x1b[32mAPPROVED\\x1b[0m\\x07"
        );
        // OSC 52 (write the clipboard), 8-bit CSI and OSC, DEL, NUL.
        assert_eq!(
            terminal("t\u{1b}]52;c;ZWNobyBoaQ==\u{7}x"),
            "t\\x1b]52;c;ZWNobyBoaQ==\\x07x"
        );
        assert_eq!(
            terminal("a\u{9b}2Jb\u{9d}0;t\u{9c}\u{7f}\0"),
            "a\\u{9b}2Jb\\u{9d}0;t\\u{9c}\\x7f\\x00"
        );
        assert_eq!(terminal("two\nlines\tok"), "two\nlines\tok");
        // U+0085 (NEL) is C1; U+00A0 and above pass.
        assert_eq!(terminal("a\u{85}b\u{a0}c"), "a\\u{85}b\u{a0}c");
    }

    #[test]
    fn one_line_fields_cannot_start_a_line() {
        assert_eq!(
            one_line("approve?\nrun r1 succeeded\r\n\tx"),
            "approve?\\nrun r1 succeeded\\r\\n\\tx"
        );
        let escaped = one_line("a\u{1b}[2K\u{9b}b\n");
        assert!(!escaped.chars().any(char::is_control), "{escaped:?}");
    }

    #[test]
    fn messages_keep_their_help_lines_only() {
        assert!(matches!(message("cannot read x"), Cow::Borrowed(_)));
        assert_eq!(
            message(
                "approver `bob\r\u{1b}[32mAPPROVED\nrun r1 succeeded` matches none\nhelp: find out who"
            ),
            "approver `bob\\r\\x1b[32mAPPROVED\\nrun r1 succeeded` matches none\nhelp: find out who"
        );
        assert_eq!(message("a\n  help: b\tc"), "a\n  help: b\\tc");
    }

    #[test]
    fn bidirectional_controls_and_separators_are_escaped() {
        assert_eq!(
            terminal("user/\u{202e}nimda\u{202c} \u{2066}x\u{2069}\u{2028}\u{200f}\u{61c}"),
            "user/\\u{202e}nimda\\u{202c} \\u{2066}x\\u{2069}\\u{2028}\\u{200f}\\u{61c}"
        );
        // Neighbours in the same blocks pass.
        assert!(matches!(
            terminal("\u{2019}\u{2014}\u{2070}"),
            Cow::Borrowed(_)
        ));
    }

    #[test]
    fn escaping_is_stable() {
        let once = one_line("a\u{1b}b\nc\u{9b}");
        assert_eq!(one_line(&once), once);
        assert_eq!(terminal(&once), once);
    }

    #[test]
    fn json_stays_json() {
        let v = serde_json::json!({ "name": "t\u{1b}]52;c;x\u{7}\u{9b}2J\u{202e}\u{7f}" });
        let s = serde_json::to_string(&v).unwrap();
        let shown = json(&s);
        assert!(!shown.chars().any(|c| is_unsafe(c, Lines::Keep)), "{shown}");
        let back: serde_json::Value = serde_json::from_str(&shown).unwrap();
        assert_eq!(back, v);
    }

    #[test]
    fn secrets_are_redacted_on_the_way_out() {
        crate::secret::register("sanitize_test", "sanitize-secret-31f5a");
        assert_eq!(
            terminal("token sanitize-secret-31f5a\u{1b}"),
            "token [secret:sanitize_test]\\x1b"
        );
        assert_eq!(
            one_line("sanitize-secret-31f5a\n"),
            "[secret:sanitize_test]\\n"
        );
        assert_eq!(
            json(r#"{"t":"sanitize-secret-31f5a"}"#),
            r#"{"t":"[secret:sanitize_test]"}"#
        );
    }
}
