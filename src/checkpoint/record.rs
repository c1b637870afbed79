//! The journal's envelope (format version 1): each record is one [`Event`] with its sequence
//! number, time and the hash of the record before it.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::event::Event;

/// Version of the journal format written by this build.
pub const FORMAT_VERSION: u32 = 1;

/// `prev` of the first record.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// One journal line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    pub seq: u64,
    pub at: DateTime<Utc>,
    /// Hex SHA-256 of the previous line's bytes (without the newline).
    pub prev: String,
    #[serde(flatten)]
    pub event: Event,
}
