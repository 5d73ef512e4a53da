"""Reads for billing: the plan a device may use, limits and quotas, invoices and payments."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db.models import Max, QuerySet
from django.utils import timezone

from tenants.models import Tenant
from wavora.api.errors import NotFound

from .models import BillingSettings, Invoice, Payment, Plan, Subscription
from .plans import FREE_PLAN_CODE

USABLE = (Subscription.Status.ACTIVE, Subscription.Status.PAST_DUE)


def grace_period() -> timedelta:
    return timedelta(days=settings.BILLING_GRACE_DAYS)


def _free_plan() -> Plan | None:
    return Plan.objects.filter(code=FREE_PLAN_CODE).first()


def active_plan_for_device(*, device_id: uuid.UUID) -> Plan | None:
    """The plan of the device's subscription while it is usable; ``None`` when it has lapsed.

    ``None`` (→ SUBSCRIPTION_INACTIVE) when the subscription is expired or cancelled, or the tenant's
    provisioned access (``Tenant.expires_at``, internal API) has ended. A paid period that ended less
    than the grace period ago still counts (past due); beyond it the device is on the free plan even
    before the beat task has moved it there."""
    subscription = Subscription.objects.select_related("plan", "tenant").filter(device_id=device_id).first()
    if subscription is None or subscription.status not in USABLE:
        return None
    now = timezone.now()
    if subscription.tenant.expires_at is not None and subscription.tenant.expires_at <= now:
        return None
    end = subscription.current_period_end
    if end is not None and end + grace_period() < now and not subscription.plan.is_free:
        return _free_plan()
    return subscription.plan


def device_limit_for_tenant(*, tenant: Tenant) -> int:
    """How many devices the tenant may have, first match wins:
    the partner's ``Tenant.max_devices`` (internal API), the admin's billing-settings override, else
    the larger of TENANT_DEFAULT_MAX_DEVICES and the highest ``device_limit`` of the tenant's paid,
    usable plans."""
    if tenant.max_devices:
        return tenant.max_devices
    override = (
        BillingSettings.objects.filter(tenant=tenant).values_list("device_limit_override", flat=True).first()
    )
    if override is not None:
        return int(override)
    best_plan = (
        Subscription.objects.filter(tenant=tenant, status__in=USABLE, plan__price__gt=0)
        .aggregate(limit=Max("plan__device_limit"))
        .get("limit")
    )
    return max(settings.TENANT_DEFAULT_MAX_DEVICES, best_plan or 0)


@dataclass(frozen=True)
class MessageAllowance:
    quota: int  # 0 = unlimited
    per_device: bool  # False: a partner's tenant-wide cap
    period_start: datetime
    period_end: datetime
    plan_name: str


def _month_start(now: datetime) -> datetime:
    return now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def _next_month_start(now: datetime) -> datetime:
    return (_month_start(now) + timedelta(days=32)).replace(day=1)


def message_allowance(*, device_id: uuid.UUID, plan: Plan) -> MessageAllowance:
    """The send quota that applies to the device now.

    A partner's ``Tenant.max_messages`` replaces plan quotas with one cap for the whole tenant per
    calendar month (UTC). Otherwise the plan's ``message_quota`` counts per device: over the paid
    period for a paid subscription, over the calendar month on the free plan."""
    now = timezone.now()
    subscription = Subscription.objects.select_related("tenant").filter(device_id=device_id).first()
    tenant = subscription.tenant if subscription else None
    if tenant is not None and tenant.max_messages:
        return MessageAllowance(
            tenant.max_messages, False, _month_start(now), _next_month_start(now), "provisioned"
        )
    if (
        subscription is not None
        and not plan.is_free
        and subscription.plan_id == plan.pk
        and subscription.current_period_end is not None
        and subscription.current_period_start <= now < subscription.current_period_end
    ):
        return MessageAllowance(
            plan.message_quota,
            True,
            subscription.current_period_start,
            subscription.current_period_end,
            plan.name,
        )
    return MessageAllowance(plan.message_quota, True, _month_start(now), _next_month_start(now), plan.name)


def billing_settings_of(*, tenant: Tenant) -> BillingSettings:
    """The tenant's settings row, or an unsaved one holding the platform defaults."""
    return BillingSettings.objects.filter(tenant=tenant).first() or BillingSettings(tenant=tenant)


def effective_tax_rate(row: BillingSettings) -> Decimal:
    if row.tax_rate_percent is not None:
        return Decimal(row.tax_rate_percent)
    return Decimal(settings.BILLING_TAX_RATE_PERCENT)


def effective_due_days(row: BillingSettings) -> int:
    return row.invoice_due_days or settings.BILLING_INVOICE_DUE_DAYS


def allowed_methods(row: BillingSettings) -> list[str]:
    return list(row.allowed_payment_methods) or [m.value for m in BillingSettings.Method]


def public_plans() -> QuerySet[Plan]:
    return Plan.objects.filter(is_public=True, is_active=True)


def subscriptions_of_tenant(*, tenant: Tenant) -> QuerySet[Subscription]:
    return (
        Subscription.objects.select_related("plan", "device")
        .filter(tenant=tenant, device__deleted_at__isnull=True)
        .order_by("created_at")
    )


def invoices_of_tenant(*, tenant: Tenant, status: str | None = None) -> QuerySet[Invoice]:
    qs = Invoice.objects.select_related("plan").prefetch_related("lines").filter(tenant=tenant)
    return qs.filter(status=status) if status else qs


def _uuid_or_none(value: Any) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None


def invoice_of_tenant(*, tenant: Tenant, invoice_id: Any) -> Invoice:
    """The tenant's invoice, or 404 NOT_FOUND (also for another tenant's and malformed ids)."""
    pk = _uuid_or_none(invoice_id)
    invoice = invoices_of_tenant(tenant=tenant).filter(pk=pk).first() if pk else None
    if invoice is None:
        raise NotFound("Invoice not found.", details={"invoice_id": ["No invoice with this id."]})
    return invoice


def payment_of_tenant(*, tenant: Tenant, payment_id: Any) -> Payment:
    pk = _uuid_or_none(payment_id)
    payment = Payment.objects.select_related("invoice").filter(tenant=tenant, pk=pk).first() if pk else None
    if payment is None:
        raise NotFound("Payment not found.", details={"payment_id": ["No payment with this id."]})
    return payment


def payments_pending_verification() -> QuerySet[Payment]:
    return (
        Payment.objects.select_related("invoice", "tenant")
        .filter(status__in=[Payment.Status.PENDING_VERIFICATION, Payment.Status.NEEDS_REVIEW])
        .order_by("updated_at")
    )


def all_invoices(*, status: str | None = None, tenant_id: Any = None) -> QuerySet[Invoice]:
    qs = Invoice.objects.select_related("plan", "tenant").prefetch_related("lines")
    if status:
        qs = qs.filter(status=status)
    if tenant_id:
        qs = qs.filter(tenant_id=tenant_id)
    return qs
