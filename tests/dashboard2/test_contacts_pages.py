"""The contacts page: per device, searchable, paginated, synced from WhatsApp on request and
exported as the API's formula-safe CSV; another tenant's device is not found."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from typing import Any

from django.test import Client
from django.utils import timezone

from devices.models import Device
from messaging.models import Contact
from tests.conftest import Actor, Simulator
from tests.contacts.test_contacts import sim_knows
from tests.factories import DeviceFactory
from webhooks.models import Event

from .conftest import page_text
from .factories import ContactFactory


def csv_rows(response: Any) -> list[list[str]]:
    assert response.status_code == 200
    return list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))


def test_contacts_of_the_chosen_device_are_listed_most_recent_first(
    as_alice: Client, as_bob: Client, alice: Actor
) -> None:
    kasir, gudang = (DeviceFactory.create(tenant=alice.tenant, name=n) for n in ("Kasir", "Gudang"))
    now = timezone.now()
    ContactFactory.create(device=kasir, name="Budi", last_seen_at=now - timedelta(hours=2))
    ContactFactory.create(device=kasir, name="Siti", last_seen_at=now)
    ContactFactory.create(device=gudang, name="Rudi")
    for client in (as_alice, as_bob):
        response = client.get(f"/dashboard/contacts/?device={kasir.pk}")
        assert [c.name for c in response.context["page"].object_list] == ["Siti", "Budi"]
        assert "Rudi" not in page_text(response)
    # Without a choice, the first device (by name) is shown.
    first = as_alice.get("/dashboard/contacts/")
    assert first.context["device"] == gudang
    assert [c.name for c in first.context["page"].object_list] == ["Rudi"]


def test_search_by_name_or_phone_in_local_form(as_alice: Client, alice: Actor) -> None:
    kasir = DeviceFactory.create(tenant=alice.tenant)
    ContactFactory.create(device=kasir, name="Budi Santoso", phone="6281234567890")
    ContactFactory.create(device=kasir, name="Siti", phone="6285700000000")
    by_phone = as_alice.get(f"/dashboard/contacts/?device={kasir.pk}&q=0812-3456")
    assert [c.name for c in by_phone.context["page"].object_list] == ["Budi Santoso"]
    by_name = as_alice.get(f"/dashboard/contacts/?device={kasir.pk}&q=siti")
    assert [c.name for c in by_name.context["page"].object_list] == ["Siti"]
    nothing = page_text(as_alice.get(f"/dashboard/contacts/?device={kasir.pk}&q=nobody"))
    assert "No contact matches this search." in nothing


def test_contacts_are_paginated_keeping_the_device_and_search(as_alice: Client, alice: Actor) -> None:
    kasir = DeviceFactory.create(tenant=alice.tenant)
    ContactFactory.create_batch(55, device=kasir, name="Pelanggan")
    first = as_alice.get(f"/dashboard/contacts/?device={kasir.pk}&q=pelanggan")
    assert len(first.context["page"].object_list) == 50
    assert f"device={kasir.pk}&amp;q=pelanggan&amp;page=2" in page_text(first)
    second = as_alice.get(f"/dashboard/contacts/?device={kasir.pk}&q=pelanggan&page=2")
    assert len(second.context["page"].object_list) == 5


def test_a_tenant_without_devices_is_told_to_add_one(as_alice: Client) -> None:
    assert "Add a device first" in page_text(as_alice.get("/dashboard/contacts/"))


def test_the_csv_export_is_the_apis_with_formulas_escaped(as_alice: Client, alice: Actor) -> None:
    kasir = DeviceFactory.create(tenant=alice.tenant)
    ContactFactory.create(device=kasir, name='=HYPERLINK("http://evil")', phone="6281234567890")
    ContactFactory.create(device=kasir, name="Siti", phone="6285700000000")
    response = as_alice.get(f"/dashboard/contacts/export.csv?device={kasir.pk}&q=0812")
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == f'attachment; filename="contacts-{kasir.pk}.csv"'
    header, *rows = csv_rows(response)
    assert header == ["phone", "name", "jid", "source", "first_seen_at", "last_seen_at"]
    assert [row[:3] for row in rows] == [
        ["6281234567890", '\'=HYPERLINK("http://evil")', "6281234567890@s.whatsapp.net"]
    ]
    assert (
        csv_rows(as_alice.get(f"/dashboard/contacts/export.csv?device={kasir.pk}"))[1:]
        == csv_rows(alice.api.get(f"/api/v1/devices/{kasir.pk}/contacts?format=csv&sync=false"))[1:]
    )


def test_sync_pulls_whatsapps_contact_list(
    as_alice: Client, alice: Actor, make_device: Any, sim: Simulator
) -> None:
    device: Device = make_device(alice, connected=True)
    sim_knows(sim, device, ("6281277770002", "Siti"), ("6281277770003", "Rudi"))
    response = as_alice.post("/dashboard/contacts/sync/", {"device": str(device.pk)}, follow=True)
    assert response.redirect_chain[-1][0] == f"/dashboard/contacts/?device={device.pk}"
    assert "Synced 2 contacts from WhatsApp: 2 new, 0 renamed." in page_text(response)
    assert sorted(Contact.objects.filter(device=device).values_list("name", flat=True)) == ["Rudi", "Siti"]
    assert Event.objects.filter(type="contacts.sync", device_id=device.pk).count() == 1


def test_sync_of_a_device_that_is_not_connected_says_so(as_alice: Client, alice: Actor) -> None:
    offline = DeviceFactory.create(tenant=alice.tenant, status=Device.Status.DISCONNECTED)
    response = as_alice.post("/dashboard/contacts/sync/", {"device": str(offline.pk)}, follow=True)
    assert "only be synced from a connected device" in page_text(response)
    assert not Event.objects.filter(type="contacts.sync").exists()


def test_another_tenants_device_and_contacts_are_not_found(
    as_charlie: Client, alice: Actor, charlie: Actor
) -> None:
    kasir = DeviceFactory.create(tenant=alice.tenant)
    ContactFactory.create(device=kasir, name="Budi")
    DeviceFactory.create(tenant=charlie.tenant, name="Charlie HP")
    assert as_charlie.get(f"/dashboard/contacts/?device={kasir.pk}").status_code == 404
    assert as_charlie.get(f"/dashboard/contacts/export.csv?device={kasir.pk}").status_code == 404
    assert as_charlie.post("/dashboard/contacts/sync/", {"device": str(kasir.pk)}).status_code == 404
    assert as_charlie.get("/dashboard/contacts/?device=nonsense").status_code == 404
    own = page_text(as_charlie.get("/dashboard/contacts/"))
    assert "Charlie HP" in own and "Budi" not in own
