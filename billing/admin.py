from django.contrib import admin

from .models import Plan, Subscription


@admin.register(Plan)
class PlanAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "price", "period", "message_quota", "is_public", "is_active"]
    list_filter = ["is_public", "is_active", "period"]
    search_fields = ["code", "name"]


@admin.register(Subscription)
class SubscriptionAdmin(admin.ModelAdmin):
    list_display = ["device", "tenant", "plan", "status", "current_period_start", "current_period_end"]
    list_filter = ["status", "plan"]
    search_fields = ["tenant__name", "device__name"]
    list_select_related = ["device", "tenant", "plan"]
    raw_id_fields = ["device", "tenant"]
