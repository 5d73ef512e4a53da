"""Media upload and lookup (``POST /api/v1/media``, ``GET /api/v1/media/{id}``) and the media
services the send pipeline uses: the type comes from the bytes, limits are per kind, files land in
storage, and one tenant never sees another's media."""

from __future__ import annotations

import hashlib
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from messaging.media import (
    MediaTooLarge,
    UnsupportedMediaType,
    detect,
    ensure_sendable_as,
    media_from_url,
    media_read,
    media_store,
)
from messaging.models import Media
from tests.api.helpers import assert_error, assert_ok
from tests.conftest import Actor
from wavora.ssrf import ResponseTooLarge, UnsafeUrl

from . import FileServer

MEDIA = "/api/v1/media"
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
MP4 = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom" + b"\x00" * 512
MP3 = b"ID3\x03\x00\x00\x00\x00\x00\x0f" + b"\x00" * 512


def picture(fmt: str, size: tuple[int, int] = (16, 16)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(buffer, format=fmt)
    return buffer.getvalue()


def upload(actor: Actor, name: str, content: bytes, content_type: str, **form: str) -> Any:
    part = SimpleUploadedFile(name, content, content_type=content_type)
    return actor.api.post(MEDIA, {"file": part, **form}, format="multipart")


@pytest.fixture(autouse=True)
def media_root(settings: Any, tmp_path: Path) -> Path:
    settings.MEDIA_ROOT = str(tmp_path / "media")
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    }
    settings.ALLOW_PRIVATE_URLS = False
    return tmp_path / "media"


def stored_files(root: Path) -> list[Path]:
    return [path for path in root.rglob("*") if path.is_file()] if root.exists() else []


# --- upload ----------------------------------------------------------------------------------
def test_an_upload_is_typed_from_its_bytes_not_its_header_or_name(alice: Actor, media_root: Path) -> None:
    png = picture("PNG")

    data = assert_ok(upload(alice, "scan.pdf", png, "application/pdf"), 201)

    assert data["kind"] == "image"
    assert data["content_type"] == "image/png"
    assert data["size"] == len(png)
    assert data["sha256"] == hashlib.sha256(png).hexdigest()
    assert data["filename"] == "scan.pdf"
    assert set(data) == {"media_id", "kind", "content_type", "size", "filename", "sha256", "created_at"}
    media = Media.objects.get(pk=data["media_id"])
    assert media.tenant == alice.tenant
    with default_storage.open(media.file.name, "rb") as stored:
        assert stored.read() == png
    assert stored_files(media_root) == [media_root / media.file.name]
    assert media_read(media) == png


@pytest.mark.parametrize(
    ("name", "content", "kind", "content_type"),
    [
        ("photo.jpg", picture("JPEG"), "image", "image/jpeg"),
        ("catalog.pdf", PDF, "file", "application/pdf"),
        ("clip.mp4", MP4, "video", "video/mp4"),
        ("voice.mp3", MP3, "audio", "audio/mpeg"),
        ("sticker.webp", picture("WEBP"), "file", "image/webp"),
        ("prices.csv", b"sku,price\nA-1,15000\n", "file", "text/csv"),
        ("notes.txt", b"Halo, apa kabar?\n", "file", "text/plain"),
        ("blob.dat", b"\x13\x37 no magic here", "file", "application/octet-stream"),
        ("fake.txt", b"\x01\x02\x00\x03 binary with a NUL", "file", "application/octet-stream"),
    ],
)
def test_the_kind_is_inferred_from_the_bytes_when_not_given(
    alice: Actor, name: str, content: bytes, kind: str, content_type: str
) -> None:
    data = assert_ok(upload(alice, name, content, "application/octet-stream"), 201)

    assert (data["kind"], data["content_type"]) == (kind, content_type)


@pytest.mark.parametrize(
    ("name", "content", "kind"),
    [
        ("photo.jpg", picture("JPEG"), "image"),
        ("sticker.webp", picture("WEBP"), "sticker"),
        ("party.gif", picture("GIF"), "sticker"),
        ("catalog.pdf", PDF, "file"),
        ("photo.png", picture("PNG"), "file"),
        ("clip.mp4", MP4, "video"),
    ],
)
def test_an_explicit_kind_is_kept_when_the_bytes_fit_it(
    alice: Actor, name: str, content: bytes, kind: str
) -> None:
    data = assert_ok(upload(alice, name, content, "image/png", kind=kind), 201)

    assert data["kind"] == kind


@pytest.mark.parametrize(
    ("name", "content", "kind", "detected", "allowed"),
    [
        ("invoice.pdf", PDF, "image", "application/pdf", "JPEG or PNG"),
        ("photo.png", picture("PNG"), "video", "image/png", "MP4, MKV or AVI"),
        ("clip.mp4", MP4, "audio", "video/mp4", "MP3"),
        ("photo.bmp", picture("BMP"), "sticker", "image/bmp", "JPEG, PNG, WebP or GIF"),
    ],
)
def test_a_type_the_kind_does_not_allow_is_a_415_naming_both(
    alice: Actor, media_root: Path, name: str, content: bytes, kind: str, detected: str, allowed: str
) -> None:
    error = assert_error(upload(alice, name, content, "image/png", kind=kind), 415, "UNSUPPORTED_MEDIA_TYPE")

    assert detected in error["message"] and allowed in error["message"]
    assert error["details"]["detected_content_type"] == [detected]
    assert not Media.objects.exists() and stored_files(media_root) == []


def test_a_file_over_its_kinds_limit_is_a_413_naming_the_limit_in_mb(
    alice: Actor, settings: Any, media_root: Path
) -> None:
    settings.MEDIA_MAX_IMAGE_BYTES = 1024 * 1024
    oversized = picture("PNG") + b"\x00" * (1024 * 1024 + 512 * 1024)

    error = assert_error(upload(alice, "big.png", oversized, "image/png"), 413, "PAYLOAD_TOO_LARGE")

    assert error["message"] == "file: the file is 1.5 MB, over the 1 MB limit for images."
    assert not Media.objects.exists() and stored_files(media_root) == []


def test_the_limit_follows_the_kind(alice: Actor, settings: Any) -> None:
    settings.MEDIA_MAX_IMAGE_BYTES = 1000
    settings.MEDIA_MAX_FILE_BYTES = 50 * 1024 * 1024
    png = picture("PNG", (200, 200)) + b"\x00" * 2000

    assert_error(upload(alice, "photo.png", png, "image/png", kind="image"), 413, "PAYLOAD_TOO_LARGE")
    assert assert_ok(upload(alice, "photo.png", png, "image/png", kind="file"), 201)["kind"] == "file"


def test_an_upload_larger_than_any_limit_is_refused_before_it_is_read(
    alice: Actor, settings: Any, media_root: Path
) -> None:
    for name in ("IMAGE", "FILE", "VIDEO", "AUDIO", "STICKER"):
        setattr(settings, f"MEDIA_MAX_{name}_BYTES", 1000)

    error = assert_error(
        upload(alice, "big.pdf", PDF + b"\x00" * (1200 * 1024), "application/pdf"), 413, "PAYLOAD_TOO_LARGE"
    )

    assert "no media may be larger than 1000 bytes" in error["message"]
    assert stored_files(media_root) == []


def test_a_missing_file_is_a_400_naming_the_field(alice: Actor) -> None:
    error = assert_error(
        alice.api.post(MEDIA, {"kind": "image"}, format="multipart"), 400, "VALIDATION_ERROR"
    )

    assert "file" in error["details"]


def test_an_empty_file_is_a_400(alice: Actor) -> None:
    error = assert_error(upload(alice, "empty.png", b"", "image/png"), 400, "VALIDATION_ERROR")

    assert "file" in error["details"]


def test_an_unknown_kind_is_a_400_naming_the_field(alice: Actor) -> None:
    error = assert_error(
        upload(alice, "a.png", picture("PNG"), "image/png", kind="gif"), 400, "VALIDATION_ERROR"
    )

    assert "kind" in error["details"]


def test_the_clients_file_name_never_becomes_a_storage_path(alice: Actor, media_root: Path) -> None:
    data = assert_ok(upload(alice, "../../../etc/cron.d/evil.png", picture("PNG"), "image/png"), 201)

    media = Media.objects.get(pk=data["media_id"])
    assert data["filename"] == "evil.png"
    assert Path(media.file.name).name == f"{media.pk}.png"
    assert [path.is_relative_to(media_root) for path in stored_files(media_root)] == [True]


def test_uploading_needs_the_send_scope(alice: Actor) -> None:
    reader = alice.client_with(scopes=["messages:read"])
    part = SimpleUploadedFile("a.png", picture("PNG"), content_type="image/png")

    assert_error(reader.post(MEDIA, {"file": part}, format="multipart"), 403, "FORBIDDEN")
    assert not Media.objects.exists()


# --- reading ---------------------------------------------------------------------------------
def test_metadata_is_readable_by_the_tenant_and_its_team(alice: Actor, bob: Actor) -> None:
    created = assert_ok(upload(alice, "photo.jpg", picture("JPEG"), "image/jpeg"), 201)

    for actor in (alice, bob):
        assert assert_ok(actor.api.get(f"{MEDIA}/{created['media_id']}")) == created


def test_another_tenants_media_is_not_found(alice: Actor, charlie: Actor) -> None:
    created = assert_ok(upload(alice, "photo.jpg", picture("JPEG"), "image/jpeg"), 201)

    assert_error(charlie.api.get(f"{MEDIA}/{created['media_id']}"), 404, "NOT_FOUND")
    assert_error(charlie.api.get(f"{MEDIA}/not-a-uuid"), 404, "NOT_FOUND")


def test_reading_needs_the_read_scope(alice: Actor) -> None:
    created = assert_ok(upload(alice, "photo.jpg", picture("JPEG"), "image/jpeg"), 201)
    sender = alice.client_with(scopes=["messages:send"])

    assert_error(sender.get(f"{MEDIA}/{created['media_id']}"), 403, "FORBIDDEN")


# --- services the send pipeline uses ---------------------------------------------------------
@pytest.fixture
def files() -> Iterator[FileServer]:
    server = FileServer()
    yield server
    server.stop()


def test_media_from_url_downloads_and_types_the_bytes(alice: Actor, settings: Any, files: FileServer) -> None:
    settings.ALLOW_PRIVATE_URLS = True
    png = picture("PNG")
    files.route("/promo.png", png, headers={"Content-Type": "text/html"})
    url = files.url("/promo.png")

    media = media_from_url(tenant=alice.tenant, url=url, kind="image")

    assert (media.kind, media.content_type, media.filename) == ("image", "image/png", "promo.png")
    assert media.source_url == url
    assert media.sha256 == hashlib.sha256(png).hexdigest()
    assert media_read(media) == png


def test_media_from_url_refuses_private_addresses_and_fetches_nothing(
    alice: Actor, files: FileServer
) -> None:
    files.route("/promo.png", picture("PNG"))

    with pytest.raises(UnsafeUrl):
        media_from_url(tenant=alice.tenant, url=files.url("/promo.png"), kind="image")

    assert files.seen == []
    assert not Media.objects.exists()


def test_media_from_url_stops_at_the_kinds_limit(alice: Actor, settings: Any, files: FileServer) -> None:
    settings.ALLOW_PRIVATE_URLS = True
    settings.MEDIA_MAX_IMAGE_BYTES = 1000
    files.route("/huge.png", picture("PNG") + b"\x00" * 5000, send_length=False)

    with pytest.raises(ResponseTooLarge):
        media_from_url(tenant=alice.tenant, url=files.url("/huge.png"), kind="image")

    assert not Media.objects.exists()


def test_media_from_url_refuses_the_wrong_type_for_the_kind(
    alice: Actor, settings: Any, files: FileServer
) -> None:
    settings.ALLOW_PRIVATE_URLS = True
    files.route("/catalog.pdf", PDF, headers={"Content-Type": "image/jpeg"})

    with pytest.raises(UnsupportedMediaType) as refused:
        media_from_url(tenant=alice.tenant, url=files.url("/catalog.pdf"), kind="image")

    assert refused.value.details["url"]
    assert not Media.objects.exists()


def test_a_stored_file_may_be_sent_only_as_a_kind_that_takes_it(alice: Actor, settings: Any) -> None:
    png = media_store(tenant=alice.tenant, content=picture("PNG"), filename="a.png", kind=None)
    pdf = media_store(tenant=alice.tenant, content=PDF, filename="a.pdf", kind=None)

    ensure_sendable_as(png, "sticker")
    ensure_sendable_as(pdf, "file")
    with pytest.raises(UnsupportedMediaType):
        ensure_sendable_as(pdf, "image")
    settings.MEDIA_MAX_STICKER_BYTES = 10
    with pytest.raises(MediaTooLarge):
        ensure_sendable_as(png, "sticker")


@pytest.mark.parametrize(
    ("content", "filename", "expected"),
    [
        (picture("PNG"), "x", ("image/png", "image")),
        (picture("GIF"), "x.gif", ("image/gif", "file")),
        (b"\x00\x00\x00\x20ftypM4A \x00\x00\x00\x00M4A mp42isom" + b"\x00" * 64, "x", ("audio/m4a", "audio")),
        (b"fLaC\x00\x00\x00\x22" + b"\x00" * 64, "x", ("audio/flac", "audio")),
        (b"OggS\x00\x02" + b"\x00" * 64, "voice.ogg", ("audio/ogg", "audio")),
        (b"Just words, no magic.", "readme.md", ("application/octet-stream", "file")),
    ],
)
def test_detect_reports_gowas_names_for_the_format(
    content: bytes, filename: str, expected: tuple[str, str]
) -> None:
    assert detect(content, filename) == expected
