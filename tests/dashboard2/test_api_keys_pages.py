"""The API keys page (owners and admins only): keys listed without their secret, created with
scopes, a device restriction and an expiry, the key shown exactly once, revoked and rotated
through the same services as the API."""

from __future__ import annotations

import re
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.test import Client

from tenants.models import ApiKey, Membership
from tests.conftest import Actor, keyed_client
from tests.factories import DeviceFactory, MembershipFactory, UserFactory

from .conftest import field_errors, page_text

WIB = ZoneInfo("Asia/Jakarta")


def shown_key(html: str) -> str | None:
    found = re.search(r'<code class="secret" id="raw-key">(wv_live_[^<]+)</code>', html)
    return found.group(1) if found else None


def api_status(raw_key: str) -> int:
    return int(keyed_client(raw_key).get("/api/v1/devices").status_code)


def create_key(client: Client, **fields: object) -> str:
    """Creates a key through the page and returns the created page's URL."""
    response = client.post(
        "/dashboard/api-keys/new/", {"name": "Website", "scopes": ["devices:read"], **fields}
    )
    assert response.status_code == 302, response.context["form"].errors if response.context else response
    return str(response["Location"])


def test_the_list_shows_prefix_scopes_and_status_but_never_a_secret(as_alice: Client, alice: Actor) -> None:
    html = page_text(as_alice.get("/dashboard/api-keys/"))
    assert alice.key.prefix in html and alice.key.name in html
    assert alice.raw_key not in html
    assert "key_hash" not in html and alice.key.key_hash not in html


def test_members_are_refused_every_api_key_page(as_bob: Client, alice: Actor) -> None:
    for url in (
        "/dashboard/api-keys/",
        "/dashboard/api-keys/new/",
        f"/dashboard/api-keys/{alice.key.pk}/created/",
    ):
        assert as_bob.get(url).status_code == 403, url
    for url in (
        "/dashboard/api-keys/new/",
        f"/dashboard/api-keys/{alice.key.pk}/revoke/",
        f"/dashboard/api-keys/{alice.key.pk}/rotate/",
    ):
        assert as_bob.post(url, {"name": "x", "scopes": ["devices:read"]}).status_code == 403, url
    alice.key.refresh_from_db()
    assert alice.key.revoked_at is None
    assert ApiKey.objects.filter(tenant=alice.tenant).count() == 2  # alice's and bob's fixture keys


def test_admins_may_manage_keys(alice: Actor) -> None:
    admin = UserFactory.create(username="admin@example.com")
    MembershipFactory(user=admin, tenant=alice.tenant, role=Membership.Role.ADMIN)
    client = Client()
    client.force_login(admin)
    assert client.get("/dashboard/api-keys/").status_code == 200


def test_a_new_key_is_shown_exactly_once_and_works(as_alice: Client, alice: Actor) -> None:
    created_url = create_key(as_alice, name="Toko online", scopes=["devices:read", "messages:send"])
    key = ApiKey.objects.get(name="Toko online")
    assert created_url == f"/dashboard/api-keys/{key.pk}/created/"
    assert key.scopes == ["devices:read", "messages:send"] and key.created_by == alice.user

    first = as_alice.get(created_url)
    raw = shown_key(page_text(first))
    assert raw is not None and raw.startswith(key.prefix)
    assert "no-store" in first["Cache-Control"]
    assert api_status(raw) == 200

    reload = page_text(as_alice.get(created_url))
    assert shown_key(reload) is None and raw not in reload
    assert "no longer shown" in reload
    assert raw not in page_text(as_alice.get("/dashboard/api-keys/"))


def test_a_key_restricted_to_a_device_and_expiring(as_alice: Client, alice: Actor) -> None:
    shop = DeviceFactory.create(tenant=alice.tenant, name="Kasir")
    with time_machine.travel(datetime(2026, 11, 22, 10, 0, tzinfo=WIB), tick=False):
        create_key(as_alice, name="Kasir only", device_ids=[str(shop.pk)], expires_at="2026-12-31T23:59")
    key = ApiKey.objects.get(name="Kasir only")
    assert key.device_ids == [str(shop.pk)]
    assert key.expires_at == datetime(2026, 12, 31, 23, 59, tzinfo=WIB)


@pytest.mark.parametrize(
    ("fields", "field", "problem"),
    [
        ({"name": "", "scopes": ["devices:read"]}, "name", "required"),
        ({"name": "No scopes"}, "scopes", "at least one scope"),
        ({"name": "Bad scope", "scopes": ["root:all"]}, "scopes", "valid choice"),
        (
            {"name": "Past", "scopes": ["devices:read"], "expires_at": "2020-01-01T00:00"},
            "expires_at",
            "future",
        ),
        ({"name": "Garbled", "scopes": ["devices:read"], "expires_at": "soon"}, "expires_at", "valid"),
    ],
)
def test_form_errors_are_shown_inline_and_no_key_is_made(
    as_alice: Client, alice: Actor, fields: dict[str, object], field: str, problem: str
) -> None:
    before = ApiKey.objects.count()
    response = as_alice.post("/dashboard/api-keys/new/", fields)
    assert response.status_code == 200
    assert problem in " ".join(field_errors(response, field)).lower()
    assert f'id="{field}-errors"' in response.content.decode()
    assert ApiKey.objects.count() == before


def test_another_tenants_device_cannot_be_granted(as_alice: Client, charlie: Actor) -> None:
    theirs = DeviceFactory.create(tenant=charlie.tenant)
    response = as_alice.post(
        "/dashboard/api-keys/new/",
        {"name": "Sneaky", "scopes": ["devices:read"], "device_ids": [str(theirs.pk)]},
    )
    assert response.status_code == 200 and field_errors(response, "device_ids")
    assert not ApiKey.objects.filter(name="Sneaky").exists()


def test_revoking_a_key_stops_it_at_once(as_alice: Client, alice: Actor) -> None:
    assert api_status(alice.raw_key) == 200
    response = as_alice.post(f"/dashboard/api-keys/{alice.key.pk}/revoke/")
    assert response.status_code == 302
    alice.key.refresh_from_db()
    assert alice.key.revoked_at is not None
    assert api_status(alice.raw_key) == 401
    assert "Revoked" in page_text(as_alice.get("/dashboard/api-keys/"))


def test_rotating_shows_the_new_key_once_and_the_old_one_stops(as_alice: Client, alice: Actor) -> None:
    response = as_alice.post(f"/dashboard/api-keys/{alice.key.pk}/rotate/")
    new_key = ApiKey.objects.filter(tenant=alice.tenant, name=alice.key.name, revoked_at__isnull=True).get()
    assert response["Location"] == f"/dashboard/api-keys/{new_key.pk}/created/"
    raw = shown_key(page_text(as_alice.get(response["Location"])))
    assert raw is not None and api_status(raw) == 200
    assert api_status(alice.raw_key) == 401
    assert shown_key(page_text(as_alice.get(response["Location"]))) is None


def test_a_revoked_key_is_not_brought_back_by_rotation(as_alice: Client, alice: Actor) -> None:
    as_alice.post(f"/dashboard/api-keys/{alice.key.pk}/revoke/")
    response = as_alice.post(f"/dashboard/api-keys/{alice.key.pk}/rotate/", follow=True)
    assert "cannot be rotated" in page_text(response)
    assert not ApiKey.objects.filter(
        tenant=alice.tenant, name=alice.key.name, revoked_at__isnull=True
    ).exists()


def test_another_tenants_keys_are_not_found(as_charlie: Client, alice: Actor, charlie: Actor) -> None:
    assert alice.key.prefix not in page_text(as_charlie.get("/dashboard/api-keys/"))
    assert as_charlie.get(f"/dashboard/api-keys/{alice.key.pk}/created/").status_code == 404
    assert as_charlie.post(f"/dashboard/api-keys/{alice.key.pk}/revoke/").status_code == 404
    assert as_charlie.post(f"/dashboard/api-keys/{alice.key.pk}/rotate/").status_code == 404
    alice.key.refresh_from_db()
    assert alice.key.revoked_at is None and api_status(alice.raw_key) == 200


def test_a_key_shown_to_one_user_is_not_shown_to_a_teammate(as_alice: Client, alice: Actor) -> None:
    created_url = create_key(as_alice)
    admin = UserFactory.create(username="admin2@example.com")
    MembershipFactory(user=admin, tenant=alice.tenant, role=Membership.Role.ADMIN)
    admin_client = Client()
    admin_client.force_login(admin)
    assert shown_key(page_text(admin_client.get(created_url))) is None
    assert shown_key(page_text(as_alice.get(created_url))) is not None


def test_the_sidebar_offers_api_keys_to_owners_only(as_alice: Client, as_bob: Client) -> None:
    owner_nav = [item["url"] for item in as_alice.get("/dashboard/webhooks/").context["nav"]]
    member_nav = [item["url"] for item in as_bob.get("/dashboard/webhooks/").context["nav"]]
    assert "/dashboard/api-keys/" in owner_nav and "/dashboard/api-keys/" not in member_nav
    for url in ("/dashboard/webhooks/", "/dashboard/auto-replies/", "/dashboard/contacts/"):
        assert url in owner_nav and url in member_nav
