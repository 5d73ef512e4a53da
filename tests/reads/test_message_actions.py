"""``POST /api/v1/messages/{id}/revoke|react|read``: the action reaches GOWA (the simulator, over HTTP) for
the right chat, is recorded in the message's history, and is refused with a clear code when it cannot
work."""

from __future__ import annotations

from typing import Any

import pytest

from devices.models import Device
from devices.services import device_sync_from_gowa
from messaging.actions import is_single_emoji
from messaging.models import Message
from messaging.tasks import send_message
from tests.api.helpers import assert_error, assert_ok

TO = "6281234567890"
CUSTOMER = "6285550001111"


@pytest.fixture
def device(alice: Any, make_device: Any) -> Device:
    return make_device(alice, connected=True, send_interval_ms=0)


def accept_text(actor: Any, device: Device, to: str = TO) -> str:
    response = actor.api.post(
        "/api/v1/messages/text", {"device_id": str(device.pk), "to": to, "text": "Hello"}, format="json"
    )
    assert response.status_code == 202, response.content
    return str(response.json()["message_id"])


def sent_message(actor: Any, device: Device, to: str = TO) -> Message:
    """Accepted by the API, then handed to GOWA by the worker (in-process): it now has a WhatsApp id."""
    message_id = accept_text(actor, device, to)
    send_message.apply(args=(message_id,))
    message = Message.objects.get(pk=message_id)
    assert message.status == Message.Status.SENT and message.gowa_message_id, message
    return message


def received_message(sim: Any, device: Device, sender: str = CUSTOMER) -> Message:
    """A customer writes to the device (on the simulated phone) and we hold that message."""
    gowa_id = sim.control("POST", f"/_sim/devices/{device.pk}/inbound", json={"from": sender, "text": "Hi!"})[
        "results"
    ]["message_id"]
    return Message.objects.create(
        tenant=device.tenant,
        device=device,
        direction=Message.Direction.IN,
        sender=sender,
        recipient=device.phone,
        status=Message.Status.RECEIVED,
        gowa_message_id=gowa_id,
    )


def action(actor: Any, message: Message | str, name: str, body: Any = None, client: Any = None) -> Any:
    pk = message.pk if isinstance(message, Message) else message
    return (client or actor.api).post(f"/api/v1/messages/{pk}/{name}", body or {}, format="json")


def gowa_calls(sim: Any, path_end: str) -> list[dict[str, Any]]:
    return [
        call
        for call in sim.sent()
        if call["path"].startswith("/message/") and call["path"].endswith(path_end)
    ]


# --- revoke ---------------------------------------------------------------------------------------
def test_revoke_deletes_for_everyone_in_the_recipients_chat_and_is_recorded(
    alice: Any, device: Device, sim: Any
) -> None:
    message = sent_message(alice, device)
    data = assert_ok(action(alice, message, "revoke"))

    [call] = gowa_calls(sim, "/revoke")
    assert call["path"] == f"/message/{message.gowa_message_id}/revoke"
    assert call["device_id"] == str(device.pk) and call["phone"] == TO
    assert data["id"] == str(message.pk)
    assert data["status"] == "sent"  # the delivery status does not move
    assert data["history"][-1]["detail"] == "revoked"
    assert message.history.filter(detail="revoked").count() == 1


def test_a_revoked_message_cannot_be_acted_on_again(alice: Any, device: Device, sim: Any) -> None:
    message = sent_message(alice, device)
    assert_ok(action(alice, message, "revoke"))
    calls = len(sim.sent())
    assert_error(action(alice, message, "revoke"), 400, "INVALID_MESSAGE")
    assert_error(action(alice, message, "react", {"emoji": "👍"}), 400, "INVALID_MESSAGE")
    assert len(sim.sent()) == calls


# --- react ----------------------------------------------------------------------------------------
def test_react_sends_the_emoji_and_an_empty_emoji_removes_it(alice: Any, device: Device, sim: Any) -> None:
    message = sent_message(alice, device)
    data = assert_ok(action(alice, message, "react", {"emoji": "👍"}))
    assert data["history"][-1]["detail"] == "reaction 👍"
    [call] = gowa_calls(sim, "/reaction")
    assert call["path"] == f"/message/{message.gowa_message_id}/reaction"
    assert call["phone"] == TO and call["fields"]["emoji"] == "👍"

    # The reaction is on the message in the device's chat history.
    chat = assert_ok(alice.api.get(f"/api/v1/devices/{device.pk}/chats/{TO}/messages"))
    reacted = next(row for row in chat if row["id"] == message.gowa_message_id)
    assert [(r["emoji"], r["is_from_me"]) for r in reacted["reactions"]] == [("👍", True)]

    data = assert_ok(action(alice, message, "react", {"emoji": ""}))
    assert data["history"][-1]["detail"] == "reaction removed"
    assert gowa_calls(sim, "/reaction")[-1]["fields"]["emoji"] == ""
    chat = assert_ok(alice.api.get(f"/api/v1/devices/{device.pk}/chats/{TO}/messages"))
    assert next(row for row in chat if row["id"] == message.gowa_message_id)["reactions"] == []


@pytest.mark.parametrize("emoji", ["hello", "👍👍", " 👍", "a", "1", "👍 ", "👍\n"])
def test_react_refuses_anything_but_one_emoji(alice: Any, device: Device, sim: Any, emoji: str) -> None:
    message = sent_message(alice, device)
    error = assert_error(action(alice, message, "react", {"emoji": emoji}), 400, "VALIDATION_ERROR")
    assert "emoji" in error["details"]
    assert gowa_calls(sim, "/reaction") == []


def test_react_needs_the_emoji_field(alice: Any, device: Device) -> None:
    message = sent_message(alice, device)
    error = assert_error(action(alice, message, "react", {}), 400, "VALIDATION_ERROR")
    assert "emoji" in error["details"]


@pytest.mark.parametrize("emoji", ["👍", "❤️", "👍🏽", "👨‍👩‍👧‍👦", "🏳️‍🌈", "🇮🇩", "1️⃣", "🙏", "😂"])
def test_single_emoji_of_every_shape_are_accepted(emoji: str) -> None:
    assert is_single_emoji(emoji)


# --- read -----------------------------------------------------------------------------------------
def test_read_sends_the_read_receipt_in_the_senders_chat(alice: Any, device: Device, sim: Any) -> None:
    incoming = received_message(sim, device)
    data = assert_ok(action(alice, incoming, "read"))
    [call] = gowa_calls(sim, "/read")
    assert call["path"] == f"/message/{incoming.gowa_message_id}/read"
    assert call["phone"] == CUSTOMER and call["device_id"] == str(device.pk)
    assert data["direction"] == "in" and data["status"] == "received"
    assert data["history"][-1]["detail"] == "marked as read"


# --- refusals -------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["revoke", "react", "read"])
def test_a_message_without_a_whatsapp_id_yet_is_refused(
    alice: Any, device: Device, sim: Any, name: str
) -> None:
    pending = accept_text(alice, device)  # accepted, not yet sent by a worker
    error = assert_error(action(alice, pending, name, {"emoji": "👍"}), 400, "INVALID_MESSAGE")
    assert error["details"]["message_status"] == "pending"
    assert "no WhatsApp id" in error["message"]
    assert sim.sent() == []


def test_a_device_that_is_not_connected_is_refused_with_409(alice: Any, device: Device, sim: Any) -> None:
    message = sent_message(alice, device)
    sim.control("POST", f"/_sim/devices/{device.pk}/logout")
    device_sync_from_gowa(device=device)
    calls = len(sim.sent())
    error = assert_error(action(alice, message, "revoke"), 409, "DEVICE_NOT_CONNECTED")
    assert error["details"]["device_status"] != "connected"
    assert len(sim.sent()) == calls


def test_gowa_refusals_are_mapped_to_our_codes(alice: Any, device: Device, sim: Any) -> None:
    message = sent_message(alice, device)
    # WhatsApp says the chat's number is not on WhatsApp (any more): GOWA's INVALID_JID.
    sim.control("POST", "/_sim/not-on-whatsapp", json={"phones": [TO]})
    assert_error(action(alice, message, "read"), 400, "INVALID_PHONE")
    # The session ended on the phone but we have not heard yet: GOWA answers 401, we say 409.
    sim.control("POST", f"/_sim/devices/{device.pk}/logout")
    assert_error(action(alice, message, "revoke"), 409, "DEVICE_NOT_CONNECTED")
    assert not message.history.filter(detail="revoked").exists()


# --- who may act ----------------------------------------------------------------------------------
def test_another_tenants_message_is_not_found(alice: Any, charlie: Any, device: Device, sim: Any) -> None:
    message = sent_message(alice, device)
    calls = len(sim.sent())
    for name in ("revoke", "react", "read"):
        assert_error(action(charlie, message, name, {"emoji": "👍"}), 404, "NOT_FOUND")
    assert_error(action(alice, "not-a-uuid", "revoke"), 404, "NOT_FOUND")
    assert len(sim.sent()) == calls
    assert not message.history.filter(detail="revoked").exists()


def test_a_team_member_may_act_on_the_teams_messages(alice: Any, bob: Any, device: Device) -> None:
    message = sent_message(alice, device)
    assert assert_ok(action(bob, message, "react", {"emoji": "🙏"}))["history"][-1]["detail"] == "reaction 🙏"


def test_actions_need_the_messages_send_scope(alice: Any, device: Device, sim: Any) -> None:
    message = sent_message(alice, device)
    reader = alice.client_with(scopes=["messages:read"])
    assert_error(action(alice, message, "revoke", client=reader), 403, "FORBIDDEN")
    assert gowa_calls(sim, "/revoke") == []


def test_a_key_restricted_to_another_device_cannot_act(alice: Any, device: Device, make_device: Any) -> None:
    message = sent_message(alice, device)
    other = make_device(alice, name="Other phone")
    restricted = alice.client_with(device_ids=[other.pk])
    assert_error(action(alice, message, "revoke", client=restricted), 403, "FORBIDDEN")
