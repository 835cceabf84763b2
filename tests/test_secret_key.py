"""The demo project's SECRET_KEY: never a known key with DEBUG off (in claims mode anybody could mint
connect tokens with it). Settings are imported in fresh processes, as a server or a Lambda would."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHOW_KEY = "import django; django.setup(); from django.conf import settings; print(settings.SECRET_KEY)"


def run(code: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "PYTEST"))}
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60,
                          env={**clean, "DJANGO_SETTINGS_MODULE": "app.settings", **env})


def test_refuses_to_start_without_a_key_when_debug_is_off() -> None:
    for debug in ({}, {"DJANGO_DEBUG": "0"}, {"DJANGO_DEBUG": "false"}):
        result = run(SHOW_KEY, **debug)
        assert result.returncode != 0
        assert "ImproperlyConfigured" in result.stderr and "DJANGO_SECRET_KEY" in result.stderr
    empty = run(SHOW_KEY, DJANGO_SECRET_KEY="")
    assert empty.returncode != 0 and "DJANGO_SECRET_KEY" in empty.stderr


def test_a_configured_key_or_debug_starts() -> None:
    configured = run(SHOW_KEY, DJANGO_SECRET_KEY="k" * 60)
    assert configured.returncode == 0 and configured.stdout.strip() == "k" * 60
    debug = run(SHOW_KEY, DJANGO_DEBUG="1")
    assert debug.returncode == 0 and debug.stdout.strip().startswith("django-insecure-")


def test_check_deploy_flags_the_development_key_with_debug_off() -> None:
    from app.env import DEVELOPMENT_SECRET_KEY

    check = "import django; django.setup(); from django.core.management import call_command; " \
            "call_command('check', '--deploy', '--fail-level', 'CRITICAL')"
    flagged = run(check, DJANGO_SECRET_KEY=DEVELOPMENT_SECRET_KEY)
    assert flagged.returncode == 0, flagged.stderr[-2000:]
    assert "security.W009" in flagged.stderr + flagged.stdout
    fine = run(check, DJANGO_SECRET_KEY="a-long-random-production-key-" + "x9Y8z7W6v5" * 5)
    assert "security.W009" not in fine.stderr + fine.stdout
