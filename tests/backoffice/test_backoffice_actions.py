"""Back-office actions do what they say, through the owning app's services: revoke a key,
reconnect or log out a device on GOWA, check a node's health, redeliver a webhook."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.contrib.messages import get_messages
from django.db.models import Model
from django.test import Client
from django.urls import reverse

from devices.models import Device, GowaNode
from devices.services import device_sync_from_gowa
from devices.tasks import poll_gowa_node
from tenants.models import ApiKey
from tests.conftest import Actor, Simulator
from tests.factories import GowaNodeFactory
from tests.webhooks import Receiver
from wavora.celery import app
from webhooks.events import event_emit
from webhooks.models import WebhookDelivery
from webhooks.services import endpoint_create, event_fan_out


def _act(client: Client, model: type[Model], action: str, pks: list[Any]) -> list[str]:
    url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
    response = client.post(url, {"action": action, "_selected_action": [str(pk) for pk in pks]}, follow=True)
    assert response.status_code == 200
    return [str(m) for m in get_messages(response.wsgi_request)]


def test_revoking_a_key_stops_it_working_at_once(staff: Client, alice: Actor, charlie: Actor) -> None:
    assert alice.api.get("/api/v1/devices").status_code == 200

    notes = _act(staff, ApiKey, "revoke", [alice.key.pk])

    assert notes == ["Revoked 1 API key(s)."]
    alice.key.refresh_from_db()
    assert alice.key.status == "revoked"
    assert alice.api.get("/api/v1/devices").status_code == 401
    assert charlie.api.get("/api/v1/devices").status_code == 200  # only the selected key


def test_logout_action_logs_the_device_out_on_gowa(
    staff: Client, alice: Actor, make_device: Any, sim: Simulator
) -> None:
    device = make_device(alice, connected=True)

    notes = _act(staff, Device, "logout", [device.pk])

    assert notes == ["Logged out 1 device(s)."]
    device.refresh_from_db()
    assert device.status == Device.Status.LOGGED_OUT
    assert device_sync_from_gowa(device=device).status == Device.Status.LOGGED_OUT  # GOWA agrees


def test_reconnect_action_reconnects_a_dropped_device_and_explains_what_it_cannot_do(
    staff: Client, alice: Actor, make_device: Any, sim: Simulator, gowa_node: GowaNode
) -> None:
    dropped = make_device(alice, connected=True)
    sim.control("POST", f"/_sim/devices/{dropped.pk}/disconnect", json={})
    poll_gowa_node(gowa_node.pk)
    assert Device.objects.get(pk=dropped.pk).status == Device.Status.DISCONNECTED
    never_linked = make_device(alice, name="Fresh phone")

    notes = _act(staff, Device, "reconnect", [dropped.pk, never_linked.pk])

    dropped.refresh_from_db()
    assert dropped.status == Device.Status.CONNECTED
    assert "Reconnected 1 device(s)." in notes
    assert any(str(never_linked.pk) in note and "no WhatsApp session" in note for note in notes)


def test_check_health_action_reports_each_node(staff: Client, gowa_node: GowaNode) -> None:
    dead = GowaNodeFactory.create(name="dead-node", base_url="http://127.0.0.1:9")

    notes = _act(staff, GowaNode, "check_health", [gowa_node.pk, dead.pk])

    assert sorted(notes) == sorted(
        ["sim-node: reachable.", "dead-node: NOT reachable at http://127.0.0.1:9."]
    )


@pytest.fixture
def inline_celery(settings: Any) -> Iterator[None]:
    settings.ALLOW_PRIVATE_URLS = True  # the receiver listens on 127.0.0.1
    app.conf.task_always_eager = True
    app.conf.task_eager_propagates = True
    yield
    app.conf.task_always_eager = False
    app.conf.task_eager_propagates = False


def test_redeliver_action_sends_the_event_again(
    staff: Client, alice: Actor, inline_celery: None, django_capture_on_commit_callbacks: Any
) -> None:
    receiver = Receiver()
    try:
        receiver.answers = [500]
        endpoint_create(tenant=alice.tenant, url=receiver.url("/hook"))
        with django_capture_on_commit_callbacks(execute=True):
            event = event_emit(tenant_id=alice.tenant.pk, type="device.connected", data={})
            (delivery_id,) = event_fan_out(event_id=event.pk)
        delivery = WebhookDelivery.objects.get(pk=delivery_id)
        assert (
            delivery.attempts == 1 and delivery.status == WebhookDelivery.Status.PENDING
        )  # 500: retry later

        with django_capture_on_commit_callbacks(execute=True):
            notes = _act(staff, WebhookDelivery, "redeliver", [delivery.pk])

        assert notes == ["Queued 1 delivery(ies) for redelivery."]
        delivery.refresh_from_db()
        assert delivery.status == WebhookDelivery.Status.SUCCEEDED
        assert delivery.attempts == 2
        assert [r.event_id for r in receiver.received] == [event.pk, event.pk]
    finally:
        receiver.stop()


def test_redeliver_action_refuses_a_disabled_endpoint(staff: Client, alice: Actor, settings: Any) -> None:
    settings.ALLOW_PRIVATE_URLS = True
    endpoint = endpoint_create(tenant=alice.tenant, url="http://127.0.0.1:9/hook", is_active=False)
    event = event_emit(tenant_id=alice.tenant.pk, type="device.connected", data={})
    delivery = WebhookDelivery.objects.create(endpoint=endpoint, event=event, status="failed")

    notes = _act(staff, WebhookDelivery, "redeliver", [delivery.pk])

    assert notes == [
        f"Delivery {delivery.pk}: This webhook endpoint is disabled; enable it before redelivering."
    ]
    delivery.refresh_from_db()
    assert delivery.status == WebhookDelivery.Status.FAILED


def test_staff_can_raise_a_keys_rate_limit_but_not_edit_its_scopes(staff: Client, alice: Actor) -> None:
    url = reverse("admin:tenants_apikey_change", args=[alice.key.pk])
    page = staff.get(url)
    assert b'name="rate_limit_per_minute"' in page.content
    assert b'name="scopes"' not in page.content

    response = staff.post(
        url,
        {"name": "ops-raised", "rate_limit_per_minute": "5000", "scopes": '["nonsense"]', "device_ids": "[]"},
    )

    assert response.status_code == 302, response.content
    alice.key.refresh_from_db()
    assert (alice.key.name, alice.key.rate_limit_per_minute) == ("ops-raised", 5000)
    assert "nonsense" not in alice.key.scopes
