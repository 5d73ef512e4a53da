"""Campaign fixtures: a paired device for Alice, a campaign made through the API, and the engine
driven one tick at a time (no worker): what the ``run_campaign`` task does, in this process."""

from __future__ import annotations

import itertools
import uuid
from datetime import datetime
from typing import Any

import pytest

from campaigns import services
from campaigns.models import Campaign
from devices.models import Device
from messaging.models import Message
from messaging.services import message_apply_receipt, message_claim, message_mark_failed, message_mark_sent
from tests.conftest import Actor

_gowa_ids = itertools.count(1)


@pytest.fixture
def device(alice: Actor, make_device: Any) -> Device:
    """Alice's paired device, no pacing of its own."""
    return make_device(alice, connected=True, send_interval_ms=0)


def people(count: int, *, start: int = 1) -> list[dict[str, Any]]:
    return [
        {"phone": f"0812{start + i:08d}", "name": f"Pelanggan {start + i}", "companyName": "Toko Maju"}
        for i in range(count)
    ]


def create(actor: Actor, device: Device, *, expect: int = 201, **body: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "name": "Promo",
        "device_id": str(device.pk),
        "message": {"type": "text", "content": "Halo {{Name}}"},
        "recipients": people(3),
        "settings": {"delay_between_messages": 1000, "jitter_percent": 0},
        **body,
    }
    response = actor.api.post("/api/v1/campaigns", payload, format="json")
    assert response.status_code == expect, response.content
    return response.json()["data"] if expect == 201 else response.json()


def start(actor: Actor, campaign_id: str) -> Campaign:
    response = actor.api.post(f"/api/v1/campaigns/{campaign_id}/send")
    assert response.status_code == 200, response.content
    return Campaign.objects.get(pk=campaign_id)


def tick(campaign_id: str | uuid.UUID) -> Campaign:
    """The tick the scheduler queued last (the current ``tick_seq``)."""
    campaign = Campaign.objects.get(pk=campaign_id)
    services.campaign_tick(campaign_id=campaign.pk, seq=campaign.tick_seq)
    return Campaign.objects.get(pk=campaign_id)


def released(campaign_id: str | uuid.UUID) -> list[Message]:
    return list(
        Message.objects.filter(campaign_recipient__campaign_id=campaign_id).order_by(
            "created_at", "recipient"
        )
    )


def settle(message: Message, status: str, *, at: datetime | None = None) -> None:
    """What the worker and GOWA's receipts do to a message: sent, delivered, read or failed."""
    claimed = message_claim(message_id=message.pk)
    assert claimed is not None
    if status == "failed":
        message_mark_failed(message=claimed, code="INVALID_NUMBER", reason="not on WhatsApp")
        return
    gowa_id = f"3EB0{next(_gowa_ids):012d}"
    message_mark_sent(message=claimed, gowa_message_id=gowa_id)
    if status in ("delivered", "read"):
        from django.utils import timezone

        message_apply_receipt(
            device_id=claimed.device_id, gowa_ids=[gowa_id], receipt=status, at=at or timezone.now()
        )
