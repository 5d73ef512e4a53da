"""The auto-replies page: rules listed in the order they are tried, created and edited through
`messaging.autoreply` (keyword, exact/contains, text reply, optional device, priority), enabled or
disabled, deleted; another tenant's rules are not found."""

from __future__ import annotations

import pytest
from django.test import Client

from messaging import autoreply
from messaging.models import AutoReplyRule
from tests.conftest import Actor
from tests.factories import DeviceFactory

from .conftest import field_errors, page_text


def rule_of(actor: Actor, keyword: str = "harga", **fields: object) -> AutoReplyRule:
    return autoreply.rule_create(
        tenant=actor.tenant,
        device=None,
        keyword=keyword,
        reply=fields.pop("reply", {"type": "text", "text": "Harga mulai 10rb"}),
        **fields,  # type: ignore[arg-type]
    )


def test_rules_are_listed_highest_priority_first_for_owners_and_members(
    as_alice: Client, as_bob: Client, alice: Actor, charlie: Actor
) -> None:
    rule_of(alice, "ongkir", priority=1)
    rule_of(alice, "harga", priority=5)
    rule_of(charlie, "rahasia-charlie")
    for client in (as_alice, as_bob):
        response = client.get("/dashboard/auto-replies/")
        html = page_text(response)
        assert [row["rule"].keyword for row in response.context["rules"]] == ["harga", "ongkir"]
        assert "Harga mulai 10rb" in html and "rahasia-charlie" not in html


def test_creating_a_rule_for_one_device(as_bob: Client, alice: Actor) -> None:
    shop = DeviceFactory.create(tenant=alice.tenant, name="Kasir")
    response = as_bob.post(
        "/dashboard/auto-replies/new/",
        {
            "keyword": "  Jam Buka ",
            "match": "exact",
            "reply_text": "Buka 08.00–21.00 WIB",
            "device_id": str(shop.pk),
            "priority": "7",
            "enabled": "on",
        },
    )
    assert response.status_code == 302 and response["Location"] == "/dashboard/auto-replies/"
    rule = AutoReplyRule.objects.get(tenant=alice.tenant)
    assert (rule.keyword, rule.match, rule.device_id, rule.priority, rule.enabled, rule.reply_to_groups) == (
        "Jam Buka",
        "exact",
        shop.pk,
        7,
        True,
        False,
    )
    assert rule.reply == {"type": "text", "text": "Buka 08.00–21.00 WIB"}
    assert autoreply.rule_matches(rule, "jam buka") and not autoreply.rule_matches(rule, "jam buka kapan?")


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"keyword": "", "match": "contains", "reply_text": "Halo", "priority": "0"}, "keyword"),
        ({"keyword": "   ", "match": "contains", "reply_text": "Halo", "priority": "0"}, "keyword"),
        ({"keyword": "halo", "match": "contains", "reply_text": "", "priority": "0"}, "reply_text"),
        ({"keyword": "halo", "match": "fuzzy", "reply_text": "Halo", "priority": "0"}, "match"),
        ({"keyword": "halo", "match": "contains", "reply_text": "Halo", "priority": "lots"}, "priority"),
    ],
)
def test_missing_or_bad_fields_are_shown_inline(
    as_alice: Client, alice: Actor, fields: dict[str, str], field: str
) -> None:
    response = as_alice.post("/dashboard/auto-replies/new/", fields)
    assert response.status_code == 200
    assert field_errors(response, field)
    assert f'id="{field}-errors"' in response.content.decode()
    assert not AutoReplyRule.objects.exists()


def test_the_service_refusing_the_reply_is_shown_on_the_reply_field(as_alice: Client) -> None:
    response = as_alice.post(
        "/dashboard/auto-replies/new/",
        {"keyword": "halo", "match": "contains", "reply_text": "   ", "priority": "0"},
    )
    assert response.status_code == 200
    assert field_errors(response, "reply_text") == ["May not be blank."]
    assert not AutoReplyRule.objects.exists()


def test_another_tenants_device_cannot_be_chosen(as_alice: Client, charlie: Actor) -> None:
    theirs = DeviceFactory.create(tenant=charlie.tenant)
    response = as_alice.post(
        "/dashboard/auto-replies/new/",
        {
            "keyword": "halo",
            "match": "contains",
            "reply_text": "Hai",
            "priority": "0",
            "device_id": str(theirs.pk),
        },
    )
    assert response.status_code == 200 and field_errors(response, "device_id")
    assert not AutoReplyRule.objects.exists()


def test_editing_a_rule(as_alice: Client, alice: Actor) -> None:
    rule = rule_of(alice)
    form = page_text(as_alice.get(f"/dashboard/auto-replies/{rule.pk}/edit/"))
    assert 'value="harga"' in form and "Harga mulai 10rb" in form
    response = as_alice.post(
        f"/dashboard/auto-replies/{rule.pk}/edit/",
        {
            "keyword": "price",
            "match": "exact",
            "reply_text": "From 10k",
            "priority": "3",
            "reply_to_groups": "on",
        },
    )
    assert response.status_code == 302
    rule.refresh_from_db()
    assert (rule.keyword, rule.match, rule.reply, rule.priority, rule.reply_to_groups, rule.enabled) == (
        "price",
        "exact",
        {"type": "text", "text": "From 10k"},
        3,
        True,
        False,  # the checkbox was left unticked
    )


def test_editing_a_rule_with_a_non_text_reply_keeps_that_reply_unless_text_is_given(
    as_alice: Client, alice: Actor
) -> None:
    location = {"type": "location", "latitude": -6.2, "longitude": 106.8166}
    rule = rule_of(alice, "lokasi", reply=location)
    assert "A location message" in page_text(as_alice.get("/dashboard/auto-replies/"))
    form = {"keyword": "alamat", "match": "contains", "reply_text": "", "priority": "0", "enabled": "on"}
    assert as_alice.post(f"/dashboard/auto-replies/{rule.pk}/edit/", form).status_code == 302
    rule.refresh_from_db()
    assert rule.keyword == "alamat" and rule.reply == location


def test_disabling_and_enabling_a_rule(as_bob: Client, alice: Actor) -> None:
    rule = rule_of(alice)
    as_bob.post(f"/dashboard/auto-replies/{rule.pk}/toggle/")
    rule.refresh_from_db()
    assert rule.enabled is False
    as_bob.post(f"/dashboard/auto-replies/{rule.pk}/toggle/")
    rule.refresh_from_db()
    assert rule.enabled is True


def test_deleting_a_rule(as_alice: Client, alice: Actor) -> None:
    rule = rule_of(alice)
    assert as_alice.post(f"/dashboard/auto-replies/{rule.pk}/delete/").status_code == 302
    assert not AutoReplyRule.objects.filter(pk=rule.pk).exists()


def test_another_tenants_rule_is_not_found(as_charlie: Client, alice: Actor) -> None:
    rule = rule_of(alice)
    assert as_charlie.get(f"/dashboard/auto-replies/{rule.pk}/edit/").status_code == 404
    form = {"keyword": "x", "match": "contains", "reply_text": "x", "priority": "0"}
    for action in ("edit", "toggle", "delete"):
        assert as_charlie.post(f"/dashboard/auto-replies/{rule.pk}/{action}/", form).status_code == 404
    rule.refresh_from_db()
    assert (rule.keyword, rule.enabled) == ("harga", True)
