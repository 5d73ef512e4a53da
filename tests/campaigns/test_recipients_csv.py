"""Recipients CSV: the template, the preview (BOM, semicolons, row-numbered errors, duplicates, phone
normalisation, size cap) and the parsing functions themselves."""

from __future__ import annotations

import io
from typing import Any

from django.core.files.uploadedfile import SimpleUploadedFile

from campaigns import recipients as rlib
from tests.api.helpers import assert_error, assert_ok
from tests.conftest import Actor


def upload(text: str | bytes, name: str = "kontak.csv") -> SimpleUploadedFile:
    raw = text.encode() if isinstance(text, str) else text
    return SimpleUploadedFile(name, raw, content_type="text/csv")


def preview(actor: Actor, text: str | bytes) -> Any:
    return actor.api.post("/api/v1/campaigns/preview-csv", {"file": upload(text)}, format="multipart")


def test_the_csv_template_is_a_download_that_previews_cleanly(alice: Actor) -> None:
    response = alice.api.get("/api/v1/campaigns/csv-template")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    text = response.content.decode()
    assert text.splitlines()[0] == "phone,name,companyName,jobTitle"
    data = assert_ok(preview(alice, text))
    assert data["valid"] == 2 and data["invalid"] == 0
    assert data["recipients"][0]["phone"] == "6281234567890"


def test_preview_reads_a_semicolon_csv_with_a_bom_and_normalises_indonesian_numbers(alice: Actor) -> None:
    text = "\ufeffNomor;Nama;Kota\n0812-3456-7890;Budi;Bandung\n+62 812 3456 7891;Siti;Solo\n"
    data = assert_ok(preview(alice, text.encode("utf-8")))
    assert data["delimiter"] == ";"
    assert data["columns"] == ["Nomor", "Nama", "Kota"]
    assert data["recipients"] == [
        {"row": 2, "phone": "6281234567890", "name": "Budi", "Kota": "Bandung"},
        {"row": 3, "phone": "6281234567891", "name": "Siti", "Kota": "Solo"},
    ]


def test_preview_numbers_each_bad_row_and_reports_and_drops_duplicates(alice: Actor) -> None:
    text = (
        "phone,name\n"
        "081234567890,Budi\n"  # row 2
        "12,Pendek\n"  # row 3: too short
        ",Kosong\n"  # row 4: no phone
        "\n"  # row 5: blank, skipped
        "6281234567890,Budi lagi\n"  # row 6: same number as row 2
        "081234567899,Ani,extra\n"  # row 7: one cell too many
    )
    response = preview(alice, text)
    data = assert_ok(response)
    assert data["valid"] == 1 and data["invalid"] == 3 and data["duplicates"] == 1
    assert [(e["row"], e["field"]) for e in data["errors"]] == [(3, "phone"), (4, "phone"), (7, "row")]
    assert data["errors"][0]["value"] == "12"
    assert data["errors"][0]["message"] == "'12' is not a valid phone number (8–15 digits with country code)."
    assert data["duplicate_rows"] == [{"row": 6, "phone": "6281234567890", "first_row": 2}]
    assert response.json()["message"] == "1 recipients, 3 invalid rows, 1 duplicates dropped."


def test_preview_refuses_a_file_over_the_size_cap_with_413(alice: Actor, settings: Any) -> None:
    settings.CAMPAIGN_CSV_MAX_BYTES = 100
    error = assert_error(preview(alice, "phone\n" + "081234567890\n" * 20), 413, "PAYLOAD_TOO_LARGE")
    assert "file" in error["details"]


def test_preview_names_the_problem_with_an_unusable_file(alice: Actor) -> None:
    error = assert_error(preview(alice, "nama,kota\nBudi,Solo\n"), 400, "VALIDATION_ERROR")
    assert "phone column" in error["message"]
    error = assert_error(preview(alice, "phone,name\n".encode("utf-16")), 400, "VALIDATION_ERROR")
    assert "UTF-8" in error["message"]
    error = assert_error(preview(alice, ""), 400, "VALIDATION_ERROR")
    assert error["details"] == {"file": ["Empty file or no header row."]}
    response = alice.api.post("/api/v1/campaigns/preview-csv", {}, format="multipart")
    assert assert_error(response, 400, "VALIDATION_ERROR")["details"] == {"file": ["This field is required."]}


def test_a_bad_byte_in_the_middle_is_an_error_on_its_row(alice: Actor) -> None:
    data = assert_ok(preview(alice, b"phone,name\n081234567890,Budi\n081234567891,Bad\xff\n"))
    assert data["valid"] == 1
    assert data["errors"] == [
        {"row": 3, "field": "row", "message": "Not UTF-8 text (save it as “CSV UTF-8”).", "value": ""}
    ]


def test_preview_needs_the_campaigns_write_scope(alice: Actor) -> None:
    reader = alice.client_with(scopes=["campaigns:read"])
    response = reader.post("/api/v1/campaigns/preview-csv", {"file": upload("phone\n081234567890\n")})
    assert_error(response, 403, "FORBIDDEN")


def test_a_quoted_cell_across_lines_keeps_the_row_numbers_right() -> None:
    reader = rlib.CsvReader(io.BytesIO(b'phone,note\n081234567890,"two\nlines"\n12,x\n'))
    items = list(reader)
    assert isinstance(items[0], rlib.Recipient) and items[0].fields == {"note": "two\nlines"}
    assert isinstance(items[1], rlib.RowError) and items[1].row == 4
    assert isinstance(items[0], rlib.Recipient) and items[0].row == 2


def test_placeholders_match_columns_case_insensitively_with_seed_aliases() -> None:
    known = {"companyname", "jobtitle", "kota"}
    template = {"type": "text", "text": "Hi {{Name}} of {{Company}} ({{JobTitle}}) in {{KOTA}}, {{ phone }}"}
    assert rlib.unknown_placeholders(template, known) == []
    assert rlib.unknown_placeholders({"text": "{{Discount}} {{name}}"}, known) == ["Discount"]
    recipient = rlib.Recipient(
        phone="6281234567890", name="Budi", fields={"companyName": "Toko", "jobTitle": "CEO", "Kota": "Solo"}
    )
    assert rlib.render(template, rlib.lookup_of(recipient))["text"] == (
        "Hi Budi of Toko (CEO) in Solo, 6281234567890"
    )


def test_preview_can_check_the_first_numbers_on_whatsapp_through_a_device(
    alice: Actor, device: Any, sim: Any
) -> None:
    sim.control("POST", "/_sim/not-on-whatsapp", json={"phones": ["6281234567891"]})
    response = alice.api.post(
        "/api/v1/campaigns/preview-csv",
        {
            "file": upload("phone,name\n081234567890,Budi\n081234567891,Siti\n"),
            "check_numbers": "true",
            "device_id": str(device.pk),
        },
        format="multipart",
    )
    data = assert_ok(response)
    assert data["number_check"] == {
        "checked": 2,
        "not_on_whatsapp": [{"row": 3, "phone": "6281234567891"}],
        "error": None,
    }
    assert assert_ok(preview(alice, "phone\n081234567890\n"))["number_check"] is None


def test_checking_numbers_needs_a_device_of_the_tenant(alice: Actor, charlie: Actor, device: Any) -> None:
    body = {"file": upload("phone\n081234567890\n"), "check_numbers": "true"}
    response = alice.api.post("/api/v1/campaigns/preview-csv", body, format="multipart")
    assert assert_error(response, 400, "VALIDATION_ERROR")["details"] == {
        "device_id": ["Required with check_numbers."]
    }
    body = {"file": upload("phone\n081234567890\n"), "check_numbers": "true", "device_id": str(device.pk)}
    response = charlie.api.post("/api/v1/campaigns/preview-csv", body, format="multipart")
    assert_error(response, 404, "DEVICE_NOT_FOUND")
