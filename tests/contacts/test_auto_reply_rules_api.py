"""``/api/v1/auto-replies``: create, list in evaluation order, read, change, delete; replies checked
like a single send at save time (errors name ``reply.<field>``); scopes and tenant isolation."""

from __future__ import annotations

import io
import uuid
from typing import Any

import pytest
from PIL import Image

from devices.models import Device
from messaging.media import media_store
from messaging.models import AutoReplyRule
from tests.api.helpers import assert_error, assert_ok
from tests.conftest import Actor

RULES = "/api/v1/auto-replies"
PRICE = {"keyword": "harga", "match": "contains", "reply": {"type": "text", "text": "Harga mulai 10rb"}}


def create(actor: Actor, **body: Any) -> Any:
    return actor.api.post(RULES, {**PRICE, **body}, format="json")


def test_a_rule_is_created_with_defaults_and_shown_back(alice: Actor) -> None:
    data = assert_ok(create(alice), 201)

    assert data["keyword"] == "harga" and data["match"] == "contains"
    assert data["reply"] == {"type": "text", "text": "Harga mulai 10rb"}
    assert data["device_id"] is None  # every device of the tenant
    assert (data["enabled"], data["priority"], data["reply_to_groups"]) == (True, 0, False)
    assert data["created_at"].endswith("Z") and data["updated_at"]
    rule = AutoReplyRule.objects.get(pk=data["id"])
    assert rule.tenant_id == alice.tenant.pk


def test_a_rule_for_one_device_with_every_option(alice: Actor, make_device: Any) -> None:
    device = make_device(alice)
    data = assert_ok(
        create(
            alice,
            device_id=str(device.pk),
            keyword="  INFO  ",
            match="exact",
            priority=5,
            enabled=False,
            reply_to_groups=True,
        ),
        201,
    )
    assert data["device_id"] == str(device.pk)
    assert (data["keyword"], data["match"], data["priority"]) == ("INFO", "exact", 5)
    assert (data["enabled"], data["reply_to_groups"]) == (False, True)


@pytest.mark.parametrize(
    "reply",
    [
        {"type": "image", "url": "https://93.184.216.34/promo.png", "caption": "Promo"},
        {"type": "location", "latitude": -6.2, "longitude": 106.8},
        {"type": "contact", "contact_name": "CS", "contact_phone": "6281200000009"},
        {
            "type": "interactive",
            "text": "Pilih",
            "buttons": [{"id": "a", "text": "A"}, {"id": "b", "text": "B"}],
        },
        {"type": "poll", "question": "Ukuran?", "options": ["S", "M", "L"]},
    ],
)
def test_any_single_send_body_can_be_a_reply(alice: Actor, reply: dict[str, Any]) -> None:
    assert assert_ok(create(alice, reply=reply), 201)["reply"] == reply


@pytest.mark.parametrize(
    ("reply", "code", "field"),
    [
        ({"text": "no type"}, "VALIDATION_ERROR", "reply.type"),
        ({"type": "fax", "text": "x"}, "VALIDATION_ERROR", "reply.type"),
        ({"type": "text"}, "VALIDATION_ERROR", "reply.text"),
        ({"type": "text", "text": "   "}, "INVALID_MESSAGE", "reply.text"),
        ({"type": "text", "text": "x", "to": "6281234500001"}, "VALIDATION_ERROR", "reply.to"),
        ({"type": "text", "text": "x", "device_id": "abc"}, "VALIDATION_ERROR", "reply.device_id"),
        ({"type": "image", "caption": "no media"}, "VALIDATION_ERROR", "reply.media"),
        ({"type": "image", "media_id": str(uuid.uuid4())}, "VALIDATION_ERROR", "reply.media_id"),
        ({"type": "image", "url": "http://127.0.0.1/x.png"}, "VALIDATION_ERROR", "reply.url"),
        ({"type": "location", "latitude": 91, "longitude": 0}, "VALIDATION_ERROR", "reply.latitude"),
        (
            {
                "type": "interactive",
                "text": "Pilih",
                "buttons": [{"id": str(i), "text": str(i)} for i in range(4)],
            },
            "BUTTON_LIMIT_EXCEEDED",
            "reply.buttons",
        ),
    ],
)
def test_a_reply_that_would_not_be_a_valid_send_is_refused_naming_its_field(
    alice: Actor, reply: dict[str, Any], code: str, field: str
) -> None:
    error = assert_error(create(alice, reply=reply), 400, code)
    assert field in error["details"], error
    assert error["message"].startswith(field), error
    assert not AutoReplyRule.objects.exists()


def test_the_reply_must_be_an_object(alice: Actor) -> None:
    error = assert_error(create(alice, reply="Harga mulai 10rb"), 400, "VALIDATION_ERROR")
    assert "reply" in error["details"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"keyword": ""}, "keyword"),
        ({"keyword": "x" * 201}, "keyword"),
        ({"match": "regex"}, "match"),
        ({"priority": "high"}, "priority"),
        ({"device_id": "not-a-uuid"}, "device_id"),
    ],
)
def test_invalid_rule_fields_are_400(alice: Actor, body: dict[str, Any], field: str) -> None:
    error = assert_error(create(alice, **body), 400, "VALIDATION_ERROR")
    assert field in error["details"]


def test_a_reply_may_use_the_tenants_own_media_only(alice: Actor, charlie: Actor) -> None:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), (0, 128, 0)).save(buffer, format="PNG")
    media = media_store(tenant=charlie.tenant, content=buffer.getvalue(), filename="p.png", kind="image")
    reply = {"type": "image", "media_id": str(media.pk), "caption": "Katalog"}

    error = assert_error(create(alice, reply=reply), 400, "VALIDATION_ERROR")
    assert "reply.media_id" in error["details"]
    assert assert_ok(create(charlie, reply=reply), 201)["reply"] == reply


def test_the_list_is_in_evaluation_order_and_filters_by_device(alice: Actor, make_device: Any) -> None:
    device = make_device(alice)
    other = make_device(alice, name="Other")
    low = assert_ok(create(alice, keyword="a", priority=1), 201)
    high = assert_ok(create(alice, keyword="b", priority=9, device_id=str(device.pk)), 201)
    tie_old = assert_ok(create(alice, keyword="c", priority=5), 201)
    tie_new = assert_ok(create(alice, keyword="d", priority=5, enabled=False), 201)
    elsewhere = assert_ok(create(alice, keyword="e", priority=3, device_id=str(other.pk)), 201)

    response = alice.api.get(RULES)
    listed = assert_ok(response)
    assert [r["id"] for r in listed] == [high["id"], tie_old["id"], tie_new["id"], elsewhere["id"], low["id"]]
    assert response.json()["meta"]["pagination"]["total"] == 5

    for_device = assert_ok(alice.api.get(RULES, {"device_id": str(device.pk)}))
    assert [r["id"] for r in for_device] == [high["id"], tie_old["id"], tie_new["id"], low["id"]]
    enabled = assert_ok(alice.api.get(RULES, {"enabled": "false"}))
    assert [r["id"] for r in enabled] == [tie_new["id"]]


def test_a_rule_is_read_changed_and_deleted(alice: Actor, make_device: Any) -> None:
    device = make_device(alice)
    rule = assert_ok(create(alice), 201)
    url = f"{RULES}/{rule['id']}"
    assert assert_ok(alice.api.get(url))["id"] == rule["id"]

    changed = assert_ok(
        alice.api.patch(
            url,
            {
                "enabled": False,
                "priority": 7,
                "device_id": str(device.pk),
                "reply": {"type": "text", "text": "Baru"},
            },
            format="json",
        )
    )
    assert (changed["enabled"], changed["priority"], changed["device_id"]) == (False, 7, str(device.pk))
    assert changed["reply"] == {"type": "text", "text": "Baru"}
    assert changed["keyword"] == "harga" and changed["match"] == "contains"  # untouched

    back_to_global = assert_ok(alice.api.patch(url, {"device_id": None}, format="json"))
    assert back_to_global["device_id"] is None

    error = assert_error(
        alice.api.patch(url, {"reply": {"type": "text"}}, format="json"), 400, "VALIDATION_ERROR"
    )
    assert "reply.text" in error["details"]
    assert AutoReplyRule.objects.get().reply == {"type": "text", "text": "Baru"}

    assert assert_ok(alice.api.delete(url)) == {"id": rule["id"]}
    assert not AutoReplyRule.objects.exists()
    assert_error(alice.api.get(url), 404, "NOT_FOUND")


def test_a_team_member_manages_the_teams_rules(alice: Actor, bob: Actor) -> None:
    rule = assert_ok(create(alice), 201)
    assert [r["id"] for r in assert_ok(bob.api.get(RULES))] == [rule["id"]]
    assert_ok(bob.api.patch(f"{RULES}/{rule['id']}", {"priority": 2}, format="json"))


def test_another_tenants_rules_and_devices_are_404(alice: Actor, charlie: Actor, make_device: Any) -> None:
    device = make_device(alice)
    rule = assert_ok(create(alice, device_id=str(device.pk)), 201)
    url = f"{RULES}/{rule['id']}"

    assert assert_ok(charlie.api.get(RULES)) == []
    assert_error(charlie.api.get(url), 404, "NOT_FOUND")
    assert_error(charlie.api.patch(url, {"enabled": False}, format="json"), 404, "NOT_FOUND")
    assert_error(charlie.api.delete(url), 404, "NOT_FOUND")
    assert_error(create(charlie, device_id=str(device.pk)), 404, "DEVICE_NOT_FOUND")
    assert_error(charlie.api.get(RULES, {"device_id": str(device.pk)}), 404, "DEVICE_NOT_FOUND")
    charlie_rule = assert_ok(create(charlie), 201)
    assert_error(alice.api.get(f"{RULES}/{charlie_rule['id']}"), 404, "NOT_FOUND")
    assert_error(alice.api.get(f"{RULES}/not-a-uuid"), 404, "NOT_FOUND")
    assert AutoReplyRule.objects.get(pk=rule["id"]).enabled is True


def test_reading_needs_messages_read_and_writing_needs_autoreply_write(alice: Actor) -> None:
    rule = assert_ok(create(alice), 201)
    reader = alice.client_with(scopes=["messages:read"])
    assert assert_ok(reader.get(RULES))[0]["id"] == rule["id"]
    assert_error(reader.post(RULES, PRICE, format="json"), 403, "FORBIDDEN")
    assert_error(reader.patch(f"{RULES}/{rule['id']}", {"priority": 1}, format="json"), 403, "FORBIDDEN")
    assert_error(reader.delete(f"{RULES}/{rule['id']}"), 403, "FORBIDDEN")
    writer = alice.client_with(scopes=["autoreply:write"])
    assert_error(writer.get(RULES), 403, "FORBIDDEN")
    assert_ok(writer.post(RULES, PRICE, format="json"), 201)


def test_a_key_restricted_to_a_device_manages_only_that_devices_rules(alice: Actor, make_device: Any) -> None:
    mine: Device = make_device(alice)
    other: Device = make_device(alice, name="Other")
    global_rule = assert_ok(create(alice), 201)
    other_rule = assert_ok(create(alice, device_id=str(other.pk)), 201)
    client = alice.client_with(device_ids=[mine.pk])

    assert_error(client.post(RULES, PRICE, format="json"), 403, "FORBIDDEN")  # global
    assert_error(client.post(RULES, {**PRICE, "device_id": str(other.pk)}, format="json"), 403, "FORBIDDEN")
    own = assert_ok(client.post(RULES, {**PRICE, "device_id": str(mine.pk)}, format="json"), 201)
    assert {r["id"] for r in assert_ok(client.get(RULES))} == {global_rule["id"], own["id"]}
    assert_error(client.get(f"{RULES}/{other_rule['id']}"), 404, "NOT_FOUND")
    assert_error(
        client.patch(f"{RULES}/{global_rule['id']}", {"priority": 1}, format="json"), 403, "FORBIDDEN"
    )
    assert_error(
        client.patch(f"{RULES}/{own['id']}", {"device_id": str(other.pk)}, format="json"), 403, "FORBIDDEN"
    )
