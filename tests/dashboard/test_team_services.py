"""Team services: invitations (token only in the email, SHA-256 stored), roles and the last owner."""

from __future__ import annotations

import hashlib
import re
from datetime import timedelta
from typing import Any

import pytest
import time_machine
from django.core import mail
from django.utils import timezone

from tenants import services
from tenants.models import Invitation, Membership
from tenants.selectors import invitation_by_token
from tests.conftest import Actor
from tests.factories import UserFactory
from wavora.api.errors import ValidationFailed

OWNER, ADMIN, MEMBER = Membership.Role.OWNER, Membership.Role.ADMIN, Membership.Role.MEMBER


def _invite(actor: Actor, email: str = "dina@example.com", role: str = MEMBER) -> tuple[Invitation, str]:
    return services.invitation_create(
        tenant=actor.tenant, email=email, role=role, invited_by=actor.user, acting_role=OWNER
    )


def test_an_invitation_stores_only_the_hash_of_its_token(alice: Actor) -> None:
    invitation, token = _invite(alice, "Dina@Example.com")
    invitation.refresh_from_db()
    assert invitation.email == "dina@example.com"
    assert invitation.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert token not in str(Invitation.objects.filter(pk=invitation.pk).values().get())
    assert invitation.expires_at > timezone.now() + timedelta(days=6)


def test_the_invitation_email_carries_the_link_and_is_sent_after_commit(
    alice: Actor, django_capture_on_commit_callbacks: object
) -> None:
    with django_capture_on_commit_callbacks(execute=True):  # type: ignore[operator]
        invitation, token = _invite(alice)
        services.invitation_send_email(
            invitation=invitation, accept_url=f"https://w.test/accounts/invite/{token}/"
        )
        assert mail.outbox == []
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["dina@example.com"]
    assert f"/accounts/invite/{token}/" in mail.outbox[0].body
    assert "Alice Co" in mail.outbox[0].subject


def test_a_new_invitation_to_the_same_address_replaces_the_pending_one(alice: Actor) -> None:
    first, first_token = _invite(alice)
    _second, second_token = _invite(alice)
    assert invitation_by_token(first_token) is None
    assert invitation_by_token(second_token) is not None
    first.refresh_from_db()
    assert first.revoked_at is not None


def test_inviting_someone_already_in_the_team_names_the_email_field(alice: Actor, bob: Actor) -> None:
    with pytest.raises(ValidationFailed) as caught:
        _invite(alice, "BOB@example.com")
    assert "email" in caught.value.details


def test_an_admin_cannot_invite_an_owner(alice: Actor) -> None:
    with pytest.raises(ValidationFailed) as caught:
        services.invitation_create(
            tenant=alice.tenant, email="x@example.com", role=OWNER, invited_by=None, acting_role=ADMIN
        )
    assert "role" in caught.value.details


def test_accepting_joins_the_tenant_with_the_invited_role(alice: Actor) -> None:
    _invitation, token = _invite(alice, role=ADMIN)
    dina: Any = UserFactory(username="dina@example.com")
    membership = services.invitation_accept(raw_token=token, user=dina)
    assert (membership.tenant, membership.role) == (alice.tenant, ADMIN)
    assert invitation_by_token(token) is None  # used up
    with pytest.raises(ValidationFailed):
        services.invitation_accept(raw_token=token, user=dina)


def test_an_invitation_cannot_be_used_by_another_address(alice: Actor) -> None:
    _invitation, token = _invite(alice)
    eve: Any = UserFactory(username="eve@example.com")
    with pytest.raises(ValidationFailed) as caught:
        services.invitation_accept(raw_token=token, user=eve)
    assert "dina@example.com" in caught.value.message
    assert not Membership.objects.filter(user=eve).exists()


def test_an_account_in_another_team_cannot_join_a_second_one(alice: Actor, charlie: Actor) -> None:
    _invitation, token = _invite(alice, "charlie@example.com")
    with pytest.raises(ValidationFailed):
        services.invitation_accept(raw_token=token, user=charlie.user)


def test_an_expired_or_revoked_invitation_is_refused(alice: Actor) -> None:
    invitation, token = _invite(alice)
    dina = UserFactory(username="dina@example.com")
    with time_machine.travel(timezone.now() + timedelta(days=8)), pytest.raises(ValidationFailed):
        services.invitation_accept(raw_token=token, user=dina)
    services.invitation_revoke(invitation=invitation)
    with pytest.raises(ValidationFailed):
        services.invitation_accept(raw_token=token, user=dina)


def test_accepting_without_an_account_creates_one_for_the_invited_address(alice: Actor) -> None:
    _invitation, token = _invite(alice, "new@example.com")
    membership = services.invitation_accept_new_account(raw_token=token, password="kopi-susu-2026!")
    assert membership.user.email == "new@example.com"
    assert membership.user.check_password("kopi-susu-2026!")


def test_the_last_owner_cannot_be_demoted_or_removed(alice: Actor) -> None:
    owner = Membership.objects.get(tenant=alice.tenant, user=alice.user)
    with pytest.raises(ValidationFailed, match="last owner"):
        services.membership_change_role(membership=owner, role=ADMIN, acting_role=OWNER)
    with pytest.raises(ValidationFailed, match="last owner"):
        services.membership_remove(membership=owner, acting_role=OWNER)
    owner.refresh_from_db()
    assert owner.role == OWNER


def test_with_a_second_owner_the_first_can_step_down(alice: Actor, bob: Actor) -> None:
    bob_membership = Membership.objects.get(user=bob.user)
    services.membership_change_role(membership=bob_membership, role=OWNER, acting_role=OWNER)
    alice_membership = Membership.objects.get(user=alice.user)
    services.membership_change_role(membership=alice_membership, role=MEMBER, acting_role=OWNER)
    alice_membership.refresh_from_db()
    assert alice_membership.role == MEMBER


def test_an_admin_cannot_demote_or_remove_an_owner(alice: Actor, bob: Actor) -> None:
    owner = Membership.objects.get(user=alice.user)
    Membership.objects.filter(user=bob.user).update(role=OWNER)  # two owners: only the role rule applies
    for call in (
        lambda: services.membership_change_role(membership=owner, role=MEMBER, acting_role=ADMIN),
        lambda: services.membership_remove(membership=owner, acting_role=ADMIN),
    ):
        with pytest.raises(ValidationFailed, match=re.compile("owner", re.I)):
            call()
    assert Membership.objects.get(pk=owner.pk).role == OWNER


def test_removing_a_member_ends_their_access(alice: Actor, bob: Actor) -> None:
    services.membership_remove(membership=Membership.objects.get(user=bob.user), acting_role=ADMIN)
    assert not Membership.objects.filter(tenant=alice.tenant, user=bob.user).exists()
