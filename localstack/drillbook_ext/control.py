"""The control endpoint (`/_drillbook/...`, JSON over HTTP on the emulator's port) and the WSGI
application that puts drillbook's behaviours in front of moto.

Modules register what they serve here:
  * `route(path, handler)`: a control route; `handler(method, body, query) -> JSON document`
    (raise ValueError for a 400 answer).
  * `service_app(match, app)`: a WSGI app for AWS requests moto does not serve (ARC);
    `match(environ, region, service) -> bool`.
  * `gate(check)`: a check before every AWS request (expired credentials);
  * `wrap_all(wrapper)`: a wrapper around every AWS request that is answered (CloudTrail);
  * `around(service, hook)`: a wrapper for one service's requests;
    `hook(inner, environ, start_response, region) -> body chunks`.
  * `scope(find)`: the (Region, service) of an unsigned request (an API's invoke host), when
    its SigV4 credential scope says nothing; `find(environ) -> (region, service) | None`.
"""

from __future__ import annotations

import json
import os
from typing import Any, Callable
from urllib.parse import parse_qs

from . import config, faults

Handler = Callable[[str, Any, dict[str, list[str]]], Any]
_ROUTES: dict[str, Handler] = {}
_SERVICE_APPS: list[tuple[Callable[..., bool], Any]] = []
_AROUND: dict[str, list[Callable[..., Any]]] = {}
_GATES: list[Callable[..., Any]] = []
_WRAPPERS: list[Callable[..., Any]] = []
_SCOPES: list[Callable[..., Any]] = []


def scope(find: Callable[..., Any]) -> None:
    """`find(environ) -> (region, service) | None` for requests without a credential scope."""
    _SCOPES.append(find)


def gate(check: Callable[..., Any]) -> None:
    """`check(environ, start_response, service)` answers a request itself (returns its body
    chunks) or lets it through (returns None), before faults and moto."""
    _GATES.append(check)


def wrap_all(wrapper: Callable[..., Any]) -> None:
    """`wrapper(app, region, service) -> app` around every AWS request that reaches an app
    (moto or a service app): it sees the request and its answer (CloudTrail's recorder)."""
    _WRAPPERS.append(wrapper)


def route(path: str, handler: Handler) -> None:
    _ROUTES[path] = handler


def service_app(match: Callable[..., bool], app: Any) -> None:
    _SERVICE_APPS.append((match, app))


def around(service: str, hook: Callable[..., Any]) -> None:
    _AROUND.setdefault(service, []).append(hook)


def json_response(start_response: Any, status: str, doc: Any,
                  headers: list[tuple[str, str]] | None = None) -> list[bytes]:
    body = json.dumps(doc, default=str).encode()
    start_response(status, (headers or []) + [("Content-Type", "application/json"),
                                              ("Content-Length", str(len(body)))])
    return [body]


def read_body(environ: dict[str, Any]) -> bytes:
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    return environ["wsgi.input"].read(length) if length else b""


def query_of(environ: dict[str, Any]) -> dict[str, list[str]]:
    return parse_qs(environ.get("QUERY_STRING", ""))


# ------------------------------------------------------------------------- built-in routes


def _ping(method: str, body: Any, query: dict[str, list[str]]) -> Any:
    return {"ok": True, "pid": os.getpid()}


def _config(method: str, body: Any, query: dict[str, list[str]]) -> Any:
    if method == "POST":
        if not isinstance(body, dict):
            raise ValueError("body must be a JSON object")
        config.apply_config(body)
    elif method == "DELETE":
        config.clear_config((query.get("prefix") or [None])[0])
    return config.config_snapshot()


_FAULT_FIELDS = ("region", "service", "mode", "roles", "operations", "percentage", "tables")


def _faults(method: str, body: Any, query: dict[str, list[str]]) -> Any:
    if method == "POST":
        if not isinstance(body, dict) or "region" not in body or "mode" not in body:
            raise ValueError('body must be {"region": R, "service": S (optional), "mode": M}')
        unknown = sorted(set(body) - set(_FAULT_FIELDS))
        if unknown:
            raise ValueError(f"unknown fields {unknown}; known: {', '.join(_FAULT_FIELDS)}")
        added = faults.add(body["region"], body.get("service"), body["mode"],
                           roles=body.get("roles"), operations=body.get("operations"),
                           percentage=body.get("percentage"), tables=body.get("tables"))
        return {"added": added, **faults.describe()}
    if method == "DELETE":
        region = (query.get("region") or [None])[0]
        return {"cleared": faults.clear(region), **faults.describe()}
    return faults.describe()


route("/_drillbook/ping", _ping)
route("/_drillbook/config", _config)
route("/_drillbook/faults", _faults)


def control_app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    path = environ.get("PATH_INFO", "")
    method = environ.get("REQUEST_METHOD", "GET")
    handler = _ROUTES.get(path)
    if handler is None:
        return json_response(start_response, "404 Not Found",
                             {"error": f"no route {path}; known: {sorted(_ROUTES)}"})
    try:
        raw = read_body(environ)
        doc = json.loads(raw) if raw else {}
        return json_response(start_response, "200 OK", handler(method, doc, query_of(environ)))
    except ValueError as e:
        return json_response(start_response, "400 Bad Request", {"error": str(e)})


class DrillbookApp:
    """drillbook's behaviours in front of moto's WSGI application."""

    def __init__(self, inner: Any):
        self.inner = inner

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        path = environ.get("PATH_INFO", "")
        if path.startswith("/_drillbook/"):
            return control_app(environ, start_response)
        if path.startswith("/moto-api/"):
            return self.inner(environ, start_response)
        region, service = faults.request_scope(environ)
        if service is None:
            for find in _SCOPES:
                found = find(environ)
                if found is not None:
                    region, service = found
                    break
        for check in _GATES:
            refused = check(environ, start_response, service or "")
            if refused is not None:
                return refused
        fault = faults.matching(region, service, environ)
        if fault is not None:
            return faults.apply(fault, environ, start_response, service or "")
        chosen = next((app for match, app in _SERVICE_APPS
                       if match(environ, region, service)), None)
        if chosen is None:
            chosen = self.inner
            for hook in _AROUND.get(service or "", []):
                chosen = _wrap(hook, chosen, region)
        for wrapper in _WRAPPERS:
            chosen = wrapper(chosen, region, service)
        return chosen(environ, start_response)


def _wrap(hook: Callable[..., Any], inner: Any, region: str | None) -> Any:
    return lambda environ, start_response: hook(inner, environ, start_response, region)
