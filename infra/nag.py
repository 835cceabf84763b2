"""cdk-nag's AwsSolutions checks over the whole app.

cdk-nag 3 reads CDK's native acknowledgements (``Validations.of(construct).acknowledge(id=..., reason=...)``)
and matches them by exact finding id; each accepted finding is acknowledged, with its reason, next to the
construct it concerns. A finding about an ARN names the ARN as synthesis renders it, and an ARN rendered from
the stack's account or region reads differently with and without a concrete account; so the ARNs this app
acknowledges are built from CloudFormation's pseudo parameters (``Aws.ACCOUNT_ID``, ...), which render the
same in both. Anything else fails synthesis.
"""

from __future__ import annotations

from aws_cdk import App, Validations
from cdk_nag import AwsSolutionsChecks


def enable_checks(app: App) -> None:
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))
