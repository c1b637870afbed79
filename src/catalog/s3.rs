//! The actions of Amazon S3.

use super::*;

pub(super) const ACTIONS: &[ActionSpec] = &[
    // ---- s3: the Terraform state in its versioned bucket ----------------------------------------
    ActionSpec {
        name: "s3.assert_versioning",
        summary: "Check that an S3 bucket has versioning Enabled (GetBucketVersioning), and say what MFA delete and Object Lock are set to.",
        service: Service::S3,
        params: &[p("bucket", K::String, true, None, "the bucket's name")],
        outputs: &[
            o("status", "the versioning status (`Enabled`)"),
            o("mfa_delete", "`Enabled` or `Disabled`"),
            o(
                "object_lock",
                "`Enabled`, with its default retention when it has one, or `none`",
            ),
        ],
        default_estimate: secs(2),
        estimate_param: None,
        mutates: false,
        needs_region: true,
        iam: &[
            "s3:GetBucketVersioning",
            "s3:GetBucketObjectLockConfiguration",
        ],
        control_plane: ControlPlane::StepRegion,
    },
    ActionSpec {
        name: "s3.put_object",
        summary: "Write an object (PutObject; no call when it already has these bytes). Game-day scenarios use it to overwrite a state object.",
        service: Service::S3,
        params: &[
            p("bucket", K::String, true, None, "the bucket's name"),
            p("key", K::String, true, None, "the object's key"),
            p("body", K::String, true, None, "the object's content (UTF-8 text)"),
        ],
        outputs: &[o(
            "version_id",
            "the object's current version id afterwards (`null` in a bucket never versioned)",
        )],
        default_estimate: secs(2),
        estimate_param: None,
        mutates: true,
        needs_region: true,
        iam: &["s3:GetObject", "s3:PutObject"],
        control_plane: ControlPlane::StepRegion,
    },
    ActionSpec {
        name: "s3.restore_object",
        summary: "Make the newest version of an object written at or before `restore_to` current again, as a copy onto the same key (history is kept; no copy when the current version already has its content); with `lock_table`, set the digest item Terraform's S3 backend keeps in its DynamoDB lock table to the restored state's MD5.",
        service: Service::S3,
        params: &[
            p("bucket", K::String, true, None, "the versioned bucket's name"),
            p("key", K::String, true, None, "the object's key (e.g. `env/production/terraform.tfstate`)"),
            p(
                "restore_to",
                K::String,
                true,
                None,
                "an RFC 3339 time before the damage; S3 lists LastModified to the second, so a version listed in restore_to's own second is not taken",
            ),
            p(
                "lock_table",
                K::String,
                false,
                None,
                "the Terraform S3 backend's DynamoDB lock table (`dynamodb_table`), whose item `BUCKET/KEY-md5` gets the restored state's MD5; not needed with S3-native locking (`use_lockfile`)",
            )
            .scoped(S::DynamoDbTable),
        ],
        outputs: &[
            o("version_id", "the object's current version id afterwards"),
            o("restored_from", "the id of the version whose content was restored"),
            o("restored_from_time", "that version's LastModified, RFC 3339"),
            o("digest", "the hex MD5 written to the lock table's digest item (with `lock_table`)"),
        ],
        default_estimate: secs(10),
        estimate_param: None,
        mutates: true,
        needs_region: true,
        // A bucket encrypted with SSE-KMS also needs kms:Decrypt and kms:GenerateDataKey on
        // its key for the copy (Amazon S3 user guide, "Using server-side encryption with AWS
        // KMS keys (SSE-KMS)"); the default SSE-S3 needs none.
        iam: &[
            "s3:GetBucketVersioning",
            "s3:ListBucketVersions",
            "s3:GetObject",
            "s3:GetObjectVersion",
            "s3:PutObject",
            "dynamodb:GetItem",
            "dynamodb:PutItem",
        ],
        control_plane: ControlPlane::StepRegion,
    },
    ActionSpec {
        name: "s3.assert_object",
        summary: "Check an object's current content: its MD5, equal to a given version's or to the version current at a time, and with `lock_table` the Terraform S3 backend's digest item equal to its MD5.",
        service: Service::S3,
        params: &[
            p("bucket", K::String, true, None, "the bucket's name"),
            p("key", K::String, true, None, "the object's key"),
            p("md5", K::String, false, None, "the hex MD5 its content must have"),
            p(
                "same_as",
                K::String,
                false,
                None,
                "a version id of the key whose content it must have",
            ),
            p(
                "as_of",
                K::String,
                false,
                None,
                "an RFC 3339 time: it must have the content of the version current then (chosen as `s3.restore_object` chooses)",
            ),
            p(
                "lock_table",
                K::String,
                false,
                None,
                "the Terraform S3 backend's DynamoDB lock table, whose digest item must be its MD5",
            )
            .scoped(S::DynamoDbTable),
        ],
        outputs: &[
            o("version_id", "the current version id"),
            o("md5", "the hex MD5 of its content"),
            o("size", "its size in bytes"),
        ],
        default_estimate: secs(2),
        estimate_param: None,
        mutates: false,
        needs_region: true,
        iam: &[
            "s3:GetObject",
            "s3:GetObjectVersion",
            "s3:ListBucketVersions",
            "dynamodb:GetItem",
        ],
        control_plane: ControlPlane::StepRegion,
    },
];
