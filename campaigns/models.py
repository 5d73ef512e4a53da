from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models


class Campaign(models.Model):
    """A bulk send: one message template, many recipients (in their own table), paced by a scheduler."""

    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        SCHEDULED = "scheduled", "Scheduled"
        RUNNING = "running", "Running"
        PAUSED = "paused", "Paused"
        COMPLETED = "completed", "Completed"
        CANCELLED = "cancelled", "Cancelled"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    tenant = models.ForeignKey("tenants.Tenant", on_delete=models.CASCADE, related_name="campaigns")
    device = models.ForeignKey(
        "devices.Device", on_delete=models.CASCADE, related_name="campaigns", help_text="The sending device"
    )
    name = models.CharField(max_length=200)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DRAFT, db_index=True)
    # A single-send body without device_id/to, with {{Column}} placeholders: {"type": "text", "text": "…"}.
    message = models.JSONField()
    columns = models.JSONField(default=list, help_text="Recipient fields known to the template (normalised)")
    # Settings.
    delay_ms = models.PositiveIntegerField(help_text="Delay between messages, milliseconds")
    jitter_percent = models.PositiveSmallIntegerField(default=30, help_text="Random extra delay, 0–100 %")
    window_start = models.TimeField(null=True, blank=True, help_text="Send window start, WIB")
    window_end = models.TimeField(null=True, blank=True, help_text="Send window end, WIB")
    daily_cap_per_device = models.PositiveIntegerField(null=True, blank=True)
    rotation_device_ids = models.JSONField(
        default=list, blank=True, help_text="More of the tenant's devices to rotate across (ids)"
    )
    failure_rate_threshold = models.FloatField(default=0.5)
    failure_window = models.PositiveIntegerField(default=20, help_text="The last N settled sends")
    # Lifecycle.
    scheduled_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    paused_at = models.DateTimeField(null=True, blank=True)
    resumed_at = models.DateTimeField(null=True, blank=True)
    pause_reason = models.CharField(max_length=300, blank=True, default="")
    completed_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    # Scheduler state: only the tick carrying the current ``tick_seq`` may act (duplicates are dropped).
    next_run_at = models.DateTimeField(null=True, blank=True, db_index=True)
    tick_seq = models.PositiveIntegerField(default=0)
    rotation_cursor = models.PositiveIntegerField(default=0)
    waiting_reason = models.CharField(max_length=300, blank=True, default="")
    recipient_count = models.PositiveIntegerField(default=0)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    api_key = models.ForeignKey(
        "tenants.ApiKey", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "t_campaign"
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["tenant", "-created_at"], name="campaign_tenant_recent"),
            models.Index(fields=["status", "next_run_at"], name="campaign_due"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.status})"

    @property
    def device_ids(self) -> list[str]:
        """The primary device first, then the rotation, without repeats."""
        ids = [str(self.device_id)]
        for device_id in self.rotation_device_ids or []:
            if str(device_id) not in ids:
                ids.append(str(device_id))
        return ids


class CampaignRecipient(models.Model):
    """One row of the campaign's list; linked to at most one message at a time (unique)."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"  # not handed to messaging yet
        QUEUED = "queued", "Queued"  # its message exists; the message's status says the rest
        FAILED = "failed", "Failed"  # refused before a message could be made (e.g. the rendered text)

    id = models.BigAutoField(primary_key=True)
    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="recipients")
    phone = models.CharField(max_length=100, help_text="Normalised digits or a group JID")
    name = models.CharField(max_length=200, blank=True, default="")
    fields = models.JSONField(default=dict, blank=True, help_text="Other columns, as given")
    row_number = models.PositiveIntegerField(null=True, blank=True, help_text="Row in the uploaded CSV")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    message = models.OneToOneField(
        "messaging.Message",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="campaign_recipient",
    )
    device = models.ForeignKey(
        "devices.Device", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    error_code = models.CharField(max_length=50, blank=True, default="")
    error_message = models.TextField(blank=True, default="")
    attempts = models.PositiveSmallIntegerField(default=0)
    queued_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "t_campaign_recipient"
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["campaign", "phone"], name="uniq_campaign_recipient_phone")
        ]
        indexes = [
            models.Index(fields=["campaign", "status", "id"], name="campaign_recipient_next"),
            models.Index(fields=["campaign", "queued_at"], name="campaign_recipient_recent"),
        ]

    def __str__(self) -> str:
        return f"{self.phone} ({self.status})"
