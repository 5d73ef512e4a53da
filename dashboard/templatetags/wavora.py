"""Indonesian formatting for the dashboard: rupiah, grouped numbers and WIB times."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from django import template

register = template.Library()
WIB = ZoneInfo("Asia/Jakarta")


def _grouped(value: int) -> str:
    return f"{value:,}".replace(",", ".")


@register.filter
def rupiah(value: object) -> str:
    """150000 → "Rp 150.000" (integer rupiah, Indonesian grouping)."""
    if value in (None, ""):
        return ""
    amount = int(str(value))
    sign = "-" if amount < 0 else ""
    return f"{sign}Rp {_grouped(abs(amount))}"


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
    return f"{value.astimezone(WIB).strftime(fmt)} WIB"
