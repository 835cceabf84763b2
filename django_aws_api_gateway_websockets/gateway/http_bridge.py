"""Serving ordinary HTTP requests through the Lambda handler as HTTP API (v2) events, as a deployed
function behind an HTTP API would see them.

These are never WebSocket events: the Lambda adapter does not mark them as coming from API Gateway's
WebSocket API, so a WebSocket view refuses them (403) whatever headers the client sends. ``domainName`` is
the gateway's own address, never the client's ``Host``.
"""

from __future__ import annotations

import base64
import mimetypes
import time
import uuid
from typing import Any

from aiohttp import web
from multidict import CIMultiDict


async def to_event(request: web.Request, domain_name: str, api_id: str = "local") -> dict[str, Any]:
    body = await request.read()
    headers: dict[str, str] = {}
    cookies: list[str] = []
    for key, value in request.headers.items():
        if key.lower() == "cookie":
            cookies.extend(part.strip() for part in value.split(";") if part.strip())
            continue
        name = key.lower()
        headers[name] = f"{headers[name]},{value}" if name in headers else value
    now = int(time.time() * 1000)
    return {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": request.rel_url.raw_path,
        "rawQueryString": request.rel_url.raw_query_string,
        "cookies": cookies,
        "headers": headers,
        "requestContext": {
            "accountId": "000000000000",
            "apiId": api_id,
            "domainName": domain_name,
            "http": {"method": request.method, "path": request.rel_url.raw_path, "protocol": "HTTP/1.1",
                     "sourceIp": request.remote or "127.0.0.1", "userAgent": request.headers.get("User-Agent", "")},
            "requestId": uuid.uuid4().hex,
            "routeKey": "$default",
            "stage": "$default",
            "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime()),
            "timeEpoch": now,
        },
        "body": base64.b64encode(body).decode() if body else "",
        "isBase64Encoded": bool(body),
    }


def to_response(result: dict[str, Any]) -> web.Response:
    headers: CIMultiDict[str] = CIMultiDict()
    for key, value in (result.get("headers") or {}).items():
        headers.add(key, str(value))
    for cookie in result.get("cookies") or []:
        headers.add("Set-Cookie", cookie)
    raw = result.get("body") or ""
    body = base64.b64decode(raw) if result.get("isBase64Encoded") else raw.encode()
    headers.pop("Content-Length", None)
    return web.Response(status=int(result.get("statusCode", 502)), body=body, headers=headers)


def static_response(path: str) -> web.StreamResponse | None:
    """A file found by Django's staticfiles finders (only with DEBUG, as runserver does)."""
    from django.conf import settings
    from django.contrib.staticfiles import finders
    from django.core.exceptions import SuspiciousFileOperation

    prefix = "/" + settings.STATIC_URL.lstrip("/")
    if not path.startswith(prefix):
        return None
    try:
        found = finders.find(path[len(prefix):])
    except (SuspiciousFileOperation, ValueError):  # "../" climbing out of a static root, NUL bytes
        return web.Response(status=404, text="Not found")
    if not found or isinstance(found, list):
        return None
    content_type, _ = mimetypes.guess_type(found)
    return web.FileResponse(found, headers={"Content-Type": content_type or "application/octet-stream"})
