"""``cdk synth`` / ``cdk deploy`` entry point (see cdk.json).

``-c environment=dev|prod|...`` picks one environment of ``cdk.json``'s ``environments`` (``dev`` by default);
``-c environment=all`` builds every environment at once (CDK bundles the asset once: each stack's copy has
the same source hash).
``-c apiGatewayCloudWatchRole=true`` adds the account-level stack of :mod:`infra.stacks.account`.
``-c project=NAME`` picks the Django project the function runs, one of ``cdk.json``'s ``projects`` (the demo,
``app/``, by default; ``channels-tutorial``: ``examples/channels_tutorial``); see :class:`infra.config.ProjectConfig`.
"""

from __future__ import annotations

import os

import aws_cdk as cdk

from .config import EnvironmentConfig, ProjectConfig, context_flag, selected_project
from .nag import enable_checks
from .routes import routes_from_django
from .stacks import ApiGatewayAccountStack, ApplicationStack, StatefulStack

PREFIX = "DjangoWebSockets"  # of the account-level stack, one per account and region whatever the project
TAGS = {"project": "django-aws-api-gateway-websockets"}


def selected_environments(app: cdk.App) -> list[EnvironmentConfig]:
    name = app.node.try_get_context("environment") or "dev"
    environments = app.node.try_get_context("environments") or {}
    if name == "all":
        return [EnvironmentConfig.from_context(n, values) for n, values in environments.items()]
    if name not in environments:
        raise ValueError(f"Unknown environment {name!r}; cdk.json defines {sorted(environments)} (or 'all')")
    return [EnvironmentConfig.from_context(name, environments[name])]


def build(app: cdk.App) -> list[cdk.Stack]:
    project: ProjectConfig = selected_project(app.node.try_get_context)
    project.activate()  # its modules importable, its settings Django's (one project per app: one Django setup)
    routes = routes_from_django(project.settings_module)
    stacks: list[cdk.Stack] = []
    accounts: dict[tuple[str | None, str | None], ApiGatewayAccountStack] = {}
    for config in selected_environments(app):
        env = cdk.Environment(account=config.account or os.environ.get("CDK_DEFAULT_ACCOUNT"),
                              region=config.region or os.environ.get("CDK_DEFAULT_REGION"))
        prefix = f"{project.stack_prefix}-{config.name}"
        stateful = StatefulStack(app, f"{prefix}-Stateful", config=config, env=env,
                                 description="Connection table and secret (retained)")
        application = ApplicationStack(app, f"{prefix}-App", config=config, routes=routes, stateful=stateful,
                                       project=project, env=env, description="WebSocket API and Django Lambda")
        application.add_stack_dependency(stateful)
        if context_flag(app.node.try_get_context("apiGatewayCloudWatchRole")):
            key = (env.account, env.region)
            if key not in accounts:
                suffix = "" if not accounts else f"-{len(accounts) + 1}"
                accounts[key] = ApiGatewayAccountStack(
                    app, f"{PREFIX}-ApiGatewayAccount{suffix}", env=env,
                    description="API Gateway's account-level CloudWatch role (retained)")
                stacks.append(accounts[key])
            application.add_stack_dependency(accounts[key])  # access logs need the role in place
        for stack in (stateful, application):
            cdk.Tags.of(stack).add("environment", config.name)
        stacks += [stateful, application]
    for stack in stacks:
        for key, value in TAGS.items():
            cdk.Tags.of(stack).add(key, value)
    enable_checks(app)
    return stacks


def main() -> None:
    app = cdk.App()
    build(app)
    app.synth()


if __name__ == "__main__":
    main()
