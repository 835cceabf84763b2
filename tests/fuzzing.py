"""Hypothesis budgets and hostile strategies shared by the property tests.

CI runs a small fixed budget per property (``HYPOTHESIS_PROFILE=ci``, the default); the long profile runs
100,000 examples per property::

    HYPOTHESIS_PROFILE=long .venv/bin/python -m pytest tests/test_event_fuzz.py tests/e2e/test_gateway_fuzz.py -p no:randomly
"""

from __future__ import annotations

import json
import os
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

LONG_EXAMPLES = 100_000
PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "ci")
if PROFILE not in ("ci", "long"):
    raise RuntimeError(f"HYPOTHESIS_PROFILE must be 'ci' or 'long', not {PROFILE!r}")

_SUPPRESSED = [HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large,
               HealthCheck.filter_too_much, HealthCheck.large_base_example]


def fuzz(ci_examples: int) -> settings:
    """Settings for one property: ``ci_examples`` in CI, LONG_EXAMPLES in the long profile."""
    return settings(max_examples=ci_examples if PROFILE == "ci" else LONG_EXAMPLES, deadline=None,
                    suppress_health_check=_SUPPRESSED, database=None, print_blob=True)


# Any code point, lone surrogates included: what a JSON event can carry ("\ud800") and a socket cannot.
any_text = st.text(st.characters(codec=None, categories=None), max_size=40)
json_scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.integers(min_value=2**62, max_value=2**70),
                         st.floats(allow_nan=True), any_text)
json_values = st.recursive(json_scalars, lambda inner: st.lists(inner, max_size=4)
                           | st.dictionaries(any_text, inner, max_size=4), max_leaves=12)


@st.composite
def nested(draw: Any) -> str:
    """Hostile nesting: brackets and braces from a handful to tens of thousands deep, balanced or not."""
    depth = draw(st.one_of(st.integers(0, 80), st.integers(80, 3000), st.integers(3000, 40_000)))
    opener = draw(st.sampled_from(["[", "{\"a\":", "[{\"action\":", "[[{\"x\":["]))
    closer = {"[": "]", "{\"a\":": "}", "[{\"action\":": "}]", "[[{\"x\":[": "]}]]"}[opener]
    core = draw(st.sampled_from(["1", "\"echo\"", "", "null", "[]"]))
    balanced = draw(st.booleans())
    body = opener * depth + core + (closer * depth if balanced else "")
    if draw(st.booleans()):
        body = '{"action": "echo", "data": ' + body + "}"
    return body


def _big(n: int) -> str:
    return json.dumps({"action": "echo", "data": "x" * n})


# Message bodies: JSON of every type, hostile text and bytes, deep nesting, sizes around the limits.
bodies = st.one_of(
    json_values.map(lambda v: json.dumps(v, ensure_ascii=False, allow_nan=True) if not isinstance(v, str) else v),
    st.fixed_dictionaries({"action": st.sampled_from(["echo", "whoami", "join", "leave", "post", "members",
                                                      "dispatch", "connect", "_private", "", "ECHO"])},
                          optional={"data": json_values, "room": st.one_of(any_text, json_values),
                                    "text": st.one_of(any_text, json_values)}).map(json.dumps),
    any_text,
    st.binary(max_size=200),
    nested(),
    st.sampled_from([10, 32 * 1024 - 30, 128 * 1024 - 30, 128 * 1024, 200_000]).map(_big),
)


# The handshake a client controls and a WebSocket view reads: Origin (the cross-site check), Cookie (the session
# user), Sec-WebSocket-Protocol (subprotocol selection), the connect token and the Channels bridge's ?path=.
# ``header_safe`` values can go on a real socket (latin-1, no control characters); the others only in events.
header_safe = st.text(st.characters(min_codepoint=0x20, max_codepoint=0xFF, exclude_characters="\x7f"), max_size=40)
_URL_CHARS = "[]:@/%.?#&=+;,a1Z-_~ "
url_like = st.builds(lambda scheme, rest: scheme + rest,
                     st.sampled_from(["http://", "https://", "HTTP://", "ws://", "file://", "//", "null", ""]),
                     st.text(st.sampled_from(_URL_CHARS), max_size=16))
origins = st.one_of(url_like, url_like.map(lambda u: u.replace("a1Z", "testserver")), header_safe)
_cookie_pairs = st.tuples(st.one_of(st.sampled_from(["sessionid", "csrftoken", "theme"]), st.text("abc=; ", max_size=6)),
                          st.one_of(st.text(st.sampled_from("abcdef0123456789:-_=\"\\; "), max_size=40), header_safe))
cookies = st.one_of(st.lists(_cookie_pairs, max_size=4).map(lambda pairs: "; ".join(f"{k}={v}" for k, v in pairs)),
                    header_safe)
protocols = st.one_of(st.lists(st.sampled_from(["chat.v1", "chat.v2", "", " ", "a,b", "\t"]), max_size=4).map(", ".join),
                      header_safe)
tokens = st.one_of(st.text(st.sampled_from("abcXYZ0123456789:-_.=+/%"), max_size=120), header_safe)
paths = st.one_of(st.sampled_from(["/ws/echo/", "/ws/json/x/", "/ws/room/a/", "/ws/chat/lobby/", "/", ""]),
                  st.text(st.sampled_from("/ws.chat%?#:[]a1 \\"), max_size=40).map(lambda p: "/" + p), header_safe)


def maybe(strategy: Any, hostile: Any = None) -> Any:
    """Absent, the strategy's values, or (for events only) any text at all."""
    options = [st.none(), strategy] + ([hostile] if hostile is not None else [])
    return st.one_of(*options)
