"""Every page of this part of the dashboard answers its roles: 200 for owners (and admins), 200 for
members except the API keys pages (403), the login page for visitors."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from messaging import autoreply
from tests.conftest import Actor
from tests.factories import DeviceFactory
from webhooks import services

from .factories import ContactFactory

EVERYONE_PAGES = (
    "/dashboard/webhooks/",
    "/dashboard/webhooks/new/",
    "/dashboard/auto-replies/",
    "/dashboard/auto-replies/new/",
    "/dashboard/contacts/",
)
MANAGER_PAGES = ("/dashboard/api-keys/", "/dashboard/api-keys/new/")


@pytest.fixture
def object_pages(alice: Actor, settings: Any) -> tuple[str, ...]:
    """The detail and edit pages of one object of each kind in Alice's tenant."""
    device = DeviceFactory.create(tenant=alice.tenant)
    ContactFactory.create(device=device)
    settings.ALLOW_PRIVATE_URLS = True  # no DNS in the test environment
    endpoint = services.endpoint_create(tenant=alice.tenant, url="http://127.0.0.1:9/hook")
    rule = autoreply.rule_create(
        tenant=alice.tenant, device=device, keyword="halo", reply={"type": "text", "text": "Hai"}
    )
    return (
        f"/dashboard/webhooks/{endpoint.pk}/",
        f"/dashboard/webhooks/{endpoint.pk}/edit/",
        f"/dashboard/auto-replies/{rule.pk}/edit/",
        f"/dashboard/contacts/?device={device.pk}",
    )


def test_owners_get_every_page(as_alice: Client, object_pages: tuple[str, ...]) -> None:
    for url in (*EVERYONE_PAGES, *MANAGER_PAGES, *object_pages):
        assert as_alice.get(url).status_code == 200, url


def test_members_get_every_page_but_api_keys(as_bob: Client, object_pages: tuple[str, ...]) -> None:
    for url in (*EVERYONE_PAGES, *object_pages):
        assert as_bob.get(url).status_code == 200, url
    for url in MANAGER_PAGES:
        assert as_bob.get(url).status_code == 403, url


def test_other_tenants_get_404_on_every_object_page(
    as_charlie: Client, object_pages: tuple[str, ...]
) -> None:
    for url in object_pages:
        assert as_charlie.get(url).status_code == 404, url


def test_visitors_are_sent_to_the_login_page(client: Client, db: None) -> None:
    for url in (*EVERYONE_PAGES, *MANAGER_PAGES):
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith("/accounts/login/"), url


def test_forms_carry_a_csrf_token_and_posts_without_one_are_refused(alice: Actor) -> None:
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(alice.user)
    assert 'name="csrfmiddlewaretoken"' in strict.get("/dashboard/webhooks/new/").content.decode()
    assert (
        strict.post("/dashboard/api-keys/new/", {"name": "x", "scopes": ["devices:read"]}).status_code == 403
    )


def test_pages_render_in_indonesian_by_default(alice: Actor, object_pages: tuple[str, ...]) -> None:
    client = Client()  # no language cookie: Indonesian, the default
    client.force_login(alice.user)
    for url in (*EVERYONE_PAGES, *MANAGER_PAGES, *object_pages):
        response = client.get(url)
        assert response.status_code == 200 and response["Content-Language"] == "id", url
