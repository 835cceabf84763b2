"""Settings of the Channels tutorial's ``mysite``, for API Gateway + Lambda instead of Daphne + Redis.

Everything above "Serverless" is a stock ``startproject`` settings file with the tutorial's additions; the
block at the end is the whole difference (``daphne`` is not in INSTALLED_APPS: no ASGI server runs).
"""

import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "django-insecure-channels-tutorial-example-only-0123456789")
DEBUG = os.environ.get("DJANGO_DEBUG", "1") == "1"
ALLOWED_HOSTS = [h for h in os.environ.get("DJANGO_ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]").split(",") if h]

INSTALLED_APPS = [
    "chat",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "mysite.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

WSGI_APPLICATION = "mysite.wsgi.application"

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("DJANGO_DB_PATH", str(BASE_DIR / "db.sqlite3")),
    }
}

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
STATIC_URL = "static/"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Channels
ASGI_APPLICATION = "mysite.asgi.application"

# ------------------------------------------------------------------------------------------------------------
# Serverless: API Gateway holds the sockets, every event is a request to this project (Lambda or the local
# gateway, `python manage.py runwsgateway`).
# ------------------------------------------------------------------------------------------------------------
INSTALLED_APPS += ["django_aws_api_gateway_websockets"]

# On AWS the CDK construct keeps the key in Secrets Manager and names the secret (read once, at cold start).
if os.environ.get("DJANGO_SECRET_KEY_SECRET_ID"):
    import boto3

    SECRET_KEY = boto3.client("secretsmanager").get_secret_value(
        SecretId=os.environ["DJANGO_SECRET_KEY_SECRET_ID"])["SecretString"]

# The languages the site serves: the Lambda asset keeps only their translations (infra/bundling.py).
LANGUAGES = [("en", "English")]

# Locally, the gateway runs up to 16 events at once on SQLite: WAL lets readers and the writer overlap, and
# IMMEDIATE transactions wait for the write lock instead of failing with "database is locked".
DATABASES["default"]["OPTIONS"] = {"transaction_mode": "IMMEDIATE",
                                   "init_command": "PRAGMA journal_mode=WAL; PRAGMA busy_timeout=5000;"}

# The tutorial's channels_redis layer, replaced: groups live in the connection store, group_send runs the
# members' handlers at once and posts through API Gateway's @connections API.
CHANNEL_LAYERS = {
    "default": {"BACKEND": "django_aws_api_gateway_websockets.channels_compat.ChannelLayer"},
}

WEBSOCKETS = {
    "VIEW": "django_aws_api_gateway_websockets.channels_compat.ChannelsWebSocketView",
    # mysite/urls.py stays as it was: the WebSocket event URLs are served next to it.
    "CHANNELS_URLCONF": "mysite.urls",
    # The synchronous ChatConsumer instead of the asynchronous one: CHAT_CONSUMER=sync. (Default: None, the
    # websocket routes of ASGI_APPLICATION.)
    "CHANNELS_APPLICATION": "mysite.sync_asgi.application" if os.environ.get("CHAT_CONSUMER") == "sync" else None,
    # Set on AWS by the CDK construct (and by tests replaying events): where @connections lives, the store.
    "ENDPOINT_URL": os.environ.get("WEBSOCKETS_ENDPOINT_URL") or None,
    "STORE": os.environ.get("WEBSOCKETS_STORE", "django_aws_api_gateway_websockets.store.orm.OrmStore"),
    "DYNAMODB_TABLE": os.environ.get("WEBSOCKETS_DYNAMODB_TABLE") or None,
    "TOKEN_USERS": os.environ.get("WEBSOCKETS_TOKEN_USERS", "database"),
}
ROOT_URLCONF = "django_aws_api_gateway_websockets.channels_compat.urls"
