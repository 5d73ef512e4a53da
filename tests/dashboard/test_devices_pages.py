"""Devices pages against the GOWA simulator: create, QR, pairing code, settings, logout, delete."""

from __future__ import annotations

from typing import Any

from django.test import Client

from devices.models import Device, GowaNode
from tests.conftest import Actor, Simulator


def test_creating_a_device_opens_its_page(signed_in: Any, alice: Actor, gowa_node: GowaNode) -> None:
    client: Client = signed_in(alice)
    response = client.post("/dashboard/devices/", {"name": "Kasir Depan"})
    device = Device.objects.get(tenant=alice.tenant, name="Kasir Depan")
    assert response.status_code == 302
    assert response["Location"] == f"/dashboard/devices/{device.pk}/"
    listing = client.get("/dashboard/devices/")
    assert b"Kasir Depan" in listing.content


def test_a_blank_name_and_the_device_limit_are_shown_on_the_form(
    signed_in: Any, alice: Actor, gowa_node: GowaNode, settings: Any
) -> None:
    client: Client = signed_in(alice)
    blank = client.post("/dashboard/devices/", {"name": " "})
    assert blank.status_code == 400
    assert "name" in blank.context["form"].errors
    settings.TENANT_DEFAULT_MAX_DEVICES = 1
    client.post("/dashboard/devices/", {"name": "One"})
    refused = client.post("/dashboard/devices/", {"name": "Two"})
    assert refused.status_code == 400
    assert "membolehkan 1 perangkat" in str(refused.context["form"].non_field_errors())  # in Indonesian
    assert not Device.objects.filter(name="Two").exists()


def test_showing_the_qr_code_starts_pairing_and_embeds_the_png(
    signed_in: Any, alice: Actor, make_device: Any
) -> None:
    device = make_device(alice)
    page = signed_in(alice).post(f"/dashboard/devices/{device.pk}/", {"action": "qr"})
    assert page.status_code == 200
    assert b'src="data:image/png;base64,' in page.content
    assert f'data-ws-path="/ws/?device_id={device.pk}"'.encode() in page.content
    device.refresh_from_db()
    assert device.status == Device.Status.PAIRING


def test_the_status_url_reports_connected_after_the_phone_scans(
    signed_in: Any, alice: Actor, make_device: Any, sim: Simulator
) -> None:
    device = make_device(alice, connected=True)
    status = signed_in(alice).get(f"/dashboard/devices/{device.pk}/status/").json()
    assert status["status"] == "connected"
    assert status["phone"] == "6281200000001"


def test_a_pairing_code_is_shown_for_a_valid_phone_and_a_bad_phone_is_a_field_error(
    signed_in: Any, alice: Actor, make_device: Any
) -> None:
    device = make_device(alice)
    client: Client = signed_in(alice)
    bad = client.post(f"/dashboard/devices/{device.pk}/", {"action": "code", "phone": "abc"})
    assert bad.status_code == 400
    assert "phone" in bad.context["code_form"].errors
    good = client.post(f"/dashboard/devices/{device.pk}/", {"action": "code", "phone": "0812-3456-7890"})
    assert good.status_code == 200
    assert good.context["pairing_code"]
    assert good.context["pairing_code"].encode() in good.content


def test_settings_are_saved_through_the_device_service(
    signed_in: Any, alice: Actor, make_device: Any
) -> None:
    device = make_device(alice)
    client: Client = signed_in(alice)
    response = client.post(
        f"/dashboard/devices/{device.pk}/",
        {"action": "settings", "name": "Gudang", "typing_enabled": "on", "send_interval_ms": "2500"},
    )
    assert response.status_code == 302
    device.refresh_from_db()
    assert (device.name, device.typing_enabled, device.auto_read_enabled, device.send_interval_ms) == (
        "Gudang",
        True,
        False,
        2500,
    )
    invalid = client.post(
        f"/dashboard/devices/{device.pk}/", {"action": "settings", "name": "Gudang", "send_interval_ms": "-5"}
    )
    assert invalid.status_code == 400
    assert "send_interval_ms" in invalid.context["settings_form"].errors


def test_logout_and_delete_go_through_gowa(signed_in: Any, alice: Actor, make_device: Any) -> None:
    device = make_device(alice, connected=True)
    client: Client = signed_in(alice)
    assert client.post(f"/dashboard/devices/{device.pk}/", {"action": "logout"}).status_code == 302
    device.refresh_from_db()
    assert device.status == Device.Status.LOGGED_OUT
    reconnect = client.post(f"/dashboard/devices/{device.pk}/", {"action": "reconnect"}, follow=True)
    assert b"no WhatsApp session to reconnect" in reconnect.content  # the service's 409 reason, shown
    assert client.post(f"/dashboard/devices/{device.pk}/", {"action": "delete"}).status_code == 302
    device.refresh_from_db()
    assert device.deleted_at is not None
    assert client.get(f"/dashboard/devices/{device.pk}/").status_code == 404


def test_another_tenants_device_is_a_404_for_every_action(
    signed_in: Any, alice: Actor, charlie: Actor, make_device: Any
) -> None:
    device = make_device(charlie)
    client: Client = signed_in(alice)
    assert client.get(f"/dashboard/devices/{device.pk}/").status_code == 404
    assert client.get(f"/dashboard/devices/{device.pk}/status/").status_code == 404
    for action in ("qr", "delete", "settings"):
        assert client.post(f"/dashboard/devices/{device.pk}/", {"action": action}).status_code == 404
    device.refresh_from_db()
    assert device.deleted_at is None
