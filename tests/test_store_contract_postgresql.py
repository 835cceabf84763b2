"""The connection store contract (tests/test_store_contract.py) for the ORM store on PostgreSQL: the same tests,
run by pytest in a subprocess whose default database is a uniquely named PostgreSQL database (created by
pytest-django as test_<name> and dropped after)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

from tests.services import Postgres, unique_name

ROOT = Path(__file__).resolve().parents[1]


def test_the_orm_store_keeps_the_contract_on_postgresql(postgres: Postgres) -> None:
    name = unique_name("dawsws_contract")
    database = {"ENGINE": "django.db.backends.postgresql", "NAME": name, "HOST": postgres.host,
                "PORT": postgres.port, "USER": postgres.user, "TEST": {"NAME": f"test_{name}"}}
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
    env["DAWSWS_TEST_DATABASE"] = json.dumps(database)
    try:
        result = subprocess.run([sys.executable, "-m", "pytest", "tests/test_store_contract.py", "-vv", "-s", "-p",
                                 "no:randomly", "-p", "no:cacheprovider", "-k", "orm and not dynamodb"],
                                cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    finally:
        with postgres.connect() as conn:  # normally dropped by pytest-django already
            conn.execute(f'DROP DATABASE IF EXISTS "test_{name}" WITH (FORCE)')
    summary = result.stdout.strip().splitlines()[-1] if result.stdout.strip() else ""
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    passed = re.search(r"(\d+) passed", summary)
    assert passed and int(passed.group(1)) >= 20 and "skipped" not in summary, summary
    # Django says where it made the test database (-vv, -s): the PostgreSQL one, not the suite's SQLite.
    assert f"Creating test database for alias 'default' ('test_{name}')" in result.stdout + result.stderr
