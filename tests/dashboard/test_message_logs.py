"""Message logs: filters (WIB dates), pagination, the detail with its status history, isolation."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from django.test import Client

from messaging.models import Message
from tests.conftest import Actor
from tests.factories import DeviceFactory

from .factories import MessageFactory, StatusChangeFactory

WIB = ZoneInfo("Asia/Jakarta")


def _ids(response: Any) -> set[str]:
    return {str(m.pk) for m in response.context["page"].object_list}


def test_filters_narrow_the_log(signed_in: Any, alice: Actor) -> None:
    kasir, gudang = DeviceFactory.create(tenant=alice.tenant), DeviceFactory.create(tenant=alice.tenant)
    read = MessageFactory.create(device=kasir, status="read", recipient="6281111111111")
    failed = MessageFactory.create(device=kasir, status="failed", type="image")
    inbound = MessageFactory.create(
        device=gudang, direction="in", status="received", sender="6281111111111@s.whatsapp.net"
    )
    client: Client = signed_in(alice)
    assert _ids(client.get("/dashboard/messages/")) == {str(read.pk), str(failed.pk), str(inbound.pk)}
    assert _ids(client.get("/dashboard/messages/", {"status": "failed"})) == {str(failed.pk)}
    assert _ids(client.get("/dashboard/messages/", {"type": "image"})) == {str(failed.pk)}
    assert _ids(client.get("/dashboard/messages/", {"device": str(gudang.pk)})) == {str(inbound.pk)}
    assert _ids(client.get("/dashboard/messages/", {"direction": "in"})) == {str(inbound.pk)}
    # The phone matches the other party either way, typed any common way.
    assert _ids(client.get("/dashboard/messages/", {"phone": "0811-1111-1111"})) == {
        str(read.pk),
        str(inbound.pk),
    }


def test_dates_are_whole_days_in_wib(signed_in: Any, alice: Actor) -> None:
    device = DeviceFactory.create(tenant=alice.tenant)
    late_on_the_19th = MessageFactory.create(
        device=device, created=dt.datetime(2026, 11, 19, 23, 30, tzinfo=WIB)
    )
    early_on_the_20th = MessageFactory.create(
        device=device, created=dt.datetime(2026, 11, 20, 0, 30, tzinfo=WIB)
    )
    client: Client = signed_in(alice)
    day = {"date_from": "2026-11-20", "date_to": "2026-11-20"}
    assert _ids(client.get("/dashboard/messages/", day)) == {str(early_on_the_20th.pk)}
    assert _ids(client.get("/dashboard/messages/", {"date_to": "2026-11-19"})) == {str(late_on_the_19th.pk)}


def test_bad_filters_are_field_errors_not_500s(signed_in: Any, alice: Actor) -> None:
    client: Client = signed_in(alice)
    for params, field in (
        ({"date_from": "2026-11-20", "date_to": "2026-11-01"}, "date_to"),
        ({"date_from": "kemarin"}, "date_from"),
        ({"status": "lost"}, "status"),
        ({"device": "not-a-device"}, "device"),
    ):
        response = client.get("/dashboard/messages/", params)
        assert response.status_code == 400
        assert field in response.context["form"].errors


def test_the_log_is_paginated_newest_first(signed_in: Any, alice: Actor) -> None:
    device = DeviceFactory.create(tenant=alice.tenant)
    base = dt.datetime(2026, 11, 1, tzinfo=WIB)
    messages = [
        MessageFactory.create(device=device, created=base + dt.timedelta(minutes=i)) for i in range(30)
    ]
    client: Client = signed_in(alice)
    first = client.get("/dashboard/messages/")
    assert first.context["page"].object_list[0].pk == messages[-1].pk
    assert len(first.context["page"].object_list) == 25
    assert b"page=2" in first.content
    second = client.get("/dashboard/messages/", {"page": 2})
    assert len(second.context["page"].object_list) == 5


def test_the_detail_shows_the_status_history_in_wib(signed_in: Any, alice: Actor) -> None:
    message = MessageFactory.create(device=DeviceFactory.create(tenant=alice.tenant), status="read")
    for status, hour in (("pending", 3), ("sent", 4), ("delivered", 5), ("read", 6)):
        StatusChangeFactory.create(
            message=message, status=status, at=dt.datetime(2026, 11, 20, hour, tzinfo=dt.UTC)
        )
    page = signed_in(alice).get(f"/dashboard/messages/{message.pk}/")
    html = page.content.decode()
    assert page.status_code == 200
    assert "20/11/2026 13:00:00 WIB" in html  # 06:00 UTC
    assert html.index("badge-pending") < html.index("badge-delivered")
    assert "Halo dari Wavora" in html


def test_other_tenants_messages_are_invisible(signed_in: Any, alice: Actor, charlie: Actor) -> None:
    theirs = MessageFactory.create(device=DeviceFactory.create(tenant=charlie.tenant))
    client: Client = signed_in(alice)
    assert client.get(f"/dashboard/messages/{theirs.pk}/").status_code == 404
    assert _ids(client.get("/dashboard/messages/")) == set()
    assert Message.objects.count() == 1
