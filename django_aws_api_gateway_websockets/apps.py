from __future__ import annotations

from django.apps import AppConfig


class DjangoAwsApiGatewayWebsocketsConfig(AppConfig):
    name = "django_aws_api_gateway_websockets"
    verbose_name = "Django AWS ApiGateway Websockets"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Registers the system checks and the logout receiver.
        from . import checks, receivers  # noqa: F401
        from .channels_compat import checks as channels_checks  # noqa: F401  (no Channels import unless used)
