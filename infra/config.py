"""Per-environment settings (dev, prod, ...) read from CDK context (``cdk.json`` or ``-c``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

_KNOWN = {
    "stage": "stage", "memorySize": "memory_size", "timeoutSeconds": "timeout_seconds",
    "logRetentionDays": "log_retention_days", "throttleRate": "throttle_rate", "throttleBurst": "throttle_burst",
    "domainName": "domain_name", "certificateArn": "certificate_arn", "apiMappingKey": "api_mapping_key",
    "allowedOrigins": "allowed_origins", "account": "account", "region": "region",
    "connectAuthorizer": "connect_authorizer", "alarmEmail": "alarm_email",
}
_MOVED = {"apiGatewayCloudWatchRole": "API Gateway's account-level CloudWatch role is its own opt-in stack now: "
                                      "deploy it once per account and region with -c apiGatewayCloudWatchRole=true"}


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
    # A Lambda REQUEST authorizer on $connect that admits only clients with a valid connect token.
    connect_authorizer: bool = False
    # Alarm notifications: an SNS topic with this e-mail subscription.
    alarm_email: str | None = None

    @classmethod
    def from_context(cls, name: str, values: dict[str, Any]) -> EnvironmentConfig:
        for key, message in _MOVED.items():
            if key in values:
                raise ValueError(f"Environment {name!r}: {key} is no longer an environment setting. {message}")
        unknown = set(values) - set(_KNOWN)
        if unknown:
            raise ValueError(f"Unknown settings for environment {name!r}: {sorted(unknown)}; "
                             f"known: {sorted(_KNOWN)}")
        kwargs = {_KNOWN[key]: value for key, value in values.items()}
        kwargs.setdefault("stage", name)
        if bool(kwargs.get("domain_name")) != bool(kwargs.get("certificate_arn")):
            raise ValueError(f"Environment {name!r}: domainName and certificateArn go together")
        return cls(name=name, **kwargs)


def context_flag(value: Any) -> bool:
    """A boolean from CDK context: cdk.json gives JSON booleans, ``-c key=value`` gives strings."""
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return bool(value)
