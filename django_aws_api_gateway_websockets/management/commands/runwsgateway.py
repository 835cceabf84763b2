"""``manage.py runwsgateway [addr:port]``: a local API Gateway WebSocket endpoint running the Lambda handler."""

from __future__ import annotations

import os
import re
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.module_loading import import_string

from ...conf import ws_settings
from ...gateway import GatewayConfig, run
from ...gateway.sqs_poller import SqsPollerConfig
from ...routing import configured_view

_ADDR_RE = re.compile(r"^(?:(?P<host>[^:\[\]]+|\[[0-9a-fA-F:]+\]):)?(?P<port>\d{1,5})$")


def parse_addr(value: str) -> tuple[str, int]:
    match = _ADDR_RE.match(value)
    if match is None or not 0 <= int(match.group("port")) <= 65535:
        raise CommandError(f"{value!r} is not a port or addr:port (for example 127.0.0.1:8000)")
    return (match.group("host") or "127.0.0.1").strip("[]"), int(match.group("port"))


class Command(BaseCommand):
    help = "Run a local stand-in for API Gateway's WebSocket API: ws://, the @connections API and the site on one port."
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("addrport", nargs="?", default="127.0.0.1:8000")
        parser.add_argument("--handler", default="lambda_handler.handler",
                            help="Dotted path of the Lambda handler events are sent to (default: lambda_handler.handler).")
        parser.add_argument("--stage", default="local")
        parser.add_argument("--concurrency", type=int, default=16, help="Handler calls at once (Lambda concurrency).")
        parser.add_argument("--idle-timeout", type=float, default=600.0, help="Seconds (API Gateway: 600).")
        parser.add_argument("--max-lifetime", type=float, default=7200.0, help="Seconds (API Gateway: 7200).")
        parser.add_argument("--max-message-bytes", type=int, default=128 * 1024, help="API Gateway: 128 KB.")
        parser.add_argument("--max-frame-bytes", type=int, default=32 * 1024, help="API Gateway: 32 KB.")
        parser.add_argument("--max-buffered-bytes", type=int, default=4 * 1024 * 1024,
                            help="Unread data a slow client may leave before it is dropped (default 4 MB).")
        parser.add_argument("--access-key-id", default=None,
                            help="Also accept @connections calls signed with this access key id (and "
                                 "--secret-access-key); the gateway's own AWS credentials are always accepted.")
        parser.add_argument("--secret-access-key", default=None)
        parser.add_argument("--sqs-queue-url", default=None,
                            help="Poll this SQS queue for broadcast chunks, as Lambda's event source mapping does "
                                 "(default: WEBSOCKETS['BROADCAST_QUEUE_URL'], if set).")
        parser.add_argument("--no-sqs", action="store_true", help="Do not poll any SQS queue.")
        parser.add_argument("--sqs-batch-size", type=int, default=10, help="Messages per invocation (1-10).")
        parser.add_argument("--sqs-concurrency", type=int, default=2, help="Batches in the handler at once.")

    def handle(self, *args: Any, **options: Any) -> None:
        self.check(display_num_errors=True)
        host, port = parse_addr(options["addrport"])
        try:
            handler = import_string(options["handler"])
        except ImportError as exc:
            raise CommandError(f"Cannot import the handler {options['handler']!r}: {exc}") from exc
        if bool(options["access_key_id"]) != bool(options["secret_access_key"]):
            raise CommandError("--access-key-id and --secret-access-key go together.")
        credentials = {options["access_key_id"]: options["secret_access_key"]} if options["access_key_id"] else None
        view = configured_view()
        two_way = {name for name, route in view.routes.items() if route.reply} | {"$default"}
        config = GatewayConfig(
            handler=handler, host=host, port=port, stage=options["stage"],
            region=os.environ.get("AWS_REGION", "us-east-1"),
            route_selection_key=view.route_selection_key, routes=sorted(view.routes), two_way_routes=two_way,
            concurrency=options["concurrency"], idle_timeout=options["idle_timeout"],
            max_lifetime=options["max_lifetime"], max_message_bytes=options["max_message_bytes"],
            max_frame_bytes=options["max_frame_bytes"], max_buffered_bytes=options["max_buffered_bytes"],
            serve_static=settings.DEBUG, credentials=credentials,
            sqs=self._sqs(options),
        )
        run(config, ready=self._banner)

    def _sqs(self, options: dict[str, Any]) -> SqsPollerConfig | None:
        queue_url = None if options["no_sqs"] else (options["sqs_queue_url"] or ws_settings.BROADCAST_QUEUE_URL)
        if not queue_url:
            return None
        if not 1 <= options["sqs_batch_size"] <= 10 or options["sqs_concurrency"] < 1:
            raise CommandError("--sqs-batch-size must be 1-10 and --sqs-concurrency at least 1.")
        return SqsPollerConfig(queue_url=queue_url, endpoint_url=ws_settings.SQS_ENDPOINT_URL,
                               region=os.environ.get("AWS_REGION", "us-east-1"),
                               batch_size=options["sqs_batch_size"], concurrency=options["sqs_concurrency"])

    def _banner(self, config: GatewayConfig) -> None:
        ws_url = f"ws://{config.domain_name}/"
        self.stdout.write(
            f"Local API Gateway (stage {config.stage!r}) listening on {config.domain_name}\n"
            f"  WebSocket:      {ws_url}  (also {ws_url}{config.stage})\n"
            f"  Demo page:      http://{config.domain_name}/\n"
            f"  @connections:   {config.endpoint_url}/@connections/{{id}}  (also under /{config.stage}; SigV4-signed "
            "with this process's AWS credentials)\n"
            f"  Try:            npx wscat -c {ws_url}   then   {{\"action\": \"whoami\"}}\n"
            + (f"  Broadcasts:     polling {config.sqs.queue_url}\n" if config.sqs else "") +
            "Quit with CONTROL-C.",
        )
        self.stdout.flush()
