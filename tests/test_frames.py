"""The gateway's frame-size guard: a parser over arbitrarily chunked RFC 6455 streams (property-based)."""

from __future__ import annotations

import os

from hypothesis import given
from hypothesis import strategies as st

from django_aws_api_gateway_websockets.gateway.frames import FrameGuard

LIMIT = 100


def frame(opcode: int, payload: bytes, fin: bool = True, masked: bool = True) -> bytes:
    first = (0x80 if fin else 0) | opcode
    length = len(payload)
    mask_bit = 0x80 if masked else 0
    if length < 126:
        header = bytes([first, mask_bit | length])
    elif length < 65536:
        header = bytes([first, mask_bit | 126]) + length.to_bytes(2, "big")
    else:
        header = bytes([first, mask_bit | 127]) + length.to_bytes(8, "big")
    key = os.urandom(4) if masked else b""
    body = bytes(b ^ key[i % 4] for i, b in enumerate(payload)) if masked else payload
    return header + key + body


frames = st.lists(
    st.tuples(st.sampled_from([0x1, 0x2, 0x9, 0xA, 0x8]), st.integers(0, 300), st.booleans()), max_size=8
)


def chunked(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts} | {0, len(data)})
    return [data[a:b] for a, b in zip(points, points[1:], strict=False)]


@given(frames=frames, cuts=st.lists(st.integers(0, 10_000), max_size=20))
def test_guard_passes_small_frames_and_drops_big_data_frames(frames: list[tuple[int, int, bool]],
                                                             cuts: list[int]) -> None:
    encoded = [frame(op, bytes([65 + i % 26]) * (size if op in (1, 2) else min(size, 125)), masked=masked)
               for i, (op, size, masked) in enumerate(frames)]
    expected = b"".join(f for f, (op, size, _) in zip(encoded, frames, strict=True)
                        if not (op in (1, 2) and size > LIMIT))
    guard = FrameGuard(LIMIT)
    passed = b"".join(guard.filter(chunk) for chunk in chunked(b"".join(encoded), cuts))
    assert passed == expected
    assert guard.tripped == any(op in (1, 2) and size > LIMIT for op, size, _ in frames)


def test_extended_lengths() -> None:
    guard = FrameGuard(70_000)
    stream = frame(0x2, b"x" * 65_000) + frame(0x2, b"y" * 70_001) + frame(0x1, b"ok")
    assert guard.filter(stream) == frame_without_random_mask_check(stream)


def frame_without_random_mask_check(stream: bytes) -> bytes:
    # The first and last frames pass; the 70,001-byte one (8-byte length) is dropped.
    first_len = 2 + 2 + 4 + 65_000
    dropped_len = 2 + 8 + 4 + 70_001
    return stream[:first_len] + stream[first_len + dropped_len:]
