"""Route 53: unique change ids (PENDING then INSYNC), health checks that measure, GetHealthCheckStatus,
TestDNSAnswer as Route 53 answers, and the addresses the emulator gives alias targets.

Every behaviour cites the AWS page that decides it (see ../README.md, "Route 53 and ARC").
"""

from __future__ import annotations

import hashlib
import ipaddress
import random
import re
import threading
import time
import uuid
from typing import Any, NamedTuple

from . import cloudwatch, control, faults
from .config import seconds

from moto.core.responses import ActionResult
from moto.route53 import models as r53_models
from moto.route53 import responses as r53_responses
from moto.route53 import urls as r53_urls
from moto.route53.exceptions import InvalidInput, Route53ClientError

_LOCK = threading.RLock()
# change id -> (submitted_at, insync_at)
_CHANGES: dict[str, tuple[Any, float]] = {}
# health check id -> measured health set through /_drillbook/health (replaces the measurement)
_HEALTH: dict[str, bool] = {}
# name (lowercase, no final dot) or IP address -> Region that serves it (/_drillbook/targets)
_TARGETS: dict[str, str] = {}
# synthesized address -> the Region of the name it was made for
_ADDRESS_REGION: dict[str, str] = {}
# health check id -> last status with sufficient CloudWatch data (LastKnownStatus)
_CW_LAST: dict[str, bool] = {}

# ------------------------------------------------------------------ changes: PENDING -> INSYNC

_orig_crrs = r53_responses.Route53.change_resource_record_sets


def _crrs(self: Any) -> Any:
    result = _orig_crrs(self)
    zone_id = self._get_param("HostedZoneId")
    try:
        zone_name = self.backend.get_hosted_zone(zone_id).name
    except Exception:
        zone_name = ""
    # ChangeResourceRecordSets: PENDING until the change reaches every Route 53 DNS server,
    # "generally within 60 seconds" (Route 53 API reference, ChangeResourceRecordSets).
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

# ------------------------------------------------------------------ health check configuration
#
# moto 5.2.5 drops AlarmIdentifier, InsufficientDataHealthStatus and RoutingControlArn, shows
# Port/RequestInterval/FailureThreshold on types that have none, never bumps HealthCheckVersion,
# and its UpdateHealthCheck resets ChildHealthChecks and Regions when a request omits them.
# Source of the shapes: Route 53 API reference, HealthCheckConfig and UpdateHealthCheck
# (https://docs.aws.amazon.com/Route53/latest/APIReference/API_HealthCheckConfig.html,
#  https://docs.aws.amazon.com/Route53/latest/APIReference/API_UpdateHealthCheck.html).

ENDPOINT_TYPES = {"HTTP", "HTTPS", "HTTP_STR_MATCH", "HTTPS_STR_MATCH", "TCP"}
TYPES = ENDPOINT_TYPES | {"CALCULATED", "CLOUDWATCH_METRIC", "RECOVERY_CONTROL"}
# The Regions health checkers run from when a check names none (HealthCheckRegion enum,
# Route 53 API reference, HealthCheckConfig "Regions").
CHECKER_REGIONS = ["us-east-1", "us-west-1", "us-west-2", "eu-west-1", "ap-southeast-1",
                   "ap-southeast-2", "ap-northeast-1", "sa-east-1"]

_orig_hc_init = r53_models.HealthCheck.__init__


def _hc_init(self: Any, health_check_id: str, caller_reference: str,
             health_check_args: dict[str, Any]) -> None:
    _orig_hc_init(self, health_check_id, caller_reference, health_check_args)
    self.alarm_identifier = health_check_args.get("alarm_identifier")
    self.insufficient_data_health_status = health_check_args.get("insufficient_data_health_status")
    self.routing_control_arn = health_check_args.get("routing_control_arn")
    self.cloud_watch_alarm_configuration = None
    self.created_at = time.time()
    if self.type_ in ("CALCULATED", "CLOUDWATCH_METRIC", "RECOVERY_CONTROL"):
        # "Don't specify a value for Port when you specify a value for Type of CLOUDWATCH_METRIC
        # or CALCULATED"; RequestInterval/FailureThreshold "not supported" for RECOVERY_CONTROL.
        self.port = health_check_args.get("port")


r53_models.HealthCheck.__init__ = _hc_init  # type: ignore[method-assign]


def _hc_config(self: Any) -> dict[str, Any]:
    config: dict[str, Any] = {
        "Type": self.type_,
        "ResourcePath": self.resource_path,
        "FullyQualifiedDomainName": self.fqdn,
        "SearchString": self.search_string,
        "Inverted": self.inverted,
        "Disabled": self.disabled,
        "ChildHealthChecks": self.children,
        "EnableSNI": self.enable_sni,
        "Regions": self.regions,
    }
    if self.type_ == "CALCULATED":
        config["HealthThreshold"] = self.health_threshold
    elif self.type_ == "CLOUDWATCH_METRIC":
        config["AlarmIdentifier"] = getattr(self, "alarm_identifier", None)
        config["InsufficientDataHealthStatus"] = (
            getattr(self, "insufficient_data_health_status", None) or "LastKnownStatus")
    elif self.type_ == "RECOVERY_CONTROL":
        config["RoutingControlArn"] = getattr(self, "routing_control_arn", None)
    else:
        config["IPAddress"] = self.ip_address
        config["Port"] = self.port
        config["RequestInterval"] = self.request_interval
        config["FailureThreshold"] = self.failure_threshold
        config["MeasureLatency"] = self.measure_latency
    return {k: v for k, v in config.items() if v is not None}


r53_models.HealthCheck.health_check_config = property(_hc_config)  # type: ignore[assignment]


def _alarm_configuration(account: str, alarm_identifier: dict[str, Any] | None) -> Any:
    """The alarm's settings as Route 53 copies them into the health check
    (HealthCheck.CloudWatchAlarmConfiguration). Route 53 "doesn't automatically update the alarm
    settings in the health check" when the alarm changes; UpdateHealthCheck with the same
    AlarmIdentifier gets the latest settings (Route 53 developer guide, "Updating health checks
    when you change CloudWatch alarm settings")."""
    if not alarm_identifier:
        return None
    from moto.cloudwatch.models import cloudwatch_backends

    region, name = alarm_identifier.get("Region"), alarm_identifier.get("Name")
    try:
        backend = cloudwatch_backends[account][region]
    except Exception:
        return None
    alarm = backend.alarms.get(name) if hasattr(backend, "alarms") else None
    return None if alarm is None else cloudwatch.alarm_config(alarm)


def _public_alarm_configuration(self: Any) -> Any:
    cfg = self.__dict__.get("_cw_alarm_cfg")
    if not cfg:
        return None
    return {k: v for k, v in cfg.items() if not k.startswith("_")}


def _set_alarm_cfg(self: Any, value: Any) -> None:
    self.__dict__["_cw_alarm_cfg"] = value


r53_models.HealthCheck.cloud_watch_alarm_configuration = property(  # type: ignore[attr-defined]
    _public_alarm_configuration, _set_alarm_cfg)


def _validate_config(config: dict[str, Any]) -> None:
    t = config.get("Type")
    if t not in TYPES:
        raise InvalidInput(f"Invalid health check type {t!r}; valid: {sorted(TYPES)}")
    if t == "CLOUDWATCH_METRIC" and not (config.get("AlarmIdentifier") or {}).get("Name"):
        raise InvalidInput("AlarmIdentifier (Region, Name) is required for CLOUDWATCH_METRIC")
    if t == "RECOVERY_CONTROL" and not config.get("RoutingControlArn"):
        raise InvalidInput("RoutingControlArn is required for RECOVERY_CONTROL")
    ids = config.get("InsufficientDataHealthStatus")
    if ids is not None and ids not in ("Healthy", "Unhealthy", "LastKnownStatus"):
        raise InvalidInput(f"Invalid InsufficientDataHealthStatus {ids!r}")


def _create_health_check(self: Any) -> Any:
    caller_reference = self._get_param("CallerReference")
    config = self._get_param("HealthCheckConfig") or {}
    _validate_config(config)
    health_check_args = {
        "ip_address": config.get("IPAddress"),
        "port": config.get("Port"),
        "type": config["Type"],
        "resource_path": config.get("ResourcePath"),
        "fqdn": config.get("FullyQualifiedDomainName"),
        "search_string": config.get("SearchString"),
        "request_interval": config.get("RequestInterval"),
        "failure_threshold": config.get("FailureThreshold"),
        "health_threshold": config.get("HealthThreshold"),
        "measure_latency": config.get("MeasureLatency"),
        "inverted": config.get("Inverted"),
        "disabled": config.get("Disabled"),
        "enable_sni": config.get("EnableSNI"),
        "children": config.get("ChildHealthChecks") or [],
        "regions": config.get("Regions") or [],
        "alarm_identifier": config.get("AlarmIdentifier"),
        "insufficient_data_health_status": config.get("InsufficientDataHealthStatus"),
        "routing_control_arn": config.get("RoutingControlArn"),
    }
    # CreateHealthCheck is idempotent per CallerReference with the same settings.
    for hc in self.backend.list_health_checks():
        if hc.caller_reference == caller_reference:
            return ActionResult({"HealthCheck": hc})
    hc = self.backend.create_health_check(caller_reference, health_check_args)
    if hc.type_ == "CLOUDWATCH_METRIC":
        hc.cloud_watch_alarm_configuration = _alarm_configuration(
            self.current_account, hc.alarm_identifier)
    return ActionResult({"HealthCheck": hc})


r53_responses.Route53.create_health_check = _create_health_check  # type: ignore[method-assign]


def _update_health_check(self: Any) -> Any:
    hc = self.backend.get_health_check(self._get_param("HealthCheckId"))
    version = self._get_param("HealthCheckVersion")
    if version is not None and int(version) != int(hc.health_check_version):
        raise Route53ClientError(
            "HealthCheckVersionMismatch",
            "The value of HealthCheckVersion in the request doesn't match the value of "
            "HealthCheckVersion in the health check.")
    simple = {
        "IPAddress": "ip_address", "Port": "port", "ResourcePath": "resource_path",
        "FullyQualifiedDomainName": "fqdn", "SearchString": "search_string",
        "FailureThreshold": "failure_threshold", "HealthThreshold": "health_threshold",
        "EnableSNI": "enable_sni", "InsufficientDataHealthStatus": "insufficient_data_health_status",
    }
    for param, attr in simple.items():
        v = self._get_param(param)
        if v is not None:
            setattr(hc, attr, v)
    for param, attr in (("Inverted", "inverted"), ("Disabled", "disabled")):
        v = self._get_param(param)
        if v is not None:
            setattr(hc, attr, v if isinstance(v, bool) else str(v).lower() == "true")
    # Only elements present in the request change; ResetElements resets to the default
    # (Route 53 API reference, UpdateHealthCheck "ResetElements").
    children = self._get_param("ChildHealthChecks")
    if children is not None:
        hc.set_children(children)
    regions = self._get_param("Regions")
    if regions is not None:
        hc.set_regions(regions)
    for element in self._get_param("ResetElements") or []:
        if element == "ChildHealthChecks":
            hc.children = None
        elif element == "FullyQualifiedDomainName":
            hc.fqdn = None
        elif element == "Regions":
            hc.regions = None
        elif element == "ResourcePath":
            hc.resource_path = None
    alarm = self._get_param("AlarmIdentifier")
    if alarm:
        hc.alarm_identifier = alarm
    if hc.type_ == "CLOUDWATCH_METRIC" and alarm:
        hc.cloud_watch_alarm_configuration = _alarm_configuration(
            self.current_account, hc.alarm_identifier)
    hc.health_check_version = int(hc.health_check_version) + 1
    return ActionResult({"HealthCheck": hc})


r53_responses.Route53.update_health_check = _update_health_check  # type: ignore[method-assign]

# ------------------------------------------------------------------ Regions of targets


_EXECUTE_API = re.compile(r"\.execute-api\.([a-z]{2}(?:-[a-z]+)+-\d)\.amazonaws\.com$")


def _norm(name: str | None) -> str:
    return (name or "").strip().rstrip(".").lower()


def region_of(name_or_ip: str | None) -> str | None:
    """The Region that serves a name or address: a registered target, an API Gateway regional
    domain name / execute-api host (`*.execute-api.REGION.amazonaws.com`), or an address the
    emulator synthesized for such a name."""
    key = _norm(name_or_ip)
    if not key:
        return None
    with _LOCK:
        if key in _TARGETS:
            return _TARGETS[key]
        if key in _ADDRESS_REGION:
            return _ADDRESS_REGION[key]
    m = _EXECUTE_API.search(key)
    return m.group(1) if m else None


# How many addresses an API Gateway regional name answers from, and how many each answer holds.
# API Gateway's Regional endpoints are names, not addresses (API Gateway DG, "Set up a Regional
# custom domain name in API Gateway": the custom domain is an alias to the Regional domain name),
# served by several addresses that change from one lookup to the next, as dig shows on AWS. So two
# lookups of the same name (a lookup here and TestDNSAnswer, whose resolver is in us-east-1) need
# not return the same set, only addresses of the same endpoint: each answer here is a random
# ROTATING_ANSWER of the name's ROTATING_SET addresses, so two answers always share one.
ROTATING_SET = 3
ROTATING_ANSWER = 2


def _address(key: str, rtype: str) -> str:
    digest = int.from_bytes(hashlib.sha256(key.encode()).digest(), "big")
    if rtype == "AAAA":
        net = ipaddress.IPv6Network("2001:db8::/32")
        return str(net.network_address + (digest % net.num_addresses))
    net4 = ipaddress.IPv4Network("198.18.0.0/15")
    # skip the network address (all zero host bits) and keep it a plain unicast host
    return str(net4.network_address + 1 + (digest % (net4.num_addresses - 2)))


def address_set(name: str, rtype: str = "A") -> list[str]:
    """Every address the emulator may give an alias target name, in a stable order: the first
    is SHA-256 of the lowercased name without its final dot, placed in 198.18.0.0/15 (A; RFC
    2544 benchmarking range) or 2001:db8::/32 (AAAA; RFC 3849 documentation range); an API
    Gateway name (`*.execute-api.REGION.amazonaws.com`) has ROTATING_SET of them, the i-th
    (i >= 1) from SHA-256 of `NAME#i`. Stable across runs and emulators."""
    key = _norm(name)
    count = ROTATING_SET if _EXECUTE_API.search(key) else 1
    out = [_address(key if i == 0 else f"{key}#{i}", rtype) for i in range(count)]
    region = region_of(key)
    if region:
        with _LOCK:
            for addr in out:
                _ADDRESS_REGION[addr] = region
    return out


def addresses(name: str, rtype: str = "A") -> list[str]:
    """The addresses one answer gives for an alias target name: its whole set when it has one
    address; for an API Gateway name a random ROTATING_ANSWER of its ROTATING_SET addresses, in
    random order, so two answers for the same name may differ but always share an address."""
    full = address_set(name, rtype)
    if len(full) <= ROTATING_ANSWER:
        return full
    return random.sample(full, ROTATING_ANSWER)


# ------------------------------------------------------------------ evaluation of health

# Endpoint checks are answered by the target's Region: a fault for API Gateway (or for every
# service) in that Region makes the endpoint fail.
_ENDPOINT_SERVICES = {"apigateway", "execute-api"}


def _tag_names(backend: Any, hc: Any) -> list[str]:
    names = [hc.caller_reference or ""]
    try:
        name = backend.list_tags_for_resource(hc.id).get("Name")
    except Exception:
        name = None
    if name:
        names.insert(0, name)
    return names


def _endpoint_healthy(backend: Any, hc: Any, now: float) -> tuple[bool, str]:
    """How Route 53 measures an endpoint: its health checkers see a failure once FailureThreshold
    consecutive checks RequestInterval apart failed, and success again the same way (Route 53
    developer guide, "How Amazon Route 53 determines whether a health check is healthy").
    Modelled as: the status at `now` is what the endpoint was at `now - delay`, with
    delay = route53_health_seconds (scoped by the check's Name tag or CallerReference), default
    FailureThreshold x RequestInterval. "Route 53 considers a new health check to be healthy
    until there's enough data to determine the actual status" (same page)."""
    target = hc.ip_address or hc.fqdn
    region = region_of(target)
    if region is None:
        return True, "Success: HTTP Status Code 200, OK"
    default = float(hc.failure_threshold or 3) * float(hc.request_interval or 30)
    delay = seconds("route53_health_seconds", _tag_names(backend, hc), default)
    t = now - delay
    created = getattr(hc, "created_at", 0.0)
    if t < created:
        return True, "Success: HTTP Status Code 200, OK"
    if faults.impaired_at(region, _ENDPOINT_SERVICES, t):
        if hc.type_ == "TCP":
            return False, "Failure: Connection timed out. The endpoint or the internet connection is down, or requests are being blocked by your firewall."
        return False, "Failure: HTTP Status Code 503, Service Unavailable"
    return True, "Success: HTTP Status Code 200, OK"


def _data_stream_state(account: str, hc: Any, now: float) -> str:
    """OK / ALARM / INSUFFICIENT_DATA / IGNORE from the alarm's metric data, with the alarm
    settings the health check copied. Route 53 "monitors the data stream for the corresponding
    alarm instead of monitoring the alarm state", so SetAlarmState cannot change the health check
    (Route 53 developer guide, "How Amazon Route 53 determines whether a health check is
    healthy", CloudWatch alarms). The evaluation itself is CloudWatch's (cloudwatch.py)."""
    cfg = hc.__dict__.get("_cw_alarm_cfg")
    if not cfg:
        return "INSUFFICIENT_DATA"
    from moto.cloudwatch.models import cloudwatch_backends

    region = (hc.alarm_identifier or {}).get("Region")
    try:
        backend = cloudwatch_backends[account][region]
    except Exception:
        return "INSUFFICIENT_DATA"
    return cloudwatch.data_state(backend, cfg, now)


def _cloudwatch_healthy(account: str, hc: Any, now: float) -> tuple[bool, str]:
    """CLOUDWATCH_METRIC: "If the state of the alarm is OK, the health check is considered
    healthy. If the state is ALARM, the health check is considered unhealthy." Otherwise
    InsufficientDataHealthStatus: Healthy, Unhealthy, or LastKnownStatus ("For new health checks
    that have no last known status, the default status for the health check is healthy")
    (Route 53 API reference, HealthCheckConfig)."""
    state = _data_stream_state(account, hc, now)
    if state in ("OK", "ALARM"):
        healthy = state == "OK"
        with _LOCK:
            _CW_LAST[hc.id] = healthy
        return healthy, f"{'Success' if healthy else 'Failure'}: CloudWatch alarm data is {state}"
    with _LOCK:
        last = _CW_LAST.get(hc.id, True)
    if state == "IGNORE":
        return last, "Success: no new data, state maintained" if last else "Failure: no new data"
    mode = hc.insufficient_data_health_status or "LastKnownStatus"
    healthy = {"Healthy": True, "Unhealthy": False}.get(mode, last)
    return healthy, f"{'Success' if healthy else 'Failure'}: insufficient data ({mode})"


def _measured(backend: Any, hc: Any, now: float, seen: set[str]) -> tuple[bool, str]:
    """The status before Disabled and Inverted are applied."""
    with _LOCK:
        override = _HEALTH.get(hc.id)
    if override is not None:
        return override, ("Success: HTTP Status Code 200, OK" if override
                          else "Failure: HTTP Status Code 503, Service Unavailable")
    if hc.type_ == "CALCULATED":
        # "Route 53 adds up the number of health checks that Route 53 health checkers consider to
        # be healthy and compares that number with the value of HealthThreshold." "If you specify
        # a number greater than the number of child health checks, Route 53 always considers this
        # health check to be unhealthy. If you specify 0, Route 53 always considers this health
        # check to be healthy." (Route 53 API reference, HealthCheckConfig)
        children = hc.children or []
        healthy_children = 0
        for child in children:
            if child in seen:
                continue
            try:
                ok, _ = evaluate(backend, child, now, seen | {hc.id})
            except Exception:
                ok = False
            healthy_children += 1 if ok else 0
        threshold = int(hc.health_threshold if hc.health_threshold is not None else len(children))
        ok = healthy_children >= threshold
        return ok, (f"{'Success' if ok else 'Failure'}: {healthy_children} of {len(children)} "
                    f"child health checks healthy (HealthThreshold {threshold})")
    if hc.type_ == "CLOUDWATCH_METRIC":
        return _cloudwatch_healthy(getattr(backend, "account_id", "123456789012"), hc, now)
    if hc.type_ == "RECOVERY_CONTROL":
        # "If the routing control state is ON, the health check is considered healthy. If the
        # state is OFF, the health check is considered unhealthy." (HealthCheckConfig Type).
        # AWS documents no delay: the state applies at once.
        from . import arc

        state = arc.routing_control_state(hc.routing_control_arn)
        ok = state == "On"
        return ok, f"{'Success' if ok else 'Failure'}: routing control is {state or 'unknown'}"
    return _endpoint_healthy(backend, hc, now)


def evaluate(backend: Any, hc_id: str, now: float | None = None,
             seen: set[str] | None = None) -> tuple[bool, str]:
    """The status Route 53 routes on: measured (or the override), then Disabled ("Route 53
    considers the status of the health check to always be healthy"), then Inverted ("invert the
    status of a health check") (Route 53 API reference, HealthCheckConfig)."""
    hc = backend.get_health_check(hc_id)
    now = time.time() if now is None else now
    if hc.disabled:
        healthy, reason = True, "Success: health check is disabled"
    else:
        healthy, reason = _measured(backend, hc, now, seen or {hc_id})
    if hc.inverted:
        healthy = not healthy
        reason += " (inverted)"
    return healthy, reason


def _effective_healthy(backend: Any, hc_id: str) -> bool:
    return evaluate(backend, hc_id)[0]


def _get_health_check_status(self: Any) -> Any:
    hc_id = self._get_param("HealthCheckId")
    hc = self.backend.get_health_check(hc_id)
    healthy, reason = evaluate(self.backend, hc_id)
    if healthy and not reason.startswith("Success"):
        reason = "Success: " + reason.split(": ", 1)[-1]
    if not healthy and not reason.startswith("Failure"):
        reason = "Failure: " + reason.split(": ", 1)[-1]
    from moto.core.utils import utcnow

    observations = [
        {
            "Region": region,
            "IPAddress": f"127.0.13.{37 + i}",
            "StatusReport": {"Status": reason, "CheckedTime": utcnow()},
        }
        for i, region in enumerate(hc.regions or CHECKER_REGIONS)
    ]
    return ActionResult({"HealthCheckObservations": observations})


r53_responses.Route53.get_health_check_status = _get_health_check_status  # type: ignore[method-assign]

# ------------------------------------------------------------------ TestDNSAnswer


def _attr(rr: Any, name: str) -> Any:
    return getattr(rr, name, None)


def _values(rr: Any) -> list[str]:
    return [r["Value"] if isinstance(r, dict) else str(r) for r in (rr.records or [])]


class _Resolver:
    """Answers a query the way Route 53 chooses records (Route 53 developer guide, "How Amazon
    Route 53 chooses records when health checking is configured",
    https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/health-checks-how-route-53-chooses-records.html,
    and "How health checks work in complex Amazon Route 53 configurations",
    https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/dns-failover-complex-configs.html)."""

    def __init__(self, backend: Any, zone: Any):
        self.backend = backend
        self.zone = zone
        self.zone_id = zone.id.split("/")[-1]
        self.zone_name = _norm(zone.name)
        self.now = time.time()

    def group(self, name: str, rtype: str) -> list[Any]:
        key = _norm(name)
        exact = [rr for rr in self.zone.rrsets if _norm(rr.name) == key and rr.type == rtype]
        if exact or self.names(key):
            return exact
        # wildcard: the closest enclosing *.label (RFC 4592), only when the name does not exist
        labels = key.split(".")
        for i in range(1, len(labels)):
            wild = "*." + ".".join(labels[i:])
            rrs = [rr for rr in self.zone.rrsets
                   if _norm(rr.name).replace("\\052", "*") == wild and rr.type == rtype]
            if rrs:
                return rrs
        return []

    def names(self, key: str) -> bool:
        return any(_norm(rr.name) == key for rr in self.zone.rrsets)

    def hc_healthy(self, rr: Any) -> bool | None:
        hc = _attr(rr, "health_check_id") or _attr(rr, "health_check")
        if not hc:
            return None
        try:
            return evaluate(self.backend, hc, self.now)[0]
        except Exception:
            # A deleted health check: "the future status of the health check can't be predicted"
            # (Route 53 developer guide, "Updating or deleting health checks when DNS failover is
            # configured"); treated as healthy.
            return True

    def alias_target_healthy(self, alias: dict[str, Any], rtype: str, depth: int) -> bool:
        """EvaluateTargetHealth: "an alias resource record set inherits the health of the
        referenced Amazon Web Services resource, such as ... another resource record set in the
        hosted zone" (Route 53 API reference, AliasTarget)."""
        target = _norm(alias.get("DNSName"))
        if alias.get("HostedZoneId") == self.zone_id or self.names(target):
            # "As long as at least one of the weighted records is healthy, Route 53 considers the
            # alias record to be healthy." Records without a health check are always healthy.
            rrs = self.group(target, rtype) or self.group(target, "CNAME")
            if not rrs or depth > 8:
                return True
            return any(self.healthy(rr, depth + 1) for rr in rrs)
        region = region_of(target)
        if region is None:
            return True
        # An API Gateway regional endpoint is as healthy as its Region; the delay is the one of an
        # endpoint health check with the defaults (FailureThreshold 3 x RequestInterval 30 s),
        # scoped by the zone name and the target name.
        delay = seconds("route53_health_seconds", [self.zone_name, target], 90.0)
        return not faults.impaired_at(region, _ENDPOINT_SERVICES, self.now - delay)

    def healthy(self, rr: Any, depth: int = 0) -> bool:
        """"Both of the following must be true": the record's own health check passes, and (alias
        with EvaluateTargetHealth) its target is healthy. No health check: always healthy."""
        hc = self.hc_healthy(rr)
        if hc is False:
            return False
        alias = _attr(rr, "alias_target")
        if alias and str(alias.get("EvaluateTargetHealth")).lower() == "true":
            return self.alias_target_healthy(alias, rr.type, depth)
        return True

    def choose(self, rrs: list[Any], depth: int = 0) -> list[Any]:
        """The records that answer, by routing policy."""
        if not rrs:
            return []
        health = {id(rr): self.healthy(rr, depth) for rr in rrs}
        if any(_attr(rr, "failover") for rr in rrs):
            # Failover (Route 53 API reference, ResourceRecordSet "Failover"; developer guide,
            # "How Amazon Route 53 chooses records ..."): primary when healthy; secondary when the
            # primary is unhealthy and the secondary healthy (a secondary without a health check
            # is always healthy); "If Route 53 considers both the primary and secondary records
            # unhealthy, Route 53 returns the primary record."
            primary = [rr for rr in rrs if _attr(rr, "failover") == "PRIMARY"]
            secondary = [rr for rr in rrs if _attr(rr, "failover") == "SECONDARY"]
            if primary and health[id(primary[0])]:
                return primary[:1]
            if secondary and health[id(secondary[0])]:
                return secondary[:1]
            return (primary or secondary)[:1]
        if any(_attr(rr, "multi_value_answer") for rr in rrs):
            # Multivalue answer: every healthy record (up to eight); all when none is healthy.
            ok = [rr for rr in rrs if health[id(rr)]] or rrs
            return ok[:8]
        if any(_attr(rr, "weight") is not None for rr in rrs):
            # Weighted, made deterministic: the healthy record with the highest weight (ties: the
            # first SetIdentifier in order). "Route 53 initially considers only the nonzero
            # weighted records"; "If all the records that have a weight greater than 0 are
            # unhealthy, then Route 53 considers the zero-weighted records"; "If no record is
            # healthy, all records are healthy".
            ordered = sorted(rrs, key=lambda rr: (-float(_attr(rr, "weight") or 0),
                                                  str(_attr(rr, "set_identifier") or "")))
            nonzero = [rr for rr in ordered if float(_attr(rr, "weight") or 0) > 0]
            zero = [rr for rr in ordered if float(_attr(rr, "weight") or 0) == 0]
            for pool in (nonzero, zero):
                ok = [rr for rr in pool if health[id(rr)]]
                if ok:
                    return ok[:1]
            return (nonzero or zero)[:1]
        if any(_attr(rr, "set_identifier") for rr in rrs):
            # Latency, geolocation and other policies: the healthy record whose Region is the
            # resolver's (TestDNSAnswer's default resolver is in us-east-1), else the first
            # healthy one by SetIdentifier; all unhealthy: all healthy.
            ordered = sorted(rrs, key=lambda rr: (_attr(rr, "region") != "us-east-1",
                                                  str(_attr(rr, "set_identifier") or "")))
            ok = [rr for rr in ordered if health[id(rr)]] or ordered
            return ok[:1]
        return rrs[:1]

    def answer(self, name: str, rtype: str, depth: int = 0) -> tuple[str, list[str]]:
        """TestDNSAnswer's view: (ResponseCode, RecordData)."""
        code, recs = self.records(name, rtype, depth)
        return code, [r.value for r in recs]

    def records(self, name: str, rtype: str, depth: int = 0) -> tuple[str, list[Answer]]:
        """(response code, the records that answer, each with its type and TTL)."""
        rrs = self.group(name, rtype)
        if not rrs and rtype != "CNAME":
            rrs = self.group(name, "CNAME")
        if not rrs:
            key = _norm(name)
            exists = self.names(key) or any(_norm(rr.name).endswith("." + key)
                                            for rr in self.zone.rrsets)
            return ("NOERROR" if exists else "NXDOMAIN"), []
        data: list[Answer] = []
        for rr in self.choose(rrs, depth):
            alias = _attr(rr, "alias_target")
            if not alias:
                # CNAME records answer with the name they point to; others with their values.
                ttl = _ttl(rr.ttl)
                data.extend(Answer(rr.type, ttl, v) for v in _values(rr))
                continue
            target = _norm(alias.get("DNSName"))
            if (alias.get("HostedZoneId") == self.zone_id or self.names(target)) and depth < 8:
                # "If an alias record points to another record in the same hosted zone, Route 53
                # uses the TTL of the record that the alias record points to" (developer guide,
                # "Choosing between alias and non-alias records").
                _, sub = self.records(target, rr.type, depth + 1)
                data.extend(sub)
            elif rr.type in ("A", "AAAA"):
                # Alias A/AAAA records answer with addresses, as dig does (TestDNSAnswer "returns
                # information similar to what you would expect from the answer section of the dig
                # command", Route 53 API reference, TestDNSAnswer).
                data.extend(Answer(rr.type, ALIAS_TTL, a) for a in addresses(target, rr.type))
            else:
                data.append(Answer(rr.type, ALIAS_TTL, target))
        return "NOERROR", data


class Answer(NamedTuple):
    """One record of an answer: type, TTL (seconds) and value as Route 53 stores it."""
    rtype: str
    ttl: int
    value: str


# "If an alias record points to an AWS resource, you can't set the time to live (TTL); Route 53
# uses the default TTL for the resource" (developer guide, "Choosing between alias and non-alias
# records"); the emulator uses 60 s, "the TTL for load balancers" (API reference,
# ResourceRecordSet TTL), for every AWS resource.
ALIAS_TTL = 60


def _ttl(value: Any) -> int:
    try:
        return max(0, int(float(value)))
    except (TypeError, ValueError):
        return 300


def answer(backend: Any, zone: Any, name: str, rtype: str) -> tuple[str, list[Answer]]:
    """What Route 53 answers for `name` `rtype` in `zone` (a moto hosted zone of `backend`), with
    the record selection of TestDNSAnswer: ("NOERROR" or "NXDOMAIN", [Answer(type, ttl, value)]).
    A CNAME answers a query of another type with itself (not followed); alias records answer with
    their target's records (same zone) or addresses (AWS resources)."""
    return _Resolver(backend, zone).records(name, rtype)


def _test_dns_answer(self: Any) -> Any:
    zone_id = self._get_param("hostedzoneid") or self._get_param("HostedZoneId")
    name = (self._get_param("recordname") or self._get_param("RecordName") or "").rstrip(".")
    rtype = self._get_param("recordtype") or self._get_param("RecordType") or "A"
    zone = self.backend.get_hosted_zone(zone_id)
    code, data = _Resolver(self.backend, zone).answer(name, rtype)
    return ActionResult({
        "Nameserver": "ns-2048.awsdns-64.com",
        "RecordName": name,
        "RecordType": rtype,
        "RecordData": data,
        "ResponseCode": code,
        "Protocol": "UDP",
    })


r53_responses.Route53.test_dns_answer = _test_dns_answer  # type: ignore[attr-defined]
r53_urls.url_paths[r"{0}/(?P<api_version>[\d_-]+)/testdnsanswer$"] = r53_responses.Route53.dispatch

# ------------------------------------------------------------------ control routes


def _health_route(method: str, body: Any, query: dict[str, list[str]]) -> Any:
    """Overrides the measured health of a health check (before Disabled/Inverted are applied);
    `"healthy": null` (or DELETE ?health_check_id=) drops the override."""
    if method == "POST":
        hc = body.get("health_check_id") if isinstance(body, dict) else None
        if not hc or not (isinstance(body.get("healthy"), bool) or body.get("healthy") is None):
            raise ValueError("need health_check_id and boolean (or null) healthy")
        with _LOCK:
            if body["healthy"] is None:
                _HEALTH.pop(hc, None)
            else:
                _HEALTH[hc] = body["healthy"]
    elif method == "DELETE":
        hc = (query.get("health_check_id") or [None])[0]
        with _LOCK:
            if hc:
                _HEALTH.pop(hc, None)
            else:
                _HEALTH.clear()
    with _LOCK:
        return dict(_HEALTH)


def _targets_route(method: str, body: Any, query: dict[str, list[str]]) -> Any:
    """Which Region serves a name or an address (for health checks that measure):
    POST {"name": N, "region": R}; GET lists; DELETE ?name=N."""
    if method == "POST":
        if not isinstance(body, dict) or not body.get("name") or not body.get("region"):
            raise ValueError('body must be {"name": NAME_OR_IP, "region": REGION}')
        region = body["region"]
        if not isinstance(region, str) or not re.fullmatch(r"[a-z]{2}(-[a-z]+)+-\d", region):
            raise ValueError(f"region must be an AWS Region name, not {region!r}")
        key = _norm(body["name"])
        with _LOCK:
            _TARGETS[key] = region
        for t in ("A", "AAAA"):
            address_set(key, t)
    elif method == "DELETE":
        name = (query.get("name") or [None])[0]
        with _LOCK:
            if name:
                _TARGETS.pop(_norm(name), None)
            else:
                _TARGETS.clear()
    with _LOCK:
        return {"targets": dict(_TARGETS)}


def _resolve_route(method: str, body: Any, query: dict[str, list[str]]) -> Any:
    """GET ?name=N[&type=A|AAAA]: every address TestDNSAnswer and the DNS server may give an
    alias to N (each answer holds some of them: `addresses`)."""
    name = (query.get("name") or [None])[0]
    if not name:
        raise ValueError("need ?name=NAME (and optionally &type=A or AAAA)")
    rtype = (query.get("type") or [None])[0]
    if rtype is not None and rtype not in ("A", "AAAA"):
        raise ValueError("type must be A or AAAA")
    doc: dict[str, Any] = {"name": _norm(name), "region": region_of(name),
                           "A": address_set(name, "A"), "AAAA": address_set(name, "AAAA")}
    if rtype:
        doc["type"] = rtype
        doc["addresses"] = doc[rtype]
    return doc


control.route("/_drillbook/health", _health_route)
control.route("/_drillbook/targets", _targets_route)
control.route("/_drillbook/resolve", _resolve_route)
