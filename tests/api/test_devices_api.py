"""Devices over the API, each backed by a real GOWA slot on the simulator."""

from __future__ import annotations

import base64
import io
import uuid
from typing import Any

import pytest
import requests
from PIL import Image

from billing.models import Subscription
from devices.models import Device
from devices.services import device_sync_from_gowa
from devices.tasks import poll_gowa_node
from tests.conftest import SIM_PASSWORD, SIM_USER
from tests.factories import DeviceFactory, GowaNodeFactory

from .helpers import assert_error, assert_ok

DEVICES = "/api/v1/devices"


def gowa(sim: Any, method: str, path: str) -> Any:
    """Asks the simulator through GOWA's own API (with its basic auth), as an operator would."""
    response = requests.request(method, sim.base_url + path, auth=(SIM_USER, SIM_PASSWORD), timeout=10)
    return response


def gowa_slot_ids(sim: Any) -> set[str]:
    response = gowa(sim, "GET", "/devices")
    assert response.status_code == 200, response.text
    return {d["id"] for d in response.json().get("results") or []}


# --- create, read, update, delete -----------------------------------------------------------------
def test_create_device_is_201_created_on_a_node_with_the_free_plan(
    alice: Any, gowa_node: Any, sim: Any
) -> None:
    response = alice.api.post(
        DEVICES, {"name": "Shop phone", "typing_enabled": True, "send_interval_ms": 2500}, format="json"
    )
    data = assert_ok(response, 201)
    assert data["status"] == "created"
    assert data["name"] == "Shop phone"
    assert data["phone"] == "" and data["jid"] == ""
    assert data["node"] == {"id": gowa_node.pk, "name": "sim-node"}
    assert data["plan"]["code"] == "free"
    assert data["settings"] == {
        "auto_read_enabled": False,
        "typing_enabled": True,
        "auto_reply_enabled": False,
        "send_interval_ms": 2500,
    }
    assert data["stats"] == {"sent": 0, "delivered": 0, "read": 0, "failed": 0, "received": 0}
    device = Device.objects.get(pk=data["id"])
    assert device.tenant_id == alice.tenant.pk and device.node_id == gowa_node.pk
    assert Subscription.objects.get(device_id=device.pk).plan.code == "free"
    # The GOWA slot exists, named by our id, with our callback and the node's secret.
    assert gowa_slot_ids(sim) == {data["id"]}
    webhook = gowa(sim, "GET", f"/devices/{data['id']}/webhook").json()["results"]
    assert webhook["webhook_url"].endswith(f"/webhooks/gowa/{gowa_node.pk}/")
    assert webhook["webhook_secret"] == gowa_node.webhook_secret


def test_create_device_validates_its_input(alice: Any, gowa_node: Any, sim: Any) -> None:
    assert (
        "name" in assert_error(alice.api.post(DEVICES, {}, format="json"), 400, "VALIDATION_ERROR")["details"]
    )
    error = assert_error(
        alice.api.post(DEVICES, {"name": "x", "send_interval_ms": -5}, format="json"), 400, "VALIDATION_ERROR"
    )
    assert "send_interval_ms" in error["details"]
    assert not Device.objects.exists()
    assert gowa_slot_ids(sim) == set()


def test_list_get_and_patch_settings(alice: Any, make_device: Any) -> None:
    first = make_device(alice, name="First")
    second = make_device(alice, name="Second")
    listed = alice.api.get(DEVICES).json()
    assert {d["id"] for d in listed["data"]} == {str(first.pk), str(second.pk)}
    assert listed["meta"]["pagination"]["total"] == 2

    data = assert_ok(alice.api.get(f"{DEVICES}/{first.pk}"))
    assert data["id"] == str(first.pk) and data["name"] == "First" and data["plan"]["code"] == "free"

    patched = assert_ok(
        alice.api.patch(
            f"{DEVICES}/{first.pk}",
            {
                "name": "Renamed",
                "auto_read_enabled": True,
                "auto_reply_enabled": True,
                "send_interval_ms": 0,
                "status": "connected",  # read-only: ignored
            },
            format="json",
        )
    )
    assert patched["name"] == "Renamed"
    assert patched["settings"] == {
        "auto_read_enabled": True,
        "typing_enabled": False,
        "auto_reply_enabled": True,
        "send_interval_ms": 0,
    }
    assert patched["status"] == "created"
    first.refresh_from_db()
    assert (first.name, first.auto_read_enabled, first.send_interval_ms) == ("Renamed", True, 0)
    assert first.status == Device.Status.CREATED

    error = assert_error(
        alice.api.patch(f"{DEVICES}/{first.pk}", {"send_interval_ms": "fast"}, format="json"),
        400,
        "VALIDATION_ERROR",
    )
    assert "send_interval_ms" in error["details"]


def test_list_can_filter_by_status(alice: Any, make_device: Any) -> None:
    connected = make_device(alice, name="On", connected=True)
    make_device(alice, name="Off")
    data = assert_ok(alice.api.get(f"{DEVICES}?status=connected"))
    assert [d["id"] for d in data] == [str(connected.pk)]


def test_delete_is_soft_then_404_and_the_gowa_slot_is_gone(alice: Any, make_device: Any, sim: Any) -> None:
    device = make_device(alice, connected=True)
    keep = make_device(alice, name="Keep")
    assert gowa_slot_ids(sim) == {str(device.pk), str(keep.pk)}
    data = assert_ok(alice.api.delete(f"{DEVICES}/{device.pk}"))
    assert data["id"] == str(device.pk)
    assert_error(alice.api.get(f"{DEVICES}/{device.pk}"), 404, "DEVICE_NOT_FOUND")
    assert_error(alice.api.delete(f"{DEVICES}/{device.pk}"), 404, "DEVICE_NOT_FOUND")
    assert [d["id"] for d in assert_ok(alice.api.get(DEVICES))] == [str(keep.pk)]
    row = Device.objects.get(pk=device.pk)  # the row stays for the message logs
    assert row.deleted_at is not None and row.status == Device.Status.LOGGED_OUT
    assert gowa_slot_ids(sim) == {str(keep.pk)}


def test_deleting_a_device_frees_room_under_the_device_limit(alice: Any, make_device: Any) -> None:
    alice.tenant.max_devices = 1
    alice.tenant.save(update_fields=["max_devices"])
    device = make_device(alice)
    assert_error(alice.api.post(DEVICES, {"name": "Second"}, format="json"), 403, "QUOTA_EXCEEDED")
    assert_ok(alice.api.delete(f"{DEVICES}/{device.pk}"))
    assert_ok(alice.api.post(DEVICES, {"name": "Second"}, format="json"), 201)


def test_device_limit_is_403_quota_exceeded_with_a_clear_message(
    alice: Any, make_device: Any, sim: Any
) -> None:
    alice.tenant.max_devices = 2
    alice.tenant.save(update_fields=["max_devices"])
    make_device(alice, name="One")
    make_device(alice, name="Two")
    error = assert_error(alice.api.post(DEVICES, {"name": "Three"}, format="json"), 403, "QUOTA_EXCEEDED")
    assert "2" in error["message"]
    assert error["details"] == {"device_limit": 2, "devices": 2}
    assert Device.objects.filter(tenant=alice.tenant).count() == 2
    assert len(gowa_slot_ids(sim)) == 2


def test_gowa_unreachable_on_create_is_502_and_leaves_nothing_behind(alice: Any, gowa_node: Any) -> None:
    gowa_node.base_url = "http://127.0.0.1:1"
    gowa_node.save(update_fields=["base_url"])
    assert_error(alice.api.post(DEVICES, {"name": "x"}, format="json"), 502, "UPSTREAM_ERROR")
    assert not Device.objects.exists()
    assert not Subscription.objects.exists()


def test_new_devices_go_to_the_least_loaded_node_with_room(
    alice: Any, charlie: Any, gowa_node: Any, sim: Any
) -> None:
    busy = gowa_node  # lower id
    spare = GowaNodeFactory.create(
        name="sim-node-2",
        base_url=sim.base_url,
        basic_auth_username=SIM_USER,
        basic_auth_password=SIM_PASSWORD,
        capacity=1,
    )
    DeviceFactory.create_batch(2, tenant=charlie.tenant, node=busy)  # rows only: load without slots
    first = assert_ok(alice.api.post(DEVICES, {"name": "first"}, format="json"), 201)
    assert first["node"]["id"] == spare.pk
    # spare is now full (capacity 1), so the next one goes to busy despite its load.
    second = assert_ok(alice.api.post(DEVICES, {"name": "second"}, format="json"), 201)
    assert second["node"]["id"] == busy.pk
    # Deleted devices do not count as load; inactive nodes get nothing.
    assert_ok(alice.api.delete(f"{DEVICES}/{first['id']}"))
    busy.is_active = False
    busy.save(update_fields=["is_active"])
    third = assert_ok(alice.api.post(DEVICES, {"name": "third"}, format="json"), 201)
    assert third["node"]["id"] == spare.pk


# --- linking ---------------------------------------------------------------------------------------
def test_login_qr_returns_a_png_data_url_and_the_device_goes_pairing(alice: Any, make_device: Any) -> None:
    device = make_device(alice)
    data = assert_ok(alice.api.post(f"{DEVICES}/{device.pk}/login-qr"))
    prefix = "data:image/png;base64,"
    assert data["qr_image"].startswith(prefix)
    png = base64.b64decode(data["qr_image"][len(prefix) :], validate=True)
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    image = Image.open(io.BytesIO(png))
    assert image.format == "PNG" and image.size[0] >= 100
    assert data["expires_in"] == 30
    assert assert_ok(alice.api.get(f"{DEVICES}/{device.pk}"))["status"] == "pairing"


def test_scan_then_poll_connects_the_device_with_its_phone_and_jid(
    alice: Any, make_device: Any, gowa_node: Any, sim: Any
) -> None:
    device = make_device(alice)
    assert_ok(alice.api.post(f"{DEVICES}/{device.pk}/login-qr"))
    poll_gowa_node(gowa_node.pk)  # nothing scanned yet: still pairing
    assert Device.objects.get(pk=device.pk).status == Device.Status.PAIRING
    sim.scan(device.pk, phone="6281298765432")
    poll_gowa_node(gowa_node.pk)
    data = assert_ok(alice.api.get(f"{DEVICES}/{device.pk}"))
    assert data["status"] == "connected"
    assert data["phone"] == "6281298765432"
    assert data["jid"] == "6281298765432@s.whatsapp.net"
    assert data["connected_at"] is not None


def test_login_qr_after_the_node_lost_the_slot_recreates_it_with_our_webhook(
    alice: Any, make_device: Any, sim: Any, gowa_node: Any
) -> None:
    # A restarted GOWA (or the simulator of make run) has forgotten the slot; GOWA's login would
    # create it without a webhook, and no receipt or inbound message would ever reach Wavora.
    device = make_device(alice)
    assert gowa(sim, "DELETE", f"/devices/{device.pk}").status_code == 200
    assert gowa_slot_ids(sim) == set()

    assert_ok(alice.api.post(f"{DEVICES}/{device.pk}/login-qr"))

    assert gowa_slot_ids(sim) == {str(device.pk)}
    webhook = gowa(sim, "GET", f"/devices/{device.pk}/webhook").json()["results"]
    assert webhook["webhook_url"].endswith(f"/webhooks/gowa/{gowa_node.pk}/")
    assert webhook["webhook_secret"] == gowa_node.webhook_secret


def test_login_qr_on_a_connected_device_is_a_409(alice: Any, make_device: Any) -> None:
    device = make_device(alice, connected=True)
    assert_error(alice.api.post(f"{DEVICES}/{device.pk}/login-qr"), 409, "ALREADY_LOGGED_IN")
    assert Device.objects.get(pk=device.pk).status == Device.Status.CONNECTED


def test_login_code_returns_a_pairing_code_for_the_normalised_phone(
    alice: Any, make_device: Any, sim: Any
) -> None:
    device = make_device(alice)
    data = assert_ok(
        alice.api.post(f"{DEVICES}/{device.pk}/login-code", {"phone": "0812 9876 5432"}, format="json")
    )
    assert data["phone"] == "6281298765432"
    code = data["pairing_code"].replace("-", "")
    assert len(code) == 8 and code.isalnum() and code.isupper()
    assert Device.objects.get(pk=device.pk).status == Device.Status.PAIRING
    # The phone enters the code: the simulator links the number the code was requested for.
    sim.control("POST", f"/_sim/devices/{device.pk}/scan", json={})
    synced = device_sync_from_gowa(device=Device.objects.get(pk=device.pk))
    assert synced.status == Device.Status.CONNECTED and synced.phone == "6281298765432"


def test_login_code_rejects_bad_phones(alice: Any, make_device: Any) -> None:
    device = make_device(alice)
    url = f"{DEVICES}/{device.pk}/login-code"
    assert_error(alice.api.post(url, {"phone": "12ab"}, format="json"), 400, "INVALID_PHONE")
    assert_error(
        alice.api.post(url, {"phone": "120363025246125486@g.us"}, format="json"), 400, "INVALID_PHONE"
    )
    assert "phone" in assert_error(alice.api.post(url, {}, format="json"), 400, "VALIDATION_ERROR")["details"]
    assert Device.objects.get(pk=device.pk).status == Device.Status.CREATED


def test_logout_moves_the_device_to_logged_out(
    alice: Any, make_device: Any, gowa_node: Any, sim: Any
) -> None:
    device = make_device(alice, connected=True)
    data = assert_ok(alice.api.post(f"{DEVICES}/{device.pk}/logout"))
    assert data["status"] == "logged_out"
    status = gowa(sim, "GET", f"/devices/{device.pk}/status").json()["results"]
    assert status["is_logged_in"] is False
    poll_gowa_node(gowa_node.pk)
    assert Device.objects.get(pk=device.pk).status == Device.Status.LOGGED_OUT
    assert str(device.pk) in gowa_slot_ids(sim)  # logout keeps the slot for a new link


def test_a_logged_out_device_can_be_linked_again_to_another_phone(
    alice: Any, make_device: Any, gowa_node: Any, sim: Any
) -> None:
    device = make_device(alice, connected=True, phone="6281200000001")
    assert_ok(alice.api.post(f"{DEVICES}/{device.pk}/logout"))
    assert_ok(alice.api.post(f"{DEVICES}/{device.pk}/login-qr"))
    assert Device.objects.get(pk=device.pk).status == Device.Status.PAIRING
    sim.scan(device.pk, phone="6281277777777")
    poll_gowa_node(gowa_node.pk)
    relinked = Device.objects.get(pk=device.pk)
    assert relinked.status == Device.Status.CONNECTED
    assert (relinked.phone, relinked.jid) == ("6281277777777", "6281277777777@s.whatsapp.net")


def test_disconnect_is_seen_by_polling_and_reconnect_restores_it(
    alice: Any, make_device: Any, gowa_node: Any, sim: Any
) -> None:
    device = make_device(alice, connected=True)
    sim.control("POST", f"/_sim/devices/{device.pk}/disconnect", json={})
    poll_gowa_node(gowa_node.pk)
    assert Device.objects.get(pk=device.pk).status == Device.Status.DISCONNECTED
    data = assert_ok(alice.api.post(f"{DEVICES}/{device.pk}/reconnect"))
    assert data["status"] == "connected"


# --- isolation -------------------------------------------------------------------------------------
def test_another_tenant_gets_404_never_403_for_my_device(
    alice: Any, charlie: Any, make_device: Any, sim: Any
) -> None:
    device = make_device(alice, name="Alice phone")
    base = f"{DEVICES}/{device.pk}"
    attempts = [
        charlie.api.get(base),
        charlie.api.patch(base, {"name": "pwned"}, format="json"),
        charlie.api.delete(base),
        charlie.api.post(f"{base}/login-qr"),
        charlie.api.post(f"{base}/login-code", {"phone": "6281234567890"}, format="json"),
        charlie.api.post(f"{base}/logout"),
        charlie.api.post(f"{base}/reconnect"),
    ]
    for response in attempts:
        assert_error(response, 404, "DEVICE_NOT_FOUND")
    assert assert_ok(charlie.api.get(DEVICES)) == []
    device.refresh_from_db()
    assert (device.name, device.status, device.deleted_at) == ("Alice phone", Device.Status.CREATED, None)
    assert str(device.pk) in gowa_slot_ids(sim)


def test_a_team_member_sees_and_uses_the_tenants_device(alice: Any, bob: Any, make_device: Any) -> None:
    device = make_device(alice, name="Team phone")
    assert assert_ok(bob.api.get(f"{DEVICES}/{device.pk}"))["name"] == "Team phone"
    assert [d["id"] for d in assert_ok(bob.api.get(DEVICES))] == [str(device.pk)]
    assert (
        assert_ok(bob.api.patch(f"{DEVICES}/{device.pk}", {"typing_enabled": True}, format="json"))[
            "settings"
        ]["typing_enabled"]
        is True
    )


@pytest.mark.parametrize("device_id", ["nope", str(uuid.uuid4()), "0" * 40])
def test_unknown_device_id_is_404_device_not_found(alice: Any, device_id: str) -> None:
    assert_error(alice.api.get(f"{DEVICES}/{device_id}"), 404, "DEVICE_NOT_FOUND")
    assert_error(alice.api.post(f"{DEVICES}/{device_id}/login-qr"), 404, "DEVICE_NOT_FOUND")
