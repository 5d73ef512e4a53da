"""Dashboard forms: field validation and labels only; every write goes through a service."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth import get_user_model
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.password_validation import validate_password
from django.utils.translation import gettext_lazy as _

from messaging.models import Message
from messaging.types import TYPES
from tenants.models import Membership

from .templatetags.wavora import status_label

ROLE_CHOICES = [
    (Membership.Role.OWNER, _("Owner")),
    (Membership.Role.ADMIN, _("Admin")),
    (Membership.Role.MEMBER, _("Member")),
]


class SignupForm(forms.Form):
    company = forms.CharField(label=_("Business name"), max_length=200)
    email = forms.EmailField(label=_("Email"), max_length=254)
    password = forms.CharField(label=_("Password"), widget=forms.PasswordInput, strip=False)

    def clean_email(self) -> str:
        email = str(self.cleaned_data["email"]).strip().lower()
        # Signing up with someone else's address must not hand over their account.
        if get_user_model().objects.filter(email__iexact=email).exists():
            raise forms.ValidationError(_("An account with this email already exists. Log in instead."))
        return email

    def clean(self) -> dict[str, Any]:
        cleaned: dict[str, Any] = super().clean() or {}
        password = cleaned.get("password")
        if password:
            user = get_user_model()(username=cleaned.get("email", ""), email=cleaned.get("email", ""))
            try:
                validate_password(password, user)
            except forms.ValidationError as exc:
                self.add_error("password", exc)
        return cleaned


class EmailLoginForm(AuthenticationForm):
    """Django's log-in form, by email; the username of a dashboard account is its email."""

    username = forms.EmailField(
        label=_("Email"), max_length=254, widget=forms.EmailInput(attrs={"autofocus": True})
    )

    def clean_username(self) -> str:
        email = str(self.cleaned_data["username"]).strip().lower()
        user = get_user_model().objects.filter(email__iexact=email).only("username").first()
        return user.username if user is not None else email


class InvitationAcceptSignupForm(forms.Form):
    password = forms.CharField(label=_("Choose a password"), widget=forms.PasswordInput, strip=False)

    def __init__(self, *args: Any, email: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.email = email

    def clean_password(self) -> str:
        password = str(self.cleaned_data["password"])
        validate_password(password, get_user_model()(username=self.email, email=self.email))
        return password


class InviteForm(forms.Form):
    email = forms.EmailField(label=_("Email"), max_length=254)
    role = forms.ChoiceField(label=_("Role"), choices=ROLE_CHOICES, initial=Membership.Role.MEMBER)


class RoleForm(forms.Form):
    role = forms.ChoiceField(label=_("Role"), choices=ROLE_CHOICES)


class DeviceCreateForm(forms.Form):
    name = forms.CharField(label=_("Device name"), max_length=100)


class DeviceSettingsForm(forms.Form):
    name = forms.CharField(label=_("Device name"), max_length=100)
    auto_read_enabled = forms.BooleanField(label=_("Mark incoming messages as read"), required=False)
    typing_enabled = forms.BooleanField(label=_("Show “typing…” before sending"), required=False)
    auto_reply_enabled = forms.BooleanField(label=_("Answer with auto-replies"), required=False)
    send_interval_ms = forms.IntegerField(
        label=_("Pause between messages (ms)"),
        required=False,
        min_value=0,
        max_value=600_000,
        help_text=_("Empty uses the plan's default."),
    )


class PairingCodeForm(forms.Form):
    phone = forms.CharField(
        label=_("Phone number of the WhatsApp account"), max_length=30, help_text=_("e.g. 0812 3456 7890")
    )


# The message types in the user's language: the send form's choices and the message logs' type column.
MESSAGE_TYPE_LABELS: dict[str, Any] = {
    "text": _("Text"),
    "image": _("Image"),
    "file": _("File"),
    "video": _("Video"),
    "audio": _("Audio"),
    "sticker": _("Sticker"),
    "contact": _("Contact"),
    "location": _("Location"),
    "link": _("Link"),
    "poll": _("Poll"),
    "interactive": _("Buttons or list"),
}


def _type_choices() -> list[tuple[str, Any]]:
    return [(name, MESSAGE_TYPE_LABELS.get(name, name)) for name in TYPES]


class SendForm(forms.Form):
    """Every message type in one form; the fields a type does not use are ignored (and hidden by JS).
    Validation is the API's own (`messaging.compose`), so errors read the same in both places."""

    device_id = forms.ChoiceField(label=_("Device"))
    to = forms.CharField(label=_("To"), max_length=100, help_text=_("Phone (0812…, +62 812…) or group JID"))
    type = forms.ChoiceField(label=_("Type"), choices=_type_choices, initial="text")
    text = forms.CharField(
        label=_("Text"), required=False, widget=forms.Textarea(attrs={"rows": 4}), strip=False
    )
    file = forms.FileField(label=_("File"), required=False)
    url = forms.URLField(label=_("…or media URL"), required=False, max_length=2000, assume_scheme="https")
    caption = forms.CharField(label=_("Caption"), required=False, max_length=4096)
    filename = forms.CharField(label=_("File name"), required=False, max_length=255)
    view_once = forms.BooleanField(label=_("View once"), required=False)
    ptt = forms.BooleanField(label=_("Send as a voice note"), required=False)
    latitude = forms.FloatField(label=_("Latitude"), required=False)
    longitude = forms.FloatField(label=_("Longitude"), required=False)
    contact_name = forms.CharField(label=_("Contact name"), required=False, max_length=200)
    contact_phone = forms.CharField(label=_("Contact phone"), required=False, max_length=30)
    link = forms.CharField(label=_("Link"), required=False, max_length=2000)
    question = forms.CharField(label=_("Question"), required=False, max_length=255)
    options = forms.CharField(
        label=_("Options"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("One per line"),
    )
    max_answer = forms.IntegerField(label=_("Answers allowed"), required=False, min_value=1, initial=1)
    menu_kind = forms.ChoiceField(
        label=_("Menu"),
        required=False,
        choices=[("button", _("Buttons")), ("list", _("List"))],
        initial="button",
    )
    title = forms.CharField(label=_("Title"), required=False, max_length=200)
    footer = forms.CharField(label=_("Footer"), required=False, max_length=200)
    choices = forms.CharField(
        label=_("Choices"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("One per line: id | title (at most 3 buttons, 10 list rows)"),
    )

    # Which fields each type uses (the page shows only these).
    FIELDS_BY_TYPE = {
        "text": ("text",),
        "image": ("file", "url", "caption", "view_once"),
        "file": ("file", "url", "caption", "filename"),
        "video": ("file", "url", "caption", "view_once"),
        "audio": ("file", "url", "ptt"),
        "sticker": ("file", "url"),
        "contact": ("contact_name", "contact_phone"),
        "location": ("latitude", "longitude"),
        "link": ("link", "caption"),
        "poll": ("question", "options", "max_answer"),
        "interactive": ("menu_kind", "title", "text", "footer", "choices"),
    }

    def __init__(self, *args: Any, devices: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        device_field = self.fields["device_id"]
        assert isinstance(device_field, forms.ChoiceField)
        device_field.choices = [(str(d.pk), f"{d.name} ({status_label(d.status)})") for d in devices]

    def api_body(self) -> dict[str, Any]:
        """The same body an API client would POST for the chosen type."""
        data = self.cleaned_data
        kind = data["type"]
        body: dict[str, Any] = {"device_id": data["device_id"], "to": data["to"]}
        for name in self.FIELDS_BY_TYPE.get(kind, ()):
            value = data.get(name)
            if name == "options":
                body["options"] = [line.strip() for line in (value or "").splitlines() if line.strip()]
            elif name == "choices":
                rows = []
                for line in (value or "").splitlines():
                    if not line.strip():
                        continue
                    ident, _sep, title = line.partition("|")
                    rows.append((ident.strip(), (title or ident).strip()))
                if data.get("menu_kind") == "list":
                    body["sections"] = [{"title": "", "rows": [{"id": i, "title": t} for i, t in rows]}]
                else:
                    body["buttons"] = [{"id": i, "text": t} for i, t in rows]
            elif name == "menu_kind":
                body["type"] = value or "button"
            elif value not in (None, "", False):
                body[name] = value
        return body


class MessageFilterForm(forms.Form):
    device = forms.ChoiceField(label=_("Device"), required=False)
    direction = forms.ChoiceField(
        label=_("Direction"),
        required=False,
        choices=[("", _("All")), ("out", _("Outgoing")), ("in", _("Incoming"))],
    )
    status = forms.ChoiceField(
        label=_("Status"), required=False, choices=[("", _("All")), *Message.Status.choices]
    )
    type = forms.ChoiceField(label=_("Type"), required=False)
    phone = forms.CharField(label=_("Phone"), required=False, max_length=100)
    date_from = forms.DateField(
        label=_("From (WIB)"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    date_to = forms.DateField(
        label=_("To (WIB)"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )

    def __init__(self, *args: Any, devices: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        device_field, type_field = self.fields["device"], self.fields["type"]
        assert isinstance(device_field, forms.ChoiceField) and isinstance(type_field, forms.ChoiceField)
        device_field.choices = [("", _("All")), *[(str(d.pk), d.name) for d in devices]]
        type_field.choices = [("", _("All")), *_type_choices()]

    def clean(self) -> dict[str, Any]:
        cleaned: dict[str, Any] = super().clean() or {}
        start, end = cleaned.get("date_from"), cleaned.get("date_to")
        if start and end and end < start:
            self.add_error("date_to", _("Must not be before the start date."))
        return cleaned
