"""DynamoDB as AWS documents it where recovery depends on it (see ../README.md, "DynamoDB"):

* point-in-time recovery with history: every write to a table with PITR on is kept with its
  time, so RestoreTableToPointInTime(T) creates the table as it was at T, inside the window
  [EarliestRestorableDateTime, LatestRestorableDateTime];
* global tables version 2019.11.21: UpdateTable ReplicaUpdates Create/Delete, Replicas and
  GlobalTableVersion in DescribeTable, asynchronous replication after
  `global_table_replication_seconds` (last writer wins), held while a Region has a fault;
* restored tables CREATING for `dynamodb_restore_creating_seconds`;
* cheap TransactWriteItems rollback copies, and one DynamoDB request at a time (`LOCK`).
"""

from __future__ import annotations

import copy as copymod
import heapq
import itertools
import math
import threading
import time
from collections import defaultdict
from datetime import datetime
from typing import Any, Iterator, Optional

import moto.dynamodb.models as _ddb_models
from moto.core.exceptions import JsonRESTError
from moto.dynamodb.exceptions import (
    ERROR_TYPE_PREFIX,
    MockValidationException,
    PointInTimeRecoveryUnavailable,
    SourceTableNotFoundException,
    TableAlreadyExistsException,
)
from moto.dynamodb.models import DynamoDBBackend, dynamodb_backends
from moto.dynamodb.models.dynamo_type import DynamoType
from moto.dynamodb.models.table import GlobalSecondaryIndex, LocalSecondaryIndex, Table
from moto.dynamodb.responses import DynamoHandler, DynamoResult

from . import control, faults
from .config import seconds

# Every DynamoDB request is served whole under this lock (see the end of this file); the
# replication pump and the background thread take it too, so the state below needs no other.
LOCK = threading.RLock()

Key = tuple  # (hash DynamoType, range DynamoType | None)

# A write a request made, committed when the request ends: (time, table, key, item or None).
# None outside a request (writes are then committed at once).
_PENDING: Optional[list[tuple[float, Table, Key, Any]]] = None


def _iter_items(table: Table) -> Iterator[tuple[Key, Any]]:
    if table.range_key_attr is None:
        for h, item in table.items.items():
            yield (h, None), item
    else:
        for h, by_range in table.items.items():
            for r, item in by_range.items():
                yield (h, r), item


def _set_item(table: Table, key: Key, item: Any) -> Any:
    """Puts `item` (None: removes) under `key`; returns what was there."""
    h, r = key
    if r is None:
        old = table.items.get(h)
        if item is None:
            table.items.pop(h, None)
        else:
            table.items[h] = item
    else:
        by_range = table.items.get(h) or {}
        old = by_range.get(r)
        if item is None:
            by_range.pop(r, None)
        else:
            table.items[h][r] = item
    return old


# =============================================================================== PITR history
#
# "After you enable point-in-time recovery, you can restore to any point in time within
# EarliestRestorableDateTime and LatestRestorableDateTime. LatestRestorableDateTime is typically
# 5 minutes before the current time." (DynamoDB developer guide, "Point-in-time recovery: How it
# works", https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/PointInTimeRecovery_Howitworks.html)
#
# A table with PITR on keeps the state it had when PITR was turned on (`base`, copied once) and
# then one log entry per written item: (time, key, item copy or None for a delete). A write costs
# O(item); the state at T is the base plus the log up to T. Entries older than the recovery
# period are folded into the base now and then, so the log does not grow without end.

_FOLD_EVERY = 4096


class _Pitr:
    def __init__(self, table: Table, now: float):
        # Milliseconds: the JSON protocol carries timestamps to the millisecond, so a client
        # that restores to the EarliestRestorableDateTime it read gets exactly this time back.
        self.enabled_at = math.ceil(now * 1000) / 1000
        self.base: dict[Key, Any] = {k: copymod.deepcopy(v) for k, v in _iter_items(table)}
        self.log: list[tuple[float, Key, Any]] = []
        self.appended = 0

    def append(self, t: float, key: Key, snapshot: Any, period_days: float) -> None:
        self.log.append((t, key, snapshot))
        self.appended += 1
        if self.appended % _FOLD_EVERY == 0:
            self.fold(time.time() - period_days * 86400)

    def fold(self, before: float) -> None:
        """Moves the entries older than `before` into the base."""
        n = 0
        for t, key, snapshot in self.log:
            if t >= before:
                break
            self.base[key] = snapshot
            n += 1
        if n:
            del self.log[:n]
            self.base = {k: v for k, v in self.base.items() if v is not None}

    def state_at(self, t: float) -> dict[Key, Any]:
        state = dict(self.base)
        # Replicated writes are logged with their arrival time, which can trail a local write
        # logged a moment earlier; the log is sorted (cheap: it almost is) before replaying.
        for when, key, snapshot in sorted(self.log, key=lambda e: e[0]):
            if when > t:
                break
            state[key] = snapshot
        return {k: v for k, v in state.items() if v is not None}


def _period_days(table: Table) -> float:
    desc = table.continuous_backups.get("PointInTimeRecoveryDescription", {})
    return float(desc.get("RecoveryPeriodInDays") or 35)


def _pitr_window(table: Table, now: float) -> tuple[float, float]:
    """(EarliestRestorableDateTime, LatestRestorableDateTime) of a table with PITR on.

    Earliest: when PITR was turned on, or now minus the recovery period if that is later ("Your
    table data is only recoverable to any point-in-time from within the configured recovery
    period", DynamoDB API reference, PointInTimeRecoveryDescription,
    https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_PointInTimeRecoveryDescription.html).
    Latest: now minus `pitr_lag_seconds` (default 300: "typically 5 minutes before the current
    time", same page), but never before Earliest: right after PITR is (re-)enabled "you can only
    immediately restore that table using the LatestRestorableDateTime" (developer guide,
    "Point-in-time recovery: How it works").
    """
    pitr: _Pitr = table._db_pitr
    earliest = max(pitr.enabled_at, now - _period_days(table) * 86400)
    latest = max(now - seconds("pitr_lag_seconds", [table.name], 300.0), earliest)
    return earliest, latest


def _pitr_description(table: Table) -> dict[str, Any]:
    out = copymod.deepcopy(table.continuous_backups)
    desc = out.setdefault("PointInTimeRecoveryDescription", {})
    if getattr(table, "_db_pitr", None) is not None:
        earliest, latest = _pitr_window(table, time.time())
        desc["EarliestRestorableDateTime"] = earliest
        desc["LatestRestorableDateTime"] = latest
    return out


_orig_update_continuous_backups = DynamoDBBackend.update_continuous_backups
_orig_describe_continuous_backups = DynamoDBBackend.describe_continuous_backups


def _update_continuous_backups(self: Any, table_name: str, spec: dict[str, Any]) -> Any:
    _orig_update_continuous_backups(self, table_name, spec)
    table = self.get_table(table_name)
    if spec.get("PointInTimeRecoveryEnabled"):
        if getattr(table, "_db_pitr", None) is None:
            table._db_pitr = _Pitr(table, time.time())
    else:
        # "If you disable point-in-time recovery and later enable it on a table, you reset the
        # start time for which you can recover that table." (developer guide, same page)
        table._db_pitr = None
    return _pitr_description(table)


def _describe_continuous_backups(self: Any, table_name: str) -> Any:
    _orig_describe_continuous_backups(self, table_name)  # TableNotFoundException as moto has it
    return _pitr_description(self.get_table(table_name))


DynamoDBBackend.update_continuous_backups = _update_continuous_backups  # type: ignore[method-assign]
DynamoDBBackend.describe_continuous_backups = _describe_continuous_backups  # type: ignore[method-assign]


# =============================================================================== recording writes


def _tracked(table: Table) -> bool:
    return getattr(table, "_db_pitr", None) is not None or _group_of(table) is not None


def _note(table: Table, key: Key, item: Any) -> None:
    """A local write of `key` (item None: deleted) in `table`."""
    if not _tracked(table):
        return
    entry = (time.time(), table, key, copymod.deepcopy(item) if item is not None else None)
    if _PENDING is not None:
        _PENDING.append(entry)
    else:
        _commit([entry])


def _commit(entries: list[tuple[float, Table, Key, Any]]) -> None:
    for t, table, key, snapshot in entries:
        pitr = getattr(table, "_db_pitr", None)
        if pitr is not None:
            pitr.append(t, key, snapshot, _period_days(table))
        _replicate_out(table, t, key, snapshot)


_orig_table_put_item = Table.put_item
_orig_table_delete_item = Table.delete_item
_orig_update_item = DynamoDBBackend.update_item


def _table_put_item(self: Any, *args: Any, **kwargs: Any) -> Any:
    item = _orig_table_put_item(self, *args, **kwargs)
    _note(self, (item.hash_key, item.range_key), item)
    return item


def _table_delete_item(self: Any, hash_key: Any, range_key: Any) -> Any:
    item = _orig_table_delete_item(self, hash_key, range_key)
    if item is not None:
        _note(self, (hash_key, range_key), None)
    return item


def _update_item(self: Any, table_name: str, *args: Any, **kwargs: Any) -> Any:
    # UpdateItem changes the stored item in place, after Table.put_item for a new item.
    item = _orig_update_item(self, table_name, *args, **kwargs)
    if item is not None:
        _note(self.get_table(table_name), (item.hash_key, item.range_key), item)
    return item


Table.put_item = _table_put_item  # type: ignore[method-assign]
Table.delete_item = _table_delete_item  # type: ignore[method-assign]
DynamoDBBackend.update_item = _update_item  # type: ignore[method-assign]


# =============================================================================== restore


class InvalidRestoreTimeException(JsonRESTError):
    # "An invalid restore time was specified. RestoreDateTime must be between
    # EarliestRestorableDateTime and LatestRestorableDateTime." (DynamoDB API reference,
    # RestoreTableToPointInTime, Errors; HTTP 400)
    def __init__(self) -> None:
        super().__init__(
            ERROR_TYPE_PREFIX + "InvalidRestoreTimeException",
            "An invalid restore time was specified. RestoreDateTime must be between "
            "EarliestRestorableDateTime and LatestRestorableDateTime.",
        )


def _epoch(value: Any) -> float:
    if isinstance(value, datetime):
        return value.timestamp()
    return float(value)


def _source_of(backend: DynamoDBBackend, body: dict[str, Any]) -> Table:
    """The source table by SourceTableArn (any Region: cross-Region restore) or by name."""
    arn = body.get("SourceTableArn")
    name = body.get("SourceTableName")
    if arn:
        parts = arn.split(":", 5)
        if len(parts) == 6 and parts[5].startswith("table/"):
            account, region, tname = parts[4], parts[3], parts[5][len("table/"):]
            try:
                return dynamodb_backends[account][region].tables[tname]
            except KeyError:
                pass
        raise SourceTableNotFoundException(arn)
    if not name:
        raise MockValidationException("Either SourceTableArn or SourceTableName must be given")
    table = backend.tables.get(name)
    if table is None:
        raise SourceTableNotFoundException(name)
    return table


def restore_to_point_in_time(backend: DynamoDBBackend, body: dict[str, Any]) -> Table:
    """RestoreTableToPointInTime as AWS documents it (DynamoDB API reference,
    RestoreTableToPointInTime, https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_RestoreTableToPointInTime.html):
    "DynamoDB restores your table data to the state based on the selected date and time
    (day:hour:minute:second) to a new table. Along with data, the following are also included
    on the new restored table using point in time recovery: Global secondary indexes (GSIs),
    Local secondary indexes (LSIs), Provisioned read and write capacity, Encryption settings
    [...] You must manually set up the following on the restored table: Auto scaling policies,
    IAM policies, Amazon CloudWatch metrics and alarms, Tags, Stream settings, Time to Live (TTL)
    settings, Point in time recovery settings". The new table is a single-Region table: no
    replicas, no PITR, TTL off, no tags, no stream. Billing mode, throughput, indexes and
    encryption come from the source, or from the *Override parameters.
    """
    source = _source_of(backend, body)
    target_name = body.get("TargetTableName")
    if not target_name:
        raise MockValidationException("TargetTableName is required")
    if target_name in backend.tables:
        raise TableAlreadyExistsException(target_name)
    if getattr(source, "_db_pitr", None) is None:
        raise PointInTimeRecoveryUnavailable(source.name)
    earliest, latest = _pitr_window(source, time.time())
    if body.get("UseLatestRestorableTime"):
        when = latest
    elif body.get("RestoreDateTime") is not None:
        when = _epoch(body["RestoreDateTime"])
        # 1 ms of slack: timestamps travel as milliseconds.
        if when < earliest - 0.001 or when > latest + 0.001:
            raise InvalidRestoreTimeException()
        when = min(max(when, earliest), latest)
    else:
        raise MockValidationException(
            "One of RestoreDateTime and UseLatestRestorableTime must be given")
    state = source._db_pitr.state_at(when)

    billing = body.get("BillingModeOverride") or source.billing_mode
    throughput = body.get("ProvisionedThroughputOverride") or {
        k: v for k, v in source.throughput.items() if k != "NumberOfDecreasesToday"}
    sse = body.get("SSESpecificationOverride")
    table = Table(
        target_name,
        account_id=backend.account_id,
        region=backend.region_name,
        schema=copymod.deepcopy(source.schema),
        attr=copymod.deepcopy(source.attr),
        throughput=copymod.deepcopy(throughput),
        billing_mode=billing,
        sse_specification=copymod.deepcopy(sse if sse is not None else source.sse_specification),
    )
    if body.get("GlobalSecondaryIndexOverride") is not None:
        table.global_indexes = [GlobalSecondaryIndex.create(i, table.table_key_attrs)
                                for i in body["GlobalSecondaryIndexOverride"]]
    else:
        table.global_indexes = copymod.deepcopy(source.global_indexes)
    if body.get("LocalSecondaryIndexOverride") is not None:
        table.indexes = [LocalSecondaryIndex.create(i, table.table_key_attrs)
                         for i in body["LocalSecondaryIndexOverride"]]
    else:
        table.indexes = copymod.deepcopy(source.indexes)
    for key, snapshot in state.items():
        _set_item(table, key, copymod.deepcopy(snapshot))
    table._db_restore = {"SourceTableArn": source.table_arn, "RestoreDateTime": when}
    delay = seconds("dynamodb_restore_creating_seconds", [target_name], 30.0)
    if delay > 0:
        table._db_creating_until = time.time() + delay
    backend.tables[target_name] = table
    return table


def _handler_restore_pitr(self: Any) -> Any:
    table = restore_to_point_in_time(self.dynamodb_backend, self.body)
    return DynamoResult(table.describe())


DynamoHandler.restore_table_to_point_in_time = _handler_restore_pitr  # type: ignore[method-assign]


# =============================================================================== global tables
#
# Version 2019.11.21: "When an application writes data to a replica table in one Region,
# DynamoDB propagates the write to the other replica tables in the other AWS Regions
# automatically" ... "a newly written item is usually propagated to all replica tables within a
# second" ... "DynamoDB global tables use a last writer wins reconciliation between concurrent
# updates" ... "If a Region becomes isolated or degraded, DynamoDB keeps track of any writes that
# have been performed but have not yet been propagated to all of the replica tables. When the
# Region comes back online, DynamoDB resumes propagating any pending writes from that Region to
# the replica tables in other Regions. It also resumes propagating writes from other replica
# tables to the Region that is now back online." (DynamoDB developer guide, "How DynamoDB global
# tables work", https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/V2globaltables_HowItWorks.html)

GLOBAL_TABLE_VERSION = "2019.11.21"


class _Group:
    """The replicas of one global table: Region -> when the replica became (becomes) ACTIVE."""

    def __init__(self, account: str, name: str):
        self.account = account
        self.name = name
        self.members: dict[str, float] = {}
        # Region -> key -> (write time, Region written in) of the item version it holds.
        self.stamps: dict[str, dict[Key, tuple[float, str]]] = defaultdict(dict)


# (account, Region, table name) -> its global table. Names are unique per Region only: two
# global tables of one name over disjoint Regions are two groups.
_MEMBERS: dict[tuple[str, str, str], _Group] = {}


def _membership(account: str, region: str, name: str) -> Optional[_Group]:
    return _MEMBERS.get((account, region, name))


class _Replication:
    __slots__ = ("group", "account", "name", "origin", "target", "key", "snapshot",
                 "written_at")

    def __init__(self, group: _Group, origin: str, target: str, key: Key, snapshot: Any,
                 written_at: float):
        self.group, self.account, self.name = group, group.account, group.name
        self.origin, self.target = origin, target
        self.key, self.snapshot, self.written_at = key, snapshot, written_at


_QUEUE: list[tuple[float, int, _Replication]] = []  # heap by due time
_HELD: list[_Replication] = []  # due, but a Region of the link has a fault
_SEQ = itertools.count()


def _group_of(table: Table) -> Optional[_Group]:
    group = _membership(table.account_id, table.region_name, table.name)
    if group is None or len(group.members) < 2:
        return None
    return group


def _delay(name: str) -> float:
    return seconds("global_table_replication_seconds", [name], 1.0)


def _replicate_out(table: Table, t: float, key: Key, snapshot: Any) -> None:
    group = _group_of(table)
    if group is None:
        return
    origin = table.region_name
    group.stamps[origin][key] = (t, origin)
    due = t + _delay(table.name)
    for target in group.members:
        if target != origin:
            heapq.heappush(_QUEUE, (due, next(_SEQ), _Replication(
                group, origin, target, key, snapshot, t)))


def _impaired(region: str) -> bool:
    # A fault for DynamoDB or for every service of the Region (faults.py).
    return faults.impaired_now(region, {"dynamodb"})


def _link_down(r: _Replication) -> bool:
    # Also held: replication into a replica whose Region has a `pause_replication` fault for it
    # (FIS `aws:dynamodb:global-table-pause-replication`, fis.py).
    return _impaired(r.origin) or _impaired(r.target) \
        or faults.replication_paused(r.target, r.name)


def _apply(r: _Replication, when: float) -> None:
    group = r.group
    if _membership(r.account, r.target, r.name) is not group:
        return
    table = dynamodb_backends[r.account][r.target].tables.get(r.name)
    if table is None:
        return
    stamps = group.stamps[r.target]
    current = stamps.get(r.key)
    if current is not None and current >= (r.written_at, r.origin):
        return  # last writer wins: the replica holds a later write already
    stamps[r.key] = (r.written_at, r.origin)
    new = copymod.deepcopy(r.snapshot) if r.snapshot is not None else None
    old = _set_item(table, r.key, new)
    if table.stream_shard is not None and (old is not None or new is not None):
        table.stream_shard.add(old, new)
    # A replicated write is a write to this replica: its PITR history has it too.
    pitr = getattr(table, "_db_pitr", None)
    if pitr is not None:
        pitr.append(when, r.key, r.snapshot, _period_days(table))


def pump(now: Optional[float] = None) -> None:
    """Applies the replication that is due. Call under LOCK."""
    now = time.time() if now is None else now
    if _HELD:
        # The link is back: the held writes flow after one replication delay.
        still = []
        for r in _HELD:
            if _link_down(r):
                still.append(r)
            else:
                heapq.heappush(_QUEUE, (now + _delay(r.name), next(_SEQ), r))
        _HELD[:] = still
    while _QUEUE and _QUEUE[0][0] <= now:
        due, _, r = heapq.heappop(_QUEUE)
        if _link_down(r):
            _HELD.append(r)
        else:
            _apply(r, due)


def _drop_in_flight(group: _Group, region: str) -> None:
    def keep(r: _Replication) -> bool:
        return not (r.group is group and r.target == region)

    _QUEUE[:] = [e for e in _QUEUE if keep(e[2])]
    heapq.heapify(_QUEUE)
    _HELD[:] = [r for r in _HELD if keep(r)]


def _leave(group: _Group, region: str) -> None:
    group.members.pop(region, None)
    group.stamps.pop(region, None)
    _MEMBERS.pop((group.account, region, group.name), None)
    _drop_in_flight(group, region)
    if len(group.members) < 2:
        # The last replica is a single-Region table again.
        for r in list(group.members):
            _MEMBERS.pop((group.account, r, group.name), None)
        group.members.clear()


def _validation(message: str) -> MockValidationException:
    return MockValidationException(message)


def _replica_sse(table: Table, region: str, kms_key: Optional[str]) -> Any:
    """The replica's encryption: the source's, or, with `KMSMasterKeyId`, that key of the
    replica's Region ("The KMS key that should be used for KMS encryption in the new replica. To
    specify a key, use its key ID, Amazon Resource Name (ARN), alias name, or alias ARN.",
    DynamoDB API reference, CreateReplicationGroupMemberAction,
    https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_CreateReplicationGroupMemberAction.html).
    DescribeTable then reports the key's ARN ("KMSMasterKeyArn: The AWS KMS key ARN used for the
    AWS KMS encryption", API reference, SSEDescription)."""
    if not kms_key:
        return copymod.deepcopy(table.sse_specification)
    from moto.kms.models import kms_backends
    try:
        key = kms_backends[table.account_id][region].describe_key(kms_key)
    except (KeyError, TypeError, AttributeError):  # unknown ID, ARN or alias
        raise _validation(f"KMS key {kms_key} does not exist in Region {region}")
    return {"Enabled": True, "SSEType": "KMS", "KMSMasterKeyId": key.arn}


def _create_replica(table: Table, region: str, kms_key: Optional[str] = None) -> None:
    """UpdateTable ReplicaUpdates [{Create: {RegionName}}]: "A new replica to be added to an
    existing regional table or global table. This request invokes the CreateTableReplica action
    in the destination Region." (DynamoDB API reference, ReplicationGroupUpdate,
    https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_ReplicationGroupUpdate.html).
    Version 2019.11.21 adds replicas to tables that already hold data ("Upgrading global
    tables": "Version 2019.11.21 (Current) allows you to add and delete replicas to regional
    tables that contain data"): the replica gets a copy of the current items.

    The replica is CREATING for `global_table_replication_seconds` (default 1), then ACTIVE. AWS
    gives no figure (minutes for real tables); the copy of the existing items is modelled as one
    replication delay, so a runbook that does not wait for ACTIVE is caught whenever the
    replication delay is not 0, and a test that studies it needs only one knob.
    """
    account, source_region = table.account_id, table.region_name
    if region == source_region:
        raise _validation(f"Cannot add a replica of table {table.name} in its own Region "
                          f"{region}")
    backends = dynamodb_backends[account]
    if region not in backends.regions:
        raise _validation(f"Invalid Region name: {region}")
    group = _membership(account, source_region, table.name)
    if group is not None and region in group.members:
        raise _validation(f"Replica already exists in Region {region} for table {table.name}")
    target_backend = backends[region]
    if table.name in target_backend.tables:
        # AWS's answer when the Region already has a table of that name.
        raise _validation(f"Failed to create a the new replica of table with name: "
                          f"'{table.name}' because one or more replicas already existed as "
                          f"tables.")
    throughput = {k: v for k, v in table.throughput.items() if k != "NumberOfDecreasesToday"}
    replica = Table(
        table.name,
        account_id=account,
        region=region,
        schema=copymod.deepcopy(table.schema),
        attr=copymod.deepcopy(table.attr),
        throughput=copymod.deepcopy(throughput),
        billing_mode=table.billing_mode,
        streams=copymod.deepcopy(table.stream_specification)
        if table.stream_specification and table.stream_specification.get("StreamEnabled")
        else None,
        sse_specification=_replica_sse(table, region, kms_key),
        deletion_protection_enabled=False,
    )
    replica.global_indexes = copymod.deepcopy(table.global_indexes)
    replica.indexes = copymod.deepcopy(table.indexes)
    for key, item in _iter_items(table):
        _set_item(replica, key, copymod.deepcopy(item))
    now = time.time()
    delay = _delay(table.name)
    if group is None:
        group = _Group(account, table.name)
        group.members[source_region] = now
        _MEMBERS[(account, source_region, table.name)] = group
    group.members[region] = now + delay
    _MEMBERS[(account, region, table.name)] = group
    group.stamps[region] = dict(group.stamps.get(source_region, {}))
    if delay > 0:
        replica._db_creating_until = now + delay
    target_backend.tables[table.name] = replica


def _delete_replica(table: Table, region: str) -> None:
    """UpdateTable ReplicaUpdates [{Delete: {RegionName}}]: "An existing replica to be deleted.
    The request invokes the DeleteTableReplica action in the destination Region, deleting the
    replica and all if its items in the destination Region." (same page)"""
    group = _membership(table.account_id, table.region_name, table.name)
    if group is None or region not in group.members or region == table.region_name:
        raise _validation(f"Replica in Region {region} does not exist for table {table.name}")
    # DeleteTable in that Region: the replica and its items go, and it leaves the group.
    dynamodb_backends[table.account_id][region].delete_table(table.name)


_orig_handler_update_table = DynamoHandler.update_table


def _handler_update_table(self: Any) -> Any:
    updates = self.body.get("ReplicaUpdates") or []
    if updates:
        table = self.dynamodb_backend.get_table(self.body["TableName"])
        for update in updates:
            if "Create" in update:
                _create_replica(table, update["Create"]["RegionName"],
                                update["Create"].get("KMSMasterKeyId"))
            elif "Delete" in update:
                _delete_replica(table, update["Delete"]["RegionName"])
            # "Update" (replica settings) has nothing to change here.
    return _orig_handler_update_table(self)


DynamoHandler.update_table = _handler_update_table  # type: ignore[method-assign]

_orig_delete_table = DynamoDBBackend.delete_table


def _delete_table(self: Any, name: str) -> Any:
    """DeleteTable of a replica: "You can delete a global table's replica table the same way
    you would delete a regular table. This will stop replication to that Region and delete the
    table copy kept in that Region" (developer guide, "How DynamoDB global tables work",
    "Common tasks"). The other replicas go on; the last one is a single-Region table."""
    table = _orig_delete_table(self, name)
    group = _membership(self.account_id, self.region_name, table.name)
    if group is not None:
        _leave(group, self.region_name)
    return table


DynamoDBBackend.delete_table = _delete_table  # type: ignore[method-assign]


# =============================================================================== DescribeTable

_orig_table_describe = Table.describe


def _table_describe(self: Any, base_key: str = "TableDescription") -> dict[str, Any]:
    result = _orig_table_describe(self, base_key)
    desc = result[base_key]
    now = time.time()
    until = getattr(self, "_db_creating_until", 0.0)
    creating = bool(until) and now < until
    if creating:
        desc["TableStatus"] = "CREATING"
    restore = getattr(self, "_db_restore", None)
    if restore is not None:
        # RestoreSummary: "Point in time or source backup time" (API reference, RestoreSummary)
        desc["RestoreSummary"] = {
            "SourceTableArn": restore["SourceTableArn"],
            "RestoreDateTime": restore["RestoreDateTime"],
            "RestoreInProgress": creating,
        }
    group = _group_of(self)
    if group is not None:
        # "If the output contains the GlobalTableVersion attribute with a value of
        # "2019.11.21", the table is a version 2019.11.21 (Current) global table replica";
        # Replicas lists the other Regions' replicas (developer guide, "DynamoDB global tables
        # versions", https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/V2globaltables_versions.html).
        desc["GlobalTableVersion"] = GLOBAL_TABLE_VERSION
        desc["Replicas"] = [
            {"RegionName": region, "ReplicaStatus": "CREATING" if now < active_at else "ACTIVE"}
            for region, active_at in sorted(group.members.items()) if region != self.region_name
        ]
    return result


Table.describe = _table_describe  # type: ignore[method-assign]


# =============================================================================== transactions
#
# TransactWriteItems: moto deep-copies every table a transaction touches, once per item, to
# roll back on failure: a transaction costs O(items x table size), so appending to a long
# journal took seconds. The rollback copy here is made once per table and transaction (moto
# makes all its copies before the first write, so they are equal), copies only the partitions
# the transaction names, and deep-copies only the items it names (UpdateItem changes an item in
# place); the result is the same.

_orig_transact_write_items = DynamoDBBackend.transact_write_items


class _RollbackCopy:
    """Stands in for the `copy` module inside moto.dynamodb.models during one transaction."""

    def __init__(self, touched: dict[str, list[dict[str, Any]]]):
        self.touched = touched
        self.copies: dict[str, Any] = {}

    def deepcopy(self, obj: Any, memo: Any = None) -> Any:
        if not isinstance(obj, Table):
            return copymod.deepcopy(obj, memo)
        if obj.name in self.copies:
            return self.copies[obj.name]
        new = copymod.copy(obj)
        # Partitions the transaction does not name are shared: it does not change them.
        new.items = defaultdict(dict, obj.items)
        for key in self.touched.get(obj.name, []):
            h = DynamoType(key[obj.hash_key_attr])
            if obj.range_key_attr is None:
                if h in new.items:
                    new.items[h] = copymod.deepcopy(new.items[h])
                continue
            if h in obj.items and new.items[h] is obj.items[h]:
                new.items[h] = dict(obj.items[h])
            r = DynamoType(key[obj.range_key_attr])
            if h in new.items and r in new.items[h]:
                new.items[h][r] = copymod.deepcopy(new.items[h][r])
        self.copies[obj.name] = new
        return new

    def __getattr__(self, name: str) -> Any:
        return getattr(copymod, name)


def _transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
    touched: dict[str, list[dict[str, Any]]] = {}
    for item in transact_items:
        try:
            _, op = next(iter(item.items()))
            table = self.tables.get(op.get("TableName"))
            if table is None:
                continue
            key = op.get("Key") or {
                k: op["Item"][k]
                for k in (table.hash_key_attr, table.range_key_attr)
                if k is not None and k in op.get("Item", {})
            }
            touched.setdefault(table.name, []).append(key)
        except Exception:  # noqa: BLE001  (malformed input: moto reports it below)
            continue
    # Writes of a transaction that is rolled back are not history (PITR, replication).
    mark = len(_PENDING) if _PENDING is not None else None
    # Safe to swap the module global: every DynamoDB request runs under LOCK.
    _ddb_models.copy = _RollbackCopy(touched)  # type: ignore[assignment]
    try:
        return _orig_transact_write_items(self, transact_items)
    except Exception:
        if mark is not None and _PENDING is not None:
            del _PENDING[mark:]
        raise
    finally:
        _ddb_models.copy = copymod  # type: ignore[assignment]


DynamoDBBackend.transact_write_items = _transact_write_items  # type: ignore[method-assign]


# =============================================================================== serving

# DynamoDB serves each request atomically: a conditional put either sees the item another
# request wrote or wins. moto's threaded server checks the condition and writes the item in two
# separate steps, so two concurrent conditional puts of one key could both succeed. Every
# DynamoDB request is therefore handled whole under one lock (they take microseconds here).
# Replication that is due is applied first, so every request sees it.


def _serialized(inner: Any, environ: dict[str, Any], start_response: Any,
                region: str | None) -> list[bytes]:
    global _PENDING
    with LOCK:
        pump()
        _PENDING = []
        try:
            chunks = inner(environ, start_response)
            try:
                return [b"".join(chunks)]
            finally:
                if hasattr(chunks, "close"):
                    chunks.close()
        finally:
            pending, _PENDING = _PENDING, None
            _commit(pending)


control.around("dynamodb", _serialized)


def _pump_forever(interval: float = 0.1) -> None:
    # Replication also flows with no DynamoDB request arriving, and held writes notice a
    # cleared fault within `interval`.
    while True:
        time.sleep(interval)
        try:
            with LOCK:
                pump()
        except Exception:  # noqa: BLE001  (never let the pump die; the next request retries)
            pass


threading.Thread(target=_pump_forever, name="drillbook-dynamodb-replication",
                 daemon=True).start()


def _status(method: str, body: Any, query: dict[str, list[str]]) -> Any:
    """GET /_drillbook/dynamodb: global tables and the replication in flight (for debugging)."""
    with LOCK:
        now = time.time()
        return {
            "global_tables": [
                {"account": g.account, "name": g.name,
                 "replicas": {r: ("CREATING" if now < t else "ACTIVE")
                              for r, t in sorted(g.members.items())}}
                for g in {id(g): g for g in _MEMBERS.values()}.values()
            ],
            "in_flight": len(_QUEUE),
            "held": [{"name": r.name, "from": r.origin, "to": r.target} for r in _HELD],
        }


control.route("/_drillbook/dynamodb", _status)

__all__ = ["LOCK", "pump", "restore_to_point_in_time"]
