from collections.abc import Callable

from django import forms
from django.contrib import admin, messages
from django.db import models
from django.db.models import Count, Q, QuerySet
from django.http import HttpRequest

from wavora.api.errors import WavoraError

from . import services
from .gowa import GowaClient
from .models import Device, GowaNode

_LIVE = Q(devices__deleted_at__isnull=True)
_SECRET_FIELDS = ("basic_auth_password", "webhook_secret")


class GowaNodeAdminForm(forms.ModelForm):
    """Node secrets are write-only: never rendered back, and kept as they are when the box stays empty."""

    # GOWA nodes usually sit on a private network, over plain http.
    base_url = forms.URLField(
        assume_scheme="http",
        max_length=200,
        help_text="e.g. http://gowa-1:3000 (include APP_BASE_PATH if set)",
    )
    basic_auth_password = forms.CharField(
        required=False, widget=forms.PasswordInput(render_value=False), help_text="Leave empty to keep it."
    )
    webhook_secret = forms.CharField(
        required=False,
        widget=forms.PasswordInput(render_value=False),
        help_text="Signs GOWA's webhooks to Wavora. Leave empty to keep it.",
    )

    class Meta:
        model = GowaNode
        fields = [
            "name",
            "base_url",
            "basic_auth_username",
            "basic_auth_password",
            "webhook_secret",
            "capacity",
            "is_active",
        ]

    def clean(self) -> dict[str, object]:
        cleaned = super().clean() or {}
        for name in _SECRET_FIELDS:
            if not cleaned.get(name):
                cleaned[name] = getattr(self.instance, name, "") if self.instance.pk else ""
        if not cleaned.get("webhook_secret"):
            self.add_error("webhook_secret", "A new node needs a webhook secret.")
        return cleaned


@admin.register(GowaNode)
class GowaNodeAdmin(admin.ModelAdmin):
    form = GowaNodeAdminForm
    list_display = [
        "name",
        "base_url",
        "is_active",
        "capacity",
        "device_count",
        "connected_count",
        "unhealthy_count",
        "created_at",
    ]
    list_filter = ["is_active"]
    search_fields = ["name", "base_url"]
    readonly_fields = ["callback_url", "reachable", "created_at", "updated_at"]
    actions = ["check_health"]
    # GOWA nodes usually sit on a private network, over plain http.
    formfield_overrides = {models.URLField: {"assume_scheme": "http"}}

    def get_queryset(self, request: HttpRequest) -> QuerySet[GowaNode]:
        return (
            super()
            .get_queryset(request)
            .annotate(
                _devices=Count("devices", filter=_LIVE),
                _connected=Count("devices", filter=_LIVE & Q(devices__status=Device.Status.CONNECTED)),
                _unhealthy=Count(
                    "devices",
                    filter=_LIVE
                    & Q(devices__status__in=[Device.Status.DISCONNECTED, Device.Status.LOGGED_OUT]),
                ),
            )
        )

    @admin.display(description="Devices", ordering="_devices")
    def device_count(self, node: GowaNode) -> int:
        return node._devices  # type: ignore[attr-defined]

    @admin.display(description="Connected", ordering="_connected")
    def connected_count(self, node: GowaNode) -> int:
        return node._connected  # type: ignore[attr-defined]

    @admin.display(description="Disconnected / logged out", ordering="_unhealthy")
    def unhealthy_count(self, node: GowaNode) -> int:
        return node._unhealthy  # type: ignore[attr-defined]

    @admin.display(description="Reachable now", boolean=True)
    def reachable(self, node: GowaNode) -> bool | None:
        # A live check on the change page only: on the list it would be one HTTP call per row.
        return GowaClient(node).health() if node.pk else None

    @admin.action(description="Check that the selected nodes answer /health")
    def check_health(self, request: HttpRequest, queryset: QuerySet[GowaNode]) -> None:
        for node in queryset:
            if GowaClient(node).health():
                self.message_user(request, f"{node.name}: reachable.", messages.SUCCESS)
            else:
                self.message_user(request, f"{node.name}: NOT reachable at {node.base_url}.", messages.ERROR)


class DeletedFilter(admin.SimpleListFilter):
    title = "deleted"
    parameter_name = "deleted"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return [("no", "Live"), ("yes", "Deleted")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Device]) -> QuerySet[Device]:
        if self.value() in ("no", "yes"):
            return queryset.filter(deleted_at__isnull=self.value() == "no")
        return queryset


@admin.register(Device)
class DeviceAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "tenant",
        "status",
        "phone",
        "node",
        "health_note",
        "messages_sent",
        "messages_failed",
        "last_seen_at",
        "created_at",
        "deleted_at",
    ]
    list_filter = [
        "status",
        DeletedFilter,
        "node",
        ("tenant", admin.RelatedOnlyFieldListFilter),
        "auto_reply_enabled",
    ]
    search_fields = ["id", "name", "phone", "jid", "tenant__name", "tenant__slug"]
    list_select_related = ["tenant", "node"]
    raw_id_fields = ["tenant"]
    date_hierarchy = "created_at"
    readonly_fields = [
        "id",
        "status",
        "jid",
        "phone",
        "display_name",
        "pairing_method",
        "pairing_started_at",
        "qr_expires_at",
        "connected_at",
        "last_seen_at",
        "status_changed_at",
        "paused_until",
        "paused_reason",
        "health_note",
        "reconnect_attempts",
        "messages_sent",
        "messages_delivered",
        "messages_read",
        "messages_failed",
        "messages_received",
        "deleted_at",
        "created_at",
        "updated_at",
    ]
    actions = ["reconnect", "logout"]

    def _each(
        self, request: HttpRequest, queryset: QuerySet[Device], verb: str, act: Callable[[Device], Device]
    ) -> None:
        done = 0
        for device in queryset.select_related("node").filter(deleted_at__isnull=True):
            try:
                act(device)
                done += 1
            except WavoraError as exc:
                self.message_user(request, f"{device.name} ({device.pk}): {exc.message}", messages.ERROR)
        if done:
            self.message_user(request, f"{verb} {done} device(s).", messages.SUCCESS)

    @admin.action(description="Reconnect the selected devices (GOWA)")
    def reconnect(self, request: HttpRequest, queryset: QuerySet[Device]) -> None:
        self._each(request, queryset, "Reconnected", lambda device: services.device_reconnect(device=device))

    @admin.action(description="Log the selected devices out of WhatsApp (GOWA)")
    def logout(self, request: HttpRequest, queryset: QuerySet[Device]) -> None:
        self._each(request, queryset, "Logged out", lambda device: services.device_logout(device=device))
