import json

from django.http import HttpRequest, JsonResponse
from django.urls import include, path
from django.views.decorators.csrf import csrf_exempt


@csrf_exempt
def bare(request: HttpRequest) -> JsonResponse:
    """The baseline: a plain Django JSON view doing the same echo as the demo's route."""
    body = json.loads(request.body)
    return JsonResponse({"route": "echo", "data": body.get("data")})


urlpatterns = [path("bench/bare", bare), path("", include("app.urls"))]
