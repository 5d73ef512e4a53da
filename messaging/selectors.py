from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from django.db.models import Count, Q, QuerySet

from wavora.api.errors import NotFound
from wavora.phones import to_jid

from .models import Message, SendJob


def message_of_tenant(*, tenant_id: uuid.UUID, message_id: Any) -> Message:
    try:
        parsed = uuid.UUID(str(message_id))
    except ValueError:
        raise NotFound("Message not found.")
    message = (
        Message.objects.select_related("device")
        .prefetch_related("history")
        .filter(tenant_id=tenant_id, pk=parsed)
        .first()
    )
    if message is None:
        raise NotFound("Message not found.")
    return message


def job_of_tenant(*, tenant_id: uuid.UUID, job_id: Any) -> tuple[SendJob, dict[str, int], list[str]]:
    try:
        parsed = uuid.UUID(str(job_id))
    except ValueError:
        raise NotFound("Job not found.")
    job = SendJob.objects.filter(tenant_id=tenant_id, pk=parsed).first()
    if job is None:
        raise NotFound("Job not found.")
    counts = {
        row["status"]: row["n"]
        for row in Message.objects.filter(job=job).values("status").annotate(n=Count("id")).order_by()
    }
    ids = [
        str(pk) for pk in Message.objects.filter(job=job).order_by("created_at").values_list("pk", flat=True)
    ]
    return job, counts, ids


def messages_of_tenant(*, tenant_id: uuid.UUID) -> QuerySet[Message]:
    return Message.objects.filter(tenant_id=tenant_id)


def message_logs_of_tenant(
    *,
    tenant_id: uuid.UUID,
    device_id: uuid.UUID | None = None,
    direction: str = "",
    status: str = "",
    type: str = "",
    phone: str = "",
    created_from: datetime | None = None,
    created_before: datetime | None = None,
) -> QuerySet[Message]:
    """The dashboard's message log: newest first, each filter optional; ``phone`` (normalised digits)
    matches the other party — the recipient of outgoing and the sender of incoming messages."""
    messages = messages_of_tenant(tenant_id=tenant_id).select_related("device")
    if device_id:
        messages = messages.filter(device_id=device_id)
    for name, value in (("direction", direction), ("status", status), ("type", type)):
        if value:
            messages = messages.filter(**{name: value})
    if phone:
        messages = messages.filter(
            Q(direction=Message.Direction.OUT, recipient=phone)
            | Q(direction=Message.Direction.IN, sender__in=[phone, to_jid(phone)])
        )
    if created_from:
        messages = messages.filter(created_at__gte=created_from)
    if created_before:
        messages = messages.filter(created_at__lt=created_before)
    return messages.order_by("-created_at", "-id")
