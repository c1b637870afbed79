"""drillbook's moto server: moto plus the extensions the DR drills need.

Run: python drillbook_moto.py --host 127.0.0.1 --port PORT [--parent-pid PID]

Extensions (see README.md for the full list):
  * KMS UpdatePrimaryRegion, correct multi-Region key copies (ReplicateKey, DescribeKey,
    aliases per Region), KeyState `Updating` for a configurable time.
  * Transitional states, off by default: DynamoDB RestoreTableToPointInTime -> CREATING,
    Route 53 ChangeResourceRecordSets -> PENDING (GetChange), KMS UpdatePrimaryRegion -> Updating.
  * Route 53 health-check status control (GetHealthCheckStatus honours Inverted) and
    TestDNSAnswer that evaluates failover routing against health-check status.
  * Control endpoint under /_drillbook/ (config, health, ping).
  * moto's request recorder is on from the start (MOTO_ENABLE_RECORDING).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
import uuid
from copy import copy
from typing import Any

os.environ.setdefault("MOTO_ENABLE_RECORDING", "true")

from moto.moto_server.werkzeug_app import (  # noqa: E402
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import run_simple  # noqa: E402

# --------------------------------------------------------------------------------------
# Configuration: global defaults from env, overridable per resource-name prefix at run time
# --------------------------------------------------------------------------------------

SETTINGS = {
    "dynamodb_restore_creating_seconds": "DRILLBOOK_DYNAMODB_RESTORE_CREATING_SECONDS",
    "route53_change_pending_seconds": "DRILLBOOK_ROUTE53_CHANGE_PENDING_SECONDS",
    "kms_updating_seconds": "DRILLBOOK_KMS_UPDATING_SECONDS",
}

_LOCK = threading.RLock()
_GLOBAL: dict[str, float] = {
    name: float(os.environ.get(env, "0") or 0) for name, env in SETTINGS.items()
}
_PREFIXED: dict[str, dict[str, float]] = {}


def setting(name: str, resource_names: list[str]) -> float:
    """Value of `name` for a resource known by `resource_names` (longest prefix wins)."""
    with _LOCK:
        best_len, value = -1, _GLOBAL.get(name, 0.0)
        for prefix, values in _PREFIXED.items():
            if name not in values:
                continue
            if any(n and n.startswith(prefix) for n in resource_names) and len(prefix) > best_len:
                best_len, value = len(prefix), values[name]
        return value


def config_snapshot() -> dict[str, Any]:
    with _LOCK:
        return {"global": dict(_GLOBAL), "prefixes": {k: dict(v) for k, v in _PREFIXED.items()}}


def apply_config(doc: dict[str, Any]) -> None:
    unknown = [k for k in doc if k not in SETTINGS and k != "prefix"]
    if unknown:
        raise ValueError(f"unknown settings {unknown}; known: {sorted(SETTINGS)} and 'prefix'")
    values = {}
    for k, v in doc.items():
        if k == "prefix":
            continue
        if v is None:
            values[k] = None
            continue
        if not isinstance(v, (int, float)) or v < 0:
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
            for k, v in values.items():
                _GLOBAL[k] = 0.0 if v is None else v


def clear_config(prefix: str | None) -> None:
    with _LOCK:
        if prefix:
            _PREFIXED.pop(prefix, None)
        else:
            _PREFIXED.clear()
            for k in _GLOBAL:
                _GLOBAL[k] = 0.0


# --------------------------------------------------------------------------------------
# KMS
# --------------------------------------------------------------------------------------

from moto.core.exceptions import JsonRESTError  # noqa: E402
from moto.kms import models as kms_models  # noqa: E402
from moto.kms import responses as kms_responses  # noqa: E402
from moto.kms.exceptions import AlreadyExistsException, NotFoundException  # noqa: E402


class UnsupportedOperationException(JsonRESTError):
    code = 400

    def __init__(self, message: str):
        super().__init__("UnsupportedOperationException", message)


class KMSInvalidStateException(JsonRESTError):
    code = 400

    def __init__(self, message: str):
        super().__init__("KMSInvalidStateException", message)


class DisabledException(JsonRESTError):
    code = 400

    def __init__(self, message: str):
        super().__init__("DisabledException", message)


# moto packs the key id into a fixed 36-byte field of its ciphertext format, which truncates
# 40-character multi-Region key ids (mrk-...), so Decrypt of anything encrypted under a
# multi-Region key failed with AccessDeniedException. Use a longer, marked header for those.
import struct  # noqa: E402

from moto.kms import utils as kms_utils  # noqa: E402

_MRK_MAGIC = b"\x00MRK"
_MRK_HEADER = f">4s40s{kms_utils.IV_LEN}s{kms_utils.TAG_LEN}s"
_MRK_HEADER_LEN = struct.calcsize(_MRK_HEADER)
_orig_serialize_blob = kms_utils._serialize_ciphertext_blob
_orig_deserialize_blob = kms_utils._deserialize_ciphertext_blob


def _serialize_blob(ciphertext: Any) -> bytes:
    if len(ciphertext.key_id) <= kms_utils.KEY_ID_LEN:
        return _orig_serialize_blob(ciphertext=ciphertext)
    header = struct.pack(_MRK_HEADER, _MRK_MAGIC, ciphertext.key_id.encode(),
                         ciphertext.iv, ciphertext.tag)
    return header + ciphertext.ciphertext


def _deserialize_blob(ciphertext_blob: bytes) -> Any:
    blob = ciphertext_blob
    if not blob.startswith(_MRK_MAGIC):
        return _orig_deserialize_blob(ciphertext_blob=blob)
    _, key_id, iv, tag = struct.unpack(_MRK_HEADER, blob[:_MRK_HEADER_LEN])
    return kms_utils.Ciphertext(key_id=key_id.decode().rstrip("\x00"), iv=iv,
                                ciphertext=blob[_MRK_HEADER_LEN:], tag=tag)


kms_utils._serialize_ciphertext_blob = _serialize_blob
kms_utils._deserialize_ciphertext_blob = _deserialize_blob

Key = kms_models.Key
KmsBackend = kms_models.KmsBackend

# (account_id, key_id) -> {"primary": region, "replicas": [region, ...]}
_MRK: dict[tuple[str, str], dict[str, Any]] = {}


def _key_arn(key: Any, region: str) -> str:
    partition = key.arn.split(":")[1]
    return f"arn:{partition}:kms:{region}:{key.account_id}:key/{key.id}"


def _get_key_state(self: Any) -> str:
    until = self.__dict__.get("_db_updating_until", 0.0)
    if until and time.time() < until:
        return "Updating"
    return self.__dict__.get("_db_key_state", "Enabled")


def _set_key_state(self: Any, value: str) -> None:
    self.__dict__["_db_key_state"] = value


Key.key_state = property(_get_key_state, _set_key_state)  # type: ignore[assignment]

_orig_key_init = Key.__init__


def _key_init(self: Any, *args: Any, **kwargs: Any) -> None:
    _orig_key_init(self, *args, **kwargs)
    if self.multi_region:
        _MRK[(self.account_id, self.id)] = {"primary": self.region, "replicas": []}


Key.__init__ = _key_init  # type: ignore[method-assign]


def _mrc_for(key: Any) -> dict[str, Any] | None:
    info = _MRK.get((key.account_id, key.id))
    if info is None:
        return None
    primary = info["primary"]
    return {
        "MultiRegionKeyType": "PRIMARY" if key.region == primary else "REPLICA",
        "PrimaryKey": {"Arn": _key_arn(key, primary), "Region": primary},
        "ReplicaKeys": [{"Arn": _key_arn(key, r), "Region": r} for r in info["replicas"]],
    }


# Computed on every read, so every copy of a key always agrees.
Key.multi_region_configuration = property(  # type: ignore[assignment]
    lambda self: _mrc_for(self), lambda self, value: None
)


def _describe_key(self: Any, key_id: str) -> Any:
    return self.keys[self.any_id_to_key_id(key_id)]


KmsBackend.describe_key = _describe_key  # type: ignore[method-assign]


def _replicate_key(self: Any, key_id: str, replica_region: str) -> Any:
    kid = self.any_id_to_key_id(key_id)
    key = self.keys[kid]
    if not key.multi_region:
        raise UnsupportedOperationException(f"{key.arn} is not a multi-Region key.")
    info = _MRK[(key.account_id, key.id)]
    if info["primary"] != self.region_name:
        raise UnsupportedOperationException(
            f"{key.arn} is not a multi-Region primary key. Only primary keys can be replicated."
        )
    if replica_region == info["primary"] or replica_region in info["replicas"]:
        raise AlreadyExistsException(
            f"Multi-Region key {key.id} already exists in Region {replica_region}."
        )
    replica = copy(key)
    replica.region = replica_region
    replica.arn = _key_arn(key, replica_region)
    replica.grants = {}
    replica.aliases = {}
    replica.rotations = list(key.rotations)
    replica.__dict__["_db_updating_until"] = 0.0
    to_backend = kms_models.kms_backends[self.account_id][replica_region]
    to_backend.keys[replica.id] = replica
    info["replicas"].append(replica_region)
    return replica


KmsBackend.replicate_key = _replicate_key  # type: ignore[method-assign]


def _key_scope_names(key: Any, region: str) -> list[str]:
    names = [key.description or ""]
    for r in {region, *(_MRK.get((key.account_id, key.id)) or {}).get("replicas", []),
              (_MRK.get((key.account_id, key.id)) or {}).get("primary", region)}:
        be = kms_models.kms_backends[key.account_id][r]
        try:
            for alias in be.list_aliases(key.id):
                n = getattr(alias, "alias_name", None) or getattr(alias, "name", "")
                names.append(n[len("alias/"):] if n.startswith("alias/") else n)
        except Exception:  # pragma: no cover - defensive
            pass
    return names


def update_primary_region(self: Any) -> str:
    key_id = self._get_param("KeyId")
    target = self._get_param("PrimaryRegion")
    self._validate_key_id(key_id)
    backend = self.kms_backend
    kid = backend.any_id_to_key_id(key_id)
    key = backend.keys[kid]
    if not key.multi_region:
        raise UnsupportedOperationException(f"{key.arn} is not a multi-Region key.")
    info = _MRK[(key.account_id, key.id)]
    if info["primary"] != backend.region_name:
        raise UnsupportedOperationException(
            f"{key.arn} is not a multi-Region primary key. "
            f"UpdatePrimaryRegion must be called in the primary Region ({info['primary']})."
        )
    if not target or target == backend.region_name:
        raise UnsupportedOperationException(
            f"{key.arn} is already the primary key in Region {backend.region_name}."
        )
    if target not in info["replicas"]:
        raise NotFoundException(
            f"Replica key of {key.arn} does not exist in Region {target}."
        )
    target_key = kms_models.kms_backends[key.account_id][target].keys.get(key.id)
    if target_key is None:
        raise NotFoundException(f"Replica key of {key.arn} does not exist in Region {target}.")
    for k in (key, target_key):
        state = k.key_state
        if state == "Disabled":
            raise DisabledException(f"{k.arn} is disabled.")
        if state != "Enabled":
            raise KMSInvalidStateException(f"{k.arn} is {state}")
    old = info["primary"]
    info["primary"] = target
    info["replicas"] = [r for r in info["replicas"] if r != target] + [old]
    seconds = setting("kms_updating_seconds", _key_scope_names(key, backend.region_name))
    if seconds > 0:
        until = time.time() + seconds
        key.__dict__["_db_updating_until"] = until
        target_key.__dict__["_db_updating_until"] = until
    return "{}"


kms_responses.KmsResponse.update_primary_region = update_primary_region  # type: ignore[attr-defined]

# --------------------------------------------------------------------------------------
# DynamoDB: restored tables are CREATING for a while
# --------------------------------------------------------------------------------------

from moto.dynamodb.models import DynamoDBBackend  # noqa: E402
from moto.dynamodb.models.table import Table  # noqa: E402

_orig_restore_pitr = DynamoDBBackend.restore_table_to_point_in_time


def _restore_pitr(self: Any, target_table_name: str, source_table_name: str) -> Any:
    table = _orig_restore_pitr(self, target_table_name, source_table_name)
    seconds = setting("dynamodb_restore_creating_seconds", [target_table_name])
    if seconds > 0:
        table._db_creating_until = time.time() + seconds
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
import copy as copymod  # noqa: E402

import moto.dynamodb.models as _ddb_models  # noqa: E402
from collections import defaultdict  # noqa: E402
from moto.dynamodb.models.dynamo_type import DynamoType  # noqa: E402

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
    # Safe to swap the module global: every DynamoDB request runs under _DYNAMODB_LOCK.
    _ddb_models.copy = _RollbackCopy(touched)  # type: ignore[assignment]
    try:
        return _orig_transact_write_items(self, transact_items)
    finally:
        _ddb_models.copy = copymod  # type: ignore[assignment]


DynamoDBBackend.transact_write_items = _transact_write_items  # type: ignore[method-assign]

# --------------------------------------------------------------------------------------
# Route 53: unique change ids, PENDING -> INSYNC, health-check status, TestDNSAnswer
# --------------------------------------------------------------------------------------

from moto.core.responses import ActionResult  # noqa: E402
from moto.route53 import responses as r53_responses  # noqa: E402
from moto.route53.models import route53_backends  # noqa: E402

# change id -> (submitted_at, insync_at)
_CHANGES: dict[str, tuple[Any, float]] = {}
# health check id -> healthy (before inversion); default healthy
_HEALTH: dict[str, bool] = {}

_orig_crrs = r53_responses.Route53.change_resource_record_sets


def _crrs(self: Any) -> Any:
    result = _orig_crrs(self)
    zone_id = self._get_param("HostedZoneId")
    try:
        zone_name = self.backend.get_hosted_zone(zone_id).name
    except Exception:
        zone_name = ""
    seconds = setting("route53_change_pending_seconds", [zone_name.rstrip(".")])
    change_id = "C" + uuid.uuid4().hex[:20].upper()
    info = result.result["ChangeInfo"]
    _CHANGES[change_id] = (info["SubmittedAt"], time.time() + seconds)
    info["Id"] = f"/change/{change_id}"
    info["Status"] = "PENDING" if seconds > 0 else "INSYNC"
    return result


r53_responses.Route53.change_resource_record_sets = _crrs  # type: ignore[method-assign]

_orig_get_change = r53_responses.Route53.get_change


def _get_change(self: Any) -> Any:
    result = _orig_get_change(self)
    info = result.result["ChangeInfo"]
    change_id = str(info["Id"]).split("/")[-1]
    if change_id in _CHANGES:
        submitted, insync_at = _CHANGES[change_id]
        info["Id"] = f"/change/{change_id}"
        info["SubmittedAt"] = submitted
        info["Status"] = "PENDING" if time.time() < insync_at else "INSYNC"
    return result


r53_responses.Route53.get_change = _get_change  # type: ignore[method-assign]


def _effective_healthy(backend: Any, hc_id: str) -> bool:
    hc = backend.get_health_check(hc_id)
    healthy = _HEALTH.get(hc_id, True)
    return (not healthy) if hc.inverted else healthy


def _get_health_check_status(self: Any) -> Any:
    hc_id = self._get_param("HealthCheckId")
    healthy = _effective_healthy(self.backend, hc_id)
    status = (
        "Success: HTTP Status Code 200, OK"
        if healthy
        else "Failure: HTTP Status Code 503, Service Unavailable"
    )
    from moto.core.utils import utcnow

    observations = [
        {
            "Region": region,
            "IPAddress": ip,
            "StatusReport": {"Status": status, "CheckedTime": utcnow()},
        }
        for region, ip in (("us-east-1", "127.0.13.37"), ("eu-west-1", "127.0.13.38"),
                           ("ap-southeast-1", "127.0.13.39"))
    ]
    return ActionResult({"HealthCheckObservations": observations})


r53_responses.Route53.get_health_check_status = _get_health_check_status  # type: ignore[method-assign]


def _rrset_attr(rr: Any, *names: str) -> Any:
    for n in names:
        if hasattr(rr, n):
            return getattr(rr, n)
    return None


def _test_dns_answer(self: Any) -> Any:
    zone_id = self._get_param("hostedzoneid") or self._get_param("HostedZoneId")
    name = (self._get_param("recordname") or self._get_param("RecordName") or "").rstrip(".")
    rtype = self._get_param("recordtype") or self._get_param("RecordType") or "A"
    backend = self.backend
    zone = backend.get_hosted_zone(zone_id)
    candidates = [
        rr for rr in zone.rrsets
        if rr.name.rstrip(".").lower() == name.lower() and rr.type == rtype
    ]
    if not candidates:
        candidates = [
            rr for rr in zone.rrsets
            if rr.name.rstrip(".").lower() == name.lower() and rr.type == "CNAME"
        ]
        if candidates:
            rtype = "CNAME"

    def healthy(rr: Any) -> bool:
        hc = _rrset_attr(rr, "health_check_id", "health_check")
        return True if not hc else _effective_healthy(backend, hc)

    chosen = None
    failover = [rr for rr in candidates if _rrset_attr(rr, "failover")]
    if failover:
        primary = [rr for rr in failover if rr.failover == "PRIMARY"]
        secondary = [rr for rr in failover if rr.failover == "SECONDARY"]
        if primary and healthy(primary[0]):
            chosen = primary[0]
        elif secondary:
            chosen = secondary[0]
        elif primary:
            chosen = primary[0]
    elif candidates:
        chosen = candidates[0]
    if chosen is None:
        code, data = "NXDOMAIN", []
    else:
        code = "NOERROR"
        alias = _rrset_attr(chosen, "alias_target")
        if alias:
            data = [alias["DNSName"] if isinstance(alias, dict) else str(alias)]
        else:
            data = [r["Value"] if isinstance(r, dict) else str(r) for r in (chosen.records or [])]
    return ActionResult({
        "Nameserver": "ns-2048.awsdns-64.com",
        "RecordName": name,
        "RecordType": rtype,
        "RecordData": data,
        "ResponseCode": code,
        "Protocol": "UDP",
    })


r53_responses.Route53.test_dns_answer = _test_dns_answer  # type: ignore[attr-defined]

from moto.route53 import urls as r53_urls  # noqa: E402

r53_urls.url_paths[r"{0}/(?P<api_version>[\d_-]+)/testdnsanswer$"] = r53_responses.Route53.dispatch

# --------------------------------------------------------------------------------------
# API Gateway: base path mappings of a domain without mappings, regional hosted zone ids
# --------------------------------------------------------------------------------------

from collections import defaultdict  # noqa: E402

from moto.apigateway import models as apigw_models  # noqa: E402

_orig_apigw_init = apigw_models.APIGatewayBackend.__init__


def _apigw_init(self: Any, *args: Any, **kwargs: Any) -> None:
    _orig_apigw_init(self, *args, **kwargs)
    # moto raised KeyError (HTTP 500) for GetBasePathMappings etc. on a domain that has none.
    self.base_path_mappings = defaultdict(dict, self.base_path_mappings)


apigw_models.APIGatewayBackend.__init__ = _apigw_init  # type: ignore[method-assign]

# Real regional hosted zone ids of API Gateway (moto used the CloudFront one everywhere).
_APIGW_ZONE_IDS = {
    "ca-central-1": "Z19DQILCV0OWEC", "eu-west-1": "ZLY8HYME6SFDD", "us-east-1": "Z1UJRXOUMOOFQ8",
    "us-west-2": "Z2OJLYMUO9EFXC", "eu-central-1": "Z1U9ULNL0V5AJ3",
}
_orig_dn_init = apigw_models.DomainName.__init__


def _dn_init(self: Any, domain_name: str, **kwargs: Any) -> None:
    _orig_dn_init(self, domain_name, **kwargs)
    region = kwargs.get("region_name") or "us-east-1"
    self.regional_hosted_zone_id = _APIGW_ZONE_IDS.get(region, self.regional_hosted_zone_id)


apigw_models.DomainName.__init__ = _dn_init  # type: ignore[method-assign]

# --------------------------------------------------------------------------------------
# Smithy RPC v2 CBOR (the protocol of the current AWS SDK for Rust's CloudWatch client).
# moto 5.2.5 speaks only the JSON/query protocols for CloudWatch; translate CBOR requests to
# JSON 1.0 requests (X-Amz-Target GraniteServiceVersion20100801.Op) and the answers back.
# --------------------------------------------------------------------------------------

import base64  # noqa: E402
import io  # noqa: E402
import math  # noqa: E402
from datetime import datetime, timezone  # noqa: E402


class _Break(Exception):
    pass


class _Timestamp(float):
    pass


def cbor_decode(data: bytes) -> Any:
    pos = 0

    def read(n: int) -> bytes:
        nonlocal pos
        chunk = data[pos:pos + n]
        if len(chunk) < n:
            raise ValueError("truncated CBOR")
        pos += n
        return chunk

    def arg(info: int) -> int | None:
        if info < 24:
            return info
        if info == 24:
            return read(1)[0]
        if info == 25:
            return int.from_bytes(read(2), "big")
        if info == 26:
            return int.from_bytes(read(4), "big")
        if info == 27:
            return int.from_bytes(read(8), "big")
        if info == 31:
            return None
        raise ValueError(f"bad CBOR additional info {info}")

    def item() -> Any:
        b = read(1)[0]
        major, info = b >> 5, b & 31
        if b == 0xFF:
            raise _Break()
        if major == 0:
            return arg(info)
        if major == 1:
            return -1 - arg(info)  # type: ignore[operator]
        if major in (2, 3):
            n = arg(info)
            if n is None:
                parts = []
                while True:
                    try:
                        parts.append(item())
                    except _Break:
                        break
                raw = b"".join(p if isinstance(p, bytes) else p.encode() for p in parts)
            else:
                raw = read(n)
            return raw if major == 2 else raw.decode("utf-8")
        if major == 4:
            n = arg(info)
            out = []
            if n is None:
                while True:
                    try:
                        out.append(item())
                    except _Break:
                        return out
            return [item() for _ in range(n)]
        if major == 5:
            n = arg(info)
            d = {}
            if n is None:
                while True:
                    try:
                        k = item()
                    except _Break:
                        return d
                    d[k] = item()
            for _ in range(n):
                k = item()
                d[k] = item()
            return d
        if major == 6:
            tag = arg(info)
            v = item()
            return _Timestamp(v) if tag == 1 else v
        # major 7
        if info == 20:
            return False
        if info == 21:
            return True
        if info in (22, 23):
            return None
        if info == 25:
            return _half(int.from_bytes(read(2), "big"))
        if info == 26:
            return struct.unpack(">f", read(4))[0]
        if info == 27:
            return struct.unpack(">d", read(8))[0]
        raise ValueError(f"unsupported CBOR simple value {info}")

    return item() if data else {}


def _half(h: int) -> float:
    exp, frac = (h >> 10) & 0x1F, h & 0x3FF
    sign = -1.0 if h & 0x8000 else 1.0
    if exp == 0:
        return sign * frac * 2.0 ** -24
    if exp == 31:
        return sign * math.inf if frac == 0 else math.nan
    return sign * (1 + frac / 1024) * 2.0 ** (exp - 15)


def cbor_encode(v: Any) -> bytes:
    out = io.BytesIO()

    def head(major: int, n: int) -> None:
        if n < 24:
            out.write(bytes([major << 5 | n]))
        elif n < 256:
            out.write(bytes([major << 5 | 24, n]))
        elif n < 65536:
            out.write(bytes([major << 5 | 25]) + n.to_bytes(2, "big"))
        elif n < 2 ** 32:
            out.write(bytes([major << 5 | 26]) + n.to_bytes(4, "big"))
        else:
            out.write(bytes([major << 5 | 27]) + n.to_bytes(8, "big"))

    def enc(x: Any) -> None:
        if isinstance(x, _Timestamp):
            head(6, 1)
            out.write(b"\xfb" + struct.pack(">d", float(x)))
        elif x is None:
            out.write(b"\xf6")
        elif x is True:
            out.write(b"\xf5")
        elif x is False:
            out.write(b"\xf4")
        elif isinstance(x, int):
            head(0, x) if x >= 0 else head(1, -1 - x)
        elif isinstance(x, float):
            out.write(b"\xfb" + struct.pack(">d", x))
        elif isinstance(x, bytes):
            head(2, len(x))
            out.write(x)
        elif isinstance(x, str):
            b = x.encode("utf-8")
            head(3, len(b))
            out.write(b)
        elif isinstance(x, (list, tuple)):
            head(4, len(x))
            for i in x:
                enc(i)
        elif isinstance(x, dict):
            head(5, len(x))
            for k, i in x.items():
                enc(k)
                enc(i)
        else:
            enc(str(x))

    enc(v)
    return out.getvalue()


def _cbor_to_json(v: Any) -> Any:
    if isinstance(v, _Timestamp):
        return float(v)
    if isinstance(v, bytes):
        return base64.b64encode(v).decode()
    if isinstance(v, list):
        return [_cbor_to_json(i) for i in v]
    if isinstance(v, dict):
        return {k: _cbor_to_json(i) for k, i in v.items()}
    return v


def _json_to_cbor(v: Any, shape: Any) -> Any:
    if shape is None or v is None:
        return v
    t = shape.type_name
    if t == "structure":
        return {k: _json_to_cbor(i, shape.members.get(k)) for k, i in v.items()}
    if t == "list":
        return [_json_to_cbor(i, shape.member) for i in v]
    if t == "map":
        return {k: _json_to_cbor(i, shape.value) for k, i in v.items()}
    if t == "timestamp":
        if isinstance(v, (int, float)):
            return _Timestamp(v)
        dt = datetime.fromisoformat(str(v).replace("Z", "+00:00"))
        if dt.tzinfo is None:
            dt = dt.replace(tzinfo=timezone.utc)
        return _Timestamp(dt.timestamp())
    if t == "blob" and isinstance(v, str):
        return base64.b64decode(v)
    if t in ("double", "float") and isinstance(v, int):
        return float(v)
    return v


_CBOR_SERVICES = {"GraniteServiceVersion20100801": "cloudwatch"}
_MODELS: dict[str, Any] = {}


def _service_model(name: str) -> Any:
    if name not in _MODELS:
        import botocore.session

        _MODELS[name] = botocore.session.get_session().get_service_model(name)
    return _MODELS[name]


def cbor_app(inner: Any, environ: dict[str, Any], start_response: Any) -> Any:
    parts = environ.get("PATH_INFO", "").strip("/").split("/")
    # service/<ServiceId>/operation/<Operation>
    target_prefix, op = parts[1], parts[3]
    length = int(environ.get("CONTENT_LENGTH") or 0)
    raw = environ["wsgi.input"].read(length) if length else b""
    try:
        params = _cbor_to_json(cbor_decode(raw)) if raw else {}
    except Exception as e:  # noqa: BLE001
        return _cbor_error(start_response, 400, "SerializationException", f"bad CBOR: {e}")
    body = json.dumps(params).encode()
    env = dict(environ)
    env["PATH_INFO"] = "/"
    env["RAW_URI"] = "/"
    env["REQUEST_URI"] = "/"
    env["CONTENT_TYPE"] = "application/x-amz-json-1.0"
    env["CONTENT_LENGTH"] = str(len(body))
    env["HTTP_X_AMZ_TARGET"] = f"{target_prefix}.{op}"
    env.pop("HTTP_SMITHY_PROTOCOL", None)
    env["wsgi.input"] = io.BytesIO(body)
    captured: dict[str, Any] = {}

    def sr(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        captured["status"], captured["headers"] = status, headers
        return lambda _data: None

    chunks = inner(env, sr)
    try:
        resp = b"".join(chunks)
    finally:
        if hasattr(chunks, "close"):
            chunks.close()
    status = captured.get("status", "500 Internal Server Error")
    code = int(status.split()[0])
    try:
        doc = json.loads(resp) if resp.strip() else {}
    except ValueError:
        doc = {"message": resp.decode("utf-8", "replace")}
    if code >= 300:
        hdrs = {k.lower(): v for k, v in captured.get("headers", [])}
        err = str(doc.get("__type") or hdrs.get("x-amzn-errortype") or "InternalFailure")
        return _cbor_error(start_response, code, err.split("#")[-1].split(":")[0],
                           doc.get("message") or doc.get("Message") or "")
    shape = None
    try:
        shape = _service_model(_CBOR_SERVICES[target_prefix]).operation_model(op).output_shape
    except Exception:  # noqa: BLE001
        pass
    out = cbor_encode(_json_to_cbor(doc, shape) if shape is not None else doc)
    start_response(status, [("Content-Type", "application/cbor"), ("smithy-protocol", "rpc-v2-cbor"),
                            ("Content-Length", str(len(out)))])
    return [out]


def _cbor_error(start_response: Any, code: int, err: str, message: str) -> list[bytes]:
    out = cbor_encode({"__type": err, "message": message})
    reason = {400: "Bad Request", 404: "Not Found", 500: "Internal Server Error"}.get(code, "Error")
    start_response(f"{code} {reason}", [("Content-Type", "application/cbor"),
                                        ("smithy-protocol", "rpc-v2-cbor"),
                                        ("Content-Length", str(len(out)))])
    return [out]


# --------------------------------------------------------------------------------------
# Control endpoint
# --------------------------------------------------------------------------------------


def _json_response(start_response: Any, status: str, doc: Any) -> list[bytes]:
    body = json.dumps(doc, default=str).encode()
    start_response(status, [("Content-Type", "application/json"),
                            ("Content-Length", str(len(body)))])
    return [body]


def control_app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    path = environ.get("PATH_INFO", "")
    method = environ.get("REQUEST_METHOD", "GET")
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    raw = environ["wsgi.input"].read(length) if length else b""
    try:
        doc = json.loads(raw) if raw else {}
        if path == "/_drillbook/ping":
            return _json_response(start_response, "200 OK", {"ok": True, "pid": os.getpid()})
        if path == "/_drillbook/config":
            if method == "POST":
                if not isinstance(doc, dict):
                    raise ValueError("body must be a JSON object")
                apply_config(doc)
            elif method == "DELETE":
                from urllib.parse import parse_qs

                qs = parse_qs(environ.get("QUERY_STRING", ""))
                clear_config((qs.get("prefix") or [None])[0])
            return _json_response(start_response, "200 OK", config_snapshot())
        if path == "/_drillbook/health":
            if method == "POST":
                hc = doc.get("health_check_id")
                if not hc or not isinstance(doc.get("healthy"), bool):
                    raise ValueError("need health_check_id and boolean healthy")
                _HEALTH[hc] = doc["healthy"]
            return _json_response(start_response, "200 OK", _HEALTH)
        return _json_response(start_response, "404 Not Found", {"error": f"no route {path}"})
    except ValueError as e:
        return _json_response(start_response, "400 Bad Request", {"error": str(e)})


# DynamoDB serves each request atomically: a conditional put either sees the item another
# request wrote or wins. moto's threaded server checks the condition and writes the item in two
# separate steps, so two concurrent conditional puts of one key could both succeed. Every
# DynamoDB request is therefore handled whole under one lock (they take microseconds here).
_DYNAMODB_LOCK = threading.Lock()


def _serialized(inner: Any, environ: dict[str, Any], start_response: Any) -> list[bytes]:
    with _DYNAMODB_LOCK:
        chunks = inner(environ, start_response)
        try:
            return [b"".join(chunks)]
        finally:
            if hasattr(chunks, "close"):
                chunks.close()


class DrillbookApp:
    def __init__(self, inner: Any):
        self.inner = inner

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        path = environ.get("PATH_INFO", "")
        if path.startswith("/_drillbook/"):
            return control_app(environ, start_response)
        parts = path.strip("/").split("/")
        if len(parts) == 4 and parts[0] == "service" and parts[2] == "operation" \
                and parts[1] in _CBOR_SERVICES:
            return cbor_app(self.inner, environ, start_response)
        if environ.get("HTTP_X_AMZ_TARGET", "").startswith("DynamoDB_"):
            return _serialized(self.inner, environ, start_response)
        return self.inner(environ, start_response)


# --------------------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------------------


def _watch_parent(pid: int) -> None:
    while True:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            os._exit(0)
        except PermissionError:
            pass
        time.sleep(0.5)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--parent-pid", type=int, default=0)
    args = ap.parse_args()
    if args.parent_pid:
        threading.Thread(target=_watch_parent, args=(args.parent_pid,), daemon=True).start()
    os.environ["MOTO_PORT"] = str(args.port)
    app = DomainDispatcherApplication(create_backend_app)
    run_simple(args.host, args.port, DrillbookApp(app), threaded=True,
               request_handler=MotoRequestHandler)


if __name__ == "__main__":
    sys.exit(main())
