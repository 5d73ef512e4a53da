"""Sign-up, log-in, log-out, password reset and invitations, mounted at /accounts/ (namespace `accounts`)."""

from __future__ import annotations

from django.urls import URLPattern, URLResolver

app_name = "accounts"

urlpatterns: list[URLPattern | URLResolver] = []
