"""Every message type goes API → worker → simulator over HTTP → delivered, media by upload,
by media_id and by URL (served by a local HTTP server)."""

from __future__ import annotations

import io
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import requests
from PIL import Image

from messaging.models import Message

from .conftest import Stack, wait_until
from .test_text_send_end_to_end import _connected_device, _create_tenant_and_node

pytestmark = pytest.mark.e2e


def png_bytes() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (32, 32), (200, 30, 30)).save(buffer, format="PNG")
    return buffer.getvalue()


MP4 = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom" + b"\x00" * 512
MP3 = b"ID3\x03\x00\x00\x00\x00\x00\x0f" + b"\x00" * 512
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


@pytest.fixture
def media_server() -> Iterator[str]:
    files = {"/catalog.pdf": (PDF, "application/pdf"), "/promo.png": (png_bytes(), "image/png")}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body, content_type = files.get(self.path, (b"missing", "text/plain"))
            self.send_response(200 if self.path in files else 404)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_every_message_type_is_delivered_through_the_simulator(stack: Stack, media_server: str) -> None:
    api_key, headers = _create_tenant_and_node(stack)
    device_id = _connected_device(stack, api_key, headers)
    api = f"{stack.web_url}/api/v1"
    assert (
        requests.patch(
            f"{api}/devices/{device_id}", json={"send_interval_ms": 0}, headers=headers, timeout=30
        ).status_code
        == 200
    )
    uploaded = requests.post(
        f"{api}/media", files={"file": ("photo.png", png_bytes(), "image/png")}, headers=headers, timeout=30
    )
    assert uploaded.status_code == 201, uploaded.text
    media_id = uploaded.json()["data"]["media_id"]
    to = "6281298765432"

    json_sends: list[tuple[str, dict[str, Any]]] = [
        ("text", {"text": "Halo"}),
        ("image", {"media_id": media_id, "caption": "Promo by id"}),
        ("image", {"url": f"{media_server}/promo.png", "caption": "Promo by url"}),
        ("file", {"url": f"{media_server}/catalog.pdf", "filename": "katalog.pdf"}),
        ("contact", {"contact_name": "Budi", "contact_phone": "6281211112222"}),
        ("location", {"latitude": -6.2, "longitude": 106.816666}),
        ("link", {"link": f"{media_server}/promo.png", "caption": "Lihat promo"}),
        ("poll", {"question": "Jam buka?", "options": ["Pagi", "Siang", "Malam"], "max_answer": 1}),
        (
            "interactive",
            {
                "type": "button",
                "text": "Pilih",
                "buttons": [{"id": "y", "text": "Ya"}, {"id": "n", "text": "Tidak"}],
            },
        ),
    ]
    multipart_sends: list[tuple[str, dict[str, str], tuple[str, bytes, str]]] = [
        ("video", {"caption": "Video"}, ("clip.mp4", MP4, "video/mp4")),
        ("audio", {"ptt": "false"}, ("voice.mp3", MP3, "audio/mpeg")),
        ("sticker", {}, ("sticker.png", png_bytes(), "image/png")),
    ]
    ids: dict[str, list[str]] = {}
    for message_type, body in json_sends:
        response = requests.post(
            f"{api}/messages/{message_type}",
            json={"device_id": device_id, "to": to, **body},
            headers=headers,
            timeout=30,
        )
        assert response.status_code == 202, (message_type, response.text)
        ids.setdefault(message_type, []).append(response.json()["message_id"])
    for message_type, form, upload in multipart_sends:
        response = requests.post(
            f"{api}/messages/{message_type}",
            data={"device_id": device_id, "to": to, **form},
            files={"file": upload},
            headers=headers,
            timeout=30,
        )
        assert response.status_code == 202, (message_type, response.text)
        ids.setdefault(message_type, []).append(response.json()["message_id"])

    all_ids = [i for group in ids.values() for i in group]

    def delivered() -> bool:
        return Message.objects.filter(pk__in=all_ids, status__in=["delivered", "read"]).count() == len(
            all_ids
        )

    wait_until(delivered, timeout=60, what="every type to be delivered")
    paths = sorted({s["path"] for s in stack.sim.sent()})
    assert paths == sorted(
        {
            "/send/message",
            "/send/image",
            "/send/file",
            "/send/contact",
            "/send/location",
            "/send/link",
            "/send/poll",
            "/send/video",
            "/send/audio",
            "/send/sticker",
        }
    )
    by_url = Message.objects.get(pk=ids["image"][1])
    assert by_url.media is not None and by_url.media.source_url.endswith("/promo.png")
    menu = next(s for s in stack.sim.sent() if s["fields"].get("message", "").startswith("Pilih"))
    assert "1. Ya" in menu["fields"]["message"] and "2. Tidak" in menu["fields"]["message"]
