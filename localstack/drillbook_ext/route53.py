"""Route 53: unique change ids, PENDING then INSYNC, health-check status, TestDNSAnswer."""

from __future__ import annotations

import time
import uuid
from typing import Any

from . import control
from .config import seconds

from moto.core.responses import ActionResult
from moto.route53 import responses as r53_responses

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
    delay = seconds("route53_change_pending_seconds", [zone_name.rstrip(".")])
    change_id = "C" + uuid.uuid4().hex[:20].upper()
    info = result.result["ChangeInfo"]
    _CHANGES[change_id] = (info["SubmittedAt"], time.time() + delay)
    info["Id"] = f"/change/{change_id}"
    info["Status"] = "PENDING" if delay > 0 else "INSYNC"
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

from moto.route53 import urls as r53_urls

r53_urls.url_paths[r"{0}/(?P<api_version>[\d_-]+)/testdnsanswer$"] = r53_responses.Route53.dispatch



def _health_route(method: str, body: Any, query: dict[str, list[str]]) -> Any:
    """Overrides the measured health of a health check (before Inverted is applied)."""
    if method == "POST":
        hc = body.get("health_check_id") if isinstance(body, dict) else None
        if not hc or not isinstance(body.get("healthy"), bool):
            raise ValueError("need health_check_id and boolean healthy")
        _HEALTH[hc] = body["healthy"]
    return _HEALTH


control.route("/_drillbook/health", _health_route)
