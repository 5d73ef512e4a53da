"""Media a tenant sends: stored through Django's default storage (filesystem in development, S3 in
production), typed from the bytes — never from the client's Content-Type or file name — and held
to GOWA's types and size limits per kind (NOTES §5, §8)."""

from __future__ import annotations

import hashlib
import logging
import mimetypes
import uuid
from typing import Any

import filetype
from django.conf import settings
from django.core.files.base import ContentFile, File
from django.core.files.uploadedfile import UploadedFile

from tenants.models import Tenant
from wavora.api.errors import NotFound, ValidationFailed, WavoraError
from wavora.ssrf import fetch, human_bytes

from .models import Media

logger = logging.getLogger(__name__)

KINDS = tuple(Media.Kind.values)
_LIMIT_SETTINGS = {
    "image": "MEDIA_MAX_IMAGE_BYTES",
    "video": "MEDIA_MAX_VIDEO_BYTES",
    "audio": "MEDIA_MAX_AUDIO_BYTES",
    "sticker": "MEDIA_MAX_STICKER_BYTES",
    "file": "MEDIA_MAX_FILE_BYTES",
}
# The content types GOWA accepts per kind, spelled the way GOWA checks them; None = anything.
ALLOWED_TYPES: dict[str, frozenset[str] | None] = {
    "image": frozenset({"image/jpeg", "image/png"}),
    "video": frozenset({"video/mp4", "video/x-matroska", "video/x-msvideo"}),
    "audio": frozenset(
        {
            "audio/aac",
            "audio/amr",
            "audio/flac",
            "audio/m4a",
            "audio/mpeg",
            "audio/ogg",
            "audio/x-wav",
            "audio/x-ms-wma",
        }
    ),
    "sticker": frozenset({"image/jpeg", "image/png", "image/webp", "image/gif"}),
    "file": None,
}
_ALLOWED_NAMES = {
    "image": "JPEG or PNG",
    "video": "MP4, MKV or AVI",
    "audio": "AAC, AMR, FLAC, M4A, MP3, OGG, WAV or WMA",
    "sticker": "JPEG, PNG, WebP or GIF",
}
_A_KIND = {
    "image": "an image",
    "video": "a video",
    "audio": "audio",
    "sticker": "a sticker",
    "file": "a file",
}
_PLURAL = {"image": "images", "video": "videos", "audio": "audio", "sticker": "stickers", "file": "files"}

# filetype's names → the names GOWA accepts for the same format.
_CANONICAL = {
    "audio/x-flac": "audio/flac",
    "audio/mp4": "audio/m4a",
    "video/x-m4v": "video/mp4",
    "image/apng": "image/png",
}
# Extensions we write to storage for types mimetypes does not know.
_EXTENSIONS = {
    "image/jpeg": ".jpg",
    "audio/m4a": ".m4a",
    "audio/flac": ".flac",
    "audio/amr": ".amr",
    "audio/aac": ".aac",
    "audio/x-ms-wma": ".wma",
    "audio/ogg": ".ogg",
    "video/x-matroska": ".mkv",
    "text/csv": ".csv",
    "text/plain": ".txt",
}
_SNIFF_BYTES = 8192  # filetype never looks further than this
_TEXT_EXTENSIONS = {".txt": "text/plain", ".csv": "text/csv"}


class MediaTooLarge(WavoraError):
    status_code = 413
    code = "PAYLOAD_TOO_LARGE"
    default_detail = "The file is too large."


class UnsupportedMediaType(WavoraError):
    status_code = 415
    code = "UNSUPPORTED_MEDIA_TYPE"
    default_detail = "This type of file is not allowed here."


def detect(content: bytes, filename: str) -> tuple[str, str]:
    """(content type, kind guess) from the first bytes of a file.

    The file name only breaks ties the bytes cannot: an ASF container is WMA audio or WMV video, an
    MP4 container may be M4A audio, and text (which has no magic number) is text/plain or text/csv
    only when it says so and has no NUL bytes; any other unknown bytes are application/octet-stream."""
    head = bytes(content[:_SNIFF_BYTES])
    extension = _extension(filename)
    match = filetype.guess(head) if head else None
    if match is not None:
        content_type = _CANONICAL.get(match.mime, match.mime)
        if content_type == "video/x-ms-wmv" and extension == ".wma":
            content_type = "audio/x-ms-wma"
        elif content_type == "video/mp4" and extension == ".m4a":
            content_type = "audio/m4a"
    elif extension in _TEXT_EXTENSIONS and b"\x00" not in head:
        content_type = _TEXT_EXTENSIONS[extension]
    else:
        content_type = "application/octet-stream"
    return content_type, _kind_for(content_type)


def max_bytes_for(kind: str) -> int:
    return int(getattr(settings, _LIMIT_SETTINGS[kind]))


def check_sendable(*, kind: str, content_type: str, size: int, field: str = "file") -> None:
    """415 when GOWA does not take this type as ``kind``, 413 when it is over the kind's limit."""
    allowed = ALLOWED_TYPES[kind]
    if allowed is not None and content_type not in allowed:
        reason = (
            f"the file is {content_type} (detected from its bytes), but {_A_KIND[kind]} must be "
            f"{_ALLOWED_NAMES[kind]}."
        )
        raise UnsupportedMediaType(
            f"{field}: {reason}",
            details={
                field: [reason[:1].upper() + reason[1:]],
                "detected_content_type": [content_type],
                "allowed_content_types": sorted(allowed),
            },
        )
    limit = max_bytes_for(kind)
    if size > limit:
        reason = f"the file is {human_bytes(size)}, over the {human_bytes(limit)} limit for {_PLURAL[kind]}."
        raise MediaTooLarge(f"{field}: {reason}", details={field: [reason[:1].upper() + reason[1:]]})


def ensure_sendable_as(media: Media, kind: str) -> None:
    """A stored media may be sent as ``kind`` (e.g. an uploaded PNG as a sticker): 415/413 if not."""
    check_sendable(kind=kind, content_type=media.content_type, size=media.size, field="media_id")


def media_store(
    *,
    tenant: Tenant,
    content: bytes | UploadedFile,
    filename: str,
    kind: str | None,
    source_url: str = "",
) -> Media:
    """Checks and stores a file for ``tenant``. ``kind=None`` infers the kind from the bytes.

    Uploads are streamed to storage chunk by chunk (a large upload Django spooled to a temporary file
    is moved, not read into memory); size and SHA-256 are computed from what is actually stored."""
    field = "url" if source_url else "file"
    if kind is not None and kind not in KINDS:
        raise ValidationFailed(
            f"kind: {kind!r} is not a media kind.", details={"kind": [f"One of: {', '.join(KINDS)}."]}
        )
    upload: File[Any] = ContentFile(content) if isinstance(content, bytes) else content
    upload.seek(0)
    head = upload.read(_SNIFF_BYTES)
    upload.seek(0)
    if not head:
        raise ValidationFailed(f"{field}: the file is empty.", details={field: ["The file is empty."]})
    content_type, guessed = detect(head, filename)
    kind = kind or guessed
    check_sendable(kind=kind, content_type=content_type, size=upload.size, field=field)
    digest, size = _sha256_and_size(upload)
    check_sendable(kind=kind, content_type=content_type, size=size, field=field)

    media = Media(
        id=uuid.uuid4(),
        tenant=tenant,
        kind=kind,
        content_type=content_type,
        size=size,
        filename=clean_filename(filename, content_type),
        sha256=digest,
        source_url=source_url[:2000],
    )
    # Our own name in storage: the client's file name never becomes a path.
    media.file.save(f"{media.id}{_storage_extension(content_type)}", upload, save=False)
    try:
        media.save(force_insert=True)
    except BaseException:
        media.file.delete(save=False)
        raise
    logger.info("Stored media %s (%s, %s bytes) for tenant %s", media.pk, content_type, size, tenant.pk)
    return media


def media_of_tenant(tenant_id: Any, media_id: Any) -> Media:
    """The tenant's media, or 404 NOT_FOUND (also for another tenant's media and malformed ids)."""
    try:
        pk = uuid.UUID(str(media_id))
    except ValueError:
        pk = None
    media = Media.objects.filter(tenant_id=tenant_id, pk=pk).first() if pk else None
    if media is None:
        raise NotFound("Media not found.", details={"media_id": ["No media with this id."]})
    return media


def media_read(media: Media) -> bytes:
    with media.file.open("rb") as handle:
        return handle.read()


def media_from_url(*, tenant: Tenant, url: str, kind: str | None) -> Media:
    """Downloads a tenant's URL behind the SSRF guard (capped at the kind's limit) and stores it.
    Raises the guard's 400/413 or this module's 413/415."""
    limit = max_bytes_for(kind) if kind else max(max_bytes_for(k) for k in KINDS)
    fetched = fetch(url, max_bytes=limit, field="url")
    return media_store(
        tenant=tenant, content=fetched.content, filename=fetched.filename, kind=kind, source_url=url
    )


def clean_filename(filename: str, content_type: str = "application/octet-stream") -> str:
    """The name shown to the recipient: no directories, no control characters, at most 255 chars."""
    name = (filename or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(char for char in name if char.isprintable()).strip()
    if not name or name in (".", ".."):
        name = f"file{_storage_extension(content_type)}"
    if len(name) > 255:
        stem, dot, extension = name.rpartition(".")
        name = f"{stem[: 254 - len(extension)]}.{extension}" if dot and len(extension) < 20 else name[:255]
    return name


def _kind_for(content_type: str) -> str:
    for kind in ("image", "video", "audio"):
        allowed = ALLOWED_TYPES[kind]
        if allowed is not None and content_type in allowed:
            return kind
    return "file"


def _extension(filename: str) -> str:
    name = (filename or "").rsplit("/", 1)[-1]
    _, dot, extension = name.rpartition(".")
    return f".{extension.lower()}" if dot else ""


def _storage_extension(content_type: str) -> str:
    return _EXTENSIONS.get(content_type) or mimetypes.guess_extension(content_type) or ".bin"


def _sha256_and_size(upload: File[Any]) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    for chunk in upload.chunks():
        digest.update(chunk)
        size += len(chunk)
    upload.seek(0)
    return digest.hexdigest(), size
