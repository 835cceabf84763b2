"""Settings of the race workers: the test settings, with the database and WEBSOCKETS given in RACE_SETTINGS."""

import json
import os

from tests.settings import *  # noqa: F403

_race = json.loads(os.environ["RACE_SETTINGS"])
DATABASES = _race["DATABASES"]
WEBSOCKETS = {**WEBSOCKETS, **_race.get("WEBSOCKETS", {})}  # noqa: F405
CACHES = _race.get("CACHES", CACHES)  # noqa: F405
LOGGING = {"version": 1, "disable_existing_loggers": False, "root": {"level": "ERROR"}}
