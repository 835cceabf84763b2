"""Building the Lambda asset locally, without Docker: pip installs wheels for the Lambda platform
(manylinux aarch64, CPython 3.13) into the asset, then the project's code is copied beside them."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsii
from aws_cdk import ILocalBundling

ROOT = Path(__file__).resolve().parent.parent
# What the function runs: the app package, the Django project and the handler module.
PROJECT_CODE = ("django_aws_api_gateway_websockets", "app", "lambda_handler.py")
# Provided by the Lambda Python runtime: left out of the asset.
RUNTIME_PROVIDED = {"boto3", "botocore", "s3transfer", "jmespath"}
LAMBDA_PYTHON = "3.13"
LAMBDA_PLATFORM = "manylinux2014_aarch64"


def lambda_requirements(requirements: Path = ROOT / "requirements.txt") -> list[str]:
    """The runtime requirements minus what the Lambda runtime already has."""
    wanted = []
    for line in requirements.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        name = re.split(r"[<>=!~\[; ]", line, maxsplit=1)[0].lower()
        if name not in RUNTIME_PROVIDED:
            wanted.append(line)
    return wanted


@jsii.implements(ILocalBundling)
class LocalPythonBundling:
    def try_bundle(self, output_dir: str, *, image: Any, **options: Any) -> bool:
        out = Path(output_dir)
        command = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                   "--platform", LAMBDA_PLATFORM, "--python-version", LAMBDA_PYTHON, "--implementation", "cp",
                   "--only-binary=:all:", "--target", str(out), *lambda_requirements()]
        result = subprocess.run(command, capture_output=True, text=True)
        if result.returncode != 0:
            raise RuntimeError(f"Bundling the Lambda dependencies failed:\n{result.stdout}\n{result.stderr}")
        for name in RUNTIME_PROVIDED:  # in case a dependency pulled one in
            shutil.rmtree(out / name, ignore_errors=True)
        ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "db.sqlite3*", "templates_cache")
        for item in PROJECT_CODE:
            source = ROOT / item
            if source.is_dir():
                shutil.copytree(source, out / item, ignore=ignore, dirs_exist_ok=True)
            else:
                shutil.copy2(source, out / item)
        return True


# Only these paths feed the asset hash, so editing tests or docs does not rebuild the bundle.
ASSET_EXCLUDE = ["*", *[f"!{item}" for item in PROJECT_CODE], *[f"!{item}/**" for item in PROJECT_CODE
                                                               if not item.endswith(".py")],
                 "!requirements.txt", "**/__pycache__", "**/*.pyc"]
