"""The operation a request calls, by name: what CloudTrail records as the event name and what a
fault's `operations` match. Pure: imports nothing of drillbook's, so every module may use it."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qs

# (service, method, path pattern) -> event name, for the REST operations drillbook makes.
REST = [
    ("route53", "POST", r"/2013-04-01/hostedzone/[^/]+/rrset/?", "ChangeResourceRecordSets"),
    ("route53", "POST", r"/2013-04-01/healthcheck/[^/]+", "UpdateHealthCheck"),
    ("route53", "POST", r"/2013-04-01/healthcheck/?", "CreateHealthCheck"),
    ("route53", "POST", r"/2013-04-01/hostedzone/?", "CreateHostedZone"),
    ("route53", "POST", r"/2013-04-01/tags/[^/]+/[^/]+", "ChangeTagsForResource"),
    ("apigateway", "PATCH", r"/restapis/[^/]+/stages/[^/]+", "UpdateStage"),
    ("apigateway", "POST", r"/restapis/[^/]+/deployments", "CreateDeployment"),
    ("apigateway", "PATCH", r"/domainnames/[^/]+/basepathmappings/[^/]+", "UpdateBasePathMapping"),
    ("apigateway", "POST", r"/domainnames/[^/]+/basepathmappings", "CreateBasePathMapping"),
    ("apigateway", "PATCH", r"/restapis/[^/]+", "UpdateRestApi"),
]

def event_name(environ: dict[str, Any], service: str) -> str | None:
    target = environ.get("HTTP_X_AMZ_TARGET", "")
    if target:
        return target.rsplit(".", 1)[-1]
    path = environ.get("PATH_INFO", "")
    m = re.match(r"/service/[^/]+/operation/([A-Za-z]+)", path)
    if m:
        return m.group(1)
    action = (parse_qs(environ.get("QUERY_STRING", "")).get("Action") or [None])[0]
    if action:
        return action
    method = environ.get("REQUEST_METHOD", "GET")
    for svc, verb, pattern, name in REST:
        if svc == service and verb == method and re.fullmatch(pattern, path):
            return name
    return None
