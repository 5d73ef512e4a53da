"""Every message type: request validation (ours, precise, before anything is queued) and the mapping
to GOWA's send endpoint (NOTES §5). Request fields are ``device_id`` and ``to`` plus GOWA's names."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from rest_framework import serializers

from wavora.api.errors import InvalidPhone, WavoraError
from wavora.phones import normalize_recipient

DURATIONS = (0, 86400, 604800, 7776000)
MAX_BUTTONS = 3
MAX_LIST_ROWS = 10
MENU_HINT = "Balas dengan angka pilihan Anda."


class ButtonLimitExceeded(WavoraError):
    status_code = 400
    code = "BUTTON_LIMIT_EXCEEDED"
    default_detail = "At most 3 buttons."


class SendBase(serializers.Serializer):
    device_id = serializers.CharField(help_text="The sending device")
    to = serializers.CharField(help_text="Phone (+62 812…, 0812…, 62812…) or JID (…@s.whatsapp.net, …@g.us)")
    reply_message_id = serializers.CharField(required=False, allow_blank=True, max_length=100)
    reply_to_message_id = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=100,
        help_text="Alias of reply_message_id (ours or WhatsApp's)",
    )
    is_forwarded = serializers.BooleanField(required=False)
    duration = serializers.ChoiceField(
        choices=DURATIONS, required=False, help_text="Disappearing timer: 0, 86400, 604800 or 7776000 s"
    )


class TextInput(SendBase):
    text = serializers.CharField(trim_whitespace=False, max_length=65_536, allow_blank=True)

    def to_internal_value(self, data: Any) -> Any:
        # GOWA calls the field "message"; accept it as an alias of "text".
        if hasattr(data, "get") and data.get("text") is None and data.get("message") is not None:
            data = {**data, "text": data.get("message")}
        return super().to_internal_value(data)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if not attrs["text"].strip():
            raise WavoraError(
                "text: the message text is empty.",
                code="INVALID_MESSAGE",
                details={"text": ["May not be blank."]},
            )
        return attrs


class MediaSourceMixin(serializers.Serializer):
    media_id = serializers.UUIDField(required=False, help_text="From POST /api/v1/media")
    url = serializers.URLField(
        required=False, max_length=2000, help_text="Downloaded by Wavora (SSRF-guarded)"
    )
    file = serializers.FileField(required=False, help_text="Direct multipart upload")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        attrs = super().validate(attrs)
        given = [k for k in ("media_id", "url", "file") if attrs.get(k)]
        if len(given) != 1:
            message = (
                "Give exactly one of media_id, url or file."
                if given
                else "A media_id, url or file is required."
            )
            raise serializers.ValidationError({"media": [message]})
        return attrs


class ImageInput(MediaSourceMixin, SendBase):
    caption = serializers.CharField(required=False, allow_blank=True, max_length=4096)
    view_once = serializers.BooleanField(required=False)
    compress = serializers.BooleanField(required=False)


class FileInput(MediaSourceMixin, SendBase):
    caption = serializers.CharField(required=False, allow_blank=True, max_length=4096)
    filename = serializers.CharField(
        required=False, max_length=255, help_text="File name shown to the recipient"
    )


class VideoInput(MediaSourceMixin, SendBase):
    caption = serializers.CharField(required=False, allow_blank=True, max_length=4096)
    view_once = serializers.BooleanField(required=False)
    compress = serializers.BooleanField(required=False)
    gif_playback = serializers.BooleanField(required=False)


class AudioInput(MediaSourceMixin, SendBase):
    ptt = serializers.BooleanField(required=False, help_text="Send as a voice note")


class StickerInput(MediaSourceMixin, SendBase):
    pass


class ContactInput(SendBase):
    contact_name = serializers.CharField(max_length=200)
    contact_phone = serializers.CharField(max_length=30, help_text="Phone (+62 812…, 0812…, 62812…)")

    def validate_contact_phone(self, value: str) -> str:
        # GOWA wants the card's number in international digits (it refuses 0812…); normalise like `to`.
        try:
            digits = normalize_recipient(value, field="contact_phone")
        except InvalidPhone as error:
            raise serializers.ValidationError("Invalid phone number.") from error
        if "@" in digits:
            raise serializers.ValidationError("A contact card needs a phone number, not a group or LID.")
        return digits


class LocationInput(SendBase):
    latitude = serializers.FloatField(min_value=-90, max_value=90)
    longitude = serializers.FloatField(min_value=-180, max_value=180)


class LinkInput(SendBase):
    link = serializers.URLField(max_length=2000)
    caption = serializers.CharField(max_length=4096, help_text="Required by GOWA")


class PollInput(SendBase):
    question = serializers.CharField(max_length=255)
    options = serializers.ListField(child=serializers.CharField(max_length=100), min_length=2, max_length=12)
    max_answer = serializers.IntegerField(min_value=1, required=False, default=1)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        options = attrs["options"]
        lowered = [o.strip().lower() for o in options]
        if len(set(lowered)) != len(lowered):
            raise serializers.ValidationError({"options": ["Options must be unique."]})
        if attrs["max_answer"] > len(options):
            raise serializers.ValidationError(
                {"max_answer": [f"At most {len(options)} (the number of options)."]}
            )
        return attrs


class ButtonInput(serializers.Serializer):
    id = serializers.CharField(max_length=200)
    text = serializers.CharField(max_length=100)


class RowInput(serializers.Serializer):
    id = serializers.CharField(max_length=200)
    title = serializers.CharField(max_length=100)
    description = serializers.CharField(max_length=200, required=False, allow_blank=True)


class SectionInput(serializers.Serializer):
    title = serializers.CharField(max_length=100, required=False, allow_blank=True)
    rows = RowInput(many=True, allow_empty=False)


class InteractiveInput(SendBase):
    """Seed 004 §6.3 (``type: button|list``) or §2.3 (``interactiveButtons``), sent as a numbered menu."""

    type = serializers.ChoiceField(choices=["button", "list"], required=False)
    text = serializers.CharField(max_length=4096)
    title = serializers.CharField(max_length=200, required=False, allow_blank=True)
    footer = serializers.CharField(max_length=200, required=False, allow_blank=True)
    buttonText = serializers.CharField(max_length=100, required=False, allow_blank=True)
    buttons = ButtonInput(many=True, required=False)
    sections = SectionInput(many=True, required=False)
    interactiveButtons = serializers.ListField(child=serializers.DictField(), required=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs.get("interactiveButtons"):
            attrs.update(_from_interactive_buttons(attrs["interactiveButtons"]))
        kind = attrs.get("type") or ("list" if attrs.get("sections") else "button")
        attrs["type"] = kind
        if kind == "button":
            buttons = attrs.get("buttons") or []
            if not buttons:
                raise serializers.ValidationError({"buttons": ["At least one button is required."]})
            if len(buttons) > MAX_BUTTONS:
                raise ButtonLimitExceeded(
                    f"buttons: at most {MAX_BUTTONS} buttons, got {len(buttons)}.",
                    details={"buttons": [f"At most {MAX_BUTTONS}."]},
                )
            options = [{"id": b["id"], "title": b["text"]} for b in buttons]
        else:
            sections = attrs.get("sections") or []
            if not sections:
                raise serializers.ValidationError(
                    {"sections": ["At least one section with rows is required."]}
                )
            options = [
                {
                    "id": r["id"],
                    "title": r["title"],
                    "description": r.get("description", ""),
                    "section": s.get("title"),
                }
                for s in sections
                for r in s["rows"]
            ]
            if len(options) > MAX_LIST_ROWS:
                raise serializers.ValidationError({"sections": [f"At most {MAX_LIST_ROWS} rows in all."]})
        ids = [o["id"] for o in options]
        if len(set(ids)) != len(ids):
            raise serializers.ValidationError(
                {"buttons" if kind == "button" else "sections": ["Ids must be unique."]}
            )
        attrs["menu_options"] = [{"number": i + 1, **o} for i, o in enumerate(options)]
        return attrs


def _from_interactive_buttons(items: list[dict[str, Any]]) -> dict[str, Any]:
    """Seed 004 §2.3: ``[{name: quick_reply|single_select, buttonParamsJson: "<json>"}]``."""
    buttons: list[dict[str, str]] = []
    sections: list[dict[str, Any]] = []
    for index, item in enumerate(items):
        try:
            params = json.loads(item.get("buttonParamsJson") or "{}")
        except (TypeError, ValueError):
            raise serializers.ValidationError(
                {f"interactiveButtons[{index}].buttonParamsJson": ["Must be a valid JSON string."]}
            )
        if not isinstance(params, dict):
            raise serializers.ValidationError(
                {f"interactiveButtons[{index}].buttonParamsJson": ["Must be an object."]}
            )
        if item.get("name") == "single_select":
            for section in params.get("sections") or []:
                rows = [
                    {
                        "id": str(r.get("id", "")),
                        "title": str(r.get("title", "")),
                        "description": r.get("description", ""),
                    }
                    for r in section.get("rows") or []
                ]
                sections.append({"title": section.get("title", ""), "rows": rows})
        else:
            buttons.append({"id": str(params.get("id", "")), "text": str(params.get("display_text", ""))})
    for index, button in enumerate(buttons):
        if not button["id"] or not button["text"]:
            raise serializers.ValidationError(
                {f"interactiveButtons[{index}]": ["Each button needs id and display_text."]}
            )
    if sections:
        return {"type": "list", "sections": sections}
    return {"type": "button", "buttons": buttons}


def render_menu(attrs: dict[str, Any]) -> str:
    """The numbered text menu that stands in for native buttons, which GOWA cannot send."""
    lines: list[str] = []
    if attrs.get("title"):
        lines.append(f"*{attrs['title']}*")
    lines.append(attrs["text"])
    lines.append("")
    section = None
    for option in attrs["menu_options"]:
        if option.get("section") and option["section"] != section:
            section = option["section"]
            lines.append(f"*{section}*")
        description = f" — {option['description']}" if option.get("description") else ""
        lines.append(f"{option['number']}. {option['title']}{description}")
    lines.append("")
    if attrs.get("footer"):
        lines.append(f"_{attrs['footer']}_")
    lines.append(MENU_HINT)
    return "\n".join(lines)


@dataclass(frozen=True)
class MessageType:
    name: str
    serializer: type[serializers.Serializer]
    gowa_path: str
    upload_part: str | None = None  # multipart part name for media types
    media_kind: str | None = None
    text_field: str | None = None  # the GOWA field that carries text (gets the plan's branding footer)

    def gowa_fields(self, attrs: dict[str, Any]) -> dict[str, Any]:
        """GOWA's body for this type (without ``phone``), from validated attrs."""
        common = {k: attrs[k] for k in ("is_forwarded", "duration") if k in attrs}
        builder = _BUILDERS[self.name]
        return {**common, **builder(attrs)}


def _pick(attrs: dict[str, Any], *names: str) -> dict[str, Any]:
    return {n: attrs[n] for n in names if n in attrs and attrs[n] not in (None, "")}


_BUILDERS: dict[str, Any] = {
    "text": lambda a: {"message": a["text"]},
    "image": lambda a: _pick(a, "caption", "view_once", "compress"),
    "file": lambda a: _pick(a, "caption"),
    "video": lambda a: _pick(a, "caption", "view_once", "compress", "gif_playback"),
    "audio": lambda a: _pick(a, "ptt"),
    "sticker": lambda a: {},
    "contact": lambda a: {"contact_name": a["contact_name"], "contact_phone": a["contact_phone"]},
    # GOWA validates latitude/longitude as strings (NOTES §5).
    "location": lambda a: {"latitude": repr(float(a["latitude"])), "longitude": repr(float(a["longitude"]))},
    "link": lambda a: {"link": a["link"], "caption": a["caption"]},
    "poll": lambda a: {"question": a["question"], "options": a["options"], "max_answer": a["max_answer"]},
    "interactive": lambda a: {"message": render_menu(a)},
}

TYPES: dict[str, MessageType] = {
    t.name: t
    for t in (
        MessageType("text", TextInput, "/send/message", text_field="message"),
        MessageType("image", ImageInput, "/send/image", "image", "image", "caption"),
        MessageType("file", FileInput, "/send/file", "file", "file", "caption"),
        MessageType("video", VideoInput, "/send/video", "video", "video", "caption"),
        MessageType("audio", AudioInput, "/send/audio", "audio", "audio"),
        MessageType("sticker", StickerInput, "/send/sticker", "sticker", "sticker"),
        MessageType("contact", ContactInput, "/send/contact"),
        MessageType("location", LocationInput, "/send/location"),
        MessageType("link", LinkInput, "/send/link", text_field="caption"),
        MessageType("poll", PollInput, "/send/poll"),
        MessageType("interactive", InteractiveInput, "/send/message", text_field="message"),
    )
}
