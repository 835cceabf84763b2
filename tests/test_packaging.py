"""What ``pip install django-aws-api-gateway-websockets`` gives: the built sdist and wheel, installed into a fresh
virtualenv without the project's dev requirements, used by a small Django project of its own.

Nothing from this checkout is importable there: the project lives in a temporary directory, the environment
has no PYTHONPATH and no user site, and every module is checked to come from the virtualenv's site-packages.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

import django_aws_api_gateway_websockets

pytestmark = pytest.mark.packaging

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = "django_aws_api_gateway_websockets"


def run(*args: str | Path, cwd: Path = ROOT, env: dict[str, str] | None = None, timeout: float = 240) -> str:
    result = subprocess.run([str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True,
                            timeout=timeout, stdin=subprocess.DEVNULL)
    assert result.returncode == 0, f"{args} failed ({result.returncode}):\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result.stdout


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PYTEST", "DJANGO_", "WEBSOCKETS_", "PYTHON", "VIRTUAL_ENV", "AWS_"))}
    env.update({"PYTHONNOUSERSITE": "1", "PYTHONDONTWRITEBYTECODE": "1", "AWS_ACCESS_KEY_ID": "local",
                "AWS_SECRET_ACCESS_KEY": "local", "AWS_REGION": "us-east-1"})
    env.update(extra)
    return env


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    # The default isolated build: an sdist, then the wheel built from that sdist (so the sdist is complete).
    run(sys.executable, "-m", "build", "--outdir", out, ".", env=clean_env())
    run(sys.executable, "-m", "twine", "check", "--strict", *sorted(out.iterdir()))
    return out


@pytest.fixture(scope="module")
def venv(dist: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("fresh-venv")
    run(sys.executable, "-m", "venv", path)
    python = path / "bin" / "python"
    wheel = next(dist.glob("*.whl"))
    run(python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", wheel, env=clean_env())
    return python


def test_version_is_written_once() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert "version" not in project and project["dynamic"] == ["version"]
    assert re.search(r'^__version__ = "(\d+\.\d+\.\d+)"$', (ROOT / PACKAGE / "__init__.py").read_text(), re.M)
    changelog = (ROOT / "CHANGELOG.md").read_text()
    first = re.search(r"^## (\S+)", changelog, re.M)
    assert first is not None and first.group(1) == django_aws_api_gateway_websockets.__version__


def test_license_matches_pyproject() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["license"] == "MIT" and project["license-files"] == ["LICENSE"]
    assert (ROOT / "LICENSE").read_text().startswith("MIT License\n")


def test_sdist_and_wheel_contents(dist: Path) -> None:
    import tarfile
    import zipfile

    version = django_aws_api_gateway_websockets.__version__
    wheel = next(dist.glob("*.whl"))
    assert wheel.name == f"{PACKAGE}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        metadata = zf.read(f"{PACKAGE}-{version}.dist-info/METADATA").decode()
    assert f"{PACKAGE}-{version}.dist-info/licenses/LICENSE" in names
    assert f"{PACKAGE}/py.typed" in names and f"{PACKAGE}/migrations/0001_initial.py" in names
    assert f"{PACKAGE}/static/{PACKAGE}/client.js" in names  # the browser client, served by collectstatic
    assert not any(n.startswith(("tests/", "app/", "infra/", "lambda_handler")) for n in names)
    assert "License-Expression: MIT" in metadata and f"Version: {version}" in metadata
    requires = [line.split(": ", 1)[1] for line in metadata.splitlines() if line.startswith("Requires-Dist: ")]
    assert any(r.startswith("aiohttp") and "extra ==" not in r for r in requires), requires
    # Powertools (observability on Lambda) is the 'lambda' extra, not a dependency of every install.
    assert any(r.startswith("aws-lambda-powertools") and 'extra == "lambda"' in r for r in requires), requires
    assert not any(r.startswith("aws-lambda-powertools") and "extra ==" not in r for r in requires), requires
    with tarfile.open(next(dist.glob("*.tar.gz"))) as tf:
        members = {m.name.split("/", 1)[1] for m in tf.getmembers() if "/" in m.name}
    assert {"LICENSE", "README.md", "pyproject.toml", f"{PACKAGE}/__init__.py"} <= members


# Appended to what ``django-admin startproject tiny`` writes (DEBUG = True, ALLOWED_HOSTS = [], its middleware):
# a newcomer's project, where Django accepts its development hosts only while ALLOWED_HOSTS stays empty.
TINY_SETTINGS = """
INSTALLED_APPS += ["django_aws_api_gateway_websockets"]
WEBSOCKETS = {"VIEW": "tiny.views.EchoView"}
"""

TINY_VIEWS = """
from django.http import JsonResponse
from django_aws_api_gateway_websockets.messaging import send_to_connection
from django_aws_api_gateway_websockets.routing import route
from django_aws_api_gateway_websockets.views import WebSocketView


class EchoView(WebSocketView):
    required_connection_headers = []

    @route("echo")
    def echo(self, request, *args, **kwargs):
        return JsonResponse({"echo": self.body.get("data")})

    @route("push")
    def push(self, request, *args, **kwargs):
        result = send_to_connection(self.connection_id, {"pushed": self.body.get("data")})
        return JsonResponse({"sent": result.sent})
"""

TINY_URLS = """
from django.contrib import admin
from django.urls import include, path

urlpatterns = [path("admin/", admin.site.urls), path("ws/", include("django_aws_api_gateway_websockets.urls"))]
"""

TINY_HANDLER = """
import os
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tiny.settings")
from django.core.wsgi import get_wsgi_application
from django_aws_api_gateway_websockets.lambda_adapter import make_websocket_handler

handler = make_websocket_handler(get_wsgi_application())
"""

# Runs inside the fresh virtualenv: import every module, migrate, one socket through the test client.
SMOKE = """
import importlib, importlib.metadata, json, pkgutil, sys, sysconfig
from pathlib import Path
import django
django.setup()
import django_aws_api_gateway_websockets as pkg
site = Path(sysconfig.get_paths()["purelib"]).resolve()
modules = []
# Optional parts need their extra: their package imports (lazily), their modules need the extra's package.
EXTRAS = {pkg.__name__ + ".channels_compat.": "channels"}
needs_extra = []
for info in pkgutil.walk_packages(pkg.__path__, prefix=pkg.__name__ + "."):
    extra = next((dist for prefix, dist in EXTRAS.items() if info.name.startswith(prefix)), None)
    try:
        module = importlib.import_module(info.name)
    except ModuleNotFoundError as exc:
        if extra is None or exc.name != extra:
            raise
        needs_extra.append(info.name)
        continue
    assert Path(module.__file__).resolve().is_relative_to(site), module.__file__
    modules.append(info.name)
assert needs_extra, "the channels extra is not installed here, so its modules cannot have imported"
from django.core.management import call_command
call_command("migrate", verbosity=0, interactive=False)
from django_aws_api_gateway_websockets.testing import WebSocketTestClient
ws = WebSocketTestClient()  # events of an execute-api API, as recorded on AWS
steps = [ws.connect().status_code, ws.send({"action": "echo", "data": 7}).json(), ws.disconnect().status_code]
# The local gateway's events (domainName 127.0.0.1:8000) and a page on that host, with startproject's settings.
from django.conf import settings
from django.test import Client
local = WebSocketTestClient(domain_name="127.0.0.1:8000", api_id="local", stage="local")
steps += [local.connect(origin="http://127.0.0.1:8000").status_code, local.send({"action": "echo", "data": 8}).json(),
          Client(HTTP_HOST="127.0.0.1:8000").get("/admin/login/").status_code]
dist = importlib.metadata.distribution("django-aws-api-gateway-websockets")
print(json.dumps({"modules": modules, "steps": steps, "hosts": settings.ALLOWED_HOSTS, "debug": settings.DEBUG,
                  "version": dist.version, "pkg_version": pkg.__version__,
                  "license_files": [str(f) for f in dist.files if f.name == "LICENSE"],
                  "requires": dist.requires}))
"""

# Through the local gateway: a real socket, and a push back through the @connections API (aiohttp, boto3).
GATEWAY_CLIENT = """
import asyncio, json, sys
import aiohttp

async def main(port):
    base = f"http://127.0.0.1:{port}"
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{base}/admin/login/") as page:  # a page, as a browser on the gateway loads it
            page_status = page.status
        # The page's own origin may open a socket; an execute-api page (anybody's API) may not.
        async with session.ws_connect(f"ws://127.0.0.1:{port}/", origin=base) as ws:
            await ws.send_str(json.dumps({"action": "echo", "data": "over a socket"}))
            echo = json.loads((await ws.receive(timeout=15)).data)
            await ws.send_str(json.dumps({"action": "push", "data": "via @connections"}))
            got = [json.loads((await ws.receive(timeout=15)).data) for _ in range(2)]
        try:
            await session.ws_connect(f"ws://127.0.0.1:{port}/", origin="https://x1y2.execute-api.us-east-1.amazonaws.com")
            foreign = 101
        except aiohttp.WSServerHandshakeError as refused:
            foreign = refused.status
    print(json.dumps({"page": page_status, "echo": echo, "push": got, "foreign_origin": foreign}))

asyncio.run(main(sys.argv[1]))
"""


@pytest.fixture(scope="module")
def tiny_project(venv: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    project = tmp_path_factory.mktemp("tiny-project")
    run(venv, "-m", "django", "startproject", "tiny", project, env=clean_env())
    with (project / "tiny" / "settings.py").open("a") as settings:
        settings.write(TINY_SETTINGS)
    for name, text in {"views.py": TINY_VIEWS, "urls.py": TINY_URLS, "handler.py": TINY_HANDLER}.items():
        (project / "tiny" / name).write_text(text)
    (project / "smoke.py").write_text(SMOKE)
    (project / "gateway_client.py").write_text(GATEWAY_CLIENT)
    return project


def test_fresh_virtualenv_imports_every_module_and_runs_a_project(venv: Path, tiny_project: Path) -> None:
    env = clean_env(DJANGO_SETTINGS_MODULE="tiny.settings")
    run(venv, "-m", "django", "check", "--fail-level", "WARNING", cwd=tiny_project, env=env)
    report = json.loads(run(venv, "smoke.py", cwd=tiny_project, env=env).splitlines()[-1])
    expected = {f"{PACKAGE}.{m}" for m in ("messaging", "sender", "views", "urls", "testing", "lambda_adapter",
                                            "store.dynamodb", "gateway.server", "checks", "tokens", "events",
                                            "management.commands.runwsgateway", "management.commands.replay_events",
                                            "channels_compat")}
    assert expected <= set(report["modules"]), expected - set(report["modules"])
    assert report["steps"] == [200, {"echo": 7}, 200, 200, {"echo": 8}, 200]
    # startproject's DEBUG and empty ALLOWED_HOSTS: the recorded event's host joined Django's development hosts.
    assert report["debug"] is True
    assert report["hosts"] == [".localhost", "127.0.0.1", "[::1]", "abcdef1234.execute-api.us-east-1.amazonaws.com"]
    assert report["version"] == report["pkg_version"] == django_aws_api_gateway_websockets.__version__
    assert report["license_files"]
    installed = run(venv, "-m", "pip", "list", "--format=json", "--disable-pip-version-check", env=env)
    names = {p["name"].lower() for p in json.loads(installed)}
    assert not names & {"pytest", "pytest-django", "hypothesis", "moto", "websockets", "aws-cdk-lib", "mypy"}


def test_fresh_virtualenv_runs_the_local_gateway(venv: Path, tiny_project: Path) -> None:
    env = clean_env(DJANGO_SETTINGS_MODULE="tiny.settings")
    run(venv, "-m", "django", "migrate", "-v0", cwd=tiny_project, env=env)
    process = subprocess.Popen([str(venv), "-m", "django", "runwsgateway", "127.0.0.1:0", "--handler", "tiny.handler.handler"],
                               cwd=tiny_project, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert process.stdout is not None
        seen = []
        for line in process.stdout:
            seen.append(line)
            match = re.search(r"listening on 127\.0\.0\.1:(\d+)", line)
            if match:
                break
        else:
            raise AssertionError("".join(seen))
        out = run(venv, "gateway_client.py", match.group(1), cwd=tiny_project, env=env, timeout=60)
    finally:
        process.terminate()
        process.wait(timeout=15)
    report = json.loads(out.splitlines()[-1])
    assert report["page"] == 200  # startproject's settings: the page's host is accepted
    assert report["foreign_origin"] == 403
    assert report["echo"] == {"echo": "over a socket"}
    assert sorted(report["push"], key=json.dumps) == [{"pushed": "via @connections"}, {"sent": 1}]



# A lambda_handler.py like the repository's, imported as on Lambda (AWS_LAMBDA_FUNCTION_NAME set) without the
# 'lambda' extra: the cold start succeeds, uninstrumented, with one warning naming the extra.
COLD_START = """
import json, os
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tiny.settings")
from django.core.wsgi import get_wsgi_application
from django_aws_api_gateway_websockets import observability
from django_aws_api_gateway_websockets.lambda_adapter import make_websocket_handler

plain = make_websocket_handler(get_wsgi_application())
handler = observability.instrument(plain)
response = handler({"requestContext": "not an object"}, None)
print(json.dumps({"unchanged": handler is plain, "status": response["statusCode"]}))
"""


def test_fresh_virtualenv_on_lambda_without_the_lambda_extra(venv: Path, tiny_project: Path) -> None:
    script = tiny_project / "cold_start.py"
    script.write_text(COLD_START)
    env = clean_env(AWS_LAMBDA_FUNCTION_NAME="fn")
    result = subprocess.run([str(venv), str(script)], cwd=tiny_project, env=env, capture_output=True, text=True,
                            timeout=120, stdin=subprocess.DEVNULL)
    assert result.returncode == 0, result.stderr[-3000:]
    assert json.loads(result.stdout.splitlines()[-1]) == {"unchanged": True, "status": 400}
    warnings = [line for line in result.stderr.splitlines() if "Observability is off" in line]
    assert len(warnings) == 1 and "django-aws-api-gateway-websockets[lambda]" in warnings[0], result.stderr
