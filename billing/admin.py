from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from wavora.api.errors import WavoraError

from . import services
from .apis import proof_response
from .models import BillingEvent, BillingSettings, Invoice, InvoiceLine, Payment, Plan, Subscription


@admin.register(Plan)
class PlanAdmin(admin.ModelAdmin):
    list_display = [
        "code",
        "name",
        "price",
        "period",
        "message_quota",
        "device_limit",
        "is_public",
        "is_active",
    ]
    list_filter = ["is_public", "is_active", "period"]
    search_fields = ["code", "name"]


@admin.register(Subscription)
class SubscriptionAdmin(admin.ModelAdmin):
    list_display = ["device", "tenant", "plan", "status", "current_period_start", "current_period_end"]
    list_filter = ["status", "plan"]
    search_fields = ["tenant__name", "device__name"]
    list_select_related = ["device", "tenant", "plan"]
    raw_id_fields = ["device", "tenant"]


@admin.register(BillingSettings)
class BillingSettingsAdmin(admin.ModelAdmin):
    list_display = [
        "tenant",
        "device_limit_override",
        "allowed_payment_methods",
        "invoice_due_days",
        "tax_rate_percent",
    ]
    list_select_related = ["tenant"]
    raw_id_fields = ["tenant"]
    search_fields = ["tenant__name"]


class InvoiceLineInline(admin.TabularInline):
    model = InvoiceLine
    extra = 0
    can_delete = False
    readonly_fields = ["description", "quantity", "unit_price", "amount"]

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class PaymentInline(admin.TabularInline):
    model = Payment
    extra = 0
    can_delete = False
    show_change_link = True
    fields = ("external_reference", "method", "status", "amount", "paid_amount", "created_at")
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Invoice)
class InvoiceAdmin(admin.ModelAdmin):
    list_display = ["number", "tenant", "plan", "kind", "status", "total", "due_at", "paid_at"]
    list_filter = ["status", "kind", "plan"]
    search_fields = ["number", "tenant__name"]
    list_select_related = ["tenant", "plan"]
    inlines = [InvoiceLineInline, PaymentInline]
    readonly_fields = [
        "number",
        "tenant",
        "subscription",
        "device_id",
        "plan",
        "kind",
        "status",
        "currency",
        "subtotal",
        "tax_rate_percent",
        "tax",
        "total",
        "due_at",
        "period_start",
        "paid_at",
        "created_at",
    ]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # invoices come from plan changes and renewals only


@admin.register(Payment)
class PaymentAdmin(admin.ModelAdmin):
    list_display = [
        "external_reference",
        "invoice_number",
        "tenant",
        "method",
        "status",
        "amount",
        "paid_amount",
        "has_proof",
        "created_at",
    ]
    list_filter = ["status", "method"]
    search_fields = ["external_reference", "invoice__number", "tenant__name", "payer_name"]
    list_select_related = ["invoice", "tenant"]
    actions = ["approve_payments", "reject_payments"]
    readonly_fields = [
        "invoice",
        "tenant",
        "method",
        "status",
        "amount",
        "external_reference",
        "checkout_url",
        "notified_amount",
        "gateway_payload",
        "proof_preview",
        "proof_content_type",
        "proof_size",
        "paid_amount",
        "paid_at",
        "payer_name",
        "note",
        "reviewed_by",
        "reviewed_at",
        "rejection_reason",
        "created_at",
    ]
    exclude = ["proof", "gateway_request_id"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.display(description="Invoice", ordering="invoice__number")
    def invoice_number(self, payment: Payment) -> str:
        return payment.invoice.number

    @admin.display(boolean=True, description="Proof")
    def has_proof(self, payment: Payment) -> bool:
        return bool(payment.proof)

    @admin.display(description="Proof")
    def proof_preview(self, payment: Payment) -> str:
        if not payment.proof:
            return "—"
        url = reverse("admin:billing_payment_proof", args=[payment.pk])
        if payment.proof_content_type.startswith("image/"):
            return format_html(
                '<a href="{}" target="_blank"><img src="{}" style="max-width: 480px"></a>', url, url
            )
        return format_html('<a href="{}" target="_blank">Open the PDF proof</a>', url)

    def get_urls(self) -> list[Any]:
        return [
            path(
                "<uuid:payment_id>/proof/",
                self.admin_site.admin_view(self.proof_view),
                name="billing_payment_proof",
            ),
            *super().get_urls(),
        ]

    def proof_view(self, request: HttpRequest, payment_id: Any) -> HttpResponseBase:
        """Staff only (admin_view): proofs are never reachable by a public URL."""
        if not self.has_view_permission(request):
            return HttpResponse(status=403)
        return proof_response(get_object_or_404(Payment, pk=payment_id))

    @admin.action(description="Approve selected payments (invoice paid, plan extended)")
    def approve_payments(self, request: HttpRequest, queryset: QuerySet[Payment]) -> None:
        done = 0
        for payment in queryset:
            try:
                services.payment_approve(payment=payment, reviewer=request.user)
                done += 1
            except WavoraError as exc:
                self.message_user(request, f"{payment.external_reference}: {exc.message}", messages.ERROR)
        if done:
            self.message_user(request, f"Approved {done} payment(s).", messages.SUCCESS)

    @admin.action(description="Reject selected payments (asks for a reason)")
    def reject_payments(self, request: HttpRequest, queryset: QuerySet[Payment]) -> HttpResponse | None:
        reason = (request.POST.get("reason") or "").strip()
        if "apply" in request.POST and reason:
            done = 0
            for payment in queryset:
                try:
                    services.payment_reject(payment=payment, reviewer=request.user, reason=reason)
                    done += 1
                except WavoraError as exc:
                    self.message_user(request, f"{payment.external_reference}: {exc.message}", messages.ERROR)
            if done:
                self.message_user(
                    request, f"Rejected {done} payment(s); the tenants were told why.", messages.SUCCESS
                )
            return None
        return TemplateResponse(
            request,
            "admin/billing/payment/reject.html",
            {
                **self.admin_site.each_context(request),
                "title": "Reject payments",
                "payments": queryset.select_related("invoice", "tenant"),
                "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
                "missing_reason": "apply" in request.POST and not reason,
                "opts": self.model._meta,
            },
        )


@admin.register(BillingEvent)
class BillingEventAdmin(admin.ModelAdmin):
    list_display = [
        "created_at",
        "action",
        "actor",
        "tenant",
        "from_status",
        "to_status",
        "invoice",
        "payment",
    ]
    list_filter = ["action"]
    search_fields = ["actor", "invoice__number", "payment__external_reference", "tenant__name"]
    list_select_related = ["tenant", "invoice", "payment"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
