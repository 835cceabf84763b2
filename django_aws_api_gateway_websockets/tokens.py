"""Signed, expiring, single-use connect tokens: login for sockets where the session cookie cannot reach.

The main site issues a token to a logged-in user (:func:`make_connect_token`, or the ``websockets:token``
view); the browser passes it as ``?token=...`` on connect. The token is signed with ``SECRET_KEY`` (Django's
signing, its own salt), expires after ``CONNECT_TOKEN_MAX_AGE`` seconds and is refused when used twice.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from django.core import signing

from .conf import ws_settings

SALT = "django_aws_api_gateway_websockets.connect-token"


class InvalidConnectToken(Exception):
    """The token is malformed, tampered with, signed for something else, expired or already used."""


@dataclass(frozen=True)
class TokenClaims:
    user_id: str
    username: str
    token_id: str
    expires_at: datetime
    auth_hash: str


def make_connect_token(user: Any, max_age: int | None = None) -> str:
    """A connect token for ``user`` (who must be authenticated)."""
    if not getattr(user, "is_authenticated", False):
        raise ValueError("Connect tokens are issued to authenticated users only.")
    from .auth import auth_hash_of

    lifetime = int(max_age if max_age is not None else ws_settings.CONNECT_TOKEN_MAX_AGE)
    payload = {"u": str(user.pk), "n": user.get_username(), "j": secrets.token_urlsafe(12),
               "e": int(time.time()) + lifetime, "h": auth_hash_of(user)}
    return signing.dumps(payload, salt=SALT, compress=True)


def read_connect_token(token: str) -> TokenClaims:
    """The token's claims; InvalidConnectToken when it is not a valid, unexpired token."""
    if not isinstance(token, str) or not 10 <= len(token) <= 2048:
        raise InvalidConnectToken("malformed connect token")
    try:
        payload = signing.loads(token, salt=SALT, max_age=int(ws_settings.CONNECT_TOKEN_MAX_AGE) + 5)
    except signing.SignatureExpired as exc:
        raise InvalidConnectToken("connect token expired") from exc
    except signing.BadSignature as exc:
        raise InvalidConnectToken("connect token signature is invalid") from exc
    try:
        claims = TokenClaims(user_id=str(payload["u"]), username=str(payload["n"]), token_id=str(payload["j"]),
                             expires_at=datetime.fromtimestamp(int(payload["e"]), tz=timezone.utc),
                             auth_hash=str(payload.get("h", "")))
    except (KeyError, TypeError, ValueError) as exc:
        raise InvalidConnectToken("malformed connect token") from exc
    if claims.expires_at.timestamp() < time.time():
        raise InvalidConnectToken("connect token expired")
    return claims


def consume_connect_token(token: str) -> TokenClaims:
    """Read the token and record its use; a second use raises InvalidConnectToken (replay)."""
    from .store import get_store

    claims = read_connect_token(token)
    if not get_store().use_token(claims.token_id, claims.expires_at):
        raise InvalidConnectToken("connect token already used")
    return claims
