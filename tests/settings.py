"""Settings for the test suite: the demo project with fast, isolated defaults."""

from app.settings import *  # noqa: F403

ALLOWED_HOSTS = []  # as documented: Django's test runner adds 'testserver'
DEBUG = False
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}}
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "tests"}}
WEBSOCKETS = {
    "VIEW": "app.websocket_views.ChatView",
    "ENDPOINT_URL": None,
}
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "loggers": {"django_aws_api_gateway_websockets": {"level": "DEBUG"}},
}
