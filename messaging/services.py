"""Writes for messages: accept, deliver through GOWA, apply receipts, store GOWA events."""

from __future__ import annotations

import hashlib
import json
import logging
import time
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from billing.selectors import active_plan_for_device
from devices.gowa import (
    GowaClient,
    GowaDeviceNotLoggedIn,
    GowaError,
    GowaReachoutTimelock,
    GowaTransientError,
)
from devices.models import Device, GowaNode
from devices.services import device_count_message, device_pause_sending
from tenants.models import Tenant
from tenants.principal import Principal
from wavora.api.errors import (
    DeviceNotConnected,
    Forbidden,
    IdempotencyConflict,
    QuotaExceeded,
    SubscriptionInactive,
)

from . import pacing
from .models import STATUS_RANK, TERMINAL, GowaEvent, IdempotencyKey, Message, MessageStatusChange, SendJob

logger = logging.getLogger(__name__)

_TIME_FIELD = {"sent": "sent_at", "delivered": "delivered_at", "read": "read_at", "failed": "failed_at"}
_COUNTER = {
    "sent": "messages_sent",
    "delivered": "messages_delivered",
    "read": "messages_read",
    "failed": "messages_failed",
}


# --- idempotency -----------------------------------------------------------------------------
def request_fingerprint(body: Any) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()


def idempotent(
    *, tenant: Tenant, key: str | None, body: Any, produce: Callable[[], tuple[int, dict[str, Any]]]
) -> tuple[int, dict[str, Any], bool]:
    """Same key + same body within 24 h → the first response and nothing new; another body → 409.

    The key row is inserted in the same transaction as the work, so a concurrent duplicate waits on
    the unique index and then replays the committed response. Returns (status, body, replayed).
    """
    if not key:
        status, response = produce()
        return status, response, False
    if len(key) > 200:
        raise IdempotencyConflict(
            "Idempotency-Key must be at most 200 characters.",
            code="VALIDATION_ERROR",
            status=400,
            details={"Idempotency-Key": ["Too long."]},
        )
    fingerprint = request_fingerprint(body)
    cutoff = timezone.now() - timedelta(hours=settings.IDEMPOTENCY_TTL_HOURS)
    with transaction.atomic():
        IdempotencyKey.objects.filter(tenant=tenant, key=key, created_at__lt=cutoff).delete()
        try:
            with transaction.atomic():
                record = IdempotencyKey.objects.create(tenant=tenant, key=key, request_hash=fingerprint)
        except IntegrityError:
            existing = IdempotencyKey.objects.get(tenant=tenant, key=key)
            if existing.request_hash != fingerprint:
                raise IdempotencyConflict(
                    "This Idempotency-Key was already used with a different request body."
                )
            if existing.response_status is None:
                raise IdempotencyConflict("A request with this Idempotency-Key is still being processed.")
            return existing.response_status, existing.response_body or {}, True
        status, response = produce()
        record.response_status = status
        record.response_body = response
        record.save(update_fields=["response_status", "response_body"])
        return status, response, False


def idempotent_store(*, tenant: Tenant, key: str | None, status: int, body: dict[str, Any]) -> None:
    if key:
        IdempotencyKey.objects.filter(tenant=tenant, key=key).update(
            response_status=status, response_body=body
        )


# --- accepting -------------------------------------------------------------------------------
def _period_start(now: datetime) -> datetime:
    return now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def check_can_send(*, principal: Principal, device: Device, count: int = 1) -> str:
    """Raises the precise refusal; returns the branding footer of the device's plan ('' when none)."""
    if not principal.can_use_device(device.pk):
        raise Forbidden(
            "This API key is restricted to other devices.", details={"device_id": ["Not allowed."]}
        )
    plan = active_plan_for_device(device_id=device.pk)
    if plan is None:
        raise SubscriptionInactive("This device's subscription is not active. Renew it to send messages.")
    if device.status != Device.Status.CONNECTED:
        raise DeviceNotConnected(
            f"Device {device.pk} is {device.status}, not connected. "
            "Link it with login-qr or login-code first.",
            details={"device_status": device.status},
        )
    if plan.message_quota:
        used = Message.objects.filter(
            device=device, direction=Message.Direction.OUT, created_at__gte=_period_start(timezone.now())
        ).count()
        if used + count > plan.message_quota:
            raise QuotaExceeded(
                f"The {plan.name} plan allows {plan.message_quota} messages a month on this device; "
                f"{used} are used.",
                details={"quota": plan.message_quota, "used": used},
                headers={"Retry-After": str(_seconds_to_next_month())},
            )
    return plan.branding_footer


def _seconds_to_next_month() -> int:
    now = timezone.now()
    start = _period_start(now)
    nxt = (start + timedelta(days=32)).replace(day=1)
    return max(1, int((nxt - now).total_seconds()))


def _history(message: Message, status: str, at: datetime, detail: str = "") -> MessageStatusChange:
    return MessageStatusChange(message=message, status=status, at=at, detail=detail[:300])


def resolve_reply_target(*, device: Device, reference: str) -> str:
    """``reply_to_message_id`` may be our message id or WhatsApp's; GOWA needs WhatsApp's."""
    if not reference:
        return ""
    try:
        ours = uuid.UUID(reference)
    except ValueError:
        return reference
    gowa_id = (
        Message.objects.filter(device=device, pk=ours)
        .exclude(gowa_message_id="")
        .values_list("gowa_message_id", flat=True)
        .first()
    )
    return gowa_id or reference


@transaction.atomic
def message_accept_text(
    *,
    principal: Principal,
    device: Device,
    to: str,
    text: str,
    reply_to_message_id: str = "",
    original_payload: dict[str, Any],
    enqueue: bool = True,
) -> Message:
    """Stores the message as pending and enqueues its send once the row is committed."""
    assert principal.tenant is not None
    footer = check_can_send(principal=principal, device=device)
    body = text + footer if footer else text
    gowa_payload: dict[str, Any] = {"phone": to, "message": body}
    if reply_to_message_id:
        gowa_payload["reply_message_id"] = reply_to_message_id
    job = SendJob.objects.create(tenant=principal.tenant, kind="single", api_key=principal.api_key)
    message = Message.objects.create(
        tenant=principal.tenant,
        device=device,
        job=job,
        type="text",
        recipient=to,
        reply_to_message_id=reply_to_message_id,
        original_payload_json=original_payload,
        payload_json=gowa_payload,
    )
    MessageStatusChange.objects.create(
        message=message, status="pending", at=message.created_at, detail="accepted"
    )
    if enqueue:
        enqueue_send(message.pk)
    return message


def enqueue_send(message_id: uuid.UUID, countdown: float | None = None) -> None:
    from .tasks import send_message

    transaction.on_commit(lambda: send_message.apply_async((str(message_id),), countdown=countdown or 0))


# --- delivering ------------------------------------------------------------------------------
def message_claim(*, message_id: uuid.UUID) -> Message | None:
    """pending → sending, exactly once: the status guard that keeps a message from going out twice."""
    now = timezone.now()
    with transaction.atomic():
        message = Message.objects.select_for_update().filter(pk=message_id).first()
        if message is None or message.status != Message.Status.PENDING:
            return None
        message.status = Message.Status.SENDING
        message.attempts += 1
        message.next_attempt_at = None
        message.save(update_fields=["status", "attempts", "next_attempt_at", "updated_at"])
        _history(message, "sending", now, f"attempt {message.attempts}").save()
    return Message.objects.select_related("device__node").get(pk=message_id)


def message_requeue(*, message: Message, delay_seconds: float, reason: str) -> None:
    """sending → pending with a due time; the caller schedules the retry."""
    now = timezone.now()
    with transaction.atomic():
        updated = Message.objects.filter(pk=message.pk, status=Message.Status.SENDING).update(
            status=Message.Status.PENDING,
            next_attempt_at=now + timedelta(seconds=delay_seconds),
            updated_at=now,
        )
        if updated:
            _history(message, "pending", now, f"retry in {delay_seconds:.0f}s: {reason}").save()


def message_mark_sent(*, message: Message, gowa_message_id: str) -> None:
    with transaction.atomic():
        locked = Message.objects.select_for_update().get(pk=message.pk)
        locked.gowa_message_id = gowa_message_id
        locked.save(update_fields=["gowa_message_id", "updated_at"])
        _advance(locked, "sent", timezone.now(), "accepted by WhatsApp")


def message_mark_failed(*, message: Message, code: str, reason: str) -> None:
    now = timezone.now()
    with transaction.atomic():
        locked = Message.objects.select_for_update().get(pk=message.pk)
        if locked.status in TERMINAL or STATUS_RANK.get(locked.status, 0) >= STATUS_RANK["sent"]:
            return
        locked.status = Message.Status.FAILED
        locked.error_code = code[:50]
        locked.error_message = reason
        locked.failed_at = now
        locked.next_attempt_at = None
        locked.save(
            update_fields=[
                "status",
                "error_code",
                "error_message",
                "failed_at",
                "next_attempt_at",
                "updated_at",
            ]
        )
        _history(locked, "failed", now, f"{code}: {reason}").save()
        device_count_message(device_id=locked.device_id, counter="messages_failed")


def _advance(message: Message, new_status: str, at: datetime, detail: str = "") -> bool:
    """Forward-only: a late or duplicate receipt never moves a status back. Caller holds the row lock."""
    if message.status in TERMINAL or message.status == Message.Status.RECEIVED:
        return False
    if STATUS_RANK[new_status] <= STATUS_RANK.get(message.status, -1):
        return False
    fields = ["status", "updated_at"]
    crossed = [
        s
        for s, rank in STATUS_RANK.items()
        if STATUS_RANK.get(message.status, -1) < rank <= STATUS_RANK[new_status] and s in _TIME_FIELD
    ]
    for stage in crossed:
        field = _TIME_FIELD[stage]
        if getattr(message, field) is None:
            setattr(message, field, at)
            fields.append(field)
        device_count_message(device_id=message.device_id, counter=_COUNTER[stage])
    message.status = new_status
    message.save(update_fields=fields)
    _history(message, new_status, at, detail).save()
    return True


def _typing_seconds(text: str) -> float:
    # Roughly a fast typist: 40 ms a character, between half a second and four seconds.
    return min(4.0, max(0.5, len(text) * 0.04))


def message_deliver(*, message: Message) -> None:
    """One attempt to hand a claimed message to GOWA. Raises GowaError for the caller to classify."""
    device = message.device
    client = GowaClient(device.node)
    payload = message.payload_json
    if device.typing_enabled:
        try:
            client.chat_presence(device.gowa_id, phone=payload["phone"], action="start")
            time.sleep(_typing_seconds(payload.get("message", "")))
        except GowaTransientError:
            logger.info("Typing indicator failed for message %s; sending anyway", message.pk)
    result = client.send_text(
        device.gowa_id,
        phone=payload["phone"],
        message=payload["message"],
        reply_message_id=payload.get("reply_message_id"),
    )
    message_mark_sent(message=message, gowa_message_id=result.message_id)


def retry_delay(attempt: int) -> float:
    return float(settings.SEND_RETRY_BASE_SECONDS * (2 ** max(0, attempt - 1)))


def handle_send_failure(*, message: Message, exc: GowaError) -> float | None:
    """Classify a GOWA failure: returns the retry delay, or None when the message has failed for good."""
    if isinstance(exc, GowaReachoutTimelock):
        pause = settings.REACHOUT_TIMELOCK_PAUSE_SECONDS
        device_pause_sending(device_id=message.device_id, seconds=pause)
        pacing.block_device(message.device_id, pause)
        if message.attempts < settings.SEND_MAX_ATTEMPTS:
            message_requeue(message=message, delay_seconds=pause, reason=exc.code)
            return float(pause)
    elif isinstance(exc, GowaDeviceNotLoggedIn):
        message_mark_failed(
            message=message,
            code="DEVICE_NOT_CONNECTED",
            reason=f"WhatsApp session is not logged in ({exc.message})",
        )
        return None
    elif exc.transient and message.attempts < settings.SEND_MAX_ATTEMPTS:
        delay = retry_delay(message.attempts)
        message_requeue(message=message, delay_seconds=delay, reason=f"{exc.code}: {exc.message}")
        return delay
    message_mark_failed(message=message, code=exc.code, reason=exc.message or exc.code)
    return None


# --- receipts and GOWA events ---------------------------------------------------------------
def message_apply_receipt(*, device_id: uuid.UUID, gowa_ids: list[str], receipt: str, at: datetime) -> int:
    """Returns how many of the ids matched an outgoing message of this device."""
    matched = 0
    for gowa_id in gowa_ids:
        with transaction.atomic():
            message = (
                Message.objects.select_for_update()
                .filter(device_id=device_id, gowa_message_id=gowa_id, direction=Message.Direction.OUT)
                .first()
            )
            if message is None:
                continue
            matched += 1
            _advance(message, receipt, at, f"receipt: {receipt}")
    return matched


def _without_nul(value: Any) -> Any:
    """PostgreSQL's jsonb cannot hold U+0000; an event must not be lost for one stray character."""
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd")
    if isinstance(value, dict):
        return {_without_nul(k): _without_nul(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_without_nul(v) for v in value]
    return value


def gowa_event_store(*, node: GowaNode, payload: dict[str, Any], dedupe_key: str) -> tuple[GowaEvent, bool]:
    """Stores a verified GOWA webhook once; processing is enqueued after commit."""
    from .tasks import process_gowa_event

    payload = _without_nul(payload)
    with transaction.atomic():
        event, created = GowaEvent.objects.get_or_create(
            node=node,
            dedupe_key=dedupe_key[:255],
            defaults={
                "event": str(payload.get("event", ""))[:50],
                "session_id": str(payload.get("session_id") or "")[:100],
                "device_jid": str(payload.get("device_id") or "")[:100],
                "payload": payload,
            },
        )
        if created:
            transaction.on_commit(lambda: process_gowa_event.delay(event.pk))
    return event, created


def gowa_event_finish(*, event: GowaEvent, status: str, error: str = "") -> None:
    GowaEvent.objects.filter(pk=event.pk).update(status=status, error=error, processed_at=timezone.now())


def gowa_event_process(*, event: GowaEvent, last_try: bool) -> bool:
    """Acts on one stored GOWA event. Returns True when it should be tried again shortly."""
    device = device_for_gowa_event(event)
    if device is None:
        gowa_event_finish(event=event, status=GowaEvent.Status.IGNORED, error="unknown device")
        return False
    payload = event.payload.get("payload")
    if not isinstance(payload, dict):
        gowa_event_finish(
            event=event, status=GowaEvent.Status.FAILED, error="malformed payload: not an object"
        )
        return False
    if event.event != "message.ack":
        # Stored raw; the events work maps the other types to the tenant's event catalog.
        gowa_event_finish(event=event, status=GowaEvent.Status.IGNORED, error="not handled yet")
        return False
    receipt = str(payload.get("receipt_type", ""))
    ids = payload.get("ids")
    if receipt not in ("delivered", "read", "played") or not isinstance(ids, list):
        gowa_event_finish(
            event=event, status=GowaEvent.Status.IGNORED, error=f"receipt {receipt!r} not tracked"
        )
        return False
    when = event.payload.get("timestamp") or payload.get("timestamp")
    try:
        at = parse_datetime(str(when)) or timezone.now()
    except ValueError:
        at = timezone.now()
    gowa_ids = [str(i) for i in ids]
    matched = message_apply_receipt(device_id=device.pk, gowa_ids=gowa_ids, receipt=receipt, at=at)
    in_flight = Message.objects.filter(device=device, status=Message.Status.SENDING).exists()
    if matched < len(gowa_ids) and in_flight and not last_try:
        # GOWA's receipt can overtake our own "sent" bookkeeping; look again shortly.
        return True
    gowa_event_finish(event=event, status=GowaEvent.Status.PROCESSED)
    return False


def device_for_gowa_event(event: GowaEvent) -> Device | None:
    devices = Device.objects.filter(node_id=event.node_id)
    if event.session_id:
        try:
            return devices.filter(pk=uuid.UUID(event.session_id)).first()
        except ValueError:
            return None
    if event.device_jid:
        return (
            devices.filter(jid=event.device_jid.split(":")[0].split("@")[0] + "@s.whatsapp.net").first()
            or devices.filter(jid=event.device_jid).first()
        )
    return None


# --- sweeping --------------------------------------------------------------------------------
def messages_needing_requeue(now: datetime) -> tuple[list[uuid.UUID], list[uuid.UUID]]:
    """(stuck pending, stuck sending): nothing accepted may stay unfinished if a worker or Redis died."""
    pending_cutoff = now - timedelta(seconds=settings.SWEEPER_STUCK_PENDING_SECONDS)
    sending_cutoff = now - timedelta(seconds=settings.SWEEPER_STUCK_SENDING_SECONDS)
    pending = list(
        Message.objects.filter(status=Message.Status.PENDING, direction=Message.Direction.OUT)
        .filter(
            Q(next_attempt_at__lt=pending_cutoff)
            | Q(next_attempt_at__isnull=True, updated_at__lt=pending_cutoff)
        )
        .values_list("pk", flat=True)[:1000]
    )
    sending = list(
        Message.objects.filter(status=Message.Status.SENDING, updated_at__lt=sending_cutoff).values_list(
            "pk", flat=True
        )[:1000]
    )
    return pending, sending


def message_recover(*, message_id: uuid.UUID, was_sending: bool) -> None:
    now = timezone.now()
    with transaction.atomic():
        message = Message.objects.select_for_update().filter(pk=message_id).first()
        if message is None:
            return
        if was_sending:
            if message.status != Message.Status.SENDING:
                return
            if message.attempts >= settings.SEND_MAX_ATTEMPTS:
                message_mark_failed(
                    message=message,
                    code="WORKER_LOST",
                    reason="The send did not finish after several attempts.",
                )
                return
            message.status = Message.Status.PENDING
            _history(message, "pending", now, "re-queued: the worker stopped mid-send").save()
        elif message.status != Message.Status.PENDING:
            return
        message.next_attempt_at = now  # the sweeper waits a full threshold before touching it again
        message.save(update_fields=["status", "next_attempt_at", "updated_at"])
        enqueue_send(message.pk)
