"""The dashboard shell: sign-in required, tenant-scoped, navigation shows only built pages."""

from __future__ import annotations

from typing import Any

from django.test import Client

from dashboard.templatetags.wavora import number_id, rupiah
from tests.conftest import Actor
from tests.factories import DeviceFactory


def test_anonymous_visitors_are_sent_to_the_login_page(client: Client, db: None) -> None:
    response = client.get("/dashboard/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_overview_lists_only_the_users_own_tenants_devices(
    client: Client, alice: Actor, charlie: Actor
) -> None:
    DeviceFactory.create(tenant=alice.tenant, name="Toko Alice")
    DeviceFactory.create(tenant=charlie.tenant, name="Charlie HP")
    client.force_login(alice.user)
    response = client.get("/dashboard/")
    assert response.status_code == 200
    assert b"Toko Alice" in response.content
    assert b"Charlie HP" not in response.content


def test_navigation_links_only_pages_that_exist(client: Client, alice: Actor) -> None:
    client.force_login(alice.user)
    nav = client.get("/dashboard/").context["nav"]
    assert nav[0]["url"] == "/dashboard/"
    assert all(item["url"].startswith("/dashboard/") for item in nav)


def test_a_user_without_a_tenant_is_refused(client: Client, django_user_model: Any) -> None:
    user = django_user_model.objects.create_user("lonely@example.com", "lonely@example.com", "pw-123456789")
    client.force_login(user)
    assert client.get("/dashboard/").status_code == 403


def test_a_platform_admin_without_a_tenant_is_sent_to_the_back_office(
    client: Client, django_user_model: Any
) -> None:
    admin = django_user_model.objects.create_superuser("ops@example.com", "ops@example.com", "pw-123456789")
    client.force_login(admin)

    response = client.get("/dashboard/")

    assert response.status_code == 302 and response["Location"] == "/backoffice/"
    assert client.get("/dashboard/billing/")["Location"] == "/backoffice/"


def test_rupiah_and_numbers_use_indonesian_grouping() -> None:
    assert rupiah(150000) == "Rp 150.000"
    assert rupiah(0) == "Rp 0"
    assert number_id(1234567) == "1.234.567"


def test_wib_times_use_indonesian_month_names_in_indonesian() -> None:
    import datetime as dt

    from django.utils import translation

    from dashboard.templatetags.wavora import wib

    moment = dt.datetime(2026, 8, 17, 3, 45, tzinfo=dt.UTC)  # 10:45 in Jakarta
    with translation.override("id"):
        assert wib(moment) == "17 Agu 2026 10:45 WIB"
    with translation.override("en"):
        assert wib(moment) == "17 Aug 2026 10:45 WIB"
    assert wib(None) == "—"
