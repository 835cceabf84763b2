"""API Gateway's 32 KB frame limit, which aiohttp cannot express (it limits whole messages).

:class:`FrameGuard` follows RFC 6455 frame headers in the client-to-server byte stream, however it is
chunked, and filters out any data frame whose payload is over the limit, reporting that it did so. Browsers
never fragment, so for them this is the effective message limit on AWS.
"""

from __future__ import annotations

_DATA_OPCODES = (0x0, 0x1, 0x2)  # continuation, text, binary


class FrameGuard:
    def __init__(self, max_frame_bytes: int) -> None:
        self.limit = max_frame_bytes
        self._header = bytearray()
        self._remaining = 0  # payload bytes of the current frame still to pass (or drop)
        self._dropping = False
        self.tripped = False

    def _header_size(self) -> int | None:
        if len(self._header) < 2:
            return None
        length7 = self._header[1] & 0x7F
        extended = 2 if length7 == 126 else 8 if length7 == 127 else 0
        mask = 4 if self._header[1] & 0x80 else 0
        return 2 + extended + mask

    def _payload_length(self) -> int:
        length7 = self._header[1] & 0x7F
        if length7 == 126:
            return int.from_bytes(self._header[2:4], "big")
        if length7 == 127:
            return int.from_bytes(self._header[2:10], "big")
        return length7

    def filter(self, data: bytes) -> bytes:
        """The bytes of ``data`` that belong to frames within the limit."""
        out = bytearray()
        i, n = 0, len(data)
        while i < n:
            if self._remaining:
                take = min(self._remaining, n - i)
                if not self._dropping:
                    out += data[i:i + take]
                self._remaining -= take
                i += take
                continue
            size = self._header_size()
            while i < n and (size is None or len(self._header) < size):
                self._header.append(data[i])
                i += 1
                size = self._header_size()
            if size is None or len(self._header) < size:
                break  # the rest of the header comes in the next chunk
            length = self._payload_length()
            self._dropping = (self._header[0] & 0x0F) in _DATA_OPCODES and length > self.limit
            if self._dropping:
                self.tripped = True
            else:
                out += self._header
            self._header.clear()
            self._remaining = length
        return bytes(out)
