from django.contrib import admin, messages
from django.db.models import Count, Q, QuerySet
from django.http import HttpRequest
from django.utils import timezone

from . import services
from .models import ApiKey, Membership, Tenant


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    raw_id_fields = ["user"]
    readonly_fields = ["created_at"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Membership]:
        return super().get_queryset(request).select_related("user")


@admin.register(Tenant)
class TenantAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "slug",
        "is_active",
        "device_count",
        "member_count",
        "max_devices",
        "source",
        "external_id",
        "expires_at",
        "created_at",
    ]
    list_filter = ["is_active", "source", "language"]
    search_fields = ["name", "slug", "external_id", "source", "memberships__user__email"]
    date_hierarchy = "created_at"
    readonly_fields = ["id", "created_at", "updated_at"]
    fieldsets = [
        (None, {"fields": ["id", "name", "slug", "language", "is_active"]}),
        ("Limits", {"fields": ["max_devices", "max_messages"]}),
        ("Partner (internal API)", {"fields": ["source", "external_id", "created_by", "expires_at"]}),
        ("Times", {"fields": ["created_at", "updated_at"]}),
    ]
    inlines = [MembershipInline]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Tenant]:
        return (
            super()
            .get_queryset(request)
            .annotate(
                _devices=Count("devices", filter=Q(devices__deleted_at__isnull=True), distinct=True),
                _members=Count("memberships", distinct=True),
            )
        )

    @admin.display(description="Devices", ordering="_devices")
    def device_count(self, tenant: Tenant) -> int:
        return tenant._devices  # type: ignore[attr-defined]

    @admin.display(description="Members", ordering="_members")
    def member_count(self, tenant: Tenant) -> int:
        return tenant._members  # type: ignore[attr-defined]


class ApiKeyStatusFilter(admin.SimpleListFilter):
    title = "status"
    parameter_name = "status"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return [("active", "Active"), ("expired", "Expired"), ("revoked", "Revoked")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[ApiKey]) -> QuerySet[ApiKey]:
        now = timezone.now()
        if self.value() == "revoked":
            return queryset.filter(revoked_at__isnull=False)
        if self.value() == "expired":
            return queryset.filter(revoked_at__isnull=True, expires_at__lte=now)
        if self.value() == "active":
            unexpired = Q(expires_at__isnull=True) | Q(expires_at__gt=now)
            return queryset.filter(unexpired, revoked_at__isnull=True)
        return queryset


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    """Keys are made where their secret can be shown once (API, dashboard, ``createadminkey``);
    here staff inspect, limit and revoke them. The hash is never shown."""

    list_display = [
        "name",
        "prefix",
        "tenant",
        "status",
        "is_platform_admin",
        "allow_sync_send",
        "rate_limit_per_minute",
        "expires_at",
        "last_used_at",
        "created_at",
    ]
    list_filter = [ApiKeyStatusFilter, "is_platform_admin", "allow_sync_send"]
    search_fields = ["name", "prefix", "tenant__name", "tenant__slug"]
    list_select_related = ["tenant"]
    date_hierarchy = "created_at"
    exclude = ["key_hash"]
    # Scopes and device restrictions are validated by the tenant's own key management; staff
    # adjust only the name, expiry, rate limit and the synchronous-send flag here.
    readonly_fields = [
        "id",
        "tenant",
        "prefix",
        "scopes",
        "device_ids",
        "is_platform_admin",
        "created_by",
        "revoked_at",
        "last_used_at",
        "created_at",
    ]
    actions = ["revoke"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.action(description="Revoke the selected API keys")
    def revoke(self, request: HttpRequest, queryset: QuerySet[ApiKey]) -> None:
        revoked = 0
        for key in queryset.filter(revoked_at__isnull=True):
            services.api_key_revoke(key=key)
            revoked += 1
        self.message_user(request, f"Revoked {revoked} API key(s).", messages.SUCCESS)
