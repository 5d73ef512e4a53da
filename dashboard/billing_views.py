"""Dashboard billing (owners and admins): each device's plan and changing it, invoices, paying by
DOKU (redirect), QRIS or bank transfer, uploading proof, and following a payment's status. The
views are thin: the same billing services and selectors as the API."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from django import forms
from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import redirect
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views import View
from django.views.generic import TemplateView

from billing import selectors, services
from billing.apis import proof_response, qris_png_data_url
from billing.models import Invoice, Payment
from wavora.api.errors import NotFound, WavoraError

from .service_messages import error_message
from .tenancy import MANAGERS, TenantViewMixin

WIB = ZoneInfo("Asia/Jakarta")
PAY_METHODS = {
    "doku": Payment.Method.DOKU,
    "qris": Payment.Method.QRIS_MANUAL,
    "bank": Payment.Method.BANK_TRANSFER_MANUAL,
}


class BillingMixin(TenantViewMixin):
    allowed_roles = MANAGERS

    def invoice(self, invoice_id: Any) -> Invoice:
        try:
            return selectors.invoice_of_tenant(tenant=self.tenant, invoice_id=invoice_id)
        except NotFound:
            raise Http404("Invoice not found.") from None

    def payment(self, payment_id: Any) -> Payment:
        try:
            return selectors.payment_of_tenant(tenant=self.tenant, payment_id=payment_id)
        except NotFound:
            raise Http404("Payment not found.") from None

    @property
    def actor(self) -> str:
        return services.actor_of(self.request.user)


class BillingOverviewView(BillingMixin, TemplateView):
    template_name = "dashboard/billing/overview.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        row = selectors.billing_settings_of(tenant=self.tenant)
        context.update(
            plans=list(selectors.public_plans()),
            subscriptions=list(selectors.subscriptions_of_tenant(tenant=self.tenant)),
            invoices=list(selectors.invoices_of_tenant(tenant=self.tenant)[:50]),
            device_limit=selectors.device_limit_for_tenant(tenant=self.tenant),
            tax_rate=selectors.effective_tax_rate(row),
        )
        return context


class ChangePlanView(BillingMixin, View):
    def post(self, request: HttpRequest) -> HttpResponse:
        try:
            _subscription, invoice = services.subscription_change_plan(
                tenant=self.tenant,
                device_id=request.POST.get("device_id", ""),
                plan_code=request.POST.get("plan_code", ""),
                actor=self.actor,
            )
        except WavoraError as exc:
            if exc.status_code == 404:  # another tenant's device, as everywhere else in the dashboard
                raise Http404("Device not found.") from None
            messages.error(request, error_message(exc))
            return redirect("dashboard:billing")
        if invoice is None:
            messages.success(request, _("The device is on the free plan now."))
            return redirect("dashboard:billing")
        messages.success(
            request, _("Invoice %(number)s issued. Pay it to start the plan.") % {"number": invoice.number}
        )
        return redirect("dashboard:billing_invoice", invoice_id=invoice.pk)


class InvoiceDetailView(BillingMixin, TemplateView):
    template_name = "dashboard/billing/invoice.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        invoice = self.invoice(kwargs["invoice_id"])
        row = selectors.billing_settings_of(tenant=self.tenant)
        context.update(
            invoice=invoice,
            payments=list(invoice.payments.all()),
            methods=selectors.allowed_methods(row),
            payable=invoice.status == Invoice.Status.OPEN,
        )
        return context


class PayView(BillingMixin, View):
    def post(self, request: HttpRequest, invoice_id: Any, method: str) -> HttpResponseBase:
        invoice = self.invoice(invoice_id)
        if method not in PAY_METHODS:
            raise Http404("Unknown payment method.")
        try:
            if method == "doku":
                payment = services.payment_start_doku(invoice=invoice, actor=self.actor)
                return redirect(payment.checkout_url)
            payment = services.payment_start_manual(
                invoice=invoice, method=PAY_METHODS[method], actor=self.actor
            )
        except WavoraError as exc:
            messages.error(request, error_message(exc))
            return redirect("dashboard:billing_invoice", invoice_id=invoice.pk)
        return redirect("dashboard:billing_payment", payment_id=payment.pk)


class ProofForm(forms.Form):
    proof = forms.FileField(label=gettext_lazy("Proof (image or PDF, max 5 MB)"))
    paid_amount = forms.IntegerField(label=gettext_lazy("Amount paid (Rp)"), min_value=1)
    paid_at = forms.DateTimeField(
        label=gettext_lazy("Paid at (WIB)"),
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"],
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )
    payer_name = forms.CharField(label=gettext_lazy("Payer name"), max_length=200, required=False)
    note = forms.CharField(label=gettext_lazy("Note"), max_length=2000, required=False, widget=forms.Textarea)

    def clean_paid_at(self) -> datetime:
        value: datetime = self.cleaned_data["paid_at"]
        # What the user typed is WIB wall-clock time, whatever time zone Django parsed it in.
        typed = timezone.make_naive(value) if timezone.is_aware(value) else value
        return typed.replace(tzinfo=WIB)


class PaymentDetailView(BillingMixin, TemplateView):
    template_name = "dashboard/billing/payment.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        payment = self.payment(kwargs["payment_id"])
        context.update(payment=payment, invoice=payment.invoice)
        if payment.status == Payment.Status.AWAITING_PROOF:
            if payment.method == Payment.Method.QRIS_MANUAL:
                payload = services.qris_for(payment)
                context.update(qris=payload, qris_image=qris_png_data_url(payload))
            if payment.method == Payment.Method.BANK_TRANSFER_MANUAL:
                context["bank_accounts"] = settings.BILLING_BANK_ACCOUNTS
            context.setdefault("form", ProofForm(initial={"paid_amount": payment.amount}))
        return context

    def post(self, request: HttpRequest, payment_id: Any) -> HttpResponse:
        payment = self.payment(payment_id)
        form = ProofForm(request.POST, request.FILES)
        if form.is_valid():
            try:
                services.payment_submit_proof(payment=payment, actor=self.actor, **form.cleaned_data)
            except WavoraError as exc:
                field = next(iter(exc.details), None) if exc.details else None
                form.add_error(field if field in form.fields else None, error_message(exc))
            else:
                messages.success(request, _("Proof received. We will verify your payment shortly."))
                return redirect("dashboard:billing_payment", payment_id=payment.pk)
        return self.render_to_response(self.get_context_data(payment_id=payment_id, form=form))


class PaymentProofView(BillingMixin, View):
    def get(self, request: HttpRequest, payment_id: Any) -> HttpResponseBase:
        payment = self.payment(payment_id)
        if not payment.proof:
            raise Http404("No proof.")
        return proof_response(payment)
