"""Sign-up, log-in by email with throttling, log-out, password reset and invitation links."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.conf import settings
from django.core import mail
from django.test import Client, override_settings

from tenants import services
from tenants.models import Membership, Tenant
from tests.conftest import Actor

PASSWORD = "correct horse battery"  # tests.factories.UserFactory's


def test_signing_up_creates_an_indonesian_tenant_owned_by_the_new_user_and_logs_in(
    client: Client, db: None
) -> None:
    response = client.post(
        "/accounts/signup/",
        {"company": "Toko Sinar Jaya", "email": "Budi@Example.com", "password": "nasi-goreng-2026"},
    )
    assert response.status_code == 302
    assert response["Location"] == "/dashboard/"
    tenant = Tenant.objects.get(name="Toko Sinar Jaya")
    assert tenant.language == "id"
    membership = Membership.objects.get(tenant=tenant)
    assert (membership.user.email, membership.role) == ("budi@example.com", Membership.Role.OWNER)
    assert response.cookies[settings.LANGUAGE_COOKIE_NAME].value == "id"
    page = client.get("/dashboard/")
    assert page.status_code == 200
    assert b"Ringkasan" in page.content  # "Overview" in Indonesian


def test_sign_up_errors_are_shown_on_their_fields(client: Client, alice: Actor) -> None:
    response = client.post(
        "/accounts/signup/", {"company": "", "email": "alice@example.com", "password": "123"}
    )
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert set(errors) == {"company", "email", "password"}
    assert b'class="errorlist"' in response.content
    assert Tenant.objects.count() == 1  # only Alice's


def test_log_in_is_by_email_and_lands_on_the_dashboard(
    client: Client, alice: Actor, clean_cache: None
) -> None:
    response = client.post("/accounts/login/", {"username": "ALICE@example.com", "password": PASSWORD})
    assert response.status_code == 302
    assert response["Location"] == "/dashboard/"
    assert client.get("/dashboard/").status_code == 200


def test_repeated_failures_lock_the_account_for_that_address_even_with_the_right_password(
    client: Client, alice: Actor, clean_cache: None
) -> None:
    for _ in range(settings.LOGIN_MAX_FAILURES):
        response = client.post("/accounts/login/", {"username": "alice@example.com", "password": "wrong"})
        assert response.status_code == 200
    locked = client.post("/accounts/login/", {"username": "alice@example.com", "password": PASSWORD})
    assert locked.status_code == 429
    assert int(locked["Retry-After"]) > 0
    assert re.search(r"Try again in \d+ minute|Coba lagi dalam \d+ menit", locked.content.decode())
    assert "_auth_user_id" not in client.session
    assert locked.context["form"].initial["username"] == "alice@example.com"
    # Another IP address is not locked out by this one's guesses.
    other = Client(REMOTE_ADDR="10.9.8.7")
    assert (
        other.post("/accounts/login/", {"username": "alice@example.com", "password": PASSWORD}).status_code
        == 302
    )


def test_a_successful_log_in_clears_the_failure_count(
    client: Client, alice: Actor, clean_cache: None
) -> None:
    for _ in range(settings.LOGIN_MAX_FAILURES - 1):
        client.post("/accounts/login/", {"username": "alice@example.com", "password": "wrong"})
    assert (
        client.post("/accounts/login/", {"username": "alice@example.com", "password": PASSWORD}).status_code
        == 302
    )
    client.post("/accounts/logout/")
    for _ in range(settings.LOGIN_MAX_FAILURES - 1):
        client.post("/accounts/login/", {"username": "alice@example.com", "password": "wrong"})
    assert (
        client.post("/accounts/login/", {"username": "alice@example.com", "password": PASSWORD}).status_code
        == 302
    )


def test_log_out_needs_a_post(client: Client, alice: Actor) -> None:
    client.force_login(alice.user)
    assert client.get("/accounts/logout/").status_code == 405
    assert client.post("/accounts/logout/").status_code == 302
    assert client.get("/dashboard/").status_code == 302


def test_forms_refuse_posts_without_a_csrf_token(alice: Actor) -> None:
    browser = Client(enforce_csrf_checks=True)
    assert (
        browser.post("/accounts/login/", {"username": "alice@example.com", "password": PASSWORD}).status_code
        == 403
    )
    browser.force_login(alice.user)
    assert browser.post("/dashboard/team/", {"email": "x@example.com", "role": "member"}).status_code == 403


@override_settings(EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend")
def test_password_reset_sends_a_link_that_sets_a_new_password(
    client: Client, alice: Actor, clean_cache: None
) -> None:
    response = client.post("/accounts/password-reset/", {"email": "alice@example.com"})
    assert response.status_code == 302
    assert response["Location"] == "/accounts/password-reset/sent/"
    assert len(mail.outbox) == 1
    link = re.search(r"http://testserver(/accounts/reset/\S+/)", str(mail.outbox[0].body))
    assert link is not None
    form_page = client.get(link.group(1), follow=True)
    assert form_page.context["validlink"] is True
    done = client.post(
        form_page.redirect_chain[-1][0],
        {"new_password1": "es-teh-manis-99", "new_password2": "es-teh-manis-99"},
    )
    assert done.status_code == 302
    assert done["Location"] == "/accounts/reset/done/"
    alice.user.refresh_from_db()
    assert alice.user.check_password("es-teh-manis-99")


def test_password_reset_for_an_unknown_address_says_the_same_and_sends_nothing(
    client: Client, db: None
) -> None:
    response = client.post("/accounts/password-reset/", {"email": "nobody@example.com"})
    assert response.status_code == 302
    assert mail.outbox == []


def _invite(actor: Actor, email: str, role: str = "member") -> str:
    _invitation, token = services.invitation_create(
        tenant=actor.tenant, email=email, role=role, invited_by=actor.user, acting_role="owner"
    )
    return token


def test_an_invited_person_without_an_account_chooses_a_password_and_joins(
    client: Client, alice: Actor
) -> None:
    token = _invite(alice, "dina@example.com", role="admin")
    page = client.get(f"/accounts/invite/{token}/")
    assert page.status_code == 200
    assert b"Alice Co" in page.content
    response = client.post(f"/accounts/invite/{token}/", {"password": "rendang-padang-7"})
    assert response.status_code == 302
    membership = Membership.objects.get(user__email="dina@example.com")
    assert (membership.tenant, membership.role) == (alice.tenant, "admin")
    assert client.get("/dashboard/team/").status_code == 200  # signed in, as an admin


def test_an_invited_person_with_an_account_logs_in_then_accepts(client: Client, alice: Actor) -> None:
    from tests.factories import UserFactory

    dina: Any = UserFactory(username="dina@example.com")
    token = _invite(alice, "dina@example.com")
    page = client.get(f"/accounts/invite/{token}/")
    assert f"/accounts/login/?next=/accounts/invite/{token}/".encode() in page.content
    client.force_login(dina)
    assert client.post(f"/accounts/invite/{token}/").status_code == 302
    assert Membership.objects.filter(user=dina, tenant=alice.tenant).exists()


@pytest.mark.parametrize("token", ["not-a-real-token", ""])
def test_an_unknown_invitation_link_is_a_404(client: Client, db: None, token: str) -> None:
    assert client.get(f"/accounts/invite/{token}x/").status_code == 404


def test_an_invitation_for_someone_else_is_refused_with_the_reason(
    client: Client, alice: Actor, charlie: Actor
) -> None:
    token = _invite(alice, "dina@example.com")
    client.force_login(charlie.user)
    response = client.post(f"/accounts/invite/{token}/")
    assert response.status_code == 400
    assert b"dina@example.com" in response.content
    assert not Membership.objects.filter(user=charlie.user, tenant=alice.tenant).exists()
