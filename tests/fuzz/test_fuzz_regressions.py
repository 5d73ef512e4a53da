"""Bugs the API fuzzer found, pinned: each was a 500 and is now a clear 4xx naming the field."""

from __future__ import annotations

from typing import Any

from messaging.models import AutoReplyRule, Message
from tests.conftest import Actor


def _contact(device: Any, note: Any) -> dict[str, Any]:
    return {
        "device_id": str(device.pk),
        "to": "081234567890",
        "contact_name": "Budi",
        "contact_phone": "081234567891",
        "note": note,
    }


def test_a_nul_character_in_an_unknown_field_of_a_send_is_a_400_naming_it(
    alice: Actor, make_device: Any
) -> None:
    # PostgreSQL cannot store U+0000; the body is kept as sent (original_payload_json), so it used to 500.
    device = make_device(alice, connected=True)

    response = alice.api.post(
        "/api/v1/messages/contact", _contact(device, {"x\u0000": "a\u0000b"}), format="json"
    )

    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["code"] == "VALIDATION_ERROR"
    assert error["message"] == "note: NUL characters (\\u0000) are not allowed."
    assert error["details"] == {"note": ["NUL characters (\\u0000) are not allowed."]}
    assert not Message.objects.filter(tenant=alice.tenant).exists()


def test_a_nul_character_in_a_batch_item_is_a_400_not_a_500(alice: Actor, make_device: Any) -> None:
    device = make_device(alice, connected=True)
    items = [
        {"type": "text", "device_id": str(device.pk), "to": "081234567890", "text": "Halo"},
        {"type": "text", "device_id": str(device.pk), "to": "081234567890", "text": "Hi", "tag": "\u0000"},
    ]

    response = alice.api.post("/api/v1/messages/batch", items, format="json")

    assert response.status_code == 400, response.content
    assert response.json()["error"]["details"] == {"tag": ["NUL characters (\\u0000) are not allowed."]}
    assert not Message.objects.filter(tenant=alice.tenant).exists()


def test_the_same_send_without_the_nul_character_is_accepted(alice: Actor, make_device: Any) -> None:
    device = make_device(alice, connected=True)

    response = alice.api.post("/api/v1/messages/contact", _contact(device, {"x": "ab"}), format="json")

    assert response.status_code == 202, response.content
    assert Message.objects.get(tenant=alice.tenant).original_payload_json["note"] == {"x": "ab"}


def test_a_nul_character_in_an_auto_reply_is_a_400_naming_the_reply_field(alice: Actor) -> None:
    body = {"keyword": "harga", "reply": {"type": "text", "text": "Rp 10.000", "extra": "a\u0000"}}

    response = alice.api.post("/api/v1/auto-replies", body, format="json")

    assert response.status_code == 400, response.content
    assert response.json()["error"]["details"] == {
        "reply.extra": ["NUL characters (\\u0000) are not allowed."]
    }
    assert not AutoReplyRule.objects.filter(tenant=alice.tenant).exists()


def test_an_unknown_device_status_filter_is_a_400_naming_it(alice: Actor, make_device: Any) -> None:
    # An undocumented filter the fuzzer could not reach; "\u0000" in it reached PostgreSQL and was a 500.
    make_device(alice, connected=True)

    for bad in ("\u0000", "online"):
        response = alice.api.get("/api/v1/devices", {"status": bad})
        assert response.status_code == 400, response.content
        assert response.json()["error"]["details"] == {
            "status": ["One of: created, pairing, connected, disconnected, logged_out."]
        }
    connected = alice.api.get("/api/v1/devices", {"status": "connected"}).json()["data"]
    assert [d["status"] for d in connected] == ["connected"]
    assert alice.api.get("/api/v1/devices", {"status": "pairing"}).json()["data"] == []
