//! `drillbook verify-evidence` and `drillbook evidence keygen|seal`.

use std::path::PathBuf;

use clap::{Args, Subcommand};

use super::ExitCode;
use crate::evidence::{
    self, EvidenceError, Problem, SignatureStatus, Signer, SignerInfo, TrustedKey, VerifyOptions,
    VerifyReport,
};

#[derive(Debug, Args)]
pub struct VerifyEvidenceArgs {
    /// The evidence directory (holding manifest.json).
    pub dir: PathBuf,
    /// The public key the evidence must be signed with: `KEY.pub` (Ed25519, hex) or a KMS
    /// public key (base64 DER, as `aws kms get-public-key` prints it, or PEM).
    #[arg(long, value_name = "FILE")]
    pub public_key: Option<PathBuf>,
    /// Also look up every AWS call the run recorded as a change in CloudTrail (LookupEvents,
    /// in the call's Region, through the role it used): found, not yet delivered (younger
    /// than 15 minutes), or missing (a failure).
    #[arg(long)]
    pub cloudtrail: bool,
    #[arg(long, env = "AWS_PROFILE")]
    pub profile: Option<String>,
}

#[derive(Debug, Args)]
pub struct EvidenceArgs {
    #[command(subcommand)]
    pub command: EvidenceCommand,
}

#[derive(Debug, Subcommand)]
pub enum EvidenceCommand {
    /// Create an Ed25519 signing key: FILE (secret, mode 0600) and FILE.pub (public key).
    Keygen {
        /// Where to write the secret key; never overwritten.
        file: PathBuf,
    },
    /// Seal a directory: write its manifest.json (hashes, journal head, signature).
    Seal {
        dir: PathBuf,
        /// `none`, `ed25519:KEY_FILE` or `kms:alias/NAME` (also a key ARN, `kms:alias/NAME@REGION`).
        #[arg(long, value_name = "SIGNER", default_value = "none")]
        sign_with: String,
    },
}

pub(super) fn verify_evidence(args: VerifyEvidenceArgs) -> ExitCode {
    let trusted_key = match args.public_key.as_deref().map(TrustedKey::load).transpose() {
        Ok(k) => k,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::Invalid;
        }
    };
    let kms_keys = approval_kms_keys(&args);
    match evidence::verify_with(
        &args.dir,
        &VerifyOptions {
            trusted_key,
            kms_keys,
        },
    ) {
        Ok(report) => {
            print!("{}", render_report(&report));
            if !report.intact() {
                return ExitCode::Failed;
            }
            if args.cloudtrail {
                return verify_cloudtrail(&args);
            }
            ExitCode::Success
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::Invalid
        }
    }
}

/// The public keys of the KMS keys that signed the run's approvals, fetched with the caller's
/// credentials (`--profile`). Nothing is fetched when no approval was signed with KMS.
fn approval_kms_keys(args: &VerifyEvidenceArgs) -> evidence::approval::KmsKeys {
    let arns = evidence::approval::kms_keys_in(&args.dir);
    if arns.is_empty() {
        return Default::default();
    }
    let Ok(rt) = super::run::runtime() else {
        return Default::default();
    };
    rt.block_on(async {
        let aws = crate::actions::aws::Aws::load(crate::actions::aws::AwsOptions {
            profile: args.profile.clone(),
            ..Default::default()
        })
        .await;
        evidence::approval::fetch_kms_keys(&aws, &arns).await
    })
}

/// `--cloudtrail`: each recorded change looked up in CloudTrail.
fn verify_cloudtrail(args: &VerifyEvidenceArgs) -> ExitCode {
    use crate::evidence::cloudtrail::{TrailStatus, check, recorded_calls};
    let (run_id, calls) = match recorded_calls(&args.dir) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::Invalid;
        }
    };
    if calls.is_empty() {
        println!("cloudtrail: the run recorded no AWS call that changed something");
        return ExitCode::Success;
    }
    let rt = match super::run::runtime() {
        Ok(rt) => rt,
        Err(c) => return c,
    };
    rt.block_on(async {
        let aws = crate::actions::aws::Aws::load(crate::actions::aws::AwsOptions {
            profile: args.profile.clone(),
            ..Default::default()
        })
        .await;
        let checks = match check(&aws, &run_id, &calls, chrono::Utc::now()).await {
            Ok(c) => c,
            Err(e) => {
                eprintln!("error: cannot look the calls up in CloudTrail: {e}");
                if let Some(h) = e.hint() {
                    eprintln!("help: {h}");
                }
                return ExitCode::Failed;
            }
        };
        let mut missing = 0;
        for c in &checks {
            let what = format!(
                "{} {} in {} ({}), request {}",
                c.call.service,
                c.call.operation,
                c.call.region,
                c.call.step.as_deref().unwrap_or("-"),
                c.call.request_id.as_deref().unwrap_or("-")
            );
            match &c.status {
                TrailStatus::Found(event) => println!("  found      {what}: event {event}"),
                TrailStatus::NotYetDelivered => println!(
                    "  pending    {what}: not in CloudTrail yet (events arrive within about 5 minutes on average)"
                ),
                TrailStatus::NoRequestId => println!("  unchecked  {what}: AWS gave no request id"),
                TrailStatus::Missing => {
                    missing += 1;
                    println!("  MISSING    {what}: not in CloudTrail 15 minutes after the call")
                }
            }
        }
        if missing > 0 {
            println!("cloudtrail: {missing} of {} changes MISSING", checks.len());
            ExitCode::Failed
        } else {
            println!("cloudtrail: {} changes checked, none missing", checks.len());
            ExitCode::Success
        }
    })
}

/// The text `verify-evidence` prints.
pub(crate) fn render_report(report: &VerifyReport) -> String {
    let mut out = String::new();
    let dir = report.dir.display();
    if !report.intact() {
        let n = report.problems.len();
        out.push_str(&format!(
            "evidence TAMPERED: {dir} ({n} problem{})\n",
            if n == 1 { "" } else { "s" }
        ));
        for p in &report.problems {
            out.push_str(&format!("  - {p}\n"));
        }
        let help = if report
            .problems
            .iter()
            .any(|p| matches!(p, Problem::ManifestUnreadable { .. }))
        {
            "help: manifest.json itself is damaged, so nothing else could be checked; compare with an archived copy of the evidence"
        } else {
            "help: the directory no longer matches what was sealed; treat this run's evidence as untrustworthy and compare with an archived copy"
        };
        out.push_str(help);
        out.push('\n');
        return out;
    }
    let Some(m) = &report.manifest else {
        return out;
    };
    out.push_str(&format!("evidence intact: {dir}\n"));
    out.push_str(&format!(
        "  files:     {} match their sealed SHA-256\n",
        report.files_checked
    ));
    match &m.journal {
        Some(j) => out.push_str(&format!(
            "  journal:   {} records, hash chain intact, head {} (seq {})\n",
            j.records, j.head_sha256, j.last_seq
        )),
        None => out.push_str("  journal:   none in this directory\n"),
    }
    let signer = match &m.signer {
        SignerInfo::None => String::new(),
        SignerInfo::Ed25519 { public_key } => format!("ed25519 key {public_key}"),
        SignerInfo::KmsEcdsaP256 { key_arn, .. } => format!("KMS key {key_arn} (ECDSA P-256)"),
    };
    match report.signature {
        SignatureStatus::Unsigned => out.push_str(
            "  signature: UNSIGNED: the hashes match, but anyone able to write the directory could have rewritten manifest.json\n",
        ),
        _ if report.key_pinned => {
            out.push_str(&format!("  signature: valid, {signer}, the trusted key\n"))
        }
        _ => {
            out.push_str(&format!("  signature: valid, {signer}\n"));
            out.push_str(
                "  note:      the signer's key was not pinned; pass --public-key FILE to prove who signed\n",
            );
        }
    }
    for a in &report.approvals {
        let how = match &a.standing {
            crate::evidence::approval::Standing::Signed { signer } => {
                format!("signed with {signer}, trusted")
            }
            crate::evidence::approval::Standing::Unsigned => {
                "UNSIGNED (the runbook accepts unsigned approvals)".to_string()
            }
            crate::evidence::approval::Standing::Refused { reason } => reason.clone(),
        };
        out.push_str(&format!(
            "  approval:  `{}` by {}: {how}\n",
            a.step, a.approver
        ));
    }
    out.push_str(&format!(
        "  sealed:    {} by drillbook {}\n",
        m.created_at, m.drillbook_version
    ));
    out
}

pub(super) fn evidence(args: EvidenceArgs) -> ExitCode {
    match args.command {
        EvidenceCommand::Keygen { file } => match evidence::generate_ed25519_key(&file) {
            Ok(public) => {
                println!("wrote {} (secret, mode 0600)", file.display());
                println!(
                    "wrote {} (public key {public})",
                    evidence::public_key_path(&file).display()
                );
                println!(
                    "sign with `--sign-with ed25519:{}`; auditors verify with `drillbook verify-evidence DIR --public-key {}`",
                    file.display(),
                    evidence::public_key_path(&file).display()
                );
                ExitCode::Success
            }
            Err(e) => fail(e),
        },
        EvidenceCommand::Seal { dir, sign_with } => {
            let signer = match Signer::parse(&sign_with) {
                Ok(s) => s,
                Err(e) => return fail(e),
            };
            let runtime = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(r) => r,
                Err(e) => {
                    eprintln!("error: cannot start the async runtime: {e}");
                    return ExitCode::Failed;
                }
            };
            match runtime.block_on(evidence::seal(&dir, &signer)) {
                Ok(m) => {
                    println!(
                        "sealed {}: {} files, {}, signer {}",
                        dir.display(),
                        m.files.len(),
                        m.journal
                            .as_ref()
                            .map(|j| format!(
                                "journal head {} ({} records)",
                                j.head_sha256, j.records
                            ))
                            .unwrap_or_else(|| "no journal".into()),
                        m.signer.algorithm()
                    );
                    ExitCode::Success
                }
                Err(e) => fail(e),
            }
        }
    }
}

fn fail(e: EvidenceError) -> ExitCode {
    eprintln!("error: {e}");
    match e {
        EvidenceError::Kms { .. } | EvidenceError::Io { .. } => ExitCode::Failed,
        _ => ExitCode::Invalid,
    }
}
