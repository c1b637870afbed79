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
  internal  HTTP 500 in the service's own format (see INTERNAL below)
  scp_deny  HTTP 403, as an organization's Region-deny SCP answers
  pause_replication
            answers nothing itself: DynamoDB global-table replication into the fault's tables in
            its Region is held (dynamodb.py) until the fault is cleared

A fault may be narrowed (the FIS experiments of fis.py add such faults): to requests signed with
credentials of an assumed-role session of given IAM roles (`roles`), to some operations
(`operations`), to a share of the matching requests (`percentage`). A narrowed fault answers the
requests it matches and impairs nothing else: the Region stays healthy for health checks and
replication (`impaired_at`), as it does on AWS while one role's calls fail.
"""

from __future__ import annotations

import io
import itertools
import json
import os
import random
import re
import select
import socket
import struct
import threading
import time
from typing import Any
from urllib.parse import parse_qs

MODES = ("reset", "hang", "error", "throttle", "scp_deny", "internal", "pause_replication")
# Modes that answer requests (the others change a behaviour: replication).
REQUEST_MODES = ("reset", "hang", "error", "throttle", "scp_deny", "internal")

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
#   EC2: RequestLimitExceeded, 503 (EC2 API reference, "Error codes for the Amazon EC2 API":
#     "RequestLimitExceeded: The maximum request rate permitted by the Amazon EC2 APIs has been
#     exceeded for your account"; "Server errors" are 5xx).
#   Kinesis: LimitExceededException, 400 (Kinesis Data Streams API reference, errors of the
#     stream operations: "The requested resource exceeds the maximum number allowed, or the
#     number of concurrent stream requests exceeds the maximum number allowed").
THROTTLE = {
    "dynamodb": (400, "ThrottlingException"),
    "kms": (400, "ThrottlingException"),
    "apigateway": (429, "TooManyRequestsException"),
    "route53": (400, "Throttling"),
    "monitoring": (400, "ThrottlingException"),
    "sts": (400, "Throttling"),
    "route53-recovery-cluster": (429, "ThrottlingException"),
    "route53-recovery-control-config": (429, "ThrottlingException"),
    "ec2": (503, "RequestLimitExceeded"),
    "kinesis": (400, "LimitExceededException"),
}
# "A temporary failure of the server" (mode `error`): AWS common errors, "ServiceUnavailable ...
# HTTP Status Code: 503"; EC2 names it "Unavailable: The server is overloaded and can't handle
# the request" (EC2 API reference, "Error codes for the Amazon EC2 API").
UNAVAILABLE = {"ec2": "Unavailable"}
# An internal error (mode `internal`), HTTP 500: AWS common errors, "InternalFailure: The
# request processing has failed because of an unknown error, exception or failure. HTTP Status
# Code: 500"; EC2 "InternalError: An internal error has occurred" (EC2 error codes); DynamoDB
# "InternalServerError" (DynamoDB developer guide, "Error handling", 5xx errors); KMS
# "KMSInternalException" (KMS API reference, errors).
INTERNAL = {"ec2": "InternalError", "dynamodb": "InternalServerError",
            "kms": "KMSInternalException"}
# Longest a `hang` holds a request whose client never gives up.
HANG_MAX_SECONDS = 900.0

_LOCK = threading.Lock()
_IDS = itertools.count(1)
# Every fault ever added: {"id", "region", "service" (None = all), "mode", "added_at",
# "cleared_at" (None while active), and when narrowed: "roles" (IAM role ARNs), "operations",
# "percentage"; "tables" (pause_replication: table names, None = every table of the Region);
# "origin" (what added it, e.g. an FIS experiment's ARN)}.
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


def add(region: str, service: str | None, mode: str, *, roles: list[str] | None = None,
        operations: list[str] | None = None, percentage: float | None = None,
        tables: list[str] | None = None, origin: str | None = None,
        at: float | None = None) -> dict[str, Any]:
    """Adds a fault from `at` (default now); see the module's docstring for the narrowing."""
    if not isinstance(region, str) or not re.fullmatch(r"[a-z]{2}(-[a-z]+)+-\d", region):
        raise ValueError(f"region must be an AWS Region name such as us-east-1, not {region!r}")
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}, not {mode!r}")
    if service is not None and not isinstance(service, str):
        raise ValueError("service must be a string (a SigV4 signing name such as dynamodb)")
    for name, value in (("roles", roles), ("operations", operations), ("tables", tables)):
        if value is not None and (not isinstance(value, list)
                                  or not all(isinstance(v, str) and v for v in value)):
            raise ValueError(f"{name} must be a list of strings")
    if percentage is not None and (isinstance(percentage, bool)
                                   or not isinstance(percentage, (int, float))
                                   or not 0 < percentage <= 100):
        raise ValueError("percentage must be a number greater than 0 and at most 100")
    if mode == "pause_replication" and normalize_service(service) not in (None, "dynamodb"):
        raise ValueError("pause_replication is a DynamoDB fault: leave service out or use dynamodb")
    fault = {"id": next(_IDS), "region": region, "service": normalize_service(service),
             "mode": mode, "added_at": time.time() if at is None else at, "cleared_at": None}
    if mode == "pause_replication":
        fault["service"] = "dynamodb"
        fault["tables"] = list(tables) if tables else None
    if roles:
        fault["roles"] = list(roles)
    if operations:
        fault["operations"] = list(operations)
    if percentage is not None and percentage < 100:
        fault["percentage"] = float(percentage)
    if origin:
        fault["origin"] = origin
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


def clear_ids(ids: list[int], at: float | None = None) -> list[dict[str, Any]]:
    """Clears the faults with these ids (still active ones), from `at` (default now)."""
    when = time.time() if at is None else at
    out = []
    with _LOCK:
        for f in _FAULTS:
            if f["id"] in ids and f["cleared_at"] is None:
                f["cleared_at"] = max(when, f["added_at"])
                out.append(dict(f))
    return out


def active() -> list[dict[str, Any]]:
    with _LOCK:
        return [dict(f) for f in _FAULTS if f["cleared_at"] is None]


def _whole(f: dict[str, Any]) -> bool:
    """A fault that takes the Region (or its service) down for everyone, not narrowed."""
    return f["mode"] in REQUEST_MODES and not (f.get("roles") or f.get("operations")
                                               or f.get("percentage"))


def _covers(f: dict[str, Any], region: str, services: set[str] | None) -> bool:
    if f["region"] != region or not _whole(f):
        return False
    return f["service"] is None or services is None or f["service"] in services


def matching(region: str | None, service: str | None,
             environ: dict[str, Any] | None = None) -> dict[str, Any] | None:
    """The newest active fault that applies to a call of `service` in `region` (narrowed faults
    only when `environ`, the request, matches them)."""
    if not region:
        return None
    with _LOCK:
        candidates = [dict(f) for f in reversed(_FAULTS)
                      if f["cleared_at"] is None and f["region"] == region
                      and f["service"] in (None, service) and f["mode"] in REQUEST_MODES]
    for f in candidates:
        if _whole(f):
            return f
        if environ is None:
            continue
        if f.get("roles") and not _role_matches(caller_role(environ), f["roles"]):
            continue
        if f.get("operations") and operation_of(environ, service or "") not in f["operations"]:
            continue
        if f.get("percentage") and random.random() * 100 >= f["percentage"]:
            continue
        return f
    return None


def replication_paused(region: str, table: str) -> bool:
    """Whether replication into `table` in `region` is paused now (mode pause_replication)."""
    with _LOCK:
        return any(f["cleared_at"] is None and f["mode"] == "pause_replication"
                   and f["region"] == region and (not f.get("tables") or table in f["tables"])
                   for f in _FAULTS)


def impaired_at(region: str, services: set[str] | None, t: float) -> bool:
    """Whether `region` had a fault for one of `services` (None: any) at time `t` (narrowed
    faults do not impair a Region)."""
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
    if service in ("apigateway", "route53-recovery-control-config", "fis", "execute-api"):
        return "rest-json"
    if service == "route53":
        return "rest-xml"
    if service == "ec2":
        return "ec2"
    return "query"


# ------------------------------------------------------------------------- who and what


_ACCESS_KEY = re.compile(r"Credential=([^/,\s]+)/")


def access_key(environ: dict[str, Any]) -> str | None:
    """The access key a request is signed with (Authorization header or presigned query)."""
    m = _ACCESS_KEY.search(environ.get("HTTP_AUTHORIZATION", ""))
    if m:
        return m.group(1)
    cred = (parse_qs(environ.get("QUERY_STRING", "")).get("X-Amz-Credential") or [""])[0]
    return cred.split("/", 1)[0] or None


def caller_role(environ: dict[str, Any]) -> str | None:
    """The IAM role ARN whose assumed-role session signed the request, else None. moto's STS
    AssumeRole issues a temporary access key in the role's account and marks it with the role
    (`AccessKey.role_arn`), which is how GetCallerIdentity answers `assumed-role/...` too."""
    key = access_key(environ)
    if not key:
        return None
    from moto.iam.models import get_account_id_from, iam_backends

    try:
        account = iam_backends[get_account_id_from(key)]
        for partition in list(account.keys()):
            found = account[partition].access_keys.get(key)
            if found is not None:
                return getattr(found, "role_arn", None)
    except Exception:
        return None
    return None


def _role_matches(caller: str | None, roles: list[str]) -> bool:
    """A session's role against target role ARNs: the same ARN, or the same account and role
    name (an assumed-role ARN drops the role's path)."""
    if not caller:
        return False

    def key(arn: str) -> tuple[str, str]:
        parts = arn.split(":", 5)
        account = parts[4] if len(parts) > 5 else ""
        return account, arn.rsplit("/", 1)[-1]

    return any(caller == r or key(caller) == key(r) for r in roles)


def operation_of(environ: dict[str, Any], service: str) -> str:
    """The operation a request calls: X-Amz-Target, the Smithy RPC v2 path, the Query API's
    `Action` (query string or form body; the body is read and put back), or the REST operations
    cloudtrail.py names; `*` when unknown."""
    target = environ.get("HTTP_X_AMZ_TARGET", "")
    if target:
        return target.rsplit(".", 1)[-1]
    m = re.match(r"/service/[^/]+/operation/([A-Za-z]+)", environ.get("PATH_INFO", ""))
    if m:
        return m.group(1)
    action = (parse_qs(environ.get("QUERY_STRING", "")).get("Action") or [""])[0]
    if action:
        return action
    if environ.get("CONTENT_TYPE", "").startswith("application/x-www-form-urlencoded"):
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        body = environ["wsgi.input"].read(length) if length else b""
        environ["wsgi.input"] = io.BytesIO(body)
        action = (parse_qs(body.decode("utf-8", "replace")).get("Action") or [""])[0]
        if action:
            return action
    from .operations import event_name

    return event_name(environ, service) or "*"


def error_response(environ: dict[str, Any], start_response: Any, service: str, status: int,
                   code: str, message: str) -> list[bytes]:
    """An error in the service's own protocol (what its SDK parses into `code`)."""
    from .cbor_codec import cbor_encode  # the CloudWatch client speaks Smithy RPC v2 CBOR

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
    elif proto == "ec2":
        # EC2's own error shape (EC2 API reference, "Error codes for the Amazon EC2 API").
        body = (f"<Response><Errors><Error><Code>{code}</Code><Message>{message}</Message>"
                f"</Error></Errors><RequestID>{headers[0][1]}</RequestID></Response>").encode()
        ctype = "text/xml"
    else:
        ns = ' xmlns="https://route53.amazonaws.com/doc/2013-04-01/"' if proto == "rest-xml" else ""
        kind = "Sender" if status < 500 else "Receiver"
        body = (f"<ErrorResponse{ns}><Error><Type>{kind}</Type><Code>{code}</Code>"
                f"<Message>{message}</Message></Error><RequestId>{headers[0][1]}</RequestId>"
                f"</ErrorResponse>").encode()
        ctype = "text/xml"
    reason = {400: "Bad Request", 403: "Forbidden", 429: "Too Many Requests",
              500: "Internal Server Error", 503: "Service Unavailable"}
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
        action = f"{service}:{operation_of(environ, service)}"
        return error_response(
            environ, start_response, service, 403,
            "AccessDenied" if query_api else "AccessDeniedException",
            f"User: arn:aws:sts::123456789012:assumed-role/drillbook/session is not authorized "
            f"to perform: {action} on resource: * in {region} with an explicit deny in a "
            f"service control policy")
    if mode == "internal":
        return error_response(environ, start_response, service, 500,
                              INTERNAL.get(service, "InternalFailure"),
                              f"{service} in {region} had an internal error (drillbook fault)")
    return error_response(environ, start_response, service, 503,
                          UNAVAILABLE.get(service, "ServiceUnavailable"),
                          f"{service} in {region} is unavailable (drillbook fault)")


def describe() -> dict[str, Any]:
    return {"faults": active(), "modes": list(MODES)}
