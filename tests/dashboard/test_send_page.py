"""The send page: every type through the API's own validation and accept service; errors inline."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from messaging.models import Message
from tests.conftest import Actor

PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"
    b"\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N\x00\x00\x00\x00IEND\xaeB`\x82"
)


@pytest.fixture
def device(alice: Actor, make_device: Any) -> Any:
    return make_device(alice, connected=True)


def _send(client: Client, device: Any, **fields: Any) -> Any:
    return client.post("/dashboard/send/", {"device_id": str(device.pk), "to": "0812-3456-7890", **fields})


def test_a_text_is_queued_like_an_api_send_and_opens_its_log_entry(
    signed_in: Any, alice: Actor, device: Any
) -> None:
    response = _send(signed_in(alice), device, type="text", text="Halo dari dasbor")
    message = Message.objects.get(tenant=alice.tenant)
    assert response.status_code == 302
    assert response["Location"] == f"/dashboard/messages/{message.pk}/"
    assert (message.recipient, message.type) == ("6281234567890", "text")
    assert message.payload_json["message"].startswith("Halo dari dasbor")
    assert message.payload_json["message"].endswith(
        "_Sent via Wavora_"
    )  # the free plan's footer, as in the API


@pytest.mark.parametrize(
    ("fields", "gowa"),
    [
        ({"type": "location", "latitude": "-6.2", "longitude": "106.8166"}, {"latitude": "-6.2"}),
        ({"type": "contact", "contact_name": "Budi", "contact_phone": "0812999"}, {"contact_name": "Budi"}),
        (
            {"type": "poll", "question": "Kopi?", "options": "Ya\nTidak", "max_answer": "1"},
            {"question": "Kopi?"},
        ),
        (
            {
                "type": "interactive",
                "menu_kind": "button",
                "text": "Konfirmasi?",
                "choices": "yes | Ya\nno | Tidak",
            },
            {},
        ),
    ],
)
def test_structured_types_are_built_from_the_form(
    signed_in: Any, alice: Actor, device: Any, fields: dict[str, str], gowa: dict[str, str]
) -> None:
    response = _send(signed_in(alice), device, **fields)
    assert response.status_code == 302, response.context["form"].errors
    message = Message.objects.get(tenant=alice.tenant)
    assert message.type == fields["type"]
    for key, value in gowa.items():
        assert message.payload_json[key] == value
    if fields["type"] == "interactive":
        assert "1. Ya" in message.payload_json["message"]


def test_an_image_upload_is_stored_as_tenant_media(signed_in: Any, alice: Actor, device: Any) -> None:
    upload = SimpleUploadedFile("promo.png", PNG, content_type="image/png")
    response = _send(signed_in(alice), device, type="image", caption="Promo", file=upload)
    assert response.status_code == 302, response.context["form"].errors
    message = Message.objects.select_related("media").get(tenant=alice.tenant)
    assert message.media is not None
    assert (message.media.tenant_id, message.media.content_type) == (alice.tenant.pk, "image/png")


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"type": "text", "text": "   "}, "text"),
        ({"type": "text", "text": "Hi", "to": "not a phone"}, "to"),
        ({"type": "image", "caption": "no file"}, "file"),
        ({"type": "poll", "question": "Kopi?", "options": "Ya"}, "options"),
        ({"type": "interactive", "text": "Pilih", "choices": "a|A\nb|B\nc|C\nd|D"}, "choices"),
        ({"type": "location", "latitude": "100", "longitude": "0"}, "latitude"),
    ],
)
def test_invalid_input_is_a_400_with_the_error_on_its_field(
    signed_in: Any, alice: Actor, device: Any, fields: dict[str, str], field: str
) -> None:
    response = _send(signed_in(alice), device, **fields)
    assert response.status_code == 400
    assert field in response.context["form"].errors, response.context["form"].errors
    assert b'class="errorlist"' in response.content
    assert not Message.objects.exists()


def test_another_tenants_device_cannot_be_chosen(
    signed_in: Any, alice: Actor, charlie: Actor, make_device: Any
) -> None:
    make_device(alice)
    theirs = make_device(charlie, name="Charlie HP")
    response = _send(signed_in(alice), theirs, type="text", text="Halo")
    assert response.status_code == 400
    assert "device_id" in response.context["form"].errors
    assert b"Charlie HP" not in signed_in(alice).get("/dashboard/send/").content
    assert not Message.objects.exists()
