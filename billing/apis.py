"""Thin billing APIs: tenant endpoints under /api/v1/billing/, platform-admin ones under /admin/."""

from __future__ import annotations

import base64
import io
import json
from typing import Any

import qrcode
from django.conf import settings
from django.http import FileResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.parsers import MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response

from tenants.models import Tenant
from tenants.permissions import IsPlatformAdmin, principal_of
from tenants.principal import Principal
from wavora.api.envelope import success
from wavora.api.errors import NotFound
from wavora.api.views import ApiView, GenericApiView

from . import selectors, services
from .models import BillingSettings, Invoice, InvoiceLine, Payment, Plan, Subscription


def actor_for(principal: Principal) -> str:
    if principal.user is not None:
        return services.actor_of(
            principal.user, admin=principal.is_platform_admin and principal.tenant is None
        )
    if principal.api_key is not None:
        return f"{'admin-key' if principal.is_platform_admin else 'key'}:{principal.api_key.prefix}"
    return "unknown"


def _tenant(request: Request) -> Tenant:
    tenant = principal_of(request).tenant
    assert tenant is not None
    return tenant


MAX_INT = 2_147_483_647  # PostgreSQL integer


# --- serializers ------------------------------------------------------------------------------------------
class BillingPlanOutput(serializers.ModelSerializer):
    class Meta:
        model = Plan
        fields = ["id", *services.PLAN_FIELDS]


class BillingSubscriptionOutput(serializers.ModelSerializer):
    device_name = serializers.CharField(source="device.name", read_only=True)
    plan = BillingPlanOutput(read_only=True)

    class Meta:
        model = Subscription
        fields = ["device_id", "device_name", "plan", "status", "current_period_start", "current_period_end"]


class BillingInvoiceLineOutput(serializers.ModelSerializer):
    class Meta:
        model = InvoiceLine
        fields = ["description", "quantity", "unit_price", "amount"]


class BillingPaymentOutput(serializers.ModelSerializer):
    invoice_id = serializers.UUIDField(read_only=True)
    has_proof = serializers.SerializerMethodField()

    class Meta:
        model = Payment
        fields = [
            "id",
            "invoice_id",
            "method",
            "status",
            "amount",
            "external_reference",
            "checkout_url",
            "paid_amount",
            "paid_at",
            "payer_name",
            "note",
            "has_proof",
            "proof_content_type",
            "rejection_reason",
            "reviewed_at",
            "created_at",
            "updated_at",
        ]

    def get_has_proof(self, payment: Payment) -> bool:
        return bool(payment.proof)


class BillingInvoiceOutput(serializers.ModelSerializer):
    plan_code = serializers.CharField(source="plan.code", read_only=True)
    lines = BillingInvoiceLineOutput(many=True, read_only=True)

    class Meta:
        model = Invoice
        fields = [
            "id",
            "number",
            "status",
            "kind",
            "device_id",
            "plan_code",
            "currency",
            "subtotal",
            "tax_rate_percent",
            "tax",
            "total",
            "due_at",
            "period_start",
            "paid_at",
            "lines",
            "created_at",
        ]


class BillingInvoiceDetailOutput(BillingInvoiceOutput):
    payments = BillingPaymentOutput(many=True, read_only=True)

    class Meta(BillingInvoiceOutput.Meta):
        fields = [*BillingInvoiceOutput.Meta.fields, "payments"]


class AdminBillingInvoiceOutput(BillingInvoiceOutput):
    tenant_id = serializers.UUIDField(read_only=True)
    tenant_name = serializers.CharField(source="tenant.name", read_only=True)

    class Meta(BillingInvoiceOutput.Meta):
        fields = [*BillingInvoiceOutput.Meta.fields, "tenant_id", "tenant_name"]


class AdminBillingPaymentOutput(BillingPaymentOutput):
    tenant_id = serializers.UUIDField(read_only=True)
    invoice_number = serializers.CharField(source="invoice.number", read_only=True)
    invoice_total = serializers.IntegerField(source="invoice.total", read_only=True)
    proof_url = serializers.SerializerMethodField()

    class Meta(BillingPaymentOutput.Meta):
        fields = [
            *BillingPaymentOutput.Meta.fields,
            "tenant_id",
            "invoice_number",
            "invoice_total",
            "proof_url",
        ]

    def get_proof_url(self, payment: Payment) -> str | None:
        return f"/admin/billing/payments/{payment.pk}/proof" if payment.proof else None


class BillingSettingsOutput(serializers.Serializer):
    device_limit = serializers.IntegerField()
    device_limit_override = serializers.IntegerField(allow_null=True)
    allowed_payment_methods = serializers.ListField(child=serializers.CharField())
    invoice_due_days = serializers.IntegerField()
    tax_rate_percent = serializers.DecimalField(max_digits=5, decimal_places=2)


def _settings_data(tenant: Tenant) -> dict[str, Any]:
    row = selectors.billing_settings_of(tenant=tenant)
    return {
        "device_limit": selectors.device_limit_for_tenant(tenant=tenant),
        "device_limit_override": row.device_limit_override,
        "allowed_payment_methods": selectors.allowed_methods(row),
        "invoice_due_days": selectors.effective_due_days(row),
        "tax_rate_percent": str(selectors.effective_tax_rate(row)),
    }


class BillingOverviewOutput(serializers.Serializer):
    plans = BillingPlanOutput(many=True)
    subscriptions = BillingSubscriptionOutput(many=True)
    settings = BillingSettingsOutput()


# --- tenant ---------------------------------------------------------------------------------------------
class BillingPlanApi(ApiView):
    required_scopes = "billing:read"

    @extend_schema(
        operation_id="billing_plan",
        summary="Plans on offer and the plan of each device",
        responses={200: BillingOverviewOutput},
        tags=["billing"],
    )
    def get(self, request: Request) -> Response:
        tenant = _tenant(request)
        data = {
            "plans": BillingPlanOutput(selectors.public_plans(), many=True).data,
            "subscriptions": BillingSubscriptionOutput(
                selectors.subscriptions_of_tenant(tenant=tenant), many=True
            ).data,
            "settings": _settings_data(tenant),
        }
        return Response(success(data))


class BillingSubscriptionChangeInput(serializers.Serializer):
    device_id = serializers.UUIDField()
    plan_code = serializers.SlugField(max_length=40)


class BillingSubscriptionApi(ApiView):
    required_scopes = "billing:write"

    @extend_schema(
        operation_id="billing_subscription_change",
        summary="Change a device's plan",
        description="A paid plan answers 201 with the invoice to pay (the plan starts when it is paid); "
        "the free plan applies at once and answers 200 with the subscription.",
        request=BillingSubscriptionChangeInput,
        responses={201: BillingInvoiceOutput, 200: BillingSubscriptionOutput},
        tags=["billing"],
    )
    def post(self, request: Request) -> Response:
        form = BillingSubscriptionChangeInput(data=request.data)
        form.is_valid(raise_exception=True)
        subscription, invoice = services.subscription_change_plan(
            tenant=_tenant(request),
            device_id=form.validated_data["device_id"],
            plan_code=form.validated_data["plan_code"],
            actor=actor_for(principal_of(request)),
        )
        if invoice is None:
            return Response(
                success(BillingSubscriptionOutput(subscription).data, "The device is on the free plan.")
            )
        return Response(
            success(
                BillingInvoiceOutput(invoice).data,
                f"Invoice {invoice.number} issued: pay it to start the plan.",
            ),
            status=status.HTTP_201_CREATED,
        )


class BillingInvoiceListApi(GenericApiView):
    required_scopes = "billing:read"
    serializer_class = BillingInvoiceOutput

    @extend_schema(
        operation_id="billing_invoices_list",
        parameters=[OpenApiParameter("status", str, enum=Invoice.Status.values, required=False)],
        responses={200: BillingInvoiceOutput(many=True)},
        tags=["billing"],
    )
    def get(self, request: Request) -> Response:
        wanted = request.query_params.get("status") or None
        if wanted and wanted not in Invoice.Status.values:
            from wavora.api.errors import ValidationFailed

            raise ValidationFailed(
                f"status: {wanted!r} is not an invoice status.",
                details={"status": [f"One of: {', '.join(Invoice.Status.values)}."]},
            )
        page = self.paginate_queryset(selectors.invoices_of_tenant(tenant=_tenant(request), status=wanted))
        return self.get_paginated_response(BillingInvoiceOutput(page, many=True).data)


class BillingInvoiceDetailApi(ApiView):
    required_scopes = "billing:read"

    @extend_schema(
        operation_id="billing_invoice_detail", responses={200: BillingInvoiceDetailOutput}, tags=["billing"]
    )
    def get(self, request: Request, invoice_id: str) -> Response:
        invoice = selectors.invoice_of_tenant(tenant=_tenant(request), invoice_id=invoice_id)
        return Response(success(BillingInvoiceDetailOutput(invoice).data))


class BillingPayDokuOutput(serializers.Serializer):
    payment_id = serializers.UUIDField()
    payment_url = serializers.URLField()
    payment = BillingPaymentOutput()


class BillingPayDokuApi(ApiView):
    required_scopes = "billing:write"

    @extend_schema(
        operation_id="billing_pay_doku",
        summary="Pay an invoice with DOKU Checkout",
        description="Opens a DOKU Checkout for the invoice total; redirect the customer to `payment_url`. "
        "The invoice is paid when DOKU's notification arrives.",
        request=None,
        responses={201: BillingPayDokuOutput},
        tags=["billing"],
    )
    def post(self, request: Request, invoice_id: str) -> Response:
        invoice = selectors.invoice_of_tenant(tenant=_tenant(request), invoice_id=invoice_id)
        payment = services.payment_start_doku(invoice=invoice, actor=actor_for(principal_of(request)))
        data = {
            "payment_id": payment.pk,
            "payment_url": payment.checkout_url,
            "payment": BillingPaymentOutput(payment).data,
        }
        return Response(
            success(data, "Redirect the customer to payment_url."), status=status.HTTP_201_CREATED
        )


def qris_png_data_url(payload: str) -> str:
    image = qrcode.make(payload, box_size=8, border=4)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


class BillingPayQrisOutput(serializers.Serializer):
    payment_id = serializers.UUIDField()
    amount = serializers.IntegerField()
    qris = serializers.CharField(help_text="The dynamic QRIS string (tag 54 = amount, CRC recomputed)")
    qris_image = serializers.CharField(help_text="data:image/png;base64,…")
    payment = BillingPaymentOutput()


class BillingPayQrisApi(ApiView):
    required_scopes = "billing:write"

    @extend_schema(
        operation_id="billing_pay_qris_manual",
        summary="Pay an invoice by QRIS (manual verification)",
        description="A dynamic QRIS for the invoice total. After paying, upload the proof to "
        "`/api/v1/billing/payments/{payment_id}/proof`.",
        request=None,
        responses={201: BillingPayQrisOutput},
        tags=["billing"],
    )
    def post(self, request: Request, invoice_id: str) -> Response:
        invoice = selectors.invoice_of_tenant(tenant=_tenant(request), invoice_id=invoice_id)
        payment = services.payment_start_manual(
            invoice=invoice, method=Payment.Method.QRIS_MANUAL, actor=actor_for(principal_of(request))
        )
        payload = services.qris_for(payment)
        data = {
            "payment_id": payment.pk,
            "amount": payment.amount,
            "qris": payload,
            "qris_image": qris_png_data_url(payload),
            "payment": BillingPaymentOutput(payment).data,
        }
        return Response(success(data, "Scan, pay, then upload the proof."), status=status.HTTP_201_CREATED)


class BillingBankAccountOutput(serializers.Serializer):
    bank = serializers.CharField()
    account_number = serializers.CharField()
    account_name = serializers.CharField()


class BillingPayBankOutput(serializers.Serializer):
    payment_id = serializers.UUIDField()
    amount = serializers.IntegerField()
    reference = serializers.CharField(help_text="Put this in the transfer's description")
    bank_accounts = BillingBankAccountOutput(many=True)
    payment = BillingPaymentOutput()


class BillingPayBankApi(ApiView):
    required_scopes = "billing:write"

    @extend_schema(
        operation_id="billing_pay_bank_transfer",
        summary="Pay an invoice by bank transfer (manual verification)",
        request=None,
        responses={201: BillingPayBankOutput},
        tags=["billing"],
    )
    def post(self, request: Request, invoice_id: str) -> Response:
        invoice = selectors.invoice_of_tenant(tenant=_tenant(request), invoice_id=invoice_id)
        payment = services.payment_start_manual(
            invoice=invoice,
            method=Payment.Method.BANK_TRANSFER_MANUAL,
            actor=actor_for(principal_of(request)),
        )
        data = {
            "payment_id": payment.pk,
            "amount": payment.amount,
            "reference": payment.external_reference,
            "bank_accounts": settings.BILLING_BANK_ACCOUNTS,
            "payment": BillingPaymentOutput(payment).data,
        }
        return Response(
            success(data, "Transfer the amount, then upload the proof."), status=status.HTTP_201_CREATED
        )


@extend_schema_field(OpenApiTypes.BINARY)
class _ProofField(serializers.FileField):
    """A multipart file part (documented as binary)."""


class BillingProofInput(serializers.Serializer):
    proof = _ProofField(help_text="JPEG, PNG, WebP or PDF, at most 5 MB; checked by content")
    paid_amount = serializers.IntegerField(min_value=1, max_value=10**12)
    paid_at = serializers.DateTimeField()
    payer_name = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    note = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")


def proof_response(payment: Payment) -> FileResponse:
    if not payment.proof:
        raise NotFound("This payment has no proof.", details={"payment_id": ["No proof uploaded."]})
    response = FileResponse(payment.proof.open("rb"), content_type=payment.proof_content_type)
    response["Content-Disposition"] = f'inline; filename="proof-{payment.external_reference}"'
    response["Cache-Control"] = "private, no-store"
    response["X-Content-Type-Options"] = "nosniff"
    return response


class BillingPaymentProofApi(ApiView):
    required_scopes = {"GET": "billing:read", "POST": "billing:write"}
    parser_classes = [MultiPartParser]

    @extend_schema(
        operation_id="billing_payment_proof_upload",
        summary="Upload the proof of a manual payment",
        description="Moves the payment and its invoice to `pending_verification`; a platform admin then "
        "approves or rejects it. Too large → 413 PAYLOAD_TOO_LARGE; not an image/PDF → 415.",
        request={"multipart/form-data": BillingProofInput},
        responses={200: BillingPaymentOutput},
        tags=["billing"],
    )
    def post(self, request: Request, payment_id: str) -> Response:
        payment = selectors.payment_of_tenant(tenant=_tenant(request), payment_id=payment_id)
        form = BillingProofInput(data=request.data)
        form.is_valid(raise_exception=True)
        payment = services.payment_submit_proof(
            payment=payment, actor=actor_for(principal_of(request)), **form.validated_data
        )
        return Response(success(BillingPaymentOutput(payment).data, "Proof received: awaiting verification."))

    @extend_schema(
        operation_id="billing_payment_proof_download",
        summary="Download the proof of a payment",
        responses={(200, "application/octet-stream"): OpenApiTypes.BINARY},
        tags=["billing"],
    )
    def get(self, request: Request, payment_id: str) -> FileResponse:
        return proof_response(selectors.payment_of_tenant(tenant=_tenant(request), payment_id=payment_id))


# --- platform admin -------------------------------------------------------------------------------------
class AdminApi(ApiView):
    permission_classes = [IsPlatformAdmin]


class AdminBillingPlanInput(serializers.Serializer):
    code = serializers.SlugField(max_length=40)
    name = serializers.CharField(max_length=100)
    price = serializers.IntegerField(min_value=0, max_value=10**12)
    period = serializers.ChoiceField(choices=Plan.Period.choices, default=Plan.Period.MONTHLY)
    message_quota = serializers.IntegerField(min_value=0, max_value=MAX_INT, default=0)
    rate_limit_per_minute = serializers.IntegerField(min_value=1, max_value=1_000_000, default=60)
    send_interval_ms = serializers.IntegerField(
        min_value=0, max_value=3_600_000, allow_null=True, required=False, default=None
    )
    device_limit = serializers.IntegerField(min_value=1, max_value=100_000, default=1)
    features = serializers.DictField(
        required=False, default=dict, help_text='Feature flags, e.g. {"campaigns": true}'
    )
    branding_footer = serializers.CharField(max_length=200, allow_blank=True, required=False, default="")
    is_public = serializers.BooleanField(default=True)
    is_active = serializers.BooleanField(default=True)

    def validate_features(self, value: dict[str, Any]) -> dict[str, Any]:
        encoded = json.dumps(value)
        if "\\u0000" in encoded or len(encoded) > 10_000:
            raise serializers.ValidationError("Feature flags must be small JSON without NUL characters.")
        return value

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs.get("price") == 0 and not attrs.get("branding_footer", "x"):
            raise serializers.ValidationError({"branding_footer": ["A free plan needs a branding footer."]})
        return attrs


class AdminBillingPlanListApi(AdminApi):
    @extend_schema(
        operation_id="admin_billing_plans_list", responses={200: BillingPlanOutput(many=True)}, tags=["admin"]
    )
    def get(self, request: Request) -> Response:
        return Response(success(BillingPlanOutput(Plan.objects.all(), many=True).data))

    @extend_schema(
        operation_id="admin_billing_plans_create",
        request=AdminBillingPlanInput,
        responses={201: BillingPlanOutput},
        tags=["admin"],
    )
    def post(self, request: Request) -> Response:
        form = AdminBillingPlanInput(data=request.data)
        form.is_valid(raise_exception=True)
        plan = services.plan_create(actor=actor_for(principal_of(request)), **form.validated_data)
        return Response(
            success(BillingPlanOutput(plan).data, "Plan created."), status=status.HTTP_201_CREATED
        )


class AdminBillingPlanDetailApi(AdminApi):
    @extend_schema(
        operation_id="admin_billing_plans_update",
        description="Partial update; the code cannot change.",
        request=AdminBillingPlanInput(partial=True),
        responses={200: BillingPlanOutput},
        tags=["admin"],
    )
    def post(self, request: Request, plan_id: int) -> Response:
        plan = Plan.objects.filter(pk=plan_id).first()
        if plan is None:
            raise NotFound("Plan not found.")
        form = AdminBillingPlanInput(data=request.data, partial=True)
        form.is_valid(raise_exception=True)
        fields = {k: v for k, v in form.validated_data.items() if k in request.data}
        plan = services.plan_update(plan=plan, actor=actor_for(principal_of(request)), **fields)
        return Response(success(BillingPlanOutput(plan).data, "Plan updated."))


class AdminBillingInvoiceListApi(GenericApiView):
    permission_classes = [IsPlatformAdmin]
    serializer_class = AdminBillingInvoiceOutput

    @extend_schema(
        operation_id="admin_billing_invoices_list",
        parameters=[
            OpenApiParameter("status", str, enum=Invoice.Status.values, required=False),
            OpenApiParameter("tenant_id", OpenApiTypes.UUID, required=False),
        ],
        responses={200: AdminBillingInvoiceOutput(many=True)},
        tags=["admin"],
    )
    def get(self, request: Request) -> Response:
        wanted = request.query_params.get("status") or None
        tenant_id = (
            selectors._uuid_or_none(request.query_params.get("tenant_id"))
            if request.query_params.get("tenant_id")
            else None
        )
        if (wanted and wanted not in Invoice.Status.values) or (
            request.query_params.get("tenant_id") and not tenant_id
        ):
            from wavora.api.errors import ValidationFailed

            raise ValidationFailed(
                "status or tenant_id is not valid.", details={"status": Invoice.Status.values}
            )
        page = self.paginate_queryset(selectors.all_invoices(status=wanted, tenant_id=tenant_id))
        return self.get_paginated_response(AdminBillingInvoiceOutput(page, many=True).data)


class AdminPendingPaymentsApi(GenericApiView):
    permission_classes = [IsPlatformAdmin]
    serializer_class = AdminBillingPaymentOutput

    @extend_schema(
        operation_id="admin_billing_payments_pending",
        summary="Manual payments waiting for a decision (and DOKU payments flagged for review)",
        responses={200: AdminBillingPaymentOutput(many=True)},
        tags=["admin"],
    )
    def get(self, request: Request) -> Response:
        page = self.paginate_queryset(selectors.payments_pending_verification())
        return self.get_paginated_response(AdminBillingPaymentOutput(page, many=True).data)


def _any_payment(payment_id: str) -> Payment:
    pk = selectors._uuid_or_none(payment_id)
    payment = Payment.objects.select_related("invoice").filter(pk=pk).first() if pk else None
    if payment is None:
        raise NotFound("Payment not found.")
    return payment


class AdminPaymentApproveApi(AdminApi):
    @extend_schema(
        operation_id="admin_billing_payment_approve",
        request=None,
        responses={200: AdminBillingPaymentOutput},
        tags=["admin"],
    )
    def post(self, request: Request, payment_id: str) -> Response:
        payment = services.payment_approve(payment=_any_payment(payment_id), reviewer=_reviewer(request))
        return Response(success(AdminBillingPaymentOutput(payment).data, "Payment approved; invoice paid."))


class AdminPaymentRejectInput(serializers.Serializer):
    reason = serializers.CharField(max_length=2000)


class AdminPaymentRejectApi(AdminApi):
    @extend_schema(
        operation_id="admin_billing_payment_reject",
        request=AdminPaymentRejectInput,
        responses={200: AdminBillingPaymentOutput},
        tags=["admin"],
    )
    def post(self, request: Request, payment_id: str) -> Response:
        form = AdminPaymentRejectInput(data=request.data)
        form.is_valid(raise_exception=True)
        payment = services.payment_reject(
            payment=_any_payment(payment_id),
            reviewer=_reviewer(request),
            reason=form.validated_data["reason"],
        )
        return Response(
            success(AdminBillingPaymentOutput(payment).data, "Payment rejected; invoice open again.")
        )


def _reviewer(request: Request) -> Any:
    principal = principal_of(request)
    if principal.user is not None:
        return principal.user
    return _KeyReviewer(principal)


class _KeyReviewer:
    """An admin API key acting as reviewer (no user row): recorded by its prefix in the audit."""

    pk = None

    def __init__(self, principal: Principal) -> None:
        self.email = f"key {principal.api_key.prefix}" if principal.api_key else "api-key"


class AdminPaymentProofApi(AdminApi):
    @extend_schema(
        operation_id="admin_billing_payment_proof",
        responses={(200, "application/octet-stream"): OpenApiTypes.BINARY},
        tags=["admin"],
    )
    def get(self, request: Request, payment_id: str) -> FileResponse:
        return proof_response(_any_payment(payment_id))


class AdminBillingSettingsInput(serializers.Serializer):
    device_limit_override = serializers.IntegerField(
        min_value=0, max_value=100_000, allow_null=True, required=False
    )
    allowed_payment_methods = serializers.ListField(
        child=serializers.ChoiceField(choices=BillingSettings.Method.choices), required=False
    )
    invoice_due_days = serializers.IntegerField(min_value=1, max_value=365, allow_null=True, required=False)
    tax_rate_percent = serializers.DecimalField(
        max_digits=5, decimal_places=2, min_value=0, max_value=100, allow_null=True, required=False
    )


class AdminTenantBillingSettingsApi(AdminApi):
    def _tenant(self, tenant_id: str) -> Tenant:
        pk = selectors._uuid_or_none(tenant_id)
        tenant = Tenant.objects.filter(pk=pk).first() if pk else None
        if tenant is None:
            raise NotFound("Tenant not found.")
        return tenant

    @extend_schema(
        operation_id="admin_tenant_billing_settings_get",
        responses={200: BillingSettingsOutput},
        tags=["admin"],
    )
    def get(self, request: Request, tenant_id: str) -> Response:
        return Response(success(_settings_data(self._tenant(tenant_id))))

    @extend_schema(
        operation_id="admin_tenant_billing_settings_update",
        description="Fields left out stay as they are; null returns a field to the platform default.",
        request=AdminBillingSettingsInput,
        responses={200: BillingSettingsOutput},
        tags=["admin"],
    )
    def post(self, request: Request, tenant_id: str) -> Response:
        tenant = self._tenant(tenant_id)
        form = AdminBillingSettingsInput(data=request.data)
        form.is_valid(raise_exception=True)
        services.billing_settings_update(
            tenant=tenant, actor=actor_for(principal_of(request)), **form.validated_data
        )
        return Response(success(_settings_data(tenant), "Billing settings saved."))
