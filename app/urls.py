from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from . import views

urlpatterns = [
    # First: every WebSocket event (each message) resolves its URL, and Django tries the patterns in order.
    path("ws/", include("django_aws_api_gateway_websockets.urls")),
    path("", views.index, name="index"),
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("favicon.svg", views.favicon, name="favicon"),
    path("favicon.ico", views.favicon),  # what browsers ask for when a page names no icon
    path("admin/", admin.site.urls),
]
