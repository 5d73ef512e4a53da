"""Which endpoints get an event: event filter, device filter, active flag, and never another
tenant's endpoint."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.utils import timezone

from tests.conftest import Actor
from tests.factories import DeviceFactory
from webhooks import services
from webhooks.models import WebhookDelivery

from . import Receiver
from .conftest import make_endpoint


def test_the_event_filter_picks_the_endpoints_that_asked_for_the_type(
    alice: Actor, receiver: Receiver, emit: Callable[..., Any]
) -> None:
    inbound = make_endpoint(alice.tenant, receiver.url("/inbound"), events=["message.in"])
    devices = make_endpoint(alice.tenant, receiver.url("/devices"), events=["device.connected"])
    everything = make_endpoint(alice.tenant, receiver.url("/all"))

    message = emit(alice.tenant.pk, "message.in")
    connected = emit(alice.tenant.pk, "device.connected")
    emit(alice.tenant.pk, "campaign.started")

    seen = sorted((r.path, r.json["event"]) for r in receiver.received)
    assert seen == [
        ("/all", "campaign.started"),
        ("/all", "device.connected"),
        ("/all", "message.in"),
        ("/devices", "device.connected"),
        ("/inbound", "message.in"),
    ]
    assert set(WebhookDelivery.objects.filter(event=message).values_list("endpoint", flat=True)) == {
        inbound.pk,
        everything.pk,
    }
    assert WebhookDelivery.objects.filter(event=connected, endpoint=devices).exists()


def test_the_device_filter_passes_only_that_devices_events(
    alice: Actor, receiver: Receiver, emit: Callable[..., Any]
) -> None:
    shop, warehouse = DeviceFactory.create_batch(2, tenant=alice.tenant)
    make_endpoint(alice.tenant, receiver.url("/shop"), device_ids=[shop.pk])

    from_shop = emit(alice.tenant.pk, "message.in", device_id=shop.pk)
    emit(alice.tenant.pk, "message.in", device_id=warehouse.pk)
    emit(alice.tenant.pk, "campaign.started")  # no device: not the shop's

    assert [(r.path, r.event_id) for r in receiver.received] == [("/shop", from_shop.pk)]
    assert receiver.received[0].json["device_id"] == str(shop.pk)


def test_an_inactive_endpoint_gets_nothing(
    alice: Actor, receiver: Receiver, emit: Callable[..., Any]
) -> None:
    make_endpoint(alice.tenant, receiver.url(), is_active=False)
    event = emit(alice.tenant.pk)
    assert receiver.received == []
    assert not WebhookDelivery.objects.filter(event=event).exists()


def test_a_delivery_queued_before_its_endpoint_was_switched_off_is_not_sent(
    alice: Actor, receiver: Receiver, emit: Callable[..., Any], run_due: Callable[..., Any]
) -> None:
    endpoint = make_endpoint(alice.tenant, receiver.url())
    receiver.answer(500)
    event = emit(alice.tenant.pk)
    services.endpoint_update(endpoint=endpoint, is_active=False)
    run_due(timezone.now() + timedelta(minutes=5))

    assert len(receiver.received) == 1
    delivery = WebhookDelivery.objects.get(event=event)
    assert delivery.status == WebhookDelivery.Status.FAILED
    assert delivery.last_error == "The endpoint is disabled."


def test_alices_events_never_reach_charlies_endpoint(
    alice: Actor, charlie: Actor, receiver: Receiver, emit: Callable[..., Any]
) -> None:
    charlies = make_endpoint(charlie.tenant, receiver.url("/charlie"))
    alices = make_endpoint(alice.tenant, receiver.url("/alice"))
    events = [emit(alice.tenant.pk, kind) for kind in ("message.in", "device.connected", "webhook.disabled")]
    charlie_event = emit(charlie.tenant.pk)

    assert {(r.path, r.event_id) for r in receiver.received} == {
        *(("/alice", e.pk) for e in events),
        ("/charlie", charlie_event.pk),
    }
    assert not WebhookDelivery.objects.filter(endpoint=charlies, event__tenant=alice.tenant).exists()
    assert not WebhookDelivery.objects.filter(endpoint=alices, event__tenant=charlie.tenant).exists()
