"""Contacts and auto-reply through real processes: the simulator sends signed GOWA ``message``
webhooks to the running web server, the Celery worker stores them, captures the sender, answers by
keyword through the normal send pipeline, and the simulator receives the reply."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
import requests

from messaging.models import Contact, Message
from webhooks.models import Event

from .conftest import Stack, wait_until
from .test_text_send_end_to_end import _connected_device, _create_tenant_and_node

pytestmark = pytest.mark.e2e


def _setup(stack: Stack, **device_settings: Any) -> tuple[str, dict[str, str], str]:
    api_key, headers = _create_tenant_and_node(stack)
    device_id = _connected_device(stack, api_key, headers)
    changed = requests.patch(
        f"{stack.web_url}/api/v1/devices/{device_id}",
        json={"send_interval_ms": 0, **device_settings},
        headers=headers,
        timeout=30,
    )
    assert changed.status_code == 200, changed.text
    return f"{stack.web_url}/api/v1", headers, device_id


def _inbound(stack: Stack, device_id: str, **message: Any) -> str:
    sent = stack.sim.control("POST", f"/_sim/devices/{device_id}/inbound", json=message)
    return str(sent["results"]["message_id"])


def test_an_inbound_message_makes_a_contact_listed_by_the_api_and_a_contacts_new_event(stack: Stack) -> None:
    api, headers, device_id = _setup(stack)

    _inbound(stack, device_id, **{"from": "6281255550002", "name": "Siti Aminah", "text": "Halo kak"})

    def listed() -> list[dict[str, Any]]:
        response = requests.get(
            f"{api}/devices/{device_id}/contacts", params={"sync": "false"}, headers=headers, timeout=30
        )
        assert response.status_code == 200, response.text
        return list(response.json()["data"])

    [contact] = wait_until(listed, timeout=30, what="the sender to be listed as a contact")
    assert (contact["phone"], contact["name"], contact["source"]) == (
        "6281255550002",
        "Siti Aminah",
        "inbound",
    )
    assert contact["jid"] == "6281255550002@s.whatsapp.net"
    event = Event.objects.get(type="contacts.new")
    assert str(event.device_id) == device_id
    assert event.data["phone"] == "6281255550002" and event.data["name"] == "Siti Aminah"

    _inbound(stack, device_id, **{"from": "6281255550002", "name": "Siti Aminah", "text": "Masih buka?"})
    wait_until(
        lambda: Message.objects.filter(direction="in").count() == 2, timeout=30, what="the second message"
    )
    assert Event.objects.filter(type="contacts.new").count() == 1
    assert Contact.objects.count() == 1


def test_a_keyword_rule_answers_through_the_worker_and_the_simulator_receives_the_reply(
    stack: Stack,
) -> None:
    api, headers, device_id = _setup(stack, auto_reply_enabled=True)
    created = requests.post(
        f"{api}/auto-replies",
        json={"keyword": "harga", "match": "contains", "reply": {"type": "text", "text": "Harga mulai 10rb"}},
        headers=headers,
        timeout=30,
    )
    assert created.status_code == 201, created.text

    inbound_id = _inbound(
        stack, device_id, **{"from": "6281255550001", "name": "Budi", "text": "Berapa HARGA?"}
    )

    def reply() -> dict[str, Any] | None:
        return next((s for s in stack.sim.sent() if s["phone"] == "6281255550001"), None)

    sent = wait_until(reply, timeout=30, what="the simulator to receive the auto-reply")
    wait_until(
        lambda: Message.objects.filter(direction="out", status="read").exists(),
        timeout=30,
        what="the reply's read receipt",
    )
    assert sent["path"] == "/send/message"
    assert sent["fields"]["message"].startswith("Harga mulai 10rb")  # plus the free plan's footer
    assert sent["fields"]["reply_message_id"] == inbound_id
    answer = Message.objects.get(direction="out", recipient="6281255550001")
    # Accepted by the worker that stored the inbound message, then sent by the send task.
    assert [h.status for h in answer.history.order_by("id")] == [
        "pending",
        "sending",
        "sent",
        "delivered",
        "read",
    ]
    assert answer.original_payload_json["auto_reply"]["rule_id"] == created.json()["data"]["id"]

    # The same sender asking again within the minute is not answered twice.
    _inbound(stack, device_id, **{"from": "6281255550001", "text": "harga??"})
    wait_until(
        lambda: Message.objects.filter(direction="in").count() == 2, timeout=30, what="the second message"
    )
    assert Message.objects.filter(direction="out").count() == 1


def test_contacts_sync_from_the_simulators_contact_list_and_the_csv_export(stack: Stack) -> None:
    api, headers, device_id = _setup(stack)
    # The simulated phone learns these contacts while its webhooks are not forwarded to Wavora.
    stack.sim.configure(webhook_events=["message.ack"])
    people = [
        ("6281266660001", "Budi"),
        ("6281266660002", '=HYPERLINK("http://evil.example","klik")'),
        ("6281266660003", "-Toko Kue"),
    ]
    for phone, name in people:
        _inbound(stack, device_id, **{"from": phone, "name": name, "text": "halo"})
    stack.sim.configure(webhook_events=[])
    assert not Contact.objects.exists()

    synced = requests.post(f"{api}/devices/{device_id}/contacts/sync", headers=headers, timeout=30)

    assert synced.status_code == 200, synced.text
    assert synced.json()["data"] == {"total": 3, "created": 3, "updated": 0}
    assert Event.objects.get(type="contacts.sync").data == {"total": 3, "created": 3, "updated": 0}

    exported = requests.get(
        f"{api}/devices/{device_id}/contacts",
        params={"format": "csv", "sync": "false"},
        headers=headers,
        timeout=30,
    )
    assert exported.status_code == 200, exported.text
    assert exported.headers["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(exported.text)))
    assert rows[0] == ["phone", "name", "jid", "source", "first_seen_at", "last_seen_at"]
    by_phone = {row[0]: row for row in rows[1:]}
    assert set(by_phone) == {phone for phone, _ in people}
    assert by_phone["6281266660001"][1:4] == ["Budi", "6281266660001@s.whatsapp.net", "sync"]
    assert by_phone["6281266660002"][1] == '\'=HYPERLINK("http://evil.example","klik")'
    assert by_phone["6281266660003"][1] == "'-Toko Kue"
