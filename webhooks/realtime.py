"""Push events to the tenant's WebSocket clients through the Channels layer (cross-process)."""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

logger = logging.getLogger(__name__)


def tenant_group(tenant_id: uuid.UUID | str) -> str:
    return f"tenant.{uuid.UUID(str(tenant_id)).hex}"


def publish(
    *,
    tenant_id: uuid.UUID | str,
    event: str,
    data: Any,
    device_id: uuid.UUID | str | None = None,
    event_id: str | None = None,
) -> None:
    """Best effort: a WebSocket push must never fail the business operation that caused it."""
    layer = get_channel_layer()
    if layer is None:
        return
    message = {
        "type": "wavora.event",
        "event": event,
        "device_id": str(device_id) if device_id else None,
        "data": data,
        "timestamp": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
        "id": event_id,
    }
    try:
        async_to_sync(layer.group_send)(tenant_group(tenant_id), message)
    except Exception:
        logger.warning("WebSocket publish of %s failed", event, exc_info=True)
