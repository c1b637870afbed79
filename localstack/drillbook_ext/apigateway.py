"""API Gateway: base path mappings of a domain without mappings, regional hosted zone ids."""

from __future__ import annotations

from typing import Any

from collections import defaultdict

from moto.apigateway import models as apigw_models

_orig_apigw_init = apigw_models.APIGatewayBackend.__init__


def _apigw_init(self: Any, *args: Any, **kwargs: Any) -> None:
    _orig_apigw_init(self, *args, **kwargs)
    # moto raised KeyError (HTTP 500) for GetBasePathMappings etc. on a domain that has none.
    self.base_path_mappings = defaultdict(dict, self.base_path_mappings)


apigw_models.APIGatewayBackend.__init__ = _apigw_init  # type: ignore[method-assign]

# Real regional hosted zone ids of API Gateway (moto used the CloudFront one everywhere).
_APIGW_ZONE_IDS = {
    "ca-central-1": "Z19DQILCV0OWEC", "eu-west-1": "ZLY8HYME6SFDD", "us-east-1": "Z1UJRXOUMOOFQ8",
    "us-west-2": "Z2OJLYMUO9EFXC", "eu-central-1": "Z1U9ULNL0V5AJ3",
}
_orig_dn_init = apigw_models.DomainName.__init__


def _dn_init(self: Any, domain_name: str, **kwargs: Any) -> None:
    _orig_dn_init(self, domain_name, **kwargs)
    region = kwargs.get("region_name") or "us-east-1"
    self.regional_hosted_zone_id = _APIGW_ZONE_IDS.get(region, self.regional_hosted_zone_id)


apigw_models.DomainName.__init__ = _dn_init  # type: ignore[method-assign]


# ------------------------------------------------------------------ the stages' endpoints
#
# A deployed stage answers at its invoke URL, `https://{api-id}.execute-api.{region}.amazonaws.com
# /{stage}/{path}` (API Gateway DG, "Invoke REST APIs in API Gateway"), and a custom domain's
# Regional domain name (`d-....execute-api.{region}.amazonaws.com`) answers the paths of its base
# path mappings (API Gateway DG, "Custom domain names for REST APIs"). Through the emulator's
# port, the request names its endpoint in the Host header. These are the Region's application
# endpoints (fault service `execute-api`, FIS's disrupt-connectivity); a fault of API Gateway
# (`apigateway`) or of the whole Region takes them down too, as it fails the Route 53 health
# checks of them (route53._ENDPOINT_SERVICES). A GET of a resource that has a GET (or ANY)
# method answers 200 with a JSON document naming the Region, API, stage and path; anything else
# answers as API Gateway's gateway responses do (API Gateway DG, "Gateway response types for API
# Gateway"): MISSING_AUTHENTICATION_TOKEN, 403, for a resource or method the API does not have,
# and 403 Forbidden for a stage that is not deployed.

import json as _json
import re as _re

from . import control as _control
from . import faults as _faults

# Answer a method's integration (`proxy(region, integration) -> (status, doc) | None`): the
# backends behind HTTP_PROXY integrations (workloads.py). A method no proxy answers answers 200.
PROXIES: list[Any] = []

_INVOKE_HOST = _re.compile(r"^([a-z0-9-]+)\.execute-api\.([a-z]{2}(?:-[a-z]+)+-\d)\.amazonaws\.com$")


def _host(environ: dict[str, Any]) -> str:
    return (environ.get("HTTP_HOST") or "").split(":")[0].rstrip(".").lower()


def _invoke_scope(environ: dict[str, Any]) -> tuple[str, str] | None:
    m = _INVOKE_HOST.match(_host(environ))
    return (m.group(2), "execute-api") if m else None


def _backends(region: str) -> list[Any]:
    out = []
    for account in list(apigw_models.apigateway_backends.keys()):
        try:
            out.append(apigw_models.apigateway_backends[account][region])
        except KeyError:
            continue
    return out


def _answer(start_response: Any, status: str, doc: Any) -> list[bytes]:
    body = _json.dumps(doc).encode()
    start_response(status, [("Content-Type", "application/json"),
                            ("Content-Length", str(len(body))),
                            ("x-amzn-RequestId", f"drillbook-invoke-{id(body)}")])
    return [body]


def _target(region: str, host_id: str, path: str) -> tuple[Any, str, str] | None:
    """(REST API, stage name, resource path) that `path` on the endpoint `host_id` reaches."""
    segments = [s for s in path.split("/") if s]
    for backend in _backends(region):
        api = backend.apis.get(host_id)
        if api is not None:
            if not segments:
                return api, "", "/"
            return api, segments[0], "/" + "/".join(segments[1:])
        regional = f"{host_id}.execute-api.{region}.amazonaws.com"
        for name, domain in list(backend.domain_names.items()):
            if getattr(domain, "regional_domain_name", "") != regional:
                continue
            mappings = list(backend.base_path_mappings.get(name, {}).values())
            for m in mappings:
                base = m.base_path
                if base != "(none)" and segments[:1] == [base]:
                    api = backend.apis.get(m.rest_api_id)
                    if api is not None:
                        return api, m.stage or "", "/" + "/".join(segments[1:])
            for m in mappings:
                if m.base_path == "(none)":
                    api = backend.apis.get(m.rest_api_id)
                    if api is not None:
                        return api, m.stage or "", "/" + "/".join(segments)
    return None


def invoke_app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    m = _INVOKE_HOST.match(_host(environ))
    if m is None:
        return _answer(start_response, "404 Not Found", {"message": "Not Found"})
    host_id, region = m.group(1), m.group(2)
    # A fault of API Gateway in the Region takes its endpoints down too (see above).
    fault = _faults.matching(region, "apigateway", environ)
    if fault is not None and fault.get("service") == "apigateway":
        return _faults.apply(fault, environ, start_response, "execute-api")
    found = _target(region, host_id, environ.get("PATH_INFO", "/"))
    if found is None:
        return _answer(start_response, "404 Not Found", {"message": "Not Found"})
    api, stage, path = found
    if stage not in api.stages:
        return _answer(start_response, "403 Forbidden", {"message": "Forbidden"})
    method = environ.get("REQUEST_METHOD", "GET")
    resource = next((r for r in list(api.resources.values()) if r.get_path() == path), None)
    methods = set(resource.resource_methods) if resource is not None else set()
    if method not in methods and "ANY" not in methods:
        return _answer(start_response, "403 Forbidden",
                       {"message": "Missing Authentication Token"})
    chosen = resource.resource_methods.get(method) or resource.resource_methods.get("ANY")
    integration = getattr(chosen, "method_integration", None)
    for proxy in PROXIES:
        answered = proxy(region, integration) if integration is not None else None
        if answered is not None:
            code, doc = answered
            reasons = {200: "OK", 500: "Internal Server Error", 502: "Bad Gateway",
                       503: "Service Unavailable"}
            return _answer(start_response, f"{code} {reasons.get(code, 'Error')}", doc)
    return _answer(start_response, "200 OK", {"status": "ok", "region": region,
                                              "rest_api_id": api.id, "stage": stage,
                                              "path": path})


_control.scope(_invoke_scope)
_control.service_app(lambda environ, region, service: service == "execute-api", invoke_app)
