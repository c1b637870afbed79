//! RDS DB instances (`localstack/drillbook_ext/rds.py`): what a restore, a reboot with failover
//! and the latest restorable time look like, as AWS documents them. Region: ap-southeast-7, with
//! instances of their own (no fault is set there).

use std::time::{Duration, Instant};

use aws_sdk_rds::Client;
use aws_sdk_rds::types::DbInstance;

use crate::support::{emulator, unique_prefix};

const REGION: &str = "ap-southeast-7";

async fn client() -> Client {
    Client::new(&emulator().sdk_config(REGION).await)
}

async fn create(c: &Client, id: &str, multi_az: bool, retention: i32) {
    c.create_db_instance()
        .db_instance_identifier(id)
        .engine("mysql")
        .engine_version("8.0.35")
        .db_instance_class("db.t3.micro")
        .master_username("admin")
        .master_user_password("not-a-secret-1")
        .allocated_storage(20)
        .multi_az(multi_az)
        .availability_zone(format!("{REGION}a"))
        .backup_retention_period(retention)
        .send()
        .await
        .unwrap();
}

async fn describe(c: &Client, id: &str) -> DbInstance {
    c.describe_db_instances()
        .db_instance_identifier(id)
        .send()
        .await
        .unwrap()
        .db_instances()[0]
        .clone()
}

/// RDS user guide, "Failover process for Amazon RDS": the standby in the other Availability
/// Zone becomes the primary; "Rebooting a DB instance": with ForceFailover "the primary DB
/// instance is switched to the standby". The instance is `rebooting` meanwhile.
#[tokio::test(flavor = "multi_thread")]
async fn a_reboot_with_failover_moves_the_instance_to_its_standby_zone() {
    let p = unique_prefix("fid_rds_failover");
    emulator().configure(serde_json::json!({"prefix": p, "rds_failover_seconds": 1}));
    let c = client().await;
    let id = format!("{p}db");
    create(&c, &id, true, 1).await;
    let before = describe(&c, &id).await;
    assert_eq!(
        before.availability_zone(),
        Some(format!("{REGION}a").as_str())
    );
    assert_eq!(
        before.secondary_availability_zone(),
        Some(format!("{REGION}b").as_str())
    );
    let started = Instant::now();
    let out = c
        .reboot_db_instance()
        .db_instance_identifier(&id)
        .force_failover(true)
        .send()
        .await
        .unwrap();
    assert_eq!(
        out.db_instance().unwrap().db_instance_status(),
        Some("rebooting")
    );
    // A second reboot while rebooting is refused.
    let err = c
        .reboot_db_instance()
        .db_instance_identifier(&id)
        .send()
        .await
        .unwrap_err();
    assert!(
        format!("{err:?}").contains("InvalidDBInstanceState"),
        "{err:?}"
    );
    loop {
        let i = describe(&c, &id).await;
        if i.db_instance_status() == Some("available") {
            assert_eq!(i.availability_zone(), Some(format!("{REGION}b").as_str()));
            assert_eq!(
                i.secondary_availability_zone(),
                Some(format!("{REGION}a").as_str())
            );
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "still rebooting"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(started.elapsed() >= Duration::from_millis(900));
}

/// RDS API reference, RebootDBInstance, ForceFailover: "Constraint: You can't enable force
/// failover if the instance isn't configured for Multi-AZ."
#[tokio::test(flavor = "multi_thread")]
async fn force_failover_of_a_single_az_instance_is_refused() {
    let p = unique_prefix("fid_rds_single");
    let c = client().await;
    let id = format!("{p}db");
    create(&c, &id, false, 1).await;
    let err = c
        .reboot_db_instance()
        .db_instance_identifier(&id)
        .force_failover(true)
        .send()
        .await
        .unwrap_err();
    assert!(
        format!("{err:?}").contains("InvalidParameterCombination"),
        "{err:?}"
    );
    assert_eq!(
        describe(&c, &id).await.db_instance_status(),
        Some("available")
    );
}

/// RDS user guide, "Restoring a DB instance to a specified time": the latest restorable time "is
/// typically within the last 5 minutes"; "Enabling automated backups": "Setting the backup
/// retention period to 0 disables automated backups". A restore to a later time is refused.
#[tokio::test(flavor = "multi_thread")]
async fn the_latest_restorable_time_lags_and_backups_off_have_none() {
    let p = unique_prefix("fid_rds_lag");
    emulator().configure(serde_json::json!({"prefix": p, "rds_pitr_lag_seconds": 300}));
    let c = client().await;
    let (on, off) = (format!("{p}on"), format!("{p}off"));
    create(&c, &on, false, 7).await;
    create(&c, &off, false, 0).await;
    let latest = describe(&c, &on)
        .await
        .latest_restorable_time()
        .cloned()
        .unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    assert!(
        (295..=330).contains(&(now - latest.secs())),
        "lag {}",
        now - latest.secs()
    );
    assert!(describe(&c, &off).await.latest_restorable_time().is_none());
    let err = c
        .restore_db_instance_to_point_in_time()
        .source_db_instance_identifier(&on)
        .target_db_instance_identifier(format!("{p}late"))
        .restore_time(aws_smithy_types::DateTime::from_secs(now - 60))
        .send()
        .await
        .unwrap_err();
    assert!(
        format!("{err:?}").contains("InvalidRestoreFault"),
        "{err:?}"
    );
    let err = c
        .restore_db_instance_to_point_in_time()
        .source_db_instance_identifier(&off)
        .target_db_instance_identifier(format!("{p}none"))
        .use_latest_restorable_time(true)
        .send()
        .await
        .unwrap_err();
    assert!(
        format!("{err:?}").contains("InvalidDBInstanceState"),
        "{err:?}"
    );
}

/// RestoreDBInstanceToPointInTime creates a new instance: `creating`, then `available`, single-AZ
/// unless asked (MultiAZ defaults to false, RDS API reference, RestoreDBInstanceToPointInTime).
#[tokio::test(flavor = "multi_thread")]
async fn a_restored_instance_is_creating_then_available_and_single_az() {
    let p = unique_prefix("fid_rds_restore");
    emulator().configure(serde_json::json!({"prefix": p, "rds_restore_creating_seconds": 1}));
    let c = client().await;
    let (src, dst) = (format!("{p}src"), format!("{p}dst"));
    create(&c, &src, true, 7).await;
    let out = c
        .restore_db_instance_to_point_in_time()
        .source_db_instance_identifier(&src)
        .target_db_instance_identifier(&dst)
        .use_latest_restorable_time(true)
        .send()
        .await
        .unwrap();
    let i = out.db_instance().unwrap();
    assert_eq!(i.db_instance_status(), Some("creating"));
    assert_eq!(i.multi_az(), Some(false));
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert_eq!(
        describe(&c, &dst).await.db_instance_status(),
        Some("available")
    );
}
