//! Evidence for auditors: verifying a sealed directory (a run's, a bundle's), exporting every
//! run's evidence since a date into one sealed bundle, sealing a directory, making a signing
//! key, pinning a KMS approver key, and looking a run's changes up in CloudTrail. cli renders
//! what these return.

use std::path::{Path, PathBuf};

use super::{Failure, Session};
pub use crate::evidence::approval::Standing;
pub use crate::evidence::cloudtrail::{TrailCheck, TrailStatus};
pub use crate::evidence::{
    Manifest, Problem, SignatureStatus, Signer, SignerInfo, VerifyOptions, VerifyReport,
    public_key_path,
};

/// The index of an evidence bundle.
pub const BUNDLE_INDEX: &str = "index.json";

/// The keys evidence may be signed with: each `KEY.pub` or KMS public key file.
pub fn trusted_keys(files: &[PathBuf]) -> Result<VerifyOptions, Failure> {
    let trusted_keys = files
        .iter()
        .map(|f| crate::evidence::TrustedKey::load(f).map_err(|e| Failure::invalid(e.to_string())))
        .collect::<Result<_, _>>()?;
    Ok(VerifyOptions { trusted_keys })
}

/// Verifies the sealed directory `dir` (exit 2 when it is not one).
pub fn verify(dir: &Path, keys: &VerifyOptions) -> Result<VerifyReport, Failure> {
    crate::evidence::verify_with(dir, keys).map_err(|e| Failure::invalid(e.to_string()))
}

/// Whether `dir` is an evidence bundle.
pub fn is_bundle(dir: &Path) -> bool {
    dir.join(BUNDLE_INDEX).is_file()
}

/// The sealed run directories inside a bundle, in order.
pub fn bundle_runs(dir: &Path) -> Result<Vec<PathBuf>, Failure> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| Failure::invalid(format!("{}: {e}", dir.display())))?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.join("manifest.json").is_file())
        .collect();
    dirs.sort();
    Ok(dirs)
}

/// A bundle, written and sealed.
pub struct Exported {
    /// Runs listed in its index.
    pub runs: usize,
    /// Of those, runs whose sealed evidence was not found.
    pub missing: usize,
    /// Where the runs' evidence was looked for.
    pub reports: PathBuf,
    pub manifest: Manifest,
}

impl Session {
    /// Copies the sealed evidence of every run started on `since` (`YYYY-MM-DD`, UTC) or later
    /// into `out` (which must not exist), with an index in JSON and HTML, and seals `out` with
    /// `sign_with`.
    pub async fn export_evidence(
        &self,
        since: &str,
        out: &Path,
        report_dir: Option<&Path>,
        sign_with: &str,
    ) -> Result<Exported, Failure> {
        let day = chrono::NaiveDate::parse_from_str(since, "%Y-%m-%d").map_err(|_| {
            Failure::invalid(format!("--since `{since}` is not a date"))
                .help("write it as YYYY-MM-DD, for example `--since 2026-01-01`")
        })?;
        let since = day.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc();
        let signer = Signer::parse(sign_with)?;
        if out.exists() {
            return Err(Failure::invalid(format!("{} exists", out.display()))
                .help("export into a new directory; a bundle is sealed once"));
        }
        let reports = report_dir
            .map(Path::to_path_buf)
            .unwrap_or_else(|| self.settings.state.dir.join("reports"));
        let runs = self.digests().await?;
        std::fs::create_dir_all(out)
            .map_err(|e| Failure::failed(format!("cannot create {}: {e}", out.display())))?;
        let mut rows = Vec::new();
        let mut missing = 0;
        for r in runs.iter().filter(|r| r.started_at >= since) {
            let src = reports.join(&r.run_id);
            let dst = out.join(&r.run_id);
            let copied = src.join("manifest.json").is_file() && copy_dir(&src, &dst).is_ok();
            let (integrity, approvals) = if copied {
                match crate::evidence::verify(&dst) {
                    Ok(v) if !v.intact() => ("tampered", v.approvals),
                    Ok(v) if v.signature == SignatureStatus::Unsigned => {
                        ("intact, unsigned", v.approvals)
                    }
                    Ok(v) => ("intact, signed", v.approvals),
                    Err(_) => ("unreadable", vec![]),
                }
            } else {
                missing += 1;
                ("missing", vec![])
            };
            rows.push(serde_json::json!({
                "run_id": r.run_id,
                "runbook": r.runbook,
                "runbook_sha256": r.runbook_sha256,
                "started_at": r.started_at,
                "mode": r.mode,
                "status": r.status,
                "scenario": r.drill.as_ref().map(|d| &d.scenario),
                // The run's verdict, as its report gives it (a drill not yet judged: pending).
                "verdict": r.drill.as_ref().map_or(r.verdict.as_str(), |d| d.verdict.as_str()),
                "objectives": {
                    "rto_ms": r.rto_ms,
                    "recovery_ms": r.recovery_ms,
                    "rpo_ms": r.rpo_ms,
                    "rpo_measured_ms": r.rpo_measured_ms,
                },
                "approvals": approvals,
                "evidence": integrity,
            }));
        }
        let runs = rows.len();
        let index = serde_json::json!({
            "kind": "drillbook-evidence-bundle",
            "format_version": 1,
            "since": since,
            "exported_at": chrono::Utc::now(),
            "runs": rows,
        });
        let written = std::fs::write(
            out.join(BUNDLE_INDEX),
            serde_json::to_string_pretty(&index).unwrap_or_default() + "\n",
        )
        .and_then(|_| std::fs::write(out.join("index.html"), crate::report::bundle::html(&index)));
        written.map_err(|e| Failure::failed(format!("cannot write the index: {e}")))?;
        let manifest = crate::evidence::seal(out, &signer).await?;
        Ok(Exported {
            runs,
            missing,
            reports,
            manifest,
        })
    }

    /// The pin of KMS approver key `kms:KEY_ARN`: the SHA-256 of its public key (GetPublicKey,
    /// in the key's Region), with the key's ARN.
    pub async fn pin(&self, key: &str) -> Result<(String, String), Failure> {
        let Ok(crate::runbook::TrustedKeyRef::Kms { key_arn }) =
            crate::runbook::TrustedKeyRef::parse(key)
        else {
            return Err(
                Failure::invalid(format!("`{key}` is not a KMS key ARN")).help(
                    "write `kms:arn:aws:kms:REGION:ACCOUNT:key/ID` (an alias can be re-pointed)",
                ),
            );
        };
        let signer = Signer::Kms {
            key: key_arn.clone(),
            region: key_arn.split(':').nth(3).map(str::to_string),
        };
        let aws = self.aws(vec![]).await;
        let info = crate::evidence::prepare_signer(&signer, Some(&aws))
            .await
            .map(|p| p.info())?;
        let SignerInfo::KmsEcdsaP256 { public_key, .. } = info else {
            return Err(Failure::failed("the key is not a KMS signing key"));
        };
        let der = aws_smithy_types::base64::decode(&public_key)
            .map_err(|e| Failure::failed(format!("the public key is not base64: {e}")))?;
        Ok((crate::runbook::load::sha256_hex(&der), key_arn))
    }

    /// Every AWS call the run in `dir` recorded as a change, looked up in CloudTrail (in the
    /// call's Region, through the role it used).
    pub async fn cloudtrail(&self, dir: &Path) -> Result<Vec<TrailCheck>, Failure> {
        let (run_id, calls) =
            crate::evidence::cloudtrail::recorded_calls(dir).map_err(Failure::invalid)?;
        if calls.is_empty() {
            return Ok(vec![]);
        }
        let aws = self.aws(vec![]).await;
        crate::evidence::cloudtrail::check(&aws, &run_id, &calls, chrono::Utc::now())
            .await
            .map_err(|e| {
                let f = Failure::failed(format!("cannot look the calls up in CloudTrail: {e}"));
                match e.hint() {
                    Some(h) => f.help(h),
                    None => f,
                }
            })
    }
}

/// Writes a new Ed25519 signing key to `file` (secret, mode 0600) and `FILE.pub`; returns the
/// public key.
pub fn keygen(file: &Path) -> Result<String, Failure> {
    Ok(crate::evidence::generate_ed25519_key(file)?)
}

/// Seals `dir` with `sign_with` (`none`, `ed25519:KEY_FILE`, `kms:KEY`).
pub async fn seal(dir: &Path, sign_with: &str) -> Result<Manifest, Failure> {
    let signer = Signer::parse(sign_with)?;
    Ok(crate::evidence::seal(dir, &signer).await?)
}

fn copy_dir(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for e in std::fs::read_dir(from)? {
        let e = e?;
        let t = e.file_type()?;
        if t.is_dir() {
            copy_dir(&e.path(), &to.join(e.file_name()))?;
        } else if t.is_file() {
            std::fs::copy(e.path(), to.join(e.file_name()))?;
        }
    }
    Ok(())
}
