from django.contrib import admin
from django.db import models
from django.http import HttpRequest

from .models import AutoReplyRule, Contact, GowaEvent, Media, Message, MessageStatusChange


class HistoryInline(admin.TabularInline):
    model = MessageStatusChange
    extra = 0
    can_delete = False
    fields = ("status", "at", "detail")
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


class ReadOnlyAdmin(admin.ModelAdmin):
    """Evidence of what happened, not data to edit: staff can look, filter and search."""

    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(Message)
class MessageAdmin(ReadOnlyAdmin):
    list_display = [
        "id", "tenant", "device", "direction", "type", "recipient", "status", "error_code", "created_at"
    ]
    list_filter = ["status", "direction", "type", ("created_at", admin.DateFieldListFilter)]
    search_fields = ["id", "recipient", "sender", "gowa_message_id", "tenant__name"]
    list_select_related = ["tenant", "device"]
    raw_id_fields = ["tenant", "device", "job", "media"]
    inlines = [HistoryInline]
    date_hierarchy = "created_at"


@admin.register(GowaEvent)
class GowaEventAdmin(ReadOnlyAdmin):
    """Raw GOWA webhooks as received: no add, change or delete."""

    list_display = [
        "id", "node", "event", "session_id", "device_jid", "status", "received_at", "processed_at"
    ]
    list_filter = ["event", "status", "node"]
    search_fields = ["session_id", "device_jid", "dedupe_key"]
    list_select_related = ["node"]
    date_hierarchy = "received_at"


@admin.register(Contact)
class ContactAdmin(admin.ModelAdmin):
    list_display = ["name", "phone", "jid", "device", "tenant", "source", "first_seen_at", "last_seen_at"]
    list_filter = ["source"]
    date_hierarchy = "first_seen_at"
    search_fields = ["name", "phone", "jid", "tenant__name"]
    list_select_related = ["device", "tenant"]
    raw_id_fields = ["device", "tenant"]


@admin.register(AutoReplyRule)
class AutoReplyRuleAdmin(admin.ModelAdmin):
    list_display = ["keyword", "match", "tenant", "device", "enabled", "priority", "reply_to_groups"]
    list_filter = ["enabled", "match"]
    search_fields = ["keyword", "tenant__name"]
    list_select_related = ["device", "tenant"]
    raw_id_fields = ["device", "tenant"]


@admin.register(Media)
class MediaAdmin(admin.ModelAdmin):
    list_display = ["id", "tenant", "kind", "content_type", "size", "filename", "created_at"]
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    list_filter = ["kind"]
    search_fields = ["id", "filename", "sha256", "tenant__name"]
    list_select_related = ["tenant"]
    raw_id_fields = ["tenant"]
