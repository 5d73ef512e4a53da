from __future__ import annotations

from django.urls import URLPattern, URLResolver, path

from . import apis

# Routes mounted by wavora/urls.py; `api_v1` under /api/v1/, `urlpatterns` at the site root.
api_v1: list[URLPattern | URLResolver] = [
    path("campaigns", apis.CampaignListCreateApi.as_view()),
    path("campaigns/csv-template", apis.CsvTemplateApi.as_view()),
    path("campaigns/preview-csv", apis.PreviewCsvApi.as_view()),
    path("campaigns/<str:campaign_id>", apis.CampaignDetailApi.as_view()),
    path("campaigns/<str:campaign_id>/recipients", apis.CampaignRecipientListApi.as_view()),
    path("campaigns/<str:campaign_id>/export", apis.CampaignExportApi.as_view()),
    *[
        path(f"campaigns/<str:campaign_id>/{action}", view.as_view())
        for action, view in apis.ACTION_VIEWS.items()
    ],
]
urlpatterns: list[URLPattern | URLResolver] = []
