"""Campaigns through real processes (uvicorn, a Celery worker consuming the ``campaigns`` queue, the
GOWA simulator with its receipts): schedule → run → pause mid-way → resume → complete with the right
statistics; retry sends only the failed; a worker killed mid-campaign resumes without duplicates."""

from __future__ import annotations

import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests

from campaigns.models import CampaignRecipient
from campaigns.services import campaigns_wake_due
from messaging.models import GowaEvent, Message
from messaging.tasks import process_gowa_event, sweep_stuck_messages
from webhooks.models import Event

from .conftest import Stack, wait_until
from .test_text_send_end_to_end import _connected_device, _create_tenant_and_node

pytestmark = pytest.mark.e2e


class Api:
    def __init__(self, stack: Stack, headers: dict[str, str]) -> None:
        self.base = f"{stack.web_url}/api/v1"
        self.headers = headers

    def call(self, method: str, path: str, expect: int = 200, **kwargs: Any) -> Any:
        response = requests.request(method, self.base + path, headers=self.headers, timeout=30, **kwargs)
        assert response.status_code == expect, response.text
        return response.json()["data"]

    def campaign(self, campaign_id: str) -> dict[str, Any]:
        return self.call("GET", f"/campaigns/{campaign_id}")


def _setup(stack: Stack) -> tuple[Api, str]:
    api_key, headers = _create_tenant_and_node(stack)
    device_id = _connected_device(stack, api_key, headers)
    return Api(stack, headers), device_id


def _people(count: int) -> list[dict[str, str]]:
    return [{"phone": f"08129900{i:04d}", "name": f"Pelanggan {i}"} for i in range(1, count + 1)]


def _sent_phones(stack: Stack) -> Counter[str]:
    return Counter(s["phone"].split("@")[0] for s in stack.sim.sent() if "/send/" in s.get("path", "/send/"))


def test_scheduled_campaign_runs_pauses_resumes_and_completes_with_receipts(stack: Stack) -> None:
    api, device_id = _setup(stack)
    at = datetime.now(UTC) + timedelta(seconds=3)
    created = api.call(
        "POST",
        "/campaigns",
        expect=201,
        json={
            "name": "Promo Desember",
            "sessionId": device_id,
            "scheduledAt": at.isoformat().replace("+00:00", "Z"),
            "message": {"type": "text", "content": "Halo {{Name}}, promo akhir tahun!"},
            "recipients": _people(8),
            "settings": {"delayBetweenMessages": 700, "jitter_percent": 0},
        },
    )
    campaign_id = created["id"]
    assert api.call("POST", f"/campaigns/{campaign_id}/send")["status"] == "scheduled"
    time.sleep(1)
    assert Message.objects.filter(campaign_recipient__campaign_id=campaign_id).count() == 0

    wait_until(
        lambda: api.campaign(campaign_id)["statistics"]["pending"] <= 5,
        timeout=30,
        what="the first sends",
    )
    assert api.campaign(campaign_id)["started_at"] >= at.isoformat()[:19]
    paused = api.call("POST", f"/campaigns/{campaign_id}/pause")
    assert paused["status"] == "paused"
    time.sleep(0.8)  # what was already handed to the send queue (one pacing interval) may still go
    handed_over = Message.objects.filter(campaign_recipient__campaign_id=campaign_id).count()
    time.sleep(2.5)
    assert Message.objects.filter(campaign_recipient__campaign_id=campaign_id).count() == handed_over
    assert 3 <= handed_over < 8

    api.call("POST", f"/campaigns/{campaign_id}/resume")
    wait_until(lambda: api.campaign(campaign_id)["status"] == "completed", timeout=40, what="completion")
    wait_until(
        lambda: api.campaign(campaign_id)["statistics"]["read"] == 8, timeout=20, what="every read receipt"
    )
    assert api.campaign(campaign_id)["statistics"] == {
        "pending": 0,
        "sent": 0,
        "delivered": 0,
        "read": 8,
        "failed": 0,
        "total": 8,
    }
    phones = _sent_phones(stack)
    assert sorted(phones) == [f"628129900{i:04d}" for i in range(1, 9)]
    assert set(phones.values()) == {1}
    texts = {m.recipient: m.original_payload_json["text"] for m in Message.objects.all()}
    assert texts["6281299000001"] == "Halo Pelanggan 1, promo akhir tahun!"
    events = list(
        Event.objects.filter(type__startswith="campaign.")
        .order_by("created_at")
        .values_list("type", flat=True)
    )
    assert events == ["campaign.started", "campaign.paused", "campaign.completed"]


def test_retry_sends_again_only_to_the_recipients_that_failed(stack: Stack) -> None:
    api, device_id = _setup(stack)
    stack.sim.control("POST", "/_sim/not-on-whatsapp", json={"phones": ["6281299000002", "6281299000005"]})
    created = api.call(
        "POST",
        "/campaigns",
        expect=201,
        json={
            "name": "Pengingat",
            "device_id": device_id,
            "message": {"type": "text", "content": "Tagihan {{Name}} jatuh tempo"},
            "recipients": _people(6),
            "settings": {"delay_between_messages": 100},
        },
    )
    campaign_id = created["id"]
    api.call("POST", f"/campaigns/{campaign_id}/send")
    wait_until(lambda: api.campaign(campaign_id)["status"] == "completed", timeout=40, what="completion")
    assert api.campaign(campaign_id)["statistics"]["failed"] == 2
    failed = api.call("GET", f"/campaigns/{campaign_id}/recipients", params={"status": "failed"})
    assert sorted(r["phone"] for r in failed) == ["6281299000002", "6281299000005"]
    assert all(r["error_code"] for r in failed)
    before = _sent_phones(stack)

    stack.sim.control("POST", "/_sim/not-on-whatsapp", json={"phones": [], "replace": True})
    assert api.call("POST", f"/campaigns/{campaign_id}/retry")["retried"] == 2
    wait_until(lambda: api.campaign(campaign_id)["status"] == "completed", timeout=40, what="the retry")
    wait_until(lambda: api.campaign(campaign_id)["statistics"]["failed"] == 0, timeout=20, what="no failures")
    after = _sent_phones(stack)
    assert after - before == Counter({"6281299000002": 1, "6281299000005": 1})
    export = requests.get(f"{api.base}/campaigns/{campaign_id}/export", headers=api.headers, timeout=30)
    assert export.status_code == 200
    assert len(export.text.strip().splitlines()) == 7


def test_a_worker_killed_mid_campaign_resumes_without_sending_anyone_twice(
    stack: Stack, settings: Any
) -> None:
    api, device_id = _setup(stack)
    created = api.call(
        "POST",
        "/campaigns",
        expect=201,
        json={
            "name": "Blast",
            "device_id": device_id,
            "message": {"type": "text", "content": "Halo {{Name}}"},
            "recipients": _people(20),
            "settings": {"delay_between_messages": 250, "jitter_percent": 0},
        },
    )
    campaign_id = created["id"]
    api.call("POST", f"/campaigns/{campaign_id}/send")
    wait_until(
        lambda: (
            Message.objects.filter(
                campaign_recipient__campaign_id=campaign_id, status__in=["sent", "delivered", "read"]
            ).count()
            >= 5
        ),
        timeout=30,
        what="the first sends",
    )
    stack.kill("worker")  # SIGKILL: its parked next tick and any send in hand are lost with it
    handed_over = Message.objects.filter(campaign_recipient__campaign_id=campaign_id).count()
    assert handed_over < 20
    time.sleep(1)
    assert api.campaign(campaign_id)["status"] == "running"

    stack.start_worker()
    stack.wait_for_worker()
    settings.SWEEPER_STUCK_SENDING_SECONDS = 0
    settings.SWEEPER_STUCK_PENDING_SECONDS = 0
    sweep_stuck_messages()  # what beat runs every minute: sends the worker had in hand
    assert campaigns_wake_due(grace_seconds=0) == 1  # what beat runs: the lost tick gets a successor

    wait_until(lambda: api.campaign(campaign_id)["status"] == "completed", timeout=60, what="completion")
    phones = _sent_phones(stack)
    assert len(phones) == 20
    assert set(phones.values()) == {1}, phones
    assert Message.objects.filter(campaign_recipient__campaign_id=campaign_id).count() == 20
    assert CampaignRecipient.objects.filter(campaign_id=campaign_id, status="queued").count() == 20
    # Receipts whose processing the killed worker had taken are picked up by the sweeper a minute later.
    for event_id in GowaEvent.objects.filter(status=GowaEvent.Status.RECEIVED).values_list("pk", flat=True):
        process_gowa_event.delay(event_id)
    wait_until(lambda: api.campaign(campaign_id)["statistics"]["read"] == 20, timeout=30, what="all receipts")
