"""The dashboard's campaign pages: list, create from a CSV (upload → preview with row errors →
confirm), the WIB schedule, the detail page with its progress JSON, the lifecycle buttons, the export,
and another tenant's campaign being a 404 everywhere."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from campaigns.models import Campaign, CampaignRecipient
from devices.models import Device
from tests.conftest import Actor
from tests.dashboard2.conftest import page_text, signed_in

from .conftest import create, released, settle, tick

CSV = (
    "\ufeffNomor;Nama;Kota\n"
    "081234567890;Budi;Solo\n"
    "12;Pendek;Bandung\n"
    "081234567891;Siti;Bandung\n"
    "6281234567890;Budi lagi;Solo\n"
)


def upload(client: Client, device: Device, **overrides: Any) -> Any:
    form = {
        "name": "Promo Desember",
        "device_id": str(device.pk),
        "message": "Halo {{Nama}} di {{Kota}}",
        "delay_seconds": "2",
        "file": SimpleUploadedFile("kontak.csv", CSV.encode(), content_type="text/csv"),
        **overrides,
    }
    return client.post("/dashboard/campaigns/new/", form)


def test_upload_preview_and_confirm_create_the_campaign(alice: Actor, device: Device) -> None:
    client = signed_in(alice)
    assert "Recipients (CSV)" in page_text(client.get("/dashboard/campaigns/new/"))
    preview = upload(client, device)
    text = page_text(preview)
    assert preview.templates[0].name == "dashboard/campaigns/preview.html"
    assert preview.context["preview"]["valid"] == 2
    assert preview.context["preview"]["invalid"] == 1
    assert preview.context["preview"]["duplicates"] == 1
    assert [e["row"] for e in preview.context["preview"]["errors"]] == [3]
    assert "Halo Budi di Solo" in text
    assert "first on row 2" in text
    assert not Campaign.objects.exists()  # nothing is created before the confirmation

    token = preview.context["preview"]["token"]
    confirmed = client.post("/dashboard/campaigns/new/confirm/", {"token": token})
    campaign = Campaign.objects.get()
    assert confirmed.status_code == 302
    assert confirmed["Location"] == f"/dashboard/campaigns/{campaign.pk}/"
    assert campaign.status == "draft" and campaign.delay_ms == 2000
    assert sorted(CampaignRecipient.objects.values_list("phone", flat=True)) == [
        "6281234567890",
        "6281234567891",
    ]
    again = client.post("/dashboard/campaigns/new/confirm/", {"token": token})  # a second click
    assert again["Location"] == "/dashboard/campaigns/new/"
    assert Campaign.objects.count() == 1


def test_an_unknown_placeholder_is_shown_on_the_message_field(alice: Actor, device: Device) -> None:
    response = upload(signed_in(alice), device, message="Halo {{Nama}}, diskon {{Diskon}}")
    assert response.status_code == 200
    assert response.context["form"].errors["message"] == ["Unknown placeholder {{Diskon}}."]


def test_the_schedule_is_entered_in_wib(alice: Actor, device: Device) -> None:
    client = signed_in(alice)
    preview = upload(
        client, device, scheduled_at="2026-12-01T10:00", window_start="08:00", window_end="20:00"
    )
    client.post("/dashboard/campaigns/new/confirm/", {"token": preview.context["preview"]["token"]})
    campaign = Campaign.objects.get()
    assert campaign.scheduled_at == datetime(2026, 12, 1, 3, 0, tzinfo=UTC)
    assert campaign.window_start is not None and campaign.window_start.hour == 8
    detail = page_text(client.get(f"/dashboard/campaigns/{campaign.pk}/"))
    assert "01 Dec 2026 10:00 WIB" in detail
    assert "08:00–20:00 WIB" in detail


def test_the_schedule_can_be_changed_on_the_detail_page_in_wib(alice: Actor, device: Device) -> None:
    campaign_id = create(alice, device)["id"]
    client = signed_in(alice)
    base = f"/dashboard/campaigns/{campaign_id}"
    assert 'name="scheduled_at"' in page_text(client.get(f"{base}/"))
    client.post(f"{base}/schedule/", {"scheduled_at": "2099-01-02T07:30"})
    campaign = Campaign.objects.get(pk=campaign_id)
    assert campaign.scheduled_at == datetime(2099, 1, 2, 0, 30, tzinfo=UTC)
    client.post(f"{base}/send/")
    assert Campaign.objects.get(pk=campaign_id).status == "scheduled"
    client.post(f"{base}/schedule/", {"scheduled_at": ""})  # cleared: it starts at the next tick
    assert Campaign.objects.get(pk=campaign_id).scheduled_at is None
    refused = client.post(f"{base}/schedule/", {"scheduled_at": "soon"}, follow=True)
    assert "Enter a valid date/time." in page_text(refused)


def test_list_detail_progress_and_export_for_the_tenant(alice: Actor, bob: Actor, device: Device) -> None:
    data = create(alice, device, settings={"delay_between_messages": 0})
    campaign_id = data["id"]
    client = signed_in(alice)
    assert alice.api.post(f"/api/v1/campaigns/{campaign_id}/send").status_code == 200
    campaign = tick(campaign_id)
    first = released(campaign.pk)[0]
    settle(first, "read")
    assert "Promo" in page_text(client.get("/dashboard/campaigns/"))
    detail = page_text(signed_in(bob).get(f"/dashboard/campaigns/{campaign_id}/"))
    assert "Pelanggan 1" in detail
    progress = client.get(f"/dashboard/campaigns/{campaign_id}/progress.json").json()
    assert progress["status"] == "running"
    assert progress["statistics"]["read"] == 1 and progress["statistics"]["total"] == 3
    assert progress["percent"] == 33.3
    export = client.get(f"/dashboard/campaigns/{campaign_id}/export.csv")
    assert export.status_code == 200
    assert b"".join(export.streaming_content).decode().count("\n") == 4  # type: ignore[attr-defined]
    filtered = client.get(f"/dashboard/campaigns/{campaign_id}/?status=read")
    assert [r["phone"] for r in filtered.context["recipients"]] == [first.recipient]


def test_the_lifecycle_buttons(alice: Actor, device: Device) -> None:
    campaign_id = create(alice, device)["id"]
    client = signed_in(alice)
    base = f"/dashboard/campaigns/{campaign_id}"
    assert client.post(f"{base}/send/")["Location"] == f"{base}/"
    assert Campaign.objects.get(pk=campaign_id).status == "running"
    client.post(f"{base}/pause/")
    assert Campaign.objects.get(pk=campaign_id).status == "paused"
    client.post(f"{base}/resume/")
    assert Campaign.objects.get(pk=campaign_id).status == "running"
    refused = client.post(f"{base}/delete/", follow=True)
    assert "cannot be deleted" in page_text(refused)
    client.post(f"{base}/cancel/")
    assert Campaign.objects.get(pk=campaign_id).status == "cancelled"
    cloned = client.post(f"{base}/clone/")
    copy = Campaign.objects.exclude(pk=campaign_id).get()
    assert cloned["Location"] == f"/dashboard/campaigns/{copy.pk}/"
    assert client.post(f"{base}/delete/")["Location"] == "/dashboard/campaigns/"
    assert not Campaign.objects.filter(pk=campaign_id).exists()


def test_another_tenants_campaign_is_a_404_on_every_page(
    alice: Actor, charlie: Actor, device: Device
) -> None:
    campaign_id = create(alice, device)["id"]
    client = signed_in(charlie)
    assert "Promo" not in page_text(client.get("/dashboard/campaigns/"))
    base = f"/dashboard/campaigns/{campaign_id}"
    for path in (f"{base}/", f"{base}/progress.json", f"{base}/export.csv"):
        assert client.get(path).status_code == 404, path
    for action in ("send", "pause", "resume", "cancel", "retry", "clone", "delete", "schedule"):
        assert client.post(f"{base}/{action}/").status_code == 404, action
    assert Campaign.objects.get(pk=campaign_id).status == "draft"
    assert client.get("/dashboard/campaigns/not-a-uuid/").status_code == 404


def test_the_pages_need_a_signed_in_member(alice: Actor, device: Device) -> None:
    response = Client().get("/dashboard/campaigns/")
    assert response.status_code == 302 and "login" in response["Location"]
