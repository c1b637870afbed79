//! S3 versioning, as the Terraform state restore relies on it (localstack/drillbook_ext/s3.py,
//! localstack/README.md), through the AWS SDK for Rust:
//!
//! - GetBucketVersioning: no Status for a bucket never versioned, `Enabled`, `Suspended`
//!   (S3 API reference, GetBucketVersioning: "If the bucket has never had versioning enabled,
//!   the response does not contain the Status element"); its root element is
//!   `VersioningConfiguration`, which the SDK requires.
//! - ListObjectVersions: a key's versions newest first, IsLatest on the current one, a delete
//!   marker after DeleteObject, LastModified to the second, and KeyMarker/VersionIdMarker paging
//!   that walks every version once (S3 API reference, ListObjectVersions).
//! - CopyObject with `CopySource` `bucket/key?versionId=...`: a new current version with that
//!   version's content, every other version kept (Amazon S3 user guide, "Restoring previous
//!   versions").
//!
//! Region: us-east-2 (no test faults it).

use aws_sdk_s3::types::{BucketVersioningStatus, VersioningConfiguration};

use crate::support::{emulator, unique_prefix};

const REGION: &str = "us-east-2";

async fn client() -> aws_sdk_s3::Client {
    let conf = aws_sdk_s3::config::Builder::from(&emulator().sdk_config(REGION).await)
        .force_path_style(true)
        .build();
    aws_sdk_s3::Client::from_conf(conf)
}

async fn bucket(c: &aws_sdk_s3::Client, name: &str) {
    c.create_bucket()
        .bucket(name)
        .create_bucket_configuration(
            aws_sdk_s3::types::CreateBucketConfiguration::builder()
                .location_constraint(aws_sdk_s3::types::BucketLocationConstraint::UsEast2)
                .build(),
        )
        .send()
        .await
        .unwrap();
}

async fn set_versioning(c: &aws_sdk_s3::Client, name: &str, status: BucketVersioningStatus) {
    c.put_bucket_versioning()
        .bucket(name)
        .versioning_configuration(VersioningConfiguration::builder().status(status).build())
        .send()
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn get_bucket_versioning_says_never_enabled_enabled_and_suspended() {
    let c = client().await;
    let b = format!("{}ver", unique_prefix("fid_s3v"));
    bucket(&c, &b).await;
    let status = |c: aws_sdk_s3::Client, b: String| async move {
        c.get_bucket_versioning()
            .bucket(b)
            .send()
            .await
            .expect("GetBucketVersioning parses")
            .status()
            .map(|s| s.as_str().to_string())
    };
    assert_eq!(status(c.clone(), b.clone()).await, None);
    set_versioning(&c, &b, BucketVersioningStatus::Enabled).await;
    assert_eq!(
        status(c.clone(), b.clone()).await.as_deref(),
        Some("Enabled")
    );
    set_versioning(&c, &b, BucketVersioningStatus::Suspended).await;
    assert_eq!(
        status(c.clone(), b.clone()).await.as_deref(),
        Some("Suspended")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn versions_list_newest_first_page_by_markers_and_a_copy_of_one_becomes_current() {
    let c = client().await;
    let b = format!("{}hist", unique_prefix("fid_s3h"));
    bucket(&c, &b).await;
    set_versioning(&c, &b, BucketVersioningStatus::Enabled).await;
    let key = "env/prod/terraform.tfstate";
    let mut ids = vec![];
    for i in 0..3 {
        let out = c
            .put_object()
            .bucket(&b)
            .key(key)
            .body(format!("state {i}").into_bytes().into())
            .send()
            .await
            .unwrap();
        ids.push(out.version_id().unwrap().to_string());
    }
    // A longer key beginning with the same characters is listed after it.
    c.put_object()
        .bucket(&b)
        .key(format!("{key}.backup"))
        .body(b"x".to_vec().into())
        .send()
        .await
        .unwrap();

    let all = c
        .list_object_versions()
        .bucket(&b)
        .prefix(key)
        .send()
        .await
        .unwrap();
    let mine: Vec<_> = all
        .versions()
        .iter()
        .filter(|v| v.key() == Some(key))
        .collect();
    let listed: Vec<&str> = mine.iter().map(|v| v.version_id().unwrap()).collect();
    let newest_first: Vec<&str> = ids.iter().rev().map(String::as_str).collect();
    assert_eq!(listed, newest_first);
    assert_eq!(
        mine.iter()
            .map(|v| v.is_latest() == Some(true))
            .collect::<Vec<_>>(),
        [true, false, false]
    );
    assert!(
        mine.iter()
            .all(|v| v.last_modified().unwrap().subsec_nanos() == 0)
    );

    // One entry per page: the markers walk every version once, in the same order.
    let mut paged = vec![];
    let (mut km, mut vm): (Option<String>, Option<String>) = (None, None);
    loop {
        let page = c
            .list_object_versions()
            .bucket(&b)
            .prefix(key)
            .max_keys(1)
            .set_key_marker(km.clone())
            .set_version_id_marker(vm.clone())
            .send()
            .await
            .unwrap();
        for v in page.versions() {
            paged.push((
                v.key().unwrap().to_string(),
                v.version_id().unwrap().to_string(),
            ));
        }
        if !page.is_truncated().unwrap_or(false) {
            break;
        }
        km = page.next_key_marker().map(str::to_string);
        vm = page.next_version_id_marker().map(str::to_string);
        assert!(paged.len() <= 4, "{paged:?}");
    }
    let keys: Vec<&str> = paged.iter().map(|p| p.0.as_str()).collect();
    assert_eq!(keys, [key, key, key, &format!("{key}.backup")]);
    let paged_ids: Vec<&str> = paged.iter().take(3).map(|p| p.1.as_str()).collect();
    assert_eq!(paged_ids, newest_first);

    // CopyObject of the oldest version: a new current version with its content.
    let copy = c
        .copy_object()
        .bucket(&b)
        .key(key)
        .copy_source(format!("{b}/{key}?versionId={}", ids[0]))
        .send()
        .await
        .unwrap();
    let new_id = copy.version_id().unwrap().to_string();
    assert!(!ids.contains(&new_id));
    let now = c.get_object().bucket(&b).key(key).send().await.unwrap();
    assert_eq!(now.version_id(), Some(new_id.as_str()));
    let body = now.body.collect().await.unwrap().into_bytes();
    assert_eq!(&body[..], b"state 0");
    let after = c
        .list_object_versions()
        .bucket(&b)
        .prefix(key)
        .send()
        .await
        .unwrap();
    let after: Vec<&str> = after
        .versions()
        .iter()
        .filter(|v| v.key() == Some(key))
        .map(|v| v.version_id().unwrap())
        .collect();
    assert_eq!(after.len(), 4);
    assert_eq!(after[0], new_id);

    // A delete hides the object behind a delete marker, listed as the latest.
    c.delete_object().bucket(&b).key(key).send().await.unwrap();
    let out = c
        .list_object_versions()
        .bucket(&b)
        .prefix(key)
        .send()
        .await
        .unwrap();
    let markers: Vec<_> = out
        .delete_markers()
        .iter()
        .filter(|d| d.key() == Some(key))
        .collect();
    assert_eq!(markers.len(), 1);
    assert_eq!(markers[0].is_latest(), Some(true));
    assert!(
        out.versions()
            .iter()
            .filter(|v| v.key() == Some(key))
            .all(|v| v.is_latest() != Some(true))
    );
}
