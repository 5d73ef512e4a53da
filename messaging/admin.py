from django.contrib import admin
from django.http import HttpRequest

from .models import AutoReplyRule, Contact, GowaEvent, Media, Message, MessageStatusChange


class HistoryInline(admin.TabularInline):
    model = MessageStatusChange
    extra = 0
    can_delete = False
    readonly_fields = ["status", "at", "detail"]


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):
    list_display = ["id", "tenant", "device", "direction", "type", "recipient", "status", "created_at"]
    list_filter = ["status", "direction", "type"]
    search_fields = ["id", "recipient", "gowa_message_id", "tenant__name"]
    list_select_related = ["tenant", "device"]
    raw_id_fields = ["tenant", "device", "job"]
    inlines = [HistoryInline]
    date_hierarchy = "created_at"


@admin.register(GowaEvent)
class GowaEventAdmin(admin.ModelAdmin):
    """Raw GOWA webhooks, read-only: they are evidence, not data to edit."""

    list_display = ["id", "node", "event", "session_id", "status", "received_at"]
    list_filter = ["event", "status", "node"]
    search_fields = ["session_id", "device_jid", "dedupe_key"]
    list_select_related = ["node"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(Contact)
class ContactAdmin(admin.ModelAdmin):
    list_display = ["name", "phone", "jid", "device", "tenant", "source", "last_seen_at"]
    list_filter = ["source"]
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
    list_filter = ["kind"]
    search_fields = ["id", "filename", "sha256", "tenant__name"]
    list_select_related = ["tenant"]
    raw_id_fields = ["tenant"]
