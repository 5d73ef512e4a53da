from __future__ import annotations

import uuid

from django.db.models import Count, F, Q, QuerySet

from wavora.api.errors import DeviceNotFound

from .models import Device, GowaNode


def devices_of_tenant(*, tenant_id: uuid.UUID) -> QuerySet[Device]:
    return Device.objects.filter(tenant_id=tenant_id, deleted_at__isnull=True).select_related("node")


def device_of_tenant(*, tenant_id: uuid.UUID, device_id: object) -> Device:
    """Another tenant's device is indistinguishable from a missing one (404, never 403)."""
    try:
        parsed = uuid.UUID(str(device_id))
    except (TypeError, ValueError, AttributeError):
        raise DeviceNotFound(
            f"Device {str(device_id)[:64]} not found.", details={"device_id": ["Unknown device."]}
        )
    device = devices_of_tenant(tenant_id=tenant_id).filter(pk=parsed).first()
    if device is None:
        raise DeviceNotFound(f"Device {parsed} not found.", details={"device_id": ["Unknown device."]})
    return device


def node_with_most_room() -> GowaNode | None:
    live = Q(devices__deleted_at__isnull=True)
    return (
        GowaNode.objects.filter(is_active=True)
        .annotate(load=Count("devices", filter=live))
        .filter(load__lt=F("capacity"))
        .order_by("load", "id")
        .first()
    )


def device_counts_by_status() -> dict[str, int]:
    rows = Device.objects.filter(deleted_at__isnull=True).values("status").annotate(n=Count("id"))
    return {row["status"]: row["n"] for row in rows}
