"""Settings of the demo project; every value can be set from the environment.

Local defaults are safe: DEBUG off, SQLite next to the project, only local hosts allowed.
"""

from __future__ import annotations

from pathlib import Path

from .env import env_bool, env_list, env_optional, env_rate, env_str, secret_key

BASE_DIR = Path(__file__).resolve().parent.parent

DEBUG = env_bool("DJANGO_DEBUG", False)
SECRET_KEY = secret_key(debug=DEBUG)  # refuses to start without a key when DEBUG is off
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_aws_api_gateway_websockets",
    "app",
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

ROOT_URLCONF = "app.urls"
WSGI_APPLICATION = "app.wsgi.application"

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
            ]
        },
    }
]

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": env_str("DJANGO_DB_PATH", str(BASE_DIR / "db.sqlite3")),
        # Keep the connection for the life of the process (a Lambda container, a gateway worker thread):
        # opening and closing SQLite around every WebSocket message costs more than the message itself.
        "CONN_MAX_AGE": None,
        "OPTIONS": {
            # WAL lets the local gateway's worker threads read while one writes; NORMAL sync skips an fsync
            # per commit (a crash can lose the last commits, never corrupt the file). IMMEDIATE avoids
            # "database is locked" on write upgrades.
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=5000;",
            "transaction_mode": "IMMEDIATE",
        },
    }
}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]

LANGUAGE_CODE = "en-us"
# The languages the site serves; the Lambda asset keeps only their translations (infra/bundling.py).
LANGUAGES = [("en", "English")]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
STATIC_URL = "static/"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
LOGIN_URL = "/login/"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/"

WEBSOCKETS = {
    "VIEW": "app.websocket_views.ChatView",
    "STORE": env_str("WEBSOCKETS_STORE", "django_aws_api_gateway_websockets.store.orm.OrmStore"),
    "ENDPOINT_URL": env_optional("WEBSOCKETS_ENDPOINT_URL"),
    "ALLOWED_ORIGINS": env_list("WEBSOCKETS_ALLOWED_ORIGINS", []) or None,
    "CONNECT_RATE_LIMIT_PER_IP": env_rate("WEBSOCKETS_CONNECT_RATE_LIMIT_PER_IP", "60/minute"),
    "CONNECT_RATE_LIMIT_PER_USER": env_rate("WEBSOCKETS_CONNECT_RATE_LIMIT_PER_USER", "30/minute"),
    "RATE_LIMITER": env_str("WEBSOCKETS_RATE_LIMITER", "django_aws_api_gateway_websockets.ratelimit.CacheRateLimiter"),
    "DYNAMODB_TABLE": env_optional("WEBSOCKETS_DYNAMODB_TABLE"),
    "DYNAMODB_ENDPOINT_URL": env_optional("WEBSOCKETS_DYNAMODB_ENDPOINT_URL"),
    "API_MAPPING_KEY": env_str("WEBSOCKETS_API_MAPPING_KEY", ""),
    "TOKEN_USERS": env_str("WEBSOCKETS_TOKEN_USERS", "database"),
    # Big broadcasts through SQS (the CDK stack sets the queue; locally a moto server can stand in for SQS).
    "BROADCAST_QUEUE_URL": env_optional("WEBSOCKETS_BROADCAST_QUEUE_URL"),
    "BROADCAST_QUEUE_THRESHOLD": int(env_str("WEBSOCKETS_BROADCAST_QUEUE_THRESHOLD", "1000")),
    "SQS_ENDPOINT_URL": env_optional("WEBSOCKETS_SQS_ENDPOINT_URL"),
    "BROADCAST_DEAD_LETTER_QUEUE_URL": env_optional("WEBSOCKETS_BROADCAST_DEAD_LETTER_QUEUE_URL"),
    # The chat's rooms announce who joins and leaves.
    "PRESENCE_GROUPS": ["room:*"],
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "loggers": {
        "django_aws_api_gateway_websockets": {"handlers": ["console"], "level": env_str("WEBSOCKETS_LOG_LEVEL", "INFO")},
    },
}

# The demo page's WebSocket URL (the CDK output on AWS); empty: ws:// on the page's own host.
DEMO_WEBSOCKET_URL = env_str("DEMO_WEBSOCKET_URL", "")
