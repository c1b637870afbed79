"""Build drillbook's reference system in the emulator and print what was created as JSON.

    python seed.py --endpoint http://127.0.0.1:PORT [--prefix P] [--json]
                   [--regions PRIMARY,SECONDARY] [--failover health-check|routing-control]
                   [--dns cname|alias] [--system unolock|docustack]
                   [--accounts N [--ou NAME] [--role-name ROLE]]

`--accounts N`: an organization (created if the caller has none) with an OU (default
`Workloads`) holding N member accounts `{P}workload-1..N`, and one copy of the reference system
in each, built through the account's role (see `seed_organization`).

Re-runnable: existing resources (found by name) are reused, not duplicated. `fis` in the output
holds the id of an FIS experiment template that takes the primary's endpoints down.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3
from botocore.exceptions import ClientError

# The reference pair; `--regions` picks another (set once in main(), before seeding).
REGIONS = ["ca-central-1", "eu-west-1"]
PRIMARY, SECONDARY = REGIONS


# The credentials every client of this thread signs with: the caller's ("test"), or, while one
# account of an organization is seeded (`--accounts`), the role's in that account.
_CREDS = threading.local()


def client(service: str, region: str, endpoint: str) -> Any:
    creds = getattr(_CREDS, "value", None) or {
        "aws_access_key_id": "test", "aws_secret_access_key": "test"}
    return boto3.client(service, region_name=region, endpoint_url=endpoint, **creds)


def code(e: ClientError) -> str:
    return e.response.get("Error", {}).get("Code", "")


# ---------------------------------------------------------------------- DynamoDB
def seed_table(endpoint: str, name: str) -> dict[str, dict[str, Any]]:
    """`name` as ONE global table (version 2019.11.21) over PRIMARY and SECONDARY, as AWS's
    tutorial builds one: the table in the primary (DynamoDB Streams NEW_AND_OLD_IMAGES), then
    UpdateTable ReplicaUpdates [{Create: {RegionName: SECONDARY}}], then the items, written in
    the primary and waited for in the secondary (replication). PITR (7 days) and TTL are turned
    on in both Regions afterwards, so the earliest restorable state holds the 50 items.
    Returns what was built, per Region."""
    ddb_p = client("dynamodb", PRIMARY, endpoint)
    ddb_s = client("dynamodb", SECONDARY, endpoint)

    def wait_for(what: str, check: Any, timeout: float = 120.0) -> None:
        deadline = time.time() + timeout
        while not check():
            if time.time() > deadline:
                raise RuntimeError(f"seed: timed out waiting for {what}")
            time.sleep(0.1)

    def replicas(ddb: Any) -> dict[str, str]:
        desc = ddb.describe_table(TableName=name)["Table"]
        return {r["RegionName"]: r.get("ReplicaStatus", "") for r in desc.get("Replicas", [])}

    def active(ddb: Any) -> bool:
        return ddb.describe_table(TableName=name)["Table"]["TableStatus"] == "ACTIVE"

    try:
        ddb_p.create_table(
            TableName=name,
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            BillingMode="PAY_PER_REQUEST",
            StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
            Tags=[{"Key": "app", "Value": "unolock"}],
        )
    except ClientError as e:
        if code(e) != "ResourceInUseException":
            raise
    wait_for(f"{name} to be ACTIVE in {PRIMARY}", lambda: active(ddb_p))
    if SECONDARY not in replicas(ddb_p):
        try:
            # A same-named table that is not a replica (an older seed's): a replica cannot be
            # created over it ("one or more replicas already existed as tables").
            ddb_s.describe_table(TableName=name)
            ddb_s.delete_table(TableName=name)
        except ClientError as e:
            if code(e) != "ResourceNotFoundException":
                raise
        ddb_p.update_table(TableName=name, ReplicaUpdates=[{"Create": {"RegionName": SECONDARY}}])
    wait_for(f"the replica of {name} in {SECONDARY} to be ACTIVE",
             lambda: replicas(ddb_p).get(SECONDARY) == "ACTIVE" and active(ddb_s))
    items = {
        f"item-{i:03d}": {
            "pk": {"S": f"item-{i:03d}"},
            "region": {"S": PRIMARY},  # the Region it was written in
            "n": {"N": str(i)},
            "secret": {"S": f"ciphertext-{i}"},
        }
        for i in range(50)
    }
    for item in items.values():
        ddb_p.put_item(TableName=name, Item=item)

    def replicated() -> bool:
        got = {}
        for page in ddb_s.get_paginator("scan").paginate(TableName=name):
            got.update({it["pk"]["S"]: it for it in page["Items"]})
        return all(got.get(k) == v for k, v in items.items())

    wait_for(f"the items of {name} to reach {SECONDARY}", replicated)
    out: dict[str, dict[str, Any]] = {}
    for region, ddb in ((PRIMARY, ddb_p), (SECONDARY, ddb_s)):
        spec: dict[str, Any] = {"PointInTimeRecoveryEnabled": True, "RecoveryPeriodInDays": 7}
        ddb.update_continuous_backups(TableName=name, PointInTimeRecoverySpecification=spec)
        if _ttl_off(ddb, name):
            ddb.update_time_to_live(
                TableName=name,
                TimeToLiveSpecification={"Enabled": True, "AttributeName": "expires_at"},
            )
        desc = ddb.describe_table(TableName=name)["Table"]
        if region == SECONDARY:
            # Tags are per replica: the replica does not get the primary's.
            ddb.tag_resource(ResourceArn=desc["TableArn"], Tags=[{"Key": "app", "Value": "unolock"}])
        pitr = ddb.describe_continuous_backups(TableName=name)["ContinuousBackupsDescription"]
        out[region] = {
            "name": name,
            "arn": desc["TableArn"],
            "item_count": len(items),
            "pitr_status": pitr["PointInTimeRecoveryDescription"]["PointInTimeRecoveryStatus"],
            "global_table": True,
            "global_table_version": desc.get("GlobalTableVersion"),
            "replicas": [
                {"region": r["RegionName"], "status": r.get("ReplicaStatus")}
                for r in desc.get("Replicas", [])
            ],
        }
    return out


def _ttl_off(ddb: Any, name: str) -> bool:
    d = ddb.describe_time_to_live(TableName=name)["TimeToLiveDescription"]
    return d.get("TimeToLiveStatus") != "ENABLED"


# ---------------------------------------------------------------------- KMS
def seed_key(endpoint: str, prefix: str) -> dict[str, Any]:
    alias = f"alias/{prefix}unolock-root"
    kms_p = client("kms", PRIMARY, endpoint)
    kms_s = client("kms", SECONDARY, endpoint)
    key_id = None
    for a in _aliases(kms_p):
        if a["AliasName"] == alias:
            key_id = a["TargetKeyId"]
    if key_id is None:
        md = kms_p.create_key(
            MultiRegion=True,
            Description=f"{prefix}unolock-root",
            Tags=[{"TagKey": "app", "TagValue": "unolock"}],
        )["KeyMetadata"]
        key_id = md["KeyId"]
        kms_p.create_alias(AliasName=alias, TargetKeyId=key_id)
    try:
        kms_s.describe_key(KeyId=key_id)
    except ClientError as e:
        if code(e) != "NotFoundException":
            raise
        kms_p.replicate_key(KeyId=key_id, ReplicaRegion=SECONDARY, Description=f"{prefix}unolock-root")
    if not any(a["AliasName"] == alias for a in _aliases(kms_s)):
        kms_s.create_alias(AliasName=alias, TargetKeyId=key_id)
    out: dict[str, Any] = {"key_id": key_id, "alias": alias}
    for region, kms in ((PRIMARY, kms_p), (SECONDARY, kms_s)):
        md = kms.describe_key(KeyId=alias)["KeyMetadata"]
        out[region] = {
            "arn": md["Arn"],
            "multi_region_key_type": md["MultiRegionConfiguration"]["MultiRegionKeyType"],
        }
    return out


def _aliases(kms: Any) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for page in kms.get_paginator("list_aliases").paginate():
        out.extend(page["Aliases"])
    return out


# ---------------------------------------------------------------------- API Gateway
def seed_api(apigw: Any, prefix: str, region: str) -> dict[str, Any]:
    name = f"{prefix}unolock-api"
    table = f"{prefix}vault"
    domain = f"api.{prefix}unolock.example"
    api_id = None
    for page in apigw.get_paginator("get_rest_apis").paginate():
        for item in page["items"]:
            if item["name"] == name:
                api_id = item["id"]
    if api_id is None:
        api_id = apigw.create_rest_api(
            name=name, endpointConfiguration={"types": ["REGIONAL"]}, tags={"app": "unolock"}
        )["id"]
    resources = apigw.get_resources(restApiId=api_id, limit=500)["items"]
    root_id = next(r["id"] for r in resources if r["path"] == "/")
    health = next((r for r in resources if r["path"] == "/health"), None)
    if health is None:
        health_id = apigw.create_resource(restApiId=api_id, parentId=root_id, pathPart="health")["id"]
        apigw.put_method(restApiId=api_id, resourceId=health_id, httpMethod="GET", authorizationType="NONE")
        apigw.put_integration(
            restApiId=api_id, resourceId=health_id, httpMethod="GET", type="MOCK",
            requestTemplates={"application/json": '{"statusCode": 200}'},
        )
        apigw.put_method_response(restApiId=api_id, resourceId=health_id, httpMethod="GET", statusCode="200")
        apigw.put_integration_response(
            restApiId=api_id, resourceId=health_id, httpMethod="GET", statusCode="200",
            responseTemplates={"application/json": '{"ok": true}'},
        )
    else:
        health_id = health["id"]
    stages = {s["stageName"]: s for s in apigw.get_stages(restApiId=api_id)["item"]}
    if "prod" not in stages:
        dep = apigw.create_deployment(restApiId=api_id, description="seed")
        apigw.create_stage(
            restApiId=api_id, stageName="prod", deploymentId=dep["id"], variables={"table": table}
        )
    stage = apigw.get_stage(restApiId=api_id, stageName="prod")
    try:
        dn = apigw.get_domain_name(domainName=domain)
    except ClientError as e:
        if code(e) != "NotFoundException":
            raise
        dn = apigw.create_domain_name(
            domainName=domain,
            regionalCertificateArn=f"arn:aws:acm:{region}:123456789012:certificate/{prefix}unolock",
            endpointConfiguration={"types": ["REGIONAL"]},
            securityPolicy="TLS_1_2",
        )
    mappings = apigw.get_base_path_mappings(domainName=domain).get("items", [])
    if not mappings:
        apigw.create_base_path_mapping(domainName=domain, restApiId=api_id, stage="prod")
        mappings = apigw.get_base_path_mappings(domainName=domain).get("items", [])
    return {
        "rest_api_id": api_id,
        "rest_api_name": name,
        "health_resource_id": health_id,
        "stage": "prod",
        "stage_variables": stage.get("variables", {}),
        "invoke_url": f"https://{api_id}.execute-api.{region}.amazonaws.com/prod",
        "domain_name": domain,
        "regional_domain_name": dn.get("regionalDomainName"),
        "regional_hosted_zone_id": dn.get("regionalHostedZoneId"),
        "base_path_mappings": [
            {"base_path": m.get("basePath", "(none)"), "rest_api_id": m.get("restApiId"), "stage": m.get("stage")}
            for m in mappings
        ],
    }


# ---------------------------------------------------------------------- CloudWatch
def seed_alarm(cw: Any, prefix: str, api_name: str) -> dict[str, Any]:
    name = f"{prefix}unolock-api-5xx"
    cw.put_metric_alarm(
        AlarmName=name,
        AlarmDescription="5XX errors on the unolock API",
        Namespace="AWS/ApiGateway",
        MetricName="5XXError",
        Dimensions=[{"Name": "ApiName", "Value": api_name}, {"Name": "Stage", "Value": "prod"}],
        Statistic="Sum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=1.0,
        ComparisonOperator="GreaterThanOrEqualToThreshold",
        TreatMissingData="notBreaching",
    )
    cw.set_alarm_state(AlarmName=name, StateValue="OK", StateReason="seeded")
    alarm = cw.describe_alarms(AlarmNames=[name])["MetricAlarms"][0]
    return {"name": name, "arn": alarm["AlarmArn"], "state": alarm["StateValue"]}


def seed_signal_alarm(cw: Any, prefix: str) -> dict[str, Any]:
    """The failover signal: an alarm in the secondary Region on a metric only drillbook writes.
    One data point >= 1 puts it in ALARM; `TreatMissingData: ignore` keeps that state when no
    new data comes ("The current alarm state is maintained", CloudWatch user guide, "Configuring
    how CloudWatch alarms treat missing data"), so the signal holds until a 0 is published."""
    name = f"{prefix}unolock-failover-signal"
    dims = [{"Name": "Application", "Value": f"{prefix}unolock"}]
    cw.put_metric_alarm(
        AlarmName=name,
        AlarmDescription="Fail unolock over to the secondary Region while in ALARM",
        Namespace="Unolock/Failover", MetricName="FailoverRequested", Dimensions=dims,
        Statistic="Maximum", Period=60, EvaluationPeriods=1, Threshold=1.0,
        ComparisonOperator="GreaterThanOrEqualToThreshold", TreatMissingData="ignore",
    )
    alarm = cw.describe_alarms(AlarmNames=[name])["MetricAlarms"][0]
    return {"name": name, "arn": alarm["AlarmArn"], "region": SECONDARY,
            "namespace": "Unolock/Failover", "metric": "FailoverRequested"}


# ---------------------------------------------------------------------- Route 53
def seed_dns(endpoint: str, prefix: str, primary_target: str, secondary_target: str,
             failover: str = "health-check", dns: str = "alias",
             primary_zone_id: str | None = None, secondary_zone_id: str | None = None,
             arc: dict[str, Any] | None = None,
             signal: dict[str, Any] | None = None) -> dict[str, Any]:
    """Zone, health checks and failover records `api.{P}unolock.example.`.

    failover: `health-check` = an HTTPS check on the primary's regional domain name (the
    secondary has none: "If you omit the HealthCheckId element for the secondary resource record
    set, and if the primary resource record set is unhealthy, Route 53 always responds to DNS
    queries with the applicable value from the secondary", Route 53 API reference,
    ResourceRecordSet); `signal` = the same HTTPS check AND a CLOUDWATCH_METRIC check on the
    `signal` alarm (in the secondary Region), combined in a CALCULATED check on the primary
    record: drillbook fails over by publishing the alarm's metric in the secondary Region (no
    Route 53 control plane, nothing in the primary Region); `routing-control` = one
    RECOVERY_CONTROL check per Region on `arc`'s routing controls, on both records.
    dns: `cname` = CNAME records to the regional domain names; `alias` = alias A records to them
    (AliasTarget HostedZoneId = the regional hosted zone id; "For failover alias resource record
    sets, you must also include the EvaluateTargetHealth element and set the value to true").
    """
    # Route 53 is global; its API (control plane) is signed for us-east-1.
    r53 = client("route53", "us-east-1", endpoint)
    zone_name = f"{prefix}unolock.example."
    record = f"api.{prefix}unolock.example."
    zone_id = None
    for page in r53.get_paginator("list_hosted_zones").paginate():
        for z in page["HostedZones"]:
            if z["Name"] == zone_name:
                zone_id = z["Id"].split("/")[-1]
    if zone_id is None:
        zone_id = r53.create_hosted_zone(
            Name=zone_name, CallerReference=f"drillbook-seed-{prefix}{zone_name}"
        )["HostedZone"]["Id"].split("/")[-1]
    existing: dict[str, str] = {}
    for page in r53.get_paginator("list_health_checks").paginate():
        for hc in page["HealthChecks"]:
            existing[hc["CallerReference"]] = hc["Id"]

    def health_check(caller_ref: str, name_tag: str, config: dict[str, Any]) -> str:
        if caller_ref in existing:
            return existing[caller_ref]
        hc_id = r53.create_health_check(CallerReference=caller_ref,
                                        HealthCheckConfig=config)["HealthCheck"]["Id"]
        r53.change_tags_for_resource(ResourceType="healthcheck", ResourceId=hc_id,
                                     AddTags=[{"Key": "Name", "Value": name_tag}])
        return hc_id

    endpoint_hc = None
    if failover == "routing-control":
        assert arc is not None, "routing-control failover needs the ARC routing controls"
        hc_ids = {
            side: health_check(
                f"drillbook-seed-{prefix}{side}-rc-hc", f"{prefix}unolock-api-{side}-rc",
                {"Type": "RECOVERY_CONTROL",
                 "RoutingControlArn": arc["routing_controls"][region]})
            for side, region in (("primary", PRIMARY), ("secondary", SECONDARY))
        }
    else:
        endpoint_hc = health_check(
            f"drillbook-seed-{prefix}primary-hc", f"{prefix}unolock-api-primary",
            {"Type": "HTTPS", "FullyQualifiedDomainName": primary_target, "Port": 443,
             "ResourcePath": "/prod/health", "RequestInterval": 30, "FailureThreshold": 3})
        hc_ids = {"primary": endpoint_hc, "secondary": None}
    signal_hc = None
    if failover == "signal":
        assert signal is not None, "signal failover needs the signal alarm"
        # The primary is healthy only while its endpoint answers AND the failover signal (an
        # alarm in the secondary Region) is OK: "Route 53 adds up the number of health checks
        # that Route 53 health checkers consider to be healthy and compares that number with
        # the value of HealthThreshold" (Route 53 API reference, HealthCheckConfig).
        signal_hc = health_check(
            f"drillbook-seed-{prefix}signal-hc", f"{prefix}unolock-failover-signal",
            {"Type": "CLOUDWATCH_METRIC",
             "AlarmIdentifier": {"Region": signal["region"], "Name": signal["name"]},
             "InsufficientDataHealthStatus": "LastKnownStatus"})
        hc_ids["primary"] = health_check(
            f"drillbook-seed-{prefix}primary-calc-hc", f"{prefix}unolock-api-primary-and-signal",
            {"Type": "CALCULATED", "ChildHealthChecks": [endpoint_hc, signal_hc],
             "HealthThreshold": 2})

    def rrset(side: str, target: str, target_zone: str | None) -> dict[str, Any]:
        rr: dict[str, Any] = {"Name": record, "SetIdentifier": side,
                              "Failover": side.upper()}
        if dns == "alias":
            rr["Type"] = "A"
            rr["AliasTarget"] = {"HostedZoneId": target_zone, "DNSName": target,
                                 "EvaluateTargetHealth": True}
        else:
            rr.update({"Type": "CNAME", "TTL": 60, "ResourceRecords": [{"Value": target}]})
        if hc_ids[side]:
            rr["HealthCheckId"] = hc_ids[side]
        return rr

    change = r53.change_resource_record_sets(
        HostedZoneId=zone_id,
        ChangeBatch={
            "Comment": "drillbook seed",
            "Changes": [
                {"Action": "UPSERT", "ResourceRecordSet": rrset("primary", primary_target,
                                                                primary_zone_id)},
                {"Action": "UPSERT", "ResourceRecordSet": rrset("secondary", secondary_target,
                                                                secondary_zone_id)},
            ],
        },
    )["ChangeInfo"]
    answers = {"primary": [primary_target], "secondary": [secondary_target]}
    if dns == "alias":
        answers = {side: _resolve(endpoint, target)
                   for side, target in (("primary", primary_target),
                                        ("secondary", secondary_target))}
    return {
        "hosted_zone_id": zone_id,
        "zone_name": zone_name,
        "record_name": record,
        "record_type": "A" if dns == "alias" else "CNAME",
        "failover": failover,
        "dns": dns,
        "health_check_id": hc_ids["primary"],
        "endpoint_health_check_id": endpoint_hc,
        "signal_health_check_id": signal_hc,
        "signal_alarm": signal,
        "secondary_health_check_id": hc_ids["secondary"],
        "primary_target": primary_target,
        "secondary_target": secondary_target,
        # every address TestDNSAnswer may give for the record when that side answers
        "answers": answers,
        "change_id": change["Id"],
    }


def _resolve(endpoint: str, name: str) -> list[str]:
    """The addresses the emulator gives an alias to `name` (GET /_drillbook/resolve; moto only)."""
    import urllib.parse
    import urllib.request

    url = f"{endpoint}/_drillbook/resolve?" + urllib.parse.urlencode({"name": name, "type": "A"})
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            return list(json.loads(resp.read())["addresses"])
    except Exception:
        return []


# ---------------------------------------------------------------------- ARC (routing control)
def seed_arc(endpoint: str, prefix: str) -> dict[str, Any]:
    """A cluster, a control panel, one routing control per Region and an assertion rule "at least
    one On". Active/passive: the primary's control On, the secondary's Off ("To implement
    failover, you set one routing control to ON and another one to OFF", Routing Control API
    reference). The states are set only when the controls are new, so a re-run does not undo a
    drill. ARC's configuration API is called in us-west-2 ("you must specify the US West (Oregon)
    Region", ARC developer guide); states go through a cluster endpoint, each tried in turn ("We
    recommend that your systems be prepared to retry with each of the available endpoints")."""
    cfg = client("route53-recovery-control-config", "us-west-2", endpoint)
    name = f"{prefix}unolock-cluster"
    cluster_arn = next((c["ClusterArn"] for page in cfg.get_paginator("list_clusters").paginate()
                        for c in page["Clusters"] if c["Name"] == name), None)
    if cluster_arn is None:
        cluster_arn = cfg.create_cluster(ClusterName=name)["Cluster"]["ClusterArn"]
    cluster = cfg.describe_cluster(ClusterArn=cluster_arn)["Cluster"]
    panel_name = f"{prefix}unolock-panel"
    panel_arn = next((p["ControlPanelArn"] for p in cfg.list_control_panels(
        ClusterArn=cluster_arn)["ControlPanels"] if p["Name"] == panel_name), None)
    if panel_arn is None:
        panel_arn = cfg.create_control_panel(ClusterArn=cluster_arn, ControlPanelName=panel_name
                                             )["ControlPanel"]["ControlPanelArn"]
    have = {rc["Name"]: rc["RoutingControlArn"]
            for rc in cfg.list_routing_controls(ControlPanelArn=panel_arn)["RoutingControls"]}
    controls: dict[str, str] = {}
    new = False
    for region in REGIONS:
        rc_name = f"{prefix}unolock-{region}"
        if rc_name not in have:
            have[rc_name] = cfg.create_routing_control(
                ClusterArn=cluster_arn, ControlPanelArn=panel_arn, RoutingControlName=rc_name
            )["RoutingControl"]["RoutingControlArn"]
            new = True
        controls[region] = have[rc_name]
    rule_name = f"{prefix}unolock-at-least-one-on"
    rule_arn = next((r["ASSERTION"]["SafetyRuleArn"] for r in cfg.list_safety_rules(
        ControlPanelArn=panel_arn)["SafetyRules"]
        if "ASSERTION" in r and r["ASSERTION"]["Name"] == rule_name), None)
    if rule_arn is None:
        rule_arn = cfg.create_safety_rule(AssertionRule={
            "AssertedControls": [controls[r] for r in REGIONS], "ControlPanelArn": panel_arn,
            "Name": rule_name, "RuleConfig": {"Type": "ATLEAST", "Threshold": 1, "Inverted": False},
            "WaitPeriodMs": 5000,
        })["AssertionRule"]["SafetyRuleArn"]
    endpoints = cluster.get("ClusterEndpoints", [])
    states: dict[str, str] = {}
    last_error: Exception | None = None
    for ep in endpoints:
        data = client("route53-recovery-cluster", ep["Region"], ep["Endpoint"])
        try:
            if new:
                data.update_routing_control_states(UpdateRoutingControlStateEntries=[
                    {"RoutingControlArn": controls[PRIMARY], "RoutingControlState": "On"},
                    {"RoutingControlArn": controls[SECONDARY], "RoutingControlState": "Off"},
                ])
            for region, arn in controls.items():
                states[region] = data.get_routing_control_state(
                    RoutingControlArn=arn)["RoutingControlState"]
            break
        except ClientError as e:
            last_error = e
    else:
        if last_error is not None:
            raise last_error
    return {
        "cluster_arn": cluster_arn,
        "cluster_endpoints": endpoints,
        "control_panel_arn": panel_arn,
        "routing_controls": controls,
        "safety_rule_arn": rule_arn,
        "states": states,
    }


# ---------------------------------------------------------------------- FIS
def seed_fis(endpoint: str, prefix: str) -> dict[str, Any]:
    """An AWS FIS experiment template that takes the primary Region's application endpoints
    down: `aws:network:disrupt-connectivity` (scope `all`) on the application's subnet in the
    primary (a VPC `{P}unolock-vpc` with a subnet `{P}unolock-app`, selected by its Name tag),
    for at most 30 minutes (a drill stops it sooner). FIS runs it as the role `{P}unolock-fis`
    ("roleArn: The Amazon Resource Name (ARN) of an IAM role that grants the AWS FIS service
    permission to perform service actions on your behalf", FIS API reference,
    CreateExperimentTemplate). Found again by its Name tag `{P}unolock-primary-outage`."""
    ec2 = client("ec2", PRIMARY, endpoint)
    subnet_name = f"{prefix}unolock-app"

    def tagged(kind: str, name: str) -> list[dict[str, str]]:
        return [{"ResourceType": kind, "Tags": [{"Key": "Name", "Value": name}]}]

    subnets = ec2.describe_subnets(
        Filters=[{"Name": "tag:Name", "Values": [subnet_name]}])["Subnets"]
    if subnets:
        subnet = subnets[0]
    else:
        vpcs = ec2.describe_vpcs(
            Filters=[{"Name": "tag:Name", "Values": [f"{prefix}unolock-vpc"]}])["Vpcs"]
        vpc_id = vpcs[0]["VpcId"] if vpcs else ec2.create_vpc(
            CidrBlock="10.42.0.0/16",
            TagSpecifications=tagged("vpc", f"{prefix}unolock-vpc"))["Vpc"]["VpcId"]
        subnet = ec2.create_subnet(VpcId=vpc_id, CidrBlock="10.42.1.0/24",
                                   TagSpecifications=tagged("subnet", subnet_name))["Subnet"]
    iam = client("iam", "us-east-1", endpoint)
    role_name = f"{prefix}unolock-fis"
    try:
        role_arn = iam.get_role(RoleName=role_name)["Role"]["Arn"]
    except ClientError as e:
        if code(e) != "NoSuchEntity":
            raise
        trust = {"Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Principal": {"Service": "fis.amazonaws.com"},
            "Action": "sts:AssumeRole"}]}
        role_arn = iam.create_role(RoleName=role_name,
                                   AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    fis = client("fis", PRIMARY, endpoint)
    name = f"{prefix}unolock-primary-outage"
    template_id = None
    for page in fis.get_paginator("list_experiment_templates").paginate():
        for t in page["experimentTemplates"]:
            if t.get("tags", {}).get("Name") == name:
                template_id = t["id"]
    if template_id is None:
        template_id = fis.create_experiment_template(
            clientToken=f"drillbook-seed-{prefix}primary-outage",
            description=f"{prefix}unolock: the application subnets of {PRIMARY} lose "
                        f"connectivity, so its API endpoints stop answering",
            roleArn=role_arn,
            stopConditions=[{"source": "none"}],
            targets={"app-subnets": {"resourceType": "aws:ec2:subnet",
                                     "resourceTags": {"Name": subnet_name},
                                     "selectionMode": "ALL"}},
            actions={"disrupt-app-subnets": {
                "actionId": "aws:network:disrupt-connectivity",
                "description": f"deny all traffic of {subnet_name}",
                "parameters": {"duration": "PT30M", "scope": "all"},
                "targets": {"Subnets": "app-subnets"}}},
            tags={"Name": name},
        )["experimentTemplate"]["id"]
    return {
        "region": PRIMARY,
        "experiment_template_id": template_id,
        "experiment_template_name": name,
        "subnet_id": subnet["SubnetId"],
        "subnet_arn": f"arn:aws:ec2:{PRIMARY}:{subnet.get('OwnerId', '123456789012')}:subnet/"
                      f"{subnet['SubnetId']}",
        "role_arn": role_arn,
    }


def seed_app_role(endpoint: str, prefix: str) -> dict[str, Any]:
    """The application's role `{P}unolock-app` (API Gateway's integrations call DynamoDB as
    it), with an inline policy `{P}unolock-vault-data` that allows the DynamoDB data actions on
    every table whose name starts with `{P}vault`, in every Region: the global table's
    replicas and any table a restore creates (`{P}vault-restored-...`), so the application
    keeps working after a data-corruption restore. `iam.assert_access` checks it."""
    iam = client("iam", "us-east-1", endpoint)
    account = client("sts", "us-east-1", endpoint).get_caller_identity()["Account"]
    role_name = f"{prefix}unolock-app"
    try:
        role_arn = iam.get_role(RoleName=role_name)["Role"]["Arn"]
    except ClientError as e:
        if code(e) != "NoSuchEntity":
            raise
        trust = {"Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Principal": {"Service": "apigateway.amazonaws.com"},
            "Action": "sts:AssumeRole"}]}
        role_arn = iam.create_role(RoleName=role_name,
                                   AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    policy_name = f"{prefix}unolock-vault-data"
    tables = f"arn:aws:dynamodb:*:{account}:table/{prefix}vault*"
    iam.put_role_policy(RoleName=role_name, PolicyName=policy_name, PolicyDocument=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "VaultData",
            "Effect": "Allow",
            "Action": ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem",
                       "dynamodb:DeleteItem", "dynamodb:Query", "dynamodb:BatchGetItem",
                       "dynamodb:BatchWriteItem", "dynamodb:ConditionCheckItem"],
            "Resource": [tables, f"{tables}/index/*"],
        }],
    }))
    return {"app_role_name": role_name, "app_role_arn": role_arn,
            "app_policy_name": policy_name, "app_tables": tables}


def seed_rds(endpoint: str, prefix: str, region: str, engine: str = "postgres",
             network: dict[str, Any] | None = None) -> dict[str, Any]:
    """A Multi-AZ DB instance `{prefix}docustack-db` in `region` with settings of its own (a
    VPC with subnets in two Availability Zones, a security group, subnet, parameter and option
    groups, 7-day backups, gp3, deletion protection, IAM authentication, log exports, a KMS
    key, tags): the settings a point-in-time restore does not carry over by itself (RDS API
    reference, RestoreDBInstanceToPointInTime). `engine`: `postgres` or `mysql`. Not part of
    the default seed (`--rds REGION[:ENGINE]` seeds only this). `network` (`vpc_id`,
    `subnet_ids`, `security_group_id`): an existing VPC's, instead of a new one."""
    ec2 = client("ec2", region, endpoint)
    rds = client("rds", region, endpoint)
    kms = client("kms", region, endpoint)
    if network is not None:
        vpc, subnets, sg = network["vpc_id"], network["subnet_ids"], network["security_group_id"]
    else:
        vpc = ec2.create_vpc(CidrBlock="10.40.0.0/16")["Vpc"]["VpcId"]
        subnets = [
            ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.40.{i}.0/24",
                              AvailabilityZone=f"{region}{az}")["Subnet"]["SubnetId"]
            for i, az in ((1, "a"), (2, "b"))
        ]
        sg = ec2.create_security_group(GroupName=f"{prefix}docustack-db",
                                       Description="database", VpcId=vpc)["GroupId"]
    name = f"{prefix}docustack-db"
    rds.create_db_subnet_group(DBSubnetGroupName=f"{prefix}docustack-subnets",
                               DBSubnetGroupDescription="docustack database subnets",
                               SubnetIds=subnets)
    version, family, logs = (("8.0.35", "mysql8.0", ["error", "slowquery"]) if engine == "mysql"
                             else ("13.14", "postgres13", ["postgresql"]))
    rds.create_db_parameter_group(DBParameterGroupName=f"{prefix}docustack-params",
                                  DBParameterGroupFamily=family, Description="docustack")
    major = version.split(".")[0] + ("." + version.split(".")[1] if engine == "mysql" else "")
    rds.create_option_group(OptionGroupName=f"{prefix}docustack-options", EngineName=engine,
                            MajorEngineVersion=major, OptionGroupDescription="docustack")
    key = kms.create_key(Description=f"{prefix}docustack-db")["KeyMetadata"]["Arn"]
    rds.create_db_instance(
        DBInstanceIdentifier=name, Engine=engine, EngineVersion=version,
        DBInstanceClass="db.t3.micro", MasterUsername="docustack",
        MasterUserPassword="not-a-secret-1", AllocatedStorage=20, MultiAZ=True,
        AvailabilityZone=f"{region}a", DBSubnetGroupName=f"{prefix}docustack-subnets",
        VpcSecurityGroupIds=[sg], DBParameterGroupName=f"{prefix}docustack-params",
        OptionGroupName=f"{prefix}docustack-options", BackupRetentionPeriod=7,
        StorageType="gp3", DeletionProtection=True, EnableIAMDatabaseAuthentication=True,
        EnableCloudwatchLogsExports=logs, StorageEncrypted=True, KmsKeyId=key,
        CopyTagsToSnapshot=True,
        Tags=[{"Key": "app", "Value": "docustack"}, {"Key": "env", "Value": "production"}],
    )
    return {"region": region, "engine": engine, "instance": name, "vpc_id": vpc,
            "subnet_ids": subnets, "security_group_id": sg, "kms_key_arn": key,
            "subnet_group": f"{prefix}docustack-subnets",
            "parameter_group": f"{prefix}docustack-params",
            "option_group": f"{prefix}docustack-options"}


def seed(endpoint: str, prefix: str, failover: str = "signal",
         dns: str = "alias") -> dict[str, Any]:
    doc: dict[str, Any] = {"prefix": prefix, "endpoint": endpoint, "primary_region": PRIMARY,
                           "secondary_region": SECONDARY, "regions": {}}
    doc["kms"] = seed_key(endpoint, prefix)
    tables = seed_table(endpoint, f"{prefix}vault")  # one global table over both Regions
    for region in REGIONS:
        r: dict[str, Any] = {}
        r["dynamodb"] = tables[region]
        r["kms"] = {"key_id": doc["kms"]["key_id"], "alias": doc["kms"]["alias"], **doc["kms"][region]}
        r["apigateway"] = seed_api(client("apigateway", region, endpoint), prefix, region)
        r["cloudwatch"] = seed_alarm(client("cloudwatch", region, endpoint), prefix,
                                     r["apigateway"]["rest_api_name"])
        doc["regions"][region] = r
    doc["arc"] = seed_arc(endpoint, prefix) if failover == "routing-control" else None
    signal = (seed_signal_alarm(client("cloudwatch", SECONDARY, endpoint), prefix)
              if failover == "signal" else None)
    doc["route53"] = seed_dns(
        endpoint, prefix,
        doc["regions"][PRIMARY]["apigateway"]["regional_domain_name"],
        doc["regions"][SECONDARY]["apigateway"]["regional_domain_name"],
        failover=failover, dns=dns,
        primary_zone_id=doc["regions"][PRIMARY]["apigateway"]["regional_hosted_zone_id"],
        secondary_zone_id=doc["regions"][SECONDARY]["apigateway"]["regional_hosted_zone_id"],
        arc=doc["arc"], signal=signal,
    )
    doc["fis"] = seed_fis(endpoint, prefix)
    doc["iam"] = seed_app_role(endpoint, prefix)
    return doc


# ---------------------------------------------------------------------- Organizations
ROLE_NAME = "OrganizationAccountAccessRole"


def _assume(endpoint: str, role_arn: str, session: str) -> dict[str, str]:
    """Credentials of `role_arn` (STS AssumeRole with the caller's): in the emulator, as in AWS,
    what they sign lands in the role's account (moto keys its backends by the account an
    access key belongs to)."""
    c = client("sts", "us-east-1", endpoint).assume_role(
        RoleArn=role_arn, RoleSessionName=session)["Credentials"]
    return {"aws_access_key_id": c["AccessKeyId"], "aws_secret_access_key": c["SecretAccessKey"],
            "aws_session_token": c["SessionToken"]}


def seed_organization(endpoint: str, prefix: str, accounts: int, ou_name: str = "Workloads",
                      role_name: str = ROLE_NAME, failover: str = "signal",
                      dns: str = "alias") -> dict[str, Any]:
    """The caller's organization (CreateOrganization with all features when it has none), an
    OU `ou_name` under the root, `accounts` member accounts `{prefix}workload-{i}` in it
    (CreateAccount with `RoleName`, then MoveAccount from the root: CreateAccount puts new
    accounts in the root, AWS Organizations API reference, CreateAccount), and one copy of the
    reference system in each account, built with the credentials of the account's
    `role_name` (the role AWS Organizations creates in every account it creates, which the
    management account may assume: "Accessing member accounts in your organization", AWS
    Organizations user guide). Re-runnable: the OU and accounts are found by name."""
    org = client("organizations", "us-east-1", endpoint)
    try:
        desc = org.describe_organization()["Organization"]
    except ClientError as e:
        if code(e) != "AWSOrganizationsNotInUseException":
            raise
        try:
            desc = org.create_organization(FeatureSet="ALL")["Organization"]
        except ClientError as e2:  # another seed created it meanwhile
            if code(e2) != "AlreadyInOrganizationException":
                raise
            desc = org.describe_organization()["Organization"]
    root = org.list_roots()["Roots"][0]["Id"]
    ou_id = next((ou["Id"] for ou in org.list_organizational_units_for_parent(
        ParentId=root)["OrganizationalUnits"] if ou["Name"] == ou_name), None)
    if ou_id is None:
        ou_id = org.create_organizational_unit(ParentId=root, Name=ou_name)[
            "OrganizationalUnit"]["Id"]
    existing = {a["Name"]: a for page in org.get_paginator("list_accounts").paginate()
                for a in page["Accounts"]}
    members: list[dict[str, Any]] = []
    for i in range(1, accounts + 1):
        name = f"{prefix}workload-{i}"
        if name in existing:
            account_id = existing[name]["Id"]
        else:
            status = org.create_account(
                AccountName=name, Email=f"{name.lower()}@example.com", RoleName=role_name,
                Tags=[{"Key": "app", "Value": "unolock"}])["CreateAccountStatus"]
            deadline = time.time() + 60
            while status["State"] == "IN_PROGRESS" and time.time() < deadline:
                time.sleep(0.2)
                status = org.describe_create_account_status(
                    CreateAccountRequestId=status["Id"])["CreateAccountStatus"]
            if status["State"] != "SUCCEEDED":
                raise RuntimeError(f"seed: account {name} was not created: {status}")
            account_id = status["AccountId"]
        parent = org.list_parents(ChildId=account_id)["Parents"][0]["Id"]
        if parent != ou_id:
            org.move_account(AccountId=account_id, SourceParentId=parent,
                             DestinationParentId=ou_id)
        members.append({"id": account_id, "name": name,
                        "role_arn": f"arn:aws:iam::{account_id}:role/{role_name}"})

    def seed_member(m: dict[str, Any]) -> dict[str, Any]:
        creds = _assume(endpoint, m["role_arn"], "drillbook-seed")
        _CREDS.value = creds
        try:
            doc = seed(endpoint, prefix, failover, dns)
        finally:
            _CREDS.value = None
        status = org.describe_account(AccountId=m["id"])["Account"]["Status"]
        return {**m, "status": status, "seed": doc}

    with ThreadPoolExecutor(max_workers=min(4, max(1, accounts))) as pool:
        seeded = list(pool.map(seed_member, members))
    return {
        "prefix": prefix, "endpoint": endpoint,
        "organization": {"id": desc["Id"], "arn": desc["Arn"],
                         "management_account_id": desc["MasterAccountId"], "root_id": root},
        "ou": {"id": ou_id, "name": ou_name}, "role_name": role_name, "accounts": seeded,
    }


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--endpoint", required=True)
    ap.add_argument("--prefix", default="")
    ap.add_argument("--json", action="store_true", help="compact JSON on one line")
    ap.add_argument("--regions", default=",".join(REGIONS),
                    help="PRIMARY,SECONDARY (default: %(default)s)")
    ap.add_argument("--failover", choices=["signal", "health-check", "routing-control"],
                    default="signal",
                    help="what the PRIMARY record's health check watches (default: %(default)s)")
    ap.add_argument("--dns", choices=["cname", "alias"], default="alias",
                    help="failover records as CNAMEs or alias A records (default: %(default)s)")
    ap.add_argument("--rds", metavar="REGION[:ENGINE]",
                    help="seed only a Multi-AZ DB instance in REGION (engine postgres or mysql)")
    ap.add_argument("--system", choices=["unolock", "docustack"], default="unolock",
                    help="the two-Region reference system (default) or DocuStack "
                         "(seed_docustack.py: us-east-1 under a Region-deny SCP)")
    ap.add_argument("--accounts", type=int, metavar="N",
                    help="an organization with N member accounts in --ou, one copy each")
    ap.add_argument("--ou", default="Workloads",
                    help="the OU the --accounts are in (default: %(default)s)")
    ap.add_argument("--role-name", default=ROLE_NAME,
                    help="the role in each account the seed (and drillbook) assumes "
                         "(default: %(default)s)")
    args = ap.parse_args()
    if args.accounts is not None and not 1 <= args.accounts <= 1000:
        print(f"seed: --accounts needs a number from 1 to 1000, not {args.accounts}",
              file=sys.stderr)
        return 2
    if args.system == "docustack":
        from seed_docustack import seed_docustack

        try:
            doc = seed_docustack(args.endpoint, args.prefix, seed_rds)
        except ClientError as e:
            print(f"seed: AWS call failed: {e}", file=sys.stderr)
            return 1
        print(json.dumps(doc, indent=None if args.json else 2, default=str))
        return 0
    if args.rds:
        region, _, engine = args.rds.partition(":")
        try:
            doc = seed_rds(args.endpoint, args.prefix, region, engine or "postgres")
        except ClientError as e:
            print(f"seed: AWS call failed: {e}", file=sys.stderr)
            return 1
        print(json.dumps(doc, indent=None if args.json else 2, default=str))
        return 0
    regions = [r.strip() for r in args.regions.split(",")]
    if len(regions) != 2 or regions[0] == regions[1] or not all(regions):
        print(f"seed: --regions needs two different Regions, PRIMARY,SECONDARY: {args.regions}",
              file=sys.stderr)
        return 2
    global PRIMARY, SECONDARY
    REGIONS[:] = regions
    PRIMARY, SECONDARY = regions
    try:
        if args.accounts is not None:
            doc = seed_organization(args.endpoint, args.prefix, args.accounts, args.ou,
                                    args.role_name, args.failover, args.dns)
        else:
            doc = seed(args.endpoint, args.prefix, args.failover, args.dns)
    except ClientError as e:
        print(f"seed: AWS call failed: {e}", file=sys.stderr)
        return 1
    print(json.dumps(doc, indent=None if args.json else 2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
