"""Asset rows: the Lambda asset's cold start (import ``lambda_handler`` + the first ``$connect``), run on its own
the way the Lambda runtime runs it (``infra/asset_runner.py``: only the asset and the runtime's boto3 on
``sys.path``, nothing written back), under the Lambda's CPython (3.13) when this machine has it.

Three variants of the same asset, interleaved run by run: as shipped (3.13 bytecode, Powertools on, as on
Lambda), sources only (no bytecode: every module compiled at each cold start, as when no 3.13 was found at
build time) and with observability off (no Powertools import): the last gives Powertools' cold-start cost.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RUNNER = ROOT / "infra" / "asset_runner.py"


def _build(work: Path) -> tuple[Path, Path, str]:
    shipped = work / "asset"
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    subprocess.run([sys.executable, "-m", "infra.bundling", str(shipped), "--host"], cwd=ROOT, env=env, check=True,
                   capture_output=True)
    sources_only = work / "asset-sources-only"
    shutil.copytree(shipped, sources_only, ignore=shutil.ignore_patterns("__pycache__"))
    from infra.bundling import host_target

    interpreter = host_target().interpreter
    assert interpreter is not None
    return shipped, sources_only, interpreter


def _runtime(work: Path, interpreter: str) -> Path:
    """boto3 and co. with bytecode for the interpreter, as the Lambda runtime ships them."""
    import botocore

    from infra.asset_runner import runtime_stand_in
    from infra.bundling import RUNTIME_PROVIDED_MODULES

    return runtime_stand_in(work / "runtime", Path(botocore.__file__).resolve().parents[1], RUNTIME_PROVIDED_MODULES,
                            interpreter)


def run(runs: int = 5) -> dict[str, Any]:
    import logging

    import boto3
    from moto.server import ThreadedMotoServer

    from django_aws_api_gateway_websockets.events import Connection
    from django_aws_api_gateway_websockets.store.dynamodb_schema import create_table_arguments

    work = Path(tempfile.mkdtemp(prefix="dawsws-asset-"))
    shipped, sources_only, interpreter = _build(work)
    runtime = _runtime(work, interpreter)
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    try:
        boto3.client("dynamodb", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="testing",
                     aws_secret_access_key="testing").create_table(
            **create_table_arguments("bench-connections"))
        base_env = {
            "DJANGO_SETTINGS_MODULE": "app.settings", "DJANGO_DEBUG": "0", "DJANGO_SECRET_KEY": "b" * 50,
            "DJANGO_DB_PATH": str(work / "db.sqlite3"), "POWERTOOLS_SERVICE_NAME": "bench",
            "WEBSOCKETS_STORE": "django_aws_api_gateway_websockets.store.dynamodb.DynamoDBStore",
            "WEBSOCKETS_DYNAMODB_TABLE": "bench-connections", "WEBSOCKETS_TOKEN_USERS": "claims",
            "WEBSOCKETS_ENDPOINT_URL": "http://127.0.0.1:9", "AWS_ENDPOINT_URL": endpoint, "AWS_REGION": "us-east-1",
            "AWS_DEFAULT_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_LAMBDA_FUNCTION_NAME": "bench", "PATH": "/usr/bin:/bin", "HOME": str(work),
        }
        variants = {"shipped": (shipped, {}), "sources_only": (sources_only, {}),
                    "no_powertools": (shipped, {"WEBSOCKETS_OBSERVABILITY": "0"})}
        events_file = work / "events.json"
        results: dict[str, list[float]] = {name: [] for name in variants}
        python = ""
        for number in range(runs + 1):
            events_file.write_text(json.dumps([Connection(api_id="bench00003").connect_event()]))
            for name, (bundle, extra) in variants.items():
                result_file = work / f"{name}.json"
                subprocess.run([interpreter, "-I", "-S", "-B", str(RUNNER), str(bundle), str(runtime),
                                str(events_file), str(result_file)], env={**base_env, **extra}, check=True,
                               capture_output=True, cwd=work)
                result = json.loads(result_file.read_text())
                assert result["responses"][0]["statusCode"] == 200, result["responses"]
                python = result["python"]
                if number:  # the first round warms the OS file cache
                    results[name].append(result["cold_start_ms"])
    finally:
        server.stop()
        shutil.rmtree(work, ignore_errors=True)
    return {"python": python, **{name: statistics.median(values) for name, values in results.items()}}
