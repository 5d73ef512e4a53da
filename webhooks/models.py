from __future__ import annotations

import secrets
import uuid
from datetime import datetime

from django.db import models
from django.utils.translation import gettext_lazy as _


def new_event_id() -> str:
    return "evt_" + secrets.token_hex(12)


class Event(models.Model):
    """One catalog event (SPEC §5), written in the same transaction as the change that caused it.

    Webhook deliveries and WebSocket pushes are made from this row, so nothing is lost when a
    receiver, a worker or Redis is down: the row is the source of truth."""

    id = models.CharField(primary_key=True, max_length=40, default=new_event_id, editable=False)
    tenant = models.ForeignKey("tenants.Tenant", on_delete=models.CASCADE, related_name="events")
    # A plain id, not a foreign key: webhooks sits below devices and must not depend on it.
    device_id = models.UUIDField(null=True, blank=True, db_index=True)
    type = models.CharField(max_length=40, db_index=True)
    data = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True)
    # Set when the webhook fan-out has made this event's deliveries (possibly none): the sweeper
    # fans out recent events still without it, so a lost fan-out task loses nothing.
    fanned_out_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "t_event"
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["tenant", "-created_at"], name="event_tenant_recent"),
            models.Index(
                fields=["created_at"],
                name="event_fanout_pending",
                condition=models.Q(fanned_out_at__isnull=True),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.type} {self.pk}"

    def envelope(self) -> dict[str, object]:
        """The body tenants receive: ``{"id", "event", "device_id", "data", "timestamp"}``."""
        return {
            "id": self.pk,
            "event": self.type,
            "device_id": str(self.device_id) if self.device_id else None,
            "data": self.data,
            "timestamp": self.created_at.isoformat().replace("+00:00", "Z"),
        }


def new_webhook_secret() -> str:
    return "whsec_" + secrets.token_urlsafe(32)


class WebhookEndpoint(models.Model):
    """A tenant's URL that receives catalog events, signed with its secret (SPEC §4, §5)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    tenant = models.ForeignKey("tenants.Tenant", on_delete=models.CASCADE, related_name="webhook_endpoints")
    url = models.CharField(max_length=2000)
    description = models.CharField(max_length=500, blank=True, default="")
    events = models.JSONField(default=list, blank=True, help_text="Catalog event types; empty = all.")
    device_ids = models.JSONField(default=list, blank=True, help_text="Device ids (strings); empty = all.")
    # Kept in clear: every delivery is signed with it. Shown to the tenant only at creation/rotation.
    secret = models.CharField(max_length=100, default=new_webhook_secret)
    previous_secret = models.CharField(max_length=100, blank=True, default="")
    previous_secret_expires_at = models.DateTimeField(null=True, blank=True)
    is_active = models.BooleanField(default=True)
    failing_since = models.DateTimeField(
        null=True, blank=True, help_text="First failed attempt since the last successful one."
    )
    disabled_at = models.DateTimeField(null=True, blank=True)
    disabled_reason = models.CharField(max_length=300, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "m_webhook_endpoint"
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["tenant", "is_active"], name="webhook_endpoint_tenant")]

    def __str__(self) -> str:
        return self.url

    def signing_secrets(self, now: datetime) -> tuple[str, str | None]:
        """The current secret, and the previous one while its grace period lasts."""
        previous = self.previous_secret or None
        if previous and (self.previous_secret_expires_at is None or self.previous_secret_expires_at <= now):
            previous = None
        return self.secret, previous

    def wants(self, event: Event) -> bool:
        """Does this endpoint subscribe to the event (event filter and device filter)?"""
        if self.events and event.type not in self.events:
            return False
        if self.device_ids:
            return event.device_id is not None and str(event.device_id) in self.device_ids
        return True


class WebhookDelivery(models.Model):
    """One event on its way to one endpoint; its attempts are the log."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        SUCCEEDED = "succeeded", _("Succeeded")
        FAILED = "failed", _("Failed")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries")
    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="deliveries")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0, help_text="Attempts made, in all.")
    window_attempts = models.PositiveIntegerField(
        default=0, help_text="Attempts in the current retry window (a redelivery opens a new one)."
    )
    # While an attempt is in flight this is its lease: past it, the sweeper hands the delivery to
    # another worker (the first one was killed).
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    first_attempt_at = models.DateTimeField(
        null=True, blank=True, help_text="Start of the current retry window."
    )
    last_status_code = models.PositiveIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True, default="")
    delivered_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "t_webhook_delivery"
        ordering = ["-created_at"]
        constraints = [models.UniqueConstraint(fields=["endpoint", "event"], name="uniq_webhook_delivery")]
        indexes = [
            models.Index(fields=["endpoint", "-created_at"], name="webhook_delivery_recent"),
            models.Index(
                fields=["next_attempt_at"],
                name="webhook_delivery_due",
                condition=models.Q(status="pending"),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.event_id} → {self.endpoint_id} ({self.status})"


class WebhookAttempt(models.Model):
    """One POST of a delivery: when, how long, what the receiver answered."""

    delivery = models.ForeignKey(WebhookDelivery, on_delete=models.CASCADE, related_name="attempt_log")
    number = models.PositiveIntegerField()
    started_at = models.DateTimeField()
    duration_ms = models.PositiveIntegerField(null=True, blank=True, help_text="Empty while in flight.")
    status_code = models.PositiveIntegerField(null=True, blank=True)
    response_excerpt = models.TextField(blank=True, default="", help_text="At most the first 1 KB.")
    error = models.CharField(max_length=500, blank=True, default="")
    success = models.BooleanField(default=False)

    class Meta:
        db_table = "t_webhook_attempt"
        ordering = ["number"]
        constraints = [models.UniqueConstraint(fields=["delivery", "number"], name="uniq_webhook_attempt")]

    def __str__(self) -> str:
        return f"attempt {self.number} of {self.delivery_id}"
