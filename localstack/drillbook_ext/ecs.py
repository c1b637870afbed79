"""ECS: deployments that take time, then complete with running == desired.

moto creates a service with runningCount 0 (unless MOTO_ECS_SERVICE_RUNNING is set) and its
deployment stays IN_PROGRESS forever; a forced new deployment only renames the one deployment in
place; a new desiredCount is running at once. On AWS (ECS API reference, "Deployment" and
"Service"; ECS developer guide, "Deploy Amazon ECS services by replacing tasks"):

- UpdateService with forceNewDeployment starts a new deployment: it becomes PRIMARY with
  rolloutState IN_PROGRESS while the previous one stays ACTIVE and drains; when the new tasks
  are running and healthy the rollout is COMPLETED and the old deployment goes away
  (rolloutState "COMPLETED" is set "when the service reaches a steady state").
- A new desiredCount changes the PRIMARY deployment's desiredCount; runningCount reaches it as
  tasks start or stop, with no new deployment.

Here both take `ecs_deployment_seconds` (config.py; scoped by cluster or service name). AWS
gives no figure: a rolling deployment takes as long as tasks take to start, pass health checks
and drain (the developer guide's page names the parameters, minimumHealthyPercent and
maximumPercent, not a duration).
"""

from __future__ import annotations

import time
from typing import Any

from moto.ecs import models as ecs_models
from moto.moto_api._internal import mock_random
from moto.core.utils import utcnow

from .config import seconds

Backend = ecs_models.EC2ContainerServiceBackend

# Called with (backend, service, deployment) when a deployment starts (the service's first, or
# a forced new one): its tasks read their configuration then (workloads.py).
DEPLOYMENT_HOOKS: list[Any] = []


def _started(backend: Any, service: Any) -> None:
    for hook in DEPLOYMENT_HOOKS:
        hook(backend, service, service.deployments[0])


def _delay(service: Any) -> float:
    return seconds("ecs_deployment_seconds", [service.cluster_name, service.name])


def _settle(service: Any) -> None:
    """Moves the service's deployments and counts along to now."""
    state = getattr(service, "_drillbook", None)
    if state is None or not service.deployments:
        return
    now = time.time()
    primary = service.deployments[0]
    if now >= state["ready_at"]:
        # Rolled out: the new deployment runs every desired task, the old ones are gone.
        service.running_count = service.desired_count
        service.pending_count = 0
        primary["runningCount"] = service.desired_count
        primary["pendingCount"] = 0
        primary["desiredCount"] = service.desired_count
        primary["rolloutState"] = "COMPLETED"
        primary["rolloutStateReason"] = f"ECS deployment {primary['id']} completed."
        del service.deployments[1:]
    else:
        primary["desiredCount"] = service.desired_count
        primary["rolloutState"] = state["rollout"]
        primary["rolloutStateReason"] = (
            f"ECS deployment {primary['id']} in progress."
            if state["rollout"] == "IN_PROGRESS"
            else f"ECS deployment {primary['id']} completed."
        )
        service.running_count = state["running_before"]
        service.pending_count = max(service.desired_count - service.running_count, 0)
        primary["runningCount"] = state["primary_running"]
        primary["pendingCount"] = max(service.desired_count - state["primary_running"], 0)


_orig_create = Backend.create_service


def _create_service(self: Any, *args: Any, **kwargs: Any) -> Any:
    service = _orig_create(self, *args, **kwargs)
    if service.deployments:
        # The first deployment starts the tasks: none running until it completes.
        service._drillbook = {
            "ready_at": time.time() + _delay(service),
            "rollout": "IN_PROGRESS",
            "running_before": 0,
            "primary_running": 0,
        }
        _settle(service)
        _started(self, service)
    return service


_orig_update = Backend.update_service


def _update_service(self: Any, service_properties: dict[str, Any]) -> Any:
    cluster_str = service_properties.get("cluster", "default")
    name = service_properties.get("service", "").split("/")[-1]
    before = self._get_service(cluster_str, name)
    _settle(before)
    running_before = before.running_count
    old = [dict(d) for d in before.deployments]
    force = bool(service_properties.get("force_new_deployment"))
    desired_before = before.desired_count
    service = _orig_update(self, service_properties)
    if not service.deployments:
        return service
    now = utcnow()
    if force:
        # A new PRIMARY deployment; the previous PRIMARY stays, ACTIVE, until it completes.
        new = dict(old[0])
        new.update({
            "id": f"ecs-svc/{mock_random.randint(0, 32**12)}",
            "createdAt": now,
            "updatedAt": now,
            "status": "PRIMARY",
            "rolloutState": "IN_PROGRESS",
            "runningCount": 0,
            "taskDefinition": service.task_definition,
        })
        previous = [dict(d, status="ACTIVE", updatedAt=now) for d in old[:1]]
        service.deployments[:] = [new] + previous
        service._drillbook = {
            "ready_at": time.time() + _delay(service),
            "rollout": "IN_PROGRESS",
            "running_before": running_before,
            "primary_running": 0,
        }
        _started(self, service)
    elif service.desired_count != desired_before:
        # Same deployment; tasks start or stop to reach the new count.
        service.deployments[:] = [dict(old[0], updatedAt=now)] + old[1:]
        state = getattr(service, "_drillbook", None) or {}
        service._drillbook = {
            "ready_at": time.time() + _delay(service),
            "rollout": state.get("rollout", "COMPLETED") if old[1:] else "COMPLETED",
            "running_before": running_before,
            "primary_running": running_before if not old[1:] else 0,
        }
    _settle(service)
    return service


_orig_describe = Backend.describe_services


def _describe_services(self: Any, cluster_str: str, names: list[str]) -> Any:
    result, failures = _orig_describe(self, cluster_str, names)
    for s in result:
        _settle(s)
    return result, failures


Backend.create_service = _create_service
Backend.update_service = _update_service
Backend.describe_services = _describe_services
