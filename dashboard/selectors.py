"""Reads for the overview page: a handful of aggregate queries, none per row."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from django.db.models import Count, Q
from django.db.models.functions import TruncDate
from django.utils import timezone

from billing.selectors import active_plan_for_device
from devices.models import Device
from devices.selectors import devices_of_tenant
from messaging.models import Message
from messaging.selectors import messages_of_tenant

WIB = ZoneInfo("Asia/Jakarta")
CHART_DAYS = 30
# How the chart groups statuses: a message counts once, in the furthest state it reached.
CHART_SERIES = (
    ("read", ("read", "played")),
    ("delivered", ("delivered",)),
    ("sent", ("sent",)),
    ("pending", ("pending", "sending")),
    ("failed", ("failed", "cancelled")),
)
_REACHED = ("sent", "delivered", "read", "played")
_DELIVERED = ("delivered", "read", "played")
_READ = ("read", "played")


@dataclass
class Usage:
    today: int
    period: int
    quota: int | None  # None = unlimited (some device is on a plan without a quota)
    inactive_devices: int

    @property
    def percent(self) -> int:
        if not self.quota:
            return 0
        return min(100, round(100 * self.period / self.quota))


@dataclass
class Chart:
    days: list[dt.date]
    series: dict[str, list[int]]
    totals: dict[str, int] = field(default_factory=dict)
    delivery_rate: float | None = None
    read_rate: float | None = None


def period_start(now: dt.datetime) -> dt.datetime:
    # The same calendar month (UTC) the send quota is counted over in messaging.services.
    return now.astimezone(dt.UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def usage_of_tenant(*, tenant_id: uuid.UUID, devices: list[Device]) -> Usage:
    now = timezone.now()
    today_start = now.astimezone(WIB).replace(hour=0, minute=0, second=0, microsecond=0)
    counts = (
        messages_of_tenant(tenant_id=tenant_id)
        .filter(direction=Message.Direction.OUT)
        .aggregate(
            today=Count("id", filter=Q(created_at__gte=today_start)),
            period=Count("id", filter=Q(created_at__gte=period_start(now))),
        )
    )
    quota: int | None = 0
    inactive = 0
    # One subscription read per device: a tenant has a handful of devices (TENANT_DEFAULT_MAX_DEVICES).
    for device in devices:
        plan = active_plan_for_device(device_id=device.pk)
        if plan is None:
            inactive += 1
        elif not plan.message_quota:
            quota = None
        elif quota is not None:
            quota += plan.message_quota
    return Usage(
        today=counts["today"], period=counts["period"], quota=quota or None, inactive_devices=inactive
    )


def chart_of_tenant(*, tenant_id: uuid.UUID, days: int = CHART_DAYS) -> Chart:
    """Outgoing messages per WIB day and status over the last ``days`` days, one grouped query."""
    today = timezone.now().astimezone(WIB).date()
    first = today - dt.timedelta(days=days - 1)
    start = dt.datetime.combine(first, dt.time.min, tzinfo=WIB)
    rows = (
        messages_of_tenant(tenant_id=tenant_id)
        .filter(direction=Message.Direction.OUT, created_at__gte=start)
        .annotate(day=TruncDate("created_at", tzinfo=WIB))
        .values("day", "status")
        .annotate(n=Count("id"))
        .order_by()
    )
    day_list = [first + dt.timedelta(days=i) for i in range(days)]
    index = {day: i for i, day in enumerate(day_list)}
    series_of = {status: name for name, statuses in CHART_SERIES for status in statuses}
    series: dict[str, list[int]] = {name: [0] * days for name, _ in CHART_SERIES}
    by_status: dict[str, int] = {}
    for row in rows:
        position = index.get(row["day"])
        name = series_of.get(row["status"])
        if position is None or name is None:
            continue
        series[name][position] += row["n"]
        by_status[row["status"]] = by_status.get(row["status"], 0) + row["n"]
    reached = sum(by_status.get(s, 0) for s in _REACHED)
    failed = by_status.get("failed", 0)
    delivered = sum(by_status.get(s, 0) for s in _DELIVERED)
    read = sum(by_status.get(s, 0) for s in _READ)
    return Chart(
        days=day_list,
        series=series,
        totals={name: sum(values) for name, values in series.items()},
        # Of the messages that left (or definitely failed), how many arrived; of those, how many were read.
        delivery_rate=delivered / (reached + failed) if reached + failed else None,
        read_rate=read / delivered if delivered else None,
    )


def recent_failures(*, tenant_id: uuid.UUID, limit: int = 5) -> list[Message]:
    return list(
        messages_of_tenant(tenant_id=tenant_id)
        .filter(direction=Message.Direction.OUT, status=Message.Status.FAILED)
        .select_related("device")
        .order_by("-created_at")[:limit]
    )


def devices_for_overview(*, tenant_id: uuid.UUID) -> list[Device]:
    return list(devices_of_tenant(tenant_id=tenant_id).order_by("name"))


SERIES_COLORS = {
    "read": "#0b6e4f",
    "delivered": "#22a06b",
    "sent": "#6cb4ee",
    "pending": "#e0b050",
    "failed": "#d9534f",
}


def chart_svg_bars(chart: Chart, *, width: int = 720, height: int = 220) -> dict[str, Any]:
    """Geometry for a stacked bar chart drawn as SVG in the template (no JavaScript library)."""
    left, bottom, top = 36, 22, 8
    plot_h = height - bottom - top
    totals = [sum(chart.series[name][i] for name, _ in CHART_SERIES) for i in range(len(chart.days))]
    peak = max(totals) if totals and max(totals) > 0 else 1
    step = (width - left) / max(1, len(chart.days))
    bar_w = max(2.0, step * 0.7)
    bars = []
    for i, day in enumerate(chart.days):
        y = float(top + plot_h)
        x = left + i * step + (step - bar_w) / 2
        for name, _ in reversed(CHART_SERIES):
            value = chart.series[name][i]
            if not value:
                continue
            h = plot_h * value / peak
            y -= h
            bars.append(
                {
                    "x": round(x, 1),
                    "y": round(y, 1),
                    "w": round(bar_w, 1),
                    "h": round(h, 1),
                    "color": SERIES_COLORS[name],
                    "title": f"{day:%d/%m} {name}: {value}",
                }
            )
    ticks = [
        {"x": round(left + i * step + step / 2, 1), "label": f"{day:%d/%m}"}
        for i, day in enumerate(chart.days)
        if i % 5 == 0 or i == len(chart.days) - 1
    ]
    grid = [{"y": round(top + plot_h * (1 - f), 1), "label": round(peak * f)} for f in (0, 0.5, 1)]
    return {
        "width": width,
        "height": height,
        "bars": bars,
        "ticks": ticks,
        "grid": grid,
        "base_y": top + plot_h,
        "left": left,
        "peak": peak,
    }
