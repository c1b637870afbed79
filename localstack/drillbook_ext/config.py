"""Settings of the emulator: AWS's documented delays by default, shortened per name prefix.

Every setting is a number of seconds. Its global value comes from its `DRILLBOOK_*` variable at
start, else the AWS default below; `POST /_drillbook/config` changes it globally or for resources
whose name starts with a prefix (the longest matching prefix wins). See README.md, "Settings".
"""

from __future__ import annotations

import os
import threading
from typing import Any

# name -> (environment variable, default, what AWS says, where the default comes from)
# A default of None means "computed per resource" (see the comment on that setting).
SETTINGS: dict[str, tuple[str, float | None]] = {
    # RestoreTableToPointInTime: the new table is CREATING, then ACTIVE. AWS gives no figure
    # (restores of even small tables take minutes); 30 s makes a runbook that does not wait for
    # ACTIVE fail here as it would on AWS, without making every local restore slow.
    "dynamodb_restore_creating_seconds": ("DRILLBOOK_DYNAMODB_RESTORE_CREATING_SECONDS", 30.0),
    # ChangeResourceRecordSets: PENDING until the change reaches every Route 53 DNS server;
    # Route 53 "is designed to propagate updates you make to your DNS records to its world-wide
    # network of authoritative DNS servers within 60 seconds under normal conditions" (Amazon
    # Route 53 FAQ, "How quickly will changes I make to my DNS settings ... propagate globally?").
    "route53_change_pending_seconds": ("DRILLBOOK_ROUTE53_CHANGE_PENDING_SECONDS", 60.0),
    # UpdatePrimaryRegion: both keys are `Updating` "for a few more seconds" (KMS developer
    # guide, "Change the primary key in a set of multi-Region keys"); a few = 5.
    "kms_updating_seconds": ("DRILLBOOK_KMS_UPDATING_SECONDS", 5.0),
    # LatestRestorableDateTime "is typically 5 minutes before the current time" (DynamoDB API
    # reference, PointInTimeRecoveryDescription).
    "pitr_lag_seconds": ("DRILLBOOK_PITR_LAG_SECONDS", 300.0),
    # How long a measured health check takes to notice a change of its endpoint. None: the
    # check's own FailureThreshold x RequestInterval (Route 53 developer guide, "How Amazon
    # Route 53 determines whether a health check is healthy").
    "route53_health_seconds": ("DRILLBOOK_ROUTE53_HEALTH_SECONDS", None),
    # Global tables: "a newly written item is usually propagated to all replica tables within a
    # second" (DynamoDB developer guide, "Global tables: how it works").
    "global_table_replication_seconds": ("DRILLBOOK_GLOBAL_TABLE_REPLICATION_SECONDS", 1.0),
    # CloudTrail "typically delivers events within an average of about 5 minutes of an API
    # call" (CloudTrail user guide, "How CloudTrail works"): LookupEvents sees an event then.
    "cloudtrail_delivery_seconds": ("DRILLBOOK_CLOUDTRAIL_DELIVERY_SECONDS", 300.0),
    # ARC safety rules: WaitPeriodMs is "an evaluation period, in milliseconds (ms), during
    # which any request against the target routing controls will fail. ... The wait period is
    # 5000 ms by default" (CloudFormation, AWS::Route53RecoveryControl::SafetyRule AssertionRule).
    # None: each rule's own WaitPeriodMs; a number replaces it (0 in fast tests). Matched on the
    # rule's name.
    "arc_wait_period_seconds": ("DRILLBOOK_ARC_WAIT_PERIOD_SECONDS", None),
    # FIS experiments: how long one is `initiating` before `running`, and `stopping` before
    # `stopped`. AWS gives no figure (the FIS user guide, "Experiment states", names the states
    # only); 5 s makes a caller that does not wait for `running` notice.
    "fis_transition_seconds": ("DRILLBOOK_FIS_TRANSITION_SECONDS", 5.0),
    # FIS actions last their `duration` (from one minute to 12 hours, FIS actions reference);
    # a number here replaces every action's duration (tests that watch an experiment complete).
    "fis_action_duration_seconds": ("DRILLBOOK_FIS_ACTION_DURATION_SECONDS", None),
    # RestoreDBInstanceToPointInTime: the new DB instance is `creating`, then `available`. AWS
    # gives no figure (a restore replays transaction logs and takes many minutes); 60 s makes a
    # runbook that does not wait for `available` fail here as on AWS. Matched on the target's
    # identifier.
    "rds_restore_creating_seconds": ("DRILLBOOK_RDS_RESTORE_CREATING_SECONDS", 60.0),
    # RebootDBInstance (with ForceFailover: a Multi-AZ failover): `rebooting`, then
    # `available`; "Failovers ... typically complete within one to two minutes" (RDS user
    # guide, "Failover process for Amazon RDS").
    "rds_failover_seconds": ("DRILLBOOK_RDS_FAILOVER_SECONDS", 60.0),
    # SwitchoverGlobalCluster / FailoverGlobalCluster: the global cluster is `switching-over` /
    # `failing-over` (FailoverState.Status, RDS API reference, "FailoverState"), then
    # `available` with the writer in the target's Region. AWS gives no fixed figure (Aurora
    # user guide, "Using switchover or failover in an Amazon Aurora global database": a
    # switchover first synchronizes the secondaries, then promotes the target); 30 s makes a
    # caller that does not wait for `available` notice. Matched on the global cluster's
    # identifier.
    "rds_global_switchover_seconds": ("DRILLBOOK_RDS_GLOBAL_SWITCHOVER_SECONDS", 30.0),
    # A DB instance's LatestRestorableTime "is typically within the last 5 minutes" (RDS user
    # guide, "Restoring a DB instance to a specified time").
    "rds_pitr_lag_seconds": ("DRILLBOOK_RDS_PITR_LAG_SECONDS", 300.0),
    # ECS: how long a deployment (UpdateService forceNewDeployment, or a new desiredCount) is
    # IN_PROGRESS before it is COMPLETED with runningCount == desiredCount. AWS gives no figure
    # (ECS developer guide, "Deploy Amazon ECS services by replacing tasks": as long as tasks
    # take to start, pass health checks and drain); 60 s makes a caller that does not wait for
    # a steady state notice. Matched on the cluster's or the service's name. See ecs.py.
    "ecs_deployment_seconds": ("DRILLBOOK_ECS_DEPLOYMENT_SECONDS", 60.0),
}

_LOCK = threading.RLock()


def _initial() -> dict[str, float | None]:
    out: dict[str, float | None] = {}
    for name, (env, default) in SETTINGS.items():
        raw = os.environ.get(env, "")
        out[name] = float(raw) if raw.strip() else default
    return out


_GLOBAL: dict[str, float | None] = _initial()
_PREFIXED: dict[str, dict[str, float]] = {}


def setting(name: str, resource_names: list[str]) -> float | None:
    """Value of `name` for a resource known by `resource_names` (longest prefix wins)."""
    with _LOCK:
        best_len, value = -1, _GLOBAL.get(name)
        for prefix, values in _PREFIXED.items():
            if name not in values:
                continue
            if any(n and n.startswith(prefix) for n in resource_names) and len(prefix) > best_len:
                best_len, value = len(prefix), values[name]
        return value


def seconds(name: str, resource_names: list[str], fallback: float = 0.0) -> float:
    """Like `setting`, with `fallback` where the setting is computed per resource (None)."""
    v = setting(name, resource_names)
    return fallback if v is None else v


def config_snapshot() -> dict[str, Any]:
    with _LOCK:
        return {"global": dict(_GLOBAL), "prefixes": {k: dict(v) for k, v in _PREFIXED.items()}}


def apply_config(doc: dict[str, Any]) -> None:
    unknown = [k for k in doc if k not in SETTINGS and k != "prefix"]
    if unknown:
        raise ValueError(f"unknown settings {unknown}; known: {sorted(SETTINGS)} and 'prefix'")
    values: dict[str, float | None] = {}
    for k, v in doc.items():
        if k == "prefix":
            continue
        if v is None:
            values[k] = None
            continue
        if isinstance(v, bool) or not isinstance(v, (int, float)) or v < 0:
            raise ValueError(f"{k} must be a non-negative number of seconds")
        values[k] = float(v)
    prefix = doc.get("prefix")
    with _LOCK:
        if prefix:
            target = _PREFIXED.setdefault(prefix, {})
            for k, v in values.items():
                if v is None:
                    target.pop(k, None)
                else:
                    target[k] = v
        else:
            initial = _initial()
            for k, v in values.items():
                _GLOBAL[k] = initial[k] if v is None else v


def clear_config(prefix: str | None) -> None:
    """Drops one prefix's settings; without a prefix, every prefix and the global changes."""
    with _LOCK:
        if prefix:
            _PREFIXED.pop(prefix, None)
        else:
            _PREFIXED.clear()
            _GLOBAL.update(_initial())
