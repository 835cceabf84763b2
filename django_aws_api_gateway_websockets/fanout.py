"""Broadcasts that outgrow one invocation: recipient chunks through an SQS queue, posted by the same function.

``send_to_group`` hands a group larger than ``WEBSOCKETS["BROADCAST_QUEUE_THRESHOLD"]`` to :func:`enqueue` when
``BROADCAST_QUEUE_URL`` is set: the payload and the recipients, in chunks of at most ``BROADCAST_CHUNK_SIZE``
connections (and 256 KiB), go to the queue with ``SendMessageBatch`` and the caller gets an
:class:`EnqueuedBroadcast` at once. The Lambda function consumes the queue through an event source mapping with
``ReportBatchItemFailures``: :func:`handle_sqs_event` posts every chunk of the batch (at most ``MAX_WORKERS`` posts
in flight, throttled posts backing off and retrying) and marks gone connections. Only what failed is tried again,
and only if it can succeed: the recipients whose posts failed for a reason that can pass (429, 5xx, a network
error) go back on the queue as a new signed chunk holding only them, with an attempt counter and a growing
``DelaySeconds``, and the original chunk is acknowledged, so the recipients that got the message never get it
again. A recipient refused for good (a 4xx other than 410 and 429: 400, 403, 413) is logged and counted, never
retried, and kept in the dead-letter queue (a 403 passes once the function's permission is fixed). After ``BROADCAST_MAX_ATTEMPTS`` deliveries the recipients still failing go to the dead-letter queue
(``BROADCAST_DEAD_LETTER_QUEUE_URL``). Only if SQS refuses that new chunk is the original one reported as a batch
item failure, so SQS delivers it again in full (its recipients that got it then get it twice: delivery stays at
least once; send with ``message_id=True`` so clients can drop duplicates); unreadable chunks are reported too,
and the queue's redrive policy moves them to the dead-letter queue after ``maxReceiveCount``.

Every chunk is signed with the project's ``SECRET_KEY`` (``django.core.signing``, salted for this purpose; keys in
``SECRET_KEY_FALLBACKS`` still verify): the worker posts only chunks this project wrote. Whoever else can
``SendMessage`` to the queue (a too-broad queue policy, another principal in the account) cannot make the function
post signed requests (its access key id and session token in the headers) to a host of their choosing, nor push
their own text to the app's connections: an unsigned or altered chunk is refused and, like any unreadable chunk,
ends in the dead-letter queue.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import re
import threading
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import boto3
from botocore.config import Config

from django.core import signing

from .conf import region, ws_settings
from .security import CONNECTION_ID_RE
from .snapstart import after_restore

logger = logging.getLogger("django_aws_api_gateway_websockets")

FORMAT_VERSION = 1
# SQS's message size limit as it was for years (256 KiB; AWS has since raised it to 1 MiB): chunks and batches
# stay under it, so any queue (and any local SQS) takes them.
MAX_SQS_BYTES = 256 * 1024
_BATCH_ENTRIES = 10  # SendMessageBatch takes at most 10 messages
# A chunk body ends with its signature: ``{...,"sig":"<Signer signature of the body before it>"}``.
_SIGNATURE_SALT = "django_aws_api_gateway_websockets.fanout.chunk"
_SIGNED_RE = re.compile(r'^(\{.*),"sig":"([A-Za-z0-9_-]{20,128})"\}$', re.DOTALL)
_SIGNATURE_BYTES = 128  # what the signature adds to a body, at most (sha256, base64: 43 characters)


@dataclass
class EnqueuedBroadcast:
    """What :func:`enqueue` handed to the queue: delivery happens later, in the function's SQS invocations."""

    queue_url: str
    broadcast_id: str
    chunks: int
    recipients: int
    sqs_message_ids: list[str] = field(default_factory=list)


class BroadcastQueueError(RuntimeError):
    """SQS refused some chunks of a broadcast even after retries; the others were enqueued and will be delivered."""

    def __init__(self, message: str, enqueued: EnqueuedBroadcast) -> None:
        super().__init__(message)
        self.enqueued = enqueued


# The SQS client -------------------------------------------------------------------------------------------------
_clients: dict[tuple[str | None, str], Any] = {}
_clients_lock = threading.Lock()
after_restore(_clients.clear)  # SnapStart: a client holds a connection pool and credentials


def sqs_client() -> Any:
    key = (ws_settings.SQS_ENDPOINT_URL, region())
    client = _clients.get(key)
    if client is None:
        with _clients_lock:
            client = _clients.get(key)
            if client is None:
                client = _clients[key] = boto3.session.Session().client(
                    "sqs", region_name=key[1], endpoint_url=key[0],
                    config=Config(retries={"mode": "standard", "max_attempts": 5}, tcp_keepalive=True))
    return client


# Producer ---------------------------------------------------------------------------------------------------------
def should_enqueue(recipients: int) -> bool:
    """True when a broadcast to ``recipients`` connections goes through the queue."""
    return bool(ws_settings.BROADCAST_QUEUE_URL) and recipients > int(ws_settings.BROADCAST_QUEUE_THRESHOLD)


def _signer() -> signing.Signer:
    return signing.Signer(salt=_SIGNATURE_SALT)


def sign_chunk(body: str) -> str:
    """``body`` (a JSON object) with its signature added as its last key, ``"sig"``."""
    return f'{body[:-1]},"sig":"{_signer().signature(body)}"}}'


def verified_chunk(body: str) -> str:
    """The chunk ``body`` without its signature; BadSignature unless this project (its SECRET_KEY or one of
    SECRET_KEY_FALLBACKS) signed exactly that body."""
    match = _SIGNED_RE.match(body)
    if match is None:
        raise signing.BadSignature("the chunk is not signed")
    unsigned = match.group(1) + "}"
    _signer().unsign(f"{unsigned}{_signer().sep}{match.group(2)}")
    return unsigned


def chunk_bodies(recipients: Sequence[tuple[str, str]], payload: bytes, broadcast_id: str) -> list[str]:
    """SQS message bodies for ``(endpoint, connection id)`` recipients: each a signed JSON object with the payload
    (base64: binary frames and any text survive SQS's character rules) and at most BROADCAST_CHUNK_SIZE recipients,
    grouped by endpoint, under 256 KiB."""
    chunk_size = max(1, int(ws_settings.BROADCAST_CHUNK_SIZE))
    encoded = base64.b64encode(payload).decode("ascii")
    head = {"v": FORMAT_VERSION, "id": broadcast_id, "payload": encoded}
    base = len(json.dumps({**head, "to": {}}, separators=(",", ":"))) + _SIGNATURE_BYTES
    bodies: list[str] = []
    current: dict[str, list[str]] = {}
    size = count = 0
    for endpoint, connection_id in recipients:
        # What one more recipient adds at most: its id (and its endpoint when new), quoted and separated.
        extra = len(json.dumps(connection_id)) + 1 + (0 if endpoint in current else len(json.dumps(endpoint)) + 4)
        if current and (count >= chunk_size or base + size + extra > MAX_SQS_BYTES - 64):
            bodies.append(sign_chunk(json.dumps({**head, "to": current}, separators=(",", ":"))))
            current, size, count = {}, 0, 0
            extra = len(json.dumps(connection_id)) + len(json.dumps(endpoint)) + 5
        current.setdefault(endpoint, []).append(connection_id)
        size, count = size + extra, count + 1
    if current:
        bodies.append(sign_chunk(json.dumps({**head, "to": current}, separators=(",", ":"))))
    return bodies


def enqueue(recipients: Sequence[tuple[str, str]], payload: bytes) -> EnqueuedBroadcast:
    """Put a broadcast of ``payload`` to ``(endpoint, connection id)`` recipients on the queue, in chunks, with
    ``SendMessageBatch`` (10 messages and at most 256 KiB a call); entries SQS refuses are retried with backoff."""
    queue_url: str = ws_settings.BROADCAST_QUEUE_URL
    broadcast_id = uuid.uuid4().hex
    bodies = chunk_bodies(recipients, payload, broadcast_id)
    result = EnqueuedBroadcast(queue_url=queue_url, broadcast_id=broadcast_id, chunks=len(bodies),
                               recipients=len(recipients))
    client = sqs_client()
    batches: list[list[tuple[str, str]]] = [[]]
    batch_bytes = 0
    for index, body in enumerate(bodies):
        if len(batches[-1]) == _BATCH_ENTRIES or (batches[-1] and batch_bytes + len(body) > MAX_SQS_BYTES):
            batches.append([])
            batch_bytes = 0
        batches[-1].append((f"c{index}", body))
        batch_bytes += len(body)
    refused: list[str] = []
    for batch in batches:
        pending = dict(batch)
        for attempt in range(6):
            if not pending:
                break
            if attempt:
                time.sleep(min(2.0, 0.1 * 2**attempt))
            answer = client.send_message_batch(
                QueueUrl=queue_url, Entries=[{"Id": key, "MessageBody": body} for key, body in pending.items()])
            for entry in answer.get("Successful", []):
                result.sqs_message_ids.append(entry["MessageId"])
                pending.pop(entry["Id"], None)
            failed = answer.get("Failed", [])
            if any(entry.get("SenderFault") for entry in failed):
                break  # our fault (size, characters): retrying cannot help
        refused += list(pending)
    if refused:
        raise BroadcastQueueError(f"SQS refused {len(refused)} of {len(bodies)} chunks of broadcast {broadcast_id}",
                                  result)
    logger.info("Broadcast %s queued: %d recipients in %d chunks", broadcast_id, result.recipients, result.chunks)
    return result


# Worker -----------------------------------------------------------------------------------------------------------
@dataclass
class _Chunk:
    message_id: str
    payload: bytes
    posts: list[Any]
    broadcast_id: str = ""
    attempt: int = 0  # deliveries before this one (0: the producer's chunk; n: the n-th retry of its failures)


_MAX_DELAY_SECONDS = 900  # SQS's largest DelaySeconds


def endpoint_allowed(endpoint: str) -> bool:
    """Whether the worker may post (signed) to ``endpoint``: ``ENDPOINT_URL`` exactly when it is set, else an
    https:// URL, or plain http:// only to a loopback host (the rule ``messaging.endpoint_for`` follows). Chunks
    come from this app's own queue, but a signed post goes nowhere else."""
    from .messaging import _LOOPBACK_RE

    override: str | None = ws_settings.ENDPOINT_URL
    if override:
        return endpoint == override.rstrip("/")
    scheme, _, rest = endpoint.partition("://")
    return scheme == "https" or (scheme == "http" and bool(_LOOPBACK_RE.match(rest.split("/", 1)[0])))


def _parse(record: dict[str, Any]) -> _Chunk:
    from .sender import Post

    body = record["body"]
    if not isinstance(body, str):
        raise ValueError("the body is not text")
    message = json.loads(verified_chunk(body))
    if not isinstance(message, dict) or message.get("v") != FORMAT_VERSION:
        raise ValueError("not a broadcast chunk of this version")
    payload = base64.b64decode(message["payload"], validate=True)
    recipients = message["to"]
    if not isinstance(recipients, dict) or not all(
            isinstance(ids, list) and all(isinstance(i, str) and CONNECTION_ID_RE.match(i) for i in ids)
            for ids in recipients.values()):
        raise ValueError("'to' must map endpoints to lists of connection ids")
    refused = [endpoint for endpoint in recipients if not endpoint_allowed(endpoint)]
    if refused:
        raise ValueError(f"endpoint not allowed: {refused[0][:200]!r}")
    attempt = message.get("n", 0)
    if isinstance(attempt, bool) or not isinstance(attempt, int) or not 0 <= attempt <= 1000:
        raise ValueError("'n' must be an attempt count")
    posts = [Post(str(endpoint), str(cid)) for endpoint, ids in recipients.items() for cid in ids]
    return _Chunk(str(record["messageId"]), payload, posts, str(message.get("id", "")), attempt)


def refused_for_good(outcome: Any) -> bool:
    """A post that no retry can make succeed: 403 (the function may not post there), or any other 4xx but 410
    (gone, handled apart) and 429 (throttled): 400, 413, ..."""
    from .sender import FORBIDDEN

    status = int(getattr(outcome, "http_status", 0) or 0)
    return outcome.status == FORBIDDEN or (400 <= status < 500 and status not in (410, 429))


def retry_delay(attempt: int) -> int:
    """DelaySeconds for the ``attempt``-th retry of a chunk's failures: BROADCAST_RETRY_DELAY doubled at each
    attempt, at most 900 (SQS's limit)."""
    base = float(ws_settings.BROADCAST_RETRY_DELAY)
    return int(min(_MAX_DELAY_SECONDS, base * 2 ** max(0, attempt - 1)))


def _chunk_body(chunk: _Chunk, posts: list[Any], **more: Any) -> str:
    """A new signed chunk of ``chunk``'s payload for ``posts`` (some of its recipients), with ``more`` keys."""
    to: dict[str, list[str]] = {}
    for post in posts:
        to.setdefault(post.endpoint, []).append(post.connection_id)
    head = {"v": FORMAT_VERSION, "id": chunk.broadcast_id, "payload": base64.b64encode(chunk.payload).decode("ascii")}
    return sign_chunk(json.dumps({**head, "to": to, **more}, separators=(",", ":")))


def _dead_letter(chunk: _Chunk, posts: list[Any], **more: Any) -> None:
    """Put ``posts`` on BROADCAST_DEAD_LETTER_QUEUE_URL as a new signed chunk whose attempts start again from 0
    when somebody redrives it to the queue, once the cause is fixed; raises when there is no such queue or SQS
    refused it."""
    dead_letters: str | None = ws_settings.BROADCAST_DEAD_LETTER_QUEUE_URL
    if not dead_letters:
        raise RuntimeError("no BROADCAST_DEAD_LETTER_QUEUE_URL to put the recipients that still fail")
    sqs_client().send_message(QueueUrl=dead_letters, MessageBody=_chunk_body(chunk, posts, n=0, **more))


def _requeue(chunk: _Chunk, failed: list[Any]) -> str:
    """Put ``failed`` (the chunk's recipients to try again) on the queue as a new signed chunk; after
    BROADCAST_MAX_ATTEMPTS deliveries, on the dead-letter queue instead. Returns where it went ("retry",
    "dead-letter"); raises when SQS refused it or there is no dead-letter queue to send it to."""
    attempt = chunk.attempt + 1
    if attempt < int(ws_settings.BROADCAST_MAX_ATTEMPTS):
        sqs_client().send_message(QueueUrl=ws_settings.BROADCAST_QUEUE_URL, MessageBody=_chunk_body(
            chunk, failed, n=attempt), DelaySeconds=retry_delay(attempt))
        return "retry"
    _dead_letter(chunk, failed, attempts=attempt)
    return "dead-letter"


def handle_sqs_event(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    """Post every broadcast chunk of an SQS batch; the answer lists the chunks to deliver again
    (``{"batchItemFailures": [{"itemIdentifier": <messageId>}]}``, the ``ReportBatchItemFailures`` contract)."""
    from django.db import close_old_connections

    records = [r for r in event.get("Records", []) if isinstance(r, dict)]
    ids = [str(r.get("messageId", "")) for r in records]
    close_old_connections()
    try:
        failures = _handle(records)
    except Exception:
        logger.exception("Broadcast worker failed; every chunk of the batch will be delivered again")
        failures = ids
    finally:
        close_old_connections()
    return {"batchItemFailures": [{"itemIdentifier": message_id} for message_id in failures]}


def _handle(records: list[dict[str, Any]]) -> list[str]:
    from . import observability
    from .messaging import _sending, _tally, mark_gone_and_announce
    from .sender import FORBIDDEN, GONE, SENT, get_sender
    from .store import get_store

    failures: list[str] = []
    chunks: list[_Chunk] = []
    for record in records:
        try:
            chunks.append(_parse(record))
        except (KeyError, TypeError, ValueError, binascii.Error, signing.BadSignature) as exc:
            # Kept for the dead-letter queue (after maxReceiveCount), where somebody can look at it.
            logger.error("Unreadable broadcast chunk %s: %s", record.get("messageId"), exc)
            failures.append(str(record.get("messageId", "")))
    if not chunks:
        return failures
    outcomes = get_sender().post_groups([(c.posts, c.payload) for c in chunks], **_sending())
    gone: list[str] = []
    counts = {observability.BROADCAST_RETRIED: 0, observability.BROADCAST_REFUSED: 0,
              observability.BROADCAST_DEAD_LETTERED: 0}
    for chunk, results in zip(chunks, outcomes, strict=True):
        summary, _forbidden = _tally(chunk.posts, results)  # counted and recorded as every broadcast is
        gone += summary.gone_ids
        retry: list[Any] = []
        refused: list[Any] = []
        for post, outcome in zip(chunk.posts, results, strict=True):
            if outcome.status in (SENT, GONE):
                continue
            if outcome.status == FORBIDDEN:
                logger.error("Broadcast chunk %s: @connections refused (403) %s: the function needs "
                             "execute-api:ManageConnections; not retried", chunk.message_id, post.endpoint)
                refused.append(post)
            elif refused_for_good(outcome):
                logger.error("Broadcast chunk %s: @connections refused %s for good (%s); not retried",
                             chunk.message_id, post.connection_id, outcome.detail)
                refused.append(post)
            else:
                retry.append(post)
        counts[observability.BROADCAST_REFUSED] += len(refused)
        if refused and ws_settings.BROADCAST_DEAD_LETTER_QUEUE_URL:
            # Not retried (no retry can pass), but not dropped either: a 403 passes once the function's permission
            # is fixed, and the dead-letter queue's alarm tells somebody; redrive it then.
            try:
                _dead_letter(chunk, refused, attempts=chunk.attempt + 1, refused=True)
            except Exception as exc:
                logger.warning("Broadcast chunk %s: could not put the %d refused recipient(s) on the dead-letter "
                               "queue (%s), so SQS will deliver the whole chunk again", chunk.message_id,
                               len(refused), exc)
                failures.append(chunk.message_id)
                continue
        if not retry:
            continue
        try:
            where = _requeue(chunk, retry)
        except Exception as exc:
            # SQS delivers the whole chunk again: its recipients that got the message get it twice.
            logger.warning("Broadcast chunk %s: %d sent, %d gone, %d failed; could not queue the %d to retry (%s), "
                           "so SQS will deliver the whole chunk again", chunk.message_id, summary.sent,
                           summary.gone, summary.failed, len(retry), exc)
            failures.append(chunk.message_id)
            continue
        key = observability.BROADCAST_RETRIED if where == "retry" else observability.BROADCAST_DEAD_LETTERED
        counts[key] += len(retry)
        log = logger.warning if where == "retry" else logger.error
        log("Broadcast chunk %s (delivery %d): %d sent, %d gone, %d failed; %d %s", chunk.message_id,
            chunk.attempt + 1, summary.sent, summary.gone, summary.failed, len(retry),
            "queued again" if where == "retry" else "still failing, sent to the dead-letter queue")
    observability.record_counts(counts)
    if gone:
        mark_gone_and_announce(get_store(), gone)  # and presence groups they were in hear that they left
    return failures
