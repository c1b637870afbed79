"""KMS: UpdatePrimaryRegion, multi-Region key copies that agree, ciphertext of mrk ids."""

from __future__ import annotations

import struct
import time
from copy import copy
from typing import Any

from .config import seconds

from moto.core.exceptions import JsonRESTError
from moto.kms import models as kms_models
from moto.kms import responses as kms_responses
from moto.kms.exceptions import AlreadyExistsException, NotFoundException


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
from moto.kms import utils as kms_utils

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
    delay = seconds("kms_updating_seconds", _key_scope_names(key, backend.region_name))
    if delay > 0:
        until = time.time() + delay
        key.__dict__["_db_updating_until"] = until
        target_key.__dict__["_db_updating_until"] = until
    return "{}"


kms_responses.KmsResponse.update_primary_region = update_primary_region  # type: ignore[attr-defined]

