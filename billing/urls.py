from __future__ import annotations

from django.urls import URLPattern, URLResolver, path

from . import apis, views

# Routes mounted by wavora/urls.py; `api_v1` under /api/v1/, `urlpatterns` at the site root.
api_v1: list[URLPattern | URLResolver] = [
    path("billing/plan", apis.BillingPlanApi.as_view()),
    path("billing/subscriptions", apis.BillingSubscriptionApi.as_view()),
    path("billing/invoices", apis.BillingInvoiceListApi.as_view()),
    path("billing/invoices/<str:invoice_id>", apis.BillingInvoiceDetailApi.as_view()),
    path("billing/invoices/<str:invoice_id>/pay/doku", apis.BillingPayDokuApi.as_view()),
    path("billing/invoices/<str:invoice_id>/pay/qris-manual", apis.BillingPayQrisApi.as_view()),
    path("billing/invoices/<str:invoice_id>/pay/bank-transfer", apis.BillingPayBankApi.as_view()),
    path("billing/payments/<str:payment_id>/proof", apis.BillingPaymentProofApi.as_view()),
]
urlpatterns: list[URLPattern | URLResolver] = [
    path("admin/billing/plans", apis.AdminBillingPlanListApi.as_view()),
    path("admin/billing/plans/<int:plan_id>", apis.AdminBillingPlanDetailApi.as_view()),
    path("admin/billing/invoices", apis.AdminBillingInvoiceListApi.as_view()),
    path("admin/billing/payments/pending-verification", apis.AdminPendingPaymentsApi.as_view()),
    path("admin/billing/payments/<str:payment_id>/approve", apis.AdminPaymentApproveApi.as_view()),
    path("admin/billing/payments/<str:payment_id>/reject", apis.AdminPaymentRejectApi.as_view()),
    path("admin/billing/payments/<str:payment_id>/proof", apis.AdminPaymentProofApi.as_view()),
    path("admin/tenants/<str:tenant_id>/billing-settings", apis.AdminTenantBillingSettingsApi.as_view()),
    path("webhook/payment/doku", views.doku_notification),
    path("billing/sandbox/doku/<str:reference>", views.doku_sandbox, name="billing-doku-sandbox"),
]
