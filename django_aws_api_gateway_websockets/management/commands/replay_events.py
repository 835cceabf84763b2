"""Replay recorded API Gateway events through the Lambda handler, in one process, in order."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.module_loading import import_string


def load_events(paths: list[str]) -> list[tuple[str, Any]]:
    """(label, event) pairs from files holding one event or a list, and from directories (sorted, *.json)."""
    found: list[tuple[str, Any]] = []
    for name in paths:
        path = Path(name)
        if path.is_dir():
            files = sorted(path.glob("*.json"))
        elif path.is_file():
            files = [path]
        else:
            raise CommandError(f"No such file or directory: {name}")
        for file in files:
            try:
                data = json.loads(file.read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                raise CommandError(f"{file}: not a JSON file ({exc})") from exc
            events = data if isinstance(data, list) else [data]
            found.extend((f"{file}[{i}]" if isinstance(data, list) else str(file), e) for i, e in enumerate(events))
    return found


def describe(event: Any) -> str:
    context = event.get("requestContext") if isinstance(event, dict) else None
    if isinstance(context, dict):
        return f"{context.get('eventType', '?')} {context.get('routeKey', '?')} {context.get('connectionId', '?')}"
    return "event"


class Command(BaseCommand):
    help = "Send recorded API Gateway events (files holding one event or a list, or directories) through the Lambda handler."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("paths", nargs="+", metavar="FILE_OR_DIR")
        parser.add_argument("--handler", default="lambda_handler.handler", help="Dotted path of the handler.")
        parser.add_argument("--json", action="store_true", dest="as_json", help="Print one JSON object per response.")

    def handle(self, *args: Any, paths: list[str], handler: str, as_json: bool, **options: Any) -> None:
        events = load_events(paths)
        try:
            lambda_handler = import_string(handler)
        except ImportError as exc:
            raise CommandError(f"Cannot import handler {handler!r}: {exc}") from exc
        for label, event in events:
            response = lambda_handler(event, None)
            if as_json:
                self.stdout.write(json.dumps({"source": label, "response": response}))
            else:
                self.stdout.write(f"{label}: {describe(event)} -> {response.get('statusCode')} {response.get('body', '')}")
