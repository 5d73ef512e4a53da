"""Billing fixtures: a paid plan, devices with their free subscription (no GOWA needed), a platform
admin, and helpers that sign DOKU notifications exactly as DOKU does."""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
import json
from collections.abc import Callable
from typing import Any

import factory
import pytest
from django.test import override_settings
from PIL import Image
from rest_framework.test import APIClient

from billing.models import Invoice, Plan, Subscription
from billing.services import subscription_start_free
from devices.models import Device
from tenants.services import api_key_create
from tests.conftest import Actor, keyed_client
from tests.factories import DeviceFactory, UserFactory

DOKU_PATH = "/webhook/payment/doku"


class PlanFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Plan
        django_get_or_create = ("code",)

    code = "pro"
    name = "Pro"
    price = 150_000
    period = Plan.Period.MONTHLY
    message_quota = 20_000
    rate_limit_per_minute = 120
    device_limit = 10
    branding_footer = ""


@pytest.fixture
def pro_plan(db: None) -> Plan:
    return PlanFactory.create()


@pytest.fixture
def device_of(db: None) -> Callable[..., Device]:
    """A device row of ``actor``'s tenant on the free plan (billing never needs GOWA)."""

    def make(actor: Actor, **fields: Any) -> Device:
        device = DeviceFactory.create(tenant=actor.tenant, **fields)
        subscription_start_free(tenant=actor.tenant, device_id=device.pk)
        return device

    return make


@pytest.fixture
def staff_user(db: None) -> Any:
    return UserFactory.create(username="ops@wavora.test", is_staff=True, is_superuser=True)


@pytest.fixture
def admin_api(db: None) -> APIClient:
    _, raw = api_key_create(tenant=None, name="ops", is_platform_admin=True)
    return keyed_client(raw)


@pytest.fixture
def order_invoice(alice: Actor, device_of: Callable[..., Device], pro_plan: Plan) -> Invoice:
    """Alice asked for the Pro plan on her device: an open invoice."""
    device = device_of(alice)
    response = alice.api.post(
        "/api/v1/billing/subscriptions", {"device_id": str(device.pk), "plan_code": "pro"}, format="json"
    )
    assert response.status_code == 201, response.content
    return Invoice.objects.get(pk=response.json()["data"]["id"])


def subscription_of(invoice: Invoice) -> Subscription:
    assert invoice.device_id is not None
    return Subscription.objects.get(device_id=invoice.device_id)


def doku_headers(
    body: bytes,
    *,
    secret: str,
    client_id: str,
    request_id: str = "req-1",
    timestamp: str = "2026-11-22T01:00:00Z",
    target: str = DOKU_PATH,
) -> dict[str, str]:
    """DOKU's notification headers, computed here independently of billing.doku."""
    digest = base64.b64encode(hashlib.sha256(body).digest()).decode()
    text = (
        f"Client-Id:{client_id}\nRequest-Id:{request_id}\nRequest-Timestamp:{timestamp}\n"
        f"Request-Target:{target}\nDigest:{digest}"
    )
    mac = base64.b64encode(hmac.new(secret.encode(), text.encode(), hashlib.sha256).digest()).decode()
    return {
        "HTTP_CLIENT_ID": client_id,
        "HTTP_REQUEST_ID": request_id,
        "HTTP_REQUEST_TIMESTAMP": timestamp,
        "HTTP_SIGNATURE": f"HMACSHA256={mac}",
    }


def notification(reference: str, amount: int, status: str = "SUCCESS") -> bytes:
    return json.dumps(
        {
            "service": {"id": "VIRTUAL_ACCOUNT"},
            "acquirer": {"id": "BCA"},
            "channel": {"id": "VIRTUAL_ACCOUNT_BCA"},
            "order": {"invoice_number": reference, "amount": amount},
            "transaction": {"status": status, "date": "2026-11-22T01:00:00Z", "original_request_id": "x"},
        }
    ).encode()


DOKU_TEST_CREDENTIALS = {"DOKU_CLIENT_ID": "MCH-0001-TEST", "DOKU_SECRET_KEY": "SK-test-secret"}


@pytest.fixture
def doku_keys() -> Any:
    with override_settings(**DOKU_TEST_CREDENTIALS):
        yield DOKU_TEST_CREDENTIALS


@pytest.fixture
def post_doku(client: Any, doku_keys: dict[str, str]) -> Callable[..., Any]:
    def post(body: bytes, *, secret: str | None = None, signed_body: bytes | None = None) -> Any:
        headers = doku_headers(
            signed_body if signed_body is not None else body,
            secret=secret or doku_keys["DOKU_SECRET_KEY"],
            client_id=doku_keys["DOKU_CLIENT_ID"],
        )
        return client.post(DOKU_PATH, data=body, content_type="application/json", **headers)

    return post


def png_bytes(size: int = 8) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (size, size), (200, 30, 30)).save(buffer, format="PNG")
    return buffer.getvalue()
