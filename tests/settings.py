"""Settings for the test suite: the demo project with fast, isolated defaults."""

import os

# app.settings refuses to start with DEBUG off and no key: give it one for this import only (subprocesses
# the tests start must not inherit it by accident).
_had_key = "DJANGO_SECRET_KEY" in os.environ
os.environ.setdefault("DJANGO_SECRET_KEY", "tests-only-secret-key-not-used-anywhere-else-0123456789")
from app.settings import *  # noqa: E402, F403

if not _had_key:
    del os.environ["DJANGO_SECRET_KEY"]

# The shared secret the HTTP-integration-mode tests send (tests/helpers.GatewayPoster), as API Gateway would.
TEST_SECRET = "tests-integration-secret-0123456789"

ALLOWED_HOSTS = []  # as documented: Django's test runner adds 'testserver'
DEBUG = False
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}}
if os.environ.get("DAWSWS_TEST_DATABASE"):  # tests/test_store_contract_postgresql.py: the suite on PostgreSQL
    import json

    DATABASES = {"default": json.loads(os.environ["DAWSWS_TEST_DATABASE"])}
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "tests"}}
WEBSOCKETS = {
    "VIEW": "app.websocket_views.ChatView",
    "ENDPOINT_URL": None,
    # The HTTP-integration-mode tests (tests/helpers.GatewayPoster) send it, as API Gateway would.
    "SHARED_SECRETS": [TEST_SECRET],
}
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "loggers": {"django_aws_api_gateway_websockets": {"level": "DEBUG"}},
}
