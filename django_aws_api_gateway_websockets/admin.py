from __future__ import annotations

from django.contrib import admin

from .models import WebSocketGroupMembership, WebSocketSession


class MembershipInline(admin.TabularInline):
    model = WebSocketGroupMembership
    extra = 0
    readonly_fields = ["joined_at"]


@admin.register(WebSocketSession)
class WebSocketSessionAdmin(admin.ModelAdmin):
    list_display = ["connection_id", "user", "connected", "connected_at", "last_seen", "message_count", "client_ip"]
    list_filter = ["connected", "stage", "api_id"]
    search_fields = ["connection_id", "client_ip", "user_agent"]
    date_hierarchy = "connected_at"
    raw_id_fields = ["user"]
    readonly_fields = [
        "connection_id",
        "api_id",
        "stage",
        "domain_name",
        "connected_at",
        "disconnected_at",
        "last_seen",
        "message_count",
        "client_ip",
        "user_agent",
        "disconnect_status_code",
        "disconnect_reason",
    ]
    inlines = [MembershipInline]


@admin.register(WebSocketGroupMembership)
class WebSocketGroupMembershipAdmin(admin.ModelAdmin):
    list_display = ["group", "session", "joined_at"]
    search_fields = ["group", "session__connection_id"]
    raw_id_fields = ["session"]
