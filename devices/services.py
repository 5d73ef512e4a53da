"""Writes for GOWA nodes and devices. GOWA is reached only through ``devices.gowa``."""

from __future__ import annotations

import logging
import secrets
import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any, TypeVar

from django.core.mail import send_mail
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from billing.selectors import device_limit_for_tenant
from billing.services import subscription_start_free
from tenants.models import Tenant
from wavora.api.errors import QuotaExceeded, UpstreamError, WavoraError
from webhooks import realtime
from webhooks.events import event_emit

from .gowa import GowaClient, GowaDeviceMissing, GowaError, QrLogin
from .models import Device, GowaNode
from .selectors import node_with_most_room

logger = logging.getLogger(__name__)

T = TypeVar("T")

SETTINGS_FIELDS = ("auto_read_enabled", "typing_enabled", "auto_reply_enabled", "send_interval_ms")
COUNTER_FIELDS = (
    "messages_sent",
    "messages_delivered",
    "messages_read",
    "messages_failed",
    "messages_received",
)


def gowa_node_create(
    *, name: str, base_url: str, basic_auth: str = "", webhook_secret: str = "", capacity: int = 50
) -> GowaNode:
    username, _, password = basic_auth.partition(":")
    node, _ = GowaNode.objects.update_or_create(
        name=name,
        defaults={
            "base_url": base_url.rstrip("/"),
            "basic_auth_username": username,
            "basic_auth_password": password,
            "webhook_secret": webhook_secret or secrets.token_urlsafe(32),
            "capacity": capacity,
            "is_active": True,
        },
    )
    return node


def _upstream(exc: GowaError, action: str) -> WavoraError:
    logger.warning("GOWA %s failed: %s", action, exc)
    return UpstreamError(
        f"WhatsApp gateway could not {action}: {exc.message or exc.code}", details={"gowa_code": exc.code}
    )


@transaction.atomic
def device_create(*, tenant: Tenant, name: str, **device_settings: Any) -> Device:
    # Lock the tenant so two concurrent creates cannot both slip under the device limit.
    locked = Tenant.objects.select_for_update().get(pk=tenant.pk)
    live = Device.objects.filter(tenant=locked, deleted_at__isnull=True).count()
    limit = device_limit_for_tenant(tenant=locked)
    if live >= limit:
        raise QuotaExceeded(
            f"Your plan allows {limit} device(s) and you have {live}. "
            "Delete a device or upgrade to add another.",
            status=403,
            details={"device_limit": limit, "devices": live},
        )
    node = node_with_most_room()
    if node is None:
        raise UpstreamError("No WhatsApp gateway node has room for a new device. Please try again later.")
    device = Device.objects.create(
        tenant=locked,
        node=node,
        name=name,
        status_changed_at=timezone.now(),
        **{k: v for k, v in device_settings.items() if k in SETTINGS_FIELDS},
    )
    subscription_start_free(tenant=locked, device_id=device.pk)
    try:
        GowaClient(node).create_device(
            device.gowa_id, webhook_url=node.callback_url, webhook_secret=node.webhook_secret
        )
    except GowaError as exc:
        raise _upstream(exc, "create the device")
    return device


def device_update(*, device: Device, **fields: Any) -> Device:
    changed = [k for k in ("name", *SETTINGS_FIELDS) if k in fields]
    for key in changed:
        setattr(device, key, fields[key])
    if changed:
        device.save(update_fields=[*changed, "updated_at"])
    return device


def _ensure_slot(client: GowaClient, device: Device) -> None:
    """Re-create the GOWA slot if the node lost it (purged, or a node replaced)."""
    try:
        client.create_device(
            device.gowa_id, webhook_url=device.node.callback_url, webhook_secret=device.node.webhook_secret
        )
    except GowaError as exc:
        if "already exists" not in exc.message:
            raise


def _set_status(device: Device, status: str, **extra: Any) -> None:
    device.status = status
    device.status_changed_at = timezone.now()
    for key, value in extra.items():
        setattr(device, key, value)
    device.save(update_fields=["status", "status_changed_at", *extra.keys(), "updated_at"])


# Seed 003's WebSocket login events and the catalog events (SPEC §5) they correspond to.
_CATALOG_FOR_LOGIN_EVENT = {
    "qrcode": "device.qr",
    "pairing-code": "device.pairing_code",
    "connection-success": "device.connected",
}


def _publish(device: Device, event: str, data: Any) -> None:
    """The login event on the WebSocket, plus its catalog event (stored, sent to webhooks)."""
    tenant_id, device_id = device.tenant_id, device.pk
    transaction.on_commit(
        lambda: realtime.publish(tenant_id=tenant_id, device_id=device_id, event=event, data=data)
    )
    catalog = _CATALOG_FOR_LOGIN_EVENT.get(event)
    if event == "connection-error" and isinstance(data, dict):
        catalog = {"disconnected": "device.disconnected", "logged_out": "device.logged_out"}.get(
            str(data.get("reason"))
        )
    if catalog:
        payload = {"qr_image": data} if event == "qrcode" else dict(data)
        event_emit(tenant_id=tenant_id, type=catalog, data=payload, device_id=device_id)


def _start_watch(device: Device) -> None:
    from .tasks import watch_pairing

    token = device.pairing_started_at.isoformat() if device.pairing_started_at else ""
    transaction.on_commit(lambda: watch_pairing.delay(str(device.pk), token))


def _already_connected() -> WavoraError:
    return WavoraError(
        "This device is already connected. Log it out first to link another phone.",
        code="ALREADY_LOGGED_IN",
        status=409,
    )


def _start_login(device: Device, login: Callable[[GowaClient], T], action: str) -> T:
    """Runs a GOWA login call, re-creating a slot the node lost; refuses a device already linked."""
    if device.status == Device.Status.CONNECTED:
        raise _already_connected()
    client = GowaClient(device.node)
    try:
        # GOWA's login creates a missing slot by itself, without our webhook (a restarted node loses its
        # slots), so the slot is made first: without its webhook no receipt or inbound message arrives.
        _ensure_slot(client, device)
        try:
            return login(client)
        except GowaDeviceMissing:
            _ensure_slot(client, device)
            return login(client)
    except GowaError as exc:
        if exc.code == "ALREADY_LOGGED_IN":
            device_sync_from_gowa(device=device)
            raise _already_connected()
        raise _upstream(exc, action)


def device_login_qr(*, device: Device) -> QrLogin:
    qr = _start_login(device, lambda client: client.login_qr(device.gowa_id), "start the QR login")
    now = timezone.now()
    with transaction.atomic():
        _set_status(
            device,
            Device.Status.PAIRING,
            pairing_method="qr",
            pairing_started_at=now,
            qr_expires_at=now + timedelta(seconds=qr.duration_seconds),
        )
        _publish(device, "qrcode", qr.data_url)
        _start_watch(device)
    return qr


def device_login_code(*, device: Device, phone: str) -> str:
    code = _start_login(
        device, lambda client: client.login_code(device.gowa_id, phone), "create a pairing code"
    )
    now = timezone.now()
    with transaction.atomic():
        _set_status(
            device, Device.Status.PAIRING, pairing_method="code", pairing_started_at=now, qr_expires_at=None
        )
        _publish(device, "pairing-code", {"pairing_code": code, "phone": phone})
        _start_watch(device)
    return code


def device_refresh_qr(*, device: Device) -> None:
    """WhatsApp rotates QR codes; GOWA returns only the first, so a new login gives a fresh one."""
    qr = GowaClient(device.node).login_qr(device.gowa_id)
    with transaction.atomic():
        Device.objects.filter(pk=device.pk).update(
            qr_expires_at=timezone.now() + timedelta(seconds=qr.duration_seconds)
        )
        _publish(device, "qrcode", qr.data_url)


def device_pairing_timed_out(*, device: Device) -> None:
    with transaction.atomic():
        _set_status(
            device, Device.Status.LOGGED_OUT if device.jid else Device.Status.CREATED, qr_expires_at=None
        )
        _publish(
            device,
            "connection-error",
            {"reason": "timeout", "message": "The QR code or pairing code expired."},
        )


def device_logout(*, device: Device) -> Device:
    try:
        GowaClient(device.node).logout(device.gowa_id)
    except GowaDeviceMissing:
        pass
    except GowaError as exc:
        if exc.code != "AUTHENTICATION_ERROR":
            raise _upstream(exc, "log the device out")
    with transaction.atomic():
        _set_status(device, Device.Status.LOGGED_OUT, qr_expires_at=None)
    return device


def device_reconnect(*, device: Device) -> Device:
    """Re-opens the WhatsApp connection of a linked device; one never linked (or logged out) has no
    session to reconnect and needs a new QR scan instead."""
    if device.status in (Device.Status.CREATED, Device.Status.PAIRING, Device.Status.LOGGED_OUT):
        raise WavoraError(
            f"Device {device.pk} is {device.status}: it has no WhatsApp session to reconnect. "
            "Link it with login-qr or login-code.",
            code="DEVICE_NOT_CONNECTED",
            status=409,
            details={"device_status": device.status},
        )
    client = GowaClient(device.node)
    try:
        client.reconnect(device.gowa_id)
    except GowaError as exc:
        raise _upstream(exc, "reconnect the device")
    return device_sync_from_gowa(device=device)


def device_delete(*, device: Device) -> None:
    """Purges the WhatsApp session on GOWA; the row stays (soft delete) so message logs keep their device."""
    try:
        GowaClient(device.node).delete_device(device.gowa_id)
    except GowaDeviceMissing:
        pass
    except GowaError as exc:
        raise _upstream(exc, "delete the device")
    Device.objects.filter(pk=device.pk).update(
        deleted_at=timezone.now(), status=Device.Status.LOGGED_OUT, status_changed_at=timezone.now()
    )


def device_sync_from_gowa(*, device: Device) -> Device:
    client = GowaClient(device.node)
    try:
        status = client.device_status(device.gowa_id)
        info = client.get_device(device.gowa_id) if status.get("is_logged_in") else {}
    except GowaDeviceMissing:
        return device_apply_gowa_state(device_id=device.pk, is_logged_in=False, is_connected=False)
    except GowaError as exc:
        raise _upstream(exc, "read the device status")
    return device_apply_gowa_state(
        device_id=device.pk,
        is_logged_in=bool(status.get("is_logged_in")),
        is_connected=bool(status.get("is_connected")),
        jid=str(info.get("jid") or ""),
        display_name=str(info.get("display_name") or ""),
    )


@transaction.atomic
def device_apply_gowa_state(
    *, device_id: uuid.UUID, is_logged_in: bool, is_connected: bool, jid: str = "", display_name: str = ""
) -> Device:
    """Moves the device to what GOWA reports and tells the tenant's WebSocket clients about a change."""
    device = Device.objects.select_for_update().get(pk=device_id)
    now = timezone.now()
    previous = device.status
    new: str
    if is_logged_in and is_connected:
        new = Device.Status.CONNECTED
    elif is_logged_in:
        new = Device.Status.DISCONNECTED
    elif previous in (Device.Status.PAIRING, Device.Status.CREATED):
        new = previous  # not paired yet: nothing to report
    else:
        new = Device.Status.LOGGED_OUT
    extra: dict[str, Any] = {"last_seen_at": now}
    if jid:
        extra["jid"] = jid
        extra["phone"] = jid.split("@", 1)[0].split(":", 1)[0]
    if display_name:
        extra["display_name"] = display_name
    if new != previous:
        if new == Device.Status.CONNECTED:
            extra.update(connected_at=now, qr_expires_at=None, health_note="", reconnect_attempts=0)
        _set_status(device, new, **extra)
        if new == Device.Status.CONNECTED:
            _publish(
                device,
                "connection-success",
                {"phone": device.phone, "jid": device.jid, "display_name": device.display_name},
            )
        elif previous == Device.Status.CONNECTED or new == Device.Status.LOGGED_OUT:
            _publish(device, "connection-error", {"reason": new, "message": f"Device is {new}."})
        if new == Device.Status.DISCONNECTED:
            _schedule_reconnect(device)
        elif new == Device.Status.LOGGED_OUT and previous in (
            Device.Status.CONNECTED,
            Device.Status.DISCONNECTED,
        ):
            transaction.on_commit(lambda: notify_owners_rescan_needed(device_id=device.pk))
    else:
        for key, value in extra.items():
            setattr(device, key, value)
        device.save(update_fields=[*extra.keys()])
    return device


RECONNECT_MAX_ATTEMPTS = 8


def _reconnect_delay(attempt: int) -> float:
    # 10 s, 20 s, 40 s … capped at 10 min: quick for blips, gentle for a long outage.
    return float(min(600, 10 * 2 ** max(0, attempt)))


def _schedule_reconnect(device: Device) -> None:
    from .tasks import reconnect_device

    attempt = device.reconnect_attempts
    if attempt >= RECONNECT_MAX_ATTEMPTS:
        return
    delay = _reconnect_delay(attempt)
    transaction.on_commit(lambda: reconnect_device.apply_async((str(device.pk), attempt), countdown=delay))


def device_try_reconnect(*, device_id: uuid.UUID, attempt: int) -> Device | None:
    """One automatic reconnect attempt for a disconnected device; schedules the next one if it fails."""
    device = Device.objects.select_related("node").filter(pk=device_id, deleted_at__isnull=True).first()
    if device is None or device.status != Device.Status.DISCONNECTED or device.reconnect_attempts != attempt:
        return device  # reconnected, logged out, deleted, or a newer attempt owns it
    Device.objects.filter(pk=device.pk).update(reconnect_attempts=attempt + 1)
    device.reconnect_attempts = attempt + 1
    try:
        GowaClient(device.node).reconnect(device.gowa_id)
    except GowaError as exc:
        logger.info("Automatic reconnect %s of device %s failed: %s", attempt + 1, device.pk, exc)
    device = device_sync_from_gowa_quietly(device=device)
    if device.status == Device.Status.DISCONNECTED:
        with transaction.atomic():
            _schedule_reconnect(device)
    return device


def device_sync_from_gowa_quietly(*, device: Device) -> Device:
    try:
        return device_sync_from_gowa(device=device)
    except WavoraError:
        return device


@transaction.atomic
def device_mark_unresponsive(*, device_id: uuid.UUID, reason: str) -> None:
    """ "Connected but dead": GOWA says connected, yet sends fail with AUTHENTICATION_ERROR.

    GOWA's status cannot be trusted here, so the device is shown disconnected with the reason,
    the tenant is told (device.disconnected) and automatic reconnects start."""
    device = Device.objects.select_for_update().get(pk=device_id)
    if device.status != Device.Status.CONNECTED:
        return
    _set_status(device, Device.Status.DISCONNECTED, health_note=reason[:300], reconnect_attempts=0)
    _publish(device, "connection-error", {"reason": "disconnected", "message": reason, "unresponsive": True})
    _schedule_reconnect(device)


def notify_owners_rescan_needed(*, device_id: uuid.UUID) -> None:
    """The WhatsApp session is gone: only the owner scanning a new QR code brings the device back."""
    from tenants.models import Membership

    device = Device.objects.select_related("tenant").get(pk=device_id)
    emails = list(
        Membership.objects.filter(tenant_id=device.tenant_id, role__in=["owner", "admin"])
        .exclude(user__email="")
        .values_list("user__email", flat=True)
    )
    if not emails:
        return
    send_mail(
        subject=f"[Wavora] {device.name} was logged out of WhatsApp",
        message=(
            f"The device {device.name} ({device.phone or 'no number'}) of {device.tenant.name} is no longer "
            "linked to WhatsApp. Messages to it wait until it is linked again.\n\n"
            f"Call POST /api/v1/devices/{device.pk}/login-qr (or open Devices in the dashboard) "
            "and scan the new QR code with WhatsApp → Linked devices."
        ),
        from_email=None,
        recipient_list=emails,
        fail_silently=True,
    )


def device_count_message(*, device_id: uuid.UUID, counter: str) -> None:
    assert counter in COUNTER_FIELDS
    Device.objects.filter(pk=device_id).update(**{counter: F(counter) + 1})


def device_pause_sending(*, device_id: uuid.UUID, seconds: int, reason: str) -> None:
    """Only this device's queue waits; other devices keep sending."""
    Device.objects.filter(pk=device_id).update(
        paused_until=timezone.now() + timedelta(seconds=seconds), paused_reason=reason[:200]
    )
