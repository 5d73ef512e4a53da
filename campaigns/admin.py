from __future__ import annotations

from django.contrib import admin

from .models import Campaign, CampaignRecipient


@admin.register(Campaign)
class CampaignAdmin(admin.ModelAdmin):
    list_display = ("name", "tenant", "status", "recipient_count", "scheduled_at", "started_at", "created_at")
    list_filter = ("status",)
    search_fields = ("name", "tenant__name")
    raw_id_fields = ("tenant", "device", "created_by", "api_key")
    readonly_fields = ("tick_seq", "next_run_at", "rotation_cursor", "waiting_reason", "pause_reason")


@admin.register(CampaignRecipient)
class CampaignRecipientAdmin(admin.ModelAdmin):
    list_display = ("phone", "name", "campaign", "status", "queued_at")
    list_filter = ("status",)
    search_fields = ("phone", "name")
    raw_id_fields = ("campaign", "message", "device")
