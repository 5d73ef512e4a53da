"""Dashboard pages, mounted at /dashboard/ (namespace `dashboard`). Each capability appends its routes."""

from __future__ import annotations

from django.urls import URLPattern, URLResolver, path

from . import billing_views as bv
from . import views

app_name = "dashboard"

urlpatterns: list[URLPattern | URLResolver] = [
    path("", views.OverviewView.as_view(), name="overview"),
]

# Billing (issue 5)
urlpatterns += [
    path("billing/", bv.BillingOverviewView.as_view(), name="billing"),
    path("billing/subscriptions/", bv.ChangePlanView.as_view(), name="billing_change_plan"),
    path("billing/invoices/<uuid:invoice_id>/", bv.InvoiceDetailView.as_view(), name="billing_invoice"),
    path("billing/invoices/<uuid:invoice_id>/pay/<str:method>/", bv.PayView.as_view(), name="billing_pay"),
    path("billing/payments/<uuid:payment_id>/", bv.PaymentDetailView.as_view(), name="billing_payment"),
    path("billing/payments/<uuid:payment_id>/proof/", bv.PaymentProofView.as_view(), name="billing_proof"),
]
