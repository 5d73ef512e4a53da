"""The event catalog (SPEC §5) and the one way to emit an event."""

from __future__ import annotations

import uuid
from typing import Any

from django.db import transaction
from django.utils import timezone

from . import realtime
from .models import Event

CATALOG = frozenset(
    {
        "message.in",
        "message.out",
        "message.receipt",
        "message.failed",
        "message.revoked",
        "message.reaction",
        "message.edited",
        "interaction.button",
        "interaction.list",
        "device.qr",
        "device.pairing_code",
        "device.connected",
        "device.disconnected",
        "device.logged_out",
        "contacts.new",
        "contacts.sync",
        "campaign.started",
        "campaign.paused",
        "campaign.completed",
        "webhook.test",
        "webhook.disabled",
        # billing (issue 5)
        "invoice.created",
        "invoice.paid",
        "invoice.expired",
        "payment.failed",
        "payment.rejected",
        "payment.needs_review",
        "subscription.updated",
        "subscription.past_due",
        "subscription.downgraded",
    }
)

# Called after commit with the event id; the delivery engine registers itself here (webhooks.delivery).
_after_commit_hooks: list[Any] = []


def on_event_committed(hook: Any) -> Any:
    _after_commit_hooks.append(hook)
    return hook


def event_emit(
    *, tenant_id: uuid.UUID, type: str, data: dict[str, Any], device_id: uuid.UUID | str | None = None
) -> Event:
    """Writes the event in the caller's transaction; after commit it is pushed to the tenant's
    WebSocket clients and handed to webhook delivery."""
    if type not in CATALOG:
        raise ValueError(f"{type!r} is not in the event catalog")
    event = Event.objects.create(
        tenant_id=tenant_id,
        type=type,
        data=data,
        device_id=uuid.UUID(str(device_id)) if device_id else None,
        created_at=timezone.now(),
    )

    def after_commit() -> None:
        realtime.publish(tenant_id=tenant_id, device_id=device_id, event=type, data=data, event_id=event.pk)
        for hook in _after_commit_hooks:
            hook(event.pk)

    transaction.on_commit(after_commit)
    return event
