"""Synthesise the CDK app once per test session, through the project's pinned CDK CLI, offline."""

from __future__ import annotations

import os

# jsii prints a Node 20 end-of-life banner on every start; the CLI and in-process synthesis both read these.
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
os.environ.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")

import json  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import pytest  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
CDK = ROOT / "node_modules" / ".bin" / "cdk"


@dataclass
class Assembly:
    path: Path
    output: str

    def template(self, stack: str) -> dict[str, Any]:
        return json.loads((self.path / f"{stack}.template.json").read_text())

    @property
    def app(self) -> dict[str, Any]:
        return self.template("DjangoWebSockets-dev-App")

    @property
    def stateful(self) -> dict[str, Any]:
        return self.template("DjangoWebSockets-dev-Stateful")

    def asset_dir(self) -> Path:
        manifest = json.loads((self.path / "DjangoWebSockets-dev-App.assets.json").read_text())
        paths = [f["source"]["path"] for f in manifest["files"].values() if f["source"].get("packaging") == "zip"]
        assert len(paths) == 1, paths
        return self.path / paths[0]


def synth_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "CDK_"))}  # no credentials at all
    env.update({"JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20", "JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION": "1",
                "CDK_DISABLE_NOTICES": "1", "CDK_DISABLE_CLI_TELEMETRY": "true", "CI": "true"})
    return env


@pytest.fixture(scope="session")
def assembly(tmp_path_factory: pytest.TempPathFactory) -> Assembly:
    assert CDK.exists(), "the CDK CLI is missing: scripts/setup --node installs it from package.json"
    out = tmp_path_factory.mktemp("cdk") / "cdk.out"
    result = subprocess.run(
        [str(CDK), "synth", "--app", f"{sys.executable} -m infra.app", "--output", str(out), "--no-notices",
         "--quiet"],
        cwd=ROOT, env=synth_env(), capture_output=True, text=True, timeout=600, stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 0, f"cdk synth failed:\n{result.stdout}\n{result.stderr}"
    return Assembly(out, result.stdout + result.stderr)
