//! Errors of sealing and verifying evidence (problems found in evidence are not errors: they
//! are listed in a [`super::VerifyReport`]).

use std::path::PathBuf;

use crate::actions::ActionError;

#[derive(Debug, thiserror::Error)]
pub enum EvidenceError {
    #[error("{} is not a directory\nhelp: pass the run's evidence directory (the one holding manifest.json)", .0.display())]
    NotADirectory(PathBuf),

    #[error("{} is not an evidence directory: it has no manifest.json\nhelp: evidence is sealed at the end of a run or drill run with `--sign-with`, or with `drillbook evidence seal DIR`", .0.display())]
    NotEvidence(PathBuf),

    #[error("i/o error on {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("cannot seal {}: {reason}\nhelp: {help}", path.display())]
    Unsealable {
        path: PathBuf,
        reason: String,
        help: String,
    },

    #[error(
        "invalid signer `{spec}`: {reason}\nhelp: use `none`, `ed25519:KEY_FILE` or `kms:alias/NAME` (also `kms:KEY_ARN`, `kms:alias/NAME@REGION`)"
    )]
    InvalidSigner { spec: String, reason: String },

    #[error("bad key file {}: {reason}\nhelp: {help}", path.display())]
    KeyFile {
        path: PathBuf,
        reason: String,
        help: String,
    },

    #[error("{} already exists\nhelp: choose another file name; drillbook never overwrites a key", .0.display())]
    KeyExists(PathBuf),

    #[error("KMS key `{key}` cannot sign evidence: {reason}\nhelp: {help}")]
    KmsKey {
        key: String,
        reason: String,
        help: String,
    },

    #[error("KMS signing with `{key}` failed: {source}{}", source.hint().map(|h| format!("\nhelp: {h}")).unwrap_or_default())]
    Kms {
        key: String,
        #[source]
        source: ActionError,
    },
}

impl EvidenceError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        EvidenceError::Io {
            path: path.into(),
            source,
        }
    }
}
