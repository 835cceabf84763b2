"""Channel names: one per API Gateway connection, valid by Channels' own rules, reversible to the connection id.

A connection id (``L0SM9cOFvHcCIhw=``) becomes ``ws.L0SM9cOFvHcCIhw_3d``: letters, digits and ``-`` are kept;
every other character (``=``, ``+``, ``/``, ``_`` itself) is written ``_`` and its two hex digits.
"""

from __future__ import annotations

import re

PREFIX = "ws."
_KEEP = re.compile(r"[A-Za-z0-9-]")
_NAME = re.compile(r"^ws\.(?:[A-Za-z0-9-]|_[0-9a-f]{2})+$")


def channel_name_for(connection_id: str) -> str:
    """The channel name of the connection ``connection_id``."""
    escaped = "".join(ch if _KEEP.match(ch) else "".join(f"_{b:02x}" for b in ch.encode()) for ch in connection_id)
    return PREFIX + escaped


def connection_id_of(channel_name: str) -> str | None:
    """The connection id a channel name stands for, or None when it is not one of ours."""
    if not isinstance(channel_name, str) or not _NAME.match(channel_name):
        return None
    escaped, raw, i = channel_name[len(PREFIX):], bytearray(), 0
    while i < len(escaped):
        if escaped[i] == "_":
            raw.append(int(escaped[i + 1:i + 3], 16))
            i += 3
        else:
            raw += escaped[i].encode()
            i += 1
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return None
