"""Users of WebSocket requests: from the session cookie at connect, from the stored mapping afterwards."""

from __future__ import annotations

import copy
import hmac
from importlib import import_module
from typing import Any

from django.conf import settings
from django.contrib import auth
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.http import HttpRequest

from . import connection_cache
from .conf import ws_settings
from .store.base import Connection
from .tokens import TokenClaims

UserLike = AbstractBaseUser | AnonymousUser


def user_from_cookie(request: HttpRequest) -> UserLike:
    """The user logged in by the request's session cookie, or AnonymousUser.

    Uses ``request.user`` when the authentication middleware already ran; otherwise loads the session
    named by the cookie itself (the HTTP integration and Lambda paths may run without middleware).
    """
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        return user
    session_key = request.COOKIES.get(settings.SESSION_COOKIE_NAME)
    if not session_key:
        return AnonymousUser()
    engine = import_module(settings.SESSION_ENGINE)
    if not hasattr(request, "session"):
        request.session = engine.SessionStore(session_key)
    return auth.get_user(request)


class TokenUser:
    """An authenticated user built from connect-token claims, for sockets served without a user database
    (``WEBSOCKETS["TOKEN_USERS"] = "claims"``). It has no permissions."""

    is_authenticated = True
    is_anonymous = False
    is_active = True
    is_staff = False
    is_superuser = False

    def __init__(self, pk: str, username: str) -> None:
        self.pk = self.id = pk
        self.username = username

    def get_username(self) -> str:
        return self.username

    def has_perm(self, perm: str, obj: object = None) -> bool:
        return False

    def __str__(self) -> str:
        return self.username

    def __eq__(self, other: object) -> bool:
        return isinstance(other, TokenUser) and other.pk == self.pk

    def __hash__(self) -> int:
        return hash(self.pk)


def user_from_token(claims: TokenClaims) -> UserLike | TokenUser | None:
    """The user a valid connect token names: the real User ("database") or a TokenUser ("claims"); None when
    the real user is gone, inactive or has changed password since the token was issued."""
    if ws_settings.TOKEN_USERS == "claims":
        return TokenUser(claims.user_id, claims.username)
    return _user_still_valid(claims.user_id, claims.auth_hash)


def _user_still_valid(user_id: str, auth_hash: str) -> AbstractBaseUser | None:
    """The user with ``user_id`` if it still exists, is active and (when ``auth_hash`` is given) has not
    changed its password since that hash was taken."""
    model = auth.get_user_model()
    try:
        user = model._default_manager.get(pk=user_id)
    except (model.DoesNotExist, ValueError):
        return None
    if not getattr(user, "is_active", True):
        return None
    if auth_hash and not hmac.compare_digest(auth_hash, auth_hash_of(user)):
        return None
    return user


def auth_hash_of(user: UserLike) -> str:
    if not user.is_authenticated or not hasattr(user, "get_session_auth_hash"):
        return ""
    return user.get_session_auth_hash()


def user_for_connection(connection: Connection) -> UserLike | None:
    """The user mapped to ``connection``; AnonymousUser when none; None when that user may no longer
    send (deleted, deactivated, or the password changed since connect)."""
    if connection.user_id is None:
        return AnonymousUser()
    if ws_settings.TOKEN_USERS == "claims":
        return TokenUser(connection.user_id, connection.user_name)  # type: ignore[return-value]
    return _user_still_valid(connection.user_id, connection.auth_hash)


def user_for_message(connection: Connection, validated: Any = None) -> UserLike | None:
    """The user of a message on ``connection``, as :func:`user_for_connection` says, with the check against the
    user table done at most every ``WEBSOCKETS["USER_REVALIDATE_INTERVAL"]`` seconds per connection and process:
    ``validated`` is the user this process validated within that interval (from the connection cache), or None.

    Each message gets its own copy of a cached user object, so what a handler changes on ``request.user``
    stays with that message. Anonymous and connect-token ("claims") users cost no query and are built anew."""
    if connection.user_id is None:
        return AnonymousUser()
    if ws_settings.TOKEN_USERS == "claims":
        return TokenUser(connection.user_id, connection.user_name)  # type: ignore[return-value]
    if validated is None:
        validated = _user_still_valid(connection.user_id, connection.auth_hash)
        if validated is None:
            return None
        connection_cache.validated(connection, validated)
    return copy.copy(validated)
