"""Writes for messages: accept, deliver through GOWA, apply receipts, store GOWA events."""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from billing.models import Plan
from billing.selectors import active_plan_for_device, message_allowance
from devices.gowa import (
    GowaClient,
    GowaDeviceNotLoggedIn,
    GowaError,
    GowaReachoutTimelock,
    GowaTransientError,
)
from devices.models import Device, GowaNode
from devices.services import (
    device_count_message,
    device_mark_unresponsive,
    device_pause_sending,
    device_sync_from_gowa_quietly,
)
from tenants.models import Tenant
from tenants.principal import Principal
from wavora.api.errors import (
    DeviceNotConnected,
    Forbidden,
    IdempotencyConflict,
    QuotaExceeded,
    SubscriptionInactive,
    WavoraError,
)
from webhooks.events import event_emit

from . import pacing
from .models import (
    STATUS_RANK,
    TERMINAL,
    GowaEvent,
    IdempotencyKey,
    InteractiveMenu,
    Media,
    Message,
    MessageStatusChange,
    SendJob,
)
from .types import TYPES

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
def check_can_send(*, principal: Principal, device: Device, count: int = 1, sync: bool = False) -> Plan:
    """Raises the precise refusal for sending ``count`` messages from ``device``; returns its plan.

    An async send to a device that is not connected is accepted and waits (up to
    MESSAGE_MAX_WAIT_SECONDS) for the device to come back; a sync send needs it connected now.
    """
    if not principal.can_use_device(device.pk):
        raise Forbidden(
            "This API key is restricted to other devices.", details={"device_id": ["Not allowed."]}
        )
    plan = active_plan_for_device(device_id=device.pk)
    if plan is None:
        raise SubscriptionInactive("This device's subscription is not active. Renew it to send messages.")
    if sync and device.status != Device.Status.CONNECTED:
        raise DeviceNotConnected(
            f"Device {device.pk} is {device.status}, not connected. "
            "Link it with login-qr or login-code first.",
            details={"device_status": device.status},
        )
    allowance = message_allowance(device_id=device.pk, plan=plan)
    if allowance.quota:
        scope: dict[str, Any] = {"device": device}
        if not allowance.per_device:  # a partner's cap counts the whole tenant
            scope = {"tenant_id": device.tenant_id}
        used = Message.objects.filter(
            **scope, direction=Message.Direction.OUT, created_at__gte=allowance.period_start
        ).count()
        if used + count > allowance.quota:
            left = max(0, allowance.quota - used)
            where = "on this device" if allowance.per_device else "for your account"
            retry = max(1, int((allowance.period_end - timezone.now()).total_seconds()))
            raise QuotaExceeded(
                f"The {allowance.plan_name} plan allows {allowance.quota} messages per period {where}; "
                f"{used} are used, {left} left. The quota renews at {allowance.period_end.isoformat()}.",
                details={"quota": allowance.quota, "used": used, "requested": count},
                headers={"Retry-After": str(retry)},
            )
    return plan


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


# GOWA quotes a message only on these endpoints (NOTES §5).
_REPLY_TYPES = frozenset({"text", "image", "file", "video", "audio", "interactive"})


@dataclass
class Outgoing:
    """One validated send, ready to be stored: what the tenant asked for and what GOWA will get."""

    device: Device
    type: str
    recipient: str
    fields: dict[str, Any]
    original: dict[str, Any]
    reply_to: str = ""
    media: Media | None = None
    media_url: str = ""
    menu: tuple[str, list[dict[str, Any]]] | None = None


def _gowa_payload(item: Outgoing, footer: str) -> dict[str, Any]:
    mtype = TYPES[item.type]
    payload: dict[str, Any] = {"phone": item.recipient, **item.fields}
    text_field = mtype.text_field
    if footer and text_field and payload.get(text_field):
        payload[text_field] = payload[text_field] + footer
    if item.reply_to and item.type in _REPLY_TYPES:
        payload["reply_message_id"] = item.reply_to
    return payload


def _build_message(
    *, principal: Principal, job: SendJob, item: Outgoing, footer: str, now: datetime
) -> Message:
    assert principal.tenant is not None
    return Message(
        tenant=principal.tenant,
        device=item.device,
        job=job,
        type=item.type,
        recipient=item.recipient,
        reply_to_message_id=item.reply_to,
        media=item.media,
        media_url=item.media_url,
        original_payload_json=item.original,
        payload_json=_gowa_payload(item, footer),
        expires_at=now + timedelta(seconds=settings.MESSAGE_MAX_WAIT_SECONDS),
        created_at=now,
    )


def _menus(messages: list[tuple[Outgoing, Message]]) -> list[InteractiveMenu]:
    return [
        InteractiveMenu(
            tenant_id=message.tenant_id,
            device=item.device,
            chat=item.recipient,
            message=message,
            kind=item.menu[0],
            options=item.menu[1],
        )
        for item, message in messages
        if item.menu
    ]


@transaction.atomic
def message_accept(*, principal: Principal, item: Outgoing, sync: bool = False) -> Message:
    """Stores one message as pending; an async send is enqueued once the row is committed."""
    assert principal.tenant is not None
    plan = check_can_send(principal=principal, device=item.device, sync=sync)
    job = SendJob.objects.create(tenant=principal.tenant, kind="single", api_key=principal.api_key)
    now = timezone.now()
    message = _build_message(principal=principal, job=job, item=item, footer=plan.branding_footer, now=now)
    message.save()
    _history(message, "pending", now, "accepted").save()
    InteractiveMenu.objects.bulk_create(_menus([(item, message)]))
    if not sync:
        enqueue_sends([message.pk])
    return message


@transaction.atomic
def messages_accept_batch(
    *, principal: Principal, items: list[tuple[int, Outgoing]]
) -> tuple[SendJob | None, list[tuple[int, Message]], dict[int, WavoraError]]:
    """Bulk accept: plan/quota checked once per device, bulk inserts, one enqueue after commit.

    Returns the job, (index, message) for accepted items and the refusal for each rejected index.
    """
    assert principal.tenant is not None
    refused: dict[int, WavoraError] = {}
    footers: dict[uuid.UUID, str] = {}
    by_device: dict[uuid.UUID, list[tuple[int, Outgoing]]] = {}
    for index, item in items:
        by_device.setdefault(item.device.pk, []).append((index, item))
    for device_items in by_device.values():
        device = device_items[0][1].device
        try:
            footers[device.pk] = check_can_send(
                principal=principal, device=device, count=len(device_items)
            ).branding_footer
        except WavoraError as exc:
            for index, _ in device_items:
                refused[index] = exc
    accepted = [(index, item) for index, item in items if index not in refused]
    if not accepted:
        return None, [], refused
    job = SendJob.objects.create(tenant=principal.tenant, kind="batch", api_key=principal.api_key)
    now = timezone.now()
    built = [
        (
            index,
            item,
            _build_message(principal=principal, job=job, item=item, footer=footers[item.device.pk], now=now),
        )
        for index, item in accepted
    ]
    Message.objects.bulk_create([message for _, _, message in built], batch_size=500)
    MessageStatusChange.objects.bulk_create(
        [_history(message, "pending", now, "accepted") for _, _, message in built], batch_size=500
    )
    InteractiveMenu.objects.bulk_create(_menus([(item, message) for _, item, message in built]))
    enqueue_sends([message.pk for _, _, message in built])
    return job, [(index, message) for index, _, message in built], refused


def enqueue_sends(message_ids: list[uuid.UUID]) -> None:
    """After commit, publish every send over one broker connection."""
    from .tasks import send_message

    def publish() -> None:
        with send_message.app.producer_or_acquire() as producer:
            for message_id in message_ids:
                send_message.apply_async((str(message_id),), producer=producer)

    transaction.on_commit(publish)


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
    return Message.objects.select_related("device__node", "tenant", "media").get(pk=message_id)


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
        event_emit(
            tenant_id=locked.tenant_id,
            type="message.failed",
            device_id=locked.device_id,
            data={
                "message_id": str(locked.pk),
                "to": locked.recipient,
                "type": locked.type,
                "error": {"code": locked.error_code, "message": reason},
            },
        )
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
    if new_status in ("delivered", "read", "played"):
        event_emit(
            tenant_id=message.tenant_id,
            type="message.receipt",
            device_id=message.device_id,
            data={
                "message_id": str(message.pk),
                "gowa_message_id": message.gowa_message_id,
                "status": new_status,
                "to": message.recipient,
                "at": at.isoformat(),
            },
        )
    return True


def _typing_seconds(text: str) -> float:
    # Roughly a fast typist: 40 ms a character, between half a second and four seconds.
    return min(4.0, max(0.5, len(text) * 0.04))


class MediaUnavailable(Exception):
    """The message's media cannot be had (refused URL, too large, wrong type): the send fails for good."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def _upload_for(message: Message) -> tuple[str, str, bytes, str] | None:
    """The multipart part for a media message, fetching a tenant URL (SSRF-guarded) the first time."""
    from messaging import media as media_lib

    mtype = TYPES[message.type]
    if mtype.upload_part is None:
        return None
    media = message.media
    if media is None:
        if not message.media_url:
            raise MediaUnavailable("INVALID_MESSAGE", "The message has no media.")
        try:
            media = media_lib.media_from_url(
                tenant=message.tenant, url=message.media_url, kind=mtype.media_kind
            )
        except WavoraError as exc:
            raise MediaUnavailable(exc.code, exc.message)
        Message.objects.filter(pk=message.pk).update(media=media)
        message.media = media
    filename = media.filename or f"{mtype.name}"
    return mtype.upload_part, filename, media_lib.media_read(media), media.content_type


def message_deliver(*, message: Message) -> None:
    """One attempt to hand a claimed message to GOWA. Raises GowaError/MediaUnavailable for the caller."""
    device = message.device
    client = GowaClient(device.node)
    mtype = TYPES[message.type]
    fields = dict(message.payload_json)
    upload = _upload_for(message)
    if device.typing_enabled:
        text = str(fields.get(mtype.text_field or "", "") or "")
        try:
            client.chat_presence(device.gowa_id, phone=fields["phone"], action="start")
            time.sleep(_typing_seconds(text))
        except GowaTransientError:
            logger.info("Typing indicator failed for message %s; sending anyway", message.pk)
    result = client.send(device.gowa_id, mtype.gowa_path, fields=fields, upload=upload)
    message_mark_sent(message=message, gowa_message_id=result.message_id)
    if device.typing_enabled:
        with contextlib.suppress(GowaError):
            client.chat_presence(device.gowa_id, phone=fields["phone"], action="stop")


def device_unavailable_delay(*, message: Message) -> float | None:
    """For a device that is not connected: seconds to wait before trying again, or None once the
    message has waited MESSAGE_MAX_WAIT_SECONDS (it is then failed)."""
    now = timezone.now()
    if message.expires_at is not None and message.expires_at <= now:
        message_mark_failed(
            message=message,
            code="DEVICE_NOT_CONNECTED",
            reason=f"The device stayed {message.device.status} until the message expired.",
        )
        return None
    delay = 30.0
    if message.expires_at is not None:
        delay = min(delay, max(1.0, (message.expires_at - now).total_seconds()))
    Message.objects.filter(pk=message.pk, status=Message.Status.PENDING).update(
        next_attempt_at=now + timedelta(seconds=delay)
    )
    return delay


def _check_connected_but_dead(device: Device, exc: GowaError) -> None:
    """A send refused as not logged in while we (and GOWA) think the device is connected."""
    if device.status != Device.Status.CONNECTED:
        return
    synced = device_sync_from_gowa_quietly(device=device)
    if synced.status == Device.Status.CONNECTED:
        device_mark_unresponsive(
            device_id=device.pk,
            reason=f"GOWA reports the session connected but sends fail ({exc.code}); reconnecting.",
        )


def retry_delay(attempt: int) -> float:
    return float(settings.SEND_RETRY_BASE_SECONDS * (2 ** max(0, attempt - 1)))


def handle_send_failure(*, message: Message, exc: GowaError) -> float | None:
    """Classify a GOWA failure: returns the retry delay, or None when the message has failed for good."""
    if isinstance(exc, GowaReachoutTimelock):
        pause = settings.REACHOUT_TIMELOCK_PAUSE_SECONDS
        device_pause_sending(
            device_id=message.device_id, seconds=pause, reason=f"WhatsApp reach-out timelock: {exc.message}"
        )
        pacing.block_device(message.device_id, pause)
        if message.attempts < settings.SEND_MAX_ATTEMPTS:
            message_requeue(message=message, delay_seconds=pause, reason=exc.code)
            return float(pause)
    elif isinstance(exc, GowaDeviceNotLoggedIn):
        _check_connected_but_dead(message.device, exc)
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
    if event.event == "message":
        inbound_message_store(device=device, payload=payload)
        gowa_event_finish(event=event, status=GowaEvent.Status.PROCESSED)
        return False
    if event.event in _MESSAGE_CHANGE_EVENTS:
        _emit_message_change(device=device, kind=event.event, payload=payload)
        gowa_event_finish(event=event, status=GowaEvent.Status.PROCESSED)
        return False
    if event.event != "message.ack":
        # Group, label, newsletter, call and presence events stay stored raw (no catalog event).
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


_INBOUND_KINDS = (
    ("image", "image"),
    ("video", "video"),
    ("video_note", "video"),
    ("audio", "audio"),
    ("document", "file"),
    ("sticker", "sticker"),
    ("contact", "contact"),
    ("contacts_array", "contact"),
    ("location", "location"),
    ("live_location", "location"),
)
MENU_REPLY_WINDOW = timedelta(hours=24)


def _jid_user(jid: str) -> str:
    user = jid.split("@", 1)[0].split(":", 1)[0]
    return user if jid.endswith("@s.whatsapp.net") or "@" not in jid else jid


def interactive_resolve(*, device: Device, chat: str, text: str) -> dict[str, Any] | None:
    """The recipient's reply to our numbered menu ("2", or a title, any case) → the button/row id."""
    answer = text.strip().lower().rstrip(".")
    if not answer:
        return None
    menu = (
        InteractiveMenu.objects.filter(
            device=device,
            chat=chat,
            answered_at__isnull=True,
            created_at__gte=timezone.now() - MENU_REPLY_WINDOW,
        )
        .order_by("-created_at")
        .first()
    )
    if menu is None:
        return None
    for option in menu.options:
        if answer == str(option["number"]) or answer == str(option["title"]).strip().lower():
            menu.answered_at = timezone.now()
            menu.selected_id = str(option["id"])
            menu.save(update_fields=["answered_at", "selected_id"])
            return {
                "menu_id": menu.pk,
                "kind": menu.kind,
                "selected_id": option["id"],
                "title": option["title"],
            }
    return None


@transaction.atomic
def inbound_message_store(*, device: Device, payload: dict[str, Any]) -> Message | None:
    """A message someone sent to the device: kept in the log (direction ``in``), menus resolved,
    ``message.in`` (and ``interaction.*`` for a menu reply) emitted. A message typed on the phone
    itself (``is_from_me``) is logged as outgoing and emitted as ``message.out``."""
    gowa_id = str(payload.get("id") or "")
    if payload.get("is_from_me"):
        return _phone_typed_message_store(device=device, payload=payload, gowa_id=gowa_id)
    if gowa_id and Message.objects.filter(device=device, gowa_message_id=gowa_id, direction="in").exists():
        return None
    kind = next((k for key, k in _INBOUND_KINDS if payload.get(key)), "text")
    chat = _jid_user(str(payload.get("chat_id") or payload.get("from") or ""))
    body = str(payload.get("body") or "")
    interaction = (
        interactive_resolve(device=device, chat=chat, text=body) if kind == "text" and body else None
    )
    now = timezone.now()
    media = _fetch_inbound_media(device=device, payload=payload, kind=kind)
    message = Message.objects.create(
        tenant_id=device.tenant_id,
        device=device,
        media=media,
        direction=Message.Direction.IN,
        type=kind,
        recipient=device.phone or device.jid,
        sender=_jid_user(str(payload.get("from") or "")),
        status=Message.Status.RECEIVED,
        gowa_message_id=gowa_id,
        reply_to_message_id=str(payload.get("replied_to_id") or ""),
        original_payload_json=payload,
        interaction=interaction,
    )
    _history(message, "received", now, "inbound").save()
    device_count_message(device_id=device.pk, counter="messages_received")
    event_emit(
        tenant_id=device.tenant_id,
        type="message.in",
        device_id=device.pk,
        data=_inbound_event_data(message, payload),
    )
    if interaction:
        event_emit(
            tenant_id=device.tenant_id,
            type=f"interaction.{interaction['kind']}",
            device_id=device.pk,
            data={
                "message_id": str(message.pk),
                "from": message.sender,
                "menu_message_id": str(InteractiveMenu.objects.get(pk=interaction["menu_id"]).message_id),
                "selected_id": interaction["selected_id"],
                "title": interaction["title"],
            },
        )
    # The sender becomes a contact (contacts.new the first time) and a keyword rule may answer;
    # the reply is queued by message_accept when this transaction commits. Neither raises.
    from . import autoreply, contacts

    contacts.capture_from_inbound(device=device, payload=payload, message=message)
    autoreply.maybe_reply(device=device, message=message, payload=payload)
    if device.auto_read_enabled and gowa_id:
        transaction.on_commit(lambda: _mark_read(device, gowa_id, str(payload.get("chat_id") or chat)))
    return message


_MEDIA_KINDS = {"image": "image", "video": "video", "audio": "audio", "file": "file", "sticker": "sticker"}


def _fetch_inbound_media(*, device: Device, payload: dict[str, Any], kind: str) -> Media | None:
    """With GOWA's auto-download, media arrives as a path under its public ``/statics/``: fetch it
    from the node and keep it in our storage (GOWA's copy is not ours to keep). Without it, only
    WhatsApp's encrypted CDN URL is given, which stays in the stored payload."""
    from messaging import media as media_lib

    if kind not in _MEDIA_KINDS:
        return None
    part = next((payload.get(key) for key, k in _INBOUND_KINDS if k == kind and payload.get(key)), None)
    path = part if isinstance(part, str) else (part.get("path") if isinstance(part, dict) else None)
    if not path or "statics/" not in str(path):
        return None
    try:
        content = GowaClient(device.node).fetch_static(str(path))
        filename = (part.get("filename") if isinstance(part, dict) else None) or str(path).rsplit("/", 1)[-1]
        return media_lib.media_store(tenant=device.tenant, content=content, filename=filename, kind=None)
    except (GowaError, WavoraError) as exc:
        logger.warning("Could not keep inbound media %s of device %s: %s", path, device.pk, exc)
        return None


def _inbound_event_data(message: Message, payload: dict[str, Any]) -> dict[str, Any]:
    return {
        "message_id": str(message.pk),
        "gowa_message_id": message.gowa_message_id,
        "type": message.type,
        "from": message.sender,
        "from_name": payload.get("from_name") or payload.get("sender_display_name") or "",
        "chat_id": payload.get("chat_id") or "",
        "is_group": str(payload.get("chat_id") or "").endswith("@g.us"),
        "text": payload.get("body") or "",
        "reply_to": payload.get("replied_to_id") or None,
        "timestamp": payload.get("timestamp"),
        "media": _inbound_media_data(message, payload),
    }


def _inbound_media_data(message: Message, payload: dict[str, Any]) -> dict[str, Any] | None:
    if message.media is not None:
        media = message.media
        return {
            "media_id": str(media.pk),
            "kind": media.kind,
            "content_type": media.content_type,
            "size": media.size,
        }
    return next(
        ({"kind": k, "detail": payload.get(key)} for key, k in _INBOUND_KINDS if payload.get(key)), None
    )


def _phone_typed_message_store(*, device: Device, payload: dict[str, Any], gowa_id: str) -> Message | None:
    if gowa_id and Message.objects.filter(device=device, gowa_message_id=gowa_id).exists():
        return None  # one of ours, echoed back
    kind = next((k for key, k in _INBOUND_KINDS if payload.get(key)), "text")
    now = timezone.now()
    message = Message.objects.create(
        tenant_id=device.tenant_id,
        device=device,
        direction=Message.Direction.OUT,
        type=kind,
        recipient=_jid_user(str(payload.get("chat_id") or "")),
        sender=device.phone,
        status=Message.Status.SENT,
        gowa_message_id=gowa_id,
        original_payload_json=payload,
        sent_at=now,
    )
    _history(message, "sent", now, "typed on the phone").save()
    event_emit(
        tenant_id=device.tenant_id,
        type="message.out",
        device_id=device.pk,
        data={
            "message_id": str(message.pk),
            "gowa_message_id": gowa_id,
            "type": kind,
            "to": message.recipient,
            "text": payload.get("body") or "",
            "timestamp": payload.get("timestamp"),
        },
    )
    return message


def _mark_read(device: Device, gowa_id: str, chat: str) -> None:
    try:
        GowaClient(device.node).message_action(device.gowa_id, gowa_id, "read", {"phone": chat})
    except GowaError as exc:
        logger.info("Auto-read of %s failed: %s", gowa_id, exc)


_MESSAGE_CHANGE_EVENTS = {
    "message.reaction": "reacted_message_id",
    "message.revoked": "revoked_message_id",
    "message.edited": "original_message_id",
}


def _emit_message_change(*, device: Device, kind: str, payload: dict[str, Any]) -> None:
    """GOWA's reaction/revoke/edit webhooks → the catalog's events, linked to our message if we have it."""
    target = str(payload.get(_MESSAGE_CHANGE_EVENTS[kind]) or "")
    ours = Message.objects.filter(device=device, gowa_message_id=target).values_list("pk", flat=True).first()
    data: dict[str, Any] = {
        "message_id": str(ours) if ours else None,
        "gowa_message_id": target,
        "from": _jid_user(str(payload.get("from") or "")),
        "chat_id": payload.get("chat_id") or "",
        "timestamp": payload.get("timestamp"),
    }
    if kind == "message.reaction":
        data["emoji"] = payload.get("reaction") or ""
    elif kind == "message.revoked":
        data["revoked_from_me"] = bool(payload.get("revoked_from_me"))
    else:
        data["text"] = payload.get("body") or ""
    with transaction.atomic():
        if ours and kind == "message.revoked":
            message = Message.objects.get(pk=ours)
            _history(message, message.status, timezone.now(), "revoked by the sender").save()
        event_emit(tenant_id=device.tenant_id, type=kind, device_id=device.pk, data=data)


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
        enqueue_sends([message.pk])
