"""Smithy RPC v2 CBOR (the protocol of the current AWS SDK for Rust's CloudWatch client).

moto 5.2.5 speaks only the JSON/query protocols for CloudWatch; CBOR requests are translated to
JSON 1.0 requests (X-Amz-Target GraniteServiceVersion20100801.Op) and the answers back.
"""

from __future__ import annotations

import json
import struct
from typing import Any

from . import control

import base64
import io
import math
from datetime import datetime, timezone


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




def _is_cbor(environ: dict[str, Any], region: str | None, service: str | None) -> bool:
    parts = environ.get("PATH_INFO", "").strip("/").split("/")
    return len(parts) == 4 and parts[0] == "service" and parts[2] == "operation" \
        and parts[1] in _CBOR_SERVICES


def install(inner: Any) -> None:
    """Serves CBOR requests by translating them for `inner` (moto's application)."""
    control.service_app(_is_cbor, lambda environ, sr: cbor_app(inner, environ, sr))
