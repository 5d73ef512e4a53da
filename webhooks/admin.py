from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from wavora.api.errors import WavoraError

from . import services
from .models import Event, WebhookAttempt, WebhookDelivery, WebhookEndpoint


class ReadOnlyAdmin(admin.ModelAdmin):
    """Events, deliveries and attempts are evidence of what happened, not data to edit."""

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(Event)
class EventAdmin(ReadOnlyAdmin):
    list_display = ["id", "tenant", "type", "device_id", "created_at", "fanned_out_at"]
    list_filter = ["type"]
    search_fields = ["id", "tenant__name"]
    list_select_related = ["tenant"]
    date_hierarchy = "created_at"


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(admin.ModelAdmin):
    list_display = ["url", "tenant", "is_active", "failing_since", "disabled_at", "created_at"]
    list_filter = ["is_active"]
    search_fields = ["url", "tenant__name", "description"]
    list_select_related = ["tenant"]
    raw_id_fields = ["tenant"]
    # Secrets sign tenants' webhooks; staff have no reason to read them.
    exclude = ["secret", "previous_secret"]
    readonly_fields = [
        "failing_since",
        "disabled_at",
        "previous_secret_expires_at",
        "created_at",
        "updated_at",
    ]


class AttemptInline(admin.TabularInline):
    model = WebhookAttempt
    extra = 0
    can_delete = False
    fields = ("number", "started_at", "duration_ms", "status_code", "success", "error", "response_excerpt")
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(ReadOnlyAdmin):
    list_display = [
        "id",
        "endpoint",
        "tenant",
        "event",
        "status",
        "attempts",
        "last_status_code",
        "created_at",
    ]
    list_filter = ["status"]
    search_fields = ["id", "event__id", "endpoint__url", "endpoint__tenant__name"]
    list_select_related = ["endpoint__tenant", "event"]
    raw_id_fields = ["endpoint", "event"]
    inlines = [AttemptInline]
    date_hierarchy = "created_at"
    actions = ["redeliver"]

    @admin.action(description="Redeliver the selected deliveries now")
    def redeliver(self, request: HttpRequest, queryset: QuerySet[WebhookDelivery]) -> None:
        queued = 0
        for delivery in queryset.select_related("endpoint"):
            try:
                services.delivery_redeliver(delivery=delivery)
                queued += 1
            except WavoraError as exc:
                self.message_user(request, f"Delivery {delivery.pk}: {exc.message}", messages.ERROR)
        if queued:
            self.message_user(request, f"Queued {queued} delivery(ies) for redelivery.", messages.SUCCESS)

    @admin.display(ordering="endpoint__tenant__name")
    def tenant(self, delivery: WebhookDelivery) -> str:
        return delivery.endpoint.tenant.name


@admin.register(WebhookAttempt)
class WebhookAttemptAdmin(ReadOnlyAdmin):
    list_display = ["delivery", "number", "started_at", "duration_ms", "status_code", "success"]
    list_filter = ["success"]
    search_fields = ["delivery__id", "delivery__event__id"]
    list_select_related = ["delivery__endpoint", "delivery__event"]
    raw_id_fields = ["delivery"]
