"""The scheduler, one tick at a time: slices, the at-most-once hand-over, statistics from the messages,
the WIB send window, the daily cap, rotation, auto-pause, pause/resume/cancel/retry, and the beat
safety net that resumes a campaign whose tick was lost."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import time_machine
from django.utils import timezone

from campaigns import services
from campaigns.models import Campaign, CampaignRecipient
from campaigns.selectors import campaign_statistics
from devices.models import Device
from messaging.models import Message
from tests.conftest import Actor
from webhooks.models import Event

from .conftest import create, people, released, settle, start, tick


def test_a_delay_of_a_second_or_more_hands_over_one_recipient_per_tick_paced_by_the_delay(
    alice: Actor, device: Device
) -> None:
    data = create(alice, device, settings={"delay_between_messages": 3000, "jitter_percent": 30})
    campaign = start(alice, data["id"])
    assert campaign.status == "running"
    before = timezone.now()
    campaign = tick(campaign.pk)
    assert len(released(campaign.pk)) == 1
    assert campaign.next_run_at is not None
    wait = (campaign.next_run_at - before).total_seconds()
    assert 3.0 <= wait <= 3.9 + 1  # the delay plus up to 30 % jitter


def test_a_stale_or_duplicate_tick_does_nothing(alice: Actor, device: Device) -> None:
    campaign = start(alice, create(alice, device)["id"])
    stale = campaign.tick_seq
    campaign = tick(campaign.pk)
    services.campaign_tick(campaign_id=campaign.pk, seq=stale)  # e.g. redelivered by Redis
    services.campaign_tick(campaign_id=campaign.pk, seq=stale)
    assert len(released(campaign.pk)) == 1


def test_every_recipient_gets_exactly_one_message_and_the_campaign_completes(
    alice: Actor, device: Device
) -> None:
    campaign = start(alice, create(alice, device, recipients=people(3))["id"])
    campaign = tick(campaign.pk)
    campaign = tick(campaign.pk)
    assert len(released(campaign.pk)) == 1  # the next one waits until the last one has left
    for _ in range(2):
        settle(released(campaign.pk)[-1], "sent")
        campaign = tick(campaign.pk)
    messages = released(campaign.pk)
    assert sorted(m.recipient for m in messages) == ["6281200000001", "6281200000002", "6281200000003"]
    campaign = tick(campaign.pk)  # nothing left to hand over, but the last message is still pending
    assert campaign.status == "running"
    assert len(released(campaign.pk)) == 3
    settle(messages[-1], "sent")
    campaign = tick(campaign.pk)
    assert campaign.status == "completed"
    assert Message.objects.filter(tenant=alice.tenant).count() == 3
    assert CampaignRecipient.objects.filter(campaign=campaign, message__isnull=False).count() == 3
    types = list(
        Event.objects.filter(tenant=alice.tenant, type__startswith="campaign.").values_list("type", flat=True)
    )
    assert sorted(types) == ["campaign.completed", "campaign.started"]
    completed = Event.objects.get(type="campaign.completed")
    assert completed.data["statistics"]["sent"] == 3


def test_a_short_delay_hands_over_a_second_worth_of_recipients_per_tick(alice: Actor, device: Device) -> None:
    data = create(
        alice, device, recipients=people(30), settings={"delay_between_messages": 100, "jitter_percent": 0}
    )
    campaign = tick(start(alice, data["id"]).pk)
    assert len(released(campaign.pk)) == 10
    assert campaign.next_run_at is not None


def test_statistics_follow_the_messages_receipts(alice: Actor, device: Device) -> None:
    data = create(alice, device, recipients=people(5), settings={"delay_between_messages": 0})
    campaign = tick(start(alice, data["id"]).pk)
    first, second, third, fourth, _still_pending = released(campaign.pk)
    settle(first, "sent")
    settle(second, "delivered")
    settle(third, "read")
    settle(fourth, "failed")
    assert campaign_statistics(campaign_id=campaign.pk) == {
        "pending": 1,
        "sent": 1,
        "delivered": 1,
        "read": 1,
        "failed": 1,
        "total": 5,
    }
    body = alice.api.get(f"/api/v1/campaigns/{campaign.pk}").json()["data"]
    assert body["statistics"]["read"] == 1
    assert body["statistics"]["failed"] == 1


def test_each_recipient_gets_its_own_rendered_message(alice: Actor, device: Device) -> None:
    data = create(
        alice,
        device,
        message={"type": "text", "content": "Halo {{Name}} dari {{Company}} ({{JobTitle}}), kota {{ kota }}"},
        recipients=[
            {
                "number": "+62 812-0000-0001",
                "name": "Budi",
                "companyName": "Toko Maju",
                "jobTitle": "CEO",
                "Kota": "Bandung",
            },
            {
                "number": "081200000002",
                "name": "Siti",
                "companyName": "CV Jaya",
                "jobTitle": "",
                "Kota": "Solo",
            },
        ],
        settings={"delay_between_messages": 0},
    )
    campaign = start(alice, data["id"])
    tick(campaign.pk)
    texts = {m.recipient: m.original_payload_json["text"] for m in released(campaign.pk)}
    assert texts == {
        "6281200000001": "Halo Budi dari Toko Maju (CEO), kota Bandung",
        "6281200000002": "Halo Siti dari CV Jaya (), kota Solo",
    }
    assert all(m.original_payload_json["campaign_id"] == data["id"] for m in released(campaign.pk))


def test_outside_the_wib_send_window_it_waits_for_the_window_to_open(alice: Actor, device: Device) -> None:
    data = create(
        alice, device, settings={"send_window": {"start": "08:00", "end": "20:00"}, "jitter_percent": 0}
    )
    evening = datetime(2026, 11, 23, 14, 30, tzinfo=UTC)  # 21:30 WIB
    with time_machine.travel(evening, tick=False):
        campaign = start(alice, data["id"])
        campaign = tick(campaign.pk)
        assert released(campaign.pk) == []
        assert campaign.next_run_at == datetime(2026, 11, 24, 1, 0, tzinfo=UTC)  # 08:00 WIB next day
        assert "08:00–20:00 WIB" in campaign.waiting_reason
    with time_machine.travel(datetime(2026, 11, 24, 1, 0, 5, tzinfo=UTC), tick=False):
        campaign = tick(campaign.pk)
        assert len(released(campaign.pk)) == 1
        assert campaign.waiting_reason == ""


def test_a_window_across_midnight_sends_at_night_and_waits_by_day(alice: Actor, device: Device) -> None:
    data = create(alice, device, settings={"send_window": {"start": "22:00", "end": "02:00"}})
    with time_machine.travel(datetime(2026, 11, 23, 17, 30, tzinfo=UTC), tick=False):  # 00:30 WIB
        campaign = tick(start(alice, data["id"]).pk)
        assert len(released(campaign.pk)) == 1
    with time_machine.travel(datetime(2026, 11, 23, 20, 0, tzinfo=UTC), tick=False):  # 03:00 WIB
        campaign = tick(campaign.pk)
        assert len(released(campaign.pk)) == 1
        assert campaign.next_run_at == datetime(2026, 11, 23, 15, 0, tzinfo=UTC) + timedelta(days=1)


def test_the_daily_cap_per_device_stops_for_the_day_and_goes_on_after_midnight_wib(
    alice: Actor, device: Device
) -> None:
    data = create(
        alice, device, recipients=people(5), settings={"daily_cap_per_device": 2, "delay_between_messages": 0}
    )
    with time_machine.travel(datetime(2026, 11, 23, 10, 0, tzinfo=UTC), tick=False):  # 17:00 WIB
        campaign = tick(start(alice, data["id"]).pk)
        assert len(released(campaign.pk)) == 2  # a slice would be 5, the cap allows 2
        for message in released(campaign.pk):
            settle(message, "sent")
        campaign = tick(campaign.pk)
        assert len(released(campaign.pk)) == 2
        assert campaign.next_run_at == datetime(2026, 11, 23, 17, 0, tzinfo=UTC)  # 00:00 WIB
        assert "Daily cap of 2" in campaign.waiting_reason
    with time_machine.travel(datetime(2026, 11, 23, 17, 0, 1, tzinfo=UTC), tick=False):
        campaign = tick(campaign.pk)
        assert len(released(campaign.pk)) == 4


def test_the_daily_cap_counts_the_devices_other_sends_of_the_day(alice: Actor, device: Device) -> None:
    data = create(
        alice, device, recipients=people(3), settings={"daily_cap_per_device": 2, "delay_between_messages": 0}
    )
    response = alice.api.post(
        "/api/v1/messages/text",
        {"device_id": str(device.pk), "to": "081299999999", "text": "x"},
        format="json",
    )
    assert response.status_code == 202
    campaign = tick(start(alice, data["id"]).pk)
    assert len(released(campaign.pk)) == 1


def test_rotation_alternates_between_the_tenants_devices(
    alice: Actor, device: Device, make_device: Any
) -> None:
    second = make_device(alice, name="Second", connected=True, phone="6281200000002", send_interval_ms=0)
    data = create(
        alice,
        device,
        recipients=people(4),
        settings={"delay_between_messages": 0, "device_ids": [str(second.pk)]},
    )
    assert data["settings"]["device_ids"] == [str(second.pk)]
    campaign = tick(start(alice, data["id"]).pk)
    devices = [m.device_id for m in released(campaign.pk)]
    assert devices.count(device.pk) == 2 and devices.count(second.pk) == 2


def test_rotation_skips_a_device_that_is_not_connected(
    alice: Actor, device: Device, make_device: Any
) -> None:
    offline = make_device(alice, name="Offline")
    data = create(
        alice,
        device,
        recipients=people(3),
        settings={"delay_between_messages": 0, "device_ids": [str(offline.pk)]},
    )
    campaign = tick(start(alice, data["id"]).pk)
    assert {m.device_id for m in released(campaign.pk)} == {device.pk}


def test_a_failure_spike_pauses_the_campaign_with_the_reason(alice: Actor, device: Device) -> None:
    data = create(
        alice,
        device,
        recipients=people(8),
        settings={"delay_between_messages": 250, "auto_pause_window": 4, "auto_pause_failure_rate": 0.75},
    )
    campaign = tick(start(alice, data["id"]).pk)
    for message, outcome in zip(released(campaign.pk), ["failed", "failed", "sent", "sent"], strict=True):
        settle(message, outcome)
    campaign = tick(campaign.pk)  # 2 of the last 4 failed: under 75 %, go on
    assert campaign.status == "running"
    for message in released(campaign.pk)[4:]:
        settle(message, "failed")
    campaign = tick(campaign.pk)  # the last 4 all failed
    assert campaign.status == "paused"
    assert campaign.pause_reason.startswith("4 of the last 4 sends failed")
    paused = Event.objects.get(type="campaign.paused")
    assert paused.data["automatic"] is True
    assert paused.data["reason"] == campaign.pause_reason
    assert paused.data["statistics"]["failed"] == 6
    # Resuming starts a fresh count: the old failures do not pause it again at once.
    assert alice.api.post(f"/api/v1/campaigns/{campaign.pk}/resume").status_code == 200
    campaign = tick(campaign.pk)
    assert campaign.status == "completed"


def test_a_logged_out_device_pauses_the_campaign(alice: Actor, device: Device) -> None:
    campaign = start(alice, create(alice, device)["id"])
    Device.objects.filter(pk=device.pk).update(status=Device.Status.LOGGED_OUT)
    campaign = tick(campaign.pk)
    assert campaign.status == "paused"
    assert "logged out" in campaign.pause_reason
    assert released(campaign.pk) == []
    assert Event.objects.filter(type="campaign.paused", data__automatic=True).exists()


def test_a_disconnected_device_makes_it_wait_not_fail(alice: Actor, device: Device) -> None:
    campaign = start(alice, create(alice, device)["id"])
    Device.objects.filter(pk=device.pk).update(status=Device.Status.DISCONNECTED)
    campaign = tick(campaign.pk)
    assert campaign.status == "running"
    assert campaign.waiting_reason == "Waiting for the device to be connected."
    assert released(campaign.pk) == []


def test_pause_stops_the_hand_over_at_the_next_tick_and_resume_goes_on(alice: Actor, device: Device) -> None:
    campaign = tick(start(alice, create(alice, device, recipients=people(3))["id"]).pk)
    queued_seq = campaign.tick_seq  # the tick already waiting in the queue
    assert alice.api.post(f"/api/v1/campaigns/{campaign.pk}/pause").status_code == 200
    services.campaign_tick(campaign_id=campaign.pk, seq=queued_seq)
    services.campaign_tick(campaign_id=campaign.pk, seq=queued_seq + 1)
    assert len(released(campaign.pk)) == 1
    settle(released(campaign.pk)[0], "sent")
    response = alice.api.post(f"/api/v1/campaigns/{campaign.pk}/resume")
    assert response.status_code == 200 and response.json()["data"]["status"] == "running"
    tick(campaign.pk)
    assert len(released(campaign.pk)) == 2


def test_cancel_means_the_rest_is_never_sent(alice: Actor, device: Device) -> None:
    campaign = tick(start(alice, create(alice, device, recipients=people(3))["id"]).pk)
    assert alice.api.post(f"/api/v1/campaigns/{campaign.pk}/cancel").status_code == 200
    tick(campaign.pk)
    assert len(released(campaign.pk)) == 1
    assert alice.api.post(f"/api/v1/campaigns/{campaign.pk}/resume").status_code == 409


def test_retry_sends_again_only_to_the_failed_recipients(alice: Actor, device: Device) -> None:
    campaign = start(
        alice, create(alice, device, recipients=people(3), settings={"delay_between_messages": 0})["id"]
    )
    campaign = tick(campaign.pk)
    ok, bad, ok2 = released(campaign.pk)
    settle(ok, "delivered")
    settle(bad, "failed")
    settle(ok2, "read")
    campaign = tick(campaign.pk)
    assert campaign.status == "completed"
    response = alice.api.post(f"/api/v1/campaigns/{campaign.pk}/retry")
    assert response.status_code == 200, response.content
    assert response.json()["data"]["retried"] == 1
    assert response.json()["data"]["status"] == "running"
    campaign = tick(campaign.pk)
    again = Message.objects.filter(campaign_recipient__campaign=campaign, status="pending")
    assert [m.recipient for m in again] == [bad.recipient]
    assert Message.objects.filter(tenant=alice.tenant).count() == 4  # the failed one stays in the log
    assert campaign_statistics(campaign_id=campaign.pk)["failed"] == 0
    assert alice.api.post(f"/api/v1/campaigns/{campaign.pk}/retry").status_code == 409  # none failed now


def test_a_scheduled_campaign_starts_at_its_time(alice: Actor, device: Device) -> None:
    at = datetime(2026, 12, 1, 3, 0, tzinfo=UTC)
    data = create(alice, device, scheduledAt="2026-12-01T03:00:00Z")
    with time_machine.travel(at - timedelta(hours=1), tick=False):
        campaign = start(alice, data["id"])
        assert campaign.status == "scheduled"
        assert campaign.next_run_at == at
        assert services.campaigns_wake_due() == 0
        assert not Event.objects.filter(type="campaign.started").exists()
    with time_machine.travel(at + timedelta(seconds=30), tick=False):
        assert services.campaigns_wake_due() == 1  # beat: the wait was too long to park in Redis
        campaign = tick(campaign.pk)
        assert campaign.status == "running"
        assert len(released(campaign.pk)) == 1
        assert Event.objects.filter(type="campaign.started", data__campaign_id=data["id"]).exists()


def test_beat_gives_a_campaign_whose_tick_was_lost_a_new_one(alice: Actor, device: Device) -> None:
    campaign = tick(start(alice, create(alice, device)["id"]).pk)
    lost_seq = campaign.tick_seq
    with time_machine.travel(timezone.now() + timedelta(minutes=2), tick=False):
        assert services.campaigns_wake_due() == 1
        campaign = Campaign.objects.get(pk=campaign.pk)
        assert campaign.tick_seq == lost_seq + 1
        settle(released(campaign.pk)[0], "sent")
        services.campaign_tick(campaign_id=campaign.pk, seq=lost_seq)  # the lost one turns up: ignored
        assert len(released(campaign.pk)) == 1
        tick(campaign.pk)
        assert len(released(campaign.pk)) == 2


def test_a_monthly_quota_reached_mid_campaign_pauses_it_with_the_reason(alice: Actor, device: Device) -> None:
    from billing.models import Plan

    campaign = start(alice, create(alice, device, recipients=people(3))["id"])
    Plan.objects.filter(code="free").update(message_quota=1)
    tick(campaign.pk)
    settle(released(campaign.pk)[0], "sent")
    campaign = tick(campaign.pk)
    assert campaign.status == "paused"
    assert campaign.pause_reason.startswith("QUOTA_EXCEEDED")
    assert len(released(campaign.pk)) == 1


def test_a_message_that_cannot_be_rendered_fails_that_recipient_only(alice: Actor, device: Device) -> None:
    data = create(
        alice,
        device,
        message={"type": "text", "text": "{{note}}"},
        recipients=[{"phone": "081200000001", "note": "Promo"}, {"phone": "081200000002", "note": " "}],
        settings={"delay_between_messages": 0},
    )
    campaign = tick(start(alice, data["id"]).pk)
    assert [m.recipient for m in released(campaign.pk)] == ["6281200000001"]
    failed = CampaignRecipient.objects.get(campaign=campaign, phone="6281200000002")
    assert failed.status == "failed" and failed.error_code == "INVALID_MESSAGE"
    assert campaign_statistics(campaign_id=campaign.pk)["failed"] == 1
