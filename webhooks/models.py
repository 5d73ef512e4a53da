from __future__ import annotations

import secrets

from django.db import models


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

    class Meta:
        db_table = "t_event"
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["tenant", "-created_at"], name="event_tenant_recent")]

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
