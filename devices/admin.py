from django.contrib import admin
from django.db.models import Count, Q, QuerySet
from django.http import HttpRequest

from .models import Device, GowaNode


@admin.register(GowaNode)
class GowaNodeAdmin(admin.ModelAdmin):
    list_display = ["name", "base_url", "is_active", "capacity", "device_count"]
    list_filter = ["is_active"]
    search_fields = ["name", "base_url"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[GowaNode]:
        return (
            super()
            .get_queryset(request)
            .annotate(_devices=Count("devices", filter=Q(devices__deleted_at__isnull=True)))
        )

    @admin.display(description="Devices", ordering="_devices")
    def device_count(self, node: GowaNode) -> int:
        return node._devices  # type: ignore[attr-defined]


@admin.register(Device)
class DeviceAdmin(admin.ModelAdmin):
    list_display = ["name", "tenant", "status", "phone", "node", "messages_sent", "created_at", "deleted_at"]
    list_filter = ["status", "node"]
    search_fields = ["name", "phone", "jid", "tenant__name", "id"]
    list_select_related = ["tenant", "node"]
    raw_id_fields = ["tenant"]
    readonly_fields = [
        "id",
        "jid",
        "phone",
        "connected_at",
        "last_seen_at",
        "status_changed_at",
        "created_at",
    ]
