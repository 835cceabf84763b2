"""The replaceable part: WebSocket API, stage, the Django Lambda (and its optional $connect authorizer),
dashboard and alarms, on the stateful stack's table and secret."""

from __future__ import annotations

from typing import Any

from aws_cdk import Acknowledgment, AssetHashType, Aws, BundlingOptions, DockerImage, Duration, Stack, Validations
from aws_cdk import aws_certificatemanager as acm
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct

from ..bundling import DEMO, ROOT, asset_exclude, local_bundling
from ..config import EnvironmentConfig, ProjectConfig
from ..constructs import DjangoWebSocketApi, DjangoWebSocketApiProps
from ..routes import ApiRoutes
from .stateful import StatefulStack


def django_code(project: ProjectConfig = DEMO) -> lambda_.Code:
    """The function's asset, bundled locally (infra/bundling.py: locked wheels for Lambda, the project's code,
    CPython 3.13 bytecode); no Docker. Its hash covers the project's code, its lock file and the recipe."""
    return lambda_.Code.from_asset(
        str(ROOT),
        exclude=asset_exclude(project),
        asset_hash_type=AssetHashType.SOURCE,
        bundling=BundlingOptions(
            # Only used if local bundling declined, which it never does; CDK requires an image.
            image=DockerImage.from_registry("public.ecr.aws/sam/build-python3.13"),
            local=local_bundling(project),
        ),
    )


class ApplicationStack(Stack):
    def __init__(self, scope: Construct, construct_id: str, *, config: EnvironmentConfig, routes: ApiRoutes,
                 stateful: StatefulStack, code: lambda_.Code | None = None, project: ProjectConfig = DEMO,
                 **kwargs: Any) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.project = project
        code = code or django_code(project)
        certificate = None
        if config.certificate_arn:
            certificate = acm.Certificate.from_certificate_arn(self, "Certificate", config.certificate_arn)
        # Built from pseudo parameters, so it renders the same with or without a concrete account; with the
        # indexes, which the store queries (users' connections).
        table = dynamodb.TableV2.from_table_attributes(
            self, "Connections", grant_index_permissions=True,
            table_arn=f"arn:{Aws.PARTITION}:dynamodb:{Aws.REGION}:{Aws.ACCOUNT_ID}:table/{stateful.table_name}")
        secret = secretsmanager.Secret.from_secret_name_v2(self, "DjangoSecretKey", stateful.secret_name)
        environment = {}
        if config.allowed_origins:
            environment["WEBSOCKETS_ALLOWED_ORIGINS"] = ",".join(config.allowed_origins)
        authorizer = self._authorizer(code, secret, config) if config.connect_authorizer else None
        topic = None
        if config.alarm_email:
            topic = sns.Topic(self, "Alarms", display_name=f"{construct_id} alarms", enforce_ssl=True)
            topic.add_subscription(subscriptions.EmailSubscription(config.alarm_email))
            Validations.of(topic).acknowledge(Acknowledgment(
                id="AwsSolutions::AwsSolutions-SNS2",
                reason="Alarm notifications carry no data beyond alarm names and states; CloudWatch cannot "
                       "publish to a topic encrypted with the AWS-managed SNS key, and a customer key costs "
                       "more than the topic."))
        self.websockets = DjangoWebSocketApi(self, "WebSockets", DjangoWebSocketApiProps(
            code=code,
            routes=routes,
            handler=project.handler,
            settings_module=project.settings_module,
            stage_name=config.stage,
            memory_size=config.memory_size,
            timeout=Duration.seconds(config.timeout_seconds),
            log_retention=_retention(config.log_retention_days),
            throttle_rate=config.throttle_rate,
            throttle_burst=config.throttle_burst,
            environment=environment,
            table=table,
            secret=secret,
            domain_name=config.domain_name,
            certificate=certificate,
            api_mapping_key=config.api_mapping_key,
            authorizer_function=authorizer,
            alarm_topic=topic,
        ))
        Validations.of(self.websockets.function).acknowledge(Acknowledgment(
            id="AwsSolutions::AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:dynamodb:<AWS::Region>:"
               f"<AWS::AccountId>:table/{stateful.table_name}/index/*]",
            reason="The connection table's own indexes (the store queries a user's connections by index)."))

    def _authorizer(self, code: lambda_.Code, secret: secretsmanager.ISecret,
                    config: EnvironmentConfig) -> lambda_.Function:
        """The REQUEST authorizer: the same asset, the project's ``authorizerHandler`` (``lambda_handler.authorize``:
        checks the connect token)."""
        if self.project.authorizer_handler is None:
            raise ValueError(f"Environment {config.name!r} has connectAuthorizer, but project {self.project.name!r} "
                             "has no authorizerHandler")
        function = lambda_.Function(
            self, "ConnectAuthorizer",
            runtime=lambda_.Runtime.PYTHON_3_13,
            architecture=lambda_.Architecture.ARM_64,
            handler=self.project.authorizer_handler,
            code=code,
            memory_size=512,
            timeout=Duration.seconds(10),
            log_group=logs.LogGroup(self, "ConnectAuthorizerLogs", retention=_retention(config.log_retention_days)),
            description="Admits $connect only with a valid connect token (django-aws-api-gateway-websockets)",
            environment={"DJANGO_SETTINGS_MODULE": self.project.settings_module, "DJANGO_DEBUG": "0",
                         "DJANGO_DB_PATH": "/tmp/db.sqlite3", "DJANGO_SECRET_KEY_SECRET_ID": secret.secret_name},
        )
        secret.grant_read(function)
        Validations.of(function).acknowledge(
            Acknowledgment(id="AwsSolutions::AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/"
                              "service-role/AWSLambdaBasicExecutionRole]",
                           reason="The AWS-managed minimal policy for writing the function's logs."),
            Acknowledgment(id="AwsSolutions::AwsSolutions-L1",
                           reason="Pinned to Python 3.13, like the Django function whose asset it shares."))
        return function


_RETENTION = {1: "ONE_DAY", 3: "THREE_DAYS", 5: "FIVE_DAYS", 7: "ONE_WEEK", 14: "TWO_WEEKS", 30: "ONE_MONTH",
              60: "TWO_MONTHS", 90: "THREE_MONTHS", 120: "FOUR_MONTHS", 150: "FIVE_MONTHS", 180: "SIX_MONTHS",
              365: "ONE_YEAR", 400: "THIRTEEN_MONTHS", 545: "EIGHTEEN_MONTHS", 731: "TWO_YEARS",
              1827: "FIVE_YEARS", 3653: "TEN_YEARS"}


def _retention(days: int) -> logs.RetentionDays:
    if days not in _RETENTION:
        raise ValueError(f"logRetentionDays {days} is not one of CloudWatch Logs' periods: {sorted(_RETENTION)}")
    return getattr(logs.RetentionDays, _RETENTION[days])
