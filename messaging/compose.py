"""From a tenant's request to an ``Outgoing``: validation, device, recipient, media, reply target.

Shared by the single-send endpoints and the batch endpoint, so an item of a batch is validated
exactly like the same body sent alone."""

from __future__ import annotations

from typing import Any

from django.core.files.uploadedfile import UploadedFile
from rest_framework import serializers

from devices.models import Device
from devices.selectors import device_of_tenant
from messaging import media as media_lib
from tenants.principal import Principal
from wavora.api.errors import ValidationFailed, WavoraError
from wavora.api.exceptions import flatten_errors
from wavora.phones import normalize_recipient
from wavora.ssrf import validate_url

from .services import Outgoing, resolve_reply_target
from .types import TYPES


def json_safe(data: Any, field: str = "body") -> Any:
    """The request as we keep it in ``original_payload_json`` (files described, not stored twice).
    PostgreSQL cannot store a NUL character, even in an unknown field, so one is refused here."""
    if isinstance(data, UploadedFile):
        return {"filename": data.name, "size": data.size}
    if isinstance(data, dict):
        return {json_safe(str(k), field): json_safe(v, str(k)) for k, v in data.items()}
    if isinstance(data, (list, tuple)):
        return [json_safe(v, field) for v in data]
    if isinstance(data, str) and "\x00" in data:
        raise ValidationFailed(
            f"{field}: NUL characters (\\u0000) are not allowed.",
            details={field: ["NUL characters (\\u0000) are not allowed."]},
        )
    if isinstance(data, (str, int, float, bool)) or data is None:
        return data
    return str(data)


def request_dict(data: Any) -> dict[str, Any]:
    """Multipart QueryDicts → plain dicts (one value per key, except list fields like poll options)."""
    if hasattr(data, "getlist"):
        out: dict[str, Any] = {}
        for key in data:
            values = data.getlist(key)
            out[key] = values if key in ("options",) else values[-1]
        return out
    if not isinstance(data, dict):
        raise ValidationFailed("The body must be a JSON object.", details={"body": ["Expected an object."]})
    return dict(data)


def validate_item(message_type: str, data: Any) -> dict[str, Any]:
    mtype = TYPES.get(message_type)
    if mtype is None:
        raise ValidationFailed(
            f"type: unknown message type {message_type!r}.",
            details={"type": [f"One of: {', '.join(sorted(TYPES))}."]},
        )
    serializer = mtype.serializer(data=data)
    if not serializer.is_valid():
        fields = flatten_errors(serializer.errors)
        name, messages = next(iter(fields.items()))
        raise ValidationFailed(f"{name}: {messages[0]}", details=fields)
    return dict(serializer.validated_data)


def build_outgoing(
    *,
    principal: Principal,
    message_type: str,
    attrs: dict[str, Any],
    original: dict[str, Any],
    devices: dict[str, Device] | None = None,
) -> Outgoing:
    """Turns validated attrs into an Outgoing; raises a WavoraError naming the field at fault."""
    assert principal.tenant is not None
    tenant = principal.tenant
    mtype = TYPES[message_type]
    device_key = str(attrs["device_id"])
    device = devices.get(device_key) if devices is not None else None
    if device is None:
        device = device_of_tenant(tenant_id=tenant.pk, device_id=device_key)
        if devices is not None:
            devices[device_key] = device
    recipient = normalize_recipient(attrs["to"])
    reply_to = resolve_reply_target(
        device=device, reference=str(attrs.get("reply_message_id") or attrs.get("reply_to_message_id") or "")
    )
    if message_type == "link":
        validate_url(attrs["link"], field="link")
    item = Outgoing(
        device=device,
        type=message_type,
        recipient=recipient,
        fields=mtype.gowa_fields(attrs),
        original=original,
        reply_to=reply_to,
    )
    if message_type == "interactive":
        item.menu = (attrs["type"], attrs["menu_options"])
    if mtype.media_kind:
        _attach_media(item, tenant=tenant, kind=mtype.media_kind, attrs=attrs)
    if message_type == "file" and attrs.get("filename") and item.media is not None:
        item.fields.pop("filename", None)
    return item


def _attach_media(item: Outgoing, *, tenant: Any, kind: str, attrs: dict[str, Any]) -> None:
    if attrs.get("media_id"):
        media = media_lib.media_of_tenant(tenant.pk, attrs["media_id"])
        media_lib.ensure_sendable_as(media, kind)
        item.media = media
    elif attrs.get("url"):
        item.media_url = validate_url(attrs["url"], field="url")
    elif attrs.get("file"):
        upload = attrs["file"]
        item.media = media_lib.media_store(
            tenant=tenant, content=upload, filename=attrs.get("filename") or upload.name or kind, kind=kind
        )


# --- batch -----------------------------------------------------------------------------------
_SEED_TYPES = {"document": "file"}


def normalise_batch_item(raw: Any, default_device: str | None) -> tuple[str, dict[str, Any]]:
    """Our item shape (single-send body + ``type``) or seed 001's (``text: {body}``, ``image: {link|id,
    caption}``, ``document: {link|id, mimetype, filename}``) → (type, single-send body)."""
    if not isinstance(raw, dict):
        raise ValidationFailed("Each item must be an object.", details={"item": ["Expected an object."]})
    item = dict(raw)
    message_type = str(item.pop("type", "") or "")
    item.pop("recipient_type", None)
    if not message_type:
        raise ValidationFailed("type: This field is required.", details={"type": ["This field is required."]})
    message_type = _SEED_TYPES.get(message_type, message_type)
    nested = item.pop("document" if message_type == "file" and "document" in item else message_type, None)
    if isinstance(nested, dict):
        if message_type == "text":
            item.setdefault("text", nested.get("body"))
        else:
            if nested.get("link"):
                item.setdefault("url", nested["link"])
            if nested.get("id"):
                item.setdefault("media_id", nested["id"])
            for key in ("caption", "filename"):
                if nested.get(key):
                    item.setdefault(key, nested[key])
    elif nested is not None and message_type == "text":
        item["text"] = nested
    if default_device and not item.get("device_id"):
        item["device_id"] = default_device
    return message_type, item


def build_batch(
    *, principal: Principal, raw_items: list[Any], default_device: str | None
) -> tuple[list[tuple[int, Outgoing]], dict[int, WavoraError]]:
    outgoing: list[tuple[int, Outgoing]] = []
    errors: dict[int, WavoraError] = {}
    devices: dict[str, Device] = {}
    for index, raw in enumerate(raw_items):
        try:
            message_type, body = normalise_batch_item(raw, default_device)
            attrs = validate_item(message_type, body)
            if attrs.get("file"):
                raise ValidationFailed("file: upload files with POST /api/v1/media and pass media_id.")
            outgoing.append(
                (
                    index,
                    build_outgoing(
                        principal=principal,
                        message_type=message_type,
                        attrs=attrs,
                        original=json_safe(raw),
                        devices=devices,
                    ),
                )
            )
        except WavoraError as exc:
            errors[index] = exc
        except serializers.ValidationError as exc:
            errors[index] = ValidationFailed(details=flatten_errors(exc.detail))
    return outgoing, errors
