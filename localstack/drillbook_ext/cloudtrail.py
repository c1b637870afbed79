"""CloudTrail's event history: every answered AWS call that changes something is recorded as a
management event (request id, event name and source, Region, account, access key, time) and
served by `LookupEvents`, after the delivery delay (`cloudtrail_delivery_seconds`; CloudTrail
"typically delivers events within an average of about 5 minutes of an API call", CloudTrail
user guide, "How CloudTrail works").

Every answer also gets an `x-amzn-RequestId` header when moto's has none, so each call has the
request id that its CloudTrail event carries (`requestID`).

Event names come from the request: the JSON target, the Smithy RPC v2 path, the Query API's
Action, or, for the REST APIs drillbook changes (Route 53, API Gateway), the method and path.
"""

from __future__ import annotations

import json
import re
import threading
import time
import uuid
from typing import Any

from . import config, control
from .operations import event_name

_LOCK = threading.Lock()
_EVENTS: list[dict[str, Any]] = []

READ_ONLY_PREFIXES = ("Describe", "Get", "List", "Test", "Lookup", "Query", "Scan", "BatchGet",
                      "Encrypt", "Decrypt", "GenerateDataKey", "Sign", "Verify")

_KEY = re.compile(r"Credential=([^/,\s]+)/")


def _account(access_key: str | None) -> str:
    from moto.iam.models import get_account_id_from

    return get_account_id_from(access_key or "")


def record_wrapper(app: Any, region: str | None, service: str | None) -> Any:
    def wrapped(environ: dict[str, Any], start_response: Any) -> Any:
        answer: dict[str, Any] = {}

        def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            names = {h.lower() for h, _ in headers}
            if "x-amzn-requestid" not in names and "x-amz-request-id" not in names:
                headers = list(headers) + [("x-amzn-RequestId", str(uuid.uuid4()))]
            answer["status"] = int(status.split()[0])
            answer["request_id"] = next(v for h, v in headers
                                        if h.lower() in ("x-amzn-requestid", "x-amz-request-id"))
            return start_response(status, headers, exc_info)

        body = app(environ, capture)
        name = event_name(environ, service or "")
        if (name and service and service != "cloudtrail" and 200 <= answer.get("status", 0) < 300
                and not name.startswith(READ_ONLY_PREFIXES)):
            m = _KEY.search(environ.get("HTTP_AUTHORIZATION", ""))
            key = m.group(1) if m else None
            now = time.time()
            with _LOCK:
                _EVENTS.append({
                    "EventId": str(uuid.uuid4()), "EventName": name,
                    "EventSource": f"{service}.amazonaws.com", "EventTime": now,
                    "AccessKeyId": key, "awsRegion": region or "us-east-1",
                    "accountId": _account(key), "requestID": answer["request_id"],
                })
        return body

    return wrapped


def _matches(event: dict[str, Any], attrs: list[dict[str, str]]) -> bool:
    for a in attrs:
        key, value = a.get("AttributeKey"), a.get("AttributeValue")
        field = {"EventName": "EventName", "EventSource": "EventSource", "EventId": "EventId",
                 "AccessKeyId": "AccessKeyId"}.get(key or "")
        if key == "ReadOnly":
            if value != "false":
                return False
        elif field is None or event.get(field) != value:
            return False
    return True


def _lookup_match(environ: dict[str, Any], region: str | None, service: str | None) -> bool:
    return service == "cloudtrail" and environ.get("HTTP_X_AMZ_TARGET", "").endswith(
        ".LookupEvents")


def _lookup(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    req = json.loads(control.read_body(environ) or b"{}")
    scope = re.search(r"Credential=[^/,\s]+/\d{8}/([a-z0-9-]+)/", environ.get(
        "HTTP_AUTHORIZATION", ""))
    region = scope.group(1) if scope else "us-east-1"
    m = _KEY.search(environ.get("HTTP_AUTHORIZATION", ""))
    account = _account(m.group(1) if m else None)
    delay = config.seconds("cloudtrail_delivery_seconds", [])
    now = time.time()
    start = float(req.get("StartTime", 0))
    end = float(req.get("EndTime", now))
    attrs = req.get("LookupAttributes") or []
    with _LOCK:
        found = [e for e in _EVENTS
                 if e["awsRegion"] == region and e["accountId"] == account
                 and e["EventTime"] + delay <= now and start <= e["EventTime"] <= end
                 and _matches(e, attrs)]
    found.sort(key=lambda e: e["EventTime"], reverse=True)
    first = int(req.get("NextToken") or 0)
    size = max(1, min(int(req.get("MaxResults") or 50), 50))
    page = found[first:first + size]
    doc: dict[str, Any] = {"Events": [{
        "EventId": e["EventId"], "EventName": e["EventName"], "ReadOnly": "false",
        "AccessKeyId": e["AccessKeyId"], "EventTime": e["EventTime"],
        "EventSource": e["EventSource"], "Resources": [],
        "CloudTrailEvent": json.dumps({
            "eventVersion": "1.08", "eventType": "AwsApiCall", "eventID": e["EventId"],
            "eventTime": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(e["EventTime"])),
            "eventSource": e["EventSource"], "eventName": e["EventName"],
            "awsRegion": e["awsRegion"], "requestID": e["requestID"], "readOnly": False,
            "recipientAccountId": e["accountId"],
            "userIdentity": {"accessKeyId": e["AccessKeyId"], "accountId": e["accountId"]},
        }),
    } for e in page]}
    if first + size < len(found):
        doc["NextToken"] = str(first + size)
    body = json.dumps(doc).encode()
    start_response("200 OK", [("Content-Type", "application/x-amz-json-1.1"),
                              ("x-amzn-RequestId", str(uuid.uuid4())),
                              ("Content-Length", str(len(body)))])
    return [body]


control.wrap_all(record_wrapper)
control.service_app(_lookup_match, _lookup)
