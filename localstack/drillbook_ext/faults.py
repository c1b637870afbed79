"""Region faults at the server: a Region (or one service in it) that refuses, hangs, errs or
throttles, as a lost or impaired Region does on AWS.

A request's Region and service are read from its SigV4 credential scope
(`Credential=AKID/DATE/REGION/SERVICE/aws4_request`, in the Authorization header or the
`X-Amz-Credential` query parameter), exactly what AWS routes on. Faults are kept with their
history (when each was added and cleared), so behaviours that lag behind a fault (Route 53
health checkers) can ask "was this Region impaired at time t?".

Modes (what the client sees):
  reset     the connection is closed without an answer (RST)
  hang      no answer until the client gives up (closes the connection)
  error     HTTP 503 in the service's own error format (code ServiceUnavailable, AWS's common
            error for "a temporary failure of the server")
  throttle  the service's own throttling error and status (see THROTTLE below)
"""

from __future__ import annotations

import itertools
import json
import os
import re
import select
import socket
import struct
import threading
import time
from typing import Any
from urllib.parse import parse_qs

MODES = ("reset", "hang", "error", "throttle", "scp_deny")

# Signing names as they appear in credential scopes; aliases accepted in fault definitions.
SERVICE_ALIASES = {
    "cloudwatch": "monitoring",
    "arc": "route53-recovery-cluster",
    "route53-recovery-control": "route53-recovery-control-config",
}

# Throttling as each service answers it: (HTTP status, error code).
#   DynamoDB: ThrottlingException, 400 (DynamoDB developer guide, "Error handling", 400 errors).
#   KMS: ThrottlingException, 400 (KMS API reference, "Common errors").
#   API Gateway: TooManyRequestsException, 429 (API Gateway API reference, errors).
#   Route 53: "HTTP 400 error (Bad request) ... a Code element with a value of Throttling and a
#     Message element with a value of Rate exceeded" (Route 53 developer guide, "Throttling for
#     Amazon Route 53 API requests").
#   CloudWatch, STS (query protocol): Throttling, 400 (AWS common errors).
#   ARC: ThrottlingException, 429 (Route 53 ARC API references).
THROTTLE = {
    "dynamodb": (400, "ThrottlingException"),
    "kms": (400, "ThrottlingException"),
    "apigateway": (429, "TooManyRequestsException"),
    "route53": (400, "Throttling"),
    "monitoring": (400, "ThrottlingException"),
    "sts": (400, "Throttling"),
    "route53-recovery-cluster": (429, "ThrottlingException"),
    "route53-recovery-control-config": (429, "ThrottlingException"),
}
# Longest a `hang` holds a request whose client never gives up.
HANG_MAX_SECONDS = 900.0

_LOCK = threading.Lock()
_IDS = itertools.count(1)
# Every fault ever added: {"id", "region", "service" (None = all), "mode", "added_at",
# "cleared_at" (None while active)}.
_FAULTS: list[dict[str, Any]] = []

_SCOPE = re.compile(r"Credential=[^/,\s]+/\d{8}/([a-z0-9-]+)/([a-z0-9-]+)/aws4_request")


def normalize_service(service: str | None) -> str | None:
    if not service:
        return None
    s = service.strip().lower()
    return SERVICE_ALIASES.get(s, s)


def request_scope(environ: dict[str, Any]) -> tuple[str | None, str | None]:
    """(Region, signing service) of a request, from its SigV4 credential scope."""
    m = _SCOPE.search(environ.get("HTTP_AUTHORIZATION", ""))
    if m:
        return m.group(1), m.group(2)
    cred = (parse_qs(environ.get("QUERY_STRING", "")).get("X-Amz-Credential") or [""])[0]
    parts = cred.split("/")
    if len(parts) == 5:
        return parts[2], parts[3]
    return None, None


def add(region: str, service: str | None, mode: str) -> dict[str, Any]:
    if not isinstance(region, str) or not re.fullmatch(r"[a-z]{2}(-[a-z]+)+-\d", region):
        raise ValueError(f"region must be an AWS Region name such as us-east-1, not {region!r}")
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}, not {mode!r}")
    if service is not None and not isinstance(service, str):
        raise ValueError("service must be a string (a SigV4 signing name such as dynamodb)")
    fault = {"id": next(_IDS), "region": region, "service": normalize_service(service),
             "mode": mode, "added_at": time.time(), "cleared_at": None}
    with _LOCK:
        _FAULTS.append(fault)
    return dict(fault)


def clear(region: str | None = None) -> list[dict[str, Any]]:
    """Clears the active faults (of one Region); returns what was cleared."""
    now = time.time()
    out = []
    with _LOCK:
        for f in _FAULTS:
            if f["cleared_at"] is None and (region is None or f["region"] == region):
                f["cleared_at"] = now
                out.append(dict(f))
    return out


def active() -> list[dict[str, Any]]:
    with _LOCK:
        return [dict(f) for f in _FAULTS if f["cleared_at"] is None]


def _covers(f: dict[str, Any], region: str, services: set[str] | None) -> bool:
    if f["region"] != region:
        return False
    return f["service"] is None or services is None or f["service"] in services


def matching(region: str | None, service: str | None) -> dict[str, Any] | None:
    """The newest active fault that applies to a call of `service` in `region`."""
    if not region:
        return None
    with _LOCK:
        for f in reversed(_FAULTS):
            if f["cleared_at"] is None and f["region"] == region \
                    and f["service"] in (None, service):
                return dict(f)
    return None


def impaired_at(region: str, services: set[str] | None, t: float) -> bool:
    """Whether `region` had a fault for one of `services` (None: any) at time `t`."""
    with _LOCK:
        return any(
            _covers(f, region, services) and f["added_at"] <= t
            and (f["cleared_at"] is None or f["cleared_at"] > t)
            for f in _FAULTS
        )


def impaired_now(region: str, services: set[str] | None) -> bool:
    return impaired_at(region, services, time.time())


def changed_at() -> float:
    """The last time any fault was added or cleared (0 when none ever was)."""
    with _LOCK:
        times = [f["added_at"] for f in _FAULTS] + [f["cleared_at"] for f in _FAULTS
                                                    if f["cleared_at"] is not None]
    return max(times, default=0.0)


# ------------------------------------------------------------------------- answering


def protocol(environ: dict[str, Any], service: str) -> str:
    if environ.get("HTTP_SMITHY_PROTOCOL", "").startswith("rpc-v2-cbor") \
            or environ.get("PATH_INFO", "").startswith("/service/"):
        return "cbor"
    if environ.get("HTTP_X_AMZ_TARGET"):
        return "json"
    if service in ("apigateway", "route53-recovery-control-config"):
        return "rest-json"
    if service == "route53":
        return "rest-xml"
    return "query"


def error_response(environ: dict[str, Any], start_response: Any, service: str, status: int,
                   code: str, message: str) -> list[bytes]:
    """An error in the service's own protocol (what its SDK parses into `code`)."""
    from .cbor import cbor_encode  # the CloudWatch client speaks Smithy RPC v2 CBOR

    proto = protocol(environ, service)
    headers = [("x-amzn-RequestId", f"drillbook-fault-{next(_IDS)}")]
    if proto == "json":
        body = json.dumps({"__type": code, "message": message}).encode()
        ctype = environ.get("CONTENT_TYPE") or "application/x-amz-json-1.0"
    elif proto == "cbor":
        body = cbor_encode({"__type": code, "message": message})
        ctype = "application/cbor"
        headers.append(("smithy-protocol", "rpc-v2-cbor"))
    elif proto == "rest-json":
        body = json.dumps({"message": message}).encode()
        ctype = "application/json"
        headers.append(("x-amzn-ErrorType", code))
    else:
        ns = ' xmlns="https://route53.amazonaws.com/doc/2013-04-01/"' if proto == "rest-xml" else ""
        kind = "Sender" if status < 500 else "Receiver"
        body = (f"<ErrorResponse{ns}><Error><Type>{kind}</Type><Code>{code}</Code>"
                f"<Message>{message}</Message></Error><RequestId>{headers[0][1]}</RequestId>"
                f"</ErrorResponse>").encode()
        ctype = "text/xml"
    reason = {400: "Bad Request", 403: "Forbidden", 429: "Too Many Requests",
              503: "Service Unavailable"}
    start_response(f"{status} {reason.get(status, 'Error')}",
                   headers + [("Content-Type", ctype), ("Content-Length", str(len(body)))])
    return [body]


def _client_gone(sock: socket.socket) -> bool:
    try:
        readable, _, _ = select.select([sock], [], [], 0.1)
        if not readable:
            return False
        return sock.recv(1, socket.MSG_PEEK) == b""
    except (OSError, ValueError):
        return True


def _reset(sock: socket.socket | None) -> None:
    """Resets the connection (RST, no answer) and ends the request."""
    if sock is not None:
        try:
            # SO_LINGER 0: closing the socket sends RST, not FIN. The request handler still holds
            # file objects on the socket, so close its descriptor underneath them: /dev/null takes
            # its number, the handler reads EOF there and ends without writing anything.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            null = os.open(os.devnull, os.O_RDWR)
            try:
                os.dup2(null, sock.fileno())
            finally:
                os.close(null)
        except OSError:
            pass
    # werkzeug treats a ConnectionError from the app as a dropped connection and writes nothing.
    raise ConnectionResetError("drillbook fault: reset")


def apply(fault: dict[str, Any], environ: dict[str, Any], start_response: Any,
          service: str) -> list[bytes]:
    """Answers (or refuses to answer) a request as `fault` says."""
    sock = environ.get("werkzeug.socket")
    mode = fault["mode"]
    region = fault["region"]
    if mode == "reset":
        _reset(sock)
    if mode == "hang":
        deadline = time.time() + HANG_MAX_SECONDS
        while time.time() < deadline:
            if sock is None:
                time.sleep(0.1)
            elif _client_gone(sock):
                break
        _reset(sock)
    if mode == "throttle":
        status, code = THROTTLE.get(service, (400, "ThrottlingException"))
        return error_response(environ, start_response, service, status, code, "Rate exceeded")
    if mode == "scp_deny":
        # An organization's Region-deny SCP, as AWS words the denial (IAM user guide,
        # "Troubleshoot access denied error messages": "... with an explicit deny in a service
        # control policy").
        query_api = protocol(environ, service) in ("query", "rest-xml")
        action = f"{service}:{_operation(environ)}"
        return error_response(
            environ, start_response, service, 403,
            "AccessDenied" if query_api else "AccessDeniedException",
            f"User: arn:aws:sts::123456789012:assumed-role/drillbook/session is not authorized "
            f"to perform: {action} on resource: * in {region} with an explicit deny in a "
            f"service control policy")
    return error_response(environ, start_response, service, 503, "ServiceUnavailable",
                          f"{service} in {region} is unavailable (drillbook fault)")


def _operation(environ: dict[str, Any]) -> str:
    """The operation a request names (X-Amz-Target, or the Query API's Action), else `*`."""
    target = environ.get("HTTP_X_AMZ_TARGET", "")
    if target:
        return target.rsplit(".", 1)[-1]
    action = (parse_qs(environ.get("QUERY_STRING", "")).get("Action") or [""])[0]
    return action or "*"


def describe() -> dict[str, Any]:
    return {"faults": active(), "modes": list(MODES)}
