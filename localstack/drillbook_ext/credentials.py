"""Credentials that expire: from a given moment, every request signed with a given access key is
answered as AWS answers an expired session ("ExpiredTokenException: The security token included
in the request is expired", HTTP 403, AWS Common Errors; Query APIs such as STS name it
`ExpiredToken`).

Control route `/_drillbook/credentials`:
  * POST `{"access_key": K, "expires_at": EPOCH_SECONDS}` (default: now) expires K then;
  * DELETE `?access_key=K` (or all) renews them; GET lists the expiries.
"""

from __future__ import annotations

import re
import threading
import time
from typing import Any

from . import control, faults

_LOCK = threading.Lock()
_EXPIRES: dict[str, float] = {}
_KEY = re.compile(r"Credential=([^/,\s]+)/")


def access_key(environ: dict[str, Any]) -> str | None:
    m = _KEY.search(environ.get("HTTP_AUTHORIZATION", ""))
    return m.group(1) if m else None


def expired(environ: dict[str, Any]) -> bool:
    key = access_key(environ)
    if key is None:
        return False
    with _LOCK:
        at = _EXPIRES.get(key)
    return at is not None and time.time() >= at


def refuse_expired(environ: dict[str, Any], start_response: Any,
                   service: str) -> list[bytes] | None:
    if not expired(environ):
        return None
    query_api = faults.protocol(environ, service) in ("query", "rest-xml")
    code = "ExpiredToken" if query_api else "ExpiredTokenException"
    return faults.error_response(environ, start_response, service, 403, code,
                                 "The security token included in the request is expired")


def _route(method: str, body: Any, query: dict[str, list[str]]) -> Any:
    if method == "POST":
        if not isinstance(body, dict) or not isinstance(body.get("access_key"), str):
            raise ValueError('body must be {"access_key": K, "expires_at": EPOCH_SECONDS}')
        unknown = sorted(set(body) - {"access_key", "expires_at"})
        if unknown:
            raise ValueError(f"unknown fields {unknown}; known: access_key, expires_at")
        at = float(body.get("expires_at", time.time()))
        with _LOCK:
            _EXPIRES[body["access_key"]] = at
    elif method == "DELETE":
        key = (query.get("access_key") or [None])[0]
        with _LOCK:
            if key is None:
                _EXPIRES.clear()
            else:
                _EXPIRES.pop(key, None)
    with _LOCK:
        return {"expires": dict(_EXPIRES), "now": time.time()}


control.route("/_drillbook/credentials", _route)
control.gate(refuse_expired)
