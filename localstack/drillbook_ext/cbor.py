"""Smithy RPC v2 CBOR (the protocol of the current AWS SDK for Rust's CloudWatch client).

moto 5.2.5 speaks only the JSON/query protocols for CloudWatch; CBOR requests are translated to
JSON 1.0 requests (X-Amz-Target GraniteServiceVersion20100801.Op) and the answers back.
"""

from __future__ import annotations

import base64
import io
import json
from datetime import datetime, timezone
from typing import Any

from . import control
from .cbor_codec import _Timestamp, cbor_decode, cbor_encode


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




def _is_cbor(environ: dict[str, Any], region: str | None, service: str | None) -> bool:
    parts = environ.get("PATH_INFO", "").strip("/").split("/")
    return len(parts) == 4 and parts[0] == "service" and parts[2] == "operation" \
        and parts[1] in _CBOR_SERVICES


def install(inner: Any) -> None:
    """Serves CBOR requests by translating them for `inner` (moto's application)."""
    control.service_app(_is_cbor, lambda environ, sr: cbor_app(inner, environ, sr))
