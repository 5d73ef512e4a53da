"""A developer's first path, through real processes: createtenant → device → QR → paired (seen on
the WebSocket) → text → delivered → read via signed GOWA webhooks."""

from __future__ import annotations

import json
import time
from io import StringIO
from typing import Any

import pytest
import requests
from django.core.management import call_command
from websockets.sync.client import connect

from messaging.models import Message
from messaging.tasks import sweep_stuck_messages
from tests.conftest import SIM_PASSWORD, SIM_USER

from .conftest import Stack, wait_until

pytestmark = pytest.mark.e2e


def _create_tenant_and_node(stack: Stack) -> tuple[str, dict[str, str]]:
    out = StringIO()
    call_command(
        "createtenant",
        "--name",
        "Toko Alice",
        "--owner-email",
        "alice@example.com",
        "--owner-password",
        "s3cret-Pass!",
        "--json",
        stdout=out,
    )
    created = json.loads(out.getvalue())
    call_command(
        "addgowanode",
        "--name",
        "sim",
        "--base-url",
        stack.sim.base_url,
        "--basic-auth",
        f"{SIM_USER}:{SIM_PASSWORD}",
        stdout=StringIO(),
    )
    return created["api_key"], {"Authorization": f"Bearer {created['api_key']}"}


def _receive_until(ws: Any, event: str, timeout: float = 20.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    seen = []
    while time.monotonic() < deadline:
        try:
            message = json.loads(ws.recv(timeout=max(0.1, deadline - time.monotonic())))
        except TimeoutError:
            break
        seen.append(message.get("event"))
        if message.get("event") == event:
            return message
    raise AssertionError(f"no {event!r} on the WebSocket within {timeout} s; saw {seen}")


def _connected_device(stack: Stack, api_key: str, headers: dict[str, str]) -> str:
    created = requests.post(
        f"{stack.web_url}/api/v1/devices", json={"name": "Kasir"}, headers=headers, timeout=30
    )
    assert created.status_code == 201, created.text
    device_id = created.json()["data"]["id"]
    ws_url = f"ws://127.0.0.1:{stack.web_port}/ws/?api_key={api_key}&device_id={device_id}"
    with connect(ws_url, open_timeout=10) as ws:
        assert json.loads(ws.recv(timeout=10))["event"] == "ready"
        qr = requests.post(
            f"{stack.web_url}/api/v1/devices/{device_id}/login-qr", headers=headers, timeout=60
        )
        assert qr.status_code == 200, qr.text
        assert qr.json()["data"]["qr_image"].startswith("data:image/png;base64,")
        assert _receive_until(ws, "qrcode")["data"].startswith("data:image/png;base64,")

        stack.sim.scan(device_id, phone="6281234567890")
        success = _receive_until(ws, "connection-success")
        assert success["device_id"] == device_id
        assert success["data"]["phone"] == "6281234567890"
    device = requests.get(f"{stack.web_url}/api/v1/devices/{device_id}", headers=headers, timeout=30).json()[
        "data"
    ]
    assert device["status"] == "connected"
    return device_id


def test_a_text_goes_from_createtenant_through_pairing_to_read(stack: Stack) -> None:
    api_key, headers = _create_tenant_and_node(stack)
    device_id = _connected_device(stack, api_key, headers)

    accepted = requests.post(
        f"{stack.web_url}/api/v1/messages/text",
        json={"device_id": device_id, "to": "0812-9999-0001", "text": "Halo dari Wavora"},
        headers=headers,
        timeout=30,
    )
    assert accepted.status_code == 202, accepted.text
    body = accepted.json()
    assert body["status"] == "pending" and body["message"] == "Message queued for delivery"

    def status() -> str:
        got = requests.get(
            f"{stack.web_url}/api/v1/messages/{body['message_id']}", headers=headers, timeout=30
        )
        return str(got.json()["data"]["status"])

    wait_until(lambda: status() == "read", timeout=30, what="the message to be read")
    detail = requests.get(
        f"{stack.web_url}/api/v1/messages/{body['message_id']}", headers=headers, timeout=30
    ).json()["data"]
    assert [h["status"] for h in detail["history"]] == ["pending", "sending", "sent", "delivered", "read"]
    assert detail["gowa_message_id"].startswith("3EB0")
    assert detail["delivered_at"] and detail["read_at"]
    sent = stack.sim.sent()
    assert [s["phone"] for s in sent] == ["6281299990001"]
    assert sent[0]["fields"]["message"].startswith("Halo dari Wavora")  # plus the free plan's footer


def test_a_worker_killed_mid_send_still_ends_the_message(stack: Stack, settings: Any) -> None:
    api_key, headers = _create_tenant_and_node(stack)
    device_id = _connected_device(stack, api_key, headers)
    stack.sim.configure(latency_ms=4000)  # the worker is inside the GOWA call when it dies

    accepted = requests.post(
        f"{stack.web_url}/api/v1/messages/text",
        json={"device_id": device_id, "to": "6281299990002", "text": "Tagihan Anda"},
        headers=headers,
        timeout=30,
    ).json()
    message_id = accepted["message_id"]
    wait_until(lambda: Message.objects.get(pk=message_id).status == "sending", what="the send to start")
    stack.kill("worker")
    stack.sim.configure(latency_ms=0)
    assert Message.objects.get(pk=message_id).status == "sending"

    stack.start_worker()
    stack.wait_for_worker()
    settings.SWEEPER_STUCK_SENDING_SECONDS = 0
    time.sleep(0.1)
    sweep_stuck_messages()  # what beat runs every minute

    wait_until(
        lambda: Message.objects.get(pk=message_id).status in ("delivered", "read", "failed"),
        timeout=30,
        what="a terminal status after the worker loss",
    )
    message = Message.objects.get(pk=message_id)
    assert message.status in ("delivered", "read")
    assert message.history.filter(detail__contains="worker stopped").exists()


def test_a_message_accepted_while_no_worker_runs_is_sent_when_one_starts(stack: Stack) -> None:
    api_key, headers = _create_tenant_and_node(stack)
    device_id = _connected_device(stack, api_key, headers)
    stack.kill("worker")
    try:
        accepted = requests.post(
            f"{stack.web_url}/api/v1/messages/text",
            json={"device_id": device_id, "to": "6281299990003", "text": "Pesanan dikirim"},
            headers=headers,
            timeout=30,
        ).json()
        time.sleep(1)
        assert Message.objects.get(pk=accepted["message_id"]).status == "pending"
    finally:
        stack.start_worker()
        stack.wait_for_worker()
    wait_until(
        lambda: Message.objects.get(pk=accepted["message_id"]).status == "read",
        timeout=30,
        what="the queued message to be read",
    )
