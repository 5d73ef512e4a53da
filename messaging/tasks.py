"""Thin tasks: take ids, reload rows, let the status guards decide (STYLE §4)."""

from __future__ import annotations

import logging
import uuid
from datetime import timedelta

from celery import shared_task
from django.utils import timezone

from billing.selectors import active_plan_for_device
from devices.gowa import GowaError
from devices.models import Device

from . import pacing, services
from .models import GowaEvent, IdempotencyKey, Message

logger = logging.getLogger(__name__)


@shared_task(bind=True, ignore_result=True, max_retries=None, acks_late=True)
def send_message(self, message_id: str) -> None:  # type: ignore[no-untyped-def]
    message = Message.objects.select_related("device", "tenant", "media").filter(pk=message_id).first()
    if message is None or message.status != Message.Status.PENDING:
        return
    device = message.device
    if device.status != Device.Status.CONNECTED or device.deleted_at is not None:
        delay = services.device_unavailable_delay(message=message)
        if delay is not None:
            raise self.retry(countdown=delay)
        return
    now = timezone.now()
    if device.paused_until and device.paused_until > now:
        raise self.retry(countdown=(device.paused_until - now).total_seconds())
    plan = active_plan_for_device(device_id=device.pk)
    interval = device.send_interval_for(plan.send_interval_ms if plan else None)
    wait = pacing.reserve_send_slot(device.pk, interval)
    if wait > 0:
        raise self.retry(countdown=wait)
    claimed = services.message_claim(message_id=uuid.UUID(message_id))
    if claimed is None:
        return
    try:
        services.message_deliver(message=claimed)
    except services.MediaUnavailable as exc:
        services.message_mark_failed(message=claimed, code=exc.code, reason=exc.message)
    except GowaError as exc:
        logger.info("Send of message %s failed (attempt %s): %s", message_id, claimed.attempts, exc)
        delay = services.handle_send_failure(message=claimed, exc=exc)
        if delay is not None:
            raise self.retry(countdown=delay)


RECEIPT_RETRIES = 5


@shared_task(bind=True, ignore_result=True, max_retries=RECEIPT_RETRIES, acks_late=True)
def process_gowa_event(self, event_id: int) -> None:  # type: ignore[no-untyped-def]
    event = GowaEvent.objects.filter(pk=event_id, status=GowaEvent.Status.RECEIVED).first()
    if event is None:
        return
    try:
        again = services.gowa_event_process(event=event, last_try=self.request.retries >= RECEIPT_RETRIES)
    except Exception as exc:
        # Finish it, or the sweeper would pick the same broken event up every minute forever.
        logger.exception("Processing GOWA event %s failed", event_id)
        services.gowa_event_finish(event=event, status=GowaEvent.Status.FAILED, error=repr(exc)[:1000])
        return
    if again:
        raise self.retry(countdown=2)


@shared_task(ignore_result=True)
def sweep_stuck_messages() -> None:
    now = timezone.now()
    pending, sending = services.messages_needing_requeue(now)
    for message_id in sending:
        services.message_recover(message_id=message_id, was_sending=True)
    for message_id in pending:
        services.message_recover(message_id=message_id, was_sending=False)
    if pending or sending:
        logger.warning("Sweeper re-queued %s pending and %s sending messages", len(pending), len(sending))
    stale_events = GowaEvent.objects.filter(
        status=GowaEvent.Status.RECEIVED, received_at__lt=now - timedelta(seconds=60)
    ).values_list("pk", flat=True)[:1000]
    for event_id in stale_events:
        process_gowa_event.delay(event_id)


@shared_task(ignore_result=True)
def purge_expired_idempotency_keys() -> None:
    IdempotencyKey.objects.filter(created_at__lt=timezone.now() - timedelta(hours=24)).delete()
