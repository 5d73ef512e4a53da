from __future__ import annotations

import uuid
from typing import Any

from django.db.models import Count, QuerySet

from wavora.api.errors import NotFound

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
