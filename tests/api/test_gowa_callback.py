"""GOWA → Wavora: ``POST /webhooks/gowa/{node_id}/`` is verified over the raw body, stored raw once, and
processed in Celery (here: the task applied in-process)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from rest_framework.test import APIClient

from devices.models import Device
from messaging.models import GowaEvent, Message
from messaging.tasks import process_gowa_event, send_message
from tests.conftest import SIM_PASSWORD, SIM_USER
from tests.factories import GowaNodeFactory

from .helpers import assert_error, gowa_signature, signed_post

PHONE = "6281200000001"
JID = f"{PHONE}@s.whatsapp.net"


@pytest.fixture
def client() -> APIClient:
    return APIClient()


def ack(
    device: Device, gowa_ids: list[str], receipt: str, timestamp: str = "2026-01-05T10:00:00Z", **extra: Any
) -> dict[str, Any]:
    """A receipt exactly as GOWA v9 sends it (see shared/gowa/webhook-payload.md)."""
    body = {
        "event": "message.ack",
        "timestamp": timestamp,
        "device_id": JID,
        "session_id": str(device.pk),
        "payload": {
            "ids": gowa_ids,
            "chat_id": "6281234567890@s.whatsapp.net",
            "from": "6281234567890@s.whatsapp.net",
            "receipt_type": receipt,
            "receipt_type_description": "…",
        },
    }
    body.update(extra)
    return body


def process(event_id: int) -> GowaEvent:
    process_gowa_event.apply(args=(event_id,))
    return GowaEvent.objects.get(pk=event_id)


@pytest.fixture
def sent_message(alice: Any, make_device: Any) -> Message:
    """A message Alice sent and GOWA accepted (worker path), ready to receive receipts."""
    device = make_device(alice, connected=True, phone=PHONE, send_interval_ms=0)
    response = alice.api.post(
        "/api/v1/messages/text",
        {"device_id": str(device.pk), "to": "6281234567890", "text": "Hi"},
        format="json",
    )
    assert response.status_code == 202, response.content
    send_message.apply(args=(response.json()["message_id"],))
    message = Message.objects.select_related("device").get(pk=response.json()["message_id"])
    assert message.status == Message.Status.SENT and message.gowa_message_id
    return message


# --- verification and storage ---------------------------------------------------------------------
def test_correctly_signed_event_is_stored_and_answered_200(
    client: APIClient, gowa_node: Any, django_capture_on_commit_callbacks: Any
) -> None:
    body = {"event": "message", "device_id": JID, "payload": {"id": "3A0001", "body": "hello"}}
    raw = json.dumps(body).encode()
    with django_capture_on_commit_callbacks() as callbacks:
        response = client.post(
            f"/webhooks/gowa/{gowa_node.pk}/",
            data=raw,
            content_type="application/json",
            HTTP_X_HUB_SIGNATURE_256=gowa_signature(gowa_node.webhook_secret, raw),
        )
    assert response.status_code == 200, response.content
    reply = response.json()
    assert reply["success"] is True and reply["data"]["duplicate"] is False
    event = GowaEvent.objects.get()
    assert reply["data"]["id"] == event.pk
    assert event.node_id == gowa_node.pk
    assert event.event == "message" and event.device_jid == JID
    assert event.payload == body
    assert event.status == GowaEvent.Status.RECEIVED
    assert len(callbacks) == 1  # processing is enqueued after commit


@pytest.mark.parametrize(
    "signature",
    [
        None,
        "",
        "sha256=",
        "sha256=" + "0" * 64,
        "md5=abc",
    ],
)
def test_bad_or_missing_signature_is_401_and_nothing_is_stored(
    client: APIClient, gowa_node: Any, signature: str | None
) -> None:
    raw = json.dumps({"event": "message", "payload": {"id": "3A0002"}}).encode()
    headers: dict[str, Any] = {} if signature is None else {"HTTP_X_HUB_SIGNATURE_256": signature}
    response = client.post(
        f"/webhooks/gowa/{gowa_node.pk}/", data=raw, content_type="application/json", **headers
    )
    assert_error(response, 401, "UNAUTHORIZED")
    assert not GowaEvent.objects.exists()


def test_signature_made_with_another_secret_or_over_another_body_is_401(
    client: APIClient, gowa_node: Any
) -> None:
    body = {"event": "message", "payload": {"id": "3A0003"}}
    assert_error(signed_post(client, gowa_node, body, secret="not-the-node-secret"), 401, "UNAUTHORIZED")
    raw = json.dumps(body).encode()
    tampered = raw.replace(b"3A0003", b"3A0004")
    response = client.post(
        f"/webhooks/gowa/{gowa_node.pk}/",
        data=tampered,
        content_type="application/json",
        HTTP_X_HUB_SIGNATURE_256=gowa_signature(gowa_node.webhook_secret, raw),
    )
    assert_error(response, 401, "UNAUTHORIZED")
    assert not GowaEvent.objects.exists()


def test_another_nodes_secret_does_not_open_this_node(client: APIClient, gowa_node: Any) -> None:
    other = GowaNodeFactory.create(name="other-node")
    response = signed_post(
        client, gowa_node, {"event": "message", "payload": {"id": "x"}}, secret=other.webhook_secret
    )
    assert_error(response, 401, "UNAUTHORIZED")
    assert not GowaEvent.objects.exists()


def test_unknown_node_is_404(client: APIClient, gowa_node: Any) -> None:
    body = {"event": "message", "payload": {"id": "3A0005"}}
    raw = json.dumps(body).encode()
    response = client.post(
        f"/webhooks/gowa/{gowa_node.pk + 1000}/",
        data=raw,
        content_type="application/json",
        HTTP_X_HUB_SIGNATURE_256=gowa_signature(gowa_node.webhook_secret, raw),
    )
    assert_error(response, 404, "NOT_FOUND")
    assert not GowaEvent.objects.exists()


def test_non_json_body_with_a_valid_signature_is_400(client: APIClient, gowa_node: Any) -> None:
    assert_error(signed_post(client, gowa_node, b"event=message&id=1"), 400, "VALIDATION_ERROR")
    assert_error(signed_post(client, gowa_node, b"\xff\xfe\x00"), 400, "VALIDATION_ERROR")
    assert_error(signed_post(client, gowa_node, [1, 2, 3]), 400, "VALIDATION_ERROR")
    assert_error(signed_post(client, gowa_node, {"payload": {}}), 400, "VALIDATION_ERROR")
    assert not GowaEvent.objects.exists()


def test_the_same_event_twice_is_stored_and_processed_once(
    client: APIClient, gowa_node: Any, django_capture_on_commit_callbacks: Any
) -> None:
    body = {"event": "message", "device_id": JID, "payload": {"id": "3A0006", "body": "hello"}}
    with django_capture_on_commit_callbacks() as callbacks:
        first = signed_post(client, gowa_node, body)
        second = signed_post(client, gowa_node, body)
    assert first.status_code == second.status_code == 200
    assert first.json()["data"]["duplicate"] is False
    assert second.json()["data"] == {"id": first.json()["data"]["id"], "duplicate": True}
    assert GowaEvent.objects.count() == 1
    assert len(callbacks) == 1


def test_duplicate_receipt_is_recognised_even_with_another_timestamp(
    client: APIClient, gowa_node: Any, sent_message: Message
) -> None:
    device = sent_message.device
    first = signed_post(
        client,
        gowa_node,
        ack(device, [sent_message.gowa_message_id], "delivered", timestamp="2026-01-05T10:00:00Z"),
    )
    retry = signed_post(
        client,
        gowa_node,
        ack(device, [sent_message.gowa_message_id], "delivered", timestamp="2026-01-05T10:00:07Z"),
    )
    assert retry.json()["data"] == {"id": first.json()["data"]["id"], "duplicate": True}
    assert GowaEvent.objects.count() == 1


# --- processing -----------------------------------------------------------------------------------
def test_receipts_move_a_sent_message_to_delivered_then_read(
    client: APIClient, gowa_node: Any, alice: Any, sent_message: Message
) -> None:
    device = sent_message.device
    delivered = signed_post(
        client,
        gowa_node,
        ack(device, [sent_message.gowa_message_id], "delivered", timestamp="2026-01-05T10:00:01Z"),
    )
    event = process(delivered.json()["data"]["id"])
    assert event.status == GowaEvent.Status.PROCESSED and event.processed_at is not None
    message = Message.objects.get(pk=sent_message.pk)
    assert message.status == Message.Status.DELIVERED
    assert message.delivered_at is not None and message.delivered_at.isoformat().startswith(
        "2026-01-05T10:00:01"
    )

    read = signed_post(
        client,
        gowa_node,
        ack(device, [sent_message.gowa_message_id], "read", timestamp="2026-01-05T10:00:09Z"),
    )
    process(read.json()["data"]["id"])
    message = Message.objects.get(pk=sent_message.pk)
    assert message.status == Message.Status.READ and message.read_at is not None

    data = alice.api.get(f"/api/v1/messages/{sent_message.pk}").json()["data"]
    assert [h["status"] for h in data["history"]] == ["pending", "sending", "sent", "delivered", "read"]
    stats = alice.api.get(f"/api/v1/devices/{device.pk}").json()["data"]["stats"]
    assert (stats["sent"], stats["delivered"], stats["read"]) == (1, 1, 1)


def test_a_late_delivered_receipt_never_moves_a_read_message_back(
    client: APIClient, gowa_node: Any, sent_message: Message
) -> None:
    device = sent_message.device
    read = signed_post(client, gowa_node, ack(device, [sent_message.gowa_message_id], "read"))
    process(read.json()["data"]["id"])
    message = Message.objects.get(pk=sent_message.pk)
    assert message.status == Message.Status.READ
    assert message.delivered_at is not None  # reading implies delivery
    history = list(message.history.values_list("status", flat=True))

    late = signed_post(client, gowa_node, ack(device, [sent_message.gowa_message_id], "delivered"))
    event = process(late.json()["data"]["id"])
    assert event.status == GowaEvent.Status.PROCESSED
    message = Message.objects.get(pk=sent_message.pk)
    assert message.status == Message.Status.READ
    assert list(message.history.values_list("status", flat=True)) == history
    assert Device.objects.get(pk=device.pk).messages_delivered == 1


def test_receipt_found_by_the_device_jid_when_there_is_no_session_id(
    client: APIClient, gowa_node: Any, sent_message: Message
) -> None:
    body = ack(sent_message.device, [sent_message.gowa_message_id], "delivered")
    del body["session_id"]
    body["device_id"] = f"{PHONE}:17@s.whatsapp.net"  # the AD form with the companion suffix
    process(signed_post(client, gowa_node, body).json()["data"]["id"])
    assert Message.objects.get(pk=sent_message.pk).status == Message.Status.DELIVERED


def test_a_node_cannot_move_messages_of_a_device_on_another_node(
    client: APIClient, sent_message: Message, sim: Any
) -> None:
    intruder = GowaNodeFactory.create(
        name="intruder", base_url=sim.base_url, basic_auth_username=SIM_USER, basic_auth_password=SIM_PASSWORD
    )
    response = signed_post(client, intruder, ack(sent_message.device, [sent_message.gowa_message_id], "read"))
    event = process(response.json()["data"]["id"])
    assert event.status == GowaEvent.Status.IGNORED
    assert Message.objects.get(pk=sent_message.pk).status == Message.Status.SENT


def test_unknown_event_types_are_stored_and_marked_ignored(
    client: APIClient, gowa_node: Any, sent_message: Message
) -> None:
    body = {
        "event": "call.offer",
        "timestamp": "2026-01-05T10:00:00Z",
        "device_id": JID,
        "session_id": str(sent_message.device.pk),
        "payload": {"id": "CALL01", "from": "6281234567890"},
    }
    response = signed_post(client, gowa_node, body)
    assert response.status_code == 200
    event = process(response.json()["data"]["id"])
    assert event.status == GowaEvent.Status.IGNORED and event.processed_at is not None
    assert event.payload == body
    assert Message.objects.get(pk=sent_message.pk).status == Message.Status.SENT


def test_events_for_an_unknown_device_are_ignored(client: APIClient, gowa_node: Any) -> None:
    body = {
        "event": "message.ack",
        "device_id": "6289999999999@s.whatsapp.net",
        "payload": {"ids": ["3EB0AAAA"], "receipt_type": "read"},
    }
    event = process(signed_post(client, gowa_node, body).json()["data"]["id"])
    assert event.status == GowaEvent.Status.IGNORED
    assert "unknown device" in event.error


def test_processing_an_event_twice_applies_it_once(
    client: APIClient, gowa_node: Any, sent_message: Message
) -> None:
    response = signed_post(
        client, gowa_node, ack(sent_message.device, [sent_message.gowa_message_id], "delivered")
    )
    event_id = response.json()["data"]["id"]
    process(event_id)
    process(event_id)  # e.g. the sweeper re-enqueued it, or Celery redelivered it
    assert Device.objects.get(pk=sent_message.device_id).messages_delivered == 1
    assert Message.objects.get(pk=sent_message.pk).history.filter(status="delivered").count() == 1


def test_an_event_with_a_nul_character_is_still_stored(gowa_node: Any) -> None:
    # WhatsApp text may carry U+0000; GOWA forwards it JSON-escaped. PostgreSQL jsonb cannot hold it, and a
    # 500 here means GOWA gives up after ~30 s of retries and the event is lost.
    client = APIClient(raise_request_exception=False)
    body = {"event": "message", "device_id": JID, "payload": {"id": "3A00NUL", "body": "a\u0000b"}}
    response = signed_post(client, gowa_node, body)
    assert response.status_code == 200, response.content
    event = GowaEvent.objects.get()
    assert event.payload["payload"]["id"] == "3A00NUL"
    assert event.payload["payload"]["body"].startswith("a") and event.payload["payload"]["body"].endswith("b")


def test_a_malformed_receipt_is_finished_not_left_for_the_sweeper_forever(
    client: APIClient, gowa_node: Any, sent_message: Message
) -> None:
    # Signed, but "payload" is not an object. Left in "received", the sweeper re-enqueues it every minute.
    body = ack(sent_message.device, [sent_message.gowa_message_id], "read")
    body["payload"] = [sent_message.gowa_message_id]
    event = process(signed_post(client, gowa_node, body).json()["data"]["id"])
    assert event.status in (GowaEvent.Status.FAILED, GowaEvent.Status.IGNORED)
    assert Message.objects.get(pk=sent_message.pk).status == Message.Status.SENT
