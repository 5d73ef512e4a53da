"""An endpoint whose deliveries have all failed for 3 days is disabled, and the tenant is told:
a ``webhook.disabled`` event (to its other endpoints and the WebSocket) and an email to its owners."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.utils import timezone

from tests.conftest import Actor
from webhooks import services
from webhooks.models import Event, WebhookDelivery, WebhookEndpoint

from . import Receiver, closed_port
from .conftest import make_endpoint

Status = WebhookDelivery.Status


def test_an_endpoint_failing_for_three_days_is_disabled_and_the_owners_are_told(
    alice: Actor,
    bob: Actor,
    receiver: Receiver,
    emit: Callable[..., Any],
    run_due: Callable[..., Any],
    mailoutbox: list[Any],
) -> None:
    broken = make_endpoint(alice.tenant, f"http://127.0.0.1:{closed_port()}/hook")
    watcher = make_endpoint(alice.tenant, receiver.url(), events=["webhook.disabled"])
    start = timezone.now()

    emit(alice.tenant.pk)  # fails, and keeps failing through its 24 h of retries
    run_due(start + timedelta(hours=30))
    broken.refresh_from_db()
    assert broken.is_active and broken.failing_since is not None
    assert mailoutbox == []

    # Day 3: a new event, still failing.
    pending = emit(alice.tenant.pk)
    run_due(start + timedelta(days=3, minutes=1))

    broken.refresh_from_db()
    assert not broken.is_active
    assert broken.disabled_at is not None
    assert "failed for 3 days" in broken.disabled_reason
    assert WebhookDelivery.objects.get(event=pending, endpoint=broken).status == Status.FAILED

    disabled = Event.objects.get(tenant=alice.tenant, type="webhook.disabled")
    assert disabled.data["webhook_id"] == str(broken.pk)
    assert disabled.data["url"] == broken.url
    # The tenant's other endpoint, subscribed to webhook.disabled, is told.
    assert [r.event_id for r in receiver.received] == [disabled.pk]
    assert WebhookDelivery.objects.get(event=disabled, endpoint=watcher).status == Status.SUCCEEDED

    [mail] = mailoutbox
    assert mail.to == ["alice@example.com"]  # the owner (bob is a plain member)
    assert broken.url in mail.subject
    assert str(broken.pk) in mail.body

    # Disabled: nothing more is attempted, and it is not disabled (nor mailed) twice.
    later = emit(alice.tenant.pk)
    assert not WebhookDelivery.objects.filter(event=later, endpoint=broken).exists()
    assert services.endpoint_disable(endpoint_id=broken.pk, reason="again") is False
    assert len(mailoutbox) == 1


def test_one_success_resets_the_failure_clock(
    alice: Actor, receiver: Receiver, emit: Callable[..., Any], mailoutbox: list[Any]
) -> None:
    endpoint = make_endpoint(alice.tenant, receiver.url())
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(failing_since=timezone.now() - timedelta(days=2))

    emit(alice.tenant.pk)  # the receiver is fixed: a success
    endpoint.refresh_from_db()
    assert endpoint.failing_since is None

    receiver.answer(500)  # a failure later starts a new clock instead of counting from day 0
    emit(alice.tenant.pk)
    endpoint.refresh_from_db()
    assert endpoint.is_active
    assert endpoint.failing_since is not None
    assert timezone.now() - endpoint.failing_since < timedelta(minutes=1)
    assert mailoutbox == []


def test_failures_for_less_than_three_days_leave_the_endpoint_on(
    alice: Actor, receiver: Receiver, emit: Callable[..., Any], mailoutbox: list[Any]
) -> None:
    endpoint = make_endpoint(alice.tenant, receiver.url())
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(
        failing_since=timezone.now() - timedelta(days=2, hours=23)
    )
    receiver.answer(500)
    emit(alice.tenant.pk)
    endpoint.refresh_from_db()
    assert endpoint.is_active
    assert mailoutbox == []


def test_re_enabling_a_disabled_endpoint_clears_its_failure_state(alice: Actor, receiver: Receiver) -> None:
    endpoint = make_endpoint(alice.tenant, receiver.url())
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(failing_since=timezone.now() - timedelta(days=4))
    assert services.endpoint_disable(endpoint_id=endpoint.pk, reason="Every delivery failed for 3 days.")
    endpoint.refresh_from_db()
    endpoint = services.endpoint_update(endpoint=endpoint, is_active=True)
    assert endpoint.is_active
    assert (endpoint.failing_since, endpoint.disabled_at, endpoint.disabled_reason) == (None, None, "")
