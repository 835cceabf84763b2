"""What must survive the application stack: the connection table and the Django SECRET_KEY (both retained;
the table also has deletion protection, so not even a console click or an API call drops it)."""

from __future__ import annotations

from typing import Any

from aws_cdk import Acknowledgment, RemovalPolicy, Stack, Validations
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from django_aws_api_gateway_websockets.store import dynamodb_schema as schema

from ..config import EnvironmentConfig


class StatefulStack(Stack):
    def __init__(self, scope: Construct, construct_id: str, *, config: EnvironmentConfig, **kwargs: Any) -> None:
        super().__init__(scope, construct_id, **kwargs)
        string = dynamodb.AttributeType.STRING
        # Fixed physical names: the application stack finds both by name, with no CloudFormation export
        # tying the stacks together (the application stack can be replaced or destroyed freely).
        self.table_name = f"{construct_id}-connections"
        self.secret_name = f"{construct_id}/django-secret-key"
        # The key schema comes from the backend's own module: one definition for both.
        self.table = dynamodb.TableV2(
            self, "Connections",
            table_name=self.table_name,
            partition_key=dynamodb.Attribute(name=schema.PARTITION_KEY, type=string),
            sort_key=dynamodb.Attribute(name=schema.SORT_KEY, type=string),
            billing=dynamodb.Billing.on_demand(),
            time_to_live_attribute=schema.TTL_ATTRIBUTE,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True),
            global_secondary_indexes=[dynamodb.GlobalSecondaryIndexPropsV2(
                index_name=schema.USER_INDEX,
                partition_key=dynamodb.Attribute(name=schema.USER_INDEX_PARTITION_KEY, type=string),
                sort_key=dynamodb.Attribute(name=schema.USER_INDEX_SORT_KEY, type=string),
            )],
            deletion_protection=True,
            removal_policy=RemovalPolicy.RETAIN,
        )
        self.secret = secretsmanager.Secret(
            self, "DjangoSecretKey",
            secret_name=self.secret_name,
            description="Django SECRET_KEY of the WebSocket function (signs connect tokens)",
            generate_secret_string=secretsmanager.SecretStringGenerator(password_length=64, exclude_punctuation=True),
            removal_policy=RemovalPolicy.RETAIN,
        )
        Validations.of(self.secret).acknowledge(Acknowledgment(
            id="AwsSolutions::AwsSolutions-SMG4",
            reason="SECRET_KEY signs connect tokens and sessions: rotating it logs everybody out unless the old key "
                   "stays in SECRET_KEY_FALLBACKS, which a rotation Lambda cannot arrange; rotation is manual."))
