"""Tenant webhooks through real processes: an event committed here is fanned out and delivered by
the Celery worker to a local receiver; a worker killed mid-delivery does not lose the event.

Delivery is at-least-once: when the worker dies after the receiver got the request but before the
answer was recorded, the event is sent again (same ``X-Webhook-Id``), and receivers dedupe on it.
What never happens is a second send after a recorded success."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterator
from typing import Any

import pytest
from django.db import transaction
from django.utils import timezone

from tests.factories import TenantFactory
from tests.webhooks import Receiver
from webhooks import services
from webhooks.events import event_emit
from webhooks.models import Event, WebhookDelivery, WebhookEndpoint

from .conftest import Stack, wait_until

pytestmark = pytest.mark.e2e


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    yield server
    server.stop()


@pytest.fixture
def endpoint(stack: Stack, receiver: Receiver, settings: Any) -> WebhookEndpoint:
    settings.ALLOW_PRIVATE_URLS = True  # the receiver is on 127.0.0.1 (the stack's worker allows it too)
    tenant = TenantFactory.create(name="Toko Alice", slug="toko-alice")
    return services.endpoint_create(tenant=tenant, url=receiver.url(), events=["message.in"])


def _emit(endpoint: WebhookEndpoint, text: str) -> Event:
    with transaction.atomic():
        return event_emit(tenant_id=endpoint.tenant_id, type="message.in", data={"text": text})


def _delivery(event: Event) -> WebhookDelivery:
    return WebhookDelivery.objects.get(event=event)


def test_an_event_reaches_the_receiver_through_the_worker(
    stack: Stack, receiver: Receiver, endpoint: WebhookEndpoint
) -> None:
    event = _emit(endpoint, "halo")

    wait_until(lambda: receiver.accepted()[event.pk] == 1, timeout=30, what="the receiver to get the event")
    wait_until(
        lambda: _delivery(event).status == WebhookDelivery.Status.SUCCEEDED,
        timeout=15,
        what="the delivery to be recorded as succeeded",
    )
    [request] = receiver.received
    expected = hmac.new(endpoint.secret.encode(), request.body, hashlib.sha256).hexdigest()
    assert request.headers["X-Webhook-Signature"] == expected
    assert request.json["id"] == event.pk and request.json["data"] == {"text": "halo"}
    delivery = _delivery(event)
    assert delivery.attempts == 1 and delivery.last_status_code == 200


def test_a_worker_killed_mid_delivery_does_not_lose_the_event(
    stack: Stack, receiver: Receiver, endpoint: WebhookEndpoint
) -> None:
    receiver.delay = 3.0  # the worker is still waiting for the answer when it is killed
    event = _emit(endpoint, "mid-flight")
    wait_until(receiver.arrived.is_set, timeout=30, what="the worker to start the delivery")
    stack.kill("worker")

    delivery = _delivery(event)
    assert delivery.status == WebhookDelivery.Status.PENDING and delivery.attempts == 1
    receiver.delay = 0.0
    stack.start_worker()
    stack.wait_for_worker()

    # The dead worker's claim is a lease (timeout + 10 s); once it has run out, the sweeper (run by
    # beat every WEBHOOK_SWEEP_INTERVAL_SECONDS) hands the delivery to the new worker.
    lease_end = delivery.next_attempt_at
    assert lease_end is not None
    wait_until(lambda: timezone.now() > lease_end, timeout=40, interval=0.5, what="the lease to run out")
    assert services.webhooks_sweep(grace_seconds=0).requeued == 1
    wait_until(
        lambda: _delivery(event).status == WebhookDelivery.Status.SUCCEEDED,
        timeout=30,
        what="the redelivery to succeed",
    )

    delivery = _delivery(event)
    assert delivery.attempts == 2
    first, second = delivery.attempt_log.order_by("number")
    assert first.error.startswith("Interrupted") and second.success
    # The receiver saw the event id twice: the request the killed worker never heard back from, and
    # the redelivery. At-least-once; the event id lets the receiver drop the duplicate.
    assert [r.event_id for r in receiver.received] == [event.pk, event.pk]
    # And once recorded as succeeded, nothing sends it again.
    services.webhooks_sweep(grace_seconds=0)
    assert len(receiver.received) == 2
