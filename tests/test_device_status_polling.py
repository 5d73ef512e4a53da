"""Device status follows what GOWA reports (GOWA sends no login/logout webhooks, so we poll)."""

from __future__ import annotations

from typing import Any

from devices.models import Device
from devices.tasks import poll_gowa_node

from .conftest import Actor, Simulator


def _poll(device: Device) -> Device:
    poll_gowa_node(device.node_id)
    device.refresh_from_db()
    return device


def test_a_device_unlinked_on_the_phone_becomes_logged_out_at_the_next_poll(
    alice: Actor, make_device: Any, sim: Simulator
) -> None:
    device = make_device(alice, connected=True)
    sim.control("POST", f"/_sim/devices/{device.pk}/logout")

    assert _poll(device).status == Device.Status.LOGGED_OUT


def test_a_dropped_connection_shows_as_disconnected_and_recovers_on_reconnect(
    alice: Actor, make_device: Any, sim: Simulator
) -> None:
    device = make_device(alice, connected=True)
    sim.control("POST", f"/_sim/devices/{device.pk}/disconnect")
    assert _poll(device).status == Device.Status.DISCONNECTED

    response = alice.api.post(f"/api/v1/devices/{device.pk}/reconnect")

    assert response.status_code == 200, response.content
    assert response.json()["data"]["status"] == "connected"


def test_a_device_still_pairing_is_left_to_the_pairing_watcher(alice: Actor, make_device: Any) -> None:
    device = make_device(alice)
    assert alice.api.post(f"/api/v1/devices/{device.pk}/login-qr").status_code == 200

    assert _poll(device).status == Device.Status.PAIRING


def test_a_device_paired_while_nobody_watched_is_picked_up_by_the_poll(
    alice: Actor, make_device: Any, sim: Simulator
) -> None:
    device = make_device(alice)
    assert alice.api.post(f"/api/v1/devices/{device.pk}/login-qr").status_code == 200
    sim.scan(device.pk, phone="6281299887766")

    device = _poll(device)

    assert device.status == Device.Status.CONNECTED
    assert device.phone == "6281299887766"
    assert device.jid == "6281299887766@s.whatsapp.net"


def test_a_logged_out_device_emits_device_logged_out_and_emails_the_owner_to_rescan(
    alice: Actor, make_device: Any, sim: Simulator, mailoutbox: Any, django_capture_on_commit_callbacks: Any
) -> None:
    from webhooks.models import Event

    device = make_device(alice, connected=True)
    sim.control("POST", f"/_sim/devices/{device.pk}/logout")

    with django_capture_on_commit_callbacks(execute=True):
        _poll(device)

    assert Event.objects.filter(device_id=device.pk, type="device.logged_out").exists()
    assert len(mailoutbox) == 1
    assert mailoutbox[0].to == ["alice@example.com"]
    assert f"/api/v1/devices/{device.pk}/login-qr" in mailoutbox[0].body


def test_a_disconnected_device_is_reconnected_automatically(
    alice: Actor, make_device: Any, sim: Simulator
) -> None:
    from devices.services import device_try_reconnect

    device = make_device(alice, connected=True)
    sim.control("POST", f"/_sim/devices/{device.pk}/disconnect")
    assert _poll(device).status == Device.Status.DISCONNECTED

    reconnected = device_try_reconnect(device_id=device.pk, attempt=0)

    assert reconnected is not None and reconnected.status == Device.Status.CONNECTED
    assert reconnected.reconnect_attempts == 0


def test_reconnecting_a_device_that_was_never_linked_is_a_409_not_a_gateway_error(
    alice: Actor, make_device: Any
) -> None:
    device = make_device(alice)

    response = alice.api.post(f"/api/v1/devices/{device.pk}/reconnect")

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "DEVICE_NOT_CONNECTED"
