"""Platform staff see every back-office page; tenant users are sent to the admin login; raw GOWA
events and messages are evidence that nobody can add, edit or delete; secrets are never shown."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib import admin
from django.db.models import Model
from django.test import Client
from django.urls import reverse

from messaging.models import GowaEvent, Message
from tests.conftest import Actor
from tests.factories import GowaNodeFactory

from .conftest import fill

OWN_APPS = {"tenants", "devices", "messaging", "webhooks"}


def _url(model: type[Model], view: str, *args: Any) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)


def test_staff_sees_every_changelist_and_change_page(staff: Client) -> None:
    fill()
    registered = list(admin.site._registry)
    assert {model._meta.app_label for model in registered} >= OWN_APPS
    seen_change_pages = set()
    for model in registered:
        listing = staff.get(_url(model, "changelist"))
        assert listing.status_code == 200, model
        obj = model._default_manager.first()
        if obj is not None:
            assert staff.get(_url(model, "change", obj.pk)).status_code == 200, model
            seen_change_pages.add(model)
    # Every model of the four apps had a row to open (so the change pages above were really rendered).
    assert {m for m in registered if m._meta.app_label in OWN_APPS} <= seen_change_pages


def test_search_and_filters_answer(staff: Client) -> None:
    rows = fill()
    device, message = rows["device"], rows["message"]

    found = staff.get(_url(Message, "changelist"), {"q": message.recipient})
    assert found.status_code == 200 and str(message.pk).encode() in found.content
    by_id = staff.get(_url(Message, "changelist"), {"q": str(message.pk)})
    assert str(message.pk).encode() in by_id.content
    missing = staff.get(_url(Message, "changelist"), {"q": "6280000000000"})
    assert str(message.pk).encode() not in missing.content

    filtered = staff.get(
        _url(Message, "changelist"), {"status__exact": "delivered", "direction__exact": "out"}
    )
    assert str(message.pk).encode() in filtered.content
    other = staff.get(_url(Message, "changelist"), {"status__exact": "failed"})
    assert str(message.pk).encode() not in other.content

    devices = staff.get(_url(type(device), "changelist"), {"q": device.phone, "status__exact": "connected"})
    assert device.name.encode() in devices.content
    tenants = staff.get(_url(type(rows["tenant"]), "changelist"), {"q": rows["tenant"].external_id})
    assert rows["tenant"].name.encode() in tenants.content


@pytest.mark.parametrize(
    "path", ["/backoffice/", "/backoffice/tenants/tenant/", "/backoffice/messaging/message/"]
)
def test_a_tenant_user_is_sent_to_the_admin_login(alice: Actor, path: str) -> None:
    client = Client()
    client.force_login(alice.user)
    response = client.get(path)
    assert response.status_code == 302
    assert response["Location"].startswith("/backoffice/login/")


def test_anonymous_visitors_are_sent_to_the_admin_login(db: None) -> None:
    response = Client().get("/backoffice/devices/device/")
    assert response.status_code == 302
    assert response["Location"].startswith("/backoffice/login/")


def test_raw_gowa_events_cannot_be_added_changed_or_deleted(staff: Client) -> None:
    event = fill()["gowaevent"]

    assert staff.get(_url(GowaEvent, "add")).status_code == 403
    page = staff.get(_url(GowaEvent, "change", event.pk))
    assert page.status_code == 200  # shown …
    assert b'name="_save"' not in page.content  # … not editable
    assert staff.post(_url(GowaEvent, "change", event.pk), {"event": "forged"}).status_code == 403
    assert staff.post(_url(GowaEvent, "delete", event.pk), {"post": "yes"}).status_code == 403
    bulk = staff.post(
        _url(GowaEvent, "changelist"),
        {"action": "delete_selected", "_selected_action": [event.pk], "post": "yes"},
    )
    assert bulk.status_code in (200, 302)
    event.refresh_from_db()
    assert event.event == "message.ack"
    assert GowaEvent.objects.filter(pk=event.pk).exists()


def test_messages_are_read_only_with_their_status_history(staff: Client) -> None:
    message = fill()["message"]

    page = staff.get(_url(Message, "change", message.pk))
    assert page.status_code == 200
    assert b'name="_save"' not in page.content
    for status in (b"pending", b"sending", b"sent", b"delivered"):
        assert status in page.content
    assert staff.get(_url(Message, "add")).status_code == 403
    assert staff.post(_url(Message, "delete", message.pk), {"post": "yes"}).status_code == 403
    assert Message.objects.filter(pk=message.pk).exists()


def test_secrets_and_key_hashes_are_never_shown(staff: Client) -> None:
    rows = fill()
    key, endpoint = rows["apikey"], rows["webhookendpoint"]

    key_page = staff.get(_url(type(key), "change", key.pk))
    assert key_page.status_code == 200
    assert key.key_hash.encode() not in key_page.content
    assert key.prefix.encode() in key_page.content
    assert staff.get(_url(type(key), "changelist")).content.count(key.key_hash.encode()) == 0
    assert staff.get(_url(type(key), "add")).status_code == 403  # a key's secret is shown once, elsewhere

    endpoint_page = staff.get(_url(type(endpoint), "change", endpoint.pk))
    assert endpoint_page.status_code == 200
    assert endpoint.secret.encode() not in endpoint_page.content


def test_tenant_page_shows_partner_fields_members_and_device_count(staff: Client) -> None:
    rows = fill()
    tenant = rows["tenant"]

    listing = staff.get(_url(type(tenant), "changelist"))
    assert b"partner-x" in listing.content and tenant.external_id.encode() in listing.content
    page = staff.get(_url(type(tenant), "change", tenant.pk))
    assert page.status_code == 200
    assert b'name="memberships-TOTAL_FORMS"' in page.content  # memberships inline
    assert b'name="source"' in page.content and b'name="expires_at_0"' in page.content


def test_gowa_node_secrets_are_write_only_and_kept_when_left_empty(staff: Client) -> None:
    node = GowaNodeFactory.create(basic_auth_password="node-pass-123", webhook_secret="node-hook-secret-456")
    page = staff.get(f"/backoffice/devices/gowanode/{node.pk}/change/")
    assert page.status_code == 200
    assert b"node-pass-123" not in page.content
    assert b"node-hook-secret-456" not in page.content

    form = {
        "name": node.name,
        "base_url": node.base_url,
        "basic_auth_username": node.basic_auth_username,
        "basic_auth_password": "",
        "webhook_secret": "",
        "capacity": node.capacity,
        "is_active": "on",
    }
    saved = staff.post(f"/backoffice/devices/gowanode/{node.pk}/change/", form)
    assert saved.status_code == 302, saved.content[:2000]
    node.refresh_from_db()
    assert (node.basic_auth_password, node.webhook_secret) == ("node-pass-123", "node-hook-secret-456")

    staff.post(f"/backoffice/devices/gowanode/{node.pk}/change/", {**form, "webhook_secret": "rotated-789"})
    node.refresh_from_db()
    assert node.webhook_secret == "rotated-789"
