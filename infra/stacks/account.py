"""API Gateway's account-level CloudWatch role (opt-in: ``-c apiGatewayCloudWatchRole=true``).

``AWS::ApiGateway::Account`` is one setting per account and region, shared by every API there: API Gateway
writes access logs with that role. It lives in its own stack, deployed once per account and region (not once
per environment, where dev and prod in one account would overwrite each other), and both the setting and the
role are retained when the stack is destroyed, so other APIs' logging keeps working. Skip it when the account
already has the role (API Gateway console: Settings, "CloudWatch log role ARN").
"""

from __future__ import annotations

from typing import Any

from aws_cdk import Acknowledgment, RemovalPolicy, Stack, Validations
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_iam as iam
from constructs import Construct


class ApiGatewayAccountStack(Stack):
    def __init__(self, scope: Construct, construct_id: str, **kwargs: Any) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.role = iam.Role(
            self, "CloudWatchRole",
            assumed_by=iam.ServicePrincipal("apigateway.amazonaws.com"),
            description="API Gateway writes access logs to CloudWatch Logs with this role (account setting)",
            managed_policies=[iam.ManagedPolicy.from_aws_managed_policy_name(
                "service-role/AmazonAPIGatewayPushToCloudWatchLogs")],
        )
        self.role.apply_removal_policy(RemovalPolicy.RETAIN)
        account = apigw.CfnAccount(self, "Account", cloud_watch_role_arn=self.role.role_arn)
        account.apply_removal_policy(RemovalPolicy.RETAIN)
        Validations.of(self.role).acknowledge(Acknowledgment(
            id="AwsSolutions::AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
               "AmazonAPIGatewayPushToCloudWatchLogs]",
            reason="The AWS-managed policy API Gateway documents for writing access logs."))
