"""CloudWatch: metric alarms that follow their data.

moto stores metric data and alarms but never evaluates an alarm: its state is whatever
PutMetricAlarm or SetAlarmState left. CloudWatch evaluates a metric alarm against its data
every period (CloudWatch user guide, "Using Amazon CloudWatch alarms", "Evaluating an alarm"),
so an alarm whose metric receives data follows that data here, evaluated when the alarm is read
(DescribeAlarms): the last EvaluationPeriods periods ending now, ALARM when at least
DatapointsToAlarm of them breach, missing periods as TreatMissingData says ("Configuring how
CloudWatch alarms treat missing data": `ignore` keeps the current state).

Not modelled: an alarm whose metric has never received a data point keeps the state it was
given (the seed sets its API alarms with SetAlarmState, and faults set them); on AWS it would
go to INSUFFICIENT_DATA. Metric-math alarms and anomaly detection are not evaluated.

The same evaluation serves Route 53's CLOUDWATCH_METRIC health checks (route53.py), which
follow the alarm's data stream with the settings they copied.
"""

from __future__ import annotations

import json
import re
import time
from datetime import datetime, timezone
from typing import Any

from moto.cloudwatch import responses as cw_responses

_PERCENTILE = re.compile(r"^p(\d+(?:\.\d+)?)$")


def alarm_config(alarm: Any) -> dict[str, Any] | None:
    """The settings Route 53 copies into CloudWatchAlarmConfiguration (plus, prefixed with `_`,
    the two the evaluation also needs), or None for an alarm without a single metric."""
    if not getattr(alarm, "metric_name", None):
        return None
    return {
        "EvaluationPeriods": int(alarm.evaluation_periods or 1),
        "Threshold": float(alarm.threshold),
        "ComparisonOperator": alarm.comparison_operator,
        "Period": int(alarm.period or 60),
        "MetricName": alarm.metric_name,
        "Namespace": alarm.namespace,
        "Statistic": alarm.statistic or "Average",
        "Dimensions": [{"Name": d.name, "Value": d.value} for d in alarm.dimensions],
        "_datapoints_to_alarm": int(alarm.datapoints_to_alarm or alarm.evaluation_periods or 1),
        "_treat_missing_data": alarm.treat_missing_data or "missing",
    }


def _stat(values: list[Any], stat: str) -> float | None:
    from moto.cloudwatch.models import MetricAggregatedDatum, MetricDatum, Statistics

    m = _PERCENTILE.match(stat)
    if m:
        singles = sorted(v.value for v in values if isinstance(v, MetricDatum))
        if not singles:
            return None
        idx = min(len(singles) - 1, max(0, int(round(float(m.group(1)) / 100 * len(singles))) - 1))
        return float(singles[idx])
    s = Statistics([stat], datetime.now(timezone.utc).replace(tzinfo=None))
    s.metric_data = [v for v in values if isinstance(v, (MetricDatum, MetricAggregatedDatum))]
    out = s.get_statistics_for_type(stat)
    return None if out is None else float(out)


def _breaching(value: float, op: str, threshold: float) -> bool:
    return {
        "GreaterThanOrEqualToThreshold": value >= threshold,
        "GreaterThanThreshold": value > threshold,
        "LessThanThreshold": value < threshold,
        "LessThanOrEqualToThreshold": value <= threshold,
    }.get(op, False)


def _series(backend: Any, cfg: dict[str, Any]) -> list[Any]:
    want = {(d["Name"], d["Value"]) for d in cfg["Dimensions"]}
    return [
        md for md in backend.get_all_metrics()
        if md.namespace == cfg["Namespace"] and md.name == cfg["MetricName"]
        and {(d.name, d.value) for d in md.dimensions} == want
    ]


def data_state(backend: Any, cfg: dict[str, Any], now: float) -> str:
    """OK / ALARM / INSUFFICIENT_DATA from the metric's data, or IGNORE when every period is
    missing and TreatMissingData is `ignore` (the current state is kept)."""
    data = _series(backend, cfg)
    period = float(cfg["Period"])
    n = int(cfg["EvaluationPeriods"])
    m = int(cfg["_datapoints_to_alarm"])
    treat = cfg["_treat_missing_data"]
    verdicts: list[bool | None] = []  # True = breaching, False = within, None = missing
    for k in range(n):
        end, start = now - k * period, now - (k + 1) * period
        inside = []
        for md in data:
            ts = md.timestamp
            if ts.tzinfo is None:
                ts = ts.replace(tzinfo=timezone.utc)
            if start <= ts.timestamp() < end:
                inside.append(md)
        value = _stat(inside, cfg["Statistic"]) if inside else None
        verdicts.append(None if value is None
                        else _breaching(value, cfg["ComparisonOperator"], cfg["Threshold"]))
    if treat == "breaching":
        verdicts = [True if v is None else v for v in verdicts]
    elif treat == "notBreaching":
        verdicts = [False if v is None else v for v in verdicts]
    present = [v for v in verdicts if v is not None]
    if not present:
        return "IGNORE" if treat == "ignore" else "INSUFFICIENT_DATA"
    return "ALARM" if sum(1 for v in present if v) >= m else "OK"


def evaluate_alarms(backend: Any, now: float | None = None) -> None:
    """Brings every metric alarm whose metric has data to the state its data gives."""
    now = time.time() if now is None else now
    for alarm in list(getattr(backend, "alarms", {}).values()):
        cfg = alarm_config(alarm)
        if cfg is None or not _series(backend, cfg):
            continue
        state = data_state(backend, cfg, now)
        if state == "IGNORE" or state == alarm.state_value:
            continue
        reason = {
            "ALARM": "Threshold Crossed: the metric's data breaches the threshold",
            "OK": "Threshold Crossed: the metric's data is within the threshold",
        }.get(state, "Insufficient Data: no data points in the evaluation periods")
        alarm.update_state(reason, json.dumps({"version": "1.0"}), state)


_orig_describe_alarms = cw_responses.CloudWatchResponse.describe_alarms


def _describe_alarms(self: Any) -> Any:
    evaluate_alarms(self.cloudwatch_backend)
    return _orig_describe_alarms(self)


cw_responses.CloudWatchResponse.describe_alarms = _describe_alarms  # type: ignore[method-assign]
