"""Reading settings from environment variables, with types."""

from __future__ import annotations

import os


def env_str(name: str, default: str) -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in ("1", "true", "yes", "on")


def env_list(name: str, default: list[str]) -> list[str]:
    value = os.environ.get(name)
    if value is None:
        return default
    return [item.strip() for item in value.split(",") if item.strip()]


def env_optional(name: str) -> str | None:
    return os.environ.get(name) or None


def env_rate(name: str, default: str) -> str | None:
    """A rate such as "60/minute"; "none" or "off" disables the limit."""
    value = os.environ.get(name, default).strip()
    return None if value.lower() in ("", "none", "off") else value


# Only for local development with DEBUG on. Django's "django-insecure-" prefix makes `check --deploy` flag it
# (security.W009) wherever it turns up.
DEVELOPMENT_SECRET_KEY = "django-insecure-local-development-only-change-me-0123456789"


def secret_key(debug: bool) -> str:
    """SECRET_KEY: from Secrets Manager when DJANGO_SECRET_KEY_SECRET_ID names a secret (the deployed
    function, read once at cold start), else DJANGO_SECRET_KEY. With neither, the development key when
    ``debug`` is on; with DEBUG off, refuse to start: a known key would let anybody sign sessions and mint
    connect tokens."""
    secret_id = os.environ.get("DJANGO_SECRET_KEY_SECRET_ID")
    if secret_id:
        import boto3

        return str(boto3.client("secretsmanager").get_secret_value(SecretId=secret_id)["SecretString"])
    configured = os.environ.get("DJANGO_SECRET_KEY")
    if configured:
        return configured
    if debug:
        return DEVELOPMENT_SECRET_KEY
    from django.core.exceptions import ImproperlyConfigured

    raise ImproperlyConfigured(
        "No SECRET_KEY: set DJANGO_SECRET_KEY (or DJANGO_SECRET_KEY_SECRET_ID, a Secrets Manager secret), or "
        "DJANGO_DEBUG=1 for local development, where a development key is used."
    )
