"""Forms of the webhooks, API keys, auto-replies and contacts pages.

They only shape input; the rules (SSRF guard, event catalog, device ownership, reply validity) are
the services', whose refusals come back onto these forms as inline field errors."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django import forms
from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from devices.models import Device
from messaging.models import AutoReplyRule
from tenants.principal import ALL_SCOPES
from webhooks.events import CATALOG
from webhooks.services import TARGETED_EVENTS

# webhook.test only ever goes to the endpoint being tested, so subscribing to it means nothing.
SUBSCRIBABLE_EVENTS = sorted(CATALOG - TARGETED_EVENTS)


def device_choices(devices: Iterable[Device]) -> list[tuple[str, str]]:
    return [(str(d.pk), f"{d.name} ({d.phone})" if d.phone else d.name) for d in devices]


class WebhookEndpointForm(forms.Form):
    url = forms.CharField(
        label=_("URL"),
        max_length=2000,
        widget=forms.URLInput(attrs={"placeholder": "https://example.com/wavora"}),
        help_text=_("An http(s) address on the public internet that answers 2xx."),
    )
    description = forms.CharField(label=_("Description"), max_length=500, required=False)
    events = forms.MultipleChoiceField(
        label=_("Events"),
        choices=[(name, name) for name in SUBSCRIBABLE_EVENTS],
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("None ticked: every event."),
    )
    device_ids = forms.MultipleChoiceField(
        label=_("Devices"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("None ticked: every device (and events without a device)."),
    )
    is_active = forms.BooleanField(label=_("Active"), required=False, initial=True)

    def __init__(self, *args: Any, devices: Iterable[Device], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["device_ids"].choices = device_choices(devices)  # type: ignore[attr-defined]
        # An endpoint made through the API may subscribe to webhook.test: keep it choosable.
        kept = [name for name in (self.initial.get("events") or []) if name not in SUBSCRIBABLE_EVENTS]
        if kept:
            self.fields["events"].choices = [  # type: ignore[attr-defined]
                (name, name) for name in sorted({*SUBSCRIBABLE_EVENTS, *kept})
            ]


class WebhookRotateForm(forms.Form):
    grace_period_hours = forms.IntegerField(
        label=_("Old secret keeps signing for (hours)"),
        min_value=0,
        max_value=168,
        initial=int(settings.WEBHOOK_SECRET_GRACE_HOURS),
    )


class DeliveryFilterForm(forms.Form):
    STATUS_CHOICES = [
        ("", _("All statuses")),
        ("pending", _("Pending")),
        ("succeeded", _("Succeeded")),
        ("failed", _("Failed")),
    ]

    status = forms.ChoiceField(label=_("Status"), choices=STATUS_CHOICES, required=False)
    event = forms.ChoiceField(
        label=_("Event"), choices=[("", _("All events")), *[(e, e) for e in sorted(CATALOG)]], required=False
    )


class ApiKeyCreateForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=100)
    scopes = forms.MultipleChoiceField(
        label=_("Scopes"),
        choices=[(scope, scope) for scope in sorted(ALL_SCOPES)],
        initial=sorted(ALL_SCOPES),
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": _("Tick at least one scope.")},
    )
    device_ids = forms.MultipleChoiceField(
        label=_("Devices"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("None ticked: the key may use every device."),
    )
    expires_at = forms.DateTimeField(
        label=_("Expires at (WIB)"),
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%d"],
        help_text=_("Empty: the key never expires."),
    )

    def __init__(self, *args: Any, devices: Iterable[Device], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["device_ids"].choices = device_choices(devices)  # type: ignore[attr-defined]

    def clean_expires_at(self) -> Any:
        expires_at = self.cleaned_data.get("expires_at")
        if expires_at is not None and expires_at <= timezone.now():
            raise forms.ValidationError(_("The expiry must be in the future."))
        return expires_at


class AutoReplyRuleForm(forms.Form):
    keyword = forms.CharField(label=_("Keyword"), max_length=200, help_text=_("Matched ignoring case."))
    match = forms.ChoiceField(
        label=_("Match"),
        choices=[
            (AutoReplyRule.Match.CONTAINS, _("The message contains the keyword")),
            (AutoReplyRule.Match.EXACT, _("The whole message equals the keyword")),
        ],
        initial=AutoReplyRule.Match.CONTAINS,
        widget=forms.RadioSelect,
    )
    # Not stripped: the reply is sent as written; a blank one is refused by the service (reply.text).
    reply_text = forms.CharField(
        label=_("Reply"), widget=forms.Textarea(attrs={"rows": 4}), max_length=65_536, strip=False
    )
    device_id = forms.ChoiceField(label=_("Device"), required=False)
    priority = forms.IntegerField(
        label=_("Priority"),
        initial=0,
        min_value=-1_000_000,
        max_value=1_000_000,
        help_text=_("Higher is tried first."),
    )
    reply_to_groups = forms.BooleanField(label=_("Also answer in groups"), required=False)
    enabled = forms.BooleanField(label=_("Enabled"), required=False, initial=True)

    # Service detail keys → form fields.
    SERVICE_FIELDS = {"reply": "reply_text", "reply.text": "reply_text", "reply.type": "reply_text"}

    def __init__(
        self, *args: Any, devices: Iterable[Device], keeps_other_reply: bool = False, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.fields["device_id"].choices = [  # type: ignore[attr-defined]
            ("", _("Every device")),
            *device_choices(devices),
        ]
        if keeps_other_reply:
            # A rule made through the API with a non-text reply: empty keeps that reply.
            self.fields["reply_text"].required = False
            self.fields["reply_text"].help_text = _("Empty keeps the current reply; text replaces it.")


class ContactSearchForm(forms.Form):
    # The device is chosen by id in the URL and looked up within the tenant (404 otherwise).
    q = forms.CharField(label=_("Search"), max_length=200, required=False)
