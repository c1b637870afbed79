"""AWS Fault Injection Service (FIS): experiments that inject the emulator's server-side faults.

moto 5.2.5 serves the FIS API (`moto/fis`: experiment templates, experiments, tags, target
account configurations), but its experiments change nothing and move through their states one
step per GetExperiment. Here an experiment runs as AWS documents it and its actions become the
faults of faults.py, in the experiment's Region (the Region its FIS API was called in):

* Lifecycle (FIS user guide, "Experiment states"): StartExperiment answers `initiating`; after
  `fis_transition_seconds` the experiment is `running` and its actions start (each after the
  actions it names in `startAfter`); it is `completed` when the last action's `duration` ends.
  StopExperiment makes it `stopping`, then `stopped` after `fis_transition_seconds`; actions that
  had not started are `cancelled`. An experiment whose targets resolve to nothing (and whose
  `emptyTargetResolutionMode` is `fail`, the default) or that holds an action the emulator does
  not model is `failed` when it would have started, and injects nothing.
* Actions (FIS user guide, "AWS FIS Actions reference"):
    aws:network:disrupt-connectivity, scope `all`, on `aws:ec2:subnet` targets: the Region's
      application endpoints stop answering (fault: service `execute-api`, mode `hang`: a network
      ACL that denies traffic drops the packets). Measured Route 53 health checks of the Region's
      endpoints fail with it (route53.py); AWS's own regional APIs keep answering. Subnets that
      leave their VPC a zone to run in are an Availability Zone outage instead: no Region fault,
      and what runs in the cut-off zones stops answering (workloads.py). Subnet targets may be
      filtered by `AvailabilityZone` (FIS user guide, "Targets for AWS FIS").
    aws:fis:inject-api-unavailable-error / -internal-error / -throttle-error, on `aws:iam:role`
      targets, parameters `service`, `operations`, `percentage`: requests signed by an
      assumed-role session of a target role, to that service in the experiment's Region, answer
      503 / 500 / the service's throttling error (faults narrowed by role, operation, share).
    aws:dynamodb:global-table-pause-replication, on `aws:dynamodb:global-table` targets: nothing
      replicates into the target replicas until the action ends (dynamodb.py holds the writes).
    aws:fis:wait: waits its `duration`.
  Any other `aws:SERVICE:ACTION` id is accepted in a template (AWS knows it) and fails the
  experiment at its start, saying the emulator does not model it.
* Faults are added at the moment an action starts and cleared when it ends, when the experiment
  is stopped (rolled back at `stopped`) or completes. A background thread and every AWS request
  (a gate) apply what is due, with the scheduled times, so health checks that look back in time
  see the exact moments.

State is per emulator process (moto's backends and this module's lists).
"""

from __future__ import annotations

import math
import random
import re
import string
import threading
import time
import uuid
from typing import Any

from moto.fis import models as fis_models
from moto.fis.exceptions import FISException

from . import config, control, faults

_LOCK = threading.RLock()

# Modelled actions: action id -> (the target key its definition names, the resource type).
# FIS user guide, "AWS FIS Actions reference": disrupt-connectivity targets "Subnets"
# (aws:ec2:subnet); the inject-api-* actions "Roles" (aws:iam:role); global-table-pause-replication
# "Tables" (aws:dynamodb:global-table); aws:fis:wait has no target.
MODELLED: dict[str, tuple[str | None, str | None]] = {
    "aws:network:disrupt-connectivity": ("Subnets", "aws:ec2:subnet"),
    "aws:fis:inject-api-unavailable-error": ("Roles", "aws:iam:role"),
    "aws:fis:inject-api-internal-error": ("Roles", "aws:iam:role"),
    "aws:fis:inject-api-throttle-error": ("Roles", "aws:iam:role"),
    "aws:dynamodb:global-table-pause-replication": ("Tables", "aws:dynamodb:global-table"),
    "aws:fis:wait": (None, None),
}
# The fault mode of each API error action.
API_ERRORS = {
    "aws:fis:inject-api-unavailable-error": "error",
    "aws:fis:inject-api-internal-error": "internal",
    "aws:fis:inject-api-throttle-error": "throttle",
}
_ACTION_ID = re.compile(r"^aws:[a-z0-9-]+:[a-z0-9-]+$")
_DURATION = re.compile(r"^PT(?:(\d+(?:\.\d+)?)H)?(?:(\d+(?:\.\d+)?)M)?(?:(\d+(?:\.\d+)?)S)?$")
_SELECTION = re.compile(r"^(ALL|COUNT\((\d+)\)|PERCENT\((\d+)\))$")
# "duration – The duration, from one minute to 12 hours" (every modelled action's parameter).
MIN_DURATION, MAX_DURATION = 60.0, 12 * 3600.0


class ValidationException(FISException):
    """FIS API reference, common to the operations: "The specified input is not valid, or fails
    to satisfy the constraints for the request", HTTP 400."""
    code = 400

    def __init__(self, message: str):
        super().__init__("ValidationException", message)


# ------------------------------------------------------------------ ids as AWS gives them

_KIND = threading.local()


class _Ids:
    """Stands in for moto.fis.models.mock_random: template ids `EXT...` and experiment ids
    `EXP...` as AWS gives them (e.g. `EXT6mXPhKDoHxk2`), everything else (client tokens) as
    moto's random UUIDs."""

    @staticmethod
    def uuid4() -> Any:
        kind = getattr(_KIND, "value", None)
        u = uuid.uuid4()
        if kind is None:
            return u

        class _Id:
            hex = kind + "".join(random.choices(string.ascii_letters + string.digits, k=14))

            def __str__(self) -> str:
                return str(u)

        return _Id()


fis_models.mock_random = _Ids  # type: ignore[assignment]


def _all_regions() -> list[str]:
    """Every Region botocore's endpoint data knows for EC2 or DynamoDB (newer than its FIS list)."""
    import boto3

    session = boto3.Session()
    out = set(fis_models.fis_backends._additional_regions or [])  # type: ignore[attr-defined]
    for service in ("ec2", "dynamodb"):
        for partition in ("aws", "aws-us-gov", "aws-cn"):
            out.update(session.get_available_regions(service, partition_name=partition))
    return sorted(out)


# moto lists FIS in 21 Regions only, so a system seeded elsewhere (ap-east-2) got HTTP 500 from
# ListExperimentTemplates. FIS experiments act where their targets are: here, in every Region
# the emulator serves EC2 or DynamoDB in.
fis_models.fis_backends._additional_regions = _all_regions()  # type: ignore[attr-defined]


# ------------------------------------------------------------------ validation


def duration_seconds(text: Any) -> float:
    """ISO 8601 duration as FIS takes it (`PT10M`, `PT1H30M`, `PT90S`)."""
    m = _DURATION.match(text) if isinstance(text, str) else None
    if not m or not any(m.groups()):
        raise ValidationException(f"duration {text!r} is not an ISO 8601 duration such as PT10M")
    h, mi, s = (float(g) if g else 0.0 for g in m.groups())
    return h * 3600 + mi * 60 + s


def _validate(targets: dict[str, Any], actions: dict[str, Any]) -> None:
    """What CreateExperimentTemplate and UpdateExperimentTemplate refuse (ValidationException)."""
    if not isinstance(actions, dict) or not actions:
        raise ValidationException("an experiment template needs at least one action")
    targets = targets or {}
    for name, t in targets.items():
        if not isinstance(t, dict) or not t.get("resourceType"):
            raise ValidationException(f"target {name} needs a resourceType")
        if not _SELECTION.match(str(t.get("selectionMode", ""))):
            raise ValidationException(
                f"target {name}: selectionMode must be ALL, COUNT(n) or PERCENT(n)")
        if bool(t.get("resourceArns")) == bool(t.get("resourceTags")) and not t.get("filters") \
                and not t.get("parameters"):
            raise ValidationException(
                f"target {name} needs exactly one of resourceArns and resourceTags")
    for name, a in actions.items():
        action_id = a.get("actionId") if isinstance(a, dict) else None
        if not isinstance(action_id, str) or not _ACTION_ID.match(action_id):
            raise ValidationException(f"action {name}: {action_id!r} is not an action id")
        params = a.get("parameters") or {}
        for key, target_name in (a.get("targets") or {}).items():
            if target_name not in targets:
                raise ValidationException(
                    f"action {name}: target {target_name} is not one of the template's targets")
        for after in a.get("startAfter") or []:
            if after not in actions:
                raise ValidationException(f"action {name}: startAfter names no action {after}")
        if action_id not in MODELLED:
            continue
        key, rtype = MODELLED[action_id]
        if "duration" not in params:
            raise ValidationException(f"action {name} ({action_id}) needs the parameter duration")
        d = duration_seconds(params["duration"])
        if not MIN_DURATION <= d <= MAX_DURATION:
            raise ValidationException(
                f"action {name}: duration must be from one minute to 12 hours, not "
                f"{params['duration']}")
        if key is not None:
            target_name = (a.get("targets") or {}).get(key)
            if target_name is None:
                raise ValidationException(f"action {name} ({action_id}) needs the target {key}")
            if targets[target_name]["resourceType"] != rtype:
                raise ValidationException(
                    f"action {name}: target {target_name} must be of resource type {rtype}, not "
                    f"{targets[target_name]['resourceType']}")
        if action_id in API_ERRORS:
            if not params.get("service"):
                raise ValidationException(f"action {name} ({action_id}) needs the parameter "
                                          f"service")
            try:
                pct = float(params.get("percentage", ""))
            except ValueError:
                pct = -1.0
            if not (1 <= pct <= 100 and pct == int(pct)):
                raise ValidationException(
                    f"action {name}: percentage must be an integer from 1 to 100")
    _order(actions)  # startAfter must not loop


def _order(actions: dict[str, Any]) -> list[str]:
    """The actions in an order where each comes after those it names in startAfter."""
    done: list[str] = []
    state: dict[str, int] = {}

    def visit(n: str, path: list[str]) -> None:
        if state.get(n) == 2:
            return
        if state.get(n) == 1:
            raise ValidationException(f"startAfter loops: {' -> '.join(path + [n])}")
        state[n] = 1
        for after in actions[n].get("startAfter") or []:
            visit(after, path + [n])
        state[n] = 2
        done.append(n)

    for n in actions:
        visit(n, [])
    return done


# ------------------------------------------------------------------ experiments as they run


class _Run:
    """One started experiment: its schedule and the faults its actions added."""

    def __init__(self, exp: Any, names: list[str]):
        self.exp = exp
        self.names = names
        self.started_at = float(exp.start_time)
        self.running_at = self.started_at + config.seconds("fis_transition_seconds", names)
        self.failed: str | None = None
        self.failed_action: str | None = None
        self.stop_at: float | None = None
        self.stopped_at: float | None = None
        # action name -> {"start", "end" (absolute times), "skipped", "faults" (ids),
        #                 "applied", "cleared"}
        self.plan: dict[str, dict[str, Any]] = {}
        self.resolved: dict[str, list[str]] = {}

    @property
    def completed_at(self) -> float:
        return max((p["end"] for p in self.plan.values()), default=self.running_at)

    def status(self, now: float) -> str:
        if self.stop_at is not None:
            return "stopping" if now < (self.stopped_at or 0) else "stopped"
        if now < self.running_at:
            return "initiating"
        if self.failed:
            return "failed"
        return "running" if now < self.completed_at else "completed"

    def end_time(self, now: float) -> float | None:
        status = self.status(now)
        if status == "stopped":
            return self.stopped_at
        if status == "failed":
            return self.running_at
        if status == "completed":
            return self.completed_at
        return None

    def action_state(self, name: str, now: float) -> tuple[str, str, float | None,
                                                           float | None]:
        """(status, reason, startTime, endTime) of one action."""
        p = self.plan.get(name)
        if now < self.running_at or p is None:
            return "pending", "Action is pending", None, None
        if self.failed:
            if name == self.failed_action:
                return "failed", self.failed, self.running_at, self.running_at
            return "cancelled", "Experiment failed", None, None
        if p["skipped"]:
            return "skipped", p["skipped"], None, None
        start, end = p["start"], p["end"]
        if self.stop_at is not None and start >= self.stop_at:
            return "cancelled", "Experiment stopped before the action started", None, None
        if now < start:
            return "pending", "Action is waiting for the actions it starts after", None, None
        if self.stop_at is not None and end > self.stop_at:
            if now < (self.stopped_at or 0):
                return "stopping", "Action is stopping", start, None
            return "stopped", "Action stopped", start, self.stopped_at
        if now < end:
            return "running", "Action is running", start, None
        return "completed", "Action completed", start, end


_RUNS: dict[str, _Run] = {}  # experiment ARN -> run

_REASONS = {
    "initiating": "Experiment is initiating.",
    "running": "Experiment is running.",
    "completed": "Experiment completed.",
    "stopping": "Experiment is stopping.",
    "stopped": "Experiment stopped.",
}


def _run_of(exp: Any) -> _Run | None:
    return _RUNS.get(exp.arn)


def _status(self: Any) -> str | None:
    run = _run_of(self)
    if run is None:
        return getattr(self, "_status", None)
    return run.status(time.time())


def _set_status(self: Any, value: str) -> None:
    run = _run_of(self)
    if run is None:
        self._status = value
        return
    if value == "stopping":
        _stop(run, time.time())


fis_models.Experiment.status = property(_status, _set_status)  # type: ignore[assignment]


def _sync_state(self: Any) -> str:
    """The experiment's and its actions' states, times and reasons, as of now."""
    run = _run_of(self)
    now = time.time()
    status = run.status(now) if run else (self._status or "pending")
    self.end_time = run.end_time(now) if run else None
    for name, action in self.actions.items():
        if run is None:
            continue
        a_status, reason, start, end = run.action_state(name, now)
        action["state"] = {"status": a_status, "reason": reason}
        for key, value in (("startTime", start), ("endTime", end)):
            if value is None:
                action.pop(key, None)
            else:
                action[key] = value
    return status


fis_models.Experiment._sync_state = _sync_state  # type: ignore[method-assign]
fis_models.Experiment.STATUS_REASONS = {**fis_models.Experiment.STATUS_REASONS, **_REASONS}


def _reason(self: Any, status: str) -> str:
    run = _run_of(self)
    if status == "failed" and run is not None and run.failed:
        return run.failed
    return _REASONS.get(status, status)


_orig_to_dict = fis_models.Experiment.to_dict
_orig_to_summary = fis_models.Experiment.to_summary_dict


def _to_dict(self: Any, tags: Any = None) -> dict[str, Any]:
    with _LOCK:
        doc = _orig_to_dict(self, tags)
        doc["state"]["reason"] = _reason(self, doc["state"]["status"])
        return doc


def _to_summary(self: Any, tags: Any = None) -> dict[str, Any]:
    with _LOCK:
        doc = _orig_to_summary(self, tags)
        doc["state"]["reason"] = _reason(self, doc["state"]["status"])
        return doc


fis_models.Experiment.to_dict = _to_dict  # type: ignore[method-assign]
fis_models.Experiment.to_summary_dict = _to_summary  # type: ignore[method-assign]


class _Unmodelled(Exception):
    pass


def _resources(account: str, region: str, rtype: str) -> list[tuple[str, dict[str, str]]] | None:
    """(ARN, tags) of the resources of a type in a Region, None when the emulator does not
    list that type (targets are then taken as their ARNs say)."""
    if rtype == "aws:ec2:subnet":
        from moto.ec2.models import ec2_backends

        backend = ec2_backends[account][region]
        return [(s.arn, {t["key"]: t["value"] for t in s.get_tags()})
                for s in backend.describe_subnets()]
    if rtype == "aws:dynamodb:global-table":
        from moto.dynamodb.models import dynamodb_backends

        backend = dynamodb_backends[account][region]
        out = []
        for table in list(backend.tables.values()):
            tags = {t["Key"]: t["Value"] for t in backend.list_tags_of_resource(table.table_arn)}
            out.append((table.table_arn, tags))
        return out
    return None


def _resolve(run: _Run, name: str, target: dict[str, Any]) -> list[str]:
    """The ARNs a target selects (FIS user guide, "Targets for AWS FIS": resource ARNs or
    tags, then the selection mode)."""
    exp = run.exp
    rtype = target["resourceType"]
    filters = target.get("filters") or []
    # Subnets may be filtered by zone ("AvailabilityZone", as AWS's "AZ Availability: Power
    # Interruption" scenario scopes its subnets); other filters and parameters are not modelled.
    zone_filter = rtype == "aws:ec2:subnet" and filters and all(
        f.get("path") == "AvailabilityZone" for f in filters)
    if (filters and not zone_filter) or target.get("parameters"):
        raise _Unmodelled(f"target {name}: the emulator resolves targets by resourceArns or "
                          f"resourceTags (and subnets by an AvailabilityZone filter) only, not by "
                          f"other filters or parameters")
    arns = list(target.get("resourceArns") or [])
    tags = target.get("resourceTags") or {}
    known = _resources(exp.account_id, exp.region_name, rtype)
    if known is None:
        if tags:
            raise _Unmodelled(f"target {name}: the emulator cannot select {rtype} by tags")
        if rtype == "aws:iam:role":
            # IAM is global: the ARN names the role (the emulator does not look it up).
            found = [a for a in arns if re.fullmatch(r"arn:aws[a-z-]*:iam::\d{12}:role/.+", a)]
        else:
            raise _Unmodelled(f"target {name}: the emulator does not model {rtype}")
    elif arns:
        present = {a for a, _ in known}
        found = [a for a in arns if a in present]
    else:
        found = [a for a, t in known if all(t.get(k) == v for k, v in tags.items())]
    if zone_filter:
        from moto.ec2.models import ec2_backends

        zones = {s.id: s.availability_zone
                 for s in ec2_backends[exp.account_id][exp.region_name].describe_subnets()}
        found = [a for a in found if all(zones.get(a.rsplit("/", 1)[-1]) in (f.get("values") or [])
                                         for f in filters)]
    found = sorted(set(found))
    m = _SELECTION.match(target.get("selectionMode", "ALL"))
    if m and m.group(2):
        found = found[:int(m.group(2))]
    elif m and m.group(3):
        found = found[:math.ceil(len(found) * int(m.group(3)) / 100)]
    return found


def _plan(run: _Run) -> None:
    """Resolves the targets and schedules the actions; a failure marks the run failed."""
    exp = run.exp
    options = exp.experiment_options or {}
    skip_all = options.get("actionsMode") == "skip-all"
    empty_mode = options.get("emptyTargetResolutionMode", "fail")
    override = config.setting("fis_action_duration_seconds", run.names)
    try:
        for name, target in (exp.targets or {}).items():
            run.resolved[name] = _resolve(run, name, target)
        for name in _order(exp.actions):
            a = exp.actions[name]
            action_id = a["actionId"]
            params = a.get("parameters") or {}
            after = [run.plan[n]["end"] for n in a.get("startAfter") or []]
            start = max(after, default=run.running_at)
            d = duration_seconds(params["duration"]) if "duration" in params else 0.0
            if override is not None:
                d = override
            skipped = "Experiment runs no actions (actionsMode skip-all)" if skip_all else None
            run.plan[name] = {"start": start, "end": start if skipped else start + d,
                              "skipped": skipped, "faults": [], "applied": False,
                              "cleared": False}
            if skipped:
                continue
            if action_id not in MODELLED:
                run.failed_action = name
                raise _Unmodelled(f"the emulator does not model the action {action_id}")
            if action_id == "aws:network:disrupt-connectivity" \
                    and params.get("scope", "all") != "all":
                run.failed_action = name
                raise _Unmodelled(f"the emulator models {action_id} with scope all only, not "
                                  f"{params['scope']}")
            for target_name in (a.get("targets") or {}).values():
                if not run.resolved.get(target_name):
                    if empty_mode == "skip":
                        run.plan[name].update(
                            skipped=f"Target {target_name} resolved to no resources",
                            end=start)
                    else:
                        run.failed_action = name
                        raise _Unmodelled(
                            f"Target resolution failed: target {target_name} resolved to no "
                            f"resources")
    except _Unmodelled as e:
        run.failed = str(e)
    except ValidationException as e:
        run.failed = e.message


def _inject(run: _Run, name: str, at: float) -> list[int]:
    """Adds the faults of one action, from `at`; returns their ids."""
    exp = run.exp
    a = exp.actions[name]
    action_id = a["actionId"]
    params = a.get("parameters") or {}
    region = exp.region_name
    targets = [arn for t in (a.get("targets") or {}).values() for arn in run.resolved.get(t, [])]
    if action_id == "aws:network:disrupt-connectivity":
        # scope all: "Denies all traffic entering and leaving the subnet" (FIS actions
        # reference). Subnets that leave their VPC no Availability Zone to run in take the
        # Region's application endpoints down; subnets of some of its zones only (an AZ outage)
        # cut off what runs in those zones, and the rest keeps answering (workloads.py asks
        # `disrupted_subnets`).
        subnets = [arn.rsplit("/", 1)[-1] for arn in targets]
        if _zones_left(exp.account_id, region, subnets):
            return []
        f = faults.add(region, "execute-api", "hang", origin=exp.arn, at=at)
        return [f["id"]]
    if action_id in API_ERRORS:
        ops = [o.strip() for o in str(params.get("operations") or "").split(",") if o.strip()]
        f = faults.add(region, str(params["service"]), API_ERRORS[action_id], roles=targets,
                       operations=ops or None, percentage=float(params["percentage"]),
                       origin=exp.arn, at=at)
        return [f["id"]]
    if action_id == "aws:dynamodb:global-table-pause-replication":
        tables = [arn.split(":table/", 1)[-1] for arn in targets]
        f = faults.add(region, "dynamodb", "pause_replication", tables=tables, origin=exp.arn,
                       at=at)
        return [f["id"]]
    return []


def _zones_left(account: str, region: str, subnet_ids: list[str]) -> bool:
    """Whether the VPCs of `subnet_ids` have subnets in an Availability Zone none of them is in."""
    from moto.ec2.models import ec2_backends

    subnets = {s.id: s for s in ec2_backends[account][region].describe_subnets()}
    cut = [subnets[i] for i in subnet_ids if i in subnets]
    cut_zones = {s.availability_zone for s in cut}
    vpcs = {s.vpc_id for s in cut}
    return any(s.vpc_id in vpcs and s.availability_zone not in cut_zones
               for s in subnets.values())


def disrupted_subnets(region: str, at: float | None = None) -> set[str]:
    """The ids of the subnets of `region` a running disrupt-connectivity action cuts off at `at`
    (default now)."""
    now = time.time() if at is None else at
    out: set[str] = set()
    with _LOCK:
        for run in _RUNS.values():
            if run.failed or run.exp.region_name != region:
                continue
            for name, p in run.plan.items():
                a = run.exp.actions[name]
                if a["actionId"] != "aws:network:disrupt-connectivity" or p["skipped"]:
                    continue
                end = p["end"]
                if run.stop_at is not None:
                    if p["start"] >= run.stop_at:
                        continue
                    end = min(end, run.stopped_at or end)
                if p["start"] <= now < end:
                    for t in (a.get("targets") or {}).values():
                        out.update(arn.rsplit("/", 1)[-1] for arn in run.resolved.get(t, []))
    return out


def _stop(run: _Run, now: float) -> None:
    if run.stop_at is not None or run.status(now) in ("completed", "failed"):
        return
    run.stop_at = now
    run.stopped_at = now + config.seconds("fis_transition_seconds", run.names)
    tick(now)


def tick(now: float | None = None) -> None:
    """Adds and clears the faults that are due, each at its scheduled time."""
    now = time.time() if now is None else now
    with _LOCK:
        for run in list(_RUNS.values()):
            if run.failed:
                continue
            for name, p in run.plan.items():
                if p["skipped"]:
                    continue
                start = p["start"]
                end = p["end"]
                if run.stop_at is not None:
                    if start >= run.stop_at:
                        continue
                    end = min(end, run.stopped_at or end)
                if not p["applied"] and start <= now:
                    p["faults"] = _inject(run, name, start)
                    p["applied"] = True
                if p["applied"] and not p["cleared"] and end <= now:
                    faults.clear_ids(p["faults"], at=end)
                    p["cleared"] = True


# ------------------------------------------------------------------ moto's backend, wrapped

_orig_create = fis_models.FISBackend.create_experiment_template
_orig_update = fis_models.FISBackend.update_experiment_template
_orig_start = fis_models.FISBackend.start_experiment
_orig_get = fis_models.FISBackend.get_experiment
_orig_stop = fis_models.FISBackend.stop_experiment


def _create(self: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
    _validate(kwargs.get("targets") or {}, kwargs.get("actions") or {})
    with _LOCK:
        _KIND.value = "EXT"
        try:
            return _orig_create(self, *args, **kwargs)
        finally:
            _KIND.value = None


def _update(self: Any, id: str, **kwargs: Any) -> dict[str, Any]:
    with _LOCK:
        tmpl = self.experiment_templates.get(id)
        if tmpl is not None:
            targets = kwargs.get("targets") if kwargs.get("targets") is not None else tmpl.targets
            actions = kwargs.get("actions") if kwargs.get("actions") is not None else tmpl.actions
            _validate(targets or {}, actions or {})
        return _orig_update(self, id, **kwargs)


def _start(self: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
    with _LOCK:
        _KIND.value = "EXP"
        try:
            doc = _orig_start(self, *args, **kwargs)
        finally:
            _KIND.value = None
        exp = self.experiments[doc["id"]]
        if exp.arn not in _RUNS:
            tmpl = self.experiment_templates.get(exp.experiment_template_id)
            names = []
            if tmpl is not None:
                names.append(self.tagger.get_tag_dict_for_resource(tmpl.arn).get("Name", ""))
                names.append(tmpl.description or "")
            names.append((kwargs.get("tags") or {}).get("Name", ""))
            run = _Run(exp, [n for n in names if n])
            _plan(run)
            _RUNS[exp.arn] = run
            tick()
        return exp.to_dict(tags=self.tagger.get_tag_dict_for_resource(exp.arn))


def _get(self: Any, id: str) -> dict[str, Any]:
    with _LOCK:
        tick()
        return _orig_get(self, id)


def _stop_experiment(self: Any, id: str) -> dict[str, Any]:
    with _LOCK:
        return _orig_stop(self, id)


fis_models.FISBackend.create_experiment_template = _create  # type: ignore[method-assign]
fis_models.FISBackend.update_experiment_template = _update  # type: ignore[method-assign]
fis_models.FISBackend.start_experiment = _start  # type: ignore[method-assign]
fis_models.FISBackend.get_experiment = _get  # type: ignore[method-assign]
fis_models.FISBackend.stop_experiment = _stop_experiment  # type: ignore[method-assign]


# ------------------------------------------------------------------ keeping time


def _tick_gate(environ: dict[str, Any], start_response: Any, service: str) -> None:
    """Before every AWS request: what is due is in place, so the request sees it."""
    tick()
    return None


def _tick_forever() -> None:
    while True:
        time.sleep(0.1)
        try:
            tick()
        except Exception:  # keep ticking; the next request reports what is wrong
            pass


def snapshot() -> dict[str, Any]:
    """Every experiment with its schedule and faults (GET /_drillbook/fis)."""
    now = time.time()
    with _LOCK:
        return {"experiments": [{
            "id": run.exp.id, "arn": arn, "region": run.exp.region_name,
            "template": run.exp.experiment_template_id, "status": run.status(now),
            "failed": run.failed, "started_at": run.started_at, "running_at": run.running_at,
            "stop_at": run.stop_at, "stopped_at": run.stopped_at,
            "targets": run.resolved,
            "actions": {n: {"start": p["start"], "end": p["end"], "skipped": p["skipped"],
                            "faults": p["faults"]} for n, p in run.plan.items()},
        } for arn, run in _RUNS.items()]}


control.gate(_tick_gate)
control.route("/_drillbook/fis", lambda method, body, query: snapshot())
threading.Thread(target=_tick_forever, name="drillbook-fis", daemon=True).start()
