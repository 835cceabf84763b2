"""scripts/python313, which scripts/test uses to find the second interpreter of the suite."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FINDER = ROOT / "scripts" / "python313"
IS_313 = sys.version_info[:2] == (3, 13)


def find(path: str, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if k not in ("PYTHON313", "PYENV_VERSION")}
    environ.update(PATH=path, **env)
    return subprocess.run([str(FINDER)], env=environ, capture_output=True, text=True, timeout=60)


def test_says_plainly_when_there_is_no_3_13(tmp_path: Path) -> None:
    # A PATH with bash alone: neither python3.13 nor pyenv, nothing to find.
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / "bash").symlink_to(shutil.which("bash") or "/bin/bash")
    result = find(str(tmp_path / "bin"))
    assert result.returncode == 1 and result.stdout == ""
    assert "CPython 3.13 not found" in result.stderr


def test_python3_13_on_path_is_checked_not_trusted(tmp_path: Path) -> None:
    # A python3.13 on PATH that is really this interpreter: accepted only when this interpreter is 3.13.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "python3.13").symlink_to(sys.executable)
    result = find(f"{bin_dir}:/bin:/usr/bin")
    assert result.returncode == (0 if IS_313 else 1)
    if IS_313:
        assert result.stdout.strip() and "3.13" in subprocess.run([result.stdout.strip(), "--version"],
                                                                  capture_output=True, text=True).stdout


def test_python313_variable_is_used_when_it_is_3_13() -> None:
    result = find(os.environ["PATH"], PYTHON313=sys.executable)
    if IS_313:
        assert result.returncode == 0 and result.stdout.strip() == sys.executable
    else:
        assert result.returncode == 1 and "is not a working CPython 3.13" in result.stderr
