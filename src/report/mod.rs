//! Reporters: progress on a terminal, plain lines, JSON lines, timing and drill reports.
//! The only module (with `cli/`) that prints.
