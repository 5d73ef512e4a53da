"""Dashboard pages, mounted at /dashboard/ (namespace `dashboard`). Each capability appends its routes."""

from __future__ import annotations

from django.urls import URLPattern, URLResolver, path

from . import views

app_name = "dashboard"

urlpatterns: list[URLPattern | URLResolver] = [
    path("", views.OverviewView.as_view(), name="overview"),
]
