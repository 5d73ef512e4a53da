from django.contrib import admin

from .models import ApiKey, Membership, Tenant


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    raw_id_fields = ["user"]


@admin.register(Tenant)
class TenantAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "is_active", "max_devices", "created_at"]
    list_filter = ["is_active"]
    search_fields = ["name", "slug", "external_id"]
    inlines = [MembershipInline]


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "prefix",
        "tenant",
        "is_platform_admin",
        "allow_sync_send",
        "status",
        "last_used_at",
    ]
    list_filter = ["is_platform_admin", "allow_sync_send"]
    search_fields = ["name", "prefix", "tenant__name"]
    list_select_related = ["tenant"]
    readonly_fields = ["prefix", "key_hash", "last_used_at", "created_at"]
