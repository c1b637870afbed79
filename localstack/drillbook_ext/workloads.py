"""The application an ECS service runs, as far as recovery sees it: which database its tasks
use, whether they reach it, and whether its data is clean.

The emulator runs no containers and no SQL. It stands in for the application with what AWS
documents about how the pieces connect:

* A task reads its configuration when it starts. A container's `secrets` entry whose
  `valueFrom` names a Systems Manager parameter is resolved then: "the value is injected at task
  start ... if the parameter is updated, the running tasks keep the old value until they are
  replaced, for example by a new deployment" (ECS developer guide, "Pass Systems Manager
  parameters as environment variables in Amazon ECS"). Here a deployment's tasks read the
  container environment (plain `environment` and `secrets`) at the moment the deployment
  starts (ecs.py's DEPLOYMENT_HOOKS); `DB_HOST` names the database: the DB instance whose
  endpoint address it is.
* The deployment that serves is the PRIMARY one once its rollout is COMPLETED, the previous one
  (still ACTIVE) until then ("Deploy Amazon ECS services by replacing tasks": the old tasks keep
  serving until the new ones are healthy).
* Clients reach the service through API Gateway: a REST API method with an `HTTP_PROXY`
  integration over a VPC link to a Network Load Balancer ("Set up a private integration",
  API Gateway developer guide), whose listener forwards to the target group the ECS service
  registers its tasks in (the service's `loadBalancers`). A GET through such a method is
  answered here by the service behind the load balancer:
    `.../health`       200 when tasks run in a connected Availability Zone and the database
                       they use is `available` and reachable (its writer's zone connected);
                       503 otherwise (the load balancer's answer when no target is healthy, or
                       the application's when its database is gone)
    `.../health/data`  the same, and 500 when the database's data is not clean
  Each answer is a JSON document naming the database host, instance, its zone and its data's
  state.
* An FIS `aws:network:disrupt-connectivity` of some of a VPC's subnets (fis.py) cuts off the
  Availability Zones of those subnets: tasks there and a DB writer there stop answering.
* The data: rds.py keeps, per DB instance, a timeline of its data's state. A task of a
  container whose environment sets `DRILLBOOK_WRITES=corrupt` (an emulator-only marker: the
  bad batch job of a drill) writes `corrupted` into the database it uses at the moment its
  tasks are running. A restore to a time before that is clean (rds.py).

`GET /_drillbook/workloads?region=R&cluster=C&service=S` answers what the service's tasks use
(for tests and for people looking at a drill).
"""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import urlparse

from moto.ecs.models import ecs_backends
from moto.rds.models import rds_backends

from . import apigateway, control, ecs, fis, rds

DB_HOST = "DB_HOST"
WRITES = "DRILLBOOK_WRITES"


def _accounts(backends: Any) -> list[str]:
    return list(backends.keys())


def _environment(backend: Any, task_definition: str) -> dict[str, str]:
    """The container environment a task of `task_definition` starts with, now."""
    from moto.ssm.models import ssm_backends

    try:
        td = backend.describe_task_definition(task_definition)
    except Exception:
        return {}
    ssm = ssm_backends[backend.account_id][backend.region_name]
    env: dict[str, str] = {}
    for c in td.container_definitions:
        for e in c.get("environment") or []:
            env[e.get("name", "")] = str(e.get("value", ""))
        for s in c.get("secrets") or []:
            try:
                p = ssm.get_parameter(s.get("valueFrom", ""))
            except Exception:
                p = None
            if p is not None:
                env[s.get("name", "")] = p.value
    return env


def _on_deployment(backend: Any, service: Any, deployment: dict[str, Any]) -> None:
    envs = service.__dict__.setdefault("_drillbook_env", {})
    envs[deployment["id"]] = _environment(backend, deployment.get("taskDefinition")
                                          or service.task_definition)


ecs.DEPLOYMENT_HOOKS.append(_on_deployment)


def _serving(service: Any) -> tuple[dict[str, Any] | None, dict[str, str]]:
    """The deployment whose tasks serve, and the environment they started with."""
    ecs._settle(service)
    deps = service.deployments or []
    if not deps or service.running_count <= 0:
        return None, {}
    dep = deps[0] if deps[0].get("rolloutState") == "COMPLETED" or len(deps) == 1 else deps[1]
    return dep, service.__dict__.get("_drillbook_env", {}).get(dep["id"], {})


def _instance(account: str, region: str, host: str) -> Any:
    """The DB instance whose endpoint address is `host`."""
    backend = rds_backends[account][region]
    for db in list(backend.databases.values()):
        if db.address == host:
            return db
    return None


def _settle_writers() -> None:
    """Writes the damage of the tasks that are running now, at the time they started."""
    for account in _accounts(ecs_backends):
        for region, backend in list(ecs_backends[account].items()):
            for service in list(getattr(backend, "services", {}).values()):
                if "_drillbook_env" not in service.__dict__:
                    continue
                dep, env = _serving(service)
                if dep is None or env.get(WRITES) != "corrupt":
                    continue
                done = service.__dict__.setdefault("_drillbook_written", set())
                if dep["id"] in done:
                    continue
                done.add(dep["id"])
                db = _instance(account, region, env.get(DB_HOST, ""))
                if db is not None:
                    state = getattr(service, "_drillbook", None) or {}
                    at = min(state.get("ready_at", time.time()), time.time())
                    rds.write_data(db, f"corrupted by {service.name}", at)


rds.BEFORE_DATA_READ.append(_settle_writers)


def _zones(account: str, region: str, subnet_ids: list[str]) -> dict[str, str]:
    from moto.ec2.models import ec2_backends

    subnets = {s.id: s for s in ec2_backends[account][region].describe_subnets()}
    return {i: subnets[i].availability_zone for i in subnet_ids if i in subnets}


def status(account: str, region: str, service: Any) -> tuple[int, dict[str, Any]]:
    """(HTTP status of `/health/data`, what the service's tasks use)."""
    dep, env = _serving(service)
    doc: dict[str, Any] = {"cluster": service.cluster_name, "service": service.name,
                           "running": service.running_count, "desired": service.desired_count}
    if dep is None:
        return 503, {**doc, "healthy": False, "reason": "no running tasks"}
    doc["deployment"] = dep["id"]
    cut = fis.disrupted_subnets(region)
    net = (service.network_configuration or {}).get("awsvpcConfiguration") or {}
    task_zones = _zones(account, region, list(net.get("subnets") or []))
    cut_zones = set(_zones(account, region, list(cut)).values())
    if task_zones and set(task_zones.values()) <= cut_zones:
        return 503, {**doc, "healthy": False,
                     "reason": f"every task's zone is cut off ({', '.join(sorted(cut_zones))})"}
    host = env.get(DB_HOST, "")
    doc["db_host"] = host
    db = _instance(account, region, host) if host else None
    if db is None:
        return 503, {**doc, "healthy": False, "reason": f"no database answers at {host!r}"}
    doc.update(db_instance=db.db_instance_identifier, db_availability_zone=db.availability_zone,
               db_status=db.status)
    if db.status != "available":
        return 503, {**doc, "healthy": False, "reason": f"the database is {db.status}"}
    if db.availability_zone in cut_zones:
        return 503, {**doc, "healthy": False,
                     "reason": f"the database's writer in {db.availability_zone} is cut off"}
    data = rds.data_at(db)
    doc.update(healthy=True, data=data)
    return (200 if data == "clean" else 500), doc


def _service_behind(account: str, region: str, lb_host: str) -> Any:
    """The ECS service whose target group the load balancer named `lb_host` forwards to."""
    from moto.elbv2.models import elbv2_backends

    groups: set[str] = set()
    for lb in list(elbv2_backends[account][region].load_balancers.values()):
        if lb.dns_name.lower() != lb_host:
            continue
        for listener in list(lb.listeners.values()):
            for action in listener.default_actions:
                arn = action.data.get("TargetGroupArn")
                if arn:
                    groups.add(arn)
    for service in list(ecs_backends[account][region].services.values()):
        if any(b.get("targetGroupArn") in groups for b in service.load_balancers or []):
            return service
    return None


def _proxy(region: str, integration: Any) -> tuple[int, dict[str, Any]] | None:
    """The answer of an HTTP_PROXY integration whose URI is a load balancer in front of an ECS
    service (None: not one)."""
    if (getattr(integration, "integration_type", "") or "").upper() not in ("HTTP_PROXY", "HTTP"):
        return None
    uri = urlparse(getattr(integration, "uri", "") or "")
    host = (uri.hostname or "").lower()
    for account in _accounts(ecs_backends):
        service = _service_behind(account, region, host)
        if service is None:
            continue
        code, doc = status(account, region, service)
        if uri.path.rstrip("/").endswith("/data"):
            return code, doc
        return (200 if code == 500 else code), doc
    return None


apigateway.PROXIES.append(_proxy)


def _route(method: str, body: Any, query: dict[str, list[str]]) -> Any:
    def one(k: str) -> str:
        v = (query.get(k) or [""])[0]
        if not v:
            raise ValueError(f"give ?region=R&cluster=C&service=S ({k} missing)")
        return v

    region, cluster, name = one("region"), one("cluster"), one("service")
    for account in _accounts(ecs_backends):
        try:
            service = ecs_backends[account][region]._get_service(cluster, name)
        except Exception:
            continue
        code, doc = status(account, region, service)
        return {**doc, "health_data_status": code}
    raise ValueError(f"no service {name} in cluster {cluster} in {region}")


control.route("/_drillbook/workloads", _route)


def _data_route(method: str, body: Any, query: dict[str, list[str]]) -> Any:
    """`GET /_drillbook/rds-data?region=R&instance=I`: the state of an instance's data now."""
    region = (query.get("region") or [""])[0]
    ident = (query.get("instance") or [""])[0]
    for account in _accounts(rds_backends):
        try:
            db = rds_backends[account][region].databases.get(ident)
        except KeyError:
            continue
        if db is not None:
            return {"instance": ident, "data": rds.data_at(db),
                    "timeline": db.__dict__.get("_drillbook_data", [])}
    raise ValueError(f"no DB instance {ident!r} in {region!r}")


control.route("/_drillbook/rds-data", _data_route)
