"""Reads of the webhooks app. Every tenant-facing lookup is scoped by tenant: another tenant's
endpoint or delivery is simply not found (404, never 403)."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from django.db.models import QuerySet

from wavora.api.errors import NotFound

from .models import Event, WebhookDelivery, WebhookEndpoint


def endpoints_of_tenant(*, tenant_id: uuid.UUID) -> QuerySet[WebhookEndpoint]:
    return WebhookEndpoint.objects.filter(tenant_id=tenant_id).order_by("-created_at")


def endpoint_of_tenant(*, tenant_id: uuid.UUID, endpoint_id: uuid.UUID) -> WebhookEndpoint:
    endpoint = endpoints_of_tenant(tenant_id=tenant_id).filter(pk=endpoint_id).first()
    if endpoint is None:
        raise NotFound("Webhook endpoint not found.")
    return endpoint


def deliveries_of_endpoint(
    *, endpoint: WebhookEndpoint, status: str | None = None, event_type: str | None = None
) -> QuerySet[WebhookDelivery]:
    deliveries = WebhookDelivery.objects.filter(endpoint=endpoint).select_related("event")
    if status:
        deliveries = deliveries.filter(status=status)
    if event_type:
        deliveries = deliveries.filter(event__type=event_type)
    return deliveries.order_by("-created_at", "-pk")


def delivery_of_tenant(*, tenant_id: uuid.UUID, delivery_id: uuid.UUID) -> WebhookDelivery:
    delivery = (
        WebhookDelivery.objects.select_related("event", "endpoint")
        .prefetch_related("attempt_log")
        .filter(pk=delivery_id, endpoint__tenant_id=tenant_id)
        .first()
    )
    if delivery is None:
        raise NotFound("Webhook delivery not found.")
    return delivery


def active_endpoints_wanting(event: Event) -> list[WebhookEndpoint]:
    """The tenant's active endpoints whose event and device filters let this event through.

    Filtered in Python: a tenant has a handful of endpoints, and SQLite (dev mode) has no JSON
    containment lookup."""
    endpoints = WebhookEndpoint.objects.filter(tenant_id=event.tenant_id, is_active=True)
    return [endpoint for endpoint in endpoints if endpoint.wants(event)]


def events_awaiting_fan_out(*, now: datetime, lookback: timedelta, grace: timedelta, limit: int) -> list[str]:
    return list(
        Event.objects.filter(
            fanned_out_at__isnull=True, created_at__gte=now - lookback, created_at__lt=now - grace
        )
        .order_by("created_at")
        .values_list("pk", flat=True)[:limit]
    )


def deliveries_overdue(*, now: datetime, grace: timedelta, limit: int) -> list[uuid.UUID]:
    """Pending deliveries whose attempt (or in-flight lease) is overdue: their task was lost."""
    return list(
        WebhookDelivery.objects.filter(
            status=WebhookDelivery.Status.PENDING, next_attempt_at__lte=now - grace
        )
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:limit]
    )
