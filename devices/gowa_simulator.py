"""A faithful HTTP simulator of GOWA v9.2 (go-whatsapp-web-multidevice), with simulated phone and recipients.

Wavora's GOWA client must work unchanged against the real gateway and against this simulator, so paths,
methods, status codes, envelope and quirks follow the Go source at v9.2.0 (see shared/gowa/NOTES.md), not
only the OpenAPI spec. Where behaviour is simulated rather than copied (pairing, receipts, inbound
traffic), the ``/_sim/*`` control API drives it.

Only the standard library plus ``qrcode`` (QR PNGs) and ``requests`` (outgoing webhooks) are used, so the
module stays importable without Django; ``manage.py gowa_simulator`` is a thin wrapper around :func:`run`.

Public API: :class:`SimulatorConfig`, :func:`make_server`, :func:`add_arguments`, :func:`config_from_options`,
:func:`run` and :func:`main`.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import contextlib
import copy
import dataclasses
import email.message
import email.parser
import email.policy
import functools
import hashlib
import hmac
import http.server
import io
import json
import logging
import mimetypes
import os
import random
import re
import secrets
import shutil
import signal
import tempfile
import threading
import time
import unicodedata
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

import qrcode
import requests
from PIL import Image

logger = logging.getLogger(__name__)

APP_VERSION = "v9.2.0"
APP_OS = "GOWA"
# Compiled-in limits reported by GET /app/info (src/config/settings.go).
MAX_IMAGE_SIZE = 20_000_000
MAX_FILE_SIZE = 50_000_000
MAX_VIDEO_SIZE = 100_000_000
# Fiber's BodyLimit is set to the video limit.
MAX_BODY_SIZE = MAX_VIDEO_SIZE

USER_SERVER = "@s.whatsapp.net"
GROUP_SERVER = "@g.us"
MAX_PHONE_LENGTH = 15  # SanitizePhone: longer bare values are treated as group ids.
ALLOWED_DURATIONS = (0, 86400, 604800, 7776000)

SENT_LOG_LIMIT = 10_000  # entries kept for GET /_sim/sent

# whatsmeow's pairing-code alphabet (no 0, O, I, U).
PAIR_CODE_ALPHABET = "123456789ABCDEFGHJKLMNPQRSTVWXYZ"

RECEIPT_DESCRIPTIONS = {
    "delivered": "means the message was delivered to the device (but the user might not have noticed).",
    "read": "the user opened the chat and saw the message.",
    "read-self": (
        "the current user read a message from a different device, and has read receipts disabled in privacy "
        "settings."
    ),
}

TIMELOCK_MESSAGE = (
    "WhatsApp rejected this send with error 463 (reach-out timelock). This is WhatsApp's server-side "
    "anti-spam restriction on starting new chats and cannot be bypassed by the API. It usually means there "
    "is no prior conversation with this recipient, or the sending account is temporarily restricted from "
    "reaching new contacts. To get through: ask the recipient to message you first, reply within an "
    "already-established conversation, or open and send the chat once from the phone linked to this "
    "session, then reduce your sending rate and wait for the restriction to clear. Newly-linked or "
    "low-activity numbers are affected most."
)

AUDIO_MIMES = (
    "audio/aac",
    "audio/amr",
    "audio/flac",
    "audio/m4a",
    "audio/m4r",
    "audio/mp3",
    "audio/mpeg",
    "audio/ogg",
    "audio/vnd.wav",
    "audio/vnd.wave",
    "audio/wav",
    "audio/wave",
    "audio/wma",
    "audio/x-ms-wma",
    "audio/x-pn-wav",
    "audio/x-wav",
)
IMAGE_MIMES = ("image/jpeg", "image/jpg", "image/png")
STICKER_MIMES = ("image/jpeg", "image/jpg", "image/png", "image/webp", "image/gif")
VIDEO_MIMES = ("video/mp4", "video/x-matroska", "video/avi", "video/x-msvideo")

# Extensions GOWA ends up with for downloaded media (determineMediaExtension).
MEDIA_EXTENSIONS = {
    "image/jpeg": ".jpeg",
    "image/png": ".png",
    "image/webp": ".webp",
    "image/gif": ".gif",
    "video/mp4": ".mp4",
    "audio/ogg": ".ogg",
    "audio/mpeg": ".mp3",
    "application/pdf": ".pdf",
}
DEFAULT_MEDIA_MIME = {
    "image": "image/jpeg",
    "video": "video/mp4",
    "audio": "audio/ogg; codecs=opus",
    "document": "application/pdf",
    "sticker": "image/webp",
    "video_note": "video/mp4",
}
# A 1x1 PNG: enough for a receiver to download "some bytes" for inbound media.
TINY_PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)


# ----------------------------------------------------------------------------------------------------------
# Errors: GOWA panics with typed errors and a recovery middleware maps them to status + string code.
# ----------------------------------------------------------------------------------------------------------
class ApiError(Exception):
    """An error answered with GOWA's JSON envelope."""

    def __init__(self, status: int, code: str, message: str, results: Any = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.results = results


def validation_error(message: str) -> ApiError:
    return ApiError(400, "VALIDATION_ERROR", message)


def internal_error(message: str) -> ApiError:
    # Any untyped Go error surfaces as 500 INTERNAL_SERVER_ERROR with the error text.
    return ApiError(500, "INTERNAL_SERVER_ERROR", message)


def err_not_connected() -> ApiError:
    return ApiError(401, "AUTHENTICATION_ERROR", "you are not connect to services server, please reconnect")


def err_not_logged_in() -> ApiError:
    return ApiError(401, "AUTHENTICATION_ERROR", "you are not logged in")


def err_already_logged_in() -> ApiError:
    return ApiError(400, "ALREADY_LOGGED_IN", "you are already logged in.")


def err_wa_cli() -> ApiError:
    # A slot that never had a WhatsApp client (created, never logged in, or logged out).
    return ApiError(500, "INVALID_WA_CLI", "your WhatsApp CLI is invalid or empty")


def err_device_not_found_typed() -> ApiError:
    return ApiError(404, "NOT_FOUND", "device not found")


def err_unknown_device(device_id: str) -> ApiError:
    # The [spec≠code] quirk: /devices/{id} answers 500, not 404, for an unknown id.
    return internal_error(f"device {device_id} not found")


class FieldErrors:
    """Collects ozzo-validation style errors ("field: message; other: message.")."""

    def __init__(self) -> None:
        self.errors: dict[str, str] = {}

    def add(self, name: str, message: str) -> None:
        self.errors[name] = message  # ozzo keeps the last error for a field

    def raise_if_any(self) -> None:
        if self.errors:
            text = "; ".join(f"{key}: {self.errors[key]}" for key in sorted(self.errors))
            raise validation_error(text + ".")


# ----------------------------------------------------------------------------------------------------------
# Small format helpers that mimic Go's output.
# ----------------------------------------------------------------------------------------------------------
def utcnow() -> datetime:
    return datetime.now(UTC)


def rfc3339(moment: datetime) -> str:
    """Go's time.RFC3339 in UTC (GOWA's containers run in UTC)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def rfc3339_nano(moment: datetime) -> str:
    """Go's time.Time JSON encoding: RFC3339 with trailing-zero-trimmed fractional seconds."""
    moment = moment.astimezone(UTC)
    fraction = f"{moment.microsecond:06d}".rstrip("0")
    return moment.strftime("%Y-%m-%dT%H:%M:%S") + (f".{fraction}" if fraction else "") + "Z"


def go_time_string(moment: datetime) -> str:
    """Go's time.Time.String() for a whole-second server timestamp in UTC."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S +0000 UTC")


_GO_JSON_ESCAPES = (
    ("&", "\\u0026"),
    ("<", "\\u003c"),
    (">", "\\u003e"),
    ("\u2028", "\\u2028"),
    ("\u2029", "\\u2029"),
)


def go_json(value: Any, *, sort_keys: bool = False) -> bytes:
    """Serialise like Go's encoding/json: compact, UTF-8, HTML characters escaped; maps get sorted keys."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=sort_keys)
    for raw, escaped in _GO_JSON_ESCAPES:
        text = text.replace(raw, escaped)  # these only ever occur inside JSON strings
    return text.encode("utf-8")


def new_message_id() -> str:
    """whatsmeow's GenerateMessageID: "3EB0" + 18 upper-case hex characters."""
    return "3EB0" + secrets.token_hex(9).upper()


def new_phone_message_id() -> str:
    """Ids of messages typed on a phone (Android style: 32 upper-case hex characters)."""
    return secrets.token_hex(16).upper()


def new_pair_code() -> str:
    code = "".join(secrets.choice(PAIR_CODE_ALPHABET) for _ in range(8))
    return f"{code[:4]}-{code[4:]}"


def new_qr_content() -> str:
    """What a WhatsApp Web QR encodes: ref, noise key, identity key and ADV secret."""

    def b64(size: int) -> str:
        return base64.b64encode(secrets.token_bytes(size)).decode()

    return ",".join(["2@" + b64(66), b64(32), b64(32), b64(32)])


def render_qr_png(content: str, size: int = 512) -> bytes:
    """A 512 px PNG like skip2/go-qrcode's WriteFile(content, Medium, 512, path)."""
    qr = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=4, box_size=8)
    qr.add_data(content)
    qr.make(fit=True)
    image: Any = qr.make_image(fill_color="black", back_color="white")
    pil_image = image.get_image() if hasattr(image, "get_image") else image
    pil_image = pil_image.convert("L").resize((size, size), Image.Resampling.NEAREST)
    buffer = io.BytesIO()
    pil_image.save(buffer, format="PNG")
    return buffer.getvalue()


def random_phone() -> str:
    return "62812" + "".join(random.choice("0123456789") for _ in range(7))


def strip_server(jid: str) -> str:
    return jid.split("@", 1)[0]


def sanitize_phone(phone: str) -> str:
    """utils.SanitizePhone: a bare value gets @s.whatsapp.net (≤15 chars) or @g.us. '+' is kept here."""
    if phone and "@" not in phone:
        return phone + (USER_SERVER if len(phone) <= MAX_PHONE_LENGTH else GROUP_SERVER)
    return phone


def normalize_number(value: str) -> str:
    """Digits of a phone or user JID, as used for the not-on-WhatsApp registry."""
    value = value.strip()
    if value.startswith("+"):
        value = value[1:]
    return strip_server(value).split(":", 1)[0]


def parse_jid(value: str) -> tuple[str, str]:
    """utils.ParseJID: returns (user, server) or raises the untyped error GOWA would."""
    if value.startswith("+"):
        value = value[1:]
    if "@" not in value:
        return value, USER_SERVER[1:]
    user, server = value.split("@", 1)
    if not user:
        raise internal_error(f"invalid JID {value}: no server specified")
    return user, server


def non_ad_jid(value: str) -> str:
    """Drop the :device suffix and a leading '+', like JID.ToNonAD().String()."""
    user, server = parse_jid(value)
    return f"{user.split(':', 1)[0]}@{server}"


_BAD_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})")


def go_query_unescape(value: str) -> str | None:
    """url.QueryUnescape: '+' becomes a space, a malformed escape is an error (None)."""
    if _BAD_ESCAPE.search(value):
        return None
    return unquote(value.replace("+", " "))


def go_path_unescape(value: str) -> str | None:
    """url.PathUnescape: like QueryUnescape but '+' stays a '+'."""
    if _BAD_ESCAPE.search(value):
        return None
    return unquote(value)


def go_html_escape(value: str) -> str:
    """html.EscapeString, used by Fiber's "Cannot GET /path" 404 body."""
    for raw, escaped in (("&", "&amp;"), ("'", "&#39;"), ("<", "&lt;"), (">", "&gt;"), ('"', "&#34;")):
        value = value.replace(raw, escaped)
    return value


def parse_go_bool(value: str) -> bool:
    """gofiber/schema's bool conversion (strconv.ParseBool plus "on")."""
    lowered = value.strip()
    if lowered in ("1", "t", "T", "TRUE", "true", "True", "on"):
        return True
    if lowered in ("0", "f", "F", "FALSE", "false", "False", "off", ""):
        return False
    raise ValueError(f'strconv.ParseBool: parsing "{value}": invalid syntax')


def is_url(value: str) -> bool:
    """A good-enough stand-in for ozzo's is.URL."""
    if not value or any(ch.isspace() for ch in value):
        return False
    try:
        parts = urlsplit(value if "://" in value else "http://" + value)
        hostname = parts.hostname or ""
    except ValueError:
        return False
    return parts.scheme in ("http", "https", "ftp") and ("." in hostname or hostname == "localhost")


def media_extension(mime_type: str, filename: str = "") -> str:
    if filename and os.path.splitext(filename)[1]:
        return os.path.splitext(filename)[1]
    bare = mime_type.split(";", 1)[0].strip().lower()
    if bare in MEDIA_EXTENSIONS:
        return MEDIA_EXTENSIONS[bare]
    guessed = mimetypes.guess_extension(bare)
    if guessed:
        return guessed
    return "." + bare.split("/")[-1] if "/" in bare else ""


# ----------------------------------------------------------------------------------------------------------
# Request bodies: JSON, urlencoded or multipart, bound by Content-Type like Fiber's c.Bind().Body().
# ----------------------------------------------------------------------------------------------------------
@dataclass
class Upload:
    filename: str
    content_type: str
    data: bytes

    @property
    def size(self) -> int:
        return len(self.data)


class BindError(Exception):
    """A body that Fiber could not bind; handlers turn it into a 500 (PanicIfNeeded) or a 400."""


@dataclass
class Body:
    kind: str  # "json" or "form"
    values: dict[str, Any] = field(default_factory=dict)  # JSON object, or form field -> list of values
    files: dict[str, Upload] = field(default_factory=dict)

    def _raw(self, name: str) -> Any:
        if name in self.values:
            return self.values[name]
        if self.kind == "json":
            # encoding/json also matches keys case-insensitively.
            for key, value in self.values.items():
                if key.lower() == name.lower():
                    return value
        return None

    def _form_value(self, name: str) -> str | None:
        values = self._raw(name)
        return values[0] if values else None

    def get_str(self, name: str) -> str:
        return self.get_opt_str(name) or ""

    def get_opt_str(self, name: str) -> str | None:
        if self.kind == "form":
            return self._form_value(name)
        value = self._raw(name)
        if value is None or isinstance(value, str):
            return value
        raise BindError(_json_type_error(name, value, "string"))

    def get_bool(self, name: str, default: bool = False) -> bool:
        if self.kind == "form":
            text = self._form_value(name)
            if text is None:
                return default
            try:
                return parse_go_bool(text)
            except ValueError as exc:
                raise BindError(f'bind "{name}" from body: {exc}') from exc
        value = self._raw(name)
        if value is None:
            return default
        if isinstance(value, bool):
            return value
        raise BindError(_json_type_error(name, value, "bool"))

    def get_opt_int(self, name: str) -> int | None:
        if self.kind == "form":
            text = self._form_value(name)
            if text is None or text == "":
                return None
            try:
                return int(text)
            except ValueError as exc:
                message = f'strconv.ParseInt: parsing "{text}": invalid syntax'
                raise BindError(f'bind "{name}" from body: {message}') from exc
        value = self._raw(name)
        if value is None:
            return None
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise BindError(_json_type_error(name, value, "int"))

    def get_str_list(self, name: str) -> list[str]:
        if self.kind == "form":
            return list(self._raw(name) or [])
        value = self._raw(name)
        if value is None:
            return []
        if isinstance(value, list) and all(isinstance(item, str) for item in value):
            return list(value)
        raise BindError(_json_type_error(name, value, "[]string"))

    def plain_fields(self) -> dict[str, Any]:
        """Non-file fields as the client sent them (single form values unwrapped)."""
        if self.kind == "json":
            return copy.deepcopy(self.values)
        return {key: values[0] if len(values) == 1 else list(values) for key, values in self.values.items()}


def _json_type_error(name: str, value: Any, go_type: str) -> str:
    kinds = {bool: "bool", int: "number", float: "number", str: "string", list: "array", dict: "object"}
    kind = kinds.get(type(value), "value")
    return (
        f'bind "{name}" from body: json: cannot unmarshal {kind} into Go struct field .{name} '
        f"of type {go_type}"
    )


def parse_body(content_type: str, raw: bytes) -> Body:
    """Fiber's Bind().Body(): pick the binder from the media type, else 422 (which GOWA turns into a 500)."""
    media_type = content_type.split(";", 1)[0].strip().lower()
    if media_type.startswith("application/vnd.") and media_type.endswith("+json"):
        media_type = "application/json"
    if media_type == "application/json":
        try:
            decoded = json.loads(raw.decode("utf-8")) if raw.strip() else None
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise BindError(f"bind from body: invalid character in JSON input: {exc}") from exc
        if decoded is None and not raw.strip():
            raise BindError("bind from body: unexpected end of JSON input")
        if decoded is None:
            return Body("json")
        if not isinstance(decoded, dict):
            raise BindError("bind from body: json: cannot unmarshal non-object into Go value")
        return Body("json", decoded)
    if media_type == "application/x-www-form-urlencoded":
        form: dict[str, Any] = {}
        for key, value in parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True):
            form.setdefault(key, []).append(value)
        return Body("form", form)
    if media_type == "multipart/form-data":
        return parse_multipart(content_type, raw)
    raise BindError("Unprocessable Entity")


def parse_multipart(content_type: str, raw: bytes) -> Body:
    """Parse multipart/form-data without mangling binary parts (the cgi module is deprecated).

    Part headers are parsed with the email package (RFC 2231 filenames included); part bodies are sliced
    straight out of the raw bytes between CRLF--boundary delimiters.
    """
    header = email.parser.Parser(policy=email.policy.HTTP).parsestr(f"Content-Type: {content_type}\r\n\r\n")
    boundary = header.get_param("boundary")
    if not isinstance(boundary, str) or not boundary:
        raise BindError("bind from body: mime: no multipart boundary param in Content-Type")
    delimiter = b"\r\n--" + boundary.encode("latin-1")
    chunks = (b"\r\n" + raw).split(delimiter)
    body = Body("form")
    for chunk in chunks[1:]:
        if chunk.startswith(b"--"):
            break  # close delimiter
        # Transport padding after the delimiter, then the CRLF that ends the delimiter line.
        _, _, part = chunk.partition(b"\r\n")
        head, separator, content = part.partition(b"\r\n\r\n")
        if not separator:
            raise BindError("bind from body: multipart: malformed part")
        part_headers = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + b"\r\n\r\n")
        name = part_headers.get_param("name", header="content-disposition")
        if not isinstance(name, str):
            continue
        filename = part_headers.get_filename()
        if filename is not None:
            # Go's FormFile keeps the first file of a name; the part's own Content-Type is what GOWA checks.
            body.files.setdefault(name, Upload(filename, part_headers.get("Content-Type", "") or "", content))
        else:
            body.values.setdefault(name, []).append(content.decode("utf-8", "replace"))
    return body


# ----------------------------------------------------------------------------------------------------------
# Validation and shaping of the send endpoints (src/validations/send_validation.go + usecase/send.go).
# ----------------------------------------------------------------------------------------------------------
@dataclass
class Outgoing:
    """What a send route asked for, after GOWA's validation."""

    route: str
    phone: str  # as GOWA holds it after SanitizePhone, e.g. "628123@s.whatsapp.net"
    status_template: str  # formatted with {phone} and {ts}
    content: str = ""
    media_type: str = ""
    filename: str = ""
    file_length: int = 0
    media_bytes: bytes | None = None
    reply_message_id: str | None = None
    produces_message: bool = True  # presence calls do not create a WhatsApp message
    fixed_message_id: str | None = None
    forward_of: str | None = None


def validate_phone_format(phone: str) -> None:
    """validatePhoneNumber: international format, no leading 0 (checked after SanitizePhone)."""
    number = phone.strip()
    if not number:
        raise validation_error("phone number cannot be empty")
    if number.startswith("+"):
        number = number[1:]
    if not number:
        raise validation_error("phone number cannot be empty")
    if number.startswith("0"):
        raise validation_error(
            "phone number must be in international format (should not start with 0). "
            "For Indonesian numbers, use 62xxx format instead of 08xxx"
        )


def validate_duration(duration: int | None) -> None:
    if duration is not None and duration not in ALLOWED_DURATIONS:
        raise validation_error(
            "duration must be one of: 0 (no expiry), 86400 (24h), 604800 (7d), 7776000 (90d)"
        )


def _require(errors: FieldErrors, name: str, value: Any) -> bool:
    if value in ("", None, [], 0):
        errors.add(name, "cannot be blank")
        return False
    return True


_LATITUDE_RE = re.compile(r"^[-+]?([1-8]?\d(\.\d+)?|90(\.0+)?)$")
_LONGITUDE_RE = re.compile(r"^[-+]?(180(\.0+)?|((1[0-7]\d)|([1-9]?\d))(\.\d+)?)$")


def build_outgoing(route: str, body: Body) -> Outgoing:
    """Bind, sanitise and validate one /send/* request exactly in GOWA's order."""
    builders: dict[str, Callable[[Body], Outgoing]] = {
        "message": _build_text,
        "image": _build_image,
        "file": _build_file,
        "video": _build_video,
        "audio": _build_audio,
        "sticker": _build_sticker,
        "contact": _build_contact,
        "link": _build_link,
        "location": _build_location,
        "poll": _build_poll,
        "presence": _build_presence,
        "chat-presence": _build_chat_presence,
    }
    return builders[route](body)


def _phone(body: Body) -> str:
    return sanitize_phone(body.get_str("phone"))


def _build_text(body: Body) -> Outgoing:
    phone, message = _phone(body), body.get_str("message")
    reply, mentions = body.get_opt_str("reply_message_id"), body.get_str_list("mentions")
    body.get_bool("is_forwarded")
    duration = body.get_opt_int("duration")
    errors = FieldErrors()
    _require(errors, "phone", phone)
    _require(errors, "message", message)
    errors.raise_if_any()
    validate_phone_format(phone)
    validate_duration(duration)
    for mention in mentions:
        if mention == "@everyone":
            continue
        try:
            validate_phone_format(mention)
        except ApiError as exc:
            message = f"mention {mention}: phone number must be in international format"
            raise validation_error(message) from exc
    return Outgoing(
        "message",
        phone,
        "Message sent to {phone} (server timestamp: {ts})",
        content=message,
        reply_message_id=reply,
    )


def _media_common(body: Body, part: str, url_field: str) -> tuple[str, Upload | None, str | None, int | None]:
    phone = _phone(body)
    url = body.get_opt_str(url_field)
    body.get_bool("is_forwarded")
    duration = body.get_opt_int("duration")
    errors = FieldErrors()
    _require(errors, "phone", phone)
    errors.raise_if_any()
    validate_phone_format(phone)
    return phone, body.files.get(part), url, duration


def _check_url(url: str | None, label: str) -> None:
    if url is not None:
        if url == "":
            raise validation_error(f"{label} cannot be empty")
        if not is_url(url):
            raise validation_error(f"{label} must be a valid URL")


def _upload_fields(upload: Upload | None, url: str | None, default_name: str) -> dict[str, Any]:
    """Filename, size and bytes of the uploaded part, or just a name derived from the *_url field."""
    if upload is not None:
        return {"filename": upload.filename, "file_length": upload.size, "media_bytes": upload.data}
    return {"filename": os.path.basename(urlsplit(url or "").path) or default_name}


def _build_image(body: Body) -> Outgoing:
    caption, reply = body.get_str("caption"), body.get_opt_str("reply_message_id")
    body.get_bool("view_once")
    body.get_bool("hd")
    phone, upload, url, duration = _media_common(body, "image", "image_url")
    if upload is None and not url:
        raise validation_error("either Image or ImageURL must be provided")
    if upload is not None and upload.content_type not in IMAGE_MIMES:
        raise validation_error("your image is not allowed. please use jpg/jpeg/png")
    _check_url(url, "ImageURL")
    validate_duration(duration)
    return Outgoing(
        "image",
        phone,
        "Message sent to {phone} (server timestamp: {ts})",
        content=caption,
        media_type="image",
        reply_message_id=reply,
        **_upload_fields(upload, url, "image.jpg"),
    )


def _build_file(body: Body) -> Outgoing:
    caption, reply = body.get_str("caption"), body.get_opt_str("reply_message_id")
    phone, upload, url, duration = _media_common(body, "file", "file_url")
    if upload is None and not url:
        raise validation_error("either File or FileURL must be provided")
    if upload is not None and upload.size > MAX_FILE_SIZE:
        raise validation_error(
            "max file upload is 50 MB, please upload in cloud and send via text if your "
            "file is higher than 50 MB"
        )
    _check_url(url, "FileURL")
    validate_duration(duration)
    return Outgoing(
        "file",
        phone,
        "Document sent to {phone} (server timestamp: {ts})",
        content=caption,
        media_type="document",
        reply_message_id=reply,
        **_upload_fields(upload, url, "file"),
    )


def _build_video(body: Body) -> Outgoing:
    caption, reply = body.get_str("caption"), body.get_opt_str("reply_message_id")
    for flag in ("view_once", "hd", "gif_playback"):
        body.get_bool(flag)
    phone, upload, url, duration = _media_common(body, "video", "video_url")
    if upload is None and not url:
        raise validation_error("either Video or VideoURL must be provided")
    if upload is not None:
        if upload.content_type not in VIDEO_MIMES:
            raise validation_error("your video type is not allowed. please use mp4/mkv/avi/x-msvideo")
        if upload.size > MAX_VIDEO_SIZE:
            raise validation_error(
                "max video upload is 100 MB, please upload in cloud and send via text if "
                "your file is higher than 100 MB"
            )
    _check_url(url, "VideoURL")
    validate_duration(duration)
    return Outgoing(
        "video",
        phone,
        "Video sent to {phone} (server timestamp: {ts})",
        content=caption,
        media_type="video",
        reply_message_id=reply,
        **_upload_fields(upload, url, "video.mp4"),
    )


def _build_audio(body: Body) -> Outgoing:
    reply = body.get_opt_str("reply_message_id")
    body.get_bool("ptt")
    phone, upload, url, duration = _media_common(body, "audio", "audio_url")
    if upload is None and not url:
        raise validation_error("either Audio or AudioURL must be provided")
    if upload is not None and upload.content_type not in AUDIO_MIMES:
        allowed = "".join(mime + "," for mime in sorted(AUDIO_MIMES))
        raise validation_error(f"your audio type is not allowed. please use ({allowed})")
    _check_url(url, "AudioURL")
    validate_duration(duration)
    return Outgoing(
        "audio",
        phone,
        "Send audio success {phone} (server timestamp: {ts})",
        media_type="audio",
        reply_message_id=reply,
        **_upload_fields(upload, url, "audio.ogg"),
    )


def _build_sticker(body: Body) -> Outgoing:
    phone, upload, url, duration = _media_common(body, "sticker", "sticker_url")
    if upload is None and not url:
        raise validation_error("either Sticker or StickerURL must be provided")
    if upload is not None and url:
        raise validation_error("cannot provide both Sticker file and StickerURL")
    if upload is not None and upload.content_type not in STICKER_MIMES:
        raise validation_error("your sticker is not allowed. please use jpg/jpeg/png/webp/gif")
    if url and not is_url(url):
        raise validation_error("StickerURL must be a valid URL")
    validate_duration(duration)
    fields = _upload_fields(upload, url, "sticker.webp")
    fields["filename"] = "sticker.webp"  # GOWA always converts stickers to WebP
    return Outgoing(
        "sticker", phone, "Sticker sent to {phone} (server timestamp: {ts})", media_type="sticker", **fields
    )


def _build_contact(body: Body) -> Outgoing:
    phone, name, contact_phone = _phone(body), body.get_str("contact_name"), body.get_str("contact_phone")
    body.get_bool("is_forwarded")
    duration = body.get_opt_int("duration")
    errors = FieldErrors()
    _require(errors, "phone", phone)
    _require(errors, "contact_phone", contact_phone)
    _require(errors, "contact_name", name)
    errors.raise_if_any()
    validate_phone_format(phone)
    try:
        validate_phone_format(contact_phone)
    except ApiError as exc:
        raise validation_error("contact " + exc.message) from exc
    validate_duration(duration)
    return Outgoing(
        "contact",
        phone,
        "Contact sent to {phone} (server timestamp: {ts})",
        content=f"👤 {name} (+{contact_phone.lstrip('+')})",
    )


def _build_link(body: Body) -> Outgoing:
    phone, link, caption = _phone(body), body.get_str("link"), body.get_str("caption")
    body.get_bool("is_forwarded")
    duration = body.get_opt_int("duration")
    errors = FieldErrors()
    _require(errors, "phone", phone)
    if _require(errors, "link", link) and not is_url(link):
        errors.add("link", "must be a valid URL")
    _require(errors, "caption", caption)
    errors.raise_if_any()
    validate_phone_format(phone)
    validate_duration(duration)
    return Outgoing(
        "link", phone, "Link sent to {phone} (server timestamp: {ts})", content=f"{caption}\n{link}"
    )


def _build_location(body: Body) -> Outgoing:
    phone, latitude, longitude = _phone(body), body.get_str("latitude"), body.get_str("longitude")
    body.get_bool("is_forwarded")
    duration = body.get_opt_int("duration")
    errors = FieldErrors()
    _require(errors, "phone", phone)
    if _require(errors, "latitude", latitude) and not _LATITUDE_RE.match(latitude):
        errors.add("latitude", "must be a valid latitude")
    if _require(errors, "longitude", longitude) and not _LONGITUDE_RE.match(longitude):
        errors.add("longitude", "must be a valid longitude")
    errors.raise_if_any()
    validate_phone_format(phone)
    validate_duration(duration)
    return Outgoing(
        "location",
        phone,
        "Send location success {phone} (server timestamp: {ts})",
        content=f"📍 {latitude}, {longitude}",
    )


def _build_poll(body: Body) -> Outgoing:
    phone, question, options = _phone(body), body.get_str("question"), body.get_str_list("options")
    max_answer = body.get_opt_int("max_answer") or 0
    duration = body.get_opt_int("duration")
    if not options:
        raise validation_error("options: cannot be blank.")
    errors = FieldErrors()
    _require(errors, "phone", phone)
    _require(errors, "question", question)
    blank = [str(index) for index, option in enumerate(options) if option == ""]
    if blank:
        errors.add("options", "(" + "; ".join(f"{index}: cannot be blank" for index in blank) + ".)")
    if _require(errors, "max_answer", max_answer):
        if max_answer < 1:
            errors.add("max_answer", "must be no less than 1")
        elif max_answer > len(options):
            errors.add("max_answer", f"must be no greater than {len(options)}")
    errors.raise_if_any()
    validate_phone_format(phone)
    validate_duration(duration)
    if len(set(options)) != len(options):
        raise validation_error("options should be unique")
    return Outgoing(
        "poll", phone, "Send poll success {phone} (server timestamp: {ts})", content=f"📊 {question}"
    )


def _build_presence(body: Body) -> Outgoing:
    presence_type = body.get_str("type")
    body.get_bool("is_forwarded")
    if presence_type not in ("", "available", "unavailable"):
        raise validation_error("type: must be a valid value.")
    return Outgoing(
        "presence",
        "",
        f"Send presence success {presence_type}",
        produces_message=False,
        fixed_message_id="presence",
    )


def _build_chat_presence(body: Body) -> Outgoing:
    phone, action = _phone(body), body.get_str("action")
    errors = FieldErrors()
    _require(errors, "phone", phone)
    if _require(errors, "action", action) and action not in ("start", "stop"):
        errors.add("action", "must be a valid value")
    errors.raise_if_any()
    validate_phone_format(phone)
    verb = "start" if action == "start" else "stop"
    return Outgoing(
        "chat-presence",
        phone,
        f"Send chat presence {verb} typing success {{phone}}",
        produces_message=False,
        fixed_message_id=f"chat-presence-{verb}",
    )


# ----------------------------------------------------------------------------------------------------------
# In-memory model.
# ----------------------------------------------------------------------------------------------------------
@dataclass
class DeviceWebhook:
    url: str = ""
    secret: str = ""
    events: str = ""
    insecure_skip_verify: bool = False

    def as_results(self, device_id: str) -> dict[str, Any]:
        return {
            "device_id": device_id,
            "webhook_url": self.url,
            "webhook_secret": self.secret,
            "webhook_events": self.events,
            "webhook_insecure_skip_verify": self.insecure_skip_verify,
        }


@dataclass
class LoginFlow:
    token: int
    kind: str  # "qr" or "code"
    phone: str | None = None


@dataclass
class Device:
    """A GOWA slot plus the simulated WhatsApp client attached to it."""

    id: str
    created_at: datetime
    display_name: str = ""
    has_client: bool = False  # whatsmeow client attached (first login/reconnect), cleared by logout
    phone: str = ""  # paired account number; empty until a QR/code is "scanned"
    companion: int = 0  # the :NN device suffix of the companion session
    connected: bool = False
    dead: bool = False  # "connected but dead": flags look fine but WhatsApp never answers
    login: LoginFlow | None = None
    webhook: DeviceWebhook | None = None
    state: str = "disconnected"  # snapshot used while no client is attached

    @property
    def jid(self) -> str:
        return f"{self.phone}{USER_SERVER}" if self.phone else ""

    @property
    def ad_jid(self) -> str:
        return f"{self.phone}:{self.companion}{USER_SERVER}" if self.phone else ""

    @property
    def logged_in(self) -> bool:
        # whatsmeow's IsLoggedIn is only true while the socket is up and the store holds a session.
        return self.has_client and bool(self.phone) and self.connected

    def derive_state(self) -> str:
        if self.has_client:
            self.state = "logged_in" if self.logged_in else "connected" if self.connected else "disconnected"
        return self.state

    def info(self) -> dict[str, Any]:
        """domainDevice.Device (struct order; phone_number/display_name/jid are omitempty)."""
        result: dict[str, Any] = {"id": self.id}
        if self.display_name:
            result["display_name"] = self.display_name
        result["state"] = self.derive_state()
        if self.jid:
            result["jid"] = self.jid
        result["created_at"] = rfc3339_nano(self.created_at)
        return result


@dataclass
class Reaction:
    emoji: str
    sender_jid: str
    is_from_me: bool
    timestamp: datetime


@dataclass
class StoredMessage:
    id: str
    chat_jid: str
    sender_jid: str
    content: str
    timestamp: datetime
    is_from_me: bool
    media_type: str = ""
    filename: str = ""
    url: str = ""
    file_length: int = 0
    media_path: str = ""  # statics-relative path when the bytes are available for /message/{id}/download
    push_name: str = ""
    reactions: list[Reaction] = field(default_factory=list)
    created_at: datetime = field(default_factory=utcnow)
    updated_at: datetime = field(default_factory=utcnow)


@dataclass
class ChatRecord:
    jid: str
    name: str
    last_message_time: datetime
    created_at: datetime = field(default_factory=utcnow)
    updated_at: datetime = field(default_factory=utcnow)
    ephemeral_expiration: int = 0
    archived: bool = False


@dataclass
class ChatStore:
    """GOWA's chat storage for one device partition (the device JID, or the slot id before pairing)."""

    chats: dict[str, ChatRecord] = field(default_factory=dict)
    messages: list[StoredMessage] = field(default_factory=list)
    contacts: dict[str, str] = field(default_factory=dict)  # jid -> push name

    def add(self, message: StoredMessage, chat_name: str) -> None:
        self.messages.append(message)
        chat = self.chats.get(message.chat_jid)
        if chat is None:
            self.chats[message.chat_jid] = ChatRecord(message.chat_jid, chat_name, message.timestamp)
        else:
            chat.last_message_time = message.timestamp
            chat.updated_at = utcnow()
            chat.name = chat_name or chat.name

    def find(self, message_id: str) -> StoredMessage | None:
        return next((message for message in self.messages if message.id == message_id), None)

    def remove(self, message_id: str, chat_jid: str) -> None:
        self.messages = [
            message
            for message in self.messages
            if not (message.id == message_id and message.chat_jid == chat_jid)
        ]


def chat_display_name(jid: str, name: str) -> str:
    """usecase.chatDisplayName: fall back to a JID-derived label."""
    if name:
        return name
    if jid == "status@broadcast":
        return "Status"
    user = strip_server(jid)
    if jid.endswith(GROUP_SERVER):
        return "Group " + user
    if jid.endswith("@newsletter"):
        return "Newsletter " + user
    return user


def chat_info(chat: ChatRecord) -> dict[str, Any]:
    return {
        "jid": chat.jid,
        "name": chat_display_name(chat.jid, chat.name),
        "last_message_time": rfc3339(chat.last_message_time),
        "ephemeral_expiration": chat.ephemeral_expiration,
        "created_at": rfc3339(chat.created_at),
        "updated_at": rfc3339(chat.updated_at),
        "archived": chat.archived,
    }


# ----------------------------------------------------------------------------------------------------------
# Configuration.
# ----------------------------------------------------------------------------------------------------------
@dataclass
class SimulatorConfig:
    """Start-up settings. The /_sim/config endpoint changes a copy; /_sim/reset restores these values."""

    basic_auth: list[tuple[str, str]] = field(default_factory=list)  # empty = no API auth, like GOWA
    webhooks: list[str] = field(default_factory=list)  # global WHATSAPP_WEBHOOK list
    webhook_secret: str = "secret"  # noqa: S105 - GOWA's documented default, not a credential
    webhook_events: list[str] = field(default_factory=list)  # global whitelist; empty = every event
    webhook_insecure_skip_verify: bool = False
    auto_scan_after: float | None = None  # seconds after a login call until the "phone" scans it
    ack_delivered_after_ms: int = 300  # negative disables the delivered receipt
    ack_read_after_ms: int = 800  # negative disables the read receipt
    qr_duration: int = 30  # seconds; the QR PNG is deleted afterwards
    statics_dir: str | None = None  # None = a temporary directory removed on server_close()
    latency_ms: int = 0  # added to every API call (not /health, /statics or /_sim)
    error_rate: float = 0.0  # share of sends answering 500 INTERNAL_SERVER_ERROR
    reachout_timelock: bool = False  # sends answer 429 WA_REACHOUT_TIMELOCK
    qr_session_seconds: float = 160.0  # whatsmeow keeps a QR pairing session alive about this long
    webhook_timeout_seconds: float = 10.0  # per attempt
    webhook_retry_delays: tuple[float, ...] = (1.0, 2.0, 4.0, 8.0)  # sleeps between the 5 attempts
    webhook_deadline_seconds: float = 30.0  # the whole delivery (GOWA's 30 s context)

    def copy(self) -> SimulatorConfig:
        return copy.deepcopy(self)


def parse_basic_auth(value: str) -> list[tuple[str, str]]:
    """ "user:pass,user2:pass2" exactly like GOWA (a pair must split into exactly two parts)."""
    pairs: list[tuple[str, str]] = []
    for item in (part.strip() for part in value.split(",")):
        if not item:
            continue
        pieces = item.split(":")
        if len(pieces) != 2:
            raise ValueError("Basic auth is not valid, please this following format <user>:<secret>")
        pairs.append((pieces[0], pieces[1]))
    return pairs


def split_csv(value: str | None) -> list[str]:
    return [item.strip() for item in (value or "").split(",") if item.strip()]


# ----------------------------------------------------------------------------------------------------------
# Webhook delivery (src/infrastructure/whatsapp/webhook.go).
# ----------------------------------------------------------------------------------------------------------
@dataclass
class Delivery:
    event: str
    url: str
    outcome: str = "pending"  # pending | delivered | failed
    attempts: int = 0
    last_error: str = ""
    status_code: int | None = None
    at: str = field(default_factory=lambda: rfc3339_nano(utcnow()))


class WebhookDispatcher:
    """Each event goes out in its own thread; URLs are tried one after another, 5 attempts each."""

    def __init__(self, stop: threading.Event, history_limit: int = 500) -> None:
        self._stop = stop
        self._lock = threading.Lock()
        self._history: list[Delivery] = []
        self._history_limit = history_limit

    def history(self) -> list[dict[str, Any]]:
        # Delivery threads update single attributes (atomic in CPython); a snapshot is good enough here.
        with self._lock:
            return [dataclasses.asdict(delivery) for delivery in self._history]

    def clear(self) -> None:
        with self._lock:
            self._history.clear()

    def dispatch(
        self,
        event: str,
        payload: dict[str, Any],
        urls: Sequence[str],
        secret: str,
        insecure: bool,
        config: SimulatorConfig,
    ) -> None:
        raw = go_json(payload, sort_keys=True)  # Go marshals map[string]any with sorted keys
        signature = hmac.new(secret.encode("utf-8"), raw, hashlib.sha256).hexdigest()
        headers = {"Content-Type": "application/json", "X-Hub-Signature-256": f"sha256={signature}"}
        thread = threading.Thread(
            target=self._deliver_all,
            args=(event, raw, headers, list(urls), insecure, config),
            name=f"gowa-sim-webhook-{event}",
            daemon=True,
        )
        thread.start()

    def _deliver_all(
        self,
        event: str,
        raw: bytes,
        headers: dict[str, str],
        urls: list[str],
        insecure: bool,
        config: SimulatorConfig,
    ) -> None:
        deadline = time.monotonic() + config.webhook_deadline_seconds
        with requests.Session() as session:
            session.trust_env = False  # Go's custom http.Transport ignores proxy environment variables
            for url in urls:
                self._deliver_one(session, event, url, raw, headers, insecure, config, deadline)

    def _record(self, delivery: Delivery) -> None:
        with self._lock:
            self._history.append(delivery)
            del self._history[: -self._history_limit]

    def _deliver_one(
        self,
        session: requests.Session,
        event: str,
        url: str,
        raw: bytes,
        headers: dict[str, str],
        insecure: bool,
        config: SimulatorConfig,
        deadline: float,
    ) -> None:
        delivery = Delivery(event, url)
        self._record(delivery)
        max_attempts = len(config.webhook_retry_delays) + 1
        for attempt in range(max_attempts):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                delivery.last_error = "context deadline exceeded"
                break
            delivery.attempts = attempt + 1
            try:
                response = session.post(
                    url,
                    data=raw,
                    headers=headers,
                    verify=not insecure,
                    timeout=min(config.webhook_timeout_seconds, remaining),
                )
                delivery.status_code = response.status_code
                response.close()
                if 200 <= response.status_code < 300:
                    delivery.outcome = "delivered"
                    logger.info("webhook %s delivered to %s on attempt %d", event, url, attempt + 1)
                    return
                delivery.last_error = f"webhook returned status {response.status_code}"
            except requests.RequestException as exc:
                delivery.last_error = str(exc)
            logger.warning(
                "attempt %d to submit webhook %s to %s failed: %s",
                attempt + 1,
                event,
                url,
                delivery.last_error,
            )
            if attempt < max_attempts - 1 and self._stop.wait(config.webhook_retry_delays[attempt]):
                delivery.last_error = "simulator stopped"
                break
        delivery.outcome = "failed"
        logger.warning(
            "webhook %s to %s dropped after %d attempt(s): %s",
            event,
            url,
            delivery.attempts,
            delivery.last_error,
        )


# ----------------------------------------------------------------------------------------------------------
# The simulator: GOWA's device manager, usecases, chat storage, the phone and the recipients.
# ----------------------------------------------------------------------------------------------------------
class Simulator:
    def __init__(self, config: SimulatorConfig) -> None:
        self.initial_config = config.copy()
        self.config = config.copy()
        self._lock = threading.RLock()  # one lock guards all mutable state below
        self._stop = threading.Event()
        self._closed = False
        self._epoch = 0  # bumped by reset so stale timers do nothing
        self._timers: set[threading.Timer] = set()
        self._token = 0
        self._rng = random.Random()
        self.devices: dict[str, Device] = {}
        self.storage: dict[str, ChatStore] = {}
        self.sent: list[dict[str, Any]] = []
        self.not_on_whatsapp: set[str] = set()
        self.webhooks = WebhookDispatcher(self._stop)
        if config.statics_dir:
            self.statics_dir = os.path.abspath(config.statics_dir)
            self._owns_statics = False
        else:
            self.statics_dir = tempfile.mkdtemp(prefix="gowa-sim-statics-")
            self._owns_statics = True
        for sub in ("qrcode", "media", "senditems"):
            os.makedirs(os.path.join(self.statics_dir, sub), exist_ok=True)

    # --- lifecycle -------------------------------------------------------------------------------------
    def close(self) -> None:
        with self._lock:
            self._closed = True
            self._stop.set()
            for timer in list(self._timers):
                timer.cancel()
            self._timers.clear()
        if self._owns_statics:
            shutil.rmtree(self.statics_dir, ignore_errors=True)

    def _schedule(self, delay: float, callback: Callable[[], None]) -> None:
        """Run callback after delay seconds unless the simulator was reset or closed meanwhile."""
        with self._lock:
            if self._closed:
                return
            epoch = self._epoch
            holder: list[threading.Timer] = []

            def fire() -> None:
                with self._lock:
                    self._timers.discard(holder[0])
                    if self._closed or epoch != self._epoch:
                        return
                try:
                    callback()
                except Exception:
                    logger.exception("simulator timer failed")

            timer = threading.Timer(max(delay, 0.0), fire)
            timer.daemon = True
            holder.append(timer)
            self._timers.add(timer)
        timer.start()

    def _next_token(self) -> int:
        self._token += 1
        return self._token

    def reset(self) -> None:
        with self._lock:
            self._epoch += 1
            for timer in list(self._timers):
                timer.cancel()
            self._timers.clear()
            self.devices.clear()
            self.storage.clear()
            self.sent.clear()
            self.not_on_whatsapp.clear()
            self.config = self.initial_config.copy()
            self.webhooks.clear()
            for sub in ("qrcode", "media", "senditems"):
                directory = os.path.join(self.statics_dir, sub)
                shutil.rmtree(directory, ignore_errors=True)
                os.makedirs(directory, exist_ok=True)

    # --- statics -------------------------------------------------------------------------------------
    def read_static(self, url_path: str) -> tuple[bytes, str] | None:
        """Serve /statics/* from disk like Fiber's static middleware; None means "fall through"."""
        relative = unquote(url_path[len("/statics/") :])
        if "\x00" in relative or "\\" in relative:
            return None
        parts = [part for part in relative.split("/") if part]
        if not parts or ".." in parts:
            return None
        path = os.path.join(self.statics_dir, *parts)
        if not os.path.isfile(path):
            return None
        try:
            with open(path, "rb") as handle:
                data = handle.read()
        except OSError:
            return None
        content_type = mimetypes.guess_type(path)[0] or "application/octet-stream"
        return data, content_type

    def _write_static(self, relative: str, data: bytes) -> None:
        path = os.path.join(self.statics_dir, *relative.split("/")[1:])  # drop the leading "statics"
        with open(path, "wb") as handle:
            handle.write(data)

    def _remove_static(self, relative: str) -> None:
        path = os.path.join(self.statics_dir, *relative.split("/")[1:])
        with contextlib.suppress(FileNotFoundError):
            os.remove(path)

    # --- lookups -------------------------------------------------------------------------------------
    def _device(self, device_id: str) -> Device:
        device = self.devices.get(device_id)
        if device is None:
            raise err_unknown_device(device_id)
        return device

    def _device_by_jid(self, jid: str) -> Device | None:
        for device in self.devices.values():
            if device.ad_jid and device.ad_jid == jid:
                return device
        for device in self.devices.values():
            if device.jid and device.jid == jid:
                return device
        return None

    def _store(self, device: Device) -> ChatStore:
        # Chat storage is partitioned by the device JID once paired, by the slot id before.
        return self.storage.setdefault(device.jid or device.id, ChatStore())

    def _sorted_devices(self) -> list[Device]:
        return sorted(self.devices.values(), key=lambda device: (device.created_at, device.id))

    def resolve_device(self, header_value: str, query_value: str) -> str:
        """DeviceMiddleware: X-Device-Id (URL-decoded) first, then ?device_id=, else the only device."""
        device_id = header_value.strip()
        decoded = go_query_unescape(device_id)
        if decoded is not None:
            device_id = decoded
        if not device_id:
            device_id = query_value.strip()
        with self._lock:
            wanted = device_id.strip()
            if wanted:
                if wanted in self.devices:
                    return wanted
                by_jid = self._device_by_jid(wanted)
                if by_jid is not None:
                    return by_jid.id
                raise ApiError(
                    404,
                    "DEVICE_NOT_FOUND",
                    "device not found; create a device first from "
                    "/api/devices or provide a valid X-Device-Id",
                    {"device_id": wanted},
                )
            if len(self.devices) == 1:
                return next(iter(self.devices))
            raise ApiError(
                400, "DEVICE_ID_REQUIRED", "device_id is required via X-Device-Id header or device_id query"
            )

    # --- device management ---------------------------------------------------------------------------
    def list_devices(self) -> list[dict[str, Any]] | None:
        with self._lock:
            devices = [device.info() for device in self._sorted_devices()]
        return devices or None  # a nil slice: "results" is omitted

    def add_device(self, device_id: str, webhook: DeviceWebhook | None) -> Device:
        with self._lock:
            device_id = device_id or str(uuid.uuid4())
            if device_id in self.devices:
                raise internal_error(f"device {device_id} already exists")
            device = Device(device_id, utcnow(), webhook=webhook)
            self.devices[device_id] = device
            return device

    def get_device(self, device_id: str) -> dict[str, Any]:
        with self._lock:
            return self._device(device_id).info()

    def remove_device(self, device_id: str) -> None:
        """Full purge. GOWA answers success even for an unknown id (PurgeDevice has nothing to do)."""
        with self._lock:
            device = self.devices.pop(device_id, None)
            self.storage.pop(device_id, None)
            if device is not None and device.jid and self._device_by_jid(device.jid) is None:
                self.storage.pop(device.jid, None)

    def _ensure_client(self, device_id: str) -> Device:
        """DeviceManager.EnsureClient: creates the slot when missing (a GOWA quirk) and attaches a client."""
        device = self.devices.get(device_id)
        if device is None:
            device = self._device_by_jid(device_id)
        if device is None:
            device = Device(device_id, utcnow())
            self.devices[device_id] = device
        if not device.has_client:
            device.has_client = True
            device.derive_state()
        return device

    def login_qr(self, device_id: str) -> tuple[str, int]:
        """Start (or restart) a QR pairing flow; returns the statics path of the PNG and its duration."""
        with self._lock:
            device = self._ensure_client(device_id)
            if device.logged_in:
                raise err_already_logged_in()
            if device.phone:
                # A stored session that is merely offline: GOWA reconnects it and reports "already logged in".
                device.connected = True
                device.derive_state()
                raise err_already_logged_in()
            flow = LoginFlow(self._next_token(), "qr")
            device.login = flow
            device.connected = True  # the socket is up while the QR codes rotate
            device.derive_state()
            duration = self.config.qr_duration
            relative = f"statics/qrcode/scan-qr-{uuid.uuid4()}.png"
            self._write_static(relative, render_qr_png(new_qr_content()))
            self._after_login_started(device.id, flow)
        self._schedule(duration, lambda: self._remove_static(relative))
        return relative, duration

    def login_code(self, device_id: str, phone: str) -> str:
        if not phone or not re.fullmatch(r"\+?[0-9]{1,15}", phone):
            reason = "cannot be blank" if not phone else "must be in a valid format"
            raise validation_error(f"phone_number({phone}): {reason}")
        with self._lock:
            device = self._ensure_client(device_id)
            if device.logged_in:
                raise err_already_logged_in()
            if device.phone:
                device.connected = True
                device.derive_state()
                raise err_already_logged_in()
            flow = LoginFlow(self._next_token(), "code", phone.lstrip("+"))
            device.login = flow
            device.connected = True
            device.derive_state()
            self._after_login_started(device.id, flow)
            return new_pair_code()

    def _after_login_started(self, device_id: str, flow: LoginFlow) -> None:
        """Arm the phone (auto-scan) and the end of whatsmeow's QR session window."""
        if self.config.auto_scan_after is not None:
            self._schedule(self.config.auto_scan_after, lambda: self._auto_scan(device_id, flow.token))
        self._schedule(self.config.qr_session_seconds, lambda: self._expire_login(device_id, flow.token))

    def _auto_scan(self, device_id: str, token: int) -> None:
        with self._lock:
            device = self.devices.get(device_id)
            if device is None or device.login is None or device.login.token != token or device.phone:
                return
            self._pair(device, device.login.phone or random_phone(), "")

    def _expire_login(self, device_id: str, token: int) -> None:
        with self._lock:
            device = self.devices.get(device_id)
            if device is None or device.login is None or device.login.token != token or device.phone:
                return
            device.login = None
            device.connected = False  # the QR channel timed out and whatsmeow disconnected
            device.derive_state()

    def _pair(self, device: Device, phone: str, name: str) -> None:
        device.has_client = True
        device.phone = normalize_number(phone)
        device.companion = self._rng.randint(2, 60)
        device.display_name = name or device.display_name or f"Simulated {device.phone[-4:]}"
        device.connected = True
        device.dead = False
        device.login = None
        device.derive_state()
        logger.info("device %s paired as %s", device.id, device.jid)

    def logout_keep_slot(self, device_id: str) -> None:
        """LogoutDeviceKeepSlot: unlink, clear the session (client and JID), keep id and display name."""
        with self._lock:
            device = self._device(device_id)
            device.has_client = False
            device.phone = ""
            device.companion = 0
            device.connected = False
            device.dead = False
            device.login = None
            device.state = "disconnected"

    def reconnect_device(self, device_id: str) -> None:
        with self._lock:
            device = self._device(device_id)
            if not device.has_client:
                raise internal_error(f"device {device_id} client not initialized")
            if not device.phone:
                raise internal_error(f"device {device_id} is not logged in (session deleted)")
            device.connected = True
            device.dead = False  # a fresh socket cures a zombie session
            device.derive_state()

    def app_reconnect(self, device_id: str) -> None:
        with self._lock:
            device = self._ensure_client(device_id)
            if not device.phone:
                raise internal_error(f"device {device_id} is not logged in (session deleted)")
            device.connected = True
            device.dead = False
            device.derive_state()

    def status(self, device_id: str) -> tuple[bool, bool]:
        with self._lock:
            device = self._device(device_id)
            if not device.has_client or not device.phone:
                return False, False
            return device.connected, device.logged_in

    def app_status(self, device_id: str) -> dict[str, Any]:
        connected, logged_in = self.status(device_id)
        with self._lock:
            jid = self._device(device_id).jid
        return {"is_connected": connected, "is_logged_in": logged_in, "device_id": device_id, "jid": jid}

    def app_devices(self) -> list[dict[str, Any]] | None:
        with self._lock:
            result = [
                {"name": device.display_name, "device": device.id, "jid": device.jid}
                for device in self._sorted_devices()
            ]
        return result or None

    def get_webhook(self, device_id: str) -> dict[str, Any]:
        with self._lock:
            device = self.devices.get(device_id)
            if device is None:
                raise err_device_not_found_typed()
            return (device.webhook or DeviceWebhook()).as_results(device_id)

    def set_webhook(self, device_id: str, webhook: DeviceWebhook) -> None:
        with self._lock:
            device = self.devices.get(device_id)
            if device is None:
                raise err_device_not_found_typed()
            device.webhook = webhook

    # --- the simulated WhatsApp client -----------------------------------------------------------------
    def _client(self, device: Device) -> None:
        """ClientFromContext + utils.MustLogin."""
        if not device.has_client:
            raise err_wa_cli()
        if not device.connected:
            raise err_not_connected()
        if not device.logged_in:
            raise err_not_logged_in()

    def _is_on_whatsapp(self, device: Device, jid: str) -> bool:
        """utils.IsOnWhatsapp: only @s.whatsapp.net JIDs are looked up; lookup errors count as 'no'."""
        if USER_SERVER not in jid:
            return True
        number = strip_server(jid).lstrip("+")
        if not number or device.dead:
            return False
        if not number.isdigit() or number.startswith("0") or not 5 <= len(number) <= MAX_PHONE_LENGTH:
            return False
        return number not in self.not_on_whatsapp

    def _validate_recipient(self, device: Device, phone: str) -> str:
        """utils.ValidateJidWithLogin: login check, JID parse, then the IsOnWhatsApp lookup."""
        self._client(device)
        self._alive(device)
        user, server = parse_jid(phone)
        if server == "lid":
            return f"{user}@{server}"
        if not self._is_on_whatsapp(device, phone):
            raise ApiError(400, "INVALID_JID", f"Phone {phone} is not on whatsapp")
        return f"{user}@{server}"

    def _alive(self, device: Device) -> None:
        # A zombie socket: every request to WhatsApp times out, which surfaces like a lost connection.
        if device.dead:
            raise err_not_connected()

    def send(self, device_id: str, outgoing: Outgoing, path: str, body: Body) -> dict[str, str]:
        with self._lock:
            device = self._device(device_id)
            if outgoing.route == "presence":
                if not device.has_client:
                    raise err_wa_cli()
                if not device.logged_in:
                    raise internal_error("websocket not connected")
                recipient = ""
            else:
                recipient = self._validate_recipient(device, outgoing.phone)
            self._alive(device)
            if outgoing.produces_message:
                if self.config.reachout_timelock:
                    raise ApiError(429, "WA_REACHOUT_TIMELOCK", TIMELOCK_MESSAGE)
                if self.config.error_rate > 0 and self._rng.random() < self.config.error_rate:
                    raise internal_error("failed to send message: simulated server error (error_rate)")
            now = utcnow().replace(microsecond=0)
            message_id = outgoing.fixed_message_id or new_message_id()
            status = outgoing.status_template.format(phone=outgoing.phone, ts=go_time_string(now))
            if outgoing.produces_message:
                self._store_sent(device, message_id, recipient, outgoing, now)
                self._schedule_receipts(device, message_id, non_ad_jid(recipient))
            self._record_sent(device.id, path, body, message_id, non_ad_jid(recipient) if recipient else "")
            return {"message_id": message_id, "status": status}

    def _store_sent(
        self, device: Device, message_id: str, recipient: str, outgoing: Outgoing, now: datetime
    ) -> None:
        chat_jid = non_ad_jid(recipient)
        media_path = ""
        if outgoing.media_bytes is not None and len(outgoing.media_bytes) <= 10_000_000:
            # Keep (small) uploads so /message/{id}/download can hand them back later.
            media_path = f"statics/senditems/{message_id}{media_extension('', outgoing.filename) or '.bin'}"
            self._write_static(media_path, outgoing.media_bytes)
        cdn_url = f"https://mmg.whatsapp.net/v/t62.7118-24/{secrets.token_hex(8)}.enc"
        message = StoredMessage(
            message_id,
            chat_jid,
            device.ad_jid,
            outgoing.content,
            now,
            True,
            media_type=outgoing.media_type,
            filename=outgoing.filename,
            file_length=outgoing.file_length,
            media_path=media_path,
            url=cdn_url if outgoing.media_type else "",
        )
        store = self._store(device)
        store.add(message, store.contacts.get(chat_jid, ""))

    def _record_sent(self, device_id: str, path: str, body: Body, message_id: str, jid: str) -> None:
        self.sent.append(
            {
                "device_id": device_id,
                "path": path,
                "phone": body.get_opt_str("phone") or "",
                "jid": jid,
                "message_id": message_id,
                "fields": body.plain_fields(),
                "files": {
                    name: {
                        "filename": upload.filename,
                        "content_type": upload.content_type,
                        "size": upload.size,
                    }
                    for name, upload in body.files.items()
                },
                "at": rfc3339_nano(utcnow()),
            }
        )
        del self.sent[:-SENT_LOG_LIMIT]  # a long-running dev simulator must not grow without bound

    def _schedule_receipts(self, device: Device, message_id: str, chat_jid: str) -> None:
        """The recipient's phone: a delivered receipt, then a read receipt, both timed from the send."""
        if chat_jid.endswith("@newsletter") or chat_jid.endswith("@broadcast"):
            return
        device_id, jid = device.id, device.jid
        for receipt_type, delay_ms in (
            ("delivered", self.config.ack_delivered_after_ms),
            ("read", self.config.ack_read_after_ms),
        ):
            if delay_ms < 0:
                continue
            self._schedule(
                delay_ms / 1000.0,
                functools.partial(self._emit_receipt, device_id, jid, message_id, chat_jid, receipt_type),
            )

    def _emit_receipt(
        self, device_id: str, jid: str, message_id: str, chat_jid: str, receipt_type: str
    ) -> None:
        with self._lock:
            device = self.devices.get(device_id)
            if device is None or device.jid != jid:
                return  # deleted or logged out meanwhile: the receipt never reaches this session
            sender = chat_jid
            if chat_jid.endswith(GROUP_SERVER):
                # Receipts in groups come from a participant; derive a stable fake one from the group id.
                digits = "".join(ch for ch in strip_server(chat_jid) if ch.isdigit())[-7:].rjust(7, "0")
                sender = f"62813{digits}{USER_SERVER}"
            payload = {
                "ids": [message_id],
                "chat_id": chat_jid,
                "from": sender,
                "sender_display_name": self._display_name(device, sender),
                "receipt_type": receipt_type,
                "receipt_type_description": RECEIPT_DESCRIPTIONS[receipt_type],
            }
            body = {
                "event": "message.ack",
                "timestamp": rfc3339(utcnow()),
                "device_id": jid,
                "payload": payload,
            }
            self._emit(device, "message.ack", body)

    def _display_name(self, device: Device, sender_jid: str, push_name: str = "") -> str:
        """SenderDisplayNameResolver for another sender: push name, stored contact name, JID user part."""
        if push_name:
            return push_name
        stored = self._store(device).contacts.get(sender_jid, "")
        return stored or strip_server(sender_jid)

    # --- webhooks ---------------------------------------------------------------------------------------
    def _emit(self, device: Device, event: str, body: dict[str, Any]) -> None:
        """forwardPayloadToConfiguredWebhooks: per-device config only for a paired device with its own URL."""
        webhook = device.webhook if device.jid and device.webhook and device.webhook.url else None
        if webhook is not None and webhook.events:
            allowed = any(item.strip().lower() == event.lower() for item in webhook.events.split(","))
        else:
            allowed = not self.config.webhook_events or any(
                item.strip().lower() == event.lower() for item in self.config.webhook_events
            )
        if not allowed:
            logger.debug("skipping event %s (not whitelisted)", event)
            return
        urls = [webhook.url] if webhook is not None else list(self.config.webhooks)
        secret = webhook.secret if webhook is not None and webhook.secret else self.config.webhook_secret
        insecure = self.config.webhook_insecure_skip_verify or bool(webhook and webhook.insecure_skip_verify)
        owner = self._device_by_jid(str(body.get("device_id", "")))
        if owner is not None and "session_id" not in body:
            body["session_id"] = owner.id
        if not urls:
            logger.info("event %s for %s not delivered: no webhook configured", event, device.id)
            return
        self.webhooks.dispatch(event, body, urls, secret, insecure, self.config.copy())

    # --- user, chats, messages ---------------------------------------------------------------------------
    def user_check(self, device_id: str, phone: str) -> bool:
        with self._lock:
            device = self._device(device_id)
            self._client(device)
            return self._is_on_whatsapp(device, sanitize_phone(phone))

    def my_contacts(self, device_id: str) -> dict[str, Any]:
        with self._lock:
            device = self._device(device_id)
            self._client(device)
            contacts = self._store(device).contacts
            data = [{"jid": jid, "name": name} for jid, name in contacts.items()]
            return {"data": data or None}

    def list_chats(
        self, device_id: str, limit: int, offset: int, search: str, has_media: bool, archived: bool | None
    ) -> dict[str, Any]:
        if limit == 0:
            limit = 25
        errors = FieldErrors()
        if limit < 1:
            errors.add("limit", "must be no less than 1")
        elif limit > 100:
            errors.add("limit", "must be no greater than 100")
        if offset < 0:
            errors.add("offset", "must be no less than 0")
        errors.raise_if_any()
        with self._lock:
            store = self._store(self._device(device_id))
            chats = list(store.chats.values())
            if search:
                chats = [chat for chat in chats if search.lower() in chat.name.lower()]
            if has_media:
                with_media = {message.chat_jid for message in store.messages if message.media_type}
                chats = [chat for chat in chats if chat.jid in with_media]
            if archived is not None:
                chats = [chat for chat in chats if chat.archived == archived]
            chats.sort(key=lambda chat: chat.last_message_time, reverse=True)
            page = chats[offset : offset + limit]
            return {
                "data": [chat_info(chat) for chat in page],
                "pagination": {"limit": limit, "offset": offset, "total": len(chats)},
            }

    def chat_messages(self, device_id: str, chat_jid: str, query: Mapping[str, str]) -> dict[str, Any]:
        limit, offset = _query_int(query, "limit", 50), _query_int(query, "offset", 0)
        if limit == 0:
            limit = 50
        errors = FieldErrors()
        _require(errors, "chat_jid", chat_jid)
        if limit < 1:
            errors.add("limit", "must be no less than 1")
        elif limit > 100:
            errors.add("limit", "must be no greater than 100")
        if offset < 0:
            errors.add("offset", "must be no less than 0")
        errors.raise_if_any()
        with self._lock:
            device = self._device(device_id)
            store = self._store(device)
            chat = store.chats.get(chat_jid)
            if chat is None:
                # GOWA answers an empty page for a chat it has not stored yet.
                # Only jid and name are set; the other ChatInfo fields keep Go's zero values.
                return {
                    "data": [],
                    "pagination": {"limit": limit, "offset": offset, "total": 0},
                    "chat_info": {
                        "jid": chat_jid,
                        "name": chat_display_name(chat_jid, ""),
                        "last_message_time": "",
                        "ephemeral_expiration": 0,
                        "created_at": "",
                        "updated_at": "",
                        "archived": False,
                    },
                }
            messages = [message for message in store.messages if message.chat_jid == chat_jid]
            total = len(messages)
            for name in ("start_time", "end_time"):
                if query.get(name):
                    try:
                        moment = datetime.fromisoformat(query[name].replace("Z", "+00:00"))
                        if moment.tzinfo is None:
                            raise ValueError("missing time zone")
                    except ValueError as exc:
                        raise internal_error(f"invalid {name} format: {exc}") from exc
                    if name == "start_time":
                        messages = [message for message in messages if message.timestamp >= moment]
                    else:
                        messages = [message for message in messages if message.timestamp <= moment]
            if _query_bool(query, "media_only"):
                messages = [message for message in messages if message.media_type]
            if query.get("is_from_me"):
                from_me = _query_bool(query, "is_from_me")
                messages = [message for message in messages if message.is_from_me == from_me]
            messages.sort(key=lambda message: message.timestamp, reverse=True)
            search = query.get("search", "")
            if search:
                page = [message for message in messages if search.lower() in message.content.lower()][:limit]
            else:
                page = messages[offset : offset + limit]
            return {
                "data": [self._message_info(device, message) for message in page],
                "pagination": {"limit": limit, "offset": offset, "total": total},
                "chat_info": chat_info(chat),
            }

    def _message_info(self, device: Device, message: StoredMessage) -> dict[str, Any]:
        def label(jid: str, from_me: bool, push_name: str = "") -> str:
            if from_me:  # the active account: device display name, else its own number
                return device.display_name or strip_server(device.jid) or strip_server(jid)
            return self._display_name(device, jid, push_name)

        info: dict[str, Any] = {
            "id": message.id,
            "chat_jid": message.chat_jid,
            "sender_jid": message.sender_jid,
            "sender_display_name": label(message.sender_jid, message.is_from_me, message.push_name),
            "content": message.content,
            "timestamp": rfc3339(message.timestamp),
            "is_from_me": message.is_from_me,
            "media_type": message.media_type,
        }
        if message.reactions:
            info["reactions"] = [
                {
                    "emoji": reaction.emoji,
                    "sender_jid": reaction.sender_jid,
                    "sender_display_name": label(reaction.sender_jid, reaction.is_from_me),
                    "is_from_me": reaction.is_from_me,
                    "timestamp": rfc3339(reaction.timestamp),
                }
                for reaction in message.reactions
            ]
        info.update(
            {
                "filename": message.filename,
                "url": message.url,
                "file_length": message.file_length,
                "created_at": rfc3339(message.created_at),
                "updated_at": rfc3339(message.updated_at),
            }
        )
        return info

    def message_action(
        self, device_id: str, action: str, message_id: str, body: Body, path: str
    ) -> dict[str, Any]:
        """POST /message/{id}/{action} (usecase/message.go)."""
        phone = sanitize_phone(body.get_str("phone"))
        emoji = body.get_str("emoji") if action == "reaction" else ""
        new_text = body.get_str("message") if action == "update" else ""
        errors = FieldErrors()
        _require(errors, "phone", phone)
        _require(errors, "message_id", message_id)
        if action == "update":
            _require(errors, "message", new_text)
        errors.raise_if_any()
        with self._lock:
            device = self._device(device_id)
            recipient = self._validate_recipient(device, phone)
            self._alive(device)
            store = self._store(device)
            chat_jid = non_ad_jid(recipient)
            stored = store.find(message_id)
            now = utcnow().replace(microsecond=0)
            result: dict[str, Any] = {"message_id": new_message_id()}
            if action == "read":
                result = {"message_id": message_id, "status": f"Mark as read success {message_id}"}
            elif action == "reaction":
                if stored is not None:
                    stored.reactions = [r for r in stored.reactions if not r.is_from_me]
                    if emoji:
                        stored.reactions.append(Reaction(emoji, device.ad_jid, True, now))
                result["status"] = f"Reaction sent to {phone} (server timestamp: {go_time_string(now)})"
            elif action == "revoke":
                store.remove(message_id, chat_jid)  # the local copy goes too
                result["status"] = f"Revoke success {phone} (server timestamp: {go_time_string(now)})"
            elif action == "update":
                if stored is not None:
                    stored.content, stored.updated_at = new_text, utcnow()
                result["status"] = f"Update message success {phone} (server timestamp: {go_time_string(now)})"
            elif action == "delete":
                store.remove(message_id, chat_jid)
                result = {}
            else:  # star / unstar
                result = {}
            self._record_sent(device.id, path, body, str(result.get("message_id", message_id)), chat_jid)
            return result

    def forward(self, device_id: str, message_id: str, body: Body, path: str) -> dict[str, str]:
        phone = sanitize_phone(body.get_str("phone"))
        duration = body.get_opt_int("duration")
        body.get_bool("force_reupload")
        errors = FieldErrors()
        _require(errors, "message_id", message_id)
        _require(errors, "phone", phone)
        errors.raise_if_any()
        validate_phone_format(phone)
        validate_duration(duration)
        with self._lock:
            device = self._device(device_id)
            original = self._store(device).find(message_id)
            if original is None:
                raise internal_error(f"message with ID {message_id} not found")
            outgoing = Outgoing(
                "forward",
                phone,
                "Message forwarded to {phone} (server timestamp: {ts})",
                content=original.content,
                media_type=original.media_type,
                filename=original.filename,
                file_length=original.file_length,
            )
            return self.send(device_id, outgoing, path, body)

    def download(self, device_id: str, message_id: str, phone: str, host: str) -> dict[str, Any]:
        phone = sanitize_phone(phone)
        errors = FieldErrors()
        _require(errors, "phone", phone)
        _require(errors, "message_id", message_id)
        errors.raise_if_any()
        with self._lock:
            device = self._device(device_id)
            recipient = non_ad_jid(self._validate_recipient(device, phone))
            message = self._store(device).find(message_id)
            if message is None:
                raise internal_error(f"message with ID {message_id} not found")
            if not message.media_type or not message.media_path:
                raise internal_error(f"message {message_id} does not contain downloadable media")
            if message.chat_jid != recipient:
                raise internal_error(f"message {message_id} does not belong to chat {recipient}")
            data = self.read_static("/" + message.media_path)
            size = len(data[0]) if data else message.file_length
            return {
                "message_id": message_id,
                "status": f"Media downloaded successfully to {message.media_path}",
                "media_type": message.media_type,
                "filename": message.filename,
                "file_path": message.media_path,
                "file_url": f"http://{host}/{message.media_path}",
                "file_size": size,
            }

    # --- control API -------------------------------------------------------------------------------------
    def sim_scan(self, device_id: str, phone: str | None, name: str) -> dict[str, Any]:
        with self._lock:
            device = self.devices.get(device_id)
            if device is None:
                raise ApiError(404, "NOT_FOUND", f"device {device_id} not found")
            pending = device.login.phone if device.login else None
            self._pair(device, phone or pending or random_phone(), name)
            return device.info()

    def sim_logout(self, device_id: str) -> dict[str, Any]:
        """Unlinked on the phone: GOWA's remote-logout callback keeps the slot but clears the session."""
        with self._lock:
            if device_id not in self.devices:
                raise ApiError(404, "NOT_FOUND", f"device {device_id} not found")
            self.logout_keep_slot(device_id)
            return self.devices[device_id].info()

    def sim_disconnect(self, device_id: str) -> dict[str, Any]:
        with self._lock:
            device = self.devices.get(device_id)
            if device is None:
                raise ApiError(404, "NOT_FOUND", f"device {device_id} not found")
            if not device.phone:
                raise ApiError(409, "NOT_PAIRED", f"device {device_id} is not paired")
            device.connected = False
            device.derive_state()
            return device.info()

    def sim_dead(self, device_id: str, dead: bool) -> dict[str, Any]:
        with self._lock:
            device = self.devices.get(device_id)
            if device is None:
                raise ApiError(404, "NOT_FOUND", f"device {device_id} not found")
            device.dead = dead
            return device.info()

    def sim_inbound(self, device_id: str, spec: Mapping[str, Any]) -> dict[str, Any]:
        """A contact sends this device a message: store it and emit a `message` webhook."""
        sender_raw = spec.get("from")
        if not isinstance(sender_raw, str) or not sender_raw.strip():
            raise ApiError(400, "VALIDATION_ERROR", "from: cannot be blank.")
        with self._lock:
            device = self.devices.get(device_id)
            if device is None:
                raise ApiError(404, "NOT_FOUND", f"device {device_id} not found")
            if not device.logged_in or device.dead:
                raise ApiError(
                    409, "NOT_LOGGED_IN", f"device {device_id} is not logged in (or its session is dead)"
                )
            sender = non_ad_jid(sanitize_phone(sender_raw.strip()))
            chat_raw = spec.get("chat") or spec.get("chat_id")
            chat_jid = non_ad_jid(sanitize_phone(str(chat_raw))) if chat_raw else sender
            name = str(spec.get("name") or spec.get("from_name") or "")
            message_id = str(spec.get("id") or new_phone_message_id())
            now = utcnow().replace(microsecond=0)
            payload: dict[str, Any] = {
                "id": message_id,
                "timestamp": rfc3339(now),
                "is_from_me": False,
                "chat_id": chat_jid,
                "from": sender,
                "sender_display_name": self._display_name(device, sender, name),
            }
            if name:
                payload["from_name"] = name
            text = spec.get("text")
            if isinstance(text, str) and text:
                payload["body"] = text
            store = self._store(device)
            reply_to = spec.get("reply_to")
            if isinstance(reply_to, str) and reply_to:
                payload["replied_to_id"] = reply_to
                original = store.find(reply_to)
                quoted = spec.get("quoted_body") or (original.content if original else "")
                if quoted:
                    payload["quoted_body"] = quoted
            if spec.get("forwarded"):
                payload["forwarded"] = True
            if spec.get("view_once"):
                payload["view_once"] = True
            media_type, filename, file_length, media_path = self._inbound_media(spec, payload, now)
            content = str(payload.get("body", ""))
            if name:
                store.contacts[sender] = name
            store.add(
                StoredMessage(
                    message_id,
                    chat_jid,
                    sender,
                    content,
                    now,
                    False,
                    media_type=media_type,
                    filename=filename,
                    file_length=file_length,
                    media_path=media_path,
                    push_name=name,
                ),
                name if chat_jid == sender else "",
            )
            body = {"event": "message", "device_id": device.jid, "payload": payload}
            self._emit(device, "message", body)
            return {"message_id": message_id}

    def _inbound_media(
        self, spec: Mapping[str, Any], payload: dict[str, Any], now: datetime
    ) -> tuple[str, str, int, str]:
        """Auto-download on (GOWA's default): a statics/media path, or {path, caption} when captioned."""
        for kind in ("image", "video", "audio", "document", "sticker", "video_note"):
            raw = spec.get(kind)
            if raw is None or raw is False:
                continue
            options: Mapping[str, Any] = raw if isinstance(raw, Mapping) else {}
            mime_type = str(options.get("mime_type") or DEFAULT_MEDIA_MIME[kind])
            filename = str(options.get("filename") or "")
            data = TINY_PNG
            if options.get("content_base64"):
                try:
                    data = base64.b64decode(str(options["content_base64"]), validate=True)
                except (binascii.Error, ValueError) as exc:
                    raise ApiError(400, "VALIDATION_ERROR", f"{kind}.content_base64: {exc}") from exc
            extension = media_extension(mime_type, filename)
            relative = f"statics/media/{int(now.timestamp())}-{uuid.uuid4()}{extension}"
            self._write_static(relative, data)
            caption = str(options.get("caption") or "") if kind in ("image", "video", "document") else ""
            payload[kind] = {"path": relative, "caption": caption} if caption else relative
            if caption and "body" not in payload:
                payload["body"] = caption
            return kind, filename or os.path.basename(relative), len(data), relative
        return "", "", 0, ""

    def sim_event(self, device_id: str, event: str, payload: Mapping[str, Any], with_timestamp: bool) -> None:
        """Emit any other webhook event (chat_presence, message.reaction, call.offer, ...)."""
        with self._lock:
            device = self.devices.get(device_id)
            if device is None:
                raise ApiError(404, "NOT_FOUND", f"device {device_id} not found")
            if not device.jid:
                raise ApiError(409, "NOT_PAIRED", f"device {device_id} is not paired")
            body: dict[str, Any] = {"event": event, "device_id": device.jid, "payload": dict(payload)}
            if with_timestamp:
                body["timestamp"] = rfc3339(utcnow())
            self._emit(device, event, body)

    def sim_update_config(self, changes: Mapping[str, Any]) -> dict[str, Any]:
        numeric = ("latency_ms", "ack_delivered_after_ms", "ack_read_after_ms", "qr_duration")
        with self._lock:
            config = self.config.copy()
            for key, value in changes.items():
                if key in numeric:
                    if not isinstance(value, int) or isinstance(value, bool):
                        raise ApiError(400, "VALIDATION_ERROR", f"{key} must be an integer")
                    setattr(config, key, value)
                elif key == "error_rate":
                    if not isinstance(value, int | float) or isinstance(value, bool) or not 0 <= value <= 1:
                        raise ApiError(400, "VALIDATION_ERROR", "error_rate must be a number between 0 and 1")
                    config.error_rate = float(value)
                elif key == "reachout_timelock":
                    if not isinstance(value, bool):
                        raise ApiError(400, "VALIDATION_ERROR", "reachout_timelock must be a boolean")
                    config.reachout_timelock = value
                elif key == "auto_scan_after":
                    if value is not None and (not isinstance(value, int | float) or isinstance(value, bool)):
                        raise ApiError(400, "VALIDATION_ERROR", "auto_scan_after must be a number or null")
                    config.auto_scan_after = None if value is None else float(value)
                elif key in ("webhooks", "webhook_events"):
                    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
                        raise ApiError(400, "VALIDATION_ERROR", f"{key} must be a list of strings")
                    setattr(config, key, list(value))
                elif key == "webhook_secret":
                    if not isinstance(value, str):
                        raise ApiError(400, "VALIDATION_ERROR", "webhook_secret must be a string")
                    config.webhook_secret = value
                else:
                    raise ApiError(400, "VALIDATION_ERROR", f"unknown config key {key}")
            self.config = config
            return self.public_config()

    def public_config(self) -> dict[str, Any]:
        with self._lock:
            config = self.config
            return {
                "latency_ms": config.latency_ms,
                "error_rate": config.error_rate,
                "reachout_timelock": config.reachout_timelock,
                "ack_delivered_after_ms": config.ack_delivered_after_ms,
                "ack_read_after_ms": config.ack_read_after_ms,
                "auto_scan_after": config.auto_scan_after,
                "qr_duration": config.qr_duration,
                "webhooks": list(config.webhooks),
                "webhook_secret": config.webhook_secret,
                "webhook_events": list(config.webhook_events),
                "basic_auth_enabled": bool(config.basic_auth),
                "statics_dir": self.statics_dir,
            }

    def sim_not_on_whatsapp(self, phones: Iterable[str], replace: bool) -> list[str]:
        with self._lock:
            numbers = {normalize_number(phone) for phone in phones if normalize_number(phone)}
            self.not_on_whatsapp = numbers if replace else self.not_on_whatsapp | numbers
            return sorted(self.not_on_whatsapp)

    def sim_sent(self, device_id: str | None) -> list[dict[str, Any]]:
        with self._lock:
            return [
                copy.deepcopy(item)
                for item in self.sent
                if device_id is None or item["device_id"] == device_id
            ]


def _query_int(query: Mapping[str, str], name: str, default: int) -> int:
    """fiber.Query[int]: a missing or unparsable value yields the default."""
    try:
        return int(query[name]) if query.get(name) else default
    except ValueError:
        return default


def _query_bool(query: Mapping[str, str], name: str, default: bool = False) -> bool:
    try:
        return parse_go_bool(query[name]) if query.get(name) else default
    except ValueError:
        return default


# ----------------------------------------------------------------------------------------------------------
# HTTP layer: Fiber's middleware order, routing and response shapes.
# ----------------------------------------------------------------------------------------------------------
@dataclass
class Request:
    method: str
    raw_path: str  # percent-encoded, as on the wire
    path: str  # raw_path without a trailing slash; what routes match against
    query: dict[str, str]
    headers: email.message.Message  # http.server's HTTPMessage: case-insensitive lookups
    body: bytes

    def header(self, name: str) -> str:
        return str(self.headers.get(name) or "")

    def parse_body(self) -> Body:
        return parse_body(self.header("Content-Type"), self.body)


@dataclass
class Response:
    status: int
    body: bytes = b""
    content_type: str = "text/plain; charset=utf-8"
    headers: list[tuple[str, str]] = field(default_factory=list)


def text_response(status: int, text: str, headers: list[tuple[str, str]] | None = None) -> Response:
    return Response(status, text.encode("utf-8"), headers=headers or [])


def envelope(message: str, results: Any = None, *, code: str = "SUCCESS", status: int = 200) -> Response:
    """utils.ResponseData: {code, message, results?}; results is omitempty, Status is never serialised."""
    data: dict[str, Any] = {"code": code, "message": message}
    if results is not None:
        data["results"] = results
    return Response(status, go_json(data), "application/json")


def error_response(error: ApiError) -> Response:
    return envelope(error.message, error.results, code=error.code, status=error.status)


Handler = Callable[[Request, dict[str, str]], Response]


@dataclass
class Route:
    method: str
    pattern: re.Pattern[str]
    handler: Handler
    scoped: bool  # behind GOWA's DeviceMiddleware


class Api:
    """Maps HTTP requests onto the simulator in the same order Fiber runs GOWA's middleware."""

    def __init__(self, simulator: Simulator) -> None:
        self.sim = simulator
        self.routes: list[Route] = []
        self._add_routes()

    # --- routing -----------------------------------------------------------------------------------------
    def _route(self, method: str, template: str, handler: Handler, *, scoped: bool = False) -> None:
        regex = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", template)
        self.routes.append(Route(method, re.compile(f"^{regex}$", re.IGNORECASE), handler, scoped))

    def _add_routes(self) -> None:
        # Device management and /app/info: registered before the device middleware group.
        self._route("GET", "/devices", self.list_devices)
        self._route("POST", "/devices", self.add_device)
        self._route("GET", "/devices/{device_id}", self.get_device)
        self._route("DELETE", "/devices/{device_id}", self.remove_device)
        self._route("GET", "/devices/{device_id}/login", self.device_login)
        self._route("POST", "/devices/{device_id}/login/code", self.device_login_code)
        self._route("POST", "/devices/{device_id}/logout", self.device_logout)
        self._route("POST", "/devices/{device_id}/reconnect", self.device_reconnect)
        self._route("GET", "/devices/{device_id}/status", self.device_status)
        self._route("PATCH", "/devices/{device_id}/webhook", self.set_device_webhook)
        self._route("GET", "/devices/{device_id}/webhook", self.get_device_webhook)
        self._route("GET", "/app/info", self.app_info)
        # Device-scoped routes (X-Device-Id / ?device_id= / the only device).
        for method, template, handler in (
            ("GET", "/app/login", self.app_login),
            ("GET", "/app/login-with-code", self.app_login_with_code),
            ("GET", "/app/passkey", self.app_passkey),
            ("POST", "/app/passkey/response", self.app_passkey_pending),
            ("POST", "/app/passkey/confirm", self.app_passkey_pending),
            ("GET", "/app/logout", self.app_logout),
            ("GET", "/app/reconnect", self.app_reconnect),
            ("GET", "/app/devices", self.app_devices),
            ("GET", "/app/status", self.app_status),
            ("GET", "/chats", self.list_chats),
            ("GET", "/chat/{chat_jid}/messages", self.chat_messages),
            ("GET", "/user/check", self.user_check),
            ("GET", "/user/my/contacts", self.my_contacts),
            ("POST", "/message/{message_id}/forward", self.message_forward),
            ("GET", "/message/{message_id}/download", self.message_download),
        ):
            self._route(method, template, handler, scoped=True)
        for kind in (
            "message",
            "image",
            "file",
            "video",
            "sticker",
            "contact",
            "link",
            "location",
            "audio",
            "poll",
            "presence",
            "chat-presence",
        ):
            self._route("POST", f"/send/{kind}", self._send_handler(kind), scoped=True)
        for action in ("reaction", "revoke", "delete", "update", "read", "star", "unstar"):
            self._route(
                "POST", f"/message/{{message_id}}/{action}", self._action_handler(action), scoped=True
            )

    def _match(self, method: str, path: str) -> tuple[Route | None, dict[str, str], list[str]]:
        lookup_method = "GET" if method == "HEAD" else method  # Fiber registers HEAD with every GET
        allowed: list[str] = []
        for route in self.routes:
            found = route.pattern.match(path)
            if not found:
                continue
            if route.method == lookup_method:
                return route, found.groupdict(), []
            allowed.append(route.method)
        return None, {}, allowed

    # --- entry point ---------------------------------------------------------------------------------
    def handle(self, request: Request) -> Response:
        origin = request.header("Origin")
        if request.method == "OPTIONS" and origin and request.header("Access-Control-Request-Method"):
            return Response(
                204,
                headers=[
                    ("Access-Control-Allow-Origin", "*"),
                    ("Access-Control-Allow-Methods", "GET,POST,HEAD,PUT,PATCH,DELETE"),
                    ("Access-Control-Allow-Headers", "Origin,Content-Type,Accept,Authorization,X-Device-Id"),
                ],
            )
        response = self._dispatch(request)
        if origin:
            response.headers.append(("Access-Control-Allow-Origin", "*"))
        return response

    def _dispatch(self, request: Request) -> Response:
        # 1. /statics is mounted before auth: public to anyone with the path; a miss falls through.
        if request.method in ("GET", "HEAD") and request.path.startswith("/statics/"):
            found = self.sim.read_static(request.path)
            if found is not None:
                return Response(200, found[0], found[1])
        # 2. /health is public and only checks the store.
        if request.path == "/health" and request.method in ("GET", "HEAD"):
            return text_response(200, "OK")
        # 3. The simulator's own control API (not part of GOWA) needs no auth.
        if request.path == "/_sim" or request.path.startswith("/_sim/"):
            return self._control(request)
        # 4. Fiber's basicauth middleware, only when credentials are configured.
        if self.sim.config.basic_auth:
            denied = self._check_basic_auth(request)
            if denied is not None:
                return denied
        route, params, allowed = self._match(request.method, request.path)
        if route is None:
            if allowed:
                return text_response(405, "Method Not Allowed", [("Allow", ", ".join(sorted(set(allowed))))])
            return text_response(404, f"Cannot {request.method} {go_html_escape(request.raw_path)}")
        if self.sim.config.latency_ms > 0:
            time.sleep(self.sim.config.latency_ms / 1000.0)
        try:
            if route.scoped:
                params["_device"] = self.sim.resolve_device(
                    request.header("X-Device-Id"), request.query.get("device_id", "")
                )
            return route.handler(request, params)
        except ApiError as exc:
            return error_response(exc)
        except BindError as exc:
            return error_response(internal_error(str(exc)))

    def _check_basic_auth(self, request: Request) -> Response | None:
        """gofiber/fiber v3 middleware/basicauth with GOWA's constant-time Authorizer."""
        unauthorized = text_response(
            401,
            "Unauthorized",
            [
                ("WWW-Authenticate", 'Basic realm="Restricted", charset="UTF-8"'),
                ("Cache-Control", "no-store"),
                ("Vary", "Authorization"),
            ],
        )
        bad_request = text_response(400, "Bad Request")
        raw = request.header("Authorization")
        if not raw:
            return unauthorized
        if len(raw) > 8192:
            return text_response(431, "Request Header Fields Too Large")
        if any((ord(ch) < 0x20 and ch != "\t") or ord(ch) >= 0x7F for ch in raw):
            return bad_request
        auth = raw.strip()
        if not auth:
            return unauthorized
        if len(auth) < 5 or auth[:5].lower() != "basic":
            return unauthorized
        rest = auth[5:]
        if len(rest) < 2 or rest[0] != " " or rest[1] == " ":
            return bad_request
        token = rest[1:]
        if any(ch.isspace() for ch in token):
            return bad_request
        try:
            decoded = base64.b64decode(token + "=" * (-len(token) % 4), validate=True)
            credentials = unicodedata.normalize("NFC", decoded.decode("utf-8"))
        except (binascii.Error, ValueError):
            return bad_request
        username, separator, password = credentials.partition(":")
        if not separator or any(unicodedata.category(ch) == "Cc" for ch in credentials):
            return bad_request
        accounts = dict(self.sim.config.basic_auth)
        expected = accounts.get(username)
        if expected is not None and hmac.compare_digest(password.encode(), expected.encode()):
            return None
        return unauthorized

    # --- device management -----------------------------------------------------------------------------
    def list_devices(self, request: Request, params: dict[str, str]) -> Response:
        return envelope("List devices", self.sim.list_devices())

    def add_device(self, request: Request, params: dict[str, str]) -> Response:
        try:
            body = request.parse_body()
            device_id = body.get_str("device_id")
            url, secret = body.get_str("webhook_url"), body.get_str("webhook_secret")
            events, insecure = body.get_str("webhook_events"), body.get_bool("webhook_insecure_skip_verify")
        except BindError:
            return envelope("Invalid request body", code="BAD_REQUEST", status=400)
        wanted = bool(url or secret or events or insecure)
        webhook = DeviceWebhook(url, secret, events, insecure) if wanted else None
        device = self.sim.add_device(device_id, webhook)
        # A map in Go: every key present, even empty ones.
        results: dict[str, Any] = {
            "id": device.id,
            "display_name": device.display_name,
            "jid": device.jid,
            "state": device.derive_state(),
            "created_at": rfc3339_nano(device.created_at),
        }
        if webhook is not None:
            results.update(
                {
                    "webhook_url": url,
                    "webhook_secret": secret,
                    "webhook_events": events,
                    "webhook_insecure_skip_verify": insecure,
                }
            )
        return envelope("Device added", dict(sorted(results.items())))

    def get_device(self, request: Request, params: dict[str, str]) -> Response:
        return envelope("Device info", self.sim.get_device(params["device_id"]))

    def remove_device(self, request: Request, params: dict[str, str]) -> Response:
        self.sim.remove_device(params["device_id"])
        return envelope("Device removed")

    def _qr_results(self, request: Request, device_id: str) -> dict[str, Any]:
        relative, duration = self.sim.login_qr(device_id)
        host = request.header("Host") or "localhost"
        return {"device_id": device_id, "qr_duration": duration, "qr_link": f"http://{host}/{relative}"}

    def device_login(self, request: Request, params: dict[str, str]) -> Response:
        return envelope("Login success", self._qr_results(request, params["device_id"]))

    def device_login_code(self, request: Request, params: dict[str, str]) -> Response:
        device_id = params["device_id"]
        code = self.sim.login_code(device_id, request.query.get("phone", ""))
        return envelope("Login with code started", {"device_id": device_id, "pair_code": code})

    def device_logout(self, request: Request, params: dict[str, str]) -> Response:
        self.sim.logout_keep_slot(params["device_id"])
        return envelope("Logout requested")

    def device_reconnect(self, request: Request, params: dict[str, str]) -> Response:
        self.sim.reconnect_device(params["device_id"])
        return envelope("Reconnect requested")

    def device_status(self, request: Request, params: dict[str, str]) -> Response:
        connected, logged_in = self.sim.status(params["device_id"])
        return envelope(
            "Device status",
            {"device_id": params["device_id"], "is_connected": connected, "is_logged_in": logged_in},
        )

    def set_device_webhook(self, request: Request, params: dict[str, str]) -> Response:
        try:
            body = request.parse_body()
            url = body.get_opt_str("webhook_url")
            secret, events = body.get_str("webhook_secret"), body.get_str("webhook_events")
            insecure = body.get_bool("webhook_insecure_skip_verify")
        except BindError:
            return envelope("Invalid request body", code="BAD_REQUEST", status=400)
        if url is None:
            return envelope("webhook_url is required", code="BAD_REQUEST", status=400)
        webhook = DeviceWebhook(url, secret, events, insecure)
        self.sim.set_webhook(params["device_id"], webhook)
        return envelope("Device webhook updated", webhook.as_results(params["device_id"]))

    def get_device_webhook(self, request: Request, params: dict[str, str]) -> Response:
        return envelope("Device webhook retrieved", self.sim.get_webhook(params["device_id"]))

    def app_info(self, request: Request, params: dict[str, str]) -> Response:
        return envelope(
            "Fetch app info success",
            {
                "base_path": "",
                "chatwoot_enabled": False,
                "max_file_size": MAX_FILE_SIZE,
                "max_image_size": MAX_IMAGE_SIZE,
                "max_video_size": MAX_VIDEO_SIZE,
                "os": APP_OS,
                "version": APP_VERSION,
            },
        )

    # --- legacy /app/* (header-scoped) -------------------------------------------------------------------
    def app_login(self, request: Request, params: dict[str, str]) -> Response:
        return envelope("Login success", self._qr_results(request, params["_device"]))

    def app_login_with_code(self, request: Request, params: dict[str, str]) -> Response:
        device_id = params["_device"]
        code = self.sim.login_code(device_id, request.query.get("phone", ""))
        return envelope("Login with code success", {"device_id": device_id, "pair_code": code})

    def app_passkey(self, request: Request, params: dict[str, str]) -> Response:
        return envelope(
            "Passkey pairing status",
            {
                "challenge": None,
                "code": "",
                "device_id": params["_device"],
                "skip_handoff_ux": False,
                "status": "none",
            },
        )

    def app_passkey_pending(self, request: Request, params: dict[str, str]) -> Response:
        # The simulated phone never asks for passkey pairing.
        raise internal_error(f"no pending passkey pairing request for device {params['_device']}")

    def app_logout(self, request: Request, params: dict[str, str]) -> Response:
        self.sim.logout_keep_slot(params["_device"])
        return envelope("Success logout", {"device_id": params["_device"]})

    def app_reconnect(self, request: Request, params: dict[str, str]) -> Response:
        self.sim.app_reconnect(params["_device"])
        return envelope("Reconnect success", {"device_id": params["_device"]})

    def app_devices(self, request: Request, params: dict[str, str]) -> Response:
        return envelope("Fetch device success", self.sim.app_devices())

    def app_status(self, request: Request, params: dict[str, str]) -> Response:
        return envelope("Connection status retrieved", self.sim.app_status(params["_device"]))

    # --- sends, messages, chats, users -------------------------------------------------------------------
    def _send_handler(self, kind: str) -> Handler:
        def handle(request: Request, params: dict[str, str]) -> Response:
            body = request.parse_body()
            outgoing = build_outgoing(kind, body)
            results = self.sim.send(params["_device"], outgoing, request.path, body)
            return envelope(results["status"], results)

        return handle

    def _action_handler(self, action: str) -> Handler:
        messages = {
            "delete": "Message deleted successfully",
            "star": "Starred message successfully",
            "unstar": "Unstarred message successfully",
        }

        def handle(request: Request, params: dict[str, str]) -> Response:
            body = request.parse_body()
            results = self.sim.message_action(
                params["_device"], action, params["message_id"], body, request.path
            )
            if action in messages:
                return envelope(messages[action])
            return envelope(results["status"], results)

        return handle

    def message_forward(self, request: Request, params: dict[str, str]) -> Response:
        body = request.parse_body()
        results = self.sim.forward(params["_device"], params["message_id"], body, request.path)
        return envelope(results["status"], results)

    def message_download(self, request: Request, params: dict[str, str]) -> Response:
        host = request.header("Host") or "localhost"
        phone = request.query.get("phone", "")
        results = self.sim.download(params["_device"], params["message_id"], phone, host)
        return envelope(results["status"], results)

    def list_chats(self, request: Request, params: dict[str, str]) -> Response:
        query = request.query
        archived = _query_bool(query, "archived") if query.get("archived") else None
        results = self.sim.list_chats(
            params["_device"],
            _query_int(query, "limit", 25),
            _query_int(query, "offset", 0),
            query.get("search", ""),
            _query_bool(query, "has_media"),
            archived,
        )
        return envelope("Success get chat list", results)

    def chat_messages(self, request: Request, params: dict[str, str]) -> Response:
        chat_jid = go_path_unescape(params["chat_jid"])  # GOWA's chatJIDParam helper
        if chat_jid is None:
            return envelope(
                f'invalid chat_jid path parameter: invalid URL escape "{params["chat_jid"]}"',
                code="BAD_REQUEST",
                status=400,
            )
        results = self.sim.chat_messages(params["_device"], chat_jid, request.query)
        return envelope("Success get chat messages", results)

    def user_check(self, request: Request, params: dict[str, str]) -> Response:
        on_whatsapp = self.sim.user_check(params["_device"], request.query.get("phone", ""))
        return envelope("Success check user", {"is_on_whatsapp": on_whatsapp})

    def my_contacts(self, request: Request, params: dict[str, str]) -> Response:
        return envelope("Success get list contacts", self.sim.my_contacts(params["_device"]))

    # --- control API -----------------------------------------------------------------------------------
    def _control(self, request: Request) -> Response:
        try:
            return self._control_dispatch(request)
        except ApiError as exc:
            return error_response(exc)

    def _control_json(self, request: Request) -> dict[str, Any]:
        if not request.body.strip():
            return {}
        try:
            decoded = json.loads(request.body.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ApiError(400, "BAD_REQUEST", f"invalid JSON body: {exc}") from exc
        if not isinstance(decoded, dict):
            raise ApiError(400, "BAD_REQUEST", "JSON body must be an object")
        return decoded

    def _control_dispatch(self, request: Request) -> Response:
        method, parts = request.method, [unquote(part) for part in request.raw_path.split("/")[2:] if part]
        sim = self.sim
        if parts == ["config"] and method == "GET":
            return envelope("Simulator config", sim.public_config())
        if parts == ["config"] and method == "POST":
            return envelope("Simulator config updated", sim.sim_update_config(self._control_json(request)))
        if parts == ["reset"] and method == "POST":
            sim.reset()
            return envelope("Simulator reset")
        if parts == ["sent"] and method == "GET":
            return envelope("Sent messages", sim.sim_sent(request.query.get("device_id") or None))
        if parts == ["webhooks"] and method == "GET":
            return envelope("Webhook deliveries", sim.webhooks.history())
        if parts == ["not-on-whatsapp"] and method in ("GET", "POST"):
            data = self._control_json(request) if method == "POST" else {}
            phones = data.get("phones", [])
            if not isinstance(phones, list) or not all(isinstance(phone, str) for phone in phones):
                raise ApiError(400, "VALIDATION_ERROR", "phones must be a list of strings")
            numbers = sim.sim_not_on_whatsapp(phones, bool(data.get("replace", False)))
            return envelope("Numbers not on WhatsApp", {"phones": numbers})
        if len(parts) == 3 and parts[0] == "devices" and method == "POST":
            device_id, action = parts[1], parts[2]
            data = self._control_json(request)
            if action == "scan":
                phone = data.get("phone")
                if phone is not None and not (isinstance(phone, str) and normalize_number(phone).isdigit()):
                    raise ApiError(400, "VALIDATION_ERROR", "phone must be a string of digits")
                return envelope("Scanned", sim.sim_scan(device_id, phone, str(data.get("name") or "")))
            if action == "inbound":
                return envelope("Inbound message delivered", sim.sim_inbound(device_id, data))
            if action == "logout":
                return envelope("Logged out from the phone", sim.sim_logout(device_id))
            if action == "disconnect":
                return envelope("Disconnected", sim.sim_disconnect(device_id))
            if action == "dead":
                return envelope("Dead flag set", sim.sim_dead(device_id, bool(data.get("dead", True))))
            if action == "event":
                event, payload = data.get("event"), data.get("payload", {})
                if not isinstance(event, str) or not event or not isinstance(payload, dict):
                    raise ApiError(400, "VALIDATION_ERROR", "event (string) and payload (object) required")
                sim.sim_event(device_id, event, payload, bool(data.get("timestamp", True)))
                return envelope("Event emitted")
        return text_response(404, f"Cannot {method} {go_html_escape(request.raw_path)}")


# ----------------------------------------------------------------------------------------------------------
# The stdlib server.
# ----------------------------------------------------------------------------------------------------------
class _RequestHandler(http.server.BaseHTTPRequestHandler):
    server: GowaSimulatorServer
    protocol_version = "HTTP/1.1"  # keep-alive like Fiber; every response carries Content-Length
    # Headers and body go out in separate writes; without TCP_NODELAY the body waits ~40 ms for the
    # client's delayed ACK on keep-alive connections (Go, like real GOWA, disables Nagle by default).
    disable_nagle_algorithm = True

    def do_GET(self) -> None:
        self._serve()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = do_GET

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass  # _serve logs one line per request itself (never the headers)

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("%s - %s", self.address_string(), format % args)

    def _read_body(self) -> bytes | None:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            chunks: list[bytes] = []
            total = 0
            while True:
                size_line = self.rfile.readline(65537).split(b";", 1)[0].strip()
                size = int(size_line or b"0", 16)
                if size == 0:
                    while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    return b"".join(chunks)
                total += size
                if total > MAX_BODY_SIZE:
                    return None
                chunks.append(self.rfile.read(size))
                self.rfile.readline(65537)
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY_SIZE:
            return None
        return self.rfile.read(length) if length > 0 else b""

    def _serve(self) -> None:
        started = time.monotonic()
        raw_path, _, raw_query = self.path.partition("?")
        if raw_path.startswith(("http://", "https://")):
            raw_path = urlsplit(raw_path).path or "/"
        try:
            body = self._read_body()
        except ValueError:
            body = None
            self.close_connection = True
        if body is None:
            response = text_response(413, "Request Entity Too Large")
            self.close_connection = True
        else:
            # Fiber routes on the original (still percent-encoded) path, so path params arrive encoded.
            path = raw_path
            if len(path) > 1 and path.endswith("/"):
                path = path[:-1]  # Fiber's StrictRouting is off
            query: dict[str, str] = {}
            for key, value in parse_qsl(raw_query, keep_blank_values=True):
                query.setdefault(key, value)  # c.Query returns the first value
            request = Request(self.command, raw_path, path, query, self.headers, body)
            try:
                response = self.server.api.handle(request)
            except Exception as exc:  # a Go panic that is not a typed error: recovery answers 500
                logger.exception("unhandled error for %s %s", self.command, raw_path)
                response = error_response(internal_error(str(exc)))
        self._write(response)
        elapsed_ms = (time.monotonic() - started) * 1000
        logger.info("%s %s %d %.1fms", self.command, raw_path, response.status, elapsed_ms)

    def _write(self, response: Response) -> None:
        self.send_response_only(response.status)
        self.send_header("Date", self.date_time_string())
        if response.status != 204:
            self.send_header("Content-Type", response.content_type)
            self.send_header("Content-Length", str(len(response.body)))
        for name, value in response.headers:
            self.send_header(name, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD" and response.status != 204:
            self.wfile.write(response.body)


class GowaSimulatorServer(http.server.ThreadingHTTPServer):
    """ThreadingHTTPServer carrying the simulator; server_close() also stops timers and cleans statics."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], config: SimulatorConfig) -> None:
        self.simulator = Simulator(config)
        self.api = Api(self.simulator)
        try:
            super().__init__(address, _RequestHandler)
        except BaseException:
            self.simulator.close()
            raise

    def server_close(self) -> None:
        super().server_close()
        self.simulator.close()


def make_server(host: str, port: int, config: SimulatorConfig) -> GowaSimulatorServer:
    """Bind the simulator (port 0 picks a free port; read it from ``server_address``)."""
    return GowaSimulatorServer((host, port), config)


# ----------------------------------------------------------------------------------------------------------
# Command line (shared with the Django management command).
# ----------------------------------------------------------------------------------------------------------
def default_port() -> int:
    return int(os.environ.get("GOWA_SIM_PORT") or 3000)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="interface to bind (default 127.0.0.1)")
    parser.add_argument(
        "--port",
        type=int,
        default=default_port(),
        help="port (default $GOWA_SIM_PORT or 3000; 0 picks a free one)",
    )
    parser.add_argument("--basic-auth", default="", help="user:pass[,user2:pass2]; empty means no API auth")
    parser.add_argument("--webhook", default="", help="global webhook URL(s), comma-separated")
    parser.add_argument("--webhook-secret", default="secret", help='HMAC secret (GOWA default "secret")')
    parser.add_argument("--webhook-events", default="", help="global event whitelist, comma-separated")
    parser.add_argument(
        "--auto-scan-after",
        type=float,
        default=None,
        help="seconds after a login call until the simulated phone pairs (default: never)",
    )
    parser.add_argument(
        "--ack-delivered-after-ms",
        type=int,
        default=300,
        help="delivered receipt delay after a send; negative disables it",
    )
    parser.add_argument(
        "--ack-read-after-ms",
        type=int,
        default=800,
        help="read receipt delay after a send; negative disables it",
    )
    parser.add_argument("--qr-duration", type=int, default=30, help="seconds a QR PNG stays downloadable")
    parser.add_argument(
        "--statics-dir", default=None, help="where QR and media files live (default: a temporary directory)"
    )


def config_from_options(options: Mapping[str, Any]) -> SimulatorConfig:
    return SimulatorConfig(
        basic_auth=parse_basic_auth(options.get("basic_auth") or ""),
        webhooks=split_csv(options.get("webhook")),
        webhook_secret=options.get("webhook_secret") or "secret",
        webhook_events=split_csv(options.get("webhook_events")),
        auto_scan_after=options.get("auto_scan_after"),
        ack_delivered_after_ms=int(options.get("ack_delivered_after_ms", 300)),
        ack_read_after_ms=int(options.get("ack_read_after_ms", 800)),
        qr_duration=int(options.get("qr_duration", 30)),
        statics_dir=options.get("statics_dir") or None,
    )


def run(host: str, port: int, config: SimulatorConfig) -> None:
    """Serve in the foreground until SIGINT/SIGTERM, logging one line per request to stderr."""
    handler = logging.StreamHandler()  # stderr
    handler.setFormatter(logging.Formatter("%(asctime)s gowa-sim %(message)s"))
    previous_level, previous_propagate = logger.level, logger.propagate
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    server = make_server(host, port, config)
    stop = threading.Event()
    installed: dict[signal.Signals, Any] = {}
    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGINT, signal.SIGTERM):
            installed[signum] = signal.signal(signum, lambda *_: stop.set())
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.1}, name="gowa-sim-server", daemon=True
    )
    thread.start()
    bound_host, bound_port = server.server_address[:2]
    logger.info(
        "GOWA simulator (%s) listening on http://%s:%s (statics in %s)",
        APP_VERSION,
        bound_host,
        bound_port,
        server.simulator.statics_dir,
    )
    try:
        while not stop.wait(0.5):
            if not thread.is_alive():
                break
    except KeyboardInterrupt:
        pass
    finally:
        logger.info("shutting down")
        server.shutdown()
        server.server_close()
        logger.info("stopped")
        for signum, previous in installed.items():
            signal.signal(signum, previous)
        logger.removeHandler(handler)
        logger.setLevel(previous_level)
        logger.propagate = previous_propagate


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="gowa_simulator", description="Run the GOWA v9.2 simulator.")
    add_arguments(parser)
    options = vars(parser.parse_args(argv))
    try:
        config = config_from_options(options)
    except ValueError as exc:
        parser.error(str(exc))
    try:
        run(options["host"], options["port"], config)
    except OSError as exc:  # typically "Address already in use"
        parser.exit(1, f"gowa_simulator: cannot listen on {options['host']}:{options['port']}: {exc}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
