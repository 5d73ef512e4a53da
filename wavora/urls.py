from django.contrib import admin
from django.urls import path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from devices import apis as devices
from messaging import apis as messaging
from messaging.views import gowa_callback
from tenants import apis as tenants

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
    path("messages/text", messaging.SendTextApi.as_view()),
    path("messages/jobs/<str:job_id>", messaging.JobDetailApi.as_view()),
    path("messages/<str:message_id>", messaging.MessageDetailApi.as_view()),
]

urlpatterns = [
    path("backoffice/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="swagger-ui"),
    path("health", health.health),
    path("health/detailed", health.HealthDetailedApi.as_view()),
    path("webhooks/gowa/<int:node_id>/", gowa_callback),
    *[path(f"api/v1/{p.pattern}", p.callback) for p in api_v1],
]

handler404 = "wavora.api.exceptions.handler404"
handler500 = "wavora.api.exceptions.handler500"
