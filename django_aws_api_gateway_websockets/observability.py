"""Structured logs and CloudWatch metrics for the Lambda function, with AWS Lambda Powertools for Python.

``lambda_handler.py`` wraps its handler with :func:`instrument`. Each event then gives

- one JSON log line (Powertools Logger) with the connection id, route, event type, API Gateway request id,
  Lambda request id, status and duration; the app's own loggers (``django_aws_api_gateway_websockets``,
  ``django``) write JSON with the same keys while the event runs;
- CloudWatch metrics in Embedded Metric Format (Powertools Metrics, printed to stdout, no API calls), in the
  namespace ``POWERTOOLS_METRICS_NAMESPACE`` with the dimension ``service`` (``POWERTOOLS_SERVICE_NAME``):
  ``Connects``, ``Disconnects``, ``ClientErrors`` (4xx), ``ServerErrors`` (5xx), ``Throttles`` (429),
  ``ColdStart``, ``BroadcastSent`` / ``BroadcastGone`` / ``BroadcastFailed`` (every broadcast the event made,
  through :func:`record_broadcast`), ``QueueChunks`` / ``QueueChunkFailures`` (broadcast chunks an SQS batch
  delivered, or handed back to the queue), and ``Messages`` with the dimensions ``service`` and ``route``.

It is active on Lambda (``AWS_LAMBDA_FUNCTION_NAME`` is set) or when ``WEBSOCKETS_OBSERVABILITY=1``; elsewhere
(``runwsgateway``, tests) :func:`instrument` returns the handler unchanged and Powertools is never imported.

Powertools comes with the ``lambda`` extra (``pip install "django-aws-api-gateway-websockets[lambda]"``). Without
it, :func:`instrument` logs one warning and returns the handler unchanged: a function never fails its cold
start for want of its logging.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from typing import Any

from .events import is_sqs_event

Handler = Callable[[Any, Any], Any]

DEFAULT_NAMESPACE = "DjangoWebSockets"
DEFAULT_SERVICE = "django-websockets"
# Metric names (the CDK construct's dashboard and alarms use the same names).
CONNECTS, DISCONNECTS, MESSAGES = "Connects", "Disconnects", "Messages"
CLIENT_ERRORS, SERVER_ERRORS, THROTTLES, COLD_START = "ClientErrors", "ServerErrors", "Throttles", "ColdStart"
BROADCAST_SENT, BROADCAST_GONE, BROADCAST_FAILED = "BroadcastSent", "BroadcastGone", "BroadcastFailed"
# The queue worker's failed recipients: queued again (retryable), refused for good (a 4xx other than 410 and 429:
# never retried), and sent to the dead-letter queue after BROADCAST_MAX_ATTEMPTS.
BROADCAST_RETRIED, BROADCAST_REFUSED, BROADCAST_DEAD_LETTERED = (
    "BroadcastRetried", "BroadcastRefused", "BroadcastDeadLettered")
# Broadcast chunks an SQS invocation handled, and those it handed back to SQS (batch item failures).
QUEUE_CHUNKS, QUEUE_CHUNK_FAILURES = "QueueChunks", "QueueChunkFailures"
_EVENT_KINDS = {"CONNECT": "connect", "DISCONNECT": "disconnect", "MESSAGE": "message"}

_logger = logging.getLogger(__name__)
_metrics: Any = None  # Powertools Metrics while instrumented (None: nothing is recorded)


def enabled() -> bool:
    flag = os.environ.get("WEBSOCKETS_OBSERVABILITY", "").strip().lower()
    if flag in ("0", "false", "no", "off"):
        return False
    return flag in ("1", "true", "yes", "on") or bool(os.environ.get("AWS_LAMBDA_FUNCTION_NAME"))


def record_broadcast(result: Any) -> None:
    """Count one broadcast's outcome (a ``messaging.SendResult``); nothing unless instrumented."""
    metrics = _metrics
    if metrics is None or not result.total:
        return
    from aws_lambda_powertools.metrics import MetricUnit

    for name, value in ((BROADCAST_SENT, result.sent), (BROADCAST_GONE, result.gone),
                        (BROADCAST_FAILED, result.failed)):
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)


def record_counts(counts: dict[str, int]) -> None:
    """Add each non-zero count as a metric of that name (the broadcast worker's retried, refused and
    dead-lettered recipients); nothing unless instrumented."""
    metrics = _metrics
    if metrics is None:
        return
    from aws_lambda_powertools.metrics import MetricUnit

    for name, value in counts.items():
        if value:
            metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)


def _text(value: Any, limit: int = 256) -> str:
    return value[:limit] if isinstance(value, str) else ""


def describe_event(event: Any) -> dict[str, str]:
    """The correlation keys of an event, read defensively (events can be malformed)."""
    context = event.get("requestContext") if isinstance(event, dict) else None
    if context is None and is_sqs_event(event):  # broadcast chunks (fanout)
        return {"event_type": "sqs", "records": str(len(event["Records"])), "route": "", "request_id": ""}
    if not isinstance(context, dict):
        return {"event_type": "invalid"}
    event_type = _text(context.get("eventType"))
    if not event_type:  # an HTTP event (REST v1, HTTP API v2) served by the same function
        http = context.get("http")
        path = http.get("path") if isinstance(http, dict) else event.get("path")
        return {"event_type": "http", "request_id": _text(context.get("requestId")), "route": _text(path)}
    return {"event_type": _EVENT_KINDS.get(event_type, "invalid"), "connection_id": _text(context.get("connectionId")),
            "route": _text(context.get("routeKey")), "request_id": _text(context.get("requestId"))}


def instrument(handler: Handler, *, service: str | None = None, namespace: str | None = None) -> Handler:
    """``handler`` with a JSON log line and EMF metrics per event (see the module's docstring); ``handler``
    itself when not :func:`enabled`. Call it once, at import, after Django is set up."""
    global _metrics
    if not enabled():
        return handler
    try:
        from aws_lambda_powertools import Logger, Metrics, single_metric
    except ModuleNotFoundError as exc:
        if exc.name != "aws_lambda_powertools":
            raise
        _logger.warning("Observability is off: AWS Lambda Powertools is not installed, so events are handled "
                        "without their JSON log line and EMF metrics. Install the 'lambda' extra: "
                        "pip install \"django-aws-api-gateway-websockets[lambda]\"")
        return handler
    from aws_lambda_powertools.logging.utils import copy_config_to_registered_loggers
    from aws_lambda_powertools.metrics import MetricUnit

    service = service or os.environ.get("POWERTOOLS_SERVICE_NAME") or DEFAULT_SERVICE
    namespace = namespace or os.environ.get("POWERTOOLS_METRICS_NAMESPACE") or DEFAULT_NAMESPACE
    logger = Logger(service=service, use_rfc3339=True)
    # The app's loggers write through Powertools' JSON formatter, so their lines carry the event's keys.
    copy_config_to_registered_loggers(source_logger=logger, include={"django_aws_api_gateway_websockets", "django"},
                                      ignore_log_level=True)
    metrics = _metrics = Metrics(service=service, namespace=namespace)
    cold = [True]

    def count(name: str, value: float = 1) -> None:
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)

    def instrumented(event: Any, context: Any) -> Any:
        started = time.perf_counter()
        keys = describe_event(event)
        keys["lambda_request_id"] = _text(getattr(context, "aws_request_id", None))
        logger.append_keys(**keys)
        status = 500
        try:
            response = handler(event, context)
            raw_status = response.get("statusCode", 200) if isinstance(response, dict) else 200
            status = raw_status if isinstance(raw_status, int) else 200
            if keys["event_type"] == "sqs" and isinstance(response, dict):
                failed = len(response.get("batchItemFailures") or [])
                keys["failures"] = str(failed)
                count(QUEUE_CHUNKS, int(keys["records"]) - failed)
                count(QUEUE_CHUNK_FAILURES, failed)
            return response
        except Exception:
            logger.exception("Unhandled error in the Lambda handler")
            raise
        finally:
            _record(keys, status)
            duration_ms = round((time.perf_counter() - started) * 1000, 2)
            extra: dict[str, Any] = {"status": status, "duration_ms": duration_ms}
            if "failures" in keys:  # an SQS batch: how many chunks go back to the queue
                extra["batch_item_failures"] = int(keys.pop("failures"))
            logger.info(f"{keys['event_type']} event", extra=extra)
            logger.remove_keys(list(keys))
            if metrics.metric_set:  # (Messages went out on their own, with their route dimension)
                metrics.flush_metrics()

    def _record(keys: dict[str, str], status: int) -> None:
        if cold[0]:
            cold[0] = False
            count(COLD_START)
        kind = keys["event_type"]
        if kind == "connect" and status < 300:
            count(CONNECTS)
        elif kind == "disconnect":
            count(DISCONNECTS)
        elif kind == "message":
            with single_metric(name=MESSAGES, unit=MetricUnit.Count, value=1, namespace=namespace,
                               default_dimensions={"service": service}) as metric:
                metric.add_dimension(name="route", value=keys["route"] or "$default")
        if status == 429:
            count(THROTTLES)
        if 400 <= status < 500:
            count(CLIENT_ERRORS)
        elif status >= 500:
            count(SERVER_ERRORS)

    logging.getLogger("django_aws_api_gateway_websockets").debug("Observability on: service %s, namespace %s",
                                                                 service, namespace)
    return instrumented
