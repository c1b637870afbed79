//! Amazon S3 actions for the Terraform state: `s3.assert_versioning`, `s3.put_object`,
//! `s3.restore_object` and `s3.assert_object`.
//!
//! A restore follows the Amazon S3 user guide, "Restoring previous versions": "Copy a previous
//! version of the object into the same bucket. The copied object becomes the current version of
//! that object and all object versions are preserved." Nothing is deleted, so the damaged
//! version stays in the history for forensics, and a restore is undone by another one.
//!
//! Terraform's S3 backend with a DynamoDB lock table also keeps a digest of each state (see
//! [`digest_id`]); a restore that leaves it behind makes the next `terraform plan` stop on a
//! checksum mismatch, so `lock_table` updates it too.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use aws_sdk_dynamodb::types::AttributeValue;
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use chrono::{DateTime, TimeDelta, Utc};
use md5::{Digest, Md5};

use super::aws::aws_error;
use super::restore_point::{RestorePoint, rfc3339};
use super::{
    Action, ActionError, ActionSpec, AwsFailure, Finding, Observation, Outcome, StepContext,
};
use crate::catalog;

/// This service's actions, for the registry.
pub(super) fn all() -> Vec<Arc<dyn Action>> {
    vec![
        Arc::new(AssertVersioning),
        Arc::new(PutObject),
        Arc::new(RestoreObject),
        Arc::new(AssertObject),
    ]
}

const SVC: &str = "s3";

/// An S3 error, with a hint for the mistakes a state bucket invites: the step in another
/// Region than the bucket (S3 answers `PermanentRedirect` or `AuthorizationHeaderMalformed`,
/// S3 API reference, "Error responses"), or a bucket that does not exist.
fn s3_error<E>(op: &str, region: &str, bucket: &str, e: SdkError<E, HttpResponse>) -> ActionError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let mut err = aws_error(SVC, op, region, e);
    if let ActionError::Aws(f) = &mut err {
        match f.code.as_str() {
            "PermanentRedirect"
            | "AuthorizationHeaderMalformed"
            | "IllegalLocationConstraintException" => {
                f.hint = format!(
                    "bucket `{bucket}` is not in {region}: set the step's `region:` to the bucket's \
                     (`aws s3api get-bucket-location --bucket {bucket}`)"
                );
            }
            "NoSuchBucket" => {
                f.hint = format!(
                    "there is no bucket `{bucket}`: check its name (a Terraform state bucket is \
                     often named after its account) and the account the step runs in"
                );
            }
            _ => {}
        }
    }
    err
}

/// A response body that could not be read to its end.
fn body_error(op: &str, region: &str, e: impl std::fmt::Display) -> ActionError {
    ActionError::Aws(Box::new(AwsFailure {
        service: SVC.into(),
        operation: op.into(),
        region: region.into(),
        code: "BadResponse".into(),
        message: format!("the object's content could not be read: {e}"),
        retryable: true,
        request_id: None,
        hint: "transient; drillbook retries it as the step's `retry:` allows".into(),
    }))
}

/// `s3://BUCKET/KEY`, as people write it.
fn url(bucket: &str, key: &str) -> String {
    format!("s3://{bucket}/{key}")
}

/// Hex MD5 of `bytes`.
fn md5_hex(bytes: &[u8]) -> String {
    hex::encode(Md5::digest(bytes).as_slice())
}

// ------------------------------------------------------------------------------ versioning

/// What GetBucketVersioning says. A bucket never versioned has no `Status` ("If the bucket has
/// never had versioning enabled, the response does not contain the Status element",
/// S3 API reference, GetBucketVersioning); MFA delete is absent unless it was configured.
struct Versioning {
    /// `Enabled`, `Suspended`, or `Unversioned` (no Status: the default state, Amazon S3 user
    /// guide, "Retaining multiple versions of objects with S3 Versioning").
    status: String,
    mfa_delete: String,
}

async fn versioning(
    ctx: &StepContext,
    region: &str,
    bucket: &str,
) -> Result<Versioning, ActionError> {
    let out = ctx
        .aws
        .s3(region)
        .get_bucket_versioning()
        .bucket(bucket)
        .send()
        .await
        .map_err(|e| s3_error("GetBucketVersioning", region, bucket, e))?;
    Ok(Versioning {
        status: out
            .status()
            .map(|s| s.as_str().to_string())
            .unwrap_or_else(|| "Unversioned".into()),
        mfa_delete: out
            .mfa_delete()
            .map(|m| m.as_str().to_string())
            .unwrap_or_else(|| "Disabled".into()),
    })
}

/// Why a bucket whose versioning is not `Enabled` has nothing to restore from (or must not be
/// restored in). Amazon S3 user guide, "Working with objects in a versioning-suspended bucket":
/// while suspended, every write makes a `null` version that replaces the previous `null` one,
/// so a copy there could destroy the very version it copies from.
fn not_versioned(bucket: &str, status: &str) -> Finding {
    let enable = format!(
        "`aws s3api put-bucket-versioning --bucket {bucket} --versioning-configuration Status=Enabled`"
    );
    if status == "Suspended" {
        Finding {
            message: format!(
                "bucket `{bucket}` has versioning Suspended: writes replace its null version and keep no history"
            ),
            hint: format!(
                "enable versioning again ({enable}); versions kept from before the suspension can be copied back by hand"
            ),
        }
    } else {
        Finding {
            message: format!(
                "bucket `{bucket}` has never had versioning enabled: it keeps no earlier version to restore"
            ),
            hint: format!(
                "enable versioning on every Terraform state bucket ({enable}); until then only a backup can bring the state back"
            ),
        }
    }
}

/// What GetObjectLockConfiguration says: `none` when the bucket has no configuration (S3
/// answers ObjectLockConfigurationNotFoundError, S3 API reference,
/// GetObjectLockConfiguration), else `Enabled` and its default retention when it sets one.
async fn object_lock(ctx: &StepContext, region: &str, bucket: &str) -> Result<String, ActionError> {
    let r = ctx
        .aws
        .s3(region)
        .get_object_lock_configuration()
        .bucket(bucket)
        .send()
        .await
        .map_err(|e| s3_error("GetObjectLockConfiguration", region, bucket, e));
    let out = match r {
        Ok(o) => o,
        Err(ActionError::Aws(f)) if f.code == "ObjectLockConfigurationNotFoundError" => {
            return Ok("none".into());
        }
        Err(e) => return Err(e),
    };
    let Some(c) = out.object_lock_configuration() else {
        return Ok("none".into());
    };
    let Some(enabled) = c.object_lock_enabled() else {
        return Ok("none".into());
    };
    let mut text = enabled.as_str().to_string();
    if let Some(d) = c.rule().and_then(|r| r.default_retention()) {
        let mode = d.mode().map(|m| m.as_str()).unwrap_or("?");
        let period = match (d.days(), d.years()) {
            (Some(days), _) => format!("{days} days"),
            (_, Some(years)) => format!("{years} years"),
            _ => "no period".into(),
        };
        text.push_str(&format!(" (default retention {mode}, {period})"));
    }
    Ok(text)
}

// ------------------------------------------------------------------------------ versions

/// One entry of ListObjectVersions for the key: a version, or a delete marker.
#[derive(Debug, Clone, PartialEq)]
struct Version {
    id: String,
    /// LastModified as listed.
    at: DateTime<Utc>,
    etag: String,
    size: i64,
    /// IsLatest: the current version (or the delete marker that hides the object).
    latest: bool,
    delete_marker: bool,
}

fn time(t: Option<&aws_smithy_types::DateTime>) -> DateTime<Utc> {
    t.and_then(|t| DateTime::from_timestamp(t.secs(), t.subsec_nanos()))
        .unwrap_or(DateTime::<Utc>::MIN_UTC)
}

/// Whether a version listed with LastModified `at` was written at or before `t`. S3 lists
/// LastModified to the second (ListObjectVersions: `<LastModified>2009-10-12T17:50:30.000Z`,
/// S3 API reference), so a version listed at second S was written somewhere in [S, S + 1 s):
/// it is known to be no later than `t` only when S + 1 s <= t. A listing with sub-second
/// digits is taken as exact.
fn written_by(at: DateTime<Utc>, t: DateTime<Utc>) -> bool {
    if at.timestamp_subsec_nanos() == 0 {
        at + TimeDelta::seconds(1) <= t
    } else {
        at <= t
    }
}

/// Every version and delete marker of exactly `key` (not of longer keys it is a prefix of),
/// newest first: the current one first, then by LastModified, keeping S3's order (a key's
/// versions are listed newest first) between entries listed in the same second. With
/// `stop_at`, pages stop once one holds an entry written by then: nothing older is needed.
async fn versions(
    ctx: &StepContext,
    region: &str,
    bucket: &str,
    key: &str,
    stop_at: Option<DateTime<Utc>>,
) -> Result<Vec<Version>, ActionError> {
    let c = ctx.aws.s3(region);
    let mut all: Vec<Version> = vec![];
    let (mut key_marker, mut version_marker): (Option<String>, Option<String>) = (None, None);
    loop {
        let page = c
            .list_object_versions()
            .bucket(bucket)
            .prefix(key)
            .set_key_marker(key_marker.clone())
            .set_version_id_marker(version_marker.clone())
            .send()
            .await
            .map_err(|e| s3_error("ListObjectVersions", region, bucket, e))?;
        let mut past_key = false;
        for v in page.versions() {
            if v.key() != Some(key) {
                past_key = true;
                continue;
            }
            all.push(Version {
                id: v.version_id().unwrap_or("null").to_string(),
                at: time(v.last_modified()),
                etag: v.e_tag().unwrap_or_default().to_string(),
                size: v.size().unwrap_or_default(),
                latest: v.is_latest().unwrap_or(false),
                delete_marker: false,
            });
        }
        for d in page.delete_markers() {
            if d.key() != Some(key) {
                past_key = true;
                continue;
            }
            all.push(Version {
                id: d.version_id().unwrap_or("null").to_string(),
                at: time(d.last_modified()),
                etag: String::new(),
                size: 0,
                latest: d.is_latest().unwrap_or(false),
                delete_marker: true,
            });
        }
        // Keys are listed in order and `key` sorts before every longer key it begins, so a
        // longer key means all of `key`'s versions have been listed.
        let enough = stop_at.is_some_and(|t| all.iter().any(|v| written_by(v.at, t)));
        if past_key || enough || !page.is_truncated().unwrap_or(false) {
            break;
        }
        key_marker = page.next_key_marker().map(str::to_string);
        version_marker = page.next_version_id_marker().map(str::to_string);
        if key_marker.is_none() {
            break;
        }
    }
    // Stable: entries of the same second keep the listing's (newest first) order.
    all.sort_by(|a, b| b.latest.cmp(&a.latest).then(b.at.cmp(&a.at)));
    Ok(all)
}

/// The newest version written at or before `t`, or why there is none.
fn choose<'v>(
    all: &'v [Version],
    t: DateTime<Utc>,
    bucket: &str,
    key: &str,
) -> Result<&'v Version, Finding> {
    let at = rfc3339(t);
    let Some(v) = all.iter().find(|v| written_by(v.at, t)) else {
        return Err(match all.iter().min_by_key(|v| v.at) {
            None => Finding {
                message: format!("{} has no version", url(bucket, key)),
                hint: "check the key, and that the step's Region is the bucket's".into(),
            },
            Some(oldest) => Finding {
                message: format!(
                    "no version of {} was written at or before {at}: the oldest, `{}`, is from {}",
                    url(bucket, key),
                    oldest.id,
                    rfc3339(oldest.at)
                ),
                hint: format!(
                    "give a `restore_to` at or after {} (LastModified is listed to the second); \
                     older content, if any, is only in a backup (a lifecycle rule may have \
                     expired older versions)",
                    rfc3339(oldest.at + TimeDelta::seconds(1))
                ),
            },
        });
    };
    if v.delete_marker {
        return Err(Finding {
            message: format!(
                "{} was deleted at {at} (delete marker `{}` from {}): there is no content to restore at that time",
                url(bucket, key),
                v.id,
                rfc3339(v.at)
            ),
            hint: format!(
                "give a `restore_to` before the deletion ({})",
                rfc3339(v.at)
            ),
        });
    }
    Ok(v)
}

/// The bytes of one version of the object (the current one when `version` is `None`); `None`
/// when the object does not exist (NoSuchKey, S3 API reference, GetObject).
async fn get_bytes(
    ctx: &StepContext,
    region: &str,
    bucket: &str,
    key: &str,
    version: Option<&str>,
) -> Result<Option<(Vec<u8>, String)>, ActionError> {
    let r = ctx
        .aws
        .s3(region)
        .get_object()
        .bucket(bucket)
        .key(key)
        .set_version_id(version.map(str::to_string))
        .send()
        .await
        .map_err(|e| s3_error("GetObject", region, bucket, e));
    let out = match r {
        Ok(o) => o,
        Err(ActionError::Aws(f)) if f.code == "NoSuchKey" && version.is_none() => {
            return Ok(None);
        }
        Err(e) => return Err(e),
    };
    let id = out.version_id().unwrap_or("null").to_string();
    let bytes = out
        .body
        .collect()
        .await
        .map_err(|e| body_error("GetObject", region, e))?
        .into_bytes()
        .to_vec();
    Ok(Some((bytes, id)))
}

/// Whether two versions have the same content: the same version, or the same ETag and size
/// (equal ETags are equal content); otherwise, with equal sizes, their bytes compared, since an
/// ETag is not always the content's MD5 ("Objects encrypted by SSE-C or SSE-KMS have ETags that
/// are not an MD5 digest of their object data", S3 API reference, Object), and a copy of such an
/// object gets another ETag.
async fn same_content(
    ctx: &StepContext,
    region: &str,
    bucket: &str,
    key: &str,
    a: &Version,
    b: &Version,
) -> Result<bool, ActionError> {
    if a.id == b.id || (a.etag == b.etag && !a.etag.is_empty() && a.size == b.size) {
        return Ok(true);
    }
    if a.size != b.size {
        return Ok(false);
    }
    let x = get_bytes(ctx, region, bucket, key, Some(&a.id)).await?;
    let y = get_bytes(ctx, region, bucket, key, Some(&b.id)).await?;
    Ok(x.map(|x| x.0) == y.map(|y| y.0))
}

// ------------------------------------------------------------------------------ digest item

/// The digest item Terraform's S3 backend keeps in its DynamoDB lock table: `LockID` is
/// `BUCKET/KEY-md5` and `Digest` the hex MD5 of the state it last wrote. Reading a state whose
/// MD5 differs, Terraform stops ("state data in S3 does not have the expected content") until
/// the item holds the new digest. Terraform documentation, "Backend Type: s3", `dynamodb_table`
/// ("Name of the DynamoDB Table to use for state locking and consistency. The table must have a
/// partition key named LockID with type of String"); the item is written by the backend
/// beside the state's lock (`LockID` `BUCKET/KEY`), with the suffix `-md5`.
///
/// With S3-native state locking (`use_lockfile = true`, Terraform 1.10 and later; same page)
/// the lock is an object `KEY.tflock` beside the state and there is no digest item: a restore
/// then needs no `lock_table`.
fn digest_id(bucket: &str, key: &str) -> String {
    format!("{bucket}/{key}-md5")
}

/// The digest item's `Digest`; `Ok(None)` when there is no item, `Err(finding)` when the table
/// does not exist.
async fn read_digest(
    ctx: &StepContext,
    region: &str,
    table: &str,
    id: &str,
) -> Result<Result<Option<String>, Finding>, ActionError> {
    let r = ctx
        .aws
        .dynamodb(region)
        .get_item()
        .table_name(table)
        .key("LockID", AttributeValue::S(id.to_string()))
        .consistent_read(true)
        .send()
        .await
        .map_err(|e| aws_error("dynamodb", "GetItem", region, e));
    match r {
        Ok(out) => Ok(Ok(out
            .item()
            .and_then(|i| i.get("Digest"))
            .and_then(|d| d.as_s().ok())
            .cloned())),
        Err(ActionError::Aws(f)) if f.code == "ResourceNotFoundException" => Ok(Err(Finding {
            message: format!("lock table `{table}` does not exist in {region}"),
            hint: "give the backend's `dynamodb_table`, in the bucket's Region; with S3-native \
                   locking (`use_lockfile = true`) there is no table: leave `lock_table` unset"
                .into(),
        })),
        Err(e) => Err(e),
    }
}

/// Writes the digest item as Terraform does: PutItem of `LockID` and `Digest`.
async fn write_digest(
    ctx: &StepContext,
    region: &str,
    table: &str,
    id: &str,
    digest: &str,
) -> Result<(), ActionError> {
    ctx.aws
        .dynamodb(region)
        .put_item()
        .table_name(table)
        .set_item(Some(HashMap::from([
            ("LockID".to_string(), AttributeValue::S(id.to_string())),
            ("Digest".to_string(), AttributeValue::S(digest.to_string())),
        ])))
        .send()
        .await
        .map_err(|e| aws_error("dynamodb", "PutItem", region, e))?;
    Ok(())
}

/// `restore_to` as a time; `latest` means nothing for an object (its latest version is the
/// current one).
fn restore_time(name: &str, s: &str) -> Result<DateTime<Utc>, ActionError> {
    match RestorePoint::parse(s)? {
        RestorePoint::At(t) => Ok(t),
        RestorePoint::Latest => Err(ActionError::Invalid {
            message: format!(
                "parameter `{name}` must be an RFC 3339 time: the latest version of an object is the current one"
            ),
            hint: "give the time just before the damage, e.g. `2026-11-23T18:40:00Z`".into(),
        }),
    }
}

/// A copy source, URL-encoded as CopyObject requires ("The value must be URL-encoded", S3 API
/// reference, CopyObject, `x-amz-copy-source`), the key's slashes kept.
fn copy_source(bucket: &str, key: &str, version: &str) -> String {
    let enc = |s: &str, keep_slash: bool| -> String {
        s.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                    (b as char).to_string()
                }
                b'/' if keep_slash => "/".into(),
                _ => format!("%{b:02X}"),
            })
            .collect()
    };
    format!(
        "{bucket}/{}?versionId={}",
        enc(key, true),
        enc(version, false)
    )
}

// ------------------------------------------------------------------------------ s3.assert_versioning

pub(crate) struct AssertVersioning;

#[async_trait::async_trait]
impl Action for AssertVersioning {
    fn spec(&self) -> &'static ActionSpec {
        catalog::lookup("s3.assert_versioning").expect("s3.assert_versioning is in the catalogue")
    }

    async fn observe(&self, ctx: &StepContext) -> Result<Observation, ActionError> {
        let region = ctx.region()?;
        let bucket = ctx.params.str("bucket")?;
        let v = versioning(ctx, region, &bucket).await?;
        let lock = object_lock(ctx, region, &bucket).await?;
        let mut findings = vec![];
        if v.status != "Enabled" {
            findings.push(not_versioned(&bucket, &v.status));
        }
        Ok(Observation {
            summary: format!(
                "bucket `{bucket}`: versioning {}, MFA delete {}, Object Lock {lock}",
                v.status, v.mfa_delete
            ),
            facts: BTreeMap::from([
                ("status".to_string(), v.status.clone().into()),
                ("mfa_delete".to_string(), v.mfa_delete.clone().into()),
                ("object_lock".to_string(), lock.clone().into()),
            ]),
            findings,
            changes: vec![],
            outputs: BTreeMap::from([
                ("status".to_string(), v.status),
                ("mfa_delete".to_string(), v.mfa_delete),
                ("object_lock".to_string(), lock),
            ]),
        })
    }

    async fn verify(&self, _ctx: &StepContext, _outcome: &Outcome) -> Result<(), ActionError> {
        Ok(())
    }
}

// ------------------------------------------------------------------------------ s3.put_object

pub(crate) struct PutObject;

#[async_trait::async_trait]
impl Action for PutObject {
    fn spec(&self) -> &'static ActionSpec {
        catalog::lookup("s3.put_object").expect("s3.put_object is in the catalogue")
    }

    async fn observe(&self, ctx: &StepContext) -> Result<Observation, ActionError> {
        let region = ctx.region()?;
        let bucket = ctx.params.str("bucket")?;
        let key = ctx.params.str("key")?;
        let body = ctx.params.str("body")?;
        let have = get_bytes(ctx, region, &bucket, &key, None).await?;
        let mut obs = Observation::default();
        match have {
            Some((bytes, id)) if bytes == body.as_bytes() => {
                obs.summary = format!(
                    "{} already has this content (version `{id}`); nothing to do",
                    url(&bucket, &key)
                );
                obs.outputs.insert("version_id".into(), id);
            }
            Some((bytes, id)) => {
                obs.summary = format!(
                    "{} has other content ({} bytes, version `{id}`)",
                    url(&bucket, &key),
                    bytes.len()
                );
                obs.changes.push(format!(
                    "PutObject {} ({} bytes)",
                    url(&bucket, &key),
                    body.len()
                ));
            }
            None => {
                obs.summary = format!("{} does not exist", url(&bucket, &key));
                obs.changes.push(format!(
                    "PutObject {} ({} bytes)",
                    url(&bucket, &key),
                    body.len()
                ));
            }
        }
        Ok(obs)
    }

    async fn apply(
        &self,
        ctx: &StepContext,
        observed: &Observation,
    ) -> Result<Outcome, ActionError> {
        let region = ctx.region()?;
        let bucket = ctx.params.str("bucket")?;
        let key = ctx.params.str("key")?;
        let body = ctx.params.str("body")?;
        let out = ctx
            .aws
            .s3(region)
            .put_object()
            .bucket(&bucket)
            .key(&key)
            .body(body.clone().into_bytes().into())
            .send()
            .await
            .map_err(|e| s3_error("PutObject", region, &bucket, e))?;
        // No version id: a bucket never versioned, whose only version is `null`.
        let id = out.version_id().unwrap_or("null").to_string();
        Ok(Outcome {
            summary: format!(
                "wrote {} ({} bytes, version `{id}`)",
                url(&bucket, &key),
                body.len()
            ),
            changes: observed.changes.clone(),
            outputs: BTreeMap::from([("version_id".to_string(), id)]),
        })
    }

    async fn verify(&self, ctx: &StepContext, _outcome: &Outcome) -> Result<(), ActionError> {
        let region = ctx.region()?;
        let bucket = ctx.params.str("bucket")?;
        let key = ctx.params.str("key")?;
        let body = ctx.params.str("body")?;
        match get_bytes(ctx, region, &bucket, &key, None).await? {
            Some((bytes, _)) if bytes == body.as_bytes() => Ok(()),
            _ => Err(ActionError::Verification {
                message: format!("{} does not have the content written", url(&bucket, &key)),
                hint: "another writer changed it meanwhile; run the step again".into(),
            }),
        }
    }
}

// ------------------------------------------------------------------------------ s3.restore_object

pub(crate) struct RestoreObject;

/// What a restore finds: the version to bring back, the current one, and the digest item.
struct Restore {
    bucket: String,
    key: String,
    chosen: Version,
    /// The current version; `None` when a delete marker hides the object.
    current: Option<Version>,
    /// The current version already has the chosen version's content.
    same: bool,
    /// With `lock_table`: (table, the chosen content's MD5, the item's `Digest` now).
    digest: Option<(String, String, Option<String>)>,
}

impl Restore {
    fn outputs(&self, version_id: &str) -> BTreeMap<String, String> {
        let mut o = BTreeMap::from([
            ("version_id".to_string(), version_id.to_string()),
            ("restored_from".to_string(), self.chosen.id.clone()),
            ("restored_from_time".to_string(), rfc3339(self.chosen.at)),
        ]);
        if let Some((_, md5, _)) = &self.digest {
            o.insert("digest".into(), md5.clone());
        }
        o
    }

    fn digest_change(&self) -> Option<String> {
        let (table, md5, now) = self.digest.as_ref()?;
        (now.as_deref() != Some(md5.as_str())).then(|| {
            format!(
                "PutItem LockID `{}` Digest {md5} in `{table}` (now {})",
                digest_id(&self.bucket, &self.key),
                now.as_deref().unwrap_or("absent")
            )
        })
    }
}

/// Reads what a restore needs; `Err(findings)` when it must not or cannot happen.
async fn restore_plan(ctx: &StepContext) -> Result<Result<Restore, Vec<Finding>>, ActionError> {
    let region = ctx.region()?;
    let bucket = ctx.params.str("bucket")?;
    let key = ctx.params.str("key")?;
    let t = restore_time("restore_to", &ctx.params.str("restore_to")?)?;
    let lock_table = ctx.params.opt_str("lock_table")?.filter(|s| !s.is_empty());
    let v = versioning(ctx, region, &bucket).await?;
    if v.status != "Enabled" {
        return Ok(Err(vec![not_versioned(&bucket, &v.status)]));
    }
    let all = versions(ctx, region, &bucket, &key, Some(t)).await?;
    let chosen = match choose(&all, t, &bucket, &key) {
        Ok(c) => c.clone(),
        Err(f) => return Ok(Err(vec![f])),
    };
    let current = all.iter().find(|v| v.latest && !v.delete_marker).cloned();
    let same = match &current {
        Some(c) => same_content(ctx, region, &bucket, &key, c, &chosen).await?,
        None => false,
    };
    let digest = match lock_table {
        None => None,
        Some(table) => {
            let Some((bytes, _)) = get_bytes(ctx, region, &bucket, &key, Some(&chosen.id)).await?
            else {
                return Ok(Err(vec![Finding {
                    message: format!(
                        "version `{}` of {} cannot be read",
                        chosen.id,
                        url(&bucket, &key)
                    ),
                    hint: "check the caller may GetObjectVersion".into(),
                }]));
            };
            match read_digest(ctx, region, &table, &digest_id(&bucket, &key)).await? {
                Ok(now) => Some((table, md5_hex(&bytes), now)),
                Err(f) => return Ok(Err(vec![f])),
            }
        }
    };
    Ok(Ok(Restore {
        bucket,
        key,
        chosen,
        current,
        same,
        digest,
    }))
}

/// Copies the chosen version onto the key, once. Sent with the SDK's retries off: a copy whose
/// answer was lost (a reset, a timeout) may have been made, so before sending again the key is
/// read again, and a current version that already has the content ends it. One CopyObject
/// copies up to 5 GB (S3 API reference, CopyObject); the metadata is copied with the content
/// (x-amz-metadata-directive COPY, the default).
async fn copy_once(ctx: &StepContext, region: &str, r: &Restore) -> Result<String, ActionError> {
    let mut sends = 0;
    loop {
        sends += 1;
        let sent = ctx
            .aws
            .s3(region)
            .copy_object()
            .bucket(&r.bucket)
            .key(&r.key)
            .copy_source(copy_source(&r.bucket, &r.key, &r.chosen.id))
            .customize()
            .config_override(
                aws_sdk_s3::config::Builder::default()
                    .retry_config(aws_config::retry::RetryConfig::disabled()),
            )
            .send()
            .await
            .map_err(|e| s3_error("CopyObject", region, &r.bucket, e));
        let e = match sent {
            Ok(out) => return Ok(out.version_id().unwrap_or("null").to_string()),
            Err(e) => e,
        };
        if !e.retryable() {
            return Err(e);
        }
        if let Ok(Ok(again)) = restore_plan(ctx).await
            && again.same
            && let Some(c) = again.current
        {
            return Ok(c.id);
        }
        if sends >= 3 {
            return Err(e);
        }
        tokio::time::sleep(std::time::Duration::from_millis(100 << sends)).await;
    }
}

#[async_trait::async_trait]
impl Action for RestoreObject {
    fn spec(&self) -> &'static ActionSpec {
        catalog::lookup("s3.restore_object").expect("s3.restore_object is in the catalogue")
    }

    async fn observe(&self, ctx: &StepContext) -> Result<Observation, ActionError> {
        let r = match restore_plan(ctx).await? {
            Ok(r) => r,
            Err(findings) => {
                return Ok(Observation {
                    summary: findings[0].message.clone(),
                    findings,
                    ..Default::default()
                });
            }
        };
        let place = url(&r.bucket, &r.key);
        let mut obs = Observation::default();
        obs.facts
            .insert("restored_from".into(), r.chosen.id.clone().into());
        obs.facts
            .insert("restored_from_time".into(), rfc3339(r.chosen.at).into());
        if let Some(c) = &r.current {
            obs.facts
                .insert("current_version".into(), c.id.clone().into());
        }
        let current = r
            .current
            .as_ref()
            .map(|c| format!("version `{}` from {}", c.id, rfc3339(c.at)))
            .unwrap_or_else(|| "a delete marker".into());
        if r.same {
            obs.summary = format!(
                "{place} already has the content of version `{}` from {} (current: {current})",
                r.chosen.id,
                rfc3339(r.chosen.at)
            );
        } else {
            obs.summary = format!(
                "{place} is {current}; the newest version written by the restore point is `{}` from {}",
                r.chosen.id,
                rfc3339(r.chosen.at)
            );
            obs.changes.push(format!(
                "CopyObject {place}?versionId={} onto {place}: it becomes the current version, the history is kept",
                r.chosen.id
            ));
        }
        if let Some(c) = r.digest_change() {
            obs.changes.push(c);
        }
        if obs.changes.is_empty()
            && let Some(c) = &r.current
        {
            obs.outputs = r.outputs(&c.id);
        }
        Ok(obs)
    }

    async fn apply(&self, ctx: &StepContext, _: &Observation) -> Result<Outcome, ActionError> {
        let region = ctx.region()?;
        let r = match restore_plan(ctx).await? {
            Ok(r) => r,
            Err(findings) => return Err(ActionError::Precondition { findings }),
        };
        let place = url(&r.bucket, &r.key);
        let mut changes = vec![];
        let version_id = if r.same {
            r.current.as_ref().map(|c| c.id.clone()).unwrap_or_default()
        } else {
            let id = copy_once(ctx, region, &r).await?;
            changes.push(format!(
                "copied {place}?versionId={} onto {place}",
                r.chosen.id
            ));
            id
        };
        if let (Some(change), Some((table, md5, _))) = (r.digest_change(), &r.digest) {
            write_digest(ctx, region, table, &digest_id(&r.bucket, &r.key), md5).await?;
            changes.push(change);
        }
        Ok(Outcome {
            summary: format!(
                "{place} has the content of version `{}` from {} again (current version `{version_id}`)",
                r.chosen.id,
                rfc3339(r.chosen.at)
            ),
            changes,
            outputs: r.outputs(&version_id),
        })
    }

    async fn verify(&self, ctx: &StepContext, _outcome: &Outcome) -> Result<(), ActionError> {
        let r = match restore_plan(ctx).await? {
            Ok(r) => r,
            Err(findings) => {
                return Err(ActionError::Verification {
                    message: findings[0].message.clone(),
                    hint: findings[0].hint.clone(),
                });
            }
        };
        if !r.same {
            return Err(ActionError::Verification {
                message: format!(
                    "{} does not have the content of version `{}`",
                    url(&r.bucket, &r.key),
                    r.chosen.id
                ),
                hint: "another writer (a `terraform apply`?) wrote the state meanwhile; look at its versions before running the step again".into(),
            });
        }
        if r.digest_change().is_some() {
            return Err(ActionError::Verification {
                message: format!(
                    "the digest item `{}` does not hold the restored state's MD5",
                    digest_id(&r.bucket, &r.key)
                ),
                hint: "another writer changed it meanwhile; run the step again".into(),
            });
        }
        Ok(())
    }
}

// ------------------------------------------------------------------------------ s3.assert_object

pub(crate) struct AssertObject;

#[async_trait::async_trait]
impl Action for AssertObject {
    fn spec(&self) -> &'static ActionSpec {
        catalog::lookup("s3.assert_object").expect("s3.assert_object is in the catalogue")
    }

    async fn observe(&self, ctx: &StepContext) -> Result<Observation, ActionError> {
        let region = ctx.region()?;
        let bucket = ctx.params.str("bucket")?;
        let key = ctx.params.str("key")?;
        let place = url(&bucket, &key);
        let nonempty = |name: &str| -> Result<Option<String>, ActionError> {
            Ok(ctx.params.opt_str(name)?.filter(|s| !s.trim().is_empty()))
        };
        let as_of = nonempty("as_of")?
            .map(|s| restore_time("as_of", &s))
            .transpose()?;
        let Some((bytes, id)) = get_bytes(ctx, region, &bucket, &key, None).await? else {
            return Ok(Observation {
                summary: format!("{place} does not exist"),
                findings: vec![Finding {
                    message: format!("{place} does not exist (or a delete marker hides it)"),
                    hint:
                        "check the key and the step's Region; restore it with `s3.restore_object`"
                            .into(),
                }],
                ..Default::default()
            });
        };
        let md5 = md5_hex(&bytes);
        let mut findings = vec![];
        if let Some(want) = nonempty("md5")?
            && !want.trim().eq_ignore_ascii_case(&md5)
        {
            findings.push(Finding {
                message: format!("{place} has MD5 {md5}, not {}", want.trim()),
                hint: "restore it with `s3.restore_object`".into(),
            });
        }
        if let Some(other) = nonempty("same_as")? {
            let theirs = get_bytes(ctx, region, &bucket, &key, Some(&other)).await?;
            if theirs.map(|t| t.0).as_deref() != Some(bytes.as_slice()) {
                findings.push(Finding {
                    message: format!(
                        "{place} (version `{id}`) does not have the content of version `{other}`"
                    ),
                    hint: "restore it with `s3.restore_object`".into(),
                });
            }
        }
        if let Some(t) = as_of {
            let all = versions(ctx, region, &bucket, &key, Some(t)).await?;
            match choose(&all, t, &bucket, &key) {
                Err(f) => findings.push(f),
                Ok(then) => {
                    let theirs = if then.id == id {
                        Some(bytes.clone())
                    } else {
                        get_bytes(ctx, region, &bucket, &key, Some(&then.id))
                            .await?
                            .map(|t| t.0)
                    };
                    if theirs.as_deref() != Some(bytes.as_slice()) {
                        findings.push(Finding {
                            message: format!(
                                "{place} (version `{id}`) does not have the content it had at {} (version `{}`)",
                                rfc3339(t),
                                then.id
                            ),
                            hint: "restore it with `s3.restore_object` to that time".into(),
                        });
                    }
                }
            }
        }
        if let Some(table) = nonempty("lock_table")? {
            let item = digest_id(&bucket, &key);
            match read_digest(ctx, region, &table, &item).await? {
                Err(f) => findings.push(f),
                Ok(Some(d)) if d == md5 => {}
                Ok(now) => findings.push(Finding {
                    message: format!(
                        "the digest item `{item}` in `{table}` is {}, not the state's MD5 {md5}: `terraform plan` would stop on a checksum mismatch",
                        now.as_deref().unwrap_or("absent")
                    ),
                    hint: "run `s3.restore_object` with `lock_table`, or set the item's Digest to the value Terraform's error message gives".into(),
                }),
            }
        }
        Ok(Observation {
            summary: format!(
                "{place} is version `{id}`, {} bytes, MD5 {md5}",
                bytes.len()
            ),
            facts: BTreeMap::from([
                ("version_id".to_string(), id.clone().into()),
                ("md5".to_string(), md5.clone().into()),
            ]),
            findings,
            changes: vec![],
            outputs: BTreeMap::from([
                ("version_id".to_string(), id),
                ("md5".to_string(), md5),
                ("size".to_string(), bytes.len().to_string()),
            ]),
        })
    }

    async fn verify(&self, _ctx: &StepContext, _outcome: &Outcome) -> Result<(), ActionError> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn v(id: &str, at: &str, latest: bool, delete_marker: bool) -> Version {
        Version {
            id: id.into(),
            at: t(at),
            etag: format!("\"{id}\""),
            size: 1,
            latest,
            delete_marker,
        }
    }

    #[test]
    fn a_version_listed_in_the_restore_points_own_second_may_be_later_and_is_not_taken() {
        let listed = t("2026-12-07T10:00:01Z");
        assert!(!written_by(listed, t("2026-12-07T10:00:01.500Z")));
        assert!(!written_by(listed, t("2026-12-07T10:00:01Z")));
        assert!(written_by(listed, t("2026-12-07T10:00:02Z")));
        // Sub-second digits are exact.
        let exact = t("2026-12-07T10:00:01.250Z");
        assert!(written_by(exact, t("2026-12-07T10:00:01.250Z")));
        assert!(!written_by(exact, t("2026-12-07T10:00:01.249Z")));
    }

    #[test]
    fn the_newest_version_written_by_the_time_is_chosen() {
        let all = [
            v("v3", "2026-12-07T10:00:05Z", true, false),
            v("v2", "2026-12-07T10:00:03Z", false, false),
            v("v1", "2026-12-07T10:00:01Z", false, false),
        ];
        let pick = |at: &str| choose(&all, t(at), "b", "k").map(|v| v.id.clone());
        assert_eq!(pick("2026-12-07T10:00:04.9Z").unwrap(), "v2");
        assert_eq!(pick("2026-12-07T10:00:06Z").unwrap(), "v3");
        assert_eq!(pick("2026-12-07T10:00:02Z").unwrap(), "v1");
        let early = pick("2026-12-07T10:00:01.5Z").unwrap_err();
        assert!(early.message.contains("no version"), "{}", early.message);
        assert!(early.message.contains("`v1`"), "{}", early.message);
        assert!(
            early.hint.contains("2026-12-07T10:00:02Z"),
            "{}",
            early.hint
        );
        let none = choose(&[], t("2026-12-07T10:00:06Z"), "b", "k").unwrap_err();
        assert!(none.message.contains("has no version"), "{}", none.message);
    }

    #[test]
    fn a_time_when_the_object_was_deleted_is_refused() {
        let all = [
            v("v2", "2026-12-07T10:00:05Z", true, false),
            v("dm", "2026-12-07T10:00:03Z", false, true),
            v("v1", "2026-12-07T10:00:01Z", false, false),
        ];
        let f = choose(&all, t("2026-12-07T10:00:04Z"), "b", "k").unwrap_err();
        assert!(f.message.contains("was deleted"), "{}", f.message);
        assert_eq!(
            choose(&all, t("2026-12-07T10:00:02Z"), "b", "k")
                .unwrap()
                .id,
            "v1"
        );
    }

    #[test]
    fn the_copy_source_is_url_encoded_with_its_slashes() {
        assert_eq!(
            copy_source("state", "env/prod/a b+c.tfstate", "3/L4k+q="),
            "state/env/prod/a%20b%2Bc.tfstate?versionId=3%2FL4k%2Bq%3D"
        );
    }

    #[test]
    fn the_digest_item_is_terraforms() {
        assert_eq!(
            digest_id(
                "docustack-terraform-state-111122223333",
                "env/production/terraform.tfstate"
            ),
            "docustack-terraform-state-111122223333/env/production/terraform.tfstate-md5"
        );
        assert_eq!(md5_hex(b""), "d41d8cd98f00b204e9800998ecf8427e");
    }

    /// `drillbook iam-policy` grants the S3 actions on the bucket and the state object the
    /// runbook names (no other object), and the digest item's table in the step's Region.
    #[test]
    fn the_policy_names_the_bucket_the_state_object_and_the_lock_table() {
        let text = r#"
version: 1
name: t
steps:
  - id: versioning
    action: s3.assert_versioning
    region: us-east-1
    with: { bucket: tfstate-1 }
  - id: restore
    action: s3.restore_object
    region: us-east-1
    needs: [versioning]
    with: { bucket: tfstate-1, key: env/prod.tfstate, restore_to: "2026-01-01T00:00:00Z", lock_table: tf-locks }
"#;
        let rb = crate::runbook::load_str(std::path::Path::new("t.yaml"), text, &[])
            .unwrap()
            .runbook;
        let policy = crate::actions::iam::policy_for(&rb);
        let resources: Vec<String> = policy["Statement"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|s| s["Resource"].as_array().unwrap().clone())
            .map(|r| r.as_str().unwrap().to_string())
            .collect();
        assert_eq!(
            resources,
            [
                "arn:aws:dynamodb:us-east-1:*:table/tf-locks",
                "arn:aws:s3:::tfstate-1",
                "arn:aws:s3:::tfstate-1/env/prod.tfstate",
            ],
            "{policy}"
        );
        let all = policy.to_string();
        for action in ["s3:CopyObject", "s3:ListObjectVersions", "s3:*"] {
            assert!(!all.contains(&format!("\"{action}\"")), "{all}");
        }
    }

    #[test]
    fn latest_is_not_a_time_for_an_object() {
        assert!(restore_time("restore_to", "latest").is_err());
        assert_eq!(
            restore_time("restore_to", "2026-12-07T10:00:00Z").unwrap(),
            t("2026-12-07T10:00:00Z")
        );
    }
}
