"""Settings read from CDK context (``cdk.json`` or ``-c``): per environment (dev, prod, ...), and the Django
project the function runs (:class:`ProjectConfig`, one per CDK app)."""

from __future__ import annotations

import json
import os
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

# cdk.json's directory: every path of a project is relative to it.
ROOT = Path(__file__).resolve().parent.parent

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


# A project's context keys (cdk.json "projects": {NAME: {...}}) and their ProjectConfig fields.
_PROJECT_KNOWN = {"code": "code", "settingsModule": "settings_module", "handler": "handler",
                  "authorizerHandler": "authorizer_handler", "requirements": "requirements", "lock": "lock",
                  "stackPrefix": "stack_prefix"}
_DOTTED = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)+$")
DEMO_PROJECT = "demo"


@dataclass(frozen=True)
class ProjectConfig:
    """The Django project the Lambda function runs; the defaults are the demo's (``app/``).

    One per CDK app: its settings are what ``cdk synth`` sets Django up with (to read the routes from the
    view), and a process sets Django up once. ``-c project=NAME`` picks one of cdk.json's ``projects`` (``demo``,
    these defaults, when none is named).
    """

    name: str = DEMO_PROJECT
    # What goes into the asset beside the locked dependencies: paths relative to cdk.json's directory, each
    # copied to the asset's root under its own name (so "examples/x/mysite" becomes the package "mysite").
    # Their parent directories go on sys.path while synthesizing, so the asset's layout is the import layout.
    code: tuple[str, ...] = ("django_aws_api_gateway_websockets", "app", "lambda_handler.py")
    settings_module: str = "app.settings"
    handler: str = "lambda_handler.handler"
    # The REQUEST authorizer's handler (environments with connectAuthorizer); None: the project has none.
    authorizer_handler: str | None = "lambda_handler.authorize"
    # requirements.txt (what scripts/lock resolves) and its lock (versions and hashes: what the asset installs).
    requirements: str = "requirements.txt"
    lock: str = "requirements-lambda.lock"
    # Stack names: <stackPrefix>-<environment>-Stateful / -App.
    stack_prefix: str = "DjangoWebSockets"

    @classmethod
    def from_context(cls, name: str, values: dict[str, Any]) -> ProjectConfig:
        if not isinstance(values, dict):
            raise ValueError(f"Project {name!r}: expected an object of settings, not {values!r}")
        unknown = set(values) - set(_PROJECT_KNOWN)
        if unknown:
            raise ValueError(f"Unknown settings for project {name!r}: {sorted(unknown)}; known: {sorted(_PROJECT_KNOWN)}")
        kwargs = {_PROJECT_KNOWN[key]: value for key, value in values.items()}
        if "code" in kwargs:
            if not isinstance(kwargs["code"], list) or not all(isinstance(c, str) for c in kwargs["code"]):
                raise ValueError(f"Project {name!r}: code is a list of paths")
            kwargs["code"] = tuple(kwargs["code"])
        project = cls(name=name, **kwargs)
        project.check()
        return project

    def check(self) -> None:
        """Refuse what would build a broken asset, naming the setting."""
        where = f"Project {self.name!r}"
        if not self.code:
            raise ValueError(f"{where}: code lists nothing to deploy")
        names = [PurePosixPath(item).name for item in self.code]
        if len(set(names)) != len(names):
            raise ValueError(f"{where}: two code paths land on the same name at the asset's root: {names}")
        for item in (*self.code, self.requirements, self.lock):
            path = PurePosixPath(item)
            if path.is_absolute() or ".." in path.parts or not path.parts:
                raise ValueError(f"{where}: {item!r} must be a path inside the project (relative to cdk.json)")
            if not (ROOT / item).exists():
                raise ValueError(f"{where}: {item!r} does not exist (relative to {ROOT})")
        modules = {name.removesuffix(".py") for name in names}
        dotted: tuple[tuple[str, str | None], ...] = (
            ("settingsModule", self.settings_module), ("handler", self.handler),
            ("authorizerHandler", self.authorizer_handler))
        for key, value in dotted:
            if value is None and key == "authorizerHandler":
                continue
            if not isinstance(value, str) or not _DOTTED.match(value):
                raise ValueError(f"{where}: {key} {value!r} is not a dotted name (module.attribute)")
            if value.split(".")[0] not in modules:
                raise ValueError(f"{where}: {key} {value!r} is not in the project's code {list(self.code)}")

    @property
    def import_roots(self) -> tuple[Path, ...]:
        """The directories the code's modules are imported from while synthesizing."""
        roots: list[Path] = []
        for item in self.code:
            parent = (ROOT / item).parent
            if parent not in roots:
                roots.append(parent)
        return tuple(roots)

    def activate(self) -> None:
        """Make the project's modules importable here and name its settings module (before Django is set up)."""
        for root in reversed(self.import_roots):
            if str(root) not in sys.path:
                sys.path.insert(0, str(root))
        os.environ["DJANGO_SETTINGS_MODULE"] = self.settings_module


def selected_project(context: Any) -> ProjectConfig:
    """The project ``context`` names (a ``node.try_get_context``-like callable, or a dict): ``project``, one
    of ``projects``; ``demo`` (:class:`ProjectConfig`'s defaults) unless named or redefined."""
    get = context.get if isinstance(context, dict) else context
    name = get("project") or DEMO_PROJECT
    projects = get("projects") or {}
    if name in projects:
        return ProjectConfig.from_context(name, projects[name])
    if name == DEMO_PROJECT:
        return ProjectConfig()
    raise ValueError(f"Unknown project {name!r}; cdk.json defines {sorted({DEMO_PROJECT, *projects})}")


def cdk_json_context() -> dict[str, Any]:
    """cdk.json's context (what the CDK CLI hands the app, before any ``-c``)."""
    return dict(json.loads((ROOT / "cdk.json").read_text()).get("context", {}))
