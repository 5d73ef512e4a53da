"""Send windows and days in WIB (Asia/Jakarta, UTC+7, no daylight saving): pure functions of a time."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

WIB = ZoneInfo("Asia/Jakarta")


def hhmm(value: time | None) -> str:
    return value.strftime("%H:%M") if value else "--:--"


def wib_label(moment: datetime) -> str:
    return moment.astimezone(WIB).strftime("%Y-%m-%d %H:%M WIB")


def in_window(now: datetime, start: time | None, end: time | None) -> bool:
    """Inside [start, end) WIB; a window past midnight (22:00–06:00) wraps; no window = always."""
    if start is None or end is None or start == end:
        return True
    local = now.astimezone(WIB).time()
    if start < end:
        return start <= local < end
    return local >= start or local < end


def next_window_open(now: datetime, start: time | None, end: time | None) -> datetime:
    """When the window next opens (``now`` if it is open)."""
    if start is None or in_window(now, start, end):
        return now
    local = now.astimezone(WIB)
    opens = local.replace(hour=start.hour, minute=start.minute, second=0, microsecond=0)
    if opens <= local:
        opens += timedelta(days=1)
    return opens.astimezone(UTC)


def wib_day_start(now: datetime) -> datetime:
    local = now.astimezone(WIB)
    return local.replace(hour=0, minute=0, second=0, microsecond=0).astimezone(UTC)


def next_wib_midnight(now: datetime) -> datetime:
    return (
        now.astimezone(WIB).replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1)
    ).astimezone(UTC)
