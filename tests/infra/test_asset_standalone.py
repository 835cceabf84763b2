"""The Lambda asset runs on its own: the same recipe, retargeted to this machine (CPython 3.13 when present,
else this Python), zipped and unzipped as the CDK CLI and Lambda do, then run by ``asset_runner.py`` with
ONLY the asset and a stand-in for the runtime's boto3 on ``sys.path``, the function's environment read from
the synthesized template, DynamoDB and Secrets Manager on moto and @connections on a local stand-in."""

from __future__ import annotations

import base64
import json
import os
import py_compile
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import boto3
import pytest
from django.test import override_settings

from django_aws_api_gateway_websockets import events, fanout
from django_aws_api_gateway_websockets.gateway.sqs_poller import sqs_event
from django_aws_api_gateway_websockets.store.dynamodb_schema import create_table_arguments
from infra import bundling
from tests.infra.conftest import ROOT, Assembly
from tests.infra.test_asset import cdk_style_zip

SECRET_KEY = "k" * 64  # the deployed function's SECRET_KEY, from its Secrets Manager secret

pytestmark = pytest.mark.infra

RUNNER = ROOT / "infra" / "asset_runner.py"
REGION = "eu-west-1"


def unzip_like_lambda(archive: bytes, into: Path) -> Path:
    """Extract, keeping the zip's timestamps (1980-01-01) on every file."""
    import io
    import time

    with zipfile.ZipFile(io.BytesIO(archive)) as zipped:
        for info in zipped.infolist():
            path = Path(zipped.extract(info, into))
            stamp = time.mktime((*info.date_time, 0, 0, -1))
            os.utime(path, (stamp, stamp))
    return into


def build_host_bundle(tmp_path_factory: pytest.TempPathFactory, *project: str) -> tuple[Path, str]:
    """A project's asset built for this machine (``python -m infra.bundling --host [--project NAME]``),
    through a CDK-style zip; with the interpreter to run it."""
    built = tmp_path_factory.mktemp("host-asset") / "build"
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    command = [sys.executable, "-m", "infra.bundling", str(built), "--host", *(("--project", *project) if project else ())]
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    target = bundling.host_target()
    assert target.interpreter is not None
    extracted = unzip_like_lambda(cdk_style_zip(built), built.parent / "var-task")
    return extracted, target.interpreter


@pytest.fixture(scope="session")
def host_bundle(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """The demo's asset built for this machine."""
    return build_host_bundle(tmp_path_factory)


def function_environment(assembly: Assembly, stack: str = "DjangoWebSockets-dev-App") -> dict[str, Any]:
    (function,) = [r["Properties"] for r in assembly.template(stack)["Resources"].values()
                   if r["Type"] == "AWS::Lambda::Function"]
    return dict(function["Environment"]["Variables"])


def run_asset(bundle: Path, interpreter: str, runtime: Path, environment: dict[str, str], sequence: list[Any],
              work: Path) -> tuple[dict[str, Any], subprocess.CompletedProcess[str]]:
    (work / "events.json").write_text(json.dumps(sequence))
    result_file = work / "result.json"
    process = subprocess.run([interpreter, "-I", "-S", "-B", str(RUNNER), str(bundle), str(runtime),
                              str(work / "events.json"), str(result_file)],
                             env=environment, capture_output=True, text=True, timeout=120, cwd=work)
    assert process.returncode == 0, process.stdout[-3000:] + process.stderr[-5000:]
    return json.loads(result_file.read_text()), process


@contextmanager
def standalone_environment(template_env: dict[str, Any], moto_server: str, endpoint_url: str, tmp_path: Path,
                           secret_key: str) -> Iterator[dict[str, str]]:
    """The function's environment as its template gives it (the values known before deploy), with what the
    template names created on moto for the block's duration (the table, the SECRET_KEY secret), @connections at
    ``endpoint_url``, and the variables the Lambda runtime sets."""
    environment = {k: v for k, v in template_env.items() if isinstance(v, str)}
    aws = {"endpoint_url": moto_server, "region_name": REGION}
    table, secret = environment["WEBSOCKETS_DYNAMODB_TABLE"], environment["DJANGO_SECRET_KEY_SECRET_ID"]
    boto3.client("dynamodb", **aws).create_table(**create_table_arguments(table))
    boto3.client("secretsmanager", **aws).create_secret(Name=secret, SecretString=secret_key)
    environment.update({
        "WEBSOCKETS_ENDPOINT_URL": endpoint_url,  # the local @connections stand-in
        "DJANGO_DB_PATH": str(tmp_path / "db.sqlite3"),  # /tmp/db.sqlite3 on Lambda
        "AWS_ENDPOINT_URL": moto_server, "AWS_REGION": REGION, "AWS_DEFAULT_REGION": REGION,
        "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_SESSION_TOKEN": "testing",
        "AWS_LAMBDA_FUNCTION_NAME": "standalone", "PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "LANG": "C.UTF-8",
    })
    try:
        yield environment
    finally:
        boto3.client("dynamodb", **aws).delete_table(TableName=table)
        boto3.client("secretsmanager", **aws).delete_secret(SecretId=secret, ForceDeleteWithoutRecovery=True)


def test_the_asset_handles_a_session_on_its_own(host_bundle: tuple[Path, str], runtime_stand_in: Path,
                                                assembly: Assembly, moto_server: str, fault_server: Any,
                                                tmp_path: Path) -> None:
    bundle, interpreter = host_bundle
    template_env = function_environment(assembly)
    tokens = {k for k, v in template_env.items() if not isinstance(v, str)}
    assert tokens == {"WEBSOCKETS_ENDPOINT_URL", "WEBSOCKETS_BROADCAST_QUEUE_URL",  # the values known at deploy time only
                      "WEBSOCKETS_BROADCAST_DEAD_LETTER_QUEUE_URL"}
    aws = {"endpoint_url": moto_server, "region_name": REGION}
    connection = events.Connection(api_id="a1b2c3d4e5", region=REGION, stage="dev")
    with override_settings(SECRET_KEY=SECRET_KEY):  # the function's key (from the secret) signs its chunks
        queued_chunk = fanout.sign_chunk(json.dumps({"v": 1, "id": "b", "to": {fault_server.url: [
            connection.connection_id]}, "payload": base64.b64encode(b'{"type":"queued"}').decode()}))
    sequence = [connection.connect_event(),
                connection.message_event(json.dumps({"action": "whoami"}), "whoami"),
                connection.message_event(json.dumps({"action": "join", "room": "lobby"}), "join"),
                connection.message_event(json.dumps({"action": "post", "room": "lobby", "text": "hi"}), "post"),
                sqs_event([{"MessageId": "chunk-1", "ReceiptHandle": "r", "Body": queued_chunk}],  # a queued chunk
                          "arn:aws:sqs:eu-west-1:1:q", REGION),
                connection.disconnect_event()]
    with standalone_environment(template_env, moto_server, fault_server.url, tmp_path, SECRET_KEY) as environment:
        queue_url = boto3.client("sqs", **aws).create_queue(QueueName=f"standalone-{tmp_path.name[-8:]}")["QueueUrl"]
        environment["WEBSOCKETS_BROADCAST_QUEUE_URL"] = queue_url
        try:
            result, process = run_asset(bundle, interpreter, runtime_stand_in, environment, sequence, tmp_path)
        finally:
            boto3.client("sqs", **aws).delete_queue(QueueUrl=queue_url)

    assert result["responses"].pop(4) == {"batchItemFailures": []}  # the SQS batch
    statuses = [response["statusCode"] for response in result["responses"]]
    assert statuses == [200] * 5, result["responses"]
    assert json.loads(result["responses"][3]["body"])["sent"] == 1
    # Nothing outside the asset and the runtime's stand-in was imported; nothing was compiled from source.
    assert result["site_packages"] == [] and result["modules_outside"] == []
    assert result["compiled"] == [], result["compiled"][:20]
    # The broadcasts reached the @connections stand-in, signed with SigV4 for execute-api.
    posted = [json.loads(body) for body in fault_server.received[connection.connection_id]]
    assert [p["type"] for p in posted] == ["presence", "message", "queued"]  # the join announced (presence)
    authorization = fault_server.headers[-1]["Authorization"]
    assert authorization.startswith("AWS4-HMAC-SHA256 Credential=testing/")
    assert f"/{REGION}/execute-api/aws4_request" in authorization
    # One JSON log line per event with its keys, and EMF metrics, on stdout.
    lines = [json.loads(line) for line in process.stdout.splitlines() if line.startswith("{")]
    logs = [line for line in lines if line.get("message", "").endswith(" event")]
    assert [(log["event_type"], log["route"], log["status"]) for log in logs] == [
        ("connect", "$connect", 200), ("message", "whoami", 200), ("message", "join", 200),
        ("message", "post", 200), ("sqs", "", 200), ("disconnect", "$disconnect", 200)]
    assert logs[4]["records"] == "1" and logs[4]["batch_item_failures"] == 0
    del logs[4]
    assert {log["connection_id"] for log in logs} == {connection.connection_id}
    assert all(log["request_id"] and log["lambda_request_id"] and log["service"] == "DjangoWebSockets-dev-App"
               for log in logs)
    metrics = {name for line in lines if "_aws" in line
               for directive in line["_aws"]["CloudWatchMetrics"] for name in (m["Name"] for m in directive["Metrics"])}
    assert {"ColdStart", "Connects", "Messages", "BroadcastSent", "Disconnects", "QueueChunks"} <= metrics


def test_timestamp_bytecode_would_be_ignored_after_the_zip(tmp_path: Path, host_bundle: tuple[Path, str]) -> None:
    """Why the recipe ships unchecked-hash bytecode: a timestamp .pyc records its source's mtime, which the
    1980 zip timestamps replace, so Python recompiles; an unchecked-hash .pyc is used as is."""
    _bundle, interpreter = host_bundle
    compiled = {}
    for mode in (py_compile.PycInvalidationMode.TIMESTAMP, py_compile.PycInvalidationMode.UNCHECKED_HASH):
        built = tmp_path / mode.name / "build"
        built.mkdir(parents=True)
        (built / "probe.py").write_text("VALUE = 1\n")
        subprocess.run([interpreter, "-c", f"import py_compile; py_compile.compile('probe.py', "
                                           f"invalidation_mode=py_compile.PycInvalidationMode.{mode.name})"],
                       cwd=built, check=True)
        extracted = unzip_like_lambda(cdk_style_zip(built), tmp_path / mode.name / "task")
        check = (f"import sys, importlib._bootstrap_external as b; sys.path.insert(0, {str(extracted)!r}); seen = []; "
                 "original = b.SourceLoader.source_to_code; "
                 "b.SourceLoader.source_to_code = lambda self, *a, **k: seen.append(1) or original(self, *a, **k); "
                 "import probe; print(len(seen))")
        output = subprocess.run([interpreter, "-I", "-S", "-B", "-c", check], capture_output=True, text=True, check=True)
        compiled[mode.name] = int(output.stdout)
    assert compiled == {"TIMESTAMP": 1, "UNCHECKED_HASH": 0}
