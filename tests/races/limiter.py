"""One process hammering the connect rate limiter: ``python -m tests.races.limiter HITS START_AT``.
Waits until the wall-clock START_AT (so several processes hit at once), then counts HITS attempts for one
key and prints how many were allowed."""

from __future__ import annotations

import sys
import time

import django


def main() -> None:
    hits, start_at = int(sys.argv[1]), float(sys.argv[2])
    django.setup()
    from django_aws_api_gateway_websockets import ratelimit

    ratelimit.hit("ip", "warm-up-" + str(time.time()), "1000/hour")  # connections opened before the start
    time.sleep(max(0.0, start_at - time.time()))
    allowed = sum(ratelimit.hit("ip", "198.51.100.1", "25/hour") for _ in range(hits))
    print(allowed)


if __name__ == "__main__":
    main()
