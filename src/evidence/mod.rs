//! Tamper-evident evidence: `manifest.json` in a run's evidence directory lists the SHA-256 of
//! every file and the head of the journal's hash chain, signed with an Ed25519 key file or an
//! AWS KMS asymmetric key. [`seal`] writes it, [`verify`] checks it. See `docs/evidence.md`.

pub mod approval;
pub mod cloudtrail;
mod error;
mod journal;
mod manifest;
mod seal;
mod signer;
mod verify;

pub use error::EvidenceError;
pub use manifest::{
    FileEntry, JOURNAL_FILE, JournalHead, KIND, MANIFEST_FILE, MANIFEST_FORMAT_VERSION, Manifest,
    SIGNING_PREFIX, SignerInfo, canonical_body, signing_message,
};
pub use seal::{seal, seal_with_aws};
pub(crate) use signer::prepare as prepare_signer;
pub use signer::{
    Signer, TrustedKey, generate_ed25519_key, load_ed25519_key, public_key_path, verify_signature,
};
pub use verify::{Problem, SignatureStatus, VerifyOptions, VerifyReport, verify, verify_with};
