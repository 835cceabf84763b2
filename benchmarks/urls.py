import json

from django.http import HttpRequest, JsonResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt


@csrf_exempt
def bare(request: HttpRequest) -> JsonResponse:
    """The baseline: a plain Django JSON view doing the same echo as the demo's route."""
    body = json.loads(request.body)
    return JsonResponse({"route": "echo", "data": body.get("data")})


# The demo's own patterns spliced in (not include()d): the WebSocket URLs then sit as deep as in the deployed
# project (ROOT_URLCONF = "app.urls"), and no extra include level is charged to every event.
from app.urls import urlpatterns as app_urlpatterns  # noqa: E402

urlpatterns = [path("bench/bare", bare), *app_urlpatterns]
