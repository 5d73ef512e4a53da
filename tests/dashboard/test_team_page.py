"""The team page: invite by email (link only in the email), change roles, remove, revoke."""

from __future__ import annotations

import re
from typing import Any

from django.core import mail
from django.test import Client

from tenants.models import Invitation, Membership
from tests.conftest import Actor


def test_inviting_emails_a_link_that_is_not_shown_on_the_page(
    signed_in: Any, alice: Actor, django_capture_on_commit_callbacks: Any
) -> None:
    client: Client = signed_in(alice)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/dashboard/team/", {"email": "dina@example.com", "role": "admin"})
    assert response.status_code == 302
    link = re.search(r"http://testserver/accounts/invite/([\w-]+)/", str(mail.outbox[0].body))
    assert link is not None
    page = client.get("/dashboard/team/")
    assert b"dina@example.com" in page.content
    assert link.group(1).encode() not in page.content
    assert Invitation.objects.get().role == "admin"


def test_invitation_errors_are_shown_on_the_form(signed_in: Any, alice: Actor, bob: Actor) -> None:
    response = signed_in(alice).post("/dashboard/team/", {"email": "bob@example.com", "role": "member"})
    assert response.status_code == 400
    assert "already in the team" in str(response.context["form"].errors["email"])
    bad = signed_in(alice).post("/dashboard/team/", {"email": "nope", "role": "king"})
    assert set(bad.context["form"].errors) == {"email", "role"}


def test_roles_change_and_members_leave_but_the_last_owner_stays(
    signed_in: Any, alice: Actor, bob: Actor
) -> None:
    client: Client = signed_in(alice)
    bob_m = Membership.objects.get(user=bob.user)
    alice_m = Membership.objects.get(user=alice.user)
    client.post(f"/dashboard/team/members/{bob_m.pk}/", {"action": "role", f"m{bob_m.pk}-role": "admin"})
    assert Membership.objects.get(pk=bob_m.pk).role == "admin"
    refused = client.post(f"/dashboard/team/members/{alice_m.pk}/", {"action": "remove"}, follow=True)
    assert b"last owner" in refused.content
    assert Membership.objects.filter(pk=alice_m.pk).exists()
    client.post(f"/dashboard/team/members/{bob_m.pk}/", {"action": "remove"})
    assert not Membership.objects.filter(pk=bob_m.pk).exists()


def test_a_revoked_invitation_link_stops_working(
    signed_in: Any, alice: Actor, client: Client, django_capture_on_commit_callbacks: Any
) -> None:
    owner: Client = signed_in(alice)
    with django_capture_on_commit_callbacks(execute=True):
        owner.post("/dashboard/team/", {"email": "dina@example.com", "role": "member"})
    token = re.search(r"/accounts/invite/([\w-]+)/", str(mail.outbox[0].body)).group(1)  # type: ignore[union-attr]
    assert client.get(f"/accounts/invite/{token}/").status_code == 200
    invitation = Invitation.objects.get()
    assert owner.post(f"/dashboard/team/invitations/{invitation.pk}/revoke/").status_code == 302
    assert client.get(f"/accounts/invite/{token}/").status_code == 404
