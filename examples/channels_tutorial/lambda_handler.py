"""AWS Lambda entry point of this project (``lambda_handler.handler``), also what ``runwsgateway`` runs.

On Lambda, ``observability`` adds a JSON log line and EMF metrics per event (with the library's ``lambda``
extra, AWS Lambda Powertools) and ``snapstart`` the resets for SnapStart restores; elsewhere both do nothing.
"""

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mysite.settings")

from django.core.wsgi import get_wsgi_application  # noqa: E402

from django_aws_api_gateway_websockets import observability, snapstart  # noqa: E402
from django_aws_api_gateway_websockets.lambda_adapter import make_websocket_handler  # noqa: E402

application = get_wsgi_application()
handler = observability.instrument(make_websocket_handler(application))
snapstart.install()
