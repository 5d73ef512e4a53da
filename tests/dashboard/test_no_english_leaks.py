"""No English on Indonesian dashboard pages: status badges, selects and other labels that come from the
models' choices are translated, and so are the common service refusals shown on forms — while the API
(responses and the OpenAPI schema) stays English.

Every page of the route walk (except campaigns, not in this walk) is rendered in Indonesian with
objects in many states, and its visible text is searched for the English choice labels.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from io import StringIO
from typing import Any

import pytest
from django.apps import apps
from django.conf import settings
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone, translation

from billing.models import Invoice, Payment, Subscription
from devices.models import Device, GowaNode
from messaging.models import Message
from tests.conftest import Actor
from tests.factories import DeviceFactory
from webhooks.models import Event, WebhookDelivery

from . import test_route_walk
from .factories import MessageFactory, StatusChangeFactory
from .test_route_walk import PUBLIC, ROUTES, World

world = test_route_walk.world  # the route walk's objects, as a fixture here too

TRANSLATED_APPS = ("devices", "messaging", "webhooks", "billing", "tenants")
# Labels that are the same word in Indonesian (or a brand): not a leak.
SAME_IN_BOTH = {"Admin", "Audio", "Video", "DOKU Checkout", "QRIS (manual)"}


def english_choice_labels() -> set[str]:
    """Every choice label of the dashboard's models, in English."""
    labels: set[str] = set()
    with translation.override("en"):
        for model in apps.get_models():
            if model._meta.app_label not in TRANSLATED_APPS:
                continue
            for field in model._meta.get_fields():
                for _value, label in getattr(field, "choices", None) or ():
                    labels.add(str(label))
    return labels - SAME_IN_BOTH


class _VisibleText(HTMLParser):
    """What a reader sees: text nodes (not scripts or styles) and title/placeholder/alt attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.chunks: list[str] = []
        self._hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style"):
            self._hidden += 1
        for name, value in attrs:
            if name in ("title", "placeholder", "alt", "aria-label") and value:
                self.chunks.append(value)

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style"):
            self._hidden -= 1

    def handle_data(self, data: str) -> None:
        if not self._hidden and data.strip():
            self.chunks.append(data.strip())


def visible_text(html: str) -> list[str]:
    parser = _VisibleText()
    parser.feed(html)
    return parser.chunks


def english_leaks(html: str, labels: set[str]) -> list[str]:
    """The labels found as whole words in the page's visible text."""
    found = []
    for chunk in visible_text(html):
        for label in labels:
            if re.search(rf"(?<![\w-]){re.escape(label)}(?![\w-])", chunk):
                found.append(f"{label!r} in {chunk!r}")
    return found


def indonesian_client(actor: Actor | None = None) -> Client:
    client = Client()
    if actor is not None:
        client.force_login(actor.user)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "id"
    return client


@pytest.fixture
def busy_world(world: World, alice: Actor) -> World:
    """The route walk's objects plus devices, messages, deliveries, invoices and payments in every state."""
    tenant = alice.tenant
    for status in Device.Status.values:
        DeviceFactory.create(tenant=tenant, name=f"HP {status}", status=status)
    for status in Message.Status.values:
        message = MessageFactory.create(device=world.device, status=status)
        StatusChangeFactory.create(message=message, status=status)
    MessageFactory.create(device=world.device, direction=Message.Direction.IN, status=Message.Status.RECEIVED)
    for status in WebhookDelivery.Status.values:
        event = Event.objects.create(tenant=tenant, type="message.in", data={}, fanned_out_at=timezone.now())
        WebhookDelivery.objects.create(endpoint=world.endpoint, event=event, status=status)
    for status in Invoice.Status.values:
        Invoice.objects.create(
            number=f"INV-TEST-{status}",
            tenant=tenant,
            plan=world.invoice.plan,
            device_id=world.device.pk,
            kind=Invoice.Kind.RENEWAL,
            status=status,
            subtotal=world.invoice.subtotal,
            tax_rate_percent=world.invoice.tax_rate_percent,
            tax=world.invoice.tax,
            total=world.invoice.total,
            due_at=world.invoice.due_at,
        )
    for method in Payment.Method.values:
        for status in Payment.Status.values:
            Payment.objects.create(
                invoice=world.invoice,
                tenant=tenant,
                method=method,
                status=status,
                amount=world.invoice.total,
                external_reference=f"{world.invoice.number}-{method}-{status}",
            )
    Subscription.objects.filter(device=world.device).update(status=Subscription.Status.PAST_DUE)
    return world


def test_the_helper_finds_an_english_label_in_visible_text_only() -> None:
    labels = {"Paid", "Pending verification"}
    html = (
        '<p class="badge-paid">Paid</p><span title="Pending verification">x</span>'
        "<script>var s = 'Paid';</script><p>Dibayar · Unpaid</p>"
    )
    assert english_leaks(html, labels) == [
        "'Paid' in 'Paid'",
        "'Pending verification' in 'Pending verification'",
    ]


def test_every_dashboard_page_in_indonesian_shows_no_english_choice_label(
    alice: Actor, busy_world: World
) -> None:
    labels = english_choice_labels()
    assert {"Paid", "Open", "Succeeded", "Connected", "Active", "Monthly"} <= labels  # the models were read
    owner = indonesian_client(alice)
    visitor = indonesian_client()
    checked = 0
    for name, route in sorted(ROUTES.items()):
        if route.method != "get":
            continue
        url = reverse(name, kwargs=route.kwargs(busy_world) if route.kwargs else None)
        response = (visitor if route.roles == PUBLIC else owner).get(
            url, route.query(busy_world) if route.query else {}
        )
        assert response.status_code == 200, (name, response.status_code)
        if not response["Content-Type"].startswith("text/html"):
            continue  # the proof image, the CSV export, the status JSON
        checked += 1
        assert response["Content-Language"] == "id", name
        assert english_leaks(response.content.decode(), labels) == [], name
    assert checked >= 25


def test_the_billing_pages_show_statuses_periods_and_methods_in_indonesian(
    alice: Actor, busy_world: World
) -> None:
    client = indonesian_client(alice)
    overview = client.get("/dashboard/billing/").content.decode()
    for word in (
        "Belum dibayar",
        "Menunggu verifikasi",
        "Dibayar",
        "Tidak berlaku",
        "Lewat jatuh tempo",
        "bulanan",
    ):
        assert word in overview, word
    assert "/ bulanan" in overview
    invoice = client.get(f"/dashboard/billing/invoices/{busy_world.invoice.pk}/").content.decode()
    for word in (
        "Transfer bank (manual)",
        "Menunggu bukti",
        "Ditolak",
        "Perlu ditinjau (jumlah tidak cocok)",
    ):
        assert word in invoice, word


def test_the_webhook_delivery_log_and_message_filters_are_in_indonesian(
    alice: Actor, busy_world: World
) -> None:
    client = indonesian_client(alice)
    endpoint = client.get(f"/dashboard/webhooks/{busy_world.endpoint.pk}/").content.decode()
    assert "Berhasil" in endpoint and "Gagal" in endpoint
    delivery = client.get(f"/dashboard/webhooks/deliveries/{busy_world.delivery.pk}/").content.decode()
    assert ">Gagal<" in delivery
    logs = client.get("/dashboard/messages/").content.decode()
    assert '<option value="delivered">Diterima</option>' in logs
    assert "<td>Teks</td>" in logs and "<td>text</td>" not in logs  # the type column
    detail = client.get(f"/dashboard/messages/{busy_world.message.pk}/").content.decode()
    assert "<dd>Teks</dd>" in detail


def test_the_same_pages_in_english_still_say_it_in_english(alice: Actor, busy_world: World) -> None:
    client = Client()
    client.force_login(alice.user)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    overview = client.get("/dashboard/billing/").content.decode()
    assert "Pending verification" in overview and "Open" in overview and "monthly" in overview


def test_the_403_and_404_pages_are_in_indonesian(
    alice: Actor, bob: Actor, charlie: Actor, world: World
) -> None:
    refused = indonesian_client(bob).get("/dashboard/billing/")
    assert refused.status_code == 403
    missing = indonesian_client(charlie).get(f"/dashboard/devices/{world.device.pk}/")
    assert missing.status_code == 404
    assert "Tidak ditemukan" in missing.content.decode()
    for page in (refused, missing):
        text = " ".join(visible_text(page.content.decode()))
        for english in ("Not found", "Forbidden", "permission", "does not exist", "Back to"):
            assert english not in text, english


def test_the_device_limit_refusal_is_indonesian_on_the_form_and_english_in_the_api(
    alice: Actor, gowa_node: GowaNode, settings: Any
) -> None:
    settings.TENANT_DEFAULT_MAX_DEVICES = 1
    client = indonesian_client(alice)
    assert client.post("/dashboard/devices/", {"name": "Satu"}).status_code == 302
    refused = client.post("/dashboard/devices/", {"name": "Dua"})
    assert refused.status_code == 400
    errors = str(refused.context["form"].non_field_errors())
    assert "Paket Anda membolehkan 1 perangkat dan Anda sudah memiliki 1." in errors
    assert "Your plan" not in errors

    api = alice.api
    api.cookies[settings.LANGUAGE_COOKIE_NAME] = "id"
    body = api.post("/api/v1/devices", {"name": "Dua"}, format="json", HTTP_ACCEPT_LANGUAGE="id").json()
    assert body["error"]["code"] == "QUOTA_EXCEEDED"
    assert body["error"]["message"].startswith("Your plan allows 1 device(s) and you have 1.")


def test_a_send_to_an_invalid_number_names_the_field_in_indonesian(alice: Actor, make_device: Any) -> None:
    device = make_device(alice)
    page = indonesian_client(alice).post(
        "/dashboard/send/", {"device_id": str(device.pk), "type": "text", "to": "12", "text": "Halo"}
    )
    assert page.status_code == 400
    problems = " ".join(str(e) for errors in page.context["form"].errors.values() for e in errors)
    assert "Nomor telepon tidak valid" in problems
    assert "not a valid phone number" not in problems


def test_api_device_and_message_outputs_stay_english_for_an_indonesian_session(
    alice: Actor, busy_world: World
) -> None:
    client = indonesian_client(alice)  # the dashboard's session cookie also works on the API
    listing = client.get("/api/v1/devices", HTTP_ACCEPT_LANGUAGE="id")
    assert listing.status_code == 200
    assert {d["status"] for d in listing.json()["data"]} >= {"connected", "logged_out"}
    missing = client.get("/api/v1/devices/00000000-0000-0000-0000-000000000000", HTTP_ACCEPT_LANGUAGE="id")
    assert missing.status_code == 404 and missing.json()["error"]["message"].endswith(" not found.")
    blank = client.post("/api/v1/devices", {}, content_type="application/json", HTTP_ACCEPT_LANGUAGE="id")
    assert blank.status_code == 400
    assert blank.json()["error"]["details"]["name"] == ["This field is required."]


def test_the_openapi_schema_describes_enums_in_english_whatever_the_language(
    client: Client, db: None
) -> None:
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "id"
    schema = client.get(
        "/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json", HTTP_ACCEPT_LANGUAGE="id"
    ).content.decode()
    assert "`connected` - Connected" in schema and "`paid` - Paid" in schema
    assert "Terhubung" not in schema and "Dibayar" not in schema
    out = StringIO()
    with translation.override("id"):
        call_command("spectacular", stdout=out)
    assert "`connected` - Connected" in out.getvalue() and "Terhubung" not in out.getvalue()


def test_every_choice_label_has_an_indonesian_translation() -> None:
    untranslated = []
    with translation.override("id"):
        for model in apps.get_models():
            if model._meta.app_label not in TRANSLATED_APPS:
                continue
            for field in model._meta.get_fields():
                for _value, label in getattr(field, "choices", None) or ():
                    with translation.override("en"):
                        english = str(label)
                    if str(label) == english and english not in SAME_IN_BOTH:
                        untranslated.append(f"{model.__name__}.{field.name}: {english}")
    assert untranslated == []


def test_a_refused_webhook_url_is_explained_in_indonesian(alice: Actor) -> None:
    response = indonesian_client(alice).post(
        "/dashboard/webhooks/new/", {"url": "http://127.0.0.1:8000/hook", "is_active": "on"}
    )
    assert response.status_code == 200
    errors = " ".join(str(e) for e in response.context["form"].errors["url"])
    assert "Host 127.0.0.1 mengarah ke alamat loopback" in errors
    assert "resolves to" not in errors
