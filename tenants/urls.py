from __future__ import annotations

from django.urls import URLPattern, URLResolver, path

from . import internal_apis

# Partner provisioning API (seed 002), mounted at /internal/ by wavora/urls.py.
internal: list[URLPattern | URLResolver] = [
    path("me", internal_apis.InternalMeApi.as_view()),
    path("tenants", internal_apis.InternalTenantListApi.as_view()),
    path("tenants/<str:external_id>", internal_apis.InternalTenantDetailApi.as_view()),
    path("tenants/<str:external_id>/apikey", internal_apis.InternalTenantApiKeyApi.as_view()),
    path("tenants/<str:external_id>/apikey/rotate", internal_apis.InternalTenantApiKeyRotateApi.as_view()),
]
