"""GOWA retries its webhooks; a duplicate must not become a second catalog event."""

from __future__ import annotations

from typing import Any

from rest_framework.test import APIClient

from messaging.models import GowaEvent, Message
from messaging.tasks import process_gowa_event
from webhooks.models import Event

from .api.helpers import signed_post
from .conftest import Actor


def test_a_duplicate_gowa_message_webhook_produces_one_message_in_event(
    alice: Actor, make_device: Any, django_capture_on_commit_callbacks: Any
) -> None:
    device = make_device(alice, connected=True)
    body = {
        "event": "message",
        "device_id": device.jid,
        "session_id": str(device.pk),
        "payload": {
            "id": "3EB0DUPLICATE0001",
            "chat_id": "6281288880001@s.whatsapp.net",
            "from": "6281288880001@s.whatsapp.net",
            "timestamp": "2026-11-22T10:00:00Z",
            "is_from_me": False,
            "body": "Halo",
        },
    }
    client = APIClient()

    first = signed_post(client, device.node, body)
    again = signed_post(client, device.node, body)
    for stored in GowaEvent.objects.all():
        process_gowa_event.apply(args=(stored.pk,))

    assert first.status_code == again.status_code == 200
    assert again.json()["data"]["duplicate"] is True
    assert Message.objects.filter(direction="in").count() == 1
    events = Event.objects.filter(type="message.in")
    assert events.count() == 1
    assert events.get().data["text"] == "Halo" and events.get().data["from"] == "6281288880001"


def test_an_inbound_text_is_shown_with_its_text_in_the_message_log_and_detail(
    alice: Actor, charlie: Actor, make_device: Any
) -> None:
    device = make_device(alice, connected=True)
    body = {
        "event": "message",
        "device_id": device.jid,
        "session_id": str(device.pk),
        "payload": {
            "id": "3EB0INBOUNDTEXT01",
            "chat_id": "6281288880002@s.whatsapp.net",
            "from": "6281288880002@s.whatsapp.net",
            "timestamp": "2026-11-22T10:00:00Z",
            "is_from_me": False,
            "body": "berapa harga?",
        },
    }
    assert signed_post(APIClient(), device.node, body).status_code == 200
    for stored in GowaEvent.objects.all():
        process_gowa_event.apply(args=(stored.pk,))

    listed = alice.api.get("/api/v1/message-logs?direction=in").json()["data"]
    assert [(m["sender"], m["text"]) for m in listed] == [("6281288880002", "berapa harga?")]
    detail = alice.api.get(f"/api/v1/messages/{listed[0]['id']}")
    assert detail.json()["data"]["text"] == "berapa harga?"
    assert charlie.api.get(f"/api/v1/messages/{listed[0]['id']}").status_code == 404
