"""Route 53 Application Recovery Controller (ARC) routing control, which moto does not serve:

* route53-recovery-control-config (REST-JSON, signed `route53-recovery-control-config`, called in
  us-west-2 on AWS): clusters, control panels, routing controls, safety rules.
* route53-recovery-cluster (JSON 1.0, `X-Amz-Target: ToggleCustomerAPI.<Op>`): the data plane,
  served only at a cluster's five endpoints, `http://HOST/arc/CLUSTER_ID/REGION/v1`, each signed
  for its own Region, so a Region fault takes out that endpoint only.

Sources (see ../README.md, "Route 53 and ARC"):
* Routing control API reference and its botocore model (operations, shapes, errors).
* ARC developer guide, "Set up routing control components"
  (https://docs.aws.amazon.com/r53recovery/latest/dg/getting-started-cli-routing-config.html):
  "An ARC cluster is a set of five endpoints, one in each of five different AWS Regions";
  "When you first create a ARC resource, it has a status of PENDING ... When the status is
  DEPLOYED, ARC has successfully created the cluster".
* Recovery Control Config API, CreateCluster: "an array of the five cluster endpoints (one for
  each supported AWS Region)"; RuleConfig/RuleType (ATLEAST, AND, OR, Inverted).
"""

from __future__ import annotations

import json
import re
import threading
import time
import uuid
from typing import Any
from urllib.parse import parse_qs, unquote

from . import config, control

ACCOUNT = "123456789012"
# The five Regions of an ARC cluster's endpoints. AWS's pages say "one in each of five different
# AWS Regions" without naming them; these are the Regions real clusters list in ClusterEndpoints.
CLUSTER_REGIONS = ["us-east-1", "us-west-2", "eu-west-1", "ap-northeast-1", "ap-southeast-2"]
CONFIG_SERVICE = "route53-recovery-control-config"
CLUSTER_SERVICE = "route53-recovery-cluster"

_LOCK = threading.RLock()
_CLUSTERS: dict[str, dict[str, Any]] = {}
_PANELS: dict[str, dict[str, Any]] = {}
_CONTROLS: dict[str, dict[str, Any]] = {}
_RULES: dict[str, dict[str, Any]] = {}
# Safety rule ARN -> when the routing controls it governs last changed (time.monotonic()).
_LAST_CHANGE: dict[str, float] = {}
_TOKENS: dict[str, str] = {}
_TAGS: dict[str, dict[str, str]] = {}


class ArcError(Exception):
    def __init__(self, status: int, code: str, message: str, **extra: Any):
        super().__init__(message)
        self.status, self.code, self.message, self.extra = status, code, message, extra


def _not_found(kind: str, arn: str) -> ArcError:
    return ArcError(404, "ResourceNotFoundException", f"{kind} {arn} does not exist",
                    resourceId=arn, resourceType=kind)


def _validation(message: str) -> ArcError:
    return ArcError(400, "ValidationException", message)


def routing_control_state(arn: str | None) -> str | None:
    """"On"/"Off" for a routing control ARN, None when it does not exist (used by Route 53's
    RECOVERY_CONTROL health checks)."""
    with _LOCK:
        rc = _CONTROLS.get(arn or "")
        return rc["state"] if rc else None


# ------------------------------------------------------------------ resources


def _cluster_doc(c: dict[str, Any], base: str, for_create: bool) -> dict[str, Any]:
    doc = {"ClusterArn": c["arn"], "Name": c["name"], "Owner": ACCOUNT,
           "NetworkType": c["network_type"]}
    if for_create:
        doc["Status"] = "PENDING"  # the endpoints come with DEPLOYED (getting-started page)
        return doc
    doc["Status"] = "DEPLOYED"
    doc["ClusterEndpoints"] = [
        {"Endpoint": f"{base}/arc/{c['id']}/{region}/v1", "Region": region}
        for region in CLUSTER_REGIONS
    ]
    return doc


def _panel_doc(p: dict[str, Any], for_create: bool = False) -> dict[str, Any]:
    count = sum(1 for rc in _CONTROLS.values() if rc["panel"] == p["arn"])
    return {"ClusterArn": p["cluster"], "ControlPanelArn": p["arn"],
            "DefaultControlPanel": p["default"], "Name": p["name"], "RoutingControlCount": count,
            "Status": "PENDING" if for_create else "DEPLOYED", "Owner": ACCOUNT}


def _control_doc(rc: dict[str, Any], for_create: bool = False) -> dict[str, Any]:
    return {"ControlPanelArn": rc["panel"], "Name": rc["name"], "RoutingControlArn": rc["arn"],
            "Status": "PENDING" if for_create else "DEPLOYED", "Owner": ACCOUNT}


def _rule_doc(r: dict[str, Any], for_create: bool = False) -> dict[str, Any]:
    doc = {k: v for k, v in r.items() if not k.startswith("_")}
    doc["Status"] = "PENDING" if for_create else "DEPLOYED"
    doc["Owner"] = ACCOUNT
    return doc


def _idempotent(token: str | None, kind: str) -> str | None:
    if token and f"{kind}:{token}" in _TOKENS:
        return _TOKENS[f"{kind}:{token}"]
    return None


def _new_panel(cluster_arn: str, name: str, default: bool) -> dict[str, Any]:
    pid = uuid.uuid4().hex
    arn = f"arn:aws:route53-recovery-control::{ACCOUNT}:controlpanel/{pid}"
    p = {"arn": arn, "id": pid, "cluster": cluster_arn, "name": name, "default": default}
    _PANELS[arn] = p
    return p


def _require_name(value: Any, field: str) -> str:
    if not isinstance(value, str) or not value or len(value) > 64 or re.search(r"\s", value):
        raise _validation(f"{field} must be 1-64 non-white-space characters")
    return value


def _create_cluster(body: dict[str, Any], base: str) -> dict[str, Any]:
    name = _require_name(body.get("ClusterName"), "ClusterName")
    with _LOCK:
        arn = _idempotent(body.get("ClientToken"), "cluster")
        if arn:
            return {"Cluster": _cluster_doc(_CLUSTERS[arn], base, True)}
        cid = str(uuid.uuid4())
        arn = f"arn:aws:route53-recovery-control::{ACCOUNT}:cluster/{cid}"
        c = {"arn": arn, "id": cid, "name": name,
             "network_type": body.get("NetworkType") or "IPV4"}
        _CLUSTERS[arn] = c
        # Each cluster comes with a default control panel (DefaultControlPanel true).
        c["default_panel"] = _new_panel(arn, "DefaultControlPanel", True)["arn"]
        if body.get("ClientToken"):
            _TOKENS[f"cluster:{body['ClientToken']}"] = arn
        _TAGS[arn] = dict(body.get("Tags") or {})
        return {"Cluster": _cluster_doc(c, base, True)}


def _create_panel(body: dict[str, Any]) -> dict[str, Any]:
    name = _require_name(body.get("ControlPanelName"), "ControlPanelName")
    with _LOCK:
        arn = _idempotent(body.get("ClientToken"), "panel")
        if arn:
            return {"ControlPanel": _panel_doc(_PANELS[arn], True)}
        cluster = body.get("ClusterArn")
        if cluster not in _CLUSTERS:
            raise _not_found("Cluster", str(cluster))
        p = _new_panel(cluster, name, False)
        if body.get("ClientToken"):
            _TOKENS[f"panel:{body['ClientToken']}"] = p["arn"]
        _TAGS[p["arn"]] = dict(body.get("Tags") or {})
        return {"ControlPanel": _panel_doc(p, True)}


def _create_control(body: dict[str, Any]) -> dict[str, Any]:
    name = _require_name(body.get("RoutingControlName"), "RoutingControlName")
    with _LOCK:
        arn = _idempotent(body.get("ClientToken"), "control")
        if arn:
            return {"RoutingControl": _control_doc(_CONTROLS[arn], True)}
        cluster = body.get("ClusterArn")
        if cluster not in _CLUSTERS:
            raise _not_found("Cluster", str(cluster))
        panel_arn = body.get("ControlPanelArn") or _CLUSTERS[cluster]["default_panel"]
        panel = _PANELS.get(panel_arn)
        if panel is None:
            raise _not_found("ControlPanel", panel_arn)
        if panel["cluster"] != cluster:
            raise _validation(f"control panel {panel_arn} is not on cluster {cluster}")
        # "routing control names must be unique within each control panel" (ARC developer
        # guide, "Creating a routing control in ARC").
        if any(rc["panel"] == panel_arn and rc["name"] == name for rc in _CONTROLS.values()):
            raise ArcError(409, "ConflictException",
                           f"a routing control named {name} already exists in {panel_arn}")
        rid = uuid.uuid4().hex
        arn = f"{panel_arn}/routingcontrol/{rid}"
        # A new routing control is Off: no traffic flows to a cell until it is turned On.
        _CONTROLS[arn] = {"arn": arn, "id": rid, "panel": panel_arn, "cluster": cluster,
                          "name": name, "state": "Off"}
        if body.get("ClientToken"):
            _TOKENS[f"control:{body['ClientToken']}"] = arn
        return {"RoutingControl": _control_doc(_CONTROLS[arn], True)}


def _rule_config(raw: Any, count: int) -> dict[str, Any]:
    if not isinstance(raw, dict) or raw.get("Type") not in ("ATLEAST", "AND", "OR"):
        raise _validation("RuleConfig.Type must be ATLEAST, AND or OR")
    threshold = raw.get("Threshold")
    if not isinstance(threshold, int) or isinstance(threshold, bool):
        raise _validation("RuleConfig.Threshold (integer) is required")
    if raw["Type"] == "ATLEAST" and not 0 <= threshold <= count:
        raise _validation(f"RuleConfig.Threshold must be between 0 and {count}")
    return {"Type": raw["Type"], "Threshold": threshold, "Inverted": bool(raw.get("Inverted"))}


def _create_rule(body: dict[str, Any]) -> dict[str, Any]:
    assertion, gating = body.get("AssertionRule"), body.get("GatingRule")
    if bool(assertion) == bool(gating):
        raise _validation("specify exactly one of AssertionRule and GatingRule")
    kind = "ASSERTION" if assertion else "GATING"
    spec = assertion or gating
    with _LOCK:
        arn = _idempotent(body.get("ClientToken"), "rule")
        if arn:
            r = _RULES[arn]
            return {f"{r['_kind'].title()}Rule": _rule_doc(r, True)}
        panel_arn = spec.get("ControlPanelArn")
        if panel_arn not in _PANELS:
            raise _not_found("ControlPanel", str(panel_arn))
        name = _require_name(spec.get("Name"), "Name")
        wait = spec.get("WaitPeriodMs")
        if not isinstance(wait, int) or isinstance(wait, bool) or wait < 0:
            raise _validation("WaitPeriodMs (integer) is required")
        fields = ("AssertedControls",) if kind == "ASSERTION" else ("GatingControls",
                                                                    "TargetControls")
        for f in fields:
            arns = spec.get(f)
            if not isinstance(arns, list) or not arns:
                raise _validation(f"{f} must list routing control ARNs")
            for a in arns:
                if a not in _CONTROLS:
                    raise _not_found("RoutingControl", str(a))
                if _CONTROLS[a]["panel"] != panel_arn:
                    raise _validation(f"routing control {a} is not in control panel {panel_arn}")
        counted = spec["AssertedControls"] if kind == "ASSERTION" else spec["GatingControls"]
        rid = uuid.uuid4().hex
        arn = f"{panel_arn}/safetyrule/{rid}"
        rule: dict[str, Any] = {"ControlPanelArn": panel_arn, "Name": name,
                                "RuleConfig": _rule_config(spec.get("RuleConfig"), len(counted)),
                                "SafetyRuleArn": arn, "WaitPeriodMs": wait, "_kind": kind}
        for f in fields:
            rule[f] = list(spec[f])
        _RULES[arn] = rule
        if body.get("ClientToken"):
            _TOKENS[f"rule:{body['ClientToken']}"] = arn
        _TAGS[arn] = dict(body.get("Tags") or {})
        return {f"{kind.title()}Rule": _rule_doc(rule, True)}


def _page(items: list[Any], query: dict[str, list[str]], key: str) -> dict[str, Any]:
    start = int((query.get("NextToken") or ["0"])[0] or 0)
    size = int((query.get("MaxResults") or ["100"])[0] or 100)
    out: dict[str, Any] = {key: items[start:start + size]}
    if start + size < len(items):
        out["NextToken"] = str(start + size)
    return out


def _config_request(method: str, path: str, query: dict[str, list[str]], body: dict[str, Any],
                    base: str) -> dict[str, Any]:
    """One Recovery Control Config call (paths from the botocore model)."""
    with _LOCK:
        if path == "/cluster" and method == "POST":
            return _create_cluster(body, base)
        if path == "/cluster" and method == "GET":
            items = [_cluster_doc(c, base, False) for c in _CLUSTERS.values()]
            return _page(items, query, "Clusters")
        if path == "/controlpanel" and method == "POST":
            return _create_panel(body)
        if path == "/controlpanels" and method == "GET":
            cluster = (query.get("ClusterArn") or [None])[0]
            items = [_panel_doc(p) for p in _PANELS.values()
                     if cluster is None or p["cluster"] == cluster]
            return _page(items, query, "ControlPanels")
        if path == "/routingcontrol" and method == "POST":
            return _create_control(body)
        if path == "/safetyrule" and method == "POST":
            return _create_rule(body)
        m = re.fullmatch(r"/controlpanel/(.+)/(routingcontrols|safetyrules)", path)
        if m and method == "GET":
            panel = m.group(1)
            if panel not in _PANELS:
                raise _not_found("ControlPanel", panel)
            if m.group(2) == "routingcontrols":
                items = [_control_doc(rc) for rc in _CONTROLS.values() if rc["panel"] == panel]
                return _page(items, query, "RoutingControls")
            rules = [{r["_kind"]: _rule_doc(r)} for r in _RULES.values()
                     if r["ControlPanelArn"] == panel]
            return _page(rules, query, "SafetyRules")
        m = re.fullmatch(r"/routingcontrol/(.+)/associatedRoute53HealthChecks", path)
        if m and method == "GET":
            return _page(_associated_health_checks(m.group(1)), query, "HealthCheckIds")
        m = re.fullmatch(r"/(cluster|controlpanel|routingcontrol|safetyrule)/(.+)", path)
        if m:
            return _one(method, m.group(1), m.group(2), base)
        m = re.fullmatch(r"/tags/(.+)", path)
        if m:
            tags = _TAGS.setdefault(m.group(1), {})
            if method == "POST":
                tags.update(body.get("Tags") or {})
                return {}
            if method == "DELETE":
                for k in query.get("TagKeys", []):
                    tags.pop(k, None)
                return {}
            return {"Tags": dict(tags)}
    raise ArcError(404, "ResourceNotFoundException", f"no operation {method} {path}",
                   resourceId=path, resourceType="Operation")


def _one(method: str, kind: str, arn: str, base: str) -> dict[str, Any]:
    table = {"cluster": _CLUSTERS, "controlpanel": _PANELS, "routingcontrol": _CONTROLS,
             "safetyrule": _RULES}[kind]
    label = {"cluster": "Cluster", "controlpanel": "ControlPanel",
             "routingcontrol": "RoutingControl", "safetyrule": "SafetyRule"}[kind]
    item = table.get(arn)
    if item is None:
        raise _not_found(label, arn)
    if method == "DELETE":
        if kind == "cluster" and any(p["cluster"] == arn and not p["default"]
                                     for p in _PANELS.values()):
            raise ArcError(409, "ConflictException", "delete the cluster's control panels first")
        if kind == "controlpanel" and any(rc["panel"] == arn for rc in _CONTROLS.values()):
            raise ArcError(409, "ConflictException", "delete the panel's routing controls first")
        del table[arn]
        return {}
    if kind == "cluster":
        return {"Cluster": _cluster_doc(item, base, False)}
    if kind == "controlpanel":
        return {"ControlPanel": _panel_doc(item)}
    if kind == "routingcontrol":
        return {"RoutingControl": _control_doc(item)}
    return {f"{item['_kind'].title()}Rule": _rule_doc(item)}


def _associated_health_checks(arn: str) -> list[str]:
    from moto.route53.models import route53_backends

    out = []
    for part in ("aws",):
        try:
            backend = route53_backends[ACCOUNT][part]
        except Exception:
            continue
        for hc in backend.list_health_checks():
            if getattr(hc, "routing_control_arn", None) == arn:
                out.append(hc.id)
    return out


# ------------------------------------------------------------------ data plane


def _rule_holds(rule: dict[str, Any], states: dict[str, str]) -> bool:
    """RuleType: "ATLEAST - At least N routing controls must be set ... AND - All routing
    controls must be set ... OR - Any control must be set"; Inverted: "Logical negation of the
    rule" (Recovery Control Config API reference, RuleConfig/RuleType). "Set" = On."""
    counted = rule["AssertedControls"] if rule["_kind"] == "ASSERTION" else rule["GatingControls"]
    on = sum(1 for a in counted if states.get(a) == "On")
    cfg = rule["RuleConfig"]
    need = {"ATLEAST": cfg["Threshold"], "AND": len(counted), "OR": 1}[cfg["Type"]]
    holds = on >= need
    return (not holds) if cfg["Inverted"] else holds


def _update_states(entries: list[dict[str, Any]], overrides: list[str],
                   cluster_arn: str) -> dict[str, Any]:
    """UpdateRoutingControlState(s): one transaction. An assertion rule that touches a changed
    control must hold afterwards; a gating rule must hold for its target controls to change;
    otherwise ConflictException, unless the rule is in SafetyRulesToOverride ("break glass")
    (Routing Control API reference, UpdateRoutingControlState)."""
    if not isinstance(entries, list) or not entries:
        raise _validation("at least one routing control state entry is required")
    with _LOCK:
        changes: dict[str, str] = {}
        for e in entries:
            arn, state = e.get("RoutingControlArn"), e.get("RoutingControlState")
            rc = _CONTROLS.get(arn or "")
            if rc is None or rc["cluster"] != cluster_arn:
                raise _not_found("RoutingControl", str(arn))
            if state not in ("On", "Off"):
                raise _validation(f"RoutingControlState must be On or Off, not {state!r}")
            changes[arn] = state
        after = {a: rc["state"] for a, rc in _CONTROLS.items()}
        after.update(changes)
        # A rule's WaitPeriodMs after a change of the controls it governs: "any request against
        # the target routing controls will fail" until it has passed (safety rule reference,
        # WaitPeriodMs). Answered as ConflictException, whose documented meaning is "try again".
        now = time.monotonic()
        for rule in _RULES.values():
            if rule["SafetyRuleArn"] in (overrides or []):
                continue
            if not set(_governed(rule)) & set(changes):
                continue
            wait = config.setting("arc_wait_period_seconds", [rule["Name"]])
            wait = rule["WaitPeriodMs"] / 1000.0 if wait is None else wait
            last = _LAST_CHANGE.get(rule["SafetyRuleArn"])
            if last is not None and now < last + wait:
                raise ArcError(409, "ConflictException",
                               f"the routing controls of safety rule {rule['Name']} changed "
                               f"{int((now - last) * 1000)} ms ago; its wait period is "
                               f"{int(wait * 1000)} ms",
                               resourceId=rule["SafetyRuleArn"], resourceType="SafetyRule")
        broken = []
        for rule in _RULES.values():
            if rule["SafetyRuleArn"] in (overrides or []):
                continue
            if rule["_kind"] == "ASSERTION":
                if set(rule["AssertedControls"]) & set(changes) and not _rule_holds(rule, after):
                    broken.append(rule)
            elif set(rule["TargetControls"]) & set(changes) and not _rule_holds(rule, after):
                broken.append(rule)
        if broken:
            names = ", ".join(f"{r['Name']} ({r['SafetyRuleArn']})" for r in broken)
            raise ArcError(409, "ConflictException",
                           f"the update violates safety rule(s): {names}",
                           resourceId=broken[0]["SafetyRuleArn"], resourceType="SafetyRule")
        for arn, state in changes.items():
            _CONTROLS[arn]["state"] = state
        for rule in _RULES.values():
            if set(_governed(rule)) & set(changes):
                _LAST_CHANGE[rule["SafetyRuleArn"]] = now
    return {}


def _governed(rule: dict[str, Any]) -> list[str]:
    """The routing controls whose updates a rule evaluates: its asserted controls, or a gating
    rule's target controls."""
    return rule["AssertedControls"] if rule["_kind"] == "ASSERTION" else rule["TargetControls"]


def _cluster_request(op: str, body: dict[str, Any], cluster_arn: str) -> dict[str, Any]:
    with _LOCK:
        if op == "GetRoutingControlState":
            arn = body.get("RoutingControlArn")
            rc = _CONTROLS.get(arn or "")
            if rc is None or rc["cluster"] != cluster_arn:
                raise _not_found("RoutingControl", str(arn))
            return {"RoutingControlArn": arn, "RoutingControlState": rc["state"],
                    "RoutingControlName": rc["name"]}
        if op == "UpdateRoutingControlState":
            return _update_states([{"RoutingControlArn": body.get("RoutingControlArn"),
                                    "RoutingControlState": body.get("RoutingControlState")}],
                                  body.get("SafetyRulesToOverride") or [], cluster_arn)
        if op == "UpdateRoutingControlStates":
            return _update_states(body.get("UpdateRoutingControlStateEntries") or [],
                                  body.get("SafetyRulesToOverride") or [], cluster_arn)
        if op == "ListRoutingControls":
            panel = body.get("ControlPanelArn")
            if panel and panel not in _PANELS:
                raise _not_found("ControlPanel", panel)
            items = [{"ControlPanelArn": rc["panel"],
                      "ControlPanelName": _PANELS[rc["panel"]]["name"],
                      "RoutingControlArn": rc["arn"], "RoutingControlName": rc["name"],
                      "RoutingControlState": rc["state"], "Owner": ACCOUNT}
                     for rc in _CONTROLS.values()
                     if rc["cluster"] == cluster_arn and (not panel or rc["panel"] == panel)]
            q = {"NextToken": [body.get("NextToken") or "0"],
                 "MaxResults": [str(body.get("MaxResults") or 100)]}
            return _page(items, q, "RoutingControls")
    raise _validation(f"unknown operation {op}")


# ------------------------------------------------------------------ WSGI


_ENDPOINT = re.compile(r"^/arc/([0-9a-f-]+)/([a-z0-9-]+)/v1/?$")


def _match(environ: dict[str, Any], region: str | None, service: str | None) -> bool:
    return service in (CONFIG_SERVICE, CLUSTER_SERVICE) \
        or environ.get("PATH_INFO", "").startswith("/arc/")


def _raw_path(environ: dict[str, Any]) -> str:
    raw = environ.get("RAW_URI") or environ.get("REQUEST_URI")
    if raw:
        return unquote(raw.split("?", 1)[0])
    return environ.get("PATH_INFO", "")


def _respond(start_response: Any, status: int, doc: dict[str, Any], json10: bool,
             code: str | None = None) -> list[bytes]:
    reasons = {200: "OK", 400: "Bad Request", 403: "Forbidden", 404: "Not Found",
               409: "Conflict"}
    body = json.dumps(doc, default=str).encode()
    headers = [("Content-Type", "application/x-amz-json-1.0" if json10 else "application/json"),
               ("Content-Length", str(len(body))),
               ("x-amzn-RequestId", str(uuid.uuid4()))]
    if code and not json10:
        headers.append(("x-amzn-ErrorType", code))
    start_response(f"{status} {reasons.get(status, 'Error')}", headers)
    return [body]


def _app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    from .faults import request_scope

    region, service = request_scope(environ)
    path = _raw_path(environ)
    method = environ.get("REQUEST_METHOD", "GET")
    raw = control.read_body(environ)
    json10 = service == CLUSTER_SERVICE or path.startswith("/arc/")
    try:
        try:
            body = json.loads(raw) if raw else {}
        except ValueError:
            raise _validation("the request body is not JSON")
        if json10:
            m = _ENDPOINT.match(path)
            if not m:
                raise ArcError(404, "ResourceNotFoundException",
                               "not a cluster endpoint: use one of the cluster's ClusterEndpoints "
                               "(DescribeCluster)", resourceId=path, resourceType="Endpoint")
            cluster_id, endpoint_region = m.groups()
            cluster_arn = f"arn:aws:route53-recovery-control::{ACCOUNT}:cluster/{cluster_id}"
            with _LOCK:
                known = cluster_arn in _CLUSTERS
            if not known or endpoint_region not in CLUSTER_REGIONS:
                raise ArcError(404, "ResourceNotFoundException", f"no cluster endpoint {path}",
                               resourceId=path, resourceType="Endpoint")
            if region and region != endpoint_region:
                # SigV4: the credential scope must name the endpoint's Region.
                raise ArcError(403, "InvalidSignatureException",
                               f"Credential should be scoped to a valid region, not '{region}'; "
                               f"this endpoint is in {endpoint_region}.")
            op = (environ.get("HTTP_X_AMZ_TARGET") or "").split(".")[-1]
            doc = _cluster_request(op, body, cluster_arn)
        else:
            host = environ.get("HTTP_HOST") or "127.0.0.1"
            base = f"{environ.get('wsgi.url_scheme', 'http')}://{host}"
            doc = _config_request(method, path, parse_qs(environ.get("QUERY_STRING", "")),
                                  body, base)
        return _respond(start_response, 200, doc, json10)
    except ArcError as e:
        if json10:
            err = {"__type": e.code, "message": e.message, **e.extra}
        else:
            err = {"message": e.message, "Message": e.message}
        return _respond(start_response, e.status, err, json10, e.code)


def snapshot() -> dict[str, Any]:
    """What exists (GET /_drillbook/arc), for debugging."""
    with _LOCK:
        return {
            "clusters": [c["arn"] for c in _CLUSTERS.values()],
            "control_panels": [p["arn"] for p in _PANELS.values()],
            "routing_controls": {rc["arn"]: rc["state"] for rc in _CONTROLS.values()},
            "safety_rules": [r["SafetyRuleArn"] for r in _RULES.values()],
        }


control.service_app(_match, _app)
control.route("/_drillbook/arc", lambda method, body, query: snapshot())
