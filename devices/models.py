from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class GowaNode(models.Model):
    """One GOWA server. Devices are spread over the active nodes by load."""

    name = models.CharField(max_length=100, unique=True)
    base_url = models.URLField(help_text="e.g. http://gowa-1:3000 (include APP_BASE_PATH if set)")
    basic_auth_username = models.CharField(max_length=100, blank=True)
    basic_auth_password = models.CharField(max_length=200, blank=True)
    webhook_secret = models.CharField(max_length=200, help_text="Signs GOWA's webhooks to Wavora")
    capacity = models.PositiveIntegerField(default=50, help_text="Maximum devices on this node")
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "m_gowa_node"
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.base_url})"

    @property
    def callback_url(self) -> str:
        return f"{settings.GOWA_CALLBACK_BASE_URL}/webhooks/gowa/{self.pk}/"


class Device(models.Model):
    class Status(models.TextChoices):
        CREATED = "created", _("Created")
        PAIRING = "pairing", _("Pairing")
        CONNECTED = "connected", _("Connected")
        DISCONNECTED = "disconnected", _("Disconnected")
        LOGGED_OUT = "logged_out", _("Logged out")

    # Wavora's id is also the GOWA device (slot) id.
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    tenant = models.ForeignKey("tenants.Tenant", on_delete=models.CASCADE, related_name="devices")
    node = models.ForeignKey(GowaNode, on_delete=models.PROTECT, related_name="devices")
    name = models.CharField(max_length=100)
    status = models.CharField(max_length=15, choices=Status.choices, default=Status.CREATED, db_index=True)
    phone = models.CharField(max_length=20, blank=True, default="")
    jid = models.CharField(max_length=100, blank=True, default="", db_index=True)
    display_name = models.CharField(max_length=200, blank=True, default="")

    auto_read_enabled = models.BooleanField(default=False)
    typing_enabled = models.BooleanField(default=False)
    auto_reply_enabled = models.BooleanField(default=False)
    send_interval_ms = models.PositiveIntegerField(
        null=True, blank=True, help_text="Empty = platform default"
    )

    pairing_method = models.CharField(max_length=4, blank=True, default="")
    pairing_started_at = models.DateTimeField(null=True, blank=True)
    qr_expires_at = models.DateTimeField(null=True, blank=True)
    connected_at = models.DateTimeField(null=True, blank=True)
    last_seen_at = models.DateTimeField(null=True, blank=True)
    status_changed_at = models.DateTimeField(null=True, blank=True)
    paused_until = models.DateTimeField(null=True, blank=True, help_text="WhatsApp anti-spam timelock")
    paused_reason = models.CharField(max_length=200, blank=True, default="")
    # Why the device is unhealthy when GOWA's own status does not say (e.g. "connected but dead").
    health_note = models.CharField(max_length=300, blank=True, default="")
    reconnect_attempts = models.PositiveSmallIntegerField(default=0)
    # Counters kept by messaging's services, so listing devices with their stats costs no joins.
    messages_sent = models.PositiveIntegerField(default=0)
    messages_delivered = models.PositiveIntegerField(default=0)
    messages_read = models.PositiveIntegerField(default=0)
    messages_failed = models.PositiveIntegerField(default=0)
    messages_received = models.PositiveIntegerField(default=0)
    deleted_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "m_device"
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["tenant", "deleted_at"], name="device_tenant_live")]

    def __str__(self) -> str:
        return f"{self.name} ({self.status})"

    @property
    def gowa_id(self) -> str:
        return str(self.id)

    def send_interval_for(self, plan_default_ms: int | None) -> int:
        """The device's own setting, else its plan's default, else the platform's."""
        if self.send_interval_ms is not None:
            return self.send_interval_ms
        if plan_default_ms is not None:
            return plan_default_ms
        return int(settings.SEND_DEFAULT_INTERVAL_MS)
