"""Per-environment settings (dev, prod, ...) read from CDK context (``cdk.json`` or ``-c``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class EnvironmentConfig:
    name: str
    stage: str
    memory_size: int = 1024
    timeout_seconds: int = 29
    log_retention_days: int = 30
    throttle_rate: float = 500
    throttle_burst: int = 1000
    domain_name: str | None = None
    certificate_arn: str | None = None
    api_mapping_key: str = ""
    allowed_origins: list[str] = field(default_factory=list)
    account: str | None = None
    region: str | None = None
    api_gateway_cloudwatch_role: bool = True

    @classmethod
    def from_context(cls, name: str, values: dict[str, Any]) -> EnvironmentConfig:
        known = {
            "stage": "stage", "memorySize": "memory_size", "timeoutSeconds": "timeout_seconds",
            "logRetentionDays": "log_retention_days", "throttleRate": "throttle_rate",
            "throttleBurst": "throttle_burst", "domainName": "domain_name", "certificateArn": "certificate_arn",
            "apiMappingKey": "api_mapping_key", "allowedOrigins": "allowed_origins", "account": "account",
            "region": "region", "apiGatewayCloudWatchRole": "api_gateway_cloudwatch_role",
        }
        unknown = set(values) - set(known)
        if unknown:
            raise ValueError(f"Unknown settings for environment {name!r}: {sorted(unknown)}")
        kwargs = {known[key]: value for key, value in values.items()}
        kwargs.setdefault("stage", name)
        if bool(kwargs.get("domain_name")) != bool(kwargs.get("certificate_arn")):
            raise ValueError(f"Environment {name!r}: domainName and certificateArn go together")
        return cls(name=name, **kwargs)
