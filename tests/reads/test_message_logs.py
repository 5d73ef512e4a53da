"""``GET /api/v1/message-logs``: a tenant's sent and received messages, newest first, each filter proven,
bad filter values named, isolation between tenants and device-restricted keys, and no N+1."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from devices.models import Device
from messaging.models import Message
from tests.api.helpers import assert_error, assert_ok
from tests.factories import DeviceFactory

LOGS = "/api/v1/message-logs"
CUSTOMER = "6281111111111"
OTHER_CUSTOMER = "6282222222222"
SHOP_A = "6281200000001"
SHOP_B = "6281200000002"


def at(day: str) -> datetime:
    return datetime.fromisoformat(day).replace(tzinfo=UTC)


def message(device: Device, created: str, **fields: Any) -> Message:
    row = Message.objects.create(tenant=device.tenant, device=device, **fields)
    Message.objects.filter(pk=row.pk).update(created_at=at(created))
    return row


@dataclass
class Logs:
    shop_a: Device
    shop_b: Device
    sent_a: Message  # A → customer, text, sent, 10 Jan
    failed_a: Message  # A → other customer, image, failed, 20 Jan
    received_a: Message  # customer → A, text, received, 15 Jan 12:00
    delivered_b: Message  # B → customer, text, delivered, 1 Feb
    theirs: Message  # Charlie's, to the same customer


@pytest.fixture
def logs(alice: Any, charlie: Any) -> Logs:
    shop_a = DeviceFactory.create(tenant=alice.tenant, name="Shop A", phone=SHOP_A)
    shop_b = DeviceFactory.create(tenant=alice.tenant, name="Shop B", phone=SHOP_B)
    charlies = DeviceFactory.create(tenant=charlie.tenant, name="Charlie's", phone="6281299999999")
    return Logs(
        shop_a=shop_a,
        shop_b=shop_b,
        sent_a=message(shop_a, "2026-01-10T08:00:00", recipient=CUSTOMER, status="sent", type="text"),
        failed_a=message(
            shop_a, "2026-01-20T08:00:00", recipient=OTHER_CUSTOMER, status="failed", type="image"
        ),
        received_a=message(
            shop_a,
            "2026-01-15T12:00:00",
            direction="in",
            sender=CUSTOMER,
            recipient=CUSTOMER,
            status="received",
            type="text",
        ),
        delivered_b=message(shop_b, "2026-02-01T08:00:00", recipient=CUSTOMER, status="delivered"),
        theirs=message(charlies, "2026-01-12T08:00:00", recipient=CUSTOMER, status="sent"),
    )


def ids(response: Any) -> list[str]:
    return [row["id"] for row in assert_ok(response)]


def listed(*messages: Message) -> list[str]:
    return [str(m.pk) for m in messages]


# --- listing --------------------------------------------------------------------------------------
def test_logs_list_the_tenants_sent_and_received_messages_newest_first(alice: Any, logs: Logs) -> None:
    response = alice.api.get(LOGS)
    assert ids(response) == listed(logs.delivered_b, logs.failed_a, logs.received_a, logs.sent_a)
    assert response.json()["meta"]["pagination"] == {"page": 1, "page_size": 20, "total": 4}
    received = next(row for row in response.json()["data"] if row["id"] == str(logs.received_a.pk))
    assert received["direction"] == "in" and received["sender"] == CUSTOMER
    assert received["status"] == "received" and received["device_id"] == str(logs.shop_a.pk)


def test_logs_are_paginated_with_page_and_page_size(alice: Any, logs: Logs) -> None:
    first = alice.api.get(LOGS, {"page_size": 3})
    second = alice.api.get(LOGS, {"page_size": 3, "page": 2})
    assert ids(first) == listed(logs.delivered_b, logs.failed_a, logs.received_a)
    assert ids(second) == listed(logs.sent_a)
    assert second.json()["meta"]["pagination"] == {"page": 2, "page_size": 3, "total": 4}


# --- each filter ----------------------------------------------------------------------------------
def test_device_filter_keeps_one_devices_messages(alice: Any, logs: Logs) -> None:
    assert ids(alice.api.get(LOGS, {"device_id": str(logs.shop_a.pk)})) == listed(
        logs.failed_a, logs.received_a, logs.sent_a
    )
    assert ids(alice.api.get(LOGS, {"device_id": str(logs.shop_b.pk)})) == listed(logs.delivered_b)


def test_direction_filter_separates_received_from_sent(alice: Any, logs: Logs) -> None:
    assert ids(alice.api.get(LOGS, {"direction": "in"})) == listed(logs.received_a)
    assert ids(alice.api.get(LOGS, {"direction": "out"})) == listed(
        logs.delivered_b, logs.failed_a, logs.sent_a
    )


def test_status_filter(alice: Any, logs: Logs) -> None:
    assert ids(alice.api.get(LOGS, {"status": "failed"})) == listed(logs.failed_a)
    assert ids(alice.api.get(LOGS, {"status": "delivered"})) == listed(logs.delivered_b)


def test_type_filter(alice: Any, logs: Logs) -> None:
    assert ids(alice.api.get(LOGS, {"type": "image"})) == listed(logs.failed_a)


def test_to_filter_accepts_any_phone_format_and_finds_what_that_number_received(
    alice: Any, logs: Logs
) -> None:
    for spelling in (CUSTOMER, "+62 811-1111-1111", "08111111111 1", f"{CUSTOMER}@s.whatsapp.net"):
        assert ids(alice.api.get(LOGS, {"to": spelling})) == listed(logs.delivered_b, logs.sent_a), spelling
    # A device's own number: what it received.
    assert ids(alice.api.get(LOGS, {"to": SHOP_A})) == listed(logs.received_a)


def test_from_filter_finds_what_a_number_sent(alice: Any, logs: Logs) -> None:
    assert ids(alice.api.get(LOGS, {"from": "0811-1111-1111"})) == listed(logs.received_a)
    # A device's own number: what it sent.
    assert ids(alice.api.get(LOGS, {"from": SHOP_A})) == listed(logs.failed_a, logs.sent_a)


def test_date_range_filter_with_full_timestamps_and_whole_days(alice: Any, logs: Logs) -> None:
    assert ids(alice.api.get(LOGS, {"date_from": "2026-01-15T12:00:00Z"})) == listed(
        logs.delivered_b, logs.failed_a, logs.received_a
    )
    assert ids(alice.api.get(LOGS, {"date_to": "2026-01-15T11:59:59+00:00"})) == listed(logs.sent_a)
    # A bare date_to includes that whole day.
    assert ids(alice.api.get(LOGS, {"date_from": "2026-01-15", "date_to": "2026-01-20"})) == listed(
        logs.failed_a, logs.received_a
    )


def test_filters_combine(alice: Any, logs: Logs) -> None:
    query = {"device_id": str(logs.shop_a.pk), "direction": "out", "to": CUSTOMER}
    assert ids(alice.api.get(LOGS, query)) == listed(logs.sent_a)


def test_an_empty_filter_value_means_no_filter(alice: Any, logs: Logs) -> None:
    assert len(ids(alice.api.get(LOGS, {"status": "", "direction": ""}))) == 4


# --- bad filter values ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"direction": "sideways"}, "direction"),
        ({"status": "lost"}, "status"),
        ({"device_id": "not-a-uuid"}, "device_id"),
        ({"date_from": "yesterday"}, "date_from"),
        ({"date_to": "2026-13-45"}, "date_to"),
        ({"date_from": "2026-02-01", "date_to": "2026-01-01"}, "date_to"),
        ({"type": "x" * 21}, "type"),
    ],
)
def test_bad_filter_values_are_refused_naming_the_field(
    alice: Any, logs: Logs, query: dict[str, str], field: str
) -> None:
    error = assert_error(alice.api.get(LOGS, query), 400, "VALIDATION_ERROR")
    assert field in error["details"], error
    assert field in error["message"]


@pytest.mark.parametrize("field", ["to", "from"])
def test_a_bad_phone_filter_is_an_invalid_phone_naming_the_field(alice: Any, logs: Logs, field: str) -> None:
    error = assert_error(alice.api.get(LOGS, {field: "12ab"}), 400, "INVALID_PHONE")
    assert field in error["details"], error


# --- who sees what --------------------------------------------------------------------------------
def test_tenants_never_see_each_others_messages(alice: Any, bob: Any, charlie: Any, logs: Logs) -> None:
    assert ids(charlie.api.get(LOGS)) == listed(logs.theirs)
    assert str(logs.theirs.pk) not in ids(alice.api.get(LOGS))
    # Bob is in Alice's team and sees the team's messages.
    assert len(ids(bob.api.get(LOGS))) == 4
    # Naming Alice's device as a filter does not reach into her messages.
    assert ids(charlie.api.get(LOGS, {"device_id": str(logs.shop_a.pk)})) == []


def test_a_key_restricted_to_a_device_sees_only_that_devices_messages(alice: Any, logs: Logs) -> None:
    restricted = alice.client_with(device_ids=[logs.shop_b.pk])
    assert ids(restricted.get(LOGS)) == listed(logs.delivered_b)
    assert ids(restricted.get(LOGS, {"device_id": str(logs.shop_a.pk)})) == []


def test_reading_logs_needs_the_messages_read_scope(alice: Any, logs: Logs) -> None:
    sender_only = alice.client_with(scopes=["messages:send"])
    assert_error(sender_only.get(LOGS), 403, "FORBIDDEN")
    assert len(ids(alice.client_with(scopes=["messages:read"]).get(LOGS))) == 4


# --- efficiency -----------------------------------------------------------------------------------
def test_listing_costs_the_same_few_queries_however_many_messages(
    alice: Any, logs: Logs, django_assert_max_num_queries: Any
) -> None:
    alice.api.get(LOGS)  # warm up: key lookup caches, last_used_at, …
    with CaptureQueriesContext(connection) as few:
        assert len(ids(alice.api.get(LOGS, {"page_size": 100}))) == 4
    for n in range(40):
        message(logs.shop_b, f"2026-03-01T08:{n:02d}:00", recipient=CUSTOMER, status="sent")
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert len(ids(alice.api.get(LOGS, {"page_size": 100}))) == 44
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert len(ids(alice.api.get(LOGS, {"page_size": 100, "from": SHOP_B, "to": CUSTOMER}))) == 41
