"""Build drillbook's reference system in the emulator and print what was created as JSON.

    python seed.py --endpoint http://127.0.0.1:PORT [--prefix P] [--json]
                   [--regions PRIMARY,SECONDARY] [--failover health-check|routing-control]
                   [--dns cname|alias]

Re-runnable: existing resources (found by name) are reused, not duplicated.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

import boto3
from botocore.exceptions import ClientError

# The reference pair; `--regions` picks another (set once in main(), before seeding).
REGIONS = ["ca-central-1", "eu-west-1"]
PRIMARY, SECONDARY = REGIONS


def client(service: str, region: str, endpoint: str) -> Any:
    return boto3.client(
        service,
        region_name=region,
        endpoint_url=endpoint,
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )


def code(e: ClientError) -> str:
    return e.response.get("Error", {}).get("Code", "")


# ---------------------------------------------------------------------- DynamoDB
def seed_table(ddb: Any, name: str, region: str) -> dict[str, Any]:
    try:
        ddb.create_table(
            TableName=name,
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            BillingMode="PAY_PER_REQUEST",
            Tags=[{"Key": "app", "Value": "unolock"}],
        )
    except ClientError as e:
        if code(e) != "ResourceInUseException":
            raise
    spec: dict[str, Any] = {"PointInTimeRecoveryEnabled": True, "RecoveryPeriodInDays": 7}
    ddb.update_continuous_backups(TableName=name, PointInTimeRecoverySpecification=spec)
    ddb.update_time_to_live(
        TableName=name,
        TimeToLiveSpecification={"Enabled": True, "AttributeName": "expires_at"},
    ) if _ttl_off(ddb, name) else None
    for i in range(50):
        ddb.put_item(
            TableName=name,
            Item={
                "pk": {"S": f"item-{i:03d}"},
                "region": {"S": region},
                "n": {"N": str(i)},
                "secret": {"S": f"ciphertext-{i}"},
            },
        )
    desc = ddb.describe_table(TableName=name)["Table"]
    pitr = ddb.describe_continuous_backups(TableName=name)["ContinuousBackupsDescription"]
    return {
        "name": name,
        "arn": desc["TableArn"],
        "item_count": 50,
        "pitr_status": pitr["PointInTimeRecoveryDescription"]["PointInTimeRecoveryStatus"],
    }


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


# ---------------------------------------------------------------------- Route 53
def seed_dns(endpoint: str, prefix: str, primary_target: str, secondary_target: str) -> dict[str, Any]:
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
    caller_ref = f"drillbook-seed-{prefix}primary-hc"
    hc_id = None
    for page in r53.get_paginator("list_health_checks").paginate():
        for hc in page["HealthChecks"]:
            if hc["CallerReference"] == caller_ref:
                hc_id = hc["Id"]
    if hc_id is None:
        hc_id = r53.create_health_check(
            CallerReference=caller_ref,
            HealthCheckConfig={
                "Type": "HTTPS",
                "FullyQualifiedDomainName": primary_target,
                "Port": 443,
                "ResourcePath": "/prod/health",
                "RequestInterval": 30,
                "FailureThreshold": 3,
            },
        )["HealthCheck"]["Id"]
        r53.change_tags_for_resource(
            ResourceType="healthcheck", ResourceId=hc_id,
            AddTags=[{"Key": "Name", "Value": f"{prefix}unolock-api-primary"}],
        )
    change = r53.change_resource_record_sets(
        HostedZoneId=zone_id,
        ChangeBatch={
            "Comment": "drillbook seed",
            "Changes": [
                {"Action": "UPSERT", "ResourceRecordSet": {
                    "Name": record, "Type": "CNAME", "SetIdentifier": "primary",
                    "Failover": "PRIMARY", "TTL": 60, "HealthCheckId": hc_id,
                    "ResourceRecords": [{"Value": primary_target}]}},
                {"Action": "UPSERT", "ResourceRecordSet": {
                    "Name": record, "Type": "CNAME", "SetIdentifier": "secondary",
                    "Failover": "SECONDARY", "TTL": 60,
                    "ResourceRecords": [{"Value": secondary_target}]}},
            ],
        },
    )["ChangeInfo"]
    return {
        "hosted_zone_id": zone_id,
        "zone_name": zone_name,
        "record_name": record,
        "health_check_id": hc_id,
        "primary_target": primary_target,
        "secondary_target": secondary_target,
        "change_id": change["Id"],
    }


def seed(endpoint: str, prefix: str, failover: str = "health-check",
         dns: str = "cname") -> dict[str, Any]:
    doc: dict[str, Any] = {"prefix": prefix, "endpoint": endpoint, "primary_region": PRIMARY,
                           "secondary_region": SECONDARY, "regions": {}}
    doc["kms"] = seed_key(endpoint, prefix)
    for region in REGIONS:
        r: dict[str, Any] = {}
        r["dynamodb"] = seed_table(client("dynamodb", region, endpoint), f"{prefix}vault", region)
        r["kms"] = {"key_id": doc["kms"]["key_id"], "alias": doc["kms"]["alias"], **doc["kms"][region]}
        r["apigateway"] = seed_api(client("apigateway", region, endpoint), prefix, region)
        r["cloudwatch"] = seed_alarm(client("cloudwatch", region, endpoint), prefix,
                                     r["apigateway"]["rest_api_name"])
        doc["regions"][region] = r
    doc["route53"] = seed_dns(
        endpoint, prefix,
        doc["regions"][PRIMARY]["apigateway"]["regional_domain_name"],
        doc["regions"][SECONDARY]["apigateway"]["regional_domain_name"],
    )
    return doc


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--endpoint", required=True)
    ap.add_argument("--prefix", default="")
    ap.add_argument("--json", action="store_true", help="compact JSON on one line")
    ap.add_argument("--regions", default=",".join(REGIONS),
                    help="PRIMARY,SECONDARY (default: %(default)s)")
    ap.add_argument("--failover", choices=["health-check", "routing-control"],
                    default="health-check",
                    help="what the PRIMARY record's health check watches (default: %(default)s)")
    ap.add_argument("--dns", choices=["cname", "alias"], default="cname",
                    help="failover records as CNAMEs or alias A records (default: %(default)s)")
    args = ap.parse_args()
    regions = [r.strip() for r in args.regions.split(",")]
    if len(regions) != 2 or regions[0] == regions[1] or not all(regions):
        print(f"seed: --regions needs two different Regions, PRIMARY,SECONDARY: {args.regions}",
              file=sys.stderr)
        return 2
    global PRIMARY, SECONDARY
    REGIONS[:] = regions
    PRIMARY, SECONDARY = regions
    try:
        doc = seed(args.endpoint, args.prefix, args.failover, args.dns)
    except ClientError as e:
        print(f"seed: AWS call failed: {e}", file=sys.stderr)
        return 1
    print(json.dumps(doc, indent=None if args.json else 2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
