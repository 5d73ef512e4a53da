from __future__ import annotations

from django.urls import URLPattern, URLResolver

# Routes mounted by wavora/urls.py; `api_v1` under /api/v1/, `urlpatterns` at the site root.
api_v1: list[URLPattern | URLResolver] = []
urlpatterns: list[URLPattern | URLResolver] = []
