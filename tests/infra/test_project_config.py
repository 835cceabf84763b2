"""cdk.json's ``project`` / ``projects``: which Django project the function runs (infra.config.ProjectConfig),
checked before anything is synthesized, and one lock file per project from scripts/lock."""

from __future__ import annotations

import re
import sys
from typing import Any

import pytest

from infra import bundling, lock
from infra.config import ProjectConfig, cdk_json_context, selected_project
from tests.infra.conftest import ROOT

pytestmark = pytest.mark.infra


def tutorial() -> ProjectConfig:
    return selected_project({**cdk_json_context(), "project": "channels-tutorial"})


def test_the_demo_is_the_default_and_the_tutorial_is_a_project_of_cdk_json() -> None:
    assert selected_project(cdk_json_context()) == ProjectConfig() == bundling.DEMO
    assert bundling.PROJECT_CODE == ("django_aws_api_gateway_websockets", "app", "lambda_handler.py")
    project = tutorial()
    assert project.settings_module == "mysite.settings" and project.stack_prefix == "ChannelsTutorial"
    assert project.authorizer_handler is None
    assert project.import_roots == (ROOT, ROOT / "examples" / "channels_tutorial")
    with pytest.raises(ValueError, match=r"Unknown project 'nope'; cdk.json defines \['channels-tutorial', 'demo'\]"):
        selected_project({**cdk_json_context(), "project": "nope"})


@pytest.mark.parametrize("values, message", [
    ({"settings": "x.settings"}, r"Unknown settings for project 'p': \['settings'\]"),
    ({"code": "app"}, "code is a list of paths"),
    ({"code": ["lambda_handler.py", "tests/channels/../../app"]}, "must be a path inside"),
    ({"code": ["/etc"]}, "must be a path inside"),
    ({"code": ["app", "missing_dir"]}, "'missing_dir' does not exist"),
    ({"code": ["app", "tests/infra/conftest.py", "tests/conftest.py"]}, "land on the same name"),
    ({"settingsModule": "settings"}, "settingsModule 'settings' is not a dotted name"),
    ({"code": ["app", "lambda_handler.py"], "settingsModule": "mysite.settings"},
     "settingsModule 'mysite.settings' is not in the project's code"),
    ({"lock": "requirements-lambda.lock.missing"}, "does not exist"),
])
def test_a_project_that_would_build_a_broken_asset_is_refused(values: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ProjectConfig.from_context("p", values)


def test_activate_makes_the_project_importable_with_its_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "path", list(sys.path))
    monkeypatch.setenv("DJANGO_SETTINGS_MODULE", "tests.settings")  # a shell's leftover must not win
    tutorial().activate()
    import os

    assert os.environ["DJANGO_SETTINGS_MODULE"] == "mysite.settings"
    assert str(ROOT / "examples" / "channels_tutorial") in sys.path


def test_the_tutorial_is_refused_where_an_environment_wants_the_connect_authorizer() -> None:
    import aws_cdk as cdk
    from aws_cdk import aws_lambda as lambda_

    from infra.config import EnvironmentConfig
    from infra.routes import ApiRoutes
    from infra.stacks import ApplicationStack, StatefulStack

    app = cdk.App()
    config = EnvironmentConfig.from_context("staging", cdk_json_context()["environments"]["staging"])
    stateful = StatefulStack(app, "S", config=config)
    with pytest.raises(ValueError, match="'staging' has connectAuthorizer, but project 'channels-tutorial' has no "
                                         "authorizerHandler"):
        ApplicationStack(app, "A", config=config, routes=ApiRoutes("action", ()), stateful=stateful,
                         project=tutorial(), code=lambda_.Code.from_inline("def handler(e, c):\n    return {}\n"))


def test_scripts_lock_locks_every_project_and_the_tutorial_lock_is_the_demos_plus_channels() -> None:
    assert lock.locks() == [("requirements.txt", "requirements-lambda.lock"),
                            ("examples/channels_tutorial/requirements.txt",
                             "examples/channels_tutorial/requirements-lambda.lock")]
    command = lock.uv_command(requirements="r.txt", lock="r.lock")
    assert command[command.index("compile") + 1] == "r.txt" and command[command.index("--output-file") + 1] == "r.lock"

    def pins(path: str) -> dict[str, str]:
        return dict(re.findall(r"^([A-Za-z0-9._-]+)==(\S+) \\", (ROOT / path).read_text(), re.MULTILINE))

    demo, channels = pins("requirements-lambda.lock"), pins("examples/channels_tutorial/requirements-lambda.lock")
    assert "channels" not in demo  # the demo's asset stays lean
    assert set(channels) - set(demo) == {"channels"}
    assert {name: channels[name] for name in demo} == demo  # the same versions: one resolution, plus Channels
