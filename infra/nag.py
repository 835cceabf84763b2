"""cdk-nag's AwsSolutions checks over the whole app.

cdk-nag 3 reads CDK's native acknowledgements (``Validations.of(construct).acknowledge(id=..., reason=...)``);
each accepted finding is acknowledged, with its reason, next to the construct it concerns
(``constructs/django_websocket_api.py``, ``stacks/stateful.py``). Anything else fails synthesis.
"""

from __future__ import annotations

from aws_cdk import App, Validations
from cdk_nag import AwsSolutionsChecks


def enable_checks(app: App) -> None:
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))
