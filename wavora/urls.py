from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from billing import urls as billing_urls
from campaigns import urls as campaigns_urls
from devices import apis as devices
from messaging import apis as messaging
from messaging import autoreply_apis as autoreplies
from messaging import contacts_apis as contacts
from messaging import media_apis as media
from messaging import read_apis as reads
from messaging.types import TYPES as SEND_TYPES
from messaging.views import gowa_callback
from tenants import apis as tenants
from tenants import urls as tenants_urls
from webhooks import apis as webhooks

from . import health

admin.site.site_header = "Wavora back office"
admin.site.site_title = "Wavora"

api_v1 = [
    path("api-keys", tenants.ApiKeyListCreateApi.as_view()),
    path("api-keys/<uuid:key_id>", tenants.ApiKeyDetailApi.as_view()),
    path("api-keys/<uuid:key_id>/rotate", tenants.ApiKeyRotateApi.as_view()),
    path("devices", devices.DeviceListCreateApi.as_view()),
    path("devices/<str:device_id>", devices.DeviceDetailApi.as_view()),
    path("devices/<str:device_id>/login-qr", devices.DeviceLoginQrApi.as_view()),
    path("devices/<str:device_id>/login-code", devices.DeviceLoginCodeApi.as_view()),
    path("devices/<str:device_id>/reconnect", devices.DeviceReconnectApi.as_view()),
    path("devices/<str:device_id>/logout", devices.DeviceLogoutApi.as_view()),
    path("devices/<str:device_id>/contacts", contacts.DeviceContactListApi.as_view()),
    path("devices/<str:device_id>/contacts/sync", contacts.DeviceContactSyncApi.as_view()),
    path("devices/<str:device_id>/chats", reads.DeviceChatListApi.as_view()),
    path("devices/<str:device_id>/chats/<str:jid>/messages", reads.DeviceChatMessageListApi.as_view()),
    *[path(f"messages/{name}", messaging.send_view(name)) for name in SEND_TYPES],
    path("messages/batch", messaging.BatchApi.as_view()),
    path("messages/jobs/<str:job_id>", messaging.JobDetailApi.as_view()),
    path("messages/<str:message_id>", messaging.MessageDetailApi.as_view()),
    path("messages/<str:message_id>/revoke", reads.MessageRevokeApi.as_view()),
    path("messages/<str:message_id>/react", reads.MessageReactApi.as_view()),
    path("messages/<str:message_id>/read", reads.MessageReadApi.as_view()),
    path("media", media.MediaUploadApi.as_view()),
    path("media/<str:media_id>", media.MediaDetailApi.as_view()),
    path("message-logs", reads.MessageLogListApi.as_view()),
    path("phone/validate", reads.PhoneValidateApi.as_view()),
    path("phone/cache", reads.PhoneCacheApi.as_view()),
    path("webhooks", webhooks.WebhookListCreateApi.as_view()),
    path("webhooks/test", webhooks.WebhookTestApi.as_view()),
    path("webhooks/deliveries/<uuid:delivery_id>", webhooks.WebhookDeliveryDetailApi.as_view()),
    path("webhooks/deliveries/<uuid:delivery_id>/redeliver", webhooks.WebhookRedeliverApi.as_view()),
    path("webhooks/<uuid:webhook_id>", webhooks.WebhookDetailApi.as_view()),
    path("webhooks/<uuid:webhook_id>/rotate-secret", webhooks.WebhookRotateSecretApi.as_view()),
    path("webhooks/<uuid:webhook_id>/deliveries", webhooks.WebhookDeliveryListApi.as_view()),
    path("auto-replies", autoreplies.AutoReplyListCreateApi.as_view()),
    path("auto-replies/<str:rule_id>", autoreplies.AutoReplyDetailApi.as_view()),
    *billing_urls.api_v1,
    *campaigns_urls.api_v1,
]

urlpatterns = [
    path("backoffice/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="swagger-ui"),
    path("health", health.health),
    path("health/detailed", health.HealthDetailedApi.as_view()),
    path("webhooks/gowa/<int:node_id>/", gowa_callback),
    *[path(f"api/v1/{p.pattern}", p.callback) for p in api_v1],  # type: ignore[union-attr]
    path("internal/", include(tenants_urls.internal)),
    *billing_urls.urlpatterns,
    *campaigns_urls.urlpatterns,
    path("dashboard/", include("dashboard.urls")),
    path("accounts/", include("dashboard.account_urls")),
    path("i18n/", include("django.conf.urls.i18n")),
]

handler404 = "wavora.api.exceptions.handler404"
handler500 = "wavora.api.exceptions.handler500"
