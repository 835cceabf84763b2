"""The local gateway's stand-in for Lambda's SQS event source mapping: it polls a real SQS endpoint (moto in server
mode, or AWS) and invokes the handler with the events Lambda would send.

Like the event source mapping: long-polling ``ReceiveMessage`` of up to ``batch_size`` messages, at most
``concurrency`` batches in the handler at once, the ``Records`` event shape (``messageId``, ``receiptHandle``,
``body``, ``attributes`` with ``ApproximateReceiveCount``, ``eventSource: aws:sqs``, ``eventSourceARN``, ...), and
``ReportBatchItemFailures``: the messages of a batch are deleted except those the handler lists in
``batchItemFailures``; a handler that raises, or answers with an identifier that is not in the batch, fails the
whole batch. What is not deleted becomes visible again after the queue's visibility timeout, and SQS itself moves
a message to the dead-letter queue once it was received ``maxReceiveCount`` times (the queue's redrive policy).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

logger = logging.getLogger("django_aws_api_gateway_websockets.gateway")

Handler = Callable[[Any, Any], Any]


@dataclass
class SqsPollerConfig:
    queue_url: str
    endpoint_url: str | None = None
    region: str = "us-east-1"
    batch_size: int = 10  # ReceiveMessage takes at most 10
    concurrency: int = 2  # batches in the handler at once (the mapping's MaximumConcurrency; 2 is its minimum)
    wait_seconds: int = 1  # long polling, kept short so the gateway stops quickly


def sqs_event(messages: list[dict[str, Any]], queue_arn: str, region: str) -> dict[str, Any]:
    """The event Lambda's SQS event source mapping sends for ``messages`` (as ReceiveMessage returned them)."""
    return {"Records": [{
        "messageId": m["MessageId"],
        "receiptHandle": m["ReceiptHandle"],
        "body": m["Body"],
        "attributes": dict(m.get("Attributes") or {}),
        "messageAttributes": {name: {"stringValue": a.get("StringValue"), "binaryValue": a.get("BinaryValue"),
                                     "stringListValues": [], "binaryListValues": [], "dataType": a.get("DataType")}
                              for name, a in (m.get("MessageAttributes") or {}).items()},
        "md5OfBody": m.get("MD5OfBody") or hashlib.md5(m["Body"].encode(), usedforsecurity=False).hexdigest(),
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": region,
    } for m in messages]}


def failed_ids(response: Any, batch_ids: list[str]) -> list[str]:
    """The message ids to leave on the queue, read as Lambda reads a ``ReportBatchItemFailures`` answer: none for an
    empty or missing list; all of them for an answer it cannot read or an identifier not in the batch."""
    if response is None or response == {} or response == "":
        return []
    failures = response.get("batchItemFailures") if isinstance(response, dict) else batch_ids
    if failures is None:
        return []
    if not isinstance(failures, list):
        return batch_ids
    ids = []
    for failure in failures:
        identifier = failure.get("itemIdentifier") if isinstance(failure, dict) else None
        if not isinstance(identifier, str) or identifier not in batch_ids:
            return batch_ids
        ids.append(identifier)
    return ids


class SqsPoller:
    """Polls one queue from the gateway's event loop; boto3 and the handler run in worker threads."""

    def __init__(self, config: SqsPollerConfig, handler: Handler, executor: ThreadPoolExecutor) -> None:
        import boto3

        self.config = config
        self.handler = handler
        self.executor = executor  # the gateway's "Lambda" pool: SQS batches share its concurrency
        self.io = ThreadPoolExecutor(max_workers=config.concurrency, thread_name_prefix="sqs-poller")
        self.client = boto3.session.Session().client("sqs", region_name=config.region,
                                                     endpoint_url=config.endpoint_url)
        self.queue_arn = ""
        self.batches = 0
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        attributes = await loop.run_in_executor(self.io, lambda: self.client.get_queue_attributes(
            QueueUrl=self.config.queue_url, AttributeNames=["QueueArn"]))
        self.queue_arn = attributes["Attributes"]["QueueArn"]
        self._tasks = [asyncio.ensure_future(self._poll()) for _ in range(max(1, self.config.concurrency))]
        logger.info("Polling %s for broadcast chunks (batches of %d, %d at once)", self.config.queue_url,
                    self.config.batch_size, self.config.concurrency)

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self.io.shutdown(wait=False, cancel_futures=True)

    async def _poll(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            try:
                answer = await loop.run_in_executor(self.io, self._receive)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the endpoint is down or refuses: wait and try again, as Lambda does
                logger.warning("SQS receive failed: %s", exc)
                await asyncio.sleep(1)
                continue
            messages = answer.get("Messages") or []
            if not messages:
                continue
            try:
                await self._invoke(messages)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the delete failed (the endpoint went away...): this poller polls on
                logger.warning("SQS batch of %d message(s) not deleted (%s): SQS delivers it again after the "
                               "visibility timeout", len(messages), exc)

    def _receive(self) -> dict[str, Any]:
        return dict(self.client.receive_message(
            QueueUrl=self.config.queue_url, MaxNumberOfMessages=max(1, min(10, self.config.batch_size)),
            WaitTimeSeconds=self.config.wait_seconds, AttributeNames=["All"], MessageAttributeNames=["All"]))

    async def _invoke(self, messages: list[dict[str, Any]]) -> None:
        loop = asyncio.get_running_loop()
        event = sqs_event(messages, self.queue_arn, self.config.region)
        ids = [m["MessageId"] for m in messages]
        logger.info("SQS batch of %d message(s) to the handler", len(ids))
        try:
            response = await loop.run_in_executor(self.executor, self.handler, event, None)
        except Exception:
            logger.exception("The handler raised on an SQS batch: all %d messages go back to the queue", len(ids))
            failed = ids
        else:
            failed = failed_ids(response, ids)
        self.batches += 1
        done = [{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)
                if m["MessageId"] not in failed]
        if failed:
            logger.info("%d of %d SQS messages go back to the queue", len(failed), len(ids))
        if done:
            await loop.run_in_executor(self.io, lambda: self.client.delete_message_batch(
                QueueUrl=self.config.queue_url, Entries=done))
