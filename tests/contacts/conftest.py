"""Inbound messages as GOWA's ``message`` webhook carries them, stored the way the worker stores them."""

from __future__ import annotations

import secrets
from typing import Any

import pytest

from devices.models import Device
from messaging.models import Message
from messaging.services import inbound_message_store
from tests.conftest import Actor

CUSTOMER = "6281234500001"


def inbound(
    device: Device,
    text: str = "Halo",
    *,
    sender: str = CUSTOMER,
    name: str = "",
    chat: str | None = None,
    **extra: Any,
) -> Message | None:
    sender_jid = sender if "@" in sender else f"{sender}@s.whatsapp.net"
    payload: dict[str, Any] = {
        "id": "3EB0" + secrets.token_hex(8).upper(),
        "timestamp": "2026-11-22T10:00:00Z",
        "is_from_me": False,
        "chat_id": chat or sender_jid,
        "from": sender_jid,
        "sender_display_name": name or sender,
        **({"body": text} if text else {}),
        **extra,
    }
    if name:
        payload["from_name"] = name
    return inbound_message_store(device=device, payload=payload)


@pytest.fixture
def device(alice: Actor, make_device: Any) -> Device:
    """Alice's paired device (number 6281200000001), no pacing so the worker never defers."""
    return make_device(alice, connected=True, send_interval_ms=0)
