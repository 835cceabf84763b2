"""The local gateway's @connections API checks SigV4 signatures as API Gateway does: signed by botocore (boto3,
the project's own sender) with accepted credentials passes; anything else is refused."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any
from unittest import mock

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from django_aws_api_gateway_websockets.gateway.sigv4 import SignatureError, SignedRequest, verify

ACCEPTED = {"AKIDLOCAL": "local-secret"}
HOST = "127.0.0.1:8123"


def signed(method: str = "POST", path: str = "/@connections/abc%3D", body: bytes = b"hello", *,
           key: str = "AKIDLOCAL", secret: str = "local-secret", region: str = "us-east-1",
           service: str = "execute-api", token: str | None = None, when: datetime | None = None,
           extra: dict[str, str] | None = None) -> SignedRequest:
    """A request signed exactly as the project's sender and boto3 sign theirs (botocore's SigV4Auth)."""
    request = AWSRequest(method=method, url=f"http://{HOST}{path}", data=body, headers=extra or {})
    signer = SigV4Auth(Credentials(key, secret, token), service, region)
    if when is None:
        signer.add_auth(request)
    else:
        with mock.patch("botocore.auth.get_current_datetime", return_value=when.replace(tzinfo=None)):
            signer.add_auth(request)
    headers: dict[str, list[str]] = {"host": [HOST]}
    for name, value in request.headers.items():
        headers.setdefault(name.lower(), []).append(value)
    return SignedRequest(method=method, raw_path=path, headers=headers, body=body)


def with_changes(request: SignedRequest, **changes: Any) -> SignedRequest:
    values = {"method": request.method, "raw_path": request.raw_path, "headers": request.headers,
              "body": request.body, **changes}
    return SignedRequest(**values)


@pytest.mark.parametrize("path", ["/@connections/abc%3D", "/local/@connections/L0SM9cOFvHcCIhw%3D",
                                  "/@connections/a%2Fb?x=1&a=2"])
@pytest.mark.parametrize("method", ["POST", "GET", "DELETE"])
def test_botocore_signatures_are_accepted(method: str, path: str) -> None:
    verify(signed(method, path), ACCEPTED)
    verify(signed(method, path, token="session-token"), ACCEPTED)  # temporary credentials sign a token header too
    verify(signed(method, path, region="eu-west-1"), ACCEPTED)


@pytest.mark.parametrize(("request_", "message"), [
    (with_changes(signed(), headers={}), "Missing Authentication Token"),
    (with_changes(signed(), headers={"authorization": ["AWS4-HMAC-SHA256 anything"]}), "requires 'Credential'"),
    (with_changes(signed(), headers={"authorization": [
        "AWS4-HMAC-SHA256 Credential=AKIDLOCAL/20240101/us-east-1/execute-api/aws4_request, "
        "SignedHeaders=host;x-amz-date, Signature=" + "0" * 64], "host": [HOST], "x-amz-date": ["20240101T000000Z"]}),
     "Signature expired"),
    (signed(secret="wrong-secret"), "signature we calculated does not match"),
    (signed(key="AKIDOTHER"), "security token included in the request is invalid"),
    (signed(service="s3"), "scoped to correct service"),
    (with_changes(signed(), body=b"tampered"), "signature we calculated does not match"),
    (with_changes(signed(), raw_path="/@connections/victim%3D"), "signature we calculated does not match"),
    (with_changes(signed(), method="DELETE"), "signature we calculated does not match"),
    (with_changes(signed(), headers={**signed().headers, "host": ["127.0.0.1:9999"]}),
     "signature we calculated does not match"),
    (timedelta(minutes=-6), "Signature expired"),
    (timedelta(minutes=6), "Signature expired"),
    (signed(extra={"X-Amz-Content-SHA256": "0" * 64}), "x-amz-content-sha256"),
    (with_changes(signed(), headers={**signed().headers, "host": ["[::1"]}), "cannot be canonicalised"),
], ids=["unsigned", "malformed", "forged-signature", "wrong-secret", "unknown-key", "other-service", "body",
        "path", "method", "host", "too-old", "too-new", "content-hash", "bad-host"])
def test_anything_else_is_refused(request_: SignedRequest | timedelta, message: str) -> None:
    if isinstance(request_, timedelta):  # signed now (not at collection time), that far from the clock
        request_ = signed(when=datetime.now(timezone.utc) + request_)
    with pytest.raises(SignatureError, match=message):
        verify(request_, ACCEPTED)


def test_a_clock_skew_within_five_minutes_is_tolerated() -> None:
    for minutes in (-4, 4):
        verify(signed(when=datetime.now(timezone.utc) + timedelta(minutes=minutes)), ACCEPTED)


def test_nothing_is_accepted_without_credentials() -> None:
    with pytest.raises(SignatureError, match="security token"):
        verify(signed(), {})
