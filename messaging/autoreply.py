"""Auto-reply (seed 004, SPEC §4): keyword rules that answer inbound messages.

Which rule answers: the enabled rules of the device and the tenant's global ones (no device),
highest ``priority`` first, ties to the older rule; the first whose keyword matches wins. Matching
is case-insensitive: ``exact`` compares the whole trimmed text, ``contains`` looks for a substring.
In a group only rules with ``reply_to_groups`` take part.

When nobody is answered:
- the device's ``auto_reply_enabled`` (the global toggle) is off;
- the message is our own (``is_from_me``), or a reply to one of our interactive menus (it is
  answered by the menu's ``interaction.*`` event, not by keywords), or has no text;
- the sender's number is one of Wavora's devices, of any tenant: two Wavora devices with rules
  would otherwise answer each other forever;
- the same rule already answered the same sender on this device within
  AUTO_REPLY_RATE_LIMIT_SECONDS (Redis), which also stops loops with bots outside Wavora.

The reply is an ordinary message: ``compose.build_outgoing`` + ``services.message_accept``, so it
gets the plan's footer, counts against the quota, honours the device's pacing, quotes the
inbound message, and is queued for the worker when the inbound message's transaction commits.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Q, QuerySet

from devices.models import Device
from messaging import media as media_lib
from tenants.models import Tenant
from tenants.principal import ALL_SCOPES, Principal
from wavora.api.errors import NotFound, ValidationFailed, WavoraError
from wavora.redis import client as redis_client
from wavora.ssrf import validate_url

from . import compose, services
from .contacts import person_identity
from .models import AutoReplyRule, Message
from .types import TYPES

logger = logging.getLogger(__name__)

# Wavora fills these in itself: the reply goes from the receiving device to the chat it came from.
_SET_BY_WAVORA = ("device_id", "to", "reply_message_id", "reply_to_message_id")


# --- rules -----------------------------------------------------------------------------------
def _under_reply(exc: WavoraError) -> WavoraError:
    """The same refusal, its fields named ``reply.<field>``."""
    details = {
        ("reply" if key == "non_field_errors" else f"reply.{key}"): v for key, v in exc.details.items()
    }
    first = next(iter(exc.details), "")
    message = (
        f"reply.{exc.message}" if first and exc.message.startswith(f"{first}:") else f"reply: {exc.message}"
    )
    return WavoraError(message, code=exc.code, status=exc.status_code, details=details)


def validate_reply(*, tenant: Tenant, reply: Any) -> dict[str, Any]:
    """The reply body as it will be stored, checked exactly like a single send of its ``type``
    (the recipient and device excepted); refusals name ``reply.<field>``."""
    if not isinstance(reply, dict):
        raise ValidationFailed(
            'reply: must be an object such as {"type": "text", "text": "…"}.',
            details={"reply": ["Expected an object with a type."]},
        )
    message_type = reply.get("type")
    if not isinstance(message_type, str) or not message_type:
        raise ValidationFailed("reply.type: This field is required.", details={"reply.type": ["Required."]})
    if message_type not in TYPES:
        raise ValidationFailed(
            f"reply.type: unknown message type {message_type!r}.",
            details={"reply.type": [f"One of: {', '.join(sorted(TYPES))}."]},
        )
    given = [name for name in _SET_BY_WAVORA if name in reply]
    if given:
        raise ValidationFailed(
            f"reply.{given[0]}: not allowed; the reply goes from the receiving device to the sender, "
            "quoting their message.",
            details={f"reply.{name}": ["Set by Wavora."] for name in given},
        )
    body = {key: value for key, value in reply.items() if key != "type"}
    try:
        attrs = compose.validate_item(message_type, {**body, "device_id": "-", "to": "-"})
        if attrs.get("file"):
            raise ValidationFailed("file: upload the file with POST /api/v1/media and give media_id.")
        if attrs.get("media_id"):
            try:
                media = media_lib.media_of_tenant(tenant.pk, attrs["media_id"])
            except NotFound:
                raise ValidationFailed(
                    "media_id: no media with this id.", details={"media_id": ["No media with this id."]}
                )
            media_lib.ensure_sendable_as(media, TYPES[message_type].media_kind or "")
        for field in ("url", "link"):
            if attrs.get(field):
                validate_url(attrs[field], field=field)
        body = compose.json_safe(body)  # refuses NUL characters, which PostgreSQL cannot store
    except WavoraError as exc:
        raise _under_reply(exc) from exc
    return {"type": message_type, **body}


@transaction.atomic
def rule_create(
    *,
    tenant: Tenant,
    device: Device | None,
    keyword: str,
    reply: Any,
    match: str = AutoReplyRule.Match.CONTAINS,
    enabled: bool = True,
    priority: int = 0,
    reply_to_groups: bool = False,
) -> AutoReplyRule:
    return AutoReplyRule.objects.create(
        tenant=tenant,
        device=device,
        keyword=keyword.strip(),
        match=match,
        reply=validate_reply(tenant=tenant, reply=reply),
        enabled=enabled,
        priority=priority,
        reply_to_groups=reply_to_groups,
    )


_UPDATABLE = frozenset({"device", "keyword", "match", "reply", "enabled", "priority", "reply_to_groups"})


@transaction.atomic
def rule_update(*, rule: AutoReplyRule, **changes: Any) -> AutoReplyRule:
    unknown = set(changes) - _UPDATABLE
    if unknown:
        raise TypeError(f"not updatable: {sorted(unknown)}")
    if "reply" in changes:
        assert rule.tenant is not None
        changes["reply"] = validate_reply(tenant=rule.tenant, reply=changes["reply"])
    if "keyword" in changes:
        changes["keyword"] = changes["keyword"].strip()
    for name, value in changes.items():
        setattr(rule, name, value)
    rule.save()
    return rule


def rule_delete(*, rule: AutoReplyRule) -> None:
    rule.delete()


def rules_of_tenant(*, tenant_id: uuid.UUID) -> QuerySet[AutoReplyRule]:
    return AutoReplyRule.objects.filter(tenant_id=tenant_id).order_by("-priority", "created_at", "id")


def rule_of_tenant(*, tenant_id: uuid.UUID, rule_id: object) -> AutoReplyRule:
    """Another tenant's rule is indistinguishable from a missing one (404)."""
    try:
        pk = uuid.UUID(str(rule_id))
    except ValueError:
        pk = None
    rule = rules_of_tenant(tenant_id=tenant_id).filter(pk=pk).select_related("tenant").first() if pk else None
    if rule is None:
        raise NotFound(f"Auto-reply rule {str(rule_id)[:64]} not found.")
    return rule


# --- matching --------------------------------------------------------------------------------
def rule_matches(rule: AutoReplyRule, text: str) -> bool:
    keyword = rule.keyword.strip().casefold()
    if not keyword:
        return False
    said = text.strip().casefold()
    if rule.match == AutoReplyRule.Match.EXACT:
        return said == keyword
    return keyword in said


def matching_rule(*, device: Device, text: str, is_group: bool) -> AutoReplyRule | None:
    """The rule that answers ``text`` on ``device``: see the module docstring for the order."""
    rules = rules_of_tenant(tenant_id=device.tenant_id).filter(
        Q(device=device) | Q(device__isnull=True), enabled=True
    )
    if is_group:
        rules = rules.filter(reply_to_groups=True)
    return next((rule for rule in rules if rule_matches(rule, text)), None)


def is_wavora_number(sender: str) -> bool:
    """Whether ``sender`` (digits) is the number of a device on Wavora, whatever its tenant.

    Any live paired device counts, not only connected ones: a device that reconnects would answer
    what arrived meanwhile."""
    if not sender.isdigit():
        return False
    return (
        Device.objects.filter(deleted_at__isnull=True)
        .filter(Q(phone=sender) | Q(jid=f"{sender}@s.whatsapp.net"))
        .exists()
    )


def _take_reply_slot(*, device_id: uuid.UUID, rule_id: uuid.UUID, sender: str) -> bool:
    """At most one reply per rule per sender per window; False when this one is over the limit."""
    key = f"wv:autoreply:{device_id}:{rule_id}:{sender}"
    return bool(redis_client().set(key, 1, nx=True, ex=int(settings.AUTO_REPLY_RATE_LIMIT_SECONDS)))


# --- replying --------------------------------------------------------------------------------
def maybe_reply(*, device: Device, message: Message, payload: dict[str, Any]) -> Message | None:
    """Answers an inbound message if a rule says so; returns the queued reply.

    Runs inside the inbound message's transaction and never raises: whatever goes wrong with the
    reply (no quota, a rule whose media was deleted, a bug) must not lose the inbound message."""
    try:
        with transaction.atomic():
            return _reply(device=device, message=message, payload=payload)
    except WavoraError as exc:
        logger.info("No auto-reply to message %s: %s %s", message.pk, exc.code, exc.message)
    except Exception:
        logger.exception("Auto-reply to message %s failed", message.pk)
    return None


def _reply(*, device: Device, message: Message, payload: dict[str, Any]) -> Message | None:
    if (
        not device.auto_reply_enabled
        or payload.get("is_from_me")
        or message.direction != Message.Direction.IN
    ):
        return None
    if message.interaction:
        return None
    text = str(payload.get("body") or "")
    if not text.strip():
        return None
    chat = str(payload.get("chat_id") or payload.get("from") or "")
    is_group = chat.endswith("@g.us")
    if not is_group and person_identity(chat) is None:
        return None  # broadcasts, newsletters
    rule = matching_rule(device=device, text=text, is_group=is_group)
    if rule is None:
        return None
    sender = message.sender or chat
    if is_wavora_number(sender):
        logger.info("No auto-reply to %s on device %s: it is a Wavora device", sender, device.pk)
        return None
    if not _take_reply_slot(device_id=device.pk, rule_id=rule.pk, sender=sender):
        logger.info("No auto-reply to %s on device %s: rule %s answered recently", sender, device.pk, rule.pk)
        return None
    message_type = str(rule.reply["type"])
    body = {key: value for key, value in rule.reply.items() if key != "type"}
    body.update(device_id=str(device.pk), to=chat)
    if message.gowa_message_id:
        body["reply_message_id"] = message.gowa_message_id
    attrs = compose.validate_item(message_type, body)
    principal = Principal(tenant=device.tenant, scopes=ALL_SCOPES)
    item = compose.build_outgoing(
        principal=principal,
        message_type=message_type,
        attrs=attrs,
        original={
            **body,
            "type": message_type,
            "auto_reply": {"rule_id": str(rule.pk), "inbound_message_id": str(message.pk)},
        },
    )
    reply = services.message_accept(principal=principal, item=item)
    logger.info("Auto-reply %s (rule %s) queued for message %s", reply.pk, rule.pk, message.pk)
    return reply
