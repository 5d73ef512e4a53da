"""Events through the running product: inbound messages and menu replies, receipts, device logout
and "connected but dead" detection — driven through the simulator's control API."""

from __future__ import annotations

import json
import time
from io import StringIO

import pytest
import requests
from django.core.management import call_command
from websockets.sync.client import connect

from devices.models import Device
from devices.tasks import poll_gowa_nodes
from messaging.models import Message
from webhooks.models import Event

from .conftest import Stack, wait_until
from .test_text_send_end_to_end import _connected_device, _create_tenant_and_node, _receive_until

pytestmark = pytest.mark.e2e


def _events(device_id: str, kind: str) -> list[Event]:
    return list(Event.objects.filter(device_id=device_id, type=kind).order_by("created_at"))


def test_a_reply_to_a_menu_arrives_as_message_in_and_interaction_button(stack: Stack) -> None:
    api_key, headers = _create_tenant_and_node(stack)
    device_id = _connected_device(stack, api_key, headers)
    api = f"{stack.web_url}/api/v1"
    menu = requests.post(
        f"{api}/messages/interactive",
        json={
            "device_id": device_id,
            "to": "6281277770001",
            "type": "button",
            "text": "Konfirmasi pesanan?",
            "buttons": [{"id": "confirm", "text": "Ya"}, {"id": "cancel", "text": "Batal"}],
        },
        headers=headers,
        timeout=30,
    ).json()
    wait_until(
        lambda: Message.objects.get(pk=menu["message_id"]).status in ("delivered", "read"), what="menu sent"
    )
    assert _events(device_id, "message.receipt"), "receipts are catalog events"

    stack.sim.control(
        "POST", f"/_sim/devices/{device_id}/inbound", json={"from": "6281277770001", "text": "2"}
    )

    wait_until(lambda: _events(device_id, "interaction.button"), what="the interaction event")
    interaction = _events(device_id, "interaction.button")[0].data
    assert interaction["selected_id"] == "cancel" and interaction["title"] == "Batal"
    assert interaction["menu_message_id"] == menu["message_id"]
    inbound = _events(device_id, "message.in")[0].data
    assert inbound["from"] == "6281277770001" and inbound["text"] == "2"
    logs = requests.get(f"{api}/message-logs?direction=in", headers=headers, timeout=30).json()["data"]
    assert [m["sender"] for m in logs] == ["6281277770001"]


def test_a_phone_unlinked_from_whatsapp_is_logged_out_at_the_next_poll(stack: Stack) -> None:
    api_key, headers = _create_tenant_and_node(stack)
    device_id = _connected_device(stack, api_key, headers)
    with connect(f"ws://127.0.0.1:{stack.web_port}/ws/?api_key={api_key}", open_timeout=10) as ws:
        assert json.loads(ws.recv(timeout=10))["event"] == "ready"
        stack.sim.control("POST", f"/_sim/devices/{device_id}/logout")
        poll_gowa_nodes.delay()  # what beat runs every DEVICE_POLL_INTERVAL_SECONDS

        pushed = _receive_until(ws, "device.logged_out")
    assert pushed["device_id"] == device_id and pushed["id"].startswith("evt_")
    assert Device.objects.get(pk=device_id).status == "logged_out"
    assert _events(device_id, "device.logged_out")


def test_a_connected_but_dead_session_is_detected_on_send_and_surfaced(stack: Stack) -> None:
    api_key, headers = _create_tenant_and_node(stack)
    device_id = _connected_device(stack, api_key, headers)
    stack.sim.control("POST", f"/_sim/devices/{device_id}/dead", json={"dead": True})

    accepted = requests.post(
        f"{stack.web_url}/api/v1/messages/text",
        json={"device_id": device_id, "to": "6281277770002", "text": "Halo"},
        headers=headers,
        timeout=30,
    ).json()

    wait_until(
        lambda: Message.objects.get(pk=accepted["message_id"]).status == "failed", what="the send to fail"
    )
    device = requests.get(f"{stack.web_url}/api/v1/devices/{device_id}", headers=headers, timeout=30).json()[
        "data"
    ]
    assert device["status"] == "disconnected"
    assert "sends fail" in device["health"]["note"]
    assert _events(device_id, "device.disconnected")
    assert _events(device_id, "message.failed")[0].data["error"]["code"] == "DEVICE_NOT_CONNECTED"


def test_a_tenant_never_sees_another_tenants_events_on_the_websocket(stack: Stack) -> None:
    alice_key, alice_headers = _create_tenant_and_node(stack)
    out = StringIO()
    call_command(
        "createtenant",
        "--name",
        "Toko Charlie",
        "--owner-email",
        "charlie@example.com",
        "--owner-password",
        "s3cret-Pass!",
        "--json",
        stdout=out,
    )
    charlie_key = json.loads(out.getvalue())["api_key"]
    with connect(f"ws://127.0.0.1:{stack.web_port}/ws/?api_key={charlie_key}", open_timeout=10) as charlie_ws:
        assert json.loads(charlie_ws.recv(timeout=10))["event"] == "ready"
        _connected_device(stack, alice_key, alice_headers)  # alice's QR, pairing and connected events
        time.sleep(1)
        with pytest.raises(TimeoutError):
            charlie_ws.recv(timeout=1)


def test_inbound_media_is_fetched_from_gowa_and_kept_in_our_storage(stack: Stack) -> None:
    from messaging import media as media_lib

    api_key, headers = _create_tenant_and_node(stack)
    device_id = _connected_device(stack, api_key, headers)

    stack.sim.control(
        "POST",
        f"/_sim/devices/{device_id}/inbound",
        json={"from": "6281277770003", "image": {"caption": "Bukti"}},
    )

    wait_until(lambda: _events(device_id, "message.in"), what="the inbound image")
    data = _events(device_id, "message.in")[0].data
    assert data["type"] == "image" and data["text"] == "Bukti"
    message = Message.objects.get(pk=data["message_id"])
    assert message.media is not None and str(message.media.pk) == data["media"]["media_id"]
    assert len(media_lib.media_read(message.media)) == message.media.size > 0
