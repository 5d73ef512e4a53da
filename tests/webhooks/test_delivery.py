"""Delivery: a receiver that is down gets every event later, exactly once per event id; retries
stop after 24 h; nothing is lost when a task or a worker is; our retries never repeat a success."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import timedelta
from itertools import pairwise
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone

from tests.conftest import Actor
from webhooks import delivery as adapter
from webhooks import services, tasks
from webhooks.events import event_emit
from webhooks.models import Event, WebhookAttempt, WebhookDelivery

from . import Receiver, closed_port
from .conftest import make_endpoint

Status = WebhookDelivery.Status


def retry_until_settled(delivery: WebhookDelivery, committed: Callable[..., Any], limit: int = 40) -> None:
    """What the worker does for this delivery: each retry runs at its scheduled time (the clock is
    moved there), until the delivery succeeds or fails."""
    for _ in range(limit):
        delivery.refresh_from_db()
        if delivery.status != Status.PENDING:
            return
        at = delivery.next_attempt_at
        assert at is not None
        committed(lambda at=at: services.delivery_attempt(delivery_id=delivery.pk, now=at))
    raise AssertionError(f"delivery still {delivery.status} after {limit} rounds")


def test_a_receiver_answering_5xx_at_first_gets_each_event_later_exactly_once(
    alice: Actor,
    receiver: Receiver,
    emit: Callable[..., Any],
    run_due: Callable[..., Any],
    committed: Callable[..., Any],
) -> None:
    make_endpoint(alice.tenant, receiver.url())
    receiver.answer(500, 503, 502, 504)  # the receiver's first four answers are errors

    first = emit(alice.tenant.pk, "message.in", {"n": 1})  # 500
    second = emit(alice.tenant.pk, "message.receipt", {"n": 2})  # 503
    first_delivery = WebhookDelivery.objects.get(event=first)
    second_delivery = WebhookDelivery.objects.get(event=second)
    assert first_delivery.status == second_delivery.status == Status.PENDING

    retry_until_settled(first_delivery, committed)  # 502, 504, then 200
    retry_until_settled(second_delivery, committed)  # 200
    # Long after: the sweeper and the worker find nothing more to send.
    assert run_due(timezone.now() + timedelta(days=2)) == []
    services.webhooks_sweep(now=timezone.now() + timedelta(days=2))

    assert receiver.accepted() == {first.pk: 1, second.pk: 1}
    assert len(receiver.received) == 6
    first_delivery.refresh_from_db()
    second_delivery.refresh_from_db()
    assert (first_delivery.status, first_delivery.attempts) == (Status.SUCCEEDED, 4)
    assert (second_delivery.status, second_delivery.attempts) == (Status.SUCCEEDED, 2)

    log = list(first_delivery.attempt_log.order_by("number"))
    assert [(a.status_code, a.success) for a in log] == [
        (500, False),
        (502, False),
        (504, False),
        (200, True),
    ]
    assert log[0].response_excerpt == '{"received": false}' and log[0].duration_ms is not None
    # Retries after about 10 s, 30 s and 1 min (± 20 % jitter; plus the attempt's own duration).
    gaps = [(b.started_at - a.started_at).total_seconds() for a, b in pairwise(log)]
    assert 8 <= gaps[0] <= 13 and 24 <= gaps[1] <= 37 and 48 <= gaps[2] <= 73


def test_a_receiver_refusing_connections_at_first_gets_the_event_once_it_is_up(
    alice: Actor,
    emit: Callable[..., Any],
    run_due: Callable[..., Any],
    committed: Callable[..., Any],
) -> None:
    port = closed_port()
    make_endpoint(alice.tenant, f"http://127.0.0.1:{port}/hook")
    event = emit(alice.tenant.pk)
    delivery = WebhookDelivery.objects.get(event=event)
    assert delivery.status == Status.PENDING
    assert "refused the connection" in delivery.last_error
    assert delivery.last_status_code is None

    receiver = Receiver(port=port)  # the receiver comes up
    try:
        retry_until_settled(delivery, committed)
        run_due(timezone.now() + timedelta(days=1))
        assert receiver.accepted() == {event.pk: 1}
        assert len(receiver.received) == 1
    finally:
        receiver.stop()
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == (Status.SUCCEEDED, 2)


def test_a_receiver_down_for_the_whole_day_ends_failed_after_24_hours(
    alice: Actor,
    receiver: Receiver,
    emit: Callable[..., Any],
    run_due: Callable[..., Any],
    committed: Callable[..., Any],
) -> None:
    make_endpoint(alice.tenant, receiver.url())
    receiver.answer(*[500] * 100)
    event = emit(alice.tenant.pk)
    delivery = WebhookDelivery.objects.get(event=event)

    retry_until_settled(delivery, committed)

    delivery.refresh_from_db()
    assert delivery.status == Status.FAILED
    assert delivery.next_attempt_at is None
    assert delivery.last_status_code == 500
    assert delivery.last_error == "HTTP 500; a 2xx answer is needed."
    log = list(delivery.attempt_log.order_by("number"))
    assert log[-1].started_at - log[0].started_at >= timedelta(hours=24)
    assert log[-1].started_at - log[0].started_at < timedelta(hours=24, minutes=1)
    assert len(log) == len(receiver.received) == delivery.attempts
    assert run_due(timezone.now() + timedelta(days=2)) == []


def test_a_successful_delivery_is_never_sent_again_unless_a_redelivery_is_asked_for(
    alice: Actor, receiver: Receiver, emit: Callable[..., Any], run_due: Callable[..., Any], committed: Any
) -> None:
    make_endpoint(alice.tenant, receiver.url())
    event = emit(alice.tenant.pk)
    delivery = WebhookDelivery.objects.get(event=event)

    # Duplicate tasks (Redis may hand a task out twice) and the sweeper, much later: nothing new.
    tasks.deliver(str(delivery.pk))
    tasks.deliver(str(delivery.pk))
    services.webhooks_sweep(now=timezone.now() + timedelta(hours=3))
    assert run_due(timezone.now() + timedelta(days=3)) == []
    assert receiver.accepted() == {event.pk: 1}

    committed(lambda: services.delivery_redeliver(delivery=delivery))
    assert receiver.accepted() == {event.pk: 2}
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == (Status.SUCCEEDED, 2)


def test_an_event_whose_fan_out_task_was_lost_is_delivered_by_the_sweeper(
    alice: Actor, receiver: Receiver, run_due: Callable[..., Any]
) -> None:
    make_endpoint(alice.tenant, receiver.url())
    # Emitted, but its after-commit hook never ran (Redis down, process killed after commit).
    event = event_emit(tenant_id=alice.tenant.pk, type="message.in", data={"text": "lost"})
    assert not WebhookDelivery.objects.filter(event=event).exists()

    report = services.webhooks_sweep(now=timezone.now() + timedelta(seconds=30))
    assert report.fanned_out == 0  # too recent: its own fan-out task may still be on its way

    report = services.webhooks_sweep(now=timezone.now() + timedelta(minutes=2))
    assert report.fanned_out == 1
    run_due(timezone.now() + timedelta(minutes=2))
    assert receiver.accepted() == {event.pk: 1}
    # Fanned out once: the sweeper does not make the deliveries again.
    assert services.webhooks_sweep(now=timezone.now() + timedelta(minutes=3)).fanned_out == 0
    assert WebhookDelivery.objects.filter(event=event).count() == 1


def test_events_matching_no_endpoint_are_fanned_out_once_and_left_alone(alice: Actor) -> None:
    event = event_emit(tenant_id=alice.tenant.pk, type="message.in", data={})
    assert services.webhooks_sweep(now=timezone.now() + timedelta(minutes=2)).fanned_out == 1
    assert services.webhooks_sweep(now=timezone.now() + timedelta(minutes=3)).fanned_out == 0
    event.refresh_from_db()
    assert event.fanned_out_at is not None
    # Events older than the look-back window are history, not work.
    old = event_emit(tenant_id=alice.tenant.pk, type="message.in", data={})
    Event.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(hours=72))
    assert services.webhooks_sweep().fanned_out == 0


class WorkerKilled(BaseException):
    """Stands in for SIGKILL: nothing after it runs, not even except/finally clauses of ours."""


def test_a_delivery_whose_worker_died_mid_attempt_is_picked_up_by_the_sweeper(
    alice: Actor,
    receiver: Receiver,
    emit: Callable[..., Any],
    run_due: Callable[..., Any],
    monkeypatch: pytest.MonkeyPatch,
    settings: Any,
) -> None:
    make_endpoint(alice.tenant, receiver.url())
    real_send = adapter.send

    def killed_while_waiting(**kwargs: Any) -> Any:
        real_send(**kwargs)  # the receiver gets the request …
        raise WorkerKilled  # … and the worker dies before recording the answer

    monkeypatch.setattr(adapter, "send", killed_while_waiting)
    with pytest.raises(WorkerKilled):
        emit(alice.tenant.pk)
    monkeypatch.setattr(adapter, "send", real_send)
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == Status.PENDING and delivery.attempts == 1
    assert delivery.next_attempt_at is not None and delivery.next_attempt_at > timezone.now()  # its lease

    # While the lease lasts nobody else takes it; after it (plus the sweeper's grace) the sweeper does.
    assert services.webhooks_sweep().requeued == 0
    later = delivery.next_attempt_at + timedelta(seconds=settings.WEBHOOK_SWEEP_GRACE_SECONDS + 1)
    assert services.webhooks_sweep(now=later).requeued == 1
    run_due(later)

    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == (Status.SUCCEEDED, 2)
    first, second = delivery.attempt_log.order_by("number")
    assert first.error.startswith("Interrupted") and first.duration_ms is None
    assert second.success
    # At-least-once: the receiver got the event id twice (once before the crash); it dedupes on it.
    assert [r.event_id for r in receiver.received] == [delivery.event_id] * 2


@pytest.mark.django_db(transaction=True)
def test_two_workers_running_the_same_delivery_at_once_send_it_once(alice: Actor, receiver: Receiver) -> None:
    endpoint = make_endpoint(alice.tenant, receiver.url())
    event = Event.objects.create(
        tenant=alice.tenant, type="message.in", data={}, fanned_out_at=timezone.now()
    )
    delivery = WebhookDelivery.objects.create(endpoint=endpoint, event=event, next_attempt_at=timezone.now())
    receiver.delay = 0.5

    def worker() -> None:
        try:
            tasks.deliver(str(delivery.pk))
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=20)

    assert len(receiver.received) == 1
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == (Status.SUCCEEDED, 1)
    assert WebhookAttempt.objects.filter(delivery=delivery).count() == 1


def test_the_url_is_checked_again_at_delivery_time(
    alice: Actor, receiver: Receiver, emit: Callable[..., Any], settings: Any
) -> None:
    make_endpoint(alice.tenant, receiver.url())  # accepted while private URLs were allowed
    settings.ALLOW_PRIVATE_URLS = False
    event = emit(alice.tenant.pk)

    assert receiver.received == []
    delivery = WebhookDelivery.objects.get(event=event)
    assert delivery.status == Status.PENDING
    assert delivery.last_error.startswith("URL refused: the host 127.0.0.1 resolves to a loopback address")
