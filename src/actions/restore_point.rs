//! The point in time a restore goes back to (`restore_to`), shared by the DynamoDB and RDS
//! restores: an RFC 3339 time, or `latest` (the latest restorable time, stated as such).

use chrono::{DateTime, SecondsFormat, Utc};

use super::ActionError;

/// RFC 3339 with as many fractional digits as needed to round-trip exactly.
pub(crate) fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum RestorePoint {
    Latest,
    At(DateTime<Utc>),
}

impl RestorePoint {
    pub(crate) fn parse(s: &str) -> Result<Self, ActionError> {
        if s.trim().is_empty() {
            return Err(ActionError::Invalid {
                message: "parameter `restore_to` is empty: a restore must name its point in time".into(),
                hint: "give the RFC 3339 time just before the damage, e.g. `--var restore_to=2026-11-23T18:40:00Z` \
                       (`latest` restores the damage too, unless it is older than the PITR lag)"
                    .into(),
            });
        }
        if s.trim().eq_ignore_ascii_case("latest") {
            return Ok(RestorePoint::Latest);
        }
        DateTime::parse_from_rfc3339(s.trim())
            .map(|t| RestorePoint::At(t.with_timezone(&Utc)))
            .map_err(|_| ActionError::Invalid {
                message: format!(
                    "parameter `restore_to` must be `latest` or an RFC 3339 time, not `{s}`"
                ),
                hint: "for example `restore_to: 2024-05-01T10:00:00Z`".into(),
            })
    }

    pub(crate) fn describe(&self) -> String {
        match self {
            RestorePoint::Latest => "the latest restorable time".into(),
            RestorePoint::At(t) => rfc3339(*t),
        }
    }
}
