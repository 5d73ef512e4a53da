"""Dashboard pages, mounted at /dashboard/ (namespace `dashboard`). Each capability appends its routes."""

from __future__ import annotations

from django.urls import URLPattern, URLResolver, path

from . import billing_views as bv
from . import content_views as content
from . import integration_views as integration
from . import views

app_name = "dashboard"

urlpatterns: list[URLPattern | URLResolver] = [
    path("", views.OverviewView.as_view(), name="overview"),
    path("devices/", views.DevicesView.as_view(), name="devices"),
    path("devices/<uuid:device_id>/", views.DeviceDetailView.as_view(), name="device_detail"),
    path("devices/<uuid:device_id>/status/", views.DeviceStatusView.as_view(), name="device_status"),
    path("send/", views.SendView.as_view(), name="send"),
    path("messages/", views.MessagesView.as_view(), name="messages"),
    path("messages/<uuid:message_id>/", views.MessageDetailView.as_view(), name="message_detail"),
    path("team/", views.TeamView.as_view(), name="team"),
    path("team/members/<int:membership_id>/", views.TeamMemberView.as_view(), name="team_member"),
    path(
        "team/invitations/<uuid:invitation_id>/revoke/",
        views.InvitationRevokeView.as_view(),
        name="invitation_revoke",
    ),
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

# Webhooks, API keys, auto-replies and contacts.
urlpatterns += [
    path("webhooks/", integration.WebhookListView.as_view(), name="webhooks"),
    path("webhooks/new/", integration.WebhookCreateView.as_view(), name="webhook_create"),
    path(
        "webhooks/deliveries/<str:delivery_id>/",
        integration.WebhookDeliveryDetailView.as_view(),
        name="webhook_delivery",
    ),
    path(
        "webhooks/deliveries/<str:delivery_id>/redeliver/",
        integration.WebhookRedeliverView.as_view(),
        name="webhook_redeliver",
    ),
    path("webhooks/<str:webhook_id>/", integration.WebhookDetailView.as_view(), name="webhook_detail"),
    path("webhooks/<str:webhook_id>/edit/", integration.WebhookEditView.as_view(), name="webhook_edit"),
    path("webhooks/<str:webhook_id>/toggle/", integration.WebhookToggleView.as_view(), name="webhook_toggle"),
    path("webhooks/<str:webhook_id>/delete/", integration.WebhookDeleteView.as_view(), name="webhook_delete"),
    path(
        "webhooks/<str:webhook_id>/rotate-secret/",
        integration.WebhookRotateView.as_view(),
        name="webhook_rotate",
    ),
    path("webhooks/<str:webhook_id>/test/", integration.WebhookTestView.as_view(), name="webhook_test"),
    path("api-keys/", integration.ApiKeyListView.as_view(), name="api_keys"),
    path("api-keys/new/", integration.ApiKeyCreateView.as_view(), name="api_key_create"),
    path("api-keys/<str:key_id>/created/", integration.ApiKeyCreatedView.as_view(), name="api_key_created"),
    path("api-keys/<str:key_id>/revoke/", integration.ApiKeyRevokeView.as_view(), name="api_key_revoke"),
    path("api-keys/<str:key_id>/rotate/", integration.ApiKeyRotateView.as_view(), name="api_key_rotate"),
    path("auto-replies/", content.AutoReplyListView.as_view(), name="auto_replies"),
    path("auto-replies/new/", content.AutoReplyCreateView.as_view(), name="auto_reply_create"),
    path("auto-replies/<str:rule_id>/edit/", content.AutoReplyEditView.as_view(), name="auto_reply_edit"),
    path(
        "auto-replies/<str:rule_id>/toggle/", content.AutoReplyToggleView.as_view(), name="auto_reply_toggle"
    ),
    path(
        "auto-replies/<str:rule_id>/delete/", content.AutoReplyDeleteView.as_view(), name="auto_reply_delete"
    ),
    path("contacts/", content.ContactListView.as_view(), name="contacts"),
    path("contacts/sync/", content.ContactSyncView.as_view(), name="contacts_sync"),
    path("contacts/export.csv", content.ContactExportView.as_view(), name="contacts_export"),
]

# Campaigns.
from . import campaign_views as campaigns  # noqa: E402

urlpatterns += [
    path("campaigns/", campaigns.CampaignListView.as_view(), name="campaigns"),
    path("campaigns/new/", campaigns.CampaignCreateView.as_view(), name="campaign_create"),
    path("campaigns/new/confirm/", campaigns.CampaignConfirmView.as_view(), name="campaign_confirm"),
    path("campaigns/csv-template.csv", campaigns.CsvTemplateView.as_view(), name="campaign_csv_template"),
    path("campaigns/<str:campaign_id>/", campaigns.CampaignDetailView.as_view(), name="campaign_detail"),
    path(
        "campaigns/<str:campaign_id>/progress.json",
        campaigns.CampaignProgressView.as_view(),
        name="campaign_progress",
    ),
    path(
        "campaigns/<str:campaign_id>/export.csv",
        campaigns.CampaignExportView.as_view(),
        name="campaign_export",
    ),
    path(
        "campaigns/<str:campaign_id>/schedule/",
        campaigns.CampaignScheduleView.as_view(),
        name="campaign_schedule",
    ),
    path(
        "campaigns/<str:campaign_id>/<str:action>/",
        campaigns.CampaignActionView.as_view(),
        name="campaign_action",
    ),
]
