"""Writes for billing. Every state change runs in one transaction, takes a row lock on what it
changes, and leaves a ``BillingEvent`` (who, when, from → to); the tenant is told through a catalog
event (webhooks/WebSocket) and an email to its owners and admins after commit."""

from __future__ import annotations

import calendar
import logging
import secrets
import uuid
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from zoneinfo import ZoneInfo

import filetype
from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.core.mail import send_mail
from django.db import transaction
from django.utils import timezone

from tenants.models import Membership, Tenant
from wavora.api.errors import DeviceNotFound, NotFound, UpstreamError, ValidationFailed, WavoraError
from webhooks.events import event_emit

from . import doku, qris
from .models import (
    BillingEvent,
    BillingSettings,
    Invoice,
    InvoiceLine,
    InvoiceSequence,
    Payment,
    Plan,
    Subscription,
)
from .plans import FREE_PLAN_CODE, FREE_PLAN_DEFAULTS
from .selectors import (
    allowed_methods,
    billing_settings_of,
    effective_due_days,
    effective_tax_rate,
    grace_period,
)

logger = logging.getLogger(__name__)

WIB = ZoneInfo("Asia/Jakarta")
PROOF_TYPES = {"image/jpeg", "image/png", "image/webp", "application/pdf"}
SYSTEM = "system"


class InvoiceNotPayable(WavoraError):
    status_code = 409
    code = "INVOICE_NOT_PAYABLE"
    default_detail = "This invoice cannot be paid now."


class PaymentStateConflict(WavoraError):
    status_code = 409
    code = "PAYMENT_STATE_CONFLICT"
    default_detail = "The payment is not in a state that allows this."


class PaymentMethodUnavailable(WavoraError):
    status_code = 409
    code = "PAYMENT_METHOD_UNAVAILABLE"
    default_detail = "This payment method is not available."


def actor_of(user: Any, *, admin: bool = False) -> str:
    """``user:alice@example.com`` / ``admin:ops@example.com`` for the audit trail."""
    email = getattr(user, "email", "") or getattr(user, "username", "") or getattr(user, "pk", "")
    return (
        f"{'admin' if admin else 'user'}:{email}" if email else ("admin:api-key" if admin else "user:api-key")
    )


def _audit(
    action: str,
    *,
    actor: str,
    tenant_id: Any = None,
    invoice: Invoice | None = None,
    payment: Payment | None = None,
    subscription: Subscription | None = None,
    plan: Plan | None = None,
    from_status: str = "",
    to_status: str = "",
    **detail: Any,
) -> None:
    BillingEvent.objects.create(
        tenant_id=tenant_id,
        invoice=invoice,
        payment=payment,
        subscription=subscription,
        plan=plan,
        action=action,
        from_status=from_status,
        to_status=to_status,
        actor=actor[:200],
        detail=detail,
    )


def rupiah(amount: int) -> str:
    """150000 → "Rp 150.000" (integer rupiah, Indonesian grouping)."""
    sign = "-" if amount < 0 else ""
    return f"{sign}Rp " + f"{abs(amount):,}".replace(",", ".")


def _tell_tenant(
    *, tenant_id: Any, event: str, data: dict[str, Any], subject: str, body: str, device_id: Any = None
) -> None:
    """A catalog event now (in this transaction) and an email to owners/admins after commit."""
    event_emit(tenant_id=tenant_id, type=event, data=data, device_id=device_id)
    transaction.on_commit(lambda: notify_billing_contacts(tenant_id=tenant_id, subject=subject, body=body))


def notify_billing_contacts(*, tenant_id: Any, subject: str, body: str) -> None:
    emails = list(
        Membership.objects.filter(tenant_id=tenant_id, role__in=["owner", "admin"])
        .exclude(user__email="")
        .values_list("user__email", flat=True)
    )
    if emails:
        send_mail(
            subject=f"[Wavora] {subject}",
            message=body,
            from_email=None,
            recipient_list=emails,
            fail_silently=True,
        )


# --- plans and settings ----------------------------------------------------------------------------
def free_plan() -> Plan:
    plan, _ = Plan.objects.get_or_create(code=FREE_PLAN_CODE, defaults=FREE_PLAN_DEFAULTS)
    return plan


PLAN_FIELDS = (
    "code",
    "name",
    "price",
    "period",
    "message_quota",
    "rate_limit_per_minute",
    "send_interval_ms",
    "device_limit",
    "features",
    "branding_footer",
    "is_public",
    "is_active",
)


@transaction.atomic
def plan_create(*, actor: str, **fields: Any) -> Plan:
    if Plan.objects.filter(code=fields.get("code")).exists():
        raise ValidationFailed("code: a plan with this code exists.", details={"code": ["Already exists."]})
    plan = Plan.objects.create(**{k: v for k, v in fields.items() if k in PLAN_FIELDS})
    _audit("plan.created", actor=actor, plan=plan, **{k: v for k, v in fields.items() if k != "features"})
    return plan


@transaction.atomic
def plan_update(*, plan: Plan, actor: str, **fields: Any) -> Plan:
    locked = Plan.objects.select_for_update().get(pk=plan.pk)
    changed = {
        k: v for k, v in fields.items() if k in PLAN_FIELDS and k != "code" and getattr(locked, k) != v
    }
    if locked.code == FREE_PLAN_CODE and changed.get("price"):
        raise ValidationFailed("price: the free plan stays free.", details={"price": ["Must be 0."]})
    for key, value in changed.items():
        setattr(locked, key, value)
    if changed:
        locked.save()
        _audit("plan.updated", actor=actor, plan=locked, changed=sorted(changed))
    return locked


@transaction.atomic
def billing_settings_update(*, tenant: Tenant, actor: str, **fields: Any) -> BillingSettings:
    row, _ = BillingSettings.objects.select_for_update().get_or_create(tenant=tenant)
    methods = fields.get("allowed_payment_methods")
    if methods is not None:
        unknown = [m for m in methods if m not in BillingSettings.Method.values]
        if unknown:
            raise ValidationFailed(
                f"allowed_payment_methods: unknown method {unknown[0]!r}",
                details={"allowed_payment_methods": [f"One of: {', '.join(BillingSettings.Method.values)}."]},
            )
        fields["allowed_payment_methods"] = list(dict.fromkeys(methods))
    before = {k: str(getattr(row, k)) for k in fields}
    for key in ("device_limit_override", "allowed_payment_methods", "invoice_due_days", "tax_rate_percent"):
        if key in fields:
            setattr(row, key, fields[key])
    row.save()
    _audit(
        "settings.updated",
        actor=actor,
        tenant_id=tenant.pk,
        before=before,
        after={k: str(getattr(row, k)) for k in fields},
    )
    return row


@transaction.atomic
def subscription_start_free(*, tenant: Tenant, device_id: uuid.UUID) -> Subscription:
    """Every new device starts on the free plan (with its branding footer), or on the plan a partner
    provisioned for the tenant."""
    provisioned = billing_settings_of(tenant=tenant).provisioned_plan
    plan = provisioned or free_plan()
    subscription, _ = Subscription.objects.get_or_create(
        device_id=device_id,
        defaults={"tenant": tenant, "plan": plan, "current_period_start": timezone.now()},
    )
    return subscription


# --- invoices ----------------------------------------------------------------------------------------
def add_period(start: datetime, period: str) -> datetime:
    """One plan period later; the 31st + one month is the month's last day."""
    months = 12 if period == Plan.Period.YEARLY else 1
    month_index = start.month - 1 + months
    year, month = start.year + month_index // 12, month_index % 12 + 1
    day = min(start.day, calendar.monthrange(year, month)[1])
    return start.replace(year=year, month=month, day=day)


def tax_for(subtotal: int, rate_percent: Decimal) -> int:
    return int((Decimal(subtotal) * rate_percent / 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def _next_invoice_number(now: datetime) -> str:
    period = now.astimezone(WIB).strftime("%Y%m")
    InvoiceSequence.objects.get_or_create(period=period)
    sequence = InvoiceSequence.objects.select_for_update().get(period=period)
    sequence.last_number += 1
    sequence.save(update_fields=["last_number"])
    return f"INV-{period}-{sequence.last_number:06d}"


def _issue_invoice(
    *,
    subscription: Subscription,
    plan: Plan,
    kind: str,
    actor: str,
    period_start: datetime | None = None,
    due_at: datetime | None = None,
) -> Invoice:
    now = timezone.now()
    settings_row = billing_settings_of(tenant=subscription.tenant)
    rate = effective_tax_rate(settings_row)
    subtotal = plan.price
    tax = tax_for(subtotal, rate)
    device_name = getattr(subscription.device, "name", "") or str(subscription.device_id)
    invoice = Invoice.objects.create(
        number=_next_invoice_number(now),
        tenant=subscription.tenant,
        subscription=subscription,
        device_id=subscription.device_id,
        plan=plan,
        kind=kind,
        subtotal=subtotal,
        tax_rate_percent=rate,
        tax=tax,
        total=subtotal + tax,
        due_at=due_at or now + timedelta(days=effective_due_days(settings_row)),
        period_start=period_start,
    )
    InvoiceLine.objects.create(
        invoice=invoice,
        description=f"{plan.name} plan, {plan.get_period_display().lower()} — device {device_name}",
        quantity=1,
        unit_price=plan.price,
        amount=plan.price,
    )
    _audit(
        "invoice.created",
        actor=actor,
        tenant_id=invoice.tenant_id,
        invoice=invoice,
        subscription=subscription,
        to_status=invoice.status,
        kind=kind,
        total=invoice.total,
    )
    _tell_tenant(
        tenant_id=invoice.tenant_id,
        device_id=invoice.device_id,
        event="invoice.created",
        data=invoice_event_data(invoice),
        subject=f"Invoice {invoice.number}: {rupiah(invoice.total)}",
        body=(
            f"Invoice {invoice.number} for the {plan.name} plan on device {device_name} is open: "
            f"{rupiah(invoice.total)} (incl. tax {rupiah(invoice.tax)}), due "
            f"{invoice.due_at.astimezone(WIB):%d-%m-%Y %H:%M} WIB.\n\n"
            f"Pay it in the dashboard (Billing) or with POST /api/v1/billing/invoices/{invoice.pk}/pay/doku."
        ),
    )
    return invoice


def invoice_event_data(invoice: Invoice) -> dict[str, Any]:
    return {
        "invoice_id": str(invoice.pk),
        "number": invoice.number,
        "status": invoice.status,
        "kind": invoice.kind,
        "plan_code": invoice.plan.code,
        "total": invoice.total,
        "currency": invoice.currency,
        "due_at": invoice.due_at.isoformat(),
    }


def _void_open_invoices(subscription: Subscription, *, actor: str, reason: str) -> None:
    for invoice in Invoice.objects.select_for_update().filter(
        subscription=subscription, status=Invoice.Status.OPEN
    ):
        invoice.status = Invoice.Status.VOID
        invoice.save(update_fields=["status", "updated_at"])
        _cancel_open_payments(invoice, actor=actor)
        _audit(
            "invoice.voided",
            actor=actor,
            tenant_id=invoice.tenant_id,
            invoice=invoice,
            from_status=Invoice.Status.OPEN,
            to_status=Invoice.Status.VOID,
            reason=reason,
        )


def _cancel_open_payments(invoice: Invoice, *, actor: str) -> None:
    for payment in Payment.objects.select_for_update().filter(
        invoice=invoice, status__in=[Payment.Status.PENDING, Payment.Status.AWAITING_PROOF]
    ):
        _payment_set(payment, Payment.Status.CANCELLED, actor=actor)


@transaction.atomic
def subscription_change_plan(
    *, tenant: Tenant, device_id: Any, plan_code: str, actor: str
) -> tuple[Subscription, Invoice | None]:
    """A paid plan → an open invoice (the plan starts when it is paid); the free plan → now, no invoice."""
    try:
        device_pk = uuid.UUID(str(device_id))
    except ValueError:
        device_pk = None
    subscription = (
        Subscription.objects.select_for_update(of=("self",))
        .select_related("tenant", "device", "plan")
        .filter(tenant=tenant, device_id=device_pk, device__deleted_at__isnull=True)
        .first()
        if device_pk
        else None
    )
    if subscription is None:
        raise DeviceNotFound("Device not found.", details={"device_id": ["No device with this id."]})
    plan = Plan.objects.filter(code=plan_code, is_active=True, is_public=True).first()
    if plan is None:
        raise ValidationFailed(
            f"plan_code: no plan {plan_code!r} is available.", details={"plan_code": ["Unknown plan."]}
        )
    if Invoice.objects.filter(subscription=subscription, status=Invoice.Status.PENDING_VERIFICATION).exists():
        raise PaymentStateConflict(
            "A payment for this device is waiting for verification; change the plan after it is decided."
        )
    _void_open_invoices(subscription, actor=actor, reason=f"plan change to {plan.code}")
    if plan.is_free:
        previous = subscription.plan
        subscription.plan = plan
        subscription.status = Subscription.Status.ACTIVE
        subscription.current_period_start = timezone.now()
        subscription.current_period_end = None
        subscription.save()
        _audit(
            "subscription.plan_changed",
            actor=actor,
            tenant_id=tenant.pk,
            subscription=subscription,
            plan=plan,
            from_plan=previous.code,
            to_plan=plan.code,
        )
        event_emit(
            tenant_id=tenant.pk,
            device_id=subscription.device_id,
            type="subscription.updated",
            data=subscription_event_data(subscription),
        )
        return subscription, None
    invoice = _issue_invoice(
        subscription=subscription, plan=plan, kind=Invoice.Kind.SUBSCRIPTION, actor=actor
    )
    return subscription, invoice


def subscription_event_data(subscription: Subscription) -> dict[str, Any]:
    return {
        "device_id": str(subscription.device_id),
        "plan_code": subscription.plan.code,
        "status": subscription.status,
        "current_period_start": subscription.current_period_start.isoformat(),
        "current_period_end": (
            subscription.current_period_end.isoformat() if subscription.current_period_end else None
        ),
    }


def _settle_invoice(invoice: Invoice, *, actor: str, payment: Payment) -> None:
    """Paid: the invoice closes and the device's subscription runs on the invoiced plan."""
    now = timezone.now()
    previous = invoice.status
    invoice.status = Invoice.Status.PAID
    invoice.paid_at = now
    invoice.save(update_fields=["status", "paid_at", "updated_at"])
    _audit(
        "invoice.paid",
        actor=actor,
        tenant_id=invoice.tenant_id,
        invoice=invoice,
        payment=payment,
        from_status=previous,
        to_status=invoice.status,
    )
    subscription = (
        Subscription.objects.select_for_update()
        .select_related("plan")
        .filter(pk=invoice.subscription_id or 0)
        .first()
    )
    if subscription is not None:
        same_plan = subscription.plan_id == invoice.plan_id and subscription.current_period_end is not None
        if same_plan and subscription.status in (Subscription.Status.ACTIVE, Subscription.Status.PAST_DUE):
            assert subscription.current_period_end is not None
            # A renewal continues the period (also when paid during the grace period).
            start = subscription.current_period_end
            if start + grace_period() < now:
                start = now
        else:
            start = now
        subscription.plan = invoice.plan
        subscription.status = Subscription.Status.ACTIVE
        subscription.current_period_start = start
        subscription.current_period_end = add_period(start, invoice.plan.period)
        subscription.save()
        _audit(
            "subscription.extended",
            actor=actor,
            tenant_id=invoice.tenant_id,
            invoice=invoice,
            subscription=subscription,
            plan=invoice.plan,
            to_status=subscription.status,
            period_end=subscription.current_period_end.isoformat(),
        )
    _tell_tenant(
        tenant_id=invoice.tenant_id,
        device_id=invoice.device_id,
        event="invoice.paid",
        data={**invoice_event_data(invoice), "payment_id": str(payment.pk), "method": payment.method},
        subject=f"Invoice {invoice.number} paid",
        body=f"Thank you: invoice {invoice.number} ({rupiah(invoice.total)}) is paid. "
        f"The {invoice.plan.name} plan is active.",
    )


# --- payments ----------------------------------------------------------------------------------------
def _payment_set(payment: Payment, status: str, *, actor: str, **detail: Any) -> None:
    previous = payment.status
    payment.status = status
    payment.save()
    _audit(
        f"payment.{status}",
        actor=actor,
        tenant_id=payment.tenant_id,
        invoice=payment.invoice,
        payment=payment,
        from_status=previous,
        to_status=status,
        **detail,
    )


def _lock_payable_invoice(invoice: Invoice, method: str) -> Invoice:
    locked = Invoice.objects.select_for_update().select_related("tenant", "plan").get(pk=invoice.pk)
    if locked.status != Invoice.Status.OPEN:
        raise InvoiceNotPayable(
            f"Invoice {locked.number} is {locked.status.replace('_', ' ')} and cannot be paid.",
            details={"status": locked.status},
        )
    if locked.due_at <= timezone.now():
        raise InvoiceNotPayable(
            f"Invoice {locked.number} is past its due date.", details={"status": "overdue"}
        )
    if method not in allowed_methods(billing_settings_of(tenant=locked.tenant)):
        raise PaymentMethodUnavailable(
            f"{method} is not enabled for this account.", details={"method": [method]}
        )
    return locked


def _new_payment(invoice: Invoice, *, method: str, status: str, actor: str) -> Payment:
    payment = Payment.objects.create(
        invoice=invoice,
        tenant_id=invoice.tenant_id,
        method=method,
        status=status,
        amount=invoice.total,
        external_reference=f"{invoice.number}-{secrets.token_hex(4).upper()}",
    )
    _audit(
        "payment.created",
        actor=actor,
        tenant_id=invoice.tenant_id,
        invoice=invoice,
        payment=payment,
        to_status=status,
        method=method,
        amount=payment.amount,
    )
    return payment


@transaction.atomic
def _payment_doku_create(*, invoice: Invoice, actor: str) -> Payment:
    locked = _lock_payable_invoice(invoice, Payment.Method.DOKU)
    return _new_payment(locked, method=Payment.Method.DOKU, status=Payment.Status.PENDING, actor=actor)


def doku_notification_path() -> str:
    return "/webhook/payment/doku"


def payment_start_doku(*, invoice: Invoice, actor: str) -> Payment:
    """Opens a DOKU Checkout for the invoice total and returns the payment with its ``checkout_url``.

    The payment row commits first (its reference is DOKU's ``invoice_number``), then DOKU is called
    outside any transaction; in dev mode without credentials the URL is Wavora's sandbox page."""
    payment = _payment_doku_create(invoice=invoice, actor=actor)
    if settings.DOKU_DEV_SANDBOX:
        url = f"{settings.PUBLIC_BASE_URL}/billing/sandbox/doku/{payment.external_reference}"
        Payment.objects.filter(pk=payment.pk).update(checkout_url=url)
        payment.checkout_url = url
        return payment
    client = doku.DokuClient(
        base_url=settings.DOKU_BASE_URL,
        client_id=settings.DOKU_CLIENT_ID,
        secret_key=settings.DOKU_SECRET_KEY,
        timeout=settings.DOKU_TIMEOUT_SECONDS,
    )
    body = doku.checkout_body(
        invoice_number=payment.external_reference,
        amount=payment.amount,
        due_minutes=settings.DOKU_PAYMENT_DUE_MINUTES,
        callback_url=f"{settings.PUBLIC_BASE_URL}/dashboard/billing/",
        line_items=[
            {"name": line.description[:255], "price": line.unit_price, "quantity": line.quantity}
            for line in invoice.lines.all()
        ]
        if not invoice.tax
        else None,
    )
    try:
        session = client.create_checkout(body)
    except doku.DokuError as exc:
        with transaction.atomic():
            locked = Payment.objects.select_for_update().get(pk=payment.pk)
            _payment_set(locked, Payment.Status.FAILED, actor="doku", error=str(exc)[:300])
        raise UpstreamError("The payment gateway could not open a checkout. Please try again.") from exc
    Payment.objects.filter(pk=payment.pk).update(
        checkout_url=session.url, gateway_request_id=session.request_id
    )
    payment.checkout_url, payment.gateway_request_id = session.url, session.request_id
    return payment


@transaction.atomic
def payment_start_manual(*, invoice: Invoice, method: str, actor: str) -> Payment:
    """QRIS or bank transfer: a payment awaiting the tenant's proof (reused if one is already waiting)."""
    assert method in (Payment.Method.QRIS_MANUAL, Payment.Method.BANK_TRANSFER_MANUAL)
    locked = _lock_payable_invoice(invoice, method)
    existing = Payment.objects.filter(
        invoice=locked, method=method, status=Payment.Status.AWAITING_PROOF, amount=locked.total
    ).first()
    return existing or _new_payment(locked, method=method, status=Payment.Status.AWAITING_PROOF, actor=actor)


def qris_for(payment: Payment) -> str:
    return qris.dynamic_from_static(settings.QRIS_STATIC_PAYLOAD, amount=payment.amount)


class ProofTooLarge(WavoraError):
    status_code = 413
    code = "PAYLOAD_TOO_LARGE"
    default_detail = "The proof file is too large."


class ProofTypeRefused(WavoraError):
    status_code = 415
    code = "UNSUPPORTED_MEDIA_TYPE"
    default_detail = "The proof must be an image (JPEG, PNG, WebP) or a PDF."


def check_proof_file(upload: UploadedFile) -> str:
    """The content type sniffed from the bytes; 413 above the limit, 415 for anything else."""
    if upload.size is not None and upload.size > settings.BILLING_PROOF_MAX_BYTES:
        raise ProofTooLarge(
            f"proof: the file is {upload.size} bytes; the limit is {settings.BILLING_PROOF_MAX_BYTES}.",
            details={"proof": [f"At most {settings.BILLING_PROOF_MAX_BYTES} bytes."]},
        )
    upload.seek(0)
    head = upload.read(8192)
    upload.seek(0)
    if not head:
        raise ValidationFailed("proof: the file is empty.", details={"proof": ["The file is empty."]})
    kind = filetype.guess(head)
    if kind is None or kind.mime not in PROOF_TYPES:
        raise ProofTypeRefused(
            "proof: the file must be a JPEG, PNG or WebP image or a PDF.",
            details={"proof": [f"Detected {kind.mime if kind else 'unknown'}."]},
        )
    return str(kind.mime)


@transaction.atomic
def payment_submit_proof(
    *,
    payment: Payment,
    proof: UploadedFile,
    paid_amount: int,
    paid_at: datetime,
    payer_name: str = "",
    note: str = "",
    actor: str,
) -> Payment:
    content_type = check_proof_file(proof)
    locked = Payment.objects.select_for_update().select_related("invoice").get(pk=payment.pk)
    if locked.method == Payment.Method.DOKU:
        raise PaymentStateConflict("DOKU payments are confirmed by DOKU; no proof is needed.")
    if locked.status != Payment.Status.AWAITING_PROOF:
        raise PaymentStateConflict(
            f"This payment is {locked.status.replace('_', ' ')}; proof can only be sent while it awaits one.",
            details={"status": locked.status},
        )
    invoice = Invoice.objects.select_for_update().get(pk=locked.invoice_id)
    if invoice.status != Invoice.Status.OPEN:
        raise InvoiceNotPayable(
            f"Invoice {invoice.number} is {invoice.status}.", details={"status": invoice.status}
        )
    locked.proof.save(f"proof.{content_type.rsplit('/', 1)[-1]}", proof, save=False)
    locked.proof_content_type = content_type
    locked.proof_size = proof.size
    locked.paid_amount = paid_amount
    locked.paid_at = paid_at
    locked.payer_name = payer_name.strip()[:200]
    locked.note = note.strip()[:2000]
    _payment_set(locked, Payment.Status.PENDING_VERIFICATION, actor=actor, paid_amount=paid_amount)
    previous = invoice.status
    invoice.status = Invoice.Status.PENDING_VERIFICATION
    invoice.save(update_fields=["status", "updated_at"])
    _audit(
        "invoice.pending_verification",
        actor=actor,
        tenant_id=invoice.tenant_id,
        invoice=invoice,
        payment=locked,
        from_status=previous,
        to_status=invoice.status,
    )
    return locked


def _lock_for_review(payment: Payment) -> tuple[Payment, Invoice]:
    locked = Payment.objects.select_for_update().get(pk=payment.pk)
    invoice = Invoice.objects.select_for_update().select_related("plan").get(pk=locked.invoice_id)
    locked.invoice = invoice
    if locked.status not in (Payment.Status.PENDING_VERIFICATION, Payment.Status.NEEDS_REVIEW):
        raise PaymentStateConflict(
            f"This payment is {locked.status.replace('_', ' ')}, not awaiting verification.",
            details={"status": locked.status},
        )
    return locked, invoice


@transaction.atomic
def payment_approve(*, payment: Payment, reviewer: Any) -> Payment:
    """A platform admin accepts the proof: payment and invoice paid, subscription extended."""
    locked, invoice = _lock_for_review(payment)
    if invoice.status not in (
        Invoice.Status.OPEN,
        Invoice.Status.PENDING_VERIFICATION,
        Invoice.Status.EXPIRED,
    ):
        raise PaymentStateConflict(
            f"Invoice {invoice.number} is {invoice.status}.", details={"status": invoice.status}
        )
    actor = actor_of(reviewer, admin=True)
    locked.reviewed_by = reviewer if getattr(reviewer, "pk", None) else None
    locked.reviewed_at = timezone.now()
    _payment_set(locked, Payment.Status.PAID, actor=actor)
    _settle_invoice(invoice, actor=actor, payment=locked)
    return locked


@transaction.atomic
def payment_reject(*, payment: Payment, reviewer: Any, reason: str) -> Payment:
    """A platform admin refuses the proof: the invoice is open again and the tenant is told why."""
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed("reason: say why the payment is rejected.", details={"reason": ["Required."]})
    locked, invoice = _lock_for_review(payment)
    actor = actor_of(reviewer, admin=True)
    locked.reviewed_by = reviewer if getattr(reviewer, "pk", None) else None
    locked.reviewed_at = timezone.now()
    locked.rejection_reason = reason[:2000]
    _payment_set(locked, Payment.Status.REJECTED, actor=actor, reason=reason[:500])
    if invoice.status == Invoice.Status.PENDING_VERIFICATION:
        invoice.status = Invoice.Status.OPEN
        invoice.save(update_fields=["status", "updated_at"])
        _audit(
            "invoice.reopened",
            actor=actor,
            tenant_id=invoice.tenant_id,
            invoice=invoice,
            payment=locked,
            from_status=Invoice.Status.PENDING_VERIFICATION,
            to_status=Invoice.Status.OPEN,
        )
    _tell_tenant(
        tenant_id=invoice.tenant_id,
        device_id=invoice.device_id,
        event="payment.rejected",
        data={**invoice_event_data(invoice), "payment_id": str(locked.pk), "reason": reason[:500]},
        subject=f"Payment for {invoice.number} was not accepted",
        body=f"Your payment proof for invoice {invoice.number} ({rupiah(invoice.total)}) was rejected: "
        f"{reason}\n\nThe invoice is open again; please pay it or send a new proof.",
    )
    return locked


# --- DOKU notification ---------------------------------------------------------------------------------
class DokuResult:
    def __init__(self, status: int, message: str) -> None:
        self.status, self.message = status, message


def doku_notification_handle(*, raw_body: bytes, headers: dict[str, str]) -> DokuResult:
    """DOKU's HTTP notification: signature first, then one locked transaction, idempotent by reference."""
    if not doku.verify(
        secret_key=settings.DOKU_SECRET_KEY, headers=headers, target=doku_notification_path(), body=raw_body
    ):
        logger.warning("DOKU notification with a bad signature refused")
        return DokuResult(401, "Invalid signature.")
    try:
        notification = doku.parse_notification(raw_body)
    except doku.DokuError:
        return DokuResult(400, "Not a DOKU payment notification.")
    return _doku_apply(notification, raw_body=raw_body)


@transaction.atomic
def _doku_apply(notification: doku.Notification, *, raw_body: bytes) -> DokuResult:
    payment = (
        Payment.objects.select_for_update()
        .filter(external_reference=notification.invoice_number, method=Payment.Method.DOKU)
        .first()
    )
    if payment is None:
        return DokuResult(404, "Unknown invoice.")
    invoice = Invoice.objects.select_for_update().select_related("plan").get(pk=payment.invoice_id)
    payment.invoice = invoice
    payload = {
        "status": notification.status,
        "amount": notification.amount,
        "channel": notification.channel,
        "date": notification.transaction_date,
    }
    if payment.status in (Payment.Status.PAID, Payment.Status.NEEDS_REVIEW, Payment.Status.REJECTED):
        return DokuResult(200, "Already processed.")
    payment.gateway_payload = payload
    payment.notified_amount = notification.amount
    if notification.status == "SUCCESS":
        if notification.amount != payment.amount or notification.amount != invoice.total:
            _payment_set(
                payment,
                Payment.Status.NEEDS_REVIEW,
                actor="doku",
                notification=payload,
                reason="notified amount differs from the invoice",
            )
            _tell_tenant(
                tenant_id=invoice.tenant_id,
                device_id=invoice.device_id,
                event="payment.needs_review",
                data={
                    **invoice_event_data(invoice),
                    "payment_id": str(payment.pk),
                    "notified_amount": notification.amount,
                },
                subject=f"Payment for {invoice.number} is being reviewed",
                body=f"DOKU reported {rupiah(notification.amount)} for invoice {invoice.number}, which asks "
                f"{rupiah(invoice.total)}. Our team reviews the payment and will contact you.",
            )
            return DokuResult(200, "Amount mismatch: flagged for review.")
        if invoice.status not in (
            Invoice.Status.OPEN,
            Invoice.Status.EXPIRED,
            Invoice.Status.PENDING_VERIFICATION,
        ):
            _payment_set(
                payment,
                Payment.Status.NEEDS_REVIEW,
                actor="doku",
                notification=payload,
                reason=f"invoice is {invoice.status}",
            )
            return DokuResult(200, "Invoice not payable: flagged for review.")
        payment.paid_amount = notification.amount
        payment.paid_at = timezone.now()
        _payment_set(payment, Payment.Status.PAID, actor="doku", notification=payload)
        _settle_invoice(invoice, actor="doku", payment=payment)
        return DokuResult(200, "Paid.")
    if notification.status in ("FAILED", "EXPIRED"):
        if payment.status != Payment.Status.FAILED:
            _payment_set(payment, Payment.Status.FAILED, actor="doku", notification=payload)
            _tell_tenant(
                tenant_id=invoice.tenant_id,
                device_id=invoice.device_id,
                event="payment.failed",
                data={
                    **invoice_event_data(invoice),
                    "payment_id": str(payment.pk),
                    "gateway_status": notification.status,
                },
                subject=f"Payment for {invoice.number} failed",
                body=f"The DOKU payment for invoice {invoice.number} failed ({notification.status}). "
                "The invoice is still open; you can try again.",
            )
        return DokuResult(200, "Recorded.")
    payment.save(update_fields=["gateway_payload", "notified_amount", "updated_at"])
    return DokuResult(200, "Recorded.")


# --- the billing cycle (Celery beat) --------------------------------------------------------------------
def renewals_issue(*, now: datetime | None = None) -> int:
    """Renewal invoices for paid subscriptions whose period ends within BILLING_RENEWAL_LEAD_DAYS."""
    now = now or timezone.now()
    horizon = now + timedelta(days=settings.BILLING_RENEWAL_LEAD_DAYS)
    due = Subscription.objects.filter(
        status=Subscription.Status.ACTIVE,
        plan__price__gt=0,
        current_period_end__lte=horizon,
        current_period_end__gt=now - grace_period(),
        device__deleted_at__isnull=True,
    ).values_list("pk", flat=True)
    issued = 0
    for pk in due:
        with transaction.atomic():
            subscription = (
                Subscription.objects.select_for_update(of=("self",))
                .select_related("plan", "tenant", "device")
                .filter(pk=pk, status=Subscription.Status.ACTIVE)
                .first()
            )
            if subscription is None or subscription.current_period_end is None:
                continue
            already = (
                Invoice.objects.filter(
                    subscription=subscription,
                    kind=Invoice.Kind.RENEWAL,
                    period_start=subscription.current_period_end,
                )
                .exclude(status=Invoice.Status.VOID)
                .exists()
            )
            if already or subscription.plan.is_free or not subscription.plan.is_active:
                continue
            _issue_invoice(
                subscription=subscription,
                plan=subscription.plan,
                kind=Invoice.Kind.RENEWAL,
                actor=SYSTEM,
                period_start=subscription.current_period_end,
                due_at=max(subscription.current_period_end, now + timedelta(days=1)),
            )
            issued += 1
    return issued


def invoices_expire(*, now: datetime | None = None) -> int:
    """Open invoices past their due date expire (a proof waiting for an admin keeps its invoice)."""
    now = now or timezone.now()
    expired = 0
    for pk in Invoice.objects.filter(status=Invoice.Status.OPEN, due_at__lte=now).values_list(
        "pk", flat=True
    ):
        with transaction.atomic():
            invoice = (
                Invoice.objects.select_for_update()
                .select_related("plan")
                .filter(pk=pk, status=Invoice.Status.OPEN)
                .first()
            )
            if invoice is None:
                continue
            invoice.status = Invoice.Status.EXPIRED
            invoice.save(update_fields=["status", "updated_at"])
            _cancel_open_payments(invoice, actor=SYSTEM)
            _audit(
                "invoice.expired",
                actor=SYSTEM,
                tenant_id=invoice.tenant_id,
                invoice=invoice,
                from_status=Invoice.Status.OPEN,
                to_status=Invoice.Status.EXPIRED,
            )
            _tell_tenant(
                tenant_id=invoice.tenant_id,
                device_id=invoice.device_id,
                event="invoice.expired",
                data=invoice_event_data(invoice),
                subject=f"Invoice {invoice.number} expired",
                body=f"Invoice {invoice.number} ({rupiah(invoice.total)}) was not paid by its due date and "
                "has expired.",
            )
            expired += 1
    return expired


def subscriptions_lapse(*, now: datetime | None = None) -> tuple[int, int]:
    """Unpaid periods: active → past_due at the period end; back to the free plan after the grace."""
    now = now or timezone.now()
    past_due = downgraded = 0
    ended = Subscription.objects.filter(
        status=Subscription.Status.ACTIVE, plan__price__gt=0, current_period_end__lte=now
    ).values_list("pk", flat=True)
    for pk in ended:
        with transaction.atomic():
            subscription = (
                Subscription.objects.select_for_update(of=("self",))
                .select_related("plan")
                .filter(pk=pk, status=Subscription.Status.ACTIVE, current_period_end__lte=now)
                .first()
            )
            if subscription is None:
                continue
            subscription.status = Subscription.Status.PAST_DUE
            subscription.save(update_fields=["status", "updated_at"])
            _audit(
                "subscription.past_due",
                actor=SYSTEM,
                tenant_id=subscription.tenant_id,
                subscription=subscription,
                from_status="active",
                to_status="past_due",
            )
            assert subscription.current_period_end is not None
            grace_end: datetime = subscription.current_period_end + grace_period()
            _tell_tenant(
                tenant_id=subscription.tenant_id,
                device_id=subscription.device_id,
                event="subscription.past_due",
                data={**subscription_event_data(subscription), "grace_ends_at": grace_end.isoformat()},
                subject="Your plan has ended: renew to keep it",
                body=f"The {subscription.plan.name} plan period of device {subscription.device_id} "
                f"ended. Pay the renewal invoice before {grace_end.astimezone(WIB):%d-%m-%Y %H:%M} WIB, "
                "or the device returns to the free plan (smaller quota, branding footer).",
            )
            past_due += 1
    lapsed = Subscription.objects.filter(
        status=Subscription.Status.PAST_DUE, current_period_end__lte=now - grace_period()
    ).values_list("pk", flat=True)
    free = free_plan()
    for pk in lapsed:
        with transaction.atomic():
            subscription = (
                Subscription.objects.select_for_update(of=("self",))
                .select_related("plan")
                .filter(pk=pk, status=Subscription.Status.PAST_DUE)
                .first()
            )
            if subscription is None:
                continue
            previous = subscription.plan
            _void_open_invoices(subscription, actor=SYSTEM, reason="downgraded to the free plan")
            subscription.plan = free
            subscription.status = Subscription.Status.ACTIVE
            subscription.current_period_start = now
            subscription.current_period_end = None
            subscription.save()
            _audit(
                "subscription.downgraded",
                actor=SYSTEM,
                tenant_id=subscription.tenant_id,
                subscription=subscription,
                plan=free,
                from_status="past_due",
                to_status="active",
                from_plan=previous.code,
                to_plan=free.code,
            )
            _tell_tenant(
                tenant_id=subscription.tenant_id,
                device_id=subscription.device_id,
                event="subscription.downgraded",
                data={**subscription_event_data(subscription), "previous_plan_code": previous.code},
                subject="Your device is back on the free plan",
                body=f"The {previous.name} plan of device {subscription.device_id} was not renewed, so the "
                f"device is on the free plan now: {free.message_quota} messages a month and the Wavora "
                "footer on messages. Choose a plan in Billing to upgrade again.",
            )
            downgraded += 1
    return past_due, downgraded


def payment_by_reference(reference: str) -> Payment:
    payment = Payment.objects.select_related("invoice").filter(external_reference=reference).first()
    if payment is None:
        raise NotFound("Payment not found.")
    return payment


@transaction.atomic
def provisioned_plan_apply(*, tenant: Tenant, plan_code: str | None, actor: str) -> None:
    """A partner's plan (internal API): every device of the tenant runs on it with no period end and
    no Wavora invoices (the partner bills); access ends with ``Tenant.expires_at``. An empty code
    hands the devices back to the free plan."""
    plan = None
    if plan_code:
        plan = Plan.objects.filter(code=plan_code, is_active=True).first()
        if plan is None:
            raise ValidationFailed(
                f"plan: no active plan {plan_code!r}.", details={"plan": ["Unknown plan."]}
            )
    row, _ = BillingSettings.objects.select_for_update().get_or_create(tenant=tenant)
    if row.provisioned_plan_id == (plan.pk if plan else None):
        return
    row.provisioned_plan = plan
    row.save(update_fields=["provisioned_plan", "updated_at"])
    target = plan or free_plan()
    now = timezone.now()
    for subscription in Subscription.objects.select_for_update().filter(tenant=tenant):
        _void_open_invoices(subscription, actor=actor, reason="plan provisioned by a partner")
        subscription.plan = target
        subscription.status = Subscription.Status.ACTIVE
        subscription.current_period_start = now
        subscription.current_period_end = None
        subscription.save()
    _audit("settings.provisioned_plan", actor=actor, tenant_id=tenant.pk, plan=target, plan_code=target.code)


def on_tenant_provisioned(
    sender: Any, *, tenant: Tenant, plan_code: str | None, actor: str, **_: Any
) -> None:
    """Receiver of ``tenants.signals.tenant_provisioned`` (tenants cannot import billing)."""
    if plan_code is not None:
        provisioned_plan_apply(tenant=tenant, plan_code=plan_code, actor=actor)


def dev_plans_seed() -> None:
    """`make run`: the dev paid plans exist (an admin's later edits are kept)."""
    from .plans import DEV_PAID_PLANS

    free_plan()
    for code, fields in DEV_PAID_PLANS.items():
        Plan.objects.get_or_create(code=code, defaults=fields)
