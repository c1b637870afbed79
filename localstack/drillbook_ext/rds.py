"""Amazon RDS DB instances as AWS documents them, where moto differs and recovery depends on it.

- A point-in-time restore creates the new instance "with the default security group, the
  default subnet group, and the default DB parameter group" (RDS API reference,
  RestoreDBInstanceToPointInTime; RDS user guide, "Restoring a DB instance to a specified
  time"), single-AZ (MultiAZ defaults to false, same page), without the source's tags, option
  group, deletion protection, IAM authentication or log exports unless the request names them;
  its KMS key is the source's: "If the DB instance is encrypted, then the restored DB instance
  is encrypted using the KMS key that was used to encrypt the source DB instance" (same page,
  KmsKeyId). moto copies every setting of the source, so a restore that forgets them would
  pass here and not on AWS. The new instance is `creating` for `rds_restore_creating_seconds`,
  then `available`.
- LatestRestorableTime "is typically within the last 5 minutes" (RDS user guide, "Restoring a
  DB instance to a specified time"): it trails now by `rds_pitr_lag_seconds`; an instance with a
  backup retention period of 0 has automated backups off ("Setting the backup retention period
  to 0 disables automated backups", RDS user guide, "Enabling automated backups") and no
  restorable time. A RestoreTime after it is refused.
- RebootDBInstance with ForceFailover: "the primary DB instance is switched to the standby"
  (RDS user guide, "Rebooting a DB instance"), which is in the SecondaryAvailabilityZone;
  "Constraint: You can't enable force failover if the instance isn't configured for Multi-AZ"
  (RDS API reference, RebootDBInstance). The instance is `rebooting` for `rds_failover_seconds`
  ("Failovers ... typically complete within one to two minutes", RDS user guide, "Failover
  process for Amazon RDS"), then `available` with the two Availability Zones swapped. A reboot
  without failover is `rebooting` for the same time and stays where it was.
"""

from __future__ import annotations

import copy
import time
from datetime import timedelta
from typing import Any, Callable

from moto.rds import models as rds_models
from moto.rds import responses as rds_responses
from moto.rds.exceptions import InvalidParameterCombination, RDSClientError
from moto.core.utils import utcnow

from .config import seconds

DBInstance = rds_models.DBInstance
RDSBackend = rds_models.RDSBackend

# What a point-in-time restore does not take from its source (see the module's docstring):
# moto's copy of the source's attributes loses these, and the request's parameters set them.
_NOT_CARRIED = (
    "backend",
    "db_subnet_group",
    "db_subnet_group_name",
    "vpc_security_group_ids",
    "db_parameter_group_name",
    "option_group_name",
    "option_group_supplied",
    "multi_az",
    "storage_type",
    "deletion_protection",
    "tags",
    "copy_tags_to_snapshot",
    "enable_iam_database_authentication",
    "enabled_cloudwatch_logs_exports",
    "max_allocated_storage",
    "availability_zone",
    "secondary_availability_zone",
    "drillbook_status",
    "drillbook_busy",
    "drillbook_secondary_az",
    "drillbook_data",
)


# ------------------------------------------------------------------ status with transitions


def _get_status(self: Any) -> str:
    busy = self.__dict__.get("_drillbook_busy")
    if busy is not None:
        until, status, done = busy
        if time.time() < until:
            return status
        self.__dict__["_drillbook_busy"] = None
        if done is not None:
            done(self)
    return self.__dict__.get("_drillbook_status", "available")


def _set_status(self: Any, value: str) -> None:
    self.__dict__["_drillbook_status"] = value


DBInstance.status = property(_get_status, _set_status)  # type: ignore[assignment]


def _busy(db: Any, status: str, delay: float, done: Callable[[Any], None] | None) -> None:
    """`db` shows `status` for `delay` seconds, then `done(db)` runs (at once when 0)."""
    if delay <= 0:
        if done is not None:
            done(db)
        db.__dict__["_drillbook_busy"] = None
        return
    db.__dict__["_drillbook_busy"] = (time.time() + delay, status, done)


# ------------------------------------------------------------------ Multi-AZ standby


def _standby_az(db: Any) -> str | None:
    """The standby's Availability Zone: another AZ of the instance's subnet group, else the
    Region's next one."""
    if not getattr(db, "multi_az", False):
        return None
    own = db.availability_zone
    group = getattr(db, "db_subnet_group", None)
    for subnet in getattr(group, "subnets", None) or []:
        az = getattr(subnet, "availability_zone", None)
        if az and az != own:
            return az
    return f"{db.region}b" if own != f"{db.region}b" else f"{db.region}a"


def _get_secondary(self: Any) -> str | None:
    if not getattr(self, "multi_az", False):
        return None
    az = self.__dict__.get("_drillbook_secondary_az")
    if az is None or az == self.availability_zone:
        az = _standby_az(self)
        self.__dict__["_drillbook_secondary_az"] = az
    return az


def _set_secondary(self: Any, value: str | None) -> None:
    self.__dict__["_drillbook_secondary_az"] = value


DBInstance.secondary_availability_zone = property(_get_secondary, _set_secondary)  # type: ignore[attr-defined]


# ------------------------------------------------------------------ LatestRestorableTime


def _latest_restorable_time(self: Any) -> Any:
    if not getattr(self, "backup_retention_period", 0):
        return None
    lag = seconds("rds_pitr_lag_seconds", [self.db_instance_identifier])
    return utcnow() - timedelta(seconds=lag)


DBInstance.latest_restorable_time = property(_latest_restorable_time)  # type: ignore[assignment]


# ------------------------------------------------------------------ the data an instance holds
#
# The emulator runs no SQL. What recovery needs to know of the data is whether it is clean, and
# when that changed: each DB instance keeps a timeline of (time, state) entries, `clean` until
# something writes another state (workloads.py: a task that damages the data it reads). A
# point-in-time restore gives the new instance the source's state at the restore time, so a
# restore to before the damage is clean and one to after it is not (RDS user guide, "Restoring
# a DB instance to a specified time": the new instance holds the data as of that time).

# Called before the data is read, so writes that are due (a task that started meanwhile) are in
# the timeline first (workloads.py registers one).
BEFORE_DATA_READ: list[Callable[[], None]] = []


def write_data(db: Any, state: str, at: float) -> None:
    """From `at` on, `db` holds data in `state`."""
    timeline = db.__dict__.setdefault("_drillbook_data", [])
    timeline.append((at, state))
    timeline.sort(key=lambda e: e[0])


def data_at(db: Any, at: float | None = None) -> str:
    """The state of `db`'s data at `at` (default now): `clean` unless something wrote another."""
    for hook in BEFORE_DATA_READ:
        hook()
    when = time.time() if at is None else at
    state = "clean"
    for t, s in db.__dict__.get("_drillbook_data", []):
        if t <= when:
            state = s
    return state


# ------------------------------------------------------------------ RebootDBInstance


def _reboot_response(self: Any) -> Any:
    params = self.params
    db_id = params.get("db_instance_identifier") or params.get("DBInstanceIdentifier")
    force = params.get("force_failover", params.get("ForceFailover", False))
    force = force is True or str(force).lower() == "true"
    db = self.backend.describe_db_instances(db_id)[0]
    if force and not getattr(db, "multi_az", False):
        raise InvalidParameterCombination(
            "You can't enable force failover if the instance isn't configured for Multi-AZ."
        )
    if db.status != "available":
        raise RDSClientError(
            "InvalidDBInstanceState", f"DB instance {db_id} is not in available state."
        )

    def swap(d: Any) -> None:
        standby = d.secondary_availability_zone
        if standby:
            d.__dict__["_drillbook_secondary_az"] = d.availability_zone
            d.availability_zone = standby

    delay = seconds("rds_failover_seconds", [db.db_instance_identifier])
    _busy(db, "rebooting", delay, swap if force else None)
    return rds_responses.ActionResult({"DBInstance": db})


rds_responses.RDSResponse.reboot_db_instance = _reboot_response  # type: ignore[method-assign]


# ------------------------------------------------------------------ RestoreDBInstanceToPointInTime


def _restore_to_point_in_time(
    self: Any, source_db_identifier: str, target_db_identifier: str, overrides: dict[str, Any]
) -> Any:
    source = self.describe_db_instances(db_instance_identifier=source_db_identifier)[0]
    latest = source.latest_restorable_time
    if latest is None:
        raise RDSClientError(
            "InvalidDBInstanceState",
            f"Automated backups are not enabled for DB instance {source_db_identifier}.",
        )
    restore_time = overrides.get("restore_time")
    if restore_time is not None and hasattr(restore_time, "timestamp"):
        if restore_time.timestamp() > latest.timestamp():
            raise RDSClientError(
                "InvalidRestoreFault",
                f"Restore time {restore_time.isoformat()} is after the latest restorable time "
                f"{latest.isoformat()}.",
            )
    props: dict[str, Any] = {}
    for key, value in source.__dict__.items():
        key = key.lstrip("_")
        if key in _NOT_CARRIED:
            continue
        props[key] = copy.deepcopy(value)
    props["db_name"] = source.db_name
    for key, value in overrides.items():
        if value is not None and value != [] and key not in ("restore_time",):
            props[key] = value
    props["db_instance_identifier"] = target_db_identifier
    restored_at = (restore_time.timestamp() if hasattr(restore_time, "timestamp")
                   else latest.timestamp())
    data = data_at(source, restored_at)
    db = self.create_db_instance(props)
    # The restored instance holds the source's data as it was at the restore time, and none of
    # what was written to the source after it.
    db.__dict__["_drillbook_data"] = [(0.0, data)]
    delay = seconds("rds_restore_creating_seconds", [target_db_identifier])
    _busy(db, "creating", delay, None)
    return db


RDSBackend.restore_db_instance_to_point_in_time = _restore_to_point_in_time  # type: ignore[method-assign]


# ------------------------------------------------------------------ RestoreDBClusterToPointInTime

# "The new DB cluster is created with the default DB security group" (RDS API reference,
# RestoreDBClusterToPointInTime), and with the defaults of what the request does not name:
# moto copied the source's subnet group, parameter group, deletion protection, tags, IAM
# authentication and log exports.
_CLUSTER_NOT_CARRIED = (
    "backend",
    "db_subnet_group",
    "db_subnet_group_name",
    "vpc_security_group_ids",
    "parameter_group",
    "deletion_protection",
    "tags",
    "copy_tags_to_snapshot",
    "iam_auth",
    "enabled_cloudwatch_logs_exports",
    "members",
    "status",
)


def _restore_cluster_to_point_in_time(
    self: Any,
    db_cluster_identifier: str,
    source_db_cluster_identifier: str,
    restore_type: str = "full-copy",
    restore_to_time: Any = None,
    use_latest_restorable_time: bool = False,
    **overrides: Any,
) -> Any:
    if restore_to_time is not None and use_latest_restorable_time:
        raise InvalidParameterCombination(
            "Cannot specify both RestoreToTime and UseLatestRestorableTime"
        )
    source = self.describe_db_clusters(db_cluster_identifier=source_db_cluster_identifier)[0]
    props: dict[str, Any] = {}
    for key, value in source.__dict__.items():
        key = key.lstrip("_")
        if key in _CLUSTER_NOT_CARRIED:
            continue
        props[key] = copy.copy(value)
    for key, value in overrides.items():
        if value is not None and value != []:
            props[key] = value
    props["db_cluster_identifier"] = db_cluster_identifier
    return self.create_db_cluster(props)


RDSBackend.restore_db_cluster_to_point_in_time = _restore_cluster_to_point_in_time  # type: ignore[method-assign]


# ------------------------------------------------------------------ Aurora global databases
#
# moto keeps global clusters (CreateGlobalCluster, CreateDBCluster with GlobalClusterIdentifier,
# DescribeGlobalClusters with GlobalClusterMembers and IsWriter) but has neither
# SwitchoverGlobalCluster nor FailoverGlobalCluster, and its DescribeGlobalClusters ignores
# GlobalClusterIdentifier. As AWS documents them (RDS API reference, "SwitchoverGlobalCluster",
# "FailoverGlobalCluster", "DescribeGlobalClusters", "FailoverState"; Aurora user guide, "Using
# switchover or failover in an Amazon Aurora global database"):
# - TargetDbClusterIdentifier is a secondary cluster of the global cluster, named by its ARN
#   ("Use the Amazon Resource Name (ARN) for the identifier so that Aurora can locate the
#   cluster in its Amazon Web Services Region"); the writer itself, or a cluster that is no
#   member, is refused (InvalidDBClusterStateFault / DBClusterNotFoundFault), and so is a
#   global cluster that is not `available` (InvalidGlobalClusterStateFault).
# - FailoverGlobalCluster with AllowDataLoss is a failover; without it, or with Switchover, a
#   switchover ("If you don't specify AllowDataLoss, the global database cluster operation
#   defaults to a switchover"); both together are refused ("Can't be specified together").
# - While it runs, the global cluster's status and FailoverState.Status are `switching-over`
#   or `failing-over`, FailoverState names FromDbClusterArn, ToDbClusterArn and
#   IsDataLossAllowed; then the target is the writer (IsWriter), the old primary a secondary,
#   the status `available` and FailoverState empty ("This data type is empty unless a
#   switchover or failover operation is scheduled or is in progress"). It lasts
#   `rds_global_switchover_seconds` (matched on the global cluster's identifier).

GlobalCluster = rds_models.GlobalCluster


def _global_status(self: Any) -> str:
    busy = self.__dict__.get("_drillbook_busy")
    if busy is not None:
        until, status, done = busy
        if time.time() < until:
            return status
        self.__dict__["_drillbook_busy"] = None
        self.__dict__["_drillbook_failover_state"] = None
        if done is not None:
            done(self)
    return self.__dict__.get("_drillbook_status", "available")


GlobalCluster.status = property(_global_status, _set_status)  # type: ignore[assignment]


def _failover_state(self: Any) -> Any:
    _ = self.status  # ends a finished operation first
    return self.__dict__.get("_drillbook_failover_state")


GlobalCluster.failover_state = property(_failover_state)  # type: ignore[attr-defined]


def _global_cluster(backend: Any, ident: str) -> Any:
    gc = backend.global_clusters.get(ident or "")
    if gc is None:
        raise RDSClientError(
            "GlobalClusterNotFoundFault", f"Global cluster {ident} not found."
        )
    return gc


def _describe_global_clusters(self: Any) -> Any:
    ident = self.params.get("GlobalClusterIdentifier")
    if ident:
        clusters = [_global_cluster(self.global_backend, ident)]
    else:
        clusters = self.global_backend.describe_global_clusters()
    return rds_responses.ActionResult({"GlobalClusters": clusters})


def _promote(self: Any, data_loss: bool) -> Any:
    params = self.params
    gc = _global_cluster(self.global_backend, params.get("GlobalClusterIdentifier"))
    target_arn = params.get("TargetDbClusterIdentifier") or ""
    target = next(
        (m for m in gc.members if target_arn in (m.db_cluster_arn, m.db_cluster_identifier)),
        None,
    )
    if target is None:
        raise RDSClientError(
            "DBClusterNotFoundFault",
            f"DB cluster {target_arn} is not a member of global cluster "
            f"{gc.global_cluster_identifier}.",
        )
    if gc.status != "available":
        raise RDSClientError(
            "InvalidGlobalClusterStateFault",
            f"Global cluster {gc.global_cluster_identifier} is {gc.status}, not available.",
        )
    if target.is_writer:
        raise RDSClientError(
            "InvalidDBClusterStateFault",
            f"DB cluster {target_arn} is already the primary cluster of global cluster "
            f"{gc.global_cluster_identifier}.",
        )
    writer = next((m for m in gc.members if m.is_writer), None)
    status = "failing-over" if data_loss else "switching-over"

    def done(g: Any) -> None:
        for m in g.members:
            m.is_writer = m is target

    gc.__dict__["_drillbook_failover_state"] = {
        "Status": status,
        "FromDbClusterArn": writer.db_cluster_arn if writer is not None else None,
        "ToDbClusterArn": target.db_cluster_arn,
        "IsDataLossAllowed": data_loss,
    }
    delay = seconds("rds_global_switchover_seconds", [gc.global_cluster_identifier])
    _busy(gc, status, delay, done)
    if delay <= 0:
        gc.__dict__["_drillbook_failover_state"] = None
    return rds_responses.ActionResult({"GlobalCluster": gc})


def _truthy(v: Any) -> bool:
    return v is True or str(v).lower() == "true"


def _switchover_global_cluster(self: Any) -> Any:
    return _promote(self, data_loss=False)


def _failover_global_cluster(self: Any) -> Any:
    allow, switch = self.params.get("AllowDataLoss"), self.params.get("Switchover")
    if allow is not None and switch is not None:
        raise InvalidParameterCombination(
            "AllowDataLoss and Switchover can't be specified together."
        )
    return _promote(self, data_loss=_truthy(allow))


rds_responses.RDSResponse.describe_global_clusters = _describe_global_clusters  # type: ignore[method-assign]
rds_responses.RDSResponse.switchover_global_cluster = _switchover_global_cluster  # type: ignore[attr-defined]
rds_responses.RDSResponse.failover_global_cluster = _failover_global_cluster  # type: ignore[attr-defined]
