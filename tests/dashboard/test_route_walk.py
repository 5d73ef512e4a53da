"""Walks EVERY route of the `dashboard` and `accounts` URL namespaces, read from the URL resolver: a
route added without an entry in ROUTES fails `test_every_route_has_a_walk_entry`.

For each route: the roles that may use it get 200 (a page) or the redirect of a done action, the
roles that may not get 403, and charlie (owner of another tenant) gets 404 on every route that names
one of alice's objects. alice owns the tenant, bob is a plain member in it.

To add a page: add one `Route` to ROUTES under its `namespace:name`; if it needs an object of
alice's tenant, build it in `World` and name it in `kwargs`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone
from PIL import Image

from billing import services as billing
from billing.models import Invoice, Payment
from messaging import autoreply
from tenants.models import Membership
from tenants.services import api_key_create, invitation_create
from tests.campaigns.conftest import create as create_campaign
from tests.campaigns.conftest import people
from tests.conftest import Actor
from tests.dashboard2.factories import ContactFactory
from tests.factories import DeviceFactory
from webhooks import services as webhooks
from webhooks.models import Event, WebhookDelivery

from .factories import MessageFactory

NAMESPACES = ("dashboard", "accounts")
EVERYONE = "everyone"  # any member of the tenant
MANAGERS = "managers"  # owners and admins
PUBLIC = "public"  # visitors, signed out


@dataclass
class World:
    """One object of each kind in alice's tenant, for the routes that name one."""

    device: Any
    message: Any
    membership: Any
    invitation: Any
    invitation_token: str
    endpoint: Any
    delivery: Any
    api_key: Any
    rule: Any
    invoice: Invoice
    payment: Payment
    campaign: Any


@dataclass(frozen=True)
class Route:
    roles: str = EVERYONE
    kwargs: Callable[[World], dict[str, Any]] | None = None  # URL arguments: names alice's objects
    method: str = "get"
    ok: int = 200  # what an allowed role gets; an action answers with its redirect
    query: Callable[[World], dict[str, Any]] | None = None
    data: Callable[[World], dict[str, Any]] | None = None

    @property
    def names_an_object(self) -> bool:
        return self.kwargs is not None or self.query is not None or self.data is not None


def _page(
    roles: str = EVERYONE, kwargs: Callable[[World], dict[str, Any]] | None = None, **more: Any
) -> Route:
    return Route(roles=roles, kwargs=kwargs, **more)


def _action(
    roles: str = EVERYONE,
    kwargs: Callable[[World], dict[str, Any]] | None = None,
    data: Callable[[World], dict[str, Any]] | None = None,
) -> Route:
    return Route(roles=roles, kwargs=kwargs, method="post", ok=302, data=data)


ROUTES: dict[str, Route] = {
    # Core pages.
    "dashboard:overview": _page(),
    "dashboard:devices": _page(),
    "dashboard:device_detail": _page(kwargs=lambda w: {"device_id": w.device.pk}),
    "dashboard:device_status": _page(kwargs=lambda w: {"device_id": w.device.pk}),
    "dashboard:send": _page(),
    "dashboard:messages": _page(),
    "dashboard:message_detail": _page(kwargs=lambda w: {"message_id": w.message.pk}),
    # Team.
    "dashboard:team": _page(MANAGERS),
    "dashboard:team_member": _action(
        MANAGERS, kwargs=lambda w: {"membership_id": w.membership.pk}, data=lambda w: {"action": "remove"}
    ),
    "dashboard:invitation_revoke": _action(MANAGERS, kwargs=lambda w: {"invitation_id": w.invitation.pk}),
    # Billing.
    "dashboard:billing": _page(MANAGERS),
    "dashboard:billing_change_plan": _action(
        MANAGERS, data=lambda w: {"device_id": str(w.device.pk), "plan_code": "pro"}
    ),
    "dashboard:billing_invoice": _page(MANAGERS, kwargs=lambda w: {"invoice_id": w.invoice.pk}),
    "dashboard:billing_pay": _action(
        MANAGERS, kwargs=lambda w: {"invoice_id": w.invoice.pk, "method": "bank"}
    ),
    "dashboard:billing_payment": _page(MANAGERS, kwargs=lambda w: {"payment_id": w.payment.pk}),
    "dashboard:billing_proof": _page(MANAGERS, kwargs=lambda w: {"payment_id": w.payment.pk}),
    # Webhooks.
    "dashboard:webhooks": _page(),
    "dashboard:webhook_create": _page(),
    "dashboard:webhook_delivery": _page(kwargs=lambda w: {"delivery_id": w.delivery.pk}),
    "dashboard:webhook_redeliver": _action(kwargs=lambda w: {"delivery_id": w.delivery.pk}),
    "dashboard:webhook_detail": _page(kwargs=lambda w: {"webhook_id": w.endpoint.pk}),
    "dashboard:webhook_edit": _page(kwargs=lambda w: {"webhook_id": w.endpoint.pk}),
    "dashboard:webhook_toggle": _action(kwargs=lambda w: {"webhook_id": w.endpoint.pk}),
    "dashboard:webhook_delete": _action(kwargs=lambda w: {"webhook_id": w.endpoint.pk}),
    "dashboard:webhook_rotate": _action(kwargs=lambda w: {"webhook_id": w.endpoint.pk}),
    "dashboard:webhook_test": _action(kwargs=lambda w: {"webhook_id": w.endpoint.pk}),
    # API keys.
    "dashboard:api_keys": _page(MANAGERS),
    "dashboard:api_key_create": _page(MANAGERS),
    "dashboard:api_key_created": _page(MANAGERS, kwargs=lambda w: {"key_id": w.api_key.pk}),
    "dashboard:api_key_revoke": _action(MANAGERS, kwargs=lambda w: {"key_id": w.api_key.pk}),
    "dashboard:api_key_rotate": _action(MANAGERS, kwargs=lambda w: {"key_id": w.api_key.pk}),
    # Auto-replies.
    "dashboard:auto_replies": _page(),
    "dashboard:auto_reply_create": _page(),
    "dashboard:auto_reply_edit": _page(kwargs=lambda w: {"rule_id": w.rule.pk}),
    "dashboard:auto_reply_toggle": _action(kwargs=lambda w: {"rule_id": w.rule.pk}),
    "dashboard:auto_reply_delete": _action(kwargs=lambda w: {"rule_id": w.rule.pk}),
    # Contacts.
    "dashboard:contacts": _page(),
    "dashboard:contacts_sync": _action(data=lambda w: {"device": str(w.device.pk)}),
    "dashboard:contacts_export": _page(query=lambda w: {"device": w.device.pk}),
    # Campaigns.
    "dashboard:campaigns": _page(),
    "dashboard:campaign_create": _page(),
    "dashboard:campaign_confirm": _action(),  # no upload kept in the session: back to the form
    "dashboard:campaign_csv_template": _page(),
    "dashboard:campaign_detail": _page(kwargs=lambda w: {"campaign_id": w.campaign["id"]}),
    "dashboard:campaign_progress": _page(kwargs=lambda w: {"campaign_id": w.campaign["id"]}),
    "dashboard:campaign_export": _page(kwargs=lambda w: {"campaign_id": w.campaign["id"]}),
    "dashboard:campaign_schedule": _action(kwargs=lambda w: {"campaign_id": w.campaign["id"]}),
    "dashboard:campaign_action": _action(
        kwargs=lambda w: {"campaign_id": w.campaign["id"], "action": "pause"}
    ),
    # Accounts (signed out).
    "accounts:signup": _page(PUBLIC),
    "accounts:login": _page(PUBLIC),
    "accounts:logout": _action(PUBLIC),
    "accounts:password_reset": _page(PUBLIC),
    "accounts:password_reset_done": _page(PUBLIC),
    "accounts:password_reset_confirm": _page(
        PUBLIC, kwargs=lambda w: {"uidb64": "MQ", "token": "set-password"}
    ),
    "accounts:password_reset_complete": _page(PUBLIC),
    "accounts:invitation_accept": _page(PUBLIC, kwargs=lambda w: {"token": w.invitation_token}),
}


def _route_names(patterns: list[URLPattern | URLResolver], prefix: str) -> Iterator[str]:
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            inner = f"{prefix}{pattern.namespace}:" if pattern.namespace else prefix
            yield from _route_names(pattern.url_patterns, inner)
        else:
            yield f"{prefix}{pattern.name}"  # an unnamed route shows up as "namespace:None"


def routes_in_namespaces() -> set[str]:
    resolver = get_resolver()
    names: set[str] = set()
    for namespace in NAMESPACES:
        _prefix, namespaced = resolver.namespace_dict[namespace]
        names |= set(_route_names(namespaced.url_patterns, f"{namespace}:"))
    return names


def test_every_route_has_a_walk_entry() -> None:
    routes = routes_in_namespaces()
    assert "dashboard:billing" in routes and "accounts:login" in routes  # the resolver was read
    assert sorted(routes - set(ROUTES)) == [], "add these routes to ROUTES"
    assert sorted(set(ROUTES) - routes) == [], "these ROUTES entries name no route"


def _png() -> bytes:
    buffer = BytesIO()
    Image.new("RGB", (8, 8), (200, 30, 30)).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.fixture
def world(alice: Actor, settings: Any, tmp_path: Path) -> World:
    settings.ALLOW_PRIVATE_URLS = True  # the endpoint's URL is not resolved by DNS here
    settings.MEDIA_ROOT = str(tmp_path)
    billing.dev_plans_seed()
    tenant = alice.tenant
    device = DeviceFactory.create(tenant=tenant)
    billing.subscription_start_free(tenant=tenant, device_id=device.pk)
    ContactFactory.create(device=device)
    other = get_user_model().objects.create_user("dina@example.com", "dina@example.com", "x")
    membership = Membership.objects.create(tenant=tenant, user=other, role=Membership.Role.MEMBER)
    invitation, token = invitation_create(
        tenant=tenant, email="eko@example.com", role="member", invited_by=None, acting_role="owner"
    )
    endpoint = webhooks.endpoint_create(tenant=tenant, url="http://127.0.0.1:9/hook")
    event = Event.objects.create(tenant=tenant, type="message.in", data={}, fanned_out_at=timezone.now())
    delivery = WebhookDelivery.objects.create(
        endpoint=endpoint, event=event, status=WebhookDelivery.Status.FAILED
    )
    api_key, _raw = api_key_create(tenant=tenant, name="walk", scopes=["devices:read"])
    rule = autoreply.rule_create(
        tenant=tenant, device=device, keyword="halo", reply={"type": "text", "text": "Hai"}
    )
    _subscription, invoice = billing.subscription_change_plan(
        tenant=tenant, device_id=device.pk, plan_code="pro", actor="test"
    )
    assert invoice is not None
    payment = billing.payment_start_manual(invoice=invoice, method=Payment.Method.QRIS_MANUAL, actor="test")
    payment = billing.payment_submit_proof(
        payment=payment,
        proof=SimpleUploadedFile("bukti.png", _png(), content_type="image/png"),
        paid_amount=invoice.total,
        paid_at=timezone.now() - dt.timedelta(minutes=5),
        actor="test",
    )
    return World(
        device=device,
        message=MessageFactory.create(device=device),
        membership=membership,
        invitation=invitation,
        invitation_token=token,
        endpoint=endpoint,
        delivery=delivery,
        api_key=api_key,
        rule=rule,
        invoice=invoice,
        payment=payment,
        campaign=create_campaign(alice, device, recipients=people(3)),
    )


def _request(client: Client, name: str, world: World) -> Any:
    route = ROUTES[name]
    url = reverse(name, kwargs=route.kwargs(world) if route.kwargs else None)
    if route.method == "post":
        return client.post(url, route.data(world) if route.data else {})
    return client.get(url, route.query(world) if route.query else {})


def _client(actor: Actor) -> Client:
    client = Client()
    client.force_login(actor.user)
    return client


TENANT_ROUTES = sorted(name for name, route in ROUTES.items() if route.roles != PUBLIC)
MANAGER_ROUTES = sorted(name for name, route in ROUTES.items() if route.roles == MANAGERS)
EVERYONE_ROUTES = sorted(name for name, route in ROUTES.items() if route.roles == EVERYONE)
OBJECT_ROUTES = sorted(name for name in TENANT_ROUTES if ROUTES[name].names_an_object)
PUBLIC_ROUTES = sorted(name for name, route in ROUTES.items() if route.roles == PUBLIC)


@pytest.mark.parametrize("name", TENANT_ROUTES)
def test_the_owner_may_use_every_route(alice: Actor, world: World, name: str) -> None:
    response = _request(_client(alice), name, world)
    assert response.status_code == ROUTES[name].ok, (name, response.status_code)


@pytest.mark.parametrize("name", EVERYONE_ROUTES)
def test_a_member_may_use_the_product_routes(bob: Actor, world: World, name: str) -> None:
    response = _request(_client(bob), name, world)
    assert response.status_code == ROUTES[name].ok, (name, response.status_code)


@pytest.mark.parametrize("name", MANAGER_ROUTES)
def test_a_member_is_refused_the_billing_api_key_and_team_routes(bob: Actor, world: World, name: str) -> None:
    assert _request(_client(bob), name, world).status_code == 403, name


@pytest.mark.parametrize("name", OBJECT_ROUTES)
def test_another_tenant_gets_404_for_every_route_naming_alices_objects(
    charlie: Actor, world: World, name: str
) -> None:
    assert _request(_client(charlie), name, world).status_code == 404, name


@pytest.mark.parametrize("name", TENANT_ROUTES)
def test_signed_out_visitors_are_sent_to_log_in(client: Client, world: World, name: str) -> None:
    response = _request(client, name, world)
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/"), name


@pytest.mark.parametrize("name", PUBLIC_ROUTES)
def test_visitors_may_use_the_account_routes(client: Client, world: World, name: str) -> None:
    response = _request(client, name, world)
    assert response.status_code == ROUTES[name].ok, (name, response.status_code)
