"""The deploy path a user with an AWS account takes, rehearsed against moto in server mode: the CLI discovers
the account, synthesizes every environment with it (plus the opt-in account-level stack), bootstraps,
publishes the asset and creates every stack through change sets.

moto accepts several resource types without creating them (the API Gateway v2 resources, the DynamoDB
table, the secret, the alarms and dashboard, the API Gateway account setting): what this proves is the CLI's
side of a deploy and templates CloudFormation accepts, not the running API.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.infra.conftest import ACCOUNT, ENVIRONMENTS, REGION, Deployment

pytestmark = pytest.mark.infra

STACKS = {f"DjangoWebSockets-{env}-{kind}" for env in ENVIRONMENTS for kind in ("Stateful", "App")} | {
    "DjangoWebSockets-ApiGatewayAccount"}


def test_the_cli_synthesizes_every_environment_for_the_discovered_account(deployment: Deployment) -> None:
    stacks = deployment.assembly.stacks()
    assert set(stacks) == STACKS
    assert {s["environment"] for s in stacks.values()} == {f"aws://{ACCOUNT}/{REGION}"}
    app = json.dumps(deployment.assembly.app())
    assert f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:" in app  # rendered with the concrete account
    # cdk-nag passed with the account in the ARNs: the acknowledgements do not depend on rendered accounts.
    plugin = deployment.assembly.nag_report
    assert plugin["conclusion"] == "success" and plugin["violations"] == []
    rules = {finding["ruleName"] for finding in plugin["suppressedViolations"]}
    assert any("@connections/*" in rule for rule in rules)
    assert deployment.assembly.output.count("Bundling asset") == 1


def test_every_stack_reaches_create_complete(deployment: Deployment) -> None:
    assert deployment.statuses == {name: "CREATE_COMPLETE" for name in STACKS | {"CDKToolkit"}}, deployment.output[-3000:]
    for stack in STACKS:
        assert f"✅  {stack}" in deployment.output
    print(f"\nbootstrap + deploy of {len(STACKS)} stacks against moto: {deployment.seconds:.1f} s")


def test_the_asset_is_published_once_and_the_functions_use_it(deployment: Deployment) -> None:
    s3 = deployment.client("s3")
    bucket = f"cdk-hnb659fds-assets-{ACCOUNT}-{REGION}"
    zips = [o for o in s3.list_objects_v2(Bucket=bucket)["Contents"] if o["Key"].endswith(".zip")]
    assert len(zips) == 1, zips  # one asset for the three environments' functions and the authorizer
    size = zips[0]["Size"]
    print(f"\nLambda asset as the CDK CLI zipped and uploaded it: {size / 1e6:.2f} MB")
    assert size <= 10_000_000
    functions = deployment.client("lambda").list_functions()["Functions"]
    handlers = sorted(f["Handler"] for f in functions)
    assert handlers == ["lambda_handler.authorize"] + ["lambda_handler.handler"] * 3
    for function in functions:
        assert function["Runtime"] == "python3.13" and function["CodeSize"] == size  # (moto drops Architectures)


def test_what_moto_skips_is_what_the_readme_says(deployment: Deployment) -> None:
    print("\nmoto accepted without creating:", ", ".join(sorted(deployment.skipped_types)))
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    section = readme.split("moto accepts these resource types without creating them:", 1)[1].split("\n\n", 1)[0]
    assert set(re.findall(r"`(AWS::[A-Za-z0-9:]+)`", section)) == deployment.skipped_types


def test_the_account_level_stack_is_retained_and_deployed_first(deployment: Deployment) -> None:
    template = deployment.assembly.template("DjangoWebSockets-ApiGatewayAccount")
    kinds = {r["Type"]: r for r in template["Resources"].values() if r["Type"] != "AWS::CDK::Metadata"}
    assert set(kinds) == {"AWS::ApiGateway::Account", "AWS::IAM::Role"}
    assert all(r["DeletionPolicy"] == "Retain" for r in kinds.values())
    stacks = deployment.assembly.stacks()
    for environment in ENVIRONMENTS:
        assert "DjangoWebSockets-ApiGatewayAccount" in stacks[f"DjangoWebSockets-{environment}-App"]["dependencies"]
    cfn_lint = Path(sys.executable).parent / "cfn-lint"
    result = subprocess.run([str(cfn_lint), "--format", "parseable",
                             str(deployment.assembly.path / "DjangoWebSockets-ApiGatewayAccount.template.json"),
                             str(deployment.assembly.path / "DjangoWebSockets-staging-App.template.json")],
                            capture_output=True, text=True, timeout=300)
    assert [line for line in result.stdout.splitlines() if ":E" in line] == []
