"""A Channels project deployed with the same construct and bundle: examples/channels_tutorial as cdk.json's
project ``channels-tutorial``, synthesized once through the pinned CLI with a concrete account, and its asset
(the same recipe for this machine) run on its own: two sockets in the tutorial's room, a chat message the
consumer group_sends to the other member through the local @connections stand-in, and both disconnects."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest

from django_aws_api_gateway_websockets import events
from tests.infra.conftest import ACCOUNT, REGION, ROOT, Assembly, cli_env, run_cdk, tail
from tests.infra.test_asset import cdk_style_zip, copy_hashed_paths, files
from tests.infra.test_asset_standalone import build_host_bundle, function_environment, run_asset, standalone_environment

pytestmark = pytest.mark.infra

APP, STATEFUL = "ChannelsTutorial-dev-App", "ChannelsTutorial-dev-Stateful"


@pytest.fixture(scope="module")
def channels_assembly(tmp_path_factory: pytest.TempPathFactory) -> Assembly:
    """``cdk synth -c project=channels-tutorial`` (dev), as the README's deploy steps run it, with an account."""
    out = tmp_path_factory.mktemp("cdk-channels") / "cdk.out"
    result = run_cdk("synth", "-c", "project=channels-tutorial", "-c", "environment=dev", "--output", str(out),
                     "--quiet", env=cli_env(CDK_DEFAULT_ACCOUNT=ACCOUNT, AWS_REGION=REGION))
    assert result.returncode == 0, f"cdk synth failed:\n{tail(result)}"
    return Assembly(out, result.stdout + result.stderr)


def of_type(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {k: r["Properties"] for k, r in template["Resources"].items() if r["Type"] == kind}


def test_the_tutorial_gets_its_own_stacks_connect_disconnect_and_a_two_way_default(
        channels_assembly: Assembly) -> None:
    stacks = channels_assembly.stacks()
    assert set(stacks) == {STATEFUL, APP}
    assert {s["environment"] for s in stacks.values()} == {f"aws://{ACCOUNT}/{REGION}"}
    template = channels_assembly.template(APP)
    routes = of_type(template, "AWS::ApiGatewayV2::Route")
    assert sorted(r["RouteKey"] for r in routes.values()) == ["$connect", "$default", "$disconnect"]
    assert len({str(r["Target"]) for r in routes.values()}) == 1
    assert len(of_type(template, "AWS::ApiGatewayV2::Integration")) == 1
    (response,) = of_type(template, "AWS::ApiGatewayV2::RouteResponse").values()
    (default_id,) = [k for k, r in routes.items() if r["RouteKey"] == "$default"]
    assert response["RouteId"] == {"Ref": default_id}  # the consumer's last frame can be the route's reply
    assert channels_assembly.nag_report["conclusion"] == "success"


def test_the_function_runs_the_tutorial_with_its_settings(channels_assembly: Assembly) -> None:
    template = channels_assembly.template(APP)
    (function,) = of_type(template, "AWS::Lambda::Function").values()
    env = function["Environment"]["Variables"]
    assert function["Handler"] == "lambda_handler.handler"
    assert env["DJANGO_SETTINGS_MODULE"] == "mysite.settings"
    assert env["WEBSOCKETS_DYNAMODB_TABLE"] == f"{STATEFUL}-connections"
    assert env["DJANGO_SECRET_KEY_SECRET_ID"] == f"{STATEFUL}/django-secret-key"
    assert "WEBSOCKETS_ENDPOINT_URL" in env  # where the channel layer posts
    assert "execute-api:ManageConnections" in json.dumps(of_type(template, "AWS::IAM::Policy"))


def test_the_asset_is_the_tutorial_with_channels_and_not_the_demo(channels_assembly: Assembly) -> None:
    asset = channels_assembly.asset_dir()
    for present in ("chat/consumers.py", "chat/templates/chat/room.html", "mysite/settings.py", "mysite/asgi.py",
                    "lambda_handler.py", "django_aws_api_gateway_websockets", "channels", "aws_lambda_powertools"):
        assert (asset / present).exists(), present
    for absent in ("app", "examples", "manage.py", "db.sqlite3", "requirements.txt", "boto3", "tests"):
        assert not (asset / absent).exists(), absent
    zipped = len(cdk_style_zip(asset))
    print(f"\nChannels tutorial asset: {zipped / 1e6:.2f} MB zipped, {len(files(asset))} files")
    assert zipped <= 10_000_000


def test_the_tutorial_asset_hash_follows_its_code_and_its_lock(tmp_path: Path) -> None:
    from aws_cdk import FileSystem

    from infra import bundling
    from infra.config import cdk_json_context, selected_project

    project = selected_project({**cdk_json_context(), "project": "channels-tutorial"})
    exclude = bundling.asset_exclude(project)

    def fingerprint(path: Path) -> str:
        return FileSystem.fingerprint(str(path), exclude=exclude)

    copy = copy_hashed_paths(project, tmp_path / "project")
    original = fingerprint(copy)
    assert original == fingerprint(ROOT)  # exactly these paths feed the hash: not app/, manage.py, the demo's lock
    shutil.copy2(ROOT / "examples/channels_tutorial/manage.py", copy / "examples/channels_tutorial/manage.py")
    (copy / "app").mkdir()
    (copy / "app" / "settings.py").write_text("DEBUG = True")
    assert fingerprint(copy) == original
    consumers = copy / "examples/channels_tutorial/chat/consumers.py"
    consumers.write_text(consumers.read_text() + "\n# changed\n")
    changed = fingerprint(copy)
    assert changed != original
    lock = copy / project.lock
    lock.write_text(re.sub(r"^channels==\S+", "channels==4.0.0", lock.read_text(), flags=re.MULTILINE))
    assert fingerprint(copy) != changed


def test_the_tutorial_asset_chats_on_its_own(channels_assembly: Assembly, runtime_stand_in: Path,
                                             tmp_path_factory: pytest.TempPathFactory, moto_server: str,
                                             fault_server: Any, tmp_path: Path) -> None:
    bundle, interpreter = build_host_bundle(tmp_path_factory, "channels-tutorial")
    template_env = function_environment(channels_assembly, APP)
    alice, bob = (events.Connection(api_id="c1h2a3t4e5", region=REGION, stage="dev") for _ in range(2))
    # As the README's wscat steps: the consumer's route in ?path=, an Origin the tutorial's
    # AllowedHostsOriginValidator accepts (its ALLOWED_HOSTS: localhost).
    room = {"path": "/ws/chat/lobby/"}
    sequence = [alice.connect_event({"Origin": "http://localhost"}, room),
                bob.connect_event({"Origin": "http://localhost"}, room),
                alice.message_event(json.dumps({"message": "hello from the asset"})),
                alice.disconnect_event(), bob.disconnect_event()]
    with standalone_environment(template_env, moto_server, fault_server.url, tmp_path, "t" * 64) as environment:
        result, process = run_asset(bundle, interpreter, runtime_stand_in, environment, sequence, tmp_path)

    responses = result["responses"]
    assert [r["statusCode"] for r in responses] == [200] * 5, responses
    # The sender's copy is its $default reply; the other member's went through @connections, signed.
    assert json.loads(responses[2]["body"]) == {"message": "hello from the asset"}
    assert [json.loads(body) for body in fault_server.received[bob.connection_id]] == [
        {"message": "hello from the asset"}]
    assert alice.connection_id not in fault_server.received
    assert fault_server.headers[-1]["Authorization"].startswith("AWS4-HMAC-SHA256 Credential=testing/")
    # Nothing outside the asset and the runtime's stand-in; nothing compiled from source.
    assert result["site_packages"] == [] and result["modules_outside"] == []
    assert result["compiled"] == [], result["compiled"][:20]
    # Instrumented (Powertools is in the tutorial's lock): one JSON line per event.
    lines = [json.loads(line) for line in process.stdout.splitlines() if line.startswith("{")]
    logged = [(line["event_type"], line["status"]) for line in lines if line.get("message", "").endswith(" event")]
    assert logged == [("connect", 200), ("connect", 200), ("message", 200), ("disconnect", 200),
                      ("disconnect", 200)]
