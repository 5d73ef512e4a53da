"""Is this number on WhatsApp? Asked through a tenant's device, answered from a Redis cache when we can.

Seed 003: results are cached for ``PHONE_CHECK_CACHE_TTL_SECONDS`` and the cache can be cleared.
Keys are ``wv:phonecheck:<tenant id>:<digits>``: one tenant never sees (or clears) another's answers,
even for the same number, because each tenant asks through its own WhatsApp account.
"""

from __future__ import annotations

import json
import logging
import uuid
from dataclasses import dataclass

import redis
from django.conf import settings
from django.utils import timezone

from devices.gowa import GowaClient
from devices.models import Device
from wavora.api.errors import DeviceNotConnected
from wavora.phones import to_jid
from wavora.redis import client

logger = logging.getLogger(__name__)

KEY_PREFIX = "wv:phonecheck"
_SCAN_BATCH = 500


@dataclass(frozen=True)
class PhoneCheck:
    phone: str
    is_on_whatsapp: bool
    jid: str | None
    cached: bool


def _tenant_prefix(tenant_id: uuid.UUID) -> str:
    # A UUID and digits: no glob metacharacters can reach the SCAN pattern.
    return f"{KEY_PREFIX}:{uuid.UUID(str(tenant_id))}:"


def cache_key(tenant_id: uuid.UUID, phone: str) -> str:
    return _tenant_prefix(tenant_id) + phone


def _result(phone: str, on_whatsapp: bool, *, cached: bool) -> PhoneCheck:
    return PhoneCheck(
        phone=phone, is_on_whatsapp=on_whatsapp, jid=to_jid(phone) if on_whatsapp else None, cached=cached
    )


def _cached_answer(key: str) -> bool | None:
    try:
        raw = client().get(key)
    except redis.RedisError:
        logger.warning("Phone check cache unavailable; asking GOWA", exc_info=True)
        return None
    if raw is None:
        return None
    try:
        value = json.loads(raw)
    except ValueError:
        return None
    answer = value.get("is_on_whatsapp") if isinstance(value, dict) else None
    return answer if isinstance(answer, bool) else None


def _remember(key: str, on_whatsapp: bool, ttl: int) -> None:
    value = json.dumps({"is_on_whatsapp": on_whatsapp, "checked_at": timezone.now().isoformat()})
    try:
        client().set(key, value, ex=ttl)
    except redis.RedisError:
        logger.warning("Phone check cache unavailable; answer not cached", exc_info=True)


def phone_check(*, tenant_id: uuid.UUID, device: Device, phone: str) -> PhoneCheck:
    """``phone`` is normalised digits. A cache hit answers without GOWA; a miss asks the device.

    A Redis outage degrades to asking GOWA every time rather than failing the request. GOWA's
    ``GowaError``s propagate for the caller to map.
    """
    if device.status != Device.Status.CONNECTED or device.deleted_at is not None:
        raise DeviceNotConnected(
            f"Device {device.pk} is {device.status}, not connected. Link it before checking numbers.",
            details={"device_status": device.status},
        )
    ttl = settings.PHONE_CHECK_CACHE_TTL_SECONDS
    key = cache_key(tenant_id, phone)
    if ttl > 0:
        known = _cached_answer(key)
        if known is not None:
            return _result(phone, known, cached=True)
    on_whatsapp = GowaClient(device.node).is_on_whatsapp(str(device.pk), phone)
    if ttl > 0:
        _remember(key, on_whatsapp, ttl)
    return _result(phone, on_whatsapp, cached=False)


def phone_cache_clear(*, tenant_id: uuid.UUID) -> int:
    """Removes this tenant's cached answers (and nobody else's); returns how many there were.

    SCAN walks the keyspace in small steps instead of blocking Redis the way KEYS would.
    """
    redis_client = client()
    cleared = 0
    batch: list[bytes] = []
    for key in redis_client.scan_iter(match=_tenant_prefix(tenant_id) + "*", count=_SCAN_BATCH):
        batch.append(key)
        if len(batch) >= _SCAN_BATCH:
            cleared += int(redis_client.unlink(*batch))
            batch = []
    if batch:
        cleared += int(redis_client.unlink(*batch))
    return cleared
