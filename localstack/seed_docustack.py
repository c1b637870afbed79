"""The DocuStack system (`localstack/emulator seed --system docustack`): one Region, us-east-1,
under an organization's Region-deny SCP.

    python seed.py --endpoint URL --system docustack [--prefix P] [--json]

What it builds (every name starts with the prefix; re-runnable: what exists is reused):

* a VPC `{P}docustack-vpc` with a subnet in each of two Availability Zones (`{P}docustack-a`
  in us-east-1a, `{P}docustack-b` in us-east-1b) and security groups for the tasks
  (`{P}docustack-app`) and the database (`{P}docustack-db`, PostgreSQL's port from the tasks);
* a Multi-AZ PostgreSQL DB instance `{P}docustack-db` (writer in us-east-1a), 7-day backup
  retention, its own DB subnet group, option group, KMS key and a custom DB parameter group
  (`rds.force_ssl` on) (seed.py's `seed_rds`);
* a Systems Manager parameter `/{P}docustack/production/db-host` holding the database's endpoint
  address;
* an ECS cluster `{P}docustack` with the service `{P}docustack-web` (2 Fargate tasks over both
  subnets, registered in the target group of the Network Load Balancer `{P}docustack-nlb`)
  whose task definition reads `DB_HOST` from that parameter (`secrets`, `valueFrom`), and
  a batch service `{P}docustack-batch` (0 tasks) that reads the same parameter and whose
  container carries the emulator's `DRILLBOOK_WRITES=corrupt` marker: scaled up, it damages the
  data of the database it uses (drillbook_ext/workloads.py);
* a REST API `{P}docustack-api` (stage `prod`) whose `/health` and `/health/data` are
  HTTP_PROXY integrations over a VPC link to the load balancer: the application's health, and
  its check of its data, as clients reach them;
* an FIS experiment template `{P}docustack-az-outage`: `aws:network:disrupt-connectivity`
  (scope `all`) of the system's subnets (tag `system={P}docustack`) filtered to us-east-1a, the
  database writer's zone, for 30 minutes;
* the IAM role `{P}docustack-recovery` that recovery runs as, and the organization's
  Region-deny SCP for it: every Region but us-east-1 answers its calls with an explicit deny
  (the emulator's `scp_deny` fault, narrowed to that role so other systems in the same emulator
  are not affected).
"""

from __future__ import annotations

import json
import urllib.request
from typing import Any, Callable

import boto3
from botocore.exceptions import ClientError

REGION = "us-east-1"
ACCOUNT = "123456789012"


def _client(service: str, endpoint: str) -> Any:
    return boto3.client(service, region_name=REGION, endpoint_url=endpoint,
                        aws_access_key_id="test", aws_secret_access_key="test")


def _code(e: ClientError) -> str:
    return e.response.get("Error", {}).get("Code", "")


def _tags(kind: str, name: str, system: str) -> list[dict[str, Any]]:
    return [{"ResourceType": kind, "Tags": [{"Key": "Name", "Value": name},
                                            {"Key": "system", "Value": system}]}]


def _network(ec2: Any, prefix: str) -> dict[str, Any]:
    vpcs = ec2.describe_vpcs(Filters=[{"Name": "tag:Name",
                                       "Values": [f"{prefix}docustack-vpc"]}])["Vpcs"]
    vpc = vpcs[0]["VpcId"] if vpcs else ec2.create_vpc(
        CidrBlock="10.50.0.0/16",
        TagSpecifications=_tags("vpc", f"{prefix}docustack-vpc", f"{prefix}docustack"),
    )["Vpc"]["VpcId"]
    subnets: dict[str, str] = {}
    for i, az in ((1, "a"), (2, "b")):
        name = f"{prefix}docustack-{az}"
        found = ec2.describe_subnets(Filters=[{"Name": "tag:Name", "Values": [name]}])["Subnets"]
        subnets[f"{REGION}{az}"] = found[0]["SubnetId"] if found else ec2.create_subnet(
            VpcId=vpc, CidrBlock=f"10.50.{i}.0/24", AvailabilityZone=f"{REGION}{az}",
            TagSpecifications=_tags("subnet", name, f"{prefix}docustack"))["Subnet"]["SubnetId"]

    def group(name: str, description: str) -> str:
        found = ec2.describe_security_groups(Filters=[
            {"Name": "group-name", "Values": [name]}, {"Name": "vpc-id", "Values": [vpc]}])
        if found["SecurityGroups"]:
            return found["SecurityGroups"][0]["GroupId"]
        return ec2.create_security_group(GroupName=name, Description=description,
                                         VpcId=vpc)["GroupId"]

    app_sg = group(f"{prefix}docustack-app", "docustack tasks")
    db_sg = group(f"{prefix}docustack-db", "docustack database")
    try:
        ec2.authorize_security_group_ingress(GroupId=db_sg, IpPermissions=[{
            "IpProtocol": "tcp", "FromPort": 5432, "ToPort": 5432,
            "UserIdGroupPairs": [{"GroupId": app_sg}]}])
    except ClientError as e:
        if _code(e) != "InvalidPermission.Duplicate":
            raise
    return {"vpc_id": vpc, "subnets": subnets, "app_security_group": app_sg,
            "db_security_group": db_sg}


def _database(endpoint: str, prefix: str, net: dict[str, Any],
              seed_rds: Callable[..., dict[str, Any]]) -> dict[str, Any]:
    """`seed_rds` (seed.py's, passed in so that this module imports nothing of the seed's):
    the Multi-AZ instance with settings of its own."""

    rds = _client("rds", endpoint)
    name = f"{prefix}docustack-db"
    try:
        db = rds.describe_db_instances(DBInstanceIdentifier=name)["DBInstances"][0]
    except ClientError as e:
        if _code(e) != "DBInstanceNotFound":
            raise
        seed_rds(endpoint, prefix, REGION, "postgres", network={
            "vpc_id": net["vpc_id"], "subnet_ids": list(net["subnets"].values()),
            "security_group_id": net["db_security_group"]})
        db = rds.describe_db_instances(DBInstanceIdentifier=name)["DBInstances"][0]
    group = db["DBParameterGroups"][0]["DBParameterGroupName"]
    rds.modify_db_parameter_group(DBParameterGroupName=group, Parameters=[{
        "ParameterName": "rds.force_ssl", "ParameterValue": "1", "ApplyMethod": "immediate"}])
    return {
        "instance": name,
        "engine": db["Engine"],
        "endpoint": db["Endpoint"]["Address"],
        "port": db["Endpoint"]["Port"],
        "arn": db["DBInstanceArn"],
        "multi_az": db["MultiAZ"],
        "availability_zone": db["AvailabilityZone"],
        "secondary_availability_zone": db.get("SecondaryAvailabilityZone"),
        "backup_retention_days": db["BackupRetentionPeriod"],
        "subnet_group": db["DBSubnetGroup"]["DBSubnetGroupName"],
        "parameter_group": group,
        "option_group": db["OptionGroupMemberships"][0]["OptionGroupName"],
        "security_group_ids": [g["VpcSecurityGroupId"] for g in db["VpcSecurityGroups"]],
        "kms_key_arn": db.get("KmsKeyId"),
    }


def _load_balancer(endpoint: str, prefix: str, net: dict[str, Any]) -> dict[str, Any]:
    elb = _client("elbv2", endpoint)
    name = f"{prefix}docustack-nlb"
    try:
        lb = elb.describe_load_balancers(Names=[name])["LoadBalancers"][0]
    except ClientError as e:
        if _code(e) != "LoadBalancerNotFound":
            raise
        lb = elb.create_load_balancer(Name=name, Type="network", Scheme="internal",
                                      Subnets=list(net["subnets"].values()))["LoadBalancers"][0]
    tg_name = f"{prefix}docustack-web"
    try:
        tg = elb.describe_target_groups(Names=[tg_name])["TargetGroups"][0]
    except ClientError as e:
        if _code(e) != "TargetGroupNotFound":
            raise
        tg = elb.create_target_group(Name=tg_name, Protocol="TCP", Port=8080,
                                     VpcId=net["vpc_id"], TargetType="ip")["TargetGroups"][0]
    if not elb.describe_listeners(LoadBalancerArn=lb["LoadBalancerArn"])["Listeners"]:
        elb.create_listener(LoadBalancerArn=lb["LoadBalancerArn"], Protocol="TCP", Port=80,
                            DefaultActions=[{"Type": "forward",
                                             "TargetGroupArn": tg["TargetGroupArn"]}])
    return {"name": name, "arn": lb["LoadBalancerArn"], "dns_name": lb["DNSName"],
            "target_group_arn": tg["TargetGroupArn"]}


def _services(endpoint: str, prefix: str, net: dict[str, Any], parameter: str,
              target_group: str) -> dict[str, Any]:
    ecs = _client("ecs", endpoint)
    cluster = f"{prefix}docustack"
    ecs.create_cluster(clusterName=cluster)  # returns the existing one when it exists
    parameter_arn = f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter{parameter}"
    network = {"awsvpcConfiguration": {"subnets": list(net["subnets"].values()),
                                       "securityGroups": [net["app_security_group"]],
                                       "assignPublicIp": "DISABLED"}}

    def task_definition(family: str, image: str, environment: list[dict[str, str]]) -> str:
        return ecs.register_task_definition(
            family=family, networkMode="awsvpc", requiresCompatibilities=["FARGATE"],
            cpu="256", memory="512",
            containerDefinitions=[{
                "name": "web" if family.endswith("-web") else "batch",
                "image": image, "essential": True,
                "portMappings": [{"containerPort": 8080, "protocol": "tcp"}],
                "environment": environment,
                # ECS developer guide, "Pass Systems Manager parameters as environment
                # variables in Amazon ECS": valueFrom is the parameter's ARN (or its name, in
                # the same Region).
                "secrets": [{"name": "DB_HOST", "valueFrom": parameter_arn}],
            }])["taskDefinition"]["taskDefinitionArn"]

    out: dict[str, Any] = {"cluster": cluster}
    existing = {s["serviceName"]: s for s in ecs.describe_services(
        cluster=cluster, services=[f"{prefix}docustack-web", f"{prefix}docustack-batch"]
    )["services"] if s.get("status") == "ACTIVE"}
    for role, desired, image, env, lbs in (
        ("web", 2, "public.ecr.aws/docustack/web:3.4.1", [{"name": "PORT", "value": "8080"}],
         [{"targetGroupArn": target_group, "containerName": "web", "containerPort": 8080}]),
        ("batch", 0, "public.ecr.aws/docustack/batch:2.7.0",
         [{"name": "DRILLBOOK_WRITES", "value": "corrupt"}], []),
    ):
        name = f"{prefix}docustack-{role}"
        if name in existing:
            out[role] = {"service": name, "task_definition": existing[name]["taskDefinition"],
                         "desired": existing[name]["desiredCount"]}
            continue
        td = task_definition(name, image, env)
        ecs.create_service(cluster=cluster, serviceName=name, taskDefinition=td,
                           desiredCount=desired, launchType="FARGATE",
                           networkConfiguration=network, loadBalancers=lbs)
        out[role] = {"service": name, "task_definition": td, "desired": desired}
    return out


def _api(endpoint: str, prefix: str, lb: dict[str, Any]) -> dict[str, Any]:
    apigw = _client("apigateway", endpoint)
    name = f"{prefix}docustack-api"
    api_id = next((i["id"] for page in apigw.get_paginator("get_rest_apis").paginate()
                   for i in page["items"] if i["name"] == name), None)
    if api_id is None:
        link = apigw.create_vpc_link(name=f"{prefix}docustack", targetArns=[lb["arn"]])
        api_id = apigw.create_rest_api(name=name, endpointConfiguration={"types": ["REGIONAL"]},
                                       tags={"app": "docustack"})["id"]
        resources = apigw.get_resources(restApiId=api_id)["items"]
        parent = next(r["id"] for r in resources if r["path"] == "/")
        for part in ("health", "data"):
            parent = apigw.create_resource(restApiId=api_id, parentId=parent,
                                           pathPart=part)["id"]
            path = "/health" if part == "health" else "/health/data"
            apigw.put_method(restApiId=api_id, resourceId=parent, httpMethod="GET",
                             authorizationType="NONE")
            # API Gateway developer guide, "Set up a private integration": HTTP_PROXY over a
            # VPC link to a Network Load Balancer.
            apigw.put_integration(restApiId=api_id, resourceId=parent, httpMethod="GET",
                                  type="HTTP_PROXY", integrationHttpMethod="GET",
                                  uri=f"http://{lb['dns_name']}{path}",
                                  connectionType="VPC_LINK", connectionId=link["id"])
        dep = apigw.create_deployment(restApiId=api_id, description="seed")
        apigw.create_stage(restApiId=api_id, stageName="prod", deploymentId=dep["id"])
    base = f"https://{api_id}.execute-api.{REGION}.amazonaws.com/prod"
    return {"name": name, "rest_api_id": api_id, "stage": "prod", "invoke_url": base,
            "health_url": f"{base}/health", "data_url": f"{base}/health/data"}


def _role(endpoint: str, name: str, service: str) -> str:
    iam = _client("iam", endpoint)
    try:
        return iam.get_role(RoleName=name)["Role"]["Arn"]
    except ClientError as e:
        if _code(e) != "NoSuchEntity":
            raise
    trust = {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": ({"Service": service} if service.endswith(".com")
                                         else {"AWS": service}),
        "Action": "sts:AssumeRole"}]}
    return iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]


def _fis(endpoint: str, prefix: str, role_arn: str, az: str) -> dict[str, Any]:
    fis = _client("fis", endpoint)
    name = f"{prefix}docustack-az-outage"
    system = f"{prefix}docustack"
    template_id = next((t["id"] for page in fis.get_paginator(
        "list_experiment_templates").paginate() for t in page["experimentTemplates"]
        if t.get("tags", {}).get("Name") == name), None)
    if template_id is None:
        template_id = fis.create_experiment_template(
            clientToken=f"drillbook-seed-{prefix}docustack-az-outage",
            description=f"{prefix}docustack: {az} loses its network (the database writer's "
                        f"zone); us-east-1's other zone keeps running",
            roleArn=role_arn,
            stopConditions=[{"source": "none"}],
            # The system's subnets in one zone: tags, then an AvailabilityZone filter, as AWS's
            # "AZ Availability: Power Interruption" scenario selects them (FIS user guide,
            # "Targets for AWS FIS", resource filters).
            targets={"zone-subnets": {"resourceType": "aws:ec2:subnet",
                                      "resourceTags": {"system": system},
                                      "filters": [{"path": "AvailabilityZone", "values": [az]}],
                                      "selectionMode": "ALL"}},
            actions={"disrupt-zone": {
                "actionId": "aws:network:disrupt-connectivity",
                "description": f"deny all traffic of {system}'s subnets in {az}",
                "parameters": {"duration": "PT30M", "scope": "all"},
                "targets": {"Subnets": "zone-subnets"}}},
            tags={"Name": name},
        )["experimentTemplate"]["id"]
    return {"region": REGION, "experiment_template_id": template_id,
            "experiment_template_name": name, "availability_zone": az,
            "role_arn": role_arn}


def _scp(endpoint: str, role_arn: str) -> dict[str, Any]:
    """The Region-deny SCP, for `role_arn`: `scp_deny` faults in every Region but us-east-1."""
    def control(method: str, body: Any = None) -> Any:
        req = urllib.request.Request(f"{endpoint}/_drillbook/faults", method=method,
                                     data=json.dumps(body).encode() if body else None,
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=10) as r:
            return json.loads(r.read())

    regions = sorted(set(boto3.Session().get_available_regions("ec2")) - {REGION})
    have = {f["region"] for f in control("GET")["faults"]
            if f["mode"] == "scp_deny" and role_arn in (f.get("roles") or [])}
    for region in regions:
        if region not in have:
            control("POST", {"region": region, "mode": "scp_deny", "roles": [role_arn]})
    return {"allowed_region": REGION, "denied_regions": regions, "role_arn": role_arn}


def _terraform_state(endpoint: str, prefix: str) -> dict[str, Any]:
    """The account's Terraform state: a versioned bucket holding the production state and the
    S3 backend's DynamoDB lock table with its digest item (Terraform, "Backend Type: s3":
    with `dynamodb_table`, the item `LockID` = "<bucket>/<key>-md5" keeps the state's MD5 in
    `Digest`)."""
    import hashlib
    bucket = f"{prefix}docustack-terraform-state-{ACCOUNT}".lower()
    key = "env/production/terraform.tfstate"
    table = f"{prefix}docustack-terraform-locks"
    s3 = _client("s3", endpoint)
    try:
        s3.create_bucket(Bucket=bucket)
    except ClientError as e:
        if _code(e) not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
            raise
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    state = json.dumps({"version": 4, "terraform_version": "1.9.8", "serial": 42,
                        "lineage": f"{prefix}docustack-production", "outputs": {},
                        "resources": [{"mode": "managed", "type": "aws_db_instance",
                                       "name": "docustack", "instances": []}]},
                       indent=2).encode()
    s3.put_object(Bucket=bucket, Key=key, Body=state)
    ddb = _client("dynamodb", endpoint)
    try:
        ddb.create_table(TableName=table, BillingMode="PAY_PER_REQUEST",
                         AttributeDefinitions=[{"AttributeName": "LockID", "AttributeType": "S"}],
                         KeySchema=[{"AttributeName": "LockID", "KeyType": "HASH"}])
    except ClientError as e:
        if _code(e) != "ResourceInUseException":
            raise
    digest = hashlib.md5(state).hexdigest()
    ddb.put_item(TableName=table, Item={"LockID": {"S": f"{bucket}/{key}-md5"},
                                        "Digest": {"S": digest}})
    return {"bucket": bucket, "key": key, "lock_table": table, "digest": digest}


def seed_docustack(endpoint: str, prefix: str,
                   seed_rds: Callable[..., dict[str, Any]]) -> dict[str, Any]:
    ec2 = _client("ec2", endpoint)
    net = _network(ec2, prefix)
    db = _database(endpoint, prefix, net, seed_rds)
    parameter = f"/{prefix}docustack/production/db-host"
    ssm = _client("ssm", endpoint)
    try:
        ssm.get_parameter(Name=parameter)
    except ClientError as e:
        if _code(e) != "ParameterNotFound":
            raise
        ssm.put_parameter(Name=parameter, Value=db["endpoint"], Type="String",
                          Description="the docustack database's host")
    lb = _load_balancer(endpoint, prefix, net)
    services = _services(endpoint, prefix, net, parameter, lb["target_group_arn"])
    api = _api(endpoint, prefix, lb)
    recovery = _role(endpoint, f"{prefix}docustack-recovery", f"arn:aws:iam::{ACCOUNT}:root")
    fis_role = _role(endpoint, f"{prefix}docustack-fis", "fis.amazonaws.com")
    return {
        "system": "docustack",
        "prefix": prefix,
        "endpoint": endpoint,
        "region": REGION,
        "network": net,
        "rds": db,
        "ssm": {"db_host_parameter": parameter, "value": db["endpoint"]},
        "ecs": {"cluster": services["cluster"], "service": services["web"]["service"],
                "task_definition": services["web"]["task_definition"],
                "desired": services["web"]["desired"],
                "batch_service": services["batch"]["service"]},
        "load_balancer": lb,
        "api": api,
        "fis": _fis(endpoint, prefix, fis_role, db["availability_zone"]),
        "role_arn": recovery,
        "scp": _scp(endpoint, recovery),
        "terraform": _terraform_state(endpoint, prefix),
    }
