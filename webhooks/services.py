"""Writes of the webhooks app: endpoints, the fan-out of events into deliveries, delivery attempts,
redelivery, the sweeper and auto-disable.

Reliability rests on the database, not on Redis: a delivery row exists before any task is queued
(tasks are queued on commit and take ids only), a claim is a row lock plus a status and due-time
guard, and a pending delivery's ``next_attempt_at`` is either its next retry or, while an attempt is
in flight, its lease. The sweeper re-queues whatever is overdue, so a lost task or a killed worker
delays a delivery but never loses it. Delivery is at-least-once: a worker killed after the receiver
got the request but before the result was recorded leads to a second request with the same
``X-Webhook-Id``. Our own retries never duplicate a success: a delivery is retried only while it is
pending, and only a failed attempt keeps it pending.

Functions that depend on time take ``now`` (default: the current time) so tests can move the clock.
"""

from __future__ import annotations

import logging
import random
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.apps import apps
from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.utils import timezone

from tenants.models import Membership, Tenant
from wavora import ssrf
from wavora.api.errors import ValidationFailed

from . import delivery as adapter
from .events import CATALOG, event_emit
from .models import Event, WebhookAttempt, WebhookDelivery, WebhookEndpoint, new_webhook_secret
from .selectors import active_endpoints_wanting, deliveries_overdue, events_awaiting_fan_out

logger = logging.getLogger(__name__)

TEST_EVENT = "webhook.test"
DISABLED_EVENT = "webhook.disabled"
# Only the test endpoint delivers webhook.test, to the one endpoint being tested.
TARGETED_EVENTS = frozenset({TEST_EVENT})
CLOCK_TOLERANCE = timedelta(seconds=2)  # a countdown task may arrive a little early
FAN_OUT_GRACE = timedelta(seconds=60)  # the fan-out task normally runs well within this
SWEEP_BATCH = 1000


# --- endpoints -------------------------------------------------------------------------------
def _clean_events(events: Iterable[str]) -> list[str]:
    chosen = list(dict.fromkeys(events))
    unknown = [name for name in chosen if name not in CATALOG]
    if unknown:
        raise ValidationFailed(
            f"events: unknown event type {unknown[0]!r}.",
            details={"events": [f"Unknown event type: {name}." for name in unknown]},
        )
    return chosen


def _clean_device_ids(tenant_id: uuid.UUID, device_ids: Iterable[uuid.UUID | str]) -> list[str]:
    chosen: list[str] = []
    for raw in device_ids:
        try:
            text = str(uuid.UUID(str(raw)))
        except ValueError:
            raise ValidationFailed(
                f"device_ids: {raw!r} is not a device id.",
                details={"device_ids": [f"Not a device id: {raw}."]},
            )
        if text not in chosen:
            chosen.append(text)
    if not chosen:
        return chosen
    # By label: webhooks sits below devices and must not import it.
    device_model = apps.get_model("devices", "Device")
    found = {
        str(pk)
        for pk in device_model.objects.filter(
            tenant_id=tenant_id, pk__in=chosen, deleted_at__isnull=True
        ).values_list("pk", flat=True)
    }
    missing = [device_id for device_id in chosen if device_id not in found]
    if missing:
        raise ValidationFailed(
            f"device_ids: unknown device {missing[0]}.",
            details={"device_ids": [f"Unknown device: {device_id}." for device_id in missing]},
        )
    return chosen


def endpoint_create(
    *,
    tenant: Tenant,
    url: str,
    events: Iterable[str] = (),
    device_ids: Iterable[uuid.UUID | str] = (),
    description: str = "",
    is_active: bool = True,
) -> WebhookEndpoint:
    """A new endpoint with a generated secret (the caller shows it once)."""
    return WebhookEndpoint.objects.create(
        tenant=tenant,
        url=ssrf.validate_url(url, field="url"),
        events=_clean_events(events),
        device_ids=_clean_device_ids(tenant.pk, device_ids),
        description=description,
        is_active=is_active,
    )


def endpoint_update(*, endpoint: WebhookEndpoint, **fields: Any) -> WebhookEndpoint:
    """Changes url/events/device_ids/description/is_active. Re-enabling clears the failure state."""
    allowed = {"url", "events", "device_ids", "description", "is_active"}
    unexpected = set(fields) - allowed
    if unexpected:
        raise TypeError(f"endpoint_update() got unexpected fields {sorted(unexpected)}")
    if "url" in fields:
        endpoint.url = ssrf.validate_url(fields["url"], field="url")
    if "events" in fields:
        endpoint.events = _clean_events(fields["events"])
    if "device_ids" in fields:
        endpoint.device_ids = _clean_device_ids(endpoint.tenant_id, fields["device_ids"])
    if "description" in fields:
        endpoint.description = fields["description"]
    if "is_active" in fields and fields["is_active"] != endpoint.is_active:
        endpoint.is_active = fields["is_active"]
        if endpoint.is_active:
            endpoint.failing_since = None
            endpoint.disabled_at = None
            endpoint.disabled_reason = ""
    endpoint.save()
    return endpoint


def endpoint_delete(*, endpoint: WebhookEndpoint) -> None:
    """Deletes the endpoint and its delivery log; queued deliveries find nothing and stop."""
    endpoint.delete()


def endpoint_rotate_secret(
    *, endpoint: WebhookEndpoint, grace: timedelta | None = None, now: datetime | None = None
) -> WebhookEndpoint:
    """A new secret signs from now on; the replaced one keeps signing (a second header) for ``grace``."""
    now = now or timezone.now()
    if grace is None:
        grace = timedelta(hours=settings.WEBHOOK_SECRET_GRACE_HOURS)
    endpoint.previous_secret = endpoint.secret if grace > timedelta(0) else ""
    endpoint.previous_secret_expires_at = now + grace if grace > timedelta(0) else None
    endpoint.secret = new_webhook_secret()
    endpoint.save(update_fields=["secret", "previous_secret", "previous_secret_expires_at", "updated_at"])
    return endpoint


@transaction.atomic
def endpoint_disable(*, endpoint_id: uuid.UUID, reason: str, now: datetime | None = None) -> bool:
    """Turns an active endpoint off, fails its pending deliveries, emits ``webhook.disabled`` and
    emails the tenant's owners. False when it was not active (nothing happens twice)."""
    now = now or timezone.now()
    changed = WebhookEndpoint.objects.filter(pk=endpoint_id, is_active=True).update(
        is_active=False, disabled_at=now, disabled_reason=reason[:300], updated_at=now
    )
    if not changed:
        return False
    endpoint = WebhookEndpoint.objects.get(pk=endpoint_id)
    WebhookDelivery.objects.filter(endpoint_id=endpoint_id, status=WebhookDelivery.Status.PENDING).update(
        status=WebhookDelivery.Status.FAILED,
        next_attempt_at=None,
        last_error="The endpoint was disabled.",
        updated_at=now,
    )
    event_emit(
        tenant_id=endpoint.tenant_id,
        type=DISABLED_EVENT,
        data={
            "webhook_id": str(endpoint.pk),
            "url": endpoint.url,
            "reason": endpoint.disabled_reason,
            "failing_since": _iso(endpoint.failing_since),
            "disabled_at": _iso(now),
        },
    )
    transaction.on_commit(lambda: notify_owners_endpoint_disabled(endpoint_id=endpoint_id))
    logger.warning("Webhook endpoint %s disabled: %s", endpoint_id, reason)
    return True


def notify_owners_endpoint_disabled(*, endpoint_id: uuid.UUID) -> None:
    endpoint = WebhookEndpoint.objects.select_related("tenant").filter(pk=endpoint_id).first()
    if endpoint is None:
        return
    emails = list(
        Membership.objects.filter(
            tenant_id=endpoint.tenant_id, role__in=[Membership.Role.OWNER, Membership.Role.ADMIN]
        )
        .exclude(user__email="")
        .values_list("user__email", flat=True)
    )
    if not emails:
        return
    since = endpoint.failing_since.strftime("%Y-%m-%d %H:%M UTC") if endpoint.failing_since else "some time"
    send_mail(
        subject=f"[Wavora] Webhook endpoint disabled: {endpoint.url}"[:200],
        message=(
            f"Every delivery to the webhook endpoint {endpoint.url} of {endpoint.tenant.name} has failed "
            f"since {since}, so Wavora disabled it and stopped sending events to it.\n\n"
            f"Reason: {endpoint.disabled_reason}\n\n"
            "Fix the receiver, check it with POST /api/v1/webhooks/test, re-enable the endpoint with "
            f'PATCH /api/v1/webhooks/{endpoint.pk} {{"is_active": true}}, and redeliver the events '
            f"you missed from GET /api/v1/webhooks/{endpoint.pk}/deliveries?status=failed."
        ),
        from_email=None,
        recipient_list=emails,
        fail_silently=True,
    )


# --- fan-out ---------------------------------------------------------------------------------
def event_fan_out(*, event_id: str, now: datetime | None = None) -> list[uuid.UUID]:
    """One delivery per active endpoint that wants the event, made once per event (the event row's
    ``fanned_out_at`` is the guard), each queued on commit. Returns the new deliveries' ids."""
    now = now or timezone.now()
    with transaction.atomic():
        if not Event.objects.filter(pk=event_id, fanned_out_at__isnull=True).update(fanned_out_at=now):
            return []  # done before (the task and the sweeper may both try)
        event = Event.objects.get(pk=event_id)
        if event.type in TARGETED_EVENTS:
            return []
        endpoints = active_endpoints_wanting(event)
        if not endpoints:
            return []
        WebhookDelivery.objects.bulk_create(
            [WebhookDelivery(endpoint=endpoint, event=event, next_attempt_at=now) for endpoint in endpoints],
            ignore_conflicts=True,
        )
        delivery_ids = list(
            WebhookDelivery.objects.filter(
                event=event, endpoint__in=endpoints, status=WebhookDelivery.Status.PENDING, attempts=0
            ).values_list("pk", flat=True)
        )
        transaction.on_commit(lambda: _enqueue(delivery_ids))
    return delivery_ids


def _enqueue(delivery_ids: Iterable[uuid.UUID], countdown: float = 0) -> None:
    from .tasks import deliver

    for delivery_id in delivery_ids:
        try:
            deliver.apply_async((str(delivery_id),), countdown=countdown)
        except Exception:
            # Redis is down: the row is pending and due, so the sweeper queues it later.
            logger.warning(
                "Could not queue webhook delivery %s; the sweeper will", delivery_id, exc_info=True
            )


# --- attempts --------------------------------------------------------------------------------
def _lease() -> timedelta:
    # Longer than any attempt can take (the POST is capped at the timeout), so only a dead worker's
    # claim expires.
    return timedelta(seconds=float(settings.WEBHOOK_TIMEOUT_SECONDS) + 10)


def _claim(
    delivery_id: uuid.UUID, now: datetime, include_inactive: bool
) -> tuple[WebhookDelivery, WebhookAttempt] | None:
    with transaction.atomic():
        delivery = (
            WebhookDelivery.objects.select_for_update(of=("self",))
            .select_related("endpoint", "event")
            .filter(pk=delivery_id)
            .first()
        )
        if delivery is None or delivery.status != WebhookDelivery.Status.PENDING:
            return None
        if delivery.next_attempt_at is not None and delivery.next_attempt_at > now + CLOCK_TOLERANCE:
            return None  # not due, or another worker's attempt is in flight
        if not delivery.endpoint.is_active and not include_inactive:
            delivery.status = WebhookDelivery.Status.FAILED
            delivery.next_attempt_at = None
            delivery.last_error = "The endpoint is disabled."
            delivery.save(update_fields=["status", "next_attempt_at", "last_error", "updated_at"])
            return None
        # An attempt left without a result: its worker died before recording it.
        WebhookAttempt.objects.filter(delivery=delivery, duration_ms__isnull=True, error="").update(
            error="Interrupted: the worker stopped before the answer was recorded."
        )
        delivery.attempts += 1
        delivery.window_attempts += 1
        delivery.first_attempt_at = delivery.first_attempt_at or now
        delivery.next_attempt_at = now + _lease()
        delivery.save(
            update_fields=["attempts", "window_attempts", "first_attempt_at", "next_attempt_at", "updated_at"]
        )
        attempt = WebhookAttempt.objects.create(delivery=delivery, number=delivery.attempts, started_at=now)
    return delivery, attempt


def delivery_attempt(
    *, delivery_id: uuid.UUID, now: datetime | None = None, include_inactive: bool = False
) -> WebhookAttempt | None:
    """Makes the delivery's next attempt if it is pending and due; records it and schedules the
    retry or gives up. Returns the attempt, or None when there was nothing to do."""
    now = now or timezone.now()
    claimed = _claim(delivery_id, now, include_inactive)
    if claimed is None:
        return None
    delivery, attempt = claimed
    endpoint, event = delivery.endpoint, delivery.event
    body = adapter.body_bytes(event.envelope())
    secret, previous = endpoint.signing_secrets(now)
    headers = adapter.request_headers(
        event_id=event.pk,
        event_type=event.type,
        body=body,
        secret=secret,
        previous_secret=previous,
        attempt=attempt.number,
        now=now,
    )
    outcome = adapter.send(url=endpoint.url, body=body, headers=headers)
    finished = now + timedelta(milliseconds=outcome.duration_ms)
    _record(delivery, attempt, outcome, finished)
    attempt.refresh_from_db()
    return attempt


def _record(
    delivery: WebhookDelivery, attempt: WebhookAttempt, outcome: adapter.Outcome, finished: datetime
) -> None:
    Status = WebhookDelivery.Status
    with transaction.atomic():
        WebhookAttempt.objects.filter(pk=attempt.pk).update(
            duration_ms=outcome.duration_ms,
            status_code=outcome.status_code,
            response_excerpt=outcome.excerpt,
            error=outcome.error[:500],
            success=outcome.success,
        )
        # Only the attempt that holds the claim may settle the delivery: never marked twice.
        current = WebhookDelivery.objects.filter(
            pk=delivery.pk, status=Status.PENDING, attempts=attempt.number
        )
        common = {"last_status_code": outcome.status_code, "updated_at": finished}
        if outcome.success:
            if current.update(
                status=Status.SUCCEEDED, delivered_at=finished, next_attempt_at=None, last_error="", **common
            ):
                WebhookEndpoint.objects.filter(pk=delivery.endpoint_id, failing_since__isnull=False).update(
                    failing_since=None
                )
            return
        retry_at = None
        if delivery.event.type not in TARGETED_EVENTS:  # a test is one attempt, not 24 h of them
            assert delivery.first_attempt_at is not None
            retry_at = adapter.next_attempt_at(
                failed_attempts=delivery.window_attempts,
                first_attempt_at=delivery.first_attempt_at,
                now=finished,
                window=timedelta(hours=settings.WEBHOOK_RETRY_WINDOW_HOURS),
                jitter=random.uniform(-1, 1),
            )
        settled = current.update(
            status=Status.PENDING if retry_at else Status.FAILED,
            next_attempt_at=retry_at,
            last_error=outcome.error[:500],
            **common,
        )
        if not settled:
            return
        if retry_at is not None:
            wait = (retry_at - finished).total_seconds()
            if wait <= settings.WEBHOOK_MAX_COUNTDOWN_SECONDS:
                transaction.on_commit(lambda: _enqueue([delivery.pk], countdown=wait))
            # A later retry waits in the database; the sweeper queues it when it is due.
        _note_endpoint_failure(delivery.endpoint_id, attempt.started_at, finished)


def _note_endpoint_failure(endpoint_id: uuid.UUID, failed_at: datetime, now: datetime) -> None:
    WebhookEndpoint.objects.filter(pk=endpoint_id, failing_since__isnull=True).update(failing_since=failed_at)
    endpoint = WebhookEndpoint.objects.filter(pk=endpoint_id).only("is_active", "failing_since").first()
    if endpoint is None or not endpoint.is_active or endpoint.failing_since is None:
        return
    limit = timedelta(days=settings.WEBHOOK_DISABLE_AFTER_DAYS)
    if now - endpoint.failing_since >= limit:
        days = f"{settings.WEBHOOK_DISABLE_AFTER_DAYS:g}"
        endpoint_disable(
            endpoint_id=endpoint_id,
            reason=f"Every delivery failed for {days} days (since {_iso(endpoint.failing_since)}).",
            now=now,
        )


def delivery_redeliver(*, delivery: WebhookDelivery, now: datetime | None = None) -> WebhookDelivery:
    """Queues a new attempt now, with a fresh retry window, whatever the delivery's status —
    also for one that succeeded (an explicit request is the only way to send it twice)."""
    now = now or timezone.now()
    if not delivery.endpoint.is_active:
        raise ValidationFailed(
            "This webhook endpoint is disabled; enable it before redelivering.",
            details={"webhook_id": ["The endpoint is disabled."]},
        )
    with transaction.atomic():
        WebhookDelivery.objects.filter(pk=delivery.pk).update(
            status=WebhookDelivery.Status.PENDING,
            next_attempt_at=now,
            first_attempt_at=None,
            window_attempts=0,
            updated_at=now,
        )
        transaction.on_commit(lambda: _enqueue([delivery.pk]))
    delivery.refresh_from_db()
    return delivery


def webhook_test_send(*, endpoint: WebhookEndpoint, now: datetime | None = None) -> WebhookAttempt:
    """Sends a ``webhook.test`` event to this one endpoint now, in the caller's thread, recorded as
    a delivery with one attempt (not retried). Works on a disabled endpoint too: that is how a
    tenant checks a fixed receiver before re-enabling it."""
    now = now or timezone.now()
    with transaction.atomic():
        event = event_emit(
            tenant_id=endpoint.tenant_id,
            type=TEST_EVENT,
            data={"webhook_id": str(endpoint.pk), "message": "A test event from Wavora."},
        )
        delivery = WebhookDelivery.objects.create(endpoint=endpoint, event=event, next_attempt_at=now)
    attempt = delivery_attempt(delivery_id=delivery.pk, now=now, include_inactive=True)
    assert attempt is not None  # a delivery just made is pending and due
    return attempt


# --- the sweeper -----------------------------------------------------------------------------
@dataclass(frozen=True)
class SweepReport:
    fanned_out: int
    requeued: int


def webhooks_sweep(*, now: datetime | None = None, grace_seconds: float | None = None) -> SweepReport:
    """Fans out recent events whose fan-out task was lost and re-queues overdue deliveries (their
    task was lost, or their worker died mid-attempt and the lease ran out)."""
    now = now or timezone.now()
    grace = timedelta(
        seconds=settings.WEBHOOK_SWEEP_GRACE_SECONDS if grace_seconds is None else grace_seconds
    )
    events = events_awaiting_fan_out(
        now=now,
        lookback=timedelta(hours=settings.WEBHOOK_FANOUT_LOOKBACK_HOURS),
        grace=FAN_OUT_GRACE,
        limit=SWEEP_BATCH,
    )
    for event_id in events:
        event_fan_out(event_id=event_id, now=now)
    overdue = deliveries_overdue(now=now, grace=grace, limit=SWEEP_BATCH)
    _enqueue(overdue)
    if events or overdue:
        logger.info(
            "Webhook sweeper: fanned out %s events, re-queued %s deliveries", len(events), len(overdue)
        )
    return SweepReport(fanned_out=len(events), requeued=len(overdue))


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat().replace("+00:00", "Z") if moment else None
