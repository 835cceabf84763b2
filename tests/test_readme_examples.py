"""The README's usage guide, run as written: its view ("A view with routes"), its settings and URL lines
("URLs") and its test ("Testing your own views") go into a project made by ``startproject``, and pytest runs
that test there, as a user would run it."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def python_block(readme: str, heading: str) -> str:
    """The first ```python block under ``heading``."""
    section = readme.split(f"\n{heading}\n", 1)[1]
    match = re.search(r"```python\n(.*?)```", section, re.S)
    assert match is not None, heading
    return match.group(1)


def line_starting(block: str, prefix: str) -> str:
    return next(line for line in block.splitlines() if line.startswith(prefix))


def test_the_usage_guide_examples_run_verbatim(tmp_path: Path) -> None:
    readme = (ROOT / "README.md").read_text()
    view = python_block(readme, "### A view with routes")
    urls_block = python_block(readme, "### URLs")
    test = python_block(readme, "### Testing your own views")
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PYTEST", "DJANGO_", "WEBSOCKETS_", "AWS_LAMBDA", "HYPOTHESIS"))}

    subprocess.run([sys.executable, "-m", "django", "startproject", "myproject", str(tmp_path)], check=True, env=env)
    settings = tmp_path / "myproject" / "settings.py"
    settings.write_text(settings.read_text() + '\nINSTALLED_APPS += ["django_aws_api_gateway_websockets"]\n'
                        + line_starting(urls_block, "WEBSOCKETS = ") + "\n")
    urls = tmp_path / "myproject" / "urls.py"
    text = urls.read_text().replace("from django.urls import path", "from django.urls import include, path")
    include = line_starting(urls_block, 'path("ws/", include("django_aws_api_gateway_websockets.urls"))')
    urls.write_text(text.replace("urlpatterns = [", "urlpatterns = [\n    " + include, 1))
    (tmp_path / "myproject" / "websocket_views.py").write_text(view)
    (tmp_path / "test_readme.py").write_text(test)

    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:randomly",
                             "--ds=myproject.settings", "test_readme.py"], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "1 passed" in result.stdout
