"""Settings for a local gateway serving ``tests.feature_views.FeatureView``: the demo's chat (its page, its
rooms with presence) plus async routes and a RAW handler."""

from app.settings import *  # noqa: F403

WEBSOCKETS = {**WEBSOCKETS, "VIEW": "tests.feature_views.FeatureView"}  # noqa: F405
