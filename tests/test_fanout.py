"""Broadcasts through SQS, against moto in server mode (the queue, its dead-letter queue and redrive policy) and a
real HTTP @connections endpoint that can throttle (tests/fault_server.py)."""

from __future__ import annotations

import asyncio
import base64
import json
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3
import pytest
from django.conf import settings
from django.test import override_settings

from django_aws_api_gateway_websockets import fanout, observability
from django_aws_api_gateway_websockets.gateway.sqs_poller import SqsPoller, SqsPollerConfig, failed_ids
from django_aws_api_gateway_websockets.messaging import send_to_group
from django_aws_api_gateway_websockets.store import Connection, get_store
from django_aws_api_gateway_websockets.testing import default_handler
from tests.sqs import Queues, drain, queue_settings

pytestmark = pytest.mark.django_db


def members(group: str, ids: list[str]) -> None:
    store = get_store()
    for cid in ids:
        store.connect(Connection(connection_id=cid, domain_name="127.0.0.1", stage=""))
        store.join(cid, group)


# The producer ------------------------------------------------------------------------------------------------
def test_chunks_keep_to_the_count_and_to_256_kib() -> None:
    recipients = [(f"https://api{i % 3}.execute-api.us-east-1.amazonaws.com/prod", f"{i:06d}-{'x' * 40}=")
                  for i in range(5000)]
    payload = bytes(range(256)) * 512  # 128 KiB, binary
    with override_settings(WEBSOCKETS={**settings.WEBSOCKETS, "BROADCAST_CHUNK_SIZE": 5000}):
        bodies = fanout.chunk_bodies(recipients, payload, "b1")
    seen = []
    for body in bodies:
        assert len(body.encode()) <= fanout.MAX_SQS_BYTES
        message = json.loads(body)
        assert base64.b64decode(message["payload"]) == payload and message["id"] == "b1"
        seen += [(endpoint, cid) for endpoint, ids in message["to"].items() for cid in ids]
    assert sorted(seen) == sorted(recipients) and len(bodies) > 1  # all of them, once; split by size
    with override_settings(WEBSOCKETS={**settings.WEBSOCKETS, "BROADCAST_CHUNK_SIZE": 500}):
        assert [sum(len(v) for v in json.loads(b)["to"].values()) for b in fanout.chunk_bodies(recipients[:1234], b"{}", "b2")] \
            == [500, 500, 234]


def test_small_groups_post_directly_and_big_ones_are_queued(queues: Queues, moto_server: str, fault_server: Any) -> None:
    members("small", ["ok-s1=", "ok-s2=", "ok-s3="])
    members("big", [f"ok-b{i}=" for i in range(10)])
    with queue_settings(queues, moto_server, fault_server.url):
        direct = send_to_group("small", {"n": 1})
        assert (direct.sent, direct.enqueued, direct.queued) == (3, None, 0)
        queued = send_to_group("big", {"n": 2}, message_id=True)
    assert queued.enqueued is not None and (queued.sent, queued.queued) == (0, 10)
    assert (queued.enqueued.chunks, queued.enqueued.recipients, len(queued.enqueued.sqs_message_ids)) == (3, 10, 3)
    assert queues.depth(queues.url) == 3
    assert not any(k.startswith("ok-b") for k in fault_server.received)  # nothing posted by the caller


# The worker, through the Lambda handler -----------------------------------------------------------------------
def test_the_handler_delivers_every_chunk_once_and_marks_gone(queues: Queues, moto_server: str,
                                                              fault_server: Any) -> None:
    ids = [f"ok-{i}=" for i in range(9)] + ["gone-1=", "throttle2-1="]  # one gone, one throttled twice
    members("room", ids)
    with queue_settings(queues, moto_server, fault_server.url):
        result = send_to_group("room", {"text": "hello"}, message_id="m-1")
        answers = drain(queues)
    assert result.enqueued is not None and result.enqueued.chunks == 3
    assert answers and all(a == {"batchItemFailures": []} for a in answers)
    for cid in ids:
        if cid != "gone-1=":
            assert [json.loads(d) for d in fault_server.received[cid]] == [{"text": "hello", "messageId": "m-1"}]
    assert fault_server.attempts["throttle2-1="] == 3  # two 429s, backed off, then delivered
    assert get_store().get("gone-1=").connected is False  # type: ignore[union-attr]
    assert [c.connection_id for c in get_store().group_connections("room") if c.connection_id == "gone-1="] == []


def chunk(to: Any, payload: str = "e30=", **more: Any) -> str:
    """A chunk body as the producer signs it, for chunks the producer would never write."""
    return fanout.sign_chunk(json.dumps({"v": 1, "id": "b", "payload": payload, "to": to, **more}))


def test_unreadable_records_are_failures_and_the_rest_is_delivered(fault_server: Any) -> None:
    good = chunk({fault_server.url: ["ok-r1="]}, base64.b64encode(b'{"a":1}').decode())
    records = [{"messageId": "m-good", "body": good, "eventSource": "aws:sqs"},
               {"messageId": "m-bad", "body": "not json", "eventSource": "aws:sqs"},
               {"messageId": "m-b64", "body": chunk({}, "%%%"), "eventSource": "aws:sqs"},
               {"messageId": "m-v9", "body": chunk({}, v=9), "eventSource": "aws:sqs"},
               {"messageId": "m-far", "body": chunk({"http://attacker.example": ["ok-x="]}), "eventSource": "aws:sqs"},
               {"messageId": "m-ids", "body": chunk({fault_server.url: [1, None, "a b", "x" * 200]}),
                "eventSource": "aws:sqs"},
               {"messageId": "m-nl", "body": chunk({fault_server.url: ["ok-nl=\n"]}), "eventSource": "aws:sqs"},
               {"messageId": "m-type", "body": {"v": 1}, "eventSource": "aws:sqs"}]
    with override_settings(WEBSOCKETS={**settings.WEBSOCKETS, "ENDPOINT_URL": None}):
        answer = default_handler()({"Records": records}, None)
    assert answer == {"batchItemFailures": [{"itemIdentifier": m} for m in
                                            ("m-bad", "m-b64", "m-v9", "m-far", "m-ids", "m-nl", "m-type")]}
    assert dict(fault_server.received) == {"ok-r1=": [b'{"a":1}']}


def test_the_worker_posts_only_chunks_this_project_signed(fault_server: Any) -> None:
    """Whoever else can write to the queue cannot make the function post (with its access key id and session token
    in the headers) to a host of their choosing, nor send their own text to the app's connections."""
    body = json.dumps({"v": 1, "id": "b", "payload": base64.b64encode(b"forged").decode(),
                       "to": {fault_server.url: ["ok-unsigned="]}})
    signed = chunk({fault_server.url: ["ok-signed="]})
    tampered = signed.replace("ok-signed=", "ok-tampered=")
    with override_settings(SECRET_KEY="another-project-entirely-0123456789-abcdefghijklmnopqrstuvwxyz"):
        foreign = chunk({fault_server.url: ["ok-foreign="]})
    resigned = body[:-1] + ',"sig":"' + signed.rsplit('"sig":"', 1)[1]  # a real signature, of another body
    records = [{"messageId": f"m-{n}", "body": b, "eventSource": "aws:sqs"}
               for n, b in (("unsigned", body), ("tampered", tampered), ("foreign", foreign), ("resigned", resigned),
                            ("ok", signed))]
    answer = default_handler()({"Records": records}, None)
    assert answer == {"batchItemFailures": [{"itemIdentifier": m} for m in
                                            ("m-unsigned", "m-tampered", "m-foreign", "m-resigned")]}
    assert dict(fault_server.received) == {"ok-signed=": [b"{}"]}


def test_chunks_signed_before_a_secret_key_rotation_are_still_delivered(fault_server: Any) -> None:
    old_key = "the-previous-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz-ABCDEF"
    with override_settings(SECRET_KEY=old_key):
        body = chunk({fault_server.url: ["ok-rotated="]})
    with override_settings(SECRET_KEY_FALLBACKS=[old_key]):
        assert default_handler()({"Records": [{"messageId": "m", "body": body, "eventSource": "aws:sqs"}]},
                                 None) == {"batchItemFailures": []}
    assert fault_server.received["ok-rotated="] == [b"{}"]


def test_a_worker_that_breaks_hands_the_whole_batch_back(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(records: Any) -> Any:
        raise RuntimeError("store down")

    monkeypatch.setattr(fanout, "_handle", broken)
    records = [{"messageId": m, "body": "{}", "eventSource": "aws:sqs"} for m in ("m1", "m2")]
    assert default_handler()({"Records": records}, None) == {
        "batchItemFailures": [{"itemIdentifier": "m1"}, {"itemIdentifier": "m2"}]}


def test_the_worker_posts_signed_requests_only_where_the_app_would() -> None:
    with override_settings(WEBSOCKETS={**settings.WEBSOCKETS, "ENDPOINT_URL": None}):
        assert fanout.endpoint_allowed("https://abc.execute-api.eu-west-1.amazonaws.com/prod")
        assert fanout.endpoint_allowed("http://127.0.0.1:8000/local")
        assert not fanout.endpoint_allowed("http://127.example.com/local")
        assert not fanout.endpoint_allowed("ftp://x")
    with override_settings(WEBSOCKETS={**settings.WEBSOCKETS, "ENDPOINT_URL": "https://ws.example.com/chat/"}):
        assert fanout.endpoint_allowed("https://ws.example.com/chat")
        assert not fanout.endpoint_allowed("https://abc.execute-api.eu-west-1.amazonaws.com/prod")


def test_failed_ids_read_answers_as_lambda_does() -> None:
    batch = ["a", "b"]
    assert failed_ids(None, batch) == failed_ids({}, batch) == failed_ids({"batchItemFailures": []}, batch) == []
    assert failed_ids({"batchItemFailures": None}, batch) == []
    assert failed_ids({"batchItemFailures": [{"itemIdentifier": "b"}]}, batch) == ["b"]
    for unreadable in ({"batchItemFailures": [{"itemIdentifier": "zz"}]}, {"batchItemFailures": [{"id": "a"}]},
                       {"batchItemFailures": "a"}, ["a"], "oops"):
        assert failed_ids(unreadable, batch) == batch


def recipients_of(body: str) -> list[str]:
    return [cid for ids in json.loads(body)["to"].values() for cid in ids]


def test_only_the_recipients_that_can_still_succeed_are_retried_and_nobody_gets_a_duplicate(
        queues: Queues, moto_server: str, fault_server: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """One chunk whose recipients fail in every way: the worker acknowledges it and queues a new chunk of only the
    retryable failures (throttled, 5xx, dropped), so the others get the message exactly once; 400, 403 and 413 are
    refused for good and never posted again; a recipient still failing after BROADCAST_MAX_ATTEMPTS deliveries goes
    to the dead-letter queue, alone."""
    ok = [f"ok-{i}=" for i in range(6)]
    recovers = ["throttle2-a=", "drop2-b="]  # fail their first delivery (1 try + 1 retry), then get through
    refused = ["bad-1=", "forbidden-1=", "big-1="]
    members("mixed", [*ok, *recovers, *refused, "throttle999-z=", "gone-1="])
    counted: Counter[str] = Counter()
    monkeypatch.setattr(observability, "record_counts", counted.update)  # what the metrics would say
    with queue_settings(queues, moto_server, fault_server.url, MAX_RETRIES=1, BROADCAST_CHUNK_SIZE=50,
                        BROADCAST_MAX_ATTEMPTS=3, BROADCAST_RETRY_DELAY=0,
                        BROADCAST_DEAD_LETTER_QUEUE_URL=queues.dlq_url):
        result = send_to_group("mixed", {"text": "once"}, message_id="m-once")
        assert result.enqueued is not None and result.enqueued.chunks == 1
        answers = drain(queues)
    assert answers and all(a == {"batchItemFailures": []} for a in answers)  # nothing redelivered in full
    assert len(answers) == 3  # the chunk, then two chunks of retries (the last one ends in the dead-letter queue)
    for cid in ok + recovers:
        assert [json.loads(d) for d in fault_server.received[cid]] == [{"text": "once", "messageId": "m-once"}], cid
    for cid in ok + refused:
        assert fault_server.attempts[cid] == 1, cid  # posted once: never retried
    assert fault_server.attempts["throttle2-a="] == 3 and fault_server.attempts["drop2-b="] == 3
    assert fault_server.attempts["throttle999-z="] == 3 * 2  # 3 deliveries x (1 try + 1 retry)
    assert get_store().get("gone-1=").connected is False  # type: ignore[union-attr]
    bodies = {tuple(recipients_of(m["Body"])): m["Body"] for m in queues.client.receive_message(
        QueueUrl=queues.dlq_url, MaxNumberOfMessages=10, WaitTimeSeconds=1)["Messages"]}
    dead = {recipients: json.loads(body) for recipients, body in bodies.items()}
    # The refused recipients are not retried but kept (a 403 passes once the permission is fixed), and the one
    # still failing after BROADCAST_MAX_ATTEMPTS deliveries, alone.
    assert sorted(dead) == [("bad-1=", "forbidden-1=", "big-1="), ("throttle999-z=",)]
    assert dead[("throttle999-z=",)]["attempts"] == 3 and "refused" not in dead[("throttle999-z=",)]
    assert dead[("bad-1=", "forbidden-1=", "big-1=")]["refused"] is True
    assert counted == {"BroadcastRefused": 3, "BroadcastRetried": 3 + 1, "BroadcastDeadLettered": 1}
    # Redriven to the queue (the body as it is in the dead-letter queue), it is a chunk like any other: its
    # signature holds, and it gets BROADCAST_MAX_ATTEMPTS fresh deliveries.
    fault_server.reset()
    queues.client.send_message(QueueUrl=queues.url, MessageBody=bodies[("throttle999-z=",)])
    with queue_settings(queues, moto_server, fault_server.url, MAX_RETRIES=1, BROADCAST_MAX_ATTEMPTS=3,
                        BROADCAST_RETRY_DELAY=0, BROADCAST_DEAD_LETTER_QUEUE_URL=queues.dlq_url):
        assert all(a == {"batchItemFailures": []} for a in drain(queues))
    assert fault_server.attempts["throttle999-z="] == 3 * 2


def test_when_the_retry_cannot_be_queued_the_whole_chunk_is_handed_back_to_sqs(
        queues: Queues, moto_server: str, fault_server: Any) -> None:
    """If SQS refuses the chunk of retries (here: its queue was deleted), the original is reported failed so SQS
    delivers it again: nothing is lost, and only then do its delivered recipients get it twice."""
    members("fallback", ["ok-f1=", "ok-f2=", "ok-f3=", "throttle999-f="])
    with queue_settings(queues, moto_server, fault_server.url, MAX_RETRIES=0, BROADCAST_RETRY_DELAY=0):
        send_to_group("fallback", {"n": 1})
        event, messages = queues.receive_event()
    gone_queue = queues.client.create_queue(QueueName=f"deleted-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    queues.client.delete_queue(QueueUrl=gone_queue)
    with queue_settings(queues, moto_server, fault_server.url, MAX_RETRIES=0, BROADCAST_QUEUE_URL=gone_queue):
        answer = default_handler()(event, None)
    assert answer == {"batchItemFailures": [{"itemIdentifier": messages[0]["MessageId"]}]}
    assert len(fault_server.received["ok-f1="]) == 1


def test_refused_recipients_the_dead_letter_queue_cannot_take_hand_the_chunk_back_to_sqs(
        queues: Queues, moto_server: str, fault_server: Any) -> None:
    """A recipient refused for good is kept in the dead-letter queue; if SQS refuses that too (here: the queue was
    deleted), the original is reported failed so SQS delivers it again (or redrives it): never dropped silently."""
    members("refused", ["ok-r1=", "ok-r2=", "ok-r3=", "forbidden-r="])
    with queue_settings(queues, moto_server, fault_server.url, MAX_RETRIES=0):
        send_to_group("refused", {"n": 1})
        event, messages = queues.receive_event()
    gone_queue = queues.client.create_queue(QueueName=f"deleted-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    queues.client.delete_queue(QueueUrl=gone_queue)
    with queue_settings(queues, moto_server, fault_server.url, MAX_RETRIES=0,
                        BROADCAST_DEAD_LETTER_QUEUE_URL=gone_queue):
        answer = default_handler()(event, None)
    assert answer == {"batchItemFailures": [{"itemIdentifier": messages[0]["MessageId"]}]}
    assert fault_server.attempts["forbidden-r="] == 1


def test_without_a_dead_letter_queue_url_sqs_redrive_takes_the_recipients_that_still_fail(
        queues: Queues, moto_server: str, fault_server: Any) -> None:
    """Through the local gateway's poller, with no BROADCAST_DEAD_LETTER_QUEUE_URL: the last chunk of retries is
    reported as a batch item failure, received again after the visibility timeout, and moved to the DLQ after
    maxReceiveCount by the queue's redrive policy. It holds only the stuck recipient: the others got it once."""
    members("stuck", ["ok-1=", "ok-2=", "ok-3=", "ok-4=", "throttle999-1="])
    with queue_settings(queues, moto_server, fault_server.url, MAX_RETRIES=1, BROADCAST_MAX_ATTEMPTS=2,
                        BROADCAST_RETRY_DELAY=0):
        result = send_to_group("stuck", {"text": "stuck"})
        assert result.enqueued is not None and result.enqueued.chunks == 2
        handler = default_handler()
        executor = ThreadPoolExecutor(2)

        async def run_until_dead_lettered() -> None:
            poller = SqsPoller(SqsPollerConfig(queue_url=queues.url, endpoint_url=moto_server, concurrency=1),
                               handler, executor)
            await poller.start()
            try:
                deadline = time.monotonic() + 30
                while queues.depth(queues.dlq_url) == 0 or queues.depth(queues.url):
                    assert time.monotonic() < deadline, "the chunk never reached the dead-letter queue"
                    await asyncio.sleep(0.2)
            finally:
                await poller.stop()

        asyncio.run(run_until_dead_lettered())
        executor.shutdown()
    dead = queues.client.receive_message(QueueUrl=queues.dlq_url, MaxNumberOfMessages=10)["Messages"]
    assert len(dead) == 1 and recipients_of(dead[0]["Body"]) == ["throttle999-1="]
    # 1 delivery of the chunk, then its retry chunk received twice (maxReceiveCount 2): 3 x (1 try + 1 retry)
    assert fault_server.attempts["throttle999-1="] == 6
    for cid in ("ok-1=", "ok-2=", "ok-3=", "ok-4="):
        assert len(fault_server.received[cid]) == 1, cid


def test_the_poller_polls_on_after_a_failed_delete(moto_server: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A DeleteMessageBatch that fails (a network blip, fault-injected) must not end the gateway's poll loops:
    the next messages are still handed to the handler (those not deleted come back after the visibility timeout,
    as they would on Lambda)."""
    client = boto3.client("sqs", endpoint_url=moto_server, region_name="us-east-1")
    url = client.create_queue(QueueName=f"blip-{uuid.uuid4().hex[:8]}",
                              Attributes={"VisibilityTimeout": "30"})["QueueUrl"]
    seen: list[str] = []

    def handler(event: Any, context: Any) -> Any:
        seen.extend(record["body"] for record in event["Records"])
        return {"batchItemFailures": []}

    async def run() -> None:
        poller = SqsPoller(SqsPollerConfig(queue_url=url, endpoint_url=moto_server, concurrency=2), handler,
                           ThreadPoolExecutor(2))
        deletes = poller.client.delete_message_batch
        failures = iter([ConnectionError("connection reset by peer")] * 2)

        def delete_after_blips(**kwargs: Any) -> Any:
            error = next(failures, None)
            if error is not None:
                raise error
            return deletes(**kwargs)

        monkeypatch.setattr(poller.client, "delete_message_batch", delete_after_blips)
        await poller.start()
        try:
            for body in ("first", "second", "after the blips"):
                client.send_message(QueueUrl=url, MessageBody=body)
                deadline = time.monotonic() + 10
                while body not in seen:
                    assert time.monotonic() < deadline, f"{body!r} never reached the handler: {seen}"
                    await asyncio.sleep(0.1)
        finally:
            await poller.stop()

    asyncio.run(run())
    assert seen == ["first", "second", "after the blips"]
