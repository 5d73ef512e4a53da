"""The overview: usage against quota, a 30-day SVG chart by status, rates and recent failures."""

from __future__ import annotations

import datetime as dt
import re
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from billing.models import Plan, Subscription
from billing.services import dev_plans_seed, subscription_start_free
from dashboard.selectors import DeviceUsage, chart_of_tenant, usage_of_tenant
from devices.models import Device
from messaging.models import Message
from messaging.services import check_can_send
from tenants.authentication import principal_for_user
from tests.conftest import Actor
from tests.factories import DeviceFactory
from wavora.api.errors import QuotaExceeded

from .factories import MessageFactory

WIB = ZoneInfo("Asia/Jakarta")
NOW = dt.datetime(2026, 11, 20, 10, 0, tzinfo=WIB)


def _device(actor: Actor, **kwargs: object) -> Device:
    device = DeviceFactory.create(tenant=actor.tenant, **kwargs)
    subscription_start_free(tenant=actor.tenant, device_id=device.pk)
    return device


def test_usage_counts_outgoing_messages_today_in_wib_and_this_month_against_the_free_quota(
    alice: Actor, charlie: Actor
) -> None:
    device = _device(alice)
    with time_machine.travel(NOW, tick=False):
        MessageFactory.create(device=device, created=NOW)
        MessageFactory.create(
            device=device, created=dt.datetime(2026, 11, 20, 0, 30, tzinfo=WIB)
        )  # today WIB
        MessageFactory.create(
            device=device, created=dt.datetime(2026, 11, 19, 23, 30, tzinfo=WIB)
        )  # yesterday
        MessageFactory.create(device=device, created=dt.datetime(2026, 10, 30, tzinfo=WIB))  # last month
        MessageFactory.create(device=device, direction=Message.Direction.IN, created=NOW)  # not counted
        MessageFactory.create(device=_device(charlie), created=NOW)  # another tenant
        usage = usage_of_tenant(tenant=alice.tenant, devices=[device])
    assert (usage.today, usage.period) == (2, 3)
    assert usage.quota == 1000  # the free plan's
    assert usage.percent == 0


def test_the_chart_groups_the_last_30_wib_days_by_status_and_computes_the_rates(alice: Actor) -> None:
    device = _device(alice)
    with time_machine.travel(NOW, tick=False):
        for status in ("read", "read", "delivered", "sent", "failed"):
            MessageFactory.create(device=device, status=status, created=NOW)
        MessageFactory.create(device=device, status="pending", created=NOW - dt.timedelta(days=29))
        MessageFactory.create(device=device, status="read", created=NOW - dt.timedelta(days=31))  # outside
        chart = chart_of_tenant(tenant_id=alice.tenant.id)
    assert len(chart.days) == 30
    assert chart.days[-1] == NOW.date()
    assert chart.series["read"][-1] == 2
    assert chart.series["failed"][-1] == 1
    assert chart.series["pending"][0] == 1
    assert chart.totals == {"read": 2, "delivered": 1, "sent": 1, "pending": 1, "failed": 1}
    assert chart.delivery_rate == 3 / 5  # delivered or read, of those that left or failed
    assert chart.read_rate == 2 / 3


def test_the_overview_page_draws_the_chart_as_svg_and_lists_recent_failures(
    signed_in: object, alice: Actor, charlie: Actor
) -> None:
    device = _device(alice, name="Kasir")
    MessageFactory.create(device=device, status="failed", error_message="Nomor tidak terdaftar di WhatsApp")
    MessageFactory.create(device=_device(charlie), status="failed", error_message="Charlie's failure")
    page = signed_in(alice).get("/dashboard/")  # type: ignore[operator]
    html = page.content.decode()
    assert page.status_code == 200
    assert "<svg" in html and "<rect" in html
    # SVG needs dots, whatever the language's decimal separator (Indonesian uses a comma).
    geometry = re.findall(r'<rect x="([^"]+)" y="([^"]+)" width="([^"]+)" height="([^"]+)"', html)
    assert geometry
    assert all(re.fullmatch(r"-?\d+(\.\d+)?", value) for rect in geometry for value in rect)
    assert "Nomor tidak terdaftar di WhatsApp" in html
    assert "Charlie's failure" not in html
    assert 'role="progressbar"' in html
    assert "cdn" not in html.lower()


def test_the_overview_query_count_does_not_grow_with_messages(signed_in: object, alice: Actor) -> None:
    device = _device(alice)
    client: Client = signed_in(alice)  # type: ignore[operator]
    MessageFactory.create(device=device)
    with CaptureQueriesContext(connection) as few:
        client.get("/dashboard/")
    MessageFactory.create_batch(40, device=device, status="read")
    MessageFactory.create_batch(10, device=device, status="failed")
    with CaptureQueriesContext(connection) as many:
        client.get("/dashboard/")
    assert len(many) == len(few)


def test_a_paid_device_counts_from_its_paid_period_start_as_sending_does(
    signed_in: object, alice: Actor
) -> None:
    dev_plans_seed()
    paid, free = _device(alice, name="Kasir"), _device(alice, name="Gudang")
    start = dt.datetime(2026, 11, 12, 9, 0, tzinfo=WIB)
    Subscription.objects.filter(device=paid).update(
        plan=Plan.objects.get(code="pro"),
        current_period_start=start,
        current_period_end=start + dt.timedelta(days=30),
    )
    with time_machine.travel(NOW, tick=False):
        MessageFactory.create(device=paid, created=start + dt.timedelta(hours=1))
        MessageFactory.create(
            device=paid, created=start - dt.timedelta(hours=1)
        )  # this month, before the period
        MessageFactory.create(device=free, created=NOW)
        usage = usage_of_tenant(tenant=alice.tenant, devices=[paid, free])
        html = signed_in(alice).get("/dashboard/").content.decode()  # type: ignore[operator]
    assert usage.devices == {
        paid.pk: DeviceUsage(used=1, quota=20_000),
        free.pk: DeviceUsage(used=1, quota=1000),
    }
    assert (usage.period, usage.quota, usage.per_device) == (2, 21_000, True)
    assert usage.renews_at == dt.datetime(2026, 12, 1, tzinfo=dt.UTC)  # the free device's month ends first
    assert '<span class="muted stat-of" data-stat="quota">/ 21.000</span>' in html
    assert re.search(rf'data-device-id="{paid.pk}">.*?<td class="num" data-quota>1 / 20.000</td>', html, re.S)


def test_a_partners_message_cap_is_the_tenant_wide_bar_that_sending_hits(
    signed_in: object, alice: Actor, charlie: Actor
) -> None:
    alice.tenant.max_messages = 3
    alice.tenant.save(update_fields=["max_messages"])
    kasir, gudang = _device(alice), _device(alice)
    with time_machine.travel(NOW, tick=False):
        MessageFactory.create_batch(2, device=kasir, created=NOW)
        MessageFactory.create(device=gudang, created=NOW - dt.timedelta(days=2))
        MessageFactory.create(device=kasir, created=NOW - dt.timedelta(days=40))  # last month
        MessageFactory.create(device=_device(charlie), created=NOW)  # another tenant
        usage = usage_of_tenant(tenant=alice.tenant, devices=[kasir, gudang])
        html = signed_in(alice).get("/dashboard/").content.decode()  # type: ignore[operator]
        principal = principal_for_user(alice.user)
        assert principal is not None
        with pytest.raises(QuotaExceeded):  # the bar is full exactly when sending is refused
            check_can_send(principal=principal, device=gudang)
    assert (usage.period, usage.quota, usage.per_device, usage.percent) == (3, 3, False, 100)
    assert usage.renews_at == dt.datetime(2026, 12, 1, tzinfo=dt.UTC)
    assert 'data-stat="quota">/ 3</span>' in html and 'aria-valuenow="100"' in html
    assert "data-quota>" not in html  # no per-device column under a tenant-wide cap


def test_below_a_partners_cap_sending_is_allowed_and_the_bar_is_not_full(alice: Actor) -> None:
    alice.tenant.max_messages = 4
    alice.tenant.save(update_fields=["max_messages"])
    kasir = _device(alice)
    MessageFactory.create_batch(3, device=kasir)
    principal = principal_for_user(alice.user)
    assert principal is not None
    check_can_send(principal=principal, device=kasir)
    usage = usage_of_tenant(tenant=alice.tenant, devices=[kasir])
    assert (usage.period, usage.quota, usage.percent) == (3, 4, 75)
