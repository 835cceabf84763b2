"""The broadcast signer's headers are byte for byte what botocore's SigV4Auth.add_auth gives the same post."""

from __future__ import annotations

import datetime
from typing import Any
from urllib.parse import quote

import botocore.auth
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from django_aws_api_gateway_websockets.signing import PostSigner

IDS = ["L0SM9cOFvHcCIhw=", "a+b/c=", "..", ".", "ü-ñ", "%3D", "a b", "~tilde_", "x" * 128, "?q=1#f"]
ENDPOINTS = ["https://abc123.execute-api.eu-west-1.amazonaws.com/prod", "http://127.0.0.1:8000",
             "https://chat.example.com/v1/ws", "http://[::1]:9000/local"]


def freeze(monkeypatch: pytest.MonkeyPatch, when: datetime.datetime) -> None:
    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda: when)


def botocore_headers(credentials: Any, url: str, payload: bytes) -> dict[str, str]:
    request = AWSRequest(method="POST", url=url, data=payload)
    SigV4Auth(credentials, "execute-api", "eu-west-1").add_auth(request)
    return {k: v if isinstance(v, str) else v.decode() for k, v in request.headers.items()}


@pytest.mark.parametrize("token", ["session-token/with+chars==", None])
def test_headers_match_add_auth_for_awkward_ids_and_endpoints(monkeypatch: pytest.MonkeyPatch, token: str | None) -> None:
    freeze(monkeypatch, datetime.datetime(2026, 11, 24, 23, 59, 59))
    credentials = Credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", token).get_frozen_credentials()
    payload = '{"type":"message","text":"héllo"}'.encode()
    signer = PostSigner(credentials, "eu-west-1", payload)
    for endpoint in ENDPOINTS:
        for cid in IDS:
            url, headers = signer.headers(endpoint, cid)
            assert url == f"{endpoint}/@connections/{quote(cid, safe='')}"
            assert headers == botocore_headers(credentials, url, payload), (endpoint, cid)
    assert ("X-Amz-Security-Token" in headers) is (token is not None)


def test_a_new_day_gets_a_new_key_and_timestamp(monkeypatch: pytest.MonkeyPatch) -> None:
    credentials = Credentials("AKID", "secret").get_frozen_credentials()
    signer = PostSigner(credentials, "eu-west-1", b"{}")
    endpoint = ENDPOINTS[0]
    for when in (datetime.datetime(2026, 11, 24, 23, 59, 59), datetime.datetime(2026, 11, 25, 0, 0, 1)):
        freeze(monkeypatch, when)
        signer._templates.clear()  # what the next second does by itself
        url, headers = signer.headers(endpoint, "abc=")
        assert headers == botocore_headers(credentials, url, b"{}")
        assert headers["X-Amz-Date"] == when.strftime("%Y%m%dT%H%M%SZ")


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cid=st.text(alphabet="ABCXYZabcxyz0189+/=_-%.~ ü", min_size=1, max_size=40),
       endpoint=st.sampled_from([*ENDPOINTS, "https://chat.example.com/a/./b/../v1/", "http://127.0.0.1:8000/"]))
def test_headers_match_add_auth_for_any_id(monkeypatch: pytest.MonkeyPatch, cid: str, endpoint: str) -> None:
    """Ids of API Gateway's alphabet take the signer's fast path (the canonical path from the template's); the
    rest go through botocore's normalisation: both sign what add_auth signs."""
    freeze(monkeypatch, datetime.datetime(2026, 11, 24, 12, 0, 0))
    credentials = Credentials("AKIDEXAMPLE", "secret", "token").get_frozen_credentials()
    signer = PostSigner(credentials, "eu-west-1", b'{"n":1}')
    url, headers = signer.headers(endpoint.rstrip("/"), cid)
    assert url == f"{endpoint.rstrip('/')}/@connections/{quote(cid, safe='')}"
    assert headers == botocore_headers(credentials, url, b'{"n":1}')
