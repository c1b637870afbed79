//! Signers: `none`, an Ed25519 key file, or an AWS KMS asymmetric key (ECC_NIST_P256,
//! ECDSA_SHA_256). Signing and offline verification of the signing message.

use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::{KeySpec, KeyState, KeyUsageType, MessageType, SigningAlgorithmSpec};
use aws_smithy_types::base64;
use ed25519_dalek::{Signer as _, SigningKey, VerifyingKey};

use super::error::EvidenceError;
use super::manifest::SignerInfo;
use crate::actions::aws::{Aws, aws_error};

/// How to sign a manifest. Parsed from `--sign-with` ([`Signer::parse`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Signer {
    /// Hashes only; the manifest is marked unsigned.
    None,
    /// An Ed25519 key file: the 32-byte secret seed as 64 lowercase hex digits and a newline
    /// (see [`generate_ed25519_key`]).
    Ed25519 { key_file: PathBuf },
    /// An AWS KMS asymmetric `SIGN_VERIFY` key of spec `ECC_NIST_P256`: `alias/NAME`, a key ARN,
    /// an alias ARN or a key id. `region`: from the ARN or `@REGION`; `None` = the SDK's default
    /// Region chain.
    Kms { key: String, region: Option<String> },
}

impl Signer {
    /// Parses `none`, `ed25519:KEY_FILE`, `kms:alias/NAME`, `kms:alias/NAME@REGION`,
    /// `kms:arn:aws:kms:REGION:ACCOUNT:key/ID` (or `...:alias/NAME`), `kms:KEY_ID[@REGION]`.
    pub fn parse(spec: &str) -> Result<Signer, EvidenceError> {
        let bad = |reason: &str| EvidenceError::InvalidSigner {
            spec: spec.to_string(),
            reason: reason.to_string(),
        };
        let spec_t = spec.trim();
        if spec_t == "none" {
            return Ok(Signer::None);
        }
        let Some((scheme, rest)) = spec_t.split_once(':') else {
            return Err(bad("expected `SCHEME:VALUE`"));
        };
        match scheme {
            "ed25519" => {
                if rest.is_empty() {
                    return Err(bad("no key file after `ed25519:`"));
                }
                Ok(Signer::Ed25519 {
                    key_file: PathBuf::from(rest),
                })
            }
            "kms" => parse_kms(rest).map_err(|r| bad(&r)),
            other => Err(bad(&format!(
                "unknown signer `{other}` (expected `none`, `ed25519` or `kms`)"
            ))),
        }
    }
}

fn parse_kms(rest: &str) -> Result<Signer, String> {
    if rest.is_empty() {
        return Err("no key after `kms:`".into());
    }
    if let Some(arn) = rest.strip_prefix("arn:") {
        // arn:PARTITION:kms:REGION:ACCOUNT:key/ID | alias/NAME
        let parts: Vec<&str> = arn.splitn(5, ':').collect();
        if parts.len() != 5
            || parts[1] != "kms"
            || parts[2].is_empty()
            || parts[3].is_empty()
            || !(parts[4].starts_with("key/") || parts[4].starts_with("alias/"))
            || parts[4].ends_with('/')
        {
            return Err(format!(
                "`{rest}` is not a KMS key or alias ARN (arn:aws:kms:REGION:ACCOUNT:key/ID)"
            ));
        }
        return Ok(Signer::Kms {
            key: rest.to_string(),
            region: Some(parts[2].to_string()),
        });
    }
    let (key, region) = match rest.rsplit_once('@') {
        Some((k, r))
            if !r.is_empty() && r.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') =>
        {
            (k, Some(r.to_string()))
        }
        Some(_) => return Err(format!("`{rest}`: bad Region after `@`")),
        None => (rest, None),
    };
    if let Some(name) = key.strip_prefix("alias/") {
        let ok = !name.is_empty()
            && !name.starts_with("aws/")
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '/' | '_' | '-'));
        if !ok {
            return Err(format!(
                "`{key}` is not a valid alias name (letters, digits, `/`, `_`, `-`; not `alias/aws/...`)"
            ));
        }
    } else if key.is_empty() || !key.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
        return Err(format!(
            "`{key}` is neither `alias/NAME`, a key ARN nor a key id"
        ));
    }
    Ok(Signer::Kms {
        key: key.to_string(),
        region,
    })
}

impl FromStr for Signer {
    type Err = EvidenceError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Signer::parse(s)
    }
}

impl fmt::Display for Signer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Signer::None => write!(f, "none"),
            Signer::Ed25519 { key_file } => write!(f, "ed25519:{}", key_file.display()),
            Signer::Kms { key, region } if key.starts_with("arn:") || region.is_none() => {
                write!(f, "kms:{key}")
            }
            Signer::Kms { key, region } => {
                write!(f, "kms:{key}@{}", region.as_deref().unwrap_or_default())
            }
        }
    }
}

// ----------------------------------------------------------------------------- Ed25519 keys

/// Path of the public key written beside a key file: `FILE.pub`.
pub fn public_key_path(key_file: &Path) -> PathBuf {
    let mut s = key_file.as_os_str().to_os_string();
    s.push(".pub");
    PathBuf::from(s)
}

/// Creates a new Ed25519 key: `key_file` (secret seed, 64 hex digits and a newline, mode 0600)
/// and `key_file.pub` (public key, 64 hex digits and a newline). Refuses to overwrite either.
/// Returns the public key in hex.
pub fn generate_ed25519_key(key_file: &Path) -> Result<String, EvidenceError> {
    let pub_file = public_key_path(key_file);
    for p in [key_file, pub_file.as_path()] {
        if p.exists() || p.symlink_metadata().is_ok() {
            return Err(EvidenceError::KeyExists(p.to_path_buf()));
        }
    }
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).map_err(|e| {
        EvidenceError::io(
            key_file,
            std::io::Error::other(format!("no OS randomness: {e}")),
        )
    })?;
    let signing = SigningKey::from_bytes(&seed);
    let public_hex = hex::encode(signing.verifying_key().as_bytes());
    write_new(
        key_file,
        format!("{}\n", hex::encode(seed)).as_bytes(),
        0o600,
    )?;
    write_new(&pub_file, format!("{public_hex}\n").as_bytes(), 0o644)?;
    Ok(public_hex)
}

fn write_new(path: &Path, bytes: &[u8], mode: u32) -> Result<(), EvidenceError> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(mode);
    }
    #[cfg(not(unix))]
    let _ = mode;
    let mut f = opts.open(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::AlreadyExists {
            EvidenceError::KeyExists(path.to_path_buf())
        } else {
            EvidenceError::io(path, e)
        }
    })?;
    f.write_all(bytes)
        .and_then(|_| f.sync_all())
        .map_err(|e| EvidenceError::io(path, e))
}

/// Reads an Ed25519 key file (64 hex digits, surrounding whitespace ignored).
pub fn load_ed25519_key(key_file: &Path) -> Result<SigningKey, EvidenceError> {
    let text = std::fs::read_to_string(key_file).map_err(|e| EvidenceError::KeyFile {
        path: key_file.to_path_buf(),
        reason: e.to_string(),
        help: "create one with `drillbook evidence keygen FILE`".into(),
    })?;
    let seed = decode_hex32(text.trim()).ok_or_else(|| EvidenceError::KeyFile {
        path: key_file.to_path_buf(),
        reason: "expected the 32-byte Ed25519 seed as 64 hex digits".into(),
        help: "create one with `drillbook evidence keygen FILE` (not the `.pub` file)".into(),
    })?;
    Ok(SigningKey::from_bytes(&seed))
}

fn decode_hex32(s: &str) -> Option<[u8; 32]> {
    let bytes = hex::decode(s).ok()?;
    bytes.try_into().ok()
}

// ----------------------------------------------------------------------------- trusted keys

/// A public key the auditor trusts (`verify-evidence --public-key FILE`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TrustedKey {
    /// 32 bytes.
    Ed25519([u8; 32]),
    /// DER SubjectPublicKeyInfo (a KMS public key).
    Der(Vec<u8>),
}

impl TrustedKey {
    /// Reads a public key file: an Ed25519 `.pub` file (64 hex digits), or a KMS public key as
    /// base64 DER (`aws kms get-public-key --query PublicKey --output text`) or PEM.
    pub fn load(path: &Path) -> Result<TrustedKey, EvidenceError> {
        let text = std::fs::read_to_string(path).map_err(|e| EvidenceError::KeyFile {
            path: path.to_path_buf(),
            reason: e.to_string(),
            help: "pass the signer's public key file (`KEY.pub` for Ed25519)".into(),
        })?;
        TrustedKey::parse(&text).ok_or_else(|| EvidenceError::KeyFile {
            path: path.to_path_buf(),
            reason: "not a public key (expected 64 hex digits, base64 DER or PEM)".into(),
            help: "for Ed25519 pass `KEY.pub`; for KMS: `aws kms get-public-key --key-id ARN --query PublicKey --output text > kms.pub`".into(),
        })
    }

    pub fn parse(text: &str) -> Option<TrustedKey> {
        let t = text.trim();
        if let Some(k) = decode_hex32(t) {
            return Some(TrustedKey::Ed25519(k));
        }
        let b64: String = if t.starts_with("-----BEGIN") {
            t.lines()
                .filter(|l| !l.starts_with("-----"))
                .collect::<Vec<_>>()
                .concat()
        } else {
            t.split_whitespace().collect()
        };
        let der = base64::decode(&b64).ok()?;
        (!der.is_empty()).then_some(TrustedKey::Der(der))
    }

    /// Whether `info` names this key.
    pub fn matches(&self, info: &SignerInfo) -> bool {
        match (self, info) {
            (TrustedKey::Ed25519(k), SignerInfo::Ed25519 { public_key }) => {
                decode_hex32(public_key).is_some_and(|p| &p == k)
            }
            (TrustedKey::Der(d), SignerInfo::KmsEcdsaP256 { public_key, .. }) => {
                base64::decode(public_key).is_ok_and(|p| &p == d)
            }
            _ => false,
        }
    }

    /// For messages: hex (Ed25519) or base64 (DER).
    pub fn describe(&self) -> String {
        match self {
            TrustedKey::Ed25519(k) => format!("ed25519 {}", hex::encode(k)),
            TrustedKey::Der(d) => format!("DER public key {}", base64::encode(d)),
        }
    }
}

// ----------------------------------------------------------------------------- signing

/// A signer ready to sign (keys loaded, KMS key described).
pub(crate) enum Prepared {
    None,
    Ed25519(Box<SigningKey>),
    Kms {
        client: aws_sdk_kms::Client,
        region: String,
        key_arn: String,
        public_der: Vec<u8>,
    },
}

impl Prepared {
    pub(crate) fn info(&self) -> SignerInfo {
        match self {
            Prepared::None => SignerInfo::None,
            Prepared::Ed25519(k) => SignerInfo::Ed25519 {
                public_key: hex::encode(k.verifying_key().as_bytes()),
            },
            Prepared::Kms {
                key_arn,
                public_der,
                ..
            } => SignerInfo::KmsEcdsaP256 {
                key_arn: key_arn.clone(),
                public_key: base64::encode(public_der),
            },
        }
    }

    /// Signs `message`; `None` for the `none` signer.
    pub(crate) async fn sign(&self, message: &[u8]) -> Result<Option<Vec<u8>>, EvidenceError> {
        match self {
            Prepared::None => Ok(None),
            Prepared::Ed25519(k) => Ok(Some(k.sign(message).to_bytes().to_vec())),
            Prepared::Kms {
                client,
                region,
                key_arn,
                ..
            } => {
                let out = client
                    .sign()
                    .key_id(key_arn)
                    .message(Blob::new(message))
                    .message_type(MessageType::Raw)
                    .signing_algorithm(SigningAlgorithmSpec::EcdsaSha256)
                    .send()
                    .await
                    .map_err(|e| kms_failure(key_arn, "Sign", region, e))?;
                let sig = out
                    .signature()
                    .map(|b| b.as_ref().to_vec())
                    .unwrap_or_default();
                Ok(Some(sig))
            }
        }
    }
}

/// Loads the key (Ed25519) or describes the KMS key and fetches its public key.
pub(crate) async fn prepare(signer: &Signer, aws: Option<&Aws>) -> Result<Prepared, EvidenceError> {
    match signer {
        Signer::None => Ok(Prepared::None),
        Signer::Ed25519 { key_file } => {
            Ok(Prepared::Ed25519(Box::new(load_ed25519_key(key_file)?)))
        }
        Signer::Kms { key, region } => {
            let loaded;
            let aws = match aws {
                Some(a) => a,
                None => {
                    loaded = Aws::load(Default::default()).await;
                    &loaded
                }
            };
            let region = match region {
                Some(r) => r.clone(),
                None => default_region(aws)
                    .await
                    .ok_or_else(|| EvidenceError::KmsKey {
                        key: key.clone(),
                        reason: "no AWS Region configured".into(),
                        help: "set AWS_REGION, use `kms:alias/NAME@REGION`, or pass the key ARN"
                            .into(),
                    })?,
            };
            prepare_kms(aws, key, &region).await
        }
    }
}

async fn default_region(aws: &Aws) -> Option<String> {
    let mut chain = aws_config::default_provider::region::DefaultRegionChain::builder();
    if let Some(p) = &aws.options.profile {
        chain = chain.profile_name(p);
    }
    chain.build().region().await.map(|r| r.to_string())
}

async fn prepare_kms(aws: &Aws, key: &str, region: &str) -> Result<Prepared, EvidenceError> {
    let client = aws.kms(region);
    let refuse = |reason: String| {
        EvidenceError::KmsKey {
        key: key.to_string(),
        reason,
        help: "create a signing key with `aws kms create-key --key-usage SIGN_VERIFY --key-spec ECC_NIST_P256` and give it an alias".into(),
    }
    };
    let described = client
        .describe_key()
        .key_id(key)
        .send()
        .await
        .map_err(|e| kms_failure(key, "DescribeKey", region, e))?;
    let md = described
        .key_metadata()
        .ok_or_else(|| refuse("DescribeKey returned no key metadata".into()))?;
    if md.key_usage() != Some(&KeyUsageType::SignVerify) {
        return Err(refuse(format!(
            "its key usage is {}, not SIGN_VERIFY",
            md.key_usage().map(|u| u.as_str()).unwrap_or("unknown")
        )));
    }
    if md.key_spec() != Some(&KeySpec::EccNistP256) {
        return Err(refuse(format!(
            "its key spec is {}; drillbook signs evidence with ECC_NIST_P256 (ECDSA_SHA_256)",
            md.key_spec().map(|s| s.as_str()).unwrap_or("unknown")
        )));
    }
    if let Some(state) = md.key_state()
        && state != &KeyState::Enabled
    {
        return Err(refuse(format!("the key is {}", state.as_str())));
    }
    let key_arn = md
        .arn()
        .filter(|a| !a.is_empty())
        .ok_or_else(|| refuse("DescribeKey returned no key ARN".into()))?
        .to_string();
    let public = client
        .get_public_key()
        .key_id(&key_arn)
        .send()
        .await
        .map_err(|e| kms_failure(key, "GetPublicKey", region, e))?;
    let public_der = public
        .public_key()
        .map(|b| b.as_ref().to_vec())
        .ok_or_else(|| refuse("GetPublicKey returned no public key".into()))?;
    if ecdsa_key(&public_der).is_none() {
        return Err(refuse(
            "its public key is not a P-256 SubjectPublicKeyInfo".into(),
        ));
    }
    Ok(Prepared::Kms {
        client,
        region: region.to_string(),
        key_arn,
        public_der,
    })
}

fn kms_failure<E>(
    key: &str,
    operation: &str,
    region: &str,
    err: aws_smithy_runtime_api::client::result::SdkError<
        E,
        aws_smithy_runtime_api::client::orchestrator::HttpResponse,
    >,
) -> EvidenceError
where
    E: aws_smithy_types::error::metadata::ProvideErrorMetadata
        + std::error::Error
        + Send
        + Sync
        + 'static,
{
    EvidenceError::Kms {
        key: key.to_string(),
        source: aws_error("kms", operation, region, err),
    }
}

fn ecdsa_key(der: &[u8]) -> Option<p256::ecdsa::VerifyingKey> {
    use p256::pkcs8::DecodePublicKey;
    p256::ecdsa::VerifyingKey::from_public_key_der(der).ok()
}

// ----------------------------------------------------------------------------- verification

/// Checks `signature` (base64) over `message` against the key in `info`, offline. `Err` says
/// why it does not verify.
pub fn verify_signature(
    info: &SignerInfo,
    message: &[u8],
    signature: Option<&str>,
) -> Result<(), String> {
    let sig = match (info, signature) {
        (SignerInfo::None, None) => return Ok(()),
        (SignerInfo::None, Some(_)) => {
            return Err("the manifest says `none` but carries a signature".into());
        }
        (_, None) => return Err("the signature is missing".into()),
        (_, Some(s)) => {
            base64::decode(s).map_err(|e| format!("the signature is not base64 ({e})"))?
        }
    };
    match info {
        SignerInfo::None => Ok(()),
        SignerInfo::Ed25519 { public_key } => {
            let pk =
                decode_hex32(public_key).ok_or("the Ed25519 public key is not 64 hex digits")?;
            let vk = VerifyingKey::from_bytes(&pk)
                .map_err(|_| "the Ed25519 public key is not a valid point".to_string())?;
            let sig = ed25519_dalek::Signature::from_slice(&sig)
                .map_err(|_| "the Ed25519 signature is not 64 bytes".to_string())?;
            vk.verify_strict(message, &sig)
                .map_err(|_| "the Ed25519 signature does not match the manifest".to_string())
        }
        SignerInfo::KmsEcdsaP256 { public_key, .. } => {
            let der = base64::decode(public_key)
                .map_err(|e| format!("the KMS public key is not base64 ({e})"))?;
            let vk = ecdsa_key(&der).ok_or("the KMS public key is not a P-256 public key")?;
            let sig = p256::ecdsa::Signature::from_der(&sig)
                .map_err(|_| "the ECDSA signature is not DER".to_string())?;
            use p256::ecdsa::signature::Verifier;
            vk.verify(message, &sig)
                .map_err(|_| "the ECDSA signature does not match the manifest".to_string())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_signer_form() {
        assert_eq!(Signer::parse("none").unwrap(), Signer::None);
        assert_eq!(
            Signer::parse("ed25519:keys/evidence.key").unwrap(),
            Signer::Ed25519 {
                key_file: "keys/evidence.key".into()
            }
        );
        assert_eq!(
            Signer::parse("kms:alias/drill-evidence").unwrap(),
            Signer::Kms {
                key: "alias/drill-evidence".into(),
                region: None
            }
        );
        assert_eq!(
            Signer::parse("kms:alias/drill-evidence@eu-west-1").unwrap(),
            Signer::Kms {
                key: "alias/drill-evidence".into(),
                region: Some("eu-west-1".into())
            }
        );
        let arn = "arn:aws:kms:ca-central-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";
        assert_eq!(
            Signer::parse(&format!("kms:{arn}")).unwrap(),
            Signer::Kms {
                key: arn.into(),
                region: Some("ca-central-1".into())
            }
        );
        assert_eq!(
            Signer::parse("kms:mrk-1234abcd").unwrap(),
            Signer::Kms {
                key: "mrk-1234abcd".into(),
                region: None
            }
        );
        // Display round-trips.
        for s in [
            "none",
            "ed25519:k.key",
            "kms:alias/x",
            "kms:alias/x@eu-west-1",
            &format!("kms:{arn}"),
        ] {
            assert_eq!(Signer::parse(s).unwrap().to_string(), s);
        }
    }

    #[test]
    fn rejects_bad_signers_with_help() {
        for bad in [
            "",
            "ed25519:",
            "kms:",
            "kms:alias/",
            "kms:alias/aws/ebs",
            "kms:alias/a b",
            "kms:arn:aws:s3:::bucket",
            "kms:alias/x@",
            "gpg:abc",
            "ed25519",
        ] {
            let err = Signer::parse(bad).unwrap_err().to_string();
            assert!(err.starts_with("invalid signer"), "{bad}: {err}");
            assert!(err.contains("help: "), "{bad}: {err}");
        }
    }

    #[test]
    fn keygen_writes_private_0600_and_public_and_refuses_to_overwrite() {
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("ev.key");
        let public = generate_ed25519_key(&key).unwrap();
        let loaded = load_ed25519_key(&key).unwrap();
        assert_eq!(hex::encode(loaded.verifying_key().as_bytes()), public);
        let pub_text = std::fs::read_to_string(public_key_path(&key)).unwrap();
        assert_eq!(pub_text, format!("{public}\n"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&key).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
        let before = std::fs::read(&key).unwrap();
        assert!(matches!(
            generate_ed25519_key(&key),
            Err(EvidenceError::KeyExists(p)) if p == key
        ));
        assert_eq!(std::fs::read(&key).unwrap(), before);
        // The public file alone also blocks.
        let other = dir.path().join("other.key");
        std::fs::write(public_key_path(&other), "x").unwrap();
        assert!(matches!(
            generate_ed25519_key(&other),
            Err(EvidenceError::KeyExists(_))
        ));
        assert!(!other.exists());
    }

    #[test]
    fn bad_key_files_are_explained() {
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("bad.key");
        std::fs::write(&key, "not hex").unwrap();
        let err = load_ed25519_key(&key).unwrap_err().to_string();
        assert!(
            err.contains("64 hex digits") && err.contains("help:"),
            "{err}"
        );
        let err = load_ed25519_key(&dir.path().join("missing.key"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("keygen"), "{err}");
    }

    #[test]
    fn ed25519_signature_verifies_and_rejects_other_messages_and_keys() {
        let k = SigningKey::from_bytes(&[7u8; 32]);
        let info = Prepared::Ed25519(Box::new(k.clone())).info();
        let sig = base64::encode(k.sign(b"msg").to_bytes());
        assert_eq!(verify_signature(&info, b"msg", Some(&sig)), Ok(()));
        assert!(verify_signature(&info, b"msh", Some(&sig)).is_err());
        assert!(verify_signature(&info, b"msg", None).is_err());
        let other = SigningKey::from_bytes(&[8u8; 32]);
        let other_sig = base64::encode(other.sign(b"msg").to_bytes());
        assert!(verify_signature(&info, b"msg", Some(&other_sig)).is_err());
        assert!(verify_signature(&SignerInfo::None, b"msg", Some(&sig)).is_err());
        assert_eq!(verify_signature(&SignerInfo::None, b"msg", None), Ok(()));
    }

    #[test]
    fn trusted_keys_parse_hex_base64_and_pem() {
        let hexkey = "11".repeat(32);
        assert_eq!(
            TrustedKey::parse(&format!("{hexkey}\n")),
            Some(TrustedKey::Ed25519([0x11; 32]))
        );
        let der = vec![0x30, 0x59, 1, 2, 3];
        let b64 = base64::encode(&der);
        assert_eq!(TrustedKey::parse(&b64), Some(TrustedKey::Der(der.clone())));
        let pem = format!("-----BEGIN PUBLIC KEY-----\n{b64}\n-----END PUBLIC KEY-----\n");
        assert_eq!(TrustedKey::parse(&pem), Some(TrustedKey::Der(der)));
        assert_eq!(TrustedKey::parse("???"), None);
    }
}
