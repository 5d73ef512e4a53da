"""Device state follows GOWA: GOWA sends no login/logout webhooks, so we poll (NOTES §3, §7)."""

from __future__ import annotations

import logging
import uuid

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from .gowa import GowaClient, GowaError
from .models import Device, GowaNode
from .services import (
    device_apply_gowa_state,
    device_pairing_timed_out,
    device_refresh_qr,
    device_try_reconnect,
)

logger = logging.getLogger(__name__)


@shared_task(ignore_result=True)
def watch_pairing(device_id: str, token: str) -> None:
    """Polls one pairing device tightly until it is linked, refreshing the QR, for up to ~3 minutes.

    ``token`` is the pairing start time: a newer login call starts a new chain and this one stops.
    """
    device = Device.objects.select_related("node").filter(pk=device_id, deleted_at__isnull=True).first()
    if device is None or device.status != Device.Status.PAIRING or device.pairing_started_at is None:
        return
    if device.pairing_started_at.isoformat() != token:
        return
    now = timezone.now()
    if (now - device.pairing_started_at).total_seconds() > settings.PAIRING_TIMEOUT_SECONDS:
        device_pairing_timed_out(device=device)
        return
    client = GowaClient(device.node, timeout=15)
    try:
        status = client.device_status(device.gowa_id)
        if status.get("is_logged_in"):
            info = client.get_device(device.gowa_id)
            device_apply_gowa_state(
                device_id=device.pk,
                is_logged_in=True,
                is_connected=bool(status.get("is_connected")),
                jid=str(info.get("jid") or ""),
                display_name=str(info.get("display_name") or ""),
            )
            return
        if device.pairing_method == "qr" and device.qr_expires_at and now >= device.qr_expires_at:
            device_refresh_qr(device=device)
    except GowaError as exc:
        logger.info("Pairing poll of device %s failed (will retry): %s", device_id, exc)
    watch_pairing.apply_async((device_id, token), countdown=settings.PAIRING_POLL_INTERVAL_SECONDS)


@shared_task(ignore_result=True)
def poll_gowa_nodes() -> None:
    for node in GowaNode.objects.filter(is_active=True):
        poll_gowa_node.delay(node.pk)


@shared_task(ignore_result=True)
def poll_gowa_node(node_id: int) -> None:
    node = GowaNode.objects.get(pk=node_id)
    try:
        remote = {str(d.get("id")): d for d in GowaClient(node, timeout=20).list_devices()}
    except GowaError as exc:
        logger.warning("Polling node %s failed: %s", node.name, exc)
        return
    watched = Device.objects.filter(node=node, deleted_at__isnull=True).exclude(status=Device.Status.CREATED)
    for device in watched.only("id", "status", "jid"):
        info = remote.get(device.gowa_id)
        state = str(info.get("state", "")) if info else ""
        jid = str(info.get("jid") or "") if info else ""
        logged_in = state == "logged_in" or (
            bool(jid) and state in ("connected", "connecting", "disconnected")
        )
        connected = state == "logged_in" or (logged_in and state == "connected")
        if device.status == Device.Status.PAIRING and not logged_in:
            continue
        device_apply_gowa_state(
            device_id=device.pk,
            is_logged_in=logged_in,
            is_connected=connected,
            jid=jid,
            display_name=str(info.get("display_name") or "") if info else "",
        )


@shared_task(ignore_result=True)
def reconnect_device(device_id: str, attempt: int) -> None:
    device_try_reconnect(device_id=uuid.UUID(device_id), attempt=attempt)
