"""Replay recorded API Gateway events through the Lambda handler, in one process, repeatably.

By default a replay runs against a throwaway SQLite database (migrated for the replay, deleted after it),
gives each connection the store already knows a fresh id (the same one for all that connection's events), and
orders a directory's events so each connection runs connect -> messages -> disconnect. So it can run twice
in a row with the same output and never writes into the developer's database.
"""

from __future__ import annotations

import copy
import json
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DEFAULT_DB_ALIAS, connections
from django.utils.module_loading import import_string

from ...events import new_connection_id
from ...store import ConnectionStore, get_store

Labelled = tuple[str, Any]

_PHASES = {"CONNECT": 0, "MESSAGE": 1, "DISCONNECT": 2}
ID_MODES = ("auto", "fresh", "recorded")


def _context(event: Any) -> dict[str, Any]:
    context = event.get("requestContext") if isinstance(event, dict) else None
    return context if isinstance(context, dict) else {}


def _read(file: Path) -> list[Labelled]:
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise CommandError(f"{file}: not a JSON file ({exc})") from exc
    if isinstance(data, list):
        return [(f"{file}[{i}]", event) for i, event in enumerate(data)]
    return [(str(file), data)]


def order_connections(events: list[Labelled]) -> list[Labelled]:
    """Reorder so every connection runs its connects, then its messages, then its disconnects, keeping every
    other order (a valid recording comes out unchanged): a connect moves up to its connection's first event,
    a disconnect down to after its connection's last message."""
    first: dict[str, int] = {}
    last_message: dict[str, int] = {}
    for index, (_label, event) in enumerate(events):
        context = _context(event)
        connection_id = str(context.get("connectionId", ""))
        first.setdefault(connection_id, index)
        if context.get("eventType") == "MESSAGE":
            last_message[connection_id] = index

    def key(item: tuple[int, Labelled]) -> tuple[int, int, int]:
        index, (_label, event) = item
        context = _context(event)
        connection_id = str(context.get("connectionId", ""))
        kind = context.get("eventType")
        anchor = index
        if kind == "CONNECT":
            anchor = first[connection_id]
        elif kind == "DISCONNECT":
            anchor = max(index, last_message.get(connection_id, index))
        return anchor, _PHASES.get(str(kind), 1), index

    return [labelled for _index, labelled in sorted(enumerate(events), key=key)]


def load_events(paths: list[str]) -> list[Labelled]:
    """(label, event) pairs, in replay order. A file holds one event or a list (kept in its order); files named
    on the command line run in the order given; a directory's ``*.json`` files are read in name order and then
    ordered per connection (:func:`order_connections`), since names say nothing about time."""
    found: list[Labelled] = []
    for name in paths:
        path = Path(name)
        if path.is_dir():
            found.extend(order_connections([item for file in sorted(path.glob("*.json")) for item in _read(file)]))
        elif path.is_file():
            found.extend(_read(path))
        else:
            raise CommandError(f"No such file or directory: {name}")
    return found


class ConnectionIds:
    """Which connection id each recorded one is replayed as, the same for all of a replay's events.

    ``recorded``: as recorded. ``fresh``: a new id for every connection. ``auto``: a new id only for a
    connection the store already knows (open or closed: a closed id can never reopen, as on AWS).
    """

    def __init__(self, mode: str, store: ConnectionStore | None) -> None:
        self.mode = mode
        self.store = store
        self.mapping: dict[str, str] = {}

    def __getitem__(self, recorded: str) -> str:
        if self.mode == "recorded" or not recorded:
            return recorded
        if recorded not in self.mapping:
            known = self.mode == "fresh" or (self.store is not None and self.store.get(recorded) is not None)
            self.mapping[recorded] = new_connection_id() if known else recorded
        return self.mapping[recorded]

    def rewrite(self, event: Any) -> tuple[Any, str, str]:
        """The event to send (a copy when its id changes), its recorded id and the id it is replayed as."""
        recorded = str(_context(event).get("connectionId", ""))
        used = self[recorded]
        if used != recorded:
            event = copy.deepcopy(event)
            event["requestContext"]["connectionId"] = used
        return event, recorded, used


@contextmanager
def throwaway_database(alias: str = DEFAULT_DB_ALIAS) -> Iterator[Path]:
    """Point ``alias`` at a new SQLite file, migrated, for the duration; then put the project's back."""
    with tempfile.TemporaryDirectory(prefix="replay-events-") as tmp:
        path = Path(tmp) / "replay.sqlite3"
        settings_dict = connections.settings[alias]  # the very dict every new connection is built from
        saved = dict(settings_dict)
        original = connections[alias]
        replacement = connections.configure_settings({alias: {"ENGINE": "django.db.backends.sqlite3", "NAME": str(path)}})
        settings_dict.clear()
        settings_dict.update(replacement[alias])
        connections[alias] = connections.create_connection(alias)
        try:
            call_command("migrate", database=alias, interactive=False, verbosity=0)
            yield path
        finally:
            connections[alias].close()
            settings_dict.clear()
            settings_dict.update(saved)
            connections[alias] = original


def _store() -> ConnectionStore | None:
    """The store the configured view writes to (its ``model`` when set), else the configured store."""
    from ...routing import configured_view

    try:
        view = configured_view()
    except (ImproperlyConfigured, ImportError):
        return get_store()
    store: ConnectionStore = view().store
    return store


def describe(event: Any, used: str | None = None) -> str:
    context = _context(event)
    if not context:
        return "event"
    recorded = context.get("connectionId", "?")
    shown = recorded if used is None or used == recorded else f"{recorded} as {used}"
    return f"{context.get('eventType', '?')} {context.get('routeKey', '?')} {shown}"


class Command(BaseCommand):
    help = ("Send recorded API Gateway events (files holding one event or a list, or directories) through the "
            "Lambda handler, against a throwaway SQLite database unless --project-db is given.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("paths", nargs="+", metavar="FILE_OR_DIR")
        parser.add_argument("--handler", default="lambda_handler.handler", help="Dotted path of the handler.")
        parser.add_argument("--json", action="store_true", dest="as_json", help="Print one JSON object per response.")
        parser.add_argument(
            "--ids", choices=ID_MODES, default="auto",
            help="Connection ids: 'auto' (default) gives a connection the store already knows a fresh id, "
                 "'fresh' renews every id, 'recorded' replays them as recorded. A new id is used for all of that "
                 "connection's events in the replay.")
        parser.add_argument(
            "--project-db", action="store_true",
            help="Replay against the project's own databases (and keep what the replay writes) instead of a "
                 "throwaway SQLite database.")

    def handle(self, *args: Any, paths: list[str], handler: str, as_json: bool, ids: str, project_db: bool,
               **options: Any) -> None:
        events = load_events(paths)
        try:
            lambda_handler = import_string(handler)
        except ImportError as exc:
            raise CommandError(f"Cannot import handler {handler!r}: {exc}") from exc
        if project_db:
            self._replay(lambda_handler, events, ids, as_json, options["verbosity"], "the project's database")
        else:
            with throwaway_database():
                self._replay(lambda_handler, events, ids, as_json, options["verbosity"], "a throwaway SQLite database")

    def _replay(self, lambda_handler: Any, events: list[Labelled], ids: str, as_json: bool, verbosity: int,
                where: str) -> None:
        if verbosity >= 2:
            self.stderr.write(f"Replaying {len(events)} events against {where} (connection ids: {ids}).")
        connection_ids = ConnectionIds(ids, _store() if ids == "auto" else None)
        for label, recorded_event in events:
            event, recorded, used = connection_ids.rewrite(recorded_event)
            response = lambda_handler(event, None)
            if as_json:
                record: dict[str, Any] = {"source": label, "response": response}
                if used != recorded:
                    record["connectionId"] = used
                self.stdout.write(json.dumps(record))
            else:
                status = response.get("statusCode") if isinstance(response, dict) else None
                body = response.get("body", "") if isinstance(response, dict) else response
                self.stdout.write(f"{label}: {describe(recorded_event, used)} -> {status} {body}")
