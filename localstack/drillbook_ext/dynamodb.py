"""DynamoDB: restored tables CREATING for a while, cheap TransactWriteItems rollback copies,
one request at a time."""

from __future__ import annotations

import threading
import time
from typing import Any

from . import control
from .config import seconds

from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.table import Table

_orig_restore_pitr = DynamoDBBackend.restore_table_to_point_in_time


def _restore_pitr(self: Any, target_table_name: str, source_table_name: str) -> Any:
    table = _orig_restore_pitr(self, target_table_name, source_table_name)
    delay = seconds("dynamodb_restore_creating_seconds", [target_table_name])
    if delay > 0:
        table._db_creating_until = time.time() + delay
    return table


DynamoDBBackend.restore_table_to_point_in_time = _restore_pitr  # type: ignore[method-assign]

_orig_table_describe = Table.describe


def _table_describe(self: Any, base_key: str = "TableDescription") -> dict[str, Any]:
    result = _orig_table_describe(self, base_key)
    until = getattr(self, "_db_creating_until", 0.0)
    if until and time.time() < until:
        result[base_key]["TableStatus"] = "CREATING"
    return result


Table.describe = _table_describe  # type: ignore[method-assign]

# TransactWriteItems: moto deep-copies every table a transaction touches, once per item, to
# roll back on failure: a transaction costs O(table size), so appending to a long journal
# took seconds. The rollback copy here copies the table's item maps and deep-copies only the
# items the transaction names (UpdateItem changes an item in place); the result is the same.
import copy as copymod

import moto.dynamodb.models as _ddb_models
from collections import defaultdict
from moto.dynamodb.models.dynamo_type import DynamoType

_orig_transact_write_items = DynamoDBBackend.transact_write_items


class _RollbackCopy:
    """Stands in for the `copy` module inside moto.dynamodb.models during one transaction."""

    def __init__(self, touched: dict[str, list[dict[str, Any]]]):
        self.touched = touched

    def deepcopy(self, obj: Any, memo: Any = None) -> Any:
        if not isinstance(obj, Table):
            return copymod.deepcopy(obj, memo)
        new = copymod.copy(obj)
        if obj.range_key_attr is not None:
            new.items = defaultdict(dict, {h: dict(r) for h, r in obj.items.items()})
        else:
            new.items = defaultdict(dict, obj.items)
        for key in self.touched.get(obj.name, []):
            h = DynamoType(key[obj.hash_key_attr])
            if obj.range_key_attr is None:
                if h in new.items:
                    new.items[h] = copymod.deepcopy(new.items[h])
                continue
            r = DynamoType(key[obj.range_key_attr])
            if h in new.items and r in new.items[h]:
                new.items[h][r] = copymod.deepcopy(new.items[h][r])
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
    # Safe to swap the module global: every DynamoDB request runs under LOCK.
    _ddb_models.copy = _RollbackCopy(touched)  # type: ignore[assignment]
    try:
        return _orig_transact_write_items(self, transact_items)
    finally:
        _ddb_models.copy = copymod  # type: ignore[assignment]


DynamoDBBackend.transact_write_items = _transact_write_items  # type: ignore[method-assign]


# DynamoDB serves each request atomically: a conditional put either sees the item another
# request wrote or wins. moto's threaded server checks the condition and writes the item in two
# separate steps, so two concurrent conditional puts of one key could both succeed. Every
# DynamoDB request is therefore handled whole under one lock (they take microseconds here).
LOCK = threading.RLock()


def _serialized(inner: Any, environ: dict[str, Any], start_response: Any,
                region: str | None) -> list[bytes]:
    with LOCK:
        chunks = inner(environ, start_response)
        try:
            return [b"".join(chunks)]
        finally:
            if hasattr(chunks, "close"):
                chunks.close()


control.around("dynamodb", _serialized)
