"""``cdk synth`` / ``cdk deploy`` entry point (see cdk.json): ``-c environment=dev|prod``."""

from __future__ import annotations

import os

import aws_cdk as cdk

from .config import EnvironmentConfig
from .nag import enable_checks
from .routes import routes_from_django
from .stacks import ApplicationStack, StatefulStack


def build(app: cdk.App) -> tuple[StatefulStack, ApplicationStack]:
    name = app.node.try_get_context("environment") or "dev"
    environments = app.node.try_get_context("environments") or {}
    if name not in environments:
        raise ValueError(f"Unknown environment {name!r}; cdk.json defines {sorted(environments)}")
    config = EnvironmentConfig.from_context(name, environments[name])
    env = cdk.Environment(account=config.account or os.environ.get("CDK_DEFAULT_ACCOUNT"),
                          region=config.region or os.environ.get("CDK_DEFAULT_REGION"))
    prefix = f"DjangoWebSockets-{name}"
    stateful = StatefulStack(app, f"{prefix}-Stateful", config=config, env=env,
                             description="Connection table and secret (retained)")
    application = ApplicationStack(app, f"{prefix}-App", config=config, routes=routes_from_django(),
                                   stateful=stateful, env=env, description="WebSocket API and Django Lambda")
    application.add_stack_dependency(stateful)
    for stack in (stateful, application):
        cdk.Tags.of(stack).add("project", "django-aws-api-gateway-websockets")
        cdk.Tags.of(stack).add("environment", name)
    enable_checks(app)
    return stateful, application


def main() -> None:
    app = cdk.App()
    build(app)
    app.synth()


if __name__ == "__main__":
    main()
