from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from ...conf import ws_settings
from ...store import get_store


class Command(BaseCommand):
    help = "Delete disconnected WebSocket sessions older than a number of days."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--days",
            type=int,
            default=None,
            help="Keep sessions disconnected less than this many days ago (default: SESSION_RETENTION_DAYS).",
        )

    def handle(self, *args: Any, days: int | None, **options: Any) -> None:
        keep = ws_settings.SESSION_RETENTION_DAYS if days is None else days
        if keep < 0:
            raise CommandError("--days must be 0 or more.")
        removed = get_store().purge(timezone.now() - timedelta(days=keep))
        self.stdout.write(f"Removed {removed} disconnected WebSocket session(s) older than {keep} day(s).")
