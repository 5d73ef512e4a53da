"""The campaign API: create (JSON with seed 001's camelCase, or a CSV upload), read, change, delete,
the lifecycle verbs' state rules, recipients, the CSV export, scopes and tenant isolation."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from campaigns.models import Campaign, CampaignRecipient
from devices.models import Device
from tests.api.helpers import assert_error, assert_ok
from tests.conftest import Actor

from .conftest import create, people, released, settle, start, tick

SEED_001_BODY = {
    "name": "Marketing Campaign Q1",
    "scheduledAt": "2026-12-01T03:00:00Z",
    "message": {"type": "text", "content": "Hi {{Name}}, check out our new products at {{Company}}!"},
    "recipients": [
        {"number": "+6281234567890", "name": "John Doe", "jobTitle": "CEO", "companyName": "ABC Corp"}
    ],
    "settings": {"delayBetweenMessages": 3000},
}


def test_seed_001s_create_body_is_accepted_with_its_camel_case_names(alice: Actor, device: Device) -> None:
    response = alice.api.post(
        "/api/v1/campaigns", {**SEED_001_BODY, "sessionId": str(device.pk)}, format="json"
    )
    data = assert_ok(response, 201)
    assert data["status"] == "draft"
    assert data["device_id"] == str(device.pk)
    assert data["scheduled_at"] == "2026-12-01T03:00:00Z"
    assert data["settings"]["delay_between_messages"] == 3000
    assert data["message"] == {
        "type": "text",
        "text": "Hi {{Name}}, check out our new products at {{Company}}!",
    }
    assert data["recipient_count"] == 1
    assert data["statistics"] == {"pending": 1, "sent": 0, "delivered": 0, "read": 0, "failed": 0, "total": 1}
    assert data["import_report"]["imported"] == 1
    recipient = CampaignRecipient.objects.get(campaign_id=data["id"])
    assert recipient.phone == "6281234567890"
    assert recipient.fields == {"jobTitle": "CEO", "companyName": "ABC Corp"}


def test_settings_in_snake_case_with_a_wib_window_cap_and_rotation(
    alice: Actor, device: Device, make_device: Any
) -> None:
    second = make_device(alice, name="Kedua")
    data = create(
        alice,
        device,
        settings={
            "delay_between_messages": 5000,
            "jitter_percent": 10,
            "send_window": {"start": "08:00", "end": "20:00"},
            "daily_cap_per_device": 200,
            "device_ids": [str(second.pk)],
            "auto_pause_failure_rate": 0.3,
            "auto_pause_window": 50,
        },
    )
    assert data["settings"] == {
        "delay_between_messages": 5000,
        "jitter_percent": 10,
        "send_window": {"start": "08:00", "end": "20:00", "timezone": "Asia/Jakarta"},
        "daily_cap_per_device": 200,
        "device_ids": [str(second.pk)],
        "auto_pause_failure_rate": 0.3,
        "auto_pause_window": 50,
    }


def test_an_unknown_placeholder_is_a_400_naming_it(alice: Actor, device: Device) -> None:
    body = create(
        alice, device, expect=400, message={"type": "text", "content": "Halo {{Name}}, diskon {{Diskon}}"}
    )
    assert body["error"]["code"] == "VALIDATION_ERROR"
    assert "{{Diskon}}" in body["error"]["message"]
    assert body["error"]["details"] == {"message": ["Unknown placeholder {{Diskon}}."]}
    assert not Campaign.objects.exists()


def test_a_csv_column_is_a_placeholder(alice: Actor, device: Device) -> None:
    data = create(
        alice,
        device,
        message={"type": "text", "content": "Halo {{nama}}, diskon {{Diskon}}"},
        recipients=[{"phone": "081234567890", "nama": "Budi", "Diskon": "20%"}],
    )
    assert data["columns"] == ["diskon"]


@pytest.mark.parametrize(
    ("message", "field"),
    [
        ({"type": "fax", "content": "x"}, "message.type"),
        ({"type": "location", "content": "x"}, "message.content"),
        ({"type": "poll", "question": "Suka?", "options": ["Ya"]}, "message.options"),
        ({"type": "image", "caption": "x"}, "message.media"),
        ("teks", "message"),
    ],
)
def test_an_invalid_message_is_a_400_naming_the_field(
    alice: Actor, device: Device, message: Any, field: str
) -> None:
    body = create(alice, device, expect=400, message=message)
    assert field in body["error"]["details"], body


def test_bad_input_is_a_400_naming_the_field(alice: Actor, device: Device) -> None:
    cases: list[tuple[dict[str, Any], str]] = [
        ({"name": ""}, "name"),
        ({"device_id": "nope"}, "device_id"),
        ({"settings": {"delay_between_messages": -1}}, "settings.delay_between_messages"),
        ({"settings": {"send_window": {"start": "25:00", "end": "20:00"}}}, "settings.send_window.start"),
        ({"settings": {"daily_cap_per_device": 0}}, "settings.daily_cap_per_device"),
        ({"scheduled_at": "tomorrow"}, "scheduled_at"),
        ({"recipients": None}, "recipients"),
        ({"recipients": []}, "recipients"),
    ]
    for extra, field in cases:
        body = create(alice, device, expect=400, **extra)
        assert field in body["error"]["details"], (extra, body)


def test_invalid_rows_are_a_400_with_their_row_unless_skipped(alice: Actor, device: Device) -> None:
    rows = [{"phone": "081234567890"}, {"phone": "12"}, {"name": "no phone"}, {"phone": "6281234567890"}]
    body = create(alice, device, expect=400, recipients=rows)
    details = body["error"]["details"]
    assert sorted(details) == ["recipients[2].phone", "recipients[3].phone"]
    assert "not a valid phone number" in details["recipients[2].phone"][0]
    assert details["recipients[3].phone"] == ["A phone number is required."]
    assert body["error"]["message"].startswith("recipients: row 2 phone:")
    assert not Campaign.objects.exists()
    data = create(alice, device, recipients=rows, skip_invalid_rows=True)
    assert data["recipient_count"] == 1
    assert data["import_report"]["invalid"] == 2
    assert data["import_report"]["duplicates"] == 1
    assert data["import_report"]["duplicate_rows"] == [{"row": 4, "phone": "6281234567890", "first_row": 1}]


def test_a_campaign_from_a_csv_upload(alice: Actor, device: Device) -> None:
    csv_bytes = "\ufeffphone;name;kota\n081234567890;Budi;Solo\n081234567891;Siti;Bandung\n12;x;y\n".encode()
    response = alice.api.post(
        "/api/v1/campaigns",
        {
            "name": "Dari CSV",
            "device_id": str(device.pk),
            "message": '{"type": "text", "content": "Halo {{Name}} di {{Kota}}"}',
            "settings": '{"delay_between_messages": 2000}',
            "skip_invalid_rows": "true",
            "file": SimpleUploadedFile("k.csv", csv_bytes, content_type="text/csv"),
        },
        format="multipart",
    )
    data = assert_ok(response, 201)
    assert data["recipient_count"] == 2
    assert data["settings"]["delay_between_messages"] == 2000
    assert data["import_report"]["errors"][0]["row"] == 4
    assert list(
        CampaignRecipient.objects.filter(campaign_id=data["id"]).values_list("row_number", flat=True)
    ) == [2, 3]


def test_a_csv_over_the_cap_is_413(alice: Actor, device: Device, settings: Any) -> None:
    settings.CAMPAIGN_CSV_MAX_BYTES = 50
    response = alice.api.post(
        "/api/v1/campaigns",
        {
            "name": "Besar",
            "device_id": str(device.pk),
            "message": '{"type": "text", "content": "Halo"}',
            "file": SimpleUploadedFile("k.csv", b"phone\n" + b"081234567890\n" * 10, content_type="text/csv"),
        },
        format="multipart",
    )
    assert_error(response, 413, "PAYLOAD_TOO_LARGE")


def test_list_get_patch_and_delete(alice: Actor, device: Device) -> None:
    first = create(alice, device, name="Satu")
    second = create(alice, device, name="Dua")
    listed = alice.api.get("/api/v1/campaigns")
    assert [c["name"] for c in assert_ok(listed)] == ["Dua", "Satu"]
    assert listed.json()["meta"]["pagination"]["total"] == 2
    assert [c["name"] for c in assert_ok(alice.api.get("/api/v1/campaigns?status=draft"))] == ["Dua", "Satu"]
    assert assert_ok(alice.api.get("/api/v1/campaigns?status=running")) == []
    assert_error(alice.api.get("/api/v1/campaigns?status=bogus"), 400, "VALIDATION_ERROR")

    patched = alice.api.patch(
        f"/api/v1/campaigns/{first['id']}",
        {"name": "Satu (baru)", "settings": {"jitter_percent": 5}, "recipients": people(2, start=50)},
        format="json",
    )
    data = assert_ok(patched)
    assert data["name"] == "Satu (baru)"
    assert data["settings"]["jitter_percent"] == 5
    assert data["settings"]["delay_between_messages"] == 1000  # untouched
    assert data["recipient_count"] == 2
    assert data["import_report"]["imported"] == 2

    assert assert_ok(alice.api.delete(f"/api/v1/campaigns/{second['id']}")) == {"id": second["id"]}
    assert_error(alice.api.get(f"/api/v1/campaigns/{second['id']}"), 404, "NOT_FOUND")


def test_a_running_campaign_cannot_be_changed_or_deleted_until_paused(alice: Actor, device: Device) -> None:
    campaign = start(alice, create(alice, device)["id"])
    assert_error(
        alice.api.patch(f"/api/v1/campaigns/{campaign.pk}", {"name": "x"}, format="json"),
        409,
        "INVALID_STATE",
    )
    assert_error(alice.api.delete(f"/api/v1/campaigns/{campaign.pk}"), 409, "INVALID_STATE")
    assert_error(alice.api.post(f"/api/v1/campaigns/{campaign.pk}/send"), 409, "INVALID_STATE")
    assert_error(alice.api.post(f"/api/v1/campaigns/{campaign.pk}/resume"), 409, "INVALID_STATE")
    assert_ok(alice.api.post(f"/api/v1/campaigns/{campaign.pk}/pause"))
    assert_ok(alice.api.patch(f"/api/v1/campaigns/{campaign.pk}", {"name": "x"}, format="json"))
    body = assert_error(
        alice.api.patch(f"/api/v1/campaigns/{campaign.pk}", {"recipients": people(1)}, format="json"),
        409,
        "INVALID_STATE",
    )
    assert "clone" in body["message"]
    assert_ok(alice.api.delete(f"/api/v1/campaigns/{campaign.pk}"))


def test_send_with_a_future_schedule_schedules_and_without_starts(alice: Actor, device: Device) -> None:
    later = create(alice, device, scheduled_at="2099-01-01T00:00:00Z")
    response = alice.api.post(f"/api/v1/campaigns/{later['id']}/send")
    assert assert_ok(response)["status"] == "scheduled"
    assert response.json()["message"] == "Campaign scheduled."
    now = create(alice, device)
    assert assert_ok(alice.api.post(f"/api/v1/campaigns/{now['id']}/send"))["status"] == "running"


def test_send_refuses_more_than_the_plans_quota_up_front(alice: Actor, device: Device) -> None:
    from billing.models import Plan

    Plan.objects.filter(code="free").update(message_quota=2)
    data = create(alice, device, recipients=people(3))
    assert_error(alice.api.post(f"/api/v1/campaigns/{data['id']}/send"), 429, "QUOTA_EXCEEDED")
    assert Campaign.objects.get(pk=data["id"]).status == "draft"


def test_clone_copies_message_settings_and_recipients_as_a_draft(alice: Actor, device: Device) -> None:
    campaign = tick(start(alice, create(alice, device, recipients=people(3))["id"]).pk)
    response = alice.api.post(f"/api/v1/campaigns/{campaign.pk}/clone")
    clone = assert_ok(response, 201)
    assert clone["status"] == "draft" and clone["name"] == "Promo (copy)"
    assert clone["statistics"] == {
        "pending": 3,
        "sent": 0,
        "delivered": 0,
        "read": 0,
        "failed": 0,
        "total": 3,
    }
    assert clone["message"] == campaign.message


def test_recipients_are_listed_with_their_messages_status_and_filterable(
    alice: Actor, device: Device
) -> None:
    data = create(alice, device, recipients=people(3), settings={"delay_between_messages": 0})
    campaign = tick(start(alice, data["id"]).pk)
    first, second, _third = released(campaign.pk)
    settle(first, "read")
    settle(second, "failed")
    rows = assert_ok(alice.api.get(f"/api/v1/campaigns/{campaign.pk}/recipients"))
    assert [r["status"] for r in rows] == ["read", "failed", "pending"]
    assert rows[0]["message_id"] == str(first.pk)
    assert rows[0]["read_at"] is not None
    assert rows[1]["error_code"] == "INVALID_NUMBER"
    failed = assert_ok(alice.api.get(f"/api/v1/campaigns/{campaign.pk}/recipients?status=failed"))
    assert [r["phone"] for r in failed] == [second.recipient]
    by_phone = assert_ok(alice.api.get(f"/api/v1/campaigns/{campaign.pk}/recipients?phone=00000003"))
    assert [r["phone"] for r in by_phone] == ["6281200000003"]
    assert_error(
        alice.api.get(f"/api/v1/campaigns/{campaign.pk}/recipients?status=nope"), 400, "VALIDATION_ERROR"
    )


def test_the_export_streams_every_recipient_with_formulas_escaped(alice: Actor, device: Device) -> None:
    data = create(
        alice,
        device,
        recipients=[
            {"phone": "081234567890", "name": '=HYPERLINK("http://evil")'},
            {"phone": "081234567891", "name": "+Budi"},
            {"phone": "081234567892", "name": "@Siti"},
        ],
        settings={"delay_between_messages": 0},
    )
    campaign = tick(start(alice, data["id"]).pk)
    first = released(campaign.pk)[0]
    settle(first, "delivered")
    response: Any = alice.api.get(f"/api/v1/campaigns/{campaign.pk}/export")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert response.streaming
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0][:5] == ["row", "phone", "name", "status", "message_id"]
    assert [r[2] for r in rows[1:]] == ['\'=HYPERLINK("http://evil")', "'+Budi", "'@Siti"]
    by_phone = {r[1]: r for r in rows[1:]}
    assert by_phone[first.recipient][3] == "delivered"
    assert by_phone[first.recipient][4] == str(first.pk)
    assert by_phone[first.recipient][10].endswith("Z")  # delivered_at, UTC


def test_another_tenants_campaign_is_404_everywhere(
    alice: Actor, bob: Actor, charlie: Actor, device: Device
) -> None:
    campaign_id = create(alice, device)["id"]
    assert assert_ok(bob.api.get(f"/api/v1/campaigns/{campaign_id}"))["id"] == campaign_id  # same team
    assert assert_ok(charlie.api.get("/api/v1/campaigns")) == []
    base = f"/api/v1/campaigns/{campaign_id}"
    for method, path in [
        ("get", base),
        ("patch", base),
        ("delete", base),
        ("get", f"{base}/recipients"),
        ("get", f"{base}/export"),
        *[("post", f"{base}/{action}") for action in ("send", "pause", "resume", "cancel", "retry", "clone")],
    ]:
        response = getattr(charlie.api, method)(
            path, {"name": "x"} if method == "patch" else None, format="json"
        )
        assert_error(response, 404, "NOT_FOUND")
    assert Campaign.objects.get(pk=campaign_id).status == "draft"
    assert_error(alice.api.get("/api/v1/campaigns/not-a-uuid"), 404, "NOT_FOUND")


def test_a_campaign_cannot_use_another_tenants_device(alice: Actor, charlie: Actor, device: Device) -> None:
    body = create(charlie, device, expect=404)
    assert body["error"]["code"] == "DEVICE_NOT_FOUND"
    body = create(
        alice, device, expect=404, settings={"device_ids": ["00000000-0000-0000-0000-000000000001"]}
    )
    assert body["error"]["code"] == "DEVICE_NOT_FOUND"


def test_scopes_read_and_write(alice: Actor, device: Device) -> None:
    campaign_id = create(alice, device)["id"]
    reader = alice.client_with(scopes=["campaigns:read"])
    assert reader.get(f"/api/v1/campaigns/{campaign_id}").status_code == 200
    assert_error(reader.post(f"/api/v1/campaigns/{campaign_id}/send"), 403, "FORBIDDEN")
    assert_error(reader.delete(f"/api/v1/campaigns/{campaign_id}"), 403, "FORBIDDEN")
    nobody = alice.client_with(scopes=["messages:send"])
    assert_error(nobody.get("/api/v1/campaigns"), 403, "FORBIDDEN")


def test_a_key_restricted_to_other_devices_cannot_use_or_see_this_device(
    alice: Actor, device: Device, make_device: Any
) -> None:
    other = make_device(alice, name="Lain")
    restricted = alice.client_with(device_ids=[other.pk])
    campaign_id = create(alice, device)["id"]
    assert_error(restricted.get(f"/api/v1/campaigns/{campaign_id}"), 404, "NOT_FOUND")
    response = restricted.post(
        "/api/v1/campaigns",
        {
            "name": "x",
            "device_id": str(device.pk),
            "message": {"type": "text", "content": "x"},
            "recipients": people(1),
        },
        format="json",
    )
    assert_error(response, 403, "FORBIDDEN")


def test_a_nul_character_is_a_400_naming_where_it_is(alice: Actor, device: Device) -> None:
    body = create(alice, device, expect=400, message={"type": "text", "content": "Halo", "x\u0000": 1})
    assert body["error"]["code"] == "VALIDATION_ERROR"
    assert "NUL" in body["error"]["message"]
    body = create(alice, device, expect=400, recipients=[{"phone": "081234567890", "name": "Bu\u0000di"}])
    assert body["error"]["details"] == {"recipients[1].name": ["NUL characters are not allowed."]}
    assert not Campaign.objects.exists()
