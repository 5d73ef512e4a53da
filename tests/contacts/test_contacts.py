"""Contacts: captured from inbound 1:1 messages (``contacts.new`` once per contact), synced from
GOWA's contact list (``contacts.sync``), listed as JSON pages or exported as formula-safe CSV, and
never visible to another tenant."""

from __future__ import annotations

import csv
import io
from typing import Any
from unittest import mock

import pytest

from devices.gowa import GowaClient, GowaTransientError
from devices.models import Device
from messaging.contacts import CSV_HEADER, csv_cell, person_identity
from messaging.models import Contact
from tests.api.helpers import assert_error, assert_ok
from tests.conftest import Actor, Simulator
from webhooks.models import Event

from .conftest import CUSTOMER, inbound


def csv_text(response: Any) -> str:
    assert response.status_code == 200, response.content
    return b"".join(response.streaming_content).decode()


def contacts_url(device: Any, query: str = "") -> str:
    return f"/api/v1/devices/{device.pk}/contacts" + (f"?{query}" if query else "")


def sim_knows(sim: Simulator, device: Device, *people: tuple[str, str]) -> None:
    """Puts (phone, name) pairs in the simulated phone's contact store without telling Wavora."""
    sim.configure(webhook_events=["message.ack"])  # the inbound webhooks are not forwarded
    for phone, name in people:
        sim.control(
            "POST", f"/_sim/devices/{device.pk}/inbound", json={"from": phone, "name": name, "text": "x"}
        )
    sim.configure(webhook_events=[])


# --- capture ---------------------------------------------------------------------------------
def test_the_sender_of_an_inbound_message_becomes_a_contact_and_contacts_new_is_emitted(
    device: Device,
) -> None:
    message = inbound(device, "Halo kak", name="Budi Santoso")

    contact = Contact.objects.get()
    assert (contact.device_id, contact.tenant_id) == (device.pk, device.tenant_id)
    assert (contact.phone, contact.jid, contact.name) == (
        CUSTOMER,
        f"{CUSTOMER}@s.whatsapp.net",
        "Budi Santoso",
    )
    assert contact.source == "inbound"
    assert message is not None and contact.first_seen_at == contact.last_seen_at == message.created_at
    event = Event.objects.get(type="contacts.new")
    assert event.tenant_id == device.tenant_id and event.device_id == device.pk
    assert event.data["phone"] == CUSTOMER and event.data["name"] == "Budi Santoso"
    assert event.data["jid"] == f"{CUSTOMER}@s.whatsapp.net" and event.data["source"] == "inbound"


def test_contacts_new_is_emitted_once_per_contact_and_later_messages_refresh_it(device: Device) -> None:
    inbound(device, "Halo", name="Budi")
    first = Contact.objects.get()
    inbound(device, "Masih ada?", name="Budi S.")
    inbound(device, "Ok", name="")  # no push name: the stored one stays
    inbound(device, "Saya Siti", sender="6281234500002", name="Siti")

    assert Event.objects.filter(type="contacts.new").count() == 2
    budi = Contact.objects.get(phone=CUSTOMER)
    assert budi.name == "Budi S." and budi.first_seen_at == first.first_seen_at
    assert budi.last_seen_at > first.last_seen_at
    assert Contact.objects.count() == 2


def test_a_duplicate_gowa_webhook_captures_nothing_twice(device: Device) -> None:
    payload_id = "3EB0DUPLICATE1"
    inbound(device, "Halo", name="Budi", id=payload_id)
    inbound(device, "Halo", name="Budi", id=payload_id)
    assert Contact.objects.count() == 1
    assert Event.objects.filter(type="contacts.new").count() == 1


def test_group_members_are_not_captured(device: Device) -> None:
    inbound(device, "Halo grup", name="Andi", chat="120363025246125486@g.us")
    assert not Contact.objects.exists()
    assert not Event.objects.filter(type="contacts.new").exists()


def test_a_sender_hidden_behind_a_lid_is_kept_without_a_phone(device: Device) -> None:
    inbound(device, "Halo", sender="123456789012345@lid", name="Rina")
    contact = Contact.objects.get()
    assert (contact.jid, contact.phone, contact.name) == ("123456789012345@lid", "", "Rina")


def test_our_own_phone_typed_messages_capture_no_contact(device: Device) -> None:
    inbound(device, "Dari HP", is_from_me=True)
    assert not Contact.objects.exists()


def test_the_same_person_is_a_separate_contact_on_each_device(
    alice: Actor, device: Device, make_device: Any
) -> None:
    other = make_device(alice, name="Second", connected=True, phone="6281200000002")
    inbound(device, "Halo", name="Budi")
    inbound(other, "Halo", name="Budi")
    assert Contact.objects.count() == 2
    assert Event.objects.filter(type="contacts.new").count() == 2


@pytest.mark.parametrize(
    ("jid", "identity"),
    [
        ("6281234500001@s.whatsapp.net", ("6281234500001@s.whatsapp.net", "6281234500001")),
        ("6281234500001:12@s.whatsapp.net", ("6281234500001@s.whatsapp.net", "6281234500001")),
        ("6281234500001.0:3@s.whatsapp.net", ("6281234500001@s.whatsapp.net", "6281234500001")),
        ("987654321098@lid", ("987654321098@lid", "")),
        ("120363025246125486@g.us", None),
        ("status@broadcast", None),
        ("120363144038483540@newsletter", None),
        ("", None),
    ],
)
def test_only_people_are_contacts(jid: str, identity: tuple[str, str] | None) -> None:
    assert person_identity(jid) == identity


# --- listing ---------------------------------------------------------------------------------
def test_the_list_is_paginated_in_the_envelope_most_recent_first(alice: Actor, device: Device) -> None:
    for index in range(3):
        inbound(device, "Halo", sender=f"628123450000{index}", name=f"Pelanggan {index}")

    response = alice.api.get(contacts_url(device, "sync=false&page_size=2"))

    data = assert_ok(response)
    body = response.json()
    assert body["meta"]["pagination"] == {"page": 1, "page_size": 2, "total": 3}
    assert body["meta"]["sync"] == {"synced": False, "reason": "sync=false", "result": None}
    assert [c["name"] for c in data] == ["Pelanggan 2", "Pelanggan 1"]
    assert set(data[0]) == {
        "id",
        "device_id",
        "phone",
        "name",
        "jid",
        "source",
        "first_seen_at",
        "last_seen_at",
    }
    assert data[0]["phone"] == "6281234500002" and data[0]["source"] == "inbound"
    assert data[0]["first_seen_at"].endswith("Z")
    page2 = assert_ok(alice.api.get(contacts_url(device, "sync=false&page_size=2&page=2")))
    assert [c["name"] for c in page2] == ["Pelanggan 0"]


@pytest.mark.parametrize("search", ["budi", "0812-3450-0001", "+62 812 3450 0001", "500001"])
def test_search_finds_by_name_or_phone_in_any_form(alice: Actor, device: Device, search: str) -> None:
    inbound(device, "Halo", sender="6281234500001", name="Budi")
    inbound(device, "Halo", sender="6281299990000", name="Siti")
    data = assert_ok(alice.api.get(contacts_url(device, "sync=false"), {"search": search}))
    assert [c["name"] for c in data] == ["Budi"]


def test_by_default_the_list_syncs_from_whatsapp_first(alice: Actor, device: Device, sim: Simulator) -> None:
    sim_knows(sim, device, ("6281277770001", "Toko Sebelah"))

    response = alice.api.get(contacts_url(device))

    data = assert_ok(response)
    assert response.json()["meta"]["sync"] == {
        "synced": True,
        "reason": None,
        "result": {"total": 1, "created": 1, "updated": 0},
    }
    assert [(c["phone"], c["name"], c["source"]) for c in data] == [("6281277770001", "Toko Sebelah", "sync")]
    # A page fetched right after does not ask WhatsApp again.
    again = alice.api.get(contacts_url(device, "page=1"))
    assert again.json()["meta"]["sync"]["synced"] is False
    assert Event.objects.filter(type="contacts.sync").count() == 1


def test_the_default_sync_falls_back_to_the_stored_list_when_the_device_is_offline(
    alice: Actor, make_device: Any
) -> None:
    offline = make_device(alice, name="Offline")
    response = alice.api.get(contacts_url(offline))
    assert assert_ok(response) == []
    sync = response.json()["meta"]["sync"]
    assert sync["synced"] is False and sync["reason"].startswith("DEVICE_NOT_CONNECTED")
    # Asked for explicitly, the failure is the answer.
    assert_error(alice.api.get(contacts_url(offline, "sync=true")), 409, "DEVICE_NOT_CONNECTED")


def test_bad_query_values_are_400(alice: Actor, device: Device) -> None:
    error = assert_error(alice.api.get(contacts_url(device, "format=xml")), 400, "VALIDATION_ERROR")
    assert "format" in error["details"]
    error = assert_error(alice.api.get(contacts_url(device, "sync=maybe")), 400, "VALIDATION_ERROR")
    assert "sync" in error["details"]


# --- sync ------------------------------------------------------------------------------------
def test_sync_upserts_whatsapps_contact_list_and_emits_contacts_sync_with_counts(
    alice: Actor, device: Device, sim: Simulator
) -> None:
    inbound(device, "Halo", sender="6281277770001", name="Budi")  # known already, renamed in the phone
    sim_knows(
        sim, device, ("6281277770001", "Budi Toko Kue"), ("6281277770002", "Siti"), ("6281277770003", "Rudi")
    )

    result = assert_ok(alice.api.post(f"/api/v1/devices/{device.pk}/contacts/sync"))

    assert result == {"total": 3, "created": 2, "updated": 1}
    contacts = {c.phone: c for c in Contact.objects.all()}
    assert set(contacts) == {"6281277770001", "6281277770002", "6281277770003"}
    assert contacts["6281277770001"].name == "Budi Toko Kue"
    assert contacts["6281277770001"].source == "inbound"  # how we first learned of it
    assert contacts["6281277770002"].source == "sync"
    event = Event.objects.get(type="contacts.sync")
    assert event.data == {"total": 3, "created": 2, "updated": 1} and event.device_id == device.pk
    assert Event.objects.filter(type="contacts.new").count() == 1  # the sync adds no per-contact events

    again = assert_ok(alice.api.post(f"/api/v1/devices/{device.pk}/contacts/sync"))
    assert again == {"total": 3, "created": 0, "updated": 0}
    assert Contact.objects.count() == 3


def test_sync_of_a_device_that_is_not_connected_is_409(alice: Actor, make_device: Any) -> None:
    offline = make_device(alice, name="Offline")
    assert_error(alice.api.post(f"/api/v1/devices/{offline.pk}/contacts/sync"), 409, "DEVICE_NOT_CONNECTED")
    assert not Event.objects.filter(type="contacts.sync").exists()


def test_sync_of_a_session_unlinked_on_the_phone_is_409(alice: Actor, device: Device, sim: Simulator) -> None:
    sim.control("POST", f"/_sim/devices/{device.pk}/logout")  # Wavora has not polled the status yet
    assert_error(alice.api.post(f"/api/v1/devices/{device.pk}/contacts/sync"), 409, "DEVICE_NOT_CONNECTED")
    assert not Contact.objects.exists()


def test_sync_when_gowa_fails_is_502_and_stores_nothing(alice: Actor, device: Device) -> None:
    failure = GowaTransientError("INTERNAL_SERVER_ERROR", "boom", http_status=500)
    with mock.patch.object(GowaClient, "my_contacts", side_effect=failure):
        error = assert_error(
            alice.api.post(f"/api/v1/devices/{device.pk}/contacts/sync"), 502, "UPSTREAM_ERROR"
        )
    assert error["details"] == {"gowa_code": "INTERNAL_SERVER_ERROR"}
    assert not Event.objects.filter(type="contacts.sync").exists()


# --- CSV -------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("value", "cell"),
    [
        ('=HYPERLINK("http://evil")', '\'=HYPERLINK("http://evil")'),
        ("+62812", "'+62812"),
        ("-1+2", "'-1+2"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tTab", "'\tTab"),
        ("\rCR", "'\rCR"),
        ("Budi = teman", "Budi = teman"),
        ("", ""),
    ],
)
def test_csv_cells_that_a_spreadsheet_would_run_are_prefixed(value: str, cell: str) -> None:
    assert csv_cell(value) == cell


def test_the_csv_export_has_the_header_every_contact_and_escaped_formulas(
    alice: Actor, device: Device
) -> None:
    for index in range(30):  # more than a page: the export is not paged
        inbound(device, "Halo", sender=f"62812345{index:05d}", name=f"Pelanggan {index}")
    inbound(device, "Halo", sender="6281299990001", name='=HYPERLINK("http://evil.example","klik")')
    inbound(device, "Halo", sender="6281299990002", name="@admin")

    response = alice.api.get(contacts_url(device, "format=csv&sync=false"))

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert f'filename="contacts-{device.pk}.csv"' in response["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(csv_text(response))))
    assert tuple(rows[0]) == CSV_HEADER == ("phone", "name", "jid", "source", "first_seen_at", "last_seen_at")
    assert len(rows) == 1 + 32
    by_phone = {row[0]: row for row in rows[1:]}
    assert by_phone["6281299990001"][1] == '\'=HYPERLINK("http://evil.example","klik")'
    assert by_phone["6281299990002"][1] == "'@admin"
    assert by_phone["6281234500007"][1:4] == ["Pelanggan 7", "6281234500007@s.whatsapp.net", "inbound"]
    assert by_phone["6281234500007"][4].endswith("Z")


def test_the_csv_export_honours_search(alice: Actor, device: Device) -> None:
    inbound(device, "Halo", sender="6281234500001", name="Budi")
    inbound(device, "Halo", sender="6281234500002", name="Siti")
    response = alice.api.get(contacts_url(device, "format=csv&sync=false&search=siti"))
    rows = list(csv.reader(io.StringIO(csv_text(response))))
    assert [row[1] for row in rows[1:]] == ["Siti"]


def test_a_csv_request_for_an_unknown_device_gets_the_json_error(alice: Actor) -> None:
    response = alice.api.get("/api/v1/devices/00000000-0000-0000-0000-000000000000/contacts?format=csv")
    assert_error(response, 404, "DEVICE_NOT_FOUND")
    assert response["Content-Type"].startswith("application/json")


# --- access ----------------------------------------------------------------------------------
def test_another_tenants_device_is_404_for_list_csv_and_sync(charlie: Actor, device: Device) -> None:
    inbound(device, "Halo", name="Budi")
    for response in (
        charlie.api.get(contacts_url(device, "sync=false")),
        charlie.api.get(contacts_url(device, "format=csv")),
        charlie.api.post(f"/api/v1/devices/{device.pk}/contacts/sync"),
    ):
        assert_error(response, 404, "DEVICE_NOT_FOUND")
    assert not Event.objects.filter(tenant=charlie.tenant).exists()


def test_a_team_member_sees_the_teams_contacts(bob: Actor, device: Device) -> None:
    inbound(device, "Halo", name="Budi")
    assert [c["name"] for c in assert_ok(bob.api.get(contacts_url(device, "sync=false")))] == ["Budi"]


def test_contacts_need_the_contacts_read_scope(alice: Actor, device: Device) -> None:
    client = alice.client_with(scopes=["messages:read"])
    assert_error(client.get(contacts_url(device, "sync=false")), 403, "FORBIDDEN")
    assert_error(client.post(f"/api/v1/devices/{device.pk}/contacts/sync"), 403, "FORBIDDEN")
    allowed = alice.client_with(scopes=["contacts:read"])
    assert_ok(allowed.get(contacts_url(device, "sync=false")))


def test_a_key_restricted_to_another_device_is_refused(
    alice: Actor, device: Device, make_device: Any
) -> None:
    other = make_device(alice, name="Second")
    client = alice.client_with(device_ids=[other.pk])
    assert_error(client.get(contacts_url(device, "sync=false")), 403, "FORBIDDEN")
