"""What a tenant does to a message already on WhatsApp (revoke, react, mark read), and the chat history
GOWA keeps per device (NOTES §6).

Actions leave the delivery status alone: the outcome is a history row whose ``detail`` says what was
done ("revoked", "reaction 👍", "reaction removed", "marked as read"). A revoke is only ever recorded
there. GOWA failures propagate as ``GowaError`` for the API layer to map.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.utils import timezone
from django.utils.dateparse import parse_datetime

from devices.gowa import GowaClient
from devices.models import Device
from wavora.api.errors import DeviceNotConnected, WavoraError

from .models import Message, MessageStatusChange

REVOKED = "revoked"
REACTION_REMOVED = "reaction removed"
MARKED_READ = "marked as read"

MAX_EMOJI_CODE_POINTS = 32
MAX_GOWA_LIMIT = 100  # GOWA refuses a larger limit on /chats and /chat/{jid}/messages


class MessageNotActionable(WavoraError):
    """The message has no WhatsApp id (not sent yet, failed, or revoked): nothing to act on."""

    status_code = 400
    code = "INVALID_MESSAGE"
    default_detail = "This message cannot be acted on."


# --- emoji -------------------------------------------------------------------------------------
_KEYCAP = re.compile("^[0-9#*]\ufe0f?\u20e3$")
_ZWJ = "\u200d"


def _is_regional_indicator(ch: str) -> bool:
    return 0x1F1E6 <= ord(ch) <= 0x1F1FF


def _is_modifier(ch: str) -> bool:
    code = ord(ch)
    return (
        code in (0xFE0F, 0xFE0E, 0x20E3)
        or 0x1F3FB <= code <= 0x1F3FF  # skin tones
        or 0xE0020 <= code <= 0xE007F  # tag sequences (subdivision flags)
    )


def _is_pictograph(ch: str) -> bool:
    return unicodedata.category(ch) == "So" or ord(ch) in (0x203C, 0x2049) or 0x1F000 <= ord(ch) <= 0x1FAFF


def is_single_emoji(value: str) -> bool:
    """One emoji as WhatsApp reacts with: a pictograph with its modifiers, a ZWJ sequence, a flag or a
    keycap. Letters, spaces and two emoji side by side are refused."""
    if not value or len(value) > MAX_EMOJI_CODE_POINTS:
        return False
    if len(value) == 2 and all(_is_regional_indicator(ch) for ch in value):
        return True
    if _KEYCAP.match(value):
        return True
    for element in value.split(_ZWJ):
        if not element or not _is_pictograph(element[0]):
            return False
        if not all(_is_modifier(ch) for ch in element[1:]):
            return False
    return True


# --- message actions ---------------------------------------------------------------------------
def chat_of(message: Message) -> str:
    """The chat GOWA needs as ``phone``: whom we wrote to, or who wrote to us (the group, in a group)."""
    if message.direction == Message.Direction.OUT:
        return message.recipient
    if message.recipient.endswith("@g.us"):
        return message.recipient
    return message.sender or message.recipient


def is_revoked(message: Message) -> bool:
    # ``history`` is prefetched by the message selectors, so this costs no query there.
    return any(change.detail == REVOKED for change in message.history.all())


def _actionable(message: Message) -> Device:
    if not message.gowa_message_id:
        raise MessageNotActionable(
            f"Message {message.pk} has no WhatsApp id yet (status {message.status}); "
            "only a message WhatsApp accepted can be revoked, reacted to or marked read.",
            details={"message_status": message.status},
        )
    if is_revoked(message):
        raise MessageNotActionable(
            f"Message {message.pk} was revoked.", details={"message_status": message.status}
        )
    device = message.device
    if device.deleted_at is not None or device.status != Device.Status.CONNECTED:
        status = "deleted" if device.deleted_at is not None else device.status
        raise DeviceNotConnected(
            f"Device {device.pk} is {status}, not connected.", details={"device_status": status}
        )
    return device


def _perform(message: Message, action: str, extra: dict[str, Any], detail: str) -> None:
    device = _actionable(message)
    GowaClient(device.node).message_action(
        str(device.pk), message.gowa_message_id, action, {"phone": chat_of(message), **extra}
    )
    MessageStatusChange.objects.create(
        message=message, status=message.status, at=timezone.now(), detail=detail[:300]
    )


def message_revoke(*, message: Message) -> None:
    """Deletes the message for everyone (GOWA ``revoke``)."""
    _perform(message, "revoke", {}, REVOKED)


def message_react(*, message: Message, emoji: str) -> None:
    """Reacts with ``emoji``; an empty string removes our reaction."""
    if emoji and not is_single_emoji(emoji):
        raise WavoraError(
            "emoji: give one emoji, or an empty string to remove the reaction.",
            details={"emoji": ["Must be a single emoji or empty."]},
        )
    _perform(message, "reaction", {"emoji": emoji}, f"reaction {emoji}" if emoji else REACTION_REMOVED)


def message_mark_read(*, message: Message) -> None:
    """Sends WhatsApp's read receipt for this message (blue ticks for the sender)."""
    _perform(message, "read", {}, MARKED_READ)


# --- chats (GOWA's per-device chat storage) ----------------------------------------------------
@dataclass(frozen=True)
class ChatPage:
    items: list[dict[str, Any]]
    total: int


def _utc(value: Any) -> datetime | None:
    """GOWA's RFC3339 (zero times come as "" or year 1) → an aware UTC datetime, or None."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = parse_datetime(value)
    except ValueError:
        return None
    if parsed is None or parsed.year <= 1:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def chat_from_gowa(raw: dict[str, Any]) -> dict[str, Any]:
    return {
        "jid": _str(raw.get("jid")),
        "name": _str(raw.get("name")),
        "last_message_time": _utc(raw.get("last_message_time")),
        "ephemeral_expiration": _int(raw.get("ephemeral_expiration")),
        "archived": bool(raw.get("archived")),
        "created_at": _utc(raw.get("created_at")),
        "updated_at": _utc(raw.get("updated_at")),
    }


def chat_message_from_gowa(raw: dict[str, Any]) -> dict[str, Any]:
    reactions = raw.get("reactions") if isinstance(raw.get("reactions"), list) else []
    return {
        "id": _str(raw.get("id")),
        "chat_jid": _str(raw.get("chat_jid")),
        "sender_jid": _str(raw.get("sender_jid")),
        "sender_display_name": _str(raw.get("sender_display_name")),
        "content": _str(raw.get("content")),
        "timestamp": _utc(raw.get("timestamp")),
        "is_from_me": bool(raw.get("is_from_me")),
        "media_type": _str(raw.get("media_type")) or None,
        "filename": _str(raw.get("filename")) or None,
        "url": _str(raw.get("url")) or None,
        "file_length": _int(raw.get("file_length")) or None,
        "call_metadata": _str(raw.get("call_metadata")) or None,
        "reactions": [
            {
                "emoji": _str(item.get("emoji")),
                "sender_jid": _str(item.get("sender_jid")),
                "sender_display_name": _str(item.get("sender_display_name")),
                "is_from_me": bool(item.get("is_from_me")),
                "timestamp": _utc(item.get("timestamp")),
            }
            for item in reactions or []
            if isinstance(item, dict)
        ],
        "created_at": _utc(raw.get("created_at")),
        "updated_at": _utc(raw.get("updated_at")),
    }


def _page(results: Any, offset: int, convert: Any) -> ChatPage:
    results = results if isinstance(results, dict) else {}
    rows = [convert(row) for row in results.get("data") or [] if isinstance(row, dict)]
    pagination = results.get("pagination") if isinstance(results.get("pagination"), dict) else {}
    total = pagination.get("total") if isinstance(pagination, dict) else None
    if not isinstance(total, int) or isinstance(total, bool):
        total = offset + len(rows)
    return ChatPage(items=rows, total=total)


def _offset(page: int, page_size: int) -> int:
    return (page - 1) * page_size


def device_chats(*, device: Device, page: int, page_size: int, search: str = "") -> ChatPage:
    """One page of the device's chats, newest activity first (our page/page_size → GOWA's limit/offset)."""
    offset = _offset(page, page_size)
    results = GowaClient(device.node).chats(str(device.pk), limit=page_size, offset=offset, search=search)
    return _page(results, offset, chat_from_gowa)


def device_chat_messages(
    *, device: Device, chat_jid: str, page: int, page_size: int, search: str = ""
) -> ChatPage:
    """One page of a chat's messages, newest first.

    GOWA's message search ignores ``offset``, and its ``total`` counts the whole chat, not the matches.
    So a search fetches the newest 100 matches (GOWA's largest limit) in one call, cuts the page out
    itself and reports how many matches there were: exact up to 100, the reach of a search.
    """
    client = GowaClient(device.node)
    offset = _offset(page, page_size)
    if not search:
        results = client.chat_messages(str(device.pk), chat_jid, limit=page_size, offset=offset)
        return _page(results, offset, chat_message_from_gowa)
    results = client.chat_messages(str(device.pk), chat_jid, limit=MAX_GOWA_LIMIT, offset=0, search=search)
    matches = _page(results, 0, chat_message_from_gowa).items
    return ChatPage(items=matches[offset : offset + page_size], total=len(matches))
