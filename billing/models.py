from __future__ import annotations

import secrets
import uuid

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class Plan(models.Model):
    class Period(models.TextChoices):
        MONTHLY = "monthly", _("Monthly")
        YEARLY = "yearly", _("Yearly")

    code = models.SlugField(max_length=40, unique=True)
    name = models.CharField(max_length=100)
    price = models.PositiveBigIntegerField(default=0, help_text="IDR per period, integer rupiah")
    period = models.CharField(max_length=10, choices=Period.choices, default=Period.MONTHLY)
    message_quota = models.PositiveIntegerField(default=0, help_text="Messages per period; 0 = unlimited")
    rate_limit_per_minute = models.PositiveIntegerField(default=60)
    send_interval_ms = models.PositiveIntegerField(
        null=True, blank=True, help_text="Default pause between a device's sends; empty = platform default"
    )
    device_limit = models.PositiveIntegerField(default=1)
    features = models.JSONField(default=dict, blank=True)
    branding_footer = models.CharField(max_length=200, blank=True, default="")
    is_public = models.BooleanField(default=True)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "m_plan"
        ordering = ["price", "code"]

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"

    @property
    def is_free(self) -> bool:
        return self.price == 0


class Subscription(models.Model):
    """The plan active for one device (seed 000)."""

    class Status(models.TextChoices):
        ACTIVE = "active", _("Active")
        PAST_DUE = "past_due", _("Past due")
        EXPIRED = "expired", _("Expired")
        CANCELLED = "cancelled", _("Cancelled")

    tenant = models.ForeignKey("tenants.Tenant", on_delete=models.CASCADE, related_name="subscriptions")
    device = models.OneToOneField("devices.Device", on_delete=models.CASCADE, related_name="subscription")
    plan = models.ForeignKey(Plan, on_delete=models.PROTECT, related_name="subscriptions")
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.ACTIVE)
    current_period_start = models.DateTimeField()
    current_period_end = models.DateTimeField(null=True, blank=True, help_text="Empty for the free plan")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "t_subscription"

    def __str__(self) -> str:
        return f"{self.device_id}: {self.plan.code} ({self.status})"


class BillingSettings(models.Model):
    """Per-tenant billing knobs a platform admin sets; empty fields fall back to the platform's."""

    class Method(models.TextChoices):
        DOKU = "doku", _("DOKU Checkout")
        QRIS_MANUAL = "qris_manual", _("QRIS (manual)")
        BANK_TRANSFER_MANUAL = "bank_transfer_manual", _("Bank transfer (manual)")

    tenant = models.OneToOneField("tenants.Tenant", on_delete=models.CASCADE, related_name="billing_settings")
    device_limit_override = models.PositiveIntegerField(
        null=True, blank=True, help_text="Devices allowed regardless of plans; empty = platform rule"
    )
    allowed_payment_methods = models.JSONField(default=list, blank=True, help_text="Empty = every method")
    invoice_due_days = models.PositiveIntegerField(null=True, blank=True)
    tax_rate_percent = models.DecimalField(max_digits=5, decimal_places=2, null=True, blank=True)
    provisioned_plan = models.ForeignKey(
        Plan,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="Set by a partner (internal API): every device runs on this plan, billed by the partner",
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "m_billing_settings"
        verbose_name_plural = "billing settings"

    def __str__(self) -> str:
        return f"Billing settings of {self.tenant_id}"


class InvoiceSequence(models.Model):
    """One counter per month for human invoice numbers (INV-YYYYMM-NNNNNN), taken under a row lock."""

    period = models.CharField(max_length=6, primary_key=True)
    last_number = models.PositiveIntegerField(default=0)

    class Meta:
        db_table = "t_billing_invoice_sequence"

    def __str__(self) -> str:
        return f"{self.period}: {self.last_number}"


class Invoice(models.Model):
    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        PENDING_VERIFICATION = "pending_verification", _("Pending verification")
        PAID = "paid", _("Paid")
        VOID = "void", _("Void")
        EXPIRED = "expired", _("Expired")

    class Kind(models.TextChoices):
        SUBSCRIPTION = "subscription", _("New subscription / plan change")
        RENEWAL = "renewal", _("Renewal")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    number = models.CharField(max_length=32, unique=True)
    tenant = models.ForeignKey("tenants.Tenant", on_delete=models.CASCADE, related_name="invoices")
    subscription = models.ForeignKey(
        Subscription, on_delete=models.SET_NULL, null=True, blank=True, related_name="invoices"
    )
    device_id = models.UUIDField(null=True, blank=True, db_index=True)
    plan = models.ForeignKey(Plan, on_delete=models.PROTECT, related_name="invoices")
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.SUBSCRIPTION)
    status = models.CharField(max_length=24, choices=Status.choices, default=Status.OPEN, db_index=True)
    currency = models.CharField(max_length=3, default="IDR")
    subtotal = models.PositiveBigIntegerField()
    tax_rate_percent = models.DecimalField(max_digits=5, decimal_places=2)
    tax = models.PositiveBigIntegerField()
    total = models.PositiveBigIntegerField()
    due_at = models.DateTimeField()
    period_start = models.DateTimeField(null=True, blank=True, help_text="Renewals: the period paid for")
    paid_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "t_billing_invoice"
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.number} ({self.status})"


class InvoiceLine(models.Model):
    invoice = models.ForeignKey(Invoice, on_delete=models.CASCADE, related_name="lines")
    description = models.CharField(max_length=300)
    quantity = models.PositiveIntegerField(default=1)
    unit_price = models.PositiveBigIntegerField()
    amount = models.PositiveBigIntegerField()

    class Meta:
        db_table = "t_billing_invoice_line"
        ordering = ["id"]

    def __str__(self) -> str:
        return self.description


def proof_upload_to(instance: Payment, filename: str) -> str:
    # Never the client's name: a random one that cannot be guessed from the payment id.
    extension = filename.rsplit(".", 1)[-1].lower() if "." in filename else "bin"
    return f"billing-proofs/{secrets.token_hex(16)}.{extension[:5]}"


class Payment(models.Model):
    Method = BillingSettings.Method

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending (checkout opened)")
        AWAITING_PROOF = "awaiting_proof", _("Awaiting proof")
        PENDING_VERIFICATION = "pending_verification", _("Pending verification")
        PAID = "paid", _("Paid")
        FAILED = "failed", _("Failed")
        REJECTED = "rejected", _("Rejected")
        NEEDS_REVIEW = "needs_review", _("Needs review (amount mismatch)")
        CANCELLED = "cancelled", _("Cancelled")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    invoice = models.ForeignKey(Invoice, on_delete=models.CASCADE, related_name="payments")
    tenant = models.ForeignKey("tenants.Tenant", on_delete=models.CASCADE, related_name="payments")
    method = models.CharField(max_length=24, choices=Method.choices)
    status = models.CharField(max_length=24, choices=Status.choices, db_index=True)
    amount = models.PositiveBigIntegerField(help_text="What the invoice asked when the payment started")
    external_reference = models.CharField(max_length=64, unique=True)
    checkout_url = models.URLField(max_length=1000, blank=True, default="")
    gateway_request_id = models.CharField(max_length=128, blank=True, default="")
    gateway_payload = models.JSONField(default=dict, blank=True, help_text="Last notification from DOKU")
    notified_amount = models.PositiveBigIntegerField(null=True, blank=True)
    proof = models.FileField(upload_to=proof_upload_to, max_length=200, blank=True, default="")
    proof_content_type = models.CharField(max_length=100, blank=True, default="")
    proof_size = models.PositiveIntegerField(null=True, blank=True)
    paid_amount = models.PositiveBigIntegerField(null=True, blank=True)
    paid_at = models.DateTimeField(null=True, blank=True)
    payer_name = models.CharField(max_length=200, blank=True, default="")
    note = models.TextField(blank=True, default="")
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reviewed_at = models.DateTimeField(null=True, blank=True)
    rejection_reason = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "t_billing_payment"
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.external_reference} ({self.method}, {self.status})"


class BillingEvent(models.Model):
    """The audit trail: every billing state change, who made it and when."""

    tenant = models.ForeignKey(
        "tenants.Tenant", null=True, blank=True, on_delete=models.CASCADE, related_name="billing_events"
    )
    plan = models.ForeignKey(Plan, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    invoice = models.ForeignKey(Invoice, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    payment = models.ForeignKey(Payment, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    subscription = models.ForeignKey(
        Subscription, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    action = models.CharField(max_length=60)
    from_status = models.CharField(max_length=24, blank=True, default="")
    to_status = models.CharField(max_length=24, blank=True, default="")
    actor = models.CharField(
        max_length=200, help_text="user:<email>, admin:<email>, doku, system, partner:<src>"
    )
    detail = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "t_billing_event"
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.action} by {self.actor}"
