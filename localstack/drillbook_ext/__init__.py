"""drillbook's extensions of moto: behaviours AWS documents that moto lacks (see ../README.md).

Importing this package patches moto; `app(inner)` wraps moto's WSGI application.
"""

from __future__ import annotations

from typing import Any

from . import apigateway, arc, cbor, cloudtrail, cloudwatch, credentials, dynamodb, ecs, fis, iam, kms, organizations, rds, route53, s3, workloads  # noqa: F401,E501  (patch moto on import)
from .control import DrillbookApp


def app(inner: Any) -> DrillbookApp:
    cbor.install(inner)
    return DrillbookApp(inner)
