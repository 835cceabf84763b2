"""The Lambda handler's JSON logs and EMF metrics (AWS Lambda Powertools), read back from stdout."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest

from django_aws_api_gateway_websockets import events, observability
from django_aws_api_gateway_websockets.messaging import SendResult

CONNECTION = events.Connection(api_id="a1b2c3d4e5", region="eu-west-1", stage="dev")


class Context:
    aws_request_id = "11111111-2222-3333-4444-555555555555"


@pytest.fixture
def instrument(monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> Iterator[Any]:
    """instrument() as on Lambda, with the app's loggers restored afterwards (it reconfigures them). A service
    name of its own per test: Powertools keeps one logger, and its output stream, per service name."""
    monkeypatch.setenv("WEBSOCKETS_OBSERVABILITY", "1")
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "chat-test" if request.node.name.startswith("test_each")
                       else f"chat-{request.node.name}")
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "ChatTest")
    saved = {name: (lg.handlers[:], lg.propagate, lg.level) for name in ("django_aws_api_gateway_websockets", "django")
             for lg in [logging.getLogger(name)]}
    yield observability.instrument
    for name, (handlers, propagate, level) in saved.items():
        logger = logging.getLogger(name)
        logger.handlers, logger.propagate, logger.level = handlers, propagate, level
    observability._metrics = None


def emitted(capsys: pytest.CaptureFixture[str]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The log lines and the metrics (name -> (value, dimensions)) printed since the last call."""
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    metrics: dict[str, Any] = {}
    for line in lines:
        for directive in line.get("_aws", {}).get("CloudWatchMetrics", []):
            for metric in directive["Metrics"]:
                dims = {d: line[d] for d in directive["Dimensions"][0]}
                metrics[metric["Name"]] = (sum(line[metric["Name"]]), dims)
    return [line for line in lines if "_aws" not in line], metrics


def test_off_lambda_the_handler_is_returned_untouched(monkeypatch: pytest.MonkeyPatch) -> None:
    def handler(event: Any, context: Any) -> dict[str, Any]:
        return {"statusCode": 200}

    monkeypatch.delenv("AWS_LAMBDA_FUNCTION_NAME", raising=False)
    monkeypatch.delenv("WEBSOCKETS_OBSERVABILITY", raising=False)
    assert observability.instrument(handler) is handler
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "fn")
    assert observability.enabled()
    monkeypatch.setenv("WEBSOCKETS_OBSERVABILITY", "0")
    assert not observability.enabled()


def test_each_event_logs_one_json_line_with_its_keys_and_counts_metrics(instrument: Any,
                                                                       capsys: pytest.CaptureFixture[str]) -> None:
    library = logging.getLogger("django_aws_api_gateway_websockets")

    def handler(event: Any, context: Any) -> dict[str, Any]:
        library.warning("inside the route")
        if event["requestContext"].get("routeKey") == "post":
            observability.record_broadcast(SendResult(sent=2, gone=1, failed=0))
        return {"statusCode": 200, "body": "{}"}

    wrapped = instrument(handler)
    capsys.readouterr()
    wrapped(CONNECTION.connect_event(), Context())
    logs, metrics = emitted(capsys)
    inner, summary = logs
    assert inner["message"] == "inside the route" and inner["connection_id"] == CONNECTION.connection_id
    assert summary["message"] == "connect event" and summary["status"] == 200 and summary["route"] == "$connect"
    assert summary["lambda_request_id"] == Context.aws_request_id and summary["request_id"]
    assert summary["service"] == "chat-test" and summary["duration_ms"] >= 0
    assert metrics == {"ColdStart": (1, {"service": "chat-test"}), "Connects": (1, {"service": "chat-test"})}

    wrapped(CONNECTION.message_event('{"action": "post"}', "post"), Context())
    logs, metrics = emitted(capsys)
    assert logs[-1]["route"] == "post" and "connection_id" in logs[-1]
    assert metrics == {"Messages": (1, {"service": "chat-test", "route": "post"}),
                       "BroadcastSent": (2, {"service": "chat-test"}), "BroadcastGone": (1, {"service": "chat-test"}),
                       "BroadcastFailed": (0, {"service": "chat-test"})}

    wrapped(CONNECTION.disconnect_event(), Context())
    logs, metrics = emitted(capsys)
    assert metrics == {"Disconnects": (1, {"service": "chat-test"})}
    # The keys of one event do not leak into the next line logged outside an event.
    library.warning("between events")
    logs, _ = emitted(capsys)
    assert "connection_id" not in logs[-1]


@pytest.mark.parametrize(("status", "expected"), [
    (403, {"ClientErrors": 1}), (429, {"ClientErrors": 1, "Throttles": 1}), (500, {"ServerErrors": 1}),
])
def test_error_statuses(instrument: Any, capsys: pytest.CaptureFixture[str], status: int,
                        expected: dict[str, int]) -> None:
    wrapped = instrument(lambda event, context: {"statusCode": status})
    wrapped(CONNECTION.message_event("{}", "join"), None)  # warm: the cold start is counted once
    wrapped(CONNECTION.connect_event(), None)
    logs, metrics = emitted(capsys)
    assert logs[-1]["status"] == status and logs[-1]["lambda_request_id"] == ""
    assert {name: value for name, (value, _dims) in metrics.items() if name in expected or name == "Connects"} \
        == expected  # a refused connect is no connect


def test_malformed_and_http_events_and_a_raising_handler(instrument: Any, capsys: pytest.CaptureFixture[str]) -> None:
    wrapped = instrument(lambda event, context: {"statusCode": 400})
    wrapped(["not", "an", "object"], None)
    wrapped({"requestContext": {"http": {"path": "/admin/"}, "requestId": "r1"}, "rawPath": "/admin/"}, None)
    logs, metrics = emitted(capsys)
    assert [(log["message"], log.get("route")) for log in logs if log["message"].endswith(" event")] == [
        ("invalid event", None), ("http event", "/admin/")]

    def broken(event: Any, context: Any) -> Any:
        raise RuntimeError("bug")

    with pytest.raises(RuntimeError):
        instrument(broken)(CONNECTION.connect_event(), None)
    logs, metrics = emitted(capsys)
    (error,) = [log for log in logs if log["level"] == "ERROR"]
    assert "RuntimeError: bug" in error["exception"] and error["connection_id"] == CONNECTION.connection_id
    assert logs[-1]["status"] == 500 and metrics["ServerErrors"][0] == 1


def test_broadcasts_outside_an_instrumented_handler_record_nothing() -> None:
    observability._metrics = None
    observability.record_broadcast(SendResult(sent=1))  # no error, nothing to publish to


def test_an_sqs_batch_of_broadcast_chunks_logs_one_line_and_counts_chunks(instrument: Any,
                                                                          capsys: pytest.CaptureFixture[str]) -> None:
    from django_aws_api_gateway_websockets.gateway.sqs_poller import sqs_event

    messages = [{"MessageId": f"m{i}", "ReceiptHandle": f"r{i}", "Body": "{}"} for i in range(3)]
    event = sqs_event(messages, "arn:aws:sqs:eu-west-1:123456789012:broadcasts", "eu-west-1")

    def worker(event: Any, context: Any) -> Any:
        observability.record_broadcast(SendResult(sent=7, failed=1))
        return {"batchItemFailures": [{"itemIdentifier": "m1"}]}

    assert instrument(worker)(event, Context()) == {"batchItemFailures": [{"itemIdentifier": "m1"}]}
    logs, metrics = emitted(capsys)
    line = logs[-1]
    assert (line["message"], line["event_type"], line["records"], line["batch_item_failures"], line["status"]) == \
        ("sqs event", "sqs", "3", 1, 200)
    assert {name: value for name, (value, _dims) in metrics.items()
            if name.startswith(("Queue", "Broadcast"))} == {"QueueChunks": 2, "QueueChunkFailures": 1,
                                                             "BroadcastSent": 7, "BroadcastGone": 0, "BroadcastFailed": 1}


def test_the_broadcast_workers_counts_are_metrics_when_not_zero(instrument: Any,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    def worker(event: Any, context: Any) -> Any:
        observability.record_counts({observability.BROADCAST_REFUSED: 2, observability.BROADCAST_RETRIED: 0,
                                     observability.BROADCAST_DEAD_LETTERED: 1})
        return {"statusCode": 200, "body": "{}"}

    instrument(worker)(CONNECTION.message_event('{"action": "post"}', "post"), Context())
    _, metrics = emitted(capsys)
    assert {name: value for name, (value, _dims) in metrics.items() if name.startswith("Broadcast")} == {
        "BroadcastRefused": 2, "BroadcastDeadLettered": 1}
