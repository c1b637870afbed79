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

