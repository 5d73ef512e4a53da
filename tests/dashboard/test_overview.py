"""The overview: usage against quota, a 30-day SVG chart by status, rates and recent failures."""

from __future__ import annotations

import datetime as dt
import re
from zoneinfo import ZoneInfo

import time_machine
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from billing.services import subscription_start_free
from dashboard.selectors import chart_of_tenant, usage_of_tenant
from devices.models import Device
from messaging.models import Message
from tests.conftest import Actor
from tests.factories import DeviceFactory

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
        usage = usage_of_tenant(tenant_id=alice.tenant.id, devices=[device])
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
