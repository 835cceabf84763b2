"""SigV4 for many POSTs of one payload: botocore's signer, with what SigV4 shares between the posts done once.

Signing a post with ``SigV4Auth.add_auth`` costs about 50 us of CPU, mostly spent rebuilding what every post of a
broadcast has in common: the payload's SHA-256, the signed headers (Host, X-Amz-Date, the session token), the
credential scope and the signing key (derived with four HMACs from the secret, the date, the region and the
service: AWS documents it as valid for that day, region and service). :class:`PostSigner` asks botocore's
``SigV4Auth`` for all of that once per endpoint and second (X-Amz-Date has one-second resolution), using a
template request, and per post computes only what depends on the connection id: the canonical path, the SHA-256
of the canonical request and the final HMAC (botocore's ``_sign``). The canonical path is botocore's normalisation
and quoting of the template's path with a marker segment in the id's place; an id of API Gateway's alphabet
(letters, digits, ``+/=_-``, never a dot segment) only replaces that marker, quoted as botocore would quote it
(``+/=`` percent-encoded in the URL, and each ``%`` once more in the canonical path); any other id goes through
botocore's own path normalisation.
No cryptography is written here; a test checks the headers against ``add_auth`` byte for byte.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from hashlib import sha256
from typing import Any
from urllib.parse import quote, urlsplit

import botocore.auth
from botocore.auth import SIGV4_TIMESTAMP, SigV4Auth
from botocore.awsrequest import AWSRequest

SERVICE = "execute-api"
_MARKER = "SIGV4PATHMARKER"
# Connection ids whose quoting is three plain replacements (quote(id, safe="") leaves the rest as it is).
_ID_ALPHABET = re.compile(r"[A-Za-z0-9+/=_-]+")


class _SharedPartsSigV4Auth(SigV4Auth):
    """botocore's SigV4 with the payload hash given (one payload for every post) and the signing key derived once
    per day (the key depends only on the secret, the date, the region and the service)."""

    def __init__(self, credentials: Any, region: str, payload_hash: str) -> None:
        super().__init__(credentials, SERVICE, region)
        self.payload_hash = payload_hash
        self._keys: dict[str, bytes] = {}

    def payload(self, request: Any) -> str:
        return self.payload_hash

    def signing_key(self, date: str) -> bytes:
        key = self._keys.get(date)
        if key is None:
            k_date = self._sign(f"AWS4{self.credentials.secret_key}".encode(), date)
            k_region = self._sign(k_date, self._region_name)
            k_service = self._sign(k_region, self._service_name)
            key = self._sign(k_service, "aws4_request")
            self._keys = {date: key}  # one day at a time
        return key


@dataclass(frozen=True)
class _Template:
    second: int
    base_path: str  # the endpoint's path ("" or "/stage")
    canonical_rest: str  # the canonical request after its path line (query, headers, signed headers, payload)
    canonical_path_prefix: str  # botocore's canonical path of base_path + "/@connections/" (the id follows)
    string_to_sign_prefix: str
    authorization_prefix: str
    headers: dict[str, str]
    date: str


class PostSigner:
    """Signs POSTs of ``payload`` to ``{endpoint}/@connections/{id}`` exactly as ``SigV4Auth.add_auth`` would."""

    def __init__(self, credentials: Any, region: str, payload: bytes) -> None:
        self.payload = payload
        self._auth = _SharedPartsSigV4Auth(credentials, region, sha256(payload).hexdigest())
        self._templates: dict[str, _Template] = {}

    def headers(self, endpoint: str, connection_id: str) -> tuple[str, dict[str, str]]:
        """The URL to post to (the id quoted as boto3 quotes it) and the headers to send with it."""
        now = int(time.time())
        template = self._templates.get(endpoint)
        if template is None or template.second != now:
            template = self._templates[endpoint] = self._template(endpoint, now)
        if _ID_ALPHABET.fullmatch(connection_id):
            quoted = connection_id.replace("+", "%2B").replace("/", "%2F").replace("=", "%3D")
            path = template.canonical_path_prefix + quoted.replace("%", "%25")
        else:
            quoted = quote(connection_id, safe="")
            path = self._auth._normalize_url_path(template.base_path + "/@connections/" + quoted)
        canonical = f"POST\n{path}\n{template.canonical_rest}"
        string_to_sign = template.string_to_sign_prefix + sha256(canonical.encode("utf-8")).hexdigest()
        signature = self._auth._sign(self._auth.signing_key(template.date), string_to_sign, hex=True)
        return f"{endpoint}/@connections/{quoted}", {**template.headers,
                                                     "Authorization": template.authorization_prefix + signature}

    def _template(self, endpoint: str, second: int) -> _Template:
        """Everything but the path, from botocore, for posts to ``endpoint`` signed in this second."""
        auth = self._auth
        request = AWSRequest(method="POST", url=f"{endpoint}/@connections/{_MARKER}", data=self.payload)
        request.context["timestamp"] = botocore.auth.get_current_datetime().strftime(SIGV4_TIMESTAMP)
        auth._modify_request_before_signing(request)
        method, path_line, rest = auth.canonical_request(request).split("\n", 2)
        assert method == "POST" and path_line.endswith("/" + _MARKER), path_line
        sts = auth.string_to_sign(request, "")
        prefix = sts[: sts.rindex("\n") + 1]
        signed = auth.signed_headers(auth.headers_to_sign(request))
        return _Template(
            second=second, base_path=urlsplit(endpoint).path.rstrip("/"),
            canonical_rest=rest, canonical_path_prefix=path_line[: -len(_MARKER)], string_to_sign_prefix=prefix,
            authorization_prefix=f"AWS4-HMAC-SHA256 Credential={auth.scope(request)}, SignedHeaders={signed}, Signature=",
            headers={k: v if isinstance(v, str) else v.decode() for k, v in request.headers.items()},
            date=request.context["timestamp"][0:8],
        )
