"""Walks every dashboard page built here: 200 for a role that may use it, 403 for one that may not,
404 for another tenant's objects (alice owns the tenant, bob is a member in it, charlie is outside)."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from tenants.models import Membership
from tenants.services import invitation_create
from tests.conftest import Actor
from tests.factories import DeviceFactory

from .factories import MessageFactory

EVERYONE_PAGES = [
    "/dashboard/",
    "/dashboard/devices/",
    "/dashboard/devices/{device}/",
    "/dashboard/devices/{device}/status/",
    "/dashboard/send/",
    "/dashboard/messages/",
    "/dashboard/messages/{message}/",
]
MANAGER_PAGES = ["/dashboard/team/"]
OBJECT_PAGES = [p for p in EVERYONE_PAGES if "{" in p]
PUBLIC_PAGES = [
    "/accounts/login/",
    "/accounts/signup/",
    "/accounts/password-reset/",
    "/accounts/password-reset/sent/",
]


@pytest.fixture
def objects(alice: Actor) -> dict[str, Any]:
    device = DeviceFactory.create(tenant=alice.tenant)
    message = MessageFactory.create(device=device)
    return {"device": device.pk, "message": message.pk}


@pytest.mark.parametrize("page", EVERYONE_PAGES + MANAGER_PAGES)
def test_the_owner_can_open_every_page(
    signed_in: Any, alice: Actor, objects: dict[str, Any], page: str
) -> None:
    assert signed_in(alice).get(page.format(**objects)).status_code == 200


@pytest.mark.parametrize("page", EVERYONE_PAGES)
def test_a_member_can_open_the_product_pages(
    signed_in: Any, bob: Actor, objects: dict[str, Any], page: str
) -> None:
    assert signed_in(bob).get(page.format(**objects)).status_code == 200


def test_an_admin_manages_the_team(signed_in: Any, bob: Actor, objects: dict[str, Any]) -> None:
    Membership.objects.filter(user=bob.user).update(role=Membership.Role.ADMIN)
    assert signed_in(bob).get("/dashboard/team/").status_code == 200


def test_a_member_is_refused_the_team_page_and_its_actions(signed_in: Any, alice: Actor, bob: Actor) -> None:
    client: Client = signed_in(bob)
    owner = Membership.objects.get(user=alice.user)
    invitation, _token = invitation_create(
        tenant=alice.tenant, email="d@example.com", role="member", invited_by=None, acting_role="owner"
    )
    assert client.get("/dashboard/team/").status_code == 403
    assert client.post("/dashboard/team/", {"email": "x@example.com", "role": "admin"}).status_code == 403
    assert client.post(f"/dashboard/team/members/{owner.pk}/", {"action": "remove"}).status_code == 403
    assert client.post(f"/dashboard/team/invitations/{invitation.pk}/revoke/").status_code == 403
    assert Membership.objects.filter(pk=owner.pk).exists()
    assert "/dashboard/team/" not in {item["url"] for item in client.get("/dashboard/").context["nav"]}


@pytest.mark.parametrize("page", OBJECT_PAGES)
def test_another_tenants_objects_are_404(
    signed_in: Any, charlie: Actor, objects: dict[str, Any], page: str
) -> None:
    assert signed_in(charlie).get(page.format(**objects)).status_code == 404


def test_another_tenants_members_and_invitations_are_404(
    signed_in: Any, alice: Actor, charlie: Actor
) -> None:
    owner = Membership.objects.get(user=alice.user)
    invitation, _token = invitation_create(
        tenant=alice.tenant, email="d@example.com", role="member", invited_by=None, acting_role="owner"
    )
    client: Client = signed_in(charlie)
    assert client.post(f"/dashboard/team/members/{owner.pk}/", {"action": "remove"}).status_code == 404
    assert client.post(f"/dashboard/team/invitations/{invitation.pk}/revoke/").status_code == 404
    invitation.refresh_from_db()
    assert invitation.revoked_at is None


@pytest.mark.parametrize("page", EVERYONE_PAGES + MANAGER_PAGES)
def test_signed_out_visitors_are_sent_to_log_in(client: Client, objects: dict[str, Any], page: str) -> None:
    response = client.get(page.format(**objects))
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=")


@pytest.mark.parametrize("page", PUBLIC_PAGES)
def test_account_pages_are_open_and_fit_a_phone(client: Client, db: None, page: str) -> None:
    response = client.get(page)
    assert response.status_code == 200
    assert b'name="viewport" content="width=device-width' in response.content
