"""The CBOR codec (RFC 8949) the Smithy RPC v2 CBOR protocol needs: `cbor_decode`,
`cbor_encode`. Pure: imports nothing of drillbook's, so faults can answer in CBOR without
importing the CloudWatch wiring (cbor.py)."""

from __future__ import annotations

import io
import math
import struct
from typing import Any


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
