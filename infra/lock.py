"""``scripts/lock``: resolve ``requirements.txt`` for the Lambda function's platform into
``requirements-lambda.lock`` (exact versions, sha256 hashes of every distribution), with uv.

The packages the Lambda runtime provides (:data:`infra.bundling.RUNTIME_PROVIDED`) take part in the
resolution (so the versions chosen agree with theirs) but are left out of the file.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from .bundling import LAMBDA_ARCHITECTURE, LAMBDA_PYTHON, LOCK_FILE, MANYLINUX_TAGS, ROOT, RUNTIME_PROVIDED

REQUIREMENTS = ROOT / "requirements.txt"


def uv_command(*extra: str) -> list[str]:
    uv = Path(sys.executable).with_name("uv")
    command = [str(uv), "pip", "compile", REQUIREMENTS.name, "--output-file", LOCK_FILE.name, "--quiet",
               "--python-version", LAMBDA_PYTHON, "--python-platform", f"{LAMBDA_ARCHITECTURE}-{MANYLINUX_TAGS[0]}",
               "--generate-hashes", "--custom-compile-command", "scripts/lock"]
    for name in RUNTIME_PROVIDED:
        command += ["--no-emit-package", name]
    return [*command, *extra]


def main(argv: list[str]) -> int:
    return subprocess.run(uv_command(*argv), cwd=ROOT).returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
