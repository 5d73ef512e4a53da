"""Auto-reply on inbound messages: which rule answers (keyword, match, priority, device or global),
when nobody is answered (toggle off, groups, our own numbers, menu replies, rate limit), and that
the reply is an ordinary send — footer, quota, quoting the inbound message, delivered by the worker."""

from __future__ import annotations

from typing import Any
from unittest import mock

import pytest

from billing.models import Plan
from devices.models import Device
from messaging import autoreply
from messaging.models import AutoReplyRule, Message
from messaging.tasks import send_message
from tests.conftest import Actor, Simulator

from .conftest import CUSTOMER, inbound


def rule(
    actor: Actor,
    keyword: str = "harga",
    text: str = "Harga mulai 10rb",
    device: Device | None = None,
    **options: Any,
) -> AutoReplyRule:
    return autoreply.rule_create(
        tenant=actor.tenant, device=device, keyword=keyword, reply={"type": "text", "text": text}, **options
    )


@pytest.fixture
def device(alice: Actor, make_device: Any) -> Device:
    return make_device(alice, connected=True, send_interval_ms=0, auto_reply_enabled=True)


def replies() -> list[Message]:
    return list(Message.objects.filter(direction="out").order_by("created_at"))


def reply_text(message: Message) -> str:
    return str(message.original_payload_json["text"])


# --- matching --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("match", "text", "answered"),
    [
        ("contains", "Berapa HARGA?", True),
        ("contains", "harga", True),
        ("contains", "harganya berapa", True),
        ("contains", "berapa biayanya", False),
        ("exact", "  Harga  ", True),
        ("exact", "HARGA", True),
        ("exact", "harga?", False),
        ("exact", "berapa harga", False),
    ],
)
def test_keywords_match_case_insensitively_exact_or_contained(
    alice: Actor, device: Device, match: str, text: str, answered: bool
) -> None:
    rule(alice, match=match)
    inbound(device, text)
    assert [reply_text(m) for m in replies()] == (["Harga mulai 10rb"] if answered else [])


def test_the_highest_priority_matching_rule_wins_and_ties_go_to_the_oldest(
    alice: Actor, device: Device
) -> None:
    rule(alice, keyword="harga", text="generic", priority=1)
    rule(alice, keyword="harga", text="old five", priority=5)
    rule(alice, keyword="harga", text="new five", priority=5)
    rule(alice, keyword="ongkir", text="shipping", priority=99)  # higher, but does not match

    inbound(device, "harga berapa?")

    assert [reply_text(m) for m in replies()] == ["old five"]


def test_disabled_rules_and_rules_of_other_devices_do_not_answer(
    alice: Actor, device: Device, make_device: Any
) -> None:
    other = make_device(alice, name="Other")
    rule(alice, text="disabled", priority=9, enabled=False)
    rule(alice, text="other device", priority=8, device=other)
    rule(alice, text="this device", priority=1, device=device)
    rule(alice, text="global", priority=0)

    inbound(device, "harga")

    assert [reply_text(m) for m in replies()] == ["this device"]


def test_a_global_rule_answers_on_every_device_of_the_tenant_only(
    alice: Actor, charlie: Actor, device: Device, make_device: Any
) -> None:
    rule(alice, text="alice global")
    charlies = make_device(charlie, connected=True, phone="6281200000003", auto_reply_enabled=True)

    inbound(charlies, "harga")
    assert replies() == []  # Alice's rules are not Charlie's
    inbound(device, "harga")
    assert [(m.device_id, reply_text(m)) for m in replies()] == [(device.pk, "alice global")]


def test_the_device_toggle_off_means_no_reply(alice: Actor, make_device: Any) -> None:
    quiet = make_device(alice, connected=True, send_interval_ms=0)  # auto_reply_enabled defaults to off
    rule(alice)
    inbound(quiet, "harga")
    assert replies() == []

    quiet.auto_reply_enabled = True
    quiet.save()
    inbound(quiet, "harga")
    assert len(replies()) == 1


def test_messages_without_text_are_not_answered(alice: Actor, device: Device) -> None:
    rule(alice, keyword="a")
    inbound(device, "", location={"degreesLatitude": -6.2, "degreesLongitude": 106.8})
    assert replies() == []


def test_an_image_caption_is_matched_like_text(alice: Actor, device: Device) -> None:
    rule(alice)
    inbound(device, "harga yang ini?", image="statics/media/1-a.jpeg")
    assert len(replies()) == 1


# --- who is never answered -------------------------------------------------------------------
def test_our_own_messages_are_never_answered(alice: Actor, device: Device) -> None:
    rule(alice)
    inbound(device, "harga", is_from_me=True)
    assert not Message.objects.filter(direction="out", original_payload_json__has_key="auto_reply").exists()


def test_group_messages_are_answered_only_by_rules_that_say_so(alice: Actor, device: Device) -> None:
    group = "120363025246125486@g.us"
    rule(alice, text="not in groups", priority=9)
    inbound(device, "harga?", chat=group)
    assert replies() == []

    rule(alice, text="groups welcome", priority=1, reply_to_groups=True)
    inbound(device, "harga?", chat=group)

    [answer] = replies()
    assert reply_text(answer) == "groups welcome"
    assert answer.recipient == group  # answered in the group, quoting the member's message


def test_no_reply_to_a_number_that_is_a_wavora_device_of_any_tenant(
    alice: Actor, charlie: Actor, device: Device, make_device: Any
) -> None:
    make_device(charlie, connected=True, phone="6281299990000")
    rule(alice)

    inbound(device, "harga", sender="6281299990000")
    assert replies() == []
    inbound(device, "harga", sender=CUSTOMER)
    assert len(replies()) == 1


def test_two_wavora_devices_with_rules_do_not_answer_each_other(alice: Actor, make_device: Any) -> None:
    first = make_device(alice, connected=True, phone="6281200000011", auto_reply_enabled=True)
    second = make_device(alice, name="Second", connected=True, phone="6281200000012", auto_reply_enabled=True)
    rule(alice, keyword="halo", text="Halo juga")

    inbound(first, "halo", sender="6281200000012")
    inbound(second, "Halo juga", sender="6281200000011")

    assert replies() == []


def test_the_same_rule_answers_a_sender_at_most_once_per_window(
    alice: Actor, device: Device, settings: Any
) -> None:
    rule(alice, keyword="harga", text="price")
    rule(alice, keyword="ongkir", text="shipping")

    inbound(device, "harga?")
    inbound(device, "harga?? halo??")  # same rule, same sender: rate-limited
    inbound(device, "ongkir?")  # another rule still answers
    inbound(device, "harga?", sender="6281234500002")  # another sender too

    assert sorted(reply_text(m) for m in replies()) == ["price", "price", "shipping"]
    assert settings.AUTO_REPLY_RATE_LIMIT_SECONDS == 60


def test_the_rate_limit_window_expires(alice: Actor, device: Device) -> None:
    rule(alice)
    inbound(device, "harga")
    from wavora.redis import client

    for key in client().scan_iter(f"wv:autoreply:{device.pk}:*"):
        client().delete(key)  # what the window's expiry does
    inbound(device, "harga")
    assert len(replies()) == 2


def test_a_reply_to_an_interactive_menu_is_not_answered_by_keyword(alice: Actor, device: Device) -> None:
    rule(alice, keyword="ya", match="exact", text="keyword answer")
    menu = alice.api.post(
        "/api/v1/messages/interactive",
        {
            "device_id": str(device.pk),
            "to": CUSTOMER,
            "text": "Lanjut?",
            "buttons": [{"id": "yes", "text": "Ya"}, {"id": "no", "text": "Tidak"}],
        },
        format="json",
    )
    assert menu.status_code == 202, menu.content

    answer = inbound(device, "ya")

    assert answer is not None and answer.interaction is not None
    assert [m.type for m in replies()] == ["interactive"]  # only the menu itself


# --- the reply is an ordinary send -----------------------------------------------------------
def test_the_reply_goes_through_the_send_pipeline_quoting_the_message(
    alice: Actor, device: Device, sim: Simulator, django_capture_on_commit_callbacks: Any
) -> None:
    footer = Plan.objects.get(code="free").branding_footer
    rule(alice)
    with (
        mock.patch.object(send_message, "apply_async") as enqueue,
        django_capture_on_commit_callbacks(execute=True),
    ):
        incoming = inbound(device, "Berapa HARGA?")
    assert incoming is not None

    [answer] = replies()
    assert answer.status == "pending" and answer.recipient == CUSTOMER
    assert answer.reply_to_message_id == incoming.gowa_message_id
    assert answer.payload_json == {
        "phone": CUSTOMER,
        "message": "Harga mulai 10rb" + footer,
        "reply_message_id": incoming.gowa_message_id,
    }
    assert answer.original_payload_json["auto_reply"] == {
        "rule_id": str(AutoReplyRule.objects.get().pk),
        "inbound_message_id": str(incoming.pk),
    }
    # Queued for the worker once the inbound message is committed.
    assert [c.args[0] for c in enqueue.call_args_list] == [(str(answer.pk),)]

    send_message.apply(args=(str(answer.pk),))

    answer.refresh_from_db()
    assert answer.status == "sent"
    sent = sim.sent()[-1]
    assert sent["path"] == "/send/message" and sent["phone"] == CUSTOMER
    assert sent["fields"]["reply_message_id"] == incoming.gowa_message_id


def test_a_media_reply_is_sent_as_its_type(alice: Actor, device: Device) -> None:
    autoreply.rule_create(
        tenant=alice.tenant,
        device=None,
        keyword="lokasi",
        reply={"type": "location", "latitude": -6.2, "longitude": 106.816666},
    )
    inbound(device, "Lokasi toko di mana?")
    [answer] = replies()
    assert answer.type == "location"
    assert answer.payload_json["latitude"] == "-6.2"


def test_no_reply_when_the_quota_is_used_up_and_the_inbound_message_is_kept(
    alice: Actor, device: Device
) -> None:
    Plan.objects.filter(code="free").update(message_quota=1)
    rule(alice)
    inbound(device, "harga")
    inbound(device, "harga", sender="6281234500002")

    assert len(replies()) == 1
    assert Message.objects.filter(direction="in").count() == 2


def test_a_broken_rule_loses_neither_the_inbound_message_nor_the_contact(
    alice: Actor, device: Device
) -> None:
    broken = rule(alice)
    AutoReplyRule.objects.filter(pk=broken.pk).update(reply={"type": "text"})  # bypassing validation

    incoming = inbound(device, "harga")

    assert incoming is not None and Message.objects.filter(pk=incoming.pk).exists()
    assert replies() == []
    assert device.contacts.count() == 1
