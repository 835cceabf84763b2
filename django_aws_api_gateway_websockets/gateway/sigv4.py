"""Checking the SigV4 signature of @connections calls, as API Gateway checks it.

The signature is computed again from the request (method, raw path and query, the headers it names, the body)
with botocore's own ``SigV4Auth``, for the secret key of the access key id in its ``Credential``, and compared
in constant time. Requests signed more than five minutes away from now are refused, as AWS refuses them. The
accepted credentials are the gateway's own (what botocore finds in the gateway process: the app running in it
signs its posts with the same) and any given explicitly (``runwsgateway --access-key-id/--secret-access-key``).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

logger = logging.getLogger("django_aws_api_gateway_websockets.gateway")

MAX_SKEW_SECONDS = 5 * 60
SERVICE = "execute-api"
_AUTHORIZATION_RE = re.compile(
    r"^AWS4-HMAC-SHA256 Credential=(?P<key>[A-Za-z0-9]{1,128})/(?P<date>\d{8})/(?P<region>[a-z0-9-]{1,32})/"
    r"(?P<service>[a-z0-9-]{1,32})/aws4_request, ?SignedHeaders=(?P<headers>[a-z0-9-]{1,64}(;[a-z0-9-]{1,64}){0,63}), ?"
    r"Signature=(?P<signature>[0-9a-f]{64})$"
)
_AMZ_DATE_FORMAT = "%Y%m%dT%H%M%SZ"


class SignatureError(Exception):
    """Why a request's signature is not accepted (the message goes to the client, as AWS's does)."""


@dataclass(frozen=True)
class SignedRequest:
    """What the gateway received, as the client sent it."""

    method: str
    raw_path: str  # path and query string, exactly as sent (still percent-encoded)
    headers: Mapping[str, list[str]]  # lower-case names
    body: bytes


def own_credentials() -> dict[str, str]:
    """The credentials botocore finds in this process (environment, profile, role): access key id -> secret key."""
    import botocore.session

    try:
        found = botocore.session.get_session().get_credentials()
    except Exception as exc:  # a broken profile: refuse every call rather than crash the gateway
        logger.warning("No AWS credentials for the @connections API (%s)", exc)
        return {}
    if found is None:
        return {}
    frozen = found.get_frozen_credentials()
    return {frozen.access_key: frozen.secret_key}


def verify(request: SignedRequest, credentials: Mapping[str, str], now: datetime | None = None) -> None:
    """Raise :class:`SignatureError` unless ``request`` carries a valid SigV4 signature by one of ``credentials``
    for the ``execute-api`` service."""
    authorization = (request.headers.get("authorization") or [""])[-1]
    if not authorization.startswith("AWS4-HMAC-SHA256 "):
        raise SignatureError("Missing Authentication Token")
    match = _AUTHORIZATION_RE.match(authorization)
    if match is None:
        raise SignatureError("Authorization header requires 'Credential', 'SignedHeaders' and 'Signature'.")
    if match["service"] != SERVICE:
        raise SignatureError(f"Credential should be scoped to correct service: '{SERVICE}'.")
    secret = credentials.get(match["key"])
    if secret is None:
        raise SignatureError("The security token included in the request is invalid.")
    signed = match["headers"].split(";")
    if "host" not in signed or "x-amz-date" not in signed:
        raise SignatureError("Signed headers must include 'host' and 'x-amz-date'.")
    if any(name not in request.headers for name in signed):
        raise SignatureError("A header named in SignedHeaders is missing.")
    amz_date = request.headers["x-amz-date"][-1]
    try:
        when = datetime.strptime(amz_date, _AMZ_DATE_FORMAT).replace(tzinfo=timezone.utc)
    except ValueError as exc:
        raise SignatureError("X-Amz-Date must be a timestamp like 20240101T000000Z.") from exc
    now = now or datetime.now(timezone.utc)
    if abs((now - when).total_seconds()) > MAX_SKEW_SECONDS:
        raise SignatureError(f"Signature expired: {amz_date} is more than 5 minutes away from "
                             f"{now.strftime(_AMZ_DATE_FORMAT)}.")
    if match["date"] != amz_date[:8]:
        raise SignatureError("The credential scope's date does not match X-Amz-Date.")
    content_sha256 = request.headers.get("x-amz-content-sha256")
    if content_sha256 is not None and content_sha256[-1] != hashlib.sha256(request.body).hexdigest():
        raise SignatureError("The provided 'x-amz-content-sha256' header does not match what was computed.")

    # The request again, as botocore builds it for signing: only the signed headers, with their values as sent.
    signer = SigV4Auth(Credentials(match["key"], secret), SERVICE, match["region"])
    try:
        host = request.headers["host"][-1]
        rebuilt = AWSRequest(method=request.method, url=f"http://{host}{request.raw_path}", data=request.body)
        for name in signed:
            for value in request.headers[name]:
                rebuilt.headers[name] = value  # HTTPHeaders appends: repeated headers stay repeated
        rebuilt.context["timestamp"] = amz_date
        if signer.signed_headers(signer.headers_to_sign(rebuilt)) != match["headers"]:
            raise SignatureError("SignedHeaders names a header that cannot be signed.")
        expected = signer.signature(signer.string_to_sign(rebuilt, signer.canonical_request(rebuilt)), rebuilt)
    except (ValueError, TypeError, UnicodeError) as exc:  # a Host or path no signer could have signed
        raise SignatureError("The request cannot be canonicalised for SigV4.") from exc
    if not hmac.compare_digest(expected, match["signature"]):
        raise SignatureError("The request signature we calculated does not match the signature you provided. "
                             "Check your AWS Secret Access Key and signing method.")
