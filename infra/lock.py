"""``scripts/lock``: resolve each project's requirements for the Lambda function's platform into its lock file
(exact versions, sha256 hashes of every distribution), with uv: the demo's ``requirements.txt`` into
``requirements-lambda.lock``, and those of cdk.json's ``projects`` (the Channels tutorial's) into theirs.

The packages the Lambda runtime provides (:data:`infra.bundling.RUNTIME_PROVIDED`) take part in the
resolution (so the versions chosen agree with theirs) but are left out of the file.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from .bundling import LAMBDA_ARCHITECTURE, LAMBDA_PYTHON, MANYLINUX_TAGS, ROOT, RUNTIME_PROVIDED
from .config import ProjectConfig, cdk_json_context

REQUIREMENTS = ROOT / ProjectConfig().requirements


def locks() -> list[tuple[str, str]]:
    """Every (requirements, lock) pair of the demo and cdk.json's projects, once each."""
    projects = [ProjectConfig()] + [ProjectConfig.from_context(name, values)
                                    for name, values in (cdk_json_context().get("projects") or {}).items()]
    pairs: list[tuple[str, str]] = []
    for project in projects:
        if (project.requirements, project.lock) not in pairs:
            pairs.append((project.requirements, project.lock))
    return pairs


def uv_command(*extra: str, requirements: str = REQUIREMENTS.name, lock: str = ProjectConfig().lock) -> list[str]:
    uv = Path(sys.executable).with_name("uv")
    command = [str(uv), "pip", "compile", requirements, "--output-file", lock, "--quiet",
               "--python-version", LAMBDA_PYTHON, "--python-platform", f"{LAMBDA_ARCHITECTURE}-{MANYLINUX_TAGS[0]}",
               "--generate-hashes", "--custom-compile-command", "scripts/lock"]
    for name in RUNTIME_PROVIDED:
        command += ["--no-emit-package", name]
    return [*command, *extra]


def main(argv: list[str]) -> int:
    for requirements, lock in locks():
        print(f"==> {requirements} -> {lock}")
        returncode = subprocess.run(uv_command(*argv, requirements=requirements, lock=lock), cwd=ROOT).returncode
        if returncode:
            return returncode
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
