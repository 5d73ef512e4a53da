"""Indonesian formatting for the dashboard: rupiah, grouped numbers and WIB times."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from django import template
from django.utils import translation
from django.utils.translation import gettext_lazy as _

from billing.services import rupiah as billing_rupiah

register = template.Library()
WIB = ZoneInfo("Asia/Jakarta")
ID_MONTHS = ("Jan", "Feb", "Mar", "Apr", "Mei", "Jun", "Jul", "Agu", "Sep", "Okt", "Nov", "Des")


def _grouped(value: int) -> str:
    return f"{value:,}".replace(",", ".")


@register.filter
def rupiah(value: object) -> str:
    """150000 → "Rp 150.000" (integer rupiah, Indonesian grouping)."""
    if value in (None, ""):
        return ""
    return billing_rupiah(int(str(value)))


@register.filter
def number_id(value: object) -> str:
    """12345 → "12.345"."""
    if value in (None, ""):
        return ""
    return _grouped(int(str(value)))


@register.filter
def wib(value: dt.datetime | None, fmt: str = "%d %b %Y %H:%M") -> str:
    """An aware datetime shown in Jakarta time with the "WIB" suffix."""
    if value is None:
        return "—"
    local = value.astimezone(WIB)
    if "%b" in fmt and (translation.get_language() or "").startswith("id"):
        # strftime's month names are the C locale's (English); Indonesian differs (Mei, Agu, Okt, Des).
        fmt = fmt.replace("%b", ID_MONTHS[local.month - 1])
    return f"{local.strftime(fmt)} WIB"


STATUS_LABELS = {
    "created": _("Not linked"),
    "pairing": _("Waiting for scan"),
    "connected": _("Connected"),
    "disconnected": _("Disconnected"),
    "logged_out": _("Logged out"),
    "pending": _("Pending"),
    "sending": _("Sending"),
    "sent": _("Sent"),
    "delivered": _("Delivered"),
    "read": _("Read"),
    "played": _("Played"),
    "failed": _("Failed"),
    "cancelled": _("Cancelled"),
    "received": _("Received"),
    "owner": _("Owner"),
    "admin": _("Admin"),
    "member": _("Member"),
    "out": _("Outgoing"),
    "in": _("Incoming"),
}


@register.filter
def status_label(value: object) -> str:
    """A device/message status or a role in the current language."""
    return str(STATUS_LABELS.get(str(value), value))


@register.filter
def message_type(value: object) -> str:
    """A message type ("text", "image" …) in the current language; an unknown one as it is."""
    from dashboard.forms import MESSAGE_TYPE_LABELS  # here: dashboard.forms imports this module

    return str(MESSAGE_TYPE_LABELS.get(str(value), value))


@register.filter
def percent(value: float | None) -> str:
    """0.9734 → "97,3%" (Indonesian decimal comma); None → "—"."""
    if value is None:
        return "—"
    return f"{value * 100:.1f}%".replace(".", ",")


@register.filter
def message_summary(payload: object) -> str:
    """The human part of a message's request: its text, caption, question, contact or link."""
    if not isinstance(payload, dict):
        return ""
    for key in ("text", "caption", "question", "contact_name", "link", "message"):
        value = payload.get(key)
        if isinstance(value, str) and value.strip():
            return value
    return ""
