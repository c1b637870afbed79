//! `drillbook verify-evidence` and `drillbook evidence keygen|seal`.

use std::path::PathBuf;

use clap::{Args, Subcommand};

use super::ExitCode;
use crate::app::evidence::{
    self, Problem, SignatureStatus, SignerInfo, Standing, TrailStatus, VerifyOptions, VerifyReport,
};
use crate::app::{Failure, Session, Settings};

#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  drillbook verify-evidence .drillbook/reports/20261203-101500-ab12     # one run's evidence
  drillbook verify-evidence fleet-20261207-160000-cd34                  # a fleet, as a whole
  drillbook verify-evidence .drillbook/fleets/fleet-20261207-160000-cd34

A fleet (a run or drill across accounts) is verified as a whole: its record and reports against
its manifest, and each target's own evidence, whose manifest must have the SHA-256 the fleet
sealed. Each target's directory also verifies on its own, with nothing from another account.")]
pub struct VerifyEvidenceArgs {
    /// The evidence directory (holding manifest.json), a fleet's directory
    /// (`<state-dir>/fleets/FLEET_ID`), or a fleet's id.
    pub dir: PathBuf,
    /// Where a fleet given by its id is found: `<state-dir>/fleets/FLEET_ID`.
    #[arg(long, env = "DRILLBOOK_STATE_DIR", default_value = ".drillbook")]
    pub state_dir: PathBuf,
    /// A public key a run's evidence may be signed with (repeatable): `KEY.pub` (Ed25519, hex)
    /// or a KMS public key (base64 DER, as `aws kms get-public-key` prints it, or PEM). Evidence
    /// signed with any other key fails; unsigned evidence is reported as unsigned.
    #[arg(long, value_name = "FILE")]
    pub public_key: Vec<PathBuf>,
    /// For a bundle (`drillbook evidence export`): the public key its own manifest must be
    /// signed with. Each run inside is checked against `--public-key`.
    #[arg(long, value_name = "FILE")]
    pub bundle_key: Option<PathBuf>,
    /// Fail (exit 1) on evidence that is intact but unsigned.
    #[arg(long)]
    pub require_signed: bool,
    /// Also look up every AWS call the run recorded as a change in CloudTrail (LookupEvents,
    /// in the call's Region, through the role it used): found, not yet delivered (younger
    /// than 15 minutes), or missing (a failure).
    #[arg(long)]
    pub cloudtrail: bool,
    #[command(flatten)]
    pub aws: super::ProfileArg,
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
    /// Copy the sealed evidence of every run since DATE into one bundle, with an index (JSON
    /// and HTML) of runbooks, hashes, verdicts, objectives, approvers and signature status; the
    /// bundle itself is sealed. `drillbook verify-evidence OUT` verifies it whole.
    #[command(after_help = "\
Examples:
  drillbook evidence export --since 2026-01-01 --out audit-2026
  drillbook evidence export --since 2026-10-01 --out q4 --sign-with kms:alias/evidence@eu-west-1 --state 'dynamodb://drillbook-state?region=eu-west-1'
  drillbook verify-evidence audit-2026")]
    Export {
        /// The first day (UTC) whose runs are included: `YYYY-MM-DD`.
        #[arg(long, value_name = "DATE")]
        since: String,
        /// The bundle directory; must not exist yet.
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
        /// Where the runs' sealed evidence is (default: `<state-dir>/reports`).
        #[arg(long, value_name = "DIR")]
        report_dir: Option<PathBuf>,
        /// Seal the bundle with `none`, `ed25519:KEY_FILE` or `kms:KEY`.
        #[arg(long, value_name = "SIGNER", default_value = "none")]
        sign_with: String,
        #[command(flatten)]
        source: super::StoreArgs,
    },
    /// Seal a directory: write its manifest.json (hashes, journal head, signature).
    Seal {
        /// The directory to seal (a run's reports and evidence).
        dir: PathBuf,
        /// `none`, `ed25519:KEY_FILE` or `kms:alias/NAME` (also a key ARN, `kms:alias/NAME@REGION`).
        #[arg(long, value_name = "SIGNER", default_value = "none")]
        sign_with: String,
    },
    /// Print the pin of a KMS approver key: the SHA-256 of its public key (GetPublicKey, in the
    /// key's Region, with your credentials), and the `approvers.keys` entry that trusts it.
    /// Approvals are checked against the pin, never against a key an endpoint returns later.
    #[command(after_help = "\
Examples:
  drillbook evidence pin kms:arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab")]
    Pin {
        /// `kms:KEY_ARN` (a key ARN, not an alias: an alias can be re-pointed).
        key: String,
        #[command(flatten)]
        aws: super::ProfileArg,
    },
}

pub(super) fn verify_evidence(args: VerifyEvidenceArgs) -> Result<ExitCode, Failure> {
    let run_keys = evidence::trusted_keys(&args.public_key)?;
    let id = args.dir.to_string_lossy();
    if !args.dir.exists() && crate::app::fleet::is_fleet_id(&id) {
        return verify_fleet(&args.state_dir.join("fleets").join(&*id), &args, &run_keys);
    }
    if crate::app::fleet::is_fleet_dir(&args.dir) {
        return verify_fleet(&args.dir, &args, &run_keys);
    }
    if evidence::is_bundle(&args.dir) {
        let bundle_keys = evidence::trusted_keys(args.bundle_key.as_slice())?;
        return verify_bundle(&args, &bundle_keys, &run_keys);
    }
    let report = evidence::verify(&args.dir, &run_keys)?;
    out!("{}", render_report(&report));
    if !report.intact() {
        return Ok(ExitCode::Failed);
    }
    if args.require_signed && report.signature == SignatureStatus::Unsigned {
        outln!("not accepted: the evidence is unsigned and --require-signed was given");
        return Ok(ExitCode::Failed);
    }
    if args.cloudtrail {
        return verify_cloudtrail(&args);
    }
    Ok(ExitCode::Success)
}

/// A bundle: its own manifest against `--bundle-key`, then each run's evidence on its own
/// (hashes, chain, signature against `--public-key`, approvals).
fn verify_bundle(
    args: &VerifyEvidenceArgs,
    bundle: &VerifyOptions,
    runs: &VerifyOptions,
) -> Result<ExitCode, Failure> {
    let report = evidence::verify(&args.dir, bundle)?;
    out!("{}", render_report(&report));
    let mut unsigned = usize::from(report.signature == SignatureStatus::Unsigned);
    if !report.intact() {
        return Ok(ExitCode::Failed);
    }
    let dirs = evidence::bundle_runs(&args.dir)?;
    let mut bad = 0;
    for d in &dirs {
        match evidence::verify(d, runs) {
            Ok(r) if r.intact() => {
                let is_unsigned = r.signature == SignatureStatus::Unsigned;
                unsigned += usize::from(is_unsigned);
                outln!(
                    "  run {}: intact{}",
                    d.file_name().unwrap_or_default().to_string_lossy(),
                    if is_unsigned { " (unsigned)" } else { "" }
                )
            }
            Ok(r) => {
                bad += 1;
                out!("{}", render_report(&r));
            }
            Err(e) => {
                bad += 1;
                outln!("  {}: {e}", d.display());
            }
        }
    }
    if bad > 0 {
        outln!("bundle: {bad} of {} runs' evidence TAMPERED", dirs.len());
        return Ok(ExitCode::Failed);
    }
    outln!("bundle: {} runs' evidence intact", dirs.len());
    if args.require_signed && unsigned > 0 {
        outln!("not accepted: {unsigned} manifest(s) unsigned and --require-signed was given");
        return Ok(ExitCode::Failed);
    }
    Ok(ExitCode::Success)
}

/// A fleet as a whole: its own files against its manifest, then each target's evidence
/// against the SHA-256 the fleet sealed and on its own.
fn verify_fleet(
    dir: &std::path::Path,
    args: &VerifyEvidenceArgs,
    runs: &VerifyOptions,
) -> Result<ExitCode, Failure> {
    if !dir.is_dir() {
        return Err(
            Failure::invalid(format!("no fleet in {}", dir.display())).help(
                "give the fleet's directory, or its id with the --state-dir it ran with (`drillbook runs` lists fleets)",
            ),
        );
    }
    let v = crate::app::fleet::verify_fleet(dir, runs)?;
    for p in &v.problems {
        outln!("fleet {}: TAMPERED: {p}", v.fleet_id);
    }
    let mut unsigned = 0;
    let mut bad = 0;
    for t in &v.targets {
        let label = format!(
            "{} {} (run {})",
            t.account,
            t.region,
            t.run_id.as_deref().unwrap_or("not started")
        );
        let intact = t.problems.is_empty() && t.evidence.as_ref().is_none_or(|r| r.intact());
        if !intact {
            bad += 1;
        }
        for p in &t.problems {
            outln!("  {label}: TAMPERED: {p}");
        }
        match &t.evidence {
            None if t.problems.is_empty() => outln!("  {label}: no evidence (never ran)"),
            None => {}
            Some(r) if r.intact() && t.problems.is_empty() => {
                let is_unsigned = r.signature == SignatureStatus::Unsigned;
                unsigned += usize::from(is_unsigned);
                outln!(
                    "  {label}: intact{}",
                    if is_unsigned { " (unsigned)" } else { "" }
                );
            }
            Some(r) if r.intact() => {}
            Some(r) => {
                outln!("  {label}:");
                out!("{}", render_report(r));
            }
        }
    }
    if !v.intact() {
        outln!(
            "fleet {}: TAMPERED ({} problem(s) in the fleet's own files, {bad} of {} targets' evidence)",
            v.fleet_id,
            v.problems.len(),
            v.targets.len()
        );
        return Ok(ExitCode::Failed);
    }
    outln!(
        "fleet {}: intact (its record and reports, and {} targets' evidence)",
        v.fleet_id,
        v.targets.len()
    );
    if args.require_signed && unsigned > 0 {
        outln!("not accepted: {unsigned} manifest(s) unsigned and --require-signed was given");
        return Ok(ExitCode::Failed);
    }
    Ok(ExitCode::Success)
}

/// `drillbook evidence export`.
fn export(
    since: &str,
    out: &std::path::Path,
    report_dir: Option<&std::path::Path>,
    sign_with: &str,
    source: &super::StoreArgs,
) -> Result<ExitCode, Failure> {
    let session = Session::new(source.settings());
    let e =
        super::runtime()?.block_on(session.export_evidence(since, out, report_dir, sign_with))?;
    outln!(
        "exported {} runs since {since} into {} ({} without sealed evidence); sealed, signer {}",
        e.runs,
        out.display(),
        e.missing,
        e.manifest.signer.algorithm()
    );
    outln!("verify with: drillbook verify-evidence {}", out.display());
    if e.missing > 0 {
        errln!(
            "warning: {} runs have no sealed evidence in {} (run on another machine, or pass --report-dir)",
            e.missing,
            e.reports.display()
        );
    }
    Ok(ExitCode::Success)
}

/// A session on `--profile` alone (pinning and CloudTrail read no state).
fn profile_session(profile: Option<String>) -> Session {
    Session::new(Settings::reading(".drillbook".into(), None, profile))
}

/// `drillbook evidence pin kms:KEY_ARN`.
fn pin(key: &str, profile: Option<String>) -> Result<ExitCode, Failure> {
    let (sha, key_arn) = super::runtime()?.block_on(profile_session(profile).pin(key))?;
    outln!("{sha}");
    outln!("trust it in the runbook with:");
    outln!("approvers:\n  keys:\n    - key: \"kms:{key_arn}\"\n      sha256: \"{sha}\"");
    Ok(ExitCode::Success)
}

/// `--cloudtrail`: each recorded change looked up in CloudTrail.
fn verify_cloudtrail(args: &VerifyEvidenceArgs) -> Result<ExitCode, Failure> {
    let session = profile_session(args.aws.profile.clone());
    let checks = super::runtime()?.block_on(session.cloudtrail(&args.dir))?;
    if checks.is_empty() {
        outln!("cloudtrail: the run recorded no AWS call that changed something");
        return Ok(ExitCode::Success);
    }
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
            TrailStatus::Found(event) => outln!("  found      {what}: event {event}"),
            TrailStatus::NotYetDelivered => outln!(
                "  pending    {what}: not in CloudTrail yet (events arrive within about 5 minutes on average)"
            ),
            TrailStatus::NoRequestId => outln!("  unchecked  {what}: AWS gave no request id"),
            TrailStatus::Missing => {
                missing += 1;
                outln!("  MISSING    {what}: not in CloudTrail 15 minutes after the call")
            }
        }
    }
    if missing > 0 {
        outln!("cloudtrail: {missing} of {} changes MISSING", checks.len());
        Ok(ExitCode::Failed)
    } else {
        outln!("cloudtrail: {} changes checked, none missing", checks.len());
        Ok(ExitCode::Success)
    }
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
        } else if report
            .problems
            .iter()
            .all(|p| matches!(p, Problem::Approval { .. }))
        {
            "help: the files match their seal, but the journal records an approval that does not count: the run was rewritten before it was sealed, or a gate passed without its approver; treat this run's evidence as untrustworthy"
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
    if report.signature == SignatureStatus::Unsigned {
        out.push_str(&format!("evidence intact (unsigned): {dir}\n"));
    } else {
        out.push_str(&format!("evidence intact: {dir}\n"));
    }
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
            Standing::Signed { signer } => {
                format!("signed with {signer}, trusted")
            }
            Standing::Unsigned => "UNSIGNED (the runbook accepts unsigned approvals)".to_string(),
            Standing::Revoked { reason } => {
                format!("revoked ({reason})")
            }
            Standing::Refused { reason } => reason.clone(),
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

pub(super) fn evidence(args: EvidenceArgs) -> Result<ExitCode, Failure> {
    match args.command {
        EvidenceCommand::Export {
            since,
            out,
            report_dir,
            sign_with,
            source,
        } => export(&since, &out, report_dir.as_deref(), &sign_with, &source),
        EvidenceCommand::Keygen { file } => {
            let public = evidence::keygen(&file)?;
            outln!("wrote {} (secret, mode 0600)", file.display());
            outln!(
                "wrote {} (public key {public})",
                evidence::public_key_path(&file).display()
            );
            outln!(
                "sign with `--sign-with ed25519:{}`; auditors verify with `drillbook verify-evidence DIR --public-key {}`",
                file.display(),
                evidence::public_key_path(&file).display()
            );
            Ok(ExitCode::Success)
        }
        EvidenceCommand::Pin { key, aws } => pin(&key, aws.profile),
        EvidenceCommand::Seal { dir, sign_with } => {
            let m = super::runtime()?.block_on(evidence::seal(&dir, &sign_with))?;
            outln!(
                "sealed {}: {} files, {}, signer {}",
                dir.display(),
                m.files.len(),
                m.journal
                    .as_ref()
                    .map(|j| format!("journal head {} ({} records)", j.head_sha256, j.records))
                    .unwrap_or_else(|| "no journal".into()),
                m.signer.algorithm()
            );
            Ok(ExitCode::Success)
        }
    }
}
