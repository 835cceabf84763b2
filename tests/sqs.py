"""SQS on moto server for the broadcast queue's tests: a queue with its dead-letter queue (the `queues` fixture in
tests/conftest.py), the settings that send big groups through it, and the event source mapping's loop."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
from django.conf import settings
from django.test import override_settings

from django_aws_api_gateway_websockets.gateway.sqs_poller import sqs_event
from django_aws_api_gateway_websockets.testing import default_handler


@dataclass
class Queues:
    url: str
    dlq_url: str
    client: Any

    def depth(self, url: str) -> int:
        attributes = self.client.get_queue_attributes(
            QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"])
        return sum(int(v) for v in attributes["Attributes"].values())

    def receive_event(self) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """One ReceiveMessage, turned into the event Lambda's event source mapping would send."""
        arn = self.client.get_queue_attributes(QueueUrl=self.url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        messages = self.client.receive_message(QueueUrl=self.url, MaxNumberOfMessages=10, AttributeNames=["All"],
                                               WaitTimeSeconds=1).get("Messages", [])
        return sqs_event(messages, arn, "us-east-1"), messages


def make_queues(moto_server: str) -> Iterator[Queues]:
    client = boto3.client("sqs", endpoint_url=moto_server, region_name="us-east-1")
    name = f"broadcasts-{uuid.uuid4().hex[:8]}"
    dlq_url = client.create_queue(QueueName=f"{name}-dlq")["QueueUrl"]
    dlq_arn = client.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    url = client.create_queue(QueueName=name, Attributes={
        "VisibilityTimeout": "1", "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "2"})
    })["QueueUrl"]
    yield Queues(url, dlq_url, client)
    client.delete_queue(QueueUrl=url)
    client.delete_queue(QueueUrl=dlq_url)


def queue_settings(queues: Queues, moto_server: str, endpoint: str, **more: Any) -> Any:
    return override_settings(WEBSOCKETS={**settings.WEBSOCKETS, "ENDPOINT_URL": endpoint,
                                         "BROADCAST_QUEUE_URL": queues.url, "SQS_ENDPOINT_URL": moto_server,
                                         "BROADCAST_QUEUE_THRESHOLD": 3, "BROADCAST_CHUNK_SIZE": 4, **more})


def drain(queues: Queues, timeout: float = 30) -> list[Any]:
    """Receive from the queue and hand each batch to the Lambda handler until the queue is empty, deleting what the
    answer does not report failed (what Lambda's event source mapping does); the answers, in order."""
    handler = default_handler()
    answers = []
    deadline = time.monotonic() + timeout
    while queues.depth(queues.url):
        assert time.monotonic() < deadline, "the queue never emptied"
        event, messages = queues.receive_event()
        if not messages:
            continue
        answer = handler(event, None)
        answers.append(answer)
        failed = {f["itemIdentifier"] for f in answer["batchItemFailures"]}
        done = [m for m in messages if m["MessageId"] not in failed]
        if done:
            queues.client.delete_message_batch(QueueUrl=queues.url, Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done)])
    return answers
