"""Per-device pacing: the device's interval, else its plan's default; a timelock pauses one device."""

from __future__ import annotations

from typing import Any
from unittest import mock

import pytest
import redis
from celery.exceptions import Retry
from django.conf import settings as django_settings

from billing.models import Plan
from messaging.models import Message
from messaging.tasks import send_message
from tests.conftest import Actor, Simulator


@pytest.fixture(autouse=True)
def _fresh_pacing() -> None:
    client = redis.Redis.from_url(django_settings.REDIS_URL)
    for key in client.scan_iter("wv:pace:*"):
        client.delete(key)


def _accept(actor: Actor, device: Any, text: str) -> str:
    response = actor.api.post(
        "/api/v1/messages/text",
        {"device_id": str(device.pk), "to": "6281234500009", "text": text},
        format="json",
    )
    assert response.status_code == 202, response.content
    return str(response.json()["message_id"])


def test_without_a_device_interval_the_plans_default_paces_the_device(alice: Actor, make_device: Any) -> None:
    Plan.objects.filter(code="free").update(send_interval_ms=5000)
    device = make_device(alice, connected=True)
    first, second = _accept(alice, device, "satu"), _accept(alice, device, "dua")

    send_message.apply(args=(first,))
    with mock.patch.object(send_message, "retry", return_value=Retry()) as retry:
        send_message.apply(args=(second,))

    assert Message.objects.get(pk=first).status == "sent"
    assert Message.objects.get(pk=second).status == "pending"
    assert 4.0 <= retry.call_args.kwargs["countdown"] <= 5.0 * 1.3


def test_a_reachout_timelock_pauses_only_that_device_and_records_why(
    alice: Actor, make_device: Any, sim: Simulator
) -> None:
    blocked = make_device(alice, connected=True, send_interval_ms=0, phone="6281200000011")
    other = make_device(alice, name="Other", connected=True, send_interval_ms=0, phone="6281200000012")
    sim.configure(reachout_timelock=True)
    blocked_id = _accept(alice, blocked, "promo")
    with mock.patch.object(send_message, "retry", return_value=Retry()):
        send_message.apply(args=(blocked_id,))
    sim.configure(reachout_timelock=False)

    other_id = _accept(alice, other, "halo")
    send_message.apply(args=(other_id,))

    blocked.refresh_from_db()
    assert blocked.paused_until is not None and "timelock" in blocked.paused_reason
    assert Message.objects.get(pk=blocked_id).status == "pending"
    assert Message.objects.get(pk=other_id).status == "sent"
