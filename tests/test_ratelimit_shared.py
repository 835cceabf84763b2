"""Connect rate limits shared by every process: counters in the DynamoDB table (Lambda, no VPC) or in Redis
through Django's cache (servers). Several real processes hit one key at once; together they get exactly
the limit. With LocMemCache each process gets the limit on its own (the old default; ``check --deploy`` warns)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.test import override_settings

from django_aws_api_gateway_websockets.checks import check_shared_rate_limits
from django_aws_api_gateway_websockets.testing import WebSocketTestClient
from tests.services import redis_server, unique_name

ROOT = Path(__file__).resolve().parents[1]
PROCESSES, HITS, LIMIT = 4, 15, 25  # 60 attempts at once, 25 allowed


@pytest.fixture(scope="module")
def redis_url() -> Iterator[str]:
    with redis_server() as url:
        yield url


def hammer(settings: dict[str, Any]) -> list[int]:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.races.settings", "RACE_SETTINGS": json.dumps(settings),
           "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}
    start_at = time.time() + 2.5  # after every process has imported Django
    workers = [subprocess.Popen([sys.executable, "-m", "tests.races.limiter", str(HITS), str(start_at)], cwd=ROOT,
                                env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
               for _ in range(PROCESSES)]
    counts = []
    for worker in workers:
        out, err = worker.communicate(timeout=120)
        assert worker.returncode == 0, err[-2000:]
        counts.append(int(out.strip().splitlines()[-1]))
    return counts


def sqlite(tmp_path: Path) -> dict[str, Any]:
    return {"ENGINE": "django.db.backends.sqlite3", "NAME": str(tmp_path / "unused.sqlite3")}


def test_dynamodb_limiter_is_shared_by_processes(tmp_path: Path, moto_server: str, dynamodb_table: str) -> None:
    counts = hammer({"DATABASES": {"default": sqlite(tmp_path)}, "WEBSOCKETS": {
        "RATE_LIMITER": "django_aws_api_gateway_websockets.ratelimit.DynamoDBRateLimiter",
        "DYNAMODB_TABLE": dynamodb_table, "DYNAMODB_ENDPOINT_URL": moto_server}})
    assert sum(counts) == LIMIT, counts


def test_redis_cache_limiter_is_shared_by_processes(tmp_path: Path, redis_url: str) -> None:
    caches = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": redis_url,
                          "KEY_PREFIX": unique_name("dawsws_rl")}}
    counts = hammer({"DATABASES": {"default": sqlite(tmp_path)}, "CACHES": caches})
    assert sum(counts) == LIMIT, counts


def test_check_deploy_warns_about_per_process_counters() -> None:
    assert [m.id for m in check_shared_rate_limits()] == ["django_aws_api_gateway_websockets.W003"]  # LocMemCache
    with override_settings(WEBSOCKETS={"RATE_LIMITER": "django_aws_api_gateway_websockets.ratelimit.DynamoDBRateLimiter"}):
        assert check_shared_rate_limits() == []
    with override_settings(CACHES={"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                                               "LOCATION": "redis://127.0.0.1:1/0"}}):
        assert check_shared_rate_limits() == []


@pytest.mark.django_db
def test_connects_through_the_handler_are_limited_in_dynamodb(dynamodb_settings: dict[str, Any]) -> None:
    settings = {**dynamodb_settings, "RATE_LIMITER": "django_aws_api_gateway_websockets.ratelimit.DynamoDBRateLimiter",
                "CONNECT_RATE_LIMIT_PER_IP": "3/minute"}
    with override_settings(WEBSOCKETS=settings):
        codes = [WebSocketTestClient(source_ip="198.51.100.20").connect().status_code for _ in range(5)]
        other = WebSocketTestClient(source_ip="198.51.100.21").connect().status_code
    assert codes == [200, 200, 200, 429, 429] and other == 200
