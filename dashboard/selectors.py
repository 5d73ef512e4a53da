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

from billing.selectors import MessageAllowance, active_plan_for_device, message_allowance
from devices.models import Device
from devices.selectors import devices_of_tenant
from messaging.models import Message
from messaging.selectors import messages_of_tenant
from tenants.models import Tenant

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


@dataclass(frozen=True)
class DeviceUsage:
    used: int  # outgoing messages counted against the device's allowance now
    quota: int | None  # None = unlimited


@dataclass
class Usage:
    """Messages today (WIB) and the quota as billing enforces it (``messaging.services.check_can_send``
    with ``billing.selectors.message_allowance``): a partner's ``Tenant.max_messages`` is one cap for the
    whole tenant per calendar month; otherwise each active device has its plan's quota over its own
    period, and the bar adds them up."""

    today: int
    period: int  # messages counted against the quota now
    quota: int | None  # None = unlimited (some device is on a plan without a quota)
    inactive_devices: int
    per_device: bool = True
    renews_at: dt.datetime | None = None
    devices: dict[uuid.UUID, DeviceUsage] = field(default_factory=dict)

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
    # The calendar month (UTC) a partner's tenant-wide cap is counted over in billing.selectors.
    return now.astimezone(dt.UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def usage_of_tenant(*, tenant: Tenant, devices: list[Device]) -> Usage:
    """One allowance read per device (a tenant has a handful, TENANT_DEFAULT_MAX_DEVICES) and one
    aggregate query for every count."""
    now = timezone.now()
    today_start = now.astimezone(WIB).replace(hour=0, minute=0, second=0, microsecond=0)
    allowances: dict[uuid.UUID, MessageAllowance] = {}
    inactive = 0
    for device in devices:
        plan = active_plan_for_device(device_id=device.pk)
        if plan is None:
            inactive += 1  # cannot send: nothing counts against it
        else:
            allowances[device.pk] = message_allowance(device_id=device.pk, plan=plan)
    tenant_cap = next((a for a in allowances.values() if not a.per_device), None)
    counts: dict[str, Any] = {"today": Count("id", filter=Q(created_at__gte=today_start))}
    if tenant_cap is not None or tenant.max_messages:
        start = tenant_cap.period_start if tenant_cap else period_start(now)
        counts["used"] = Count("id", filter=Q(created_at__gte=start))
    else:
        for index, (device_id, allowance) in enumerate(allowances.items()):
            counts[f"device_{index}"] = Count(
                "id", filter=Q(device_id=device_id, created_at__gte=allowance.period_start)
            )
    row = messages_of_tenant(tenant_id=tenant.id).filter(direction=Message.Direction.OUT).aggregate(**counts)

    if "used" in row:  # a partner's cap for the whole tenant
        return Usage(
            today=row["today"],
            period=row["used"],
            quota=tenant_cap.quota if tenant_cap else tenant.max_messages,
            inactive_devices=inactive,
            per_device=False,
            renews_at=tenant_cap.period_end if tenant_cap else None,
        )
    per_device = {
        device_id: DeviceUsage(used=row[f"device_{index}"], quota=allowance.quota or None)
        for index, (device_id, allowance) in enumerate(allowances.items())
    }
    limited = [allowances[d] for d, u in per_device.items() if u.quota]
    unlimited = len(limited) < len(per_device)
    return Usage(
        today=row["today"],
        period=sum(u.used for u in per_device.values()),
        quota=None if unlimited or not limited else sum(a.quota for a in limited),
        inactive_devices=inactive,
        renews_at=min((a.period_end for a in limited), default=None),
        devices=per_device,
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
