"""The replaceable part: WebSocket API, stage and the Django Lambda, on the stateful stack's table and secret."""

from __future__ import annotations

from typing import Any

from aws_cdk import AssetHashType, BundlingOptions, DockerImage, Stack
from aws_cdk import aws_certificatemanager as acm
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from ..bundling import ASSET_EXCLUDE, ROOT, LocalPythonBundling
from ..config import EnvironmentConfig
from ..constructs import DjangoWebSocketApi, DjangoWebSocketApiProps
from ..routes import ApiRoutes
from .stateful import StatefulStack


def django_code() -> lambda_.Code:
    """The function's asset, bundled locally (pip wheels for Lambda + the project's code); no Docker."""
    return lambda_.Code.from_asset(
        str(ROOT),
        exclude=ASSET_EXCLUDE,
        asset_hash_type=AssetHashType.SOURCE,
        bundling=BundlingOptions(
            # Only used if local bundling declined, which it never does; CDK requires an image.
            image=DockerImage.from_registry("public.ecr.aws/sam/build-python3.13"),
            local=LocalPythonBundling(),
        ),
    )


class ApplicationStack(Stack):
    def __init__(self, scope: Construct, construct_id: str, *, config: EnvironmentConfig, routes: ApiRoutes,
                 stateful: StatefulStack, code: lambda_.Code | None = None, **kwargs: Any) -> None:
        super().__init__(scope, construct_id, **kwargs)
        certificate = None
        if config.certificate_arn:
            certificate = acm.Certificate.from_certificate_arn(self, "Certificate", config.certificate_arn)
        table = dynamodb.TableV2.from_table_name(self, "Connections", stateful.table_name)
        secret = secretsmanager.Secret.from_secret_name_v2(self, "DjangoSecretKey", stateful.secret_name)
        environment = {}
        if config.allowed_origins:
            environment["WEBSOCKETS_ALLOWED_ORIGINS"] = ",".join(config.allowed_origins)
        self.websockets = DjangoWebSocketApi(self, "WebSockets", DjangoWebSocketApiProps(
            code=code or django_code(),
            routes=routes,
            stage_name=config.stage,
            memory_size=config.memory_size,
            log_retention=_retention(config.log_retention_days),
            throttle_rate=config.throttle_rate,
            throttle_burst=config.throttle_burst,
            environment=environment,
            table=table,
            secret=secret,
            domain_name=config.domain_name,
            certificate=certificate,
            api_mapping_key=config.api_mapping_key,
        ))


_RETENTION = {1: "ONE_DAY", 3: "THREE_DAYS", 5: "FIVE_DAYS", 7: "ONE_WEEK", 14: "TWO_WEEKS", 30: "ONE_MONTH",
              60: "TWO_MONTHS", 90: "THREE_MONTHS", 120: "FOUR_MONTHS", 150: "FIVE_MONTHS", 180: "SIX_MONTHS",
              365: "ONE_YEAR", 400: "THIRTEEN_MONTHS", 545: "EIGHTEEN_MONTHS", 731: "TWO_YEARS",
              1827: "FIVE_YEARS", 3653: "TEN_YEARS"}


def _retention(days: int) -> logs.RetentionDays:
    if days not in _RETENTION:
        raise ValueError(f"logRetentionDays {days} is not one of CloudWatch Logs' periods: {sorted(_RETENTION)}")
    return getattr(logs.RetentionDays, _RETENTION[days])
