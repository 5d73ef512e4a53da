"""``GET /api/v1/devices/{id}/chats`` and ``…/chats/{jid}/messages``: GOWA's chat storage (the simulator,
over HTTP) through our envelope, with our page/page_size mapped to GOWA's limit/offset and its total."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from devices.models import Device
from messaging.models import Message
from messaging.tasks import send_message
from tests.api.helpers import assert_error, assert_ok

CUSTOMERS = ["6281234567801", "6281234567802", "6281234567803"]
BUDI = "6285550001111"


@pytest.fixture
def device(alice: Any, make_device: Any) -> Device:
    return make_device(alice, connected=True, send_interval_ms=0)


def chats_url(device: Device) -> str:
    return f"/api/v1/devices/{device.pk}/chats"


def messages_url(device: Device, jid: str) -> str:
    return f"/api/v1/devices/{device.pk}/chats/{jid}/messages"


def send_text(actor: Any, device: Device, to: str, text: str) -> Message:
    response = actor.api.post(
        "/api/v1/messages/text", {"device_id": str(device.pk), "to": to, "text": text}, format="json"
    )
    assert response.status_code == 202, response.content
    send_message.apply(args=(response.json()["message_id"],))
    message = Message.objects.get(pk=response.json()["message_id"])
    assert message.gowa_message_id
    return message


def inbound(sim: Any, device: Device, sender: str, text: str, name: str = "") -> str:
    body = {"from": sender, "text": text, **({"name": name} if name else {})}
    return str(sim.control("POST", f"/_sim/devices/{device.pk}/inbound", json=body)["results"]["message_id"])


@pytest.fixture
def four_chats(alice: Any, device: Device, sim: Any) -> None:
    for number in CUSTOMERS:
        send_text(alice, device, number, f"Hello {number}")
    inbound(sim, device, BUDI, "Halo kak, stok ada?", name="Budi Santoso")


def pagination(response: Any) -> dict[str, int]:
    return response.json()["meta"]["pagination"]


# --- chats ----------------------------------------------------------------------------------------
def test_chats_list_every_chat_of_the_device_with_gowas_fields(
    alice: Any, device: Device, four_chats: None
) -> None:
    response = alice.api.get(chats_url(device))
    chats = assert_ok(response)
    assert pagination(response) == {"page": 1, "page_size": 20, "total": 4}
    assert {chat["jid"] for chat in chats} == {f"{n}@s.whatsapp.net" for n in [*CUSTOMERS, BUDI]}
    budi = next(chat for chat in chats if chat["jid"] == f"{BUDI}@s.whatsapp.net")
    assert budi["name"] == "Budi Santoso" and budi["archived"] is False
    assert budi["ephemeral_expiration"] == 0
    assert set(budi) == {
        "jid",
        "name",
        "last_message_time",
        "ephemeral_expiration",
        "archived",
        "created_at",
        "updated_at",
    }
    assert budi["last_message_time"].endswith("Z")  # ISO-8601 UTC, like every time we return
    times = [datetime.fromisoformat(chat["last_message_time"]) for chat in chats]
    assert times == sorted(times, reverse=True)  # most recent activity first


def test_chat_pages_map_to_gowas_limit_and_offset(alice: Any, device: Device, four_chats: None) -> None:
    first = alice.api.get(chats_url(device), {"page_size": 3})
    second = alice.api.get(chats_url(device), {"page_size": 3, "page": 2})
    beyond = alice.api.get(chats_url(device), {"page_size": 3, "page": 3})
    assert len(assert_ok(first)) == 3 and len(assert_ok(second)) == 1 and assert_ok(beyond) == []
    assert pagination(second) == {"page": 2, "page_size": 3, "total": 4}
    seen = {chat["jid"] for chat in assert_ok(first) + assert_ok(second)}
    assert len(seen) == 4


def test_chat_search_finds_a_chat_by_name(alice: Any, device: Device, four_chats: None) -> None:
    response = alice.api.get(chats_url(device), {"search": "budi"})
    assert [chat["name"] for chat in assert_ok(response)] == ["Budi Santoso"]
    assert pagination(response)["total"] == 1


def test_a_page_size_above_100_is_capped_at_100(alice: Any, device: Device, four_chats: None) -> None:
    response = alice.api.get(chats_url(device), {"page_size": 500})
    assert len(assert_ok(response)) == 4
    assert pagination(response)["page_size"] == 100


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"page": 0}, "page"),
        ({"page": "two"}, "page"),
        ({"page_size": 0}, "page_size"),
        ({"page_size": "x"}, "page_size"),
    ],
)
def test_bad_paging_values_are_refused_naming_the_field(
    alice: Any, device: Device, query: dict[str, Any], field: str
) -> None:
    for url in (chats_url(device), messages_url(device, CUSTOMERS[0])):
        error = assert_error(alice.api.get(url, query), 400, "VALIDATION_ERROR")
        assert field in error["details"], error


# --- messages of a chat ---------------------------------------------------------------------------
def test_chat_messages_take_a_phone_in_any_format_and_list_newest_first(
    alice: Any, device: Device, sim: Any
) -> None:
    first = send_text(alice, device, BUDI, "Selamat pagi")
    reply_id = inbound(sim, device, BUDI, "Pagi juga", name="Budi Santoso")
    for jid in (BUDI, "0855-5000-1111", "+62 855 5000 1111", f"{BUDI}@s.whatsapp.net"):
        response = alice.api.get(messages_url(device, jid))
        rows = assert_ok(response)
        assert pagination(response) == {"page": 1, "page_size": 20, "total": 2}, jid
        assert {row["id"] for row in rows} == {first.gowa_message_id, reply_id}
    by_id = {row["id"]: row for row in rows}
    mine, theirs = by_id[first.gowa_message_id], by_id[reply_id]
    assert mine["is_from_me"] is True and mine["content"].startswith("Selamat pagi")
    assert theirs["is_from_me"] is False and theirs["content"] == "Pagi juga"
    assert theirs["sender_jid"] == f"{BUDI}@s.whatsapp.net" and theirs["chat_jid"] == f"{BUDI}@s.whatsapp.net"
    assert theirs["sender_display_name"] == "Budi Santoso"
    assert theirs["media_type"] is None and theirs["reactions"] == []
    assert theirs["timestamp"].endswith("Z")
    stamps = [row["timestamp"] for row in rows]
    assert stamps == sorted(stamps, reverse=True)


def test_chat_messages_are_paged(alice: Any, device: Device) -> None:
    for n in range(3):
        send_text(alice, device, BUDI, f"Pesan {n}")
    first = alice.api.get(messages_url(device, BUDI), {"page_size": 2})
    second = alice.api.get(messages_url(device, BUDI), {"page_size": 2, "page": 2})
    assert len(assert_ok(first)) == 2 and len(assert_ok(second)) == 1
    assert pagination(second) == {"page": 2, "page_size": 2, "total": 3}
    assert {r["id"] for r in assert_ok(first)}.isdisjoint({r["id"] for r in assert_ok(second)})


def test_a_chat_gowa_has_not_stored_is_an_empty_page(alice: Any, device: Device) -> None:
    response = alice.api.get(messages_url(device, "6289999999999"))
    assert assert_ok(response) == [] and pagination(response)["total"] == 0


def test_an_invalid_chat_is_an_invalid_phone_naming_jid(alice: Any, device: Device) -> None:
    error = assert_error(alice.api.get(messages_url(device, "12ab")), 400, "INVALID_PHONE")
    assert "jid" in error["details"]


# --- who may read ---------------------------------------------------------------------------------
def test_another_tenants_device_is_not_found(
    alice: Any, charlie: Any, device: Device, four_chats: None
) -> None:
    assert_error(charlie.api.get(chats_url(device)), 404, "DEVICE_NOT_FOUND")
    assert_error(charlie.api.get(messages_url(device, BUDI)), 404, "DEVICE_NOT_FOUND")
    assert_error(alice.api.get("/api/v1/devices/not-a-uuid/chats"), 404, "DEVICE_NOT_FOUND")


def test_a_team_member_reads_the_teams_chats(bob: Any, device: Device, four_chats: None) -> None:
    assert len(assert_ok(bob.api.get(chats_url(device)))) == 4


def test_chats_need_the_messages_read_scope(alice: Any, device: Device) -> None:
    devices_only = alice.client_with(scopes=["devices:read"])
    assert_error(devices_only.get(chats_url(device)), 403, "FORBIDDEN")
    assert_error(devices_only.get(messages_url(device, BUDI)), 403, "FORBIDDEN")


def test_a_key_restricted_to_another_device_cannot_read_its_chats(
    alice: Any, device: Device, make_device: Any
) -> None:
    other = make_device(alice, name="Other phone")
    restricted = alice.client_with(device_ids=[other.pk])
    assert_error(restricted.get(chats_url(device)), 403, "FORBIDDEN")


def test_searching_a_chat_pages_through_the_matches_only(alice: Any, device: Device, sim: Any) -> None:
    for n in range(3):
        send_text(alice, device, BUDI, f"Promo {n}")
    inbound(sim, device, BUDI, "Kapan kirim?")
    first = alice.api.get(messages_url(device, BUDI), {"search": "promo", "page_size": 2})
    second = alice.api.get(messages_url(device, BUDI), {"search": "promo", "page_size": 2, "page": 2})
    assert pagination(first) == {"page": 1, "page_size": 2, "total": 3}
    assert pagination(second) == {"page": 2, "page_size": 2, "total": 3}
    rows = assert_ok(first) + assert_ok(second)
    assert len(rows) == 3 and len({row["id"] for row in rows}) == 3
    assert all(row["content"].startswith("Promo") for row in rows)
