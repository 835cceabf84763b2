"""Benchmark settings: the demo project plus a bare JSON view for baselines."""

import os

os.environ.setdefault("DJANGO_SECRET_KEY", "benchmarks-only-secret-key-0123456789-0123456789")
from app.settings import *  # noqa: E402, F403

ROOT_URLCONF = "benchmarks.urls"
LOGGING = {"version": 1, "disable_existing_loggers": False, "root": {"level": "WARNING"}}
WEBSOCKETS = {**WEBSOCKETS, "CONNECT_RATE_LIMIT_PER_IP": None, "CONNECT_RATE_LIMIT_PER_USER": None,  # noqa: F405
              "VIEW": "benchmarks.views.BenchView"}  # the demo's routes plus an async echo
# The bare baseline has no adapter to trust API Gateway's host: list it by hand, as its users must.
ALLOWED_HOSTS = [*ALLOWED_HOSTS, ".execute-api.us-east-1.amazonaws.com"]  # noqa: F405
