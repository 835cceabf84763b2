"""The CDK app through the project's pinned CDK CLI, in the two conditions users meet, once each per session:

- ``assembly``: ``cdk synth -c environment=all`` offline, with no AWS credentials or account at all
  (env-agnostic stacks, every environment of cdk.json);
- ``deployment``: ``cdk bootstrap`` then ``cdk deploy --all`` against moto in server mode with dummy
  credentials: the CLI discovers the account (123456789012) and region itself and synthesizes every
  environment with them (plus the opt-in account stack), publishes the asset and runs change sets.

Each bundles the Lambda asset once (CDK reuses it across the stacks of one synthesis).
"""

from __future__ import annotations

import os

import infra  # noqa: F401  (silences jsii's Node banner for in-process synthesis too)

import json  # noqa: E402
import logging  # noqa: E402
import re  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from collections.abc import Iterator  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import pytest  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
CDK = ROOT / "node_modules" / ".bin" / "cdk"
ENVIRONMENTS = ("dev", "prod", "staging")
ACCOUNT, REGION = "123456789012", "eu-west-1"  # moto's account; the region the deploy rehearsal uses


@dataclass
class Assembly:
    path: Path
    output: str

    def template(self, stack: str) -> dict[str, Any]:
        return json.loads((self.path / f"{stack}.template.json").read_text())

    def app(self, environment: str = "dev") -> dict[str, Any]:
        return self.template(f"DjangoWebSockets-{environment}-App")

    def stateful(self, environment: str = "dev") -> dict[str, Any]:
        return self.template(f"DjangoWebSockets-{environment}-Stateful")

    @property
    def manifest(self) -> dict[str, Any]:
        return json.loads((self.path / "manifest.json").read_text())

    def stacks(self) -> dict[str, dict[str, Any]]:
        return {name: artifact for name, artifact in self.manifest["artifacts"].items()
                if artifact["type"] == "aws:cloudformation:stack"}

    def asset_dirs(self) -> set[Path]:
        paths = set()
        for stack in self.stacks():
            manifest = json.loads((self.path / f"{stack}.assets.json").read_text())
            paths |= {self.path / f["source"]["path"] for f in manifest["files"].values()
                      if f["source"].get("packaging") == "zip"}
        return paths

    def asset_dir(self) -> Path:
        (path,) = self.asset_dirs()
        return path

    @property
    def nag_report(self) -> dict[str, Any]:
        report = json.loads((self.path / "validation-report.json").read_text())
        (plugin,) = report["pluginReports"]
        return dict(plugin)


def cli_env(**extra: str) -> dict[str, str]:
    """The environment of a CLI run: none of this machine's AWS_*/CDK_* variables (no credentials, no account)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "CDK_"))}
    env.update({"CDK_DISABLE_NOTICES": "1", "CDK_DISABLE_CLI_TELEMETRY": "true", "CI": "true",
                "NODE_NO_WARNINGS": "1"})
    env.pop("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", None)  # infra/__init__.py must set it itself
    env.update(extra)
    return env


def run_cdk(*args: str, env: dict[str, str], outside: Path | None = None,
            timeout: int = 600) -> subprocess.CompletedProcess[str]:
    """The pinned CLI on the project's app (with this interpreter), or on none when run ``outside`` the
    project (``cdk bootstrap aws://ACCOUNT/REGION`` needs no app)."""
    assert CDK.exists(), "the CDK CLI is missing: scripts/setup --node installs it from package.json"
    command = [str(CDK), *args, "--no-notices"]
    if outside is None:
        command += ["--app", f"{sys.executable} -m infra.app"]
    return subprocess.run(command, cwd=outside or ROOT, env=env, capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL)


def tail(result: subprocess.CompletedProcess[str], lines: int = 60) -> str:
    return "\n".join((result.stdout + result.stderr).splitlines()[-lines:])


@pytest.fixture(scope="session")
def assembly(tmp_path_factory: pytest.TempPathFactory) -> Assembly:
    out = tmp_path_factory.mktemp("cdk") / "cdk.out"
    result = run_cdk("synth", "-c", "environment=all", "--output", str(out), "--quiet", env=cli_env())
    assert result.returncode == 0, f"cdk synth failed:\n{tail(result)}"
    return Assembly(out, result.stdout + result.stderr)


@dataclass
class Deployment:
    assembly: Assembly
    endpoint: str
    output: str
    seconds: float
    statuses: dict[str, str] = field(default_factory=dict)
    skipped_types: set[str] = field(default_factory=set)  # accepted by moto's CloudFormation, never created

    def client(self, service: str) -> Any:
        import boto3

        return boto3.client(service, endpoint_url=self.endpoint, region_name=REGION,
                            aws_access_key_id="testing", aws_secret_access_key="testing")


class _MotoSkips(logging.Handler):
    """Collects the resource types moto's CloudFormation reports it does not support (it skips them)."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.types: set[str] = set()

    def emit(self, record: logging.LogRecord) -> None:
        match = re.match(r"No Moto CloudFormation support for (\S+)", record.getMessage())
        if match:
            self.types.add(match.group(1))


@pytest.fixture(scope="session")
def deploy_endpoint() -> Iterator[str]:
    """A moto server of its own (a fresh account), on the host name ``localhost``: moto reads the template
    URLs the CLI hands CloudFormation only with that host."""
    from tests.moto_server import MotoServer

    server = MotoServer("localhost").start()
    yield server.url
    server.stop()


@pytest.fixture(scope="session")
def deployment(deploy_endpoint: str, tmp_path_factory: pytest.TempPathFactory) -> Deployment:
    out = tmp_path_factory.mktemp("deploy") / "cdk.out"
    env = cli_env(AWS_ENDPOINT_URL=deploy_endpoint, AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing",
                  AWS_REGION=REGION, AWS_DEFAULT_REGION=REGION)
    skipped = _MotoSkips()
    logging.getLogger("moto").addHandler(skipped)
    started = time.perf_counter()
    with warnings.catch_warnings():  # moto warns once more per skipped type; _MotoSkips records them
        warnings.filterwarnings("ignore", message="Tried to parse", category=UserWarning)
        bootstrap = run_cdk("bootstrap", f"aws://{ACCOUNT}/{REGION}", env=env, outside=out.parent)
        assert bootstrap.returncode == 0, f"cdk bootstrap failed:\n{tail(bootstrap)}"
        result = run_cdk("deploy", "--all", "-c", "environment=all", "-c", "apiGatewayCloudWatchRole=true",
                         "--require-approval", "never", "--output", str(out), "--progress", "events", env=env)
    seconds = time.perf_counter() - started
    logging.getLogger("moto").removeHandler(skipped)
    assert result.returncode == 0, f"cdk deploy failed:\n{tail(result)}"
    deployment = Deployment(Assembly(out, result.stdout + result.stderr), deploy_endpoint,
                            bootstrap.stdout + bootstrap.stderr + result.stdout + result.stderr, seconds,
                            skipped_types=skipped.types)
    for stack in deployment.client("cloudformation").describe_stacks()["Stacks"]:
        deployment.statuses[stack["StackName"]] = stack["StackStatus"]
    return deployment


@pytest.fixture(scope="session")
def runtime_stand_in(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """What the Lambda runtime provides beside an asset: boto3 and its dependencies, snapshot_restore_py
    (pure Python, taken from this virtualenv); shared by every standalone-asset test."""
    import botocore

    from infra import bundling
    from infra.asset_runner import runtime_stand_in as runtime_stand_in_dir

    site = Path(botocore.__file__).resolve().parents[1]
    return runtime_stand_in_dir(tmp_path_factory.mktemp("runtime") / "runtime", site, bundling.RUNTIME_PROVIDED_MODULES)
