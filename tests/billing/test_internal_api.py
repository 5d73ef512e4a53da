"""The partner provisioning API (seed 002): key scopes, upsert, key shown once, rotate, isolation."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from rest_framework.test import APIClient

from billing.models import Plan, Subscription
from billing.services import subscription_start_free
from devices.models import Device
from tenants.internal_apis import parse_internal_keys
from tenants.models import ApiKey, Tenant
from tests.api.helpers import assert_error, assert_ok
from tests.conftest import keyed_client
from tests.factories import DeviceFactory

KEYS = ["genfity-app:key-genfity-123", "govconnect:key-gov-456", "super-admin-key"]


@pytest.fixture(autouse=True)
def internal_keys(settings: Any) -> None:
    settings.INTERNAL_API_KEYS = KEYS


def partner(key: str, *, bearer: bool = False) -> APIClient:
    client = APIClient()
    if bearer:
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    else:
        client.credentials(HTTP_X_INTERNAL_API_KEY=key)
    return client


genfity = partner("key-genfity-123")
govconnect = partner("key-gov-456", bearer=True)
superadmin = partner("super-admin-key")


def upsert(client: APIClient, **body: Any) -> Any:
    return client.post("/internal/tenants", body, format="json")


def test_keys_parse_into_scoped_and_global() -> None:
    assert parse_internal_keys(["a:1", " b : 2 ", "global", "", "c:"]) == [
        ("a", "1"),
        ("b", "2"),
        (None, "global"),
    ]


def test_me_tells_the_mode_and_source(db: None) -> None:
    assert assert_ok(genfity.get("/internal/me")) == {
        "auth": {"mode": "scoped", "source_service": "genfity-app"}
    }
    assert assert_ok(superadmin.get("/internal/me")) == {"auth": {"mode": "global", "source_service": None}}
    assert_error(partner("wrong").get("/internal/me"), 401, "UNAUTHORIZED")
    assert_error(APIClient().get("/internal/me"), 401, "UNAUTHORIZED")


def test_a_tenant_key_is_not_an_internal_key(alice: Any) -> None:
    assert_error(alice.api.get("/internal/me"), 401, "UNAUTHORIZED")


def test_upsert_creates_with_limits_and_returns_the_api_key_only_on_creation(db: None) -> None:
    created = upsert(
        genfity,
        external_id="usr_001",
        source="someone-else",
        expires_at="2026-12-31T23:59:59Z",
        max_devices=3,
        max_messages=10_000,
        created_by="order-service",
        name="Toko Budi",
    )
    data = assert_ok(created, 201)
    assert data["source"] == "genfity-app"  # a scoped key always writes its own source
    assert (data["max_devices"], data["max_messages"], data["expires_at"]) == (
        3,
        10_000,
        "2026-12-31T23:59:59Z",
    )
    assert data["api_key"].startswith("wv_live_")
    # the key works on the public API
    assert_ok(keyed_client(data["api_key"]).get("/api/v1/devices"))
    again = assert_ok(upsert(genfity, external_id="usr_001", max_devices=5))
    assert "api_key" not in again and again["max_devices"] == 5 and again["max_messages"] == 10_000
    assert Tenant.objects.get(external_id="usr_001").device_limit == 5


def test_a_scoped_key_never_sees_another_sources_tenants(db: None) -> None:
    assert_ok(upsert(genfity, external_id="usr_g"), 201)
    assert_ok(upsert(govconnect, external_id="usr_v"), 201)
    assert [t["external_id"] for t in assert_ok(genfity.get("/internal/tenants?source=govconnect"))] == [
        "usr_g"
    ]
    assert_error(genfity.get("/internal/tenants/usr_v"), 404, "NOT_FOUND")
    assert_error(genfity.put("/internal/tenants/usr_v", {"max_devices": 9}, format="json"), 404, "NOT_FOUND")
    assert_error(genfity.get("/internal/tenants/usr_v/apikey"), 404, "NOT_FOUND")
    assert_error(genfity.post("/internal/tenants/usr_v/apikey/rotate"), 404, "NOT_FOUND")
    assert_error(upsert(genfity, external_id="usr_v", max_devices=9), 409, "EXTERNAL_ID_CONFLICT")
    assert Tenant.objects.get(external_id="usr_v").max_devices == 0
    # the global key sees everyone and can filter
    assert {t["external_id"] for t in assert_ok(superadmin.get("/internal/tenants"))} == {"usr_g", "usr_v"}
    assert [t["external_id"] for t in assert_ok(superadmin.get("/internal/tenants?source=govconnect"))] == [
        "usr_v"
    ]


def test_put_updates_and_apikey_shows_metadata_and_rotates(db: None) -> None:
    raw = assert_ok(upsert(genfity, external_id="usr_2"), 201)["api_key"]
    updated = assert_ok(
        genfity.put("/internal/tenants/usr_2", {"expires_at": None, "max_messages": 50}, format="json")
    )
    assert (updated["expires_at"], updated["max_messages"]) == (None, 50)
    meta = assert_ok(genfity.get("/internal/tenants/usr_2/apikey"))
    assert meta["prefix"] == raw[:12] and "key" not in meta and "api_key" not in meta
    rotated = assert_ok(genfity.post("/internal/tenants/usr_2/apikey/rotate"), 201)
    assert rotated["api_key"] != raw
    assert_error(keyed_client(raw).get("/api/v1/devices"), 401, "UNAUTHORIZED")
    assert_ok(keyed_client(rotated["api_key"]).get("/api/v1/devices"))
    assert ApiKey.objects.filter(tenant__external_id="usr_2", revoked_at__isnull=True).count() == 1


def test_bad_input_is_a_clear_400(db: None) -> None:
    error = assert_error(upsert(genfity, max_devices=-1), 400, "VALIDATION_ERROR")
    assert {"external_id", "max_devices"} <= set(error["details"])
    error = assert_error(upsert(genfity, external_id="usr_3", plan="platinum"), 400, "VALIDATION_ERROR")
    assert "plan" in error["details"]
    assert not Tenant.objects.filter(external_id="usr_3").exists()  # rolled back with the bad plan


def test_a_provisioned_plan_runs_every_device_without_invoices(
    db: None, device_of: Callable[..., Device], pro_plan: Plan
) -> None:
    assert_ok(upsert(genfity, external_id="usr_4", plan="pro"), 201)
    tenant = Tenant.objects.get(external_id="usr_4")
    device = DeviceFactory.create(tenant=tenant)
    subscription = subscription_start_free(tenant=tenant, device_id=device.pk)
    assert (subscription.plan.code, subscription.current_period_end) == ("pro", None)
    assert_ok(upsert(genfity, external_id="usr_4", plan=""))
    assert Subscription.objects.get(device=device).plan.code == "free"
    assert not tenant.invoices.exists()
